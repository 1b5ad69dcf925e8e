/* check_midi_import.c — Standard MIDI Files as projects
 * (runtime/formats/midi_import.c) and `amp import` / `amp render SONG.mid`.
 *
 * The song is written with smf_write_simple: 480 ticks per quarter, 120 bpm
 * until beat 4 (2.0 s) then 150 bpm (0.4 s a beat), a melodic track, a
 * channel-10 track, and a track that mixes a melodic channel with channel
 * 10. No two notes overlap in time, so each note's onset can be found in
 * the mix. The render goes through a test patch whose voice outputs
 * gate * velocity: silent before the note-on sample, non-zero from it.
 *
 * Tests run from the repository root (the default patches are nodes/);
 * patches are built in $AMP_CACHE or a temporary cache removed at the end.
 */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "json_write.h"
#include "midi_import.h"
#include "patch_loader.h"
#include "project_feed.h"
#include "project_read.h"
#include "project_render.h"
#include "project_resolve.h"
#include "smf.h"
#include "testutil.h"
#include "wav.h"

#define PPQ 480
#define RATE 48000

static char tmp_dir[64];
static char amp_bin[512];
static char song_path[128], click_path[128];

static const char click_text[] =
    "// gate * velocity: a note is non-zero exactly from its note-on to its note-off\n"
    "patch click {\n"
    "  voices 8 steal oldest;\n"
    "  voice {\n"
    "    note.gate * note.vel -> out;\n"
    "  }\n"
    "}\n";

/* The song's notes, ticks. Beat b < 4 is at b * 0.5 s; b >= 4 at 2.0 +
 * (b - 4) * 0.4 s. */
static const SmfWriteNote lead[] = {
    { 0, 240, 0, 60, 100 },            /* beat 0 */
    { 960, 1200, 0, 64, 90 },          /* beat 2: 1.0 s */
    { 2400, 2640, 0, 67, 127 },        /* beat 5: 2.4 s, the second tempo */
    { 2760, 2880, 0, 69, 64 },         /* beat 5.75: 2.7 s */
    { 3360, 3600, 0, 72, 32 },         /* beat 7: 3.2 s */
};
static const SmfWriteNote drums[] = {
    { 480, 540, 9, 36, 127 },          /* beat 1 */
    { 2040, 2100, 9, 38, 100 },        /* beat 4.25: 2.1 s */
    { 3120, 3120 + 60, 9, 42, 80 },    /* beat 6.5: 3.0 s */
};
static const SmfWriteNote mixed[] = {
    { 1440, 1680, 1, 48, 100 },        /* beat 3: 1.5 s */
    { 3840, 4080, 9, 46, 70 },         /* beat 8: 3.6 s, a drum in a melodic track */
};
static const SmfWriteTempo tempos[] = { { 0, 500000 }, { 1920, 400000 } };

static void write_file(const char *path, const void *bytes, size_t len)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(bytes, 1, len, fp), len);
    ck_assert_int_eq(fclose(fp), 0);
}

/* The song with these tempos, as a file. 0, or -1 with a message. */
static int make_song(const char *path, const SmfWriteTempo *t, size_t n_tempos, char *err, size_t errlen)
{
    const SmfWriteTrack tracks[] = {
        { "Lead", lead, sizeof lead / sizeof lead[0] },
        { NULL, drums, sizeof drums / sizeof drums[0] },
        { "Mixed", mixed, sizeof mixed / sizeof mixed[0] },
    };
    unsigned char *bytes;
    size_t len;
    if (smf_write_simple(tracks, 3, PPQ, t, n_tempos, &bytes, &len, err, errlen))
        return -1;
    FILE *fp = fopen(path, "wb");
    int bad = !fp || fwrite(bytes, 1, len, fp) != len;
    bad |= fp && fclose(fp) != 0;
    free(bytes);
    if (bad)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return bad ? -1 : 0;
}

