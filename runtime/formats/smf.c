/* smf.c — Standard MIDI File reader and a small writer; see smf.h.
 *
 * The reader works on the whole file in memory, in passes:
 *   1. read_header: the MThd chunk, then the track chunks' places;
 *   2. count_track on every track: decodes each event (next_event), which
 *      checks every length against the track's bytes, and counts what the
 *      result will hold;
 *   3. one block, sized from those counts (layout);
 *   4. fill_track on every track: the same events again, now stored, with
 *      note-offs paired to note-ons first in, first out;
 *   5. finish: the tempo map, then seconds and beats for everything.
 * Decoding twice is cheap and means nothing grows while reading. All
 * multi-byte fields are big-endian and assembled byte by byte.
 */
#include "util.h"
#include "smf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    META_TRACK_NAME = 0x03,
    META_END_OF_TRACK = 0x2F,
    META_TEMPO = 0x51,
    META_TIME_SIGNATURE = 0x58,
};

enum {
    MSG_NOTE_OFF = 0x80,
    MSG_NOTE_ON = 0x90,
    MSG_PROGRAM = 0xC0,
    MSG_CHANNEL_PRESSURE = 0xD0,
};

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) << 16 | rd16(p + 2); }

/* Merge sort: qsort is not stable, and ties must keep file order. */
typedef int (*Compare)(const void *, const void *);
static void stable_sort(void *base, size_t n, size_t size, Compare cmp, void *scratch)
{
    if (n < 2)
        return;
    char *a = base, *s = scratch;
    size_t half = n / 2;
    stable_sort(a, half, size, cmp, s);
    stable_sort(a + half * size, n - half, size, cmp, s);
    size_t i = 0, j = half, k = 0;
    while (i < half && j < n) {
        if (cmp(a + j * size, a + i * size) < 0)
            memcpy(s + k++ * size, a + j++ * size, size);
        else
            memcpy(s + k++ * size, a + i++ * size, size);
    }
    /* What is left of the right half is already in place. */
    memcpy(s + k * size, a + i * size, (half - i) * size);
    k += half - i;
    memcpy(a, s, k * size);
}

/* Sort with a scratch buffer of its own; -1 when out of memory. */
static int sort_copy(void *base, size_t n, size_t size, Compare cmp)
{
    if (n < 2)
        return 0;
    void *scratch = malloc(n * size);
    if (!scratch)
        return -1;
    stable_sort(base, n, size, cmp, scratch);
    free(scratch);
    return 0;
}

/* ---- events --------------------------------------------------------------- */

typedef enum { EV_CHANNEL, EV_META, EV_SYSEX } EventKind;

typedef struct Event {
    EventKind kind;
    uint64_t tick;                       /* absolute */
    uint8_t status;                      /* channel message: 0x80..0xEF; meta: its type */
    uint8_t data[2];                     /* a channel message's data bytes */
    const unsigned char *payload;        /* a meta event's data */
    uint32_t payload_len;
} Event;

typedef struct TrackReader {
    const unsigned char *bytes;          /* the whole file: offsets in messages are file offsets */
    size_t pos, end;                     /* next byte; end of the track chunk */
    int track;                           /* index, for messages */
    uint64_t tick;                       /* of the last event */
    uint8_t running;                     /* last channel status, 0 if none yet */
    int ended;                           /* end-of-track seen */
} TrackReader;

typedef struct Span {
    size_t offset, len;                  /* a track chunk's body in the file */
} Span;

static TrackReader reader_for(const unsigned char *bytes, Span span, int track)
{
    return (TrackReader){ .bytes = bytes, .pos = span.offset, .end = span.offset + span.len,
                          .track = track };
}

static int truncated(const TrackReader *r, size_t at, char *err, size_t errlen)
{
    return fail(err, errlen, "track %d: event at byte %zu runs past the end of the track",
                r->track, at);
}

/* vlq := { byte with high bit set } byte with high bit clear   (4 bytes at most) */
static int read_vlq(TrackReader *r, uint32_t *value, char *err, size_t errlen)
{
    size_t start = r->pos;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (r->pos >= r->end)
            return truncated(r, start, err, errlen);
        unsigned char b = r->bytes[r->pos++];
        v = v << 7 | (b & 0x7Fu);
        if (!(b & 0x80)) {
            *value = v;
            return 0;
        }
    }
    return fail(err, errlen, "track %d: variable-length number at byte %zu is longer than 4 bytes",
                r->track, start);
}

/* channel-message := status? data data?   (one data byte for 0xC0 and 0xD0) */
static int read_channel(TrackReader *r, uint8_t status, size_t at, Event *ev, char *err, size_t errlen)
{
    uint8_t kind = status & 0xF0;
    int n = kind == MSG_PROGRAM || kind == MSG_CHANNEL_PRESSURE ? 1 : 2;
    r->running = status;
    ev->kind = EV_CHANNEL;
    ev->status = status;
    ev->data[1] = 0;
    for (int i = 0; i < n; i++) {
        if (r->pos >= r->end)
            return truncated(r, at, err, errlen);
        uint8_t b = r->bytes[r->pos++];
        if (b & 0x80)
            return fail(err, errlen, "track %d: event at byte %zu: data byte 0x%02X has its high bit set",
                        r->track, at, b);
        ev->data[i] = b;
    }
    return 1;
}

