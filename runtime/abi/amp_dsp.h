/* amp_dsp.h — the small run-time helpers that compiled patches call beside
 * the math kernels: delay-line and table reads, parameter smoothing.
 *
 * Header-only (static inline), included by every emitted patch, so that the
 * native build, the cached shared objects of `amp render` and the
 * WebAssembly engine all compile the same code. Every float-to-int
 * conversion here is done on a value already clamped into range (NaN
 * included), because x86 and WebAssembly disagree on out-of-range ones.
 */
#ifndef AMP_DSP_H
#define AMP_DSP_H

#include "amp_math.h"
#include "amp_patch.h"

/* Clamp d into [1, size]; NaN becomes 1. */
static inline float amp_delay_clamp(float d, float size)
{
    if (!(d >= 1.0f))
        return 1.0f;
    return d <= size ? d : size;
}

/* The value written d samples ago (linear interpolation) from a line of
 * mask + 1 samples whose next write goes to pos & mask. pos is the free-
 * running sample counter all delay lines share (unsigned: wraps cleanly). */
static inline float amp_delay_readf(const float *buf, unsigned pos, int mask, float d, float size)
{
    d = amp_delay_clamp(d, size);
    unsigned k = (unsigned)(int)d;
    float frac = d - (float)(int)k;
    float a = buf[(pos - k) & (unsigned)mask];
    float b = buf[(pos - k - 1u) & (unsigned)mask];
    return a + (b - a) * frac;
}

/* The same read with the delay split beforehand (once per control tick):
 * k = (int)clamped delay, frac = clamped delay - k. Same arithmetic, same
 * bits as amp_delay_readf. */
static inline float amp_delay_tapf(const float *buf, unsigned pos, int mask, unsigned k, float frac)
{
    float a = buf[(pos - k) & (unsigned)mask];
    float b = buf[(pos - k - 1u) & (unsigned)mask];
    return a + (b - a) * frac;
}

/* Ring reads and writes in runs (the emitted patch loop, compiler/emit_c.c):
 * the index of position `at` in a ring of mask + 1 samples, and *run
 * lowered to the samples left before that index wraps, so that the run's
 * j-th sample is at index + j. Per run, not per sample: a read of a fixed
 * tap is then a load at a base and the loop counter, with no subtraction
 * and no mask. */
static inline size_t amp_ring_at(unsigned at, unsigned mask, int *run)
{
    unsigned k = at & mask;
    if ((int)(mask + 1u - k) < *run)
        *run = (int)(mask + 1u - k);
    return k;
}

/* A float of a state struct's array field, or of a row of a 2-D array, at
 * an index that moves per sample (the emitted patch loop's ring writes and
 * values crossing split loops, compiler/emit_c.c). In WebAssembly the
 * constant part of the address (the field's offset, the row's) is added
 * last: clang then puts it in the store's or load's offset immediate, where
 * it otherwise kept one base per array live across the loop and V8 added it
 * with an instruction per access (V8 does not fold an i32.add into an
 * address). Natively the plain subscript. The same element either way. */
#ifdef __wasm__
#define AMP_FIELD_AT(p, type, field, idx) \
    (*(float *)((char *)(p) + sizeof(float) * (size_t)(idx) + offsetof(type, field)))
#define AMP_ROW_AT(a, row, idx) \
    (*(float *)((char *)(a) + sizeof(float) * (size_t)(idx) + sizeof((a)[0]) * (size_t)(row)))
#else
#define AMP_FIELD_AT(p, type, field, idx) ((p)->field[idx])
#define AMP_ROW_AT(a, row, idx) ((a)[row][idx])
#endif

/* amp_flush for the block flushes of emitted code (flush_out): the same
 * bits. In WebAssembly clang folds x & ~mask into a v128.bitselect, which
 * V8 runs as three operations; the empty asm keeps the mask opaque, so
 * that it stays one v128.andnot. */
static inline v4f amp_flush_block(v4f x)
{
#ifdef __wasm__
    v4i m = amp_abs(x) < amp_splat(1e-30f);
    __asm__("" : "+r"(m));
    return (v4f)((v4i)x & ~m);
#else
    return amp_flush(x);
#endif
}

/* amp_delay_tapf's arithmetic on its two samples, read by the caller
 * (a, then b one sample older): the same bits. */
static inline float amp_tap_lerpf(float a, float b, float frac)
{
    return a + (b - a) * frac;
}

/* The same for four voices, one per lane; buf holds one vector per sample. */
static inline v4f amp_delay_read4(const v4f *buf, unsigned pos, int mask, v4f d, float size)
{
    v4f r;
    for (int l = 0; l < 4; l++) {
        float dl = amp_delay_clamp(d[l], size);
        unsigned k = (unsigned)(int)dl;
        float frac = dl - (float)(int)k;
        float a = buf[(pos - k) & (unsigned)mask][l];
        float b = buf[(pos - k - 1u) & (unsigned)mask][l];
        r[l] = a + (b - a) * frac;
    }
    return r;
}

