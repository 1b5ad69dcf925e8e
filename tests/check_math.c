/* check_math.c — the runtime's math kernels (runtime/abi/amp_math.h).
 *
 * accuracy:    dense sweeps of every kernel against double-precision libm;
 *              the maximum error is printed and asserted against the bound
 *              listed at the top of amp_math.h.
 * edges:       0, -0, denormals, huge values; finite outputs; exact
 *              rounding functions; mod/fmod signs; flush; noise.
 * determinism: scalar twins == vector lane 0 (and every lane) bit for bit,
 *              and a checksum over the bits of every kernel's output on a
 *              fixed sweep, compared with the value the WebAssembly build
 *              gives (AMP_MATH_CHECKSUM below).
 *
 * The checksum half of this file does not use Check: compiled with
 * -DAMP_MATHSUM_ONLY it only defines amp_math_checksum(), so a small driver
 * can include it and print the checksum, natively and under emscripten:
 *
 *     #define AMP_MATHSUM_ONLY
 *     #include "check_math.c"
 *     int main(void) { printf("%016llx\n", (unsigned long long)amp_math_checksum(1)); }
 *
 *     emcc -O3 -msimd128 -ffp-contract=off -Iruntime/abi -Itests sum.c -o sum.js && node sum.js
 *
 * (With emscripten 3.1.6 and node >= 18, node needs --no-experimental-fetch
 * to load the .wasm from disk.) gcc and clang at -O0 to -O3, with and
 * without -march=native, and emcc -O0 to -O3 with and without -msimd128
 * all give AMP_MATH_CHECKSUM; gcc in GNU mode (-std=gnu11, which implies
 * -ffp-contract=fast) on an FMA target does not.
 */
#include "amp_math.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Checksum of every kernel over the fixed sweep, from the native build and
 * from the wasm build (they must agree; see the header comment). Update it
 * only when a kernel is changed on purpose, after checking both builds. */
#define AMP_MATH_CHECKSUM 0xcabad97715b419d3ull

/* ---------------------------------------------------------------------- */
/* The fixed sweep: integer hashing and exact float ops only, so it is the
 * same on every target. */

#define SUM_N 65536u

static uint32_t sum_hash(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static float sum_from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static uint32_t sum_to_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* Sample i of the sweep (stream s picks an independent sequence): ramps over
 * [-12, 12] and [-1000, 1000], arbitrary finite bit patterns (denormals,
 * huge values, both zeros), and values of moderate magnitude. */
static float sum_sample(uint32_t i, uint32_t s)
{
    uint32_t h = sum_hash(i * 4u + s * 0x9e3779b9u + 1u);
    uint32_t j = i >> 2;
    switch ((i + s) & 3u) {
    case 0:
        return -12.0f + 24.0f * ((float)j / (float)(SUM_N / 4u));
    case 1:
        return -1000.0f + 2000.0f * ((float)(h & 0xffffffu) / 16777216.0f);
    case 2:
        if (((h >> 23) & 0xffu) == 0xffu)
            h &= ~(1u << 23);                           /* no Inf/NaN */
        return sum_from_bits(h);
    default:                                            /* ~1e-8 .. 1e8 */
        return sum_from_bits((h & 0x807fffffu) | ((100u + (h >> 8) % 54u) << 23));
    }
}

static uint64_t sum_add(uint64_t hash, float v)
{
    uint32_t b = sum_to_bits(v);
    if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu))
        b = 0x7fc00000u;                                /* one NaN: payloads differ by target */
    for (int k = 0; k < 4; k++) {
        hash ^= (b >> (8 * k)) & 0xffu;
        hash *= 0x100000001b3ull;
    }
    return hash;
}

static v4f sum_vec(uint32_t i, uint32_t s)
{
    return (v4f){ sum_sample(i, s), sum_sample(i + 1, s), sum_sample(i + 2, s), sum_sample(i + 3, s) };
}

/* Kernels in the checksum, as one-vector-in-one-out wrappers. */
static v4f k_atan2(v4f a, v4f b) { return amp_atan2(a, b); }
static v4f k_pow(v4f a, v4f b)   { return amp_pow(a, b); }
static v4f k_powsmall(v4f a, v4f b) { return amp_pow(amp_abs(a) * 0.01f, b * 0.01f); }
static v4f k_mod(v4f a, v4f b)   { return amp_mod(a, b); }
static v4f k_fmod(v4f a, v4f b)  { return amp_fmod(a, b); }
static v4f k_min(v4f a, v4f b)   { return amp_min(a, b); }
static v4f k_max(v4f a, v4f b)   { return amp_max(a, b); }
static v4f k_clamp(v4f a, v4f b) { return amp_clamp(a, b, b + 5.0f); }
static v4f k_sel(v4f a, v4f b)   { return amp_sel(a < b, a, b) + amp_truth(a) + amp_bool(amp_nz(b)); }

typedef struct { const char *name; v4f (*f)(v4f); } SumK1;
typedef struct { const char *name; v4f (*f)(v4f, v4f); } SumK2;

static const SumK1 sum_k1[] = {
    { "sin", amp_sin },     { "cos", amp_cos },     { "tan", amp_tan },
    { "asin", amp_asin },   { "acos", amp_acos },   { "atan", amp_atan },
    { "exp", amp_exp },     { "exp2", amp_exp2 },   { "exp10", amp_exp10 },
    { "log", amp_log },     { "log2", amp_log2 },   { "log10", amp_log10 },
    { "sinh", amp_sinh },   { "cosh", amp_cosh },   { "tanh", amp_tanh },
    { "db2lin", amp_db2lin }, { "lin2db", amp_lin2db }, { "sqrt", amp_sqrt },
    { "floor", amp_floor }, { "ceil", amp_ceil },   { "round", amp_round },
    { "trunc", amp_trunc }, { "fract", amp_fract }, { "abs", amp_abs },
    { "flush", amp_flush },
};
static const SumK2 sum_k2[] = {
    { "atan2", k_atan2 }, { "pow", k_pow }, { "pow_small", k_powsmall },
    { "mod", k_mod }, { "fmod", k_fmod }, { "min", k_min }, { "max", k_max },
    { "clamp", k_clamp }, { "sel", k_sel },
};

/* FNV-1a over the output bits of every kernel on the sweep (NaNs counted
 * as one value). verbose: print one line per kernel. */