/* meta-event := 0xFF type vlq-length bytes
 * sysex-event := (0xF0 | 0xF7) vlq-length bytes */
static int read_meta_or_sysex(TrackReader *r, uint8_t status, size_t at, Event *ev, char *err,
                              size_t errlen)
{
    ev->kind = status == 0xFF ? EV_META : EV_SYSEX;
    ev->status = status;
    if (status == 0xFF) {
        if (r->pos >= r->end)
            return truncated(r, at, err, errlen);
        ev->status = r->bytes[r->pos++];
    }
    uint32_t len;
    if (read_vlq(r, &len, err, errlen))
        return -1;
    if (len > r->end - r->pos)
        return fail(err, errlen, "track %d: %s at byte %zu claims %u bytes but only %zu remain",
                    r->track, status == 0xFF ? "meta event" : "sysex", at, len, r->end - r->pos);
    ev->payload = r->bytes + r->pos;
    ev->payload_len = len;
    r->pos += len;
    if (status == 0xFF && ev->status == META_END_OF_TRACK)
        r->ended = 1;
    return 1;
}

/* event := vlq-delta (channel-message | meta-event | sysex-event)
 * Returns 1 with *ev filled, 0 at the end of the track, -1 on an error.
 * Running status survives meta and sysex events: the SMF text says they
 * cancel it, but a data byte there can mean nothing else. */
static int next_event(TrackReader *r, Event *ev, char *err, size_t errlen)
{
    if (r->ended || r->pos >= r->end)
        return 0;
    uint32_t delta;
    if (read_vlq(r, &delta, err, errlen))
        return -1;
    r->tick += delta;                    /* at most 2^28 a time: 64 bits never wrap */
    ev->tick = r->tick;
    size_t at = r->pos;
    if (at >= r->end)
        return truncated(r, at, err, errlen);
    uint8_t status = r->bytes[at];
    if (status < 0x80) {
        if (!r->running)
            return fail(err, errlen, "track %d: data byte 0x%02X at byte %zu with no running status",
                        r->track, status, at);
        status = r->running;
    } else {
        r->pos++;
    }
    if (status < 0xF0)
        return read_channel(r, status, at, ev, err, errlen);
    if (status == 0xFF || status == 0xF0 || status == 0xF7)
        return read_meta_or_sysex(r, status, at, ev, err, errlen);
    return fail(err, errlen, "track %d: status byte 0x%02X at byte %zu does not belong in a MIDI file",
                r->track, status, at);
}

/* ---- header and counts ---------------------------------------------------- */

typedef struct TrackCounts {
    size_t notes;                        /* note-ons with velocity > 0 */
    size_t tempos, time_sigs, programs;  /* events of each kind, good or not */
    size_t name_len;                     /* bytes of the first track name */
    int has_name;
} TrackCounts;

typedef struct Parse {
    const unsigned char *bytes;
    size_t len;
    size_t n_tracks;
    Span *spans;                         /* n_tracks */
    TrackCounts *counts;                 /* n_tracks */
    TrackCounts total;
    size_t max_track_notes;
} Parse;

