/* check_oversample.c — the runtime's up- and down-sampling filters
 * (runtime/abi/amp_oversample.h), measured.
 *
 *   latency   an impulse through up then down peaks at exactly
 *             AMP_OS_LATENCY_N base samples, and the round trip is
 *             symmetric about it (linear phase), at 2x, 4x and 8x;
 *   response  the round trip's gain is flat within AMP_OS_RIPPLE_DB up to
 *             20 kHz at 48 kHz; the upsampler's images are at least
 *             AMP_OS_STOPBAND_DB down from 28 kHz up; the downsampler's
 *             aliases likewise;
 *   lanes     the v4f version gives each lane the bits of the scalar one;
 *   distortion a 3.5 kHz sine driven +24 dB into tanh at 48 kHz: the
 *             energy at non-harmonic frequencies below 20 kHz (aliases)
 *             relative to the harmonics' is at least 20 dB lower when the
 *             tanh runs oversampled (4x, 8x) than when it runs plain; the
 *             same measured on patches compiled by ampc (nodes/drive.amp's
 *             tanh_drive, plain and in `oversample 4 { }`), whose
 *             impulse comes out exactly "latency" samples late (the JSON);
 *   voices    an instrument with an oversampled instance in its voice
 *             block: one note renders the same bits four voices per
 *             vector as one voice at a time (ampc --scalar; with several
 *             voices the two builds sum them in different orders), and
 *             six overlapping notes render finite and not silent.
 *
 * The measured numbers are printed, so the run log shows them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <stdlib.h>

#include "amp_oversample.h"
#include "ampc.h"
#include "build.h"
#include "host.h"
#include "testutil.h"

#define FS 48000.0
#define TWO_PI 6.283185307179586

static const int factors[3] = { 2, 4, 8 };

/* |DFT| of x[0..n) at frequency f (cycles per sample), in dB. */
static double gain_db(const double *x, int n, double f)
{
    double re = 0, im = 0;
    for (int i = 0; i < n; i++) {
        re += x[i] * cos(TWO_PI * f * i);
        im -= x[i] * sin(TWO_PI * f * i);
    }
    return 10.0 * log10(re * re + im * im + 1e-300);
}

/* The round trip's response to a unit impulse at base sample 0. */
static void round_trip_impulse(int factor, double *h, int n, unsigned start)
{
    static float hu[AMP_OS_UP_LEN], hd[AMP_OS_DOWN_LEN];
    memset(hu, 0, sizeof hu);
    memset(hd, 0, sizeof hd);
    float up[8];
    for (int i = 0; i < n; i++) {
        unsigned c = start + (unsigned)i;
        amp_os_upf(hu, c, factor, i == 0 ? 1.0f : 0.0f, up);
        h[i] = amp_os_downf(hd, c, factor, up);
    }
}

START_TEST(latency_is_stated)
{
    for (int f = 0; f < 3; f++) {
        double h[256], w[256];
        round_trip_impulse(factors[f], h, 256, 0);
        /* the same across the counter's wrap: only the count's low bits matter */
        round_trip_impulse(factors[f], w, 256, 0xffffffe0u);
        ck_assert(memcmp(h, w, sizeof h) == 0);
        int peak = 0;
        for (int i = 1; i < 256; i++)
            if (fabs(h[i]) > fabs(h[peak]))
                peak = i;
        double asym = 0;
        for (int j = 1; j <= peak; j++)
            asym = fmax(asym, fabs(h[peak + j] - h[peak - j]));
        double tail = 0;
        for (int i = 2 * peak + 1; i < 256; i++)
            tail = fmax(tail, fabs(h[i]));
        printf("oversample %dx: latency %d samples (peak %.6f), asymmetry %.2e, after 2x latency %.1e\n",
               factors[f], peak, h[peak], asym, tail);
        ck_assert_int_eq(peak, amp_os_latency(factors[f]));
        ck_assert(asym < 1e-6);
        ck_assert(tail == 0.0);
    }
}
END_TEST

START_TEST(round_trip_is_flat)
{
    for (int f = 0; f < 3; f++) {
        double h[256];
        round_trip_impulse(factors[f], h, 256, 12345);
        double worst = 0;
        for (double hz = 0; hz <= 20000.0; hz += 50.0)
            worst = fmax(worst, fabs(gain_db(h, 256, hz / FS)));
        printf("oversample %dx: round trip within %.5f dB from 0 to 20 kHz\n", factors[f], worst);
        ck_assert(worst <= AMP_OS_RIPPLE_DB);
    }
}
END_TEST

