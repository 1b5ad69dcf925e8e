/* check_engine.c — the engine host (runtime/engine_*.c): sample accuracy,
 * the mixer measured, transport, automation, voice modes, the non-finite
 * guard, pool and queue boundaries, buffer hand-back, the state region, and
 * no allocation while rendering.
 *
 * Test patches: hand-written descriptors below (a constant, a sine, an
 * affine insert), the polyphonic fixture (tests/fixtures/fixture_poly.c,
 * with release 0 a note sounds exactly from its note-on to its note-off),
 * and one patch compiled from text with ampc (it divides a param by itself:
 * NaN when the param is 0). Signals are measured on the left channel with
 * tracks panned hard left (gain exactly 1 there).
 */
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_count.h"
#include "ampc.h"
#include "build.h"
#include "diag.h"
#include "engine.h"
#include "testutil.h"
#include "voice.h"
#include "fixtures/fixture_poly.c"

#define SR 48000.0f
#define LEN 120000
#define BPS (120.0 / 60.0 / 48000.0)    /* beats per sample at 120 bpm */

/* ---- test patches ------------------------------------------------------------ */

/* dc and affine (a stereo insert): shared with check_engine_commands.c */
#include "fixtures/engine_patches.c"

/* sine: amp * sin(2 pi freq t), computed in double. */
typedef struct SineState { double phase; float freq, amp; } SineState;
static const AmpParamDesc sine_params[2] = { { "freq", 1000.0f, 0.0f, 20000.0f, 0.0f, 0.0f, AMP_UNIT_HZ },
                                             { "amp", 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, AMP_UNIT_NONE } };
static float sine_sr;
static void sine_init(void *s, float sr) { *(SineState *)s = (SineState){ 0.0, 1000.0f, 1.0f }; sine_sr = sr; }
static void sine_reset(void *s) { ((SineState *)s)->phase = 0.0; }
static void sine_set(void *s, int i, float v)
{
    if (i == 0)
        ((SineState *)s)->freq = v;
    else
        ((SineState *)s)->amp = v;
}
static float sine_get(const void *s, int i) { return i == 0 ? ((const SineState *)s)->freq : ((const SineState *)s)->amp; }
static void sine_process(void *state, int n, const float *const *in, float *const *out)
{
    (void)in;
    SineState *s = state;
    for (int i = 0; i < n; i++) {
        out[0][i] = (float)(s->amp * sin(2.0 * M_PI * s->phase));
        s->phase += s->freq / sine_sr;
        s->phase -= floor(s->phase);
    }
}
static const AmpPatchDesc sine_desc = {
    .abi_version = AMP_ABI_VERSION, .name = "sine", .state_size = sizeof(SineState), .n_inputs = 0, .n_outputs = 1,
    .output_names = mono_names, .n_params = 2, .params = sine_params, .json = "{}", .init = sine_init,
    .reset = sine_reset, .set_param = sine_set, .get_param = sine_get, .process = sine_process,
};


/* y = p / p * t * 0.001 with t counting samples since init or reset:
 * NaN while p is 0; after a reset it starts again from 0.001. */
static const char nan_text[] =
    "node nanny {\n"
    "  out y;\n"
    "  param p = 1 in [0, 1];\n"
    "  state t = 0;\n"
    "  process {\n"
    "    t = t + 1;\n"
    "    y = p / p * t * 0.001;\n"
    "  }\n"
    "}\n";

static char tmp_cache[64];

static const AmpPatchDesc *build_text(const char *text)
{
    AmpcOptions opt = { 0 };
    Diag diag;
    diag_init(&diag, stderr);
    AmpcResult r;
    ck_assert_msg(ampc_compile_text("tests/engine_nan.amp", text, strlen(text), &opt, &diag, &r) == 0,
                  "ampc failed (diagnostics on stderr)");
    static char err[16384];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s", err);
    ampc_result_free(&r);
    return d;
}

/* ---- helpers -------------------------------------------------------------------- */

static float out_l[LEN], out_r[LEN];

#define MAX_LOG 256
static EngineEvent event_log[MAX_LOG];
static int n_log;

static void default_config(EngineConfig *cfg)
{
    engine_config_default(cfg, SR);
    cfg->max_tracks = 8;
    cfg->max_nodes = 32;
    cfg->state_bytes = 8u << 20;
    cfg->clip_bytes = 1u << 20;
    cfg->sample_bytes = 4u << 20;
    cfg->lane_bytes = 1u << 20;
    cfg->max_clips = 16;
    cfg->max_samples = 4;
    cfg->max_placements = 8;
    cfg->max_regions = 8;
    cfg->max_lanes = 4;
    cfg->queue_size = 256;
    cfg->max_block = 256;
}

static Engine *make_engine_cfg(const EngineConfig *cfg)
{
    char err[300];
    Engine *e = engine_init(cfg, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    n_log = 0;
    return e;
}

static Engine *make_engine(void)
{
    EngineConfig cfg;
    default_config(&cfg);
    return make_engine_cfg(&cfg);
}

/* Read the events, keep them in event_log, free what they hand back. */
static void drain(Engine *e)
{
    EngineEvent ev;
    while (engine_poll(e, &ev)) {
        if (n_log < MAX_LOG)
            event_log[n_log++] = ev;
        engine_release(e, &ev);
    }
}

/* Render [from, to) of out_l/out_r in calls of `block` frames. */
static void render_range(Engine *e, long from, long to, int block)
{
    for (long pos = from; pos < to; pos += block) {
        int n = to - pos < block ? (int)(to - pos) : block;
        float *out[2] = { out_l + pos, out_r + pos };
        engine_render(e, out, n);
        drain(e);
    }
}

static void render_to(Engine *e, long to)
{
    render_range(e, engine_now(e), to, 128);
}

static EngineState state_of(Engine *e)
{
    EngineState st;
    engine_state_read(engine_state(e), &st);
    return st;
}

static EngineNode *node(Engine *e, const AmpPatchDesc *d)
{
    char err[300];
    EngineNode *nd = engine_node_new(e, d, err, sizeof err);
    ck_assert_msg(nd != NULL, "%s", err);
    return nd;
}

/* An instrument track playing `d`, panned hard left, from time 0. */
static EngineNode *add_instrument(Engine *e, int track, const AmpPatchDesc *d)
{
    EngineNode *nd = node(e, d);
    ck_assert_int_eq(engine_add_track(e, 0, track, ENGINE_TRACK_INSTRUMENT), 0);
    ck_assert_int_eq(engine_set_instrument(e, 0, track, nd), 0);
    ck_assert_int_eq(engine_set_pan(e, 0, track, -1.0f), 0);
    return nd;
}

/* The fixture with a release of 0: silent from the note-off on. */
static EngineNode *add_poly(Engine *e, int track)
{
    EngineNode *nd = node(e, &amp_fixture_poly_desc);
    engine_node_set_param(nd, FX_RELEASE, 0.0f);
    ck_assert_int_eq(engine_add_track(e, 0, track, ENGINE_TRACK_INSTRUMENT), 0);
    ck_assert_int_eq(engine_set_instrument(e, 0, track, nd), 0);
    ck_assert_int_eq(engine_set_pan(e, 0, track, -1.0f), 0);
    return nd;
}

static EngineNode *add_dc(Engine *e, int track, float level)
{
    EngineNode *nd = node(e, &dc_desc);
    engine_node_set_param(nd, 0, level);
    ck_assert_int_eq(engine_add_track(e, 0, track, ENGINE_TRACK_INSTRUMENT), 0);
    ck_assert_int_eq(engine_set_instrument(e, 0, track, nd), 0);
    ck_assert_int_eq(engine_set_pan(e, 0, track, -1.0f), 0);
    return nd;
}

static double db(double x)
{
    return 20.0 * log10(x);
}

static int events_of(int kind)
{
    int n = 0;
    for (int i = 0; i < n_log; i++)
        n += event_log[i].kind == kind;
    return n;
}

static const EngineEvent *find_event(int kind)
{
    for (int i = 0; i < n_log; i++)
        if (event_log[i].kind == kind)
            return &event_log[i];
    return NULL;
}

/* ---- sample accuracy ------------------------------------------------------------- */

/* A note at sample k sounds from exactly k, whatever k is in the block of 128. */
START_TEST(test_note_at_its_sample)
{
    static const long ks[] = { 0, 127, 128, 129, 1000, 4095 };
    for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
        Engine *e = make_engine();
        add_poly(e, 0);
        ck_assert_int_eq(engine_note_on(e, ks[j], 0, 1, 69, 1.0f), 0);
        render_to(e, 8192);
        ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 8192), ks[j]);
        ck_assert_int_eq(testutil_first_nonzero(out_r, 0, 8192), -1);   /* hard left */
        engine_free(e);
    }
}
END_TEST

/* A param change at sample k: the output is the old value up to k-1 and the
 * new one from k, for k at the edges of the blocks of 128. */
START_TEST(test_param_at_its_sample)
{
    static const long ks[] = { 1024, 1024 + 127, 1024 + 128, 1024 + 129 };
    for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
        Engine *e = make_engine();
        add_dc(e, 0, 0.25f);
        ck_assert_int_eq(engine_set_param(e, ks[j], 0, 0, 0, 0.5f), 0);
        render_to(e, 4096);
        for (long i = 512; i < 4096; i++)
            ck_assert_msg(out_l[i] == (i < ks[j] ? 0.25f : 0.5f), "k=%ld i=%ld: %g", ks[j], i, out_l[i]);
        engine_free(e);
    }
}
END_TEST

/* Render calls of 100 frames; events at offsets 0 and n-1 of a call. */
START_TEST(test_events_at_call_edges)
{
    Engine *e = make_engine();
    add_dc(e, 0, 0.0f);
    ck_assert_int_eq(engine_set_param(e, 500, 0, 0, 0, 1.0f), 0);
    ck_assert_int_eq(engine_set_param(e, 699, 0, 0, 0, 2.0f), 0);
    ck_assert_int_eq(engine_set_param(e, 700, 0, 0, 0, 3.0f), 0);
    render_range(e, 0, 1000, 100);
    for (long i = 400; i < 1000; i++) {
        float want = i < 500 ? 0.0f : i < 699 ? 1.0f : i < 700 ? 2.0f : 3.0f;
        ck_assert_msg(out_l[i] == want, "i=%ld: %g != %g", i, out_l[i], want);
    }
    /* A command in the past applies at the start of the next call. */
    ck_assert_int_eq(engine_set_param(e, 10, 0, 0, 0, 4.0f), 0);
    render_range(e, 1000, 1100, 100);
    ck_assert_float_eq(out_l[1000], 4.0f);
    engine_free(e);
}
END_TEST

/* ---- mixer -------------------------------------------------------------------------- */

START_TEST(test_gain_in_db)
{
    static const float gains[] = { -6.0f, -20.0f, 3.0f, -0.5f };
    for (size_t j = 0; j < sizeof gains / sizeof gains[0]; j++) {
        Engine *e = make_engine();
        add_dc(e, 0, 0.5f);
        ck_assert_int_eq(engine_set_gain(e, 0, 0, gains[j]), 0);
        render_to(e, 1024);
        double measured = db(out_l[1000] / 0.5);
        ck_assert_msg(fabs(measured - gains[j]) < 0.01, "gain %g dB measured %.4f dB", gains[j], measured);
        engine_free(e);
    }
    /* The master fader too. */
    Engine *e = make_engine();
    add_dc(e, 0, 0.5f);
    ck_assert_int_eq(engine_set_gain(e, 0, ENGINE_MASTER, -12.0f), 0);
    render_to(e, 1024);
    ck_assert(fabs(db(out_l[1000] / 0.5) + 12.0) < 0.01);
    engine_free(e);
}
END_TEST

