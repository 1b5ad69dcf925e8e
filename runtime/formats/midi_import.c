/* midi_import.c — Standard MIDI File -> project document (see
 * midi_import.h for the mapping and runtime/formats/PROJECT.md for the format).
 *
 * The document is written as it goes by our JSON writer (json_write.h) in
 * a fixed key order, after a first pass that finds every error and the
 * numbers written ahead of the tracks: containers of scalars on one line
 * (a note, a tempo change, the time signature), the rest indented, so a
 * file of thousands of notes stays one line per note and diffs well. The
 * bytes are those the jansson tree of before printed. No file is read
 * with AMP_NO_FILES (engine.wasm): there the patches are built-in ids.
 */
#include "util.h"
#include "midi_import.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_write.h"
#include "project.h"             /* the format's constants only */
#include "project_read.h"        /* project_builtin_id_valid */

#define MAX_BPM 1000.0           /* the project format's tempo range */
#define MIN_BPM 1.0

int midi_import_is_midi(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return 0;
    return !strcasecmp(dot, ".mid") || !strcasecmp(dot, ".midi") || !strcasecmp(dot, ".smf");
}

/* ---- paths ----------------------------------------------------------------- */

#ifndef AMP_NO_FILES
/* The '/'-separated components of an absolute path, in place. */
static int split_path(char *path, char **parts, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(path, "/", &save); p && n < max; p = strtok_r(NULL, "/", &save))
        parts[n++] = p;
    return n;
}
#endif

#define MAX_DEPTH 256

/* `file` relative to the folder `dir`: both resolved (symbolic links,
 * "..") first, so the result holds wherever the two are. NULL with a
 * message when either does not exist. */
static char *relative_path(const char *dir, const char *file, const char *what, char *err, size_t errlen)
{
#ifdef AMP_NO_FILES                      /* engine.wasm: no files, built-in patches only */
    (void)dir;
    fail(err, errlen, "%s %s: this build reads no files (name a built-in patch)", what, file);
    return NULL;
#else
    char *abs_file = realpath(file, NULL);
    if (!abs_file) {
        fail(err, errlen, "%s %s: %s", what, file, strerror(errno));
        return NULL;
    }
    char *abs_dir = realpath(dir, NULL);
    if (!abs_dir) {
        fail(err, errlen, "folder %s: %s", dir, strerror(errno));
        free(abs_file);
        return NULL;
    }
    char *dparts[MAX_DEPTH], *fparts[MAX_DEPTH];
    int nd = split_path(abs_dir, dparts, MAX_DEPTH), nf = split_path(abs_file, fparts, MAX_DEPTH);
    int common = 0;
    while (common < nd && common < nf - 1 && !strcmp(dparts[common], fparts[common]))
        common++;
    size_t len = 1;
    for (int i = common; i < nd; i++)
        len += 3;
    for (int i = common; i < nf; i++)
        len += strlen(fparts[i]) + 1;
    char *out = malloc(len);
    if (out) {
        out[0] = '\0';
        for (int i = common; i < nd; i++)
            strcat(out, "../");
        for (int i = common; i < nf; i++) {
            strcat(out, fparts[i]);
            if (i + 1 < nf)
                strcat(out, "/");
        }
    } else {
        fail(err, errlen, "out of memory");
    }
    free(abs_dir);
    free(abs_file);
    return out;
#endif
}

