/* check_smf.c — Standard MIDI File reading and writing (runtime/formats/smf.c):
 * hand-built files for each feature, malformed and truncated files, a
 * mutation fuzz, the event cap and a writer -> reader round trip. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smf.h"
#include "testutil.h"

#define EPS 1e-9

/* ---- building files by hand ----------------------------------------------- */

typedef struct Bytes {
    unsigned char *p;
    size_t n, cap;
} Bytes;

static void put(Bytes *b, const unsigned char *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_be(Bytes *b, uint32_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(b, &c, 1);
    }
}

/* A header (length 6) and one MTrk chunk per body. */
static Bytes make_file(unsigned format, unsigned division, int n_tracks, const unsigned char *const *bodies,
                       const size_t *lens)
{
    Bytes b = { 0 };
    put(&b, (const unsigned char *)"MThd", 4);
    put_be(&b, 6, 4);
    put_be(&b, format, 2);
    put_be(&b, (uint32_t)n_tracks, 2);
    put_be(&b, division, 2);
    for (int t = 0; t < n_tracks; t++) {
        put(&b, (const unsigned char *)"MTrk", 4);
        put_be(&b, (uint32_t)lens[t], 4);
        put(&b, bodies[t], lens[t]);
    }
    return b;
}

static Bytes make_format0(unsigned division, const unsigned char *body, size_t len)
{
    return make_file(0, division, 1, &body, &len);
}

static Smf read_ok(const Bytes *b)
{
    Smf smf;
    char err[200];
    ck_assert_msg(smf_read(b->p, b->n, &smf, err, sizeof err) == 0, "%s", err);
    return smf;
}

static void expect_error(const unsigned char *p, size_t n, const char *words)
{
    Smf smf;
    char err[200] = "";
    ck_assert_int_eq(smf_read(p, n, &smf, err, sizeof err), -1);
    ck_assert_msg(strstr(err, words) != NULL, "error '%s' lacks '%s'", err, words);
    ck_assert_ptr_null(smf.block);
    ck_assert_ptr_null(smf.tracks);
    ck_assert_uint_eq(smf.n_tracks, 0);
}

static void expect_body_error(const unsigned char *body, size_t len, const char *words)
{
    Bytes b = make_format0(96, body, len);
    expect_error(b.p, b.n, words);
    free(b.p);
}

static void check_note(const SmfNote *n, int channel, int key, int velocity, uint64_t start,
                       uint64_t end)
{
    ck_assert_int_eq(n->channel, channel);
    ck_assert_int_eq(n->key, key);
    ck_assert_float_eq(n->velocity, (float)velocity / 127.0f);
    ck_assert_uint_eq(n->start_tick, start);
    ck_assert_uint_eq(n->end_tick, end);
}

/* ---- core ----------------------------------------------------------------- */

START_TEST(test_format0)
{
    static const unsigned char body[] = {
        0x00, 0xFF, 0x03, 0x05, 'P', 'i', 'a', 'n', 'o',
        0x00, 0xC0, 0x05,                   /* program 5 on channel 0 */
        0x00, 0x90, 0x3C, 0x64,             /* C4 on, velocity 100, tick 0 */
        0x60, 0x80, 0x3C, 0x40,             /* off at 96 */
        0x00, 0x91, 0x40, 0x7F,             /* E4 on channel 1 at 96 */
        0x83, 0x00, 0x81, 0x40, 0x00,       /* off at 96 + 384 = 480 */
        0x00, 0xFF, 0x2F, 0x00,
    };
    Bytes b = make_format0(96, body, sizeof body);
    Smf smf = read_ok(&b);
    ck_assert_int_eq(smf.format, 0);
    ck_assert_int_eq(smf.ticks_per_quarter, 96);
    ck_assert_uint_eq(smf.n_tracks, 1);
    ck_assert_str_eq(smf.tracks[0].name, "Piano");
    ck_assert_uint_eq(smf.tracks[0].n_notes, 2);
    ck_assert_uint_eq(smf.n_notes, 2);
    const SmfNote *n = smf.tracks[0].notes;
    check_note(&n[0], 0, 60, 100, 0, 96);
    ck_assert_double_eq_tol(n[0].start_seconds, 0.0, EPS);
    ck_assert_double_eq_tol(n[0].end_seconds, 0.5, EPS);   /* default 120 bpm */
    ck_assert_double_eq_tol(n[0].start_beat, 0.0, EPS);
    ck_assert_double_eq_tol(n[0].length_beats, 1.0, EPS);
    ck_assert_int_eq(n[0].program, 5);
    check_note(&n[1], 1, 64, 127, 96, 480);
    ck_assert_double_eq_tol(n[1].start_seconds, 0.5, EPS);
    ck_assert_double_eq_tol(n[1].end_seconds, 2.5, EPS);
    ck_assert_double_eq_tol(n[1].start_beat, 1.0, EPS);
    ck_assert_double_eq_tol(n[1].length_beats, 4.0, EPS);
    ck_assert_int_eq(n[1].program, -1);
    ck_assert_int_eq(smf.initial_program[0], 5);
    ck_assert_int_eq(smf.initial_program[1], -1);
    ck_assert_uint_eq(smf.n_programs, 1);
    ck_assert_uint_eq(smf.n_tempos, 1);
    ck_assert_uint_eq(smf.tempos[0].usec_per_quarter, SMF_DEFAULT_TEMPO);
    ck_assert_double_eq_tol(smf.tempos[0].bpm, 120.0, EPS);
    ck_assert_uint_eq(smf.n_time_sigs, 1);
    ck_assert_int_eq(smf.time_sigs[0].numerator, 4);
    ck_assert_int_eq(smf.time_sigs[0].denominator, 4);
    ck_assert_uint_eq(smf.end_tick, 480);
    ck_assert_double_eq_tol(smf.end_seconds, 2.5, EPS);
    SmfWarnings none = { 0 };
    ck_assert(memcmp(&smf.warnings, &none, sizeof none) == 0);
    smf_free(&smf);
    ck_assert_ptr_null(smf.block);
    smf_free(&smf);                         /* twice is harmless */
    free(b.p);
}
END_TEST

