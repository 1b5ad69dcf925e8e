/* check_wav.c — WAV reading and writing (runtime/formats/wav.c): round trips,
 * formats, malformed files and a mutation fuzz. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "wav.h"

#define FRAMES 1000

static float chan_data[WAV_MAX_CHANNELS][FRAMES];
static const float *chans[WAV_MAX_CHANNELS];

/* Deterministic test signal: channel c is a different sine plus edge values. */
static void fill_signal(int channels)
{
    for (int c = 0; c < channels; c++) {
        for (int i = 0; i < FRAMES; i++)
            chan_data[c][i] = 0.9f * sinf(0.01f * (float)(c + 1) * (float)i) + 0.001f * (float)c;
        chan_data[c][0] = 1.0f;
        chan_data[c][1] = -1.0f;
        chan_data[c][2] = 0.0f;
        chan_data[c][3] = 1e-30f;
        chans[c] = chan_data[c];
    }
}

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xFFFF); put16(p + 2, v >> 16); }

/* ---- round trips ---------------------------------------------------------- */

START_TEST(test_f32_round_trip_exact)
{
    for (int channels = 1; channels <= WAV_MAX_CHANNELS; channels++) {
        fill_signal(channels);
        unsigned char *bytes;
        size_t len;
        char err[200];
        ck_assert_int_eq(wav_write_memory(chans, channels, FRAMES, 44100, WAV_F32, &bytes, &len,
                                          err, sizeof err), 0);
        WavData w;
        ck_assert_msg(wav_read_memory(bytes, len, &w, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(w.channels, channels);
        ck_assert_int_eq(w.frames, FRAMES);
        ck_assert_int_eq(w.sample_rate, 44100);
        ck_assert_int_eq(w.source_float, 1);
        for (int c = 0; c < channels; c++)
            ck_assert(memcmp(w.data[c], chan_data[c], sizeof chan_data[c]) == 0);
        wav_free(&w);
        free(bytes);
    }
}
END_TEST

START_TEST(test_s16_round_trip)
{
    fill_signal(2);
    chan_data[0][4] = 2.0f;          /* clipped */
    chan_data[0][5] = -2.0f;
    chan_data[0][6] = 0.5f / 32768.0f;   /* half a step: rounds away from 0 */
    chan_data[0][7] = NAN;
    unsigned char *bytes;
    size_t len;
    char err[200];
    ck_assert_int_eq(wav_write_memory(chans, 2, FRAMES, 48000, WAV_S16, &bytes, &len, err, sizeof err), 0);
    ck_assert_uint_eq(len, 44 + FRAMES * 2 * 2);
    WavData w;
    ck_assert_int_eq(wav_read_memory(bytes, len, &w, err, sizeof err), 0);
    ck_assert_int_eq(w.source_bits, 16);
    ck_assert_int_eq(w.source_float, 0);
    for (int c = 0; c < 2; c++) {
        for (int i = 8; i < FRAMES; i++) {
            float want = chan_data[c][i];
            ck_assert_float_eq_tol(w.data[c][i], want, 0.5f / 32768.0f + 1e-9f);
            /* Exactly the rounded value. */
            ck_assert_float_eq(w.data[c][i] * 32768.0f, (float)lround(want * 32768.0));
        }
    }
    ck_assert_float_eq(w.data[0][0], 32767.0f / 32768.0f);
    ck_assert_float_eq(w.data[0][1], -1.0f);
    ck_assert_float_eq(w.data[0][4], 32767.0f / 32768.0f);
    ck_assert_float_eq(w.data[0][5], -1.0f);
    ck_assert_float_eq(w.data[0][6], 1.0f / 32768.0f);
    ck_assert_float_eq(w.data[0][7], 0.0f);
    wav_free(&w);
    free(bytes);
}
END_TEST

START_TEST(test_file_round_trip)
{
    fill_signal(3);
    char dir[] = "/tmp/check_wav_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/out.wav", dir);
    char err[300];
    ck_assert_int_eq(wav_write_file(path, chans, 3, FRAMES, 96000, WAV_F32, err, sizeof err), 0);
    WavData w;
    ck_assert_msg(wav_read_file(path, &w, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(w.channels, 3);
    ck_assert_int_eq(w.sample_rate, 96000);
    ck_assert(memcmp(w.data[2], chan_data[2], sizeof chan_data[2]) == 0);
    wav_free(&w);
    unlink(path);
    rmdir(dir);
    ck_assert_int_ne(wav_read_file(path, &w, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_int_ne(wav_write_file("/nonexistent-dir/x.wav", chans, 3, FRAMES, 96000, WAV_F32,
                                    err, sizeof err), 0);
}
END_TEST

START_TEST(test_write_rejects)
{
    fill_signal(1);
    unsigned char *bytes;
    size_t len;
    char err[200];
    ck_assert_int_ne(wav_write_memory(chans, 0, FRAMES, 48000, WAV_F32, &bytes, &len, err, sizeof err), 0);
    ck_assert_int_ne(wav_write_memory(chans, 9, FRAMES, 48000, WAV_F32, &bytes, &len, err, sizeof err), 0);
    ck_assert_int_ne(wav_write_memory(chans, 1, FRAMES, 0, WAV_F32, &bytes, &len, err, sizeof err), 0);
    ck_assert_int_ne(wav_write_memory(chans, 1, 2000000000L, 48000, WAV_F32, &bytes, &len, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "4 GiB"));
    /* Zero frames is a valid, empty file. */
    ck_assert_int_eq(wav_write_memory(chans, 1, 0, 48000, WAV_S16, &bytes, &len, err, sizeof err), 0);
    WavData w;
    ck_assert_int_eq(wav_read_memory(bytes, len, &w, err, sizeof err), 0);
    ck_assert_int_eq(w.frames, 0);
    wav_free(&w);
    free(bytes);
}
END_TEST

/* ---- other formats, built by hand ---------------------------------------- */

/* A WAV image with a fmt chunk of `fmt_len` bytes, a LIST chunk before it
 * (to skip), and `data_len` data bytes. */
static size_t build_wav(unsigned char *buf, const unsigned char *fmt, uint32_t fmt_len,
                        const unsigned char *data, uint32_t data_len)
{
    unsigned char *p = buf;
    memcpy(p, "RIFF", 4);
    memcpy(p + 8, "WAVE", 4);
    p += 12;
    memcpy(p, "LIST", 4);            /* an odd-sized chunk to skip, with its pad byte */
    put32(p + 4, 5);
    memcpy(p + 8, "INFOx", 5);
    p[13] = 0;
    p += 14;
    memcpy(p, "fmt ", 4);
    put32(p + 4, fmt_len);
    memcpy(p + 8, fmt, fmt_len);
    p += 8 + fmt_len;
    memcpy(p, "data", 4);
    put32(p + 4, data_len);
    memcpy(p + 8, data, data_len);
    p += 8 + data_len;
    put32(buf + 4, (uint32_t)(p - buf - 8));
    return (size_t)(p - buf);
}

static void make_fmt(unsigned char *fmt, unsigned code, unsigned channels, uint32_t rate, unsigned bits)
{
    put16(fmt, code);
    put16(fmt + 2, channels);
    put32(fmt + 4, rate);
    put32(fmt + 8, rate * channels * bits / 8);
    put16(fmt + 12, channels * bits / 8);
    put16(fmt + 14, bits);
}

static void make_extensible(unsigned char *fmt, unsigned sub, unsigned channels, unsigned bits)
{
    static const unsigned char tail[14] = { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00,
                                            0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 };
    make_fmt(fmt, 0xFFFE, channels, 48000, bits);
    put16(fmt + 16, 22);
    put16(fmt + 18, bits);
    put32(fmt + 20, 0x3);
    put16(fmt + 24, sub);
    memcpy(fmt + 26, tail, sizeof tail);
}

START_TEST(test_pcm24_extensible)
{
    unsigned char fmt[40], data[3 * 2 * 3], buf[256];
    make_extensible(fmt, 1, 2, 24);
    int32_t values[6] = { 0, 8388607, -8388608, 1, -1, 4194304 };
    for (int i = 0; i < 6; i++) {
        uint32_t u = (uint32_t)values[i];
        data[3 * i] = (unsigned char)u;
        data[3 * i + 1] = (unsigned char)(u >> 8);
        data[3 * i + 2] = (unsigned char)(u >> 16);
    }
    size_t len = build_wav(buf, fmt, 40, data, sizeof data);
    WavData w;
    char err[200];
    ck_assert_msg(wav_read_memory(buf, len, &w, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(w.channels, 2);
    ck_assert_int_eq(w.frames, 3);
    ck_assert_int_eq(w.source_bits, 24);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(w.data[i % 2][i / 2], (float)values[i] / 8388608.0f);
    wav_free(&w);
}
END_TEST

START_TEST(test_float_extensible_and_pcm32_and_8bit)
{
    unsigned char fmt[40], data[64], buf[256];
    char err[200];
    WavData w;

    make_extensible(fmt, 3, 1, 32);
    float f[3] = { 0.25f, -0.75f, 3.0f };
    for (int i = 0; i < 3; i++) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        put32(data + 4 * i, u);
    }
    size_t len = build_wav(buf, fmt, 40, data, 12);
    ck_assert_msg(wav_read_memory(buf, len, &w, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(w.frames, 3);
    ck_assert_float_eq(w.data[0][2], 3.0f);
    ck_assert_int_eq(w.source_float, 1);
    wav_free(&w);

    make_fmt(fmt, 1, 1, 22050, 32);
    put32(data, 0x40000000u);
    put32(data + 4, 0x80000000u);
    len = build_wav(buf, fmt, 16, data, 8);
    ck_assert_int_eq(wav_read_memory(buf, len, &w, err, sizeof err), 0);
    ck_assert_float_eq(w.data[0][0], 0.5f);
    ck_assert_float_eq(w.data[0][1], -1.0f);
    wav_free(&w);

    make_fmt(fmt, 1, 1, 8000, 8);
    data[0] = 128;
    data[1] = 0;
    data[2] = 192;
    len = build_wav(buf, fmt, 16, data, 3);
    ck_assert_int_eq(wav_read_memory(buf, len, &w, err, sizeof err), 0);
    ck_assert_int_eq(w.frames, 3);
    ck_assert_float_eq(w.data[0][0], 0.0f);
    ck_assert_float_eq(w.data[0][1], -1.0f);
    ck_assert_float_eq(w.data[0][2], 0.5f);
    wav_free(&w);
}
END_TEST

/* ---- malformed ------------------------------------------------------------ */

static void expect_error(const unsigned char *buf, size_t len, const char *words)
{
    WavData w;
    char err[200] = "";
    ck_assert_int_eq(wav_read_memory(buf, len, &w, err, sizeof err), -1);
    ck_assert_msg(strstr(err, words) != NULL, "error '%s' lacks '%s'", err, words);
    ck_assert_ptr_null(w.data);
}

START_TEST(test_malformed)
{
    unsigned char fmt[40], data[8] = { 0 }, buf[256];
    make_fmt(fmt, 1, 2, 48000, 16);
    size_t len = build_wav(buf, fmt, 16, data, 8);
    WavData w;
    char err[200];
    ck_assert_int_eq(wav_read_memory(buf, len, &w, err, sizeof err), 0);
    wav_free(&w);

    expect_error(buf, 0, "too short");
    expect_error(buf, 11, "too short");
    expect_error(NULL, 0, "too short");
    expect_error(buf, 20, "chunk 'LIST'");        /* truncated inside a chunk */
    expect_error(buf, 30, "no 'fmt ' chunk");     /* truncated right after LIST */
    unsigned char copy[256];

    memcpy(copy, buf, len);
    memcpy(copy, "RIFX", 4);
    expect_error(copy, len, "not a WAV");
    memcpy(copy, buf, len);
    memcpy(copy + 8, "AVI ", 4);
    expect_error(copy, len, "not WAVE");

    /* Huge sizes: the data chunk, then the fmt chunk. */
    memcpy(copy, buf, len);
    put32(copy + 12 + 14 + 8 + 16 + 4, 0xFFFFFFF0u);
    expect_error(copy, len, "claims 4294967280 bytes");
    memcpy(copy, buf, len);
    put32(copy + 12 + 14 + 4, 0x7FFFFFFFu);
    expect_error(copy, len, "chunk 'fmt '");

    make_fmt(fmt, 1, 0, 48000, 16);
    len = build_wav(copy, fmt, 16, data, 8);
    expect_error(copy, len, "zero channels");
    make_fmt(fmt, 1, 9, 48000, 16);
    len = build_wav(copy, fmt, 16, data, 8);
    expect_error(copy, len, "9 channels");
    make_fmt(fmt, 1, 1, 0, 16);
    len = build_wav(copy, fmt, 16, data, 8);
    expect_error(copy, len, "sample rate");
    make_fmt(fmt, 1, 1, 48000, 12);
    len = build_wav(copy, fmt, 16, data, 8);
    expect_error(copy, len, "12 bits");
    make_fmt(fmt, 2, 1, 48000, 16);               /* ADPCM */
    len = build_wav(copy, fmt, 16, data, 8);
    expect_error(copy, len, "0x0002");
    make_fmt(fmt, 1, 2, 48000, 16);
    put16(fmt + 12, 3);                           /* block align lies */
    len = build_wav(copy, fmt, 16, data, 8);
    expect_error(copy, len, "block align");
    make_fmt(fmt, 1, 2, 48000, 16);
    len = build_wav(copy, fmt, 14, data, 8);      /* fmt too short */
    expect_error(copy, len, "at least 16");
    make_extensible(fmt, 1, 2, 16);
    fmt[30] ^= 0xFF;                              /* wrong GUID */
    len = build_wav(copy, fmt, 40, data, 8);
    expect_error(copy, len, "GUID");
    make_extensible(fmt, 1, 2, 16);
    len = build_wav(copy, fmt, 24, data, 8);      /* extensible, cut short */
    expect_error(copy, len, "too short");
}
END_TEST

/* 20,000 mutations of a valid file (byte flips, random bytes, size fields
 * set to extremes, truncations) must each give a clean result or a clean
 * error: under Check's fork mode a crash fails the test. */
START_TEST(test_mutation_fuzz)
{
    fill_signal(2);
    unsigned char *valid;
    size_t len;
    char err[200];
    ck_assert_int_eq(wav_write_memory(chans, 2, 64, 48000, WAV_S16, &valid, &len, err, sizeof err), 0);
    unsigned char *buf = malloc(len);
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, valid, len);
        size_t n = len;
        int edits = 1 + (int)((seed >> 40) % 4);
        for (int e = 0; e < edits; e++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t r = (uint32_t)(seed >> 32);
            /* Half the edits hit the 52-byte header, half land anywhere. */
            if (n == 0)
                break;
            size_t at = (r & 1) ? r % 52 : r % n;
            if (at >= n)
                continue;
            switch ((r >> 8) % 5) {
            case 0: buf[at] ^= (unsigned char)(1u << (r % 8)); break;
            case 1: buf[at] = (unsigned char)(r >> 16); break;
            case 2: if (at + 4 <= n) put32(buf + at, 0xFFFFFFFFu - (r & 0xFF)); break;
            case 3: if (at + 2 <= n) put16(buf + at, r & 0xFFFF); break;
            case 4: n = at; break;                /* truncate */
            }
        }
        WavData w;
        if (wav_read_memory(buf, n, &w, err, sizeof err) == 0) {
            ck_assert(w.channels >= 1 && w.channels <= WAV_MAX_CHANNELS);
            ck_assert(w.frames >= 0 && (size_t)w.frames <= n);
            double sum = 0;
            for (int c = 0; c < w.channels; c++)
                for (long i = 0; i < w.frames; i++)
                    sum += w.data[c][i];
            (void)sum;
            wav_free(&w);
            accepted++;
        } else {
            ck_assert(err[0] != '\0');
            rejected++;
        }
    }
    ck_assert_int_gt(accepted, 100);
    ck_assert_int_gt(rejected, 100);
    free(buf);
    free(valid);
}
END_TEST

static Suite *wav_suite(void)
{
    Suite *s = suite_create("wav");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_f32_round_trip_exact);
    tcase_add_test(core, test_s16_round_trip);
    tcase_add_test(core, test_file_round_trip);
    tcase_add_test(core, test_write_rejects);
    tcase_add_test(core, test_pcm24_extensible);
    tcase_add_test(core, test_float_extensible_and_pcm32_and_8bit);
    suite_add_tcase(s, core);
    TCase *bad = tcase_create("malformed");
    tcase_add_test(bad, test_malformed);
    tcase_add_test(bad, test_mutation_fuzz);
    tcase_set_timeout(bad, 60);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    return testutil_run(wav_suite());
}
