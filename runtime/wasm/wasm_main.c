/* wasm_main.c — the entry points of engine.wasm, the engine the browser runs.
 *
 * engine.wasm is this file, the engine (engine_*.c: tracks, inserts, faders,
 * sends, buses, transport, automation, meters, the state region), its
 * command-ring consumer (engine_commands.c: commands -> engine calls, node
 * stocks, parked buffers), the runtime it needs (voice.c, ring.c,
 * commands.c, pool.c) and every patch of nodes/, compiled by emscripten
 * over one shared, imported, fixed-size WebAssembly.Memory (web/web.mk).
 * The browser and the native `amp render PROJECT.json` run the same engine.
 *
 * The AudioWorklet instantiates the module and, per 128-frame render
 * quantum, calls amp_process() (commands in, audio out) and then
 * amp_refill() (the control side: freeing what the engine handed back,
 * making ready nodes). The export worker runs the same module with no
 * AudioContext, faster than real time, and sends its notes through the
 * same command ring (web/src/engine/render.ts). The main thread never runs the
 * module: it only writes the command ring and reads the state region, both
 * in the shared memory, at the addresses amp_command_ring() and
 * amp_state_region() return.
 *
 * ---- The page's engine ----------------------------------------------------
 *
 * amp_init_sized(rate, limits) makes an engine (engine_init, sized by
 * browser_config below from the limits: a JSON object of AmpLimits'
 * fields, see limits_read; absent fields keep amp_init's sizes) and
 * amp_init(rate) one of the fixed sizes of before (64 MiB of memory). Either
 * makes an engine and
 * its command tables (engine_commands_new), registers every patch of the
 * registry under patch id index + 1 with a stock of NODE_STOCK ready nodes
 * (engine_commands_set_patch: made now, from the engine's pools), and adds
 * track 0, an instrument track with no instrument yet, to the master. The
 * page then speaks commands (commands.def) through the ring:
 * set_instrument(track 0, index + 1) takes a ready node of that patch,
 * note_on / note_off / set_param(track 0, slot 0, ...) play it; every other
 * command (tracks, inserts, mixer, transport, clips, samples, regions,
 * automation) is the engine's as engine_commands.h maps it.
 *
 * Unity gain: the engine's pan law takes 3 dB off both sides of a centred
 * track (engine.h: "a stereo track is panned as a balance"). So that the
 * page's one instrument sounds exactly as the patch renders it, track 0's
 * fader starts at UNITY_GAIN_DB, the gain whose linear value times the
 * law's centre gain (0.70710677f in engine_render.c) is 1.0f exactly: a stereo
 * patch passes bit for bit (tests/web/parity.mjs checks it against the
 * native engine). amp_unity_gain_db() tells the page, whose 0 dB it is.
 *
 * ---- Time ------------------------------------------------------------------
 *
 * The engine counts samples from engine_init. The page stamps commands in
 * the AudioContext's frames: the worklet calls amp_set_time(currentFrame)
 * before its first quantum and whenever the context's clock jumps (skipped
 * quanta), which sets `offset` = context frame - engine time. Everything
 * this file shows the page is in context frames ("engine time" in the
 * page's words): amp_time(), the state region's `now`.
 *
 * A command waits here, in a fixed-size queue, until the quantum that holds
 * its time; then it goes to engine_apply_command with its time moved to
 * the engine's clock (a time already past: the quantum's first sample),
 * and the engine applies it at that sample (engine_render cuts the quantum
 * there). Commands of one quantum reach the engine sorted by time, and by
 * arrival at equal times. Holding them here rather than handing every
 * record to the engine's own queue at once (engine_drain_ring) keeps the
 * clock translation at the moment of use, lets the state region say when
 * each command took effect (commands_applied, command_hash, pending), and
 * keeps the engine's queue for one quantum's commands.
 *
 * ---- Threads ------------------------------------------------------------------
 *
 * amp_init runs once, before anything else, on the thread that then owns
 * the engine (the worklet's audio thread, or the worker); every other
 * export runs on that same thread, which holds both of the engine's roles:
 *   audio    amp_process (drain the ring, apply due commands, engine_render,
 *            publish the state region). Real-time safe: nothing allocates,
 *            locks or does I/O.
 *   control  amp_refill (engine_drain + engine_commands_refill), amp_select,
 *            amp_sample_new / amp_sample_park, amp_param_now, amp_settle.
 *            These take patch states, nodes and samples from the engine's
 *            pools (fixed at engine_init) and run a patch's init(); they
 *            never call malloc. The worklet calls amp_refill after each
 *            quantum, outside amp_process.
 * The page's main thread produces into the command ring and reads the state
 * region (seqlock below); it never calls in here.
 */