static uint64_t amp_math_checksum(int verbose)
{
    uint64_t total = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < sizeof sum_k1 / sizeof sum_k1[0]; k++) {
        uint64_t h = 0xcbf29ce484222325ull;
        for (uint32_t i = 0; i < SUM_N; i += 4) {
            v4f y = sum_k1[k].f(sum_vec(i, 0));
            for (int l = 0; l < 4; l++)
                h = sum_add(h, y[l]);
        }
        if (verbose)
            printf("  %-10s %016llx\n", sum_k1[k].name, (unsigned long long)h);
        total = (total ^ h) * 0x100000001b3ull;
    }
    for (size_t k = 0; k < sizeof sum_k2 / sizeof sum_k2[0]; k++) {
        uint64_t h = 0xcbf29ce484222325ull;
        for (uint32_t i = 0; i < SUM_N; i += 4) {
            v4f y = sum_k2[k].f(sum_vec(i, 0), sum_vec(i, 1));
            for (int l = 0; l < 4; l++)
                h = sum_add(h, y[l]);
        }
        if (verbose)
            printf("  %-10s %016llx\n", sum_k2[k].name, (unsigned long long)h);
        total = (total ^ h) * 0x100000001b3ull;
    }
    {
        /* the scalar twins, which compilers may scalarise differently */
        uint64_t h = 0xcbf29ce484222325ull;
        for (uint32_t i = 0; i < SUM_N; i++) {
            float x = sum_sample(i, 2), z = sum_sample(i, 3);
            float r[] = {
                amp_sinf(x), amp_cosf(x), amp_tanf(x), amp_asinf(x), amp_acosf(x),
                amp_atanf(x), amp_atan2f(x, z), amp_expf(x), amp_exp2f(x), amp_exp10f(x),
                amp_logf(x), amp_log2f(x), amp_log10f(x), amp_powf(x, z),
                amp_powf(x * 0.01f, z * 0.01f), amp_sinhf(x), amp_coshf(x), amp_tanhf(x),
                amp_sqrtf(x), amp_floorf(x), amp_ceilf(x), amp_roundf(x), amp_truncf(x),
                amp_fractf(x), amp_fmodf(x, z), amp_floormodf(x, z), amp_absf(x),
                amp_minf(x, z), amp_maxf(x, z), amp_clampf(x, z, z + 1.0f),
                amp_db2linf(x), amp_lin2dbf(x), amp_flushf(x),
            };
            for (size_t k = 0; k < sizeof r / sizeof r[0]; k++)
                h = sum_add(h, r[k]);
        }
        if (verbose)
            printf("  %-10s %016llx\n", "scalar", (unsigned long long)h);
        total = (total ^ h) * 0x100000001b3ull;
    }
    {
        /* the kernels evaluated in double (Faust nodes' sin, cos, tan, pow,
         * exp, exp2, exp10, log, log2, log10) */
        uint64_t h = 0xcbf29ce484222325ull;
        for (uint32_t i = 0; i < SUM_N; i++) {
            float x = sum_sample(i, 2), z = sum_sample(i, 3);
            float r[] = { amp_sin_precisef(x), amp_cos_precisef(x), amp_tan_precisef(x), amp_pow_precisef(x, z),
                          amp_pow_precisef(x * 0.01f, z * 0.01f), amp_exp_precisef(x), amp_exp2_precisef(x),
                          amp_exp10_precisef(x), amp_log_precisef(x), amp_log2_precisef(x), amp_log10_precisef(x) };
            for (size_t k = 0; k < sizeof r / sizeof r[0]; k++)
                h = sum_add(h, r[k]);
        }
        if (verbose)
            printf("  %-10s %016llx\n", "precise", (unsigned long long)h);
        total = (total ^ h) * 0x100000001b3ull;
    }
    {
        uint64_t h = 0xcbf29ce484222325ull;
        uint32_t seeds[] = { 0u, 1u, 12345u, 0x40000000u, 0xffffffffu };
        for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
            v4u st = amp_noise_seed(seeds[s]);
            for (int l = 0; l < 4; l++)
                h = sum_add(h, sum_from_bits(st[l]));
            for (int i = 0; i < 4096; i++) {
                v4f y = amp_noise(&st);
                for (int l = 0; l < 4; l++)
                    h = sum_add(h, y[l]);
            }
        }
        if (verbose)
            printf("  %-10s %016llx\n", "noise", (unsigned long long)h);
        total = (total ^ h) * 0x100000001b3ull;
    }
    return total;
}

#ifndef AMP_MATHSUM_ONLY
/* ====================================================================== */

#include <float.h>
#include <math.h>
#include <check.h>
#include "testutil.h"

/* Check's ck_assert records its location on every call (a write to the
 * runner per assertion), far too slow for sweeps: these only act on failure. */
#define REQUIRE(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)
#define REQUIRE1(cond) REQUIRE(cond, "assertion failed: %s", #cond)

enum { ABS, REL, MIXED };   /* MIXED: abs where |ref| <= 1, rel beyond */

static double err_of(double got, double ref, int metric)
{
    double d = fabs(got - ref);
    if (metric == ABS)
        return d;
    double m = fabs(ref);
    if (metric == MIXED && m < 1.0)
        m = 1.0;
    return m > 0 ? d / m : d;
}

/* Max error of f against ref over n points spread over [lo, hi]
 * (log-spaced between 10^lo and 10^hi when logsp). Points where skip()
 * says so are left out. Asserts finite outputs on the way. */
static double sweep1(const char *name, v4f (*f)(v4f), double (*ref)(double),
                     double lo, double hi, long n, int metric, int logsp,
                     int (*skip)(double), double bound)
{
    double worst = 0, worst_x = 0;
    for (long i = 0; i < n; i += 4) {
        float xs[4];
        for (int l = 0; l < 4; l++) {
            double t = lo + (hi - lo) * (double)(i + l) / (double)(n - 1);
            xs[l] = (float)(logsp ? pow(10.0, t) : t);
        }
        v4f y = f((v4f){ xs[0], xs[1], xs[2], xs[3] });
        for (int l = 0; l < 4; l++) {
            REQUIRE(isfinite(y[l]), "%s(%.9g) = %g", name, xs[l], y[l]);
            if (skip && skip(xs[l]))
                continue;
            double e = err_of(y[l], ref(xs[l]), metric);
            if (e > worst) {
                worst = e;
                worst_x = xs[l];
            }
        }
    }
    printf("math: %-7s %-5s error %.2e at %.9g over [%g, %g]%s (bound %.0e)\n",
           name, metric == ABS ? "abs" : metric == REL ? "rel" : "mixed",
           worst, worst_x, lo, hi, logsp ? " (log10)" : "", bound);
    REQUIRE(worst <= bound, "%s: error %.3g at %.9g exceeds %.3g", name, worst, worst_x, bound);
    return worst;
}

static double ref_exp10(double x)  { return pow(10.0, x); }
static double ref_db2lin(double x) { return pow(10.0, x / 20.0); }
static double ref_lin2db(double x) { return 20.0 * log10(x); }
static int near_pole(double x)     { return fabs(cos(x)) < 1e-4; }

#define SWEEP_N 1000000L

/* sin and cos against long double libm over a dense sweep: the largest
 * absolute error, and in units in the last place of the correctly rounded
 * result (the spacing of floats at |ref|), where |ref| >= 1/64: near a
 * zero the absolute error is what counts. The bounds are the ones
 * lang/SPEC.md §2 states. */
static void sweep_trig_ld(const char *name, v4f (*f)(v4f), long double (*ref)(long double), double lo, double hi,
                          long n, double abs_bound, double ulp_bound)
{
    double worst = 0, worst_ulp = 0, wx = 0, wux = 0;
    for (long i = 0; i < n; i += 4) {
        float xs[4];
        for (int l = 0; l < 4; l++)
            xs[l] = (float)(lo + (hi - lo) * (double)(i + l) / (double)(n - 1));
        v4f y = f((v4f){ xs[0], xs[1], xs[2], xs[3] });
        for (int l = 0; l < 4; l++) {
            long double r = ref((long double)xs[l]);
            double e = (double)fabsl((long double)y[l] - r);
            int ex;
            frexp((double)r, &ex);
            double ulp = ldexp(1.0, (ex - 24) < -149 ? -149 : ex - 24);
            if (e > worst) {
                worst = e;
                wx = xs[l];
            }
            if (fabsl(r) >= 1.0L / 64 && e / ulp > worst_ulp) {
                worst_ulp = e / ulp;
                wux = xs[l];
            }
        }
    }
    printf("math: %-7s abs   error %.2e at %.9g, %.2f ulp at %.9g over [%g, %g] against long double "
           "(bounds %.1e, %.0f ulp)\n", name, worst, wx, worst_ulp, wux, lo, hi, abs_bound, ulp_bound);
    REQUIRE(worst <= abs_bound, "%s: error %.3g at %.9g exceeds %.3g", name, worst, wx, abs_bound);
    REQUIRE(worst_ulp <= ulp_bound, "%s: %.3g ulp at %.9g exceeds %.3g", name, worst_ulp, wux, ulp_bound);
}