/* A fader change ramps over ENGINE_RAMP samples starting at its sample. */
START_TEST(test_fader_ramps_from_its_sample)
{
    Engine *e = make_engine();
    add_dc(e, 0, 1.0f);
    ck_assert_int_eq(engine_set_gain(e, 1000, 0, -6.0f), 0);
    render_to(e, 2048);
    float target = out_l[2000];
    ck_assert(fabs(db(target) + 6.0) < 0.01);
    ck_assert_float_eq(out_l[999], 1.0f);
    ck_assert_float_lt(out_l[1000], 1.0f);
    ck_assert_float_gt(out_l[1000], out_l[1001]);
    ck_assert_float_eq(out_l[1000 + ENGINE_RAMP - 1], target);
    /* steps of (1 - target) / ENGINE_RAMP: no jump */
    for (long i = 1000; i < 1000 + ENGINE_RAMP; i++)
        ck_assert(fabsf(out_l[i - 1] - out_l[i]) < (1.0f - target) / ENGINE_RAMP * 1.01f);
    engine_free(e);
}
END_TEST

/* Equal power, -3 dB at the centre. */
START_TEST(test_pan_law)
{
    static const float pans[] = { -1.0f, 0.0f, 1.0f, 0.5f, -0.5f };
    for (size_t j = 0; j < sizeof pans / sizeof pans[0]; j++) {
        Engine *e = make_engine();
        add_dc(e, 0, 1.0f);
        ck_assert_int_eq(engine_set_pan(e, 0, 0, pans[j]), 0);
        render_to(e, 1024);
        double a = (pans[j] + 1.0) * M_PI / 4.0;
        ck_assert_msg(fabs(out_l[1000] - cos(a)) < 1e-6 && fabs(out_r[1000] - sin(a)) < 1e-6,
                      "pan %g: %g %g", pans[j], out_l[1000], out_r[1000]);
        if (pans[j] == 0.0f) {
            ck_assert(fabs(db(out_l[1000]) + 3.0103) < 0.01);
            ck_assert(fabs(db(out_r[1000]) + 3.0103) < 0.01);
        }
        if (pans[j] == -1.0f)
            ck_assert(out_l[1000] == 1.0f && out_r[1000] == 0.0f);
        if (pans[j] == 1.0f)
            ck_assert(out_l[1000] == 0.0f && out_r[1000] == 1.0f);
        engine_free(e);
    }
}
END_TEST

/* Tracks A (0.1, sends to bus C at -6 dB) and B (0.01), bus C; all hard
 * left, so the master's left is the sum of what is heard. */
static Engine *solo_setup(void)
{
    Engine *e = make_engine();
    add_dc(e, 0, 0.1f);
    add_dc(e, 1, 0.01f);
    ck_assert_int_eq(engine_add_track(e, 0, 2, ENGINE_TRACK_BUS), 0);
    ck_assert_int_eq(engine_set_pan(e, 0, 2, -1.0f), 0);
    ck_assert_int_eq(engine_set_send(e, 0, 0, 0, 2, -6.0f), 0);
    return e;
}

static float solo_case(int solo_a, int solo_b, int solo_c, int mute_a)
{
    Engine *e = solo_setup();
    engine_set_solo(e, 0, 0, solo_a);
    engine_set_solo(e, 0, 1, solo_b);
    engine_set_solo(e, 0, 2, solo_c);
    engine_set_mute(e, 0, 0, mute_a);
    render_to(e, 1024);
    float v = out_l[1000];
    engine_free(e);
    return v;
}

START_TEST(test_mute_solo_sends_buses)
{
    const float a = 0.1f, b = 0.01f;
    const float send = 0.1f * powf(10.0f, -6.0f / 20.0f);
    /* no solo: everything */
    ck_assert(fabsf(solo_case(0, 0, 0, 0) - (a + b + send)) < 1e-6f);
    /* the send level, measured: -6 dB of A's post-fader signal */
    ck_assert(fabs(db((solo_case(0, 0, 0, 0) - a - b) / a) + 6.0) < 0.01);
    /* solo A: A and the bus it feeds */
    ck_assert(fabsf(solo_case(1, 0, 0, 0) - (a + send)) < 1e-6f);
    /* solo B: B only; the bus is fed by no soloed track */
    ck_assert(fabsf(solo_case(0, 1, 0, 0) - b) < 1e-6f);
    /* solo the bus alone: its sources stay solo-muted, so silence */
    ck_assert(fabsf(solo_case(0, 0, 1, 0)) < 1e-9f);
    /* solo B and the bus: B, and the bus gets nothing */
    ck_assert(fabsf(solo_case(0, 1, 1, 0) - b) < 1e-6f);
    /* muted beats soloed: A muted and soloed, B solo-muted, bus unfed */
    ck_assert(fabsf(solo_case(1, 0, 0, 1)) < 1e-9f);
    /* mute A without solo: B only (A's post-fader send is muted too) */
    ck_assert(fabsf(solo_case(0, 0, 0, 1) - b) < 1e-6f);

    /* The flags in the state region. */
    Engine *e = solo_setup();
    engine_set_solo(e, 0, 0, 1);
    render_to(e, 256);
    EngineState st = state_of(e);
    ck_assert_uint_eq(st.tracks[0].flags, ENGINE_TRACK_FLAG_SOLOED | ENGINE_TRACK_FLAG_HEARD);
    ck_assert_uint_eq(st.tracks[1].flags, 0);
    ck_assert_uint_eq(st.tracks[2].flags, ENGINE_TRACK_FLAG_HEARD);
    engine_free(e);
}
END_TEST

/* Bus routing: an insert on the bus processes only what is sent to it; a
 * bus may send to a later bus, not to an earlier one. */
START_TEST(test_bus_routing)
{
    Engine *e = solo_setup();
    ck_assert_int_eq(engine_insert_add(e, 0, 2, 0, node(e, &affine_desc)), 0);
    ck_assert_int_eq(engine_set_param(e, 0, 2, 1, 0, 2.0f), 0);          /* bus x2 */
    ck_assert_int_eq(engine_add_track(e, 0, 3, ENGINE_TRACK_BUS), 0);
    ck_assert_int_eq(engine_set_pan(e, 0, 3, -1.0f), 0);
    ck_assert_int_eq(engine_set_send(e, 0, 2, 0, 3, 0.0f), 0);           /* bus 2 -> bus 3: fine */
    ck_assert_int_eq(engine_set_send(e, 0, 3, 0, 2, 0.0f), 0);           /* bus 3 -> bus 2: refused when applied */
    render_to(e, 1024);
    const float send = 0.1f * powf(10.0f, -6.0f / 20.0f);
    /* master = A + B + bus2 (2 * send) + bus3 (the same again) */
    ck_assert_msg(fabsf(out_l[1000] - (0.1f + 0.01f + 4.0f * send)) < 1e-6f, "%g", out_l[1000]);
    ck_assert_int_eq(events_of(ENGINE_EV_REFUSED), 1);
    ck_assert_int_eq(find_event(ENGINE_EV_REFUSED)->code, CMD_SEND_SLOT);
    ck_assert_uint_eq(state_of(e).commands_failed, 1);
    engine_free(e);
}
END_TEST

/* Inserts in order; moved; removed (the node handed back). */
START_TEST(test_insert_chain)
{
    Engine *e = make_engine();
    add_dc(e, 0, 1.0f);
    EngineNode *x2 = node(e, &affine_desc), *plus = node(e, &affine_desc);
    engine_node_set_param(x2, 0, 2.0f);
    engine_node_set_param(plus, 1, 0.5f);
    ck_assert_int_eq(engine_insert_add(e, 0, 0, 0, x2), 0);
    ck_assert_int_eq(engine_insert_add(e, 0, 0, 5, plus), 0);             /* appended */
    ck_assert_int_eq(engine_insert_move(e, 1000, 0, 1, 0), 0);           /* plus first */
    ck_assert_int_eq(engine_insert_remove(e, 2000, 0, 1), 0);            /* x2 out */
    render_to(e, 3000);
    ck_assert_float_eq(out_l[999], 2.5f);        /* (1 * 2) + 0.5 */
    ck_assert_float_eq(out_l[1000], 3.0f);       /* (1 + 0.5) * 2 */
    ck_assert_float_eq(out_l[2000], 1.5f);       /* 1 + 0.5 */
    ck_assert_int_eq(events_of(ENGINE_EV_NODE_RELEASED), 1);
    ck_assert_ptr_eq(find_event(ENGINE_EV_NODE_RELEASED)->ptr, x2);
    engine_free(e);
}
END_TEST

/* Meters: a full-scale 1 kHz sine reads RMS -3.01 dBFS and peak 0 dBFS on
 * its side, nothing on the other; the master reads the same. */
START_TEST(test_meters)
{
    Engine *e = make_engine();
    add_instrument(e, 0, &sine_desc);
    render_to(e, 48000);
    EngineState st = state_of(e);
    EngineMeter m = st.tracks[0].meter;
    ck_assert_msg(fabs(db(m.rms[0]) + 3.0103) < 0.01, "rms %g dB", db(m.rms[0]));
    ck_assert_msg(fabs(m.peak[0] - 1.0) < 1e-6, "peak %g", m.peak[0]);
    ck_assert_float_eq(m.rms[1], 0.0f);
    ck_assert_float_eq(m.peak[1], 0.0f);
    ck_assert(fabs(db(st.master.rms[0]) + 3.0103) < 0.01);
    ck_assert(fabs(st.master.peak[0] - 1.0) < 1e-6);
    /* Half amplitude: -6.02 dB lower. */
    ck_assert_int_eq(engine_set_param(e, 48000, 0, 0, 1, 0.5f), 0);
    render_to(e, 96000);
    st = state_of(e);
    ck_assert(fabs(db(st.tracks[0].meter.rms[0]) + 3.0103 + 6.0206) < 0.01);
    printf("meters: full-scale sine rms %.4f dBFS peak %.6f; half %.4f dBFS\n", db(m.rms[0]), m.peak[0],
           db(st.tracks[0].meter.rms[0]));
    engine_free(e);
}
END_TEST

/* ---- audio track -------------------------------------------------------------------- */

START_TEST(test_audio_regions)
{
    Engine *e = make_engine();
    EngineSample *s = engine_sample_new(e, 1, 100);
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < 100; i++)
        s->data[0][i] = (float)(i + 1) / 128.0f;
    ck_assert_int_eq(engine_load_sample(e, 0, 0, s), 0);
    ck_assert_int_eq(engine_add_track(e, 0, 0, ENGINE_TRACK_AUDIO), 0);
    ck_assert_int_eq(engine_set_pan(e, 0, 0, -1.0f), 0);
    /* beat 1 = sample 24000: frames 10..59 at -6 dB; beat 1.5 = 36000: all of it */
    ck_assert_int_eq(engine_place_region(e, 0, 0, 0, 0, 1.0, 10, 50, -6.0f), 0);
    ck_assert_int_eq(engine_place_region(e, 0, 0, 1, 0, 1.5, 0, 0, 0.0f), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    render_to(e, 40000);
    float g = powf(10.0f, -6.0f / 20.0f);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 40000), 24000);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 30000), 24049);
    for (int i = 0; i < 50; i++)
        ck_assert(fabsf(out_l[24000 + i] - s->data[0][10 + i] * g) < 1e-6f);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 30000, 40000), 36000);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 30000, 40000), 36099);
    ck_assert_float_eq(out_l[36000], s->data[0][0]);     /* 0 dB is exactly 1 */
    /* Replacing the sample hands the old one back. */
    EngineSample *s2 = engine_sample_new(e, 2, 10);
    ck_assert_int_eq(engine_load_sample(e, 40000, 0, s2), 0);
    render_to(e, 40128);
    ck_assert_int_eq(events_of(ENGINE_EV_SAMPLE_RELEASED), 1);
    ck_assert_ptr_eq(find_event(ENGINE_EV_SAMPLE_RELEASED)->ptr, s);
    engine_free(e);
}
END_TEST

/* Audio track 0, panned left, playing one region from beat 0: 200000
 * frames of base + slope * i. */