/* A chunk id for messages: printable characters kept, others as '?'. */
static void chunk_name(const unsigned char *p, char name[5])
{
    for (int i = 0; i < 4; i++)
        name[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    name[4] = '\0';
}

static int read_division(uint32_t division, Smf *out, char *err, size_t errlen)
{
    if (!(division & 0x8000)) {
        if (division == 0)
            return fail(err, errlen, "division of 0 ticks per quarter note");
        out->ticks_per_quarter = (int)division;
        return 0;
    }
    /* SMPTE: the high byte is minus the frame rate (two's complement). */
    unsigned fps = 256 - (division >> 8);
    unsigned ticks = division & 0xFF;
    if (fps != 24 && fps != 25 && fps != 29 && fps != 30)
        return fail(err, errlen, "SMPTE division with %u frames per second (expected 24, 25, 29 or 30)",
                    fps);
    if (ticks == 0)
        return fail(err, errlen, "SMPTE division with 0 ticks per frame");
    out->smpte_fps = fps == 29 ? 30000.0 / 1001.0 : (double)fps;
    out->smpte_ticks_per_frame = (int)ticks;
    return 0;
}

/* file := "MThd" len32 format16 ntrks16 division16 [extra] { chunk }
 * chunk := id len32 body      (tracks are the "MTrk" chunks; others skipped) */
static int read_header(Parse *ps, Smf *out, char *err, size_t errlen)
{
    const unsigned char *p = ps->bytes;
    size_t len = ps->len;
    if (len < 14)
        return fail(err, errlen, "too short for a MIDI file (%zu bytes)", len);
    if (memcmp(p, "MThd", 4))
        return fail(err, errlen, "not a MIDI file (no 'MThd' header)");
    uint32_t header_len = rd32(p + 4);
    if (header_len < 6)
        return fail(err, errlen, "header chunk is %u bytes, expected at least 6", header_len);
    if (header_len > len - 8)
        return fail(err, errlen, "header chunk claims %u bytes but only %zu remain", header_len, len - 8);
    uint32_t format = rd16(p + 8), n_tracks = rd16(p + 10);
    if (format == 2)
        return fail(err, errlen, "format 2 (independent sequences) is not supported");
    if (format > 2)
        return fail(err, errlen, "unknown format %u", format);
    if (format == 0 && n_tracks != 1)
        return fail(err, errlen, "format 0 file declares %u tracks, expected 1", n_tracks);
    out->format = (int)format;
    if (read_division(rd16(p + 12), out, err, errlen))
        return -1;

    ps->n_tracks = n_tracks;
    ps->spans = calloc(n_tracks ? n_tracks : 1, sizeof *ps->spans);
    ps->counts = calloc(n_tracks ? n_tracks : 1, sizeof *ps->counts);
    if (!ps->spans || !ps->counts)
        return fail(err, errlen, "out of memory");
    size_t pos = 8 + (size_t)header_len, found = 0;
    while (found < n_tracks) {
        if (len - pos < 8)
            return fail(err, errlen, "file ends at byte %zu after %zu of %u tracks", pos, found, n_tracks);
        uint32_t chunk_len = rd32(p + pos + 4);
        if (chunk_len > len - pos - 8) {
            char name[5];
            chunk_name(p + pos, name);
            return fail(err, errlen, "chunk '%s' at byte %zu claims %u bytes but only %zu remain",
                        name, pos, chunk_len, len - pos - 8);
        }
        if (!memcmp(p + pos, "MTrk", 4))
            ps->spans[found++] = (Span){ pos + 8, chunk_len };
        pos += 8 + (size_t)chunk_len;
    }
    return 0;
}

static int count_track(Parse *ps, size_t track, size_t *events, char *err, size_t errlen)
{
    TrackReader r = reader_for(ps->bytes, ps->spans[track], (int)track);
    TrackCounts *c = &ps->counts[track];
    Event ev;
    int rc;
    while ((rc = next_event(&r, &ev, err, errlen)) == 1) {
        if (++*events > SMF_MAX_EVENTS)
            return fail(err, errlen, "more than %u events", SMF_MAX_EVENTS);
        if (ev.kind == EV_CHANNEL) {
            uint8_t kind = ev.status & 0xF0;
            c->notes += kind == MSG_NOTE_ON && ev.data[1] > 0;
            c->programs += kind == MSG_PROGRAM;
        } else if (ev.kind == EV_META) {
            c->tempos += ev.status == META_TEMPO;
            c->time_sigs += ev.status == META_TIME_SIGNATURE;
            if (ev.status == META_TRACK_NAME && !c->has_name) {
                c->has_name = 1;
                c->name_len = ev.payload_len;
            }
        }
    }
    if (rc < 0)
        return -1;
    ps->total.notes += c->notes;
    ps->total.tempos += c->tempos;
    ps->total.time_sigs += c->time_sigs;
    ps->total.programs += c->programs;
    ps->total.name_len += c->name_len + 1;
    if (c->notes > ps->max_track_notes)
        ps->max_track_notes = c->notes;
    return 0;
}

/* ---- the block ------------------------------------------------------------ */

/* Reserve n items of `size` bytes at *offset, aligned for any type; the
 * region's offset, or SIZE_MAX on overflow. */
static size_t reserve(size_t *offset, size_t n, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    size_t start = (*offset + align - 1) / align * align;
    if (start < *offset || (size && n > (SIZE_MAX - start) / size))
        return SIZE_MAX;
    *offset = start + n * size;
    return start;
}

/* Allocate the block and point every array of *out into it. */
static int layout(Parse *ps, Smf *out, char *err, size_t errlen)
{
    size_t size = 0;
    size_t at_tracks = reserve(&size, ps->n_tracks, sizeof(SmfTrack));
    size_t at_notes = reserve(&size, ps->total.notes, sizeof(SmfNote));
    size_t at_tempos = reserve(&size, ps->total.tempos + 1, sizeof(SmfTempo));
    size_t at_sigs = reserve(&size, ps->total.time_sigs + 1, sizeof(SmfTimeSig));
    size_t at_programs = reserve(&size, ps->total.programs, sizeof(SmfProgram));
    size_t at_names = reserve(&size, ps->total.name_len, 1);
    if (at_tracks == SIZE_MAX || at_notes == SIZE_MAX || at_tempos == SIZE_MAX ||
        at_sigs == SIZE_MAX || at_programs == SIZE_MAX || at_names == SIZE_MAX)
        return fail(err, errlen, "file too large");
    char *block = calloc(1, size ? size : 1);
    if (!block)
        return fail(err, errlen, "out of memory (%zu bytes)", size);
    out->block = block;
    out->tracks = (SmfTrack *)(void *)(block + at_tracks);
    out->tempos = (SmfTempo *)(void *)(block + at_tempos);
    out->time_sigs = (SmfTimeSig *)(void *)(block + at_sigs);
    out->programs = (SmfProgram *)(void *)(block + at_programs);
    out->n_tracks = ps->n_tracks;
    SmfNote *notes = (SmfNote *)(void *)(block + at_notes);
    char *names = block + at_names;
    for (size_t t = 0; t < ps->n_tracks; t++) {
        out->tracks[t].notes = notes;
        out->tracks[t].name = names;     /* "" until fill_track copies a name */
        notes += ps->counts[t].notes;
        names += ps->counts[t].name_len + 1;
    }
    return 0;
}

/* ---- fill ----------------------------------------------------------------- */

#define NO_NOTE UINT32_MAX
#define OPEN UINT64_MAX                  /* end_tick of a note not yet ended */

/* The notes sounding on each channel and key, oldest first, as linked
 * queues through the track's note indices. Empty between tracks. */
typedef struct Pairing {
    uint32_t head[16 * 128], tail[16 * 128];
    uint32_t *next;                      /* next[i]: the note after note i in its queue */
} Pairing;

static void note_on(SmfTrack *t, Pairing *pair, const Event *ev)
{
    unsigned queue = (ev->status & 0x0Fu) * 128 + ev->data[0];
    uint32_t i = (uint32_t)t->n_notes++;
    t->notes[i] = (SmfNote){ .start_tick = ev->tick, .end_tick = OPEN,
                             .velocity = (float)ev->data[1] / 127.0f,
                             .channel = (uint8_t)(ev->status & 0x0F), .key = ev->data[0],
                             .program = -1 };
    pair->next[i] = NO_NOTE;
    if (pair->tail[queue] == NO_NOTE)
        pair->head[queue] = i;
    else
        pair->next[pair->tail[queue]] = i;
    pair->tail[queue] = i;
}

static void note_off(Smf *smf, SmfTrack *t, Pairing *pair, const Event *ev)
{
    unsigned queue = (ev->status & 0x0Fu) * 128 + ev->data[0];
    uint32_t i = pair->head[queue];
    if (i == NO_NOTE) {
        smf->warnings.orphan_note_offs++;
        return;
    }
    t->notes[i].end_tick = ev->tick;
    pair->head[queue] = pair->next[i];
    if (pair->head[queue] == NO_NOTE)
        pair->tail[queue] = NO_NOTE;
}

static void channel_event(Smf *smf, SmfTrack *t, size_t track, Pairing *pair, const Event *ev)
{
    switch (ev->status & 0xF0) {
    case MSG_NOTE_ON:
        if (ev->data[1] > 0)
            note_on(t, pair, ev);
        else
            note_off(smf, t, pair, ev);  /* velocity 0 is a note-off */
        break;
    case MSG_NOTE_OFF:
        note_off(smf, t, pair, ev);
        break;
    case MSG_PROGRAM:
        smf->programs[smf->n_programs++] = (SmfProgram){ .tick = ev->tick, .track = (uint16_t)track,
                                                         .channel = (uint8_t)(ev->status & 0x0F),
                                                         .program = ev->data[0] };
        break;
    default:
        break;
    }
}

static void meta_event(Smf *smf, SmfTrack *t, int *named, const Event *ev)
{
    const unsigned char *d = ev->payload;
    switch (ev->status) {
    case META_TRACK_NAME:
        if (*named)
            break;
        *named = 1;
        char *name = (char *)t->name;    /* this track's slot in the block */
        for (uint32_t i = 0; i < ev->payload_len; i++)
            name[i] = d[i] ? (char)d[i] : '?';
        break;
    case META_TEMPO: {
        uint32_t usec = ev->payload_len == 3 ? (uint32_t)d[0] << 16 | rd16(d + 1) : 0;
        if (usec == 0) {
            smf->warnings.bad_meta++;
            break;
        }
        smf->tempos[smf->n_tempos++] = (SmfTempo){ .tick = ev->tick, .usec_per_quarter = usec };
        break;
    }
    case META_TIME_SIGNATURE:
        /* nn dd cc bb: beats, log2 of the beat's note value, clocks per
         * click, 32nds per quarter. */
        if (ev->payload_len < 4 || d[0] == 0 || d[1] > 15) {
            smf->warnings.bad_meta++;
            break;
        }
        smf->time_sigs[smf->n_time_sigs++] = (SmfTimeSig){
            .tick = ev->tick, .numerator = d[0], .denominator = (uint16_t)(1u << d[1]),
            .clocks_per_click = d[2], .thirty_seconds_per_quarter = d[3] };
        break;
    default:
        break;
    }
}

static int fill_track(Parse *ps, Smf *smf, size_t track, Pairing *pair, char *err, size_t errlen)
{
    TrackReader r = reader_for(ps->bytes, ps->spans[track], (int)track);
    SmfTrack *t = &smf->tracks[track];
    int named = 0;
    Event ev;
    int rc;
    while ((rc = next_event(&r, &ev, err, errlen)) == 1) {
        if (ev.kind == EV_CHANNEL)
            channel_event(smf, t, track, pair, &ev);
        else if (ev.kind == EV_META)
            meta_event(smf, t, &named, &ev);
    }
    if (rc < 0)
        return -1;                       /* not reached: pass 1 read the same bytes */
    t->end_tick = r.tick;
    if (!r.ended)
        smf->warnings.missing_end_of_track++;
    else if (r.pos < r.end)
        smf->warnings.bytes_after_end_of_track++;
    /* Notes still sounding end with the track. */
    for (size_t i = 0; i < t->n_notes; i++) {
        SmfNote *n = &t->notes[i];
        if (n->end_tick != OPEN)
            continue;
        n->end_tick = t->end_tick;
        smf->warnings.unterminated_notes++;
        unsigned queue = n->channel * 128u + n->key;
        pair->head[queue] = pair->tail[queue] = NO_NOTE;
    }
    smf->n_notes += t->n_notes;
    if (t->end_tick > smf->end_tick)
        smf->end_tick = t->end_tick;
    return 0;
}

/* ---- times ---------------------------------------------------------------- */

static int by_tick_tempo(const void *a, const void *b)
{
    uint64_t x = ((const SmfTempo *)a)->tick, y = ((const SmfTempo *)b)->tick;
    return (x > y) - (x < y);
}

static int by_tick_time_sig(const void *a, const void *b)
{
    uint64_t x = ((const SmfTimeSig *)a)->tick, y = ((const SmfTimeSig *)b)->tick;
    return (x > y) - (x < y);
}

static int by_tick_program(const void *a, const void *b)
{
    uint64_t x = ((const SmfProgram *)a)->tick, y = ((const SmfProgram *)b)->tick;
    return (x > y) - (x < y);
}

static int by_channel_program(const void *a, const void *b)
{
    return (int)((const SmfProgram *)a)->channel - (int)((const SmfProgram *)b)->channel;
}

/* Sorted by tick; at one tick the last wins; an entry at tick 0 (the
 * array has room for one more). Returns the new count. */
static size_t tidy_tempos(SmfTempo *a, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (kept > 0 && a[kept - 1].tick == a[i].tick)
            a[kept - 1] = a[i];
        else
            a[kept++] = a[i];
    }
    if (kept == 0 || a[0].tick != 0) {
        memmove(a + 1, a, kept * sizeof *a);
        a[0] = (SmfTempo){ .tick = 0, .usec_per_quarter = SMF_DEFAULT_TEMPO };
        kept++;
    }
    return kept;
}

