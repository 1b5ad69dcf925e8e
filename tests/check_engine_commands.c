/* check_engine_commands.c — the engine consuming the command ring
 * (runtime/engine/engine_commands.c): every command type, encoded with the C
 * encoders into a real ring, drained at the start of each render quantum,
 * changes the engine's output or state at its own sample (regions play
 * their exact frames from their exact sample, the master fader, voice modes
 * and priorities, tempo changes and all-notes-off included); patch ids take
 * ready nodes (and wait for a refill when there are none); handles are
 * checked, never trusted; 100,000 random records are counted and skipped
 * without a crash; draining and rendering allocate nothing.
 *
 * Signals are measured on the left channel with tracks panned hard left
 * (gain exactly 1 there), as in check_engine.c. Test patches: a constant
 * (dc), a stereo affine insert (out = in * mul + add), and the polyphonic
 * fixture (tests/fixtures/fixture_poly.c; with release 0 a note sounds
 * exactly from its note-on to its note-off).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_count.h"
#include "commands.h"
#include "engine.h"
#include "engine_commands.h"
#include "ring.h"
#include "testutil.h"
#include "fixtures/fixture_poly.c"

#define SR 48000.0f
#define LEN 160000
#define QUANTUM 128
#define RING_CAPACITY (1u << 14)

enum { P_DC = 1, P_AFFINE = 2, P_POLY = 3, P_ONE = 4, P_UNUSED = 7 };

/* ---- test patches ------------------------------------------------------------ */

#include "fixtures/engine_patches.c"

/* ---- the rig: an engine, its command tables, a ring ------------------------------- */

static float out_l[LEN], out_r[LEN];

typedef struct Rig {
    Engine *e;
    EngineCommands *cx;
    void *ring;
    long pos;                    /* samples rendered */
    int released[8];             /* ENGINE_EV_* seen, by kind (ENGINE_EV_REFUSED too) */
    int drain_errors;            /* engine_drain_ring returned -1 */
    int refill_failures;         /* engine_commands_refill found the pools full */
    bool pools_may_fill;         /* ... which only the random test allows */
} Rig;

static void rig_config(EngineConfig *cfg)
{
    engine_config_default(cfg, SR);
    cfg->max_tracks = 8;
    cfg->max_inserts = 4;
    cfg->max_sends = 2;
    cfg->max_nodes = 64;
    cfg->state_bytes = 16u << 20;
    cfg->clip_bytes = 1u << 20;
    cfg->sample_bytes = 1u << 20;
    cfg->lane_bytes = 1u << 20;
    cfg->max_clips = 16;
    cfg->max_samples = 4;
    cfg->max_placements = 4;
    cfg->max_regions = 4;
    cfg->max_lanes = 4;
    cfg->max_tempo_points = 8;
    cfg->queue_size = 1024;
    cfg->max_block = 256;
}

static void rig_init(Rig *r)
{
    memset(r, 0, sizeof *r);
    EngineConfig cfg;
    rig_config(&cfg);
    char err[300];
    r->e = engine_init(&cfg, err, sizeof err);
    ck_assert_msg(r->e != NULL, "%s", err);
    EngineCommandsConfig ccfg;
    engine_commands_config_default(&ccfg);
    ccfg.max_patches = 8;
    ccfg.max_stock = 4;
    ccfg.clip_handles = ccfg.sample_handles = ccfg.lane_handles = 8;
    ccfg.wait_limit = 4;
    ccfg.max_ahead_seconds = 10.0;
    r->cx = engine_commands_new(r->e, &ccfg, err, sizeof err);
    ck_assert_msg(r->cx != NULL, "%s", err);
    ck_assert_ptr_eq(engine_commands_of(r->e), r->cx);
    ck_assert_int_eq(engine_commands_set_patch(r->cx, P_DC, &dc_desc, 2, err, sizeof err), 0);
    ck_assert_int_eq(engine_commands_set_patch(r->cx, P_AFFINE, &affine_desc, 2, err, sizeof err), 0);
    ck_assert_int_eq(engine_commands_set_patch(r->cx, P_POLY, &amp_fixture_poly_desc, 2, err, sizeof err), 0);
    ck_assert_int_eq(engine_commands_set_patch(r->cx, P_ONE, &affine_desc, 1, err, sizeof err), 0);
    ck_assert_uint_eq(engine_commands_ready(r->cx, P_DC), 2);
    r->ring = aligned_alloc(RB_ALIGN, rb_bytes_needed(RING_CAPACITY));
    ck_assert_ptr_nonnull(r->ring);
    ck_assert(rb_init(r->ring, RING_CAPACITY));
}

static void rig_free(Rig *r)
{
    ck_assert_int_eq(r->drain_errors, 0);
    if (!r->pools_may_fill)
        ck_assert_int_eq(r->refill_failures, 0);
    engine_commands_free(r->cx);
    ck_assert_ptr_null(engine_commands_of(r->e));
    engine_free(r->e);
    free(r->ring);
}

/* The control side between two quanta: events read (what they hand back
 * freed), stocks refilled. No ck_assert in here or in render_to: Check
 * allocates on every assertion, and these run while allocations count. */
static void control(Rig *r)
{
    EngineEvent ev;
    while (engine_poll(r->e, &ev)) {
        if (ev.kind >= 0 && ev.kind < 8)
            r->released[ev.kind]++;
        engine_release(r->e, &ev);
    }
    if (engine_commands_refill(r->cx, NULL, 0) < 0)
        r->refill_failures++;
}

/* Render up to sample `to` in quanta of 128 frames, each one started by a
 * drain of the ring. */
static void render_to(Rig *r, long to)
{
    if (to > LEN)
        abort();
    while (r->pos < to) {
        int n = to - r->pos < QUANTUM ? (int)(to - r->pos) : QUANTUM;
        if (engine_drain_ring(r->e, r->ring, 4096) < 0)
            r->drain_errors++;
        float *out[2] = { out_l + r->pos, out_r + r->pos };
        engine_render(r->e, out, n);
        r->pos += n;
        control(r);
    }
}

static void send_record(Rig *r, const void *bytes, uint32_t len)
{
    ck_assert_msg(rb_write(r->ring, bytes, len), "the ring is full");
}

/* Encode a command with its C encoder and write it into the ring. */
#define SEND(r, name, ...) \
    do { \
        unsigned char rec_[CMD_SIZE_MAX]; \
        uint32_t len_ = cmd_encode_##name(rec_, sizeof rec_, __VA_ARGS__); \
        ck_assert_uint_gt(len_, 0); \
        send_record((r), rec_, len_); \
    } while (0)

static EngineCommandsStats stats_of(const Rig *r)
{
    EngineCommandsStats st;
    engine_commands_stats(r->cx, &st);
    return st;
}

static EngineState state_of(const Rig *r)
{
    EngineState st;
    engine_state_read(engine_state(r->e), &st);
    return st;
}

/* A track `track` playing patch `patch`, panned hard left, from `time`. */
static void add_instrument(Rig *r, int64_t time, uint32_t track, uint32_t patch)
{
    SEND(r, add_track, time, track, CMD_TRACK_INSTRUMENT);
    SEND(r, set_instrument, time, track, patch);
    SEND(r, set_pan, time, track, -1.0f);
}

static void add_dc(Rig *r, int64_t time, uint32_t track, float level)
{
    add_instrument(r, time, track, P_DC);
    SEND(r, set_param, time, track, 0, 0, level);
}

/* Expect a constant `want` on the left over [from, to). */
static void expect_left(long from, long to, float want, float tol)
{
    for (long i = from; i < to; i++)
        ck_assert_msg(fabsf(out_l[i] - want) <= tol, "sample %ld: %.9g, expected %.9g", i, (double)out_l[i],
                      (double)want);
}

/* ---- notes and params --------------------------------------------------------------- */

START_TEST(test_notes_at_their_samples)
{
    Rig r;
    rig_init(&r);
    add_instrument(&r, 0, 0, P_POLY);
    SEND(&r, set_param, 0, 0, 0, FX_RELEASE, 0.0f);
    SEND(&r, note_on, 1000, 0, 1, 69, 1.0f);
    SEND(&r, note_off, 3000, 0, 1);
    SEND(&r, note_on, 4001, 0, 2, 72, 0.5f);       /* not on a quantum or vector edge */
    SEND(&r, note_off, 4517, 0, 2);
    SEND(&r, note_on, 5000, 0, 0x40000000u, 60, 1.0f); /* beyond the live note ids: refused */
    render_to(&r, 8192);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 8192), 1000);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 4000), 2999);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 3000, 8192), 4001);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 8192), 4516);
    ck_assert_int_eq(testutil_first_nonzero(out_r, 0, 8192), -1);   /* hard left */
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.records, 9);
    ck_assert_uint_eq(st.applied, 8);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_RANGE], 1);
    rig_free(&r);
}
END_TEST

START_TEST(test_param_at_its_sample)
{
    static const long ks[] = { 1024, 1024 + 127, 1024 + 128, 1024 + 129 };
    for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
        Rig r;
        rig_init(&r);
        add_dc(&r, 0, 0, 0.25f);
        SEND(&r, set_param, ks[j], 0, 0, 0, 0.5f);
        render_to(&r, 4096);
        expect_left(0, ks[j], 0.25f, 0.0f);
        expect_left(ks[j], 4096, 0.5f, 0.0f);
        rig_free(&r);
    }
    /* A command whose time has passed applies at the start of the next quantum. */
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 0.25f);
    render_to(&r, 1000);
    SEND(&r, set_param, 10, 0, 0, 0, 0.75f);
    render_to(&r, 2000);
    expect_left(0, 1000, 0.25f, 0.0f);
    expect_left(1000, 2000, 0.75f, 0.0f);
    rig_free(&r);
}
END_TEST

/* ---- mixer -------------------------------------------------------------------------------- */

