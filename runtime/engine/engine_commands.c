/* engine_commands.c — the drain of the command ring: decoded commands
 * (commands.h) into the engine's queue, as they are or, where they name
 * things through the tables here, as the engine's own records (engine.h). The design — ready nodes
 * per patch id, parked blocks per handle, the tables between the command's
 * numbers and the engine's slots — is described in engine_commands.h.
 *
 * Threading contract: the control functions run on one control thread; the
 * drain functions on the one thread that renders (or feeds) the engine.
 * They share only the atomic slot words of the patch stocks and the handle
 * tables (protocol in engine_commands.h), the registry words, and the
 * relaxed counters. Everything the drain uses is allocated by
 * engine_commands_new.
 */
#include "util.h"
#include "engine_commands.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

#define CLAIMED ((uintptr_t)1)   /* bit 0 of a slot word: the drain side holds the block */
#define BEAT_LIMIT 1e9           /* the engine refuses beats at or past this */
#define BY_ID (-2)               /* placement_clip: the slot holds a place_clip_beats placement */

/* Ready blocks for clips and lanes sent note by note (clip_notes,
 * automation_lane): size classes of BLOCK_MIN << 2k notes or points. The
 * first STANDING_CLASSES keep a standing stock; larger ones are made when
 * the drain asks for one. */
#define BLOCK_CLASSES 7          /* 16 .. 65536 */
#define BLOCK_MIN 16
#define STANDING_CLASSES 3
enum { BLOCK_CLIP = 0, BLOCK_LANE = 1 };
enum { OPEN_NONE = 0, OPEN_CLIP, OPEN_LANE };

typedef struct Counters {
    _Atomic uint32_t records, rejected, applied, refused, waiting, waits, ring_corrupt, dropped;
    _Atomic uint32_t rejected_by[ENGINE_COMMANDS_DECODE_ERRORS];
    _Atomic uint32_t refused_by[ENGINE_COMMANDS_REFUSE_COUNT];
} Counters;

typedef struct PatchStock {
    _Atomic uintptr_t desc;      /* const AmpPatchDesc *; 0: no patch. Written by control */
    uint32_t stock;              /* ready nodes wanted (control) */
    bool used;                   /* ever registered (control): refill looks only at these */
    _Atomic uintptr_t *ready;    /* max_stock slot words holding EngineNode * */
} PatchStock;

/* The ready blocks of one kind: [class * slots + k] slot words (the
 * patch stocks' protocol), what the control side keeps ready per class,
 * and the drain's requests for classes without a standing stock. */
typedef struct BlockStock {
    _Atomic uintptr_t *ready;
    uint32_t slots;                       /* slot words per class */
    uint32_t want[BLOCK_CLASSES];         /* standing stock (control) */
    _Atomic uint32_t asked[BLOCK_CLASSES];/* 1: the drain waits for one (drain sets, control clears) */
} BlockStock;

/* The clip or lane being filled by clip_note / automation_point (drain). */
typedef struct OpenBlock {
    int kind;                    /* OPEN_* */
    _Atomic uintptr_t *word;     /* its ready slot, claimed while open */
    void *block;                 /* EngineClip * or EngineLane * */
    uint32_t count, got;         /* notes or points announced, received */
    bool spoiled;                /* one came out of order */
    int64_t time;                /* of clip_notes / automation_lane */
    uint32_t clip;               /* OPEN_CLIP: the clip id */
    uint32_t track, slot, param; /* OPEN_LANE: the lane */
    double last;                 /* start or beat of the last one */
} OpenBlock;

typedef struct HandleTable {
    _Atomic uintptr_t *slots;    /* slot words holding the parked blocks */
    uint32_t n;
    uint32_t next;               /* control: where the next put starts looking, so a
                                    handle just used is not at once reused */
} HandleTable;

struct EngineCommands {
    Engine *engine;
    EngineCommandsConfig cfg;
    int max_tracks, max_inserts, max_sends, max_placements, max_lanes, max_clips, max_samples, max_tempo;
    int max_regions;             /* region slots per track */
    uint32_t region_ids;         /* region ids 0..region_ids-1: max_tracks * max_regions */
    double rate;                 /* the engine's sample rate */
    uint32_t whole_rate;         /* ... in whole Hz, as load_sample gives it */
    int64_t max_ahead;           /* samples a command may be timed ahead; 0: no limit */

    /* shared through slot words */
    PatchStock *patches;              /* [max_patches + 1]; index = patch id, 0 unused */
    _Atomic uintptr_t *stock_words;
    HandleTable handles[3];      /* by EngineCommandsHandleKind */
    BlockStock blocks[2];        /* by BLOCK_CLIP, BLOCK_LANE */

    /* drain side */
    int32_t *send_bus;           /* [track * max_sends + k]: the bus of send k, -1 free */
    int64_t *send_free_at;       /* [track * max_sends + k]: engine time from which a free slot is
                                    empty in the engine (as slot_free_at for regions) */
    int32_t *placement_clip;     /* [track * max_placements + k]: clip id, -1 free */
    int64_t *placement_free_at;  /* [track * max_placements + k]: likewise */
    int32_t *clip_track;         /* [clip id]: track it is placed on, -1 none */
    int32_t *clip_slot;          /* [clip id]: its placement slot there */
    uint32_t *lane_key;          /* [track * max_lanes + k]: slot * CMD_PARAM_LIMIT + param + 1, 0 free */
    int64_t *lane_free_at;       /* [track * max_lanes + k]: likewise */
    int32_t *slot_region;        /* [track * max_regions + k]: region id, -1 free */
    int64_t *slot_free_at;       /* [track * max_regions + k]: engine time from which a free slot
                                    is empty in the engine (its clearing is applied by then) */
    int32_t *region_track;       /* [region id]: track it is placed on, -1 none */
    int32_t *region_slot;        /* [region id]: its region slot there */
    uint32_t placement_ids;      /* place_clip_beats ids 0..placement_ids-1: max_tracks * max_placements */
    int32_t *slot_placement;     /* [track * max_placements + k]: the placement id of a BY_ID slot */
    int32_t *placement_track;    /* [placement id]: track it is on, -1 none */
    int32_t *placement_slot;     /* [placement id]: its placement slot there */
    OpenBlock open;
    double bpm;                  /* the tempo map: base ... */
    double *tempo_beat, *tempo_bpm;   /* ... then these changes */
    int n_tempo;
    Command waiting;             /* a command waiting for a ready node */
    bool has_waiting;
    uint32_t waited;             /* drains it has waited */

    Counters count;
};

/* ---- the registry: which engine has which tables --------------------------- */

static struct {
    _Atomic uintptr_t engine;    /* Engine *; 0: free. Published after cx */
    EngineCommands *cx;
} registry[ENGINE_COMMANDS_MAX_ENGINES];

EngineCommands *engine_commands_of(const Engine *e)
{
    for (int i = 0; i < ENGINE_COMMANDS_MAX_ENGINES; i++)
        /* Acquire: pairs with the release in register_tables, so cx is set. */
        if (e && atomic_load_explicit(&registry[i].engine, memory_order_acquire) == (uintptr_t)e)
            return registry[i].cx;
    return NULL;
}

static bool register_tables(EngineCommands *cx)
{
    for (int i = 0; i < ENGINE_COMMANDS_MAX_ENGINES; i++) {
        if (atomic_load_explicit(&registry[i].engine, memory_order_relaxed))
            continue;
        registry[i].cx = cx;
        /* Release: cx is visible before the engine pointer that finds it. */
        atomic_store_explicit(&registry[i].engine, (uintptr_t)cx->engine, memory_order_release);
        return true;
    }
    return false;
}

static void unregister_tables(const EngineCommands *cx)
{
    for (int i = 0; i < ENGINE_COMMANDS_MAX_ENGINES; i++)
        if (registry[i].cx == cx &&
            atomic_load_explicit(&registry[i].engine, memory_order_relaxed) == (uintptr_t)cx->engine) {
            /* Relaxed: nobody drains this engine any more (the contract). */
            atomic_store_explicit(&registry[i].engine, 0, memory_order_relaxed);
            registry[i].cx = NULL;
        }
}

/* ---- slot words ----------------------------------------------------------------- */

