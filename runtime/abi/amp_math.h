/* amp_math.h — the runtime's own vectorisable math kernels.
 *
 * Compiled patches compute four lanes at a time (one voice per lane) with the
 * GCC/clang vector extensions: 4 x f32, SSE on x86-64, simd128 under
 * emscripten. Every function a patch can call (see lang/SPEC.md §2) is a
 * `static inline` kernel here, on v4f, plus a scalar twin `amp_<name>f` that
 * is defined as lane 0 of the vector kernel, so single-instance code and
 * polyphonic code give the same bits.
 *
 * Why not libm: the native build and the WebAssembly build must produce
 * BIT-IDENTICAL samples. libm implementations differ between glibc and
 * emscripten's musl (and are not vectorised), so every kernel below is built
 * only from operations whose IEEE-754 results are the same on x86 SSE and on
 * wasm:
 *   - + - * / and sqrt (all correctly rounded, round-to-nearest-even);
 *   - comparisons, bit operations, and selects built from them;
 *   - int32 <-> f32 conversions only on values already known to be in range
 *     (x86 cvttps2dq and wasm i32x4.trunc_sat differ on NaN/out-of-range);
 *     int -> float is exact for the small integers used here;
 *   - min/max defined as compare+select, a < b ? a : b (wasm f32x4.min
 *     differs on NaN and on -0/+0); x86 minps/maxps are exactly that, so
 *     natively they are used, and clang finds f32x4.pmin/pmax in wasm.
 * No data-dependent branches: every lane takes the same path, with selects.
 * Rules for the build (checked where possible):
 *   - no -ffast-math (checked below: it would fold the rounding tricks away);
 *   - -ffp-contract=off (no a*b+c fused into an FMA: native has FMA when
 *     -march allows it, wasm simd128 has none). For clang the pragma below
 *     also switches contraction off for the rest of the translation unit;
 *   - the default rounding mode (round to nearest even: the only one wasm
 *     has) and IEEE denormals: the native runtime must not set FTZ/DAZ in
 *     MXCSR. Kernels return a denormal only where the input is one (abs,
 *     min, sin of a denormal, ...) or the true result is that small (atan2
 *     of a tiny ratio, mod, fmod); the exponentials flush to 0 instead.
 *     State that may decay into denormals goes through amp_flush().
 * sqrt: on x86, a per-lane __builtin_sqrtf compiles (gcc's default
 * -fmath-errno) to sqrtss plus a branch to libm's sqrtf for errno, in every
 * lane. So on x86 amp_sqrt uses the SSE sqrtps instruction (_mm_sqrt_ps),
 * and elsewhere (wasm) a per-lane __builtin_sqrtf, which clang turns into
 * one f32x4.sqrt. Both are IEEE correctly rounded, hence identical; the
 * input is made >= 0 first.
 * Nothing returns NaN or Inf from finite input: results saturate (at or near
 * +-FLT_MAX, or to 0 on underflow). NaN input may give NaN or any value.
 *
 * Measured accuracy (tests/check_math.c: >= 1e6-point sweeps against double
 * libm; abs = absolute error, rel = relative error, mixed = absolute where
 * |f| <= 1 and relative beyond, since a float cannot hold log(1e30) = 69.08
 * to 2e-6 absolute). The test prints the measured maxima and asserts the
 * bound column:
 *
 *   kernel            range                          measured    bound
 *   sin, cos          [-1000, 1000] and [-1e5, 1e5]  abs  1.2e-7  2e-6
 *   tan               [-1000, 1000], |cos x| > 1e-4  rel  2.7e-7  1e-5
 *   asin / acos       [-1, 1]                        abs  2.2e-7 / 3.8e-7  5e-6
 *   atan              [-1e4, 1e4], 1e-30..1e30       abs  2.0e-7  5e-6
 *   atan2             1000 x 1000 grid on [-10,10]^2 abs  3.6e-7  5e-6
 *   exp, exp2         [-80, 80]                      rel  2.3e-7  2e-6
 *   exp10             [-37, 38]                      rel  2.4e-7  2e-6
 *   db2lin            [-700, 700] dB                 rel  2.4e-7  2e-6
 *   log, log2, log10  [1e-30, 1e30]                  mixed 1.0e-7 2e-6
 *                     [0.25, 4]                      abs  1.4e-7  2e-6
 *   lin2db            [1e-30, 1e30]                  mixed 2.3e-7 2e-6
 *   pow               x in [1e-6, 1e6], |y| <= 20    rel  1.0e-6  1e-5
 *                     (where 2^-125 < result < 2^125); whole y with
 *                     |y| <= 64: exact whenever x^y is a float (7^1 = 7,
 *                     3^2 = 9, every prime power below 2^24: tested)
 *   sinh / cosh       [-20, 20]                      rel  8.7e-7 / 2.7e-7  1e-5
 *   tanh              [-20, 20]                      abs  1.1e-7  2e-6
 *   sqrt, floor, ceil, round, trunc, abs, min, max, clamp: exact
 *   fract, mod, fmod: computed as x - floor(x), a - b*floor(a/b), a -
 *   b*trunc(a/b) in float, then forced into their ranges (see each).
 * Outside the ranges above the kernels degrade gracefully: sin/cos lose
 * accuracy beyond |x| ~ 2e5 and tan beyond ~6400, but stay finite and
 * bounded; the exponentials saturate and flush, the logs stay finite.
 *
 * Faust nodes' sin, cos, tan, pow, exp, exp2, exp10, log, log2 and log10
 * use the scalar kernels evaluated in double at the end of this file
 * (amp_sin_precisef, ...): correctly rounded on every point of
 * check_math's sweeps (2e7 points), so Faust programs match Faust's C.
 * The float kernels above are not: exp is up to 2.8 ulp off (2.3e-7
 * relative; -1.7 gives 0x1.7622cap-3 where e^-1.7 rounds to
 * 0x1.7622c6p-3), in two thirds of its results by at least one ulp.
 *
 * Cost, in instructions per call (4 lanes), constant loads included, as
 * compiled out of line: x86-64 SSE2 with gcc -O2 (a select is 3 there) /
 * wasm simd128 with emcc -O3 (not counting local.get/set):
 *   sin 69/42  cos 76/47  tan 107/71  asin 57/35  acos 66/40  atan 56/36
 *   atan2 71/48  exp 56/38  exp2 52/36  exp10 59/40  db2lin 59/40
 *   log 51/38  log2 50/37  log10 54/40  lin2db 54/40  pow 153/102
 *   sinh 69/50  cosh 75/49  tanh 73/52  mod 60/45  fmod 57/44  floor 20/16
 *   round 27/21  fract 28/19  sqrt 5/4  noise 15/17  min/max 1/1
 * (inlined into a loop the constants are hoisted). One sin on 4 lanes runs
 * in roughly 5-10 ns natively on a 2-core x86-64 VM.
 */
#ifndef AMP_MATH_H
#define AMP_MATH_H

#include <stdint.h>

#if defined(__FAST_MATH__)
#error "amp_math.h needs IEEE semantics: do not build with -ffast-math"
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

typedef float    v4f __attribute__((vector_size(16)));
typedef int32_t  v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));

/* ---------------------------------------------------------------------- */
/* Constants. Hex floats are exact; the comments give the decimal value.    */

#define AMP__SIGN     (-0x7fffffff - 1)   /* the sign bit, 0x80000000 */
#define AMP__MAGIC    0x1.8p23f           /* 1.5 * 2^23: x + MAGIC rounds x to
                                             an integer held in the low
                                             mantissa bits (|x| <= 2^22) */
