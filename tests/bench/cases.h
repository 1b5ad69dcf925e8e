/* cases.h — the benchmark cases run on our compiled patches, natively (by
 * bench.c) and in WebAssembly (by wasm_main.c), from the same source.
 *
 * Every case renders through the host API (runtime/tools/host.h), as the engine
 * does: host_render in calls of BENCH_CHUNK samples, which it splits into
 * HOST_BLOCK (128-sample) process() calls, with voice_collect after each.
 * Effects read a cyclic buffer of white noise; the synth plays `voices`
 * held notes. Nothing here allocates once a case is open.
 */
#ifndef BENCH_CASES_H
#define BENCH_CASES_H

#include <stddef.h>
#include <stdint.h>
#include "host.h"

enum {
    CASE_SYNTH,            /* synth.amp, `voices` notes held */
    CASE_SYNTH_SCALAR,     /* the same, emitted with AmpcOptions.scalar */
    CASE_BIQUADS,          /* blocks.amp `biquads`, mono noise in */
    CASE_SVF,              /* blocks.amp `svfbench`, mono noise in */
    CASE_FREEVERB,         /* nodes/std/fx.amp `freeverb`, stereo noise in */
    CASE_DENORM_IMPULSE,   /* denorm.amp from reset: an impulse, then silence */
    CASE_DENORM_NOISE,     /* denorm.amp from reset: white noise */
    CASE_COUNT
};

#define BENCH_SR 48000          /* sample rate of every case */
#define BENCH_CHUNK 1024        /* samples per host_render call */
#define BENCH_PREROLL 24000     /* samples rendered at open, untimed (synth: envelopes reach sustain) */

typedef struct OurCase {
    int id, voices;
    HostPatch hp;
    float *in[2];          /* BENCH_CHUNK samples each: noise */
    float *zero, *impulse; /* BENCH_CHUNK samples: silence; an impulse then silence */
    float *out[2];
    double last_rms;       /* RMS of the last chunk of the last run (channel 0) */
} OurCase;

/* The descriptor of a case's patch; NULL when it is not linked in. */
const AmpPatchDesc *case_desc(int id);
const char *case_name(int id);

int our_open(OurCase *c, int id, int voices, char *err, size_t errlen);
/* The same without notes and pre-roll: the state after init, the noise
 * ready in c->in (for the output comparison, which plays its own notes). */
int our_open_bare(OurCase *c, int id, char *err, size_t errlen);
/* Untimed set-up before each timed run: the denormal cases go back to the
 * state after init (delay lines and state cleared). */
void our_prepare(OurCase *c);
/* Render `frames` samples (a multiple of BENCH_CHUNK). */
void our_run(OurCase *c, long frames);
void our_close(OurCase *c);

/* The MIDI key of note i of the synth (both sides play the same keys). */
int bench_key(int i);
/* White noise in [-0.5, 0.5): a 32-bit LCG, the same on every platform. */
void bench_noise(float *buf, long n, uint32_t *seed);
/* The clock that times a run, in nanoseconds: 0 (the default) monotonic
 * wall time (CLOCK_MONOTONIC_RAW natively, emscripten_get_now() =
 * performance.now() in WebAssembly); 1 CPU time (this thread's
 * CLOCK_THREAD_CPUTIME_ID natively, node's process.cpuUsage() in
 * WebAssembly), which leaves out the time other processes of a shared
 * machine take the core. */
void bench_set_clock(int cpu);
double bench_now_ns(void);
/* RMS of n samples. */
double bench_rms(const float *x, long n);

#endif
