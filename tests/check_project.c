/* check_project.c — the JSON project format (runtime/formats/project_read.c,
 * project_resolve.c, project_feed.c, project_render.c) and
 * `amp render PROJECT.json`: the demo project renders to its golden
 * fingerprint with no allocation while rendering; malformed documents and
 * unresolvable references give messages that name the JSON path; patches
 * come from the caller's loader (the native one, patch_loader.c, here).
 *
 * The golden file, tests/golden/demo_mix.txt, holds a fingerprint instead of
 * the audio: the frame count, FNV-1a 64 of every sample's float bits
 * (left, right, frame by frame) and the RMS of each channel over each 50 ms
 * window with 6 decimals. The hash must match exactly (the runtime's math
 * kernels make renders bit-identical across compilers); the RMS lines show
 * where a difference is when it does not. AMP_GOLDEN_UPDATE=1 rewrites the
 * file (`make demo-golden-update`).
 *
 * Tests run from the repository root; patches are built in $AMP_CACHE or,
 * when that is unset, in a temporary cache removed at the end.
 */
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc_count.h"
#include "engine.h"
#include "patch_loader.h"
#include "project_feed.h"
#include "project_read.h"
#include "project_render.h"
#include "project_resolve.h"
#include "testutil.h"
#include "wav.h"

#define DEMO "tests/projects/demo.json"
#define GOLDEN "tests/golden/demo_mix.txt"
#define WINDOW 2400                /* 50 ms at 48 kHz */
#define RMS_TOLERANCE 1.5e-6       /* the file keeps 6 decimals */

static char tmp_dir[64];           /* scratch files of this run */
static char amp_bin[512];          /* build/amp beside build/tests/ */

/* ---- fingerprints ------------------------------------------------------------- */

typedef struct Fingerprint {
    long frames;
    int rate;
    uint64_t hash;
    double peak[2];
    int windows;
    double *rms[2];
} Fingerprint;

static void fingerprint_of(const float *l, const float *r, long frames, int rate, Fingerprint *f)
{
    memset(f, 0, sizeof *f);
    f->frames = frames;
    f->rate = rate;
    f->windows = (int)((frames + WINDOW - 1) / WINDOW);
    uint64_t h = 0xcbf29ce484222325u;
    const float *ch[2] = { l, r };
    for (long i = 0; i < frames; i++) {
        for (int c = 0; c < 2; c++) {
            uint32_t bits;
            memcpy(&bits, &ch[c][i], 4);
            for (int b = 0; b < 4; b++) {
                h ^= (bits >> (8 * b)) & 0xffu;
                h *= 0x100000001b3u;
            }
        }
    }
    f->hash = h;
    for (int c = 0; c < 2; c++) {
        f->rms[c] = calloc((size_t)f->windows + 1, sizeof(double));
        for (int w = 0; w < f->windows; w++) {
            long from = (long)w * WINDOW, to = from + WINDOW < frames ? from + WINDOW : frames;
            double sq = 0.0;
            for (long i = from; i < to; i++) {
                sq += (double)ch[c][i] * ch[c][i];
                if (fabs(ch[c][i]) > f->peak[c])
                    f->peak[c] = fabs(ch[c][i]);
            }
            f->rms[c][w] = sqrt(sq / (double)(to - from));
        }
    }
}

static void fingerprint_free(Fingerprint *f)
{
    free(f->rms[0]);
    free(f->rms[1]);
}

static int fingerprint_write(const char *path, const Fingerprint *f)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    fprintf(fp, "# demo_mix.txt — fingerprint of tests/projects/demo.json rendered by\n"
                "# tests/check_project.c (project_render: blocks of 128 at the project's rate).\n"
                "# hash: FNV-1a 64 of every sample's float bits, left then right, frame by\n"
                "# frame; then the RMS of each channel over each 50 ms window. Rewrite with\n"
                "# `make demo-golden-update` after an intended change, and review the diff.\n");
    fprintf(fp, "frames %ld\nrate %d\nhash %016llx\npeak %.6f %.6f\nwindow %d\n", f->frames, f->rate,
            (unsigned long long)f->hash, f->peak[0], f->peak[1], WINDOW);
    fprintf(fp, "# window rms_left rms_right\n");
    for (int w = 0; w < f->windows; w++)
        fprintf(fp, "%d %.6f %.6f\n", w, f->rms[0][w], f->rms[1][w]);
    return fclose(fp);
}

static int fingerprint_read(const char *path, Fingerprint *f)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char line[256];
    int window = 0, ok = 1;
    unsigned long long hash = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#')
            continue;
        int w;
        double a, b;
        if (sscanf(line, "frames %ld", &f->frames) == 1) {
            f->windows = (int)((f->frames + WINDOW - 1) / WINDOW);
            f->rms[0] = calloc((size_t)f->windows + 1, sizeof(double));
            f->rms[1] = calloc((size_t)f->windows + 1, sizeof(double));
        } else if (sscanf(line, "rate %d", &f->rate) == 1) {
        } else if (sscanf(line, "hash %llx", &hash) == 1) {
            f->hash = hash;
        } else if (sscanf(line, "peak %lf %lf", &f->peak[0], &f->peak[1]) == 2) {
        } else if (sscanf(line, "window %d", &window) == 1) {
        } else if (sscanf(line, "%d %lf %lf", &w, &a, &b) == 3 && f->rms[0] && w >= 0 && w < f->windows) {
            f->rms[0][w] = a;
            f->rms[1][w] = b;
        } else {
            ok = 0;
        }
    }
    fclose(fp);
    return ok && window == WINDOW && f->rms[0] ? 0 : -1;
}

/* ---- helpers -------------------------------------------------------------------- */

/* Patches compiled from their files, as `amp` does. */
static const ProjectPatchLoader *native_loader(void)
{
    static ProjectPatchLoader loader;
    loader = patch_loader_native(NULL);
    return &loader;
}