START_TEST(acc_trig_long_double)
{
    sweep_trig_ld("sin", amp_sin, sinl, -1000, 1000, 8 * SWEEP_N, 1.5e-7, 2);
    sweep_trig_ld("cos", amp_cos, cosl, -1000, 1000, 8 * SWEEP_N, 1.5e-7, 2);
    sweep_trig_ld("sin", amp_sin, sinl, -3.2, 3.2, 4 * SWEEP_N, 1.5e-7, 2);
    sweep_trig_ld("cos", amp_cos, cosl, -3.2, 3.2, 4 * SWEEP_N, 1.5e-7, 2);
}
END_TEST

/* The double-evaluated kernels: over dense sweeps, the float each gives
 * is the long double result correctly rounded (counted; asserted 0), and
 * whole powers are exact. */
static long count_not_rounded(float (*f)(float), long double (*ref)(long double), double lo, double hi, int logspace,
                              long n, long *points)
{
    long bad = 0;
    for (long i = 0; i < n; i++) {
        double t = lo + (hi - lo) * (double)i / (double)(n - 1);
        float x = (float)(logspace ? pow(10.0, t) : t);
        long double r = ref(x);
        if (!(fabsl(r) <= 0x1.fffffep127L) || (r != 0 && fabsl(r) < 0x1p-126L))
            continue;                   /* saturated or flushed: not a rounding */
        bad += f(x) != (float)r;
        (*points)++;
    }
    return bad;
}

static long double ref_exp10l(long double x) { return powl(10.0L, x); }

START_TEST(acc_precise)
{
    long bad_sin = 0, bad_cos = 0, bad_tan = 0, bad_pow = 0, n = 0, np = 0;
    for (long i = 0; i < 4 * SWEEP_N; i++) {
        float x = (float)(-1000.0 + 2000.0 * (double)i / (4 * SWEEP_N - 1));
        bad_sin += amp_sin_precisef(x) != (float)sinl(x);
        bad_cos += amp_cos_precisef(x) != (float)cosl(x);
        long double t = tanl(x);
        bad_tan += fabsl(t) < 1e30L && amp_tan_precisef(x) != (float)t;
        n++;
    }
    for (long i = 0; i < SWEEP_N; i++) {
        float x = (float)pow(10.0, -6.0 + 12.0 * (double)i / (SWEEP_N - 1));
        float y = (float)(-20.0 + 40.0 * (double)((i * 7919) % SWEEP_N) / (SWEEP_N - 1));
        long double r = powl(x, y);
        if (r > 0x1.fffffep127L || r < 0x1p-126L)
            continue;
        bad_pow += amp_pow_precisef(x, y) != (float)r;
        np++;
    }
    printf("math: precise sin %ld, cos %ld, tan %ld of %ld points in [-1000, 1000] and pow %ld of %ld "
           "(x in [1e-6, 1e6], y in [-20, 20]) not correctly rounded\n", bad_sin, bad_cos, bad_tan, n, bad_pow, np);
    REQUIRE(bad_sin == 0 && bad_cos == 0 && bad_tan == 0 && bad_pow == 0,
            "precise kernels not correctly rounded: sin %ld, cos %ld, tan %ld, pow %ld", bad_sin, bad_cos, bad_tan, bad_pow);

    /* exp over the whole float range of its results and near 0; the logs
     * over 1e-44 (denormal) .. 1e38, log-spaced, and near 1 */
    long ne = 0, nl = 0;
    long bad_exp = count_not_rounded(amp_exp_precisef, expl, -87.5, 88.8, 0, 2 * SWEEP_N, &ne) +
                   count_not_rounded(amp_exp_precisef, expl, -1, 1, 0, SWEEP_N, &ne);
    long bad_exp2 = count_not_rounded(amp_exp2_precisef, exp2l, -126, 128, 0, 2 * SWEEP_N, &ne);
    long bad_exp10 = count_not_rounded(amp_exp10_precisef, ref_exp10l, -38, 38.6, 0, 2 * SWEEP_N, &ne);
    long bad_log = count_not_rounded(amp_log_precisef, logl, -44, 38, 1, 2 * SWEEP_N, &nl) +
                   count_not_rounded(amp_log_precisef, logl, 0.99, 1.01, 0, SWEEP_N, &nl);
    long bad_log2 = count_not_rounded(amp_log2_precisef, log2l, -44, 38, 1, 2 * SWEEP_N, &nl);
    long bad_log10 = count_not_rounded(amp_log10_precisef, log10l, -44, 38, 1, 2 * SWEEP_N, &nl) +
                     count_not_rounded(amp_log10_precisef, log10l, 0.99, 1.01, 0, SWEEP_N, &nl);
    printf("math: precise exp %ld, exp2 %ld, exp10 %ld of %ld points, log %ld, log2 %ld, log10 %ld of %ld points "
           "not correctly rounded\n", bad_exp, bad_exp2, bad_exp10, ne, bad_log, bad_log2, bad_log10, nl);
    REQUIRE(bad_exp == 0 && bad_exp2 == 0 && bad_exp10 == 0 && bad_log == 0 && bad_log2 == 0 && bad_log10 == 0,
            "precise kernels not correctly rounded: exp %ld, exp2 %ld, exp10 %ld, log %ld, log2 %ld, log10 %ld",
            bad_exp, bad_exp2, bad_exp10, bad_log, bad_log2, bad_log10);
    for (int k = -126; k <= 127; k++)
        REQUIRE(amp_exp2_precisef((float)k) == ldexpf(1.0f, k) && amp_log2_precisef(ldexpf(1.0f, k)) == (float)k,
                "exp2/log2 of whole %d not exact", k);
    REQUIRE1(amp_log2_precisef(0x1p-149f) == -149.0f);
    float p10 = 1.0f;
    for (int k = 0; k <= 10; k++, p10 *= 10.0f)
        REQUIRE(amp_exp10_precisef((float)k) == p10 && amp_log10_precisef(p10) == (float)k,
                "exp10/log10 of whole %d not exact", k);
    REQUIRE1(amp_exp_precisef(0.0f) == 1.0f && amp_log_precisef(1.0f) == 0.0f);
    /* saturation and flushing like amp_expf; the logs' specials like amp_logf */
    REQUIRE1(amp_exp_precisef(89.0f) == FLT_MAX && amp_exp_precisef(1e30f) == FLT_MAX);
    REQUIRE1(amp_exp_precisef(-87.5f) == 0.0f && amp_exp_precisef(-1e30f) == 0.0f && amp_exp_precisef(NAN) == 0.0f);
    REQUIRE1(amp_exp2_precisef(128.0f) == FLT_MAX && amp_exp2_precisef(-126.5f) == 0.0f);
    REQUIRE1(amp_exp10_precisef(39.0f) == FLT_MAX && amp_exp10_precisef(-38.0f) == 0.0f);
    REQUIRE1(amp_log_precisef(0.0f) == -1e30f && amp_log_precisef(-1.0f) == -1e30f &&
             amp_log10_precisef(-0.0f) == -1e30f && amp_log2_precisef(-3.0f) == -1e30f);
    REQUIRE1(amp_log_precisef(INFINITY) == amp_logf(INFINITY) && isfinite(amp_log_precisef(INFINITY)));

    REQUIRE1(amp_pow_precisef(7.0f, 1.0f) == 7.0f && amp_pow_precisef(3.0f, 2.0f) == 9.0f);
    REQUIRE1(amp_pow_precisef(-2.0f, 0.5f) == amp_powf(-2.0f, 0.5f) && amp_pow_precisef(0.0f, -1.0f) == FLT_MAX);
    REQUIRE1(amp_pow_precisef(10.0f, 100.0f) == FLT_MAX && amp_pow_precisef(10.0f, -100.0f) == 0.0f);
    REQUIRE1(amp_cos_precisef(1e30f) == amp_cosf(1e30f) && isfinite(amp_tan_precisef(0x1.921fb6p0f)));
}
END_TEST