#include <math.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amp_math.h"
#include "amp_patch.h"
#include "commands.h"
#include "engine.h"
#include "engine_commands.h"
#include "json.h"
#include "project_resolve.h"
#include "ring.h"
#include "wav.h"
#include "wasm_modules.h"

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define ENGINE_CHANNELS  2            /* the worklet's output: stereo */
#define ENGINE_QUANTUM   128          /* most frames one amp_process() renders */
#define RING_CAPACITY    (64u * 1024u) /* command ring data bytes (amp_init): ~2000 notes */
#define PENDING_MAX      256          /* commands waiting for their time */
#define WAIT_LIMIT       1024         /* quanta a command may wait for a ready node */
#define ERROR_BYTES      256
#define PAGE_TRACK       0            /* the page's instrument track */

/* The memory budget (web.mk: WEB_MEMORY_PAGES, 64 MiB, fixed). Patch states
 * come from the engine's state pool, sized from the registry: NODE_STOCK
 * ready nodes of every patch, plus STATE_SETS_EXTRA more of each for the
 * ones playing (a node taken from a stock is replaced at the next refill,
 * and the one it replaced is freed there). For the patches of nodes/
 * today (6.7 MB a set) that is about 27 MB. Samples get SAMPLE_POOL_BYTES
 * (about 43 s of stereo at 48 kHz), clips and lanes a little; the tables
 * of 64 tracks about 1 MB. */
#define NODE_STOCK        2
#define STATE_SETS_EXTRA  2
#define SAMPLE_POOL_BYTES ((size_t)16 << 20)
#define CLIP_POOL_BYTES   ((size_t)1 << 20)
#define LANE_POOL_BYTES   ((size_t)256 << 10)

/* UNITY_GAIN_DB: amp_db2linf(3.0103004f) = 1.41421366f, and 1.41421366f *
 * 0.70710677f rounds to 1.0f (so do its float neighbours from 3.0103002f
 * to 3.0103009f; this one is inside that range). */
#define UNITY_GAIN_DB  3.0103005f
#define PAN_LAW_CENTRE 0.70710677f    /* engine_render.c's centre gain, for the check at init */

/* The patches of nodes/, generated by web/gen_patches.sh (registry.c). */
extern const AmpPatchDesc *const amp_registry[];
extern const int amp_registry_count;

/* The exports, as JavaScript sees them (web/src/engine/layout.ts,
 * EngineExports). Pointers are byte addresses in the shared memory. */
EXPORT("amp_init") int amp_init(float sample_rate);      /* once, first (or amp_init_sized) */
EXPORT("amp_init_sized") int amp_init_sized(float sample_rate, const char *limits, int length);
EXPORT("amp_limits_json") const char *amp_limits_json(void);
EXPORT("amp_heap_end") double amp_heap_end(void);
EXPORT("amp_state_block_bytes") double amp_state_block_bytes(int index);
EXPORT("amp_clip_block_bytes") double amp_clip_block_bytes(int notes);
EXPORT("amp_lane_block_bytes") double amp_lane_block_bytes(int points);
EXPORT("amp_sample_block_bytes") double amp_sample_block_bytes(int channels, double frames);
EXPORT("amp_error") const char *amp_error(void);          /* why a call failed */
EXPORT("amp_command_ring") void *amp_command_ring(void);  /* ring.h layout */
EXPORT("amp_state_region") void *amp_state_region(void);  /* AmpState */
EXPORT("amp_output") float *amp_output(int channel);      /* 128 floats; channel 0 or 1 */
EXPORT("amp_scratch") char *amp_scratch(void);            /* 256 bytes for a name */
EXPORT("amp_registry_json") const char *amp_registry_json(void);
EXPORT("amp_registry_count") int amp_registry_size(void);
EXPORT("amp_unity_gain_db") float amp_unity_gain_db(void);
EXPORT("amp_select") int amp_select(int index);
EXPORT("amp_select_name") int amp_select_name(void);
EXPORT("amp_param_now") int amp_param_now(int param, float value);
EXPORT("amp_settle") int amp_settle(void);
EXPORT("amp_set_time") void amp_set_time(double frames);
EXPORT("amp_time") double amp_time(void);
EXPORT("amp_process") int amp_process(int frames);
EXPORT("amp_refill") int amp_refill(void);
EXPORT("amp_sample_new") void *amp_sample_new(int channels, double frames);
EXPORT("amp_sample_data") float *amp_sample_data(void *sample, int channel);
EXPORT("amp_sample_park") double amp_sample_park(void *sample);
EXPORT("amp_sample_wav") double amp_sample_wav(const void *bytes, double length);
EXPORT("amp_sample_wav_frames") double amp_sample_wav_frames(void);
EXPORT("amp_sample_wav_channels") int amp_sample_wav_channels(void);

