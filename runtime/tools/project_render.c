/* project_render.c — the offline render loop of a fed engine (see
 * project_render.h): blocks of PROJECT_BLOCK frames, the event ring
 * drained after each, progress reported about every 1 %; and a whole
 * project (or one track's stem) rendered with it. Plain C over the engine,
 * built natively (`amp render`) and into engine.wasm (the export worker),
 * so both render a project through the same calls.
 */
#include "project_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "project_feed.h"

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

int project_mix_begin(ProjectMix *m, Project *p, int64_t frames, int solo, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (solo >= p->n_tracks) {
        snprintf(err, errlen, "no track %d to render a stem of (%d tracks)", solo, p->n_tracks);
        return -1;
    }
    EngineConfig cfg;
    project_engine_config(p, &cfg);
    m->engine = engine_init(&cfg, err, errlen);
    if (!m->engine)
        return -1;
    int *solos = NULL;
    if (solo >= 0) {
        solos = malloc((size_t)p->n_tracks * sizeof *solos);
        if (!solos) {
            snprintf(err, errlen, "out of memory");
            project_mix_free(m);
            return -1;
        }
        for (int i = 0; i < p->n_tracks; i++) {
            solos[i] = p->tracks[i].solo;
            p->tracks[i].solo = i == solo;
        }
    }
    int rc = project_feed(p, m->engine, err, errlen);
    if (solos) {
        for (int i = 0; i < p->n_tracks; i++)
            p->tracks[i].solo = solos[i];
        free(solos);
    }
    if (rc) {
        project_mix_free(m);
        return -1;
    }
    m->rate = p->render_rate;
    m->frames = frames > 0 ? frames : project_frames(p);
    m->left = calloc((size_t)m->frames + 1, sizeof(float));
    m->right = calloc((size_t)m->frames + 1, sizeof(float));
    if (!m->left || !m->right) {
        snprintf(err, errlen, "out of memory for %lld frames", (long long)m->frames);
        project_mix_free(m);
        return -1;
    }
    return 0;
}

int64_t project_mix_step(ProjectMix *m, int64_t frames, ProjectProgress progress, void *user)
{
    int64_t n = m->frames - m->done;
    if (frames > 0 && frames < n)
        n = frames / PROJECT_BLOCK * PROJECT_BLOCK > 0 ? frames / PROJECT_BLOCK * PROJECT_BLOCK : PROJECT_BLOCK;
    if (n > m->frames - m->done)
        n = m->frames - m->done;
    project_render(m->engine, m->left + m->done, m->right + m->done, n, progress, user, &m->faults);
    m->done += n;
    return m->done;
}

void project_mix_free(ProjectMix *m)
{
    engine_free(m->engine);
    free(m->left);
    free(m->right);
    memset(m, 0, sizeof *m);
}
