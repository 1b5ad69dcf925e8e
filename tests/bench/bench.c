/* bench.c — the driver of `make bench` (tests/bench/bench.mk): measures our
 * compiled patches against the same algorithms in Faust, our native build
 * against our WebAssembly build, and our compiler against faust's, prints
 * one table and writes it, with the machine line and how to reproduce, to
 * BENCHMARKS.md. What is printed is exactly what is written.
 *
 * Method, for every timed row: the process is pinned to one core
 * (sched_setaffinity; children inherit it); the sides of the row are
 * warmed up once, then run alternately — in the order A B C on even rounds
 * and C B A on odd ones — for --runs rounds; each run renders the same
 * number of samples (chosen so that the slowest side takes about
 * --target-ms), and the row shows each side's median, min and max in ns per
 * sample (all voices together). The WebAssembly side is a node process
 * (wasm_driver.js) that renders one run per command on a pipe and times it
 * inside the module; the native side runs in this process between its runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ampc.h"
#include "cases.h"
#include "faust_ops.h"
#include "voice.h"

extern char **environ;

extern const FaustOps faust_ops_synth_s, faust_ops_synth_v;
extern const FaustOps faust_ops_biquads_s, faust_ops_biquads_v;
extern const FaustOps faust_ops_svf_s, faust_ops_svf_v;
extern const FaustOps faust_ops_freeverb_s, faust_ops_freeverb_v;
extern const FaustOps faust_ops_denorm_s, faust_ops_denorm_v;

#define MAX_RUNS 201
#define DENORM_SECONDS 20      /* impulse + silence: long enough for the tail to pass the denormal range */

/* ---- options ---------------------------------------------------------------- */