static size_t tidy_time_sigs(SmfTimeSig *a, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (kept > 0 && a[kept - 1].tick == a[i].tick)
            a[kept - 1] = a[i];
        else
            a[kept++] = a[i];
    }
    if (kept == 0 || a[0].tick != 0) {
        memmove(a + 1, a, kept * sizeof *a);
        a[0] = (SmfTimeSig){ .tick = 0, .numerator = 4, .denominator = 4, .clocks_per_click = 24,
                             .thirty_seconds_per_quarter = 8 };
        kept++;
    }
    return kept;
}

/* Seconds and beats at each tempo change, each from the one before. */
static void time_tempos(Smf *smf)
{
    SmfTempo *a = smf->tempos;
    for (size_t i = 0; i < smf->n_tempos; i++) {
        a[i].bpm = 60e6 / a[i].usec_per_quarter;
        if (i == 0)
            continue;                    /* tick 0: 0 s, beat 0 */
        const SmfTempo *prev = &a[i - 1];
        if (smf->ticks_per_quarter > 0) {
            double quarters = (double)(a[i].tick - prev->tick) / smf->ticks_per_quarter;
            a[i].seconds = prev->seconds + quarters * prev->usec_per_quarter / 1e6;
            a[i].beat = (double)a[i].tick / smf->ticks_per_quarter;
        } else {
            a[i].seconds = smf_tick_to_seconds(smf, a[i].tick);
            a[i].beat = prev->beat + (a[i].seconds - prev->seconds) * 1e6 / prev->usec_per_quarter;
        }
    }
}