START_TEST(test_gain_pan_mute_solo)
{
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 0.5f);
    add_dc(&r, 0, 1, 0.25f);
    SEND(&r, set_pan, 0, 1, 1.0f);                   /* track 1 hard right */
    SEND(&r, set_gain, 1000, 0, -6.0f);
    SEND(&r, set_pan, 3000, 0, 0.0f);
    SEND(&r, set_mute, 5000, 0, true);
    SEND(&r, set_mute, 6000, 0, false);
    SEND(&r, set_solo, 7000, 1, true);
    SEND(&r, set_solo, 8000, 1, false);
    SEND(&r, set_gain, 9000, 0, -144.0f);            /* silence */
    render_to(&r, 10000);
    float g6 = 0.5f * powf(10.0f, -6.0f / 20.0f);
    expect_left(0, 1000, 0.5f, 0.0f);
    ck_assert(out_l[1000] < 0.5f && out_l[1000] > g6);     /* the ramp starts at its sample */
    expect_left(1000 + ENGINE_RAMP, 3000, g6, 2e-6f);
    /* centre: -3 dB on each side */
    expect_left(3000 + ENGINE_RAMP, 5000, g6 * 0.70710678f, 2e-6f);
    for (long i = 3000 + ENGINE_RAMP; i < 5000; i++)
        ck_assert(fabsf(out_r[i] - 0.25f - g6 * 0.70710678f) < 2e-6f);
    ck_assert(out_l[3000] < out_l[2999]);            /* each change starts at its sample */
    ck_assert(out_l[5000] < out_l[4999]);
    ck_assert(out_l[7000] < out_l[6999]);
    ck_assert(out_l[9000] < out_l[8999]);
    expect_left(5000 + ENGINE_RAMP, 6000, 0.0f, 0.0f);
    expect_left(6000 + ENGINE_RAMP, 7000, g6 * 0.70710678f, 2e-6f);
    expect_left(7000 + ENGINE_RAMP, 8000, 0.0f, 0.0f);          /* track 1 soloed */
    for (long i = 7000 + ENGINE_RAMP; i < 8000; i++)
        ck_assert_float_eq(out_r[i], 0.25f);
    expect_left(8000 + ENGINE_RAMP, 9000, g6 * 0.70710678f, 2e-6f);
    expect_left(9000 + ENGINE_RAMP, 10000, 0.0f, 0.0f);
    EngineState st = state_of(&r);
    ck_assert_uint_eq(st.tracks[0].flags & ENGINE_TRACK_FLAG_HEARD, ENGINE_TRACK_FLAG_HEARD);
    ck_assert_uint_eq(stats_of(&r).refused, 0);
    rig_free(&r);
}
END_TEST

/* A rig with track 0 a DC of 0.5 and bus tracks 1..n, each panned left. */
static void dc_and_buses(Rig *r, int n)
{
    rig_init(r);
    add_dc(r, 0, 0, 0.5f);
    for (int b = 1; b <= n; b++) {
        SEND(r, add_track, 0, (uint32_t)b, CMD_TRACK_BUS);
        SEND(r, set_pan, 0, (uint32_t)b, -1.0f);
    }
}

START_TEST(test_sends)
{
    Rig r;
    dc_and_buses(&r, 3);
    SEND(&r, set_gain, 0, 2, -144.0f);
    SEND(&r, set_gain, 0, 3, -144.0f);
    SEND(&r, set_send, 1000, 0, 1, 0.5f);
    SEND(&r, set_send, 1000, 0, 2, 1.0f);            /* second send slot */
    SEND(&r, set_send, 1000, 0, 3, 1.0f);            /* max_sends is 2: refused */
    SEND(&r, set_send, 2000, 0, 1, 0.25f);           /* the same send, a new level */
    SEND(&r, set_send, 3000, 0, 1, 0.0f);            /* removed */
    SEND(&r, set_send, 3000, 0, 3, 1.0f);            /* now there is a free slot */
    SEND(&r, set_send, 3500, 0, 4, 0.0f);            /* no such send: nothing to remove */
    render_to(&r, 4000);
    expect_left(0, 1000, 0.5f, 0.0f);
    expect_left(1000 + ENGINE_RAMP, 2000, 0.75f, 2e-6f);
    expect_left(2000 + ENGINE_RAMP, 3000, 0.625f, 2e-6f);
    expect_left(3000 + ENGINE_RAMP, 4000, 0.5f, 2e-6f);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_FULL], 1);
    ck_assert_int_eq(r.released[ENGINE_EV_REFUSED], 0);
    rig_free(&r);
}
END_TEST

/* Commands that arrive out of time order keep their meaning: a send
 * removed at 3000 (sent first) frees its slot only from 3000, so a send
 * added at 2000 (sent after) takes the other slot, and the removal at 3000
 * does not take it away. */
START_TEST(test_sends_out_of_time_order)
{
    Rig r;
    dc_and_buses(&r, 2);
    SEND(&r, set_send, 1000, 0, 1, 0.5f);
    SEND(&r, set_send, 3000, 0, 1, 0.0f);            /* removed at 3000 ... */
    SEND(&r, set_send, 2000, 0, 2, 1.0f);            /* ... and, sent later, a send from 2000 */
    render_to(&r, 4000);
    expect_left(0, 1000, 0.5f, 0.0f);
    expect_left(1000 + ENGINE_RAMP, 2000, 0.75f, 2e-6f);
    expect_left(2000 + ENGINE_RAMP, 3000, 1.25f, 2e-6f);
    expect_left(3000 + ENGINE_RAMP, 4000, 1.0f, 2e-6f);
    ck_assert_uint_eq(stats_of(&r).refused, 0);
    rig_free(&r);
}
END_TEST

START_TEST(test_inserts)
{
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 0.5f);
    SEND(&r, add_insert, 1000, 0, 1, P_AFFINE);      /* A */
    SEND(&r, set_param, 1000, 0, 1, 0, 2.0f);        /* A: mul 2 */
    SEND(&r, add_insert, 2000, 0, 1, P_AFFINE);      /* B, before A */
    SEND(&r, set_param, 2000, 0, 1, 1, 0.5f);        /* B: add 0.5 */
    SEND(&r, move_insert, 3000, 0, 1, 2);            /* A, B */
    SEND(&r, remove_insert, 4000, 0, 1);             /* B */
    SEND(&r, add_insert, 4500, 0, 1, P_DC);          /* no inputs: not an insert */
    SEND(&r, add_insert, 4500, 0, 1, P_UNUSED);      /* no such patch */
    SEND(&r, add_insert, 4500, 0, 5, P_AFFINE);      /* past max_inserts */
    render_to(&r, 5000);
    expect_left(0, 1000, 0.5f, 0.0f);
    expect_left(1000, 2000, 1.0f, 0.0f);             /* 0.5 * 2 */
    expect_left(2000, 3000, 2.0f, 0.0f);             /* (0.5 + 0.5) * 2 */
    expect_left(3000, 4000, 1.5f, 0.0f);             /* 0.5 * 2 + 0.5 */
    expect_left(4000, 5000, 1.0f, 0.0f);             /* 0.5 + 0.5 */
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_PATCH], 2);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_RANGE], 1);
    ck_assert_int_eq(r.released[ENGINE_EV_NODE_RELEASED], 1);   /* A came back and was freed */
    ck_assert_uint_eq(engine_commands_ready(r.cx, P_AFFINE), 2); /* refilled */
    rig_free(&r);
}
END_TEST

/* A patch with a stock of one: the second insert waits for the refill
 * after the first quantum, then applies; the order of the ring is kept. */
START_TEST(test_waits_for_a_ready_node)
{
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 0.5f);
    SEND(&r, add_insert, 0, 0, 1, P_ONE);
    SEND(&r, add_insert, 0, 0, 1, P_ONE);
    SEND(&r, set_param, 0, 0, 1, 1, 0.25f);          /* the second one's add: after it */
    render_to(&r, QUANTUM);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.waiting, 1);
    ck_assert_uint_eq(st.waits, 1);
    ck_assert_uint_eq(st.records, 6);                /* the set_param is still in the ring */
    expect_left(0, QUANTUM, 0.5f, 0.0f);
    render_to(&r, 4 * QUANTUM);
    st = stats_of(&r);
    ck_assert_uint_eq(st.waiting, 0);
    ck_assert_uint_eq(st.records, 7);
    ck_assert_uint_eq(st.applied, 7);
    expect_left(QUANTUM, 4 * QUANTUM, 0.75f, 0.0f);

    /* Nobody refills: after wait_limit drains the command is refused. */
    ck_assert_int_eq(engine_commands_set_patch(r.cx, P_ONE, &affine_desc, 0, NULL, 0), 0);
    SEND(&r, add_insert, 0, 0, 1, P_ONE);
    SEND(&r, set_param, 0, 0, 0, 0, 0.125f);
    render_to(&r, 12 * QUANTUM);
    st = stats_of(&r);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_NO_NODE], 1);
    ck_assert_uint_eq(st.records, st.applied + st.refused + st.rejected + st.waiting);
    ck_assert_float_eq(out_l[12 * QUANTUM - 1], 0.375f);   /* 0.125 + 0.25 */
    rig_free(&r);
}
END_TEST

START_TEST(test_set_instrument_replaces_and_removes)
{
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 0.5f);
    SEND(&r, set_instrument, 1000, 0, P_DC);         /* a fresh node: level 0 */
    SEND(&r, set_param, 1500, 0, 0, 0, 0.125f);
    SEND(&r, set_instrument, 2000, 0, 0);            /* removed */
    SEND(&r, set_instrument, 2500, 0, P_UNUSED);     /* no such patch */
    SEND(&r, set_instrument, 2500, 9, P_DC);         /* no such track */
    render_to(&r, 3000);
    expect_left(0, 1000, 0.5f, 0.0f);
    expect_left(1000, 1500, 0.0f, 0.0f);
    expect_left(1500, 2000, 0.125f, 0.0f);
    expect_left(2000, 3000, 0.0f, 0.0f);
    ck_assert_int_eq(r.released[ENGINE_EV_NODE_RELEASED], 2);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_PATCH], 1);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_RANGE], 1);
    rig_free(&r);
}
END_TEST

