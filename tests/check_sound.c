/* check_sound.c — no wrong sound (issue 13): what reaches a node stays in
 * its declared range, `amp render` refuses what it cannot render right, a
 * delay of a given time is that time at every supported rate, and the
 * library's effects and filters stay finite, bounded and free of denormals
 * over their whole ranges.
 *
 * Each test compiles a patch (a text here, or a file of nodes/), builds it
 * into a shared object (build.c, cached under AMP_CACHE) and renders it in
 * process with the host (host.c), then measures the samples.
 *
 * Runs from the repository root (make test does).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ampc.h"
#include "build.h"
#include "host.h"
#include "testutil.h"

static char amp_bin[512], tmp_dir[512];

/* Compile `text` as if it were the file `path` (imports are found next to
 * it) and build it. */
static const AmpPatchDesc *build_text(const char *path, const char *text)
{
    AmpcOptions opt = { 0 };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_text(path, text, strlen(text), &opt, &d, &r), 0);
    char err[8192];
    const AmpPatchDesc *desc = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(desc != NULL, "%s", err);
    ampc_result_free(&r);
    return desc;
}

static const AmpPatchDesc *build_file(const char *path)
{
    AmpcOptions opt = { 0 };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_file(path, &opt, &d, &r), 0);
    char err[8192];
    const AmpPatchDesc *desc = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(desc != NULL, "%s", err);
    ampc_result_free(&r);
    return desc;
}

/* A render's measure: peak |x|, the first non-finite sample (-1: none),
 * the number of denormal samples. */
typedef struct Measure {
    double peak;
    long first_bad;
    long denormals;
} Measure;

static Measure measure(float *const *out, int channels, long n)
{
    Measure m = { 0, -1, 0 };
    for (int c = 0; c < channels; c++)
        for (long i = 0; i < n; i++) {
            float x = out[c][i];
            if (!isfinite(x)) {
                if (m.first_bad < 0 || i < m.first_bad)
                    m.first_bad = i;
                continue;
            }
            if (x != 0.0f && fabsf(x) < 0x1p-126f)
                m.denormals++;
            if (fabs(x) > m.peak)
                m.peak = fabs(x);
        }
    return m;
}

/* Output buffers for n frames of every output. */
static float **alloc_out(const AmpPatchDesc *d, long n)
{
    float **out = calloc((size_t)d->n_outputs, sizeof *out);
    for (int c = 0; c < d->n_outputs; c++)
        out[c] = calloc((size_t)n, sizeof(float));
    return out;
}

static void free_out(const AmpPatchDesc *d, float **out)
{
    for (int c = 0; c < d->n_outputs; c++)
        free(out[c]);
    free(out);
}

static double dbfs(double x)
{
    return x > 0 ? 20 * log10(x) : -999;
}

