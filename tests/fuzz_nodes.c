/* fuzz_nodes.c — drive every unit of the patch library to its extremes and
 * fail on wrong sound (issue 13, "CI fuzzes nodes").
 *
 * Every unit `ampc --list` names in nodes/ and nodes/std/ (the
 * patches, their local and Faust nodes, each std node on its own) is
 * compiled, built into the cache ($AMP_CACHE) and rendered with
 * runtime/tools/host.c — the records of commands.def, the voice allocator,
 * the same process() the engine calls — at every supported rate, through
 * random *cases*. A case is a run of segments, each choosing
 *   - params: hold, all set at once (inside the range, at and just inside
 *     its edges, beyond them, huge, infinite, NaN), a glide of some between
 *     two such values set every 1, 16, 128 or 1024 samples, or one param
 *     jumping between its bounds every 1 to 512 samples;
 *   - notes (instruments): a storm of 100 notes in 10 ms, one key repeated,
 *     keys 0 and 127 at velocities 0 and 1, a chord, all off, panic;
 *   - input (effects): silence, a full-scale square, DC, impulses, noise at
 *     +12 dBFS;
 *   - or a long silence,
 * then closes with every note released and a long silence, then a panic.
 * Every output sample is checked: a fault is a non-finite sample, a
 * denormal, a sample above the ceiling (+24 dBFS; for the std filters,
 * dynamics and gains, the +12 dBFS input through the gain their range
 * allows and 24 dB of transients when a cutoff, q or gain jumps between its
 * bounds every sample: gain_allowance below), a level that grows in the closing silence
 * past full scale, twice the case's loudest moment and twice the
 * silence's first half (a runaway), or voices still live 50 ms after a panic (work that
 * never ends). Work is counted in voice-samples; a wall-clock alarm
 * (--hang-seconds) only catches hangs.
 *
 * --random N also builds N random valid patches from the std nodes
 * (instances with random in-range constants, patch params, modulation by
 * other instances' outputs, wires between them; instrument, effect or
 * generator) and checks them the same way, their ceiling raised by the
 * static gain bound of their own graph.
 *
 * Everything follows from --seed: each case's seed is printed with a fault,
 * with the unit, rate, segments, params and the first bad sample, and the
 * command that re-runs that case alone (--unit FILE:NAME --rate R
 * --case SEED, or --random-patch SEED ... for a generated patch, whose text
 * is printed too).
 */
#include "ampc.h"
#include "build.h"
#include "diag.h"
#include "host.h"
#include "parser.h"

#include <errno.h>
#include <float.h>
#include <glob.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 4096               /* frames per host_render call */
#define MAX_UNITS 256
#define MAX_SEGMENT_LOG 12       /* segments printed with a fault */
#define CEILING_DB 24.0          /* the "output above +24 dBFS" */
#define ROUNDING_DB 0.01         /* a gain at the end of its range times the +12 dBFS input lands on it */
#define NOISE_PEAK 3.98107171f   /* +12 dBFS */
#define STORM_NOTES 100
#define STORM_SECONDS 0.010
#define PANIC_SECONDS 0.050      /* voices must be gone this long after a panic */
#define RUNAWAY_FLOOR 1.0f       /* 0 dBFS: below it, growth is not a runaway (a slow LFO rises) */
#define RUNAWAY_WINDOW 0.05      /* seconds per window of the closing silence */

/* ---- the random numbers: splitmix64, one stream per case ------------------ */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct Rng { uint64_t s; } Rng;

static uint64_t rnd(Rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return mix64(r->s);
}

static double rnd01(Rng *r) { return (double)(rnd(r) >> 11) * (1.0 / 9007199254740992.0); }
static int rndi(Rng *r, int n) { return (int)(rnd(r) % (uint64_t)n); }
static double rnd_range(Rng *r, double lo, double hi) { return lo + (hi - lo) * rnd01(r); }

static uint64_t hash_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return mix64(h);
}

/* ---- units ---------------------------------------------------------------- */

typedef struct FuzzUnit {
    char file[256];
    char name[64];
    const AmpPatchDesc *d;
    double extra_db;             /* ceiling raised by this much (gain_allowance, or a random patch's bound) */
    char *text;                  /* a random patch's source, else NULL */
    uint64_t random_seed;        /* a random patch's seed */
} FuzzUnit;

/* Units with a gain of their own: the filters, the dynamics and gains.
 * Their ceiling is the +12 dBFS input through gain_db (and TRANSIENT_DB
 * for a filter), when that is above +24 dBFS. TRANSIENT_DB covers a filter whose cutoff
 * jumps between 10 Hz and 0.49 SR every sample: each sample's update of
 * the SVF states is a contraction of v1^2 + v2^2 (nodes/std/filter.amp),
 * so nothing runs away, but the forced response then overshoots the
 * steady one (measured with --peaks, seeds 21 and 31, 12 cases per rate:
 * notch +32.5 dBFS, 20.5 dB over its input; highshelf +51.0 dBFS).
 * Everything else (every patch of nodes/, the sources) gets +24 dBFS. The
 * gains are the linear theory of each node at the end of its range. */
static const struct { const char *name; double gain_db; int filter; const char *why; } gain_allowance[] = {
    { "bandpass", 0.0, 1, "0 dB at the centre" },
    { "notch", 0.0, 1, "0 dB away from the notch" },
    { "svf", 28.0, 1, "res 0.98: Q = 1 / (2 - 2 res) = 25" },
    { "lowpass", 29.6, 1, "q 30" },
    { "highpass", 29.6, 1, "q 30" },
    { "peak", 24.0, 1, "gain +24 dB" },
    { "lowshelf", 24.0, 1, "gain +24 dB" },
    { "highshelf", 24.0, 1, "gain +24 dB" },
    { "compressor", 24.0, 0, "makeup +24 dB" },
    { "fdelay", 34.0, 0, "feedback 0.98: 1 / (1 - 0.98) at low frequencies" },
    { "gain", 12.0, 0, "gain +12 dB" },
    { "phaser6", 20.0, 0, "feedback 0.9 round six all-passes: 1 / (1 - 0.9) where they turn the phase by 360 degrees, for a small input (a loud one saturates the feedback); its corner glides, so no filter's transient" },
    { "comp", 24.0, 0, "makeup +24 dB (faust/compressor.dsp)" },
    { "zita", 18.0, 0, "level +12 dB, and the delay network's own gain (hall.amp keeps level at 0 dB)" },
};