/* ---- graph -------------------------------------------------------------------------------- */

START_TEST(test_add_and_remove_tracks)
{
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 0.5f);
    SEND(&r, add_track, 0, 1, CMD_TRACK_AUDIO);
    SEND(&r, add_track, 0, 2, CMD_TRACK_BUS);
    SEND(&r, add_track, 0, 8, CMD_TRACK_BUS);        /* max_tracks is 8 */
    SEND(&r, add_insert, 0, 2, 1, P_AFFINE);
    SEND(&r, set_send, 0, 0, 2, 1.0f);
    add_dc(&r, 700, 4, 0.25f);                       /* a track that starts at 700 ... */
    SEND(&r, set_pan, 700, 4, 1.0f);                 /* ... on the right */
    render_to(&r, 1000);
    ck_assert_int_eq(testutil_first_nonzero(out_r, 0, 1000), 700);
    EngineState st = state_of(&r);
    ck_assert_uint_eq(st.tracks[0].kind, ENGINE_TRACK_INSTRUMENT);
    ck_assert_uint_eq(st.tracks[1].kind, ENGINE_TRACK_AUDIO);
    ck_assert_uint_eq(st.tracks[2].kind, ENGINE_TRACK_BUS);
    expect_left(500, 1000, 0.5f + 0.5f * 0.70710678f, 2e-6f);   /* the bus is centred */
    SEND(&r, remove_track, 1000, 2);
    SEND(&r, remove_track, 2000, 0);
    render_to(&r, 3000);
    st = state_of(&r);
    ck_assert_uint_eq(st.tracks[0].kind, ENGINE_TRACK_NONE);
    ck_assert_uint_eq(st.tracks[2].kind, ENGINE_TRACK_NONE);
    expect_left(1000, 2000, 0.5f, 0.0f);
    expect_left(2000, 3000, 0.0f, 0.0f);
    ck_assert_int_eq(r.released[ENGINE_EV_NODE_RELEASED], 2);   /* the insert, the instrument */
    /* a removed track's sends are forgotten: a new track 0 has both slots */
    add_dc(&r, 3000, 0, 0.5f);
    SEND(&r, add_track, 3000, 2, CMD_TRACK_BUS);
    SEND(&r, add_track, 3000, 3, CMD_TRACK_BUS);
    SEND(&r, set_send, 3000, 0, 2, 1.0f);
    SEND(&r, set_send, 3000, 0, 3, 1.0f);
    render_to(&r, 4000);
    EngineCommandsStats cs = stats_of(&r);
    ck_assert_uint_eq(cs.refused, 1);                /* track 8 only */
    rig_free(&r);
}
END_TEST

/* ---- transport ---------------------------------------------------------------------------- */

/* Park a clip of `n` notes of half a beat, one per beat from beat 0. */
static uint32_t park_clip(Rig *r, int n, int32_t *bytes)
{
    EngineClip *clip = engine_clip_new(r->e, n);
    ck_assert_ptr_nonnull(clip);
    for (int i = 0; i < n; i++)
        clip->notes[i] = (EngineNote){ .start = i, .length = 0.5, .key = 69, .vel = 1.0f };
    uint32_t h = engine_commands_put_clip(r->cx, clip);
    ck_assert_uint_ne(h, ENGINE_COMMANDS_NO_HANDLE);
    *bytes = (int32_t)engine_commands_clip_bytes(n);
    return h;
}

/* Onsets: the first sample of each run of sound after silence. */
static int onsets(long from, long to, long *at, int max)
{
    int n = 0;
    for (long i = from; i < to && n < max; i++)
        if (out_l[i] != 0.0f && (i == 0 || out_l[i - 1] == 0.0f))
            at[n++] = i;
    return n;
}

START_TEST(test_play_stop_seek_tempo)
{
    Rig r;
    rig_init(&r);
    add_instrument(&r, 0, 0, P_POLY);
    SEND(&r, set_param, 0, 0, 0, FX_RELEASE, 0.0f);
    int32_t bytes;
    uint32_t h = park_clip(&r, 8, &bytes);
    SEND(&r, load_clip, 0, 0, 0, 3, h, (uint32_t)bytes);
    SEND(&r, tempo, 0, 150.0f);                      /* a beat is 19200 samples */
    SEND(&r, time_signature, 0, 3, 4);
    SEND(&r, play, 1000);
    SEND(&r, stop, 40000);                           /* beat 2.03125: the third note is cut */
    SEND(&r, seek, 50000, 48000);                    /* 48000 samples = beat 2.5 at 150 bpm */
    SEND(&r, play, 60000);                           /* the next note, beat 3, 9600 samples on */
    render_to(&r, 100000);
    long at[16];
    int n = onsets(0, 100000, at, 16);
    ck_assert_int_ge(n, 4);
    ck_assert_int_eq(at[0], 1000);
    ck_assert_int_eq(at[1], 1000 + 19200);
    ck_assert_int_eq(at[2], 1000 + 38400);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 50000), 39999);     /* released by the stop */
    ck_assert_int_eq(at[3], 60000 + 9600);
    EngineState st = state_of(&r);
    ck_assert_uint_eq(st.playing, 1);
    ck_assert(st.tempo == 150.0);
    ck_assert_uint_eq(st.sig_num, 3);
    ck_assert_uint_eq(st.sig_den, 4);
    ck_assert(fabs(st.beat - (2.5 + (100000 - 60000) / 19200.0)) < 1e-9);
    ck_assert_int_eq(stats_of(&r).refused, 0);
    ck_assert_int_eq(engine_commands_withdraw(r.cx, ENGINE_COMMANDS_CLIP, h) == NULL, 1);  /* the engine has it */
    rig_free(&r);
}
END_TEST

START_TEST(test_loop)
{
    Rig r;
    rig_init(&r);
    add_instrument(&r, 0, 0, P_POLY);
    SEND(&r, set_param, 0, 0, 0, FX_RELEASE, 0.0f);
    int32_t bytes;
    uint32_t h = park_clip(&r, 4, &bytes);
    SEND(&r, load_clip, 0, 0, 0, 0, h, (uint32_t)bytes);
    SEND(&r, loop, 0, 0, 48000, true);               /* beats 0..2 at 120 bpm */
    SEND(&r, play, 0);
    render_to(&r, 100000);
    long at[16];
    int n = onsets(0, 100000, at, 16);
    ck_assert_int_ge(n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(at[i], 24000L * i);        /* beat 0, 1, then the wrap at 48000 */
    EngineState st = state_of(&r);
    ck_assert_uint_eq(st.loop_enabled, 1);
    ck_assert(st.loop_start == 0.0 && st.loop_end == 2.0);
    rig_free(&r);
}
END_TEST

/* A tempo map set on the engine directly, told to the tables: positions
 * convert through it. */
START_TEST(test_tempo_map_positions)
{
    Rig r;
    rig_init(&r);
    ck_assert_int_eq(engine_set_tempo(r.e, 0, 120.0), 0);
    ck_assert_int_eq(engine_add_tempo_change(r.e, 0, 4.0, 150.0), 0);
    const double beats[1] = { 4.0 }, bpms[1] = { 150.0 };
    ck_assert_int_eq(engine_commands_set_tempo_map(r.cx, 120.0, beats, bpms, 1), 0);
    ck_assert_int_eq(engine_commands_set_tempo_map(r.cx, 120.0, beats, bpms, 9), -1);   /* > max_tempo_points */
    SEND(&r, seek, 0, 96000 + 19200);                /* 2 s at 120, then a beat at 150 */
    render_to(&r, 256);
    EngineState st = state_of(&r);
    ck_assert(fabs(st.beat - 5.0) < 1e-12);
    ck_assert_int_eq(st.playhead, 96000 + 19200);
    ck_assert(st.tempo == 150.0);
    rig_free(&r);
}
END_TEST

/* ---- data blocks ------------------------------------------------------------------------ */

START_TEST(test_clip_handles_are_checked)
{
    Rig r;
    rig_init(&r);
    add_instrument(&r, 0, 0, P_POLY);
    SEND(&r, set_param, 0, 0, 0, FX_RELEASE, 0.0f);
    add_instrument(&r, 0, 1, P_POLY);
    SEND(&r, set_param, 0, 1, 0, FX_RELEASE, 0.0f);
    SEND(&r, set_pan, 0, 1, 1.0f);                   /* track 1 on the right */
    int32_t bytes;
    uint32_t h = park_clip(&r, 2, &bytes);
    SEND(&r, load_clip, 0, 0, 0, 5, h, (uint32_t)bytes + 1);    /* wrong length */
    SEND(&r, load_clip, 0, 0, 0, 5, 7, (uint32_t)bytes);        /* an empty handle */
    SEND(&r, load_clip, 0, 0, 0, 5, 100, (uint32_t)bytes);      /* past the table */
    SEND(&r, load_clip, 0, 0, 0, 16, h, (uint32_t)bytes);       /* clip id past max_clips */
    SEND(&r, play, 0);
    render_to(&r, 1000);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_HANDLE], 3);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_RANGE], 1);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 1000), -1);
    /* the clip stayed parked: now a good command takes it, at beat 1 (sample 24000) */
    SEND(&r, load_clip, 1000, 24000, 0, 5, h, (uint32_t)bytes);
    SEND(&r, load_clip, 1000, 24000, 0, 5, h, (uint32_t)bytes); /* used: empty now */
    render_to(&r, 60000);
    ck_assert_uint_eq(stats_of(&r).refused_by[ENGINE_COMMANDS_REFUSE_HANDLE], 4);
    long at[4];
    ck_assert_int_eq(onsets(0, 60000, at, 4), 2);
    ck_assert_int_eq(at[0], 24000);
    ck_assert_int_eq(at[1], 48000);
    /* loading clip 5 again onto track 1 moves it (and hands back the old one) */
    uint32_t h2 = park_clip(&r, 1, &bytes);
    SEND(&r, load_clip, 60000, 72000, 1, 5, h2, (uint32_t)bytes);
    render_to(&r, 100000);
    ck_assert_int_eq(r.released[ENGINE_EV_CLIP_RELEASED], 1);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 60000, 100000), -1);
    ck_assert_int_eq(testutil_first_nonzero(out_r, 60000, 100000), 72000);
    /* withdraw: a parked block comes back once */
    uint32_t h3 = park_clip(&r, 1, &bytes);
    EngineClip *back = engine_commands_withdraw(r.cx, ENGINE_COMMANDS_CLIP, h3);
    ck_assert_ptr_nonnull(back);
    ck_assert_ptr_null(engine_commands_withdraw(r.cx, ENGINE_COMMANDS_CLIP, h3));
    engine_clip_free(r.e, back);
    rig_free(&r);
}
END_TEST

