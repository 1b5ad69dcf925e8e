/* check_faust.c — Faust programs as nodes (`import faust "x.dsp" as x;`).
 *
 *   examples     example programs of the faust package (filters, reverbs,
 *                generators, dynamics), each imported through ampc as the
 *                whole unit and rendered with a fixed input, against
 *                faust's own `-lang c` output compiled here with libm
 *                (no kernel routing) and run by a small driver, block size
 *                16: both renders, at the defaults and with one control set
 *                to another value, agree within each example's bound
 *                (printed, with the measured value). Every control of the
 *                reference build (as its UIGlue sees it) is in our JSON
 *                with its default, range, step and unit.
 *   voices       a Faust node in a voice block is one instance per voice:
 *                two notes render as the sum of each alone; a voice moved
 *                to another slot, and a slot reused after a voice ended,
 *                give exactly the samples of a voice that started alone.
 *   errors       a missing faust binary ($AMPC_FAUST, or PATH without
 *                faust) is an error at the import line.
 *   portability  the C of a patch with Faust nodes calls no libm function
 *                natively, and builds with emcc -msimd128 leaving nothing
 *                undefined but memset/memcpy (and wasm's stack pointer).
 *
 * With FAUST_SWEEP=1 (`make faust-examples`, not in `make test`) it runs
 * instead every .dsp of the examples folder at its defaults and prints a
 * table: pass, silent, fails its bound, or why it does not import (see
 * sweep_example for the bound and the reference).
 *
 * The examples are found under `faust -dspdir`/examples, or in
 * $FAUST_EXAMPLES. Runs from the repository root (build/tests/check_faust).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ampc.h"
#include "build.h"
#include "host.h"
#include "testutil.h"

extern char **environ;

#define SR 48000
#define FRAMES 48000           /* one second */
#define BLOCK 16               /* the reference's block: our control tick */
#define MAXCH 8

static char work[512];         /* a temporary folder for the whole run */
static char examples[1024];    /* the faust package's example programs */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* ---- processes -------------------------------------------------------------- */

/* Run argv (no shell) with stdout to out_path (NULL: /dev/null) and stderr
 * to err_path (NULL: /dev/null); return its exit status, -1 if it did not
 * run. */
