/* midi_import.h — a Standard MIDI File (smf.h) as a project document
 * (runtime/formats/PROJECT.md): what `amp import song.mid -o project.json` writes
 * and what `amp render song.mid` renders.
 *
 *   tempo          the file's tempo at tick 0; every later change of tempo
 *                  goes to "tempo_changes" at its beat
 *   time_signature the file's at tick 0; later ones are counted, not kept
 *                  (version 1: the format has one; a signature does not
 *                  change timing), or in version 2 (opt->version) those
 *                  on a bar line go to "time_signature_changes"
 *   tracks         per SMF track with notes: an instrument track with the
 *                  notes of channels 1-9 and 11-16, and a drums track with
 *                  those of channel 10 (index 9); each holds one clip from
 *                  beat 0 with all its notes
 *   notes          beats from the file's own tempo map (ticks / division,
 *                  or through the tempo for SMPTE files); a note of zero
 *                  ticks lasts one tick; velocity = MIDI velocity / 127
 *   length_beats   the end of the file (its last end-of-track), or of its
 *                  last note if later
 *
 * Patches: instrument tracks play opt->patch (default <nodes>/pad.amp),
 * drums tracks opt->drums (default <nodes>/drums.amp). The files must
 * exist; their paths in the document are relative to opt->base_dir, the
 * folder the document will be read from, so it can be moved along with
 * them. With opt->builtin they are ids of the built-in library instead
 * ({"builtin": "pad.amp"}), checked for form only: engine.wasm imports
 * this way (runtime/wasm/wasm_midi.c). The output is deterministic: fixed
 * key order, one note per line, numbers as jansson prints them (17
 * significant digits, exact), written by json_write.h.
 *
 * Not for the audio thread (allocates, reads files).
 */
#ifndef AMP_MIDI_IMPORT_H
#define AMP_MIDI_IMPORT_H

#include <stddef.h>

#include "smf.h"

#define MIDI_IMPORT_DRUM_CHANNEL 9        /* channel 10, counted from 0 */

typedef struct MidiImportOptions {
    const char *patch;           /* instrument tracks' patch file (relative to the working
                                    folder, or absolute); NULL: <nodes_dir>/pad.amp */
    const char *patch_unit;      /* NULL: the file's default unit */
    const char *drums;           /* drums tracks' patch file; NULL: <nodes_dir>/drums.amp */
    const char *drums_unit;
    const char *nodes_dir;       /* NULL: "nodes" */
    const char *base_dir;        /* paths in the document are relative to this folder; NULL: "." */
    int sample_rate;             /* the document's sample_rate; 0: 48000 */
    int builtin;                 /* patch and drums are built-in library ids ({"builtin": "pad.amp"},
                                    PROJECT.md): defaults "pad.amp" and "drums.amp"; no file is read,
                                    nodes_dir and base_dir are unused */
    int version;                 /* the document's version: 0 or 1 (fixed 2 s tail, one time signature)
                                    or 2 (the DAW's: the tail rule, time_signature_changes) */
} MidiImportOptions;

/* What an import made, for a summary line. */
typedef struct MidiImportSummary {
    int tracks;                  /* project tracks */
    int drum_tracks;             /* ... of which play channel 10 */
    size_t notes;
    double tempo;                /* bpm at beat 0 */
    int tempo_changes;
    int sig_num, sig_den;
    int time_signatures_dropped; /* time signature changes not kept: version 1 all after tick 0, version 2
                                    those off the bar lines; and one the format cannot hold */
    int version;                 /* of the document written */
    double length_beats;
    SmfWarnings warnings;        /* the reader's */
} MidiImportSummary;

/* The project document for `smf` as JSON text: 0 and a malloc'd,
 * NUL-terminated *json (free() it), or -1 with a message in err. `name`
 * is the MIDI file's name, for messages and the document's "ui" note (only
 * its last path component is written). sum may be NULL. */
int midi_import_smf(const Smf *smf, const char *name, const MidiImportOptions *opt, char **json,
                    MidiImportSummary *sum, char *err, size_t errlen);

/* Import the SMF bytes[0..len) (smf_read), named `name`; a reader error
 * comes back as "name: message". */
int midi_import_memory(const void *bytes, size_t len, const char *name, const MidiImportOptions *opt, char **json,
                       MidiImportSummary *sum, char *err, size_t errlen);

/* The reader's and the import's warnings, one line each ("name: 2 notes
 * without a note-off ended at the end of the track\n", ...), as `amp
 * import` prints them after "amp: warning: ", into out (truncated to
 * outlen). Returns the length they need, as snprintf. */
size_t midi_import_warnings(const char *name, const MidiImportSummary *s, char *out, size_t outlen);

/* Read `path` (smf_read_file) and import it; a reader error comes back as
 * "path: message". Not with AMP_NO_FILES. */
int midi_import_file(const char *path, const MidiImportOptions *opt, char **json, MidiImportSummary *sum,
                     char *err, size_t errlen);

/* Whether `path` names a MIDI file by its extension (.mid, .midi, .smf, any case). */
int midi_import_is_midi(const char *path);

#endif