static double unit_gain_db(const char *name)
{
    for (size_t i = 0; i < sizeof gain_allowance / sizeof gain_allowance[0]; i++)
        if (!strcmp(gain_allowance[i].name, name))
            return gain_allowance[i].gain_db;
    return 0.0;
}

/* The ceiling's raise for a library unit of gain_allowance. */
#define TRANSIENT_DB 24.0
static double unit_extra_db(const char *name)
{
    for (size_t i = 0; i < sizeof gain_allowance / sizeof gain_allowance[0]; i++)
        if (!strcmp(gain_allowance[i].name, name))
            return fmax(0.0, gain_allowance[i].gain_db + (gain_allowance[i].filter ? TRANSIENT_DB : 0.0) - 12.0);
    return 0.0;
}

static const AmpPatchDesc *build_unit(const char *file, const char *text, const char *name)
{
    AmpcOptions opt = { .unit = name };
    Diag diag;
    diag_init(&diag, stderr);
    AmpcResult r;
    int rc = text ? ampc_compile_text(file, text, strlen(text), &opt, &diag, &r)
                  : ampc_compile_file(file, &opt, &diag, &r);
    if (rc) {
        fprintf(stderr, "fuzz-nodes: ampc failed on %s unit %s\n", file, name ? name : "(last)");
        return NULL;
    }
    static char err[16384];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    if (!d)
        fprintf(stderr, "fuzz-nodes: cannot build %s unit %s: %s\n", file, name ? name : "(last)", err);
    ampc_result_free(&r);
    return d;
}

/* The units of one file, as `ampc --list` prints them. */
static int list_units(const char *file, FuzzUnit *units, int n, int max)
{
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, stderr);
    SourceFile *f = source_load(&a, &d, file);
    Module *m = f ? parse_source(&a, &d, f) : NULL;
    if (!m) {
        arena_free(&a);
        return -1;
    }
    const char *names[MAX_UNITS];
    int k = 0;
    for (Patch *p = m->patches; p && k < MAX_UNITS; p = p->next)
        names[k++] = p->name;
    for (Node *nd = m->nodes; nd && k < MAX_UNITS; nd = nd->next)
        names[k++] = nd->name;
    for (Import *im = m->imports; im && k < MAX_UNITS; im = im->next)
        if (im->faust_as)
            names[k++] = im->faust_as;
    for (int i = 0; i < k && n < max; i++, n++) {
        memset(&units[n], 0, sizeof units[n]);
        snprintf(units[n].file, sizeof units[n].file, "%s", file);
        snprintf(units[n].name, sizeof units[n].name, "%s", names[i]);
    }
    arena_free(&a);
    return n;
}

/* ---- what a case does ----------------------------------------------------- */

enum { P_HOLD, P_SET, P_GLIDE, P_JUMP, P_KINDS };
enum { N_NONE, N_STORM, N_REPEAT, N_EDGES, N_CHORD, N_ALL_OFF, N_PANIC, N_KINDS };
enum { IN_SILENCE, IN_SQUARE, IN_DC, IN_IMPULSE, IN_NOISE, IN_KINDS };
static const char *const p_names[] = { "hold", "set", "glide", "jump" };
static const char *const n_names[] = { "-", "storm", "repeat", "edges", "chord", "all-off", "panic" };
static const char *const in_names[] = { "silence", "square", "dc", "impulses", "noise+12dB" };

#define MAX_MOD 4
#define MAX_NOTE_EVENTS 512

typedef struct Segment {
    long frames;
    int params, notes, input;
    int n_mod, mod[MAX_MOD];       /* glide / jump: which params */
    float from[MAX_MOD], to[MAX_MOD];
    int every;                     /* samples between two param commands */
    float in_level, in_period;     /* square / impulses: level, period in samples */
    int n_events;
    Command events[MAX_NOTE_EVENTS];   /* note commands, times from the segment's start */
} Segment;

typedef struct Case {
    const FuzzUnit *u;
    float rate;
    uint64_t seed;
    Rng rng;
    HostPatch hp;
    float value[256];              /* what each param was last set to (before the patch clamps) */
    int next_note_id;
    int held[STORM_NOTES * 2];     /* ids of notes still held */
    int n_held;
    long pos;                      /* frames rendered */
    double work;                   /* voice-samples (a monophonic patch counts 1 per sample) */
    float peak;                    /* output peak before the closing silence */
    float in_peak;                 /* input peak */
    float ceiling;
    char log[MAX_SEGMENT_LOG][200];
    int n_log;
    /* the fault */
    int failed;
    char what[512];
} Case;

static int verbose;
static double ceiling_override_db = -1;    /* --ceiling DB: every unit's ceiling (to measure) */
static float case_max_peak;                /* the loudest output sample of the last case */

/* A value for param p: inside, at or beyond its range, or not finite. */
static float pick_value(Rng *r, const AmpParamDesc *p)
{
    double lo = p->lo, hi = p->hi, span = hi - lo;
    double v;
    switch (rndi(r, 12)) {
    case 0: case 1: v = lo; break;
    case 2: case 3: v = hi; break;
    case 4: v = p->def; break;
    case 5: v = lo + span * 1e-6; break;
    case 6: v = hi - span * 1e-6; break;
    case 7: v = lo > 0 && rndi(r, 2) ? lo * pow(hi / lo, rnd01(r)) : rnd_range(r, lo, hi); break;
    case 8: v = lo - span * rnd_range(r, 0.001, 10); break;
    case 9: v = hi + span * rnd_range(r, 0.001, 10); break;
    case 10: { static const double huge[] = { 1e30, -1e30, 3.4e38, -3.4e38, 1e-40, -0.0 };
               v = huge[rndi(r, 6)]; break; }
    default: { static const float odd[] = { INFINITY, -INFINITY, NAN };
               return odd[rndi(r, 3)]; }
    }
    if (p->step > 0 && v >= lo && v <= hi)
        v = lo + p->step * round((v - lo) / p->step);
    return (float)v;
}

static float pick_inside(Rng *r, const AmpParamDesc *p)
{
    float v;
    do
        v = pick_value(r, p);
    while (!(v >= p->lo && v <= p->hi));
    return v;
}

static void add_event(Segment *s, Command c)
{
    if (s->n_events < MAX_NOTE_EVENTS)
        s->events[s->n_events++] = c;
}

static void note_on(Case *c, Segment *s, long t, int key, float vel)
{
    int id = c->next_note_id++;
    add_event(s, host_note_on(t, id, key, vel));
    if (c->n_held < (int)(sizeof c->held / sizeof c->held[0]))
        c->held[c->n_held++] = id;
}