static void load_resolve(const char *path, Project *p)
{
    static char err[16384];
    ck_assert_msg(project_load_file(path, p, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(project_resolve(p, native_loader(), 0, err, sizeof err) == 0, "%s", err);
}

static Engine *engine_for(const Project *p)
{
    char err[512];
    EngineConfig cfg;
    project_engine_config(p, &cfg);
    Engine *e = engine_init(&cfg, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    ck_assert_msg(project_feed(p, e, err, sizeof err) == 0, "%s", err);
    return e;
}

/* project_load_text must fail with a message containing `want`. */
static void expect_load_error(const char *json, const char *want)
{
    Project p;
    char err[2048] = "";
    int rc = project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err);
    ck_assert_msg(rc == -1, "accepted: %s", json);
    ck_assert_msg(strstr(err, want) != NULL, "for %s\n  got:  %s\n  want: %s", json, err, want);
}

/* Loads, but project_resolve fails with `want`. */
static void expect_resolve_error(const char *json, const char *want)
{
    Project p;
    char err[8192] = "";
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    int rc = project_resolve(&p, native_loader(), 0, err, sizeof err);
    ck_assert_msg(rc == -1, "resolved: %s", json);
    ck_assert_msg(strstr(err, want) != NULL, "for %s\n  got:  %s\n  want: %s", json, err, want);
    project_free(&p);
}

/* ---- the demo -------------------------------------------------------------------- */

START_TEST(test_demo_matches_golden)
{
    Project p;
    load_resolve(DEMO, &p);
    ck_assert_int_eq(p.n_tracks, 6);
    ck_assert_int_eq(p.render_rate, 48000);
    Engine *e = engine_for(&p);
    long frames = (long)project_frames(&p);
    /* 8 beats at 120 bpm, 8 at 124, then the 2 s tail */
    ck_assert_int_eq(frames, llround((4.0 + 8 * 60.0 / 124.0 + 2.0) * 48000));
    float *l = calloc((size_t)frames, sizeof(float)), *r = calloc((size_t)frames, sizeof(float));
    ck_assert(l && r);
    int faults = 0;
    if (ALLOC_COUNTING)
        ck_assert_int_eq(alloc_count_probe(), 2);     /* the counter works */
    alloc_calls = 0;
    alloc_counting = 1;
    project_render(e, l, r, frames, NULL, NULL, &faults);
    alloc_counting = 0;
    if (ALLOC_COUNTING)
        ck_assert_msg(alloc_calls == 0, "%ld allocation calls while rendering", alloc_calls);
    ck_assert_int_eq(faults, 0);

    EngineState st;
    engine_state_read(engine_state(e), &st);
    ck_assert_int_eq(st.now, frames);
    ck_assert_uint_eq(st.playing, 0);                  /* stopped at length_beats */
    ck_assert(fabs(st.beat - 16.0) < 124.0 / 60.0 / 48000.0);   /* within a sample */
    ck_assert(st.tempo == 124.0);
    ck_assert_uint_eq(st.commands_refused + st.commands_failed + st.events_dropped, 0);
    for (int t = 0; t < p.n_tracks; t++)
        ck_assert_uint_eq(st.tracks[t].notes_refused, 0);

    Fingerprint got, want;
    fingerprint_of(l, r, frames, p.render_rate, &got);
    printf("demo: %ld frames, peak %.4f / %.4f, hash %016llx, allocations while rendering: %ld\n", frames,
           got.peak[0], got.peak[1], (unsigned long long)got.hash, ALLOC_COUNTING ? alloc_calls : -1L);
    /* Every track is heard somewhere. */
    ck_assert(got.peak[0] > 0.05 && got.peak[1] > 0.05 && got.peak[0] < 1.0 && got.peak[1] < 1.0);

    if (getenv("AMP_GOLDEN_UPDATE")) {
        ck_assert_msg(fingerprint_write(GOLDEN, &got) == 0, "cannot write %s", GOLDEN);
        printf("rewrote %s\n", GOLDEN);
    } else {
        ck_assert_msg(fingerprint_read(GOLDEN, &want) == 0, "cannot read %s (run from the repository root)", GOLDEN);
        ck_assert_int_eq(got.frames, want.frames);
        ck_assert_int_eq(got.rate, want.rate);
        int first_bad = -1;
        double worst = 0.0;
        for (int w = 0; w < got.windows; w++)
            for (int c = 0; c < 2; c++) {
                double d = fabs(got.rms[c][w] - want.rms[c][w]);
                if (d > worst)
                    worst = d;
                if (d > RMS_TOLERANCE && first_bad < 0)
                    first_bad = w;
            }
        ck_assert_msg(first_bad < 0, "RMS differs from the golden file from window %d (%.3f s) on, by up to %g",
                      first_bad, first_bad * 0.05, worst);
        ck_assert_msg(got.hash == want.hash, "samples differ from the golden render (hash %016llx, want %016llx) "
                      "although every 50 ms RMS is within %g", (unsigned long long)got.hash,
                      (unsigned long long)want.hash, RMS_TOLERANCE);
        fingerprint_free(&want);
    }
    fingerprint_free(&got);
    free(l);
    free(r);
    engine_free(e);
    project_free(&p);
}
END_TEST

/* The parts of the demo, each soloed, all make sound: the pieces of the
 * mix (instruments, audio track, bus) are really there. */
START_TEST(test_demo_tracks_all_sound)
{
    Project p;
    load_resolve(DEMO, &p);
    Engine *e = engine_for(&p);
    long frames = (long)project_frames(&p);
    float *l = calloc((size_t)frames, sizeof(float)), *r = calloc((size_t)frames, sizeof(float));
    float peak_track[ENGINE_MAX_TRACKS] = { 0 };
    for (long done = 0; done < frames; done += 4800) {
        int n = frames - done < 4800 ? (int)(frames - done) : 4800;
        float *out[2] = { l + done, r + done };
        engine_render(e, out, n);
        engine_drain(e, NULL, NULL);
        EngineState st;
        engine_state_read(engine_state(e), &st);
        for (int t = 0; t < p.n_tracks; t++)
            peak_track[t] = fmaxf(peak_track[t], fmaxf(st.tracks[t].meter.peak[0], st.tracks[t].meter.peak[1]));
    }
    for (int t = 0; t < p.n_tracks; t++) {
        printf("demo track %d (%s): peak %.1f dBFS\n", t, p.tracks[t].name, 20 * log10(peak_track[t]));
        ck_assert_msg(peak_track[t] > 0.01f, "track %d (%s) is silent", t, p.tracks[t].name);
    }
    free(l);
    free(r);
    engine_free(e);
    project_free(&p);
}
END_TEST

/* ---- validation ------------------------------------------------------------------- */

START_TEST(test_load_errors_name_the_field)
{
    expect_load_error("{\"version\": 1, \"tracks\": [}", "t.json:1:");
    expect_load_error("{\"tracks\": []}", "project: missing \"version\"");
    expect_load_error("{\"version\": 3, \"tracks\": []}",
                      "version: version 3 is not supported (this build reads versions 1 to 2; it was written by a "
                      "newer Amplitude)");
    expect_load_error("{\"version\": 0, \"tracks\": []}", "version: version 0 is not supported");
    expect_load_error("{\"version\": 1}", "project: missing \"tracks\"");
    expect_load_error("{\"version\": 1, \"tracks\": [], \"tempo\": 0}", "tempo: 0 is out of range (1 to 1000)");
    expect_load_error("{\"version\": 1, \"tracks\": [], \"tempo\": \"fast\"}", "tempo: expected a number, got \"fast\"");
    expect_load_error("{\"version\": 1, \"tracks\": [], \"tempo_\": 1}", "project: unknown field \"tempo_\"");
    expect_load_error("{\"version\": 1, \"tracks\": [], \"time_signature\": [4, 3]}", "time_signature: 4/3");
    expect_load_error("{\"version\": 1, \"tracks\": [], \"loop\": {\"enabled\": true, \"start_beat\": 4, \"end_beat\": 2}}",
                      "loop.end_beat: 2 must be after start_beat 4");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"synth\"}]}",
                      "tracks[0].kind: expected \"instrument\", \"audio\" or \"bus\", got \"synth\"");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"kind\": \"bus\"}]}", "tracks[0]: missing \"id\"");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\"}]}",
                      "tracks[0]: missing \"patch\"");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"fader\": {\"gian_db\": 1}}]}",
                      "tracks[0].fader: unknown field \"gian_db\" (known: gain_db, pan, mute, solo)");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"fader\": {\"pan\": 2}}]}",
                      "tracks[0].fader.pan: 2 is out of range (-1 to 1)");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"fader\": {\"mute\": 1}}]}",
                      "tracks[0].fader.mute: expected true or false, got 1");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"a.amp\","
                      " \"clips\": [{\"start_beat\": 0, \"length_beats\": 4, \"notes\": [{\"key\": 60, \"start_beat\": 0,"
                      " \"length_beats\": 1}, {\"key\": 200, \"start_beat\": 1, \"length_beats\": 1}]}]}]}",
                      "tracks[0].clips[0].notes[1].key: 200 is out of range (0 to 127)");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"a.amp\","
                      " \"clips\": [{\"start_beat\": 0, \"length_beats\": 4, \"notes\": [{\"key\": 60, \"start_beat\": 0,"
                      " \"length_beats\": 1, \"velocity\": 1.5}]}]}]}",
                      "tracks[0].clips[0].notes[0].velocity: 1.5 is out of range (0 to 1)");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"a.amp\","
                      " \"voice_mode\": \"duo\"}]}",
                      "tracks[0].voice_mode: expected \"poly\", \"mono\" or \"legato\", got \"duo\"");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"clips\": []}]}",
                      "tracks[0]: \"clips\" belongs to instrument tracks, this one is audio");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"regions\": []}]}",
                      "tracks[0]: \"regions\" belongs to audio tracks, this one is bus");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": [{\"file\": \"a.wav\"}]}]}",
                      "tracks[0].regions[0]: missing \"start_beat\"");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\"}, {\"id\": 1, \"kind\": \"bus\"}]}",
                      "tracks[1].id: 1 is also the id of tracks[0]");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"sends\": [{\"bus\": 2}]},"
                      " {\"id\": 2, \"kind\": \"audio\"}]}",
                      "tracks[0].sends[0].bus: track 2 is not a bus");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"sends\": [{\"bus\": 7}]}]}",
                      "tracks[0].sends[0].bus: no track has id 7");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\"}, {\"id\": 2, \"kind\": \"bus\","
                      " \"sends\": [{\"bus\": 1}]}]}",
                      "tracks[1].sends[0].bus: a bus sends only to buses listed after it");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"automation\": [{\"target\":"
                      " {\"slot\": 1, \"param\": \"mix\"}, \"points\": [{\"beat\": 2, \"value\": 0}, {\"beat\": 1,"
                      " \"value\": 1}]}]}]}",
                      "tracks[0].automation[0].points[1].beat: 1 comes before the previous point's 2");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"automation\": [{\"target\":"
                      " {\"slot\": 1}, \"points\": []}]}]}",
                      "tracks[0].automation[0].target: missing \"param\"");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"automation\": [{\"target\":"
                      " {\"fader\": \"volume\"}, \"points\": [{\"beat\": 0, \"value\": 0}]}]}]}",
                      "tracks[0].automation[0].target.fader: ");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"automation\": [{\"target\":"
                      " {\"fader\": \"pan\", \"slot\": 0}, \"points\": [{\"beat\": 0, \"value\": 0}]}]}]}",
                      "tracks[0].automation[0].target: \"fader\" stands alone (no \"slot\" or \"param\" with it)");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"glide_seconds\": 0.1}]}",
                      "tracks[0]: \"glide_seconds\" belongs to instrument tracks, this one is audio");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"a.amp\","
                      " \"glide_seconds\": 11}]}",
                      "tracks[0].glide_seconds: ");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": {\"file\": \"a.amp\","
                      " \"units\": \"x\"}}]}",
                      "tracks[0].patch: unknown field \"units\" (known: file, unit)");
}
END_TEST

