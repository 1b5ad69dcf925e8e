/* check_resolve.c — resolving a project without files, as engine.wasm
 * does, and the render formats the browser's export shares with `amp
 * render`.
 *
 *   "builtin"   {"builtin": "epiano.amp", "unit"?}: the reader's checks of
 *               the id, the loader's load_builtin (asked once per (id,
 *               unit)), and the refusal of a loader without one
 *   "audio"     the loader's read_audio: by asset hash and by file, the
 *               same samples as the file read; "read it yourself" and
 *               errors at the region's field
 *   "formats"   24-bit and TPDF-dithered 16-bit WAV: values, the dither's
 *               generator as documented in wav.h, determinism
 *   "stems"     project_mix with one track soloed, for every track: the
 *               stems add up to the mix
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "patch_loader.h"
#include "project_feed.h"
#include "project_read.h"
#include "project_render.h"
#include "project_resolve.h"
#include "testutil.h"
#include "wav.h"

#define HASH "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"

static void expect_load_error(const char *json, const char *want)
{
    Project p;
    char err[2048] = "";
    int rc = project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err);
    ck_assert_msg(rc == -1, "accepted: %s", json);
    ck_assert_msg(strstr(err, want) != NULL, "for %s\n  got:  %s\n  want: %s", json, err, want);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s (run from the repository root)", path);
    unsigned char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    return buf;
}

/* ---- builtin ---------------------------------------------------------------------- */

typedef struct BuiltinCalls {
    int calls;
    char ids[4][64];
    int unit_named[4];
} BuiltinCalls;

/* nodes/ is the built-in library here. */
static const AmpPatchDesc *builtin_from_nodes(void *user, const char *id, const char *unit, char *err, size_t errlen)
{
    BuiltinCalls *b = user;
    if (b->calls < 4) {
        snprintf(b->ids[b->calls], sizeof b->ids[0], "%s", id);
        b->unit_named[b->calls] = unit != NULL;
    }
    b->calls++;
    char path[300];
    snprintf(path, sizeof path, "nodes/%s", id);
    return patch_loader_compile(NULL, path, unit, err, errlen);
}

START_TEST(test_builtin_patches)
{
    static const char json[] =
        "{\"version\": 1, \"length_beats\": 1, \"tracks\": ["
        "{\"id\": 1, \"kind\": \"instrument\", \"patch\": {\"builtin\": \"pad.amp\"}, \"params\": {\"cutoff\": 900},"
        " \"inserts\": [{\"patch\": {\"builtin\": \"stereo_delay.amp\", \"unit\": \"stereo_delay\"}}]},"
        "{\"id\": 2, \"kind\": \"instrument\", \"patch\": {\"builtin\": \"pad.amp\"}},"
        "{\"id\": 3, \"kind\": \"instrument\", \"patch\": {\"builtin\": \"pad.amp\", \"unit\": \"pad\"}}]}";
    Project p;
    char err[8192];
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(p.tracks[0].patch.builtin, "pad.amp");
    ck_assert_ptr_null(p.tracks[0].patch.file);
    ck_assert_ptr_null(p.tracks[0].patch.library);
    ck_assert_ptr_null(p.tracks[0].patch.unit);
    ck_assert_str_eq(p.tracks[0].inserts[0].unit, "stereo_delay");

    /* A loader without a built-in library refuses, at the field. */
    ProjectPatchLoader plain = patch_loader_native(NULL);
    ck_assert_int_eq(project_resolve(&p, &plain, 0, err, sizeof err), -1);
    ck_assert_str_eq(err, "tracks[0].patch: built-in patch 'pad.amp': this loader has no built-in library");
    project_free(&p);

    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    BuiltinCalls calls = { 0 };
    ProjectPatchLoader loader = patch_loader_native(NULL);
    loader.load_builtin = builtin_from_nodes;
    loader.user = &calls;
    ck_assert_msg(project_resolve(&p, &loader, 0, err, sizeof err) == 0, "%s", err);
    /* (pad, default), (stereo_delay, named), (pad, named): once each */
    ck_assert_int_eq(calls.calls, 3);
    ck_assert_str_eq(calls.ids[0], "pad.amp");
    ck_assert_int_eq(calls.unit_named[0], 0);
    ck_assert_str_eq(calls.ids[1], "stereo_delay.amp");
    ck_assert_ptr_eq(p.tracks[0].patch.desc, p.tracks[1].patch.desc);
    ck_assert_str_eq(p.tracks[2].patch.desc->name, "pad");
    ck_assert_str_eq(p.tracks[0].inserts[0].desc->name, "stereo_delay");
    ck_assert_int_ge(p.tracks[0].patch.params[0].index, 0);
    project_free(&p);
}
END_TEST