/* ---- the state region ----------------------------------------------------
 *
 * What the page reads: struct AmpState (layout.def, which pins every
 * offset and prints them for web/src as $(B)/gen/web/layout.ts): the
 * engine's own region (struct EngineState of engine.h, byte for byte, at
 * offset 0), then this file's fields (struct AmpHost). After every quantum
 * the engine's region is copied in (engine_state_read) with `now` moved to
 * the context's clock, and the host fields are written, all under one
 * seqlock: EngineState's `seq` (offset 0) is odd while a quantum's values
 * are being written, and the page rereads when it was odd or changed
 * during its read. cpu_load belongs to the worklet, which measures the
 * time around amp_process + amp_refill (the engine's clock hook is not set
 * under emscripten: its cpu_ns stay 0). */
_Static_assert(sizeof(_Atomic uint32_t) == 4, "JavaScript sees seq as one word");

/* A command waiting for its time; `order` keeps arrival order among
 * commands stamped with the same time. Times are the page's (context
 * frames). */
typedef struct Pending {
    Command cmd;
    uint32_t order;
} Pending;

typedef struct Host {
    int ready;
    float sample_rate;
    Engine *engine;
    EngineCommands *tables;
    int64_t offset;               /* context frame - engine time */
    void *ring;                   /* the command ring, RB_ALIGN-aligned */
    Pending pending[PENDING_MAX]; /* waiting, in arrival order */
    int n_pending;
    uint32_t arrivals;            /* order of the next arrival */
    Pending due[PENDING_MAX];     /* this quantum's, sorted by (time, order) */
    uint32_t waited;              /* quanta the first due command has waited for a node */
    EngineNode *staged;           /* amp_select's node, handed to track 0 at the next quantum */
    int staged_index;
    char *registry_json;          /* "[" every patch's metadata "]" */
    char limits_json[512];        /* amp_limits_json() */
} Host;

static Host host = { .staged_index = -1 };
static alignas(64) AmpState state;
static EngineState engine_copy;   /* the engine's region, read after each quantum */
static alignas(16) float outputs[ENGINE_CHANNELS][ENGINE_QUANTUM];
static char scratch[256];
static char error[ERROR_BYTES];

static void set_error(const char *message)
{
    strncpy(error, message, ERROR_BYTES - 1);
    error[ERROR_BYTES - 1] = '\0';
}

/* ---- the state region --------------------------------------------------- */

static _Atomic uint32_t *state_seq(void)
{
    return (_Atomic uint32_t *)(void *)&state.engine.seq;
}

static void state_begin(void)
{
    _Atomic uint32_t *seq = state_seq();
    uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);
    /* Relaxed store, then a release fence: the odd value is visible before
     * any of the field stores that follow. */
    atomic_store_explicit(seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void state_end(void)
{
    _Atomic uint32_t *seq = state_seq();
    uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);
    /* Release: the fields written since state_begin are visible before the
     * even value that says they are complete. */
    atomic_store_explicit(seq, s + 1, memory_order_release);
}

/* The engine's region (read on the thread that rendered it, so complete)
 * into ours, every word but seq, with `now` on the context's clock. Call
 * between state_begin and state_end. */
static void state_copy_engine(void)
{
    engine_state_read(engine_state(host.engine), &engine_copy);
    memcpy((unsigned char *)&state.engine + sizeof(uint32_t),
           (const unsigned char *)&engine_copy + sizeof(uint32_t), sizeof(EngineState) - sizeof(uint32_t));
    state.engine.now = engine_copy.now + host.offset;
    state.host.engine_now = engine_copy.now;
}

static uint32_t fnv1a(uint32_t h, const unsigned char *bytes, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ bytes[i]) * 16777619u;
    return h;
}

#define FNV_OFFSET 2166136261u

/* ---- the queue of commands ---------------------------------------------- */

static int enqueue(const Command *c)
{
    if (host.n_pending == PENDING_MAX)
        return -1;
    Pending *p = &host.pending[host.n_pending++];
    p->cmd = *c;
    p->order = host.arrivals++;
    return 0;
}

/* Move what the page has written into the queue, while there is room. */
static void drain_ring(void)
{
    _Alignas(8) unsigned char record[CMD_SIZE_MAX];
    while (host.n_pending < PENDING_MAX) {
        int32_t len = rb_read(host.ring, record, sizeof record);
        if (len == RB_EMPTY)
            return;
        if (len == RB_CORRUPT) {
            state.host.ring_errors++;
            return;
        }
        if (len == RB_TOO_SMALL) {      /* longer than any command */
            rb_skip(host.ring);
            state.host.commands_rejected++;
            continue;
        }
        Command c;
        if (cmd_decode(record, (uint32_t)len, &c) != CMD_OK) {
            state.host.commands_rejected++;
            continue;
        }
        enqueue(&c);
    }
}

/* Move the commands due before context frame `end` from the queue to
 * host.due, sorted by time and, at equal times, by arrival (insertion sort:
 * stable, and the queue is short and mostly in order). Returns how many. */