static void region_track(Engine *e, float base, float slope)
{
    EngineSample *s = engine_sample_new(e, 1, 200000);
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < 200000; i++)
        s->data[0][i] = base + slope * (float)i;
    ck_assert_int_eq(engine_load_sample(e, 0, 0, s), 0);
    ck_assert_int_eq(engine_add_track(e, 0, 0, ENGINE_TRACK_AUDIO), 0);
    ck_assert_int_eq(engine_set_pan(e, 0, 0, -1.0f), 0);
    ck_assert_int_eq(engine_place_region(e, 0, 0, 0, 0, 0.0, 0, 0, 0.0f), 0);
}

/* Stop and seek do not click on an audio track: a region cut by them
 * fades out over 3 ms (144 samples at 48 kHz), and one that starts
 * sounding in its middle fades in over the same time, so a seek inside a
 * steady signal is a crossfade whose sum stays at the signal's level. */
START_TEST(test_regions_fade_on_stop_and_seek)
{
    Engine *e = make_engine();
    region_track(e, 0.5f, 0.0f);
    ck_assert_int_eq(engine_play(e, 0), 0);
    ck_assert_int_eq(engine_seek(e, 10000, 1.0), 0);     /* beat 1: frame 24000 of the region */
    ck_assert_int_eq(engine_stop(e, 30000), 0);
    ck_assert_int_eq(engine_play(e, 40000), 0);          /* resumes in the region's middle */
    render_to(e, 50000);
    ck_assert_float_eq(out_l[9999], 0.5f);
    /* the seek: old head 0.5 * (144 - k) / 144 + new head 0.5 * k / 144 */
    float worst = 0.0f;
    for (int i = 10000; i < 10144; i++)
        worst = fmaxf(worst, fabsf(out_l[i] - 0.5f));
    ck_assert_msg(worst < 1e-5f, "the seek's crossfade strays %g from the level", worst);
    ck_assert_float_eq(out_l[10144], 0.5f);
    /* the stop: a ramp down, no step larger than 0.5 / 144 */
    float step = 0.0f;
    for (int i = 29999; i < 30200; i++)
        step = fmaxf(step, fabsf(out_l[i + 1] - out_l[i]));
    ck_assert_msg(step <= 0.5f / 144.0f + 1e-6f, "a step of %g at the stop", step);
    ck_assert(out_l[30000] > 0.49f);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 29000, 40000), 30143);
    /* play again in the middle: a ramp up */
    ck_assert_int_eq(testutil_first_nonzero(out_l, 30200, 50000), 40001);
    step = 0.0f;
    for (int i = 39999; i < 40300; i++)
        step = fmaxf(step, fabsf(out_l[i + 1] - out_l[i]));
    ck_assert_msg(step <= 0.5f / 144.0f + 1e-6f, "a step of %g at play", step);
    ck_assert_float_eq(out_l[40144], 0.5f);
    printf("regions: seek crossfade within %.2g of the level, stop and play ramps of 144 samples\n", worst);
    engine_free(e);
}
END_TEST

/* A loop wrap inside a region is the same crossfade: looping beats [1, 2)
 * of a rising ramp (frame i = i / 200000) moves back 24000 frames at each
 * wrap, a drop of 0.12 spread over 144 samples instead of one step. */
START_TEST(test_regions_crossfade_at_loop_wrap)
{
    Engine *e = make_engine();
    region_track(e, 0.0f, 1.0f / 200000.0f);
    ck_assert_int_eq(engine_set_loop(e, 0, 1, 1.0, 2.0), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    render_to(e, 110000);                                   /* wraps at 48000, 72000, 96000 */
    float step = 0.0f;
    for (int i = 1; i < 110000; i++)
        step = fmaxf(step, fabsf(out_l[i] - out_l[i - 1]));
    ck_assert_msg(step < 0.12f / 144.0f + 2e-5f, "a step of %g at a loop wrap", step);
    ck_assert(fabsf(out_l[47999] - 47999.0f / 200000.0f) < 1e-6f);
    ck_assert(fabsf(out_l[48200] - 24200.0f / 200000.0f) < 1e-6f);
    printf("regions: three loop wraps inside a rising ramp, largest step %.3g (the jump is 0.12)\n", step);
    engine_free(e);
}
END_TEST

/* ---- transport ------------------------------------------------------------------------ */

/* A clip with one note: beats [at, at + len) from the clip's start. */
static EngineClip *one_note_clip(Engine *e, double at, double len, int key)
{
    EngineClip *c = engine_clip_new(e, 1);
    ck_assert_ptr_nonnull(c);
    c->notes[0] = (EngineNote){ .start = at, .length = len, .key = key, .vel = 1.0f };
    return c;
}

START_TEST(test_clip_notes_in_beats)
{
    Engine *e = make_engine();
    add_poly(e, 0);
    /* clip at beat 1, note 0..0.5 of it: samples 24000..35999 at 120 bpm */
    ck_assert_int_eq(engine_load_clip(e, 0, 0, one_note_clip(e, 0.0, 0.5, 69)), 0);
    ck_assert_int_eq(engine_place_clip(e, 0, 0, 0, 0, 1.0, 4.0), 0);
    render_to(e, 1000);                               /* stopped: nothing, playhead still */
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 1000), -1);
    EngineState st = state_of(e);
    ck_assert(st.beat == 0.0 && st.playhead == 0 && st.playing == 0);
    ck_assert_int_eq(engine_play(e, 1000), 0);
    render_to(e, 60000);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 60000), 25000);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 60000), 36999);
    st = state_of(e);
    ck_assert(st.playing == 1 && st.playhead == 59000);
    ck_assert(fabs(st.beat - 59000 * BPS) < 1e-9);
    engine_free(e);
}
END_TEST

START_TEST(test_stop_releases_and_holds_the_playhead)
{
    Engine *e = make_engine();
    add_poly(e, 0);
    ck_assert_int_eq(engine_load_clip(e, 0, 0, one_note_clip(e, 0.0, 2.0, 69)), 0);
    ck_assert_int_eq(engine_place_clip(e, 0, 0, 0, 0, 0.0, 4.0), 0);
    ck_assert_int_eq(engine_note_on(e, 100, 0, 7, 60, 0.5f), 0);            /* a live note too */
    ck_assert_int_eq(engine_play(e, 0), 0);
    ck_assert_int_eq(engine_stop(e, 10000), 0);
    render_to(e, 20000);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 20000), 9999);
    EngineState st = state_of(e);
    ck_assert(st.playing == 0 && st.playhead == 10000);
    ck_assert(fabs(st.beat - 10000 * BPS) < 1e-9);
    ck_assert_uint_eq(st.tracks[0].voices, 0);     /* released, silent, collected */
    /* Play again: resumes from the playhead; the clip note started before
     * it is not chased. */
    ck_assert_int_eq(engine_play(e, 20000), 0);
    render_to(e, 30000);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 20000, 30000), -1);
    ck_assert(fabs(state_of(e).beat - 20000 * BPS) < 1e-9);
    engine_free(e);
}
END_TEST

START_TEST(test_seek_cuts_cleanly)
{
    /* The fixture with its release of 50 ms: what ends the sound at the
     * seek is the 3 ms fade, not the envelope. */
    Engine *e = make_engine();
    add_instrument(e, 0, &amp_fixture_poly_desc);
    ck_assert_int_eq(engine_load_clip(e, 0, 0, one_note_clip(e, 0.0, 8.0, 69)), 0);
    ck_assert_int_eq(engine_load_clip(e, 0, 1, one_note_clip(e, 0.0, 0.1, 72)), 0);
    ck_assert_int_eq(engine_place_clip(e, 0, 0, 0, 0, 0.0, 8.0), 0);
    ck_assert_int_eq(engine_place_clip(e, 0, 0, 1, 1, 10.5, 1.0), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    ck_assert_int_eq(engine_seek(e, 10000, 10.0), 0);
    render_to(e, 40000);
    /* The sounding voice fades over 3 ms (144 samples) from 10000: no jump
     * larger than the tone's own steps, then silence until beat 10.5 =
     * 10000 + 12000. */
    float normal = 0.0f, around = 0.0f;
    for (long i = 5001; i < 10000; i++)
        normal = fmaxf(normal, fabsf(out_l[i] - out_l[i - 1]));
    for (long i = 10000; i < 10200; i++)
        around = fmaxf(around, fabsf(out_l[i] - out_l[i - 1]));
    ck_assert_msg(around <= normal * 1.5f, "step at the seek %g, normal %g", around, normal);
    long end = testutil_last_nonzero(out_l, 10000, 21000);
    ck_assert_msg(end >= 10000 + 143 && end <= 10000 + 145, "the fade ends at %ld", end);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 10200, 40000), 22000);
    EngineState st = state_of(e);
    ck_assert(fabs(st.beat - (10.0 + 30000 * BPS)) < 1e-9);
    ck_assert_int_eq(st.playhead, 240000 + 30000);   /* beat 10 = 5 s */
    engine_free(e);
}
END_TEST

/* panic (commands.def id 19) cuts every voice of one track, or of every
 * track, with the 3 ms fade of a stolen voice, at its sample: the fixture's
 * 50 ms release is not what ends the sound. The other track plays on,
 * sample for sample as it would alone. */
static void panic_at(Engine *e, int64_t time, int track, bool every_track)
{
    Command c = cmd_record(CMD_PANIC, time);
    c.panic.track = (uint32_t)track;
    c.panic.every_track = every_track;
    ck_assert_int_eq(engine_queue_command(e, &c), 0);
}

START_TEST(test_panic_cuts_at_its_sample)
{
    static float alone[LEN];
    /* Track 1 alone: the reference. */
    Engine *ref = make_engine();
    add_instrument(ref, 1, &amp_fixture_poly_desc);
    ck_assert_int_eq(engine_note_on(ref, 0, 1, 7, 64, 0.5f), 0);
    render_to(ref, 30000);
    memcpy(alone, out_l, sizeof(float) * 30000);
    engine_free(ref);

    Engine *e = make_engine();
    add_instrument(e, 0, &amp_fixture_poly_desc);
    add_instrument(e, 1, &amp_fixture_poly_desc);
    ck_assert_int_eq(engine_note_on(e, 0, 0, 1, 69, 1.0f), 0);
    ck_assert_int_eq(engine_note_on(e, 0, 0, 2, 76, 1.0f), 0);
    ck_assert_int_eq(engine_note_on(e, 0, 1, 7, 64, 0.5f), 0);
    panic_at(e, 10000, 0, false);
    panic_at(e, 20000, 0, true);
    render_to(e, 30000);
    /* Track 0's voices fade out over 144 samples from 10000, then the sum
     * is track 1's alone, bit for bit, until the panic of every track. */
    float normal = 0.0f, around = 0.0f;
    for (long i = 5001; i < 10000; i++)
        normal = fmaxf(normal, fabsf(out_l[i] - out_l[i - 1]));
    for (long i = 10000; i < 10200; i++)
        around = fmaxf(around, fabsf(out_l[i] - out_l[i - 1]));
    ck_assert_msg(around <= normal * 1.5f, "step at the panic %g, normal %g", around, normal);
    ck_assert_msg(out_l[10100] != alone[10100], "track 0 is still fading at 10100");
    for (long i = 10000 + 145; i < 20000; i++)
        ck_assert_msg(out_l[i] == alone[i], "i=%ld: %g, track 1 alone %g", i, out_l[i], alone[i]);
    long end = testutil_last_nonzero(out_l, 20000, 30000);
    ck_assert_msg(end >= 20000 + 143 && end <= 20000 + 145, "the panic of every track ends the sound at %ld", end);
    EngineState st = state_of(e);
    ck_assert_int_eq(st.tracks[0].voices, 0);
    ck_assert_int_eq(st.tracks[1].voices, 0);
    engine_free(e);
}
END_TEST

/* Loop [0, 1): the note at beat 0 plays at 0, 24000, 48000; the wrap
 * releases the clip's note that crosses the loop end. */