/* Release a random held note at t. */
static void note_off_some(Case *c, Segment *s, long t)
{
    if (!c->n_held)
        return;
    int k = rndi(&c->rng, c->n_held);
    add_event(s, host_note_off(t, c->held[k]));
    c->held[k] = c->held[--c->n_held];
}

static int cmp_time(const void *a, const void *b)
{
    const Command *x = a, *y = b;
    return x->header.time < y->header.time ? -1 : x->header.time > y->header.time;
}

static void make_notes(Case *c, Segment *s)
{
    Rng *r = &c->rng;
    long len = s->frames;
    switch (s->notes) {
    case N_STORM: {
        long span = (long)(STORM_SECONDS * c->rate);
        for (int i = 0; i < STORM_NOTES; i++) {
            long t = span * i / STORM_NOTES;
            int key = rndi(r, 4) == 0 ? (rndi(r, 2) ? 0 : 127) : rndi(r, 128);
            float vel = rndi(r, 4) == 0 ? (float)rndi(r, 2) : (float)rnd01(r);
            note_on(c, s, t, key, vel);
            if (rndi(r, 2))
                note_off_some(c, s, t + rndi(r, (int)span + 1));
        }
        break;
    }
    case N_REPEAT: {
        int key = rndi(r, 128);
        int n = 2 + rndi(r, 40);
        for (int i = 0; i < n; i++) {
            note_on(c, s, len * i / n, key, (float)rnd01(r));
            if (rndi(r, 2))
                note_off_some(c, s, len * i / n + rndi(r, 64));
        }
        break;
    }
    case N_EDGES:
        note_on(c, s, 0, 0, 1.0f);
        note_on(c, s, 0, 127, 1.0f);
        note_on(c, s, rndi(r, (int)len), 0, 0.0f);
        note_on(c, s, rndi(r, (int)len), 127, 0.0f);
        note_on(c, s, rndi(r, (int)len), 127, 1.0f);
        break;
    case N_CHORD:
        for (int i = 0, n = 1 + rndi(r, 6); i < n; i++)
            note_on(c, s, rndi(r, 32), 24 + rndi(r, 72), (float)rnd01(r));
        for (int i = 0, n = rndi(r, 4); i < n; i++)
            note_off_some(c, s, len - 1 - rndi(r, 32));
        break;
    case N_ALL_OFF:
        add_event(s, host_all_off(rndi(r, (int)len)));
        c->n_held = 0;
        break;
    case N_PANIC:
        add_event(s, host_panic(rndi(r, (int)len)));
        c->n_held = 0;
        break;
    default:
        break;
    }
    for (int i = 0; i < s->n_events; i++)
        if (s->events[i].header.time >= len)
            s->events[i].header.time = len - 1;
    qsort(s->events, (size_t)s->n_events, sizeof s->events[0], cmp_time);
}

/* Choose segment kinds and lengths; `closing`: the final silence. */
static void make_segment(Case *c, Segment *s, double length_s, int closing)
{
    Rng *r = &c->rng;
    const AmpPatchDesc *d = c->u->d;
    memset(s, 0, sizeof *s);
    if (closing) {
        s->frames = (long)(fmax(0.5, length_s) * c->rate);
        s->notes = N_ALL_OFF;
        add_event(s, host_all_off(0));
        c->n_held = 0;
        /* a unit played through its gate param (adsr, ar, perc) is released */
        for (int p = 0; p < d->n_params; p++)
            if (!strcmp(d->params[p].name, "gate")) {
                d->set_param(c->hp.state, p, 0.0f);
                c->value[p] = 0.0f;
            }
        return;
    }
    static const double lengths[] = { 0.002, 0.010, 0.050, 0.200, 0.500 };
    s->frames = (long)(lengths[rndi(r, 5)] * rnd_range(r, 0.5, 1.5) * c->rate) + 1;
    if (rndi(r, 8) == 0) {             /* a long silence */
        s->frames = (long)(rnd_range(r, 0.5, 2.0) * fmax(length_s, 0.25) * c->rate);
        return;
    }
    s->params = d->n_params ? rndi(r, P_KINDS) : P_HOLD;
    if (s->params == P_GLIDE || s->params == P_JUMP) {
        s->n_mod = s->params == P_JUMP ? 1 : 1 + rndi(r, MAX_MOD);
        for (int i = 0; i < s->n_mod; i++) {
            const AmpParamDesc *p = &d->params[s->mod[i] = rndi(r, d->n_params)];
            if (s->params == P_JUMP) {
                s->from[i] = rndi(r, 4) ? p->lo : pick_value(r, p);
                s->to[i] = rndi(r, 4) ? p->hi : pick_value(r, p);
            } else {
                s->from[i] = pick_value(r, p);
                s->to[i] = pick_value(r, p);
            }
        }
        static const int glide_every[] = { 1, 16, 128, 1024 }, jump_every[] = { 1, 16, 64, 512 };
        s->every = s->params == P_JUMP ? jump_every[rndi(r, 4)] : glide_every[rndi(r, 4)];
    }
    if (d->max_voices > 0) {
        s->notes = rndi(r, N_KINDS);
        if (s->notes == N_STORM && s->frames < (long)(STORM_SECONDS * c->rate) + 1)
            s->frames = (long)(STORM_SECONDS * c->rate) + 1;
        make_notes(c, s);
    }
    if (d->n_inputs > 0) {
        s->input = rndi(r, IN_KINDS);
        s->in_level = rndi(r, 2) ? 1.0f : -1.0f;
        s->in_period = (float)(c->rate / (20.0 * pow(c->rate / 2 / 20.0, rnd01(r))));   /* 20 Hz .. SR/2 */
        if (s->input == IN_IMPULSE && rndi(r, 2))
            s->in_period = 0;          /* one impulse at the start */
    }
}