static int take_due(int64_t end)
{
    int n_due = 0, kept = 0;
    for (int i = 0; i < host.n_pending; i++) {
        const Pending *p = &host.pending[i];
        if (p->cmd.header.time >= end) {
            host.pending[kept++] = *p;
            continue;
        }
        int j = n_due++;
        while (j > 0 && (host.due[j - 1].cmd.header.time > p->cmd.header.time ||
                         (host.due[j - 1].cmd.header.time == p->cmd.header.time &&
                          host.due[j - 1].order > p->order))) {
            host.due[j] = host.due[j - 1];
            j--;
        }
        host.due[j] = *p;
    }
    host.n_pending = kept;
    return n_due;
}

/* Hand this quantum's due commands to the command tables, each at its
 * sample on the engine's clock. A set_instrument / add_insert whose patch
 * has no ready node (a burst larger than the stock) stops the hand-over:
 * it and the commands after it go back to the queue, in order, and are
 * tried again at the next quantum, after amp_refill; after WAIT_LIMIT
 * quanta it is refused. */
static void apply_due(int n_due)
{
    int64_t now = engine_now(host.engine);
    for (int i = 0; i < n_due; i++) {
        const Pending *p = &host.due[i];
        Command c = p->cmd;
        int64_t t = c.header.time - host.offset;
        c.header.time = t > now ? t : now;
        int rc = engine_apply_command(host.engine, &c);
        if (rc == ENGINE_COMMANDS_RETRY && ++host.waited <= WAIT_LIMIT) {
            state.host.waits++;
            /* Back to the queue, which has room: they all came from it. */
            for (int k = i; k < n_due; k++)
                host.pending[host.n_pending++] = host.due[k];
            return;
        }
        host.waited = 0;
        unsigned char bytes[CMD_SIZE_MAX];
        uint32_t len = cmd_encode(&p->cmd, bytes, sizeof bytes);
        state.host.command_hash = fnv1a(state.host.command_hash, bytes, len);
        state.host.commands_applied++;
        if (rc != 0)
            state.host.commands_refused++;
        else if (c.header.type == CMD_SET_INSTRUMENT && c.set_instrument.track == PAGE_TRACK)
            state.host.patch = (int32_t)c.set_instrument.patch - 1;
    }
}

/* amp_select's node goes to track 0 at the start of this quantum. */
static void hand_in_staged(void)
{
    if (!host.staged)
        return;
    if (engine_set_instrument(host.engine, engine_now(host.engine), PAGE_TRACK, host.staged) == 0)
        state.host.patch = host.staged_index;
    else
        engine_node_free(host.engine, host.staged);
    host.staged = NULL;
    host.staged_index = -1;
}

/* ---- set-up ------------------------------------------------------------------ */

/* What the page's engine is sized for (amp_init_sized's JSON, by these
 * names; web/src/engine/limits.ts EngineLimits): tables (tracks, clip
 * ids, placements per track, sample ids, regions and lanes per track,
 * nodes alive) and pools (bytes of clip notes, samples, breakpoints, patch
 * states; the command ring). */
typedef struct AmpLimits {
    double tracks, clips, placements_per_track, samples, regions_per_track, lanes_per_track, nodes;
    double clip_bytes, sample_bytes, lane_bytes, state_bytes, ring_bytes;
} AmpLimits;

static const struct {
    const char *name;
    size_t offset;
    double lo, hi;
} limit_fields[] = {
#define LIMIT(name, field, lo, hi) { name, offsetof(AmpLimits, field), lo, hi }
    LIMIT("tracks", tracks, 1, ENGINE_MAX_TRACKS),
    LIMIT("clips", clips, 1, 1 << 24),
    LIMIT("placementsPerTrack", placements_per_track, 1, 1 << 16),
    LIMIT("samples", samples, 1, 1 << 20),
    LIMIT("regionsPerTrack", regions_per_track, 1, 1 << 16),
    LIMIT("lanesPerTrack", lanes_per_track, 1, 1 << 12),
    LIMIT("nodes", nodes, 1, 1 << 20),
    LIMIT("clipBytes", clip_bytes, 0, 1u << 31),
    LIMIT("sampleBytes", sample_bytes, 0, 1u << 31),
    LIMIT("laneBytes", lane_bytes, 0, 1u << 31),
    LIMIT("stateBytes", state_bytes, 0, 1u << 31),
    LIMIT("ringBytes", ring_bytes, 1024, 1 << 26),
#undef LIMIT
};

static size_t round64(size_t n)
{
    return (n + 63) / 64 * 64;
}

/* A block of `bytes` in one of the engine's heaps: rounded to 64 bytes,
 * plus the heap's 64-byte header (as project_feed.c counts them). */
static size_t heap_block(size_t bytes)
{
    return round64(bytes) + 64;
}

/* A patch state's block in the engine's state heap. */
static size_t state_block(const AmpPatchDesc *d)
{
    return heap_block(d->state_size);
}