START_TEST(test_loop_wraps_at_its_sample)
{
    Engine *e = make_engine();
    add_poly(e, 0);
    ck_assert_int_eq(engine_load_clip(e, 0, 0, one_note_clip(e, 0.0, 0.25, 69)), 0);
    ck_assert_int_eq(engine_load_clip(e, 0, 1, one_note_clip(e, 0.0, 4.0, 76)), 0);
    ck_assert_int_eq(engine_place_clip(e, 0, 0, 0, 0, 0.0, 4.0), 0);
    ck_assert_int_eq(engine_place_clip(e, 0, 0, 1, 1, 0.75, 4.0), 0);      /* from 18000, crosses the end */
    ck_assert_int_eq(engine_set_loop(e, 0, 1, 0.0, 1.0), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    render_to(e, 60000);
    /* 69: [0, 6000), [24000, 30000), [48000, 54000); 76 from beat 0.75:
     * [18000, 24000) and [42000, 48000), released by each wrap (else it
     * would sound on to beat 4.75). */
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 60000), 0);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 17000), 5999);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 6000, 24000), 18000);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 23999, 24001), 23999);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 24000, 42000), 29999);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 30000, 48000), 42000);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 42000, 60000), 53999);
    EngineState st = state_of(e);
    ck_assert(fabs(st.beat - (60000 - 48000) * BPS) < 1e-9);
    ck_assert_int_eq(st.playhead, 12000);
    engine_free(e);
}
END_TEST

START_TEST(test_tempo_changes_at_their_sample)
{
    /* set_tempo at sample 12000 (beat 0.5): 60 bpm from there, so beat 1
     * comes at 12000 + 0.5 * 48000 = 36000. */
    Engine *e = make_engine();
    add_poly(e, 0);
    ck_assert_int_eq(engine_load_clip(e, 0, 0, one_note_clip(e, 1.0, 0.5, 69)), 0);
    ck_assert_int_eq(engine_place_clip(e, 0, 0, 0, 0, 0.0, 4.0), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    ck_assert_int_eq(engine_set_tempo(e, 12000, 60.0), 0);
    render_to(e, 100000);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 100000), 36000);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 100000), 36000 + 24000 - 1);
    EngineState st = state_of(e);
    ck_assert(st.tempo == 60.0);
    engine_free(e);

    /* A tempo map point at beat 1: 240 bpm from there; beat 2 at 24000 +
     * 12000; the playhead in samples follows the map. */
    e = make_engine();
    add_poly(e, 0);
    ck_assert_int_eq(engine_load_clip(e, 0, 0, one_note_clip(e, 2.0, 0.5, 69)), 0);
    ck_assert_int_eq(engine_place_clip(e, 0, 0, 0, 0, 0.0, 4.0), 0);
    ck_assert_int_eq(engine_add_tempo_change(e, 0, 1.0, 240.0), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    ck_assert_int_eq(engine_seek(e, 40000, 1.5), 0);                       /* back into the fast part */
    render_to(e, 60000);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 40000), 36000);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 40200, 60000), 40000 + 6000);
    st = state_of(e);
    ck_assert(st.tempo == 240.0);
    ck_assert_int_eq(st.playhead, 24000 + 6000 + 20000);                  /* 1.5 beats through the map, then on */
    engine_free(e);
}
END_TEST

/* The metronome: a click starts on the first sample of every beat of the
 * signature, through a tempo change and a signature change, its first
 * sample the click's peak: 0.5 for an accent (a bar's first beat), 0.3
 * for a beat, times the gain. 240 bpm (12000 samples a beat) to beat 4,
 * then 180 (16000); 3/4 from beat 0, 6/8 from beat 6 (a beat of the
 * signature is half a quarter there: 8000 samples). */
START_TEST(test_metronome_clicks_on_the_beats)
{
    static const long onsets[] = { 0, 12000, 24000, 36000, 48000, 64000,           /* 3/4: 0 1 2 | 3 4 5 */
                                   80000, 88000, 96000, 104000 };                  /* 6/8 from beat 6 */
    static const int accents[] = { 1, 0, 0, 1, 0, 0, 1, 0, 0, 0 };
    const int n = (int)(sizeof onsets / sizeof onsets[0]);
    Engine *e = make_engine();
    ck_assert_int_eq(engine_set_tempo(e, 0, 240.0), 0);
    ck_assert_int_eq(engine_add_tempo_change(e, 0, 4.0, 180.0), 0);
    ck_assert_int_eq(engine_set_time_signature(e, 0, 3, 4), 0);
    ck_assert_int_eq(engine_add_time_signature_change(e, 0, 6.0, 6, 8), 0);
    ck_assert_int_eq(engine_set_metronome(e, 0, 1, 0.0f), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    render_range(e, 0, 110000, 100);              /* calls of 100: clicks fall inside them */
    int found = 0;
    for (long i = 0; i < 110000; i++) {
        bool onset = out_l[i] != 0.0f && (i == 0 || out_l[i - 1] == 0.0f);
        if (!onset)
            continue;
        ck_assert_msg(found < n && i == onsets[found], "click %d at sample %ld, expected %ld", found, i,
                      found < n ? onsets[found] : -1L);
        ck_assert_float_eq(out_l[i], accents[found] ? 0.5f : 0.3f);
        ck_assert_float_eq(out_r[i], out_l[i]);
        /* 35 ms long, silent after */
        ck_assert_int_eq(testutil_last_nonzero(out_l, i, i + 4000), i + 1679);
        found++;
    }
    ck_assert_int_eq(found, n);
    /* At -6.0206 dB it is half as loud; off, it is silent (while the
     * playhead goes on counting: on again, it clicks on the next beat). */
    ck_assert_int_eq(engine_set_metronome(e, 110000, 1, -6.0206f), 0);
    render_to(e, 119000);
    ck_assert(fabsf(out_l[112000] - 0.15f) < 1e-5f);   /* beat 8 */
    ck_assert_float_eq(out_l[111999], 0.0f);
    engine_free(e);

    e = make_engine();
    ck_assert_int_eq(engine_set_metronome(e, 0, 1, 0.0f), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    ck_assert_int_eq(engine_set_metronome(e, 30000, 0, 0.0f), 0);
    ck_assert_int_eq(engine_set_metronome(e, 60000, 1, 0.0f), 0);
    render_to(e, 100000);
    ck_assert_float_eq(out_l[24000], 0.3f);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 24000 + 1680, 72000), -1);   /* no click at 48000 */
    ck_assert_float_eq(out_l[72000], 0.3f);                                      /* beat 3 */
    ck_assert_float_eq(out_l[96000], 0.5f);                                      /* beat 4: a bar */
    ck_assert_int_eq(engine_stop(e, 100000), 0);
    render_to(e, 130000 > LEN ? LEN : 110000);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 96000 + 1680, 110000), -1);   /* stopped: silent */
    engine_free(e);
}
END_TEST

/* A looped placement plays as the clip holding the repeats would, to the
 * bit: notes in [0, loop) repeat, each cut at its repeat's end (and at
 * the end), notes from the loop length on never play. */
START_TEST(test_looped_clip_equals_unrolled)
{
    static float looped[LEN];
    for (int pass = 0; pass < 2; pass++) {
        Engine *e = make_engine();
        EngineNode *nd = add_poly(e, 0);
        engine_node_set_param(nd, FX_ATTACK, 0.001f);
        EngineClip *c;
        if (pass == 0) {
            c = engine_clip_new(e, 3);
            c->notes[0] = (EngineNote){ .start = 0.0, .length = 0.5, .key = 60, .vel = 0.9f };
            c->notes[1] = (EngineNote){ .start = 0.25, .length = 2.0, .key = 67, .vel = 0.5f };   /* cut at 1.25 */
            c->notes[2] = (EngineNote){ .start = 1.5, .length = 0.5, .key = 72, .vel = 1.0f };    /* past the loop */
        } else {   /* repeats from beats 0.25, 1.5, 2.75, 4.0; the end (4.75) cuts the last */
            c = engine_clip_new(e, 8);
            for (int r = 0; r < 4; r++) {
                double at = 1.25 * r;
                c->notes[2 * r] = (EngineNote){ .start = at, .length = 0.5, .key = 60, .vel = 0.9f };
                c->notes[2 * r + 1] = (EngineNote){ .start = at + 0.25, .length = 1.0, .key = 67, .vel = 0.5f };
            }
        }
        ck_assert_int_eq(engine_load_clip(e, 0, 0, c), 0);
        ck_assert_int_eq(engine_place_clip_looped(e, 0, 0, 0, 0, 0.25, 4.5, pass == 0 ? 1.25 : 0.0), 0);
        ck_assert_int_eq(engine_play(e, 0), 0);
        render_range(e, 0, LEN, 100);
        if (pass == 0) {
            memcpy(looped, out_l, sizeof looped);
            ck_assert_int_eq(testutil_first_nonzero(out_l, 0, LEN), 6000);          /* beat 0.25 */
        } else {
            long d = -1;
            for (long i = 0; i < LEN && d < 0; i++)
                if (memcmp(&looped[i], &out_l[i], 4))
                    d = i;
            ck_assert_msg(d < 0, "looped and unrolled differ from sample %ld: %.9g vs %.9g", d,
                          d < 0 ? 0.0 : (double)looped[d], d < 0 ? 0.0 : (double)out_l[d]);
        }
        EngineState st = state_of(e);
        ck_assert_uint_eq(st.tracks[0].notes_refused, 0);
        engine_free(e);
    }
    /* Nothing after the placement's end (beat 4.75 = 114000, release 0). */
    ck_assert_int_eq(testutil_last_nonzero(looped, 0, LEN), 114000 - 1);
}
END_TEST

/* The state region tells the bar and the beat into it under the
 * signature map, and the signature in force there. 240 bpm: 12000
 * samples a beat. */