static void describe(Case *c, const Segment *s, long start)
{
    char buf[200];
    const AmpPatchDesc *d = c->u->d;
    int k = snprintf(buf, sizeof buf, "@%ld (%.3f s) %ld frames: params %s", start, start / c->rate, s->frames,
                     p_names[s->params]);
    for (int i = 0; i < s->n_mod && k < (int)sizeof buf; i++)
        k += snprintf(buf + k, sizeof buf - (size_t)k, " %s %g->%g", d->params[s->mod[i]].name, s->from[i], s->to[i]);
    if (s->n_mod && k < (int)sizeof buf)
        k += snprintf(buf + k, sizeof buf - (size_t)k, " every %d", s->every);
    if (d->max_voices > 0 && k < (int)sizeof buf)
        k += snprintf(buf + k, sizeof buf - (size_t)k, ", notes %s (%d events)", n_names[s->notes], s->n_events);
    if (d->n_inputs > 0 && k < (int)sizeof buf)
        snprintf(buf + k, sizeof buf - (size_t)k, ", input %s", in_names[s->input]);
    if (c->n_log == MAX_SEGMENT_LOG) {
        memmove(c->log[0], c->log[1], sizeof c->log[0] * (MAX_SEGMENT_LOG - 1));
        c->n_log--;
    }
    snprintf(c->log[c->n_log++], sizeof c->log[0], "%s", buf);
    if (verbose)
        printf("  %s\n", buf);
}

/* ---- the run -------------------------------------------------------------- */

static char rerun[1024];          /* the command that runs the current case alone */
static volatile sig_atomic_t in_case;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "fuzz-nodes: FAIL the case below did not finish within the hang cap (a hang)\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    ignored = write(2, rerun, strlen(rerun));
    (void)ignored;
    _exit(1);
}

static void fault(Case *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fault(Case *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->what, sizeof c->what, fmt, ap);
    va_end(ap);
}

/* Check one rendered chunk: frames [c->pos, c->pos + n). */
static void check_chunk(Case *c, float *const *out, int n, int closing, float *window_peak)
{
    const AmpPatchDesc *d = c->u->d;
    for (int ch = 0; ch < d->n_outputs; ch++)
        for (int i = 0; i < n; i++) {
            float x = out[ch][i];
            float a = fabsf(x);
            const char *bad = NULL;
            if (!isfinite(x))
                bad = "a non-finite sample";
            else if (a != 0.0f && a < FLT_MIN)
                bad = "a denormal";
            else if (a > c->ceiling)
                bad = "a sample above the ceiling";
            if (bad) {
                fault(c, "%s: output %d ('%s') = %.9g at frame %ld (%.4f s); ceiling %.1f dBFS", bad, ch,
                      d->output_names[ch], (double)x, c->pos + i, (c->pos + i) / c->rate,
                      20 * log10((double)c->ceiling));
                return;
            }
            case_max_peak = fmaxf(case_max_peak, a);
            if (closing)
                *window_peak = fmaxf(*window_peak, a);
            else
                c->peak = fmaxf(c->peak, a);
        }
}

static int live_voices(Case *c)
{
    const AmpPatchDesc *d = c->u->d;
    return d->max_voices > 0 ? d->voices(c->hp.state)->live : 1;
}

static void fill_input(Case *c, const Segment *s, long seg_pos, float *const *in, int n)
{
    const AmpPatchDesc *d = c->u->d;
    for (int ch = 0; ch < d->n_inputs; ch++)
        for (int i = 0; i < n; i++) {
            long t = seg_pos + i;
            float x = 0.0f;
            switch (s->input) {
            case IN_SQUARE:
                x = fmodf((float)t, s->in_period) < s->in_period * 0.5f ? 1.0f : -1.0f;
                break;
            case IN_DC:
                x = s->in_level;
                break;
            case IN_IMPULSE:
                x = s->in_period > 0 ? (fmodf((float)t, s->in_period) < 1.0f ? s->in_level : 0.0f)
                                     : (t == 0 ? s->in_level : 0.0f);
                break;
            case IN_NOISE:
                x = (float)((rnd01(&c->rng) * 2 - 1) * NOISE_PEAK);
                break;
            default:
                break;
            }
            in[ch][i] = x;
            c->in_peak = fmaxf(c->in_peak, fabsf(x));
        }
}

/* Render one segment in chunks, with its param commands made as it goes. */
static void run_segment(Case *c, Segment *s, int closing, float **in, float **out)
{
    const AmpPatchDesc *d = c->u->d;
    static Command cmds[CHUNK + MAX_NOTE_EVENTS + 256];
    long start = c->pos;
    describe(c, s, start);
    int next_event = 0;
    float window_peak = 0.0f, first_windows = 0.0f;
    long window_len = (long)(RUNAWAY_WINDOW * c->rate), window_fill = 0;
    if (s->params == P_SET)
        for (int p = 0; p < d->n_params; p++) {
            c->value[p] = pick_value(&c->rng, &d->params[p]);
            d->set_param(c->hp.state, p, c->value[p]);
        }
    for (long done = 0; done < s->frames && !c->failed;) {
        int n = (int)(s->frames - done < CHUNK ? s->frames - done : CHUNK);
        int nc = 0;
        while (next_event < s->n_events && s->events[next_event].header.time < done + n) {
            cmds[nc] = s->events[next_event++];
            cmds[nc++].header.time -= done;
        }
        if (s->n_mod) {
            long first = (done + s->every - 1) / s->every * s->every;
            for (long t = first; t < done + n; t += s->every)
                for (int i = 0; i < s->n_mod; i++) {
                    float v;
                    if (s->params == P_JUMP)
                        v = (t / s->every) % 2 ? s->to[i] : s->from[i];
                    else {
                        double f = (double)t / (double)s->frames;
                        v = (float)(s->from[i] + (s->to[i] - s->from[i]) * f);
                        if (!isfinite(s->from[i]) || !isfinite(s->to[i]))
                            v = f < 0.5 ? s->from[i] : s->to[i];
                    }
                    c->value[s->mod[i]] = v;
                    if (nc < (int)(sizeof cmds / sizeof cmds[0]))
                        cmds[nc++] = host_param(t - done, s->mod[i], v);
                }
            qsort(cmds, (size_t)nc, sizeof cmds[0], cmp_time);
        }
        fill_input(c, s, done, in, n);
        host_render(&c->hp, cmds, nc, (const float *const *)in, out, n);
        c->work += (double)n * live_voices(c);
        check_chunk(c, out, n, closing, &window_peak);
        if (closing) {
            /* windows of the closing silence: the first half's loudest
             * and the last window, compared at the end */
            window_fill += n;
            if (window_fill >= window_len && done + n < s->frames) {
                if (done + n <= s->frames / 2)
                    first_windows = fmaxf(first_windows, window_peak);
                window_peak = 0.0f;
                window_fill = 0;
            }
        }
        c->pos += n;
        done += n;
    }
    if (closing && !c->failed) {
        /* twice the loudest the case has been, or could have been from its
         * input through the unit's gain (an echo may come after the input) */
        float loudest = fmaxf(c->peak, c->in_peak * (float)pow(10.0, (c->u->extra_db + 12.0) / 20.0));
        /* ... and twice the first half of the silence: a level still
         * settling towards a steady state (a source that runs on in a
         * voice, into a reverb) is not a runaway; one that keeps growing is */
        float limit = 2.0f * fmaxf(fmaxf(loudest, RUNAWAY_FLOOR), first_windows);
        if (window_peak > limit)
            fault(c, "a runaway: the level grew in the closing silence to %.3g (%.1f dBFS) in its last window, "
                     "above twice the case's loudest moment before it and the silence's first half: %.3g",
                  (double)window_peak, 20 * log10((double)window_peak), (double)limit);
    }
}