/* The upsampler's impulse response, at the oversampled rate: its images of
 * a base-band signal lie from 28 kHz (at 48 kHz) up to half the new rate. */
START_TEST(upsampler_images)
{
    for (int f = 0; f < 3; f++) {
        int factor = factors[f], n = 128 * factor;
        static float hu[AMP_OS_UP_LEN];
        memset(hu, 0, sizeof hu);
        double h[1024];
        float up[8];
        for (int i = 0; i < 128; i++) {
            amp_os_upf(hu, (unsigned)i, factor, i == 0 ? 1.0f : 0.0f, up);
            for (int j = 0; j < factor; j++)
                h[i * factor + j] = up[j] / factor;  /* unit gain in the passband */
        }
        double ripple = 0, image = -400;
        for (double hz = 0; hz <= 20000.0; hz += 50.0)
            ripple = fmax(ripple, fabs(gain_db(h, n, hz / (FS * factor))));
        for (double hz = 28000.0; hz <= FS * factor / 2; hz += 50.0)
            image = fmax(image, gain_db(h, n, hz / (FS * factor)));
        printf("oversample %dx: upsampler ripple %.5f dB, images %.1f dB\n", factor, ripple, image);
        ck_assert(ripple <= AMP_OS_RIPPLE_DB);
        ck_assert(image <= -AMP_OS_STOPBAND_DB);
    }
}
END_TEST

/* The downsampler's aliases: a sine at the oversampled rate above 28 kHz
 * comes out of the decimator at least AMP_OS_STOPBAND_DB down. */
START_TEST(downsampler_aliases)
{
    for (int f = 0; f < 3; f++) {
        int factor = factors[f];
        double worst = -400;
        for (double hz = 28000.0; hz < FS * factor / 2; hz += 1777.0) {
            static float hd[AMP_OS_DOWN_LEN];
            memset(hd, 0, sizeof hd);
            double out[2048];
            float in[8];
            for (int i = 0; i < 2048; i++) {
                for (int j = 0; j < factor; j++)
                    in[j] = (float)sin(TWO_PI * hz * (i * factor + j) / (FS * factor));
                out[i] = amp_os_downf(hd, (unsigned)i, factor, in);
            }
            double peak = 0;
            for (int i = 256; i < 2048; i++)
                peak = fmax(peak, fabs(out[i]));
            worst = fmax(worst, 20.0 * log10(peak + 1e-300));
        }
        printf("oversample %dx: downsampler aliases at most %.1f dB\n", factor, worst);
        ck_assert(worst <= -AMP_OS_STOPBAND_DB);
    }
}
END_TEST

START_TEST(lanes_equal_scalar)
{
    static float su[4][AMP_OS_UP_LEN], sd[4][AMP_OS_DOWN_LEN];
    static v4f vu[AMP_OS_UP_LEN], vd[AMP_OS_DOWN_LEN];
    memset(su, 0, sizeof su);
    memset(sd, 0, sizeof sd);
    memset(vu, 0, sizeof vu);
    memset(vd, 0, sizeof vd);
    int mismatches = 0;
    for (int i = 0; i < 4000; i++) {
        int factor = 8;
        float x[4];
        v4f xv;
        for (int l = 0; l < 4; l++) {
            x[l] = (float)sin(0.01 * i * (l + 1)) * (float)(l + 1);
            xv[l] = x[l];
        }
        float up[8], y[4];
        v4f upv[8];
        for (int l = 0; l < 4; l++) {
            amp_os_upf(su[l], (unsigned)i, factor, x[l], up);
            for (int j = 0; j < factor; j++)
                up[j] = amp_tanhf(up[j]);
            y[l] = amp_os_downf(sd[l], (unsigned)i, factor, up);
        }
        amp_os_up4(vu, (unsigned)i, factor, xv, upv);
        for (int j = 0; j < factor; j++)
            upv[j] = amp_tanh(upv[j]);
        v4f yv = amp_os_down4(vd, (unsigned)i, factor, upv);
        for (int l = 0; l < 4; l++)
            mismatches += memcmp(&y[l], &yv[l], sizeof(float)) != 0;
    }
    ck_assert_int_eq(mismatches, 0);
}
END_TEST

