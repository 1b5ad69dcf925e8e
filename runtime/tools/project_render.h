/* project_render.h — render a fed engine (project_feed.h) offline, as
 * `amp render PROJECT.json` and the tests do.
 */
#ifndef AMP_PROJECT_RENDER_H
#define AMP_PROJECT_RENDER_H

#include <stdint.h>

#include "engine.h"
#include "project.h"

#define PROJECT_BLOCK 128               /* render quantum of project_render */

/* Render `frames` frames into left / right in blocks of PROJECT_BLOCK,
 * draining the event ring after each block (released buffers are freed,
 * faults counted into *faults when not NULL). progress(user, done, total)
 * is called about every 1 % when not NULL. Allocates nothing. */
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

#endif
