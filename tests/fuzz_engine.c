/* fuzz_engine.c — the libFuzzer harness of the engine's command stream
 * (issue 13: "a libFuzzer harness feeds random command streams, including
 * huge finite and non-finite values, to the engine").
 *
 * Each input is a program run on a fresh engine at one of the supported
 * rates (8, 44.1, 48, 96 or 192 kHz), with its command tables
 * (engine_commands.h) and these patches in stock:
 *   1 dc, 2 affine      tests/fixtures/engine_patches.c (a constant; in * mul + add)
 *   3 fixture_poly      tests/fixtures/fixture_poly.c (a polyphonic instrument)
 *   4 wild              below: writes its param as it is, squared, or NaN
 *                       when the param passes 1e30 (a patch gone bad)
 *   5 pad, 6 stereo_delay   nodes/pad.amp and nodes/stereo_delay.amp as
 *                       ampc emits them (built by tests/fuzz.mk)
 * Ops read from the input:
 *   a record built from commands.def's schema (cmd_info_at): a type, a
 *     time at or a little after the engine's, and each field at its
 *     minimum, its maximum, a value inside its range, a small id, a huge
 *     finite value (±3.4e38, ±1e30) or raw bits (NaN, infinities,
 *     anything), written into the command ring byte by byte;
 *   raw bytes written into the ring as a record;
 *   a set-up burst (a track, an instrument, an insert, notes) so that
 *     most inputs sound;
 *   render quanta: engine_drain_ring (the path of the browser's ring),
 *     engine_render of 128 frames, events polled and released, stocks
 *     refilled — the control side exactly as the worklet does.
 * After every quantum the master must be finite and within
 * ±ENGINE_MASTER_LIMIT, and the drain must not fail; anything else aborts
 * (a libFuzzer crash, the input saved as an artifact). ASan and UBSan
 * catch the rest.
 */
#include "amp_patch.h"
#include "commands.h"
#include "engine.h"
#include "engine_commands.h"
#include "ring.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures/engine_patches.c"
#include "fixtures/fixture_poly.c"

extern const AmpPatchDesc amp_pad_desc;
extern const AmpPatchDesc amp_stereo_delay_desc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- wild: a patch whose output is whatever its params make it --------- */

typedef struct WildState { float value, mode; } WildState;
static const AmpParamDesc wild_params[2] = {
    { "value", 0.0f, -3.40282347e38f, 3.40282347e38f, 0.0f, 0.0f, AMP_UNIT_NONE },
    { "mode", 0.0f, 0.0f, 2.0f, 1.0f, 0.0f, AMP_UNIT_NONE },
};
static void wild_init(void *s, float sr) { (void)sr; *(WildState *)s = (WildState){ 0.0f, 0.0f }; }
static void wild_reset(void *s) { (void)s; }
static void wild_set(void *s, int i, float v)
{
    if (i == 0)
        ((WildState *)s)->value = v;
    else
        ((WildState *)s)->mode = v;
}
static float wild_get(const void *s, int i)
{
    return i == 0 ? ((const WildState *)s)->value : ((const WildState *)s)->mode;
}
static void wild_process(void *state, int n, const float *const *in, float *const *out)
{
    (void)in;
    const WildState *s = state;
    volatile float zero = 0.0f;
    for (int i = 0; i < n; i++) {
        float v = s->value;
        if (s->mode >= 1.5f)
            v = fabsf(v) > 1e30f ? zero / zero : v;
        else if (s->mode >= 0.5f)
            v = v * v;                  /* overflows to +inf past 1.8e19 */
        out[0][i] = i & 1 ? -v : v;
        out[1][i] = v;
    }
}
static const AmpPatchDesc wild_desc = {
    .abi_version = AMP_ABI_VERSION, .name = "wild", .state_size = sizeof(WildState), .n_outputs = 2,
    .output_names = stereo_names, .n_params = 2, .params = wild_params, .json = "{}", .init = wild_init,
    .reset = wild_reset, .set_param = wild_set, .get_param = wild_get, .process = wild_process,
};

/* ---- the input, read as a program ------------------------------------------ */

typedef struct FuzzInput { const uint8_t *p; size_t n; } FuzzInput;

static uint8_t byte(FuzzInput *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static uint64_t bytes(FuzzInput *r, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++)
        v |= (uint64_t)byte(r) << (8 * i);
    return v;
}

#define QUANTUM 128
#define RING_CAPACITY (1u << 16)
#define MAX_OPS 512
#define MAX_QUANTA 256

typedef struct FuzzRig {
    Engine *e;
    EngineCommands *cx;
    void *ring;
    float rate;
    long quanta;
} FuzzRig;