#define AMP__PIO2     0x1.921fb6p+0f      /* pi/2, rounded up by 4.4e-8 */
#define AMP__PI       0x1.921fb6p+1f      /* pi */
#define AMP__INV_PI   0x1.45f306p-2f      /* 1/pi */
#define AMP__2_PI     0x1.45f306p-1f      /* 2/pi */
/* pi = PI_A + PI_B + PI_C (to 1.1e-14); A and B have 7 significant bits
 * each, so k*PI_A and k*PI_B are exact for |k| < 2^17 (Cody-Waite). */
#define AMP__PI_A     0x1.92p+1f          /*  3.140625 */
#define AMP__PI_B     0x1.fcp-11f         /*  9.6893310547e-04 */
#define AMP__PI_C    -0x1.5777a6p-20f     /* -1.2795156863e-06 */
/* pi/2 = PIO2_A + PIO2_B + PIO2_C (to 6e-18) for tan, whose relative
 * accuracy near its zeros needs a small last product: A and B have 12
 * significant bits, exact for |k| < 4096 (|x| < ~6400). */
#define AMP__PIO2_A   0x1.922p+0f         /*  1.57080078125 */
#define AMP__PIO2_B  -0x1.2aep-18f        /* -4.4535845518e-06 */
#define AMP__PIO2_C  -0x1.de973ep-31f     /* -8.7055157526e-10 */
/* Splits C = HI + LO with HI of 16 significant bits, so n*HI is exact for
 * the |n| <= 128 binary exponents used by exp/log. */
#define AMP__LN2_HI   0x1.62e4p-1f        /* ln 2 */
#define AMP__LN2_LO   0x1.7f7d1cp-20f
#define AMP__LG2_HI   0x1.3442p-2f        /* log10 2 */
#define AMP__LG2_LO  -0x1.95ec1p-19f
#define AMP__DB2_HI   0x1.8152p+2f        /* 20 log10 2 = 6.0206 dB per octave */
#define AMP__DB2_LO  -0x1.f6ce2ap-16f
#define AMP__LOG2E    0x1.715476p+0f      /* 1/ln 2 */
#define AMP__LOG10E   0x1.bcb7b2p-2f      /* 1/ln 10 */
#define AMP__DBE      0x1.15f2cep+3f      /* 20/ln 10 = 8.6859 */
#define AMP__LOG2_10  0x1.a934fp+1f       /* log2 10 */
#define AMP__LN10     0x1.26bb1cp+1f      /* ln 10 */
#define AMP__LOG2_10_20 0x1.542a5ap-3f    /* log2(10)/20 */
#define AMP__LN10_20  0x1.d791c6p-4f      /* ln(10)/20 */
#define AMP__FLT_MAX  0x1.fffffep+127f
#define AMP__FLT_MIN  0x1p-126f
#define AMP__LOG_ZERO -1e30f              /* log of x <= 0 (lang/SPEC.md) */

/* ---------------------------------------------------------------------- */
/* Lanes, masks, selects. A mask is the v4i result of a vector comparison:  */
/* all ones (-1) in a lane for true, 0 for false.                           */

static inline v4f amp_splat(float x) { return (v4f){ x, x, x, x }; }

/* mask ? a : b, lane-wise (bitwise select: and / andnot / or). */
static inline v4f amp_sel(v4i mask, v4f a, v4f b)
{
    return (v4f)((mask & (v4i)a) | (~mask & (v4i)b));
}

/* mask -> 1.0f / 0.0f: one and. */
static inline v4f amp_bool(v4i mask) { return (v4f)(mask & (v4i)amp_splat(1.0f)); }

/* x != 0 as a mask (NaN counts as true, -0 as false). */
static inline v4i amp_nz(v4f x) { return x != amp_splat(0.0f); }

/* x != 0 as 1.0f / 0.0f (the language's truth value). */
static inline v4f amp_truth(v4f x) { return amp_bool(amp_nz(x)); }

/* Sign bit of x as a mask-like integer (0x80000000 or 0). */
static inline v4i amp__signbit(v4f x) { return (v4i)x & AMP__SIGN; }

/* x with its sign bits xored with s (s: 0 or 0x80000000 per lane). */
static inline v4f amp__xorsign(v4f x, v4i s) { return (v4f)((v4i)x ^ s); }

/* Selects the compiler emits for common shapes, each the same bits as the
 * amp_sel it replaces, in one or two operations instead of three:
 * mask ? x : 0, mask ? 0 : x, mask ? -x : x. */
static inline v4f amp_and(v4i mask, v4f x) { return (v4f)(mask & (v4i)x); }
static inline v4f amp_andnot(v4i mask, v4f x) { return (v4f)(~mask & (v4i)x); }
static inline v4f amp_negif(v4i mask, v4f x) { return (v4f)((v4i)x ^ (mask & AMP__SIGN)); }

/* ---------------------------------------------------------------------- */
/* abs, min, max, clamp. min/max mean compare+select, identical on both
 * targets: amp_min(a, b) = a < b ? a : b and amp_max(a, b) = a > b ? a : b.
 * If either argument is NaN they return b (the second argument); for equal
 * arguments (including -0 vs +0) they return b. clamp(x, lo, hi) is
 * min(max(x, lo), hi): NaN x gives lo; lo > hi gives hi. */

static inline v4f amp_abs(v4f x) { return (v4f)((v4i)x & 0x7fffffff); }   /* clear sign bit */
/* SSE's minps/maxps are exactly a < b ? a : b and a > b ? a : b (the
 * second operand for NaN and for equal zeros); clang finds the same for
 * wasm (f32x4.pmin/pmax), gcc does not, so natively they are said. */
static inline v4f amp_min(v4f a, v4f b)
{
#if defined(__SSE__) && !defined(__wasm__)
    return (v4f)_mm_min_ps((__m128)a, (__m128)b);
#else
    return amp_sel(a < b, a, b);
#endif
}
static inline v4f amp_max(v4f a, v4f b)
{
#if defined(__SSE__) && !defined(__wasm__)
    return (v4f)_mm_max_ps((__m128)a, (__m128)b);
#else
    return amp_sel(a > b, a, b);
#endif
}
static inline v4f amp_clamp(v4f x, v4f lo, v4f hi) { return amp_min(amp_max(x, lo), hi); }

/* |x| < 1e-30 -> 0 exactly, else x (software denormal flush; wasm has no
 * FTZ). NaN passes through. */
static inline v4f amp_flush(v4f x)
{
    return (v4f)((v4i)x & ~(amp_abs(x) < amp_splat(1e-30f)));
}

/* ---------------------------------------------------------------------- */
/* Rounding. All exact, and all give the same bits as C's floorf/ceilf/
 * roundf/truncf, including the sign of zero (floor(-0) = -0, ceil(-0.5) =
 * -0, ...). Method: lanes with |x| < 2^23 go through an int32 conversion
 * (in range by construction); lanes with |x| >= 2^23 are integers already
 * (or Inf/NaN) and pass through unchanged. The result always has the sign
 * of x, so its sign bit is or-ed back in at the end. */

/* trunc of the lanes with |x| < 2^23 (others: 0), and that mask. */
static inline v4f amp__trunc_small(v4f x, v4i *small)
{
    *small = amp_abs(x) < amp_splat(0x1p23f);                 /* false for NaN */
    v4f xs = (v4f)((v4i)x & *small);                           /* out of range -> 0 */
    return __builtin_convertvector(__builtin_convertvector(xs, v4i), v4f);
}

