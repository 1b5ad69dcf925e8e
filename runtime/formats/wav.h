/* wav.h — read and write WAV files as planar float buffers.
 *
 * Reads RIFF/WAVE with 8/16/24/32-bit integer PCM or 32/64-bit float
 * samples, 1 to WAV_MAX_CHANNELS channels, plain or WAVE_FORMAT_EXTENSIBLE,
 * skipping every chunk other than `fmt ` and `data`. Integer samples map to
 * [-1, 1) (divided by 2^(bits-1)). Any malformed input gives an error
 * message, never a crash: every length is checked against the bytes that
 * are there.
 *
 * Writes 32-bit float (exact), 24-bit PCM (x * 8388608 rounded to nearest,
 * halves away from zero, clipped to [-8388608, 8388607]; no dither) or
 * 16-bit PCM (x * 32768 rounded the same way, clipped to [-32768, 32767]),
 * without dither (WAV_S16) or with TPDF dither (WAV_S16_TPDF): before
 * rounding, each sample gets (u1 - u2) / 2^32 LSB added, u1 and u2 the
 * next two outputs of a 32-bit xorshift generator (x ^= x << 13;
 * x ^= x >> 17; x ^= x << 5) seeded with WAV_DITHER_SEED at the start of
 * every file and drawn frame by frame, channel by channel: triangular
 * noise of +-1 LSB, the same bits on every build (integer arithmetic and
 * exact double sums), so a dithered export of the browser and `amp render
 * --format s16 --dither` are bit-identical.
 *
 * Reading and wav_write_memory build natively and into engine.wasm (the
 * browser's export); the file functions are native only. Not for the
 * audio thread: reading and writing allocate.
 */
#ifndef AMP_WAV_H
#define AMP_WAV_H

#include <stddef.h>

#define WAV_MAX_CHANNELS 8
#define WAV_MAX_RATE 1000000      /* larger sample rates are taken as corrupt */

typedef enum { WAV_F32 = 0, WAV_S16 = 1, WAV_S24 = 2, WAV_S16_TPDF = 3 } WavFormat;

#define WAV_DITHER_SEED 0x414D5001u      /* "AMP" 1 */

typedef struct WavData {
    int channels;
    long frames;
    int sample_rate;
    float **data;          /* data[c][i]: channel c, frame i; one allocation */
    int source_bits;       /* bits per sample in the file read */
    int source_float;      /* 1 if the file held float samples */
} WavData;

/* Parse a WAV file held in memory. Returns 0 and fills *out (free with
 * wav_free) or returns -1 with a message in err. */
int wav_read_memory(const void *bytes, size_t len, WavData *out, char *err, size_t errlen);
int wav_read_file(const char *path, WavData *out, char *err, size_t errlen);
void wav_free(WavData *w);

/* Encode channels x frames samples into a malloc'd WAV image (*bytes,
 * *len; free() it). Returns 0, or -1 with a message in err. */
int wav_write_memory(const float *const *chans, int channels, long frames, int sample_rate,
                     WavFormat fmt, unsigned char **bytes, size_t *len, char *err, size_t errlen);
/* Same, to a file; on a write error the partial file is removed. */
int wav_write_file(const char *path, const float *const *chans, int channels, long frames,
                   int sample_rate, WavFormat fmt, char *err, size_t errlen);

#endif
