/* check_dsp.c — the node library measured on rendered sound.
 *
 * Each test compiles a small patch from text (ampc_compile_text, anchored at
 * tests/check_dsp.amp so that `import "../nodes/std/osc.amp";` resolves),
 * builds it into a shared object (build_shared_object, cached under
 * $AMP_CACHE; a temporary cache when it is unset) and renders it with the
 * host, sample-accurately. Then it measures:
 *
 *   oscillators  frequency error of sine / saw / square / triangle (cents),
 *                alias energy of the band-limited saw against a naive one;
 *   filters      -3 dB points of the biquads and the SVF, gains at the
 *                centre / far from the corner of the other filters;
 *   envelopes    attack / decay / release times of adsr, ar, perc;
 *   timing       a note starts, and a note-off acts, at exactly the
 *                scheduled sample; stealing takes the oldest voice without
 *                a click;
 *   robustness   the instruments and effects in nodes/ put out no NaN, Inf
 *                or denormal after 20 s of silence.
 *
 * The measured numbers are printed, so the run log shows them. Run from the
 * repository root (build/tests/check_dsp).
 */
#include <float.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ampc.h"
#include "build.h"
#include "host.h"
#include "testutil.h"
#include "voice.h"

#define SR 48000.0
#define TWO_PI 6.283185307179586

#define PATCH_PATH "tests/check_dsp.amp"   /* anchors relative imports */
#define STD_IMPORTS                                             \
    "import \"../nodes/std/osc.amp\";\n"                        \
    "import \"../nodes/std/env.amp\";\n"                        \
    "import \"../nodes/std/filter.amp\";\n"

/* ---- bounds -------------------------------------------------------------- */

/* Oscillator pitch: a tenth of a cent (the ear's limit is ~5 cents). */
#define MAX_CENTS 0.1
/* Aliasing of the band-limited saw (osc.amp: a third-order polyBLEP, the
 * integral of a cubic B-spline over four samples), measured at 48 kHz with
 * a 65536-point Blackman-Harris spectrum (see measure_aliasing):
 *                      1244.5 Hz   2489 Hz   4978 Hz
 *   total alias energy  -41.2 dB   -36.7 dB  -30.8 dB
 *   ... below 10 kHz    -81.2 dB   -81.3 dB  -74.8 dB
 *   strongest product   -43.0 dB   -36.6 dB  -30.0 dB (re the fundamental)
 *   naive saw, total    -15.1 dB   -11.9 dB   -8.7 dB
 *   ... below 10 kHz    -19.6 dB   -16.6 dB  -13.5 dB
 * (The earlier two-sample polyBLEP measured -31.1 / -27.1 / -22.1 dB total
 * and -54.1 / -52.2 / -46.8 dB below 10 kHz: these bounds reject it.) Most
 * alias energy lands near Nyquist, folded from the harmonics just above it.
 * Bounds: the worst case with about 3 dB to spare. */
#define SAW_ALIAS_MAX_DB (-27.0)
#define SAW_ALIAS_LOW_MAX_DB (-71.0)
/* The square (same polyBLEP on both edges) and the triangle (the square,
 * integrated) measure, total / below 10 kHz / strongest:
 *   square    -44.6 / -81.2 / -45.6   -42.0 / -89.0 / -42.2   -30.5 / -90.2 / -30.0 dB
 *   triangle  -65.6 / -94.7 / -67.3   -57.1 / -92.2 / -57.8   -40.3 / -90.8 / -39.9 dB
 * The square is held to the saw's bounds, the triangle to its own. */
#define TRIANGLE_ALIAS_MAX_DB (-37.0)
#define TRIANGLE_ALIAS_LOW_MAX_DB (-87.0)
/* ...and the naive saw must be at least this much worse on both. */
#define NAIVE_WORSE_BY_DB 10.0
/* -3 dB points: within 2 % of the cutoff. */
#define CUTOFF_TOLERANCE 0.02
/* Gains at a centre / far from a corner: within 0.2 dB. */
#define GAIN_TOLERANCE_DB 0.2
/* Envelope segment times: within 1 ms. */
#define SEGMENT_TOLERANCE_S 0.001

/* ---- output -------------------------------------------------------------- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* ---- building patches ---------------------------------------------------- */

/* Compile `text` (unit: `unit`, or the last patch) and build it. */
static const AmpPatchDesc *build_text(const char *text, const char *unit)
{
    AmpcOptions opt = { .unit = unit };
    Diag diag;
    diag_init(&diag, stderr);
    AmpcResult r;
    ck_assert_msg(ampc_compile_text(PATCH_PATH, text, strlen(text), &opt, &diag, &r) == 0,
                  "ampc failed on unit %s (diagnostics on stderr)", unit ? unit : "(last patch)");
    static char err[16384];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s", err);
    ampc_result_free(&r);
    return d;
}

/* A node of the standard library as the whole unit. */
static const AmpPatchDesc *build_std(const char *node)
{
    return build_text(STD_IMPORTS, node);
}

static const AmpPatchDesc *build_file(const char *path)
{
    AmpcOptions opt = { 0 };
    Diag diag;
    diag_init(&diag, stderr);
    AmpcResult r;
    ck_assert_msg(ampc_compile_file(path, &opt, &diag, &r) == 0, "ampc failed on %s (run from the repository root)", path);
    static char err[16384];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s", err);
    ampc_result_free(&r);
    return d;
}

static int param_index(const AmpPatchDesc *d, const char *name)
{
    for (int i = 0; i < d->n_params; i++)
        if (!strcmp(d->params[i].name, name))
            return i;
    ck_abort_msg("%s has no param '%s'", d->name, name);
    return -1;
}

/* ---- rendering ----------------------------------------------------------- */

/* A multichannel buffer: ch[c][0..n). */
typedef struct Buf {
    int nch;
    long n;
    float *ch[HOST_MAX_CHANNELS];
} Buf;

static Buf buf_new(int nch, long n)
{
    Buf b = { .nch = nch, .n = n };
    for (int c = 0; c < nch; c++) {
        b.ch[c] = calloc((size_t)n, sizeof(float));
        ck_assert_ptr_nonnull(b.ch[c]);
    }
    return b;
}

static void buf_free(Buf *b)
{
    for (int c = 0; c < b->nch; c++)
        free(b->ch[c]);
    b->nch = 0;
}

/* Render `n` frames of d from a fresh state, with events (all must apply)
 * and optional inputs (in->ch, each n long). */