/* Run `cmd` (stderr to a file); its exit status, and its stderr in buf. */
static int run_amp(const char *args, char *buf, size_t len)
{
    char cmd[2048], log[600];
    snprintf(log, sizeof log, "%s/stderr.txt", tmp_dir);
    snprintf(cmd, sizeof cmd, "%s %s 2>%s", amp_bin, args, log);
    int rc = system(cmd);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* ---- ranges ------------------------------------------------------------------ */

/* svf's res is declared in [0, 0.98]: bound to a patch param whose range
 * goes to 10, the value the node sees is clamped, so res 5 sounds exactly
 * like res 0.98 (unclamped, the filter's damping is negative and the
 * output runs to inf and NaN). */
START_TEST(bound_param_clamped_to_its_range)
{
    const char *text =
        "import \"../nodes/std/filter.amp\";\n"
        "patch p { in x; param r = 5 in [0, 10]; f = svf(x: x, cutoff: 2 khz, res: r); f.lp -> out; }\n";
    const AmpPatchDesc *d = build_text("tests/svf_clamp.amp", text);
    const long n = 48000;
    float *in = calloc(n, sizeof(float));
    for (long i = 0; i < n; i += 97)
        in[i] = 1.0f;
    float *runs[2];
    for (int k = 0; k < 2; k++) {
        char err[512];
        HostPatch hp;
        ck_assert_int_eq(host_init(&hp, d, 48000.0f, err, sizeof err), 0);
        if (k == 1)
            d->set_param(hp.state, 0, 0.98f);
        host_reset(&hp);
        float **out = alloc_out(d, n);
        const float *ins[1] = { in };
        host_render(&hp, NULL, 0, ins, out, n);
        runs[k] = out[0];
        free(out[1]);
        free(out);
        host_free(&hp);
    }
    Measure m = measure(&runs[0], 1, n);
    printf("svf(res: 5) bound through a param: peak %.1f dBFS, first non-finite %ld\n", dbfs(m.peak), m.first_bad);
    ck_assert_int_eq(m.first_bad, -1);
    ck_assert_msg(memcmp(runs[0], runs[1], n * sizeof(float)) == 0, "res 5 does not sound like res 0.98");
    free(runs[0]);
    free(runs[1]);
    free(in);
}
END_TEST

/* The math functions out of their domains give the values SPEC §2 lists,
 * folded by the compiler and computed by the kernels alike. */
START_TEST(math_out_of_domain_defined)
{
    const char *text =
        "node m { in x; out a, b, c, d, e, f;\n"
        "  process { a = pow(-2 + x, 0.5); b = exp(1000 + x); c = log(x - 1); d = sqrt(x - 4);\n"
        "            e = pow(x, -1); f = asin(x + 3); } }\n";
    const char *folded =
        "node m { out a, b, c, d, e, f;\n"
        "  process { a = pow(-2, 0.5); b = exp(1000); c = log(-1); d = sqrt(-4); e = pow(0, -1); f = asin(3); } }\n";
    for (int k = 0; k < 2; k++) {
        const AmpPatchDesc *d = build_text(k ? "tests/domain_folded.amp" : "tests/domain.amp", k ? folded : text);
        char err[512];
        HostPatch hp;
        ck_assert_int_eq(host_init(&hp, d, 48000.0f, err, sizeof err), 0);
        float **out = alloc_out(d, 16);
        host_render(&hp, NULL, 0, NULL, out, 16);
        printf("%s: pow(-2, 0.5) %g, exp(1000) %g, log(-1) %g, sqrt(-4) %g, pow(0, -1) %g, asin(3) %g\n",
               k ? "folded" : "kernels", out[0][5], out[1][5], out[2][5], out[3][5], out[4][5], out[5][5]);
        ck_assert_float_eq_tol(out[0][5], 1.41421354f, 1e-6f);
        ck_assert(out[1][5] > 3.3e38f && isfinite(out[1][5]));
        ck_assert_float_eq(out[2][5], -1e30f);
        ck_assert_float_eq(out[3][5], 0.0f);
        ck_assert(out[4][5] > 3.4e38f && isfinite(out[4][5]));
        ck_assert_float_eq_tol(out[5][5], 1.57079637f, 1e-6f);
        free_out(d, out);
        host_free(&hp);
    }
}
END_TEST

/* amp render --param outside the range is refused in the project reader's
 * words; a NaN written by a patch fails the render, naming the patch, the
 * output, the sample and the voice. */
START_TEST(amp_render_refuses)
{
    char path[600], args[1600], msg[4096];
    snprintf(path, sizeof path, "%s/nan.amp", tmp_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("node blow { out y; param g = 1 in [0, 2]; state s = 1;\n"
          "  process { s = s * 1e30 * g; y = s - s; } }\n"
          "patch nan { param g = 1 in [0, 2]; voices 2; voice { b = blow(g: g); b.y -> out; } }\n", f);
    fclose(f);
    snprintf(args, sizeof args, "render %s --notes '60@0.01:0.5' --param g=3 -o %s/nan.wav", path, tmp_dir);
    ck_assert_int_eq(run_amp(args, msg, sizeof msg), 1);
    printf("%s", msg);
    ck_assert_str_eq(msg, "amp: --param g: 3 is outside the range of 'g' in patch 'nan' [0, 2]\n");
    snprintf(args, sizeof args, "render %s --notes '60@0.01:0.5' --rate 48000 -o %s/nan.wav", path, tmp_dir);
    ck_assert_int_eq(run_amp(args, msg, sizeof msg), 1);
    printf("%s", msg);
    ck_assert_str_eq(msg, "amp: patch 'nan' wrote NaN on output 0 at sample 481 (0.0100 s), voice in slot 0 "
                          "(key 60); nothing written\n");
    snprintf(args, sizeof args, "%s/nan.wav", tmp_dir);
    ck_assert_int_ne(access(args, F_OK), 0);
    snprintf(args, sizeof args, "render %s --rate 384000 -o %s/nan.wav", path, tmp_dir);
    ck_assert_int_eq(run_amp(args, msg, sizeof msg), 1);
    printf("%s", msg);
    ck_assert_str_eq(msg, "amp: sample rate 384000 Hz is not supported (8000 to 192000 Hz)\n");
}
END_TEST

/* ---- every supported rate -------------------------------------------------------- */

/* A 600 ms read of a `delay line[1 s]`, and fdelay at 600 ms, echo an
 * impulse 600 ms later at 44.1, 48, 96 and 192 kHz (within one sample;
 * the lines used to be sized for 96 kHz, so at 192 kHz the read was cut to
 * the line's 96000 samples: 0.5 s). 8 kHz and 192 kHz, the ends of the
 * supported range, are accepted. */
START_TEST(echo_lands_at_every_rate)
{
    const char *text =
        "import \"../nodes/std/fx.amp\";\n"
        "node echo6 { in x; out y; delay line[1 s]; process { line.write(x); y = line.read(600 ms); } }\n"
        "patch p { in x; out a, b; e = echo6(x: x); f = fdelay(x: x, time: 600 ms, feedback: 0);\n"
        "          e.y -> out.a; f.y -> out.b; }\n";
    const AmpPatchDesc *d = build_text("tests/echo_rates.amp", text);
    static const int rates[] = { 8000, 44100, 48000, 96000, 192000 };
    for (int r = 0; r < 5; r++) {
        long n = rates[r];   /* one second */
        float *in = calloc((size_t)n, sizeof(float));
        in[100] = 1.0f;
        char err[512];
        HostPatch hp;
        ck_assert_msg(host_init(&hp, d, (float)rates[r], err, sizeof err) == 0, "%s", err);
        float **out = alloc_out(d, n);
        const float *ins[1] = { in };
        host_render(&hp, NULL, 0, ins, out, n);
        double want = 0.6 * rates[r];
        long at[2];
        for (int c = 0; c < 2; c++) {
            at[c] = testutil_first_nonzero(out[c], 0, n);
            ck_assert_msg(at[c] >= 0, "%d Hz: output %d is silent", rates[r], c);
        }
        printf("%6d Hz: echo of an impulse at %.6f s (line) and %.6f s (fdelay); 0.6 s is %.1f samples\n", rates[r],
               (at[0] - 100) / (double)rates[r], (at[1] - 100) / (double)rates[r], want);
        for (int c = 0; c < 2; c++)
            ck_assert_msg(fabs((double)(at[c] - 100) - want) <= 1.0, "%d Hz: output %d echoes after %ld samples, not %.1f",
                          rates[r], c, at[c] - 100, want);
        free_out(d, out);
        free(in);
        host_free(&hp);
    }
}
END_TEST

/* ---- the library ------------------------------------------------------------------ */

static int param_of(const AmpPatchDesc *d, const char *name)
{
    for (int i = 0; i < d->n_params; i++)
        if (!strcmp(d->params[i].name, name))
            return i;
    ck_abort_msg("patch '%s' has no param '%s'", d->name, name);
    return -1;
}

/* Uniform noise in [-amp, amp) from a fixed seed (xorshift32). */
static void fill_noise(float *x, long n, float amp, uint32_t seed)
{
    for (long i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        x[i] = amp * ((float)(seed >> 8) / 8388608.0f - 1.0f);
    }
}

/* Render an effect for n frames at rate with inputs in[] after setting
 * params (value[k] to param index[k]; settled, no glide). */
static float **render_effect(const AmpPatchDesc *d, float rate, const float *const *in, long n, int n_set,
                             const int *index, const float *value)
{
    char err[512];
    HostPatch hp;
    ck_assert_msg(host_init(&hp, d, rate, err, sizeof err) == 0, "%s", err);
    for (int k = 0; k < n_set; k++)
        d->set_param(hp.state, index[k], value[k]);
    host_reset(&hp);
    float **out = alloc_out(d, n);
    host_render(&hp, NULL, 0, in, out, n);
    host_free(&hp);
    return out;
}

/* stereo_delay at all 32 corners of its ranges (time, spread, feedback,
 * cross, mix at their bounds), fed 4 s of noise. Its loop gain, feedback
 * + cross, used to reach 1.9 (NaN after about 4 s at 10 ms, 0.9, 0.3);
 * it is now scaled to at most 0.9, so by construction the output stays
 * below 10 times the input's peak (+20 dB), and with the tone filters in
 * both feedback paths far below that: below +24 dBFS for full-scale noise
 * and for the noise at +12 dBFS. */
START_TEST(stereo_delay_corners_bounded)
{
    const AmpPatchDesc *d = build_file("nodes/stereo_delay.amp");
    const long n = 4 * 48000;
    float *l = malloc(n * sizeof(float)), *r = malloc(n * sizeof(float));
    static const char *names[5] = { "time", "spread", "feedback", "cross", "mix" };
    int index[5];
    for (int k = 0; k < 5; k++)
        index[k] = param_of(d, names[k]);
    static const double in_dbfs[2] = { 0.0, 12.0 }, limit[2] = { 24.0, 24.0 };
    for (int level = 0; level < 2; level++) {
        fill_noise(l, n, (float)pow(10, in_dbfs[level] / 20), 1);
        fill_noise(r, n, (float)pow(10, in_dbfs[level] / 20), 2);
        const float *in[2] = { l, r };
        double worst = 0;
        int worst_corner = 0;
        for (int corner = 0; corner < 32; corner++) {
            float value[5];
            for (int k = 0; k < 5; k++)
                value[k] = (corner >> k) & 1 ? d->params[index[k]].hi : d->params[index[k]].lo;
            float **out = render_effect(d, 48000.0f, in, n, 5, index, value);
            Measure m = measure(out, 2, n);
            ck_assert_msg(m.first_bad < 0, "corner %d: non-finite at sample %ld", corner, m.first_bad);
            ck_assert_msg(m.denormals == 0, "corner %d: %ld denormal samples", corner, m.denormals);
            if (m.peak > worst) {
                worst = m.peak;
                worst_corner = corner;
            }
            free_out(d, out);
        }
        printf("stereo_delay, 32 corners, noise at %+.0f dBFS: loudest %.1f dBFS (time %s, spread %s, feedback %s, "
               "cross %s, mix %s)\n", in_dbfs[level], dbfs(worst), worst_corner & 1 ? "max" : "min",
               worst_corner & 2 ? "max" : "min", worst_corner & 4 ? "max" : "min", worst_corner & 8 ? "max" : "min",
               worst_corner & 16 ? "max" : "min");
        ck_assert_msg(dbfs(worst) < limit[level], "stereo_delay reaches %.1f dBFS", dbfs(worst));
    }
    free(l);
    free(r);
}
END_TEST

/* Each biquad of nodes/std/filter.amp with its cutoff, q and gain driven
 * at audio rate: jumping between their bounds every 16 samples (cutoff
 * and q out of step), then swept by sines, on noise, at 8 and 48 kHz:
 * finite, no denormals, and no runaway (peak below +60 dBFS; q 30 alone
 * rings up to +30 dB). The direct-form biquads went to NaN. */
START_TEST(biquads_modulated_stay_finite)
{
    static const char *const filters[][2] = {
        { "lowpass", "q: q" }, { "highpass", "q: q" }, { "bandpass", "q: q" }, { "notch", "q: q" },
        { "peak", "q: q, gain: g" }, { "lowshelf", "gain: g" }, { "highshelf", "gain: g" },
    };
    static const float rates[2] = { 8000.0f, 48000.0f };
    for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "import \"../nodes/std/filter.amp\";\n"
                 "patch p { in x, c, q, g; f = %s(x: x, cutoff: c, %s); f.y -> out; }\n", filters[f][0], filters[f][1]);
        const AmpPatchDesc *d = build_text("tests/biquad_mod.amp", text);
        for (int r = 0; r < 2; r++) {
            const long n = (long)rates[r] * 2;
            float *x = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float));
            float *q = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
            fill_noise(x, n, 1.0f, 7);
            for (long i = 0; i < n; i++) {
                if (i < n / 2) {   /* jumps between the bounds */
                    c[i] = (i / 16) & 1 ? 20000.0f : 10.0f;
                    q[i] = (i / 24) & 1 ? 30.0f : 0.1f;
                    g[i] = (i / 40) & 1 ? 15.849f : 0.0631f;
                } else {           /* audio-rate sines across the ranges */
                    double t = i / (double)rates[r];
                    c[i] = (float)(10.0 * pow(2000.0, 0.5 + 0.5 * sin(2 * M_PI * 440 * t)));
                    q[i] = (float)(0.1 * pow(300.0, 0.5 + 0.5 * sin(2 * M_PI * 97 * t)));
                    g[i] = (float)pow(10.0, 1.2 * sin(2 * M_PI * 31 * t));
                }
            }
            const float *in[4] = { x, c, q, g };
            float **out = render_effect(d, rates[r], in, n, 0, NULL, NULL);
            Measure m = measure(out, d->n_outputs, n);
            printf("%-9s modulated at audio rate, %5.0f Hz: peak %.1f dBFS, first non-finite %ld, %ld denormals\n",
                   filters[f][0], rates[r], dbfs(m.peak), m.first_bad, m.denormals);
            ck_assert_msg(m.first_bad < 0, "%s at %g Hz: non-finite from sample %ld", filters[f][0], rates[r], m.first_bad);
            ck_assert_int_eq(m.denormals, 0);
            ck_assert_msg(dbfs(m.peak) < 60.0, "%s at %g Hz runs away: %.1f dBFS", filters[f][0], rates[r], dbfs(m.peak));
            free_out(d, out);
            free(x);
            free(c);
            free(q);
            free(g);
        }
    }
}
END_TEST