static void print_fault(Case *c)
{
    const AmpPatchDesc *d = c->u->d;
    printf("fuzz-nodes: FAIL %s:%s at %g Hz, case seed 0x%016llx: %s\n", c->u->file, c->u->name, c->rate,
           (unsigned long long)c->seed, c->what);
    printf("  params as last set:");
    for (int p = 0; p < d->n_params; p++)
        printf(" %s=%g (now %g)", d->params[p].name, c->value[p], d->get_param(c->hp.state, p));
    printf("\n  segments (the last %d):\n", c->n_log);
    for (int i = 0; i < c->n_log; i++)
        printf("    %s\n", c->log[i]);
    if (c->u->text)
        printf("  the patch (random seed 0x%016llx):\n%s", (unsigned long long)c->u->random_seed, c->u->text);
    printf("  re-run alone: %s", rerun);
}

/* One case: returns 0, or -1 on a fault (printed). */
static int run_case(const FuzzUnit *u, float rate, uint64_t seed, double length_s, double hang_s, double *work)
{
    static Case c;
    memset(&c, 0, sizeof c);
    c.u = u;
    c.rate = rate;
    c.seed = seed;
    c.rng.s = seed;
    c.ceiling = (float)pow(10.0, (ceiling_override_db >= 0 ? ceiling_override_db : CEILING_DB + u->extra_db + ROUNDING_DB) / 20.0);
    case_max_peak = 0.0f;
    const AmpPatchDesc *d = u->d;
    char err[512];
    if (host_init(&c.hp, d, rate, err, sizeof err)) {
        printf("fuzz-nodes: FAIL %s:%s at %g Hz: %s\n", u->file, u->name, rate, err);
        return -1;
    }
    for (int p = 0; p < d->n_params; p++)
        c.value[p] = d->params[p].def;
    char ceiling[64] = "";
    if (ceiling_override_db >= 0)
        snprintf(ceiling, sizeof ceiling, " --ceiling %g", ceiling_override_db);
    if (u->text)
        snprintf(rerun, sizeof rerun, "build/tests/fuzz_nodes --random-patch 0x%016llx --rate %g --case 0x%016llx --length %g%s\n",
                 (unsigned long long)u->random_seed, rate, (unsigned long long)seed, length_s, ceiling);
    else
        snprintf(rerun, sizeof rerun, "build/tests/fuzz_nodes --unit %s:%s --rate %g --case 0x%016llx --length %g%s\n",
                 u->file, u->name, rate, (unsigned long long)seed, length_s, ceiling);
    if (verbose)
        printf("%s:%s at %g Hz, case 0x%016llx\n", u->file, u->name, rate, (unsigned long long)seed);

    float *in[HOST_MAX_CHANNELS], *out[HOST_MAX_CHANNELS];
    for (int i = 0; i < HOST_MAX_CHANNELS; i++) {
        in[i] = i < d->n_inputs ? calloc(CHUNK, sizeof(float)) : NULL;
        out[i] = i < d->n_outputs ? calloc(CHUNK, sizeof(float)) : NULL;
    }
    static Segment s;
    long drive = (long)(length_s * rnd_range(&c.rng, 0.5, 1.5) * rate);
    alarm((unsigned)ceil(hang_s));
    while (c.pos < drive && !c.failed) {
        make_segment(&c, &s, length_s, 0);
        run_segment(&c, &s, 0, in, out);
    }
    if (!c.failed) {
        make_segment(&c, &s, length_s, 1);
        run_segment(&c, &s, 1, in, out);
    }
    if (!c.failed && d->max_voices > 0) {
        memset(&s, 0, sizeof s);
        s.frames = (long)(PANIC_SECONDS * rate);
        s.notes = N_PANIC;
        add_event(&s, host_panic(0));
        run_segment(&c, &s, 1, in, out);
        int live = live_voices(&c);
        if (!c.failed && live)
            fault(&c, "work that never ends: %d voices still live %.0f ms after a panic", live, PANIC_SECONDS * 1000);
    }
    alarm(0);
    for (int i = 0; i < HOST_MAX_CHANNELS; i++) {
        free(in[i]);
        free(out[i]);
    }
    *work += c.work;
    if (c.failed)
        print_fault(&c);
    host_free(&c.hp);
    return c.failed ? -1 : 0;
}

/* ---- random valid patches --------------------------------------------------- */

/* The std nodes a generated patch may use, with the gain bound (dB) used
 * for its ceiling: what a node adds over the largest of its inputs
 * (filters, delays) or its own output peak (sources). */
typedef struct Proto {
    const char *name;
    const FuzzUnit *u;         /* the std node built on its own: ports and params */
    double gain_db;        /* over its inputs, or its output's peak for a source */
} Proto;

static Proto protos[64];
static int n_protos;

static void fmt_value(char *buf, size_t len, const AmpParamDesc *p, double v)
{
    if (p->step > 0)
        v = p->lo + p->step * round((v - p->lo) / p->step);
    if (v < p->lo) v = p->lo;
    if (v > p->hi) v = p->hi;
    const char *suffix = p->unit == AMP_UNIT_HZ ? " hz" : p->unit == AMP_UNIT_S ? " s" : p->unit == AMP_UNIT_DB ? " db" : "";
    /* 9 digits round-trip a float: a value at the edge stays inside */
    snprintf(buf, len, "%.9g%s", v, suffix);
    /* a constant printed above hi by rounding would be refused */
    double back = atof(buf);
    if (back > p->hi || back < p->lo)
        snprintf(buf, len, "%.9g%s", back > p->hi ? p->hi : p->lo, suffix);
}

typedef struct Gen {
    char *text;
    size_t len, cap;
} Gen;