/* Drain side: take the block in `slot` (0 if there is none or it is taken). */
static uintptr_t claim(_Atomic uintptr_t *slot)
{
    /* Acquire: the block's contents were written before its address was
     * published with release. */
    uintptr_t v = atomic_load_explicit(slot, memory_order_acquire);
    if (v == 0 || (v & CLAIMED))
        return 0;
    /* A withdraw may race us to the word: whoever swaps it owns the block. */
    if (!atomic_compare_exchange_strong_explicit(slot, &v, v | CLAIMED, memory_order_acquire, memory_order_relaxed))
        return 0;
    return v;
}

/* Drain side: the engine refused the block; it is parked again. */
static void unclaim(_Atomic uintptr_t *slot, uintptr_t v)
{
    /* Release: our reads of the block are done before control may take it. */
    atomic_store_explicit(slot, v, memory_order_release);
}

/* Drain side: the engine has the block; the slot is free for control. */
static void consume(_Atomic uintptr_t *slot)
{
    /* Release: done with the slot before control reuses it. */
    atomic_store_explicit(slot, 0, memory_order_release);
}

/* Control side: empty the slot if it holds an unclaimed block; return it. */
static uintptr_t withdraw(_Atomic uintptr_t *slot)
{
    /* Acquire: a block the drain side parked again is seen whole. */
    uintptr_t v = atomic_load_explicit(slot, memory_order_acquire);
    if (v == 0 || (v & CLAIMED))
        return 0;
    if (!atomic_compare_exchange_strong_explicit(slot, &v, 0, memory_order_acquire, memory_order_relaxed))
        return 0;
    return v;
}

/* Control side: publish a filled block into an empty slot. */
static void publish(_Atomic uintptr_t *slot, const void *block)
{
    /* Release: the block's contents before its address. */
    atomic_store_explicit(slot, (uintptr_t)block, memory_order_release);
}