/* nodes/hall.amp: a noise burst, then silence while its mix glides to 0:
 * no denormal sample (36,941 in 2 s before). */
START_TEST(hall_no_denormals)
{
    const AmpPatchDesc *d = build_file("nodes/hall.amp");
    const long n = 3 * 48000;
    float *l = calloc(n, sizeof(float)), *r = calloc(n, sizeof(float));
    fill_noise(l, 24000, 0.5f, 3);
    fill_noise(r, 24000, 0.5f, 4);
    const float *in[2] = { l, r };
    char err[512];
    HostPatch hp;
    ck_assert_msg(host_init(&hp, d, 48000.0f, err, sizeof err) == 0, "%s", err);
    float **out = alloc_out(d, n);
    Command c = host_param(24000, param_of(d, "mix"), 0.0f);
    host_render(&hp, &c, 1, in, out, n);
    host_free(&hp);
    Measure m = measure(out, 2, n);
    printf("hall, mix gliding to 0 after a burst: peak %.1f dBFS, %ld denormal samples, first non-finite %ld\n",
           dbfs(m.peak), m.denormals, m.first_bad);
    ck_assert_int_eq(m.first_bad, -1);
    ck_assert_int_eq(m.denormals, 0);
    free_out(d, out);
    free(l);
    free(r);
}
END_TEST