static struct {
    const char *out;           /* BENCHMARKS.md */
    const char *bdir;          /* build/bench: scratch files */
    const char *ampc, *faust, *emcc, *node;
    const char *wasm_js, *driver_js;
    const char *notes;         /* appended to the report: what the rows run */
    const char *cc;            /* the C compiler command, for the machine line */
    const char *cflags;        /* the flags both sides were built with */
    const char *emflags;       /* the flags of the WebAssembly build */
    int runs;
    int compile_runs;
    double target_ms;
    int scalar;                /* 1: the scalar twin differs from the SIMD build */
    int cpu;                   /* -1: the last CPU this process may run on */
    int clock_cpu;             /* 1: time CPU time, not wall time (cases.h, bench_set_clock) */
    int compare_only;          /* --only compare: the output comparison, no timing, no file */
    const char *instr;         /* --instr ROW:SIDE: render one side inside instr_region (make bench-instructions) */
    long instr_frames;         /* --instr-frames N: how many samples it renders there */
    const char *browser;       /* rows measured by tests/bench/browser.mjs (make bench-browser), or NULL */
    const char *rows;          /* --rows A,B: time only these rows (row_on), print them, write nothing */
} opt = {
    .out = "BENCHMARKS.md", .bdir = "build/bench", .ampc = "build/ampc", .faust = "faust",
    .emcc = "emcc", .node = "node", .wasm_js = "build/bench/bench_wasm.js",
    .driver_js = "tests/bench/wasm_driver.js", .notes = NULL, .cc = "cc", .cflags = "?", .emflags = "?",
    .runs = 31, .compile_runs = 15, .target_ms = 20.0, .scalar = 0, .cpu = -1,
    .instr_frames = 48L * BENCH_CHUNK,
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- the report: everything printed goes through here ---------------------- */

static char *doc;
static size_t doc_len, doc_cap;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (doc_len + (size_t)n + 1 > doc_cap) {
        doc_cap = (doc_len + (size_t)n + 1) * 2;
        doc = realloc(doc, doc_cap);
        if (!doc)
            die("out of memory");
    }
    va_start(ap, fmt);
    vsnprintf(doc + doc_len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    fputs(doc + doc_len, stdout);
    fflush(stdout);
    doc_len += (size_t)n;
}

/* progress, on stderr: not part of the report */
static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- statistics ------------------------------------------------------------- */

typedef struct Stat {
    double med, min, max;
    int n;
} Stat;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static Stat stat_of(const double *v, int n)
{
    double s[MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    Stat st = { .n = n, .min = s[0], .max = s[n - 1] };
    st.med = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    return st;
}

/* "12.3 (12.1–12.9)" with a precision that suits the size */
static const char *fmt_num(char *buf, size_t len, double x)
{
    if (x >= 1000)
        snprintf(buf, len, "%.0f", x);
    else if (x >= 100)
        snprintf(buf, len, "%.1f", x);
    else if (x >= 10)
        snprintf(buf, len, "%.2f", x);
    else
        snprintf(buf, len, "%.3f", x);
    return buf;
}

static const char *fmt_stat(char *buf, size_t len, Stat s)
{
    char a[24], b[24], c[24];
    snprintf(buf, len, "%s (%s–%s)", fmt_num(a, sizeof a, s.med), fmt_num(b, sizeof b, s.min),
             fmt_num(c, sizeof c, s.max));
    return buf;
}

/* ---- sides: what a row alternates between ------------------------------------ */

typedef struct Side {
    const char *label;
    void (*prepare)(void *ctx);           /* untimed, before each run */
    double (*run)(void *ctx, long frames); /* elapsed ns */
    double (*rms)(void *ctx);
    void *ctx;
    Stat st;                              /* ns per sample */
    double last_rms;                      /* after the last run */
} Side;

/* Time the sides alternately; fills each side's st. frames <= 0: calibrate. */
static long measure(Side *sides, int n, long frames, int runs)
{
    for (int k = 0; k < n; k++) {                  /* warm-up */
        sides[k].prepare(sides[k].ctx);
        sides[k].run(sides[k].ctx, 8 * BENCH_CHUNK);
    }
    if (frames <= 0) {
        double worst = 0;
        for (int k = 0; k < n; k++) {
            long f = 32 * BENCH_CHUNK;
            sides[k].prepare(sides[k].ctx);
            double ns = sides[k].run(sides[k].ctx, f) / (double)f;
            if (ns > worst)
                worst = ns;
        }
        double want = opt.target_ms * 1e6 / worst;
        frames = (long)(want / BENCH_CHUNK + 0.5) * BENCH_CHUNK;
        if (frames < 4 * BENCH_CHUNK)
            frames = 4 * BENCH_CHUNK;
        if (frames > 8192L * BENCH_CHUNK)
            frames = 8192L * BENCH_CHUNK;
    }
    static double v[8][MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        for (int j = 0; j < n; j++) {
            int k = r % 2 ? n - 1 - j : j;
            sides[k].prepare(sides[k].ctx);
            v[k][r] = sides[k].run(sides[k].ctx, frames) / (double)frames;
            if (r == runs - 1)
                sides[k].last_rms = sides[k].rms(sides[k].ctx);
        }
    }
    for (int k = 0; k < n; k++)
        sides[k].st = stat_of(v[k], runs);
    return frames;
}

/* ours, native */
static void our_prep_cb(void *ctx) { our_prepare(ctx); }
static double our_run_cb(void *ctx, long frames)
{
    double t0 = bench_now_ns();
    our_run(ctx, frames);
    return bench_now_ns() - t0;
}
static double our_rms_cb(void *ctx) { return ((OurCase *)ctx)->last_rms; }

static OurCase *our_new(int id, int voices)
{
    static OurCase cases[8];
    static int next;
    OurCase *c = &cases[next++ % 8];
    if (c->hp.desc)
        our_close(c);
    char err[256];
    if (our_open(c, id, voices, err, sizeof err))
        die("%s: %s", case_name(id), err);
    return c;
}

static Side our_side(const char *label, int id, int voices)
{
    Side s = { .label = label, .prepare = our_prep_cb, .run = our_run_cb, .rms = our_rms_cb,
               .ctx = our_new(id, voices) };
    return s;
}

/* Faust: n instances (one per voice) summed, or one effect instance; the
 * host splits every chunk into 128-sample compute() calls, as ours does. */
typedef struct FaustCase {
    const FaustOps *ops;
    int n;
    void *dsp[AMP_MAX_VOICES];
    int n_in, n_out;
    int denorm;            /* 0; 1: impulse then silence from reset; 2: noise from reset */
    int fresh;
    float *in[2], *zero, *impulse, *out[2], *vbuf;
    double last_rms;
} FaustCase;

static void faust_render(FaustCase *c, long frames)
{
    for (long done = 0; done < frames; done += BENCH_CHUNK) {
        for (int b = 0; b < BENCH_CHUNK; b += HOST_BLOCK) {
            if (c->n_in == 0) {
                float *o = c->out[0] + b;
                memset(o, 0, HOST_BLOCK * sizeof(float));
                float *vo[1] = { c->vbuf };
                for (int v = 0; v < c->n; v++) {
                    c->ops->compute(c->dsp[v], HOST_BLOCK, NULL, vo);
                    for (int i = 0; i < HOST_BLOCK; i++)
                        o[i] += c->vbuf[i];
                }
            } else {
                float *src = c->in[0];
                if (c->denorm == 1)
                    src = c->fresh && done == 0 ? c->impulse : c->zero;
                float *in[2] = { src + b, (c->denorm ? src : c->in[1]) + b };
                float *out[2] = { c->out[0] + b, c->out[1] + b };
                c->ops->compute(c->dsp[0], HOST_BLOCK, in, out);
            }
        }
    }
    c->fresh = 0;
    c->last_rms = bench_rms(c->out[0], BENCH_CHUNK);
}

static void faust_prep_cb(void *ctx)
{
    FaustCase *c = ctx;
    if (c->denorm) {
        c->ops->instance_init(c->dsp[0], BENCH_SR);
        c->fresh = 1;
    }
}
static double faust_run_cb(void *ctx, long frames)
{
    double t0 = bench_now_ns();
    faust_render(ctx, frames);
    return bench_now_ns() - t0;
}
static double faust_rms_cb(void *ctx) { return ((FaustCase *)ctx)->last_rms; }

static void faust_set(FaustCase *c, int v, const char *label, float value)
{
    if (c->ops->set(c->dsp[v], label, value))
        die("%s has no widget '%s'", c->ops->name, label);
}

static FaustCase *faust_new(const FaustOps *ops, int voices, int denorm, int preroll)
{
    FaustCase *c = calloc(1, sizeof *c);
    if (!c)
        die("out of memory");
    c->ops = ops;
    c->n_in = ops->num_inputs();
    c->n_out = ops->num_outputs();
    c->n = c->n_in == 0 ? voices : 1;
    c->denorm = denorm;
    for (int k = 0; k < 2; k++) {
        c->in[k] = calloc(BENCH_CHUNK, sizeof(float));
        c->out[k] = calloc(BENCH_CHUNK, sizeof(float));
    }
    c->zero = calloc(BENCH_CHUNK, sizeof(float));
    c->impulse = calloc(BENCH_CHUNK, sizeof(float));
    c->vbuf = calloc(HOST_BLOCK, sizeof(float));
    if (!c->in[0] || !c->in[1] || !c->out[0] || !c->out[1] || !c->zero || !c->impulse || !c->vbuf)
        die("out of memory");
    c->impulse[0] = 1.0f;
    uint32_t seed = 12345;           /* the same noise as ours (cases.c) */
    bench_noise(c->in[0], BENCH_CHUNK, &seed);
    bench_noise(c->in[1], BENCH_CHUNK, &seed);
    ops->class_init(BENCH_SR);
    for (int v = 0; v < c->n; v++) {
        c->dsp[v] = ops->create();
        if (!c->dsp[v])
            die("out of memory");
        ops->instance_init(c->dsp[v], BENCH_SR);
        if (c->n_in == 0) {
            faust_set(c, v, "freq", voice_key_to_freq(bench_key(v)));
            faust_set(c, v, "gain", 0.8f);
            faust_set(c, v, "gate", 1.0f);
        }
    }
    if (preroll && !denorm)
        faust_render(c, BENCH_PREROLL / BENCH_CHUNK * BENCH_CHUNK);
    return c;
}

static void faust_free(FaustCase *c)
{
    for (int v = 0; v < c->n; v++)
        c->ops->destroy(c->dsp[v]);
    for (int k = 0; k < 2; k++) {
        free(c->in[k]);
        free(c->out[k]);
    }
    free(c->zero);
    free(c->impulse);
    free(c->vbuf);
    free(c);
}

static Side faust_side(const char *label, const FaustOps *ops, int voices, int denorm)
{
    Side s = { .label = label, .prepare = faust_prep_cb, .run = faust_run_cb, .rms = faust_rms_cb,
               .ctx = faust_new(ops, voices, denorm, 1) };
    return s;
}

/* ---- output comparison: do both sides compute the same thing? ------------------
 *
 * Untimed. Each Faust row's two sides start from init and render the same
 * CMP_FRAMES samples in BENCH_CHUNK calls (Faust's compute() on 128-sample
 * blocks): the same noise in (cases.c's buffers, both channels), or, for the
 * synth, the same notes (keys bench_key(i), velocity 0.8) on at sample 0 and
 * off at CMP_NOTE_OFF, at 48 kHz. The error is the RMS of the difference
 * relative to the RMS of our output, over every sample of every output
 * channel, in dB; ours is the reference. A control renders the Faust side
 * once more with one setting deliberately off by about 1 % (a cent for the
 * synth), to show that the measure sees such a difference. */

#define CMP_FRAMES (72L * BENCH_CHUNK)     /* 1.536 s */
#define CMP_NOTE_OFF (48L * BENCH_CHUNK)   /* 1.024 s: the release is compared too */
#define CMP_LIMIT_DB (-60.0)               /* "the same algorithm" */
#define CMP_CONTROL_DB CMP_LIMIT_DB        /* a control must fail the limit the rows must pass */

typedef struct CmpControl {
    const char *label;     /* Faust widget; NULL: no control */
    double value;          /* its value (for "freq": a factor on every voice's frequency) */
    const char *what;      /* how it differs, for the report */
} CmpControl;

typedef struct CmpResult {
    char row[96];
    double db_s, db_v;     /* error of Faust scalar, Faust -vec */
    double ctl_db;         /* error of the control (scalar); NAN if none */
    const char *ctl_what;
    double rms;            /* RMS of our output */
} CmpResult;

static CmpResult cmps[16];
static int n_cmps;

/* ours from init: the notes of the comparison, or noise in */
static void cmp_ours(int id, int voices, float *out[2])
{
    OurCase c;
    char err[256];
    if (our_open_bare(&c, id, err, sizeof err))
        die("%s: %s", case_name(id), err);
    const AmpPatchDesc *d = c.hp.desc;
    Command ev[AMP_MAX_VOICES];
    for (long done = 0; done < CMP_FRAMES; done += BENCH_CHUNK) {
        int n = 0;
        if (d->max_voices > 0 && done == 0)
            for (int i = 0; i < voices; i++)
                ev[n++] = host_note_on(0, i, bench_key(i), 0.8f);
        if (d->max_voices > 0 && done == CMP_NOTE_OFF)
            for (int i = 0; i < voices; i++)
                ev[n++] = host_note_off(0, i);
        float *o[2] = { out[0] + done, out[1] + done };
        host_render(&c.hp, ev, n, (const float *const *)c.in, o, BENCH_CHUNK);
        if (done == 0 && d->max_voices > 0 && d->voices(c.hp.state)->live != voices)
            die("%s: %d voices asked, %d sounding", case_name(id), voices, d->voices(c.hp.state)->live);
    }
    our_close(&c);
}

/* Faust from init, the same notes or noise; ctl (may be NULL) applied first */
static void cmp_faust(const FaustOps *ops, int voices, int denorm, const CmpControl *ctl, float *out[2])
{
    FaustCase *c = faust_new(ops, voices, denorm, 0);
    if (ctl && ctl->label) {
        for (int v = 0; v < c->n; v++) {
            if (!strcmp(ctl->label, "freq"))
                faust_set(c, v, "freq", (float)(voice_key_to_freq(bench_key(v)) * ctl->value));
            else
                faust_set(c, v, ctl->label, (float)ctl->value);
        }
    }
    for (long done = 0; done < CMP_FRAMES; done += BENCH_CHUNK) {
        if (c->n_in == 0 && done == CMP_NOTE_OFF)
            for (int v = 0; v < c->n; v++)
                faust_set(c, v, "gate", 0.0f);
        faust_render(c, BENCH_CHUNK);
        for (int k = 0; k < 2; k++)
            memcpy(out[k] + done, c->out[k], BENCH_CHUNK * sizeof(float));
    }
    faust_free(c);
}

/* 10 log10(sum (a - b)^2 / sum a^2) over n_ch channels; -INFINITY if equal */
static double err_db(float *a[2], float *b[2], int n_ch)
{
    double e = 0, s = 0;
    for (int k = 0; k < n_ch; k++)
        for (long i = 0; i < CMP_FRAMES; i++) {
            double d = (double)a[k][i] - (double)b[k][i];
            e += d * d;
            s += (double)a[k][i] * a[k][i];
        }
    if (e == 0)
        return -INFINITY;
    return s > 0 ? 10.0 * log10(e / s) : INFINITY;
}

static const char *fmt_db(char *buf, size_t len, double db)
{
    if (db == -INFINITY)
        snprintf(buf, len, "bit-identical");
    else if (isnan(db))
        snprintf(buf, len, "—");
    else
        snprintf(buf, len, "%.1f dB", db);
    return buf;
}

static CmpResult *compare_row(const char *row, int id, int voices, const FaustOps *fs,
                            const FaustOps *fv, int denorm, CmpControl ctl)
{
    if (n_cmps >= (int)(sizeof cmps / sizeof cmps[0]))
        die("too many comparisons");
    CmpResult *r = &cmps[n_cmps++];
    memset(r, 0, sizeof *r);
    snprintf(r->row, sizeof r->row, "%s", row);
    float *ours[2], *theirs[2];
    for (int k = 0; k < 2; k++) {
        ours[k] = calloc(CMP_FRAMES, sizeof(float));
        theirs[k] = calloc(CMP_FRAMES, sizeof(float));
        if (!ours[k] || !theirs[k])
            die("out of memory");
    }
    int n_ch = fs->num_outputs();
    cmp_ours(id, voices, ours);
    double s = 0;
    for (int k = 0; k < n_ch; k++)
        s += bench_rms(ours[k], CMP_FRAMES) * bench_rms(ours[k], CMP_FRAMES);
    r->rms = sqrt(s / n_ch);
    cmp_faust(fs, voices, denorm, NULL, theirs);
    r->db_s = err_db(ours, theirs, n_ch);
    cmp_faust(fv, voices, denorm, NULL, theirs);
    r->db_v = err_db(ours, theirs, n_ch);
    r->ctl_db = NAN;
    r->ctl_what = ctl.what;
    if (ctl.label) {
        cmp_faust(fs, voices, denorm, &ctl, theirs);
        r->ctl_db = err_db(ours, theirs, n_ch);
    }
    for (int k = 0; k < 2; k++) {
        free(ours[k]);
        free(theirs[k]);
    }
    char a[32], b[32], c[32];
    progress("  output error: Faust scalar %s, -vec %s; control (%s) %s", fmt_db(a, sizeof a, r->db_s),
             fmt_db(b, sizeof b, r->db_v), ctl.what ? ctl.what : "none", fmt_db(c, sizeof c, r->ctl_db));
    return r;
}

/* the worse of scalar and -vec, for the table's column */
static double cmp_worst(const CmpResult *c)
{
    return c->db_s > c->db_v ? c->db_s : c->db_v;
}

/* 1 if every comparison is below the limit and every control above its own */
static int cmp_all_met(void)
{
    for (int i = 0; i < n_cmps; i++) {
        if (!(cmp_worst(&cmps[i]) < CMP_LIMIT_DB))
            return 0;
        if (!isnan(cmps[i].ctl_db) && !(cmps[i].ctl_db > CMP_CONTROL_DB))
            return 0;
    }
    return 1;
}

static void say_compare_section(void)
{
    say("\n## Same algorithm: the outputs compared\n\n"
        "Each Faust row's two sides from init, %.3f s at 48 kHz in the same blocks: the same "
        "white noise in, or for the synth the same notes (on at 0, off at %.3f s, so attack, "
        "decay, sustain and release are all compared). Error = RMS of (Faust − ours) / RMS of "
        "ours, every sample of every output channel; required below %.0f dB. The control runs "
        "the Faust side again with one setting off by about 1 %% (a cent for the synth) and "
        "must show more than %.0f dB of error: the comparison can fail.\n\n",
        (double)CMP_FRAMES / BENCH_SR, (double)CMP_NOTE_OFF / BENCH_SR, CMP_LIMIT_DB, CMP_CONTROL_DB);
    say("| row | RMS (ours) | error, Faust scalar | error, Faust -vec | control | control's error | |\n");
    say("|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n_cmps; i++) {
        const CmpResult *c = &cmps[i];
        char a[32], b[32], d[32];
        int ok = cmp_worst(c) < CMP_LIMIT_DB && (isnan(c->ctl_db) || c->ctl_db > CMP_CONTROL_DB);
        say("| %s | %.4g | %s | %s | %s | %s | %s |\n", c->row, c->rms, fmt_db(a, sizeof a, c->db_s),
            fmt_db(b, sizeof b, c->db_v), c->ctl_what ? c->ctl_what : "—", fmt_db(d, sizeof d, c->ctl_db),
            ok ? "met" : "**missed**");
    }
}

/* Every Faust row's comparison, run once before the timings. */
static void compare_all(void)
{
    static const int voices[] = { 1, 8, 64, 256 };
    for (int i = 0; i < 4; i++) {
        char name[96];
        snprintf(name, sizeof name, "Synth voice, %d voice%s", voices[i], voices[i] > 1 ? "s" : "");
        progress("compare: %s", name);
        compare_row(name, CASE_SYNTH, voices[i], &faust_ops_synth_s, &faust_ops_synth_v, 0,
                    (CmpControl){ "freq", 1.0005777895065548, "every note 1 cent sharp" });
    }
    progress("compare: biquad chain");
    compare_row("Biquad chain (4 biquads)", CASE_BIQUADS, 0, &faust_ops_biquads_s, &faust_ops_biquads_v, 0,
                (CmpControl){ "lpf", 8080, "low-pass at 8080 Hz, not 8000" });
    progress("compare: state-variable filter");
    compare_row("State-variable filter", CASE_SVF, 0, &faust_ops_svf_s, &faust_ops_svf_v, 0,
                (CmpControl){ "cutoff", 1212, "cutoff 1212 Hz, not 1200" });
    progress("compare: Freeverb");
    compare_row("Freeverb (stereo)", CASE_FREEVERB, 0, &faust_ops_freeverb_s, &faust_ops_freeverb_v, 0,
                (CmpControl){ "size", 0.707, "size 0.707, not 0.7" });
    progress("compare: denormal chain (noise)");
    compare_row("Denormals: the chain of denorm.amp, noise in", CASE_DENORM_NOISE, 0, &faust_ops_denorm_s,
                &faust_ops_denorm_v, 2, (CmpControl){ NULL, 0, NULL });
}

static const CmpResult *cmp_find(const char *row)
{
    for (int i = 0; i < n_cmps; i++)
        if (!strcmp(cmps[i].row, row))
            return &cmps[i];
    return NULL;
}

/* WebAssembly: one node process for the whole run */
static struct {
    pid_t pid;
    FILE *to, *from;
} wasm;

static void wasm_start(void)
{
    int in_pipe[2], out_pipe[2];
    if (pipe(in_pipe) || pipe(out_pipe))
        die("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_addclose(&fa, in_pipe[1]);
    posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
    /* --no-experimental-fetch: emscripten 3.1.6's loader reads the .wasm
     * with fs when fetch is absent */
    char *argv[] = { (char *)opt.node, "--no-experimental-fetch", (char *)opt.driver_js,
                     (char *)opt.wasm_js, NULL };
    int rc = posix_spawnp(&wasm.pid, opt.node, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        die("cannot start %s: %s", opt.node, strerror(rc));
    close(in_pipe[0]);
    close(out_pipe[1]);
    wasm.to = fdopen(in_pipe[1], "w");
    wasm.from = fdopen(out_pipe[0], "r");
    char line[256];
    if (!fgets(line, sizeof line, wasm.from) || strncmp(line, "ready", 5))
        die("the WebAssembly driver did not start (%s %s %s)", opt.node, opt.driver_js, opt.wasm_js);
}

static double wasm_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static double wasm_cmd(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(wasm.to, fmt, ap);
    va_end(ap);
    fputc('\n', wasm.to);
    fflush(wasm.to);
    char line[256];
    if (!fgets(line, sizeof line, wasm.from))
        die("the WebAssembly driver stopped");
    char *end;
    double v = strtod(line, &end);
    if (end == line)
        die("the WebAssembly driver answered '%s'", line);
    return v;
}

static void wasm_stop(void)
{
    if (!wasm.to)
        return;
    fputs("quit\n", wasm.to);
    fclose(wasm.to);
    fclose(wasm.from);
    waitpid(wasm.pid, NULL, 0);
    memset(&wasm, 0, sizeof wasm);
}

/* The module holds one case at a time: a side reopens its case (untimed)
 * when another side of the row has opened another. */
typedef struct WasmCase {
    int id, voices;
} WasmCase;
static WasmCase wasm_cases[8];
static int wasm_next, wasm_open_id = -1, wasm_open_voices = -1;

static void wasm_open(const WasmCase *c)
{
    if (c->id == wasm_open_id && c->voices == wasm_open_voices)
        return;
    if (wasm_cmd("open %d %d", c->id, c->voices) != 0)
        die("the WebAssembly build cannot open case %s", case_name(c->id));
    wasm_open_id = c->id;
    wasm_open_voices = c->voices;
}

static void wasm_prep_cb(void *ctx)
{
    wasm_open(ctx);
    wasm_cmd("prep");
}
static double wasm_run_cb(void *ctx, long frames)
{
    wasm_open(ctx);
    return wasm_cmd("run %ld", frames);
}
static double wasm_rms_cb(void *ctx)
{
    (void)ctx;                  /* called right after the side's own run */
    return wasm_cmd("rms");
}

static Side wasm_side(const char *label, int id, int voices)
{
    WasmCase *c = &wasm_cases[wasm_next++ % 8];
    c->id = id;
    c->voices = voices;
    wasm_open_id = -1;          /* a fresh open: the row starts from a new case */
    wasm_open(c);
    Side s = { .label = label, .prepare = wasm_prep_cb, .run = wasm_run_cb, .rms = wasm_rms_cb, .ctx = c };
    return s;
}

/* ---- child processes, for the compile times ---------------------------------- */

/* Run argv (stdout to /dev/null, stderr kept); its wall time in ns, or with
 * --clock cpu its CPU time (user + system, its waited-for children included). */
static double spawn_time(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = bench_now_ns();
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        die("cannot run %s: %s", argv[0], strerror(rc));
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            die("wait4: %s", strerror(errno));
    double t = bench_now_ns() - t0;
    if (opt.clock_cpu)
        t = ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) * 1e9 +
            ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) * 1e3;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: failed:");
        for (int i = 0; argv[i]; i++)
            fprintf(stderr, " %s", argv[i]);
        die("(status %d)", status);
    }
    return t;
}

/* First line printed by a shell command, for the machine line. */
static void first_line(const char *cmd, char *buf, size_t len)
{
    snprintf(buf, len, "?");
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    if (fgets(buf, (int)len, p))
        buf[strcspn(buf, "\r\n")] = 0;
    else
        snprintf(buf, len, "?");
    char sink[256];
    while (fgets(sink, sizeof sink, p))
        ;
    pclose(p);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f))
        die("cannot write %s", path);
}