START_TEST(test_builtin_ids_checked)
{
    static const char *const bad[] = { "../pad.amp", ".hidden/pad.amp", "nodes//pad.amp", "/pad.amp", "pad.dsp",
                                       "pad", ".amp", "std/.amp", "pa d.amp", "pad.amp/", "std/./osc.amp" };
    char json[1024];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(json, sizeof json,
                 "{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": {\"builtin\": \"%s\"}}]}",
                 bad[i]);
        expect_load_error(json, "tracks[0].patch.builtin: expected a path in the built-in library such as "
                                "\"epiano.amp\"");
        ck_assert(!project_builtin_id_valid(bad[i]));
    }
    ck_assert(project_builtin_id_valid("epiano.amp"));
    ck_assert(project_builtin_id_valid("std/osc.amp"));
    ck_assert(project_builtin_id_valid("a-b_c+d.e.amp"));
    char longest[PROJECT_BUILTIN_ID_MAX + 2];
    memset(longest, 'a', sizeof longest);
    memcpy(longest + PROJECT_BUILTIN_ID_MAX - 4, ".amp", 5);
    ck_assert(project_builtin_id_valid(longest));
    memset(longest, 'a', sizeof longest);
    memcpy(longest + PROJECT_BUILTIN_ID_MAX - 3, ".amp", 5);
    ck_assert(!project_builtin_id_valid(longest));
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                      "{\"builtin\": \"pad.amp\", \"file\": \"x.amp\"}}]}",
                      "tracks[0].patch: unknown field \"file\" (known: builtin, unit)");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                      "{\"builtin\": \"pad.amp\", \"unit\": \"\"}}]}",
                      "tracks[0].patch.unit: expected a non-empty string");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": 5}]}",
                      "tracks[0].patch: expected a file name, {\"file\", \"unit\"} or {\"library\", \"revision\", "
                      "\"unit\"} (or {\"builtin\", \"unit\"}), got 5");
}
END_TEST

/* ---- audio ------------------------------------------------------------------------------ */

typedef struct AudioHook {
    const unsigned char *bytes;
    size_t len;
    int calls, mode;                    /* mode: 0 give the bytes, 1 "read it yourself", -1 refuse */
    char paths[4][128], assets[4][80];
} AudioHook;

static int give_audio(void *user, const char *path, const char *asset, const unsigned char **bytes, size_t *len,
                      char *err, size_t errlen)
{
    AudioHook *h = user;
    if (h->calls < 4) {
        snprintf(h->paths[h->calls], sizeof h->paths[0], "%s", path);
        snprintf(h->assets[h->calls], sizeof h->assets[0], "%s", asset ? asset : "-");
    }
    h->calls++;
    if (h->mode < 0) {
        snprintf(err, errlen, "nothing for %s", asset ? asset : path);
        return -1;
    }
    if (h->mode > 0)
        return 1;
    *bytes = h->bytes;
    *len = h->len;
    return 0;
}