/* nodes/reverb.amp and nodes/hall.amp at their largest size, fed noise:
 * no louder at 192 kHz than at 48 kHz (by less than 3 dB; reverb reached
 * +25.5 dBFS at 192 kHz, its combs cut short by lines sized in samples
 * for 96 kHz, and hall's zita-rev1 was sized for 96 kHz), finite, no
 * denormals. (Hall is quieter at 192 kHz: its 12 kHz tone filter keeps a
 * smaller part of white noise's wider band.) */
START_TEST(reverb_bounded_at_192k)
{
    static const char *const files[2] = { "nodes/reverb.amp", "nodes/hall.amp" };
    const AmpPatchDesc *d = build_file(files[_i]);
    double peak[2];
    static const float rates[2] = { 48000.0f, 192000.0f };
    for (int k = 0; k < 2; k++) {
        const long n = (long)rates[k] * 3;
        float *l = calloc(n, sizeof(float)), *r = calloc(n, sizeof(float));
        fill_noise(l, n / 3, 1.0f, 5);
        fill_noise(r, n / 3, 1.0f, 6);
        const float *in[2] = { l, r };
        int index[2] = { param_of(d, "size"), param_of(d, "mix") };
        float value[2] = { d->params[index[0]].hi, 1.0f };
        float **out = render_effect(d, rates[k], in, n, 2, index, value);
        Measure m = measure(out, 2, n);
        peak[k] = m.peak;
        printf("%s, largest size, mix 1, noise at 0 dBFS, %6.0f Hz: peak %.1f dBFS, %ld denormals\n", files[_i],
               rates[k], dbfs(m.peak), m.denormals);
        ck_assert_int_eq(m.first_bad, -1);
        ck_assert_int_eq(m.denormals, 0);
        free_out(d, out);
        free(l);
        free(r);
    }
    ck_assert_msg(dbfs(peak[1]) < dbfs(peak[0]) + 3.0, "%s: %.1f dBFS at 192 kHz, %.1f dBFS at 48 kHz",
                  files[_i], dbfs(peak[1]), dbfs(peak[0]));
}
END_TEST

