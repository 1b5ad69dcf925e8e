/* cases.c — our side of the benchmark cases; see cases.h. */
#include "cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#else
#include <time.h>
#endif

extern const AmpPatchDesc amp_synthbench_desc;
extern const AmpPatchDesc amp_biquads_desc;
extern const AmpPatchDesc amp_svfbench_desc;
extern const AmpPatchDesc amp_freeverb_desc;
extern const AmpPatchDesc amp_denormbench_desc;
#ifdef BENCH_HAVE_SCALAR
/* synth.amp emitted with AmpcOptions.scalar, its descriptor renamed at compile time */
extern const AmpPatchDesc amp_synthbench_scalar_desc;
#endif

const AmpPatchDesc *case_desc(int id)
{
    switch (id) {
    case CASE_SYNTH: return &amp_synthbench_desc;
#ifdef BENCH_HAVE_SCALAR
    case CASE_SYNTH_SCALAR: return &amp_synthbench_scalar_desc;
#endif
    case CASE_BIQUADS: return &amp_biquads_desc;
    case CASE_SVF: return &amp_svfbench_desc;
    case CASE_FREEVERB: return &amp_freeverb_desc;
    case CASE_DENORM_IMPULSE:
    case CASE_DENORM_NOISE: return &amp_denormbench_desc;
    default: return NULL;
    }
}

const char *case_name(int id)
{
    static const char *const names[CASE_COUNT] = {
        "synth", "synth-scalar", "biquads", "svf", "freeverb", "denorm-impulse", "denorm-noise",
    };
    return id >= 0 && id < CASE_COUNT ? names[id] : "?";
}

int bench_key(int i)
{
    return 36 + (i * 7) % 48;
}

void bench_noise(float *buf, long n, uint32_t *seed)
{
    uint32_t s = *seed;
    for (long i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        buf[i] = (float)(s >> 8) * (1.0f / 16777216.0f) - 0.5f;
    }
    *seed = s;
}

static int clock_cpu;

void bench_set_clock(int cpu)
{
    clock_cpu = cpu;
}

#ifdef __EMSCRIPTEN__
/* user + system CPU time of the node process, in microseconds */
EM_JS(double, bench_cpu_us, (void), {
    const u = process.cpuUsage();
    return u.user + u.system;
});
#endif

double bench_now_ns(void)
{
#ifdef __EMSCRIPTEN__
    if (clock_cpu)
        return bench_cpu_us() * 1e3;
    return emscripten_get_now() * 1e6;   /* performance.now(), ms */
#else
    struct timespec ts;
    clock_gettime(clock_cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC_RAW, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
#endif
}

double bench_rms(const float *x, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return n > 0 ? sqrt(s / (double)n) : 0.0;
}

static int is_denorm(int id)
{
    return id == CASE_DENORM_IMPULSE || id == CASE_DENORM_NOISE;
}

void our_close(OurCase *c)
{
    if (c->hp.desc)
        host_free(&c->hp);
    free(c->in[0]);
    free(c->in[1]);
    free(c->zero);
    free(c->impulse);
    free(c->out[0]);
    free(c->out[1]);
    memset(c, 0, sizeof *c);
}

int our_open_bare(OurCase *c, int id, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->id = id;
    const AmpPatchDesc *d = case_desc(id);
    if (!d) {
        snprintf(err, errlen, "case %s is not built in", case_name(id));
        return -1;
    }
    for (int k = 0; k < 2; k++) {
        c->in[k] = calloc(BENCH_CHUNK, sizeof(float));
        c->out[k] = calloc(BENCH_CHUNK, sizeof(float));
    }
    c->zero = calloc(BENCH_CHUNK, sizeof(float));
    c->impulse = calloc(BENCH_CHUNK, sizeof(float));
    if (!c->in[0] || !c->in[1] || !c->out[0] || !c->out[1] || !c->zero || !c->impulse) {
        snprintf(err, errlen, "out of memory");
        our_close(c);
        return -1;
    }
    c->impulse[0] = 1.0f;
    uint32_t seed = 12345;
    bench_noise(c->in[0], BENCH_CHUNK, &seed);
    bench_noise(c->in[1], BENCH_CHUNK, &seed);
    if (host_init(&c->hp, d, (float)BENCH_SR, err, errlen)) {
        c->hp.desc = NULL;
        our_close(c);
        return -1;
    }
    return 0;
}

int our_open(OurCase *c, int id, int voices, char *err, size_t errlen)
{
    if (our_open_bare(c, id, err, errlen))
        return -1;
    c->voices = voices;
    const AmpPatchDesc *d = c->hp.desc;
    if (d->max_voices > 0) {
        if (voices > d->max_voices)
            voices = c->voices = d->max_voices;
        Command ev[AMP_MAX_VOICES];
        for (int i = 0; i < voices; i++) {
            ev[i] = host_note_on(0, i, bench_key(i), 0.8f);
        }
        host_render(&c->hp, ev, voices, NULL, c->out, BENCH_CHUNK);
        if (d->voices(c->hp.state)->live != voices) {
            snprintf(err, errlen, "%d voices asked, %d sounding", voices,
                     d->voices(c->hp.state)->live);
            our_close(c);
            return -1;
        }
    }
    if (!is_denorm(id))
        our_run(c, BENCH_PREROLL / BENCH_CHUNK * BENCH_CHUNK);
    return 0;
}

void our_prepare(OurCase *c)
{
    if (is_denorm(c->id))
        host_reset(&c->hp);
}

void our_run(OurCase *c, long frames)
{
    const float *const *in = (const float *const *)c->in;
    const float *imp[2] = { c->impulse, c->impulse };
    const float *zero[2] = { c->zero, c->zero };
    for (long done = 0; done < frames; done += BENCH_CHUNK) {
        const float *const *src = in;
        if (c->id == CASE_DENORM_IMPULSE)
            src = done == 0 ? imp : zero;
        host_render(&c->hp, NULL, 0, src, c->out, BENCH_CHUNK);
    }
    c->last_rms = bench_rms(c->out[0], BENCH_CHUNK);
}