static char *import_song(const char *path, const MidiImportOptions *opt, MidiImportSummary *sum)
{
    char *json = NULL, err[1024];
    ck_assert_msg(midi_import_file(path, opt, &json, sum, err, sizeof err) == 0, "%s", err);
    return json;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(doc != NULL, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
    return doc;
}

static double number_at(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_number(v), "no number \"%s\"", key);
    return json_number_value(v);
}

static const char *string_at(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_string(v), "no string \"%s\"", key);
    return json_string_value(v);
}

/* ---- the document ------------------------------------------------------------ */

static void expect_notes(json_t *track, const SmfWriteNote *want, size_t n, int channel_filter)
{
    json_t *clips = json_object_get(track, "clips");
    ck_assert_uint_eq(json_array_size(clips), 1);
    json_t *clip = json_array_get(clips, 0);
    ck_assert(number_at(clip, "start_beat") == 0.0);
    json_t *notes = json_object_get(clip, "notes");
    size_t k = 0;
    double end = 0.0;
    for (size_t i = 0; i < n; i++) {
        if ((want[i].channel == 9) != (channel_filter == 9))
            continue;
        json_t *note = json_array_get(notes, k++);
        ck_assert_ptr_nonnull(note);
        ck_assert_int_eq((int)number_at(note, "key"), want[i].key);
        ck_assert(number_at(note, "start_beat") == (double)want[i].start_tick / PPQ);
        ck_assert(number_at(note, "length_beats") == (double)(want[i].end_tick - want[i].start_tick) / PPQ);
        ck_assert(number_at(note, "velocity") == (double)(float)(want[i].velocity / 127.0f));
        end = fmax(end, (double)want[i].end_tick / PPQ);
    }
    ck_assert_uint_eq(json_array_size(notes), k);
    ck_assert(number_at(clip, "length_beats") == end);
}

