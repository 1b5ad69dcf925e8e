/* wav.h — read and write WAV files as planar float buffers.
 *
 * Reads RIFF/WAVE with 8/16/24/32-bit integer PCM or 32/64-bit float
 * samples, 1 to WAV_MAX_CHANNELS channels, plain or WAVE_FORMAT_EXTENSIBLE,
 * skipping every chunk other than `fmt ` and `data`. Integer samples map to
 * [-1, 1) (divided by 2^(bits-1)). Any malformed input gives an error
 * message, never a crash: every length is checked against the bytes that
 * are there.
 *
 * Writes 32-bit float (exact) or 16-bit PCM (x * 32768 rounded to nearest,
 * clipped to [-32768, 32767]; no dither).
 *
 * Not for the audio thread: reading and writing allocate and do I/O.
 */
#ifndef AMP_WAV_H
#define AMP_WAV_H

#include <stddef.h>

#define WAV_MAX_CHANNELS 8
#define WAV_MAX_RATE 1000000      /* larger sample rates are taken as corrupt */

typedef enum { WAV_F32 = 0, WAV_S16 = 1 } WavFormat;

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