/* ---- nodes/phaser.amp ---------------------------------------------------------------- */

/* The phaser, depth 0 (the corner held at center), its params set: index
 * of each by name. */
typedef struct PhaserRun {
    const AmpPatchDesc *d;
    HostPatch hp;
    int center, feedback, depth;
} PhaserRun;

static void phaser_start(PhaserRun *p, float rate, double center, double feedback)
{
    char err[512];
    p->d = build_file("nodes/phaser.amp");
    ck_assert_msg(host_init(&p->hp, p->d, rate, err, sizeof err) == 0, "%s", err);
    p->center = param_of(p->d, "center");
    p->feedback = param_of(p->d, "feedback");
    p->depth = param_of(p->d, "depth");
    p->d->set_param(p->hp.state, p->depth, 0.0f);
    p->d->set_param(p->hp.state, p->center, (float)center);
    p->d->set_param(p->hp.state, p->feedback, (float)feedback);
    host_reset(&p->hp);
}

/* Amplitude of the sine at freq in x[from, from + len): least squares on
 * its sine and cosine. */
static double sine_amplitude(const float *x, long from, long len, double freq, double rate)
{
    double ss = 0, cc = 0, sc = 0, xs = 0, xc = 0;
    for (long i = from; i < from + len; i++) {
        double w = 2 * M_PI * freq * (double)i / rate, sn = sin(w), cs = cos(w);
        ss += sn * sn; cc += cs * cs; sc += sn * cs;
        xs += x[i] * sn; xc += x[i] * cs;
    }
    double det = ss * cc - sc * sc;
    double a = (xs * cc - xc * sc) / det, b = (xc * ss - xs * sc) / det;
    return sqrt(a * a + b * b);
}

/* The phaser's response at f, from the linear theory of phaser6 (six
 * bilinear all-passes at corner fc, the loop closed through one sample's
 * delay with gain g) mixed half and half with the input. */
static double phaser_theory_db(double f, double fc, double g, double rate)
{
    double r = tan(M_PI * f / rate) / tan(M_PI * fmin(fc, 0.45 * rate) / rate);
    double phase = -12 * atan(r);                 /* six stages, each -2 atan(r) */
    double w = 2 * M_PI * f / rate;
    /* H = A / (1 - g e^-iw A); out = (1 + H) / 2 */
    double dre = 1 - g * cos(phase - w), dim = -g * sin(phase - w);
    double d2 = dre * dre + dim * dim;
    double hre = (cos(phase) * dre + sin(phase) * dim) / d2, him = (sin(phase) * dre - cos(phase) * dim) / d2;
    return 20 * log10(0.5 * hypot(1 + hre, him));
}

/* The phaser's level at f re a quiet sine's (-30 dBFS), held at center
 * with feedback g, at 48 kHz. */
static double phaser_measured_db(double f, double center, double g, float *x, long n)
{
    const float rate = 48000.0f;
    const long tail = n / 3;
    const double level = 0.0316227766;
    for (long i = 0; i < n; i++)
        x[i] = (float)(level * sin(2 * M_PI * f * (double)i / rate));
    PhaserRun p;
    phaser_start(&p, rate, center, g);
    float **out = alloc_out(p.d, n);
    const float *in[2] = { x, x };
    host_render(&p.hp, NULL, 0, in, out, n);
    double db = dbfs(sine_amplitude(out[0], n - tail, tail, f, rate) / level);
    free_out(p.d, out);
    host_free(&p.hp);
    return db;
}