START_TEST(test_resolve_errors_name_the_field)
{
    expect_resolve_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"nodes/pad.amp\","
                         " \"params\": {\"cutof\": 100}}]}",
                         "tracks[0].params.cutof: patch 'pad' has no param 'cutof' (its params: cutoff, res,");
    expect_resolve_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"nodes/pad.amp\","
                         " \"params\": {\"cutoff\": 50000}}]}",
                         "tracks[0].params.cutoff: 50000 is outside the range of 'cutoff' in patch 'pad' [40, 16000]");
    expect_resolve_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                         "{\"file\": \"nodes/nothing.amp\"}}]}",
                         "tracks[0].patch: cannot compile 'nodes/nothing.amp'");
    expect_resolve_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                         "{\"file\": \"nodes/pad.amp\", \"unit\": \"nosuch\"}}]}",
                         "tracks[0].patch: cannot compile 'nodes/pad.amp'");
    expect_resolve_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"inserts\": "
                         "[{\"patch\": \"nodes/drums.amp\"}]}]}",
                         "tracks[0].inserts[0].patch: patch 'drums' has no inputs; an insert must be an effect");
    expect_resolve_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"inserts\": "
                         "[{\"patch\": \"nodes/reverb.amp\"}], \"automation\": [{\"target\": {\"slot\": 2, \"param\": \"mix\"},"
                         " \"points\": [{\"beat\": 0, \"value\": 1}]}]}]}",
                         "tracks[0].automation[0].target.slot: this track has no slot 2 (1 insert)");
    expect_resolve_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"inserts\": "
                         "[{\"patch\": \"nodes/reverb.amp\"}], \"automation\": [{\"target\": {\"slot\": 1, \"param\": \"mix\"},"
                         " \"points\": [{\"beat\": 0, \"value\": 3}]}]}]}",
                         "tracks[0].automation[0].points[0].value: 3 is outside the range of 'mix' in patch 'reverb' [0, 1]");
    expect_resolve_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"automation\": [{\"target\":"
                         " {\"fader\": \"pan\"}, \"points\": [{\"beat\": 0, \"value\": 2}]}]}]}",
                         "tracks[0].automation[0].points[0].value: 2 is outside the fader's pan range [-1, 1]");
    expect_resolve_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": "
                         "[{\"file\": \"tests/projects/nothing.wav\", \"start_beat\": 0}]}]}",
                         "tracks[0].regions[0].file: ");
}
END_TEST

/* ---- the patch loader ------------------------------------------------------------- */

/* The native loader, counting what project_resolve asks of it. */
typedef struct CountingLoader {
    int calls;
    char paths[4][64];
    int unit_named[4];
} CountingLoader;

static const AmpPatchDesc *count_and_compile(void *user, const char *path, const char *unit, char *err, size_t errlen)
{
    CountingLoader *c = user;
    if (c->calls < 4) {
        snprintf(c->paths[c->calls], sizeof c->paths[0], "%s", path);
        c->unit_named[c->calls] = unit != NULL;
    }
    c->calls++;
    return patch_loader_compile(NULL, path, unit, err, errlen);
}

static const AmpPatchDesc *refuse(void *user, const char *path, const char *unit, char *err, size_t errlen)
{
    snprintf(err, errlen, "no patch for '%s' here", path);
    return NULL;
}

/* Each (file, unit) goes to the caller's loader once, with the file taken
 * from the project's folder; a loader's message gets the field's path. */