static void bump(_Atomic uint32_t *counter)
{
    /* Relaxed: a statistic; only the drain side writes it. */
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

/* ---- life cycle (control) ----------------------------------------------------------- */

void engine_commands_config_default(EngineCommandsConfig *cfg)
{
    cfg->max_patches = 256;
    cfg->max_stock = 8;
    cfg->clip_handles = 256;
    cfg->sample_handles = 256;
    cfg->lane_handles = 256;
    cfg->wait_limit = 1024;
    cfg->max_ahead_seconds = 60.0;
    cfg->block_stock = 8;
}

static void *array(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

static void fill_i32(int32_t *a, size_t n, int32_t v)
{
    for (size_t i = 0; i < n; i++)
        a[i] = v;
}

EngineCommands *engine_commands_new(Engine *e, const EngineCommandsConfig *cfg, char *err, size_t errlen)
{
    EngineCommandsConfig def;
    engine_commands_config_default(&def);
    if (!cfg)
        cfg = &def;
    if (!e) {
        fail(err, errlen, "no engine");
        return NULL;
    }
    if (cfg->max_patches > (1u << 20) || cfg->max_stock > ENGINE_COMMANDS_MAX_STOCK ||
        cfg->clip_handles > CMD_HANDLE_MAX || cfg->sample_handles > CMD_HANDLE_MAX ||
        cfg->lane_handles > CMD_HANDLE_MAX || cfg->block_stock > ENGINE_COMMANDS_MAX_STOCK ||
        !(cfg->max_ahead_seconds >= 0.0 && cfg->max_ahead_seconds <= 1e7)) {
        fail(err, errlen, "command tables: a size is out of range (at most 2^20 patches, %d ready nodes each)",
             ENGINE_COMMANDS_MAX_STOCK);
        return NULL;
    }
    if (engine_commands_of(e)) {
        fail(err, errlen, "the engine already has command tables");
        return NULL;
    }
    EngineCommands *cx = calloc(1, sizeof *cx);
    if (!cx) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    const EngineConfig *ec = engine_config(e);
    cx->engine = e;
    cx->cfg = *cfg;
    cx->max_tracks = ec->max_tracks;
    cx->max_inserts = ec->max_inserts;
    cx->max_sends = ec->max_sends;
    cx->max_placements = ec->max_placements;
    cx->max_lanes = ec->max_lanes;
    cx->max_clips = ec->max_clips;
    cx->max_samples = ec->max_samples;
    cx->max_tempo = ec->max_tempo_points;
    cx->max_regions = ec->max_regions;
    cx->region_ids = (uint32_t)ec->max_tracks * (uint32_t)ec->max_regions;
    cx->rate = (double)ec->sample_rate;
    cx->whole_rate = (uint32_t)lround(cx->rate);
    cx->max_ahead = llround(cfg->max_ahead_seconds * cx->rate);
    cx->bpm = 120.0;

    size_t tracks = (size_t)cx->max_tracks;
    cx->patches = array((size_t)cfg->max_patches + 1, sizeof *cx->patches);
    cx->stock_words = array(((size_t)cfg->max_patches + 1) * cfg->max_stock, sizeof *cx->stock_words);
    const uint32_t handle_counts[3] = { cfg->clip_handles, cfg->sample_handles, cfg->lane_handles };
    for (int k = 0; k < 3; k++) {
        cx->handles[k].slots = array(handle_counts[k], sizeof *cx->handles[k].slots);
        cx->handles[k].n = handle_counts[k];
    }
    cx->send_bus = array(tracks * (size_t)cx->max_sends, sizeof *cx->send_bus);
    cx->placement_clip = array(tracks * (size_t)cx->max_placements, sizeof *cx->placement_clip);
    cx->clip_track = array((size_t)cx->max_clips, sizeof *cx->clip_track);
    cx->clip_slot = array((size_t)cx->max_clips, sizeof *cx->clip_slot);
    cx->lane_key = array(tracks * (size_t)cx->max_lanes, sizeof *cx->lane_key);
    cx->send_free_at = array(tracks * (size_t)cx->max_sends, sizeof *cx->send_free_at);
    cx->placement_free_at = array(tracks * (size_t)cx->max_placements, sizeof *cx->placement_free_at);
    cx->lane_free_at = array(tracks * (size_t)cx->max_lanes, sizeof *cx->lane_free_at);
    cx->tempo_beat = array((size_t)cx->max_tempo, sizeof *cx->tempo_beat);
    cx->tempo_bpm = array((size_t)cx->max_tempo, sizeof *cx->tempo_bpm);
    cx->slot_region = array(tracks * (size_t)cx->max_regions, sizeof *cx->slot_region);
    cx->slot_free_at = array(tracks * (size_t)cx->max_regions, sizeof *cx->slot_free_at);
    cx->region_track = array(cx->region_ids, sizeof *cx->region_track);
    cx->region_slot = array(cx->region_ids, sizeof *cx->region_slot);
    cx->placement_ids = (uint32_t)ec->max_tracks * (uint32_t)ec->max_placements;
    cx->slot_placement = array(tracks * (size_t)cx->max_placements, sizeof *cx->slot_placement);
    cx->placement_track = array(cx->placement_ids, sizeof *cx->placement_track);
    cx->placement_slot = array(cx->placement_ids, sizeof *cx->placement_slot);
    for (int k = 0; k < 2; k++) {
        BlockStock *b = &cx->blocks[k];
        b->slots = cfg->block_stock > 0 ? cfg->block_stock : 1;
        b->ready = array((size_t)BLOCK_CLASSES * b->slots, sizeof *b->ready);
        for (int c = 0; c < BLOCK_CLASSES; c++)
            b->want[c] = c < STANDING_CLASSES ? cfg->block_stock >> c : 0;
    }
    bool ok = cx->patches && cx->stock_words && cx->send_bus && cx->placement_clip && cx->clip_track &&
              cx->clip_slot && cx->lane_key && cx->tempo_beat && cx->tempo_bpm && cx->slot_region &&
              cx->slot_free_at && cx->region_track && cx->region_slot && cx->send_free_at &&
              cx->placement_free_at && cx->lane_free_at && cx->slot_placement && cx->placement_track &&
              cx->placement_slot && cx->blocks[0].ready && cx->blocks[1].ready;
    for (int k = 0; k < 3; k++)
        ok = ok && cx->handles[k].slots;
    if (!ok) {
        fail(err, errlen, "out of memory for the command tables");
        engine_commands_free(cx);
        return NULL;
    }
    /* calloc'd words are valid zero atomics on every target we build for. */
    for (uint32_t i = 0; i <= cfg->max_patches; i++)
        cx->patches[i].ready = cx->stock_words + (size_t)i * cfg->max_stock;
    fill_i32(cx->send_bus, tracks * (size_t)cx->max_sends, -1);
    fill_i32(cx->placement_clip, tracks * (size_t)cx->max_placements, -1);
    fill_i32(cx->clip_track, (size_t)cx->max_clips, -1);
    fill_i32(cx->clip_slot, (size_t)cx->max_clips, -1);
    fill_i32(cx->slot_region, tracks * (size_t)cx->max_regions, -1);
    fill_i32(cx->region_track, cx->region_ids, -1);
    fill_i32(cx->region_slot, cx->region_ids, -1);
    fill_i32(cx->slot_placement, tracks * (size_t)cx->max_placements, -1);
    fill_i32(cx->placement_track, cx->placement_ids, -1);
    fill_i32(cx->placement_slot, cx->placement_ids, -1);
    if (!register_tables(cx)) {
        fail(err, errlen, "%d engines have command tables already", ENGINE_COMMANDS_MAX_ENGINES);
        cx->engine = NULL;
        engine_commands_free(cx);
        return NULL;
    }
    return cx;
}

static void free_block(Engine *e, int kind, void *block)
{
    switch (kind) {
    case ENGINE_COMMANDS_CLIP: engine_clip_free(e, block); break;
    case ENGINE_COMMANDS_SAMPLE: engine_sample_free(e, block); break;
    default: engine_lane_free(e, block); break;
    }
}

void engine_commands_free(EngineCommands *cx)
{
    if (!cx)
        return;
    if (cx->engine)
        unregister_tables(cx);
    for (int k = 0; k < 3; k++)
        for (uint32_t i = 0; cx->engine && cx->handles[k].slots && i < cx->handles[k].n; i++) {
            uintptr_t v = atomic_load_explicit(&cx->handles[k].slots[i], memory_order_acquire) & ~CLAIMED;
            if (v)
                free_block(cx->engine, k, (void *)v);
        }
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; cx->engine && cx->blocks[k].ready && i < (size_t)BLOCK_CLASSES * cx->blocks[k].slots; i++) {
            uintptr_t v = atomic_load_explicit(&cx->blocks[k].ready[i], memory_order_acquire) & ~CLAIMED;
            if (v)
                free_block(cx->engine, k == BLOCK_CLIP ? ENGINE_COMMANDS_CLIP : ENGINE_COMMANDS_LANE, (void *)v);
        }
    if (cx->engine && cx->stock_words)
        for (size_t i = 0; i < ((size_t)cx->cfg.max_patches + 1) * cx->cfg.max_stock; i++) {
            uintptr_t v = atomic_load_explicit(&cx->stock_words[i], memory_order_acquire) & ~CLAIMED;
            if (v)
                engine_node_free(cx->engine, (EngineNode *)v);
        }
    for (int k = 0; k < 3; k++)
        free(cx->handles[k].slots);
    free(cx->patches);
    free(cx->stock_words);
    free(cx->send_bus);
    free(cx->placement_clip);
    free(cx->clip_track);
    free(cx->clip_slot);
    free(cx->lane_key);
    free(cx->tempo_beat);
    free(cx->tempo_bpm);
    free(cx->slot_region);
    free(cx->slot_free_at);
    free(cx->send_free_at);
    free(cx->placement_free_at);
    free(cx->lane_free_at);
    free(cx->region_track);
    free(cx->region_slot);
    free(cx->slot_placement);
    free(cx->placement_track);
    free(cx->placement_slot);
    for (int k = 0; k < 2; k++)
        free(cx->blocks[k].ready);
    free(cx);
}

/* ---- patches (control) ----------------------------------------------------------------- */

/* Bring one patch's stock to what it should be. Returns the nodes made or
 * -1 (pool full, message in err). */
static int refill_patch(EngineCommands *cx, PatchStock *p, char *err, size_t errlen)
{
    const AmpPatchDesc *desc = (const AmpPatchDesc *)atomic_load_explicit(&p->desc, memory_order_relaxed);
    int made = 0;
    for (uint32_t k = 0; k < cx->cfg.max_stock; k++) {
        _Atomic uintptr_t *slot = &p->ready[k];
        uintptr_t v = atomic_load_explicit(slot, memory_order_acquire);
        if (v & CLAIMED)
            continue;                    /* being handed to the engine; look again next time */
        bool wanted = desc && k < p->stock;
        if (v) {
            if (!wanted || engine_node_desc((const EngineNode *)v) != desc) {
                uintptr_t old = withdraw(slot);
                if (old)
                    engine_node_free(cx->engine, (EngineNode *)old);
                v = 0;
            }
            if (v)
                continue;
        }
        if (!wanted)
            continue;
        EngineNode *nd = engine_node_new(cx->engine, desc, err, errlen);
        if (!nd)
            return -1;
        publish(slot, nd);
        made++;
    }
    return made;
}

int engine_commands_set_patch(EngineCommands *cx, uint32_t patch_id, const AmpPatchDesc *desc, uint32_t stock,
                              char *err, size_t errlen)
{
    if (patch_id < 1 || patch_id > cx->cfg.max_patches)
        return fail(err, errlen, "patch id %u is outside 1..%u", patch_id, cx->cfg.max_patches);
    if (stock > cx->cfg.max_stock)
        return fail(err, errlen, "a stock of %u nodes; at most %u", stock, cx->cfg.max_stock);
    PatchStock *p = &cx->patches[patch_id];
    p->used = true;
    p->stock = desc ? stock : 0;
    /* Release: the descriptor is complete before the drain side reads it. */
    atomic_store_explicit(&p->desc, (uintptr_t)desc, memory_order_release);
    return refill_patch(cx, p, err, errlen) < 0 ? -1 : 0;
}

static uint32_t block_capacity(int cls)
{
    return (uint32_t)BLOCK_MIN << (2 * cls);
}

static void *block_new(EngineCommands *cx, int kind, int cls)
{
    if (kind == BLOCK_CLIP)
        return engine_clip_new(cx->engine, (int)block_capacity(cls));
    return engine_lane_new(cx->engine, (int)block_capacity(cls));
}

/* Bring the ready blocks of each class to what is wanted: the standing
 * stock, or one for a class the drain asked for. Returns the blocks made
 * or -1 (pool full, message in err). */
static int refill_blocks(EngineCommands *cx, char *err, size_t errlen)
{
    int made = 0;
    for (int kind = 0; kind < 2; kind++) {
        BlockStock *b = &cx->blocks[kind];
        for (int cls = 0; cls < BLOCK_CLASSES; cls++) {
            /* Relaxed: a request; the block itself is published with release. */
            uint32_t asked = atomic_load_explicit(&b->asked[cls], memory_order_relaxed);
            uint32_t want = b->want[cls] > 0 ? b->want[cls] : asked ? 1 : 0;
            uint32_t have = 0;
            _Atomic uintptr_t *row = &b->ready[(size_t)cls * b->slots];
            for (uint32_t k = 0; k < b->slots; k++)
                have += atomic_load_explicit(&row[k], memory_order_relaxed) != 0;
            for (uint32_t k = 0; k < b->slots && have < want; k++) {
                if (atomic_load_explicit(&row[k], memory_order_relaxed) != 0)
                    continue;
                void *block = block_new(cx, kind, cls);
                if (!block)
                    return fail(err, errlen, "the %s pool is full (a ready block of %u %s)",
                                kind == BLOCK_CLIP ? "clip" : "lane", block_capacity(cls),
                                kind == BLOCK_CLIP ? "notes" : "points");
                publish(&row[k], block);
                have++;
                made++;
            }
            if (asked && have > 0)
                atomic_store_explicit(&b->asked[cls], 0, memory_order_relaxed);
        }
    }
    return made;
}

int engine_commands_refill(EngineCommands *cx, char *err, size_t errlen)
{
    int made = 0;
    for (uint32_t id = 1; id <= cx->cfg.max_patches; id++) {
        PatchStock *p = &cx->patches[id];
        if (!p->used)
            continue;
        int n = refill_patch(cx, p, err, errlen);
        if (n < 0)
            return -1;
        made += n;
    }
    int blocks = refill_blocks(cx, err, errlen);
    return blocks < 0 ? -1 : made + blocks;
}

uint32_t engine_commands_ready(const EngineCommands *cx, uint32_t patch_id)
{
    if (patch_id < 1 || patch_id > cx->cfg.max_patches)
        return 0;
    uint32_t n = 0;
    for (uint32_t k = 0; k < cx->cfg.max_stock; k++)
        n += atomic_load_explicit(&cx->patches[patch_id].ready[k], memory_order_relaxed) != 0;
    return n;
}

/* ---- handles (control) ----------------------------------------------------------------- */

static uint32_t put(HandleTable *t, const void *block)
{
    if (!block)
        return ENGINE_COMMANDS_NO_HANDLE;
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t h = (t->next + i) % t->n;
        /* Relaxed: only this thread turns an empty word into a full one. */
        if (atomic_load_explicit(&t->slots[h], memory_order_relaxed) == 0) {
            publish(&t->slots[h], block);
            t->next = h + 1 < t->n ? h + 1 : 0;
            return h;
        }
    }
    return ENGINE_COMMANDS_NO_HANDLE;
}