START_TEST(acc_trig)
{
    sweep1("sin", amp_sin, sin, -1000, 1000, 4 * SWEEP_N, ABS, 0, NULL, 2e-6);
    sweep1("cos", amp_cos, cos, -1000, 1000, 4 * SWEEP_N, ABS, 0, NULL, 2e-6);
    sweep1("sin", amp_sin, sin, -1e5, 1e5, 4 * SWEEP_N, ABS, 0, NULL, 2e-6);
    sweep1("cos", amp_cos, cos, -1e5, 1e5, 4 * SWEEP_N, ABS, 0, NULL, 2e-6);
    sweep1("sin", amp_sin, sin, -4, 4, SWEEP_N, ABS, 0, NULL, 2e-6);
    sweep1("cos", amp_cos, cos, -4, 4, SWEEP_N, ABS, 0, NULL, 2e-6);
    sweep1("tan", amp_tan, tan, -1000, 1000, 4 * SWEEP_N, REL, 0, near_pole, 1e-5);
    sweep1("tan", amp_tan, tan, -1.6, 1.6, SWEEP_N, REL, 0, near_pole, 1e-5);
    sweep1("asin", amp_asin, asin, -1, 1, SWEEP_N, ABS, 0, NULL, 5e-6);
    sweep1("acos", amp_acos, acos, -1, 1, SWEEP_N, ABS, 0, NULL, 5e-6);
    sweep1("atan", amp_atan, atan, -1e4, 1e4, SWEEP_N, ABS, 0, NULL, 5e-6);
    sweep1("atan", amp_atan, atan, -4, 4, SWEEP_N, ABS, 0, NULL, 5e-6);
    sweep1("atan", amp_atan, atan, -30, 30, SWEEP_N, ABS, 1, NULL, 5e-6);
}
END_TEST

START_TEST(acc_atan2)
{
    double worst = 0;
    float wy = 0, wx = 0;
    const int n = 1000;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j += 4) {
            float y = (float)(-10.0 + 20.0 * i / (n - 1));
            float xs[4];
            for (int l = 0; l < 4; l++)
                xs[l] = (float)(-10.0 + 20.0 * (j + l) / (n - 1));
            v4f r = amp_atan2(amp_splat(y), (v4f){ xs[0], xs[1], xs[2], xs[3] });
            for (int l = 0; l < 4; l++) {
                double e = fabs(r[l] - atan2(y, xs[l]));
                if (e > worst) {
                    worst = e;
                    wy = y;
                    wx = xs[l];
                }
            }
        }
    }
    printf("math: atan2   abs   error %.2e at (%.9g, %.9g) over a %dx%d grid on [-10, 10]^2 (bound 5e-06)\n",
           worst, wy, wx, n, n);
    REQUIRE(worst <= 5e-6, "atan2 error %g", worst);
}
END_TEST

START_TEST(acc_exp)
{
    sweep1("exp", amp_exp, exp, -80, 80, SWEEP_N, REL, 0, NULL, 2e-6);
    sweep1("exp2", amp_exp2, exp2, -80, 80, SWEEP_N, REL, 0, NULL, 2e-6);
    sweep1("exp2", amp_exp2, exp2, -125, 127.9, SWEEP_N, REL, 0, NULL, 2e-6);
    sweep1("exp10", amp_exp10, ref_exp10, -37, 38, SWEEP_N, REL, 0, NULL, 2e-6);
    sweep1("db2lin", amp_db2lin, ref_db2lin, -700, 700, SWEEP_N, REL, 0, NULL, 2e-6);
    sweep1("exp", amp_exp, exp, -1, 1, SWEEP_N, REL, 0, NULL, 2e-6);
    sweep1("sinh", amp_sinh, sinh, -20, 20, SWEEP_N, REL, 0, NULL, 1e-5);
    sweep1("sinh", amp_sinh, sinh, -1, 1, SWEEP_N, REL, 0, NULL, 1e-5);
    sweep1("cosh", amp_cosh, cosh, -20, 20, SWEEP_N, REL, 0, NULL, 1e-5);
    sweep1("tanh", amp_tanh, tanh, -20, 20, SWEEP_N, ABS, 0, NULL, 2e-6);
    sweep1("tanh", amp_tanh, tanh, -1, 1, SWEEP_N, ABS, 0, NULL, 2e-6);
}
END_TEST

START_TEST(acc_log)
{
    sweep1("log", amp_log, log, -30, 30, SWEEP_N, MIXED, 1, NULL, 2e-6);
    sweep1("log2", amp_log2, log2, -30, 30, SWEEP_N, MIXED, 1, NULL, 2e-6);
    sweep1("log10", amp_log10, log10, -30, 30, SWEEP_N, MIXED, 1, NULL, 2e-6);
    sweep1("lin2db", amp_lin2db, ref_lin2db, -30, 30, SWEEP_N, MIXED, 1, NULL, 2e-6);
    sweep1("log", amp_log, log, 0.25, 4, SWEEP_N, ABS, 0, NULL, 2e-6);
    sweep1("log2", amp_log2, log2, 0.25, 4, SWEEP_N, ABS, 0, NULL, 2e-6);
    sweep1("log10", amp_log10, log10, 0.25, 4, SWEEP_N, ABS, 0, NULL, 2e-6);
    /* near 1, where the logs are small: relative accuracy holds too */
    sweep1("log", amp_log, log, 0.999, 1.001, SWEEP_N, REL, 0, NULL, 2e-6);
}
END_TEST

START_TEST(acc_pow)
{
    /* x log-spaced over [1e-6, 1e6], y over [-20, 20]; only where the result
     * is a normal float that the kernel does not flush (|y log2 x| < 125). */
    double worst = 0;
    float wx = 0, wy = 0;
    const int nx = 1000, ny = 400;
    for (int i = 0; i < nx; i++) {
        float x = (float)pow(10.0, -6.0 + 12.0 * i / (nx - 1));
        for (int j = 0; j < ny; j += 4) {
            float ys[4];
            for (int l = 0; l < 4; l++)
                ys[l] = (float)(-20.0 + 40.0 * (j + l) / (ny - 1));
            v4f r = amp_pow(amp_splat(x), (v4f){ ys[0], ys[1], ys[2], ys[3] });
            for (int l = 0; l < 4; l++) {
                REQUIRE(isfinite(r[l]), "pow(%g, %g) = %g", x, ys[l], r[l]);
                if (fabs(ys[l] * log2(x)) >= 125)
                    continue;
                double ref = pow(x, ys[l]);
                double e = fabs(r[l] - ref) / ref;
                if (e > worst) {
                    worst = e;
                    wx = x;
                    wy = ys[l];
                }
            }
        }
    }
    printf("math: pow     rel   error %.2e at (%.9g, %.9g) over x in [1e-6, 1e6] (log), y in [-20, 20] (bound 1e-05)\n",
           worst, wx, wy);
    REQUIRE(worst <= 1e-5, "pow error %g at (%g, %g)", worst, wx, wy);
}
END_TEST