START_TEST(test_sample_handles_are_checked)
{
    Rig r;
    rig_init(&r);
    EngineSample *s = engine_sample_new(r.e, 2, 100);
    ck_assert_ptr_nonnull(s);
    uint32_t h = engine_commands_put_sample(r.cx, s);
    ck_assert_uint_ne(h, ENGINE_COMMANDS_NO_HANDLE);
    SEND(&r, load_sample, 0, 0, h, 99, 48000, 2);    /* frames differ */
    SEND(&r, load_sample, 0, 0, h, 100, 48000, 1);   /* channels differ */
    SEND(&r, load_sample, 0, 0, h, 100, 44100, 2);   /* not the engine's rate */
    SEND(&r, load_sample, 0, 4, h, 100, 48000, 2);   /* sample id past max_samples */
    SEND(&r, load_sample, 0, 0, h, 100, 48000, 2);   /* good */
    SEND(&r, load_sample, 0, 0, h, 100, 48000, 2);   /* the handle is empty now */
    render_to(&r, 256);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.applied, 1);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_HANDLE], 4);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_RANGE], 1);
    /* a second sample under id 0 hands the first back */
    EngineSample *s2 = engine_sample_new(r.e, 1, 10);
    uint32_t h2 = engine_commands_put_sample(r.cx, s2);
    SEND(&r, load_sample, 256, 0, h2, 10, 48000, 1);
    render_to(&r, 512);
    ck_assert_int_eq(r.released[ENGINE_EV_SAMPLE_RELEASED], 1);
    rig_free(&r);
}
END_TEST

START_TEST(test_automation)
{
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 0.0f);
    EngineLane *lane = engine_lane_new(r.e, 2);
    lane->unit = ENGINE_TIME_BEATS;
    lane->points[0] = (EnginePoint){ .time = 0.0, .value = 0.0f };
    lane->points[1] = (EnginePoint){ .time = 1.0, .value = 1.0f };
    uint32_t h = engine_commands_put_lane(r.cx, lane);
    SEND(&r, automation, 0, 0, 0, 0, 3, h);          /* count differs */
    SEND(&r, automation, 0, 0, 0, 0, 2, h);
    SEND(&r, play, 0);
    SEND(&r, automation, 30000, 0, 0, 0, 0, 0);      /* cleared: the value stays */
    SEND(&r, automation, 30000, 0, 0, 1, 0, 0);      /* no such lane: nothing to clear */
    render_to(&r, 40000);
    ck_assert_float_eq(out_l[12000], 0.5f);          /* beat 0.5 */
    ck_assert_float_eq(out_l[6000], 0.25f);
    expect_left(24000, 40000, 1.0f, 0.0f);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_HANDLE], 1);
    ck_assert_int_eq(r.released[ENGINE_EV_LANE_RELEASED], 1);
    rig_free(&r);
}
END_TEST

/* Automation of the fader: slot INSERT_LIMIT + 1, param 0 = gain in dB,
 * 1 = pan; a third fader param is refused. */
START_TEST(test_fader_automation_by_command)
{
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 1.0f);
    EngineLane *lane = engine_lane_new(r.e, 2);
    lane->unit = ENGINE_TIME_BEATS;
    lane->points[0] = (EnginePoint){ .time = 0.0, .value = -20.0f };
    lane->points[1] = (EnginePoint){ .time = 0.0, .value = -20.0f };
    uint32_t h = engine_commands_put_lane(r.cx, lane);
    SEND(&r, automation, 0, 0, CMD_INSERT_LIMIT + 1, 2, 2, h);   /* no fader param 2: refused */
    SEND(&r, automation, 0, 0, CMD_INSERT_LIMIT + 1, 0, 2, h);
    SEND(&r, play, 0);
    render_to(&r, 2000);
    expect_left(1000, 2000, 0.1f, 1e-6f);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_RANGE], 1);
    rig_free(&r);
}
END_TEST

/* ---- the commands that filled the schema's gaps ------------------------------------------ */

/* Frame i of the ramp sample: (i + 1) / 8192, exact and different for each frame. */
static float ramp_frame(long i)
{
    return (float)(i + 1) / 8192.0f;
}

/* Park a mono sample of `frames` ramp frames. */
static uint32_t park_ramp(Rig *r, int64_t frames)
{
    EngineSample *s = engine_sample_new(r->e, 1, frames);
    ck_assert_ptr_nonnull(s);
    for (int64_t i = 0; i < frames; i++)
        s->data[0][i] = ramp_frame((long)i);
    uint32_t h = engine_commands_put_sample(r->cx, s);
    ck_assert_uint_ne(h, ENGINE_COMMANDS_NO_HANDLE);
    return h;
}

/* out[from + i] == ramp_frame(first + i) * gain for i in [0, n). */
static void expect_ramp(const float *out, long from, long first, long n, float gain)
{
    for (long i = 0; i < n; i++) {
        float want = ramp_frame(first + i) * gain;
        ck_assert_msg(fabsf(out[from + i] - want) <= 1e-6f * want, "sample %ld: %.9g, expected %.9g", from + i,
                      (double)out[from + i], (double)want);
    }
}

/* Regions placed by command play their frames from their exact sample:
 * a span of the sample from a sample off every edge, a region placed while
 * it is under way (from the matching frame, at its gain), one removed while
 * it plays, one moved to another track before it plays. */
START_TEST(test_region_at_its_sample)
{
    Rig r;
    rig_init(&r);
    uint32_t h = park_ramp(&r, 8192);
    SEND(&r, add_track, 0, 0, CMD_TRACK_AUDIO);
    SEND(&r, set_pan, 0, 0, -1.0f);                  /* left */
    SEND(&r, add_track, 0, 1, CMD_TRACK_AUDIO);
    SEND(&r, set_pan, 0, 1, 1.0f);                   /* right */
    SEND(&r, load_sample, 0, 2, h, 8192, 48000, 1);
    SEND(&r, place_region, 0, 30001, 0, 5, 2, 100, 500, 0.0f);   /* frames 100..599 from 30001 */
    SEND(&r, place_region, 0, 40000, 0, 7, 2, 0, 0, 0.0f);       /* to the end of the sample ... */
    SEND(&r, remove_region, 41000, 7);                           /* ... but removed at 41000 */
    SEND(&r, place_region, 0, 50000, 0, 8, 2, 0, 1000, 0.0f);    /* on the left ... */
    SEND(&r, place_region, 45000, 50000, 1, 8, 2, 0, 1000, 0.0f);/* ... moved to the right */
    SEND(&r, play, 0);
    SEND(&r, place_region, 10000, 9000, 0, 6, 2, 0, 0, -6.0f);   /* under way when placed */
    render_to(&r, 60000);
    float g6 = powf(10.0f, -6.0f / 20.0f);
    /* region 6: from 10000, frame 1000 on, to the end of the sample (timeline 9000 + 8192) */
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 60000), 10000);
    expect_ramp(out_l, 10000, 1000, 8192 - 1000, g6);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 30001), 9000 + 8192 - 1);
    /* region 5: exactly frames 100..599 at 30001..30500 */
    ck_assert_int_eq(testutil_first_nonzero(out_l, 9000 + 8192, 60000), 30001);
    expect_ramp(out_l, 30001, 100, 500, 1.0f);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 40000), 30500);
    /* region 7: from 40000 until the removal at 41000 */
    ck_assert_int_eq(testutil_first_nonzero(out_l, 30501, 60000), 40000);
    expect_ramp(out_l, 40000, 0, 1000, 1.0f);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 60000), 40999);
    /* region 8: off the left, on the right from 50000 */
    ck_assert_int_eq(testutil_first_nonzero(out_r, 0, 60000), 50000);
    expect_ramp(out_r, 50000, 0, 1000, 1.0f);
    ck_assert_int_eq(testutil_last_nonzero(out_r, 0, 60000), 50999);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.refused, 0);
    ck_assert_uint_eq(st.applied, 12);
    ck_assert_uint_eq(state_of(&r).commands_failed, 0);
    rig_free(&r);
}
END_TEST

/* Region ids and slots are checked, never trusted; a removed track's
 * slots are free again. */
START_TEST(test_region_tables)
{
    Rig r;
    rig_init(&r);
    add_instrument(&r, 0, 0, P_DC);
    SEND(&r, add_track, 0, 2, CMD_TRACK_AUDIO);
    for (uint32_t k = 0; k < 4; k++)
        SEND(&r, place_region, 0, 0, 2, 20 + k, 0, 0, 0, 0.0f);
    SEND(&r, place_region, 0, 0, 2, 24, 0, 0, 0, 0.0f);   /* max_regions is 4: full */
    SEND(&r, place_region, 0, 0, 2, 21, 1, 0, 0, 0.0f);   /* an id again: its own slot */
    SEND(&r, place_region, 0, 0, 2, 32, 0, 0, 0, 0.0f);   /* ids 0..31: 8 tracks x 4 slots */
    SEND(&r, place_region, 0, 0, 2, 3, 4, 0, 0, 0.0f);    /* sample id past max_samples */
    SEND(&r, place_region, 0, 0, 8, 3, 0, 0, 0, 0.0f);    /* track id past max_tracks */
    SEND(&r, remove_region, 0, 32);                       /* past the table */
    SEND(&r, remove_region, 0, 3);                        /* never placed: nothing to do */
    SEND(&r, remove_region, 0, 20);
    SEND(&r, place_region, 0, 0, 2, 24, 0, 0, 0, 0.0f);   /* the slot 20 had */
    SEND(&r, place_region, 0, 0, 0, 25, 0, 0, 0, 0.0f);   /* not an audio track: the engine refuses */
    render_to(&r, 256);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_FULL], 1);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_RANGE], 4);
    ck_assert_uint_eq(st.refused, 5);
    ck_assert_int_eq(r.released[ENGINE_EV_REFUSED], 1);
    SEND(&r, remove_track, 256, 2);
    SEND(&r, add_track, 256, 2, CMD_TRACK_AUDIO);
    for (uint32_t k = 0; k < 4; k++)
        SEND(&r, place_region, 256, 0, 2, 10 + k, 0, 0, 0, 0.0f);
    SEND(&r, place_region, 256, 0, 3, 21, 0, 0, 0, 0.0f);     /* forgotten with track 2: no clear sent */
    render_to(&r, 512);
    st = stats_of(&r);
    ck_assert_uint_eq(st.refused, 5);
    ck_assert_int_eq(r.released[ENGINE_EV_REFUSED], 2);        /* track 3 does not exist */
    rig_free(&r);
}
END_TEST