uint32_t engine_commands_put_clip(EngineCommands *cx, EngineClip *clip)
{
    return put(&cx->handles[ENGINE_COMMANDS_CLIP], clip);
}

uint32_t engine_commands_put_sample(EngineCommands *cx, EngineSample *sample)
{
    return put(&cx->handles[ENGINE_COMMANDS_SAMPLE], sample);
}

uint32_t engine_commands_put_lane(EngineCommands *cx, EngineLane *lane)
{
    return put(&cx->handles[ENGINE_COMMANDS_LANE], lane);
}

void *engine_commands_withdraw(EngineCommands *cx, EngineCommandsHandleKind kind, uint32_t handle)
{
    if ((unsigned)kind > ENGINE_COMMANDS_LANE || handle >= cx->handles[kind].n)
        return NULL;
    return (void *)withdraw(&cx->handles[kind].slots[handle]);
}

uint32_t engine_commands_clip_bytes(int32_t n_notes)
{
    if (n_notes < 0 || (size_t)n_notes > (UINT32_MAX - sizeof(EngineClip)) / sizeof(EngineNote))
        return 0;
    return (uint32_t)(sizeof(EngineClip) + (size_t)n_notes * sizeof(EngineNote));
}

void engine_commands_stats(const EngineCommands *cx, EngineCommandsStats *out)
{
    Counters *c = (Counters *)&cx->count;   /* loads only */
    memset(out, 0, sizeof *out);
    out->records = atomic_load_explicit(&c->records, memory_order_relaxed);
    out->rejected = atomic_load_explicit(&c->rejected, memory_order_relaxed);
    out->applied = atomic_load_explicit(&c->applied, memory_order_relaxed);
    out->refused = atomic_load_explicit(&c->refused, memory_order_relaxed);
    out->waiting = atomic_load_explicit(&c->waiting, memory_order_relaxed);
    out->waits = atomic_load_explicit(&c->waits, memory_order_relaxed);
    out->ring_corrupt = atomic_load_explicit(&c->ring_corrupt, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&c->dropped, memory_order_relaxed);
    for (int i = 0; i < ENGINE_COMMANDS_DECODE_ERRORS; i++)
        out->rejected_by[i] = atomic_load_explicit(&c->rejected_by[i], memory_order_relaxed);
    for (int i = 0; i < ENGINE_COMMANDS_REFUSE_COUNT; i++)
        out->refused_by[i] = atomic_load_explicit(&c->refused_by[i], memory_order_relaxed);
}

/* ---- the tempo map (drain side) ------------------------------------------------------------ */

int engine_commands_set_tempo_map(EngineCommands *cx, double bpm, const double *beats, const double *bpms, int n)
{
    if (!(bpm >= 1.0 && bpm <= 1000.0) || n < 0 || n > cx->max_tempo || (n > 0 && (!beats || !bpms)))
        return -1;
    for (int i = 0; i < n; i++)
        if (!(beats[i] >= 0.0 && beats[i] < BEAT_LIMIT) || !(bpms[i] >= 1.0 && bpms[i] <= 1000.0) ||
            (i > 0 && !(beats[i] > beats[i - 1])))
            return -1;
    cx->bpm = bpm;
    for (int i = 0; i < n; i++) {
        cx->tempo_beat[i] = beats[i];
        cx->tempo_bpm[i] = bpms[i];
    }
    cx->n_tempo = n;
    return 0;
}

/* The beat at timeline sample `position` (the playhead in samples: the
 * tempo map's time from beat 0). With no tempo changes this is the
 * engine's own beats_in expression, so the beat maps back to the sample. */
static double beats_at(const EngineCommands *cx, int64_t position)
{
    double s = (double)position, at_beat = 0.0, at_sample = 0.0, bpm = cx->bpm;
    for (int i = 0; i < cx->n_tempo; i++) {
        double next = at_sample + (cx->tempo_beat[i] - at_beat) * (60.0 * cx->rate) / bpm;
        if (next > s)
            break;
        at_sample = next;
        at_beat = cx->tempo_beat[i];
        bpm = cx->tempo_bpm[i];
    }
    return at_beat + (s - at_sample) * bpm / (60.0 * cx->rate);
}

/* ---- applying one command (drain side) ------------------------------------------------------ */

static int refuse(EngineCommands *cx, EngineCommandsRefusal why)
{
    bump(&cx->count.refused);
    bump(&cx->count.refused_by[why]);
    return -1;
}

/* The result of an engine call: 0 queued. */
static int queued(EngineCommands *cx, int rc)
{
    if (rc != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    bump(&cx->count.applied);
    return 0;
}

static bool track_ok(const EngineCommands *cx, uint32_t track)
{
    return track < (uint32_t)cx->max_tracks;
}

/* Insert position 1.. of the command, as the engine's 0-based index. */
static bool position_ok(const EngineCommands *cx, uint32_t position)
{
    return position >= 1 && position <= (uint32_t)cx->max_inserts;
}

/* Take a ready node of patch `id`: *word gets its slot word. 0 and the
 * node; ENGINE_COMMANDS_RETRY when none is ready; -1 (refused) for an
 * unknown patch or, with want_inputs, one that cannot be an insert. */
static int take_node(EngineCommands *cx, uint32_t id, bool want_inputs, _Atomic uintptr_t **word, EngineNode **node)
{
    if (id < 1 || id > cx->cfg.max_patches)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_PATCH);
    PatchStock *p = &cx->patches[id];
    /* Acquire: pairs with the release in engine_commands_set_patch. */
    const AmpPatchDesc *desc = (const AmpPatchDesc *)atomic_load_explicit(&p->desc, memory_order_acquire);
    if (!desc || (want_inputs && desc->n_inputs < 1))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_PATCH);
    for (uint32_t k = 0; k < cx->cfg.max_stock; k++) {
        uintptr_t v = claim(&p->ready[k]);
        if (!v)
            continue;
        if (engine_node_desc((const EngineNode *)v) != desc) {   /* left from a replaced patch */
            unclaim(&p->ready[k], v);
            continue;
        }
        *word = &p->ready[k];
        *node = (EngineNode *)v;
        return 0;
    }
    return ENGINE_COMMANDS_RETRY;
}

static int set_instrument(EngineCommands *cx, const CmdSetInstrument *c)
{
    if (!track_ok(cx, c->track))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    if (c->patch == 0)
        return queued(cx, engine_set_instrument(cx->engine, c->header.time, (int)c->track, NULL));
    _Atomic uintptr_t *word;
    EngineNode *nd;
    int rc = take_node(cx, c->patch, false, &word, &nd);
    if (rc != 0)
        return rc;
    if (engine_set_instrument(cx->engine, c->header.time, (int)c->track, nd) != 0) {
        unclaim(word, (uintptr_t)nd);
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    }
    consume(word);
    return queued(cx, 0);
}

static int add_insert(EngineCommands *cx, const CmdAddInsert *c)
{
    if (!track_ok(cx, c->track) || !position_ok(cx, c->position))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    _Atomic uintptr_t *word;
    EngineNode *nd;
    int rc = take_node(cx, c->patch, true, &word, &nd);
    if (rc != 0)
        return rc;
    if (engine_insert_add(cx->engine, c->header.time, (int)c->track, (int)c->position - 1, nd) != 0) {
        unclaim(word, (uintptr_t)nd);
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    }
    consume(word);
    return queued(cx, 0);
}

/* Hot swap: a ready node of the new patch into the slot (engine_swap_node). */
static int swap_patch(EngineCommands *cx, const CmdSwapPatch *c)
{
    if (!track_ok(cx, c->track) || c->slot > (uint32_t)cx->max_inserts)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    _Atomic uintptr_t *word;
    EngineNode *nd;
    int rc = take_node(cx, c->patch, c->slot > 0, &word, &nd);
    if (rc != 0)
        return rc;
    if (engine_swap_node(cx->engine, c->header.time, (int)c->track, (int)c->slot, nd) != 0) {
        unclaim(word, (uintptr_t)nd);
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    }
    consume(word);
    return queued(cx, 0);
}

