/* amp_oversample.h — band-limited up- and down-sampling by 2, 4 or 8, for
 * the parts of a patch that run oversampled (`oversample N { … }`, SPEC §11)
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
 * give the same bits as four scalar runs. State is caller-supplied (a
 * member of the patch's state struct), cleared with memset to zero. No
 * allocation, no branches on the data: real-time safe.
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

/* History lengths: the sinc taps span 2M+2 inputs, the centre path M+2. */
#define AMP_OS_K(m)  (2 * (m) + 2)
#define AMP_OS_KO(m) ((m) + 2)

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

/* Each history is kept twice over (h[p] and h[p + K] hold the same value)
 * so that the newest K values are h[p … p+K-1] without wrapping: h[p + j]
 * is the value pushed j steps ago. */
#define AMP_OS_DEFINE(T, SUF)                                                      \
typedef struct AmpOversample##SUF {                                                \
    T up1[2 * AMP_OS_K(AMP_OS_M1)], dn1e[2 * AMP_OS_K(AMP_OS_M1)],                 \
      dn1o[2 * AMP_OS_KO(AMP_OS_M1)];                                              \
    T up2[2 * AMP_OS_K(AMP_OS_M2)], dn2e[2 * AMP_OS_K(AMP_OS_M2)],                 \
      dn2o[2 * AMP_OS_KO(AMP_OS_M2)];                                              \
    T up3[2 * AMP_OS_K(AMP_OS_M3)], dn3e[2 * AMP_OS_K(AMP_OS_M3)],                 \
      dn3o[2 * AMP_OS_KO(AMP_OS_M3)];                                              \
    T pad[16];             /* the padding delay, twice over */                     \
    int pos[10];           /* each history's p, in the order above; pad last */    \
} AmpOversample##SUF;                                                              \
                                                                                   \
static inline void amp_os_push##SUF(T *h, int *p, int k, T x)                      \
{                                                                                  \
    *p = *p == 0 ? k - 1 : *p - 1;                                                 \
    h[*p] = x;                                                                     \
    h[*p + k] = x;                                                                 \
}                                                                                  \
                                                                                   \
/* One input of a 2x upsampling stage; its two outputs, in time order. */         \
static inline void amp_os_up_stage##SUF(T *h, int *p, const float *d, int m,       \
                                        T x, T *out)                               \
{                                                                                  \
    amp_os_push##SUF(h, p, AMP_OS_K(m), x);                                        \
    const T *w = h + *p;                                                           \
    T acc = (w[m] + w[m + 1]) * d[0];                                              \
    for (int i = 2; i <= m + 1; i++)                                               \
        acc = acc + (w[m + 1 - i] + w[m + i]) * d[i - 1];                          \
    out[0] = acc;                                                                  \
    out[1] = w[m];                                                                 \
}                                                                                  \
                                                                                   \
/* Two inputs (in time order) of a 2:1 decimating stage; its output. */           \
static inline T amp_os_down_stage##SUF(T *e, T *o, int *pe, int *po,               \
                                       const float *d, int m, const T *in)         \
{                                                                                  \
    amp_os_push##SUF(e, pe, AMP_OS_K(m), in[0]);                                   \
    amp_os_push##SUF(o, po, AMP_OS_KO(m), in[1]);                                  \
    const T *w = e + *pe;                                                          \
    T acc = (w[m] + w[m + 1]) * d[0];                                              \
    for (int i = 2; i <= m + 1; i++)                                               \
        acc = acc + (w[m + 1 - i] + w[m + i]) * d[i - 1];                          \
    return (o[*po + m + 1] + acc) * 0.5f;                                          \
}                                                                                  \
                                                                                   \
/* One base-rate sample x in, factor (2, 4 or 8) samples out, in time order. */   \
static inline void amp_os_up##SUF(AmpOversample##SUF *s, int factor, T x, T *out)  \
{                                                                                  \
    T a[2], b[4];                                                                  \
    amp_os_up_stage##SUF(s->up1, &s->pos[0], amp_os_taps1, AMP_OS_M1, x,           \
                         factor == 2 ? out : a);                                   \
    if (factor == 2)                                                               \
        return;                                                                    \
    for (int j = 0; j < 2; j++)                                                    \
        amp_os_up_stage##SUF(s->up2, &s->pos[3], amp_os_taps2, AMP_OS_M2, a[j],    \
                             factor == 4 ? out + 2 * j : b + 2 * j);               \
    if (factor == 4)                                                               \
        return;                                                                    \
    for (int j = 0; j < 4; j++)                                                    \
        amp_os_up_stage##SUF(s->up3, &s->pos[6], amp_os_taps3, AMP_OS_M3, b[j],    \
                             out + 2 * j);                                         \
}                                                                                  \
                                                                                   \
/* factor samples at the oversampled rate in (time order), one base-rate out. */  \
static inline T amp_os_down##SUF(AmpOversample##SUF *s, int factor, const T *in)   \
{                                                                                  \
    T padded[8], a[4], b[2];                                                       \
    int pad = amp_os_pad(factor);                                                  \
    for (int j = 0; j < factor; j++) {                                             \
        if (pad == 0) {                                                            \
            padded[j] = in[j];                                                     \
            continue;                                                              \
        }                                                                          \
        amp_os_push##SUF(s->pad, &s->pos[9], 8, in[j]);                            \
        padded[j] = s->pad[s->pos[9] + pad];                                       \
    }                                                                              \
    const T *x = padded;                                                           \
    if (factor == 8) {                                                             \
        for (int j = 0; j < 4; j++)                                                \
            a[j] = amp_os_down_stage##SUF(s->dn3e, s->dn3o, &s->pos[7], &s->pos[8], \
                                          amp_os_taps3, AMP_OS_M3, x + 2 * j);     \
        x = a;                                                                     \
    }                                                                              \
    if (factor >= 4) {                                                             \
        for (int j = 0; j < 2; j++)                                                \
            b[j] = amp_os_down_stage##SUF(s->dn2e, s->dn2o, &s->pos[4], &s->pos[5], \
                                          amp_os_taps2, AMP_OS_M2, x + 2 * j);     \
        x = b;                                                                     \
    }                                                                              \
    return amp_os_down_stage##SUF(s->dn1e, s->dn1o, &s->pos[1], &s->pos[2],        \
                                  amp_os_taps1, AMP_OS_M1, x);                     \
}

AMP_OS_DEFINE(float, f)
AMP_OS_DEFINE(v4f, 4)

#undef AMP_OS_DEFINE

#endif