/* trunc: convert toward zero. */
static inline v4f amp_trunc(v4f x)
{
    v4i small;
    v4f t = amp__trunc_small(x, &small);
    return amp_sel(small, (v4f)((v4i)t | amp__signbit(x)), x);
}

/* floor: trunc, minus 1 where that rounded up (negative non-integers). */
static inline v4f amp_floor(v4f x)
{
    v4i small;
    v4f t = amp__trunc_small(x, &small);
    t = t - amp_bool(t > x);
    return amp_sel(small, (v4f)((v4i)t | amp__signbit(x)), x);
}

/* ceil: trunc, plus 1 where that rounded down (positive non-integers). */
static inline v4f amp_ceil(v4f x)
{
    v4i small;
    v4f t = amp__trunc_small(x, &small);
    t = t + amp_bool(t < x);
    return amp_sel(small, (v4f)((v4i)t | amp__signbit(x)), x);
}

/* round, halves away from zero: trunc, plus sign(x) where |x - trunc| >= 0.5
 * (x - trunc(x) is exact). */
static inline v4f amp_round(v4f x)
{
    v4i small;
    v4f t = amp__trunc_small(x, &small);
    v4i sx = amp__signbit(x);
    v4f adj = (v4f)((v4i)amp_bool(amp_abs(x - t) >= amp_splat(0.5f)) | sx);
    t = t + adj;
    return amp_sel(small, (v4f)((v4i)t | sx), x);
}

/* fract = x - floor(x), in [0, 1): the subtraction can round up to 1.0 for
 * tiny negative x (-1e-10 -> 1 - 1e-10 == 1.0f), so the result is capped at
 * the float just below 1. Lanes with |x| >= 2^23 give 0. */
static inline v4f amp_fract(v4f x)
{
    v4f one_minus = amp_splat(0x1.fffffep-1f);
    v4f f = x - amp_floor(x);
    return amp_sel(f > one_minus, one_minus, f);
}

/* Floored modulo (the language's %): a - b*floor(a/b), sign of b, computed
 * in float (so not exact like C fmod: an ulp-level error relative to a is
 * possible). The result is forced into the right range: |r| < |b| and r has
 * the sign of b (a wrong-signed r gets b added once; an r that is then
 * still wrong-signed or reaches |b|, e.g. mod(-1e-10, 1), becomes 0).
 * b == 0 -> 0. Huge a/b (>= 2^24) leaves a result that is in range but
 * meaningless. */
static inline v4f amp_mod(v4f a, v4f b)
{
    v4i bz = b == amp_splat(0.0f);
    v4f bs = amp_sel(bz, amp_splat(1.0f), b);
    v4f r = a - bs * amp_floor(a / bs);
    v4i wrong = (r != amp_splat(0.0f)) & (((v4i)r ^ (v4i)bs) < 0);
    r = amp_sel(wrong, r + bs, r);
    wrong = (r != amp_splat(0.0f)) & (((v4i)r ^ (v4i)bs) < 0);
    return (v4f)((v4i)r & ~(wrong | (amp_abs(r) >= amp_abs(bs)) | bz));
}

/* C fmod semantics (truncated: sign of a, |r| < |b|), computed as
 * a - b*trunc(a/b) in float with the same range fix-ups as amp_mod; a zero
 * result carries the sign of a, as in C. b == 0 -> 0 (C gives NaN). */
static inline v4f amp_fmod(v4f a, v4f b)
{
    v4i bz = b == amp_splat(0.0f);
    v4f bs = amp_sel(bz, amp_splat(1.0f), b);
    v4i sa = amp__signbit(a);
    v4f r = a - bs * amp_trunc(a / bs);
    v4i wrong = (r != amp_splat(0.0f)) & (((v4i)r ^ (v4i)a) < 0);
    r = amp_sel(wrong, r + amp__xorsign(amp_abs(bs), sa), r);
    wrong = (r != amp_splat(0.0f)) & (((v4i)r ^ (v4i)a) < 0);
    r = (v4f)((v4i)r & ~(wrong | (amp_abs(r) >= amp_abs(bs)) | bz));
    return (v4f)((v4i)r | sa);
}

/* sqrt; negative input (and NaN) gives 0. Exact (correctly rounded). */
static inline v4f amp_sqrt(v4f x)
{
    x = amp_max(x, amp_splat(0.0f));                  /* NaN, <0, -0 -> +0 */
#if defined(__SSE__)
    return (v4f)_mm_sqrt_ps((__m128)x);
#else
    return (v4f){ __builtin_sqrtf(x[0]), __builtin_sqrtf(x[1]),
                  __builtin_sqrtf(x[2]), __builtin_sqrtf(x[3]) };
#endif
}

/* ---------------------------------------------------------------------- */
/* Trigonometry. Polynomial coefficients are minimax fits (Remez exchange,
 * relative error) made for this file; the fit error is well below float
 * rounding. */

/* sin r on [-1.58, 1.58] (pi/2 plus slack for a k that rounded the other
 * way): r + r^3 P(r^2), degree 9, fit error 6.4e-9 rel; the coefficients
 * are then nudged by a few ulps so that the float evaluation at r = pi/2
 * gives exactly 1 (so sin(pi/2) = cos(0) = 1) and never exceeds 1
 * (checked on every float in [0, 1.58]: max abs error 1.1e-7). */
static inline v4f amp__sin_poly(v4f r)
{
    v4f u = r * r;
    v4f p = amp_splat(0x1.5d818cp-19f);               /*  2.60402e-06 */
    p = p * u + amp_splat(-0x1.9f6be8p-13f);          /* -1.98088e-04 */
    p = p * u + amp_splat(0x1.110ec4p-7f);            /*  8.33306e-03 */
    p = p * u + amp_splat(-0x1.55554cp-3f);           /* -1.66667e-01 */
    return r + (r * u) * p;
}

/* Cody-Waite reduction by pi: r = x - k*pi with k (integer or half-integer)
 * already rounded; the 3 parts keep r good to ~2e-7 while k*PI_A is exact
 * (|x| < ~2e5), after which accuracy fades gracefully; r is clamped so it
 * stays bounded for any input. */
static inline v4f amp__reduce_pi(v4f x, v4f k)
{
    v4f r = ((x - k * AMP__PI_A) - k * AMP__PI_B) - k * AMP__PI_C;
    return amp_clamp(r, amp_splat(-1.58f), amp_splat(1.58f));
}

/* sin: k = round(x/pi) by the magic-number add (exact RNE rounding, the
 * parity of k is then the low mantissa bit), r = x - k*pi (Cody-Waite, 3
 * parts), sin x = (-1)^k sin r with the degree-9 odd polynomial.
 * Accurate (1.2e-7) for |x| up to ~2e5; beyond, error grows (3e-2 at 1e6)
 * but any finite x gives a value in [-1, 1] (k saturates at |x| ~ 1.3e7,
 * r is clamped). */
static inline v4f amp_sin(v4f x)
{
    v4f y = amp_clamp(x * AMP__INV_PI, amp_splat(-0x1p22f), amp_splat(0x1p22f));
    v4f t = y + AMP__MAGIC;
    v4f k = t - AMP__MAGIC;
    v4i odd = (v4i)((v4u)t << 31);                     /* parity of k -> sign bit */
    return amp__xorsign(amp__sin_poly(amp__reduce_pi(x, k)), odd);
}

/* cos: the same with k + 1/2: r = x - (k + 1/2)*pi in [-pi/2, pi/2],
 * cos x = -(-1)^k sin r. */