START_TEST(test_state_bar_and_beat)
{
    Engine *e = make_engine();
    ck_assert_int_eq(engine_set_tempo(e, 0, 240.0), 0);
    ck_assert_int_eq(engine_set_time_signature(e, 0, 3, 4), 0);
    ck_assert_int_eq(engine_add_time_signature_change(e, 0, 6.0, 7, 8), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    render_to(e, 54000);                         /* beat 4.5: bar 1 (3..6), 1.5 beats in */
    EngineState st = state_of(e);
    ck_assert(st.beat == 4.5);
    ck_assert_uint_eq(st.bar, 1);
    ck_assert(st.bar_beat == 1.5);
    ck_assert(st.sig_num == 3 && st.sig_den == 4);
    render_to(e, 87000);                         /* beat 7.25: bar 2 (from 6, 7/8), 2.5 eighths in */
    st = state_of(e);
    ck_assert_uint_eq(st.bar, 2);
    ck_assert(st.bar_beat == 2.5);
    ck_assert(st.sig_num == 7 && st.sig_den == 8);
    engine_free(e);

    /* A change off a bar line: the bar before it is cut short, and counts. */
    e = make_engine();
    ck_assert_int_eq(engine_set_tempo(e, 0, 240.0), 0);
    ck_assert_int_eq(engine_set_time_signature(e, 0, 3, 4), 0);
    ck_assert_int_eq(engine_add_time_signature_change(e, 0, 5.0, 4, 4), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    render_to(e, 6 * 12000);
    st = state_of(e);
    ck_assert_uint_eq(st.bar, 2);
    ck_assert(st.bar_beat == 1.0);
    engine_free(e);
}
END_TEST

/* Clip counters: samples past full scale after the fader (a track) and at
 * the output (the master), held until the reader moves on from them. */
START_TEST(test_clip_counters_hold)
{
    Engine *e = make_engine();
    add_dc(e, 0, 1.5f);
    add_dc(e, 1, 0.25f);
    ck_assert_int_eq(engine_set_param(e, 1000, 0, 0, 0, 0.5f), 0);
    render_to(e, 5000);
    EngineState st = state_of(e);
    ck_assert_uint_eq(st.tracks[0].clips, 1000);
    ck_assert_uint_eq(st.tracks[1].clips, 0);
    ck_assert_uint_eq(st.master_clips, 1000);      /* 1.75 for 1000 samples, 0.75 after */
    ck_assert_float_eq(st.tracks[0].meter.peak[0], 0.5f);   /* the meter has moved on; the count holds */
    ck_assert_int_eq(engine_set_gain(e, 5000, ENGINE_MASTER, 6.0f), 0);     /* 0.75 * 2: clips again */
    render_to(e, 6000);
    st = state_of(e);
    long over = 0;   /* the samples of the output past 1 (the master's gain ramps up over 64) */
    for (long i = 5000; i < 6000; i++)
        over += out_l[i] > 1.0f;
    ck_assert_int_gt(over, 900);
    ck_assert_uint_eq(st.master_clips, 1000 + over);
    ck_assert_uint_eq(st.tracks[0].clips, 1000);
    engine_free(e);
}
END_TEST

/* ---- automation ---------------------------------------------------------------------- */

START_TEST(test_automation_ramp_and_points)
{
    Engine *e = make_engine();
    add_dc(e, 0, 0.0f);
    EngineLane *l = engine_lane_new(e, 2);
    l->unit = ENGINE_TIME_BEATS;
    l->points[0] = (EnginePoint){ .time = 1.0, .value = 0.0f };
    l->points[1] = (EnginePoint){ .time = 2.0, .value = 1.0f };
    ck_assert_int_eq(engine_set_lane(e, 0, 0, 0, 0, 0, l), 0);
    ck_assert_int_eq(engine_set_param(e, 0, 0, 0, 0, 0.5f), 0);   /* overridden by the lane's start */
    ck_assert_int_eq(engine_play(e, 100), 0);
    render_to(e, 60000);
    /* The param set after the lane holds until play (sample 100) puts the
     * lane's value at beat 0 there: the first point's, until beat 1
     * (sample 24100). */
    for (long i = 0; i < 24100; i++)
        ck_assert_msg(out_l[i] == (i < 100 ? 0.5f : 0.0f), "i=%ld: %g", i, out_l[i]);
    /* Between the points: set at each multiple of 16, held in between. */
    for (long i = 24100; i < 48100; i++) {
        if (i % AMP_CHUNK == 0) {
            double want = (double)(i - 24100) / 24000.0;
            ck_assert_msg(fabs(out_l[i] - want) < 1e-6, "i=%ld %g != %g", i, out_l[i], want);
        } else if (i != 24100) {
            ck_assert_msg(out_l[i] == out_l[i - 1], "i=%ld changed off the tick", i);
        }
    }
    ck_assert_float_eq(out_l[48099], out_l[48096]);
    ck_assert_float_eq(out_l[48100], 1.0f);                  /* the last point, at its sample */
    ck_assert_float_eq(out_l[59999], 1.0f);
    engine_free(e);
}
END_TEST

/* A step (two points at one time), in playhead samples, at sample 1001. */
/* A lane on the track's fader: gain from -60 dB to 0 dB over beats 1..2
 * (linear in dB), then a second lane pans the track (hard left, as
 * add_dc sets it) hard right at beat 3. The fader follows with its usual
 * 64-sample ramps. */
START_TEST(test_automation_of_the_fader)
{
    Engine *e = make_engine();
    add_dc(e, 0, 1.0f);
    EngineLane *g = engine_lane_new(e, 2);
    g->unit = ENGINE_TIME_BEATS;
    g->points[0] = (EnginePoint){ .time = 1.0, .value = -60.0f };
    g->points[1] = (EnginePoint){ .time = 2.0, .value = 0.0f };
    EngineLane *p = engine_lane_new(e, 2);
    p->unit = ENGINE_TIME_BEATS;
    p->points[0] = (EnginePoint){ .time = 3.0, .value = -1.0f };
    p->points[1] = (EnginePoint){ .time = 3.0, .value = 1.0f };
    ck_assert_int_eq(engine_set_lane(e, 0, 0, 0, ENGINE_LANE_FADER, ENGINE_FADER_GAIN, g), 0);
    ck_assert_int_eq(engine_set_lane(e, 0, 0, 1, ENGINE_LANE_FADER, ENGINE_FADER_PAN, p), 0);
    ck_assert_int_eq(engine_set_lane(e, 0, 0, 2, ENGINE_LANE_FADER, 2, NULL), -1);   /* no third fader param */
    ck_assert_int_eq(engine_play(e, 0), 0);
    render_to(e, 100000);
    ck_assert(fabs(out_l[20000] - 0.001) < 1e-7);                        /* -60 dB before beat 1 */
    ck_assert(fabs(out_l[36000] / pow(10.0, -30.0 / 20.0) - 1.0) < 0.01);   /* half way: -30 dB */
    ck_assert(fabs(out_l[60000] - 1.0) < 1e-6);                          /* 0 dB after beat 2 */
    ck_assert(fabs(out_l[72000 + 64]) < 1e-6);                           /* beat 3: hard right */
    ck_assert(fabs(out_r[72000 + 64] - 1.0) < 1e-6);
    float step = 0.0f;
    for (int i = 24001; i < 48000; i++)
        step = fmaxf(step, fabsf(out_l[i] - out_l[i - 1]));
    ck_assert_msg(step < 1e-3f, "the gain ramp jumps by %g", step);
    printf("automation: fader gain -60 -> 0 dB over a beat (largest step %.2g), pan by a lane\n", step);
    engine_free(e);
}
END_TEST

START_TEST(test_automation_step_in_samples)
{
    Engine *e = make_engine();
    EngineNode *x = node(e, &affine_desc);
    add_dc(e, 0, 1.0f);
    ck_assert_int_eq(engine_insert_add(e, 0, 0, 0, x), 0);
    EngineLane *l = engine_lane_new(e, 3);
    l->unit = ENGINE_TIME_SAMPLES;
    l->points[0] = (EnginePoint){ .time = 1001.0, .value = 0.25f };
    l->points[1] = (EnginePoint){ .time = 1001.0, .value = 0.75f };
    l->points[2] = (EnginePoint){ .time = 5000.0, .value = 0.75f };
    ck_assert_int_eq(engine_set_lane(e, 0, 0, 1, 1, 0, l), 0);      /* lane 1 drives insert 0's "mul" */
    ck_assert_int_eq(engine_play(e, 0), 0);
    ck_assert_int_eq(engine_stop(e, 3000), 0);
    ck_assert_int_eq(engine_seek(e, 3500, 0.0), 0);                 /* stopped: the lane takes beat 0's value */
    render_to(e, 4000);
    ck_assert_float_eq(out_l[1000], 0.25f);
    ck_assert_float_eq(out_l[1001], 0.75f);
    ck_assert_float_eq(out_l[3499], 0.75f);
    ck_assert_float_eq(out_l[3500], 0.25f);
    /* Clearing the lane hands its buffer back. */
    ck_assert_int_eq(engine_set_lane(e, 4000, 0, 1, 1, 0, NULL), 0);
    render_to(e, 4200);
    ck_assert_ptr_eq(find_event(ENGINE_EV_LANE_RELEASED)->ptr, l);
    engine_free(e);
}
END_TEST

/* ---- voice modes ------------------------------------------------------------------------ */

static FixtureState *fixture(EngineNode *nd)
{
    return engine_node_state(nd);
}

/* The slot of a held key (playing, gate on), or -1. */
static int playing_slot(EngineNode *nd)
{
    AmpVoiceTable *vt = &fixture(nd)->vt;
    int found = -1;
    for (int i = 0; i < vt->live; i++)
        if (vt->gain_step[i] == 0.0f && vt->note_id[i] >= 0 && vt->gate[i] != 0.0f)
            found = i;
    return found;
}

static float slot_env(EngineNode *nd, int slot)
{
    return fixture(nd)->env[slot / 4][slot % 4];
}

START_TEST(test_mono_retriggers)
{
    Engine *e = make_engine();
    EngineNode *nd = add_poly(e, 0);
    ck_assert_int_eq(engine_set_voice_mode(e, 0, 0, ENGINE_VOICE_MONO, ENGINE_PRIORITY_LAST, 0.0f), 0);
    engine_note_on(e, 0, 0, 1, 60, 1.0f);
    engine_note_on(e, 1000, 0, 2, 64, 1.0f);
    render_to(e, 1001);
    AmpVoiceTable *vt = &fixture(nd)->vt;
    ck_assert_int_eq(vt->live, 2);                       /* the old voice fading out */
    int s = playing_slot(nd);
    ck_assert_float_eq(vt->key[s], 64.0f);
    ck_assert(slot_env(nd, s) < 0.01f);                  /* restarted: one attack step */
    render_to(e, 2000);
    ck_assert_int_eq(vt->live, 1);
    /* Releasing the sounding key goes back to the held one, retriggered. */
    engine_note_off(e, 2000, 0, 2);
    render_to(e, 2001);
    s = playing_slot(nd);
    ck_assert_float_eq(vt->key[s], 60.0f);
    ck_assert(slot_env(nd, s) < 0.01f);
    engine_note_off(e, 3000, 0, 1);
    render_to(e, 3001);
    ck_assert_int_eq(playing_slot(nd), -1);
    engine_free(e);
}
END_TEST

START_TEST(test_legato_does_not_retrigger)
{
    Engine *e = make_engine();
    EngineNode *nd = add_poly(e, 0);
    ck_assert_int_eq(engine_set_voice_mode(e, 0, 0, ENGINE_VOICE_LEGATO, ENGINE_PRIORITY_LAST, 0.0f), 0);
    engine_note_on(e, 0, 0, 1, 60, 1.0f);
    engine_note_on(e, 1000, 0, 2, 64, 1.0f);
    render_to(e, 1000);
    AmpVoiceTable *vt = &fixture(nd)->vt;
    float env_before = slot_env(nd, 0);
    ck_assert_float_eq(env_before, 1.0f);                /* attack of 5 ms = 240 samples: done */
    render_to(e, 1001);
    ck_assert_int_eq(vt->live, 1);
    ck_assert_float_eq(vt->key[0], 64.0f);
    ck_assert_float_eq(vt->freq[0], voice_key_to_freq(64));
    ck_assert_float_eq(vt->gate[0], 1.0f);
    ck_assert_float_eq(slot_env(nd, 0), 1.0f);           /* not restarted */
    /* The sound goes on without a gap or a jump at the change. */
    ck_assert(out_l[1000] != 0.0f && fabsf(out_l[1000] - out_l[999]) < 0.1f);
    engine_note_off(e, 2000, 0, 2);
    render_to(e, 2001);
    ck_assert_int_eq(vt->live, 1);
    ck_assert_float_eq(vt->key[0], 60.0f);
    ck_assert_float_eq(slot_env(nd, 0), 1.0f);
    engine_note_off(e, 3000, 0, 1);
    render_to(e, 3001);
    ck_assert_float_eq(vt->gate[0], 0.0f);
    engine_free(e);
}
END_TEST

/* Legato glide: with a time constant of 10 ms (480 samples), a change of
 * key at 1000 moves the voice's pitch at each control tick, exponentially
 * in log frequency; it lands exactly on the key, and goes back the same way
 * when the key is released. */
START_TEST(test_legato_glide)
{
    Engine *e = make_engine();
    EngineNode *nd = add_poly(e, 0);
    ck_assert_int_eq(engine_set_voice_mode(e, 0, 0, ENGINE_VOICE_LEGATO, ENGINE_PRIORITY_LAST, 0.01f), 0);
    ck_assert_int_eq(engine_set_voice_mode(e, 0, 0, ENGINE_VOICE_LEGATO, ENGINE_PRIORITY_LAST, 11.0f), -1);
    engine_note_on(e, 0, 0, 1, 60, 1.0f);
    engine_note_on(e, 1000, 0, 2, 72, 1.0f);
    AmpVoiceTable *vt = &fixture(nd)->vt;
    render_to(e, 1001);
    double from = log2(voice_key_to_freq(60)), to = log2(voice_key_to_freq(72));
    ck_assert_float_eq(vt->key[0], 72.0f);
    ck_assert(fabs(log2(vt->freq[0]) - from) < 1e-5);       /* not moved before the first tick */
    render_to(e, 1489);                                       /* ticks at 1008, 1024, ..., 1488: 31 */
    double want = to + (from - to) * exp(-31.0 * 16.0 / 480.0);
    ck_assert_msg(fabs(log2(vt->freq[0]) - want) < 1e-5, "log2 f %.6f, expected %.6f", log2(vt->freq[0]), want);
    render_to(e, 20000);
    ck_assert_float_eq(vt->freq[0], voice_key_to_freq(72));   /* landed exactly */
    float step = 0.0f;
    for (int i = 1; i < 20000; i++)
        step = fmaxf(step, fabsf(out_l[i] - out_l[i - 1]));
    engine_note_off(e, 20000, 0, 2);                          /* back to 60, gliding */
    render_to(e, 20000 + 481);
    double back = log2(vt->freq[0]);
    ck_assert(back < to - 0.5 && back > from + 0.2);
    render_to(e, 40000);
    ck_assert_float_eq(vt->freq[0], voice_key_to_freq(60));
    printf("glide: 60 -> 72 with a 10 ms time constant, 63 %% of the way after 31 ticks, lands exactly; "
           "largest output step %.3f\n", step);
    engine_free(e);
}
END_TEST

static int sounding_key(EngineNode *nd)
{
    int s = playing_slot(nd);
    return s < 0 ? -1 : (int)fixture(nd)->vt.key[s];
}

START_TEST(test_note_priorities)
{
    /* low: 60 held, 64 does not take over, 55 does; release 55 -> 60 */
    Engine *e = make_engine();
    EngineNode *nd = add_poly(e, 0);
    ck_assert_int_eq(engine_set_voice_mode(e, 0, 0, ENGINE_VOICE_MONO, ENGINE_PRIORITY_LOW, 0.0f), 0);
    engine_note_on(e, 10, 0, 1, 60, 1.0f);
    engine_note_on(e, 20, 0, 2, 64, 1.0f);
    render_to(e, 30);
    ck_assert_int_eq(sounding_key(nd), 60);
    engine_note_on(e, 30, 0, 3, 55, 1.0f);
    render_to(e, 40);
    ck_assert_int_eq(sounding_key(nd), 55);
    engine_note_off(e, 40, 0, 3);
    render_to(e, 50);
    ck_assert_int_eq(sounding_key(nd), 60);
    engine_free(e);

    /* high */
    e = make_engine();
    nd = add_poly(e, 0);
    ck_assert_int_eq(engine_set_voice_mode(e, 0, 0, ENGINE_VOICE_LEGATO, ENGINE_PRIORITY_HIGH, 0.0f), 0);
    engine_note_on(e, 10, 0, 1, 60, 1.0f);
    engine_note_on(e, 20, 0, 2, 55, 1.0f);
    render_to(e, 30);
    ck_assert_int_eq(sounding_key(nd), 60);
    engine_note_on(e, 30, 0, 3, 64, 1.0f);
    render_to(e, 40);
    ck_assert_int_eq(sounding_key(nd), 64);
    engine_note_off(e, 40, 0, 3);
    render_to(e, 50);
    ck_assert_int_eq(sounding_key(nd), 60);
    engine_note_off(e, 50, 0, 1);
    render_to(e, 60);
    ck_assert_int_eq(sounding_key(nd), 55);
    engine_free(e);

    /* last, with more keys than the held table: the oldest is forgotten */
    e = make_engine();
    nd = add_poly(e, 0);
    ck_assert_int_eq(engine_set_voice_mode(e, 0, 0, ENGINE_VOICE_LEGATO, ENGINE_PRIORITY_LAST, 0.0f), 0);
    for (int k = 0; k <= ENGINE_HELD_NOTES; k++)
        engine_note_on(e, 10 + k, 0, k, 40 + k, 1.0f);
    render_to(e, 100);
    ck_assert_int_eq(sounding_key(nd), 40 + ENGINE_HELD_NOTES);
    for (int k = ENGINE_HELD_NOTES; k >= 1; k--)
        engine_note_off(e, 200 + ENGINE_HELD_NOTES - k, 0, k);
    render_to(e, 300);
    ck_assert_int_eq(sounding_key(nd), -1);              /* key 40 was pushed out */
    engine_free(e);
}
END_TEST

/* ---- non-finite guard ---------------------------------------------------------------- */

/* s = 1.002 s + x: a feedback loop that builds up without bound (past
 * the ceiling in about 2800 samples of x = 0.25). */
static const char grow_text[] =
    "node grow {\n"
    "  in x;\n"
    "  out y;\n"
    "  state s = 0;\n"
    "  process {\n"
    "    s = s * 1.002 + x;\n"
    "    y = s;\n"
    "  }\n"
    "}\n";

/* Every sample of out_l / out_r over [0, n) finite and within the master's
 * safety limit. */
static void assert_master_bounded(long n)
{
    for (long i = 0; i < n; i++) {
        ck_assert_msg(isfinite(out_l[i]) && fabsf(out_l[i]) <= ENGINE_MASTER_LIMIT, "left %ld: %g", i, out_l[i]);
        ck_assert_msg(isfinite(out_r[i]) && fabsf(out_r[i]) <= ENGINE_MASTER_LIMIT, "right %ld: %g", i, out_r[i]);
    }
}

/* The first event of `kind` on `track`, or NULL. */
static const EngineEvent *find_track_event(int kind, int track)
{
    for (int i = 0; i < n_log; i++)
        if (event_log[i].kind == kind && event_log[i].track == track)
            return &event_log[i];
    return NULL;
}

/* An insert whose output is a huge finite 3e38 is silenced and named; what
 * the fader makes of the largest level the guard lets through is clipped by
 * the master's safety limit, which names the last fault. */
START_TEST(test_huge_insert_output_never_reaches_the_master)
{
    Engine *e = make_engine();
    n_log = 0;
    add_dc(e, 0, 0.5f);
    EngineNode *huge = node(e, &dc_desc);
    engine_node_set_param(huge, 0, 3e38f);
    ck_assert_int_eq(engine_insert_add(e, 0, 0, 0, huge), 0);
    add_dc(e, 1, 0.125f);                                  /* a witness */
    ck_assert_int_eq(engine_set_param(e, 1000, 0, 1, 0, ENGINE_SIGNAL_CEILING), 0);   /* at the ceiling: passes */
    ck_assert_int_eq(engine_set_gain(e, 2000, 0, 24.0f), 0);                            /* 65536 * 15.85 */
    render_to(e, 4096);
    assert_master_bounded(4096);
    for (long i = 0; i < 1000; i++)
        ck_assert_msg(out_l[i] == 0.125f, "%ld: %g (the witness alone)", i, out_l[i]);
    ck_assert_float_eq(out_l[1500], ENGINE_MASTER_LIMIT);      /* 65536.125 */
    ck_assert_float_eq(out_l[4000], ENGINE_MASTER_LIMIT);
    const EngineEvent *ev = find_track_event(ENGINE_EV_NODE_FAULT, 0);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->slot, 1);                         /* the first insert */
    ck_assert_int_eq(ev->code, ENGINE_FAULT_CEILING);
    ck_assert_int_eq(ev->time, 0);                         /* its first bad sample */
    ck_assert_int_eq(events_of(ENGINE_EV_NODE_FAULT), 1);
    ev = find_event(ENGINE_EV_MASTER_LIMIT);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->track, 0);                        /* the last fault */
    ck_assert_int_eq(ev->slot, 1);
    ck_assert_int_eq(ev->time, 1000 / 128 * 128);          /* the render call where it began */
    ck_assert_int_eq(events_of(ENGINE_EV_MASTER_LIMIT), 1);   /* once per episode */
    EngineState st = state_of(e);
    ck_assert_uint_eq(st.master_limited, 3096);            /* left, 1000..4095; the right is silent */
    ck_assert_uint_eq(st.tracks[0].faulted, 0);            /* recovered at 1000 */
    ck_assert_uint_eq(st.tracks[0].faults, 1000 / 128 + 1);   /* every call over [0, 1000) */
    ck_assert_uint_eq(st.tracks[1].faults, 0);
    ck_assert_uint_eq(st.version, 3);
    engine_free(e);

    /* Still 3e38 at the end: the insert's slot bit stays set. */
    e = make_engine();
    add_dc(e, 0, 0.5f);
    huge = node(e, &dc_desc);
    engine_node_set_param(huge, 0, -3e38f);
    ck_assert_int_eq(engine_insert_add(e, 0, 0, 0, huge), 0);
    render_to(e, 512);
    assert_master_bounded(512);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 512), -1);
    st = state_of(e);
    ck_assert_uint_eq(st.tracks[0].faulted, 1u << 1);
    ck_assert_uint_eq(st.master_limited, 0);
    engine_free(e);
}
END_TEST