START_TEST(test_audio_from_memory)
{
    static const char json[] =
        "{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": ["
        "{\"asset\": \"" HASH "\", \"start_beat\": 0},"
        "{\"file\": \"tests/projects/hats.wav\", \"start_beat\": 1},"
        "{\"asset\": \"" HASH "\", \"start_beat\": 2}]}]}";
    size_t len;
    unsigned char *hats = read_file("tests/projects/hats.wav", &len);
    AudioHook hook = { .bytes = hats, .len = len };
    ProjectPatchLoader loader = patch_loader_native(NULL);
    loader.read_audio = give_audio;
    loader.user = &hook;
    Project p;
    char err[2048];
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(p.tracks[0].regions[0].asset, HASH);
    ck_assert_str_eq(p.tracks[0].regions[0].file, "assets/3a/" HASH);
    ck_assert_ptr_null(p.tracks[0].regions[1].asset);
    ck_assert_msg(project_resolve(&p, &loader, 48000, err, sizeof err) == 0, "%s", err);
    /* two files: the asset asked for once, the path once */
    ck_assert_int_eq(hook.calls, 2);
    ck_assert_str_eq(hook.assets[0], HASH);
    ck_assert_str_eq(hook.paths[0], "assets/3a/" HASH);
    ck_assert_str_eq(hook.assets[1], "-");
    ck_assert_str_eq(hook.paths[1], "tests/projects/hats.wav");
    ck_assert_int_eq(p.n_samples, 2);
    ck_assert_int_eq(p.tracks[0].regions[2].sample, 0);

    /* The same samples as the file read natively. */
    static const char from_file[] =
        "{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": ["
        "{\"file\": \"tests/projects/hats.wav\", \"start_beat\": 0}]}]}";
    Project q;
    ck_assert_msg(project_load_text(from_file, strlen(from_file), "t.json", ".", &q, err, sizeof err) == 0, "%s", err);
    ProjectPatchLoader files = patch_loader_native(NULL);
    ck_assert_msg(project_resolve(&q, &files, 48000, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(q.samples[0].frames, p.samples[0].frames);
    for (int ch = 0; ch < 2; ch++)
        ck_assert(memcmp(q.samples[0].data[ch], p.samples[0].data[ch], (size_t)q.samples[0].frames * 4) == 0);
    project_free(&q);
    project_free(&p);

    /* "Read it yourself": the file is read after all (the asset's is not
     * there). */
    hook = (AudioHook){ .mode = 1 };
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(project_resolve(&p, &loader, 48000, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "tracks[0].regions[0].file: assets/3a/" HASH ": ") == err, "%s", err);
    project_free(&p);

    /* The hook's refusal, and bytes that are not a WAV file, at the field. */
    hook = (AudioHook){ .mode = -1 };
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(project_resolve(&p, &loader, 48000, err, sizeof err), -1);
    ck_assert_str_eq(err, "tracks[0].regions[0].file: nothing for " HASH);
    project_free(&p);
    hook = (AudioHook){ .bytes = (const unsigned char *)"RIFF....", .len = 8 };
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(project_resolve(&p, &loader, 48000, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "tracks[0].regions[0].file: ") == err, "%s", err);
    project_free(&p);
    free(hats);
}
END_TEST

/* ---- formats ---------------------------------------------------------------------------- */

static int32_t sample_at(const unsigned char *wav, size_t data, int bytes, long i)
{
    const unsigned char *s = wav + data + (size_t)i * (size_t)bytes;
    int32_t v = bytes == 2 ? (int16_t)(s[0] | s[1] << 8) : (int32_t)((uint32_t)(s[0] | s[1] << 8 | s[2] << 16) << 8) >> 8;
    return v;
}

/* The data chunk's offset in a WAV image. */
static size_t data_offset(const unsigned char *wav, size_t len)
{
    for (size_t i = 12; i + 8 <= len; i++)
        if (!memcmp(wav + i, "data", 4))
            return i + 8;
    return 0;
}

/* wav.h's generator, written again from its description. */
static uint32_t doc_state;
static uint32_t doc_next(void)
{
    doc_state ^= doc_state << 13;
    doc_state ^= doc_state >> 17;
    doc_state ^= doc_state << 5;
    return doc_state;
}

START_TEST(test_s24_and_dithered_s16)
{
    enum { N = 4096 };
    static float l[N], r[N];
    for (int i = 0; i < N; i++) {
        l[i] = (float)(0.7 * sin(i * 0.01));
        r[i] = i < N / 2 ? 0.0f : (float)(i - N / 2) / (N / 2) * 2.0f - 1.0f;
    }
    l[0] = 1.5f;                        /* clipped */
    l[1] = -1.5f;
    const float *chans[2] = { l, r };
    unsigned char *wav, *again;
    size_t len, len2;
    char err[256];

    ck_assert(wav_write_memory(chans, 2, N, 48000, WAV_S24, &wav, &len, err, sizeof err) == 0);
    size_t data = data_offset(wav, len);
    ck_assert_int_eq(len - data, (size_t)N * 2 * 3);
    ck_assert_int_eq(sample_at(wav, data, 3, 0), 8388607);
    ck_assert_int_eq(sample_at(wav, data, 3, 2), -8388608);
    for (long i = 2; i < N; i++) {
        double want = floor(fabs((double)l[i]) * 8388608.0 + 0.5) * (l[i] < 0 ? -1 : 1);
        ck_assert_msg(sample_at(wav, data, 3, 2 * i) == (int32_t)want, "frame %ld", i);
    }
    WavData back;
    ck_assert(wav_read_memory(wav, len, &back, err, sizeof err) == 0);
    ck_assert_int_eq(back.source_bits, 24);
    ck_assert(fabs(back.data[0][100] - l[100]) <= 0.5 / 8388608.0);
    wav_free(&back);
    free(wav);

    /* Mono with an odd frame count: the pad byte. */
    ck_assert(wav_write_memory(chans, 1, 3, 48000, WAV_S24, &wav, &len, err, sizeof err) == 0);
    ck_assert_int_eq(len % 2, 0);
    ck_assert(wav_read_memory(wav, len, &back, err, sizeof err) == 0);
    ck_assert_int_eq(back.frames, 3);
    wav_free(&back);
    free(wav);

    ck_assert(wav_write_memory(chans, 2, N, 48000, WAV_S16_TPDF, &wav, &len, err, sizeof err) == 0);
    ck_assert(wav_write_memory(chans, 2, N, 48000, WAV_S16_TPDF, &again, &len2, err, sizeof err) == 0);
    ck_assert(len == len2 && memcmp(wav, again, len) == 0);     /* seeded: the same bits each time */
    data = data_offset(wav, len);
    doc_state = WAV_DITHER_SEED;
    long differs = 0, silent_nonzero = 0;
    double sum = 0;
    for (long i = 0; i < N; i++) {
        for (int c = 0; c < 2; c++) {
            float x = chans[c][i];
            double u1 = doc_next(), u2 = doc_next();
            double v = (double)x * 32768.0 + (u1 - u2) / 4294967296.0;
            double want = v < 0 ? ceil(v - 0.5) : floor(v + 0.5);
            want = want > 32767 ? 32767 : want < -32768 ? -32768 : want;
            int32_t got = sample_at(wav, data, 2, 2 * i + c);
            ck_assert_msg(got == (int32_t)want, "frame %ld channel %d: %d, want %g", i, c, got, want);
            double plain = floor(fabs((double)x) * 32768.0 + 0.5) * (x < 0 ? -1 : 1);
            if (fabs(plain) < 32767)
                ck_assert(fabs(got - plain) <= 1);     /* at most one LSB from the undithered value */
            differs += got != (int32_t)plain;
            if (c == 1 && i < N / 2) {
                silent_nonzero += got != 0;
                sum += got;
            }
        }
    }
    /* Silence becomes +-1 LSB noise, zero on average. */
    ck_assert(silent_nonzero > N / 2 / 5 && silent_nonzero < N / 2 * 3 / 10);   /* P(|d| > 0.5) = 1/4 */
    ck_assert(fabs(sum) < 0.1 * silent_nonzero);
    ck_assert(differs > N / 4);
    printf("dither: %ld of %d samples moved by one LSB, silence %ld of %d nonzero\n", differs, 2 * N, silent_nonzero,
           N / 2);
    free(wav);
    free(again);
}
END_TEST

/* ---- stems ------------------------------------------------------------------------------- */

START_TEST(test_stems_add_up_to_the_mix)
{
    Project p;
    char err[8192];
    ck_assert_msg(project_load_file("tests/projects/demo.json", &p, err, sizeof err) == 0, "%s", err);
    ProjectPatchLoader loader = patch_loader_native(NULL);
    ck_assert_msg(project_resolve(&p, &loader, 0, err, sizeof err) == 0, "%s", err);
    ProjectMix mix;
    ck_assert_msg(project_mix_begin(&mix, &p, 0, -1, err, sizeof err) == 0, "%s", err);
    /* In steps of 10 blocks, as the export worker renders. */
    while (project_mix_step(&mix, 10 * PROJECT_BLOCK, NULL, NULL) < mix.frames)
        ;
    double *sum[2] = { calloc((size_t)mix.frames, sizeof(double)), calloc((size_t)mix.frames, sizeof(double)) };
    int stems = 0;
    for (int t = 0; t < p.n_tracks; t++) {
        if (p.tracks[t].kind == ENGINE_TRACK_BUS)
            continue;
        ProjectMix stem;
        ck_assert_msg(project_mix_begin(&stem, &p, 0, t, err, sizeof err) == 0, "%s", err);
        project_mix_step(&stem, stem.frames, NULL, NULL);
        ck_assert_int_eq(stem.frames, mix.frames);
        double peak = 0;
        for (long i = 0; i < stem.frames; i++) {
            sum[0][i] += stem.left[i];
            sum[1][i] += stem.right[i];
            peak = fmax(peak, fabs(stem.left[i]));
        }
        ck_assert_msg(peak > 0.01, "the stem of track %d is silent", t);
        ck_assert_int_eq(p.tracks[t].solo, 0);  /* restored */
        project_mix_free(&stem);
        stems++;
    }
    double worst = 0;
    for (long i = 0; i < mix.frames; i++) {
        worst = fmax(worst, fabs(sum[0][i] - mix.left[i]));
        worst = fmax(worst, fabs(sum[1][i] - mix.right[i]));
    }
    printf("stems: %d, their sum differs from the mix by at most %.3g (%.1f dBFS)\n", stems, worst,
           20 * log10(worst));
    ck_assert_int_eq(stems, 5);
    ck_assert(worst < 1e-5);
    ck_assert_int_eq(project_mix_begin(&mix, &p, 0, 6, err, sizeof err), -1);
    ck_assert_str_eq(err, "no track 6 to render a stem of (6 tracks)");
    free(sum[0]);
    free(sum[1]);
    project_free(&p);
}
END_TEST

static Suite *resolve_suite(void)
{
    Suite *s = suite_create("resolve");
    TCase *tc = tcase_create("builtin");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_builtin_patches);
    tcase_add_test(tc, test_builtin_ids_checked);
    suite_add_tcase(s, tc);
    tc = tcase_create("audio");
    tcase_add_test(tc, test_audio_from_memory);
    suite_add_tcase(s, tc);
    tc = tcase_create("formats");
    tcase_add_test(tc, test_s24_and_dithered_s16);
    suite_add_tcase(s, tc);
    tc = tcase_create("stems");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_stems_add_up_to_the_mix);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = testutil_run(resolve_suite());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_resolve: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    return rc;
}