START_TEST(acc_sqrt)
{
    /* correctly rounded: equal to the libm result on every sample */
    for (long i = 0; i < SWEEP_N; i++) {
        float x = (float)pow(10.0, -40.0 + 78.0 * (double)i / (SWEEP_N - 1));
        float r = amp_sqrtf(x);
        REQUIRE(r == sqrtf(x), "sqrt(%.9g) = %.9g, libm %.9g", x, r, sqrtf(x));
    }
}
END_TEST

/* ---------------------------------------------------------------------- */
/* edges */

static const float edge_vals[] = {
    0.0f, -0.0f, 1e-45f, -1e-45f, 1e-40f, -1e-40f, 1.17549435e-38f, 1e-30f, -1e-30f,
    1e-10f, 0.5f, -0.5f, 1.0f, -1.0f, 2.0f, 3.14159274f, -3.14159274f, 1.57079637f,
    100.0f, -100.0f, 1e4f, 1e6f, -1e6f, 8388608.0f, 1e9f, -1e9f, 1e20f, -1e20f,
    1e30f, -1e30f, 1e38f, -1e38f, FLT_MAX, -FLT_MAX,
};
#define N_EDGE (sizeof edge_vals / sizeof edge_vals[0])

START_TEST(edge_finite)
{
    v4f (*const f1[])(v4f) = {
        amp_sin, amp_cos, amp_tan, amp_asin, amp_acos, amp_atan, amp_exp, amp_exp2,
        amp_exp10, amp_log, amp_log2, amp_log10, amp_sinh, amp_cosh, amp_tanh,
        amp_db2lin, amp_lin2db, amp_sqrt, amp_floor, amp_ceil, amp_round,
        amp_trunc, amp_fract, amp_abs, amp_flush,
    };
    v4f (*const f2[])(v4f, v4f) = { k_atan2, k_pow, k_mod, k_fmod, k_min, k_max, k_clamp };
    for (size_t k = 0; k < sizeof f1 / sizeof f1[0]; k++)
        for (size_t i = 0; i < N_EDGE; i++) {
            float r = f1[k](amp_splat(edge_vals[i]))[0];
            REQUIRE(isfinite(r), "kernel %zu (%g) = %g", k, edge_vals[i], r);
        }
    for (size_t k = 0; k < sizeof f2 / sizeof f2[0]; k++)
        for (size_t i = 0; i < N_EDGE; i++)
            for (size_t j = 0; j < N_EDGE; j++) {
                float r = f2[k](amp_splat(edge_vals[i]), amp_splat(edge_vals[j]))[0];
                REQUIRE(isfinite(r), "kernel2 %zu (%g, %g) = %g", k, edge_vals[i], edge_vals[j], r);
            }
    /* and over the checksum sweep, which holds arbitrary finite bit patterns */
    for (size_t k = 0; k < sizeof sum_k1 / sizeof sum_k1[0]; k++)
        for (uint32_t i = 0; i < SUM_N; i += 4) {
            v4f x = sum_vec(i, 0), y = sum_k1[k].f(x);
            for (int l = 0; l < 4; l++)
                REQUIRE(isfinite(y[l]), "%s(%.9g) = %g", sum_k1[k].name, x[l], y[l]);
        }
    for (size_t k = 0; k < sizeof sum_k2 / sizeof sum_k2[0]; k++)
        for (uint32_t i = 0; i < SUM_N; i += 4) {
            v4f a = sum_vec(i, 0), b = sum_vec(i, 1), y = sum_k2[k].f(a, b);
            for (int l = 0; l < 4; l++)
                REQUIRE(isfinite(y[l]), "%s(%.9g, %.9g) = %g", sum_k2[k].name, a[l], b[l], y[l]);
        }
}
END_TEST