/* The slot word of handle h of a kind, or NULL when h is out of range. */
static _Atomic uintptr_t *handle_word(EngineCommands *cx, int kind, uint32_t h)
{
    return h < cx->handles[kind].n ? &cx->handles[kind].slots[h] : NULL;
}

/* When a command timed `time` applies: at once if that time has passed. */
static int64_t applies_at(const EngineCommands *cx, int64_t time)
{
    int64_t now = engine_now(cx->engine);
    return time > now ? time : now;
}

/* A table slot emptied by a command that applies at `when`: free for
 * commands that apply then or later. One timed earlier would be applied
 * before the emptying, which would then remove it. */
static void free_slot(int32_t *slot, int64_t *free_at, int64_t when)
{
    if (*slot != -1)
        *free_at = when;
    *slot = -1;
}

/* Forget what the tables say about a track removed at `time`. */
static void clear_track(EngineCommands *cx, uint32_t track, int64_t time)
{
    int64_t when = applies_at(cx, time);
    for (int k = 0; k < cx->max_sends; k++)
        free_slot(&cx->send_bus[(size_t)track * cx->max_sends + k], &cx->send_free_at[(size_t)track * cx->max_sends + k],
                  when);
    for (uint32_t t = 0; t < (uint32_t)cx->max_tracks; t++)
        for (int k = 0; k < cx->max_sends; k++)
            if (cx->send_bus[(size_t)t * cx->max_sends + k] == (int32_t)track)
                free_slot(&cx->send_bus[(size_t)t * cx->max_sends + k], &cx->send_free_at[(size_t)t * cx->max_sends + k],
                          when);
    for (int k = 0; k < cx->max_placements; k++) {
        size_t at = (size_t)track * cx->max_placements + k;
        int32_t *clip = &cx->placement_clip[at];
        if (*clip >= 0) {
            cx->clip_track[*clip] = -1;
            cx->clip_slot[*clip] = -1;
        } else if (*clip == BY_ID) {
            cx->placement_track[cx->slot_placement[at]] = -1;
            cx->placement_slot[cx->slot_placement[at]] = -1;
            cx->slot_placement[at] = -1;
        }
        free_slot(clip, &cx->placement_free_at[at], when);
    }
    for (int k = 0; k < cx->max_lanes; k++) {
        size_t at = (size_t)track * cx->max_lanes + k;
        if (cx->lane_key[at])
            cx->lane_free_at[at] = when;
        cx->lane_key[at] = 0;
    }
    for (int k = 0; k < cx->max_regions; k++) {
        size_t at = (size_t)track * cx->max_regions + k;
        int32_t region = cx->slot_region[at];
        if (region >= 0) {
            cx->region_track[region] = -1;
            cx->region_slot[region] = -1;
        }
        free_slot(&cx->slot_region[at], &cx->slot_free_at[at], when);
    }
}

/* The send from `track` to `bus`, on the track's send slot for that bus
 * (taken on the first send, freed by a removal): set_send and
 * set_send_db. */
static int send_to(EngineCommands *cx, int64_t time, uint32_t track, uint32_t bus, bool remove, float db)
{
    if (!track_ok(cx, track) || !track_ok(cx, bus))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    int32_t *row = &cx->send_bus[(size_t)track * cx->max_sends];
    int64_t *free_at = &cx->send_free_at[(size_t)track * cx->max_sends];
    int64_t when = applies_at(cx, time);
    int found = -1, empty = -1;
    for (int k = 0; k < cx->max_sends; k++) {
        if (row[k] == (int32_t)bus)
            found = k;
        else if (row[k] < 0 && free_at[k] <= when && empty < 0)
            empty = k;
    }
    if (remove) {
        if (found < 0) {                 /* no such send: nothing to remove */
            bump(&cx->count.applied);
            return 0;
        }
        if (engine_set_send(cx->engine, time, (int)track, found, -1, 0.0f) != 0)
            return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
        free_slot(&row[found], &free_at[found], when);
        return queued(cx, 0);
    }
    int k = found >= 0 ? found : empty;
    if (k < 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_FULL);
    if (engine_set_send(cx->engine, time, (int)track, k, (int)bus, db) != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    row[k] = (int32_t)bus;
    return queued(cx, 0);
}

static int set_send(EngineCommands *cx, const CmdSetSend *c)
{
    bool remove = c->level == 0.0f;
    float db = remove ? 0.0f : (float)(20.0 * log10((double)c->level));
    return send_to(cx, c->header.time, c->track, c->bus, remove, db);
}

/* The beats a clip's notes span: the end of its last-ending note. */
static double clip_span(const EngineClip *clip)
{
    double end = 0.0;
    for (int i = 0; i < clip->n_notes; i++) {
        double e = clip->notes[i].start + clip->notes[i].length;
        end = e > end ? e : end;
    }
    return end;
}

static int load_clip(EngineCommands *cx, const CmdLoadClip *c)
{
    if (!track_ok(cx, c->track) || c->clip >= (uint32_t)cx->max_clips)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    double start = beats_at(cx, c->start);
    if (!(start < BEAT_LIMIT))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    int32_t id = (int32_t)c->clip;
    int32_t *row = &cx->placement_clip[(size_t)c->track * cx->max_placements];
    const int64_t *free_at = &cx->placement_free_at[(size_t)c->track * cx->max_placements];
    int64_t when = applies_at(cx, c->header.time);
    int slot = cx->clip_track[id] == (int32_t)c->track ? cx->clip_slot[id] : -1;
    for (int k = 0; slot < 0 && k < cx->max_placements; k++)
        if (row[k] == -1 && free_at[k] <= when)
            slot = k;
    if (slot < 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_FULL);
    _Atomic uintptr_t *word = handle_word(cx, ENGINE_COMMANDS_CLIP, c->handle);
    uintptr_t v = word ? claim(word) : 0;
    if (!v)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_HANDLE);
    EngineClip *clip = (EngineClip *)v;
    double span = clip_span(clip);
    if (engine_commands_clip_bytes(clip->n_notes) != c->length || clip->n_notes > clip->capacity ||
        !(span < BEAT_LIMIT)) {
        unclaim(word, v);
        return refuse(cx, ENGINE_COMMANDS_REFUSE_HANDLE);
    }
    if (engine_load_clip(cx->engine, c->header.time, id, clip) != 0) {
        unclaim(word, v);
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    }
    consume(word);
    int32_t old_track = cx->clip_track[id];
    if (old_track >= 0 && old_track != (int32_t)c->track) {
        int old_slot = cx->clip_slot[id];
        engine_place_clip(cx->engine, c->header.time, old_track, old_slot, -1, 0.0, 0.0);
        size_t at = (size_t)old_track * cx->max_placements + old_slot;
        free_slot(&cx->placement_clip[at], &cx->placement_free_at[at], when);
    }
    cx->clip_track[id] = (int32_t)c->track;
    cx->clip_slot[id] = slot;
    row[slot] = id;
    return queued(cx, engine_place_clip(cx->engine, c->header.time, (int)c->track, slot, id, start, span));
}

static int load_sample(EngineCommands *cx, const CmdLoadSample *c)
{
    if (c->sample >= (uint32_t)cx->max_samples)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    _Atomic uintptr_t *word = handle_word(cx, ENGINE_COMMANDS_SAMPLE, c->handle);
    uintptr_t v = word ? claim(word) : 0;
    if (!v)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_HANDLE);
    EngineSample *s = (EngineSample *)v;
    if (s->frames != (int64_t)c->frames || s->channels != (int32_t)c->channels || c->rate != cx->whole_rate) {
        unclaim(word, v);
        return refuse(cx, ENGINE_COMMANDS_REFUSE_HANDLE);
    }
    if (engine_load_sample(cx->engine, c->header.time, (int)c->sample, s) != 0) {
        unclaim(word, v);
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    }
    consume(word);
    return queued(cx, 0);
}

/* The lane (slot, param) of a track as the commands give it: a slot of
 * 0..max_inserts, or INSERT_LIMIT + 1 for the fader (params 0 and 1). */
static bool lane_ok(const EngineCommands *cx, uint32_t track, uint32_t slot, uint32_t param)
{
    bool fader = slot == CMD_INSERT_LIMIT + 1;
    return track_ok(cx, track) && (fader ? param <= ENGINE_FADER_PAN : slot <= (uint32_t)cx->max_inserts);
}

/* Put `lane` (NULL: clear) on the track's lane slot for (slot, param),
 * taken on first use, freed by a clear: automation and automation_lane.
 * 0 when queued (the engine has the lane), -1 when refused (counted; the
 * caller keeps the lane). */