START_TEST(test_master_gain_at_its_sample)
{
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 0.5f);
    add_dc(&r, 0, 1, 0.25f);
    SEND(&r, set_pan, 0, 1, 1.0f);                   /* track 1 on the right */
    SEND(&r, set_master_gain, 1001, -6.0f);
    SEND(&r, set_master_gain, 3000, -144.0f);        /* silence */
    SEND(&r, set_master_gain, 4000, 0.0f);
    render_to(&r, 5000);
    float g6 = powf(10.0f, -6.0f / 20.0f);
    expect_left(0, 1001, 0.5f, 0.0f);
    ck_assert(out_l[1001] < 0.5f && out_l[1001] > 0.5f * g6);   /* the ramp starts at its sample */
    ck_assert(out_r[1001] < 0.25f && out_r[1000] == 0.25f);
    expect_left(1001 + ENGINE_RAMP, 3000, 0.5f * g6, 2e-6f);
    for (long i = 1001 + ENGINE_RAMP; i < 3000; i++)
        ck_assert(fabsf(out_r[i] - 0.25f * g6) <= 2e-6f);     /* every track: the master */
    ck_assert(out_l[3000] < out_l[2999]);
    expect_left(3000 + ENGINE_RAMP, 4000, 0.0f, 0.0f);
    ck_assert_int_eq(testutil_first_nonzero(out_r, 3000 + ENGINE_RAMP, 4000), -1);
    ck_assert(out_l[4000] > 0.0f && out_l[3999] == 0.0f);
    expect_left(4000 + ENGINE_RAMP, 5000, 0.5f, 0.0f);
    EngineState es = state_of(&r);
    ck_assert(fabsf(es.master.peak[0] - 0.5f) <= 1e-6f);
    ck_assert_uint_eq(stats_of(&r).refused, 0);
    rig_free(&r);

    /* At time 0 there is nothing to ramp from: it applies at once. */
    rig_init(&r);
    add_dc(&r, 0, 0, 0.5f);
    SEND(&r, set_master_gain, 0, -6.0f);
    render_to(&r, 256);
    expect_left(0, 256, 0.5f * g6, 2e-6f);
    rig_free(&r);
}
END_TEST

/* Sign changes of the left channel over [from, to): about 2 f (to - from) / SR. */
static int crossings(long from, long to)
{
    int n = 0;
    for (long i = from + 1; i < to; i++)
        if ((out_l[i - 1] < 0.0f) != (out_l[i] < 0.0f))
            n++;
    return n;
}

/* Over 4800 samples, key 48 (130.8 Hz) crosses zero about 26 times, key
 * 72 (523.3 Hz) about 105 times. */
static bool sounds_key_48(long from) { int n = crossings(from, from + 4800); return n >= 22 && n <= 30; }
static bool sounds_key_72(long from) { int n = crossings(from, from + 4800); return n >= 100 && n <= 110; }

static uint32_t voices_of(const Rig *r, int track)
{
    return state_of(r).tracks[track].voices;
}

/* Poly, then mono (last), mono (low) and legato (high), each switched by
 * a command at its sample; the voice counts, the pitch that sounds and the
 * continuity at a change of note tell the modes apart. */
START_TEST(test_voice_mode_by_command)
{
    /* The switch at 1500 changes nothing before its sample, and the output
     * at it: compared with the same notes and no switch. */
    static float no_switch[2000];
    for (int pass = 0; pass < 2; pass++) {
        Rig r;
        rig_init(&r);
        add_instrument(&r, 0, 0, P_POLY);
        SEND(&r, set_param, 0, 0, 0, FX_RELEASE, 0.0f);
        SEND(&r, note_on, 100, 0, 1, 48, 1.0f);
        SEND(&r, note_on, 200, 0, 2, 72, 1.0f);
        if (pass == 1)
            SEND(&r, set_voice_mode, 1500, 0, CMD_VOICE_MONO, CMD_PRIORITY_LAST, 0.0f);
        render_to(&r, 1000);
        ck_assert_uint_eq(voices_of(&r, 0), 2);     /* poly: both keys */
        render_to(&r, 2000);
        if (pass == 0) {
            memcpy(no_switch, out_l, sizeof no_switch);
        } else {
            for (long i = 0; i < 1500; i++)
                ck_assert_msg(out_l[i] == no_switch[i], "sample %ld differs before the switch", i);
            ck_assert(out_l[1500] != no_switch[1500]);
            ck_assert_uint_eq(voices_of(&r, 0), 0);  /* the switch cut both */
            ck_assert_int_lt(testutil_last_nonzero(out_l, 0, 2000), 1500 + 200);
        }
        rig_free(&r);
    }

    Rig r;
    rig_init(&r);
    add_instrument(&r, 0, 0, P_POLY);
    SEND(&r, set_param, 0, 0, 0, FX_RELEASE, 0.0f);
    /* mono, last: the new key takes over, on a new voice (retrigger) */
    SEND(&r, set_voice_mode, 1500, 0, CMD_VOICE_MONO, CMD_PRIORITY_LAST, 0.0f);
    SEND(&r, note_on, 2000, 0, 3, 48, 1.0f);
    SEND(&r, note_on, 8000, 0, 4, 72, 1.0f);
    render_to(&r, 8000);
    ck_assert_uint_eq(voices_of(&r, 0), 1);
    ck_assert(sounds_key_48(3000));
    render_to(&r, 8001);
    ck_assert_uint_eq(voices_of(&r, 0), 2);         /* the old voice fading out */
    render_to(&r, 14000);
    ck_assert_uint_eq(voices_of(&r, 0), 1);
    ck_assert(sounds_key_72(9000));
    /* mono, low: the lower key keeps sounding */
    SEND(&r, set_voice_mode, 14000, 0, CMD_VOICE_MONO, CMD_PRIORITY_LOW, 0.0f);
    SEND(&r, note_on, 15000, 0, 5, 48, 1.0f);
    SEND(&r, note_on, 16000, 0, 6, 72, 1.0f);
    render_to(&r, 22000);
    ck_assert_uint_eq(voices_of(&r, 0), 1);
    ck_assert(sounds_key_48(17000));
    /* legato, high: the higher key takes over the one voice, no gap, no restart */
    SEND(&r, set_voice_mode, 22000, 0, CMD_VOICE_LEGATO, CMD_PRIORITY_HIGH, 0.0f);
    SEND(&r, note_on, 23000, 0, 7, 48, 1.0f);
    SEND(&r, note_on, 29000, 0, 8, 72, 1.0f);
    SEND(&r, note_off, 35000, 0, 8);                 /* back to the held 48 */
    SEND(&r, note_off, 41000, 0, 7);
    render_to(&r, 29001);
    ck_assert_uint_eq(voices_of(&r, 0), 1);
    ck_assert(out_l[29000] != 0.0f && fabsf(out_l[29000] - out_l[28999]) < 0.1f);
    render_to(&r, 42000);
    ck_assert(sounds_key_48(24000));
    ck_assert(sounds_key_72(30000));
    ck_assert(sounds_key_48(36000));
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 42000), 40999);
    ck_assert_uint_eq(stats_of(&r).refused, 0);
    ck_assert_uint_eq(state_of(&r).commands_failed, 0);
    rig_free(&r);
}
END_TEST

/* Tempo changes by command move the notes after them; later positions
 * convert through the changed map. */