/* amp_init's sizes: NODE_STOCK ready nodes of every patch and
 * STATE_SETS_EXTRA more sets for the ones playing, the pools above. */
static void default_limits(AmpLimits *l)
{
    size_t set = 0;
    for (int i = 0; i < amp_registry_count; i++)
        set += state_block(amp_registry[i]);
    *l = (AmpLimits){
        .tracks = ENGINE_MAX_TRACKS, .clips = 256, .placements_per_track = 64, .samples = 64,
        .regions_per_track = 64, .lanes_per_track = 16,
        .nodes = ENGINE_MAX_TRACKS * ENGINE_MAX_SLOTS + amp_registry_count * NODE_STOCK,
        .clip_bytes = CLIP_POOL_BYTES, .sample_bytes = SAMPLE_POOL_BYTES, .lane_bytes = LANE_POOL_BYTES,
        .state_bytes = (double)(set * (NODE_STOCK + STATE_SETS_EXTRA) + ((size_t)64 << 10)),
        .ring_bytes = RING_CAPACITY,
    };
}

/* The limits of `text` over amp_init's: whole numbers in range, no
 * unknown name. 0, or -1 with a message in err. */
static int limits_read(const char *text, size_t len, AmpLimits *l, char *err, size_t errlen)
{
    default_limits(l);
    JvError jerr;
    JvDoc *doc = jv_parse(text, len, NULL, &jerr);
    if (!doc) {
        snprintf(err, errlen, "limits:%d:%d: %s", jerr.line, jerr.column, jerr.text);
        return -1;
    }
    JvValue *root = jv_root(doc);
    const char *key;
    JvValue *value;
    int rc = jv_is_object(root) ? 0 : -1;
    if (rc)
        snprintf(err, errlen, "limits: expected an object");
    jv_object_foreach(root, key, value) {
        if (rc)
            break;
        int k = -1;
        for (int i = 0; i < (int)(sizeof limit_fields / sizeof limit_fields[0]); i++)
            if (!strcmp(limit_fields[i].name, key))
                k = i;
        if (k < 0) {
            snprintf(err, errlen, "limits: unknown field \"%s\"", key);
            rc = -1;
            break;
        }
        double x = jv_number_value(value);
        if (!jv_is_number(value) || x != floor(x) || x < limit_fields[k].lo || x > limit_fields[k].hi) {
            snprintf(err, errlen, "limits.%s: expected a whole number from %.0f to %.0f", key, limit_fields[k].lo,
                     limit_fields[k].hi);
            rc = -1;
            break;
        }
        *(double *)((char *)l + limit_fields[k].offset) = x;
    }
    jv_free(doc);
    uint32_t ring = (uint32_t)l->ring_bytes;
    if (!rc && (ring & (ring - 1))) {
        snprintf(err, errlen, "limits.ringBytes: %u is not a power of two", ring);
        rc = -1;
    }
    return rc;
}

/* The engine's sizes in the browser: 128-frame steps (the quantum), the
 * engine's full insert count, tables and pools from the limits. */
static void browser_config(EngineConfig *cfg, float sample_rate, const AmpLimits *l)
{
    engine_config_default(cfg, sample_rate);   /* no clock under emscripten */
    cfg->max_block = ENGINE_QUANTUM;
    cfg->max_tracks = (int)l->tracks;
    cfg->max_inserts = ENGINE_MAX_INSERTS;
    cfg->max_sends = 8;
    cfg->max_nodes = (int)l->nodes;
    cfg->state_bytes = (size_t)l->state_bytes;
    cfg->max_clips = (int)l->clips;
    cfg->max_placements = (int)l->placements_per_track;
    cfg->clip_bytes = (size_t)l->clip_bytes;
    cfg->max_clip_notes = 128;
    cfg->max_samples = (int)l->samples;
    cfg->max_regions = (int)l->regions_per_track;
    cfg->sample_bytes = (size_t)l->sample_bytes;
    cfg->max_lanes = (int)l->lanes_per_track;
    cfg->lane_bytes = (size_t)l->lane_bytes;
    cfg->max_tempo_points = 64;
    cfg->queue_size = 2 * PENDING_MAX;
    cfg->event_ring_bytes = 1 << 16;
    cfg->clock = NULL;
}

static void limits_write(const AmpLimits *l)
{
    int n = 0;
    char *s = host.limits_json;
    size_t cap = sizeof host.limits_json;
    n += snprintf(s + n, cap - (size_t)n, "{");
    for (int i = 0; i < (int)(sizeof limit_fields / sizeof limit_fields[0]) && (size_t)n < cap; i++)
        n += snprintf(s + n, cap - (size_t)n, "%s\"%s\": %.0f", i ? ", " : "", limit_fields[i].name,
                      *(const double *)((const char *)l + limit_fields[i].offset));
    if ((size_t)n < cap)
        snprintf(s + n, cap - (size_t)n, "}");
}