/* -inf from one instrument, NaN from another from sample 300: both are
 * silenced, each named with its first bad sample; the witness is intact. */
START_TEST(test_nonfinite_instruments_are_named)
{
    const AmpPatchDesc *nanny = build_text(nan_text);
    Engine *e = make_engine();
    n_log = 0;
    EngineNode *neg = add_dc(e, 0, 0.0f);
    engine_node_set_param(neg, 0, -INFINITY);
    add_instrument(e, 1, nanny);
    add_dc(e, 2, 0.25f);
    ck_assert_int_eq(engine_set_param(e, 300, 1, 0, 0, 0.0f), 0);   /* NaN from 300 */
    render_to(e, 1024);
    assert_master_bounded(1024);
    for (long i = 300; i < 1024; i++)
        ck_assert_msg(out_l[i] == 0.25f, "%ld: %g (the witness alone)", i, out_l[i]);
    const EngineEvent *ev = find_track_event(ENGINE_EV_NODE_FAULT, 0);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->slot, 0);
    ck_assert_int_eq(ev->code, ENGINE_FAULT_NONFINITE);
    ck_assert_int_eq(ev->time, 0);
    ev = find_track_event(ENGINE_EV_NODE_FAULT, 1);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->slot, 0);
    ck_assert_int_eq(ev->code, ENGINE_FAULT_NONFINITE);
    ck_assert_int_eq(ev->time, 300);
    ck_assert_int_eq(find_event(ENGINE_EV_MASTER_LIMIT) == NULL, 1);
    EngineState st = state_of(e);
    ck_assert_uint_eq(st.tracks[0].faulted, 1);
    ck_assert_uint_eq(st.tracks[1].faulted, 1);
    ck_assert_uint_eq(st.tracks[2].faults, 0);
    ck_assert_uint_eq(st.master_limited, 0);
    engine_free(e);
}
END_TEST

/* A feedback build-up on a bus insert: cut each time it passes the ceiling,
 * what gets through before that clipped at the master; never non-finite. */