static inline v4f amp_cos(v4f x)
{
    v4f y = amp_clamp(x * AMP__INV_PI - 0.5f, amp_splat(-0x1p22f), amp_splat(0x1p22f));
    v4f t = y + AMP__MAGIC;
    v4f k = (t - AMP__MAGIC) + 0.5f;
    v4i even = (v4i)((v4u)t << 31) ^ AMP__SIGN;
    return amp__xorsign(amp__sin_poly(amp__reduce_pi(x, k)), even);
}

/* tan: reduction by pi/2 (k = round(2x/pi), Cody-Waite, 3 parts; accurate
 * for |x| < ~6400, then fading gracefully), then sin r and cos r on
 * [-0.8, 0.8] (pi/4 plus slack; degree 7 and 8 polynomials, fit error
 * 4.4e-9 and 3.2e-10 rel), tan = s/c for even k and -c/s for odd k. The
 * divisor is kept at |d| >= 1e-30, so the result stays finite. */
static inline v4f amp_tan(v4f x)
{
    v4f y = amp_clamp(x * AMP__2_PI, amp_splat(-0x1p22f), amp_splat(0x1p22f));
    v4f t = y + AMP__MAGIC;
    v4f k = t - AMP__MAGIC;
    v4i odd = -((v4i)t & 1);                           /* all ones for odd k */
    v4f r = ((x - k * AMP__PIO2_A) - k * AMP__PIO2_B) - k * AMP__PIO2_C;
    r = amp_clamp(r, amp_splat(-0.8f), amp_splat(0.8f));
    v4f u = r * r;
    v4f s = amp_splat(-0x1.99024ep-13f);              /* -1.95031e-04 */
    s = s * u + amp_splat(0x1.11067ap-7f);            /*  8.33207e-03 */
    s = s * u + amp_splat(-0x1.555544p-3f);           /* -1.66667e-01 */
    s = r + (r * u) * s;
    v4f c = amp_splat(0x1.9a376p-16f);                /*  2.44508e-05 */
    c = c * u + amp_splat(-0x1.6c0ddp-10f);           /* -1.38876e-03 */
    c = c * u + amp_splat(0x1.55554ep-5f);            /*  4.16667e-02 */
    c = c * u + amp_splat(-0.5f);
    c = c * u + amp_splat(1.0f);
    v4f num = amp_sel(odd, -c, s);
    v4f den = amp_sel(odd, s, c);
    v4i tiny = amp_abs(den) < amp_splat(1e-30f);
    den = amp_sel(tiny, (v4f)(amp__signbit(den) | (v4i)amp_splat(1e-30f)), den);
    return num / den;
}

/* atan z for z in [0, 1]: z + z^3 P(z^2), degree 15, fit error 1.1e-7 rel. */
static inline v4f amp__atan01(v4f z)
{
    v4f u = z * z;
    v4f p = amp_splat(-0x1.3c0cb4p-8f);               /* -4.82253e-03 */
    p = p * u + amp_splat(0x1.953e3p-6f);             /*  2.47341e-02 */
    p = p * u + amp_splat(-0x1.ed2f1ep-5f);           /* -6.02031e-02 */
    p = p * u + amp_splat(0x1.984f04p-4f);            /*  9.96847e-02 */
    p = p * u + amp_splat(-0x1.1f91p-3f);             /* -1.40413e-01 */
    p = p * u + amp_splat(0x1.991268p-3f);            /*  1.99742e-01 */
    p = p * u + amp_splat(-0x1.5552dep-2f);           /* -3.33324e-01 */
    return z + (z * u) * p;
}

/* atan: z = min(|x|,1)/max(|x|,1) (one division, never by 0), atan z on
 * [0, 1], pi/2 - that for |x| > 1, sign of x or-ed back. */
static inline v4f amp_atan(v4f x)
{
    v4f a = amp_abs(x);
    v4f one = amp_splat(1.0f);
    v4f p = amp__atan01(amp_min(a, one) / amp_max(a, one));
    p = amp_sel(a > one, AMP__PIO2 - p, p);
    return (v4f)((v4i)p | amp__signbit(x));
}

/* atan2(y, x), C conventions for signs of zero (atan2(+-0, -0) = +-pi):
 * z = min(|x|,|y|)/max(|x|,|y|) (0/0 avoided), atan z, then the octant
 * fix-ups pi/2 - p, pi - p, and the sign of y. */
static inline v4f amp_atan2(v4f y, v4f x)
{
    v4f ax = amp_abs(x), ay = amp_abs(y);
    v4f mx = amp_max(ax, ay);
    v4f p = amp__atan01(amp_min(ax, ay) / amp_sel(mx == amp_splat(0.0f), amp_splat(1.0f), mx));
    p = amp_sel(ay > ax, AMP__PIO2 - p, p);
    p = amp_sel(amp__signbit(x) != 0, AMP__PI - p, p);
    return (v4f)((v4i)p | amp__signbit(y));
}

/* asin s for s in [0, 1/2], z = s^2: s + s z P(z), degree 9, fit error
 * 8.9e-8 rel. */
static inline v4f amp__asin_poly(v4f s, v4f z)
{
    v4f p = amp_splat(0x1.99374cp-5f);                /*  4.99531e-02 */
    p = p * z + amp_splat(0x1.47f77p-5f);             /*  4.00350e-02 */
    p = p * z + amp_splat(0x1.34dc34p-4f);            /*  7.54053e-02 */
    p = p * z + amp_splat(0x1.554fa2p-3f);            /*  1.66656e-01 */
    return s + (s * z) * p;
}

/* asin: input clamped to [-1, 1]. For |x| <= 1/2 the polynomial directly;
 * above, asin a = pi/2 - 2 asin(sqrt((1 - a)/2)). */
static inline v4f amp_asin(v4f x)
{
    v4f a = amp_min(amp_abs(x), amp_splat(1.0f));
    v4i big = a > amp_splat(0.5f);
    v4f z = amp_sel(big, (1.0f - a) * 0.5f, a * a);
    v4f s = amp_sel(big, amp_sqrt(z), a);
    v4f p = amp__asin_poly(s, z);
    p = amp_sel(big, AMP__PIO2 - (p + p), p);
    return (v4f)((v4i)p | amp__signbit(x));
}

/* acos: input clamped to [-1, 1]. |x| <= 1/2: pi/2 - asin x; x > 1/2:
 * 2 asin(sqrt((1 - x)/2)); x < -1/2: pi - that. */
static inline v4f amp_acos(v4f x)
{
    v4f a = amp_min(amp_abs(x), amp_splat(1.0f));
    v4i sx = amp__signbit(x);
    v4i big = a > amp_splat(0.5f);
    v4f z = amp_sel(big, (1.0f - a) * 0.5f, a * a);
    v4f s = amp_sel(big, amp_sqrt(z), a);
    v4f p = amp__asin_poly(s, z);
    v4f p2 = p + p;
    v4f rbig = amp_sel(sx != 0, AMP__PI - p2, p2);
    v4f rsmall = AMP__PIO2 - amp__xorsign(p, sx);
    return amp_sel(big, rbig, rsmall);
}

/* ---------------------------------------------------------------------- */
/* Exponentials. One core for exp, exp2, exp10, db2lin, sinh, cosh, tanh:
 *   x clamped to [lo, hi]; n = round(x / C) by the magic-number add;
 *   r = (x - n*C_hi - n*C_lo) * R, in [-ln2/2, ln2/2] (Cody-Waite, C_hi of 16
 *   bits so n*C_hi is exact);  e^r - 1 = r + r^2 Q(r) (degree 5, fit error
 *   1.5e-7 rel);  2^n built directly in the exponent field by integer ops.
 * The clamps keep n in [-126, 128]. The scale is built as 2^(n-1) (n - 1 +
 * 127 in [0, 254]) and the mantissa doubled, so 2^128 needs no special case;
 * n = -126 gives a scale of +0, i.e. results below ~1.7e-38 flush to 0
 * (never a denormal), and the hi clamps keep results <= FLT_MAX. */

