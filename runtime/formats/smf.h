/* smf.h — read Standard MIDI Files into timed notes, and write simple ones.
 *
 * The reader takes SMF format 0 and 1 (format 2 is refused) with either
 * division: ticks per quarter note, or SMPTE frames x ticks per frame (then
 * ticks are plain time, 24 / 25 / 29.97 / 30 frames per second, and tempo
 * events only set how seconds become beats). It understands running status
 * (kept across meta and sysex events, which some writers rely on), note-on
 * with velocity 0 as note-off, tempo (0x51), time signature (0x58), track
 * name (0x03) and end of track (0x2F); sysex and every other meta event are
 * skipped. Notes of the same key on the same channel that overlap are paired
 * first in, first out; a note still sounding at the end of its track ends
 * there and is counted in warnings.
 *
 * Tempo, time signatures and program changes are global, whatever track
 * they sit in (format 1's conductor track is the usual place). At one tick
 * the last tempo or time signature wins (later track, later event).
 *
 * Any bytes at all give a result or an error message, never a crash or a
 * hang: every length is checked against the bytes that are there, a
 * variable-length quantity has at most 4 bytes, ticks add up in 64 bits,
 * and a file of more than SMF_MAX_EVENTS events is refused.
 *
 * The result lives in one malloc'd block owned by the Smf (smf_free).
 * Not for the audio thread: reading allocates and does I/O.
 */
#ifndef AMP_SMF_H
#define AMP_SMF_H

#include <stddef.h>
#include <stdint.h>

#define SMF_MAX_EVENTS 10000000u          /* a file with more is refused */
#define SMF_MAX_FILE_BYTES (256u << 20)   /* smf_read_file refuses files this large */
#define SMF_DEFAULT_TEMPO 500000u         /* microseconds per quarter: 120 bpm */

typedef struct SmfNote {
    uint64_t start_tick, end_tick;       /* end_tick >= start_tick */
    double start_seconds, end_seconds;
    double start_beat;                   /* quarter notes from the start */
    double length_beats;
    float velocity;                      /* note-on velocity / 127, in (0, 1] */
    uint8_t channel;                     /* 0..15 */
    uint8_t key;                         /* 0..127 */
    int16_t program;                     /* channel's program at the start, -1 if none yet */
} SmfNote;

typedef struct SmfTrack {
    const char *name;                    /* first track-name event; "" if none */
    SmfNote *notes;                      /* by start tick, ties in file order */
    size_t n_notes;
    uint64_t end_tick;                   /* the end-of-track event (else the last event) */
    double end_seconds;
} SmfTrack;

/* One entry per tempo in force from `tick` on; the first is at tick 0. */
typedef struct SmfTempo {
    uint64_t tick;
    double seconds;                      /* time at tick */
    double beat;                         /* quarter notes at tick */
    uint32_t usec_per_quarter;
    double bpm;                          /* 60e6 / usec_per_quarter */
} SmfTempo;

/* The first entry is at tick 0 (4/4 when the file sets none there). */
typedef struct SmfTimeSig {
    uint64_t tick;
    double seconds, beat;
    uint8_t numerator;
    uint16_t denominator;                /* 2, 4, 8 ...: the note value of one beat */
    uint8_t clocks_per_click;            /* MIDI clocks per metronome click */
    uint8_t thirty_seconds_per_quarter;
} SmfTimeSig;

typedef struct SmfProgram {
    uint64_t tick;
    double seconds;
    uint16_t track;
    uint8_t channel, program;
} SmfProgram;

/* Oddities the reader got past; all zero for a tidy file. */
typedef struct SmfWarnings {
    uint32_t unterminated_notes;         /* no note-off: ended at end of track */
    uint32_t orphan_note_offs;           /* note-off with no sounding note: dropped */
    uint32_t bad_meta;                   /* tempo / time signature malformed: ignored */
    uint32_t missing_end_of_track;       /* track chunk ended without 0x2F */
    uint32_t bytes_after_end_of_track;   /* tracks with data after 0x2F: ignored */
} SmfWarnings;

typedef struct Smf {
    int format;                          /* 0 or 1 */
    int ticks_per_quarter;               /* 0 when the division is SMPTE */
    double smpte_fps;                    /* 24, 25, 29.97 (30000/1001), 30; 0 if not SMPTE */
    int smpte_ticks_per_frame;           /* 0 if not SMPTE */
    SmfTrack *tracks;
    size_t n_tracks;
    SmfTempo *tempos;                    /* at least one after a successful read */
    size_t n_tempos;
    SmfTimeSig *time_sigs;               /* at least one after a successful read */
    size_t n_time_sigs;
    SmfProgram *programs;                /* every program change, by tick */
    size_t n_programs;
    int16_t initial_program[16];         /* first program of each channel, -1 if none */
    size_t n_notes;                      /* over all tracks */
    uint64_t end_tick;                   /* latest track end */
    double end_seconds;
    SmfWarnings warnings;
    void *block;                         /* owns everything above */
} Smf;

/* Parse an SMF held in memory. Returns 0 and fills *out (free with
 * smf_free), or -1 with a message in err and *out zeroed. */
int smf_read(const void *bytes, size_t len, Smf *out, char *err, size_t errlen);
int smf_read_file(const char *path, Smf *out, char *err, size_t errlen);
/* Frees what a read filled; safe on a zeroed Smf. Leaves *smf zeroed. */
void smf_free(Smf *smf);

/* Time and quarter notes at a tick, through every tempo change. A tick
 * is 64-bit because a file's ticks add up past 2^32. */
double smf_tick_to_seconds(const Smf *smf, uint64_t tick);
double smf_tick_to_beats(const Smf *smf, uint64_t tick);

/* ---- writer (for tests and fixtures) ------------------------------------ */

#define SMF_WRITE_MAX_TICK 0x0FFFFFFFu   /* one variable-length quantity */

typedef struct SmfWriteNote {
    uint32_t start_tick, end_tick;       /* end_tick > start_tick */
    uint8_t channel;                     /* 0..15 */
    uint8_t key;                         /* 0..127 */
    uint8_t velocity;                    /* 1..127 */
} SmfWriteNote;

typedef struct SmfWriteTrack {
    const char *name;                    /* NULL: no track-name event */
    const SmfWriteNote *notes;           /* any order */
    size_t n_notes;
} SmfWriteTrack;

typedef struct SmfWriteTempo {
    uint32_t tick;
    uint32_t usec_per_quarter;           /* 1..0xFFFFFF */
} SmfWriteTempo;

/* Encode a format 1 file into a malloc'd image (*bytes, *len; free() it):
 * a conductor track with the tempos (any order; at one tick the last
 * given wins), then one track per element of `tracks`. Notes are written
 * as note-on / note-on velocity 0 with running status, note-offs before
 * note-ons at the same tick. Overlapping notes of one key and channel come
 * back from smf_read paired first in, first out. Returns 0, or -1 with a
 * message in err. */
int smf_write_simple(const SmfWriteTrack *tracks, size_t n_tracks, unsigned ticks_per_quarter,
                     const SmfWriteTempo *tempos, size_t n_tempos,
                     unsigned char **bytes, size_t *len, char *err, size_t errlen);

#endif