/* Each note's program: the last change on its channel at or before its start. */
static int note_programs(Smf *smf)
{
    for (int c = 0; c < 16; c++)
        smf->initial_program[c] = -1;
    for (size_t i = smf->n_programs; i-- > 0;)
        smf->initial_program[smf->programs[i].channel] = smf->programs[i].program;
    if (smf->n_programs == 0)
        return 0;
    SmfProgram *by_channel = malloc(smf->n_programs * sizeof *by_channel);
    if (!by_channel)
        return -1;
    memcpy(by_channel, smf->programs, smf->n_programs * sizeof *by_channel);
    if (sort_copy(by_channel, smf->n_programs, sizeof *by_channel, by_channel_program)) {
        free(by_channel);
        return -1;
    }
    size_t first[17] = { 0 };            /* channel c's changes: [first[c], first[c + 1]) */
    for (size_t i = 0; i < smf->n_programs; i++)
        first[by_channel[i].channel + 1] = i + 1;
    for (int c = 1; c <= 16; c++)
        if (first[c] < first[c - 1])
            first[c] = first[c - 1];
    for (size_t t = 0; t < smf->n_tracks; t++) {
        for (size_t i = 0; i < smf->tracks[t].n_notes; i++) {
            SmfNote *n = &smf->tracks[t].notes[i];
            size_t lo = first[n->channel], hi = first[n->channel + 1];
            /* the first change after the note's start, in [lo, hi] */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (by_channel[mid].tick <= n->start_tick)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo > first[n->channel])
                n->program = by_channel[lo - 1].program;
        }
    }
    free(by_channel);
    return 0;
}