START_TEST(test_running_status_and_velocity_zero)
{
    static const unsigned char body[] = {
        0x00, 0x90, 0x3C, 0x50,             /* C4 on */
        0x00, 0x40, 0x50,                   /* running: E4 on */
        0x83, 0x60, 0x3C, 0x00,             /* 480 later, running: C4 velocity 0 = off */
        0x00, 0xFF, 0x01, 0x03, 'a', 'b', 'c', /* a text event between */
        0x00, 0x40, 0x00,                   /* running status survives it: E4 off */
        0x00, 0xB0, 0x07, 0x64,             /* a controller takes over running status */
        0x00, 0x0A, 0x40,                   /* running: controller 10 */
        0x10, 0x90, 0x43, 0x01,             /* G4 on at 496 */
        0x10, 0x80, 0x43, 0x7F,             /* 0x80 with a release velocity is an off */
        0x00, 0xFF, 0x2F, 0x00,
    };
    Bytes b = make_format0(480, body, sizeof body);
    Smf smf = read_ok(&b);
    ck_assert_uint_eq(smf.tracks[0].n_notes, 3);
    const SmfNote *n = smf.tracks[0].notes;
    check_note(&n[0], 0, 60, 0x50, 0, 480);
    check_note(&n[1], 0, 64, 0x50, 0, 480);
    check_note(&n[2], 0, 67, 1, 496, 512);
    ck_assert_double_eq_tol(n[1].end_seconds, 0.5, EPS);
    ck_assert_uint_eq(smf.warnings.orphan_note_offs, 0);
    ck_assert_uint_eq(smf.warnings.unterminated_notes, 0);
    smf_free(&smf);
    free(b.p);
}
END_TEST

/* Tempo changes in the conductor track and in a note track, time signatures. */
START_TEST(test_tempo_changes)
{
    static const unsigned char conductor[] = {
        0x00, 0xFF, 0x58, 0x04, 0x03, 0x02, 0x18, 0x08,   /* 3/4 */
        0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,         /* 500000: 120 bpm */
        0x87, 0x40, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90,   /* tick 960: 250000 */
        0x87, 0x40, 0xFF, 0x58, 0x04, 0x06, 0x03, 0x18, 0x08, /* tick 1920: 6/8 */
        0x00, 0xFF, 0x2F, 0x00,
    };
    static const unsigned char lead[] = {
        0x00, 0xFF, 0x03, 0x04, 'L', 'e', 'a', 'd',
        0x00, 0x90, 0x3C, 0x40,             /* 0..480 */
        0x83, 0x60, 0x3C, 0x00,
        0x87, 0x40, 0x3E, 0x40,             /* 1440..1920, after the change */
        0x83, 0x60, 0x3E, 0x00,
        0x83, 0x60, 0x40, 0x40,             /* 2400..2880 */
        0x83, 0x60, 0x40, 0x00,
        0x83, 0x60, 0x41, 0x40,             /* 3360..3840, after the 60 bpm below */
        0x83, 0x60, 0x41, 0x00,
        0x00, 0xFF, 0x2F, 0x00,
    };
    static const unsigned char other[] = {
        0x96, 0x40, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40,   /* tick 2880: 1000000, 60 bpm */
        0x00, 0xFF, 0x2F, 0x00,
    };
    const unsigned char *bodies[] = { conductor, lead, other };
    size_t lens[] = { sizeof conductor, sizeof lead, sizeof other };
    Bytes b = make_file(1, 480, 3, bodies, lens);
    Smf smf = read_ok(&b);
    ck_assert_int_eq(smf.format, 1);
    ck_assert_uint_eq(smf.n_tracks, 3);
    ck_assert_str_eq(smf.tracks[0].name, "");
    ck_assert_str_eq(smf.tracks[1].name, "Lead");

    ck_assert_uint_eq(smf.n_tempos, 3);
    ck_assert_uint_eq(smf.tempos[1].tick, 960);
    ck_assert_double_eq_tol(smf.tempos[1].seconds, 1.0, EPS);
    ck_assert_double_eq_tol(smf.tempos[1].bpm, 240.0, EPS);
    ck_assert_uint_eq(smf.tempos[2].tick, 2880);
    ck_assert_double_eq_tol(smf.tempos[2].seconds, 2.0, EPS);
    ck_assert_double_eq_tol(smf.tempos[2].beat, 6.0, EPS);

    const SmfNote *n = smf.tracks[1].notes;
    ck_assert_uint_eq(smf.tracks[1].n_notes, 4);
    ck_assert_double_eq_tol(n[0].end_seconds, 0.5, EPS);
    ck_assert_double_eq_tol(n[1].start_seconds, 1.25, EPS);
    ck_assert_double_eq_tol(n[1].end_seconds, 1.5, EPS);
    ck_assert_double_eq_tol(n[2].start_seconds, 1.75, EPS);
    ck_assert_double_eq_tol(n[3].start_seconds, 3.0, EPS);
    ck_assert_double_eq_tol(n[3].end_seconds, 4.0, EPS);
    ck_assert_double_eq_tol(n[3].start_beat, 7.0, EPS);
    ck_assert_double_eq_tol(n[3].length_beats, 1.0, EPS);
    ck_assert_double_eq_tol(smf_tick_to_seconds(&smf, 1200), 1.125, EPS);
    ck_assert_double_eq_tol(smf_tick_to_seconds(&smf, 4800), 6.0, EPS);
    ck_assert_double_eq_tol(smf_tick_to_beats(&smf, 1200), 2.5, EPS);

    ck_assert_uint_eq(smf.n_time_sigs, 2);
    ck_assert_int_eq(smf.time_sigs[0].numerator, 3);
    ck_assert_int_eq(smf.time_sigs[0].denominator, 4);
    ck_assert_int_eq(smf.time_sigs[1].numerator, 6);
    ck_assert_int_eq(smf.time_sigs[1].denominator, 8);
    ck_assert_int_eq(smf.time_sigs[1].clocks_per_click, 24);
    ck_assert_double_eq_tol(smf.time_sigs[1].seconds, 1.5, EPS);
    ck_assert_double_eq_tol(smf.time_sigs[1].beat, 4.0, EPS);
    ck_assert_uint_eq(smf.end_tick, 3840);
    ck_assert_double_eq_tol(smf.end_seconds, 4.0, EPS);
    smf_free(&smf);
    free(b.p);
}
END_TEST