static Buf render(const AmpPatchDesc *d, const Command *ev, int nev, const Buf *in, long n)
{
    HostPatch hp;
    char err[256];
    ck_assert_msg(host_init(&hp, d, (float)SR, err, sizeof err) == 0, "%s", err);
    Buf out = buf_new(d->n_outputs, n);
    const float *ins[HOST_MAX_CHANNELS] = { 0 };
    for (int c = 0; in && c < in->nch && c < d->n_inputs; c++)
        ins[c] = in->ch[c];
    int applied = host_render(&hp, ev, nev, ins, out.ch, n);
    ck_assert_int_eq(applied, nev);
    host_free(&hp);
    return out;
}

/* ---- spectral tools ------------------------------------------------------ */

/* 4-term Blackman-Harris window (sidelobes -92 dB), symmetric, length n. */
static void blackman_harris(double *w, long n)
{
    for (long i = 0; i < n; i++) {
        double t = TWO_PI * (double)i / (double)(n - 1);
        w[i] = 0.35875 - 0.48829 * cos(t) + 0.14128 * cos(2 * t) - 0.01168 * cos(3 * t);
    }
}

/* In-place radix-2 FFT of re/im, n a power of two. */
static void fft(double *re, double *im, long n)
{
    for (long i = 1, j = 0; i < n; i++) {
        long bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = re[i]; re[i] = re[j]; re[j] = t;
            t = im[i]; im[i] = im[j]; im[j] = t;
        }
    }
    for (long len = 2; len <= n; len <<= 1) {
        double ang = -TWO_PI / (double)len;
        for (long k = 0; k < len / 2; k++) {
            double wr = cos(ang * (double)k), wi = sin(ang * (double)k);
            for (long i = k; i < n; i += len) {
                long j = i + len / 2;
                double xr = re[j] * wr - im[j] * wi;
                double xi = re[j] * wi + im[j] * wr;
                re[j] = re[i] - xr;
                im[j] = im[i] - xi;
                re[i] += xr;
                im[i] += xi;
            }
        }
    }
}

/* Power spectrum |X[k]|^2, k in [0, n/2], of x[0..n) under a
 * Blackman-Harris window. Returns a malloc'd array of n/2 + 1. */
static double *power_spectrum(const float *x, long n)
{
    double *re = malloc(sizeof(double) * (size_t)n), *im = calloc((size_t)n, sizeof(double));
    double *w = malloc(sizeof(double) * (size_t)n), *p = malloc(sizeof(double) * (size_t)(n / 2 + 1));
    ck_assert(re && im && w && p);
    blackman_harris(w, n);
    for (long i = 0; i < n; i++)
        re[i] = x[i] * w[i];
    fft(re, im, n);
    for (long k = 0; k <= n / 2; k++)
        p[k] = re[k] * re[k] + im[k] * im[k];
    free(re);
    free(im);
    free(w);
    return p;
}

/* Complex amplitude of x[from..from+len) at frequency f (Hz), under a
 * Blackman-Harris window, normalised so that a sine of amplitude A gives
 * |.| = A; the phase is referred to absolute sample 0, at the window's
 * centre. */
static void tone_at(const float *x, long from, long len, double f, double *re_out, double *im_out)
{
    double *w = malloc(sizeof(double) * (size_t)len);
    ck_assert_ptr_nonnull(w);
    blackman_harris(w, len);
    double re = 0, im = 0, sw = 0;
    for (long i = 0; i < len; i++) {
        long t = from + i;
        double cyc = fmod(f * (double)t / SR, 1.0);
        re += w[i] * x[t] * cos(TWO_PI * cyc);
        im -= w[i] * x[t] * sin(TWO_PI * cyc);
        sw += w[i];
    }
    free(w);
    *re_out = 2 * re / sw;
    *im_out = 2 * im / sw;
}

static double amplitude_at(const float *x, long from, long len, double f)
{
    double re, im;
    tone_at(x, from, len, f, &re, &im);
    return hypot(re, im);
}

/* Frequency of the fundamental of x[0..n), near `nominal`:
 *  1. coarse: the peak of a 65536-point Blackman-Harris spectrum within
 *     +-6 % of nominal, refined by a parabola through the log magnitudes;
 *  2. fine: the signal is demodulated at the coarse frequency in 0.25 s
 *     Blackman-Harris windows (hop 0.125 s) — the harmonics fall far
 *     outside the window's main lobe — and the slope of the unwrapped phase
 *     against time (least squares) is the remaining frequency offset.
 * n must be at least 65536. */