/* Lay everything out: the ring, the registry's JSON, the engine, its
 * command tables, NODE_STOCK ready nodes of every patch, track 0. Returns
 * 0, or -1 with a message at amp_error(). Allocates; call once. */
static int init_with(float sample_rate, const AmpLimits *l)
{
    char err[ERROR_BYTES];
    if (host.ready) {
        set_error("amp_init called twice");
        return -1;
    }
    if (amp_db2linf(UNITY_GAIN_DB) * PAN_LAW_CENTRE != 1.0f) {
        set_error("UNITY_GAIN_DB does not make the centred pan law unity");
        return -1;
    }
    host.sample_rate = sample_rate;
    uint32_t ring_bytes = (uint32_t)l->ring_bytes;
    host.ring = aligned_alloc(RB_ALIGN, rb_bytes_needed(ring_bytes));
    size_t json_bytes = 3;
    for (int i = 0; i < amp_registry_count; i++)
        json_bytes += strlen(amp_registry[i]->json) + 1;
    host.registry_json = malloc(json_bytes);
    if (!host.ring || !host.registry_json) {
        set_error("out of memory laying out the engine");
        return -1;
    }
    rb_init(host.ring, ring_bytes);

    char *j = host.registry_json;
    *j++ = '[';
    for (int i = 0; i < amp_registry_count; i++) {
        if (i)
            *j++ = ',';
        size_t n = strlen(amp_registry[i]->json);
        memcpy(j, amp_registry[i]->json, n);
        j += n;
    }
    *j++ = ']';
    *j = '\0';

    EngineConfig cfg;
    browser_config(&cfg, sample_rate, l);
    cfg.state_bytes += AMP_MODULE_STATE_BYTES;             /* patch modules (wasm_modules.c) */
    cfg.max_nodes += AMP_MODULE_MAX * NODE_STOCK;
    host.engine = engine_init(&cfg, err, sizeof err);
    if (!host.engine) {
        set_error(err);
        return -1;
    }
    EngineCommandsConfig ccfg;
    engine_commands_config_default(&ccfg);
    ccfg.max_patches = (uint32_t)amp_registry_count + AMP_MODULE_MAX;
    ccfg.max_stock = NODE_STOCK;
    ccfg.clip_handles = (uint32_t)l->clips;
    ccfg.sample_handles = (uint32_t)l->samples;
    ccfg.lane_handles = (uint32_t)(l->tracks * l->lanes_per_track);
    host.tables = engine_commands_new(host.engine, &ccfg, err, sizeof err);
    if (!host.tables) {
        set_error(err);
        return -1;
    }
    for (int i = 0; i < amp_registry_count; i++)
        if (engine_commands_set_patch(host.tables, (uint32_t)i + 1, amp_registry[i], NODE_STOCK, err, sizeof err)) {
            set_error(err);
            return -1;
        }
    if (amp_modules_attach(host.tables, (uint32_t)amp_registry_count + 1, NODE_STOCK)) {
        set_error(amp_module_error());
        return -1;
    }
    if (engine_add_track(host.engine, 0, PAGE_TRACK, ENGINE_TRACK_INSTRUMENT) ||
        engine_set_gain(host.engine, 0, PAGE_TRACK, UNITY_GAIN_DB)) {
        set_error("the engine refused track 0");
        return -1;
    }

    memset(&state, 0, sizeof state);
    engine_state_read(engine_state(host.engine), &state.engine);
    atomic_store_explicit(state_seq(), 0, memory_order_relaxed);
    state.host.magic = AMP_HOST_MAGIC;     /* layout.def */
    state.host.version = AMP_HOST_VERSION;
    state.host.patch = -1;
    state.host.command_hash = FNV_OFFSET;
    limits_write(l);
    host.ready = 1;
    return 0;
}

int amp_init(float sample_rate)
{
    AmpLimits l;
    default_limits(&l);
    return init_with(sample_rate, &l);
}

/* The engine sized for the limits in `limits` (JSON, `length` bytes: see
 * AmpLimits; absent fields keep amp_init's). The memory should hold them:
 * web/src/engine/limits.ts memoryPagesFor. */
int amp_init_sized(float sample_rate, const char *limits, int length)
{
    AmpLimits l;
    char err[ERROR_BYTES];
    if (length < 0 || (length > 0 && !limits) || limits_read(limits, (size_t)length, &l, err, sizeof err)) {
        set_error(length < 0 || (length > 0 && !limits) ? "amp_init_sized: no limits" : err);
        return -1;
    }
    return init_with(sample_rate, &l);
}

/* The limits in effect, as amp_init_sized reads them; "{}" before init. */
const char *amp_limits_json(void)
{
    return host.ready ? host.limits_json : "{}";
}