START_TEST(test_patches_come_from_the_loader)
{
    /* read as if from nodes/: "pad.amp" is nodes/pad.amp */
    static const char json[] =
        "{\"version\": 1, \"length_beats\": 1, \"tracks\": ["
        "{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"pad.amp\","
        " \"inserts\": [{\"patch\": \"stereo_delay.amp\"}]},"
        "{\"id\": 2, \"kind\": \"instrument\", \"patch\": {\"file\": \"../nodes/pad.amp\", \"unit\": \"pad\"}},"
        "{\"id\": 3, \"kind\": \"bus\", \"inserts\": [{\"patch\": \"stereo_delay.amp\"}]}]}";
    Project p;
    char err[8192];
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", "nodes", &p, err, sizeof err) == 0, "%s", err);
    CountingLoader count = { 0 };
    ProjectPatchLoader loader = { .load = count_and_compile, .user = &count };
    ck_assert_msg(project_resolve(&p, &loader, 0, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(count.calls, 3);
    ck_assert_str_eq(count.paths[0], "nodes/pad.amp");
    ck_assert_str_eq(count.paths[1], "nodes/stereo_delay.amp");
    ck_assert_str_eq(count.paths[2], "nodes/../nodes/pad.amp");
    ck_assert_int_eq(count.unit_named[0], 0);
    ck_assert_int_eq(count.unit_named[1], 0);
    ck_assert_int_eq(count.unit_named[2], 1);
    ck_assert_ptr_eq(p.tracks[0].inserts[0].desc, p.tracks[2].inserts[0].desc);   /* asked once */
    ck_assert_str_eq(p.tracks[0].patch.desc->name, "pad");
    ck_assert_str_eq(p.tracks[1].patch.desc->name, "pad");
    project_free(&p);

    ck_assert_msg(project_load_text(json, strlen(json), "t.json", "nodes", &p, err, sizeof err) == 0, "%s", err);
    ProjectPatchLoader none = { .load = refuse };
    ck_assert_int_eq(project_resolve(&p, &none, 0, err, sizeof err), -1);
    ck_assert_str_eq(err, "tracks[0].patch: no patch for 'nodes/pad.amp' here");
    project_free(&p);
}
END_TEST

/* A library patch, {"library": id, "revision": n, "unit"?}: what
 * load_library() sees, one call per (id, revision, unit). */
typedef struct LibraryLoader {
    int calls;
    char ids[4][PROJECT_LIBRARY_ID_MAX + 1];
    int revisions[4];
    int unit_named[4];
} LibraryLoader;

/* Every library revision is nodes/pad.amp here (ampd would compile the
 * revision's stored text). */
static const AmpPatchDesc *library_as_pad(void *user, const char *id, int revision, const char *unit, char *err,
                                          size_t errlen)
{
    LibraryLoader *l = user;
    if (l->calls < 4) {
        snprintf(l->ids[l->calls], sizeof l->ids[0], "%s", id);
        l->revisions[l->calls] = revision;
        l->unit_named[l->calls] = unit != NULL;
    }
    l->calls++;
    return patch_loader_compile(NULL, "nodes/pad.amp", unit, err, errlen);
}

START_TEST(test_library_patches)
{
    static const char json[] =
        "{\"version\": 1, \"length_beats\": 1, \"tracks\": ["
        "{\"id\": 1, \"kind\": \"instrument\", \"patch\": {\"library\": \"0123abcd\", \"revision\": 3},"
        " \"params\": {\"cutoff\": 900}},"
        "{\"id\": 2, \"kind\": \"instrument\", \"patch\": {\"library\": \"0123abcd\", \"revision\": 3}},"
        "{\"id\": 3, \"kind\": \"instrument\", \"patch\": {\"library\": \"0123abcd\", \"revision\": 4,"
        " \"unit\": \"pad\"}},"
        "{\"id\": 4, \"kind\": \"instrument\", \"patch\": \"nodes/pad.amp\"}]}";
    Project p;
    char err[8192];
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(p.tracks[0].patch.library, "0123abcd");
    ck_assert_int_eq(p.tracks[0].patch.library_revision, 3);
    ck_assert_ptr_null(p.tracks[0].patch.file);
    ck_assert_ptr_null(p.tracks[0].patch.unit);
    ck_assert_str_eq(p.tracks[2].patch.unit, "pad");
    ck_assert_ptr_null(p.tracks[3].patch.library);
    ck_assert_str_eq(p.tracks[3].patch.file, "nodes/pad.amp");

    /* The native loader has no library: a clear refusal at the field. */
    ck_assert_int_eq(project_resolve(&p, native_loader(), 0, err, sizeof err), -1);
    ck_assert_str_eq(err, "tracks[0].patch: library patch '0123abcd' revision 3: a library patch needs ampd");
    project_free(&p);

    /* A loader with one: asked once per (id, revision, unit); params are
     * checked against what it gives. */
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    LibraryLoader lib = { 0 };
    ProjectPatchLoader loader = patch_loader_native(NULL);
    loader.load_library = library_as_pad;
    loader.user = &lib;
    ck_assert_msg(project_resolve(&p, &loader, 0, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(lib.calls, 2);
    ck_assert_str_eq(lib.ids[0], "0123abcd");
    ck_assert_int_eq(lib.revisions[0], 3);
    ck_assert_int_eq(lib.unit_named[0], 0);
    ck_assert_int_eq(lib.revisions[1], 4);
    ck_assert_int_eq(lib.unit_named[1], 1);
    ck_assert_ptr_eq(p.tracks[0].patch.desc, p.tracks[1].patch.desc);
    ck_assert_str_eq(p.tracks[2].patch.desc->name, "pad");
    ck_assert_int_eq(p.tracks[0].patch.params[0].index >= 0, 1);
    project_free(&p);

    /* The form's own errors, each at its field. */
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                      "{\"library\": \"ab\"}}]}",
                      "tracks[0].patch: missing \"revision\"");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                      "{\"library\": \"ab\", \"revision\": 0}}]}",
                      "tracks[0].patch.revision: 0 is out of range");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                      "{\"library\": \"ab\", \"revision\": \"2\"}}]}",
                      "tracks[0].patch.revision: expected a whole number");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                      "{\"library\": \"\", \"revision\": 1}}]}",
                      "tracks[0].patch.library: expected a non-empty string");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                      "{\"library\": 7, \"revision\": 1}}]}",
                      "tracks[0].patch.library: expected a non-empty string");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                      "{\"library\": \"ab\", \"revision\": 1, \"file\": \"a.amp\"}}]}",
                      "tracks[0].patch: unknown field \"file\" (known: library, revision, unit)");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": "
                      "{\"library\": \"a123456789012345678901234567890123456789012345678901234567890123x\","
                      " \"revision\": 1}}]}",
                      "tracks[0].patch.library: a library id is at most 64 bytes");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": 5}]}",
                      "tracks[0].patch: expected a file name, {\"file\", \"unit\"} or {\"library\", \"revision\", \"unit\"}");
}
END_TEST

/* Defaults, ordering, the tempo map, an audio file at another rate. */
START_TEST(test_defaults_and_timing)
{
    static const char json[] =
        "{\"version\": 1, \"tempo\": 60, \"tempo_changes\": [{\"beat\": 4, \"bpm\": 120}, {\"beat\": 2, \"bpm\": 30}],"
        " \"tail_seconds\": 0.5, \"ui\": {\"zoom\": 3},"
        " \"tracks\": [{\"id\": 5, \"kind\": \"audio\", \"ui\": {\"color\": \"#f00\"}, \"regions\": "
        "[{\"file\": \"tests/projects/hats.wav\", \"start_beat\": 1, \"offset_seconds\": 0.1}]}]}";
    Project p;
    char err[2048];
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(p.sample_rate, 48000);
    ck_assert_int_eq(p.sig_num, 4);
    ck_assert(p.tempo_changes[0].beat == 2.0 && p.tempo_changes[1].beat == 4.0);
    /* beats 0-2 at 60 (2 s), 2-4 at 30 (4 s), then 120 */
    ck_assert(fabs(project_seconds_at(&p, 5.0) - 6.5) < 1e-12);
    ck_assert_msg(project_resolve(&p, native_loader(), 44100, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(p.n_samples, 1);
    /* hats.wav: 0.5 s at 24 kHz, resampled to 44.1 kHz */
    ck_assert_int_eq(p.samples[0].frames, (11999 * 44100) / 24000 + 1);
    ck_assert_int_eq(p.samples[0].channels, 2);
    /* no length_beats: the region's end (1 s, then the file from 0.1 s on),
     * then the tail */
    long region_end = 44100 + p.samples[0].frames - 4410;
    ck_assert_int_eq(project_end_frame(&p), region_end);
    ck_assert_int_eq(project_frames(&p), region_end + 22050);
    Engine *e = engine_for(&p);
    long frames = (long)project_frames(&p);
    float *l = calloc((size_t)frames, sizeof(float)), *r = calloc((size_t)frames, sizeof(float));
    project_render(e, l, r, frames, NULL, NULL, NULL);
    /* The region starts on beat 1 = 1 s, and plays from 0.1 s into the file. */
    long first = -1;
    for (long i = 0; i < frames && first < 0; i++)
        if (l[i] != 0.0f || r[i] != 0.0f)
            first = i;
    ck_assert_int_ge(first, 44100);
    ck_assert_int_lt(first, 44100 + 2205);
    free(l);
    free(r);
    engine_free(e);
    project_free(&p);
}
END_TEST

/* Fader automation in a project: a pad holding a chord, its fader moved
 * from 0 dB to -40 dB over beats 1..2 (120 bpm: samples 24000..48000);
 * the RMS over beat 2.5..3 is 40 dB under the RMS over beat 0.5..1, and
 * the same project without the lane stays level. */
static double rms_db(const float *x, long from, long to)
{
    double sum = 0;
    for (long i = from; i < to; i++)
        sum += (double)x[i] * x[i];
    return 10 * log10(sum / (double)(to - from) + 1e-30);
}

static double fader_drop(const char *lane)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"version\": 1, \"tempo\": 120, \"length_beats\": 3, \"tail_seconds\": 0,"
             " \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"nodes/pad.amp\","
             " \"clips\": [{\"start_beat\": 0, \"length_beats\": 3, \"notes\": [{\"key\": 57, \"start_beat\": 0,"
             " \"length_beats\": 3}, {\"key\": 64, \"start_beat\": 0, \"length_beats\": 3}]}]%s}]}",
             lane);
    Project p;
    char err[2048];
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(project_resolve(&p, native_loader(), 48000, err, sizeof err) == 0, "%s", err);
    Engine *e = engine_for(&p);
    long frames = (long)project_frames(&p);
    float *l = calloc((size_t)frames, sizeof(float)), *r = calloc((size_t)frames, sizeof(float));
    project_render(e, l, r, frames, NULL, NULL, NULL);
    double drop = rms_db(l, 12000, 24000) - rms_db(l, 60000, 72000);
    free(l);
    free(r);
    engine_free(e);
    project_free(&p);
    return drop;
}