/* The 1-minute load average, from /proc/loadavg (-1 if unknown). */
static double loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* ---- pinning ------------------------------------------------------------------ */

static int pin(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set))
        die("sched_getaffinity: %s", strerror(errno));
    int cpu = opt.cpu;
    if (cpu < 0)
        for (int i = 0; i < CPU_SETSIZE; i++)
            if (CPU_ISSET(i, &set))
                cpu = i;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set))
        die("cannot pin to CPU %d: %s", cpu, strerror(errno));
    return cpu;
}

/* ---- the table ---------------------------------------------------------------- */

typedef struct Row {
    char name[160];
    char a[96], b[256];
    char ratio[32];
    char target[32];
    char status[48];
    char err[32];          /* output comparison with Faust: the worse of scalar and -vec */
} Row;

static Row rows[64];
static int n_rows;

static Row *row_add(const char *name)
{
    if (n_rows >= (int)(sizeof rows / sizeof rows[0]))
        die("too many rows");
    Row *r = &rows[n_rows++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%.159s", name);
    snprintf(r->err, sizeof r->err, "—");
    return r;
}

/* ratio >= target (higher is better) or <= target (lower is better) */
static void row_judge(Row *r, double ratio, double target, int higher_better)
{
    snprintf(r->ratio, sizeof r->ratio, "%.2f×", ratio);
    snprintf(r->target, sizeof r->target, "%s %.1f×", higher_better ? "≥" : "≤", target);
    int ok = higher_better ? ratio >= target : ratio <= target;
    snprintf(r->status, sizeof r->status, "%s", ok ? "met" : "**missed**");
}

/* the row's output comparison (compare_all ran first) */
static void row_err(Row *r, const char *cmp_row)
{
    const CmpResult *c = cmp_find(cmp_row);
    if (c)
        fmt_db(r->err, sizeof r->err, cmp_worst(c));
}

/* Is the row named `key` timed? Every row unless --rows names some
 * (synth1 synth8 synth64 synth256 biquads svf freeverb, wasm-synth64
 * wasm-synth256 wasm-biquads wasm-svf wasm-freeverb). */
static int row_on(const char *key)
{
    if (!opt.rows)
        return 1;
    size_t n = strlen(key);
    for (const char *p = opt.rows; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, key, n))
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* the details, printed after the table */
static char details[65536];
static size_t details_len;
static void detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void detail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(details + details_len, sizeof details - details_len, fmt, ap);
    va_end(ap);
    if (n > 0 && details_len + (size_t)n < sizeof details)
        details_len += (size_t)n;
}