static void gen(Gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gen(Gen *g, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(g->text + g->len, g->cap - g->len, fmt, ap);
        va_end(ap);
        if (g->len + (size_t)n < g->cap) {
            g->len += (size_t)n;
            return;
        }
        g->cap = g->cap * 2 + (size_t)n + 256;
        g->text = realloc(g->text, g->cap);
    }
}

#define MAX_INST 10

/* A patch text from `seed`; *bound_db: the static bound of its output level
 * (dBFS) when its inputs peak at +12 dBFS. */
static char *random_patch_text(uint64_t seed, double *bound_db)
{
    Rng r = { seed };
    Gen g = { malloc(4096), 0, 4096 };
    g.text[0] = 0;
    int kind = rndi(&r, 3);            /* 0 instrument, 1 effect, 2 generator */
    gen(&g, "// generated by tests/fuzz_nodes.c from seed 0x%016llx\n", (unsigned long long)seed);
    gen(&g, "import \"std/osc.amp\";\nimport \"std/env.amp\";\nimport \"std/filter.amp\";\nimport \"std/fx.amp\";\n\n");
    gen(&g, "patch fuzz_%016llx {\n", (unsigned long long)seed);
    if (kind == 0)
        gen(&g, "  voices %d steal %s;\n", 1 + rndi(&r, 12), (const char *[]){ "oldest", "quietest", "none" }[rndi(&r, 3)]);
    if (kind == 1)
        gen(&g, "  in left, right;\n");
    int n_inst = 1 + rndi(&r, MAX_INST);
    int proto_of[MAX_INST];
    double level_db[MAX_INST];     /* bound of each instance's output, dBFS */
    Gen body = { malloc(4096), 0, 4096 };
    body.text[0] = 0;
    int n_pp = 0;
    const char *indent = kind == 0 ? "    " : "  ";
    for (int i = 0; i < n_inst; i++) {
        const Proto *pr = &protos[proto_of[i] = rndi(&r, n_protos)];
        /* A voice holds its nodes once per voice slot: no delay-line nodes
         * there (fdelay's 2 s line, freeverb), or 13 voices of them pass
         * the 16 MiB state budget and the patch is not a valid one. */
        for (int tries = 0; kind == 0 && pr->u->d->state_size > (256u << 10) && tries < 64; tries++)
            pr = &protos[proto_of[i] = rndi(&r, n_protos)];
        const AmpPatchDesc *d = pr->u->d;
        gen(&body, "%sn%d = %s(", indent, i, pr->name);
        for (int p = 0; p < d->n_params; p++) {
            const AmpParamDesc *pd = &d->params[p];
            char v[64];
            if (p)
                gen(&body, ", ");
            gen(&body, "%s: ", pd->name);
            int how = rndi(&r, 5);
            int is_gate = !strcmp(pd->name, "gate");
            if (is_gate && kind == 0) {
                gen(&body, "note.gate");
            } else if (is_gate && i > 0 && how < 2) {
                int j = rndi(&r, i);
                gen(&body, "n%d.%s > 0", j, protos[proto_of[j]].u->d->output_names[0]);
            } else if (how == 0 || pd->unit == AMP_UNIT_DB || pd->step > 0) {
                fmt_value(v, sizeof v, pd, pick_inside(&r, pd));
                gen(&body, "%s", v);
            } else if (how == 1) {
                /* a patch param over the node's range */
                char lo[64], hi[64], def[64];
                fmt_value(lo, sizeof lo, pd, pd->lo);
                fmt_value(hi, sizeof hi, pd, pd->hi);
                fmt_value(def, sizeof def, pd, pick_inside(&r, pd));
                gen(&g, "  param p%d = %s in [%s, %s];\n", n_pp, def, lo, hi);
                gen(&body, "p%d", n_pp++);
            } else if (how == 2 && kind == 0 && pd->unit == AMP_UNIT_HZ) {
                gen(&body, "note.freq * %.4g", pow(2.0, rnd_range(&r, -3, 3)));
            } else if (i > 0) {
                /* modulation by an earlier instance (the compiler clamps it) */
                int j = rndi(&r, i);
                const AmpPatchDesc *dj = protos[proto_of[j]].u->d;
                fmt_value(v, sizeof v, pd, pick_inside(&r, pd));
                if (pd->unit == AMP_UNIT_NONE)
                    gen(&body, "%s + %.4g * n%d.%s", v, rnd_range(&r, -2, 2) * (pd->hi - pd->lo), j,
                        dj->output_names[rndi(&r, dj->n_outputs)]);
                else
                    gen(&body, "%s * (1 + %.4g * n%d.%s)", v, rnd_range(&r, -4, 4), j,
                        dj->output_names[rndi(&r, dj->n_outputs)]);
            } else {
                fmt_value(v, sizeof v, pd, pick_inside(&r, pd));
                gen(&body, "%s", v);
            }
        }
        gen(&body, ");\n");
        /* inputs: from earlier instances or the patch's inputs */
        double in_db = -200;
        for (int k = 0; k < d->n_inputs; k++) {
            int n_src = rndi(&r, 3);
            for (int s = 0; s < n_src; s++) {
                int j = rndi(&r, i + (kind == 1 ? 1 : 0) + (i == 0 && kind != 1));
                double scale = rnd_range(&r, 0.1, 1.0), src_db;
                if (kind == 1 && j >= i) {
                    int left = rndi(&r, 2);
                    gen(&body, "%s%s * %.4g -> n%d.%s;\n", indent, left ? "left" : "right", scale, i, d->input_names[k]);
                    src_db = 12.0;
                } else if (j >= i) {
                    gen(&body, "%snoise() * %.4g -> n%d.%s;\n", indent, scale, i, d->input_names[k]);
                    src_db = 0.0;
                } else {
                    const AmpPatchDesc *dj = protos[proto_of[j]].u->d;
                    gen(&body, "%sn%d.%s * %.4g -> n%d.%s;\n", indent, j, dj->output_names[rndi(&r, dj->n_outputs)],
                        scale, i, d->input_names[k]);
                    src_db = level_db[j];
                }
                /* a sum of n sources: at most n times the loudest */
                in_db = fmax(in_db, src_db) + (s ? 6.0 : 0.0);
            }
        }
        level_db[i] = d->n_inputs ? fmax(in_db, 0.0) + pr->gain_db : pr->gain_db;
    }
    /* the output: the last instance and maybe another, averaged */
    int a = n_inst - 1, b = rndi(&r, n_inst);
    const AmpPatchDesc *da = protos[proto_of[a]].u->d, *db = protos[proto_of[b]].u->d;
    gen(&body, "%s(n%d.%s + n%d.%s) * 0.5 -> out;\n", indent, a, da->output_names[rndi(&r, da->n_outputs)], b,
        db->output_names[rndi(&r, db->n_outputs)]);
    double out_db = fmax(level_db[a], level_db[b]);
    if (kind == 0) {
        gen(&g, "  voice {\n%s  }\n", body.text);
        out_db += 20 * log10(12.0);    /* at most 12 voices at once */
    } else {
        gen(&g, "%s", body.text);
    }
    gen(&g, "}\n");
    free(body.text);
    *bound_db = out_db;
    return g.text;
}

