/* midi_import.h — a Standard MIDI File (smf.h) as a project document
 * (runtime/formats/PROJECT.md): what `amp import song.mid -o project.json` writes
 * and what `amp render song.mid` renders.
 *
 *   tempo          the file's tempo at tick 0; every later change of tempo
 *                  goes to "tempo_changes" at its beat
 *   time_signature the file's at tick 0 (later ones are counted, not kept:
 *                  the format has one, and it does not change timing)
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
 * them. The output is deterministic: fixed key order, one note per line,
 * numbers as jansson prints them (17 significant digits, exact).
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
} MidiImportOptions;

/* What an import made, for a summary line. */
typedef struct MidiImportSummary {
    int tracks;                  /* project tracks */
    int drum_tracks;             /* ... of which play channel 10 */
    size_t notes;
    double tempo;                /* bpm at beat 0 */
    int tempo_changes;
    int sig_num, sig_den;
    int time_signatures_dropped; /* time signature changes after tick 0, or one the format cannot hold */
    double length_beats;
    SmfWarnings warnings;        /* the reader's */
} MidiImportSummary;

/* The project document for `smf` as JSON text: 0 and a malloc'd,
 * NUL-terminated *json (free() it), or -1 with a message in err. `name`
 * is the MIDI file's name, for messages and the document's "ui" note (only
 * its last path component is written). sum may be NULL. */
int midi_import_smf(const Smf *smf, const char *name, const MidiImportOptions *opt, char **json,
                    MidiImportSummary *sum, char *err, size_t errlen);

/* Read `path` (smf_read_file) and import it; a reader error comes back as
 * "path: message". */
int midi_import_file(const char *path, const MidiImportOptions *opt, char **json, MidiImportSummary *sum,
                     char *err, size_t errlen);

/* Whether `path` names a MIDI file by its extension (.mid, .midi, .smf, any case). */
int midi_import_is_midi(const char *path);

#endif