static void detail_sides(const char *row, const Side *s, int n, long frames)
{
    char b[96];
    for (int k = 0; k < n; k++)
        detail("| %s | %s | %s | %ld | %.4g |\n", row, s[k].label, fmt_stat(b, sizeof b, s[k].st),
               frames, s[k].last_rms);
}

/* ---- the rows ------------------------------------------------------------------ */

/* ns per sample at 256 voices: ours and Faust's side by side (synth row);
 * ours native and wasm side by side (WebAssembly row) */
static double synth_ours_256_vs_faust, synth_faust_256, synth_native_256_vs_wasm, synth_wasm_256;
static const char *synth_faust_256_label;

static void rows_synth(void)
{
    static const int voices[] = { 1, 8, 64, 256 };
    for (int i = 0; i < 4; i++) {
        int v = voices[i];
        char key[16];
        snprintf(key, sizeof key, "synth%d", v);
        if (!row_on(key))
            continue;
        progress("synth voice, %d voices", v);
        Side s[3] = {
            our_side("ours", CASE_SYNTH, v),
            faust_side("Faust scalar", &faust_ops_synth_s, v, 0),
            faust_side("Faust -vec", &faust_ops_synth_v, v, 0),
        };
        long frames = measure(s, 3, 0, opt.runs);
        const Side *best = s[1].st.med <= s[2].st.med ? &s[1] : &s[2];
        char name[96], buf[96];
        snprintf(name, sizeof name, "Synth voice, %d voice%s", v, v > 1 ? "s" : "");
        Row *r = row_add(name);
        row_err(r, name);
        snprintf(r->a, sizeof r->a, "%s", fmt_stat(buf, sizeof buf, s[0].st));
        snprintf(r->b, sizeof r->b, "%s: %s", best->label, fmt_stat(buf, sizeof buf, best->st));
        double ratio = best->st.med / s[0].st.med;
        if (v == 64) {
            row_judge(r, ratio, 3.0, 1);       /* issue 15 */
        } else if (v == 1) {
            row_judge(r, ratio, 1.0, 1);       /* issue 15: one voice at least as fast */
        } else {
            snprintf(r->ratio, sizeof r->ratio, "%.2f×", ratio);
            snprintf(r->target, sizeof r->target, "—");
            snprintf(r->status, sizeof r->status, "—");
        }
        if (v == 256) {
            synth_ours_256_vs_faust = s[0].st.med;
            synth_faust_256 = best->st.med;
            synth_faust_256_label = best->label;
        }
        detail_sides(name, s, 3, frames);
        faust_free(s[1].ctx);
        faust_free(s[2].ctx);
    }
}

static void rows_blocks(void)
{
    static const struct {
        const char *name, *key;
        int id;
        const FaustOps *fs, *fv;
    } b[] = {
        { "Biquad chain (4 biquads)", "biquads", CASE_BIQUADS, &faust_ops_biquads_s, &faust_ops_biquads_v },
        { "State-variable filter", "svf", CASE_SVF, &faust_ops_svf_s, &faust_ops_svf_v },
        { "Freeverb (stereo)", "freeverb", CASE_FREEVERB, &faust_ops_freeverb_s, &faust_ops_freeverb_v },
    };
    for (int i = 0; i < 3; i++) {
        if (!row_on(b[i].key))
            continue;
        progress("%s", b[i].name);
        Side s[3] = {
            our_side("ours", b[i].id, 0),
            faust_side("Faust scalar", b[i].fs, 0, 0),
            faust_side("Faust -vec", b[i].fv, 0, 0),
        };
        long frames = measure(s, 3, 0, opt.runs);
        const Side *best = s[1].st.med <= s[2].st.med ? &s[1] : &s[2];
        char buf[96];
        Row *r = row_add(b[i].name);
        row_err(r, b[i].name);
        snprintf(r->a, sizeof r->a, "%s", fmt_stat(buf, sizeof buf, s[0].st));
        snprintf(r->b, sizeof r->b, "%s: %s", best->label, fmt_stat(buf, sizeof buf, best->st));
        row_judge(r, best->st.med / s[0].st.med, 1.0, 1);
        detail_sides(b[i].name, s, 3, frames);
        faust_free(s[1].ctx);
        faust_free(s[2].ctx);
    }
}

