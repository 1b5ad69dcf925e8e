/* midi_import.c — Standard MIDI File -> project document (see
 * midi_import.h for the mapping and runtime/formats/PROJECT.md for the format).
 *
 * The document is built as a jansson tree in a fixed key order, then
 * printed by print_value below: containers of scalars on one line (a note,
 * a tempo change, the time signature), the rest indented, so a file of
 * thousands of notes stays one line per note and diffs well.
 */
#include "util.h"
#include "midi_import.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "project.h"             /* the format's constants only: nothing here reads or loads a project */

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

/* The '/'-separated components of an absolute path, in place. */
static int split_path(char *path, char **parts, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(path, "/", &save); p && n < max; p = strtok_r(NULL, "/", &save))
        parts[n++] = p;
    return n;
}

#define MAX_DEPTH 256

/* `file` relative to the folder `dir`: both resolved (symbolic links,
 * "..") first, so the result holds wherever the two are. NULL with a
 * message when either does not exist. */
static char *relative_path(const char *dir, const char *file, const char *what, char *err, size_t errlen)
{
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
}

static const char *last_component(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* ---- JSON -------------------------------------------------------------------------- */

/* A string value; text that is not UTF-8 (old files use Latin-1 and
 * others) is read as Latin-1. */
static json_t *text_value(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *u = malloc(2 * n + 1);
    if (!u)
        return NULL;
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
    j = json_string(u);
    free(u);
    return j;
}

/* Set obj[key] = value, stealing the reference; false when out of memory. */
static bool put(json_t *obj, const char *key, json_t *value)
{
    return value && json_object_set_new(obj, key, value) == 0;
}

static bool append(json_t *arr, json_t *value)
{
    return value && json_array_append_new(arr, value) == 0;
}

static bool is_container(const json_t *v)
{
    return json_is_object(v) || json_is_array(v);
}

/* Scalars, and containers of scalars only, go on one line. */
static bool one_line(json_t *v)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *x;
        json_object_foreach(v, key, x)
            if (is_container(x))
                return false;
        return true;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
            if (is_container(x))
                return false;
    }
    return true;
}

static bool print_inline(FILE *out, json_t *v)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!text)
        return false;
    fputs(text, out);
    free(text);
    return true;
}

static bool print_value(FILE *out, json_t *v, int indent)
{
    if (one_line(v))
        return print_inline(out, v);
    bool ok = true;
    if (json_is_object(v)) {
        fputs("{\n", out);
        const char *key;
        json_t *x;
        size_t left = json_object_size(v);
        json_object_foreach(v, key, x) {
            fprintf(out, "%*s", indent + 2, "");
            json_t *k = json_string(key);
            ok = ok && k && print_inline(out, k);
            json_decref(k);
            fputs(": ", out);
            ok = ok && print_value(out, x, indent + 2);
            fputs(--left ? ",\n" : "\n", out);
        }
        fprintf(out, "%*s}", indent, "");
        return ok;
    }
    fputs("[\n", out);
    size_t i, n = json_array_size(v);
    json_t *x;
    json_array_foreach(v, i, x) {
        fprintf(out, "%*s", indent + 2, "");
        ok = ok && print_value(out, x, indent + 2);
        fputs(i + 1 < n ? ",\n" : "\n", out);
    }
    fprintf(out, "%*s]", indent, "");
    return ok;
}

/* ---- the document --------------------------------------------------------------------- */

/* One import: the file, the two "patch" values, the summary so far. */
typedef struct MidiImporter {
    const Smf *smf;
    const char *name;
    json_t *patch, *drums;       /* the "patch" values of the two kinds of track */
    MidiImportSummary sum;
    char *err;
    size_t errlen;
} MidiImporter;

/* "patch": the path, or {"file", "unit"} when a unit is named. */
static json_t *patch_value(const char *base, const char *file, const char *unit, const char *what, char *err,
                           size_t errlen)
{
    char *rel = relative_path(base, file, what, err, errlen);
    if (!rel)
        return NULL;
    json_t *v;
    if (unit) {
        v = json_object();
        if (v && (!put(v, "file", json_string(rel)) || !put(v, "unit", json_string(unit)))) {
            json_decref(v);
            v = NULL;
        }
    } else {
        v = json_string(rel);
    }
    free(rel);
    if (!v)
        fail(err, errlen, "out of memory");
    return v;
}

/* Beats a note lasts: at least one tick. */
static double note_length(const Smf *smf, const SmfNote *n)
{
    if (n->end_tick > n->start_tick && n->length_beats > 0.0)
        return n->length_beats;
    return smf_tick_to_beats(smf, n->start_tick + 1) - n->start_beat;
}