static int lane_to(EngineCommands *cx, int64_t time, uint32_t track, uint32_t slot, uint32_t param, EngineLane *lane)
{
    int target = slot == CMD_INSERT_LIMIT + 1 ? ENGINE_LANE_FADER : (int)slot;
    uint32_t key = slot * CMD_PARAM_LIMIT + param + 1;
    uint32_t *row = &cx->lane_key[(size_t)track * cx->max_lanes];
    int64_t *free_at = &cx->lane_free_at[(size_t)track * cx->max_lanes];
    int64_t when = applies_at(cx, time);
    int found = -1, empty = -1;
    for (int k = 0; k < cx->max_lanes; k++) {
        if (row[k] == key)
            found = k;
        else if (row[k] == 0 && free_at[k] <= when && empty < 0)
            empty = k;
    }
    if (!lane) {
        if (found < 0) {                 /* no lane: nothing to clear */
            bump(&cx->count.applied);
            return 0;
        }
        if (engine_set_lane(cx->engine, time, (int)track, found, target, (int)param, NULL))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
        row[found] = 0;
        free_at[found] = when;
        return queued(cx, 0);
    }
    int k = found >= 0 ? found : empty;
    if (k < 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_FULL);
    if (engine_set_lane(cx->engine, time, (int)track, k, target, (int)param, lane) != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    row[k] = key;
    return queued(cx, 0);
}

static int automation(EngineCommands *cx, const CmdAutomation *c)
{
    if (!lane_ok(cx, c->track, c->slot, c->param))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    if (c->count == 0)
        return lane_to(cx, c->header.time, c->track, c->slot, c->param, NULL);
    _Atomic uintptr_t *word = handle_word(cx, ENGINE_COMMANDS_LANE, c->handle);
    uintptr_t v = word ? claim(word) : 0;
    if (!v)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_HANDLE);
    EngineLane *lane = (EngineLane *)v;
    if (lane->n_points != (int32_t)c->count) {
        unclaim(word, v);
        return refuse(cx, ENGINE_COMMANDS_REFUSE_HANDLE);
    }
    if (lane_to(cx, c->header.time, c->track, c->slot, c->param, lane) != 0) {
        unclaim(word, v);
        return -1;
    }
    consume(word);
    return 0;
}

/* A tempo change at `beat`: into the engine's map, then into ours the way
 * the engine inserts it (sorted by beat; a change at the same beat takes
 * the new tempo), so later positions convert through it. Full maps are
 * refused here, before the engine would refuse it at its time and the two
 * maps would differ. */
static int tempo_change_at(EngineCommands *cx, int64_t time, double beat, double bpm)
{
    if (!(beat >= 0.0 && beat < BEAT_LIMIT))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    int i = 0;
    while (i < cx->n_tempo && cx->tempo_beat[i] < beat)
        i++;
    bool same = i < cx->n_tempo && cx->tempo_beat[i] == beat;
    if (!same && cx->n_tempo >= cx->max_tempo)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_FULL);
    if (engine_add_tempo_change(cx->engine, time, beat, bpm) != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    if (!same) {
        size_t after = (size_t)(cx->n_tempo - i);
        memmove(&cx->tempo_beat[i + 1], &cx->tempo_beat[i], after * sizeof *cx->tempo_beat);
        memmove(&cx->tempo_bpm[i + 1], &cx->tempo_bpm[i], after * sizeof *cx->tempo_bpm);
        cx->tempo_beat[i] = beat;
        cx->n_tempo++;
    }
    cx->tempo_bpm[i] = bpm;
    return queued(cx, 0);
}

/* The base tempo (tempo, tempo_bpm): the engine clears its changes, and so
 * does our map. */