static const char *last_component(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* ---- JSON ------------------------------------------------------------------------- */

/* A string value; text that is not UTF-8 (old files use Latin-1 and
 * others) is read as Latin-1. */
static void write_text(JsonWriter *w, const char *key, const char *s)
{
    size_t n = strlen(s);
    if (json_write_utf8_valid(s, n)) {
        json_write_string(w, key, s);
        return;
    }
    char *u = malloc(2 * n + 1);
    if (!u) {
        w->failed = true;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            u[k++] = (char)c;
        } else {
            u[k++] = (char)(0xC0 | (c >> 6));
            u[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    u[k] = '\0';
    json_write_string(w, key, u);
    free(u);
}

/* ---- the document --------------------------------------------------------------------- */

/* The "patch" of one kind of track: a file (relative to the document's
 * folder) or a built-in library id, and the unit. */
typedef struct ImportPatch {
    char *path;                  /* malloc'd: the relative path, or the built-in id */
    const char *unit;            /* NULL: the file's default unit */
    bool builtin;
} ImportPatch;

/* One import: the file, the two patches, the summary so far, the text. */
typedef struct MidiImporter {
    const Smf *smf;
    const char *name;
    int version;                 /* of the document: 1 or 2 */
    ImportPatch patch, drums;       /* the "patch" values of the two kinds of track */
    MidiImportSummary sum;
    JsonWriter w;
    char *err;
    size_t errlen;
} MidiImporter;

/* A patch for the document: the file's path relative to `base` (it must
 * exist), or a built-in id (checked as the project reader checks one). */
static int patch_ref(ImportPatch *ref, bool builtin, const char *base, const char *file, const char *unit,
                     const char *what, char *err, size_t errlen)
{
    ref->unit = unit;
    ref->builtin = builtin;
    if (builtin) {
        if (!project_builtin_id_valid(file))
            return fail(err, errlen,
                        "%s '%s': expected a path in the built-in library such as \"epiano.amp\" (folders and a "
                        ".amp file of letters, digits and _ . + -, relative, no segment starting with '.')",
                        what, file);
        ref->path = strdup(file);
    } else {
        ref->path = relative_path(base, file, what, err, errlen);
        if (!ref->path)
            return -1;
    }
    /* Text that is not UTF-8 cannot go into the document (jansson's
     * json_string refused it, and the message was this one). */
    if (!ref->path || !json_write_utf8_valid(ref->path, strlen(ref->path)) ||
        (unit && !json_write_utf8_valid(unit, strlen(unit))))
        return fail(err, errlen, "out of memory");
    return 0;
}

/* "patch": the path, {"file", "unit"} when a unit is named, or
 * {"builtin"[, "unit"]}. */
static void write_patch(JsonWriter *w, const ImportPatch *ref)
{
    if (!ref->builtin && !ref->unit) {
        json_write_string(w, "patch", ref->path);
        return;
    }
    json_write_object(w, "patch", JSON_WRITE_INLINE);
    json_write_string(w, ref->builtin ? "builtin" : "file", ref->path);
    if (ref->unit)
        json_write_string(w, "unit", ref->unit);
    json_write_end(w);
}

/* Beats a note lasts: at least one tick. */
static double note_length(const Smf *smf, const SmfNote *n)
{
    if (n->end_tick > n->start_tick && n->length_beats > 0.0)
        return n->length_beats;
    return smf_tick_to_beats(smf, n->start_tick + 1) - n->start_beat;
}

/* The notes of SMF track `t` on the drum channel (drums) or on the
 * others: how many, and the beat the last one ends. */
static size_t count_notes(const Smf *smf, size_t t, bool drums, double *end)
{
    const SmfTrack *st = &smf->tracks[t];
    size_t count = 0;
    *end = 0.0;
    for (size_t i = 0; i < st->n_notes; i++) {
        const SmfNote *n = &st->notes[i];
        if ((n->channel == MIDI_IMPORT_DRUM_CHANNEL) != drums)
            continue;
        double length = note_length(smf, n);
        *end = n->start_beat + length > *end ? n->start_beat + length : *end;
        count++;
    }
    return count;
}

/* Whether SMF track `t` has notes on channel 10 and on others. */
static bool has_both(const Smf *smf, size_t t)
{
    double end;
    return count_notes(smf, t, true, &end) && count_notes(smf, t, false, &end);
}

/* One project track with the notes of SMF track `t` on the drum channel
 * (drums) or on the others, `count` of them ending at `end`. */
static void write_track(MidiImporter *im, size_t t, bool drums, int id, size_t count, double end)
{
    const SmfTrack *st = &im->smf->tracks[t];
    JsonWriter *w = &im->w;
    char name[300];
    if (st->name && st->name[0])
        snprintf(name, sizeof name, "%s%s", st->name, drums && has_both(im->smf, t) ? " (drums)" : "");
    else if (drums)
        snprintf(name, sizeof name, "Drums");
    else
        snprintf(name, sizeof name, "Track %zu", t + 1);
    json_write_object(w, NULL, JSON_WRITE_BLOCK);
    json_write_integer(w, "id", id);
    write_text(w, "name", name);
    json_write_string(w, "kind", "instrument");
    write_patch(w, drums ? &im->drums : &im->patch);
    json_write_array(w, "clips", JSON_WRITE_BLOCK);
    json_write_object(w, NULL, JSON_WRITE_BLOCK);
    json_write_real(w, "start_beat", 0.0);
    json_write_real(w, "length_beats", end);
    json_write_array(w, "notes", JSON_WRITE_BLOCK);
    for (size_t i = 0; i < st->n_notes; i++) {
        const SmfNote *n = &st->notes[i];
        if ((n->channel == MIDI_IMPORT_DRUM_CHANNEL) != drums)
            continue;
        json_write_object(w, NULL, JSON_WRITE_INLINE);
        json_write_integer(w, "key", n->key);
        json_write_real(w, "start_beat", n->start_beat);
        json_write_real(w, "length_beats", note_length(im->smf, n));
        json_write_real(w, "velocity", (double)n->velocity);
        json_write_end(w);
    }
    json_write_end(w);                   /* notes */
    json_write_end(w);                   /* the clip */
    json_write_end(w);                   /* clips */
    json_write_object(w, "ui", JSON_WRITE_INLINE);
    json_write_integer(w, "midi_track", (long long)t);
    json_write_end(w);
    json_write_end(w);
    im->sum.notes += count;
    im->sum.drum_tracks += drums;
}

/* Every tempo within the format's range; the summary's tempo. */
static int check_tempo(MidiImporter *im)
{
    const Smf *smf = im->smf;
    for (size_t i = 0; i < smf->n_tempos; i++)
        if (!(smf->tempos[i].bpm >= MIN_BPM && smf->tempos[i].bpm <= MAX_BPM))
            return fail(im->err, im->errlen,
                        "%s: tempo %.6g bpm at tick %llu is outside the project format's %g to %g bpm",
                        im->name, smf->tempos[i].bpm, (unsigned long long)smf->tempos[i].tick, MIN_BPM, MAX_BPM);
    im->sum.tempo = smf->n_tempos ? smf->tempos[0].bpm : 120.0;
    return 0;
}

/* "tempo" and, when the tempo changes, "tempo_changes". */
static void write_tempo(MidiImporter *im)
{
    const Smf *smf = im->smf;
    JsonWriter *w = &im->w;
    double bpm = im->sum.tempo;
    json_write_real(w, "tempo", bpm);
    for (size_t i = 1; i < smf->n_tempos; i++) {
        if (smf->tempos[i].bpm == bpm)
            continue;                    /* no change */
        bpm = smf->tempos[i].bpm;
        if (im->sum.tempo_changes++ == 0)
            json_write_array(w, "tempo_changes", JSON_WRITE_BLOCK);
        json_write_object(w, NULL, JSON_WRITE_INLINE);
        json_write_real(w, "beat", smf->tempos[i].beat);
        json_write_real(w, "bpm", bpm);
        json_write_end(w);
    }
    if (im->sum.tempo_changes)
        json_write_end(w);
}

static bool signature_valid(int num, int den)
{
    return num >= 1 && num <= 64 && den >= 1 && den <= 64 && !(den & (den - 1));
}

#define MAX_SIGNATURE_CHANGES 4096       /* the project format's */
#define MAX_SIGNATURE_BEAT 1e6

/* "time_signature": the file's at tick 0; in version 2 also
 * "time_signature_changes": each later one the format can hold (a real
 * change, on a bar line of the signature before it, as project_read.c
 * checks). The others are counted as dropped. */
static void write_time_signature(MidiImporter *im)
{
    const Smf *smf = im->smf;
    JsonWriter *w = &im->w;
    int num = 4, den = 4;
    size_t first_change = 0;
    if (smf->n_time_sigs > 0) {
        const SmfTimeSig *ts = &smf->time_sigs[0];
        if (signature_valid(ts->numerator, ts->denominator)) {
            num = ts->numerator;
            den = ts->denominator;
        } else {
            im->sum.time_signatures_dropped++;
        }
        first_change = 1;
    }
    im->sum.sig_num = num;
    im->sum.sig_den = den;
    json_write_array(w, "time_signature", JSON_WRITE_INLINE);
    json_write_integer(w, NULL, num);
    json_write_integer(w, NULL, den);
    json_write_end(w);
    if (im->version < 2) {
        if (smf->n_time_sigs > first_change)
            im->sum.time_signatures_dropped += (int)(smf->n_time_sigs - first_change);
        return;
    }
    double from = 0.0;
    int kept = 0;
    for (size_t i = first_change; i < smf->n_time_sigs; i++) {
        const SmfTimeSig *ts = &smf->time_sigs[i];
        double beat = smf_tick_to_beats(smf, ts->tick);
        double bar = num * 4.0 / den;
        if (ts->numerator == num && ts->denominator == den)
            continue;                    /* no change */
        if (!signature_valid(ts->numerator, ts->denominator) || beat <= from || beat > MAX_SIGNATURE_BEAT ||
            fmod(beat - from, bar) != 0.0 || kept == MAX_SIGNATURE_CHANGES) {
            im->sum.time_signatures_dropped++;
            continue;
        }
        if (kept++ == 0)
            json_write_array(w, "time_signature_changes", JSON_WRITE_BLOCK);
        json_write_object(w, NULL, JSON_WRITE_INLINE);
        json_write_real(w, "beat", beat);
        json_write_integer(w, "num", ts->numerator);
        json_write_integer(w, "den", ts->denominator);
        json_write_end(w);
        from = beat;
        num = ts->numerator;
        den = ts->denominator;
    }
    if (kept)
        json_write_end(w);
}

/* The project tracks: how many, and the end of the last note. */
static int count_tracks(MidiImporter *im)
{
    int n = 0;
    for (size_t t = 0; t < im->smf->n_tracks; t++)
        for (int drums = 0; drums < 2; drums++) {
            double end;
            if (!count_notes(im->smf, t, drums, &end))
                continue;
            n++;
            im->sum.length_beats = end > im->sum.length_beats ? end : im->sum.length_beats;
        }
    if (n > ENGINE_MAX_TRACKS)
        return fail(im->err, im->errlen, "%s: %d tracks with notes; a project holds at most %d", im->name, n,
                    ENGINE_MAX_TRACKS);
    im->sum.tracks = n;
    double end = smf_tick_to_beats(im->smf, im->smf->end_tick);
    if (end > im->sum.length_beats)
        im->sum.length_beats = end;
    return 0;
}

static void write_tracks(MidiImporter *im)
{
    json_write_array(&im->w, "tracks", JSON_WRITE_BLOCK);
    int id = 1;
    for (size_t t = 0; t < im->smf->n_tracks; t++)
        for (int drums = 0; drums < 2; drums++) {
            double end;
            size_t count = count_notes(im->smf, t, drums, &end);
            if (count)
                write_track(im, t, drums, id++, count, end);
        }
    json_write_end(&im->w);
}

static void write_document(MidiImporter *im, int rate)
{
    const Smf *smf = im->smf;
    JsonWriter *w = &im->w;
    json_write_object(w, NULL, JSON_WRITE_BLOCK);
    json_write_integer(w, "version", im->version);
    json_write_integer(w, "sample_rate", rate);
    write_tempo(im);
    write_time_signature(im);
    json_write_real(w, "length_beats", im->sum.length_beats);
    write_tracks(im);
    json_write_object(w, "ui", JSON_WRITE_BLOCK);
    json_write_object(w, "imported_from", JSON_WRITE_INLINE);
    write_text(w, "file", last_component(im->name));
    json_write_integer(w, "format", smf->format);
    if (smf->ticks_per_quarter)
        json_write_integer(w, "ticks_per_quarter", smf->ticks_per_quarter);
    else
        json_write_real(w, "smpte_fps", smf->smpte_fps);
    json_write_end(w);
    json_write_end(w);
    json_write_end(w);
    json_write_raw(w, "\n");
}

int midi_import_smf(const Smf *smf, const char *name, const MidiImportOptions *opt, char **json,
                    MidiImportSummary *sum, char *err, size_t errlen)
{
    MidiImportOptions def = { 0 };
    if (!opt)
        opt = &def;
    *json = NULL;
    if (opt->version < 0 || opt->version > 2)
        return fail(err, errlen, "an import writes version 1 or 2 documents, not %d", opt->version);
    const char *nodes = opt->nodes_dir ? opt->nodes_dir : "nodes";
    const char *base = opt->base_dir ? opt->base_dir : ".";
    char pad[4096], drums[4096];
    if (opt->builtin) {
        snprintf(pad, sizeof pad, "pad.amp");
        snprintf(drums, sizeof drums, "drums.amp");
    } else {
        snprintf(pad, sizeof pad, "%s/pad.amp", nodes);
        snprintf(drums, sizeof drums, "%s/drums.amp", nodes);
    }

    /* Version 1 by default: an import needs none of version 2's fields,
     * and keeps its fixed 2 s tail (PROJECT.md). Version 2 (the DAW's)
     * adds the signature changes and renders with the tail rule. */
    MidiImporter im = { .smf = smf, .name = name ? name : "MIDI file", .version = opt->version ? opt->version : 1,
                        .err = err, .errlen = errlen };
    json_write_init(&im.w);
    int rc = -1;
    if (patch_ref(&im.patch, opt->builtin, base, opt->patch ? opt->patch : pad, opt->patch_unit, "patch", err,
                  errlen) ||
        patch_ref(&im.drums, opt->builtin, base, opt->drums ? opt->drums : drums, opt->drums_unit, "drums patch",
                  err, errlen) ||
        check_tempo(&im) || count_tracks(&im))
        goto done;
    int rate = opt->sample_rate > 0 ? opt->sample_rate : PROJECT_DEFAULT_RATE;
    write_document(&im, rate);
    *json = json_write_finish(&im.w, NULL);
    if (!*json) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    im.sum.warnings = smf->warnings;
    im.sum.version = im.version;
    if (sum)
        *sum = im.sum;
    rc = 0;
done:
    json_write_free(&im.w);
    free(im.patch.path);
    free(im.drums.path);
    return rc;
}

int midi_import_memory(const void *bytes, size_t len, const char *name, const MidiImportOptions *opt, char **json,
                       MidiImportSummary *sum, char *err, size_t errlen)
{
    *json = NULL;
    Smf smf;
    char why[512];
    if (!name)
        name = "MIDI file";
    if (smf_read(bytes, len, &smf, why, sizeof why))
        return fail(err, errlen, "%s: %s", name, why);
    int rc = midi_import_smf(&smf, name, opt, json, sum, err, errlen);
    smf_free(&smf);
    return rc;
}

/* Each warning of the import, as a line "name: ..." (amp prints them
 * after "amp: warning: "). */
size_t midi_import_warnings(const char *name, const MidiImportSummary *s, char *out, size_t outlen)
{
    const SmfWarnings *w = &s->warnings;
    size_t n = 0;
    if (outlen)
        out[0] = '\0';
#define LINE(...)                                                                     \
    do {                                                                              \
        int k = snprintf(out + n, n < outlen ? outlen - n : 0, __VA_ARGS__);          \
        n += k > 0 ? (size_t)k : 0;                                                   \
    } while (0)
    if (w->unterminated_notes)
        LINE("%s: %u note%s without a note-off ended at the end of the track\n", name, w->unterminated_notes,
             w->unterminated_notes == 1 ? "" : "s");
    if (w->orphan_note_offs)
        LINE("%s: %u note-off%s without a note dropped\n", name, w->orphan_note_offs,
             w->orphan_note_offs == 1 ? "" : "s");
    if (w->bad_meta)
        LINE("%s: %u malformed tempo or time signature event%s ignored\n", name, w->bad_meta,
             w->bad_meta == 1 ? "" : "s");
    if (w->missing_end_of_track || w->bytes_after_end_of_track)
        LINE("%s: %u track%s without an end-of-track event, %u with bytes after it\n", name,
             w->missing_end_of_track, w->missing_end_of_track == 1 ? "" : "s", w->bytes_after_end_of_track);
    if (s->time_signatures_dropped)
        LINE("%s: %d time signature change%s not kept (%s)\n", name, s->time_signatures_dropped,
             s->time_signatures_dropped == 1 ? "" : "s",
             s->version >= 2 ? "not on a bar line of the signature before, or not one a project holds"
                            : "a project has one");
#undef LINE
    return n;
}

#ifndef AMP_NO_FILES
int midi_import_file(const char *path, const MidiImportOptions *opt, char **json, MidiImportSummary *sum,
                     char *err, size_t errlen)
{
    *json = NULL;
    Smf smf;
    char why[512];
    if (smf_read_file(path, &smf, why, sizeof why)) {
        /* smf_read_file names the file in I/O errors, not in format errors. */
        size_t n = strlen(path);
        if (!strncmp(why, path, n) && why[n] == ':')
            fail(err, errlen, "%s", why);
        else
            fail(err, errlen, "%s: %s", path, why);
        return -1;
    }
    int rc = midi_import_smf(&smf, path, opt, json, sum, err, errlen);
    smf_free(&smf);
    return rc;
}
#endif