/* The end of the module's heap (its highest address in use), for the
 * build's memory model (web/memory_model.mjs). */
double amp_heap_end(void)
{
    return (double)(uintptr_t)sbrk(0);
}

/* The heap blocks the page's data takes, for the build's memory model
 * (web/memory_model.mjs writes them into engine.json, so that
 * web/src/engine/limits.ts sizes pools without knowing a C struct): a
 * patch state of registry entry `index`, a clip of `notes` notes, a lane
 * of `points` breakpoints, a sample (as project_feed.c sizes one). */
double amp_state_block_bytes(int index)
{
    return index >= 0 && index < amp_registry_count ? (double)state_block(amp_registry[index]) : -1.0;
}

double amp_clip_block_bytes(int notes)
{
    return notes < 0 ? -1.0 : (double)heap_block(sizeof(EngineClip) + (size_t)notes * sizeof(EngineNote));
}

double amp_lane_block_bytes(int points)
{
    return points < 0 ? -1.0 : (double)heap_block(sizeof(EngineLane) + (size_t)points * sizeof(EnginePoint));
}

double amp_sample_block_bytes(int channels, double frames)
{
    if (channels < 1 || channels > ENGINE_MAX_CHANNELS || !(frames >= 0 && frames < 2.0e9))
        return -1.0;
    return (double)heap_block(64 + (size_t)channels * heap_block((size_t)frames * sizeof(float)));
}

const char *amp_error(void) { return error; }
void *amp_command_ring(void) { return host.ring; }
void *amp_state_region(void) { return &state; }
float *amp_output(int channel) { return outputs[channel & 1]; }
char *amp_scratch(void) { return scratch; }
const char *amp_registry_json(void) { return host.registry_json; }
int amp_registry_size(void) { return amp_registry_count; }
float amp_unity_gain_db(void) { return UNITY_GAIN_DB; }

/* ---- control: an instrument with start values (the export worker) --------- */

/* Make a node of registry entry `index` (control side, from the engine's
 * pools) that becomes track 0's instrument at the start of the next
 * quantum; amp_param_now and amp_settle give it start values first, as a
 * project's "params" do (runtime/engine/project_feed.c: set, then settle). -1: none
 * staged. Returns the index, or -1 (no such patch, or the pools are full:
 * message at amp_error()). */
int amp_select(int index)
{
    char err[ERROR_BYTES];
    if (!host.ready || index < -1 || index >= amp_registry_count)
        return -1;
    if (host.staged)
        engine_node_free(host.engine, host.staged);
    host.staged = NULL;
    host.staged_index = -1;
    if (index < 0)
        return -1;
    host.staged = engine_node_new(host.engine, amp_registry[index], err, sizeof err);
    if (!host.staged) {
        set_error(err);
        return -1;
    }
    host.staged_index = index;
    return index;
}

/* Registry index of the patch called `name`, or -1. */
static int find_patch(const char *name)
{
    for (int i = 0; i < amp_registry_count; i++)
        if (!strcmp(amp_registry[i]->name, name))
            return i;
    return -1;
}

/* amp_select by name, read from amp_scratch() (NUL-terminated). */
int amp_select_name(void)
{
    scratch[sizeof scratch - 1] = '\0';
    int index = find_patch(scratch);
    return index < 0 ? -1 : amp_select(index);
}

/* Set a param of the staged node, in its unit. 0, or -1 (nothing staged,
 * no such param). */
int amp_param_now(int param, float value)
{
    if (!host.staged || param < 0 || param >= engine_node_desc(host.staged)->n_params)
        return -1;
    engine_node_set_param(host.staged, param, value);
    return 0;
}

/* Settle the staged node (reset: smoothing at the values set, no glide). */
int amp_settle(void)
{
    if (!host.staged)
        return -1;
    engine_node_settle(host.staged);
    return 0;
}

/* ---- control: samples for audio tracks --------------------------------------- */

/* A sample of `channels` x `frames` floats at the engine's rate, from the
 * engine's sample pool, zeroed: fill amp_sample_data(s, c), then park it.
 * 0 when the pool is full. */
void *amp_sample_new(int channels, double frames)
{
    if (!host.ready || channels < 1 || channels > ENGINE_MAX_CHANNELS || !(frames >= 0 && frames < 4.0e9))
        return NULL;
    return engine_sample_new(host.engine, channels, (int64_t)frames);
}

float *amp_sample_data(void *sample, int channel)
{
    EngineSample *s = sample;
    return s && channel >= 0 && channel < s->channels ? s->data[channel] : NULL;
}

/* Park a filled sample for a load_sample command; returns its handle, or -1
 * (the table is full: the sample is freed). */
double amp_sample_park(void *sample)
{
    if (!host.ready || !sample)
        return -1;
    uint32_t h = engine_commands_put_sample(host.tables, sample);
    if (h == ENGINE_COMMANDS_NO_HANDLE) {
        engine_sample_free(host.engine, sample);
        return -1;
    }
    return (double)h;
}