START_TEST(test_tempo_change_by_command)
{
    Rig r;
    rig_init(&r);
    add_instrument(&r, 0, 0, P_POLY);
    SEND(&r, set_param, 0, 0, 0, FX_RELEASE, 0.0f);
    int32_t bytes;
    uint32_t h = park_clip(&r, 8, &bytes);
    SEND(&r, load_clip, 0, 0, 0, 0, h, (uint32_t)bytes);  /* a note on every beat */
    SEND(&r, play, 0);
    render_to(&r, 30000);
    SEND(&r, tempo_change, 30000, 48000, 240.0f);    /* beat 2 (at 120 bpm): a beat is 12000 samples */
    SEND(&r, tempo_change, 30000, 72000, 60.0f);     /* beat 4, through the map: 48000 samples */
    render_to(&r, 130000);
    long at[16];
    int n = onsets(0, 130000, at, 16);
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(at[0], 0);
    ck_assert_int_eq(at[1], 24000);
    ck_assert_int_eq(at[2], 48000);
    ck_assert_int_eq(at[3], 60000);
    ck_assert_int_eq(at[4], 72000);
    ck_assert_int_eq(at[5], 120000);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 60000, 72000), 60000 + 6000 - 1);   /* half a beat at 240 */
    EngineState st = state_of(&r);
    ck_assert(st.tempo == 60.0);
    /* A seek converts through the map too: 84000 samples is beat 4.25. */
    SEND(&r, stop, 130000);
    SEND(&r, seek, 130000, 84000);
    render_to(&r, 130256);
    st = state_of(&r);
    ck_assert(fabs(st.beat - 4.25) < 1e-12);
    ck_assert_int_eq(st.playhead, 84000);
    ck_assert_uint_eq(stats_of(&r).refused, 0);
    rig_free(&r);

    /* The map holds max_tempo_points (8) changes: a ninth at a new beat is
     * refused, one at a beat it has replaces that tempo; a tempo command
     * clears it. */
    rig_init(&r);
    for (int k = 1; k <= 8; k++)
        SEND(&r, tempo_change, 0, 24000 * 8 * k, 120.0f);   /* beats 8, 16, ... at 120 throughout */
    SEND(&r, tempo_change, 0, 24000 * 100, 90.0f);
    SEND(&r, tempo_change, 0, 24000 * 16, 130.0f);
    SEND(&r, seek, 0, 24000 * 16 + 96000);           /* 16 beats at 120, then 96000 samples at 130 */
    render_to(&r, 256);
    EngineCommandsStats cs = stats_of(&r);
    ck_assert_uint_eq(cs.refused, 1);
    ck_assert_uint_eq(cs.refused_by[ENGINE_COMMANDS_REFUSE_FULL], 1);
    st = state_of(&r);
    ck_assert(fabs(st.beat - (16.0 + 96000.0 * 130.0 / (60.0 * 48000.0))) < 1e-9);
    ck_assert(st.tempo == 130.0);
    ck_assert_uint_eq(st.commands_failed, 0);
    SEND(&r, tempo, 256, 100.0f);
    SEND(&r, tempo_change, 256, 24000 * 100, 90.0f);
    SEND(&r, seek, 256, 28800 * 4);                  /* beat 4 at 100 bpm */
    render_to(&r, 512);
    ck_assert_uint_eq(stats_of(&r).refused, 1);
    st = state_of(&r);
    ck_assert(fabs(st.beat - 4.0) < 1e-12);
    ck_assert(st.tempo == 100.0);
    rig_free(&r);
}
END_TEST

START_TEST(test_all_notes_off_by_command)
{
    Rig r;
    rig_init(&r);
    add_instrument(&r, 0, 0, P_POLY);
    SEND(&r, set_param, 0, 0, 0, FX_RELEASE, 0.0f);
    add_instrument(&r, 0, 1, P_POLY);
    SEND(&r, set_param, 0, 1, 0, FX_RELEASE, 0.0f);
    SEND(&r, set_pan, 0, 1, 1.0f);                   /* track 1 on the right */
    SEND(&r, note_on, 100, 0, 1, 60, 1.0f);
    SEND(&r, note_on, 100, 0, 2, 64, 1.0f);
    SEND(&r, note_on, 100, 1, 1, 67, 1.0f);
    SEND(&r, all_notes_off, 2001, 0, false);         /* track 0 only */
    SEND(&r, all_notes_off, 3001, 0, true);          /* every track */
    SEND(&r, note_on, 4000, 0, 3, 60, 1.0f);         /* later notes play again */
    render_to(&r, 2000);
    ck_assert_uint_eq(voices_of(&r, 0), 2);
    ck_assert_uint_eq(voices_of(&r, 1), 1);
    render_to(&r, 3500);
    ck_assert_uint_eq(voices_of(&r, 0), 0);
    ck_assert_uint_eq(voices_of(&r, 1), 0);
    render_to(&r, 6000);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 6000), 100);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 4000), 2000);
    ck_assert_int_eq(testutil_first_nonzero(out_r, 0, 6000), 100);
    ck_assert_int_eq(testutil_last_nonzero(out_r, 0, 6000), 3000);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 2001, 6000), 4000);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 6000), 5999);
    ck_assert_uint_eq(voices_of(&r, 0), 1);
    ck_assert_uint_eq(stats_of(&r).refused, 0);
    /* every_track names no track: a record that does is not decoded */
    unsigned char rec[CMD_SIZE_MAX];
    Command c;
    memset(&c, 0, sizeof c);
    c.header.type = CMD_ALL_NOTES_OFF;
    c.header.time = 6000;
    c.all_notes_off.track = 1;
    c.all_notes_off.every_track = 1;
    send_record(&r, rec, cmd_encode(&c, rec, sizeof rec));
    render_to(&r, 6500);
    ck_assert_uint_eq(stats_of(&r).rejected_by[-CMD_ERR_RULE], 1);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 6000, 6500), 6499);
    rig_free(&r);
}
END_TEST

/* ---- every type, bad records, fuzz -------------------------------------------------------- */

/* One valid command of every type in commands.def; a type without a vector
 * here fails the test, so a new command cannot go unmapped. */
START_TEST(test_every_type_applies)
{
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 0.5f);                          /* add_track, set_instrument, set_pan, set_param */
    SEND(&r, add_track, 0, 1, CMD_TRACK_BUS);
    SEND(&r, add_track, 0, 3, CMD_TRACK_AUDIO);      /* for place_region (track 2 comes and goes) */
    render_to(&r, 128);
    int32_t bytes;
    uint32_t clip = park_clip(&r, 1, &bytes);
    EngineSample *s = engine_sample_new(r.e, 1, 16);
    uint32_t sample = engine_commands_put_sample(r.cx, s);
    EngineLane *lane = engine_lane_new(r.e, 1);
    uint32_t lane_h = engine_commands_put_lane(r.cx, lane);
    EngineCommandsStats before = stats_of(&r);
    uint32_t sent = 0, engine_only = 0;
    for (uint32_t i = 0; i < CMD_COUNT; i++) {
        const CmdInfo *info = cmd_info_at(i);
        int64_t t = 200;
        switch ((CmdType)info->type) {
        case CMD_PLAY: SEND(&r, play, t); break;
        case CMD_STOP: SEND(&r, stop, t); break;
        case CMD_SEEK: SEND(&r, seek, t, 100); break;
        case CMD_LOOP: SEND(&r, loop, t, 0, 96000, false); break;
        case CMD_TEMPO: SEND(&r, tempo, t, 90.0f); break;
        case CMD_TIME_SIGNATURE: SEND(&r, time_signature, t, 7, 8); break;
        case CMD_NOTE_ON: SEND(&r, note_on, t, 0, 1, 60, 1.0f); break;
        case CMD_NOTE_OFF: SEND(&r, note_off, t, 0, 1); break;
        case CMD_SET_PARAM: SEND(&r, set_param, t, 0, 0, 0, 0.25f); break;
        case CMD_AUTOMATION: SEND(&r, automation, t, 0, 0, 0, 1, lane_h); break;
        case CMD_ADD_TRACK: SEND(&r, add_track, t, 2, CMD_TRACK_AUDIO); break;
        case CMD_REMOVE_TRACK: SEND(&r, remove_track, t, 2); break;
        case CMD_SET_INSTRUMENT: SEND(&r, set_instrument, t, 0, P_DC); break;
        case CMD_ADD_INSERT: SEND(&r, add_insert, t, 0, 1, P_AFFINE); break;
        case CMD_REMOVE_INSERT: SEND(&r, remove_insert, t + 200, 0, 1); break;   /* after the move */
        case CMD_MOVE_INSERT: SEND(&r, move_insert, t + 100, 0, 1, 1); break;
        case CMD_SWAP_PATCH: SEND(&r, swap_patch, t + 50, 0, 0, P_DC); break;   /* after set_instrument */
        case CMD_SET_SEND: SEND(&r, set_send, t, 0, 1, 0.5f); break;
        case CMD_SET_GAIN: SEND(&r, set_gain, t, 0, -3.0f); break;
        case CMD_SET_PAN: SEND(&r, set_pan, t, 0, 0.5f); break;
        case CMD_SET_MUTE: SEND(&r, set_mute, t, 0, false); break;
        case CMD_SET_SOLO: SEND(&r, set_solo, t, 0, false); break;
        case CMD_LOAD_CLIP: SEND(&r, load_clip, t, 0, 0, 1, clip, (uint32_t)bytes); break;
        case CMD_LOAD_SAMPLE: SEND(&r, load_sample, t, 1, sample, 16, 48000, 1); break;
        case CMD_TEMPO_CHANGE: SEND(&r, tempo_change, t, 48000 * 60, 100.0f); break;
        case CMD_ALL_NOTES_OFF: SEND(&r, all_notes_off, t, 0, false); break;
        case CMD_PANIC: SEND(&r, panic, t, 0, false); break;
        case CMD_SET_VOICE_MODE: SEND(&r, set_voice_mode, t, 0, CMD_VOICE_MONO, CMD_PRIORITY_LOW, 0.0f); break;
        case CMD_SET_MASTER_GAIN: SEND(&r, set_master_gain, t, -3.0f); break;
        case CMD_PLACE_REGION: SEND(&r, place_region, t, 0, 3, 0, 1, 0, 0, 0.0f); break;
        case CMD_REMOVE_REGION: SEND(&r, remove_region, t + 100, 0); break;   /* after the placement */
        /* Format 3: the project's own terms (ready blocks for the clip and
         * the lane; the engine's own beats, tempo and fader commands). */
        case CMD_SEEK_BEAT: SEND(&r, seek_beat, t, 1.0); break;
        case CMD_LOOP_BEATS: SEND(&r, loop_beats, t, 0.0, 4.0, true); break;
        case CMD_TEMPO_BPM: SEND(&r, tempo_bpm, t - 1, 133.25); break;   /* before tempo (90) */
        case CMD_TEMPO_CHANGE_BEAT: SEND(&r, tempo_change_beat, t, 8.0, 100.0); break;
        case CMD_FADER_GAIN: SEND(&r, fader_gain, t, 0, -150.0f); break;
        case CMD_TIME_SIGNATURE_CHANGE: SEND(&r, time_signature_change, t, 7.0, 3, 4); break;
        case CMD_METRONOME: SEND(&r, metronome, t, -6.0f, true); break;
        case CMD_AUTOMATION_LANE: SEND(&r, automation_lane, t, 0, CMD_INSERT_LIMIT + 1, 1, 1); break;
        case CMD_AUTOMATION_POINT: SEND(&r, automation_point, t, 0.0, 0, CMD_INSERT_LIMIT + 1, 1, -1.0f); break;
        case CMD_SETTLE: SEND(&r, settle, t, 0, 0); break;
        case CMD_SET_TRACK_POSITION: SEND(&r, set_track_position, t, 0, 9); break;
        case CMD_SET_SEND_DB: SEND(&r, set_send_db, t, 0, 1, -6.0f, false); break;
        case CMD_CLIP_NOTES: SEND(&r, clip_notes, t, 5, 1); break;
        case CMD_CLIP_NOTE: SEND(&r, clip_note, t, 0.0, 1.0, 5, 0.5f, 60); break;
        case CMD_PLACE_CLIP_BEATS: SEND(&r, place_clip_beats, t, 0.0, 4.0, 1.0, 3, 0, 5); break;
        case CMD_REMOVE_PLACEMENT: SEND(&r, remove_placement, t + 100, 3); break;   /* after the placement */
        case CMD_PLACE_REGION_BEATS: SEND(&r, place_region_beats, t, 1.0, 0.0, 0.0, 1, 3, 1, -3.0f); break;
        case CMD_BIND_SAMPLE: SEND(&r, bind_sample, t, 0, 0, 1); break;   /* format 5 */
        /* The engine's own commands name its slots and parcels: the drain
         * refuses them (only engine.h's calls make them). */
        case CMD_SET_LANE: SEND(&r, set_lane, t, 0, 0, 0, 0, CMD_PARCEL_NONE); engine_only++; break;
        case CMD_SET_INSTRUMENT_NODE: SEND(&r, set_instrument_node, t, 0, CMD_PARCEL_NONE); engine_only++; break;
        case CMD_INSERT_NODE: SEND(&r, insert_node, t, 0, 0, 0); engine_only++; break;
        case CMD_SEND_SLOT: SEND(&r, send_slot, t, 0, 0, -1, 0.0f); engine_only++; break;
        case CMD_LOAD_CLIP_BLOCK: SEND(&r, load_clip_block, t, 0, CMD_PARCEL_NONE); engine_only++; break;
        case CMD_PLACE_CLIP: SEND(&r, place_clip, t, 0.0, 4.0, 0.0, 0, 0, -1); engine_only++; break;
        case CMD_LOAD_SAMPLE_BLOCK: SEND(&r, load_sample_block, t, 0, CMD_PARCEL_NONE); engine_only++; break;
        case CMD_PLACE_REGION_SLOT: SEND(&r, place_region_slot, t, 0.0, 0, 0, 3, 0, -1, 0.0f); engine_only++; break;
        case CMD_SWAP_NODE: SEND(&r, swap_node, t, 0, 0, CMD_PARCEL_NONE); engine_only++; break;
        default: ck_abort_msg("no test vector for command %s", info->name);
        }
        sent++;
    }
    ck_assert_uint_eq(sent, CMD_COUNT);
    ck_assert_uint_eq(engine_only, 9);
    render_to(&r, 1024);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.records - before.records, sent);
    ck_assert_uint_eq(st.applied - before.applied, sent - engine_only);
    ck_assert_uint_eq(st.refused, engine_only);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_UNKNOWN], engine_only);
    ck_assert_uint_eq(st.rejected, 0);
    EngineState es = state_of(&r);
    ck_assert_uint_eq(es.sig_num, 7);
    ck_assert(es.tempo == 90.0);
    ck_assert_uint_eq(es.commands_failed, 0);        /* nothing refused when applied either */
    rig_free(&r);
}
END_TEST