START_TEST(test_fader_automation)
{
    double moved = fader_drop(", \"automation\": [{\"target\": {\"fader\": \"gain_db\"}, \"points\": "
                              "[{\"beat\": 1, \"value\": 0}, {\"beat\": 2, \"value\": -40}]}]");
    double still = fader_drop("");
    printf("project: a fader lane 0 -> -40 dB lowers the pad by %.2f dB (%.2f dB without the lane)\n", moved, still);
    ck_assert_msg(fabs(moved - still - 40.0) < 0.5, "the lane moved the level by %g dB", moved - still);
}
END_TEST

/* ---- version 2 ---------------------------------------------------------------------- */

static void load_text_ok(const char *json, Project *p)
{
    static char err[8192];
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", p, err, sizeof err) == 0, "%s", err);
}

START_TEST(test_version2_fields)
{
    Project p;
    load_text_ok("{\"version\": 2, \"time_signature\": [3, 4], \"tracks\": [],"
                 " \"time_signature_changes\": [{\"beat\": 10, \"num\": 7, \"den\": 8}, {\"beat\": 6, \"num\": 4, \"den\": 4}],"
                 " \"metronome\": {\"enabled\": true, \"gain_db\": -6}}", &p);
    ck_assert_int_eq(p.version, 2);
    ck_assert_int_eq(p.n_sig_changes, 2);
    ck_assert(p.sig_changes[0].beat == 6 && p.sig_changes[0].num == 4 && p.sig_changes[1].den == 8);
    ck_assert(p.metronome_enabled && !p.metronome_export && p.metronome_gain_db == -6);
    ck_assert(p.tail_rule && p.tail_until_db == -90 && p.tail_max_seconds == 30 && p.tail_hold_seconds == 2);
    project_free(&p);
    load_text_ok("{\"version\": 2, \"tail_seconds\": 3, \"tracks\": []}", &p);
    ck_assert(!p.tail_rule && p.tail_seconds == 3);
    project_free(&p);
    load_text_ok("{\"version\": 2, \"tail\": {\"until_db\": -60, \"max_seconds\": 5}, \"tracks\": ["
                 "{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"a.amp\", \"clips\": [{\"start_beat\": 0,"
                 " \"length_beats\": 8, \"loop_beats\": 0.5, \"notes\": []}, {\"start_beat\": 8, \"length_beats\": 1,"
                 " \"loop_beats\": 0, \"notes\": []}]}]}", &p);
    ck_assert(p.tail_rule && p.tail_until_db == -60 && p.tail_max_seconds == 5 && p.tail_hold_seconds == 2);
    ck_assert(p.tracks[0].clips[0].loop_beats == 0.5 && p.tracks[0].clips[1].loop_beats == 0);
    project_free(&p);
    /* Version 1 reads exactly as before: the new fields are unknown there. */
    load_text_ok("{\"version\": 1, \"tracks\": []}", &p);
    ck_assert(!p.tail_rule && p.tail_seconds == 2 && p.n_sig_changes == 0 && !p.metronome_export);
    project_free(&p);
    expect_load_error("{\"version\": 1, \"metronome\": {}, \"tracks\": []}",
                      "project: unknown field \"metronome\" (a version 2 field; this document is version 1)");
    expect_load_error("{\"version\": 1, \"tail\": {}, \"tracks\": []}", "project: unknown field \"tail\" (a version 2");
    expect_load_error("{\"version\": 1, \"time_signature_changes\": [], \"tracks\": []}",
                      "project: unknown field \"time_signature_changes\" (a version 2");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"a.amp\","
                      " \"clips\": [{\"start_beat\": 0, \"length_beats\": 4, \"loop_beats\": 1}]}]}",
                      "tracks[0].clips[0]: unknown field \"loop_beats\" (a version 2 field; this document is version 1)");
    /* Version 2's own errors, at their fields. */
    expect_load_error("{\"version\": 2, \"tail\": {}, \"tail_seconds\": 1, \"tracks\": []}",
                      "project: \"tail\" and \"tail_seconds\" do not go together");
    expect_load_error("{\"version\": 2, \"tail\": {\"until_db\": 3}, \"tracks\": []}", "tail.until_db: 3 is out of range");
    expect_load_error("{\"version\": 2, \"tail\": {\"hold\": 3}, \"tracks\": []}",
                      "tail: unknown field \"hold\" (known: until_db, max_seconds, hold_seconds)");
    expect_load_error("{\"version\": 2, \"metronome\": {\"enabled\": 1}, \"tracks\": []}",
                      "metronome.enabled: expected true or false, got 1");
    expect_load_error("{\"version\": 2, \"time_signature\": [3, 4], \"time_signature_changes\": [{\"beat\": 4, \"num\": 4,"
                      " \"den\": 4}], \"tracks\": []}",
                      "time_signature_changes: the change at beat 4 is not on a bar line of 3/4 (bars from beat 0: 3, 6, ...)");
    expect_load_error("{\"version\": 2, \"time_signature_changes\": [{\"beat\": 4, \"num\": 7, \"den\": 8},"
                      " {\"beat\": 7, \"num\": 4, \"den\": 4}], \"tracks\": []}",
                      "the change at beat 7 is not on a bar line of 7/8 (bars from beat 4: 4, 7.5, ...)");
    expect_load_error("{\"version\": 2, \"time_signature_changes\": [{\"beat\": 4, \"num\": 7, \"den\": 6}], \"tracks\": []}",
                      "time_signature_changes[0].den: 6 is not a power of two");
    expect_load_error("{\"version\": 2, \"time_signature_changes\": [{\"beat\": 0, \"num\": 7, \"den\": 8}], \"tracks\": []}",
                      "time_signature_changes[0].beat: 0 is out of range");
    expect_load_error("{\"version\": 2, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"a.amp\","
                      " \"clips\": [{\"start_beat\": 0, \"length_beats\": 4, \"loop_beats\": 0.01}]}]}",
                      "tracks[0].clips[0].loop_beats: 0.01 is shorter than a loop may be (0.015625 beats; 0: no loop)");
}
END_TEST