START_TEST(edge_ranges)
{
    /* sin/cos of any finite input stay in [-1, 1]; tanh in [-1, 1] */
    for (size_t i = 0; i < N_EDGE; i++) {
        float x = edge_vals[i];
        REQUIRE1(fabsf(amp_sinf(x)) <= 1.0f && fabsf(amp_cosf(x)) <= 1.0f);
        REQUIRE1(fabsf(amp_tanhf(x)) <= 1.0f);
    }
    for (uint32_t i = 0; i < SUM_N; i++) {
        float x = sum_sample(i, 2);
        REQUIRE(fabsf(amp_sinf(x)) <= 1.0f && fabsf(amp_cosf(x)) <= 1.0f, "sin/cos(%g)", x);
        float t = amp_tanhf(x);
        REQUIRE1(fabsf(t) <= 1.0f);
        REQUIRE1(sum_to_bits(amp_tanhf(-x)) == (sum_to_bits(t) ^ 0x80000000u));  /* exactly odd */
        REQUIRE1(sum_to_bits(amp_sinhf(-x)) == (sum_to_bits(amp_sinhf(x)) ^ 0x80000000u));
        float a = amp_asinf(x), c = amp_acosf(x), at = amp_atanf(x);
        REQUIRE1(a >= -1.5707964f && a <= 1.5707964f);
        REQUIRE1(c >= 0.0f && c <= 3.1415927f);
        REQUIRE1(at >= -1.5707964f && at <= 1.5707964f);
    }
    /* sin/cos up to 1e9: graceful, still bounded and finite */
    for (long i = 0; i < 100000; i++) {
        float x = (float)(-1e9 + 2e9 * i / 99999.0);
        REQUIRE1(fabsf(amp_sinf(x)) <= 1.0f && fabsf(amp_cosf(x)) <= 1.0f);
    }
    /* exact values */
    REQUIRE1(amp_sinf(0.0f) == 0.0f && amp_cosf(0.0f) == 1.0f && amp_tanf(0.0f) == 0.0f);
    REQUIRE1(signbit(amp_tanhf(-0.0f)) && signbit(amp_atanf(-0.0f)) && signbit(amp_asinf(-0.0f)));
    REQUIRE1(amp_asinf(1.0f) == 1.57079637f && amp_asinf(2.0f) == 1.57079637f);
    REQUIRE1(amp_acosf(1.0f) == 0.0f && amp_acosf(-1.0f) == 3.14159274f && amp_acosf(-5.0f) == 3.14159274f);
    REQUIRE1(amp_atan2f(0.0f, -0.0f) == 3.14159274f && amp_atan2f(-0.0f, -0.0f) == -3.14159274f);
    REQUIRE1(amp_atan2f(0.0f, 0.0f) == 0.0f && amp_atan2f(1.0f, 0.0f) == 1.57079637f);
    REQUIRE1(amp_atan2f(-1.0f, 0.0f) == -1.57079637f && amp_atan2f(0.0f, -1.0f) == 3.14159274f);
    REQUIRE1(amp_expf(0.0f) == 1.0f && amp_exp2f(0.0f) == 1.0f && amp_exp10f(0.0f) == 1.0f);
    REQUIRE1(amp_exp2f(1.0f) == 2.0f && amp_exp2f(10.0f) == 1024.0f && amp_exp2f(-3.0f) == 0.125f);
    REQUIRE1(amp_db2linf(0.0f) == 1.0f);
    REQUIRE1(amp_logf(1.0f) == 0.0f && amp_log2f(1.0f) == 0.0f && amp_log10f(1.0f) == 0.0f);
    REQUIRE1(amp_log2f(2.0f) == 1.0f && amp_log2f(1024.0f) == 10.0f && amp_log2f(0.25f) == -2.0f);
    REQUIRE1(amp_lin2dbf(1.0f) == 0.0f);
    REQUIRE1(amp_tanhf(9.0f) == 1.0f && amp_tanhf(-9.5f) == -1.0f && amp_tanhf(1e30f) == 1.0f);
    for (float x = 8.664f; x < 30.0f; x += 0.0001f)
        REQUIRE(amp_tanhf(x) == 1.0f && amp_tanhf(-x) == -1.0f, "tanh(%.9g) = %.9g", x, amp_tanhf(x));
    REQUIRE1(amp_tanhf(8.66f) < 1.0f && amp_tanhf(8.66f) > 0.9999999f);
    REQUIRE1(amp_tanhf(-FLT_MAX) == -1.0f);
    REQUIRE1(amp_tanhf(1e-20f) == 1e-20f && amp_sinhf(1e-20f) == 1e-20f);
    /* saturation instead of Inf; underflow to exactly 0, never a denormal */
    REQUIRE1(amp_expf(1000.0f) > 3e38f && amp_expf(1000.0f) <= FLT_MAX);
    REQUIRE1(amp_exp2f(128.0f) > 3e38f && amp_exp10f(39.0f) > 3e38f && amp_db2linf(800.0f) > 3e38f);
    REQUIRE1(amp_expf(-1000.0f) == 0.0f && amp_exp2f(-200.0f) == 0.0f && amp_db2linf(-1000.0f) == 0.0f);
    for (float x = -130.0f; x < -120.0f; x += 0.001f) {
        float r = amp_exp2f(x);
        REQUIRE(r == 0.0f || r >= FLT_MIN, "exp2(%g) = %g is denormal", x, r);
        r = amp_expf(x * 0.69314718f);
        REQUIRE(r == 0.0f || r >= FLT_MIN, "exp(%g) = %g is denormal", x, r);
    }
    REQUIRE1(amp_sinhf(1000.0f) > 1e38f && amp_sinhf(-1000.0f) < -1e38f && amp_coshf(-1000.0f) > 1e38f);
    REQUIRE1(amp_coshf(0.0f) == 1.0f);
    /* logs of x <= 0: -1e30 (lang/SPEC.md); denormals are taken as 2^-126 */
    REQUIRE1(amp_logf(0.0f) == -1e30f && amp_logf(-0.0f) == -1e30f && amp_log2f(-1.0f) == -1e30f);
    REQUIRE1(amp_log10f(-FLT_MAX) == -1e30f && amp_lin2dbf(0.0f) == -1e30f);
    REQUIRE1(amp_log2f(1e-45f) == -126.0f && amp_log2f(FLT_MIN) == -126.0f);
    REQUIRE1(amp_log2f(FLT_MAX) > 127.99f && amp_log2f(FLT_MAX) <= 128.0f);
    /* pow */
    REQUIRE1(amp_powf(0.0f, 2.0f) == 0.0f && amp_powf(0.0f, 0.5f) == 0.0f && amp_powf(0.0f, 0.0f) == 1.0f);
    REQUIRE1(amp_powf(0.0f, -1.0f) == FLT_MAX && amp_powf(-0.0f, -3.0f) == -FLT_MAX);
    REQUIRE1(amp_powf(5.0f, 0.0f) == 1.0f && amp_powf(-5.0f, 0.0f) == 1.0f && amp_powf(1.0f, 123.4f) == 1.0f);
    REQUIRE1(amp_powf(2.0f, 10.0f) == 1024.0f && amp_powf(2.0f, -2.0f) == 0.25f);
    REQUIRE1(fabsf(amp_powf(-2.0f, 3.0f) + 8.0f) < 1e-5f && fabsf(amp_powf(-2.0f, 2.0f) - 4.0f) < 1e-5f);
    REQUIRE1(fabsf(amp_powf(-4.0f, 0.5f) - 2.0f) < 1e-5f);           /* non-integer y: |x|^y */
    REQUIRE1(amp_powf(-2.0f, 3e7f) > 3e38f);                          /* huge y: even */
    REQUIRE1(amp_powf(10.0f, 1e30f) == FLT_MAX || amp_powf(10.0f, 1e30f) > 3e38f);
    REQUIRE1(amp_powf(10.0f, -1e30f) == 0.0f && amp_powf(FLT_MAX, FLT_MAX) > 3e38f);
    /* whole exponents: every power of a prime up to 23 that is a float
     * below 2^24 (83 of them), and its reciprocal, exactly; the negative
     * base gives the signed power */
    int exact = 0;
    static const int primes[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23 };
    for (int i = 0; i < 9; i++) {
        double v = primes[i];
        for (int k = 1; v < 0x1p24; k++, v *= primes[i]) {
            float p = (float)primes[i];
            REQUIRE(amp_powf(p, (float)k) == (float)v, "pow(%g, %d) = %.9g, not %.9g", p, k, amp_powf(p, (float)k), v);
            REQUIRE(amp_powf(-p, (float)k) == (float)((k & 1) ? -v : v), "pow(-%g, %d) = %.9g", p, k,
                    amp_powf(-p, (float)k));
            REQUIRE(amp_powf(p, (float)-k) == (float)(1.0 / v), "pow(%g, %d) = %.9g, not %.9g", p, -k,
                    amp_powf(p, (float)-k), (float)(1.0 / v));
            exact++;
        }
    }
    printf("math: pow     %d whole powers of primes 2..23 below 2^24 exact (and their reciprocals, and -p)\n", exact);
    REQUIRE(exact >= 80, "only %d prime powers tested", exact);
    REQUIRE1(amp_powf(7.0f, 1.0f) == 7.0f && amp_powf(3.0f, 2.0f) == 9.0f && amp_powf(0.5f, 3.0f) == 0.125f);
    for (int k = -20; k <= 20; k++) {
        double ref = pow(-1.5, k);
        REQUIRE(fabs(amp_powf(-1.5f, (float)k) - ref) <= 2e-6 * fabs(ref), "pow(-1.5, %d)", k);
    }
    /* sqrt */
    REQUIRE1(amp_sqrtf(-1.0f) == 0.0f && amp_sqrtf(-0.0f) == 0.0f && amp_sqrtf(4.0f) == 2.0f);
    REQUIRE1(amp_sqrtf(1e-45f) == sqrtf(1e-45f) && amp_sqrtf(FLT_MAX) == sqrtf(FLT_MAX));
    REQUIRE1(amp_sqrtf(-FLT_MAX) == 0.0f);
    /* min / max / clamp: compare+select semantics, documented for NaN */
    REQUIRE1(amp_minf(1.0f, 2.0f) == 1.0f && amp_maxf(1.0f, 2.0f) == 2.0f);
    REQUIRE1(amp_minf(NAN, 2.0f) == 2.0f && isnan(amp_minf(2.0f, NAN)));
    REQUIRE1(amp_clampf(5.0f, 0.0f, 1.0f) == 1.0f && amp_clampf(-5.0f, 0.0f, 1.0f) == 0.0f);
    REQUIRE1(amp_clampf(NAN, 0.25f, 1.0f) == 0.25f && amp_clampf(0.5f, 0.0f, 1.0f) == 0.5f);
    REQUIRE1(amp_absf(-0.0f) == 0.0f && !signbit(amp_absf(-0.0f)) && amp_absf(-3.0f) == 3.0f);
    /* selects and truth values */
    v4f a = { 1, 2, 3, 4 }, b = { 4, 3, 2, 1 };
    v4f s = amp_sel(a < b, a, b), t = amp_bool(a < b), z = amp_truth((v4f){ 0.0f, -0.0f, 2.0f, -1e-30f });
    REQUIRE1(s[0] == 1 && s[1] == 2 && s[2] == 2 && s[3] == 1);
    REQUIRE1(t[0] == 1 && t[1] == 1 && t[2] == 0 && t[3] == 0);
    REQUIRE1(z[0] == 0 && z[1] == 0 && z[2] == 1 && z[3] == 1);
    v4i m = amp_nz((v4f){ 0.0f, 1.0f, -0.0f, 5.0f });
    REQUIRE1(m[0] == 0 && m[1] == -1 && m[2] == 0 && m[3] == -1);
}
END_TEST

