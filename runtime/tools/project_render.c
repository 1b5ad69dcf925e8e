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

/* Frames rendered between two looks of the tail rule (a multiple of
 * PROJECT_BLOCK). */
#define PROJECT_MIX_SLICE (PROJECT_BLOCK * 32)


/* One block into left / right at `done`, then the event ring drained:
 * faults counted into *faults; with a mix, its first fault and safety
 * limit events kept and the limits counted. */
static int render_block(Engine *e, float *left, float *right, int64_t done, int64_t frames, int *faults,
                        ProjectMix *m)
{
    int n = frames - done < PROJECT_BLOCK ? (int)(frames - done) : PROJECT_BLOCK;
    float *out[2] = { left + done, right + done };
    engine_render(e, out, n);
    EngineEvent ev;
    while (engine_poll(e, &ev)) {
        if (ev.kind == ENGINE_EV_NODE_FAULT) {
            if (faults)
                ++*faults;
            if (m && m->first_fault.kind == ENGINE_EV_NONE)
                m->first_fault = ev;
        } else if (ev.kind == ENGINE_EV_MASTER_LIMIT && m) {
            m->limits++;
            if (m->first_limit.kind == ENGINE_EV_NONE)
                m->first_limit = ev;
        }
        engine_release(e, &ev);
    }
    return n;
}

static void render_span(Engine *e, float *left, float *right, int64_t frames, ProjectProgress progress,
                        void *user, int *faults, ProjectMix *m)
{
    int64_t step = frames / 100 > PROJECT_BLOCK ? frames / 100 : PROJECT_BLOCK;
    int64_t next_report = 0;
    for (int64_t done = 0; done < frames;) {
        done += render_block(e, left, right, done, frames, faults, m);
        if (progress && (done >= next_report || done == frames)) {
            progress(user, done, frames);
            next_report = done + step;
        }
    }
}

void project_render(Engine *e, float *left, float *right, int64_t frames, ProjectProgress progress, void *user,
                    int *faults)
{
    render_span(e, left, right, frames, progress, user, faults, NULL);
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
        int n = render_block(e, left, right, done, frames, faults, NULL);
        finished = project_tail_feed(&tail, left + done, right + done, n);
        done += n;
        if (progress && (done >= next_report || finished)) {
            progress(user, finished ? frames : done, frames);
            next_report = done + step;
        }
    }
    return project_tail_frames(&tail);
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
    m->use_tail = frames <= 0;
    if (m->use_tail) {
        project_tail_begin(p, &m->tail);
        m->finished = m->tail.finished;
        if (m->finished)
            m->frames = project_tail_frames(&m->tail);
    }
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
    if (!m->use_tail) {
        render_span(m->engine, m->left + m->done, m->right + m->done, n, progress, user, &m->faults, m);
        m->done += n;
        return m->done;
    }
    /* The tail rule looks at the output as it comes: render in slices so
     * that a render the rule ends early does not run on to the cap. */
    int64_t end = m->done + n;
    while (m->done < end && !m->finished) {
        int64_t k = end - m->done < PROJECT_MIX_SLICE ? end - m->done : PROJECT_MIX_SLICE;
        render_span(m->engine, m->left + m->done, m->right + m->done, k, NULL, NULL, &m->faults, m);
        m->finished = project_tail_feed(&m->tail, m->left + m->done, m->right + m->done, k);
        m->done += k;
        if (progress)
            progress(user, m->finished ? m->frames : m->done, m->frames);
    }
    if (m->finished) {
        m->frames = project_tail_frames(&m->tail);
        if (m->done > m->frames)
            m->done = m->frames;
    }
    return m->done;
}

void project_mix_free(ProjectMix *m)
{
    engine_free(m->engine);
    free(m->left);
    free(m->right);
    memset(m, 0, sizeof *m);
}
