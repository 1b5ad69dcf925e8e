/* notes.h — note lists written on the command line, and the timed
 * commands (commands.def's note_on / note_off) they become.
 *
 *   list   := note { (' ' | ',') note }
 *   note   := key '@' start ':' end [ '/' velocity ]
 *   key    := MIDI number 0..127 | name: letter A-G (either case), optional
 *             '#' or 'b', octave (may be negative); C4 = 60, A4 = 69, C-1 = 0
 *   start, end: seconds (end > start); velocity in [0, 1], default 0.8
 *
 * e.g. "60@0:1 64@0.5:1.5/0.6 C4@2:3 F#5@2:3 Bb2@2.5:4".
 *
 * notes_to_commands turns a list into note_on / note_off records at
 * start sample = llround(t * sample_rate), sorted by time; note k gets
 * note_id k. Not for the audio thread (allocates).
 */
#ifndef AMP_NOTES_H
#define AMP_NOTES_H

#include <stddef.h>
#include "host.h"

#define NOTES_DEFAULT_VELOCITY 0.8f
#define NOTES_MAX_SECONDS 86400.0     /* a note ending later is an error */

typedef struct Note {
    int key;               /* MIDI key 0..127 */
    double start, end;     /* seconds */
    float vel;             /* 0..1 */
} Note;

typedef struct NoteList {
    Note *notes;
    int n;
} NoteList;

/* Parse `text`. Returns 0 and fills *out (free with notes_free), or -1 with
 * a message naming the bad token in err. An empty text is an empty list. */
int notes_parse(const char *text, NoteList *out, char *err, size_t errlen);
void notes_free(NoteList *list);

/* The time the last note ends, in seconds (0 for an empty list). */
double notes_end(const NoteList *list);

/* Commands for the list at `sample_rate` (header.time the frame), sorted by
 * frame; at the same frame note-offs come before note-ons, each in list
 * order. A note at least one sample long: its off is never at its own on.
 * Returns a malloc'd array of *n_commands records (free() it), or NULL when
 * out of memory (or the list is empty, with *n_commands 0). */
Command *notes_to_commands(const NoteList *list, double sample_rate, int *n_commands);

#endif