static void check_master(FuzzRig *r, const float *l, const float *rr, int n)
{
    for (int i = 0; i < n; i++) {
        float a = l[i], b = rr[i];
        if (!(fabsf(a) <= ENGINE_MASTER_LIMIT) || !(fabsf(b) <= ENGINE_MASTER_LIMIT)) {
            fprintf(stderr, "fuzz-engine: the master is %g, %g at frame %lld (rate %g): beyond +-%g or not finite\n",
                    (double)a, (double)b, (long long)(engine_now(r->e) - n + i), (double)r->rate,
                    (double)ENGINE_MASTER_LIMIT);
            abort();
        }
    }
}

static int verbose = -1;     /* FUZZ_ENGINE_VERBOSE set: print the events (to see what an input does) */

static void control(FuzzRig *r)
{
    EngineEvent ev;
    if (verbose < 0)
        verbose = getenv("FUZZ_ENGINE_VERBOSE") != NULL;
    while (engine_poll(r->e, &ev)) {
        if (verbose)
            fprintf(stderr, "event kind %d track %d slot %d code %d at %lld\n", (int)ev.kind, (int)ev.track,
                    (int)ev.slot, (int)ev.code, (long long)ev.time);
        engine_release(r->e, &ev);
    }
    engine_commands_refill(r->cx, NULL, 0);
}

static void render_quanta(FuzzRig *r, int n)
{
    static float l[QUANTUM], rr[QUANTUM];
    for (int k = 0; k < n && r->quanta < MAX_QUANTA; k++, r->quanta++) {
        if (engine_drain_ring(r->e, r->ring, 4096) < 0) {
            fprintf(stderr, "fuzz-engine: engine_drain_ring failed\n");
            abort();
        }
        float *out[2] = { l, rr };
        engine_render(r->e, out, QUANTUM);
        check_master(r, l, rr, QUANTUM);
        control(r);
    }
}

static double pick_double(FuzzInput *in, const CmdField *f, int *raw_bits, uint64_t *raw)
{
    *raw_bits = 0;
    switch (byte(in) % 8) {
    case 0: return f->min;
    case 1: return f->max;
    case 2: case 3: {
        double u = (double)bytes(in, 4) / 4294967295.0;
        double v = f->min + (f->max - f->min) * u;
        return f->kind == CMD_FIELD_F32 || f->kind == CMD_FIELD_F64 ? v : floor(v);
    }
    case 4: return byte(in) % 4;      /* a small id: a track, slot, param, patch that exists */
    case 5: { static const double huge[] = { 3.4028234663852886e38, -3.4028234663852886e38, 1e30, -1e30,
                                            1e-45, -0.0, 65536.0, 1.8e19 };
              return huge[byte(in) % 8]; }
    default:
        *raw_bits = 1;
        *raw = bytes(in, 8);
        return 0;
    }
}

/* One record from the schema, into the ring. */
static void op_record(FuzzRig *r, FuzzInput *in)
{
    const CmdInfo *info = cmd_info_at(byte(in) % CMD_COUNT);
    if (!info)
        return;
    uint8_t rec[CMD_SIZE_MAX];
    memset(rec, 0, sizeof rec);
    int64_t time = engine_now(r->e) + (int64_t)(bytes(in, 2) % (8 * QUANTUM));
    if (byte(in) % 16 == 0)
        time = (int64_t)bytes(in, 8);   /* any time at all */
    uint32_t type = info->type;
    memcpy(rec, &type, 4);
    memcpy(rec + 8, &time, 8);
    for (uint32_t k = 0; k < info->field_count; k++) {
        const CmdField *f = &info->fields[k];
        int raw_bits;
        uint64_t raw;
        double v = pick_double(in, f, &raw_bits, &raw);
        uint8_t *dst = rec + f->offset;
        if (!raw_bits && f->kind != CMD_FIELD_F32 && f->kind != CMD_FIELD_F64) {
            /* an integer field: the value saturated into 64 bits, then cut
             * to the field's width (a huge float cast straight to a narrow
             * integer is undefined behaviour) */
            int64_t w = !(v == v) ? 0 : v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
            raw = (uint64_t)w;
            raw_bits = 1;
        }
        switch (f->kind) {
        case CMD_FIELD_U8: case CMD_FIELD_BOOL: { uint8_t x = raw_bits ? (uint8_t)raw : (uint8_t)v; memcpy(dst, &x, 1); break; }
        case CMD_FIELD_U16: { uint16_t x = raw_bits ? (uint16_t)raw : (uint16_t)v; memcpy(dst, &x, 2); break; }
        case CMD_FIELD_U32: { uint32_t x = raw_bits ? (uint32_t)raw : (uint32_t)v; memcpy(dst, &x, 4); break; }
        case CMD_FIELD_I32: { int32_t x = raw_bits ? (int32_t)(uint32_t)raw : (int32_t)v; memcpy(dst, &x, 4); break; }
        case CMD_FIELD_I64: { int64_t x = raw_bits ? (int64_t)raw : (int64_t)v; memcpy(dst, &x, 8); break; }
        case CMD_FIELD_F32: {
            float x = (float)v;
            if (raw_bits) { uint32_t b = (uint32_t)raw; memcpy(&x, &b, 4); }
            memcpy(dst, &x, 4);
            break;
        }
        case CMD_FIELD_F64: {
            double x = v;
            if (raw_bits) memcpy(&x, &raw, 8);
            memcpy(dst, &x, 8);
            break;
        }
        }
    }
    rb_write(r->ring, rec, info->size);
}