START_TEST(test_feedback_build_up_is_bounded)
{
    const AmpPatchDesc *grow = build_text(grow_text);
    Engine *e = make_engine();
    n_log = 0;
    add_dc(e, 0, 0.5f);
    ck_assert_int_eq(engine_add_track(e, 0, 1, ENGINE_TRACK_BUS), 0);
    ck_assert_int_eq(engine_set_pan(e, 0, 1, -1.0f), 0);
    ck_assert_int_eq(engine_set_send(e, 0, 0, 0, 1, 0.0f), 0);
    ck_assert_int_eq(engine_insert_add(e, 0, 1, 0, node(e, grow)), 0);
    render_to(e, 16384);
    assert_master_bounded(16384);
    EngineState st = state_of(e);
    ck_assert_uint_ge(st.tracks[1].faults, 4);             /* it builds up again after each reset */
    ck_assert_uint_gt(st.master_limited, 0);
    const EngineEvent *ev = find_track_event(ENGINE_EV_NODE_FAULT, 1);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->slot, 1);
    ck_assert_int_eq(ev->code, ENGINE_FAULT_CEILING);
    ev = find_event(ENGINE_EV_MASTER_LIMIT);              /* the first build-up: no fault yet */
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->track, -1);
    ck_assert_int_eq(ev->slot, -1);
    ev = find_track_event(ENGINE_EV_MASTER_LIMIT, 1);      /* the next ones name it */
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->slot, 1);
    float peak = 0.0f;
    for (long i = 0; i < 16384; i++)
        peak = fabsf(out_l[i]) > peak ? fabsf(out_l[i]) : peak;
    ck_assert_float_eq(peak, ENGINE_MASTER_LIMIT);
    printf("guard: a 1.002x feedback loop on a bus insert, 16384 samples: %u faults, %u samples limited, peak %g\n",
           st.tracks[1].faults, st.master_limited, peak);
    engine_free(e);
}
END_TEST

START_TEST(test_nan_is_muted_and_reset)
{
    const AmpPatchDesc *nanny = build_text(nan_text);
    Engine *e = make_engine();
    add_instrument(e, 0, nanny);
    add_dc(e, 1, 0.125f);
    ck_assert_int_eq(engine_set_param(e, 1000, 0, 0, 0, 0.0f), 0);    /* p = 0: NaN from here */
    ck_assert_int_eq(engine_set_param(e, 3000, 0, 0, 0, 1.0f), 0);    /* finite again */
    render_to(e, 4096);
    for (long i = 0; i < 4096; i++)
        ck_assert_msg(isfinite(out_l[i]), "non-finite at %ld", i);
    ck_assert(fabsf(out_l[999] - (1000 * 0.001f + 0.125f)) < 1e-5f);
    for (long i = 1000; i < 3000; i++)
        ck_assert_msg(out_l[i] == 0.125f, "i=%ld: %g (the other track alone)", i, out_l[i]);
    /* reset() ran: t counts again from 1 */
    ck_assert(fabsf(out_l[3000] - (0.001f + 0.125f)) < 1e-7f);
    ck_assert(fabsf(out_l[3001] - (0.002f + 0.125f)) < 1e-7f);
    ck_assert_int_eq(events_of(ENGINE_EV_NODE_FAULT), 1);             /* once per episode */
    const EngineEvent *ev = find_event(ENGINE_EV_NODE_FAULT);
    ck_assert_int_eq(ev->track, 0);
    ck_assert_int_eq(ev->slot, 0);
    ck_assert_int_ge(ev->time, 896);
    EngineState st = state_of(e);
    ck_assert_uint_ge(st.tracks[0].faults, 16);          /* each call from 1000 to 3000 */
    ck_assert_uint_eq(st.tracks[0].faulted, 0);          /* recovered */
    ck_assert_uint_eq(st.tracks[1].faults, 0);
    engine_free(e);

    /* While it stays NaN the flag stays set. */
    e = make_engine();
    add_instrument(e, 0, nanny);
    ck_assert_int_eq(engine_set_param(e, 0, 0, 0, 0, 0.0f), 0);
    render_to(e, 1024);
    st = state_of(e);
    ck_assert_uint_eq(st.tracks[0].faulted, 1);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 0, 1024), -1);
    engine_free(e);
}
END_TEST

/* ---- pools, queue, ownership ------------------------------------------------------------ */

START_TEST(test_node_pool_of_two)
{
    EngineConfig cfg;
    default_config(&cfg);
    cfg.max_nodes = 2;
    Engine *e = make_engine_cfg(&cfg);
    char err[300];
    EngineNode *a = engine_node_new(e, &dc_desc, err, sizeof err);
    EngineNode *b = engine_node_new(e, &dc_desc, err, sizeof err);
    ck_assert(a && b);
    ck_assert_ptr_null(engine_node_new(e, &dc_desc, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "node pool is full"));
    render_to(e, 128);
    ck_assert_uint_eq(state_of(e).nodes_refused, 1);
    engine_node_free(e, a);
    ck_assert_ptr_nonnull(engine_node_new(e, &dc_desc, err, sizeof err));
    engine_free(e);

    /* The state pool refuses a state that does not fit. */
    default_config(&cfg);
    cfg.state_bytes = sizeof(FixtureState) + 1024;
    e = make_engine_cfg(&cfg);
    ck_assert_ptr_nonnull(engine_node_new(e, &amp_fixture_poly_desc, err, sizeof err));
    ck_assert_ptr_null(engine_node_new(e, &amp_fixture_poly_desc, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "state pool is full"));
    engine_free(e);
}
END_TEST

START_TEST(test_clip_pool_and_ids)
{
    EngineConfig cfg;
    default_config(&cfg);
    cfg.max_clips = 2;
    cfg.clip_bytes = 2 * (64 + 64);               /* two clips of one note: header + payload each */
    Engine *e = make_engine_cfg(&cfg);
    EngineClip *a = engine_clip_new(e, 1), *b = engine_clip_new(e, 1);
    ck_assert(a && b);
    ck_assert_ptr_null(engine_clip_new(e, 1));                  /* pool of 2: the third is refused */
    a->notes[0] = (EngineNote){ 0.0, 1.0, 60, 1.0f };
    b->notes[0] = (EngineNote){ 0.0, 1.0, 60, 1.0f };
    ck_assert_int_eq(engine_load_clip(e, 0, 2, a), -1);         /* id 2 of 2 */
    ck_assert_int_eq(engine_load_clip(e, 0, 0, a), 0);
    ck_assert_int_eq(engine_load_clip(e, 100, 0, b), 0);        /* replaces a: a comes back */
    render_to(e, 256);
    ck_assert_uint_eq(state_of(e).buffers_refused, 1);
    ck_assert_uint_eq(state_of(e).commands_refused, 1);
    ck_assert_int_eq(events_of(ENGINE_EV_CLIP_RELEASED), 1);
    ck_assert_ptr_eq(find_event(ENGINE_EV_CLIP_RELEASED)->ptr, a);
    /* drain() freed it: the pool has room again */
    ck_assert_ptr_nonnull(engine_clip_new(e, 1));
    ck_assert_ptr_null(engine_clip_new(e, 1));
    engine_free(e);

    /* An unsorted clip is refused at the call. */
    e = make_engine();
    EngineClip *u = engine_clip_new(e, 2);
    u->notes[0] = (EngineNote){ 1.0, 1.0, 60, 1.0f };
    u->notes[1] = (EngineNote){ 0.0, 1.0, 60, 1.0f };
    ck_assert_int_eq(engine_load_clip(e, 0, 0, u), -1);
    engine_free(e);
}
END_TEST

START_TEST(test_full_queue_refuses_and_counts)
{
    EngineConfig cfg;
    default_config(&cfg);
    cfg.queue_size = 5;                                   /* rounded up to 8 */
    Engine *e = make_engine_cfg(&cfg);
    ck_assert_int_eq(engine_queue_capacity(e), 8);
    add_dc(e, 0, 0.0f);                                   /* 3 commands */
    /* levels in quarters: below the master's safety limit, exact in float */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(engine_set_param(e, 100 + i, 0, 0, 0, ((float)i + 1.0f) * 0.25f), 0);
    ck_assert_int_eq(engine_set_param(e, 200, 0, 0, 0, 2.25f), -1);
    ck_assert_int_eq(engine_set_param(e, 201, 0, 0, 0, 2.25f), -1);
    render_to(e, 256);
    ck_assert_uint_eq(state_of(e).commands_refused, 2);
    ck_assert_float_eq(out_l[104], 1.25f);
    ck_assert_float_eq(out_l[255], 1.25f);                /* the refused ones never applied */
    /* Room again after the render took them. */
    ck_assert_int_eq(engine_set_param(e, 300, 0, 0, 0, 1.75f), 0);
    render_to(e, 384);
    ck_assert_float_eq(out_l[383], 1.75f);
    engine_free(e);
}
END_TEST

/* A full event ring loses no buffer: with a ring of room for one event
 * and nobody reading, forty clip replacements hand back the forty clips
 * they replaced once the ring is read again, in the order replaced. */
START_TEST(test_full_event_ring_loses_no_buffer)
{
    EngineConfig cfg;
    default_config(&cfg);
    cfg.event_ring_bytes = 64;
    Engine *e = make_engine_cfg(&cfg);
    add_poly(e, 0);
    EngineClip *clips[41];
    for (int i = 0; i < 41; i++) {
        clips[i] = one_note_clip(e, 0.0, 1.0, 60);
        ck_assert_int_eq(engine_load_clip(e, 64L * i, 0, clips[i]), 0);
        if (i == 0)
            ck_assert_int_eq(engine_queue_capacity(e) > 41, 1);
    }
    /* render without reading the events */
    for (long pos = 0; pos < 64L * 41 + 128; pos += 128) {
        float *out[2] = { out_l + pos, out_r + pos };
        engine_render(e, out, 128);
    }
    n_log = 0;
    int released = 0, order_ok = 1;
    for (int round = 0; round < 100 && released < 40; round++) {
        EngineEvent ev;
        while (engine_poll(e, &ev)) {
            if (ev.kind == ENGINE_EV_CLIP_RELEASED) {
                order_ok &= ev.ptr == clips[released];
                released++;
            }
            engine_release(e, &ev);
        }
        float *out[2] = { out_l, out_r };
        engine_render(e, out, 128);
    }
    ck_assert_int_eq(released, 40);
    ck_assert_msg(order_ok, "the clips came back out of order");
    EngineState st = state_of(e);
    printf("events: a ring of one event, 40 clips handed back in order after it was read again "
           "(events dropped %u, none of them buffers)\n", st.events_dropped);
    engine_free(e);
}
END_TEST

START_TEST(test_bad_arguments_and_apply_failures)
{
    Engine *e = make_engine();
    ck_assert_int_eq(engine_note_on(e, 0, 99, 1, 60, 1.0f), -1);         /* no such id */
    ck_assert_int_eq(engine_note_on(e, 0, 0, 1, 128, 1.0f), -1);
    ck_assert_int_eq(engine_set_tempo(e, 0, 0.0), -1);
    ck_assert_int_eq(engine_set_loop(e, 0, 1, 2.0, 1.0), -1);
    ck_assert_int_eq(engine_note_on(e, -1, 0, 1, 60, 1.0f), -1);
    /* Valid at the call, impossible when applied: reported, buffer back. */
    EngineNode *nd = node(e, &dc_desc);
    ck_assert_int_eq(engine_set_instrument(e, 0, 3, nd), 0);              /* track 3 does not exist */
    ck_assert_int_eq(engine_note_on(e, 0, 3, 1, 60, 1.0f), 0);
    render_to(e, 128);
    EngineState st = state_of(e);
    ck_assert_uint_eq(st.commands_refused, 5);
    ck_assert_uint_eq(st.commands_failed, 2);
    ck_assert_int_eq(events_of(ENGINE_EV_REFUSED), 2);
    ck_assert_int_eq(events_of(ENGINE_EV_NODE_RELEASED), 1);
    ck_assert_ptr_eq(find_event(ENGINE_EV_NODE_RELEASED)->ptr, nd);
    engine_free(e);
}
END_TEST

