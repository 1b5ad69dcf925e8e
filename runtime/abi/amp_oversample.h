/* amp_oversample.h — band-limited up- and down-sampling by 2, 4 or 8, for
 * the parts of a patch that run oversampled (`oversample N { … }`, SPEC §12)
 * and for anything else that needs to leave the base rate and come back.
 *
 * A cascade of up to three linear-phase half-band FIR stages, each run in
 * polyphase form: a 2x upsampler computes its even output from the odd
 * (sinc) taps and passes its odd output through the centre tap; a 2:1
 * decimator is the same filter transposed. The coefficients are Kaiser-
 * windowed half-band sincs (beta 10), normalised so each polyphase branch
 * has a DC gain of exactly one (printed by a throwaway design program;
 * measured, not trusted, by tests/check_oversample.c):
 *
 *   stage  rate   taps  passband (base fs)  stopband (base fs)
 *   1      2 fs   79    0 … 0.4167 fs       0.5833 fs …   (20 / 28 kHz at 48 kHz)
 *   2      4 fs   35    0 … 0.5833 fs       1.4167 fs …
 *   3      8 fs   23    0 … 0.5833 fs       3.4167 fs …
 *
 * Up then down, at every factor: passband ripple within ±0.001 dB up to
 * 0.4167 fs, images and aliases at least 90 dB down (AMP_OS_* below are
 * the numbers the test asserts). The round trip delays by a whole number
 * of base-rate samples, AMP_OS_LATENCY_2/4/8 (39, 48, 51): the stages
 * alone would give 39, 47.5 and 50.25, so the decimator's input is padded
 * by 2 (4x) or 6 (8x) samples at the oversampled rate.
 *
 * Header-only and static inline like amp_dsp.h, one function set for one
 * channel (float) and one for four voices (v4f, one per lane). Only
 * additions and multiplications in a fixed order: with -ffp-contract=off
 * the native and WebAssembly builds give the same bits, and the four lanes
 * give the same bits as four scalar runs. State is caller-supplied (arrays
 * in the patch's state struct), cleared to zero. No allocation, no
 * branches on the data: real-time safe.
 */
#ifndef AMP_OVERSAMPLE_H
#define AMP_OVERSAMPLE_H

#include "amp_math.h"

/* Measured by tests/check_oversample.c; the test asserts these bounds. */
#define AMP_OS_RIPPLE_DB      0.001   /* passband: |gain| within this of 0 dB up to 0.4167 fs */
#define AMP_OS_STOPBAND_DB    90.0    /* images (up) and aliases (down) at least this far down */
#define AMP_OS_LATENCY_2      39      /* round trip, in base-rate samples */
#define AMP_OS_LATENCY_4      48
#define AMP_OS_LATENCY_8      51

/* Half-band taps: d[i-1] is twice the coefficient at ±(2i-1) from the
 * centre; the centre is 0.5 and every other even offset is zero. */
#define AMP_OS_M1 19          /* 4*M+3 taps */
#define AMP_OS_M2 8
#define AMP_OS_M3 5

static const float amp_os_taps1[AMP_OS_M1 + 1] = {
    6.346366527e-01f, -2.063254507e-01f, 1.177389782e-01f, -7.796673985e-02f,
    5.476779497e-02f, -3.939297988e-02f, 2.849164932e-02f, -2.049303598e-02f,
    1.454389384e-02f, -1.012025947e-02f, 6.864747698e-03f, -4.512372518e-03f,
    2.855126149e-03f, -1.724691053e-03f, 9.838138216e-04f, -5.216632921e-04f,
    2.507853612e-04f, -1.044693388e-04f, 3.401729678e-05f, -5.797304169e-06f,
};
static const float amp_os_taps2[AMP_OS_M2 + 1] = {
    6.262545381e-01f, -1.828674708e-01f, 8.373907882e-02f, -3.929089116e-02f,
    1.690082789e-02f, -6.188917600e-03f, 1.755580414e-03f, -3.160455298e-04f,
    1.329983912e-05f,
};
static const float amp_os_taps3[AMP_OS_M3 + 1] = {
    6.121050558e-01f, -1.481694661e-01f, 4.531186958e-02f, -1.057165922e-02f,
    1.344754216e-03f, -2.055423412e-05f,
};

/* Each stage keeps its history in a ring of a power-of-two size, indexed
 * by a free-running counter that the caller derives from its sample count
 * (the patch's delay-line counter): stage k of the upsampler is written
 * 2^(k-1) times per base sample, at counter (2^(k-1) n + j). So the state
 * is nothing but arrays of T, one lane per voice, that can be cleared and
 * moved lane by lane like a delay line's, and four voices in one vector
 * always share one position. Offsets into the two arrays: */
#define AMP_OS_UP1 0          /* 64, base rate */
#define AMP_OS_UP2 64         /* 32, 2 fs */
#define AMP_OS_UP3 96         /* 16, 4 fs */
#define AMP_OS_UP_LEN 112     /* T per upsampler */
#define AMP_OS_PAD 0          /* 8, N fs: the padding delay */
#define AMP_OS_DN3E 8         /* 16 + 8, 4 fs pairs */
#define AMP_OS_DN3O 24
#define AMP_OS_DN2E 32        /* 32 + 16, 2 fs pairs */
#define AMP_OS_DN2O 64
#define AMP_OS_DN1E 80        /* 64 + 32, base-rate pairs */
#define AMP_OS_DN1O 144
#define AMP_OS_DOWN_LEN 176   /* T per downsampler */

