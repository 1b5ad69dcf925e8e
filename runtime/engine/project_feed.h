/* project_feed.h — a resolved Project (project_resolve.h) fed to an engine
 * (engine.h): its timing through the tempo map, the engine sizes that fit
 * it, then everything it holds as commands at time 0 (tempo map, time
 * signature map, the metronome when it is exported, loop, master, tracks
 * with their nodes, clips, regions and lanes, sends; play at 0, stop at
 * the end of length_beats); and the tail rule that says how long a render
 * of it runs.
 *
 * Nodes, clips, samples and lanes are allocated from the engine's pools;
 * nothing else is allocated. No JSON, no compiler, no files: this builds
 * into engine.wasm as well as natively. Not for the audio thread (it is
 * the engine's producer side).
 */
#ifndef AMP_PROJECT_FEED_H
#define AMP_PROJECT_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "project.h"

/* Seconds from beat 0 to `beat` through the project's tempo map. */
double project_seconds_at(const Project *p, double beat);
/* The most frames a render at the resolved rate takes: length_beats,
 * then the fixed tail (version 1, tail_seconds) or the tail rule's cap
 * (max_seconds); the rule may end it sooner (ProjectTail). */
int64_t project_frames(const Project *p);
/* Frame at which the transport stops: the end of length_beats. */
int64_t project_end_frame(const Project *p);

/* ---- how long a render runs: the tail rule (PROJECT.md, "tail") ----------------
 *
 * One function for every offline render, native (project_render.c, `amp
 * render`) and in engine.wasm (the browser's export), so both stop on the
 * same frame. Feed it the render's output as it is made, from frame 0, in
 * pieces of any length:
 *
 *   ProjectTail t;
 *   project_tail_begin(p, &t);
 *   while (!done) { render n frames (at most project_frames(p) in all);
 *                   done = project_tail_feed(&t, left, right, n); }
 *   keep project_tail_frames(&t) frames
 *
 * Fixed tail: exactly project_frames(p). The rule: after the end frame E,
 * the output is looked at in quanta of PROJECT_TAIL_QUANTUM frames from E
 * (the last one cut at the cap E + max_seconds); a quantum is loud when a
 * sample of either channel has |x| >= 10^(until_db / 20). The render may
 * stop once ceil(hold_seconds * rate / 128) quiet quanta follow the last
 * loud one, or at the cap; it keeps the frames up to the end of the last
 * loud quantum (E when none was). Plain arithmetic on the samples, the
 * same bits natively and in WebAssembly. */
typedef struct ProjectTail {
    int64_t end_frame;          /* E */
    int64_t limit;              /* the most frames: E + the fixed tail or the cap */
    int rule;                   /* 1: the tail rule; 0: a fixed tail */
    double threshold;           /* linear */
    int64_t hold_quanta;        /* quiet quanta after the last loud one that end it */
    int64_t done;               /* frames fed */
    int64_t quantum_end;        /* frame after the quantum being looked at */
    int loud;                   /* it has a sample at or above the threshold so far */
    int64_t quiet;              /* quiet quanta since the last loud one */
    int64_t last_loud_end;      /* frame after the last loud quantum; E when none */
    int finished;
} ProjectTail;

void project_tail_begin(const Project *p, ProjectTail *t);
/* The next n frames of the output (left[0..n), right[0..n)). 1 when the
 * render may stop (every frame it keeps has been fed), else 0. */
int project_tail_feed(ProjectTail *t, const float *left, const float *right, int64_t n);
/* The render's length in frames, once project_tail_feed returned 1. */
int64_t project_tail_frames(const ProjectTail *t);

/* Engine sizes that fit the resolved project. */
void project_engine_config(const Project *p, EngineConfig *cfg);

/* Queue everything at time 0 (and stop at project_end_frame). The engine
 * must be fresh (engine time 0) and sized by project_engine_config.
 * 0, or -1 with a message. */
int project_feed(const Project *p, Engine *e, char *err, size_t errlen);

#endif