/* A WAV file's bytes (amp_alloc'd by the page, which frees them) as a
 * parked sample at the engine's rate: read by wav.c and resampled by
 * project_resample, exactly as `amp render` reads a region's file
 * (project_resolve.c load_sample: at most two channels). Returns the
 * handle for load_sample, whose frames and channels are then
 * amp_sample_wav_frames() and amp_sample_wav_channels(); -1 with the
 * reason at amp_error(). Control side: it mallocs while decoding (the
 * worklet calls it from its port, between quanta, never in process()). */
static int64_t wav_frames;
static int wav_channels;

double amp_sample_wav(const void *bytes, double length)
{
    if (!host.ready || !bytes || !(length > 0)) {
        set_error("amp_sample_wav: no engine or no bytes");
        return -1;
    }
    WavData w;
    char err[ERROR_BYTES];
    if (wav_read_memory(bytes, (size_t)length, &w, err, sizeof err) != 0) {
        set_error(err);
        return -1;
    }
    int channels = w.channels > 2 ? 2 : w.channels;
    int rate = (int)host.sample_rate;
    float *data[2] = { NULL, NULL };
    int64_t frames = 0;
    for (int ch = 0; ch < channels; ch++)
        data[ch] = project_resample(w.data[ch], w.frames, w.sample_rate, rate, &frames);
    wav_free(&w);
    double handle = -1;
    EngineSample *s = NULL;
    if (channels > 0 && data[0] && (channels < 2 || data[1]))
        s = engine_sample_new(host.engine, channels, frames);
    if (s) {
        for (int ch = 0; ch < channels; ch++)
            memcpy(s->data[ch], data[ch], (size_t)frames * sizeof(float));
        handle = amp_sample_park(s);
        if (handle < 0)
            set_error("amp_sample_wav: the engine's table of samples is full");
    } else {
        set_error("amp_sample_wav: the engine's sample pool is full");
    }
    free(data[0]);
    free(data[1]);
    wav_frames = handle < 0 ? 0 : frames;
    wav_channels = handle < 0 ? 0 : channels;
    return handle;
}

double amp_sample_wav_frames(void) { return (double)wav_frames; }
int amp_sample_wav_channels(void) { return wav_channels; }

/* ---- time and commands --------------------------------------------------------- */

/* The context frame of the next quantum's first sample (a double holds
 * every engine time exactly: commands limit times to 2^53 - 1). */
void amp_set_time(double frames)
{
    if (host.ready && frames >= 0 && frames <= (double)CMD_TIME_MAX)
        host.offset = (int64_t)frames - engine_now(host.engine);
}

double amp_time(void)
{
    return host.ready ? (double)(engine_now(host.engine) + host.offset) : 0.0;
}

/* ---- audio: one quantum ----------------------------------------------------------- */

/* Render one quantum of `frames` (1..128) samples: take the page's
 * commands from the ring, hand those due in this quantum to the engine at
 * their samples, render into amp_output(0..1), publish the state region.
 * Returns 0, or -1 before amp_init or for a bad length. */
int amp_process(int frames)
{
    if (!host.ready || frames < 1 || frames > ENGINE_QUANTUM)
        return -1;
    drain_ring();
    int64_t start = engine_now(host.engine) + host.offset;
    int n_due = take_due(start + frames);

    state_begin();
    hand_in_staged();
    apply_due(n_due);
    float *out[2] = { outputs[0], outputs[1] };
    engine_render(host.engine, out, frames);
    state_copy_engine();
    state.host.pending = (uint32_t)host.n_pending;
    state.host.quanta++;
    state_end();
    return 0;
}

/* ---- control: after each quantum ---------------------------------------------------- */

/* The control side's turn: free what the engine handed back (replaced
 * nodes, samples, clips, lanes: engine_drain), count faults and refusals,
 * and make ready nodes for those taken (engine_commands_refill). Not part
 * of the render: the worklet calls it after amp_process, the export worker
 * after each quantum. It allocates nothing: nodes and states come from the
 * engine's pools (a patch's init() runs here, for each node made). Returns
 * the nodes made, or -1 when the pools are full (message at amp_error();
 * the rest is made by a later call). */
int amp_refill(void)
{
    if (!host.ready)
        return -1;
    int faults = 0, refusals = 0;
    engine_drain(host.engine, &faults, &refusals);
    char err[ERROR_BYTES];
    int made = engine_commands_refill(host.tables, err, sizeof err);
    if (faults || refusals || made < 0) {
        state_begin();
        state.host.faults += (uint32_t)faults;
        state.host.engine_refusals += (uint32_t)refusals;
        if (made < 0)
            state.host.refill_errors++;
        state_end();
    }
    if (made < 0)
        set_error(err);
    return made;
}