static float *render_text(const char *json, int64_t *frames)
{
    Project p;
    static char err[8192];
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", ".", &p, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(project_resolve(&p, native_loader(), 48000, err, sizeof err) == 0, "%s", err);
    Engine *e = engine_for(&p);
    *frames = project_frames(&p);
    float *lr = calloc((size_t)*frames * 2, sizeof(float));
    project_render(e, lr, lr + *frames, *frames, NULL, NULL, NULL);
    engine_free(e);
    project_free(&p);
    return lr;
}

/* A looped clip renders the bits of the clip holding its repeats: notes
 * in [0, loop_beats) again every loop_beats, each cut at its repeat's
 * end (the 2-beat note at 0.5 ends at 1.5) and at the clip's end (4.5
 * beats from 0.25: the last repeat from 3.25 is cut at 4.75); the note
 * at 1.75 is never played. */
START_TEST(test_looped_clip_renders_unrolled)
{
    static const char looped[] =
        "{\"version\": 2, \"tempo\": 110, \"length_beats\": 6, \"tail_seconds\": 0.5, \"tracks\": ["
        " {\"id\": 1, \"kind\": \"instrument\", \"patch\": \"nodes/epiano.amp\", \"clips\": [{\"start_beat\": 0.25,"
        "  \"length_beats\": 4.5, \"loop_beats\": 1.5, \"notes\": [{\"key\": 60, \"start_beat\": 0, \"length_beats\": 1},"
        "  {\"key\": 64, \"start_beat\": 0.5, \"length_beats\": 2, \"velocity\": 0.5},"
        "  {\"key\": 67, \"start_beat\": 1.75, \"length_beats\": 1}]}]},"
        " {\"id\": 2, \"kind\": \"instrument\", \"patch\": \"nodes/drums.amp\", \"clips\": [{\"start_beat\": 0,"
        "  \"length_beats\": 6, \"loop_beats\": 1, \"notes\": [{\"key\": 36, \"start_beat\": 0, \"length_beats\": 0.25},"
        "  {\"key\": 42, \"start_beat\": 0.5, \"length_beats\": 0.25}]}]}]}";
    char unrolled[8192];
    int n = snprintf(unrolled, sizeof unrolled,
                     "{\"version\": 2, \"tempo\": 110, \"length_beats\": 6, \"tail_seconds\": 0.5, \"tracks\": ["
                     " {\"id\": 1, \"kind\": \"instrument\", \"patch\": \"nodes/epiano.amp\", \"clips\": [{\"start_beat\": 0.25,"
                     "  \"length_beats\": 4.5, \"notes\": [");
    for (int r = 0; r < 3; r++)
        n += snprintf(unrolled + n, sizeof unrolled - (size_t)n,
                      "%s{\"key\": 60, \"start_beat\": %g, \"length_beats\": 1},"
                      " {\"key\": 64, \"start_beat\": %g, \"length_beats\": 1, \"velocity\": 0.5}",
                      r ? ", " : "", 1.5 * r, 1.5 * r + 0.5);
    n += snprintf(unrolled + n, sizeof unrolled - (size_t)n,
                  "]}]}, {\"id\": 2, \"kind\": \"instrument\", \"patch\": \"nodes/drums.amp\", \"clips\": [{\"start_beat\": 0,"
                  "  \"length_beats\": 6, \"notes\": [");
    for (int r = 0; r < 6; r++)
        n += snprintf(unrolled + n, sizeof unrolled - (size_t)n,
                      "%s{\"key\": 36, \"start_beat\": %d, \"length_beats\": 0.25},"
                      " {\"key\": 42, \"start_beat\": %g, \"length_beats\": 0.25}", r ? ", " : "", r, r + 0.5);
    snprintf(unrolled + n, sizeof unrolled - (size_t)n, "]}]}]}");
    int64_t fa, fb;
    float *a = render_text(looped, &fa), *b = render_text(unrolled, &fb);
    ck_assert_int_eq(fa, fb);
    double peak = 0;
    for (int64_t i = 0; i < 2 * fa; i++)
        peak = fmax(peak, fabs(a[i]));
    long d = -1;
    for (int64_t i = 0; i < 2 * fa && d < 0; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)))
            d = (long)i;
    printf("project: a looped clip and its repeats written out: %lld frames, peak %.3f, %s\n", (long long)fa, peak,
           d < 0 ? "the same bits" : "DIFFERENT");
    ck_assert(peak > 0.05);
    ck_assert_msg(d < 0, "looped and unrolled differ at %s frame %ld", d < fa ? "left" : "right", d % (long)fa);
    free(a);
    free(b);
}
END_TEST

/* The metronome is in a render when "export" says so, on the beats of the
 * signature: the two renders differ exactly by the clicks. */
START_TEST(test_metronome_in_the_export)
{
    static const char fmt[] =
        "{\"version\": 2, \"tempo\": 120, \"time_signature\": [2, 4], \"length_beats\": 4, \"tail_seconds\": 0,"
        " \"metronome\": {\"enabled\": true, \"gain_db\": -6.0206, \"export\": %s}, \"tracks\": ["
        " {\"id\": 1, \"kind\": \"instrument\", \"patch\": \"nodes/epiano.amp\", \"clips\": [{\"start_beat\": 0.25,"
        "  \"length_beats\": 3, \"notes\": [{\"key\": 60, \"start_beat\": 0, \"length_beats\": 1}]}]}]}";
    char json[2048];
    int64_t fa, fb;
    snprintf(json, sizeof json, fmt, "true");
    float *a = render_text(json, &fa);
    snprintf(json, sizeof json, fmt, "false");
    float *b = render_text(json, &fb);
    ck_assert_int_eq(fa, 4 * 24000);
    for (int k = 0; k < 4; k++) {   /* beats 0..3 at 24000 k: an accent on 0 and 2 */
        long s = 24000L * k;
        float want = (k % 2 == 0 ? 0.5f : 0.3f) * 0.5f;
        ck_assert_msg(fabsf(a[s] - b[s] - want) < 2e-6f, "beat %d: the click adds %.6f, want %.6f", k,
                      (double)(a[s] - b[s]), (double)want);
        if (s > 0)
            ck_assert_float_eq(a[s - 1], b[s - 1]);
        ck_assert_float_eq(a[s + 1680], b[s + 1680]);   /* 35 ms later: over */
    }
    free(a);
    free(b);
}
END_TEST

/* The tail rule: a pad note with an 8 s release ends at beat 1; the render
 * runs until the master stays below -90 dBFS (2 s of quiet 128-frame
 * quanta) and keeps up to the last quantum above it. Measured against a
 * render of the whole cap: every sample after the kept length is below
 * -90 dBFS, the last kept quantum is not. With max_seconds 3, the cap cuts
 * the tail at exactly 3 s after the end. */