START_TEST(test_remove_track_hands_back)
{
    Engine *e = make_engine();
    EngineNode *inst = add_dc(e, 0, 0.5f);
    EngineNode *fx = node(e, &affine_desc);
    ck_assert_int_eq(engine_insert_add(e, 0, 0, 0, fx), 0);
    EngineLane *l = engine_lane_new(e, 1);
    l->points[0] = (EnginePoint){ .time = 0.0, .value = 0.5f };
    ck_assert_int_eq(engine_set_lane(e, 0, 0, 0, 0, 0, l), 0);
    ck_assert_int_eq(engine_add_track(e, 0, 1, ENGINE_TRACK_BUS), 0);
    ck_assert_int_eq(engine_set_send(e, 0, 0, 0, 1, 0.0f), 0);
    ck_assert_int_eq(engine_remove_track(e, 500, 1), 0);                  /* the bus: the send goes */
    ck_assert_int_eq(engine_remove_track(e, 1000, 0), 0);
    render_to(e, 1024);
    ck_assert_float_ne(out_l[999], 0.0f);
    ck_assert_int_eq(testutil_first_nonzero(out_l, 1000, 1024), -1);
    ck_assert_int_eq(events_of(ENGINE_EV_NODE_RELEASED), 2);
    ck_assert_int_eq(events_of(ENGINE_EV_LANE_RELEASED), 1);
    ck_assert(event_log[0].ptr == inst || event_log[1].ptr == inst);
    EngineState st = state_of(e);
    ck_assert_uint_eq(st.tracks[0].kind, 0);
    ck_assert_uint_eq(st.tracks[1].kind, 0);
    engine_free(e);
}
END_TEST

/* ---- state region ------------------------------------------------------------------------ */

static _Atomic int reader_stop;
static long torn_reads, good_reads;

static void *state_reader(void *arg)
{
    const EngineState *shared = arg;
    EngineState st;
    while (!atomic_load(&reader_stop)) {
        engine_state_read(shared, &st);
        /* Playing from 0 at one tempo: published together, always equal. */
        if (st.playhead != st.now || st.version != ENGINE_STATE_VERSION)
            torn_reads++;
        else
            good_reads++;
    }
    return NULL;
}

START_TEST(test_state_region_seqlock)
{
    Engine *e = make_engine();
    add_instrument(e, 0, &sine_desc);
    ck_assert_int_eq(engine_play(e, 0), 0);
    render_to(e, 128);
    pthread_t th;
    atomic_store(&reader_stop, 0);
    torn_reads = good_reads = 0;
    ck_assert_int_eq(pthread_create(&th, NULL, state_reader, (void *)engine_state(e)), 0);
    static float l[32], r[32];
    float *out[2] = { l, r };
    for (int i = 0; i < 200000; i++)
        engine_render(e, out, 32);
    atomic_store(&reader_stop, 1);
    pthread_join(th, NULL);
    ck_assert_int_eq(torn_reads, 0);
    ck_assert_int_gt(good_reads, 0);
    EngineState st = state_of(e);
    ck_assert_int_eq(st.now, 128 + 200000L * 32);
    ck_assert_uint_eq(st.size, sizeof(EngineState));
    ck_assert_uint_eq(st.seq % 2, 0);
    ck_assert_uint_gt(st.tracks[0].cpu_ns[0], 0);        /* the monotonic clock is on */
    printf("state region: %ld consistent reads during 200000 renders, cpu of a sine over 32 samples %u ns\n",
           good_reads, st.tracks[0].cpu_ns[0]);
    engine_free(e);
}
END_TEST

/* The control side on its own thread: 100000 param changes, the queue
 * often full (the producer then retries), the audio thread rendering all
 * along. Every change arrives, in order. */
#define CHANGES 100000
#define CHANGE_SCALE (1.0f / 32768.0f)   /* exact, and below the master's safety limit */

static Engine *queue_engine;
static long producer_retries;

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 1; i <= CHANGES; i++) {
        while (engine_set_param(queue_engine, i, 0, 0, 0, (float)i * CHANGE_SCALE) != 0) {
            producer_retries++;
            sched_yield();
        }
    }
    return NULL;
}

START_TEST(test_commands_from_another_thread)
{
    EngineConfig cfg;
    default_config(&cfg);
    cfg.queue_size = 64;
    Engine *e = queue_engine = make_engine_cfg(&cfg);
    add_dc(e, 0, 0.0f);
    static float l[64], r[64];
    float *out[2] = { l, r };
    engine_render(e, out, 64);
    producer_retries = 0;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, producer, NULL), 0);
    float last = 0.0f;
    long calls = 0;
    while (last < (float)CHANGES * CHANGE_SCALE && calls < 100000000L) {
        engine_render(e, out, 64);
        calls++;
        for (int i = 0; i < 64; i++) {
            ck_assert_msg(l[i] >= last, "went back from %g to %g", last, l[i]);
            last = l[i];
        }
    }
    pthread_join(th, NULL);
    ck_assert_float_eq(last, (float)CHANGES * CHANGE_SCALE);
    EngineState st = state_of(e);
    /* refusals are the producer's retries: counted, nothing lost */
    ck_assert_uint_eq(st.commands_refused, (uint32_t)producer_retries);
    printf("queue: %d commands through a 64-slot queue from another thread, %ld refusals retried, %ld renders\n",
           CHANGES, producer_retries, calls);
    engine_free(e);
}
END_TEST

/* ---- real-time rule ---------------------------------------------------------------------- */

START_TEST(test_no_allocation_while_rendering)
{
    if (!ALLOC_COUNTING)
        return;
    ck_assert_int_eq(alloc_count_probe(), 2);    /* the counter works */

    Engine *e = make_engine();
    EngineNode *poly = add_poly(e, 0);
    (void)poly;
    add_dc(e, 1, 0.1f);
    ck_assert_int_eq(engine_insert_add(e, 0, 1, 0, node(e, &affine_desc)), 0);
    ck_assert_int_eq(engine_add_track(e, 0, 2, ENGINE_TRACK_AUDIO), 0);
    ck_assert_int_eq(engine_add_track(e, 0, 3, ENGINE_TRACK_BUS), 0);
    ck_assert_int_eq(engine_set_send(e, 0, 0, 0, 3, -6.0f), 0);
    EngineSample *s = engine_sample_new(e, 2, 5000);
    for (int i = 0; i < 5000; i++)
        s->data[0][i] = s->data[1][i] = 0.1f;
    ck_assert_int_eq(engine_load_sample(e, 0, 0, s), 0);
    ck_assert_int_eq(engine_place_region(e, 0, 2, 0, 0, 0.5, 0, 0, 0.0f), 0);
    EngineClip *c = engine_clip_new(e, 24);
    for (int i = 0; i < 24; i++)
        c->notes[i] = (EngineNote){ .start = i * 0.25, .length = 0.3, .key = 48 + i, .vel = 0.7f };
    ck_assert_int_eq(engine_load_clip(e, 0, 0, c), 0);
    ck_assert_int_eq(engine_place_clip(e, 0, 0, 0, 0, 0.0, 6.0), 0);
    EngineLane *l = engine_lane_new(e, 3);
    l->points[0] = (EnginePoint){ .time = 0.0, .value = 0.0f };
    l->points[1] = (EnginePoint){ .time = 2.0, .value = 1.0f };
    l->points[2] = (EnginePoint){ .time = 4.0, .value = 0.2f };
    ck_assert_int_eq(engine_set_lane(e, 0, 0, 0, 0, FX_VOLUME, l), 0);
    ck_assert_int_eq(engine_set_loop(e, 0, 1, 0.0, 5.0), 0);
    ck_assert_int_eq(engine_play(e, 0), 0);
    ck_assert_int_eq(engine_add_tempo_change(e, 0, 3.0, 140.0), 0);
    ck_assert_int_eq(engine_set_voice_mode(e, 70000, 0, ENGINE_VOICE_LEGATO, ENGINE_PRIORITY_HIGH, 0.0f), 0);
    ck_assert_int_eq(engine_seek(e, 80000, 1.0), 0);
    ck_assert_int_eq(engine_note_on(e, 90000, 0, 5, 70, 1.0f), 0);
    ck_assert_int_eq(engine_set_solo(e, 95000, 1, 1), 0);
    ck_assert_int_eq(engine_stop(e, 110000), 0);
    alloc_counting = 1;
    render_to(e, LEN);
    alloc_counting = 0;
    ck_assert_int_eq(alloc_calls, 0);
    ck_assert_int_gt(testutil_last_nonzero(out_l, 0, LEN), 100000);
    engine_free(e);
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *acc = tcase_create("accuracy");
    tcase_add_test(acc, test_note_at_its_sample);
    tcase_add_test(acc, test_param_at_its_sample);
    tcase_add_test(acc, test_events_at_call_edges);
    suite_add_tcase(s, acc);
    TCase *mix = tcase_create("mixer");
    tcase_add_test(mix, test_gain_in_db);
    tcase_add_test(mix, test_fader_ramps_from_its_sample);
    tcase_add_test(mix, test_pan_law);
    tcase_add_test(mix, test_mute_solo_sends_buses);
    tcase_add_test(mix, test_bus_routing);
    tcase_add_test(mix, test_insert_chain);
    tcase_add_test(mix, test_meters);
    tcase_add_test(mix, test_audio_regions);
    tcase_add_test(mix, test_regions_fade_on_stop_and_seek);
    tcase_add_test(mix, test_regions_crossfade_at_loop_wrap);
    suite_add_tcase(s, mix);
    TCase *tr = tcase_create("transport");
    tcase_add_test(tr, test_clip_notes_in_beats);
    tcase_add_test(tr, test_stop_releases_and_holds_the_playhead);
    tcase_add_test(tr, test_seek_cuts_cleanly);
    tcase_add_test(tr, test_panic_cuts_at_its_sample);
    tcase_add_test(tr, test_loop_wraps_at_its_sample);
    tcase_add_test(tr, test_tempo_changes_at_their_sample);
    tcase_add_test(tr, test_metronome_clicks_on_the_beats);
    tcase_add_test(tr, test_looped_clip_equals_unrolled);
    tcase_add_test(tr, test_state_bar_and_beat);
    tcase_add_test(mix, test_clip_counters_hold);
    tcase_add_test(tr, test_automation_ramp_and_points);
    tcase_add_test(tr, test_automation_of_the_fader);
    tcase_add_test(tr, test_automation_step_in_samples);
    suite_add_tcase(s, tr);
    TCase *voices = tcase_create("voices");
    tcase_add_test(voices, test_mono_retriggers);
    tcase_add_test(voices, test_legato_does_not_retrigger);
    tcase_add_test(voices, test_legato_glide);
    tcase_add_test(voices, test_note_priorities);
    suite_add_tcase(s, voices);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_nan_is_muted_and_reset);
    tcase_add_test(limits, test_huge_insert_output_never_reaches_the_master);
    tcase_add_test(limits, test_nonfinite_instruments_are_named);
    tcase_add_test(limits, test_feedback_build_up_is_bounded);
    tcase_add_test(limits, test_node_pool_of_two);
    tcase_add_test(limits, test_clip_pool_and_ids);
    tcase_add_test(limits, test_full_queue_refuses_and_counts);
    tcase_add_test(limits, test_full_event_ring_loses_no_buffer);
    tcase_add_test(limits, test_bad_arguments_and_apply_failures);
    tcase_add_test(limits, test_remove_track_hands_back);
    tcase_set_timeout(limits, 120);
    suite_add_tcase(s, limits);
    TCase *rt = tcase_create("realtime");
    tcase_add_test(rt, test_state_region_seqlock);
    tcase_add_test(rt, test_commands_from_another_thread);
    tcase_add_test(rt, test_no_allocation_while_rendering);
    tcase_set_timeout(rt, 120);
    suite_add_tcase(s, rt);
    return s;
}

int main(void)
{
    /* Builds are cached in $AMP_CACHE; without it, in a temporary folder
     * removed at the end. */
    int own_cache = getenv("AMP_CACHE") == NULL;
    if (own_cache) {
        snprintf(tmp_cache, sizeof tmp_cache, "/tmp/check_engine_cache_XXXXXX");
        if (!mkdtemp(tmp_cache)) {
            perror("mkdtemp");
            return EXIT_FAILURE;
        }
        setenv("AMP_CACHE", tmp_cache, 1);
    }
    int rc = testutil_run(engine_suite());
    if (own_cache)
        testutil_remove_tree(tmp_cache);
    return rc;
}