/* It still sounds like a phaser. A quiet sine (-30 dBFS: the feedback's
 * saturation is then linear within 0.2 %) through the held phaser at
 * feedback 0.5 and 0.9, centers 1 and 2 kHz, at 48 kHz:
 *   - at 48 frequencies from 50 Hz to 12 kHz it lands within 0.5 dB of
 *     the linear theory of the loop (phaser_theory_db);
 *   - at the theory's notches (where the six all-passes and the loop's
 *     sample turn the phase by about an odd multiple of 180 degrees: 276,
 *     1055 and 5517 Hz at center 1 kHz, feedback 0.9) and resonances
 *     (570, 1658, 9014 Hz there) too, each notch at least 12 dB down and
 *     each resonance at least 13.5 dB up at feedback 0.9 (15 dB down and
 *     1.5 dB up at 0.5);
 *   - at center 2 kHz the first notch is 1.9 to 2.1 times as high: the
 *     notches move with the corner. */
START_TEST(phaser_notches_with_feedback)
{
    const float rate = 48000.0f;
    const long n = (long)(1.5 * rate);
    float *x = malloc(n * sizeof(float));
    static const double feedbacks[2] = { 0.5, 0.9 }, centers[2] = { 1000, 2000 };
    static const double notch_max[2] = { -15, -12 }, peak_min[2] = { 1.5, 13.5 };
    for (int fi = 0; fi < 2; fi++) {
        double first_notch[2] = { 0, 0 };
        for (int ci = 0; ci < 2; ci++) {
            double g = feedbacks[fi], center = centers[ci], worst = 0;
            for (int k = 0; k < 48; k++) {
                double f = 50 * pow(240.0, k / 47.0);
                double db = phaser_measured_db(f, center, g, x, n), want = phaser_theory_db(f, center, g, rate);
                worst = fmax(worst, fabs(db - want));
                ck_assert_msg(fabs(db - want) < 0.5, "feedback %.1f, center %.0f Hz: %.1f Hz at %.2f dB, theory %.2f dB",
                              g, center, f, db, want);
            }
            printf("phaser, feedback %.1f, center %.0f Hz: 48 frequencies within %.3f dB of the theory;", g, center,
                   worst);
            /* the theory's extremes, on a grid of 0.02 % steps */
            double prev2 = 0, prev = 0;
            int k = 0;
            for (double f = 50; f < 0.45 * rate; f *= 1.0002, k++) {
                double v = phaser_theory_db(f, center, g, rate);
                if (k >= 2 && ((prev < prev2 && prev < v) || (prev > prev2 && prev > v))) {
                    double at = f / 1.0002, db = phaser_measured_db(at, center, g, x, n);
                    int notch = prev < v;
                    printf(" %s %.0f Hz %+.1f dB (%+.1f)", notch ? "notch" : "peak", at, db, prev);
                    ck_assert_msg(fabs(db - prev) < 0.5, "feedback %.1f, center %.0f Hz: the %s at %.0f Hz is %.2f dB, "
                                  "theory %.2f dB", g, center, notch ? "notch" : "resonance", at, db, prev);
                    if (notch)
                        ck_assert_msg(db < notch_max[fi], "feedback %.1f: the notch at %.0f Hz is only %.1f dB", g, at, db);
                    else
                        ck_assert_msg(db > peak_min[fi], "feedback %.1f: the resonance at %.0f Hz is only %+.1f dB", g,
                                      at, db);
                    if (notch && !first_notch[ci])
                        first_notch[ci] = at;
                }
                prev2 = prev;
                prev = v;
            }
            printf("\n");
        }
        double ratio = first_notch[1] / first_notch[0];
        ck_assert_msg(ratio > 1.9 && ratio < 2.1, "feedback %.1f: the first notch moves by %.3f for twice the center",
                      feedbacks[fi], ratio);
    }
    free(x);
}
END_TEST

/* A loud input into a resonance is held by the saturating feedback: a
 * full-scale sine where the loop's phase turns by 360 degrees (found on
 * the theory's curve) at feedback 0.9 would come out at +14.8 dBFS through
 * the linear loop (5.5 times); it comes out below +10 dBFS, while a
 * -30 dBFS one gets the whole +14.8 dB. */
START_TEST(phaser_loud_resonance_held)
{
    const float rate = 48000.0f;
    const long n = 2 * (long)rate, tail = (long)(0.5 * rate);
    double f = 0, best = -1e9;
    for (double t = 200; t < 2000; t *= 1.0005) {
        double db = phaser_theory_db(t, 1000, 0.9, rate);
        if (db > best) { best = db; f = t; }
    }
    float *x = malloc(n * sizeof(float));
    static const double levels[2] = { 0.0316227766, 1.0 };
    double gain_db[2], peak_db[2];
    for (int l = 0; l < 2; l++) {
        for (long i = 0; i < n; i++)
            x[i] = (float)(levels[l] * sin(2 * M_PI * f * (double)i / rate));
        PhaserRun p;
        phaser_start(&p, rate, 1000, 0.9);
        float **out = alloc_out(p.d, n);
        const float *in[2] = { x, x };
        host_render(&p.hp, NULL, 0, in, out, n);
        gain_db[l] = dbfs(sine_amplitude(out[0], n - tail, tail, f, rate) / levels[l]);
        Measure m = measure(out, 2, n);
        peak_db[l] = dbfs(m.peak);
        ck_assert_int_eq(m.first_bad, -1);
        free_out(p.d, out);
        host_free(&p.hp);
    }
    printf("phaser, feedback 0.9, resonance at %.1f Hz (theory %+.1f dB): %+.1f dB at -30 dBFS, "
           "%+.1f dB at 0 dBFS (peak %+.1f dBFS)\n", f, best, gain_db[0], gain_db[1], peak_db[1]);
    ck_assert_msg(fabs(gain_db[0] - best) < 0.5, "quiet: %+.2f dB, theory %+.2f dB", gain_db[0], best);
    ck_assert_msg(peak_db[1] < 10.0, "a full-scale sine at the resonance comes out at %+.1f dBFS", peak_db[1]);
    ck_assert_msg(gain_db[1] > 3.0, "the resonance is gone at full scale: %+.1f dB", gain_db[1]);
    free(x);
}
END_TEST