/* At one tick the last tempo wins; bad tempo and time signature events are
 * skipped and counted. */
START_TEST(test_tempo_ties_and_bad_meta)
{
    static const unsigned char body[] = {
        0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40,         /* 1000000 ... */
        0x00, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90,         /* ... overruled: 250000 */
        0x00, 0xFF, 0x51, 0x02, 0x07, 0xA1,               /* wrong length */
        0x00, 0xFF, 0x51, 0x03, 0x00, 0x00, 0x00,         /* zero */
        0x00, 0xFF, 0x58, 0x04, 0x00, 0x02, 0x18, 0x08,   /* numerator 0 */
        0x00, 0xFF, 0x58, 0x04, 0x04, 0x20, 0x18, 0x08,   /* 2^32 */
        0x00, 0xFF, 0x58, 0x03, 0x04, 0x02, 0x18,         /* too short */
        0x00, 0x90, 0x3C, 0x40,
        0x60, 0x3C, 0x00,
        0x00, 0xFF, 0x2F, 0x00,
    };
    Bytes b = make_format0(96, body, sizeof body);
    Smf smf = read_ok(&b);
    ck_assert_uint_eq(smf.n_tempos, 1);
    ck_assert_uint_eq(smf.tempos[0].usec_per_quarter, 250000);
    ck_assert_double_eq_tol(smf.tracks[0].notes[0].end_seconds, 0.25, EPS);
    ck_assert_uint_eq(smf.warnings.bad_meta, 5);
    ck_assert_uint_eq(smf.n_time_sigs, 1);              /* the default */
    smf_free(&smf);
    free(b.p);
}
END_TEST

START_TEST(test_smpte_division)
{
    /* -25 frames per second, 40 ticks a frame: a tick is a millisecond. */
    static const unsigned char body[] = {
        0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40,         /* 60 bpm */
        0x87, 0x68, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,   /* tick 1000: 120 bpm */
        0x83, 0x74, 0x90, 0x3C, 0x40,                     /* 1500..2000 */
        0x83, 0x74, 0x3C, 0x00,
        0x00, 0xFF, 0x2F, 0x00,
    };
    Bytes b = make_format0(0xE728, body, sizeof body);
    Smf smf = read_ok(&b);
    ck_assert_int_eq(smf.ticks_per_quarter, 0);
    ck_assert_double_eq(smf.smpte_fps, 25.0);
    ck_assert_int_eq(smf.smpte_ticks_per_frame, 40);
    const SmfNote *n = smf.tracks[0].notes;
    check_note(n, 0, 60, 0x40, 1500, 2000);
    ck_assert_double_eq_tol(n->start_seconds, 1.5, EPS);
    ck_assert_double_eq_tol(n->end_seconds, 2.0, EPS);
    /* A beat a second up to 1 s, then two a second. */
    ck_assert_double_eq_tol(smf.tempos[1].beat, 1.0, EPS);
    ck_assert_double_eq_tol(n->start_beat, 2.0, EPS);
    ck_assert_double_eq_tol(n->length_beats, 1.0, EPS);
    smf_free(&smf);
    free(b.p);

    /* 29.97 (drop-frame 30) frames per second, one tick a frame. */
    static const unsigned char late[] = {
        0x81, 0xEA, 0x30, 0x90, 0x3C, 0x40,               /* tick 30000 */
        0x01, 0x3C, 0x00,
        0x00, 0xFF, 0x2F, 0x00,
    };
    b = make_format0(0xE301, late, sizeof late);
    smf = read_ok(&b);
    ck_assert_double_eq_tol(smf.smpte_fps, 30000.0 / 1001.0, 1e-12);
    ck_assert_double_eq_tol(smf.tracks[0].notes[0].start_seconds, 1001.0, EPS);
    smf_free(&smf);
    free(b.p);

    b = make_format0(0xE001, late, sizeof late);       /* -32: no such rate */
    expect_error(b.p, b.n, "32 frames per second");
    free(b.p);
    b = make_format0(0xE700, late, sizeof late);
    expect_error(b.p, b.n, "0 ticks per frame");
    free(b.p);
}
END_TEST

START_TEST(test_overlapping_same_key)
{
    static const unsigned char body[] = {
        0x00, 0x90, 0x3C, 0x40,             /* A on, tick 0 */
        0x0A, 0x90, 0x3C, 0x41,             /* B on, same key, tick 10 */
        0x0A, 0x80, 0x3C, 0x00,             /* off at 20: ends A, the oldest */
        0x00, 0x91, 0x3C, 0x42,             /* C: same key on channel 1, tick 20 */
        0x0A, 0x90, 0x3C, 0x00,             /* off at 30: ends B */
        0x00, 0x81, 0x3C, 0x00,             /* channel 1's off ends C */
        0x00, 0x90, 0x30, 0x01,             /* three deep on key 48: ticks 30, 31, 32 */
        0x01, 0x30, 0x02,
        0x01, 0x30, 0x03,
        0x03, 0x30, 0x00,                   /* offs at 35, 36, 37 */
        0x01, 0x30, 0x00,
        0x01, 0x30, 0x00,
        0x00, 0xFF, 0x2F, 0x00,
    };
    Bytes b = make_format0(100, body, sizeof body);
    Smf smf = read_ok(&b);
    ck_assert_uint_eq(smf.tracks[0].n_notes, 6);
    const SmfNote *n = smf.tracks[0].notes;
    check_note(&n[0], 0, 60, 0x40, 0, 20);
    check_note(&n[1], 0, 60, 0x41, 10, 30);
    check_note(&n[2], 1, 60, 0x42, 20, 30);
    check_note(&n[3], 0, 48, 1, 30, 35);
    check_note(&n[4], 0, 48, 2, 31, 36);
    check_note(&n[5], 0, 48, 3, 32, 37);
    ck_assert_uint_eq(smf.warnings.unterminated_notes, 0);
    ck_assert_uint_eq(smf.warnings.orphan_note_offs, 0);
    smf_free(&smf);
    free(b.p);
}
END_TEST