START_TEST(test_tail_rule)
{
    static const char fmt[] =
        "{\"version\": 2, \"tempo\": 120, \"length_beats\": 1%s, \"tracks\": ["
        " {\"id\": 1, \"kind\": \"instrument\", \"patch\": \"nodes/pad.amp\", \"params\": {\"release\": 8},"
        "  \"clips\": [{\"start_beat\": 0, \"length_beats\": 1, \"notes\": [{\"key\": 57, \"start_beat\": 0,"
        "  \"length_beats\": 1}]}]}]}";
    char json[2048];
    snprintf(json, sizeof json, fmt, "");
    Project p;
    load_text_ok(json, &p);
    static char err[8192];
    ck_assert_msg(project_resolve(&p, native_loader(), 48000, err, sizeof err) == 0, "%s", err);
    int64_t end = project_end_frame(&p), cap = project_frames(&p);
    ck_assert_int_eq(end, 24000);
    ck_assert_int_eq(cap, 24000 + 30 * 48000);
    float *l = calloc((size_t)cap, sizeof(float)), *r = calloc((size_t)cap, sizeof(float));
    Engine *e = engine_for(&p);
    int64_t kept = project_render_project(e, &p, l, r, NULL, NULL, NULL);
    engine_free(e);
    /* The whole cap, rendered again, to measure where it falls below. */
    float *l2 = calloc((size_t)cap, sizeof(float)), *r2 = calloc((size_t)cap, sizeof(float));
    e = engine_for(&p);
    project_render(e, l2, r2, cap, NULL, NULL, NULL);
    engine_free(e);
    ck_assert_msg(memcmp(l, l2, (size_t)kept * sizeof(float)) == 0, "the kept frames are not the render's");
    const double threshold = pow(10.0, -90.0 / 20.0);
    int64_t last_loud = -1;
    double peak = 0;
    for (int64_t i = 0; i < cap; i++) {
        double x = fmax(fabs(l2[i]), fabs(r2[i]));
        peak = fmax(peak, x);
        if (x >= threshold)
            last_loud = i;
    }
    int64_t want = end + (last_loud + 1 - end + 127) / 128 * 128;
    double peak_after = 0, peak_last = 0;
    for (int64_t i = kept; i < cap; i++)
        peak_after = fmax(peak_after, fmax(fabs(l2[i]), fabs(r2[i])));
    for (int64_t i = kept - 128; i < kept; i++)
        peak_last = fmax(peak_last, fmax(fabs(l2[i]), fabs(r2[i])));
    printf("project: an 8 s release: the render keeps %.3f s (%.3f s after the end; the old fixed 2 s tail would "
           "end it at %.1f dB under its peak), last quantum %.1f dBFS, everything after it below %.1f dBFS\n",
           kept / 48000.0, (kept - end) / 48000.0,
           20 * log10(fmax(fabs(l2[end + 96000]), fabs(r2[end + 96000])) / peak), 20 * log10(peak_last),
           20 * log10(peak_after));
    ck_assert_int_gt(last_loud, end + 96000);          /* longer than the old 2 s tail */
    ck_assert_int_lt(want, cap);                       /* and it stopped before the cap */
    ck_assert_int_eq(kept, want);
    ck_assert(peak_after < threshold && peak_last >= threshold);
    free(l);
    free(r);
    free(l2);
    free(r2);
    project_free(&p);

    /* The cap: 3 s after the end, exactly. */
    snprintf(json, sizeof json, fmt, ", \"tail\": {\"max_seconds\": 3}");
    load_text_ok(json, &p);
    ck_assert_msg(project_resolve(&p, native_loader(), 48000, err, sizeof err) == 0, "%s", err);
    cap = project_frames(&p);
    ck_assert_int_eq(cap, 24000 + 3 * 48000);
    l = calloc((size_t)cap, sizeof(float));
    r = calloc((size_t)cap, sizeof(float));
    e = engine_for(&p);
    kept = project_render_project(e, &p, l, r, NULL, NULL, NULL);
    engine_free(e);
    ck_assert_int_eq(kept, cap);
    free(l);
    free(r);
    project_free(&p);

    /* A fixed tail_seconds in version 2, and version 1: exactly that long. */
    snprintf(json, sizeof json, fmt, ", \"tail_seconds\": 0.5");
    load_text_ok(json, &p);
    ck_assert_msg(project_resolve(&p, native_loader(), 48000, err, sizeof err) == 0, "%s", err);
    ProjectTail t;
    project_tail_begin(&p, &t);
    ck_assert_int_eq(t.limit, 24000 + 24000);
    float zero[128] = { 0 };
    int64_t fed = 0;
    while (!project_tail_feed(&t, zero, zero, 100))
        fed += 100;
    ck_assert_int_eq(project_tail_frames(&t), 48000);
    ck_assert_int_eq(fed + 100 >= 48000, 1);
    project_free(&p);
}
END_TEST

/* ---- the command ------------------------------------------------------------------- */

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(test_amp_render_project)
{
    char cmd[2048], out[256], log[256];
    snprintf(out, sizeof out, "%s/mix.wav", tmp_dir);
    snprintf(log, sizeof log, "%s/log.txt", tmp_dir);
    snprintf(cmd, sizeof cmd, "%s render %s --seconds 0.5 --format s16 -o %s 2>%s", amp_bin, DEMO, out, log);
    ck_assert_int_eq(run(cmd), 0);
    WavData w;
    char err[300];
    ck_assert_msg(wav_read_file(out, &w, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(w.channels, 2);
    ck_assert_int_eq(w.frames, 24000);
    ck_assert_int_eq(w.sample_rate, 48000);
    wav_free(&w);
    FILE *fp = fopen(log, "r");
    char text[1024] = "";
    ck_assert_ptr_nonnull(fp);
    ck_assert_ptr_nonnull(fgets(text, sizeof text, fp));
    fclose(fp);
    ck_assert_msg(strstr(text, "0.500 s at 48000 Hz, 6 tracks, peak") && strstr(text, "x real time"), "%s", text);

    /* --rate: rendered at another rate. */
    snprintf(cmd, sizeof cmd, "%s render %s --seconds 0.25 --rate 44100 -o %s 2>%s", amp_bin, DEMO, out, log);
    ck_assert_int_eq(run(cmd), 0);
    ck_assert(wav_read_file(out, &w, err, sizeof err) == 0 && w.sample_rate == 44100 && w.frames == 11025);
    wav_free(&w);

    /* A bad project: exit 1, the path of the field on stderr. */
    char bad[256];
    snprintf(bad, sizeof bad, "%s/bad.json", tmp_dir);
    fp = fopen(bad, "w");
    fputs("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"synth\"}]}\n", fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "%s render %s -o %s 2>%s", amp_bin, bad, out, log);
    ck_assert_int_eq(run(cmd), 1);
    fp = fopen(log, "r");
    ck_assert_ptr_nonnull(fgets(text, sizeof text, fp));
    fclose(fp);
    ck_assert_msg(strstr(text, "tracks[0].kind: expected") != NULL, "%s", text);
    /* Version 2: `amp render` stops where the tail rule says (at most 1 s
     * after the end here), the same length project_render_project gives. */
    char v2[256], nodes[PATH_MAX];
    ck_assert_ptr_nonnull(realpath("nodes/epiano.amp", nodes));
    snprintf(v2, sizeof v2, "%s/v2.json", tmp_dir);
    fp = fopen(v2, "w");
    fprintf(fp, "{\"version\": 2, \"length_beats\": 1, \"tail\": {\"max_seconds\": 1, \"until_db\": -60},"
                " \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": \"%s\", \"clips\": [{\"start_beat\": 0,"
                " \"length_beats\": 1, \"notes\": [{\"key\": 60, \"start_beat\": 0, \"length_beats\": 1}]}]}]}\n", nodes);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "%s render %s -o %s 2>%s", amp_bin, v2, out, log);
    ck_assert_int_eq(run(cmd), 0);
    ck_assert_msg(wav_read_file(out, &w, err, sizeof err) == 0, "%s", err);
    Project p;
    load_resolve(v2, &p);
    Engine *e = engine_for(&p);
    float *l = calloc((size_t)project_frames(&p), sizeof(float)), *r = calloc((size_t)project_frames(&p), sizeof(float));
    int64_t kept = project_render_project(e, &p, l, r, NULL, NULL, NULL);
    printf("project: amp render of a version 2 document: %lld frames (the end at 24000, the cap at 72000)\n",
           (long long)w.frames);
    ck_assert_int_eq(w.frames, kept);
    ck_assert(kept > 24000 && kept < 72000 && kept % 128 == 24000 % 128);
    wav_free(&w);
    free(l);
    free(r);

    /* An instrument that writes NaN: the engine mutes it, and `amp render`
     * fails, naming the track, the slot, the patch and the first sample. */
    char nan_patch[PATH_MAX], nanp[256];
    ck_assert_ptr_nonnull(realpath("tests/fixtures/nan_mix.amp", nan_patch));
    snprintf(nanp, sizeof nanp, "%s/nan.json", tmp_dir);
    fp = fopen(nanp, "w");
    fprintf(fp, "{\"version\": 1, \"length_beats\": 1, \"tail_seconds\": 0, \"tracks\": [{\"id\": 3, \"name\": \"Bad\","
                " \"kind\": \"instrument\", \"patch\": \"%s\"}]}\n", nan_patch);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "%s render %s -o %s 2>%s", amp_bin, nanp, out, log);
    ck_assert_int_eq(run(cmd), 1);
    fp = fopen(log, "r");
    ck_assert_ptr_nonnull(fgets(text, sizeof text, fp));   /* the summary */
    ck_assert_ptr_nonnull(fgets(text, sizeof text, fp));
    fclose(fp);
    ck_assert_msg(strstr(text, "amp: fault: tracks[0] (id 3, \"Bad\") instrument (") && strstr(text, "nan_mix.amp) output "
                  "NaN/Inf, first at sample ") && strstr(text, " muted on that track)"), "%s", text);
    ck_assert_msg(wav_read_file(out, &w, err, sizeof err) == 0, "%s", err);   /* written, finite */
    for (int c = 0; c < w.channels; c++)
        for (long i = 0; i < w.frames; i++)
            ck_assert_msg(isfinite(w.data[c][i]), "channel %d, frame %ld", c, i);
    wav_free(&w);
    engine_free(e);
    project_free(&p);

    /* Patch options do not apply to a project. */
    snprintf(cmd, sizeof cmd, "%s render %s --notes 60@0:1 -o %s 2>/dev/null", amp_bin, DEMO, out);
    ck_assert_int_eq(run(cmd), 2);
}
END_TEST