/* Energy at the harmonics of 3.5 kHz (and DC) and everywhere else below
 * 20 kHz, over 9600 samples (700 whole periods, 5 Hz bins). */
static double alias_ratio_db(const float *y)
{
    enum { N = 9600 };
    double harm = 0, alias = 0;
    for (int bin = 1; bin * 5 <= 20000; bin++) {
        double re = 0, im = 0;
        for (int i = 0; i < N; i++) {
            double ph = TWO_PI * (double)((long)bin * i % N) / N;
            re += y[i] * cos(ph);
            im -= y[i] * sin(ph);
        }
        double p = re * re + im * im;
        if ((bin * 5) % 3500 == 0)
            harm += p;
        else
            alias += p;
    }
    return 10.0 * log10(alias / harm);
}

/* y = tanh(16 x) of a 0.5 sine at 3.5 kHz, plain (factor 1) or oversampled. */
static void drive(int factor, float *y, int n)
{
    static float hu[AMP_OS_UP_LEN], hd[AMP_OS_DOWN_LEN];
    memset(hu, 0, sizeof hu);
    memset(hd, 0, sizeof hd);
    float gain = amp_db2linf(24.0f);
    int skip = 2048;               /* settle past the filters' latency */
    for (int i = 0; i < n + skip; i++) {
        float x = 0.5f * (float)sin(TWO_PI * 3500.0 * i / FS);
        float out;
        if (factor == 1) {
            out = amp_tanhf(gain * x);
        } else {
            float up[8];
            amp_os_upf(hu, (unsigned)i, factor, x, up);
            for (int j = 0; j < factor; j++)
                up[j] = amp_tanhf(gain * up[j]);
            out = amp_os_downf(hd, (unsigned)i, factor, up);
        }
        if (i >= skip)
            y[i - skip] = out;
    }
}

START_TEST(distortion_aliases)
{
    static float y[9600];
    drive(1, y, 9600);
    double plain = alias_ratio_db(y);
    printf("tanh +24 dB, 3.5 kHz: plain aliases %.1f dB below the harmonics\n", -plain);
    for (int f = 0; f < 3; f++) {
        drive(factors[f], y, 9600);
        double over = alias_ratio_db(y);
        printf("tanh +24 dB, 3.5 kHz: %dx aliases %.1f dB below the harmonics (%.1f dB better)\n",
               factors[f], -over, plain - over);
        if (factors[f] >= 4)
            ck_assert(plain - over >= 20.0);
    }
}
END_TEST

/* ---- compiled patches ---- */

#define PATCH_PATH "tests/check_oversample.amp"   /* anchors relative imports */

static const char *const drive_text =
    "import \"../nodes/drive.amp\";\n"
    "import \"../nodes/std/osc.amp\";\n"
    "patch plain { in x; out y; d = tanh_drive(x: x, drive: 24 db); d.y -> out; }\n"
    "patch over { in x; out y; oversample 4 { d = tanh_drive(x: x, drive: 24 db); } d.y -> out; }\n"
    "patch chord {\n"
    "  voices 6;\n"
    "  voice {\n"
    "    o = saw(freq: note.freq);\n"
    "    oversample 2 { d = tanh_drive(x: o.y * note.vel, drive: 18 db); }\n"
    "    d.y * 0.2 -> out;\n"
    "  }\n"
    "}\n"
;

static const AmpPatchDesc *build(const char *unit, int scalar, long *latency)
{
    AmpcOptions opt = { .unit = unit, .scalar = scalar };
    Diag diag;
    diag_init(&diag, stderr);
    AmpcResult r;
    ck_assert_msg(ampc_compile_text(PATCH_PATH, drive_text, strlen(drive_text), &opt, &diag, &r) == 0,
                  "ampc failed on %s", unit);
    if (latency) {
        json_t *j = json_loadb(r.json_text, r.json_len, 0, NULL);
        ck_assert_ptr_nonnull(j);
        json_t *l = json_object_get(j, "latency");
        *latency = json_is_integer(l) ? (long)json_integer_value(l) : -1;
        json_decref(j);
    }
    static char err[16384];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s", err);
    ampc_result_free(&r);
    return d;
}

static void render(const AmpPatchDesc *d, const Command *ev, int nev, const float *in, float *out, long n)
{
    HostPatch hp;
    char err[256];
    ck_assert_msg(host_init(&hp, d, (float)FS, err, sizeof err) == 0, "%s", err);
    const float *ins[1] = { in };
    float *outs[2] = { out, out + n };
    ck_assert_int_eq(host_render(&hp, ev, nev, ins, outs, n), nev);
    host_free(&hp);
}