static void rows_scalar(void)
{
    Row *r = row_add("Scalar build vs SIMD build (ours, synth voice, 64 voices)");
    if (!opt.scalar) {
        snprintf(r->a, sizeof r->a, "pending (scalar emission not implemented)");
        snprintf(r->b, sizeof r->b, "pending");
        snprintf(r->ratio, sizeof r->ratio, "pending");
        snprintf(r->target, sizeof r->target, "—");
        snprintf(r->status, sizeof r->status, "pending");
        return;
    }
    progress("scalar vs SIMD");
    Side s[2] = {
        our_side("ours, SIMD (4 voices per vector)", CASE_SYNTH, 64),
        our_side("ours, scalar (AmpcOptions.scalar)", CASE_SYNTH_SCALAR, 64),
    };
    long frames = measure(s, 2, 0, opt.runs);
    char buf[96];
    snprintf(r->a, sizeof r->a, "SIMD: %s", fmt_stat(buf, sizeof buf, s[0].st));
    snprintf(r->b, sizeof r->b, "scalar: %s", fmt_stat(buf, sizeof buf, s[1].st));
    snprintf(r->ratio, sizeof r->ratio, "%.2f×", s[1].st.med / s[0].st.med);
    snprintf(r->target, sizeof r->target, "—");
    snprintf(r->status, sizeof r->status, "—");
    detail_sides(r->name, s, 2, frames);
}

static void rows_wasm(void)
{
    static const struct {
        const char *name, *key;
        int id, voices;
    } w[] = {
        { "WebAssembly vs native: synth voice, 64 voices", "wasm-synth64", CASE_SYNTH, 64 },
        { "WebAssembly vs native: synth voice, 256 voices", "wasm-synth256", CASE_SYNTH, 256 },
        { "WebAssembly vs native: biquad chain", "wasm-biquads", CASE_BIQUADS, 0 },
        { "WebAssembly vs native: state-variable filter", "wasm-svf", CASE_SVF, 0 },
        { "WebAssembly vs native: Freeverb", "wasm-freeverb", CASE_FREEVERB, 0 },
    };
    for (int i = 0; i < 5; i++) {
        if (!row_on(w[i].key))
            continue;
        progress("%s", w[i].name);
        Side s[2] = {
            wasm_side("ours, WebAssembly (node)", w[i].id, w[i].voices),
            our_side("ours, native", w[i].id, w[i].voices),
        };
        long frames = measure(s, 2, 0, opt.runs);
        char buf[96];
        Row *r = row_add(w[i].name);
        snprintf(r->a, sizeof r->a, "wasm: %s", fmt_stat(buf, sizeof buf, s[0].st));
        snprintf(r->b, sizeof r->b, "native: %s", fmt_stat(buf, sizeof buf, s[1].st));
        row_judge(r, s[1].st.med / s[0].st.med, 0.8, 1);   /* issue 15 */
        if (w[i].id == CASE_SYNTH && w[i].voices == 256) {
            synth_wasm_256 = s[0].st.med;
            synth_native_256_vs_wasm = s[1].st.med;
        }
        detail_sides(w[i].name, s, 2, frames);
    }
}

static void rows_voices(void)
{
    /* 50 % of one core at 48 kHz: 0.5 s of CPU per 48000 samples */
    const double budget = 0.5e9 / 48000.0;
    char faust_from[96];
    snprintf(faust_from, sizeof faust_from, "synth row, %s", synth_faust_256_label);
    const struct {
        const char *name, *from;
        double ns256;
    } v[] = {
        { "Synth voices in 50 % of a core at 48 kHz: ours, native", "WebAssembly row", synth_native_256_vs_wasm },
        { "Synth voices in 50 % of a core at 48 kHz: ours, WebAssembly", "WebAssembly row", synth_wasm_256 },
        { "Synth voices in 50 % of a core at 48 kHz: ours, native", "synth row", synth_ours_256_vs_faust },
        { "Synth voices in 50 % of a core at 48 kHz: Faust, native", faust_from, synth_faust_256 },
    };
    for (int i = 0; i < 4; i++) {
        Row *r = row_add(v[i].name);
        double per_voice = v[i].ns256 / 256.0;
        snprintf(r->a, sizeof r->a, "%.0f voices", budget / per_voice);
        snprintf(r->b, sizeof r->b, "%.3f ns per sample per voice (256 voices, %s)", per_voice, v[i].from);
        snprintf(r->ratio, sizeof r->ratio, "—");
        snprintf(r->target, sizeof r->target, "—");
        snprintf(r->status, sizeof r->status, "—");
    }
}

/* The rows of tests/bench/browser.mjs --out FILE: "# comment" lines, then
 * "name<TAB>value<TAB>detail" per row. The comment (its machine's load)
 * is returned in note. */
static void rows_browser(char *note, size_t len)
{
    snprintf(note, len, "%s", "");
    if (!opt.browser)
        return;
    FILE *f = fopen(opt.browser, "r");
    if (!f)
        die("cannot read %s (make bench-browser writes it)", opt.browser);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#') {
            snprintf(note, len, "%s", line + 1 + (line[1] == ' '));
            continue;
        }
        char *value = strchr(line, '\t');
        char *detail = value ? strchr(value + 1, '\t') : NULL;
        if (!detail)
            continue;
        *value++ = 0;
        *detail++ = 0;
        Row *r = row_add(line);
        snprintf(r->a, sizeof r->a, "%s", value);
        snprintf(r->b, sizeof r->b, "%s", detail);
        snprintf(r->ratio, sizeof r->ratio, "—");
        snprintf(r->target, sizeof r->target, "—");
        snprintf(r->status, sizeof r->status, "—");
    }
    fclose(f);
}

static void rows_denorm(void)
{
    long frames = (long)((double)DENORM_SECONDS * BENCH_SR / BENCH_CHUNK + 0.5) * BENCH_CHUNK;
    const char *names[3] = {
        "Denormals, ours native: impulse + silence vs noise",
        "Denormals, ours WebAssembly: impulse + silence vs noise",
        "Denormals, Faust native (reference, no -ftz): impulse + silence vs noise",
    };
    for (int i = 0; i < 3; i++) {
        progress("%s", names[i]);
        Side s[2];
        if (i == 0) {
            s[0] = our_side("impulse + silence", CASE_DENORM_IMPULSE, 0);
            s[1] = our_side("noise", CASE_DENORM_NOISE, 0);
        } else if (i == 1) {
            s[0] = wasm_side("impulse + silence", CASE_DENORM_IMPULSE, 0);
            s[1] = wasm_side("noise", CASE_DENORM_NOISE, 0);
        } else {
            s[0] = faust_side("impulse + silence", &faust_ops_denorm_s, 0, 1);
            s[1] = faust_side("noise", &faust_ops_denorm_s, 0, 2);
        }
        measure(s, 2, frames, opt.runs);
        Stat st[2] = { s[0].st, s[1].st };
        char buf[96];
        Row *r = row_add(names[i]);
        if (i == 2)
            row_err(r, "Denormals: the chain of denorm.amp, noise in");
        snprintf(r->a, sizeof r->a, "impulse: %s", fmt_stat(buf, sizeof buf, st[0]));
        snprintf(r->b, sizeof r->b, "noise: %s", fmt_stat(buf, sizeof buf, st[1]));
        if (i < 2) {
            row_judge(r, st[0].med / st[1].med, 1.1, 0);
        } else {
            snprintf(r->ratio, sizeof r->ratio, "%.2f×", st[0].med / st[1].med);
            snprintf(r->target, sizeof r->target, "—");
            snprintf(r->status, sizeof r->status, "(reference)");
        }
        detail_sides(names[i], s, 2, frames);
        if (i == 2) {
            faust_free(s[0].ctx);
            faust_free(s[1].ctx);
        }
    }
}

/* The synth voice with `copies` copies of every instance, each detuned a
 * little so that no two copies fold into one: in our language and in Faust. */