/* Reads whose delay the compiler knows to be a whole number (a constant,
 * floor/ceil/round/trunc, sums and products of those): no interpolation.
 * The value equals amp_delay_readf's for the same delay whenever that one
 * is finite. */
static inline float amp_delay_readif(const float *buf, unsigned pos, int mask, float d, float size)
{
    unsigned k = (unsigned)(int)amp_delay_clamp(d, size);
    return buf[(pos - k) & (unsigned)mask];
}

static inline v4f amp_delay_read4i(const v4f *buf, unsigned pos, int mask, v4f d, float size)
{
    v4f r;
    for (int l = 0; l < 4; l++) {
        unsigned k = (unsigned)(int)amp_delay_clamp(d[l], size);
        r[l] = buf[(pos - k) & (unsigned)mask][l];
    }
    return r;
}

/* Wrap x into [0, n): a table position; non-finite positions read 0. */
static inline float amp_table_wrap(float x, int n)
{
    float fn = (float)n;
    float w = x - fn * amp_floorf(x / fn);
    if (!(w >= 0.0f && w < fn))
        w = 0.0f;
    return w;
}

static inline float amp_table_atf(const float *t, int n, float x)
{
    return t[(int)amp_table_wrap(amp_floorf(x), n)];
}

static inline float amp_table_lerpf(const float *t, int n, float x)
{
    float w = amp_table_wrap(x, n);
    int i = (int)w;
    float frac = w - (float)i;
    float a = t[i];
    float b = t[i + 1 < n ? i + 1 : 0];
    return a + (b - a) * frac;
}

static inline v4f amp_table_at4(const float *t, int n, v4f x)
{
    v4f r;
    for (int l = 0; l < 4; l++)
        r[l] = amp_table_atf(t, n, x[l]);
    return r;
}

static inline v4f amp_table_lerp4(const float *t, int n, v4f x)
{
    v4f r;
    for (int l = 0; l < 4; l++)
        r[l] = amp_table_lerpf(t, n, x[l]);
    return r;
}

/* Sample slot reads (AmpSample, amp_patch.h): channel ch (0 or 1) of the
 * bound sample at frame position x. _at: frame floor(x); _lerp: linear
 * between frames floor(x) and floor(x) + 1; both read 0 before frame 0,
 * from the last frame on (lerp: toward 0 past it) and when nothing is
 * bound, so a one-shot ends in silence. _loop: x wrapped into [0, frames),
 * the last frame interpolating toward frame 0. Non-finite positions read
 * 0. */
static inline float amp_sample_frame(const AmpSample *s, int ch, int32_t i)
{
    return i >= 0 && i < s->frames ? s->data[ch].p[i] : 0.0f;
}

static inline float amp_sample_atf(const AmpSample *s, int ch, float x)
{
    if (!(x >= 0.0f && x < (float)s->frames))
        return 0.0f;
    return s->data[ch].p[(int32_t)x];
}

static inline float amp_sample_lerpf(const AmpSample *s, int ch, float x)
{
    if (!(x >= 0.0f && x < (float)s->frames))
        return 0.0f;
    int32_t i = (int32_t)x;
    float frac = x - (float)i;
    float a = s->data[ch].p[i];
    float b = amp_sample_frame(s, ch, i + 1);
    return a + (b - a) * frac;
}

static inline float amp_sample_loopf(const AmpSample *s, int ch, float x)
{
    if (s->frames <= 0)
        return 0.0f;
    float w = amp_table_wrap(x, s->frames);
    int32_t i = (int32_t)w;
    float frac = w - (float)i;
    float a = s->data[ch].p[i];
    float b = s->data[ch].p[i + 1 < s->frames ? i + 1 : 0];
    return a + (b - a) * frac;
}

static inline v4f amp_sample_at4(const AmpSample *s, int ch, v4f x)
{
    v4f r;
    for (int l = 0; l < 4; l++)
        r[l] = amp_sample_atf(s, ch, x[l]);
    return r;
}

static inline v4f amp_sample_lerp4(const AmpSample *s, int ch, v4f x)
{
    v4f r;
    for (int l = 0; l < 4; l++)
        r[l] = amp_sample_lerpf(s, ch, x[l]);
    return r;
}

static inline v4f amp_sample_loop4(const AmpSample *s, int ch, v4f x)
{
    v4f r;
    for (int l = 0; l < 4; l++)
        r[l] = amp_sample_loopf(s, ch, x[l]);
    return r;
}

/* One control tick of a one-pole glide from value to target; k is one over
 * the time constant in samples. Snaps when within float resolution, so a
 * settled param is exactly its target. */
static inline float amp_smooth(float value, float target, float k, int len)
{
    float a = 1.0f - amp_expf(-k * (float)len);
    float next = value + (target - value) * a;
    float diff = next - target;
    float tol = 1e-6f * amp_absf(target) + 1e-12f;
    return amp_absf(diff) <= tol ? target : next;
}

#endif