static int finish(Smf *smf, char *err, size_t errlen)
{
    if (sort_copy(smf->tempos, smf->n_tempos, sizeof *smf->tempos, by_tick_tempo) ||
        sort_copy(smf->time_sigs, smf->n_time_sigs, sizeof *smf->time_sigs, by_tick_time_sig) ||
        sort_copy(smf->programs, smf->n_programs, sizeof *smf->programs, by_tick_program))
        return fail(err, errlen, "out of memory");
    smf->n_tempos = tidy_tempos(smf->tempos, smf->n_tempos);
    smf->n_time_sigs = tidy_time_sigs(smf->time_sigs, smf->n_time_sigs);
    time_tempos(smf);
    for (size_t i = 0; i < smf->n_time_sigs; i++) {
        smf->time_sigs[i].seconds = smf_tick_to_seconds(smf, smf->time_sigs[i].tick);
        smf->time_sigs[i].beat = smf_tick_to_beats(smf, smf->time_sigs[i].tick);
    }
    for (size_t i = 0; i < smf->n_programs; i++)
        smf->programs[i].seconds = smf_tick_to_seconds(smf, smf->programs[i].tick);
    for (size_t t = 0; t < smf->n_tracks; t++) {
        SmfTrack *track = &smf->tracks[t];
        track->end_seconds = smf_tick_to_seconds(smf, track->end_tick);
        for (size_t i = 0; i < track->n_notes; i++) {
            SmfNote *n = &track->notes[i];
            n->start_seconds = smf_tick_to_seconds(smf, n->start_tick);
            n->end_seconds = smf_tick_to_seconds(smf, n->end_tick);
            n->start_beat = smf_tick_to_beats(smf, n->start_tick);
            n->length_beats = smf_tick_to_beats(smf, n->end_tick) - n->start_beat;
        }
    }
    smf->end_seconds = smf_tick_to_seconds(smf, smf->end_tick);
    if (note_programs(smf))
        return fail(err, errlen, "out of memory");
    return 0;
}

/* ---- the reader's entry points -------------------------------------------- */

int smf_read(const void *bytes, size_t len, Smf *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    Parse ps = { .bytes = bytes, .len = bytes ? len : 0 };
    Pairing *pair = NULL;
    size_t events = 0;
    if (read_header(&ps, out, err, errlen))
        goto fail;
    for (size_t t = 0; t < ps.n_tracks; t++)
        if (count_track(&ps, t, &events, err, errlen))
            goto fail;
    if (layout(&ps, out, err, errlen))
        goto fail;
    pair = malloc(sizeof *pair);
    if (pair)
        pair->next = malloc((ps.max_track_notes ? ps.max_track_notes : 1) * sizeof *pair->next);
    if (!pair || !pair->next) {
        fail(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t q = 0; q < 16 * 128; q++)
        pair->head[q] = pair->tail[q] = NO_NOTE;
    for (size_t t = 0; t < ps.n_tracks; t++)
        if (fill_track(&ps, out, t, pair, err, errlen))
            goto fail;
    if (finish(out, err, errlen))
        goto fail;
    free(pair->next);
    free(pair);
    free(ps.spans);
    free(ps.counts);
    return 0;
fail:
    if (pair)
        free(pair->next);
    free(pair);
    free(ps.spans);
    free(ps.counts);
    smf_free(out);
    return -1;
}

#ifndef AMP_NO_FILES                    /* engine.wasm: bytes only (smf_read) */
int smf_read_file(const char *path, Smf *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len;
    if (read_whole_file(path, SMF_MAX_FILE_BYTES, &buf, &len, err, errlen))
        return -1;
    char why[200];
    int rc = 0;
    if (smf_read(buf, len, out, why, sizeof why))
        rc = fail(err, errlen, "%s: %s", path, why);
    free(buf);
    return rc;
}
#endif

void smf_free(Smf *smf)
{
    if (!smf)
        return;
    free(smf->block);
    memset(smf, 0, sizeof *smf);
}

/* The last tempo entry at or before tick (tempos[0] is at tick 0). */
static const SmfTempo *tempo_at(const Smf *smf, uint64_t tick)
{
    size_t lo = 0, hi = smf->n_tempos;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (smf->tempos[mid].tick <= tick)
            lo = mid;
        else
            hi = mid;
    }
    return &smf->tempos[lo];
}