static void gen_synth(const char *amp_path, const char *dsp_path, int copies)
{
    size_t cap = 4096 + (size_t)copies * 1200, n = 0;
    char *t = malloc(cap);
    if (!t)
        die("out of memory");
#define ADD(...) (n += (size_t)snprintf(t + n, cap - n, __VA_ARGS__))
    ADD("// generated by tests/bench/bench.c: the synth voice of synth.amp, %d times\n"
        "import \"nodes/std/osc.amp\";\nimport \"nodes/std/env.amp\";\nimport \"nodes/std/filter.amp\";\n\n"
        "patch synthgen {\n  voices 256;\n  out main;\n  voice {\n", copies);
    for (int k = 1; k <= copies; k++) {
        ADD("    lfo%d = sine(freq: %g hz);\n", k, 5 + 0.1 * k);
        ADD("    let pitch%d = note.freq * (%g + 0.005 * lfo%d.y);\n", k, 1 + 0.001 * k, k);
        ADD("    sa%d = saw(freq: pitch%d);\n", k, k);
        ADD("    sq%d = square(freq: pitch%d * 1.005, width: 0.5);\n", k, k);
        ADD("    fenv%d = adsr(attack: 10 ms, decay: %d ms, sustain: 0.3, release: 400 ms, gate: note.gate);\n",
            k, 300 + k);
        ADD("    aenv%d = adsr(attack: %d ms, decay: 200 ms, sustain: 0.7, release: 300 ms, gate: note.gate);\n",
            k, 5 + k);
        ADD("    flt%d = lowpass(cutoff: 300 hz + 5000 hz * fenv%d.y, q: 3, x: 0.5 * (sa%d.y + sq%d.y));\n",
            k, k, k, k);
        ADD("    flt%d.y * aenv%d.y * note.vel * 0.02 -> out;\n", k, k);
    }
    ADD("  }\n}\n");
    write_file(amp_path, t);
    n = 0;
    ADD("// generated by tests/bench/bench.c: the synth voice of synth.dsp, %d times\n"
        "import(\"stdfaust.lib\");\n"
        "amp = library(\"amp.lib\");\n"
        "freq = nentry(\"freq\", 440, 20, 20000, 0.01);\n"
        "gain = nentry(\"gain\", 0.8, 0, 1, 0.01);\n"
        "gate = button(\"gate\");\n"
        "voice(k) = ((aenv * flt) * gain) * 0.02\n"
        "with {\n"
        "  pitch = amp.opaque(freq * ((1 + 0.001 * k) + 0.005 * amp.sine(5 + 0.1 * k)));\n"
        "  fenv = amp.adsr(0.010, 0.300 + 0.001 * k, 0.3, 0.400, gate);\n"
        "  aenv = amp.adsr(0.005 + 0.001 * k, 0.200, 0.7, 0.300, gate);\n"
        "  flt = amp.lowpass(300 + fenv * 5000, 3, 0.5 * (amp.saw(pitch) + amp.square(pitch * 1.005, 0.5)));\n"
        "};\n"
        "process = sum(i, %d, voice(i + 1));\n", copies, copies);
#undef ADD
    write_file(dsp_path, t);
    free(t);
}

/* faust -lang wasm refuses foreign functions, so amp.lib's opaque (an
 * ffunction, the identity) cannot go there: for that row the driver copies
 * synth.dsp and amp.lib to CT/wasm/ with `opaque = _;` (the C compile rows
 * keep the real amp.lib). Writes the copied .dsp's path to dsp_out. */
static void wasm_variant(const char *ct, const char *dsp, char *dsp_out, size_t len)
{
    char dir[600], lib[700];
    snprintf(dir, sizeof dir, "%s/wasm", ct);
    mkdir(dir, 0777);
    if (snprintf(dsp_out, len, "%s/synth.dsp", dir) >= (int)len)
        die("path too long: %s", dir);
    snprintf(lib, sizeof lib, "%s/amp.lib", dir);
    static char text[65536];
    FILE *f = fopen(dsp, "r");
    if (!f)
        die("cannot read %s", dsp);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    write_file(dsp_out, text);
    f = fopen("tests/bench/amp.lib", "r");
    if (!f)
        die("cannot read tests/bench/amp.lib");
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *p = strstr(text, "opaque = ffunction(");
    char *e = p ? strchr(p, ';') : NULL;
    if (!e)
        die("tests/bench/amp.lib has no 'opaque = ffunction(...);'");
    FILE *o = fopen(lib, "w");
    if (!o)
        die("cannot write %s", lib);
    fprintf(o, "%.*sopaque = _;%s", (int)(p - text), text, e + 1);
    if (fclose(o))
        die("cannot write %s", lib);
}

/* In-process compile time of the ampc library (no process start-up). */
static double ampc_lib_time(const char *path)
{
    const char *inc[] = { "." };
    AmpcOptions o = { .include_dirs = inc, .n_include_dirs = 1 };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    double t0 = bench_now_ns();
    if (ampc_compile_file(path, &o, &d, &r))
        die("ampc cannot compile %s", path);
    double t = bench_now_ns() - t0;
    ampc_result_free(&r);
    return t;
}