/* One project track with the notes of SMF track `t` on the drum channel
 * (drums) or on the others. NULL and *none when it has no such notes. */
static json_t *make_track(MidiImporter *im, size_t t, bool drums, int id, bool also_other, bool *none)
{
    const SmfTrack *st = &im->smf->tracks[t];
    *none = true;
    json_t *notes = json_array();
    if (!notes)
        return NULL;
    double end = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < st->n_notes; i++) {
        const SmfNote *n = &st->notes[i];
        if ((n->channel == MIDI_IMPORT_DRUM_CHANNEL) != drums)
            continue;
        double length = note_length(im->smf, n);
        json_t *note = json_pack("{s:i, s:f, s:f, s:f}", "key", n->key, "start_beat", n->start_beat,
                                 "length_beats", length, "velocity", (double)n->velocity);
        if (!append(notes, note)) {
            json_decref(notes);
            return NULL;
        }
        end = n->start_beat + length > end ? n->start_beat + length : end;
        count++;
    }
    if (count == 0) {
        json_decref(notes);
        return NULL;
    }
    *none = false;
    char name[300];
    if (st->name && st->name[0])
        snprintf(name, sizeof name, "%s%s", st->name, drums && also_other ? " (drums)" : "");
    else if (drums)
        snprintf(name, sizeof name, "Drums");
    else
        snprintf(name, sizeof name, "Track %zu", t + 1);
    /* json_pack keeps the keys in this order; "o" passes on our reference
     * (released on failure too), "O" adds one. */
    json_t *track = json_pack("{s:i, s:o, s:s, s:O, s:[{s:f, s:f, s:o}], s:{s:I}}", "id", id, "name",
                              text_value(name), "kind", "instrument", "patch", drums ? im->drums : im->patch,
                              "clips", "start_beat", 0.0, "length_beats", end, "notes", notes, "ui",
                              "midi_track", (json_int_t)t);
    if (!track)
        return NULL;
    im->sum.notes += count;
    im->sum.drum_tracks += drums;
    im->sum.tracks++;
    im->sum.length_beats = end > im->sum.length_beats ? end : im->sum.length_beats;
    return track;
}

static int add_tempo(MidiImporter *im, json_t *doc)
{
    const Smf *smf = im->smf;
    for (size_t i = 0; i < smf->n_tempos; i++)
        if (!(smf->tempos[i].bpm >= MIN_BPM && smf->tempos[i].bpm <= MAX_BPM))
            return fail(im->err, im->errlen,
                        "%s: tempo %.6g bpm at tick %llu is outside the project format's %g to %g bpm",
                        im->name, smf->tempos[i].bpm, (unsigned long long)smf->tempos[i].tick, MIN_BPM, MAX_BPM);
    double bpm = smf->n_tempos ? smf->tempos[0].bpm : 120.0;
    im->sum.tempo = bpm;
    if (!put(doc, "tempo", json_real(bpm)))
        return fail(im->err, im->errlen, "out of memory");
    json_t *changes = json_array();
    if (!changes)
        return fail(im->err, im->errlen, "out of memory");
    for (size_t i = 1; i < smf->n_tempos; i++) {
        if (smf->tempos[i].bpm == bpm)
            continue;                    /* no change */
        bpm = smf->tempos[i].bpm;
        json_t *c = json_object();
        if (!c || !put(c, "beat", json_real(smf->tempos[i].beat)) || !put(c, "bpm", json_real(bpm)) ||
            !append(changes, c)) {
            json_decref(c);
            json_decref(changes);
            return fail(im->err, im->errlen, "out of memory");
        }
        im->sum.tempo_changes++;
    }
    if (json_array_size(changes) == 0) {
        json_decref(changes);
        return 0;
    }
    return put(doc, "tempo_changes", changes) ? 0 : fail(im->err, im->errlen, "out of memory");
}

static int add_time_signature(MidiImporter *im, json_t *doc)
{
    const Smf *smf = im->smf;
    int num = 4, den = 4;
    if (smf->n_time_sigs > 0) {
        const SmfTimeSig *ts = &smf->time_sigs[0];
        if (ts->numerator >= 1 && ts->numerator <= 64 && ts->denominator >= 1 && ts->denominator <= 64 &&
            !(ts->denominator & (ts->denominator - 1))) {
            num = ts->numerator;
            den = ts->denominator;
        } else {
            im->sum.time_signatures_dropped++;
        }
        im->sum.time_signatures_dropped += (int)(smf->n_time_sigs - 1);
    }
    im->sum.sig_num = num;
    im->sum.sig_den = den;
    json_t *sig = json_pack("[ii]", num, den);
    return put(doc, "time_signature", sig) ? 0 : fail(im->err, im->errlen, "out of memory");
}