static const char *const std_sources[] = { "sine", "pmsine", "saw", "square", "triangle", "whitenoise", "lfo",
                                           "adsr", "ar", "perc" };

static int setup_protos(FuzzUnit *units, int n_units)
{
    for (int i = 0; i < n_units && n_protos < 64; i++) {
        /* the files random_patch_text imports (std/sample.amp's play
         * needs a sample slot bound: fuzzed as a library unit instead) */
        static const char *const imported[] = { "nodes/std/osc.amp", "nodes/std/env.amp", "nodes/std/filter.amp",
                                                "nodes/std/fx.amp" };
        int in_imports = 0;
        for (size_t k = 0; k < sizeof imported / sizeof imported[0]; k++)
            in_imports |= strstr(units[i].file, imported[k]) != NULL;
        if (!in_imports || !units[i].d)
            continue;
        Proto *p = &protos[n_protos++];
        p->name = units[i].name;
        p->u = &units[i];
        p->gain_db = units[i].d->n_inputs ? unit_gain_db(p->name) : 0.0;
        for (size_t k = 0; k < sizeof std_sources / sizeof std_sources[0]; k++)
            if (!strcmp(std_sources[k], p->name))
                p->gain_db = 6.0;      /* a band-limited edge overshoots a little; phase modulation none */
        if (!strcmp(p->name, "freeverb"))
            p->gain_db = 54.0;         /* 8 combs at feedback 0.98 (x 50) of 0.03 x the input, 4 all-passes (x 3 each) */
        if (!strcmp(p->name, "pan") || !strcmp(p->name, "bandpass") || !strcmp(p->name, "notch") ||
            !strcmp(p->name, "onepole"))
            p->gain_db = 6.0;          /* unity, a high-pass's edge doubles */
    }
    return n_protos;
}

static int make_random_unit(FuzzUnit *u, uint64_t seed)
{
    memset(u, 0, sizeof *u);
    double bound_db;
    u->text = random_patch_text(seed, &bound_db);
    u->random_seed = seed;
    snprintf(u->file, sizeof u->file, "nodes/fuzz_random.amp");
    snprintf(u->name, sizeof u->name, "fuzz_%016llx", (unsigned long long)seed);
    u->extra_db = fmax(0.0, bound_db - 12.0);
    u->d = build_unit(u->file, u->text, NULL);
    if (!u->d) {
        printf("fuzz-nodes: FAIL a generated patch does not compile (seed 0x%016llx):\n%s", (unsigned long long)seed,
               u->text);
        return -1;
    }
    return 0;
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: fuzz_nodes [--seed N] [--cases N] [--seconds S] [--length S] [--rate R]...\n"
            "                  [--unit FILE:NAME]... [--random N] [--random-patch SEED] [--case SEED]\n"
            "                  [--print-patch SEED] [--ceiling DB] [--peaks] [--hang-seconds S] [-v] [FILE.amp...]\n"
            "  Fuzzes every unit of FILE.amp... (default nodes/*.amp nodes/std/*.amp) at every rate\n"
            "  (default 8000 22050 44100 48000 96000 192000): --cases per unit and rate (default 1),\n"
            "  or as many rounds as fit in --seconds; --length: seconds of drive per case (default 0.5);\n"
            "  --random N: N random patches from the std nodes too; --case SEED: that one case only;\n"
            "  --print-patch SEED: print the random patch of that seed; --peaks: each unit's loudest\n"
            "  sample; --ceiling DB: one ceiling for all (to measure with --peaks).\n");
    exit(2);
}

static int wanted(const FuzzUnit *u, int n_only, const char *const *only, int std_too)
{
    if (!n_only)
        return 1;
    char spec[sizeof u->file + sizeof u->name + 2];
    snprintf(spec, sizeof spec, "%.255s:%.63s", u->file, u->name);
    for (int k = 0; k < n_only; k++)
        if (!strcmp(spec, only[k]))
            return 1;
    return std_too && strstr(u->file, "nodes/std/") != NULL;
}

/* Fill the build cache from a second process while this one builds the
 * other half (the cache takes parallel builders: build.h), so that a cold
 * run takes half as long on two cores. Errors show up in the real build
 * after it. */