/* The drives that ran away: feedback 0.9, center jumping between its
 * bounds (100 Hz and 4 kHz) every 1, 2, 4, 16, 64 or 512 samples, fed a
 * DC of 1, noise at +12 dBFS or a full-scale square (period 37 samples),
 * 0.5 s at every supported rate. With the corner jumping with it, the
 * loop grew by 2.3 dB a sample at 44.1 kHz (non-finite after 304 samples
 * at 22.05 kHz); now finite, no denormals, below +24 dBFS (the issue's
 * bar; +17.8 dBFS measured). */
START_TEST(phaser_jumping_center_bounded)
{
    static const float rates[] = { 8000, 22050, 44100, 48000, 96000, 192000 };
    static const int every[] = { 1, 2, 4, 16, 64, 512 };
    static const char *const inputs[3] = { "DC", "noise +12 dBFS", "square" };
    double worst = 0;
    char worst_what[200] = "";
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        const long n = (long)(0.5 * rates[r]);
        float *x = malloc(n * sizeof(float));
        Command *cmd = malloc((size_t)n * sizeof *cmd);
        for (int input = 0; input < 3; input++) {
            if (input == 1)
                fill_noise(x, n, 3.98107171f, 11);
            else
                for (long i = 0; i < n; i++)
                    x[i] = input == 0 ? 1.0f : (i % 37 < 18 ? 1.0f : -1.0f);
            for (size_t e = 0; e < sizeof every / sizeof every[0]; e++) {
                PhaserRun p;
                phaser_start(&p, rates[r], 100, 0.9);
                int nc = 0;
                for (long i = every[e]; i < n; i += every[e])
                    cmd[nc++] = host_param(i, p.center, (i / every[e]) % 2 ? 4000.0f : 100.0f);
                float **out = alloc_out(p.d, n);
                const float *in[2] = { x, x };
                host_render(&p.hp, cmd, nc, in, out, n);
                Measure m = measure(out, 2, n);
                ck_assert_msg(m.first_bad < 0, "%g Hz, every %d, %s: non-finite at sample %ld", rates[r], every[e],
                              inputs[input], m.first_bad);
                ck_assert_msg(m.denormals == 0, "%g Hz, every %d, %s: %ld denormals", rates[r], every[e],
                              inputs[input], m.denormals);
                if (m.peak > worst) {
                    worst = m.peak;
                    snprintf(worst_what, sizeof worst_what, "%g Hz, every %d samples, %s", rates[r], every[e],
                             inputs[input]);
                }
                free_out(p.d, out);
                host_free(&p.hp);
            }
        }
        free(cmd);
        free(x);
    }
    printf("phaser, feedback 0.9, center jumping 100 Hz <-> 4 kHz: loudest %+.1f dBFS (%s)\n", dbfs(worst), worst_what);
    ck_assert_msg(dbfs(worst) < 24.0, "%+.1f dBFS (%s)", dbfs(worst), worst_what);
}
END_TEST

/* The corner glides (5 ms, in octaves): center jumping from 1 to 2 kHz
 * with a sine at the new center's first notch (feedback 0, so the notch
 * is complete): in the 5 ms after the jump the corner is still on its way
 * (the sine passes at above -10 dB: -2.8 dB; with the corner jumping it
 * was cut to -21.2 dB there), from 60 ms after it the notch is there
 * (below -50 dB). */
START_TEST(phaser_center_glides)
{
    const float rate = 48000.0f;
    const long jump = (long)(0.5 * rate), n = jump + (long)(0.2 * rate), block = (long)(0.005 * rate);
    double f = rate / M_PI * atan(tan(M_PI / 12) * tan(M_PI * 2000 / rate));
    float *x = malloc(n * sizeof(float));
    for (long i = 0; i < n; i++)
        x[i] = (float)sin(2 * M_PI * f * (double)i / rate);
    PhaserRun p;
    phaser_start(&p, rate, 1000, 0);
    Command c = host_param(jump, p.center, 2000.0f);
    float **out = alloc_out(p.d, n);
    const float *in[2] = { x, x };
    host_render(&p.hp, &c, 1, in, out, n);
    double before = dbfs(sine_amplitude(out[0], jump - 4 * block, 4 * block, f, rate));
    double soon = dbfs(sine_amplitude(out[0], jump, block, f, rate));
    double later = -999;
    for (long b = jump + (long)(0.06 * rate); b + block <= n; b += block)
        later = fmax(later, dbfs(sine_amplitude(out[0], b, block, f, rate)));
    printf("phaser, center 1 -> 2 kHz, a sine at %.1f Hz: %.1f dB before, %.1f dB in the 5 ms after, "
           "at most %.1f dB from 60 ms on\n", f, before, soon, later);
    ck_assert_msg(before > -12, "%.1f dB before the jump", before);
    ck_assert_msg(soon > -10, "the corner jumped: %.1f dB in the 5 ms after", soon);
    ck_assert_msg(later < -50, "no notch 60 ms after: %.1f dB", later);
    free_out(p.d, out);
    host_free(&p.hp);
    free(x);
}
END_TEST