static double measure_freq(const float *x, long n, double nominal)
{
    const long N = 65536;
    ck_assert_int_ge(n, N);
    double *p = power_spectrum(x + (n - N), N);
    long lo = (long)floor(nominal * 0.94 * N / SR), hi = (long)ceil(nominal * 1.06 * N / SR);
    if (lo < 1)
        lo = 1;
    long k = lo;
    for (long i = lo; i <= hi; i++)
        if (p[i] > p[k])
            k = i;
    double a = log(p[k - 1]), b = log(p[k]), c = log(p[k + 1]);
    double coarse = ((double)k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / N;
    free(p);

    const long B = (long)(0.25 * SR), H = B / 2;
    double st = 0, sp = 0, stt = 0, stp = 0, prev = 0, unwrap = 0;
    int m = 0;
    for (long s = 0; s + B <= n; s += H, m++) {
        double re, im;
        tone_at(x, s, B, coarse, &re, &im);
        double ph = atan2(im, re);
        if (m > 0) {
            double d = ph - prev;
            d -= TWO_PI * floor(d / TWO_PI + 0.5);
            unwrap += d;
        }
        prev = ph;
        double t = (double)s + (double)(B - 1) / 2;
        st += t;
        sp += unwrap;
        stt += t * t;
        stp += t * unwrap;
    }
    ck_assert_int_ge(m, 3);
    double slope = (m * stp - st * sp) / (m * stt - st * st);   /* rad per sample */
    return coarse + slope * SR / TWO_PI;
}

static double cents(double f, double ref)
{
    return 1200.0 * log2(f / ref);
}

/* ---- build cache ---------------------------------------------------------- */

static char tmp_cache[64];

/* ==== oscillators ========================================================== */

static const double test_freqs[] = { 55.0, 261.63, 440.0, 1000.0, 3520.0 };
#define N_TEST_FREQS (sizeof test_freqs / sizeof test_freqs[0])

/* The frequency measure itself is exact to well below the bound: synthetic
 * signals, computed in double, 0.05 cent sharp. */
START_TEST(test_measure_is_accurate)
{
    const long n = (long)(1.5 * SR);
    float *x = malloc(sizeof(float) * (size_t)n);
    ck_assert_ptr_nonnull(x);
    for (size_t j = 0; j < N_TEST_FREQS; j++) {
        double f = test_freqs[j] * pow(2.0, 0.05 / 1200.0);
        for (int shape = 0; shape < 2; shape++) {
            for (long i = 0; i < n; i++) {
                double t = fmod(f * (double)i / SR + 0.1, 1.0);
                x[i] = (float)(shape == 0 ? sin(TWO_PI * t) : 2 * t - 1);   /* sine, naive saw */
            }
            double got = measure_freq(x, n, test_freqs[j]);
            double err = cents(got, f);
            say("measure self-test %s %8.2f Hz: error %+.5f cent\n", shape ? "saw " : "sine", f, err);
            ck_assert_msg(fabs(err) < 0.005, "frequency measure off by %g cent at %g Hz", err, f);
        }
    }
    free(x);
}
END_TEST

START_TEST(test_oscillator_pitch)
{
    static const char *const shapes[] = { "sine", "saw", "square", "triangle" };
    const long n = (long)(1.5 * SR);
    double worst = 0;
    for (int s = 0; s < 4; s++) {
        const AmpPatchDesc *d = build_std(shapes[s]);
        int fi = param_index(d, "freq");
        for (size_t j = 0; j < N_TEST_FREQS; j++) {
            Command ev[1] = { host_param(0, fi, (float)test_freqs[j]) };
            Buf out = render(d, ev, 1, NULL, n);
            double f = measure_freq(out.ch[0], n, test_freqs[j]);
            double c = cents(f, test_freqs[j]);
            say("pitch %-8s %8.2f Hz: measured %11.5f Hz, %+.5f cent\n", shapes[s], test_freqs[j], f, c);
            ck_assert_msg(fabs(c) < MAX_CENTS, "%s at %g Hz is %+.4f cent off", shapes[s], test_freqs[j], c);
            worst = fmax(worst, fabs(c));
            buf_free(&out);
        }
    }
    say("pitch: worst |error| %.5f cent (bound %.2f)\n", worst, MAX_CENTS);
}
END_TEST

/* Aliasing of an oscillator unit at f0, from a 65536-point Blackman-
 * Harris spectrum after 0.1 s of settling. A bin is "harmonic" within +-8
 * bins (the window's main lobe is +-4) of a multiple of f0 below Nyquist;
 * the bins around DC count nowhere; every other bin holds alias products.
 *   total   alias energy / all energy, dB;
 *   low     alias energy below 10 kHz / all energy, dB;
 *   peak    the strongest alias bin / the fundamental's peak bin, dB. */
typedef struct Aliasing {
    double total, low, peak;
} Aliasing;

static Aliasing measure_aliasing(const AmpPatchDesc *d, double f0)
{
    const long N = 65536, skip = (long)(0.1 * SR);
    Command ev[1] = { host_param(0, param_index(d, "freq"), (float)f0) };
    Buf out = render(d, ev, 1, NULL, N + skip);
    double *p = power_spectrum(out.ch[0] + skip, N);
    char *harmonic = calloc((size_t)(N / 2 + 1), 1);
    ck_assert_ptr_nonnull(harmonic);
    for (int h = 0; h * f0 < SR / 2 + f0; h++) {
        long c = lround(h * f0 * N / SR);
        for (long k = c - 8; k <= c + 8; k++)
            if (k >= 0 && k <= N / 2)
                harmonic[k] = h == 0 ? 2 : 1;   /* 2: DC */
    }
    long f1 = lround(f0 * N / SR), k10 = lround(10000.0 * N / SR);
    double total = 0, alias = 0, low = 0, peak = 0, fund = 0;
    for (long k = 0; k <= N / 2; k++) {
        if (harmonic[k] == 2)
            continue;
        total += p[k];
        if (!harmonic[k]) {
            alias += p[k];
            low += k <= k10 ? p[k] : 0;
            peak = fmax(peak, p[k]);
        }
        if (labs(k - f1) <= 8)
            fund = fmax(fund, p[k]);
    }
    free(harmonic);
    free(p);
    buf_free(&out);
    ck_assert(total > 0 && fund > 0);
    return (Aliasing){ 10 * log10(alias / total + 1e-30), 10 * log10(low / total + 1e-30),
                       10 * log10(peak / fund + 1e-30) };
}

START_TEST(test_saw_aliasing)
{
    static const double f0s[] = { 1244.5, 2489.0, 4978.0 };
    const AmpPatchDesc *blep = build_std("saw");
    const AmpPatchDesc *naive = build_text(
        "node naivesaw {\n"
        "  out y;\n"
        "  param freq = 440 hz in [0 hz, 20 khz];\n"
        "  state phase = 0;\n"
        "  let inc = freq / SR;\n"
        "  process {\n"
        "    y = 2 * phase - 1;\n"
        "    phase = fract(phase + inc);\n"
        "  }\n"
        "}\n", "naivesaw");
    for (size_t j = 0; j < sizeof f0s / sizeof f0s[0]; j++) {
        Aliasing a = measure_aliasing(blep, f0s[j]);
        Aliasing b = measure_aliasing(naive, f0s[j]);
        say("aliasing at %6.1f Hz: saw: total %6.2f dB, below 10 kHz %6.2f dB, strongest %6.2f dB; "
            "naive saw: %6.2f / %6.2f / %6.2f dB\n", f0s[j], a.total, a.low, a.peak, b.total, b.low, b.peak);
        ck_assert_msg(a.total < SAW_ALIAS_MAX_DB, "saw at %g Hz: alias energy %.2f dB", f0s[j], a.total);
        ck_assert_msg(a.low < SAW_ALIAS_LOW_MAX_DB, "saw at %g Hz: alias energy below 10 kHz %.2f dB", f0s[j], a.low);
        ck_assert_msg(b.total > a.total + NAIVE_WORSE_BY_DB && b.low > a.low + NAIVE_WORSE_BY_DB,
                      "the measure does not tell the naive saw (%.2f, %.2f dB) from the saw (%.2f, %.2f dB)",
                      b.total, b.low, a.total, a.low);
    }
}
END_TEST

START_TEST(test_square_triangle_aliasing)
{
    static const double f0s[] = { 1244.5, 2489.0, 4978.0 };
    static const struct {
        const char *node;
        double total_max, low_max;
    } shapes[] = {
        { "square", SAW_ALIAS_MAX_DB, SAW_ALIAS_LOW_MAX_DB },
        { "triangle", TRIANGLE_ALIAS_MAX_DB, TRIANGLE_ALIAS_LOW_MAX_DB },
    };
    for (int k = 0; k < 2; k++) {
        const AmpPatchDesc *d = build_std(shapes[k].node);
        for (size_t j = 0; j < sizeof f0s / sizeof f0s[0]; j++) {
            Aliasing a = measure_aliasing(d, f0s[j]);
            say("aliasing at %6.1f Hz: %-8s total %6.2f dB, below 10 kHz %6.2f dB, strongest %6.2f dB\n", f0s[j],
                shapes[k].node, a.total, a.low, a.peak);
            ck_assert_msg(a.total < shapes[k].total_max, "%s at %g Hz: alias energy %.2f dB", shapes[k].node, f0s[j], a.total);
            ck_assert_msg(a.low < shapes[k].low_max, "%s at %g Hz: alias energy below 10 kHz %.2f dB", shapes[k].node, f0s[j],
                          a.low);
        }
    }
}
END_TEST

/* ==== filters =============================================================== */

/* Gain in dB of output `port` of the filter unit d (params set from
 * names/values) for a sine at f: steady state (0.1 s settling), complex
 * amplitude of output over input in a window of max(0.2 s, 40 periods). */
typedef struct FilterSetup {
    const AmpPatchDesc *d;
    int port;
    int np;
    const char *names[4];
    float values[4];
} FilterSetup;

static double filter_gain_db(const FilterSetup *fs, double f)
{
    long settle = (long)(0.1 * SR);
    long win = (long)fmax(0.2 * SR, 40.0 * SR / f);
    long n = settle + win;
    Buf in = buf_new(fs->d->n_inputs, n);
    for (long i = 0; i < n; i++)
        in.ch[0][i] = (float)(0.5 * sin(TWO_PI * fmod(f * (double)i / SR, 1.0)));
    Command ev[4];
    for (int i = 0; i < fs->np; i++)
        ev[i] = host_param(0, param_index(fs->d, fs->names[i]), fs->values[i]);
    Buf out = render(fs->d, ev, fs->np, &in, n);
    double g = amplitude_at(out.ch[fs->port], settle, win, f) / amplitude_at(in.ch[0], settle, win, f);
    buf_free(&in);
    buf_free(&out);
    return 20 * log10(g);
}

/* The frequency in [lo, hi] where the gain crosses `target` dB (the gain
 * rising with frequency when rising is set), by bisection on log f. */
static double find_crossing(const FilterSetup *fs, double lo, double hi, double target, int rising)
{
    for (int it = 0; it < 24; it++) {
        double mid = sqrt(lo * hi);
        double g = filter_gain_db(fs, mid);
        if ((g > target) == rising)
            hi = mid;
        else
            lo = mid;
    }
    return sqrt(lo * hi);
}

#define MINUS_3DB (-3.0103)

START_TEST(test_cutoff_points)
{
    static const double cutoffs[] = { 100.0, 1000.0, 5000.0 };
    struct {
        const char *node, *label;
        int port, rising;
        const char *qname;
        float q;
    } kinds[] = {
        { "lowpass", "lowpass q 0.7071", 0, 0, "q", 0.7071f },
        { "highpass", "highpass q 0.7071", 0, 1, "q", 0.7071f },
        { "svf", "svf lp res 0.2929", 0, 0, "res", 0.2929f },
        { "svf", "svf hp res 0.2929", 2, 1, "res", 0.2929f },
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const AmpPatchDesc *d = build_std(kinds[k].node);
        for (size_t j = 0; j < sizeof cutoffs / sizeof cutoffs[0]; j++) {
            double fc = cutoffs[j];
            FilterSetup fs = { d, kinds[k].port, 2, { "cutoff", kinds[k].qname }, { (float)fc, kinds[k].q } };
            double f3 = find_crossing(&fs, fc / 2, fc * 2, MINUS_3DB, kinds[k].rising);
            double err = f3 / fc - 1;
            say("-3 dB point %-18s cutoff %6.0f Hz: %9.3f Hz (%+.3f %%)\n", kinds[k].label, fc, f3, 100 * err);
            ck_assert_msg(fabs(err) < CUTOFF_TOLERANCE, "%s cutoff %g: -3 dB at %g Hz", kinds[k].label, fc, f3);
        }
    }
}
END_TEST

/* onepole: the pole is placed for exactly -3 dB at the cutoff
 * (a = b - sqrt(b^2 - 1), b = 2 - cos w) with unity gain at DC, so
 * H(z) = (1 - a) / (1 - a z^-1). The high-pass is x - lp. Asserted: the
 * measured gains equal that design within 0.01 dB, the low-pass is -3 dB at
 * every cutoff within 0.05 dB (its -3 dB point within 2 %), and it falls
 * 6 dB per octave far above the cutoff. */
START_TEST(test_onepole)
{
    static const double cutoffs[] = { 100.0, 1000.0, 5000.0 };
    const AmpPatchDesc *d = build_std("onepole");
    for (size_t j = 0; j < sizeof cutoffs / sizeof cutoffs[0]; j++) {
        double fc = cutoffs[j];
        double w = TWO_PI * fc / SR, bb = 2 - cos(w), a = bb - sqrt(bb * bb - 1);
        double den = sqrt(1 - 2 * a * cos(w) + a * a);
        double want_lp = 20 * log10((1 - a) / den);
        double want_hp = 20 * log10(a * sqrt(2 - 2 * cos(w)) / den);   /* |a (1 - z^-1)| / |1 - a z^-1| */
        FilterSetup lp = { d, 0, 1, { "cutoff" }, { (float)fc } };
        FilterSetup hp = { d, 1, 1, { "cutoff" }, { (float)fc } };
        double glp = filter_gain_db(&lp, fc), ghp = filter_gain_db(&hp, fc);
        double f3 = find_crossing(&lp, fc / 2, fmin(fc * 2, 0.49 * SR), MINUS_3DB, 0);
        say("onepole cutoff %6.0f Hz: lp %+.4f dB (design %+.4f), hp %+.4f dB (design %+.4f), lp -3 dB at %.2f Hz (%+.2f %%)\n",
            fc, glp, want_lp, ghp, want_hp, f3, 100 * (f3 / fc - 1));
        ck_assert_msg(fabs(glp - want_lp) < 0.01, "onepole lp at %g Hz: %g dB, design %g dB", fc, glp, want_lp);
        ck_assert_msg(fabs(ghp - want_hp) < 0.01, "onepole hp at %g Hz: %g dB, design %g dB", fc, ghp, want_hp);
        ck_assert_msg(fabs(glp - MINUS_3DB) < 0.05, "onepole lp at its cutoff %g Hz: %g dB", fc, glp);
        ck_assert_msg(fabs(f3 / fc - 1) < CUTOFF_TOLERANCE, "onepole -3 dB point %g Hz for cutoff %g", f3, fc);
    }
    FilterSetup lp = { d, 0, 1, { "cutoff" }, { 100.0f } };
    double slope = filter_gain_db(&lp, 800.0) - filter_gain_db(&lp, 1600.0);
    say("onepole cutoff 100 Hz: %.3f dB per octave from 800 to 1600 Hz\n", slope);
    ck_assert_msg(fabs(slope - 6.0) < 0.3, "onepole slope %g dB/octave", slope);
}
END_TEST

START_TEST(test_band_and_shelf_gains)
{
    const AmpPatchDesc *bp = build_std("bandpass");
    const AmpPatchDesc *pk = build_std("peak");
    const AmpPatchDesc *ls = build_std("lowshelf");
    const AmpPatchDesc *hs = build_std("highshelf");
    static const double centres[] = { 100.0, 1000.0, 5000.0 };
    for (size_t j = 0; j < 3; j++) {
        double fc = centres[j];
        FilterSetup fs = { bp, 0, 2, { "cutoff", "q" }, { (float)fc, 2.0f } };
        double g = filter_gain_db(&fs, fc);
        double off = filter_gain_db(&fs, fc * 4);
        say("bandpass q 2 centre %6.0f Hz: %+.4f dB at the centre, %+.2f dB two octaves up\n", fc, g, off);
        ck_assert_msg(fabs(g) < GAIN_TOLERANCE_DB, "bandpass at its centre %g Hz: %g dB", fc, g);
        ck_assert_msg(off < -10.0, "bandpass two octaves above %g Hz: %g dB", fc, off);

        static const float pgains[] = { 6.0f, -12.0f };
        for (int i = 0; i < 2; i++) {
            FilterSetup pf = { pk, 0, 3, { "cutoff", "q", "gain" }, { (float)fc, 1.0f, pgains[i] } };
            double gp = filter_gain_db(&pf, fc);
            double far = filter_gain_db(&pf, fc < 1000 ? fc * 32 : fc / 32);
            say("peak %+5.1f dB centre %6.0f Hz: %+.4f dB at the centre, %+.4f dB five octaves away\n", pgains[i], fc, gp,
                far);
            ck_assert_msg(fabs(gp - pgains[i]) < GAIN_TOLERANCE_DB, "peak %g dB at %g Hz: %g dB", pgains[i], fc, gp);
            ck_assert_msg(fabs(far) < GAIN_TOLERANCE_DB, "peak far from %g Hz: %g dB", fc, far);
        }
    }
    static const float sgains[] = { 6.0f, -12.0f, 18.0f };
    for (int i = 0; i < 3; i++) {
        /* low shelf, corner 500 Hz: gain at 20 Hz, 0 dB at 12.5 kHz */
        FilterSetup lf = { ls, 0, 2, { "cutoff", "gain" }, { 500.0f, sgains[i] } };
        double below = filter_gain_db(&lf, 20.0), above = filter_gain_db(&lf, 12500.0);
        /* high shelf, corner 1 kHz: gain at 20 kHz, 0 dB at 40 Hz */
        FilterSetup hf = { hs, 0, 2, { "cutoff", "gain" }, { 1000.0f, sgains[i] } };
        double hbelow = filter_gain_db(&hf, 40.0), habove = filter_gain_db(&hf, 20000.0);
        say("lowshelf  %+5.1f dB corner  500 Hz: %+.4f dB at 20 Hz, %+.4f dB at 12.5 kHz\n", sgains[i], below, above);
        say("highshelf %+5.1f dB corner 1000 Hz: %+.4f dB at 20 kHz, %+.4f dB at 40 Hz\n", sgains[i], habove, hbelow);
        ck_assert_msg(fabs(below - sgains[i]) < GAIN_TOLERANCE_DB, "lowshelf %g dB: %g dB at 20 Hz", sgains[i], below);
        ck_assert_msg(fabs(above) < GAIN_TOLERANCE_DB, "lowshelf %g dB: %g dB at 12.5 kHz", sgains[i], above);
        ck_assert_msg(fabs(habove - sgains[i]) < GAIN_TOLERANCE_DB, "highshelf %g dB: %g dB at 20 kHz", sgains[i], habove);
        ck_assert_msg(fabs(hbelow) < GAIN_TOLERANCE_DB, "highshelf %g dB: %g dB at 40 Hz", sgains[i], hbelow);
    }
}
END_TEST

/* ==== envelopes ============================================================= */

/* The first index i >= from where y[i] >= level (or <= level), or -1. */
static long first_at_or_above(const float *y, long from, long n, double level)
{
    for (long i = from; i < n; i++)
        if (y[i] >= level)
            return i;
    return -1;
}

static long first_at_or_below(const float *y, long from, long n, double level)
{
    for (long i = from; i < n; i++)
        if (y[i] <= level)
            return i;
    return -1;
}

static void check_time(const char *what, long samples, double want_s)
{
    double got = (double)samples / SR;
    say("%-44s %9.3f ms (set %8.3f ms, %+6.3f ms, %ld samples)\n", what, 1000 * got, 1000 * want_s,
        1000 * (got - want_s), samples);
    ck_assert_msg(samples >= 0, "%s: never reached", what);
    ck_assert_msg(fabs(got - want_s) < SEGMENT_TOLERANCE_S, "%s: %g ms, set %g ms", what, 1000 * got, 1000 * want_s);
}

/* Times are counted in the envelope's steps: the gate rises (or falls)
 * before sample G is rendered, and sample G is the first step, so a
 * segment that ends at sample E took E - G + 1 steps. Decay runs from the
 * peak sample P (the attack's last step): E - P steps. */
START_TEST(test_adsr_times)
{
    const AmpPatchDesc *d = build_std("adsr");
    static const double attacks[] = { 0.010, 0.100 };
    static const double decays[] = { 0.200, 0.050 };
    const double sustain = 0.5, release = 0.300;
    const long G = 1000, R = (long)(1.2 * SR), n = (long)(1.8 * SR);
    for (int j = 0; j < 2; j++) {
        Command ev[6] = {
            host_param(0, param_index(d, "attack"), (float)attacks[j]),       /* seconds: the unit */
            host_param(0, param_index(d, "decay"), (float)decays[j]),
            host_param(0, param_index(d, "sustain"), (float)sustain),
            host_param(0, param_index(d, "release"), (float)release),
            host_param(G, param_index(d, "gate"), 1.0f),
            host_param(R, param_index(d, "gate"), 0.0f),
        };
        ck_assert_int_eq(d->params[param_index(d, "attack")].unit, AMP_UNIT_S);
        Buf out = render(d, ev, 6, NULL, n);
        const float *y = out.ch[0];
        ck_assert_float_eq(y[G - 1], 0.0f);
        ck_assert_float_gt(y[G], 0.0f);
        char what[80];
        long P = first_at_or_above(y, G, n, 1.0);
        ck_assert_int_ge(P, 0);
        ck_assert_float_eq(y[P], 1.0f);
        snprintf(what, sizeof what, "adsr attack %.0f ms (gate to 1.0)", attacks[j] * 1000);
        check_time(what, P - G + 1, attacks[j]);
        long D = first_at_or_below(y, P, n, sustain + 0.001 * (1 - sustain));
        snprintf(what, sizeof what, "adsr decay %.0f ms (peak to 99.9 %%)", decays[j] * 1000);
        check_time(what, D < 0 ? -1 : D - P, decays[j]);
        double at_release = y[R - 1];
        ck_assert_msg(fabs(at_release - sustain) < 1e-4, "sustain level %g, set %g", at_release, sustain);
        long E = first_at_or_below(y, R, n, 0.001 * at_release);
        snprintf(what, sizeof what, "adsr release %.0f ms (to -60 dB)", release * 1000);
        check_time(what, E < 0 ? -1 : E - R + 1, release);
        buf_free(&out);
    }
}
END_TEST

START_TEST(test_ar_and_perc_times)
{
    const long G = 500, R = (long)(0.5 * SR), n = (long)(1.5 * SR);
    const AmpPatchDesc *ar = build_std("ar");
    static const double ar_times[][2] = { { 0.005, 0.300 }, { 0.050, 0.800 } };
    for (int j = 0; j < 2; j++) {
        Command ev[4] = {
            host_param(0, param_index(ar, "attack"), (float)ar_times[j][0]),
            host_param(0, param_index(ar, "release"), (float)ar_times[j][1]),
            host_param(G, param_index(ar, "gate"), 1.0f),
            host_param(R, param_index(ar, "gate"), 0.0f),
        };
        Buf out = render(ar, ev, 4, NULL, n);
        const float *y = out.ch[0];
        char what[80];
        long P = first_at_or_above(y, G, n, 1.0);
        snprintf(what, sizeof what, "ar attack %.0f ms (gate to 1.0)", ar_times[j][0] * 1000);
        check_time(what, P < 0 ? -1 : P - G + 1, ar_times[j][0]);
        ck_assert_float_eq(y[R - 1], 1.0f);
        long E = first_at_or_below(y, R, n, 0.001);
        snprintf(what, sizeof what, "ar release %.0f ms (to -60 dB)", ar_times[j][1] * 1000);
        check_time(what, E < 0 ? -1 : E - R + 1, ar_times[j][1]);
        buf_free(&out);
    }

    const AmpPatchDesc *perc = build_std("perc");
    static const double perc_decays[] = { 0.050, 0.300, 1.000 };
    for (int j = 0; j < 3; j++) {
        /* The gate is released half-way: perc does not care. */
        Command ev[3] = {
            host_param(0, param_index(perc, "decay"), (float)perc_decays[j]),
            host_param(G, param_index(perc, "gate"), 1.0f),
            host_param(G + (long)(perc_decays[j] * SR / 2), param_index(perc, "gate"), 0.0f),
        };
        Buf out = render(perc, ev, 3, NULL, n);
        const float *y = out.ch[0];
        ck_assert_float_eq(y[G - 1], 0.0f);
        ck_assert_float_eq(y[G], 1.0f);
        long E = first_at_or_below(y, G, n, 0.001);
        char what[80];
        snprintf(what, sizeof what, "perc decay %.0f ms (1.0 to -60 dB)", perc_decays[j] * 1000);
        check_time(what, E < 0 ? -1 : E - G, perc_decays[j]);
        buf_free(&out);
    }
}
END_TEST

/* Long exponential segments: env.amp computes the per-sample step
 * c = 1 - exp(-x) without cancellation so that even a 20 s segment keeps
 * its time within the same 1 ms (a float k = exp(-x) next to 1 would be off
 * by up to T^2 SR 2^-25 / ln 1000: 35 ms at 19 s). */
START_TEST(test_long_segments)
{
    static const double times[] = { 4.0, 10.0, 19.0 };
    const AmpPatchDesc *perc = build_std("perc");
    const AmpPatchDesc *adsr = build_std("adsr");
    const long G = 100, n = (long)(20 * SR);
    for (int j = 0; j < 3; j++) {
        double t = times[j], bound = SEGMENT_TOLERANCE_S;
        Command pev[2] = { host_param(0, param_index(perc, "decay"), (float)t), host_param(G, param_index(perc, "gate"), 1.0f) };
        Buf out = render(perc, pev, 2, NULL, n);
        long E = first_at_or_below(out.ch[0], G, n, 0.001);
        double perc_err = (double)(E - G) / SR - t;
        buf_free(&out);

        /* adsr: attack 0, sustain 1, released at G: release from 1.0 */
        Command aev[5] = { host_param(0, param_index(adsr, "attack"), 0.0f), host_param(0, param_index(adsr, "sustain"), 1.0f),
                             host_param(0, param_index(adsr, "release"), (float)t), host_param(0, param_index(adsr, "gate"), 1.0f),
                             host_param(G, param_index(adsr, "gate"), 0.0f) };
        out = render(adsr, aev, 5, NULL, n);
        ck_assert_float_eq(out.ch[0][G - 1], 1.0f);
        long R = first_at_or_below(out.ch[0], G, n, 0.001);
        double rel_err = (double)(R - G + 1) / SR - t;
        buf_free(&out);
        say("long segment %4.0f s: perc decay %+8.3f ms, adsr release %+8.3f ms (bound +-%.3f ms)\n", t, 1000 * perc_err,
            1000 * rel_err, 1000 * bound);
        ck_assert_msg(E > 0 && fabs(perc_err) < bound, "perc decay %g s: off by %g ms", t, 1000 * perc_err);
        ck_assert_msg(R > 0 && fabs(rel_err) < bound, "adsr release %g s: off by %g ms", t, 1000 * rel_err);
    }
}
END_TEST

/* ==== timing ================================================================ */

static const char onset_patch[] = STD_IMPORTS
    "patch onset {\n"
    "  voices 4 steal oldest;\n"
    "  voice {\n"
    "    o = sine(freq: note.freq, phase0: 0.25);\n"     /* cosine: 1 at the first sample */
    "    e = adsr(attack: 5 ms, decay: 100 ms, sustain: 0.8, release: 50 ms, gate: note.gate);\n"
    "    o.y * e.y * note.vel -> out;\n"
    "  }\n"
    "}\n";

static const long onset_frames[] = { 0, 1, 15, 16, 17, 127, 128, 129, 1001, 48000 };
#define N_ONSETS (sizeof onset_frames / sizeof onset_frames[0])

START_TEST(test_note_onset_sample)
{
    const AmpPatchDesc *d = build_text(onset_patch, NULL);
    const long n = 48000 + 2048;
    for (size_t j = 0; j < N_ONSETS; j++) {
        long k = onset_frames[j];
        Command ev[1] = { host_note_on(k, 0, 69, 0.9f) };
        Buf out = render(d, ev, 1, NULL, n);
        long first = testutil_first_nonzero(out.ch[0], 0, n);
        say("note-on at sample %5ld: first non-zero output at %5ld\n", k, first);
        ck_assert_int_eq(first, k);
        ck_assert_int_eq(testutil_first_nonzero(out.ch[1], 0, n), k);
        buf_free(&out);
    }
    /* A second note while the first sounds: the output is the first note's
     * alone up to sample k - 1 and changes at k. */
    Command one[1] = { host_note_on(0, 0, 60, 0.9f) };
    Buf ref = render(d, one, 1, NULL, n);
    for (size_t j = 1; j < N_ONSETS; j++) {
        long k = onset_frames[j];
        Command ev[2] = { host_note_on(0, 0, 60, 0.9f), host_note_on(k, 1, 67, 0.9f) };
        Buf out = render(d, ev, 2, NULL, n);
        ck_assert_msg(memcmp(out.ch[0], ref.ch[0], sizeof(float) * (size_t)k) == 0, "second note at %ld: output changed before it", k);
        ck_assert_msg(out.ch[0][k] != ref.ch[0][k], "second note at %ld: no change at its sample", k);
        buf_free(&out);
    }
    buf_free(&ref);
}
END_TEST

/* A note-off before sample k is rendered sets the gate to 0 for sample k;
 * the envelope updates its state and then outputs it, so sample k is the
 * first that differs from a render without the note-off. */
START_TEST(test_note_off_sample)
{
    const AmpPatchDesc *d = build_text(onset_patch, NULL);
    const long n = 60000;
    Command on[1] = { host_note_on(0, 0, 69, 0.9f) };
    Buf ref = render(d, on, 1, NULL, n);
    static const long offs[] = { 1, 15, 16, 17, 127, 128, 129, 240, 1001, 48000 };
    for (size_t j = 0; j < sizeof offs / sizeof offs[0]; j++) {
        long k = offs[j];
        Command ev[2] = { host_note_on(0, 0, 69, 0.9f), host_note_off(k, 0) };
        Buf out = render(d, ev, 2, NULL, n);
        long first = -1;
        for (long i = 0; i < n && first < 0; i++)
            if (out.ch[0][i] != ref.ch[0][i])
                first = i;
        say("note-off at sample %5ld: output first differs at %5ld\n", k, first);
        ck_assert_int_eq(first, k);
        buf_free(&out);
    }
    buf_free(&ref);
}
END_TEST

/* Three notes on two voices, steal oldest: A (oldest, loud), B (quieter),
 * then C steals. A must be the one that disappears (quietest would take
 * B), and B must go on unchanged. The largest sample-to-sample step around
 * the steal stays within twice the steady one. Controls: with steal none,
 * C is refused and A keeps sounding; cutting the stolen voice instead of
 * fading it steps far beyond the bound. */
static const char steal_patch_fmt[] = STD_IMPORTS
    "patch stealing {\n"
    "  voices 2 steal %s;\n"
    "  voice {\n"
    "    o = sine(freq: note.freq);\n"
    "    e = adsr(attack: 5 ms, decay: 100 ms, sustain: 1, release: 100 ms, gate: note.gate);\n"
    "    o.y * e.y * note.vel * 0.4 -> out;\n"
    "  }\n"
    "}\n";

static double max_step(const float *x, long from, long to)
{
    double m = 0;
    for (long i = from + 1; i < to; i++)
        m = fmax(m, fabs((double)x[i] - x[i - 1]));
    return m;
}

START_TEST(test_steal_oldest)
{
    char text[1024];
    const long T = 24055;                                /* A (220 Hz, from phase 0) is at its peak */
    const long n = 48000, win = 9600;
    const int ka = 57, kb = 64, kc = 69;                 /* 220, 329.63, 440 Hz */
    const double fa = 220.0, fb = 329.6276, fc = 440.0;
    Command ev[3] = { host_note_on(0, 0, ka, 1.0f), host_note_on(2400, 1, kb, 0.5f), host_note_on(T, 2, kc, 1.0f) };

    snprintf(text, sizeof text, steal_patch_fmt, "oldest");
    const AmpPatchDesc *d = build_text(text, NULL);
    Buf out = render(d, ev, 3, NULL, n);
    const float *y = out.ch[0];
    long after = T + 480;                                /* 10 ms: the 3 ms fade is over */
    double a0 = amplitude_at(y, T - win, win, fa), b0 = amplitude_at(y, T - win, win, fb);
    double a1 = amplitude_at(y, after, win, fa), b1 = amplitude_at(y, after, win, fb), c1 = amplitude_at(y, after, win, fc);
    say("steal oldest: before: A %.4f B %.4f; after: A %.2e B %.4f C %.4f\n", a0, b0, a1, b1, c1);
    ck_assert_msg(a0 > 0.3 && b0 > 0.15, "both notes sound before the steal");
    ck_assert_msg(a1 < 1e-4 * a0, "the oldest note (A) still sounds after the steal: %g", a1);
    ck_assert_msg(fabs(b1 - b0) < 0.01 * b0, "note B changed: %g -> %g", b0, b1);
    ck_assert_msg(c1 > 0.3, "the new note does not sound: %g", c1);

    double normal = fmax(max_step(y, T - win, T), max_step(y, T + 2400, n));
    double around = max_step(y, T - 16, T + 480);
    say("steal oldest: max step around the steal %.5f, steady %.5f (ratio %.3f, bound 2)\n", around, normal,
        around / normal);
    ck_assert_msg(around <= 2 * normal, "click at the steal: step %g vs steady %g", around, normal);

    /* Control: the same steal, but the stolen voice cut at once. */
    HostPatch hp;
    char err[256];
    ck_assert_msg(host_init(&hp, d, (float)SR, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(host_render(&hp, ev, 3, NULL, out.ch, T), 2);
    ck_assert_int_ge(voice_note_on(d, hp.state, 2, kc, 1.0f), 0);
    AmpVoiceTable *vt = d->voices(hp.state);
    int cut_slots = 0;
    for (int slot = 0; slot < vt->live; slot++)
        if (vt->note_id[slot] < 0 && vt->gain_step[slot] > 0) {   /* fading: the stolen voice */
            vt->gain[slot] = 0.0f;
            cut_slots++;
        }
    ck_assert_int_eq(cut_slots, 1);
    float *rest[2] = { out.ch[0] + T, out.ch[1] + T };
    host_render(&hp, NULL, 0, NULL, rest, n - T);
    host_free(&hp);
    double cut = max_step(out.ch[0], T - 16, T + 480);
    say("steal oldest, control: cutting the stolen voice steps %.5f (%.1f x steady)\n", cut, cut / normal);
    ck_assert_msg(cut > 5 * normal, "control: a cut steps only %g vs steady %g", cut, normal);
    buf_free(&out);

    snprintf(text, sizeof text, steal_patch_fmt, "none");
    d = build_text(text, NULL);
    out = render(d, ev, 3, NULL, n);
    a1 = amplitude_at(out.ch[0], after, win, fa);
    c1 = amplitude_at(out.ch[0], after, win, fc);
    say("steal none (control): after: A %.4f C %.2e\n", a1, c1);
    ck_assert_msg(a1 > 0.3 && c1 < 1e-4, "steal none: A %g, C %g", a1, c1);
    buf_free(&out);
}
END_TEST

/* ==== robustness ============================================================ */

/* Every sample finite, and either exactly 0 or a normal float. */
static void check_clean(const char *what, const Buf *b, long from)
{
    long zeros = 0, bad = 0, first_bad = -1;
    double peak = 0, tail_peak = 0;
    for (int c = 0; c < b->nch; c++)
        for (long i = 0; i < b->n; i++) {
            float x = b->ch[c][i];
            int ok = isfinite(x) && (x == 0.0f || fabsf(x) >= FLT_MIN);
            if (!ok && first_bad < 0)
                first_bad = i;
            bad += !ok;
            zeros += x == 0.0f;
            if (isfinite(x)) {
                peak = fmax(peak, fabs(x));
                if (i >= from)
                    tail_peak = fmax(tail_peak, fabs(x));
            }
        }
    say("%-14s peak %.4f, peak in the last second %.3g, %ld exact zeros, %ld non-finite or denormal\n", what, peak,
        tail_peak, zeros, bad);
    ck_assert_msg(peak > 0.01, "%s: silent", what);
    ck_assert_msg(bad == 0, "%s: %ld bad samples, the first at frame %ld", what, bad, first_bad);
}

START_TEST(test_instruments_after_silence)
{
    static const struct {
        const char *path;
        int keys[5];
    } inst[] = {
        { "nodes/pad.amp", { 48, 60, 64, 67, 72 } },
        { "nodes/epiano.amp", { 36, 60, 64, 67, 96 } },
        { "nodes/drums.amp", { 36, 38, 42, 46, 50 } },
    };
    const long n = (long)(22 * SR);
    for (size_t j = 0; j < sizeof inst / sizeof inst[0]; j++) {
        const AmpPatchDesc *d = build_file(inst[j].path);
        Command ev[10];
        for (int i = 0; i < 5; i++) {
            ev[i] = host_note_on((long)(i * 0.2 * SR) + 7 * i, i, inst[j].keys[i], 0.3f + 0.15f * (float)i);
            ev[5 + i] = host_note_off((long)(1.5 * SR) + 13 * i, i);   /* after every note-on */
        }
        Buf out = render(d, ev, 10, NULL, n);
        check_clean(inst[j].path, &out, n - (long)SR);
        buf_free(&out);
    }
}
END_TEST

START_TEST(test_effects_after_silence)
{
    static const char *const fx[] = { "nodes/stereo_delay.amp", "nodes/reverb.amp" };
    const long n = (long)(20.5 * SR);
    for (size_t j = 0; j < 2; j++) {
        const AmpPatchDesc *d = build_file(fx[j]);
        ck_assert_int_eq(d->n_inputs, 2);
        Buf in = buf_new(2, n);
        in.ch[0][0] = 1.0f;
        in.ch[1][100] = -0.5f;
        Buf out = render(d, NULL, 0, &in, n);
        check_clean(fx[j], &out, n - (long)SR);
        buf_free(&in);
        buf_free(&out);
    }
}
END_TEST

/* ==== suite ================================================================= */

static Suite *dsp_suite(void)
{
    Suite *s = suite_create("dsp");
    TCase *osc = tcase_create("oscillators");
    tcase_add_test(osc, test_measure_is_accurate);
    tcase_add_test(osc, test_oscillator_pitch);
    tcase_add_test(osc, test_saw_aliasing);
    tcase_add_test(osc, test_square_triangle_aliasing);
    tcase_set_timeout(osc, 120);
    suite_add_tcase(s, osc);
    TCase *flt = tcase_create("filters");
    tcase_add_test(flt, test_cutoff_points);
    tcase_add_test(flt, test_onepole);
    tcase_add_test(flt, test_band_and_shelf_gains);
    tcase_set_timeout(flt, 120);
    suite_add_tcase(s, flt);
    TCase *env = tcase_create("envelopes");
    tcase_add_test(env, test_adsr_times);
    tcase_add_test(env, test_ar_and_perc_times);
    tcase_add_test(env, test_long_segments);
    tcase_set_timeout(env, 120);
    suite_add_tcase(s, env);
    TCase *tim = tcase_create("timing");
    tcase_add_test(tim, test_note_onset_sample);
    tcase_add_test(tim, test_note_off_sample);
    tcase_add_test(tim, test_steal_oldest);
    tcase_set_timeout(tim, 120);
    suite_add_tcase(s, tim);
    TCase *rob = tcase_create("robustness");
    tcase_add_test(rob, test_instruments_after_silence);
    tcase_add_test(rob, test_effects_after_silence);
    tcase_set_timeout(rob, 120);
    suite_add_tcase(s, rob);
    return s;
}

int main(void)
{
    /* Builds are cached in $AMP_CACHE; without it, in a temporary folder
     * shared by the tests of this run and removed at the end. */
    int own_cache = getenv("AMP_CACHE") == NULL;
    if (own_cache) {
        snprintf(tmp_cache, sizeof tmp_cache, "/tmp/check_dsp_cache_XXXXXX");
        if (!mkdtemp(tmp_cache)) {
            perror("mkdtemp");
            return EXIT_FAILURE;
        }
        setenv("AMP_CACHE", tmp_cache, 1);
    }
    int rc = testutil_run(dsp_suite());
    if (own_cache)
        testutil_remove_tree(tmp_cache);
    return rc;
}