static void prebuild(FuzzUnit *units, int n_units, int n_only, const char *const *only, int std_too)
{
    fflush(NULL);
    pid_t pid = fork();
    for (int i = 0; i < n_units; i++) {
        if ((i % 2 == 0) != (pid != 0) || !wanted(&units[i], n_only, only, std_too))
            continue;
        FILE *saved = stderr;
        stderr = fopen("/dev/null", "w");
        build_unit(units[i].file, NULL, units[i].name);
        fclose(stderr);
        stderr = saved;
    }
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

/* Set once the command line is read: FILE.amp arguments were given. */
static int files_from_args = -1;
static int n_files_given(const char *const *files, int n)
{
    (void)files;
    if (files_from_args < 0)
        files_from_args = n > 0;
    return files_from_args;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1, one_case = 0, random_patch = 0;
    uint64_t print_patch = 0;
    int peaks = 0;
    int cases = 1, n_random = 0, have_case = 0, have_random_patch = 0, have_print = 0;
    double seconds = 0, length = 0.5, hang = 600;
    float rates[16];
    int n_rates = 0;
    const char *files[256], *only[64];
    int n_files = 0, n_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-v")) { verbose = 1; continue; }
        if (!strcmp(a, "--peaks")) { peaks = 1; continue; }
        if (a[0] != '-') { if (n_files < 256) files[n_files++] = a; continue; }
        if (!v) usage();
        i++;
        if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--cases")) cases = atoi(v);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--length")) length = atof(v);
        else if (!strcmp(a, "--hang-seconds")) hang = atof(v);
        else if (!strcmp(a, "--rate") && n_rates < 16) rates[n_rates++] = (float)atof(v);
        else if (!strcmp(a, "--unit") && n_only < 64) only[n_only++] = v;
        else if (!strcmp(a, "--random")) n_random = atoi(v);
        else if (!strcmp(a, "--random-patch")) { random_patch = strtoull(v, NULL, 0); have_random_patch = 1; }
        else if (!strcmp(a, "--case")) { one_case = strtoull(v, NULL, 0); have_case = 1; }
        else if (!strcmp(a, "--ceiling")) ceiling_override_db = atof(v);
        else if (!strcmp(a, "--print-patch")) { print_patch = strtoull(v, NULL, 0); have_print = 1; }
        else usage();
    }
    if (!n_rates) {
        static const float def[] = { 8000, 22050, 44100, 48000, 96000, 192000 };
        for (n_rates = 0; n_rates < 6; n_rates++)
            rates[n_rates] = def[n_rates];
    }
    double t0 = now_s();
    signal(SIGALRM, on_alarm);

    /* the library's units (the std nodes always: the generator's catalogue) */
    static FuzzUnit units[MAX_UNITS];
    int n_units = 0;
    glob_t gl;
    memset(&gl, 0, sizeof gl);
    /* --unit FILE:NAME alone: those files (so a re-run finds a unit of any file) */
    static char unit_files[64][256];
    for (int k = 0; k < n_only && !n_files_given(files, n_files); k++) {
        const char *colon = strrchr(only[k], ':');
        size_t len = colon ? (size_t)(colon - only[k]) : 0;
        if (!len || len >= sizeof unit_files[0])
            continue;
        memcpy(unit_files[k], only[k], len);
        unit_files[k][len] = 0;
        int seen = 0;
        for (int f = 0; f < n_files; f++)
            seen |= !strcmp(files[f], unit_files[k]);
        if (!seen)
            files[n_files++] = unit_files[k];
    }
    if (!n_files) {
        glob("nodes/*.amp", 0, NULL, &gl);
        glob("nodes/std/*.amp", GLOB_APPEND, NULL, &gl);
        for (size_t k = 0; k < gl.gl_pathc && n_files < 256; k++)
            files[n_files++] = gl.gl_pathv[k];
        if (!n_files) {
            fprintf(stderr, "fuzz-nodes: no nodes/*.amp here: run from the repository root\n");
            return 2;
        }
    }
    for (int f = 0; f < n_files; f++) {
        int n = list_units(files[f], units, n_units, MAX_UNITS);
        if (n < 0) {
            printf("fuzz-nodes: FAIL cannot parse %s\n", files[f]);
            return 1;
        }
        n_units = n;
    }
    prebuild(units, n_units, n_only, only, n_random || have_random_patch || have_print);
    int selected[MAX_UNITS], n_sel = 0, failures = 0;
    for (int i = 0; i < n_units; i++) {
        int want = !n_only && !have_random_patch && !have_print;
        for (int k = 0; k < n_only; k++) {
            char spec[400];
            snprintf(spec, sizeof spec, "%s:%s", units[i].file, units[i].name);
            want |= !strcmp(spec, only[k]);
        }
        int is_std = strstr(units[i].file, "nodes/std/") != NULL;
        if (!want && !(is_std && (n_random || have_random_patch || have_print)))
            continue;
        units[i].d = build_unit(units[i].file, NULL, units[i].name);
        if (!units[i].d) {
            printf("fuzz-nodes: FAIL %s:%s does not build\n", units[i].file, units[i].name);
            failures++;
            continue;
        }
        units[i].extra_db = unit_extra_db(units[i].name);
        if (want)
            selected[n_sel++] = i;
    }
    if (n_only && n_sel != n_only) {
        fprintf(stderr, "fuzz-nodes: --unit names %d units, %d found (FILE:NAME as ampc --list prints them)\n", n_only, n_sel);
        return 2;
    }
    setup_protos(units, n_units);
    if (have_print) {
        double bound_db;
        char *text = random_patch_text(print_patch, &bound_db);
        printf("%s// static level bound: %.1f dBFS\n", text, bound_db);
        free(text);
        return 0;
    }
    static FuzzUnit randoms[4096];
    int n_rand_units = 0;
    if (have_random_patch) {
        if (make_random_unit(&randoms[0], random_patch))
            return 1;
        n_rand_units = 1;
    }
    for (int k = 0; k < n_random && k < 4096; k++) {
        if (make_random_unit(&randoms[n_rand_units], mix64(seed ^ 0x7a6e6f6465ull ^ (uint64_t)k)))
            failures++;
        else
            n_rand_units++;
    }
    double t_built = now_s();
    printf("fuzz-nodes: %d library units and %d random patches built in %.1f s\n", n_sel, n_rand_units, t_built - t0);
    fflush(stdout);

    /* the cases */
    double work = 0, audio = 0;
    long n_cases = 0;
    for (int round = 0; ; round++) {
        int round_cases = 0;
        for (int k = 0; k < n_sel + n_rand_units; k++) {
            const FuzzUnit *u = k < n_sel ? &units[selected[k]] : &randoms[k - n_sel];
            float unit_peak = 0.0f;
            for (int ri = 0; ri < n_rates; ri++)
                for (int ci = 0; ci < (seconds > 0 ? 1 : cases); ci++) {
                    uint64_t cs = have_case ? one_case
                                            : hash_str(mix64(seed) ^ (uint64_t)(round * 1000003 + ci) ^
                                                           (uint64_t)rates[ri] * 0x9e37ull, u->name);
                    double w0 = work;
                    if (run_case(u, rates[ri], cs, length, hang, &work))
                        failures++;
                    audio += (work - w0) / rates[ri];
                    n_cases++;
                    round_cases++;
                    unit_peak = fmaxf(unit_peak, case_max_peak);
                    fflush(stdout);
                }
            if (peaks)
                printf("fuzz-nodes: peak %+6.1f dBFS (ceiling %+.1f) %s:%s\n", 20 * log10(fmax(unit_peak, 1e-30)),
                       CEILING_DB + u->extra_db, u->file, u->name);
        }
        if (have_case || seconds <= 0 || now_s() - t_built >= seconds || !round_cases)
            break;
    }
    printf("fuzz-nodes: %ld cases (%d library units, %d random patches, %d rates, seed %llu), "
           "%.3g voice-seconds of audio, %d failed, %.1f s\n",
           n_cases, n_sel, n_rand_units, n_rates, (unsigned long long)seed, audio, failures, now_s() - t0);
    if (gl.gl_pathc)
        globfree(&gl);
    return failures ? 1 : 0;
}