START_TEST(compiled_distortion)
{
    enum { SKIP = 2048, N = 9600 };
    static float in[SKIP + N], out[2 * (SKIP + N)];
    long latency = 0, plain_latency = 0;
    const AmpPatchDesc *plain = build("plain", 0, &plain_latency), *over = build("over", 0, &latency);
    printf("compiled: 'over' reports latency %ld, 'plain' %ld\n", latency, plain_latency);
    ck_assert_int_eq(latency, AMP_OS_LATENCY_4);
    ck_assert_int_eq(plain_latency, -1);          /* no oversampling: no "latency" */
    for (int i = 0; i < SKIP + N; i++)
        in[i] = 0.5f * (float)sin(TWO_PI * 3500.0 * i / FS);
    render(plain, NULL, 0, in, out, SKIP + N);
    double p = alias_ratio_db(out + SKIP);
    render(over, NULL, 0, in, out, SKIP + N);
    double o = alias_ratio_db(out + SKIP);
    printf("compiled tanh +24 dB, 3.5 kHz: plain aliases %.1f dB, oversample 4 %.1f dB below the harmonics "
           "(%.1f dB better)\n", -p, -o, p - o);
    ck_assert(p - o >= 20.0);
    /* a small impulse (tanh is linear there) comes out `latency` samples late */
    memset(in, 0, sizeof in);
    in[100] = 1e-3f;
    render(over, NULL, 0, in, out, 512);
    int peak = 0;
    for (int i = 1; i < 512; i++)
        if (fabsf(out[i]) > fabsf(out[peak]))
            peak = i;
    printf("compiled: impulse at 100 peaks at %d\n", peak);
    ck_assert_int_eq(peak, 100 + latency);
}
END_TEST

START_TEST(voices_vector_equals_scalar)
{
    enum { N = 24000 };
    const AmpPatchDesc *vec = build("chord", 0, NULL), *sca = build("chord", 1, NULL);
    Command one[2] = { host_note_on(0, 1, 48, 0.9f), host_note_off(9000, 1) };
    float *a = calloc(2 * N, sizeof(float)), *b = calloc(2 * N, sizeof(float));
    render(vec, one, 2, NULL, a, N);
    render(sca, one, 2, NULL, b, N);
    long differ = 0;
    double peak = 0;
    for (long i = 0; i < 2 * N; i++) {
        differ += memcmp(&a[i], &b[i], sizeof(float)) != 0;
        peak = fmax(peak, fabs(a[i]));
    }
    printf("voices: one note, vector and scalar renders differ in %ld of %d samples (peak %.3f)\n", differ, 2 * N,
           peak);
    ck_assert_int_eq(differ, 0);
    ck_assert(peak > 0.05);
    Command ev[8] = { host_note_on(0, 1, 48, 0.9f), host_note_on(301, 2, 55, 0.7f), host_note_on(777, 3, 60, 0.8f),
                      host_note_on(1500, 4, 64, 1.0f), host_note_on(2001, 5, 67, 0.6f), host_note_off(9000, 1),
                      host_note_on(12000, 6, 72, 0.9f), host_note_off(15000, 3) };
    render(vec, ev, 8, NULL, a, N);
    peak = 0;
    for (long i = 0; i < 2 * N; i++) {
        ck_assert(isfinite(a[i]));
        peak = fmax(peak, fabs(a[i]));
    }
    printf("voices: six notes, peak %.3f\n", peak);
    ck_assert(peak > 0.1);
    free(a);
    free(b);
}
END_TEST

static Suite *oversample_suite(void)
{
    Suite *s = suite_create("oversample");
    TCase *tc = tcase_create("filters");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, latency_is_stated);
    tcase_add_test(tc, round_trip_is_flat);
    tcase_add_test(tc, upsampler_images);
    tcase_add_test(tc, downsampler_aliases);
    tcase_add_test(tc, lanes_equal_scalar);
    suite_add_tcase(s, tc);
    tc = tcase_create("distortion");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, distortion_aliases);
    tcase_add_test(tc, compiled_distortion);
    tcase_add_test(tc, voices_vector_equals_scalar);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = testutil_run(oversample_suite());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_oversample: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    return rc;
}
