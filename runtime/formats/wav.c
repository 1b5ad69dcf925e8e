/* wav.c — WAV reader and writer; see wav.h.
 *
 * The reader works on the whole file in memory and checks every offset
 * against the end of the buffer before it reads, so a truncated or lying
 * file gives an error message and nothing else. All multi-byte fields are
 * little-endian and are assembled byte by byte (no unaligned loads, no
 * dependence on the host's byte order).
 */
#include "util.h"
#include "wav.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    FORMAT_PCM = 1,
    FORMAT_FLOAT = 3,
    FORMAT_EXTENSIBLE = 0xFFFE,
};

/* The 14 bytes that follow the format code in a KSDATAFORMAT_SUBTYPE GUID
 * ({0000xxxx-0000-0010-8000-00aa00389b71}, stored little-endian). */
static const unsigned char guid_tail[14] = {
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71
};

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd24(const unsigned char *p) { return rd16(p) | (uint32_t)p[2] << 16; }
static uint32_t rd32(const unsigned char *p) { return rd24(p) | (uint32_t)p[3] << 24; }

/* A chunk id for messages: printable characters kept, others as '?'. */
static void chunk_name(const unsigned char *p, char name[5])
{
    for (int i = 0; i < 4; i++)
        name[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    name[4] = '\0';
}

typedef struct Chunk {
    const unsigned char *body;
    size_t size;
} Chunk;

/* Find the `fmt ` and `data` chunks among the chunks in [12, end). */
static int find_chunks(const unsigned char *p, size_t end, Chunk *fmt, Chunk *data,
                       char *err, size_t errlen)
{
    size_t pos = 12;
    while (end - pos >= 8) {
        uint32_t size = rd32(p + pos + 4);
        size_t body = pos + 8;
        char name[5];
        chunk_name(p + pos, name);
        if (size > end - body) {
            if (fmt->body && data->body)
                break;     /* junk after everything we need */
            return fail(err, errlen, "chunk '%s' at byte %zu claims %u bytes but only %zu remain",
                        name, pos, size, end - body);
        }
        if (!memcmp(p + pos, "fmt ", 4) && !fmt->body) {
            fmt->body = p + body;
            fmt->size = size;
        } else if (!memcmp(p + pos, "data", 4) && !data->body) {
            data->body = p + body;
            data->size = size;
        }
        pos = body + size;
        if (size & 1u) {           /* chunks are padded to an even length */
            if (pos >= end)
                break;
            pos++;
        }
    }
    if (!fmt->body)
        return fail(err, errlen, "no 'fmt ' chunk");
    if (!data->body)
        return fail(err, errlen, "no 'data' chunk");
    return 0;
}

typedef struct Format {
    int code;              /* FORMAT_PCM or FORMAT_FLOAT after unwrapping EXTENSIBLE */
    int channels;
    uint32_t rate;
    int bits;              /* container bits per sample */
    uint32_t block_align;
} Format;

static int parse_format(const Chunk *c, Format *f, char *err, size_t errlen)
{
    const unsigned char *p = c->body;
    if (c->size < 16)
        return fail(err, errlen, "'fmt ' chunk is %zu bytes, needs at least 16", c->size);
    f->code = (int)rd16(p);
    f->channels = (int)rd16(p + 2);
    f->rate = rd32(p + 4);
    f->block_align = rd16(p + 12);
    f->bits = (int)rd16(p + 14);
    if (f->code == FORMAT_EXTENSIBLE) {
        if (c->size < 40 || rd16(p + 16) < 22)
            return fail(err, errlen, "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is too short (%zu bytes)",
                        c->size);
        if (memcmp(p + 26, guid_tail, sizeof guid_tail) != 0)
            return fail(err, errlen, "WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID");
        f->code = (int)rd16(p + 24);
    }
    if (f->channels == 0)
        return fail(err, errlen, "the file has zero channels");
    if (f->channels > WAV_MAX_CHANNELS)
        return fail(err, errlen, "the file has %d channels (at most %d supported)",
                    f->channels, WAV_MAX_CHANNELS);
    if (f->rate == 0 || f->rate > WAV_MAX_RATE)
        return fail(err, errlen, "bad sample rate %u Hz", f->rate);
    if (f->code == FORMAT_PCM) {
        if (f->bits != 8 && f->bits != 16 && f->bits != 24 && f->bits != 32)
            return fail(err, errlen, "unsupported PCM sample size: %d bits", f->bits);
    } else if (f->code == FORMAT_FLOAT) {
        if (f->bits != 32 && f->bits != 64)
            return fail(err, errlen, "unsupported float sample size: %d bits", f->bits);
    } else {
        return fail(err, errlen, "unsupported sample format 0x%04x (PCM and float only)",
                    (unsigned)f->code);
    }
    uint32_t frame_bytes = (uint32_t)f->channels * (uint32_t)(f->bits / 8);
    if (f->block_align != frame_bytes)
        return fail(err, errlen, "block align %u does not match %d channels of %d bits",
                    f->block_align, f->channels, f->bits);
    return 0;
}

static float decode_sample(const unsigned char *p, const Format *f)
{
    if (f->code == FORMAT_FLOAT) {
        if (f->bits == 32) {
            uint32_t u = rd32(p);
            float x;
            memcpy(&x, &u, sizeof x);
            return x;
        }
        uint64_t u = (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
        double x;
        memcpy(&x, &u, sizeof x);
        return (float)x;
    }
    switch (f->bits) {
    case 8:
        return ((int)p[0] - 128) * (1.0f / 128.0f);
    case 16:
        return (float)(int16_t)rd16(p) * (1.0f / 32768.0f);
    case 24: {
        int32_t v = (int32_t)(rd24(p) << 8) >> 8;   /* sign-extend 24 bits */
        return (float)v * (1.0f / 8388608.0f);
    }
    default:
        return (float)((double)(int32_t)rd32(p) * (1.0 / 2147483648.0));
    }
}

int wav_read_memory(const void *bytes, size_t len, WavData *out, char *err, size_t errlen)
{
    const unsigned char *p = bytes;
    memset(out, 0, sizeof *out);
    if (!p || len < 12)
        return fail(err, errlen, "too short for a WAV file (%zu bytes)", len);
    if (!memcmp(p, "RF64", 4))
        return fail(err, errlen, "RF64 (WAV larger than 4 GiB) is not supported");
    if (memcmp(p, "RIFF", 4) != 0)
        return fail(err, errlen, "not a WAV file (no RIFF header)");
    if (memcmp(p + 8, "WAVE", 4) != 0)
        return fail(err, errlen, "a RIFF file, but not WAVE");
    /* Trust the RIFF size only when it fits; many writers get it wrong. */
    uint32_t riff_size = rd32(p + 4);
    size_t end = riff_size >= 4 && riff_size <= len - 8 ? 8 + (size_t)riff_size : len;

    Chunk fmt = {0}, data = {0};
    if (find_chunks(p, end, &fmt, &data, err, errlen))
        return -1;
    Format f = { 0 };
    if (parse_format(&fmt, &f, err, errlen))
        return -1;

    size_t bytes_per_sample = (size_t)f.bits / 8;
    size_t frame_bytes = f.block_align;
    size_t frames = data.size / frame_bytes;        /* a partial last frame is dropped */
    size_t n = frames * (size_t)f.channels;
    size_t ptr_bytes = (size_t)f.channels * sizeof(float *);
    float **chans = malloc(ptr_bytes + (n ? n : 1) * sizeof(float));
    if (!chans)
        return fail(err, errlen, "out of memory for %zu frames", frames);
    float *samples = (float *)((char *)chans + ptr_bytes);
    for (int c = 0; c < f.channels; c++)
        chans[c] = samples + (size_t)c * frames;
    for (size_t i = 0; i < frames; i++) {
        const unsigned char *frame = data.body + i * frame_bytes;
        for (int c = 0; c < f.channels; c++)
            chans[c][i] = decode_sample(frame + (size_t)c * bytes_per_sample, &f);
    }
    out->channels = f.channels;
    out->frames = (long)frames;
    out->sample_rate = (int)f.rate;
    out->data = chans;
    out->source_bits = f.bits;
    out->source_float = f.code == FORMAT_FLOAT;
    return 0;
}

#ifndef AMP_NO_FILES                    /* engine.wasm: no file system */
int wav_read_file(const char *path, WavData *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len;
    if (read_whole_file(path, (size_t)1 << 34, &buf, &len, err, errlen))
        return -1;
    char why[200];
    int rc = 0;
    if (wav_read_memory(buf, len, out, why, sizeof why))
        rc = fail(err, errlen, "%s: %s", path, why);
    free(buf);
    return rc;
}
#endif

void wav_free(WavData *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

static unsigned char *put16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    return p + 2;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
    put16(p, v & 0xFFFFu);
    put16(p + 2, v >> 16);
    return p + 4;
}

static unsigned char *put_id(unsigned char *p, const char id[4])
{
    memcpy(p, id, 4);
    return p + 4;
}

/* x * scale + dither rounded to nearest (halves away from zero), clipped
 * to [-scale, scale - 1]. */
static int32_t to_int(float x, double scale, double dither)
{
    double v = (double)x * scale;
    if (v != v)
        return 0;
    v += dither;
    v = v < 0 ? ceil(v - 0.5) : floor(v + 0.5);
    if (v > scale - 1.0)
        return (int32_t)(scale - 1.0);
    if (v < -scale)
        return (int32_t)-scale;
    return (int32_t)v;
}

static uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* TPDF dither in LSB: the difference of two uniform draws, in (-1, 1). */
static double tpdf(uint32_t *state)
{
    double u1 = (double)xorshift32(state), u2 = (double)xorshift32(state);
    return (u1 - u2) * (1.0 / 4294967296.0);
}

int wav_write_memory(const float *const *chans, int channels, long frames, int sample_rate,
                     WavFormat fmt, unsigned char **bytes, size_t *len, char *err, size_t errlen)
{
    *bytes = NULL;
    *len = 0;
    if (channels < 1 || channels > WAV_MAX_CHANNELS)
        return fail(err, errlen, "cannot write %d channels (1 to %d)", channels, WAV_MAX_CHANNELS);
    if (sample_rate < 1 || sample_rate > WAV_MAX_RATE)
        return fail(err, errlen, "bad sample rate %d Hz", sample_rate);
    if (frames < 0)
        return fail(err, errlen, "negative length");
    if (fmt != WAV_F32 && fmt != WAV_S16 && fmt != WAV_S24 && fmt != WAV_S16_TPDF)
        return fail(err, errlen, "unknown sample format %d", (int)fmt);
    int is_float = fmt == WAV_F32;
    uint32_t bps = is_float ? 4 : fmt == WAV_S24 ? 3 : 2;
    /* Header: RIFF(12) + fmt (8+16, or 8+18 for float) + fact(12, float) + data(8). */
    uint32_t header = is_float ? 12 + 26 + 12 + 8 : 12 + 24 + 8;
    uint64_t data_bytes = (uint64_t)frames * (uint64_t)channels * bps;
    uint64_t pad = data_bytes & 1;            /* a chunk of odd size is followed by a pad byte */
    if (data_bytes + pad + header > 0xFFFFFFFEu)
        return fail(err, errlen, "too long for a WAV file (more than 4 GiB of samples)");
    size_t total = header + (size_t)(data_bytes + pad);
    unsigned char *buf = malloc(total);
    if (!buf)
        return fail(err, errlen, "out of memory");

    unsigned char *p = buf;
    p = put_id(p, "RIFF");
    p = put32(p, (uint32_t)(total - 8));
    p = put_id(p, "WAVE");
    p = put_id(p, "fmt ");
    p = put32(p, is_float ? 18 : 16);
    p = put16(p, is_float ? FORMAT_FLOAT : FORMAT_PCM);
    p = put16(p, (uint32_t)channels);
    p = put32(p, (uint32_t)sample_rate);
    p = put32(p, (uint32_t)sample_rate * (uint32_t)channels * bps);
    p = put16(p, (uint32_t)channels * bps);
    p = put16(p, bps * 8);
    if (is_float) {
        p = put16(p, 0);                      /* cbSize */
        p = put_id(p, "fact");
        p = put32(p, 4);
        p = put32(p, (uint32_t)frames);
    }
    p = put_id(p, "data");
    p = put32(p, (uint32_t)data_bytes);
    uint32_t dither = WAV_DITHER_SEED;
    for (long i = 0; i < frames; i++) {
        for (int c = 0; c < channels; c++) {
            float x = chans[c][i];
            if (is_float) {
                uint32_t u;
                memcpy(&u, &x, sizeof u);
                p = put32(p, u);
            } else if (fmt == WAV_S24) {
                uint32_t v = (uint32_t)to_int(x, 8388608.0, 0.0);
                p = put16(p, v & 0xFFFFu);
                *p++ = (unsigned char)(v >> 16);
            } else {
                double d = fmt == WAV_S16_TPDF ? tpdf(&dither) : 0.0;
                p = put16(p, (uint16_t)to_int(x, 32768.0, d));
            }
        }
    }
    if (pad)
        *p = 0;
    *bytes = buf;
    *len = total;
    return 0;
}

#ifndef AMP_NO_FILES
int wav_write_file(const char *path, const float *const *chans, int channels, long frames,
                   int sample_rate, WavFormat fmt, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    if (wav_write_memory(chans, channels, frames, sample_rate, fmt, &buf, &len, err, errlen))
        return -1;
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        int e = errno;
        free(buf);
        return fail(err, errlen, "%s: %s", path, strerror(e));
    }
    size_t put = fwrite(buf, 1, len, fp);
    int e = errno;
    int closed = fclose(fp);
    free(buf);
    if (put != len || closed != 0) {
        remove(path);
        return fail(err, errlen, "%s: write failed: %s", path, strerror(e ? e : EIO));
    }
    return 0;
}
#endif