START_TEST(test_document)
{
    MidiImportOptions opt = { .patch = click_path, .drums = click_path, .drums_unit = "click", .base_dir = tmp_dir };
    MidiImportSummary sum;
    char *text = import_song(song_path, &opt, &sum);
    json_t *doc = parse(text);
    ck_assert_int_eq((int)number_at(doc, "version"), 1);
    ck_assert_int_eq((int)number_at(doc, "sample_rate"), RATE);
    ck_assert(number_at(doc, "tempo") == 120.0);
    json_t *changes = json_object_get(doc, "tempo_changes");
    ck_assert_uint_eq(json_array_size(changes), 1);
    ck_assert(number_at(json_array_get(changes, 0), "beat") == 4.0);
    ck_assert(number_at(json_array_get(changes, 0), "bpm") == 150.0);
    json_t *sig = json_object_get(doc, "time_signature");
    ck_assert_int_eq((int)json_integer_value(json_array_get(sig, 0)), 4);
    ck_assert_int_eq((int)json_integer_value(json_array_get(sig, 1)), 4);
    ck_assert(number_at(doc, "length_beats") == 4080.0 / PPQ);

    json_t *tracks = json_object_get(doc, "tracks");
    ck_assert_uint_eq(json_array_size(tracks), 4);
    static const char *const names[] = { "Lead", "Drums", "Mixed", "Mixed (drums)" };
    for (int i = 0; i < 4; i++) {
        json_t *t = json_array_get(tracks, (size_t)i);
        ck_assert_int_eq((int)number_at(t, "id"), i + 1);
        ck_assert_str_eq(string_at(t, "name"), names[i]);
        ck_assert_str_eq(string_at(t, "kind"), "instrument");
        json_t *patch = json_object_get(t, "patch");
        bool drum_track = i == 1 || i == 3;
        if (drum_track) {          /* --drums FILE:UNIT */
            ck_assert_str_eq(string_at(patch, "file"), "click.amp");
            ck_assert_str_eq(string_at(patch, "unit"), "click");
        } else {
            ck_assert_str_eq(json_string_value(patch), "click.amp");   /* relative to base_dir */
        }
    }
    expect_notes(json_array_get(tracks, 0), lead, sizeof lead / sizeof lead[0], 0);
    expect_notes(json_array_get(tracks, 1), drums, sizeof drums / sizeof drums[0], 9);
    expect_notes(json_array_get(tracks, 2), mixed, sizeof mixed / sizeof mixed[0], 0);
    expect_notes(json_array_get(tracks, 3), mixed, sizeof mixed / sizeof mixed[0], 9);

    ck_assert_int_eq(sum.tracks, 4);
    ck_assert_int_eq(sum.drum_tracks, 2);
    ck_assert_uint_eq(sum.notes, 10);
    ck_assert_int_eq(sum.tempo_changes, 1);

    /* deterministic: the same text again, and it loads as a project */
    char *again = import_song(song_path, &opt, NULL);
    ck_assert_str_eq(text, again);
    Project p;
    char err[1024];
    ck_assert_msg(project_load_text(text, strlen(text), "song", tmp_dir, &p, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(p.n_tracks, 4);
    ck_assert_int_eq(p.n_tempo_changes, 1);
    project_free(&p);
    /* one note per line */
    ck_assert_ptr_nonnull(strstr(text, "\n            {\"key\": 60, \"start_beat\": 0.0, \"length_beats\": 0.5, "));
    free(again);
    free(text);
    json_decref(doc);
}
END_TEST

/* Without --patch: nodes/pad.amp and nodes/drums.amp, written relative to
 * the document's folder. */
START_TEST(test_default_patches_are_relative)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/a/b", tmp_dir);
    char a[128];
    snprintf(a, sizeof a, "%s/a", tmp_dir);
    mkdir(a, 0755);
    mkdir(sub, 0755);
    MidiImportOptions opt = { .base_dir = sub };
    char *text = import_song(song_path, &opt, NULL);
    json_t *doc = parse(text);
    json_t *tracks = json_object_get(doc, "tracks");
    const char *pad = json_string_value(json_object_get(json_array_get(tracks, 0), "patch"));
    const char *drum = json_string_value(json_object_get(json_array_get(tracks, 1), "patch"));
    ck_assert_ptr_nonnull(pad);
    ck_assert_ptr_nonnull(drum);
    ck_assert_msg(pad[0] != '/' && drum[0] != '/', "absolute paths: %s, %s", pad, drum);
    char joined[PATH_MAX], want[PATH_MAX], got[PATH_MAX];
    snprintf(joined, sizeof joined, "%s/%s", sub, pad);
    ck_assert_ptr_nonnull(realpath(joined, got));
    ck_assert_ptr_nonnull(realpath("nodes/pad.amp", want));
    ck_assert_str_eq(got, want);
    snprintf(joined, sizeof joined, "%s/%s", sub, drum);
    ck_assert_ptr_nonnull(realpath(joined, got));
    ck_assert_ptr_nonnull(realpath("nodes/drums.amp", want));
    ck_assert_str_eq(got, want);
    json_decref(doc);
    free(text);

    /* from the working folder: just the relative paths */
    MidiImportOptions here = { 0 };
    text = import_song(song_path, &here, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"patch\": \"nodes/pad.amp\""));
    ck_assert_ptr_nonnull(strstr(text, "\"patch\": \"nodes/drums.amp\""));
    free(text);

    /* a patch that is not there */
    MidiImportOptions missing = { .patch = "nodes/no_such_patch.amp" };
    char *json = NULL, err[512];
    ck_assert_int_eq(midi_import_file(song_path, &missing, &json, NULL, err, sizeof err), -1);
    ck_assert_ptr_null(json);
    ck_assert_msg(strstr(err, "nodes/no_such_patch.amp") && strstr(err, "No such file"), "%s", err);
}
END_TEST

/* ---- rendering -------------------------------------------------------------------- */