static int run(char *const argv[], const char *out_path, const char *err_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

static void spit(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* ---- our side: compile and render ------------------------------------------------ */

/* Compile `text` (anchored in tests/, so `../nodes/...` imports resolve);
 * the JSON (malloc'd) in *json if json is non-NULL. */
static const AmpPatchDesc *build_text(const char *text, int scalar, char **json)
{
    AmpcOptions opt = { .scalar = scalar };
    Diag diag;
    diag_init(&diag, stderr);
    AmpcResult r;
    ck_assert_msg(ampc_compile_text("tests/check_faust.amp", text, strlen(text), &opt, &diag, &r) == 0,
                  "ampc failed on:\n%s", text);
    static char err[16384];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s", err);
    if (json)
        *json = strdup(r.json_text);
    ampc_result_free(&r);
    return d;
}

/* A fixed input for channel c: an impulse, a noise burst (0.25 s), a
 * quarter second of silence (tails), then a sine (220 Hz times c + 1). */
static void make_input(float *x, int c)
{
    uint32_t seed = 12345u + 777u * (uint32_t)c;
    for (long i = 0; i < FRAMES; i++) {
        float v = 0;
        if (i < FRAMES / 4) {
            seed = seed * 1664525u + 1013904223u;
            v = 0.5f * ((float)(seed >> 8) / 8388608.0f - 1.0f);
        } else if (i >= FRAMES / 2) {
            v = 0.3f * (float)sin(2 * M_PI * 220.0 * (c + 1) * (double)i / SR);
        }
        x[i] = i == 0 ? 1.0f : v;
    }
}

/* Render the unit with params k[0..n) set to value[0..n) (our unit) from
 * the first sample; out holds n_outputs * FRAMES samples, planar. The
 * values the params have then (snapped to their step) in got[0..n), if
 * got is not NULL. */
static void render_ours_got(const AmpPatchDesc *d, const float *in, int n, const int *k, const float *value, float *out,
                            float *got)
{
    char err[512];
    HostPatch hp;
    ck_assert_int_eq(host_init(&hp, d, SR, err, sizeof err), 0);
    const float *ins[MAXCH];
    float *outs[MAXCH];
    for (int c = 0; c < d->n_inputs; c++)
        ins[c] = in + (long)c * FRAMES;
    for (int c = 0; c < d->n_outputs; c++)
        outs[c] = out + (long)c * FRAMES;
    Command ev[4];
    for (int i = 0; i < n; i++)
        ev[i] = host_param(0, k[i], value[i]);
    host_render(&hp, ev, n, ins, outs, FRAMES);
    for (int i = 0; got && i < n; i++)
        got[i] = d->get_param(hp.state, k[i]);
    host_free(&hp);
}

static void render_ours(const AmpPatchDesc *d, const float *in, int n, const int *k, const float *value, float *out)
{
    render_ours_got(d, in, n, k, value, out, NULL);
}

/* ---- the reference: faust's own C with libm -------------------------------------- */

/* Includes faust's C (class `ref`) and runs it: `driver --list` prints each
 * control (default, min, max, step, unit) in the order of its UI; `driver
 * IN OUT K=V...` sets control K to V (Faust's unit) and renders FRAMES
 * samples in blocks of BLOCK from raw planar floats. */
static const char driver_c[] =
    "#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "#include <faust/gui/CInterface.h>\n"
    "#define max(a, b) ((a) < (b) ? (b) : (a))\n"
    "#define min(a, b) ((a) < (b) ? (a) : (b))\n"
    "#include \"ref.c\"\n"
    "typedef struct { FAUSTFLOAT *zone; float init, lo, hi, step; const char *unit; } Ctl;\n"
    "static Ctl ctl[512];\nstatic int nctl;\n"
    "static FAUSTFLOAT *unit_zone;\nstatic const char *unit_text;\n"
    "static void declare(void *ui, FAUSTFLOAT *zone, const char *key, const char *value)\n"
    "{\n    if (zone && !strcmp(key, \"unit\")) { unit_zone = zone; unit_text = value; }\n}\n"
    "static void add(FAUSTFLOAT *zone, float init, float lo, float hi, float step)\n"
    "{\n    Ctl *c = &ctl[nctl++];\n    c->zone = zone; c->init = init; c->lo = lo; c->hi = hi; c->step = step;\n"
    "    c->unit = zone == unit_zone ? unit_text : \"-\";\n}\n"
    "static void slider(void *ui, const char *l, FAUSTFLOAT *z, FAUSTFLOAT i, FAUSTFLOAT lo, FAUSTFLOAT hi, FAUSTFLOAT st)\n"
    "{\n    add(z, i, lo, hi, st);\n}\n"
    "static void button(void *ui, const char *l, FAUSTFLOAT *z)\n{\n    add(z, 0, 0, 1, 1);\n}\n"
    "static void bargraph(void *ui, const char *l, FAUSTFLOAT *z, FAUSTFLOAT lo, FAUSTFLOAT hi) {}\n"
    "static void box(void *ui, const char *l) {}\n"
    "static void close_box(void *ui) {}\n"
    "int main(int argc, char **argv)\n{\n"
    "    ref *dsp = newref();\n"
    "    initref(dsp, " "48000" ");\n"
    "    UIGlue ui = { .openTabBox = box, .openHorizontalBox = box, .openVerticalBox = box,\n"
    "        .closeBox = close_box, .addButton = button, .addCheckButton = button,\n"
    "        .addVerticalSlider = slider, .addHorizontalSlider = slider, .addNumEntry = slider,\n"
    "        .addHorizontalBargraph = bargraph, .addVerticalBargraph = bargraph, .declare = declare };\n"
    "    buildUserInterfaceref(dsp, &ui);\n"
    "    if (argc > 1 && !strcmp(argv[1], \"--list\")) {\n"
    "        for (int i = 0; i < nctl; i++)\n"
    "            printf(\"%.9g %.9g %.9g %.9g %s\\n\", ctl[i].init, ctl[i].lo, ctl[i].hi, ctl[i].step, ctl[i].unit);\n"
    "        return 0;\n    }\n"
    "    long frames = atol(argv[3]);\n"
    "    for (int a = 4; a < argc; a++) {\n"
    "        int k; float v;\n"
    "        if (sscanf(argv[a], \"%d=%f\", &k, &v) == 2 && k >= 0 && k < nctl) *ctl[k].zone = v;\n"
    "    }\n"
    "    int ni = getNumInputsref(dsp), no = getNumOutputsref(dsp);\n"
    "    float *in = calloc((size_t)(ni + 1) * frames, sizeof(float)), *out = calloc((size_t)no * frames, sizeof(float));\n"
    "    FILE *f = fopen(argv[1], \"rb\");\n"
    "    if (!f || fread(in, sizeof(float), (size_t)ni * frames, f) != (size_t)ni * frames) return 2;\n"
    "    fclose(f);\n"
    "    for (long pos = 0; pos < frames; pos += " "16" ") {\n"
    "        FAUSTFLOAT *ip[64], *op[64];\n"
    "        for (int c = 0; c < ni; c++) ip[c] = in + c * frames + pos;\n"
    "        for (int c = 0; c < no; c++) op[c] = out + c * frames + pos;\n"
    "        computeref(dsp, " "16" ", ip, op);\n"
    "    }\n"
    "    f = fopen(argv[2], \"wb\");\n"
    "    if (!f || fwrite(out, sizeof(float), (size_t)no * frames, f) != (size_t)no * frames) return 3;\n"
    "    fclose(f);\n"
    "    return 0;\n}\n";

typedef struct RefControl {
    double init, lo, hi, step;
    char unit[32];
} RefControl;

/* Build the reference of example `file` in dir; its controls in rc. */
static int build_reference(const char *file, const char *dir, RefControl *rc, int max)
{
    char path[2048], out[2048], exe[2048], list[2048], log[2048];
    snprintf(path, sizeof path, "%s/%s", examples, file);
    snprintf(log, sizeof log, "%s/log", dir);
    char *faust_argv[] = { "faust", "-lang", "c", "-cn", "ref", "-O", (char *)dir, "-o", "ref.c", path, NULL };
    ck_assert_msg(run(faust_argv, NULL, log) == 0, "faust failed on %s", path);
    snprintf(out, sizeof out, "%s/driver.c", dir);
    spit(out, driver_c, strlen(driver_c));
    snprintf(exe, sizeof exe, "%s/driver", dir);
    char *cc_argv[] = { "cc", "-std=gnu11", "-O2", "-ffp-contract=off", "-fno-fast-math", "-w", "-o", exe, out, "-lm", NULL };
    ck_assert_msg(run(cc_argv, NULL, log) == 0, "the reference driver of %s does not build (%s)", file, log);
    snprintf(list, sizeof list, "%s/list", dir);
    char *list_argv[] = { exe, "--list", NULL };
    ck_assert_int_eq(run(list_argv, list, NULL), 0);
    FILE *f = fopen(list, "r");
    int n = 0;
    RefControl c;
    while (n < max && fscanf(f, "%lf %lf %lf %lf %31s", &c.init, &c.lo, &c.hi, &c.step, c.unit) == 5)
        rc[n++] = c;
    fclose(f);
    return n;
}

static void render_reference_frames(const char *dir, const char *driver, int n_in, const float *in, int n_out, int n,
                                    const int *k, const float *value, float *out, long n_frames);

static void render_reference(const char *dir, int n_in, const float *in, int n_out, int n, const int *k,
                             const float *value, float *out)
{
    render_reference_frames(dir, "driver", n_in, in, n_out, n, k, value, out, FRAMES);
}

/* Run the reference `driver` built in dir (build_reference, or
 * build_reference_rounded: "driver_cr"). */
/* The same reference with the C library's float functions correctly
 * rounded (in practice): each evaluated in double and rounded once, which
 * gives the correctly rounded float but where the double lands within
 * about 1e-16 of a tie between two floats. The float functions of a C
 * library need not round correctly: glibc 2.36's tanf, for one, gives the
 * other neighbour in 3.9 % of [0, 1.5) (its sinf 1.4 %, cosf 1.2 %, logf
 * near 1 4 %, expf and powf 0.06 %), and newer glibc (2.41, CORE-MATH)
 * rounds tanf correctly. Built on demand into dir/driver_cr, from the
 * ref.c and driver.c that build_reference wrote there. */
static const char rounded_h[] =
    "#include <math.h>\n"
    "static float cr_sinf(float x) { return (float)sin(x); }\n"
    "static float cr_cosf(float x) { return (float)cos(x); }\n"
    "static float cr_tanf(float x) { return (float)tan(x); }\n"
    "static float cr_asinf(float x) { return (float)asin(x); }\n"
    "static float cr_acosf(float x) { return (float)acos(x); }\n"
    "static float cr_atanf(float x) { return (float)atan(x); }\n"
    "static float cr_atan2f(float y, float x) { return (float)atan2(y, x); }\n"
    "static float cr_sinhf(float x) { return (float)sinh(x); }\n"
    "static float cr_coshf(float x) { return (float)cosh(x); }\n"
    "static float cr_tanhf(float x) { return (float)tanh(x); }\n"
    "static float cr_expf(float x) { return (float)exp(x); }\n"
    "static float cr_exp2f(float x) { return (float)exp2(x); }\n"
    "static float cr_exp10f(float x) { return (float)pow(10.0, x); }\n"
    "static float cr_logf(float x) { return (float)log(x); }\n"
    "static float cr_log2f(float x) { return (float)log2(x); }\n"
    "static float cr_log10f(float x) { return (float)log10(x); }\n"
    "static float cr_powf(float x, float y) { return (float)pow(x, y); }\n"
    "#define sinf cr_sinf\n#define cosf cr_cosf\n#define tanf cr_tanf\n#define asinf cr_asinf\n"
    "#define acosf cr_acosf\n#define atanf cr_atanf\n#define atan2f cr_atan2f\n#define sinhf cr_sinhf\n"
    "#define coshf cr_coshf\n#define tanhf cr_tanhf\n#define expf cr_expf\n#define exp2f cr_exp2f\n"
    "#define exp10f cr_exp10f\n#define __exp10f cr_exp10f\n#define logf cr_logf\n#define log2f cr_log2f\n"
    "#define log10f cr_log10f\n#define powf cr_powf\n";

static void build_reference_rounded(const char *file, const char *dir)
{
    char h[2048], drv[2048], exe[2048], log[2048];
    snprintf(h, sizeof h, "%s/rounded.h", dir);
    snprintf(drv, sizeof drv, "%s/driver.c", dir);
    snprintf(exe, sizeof exe, "%s/driver_cr", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    spit(h, rounded_h, strlen(rounded_h));
    char *cc_argv[] = { "cc", "-std=gnu11", "-O2", "-ffp-contract=off", "-fno-fast-math", "-w", "-include", h,
                        "-o", exe, drv, "-lm", NULL };
    ck_assert_msg(run(cc_argv, NULL, log) == 0, "the rounded reference of %s does not build (%s)", file, log);
}

static void render_reference_frames(const char *dir, const char *driver, int n_in, const float *in, int n_out, int n,
                                    const int *k, const float *value, float *out, long n_frames)
{
    char inp[2048], outp[2048], exe[2048], kv[2][64];
    snprintf(inp, sizeof inp, "%s/in.raw", dir);
    snprintf(outp, sizeof outp, "%s/out.raw", dir);
    snprintf(exe, sizeof exe, "%s/%s", dir, driver);
    for (int i = 0; i < n && i < 2; i++)
        snprintf(kv[i], sizeof kv[i], "%d=%.9g", k[i], value[i]);
    spit(inp, (const char *)in, sizeof(float) * (size_t)(n_in > 0 ? n_in : 1) * (size_t)n_frames);
    char frames[32];
    snprintf(frames, sizeof frames, "%ld", n_frames);
    char *argv[] = { exe, inp, outp, frames, n > 0 ? kv[0] : NULL, n > 1 ? kv[1] : NULL, NULL };
    ck_assert_int_eq(run(argv, NULL, NULL), 0);
    FILE *f = fopen(outp, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(out, sizeof(float), (size_t)n_out * (size_t)n_frames, f), (size_t)n_out * (size_t)n_frames);
    fclose(f);
}

/* ---- the examples ------------------------------------------------------------------ */

typedef struct Example {
    const char *file;      /* under examples/ */
    double bound;          /* max |ours - reference| / peak allowed */
    const char *param[2];  /* controls to set (our names; NULL: fewer) */
    double value[2];       /* to these, in the unit our JSON shows */
} Example;

/* The bounds hold the measured relative difference (max abs difference
 * over peak, the worse of the two renders, noted after each) with room to
 * spare; 1e-4 unless the measurement says why not. The only difference
 * between the two builds is the math: our kernels (runtime/abi/amp_math.h)
 * against libm. Faust's sinf, cosf, tanf, powf and its exponentials and
 * logarithms go to the kernels evaluated in double, correctly rounded on
 * our sweeps, so they differ from glibc only where glibc is not (1.3 % of
 * cosf's results): phaser's 3e-5 and filterOsc's 1.3e-5 are glibc's (at
 * their defaults our render is bit for bit faust's C with correctly
 * rounded math). filterOsc, whose pitch comes from pow, drifted by 4.7e-4
 * in a second with the float pow.
 * The values set are ones the param keeps: a param snaps to its step from
 * its minimum (q of the ladders: 0.7072 + k 0.01, so q = 10 would be
 * 9.9972, 2.7e-4 of diodeLadder's peak away from faust's 10). */
static const Example cases[] = {
    { "filtering/LPF.dsp", 1e-4, { "freq", "q" }, { 2500, 4 } },                         /* 3.1e-30 */
    { "filtering/moogVCF.dsp", 1e-4, { "corner_resonance" }, { 0.5 } },                  /* 2.6e-12 */
    { "filtering/cryBaby.dsp", 1e-4, { "wah_parameter" }, { 0.29 } },                    /* 3.3e-30 */
    { "filtering/diodeLadder.dsp", 1e-4, { "freq", "q" }, { 0.3, 9.9972 } },             /* 3.3e-10 */
    { "reverb/freeverb.dsp", 1e-6, { "roomsize", "damp" }, { 0.8, 0.2 } },               /* 0 */
    { "reverb/fdnRev.dsp", 1e-4, { "p0", "min_acoustic_ray_length" }, { 4, 30 } },       /* 0 */
    { "reverb/zitaRev.dsp", 1e-4, { "mid_rt60", "in_delay" }, { 4, 0.029 } },            /* 0 */
    { "generator/osc.dsp", 1e-4, { "freq", "volume" }, { 220, -6 } },                    /* 6.0e-08 */
    { "generator/noise.dsp", 1e-6, { "volume" }, { 0.8 } },                              /* 0 */
    { "generator/filterOsc.dsp", 1e-4, { "frequency" }, { 60 } },                        /* 1.3e-05 */
    { "dynamic/compressor.dsp", 1e-4, { "threshold", "attack" }, { -20, 0.01 } },        /* 4.8e-08 */
    { "dynamic/noiseGate.dsp", 1e-4, { "threshold" }, { -20 } },                         /* 0 */
    { "phasing/flanger.dsp", 1e-4, { "speed", "feedback" }, { 2, 0.499 } },              /* 1.7e-30 */
    { "delayEcho/echo.dsp", 1e-6, { "millisecond", "feedback" }, { 250, 50 } },          /* 0 */
    { "filtering/APF.dsp", 1e-4, { "freq", "q" }, { 2500, 4 } },                         /* 1.1e-30 */
    { "filtering/BPF.dsp", 1e-4, { "freq", "q" }, { 2500, 4 } },                         /* 4.6e-30 */
    { "filtering/HPF.dsp", 1e-4, { "freq", "q" }, { 2500, 4 } },                         /* 1.0e-30 */
    { "filtering/notch.dsp", 1e-4, { "freq", "q" }, { 2500, 4 } },                       /* 1.1e-30 */
    { "filtering/bandFilter.dsp", 1e-4, { "freq", "gain" }, { 2000, 12 } },              /* 0 */
    { "filtering/highShelf.dsp", 1e-4, { "freq", "gain" }, { 2000, 6 } },                /* 8.2e-31 */
    { "filtering/lowShelf.dsp", 1e-4, { "freq", "gain" }, { 500, 6 } },                  /* 9.7e-31 */
    { "filtering/peakNotch.dsp", 1e-4, { "freq", "gain" }, { 2500, 4 } },                /* 1.2e-30 */
    { "filtering/peakingEQ.dsp", 1e-4, { "freq", "gain" }, { 2500, 6 } },                /* 9.2e-31 */
    { "filtering/lowBoost.dsp", 1e-4, { "freq", "gain" }, { 200, 10 } },                 /* 9.8e-31 */
    { "filtering/lfBoost.dsp", 1e-4, { "freq", "gain" }, { 60, 10 } },                   /* 9.9e-31 */
    { "filtering/lowCut.dsp", 1e-4, { "freq", "attenuation" }, { 500, -20 } },           /* 8.4e-31 */
    { "filtering/korg35HPF.dsp", 1e-4, { "q", "freq" }, { 5, 0.3 } },                    /* 2.0e-09 */
    { "filtering/korg35LPF.dsp", 1e-4, { "q", "freq" }, { 5, 0.3 } },                    /* 1.6e-08 */
    { "filtering/moogLadder.dsp", 1e-4, { "q", "freq" }, { 4.9972, 0.3 } },              /* 7.7e-08 */
    { "filtering/moogHalfLadder.dsp", 1e-4, { "q", "freq" }, { 4.9972, 0.3 } },          /* 6.3e-08 */
    { "filtering/oberheimBPF.dsp", 1e-4, { "q", "freq" }, { 5, 0.3 } },                  /* 5.4e-08 */
    { "filtering/oberheimBSF.dsp", 1e-4, { "q", "freq" }, { 5, 0.3 } },                  /* 9.6e-08 */
    { "filtering/oberheimHPF.dsp", 1e-4, { "q", "freq" }, { 5, 0.3 } },                  /* 3.1e-08 */
    { "filtering/oberheimLPF.dsp", 1e-4, { "q", "freq" }, { 5, 0.3 } },                  /* 0 */
    { "filtering/sallenKey2ndOrderBPF.dsp", 1e-4, { "q", "freq" }, { 5, 0.3 } },         /* 9.3e-08 */
    { "filtering/sallenKey2ndOrderHPF.dsp", 1e-4, { "q", "freq" }, { 5, 0.3 } },         /* 5.8e-08 */
    { "filtering/sallenKey2ndOrderLPF.dsp", 1e-4, { "q", "freq" }, { 5, 0.3 } },         /* 1.0e-07 */
    { "filtering/sallenKeyOnePoleHPF.dsp", 1e-4, { "freq" }, { 0.3 } },                  /* 0 */
    { "filtering/sallenKeyOnePoleLPF.dsp", 1e-4, { "freq" }, { 0.3 } },                  /* 0 */
    { "filtering/spectralTilt.dsp", 1e-4, { "slope_of_spectral_tilt_across_band" }, { 0.503 } }, /* 6.1e-30 */
    { "filtering/wahPedal.dsp", 1e-4, { "resonance_frequency" }, { 800 } },              /* 4.3e-30 */
    { "dynamic/distortion.dsp", 1e-4, { "drive", "offset" }, { 0.59, 0.11 } },           /* 0 */
    { "dynamic/volume.dsp", 1e-4, { "volume" }, { -12 } },                               /* 0 */
    { "delayEcho/quadEcho.dsp", 1e-4, { "millisecond", "feedback" }, { 100, 50 } },      /* 0 */
    { "delayEcho/stereoEcho.dsp", 1e-4, { "millisecond", "feedback" }, { 100, 50 } },    /* 0 */
    { "phasing/phaser.dsp", 1e-4, { "speed", "feedback_gain" }, { 2, 0.499 } },          /* 3.1e-05 */
    { "reverb/greyhole.dsp", 1e-4, { "delaytime", "damping" }, { 0.1, 0.5 } },           /* 0 */
    { "reverb/jprev.dsp", 1e-4, { "t60" }, { 3 } },                                      /* 0 */
    { "reverb/dattorro.dsp", 1e-4, { "decay_rate" }, { 0.5 } },                          /* 0 */
    { "spat/panpot.dsp", 1e-4, { "pan" }, { 45 } },                                      /* 0 */
    { "pitchShifting/pitchShifter.dsp", 1e-4, { "shift_semitones" }, { 5 } },            /* 0 */
    { "psychoacoustic/harmonicExciter.dsp", 1e-4, { "mix" }, { 1 } },                    /* 3.7e-08 */
    { "generator/osci.dsp", 1e-4, { "freq", "volume" }, { 440, -6 } },                   /* 1.2e-07 */
    /* its tone stack's coefficients nearly cancel: the float expf's two
     * ulp at the default bass gave 3.9e-3, and so does one ulp of bass
     * (0.8 snapped to its step, 80 * 0.01f, is 0.79999995: values that
     * snap to themselves here) */
    { "misc/guitarix.dsp", 1e-4, { "bass", "treble" }, { 0.75, 0.25 } },                 /* 3.8e-07 */
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static double measure(const float *a, const float *b, long n, double *peak)
{
    double diff = 0;
    *peak = 0;
    for (long i = 0; i < n; i++) {
        *peak = fmax(*peak, fabs(b[i]));
        diff = fmax(diff, fabs((double)a[i] - b[i]));
    }
    return diff;
}

static const char *unit_shown(const char *faust_unit)
{
    if (!strcmp(faust_unit, "Hz")) return "Hz";
    if (!strcmp(faust_unit, "ms") || !strcmp(faust_unit, "s")) return "s";
    if (!strcmp(faust_unit, "dB")) return "dB";
    if (!strcmp(faust_unit, "-")) return "";   /* the reference driver's "no unit" */
    return faust_unit;   /* a unit we do not have is shown as Faust writes it */
}

static int close_to(double a, double b)
{
    return fabs(a - b) <= 1e-6 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* Our JSON against the reference's controls: same count, order, default,
 * range, step and unit (a Faust time in ms is shown in seconds). */
static void check_controls(const char *file, const char *json, const RefControl *rc, int n)
{
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    json_t *params = json_object_get(root, "params");
    ck_assert_msg((int)json_array_size(params) == n, "%s: %zu params in our JSON, %d controls in faust's",
                  file, json_array_size(params), n);
    for (int i = 0; i < n; i++) {
        json_t *p = json_array_get(params, (size_t)i);
        const char *name = json_string_value(json_object_get(p, "name"));
        double k = !strcmp(rc[i].unit, "ms") ? 0.001 : 1;
        double def = json_real_value(json_object_get(p, "default"));
        double lo = json_real_value(json_object_get(p, "min"));
        double hi = json_real_value(json_object_get(p, "max"));
        double step = json_real_value(json_object_get(p, "step"));
        const char *unit = json_string_value(json_object_get(p, "unit"));
        ck_assert_msg(close_to(def, rc[i].init * k) && close_to(lo, rc[i].lo * k) && close_to(hi, rc[i].hi * k) &&
                          close_to(step, rc[i].step * k),
                      "%s: param %s is %g in [%g, %g] step %g; faust says %g in [%g, %g] step %g (%s)", file, name,
                      def, lo, hi, step, rc[i].init, rc[i].lo, rc[i].hi, rc[i].step, rc[i].unit);
        ck_assert_msg(!strcmp(unit, unit_shown(rc[i].unit)), "%s: param %s has unit '%s', faust's is '%s'", file, name,
                      unit, rc[i].unit);
    }
    json_decref(root);
}

static int param_index(const AmpPatchDesc *d, const char *name)
{
    for (int i = 0; i < d->n_params; i++)
        if (!strcmp(d->params[i].name, name))
            return i;
    return -1;
}

START_TEST(example_matches_faust)
{
    const Example *ex = &cases[_i];
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/ex%d", work, _i);
    mkdir(dir, 0755);
    RefControl rc[256];
    int n_controls = build_reference(ex->file, dir, rc, 256);

    char text[2048], *json;
    snprintf(text, sizeof text, "import faust \"%s/%s\" as fx;\n", examples, ex->file);
    const AmpPatchDesc *d = build_text(text, 0, &json);
    check_controls(ex->file, json, rc, n_controls);
    free(json);

    int ni = d->n_inputs, no = d->n_outputs;
    ck_assert_int_le(ni, MAXCH);
    ck_assert_int_le(no, MAXCH);
    float *in = calloc((size_t)(ni + 1) * FRAMES, sizeof(float));
    for (int c = 0; c < ni; c++)
        make_input(in + (long)c * FRAMES, c);
    float *ours = calloc((size_t)no * FRAMES, sizeof(float)), *ref = calloc((size_t)no * FRAMES, sizeof(float));
    float *ours_set = calloc((size_t)no * FRAMES, sizeof(float)), *ref_set = calloc((size_t)no * FRAMES, sizeof(float));

    render_ours(d, in, 0, NULL, NULL, ours);
    render_reference(dir, ni, in, no, 0, NULL, NULL, ref);
    double peak, diff = measure(ours, ref, (long)no * FRAMES, &peak);

    int n_set = 0, k[2];
    float ours_value[2], faust_value[2];
    char what[256] = "";
    for (; n_set < 2 && ex->param[n_set]; n_set++) {
        k[n_set] = param_index(d, ex->param[n_set]);
        ck_assert_msg(k[n_set] >= 0, "%s has no param '%s'", ex->file, ex->param[n_set]);
        ours_value[n_set] = (float)ex->value[n_set];
        faust_value[n_set] = (float)(!strcmp(rc[k[n_set]].unit, "ms") ? ex->value[n_set] * 1000 : ex->value[n_set]);
        snprintf(what + strlen(what), sizeof what - strlen(what), "%s%s=%g", n_set ? " " : "", ex->param[n_set],
                 ex->value[n_set]);
    }
    float got[2];
    render_ours_got(d, in, n_set, k, ours_value, ours_set, got);
    /* a param snaps to its step from its minimum (0.7072 + 929 * 0.01 for
     * q = 10): the values must be ones it keeps, else the comparison
     * measures the snapping (diodeLadder: 2.7e-4 of the peak with 9.9972
     * against faust's 10) */
    for (int i = 0; i < n_set; i++)
        ck_assert_msg(got[i] == ours_value[i], "%s: %s = %.9g snaps to %.9g; pick a value on its step", ex->file,
                      ex->param[i], ours_value[i], got[i]);
    render_reference(dir, ni, in, no, n_set, k, faust_value, ref_set);
    double peak_set, diff_set = measure(ours_set, ref_set, (long)no * FRAMES, &peak_set);
    double moved_peak, moved = measure(ref, ref_set, (long)no * FRAMES, &moved_peak);

    say("%-26s %d in %d out %2d controls  defaults: peak %.4f, max diff %.2e (%.2e of peak)  "
        "%s: peak %.4f, max diff %.2e (%.2e of peak)  bound %.0e\n",
        ex->file, ni, no, n_controls, peak, diff, diff / peak, what, peak_set, diff_set, diff_set / peak_set,
        ex->bound);
    ck_assert_msg(peak > 1e-3 && peak_set > 1e-3, "%s renders silence", ex->file);
    ck_assert_msg(moved > 1e-3 * moved_peak, "%s: setting %s changes nothing", ex->file, what);
    ck_assert_msg(diff <= ex->bound * peak, "%s: max difference %g at peak %g", ex->file, diff, peak);
    ck_assert_msg(diff_set <= ex->bound * peak_set, "%s with %s: max difference %g at peak %g", ex->file, what,
                  diff_set, peak_set);
    free(in);
    free(ours);
    free(ref);
    free(ours_set);
    free(ref_set);
}
END_TEST

/* The modal bells of the faust package (50 resonators each, their
 * coefficients from cos and pow of the modes' frequencies and decay
 * times): struck at the first sample and left to ring for 2 s, within
 * SPEC §7's tolerance where feedback is involved, 5e-4 of the peak. A
 * resonator's pitch error is the cosine's error over the sine of its
 * frequency, and its decay the pow's: both carry into the phase and the
 * level as the bell rings. */
static const char *const bells[] = { "physicalModeling/churchBell.dsp", "physicalModeling/englishBell.dsp" };

START_TEST(bell_matches_faust)
{
    const char *file = bells[_i];
    const long n = 2 * SR;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/bell%d", work, _i);
    mkdir(dir, 0755);
    RefControl rc[64];
    int n_controls = build_reference(file, dir, rc, 64);
    char text[2048];
    snprintf(text, sizeof text, "import faust \"%s/%s\" as fx;\n", examples, file);
    const AmpPatchDesc *d = build_text(text, 0, NULL);
    int gate = param_index(d, "gate");
    ck_assert_int_ge(gate, 0);
    ck_assert_int_lt(gate, n_controls);
    float one = 1.0f;
    float *ours = calloc((size_t)d->n_outputs * n, sizeof(float)), *ref = calloc((size_t)d->n_outputs * n, sizeof(float));
    char err[512];
    HostPatch hp;
    ck_assert_int_eq(host_init(&hp, d, SR, err, sizeof err), 0);
    float *outs[MAXCH];
    for (int c = 0; c < d->n_outputs; c++)
        outs[c] = ours + (long)c * n;
    Command ev = host_param(0, gate, 1.0f);
    host_render(&hp, &ev, 1, NULL, outs, n);
    host_free(&hp);
    float *silence = calloc((size_t)n, sizeof(float));
    render_reference_frames(dir, "driver", 0, silence, d->n_outputs, 1, &gate, &one, ref, n);
    free(silence);
    double peak, diff = measure(ours, ref, (long)d->n_outputs * n, &peak);
    double late_peak, late = measure(ours + n / 2, ref + n / 2, n / 2, &late_peak);
    say("%-34s struck, 2 s: peak %.4f, max diff %.2e (%.2e of peak; last second %.2e)  bound 5e-04\n", file, peak,
        diff, diff / peak, late / peak);
    ck_assert_msg(peak > 1e-3, "%s is silent", file);
    ck_assert_msg(diff <= 5e-4 * peak, "%s: max difference %g at peak %g", file, diff, peak);
    free(ours);
    free(ref);
}
END_TEST

/* ---- every example (FAUST_SWEEP=1: `make faust-examples`) -------------------------- */

/* Each .dsp under the examples folder, imported as the whole unit and
 * rendered at its defaults with the input above, against faust's own C:
 * one table row each (file, status, difference over peak). An example that
 * imports must be within SPEC §7's tolerance: 1e-4 of the peak, 5e-4 where
 * feedback (a recursion, `fRec` in faust's C) or pow is involved, against
 * faust's C with the C library, or else against faust's C with correctly
 * rounded math (build_reference_rounded: the row then says "pass
 * (rounded)" and how far the library itself is from it). parametricEqLab
 * is such a case: the frequency of its Q 40 peak filter glides from 27 Hz
 * to 440 Hz at the start, a tanf and a powf per sample, and glibc 2.36
 * gives the neighbour of the correctly rounded float for 5 of those tanf
 * (true values within 5e-4 ulp of a tie) and 4 of the powf: 7.3e-4 of the
 * peak from our render, which equals the rounded reference bit for bit.
 * One that
 * does not import is reported with ampc's first error, one that is silent
 * at its defaults as such. A unit with a `gate` param has it set to 1 from
 * the first sample (an instrument struck and held). */
static char **sweep_files;
static int n_sweep_files, cap_sweep_files;

static int collect_dsp(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    if (flag == FTW_F && n > 4 && !strcmp(path + n - 4, ".dsp")) {
        if (n_sweep_files == cap_sweep_files) {
            cap_sweep_files = cap_sweep_files ? 2 * cap_sweep_files : 256;
            sweep_files = realloc(sweep_files, sizeof *sweep_files * (size_t)cap_sweep_files);
        }
        sweep_files[n_sweep_files++] = strdup(path + strlen(examples) + 1);
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void row(const char *file, const char *status, const char *detail)
{
    say("| %-44s | %-16s | %s\n", file, status, detail);
}

START_TEST(sweep_example)
{
    const char *file = sweep_files[_i];
    char dir[1024], text[2048];
    snprintf(dir, sizeof dir, "%s/sw%d", work, _i);
    mkdir(dir, 0755);
    snprintf(text, sizeof text, "import faust \"%s/%s\" as fx;\n", examples, file);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    Diag diag;
    diag_init(&diag, f);
    AmpcResult r;
    AmpcOptions opt = { 0 };
    int rc = ampc_compile_text("tests/check_faust.amp", text, strlen(text), &opt, &diag, &r);
    fclose(f);
    if (rc != 0) {
        char *e = strstr(buf, "error: ");
        e = e ? e + 7 : buf;
        e[strcspn(e, "\n")] = 0;
        row(file, "does not import", e);
        free(buf);
        return;
    }
    free(buf);
    static char err[16384];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ampc_result_free(&r);
    ck_assert_msg(d != NULL, "%s imports but does not build: %s", file, err);
    if (d->n_inputs > MAXCH || d->n_outputs > MAXCH) {
        char why[64];
        snprintf(why, sizeof why, "%d in %d out: more than %d", d->n_inputs, d->n_outputs, MAXCH);
        row(file, "not compared", why);
        return;
    }
    RefControl rc_[256];
    build_reference(file, dir, rc_, 256);
    char refc[2048];
    snprintf(refc, sizeof refc, "%s/ref.c", dir);
    char *ref_text = slurp(refc);
    int loose = ref_text && (strstr(ref_text, "fRec") || strstr(ref_text, "iRec") || strstr(ref_text, "powf("));
    free(ref_text);
    double bound = loose ? 5e-4 : 1e-4;
    int ni = d->n_inputs, no = d->n_outputs;
    float *in = calloc((size_t)(ni + 1) * FRAMES, sizeof(float));
    for (int c = 0; c < ni; c++)
        make_input(in + (long)c * FRAMES, c);
    float *ours = calloc((size_t)(no + 1) * FRAMES, sizeof(float)), *ref = calloc((size_t)(no + 1) * FRAMES, sizeof(float));
    int gate = param_index(d, "gate"), n_set = gate >= 0;
    float one = 1.0f;
    render_ours(d, in, n_set, &gate, &one, ours);
    render_reference(dir, ni, in, no, n_set, &gate, &one, ref);
    double peak, diff = measure(ours, ref, (long)no * FRAMES, &peak);
    char detail[512];
    snprintf(detail, sizeof detail, "%d in %d out%s, peak %.4f, diff %.2e of peak, bound %.0e%s", ni, no,
             n_set ? ", gate on" : "", peak, peak > 0 ? diff / peak : diff, bound, loose ? " (feedback or pow)" : "");
    /* Outside the bound against the C library: against the same C with
     * correctly rounded math (build_reference_rounded) instead, where the
     * difference is then the library's rounding, not our kernels'. */
    int rounded_pass = 0;
    if (peak > 1e-3 && !(diff <= bound * peak)) {
        build_reference_rounded(file, dir);
        float *rounded = calloc((size_t)(no + 1) * FRAMES, sizeof(float));
        render_reference_frames(dir, "driver_cr", ni, in, no, n_set, &gate, &one, rounded, FRAMES);
        double peak_cr, diff_cr = measure(ours, rounded, (long)no * FRAMES, &peak_cr);
        double peak_lib, diff_lib = measure(ref, rounded, (long)no * FRAMES, &peak_lib);
        rounded_pass = diff_cr <= bound * peak_cr;
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
                 "; with correctly rounded math: diff %.2e of peak (the C library's own %.2e)", diff_cr / peak_cr,
                 diff_lib / peak_lib);
        free(rounded);
    }
    if (peak <= 1e-3)
        row(file, diff <= 1e-6 ? "silent" : "silent, differs", detail);
    else
        row(file, diff <= bound * peak ? "pass" : rounded_pass ? "pass (rounded)" : "FAILS BOUND", detail);
    ck_assert_msg(peak <= 1e-3 ? diff <= 1e-6 : diff <= bound * peak || rounded_pass,
                  "%s: max difference %g at peak %g (bound %g), and outside it with correctly rounded math too",
                  file, diff, peak, bound);
    free(in);
    free(ours);
    free(ref);
}
END_TEST

static Suite *sweep_suite(void)
{
    nftw(examples, collect_dsp, 16, FTW_PHYS);
    qsort(sweep_files, (size_t)n_sweep_files, sizeof *sweep_files, by_name);
    say("%d examples under the faust package's examples folder\n", n_sweep_files);
    Suite *s = suite_create("faust-examples");
    TCase *tc = tcase_create("every example");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, sweep_example, 0, n_sweep_files);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- voices ------------------------------------------------------------------------- */

static const char *VOICE_PATCH =
    "import \"../nodes/std/osc.amp\";\n"
    "import \"../nodes/std/env.amp\";\n"
    "import faust \"../nodes/faust/ladder.dsp\" as ladder;\n"
    "patch p {\n"
    "  voices 4;\n"
    "  voice {\n"
    "    s = saw(freq: note.freq);\n"
    "    e = adsr(attack: 1 ms, decay: 50 ms, sustain: 0.5, release: 10 ms, gate: note.gate);\n"
    "    f = ladder(cutoff: 300 hz * (1 + 6 * e.y), res: 6, drive: 6 db, in0: 0.5 * s.y);\n"
    "    f.out0 * e.y -> out;\n"
    "  }\n"
    "}\n";

typedef struct FaustNote {
    int key;
    double on, off;        /* seconds */
} FaustNote;

static float *render_notes(const AmpPatchDesc *d, const FaustNote *notes, int n, long frames)
{
    char err[512];
    HostPatch hp;
    ck_assert_int_eq(host_init(&hp, d, SR, err, sizeof err), 0);
    Command ev[16];
    int k = 0;
    for (int i = 0; i < n; i++) {
        ev[k++] = host_note_on((long)(notes[i].on * SR), i, notes[i].key, 1.0f);
        ev[k++] = host_note_off((long)(notes[i].off * SR), i);
    }
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
            if (ev[j].header.time < ev[i].header.time) {
                Command t = ev[i];
                ev[i] = ev[j];
                ev[j] = t;
            }
    float *out = calloc((size_t)(2 * frames), sizeof(float));
    float *ch[2] = { out, out + frames };
    ck_assert_int_eq(host_render(&hp, ev, k, NULL, ch, frames), k);
    host_free(&hp);
    return out;
}

static double span_diff(const float *a, const float *b, long from, long to, double *peak)
{
    double diff = 0;
    *peak = 0;
    for (long i = from; i < to; i++) {
        *peak = fmax(*peak, fabs(b[i]));
        diff = fmax(diff, fabs((double)a[i] - b[i]));
    }
    return diff;
}

/* Two notes at once are the sum of each alone: each voice has its own
 * ladder (a shared one would mix their states). */
START_TEST(voices_are_independent)
{
    const AmpPatchDesc *d = build_text(VOICE_PATCH, 0, NULL);
    long n = SR / 2;
    FaustNote a[] = { { 40, 0.0, 0.3 } }, b[] = { { 47, 0.0, 0.3 } }, ab[] = { { 40, 0.0, 0.3 }, { 47, 0.0, 0.3 } };
    float *ya = render_notes(d, a, 1, n), *yb = render_notes(d, b, 1, n), *yab = render_notes(d, ab, 2, n);
    double peak = 0, diff = 0;
    for (long i = 0; i < n; i++) {
        peak = fmax(peak, fabs(yab[i]));
        diff = fmax(diff, fabs((double)yab[i] - ((double)ya[i] + yb[i])));
    }
    say("two voices against the sum of each alone: peak %.4f, max diff %.2e\n", peak, diff);
    ck_assert(peak > 0.05);
    ck_assert_msg(diff <= 1e-6 * peak, "max difference %g at peak %g", diff, peak);
    free(ya);
    free(yb);
    free(yab);
}
END_TEST

/* A voice moved to another slot (when the voice before it ends) carries its
 * Faust state: from then on it gives the samples of the same note played
 * alone. A slot reused after a voice ended starts from a cleared Faust
 * state: the new note gives the samples of the same note played alone. */
START_TEST(voice_move_and_reset)
{
    const AmpPatchDesc *d = build_text(VOICE_PATCH, 0, NULL);
    long n = SR;
    FaustNote moved[] = { { 40, 0.0, 0.05 }, { 52, 0.1, 0.9 } }, alone[] = { { 52, 0.1, 0.9 } };
    float *y1 = render_notes(d, moved, 2, n), *y2 = render_notes(d, alone, 1, n);
    double peak, diff = span_diff(y1, y2, (long)(0.5 * SR), (long)(0.9 * SR), &peak);
    say("a moved voice against the same note alone: peak %.4f, max diff %.2e\n", peak, diff);
    ck_assert(peak > 0.05);
    ck_assert_msg(diff == 0, "the moved voice differs by %g", diff);
    free(y1);
    free(y2);

    FaustNote reuse[] = { { 40, 0.0, 0.05 }, { 47, 0.5, 0.8 } }, fresh[] = { { 47, 0.5, 0.8 } };
    y1 = render_notes(d, reuse, 2, n);
    y2 = render_notes(d, fresh, 1, n);
    diff = span_diff(y1, y2, (long)(0.5 * SR), n, &peak);
    say("a reused voice slot against a fresh one: peak %.4f, max diff %.2e\n", peak, diff);
    ck_assert(peak > 0.05);
    ck_assert_msg(diff == 0, "the reused slot differs by %g", diff);
    free(y1);
    free(y2);
}
END_TEST

/* The scalar build (one voice at a time) and the vector build agree. */
START_TEST(scalar_matches_vector)
{
    FaustNote notes[] = { { 36, 0.0, 0.4 }, { 43, 0.05, 0.3 }, { 48, 0.1, 0.6 }, { 55, 0.12, 0.2 }, { 60, 0.3, 0.9 } };
    long n = SR;
    float *v = render_notes(build_text(VOICE_PATCH, 0, NULL), notes, 5, n);
    float *s = render_notes(build_text(VOICE_PATCH, 1, NULL), notes, 5, n);
    double peak, diff = span_diff(v, s, 0, 2 * n, &peak);
    say("scalar against vector build: peak %.4f, max diff %.2e\n", peak, diff);
    ck_assert(peak > 0.05);
    ck_assert_msg(diff <= 1e-5 * peak, "max difference %g at peak %g", diff, peak);
    free(v);
    free(s);
}
END_TEST

/* ---- errors --------------------------------------------------------------------------- */

/* Compile text; return the diagnostics. */
static char *diagnostics(const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    Diag d;
    diag_init(&d, f);
    AmpcResult r;
    int rc = ampc_compile_text("tests/check_faust.amp", text, strlen(text), NULL, &d, &r);
    fclose(f);
    ck_assert_int_eq(rc, 1);
    return buf;
}

START_TEST(missing_faust_binary)
{
    const char *text = "import faust \"../nodes/faust/ladder.dsp\" as ladder;\n";
    setenv("AMPC_FAUST", "/nonexistent/faust", 1);
    char *msg = diagnostics(text);
    say("%s", msg);
    ck_assert_msg(strstr(msg, "tests/check_faust.amp:1:14: error: cannot run faust ('/nonexistent/faust', "
                              "from AMPC_FAUST): No such file or directory") != NULL, "%s", msg);
    free(msg);
    unsetenv("AMPC_FAUST");

    char empty[1024];
    snprintf(empty, sizeof empty, "%s/empty-path", work);
    mkdir(empty, 0755);
    char *saved = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", empty, 1);
    msg = diagnostics(text);
    setenv("PATH", saved, 1);
    free(saved);
    say("%s", msg);
    ck_assert_msg(strstr(msg, "tests/check_faust.amp:1:14: error: cannot run faust: No such file or directory") != NULL,
                  "%s", msg);
    free(msg);
}
END_TEST

/* A Faust library found only in an include folder: faust gets ampc's -I
 * folders, so `import("halver.lib")` resolves with them and fails without. */
START_TEST(include_dirs_reach_faust)
{
    char dir[1024], lib[1200], dsp[1200], amp[1200];
    snprintf(dir, sizeof dir, "%s/faustlib", work);
    mkdir(dir, 0755);
    snprintf(lib, sizeof lib, "%s/halver.lib", dir);
    snprintf(dsp, sizeof dsp, "%s/uses_lib.dsp", work);
    snprintf(amp, sizeof amp, "%s/uses_lib.amp", work);
    const char *lib_text = "halve = *(0.5);\n";
    const char *dsp_text = "hv = library(\"halver.lib\");\nprocess = hv.halve;\n";
    const char *amp_text = "import faust \"uses_lib.dsp\" as half;\n";
    spit(lib, lib_text, strlen(lib_text));
    spit(dsp, dsp_text, strlen(dsp_text));
    spit(amp, amp_text, strlen(amp_text));

    Diag d;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    diag_init(&d, out);
    AmpcResult r;
    AmpcOptions opt = { .unit = "half" };
    int rc = ampc_compile_file(amp, &opt, &d, &r);
    fclose(out);
    say("without -I: %s", buf);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(buf, "halver.lib") != NULL, "the error does not name the library: %s", buf);
    free(buf);

    const char *incs[] = { dir };
    opt.include_dirs = incs;
    opt.n_include_dirs = 1;
    out = open_memstream(&buf, &len);
    diag_init(&d, out);
    rc = ampc_compile_file(amp, &opt, &d, &r);
    fclose(out);
    ck_assert_msg(rc == 0, "with -I %s: %s", dir, buf);
    free(buf);
    ck_assert_ptr_nonnull(strstr(r.json_text, "\"in0\""));
    say("with -I: the library is found, node 'half' compiles\n");
    ampc_result_free(&r);
}
END_TEST

/* Units the language does not have reach our JSON as Faust writes them. */
START_TEST(unknown_units_are_shown)
{
    char dsp[1200], amp[1200];
    snprintf(dsp, sizeof dsp, "%s/units.dsp", work);
    snprintf(amp, sizeof amp, "%s/units.amp", work);
    const char *dsp_text = "mix = hslider(\"mix [unit:%]\", 50, 0, 100, 1);\n"
                           "f = hslider(\"f [unit:kHz]\", 1, 0.1, 10, 0.1);\n"
                           "g = hslider(\"g [unit:dB]\", 0, -60, 0, 1);\n"
                           "process = *(mix / 100 * f * ba.db2linear(g));\n"
                           "import(\"stdfaust.lib\");\n";
    const char *amp_text = "import faust \"units.dsp\" as units;\n";
    spit(dsp, dsp_text, strlen(dsp_text));
    spit(amp, amp_text, strlen(amp_text));
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    AmpcOptions opt = { .unit = "units" };
    ck_assert_int_eq(ampc_compile_file(amp, &opt, &d, &r), 0);
    json_error_t jerr;
    json_t *root = json_loads(r.json_text, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    json_t *params = json_object_get(root, "params");
    static const char *names[] = { "mix", "f", "g" }, *want[] = { "%", "kHz", "dB" };
    ck_assert_int_eq((int)json_array_size(params), 3);
    for (int k = 0; k < 3; k++) {
        const char *unit = NULL;
        for (size_t i = 0; i < 3; i++) {
            json_t *p = json_array_get(params, i);
            if (!strcmp(json_string_value(json_object_get(p, "name")), names[k]))
                unit = json_string_value(json_object_get(p, "unit"));
        }
        ck_assert_msg(unit && !strcmp(unit, want[k]), "param %s has unit '%s', want '%s'", names[k], unit, want[k]);
    }
    say("units: %%, kHz and dB shown as Faust writes them\n");
    json_decref(root);
    ampc_result_free(&r);
}
END_TEST

/* ---- portability ----------------------------------------------------------------------- */

static void undefined_symbols(const char *nm, const char *object, char *out, size_t n)
{
    char list[2048];
    snprintf(list, sizeof list, "%s/nm.txt", work);
    char *argv[] = { (char *)nm, "-u", (char *)object, NULL };
    ck_assert_msg(run(argv, list, NULL) == 0, "%s failed", nm);
    char *text = slurp(list);
    out[0] = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *sym = strrchr(line, ' ');
        sym = sym ? sym + 1 : line;
        if (strcmp(sym, "memset") && strcmp(sym, "memcpy") && strcmp(sym, "__stack_pointer"))
            snprintf(out + strlen(out), n - strlen(out), "%s ", sym);
    }
    free(text);
}

START_TEST(no_libm_left)
{
    AmpcOptions opt = { 0 };
    Diag diag;
    diag_init(&diag, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_file("nodes/ladder_bass.amp", &opt, &diag, &r), 0);
    ck_assert_msg(!strstr(r.c_text, "/tmp") && !strstr(r.c_text, "/usr") && !strstr(r.c_text, "/home") &&
                      !strstr(r.c_text, "Faust 2."),
                  "a path or faust's version in the output");
    char c[1024], o[1024], w[1024], undefined[2048];
    snprintf(c, sizeof c, "%s/ladder_bass.c", work);
    snprintf(o, sizeof o, "%s/ladder_bass.o", work);
    snprintf(w, sizeof w, "%s/ladder_bass.wasm.o", work);
    spit(c, r.c_text, r.c_len);
    ampc_result_free(&r);

    char *cc_argv[] = { "cc", "-std=c11", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror", "-Iruntime/abi",
                        "-c", c, "-o", o, NULL };
    ck_assert_int_eq(run(cc_argv, NULL, NULL), 0);
    undefined_symbols("nm", o, undefined, sizeof undefined);
    say("native object: undefined besides memset/memcpy: [%s]\n", undefined);
    ck_assert_str_eq(undefined, "");

    if (!getenv("NODE_PATH"))
        setenv("NODE_PATH", "/usr/share/nodejs", 1);
    char *emcc_argv[] = { "emcc", "-O3", "-msimd128", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror", "-Iruntime/abi",
                          "-c", c, "-o", w, NULL };
    int rc = run(emcc_argv, NULL, NULL);
    ck_assert_msg(rc == 0, "emcc failed (%d) on the C of nodes/ladder_bass.amp", rc);
    undefined_symbols("emnm", w, undefined, sizeof undefined);
    say("wasm object: undefined besides memset/memcpy: [%s]\n", undefined);
    ck_assert_str_eq(undefined, "");
}
END_TEST

/* ---- the suite ----------------------------------------------------------------------- */

static Suite *faust_suite(void)
{
    Suite *s = suite_create("faust");
    TCase *ex = tcase_create("examples");
    tcase_set_timeout(ex, 120);
    tcase_add_loop_test(ex, example_matches_faust, 0, N_CASES);
    tcase_add_loop_test(ex, bell_matches_faust, 0, 2);
    suite_add_tcase(s, ex);
    TCase *voices = tcase_create("voices");
    tcase_set_timeout(voices, 60);
    tcase_add_test(voices, voices_are_independent);
    tcase_add_test(voices, voice_move_and_reset);
    tcase_add_test(voices, scalar_matches_vector);
    suite_add_tcase(s, voices);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, missing_faust_binary);
    tcase_add_test(errors, include_dirs_reach_faust);
    tcase_add_test(errors, unknown_units_are_shown);
    suite_add_tcase(s, errors);
    TCase *port = tcase_create("portability");
    tcase_set_timeout(port, 120);
    tcase_add_test(port, no_libm_left);
    suite_add_tcase(s, port);
    return s;
}

/* `faust -dspdir`/examples, unless $FAUST_EXAMPLES says where. */
static int find_examples(void)
{
    const char *env = getenv("FAUST_EXAMPLES");
    if (env && *env) {
        snprintf(examples, sizeof examples, "%s", env);
        return 0;
    }
    char out[1024];
    snprintf(out, sizeof out, "%s/dspdir", work);
    char *argv[] = { "faust", "-dspdir", NULL };
    if (run(argv, out, NULL) != 0)
        return -1;
    char *dir = slurp(out);
    if (!dir)
        return -1;
    dir[strcspn(dir, "\r\n")] = 0;
    snprintf(examples, sizeof examples, "%s/examples", dir);
    free(dir);
    return 0;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/check_faust-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    int own_cache = getenv("AMP_CACHE") == NULL;
    if (own_cache) {
        char cache[600];
        snprintf(cache, sizeof cache, "%s/cache", work);
        setenv("AMP_CACHE", cache, 1);
    }
    if (find_examples() != 0) {
        fprintf(stderr, "check_faust: cannot run 'faust -dspdir' (is faust installed?)\n");
        return EXIT_FAILURE;
    }
    const char *sweep = getenv("FAUST_SWEEP");
    int rc = testutil_run(sweep && *sweep ? sweep_suite() : faust_suite());
    testutil_remove_tree(work);
    return rc;
}