static void op_raw(FuzzRig *r, FuzzInput *in)
{
    uint8_t rec[256];
    uint32_t len = byte(in);
    for (uint32_t i = 0; i < len; i++)
        rec[i] = byte(in);
    rb_write(r->ring, rec, len);
}

#define SEND(r, name, ...) \
    do { \
        unsigned char rec_[CMD_SIZE_MAX]; \
        uint32_t len_ = cmd_encode_##name(rec_, sizeof rec_, __VA_ARGS__); \
        if (len_) \
            rb_write((r)->ring, rec_, len_); \
    } while (0)

/* A track that sounds: an instrument, maybe an insert, notes. */
static void op_setup(FuzzRig *r, FuzzInput *in)
{
    int64_t t = engine_now(r->e);
    uint32_t track = byte(in) % 4;
    static const uint32_t instruments[] = { 1, 3, 4, 5 };
    SEND(r, add_track, t, track, CMD_TRACK_INSTRUMENT);
    SEND(r, set_instrument, t, track, instruments[byte(in) % 4]);
    if (byte(in) & 1) {
        static const uint32_t inserts[] = { 2, 6 };
        SEND(r, add_insert, t, track, 1, inserts[byte(in) % 2]);
    }
    for (int k = 0, n = byte(in) % 8; k < n; k++)
        SEND(r, note_on, t + byte(in), track, (uint32_t)k, (uint8_t)(byte(in) % 128), (float)(byte(in) % 2));
    SEND(r, play, t);
}

static int make_rig(FuzzRig *r, float rate)
{
    memset(r, 0, sizeof *r);
    EngineConfig cfg;
    engine_config_default(&cfg, rate);
    cfg.max_tracks = 4;
    cfg.max_inserts = 2;
    cfg.max_sends = 2;
    cfg.max_nodes = 48;
    cfg.state_bytes = 24u << 20;
    cfg.clip_bytes = 1u << 20;
    cfg.sample_bytes = 1u << 20;
    cfg.lane_bytes = 1u << 20;
    cfg.max_clips = 8;
    cfg.max_samples = 2;
    cfg.max_placements = 4;
    cfg.max_regions = 4;
    cfg.max_lanes = 4;
    cfg.max_tempo_points = 8;
    cfg.queue_size = 1024;
    cfg.max_block = QUANTUM;
    char err[300];
    r->rate = rate;
    r->e = engine_init(&cfg, err, sizeof err);
    if (!r->e) {
        fprintf(stderr, "fuzz-engine: engine_init: %s\n", err);
        abort();
    }
    EngineCommandsConfig ccfg;
    engine_commands_config_default(&ccfg);
    ccfg.max_patches = 8;
    ccfg.max_stock = 2;
    ccfg.clip_handles = ccfg.sample_handles = ccfg.lane_handles = 4;
    ccfg.wait_limit = 4;
    ccfg.max_ahead_seconds = 10.0;
    ccfg.block_stock = 2;
    r->cx = engine_commands_new(r->e, &ccfg, err, sizeof err);
    if (!r->cx) {
        fprintf(stderr, "fuzz-engine: engine_commands_new: %s\n", err);
        abort();
    }
    const AmpPatchDesc *patches[] = { &dc_desc, &affine_desc, &amp_fixture_poly_desc, &wild_desc, &amp_pad_desc,
                                      &amp_stereo_delay_desc };
    for (uint32_t i = 0; i < 6; i++)
        if (engine_commands_set_patch(r->cx, i + 1, patches[i], i < 4 ? 2 : 1, err, sizeof err)) {
            fprintf(stderr, "fuzz-engine: set_patch %u: %s\n", i + 1, err);
            abort();
        }
    r->ring = aligned_alloc(RB_ALIGN, rb_bytes_needed(RING_CAPACITY));
    if (!r->ring || !rb_init(r->ring, RING_CAPACITY))
        abort();
    return 0;
}

static void free_rig(FuzzRig *r)
{
    engine_commands_free(r->cx);
    engine_free(r->e);
    free(r->ring);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const float rates[] = { 8000, 44100, 48000, 96000, 192000 };
    FuzzInput in = { data, size };
    FuzzRig r;
    make_rig(&r, rates[byte(&in) % 5]);
    for (int ops = 0; in.n && ops < MAX_OPS; ops++) {
        uint8_t op = byte(&in);
        switch (op % 8) {
        case 0: case 1: case 2: case 3: op_record(&r, &in); break;
        case 4: op_raw(&r, &in); break;
        case 5: op_setup(&r, &in); break;
        default: render_quanta(&r, 1 + byte(&in) % 8); break;
        }
    }
    render_quanta(&r, 8);
    free_rig(&r);
    return 0;
}