START_TEST(test_unterminated_and_orphans)
{
    static const unsigned char first[] = {
        0x00, 0x90, 0x3C, 0x40,             /* never ended */
        0x0A, 0x90, 0x3E, 0x40,             /* 10..20 */
        0x0A, 0x80, 0x3E, 0x00,
        0x05, 0x80, 0x40, 0x00,             /* an off with nothing sounding */
        0x4B, 0xFF, 0x2F, 0x00,             /* end of track at 100 */
        0x00, 0x90, 0x3C, 0x40,             /* after the end: ignored */
    };
    static const unsigned char second[] = {
        0x00, 0x90, 0x3C, 0x40,             /* same key: the queue starts empty */
        0x05, 0x80, 0x3C, 0x00,
        0x05, 0x90, 0x41, 0x40,             /* no off and no end-of-track */
        0x05, 0xB0, 0x07, 0x10,
    };
    const unsigned char *bodies[] = { first, second };
    size_t lens[] = { sizeof first, sizeof second };
    Bytes b = make_file(1, 96, 2, bodies, lens);
    Smf smf = read_ok(&b);
    ck_assert_uint_eq(smf.tracks[0].n_notes, 2);
    check_note(&smf.tracks[0].notes[0], 0, 60, 0x40, 0, 100);
    check_note(&smf.tracks[0].notes[1], 0, 62, 0x40, 10, 20);
    ck_assert_uint_eq(smf.tracks[0].end_tick, 100);
    ck_assert_uint_eq(smf.tracks[1].n_notes, 2);
    check_note(&smf.tracks[1].notes[0], 0, 60, 0x40, 0, 5);
    check_note(&smf.tracks[1].notes[1], 0, 65, 0x40, 10, 15);
    ck_assert_uint_eq(smf.tracks[1].end_tick, 15);
    ck_assert_uint_eq(smf.warnings.unterminated_notes, 2);
    ck_assert_uint_eq(smf.warnings.orphan_note_offs, 1);
    ck_assert_uint_eq(smf.warnings.missing_end_of_track, 1);
    ck_assert_uint_eq(smf.warnings.bytes_after_end_of_track, 1);
    ck_assert_uint_eq(smf.end_tick, 100);
    smf_free(&smf);
    free(b.p);
}
END_TEST

START_TEST(test_sysex_programs_and_chunks)
{
    static const unsigned char body[] = {
        0x00, 0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7,   /* GM reset sysex */
        0x00, 0xC3, 0x10,                                 /* channel 3: program 16 */
        0x00, 0x93, 0x3C, 0x40,
        0x00, 0xF7, 0x02, 0xF3, 0x01,                     /* escaped bytes */
        0x0A, 0x3C, 0x00,                                 /* running status across both */
        0x00, 0xC3, 0x11,                                 /* program 17 at tick 10 */
        0x00, 0x93, 0x3E, 0x40,
        0x0A, 0x3E, 0x00,
        0x00, 0xD3, 0x40,                                 /* channel pressure: one data byte */
        0x00, 0xE3, 0x00, 0x40,                           /* pitch bend */
        0x00, 0xFF, 0x7F, 0x03, 0x00, 0x00, 0x41,         /* sequencer specific */
        0x00, 0xFF, 0x2F, 0x00,
    };
    /* A longer header and an unknown chunk before the track: both skipped. */
    Bytes b = { 0 };
    put(&b, (const unsigned char *)"MThd", 4);
    put_be(&b, 8, 4);
    put_be(&b, 0, 2);
    put_be(&b, 1, 2);
    put_be(&b, 96, 2);
    put_be(&b, 0xABCD, 2);
    put(&b, (const unsigned char *)"XFIH", 4);
    put_be(&b, 3, 4);
    put_be(&b, 0x010203, 3);
    put(&b, (const unsigned char *)"MTrk", 4);
    put_be(&b, sizeof body, 4);
    put(&b, body, sizeof body);
    Smf smf = read_ok(&b);
    ck_assert_uint_eq(smf.tracks[0].n_notes, 2);
    check_note(&smf.tracks[0].notes[0], 3, 60, 0x40, 0, 10);
    check_note(&smf.tracks[0].notes[1], 3, 62, 0x40, 10, 20);
    ck_assert_int_eq(smf.tracks[0].notes[0].program, 16);
    ck_assert_int_eq(smf.tracks[0].notes[1].program, 17);
    ck_assert_int_eq(smf.initial_program[3], 16);
    ck_assert_uint_eq(smf.n_programs, 2);
    ck_assert_uint_eq(smf.programs[1].tick, 10);
    ck_assert_int_eq(smf.programs[1].channel, 3);
    ck_assert_uint_eq(smf.end_tick, 20);
    smf_free(&smf);
    free(b.p);
}
END_TEST