START_TEST(edge_flush)
{
    REQUIRE1(amp_flushf(1e-35f) == 0.0f && !signbit(amp_flushf(-1e-35f)) && amp_flushf(-1e-35f) == 0.0f);
    REQUIRE1(amp_flushf(1e-40f) == 0.0f && amp_flushf(9.9e-31f) == 0.0f);
    REQUIRE1(amp_flushf(1e-20f) == 1e-20f && amp_flushf(-1e-20f) == -1e-20f);
    REQUIRE1(amp_flushf(1e-30f) == 1e-30f && amp_flushf(0.5f) == 0.5f && amp_flushf(-FLT_MAX) == -FLT_MAX);
    REQUIRE1(isnan(amp_flushf(NAN)));
}
END_TEST

/* floor/ceil/round/trunc: same bits as libm (sign of zero included). */
static void check_rounding(float x)
{
    REQUIRE(sum_to_bits(amp_floorf(x)) == sum_to_bits(floorf(x)), "floor(%.9g) = %.9g", x, amp_floorf(x));
    REQUIRE(sum_to_bits(amp_ceilf(x)) == sum_to_bits(ceilf(x)), "ceil(%.9g) = %.9g", x, amp_ceilf(x));
    REQUIRE(sum_to_bits(amp_roundf(x)) == sum_to_bits(roundf(x)), "round(%.9g) = %.9g", x, amp_roundf(x));
    REQUIRE(sum_to_bits(amp_truncf(x)) == sum_to_bits(truncf(x)), "trunc(%.9g) = %.9g", x, amp_truncf(x));
    float f = amp_fractf(x);
    REQUIRE(f >= 0.0f && f < 1.0f, "fract(%.9g) = %.9g", x, f);
    double fr = (double)x - floor((double)x);
    REQUIRE(fabs(f - fr) <= 6e-8 * fmax(1.0, fabs((double)x)) || (fr > 1.0 - 6e-8 && f == 0.99999994f),
                  "fract(%.9g) = %.9g, want %.9g", x, f, fr);
}