/* Latency at the oversampled rate that the stages leave fractional, padded
 * before decimating: (0, 2, 6) for factors 2, 4, 8. */
static inline int amp_os_pad(int factor)
{
    return factor == 8 ? 6 : factor == 4 ? 2 : 0;
}

static inline int amp_os_latency(int factor)
{
    return factor == 8 ? AMP_OS_LATENCY_8 : factor == 4 ? AMP_OS_LATENCY_4 : AMP_OS_LATENCY_2;
}

#define AMP_OS_DEFINE(T, SUF)                                                      \
/* One input of a 2x upsampling stage (ring h of mask+1, step t); its two         \
 * outputs, in time order. */                                                     \
static inline void amp_os_up_stage##SUF(T *h, unsigned mask, unsigned t,          \
                                        const float *d, int m, T x, T *out)        \
{                                                                                  \
    h[t & mask] = x;                                                               \
    T acc = (h[(t - (unsigned)m) & mask] + h[(t - (unsigned)m - 1u) & mask]) * d[0]; \
    for (int i = 2; i <= m + 1; i++)                                               \
        acc = acc + (h[(t - (unsigned)(m + 1 - i)) & mask] +                       \
                     h[(t - (unsigned)(m + i)) & mask]) * d[i - 1];                \
    out[0] = acc;                                                                  \
    out[1] = h[(t - (unsigned)m) & mask];                                          \
}                                                                                  \
                                                                                   \
/* Two inputs (in time order) of a 2:1 decimating stage; its output. */           \
static inline T amp_os_down_stage##SUF(T *e, unsigned emask, T *o, unsigned omask, \
                                       unsigned t, const float *d, int m,          \
                                       const T *in)                                \
{                                                                                  \
    e[t & emask] = in[0];                                                          \
    o[t & omask] = in[1];                                                          \
    T acc = (e[(t - (unsigned)m) & emask] + e[(t - (unsigned)m - 1u) & emask]) * d[0]; \
    for (int i = 2; i <= m + 1; i++)                                               \
        acc = acc + (e[(t - (unsigned)(m + 1 - i)) & emask] +                      \
                     e[(t - (unsigned)(m + i)) & emask]) * d[i - 1];               \
    return (o[(t - (unsigned)m - 1u) & omask] + acc) * 0.5f;                       \
}                                                                                  \
                                                                                   \
/* Base-rate sample n (any free-running count) x in; factor (2, 4 or 8)           \
 * samples out, in time order. h: AMP_OS_UP_LEN values, zero at the start. */     \
static inline void amp_os_up##SUF(T *h, unsigned n, int factor, T x, T *out)       \
{                                                                                  \
    T a[2], b[4];                                                                  \
    amp_os_up_stage##SUF(h + AMP_OS_UP1, 63u, n, amp_os_taps1, AMP_OS_M1, x,       \
                         factor == 2 ? out : a);                                   \
    if (factor == 2)                                                               \
        return;                                                                    \
    for (int j = 0; j < 2; j++)                                                    \
        amp_os_up_stage##SUF(h + AMP_OS_UP2, 31u, 2u * n + (unsigned)j,            \
                             amp_os_taps2, AMP_OS_M2, a[j],                        \
                             factor == 4 ? out + 2 * j : b + 2 * j);               \
    if (factor == 4)                                                               \
        return;                                                                    \
    for (int j = 0; j < 4; j++)                                                    \
        amp_os_up_stage##SUF(h + AMP_OS_UP3, 15u, 4u * n + (unsigned)j,            \
                             amp_os_taps3, AMP_OS_M3, b[j], out + 2 * j);          \
}                                                                                  \
                                                                                   \
/* factor samples at the oversampled rate in (time order) for base-rate           \
 * sample n; one sample out. h: AMP_OS_DOWN_LEN values, zero at the start. */     \
static inline T amp_os_down##SUF(T *h, unsigned n, int factor, const T *in)        \
{                                                                                  \
    T padded[8], a[4], b[2];                                                       \
    int pad = amp_os_pad(factor);                                                  \
    for (int j = 0; j < factor; j++) {                                             \
        unsigned t = (unsigned)factor * n + (unsigned)j;                           \
        h[AMP_OS_PAD + (t & 7u)] = in[j];                                          \
        padded[j] = h[AMP_OS_PAD + ((t - (unsigned)pad) & 7u)];                    \
    }                                                                              \
    const T *x = padded;                                                           \
    if (factor == 8) {                                                             \
        for (int j = 0; j < 4; j++)                                                \
            a[j] = amp_os_down_stage##SUF(h + AMP_OS_DN3E, 15u, h + AMP_OS_DN3O, 7u, \
                                          4u * n + (unsigned)j, amp_os_taps3,      \
                                          AMP_OS_M3, x + 2 * j);                   \
        x = a;                                                                     \
    }                                                                              \
    if (factor >= 4) {                                                             \
        for (int j = 0; j < 2; j++)                                                \
            b[j] = amp_os_down_stage##SUF(h + AMP_OS_DN2E, 31u, h + AMP_OS_DN2O, 15u, \
                                          2u * n + (unsigned)j, amp_os_taps2,      \
                                          AMP_OS_M2, x + 2 * j);                   \
        x = b;                                                                     \
    }                                                                              \
    return amp_os_down_stage##SUF(h + AMP_OS_DN1E, 63u, h + AMP_OS_DN1O, 31u, n,   \
                                  amp_os_taps1, AMP_OS_M1, x);                     \
}

AMP_OS_DEFINE(float, f)
AMP_OS_DEFINE(v4f, 4)

#undef AMP_OS_DEFINE

#endif