/* Deltas of 4 bytes add up past 2^32 without wrapping. */
START_TEST(test_long_deltas)
{
    Bytes body = { 0 };
    static const unsigned char max_cc[] = { 0xFF, 0xFF, 0xFF, 0x7F, 0xB0, 0x07, 0x00 };
    for (int i = 0; i < 20; i++)
        put(&body, max_cc, sizeof max_cc);
    static const unsigned char tail[] = { 0x00, 0x90, 0x3C, 0x40, 0x60, 0x3C, 0x00,
                                          0x00, 0xFF, 0x2F, 0x00 };
    put(&body, tail, sizeof tail);
    Bytes b = make_format0(96, body.p, body.n);
    Smf smf = read_ok(&b);
    uint64_t start = 20ull * 0x0FFFFFFF;
    ck_assert(start > UINT32_MAX);
    check_note(&smf.tracks[0].notes[0], 0, 60, 0x40, start, start + 96);
    ck_assert_double_eq_tol(smf.tracks[0].notes[0].start_seconds, (double)start / 96 * 0.5, 1e-6);
    ck_assert_double_eq_tol(smf.tracks[0].notes[0].length_beats, 1.0, EPS);
    smf_free(&smf);
    free(b.p);
    free(body.p);
}
END_TEST

/* ---- malformed ------------------------------------------------------------ */

START_TEST(test_malformed)
{
    static const unsigned char ok[] = { 0x00, 0x90, 0x3C, 0x40, 0x10, 0x3C, 0x00, 0x00, 0xFF, 0x2F, 0x00 };
    Bytes b = make_format0(96, ok, sizeof ok);
    Smf smf = read_ok(&b);
    smf_free(&smf);

    expect_error(NULL, 0, "too short");
    expect_error(b.p, 0, "too short");
    expect_error(b.p, 13, "too short");
    unsigned char *copy = malloc(b.n);
    memcpy(copy, b.p, b.n);
    memcpy(copy, "RIFF", 4);
    expect_error(copy, b.n, "not a MIDI file");
    memcpy(copy, b.p, b.n);
    copy[7] = 5;
    expect_error(copy, b.n, "at least 6");
    memcpy(copy, b.p, b.n);
    copy[4] = 0x7F;
    expect_error(copy, b.n, "header chunk claims");
    memcpy(copy, b.p, b.n);
    copy[9] = 2;
    expect_error(copy, b.n, "format 2 (independent sequences) is not supported");
    copy[9] = 3;
    expect_error(copy, b.n, "unknown format 3");
    memcpy(copy, b.p, b.n);
    copy[11] = 2;
    expect_error(copy, b.n, "format 0 file declares 2 tracks");
    memcpy(copy, b.p, b.n);
    copy[12] = copy[13] = 0;
    expect_error(copy, b.n, "division of 0");
    memcpy(copy, b.p, b.n);
    copy[9] = 1;
    copy[11] = 2;                           /* format 1, two tracks, one there */
    expect_error(copy, b.n, "after 1 of 2 tracks");
    memcpy(copy, b.p, b.n);
    copy[18] = 0x7F;                        /* track length past the end */
    expect_error(copy, b.n, "chunk 'MTrk' at byte 14 claims");
    free(copy);
    free(b.p);

    static const unsigned char long_vlq[] = { 0x80, 0x80, 0x80, 0x80, 0x00, 0xFF, 0x2F, 0x00 };
    expect_body_error(long_vlq, sizeof long_vlq, "longer than 4 bytes");
    static const unsigned char no_status[] = { 0x00, 0x3C, 0x40, 0x00, 0xFF, 0x2F, 0x00 };
    expect_body_error(no_status, sizeof no_status, "no running status");
    static const unsigned char system[] = { 0x00, 0xF4, 0x00, 0xFF, 0x2F, 0x00 };
    expect_body_error(system, sizeof system, "status byte 0xF4");
    static const unsigned char high_data[] = { 0x00, 0x90, 0x3C, 0x90, 0x00, 0xFF, 0x2F, 0x00 };
    expect_body_error(high_data, sizeof high_data, "high bit");
    static const unsigned char cut_event[] = { 0x00, 0x90, 0x3C };
    expect_body_error(cut_event, sizeof cut_event, "runs past the end of the track");
    static const unsigned char cut_delta[] = { 0x00, 0x90, 0x3C, 0x40, 0x81 };
    expect_body_error(cut_delta, sizeof cut_delta, "runs past the end of the track");
    static const unsigned char long_meta[] = { 0x00, 0xFF, 0x01, 0x10, 'a' };
    expect_body_error(long_meta, sizeof long_meta, "claims 16 bytes");
    static const unsigned char long_sysex[] = { 0x00, 0xF0, 0xFF, 0xFF, 0xFF, 0x7F, 0xF7 };
    expect_body_error(long_sysex, sizeof long_sysex, "sysex at byte 23 claims 268435455");
    static const unsigned char cut_meta[] = { 0x00, 0xFF };
    expect_body_error(cut_meta, sizeof cut_meta, "runs past the end");
}
END_TEST

/* A rich file: format 1, conductor plus two tracks, most event kinds. */
static Bytes rich_file(void)
{
    static const unsigned char conductor[] = {
        0x00, 0xFF, 0x03, 0x03, 'S', 'o', 'n',
        0x00, 0xFF, 0x58, 0x04, 0x04, 0x02, 0x18, 0x08,
        0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,
        0x83, 0x60, 0xFF, 0x51, 0x03, 0x05, 0x16, 0x15,
        0x00, 0xFF, 0x2F, 0x00,
    };
    static const unsigned char piano[] = {
        0x00, 0xFF, 0x03, 0x05, 'P', 'i', 'a', 'n', 'o',
        0x00, 0xC0, 0x00,
        0x00, 0xF0, 0x03, 0x43, 0x10, 0xF7,
        0x00, 0x90, 0x3C, 0x64,
        0x00, 0x40, 0x64,
        0x81, 0x70, 0x3C, 0x00,
        0x00, 0x3C, 0x50,
        0x81, 0x70, 0x80, 0x3C, 0x00,
        0x00, 0x40, 0x00,
        0x00, 0xB0, 0x40, 0x7F,
        0x00, 0xE0, 0x00, 0x40,
        0x00, 0xFF, 0x2F, 0x00,
    };
    static const unsigned char drums[] = {
        0x00, 0xFF, 0x03, 0x05, 'D', 'r', 'u', 'm', 's',
        0x00, 0x99, 0x24, 0x7F,
        0x30, 0x2A, 0x60,
        0x30, 0x24, 0x00,
        0x00, 0x2A, 0x00,
        0x30, 0x99, 0x26, 0x40,             /* never ended */
        0x00, 0xD9, 0x20,
        0x83, 0x60, 0xFF, 0x2F, 0x00,
    };
    const unsigned char *bodies[] = { conductor, piano, drums };
    size_t lens[] = { sizeof conductor, sizeof piano, sizeof drums };
    return make_file(1, 240, 3, bodies, lens);
}

