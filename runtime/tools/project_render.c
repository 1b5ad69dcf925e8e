/* project_render.c — the offline render loop of a fed engine (see
 * project_render.h): blocks of PROJECT_BLOCK frames, the event ring
 * drained after each, progress reported about every 1 %.
 */
#include "project_render.h"

void project_render(Engine *e, float *left, float *right, int64_t frames, ProjectProgress progress, void *user,
                    int *faults)
{
    int64_t step = frames / 100 > PROJECT_BLOCK ? frames / 100 : PROJECT_BLOCK;
    int64_t next_report = 0;
    for (int64_t done = 0; done < frames;) {
        int n = frames - done < PROJECT_BLOCK ? (int)(frames - done) : PROJECT_BLOCK;
        float *out[2] = { left + done, right + done };
        engine_render(e, out, n);
        engine_drain(e, faults, NULL);
        done += n;
        if (progress && (done >= next_report || done == frames)) {
            progress(user, done, frames);
            next_report = done + step;
        }
    }
}