/* A region may name its sample by content hash ("asset"): the file
 * assets/ab/<hash> beside the project, ampd's layout. "file" still works,
 * the two never together. */
START_TEST(test_region_by_asset_hash)
{
    static const char hash[] = "ab34567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef";
    char tmp[] = "/tmp/check_project_asset_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    char path[256], json[1024], err[2048];
    snprintf(path, sizeof path, "%s/assets", tmp);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/assets/ab", tmp);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    /* hats.wav under its (here made-up) hash. */
    FILE *in = fopen("tests/projects/hats.wav", "rb");
    ck_assert_ptr_nonnull(in);
    snprintf(path, sizeof path, "%s/assets/ab/%s", tmp, hash);
    FILE *out = fopen(path, "wb");
    ck_assert_ptr_nonnull(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);

    snprintf(json, sizeof json,
             "{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": "
             "[{\"asset\": \"%s\", \"start_beat\": 1}, {\"file\": \"assets/ab/%s\", \"start_beat\": 3}]}]}",
             hash, hash);
    Project p;
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", tmp, &p, err, sizeof err) == 0, "%s", err);
    snprintf(path, sizeof path, "assets/ab/%s", hash);
    ck_assert_str_eq(p.tracks[0].regions[0].file, path);
    ck_assert_msg(project_resolve(&p, native_loader(), 48000, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(p.n_samples, 1); /* both regions: one sample */
    ck_assert_int_eq(p.tracks[0].regions[0].sample, 0);
    ck_assert_int_eq(p.tracks[0].regions[1].sample, 0);
    ck_assert_int_eq(p.samples[0].frames, (11999 * 48000) / 24000 + 1); /* hats.wav resampled */
    project_free(&p);

    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": "
                      "[{\"asset\": \"AB34567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef\","
                      " \"start_beat\": 0}]}]}",
                      "tracks[0].regions[0].asset: expected a SHA-256 in 64 lowercase hex digits");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": "
                      "[{\"asset\": \"../../etc/passwd\", \"start_beat\": 0}]}]}",
                      "tracks[0].regions[0].asset: expected a SHA-256");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": "
                      "[{\"asset\": 7, \"start_beat\": 0}]}]}",
                      "tracks[0].regions[0].asset: expected a non-empty string, got 7");
    snprintf(json, sizeof json,
             "{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": "
             "[{\"asset\": \"%s\", \"file\": \"a.wav\", \"start_beat\": 0}]}]}", hash);
    expect_load_error(json, "tracks[0].regions[0]: a region names its sample by \"file\" or by \"asset\", not both");
    expect_load_error("{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": "
                      "[{\"start_beat\": 0}]}]}",
                      "tracks[0].regions[0]: missing \"file\" (or \"asset\")");
    /* A hash with no file beside the project: the resolver says so. */
    snprintf(json, sizeof json,
             "{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"audio\", \"regions\": "
             "[{\"asset\": \"%.63s0\", \"start_beat\": 0}]}]}", hash);
    ck_assert_msg(project_load_text(json, strlen(json), "t.json", tmp, &p, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(project_resolve(&p, native_loader(), 48000, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "tracks[0].regions[0].file: ") != NULL, "%s", err);
    project_free(&p);
    testutil_remove_tree(tmp);
}
END_TEST

static Suite *project_suite(void)
{
    Suite *s = suite_create("project");
    TCase *demo = tcase_create("demo");
    tcase_add_test(demo, test_demo_matches_golden);
    tcase_add_test(demo, test_demo_tracks_all_sound);
    tcase_set_timeout(demo, 600);
    suite_add_tcase(s, demo);
    TCase *fmt = tcase_create("format");
    tcase_add_test(fmt, test_load_errors_name_the_field);
    tcase_add_test(fmt, test_resolve_errors_name_the_field);
    tcase_add_test(fmt, test_patches_come_from_the_loader);
    tcase_add_test(fmt, test_library_patches);
    tcase_add_test(fmt, test_defaults_and_timing);
    tcase_add_test(fmt, test_fader_automation);
    tcase_add_test(fmt, test_region_by_asset_hash);
    tcase_add_test(fmt, test_version2_fields);
    tcase_add_test(fmt, test_looped_clip_renders_unrolled);
    tcase_add_test(fmt, test_metronome_in_the_export);
    tcase_add_test(fmt, test_tail_rule);
    tcase_set_timeout(fmt, 600);
    suite_add_tcase(s, fmt);
    TCase *cli = tcase_create("cli");
    tcase_add_test(cli, test_amp_render_project);
    tcase_set_timeout(cli, 600);
    suite_add_tcase(s, cli);
    return s;
}

int main(int argc, char **argv)
{
    (void)argc;
    if (testutil_amp_setup(argv[0], "check_project", amp_bin, sizeof amp_bin, tmp_dir, sizeof tmp_dir))
        return EXIT_FAILURE;
    int rc = testutil_run(project_suite());
    testutil_remove_tree(tmp_dir);
    return rc;
}