/* Every proper prefix of a valid file is an error, cleanly. */
START_TEST(test_truncated_everywhere)
{
    Bytes rich = rich_file();
    Smf smf = read_ok(&rich);
    ck_assert_uint_eq(smf.n_notes, 6);
    ck_assert_uint_eq(smf.warnings.unterminated_notes, 1);
    smf_free(&smf);

    SmfWriteNote notes[] = { { 0, 96, 0, 60, 100 }, { 48, 200, 9, 36, 127 } };
    SmfWriteTrack track = { "t", notes, 2 };
    SmfWriteTempo tempo = { 100, 400000 };
    unsigned char *written;
    size_t written_len;
    char err[200];
    ck_assert_int_eq(smf_write_simple(&track, 1, 96, &tempo, 1, &written, &written_len, err, sizeof err),
                     0);

    const unsigned char *files[] = { rich.p, written };
    size_t lens[] = { rich.n, written_len };
    for (int f = 0; f < 2; f++) {
        for (size_t n = 0; n < lens[f]; n++) {
            /* A copy of exactly n bytes, so reading past it is caught by ASan. */
            unsigned char *cut = malloc(n ? n : 1);
            memcpy(cut, files[f], n);
            err[0] = '\0';
            ck_assert_msg(smf_read(cut, n, &smf, err, sizeof err) == -1, "prefix %zu accepted", n);
            ck_assert(err[0] != '\0');
            ck_assert_ptr_null(smf.block);
            free(cut);
        }
        ck_assert_int_eq(smf_read(files[f], lens[f], &smf, err, sizeof err), 0);
        smf_free(&smf);
    }
    free(written);
    free(rich.p);
}
END_TEST

static uint64_t rng_state;
static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 32);
}

/* What any accepted file must look like. */
static void check_invariants(const Smf *smf)
{
    ck_assert(smf->format == 0 || smf->format == 1);
    ck_assert((smf->ticks_per_quarter > 0) != (smf->smpte_fps > 0));
    ck_assert_uint_ge(smf->n_tempos, 1);
    ck_assert_uint_eq(smf->tempos[0].tick, 0);
    for (size_t i = 1; i < smf->n_tempos; i++) {
        ck_assert(smf->tempos[i].tick > smf->tempos[i - 1].tick);
        ck_assert(smf->tempos[i].seconds >= smf->tempos[i - 1].seconds);
        ck_assert(smf->tempos[i].usec_per_quarter > 0);
    }
    ck_assert_uint_ge(smf->n_time_sigs, 1);
    ck_assert_uint_eq(smf->time_sigs[0].tick, 0);
    for (size_t i = 0; i < smf->n_programs; i++)
        ck_assert(smf->programs[i].channel < 16 && smf->programs[i].program < 128);
    size_t total = 0;
    for (size_t t = 0; t < smf->n_tracks; t++) {
        const SmfTrack *track = &smf->tracks[t];
        ck_assert_ptr_nonnull(track->name);
        ck_assert(strlen(track->name) < 100000);
        ck_assert(track->end_tick <= smf->end_tick);
        for (size_t i = 0; i < track->n_notes; i++) {
            const SmfNote *n = &track->notes[i];
            ck_assert(n->channel < 16 && n->key < 128);
            ck_assert(n->velocity > 0.0f && n->velocity <= 1.0f);
            ck_assert(n->end_tick >= n->start_tick && n->end_tick <= track->end_tick);
            ck_assert(isfinite(n->start_seconds) && isfinite(n->end_seconds));
            ck_assert(n->end_seconds >= n->start_seconds);
            ck_assert(isfinite(n->length_beats) && n->length_beats >= 0.0);
            ck_assert(n->program >= -1 && n->program < 128);
            if (i > 0)
                ck_assert(n->start_tick >= track->notes[i - 1].start_tick);
        }
        total += track->n_notes;
    }
    ck_assert_uint_eq(total, smf->n_notes);
}

/* 50,000 mutations of the rich file (bit flips, random bytes, runs of
 * 0xFF, big lengths, deleted and inserted bytes, truncations): each gives
 * a clean result or a clean error. Under Check's fork mode a crash fails
 * the test; the tcase timeout catches a hang. */
START_TEST(test_mutation_fuzz)
{
    Bytes rich = rich_file();
    size_t cap = rich.n + 64;
    unsigned char *buf = malloc(cap);
    rng_state = 0x5EED5EED12345678ull;
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 50000; iter++) {
        memcpy(buf, rich.p, rich.n);
        size_t n = rich.n;
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits && n > 0; e++) {
            uint32_t r = rng();
            size_t at = rng() % n;
            switch (r % 8) {
            case 0: buf[at] ^= (unsigned char)(1u << (r >> 8) % 8); break;
            case 1: buf[at] = (unsigned char)(r >> 16); break;
            case 2:
                for (size_t i = at; i < n && i < at + 1 + (r >> 8) % 6; i++)
                    buf[i] = 0xFF;
                break;
            case 3:
                if (at + 4 <= n)
                    memcpy(buf + at, (const unsigned char[]){ 0x7F, 0xFF, 0xFF, (unsigned char)r }, 4);
                break;
            case 4:
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            case 5:
                if (n < cap) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = (unsigned char)(r >> 8);
                    n++;
                }
                break;
            case 6: n = at; break;
            case 7: buf[at] = (unsigned char)(0x80 | (r >> 8)); break;
            }
        }
        /* An exact-size copy, so an overread is an ASan report. */
        unsigned char *input = malloc(n ? n : 1);
        memcpy(input, buf, n);
        Smf smf;
        char err[200] = "";
        if (smf_read(input, n, &smf, err, sizeof err) == 0) {
            check_invariants(&smf);
            smf_free(&smf);
            accepted++;
        } else {
            ck_assert(err[0] != '\0');
            ck_assert_ptr_null(smf.block);
            rejected++;
        }
        free(input);
    }
    ck_assert_int_gt(accepted, 1000);
    ck_assert_int_gt(rejected, 1000);
    free(buf);
    free(rich.p);
}
END_TEST