/* e^r - 1 for |r| <= ln2/2. */
static inline v4f amp__expm1_poly(v4f r)
{
    v4f q = amp_splat(0x1.125cdp-7f);                 /* 8.37288e-03 */
    q = q * r + amp_splat(0x1.5762e6p-5f);            /* 4.19173e-02 */
    q = q * r + amp_splat(0x1.555462p-3f);            /* 1.66665e-01 */
    q = q * r + amp_splat(0x1.fffd5ep-2f);            /* 4.99990e-01 */
    return r + (r * r) * q;
}

/* Range reduction for the core; returns r and stores 2^(n-1) in *hs. */
static inline v4f amp__exp_reduce(v4f x, float lo, float hi, float inv_c,
                                  float c_hi, float c_lo, float r_scale, v4f *hs)
{
    x = amp_clamp(x, amp_splat(lo), amp_splat(hi));
    v4f t = x * inv_c + AMP__MAGIC;                    /* n in the low bits */
    v4f n = t - AMP__MAGIC;
    *hs = (v4f)(((v4u)t + 126u) << 23);                /* (n + 126) << 23 */
    return ((x - n * c_hi) - n * c_lo) * r_scale;
}

/* e^x = 2 (1 + em) 2^(n-1). */
static inline v4f amp__exp_finish(v4f r, v4f hs)
{
    v4f p = 1.0f + amp__expm1_poly(r);
    return (p + p) * hs;
}

/* e^x - 1 = 2 ((2^(n-1) - 1/2) + 2^(n-1) em): exact cancellation for n = 0,
 * so small results keep their relative accuracy. */
static inline v4f amp__expm1_finish(v4f r, v4f hs)
{
    v4f v = (hs - 0.5f) + hs * amp__expm1_poly(r);
    return v + v;
}

/* exp: x in [-87, 88.72]; below ~ -86.99 the result is 0. */
static inline v4f amp_exp(v4f x)
{
    v4f hs;
    v4f r = amp__exp_reduce(x, -87.0f, 88.72f, AMP__LOG2E, AMP__LN2_HI, AMP__LN2_LO, 1.0f, &hs);
    return amp__exp_finish(r, hs);
}

/* exp2: x in [-126, 127.999]; r = (x - n) ln2; below -125.5 the result is 0. */
static inline v4f amp_exp2(v4f x)
{
    v4f hs;
    v4f r = amp__exp_reduce(x, -126.0f, 127.999f, 1.0f, 1.0f, 0.0f, 0x1.62e43p-1f, &hs);
    return amp__exp_finish(r, hs);
}

/* exp10: n = round(x log2 10), r = (x - n log10 2) ln 10; x in
 * [-37.93, 38.53]. */
static inline v4f amp_exp10(v4f x)
{
    v4f hs;
    v4f r = amp__exp_reduce(x, -37.93f, 38.53f, AMP__LOG2_10, AMP__LG2_HI, AMP__LG2_LO, AMP__LN10, &hs);
    return amp__exp_finish(r, hs);
}

/* db2lin = 10^(db/20), reduced directly in dB (6.02 dB per octave) so the
 * /20 costs no accuracy; db in [-758.6, 770.6], below ~ -755 dB -> 0. */
static inline v4f amp_db2lin(v4f db)
{
    v4f hs;
    v4f r = amp__exp_reduce(db, -758.6f, 770.6f, AMP__LOG2_10_20, AMP__DB2_HI, AMP__DB2_LO, AMP__LN10_20, &hs);
    return amp__exp_finish(r, hs);
}

/* e^x - 1 for x in [-87, 88.72]. */
static inline v4f amp__expm1(v4f x)
{
    v4f hs;
    v4f r = amp__exp_reduce(x, -87.0f, 88.72f, AMP__LOG2E, AMP__LN2_HI, AMP__LN2_LO, 1.0f, &hs);
    return amp__expm1_finish(r, hs);
}

/* sinh: em = e^|x| - 1, sinh = (em + em/(em + 1))/2, sign of x (odd
 * symmetric, accurate near 0). Saturates at ~1.66e38 for |x| >= 88.72. */
static inline v4f amp_sinh(v4f x)
{
    v4f em = amp__expm1(amp_abs(x));
    v4f s = 0.5f * (em + em / (em + 1.0f));
    return (v4f)((v4i)s | amp__signbit(x));
}

/* cosh: E = e^|x| (via em + 1), cosh = E/2 + 1/(2E); the 1/E term is
 * computed from min(E, 2^100) so it never goes denormal. Saturates at
 * ~1.66e38. */
static inline v4f amp_cosh(v4f x)
{
    v4f e = amp__expm1(amp_abs(x)) + 1.0f;
    return 0.5f * e + 0.5f / amp_min(e, amp_splat(0x1p100f));
}

/* tanh: em = e^(2|x|) - 1, tanh = em/(em + 2), sign of x (exactly odd).
 * From |x| = 8.664 on the result is exactly +-1 (the first |x| where the
 * formula reaches 1; above it, ties in em + 2 would otherwise make it
 * flicker between 1 and 1 - 2^-24). */
static inline v4f amp_tanh(v4f x)
{
    v4f a = amp_abs(x);
    v4f em = amp__expm1(a + a);
    v4f t = amp_sel(a >= amp_splat(8.664f), amp_splat(1.0f), em / (em + 2.0f));
    return (v4f)((v4i)t | amp__signbit(x));
}

/* ---------------------------------------------------------------------- */
/* Logarithms. Core: x = 2^e m with m in [sqrt(1/2), sqrt(2)), found by
 * integer ops on the bits (subtracting the bits of sqrt(1/2) makes the
 * exponent field step at the right place); t = (m-1)/(m+1),
 * ln m = 2t + t^3 P(t^2) (fit error 8.4e-10 rel). Inputs below 2^-126
 * (denormals) are taken as 2^-126. Each log of x <= 0 returns -1e30
 * (lang/SPEC.md), never NaN or -Inf. */

/* ln m, with e (as a float) in *e. x must be > 0 (or NaN). */
static inline v4f amp__log_core(v4f x, v4f *e)
{
    x = amp_max(x, amp_splat(AMP__FLT_MIN));
    v4i bits = (v4i)x;
    v4i k = (bits - 0x3f3504f3) >> 23;                 /* bits of sqrt(1/2) */
    v4f m = (v4f)(bits - (v4i)((v4u)k << 23));
    *e = __builtin_convertvector(k, v4f);
    v4f t = (m - 1.0f) / (m + 1.0f);
    v4f u = t * t;
    v4f p = amp_splat(0x1.32041cp-2f);                /* 2.98844e-01 */
    p = p * u + amp_splat(0x1.995d9ap-2f);            /* 3.99771e-01 */
    p = p * u + amp_splat(0x1.55557cp-1f);            /* 6.66668e-01 */
    return (t + t) + (t * u) * p;
}

/* e*C + ln(m)*K with C = C_hi + C_lo (e*C_hi exact), x <= 0 -> -1e30. */
static inline v4f amp__log_combine(v4f x, float c_hi, float c_lo, float k)
{
    v4f e;
    v4f lm = amp__log_core(x, &e);
    v4f r = e * c_hi + (e * c_lo + lm * k);
    return amp_sel(x <= amp_splat(0.0f), amp_splat(AMP__LOG_ZERO), r);
}