static void rows_compile(void)
{
    char ct[512], c_amp[600], c_dsp[600], c_out[600], c_obj[600], c_fwasm[600];
    char g1a[600], g1d[600], g10a[600], g10d[600], g_out[600];
    snprintf(ct, sizeof ct, "%s/ct", opt.bdir);
    mkdir(ct, 0777);
    snprintf(c_amp, sizeof c_amp, "tests/bench/synth.amp");
    snprintf(c_dsp, sizeof c_dsp, "tests/bench/synth.dsp");
    snprintf(c_out, sizeof c_out, "%s/synth_faust.c", ct);
    snprintf(c_obj, sizeof c_obj, "%s/synthbench.o", ct);
    snprintf(c_fwasm, sizeof c_fwasm, "%s/synth_faust.wasm", ct);
    snprintf(g1a, sizeof g1a, "%s/synth1.amp", ct);
    snprintf(g1d, sizeof g1d, "%s/synth1.dsp", ct);
    snprintf(g10a, sizeof g10a, "%s/synth10.amp", ct);
    snprintf(g10d, sizeof g10d, "%s/synth10.dsp", ct);
    snprintf(g_out, sizeof g_out, "%s/synthgen_faust.c", ct);
    char c_src[600];
    snprintf(c_src, sizeof c_src, "%s/synthbench.c", ct);
    gen_synth(g1a, g1d, 1);
    gen_synth(g10a, g10d, 10);

    char *ampc[] = { (char *)opt.ampc, c_amp, "-o", ct, NULL };
    char *faustc[] = { (char *)opt.faust, "-lang", "c", c_dsp, "-o", c_out, NULL };
    char c_wdsp[600];
    wasm_variant(ct, c_dsp, c_wdsp, sizeof c_wdsp);
    char *faustw[] = { (char *)opt.faust, "-lang", "wasm", c_wdsp, "-o", c_fwasm, NULL };
    char *emcc[] = { (char *)opt.emcc, "-O3", "-msimd128", "-ffp-contract=off", "-Iruntime/abi",
                     "-c", c_src, "-o", c_obj, NULL };
    char *ampc1[] = { (char *)opt.ampc, g1a, "-I", ".", "-o", ct, NULL };
    char *ampc10[] = { (char *)opt.ampc, g10a, "-I", ".", "-o", ct, NULL };
    /* the generated .dsp files import amp.lib from tests/bench */
    char *faust1[] = { (char *)opt.faust, "-lang", "c", "-I", "tests/bench", g1d, "-o", g_out, NULL };
    char *faust10[] = { (char *)opt.faust, "-lang", "c", "-I", "tests/bench", g10d, "-o", g_out, NULL };

    int n = opt.compile_runs;
    static double v[10][MAX_RUNS];
    progress("compile times: .amp -> C, .amp -> wasm, faust");
    /* warm-up: caches (emscripten's included) */
    spawn_time(ampc);
    spawn_time(faustc);
    spawn_time(faustw);
    spawn_time(emcc);
    for (int r = 0; r < n; r++) {
        double t[4] = { 0 };
        for (int j = 0; j < 4; j++) {
            int k = r % 2 ? 3 - j : j;
            switch (k) {
            case 0: t[0] = spawn_time(ampc); break;
            case 1: t[1] = spawn_time(faustc); break;
            case 2: t[2] = spawn_time(ampc) + spawn_time(emcc); break;
            default: t[3] = spawn_time(faustw); break;
            }
        }
        for (int k = 0; k < 4; k++)
            v[k][r] = t[k] / 1e6;
    }
    Stat s_ampc = stat_of(v[0], n), s_faustc = stat_of(v[1], n);
    Stat s_wasm = stat_of(v[2], n), s_faustw = stat_of(v[3], n);

    progress("compile times: 1x and 10x patches");
    spawn_time(ampc1);
    spawn_time(ampc10);
    spawn_time(faust1);
    spawn_time(faust10);
    ampc_lib_time(g1a);
    ampc_lib_time(g10a);
    for (int r = 0; r < n; r++) {
        for (int j = 0; j < 6; j++) {
            int k = r % 2 ? 5 - j : j;
            double t;
            switch (k) {
            case 0: t = spawn_time(ampc1); break;
            case 1: t = spawn_time(ampc10); break;
            case 2: t = ampc_lib_time(g1a); break;
            case 3: t = ampc_lib_time(g10a); break;
            case 4: t = spawn_time(faust1); break;
            default: t = spawn_time(faust10); break;
            }
            v[4 + k][r] = t / 1e6;
        }
    }
    Stat g[6];
    for (int k = 0; k < 6; k++)
        g[k] = stat_of(v[4 + k], n);

    char a[96], b[96];
    Row *r = row_add("Compile time: .amp → C (ampc) vs faust -lang c, synth voice [ms]");
    snprintf(r->a, sizeof r->a, "ampc: %s", fmt_stat(a, sizeof a, s_ampc));
    snprintf(r->b, sizeof r->b, "faust -lang c: %s", fmt_stat(b, sizeof b, s_faustc));
    row_judge(r, s_faustc.med / s_ampc.med, 1.0, 1);

    r = row_add("Compile time: .amp → wasm (ampc + emcc -O3 -c) vs faust -lang c [ms]");
    snprintf(r->a, sizeof r->a, "ampc + emcc: %s", fmt_stat(a, sizeof a, s_wasm));
    snprintf(r->b, sizeof r->b, "faust -lang c: %s", fmt_stat(b, sizeof b, s_faustc));
    snprintf(r->ratio, sizeof r->ratio, "%.2f×", s_faustc.med / s_wasm.med);
    snprintf(r->target, sizeof r->target, "—");
    snprintf(r->status, sizeof r->status, "—");

    r = row_add("Compile time: .amp → wasm vs faust -lang wasm [ms]");
    snprintf(r->a, sizeof r->a, "ampc + emcc: %s", fmt_stat(a, sizeof a, s_wasm));
    snprintf(r->b, sizeof r->b, "faust -lang wasm: %s", fmt_stat(b, sizeof b, s_faustw));
    snprintf(r->ratio, sizeof r->ratio, "%.2f×", s_faustw.med / s_wasm.med);
    snprintf(r->target, sizeof r->target, "—");
    snprintf(r->status, sizeof r->status, "—");

    r = row_add("Compile time, 10× the instances: ampc command, 1× vs 10× [ms]");
    snprintf(r->a, sizeof r->a, "1×: %s", fmt_stat(a, sizeof a, g[0]));
    snprintf(r->b, sizeof r->b, "10×: %s", fmt_stat(b, sizeof b, g[1]));
    snprintf(r->ratio, sizeof r->ratio, "%.2f× time", g[1].med / g[0].med);
    snprintf(r->target, sizeof r->target, "≤ 10× (linear)");
    snprintf(r->status, sizeof r->status, "%s", g[1].med / g[0].med <= 10.0 ? "met" : "**missed**");

    r = row_add("Compile time, 10× the instances: ampc library (in process), 1× vs 10× [ms]");
    snprintf(r->a, sizeof r->a, "1×: %s", fmt_stat(a, sizeof a, g[2]));
    snprintf(r->b, sizeof r->b, "10×: %s", fmt_stat(b, sizeof b, g[3]));
    snprintf(r->ratio, sizeof r->ratio, "%.2f× time", g[3].med / g[2].med);
    snprintf(r->target, sizeof r->target, "≤ 10× (linear)");
    snprintf(r->status, sizeof r->status, "%s", g[3].med / g[2].med <= 10.0 ? "met" : "**missed**");

    r = row_add("Compile time, 10× the instances: faust -lang c, 1× vs 10× [ms]");
    snprintf(r->a, sizeof r->a, "1×: %s", fmt_stat(a, sizeof a, g[4]));
    snprintf(r->b, sizeof r->b, "10×: %s", fmt_stat(b, sizeof b, g[5]));
    snprintf(r->ratio, sizeof r->ratio, "%.2f× time", g[5].med / g[4].med);
    snprintf(r->target, sizeof r->target, "—");
    snprintf(r->status, sizeof r->status, "(reference)");

    r = row_add("Compile time, 10× patch: ampc command vs faust -lang c [ms]");
    snprintf(r->a, sizeof r->a, "ampc: %s", fmt_stat(a, sizeof a, g[1]));
    snprintf(r->b, sizeof r->b, "faust -lang c: %s", fmt_stat(b, sizeof b, g[5]));
    row_judge(r, g[5].med / g[1].med, 1.0, 1);
}

/* ---- main ------------------------------------------------------------------------ */

/* ---- make bench-instructions: instructions per sample, under callgrind ----------
 *
 * `bench --instr ROW:SIDE` opens one side of one row as the timed rows do
 * (ours with its pre-roll, Faust's instances with theirs), then renders
 * --instr-frames samples inside instr_region and nothing else there.
 * tests/bench/instructions.sh runs it under valgrind --tool=callgrind
 * --collect-atstart=no --toggle-collect=instr_region, so the count is that
 * of the render alone (host, voices, the patch or Faust's compute() and the
 * voice mixing), independent of the machine's load. ROW: synth1, synth8,
 * synth64, synth256, biquads, svf, freeverb; SIDE: ours, scalar (synth
 * only: AmpcOptions.scalar), faust_s, faust_v. */

__attribute__((noinline)) void instr_region(const Side *s, long frames);
__attribute__((noinline)) void instr_region(const Side *s, long frames)
{
    s->run(s->ctx, frames);
}

static int instr_main(const char *spec, long frames)
{
    static const struct {
        const char *row;
        int id, voices;
        const FaustOps *fs, *fv;
    } rows[] = {
        { "synth1", CASE_SYNTH, 1, &faust_ops_synth_s, &faust_ops_synth_v },
        { "synth8", CASE_SYNTH, 8, &faust_ops_synth_s, &faust_ops_synth_v },
        { "synth64", CASE_SYNTH, 64, &faust_ops_synth_s, &faust_ops_synth_v },
        { "synth256", CASE_SYNTH, 256, &faust_ops_synth_s, &faust_ops_synth_v },
        { "biquads", CASE_BIQUADS, 0, &faust_ops_biquads_s, &faust_ops_biquads_v },
        { "svf", CASE_SVF, 0, &faust_ops_svf_s, &faust_ops_svf_v },
        { "freeverb", CASE_FREEVERB, 0, &faust_ops_freeverb_s, &faust_ops_freeverb_v },
    };
    const char *colon = strchr(spec, ':');
    if (!colon || frames < BENCH_CHUNK || frames % BENCH_CHUNK)
        die("--instr ROW:SIDE, --instr-frames a multiple of %d", BENCH_CHUNK);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (strncmp(spec, rows[i].row, (size_t)(colon - spec)) || rows[i].row[colon - spec])
            continue;
        const char *side = colon + 1;
        Side s;
        if (!strcmp(side, "ours"))
            s = our_side("ours", rows[i].id, rows[i].voices);
        else if (!strcmp(side, "scalar") && rows[i].id == CASE_SYNTH)
            s = our_side("ours, scalar", CASE_SYNTH_SCALAR, rows[i].voices);
        else if (!strcmp(side, "faust_s"))
            s = faust_side("Faust scalar", rows[i].fs, rows[i].voices, 0);
        else if (!strcmp(side, "faust_v"))
            s = faust_side("Faust -vec", rows[i].fv, rows[i].voices, 0);
        else
            die("--instr %s: no side '%s' (ours, scalar, faust_s, faust_v)", spec, side);
        s.prepare(s.ctx);
        instr_region(&s, frames);
        printf("%s %ld frames, rms %.4g\n", spec, frames, s.rms(s.ctx));
        return 0;
    }
    die("--instr %s: no row of that name", spec);
}

/* --rows: the named rows alone, printed; BENCHMARKS.md untouched. */
static int rows_only(int cpu, double load_start)
{
    int wasm = strstr(opt.rows, "wasm-") != NULL;
    if (wasm) {
        wasm_start();
        wasm_cmd("clock %d", opt.clock_cpu);
    }
    rows_synth();
    rows_blocks();
    if (wasm) {
        rows_wasm();
        wasm_stop();
    }
    say("CPU %d, %d runs, load average %.2f at the start, %.2f at the end; ratios as in BENCHMARKS.md\n\n",
        cpu, opt.runs, load_start, loadavg());
    say("| benchmark | ours (A) | against (B) | ratio |\n|---|---|---|---|\n");
    for (int i = 0; i < n_rows; i++)
        say("| %s | %s | %s | %s |\n", rows[i].name, rows[i].a, rows[i].b, rows[i].ratio);
    say("\n| row | side | median (min–max) | frames per run | RMS |\n|---|---|---|---|---|\n%s", details);
    return 0;
}