static int add_tracks(MidiImporter *im, json_t *doc)
{
    json_t *tracks = json_array();
    if (!tracks)
        return fail(im->err, im->errlen, "out of memory");
    int id = 1;
    for (size_t t = 0; t < im->smf->n_tracks; t++) {
        for (int drums = 0; drums < 2; drums++) {
            bool none, other_none = true;
            if (drums) {                 /* does this SMF track also have other notes? */
                for (size_t i = 0; i < im->smf->tracks[t].n_notes && other_none; i++)
                    other_none = im->smf->tracks[t].notes[i].channel == MIDI_IMPORT_DRUM_CHANNEL;
            }
            json_t *track = make_track(im, t, drums, id, !other_none, &none);
            if (none)
                continue;
            if (!track || !append(tracks, track)) {
                json_decref(tracks);
                return fail(im->err, im->errlen, "out of memory");
            }
            id++;
        }
    }
    if (json_array_size(tracks) > ENGINE_MAX_TRACKS) {
        size_t n = json_array_size(tracks);
        json_decref(tracks);
        return fail(im->err, im->errlen, "%s: %zu tracks with notes; a project holds at most %d", im->name, n,
                    ENGINE_MAX_TRACKS);
    }
    double end = smf_tick_to_beats(im->smf, im->smf->end_tick);
    if (end > im->sum.length_beats)
        im->sum.length_beats = end;
    if (!put(doc, "length_beats", json_real(im->sum.length_beats)) || !put(doc, "tracks", tracks))
        return fail(im->err, im->errlen, "out of memory");
    return 0;
}

static char *print_document(json_t *doc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return NULL;
    bool ok = print_value(out, doc, 0);
    fputc('\n', out);
    if (fclose(out) != 0 || !ok) {
        free(text);
        return NULL;
    }
    return text;
}

int midi_import_smf(const Smf *smf, const char *name, const MidiImportOptions *opt, char **json,
                    MidiImportSummary *sum, char *err, size_t errlen)
{
    MidiImportOptions def = { 0 };
    if (!opt)
        opt = &def;
    *json = NULL;
    const char *nodes = opt->nodes_dir ? opt->nodes_dir : "nodes";
    const char *base = opt->base_dir ? opt->base_dir : ".";
    char pad[4096], drums[4096];
    snprintf(pad, sizeof pad, "%s/pad.amp", nodes);
    snprintf(drums, sizeof drums, "%s/drums.amp", nodes);

    MidiImporter im = { .smf = smf, .name = name ? name : "MIDI file", .err = err, .errlen = errlen };
    int rc = -1;
    json_t *doc = NULL;
    im.patch = patch_value(base, opt->patch ? opt->patch : pad, opt->patch_unit, "patch", err, errlen);
    if (!im.patch)
        goto done;
    im.drums = patch_value(base, opt->drums ? opt->drums : drums, opt->drums_unit, "drums patch", err, errlen);
    if (!im.drums)
        goto done;
    int rate = opt->sample_rate > 0 ? opt->sample_rate : PROJECT_DEFAULT_RATE;
    doc = json_object();
    /* Version 1: an import needs none of version 2's fields, and keeps its
     * fixed 2 s tail (PROJECT.md). */
    if (!doc || !put(doc, "version", json_integer(1)) || !put(doc, "sample_rate", json_integer(rate))) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    if (add_tempo(&im, doc) || add_time_signature(&im, doc) || add_tracks(&im, doc))
        goto done;
    json_t *ui = json_object(), *midi = json_object();
    if (!ui || !midi || !put(midi, "file", text_value(last_component(im.name))) ||
        !put(midi, "format", json_integer(smf->format)) ||
        !put(midi, smf->ticks_per_quarter ? "ticks_per_quarter" : "smpte_fps",
             smf->ticks_per_quarter ? json_integer(smf->ticks_per_quarter) : json_real(smf->smpte_fps)) ||
        !put(ui, "imported_from", midi) || !put(doc, "ui", ui)) {
        json_decref(midi);
        json_decref(ui);
        fail(err, errlen, "out of memory");
        goto done;
    }
    *json = print_document(doc);
    if (!*json) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    im.sum.warnings = smf->warnings;
    if (sum)
        *sum = im.sum;
    rc = 0;
done:
    json_decref(doc);
    json_decref(im.patch);
    json_decref(im.drums);
    return rc;
}

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