static inline v4f amp_log(v4f x)   { return amp__log_combine(x, AMP__LN2_HI, AMP__LN2_LO, 1.0f); }
static inline v4f amp_log2(v4f x)  { return amp__log_combine(x, 1.0f, 0.0f, AMP__LOG2E); }
static inline v4f amp_log10(v4f x) { return amp__log_combine(x, AMP__LG2_HI, AMP__LG2_LO, AMP__LOG10E); }
/* lin2db = 20 log10(lin); lin <= 0 -> -1e30 like the logs; lin below 2^-126
 * gives -758.6. */
static inline v4f amp_lin2db(v4f lin) { return amp__log_combine(lin, AMP__DB2_HI, AMP__DB2_LO, AMP__DBE); }

/* pow(x, y) = 2^(y log2|x|), through the log and exp cores. The exponent
 * w = y log2|x| is carried in two parts so its rounding does not cost
 * relative accuracy when |w| is large: with log2|x| = e + l
 * (e integer, |l| <= 1/2) and y split into yh (12 significant bits) + yl,
 * A = yh*e is exact and B = yl*e + y*l is small; the reduction then takes
 * n = round(A + B), r = (A - n) + B.
 *   x > 0:  2^w, saturating at ~FLT_MAX / flushing to 0 (|w| clamped to
 *           [-126, 127.999] like exp2);
 *   x == 0: 0 for y > 0, 1 for y == 0, FLT_MAX for y < 0 (C: +Inf), with
 *           the sign rule below applied (pow(-0, -3) = -FLT_MAX);
 *   x < 0:  |x|^y, negated when y is an odd integer: this matches C pow
 *           for integer y; for non-integer y (C: NaN) it gives |x|^y.
 * pow(x, 0) = 1 and pow(1, y) = 1 exactly. */
/* x^n for whole n with |n| <= 64, x >= 0, by binary powering: the product
 * of x^(2^b) over the bits b of |n| (at most 7 squarings and 7 products),
 * then 1/that for n < 0. Each product is rounded once, so a power whose
 * exact value is a float (7^1, 3^2, 2^-10, 5^10, every power of a small
 * whole number below 2^24) comes out exact, and others within a few ulp.
 * Where |n| > 64, or the power leaves [2^-125, 2^125] (where a product
 * could overflow or go denormal), the lane keeps `other` (the exp-log
 * result, which saturates and flushes properly). */
static inline v4f amp__pow_whole(v4f x, v4i n, v4f other)
{
    v4i m = (n ^ (n >> 31)) - (n >> 31);                /* |n| (n is within +-2^24) */
    v4f q = amp_splat(1.0f), b = x;
    for (int bit = 0; bit < 7; bit++) {
        q = amp_sel(((m >> bit) & 1) != 0, q * b, q);
        b = b * b;
    }
    v4i ok = (m <= 64) & (q >= amp_splat(0x1p-125f)) & (q <= amp_splat(0x1p125f));
    q = amp_sel(n < 0, 1.0f / amp_sel(ok, q, amp_splat(1.0f)), q);
    return amp_sel(ok, q, other);
}

static inline v4f amp_pow(v4f x, v4f y)
{
    v4f zero = amp_splat(0.0f);
    v4f ax = amp_abs(x);
    v4f e;
    v4f l = amp__log_core(ax, &e) * AMP__LOG2E;       /* log2|x| = e + l */
    v4f yh = (v4f)((v4i)y & ~0xfff);
    v4f a = yh * e;                                    /* exact */
    v4f b = (y - yh) * e + y * l;
    v4f w = a + b;
    v4i in = (w >= amp_splat(-126.0f)) & (w <= amp_splat(127.999f));
    a = amp_sel(in, a, amp_clamp(w, amp_splat(-126.0f), amp_splat(127.999f)));
    b = (v4f)((v4i)b & in);
    v4f t = (a + b) + AMP__MAGIC;                      /* n in the low bits */
    v4f n = t - AMP__MAGIC;
    v4f r = ((a - n) + b) * 0x1.62e43p-1f;             /* * ln 2 */
    v4f hs = (v4f)(((v4u)t + 126u) << 23);
    v4f p = amp__exp_finish(r, hs);
    /* whole y: |y| < 2^24 (larger floats are all whole) and trunc(y) == y;
     * the conversion input is clamped into range */
    v4f yc = amp_clamp(y, amp_splat(-0x1p24f), amp_splat(0x1p24f));
    v4i yi = __builtin_convertvector(yc, v4i);
    v4i whole = __builtin_convertvector(yi, v4f) == y;
    p = amp_sel(whole, amp__pow_whole(ax, yi, p), p);
    v4f at0 = amp_sel(y > zero, zero, amp_sel(y == zero, amp_splat(1.0f), amp_splat(AMP__FLT_MAX)));
    p = amp_sel(ax == zero, at0, p);
    /* odd integer y: whole and the low bit set */
    v4i odd = whole & (v4i)((v4u)yi << 31);
    return amp__xorsign(p, odd & amp__signbit(x));
}

/* ---------------------------------------------------------------------- */
/* Deterministic noise: one xorshift32 generator (13, 17, 5) per lane on the
 * integer state; the top 23 bits become a float in [2, 4) by or-ing in the
 * exponent, minus 3 -> uniform in [-1, 1) on a 2^-22 grid. 7 integer ops +
 * 1 float op. The state must be non-zero in every lane (amp_noise_seed). */
static inline v4f amp_noise(v4u *state)
{
    v4u s = *state;
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    *state = s;
    return (v4f)((s >> 9) | 0x40000000u) - 3.0f;
}

/* Four distinct non-zero lane states from one seed: lane i hashes
 * x = 4*seed + i (distinct across lanes; x == 0 only in lane 0, which then
 * uses 4, still distinct from 1, 2, 3) with a bijective integer mixer
 * (xorshift-multiply), which maps non-zero to non-zero. */