/* ---- limits --------------------------------------------------------------- */

/* A track of `events` events: one controller, then running-status
 * controllers, then end of track. */
static Bytes many_events(uint32_t events)
{
    Bytes body = { 0 };
    body.cap = (size_t)events * 3 + 16;
    body.p = malloc(body.cap);
    static const unsigned char first[] = { 0x00, 0xB0, 0x07, 0x00 };
    put(&body, first, sizeof first);
    for (uint32_t i = 0; i < events - 2; i++)
        put(&body, (const unsigned char[]){ 0x00, 0x07, 0x00 }, 3);
    put(&body, (const unsigned char[]){ 0x00, 0xFF, 0x2F, 0x00 }, 4);
    Bytes b = make_format0(96, body.p, body.n);
    free(body.p);
    return b;
}

START_TEST(test_event_cap)
{
    Bytes b = many_events(SMF_MAX_EVENTS);
    Smf smf = read_ok(&b);
    ck_assert_uint_eq(smf.n_notes, 0);
    smf_free(&smf);
    free(b.p);
    b = many_events(SMF_MAX_EVENTS + 1);
    expect_error(b.p, b.n, "more than 10000000 events");
    free(b.p);
}
END_TEST

START_TEST(test_zeroed_smf_queries)
{
    Smf smf;
    memset(&smf, 0, sizeof smf);
    ck_assert_double_eq(smf_tick_to_seconds(&smf, 1000), 0.0);
    ck_assert_double_eq(smf_tick_to_beats(&smf, 1000), 0.0);
    smf_free(&smf);
    smf_free(NULL);
}
END_TEST

/* ---- writer --------------------------------------------------------------- */

#define RT_TRACKS 3
#define RT_NOTES 300

static int by_start(const void *a, const void *b)
{
    const SmfWriteNote *x = a, *y = b;
    if (x->start_tick != y->start_tick)
        return x->start_tick < y->start_tick ? -1 : 1;
    return 0;
}

/* Seconds at a tick, the plain way: walk the (sorted, tie-resolved) tempos. */
static double reference_seconds(const SmfWriteTempo *tempos, int n, unsigned ppq, uint32_t tick)
{
    double seconds = 0;
    uint32_t at = 0, usec = SMF_DEFAULT_TEMPO;
    for (int i = 0; i < n && tempos[i].tick <= tick; i++) {
        seconds += (double)(tempos[i].tick - at) * usec / (1e6 * ppq);
        at = tempos[i].tick;
        usec = tempos[i].usec_per_quarter;
    }
    return seconds + (double)(tick - at) * usec / (1e6 * ppq);
}