START_TEST(test_bad_records_are_counted)
{
    Rig r;
    rig_init(&r);
    add_dc(&r, 0, 0, 0.5f);
    unsigned char rec[CMD_SIZE_MAX + 64];
    uint32_t n = cmd_encode_set_gain(rec, sizeof rec, 100, 0, -6.0f);
    float nan_value = NAN, too_loud = 30.0f;
    int64_t negative = -1;
    uint32_t flags = 1, type = 999;

    send_record(&r, rec, 8);                                     /* short */
    memcpy(rec, &type, 4);
    send_record(&r, rec, n);                                     /* unknown type */
    n = cmd_encode_set_gain(rec, sizeof rec, 100, 0, -6.0f);
    send_record(&r, rec, n - 8);                                 /* wrong length */
    send_record(&r, rec, CMD_SIZE_MAX + 64);                     /* longer than any command */
    memcpy(rec + 4, &flags, 4);
    send_record(&r, rec, n);                                     /* flags */
    n = cmd_encode_set_gain(rec, sizeof rec, 100, 0, -6.0f);
    memcpy(rec + 8, &negative, 8);
    send_record(&r, rec, n);                                     /* time */
    n = cmd_encode_set_gain(rec, sizeof rec, 100, 0, nan_value);
    send_record(&r, rec, n);                                     /* not finite */
    n = cmd_encode_set_gain(rec, sizeof rec, 100, 0, too_loud);
    send_record(&r, rec, n);                                     /* range */
    n = cmd_encode_set_send(rec, sizeof rec, 100, 1, 1, 1.0f);
    send_record(&r, rec, n);                                     /* rule: a track sends to itself */
    send_record(&r, NULL, 0);                                    /* empty */
    SEND(&r, set_gain, 10 * 48000 + 1, 0, -6.0f);                /* more than 10 s ahead */
    render_to(&r, 1024);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_TIME], 1);
    ck_assert_uint_eq(st.rejected, 10);
    ck_assert_uint_eq(st.rejected_by[-CMD_ERR_SHORT], 2);
    ck_assert_uint_eq(st.rejected_by[-CMD_ERR_TYPE], 1);
    ck_assert_uint_eq(st.rejected_by[-CMD_ERR_LENGTH], 2);
    ck_assert_uint_eq(st.rejected_by[-CMD_ERR_FLAGS], 1);
    ck_assert_uint_eq(st.rejected_by[-CMD_ERR_TIME], 1);
    ck_assert_uint_eq(st.rejected_by[-CMD_ERR_NOT_FINITE], 1);
    ck_assert_uint_eq(st.rejected_by[-CMD_ERR_RANGE], 1);
    ck_assert_uint_eq(st.rejected_by[-CMD_ERR_RULE], 1);
    expect_left(0, 1024, 0.5f, 0.0f);               /* none of them did anything */

    /* A ring whose next length word claims more than was written: the
     * drain stops there and counts it. */
    n = cmd_encode_set_gain(rec, sizeof rec, 0, 0, -6.0f);
    send_record(&r, rec, n);
    uint32_t w;
    memcpy(&w, (unsigned char *)r.ring + RB_OFF_WRITE, 4);
    uint32_t bogus = RING_CAPACITY;
    uint32_t at = (w - rb_record_bytes(n)) & (RING_CAPACITY - 1);
    memcpy((unsigned char *)r.ring + RB_OFF_DATA + at, &bogus, 4);
    ck_assert_int_eq(engine_drain_ring(r.e, r.ring, 100), 0);
    ck_assert_uint_eq(stats_of(&r).ring_corrupt, 1);

    /* An engine without tables drains nothing. */
    EngineConfig cfg;
    rig_config(&cfg);
    Engine *bare = engine_init(&cfg, NULL, 0);
    ck_assert_int_eq(engine_drain_ring(bare, r.ring, 100), -1);
    Command c;
    memset(&c, 0, sizeof c);
    c.header.type = CMD_PLAY;
    ck_assert_int_eq(engine_apply_command(bare, &c), -1);
    engine_free(bare);
    rig_free(&r);
}
END_TEST

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* A random value for a field: mostly small ids (so commands reach real
 * tracks, slots, patches and handles), else anything in its range. */
static void random_field(const CmdField *f, Command *c)
{
    unsigned char *p = (unsigned char *)c + f->offset;
    bool id = !strcmp(f->name, "track") || !strcmp(f->name, "bus") || !strcmp(f->name, "slot") ||
              !strcmp(f->name, "position") || !strcmp(f->name, "from") || !strcmp(f->name, "to") ||
              !strcmp(f->name, "patch") || !strcmp(f->name, "handle") || !strcmp(f->name, "clip") ||
              !strcmp(f->name, "sample") || !strcmp(f->name, "param") || !strcmp(f->name, "count") ||
              !strcmp(f->name, "region");
    double v;
    if (id && rnd() % 8)
        v = f->min + rnd() % 10;
    else if (f->kind == CMD_FIELD_F64)
        v = f->min + (f->max - f->min) * rnd() / UINT32_MAX;
    else if (f->kind == CMD_FIELD_F32)
        v = f->max > 1e6 ? ((double)rnd() / UINT32_MAX - 0.5) * 20.0 : f->min + (f->max - f->min) * rnd() / UINT32_MAX;
    else
        v = f->min + floor((f->max - f->min + 1) * ((double)rnd() / 4294967296.0));
    if (v > f->max)
        v = f->max;
    switch (f->kind) {
    case CMD_FIELD_U8:
    case CMD_FIELD_BOOL: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
    case CMD_FIELD_U16: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
    case CMD_FIELD_U32: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
    case CMD_FIELD_I32: { int32_t x = (int32_t)v; memcpy(p, &x, 4); break; }
    case CMD_FIELD_I64: { int64_t x = (int64_t)v; if (rnd() % 2) x %= 200000; memcpy(p, &x, 8); break; }
    case CMD_FIELD_F32: { float x = (float)v; memcpy(p, &x, 4); break; }
    case CMD_FIELD_F64: memcpy(p, &v, 8); break;
    }
}

/* One more quantum, rendering over the buffer again when it is full. */
static void next_quantum(Rig *r)
{
    if (r->pos + QUANTUM > LEN)
        r->pos = 0;
    render_to(r, r->pos + QUANTUM);
}

/* 100,000 records, 32 per quantum: a third random bytes, a third
 * well-formed commands with random fields (times within 0.1 s), a third of
 * those with a byte flipped. The engine never crashes, every record is accounted for, and it
 * still renders. */