static inline v4u amp_noise_seed(uint32_t seed)
{
    v4u x = (v4u){ 0, 1, 2, 3 } + seed * 4u;
    x = x + ((v4u)(x == 0u) & 4u);
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* ---------------------------------------------------------------------- */
/* Scalar twins: lane 0 of the vector kernels, so bit-identical to them.   */

static inline float amp_sinf(float x)    { return amp_sin(amp_splat(x))[0]; }
static inline float amp_cosf(float x)    { return amp_cos(amp_splat(x))[0]; }
static inline float amp_tanf(float x)    { return amp_tan(amp_splat(x))[0]; }
static inline float amp_asinf(float x)   { return amp_asin(amp_splat(x))[0]; }
static inline float amp_acosf(float x)   { return amp_acos(amp_splat(x))[0]; }
static inline float amp_atanf(float x)   { return amp_atan(amp_splat(x))[0]; }
static inline float amp_expf(float x)    { return amp_exp(amp_splat(x))[0]; }
static inline float amp_exp2f(float x)   { return amp_exp2(amp_splat(x))[0]; }
static inline float amp_exp10f(float x)  { return amp_exp10(amp_splat(x))[0]; }
static inline float amp_logf(float x)    { return amp_log(amp_splat(x))[0]; }
static inline float amp_log2f(float x)   { return amp_log2(amp_splat(x))[0]; }
static inline float amp_log10f(float x)  { return amp_log10(amp_splat(x))[0]; }
static inline float amp_sinhf(float x)   { return amp_sinh(amp_splat(x))[0]; }
static inline float amp_coshf(float x)   { return amp_cosh(amp_splat(x))[0]; }
static inline float amp_tanhf(float x)   { return amp_tanh(amp_splat(x))[0]; }
static inline float amp_sqrtf(float x)   { return amp_sqrt(amp_splat(x))[0]; }
static inline float amp_floorf(float x)  { return amp_floor(amp_splat(x))[0]; }
static inline float amp_ceilf(float x)   { return amp_ceil(amp_splat(x))[0]; }
static inline float amp_roundf(float x)  { return amp_round(amp_splat(x))[0]; }
static inline float amp_truncf(float x)  { return amp_trunc(amp_splat(x))[0]; }
static inline float amp_fractf(float x)  { return amp_fract(amp_splat(x))[0]; }
/* The cheap ones written out in scalar code (the lane-0 form costs a trip
 * through a vector register in single-instance code, every sample); same
 * operations, same bits — check_math compares them with lane 0. */
static inline float amp_absf(float x)
{
    return __builtin_fabsf(x);   /* clears the sign bit: andps natively, f32.abs in wasm, never a call */
}
static inline float amp_db2linf(float x) { return amp_db2lin(amp_splat(x))[0]; }
static inline float amp_lin2dbf(float x) { return amp_lin2db(amp_splat(x))[0]; }
/* Natively the lane-0 form: a mask and an and (gcc turns the scalar
 * ternary into a branch around code it can skip for a 0, and silence then
 * runs a taken branch per flush per sample); in WebAssembly the ternary,
 * an f32.select. The same bits either way. */
static inline float amp_flushf(float x)
{
#ifdef __wasm__
    return amp_absf(x) < 1e-30f ? 0.0f : x;
#else
    return amp_flush(amp_splat(x))[0];
#endif
}
/* atan2(y, x) */
static inline float amp_atan2f(float y, float x) { return amp_atan2(amp_splat(y), amp_splat(x))[0]; }
static inline float amp_powf(float x, float y) { return amp_pow(amp_splat(x), amp_splat(y))[0]; }
/* truncated, C fmod semantics */
static inline float amp_fmodf(float a, float b) { return amp_fmod(amp_splat(a), amp_splat(b))[0]; }
/* floored: the language's % */
static inline float amp_floormodf(float a, float b) { return amp_mod(amp_splat(a), amp_splat(b))[0]; }
static inline float amp_minf(float a, float b) { return a < b ? a : b; }
static inline float amp_maxf(float a, float b) { return a > b ? a : b; }
static inline float amp_clampf(float x, float lo, float hi) { return amp_minf(amp_maxf(x, lo), hi); }

/* ---------------------------------------------------------------------- */
/* Kernels evaluated in double, for Faust nodes (compiler/faust.c routes
 * faust's sinf, cosf, tanf, powf, expf, exp2f, exp10f, logf, log2f and
 * log10f here). Faust's own C calls the C library's float functions,
 * which round (nearly always) correctly, and a modal model such as the
 * faust package's bells computes fifty resonators' coefficients from cos
 * (the pitch) and pow (the decay) once, then multiplies by them for
 * seconds: a one-ulp difference in a coefficient is a pitch or a decay
 * rate that drifts away from Faust's. Coefficient formulas can amplify
 * it too: the faust package's guitarix computes its tone stack from
 * exp(3.4 (bass - 1)) through sums that nearly cancel, and the float
 * amp_expf's 2 ulp there (1.8 ulp from e^-1.7) came out as 3.9e-3 of the
 * peak.
 * These compute in double, whose + - * / are IEEE on x86 and in
 * WebAssembly alike (so the bits are still the same natively and in the
 * browser), with errors near 1e-15, so the float they round to is the
 * correctly rounded result but in rare ties. Scalar only: one double
 * evaluation costs about what the four-lane float kernel does.
 *   sin, cos, tan   |x| <= 2^20 (beyond, the float kernels above);
 *   pow             as amp_powf for x <= 0, y = 0 and x = 1 (the same
 *                   special values); otherwise e^(y ln x), saturating at
 *                   FLT_MAX and flushed to 0 below 2^-126, like amp_powf;
 *   exp, exp2, exp10  saturating and flushed the same way;
 *   log, log2, log10  x > 0 (denormals too); x <= 0 as amp_logf (-1e30).
 * tests/check_math.c measures them against long double libm: sin, cos,
 * tan on [-1000, 1000], pow, exp, exp2, exp10 over their float range,
 * the logs from 1e-44 to 1e38 and near 1, all correctly rounded. */

#define AMP__D_MAGIC   0x1.8p52                 /* rounds a double to an integer */
/* pi/2 = P1 + P2 + P3: P1 and P2 of 33 significant bits, so k*P1 and
 * k*P2 are exact for |k| <= 2^20 */
#define AMP__D_PIO2_1  0x1.921fb544p+0
#define AMP__D_PIO2_2  0x1.0b4611a6p-34
#define AMP__D_PIO2_3  0x1.3198a2e037073p-69

/* x = k pi/2 + r, |r| <= pi/4 (about); returns r, k in *k. |x| <= 2^20. */
static inline double amp__reduce_pio2_d(double x, long long *k)
{
    double kd = (x * 0x1.45f306dc9c883p-1 + AMP__D_MAGIC) - AMP__D_MAGIC;   /* round(x * 2/pi) */
    *k = (long long)kd;
    return ((x - kd * AMP__D_PIO2_1) - kd * AMP__D_PIO2_2) - kd * AMP__D_PIO2_3;
}

/* sin r and cos r for |r| <= pi/4 + 1e-6: Taylor series to r^17 and
 * r^18 (truncation below 2e-17), Horner in double. */
static inline double amp__sin_d(double r)
{
    double z = r * r;
    double p = -1.0 / 355687428096000.0;            /* -1/17! */
    p = p * z + 1.0 / 1307674368000.0;              /*  1/15! */
    p = p * z - 1.0 / 6227020800.0;                 /* -1/13! */
    p = p * z + 1.0 / 39916800.0;                   /*  1/11! */
    p = p * z - 1.0 / 362880.0;                     /* -1/9!  */
    p = p * z + 1.0 / 5040.0;                       /*  1/7!  */
    p = p * z - 1.0 / 120.0;                        /* -1/5!  */
    p = p * z + 1.0 / 6.0;                          /*  1/3!  */
    return r - (r * z) * p;
}

static inline double amp__cos_d(double r)
{
    double z = r * r;
    double p = 1.0 / 6402373705728000.0;            /*  1/18! */
    p = p * z - 1.0 / 20922789888000.0;             /* -1/16! */
    p = p * z + 1.0 / 87178291200.0;                /*  1/14! */
    p = p * z - 1.0 / 479001600.0;                  /* -1/12! */
    p = p * z + 1.0 / 3628800.0;                    /*  1/10! */
    p = p * z - 1.0 / 40320.0;                      /* -1/8!  */
    p = p * z + 1.0 / 720.0;                        /*  1/6!  */
    p = p * z - 1.0 / 24.0;                         /* -1/4!  */
    p = p * z + 0.5;                                /*  1/2!  */
    return 1.0 - z * p;
}

/* sin (want_cos 0) or cos (1) of x in double, |x| <= 2^20. */
static inline double amp__sincos_d(double x, int want_cos)
{
    long long k;
    double r = amp__reduce_pio2_d(x, &k);
    int q = (int)((k + want_cos) & 3);   /* cos x = sin(x + pi/2) */
    double v = q & 1 ? amp__cos_d(r) : amp__sin_d(r);
    return q & 2 ? -v : v;
}

static inline float amp_sin_precisef(float x)
{
    if (!(amp_absf(x) <= 0x1p20f))
        return amp_sinf(x);
    return (float)amp__sincos_d((double)x, 0);
}

static inline float amp_cos_precisef(float x)
{
    if (!(amp_absf(x) <= 0x1p20f))
        return amp_cosf(x);
    return (float)amp__sincos_d((double)x, 1);
}

/* tan = sin / cos, both in double; at a pole cos is at least ~1e-8 for a
 * float x, so the result stays finite (saturated at FLT_MAX). */
static inline float amp_tan_precisef(float x)
{
    if (!(amp_absf(x) <= 0x1p20f))
        return amp_tanf(x);
    double t = amp__sincos_d((double)x, 0) / amp__sincos_d((double)x, 1);
    return (float)(t > 0x1.fffffep127 ? 0x1.fffffep127 : t < -0x1.fffffep127 ? -0x1.fffffep127 : t);
}

/* ln x for a normal, positive, finite double x: x = 2^e m, m in
 * [sqrt(1/2), sqrt(2)), t = (m - 1)/(m + 1), ln m = 2 atanh t as a series
 * to t^23 (|t| <= 0.1716: truncation below 1e-19). */
static inline double amp__log_d(double x)
{
    uint64_t bits;
    __builtin_memcpy(&bits, &x, sizeof bits);
    int64_t e = ((int64_t)bits - 0x3fe6a09e667f3bcdll) >> 52;    /* bits of sqrt(1/2); arithmetic shift */
    uint64_t mb = bits - ((uint64_t)e << 52);
    double m;
    __builtin_memcpy(&m, &mb, sizeof m);
    double t = (m - 1.0) / (m + 1.0), z = t * t;
    double p = 1.0 / 23;
    p = p * z + 1.0 / 21;
    p = p * z + 1.0 / 19;
    p = p * z + 1.0 / 17;
    p = p * z + 1.0 / 15;
    p = p * z + 1.0 / 13;
    p = p * z + 1.0 / 11;
    p = p * z + 1.0 / 9;
    p = p * z + 1.0 / 7;
    p = p * z + 1.0 / 5;
    p = p * z + 1.0 / 3;
    double ed = (double)e;
    /* ln 2 = L1 + L2, L1 of 32 bits (e * L1 exact) */
    return ed * 0x1.62e42fefp-1 + (ed * 0x1.473de6af278edp-34 + (t + t) + (t + t) * z * p);
}

/* e^(hi + lo) for |hi| <= 745 (callers clamp), |lo| <= 2^-20 |hi|: n =
 * round(hi / ln 2), r = (hi - n ln 2) + lo with ln 2 in two parts (n*L1
 * exact, and hi - n*L1 too: they are within a factor 2 of each other),
 * e^r by Taylor to r^14 (|r| <= 0.347: below 5e-18), times 2^n built in
 * the exponent bits, in two steps so that n down to -1074 and up to 1023
 * need no special case. lo carries the rounding of a product hi = x*C
 * (exp2, exp10), so their arguments are exact to ~1e-17 too. */
static inline double amp__exp_d2(double hi, double lo)
{
    double n = (hi * 0x1.71547652b82fep0 + AMP__D_MAGIC) - AMP__D_MAGIC;
    double r = ((hi - n * 0x1.62e42fefp-1) - n * 0x1.473de6af278edp-34) + lo;
    double p = 1.0 / 87178291200.0;                 /* 1/14! */
    p = p * r + 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t ni = (int64_t)n, half = ni / 2;
    uint64_t b1 = (uint64_t)(half + 1023) << 52, b2 = (uint64_t)(ni - half + 1023) << 52;
    double s1, s2;
    __builtin_memcpy(&s1, &b1, sizeof s1);
    __builtin_memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;
}

/* e^w for |w| <= 745 (adding lo = 0 changes no bit of r but the sign of a
 * zero, which e^r does not see). */
static inline double amp__exp_d(double w) { return amp__exp_d2(w, 0.0); }

/* A double result as the float kernels give it: saturated at FLT_MAX,
 * flushed to 0 below 2^-126 (never a denormal or an infinity). */
static inline float amp__float_of_d(double v)
{
    if (v > 0x1.fffffep127)
        return 0x1.fffffep127f;
    return v < 0x1p-126 ? 0.0f : (float)v;
}

static inline float amp_pow_precisef(float x, float y)
{
    if (!(x > 0.0f) || y == 0.0f || x == 1.0f || !(amp_absf(x) <= 0x1.fffffep127f) ||
        !(amp_absf(y) <= 0x1.fffffep127f))
        return amp_powf(x, y);       /* zeros, negative bases, specials: amp_pow's values */
    double w = (double)y * amp__log_d((double)x);
    w = w > 100.0 ? 100.0 : w < -100.0 ? -100.0 : w;   /* beyond the float range either way */
    return amp__float_of_d(amp__exp_d(w));
}

/* exp, exp2, exp10: e^(hi + lo), where hi + lo is x, x ln 2 or x ln 10
 * with the constant in two parts, C_HI of 29 significant bits so that
 * hi = x*C_HI is exact for a float x. Saturated at FLT_MAX, flushed to 0
 * below 2^-126 like amp_exp (C's expf gives +Inf and denormals there);
 * NaN gives 0. Whole x give exact powers: exp2(-3) = 0.125,
 * exp10(2) = 100. */
#define AMP__D_LN2_HI   0x1.62e42ffp-1
#define AMP__D_LN2_LO  -0x1.718432a1b0e26p-35
#define AMP__D_LN10_HI  0x1.26bb1bcp+1
#define AMP__D_LN10_LO -0x1.2aaba9f48ad49p-29

static inline float amp__exp_precisef(double hi, double lo)
{
    if (!(hi > -200.0))
        return 0.0f;                 /* far below the float range, or NaN */
    if (hi > 200.0)
        return 0x1.fffffep127f;
    return amp__float_of_d(amp__exp_d2(hi, lo));
}

static inline float amp_exp_precisef(float x) { return amp__exp_precisef((double)x, 0.0); }

static inline float amp_exp2_precisef(float x)
{
    return amp__exp_precisef((double)x * AMP__D_LN2_HI, (double)x * AMP__D_LN2_LO);
}

static inline float amp_exp10_precisef(float x)
{
    return amp__exp_precisef((double)x * AMP__D_LN10_HI, (double)x * AMP__D_LN10_LO);
}

/* log, log2, log10: ln x in double (amp__log_d: a float's denormals are
 * normal doubles, so those get their true logarithm), times 1/ln 2 or
 * 1/ln 10 for the others; the three roundings cost ~3e-16 relative, well
 * inside what rounds to the right float. x <= 0, +Inf and NaN: amp_logf's
 * values (-1e30 for x <= 0). Exact where the result is a whole number a
 * float holds: log2(8) = 3, log10(1000) = 3, log(1) = 0. */
static inline float amp_log_precisef(float x)
{
    if (!(x > 0.0f) || !(x <= 0x1.fffffep127f))
        return amp_logf(x);
    return (float)amp__log_d((double)x);
}

static inline float amp_log2_precisef(float x)
{
    if (!(x > 0.0f) || !(x <= 0x1.fffffep127f))
        return amp_log2f(x);
    return (float)(amp__log_d((double)x) * 0x1.71547652b82fep0);
}

static inline float amp_log10_precisef(float x)
{
    if (!(x > 0.0f) || !(x <= 0x1.fffffep127f))
        return amp_log10f(x);
    return (float)(amp__log_d((double)x) * 0x1.bcb7b1526e50ep-2);
}

#endif /* AMP_MATH_H */