START_TEST(edge_rounding)
{
    static const float v[] = {
        0.0f, -0.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0.49999997f, -0.49999997f,
        0.50000006f, -0.50000006f, 1.0f, -1.0f, 2.0f, -2.0f, 3.0f, -3.0f, 1e-45f, -1e-45f,
        1e-30f, -1e-30f, 0.99999994f, -0.99999994f, 123456.5f, -123456.5f, 4194303.5f,
        -4194303.5f, 8388607.5f, -8388607.5f, 8388607.0f, -8388607.0f, 8388608.0f,
        -8388608.0f, 8388609.0f, -8388609.0f, 16777216.0f, -16777216.0f, 16777218.0f,
        2147483648.0f, -2147483648.0f, 4294967296.0f, 1e10f, -1e10f, 1e30f, -1e30f,
        FLT_MAX, -FLT_MAX,
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        check_rounding(v[i]);
    for (int k = -1000; k <= 1000; k++) {
        check_rounding((float)k);
        check_rounding((float)k + 0.5f);
        check_rounding((float)k * 0.25f);
    }
    for (uint32_t i = 0; i < SUM_N; i++)
        check_rounding(sum_sample(i, 3));
    /* NaN and Inf pass through */
    REQUIRE1(isnan(amp_floorf(NAN)) && amp_floorf(INFINITY) == INFINITY && amp_ceilf(-INFINITY) == -INFINITY);
}
END_TEST

START_TEST(edge_mod)
{
    /* floored: sign of b */
    REQUIRE1(amp_floormodf(-1.0f, 4.0f) == 3.0f && amp_floormodf(1.0f, -4.0f) == -3.0f);
    REQUIRE1(amp_floormodf(5.0f, 3.0f) == 2.0f && amp_floormodf(-5.0f, 3.0f) == 1.0f);
    REQUIRE1(amp_floormodf(5.0f, -3.0f) == -1.0f && amp_floormodf(-5.0f, -3.0f) == -2.0f);
    REQUIRE1(amp_floormodf(5.5f, 2.0f) == 1.5f && amp_floormodf(-0.25f, 1.0f) == 0.75f);
    REQUIRE1(amp_floormodf(3.0f, 0.0f) == 0.0f && amp_floormodf(-3.0f, 0.0f) == 0.0f);
    REQUIRE1(amp_floormodf(6.0f, 3.0f) == 0.0f && amp_floormodf(-6.0f, 3.0f) == 0.0f);
    float w = amp_floormodf(-1e-10f, 1.0f);
    REQUIRE(w >= 0.0f && w < 1.0f, "mod(-1e-10, 1) = %.9g", w);
    /* truncated: sign of a, as C fmod */
    REQUIRE1(amp_fmodf(5.0f, 3.0f) == 2.0f && amp_fmodf(-5.0f, 3.0f) == -2.0f);
    REQUIRE1(amp_fmodf(5.0f, -3.0f) == 2.0f && amp_fmodf(-5.0f, -3.0f) == -2.0f);
    REQUIRE1(amp_fmodf(5.5f, 2.0f) == 1.5f && amp_fmodf(-5.5f, 2.0f) == -1.5f);
    REQUIRE1(amp_fmodf(3.0f, 0.0f) == 0.0f && signbit(amp_fmodf(-6.0f, 3.0f)) && amp_fmodf(-6.0f, 3.0f) == 0.0f);
    /* sweeps: in range, and close to the exact result (on the circle of
     * circumference |b|, since the floored result wraps at 0 / b) */
    for (uint32_t i = 0; i < SUM_N; i++) {
        float a = sum_sample(i, 0), b = sum_sample(i, 1);
        if (i & 1) {
            a = fmodf(a, 1000.0f);
            b = (float)(((int)(i >> 1) % 200) - 100) * 0.37f;
        }
        float r = amp_floormodf(a, b), q = amp_fmodf(a, b);
        if (b == 0.0f) {
            REQUIRE1(r == 0.0f && q == 0.0f);
            continue;
        }
        REQUIRE(fabsf(r) < fabsf(b) && (r == 0.0f || (r > 0) == (b > 0)), "mod(%.9g, %.9g) = %.9g", a, b, r);
        REQUIRE(fabsf(q) < fabsf(b) && (q == 0.0f || (q > 0) == (a > 0)), "fmod(%.9g, %.9g) = %.9g", a, b, q);
        double ab = fabs((double)a / b);
        if (ab > 1e6 || !isnormal(a) || fabs(b) < 1e-30)
            continue;                                   /* float can't hold the answer */
        double tol = 4e-7 * fmax(fabs(a), fabs(b));
        double ex = fmod(a, b), d = fabs(q - ex);
        REQUIRE(d <= tol || fabs(d - fabs(b)) <= tol, "fmod(%.9g, %.9g) = %.9g, want %.9g", a, b, q, ex);
        ex = a - (double)b * floor((double)a / b);
        d = fabs(r - ex);
        REQUIRE(d <= tol || fabs(d - fabs(b)) <= tol, "mod(%.9g, %.9g) = %.9g, want %.9g", a, b, r, ex);
    }
}
END_TEST

START_TEST(edge_noise)
{
    v4u st = amp_noise_seed(1);
    double sum[4] = { 0 }, sq = 0;
    float prev[4] = { 0 };
    int same = 0;
    const int n = 1000000;
    for (int i = 0; i < n; i++) {
        v4f y = amp_noise(&st);
        for (int l = 0; l < 4; l++) {
            REQUIRE(y[l] >= -1.0f && y[l] < 1.0f, "noise %g", y[l]);
            sum[l] += y[l];
            sq += (double)y[l] * y[l];
            prev[l] = y[l];
        }
        same += prev[0] == prev[1] || prev[0] == prev[2] || prev[1] == prev[3];
        for (int l = 0; l < 4; l++)
            REQUIRE1(st[l] != 0);
    }
    for (int l = 0; l < 4; l++)
        REQUIRE(fabs(sum[l] / n) < 0.005, "lane %d mean %g", l, sum[l] / n);
    REQUIRE(fabs(sq / (4.0 * n) - 1.0 / 3.0) < 0.005, "variance %g", sq / (4.0 * n));
    REQUIRE(same < 10, "lanes too often equal: %d", same);
    /* seeds: four distinct non-zero lanes for every seed, including the ones
     * where 4*seed wraps to 0 */
    static const uint32_t seeds[] = { 0u, 1u, 2u, 0x40000000u, 0x80000000u, 0xc0000000u, 0xffffffffu, 12345u };
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        v4u x = amp_noise_seed(seeds[s]);
        for (int i = 0; i < 4; i++) {
            REQUIRE1(x[i] != 0);
            for (int j = 0; j < i; j++)
                REQUIRE1(x[i] != x[j]);
        }
    }
    for (uint32_t s = 0; s < 100000; s++) {
        v4u x = amp_noise_seed(s * 2654435761u);
        REQUIRE1(x[0] && x[1] && x[2] && x[3] && x[0] != x[1] && x[0] != x[2] && x[0] != x[3]
                  && x[1] != x[2] && x[1] != x[3] && x[2] != x[3]);
    }
    /* different seeds give different streams */
    v4u s1 = amp_noise_seed(7), s2 = amp_noise_seed(8);
    REQUIRE1(amp_noise(&s1)[0] != amp_noise(&s2)[0]);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* determinism */

/* Scalar twin vs lane 0 of the vector kernel on a splat, and vs every lane
 * of a vector of four different values. */
#define SCALAR_EQ1(vf, sf)                                                        \
    for (uint32_t i = 0; i < SUM_N; i += 4) {                                     \
        v4f x = sum_vec(i, 0), y = vf(x);                                         \
        for (int l = 0; l < 4; l++) {                                             \
            uint32_t a = sum_to_bits(sf(x[l])), b = sum_to_bits(y[l]);            \
            uint32_t c = sum_to_bits(vf(amp_splat(x[l]))[0]);                     \
            REQUIRE(a == b && a == c, #sf "(%.9g): %08x lane %08x splat %08x", \
                          x[l], a, b, c);                                         \
        }                                                                         \
    }
#define SCALAR_EQ2(vf, sf)                                                        \
    for (uint32_t i = 0; i < SUM_N; i += 4) {                                     \
        v4f x = sum_vec(i, 0), z = sum_vec(i, 1), y = vf(x, z);                   \
        for (int l = 0; l < 4; l++) {                                             \
            uint32_t a = sum_to_bits(sf(x[l], z[l])), b = sum_to_bits(y[l]);      \
            REQUIRE(a == b, #sf "(%.9g, %.9g): %08x lane %08x", x[l], z[l], a, b); \
        }                                                                         \
    }

START_TEST(det_scalar)
{
    SCALAR_EQ1(amp_sin, amp_sinf)     SCALAR_EQ1(amp_cos, amp_cosf)
    SCALAR_EQ1(amp_tan, amp_tanf)     SCALAR_EQ1(amp_asin, amp_asinf)
    SCALAR_EQ1(amp_acos, amp_acosf)   SCALAR_EQ1(amp_atan, amp_atanf)
    SCALAR_EQ1(amp_exp, amp_expf)     SCALAR_EQ1(amp_exp2, amp_exp2f)
    SCALAR_EQ1(amp_exp10, amp_exp10f) SCALAR_EQ1(amp_log, amp_logf)
    SCALAR_EQ1(amp_log2, amp_log2f)   SCALAR_EQ1(amp_log10, amp_log10f)
    SCALAR_EQ1(amp_sinh, amp_sinhf)   SCALAR_EQ1(amp_cosh, amp_coshf)
    SCALAR_EQ1(amp_tanh, amp_tanhf)   SCALAR_EQ1(amp_sqrt, amp_sqrtf)
    SCALAR_EQ1(amp_floor, amp_floorf) SCALAR_EQ1(amp_ceil, amp_ceilf)
    SCALAR_EQ1(amp_round, amp_roundf) SCALAR_EQ1(amp_trunc, amp_truncf)
    SCALAR_EQ1(amp_fract, amp_fractf) SCALAR_EQ1(amp_abs, amp_absf)
    SCALAR_EQ1(amp_db2lin, amp_db2linf) SCALAR_EQ1(amp_lin2db, amp_lin2dbf)
    SCALAR_EQ1(amp_flush, amp_flushf)
    SCALAR_EQ2(amp_atan2, amp_atan2f) SCALAR_EQ2(amp_pow, amp_powf)
    SCALAR_EQ2(amp_fmod, amp_fmodf)   SCALAR_EQ2(amp_mod, amp_floormodf)
    SCALAR_EQ2(amp_min, amp_minf)     SCALAR_EQ2(amp_max, amp_maxf)
    for (uint32_t i = 0; i < SUM_N; i += 4) {
        v4f x = sum_vec(i, 0), lo = sum_vec(i, 1), hi = lo + 3.0f, y = amp_clamp(x, lo, hi);
        for (int l = 0; l < 4; l++)
            REQUIRE1(sum_to_bits(amp_clampf(x[l], lo[l], hi[l])) == sum_to_bits(y[l]));
    }
}
END_TEST

START_TEST(det_checksum)
{
    uint64_t sum = amp_math_checksum(getenv("AMP_MATH_VERBOSE") != NULL);
    printf("math: kernel checksum %016llx (expected %016llx)\n",
           (unsigned long long)sum, (unsigned long long)AMP_MATH_CHECKSUM);
    REQUIRE(sum == AMP_MATH_CHECKSUM,
                  "kernel checksum %016llx != %016llx: a kernel's output bits changed "
                  "(run with AMP_MATH_VERBOSE=1 to see which)",
                  (unsigned long long)sum, (unsigned long long)AMP_MATH_CHECKSUM);
}
END_TEST

static Suite *math_suite(void)
{
    Suite *s = suite_create("math");
    TCase *acc = tcase_create("accuracy");
    tcase_set_timeout(acc, 120);
    tcase_add_test(acc, acc_trig);
    tcase_add_test(acc, acc_trig_long_double);
    tcase_add_test(acc, acc_precise);
    tcase_add_test(acc, acc_atan2);
    tcase_add_test(acc, acc_exp);
    tcase_add_test(acc, acc_log);
    tcase_add_test(acc, acc_pow);
    tcase_add_test(acc, acc_sqrt);
    suite_add_tcase(s, acc);
    TCase *edges = tcase_create("edges");
    tcase_set_timeout(edges, 60);
    tcase_add_test(edges, edge_finite);
    tcase_add_test(edges, edge_ranges);
    tcase_add_test(edges, edge_flush);
    tcase_add_test(edges, edge_rounding);
    tcase_add_test(edges, edge_mod);
    tcase_add_test(edges, edge_noise);
    suite_add_tcase(s, edges);
    TCase *det = tcase_create("determinism");
    tcase_set_timeout(det, 60);
    tcase_add_test(det, det_scalar);
    tcase_add_test(det, det_checksum);
    suite_add_tcase(s, det);
    return s;
}

int main(void) { return testutil_run(math_suite()); }

#endif /* AMP_MATHSUM_ONLY */