/* ---- deterministic output ------------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

/* ampc run as a program from the repository root and from tests/ (with a
 * different environment size, as another shell would have), writing to
 * folders of different lengths: the C and the JSON are the same bytes.
 * For a plain patch and for Faust imports, the 2 x 64-band vocoder among
 * them (faust's own output used to vary from run to run for it). */
START_TEST(same_bytes_from_any_folder)
{
    static const char *const units[][2] = {
        { "nodes/pad.amp", "pad" }, { "nodes/hall.amp", "hall" }, { "tests/fixtures/vocoder.amp", "voc" },
    };
    char root[512], bin[600], ampc[1200];
    ck_assert_ptr_nonnull(getcwd(root, sizeof root));
    snprintf(bin, sizeof bin, "%s", amp_bin);
    strcpy(strrchr(bin, '/') + 1, "ampc");
    snprintf(ampc, sizeof ampc, "%s%s%s", bin[0] == '/' ? "" : root, bin[0] == '/' ? "" : "/", bin);
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        char cmd[4096], first[700], path[800];
        size_t n0 = 0, j0 = 0;
        char *c0 = NULL, *json0 = NULL;
        for (int run = 0; run < 3; run++) {
            char out[700];
            snprintf(out, sizeof out, "%s/out%d%s", tmp_dir, run, run == 1 ? "_a_longer_folder_name" : "");
            snprintf(cmd, sizeof cmd, "mkdir -p %s && cd %s && %s %s %s%s -o %s", out, run ? "tests" : ".",
                     run == 2 ? "env PADDING=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" : "", ampc,
                     run ? "../" : "", units[u][0], out);
            ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
            size_t n, j;
            snprintf(path, sizeof path, "%s/%s.c", out, units[u][1]);
            char *c = slurp(path, &n);
            snprintf(path, sizeof path, "%s/%s.json", out, units[u][1]);
            char *json = slurp(path, &j);
            ck_assert_msg(c && json, "%s: no output", cmd);
            if (run == 0) {
                c0 = c;
                json0 = json;
                n0 = n;
                j0 = j;
                snprintf(first, sizeof first, "%s", out);
                continue;
            }
            ck_assert_msg(n == n0 && !memcmp(c, c0, n), "%s: the C differs from the one in %s", cmd, first);
            ck_assert_msg(j == j0 && !memcmp(json, json0, j), "%s: the JSON differs from the one in %s", cmd, first);
            ck_assert_msg(!strstr(c, tmp_dir) && !strstr(c, root), "%s: a path in the C", units[u][0]);
            free(c);
            free(json);
        }
        printf("%s: the same %zu bytes of C from three folders\n", units[u][0], n0);
        free(c0);
        free(json0);
    }
}
END_TEST

static Suite *sound_suite(void)
{
    Suite *s = suite_create("sound");
    TCase *ranges = tcase_create("ranges");
    tcase_set_timeout(ranges, 120);
    tcase_add_test(ranges, bound_param_clamped_to_its_range);
    tcase_add_test(ranges, math_out_of_domain_defined);
    tcase_add_test(ranges, amp_render_refuses);
    suite_add_tcase(s, ranges);
    TCase *rates = tcase_create("rates");
    tcase_set_timeout(rates, 120);
    tcase_add_test(rates, echo_lands_at_every_rate);
    suite_add_tcase(s, rates);
    TCase *library = tcase_create("library");
    tcase_set_timeout(library, 300);
    tcase_add_test(library, stereo_delay_corners_bounded);
    tcase_add_test(library, biquads_modulated_stay_finite);
    tcase_add_test(library, hall_no_denormals);
    tcase_add_loop_test(library, reverb_bounded_at_192k, 0, 2);
    tcase_add_test(library, phaser_notches_with_feedback);
    tcase_add_test(library, phaser_loud_resonance_held);
    tcase_add_test(library, phaser_jumping_center_bounded);
    tcase_add_test(library, phaser_center_glides);
    suite_add_tcase(s, library);
    TCase *bytes = tcase_create("deterministic");
    tcase_set_timeout(bytes, 300);
    tcase_add_test(bytes, same_bytes_from_any_folder);
    suite_add_tcase(s, bytes);
    return s;
}

int main(int argc, char **argv)
{
    (void)argc;
    if (testutil_amp_setup(argv[0], "check_sound", amp_bin, sizeof amp_bin, tmp_dir, sizeof tmp_dir))
        return EXIT_FAILURE;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = testutil_run(sound_suite());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_sound: %.1f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    testutil_remove_tree(tmp_dir);
    return rc;
}
