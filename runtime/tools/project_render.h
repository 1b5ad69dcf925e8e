/* project_render.h — render a fed engine (project_feed.h) offline, as
 * `amp render PROJECT.json`, the browser's export (engine.wasm,
 * runtime/wasm/wasm_project.c) and the tests do: one loop, one file, built
 * natively and into engine.wasm.
 */
#ifndef AMP_PROJECT_RENDER_H
#define AMP_PROJECT_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "project.h"
#include "project_feed.h"

#define PROJECT_BLOCK 128               /* render quantum of project_render */

/* Render `frames` frames into left / right in blocks of PROJECT_BLOCK,
 * draining the event ring after each block (released buffers are freed,
 * faults counted into *faults when not NULL). progress(user, done, total)
 * is called about every 1 % when not NULL. Allocates nothing. Rendering
 * [0, a) and then [a, b) with a a multiple of PROJECT_BLOCK makes the same
 * engine calls as rendering [0, b) at once. */
typedef void (*ProjectProgress)(void *user, int64_t done, int64_t total);
void project_render(Engine *e, float *left, float *right, int64_t frames, ProjectProgress progress,
                    void *user, int *faults);

/* Render the project `p` fed into `e` for as long as its tail says
 * (project_feed.h, ProjectTail: the fixed tail of version 1 and of
 * tail_seconds, or version 2's tail rule), into left / right, which hold
 * project_frames(p) frames. Returns the frames rendered to keep (the rest
 * of the buffers is unspecified). */
int64_t project_render_project(Engine *e, const Project *p, float *left, float *right, ProjectProgress progress,
                               void *user, int *faults);

/* A resolved project rendered whole, step by step: an engine sized by
 * project_engine_config and fed by project_feed, the stereo mix in
 * malloc'd buffers. `solo` >= 0 makes a stem: every track's solo flag is
 * cleared and track `solo`'s set, so the engine's solo rule lets through
 * that track and the buses it sends to, carrying only its sends (the
 * master gain applies; a muted track's stem is silent). -1: the mix. */
typedef struct ProjectMix {
    Engine *engine;
    float *left, *right;                /* frames floats each */
    int64_t frames, done;
    int rate;
    int faults;                         /* ENGINE_EV_NODE_FAULT events (one per episode of a slot) */
    int limits;                         /* ENGINE_EV_MASTER_LIMIT events */
    EngineEvent first_fault, first_limit;   /* the first of each; kind 0: none */
    ProjectTail tail;                   /* frames <= 0 at begin: the project's tail (fixed or the rule) */
    int use_tail, finished;
} ProjectMix;

/* Set up: frames <= 0 renders as long as the project's tail says (the
 * fixed tail, or version 2's tail rule: `frames` then shrinks to the
 * frames kept once the rule ends the render). The project's solo flags
 * are restored before it returns. 0, or -1 with a message. */
int project_mix_begin(ProjectMix *m, Project *p, int64_t frames, int solo, char *err, size_t errlen);
/* Render up to `frames` more (a multiple of PROJECT_BLOCK, or the rest);
 * returns the frames done so far. The render is over when done == frames
 * (with the tail rule, frames may drop to done or below it: done is then
 * cut to frames). */
int64_t project_mix_step(ProjectMix *m, int64_t frames, ProjectProgress progress, void *user);
/* Free the engine and the buffers; *m is zeroed. */
void project_mix_free(ProjectMix *m);

#endif