double smf_tick_to_seconds(const Smf *smf, uint64_t tick)
{
    if (smf->smpte_fps > 0 && smf->smpte_ticks_per_frame > 0)
        return (double)tick / (smf->smpte_fps * smf->smpte_ticks_per_frame);
    if (smf->n_tempos == 0 || smf->ticks_per_quarter <= 0)
        return 0.0;
    const SmfTempo *t = tempo_at(smf, tick);
    double quarters = (double)(tick - t->tick) / smf->ticks_per_quarter;
    return t->seconds + quarters * t->usec_per_quarter / 1e6;
}

double smf_tick_to_beats(const Smf *smf, uint64_t tick)
{
    if (smf->ticks_per_quarter > 0)
        return (double)tick / smf->ticks_per_quarter;
    if (smf->n_tempos == 0)
        return 0.0;
    const SmfTempo *t = tempo_at(smf, tick);
    return t->beat + (smf_tick_to_seconds(smf, tick) - t->seconds) * 1e6 / t->usec_per_quarter;
}

/* ---- writer --------------------------------------------------------------- */

typedef struct Out {
    unsigned char *bytes;
    size_t len, cap;
    int out_of_memory;                   /* sticky: later writes do nothing */
} Out;

static void put_byte(Out *o, unsigned b)
{
    if (o->out_of_memory)
        return;
    if (o->len == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        unsigned char *bigger = realloc(o->bytes, cap);
        if (!bigger) {
            o->out_of_memory = 1;
            return;
        }
        o->bytes = bigger;
        o->cap = cap;
    }
    o->bytes[o->len++] = (unsigned char)b;
}

static void put_be(Out *o, uint32_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        put_byte(o, (v >> (8 * i)) & 0xFF);
}

/* v <= SMF_WRITE_MAX_TICK: 7 bits a byte, most significant first. */
static void put_vlq(Out *o, uint32_t v)
{
    int shift = 21;
    while (shift > 0 && !(v >> shift))
        shift -= 7;
    for (; shift > 0; shift -= 7)
        put_byte(o, 0x80 | ((v >> shift) & 0x7F));
    put_byte(o, v & 0x7F);
}

/* A chunk header with its length left blank; the offset to patch. */
static size_t begin_track(Out *o)
{
    put_be(o, 0x4D54726B, 4);            /* "MTrk" */
    size_t at = o->len;
    put_be(o, 0, 4);
    return at;
}

static void end_track(Out *o, size_t at, uint32_t delta)
{
    put_vlq(o, delta);
    put_byte(o, 0xFF);
    put_byte(o, META_END_OF_TRACK);
    put_byte(o, 0);
    if (o->out_of_memory)
        return;
    uint32_t body = (uint32_t)(o->len - at - 4);
    for (int i = 0; i < 4; i++)
        o->bytes[at + (size_t)i] = (unsigned char)(body >> (24 - 8 * i));
}

typedef struct WriteEvent {
    uint32_t tick;
    uint8_t on;                          /* 0: note-off, sorted first at one tick */
    uint8_t channel, key, velocity;
} WriteEvent;

static int by_tick_then_off(const void *a, const void *b)
{
    const WriteEvent *x = a, *y = b;
    if (x->tick != y->tick)
        return x->tick < y->tick ? -1 : 1;
    return (int)x->on - (int)y->on;
}

static int by_tick_write_tempo(const void *a, const void *b)
{
    uint32_t x = ((const SmfWriteTempo *)a)->tick, y = ((const SmfWriteTempo *)b)->tick;
    return (x > y) - (x < y);
}