START_TEST(test_random_records)
{
    Rig r;
    rig_init(&r);
    r.pools_may_fill = true;     /* nodes ride in queued commands: the node pool may run out */
    add_dc(&r, 0, 0, 0.5f);
    add_instrument(&r, 0, 1, P_POLY);
    SEND(&r, add_track, 0, 2, CMD_TRACK_BUS);
    SEND(&r, play, 0);
    const uint32_t total = 100000;
    uint32_t written = 0;
    unsigned char rec[CMD_SIZE_MAX + 40];
    while (written < total) {
        uint32_t len, kind = rnd() % 3;
        if (kind == 0) {
            len = rnd() % (CMD_SIZE_MAX + 33);
            for (uint32_t i = 0; i < len; i++)
                rec[i] = (unsigned char)rnd();
        } else {
            const CmdInfo *info = cmd_info_at(rnd() % CMD_COUNT);
            Command c;
            memset(&c, 0, sizeof c);
            c.header.type = info->type;
            c.header.time = engine_now(r.e) + rnd() % 4800;
            for (uint32_t f = 0; f < info->field_count; f++)
                random_field(&info->fields[f], &c);
            len = cmd_encode(&c, rec, sizeof rec);
            ck_assert_uint_gt(len, 0);
            if (kind == 2)
                rec[rnd() % len] ^= (unsigned char)(1u << (rnd() % 8));
        }
        if (!rb_write(r.ring, rec, len)) {           /* full: a quantum drains it */
            next_quantum(&r);
            continue;
        }
        if (++written % 32 == 0)                     /* a UI's pace: a few per quantum */
            next_quantum(&r);
    }
    for (int i = 0; i < 4000; i++)                   /* let the last of them (<= 10 s ahead) apply */
        next_quantum(&r);
    EngineCommandsStats st = stats_of(&r);
    uint32_t setup = 9;                              /* the rig's own records above */
    ck_assert_uint_eq(st.records, total + setup);
    ck_assert_uint_eq(st.records, st.rejected + st.applied + st.refused + st.waiting);
    printf("random records: %u rejected, %u applied, %u refused (range %u, time %u, patch %u, no node %u, "
           "handle %u, full %u, engine %u), %u waits\n",
           st.rejected, st.applied, st.refused, st.refused_by[ENGINE_COMMANDS_REFUSE_RANGE],
           st.refused_by[ENGINE_COMMANDS_REFUSE_TIME],
           st.refused_by[ENGINE_COMMANDS_REFUSE_PATCH], st.refused_by[ENGINE_COMMANDS_REFUSE_NO_NODE],
           st.refused_by[ENGINE_COMMANDS_REFUSE_HANDLE], st.refused_by[ENGINE_COMMANDS_REFUSE_FULL],
           st.refused_by[ENGINE_COMMANDS_REFUSE_ENGINE], st.waits);
    ck_assert_uint_gt(st.rejected, total / 3);
    ck_assert_uint_gt(st.applied, total / 10);
    ck_assert_uint_gt(st.refused, 1000);
    for (long i = 0; i < LEN; i++)
        ck_assert_msg(isfinite(out_l[i]) && isfinite(out_r[i]), "sample %ld is not finite", i);

    /* Still works: clear the stage, then one dc track. */
    r.pos = 0;
    int64_t now = engine_now(r.e);
    for (uint32_t t = 0; t < 8; t++)
        SEND(&r, remove_track, now, t);
    add_dc(&r, now + 256, 0, 0.25f);
    SEND(&r, set_gain, now + 256, 0, 0.0f);
    SEND(&r, set_master_gain, now + 256, 0.0f);     /* random ones changed the master too */
    render_to(&r, 2048);
    expect_left(1024, 2048, 0.25f, 0.0f);
    rig_free(&r);
}
END_TEST

/* ---- real-time rule ---------------------------------------------------------------------- */

START_TEST(test_no_allocation_while_draining_and_rendering)
{
    if (!ALLOC_COUNTING)
        return;
    ck_assert_int_eq(alloc_count_probe(), 2);    /* the counter works */

    Rig r;
    rig_init(&r);
    int32_t bytes;
    uint32_t clip = park_clip(&r, 16, &bytes);
    EngineSample *s = engine_sample_new(r.e, 2, 64);
    uint32_t sample = engine_commands_put_sample(r.cx, s);
    EngineLane *lane = engine_lane_new(r.e, 2);
    lane->points[1] = (EnginePoint){ .time = 4.0, .value = 0.5f };
    uint32_t lane_h = engine_commands_put_lane(r.cx, lane);

    add_instrument(&r, 0, 0, P_POLY);
    add_dc(&r, 0, 1, 0.1f);
    SEND(&r, add_track, 0, 2, CMD_TRACK_BUS);
    SEND(&r, add_track, 0, 3, CMD_TRACK_AUDIO);
    SEND(&r, load_clip, 0, 0, 0, 0, clip, (uint32_t)bytes);
    SEND(&r, load_sample, 0, 0, sample, 64, 48000, 2);
    SEND(&r, place_region, 0, 100, 3, 1, 0, 0, 0, -3.0f);
    SEND(&r, place_region, 0, 5000, 3, 2, 0, 8, 32, 0.0f);
    SEND(&r, automation, 0, 1, 0, 0, 2, lane_h);
    SEND(&r, add_insert, 0, 1, 1, P_AFFINE);
    SEND(&r, add_insert, 0, 1, 1, P_AFFINE);
    SEND(&r, add_insert, 0, 1, 1, P_AFFINE);         /* waits for a refill */
    SEND(&r, set_send, 0, 1, 2, 0.5f);
    SEND(&r, tempo, 0, 132.0f);
    SEND(&r, time_signature, 0, 6, 8);
    SEND(&r, loop, 0, 0, 96000, true);
    SEND(&r, tempo_change, 0, 48000, 150.0f);
    SEND(&r, play, 0);
    SEND(&r, set_voice_mode, 2000, 0, CMD_VOICE_LEGATO, CMD_PRIORITY_HIGH, 0.0f);
    SEND(&r, note_on, 3000, 0, 5, 70, 1.0f);
    SEND(&r, note_on, 4000, 0, 6, 74, 1.0f);
    SEND(&r, all_notes_off, 6000, 0, false);
    SEND(&r, place_region, 7000, 100, 3, 1, 0, 4, 16, -3.0f);  /* replaced */
    SEND(&r, remove_region, 8000, 2);
    SEND(&r, note_off, 9000, 0, 5);
    SEND(&r, set_param, 10000, 1, 1, 0, 2.0f);
    SEND(&r, move_insert, 12000, 1, 1, 3);
    SEND(&r, remove_insert, 14000, 1, 2);
    SEND(&r, set_gain, 15000, 1, -3.0f);
    SEND(&r, set_master_gain, 15500, -1.0f);
    SEND(&r, all_notes_off, 16500, 0, true);
    SEND(&r, set_pan, 16000, 1, 0.25f);
    SEND(&r, set_mute, 17000, 2, true);
    SEND(&r, set_solo, 18000, 1, true);
    SEND(&r, set_instrument, 19000, 1, P_DC);
    SEND(&r, panic, 19500, 0, true);
    SEND(&r, seek, 20000, 24000);
    SEND(&r, stop, 30000);
    SEND(&r, remove_track, 31000, 3);
    for (int i = 0; i < 50; i++)
        rb_write(r.ring, "garbage!", 8);
    alloc_counting = 1;
    render_to(&r, 40000);
    alloc_counting = 0;
    ck_assert_int_eq(alloc_calls, 0);
    EngineCommandsStats st = stats_of(&r);
    ck_assert_uint_eq(st.rejected, 50);
    ck_assert_uint_eq(st.refused, 0);
    ck_assert_uint_ge(st.waits, 1);
    ck_assert_int_gt(testutil_last_nonzero(out_l, 0, 40000), 30000);
    rig_free(&r);
}
END_TEST

static Suite *engine_commands_suite(void)
{
    Suite *s = suite_create("engine_commands");
    TCase *notes = tcase_create("notes");
    tcase_add_test(notes, test_notes_at_their_samples);
    tcase_add_test(notes, test_param_at_its_sample);
    suite_add_tcase(s, notes);
    TCase *mix = tcase_create("mixer");
    tcase_add_test(mix, test_gain_pan_mute_solo);
    tcase_add_test(mix, test_sends);
    tcase_add_test(mix, test_sends_out_of_time_order);
    tcase_add_test(mix, test_inserts);
    tcase_add_test(mix, test_waits_for_a_ready_node);
    tcase_add_test(mix, test_set_instrument_replaces_and_removes);
    tcase_add_test(mix, test_add_and_remove_tracks);
    suite_add_tcase(s, mix);
    TCase *tr = tcase_create("transport");
    tcase_add_test(tr, test_play_stop_seek_tempo);
    tcase_add_test(tr, test_loop);
    tcase_add_test(tr, test_tempo_map_positions);
    suite_add_tcase(s, tr);
    TCase *data = tcase_create("data");
    tcase_add_test(data, test_clip_handles_are_checked);
    tcase_add_test(data, test_sample_handles_are_checked);
    tcase_add_test(data, test_automation);
    tcase_add_test(data, test_fader_automation_by_command);
    suite_add_tcase(s, data);
    TCase *gaps = tcase_create("gaps");
    tcase_add_test(gaps, test_region_at_its_sample);
    tcase_add_test(gaps, test_region_tables);
    tcase_add_test(gaps, test_master_gain_at_its_sample);
    tcase_add_test(gaps, test_voice_mode_by_command);
    tcase_add_test(gaps, test_tempo_change_by_command);
    tcase_add_test(gaps, test_all_notes_off_by_command);
    suite_add_tcase(s, gaps);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_every_type_applies);
    tcase_add_test(limits, test_bad_records_are_counted);
    tcase_add_test(limits, test_random_records);
    tcase_add_test(limits, test_no_allocation_while_draining_and_rendering);
    tcase_set_timeout(limits, 120);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    return testutil_run(engine_commands_suite());
}