static int tempo_base(EngineCommands *cx, const Command *c, double bpm)
{
    int rc = c->header.type == CMD_TEMPO ? engine_queue_command(cx->engine, c)
                                         : engine_set_tempo(cx->engine, c->header.time, bpm);
    if (rc != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    cx->bpm = bpm;
    cx->n_tempo = 0;
    return queued(cx, 0);
}

/* A fader or region gain in dB: -144 and below is the engine's silence. */
static float gain_db(float db)
{
    return db <= -144.0f ? -150.0f : db;
}

/* Take region `id` off its slot in the engine (at time t) and in the
 * tables. 0, or -1 when the engine refused the call (nothing changed). The
 * slot is free for commands that apply at t or later: one timed earlier
 * would be applied before the clearing, which would then remove it. */
static int clear_region(EngineCommands *cx, int64_t t, int32_t id)
{
    int32_t track = cx->region_track[id], slot = cx->region_slot[id];
    if (engine_place_region(cx->engine, t, track, slot, -1, 0.0, 0, 0, 0.0f) != 0)
        return -1;
    size_t at = (size_t)track * cx->max_regions + slot;
    free_slot(&cx->slot_region[at], &cx->slot_free_at[at], applies_at(cx, t));
    cx->region_track[id] = -1;
    cx->region_slot[id] = -1;
    return 0;
}

/* Region `region` on the track's region slot for it: place_region and
 * place_region_beats. `start` in beats, frames of the sample, gain in dB
 * as the engine takes it. */
static int region_to(EngineCommands *cx, int64_t time, uint32_t track, uint32_t region, uint32_t sample, double start,
                     int64_t first_frame, int64_t frames, float db)
{
    if (!track_ok(cx, track) || region >= cx->region_ids || sample >= (uint32_t)cx->max_samples ||
        !(start >= 0.0 && start < BEAT_LIMIT))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    int32_t id = (int32_t)region;
    int32_t *row = &cx->slot_region[(size_t)track * cx->max_regions];
    const int64_t *free_at = &cx->slot_free_at[(size_t)track * cx->max_regions];
    bool here = cx->region_track[id] == (int32_t)track;
    int slot = here ? cx->region_slot[id] : -1;
    int64_t when = applies_at(cx, time);
    for (int k = 0; slot < 0 && k < cx->max_regions; k++)
        if (row[k] < 0 && free_at[k] <= when)
            slot = k;
    if (slot < 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_FULL);
    /* Moved to another track: off the old one first, so that a refusal
     * below leaves the tables saying what the engine has. */
    if (!here && cx->region_track[id] >= 0 && clear_region(cx, time, id) != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    if (engine_place_region(cx->engine, time, (int)track, slot, (int)sample, start, first_frame, frames, db) != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    cx->region_track[id] = (int32_t)track;
    cx->region_slot[id] = slot;
    row[slot] = id;
    return queued(cx, 0);
}

static int place_region(EngineCommands *cx, const CmdPlaceRegion *c)
{
    return region_to(cx, c->header.time, c->track, c->region, c->sample, beats_at(cx, c->start),
                     (int64_t)c->first_frame, (int64_t)c->frames, gain_db(c->db));
}

/* A project region: seconds of the sample to frames at the engine's rate,
 * rounded as project_feed rounds them (a length past the sample's end
 * plays silence there, as the shorter length project_feed gives would). */
static int place_region_beats(EngineCommands *cx, const CmdPlaceRegionBeats *c)
{
    double first = c->offset_seconds * cx->rate, frames = c->length_seconds * cx->rate;
    if (!(first < 9e15 && frames < 9e15))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    return region_to(cx, c->header.time, c->track, c->region, c->sample, c->start, llround(first),
                     c->length_seconds > 0.0 ? llround(frames) : 0, c->db);
}

static int remove_region(EngineCommands *cx, const CmdRemoveRegion *c)
{
    if (c->region >= cx->region_ids)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    if (cx->region_track[c->region] < 0) {   /* not placed: nothing to remove */
        bump(&cx->count.applied);
        return 0;
    }
    if (clear_region(cx, c->header.time, (int32_t)c->region) != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    return queued(cx, 0);
}

/* ---- clips and lanes sent note by note (drain) ------------------------------------------ */

/* The class of the smallest block holding `count` notes or points. */
static int block_class(uint32_t count)
{
    int cls = 0;
    while (cls + 1 < BLOCK_CLASSES && (uint32_t)BLOCK_MIN << (2 * cls) < count)
        cls++;
    return cls;
}

/* Claim a ready block of `kind` for `count` items: of its class, else of a
 * larger one. ENGINE_COMMANDS_RETRY when there is none (the class is asked
 * for, so the next refill makes one). */
static int take_block(EngineCommands *cx, int kind, uint32_t count, _Atomic uintptr_t **word, void **block)
{
    BlockStock *b = &cx->blocks[kind];
    int first = block_class(count);
    if (((uint32_t)BLOCK_MIN << (2 * first)) < count)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    for (int cls = first; cls < BLOCK_CLASSES; cls++)
        for (uint32_t k = 0; k < b->slots; k++) {
            _Atomic uintptr_t *w = &b->ready[(size_t)cls * b->slots + k];
            uintptr_t v = claim(w);
            if (v) {
                *word = w;
                *block = (void *)v;
                return 0;
            }
        }
    /* Relaxed: a request the control side reads at its next refill. */
    atomic_store_explicit(&b->asked[first], 1, memory_order_relaxed);
    return ENGINE_COMMANDS_RETRY;
}

/* Drop the block being filled (a new clip_notes or automation_lane came
 * before it was complete, or it was spoiled): back to its ready slot. */
static void open_drop(EngineCommands *cx)
{
    if (cx->open.kind != OPEN_NONE)
        unclaim(cx->open.word, (uintptr_t)cx->open.block);
    cx->open.kind = OPEN_NONE;
}

/* A new clip_notes or automation_lane: an unfinished one before it is
 * dropped and counted (the records that made it were counted as they
 * came). */
static void open_close_unfinished(EngineCommands *cx)
{
    if (cx->open.kind == OPEN_NONE)
        return;
    open_drop(cx);
    bump(&cx->count.dropped);
}

static int clip_notes(EngineCommands *cx, const CmdClipNotes *c)
{
    if (c->clip >= (uint32_t)cx->max_clips)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    open_close_unfinished(cx);
    if (c->count == 0)
        return queued(cx, engine_load_clip(cx->engine, c->header.time, (int)c->clip, NULL));
    _Atomic uintptr_t *word;
    void *block;
    int rc = take_block(cx, BLOCK_CLIP, c->count, &word, &block);
    if (rc != 0)
        return rc;
    cx->open = (OpenBlock){ .kind = OPEN_CLIP, .word = word, .block = block, .count = c->count,
                            .time = c->header.time, .clip = c->clip };
    bump(&cx->count.applied);
    return 0;
}

/* The last note or point has come: the block goes to the engine. */
static int open_finish(EngineCommands *cx)
{
    OpenBlock *o = &cx->open;
    if (o->spoiled) {
        open_drop(cx);
        return refuse(cx, ENGINE_COMMANDS_REFUSE_SEQUENCE);
    }
    int rc;
    if (o->kind == OPEN_CLIP) {
        EngineClip *clip = o->block;
        clip->n_notes = (int32_t)o->count;
        rc = engine_load_clip(cx->engine, o->time, (int)o->clip, clip) != 0
                 ? refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE) : queued(cx, 0);
    } else {
        EngineLane *lane = o->block;
        lane->n_points = (int32_t)o->count;
        lane->unit = ENGINE_TIME_BEATS;
        rc = lane_to(cx, o->time, o->track, o->slot, o->param, lane);
    }
    if (rc != 0) {
        open_drop(cx);
        return -1;
    }
    consume(o->word);
    o->kind = OPEN_NONE;
    return 0;
}

static int clip_note(EngineCommands *cx, const CmdClipNote *c)
{
    OpenBlock *o = &cx->open;
    if (o->kind != OPEN_CLIP || o->clip != c->clip)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_SEQUENCE);
    EngineClip *clip = o->block;
    if (o->got > 0 && c->start < o->last)
        o->spoiled = true;
    clip->notes[o->got++] = (EngineNote){ .start = c->start, .length = c->length, .key = c->key,
                                          .vel = c->velocity };
    o->last = c->start;
    if (o->got < o->count) {
        bump(&cx->count.applied);
        return 0;
    }
    return open_finish(cx);
}

static int automation_lane(EngineCommands *cx, const CmdAutomationLane *c)
{
    if (!lane_ok(cx, c->track, c->slot, c->param))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    open_close_unfinished(cx);
    if (c->count == 0)
        return lane_to(cx, c->header.time, c->track, c->slot, c->param, NULL);
    _Atomic uintptr_t *word;
    void *block;
    int rc = take_block(cx, BLOCK_LANE, c->count, &word, &block);
    if (rc != 0)
        return rc;
    cx->open = (OpenBlock){ .kind = OPEN_LANE, .word = word, .block = block, .count = c->count,
                            .time = c->header.time, .track = c->track, .slot = c->slot, .param = c->param };
    bump(&cx->count.applied);
    return 0;
}

static int automation_point(EngineCommands *cx, const CmdAutomationPoint *c)
{
    OpenBlock *o = &cx->open;
    if (o->kind != OPEN_LANE || o->track != c->track || o->slot != c->slot || o->param != c->param)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_SEQUENCE);
    EngineLane *lane = o->block;
    if (o->got > 0 && c->beat < o->last)
        o->spoiled = true;
    lane->points[o->got++] = (EnginePoint){ .time = c->beat, .value = c->value };
    o->last = c->beat;
    if (o->got < o->count) {
        bump(&cx->count.applied);
        return 0;
    }
    return open_finish(cx);
}

/* ---- placements by id (drain) ------------------------------------------------------------- */

/* Take placement `id` off its slot in the engine (at time t) and in the
 * tables; as clear_region. */
static int clear_placement(EngineCommands *cx, int64_t t, int32_t id)
{
    int32_t track = cx->placement_track[id], slot = cx->placement_slot[id];
    if (engine_place_clip(cx->engine, t, track, slot, -1, 0.0, 0.0) != 0)
        return -1;
    size_t at = (size_t)track * cx->max_placements + slot;
    cx->slot_placement[at] = -1;
    free_slot(&cx->placement_clip[at], &cx->placement_free_at[at], applies_at(cx, t));
    cx->placement_track[id] = -1;
    cx->placement_slot[id] = -1;
    return 0;
}

static int place_clip_beats(EngineCommands *cx, const CmdPlaceClipBeats *c)
{
    if (!track_ok(cx, c->track) || c->placement >= cx->placement_ids || c->clip >= (uint32_t)cx->max_clips ||
        !(c->start < BEAT_LIMIT) || (c->loop != 0.0 && c->loop < ENGINE_LOOP_MIN))
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    int32_t id = (int32_t)c->placement;
    int32_t *row = &cx->placement_clip[(size_t)c->track * cx->max_placements];
    const int64_t *free_at = &cx->placement_free_at[(size_t)c->track * cx->max_placements];
    bool here = cx->placement_track[id] == (int32_t)c->track;
    int slot = here ? cx->placement_slot[id] : -1;
    int64_t when = applies_at(cx, c->header.time);
    for (int k = 0; slot < 0 && k < cx->max_placements; k++)
        if (row[k] == -1 && free_at[k] <= when)
            slot = k;
    if (slot < 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_FULL);
    if (!here && cx->placement_track[id] >= 0 && clear_placement(cx, c->header.time, id) != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    if (engine_place_clip_looped(cx->engine, c->header.time, (int)c->track, slot, (int)c->clip, c->start, c->length,
                                 c->loop) != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    cx->placement_track[id] = (int32_t)c->track;
    cx->placement_slot[id] = slot;
    row[slot] = BY_ID;
    cx->slot_placement[(size_t)c->track * cx->max_placements + slot] = id;
    return queued(cx, 0);
}

static int remove_placement(EngineCommands *cx, const CmdRemovePlacement *c)
{
    if (c->placement >= cx->placement_ids)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
    if (cx->placement_track[c->placement] < 0) {   /* not placed: nothing to remove */
        bump(&cx->count.applied);
        return 0;
    }
    if (clear_placement(cx, c->header.time, (int32_t)c->placement) != 0)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
    return queued(cx, 0);
}

static int apply(EngineCommands *cx, const Command *c)
{
    Engine *e = cx->engine;
    int64_t t = c->header.time;
    if (cx->max_ahead > 0 && t - engine_now(e) > cx->max_ahead)
        return refuse(cx, ENGINE_COMMANDS_REFUSE_TIME);
    switch ((CmdType)c->header.type) {
    case CMD_PLAY:
    case CMD_STOP:
    case CMD_TIME_SIGNATURE:
    case CMD_TIME_SIGNATURE_CHANGE:
    case CMD_METRONOME:
    case CMD_SET_MASTER_GAIN:
        return queued(cx, engine_queue_command(e, c));
    case CMD_SEEK_BEAT:
        return queued(cx, engine_seek(e, t, c->seek_beat.beat));
    case CMD_LOOP_BEATS:
        return queued(cx, engine_set_loop(e, t, c->loop_beats.enabled, c->loop_beats.start, c->loop_beats.end));
    case CMD_TEMPO_BPM:
        return tempo_base(cx, c, c->tempo_bpm.bpm);
    case CMD_TEMPO_CHANGE_BEAT:
        return tempo_change_at(cx, t, c->tempo_change_beat.beat, c->tempo_change_beat.bpm);
    case CMD_FADER_GAIN:
        if (c->fader_gain.track != ENGINE_MASTER && !track_ok(cx, (uint32_t)c->fader_gain.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_set_gain(e, t, c->fader_gain.track, c->fader_gain.db));
    case CMD_SEEK: {
        double beat = beats_at(cx, c->seek.position);
        if (!(beat < BEAT_LIMIT))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_seek(e, t, beat));
    }
    case CMD_LOOP: {
        double start = beats_at(cx, c->loop.start), end = beats_at(cx, c->loop.end);
        if (!(end < BEAT_LIMIT) || (c->loop.enabled && !(end > start)))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_set_loop(e, t, c->loop.enabled, start, end));
    }
    case CMD_TEMPO:
        return tempo_base(cx, c, (double)c->tempo.bpm);
    case CMD_TEMPO_CHANGE:
        return tempo_change_at(cx, t, beats_at(cx, c->tempo_change.position), (double)c->tempo_change.bpm);
    case CMD_NOTE_ON:
        if (!track_ok(cx, c->note_on.track) || c->note_on.note_id > ENGINE_LIVE_NOTE_MAX)
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_NOTE_OFF:
        if (!track_ok(cx, c->note_off.track) || c->note_off.note_id > ENGINE_LIVE_NOTE_MAX)
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_ALL_NOTES_OFF:
        if (!c->all_notes_off.every_track && !track_ok(cx, c->all_notes_off.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_PANIC:
        if (!c->panic.every_track && !track_ok(cx, c->panic.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_SET_PARAM:
        if (!track_ok(cx, c->set_param.track) || c->set_param.slot > (uint32_t)cx->max_inserts)
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_AUTOMATION:
        return automation(cx, &c->automation);
    case CMD_AUTOMATION_LANE:
        return automation_lane(cx, &c->automation_lane);
    case CMD_AUTOMATION_POINT:
        return automation_point(cx, &c->automation_point);
    case CMD_SETTLE:
        if (!track_ok(cx, c->settle.track) || c->settle.slot > (uint32_t)cx->max_inserts)
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_SET_TRACK_POSITION:
        if (!track_ok(cx, c->set_track_position.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_ADD_TRACK:
        if (!track_ok(cx, c->add_track.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_REMOVE_TRACK:
        if (!track_ok(cx, c->remove_track.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        if (engine_queue_command(e, c) != 0)
            return refuse(cx, ENGINE_COMMANDS_REFUSE_ENGINE);
        clear_track(cx, c->remove_track.track, t);
        return queued(cx, 0);
    case CMD_SET_INSTRUMENT:
        return set_instrument(cx, &c->set_instrument);
    case CMD_ADD_INSERT:
        return add_insert(cx, &c->add_insert);
    case CMD_SWAP_PATCH:
        return swap_patch(cx, &c->swap_patch);
    case CMD_REMOVE_INSERT:
        if (!track_ok(cx, c->remove_insert.track) || !position_ok(cx, c->remove_insert.position))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_MOVE_INSERT:
        if (!track_ok(cx, c->move_insert.track) || !position_ok(cx, c->move_insert.from) ||
            !position_ok(cx, c->move_insert.to))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_SET_SEND:
        return set_send(cx, &c->set_send);
    case CMD_SET_SEND_DB:
        return send_to(cx, t, c->set_send_db.track, c->set_send_db.bus, c->set_send_db.remove, c->set_send_db.db);
    case CMD_SET_VOICE_MODE:
        if (!track_ok(cx, c->set_voice_mode.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_SET_GAIN:
        if (!track_ok(cx, c->set_gain.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_SET_PAN:
        if (!track_ok(cx, c->set_pan.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_SET_MUTE:
        if (!track_ok(cx, c->set_mute.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_SET_SOLO:
        if (!track_ok(cx, c->set_solo.track))
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_LOAD_CLIP:
        return load_clip(cx, &c->load_clip);
    case CMD_LOAD_SAMPLE:
        return load_sample(cx, &c->load_sample);
    case CMD_PLACE_REGION:
        return place_region(cx, &c->place_region);
    case CMD_REMOVE_REGION:
        return remove_region(cx, &c->remove_region);
    case CMD_PLACE_REGION_BEATS:
        return place_region_beats(cx, &c->place_region_beats);
    case CMD_BIND_SAMPLE:
        if (!track_ok(cx, c->bind_sample.track) || c->bind_sample.sample >= cx->max_samples)
            return refuse(cx, ENGINE_COMMANDS_REFUSE_RANGE);
        return queued(cx, engine_queue_command(e, c));
    case CMD_CLIP_NOTES:
        return clip_notes(cx, &c->clip_notes);
    case CMD_CLIP_NOTE:
        return clip_note(cx, &c->clip_note);
    case CMD_PLACE_CLIP_BEATS:
        return place_clip_beats(cx, &c->place_clip_beats);
    case CMD_REMOVE_PLACEMENT:
        return remove_placement(cx, &c->remove_placement);
    /* the engine's own commands, which name its slots and parcels: only
     * its calls make them (engine.h) */
    case CMD_SET_LANE:
    case CMD_SET_INSTRUMENT_NODE:
    case CMD_INSERT_NODE:
    case CMD_SWAP_NODE:
    case CMD_SEND_SLOT:
    case CMD_LOAD_CLIP_BLOCK:
    case CMD_PLACE_CLIP:
    case CMD_LOAD_SAMPLE_BLOCK:
    case CMD_PLACE_REGION_SLOT:
        break;
    }
    return refuse(cx, ENGINE_COMMANDS_REFUSE_UNKNOWN);
}

int engine_apply_command(Engine *e, const Command *c)
{
    EngineCommands *cx = engine_commands_of(e);
    if (!cx || !c)
        return -1;
    return apply(cx, c);
}

/* ---- the drain (audio) ---------------------------------------------------------------------- */

static void reject(EngineCommands *cx, int status)
{
    bump(&cx->count.rejected);
    if (status < 0 && -status < ENGINE_COMMANDS_DECODE_ERRORS)
        bump(&cx->count.rejected_by[-status]);
}

/* Retry the command waiting for a node. False while it still waits. */
static bool retry_waiting(EngineCommands *cx)
{
    if (!cx->has_waiting)
        return true;
    int rc = apply(cx, &cx->waiting);
    if (rc == ENGINE_COMMANDS_RETRY) {
        if (++cx->waited <= cx->cfg.wait_limit) {
            bump(&cx->count.waits);
            return false;
        }
        refuse(cx, ENGINE_COMMANDS_REFUSE_NO_NODE);
    }
    cx->has_waiting = false;
    atomic_store_explicit(&cx->count.waiting, 0, memory_order_relaxed);
    return true;
}

int engine_drain_ring(Engine *e, void *ring, uint32_t max_commands)
{
    EngineCommands *cx = engine_commands_of(e);
    if (!cx || !ring)
        return -1;
    if (!retry_waiting(cx))
        return 0;
    _Alignas(8) unsigned char record[CMD_SIZE_MAX];
    uint32_t n = 0;
    while (n < max_commands) {
        int32_t len = rb_read(ring, record, sizeof record);
        if (len == RB_EMPTY)
            break;
        if (len == RB_CORRUPT) {         /* nothing can be read past it: stop */
            bump(&cx->count.ring_corrupt);
            break;
        }
        n++;
        bump(&cx->count.records);
        if (len == RB_TOO_SMALL) {       /* longer than any command */
            rb_skip(ring);
            reject(cx, CMD_ERR_LENGTH);
            continue;
        }
        Command c;
        int status = cmd_decode(record, (uint32_t)len, &c);
        if (status != CMD_OK) {
            reject(cx, status);
            continue;
        }
        if (apply(cx, &c) == ENGINE_COMMANDS_RETRY) {
            cx->waiting = c;
            cx->has_waiting = true;
            cx->waited = 0;
            atomic_store_explicit(&cx->count.waiting, 1, memory_order_relaxed);
            bump(&cx->count.waits);
            break;
        }
    }
    return (int)n;
}