static int check_write(const SmfWriteTrack *tracks, size_t n_tracks, unsigned ticks_per_quarter,
                       const SmfWriteTempo *tempos, size_t n_tempos, char *err, size_t errlen)
{
    if (ticks_per_quarter == 0 || ticks_per_quarter > 0x7FFF)
        return fail(err, errlen, "ticks per quarter %u not in 1..32767", ticks_per_quarter);
    if (n_tracks > 0xFFFE)
        return fail(err, errlen, "%zu tracks: at most 65534", n_tracks);
    for (size_t i = 0; i < n_tempos; i++) {
        if (tempos[i].usec_per_quarter == 0 || tempos[i].usec_per_quarter > 0xFFFFFF)
            return fail(err, errlen, "tempo %zu: %u microseconds per quarter not in 1..16777215", i,
                        tempos[i].usec_per_quarter);
        if (tempos[i].tick > SMF_WRITE_MAX_TICK)
            return fail(err, errlen, "tempo %zu: tick %u past %u", i, tempos[i].tick,
                        SMF_WRITE_MAX_TICK);
    }
    for (size_t t = 0; t < n_tracks; t++) {
        if (tracks[t].name && strlen(tracks[t].name) > SMF_WRITE_MAX_TICK)
            return fail(err, errlen, "track %zu: name too long", t);
        if (tracks[t].n_notes > (SIZE_MAX / 2) / sizeof(WriteEvent))
            return fail(err, errlen, "track %zu: too many notes", t);
        for (size_t i = 0; i < tracks[t].n_notes; i++) {
            const SmfWriteNote *n = &tracks[t].notes[i];
            if (n->end_tick <= n->start_tick || n->end_tick > SMF_WRITE_MAX_TICK)
                return fail(err, errlen, "track %zu note %zu: ticks %u..%u (need start < end <= %u)",
                            t, i, n->start_tick, n->end_tick, SMF_WRITE_MAX_TICK);
            if (n->channel > 15 || n->key > 127 || n->velocity == 0 || n->velocity > 127)
                return fail(err, errlen,
                            "track %zu note %zu: channel %u key %u velocity %u (need 0..15, 0..127, 1..127)",
                            t, i, n->channel, n->key, n->velocity);
        }
    }
    return 0;
}

static int write_conductor(Out *o, const SmfWriteTempo *tempos, size_t n_tempos)
{
    SmfWriteTempo *sorted = malloc((n_tempos ? n_tempos : 1) * sizeof *sorted);
    if (!sorted)
        return -1;
    if (n_tempos)
        memcpy(sorted, tempos, n_tempos * sizeof *sorted);
    if (sort_copy(sorted, n_tempos, sizeof *sorted, by_tick_write_tempo)) {
        free(sorted);
        return -1;
    }
    size_t at = begin_track(o);
    uint32_t tick = 0;
    for (size_t i = 0; i < n_tempos; i++) {
        put_vlq(o, sorted[i].tick - tick);
        tick = sorted[i].tick;
        put_byte(o, 0xFF);
        put_byte(o, META_TEMPO);
        put_byte(o, 3);
        put_be(o, sorted[i].usec_per_quarter, 3);
    }
    end_track(o, at, 0);
    free(sorted);
    return 0;
}

static int write_notes(Out *o, const SmfWriteTrack *track)
{
    size_t n = track->n_notes * 2;
    WriteEvent *ev = malloc((n ? n : 1) * sizeof *ev);
    if (!ev)
        return -1;
    for (size_t i = 0; i < track->n_notes; i++) {
        const SmfWriteNote *note = &track->notes[i];
        ev[2 * i] = (WriteEvent){ note->start_tick, 1, note->channel, note->key, note->velocity };
        ev[2 * i + 1] = (WriteEvent){ note->end_tick, 0, note->channel, note->key, 0 };
    }
    if (sort_copy(ev, n, sizeof *ev, by_tick_then_off)) {
        free(ev);
        return -1;
    }
    size_t at = begin_track(o);
    if (track->name) {
        size_t len = strlen(track->name);
        put_vlq(o, 0);
        put_byte(o, 0xFF);
        put_byte(o, META_TRACK_NAME);
        put_vlq(o, (uint32_t)len);
        for (size_t i = 0; i < len; i++)
            put_byte(o, (unsigned char)track->name[i]);
    }
    uint32_t tick = 0;
    unsigned running = 0;
    for (size_t i = 0; i < n; i++) {
        put_vlq(o, ev[i].tick - tick);
        tick = ev[i].tick;
        unsigned status = MSG_NOTE_ON | ev[i].channel;
        if (status != running)
            put_byte(o, status);
        running = status;                /* meta events come only before the notes */
        put_byte(o, ev[i].key);
        put_byte(o, ev[i].velocity);     /* 0 for a note-off */
    }
    end_track(o, at, 0);
    free(ev);
    return 0;
}

int smf_write_simple(const SmfWriteTrack *tracks, size_t n_tracks, unsigned ticks_per_quarter,
                     const SmfWriteTempo *tempos, size_t n_tempos,
                     unsigned char **bytes, size_t *len, char *err, size_t errlen)
{
    *bytes = NULL;
    *len = 0;
    if (check_write(tracks, n_tracks, ticks_per_quarter, tempos, n_tempos, err, errlen))
        return -1;
    Out o = { 0 };
    put_be(&o, 0x4D546864, 4);           /* "MThd" */
    put_be(&o, 6, 4);
    put_be(&o, 1, 2);                    /* format 1 */
    put_be(&o, (uint32_t)n_tracks + 1, 2);
    put_be(&o, ticks_per_quarter, 2);
    int rc = write_conductor(&o, tempos, n_tempos);
    for (size_t t = 0; t < n_tracks && rc == 0; t++)
        rc = write_notes(&o, &tracks[t]);
    if (rc || o.out_of_memory) {
        free(o.bytes);
        return fail(err, errlen, "out of memory");
    }
    *bytes = o.bytes;
    *len = o.len;
    return 0;
}
