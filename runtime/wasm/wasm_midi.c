/* wasm_midi.c — a Standard MIDI File imported as a project document in
 * engine.wasm: the entry points of the export worker's 'import-midi'
 * (web/src/engine/midi.ts). It runs the C of `amp import SONG.mid
 * --builtin`: smf.c reads the bytes, midi_import.c writes the document
 * with json_write.c, so the browser's document and `amp import`'s are the
 * same bytes, and its messages and warnings the same lines.
 *
 * The calls (one import at a time; memory from amp_alloc / amp_free of
 * wasm_project.c):
 *   amp_midi_import(bytes, len, options, options_len)
 *        the file's bytes and the options as JSON text:
 *          {"name": "song.mid",               the file's name: messages, "ui"
 *           "patch": {"builtin": "pad.amp", "unit": "pad"},   default pad.amp
 *           "drums": {"builtin": "drums.amp"},                default drums.amp
 *           "sample_rate": 48000, "version": 1 | 2}           every key optional
 *        0: the document at amp_midi_json() (amp_midi_json_size() bytes,
 *        NUL-terminated) and the warnings at amp_midi_warnings(), one
 *        line each, as `amp import` prints them without "amp: warning: ";
 *        -1: the message at amp_midi_error(), as `amp import` prints it
 *        without "amp: " ("song.mid: track 2: ...").
 *   amp_midi_close()     free the document
 *
 * Patches are named as built-in library ids (MidiImportOptions.builtin):
 * there are no files here. Control side only: it allocates; never called
 * from the worklet.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amp_patch.h"
#include "json.h"
#include "midi_import.h"

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

EXPORT("amp_midi_import") int amp_midi_import(const void *bytes, double len, const char *options, double options_len);
EXPORT("amp_midi_json") const char *amp_midi_json(void);
EXPORT("amp_midi_json_size") double amp_midi_json_size(void);
EXPORT("amp_midi_warnings") const char *amp_midi_warnings(void);
EXPORT("amp_midi_error") const char *amp_midi_error(void);
EXPORT("amp_midi_close") void amp_midi_close(void);

#define ERROR_BYTES 8192                /* as amp import's message buffer */
#define WARNING_BYTES 4096
#define OPTIONS_MAX_BYTES 65536

typedef struct MidiJob {
    char *json;
    size_t json_len;
    char warnings[WARNING_BYTES];
    char error[ERROR_BYTES];
} MidiJob;

static MidiJob job;

const char *amp_midi_json(void)
{
    return job.json ? job.json : "";
}

double amp_midi_json_size(void)
{
    return (double)job.json_len;
}

const char *amp_midi_warnings(void)
{
    return job.warnings;
}

const char *amp_midi_error(void)
{
    return job.error;
}

void amp_midi_close(void)
{
    free(job.json);
    job.json = NULL;
    job.json_len = 0;
    job.warnings[0] = '\0';
}

static int job_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int job_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job.error, sizeof job.error, fmt, ap);
    va_end(ap);
    return -1;
}

/* {"builtin": id, "unit"?} at options[key] into *id, *unit. */
static int read_patch(const JvValue *options, const char *key, const char **id, const char **unit)
{
    const JvValue *v = jv_object_get(options, key);
    if (!v)
        return 0;
    const JvValue *b = jv_object_get(v, "builtin"), *u = jv_object_get(v, "unit");
    if (!jv_is_string(b) || (u && !jv_is_string(u)) || jv_object_size(v) != (size_t)(1 + (u != NULL)))
        return job_error("amp_midi_import: options.%s: expected {\"builtin\": \"%s.amp\", \"unit\"?: \"...\"}", key,
                         !strcmp(key, "drums") ? "drums" : "pad");
    *id = jv_string_value(b);
    *unit = u ? jv_string_value(u) : NULL;
    return 0;
}

/* The options object: what amp import's flags say. */
static int read_options(const JvValue *o, MidiImportOptions *opt, const char **name)
{
    static const char *const keys[] = { "name", "patch", "drums", "sample_rate", "version" };
    const char *key;
    const JvValue *v;
    jv_object_foreach(o, key, v) {
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] && strcmp(keys[k], key))
            k++;
        if (k == sizeof keys / sizeof keys[0])
            return job_error("amp_midi_import: unknown option \"%s\"", key);
    }
    v = jv_object_get(o, "name");
    if (v && !jv_is_string(v))
        return job_error("amp_midi_import: options.name: expected a string");
    *name = jv_string_value(v);
    if (read_patch(o, "patch", &opt->patch, &opt->patch_unit) || read_patch(o, "drums", &opt->drums, &opt->drums_unit))
        return -1;
    v = jv_object_get(o, "sample_rate");
    if (v && !(jv_is_integer(v) && jv_integer_value(v) >= AMP_MIN_SAMPLE_RATE &&
              jv_integer_value(v) <= AMP_MAX_SAMPLE_RATE))
        return job_error("amp_midi_import: options.sample_rate: a whole number of Hz from 8000 to 192000");
    opt->sample_rate = (int)jv_integer_value(v);
    v = jv_object_get(o, "version");
    if (v && !(jv_is_integer(v) && (jv_integer_value(v) == 1 || jv_integer_value(v) == 2)))
        return job_error("amp_midi_import: options.version: 1 or 2");
    opt->version = (int)jv_integer_value(v);
    return 0;
}

int amp_midi_import(const void *bytes, double len, const char *options, double options_len)
{
    amp_midi_close();
    job.error[0] = '\0';
    if (!bytes || !(len >= 0 && len < 2147483648.0) || !(options_len >= 0 && options_len <= OPTIONS_MAX_BYTES) ||
        (options_len > 0 && !options))
        return job_error("amp_midi_import: the file's bytes and options of at most 64 KiB, please");
    MidiImportOptions opt = { .builtin = 1 };
    const char *name = NULL;
    JvDoc *doc = NULL;
    if (options_len > 0) {
        JvError jerr;
        doc = jv_parse(options, (size_t)options_len, NULL, &jerr);
        if (!doc)
            return job_error("amp_midi_import: options: %s", jerr.text);
        if (!jv_is_object(jv_root(doc)) || read_options(jv_root(doc), &opt, &name)) {
            if (!job.error[0])
                job_error("amp_midi_import: options: expected an object");
            jv_free(doc);
            return -1;
        }
    }
    MidiImportSummary sum;
    int rc = midi_import_memory(bytes, (size_t)len, name, &opt, &job.json, &sum, job.error, sizeof job.error);
    if (rc == 0) {
        job.json_len = strlen(job.json);
        midi_import_warnings(name ? name : "MIDI file", &sum, job.warnings, sizeof job.warnings);
    }
    jv_free(doc);
    return rc;
}
