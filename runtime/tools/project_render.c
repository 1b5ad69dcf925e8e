/* project_render.c — the offline render loop of a fed engine (see
 * project_render.h): blocks of PROJECT_BLOCK frames, the event ring
 * drained after each, progress reported about every 1 %; and the render
 * of a whole project, as long as its tail rule says (project_feed.h).
 */
#include "project_render.h"

#include "project_feed.h"

/* One block into left / right at `done`, then the event ring drained. */
static int render_block(Engine *e, float *left, float *right, int64_t done, int64_t frames, int *faults)
{
    int n = frames - done < PROJECT_BLOCK ? (int)(frames - done) : PROJECT_BLOCK;
    float *out[2] = { left + done, right + done };
    engine_render(e, out, n);
    engine_drain(e, faults, NULL);
    return n;
}

void project_render(Engine *e, float *left, float *right, int64_t frames, ProjectProgress progress, void *user,
                    int *faults)
{
    int64_t step = frames / 100 > PROJECT_BLOCK ? frames / 100 : PROJECT_BLOCK;
    int64_t next_report = 0;
    for (int64_t done = 0; done < frames;) {
        done += render_block(e, left, right, done, frames, faults);
        if (progress && (done >= next_report || done == frames)) {
            progress(user, done, frames);
            next_report = done + step;
        }
    }
}

int64_t project_render_project(Engine *e, const Project *p, float *left, float *right, ProjectProgress progress,
                               void *user, int *faults)
{
    ProjectTail tail;
    project_tail_begin(p, &tail);
    int64_t frames = project_frames(p);
    int64_t step = frames / 100 > PROJECT_BLOCK ? frames / 100 : PROJECT_BLOCK;
    int64_t next_report = 0, done = 0;
    for (int finished = tail.finished; !finished && done < frames;) {
        int n = render_block(e, left, right, done, frames, faults);
        finished = project_tail_feed(&tail, left + done, right + done, n);
        done += n;
        if (progress && (done >= next_report || finished)) {
            progress(user, finished ? frames : done, frames);
            next_report = done + step;
        }
    }
    return project_tail_frames(&tail);
}