static void usage(void)
{
    fputs("usage: bench [--out FILE] [--bdir DIR] [--ampc PATH] [--faust PATH] [--emcc PATH]\n"
          "             [--node PATH] [--wasm-js FILE] [--driver-js FILE] [--notes FILE] [--cc CMD]\n"
          "             [--cflags FLAGS] [--emflags FLAGS] [--runs N] [--compile-runs N]\n"
          "             [--target-ms MS] [--scalar 0|1] [--cpu N] [--clock wall|cpu]\n"
          "             [--only compare] [--browser ROWS.tsv] [--instr ROW:SIDE [--instr-frames N]]\n"
          "             [--rows ROW,ROW...]\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--out")) opt.out = v;
        else if (!strcmp(a, "--bdir")) opt.bdir = v;
        else if (!strcmp(a, "--ampc")) opt.ampc = v;
        else if (!strcmp(a, "--faust")) opt.faust = v;
        else if (!strcmp(a, "--emcc")) opt.emcc = v;
        else if (!strcmp(a, "--node")) opt.node = v;
        else if (!strcmp(a, "--wasm-js")) opt.wasm_js = v;
        else if (!strcmp(a, "--driver-js")) opt.driver_js = v;
        else if (!strcmp(a, "--notes")) opt.notes = v;
        else if (!strcmp(a, "--cc")) opt.cc = v;
        else if (!strcmp(a, "--cflags")) opt.cflags = v;
        else if (!strcmp(a, "--emflags")) opt.emflags = v;
        else if (!strcmp(a, "--runs")) opt.runs = atoi(v);
        else if (!strcmp(a, "--compile-runs")) opt.compile_runs = atoi(v);
        else if (!strcmp(a, "--target-ms")) opt.target_ms = atof(v);
        else if (!strcmp(a, "--scalar")) opt.scalar = atoi(v);
        else if (!strcmp(a, "--cpu")) opt.cpu = atoi(v);
        else if (!strcmp(a, "--clock") && (!strcmp(v, "wall") || !strcmp(v, "cpu")))
            opt.clock_cpu = !strcmp(v, "cpu");
        else if (!strcmp(a, "--only") && !strcmp(v, "compare"))
            opt.compare_only = 1;
        else if (!strcmp(a, "--browser"))
            opt.browser = v;
        else if (!strcmp(a, "--instr"))
            opt.instr = v;
        else if (!strcmp(a, "--instr-frames"))
            opt.instr_frames = atol(v);
        else if (!strcmp(a, "--rows"))
            opt.rows = v;
        else usage();
    }
    if (opt.runs < 15 || opt.runs > MAX_RUNS || opt.compile_runs < 15 || opt.compile_runs > MAX_RUNS)
        die("--runs and --compile-runs must be from 15 to %d", MAX_RUNS);
    if (opt.instr)
        return instr_main(opt.instr, opt.instr_frames);
    if (opt.compare_only) {
        /* make bench-compare: no timing, nothing written; exit 1 on a miss */
        double t0 = bench_now_ns();
        compare_all();
        say("# Output comparison (make bench-compare)\n");
        say_compare_section();
        int ok = cmp_all_met();
        progress("%s (%.1f s)", ok ? "every comparison met" : "a comparison MISSED", (bench_now_ns() - t0) / 1e9);
        return ok ? 0 : 1;
    }
    double load_start = loadavg();
    int cpu = pin();
    progress("pinned to CPU %d; %d runs per row", cpu, opt.runs);
    bench_set_clock(opt.clock_cpu);
    if (opt.rows)
        return rows_only(cpu, load_start);
    compare_all();
    wasm_start();
    wasm_cmd("clock %d", opt.clock_cpu);

    rows_synth();
    rows_blocks();
    rows_scalar();
    rows_wasm();
    rows_voices();
    char browser_note[256];
    rows_browser(browser_note, sizeof browser_note);
    rows_denorm();
    wasm_stop();
    rows_compile();

    /* the machine line */
    char cpu_model[256] = "?", ccv[256], faustv[256], emccv[256], nodev[256], cmd[600];
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
                char *p = strchr(line, ':') + 1;
                while (*p == ' ')
                    p++;
                p[strcspn(p, "\r\n")] = 0;
                snprintf(cpu_model, sizeof cpu_model, "%s", p);
                break;
            }
        fclose(f);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(cmd, sizeof cmd, "%s --version 2>&1", opt.cc);
    first_line(cmd, ccv, sizeof ccv);
    snprintf(cmd, sizeof cmd, "%s --version 2>&1", opt.faust);
    first_line(cmd, faustv, sizeof faustv);
    snprintf(cmd, sizeof cmd, "%s --version 2>&1", opt.emcc);
    first_line(cmd, emccv, sizeof emccv);
    snprintf(cmd, sizeof cmd, "%s --version 2>&1", opt.node);
    first_line(cmd, nodev, sizeof nodev);

    double load_end = loadavg();
    say("# Benchmarks\n\n");
    say("Written by `make bench` (tests/bench/): the numbers below are the ones that run printed.\n\n");
    say("**Machine:** %s (%ld online CPUs, pinned to CPU %d; load average %.2f at the start, "
        "%.2f at the end) · C compiler: %s · Faust: %s · emcc: %s · node %s\n\n",
        cpu_model, ncpu, cpu, load_start, load_end, ccv, faustv, emccv, nodev);
    say("**Build:** ours and Faust's C with `%s %s`; WebAssembly with `emcc %s`.\n\n",
        opt.cc, opt.cflags, opt.emflags);
    say("**Clock:** %s.\n\n", opt.clock_cpu
        ? "CPU time (`BENCH_CLOCK=cpu`): the timed thread's CLOCK_THREAD_CPUTIME_ID natively, "
          "node's process.cpuUsage() in WebAssembly, the children's user + system time for the "
          "compilers; time the core spent on other processes is left out"
        : "monotonic wall time: CLOCK_MONOTONIC_RAW natively, emscripten_get_now() "
          "(performance.now()) inside the WebAssembly module, wall time of the compiler processes");
    say("Times are ns per sample at 48 kHz (all voices together) unless marked [ms]: "
        "median (min–max) of %d runs per side, sides alternated, one core; compile times "
        "%d runs. Ratios: Faust rows = Faust time / our time (throughput, > 1: we are faster); "
        "scalar row = scalar time / SIMD time; WebAssembly rows = native time / wasm time; "
        "denormal rows = impulse time / noise time; compile rows = faust time / our time, and "
        "for the 10× rows 10× time / 1× time. Output error: the Faust side's output against "
        "ours, the worse of Faust scalar and -vec (the section after the table).\n\n",
        opt.runs, opt.compile_runs);
    say("| benchmark | ours (A) | against (B) | ratio | target | | output error |\n");
    say("|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n_rows; i++)
        say("| %s | %s | %s | %s | %s | %s | %s |\n", rows[i].name, rows[i].a, rows[i].b,
            rows[i].ratio, rows[i].target, rows[i].status, rows[i].err);
    if (opt.browser)
        say("\nThe AudioWorklet rows come from `make bench-browser` (tests/bench/browser.mjs: %s); "
            "what they time is in the notes below.\n", browser_note);
    say_compare_section();
    say("\n## Every side\n\nns per sample; frames per run; RMS of the last 1024 samples of the "
        "last run (channel 0), to show that both sides sound.\n\n");
    say("| row | side | median (min–max) | frames per run | RMS |\n|---|---|---|---|---|\n");
    say("%s", details);
    say("\n## How to reproduce\n\n"
        "```\nmake bench BENCH_RUNS=%d BENCH_TARGET_MS=%g BENCH_CLOCK=%s    # this run's settings\n```\n\n"
        "(BENCH_CPU=N picks the core; the defaults are BENCH_RUNS=31 BENCH_TARGET_MS=20 "
        "BENCH_CLOCK=wall.) "
        "It builds ampc, emits our C (build/bench/), compiles the Faust programs with "
        "`faust -lang c` and `faust -lang c -vec`, builds the native driver and the WebAssembly "
        "module, runs everything once and rewrites this file.\n",
        opt.runs, opt.target_ms, opt.clock_cpu ? "cpu" : "wall");
    if (opt.notes) {
        FILE *nf = fopen(opt.notes, "r");
        if (!nf)
            die("cannot read %s", opt.notes);
        static char text[65536];
        size_t len = fread(text, 1, sizeof text - 1, nf);
        fclose(nf);
        text[len] = 0;
        say("\n---\n\n%s", text);
    }

    write_file(opt.out, doc);
    progress("wrote %s", opt.out);
    return 0;
}