START_TEST(test_round_trip)
{
    static SmfWriteNote notes[RT_TRACKS][RT_NOTES];
    static SmfWriteNote sorted[RT_NOTES];
    const char *names[RT_TRACKS] = { "Bass", "", "Keys with a longer name" };
    SmfWriteTrack tracks[RT_TRACKS];
    rng_state = 42;
    for (int t = 0; t < RT_TRACKS; t++) {
        for (int i = 0; i < RT_NOTES; i++) {
            SmfWriteNote *n = &notes[t][i];
            int clash;
            do {                            /* no overlap on one key and channel */
                n->channel = (uint8_t)(rng() % 16);
                n->key = (uint8_t)(rng() % 128);
                n->velocity = (uint8_t)(1 + rng() % 127);
                n->start_tick = rng() % 20000;
                n->end_tick = n->start_tick + 1 + rng() % 2000;
                clash = 0;
                for (int j = 0; j < i; j++) {
                    const SmfWriteNote *o = &notes[t][j];
                    if (o->channel == n->channel && o->key == n->key &&
                        o->start_tick < n->end_tick && n->start_tick < o->end_tick)
                        clash = 1;
                }
            } while (clash);
        }
        tracks[t] = (SmfWriteTrack){ names[t], notes[t], RT_NOTES };
    }
    /* Out of order, and two at tick 5000: the later one given wins. */
    SmfWriteTempo tempos[] = { { 8000, 300000 }, { 0, 600000 }, { 5000, 1000000 }, { 5000, 450000 },
                               { 15000, 12345 } };
    SmfWriteTempo resolved[] = { { 0, 600000 }, { 5000, 450000 }, { 8000, 300000 }, { 15000, 12345 } };
    const unsigned ppq = 480;
    unsigned char *bytes;
    size_t len;
    char err[200];
    ck_assert_msg(smf_write_simple(tracks, RT_TRACKS, ppq, tempos, 5, &bytes, &len, err, sizeof err) == 0,
                  "%s", err);
    Smf smf;
    ck_assert_msg(smf_read(bytes, len, &smf, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(smf.format, 1);
    ck_assert_int_eq(smf.ticks_per_quarter, (int)ppq);
    ck_assert_uint_eq(smf.n_tracks, RT_TRACKS + 1);
    ck_assert_uint_eq(smf.tracks[0].n_notes, 0);
    ck_assert_uint_eq(smf.n_tempos, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(smf.tempos[i].tick, resolved[i].tick);
        ck_assert_uint_eq(smf.tempos[i].usec_per_quarter, resolved[i].usec_per_quarter);
    }
    SmfWarnings none = { 0 };
    ck_assert(memcmp(&smf.warnings, &none, sizeof none) == 0);
    for (int t = 0; t < RT_TRACKS; t++) {
        const SmfTrack *track = &smf.tracks[t + 1];
        ck_assert_str_eq(track->name, names[t]);
        ck_assert_uint_eq(track->n_notes, RT_NOTES);
        /* The reader's order: by start, ties in the order given (a stable sort). */
        memcpy(sorted, notes[t], sizeof sorted);
        for (int i = 1; i < RT_NOTES; i++)
            for (int j = i; j > 0 && by_start(&sorted[j], &sorted[j - 1]) < 0; j--) {
                SmfWriteNote tmp = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = tmp;
            }
        for (int i = 0; i < RT_NOTES; i++) {
            const SmfNote *n = &track->notes[i];
            const SmfWriteNote *w = &sorted[i];
            check_note(n, w->channel, w->key, w->velocity, w->start_tick, w->end_tick);
            ck_assert_double_eq_tol(n->start_seconds, reference_seconds(resolved, 4, ppq, w->start_tick),
                                    EPS);
            ck_assert_double_eq_tol(n->end_seconds, reference_seconds(resolved, 4, ppq, w->end_tick), EPS);
            ck_assert_double_eq_tol(n->start_beat, (double)w->start_tick / ppq, EPS);
            ck_assert_double_eq_tol(n->length_beats, (double)(w->end_tick - w->start_tick) / ppq, EPS);
        }
    }
    smf_free(&smf);

    /* The same bytes through a file. */
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/check_smf_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
    close(fd);
    ck_assert_msg(smf_read_file(path, &smf, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(smf.n_notes, RT_TRACKS * RT_NOTES);
    smf_free(&smf);
    unlink(path);
    ck_assert_int_eq(smf_read_file(path, &smf, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "check_smf_"));
    ck_assert_ptr_null(smf.block);
    free(bytes);
}
END_TEST

START_TEST(test_write_rejects)
{
    SmfWriteNote note = { 10, 20, 0, 60, 100 };
    SmfWriteTrack track = { NULL, &note, 1 };
    SmfWriteTempo tempo = { 0, 500000 };
    unsigned char *bytes = (unsigned char *)"sentinel";
    size_t len = 1;
    char err[200];
    ck_assert_int_eq(smf_write_simple(&track, 1, 0, NULL, 0, &bytes, &len, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "ticks per quarter"));
    ck_assert_ptr_null(bytes);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(smf_write_simple(&track, 1, 0x8000, NULL, 0, &bytes, &len, err, sizeof err), -1);
    tempo.usec_per_quarter = 0;
    ck_assert_int_eq(smf_write_simple(&track, 1, 96, &tempo, 1, &bytes, &len, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "microseconds"));
    tempo.usec_per_quarter = 500000;
    note.end_tick = 10;                     /* zero length */
    ck_assert_int_eq(smf_write_simple(&track, 1, 96, &tempo, 1, &bytes, &len, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "start < end"));
    note.end_tick = SMF_WRITE_MAX_TICK + 1;
    ck_assert_int_eq(smf_write_simple(&track, 1, 96, &tempo, 1, &bytes, &len, err, sizeof err), -1);
    note.end_tick = 20;
    note.channel = 16;
    ck_assert_int_eq(smf_write_simple(&track, 1, 96, &tempo, 1, &bytes, &len, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "channel 16"));
    note.channel = 0;
    note.velocity = 0;
    ck_assert_int_eq(smf_write_simple(&track, 1, 96, &tempo, 1, &bytes, &len, err, sizeof err), -1);
    note.velocity = 127;
    ck_assert_int_eq(smf_write_simple(&track, 1, 96, &tempo, 1, &bytes, &len, err, sizeof err), 0);
    Smf smf;
    ck_assert_int_eq(smf_read(bytes, len, &smf, err, sizeof err), 0);
    ck_assert_str_eq(smf.tracks[1].name, "");
    ck_assert_float_eq(smf.tracks[1].notes[0].velocity, 1.0f);
    smf_free(&smf);
    free(bytes);
    /* No tracks at all: just the conductor. */
    ck_assert_int_eq(smf_write_simple(NULL, 0, 96, NULL, 0, &bytes, &len, err, sizeof err), 0);
    ck_assert_int_eq(smf_read(bytes, len, &smf, err, sizeof err), 0);
    ck_assert_uint_eq(smf.n_tracks, 1);
    ck_assert_uint_eq(smf.n_tempos, 1);
    smf_free(&smf);
    free(bytes);
}
END_TEST

static Suite *smf_suite(void)
{
    Suite *s = suite_create("smf");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_format0);
    tcase_add_test(core, test_running_status_and_velocity_zero);
    tcase_add_test(core, test_tempo_changes);
    tcase_add_test(core, test_tempo_ties_and_bad_meta);
    tcase_add_test(core, test_smpte_division);
    tcase_add_test(core, test_overlapping_same_key);
    tcase_add_test(core, test_unterminated_and_orphans);
    tcase_add_test(core, test_sysex_programs_and_chunks);
    tcase_add_test(core, test_long_deltas);
    suite_add_tcase(s, core);
    TCase *writer = tcase_create("writer");
    tcase_add_test(writer, test_round_trip);
    tcase_add_test(writer, test_write_rejects);
    suite_add_tcase(s, writer);
    TCase *bad = tcase_create("malformed");
    tcase_add_test(bad, test_malformed);
    tcase_add_test(bad, test_truncated_everywhere);
    tcase_add_test(bad, test_mutation_fuzz);
    tcase_set_timeout(bad, 120);
    suite_add_tcase(s, bad);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_event_cap);
    tcase_add_test(limits, test_zeroed_smf_queries);
    tcase_set_timeout(limits, 120);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    return testutil_run(smf_suite());
}