/* Render an imported document through the engine, as `amp render` does. */
static void render_document(const char *text, float **left, float **right, int64_t *frames)
{
    Project p;
    char err[4096];
    ck_assert_msg(project_load_text(text, strlen(text), "song", tmp_dir, &p, err, sizeof err) == 0, "%s", err);
    ProjectPatchLoader loader = patch_loader_native(NULL);
    ck_assert_msg(project_resolve(&p, &loader, 0, err, sizeof err) == 0, "%s", err);
    EngineConfig cfg;
    project_engine_config(&p, &cfg);
    Engine *e = engine_init(&cfg, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    ck_assert_msg(project_feed(&p, e, err, sizeof err) == 0, "%s", err);
    *frames = project_frames(&p);
    *left = calloc((size_t)*frames, sizeof(float));
    *right = calloc((size_t)*frames, sizeof(float));
    ck_assert(*left && *right);
    int faults = 0;
    project_render(e, *left, *right, *frames, NULL, NULL, &faults);
    ck_assert_int_eq(faults, 0);
    engine_free(e);
    project_free(&p);
}

/* Every note starts at the sample the file's tempo map puts it at: the
 * ones after the tempo change too. */
START_TEST(test_onsets_follow_the_tempo_map)
{
    MidiImportOptions opt = { .patch = click_path, .drums = click_path, .base_dir = tmp_dir };
    char *text = import_song(song_path, &opt, NULL);
    float *left, *right;
    int64_t frames;
    render_document(text, &left, &right, &frames);
    free(text);

    Smf smf;
    char err[256];
    ck_assert_msg(smf_read_file(song_path, &smf, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(smf.n_notes, 10);
    int checked = 0, second_tempo = 0;
    for (size_t t = 0; t < smf.n_tracks; t++) {
        for (size_t i = 0; i < smf.tracks[t].n_notes; i++) {
            const SmfNote *n = &smf.tracks[t].notes[i];
            double at = n->start_seconds * RATE, until = n->end_seconds * RATE;
            /* every note here starts and ends on a whole sample */
            ck_assert(fabs(at - round(at)) < 1e-6 && fabs(until - round(until)) < 1e-6);
            long s = lround(at), e = lround(until);
            ck_assert_msg(left[s - (s > 0)] == 0.0f || s == 0, "note at %ld: sound before it", s);
            ck_assert_msg(left[s] != 0.0f, "note at %ld (%.6f s): silent at its sample", s, n->start_seconds);
            ck_assert_msg(left[e - 1] != 0.0f && left[e] == 0.0f, "note at %ld: does not end at %ld", s, e);
            second_tempo += n->start_beat > 4.0;
            checked++;
        }
    }
    ck_assert_int_eq(checked, 10);
    ck_assert_int_eq(second_tempo, 6);
    /* 2.7 s: beat 5.75 at 150 bpm after 2.0 s at 120 */
    ck_assert_float_ne(left[129600], 0.0f);
    ck_assert_float_eq(left[129599], 0.0f);
    ck_assert_int_eq(frames, (int64_t)llround((3.6 + 0.2) * RATE) + 2 * RATE);   /* to the last note end, + tail */
    smf_free(&smf);
    free(left);
    free(right);
}
END_TEST

/* ---- errors ---------------------------------------------------------------------------- */

START_TEST(test_malformed_files)
{
    char path[128], *json = NULL, err[512];
    snprintf(path, sizeof path, "%s/bad.mid", tmp_dir);
    write_file(path, "not a MIDI file at all", 22);
    ck_assert_int_eq(midi_import_file(path, NULL, &json, NULL, err, sizeof err), -1);
    ck_assert_ptr_null(json);
    ck_assert_msg(!strncmp(err, path, strlen(path)) && strstr(err, "MThd"), "%s", err);

    /* cut short in its second track */
    unsigned char *bytes;
    size_t len;
    FILE *fp = fopen(song_path, "rb");
    ck_assert_ptr_nonnull(fp);
    bytes = malloc(1 << 16);
    len = fread(bytes, 1, 1 << 16, fp);
    fclose(fp);
    write_file(path, bytes, len / 2);
    ck_assert_int_eq(midi_import_file(path, NULL, &json, NULL, err, sizeof err), -1);
    ck_assert_msg(!strncmp(err, path, strlen(path)), "%s", err);

    snprintf(path, sizeof path, "%s/none.mid", tmp_dir);
    ck_assert_int_eq(midi_import_file(path, NULL, &json, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "none.mid: No such file"), "%s", err);

    /* mutated files: an import or a message, never a crash */
    snprintf(path, sizeof path, "%s/mutant.mid", tmp_dir);
    uint32_t seed = 12345;
    int imported = 0;
    MidiImportOptions opt = { .patch = click_path, .drums = click_path, .base_dir = tmp_dir };
    for (int round = 0; round < 300; round++) {
        unsigned char *m = malloc(len);
        memcpy(m, bytes, len);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1664525u + 1013904223u;
            m[(seed >> 8) % len] ^= (unsigned char)(seed >> 24);
        }
        write_file(path, m, len);
        free(m);
        err[0] = '\0';
        if (midi_import_file(path, &opt, &json, NULL, err, sizeof err) == 0) {
            json_decref(parse(json));
            free(json);
            json = NULL;
            imported++;
        } else {
            ck_assert_msg(err[0] != '\0', "no message");
        }
    }
    ck_assert_int_gt(imported, 0);
    free(bytes);
}
END_TEST

/* A tempo the project format cannot hold is an error, named. */
START_TEST(test_tempo_out_of_range)
{
    char path[128], *json = NULL, err[512];
    snprintf(path, sizeof path, "%s/fast.mid", tmp_dir);
    const SmfWriteTempo fast[] = { { 0, 500000 }, { 960, 50000 } };   /* 1200 bpm at beat 2 */
    ck_assert_msg(make_song(path, fast, 2, err, sizeof err) == 0, "%s", err);
    MidiImportOptions opt = { .patch = click_path, .drums = click_path, .base_dir = tmp_dir };
    ck_assert_int_eq(midi_import_file(path, &opt, &json, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "fast.mid") && strstr(err, "1200 bpm") && strstr(err, "tick 960"), "%s", err);
}
END_TEST

/* ---- the command ------------------------------------------------------------------------ */

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void read_text(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, cap - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

START_TEST(test_amp_import_and_render)
{
    char cmd[2048], out[256], log[256], wav[256], text[4096];
    char dir[128];
    snprintf(dir, sizeof dir, "%s/proj", tmp_dir);
    mkdir(dir, 0755);
    snprintf(out, sizeof out, "%s/song.json", dir);
    snprintf(log, sizeof log, "%s/log.txt", tmp_dir);
    snprintf(cmd, sizeof cmd, "%s import %s --patch %s -o %s 2>%s", amp_bin, song_path, click_path, out, log);
    ck_assert_int_eq(run(cmd), 0);
    read_text(log, text, sizeof text);
    ck_assert_msg(strstr(text, "4 tracks (2 drums), 10 notes, 120 bpm and 1 tempo change, 4/4"), "%s", text);
    Project p;
    char err[1024];
    ck_assert_msg(project_load_file(out, &p, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(p.tracks[0].patch.file, "../click.amp");
    char joined[PATH_MAX], want[PATH_MAX], got[PATH_MAX];   /* drums: nodes/drums.amp, relative */
    ck_assert(p.tracks[1].patch.file[0] != '/');
    snprintf(joined, sizeof joined, "%s/%s", dir, p.tracks[1].patch.file);
    ck_assert_ptr_nonnull(realpath(joined, got));
    ck_assert_ptr_nonnull(realpath("nodes/drums.amp", want));
    ck_assert_str_eq(got, want);
    project_free(&p);

    /* render the MIDI file directly, every track through the patch */
    snprintf(wav, sizeof wav, "%s/song.wav", tmp_dir);
    snprintf(cmd, sizeof cmd, "%s render %s --patch %s:click --seconds 1 -o %s 2>%s", amp_bin, song_path,
             click_path, wav, log);
    ck_assert_int_eq(run(cmd), 0);
    WavData w;
    ck_assert_msg(wav_read_file(wav, &w, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(w.channels, 2);
    ck_assert_int_eq(w.frames, RATE);
    ck_assert_float_ne(w.data[0][0], 0.0f);          /* the first note, at 0 */
    ck_assert_float_ne(w.data[0][24000], 0.0f);      /* the drum at beat 1, through the same patch */
    wav_free(&w);

    /* a malformed file: exit 1, a message naming it */
    char bad[128];
    snprintf(bad, sizeof bad, "%s/garbage.mid", tmp_dir);
    write_file(bad, "MThd\0\0\0\6\0\1\0\2", 12);
    snprintf(cmd, sizeof cmd, "%s import %s -o %s/x.json 2>%s", amp_bin, bad, tmp_dir, log);
    ck_assert_int_eq(run(cmd), 1);
    read_text(log, text, sizeof text);
    ck_assert_msg(strstr(text, "garbage.mid: ") != NULL, "%s", text);
    snprintf(cmd, sizeof cmd, "%s render %s -o %s 2>%s", amp_bin, bad, wav, log);
    ck_assert_int_eq(run(cmd), 1);
    /* a patch's options do not apply */
    snprintf(cmd, sizeof cmd, "%s render %s --notes 60@0:1 -o %s 2>%s", amp_bin, song_path, wav, log);
    ck_assert_int_eq(run(cmd), 2);
}
END_TEST

/* ---- the JSON writer: jansson's bytes ------------------------------------------------ */

/* Reals, integers and strings written by json_write.c into one inline
 * array equal jansson's json_dumps of the same values, byte for byte. */
START_TEST(test_writer_prints_as_jansson)
{
    static const double reals[] = { 0.0, -0.0, 1.0, -2.5, 0.1, 1.0 / 3.0, 120.0, 1e16, 1e17, 1e20, 1.5e300,
                                    1e-5, 3.0518509475997192e-05, 5e-324, 1.7976931348623157e308, -1e-300,
                                    123456789012345678.0, 0.78740155696868896, 1e100, 2.5e-10 };
    static const long long ints[] = { 0, 1, -1, 127, 9223372036854775807LL, -9223372036854775807LL - 1 };
    char all_controls[32];
    for (int c = 1; c < 32; c++)
        all_controls[c - 1] = (char)c;
    all_controls[31] = '\0';
    const char *strings[] = { "", "plain", "quote \" back \\ slash /", all_controls, "\x7f del",
                              "Caf\xc3\xa9 \xf0\x9f\x8e\xb9 \xe2\x80\xa8" };
    JsonWriter w;
    json_write_init(&w);
    json_t *want = json_array();
    json_write_array(&w, NULL, JSON_WRITE_INLINE);
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        json_write_real(&w, NULL, reals[i]);
        json_array_append_new(want, json_real(reals[i]));
    }
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        json_write_integer(&w, NULL, ints[i]);
        json_array_append_new(want, json_integer(ints[i]));
    }
    json_write_object(&w, NULL, JSON_WRITE_INLINE);
    json_t *obj = json_object();
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "k\t%zu", i);
        json_write_string(&w, key, strings[i]);
        json_object_set_new(obj, key, json_string(strings[i]));
    }
    json_write_end(&w);
    json_array_append_new(want, obj);
    json_write_array(&w, NULL, JSON_WRITE_INLINE);
    json_write_end(&w);
    json_array_append_new(want, json_array());
    json_write_end(&w);
    size_t len;
    char *have = json_write_finish(&w, &len);
    char *expected = json_dumps(want, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    ck_assert_ptr_nonnull(have);
    ck_assert_str_eq(have, expected);
    ck_assert_uint_eq(len, strlen(expected));
    free(have);
    free(expected);
    json_decref(want);

    /* a block layout; an empty block container is "[]"; a non-finite real fails the writer */
    json_write_init(&w);
    json_write_object(&w, NULL, JSON_WRITE_BLOCK);
    json_write_array(&w, "a", JSON_WRITE_BLOCK);
    json_write_integer(&w, NULL, 1);
    json_write_object(&w, NULL, JSON_WRITE_INLINE);
    json_write_real(&w, "x", 2.0);
    json_write_end(&w);
    json_write_end(&w);
    json_write_array(&w, "b", JSON_WRITE_BLOCK);
    json_write_end(&w);
    json_write_end(&w);
    have = json_write_finish(&w, NULL);
    ck_assert_str_eq(have, "{\n  \"a\": [\n    1,\n    {\"x\": 2.0}\n  ],\n  \"b\": []\n}");
    free(have);
    json_write_init(&w);
    json_write_array(&w, NULL, JSON_WRITE_INLINE);
    json_write_real(&w, NULL, NAN);
    json_write_end(&w);
    ck_assert_ptr_null(json_write_finish(&w, NULL));
}
END_TEST

/* json_write_utf8_valid takes exactly what jansson's json_string takes. */
START_TEST(test_writer_utf8_as_jansson)
{
    static const char *const texts[] = {
        "ascii", "\xc3\xa9", "\xc2\x80", "\xc1\xbf", "\xc0\x80", "\xe0\xa0\x80", "\xe0\x9f\xbf", "\xed\x9f\xbf",
        "\xed\xa0\x80", "\xed\xbf\xbf", "\xee\x80\x80", "\xf0\x90\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf",
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\x80", "\xc3", "\xe2\x82", "\xe2\x28\xa1",
        "Caf\xe9", "\xf0\x9f\x8e\xb9 ok",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_t *j = json_string(texts[i]);
        ck_assert_msg(json_write_utf8_valid(texts[i], strlen(texts[i])) == (j != NULL), "text %zu", i);
        json_decref(j);
    }
}
END_TEST

/* ---- built-in patches, version 2 ------------------------------------------------------ */

/* Format 0, 480 ticks: 3/4 at 0, 7/8 at beat 6 (a bar line of 3/4), 5/8
 * at tick 4000 (not one of 7/8 from 6), 4/4 at beat 13; one note. */
static const unsigned char signatures_smf[] = {
    'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xe0,
    'M', 'T', 'r', 'k', 0, 0, 0, 47,
    0x00, 0xff, 0x58, 4, 3, 2, 24, 8,
    0x00, 0x90, 60, 100,
    0x96, 0x40, 0xff, 0x58, 4, 7, 3, 24, 8,             /* +2880: tick 2880, beat 6 */
    0x88, 0x60, 0xff, 0x58, 4, 5, 3, 24, 8,             /* +1120: tick 4000 */
    0x91, 0x40, 0xff, 0x58, 4, 4, 2, 24, 8,             /* +2240: tick 6240, beat 13 */
    0x00, 0x80, 60, 0,
    0x00, 0xff, 0x2f, 0,
};

START_TEST(test_builtin_patches_and_version2)
{
    MidiImportOptions opt = { .builtin = 1, .patch = "epiano.amp", .patch_unit = "epiano" };
    MidiImportSummary sum;
    char *text = import_song(song_path, &opt, &sum);
    ck_assert_ptr_nonnull(strstr(text, "\n      \"patch\": {\"builtin\": \"epiano.amp\", \"unit\": \"epiano\"},\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n      \"patch\": {\"builtin\": \"drums.amp\"},\n"));
    ck_assert_ptr_null(strstr(text, "nodes/"));
    ck_assert(!strncmp(text, "{\n  \"version\": 1,\n", 18));
    Project p;
    char err[1024];
    ck_assert_msg(project_load_text(text, strlen(text), "song", tmp_dir, &p, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(p.n_tracks, 4);
    project_free(&p);
    free(text);

    /* no file is read: a missing --nodes does not matter; a bad id is refused */
    opt = (MidiImportOptions){ .builtin = 1, .nodes_dir = "no/such/folder" };
    text = import_song(song_path, &opt, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"patch\": {\"builtin\": \"pad.amp\"}"));
    free(text);
    opt = (MidiImportOptions){ .builtin = 1, .drums = "../drums.amp" };
    ck_assert_int_eq(midi_import_file(song_path, &opt, &text, NULL, err, sizeof err), -1);
    ck_assert_str_eq(err, "drums patch '../drums.amp': expected a path in the built-in library such as "
                          "\"epiano.amp\" (folders and a .amp file of letters, digits and _ . + -, relative, no "
                          "segment starting with '.')");

    /* version 1 keeps the first signature; version 2 the changes on bar lines */
    opt = (MidiImportOptions){ .builtin = 1 };
    ck_assert_int_eq(midi_import_memory(signatures_smf, sizeof signatures_smf, "sigs.mid", &opt, &text, &sum, err,
                                        sizeof err), 0);
    ck_assert_ptr_null(strstr(text, "time_signature_changes"));
    ck_assert_ptr_nonnull(strstr(text, "\"time_signature\": [3, 4],"));
    ck_assert_int_eq(sum.time_signatures_dropped, 3);
    char lines[1024];
    midi_import_warnings("sigs.mid", &sum, lines, sizeof lines);
    ck_assert_str_eq(lines, "sigs.mid: 3 time signature changes not kept (a project has one)\n");
    free(text);
    opt.version = 2;
    ck_assert_int_eq(midi_import_memory(signatures_smf, sizeof signatures_smf, "sigs.mid", &opt, &text, &sum, err,
                                        sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(text, "{\n  \"version\": 2,\n  \"sample_rate\": 48000,\n  \"tempo\": 120.0,\n"
                                       "  \"time_signature\": [3, 4],\n  \"time_signature_changes\": [\n"
                                       "    {\"beat\": 6.0, \"num\": 7, \"den\": 8},\n"
                                       "    {\"beat\": 13.0, \"num\": 4, \"den\": 4}\n  ],\n"));
    ck_assert_int_eq(sum.time_signatures_dropped, 1);
    ck_assert_int_eq(sum.version, 2);
    midi_import_warnings("sigs.mid", &sum, lines, sizeof lines);
    ck_assert_str_eq(lines, "sigs.mid: 1 time signature change not kept (not on a bar line of the signature "
                            "before, or not one a project holds)\n");
    ck_assert_msg(project_load_text(text, strlen(text), "sigs", tmp_dir, &p, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(p.n_sig_changes, 2);
    project_free(&p);
    free(text);

    /* the reader's errors name the file as midi_import_file's do */
    ck_assert_int_eq(midi_import_memory(signatures_smf, 20, "cut.mid", &opt, &text, &sum, err, sizeof err), -1);
    ck_assert_msg(!strncmp(err, "cut.mid: ", 9), "%s", err);
}
END_TEST

static Suite *midi_import_suite(void)
{
    Suite *s = suite_create("midi_import");
    TCase *doc = tcase_create("document");
    tcase_add_test(doc, test_document);
    tcase_add_test(doc, test_default_patches_are_relative);
    suite_add_tcase(s, doc);
    TCase *render = tcase_create("render");
    tcase_add_test(render, test_onsets_follow_the_tempo_map);
    tcase_set_timeout(render, 300);
    suite_add_tcase(s, render);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_malformed_files);
    tcase_add_test(errors, test_tempo_out_of_range);
    suite_add_tcase(s, errors);
    TCase *writer = tcase_create("writer");
    tcase_add_test(writer, test_writer_prints_as_jansson);
    tcase_add_test(writer, test_writer_utf8_as_jansson);
    tcase_add_test(writer, test_builtin_patches_and_version2);
    suite_add_tcase(s, writer);
    TCase *cli = tcase_create("cli");
    tcase_add_test(cli, test_amp_import_and_render);
    tcase_set_timeout(cli, 300);
    suite_add_tcase(s, cli);
    return s;
}

int main(int argc, char **argv)
{
    (void)argc;
    if (testutil_amp_setup(argv[0], "check_midi_import", amp_bin, sizeof amp_bin, tmp_dir, sizeof tmp_dir))
        return EXIT_FAILURE;
    snprintf(song_path, sizeof song_path, "%s/song.mid", tmp_dir);
    snprintf(click_path, sizeof click_path, "%s/click.amp", tmp_dir);
    FILE *fp = fopen(click_path, "w");
    if (!fp || fputs(click_text, fp) < 0 || fclose(fp) != 0) {
        perror(click_path);
        return EXIT_FAILURE;
    }
    /* the song, outside any test (each test runs in a fork) */
    char err[256];
    if (make_song(song_path, tempos, 2, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return EXIT_FAILURE;
    }
    int rc = testutil_run(midi_import_suite());
    testutil_remove_tree(tmp_dir);
    return rc;
}
