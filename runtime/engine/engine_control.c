/* engine_control.c — the engine's control side: configuration, the one
 * block of memory and its pools (patch states, clips, samples, lanes), the
 * event poll, and the engine_* calls of engine.h, each of which checks its
 * arguments, builds one commands.def record and queues it (the producer
 * end of the command queue; engine_apply.c is the consumer).
 *
 * Threads: everything here runs on the control thread (one at a time),
 * except engine_state_read's callers elsewhere; nothing here runs on the
 * audio thread. It allocates only in engine_init (and frees in
 * engine_free); the pools are carved from that block.
 */
#include "util.h"
#include "engine_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef __EMSCRIPTEN__
#include <time.h>
#endif

#include "ring.h"
#include "voice.h"

/* The state region's layout (EngineState, EngineEvent) is pinned by the
 * static asserts layout.h expands from layout.def. */

static size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

static void heap_init(Heap *h, void *mem, size_t bytes)
{
    h->base = mem;
    h->bytes = bytes / ALIGN * ALIGN;
    h->used = 0;
    if (h->bytes < 2 * HEAP_HEADER) {
        h->bytes = 0;
        return;
    }
    HeapBlock *b = mem;
    b->size = h->bytes;
    b->prev_size = 0;
    b->free = 1;
    b->magic = HEAP_MAGIC;
}

static HeapBlock *heap_next(const Heap *h, HeapBlock *b)
{
    unsigned char *next = (unsigned char *)b + b->size;
    return next < h->base + h->bytes ? (HeapBlock *)next : NULL;
}

static void *heap_alloc(Heap *h, size_t n)
{
    if (n > h->bytes)
        return NULL;
    size_t need = HEAP_HEADER + round_up(n ? n : 1, ALIGN);
    for (HeapBlock *b = h->bytes ? (HeapBlock *)h->base : NULL; b; b = heap_next(h, b)) {
        if (!b->free || b->size < need)
            continue;
        if (b->size - need >= 2 * HEAP_HEADER) {
            HeapBlock *rest = (HeapBlock *)((unsigned char *)b + need);
            rest->size = b->size - need;
            rest->prev_size = need;
            rest->free = 1;
            rest->magic = HEAP_MAGIC;
            HeapBlock *after = heap_next(h, rest);
            if (after)
                after->prev_size = rest->size;
            b->size = need;
        }
        b->free = 0;
        h->used += b->size;
        return (unsigned char *)b + HEAP_HEADER;
    }
    return NULL;
}

static bool heap_owns(const Heap *h, const void *p)
{
    const unsigned char *c = p;
    return c >= h->base + HEAP_HEADER && c < h->base + h->bytes;
}

static void heap_free(Heap *h, void *p)
{
    if (!p || !heap_owns(h, p))
        return;
    HeapBlock *b = (HeapBlock *)((unsigned char *)p - HEAP_HEADER);
    if (b->magic != HEAP_MAGIC || b->free)
        return;
    b->free = 1;
    h->used -= b->size;
    HeapBlock *next = heap_next(h, b);
    if (next && next->free) {
        b->size += next->size;
        next->magic = 0;
        HeapBlock *after = heap_next(h, b);
        if (after)
            after->prev_size = b->size;
    }
    if (b->prev_size) {
        HeapBlock *prev = (HeapBlock *)((unsigned char *)b - b->prev_size);
        if (prev->free) {
            prev->size += b->size;
            b->magic = 0;
            HeapBlock *after = heap_next(h, prev);
            if (after)
                after->prev_size = prev->size;
        }
    }
}

/* ======================================================================== */
/* Configuration and memory                                                 */
/* ======================================================================== */

void engine_config_default(EngineConfig *cfg, float sample_rate)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->sample_rate = sample_rate;
    cfg->max_block = 1024;
    cfg->max_tracks = ENGINE_MAX_TRACKS;
    cfg->max_inserts = ENGINE_MAX_INSERTS;
    cfg->max_sends = 8;
    cfg->max_nodes = ENGINE_MAX_TRACKS * ENGINE_MAX_SLOTS;
    cfg->state_bytes = (size_t)128 << 20;
    cfg->max_clips = 1024;
    cfg->max_placements = 256;
    cfg->clip_bytes = (size_t)16 << 20;
    cfg->max_clip_notes = 128;
    cfg->max_samples = 256;
    cfg->max_regions = 256;
    cfg->sample_bytes = (size_t)256 << 20;
    cfg->max_lanes = 32;
    cfg->lane_bytes = (size_t)4 << 20;
    cfg->max_tempo_points = 256;
    cfg->queue_size = 4096;
    cfg->event_ring_bytes = 1 << 16;
#ifndef __EMSCRIPTEN__
    cfg->clock = engine_clock_monotonic;
#endif
}

static int check_config(const EngineConfig *c, char *err, size_t errlen)
{
    /* the rates a patch is made for (amp_patch.h): delay lines sized in
     * time hold their time up to AMP_MAX_SAMPLE_RATE */
    if (!(c->sample_rate >= AMP_MIN_SAMPLE_RATE && c->sample_rate <= AMP_MAX_SAMPLE_RATE))
        return fail(err, errlen, "sample rate %g Hz is not supported (%d to %d Hz)", (double)c->sample_rate,
                    AMP_MIN_SAMPLE_RATE, AMP_MAX_SAMPLE_RATE);
    if (c->max_block < 1 || c->max_block > 65536)
        return fail(err, errlen, "max_block %d is outside 1..65536", c->max_block);
    if (c->max_tracks < 1 || c->max_tracks > ENGINE_MAX_TRACKS)
        return fail(err, errlen, "max_tracks %d is outside 1..%d", c->max_tracks, ENGINE_MAX_TRACKS);
    if (c->max_inserts < 0 || c->max_inserts > ENGINE_MAX_INSERTS)
        return fail(err, errlen, "max_inserts %d is outside 0..%d", c->max_inserts, ENGINE_MAX_INSERTS);
    if (c->max_sends < 0 || c->max_sends > 64 || c->max_nodes < 0 || c->max_nodes > 1 << 20 ||
        c->max_clips < 0 || c->max_clips > 1 << 24 || c->max_placements < 0 ||
        c->max_placements > 1 << 16 || c->max_clip_notes < 0 || c->max_clip_notes > 1 << 16 ||
        c->max_samples < 0 || c->max_samples > 1 << 20 || c->max_regions < 0 ||
        c->max_regions > 1 << 16 || c->max_lanes < 0 || c->max_lanes > 1 << 12 ||
        c->max_tempo_points < 0 || c->max_tempo_points > 1 << 16)
        return fail(err, errlen, "a table size is out of range");
    if (c->queue_size < 1 || c->queue_size > 1 << 20)
        return fail(err, errlen, "queue_size %d is outside 1..%d", c->queue_size, 1 << 20);
    if (!rb_bytes_needed((uint32_t)c->event_ring_bytes) ||
        (uint32_t)c->event_ring_bytes < rb_record_bytes(sizeof(EngineEvent)))
        return fail(err, errlen, "event_ring_bytes %d is not a power of two of at least %u",
                    c->event_ring_bytes, rb_record_bytes(sizeof(EngineEvent)));
    return 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* Carving the one block: `total` sums the sizes on a first pass (base
 * NULL), then the same calls hand out the pieces. */
typedef struct Carver {
    unsigned char *base;
    size_t total;
} Carver;

static void *carve(Carver *c, size_t bytes)
{
    size_t at = round_up(c->total, ALIGN);
    c->total = at + round_up(bytes, ALIGN);
    return c->base ? c->base + at : NULL;
}

/* Lay out (or measure, with c->base NULL) everything engine_init needs. */
static void layout(Engine *e, Carver *c)
{
    const EngineConfig *cfg = &e->cfg;
    size_t block = (size_t)cfg->max_block * sizeof(float);
    uint32_t qcap = e->queue.mask + 1;

    e->shared = carve(c, sizeof(EngineState));
    e->queue.slots = carve(c, qcap * sizeof(Command));
    e->pending = carve(c, qcap * sizeof(PendingCommand));
    e->parcels = carve(c, (size_t)e->n_parcels * sizeof(*e->parcels));
    e->events = carve(c, rb_bytes_needed((uint32_t)cfg->event_ring_bytes));
    size_t pool_bytes = cfg->max_nodes > 0 ? pool_bytes_needed(sizeof(EngineNode), (uint32_t)cfg->max_nodes) : 0;
    void *pool_mem = carve(c, pool_bytes);
    void *state_mem = carve(c, cfg->state_bytes);
    void *clip_mem = carve(c, cfg->clip_bytes);
    void *sample_mem = carve(c, cfg->sample_bytes);
    void *lane_mem = carve(c, cfg->lane_bytes);
    e->tracks = carve(c, (size_t)cfg->max_tracks * sizeof(Track));
    e->order = carve(c, (size_t)cfg->max_tracks * sizeof(int));
    e->clips = carve(c, (size_t)cfg->max_clips * sizeof(EngineClip *));
    e->samples = carve(c, (size_t)cfg->max_samples * sizeof(EngineSample *));
    e->tempo_points = carve(c, (size_t)cfg->max_tempo_points * sizeof(TempoPoint));
    e->sig_points = carve(c, (size_t)cfg->max_tempo_points * sizeof(SigPoint));
    e->click_len = (int)lround(CLICK_SECONDS * (double)cfg->sample_rate);
    for (int k = 0; k < 2; k++)
        e->click[k] = carve(c, (size_t)e->click_len * sizeof(float));
    for (int k = 0; k < 2; k++)
        e->mix[k] = carve(c, block);
    for (int k = 0; k < ENGINE_MAX_CHANNELS; k++)
        e->scratch[k] = carve(c, block);
    for (int k = 0; k < ENGINE_MAX_CHANNELS; k++)
        e->fade_out[k] = carve(c, block);
    e->mono = carve(c, block);
    e->silence = carve(c, block);
    for (int i = 0; i < cfg->max_tracks; i++) {
        Track *t = c->base ? &e->tracks[i] : NULL;
        void *inserts = carve(c, (size_t)cfg->max_inserts * sizeof(EngineNode *));
        void *sends = carve(c, (size_t)cfg->max_sends * sizeof(Send));
        void *placements = carve(c, (size_t)cfg->max_placements * sizeof(Placement));
        void *regions = carve(c, (size_t)cfg->max_regions * sizeof(Region));
        void *lanes = carve(c, (size_t)cfg->max_lanes * sizeof(Lane));
        void *sounding = carve(c, (size_t)cfg->max_clip_notes * sizeof(Sounding));
        void *left = carve(c, block), *right = carve(c, block);
        if (t) {
            t->inserts = inserts;
            t->sends = sends;
            t->placements = placements;
            t->regions = regions;
            t->lanes = lanes;
            t->sounding = sounding;
            t->buf[0] = left;
            t->buf[1] = right;
        }
    }
    if (!c->base)
        return;
    e->node_pool = pool_bytes ? pool_init(pool_mem, pool_bytes, sizeof(EngineNode), (uint32_t)cfg->max_nodes) : NULL;
    heap_init(&e->state_heap, state_mem, cfg->state_bytes);
    heap_init(&e->clip_heap, clip_mem, cfg->clip_bytes);
    heap_init(&e->sample_heap, sample_mem, cfg->sample_bytes);
    heap_init(&e->lane_heap, lane_mem, cfg->lane_bytes);
}

/* The metronome's two clicks (a beat, an accent an octave up): peak
 * level, then cos(2 pi f n / rate) under exp(-n / (decay * rate)). The
 * phase is reduced in double and the kernels are the runtime's, so the
 * tables are the same bits natively and in WebAssembly. */
static void make_clicks(Engine *e)
{
    double rate = (double)e->sr;
    for (int k = 0; k < 2; k++) {
        double hz = CLICK_HZ * (k ? 2.0 : 1.0);
        float level = k ? CLICK_ACCENT_LEVEL : CLICK_LEVEL;
        for (int n = 0; n < e->click_len; n++) {
            double cycles = hz * n / rate;
            double phase = cycles - floor(cycles);             /* [0, 1) */
            float a = (float)((phase > 0.5 ? phase - 1.0 : phase) * 6.283185307179586);   /* [-pi, pi] */
            float decay = amp_expf((float)(-n / (CLICK_DECAY * rate)));
            e->click[k][n] = level * amp_cosf(a) * decay;
        }
    }
}

void engine_track_clear(Engine *e, Track *t, int id)
{
    const EngineConfig *cfg = &e->cfg;
    t->kind = ENGINE_TRACK_NONE;
    t->id = id;
    t->position = (uint32_t)id;
    t->inst = NULL;
    t->fade_node = NULL;
    t->n_inserts = 0;
    t->gain_db = 0.0f;
    t->pan = 0.0f;
    t->mute = t->solo = 0;
    t->heard = 1;
    t->fed_by_solo = 0;
    t->fresh = 1;
    ramp_jump(&t->gl, 0.0f);
    ramp_jump(&t->gr, 0.0f);
    for (int i = 0; i < cfg->max_sends; i++) {
        t->sends[i].bus = -1;
        t->sends[i].level_db = 0.0f;
        ramp_jump(&t->sends[i].ramp, 0.0f);
    }
    for (int i = 0; i < cfg->max_placements; i++)
        t->placements[i] = (Placement){ .clip = -1 };
    for (int i = 0; i < cfg->max_regions; i++)
        t->regions[i] = (Region){ .sample = -1 };
    for (int i = 0; i < cfg->max_lanes; i++)
        t->lanes[i] = (Lane){ .data = NULL };
    t->placements_used = t->regions_used = t->lanes_used = 0;
    t->n_sounding = 0;
    t->n_held = 0;
    t->held_order = 0;
    t->mode = ENGINE_VOICE_POLY;
    t->priority = ENGINE_PRIORITY_LAST;
    t->mono_id = -1;
    memset(&t->meter, 0, sizeof t->meter);
    t->faults = t->notes_refused = 0;
    t->src_faulted = 0;
    for (int i = 0; i < ENGINE_SAMPLE_SLOTS; i++)
        t->sample_bind[i] = -1;
}

Engine *engine_init(const EngineConfig *cfg, char *err, size_t errlen)
{
    if (!cfg || check_config(cfg, err, errlen))
        return NULL;
    Engine *e = aligned_alloc(ALIGN, round_up(sizeof(Engine), ALIGN));
    if (!e) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    memset(e, 0, sizeof *e);
    e->cfg = *cfg;
    e->sr = cfg->sample_rate;
    e->queue.mask = pow2_at_least((uint32_t)cfg->queue_size) - 1;
    e->pending_cap = (int)(e->queue.mask + 1);
    /* A parcel is held by one command, queued or pending: never more than both hold. */
    e->n_parcels = 2 * (e->queue.mask + 1);

    Carver c = { NULL, 0 };
    layout(e, &c);
    /* calloc: pages of the pools stay untouched until used. */
    e->memory = calloc(1, c.total + ALIGN);
    if (!e->memory) {
        fail(err, errlen, "out of memory for the engine's %zu bytes", c.total);
        free(e);
        return NULL;
    }
    c.base = (unsigned char *)round_up((size_t)(uintptr_t)e->memory, ALIGN);
    c.total = 0;
    layout(e, &c);
    if (cfg->max_nodes > 0 && !e->node_pool) {
        fail(err, errlen, "cannot lay out the node pool");
        engine_free(e);
        return NULL;
    }
    rb_init(e->events, (uint32_t)cfg->event_ring_bytes);
    atomic_init(&e->queue.write, 0);
    atomic_init(&e->queue.read, 0);
    atomic_init(&e->cmd_refused, 0);
    atomic_init(&e->nodes_refused, 0);
    atomic_init(&e->buffers_refused, 0);
    for (uint32_t i = 0; i < e->n_parcels; i++)
        atomic_init(&e->parcels[i], 0);

    for (int i = 0; i < cfg->max_tracks; i++)
        engine_track_clear(e, &e->tracks[i], i);
    e->base_bpm = e->bpm = 120.0;
    e->tempo_index = -1;
    e->sig_num = 4;
    e->sig_den = 4;
    e->loop_start = 0.0;
    e->loop_end = 4.0;
    make_clicks(e);
    e->click_pos = -1;
    e->metro_db = 0.0f;
    e->metro_gain = 1.0f;
    engine_metronome_seek(e, 0.0);
    ramp_jump(&e->master, 1.0f);
    long window = lround(ENGINE_METER_SECONDS * e->sr);
    e->meter_window = window < 1 ? 1 : (int)window;
    e->last_fault_track = e->last_fault_slot = -1;

    e->priv.version = ENGINE_STATE_VERSION;
    e->priv.size = sizeof(EngineState);
    e->priv.max_tracks = (uint32_t)cfg->max_tracks;
    e->priv.sample_rate = (uint32_t)lroundf(e->sr);
    *e->shared = e->priv;
    return e;
}

void engine_free(Engine *e)
{
    if (!e)
        return;
    free(e->memory);
    free(e);
}

const EngineConfig *engine_config(const Engine *e)
{
    return &e->cfg;
}

int engine_queue_capacity(const Engine *e)
{
    return (int)(e->queue.mask + 1);
}

int64_t engine_now(const Engine *e)
{
    return e->now;
}

/* ======================================================================== */
/* Pools (control side)                                                     */
/* ======================================================================== */

/* The voice table for a track's mode: the patch's own count and stealing
 * in poly mode, one voice that steals (fades) in mono and legato. */
void engine_node_voices_init(Engine *e, EngineNode *nd, int mode)
{
    if (!nd->poly)
        return;
    const AmpPatchDesc *d = nd->desc;
    if (mode == ENGINE_VOICE_POLY)
        voice_table_init(d->voices(nd->state), d->max_voices, d->steal, e->sr);
    else
        voice_table_init(d->voices(nd->state), 1, AMP_STEAL_OLDEST, e->sr);
}

EngineNode *engine_node_new(Engine *e, const AmpPatchDesc *desc, char *err, size_t errlen)
{
    if (check_patch_desc(desc, ENGINE_MAX_CHANNELS, err, errlen))
        return NULL;
    EngineNode *nd = e->node_pool ? pool_alloc(e->node_pool) : NULL;
    if (!nd) {
        count(&e->nodes_refused);
        fail(err, errlen, "the node pool is full (%d patch instances)", e->cfg.max_nodes);
        return NULL;
    }
    void *state = heap_alloc(&e->state_heap, desc->state_size);
    if (!state) {
        pool_free(e->node_pool, nd);
        count(&e->nodes_refused);
        fail(err, errlen, "the state pool is full: patch '%s' needs %zu bytes, %zu of %zu in use",
             desc->name ? desc->name : "?", desc->state_size, e->state_heap.used, e->state_heap.bytes);
        return NULL;
    }
    memset(state, 0, desc->state_size);
    memset(nd, 0, sizeof *nd);
    nd->desc = desc;
    nd->state = state;
    nd->poly = desc->max_voices > 0;
    desc->init(state, e->sr);
    engine_node_voices_init(e, nd, ENGINE_VOICE_POLY);
    return nd;
}

void engine_node_free(Engine *e, EngineNode *nd)
{
    if (!nd)
        return;
    heap_free(&e->state_heap, nd->state);
    pool_free(e->node_pool, nd);
}

const AmpPatchDesc *engine_node_desc(const EngineNode *nd)
{
    return nd->desc;
}

void *engine_node_state(EngineNode *nd)
{
    return nd->state;
}

int engine_node_param_index(const EngineNode *nd, const char *name)
{
    for (int i = 0; i < nd->desc->n_params; i++)
        if (nd->desc->params[i].name && !strcmp(nd->desc->params[i].name, name))
            return i;
    return -1;
}

void engine_node_set_param(EngineNode *nd, int index, float value)
{
    if (index >= 0 && index < nd->desc->n_params)
        nd->desc->set_param(nd->state, index, value);
}

void engine_node_settle(EngineNode *nd)
{
    nd->desc->reset(nd->state);
    if (nd->poly) {
        AmpVoiceTable *vt = nd->desc->voices(nd->state);
        voice_table_init(vt, vt->max_voices, vt->steal, vt->sample_rate);
    }
}

EngineClip *engine_clip_new(Engine *e, int n_notes)
{
    if (n_notes < 0)
        return NULL;
    EngineClip *c = heap_alloc(&e->clip_heap, sizeof(EngineClip) + (size_t)n_notes * sizeof(EngineNote));
    if (!c) {
        count(&e->buffers_refused);
        return NULL;
    }
    memset(c, 0, sizeof(EngineClip) + (size_t)n_notes * sizeof(EngineNote));
    c->n_notes = c->capacity = n_notes;
    return c;
}

EngineSample *engine_sample_new(Engine *e, int channels, int64_t frames)
{
    if (channels < 1 || channels > ENGINE_MAX_CHANNELS || frames < 0 ||
        (uint64_t)frames > (SIZE_MAX / sizeof(float) - ALIGN) / (size_t)ENGINE_MAX_CHANNELS)
        return NULL;
    size_t chan_bytes = round_up((size_t)frames * sizeof(float), ALIGN);
    size_t head = round_up(sizeof(EngineSample), ALIGN);
    EngineSample *s = heap_alloc(&e->sample_heap, head + (size_t)channels * chan_bytes);
    if (!s) {
        count(&e->buffers_refused);
        return NULL;
    }
    memset(s, 0, head + (size_t)channels * chan_bytes);
    s->channels = channels;
    s->frames = frames;
    for (int ch = 0; ch < channels; ch++)
        s->data[ch] = (float *)((unsigned char *)s + head + (size_t)ch * chan_bytes);
    return s;
}

EngineLane *engine_lane_new(Engine *e, int n_points)
{
    if (n_points < 1)
        return NULL;
    size_t bytes = sizeof(EngineLane) + (size_t)n_points * sizeof(EnginePoint);
    EngineLane *l = heap_alloc(&e->lane_heap, bytes);
    if (!l) {
        count(&e->buffers_refused);
        return NULL;
    }
    memset(l, 0, bytes);
    l->n_points = n_points;
    return l;
}

void engine_clip_free(Engine *e, EngineClip *clip)
{
    heap_free(&e->clip_heap, clip);
}

void engine_sample_free(Engine *e, EngineSample *sample)
{
    heap_free(&e->sample_heap, sample);
}

void engine_lane_free(Engine *e, EngineLane *lane)
{
    heap_free(&e->lane_heap, lane);
}

int engine_poll(Engine *e, EngineEvent *ev)
{
    return rb_read(e->events, ev, sizeof *ev) == (int32_t)sizeof *ev;
}

void engine_release(Engine *e, const EngineEvent *ev)
{
    switch (ev->kind) {
    case ENGINE_EV_NODE_RELEASED: engine_node_free(e, ev->ptr); break;
    case ENGINE_EV_CLIP_RELEASED: engine_clip_free(e, ev->ptr); break;
    case ENGINE_EV_SAMPLE_RELEASED: engine_sample_free(e, ev->ptr); break;
    case ENGINE_EV_LANE_RELEASED: engine_lane_free(e, ev->ptr); break;
    default: break;
    }
}

int engine_drain(Engine *e, int *faults, int *refusals)
{
    EngineEvent ev;
    int n = 0;
    while (engine_poll(e, &ev)) {
        n++;
        if (faults && ev.kind == ENGINE_EV_NODE_FAULT)
            ++*faults;
        if (refusals && ev.kind == ENGINE_EV_REFUSED)
            ++*refusals;
        engine_release(e, &ev);
    }
    return n;
}

void *engine_event_ring(Engine *e)
{
    return e->events;
}

#ifndef __EMSCRIPTEN__
uint64_t engine_clock_monotonic(void *user)
{
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

/* Producer side: one record, as the engine_* calls and the ring drain
 * build them. */
static int queue_push(Engine *e, const Command *c)
{
    EngineQueue *q = &e->queue;
    /* Own index relaxed; the consumer's with acquire, so that its reads of
     * the slot we are about to reuse are done. */
    uint32_t w = atomic_load_explicit(&q->write, memory_order_relaxed);
    uint32_t r = atomic_load_explicit(&q->read, memory_order_acquire);
    if (w - r > q->mask) {
        count(&e->cmd_refused);
        return -1;
    }
    q->slots[w & q->mask] = *c;
    /* Release: the slot's bytes before the index that publishes them. */
    atomic_store_explicit(&q->write, w + 1, memory_order_release);
    return 0;
}

/* ======================================================================== */
/* Command entry points (control side)                                      */
/* ======================================================================== */

/* Each call checks its arguments, builds one commands.def record and
 * queues it; engine_apply.c applies it at its time. */

static int refuse_call(Engine *e)
{
    count(&e->cmd_refused);
    return -1;
}

static bool valid_time(int64_t time)
{
    return time >= 0;
}

static bool valid_track(const Engine *e, int track)
{
    return track >= 0 && track < e->cfg.max_tracks;
}

static bool valid_beat(double beat)
{
    return beat >= 0.0 && beat < CMD_BEAT_LIMIT;
}


static int queue(Engine *e, const Command *c)
{
    if (!valid_time(c->header.time))
        return refuse_call(e);
    return queue_push(e, c);
}

/* Control side: leave `ptr` in a free parcel for the command that hands it
 * in; CMD_PARCEL_NONE for NULL, or (counted) when every parcel is taken,
 * which cannot happen while the queue and the pending heap have room, as
 * each parcel belongs to one command in one of them. */
static uint32_t parcel_put(Engine *e, void *ptr, bool *full)
{
    *full = false;
    if (!ptr)
        return CMD_PARCEL_NONE;
    for (uint32_t k = 0; k < e->n_parcels; k++) {
        uint32_t i = (e->parcel_next + k) % e->n_parcels;
        /* Acquire: pairs with the audio side's release in parcel_take, so
         * it is done with the word before we reuse it. */
        if (atomic_load_explicit(&e->parcels[i], memory_order_acquire) != 0)
            continue;
        /* Relaxed: the queue's release publishes the word with the record. */
        atomic_store_explicit(&e->parcels[i], (uintptr_t)ptr, memory_order_relaxed);
        e->parcel_next = (i + 1) % e->n_parcels;
        return i;
    }
    *full = true;
    return CMD_PARCEL_NONE;
}

/* Queue a record that hands in a parcel; on refusal the parcel is empty
 * again and the caller keeps its buffer. */
static int queue_parcel(Engine *e, Command *c, uint32_t parcel, bool full)
{
    if (full)
        return refuse_call(e);
    if (queue(e, c) == 0)
        return 0;
    if (parcel != CMD_PARCEL_NONE)
        /* Relaxed: the audio side never saw this parcel. */
        atomic_store_explicit(&e->parcels[parcel], 0, memory_order_relaxed);
    return -1;
}

int engine_play(Engine *e, int64_t time)
{
    Command c = cmd_record(CMD_PLAY, time);
    return queue(e, &c);
}

int engine_stop(Engine *e, int64_t time)
{
    Command c = cmd_record(CMD_STOP, time);
    return queue(e, &c);
}

int engine_seek(Engine *e, int64_t time, double beat)
{
    if (!valid_beat(beat))
        return refuse_call(e);
    Command c = cmd_record(CMD_SEEK_BEAT, time);
    c.seek_beat.beat = beat;
    return queue(e, &c);
}

int engine_set_loop(Engine *e, int64_t time, int enabled, double start_beat, double end_beat)
{
    if (!(start_beat >= 0.0 && end_beat < CMD_BEAT_LIMIT) || (enabled && !(end_beat > start_beat)))
        return refuse_call(e);
    Command c = cmd_record(CMD_LOOP_BEATS, time);
    c.loop_beats.start = start_beat;
    c.loop_beats.end = end_beat;
    c.loop_beats.enabled = enabled != 0;
    return queue(e, &c);
}

static bool valid_bpm(double bpm)
{
    return bpm >= 1.0 && bpm <= 1000.0;
}

int engine_set_tempo(Engine *e, int64_t time, double bpm)
{
    if (!valid_bpm(bpm))
        return refuse_call(e);
    Command c = cmd_record(CMD_TEMPO_BPM, time);
    c.tempo_bpm.bpm = bpm;
    return queue(e, &c);
}

int engine_add_tempo_change(Engine *e, int64_t time, double beat, double bpm)
{
    if (!valid_bpm(bpm) || !valid_beat(beat))
        return refuse_call(e);
    Command c = cmd_record(CMD_TEMPO_CHANGE_BEAT, time);
    c.tempo_change_beat.beat = beat;
    c.tempo_change_beat.bpm = bpm;
    return queue(e, &c);
}

int engine_set_time_signature(Engine *e, int64_t time, int numerator, int denominator)
{
    if (numerator < 1 || numerator > 64 || denominator < 1 || denominator > 64 ||
        (denominator & (denominator - 1)))
        return refuse_call(e);
    Command c = cmd_record(CMD_TIME_SIGNATURE, time);
    c.time_signature.numerator = (uint8_t)numerator;
    c.time_signature.denominator = (uint8_t)denominator;
    return queue(e, &c);
}

int engine_add_time_signature_change(Engine *e, int64_t time, double beat, int numerator, int denominator)
{
    if (!valid_beat(beat) || numerator < 1 || numerator > 64 || denominator < 1 || denominator > 64 ||
        (denominator & (denominator - 1)))
        return refuse_call(e);
    Command c = cmd_record(CMD_TIME_SIGNATURE_CHANGE, time);
    c.time_signature_change.beat = beat;
    c.time_signature_change.numerator = (uint8_t)numerator;
    c.time_signature_change.denominator = (uint8_t)denominator;
    return queue(e, &c);
}

int engine_set_metronome(Engine *e, int64_t time, int enabled, float gain_db)
{
    if (!(gain_db >= -150.0f && gain_db <= 24.0f))
        return refuse_call(e);
    Command c = cmd_record(CMD_METRONOME, time);
    c.metronome.enabled = enabled != 0;
    c.metronome.gain_db = gain_db;
    return queue(e, &c);
}

int engine_note_on(Engine *e, int64_t time, int track, int note_id, int key, float vel)
{
    if (!valid_track(e, track) || note_id < 0 || note_id > ENGINE_LIVE_NOTE_MAX || key < 0 || key > 127 ||
        !(vel >= 0.0f && vel <= 1.0f))
        return refuse_call(e);
    Command c = cmd_record(CMD_NOTE_ON, time);
    c.note_on.track = (uint32_t)track;
    c.note_on.note_id = (uint32_t)note_id;
    c.note_on.key = (uint8_t)key;
    c.note_on.velocity = vel;
    return queue(e, &c);
}

int engine_note_off(Engine *e, int64_t time, int track, int note_id)
{
    if (!valid_track(e, track) || note_id < 0 || note_id > ENGINE_LIVE_NOTE_MAX)
        return refuse_call(e);
    Command c = cmd_record(CMD_NOTE_OFF, time);
    c.note_off.track = (uint32_t)track;
    c.note_off.note_id = (uint32_t)note_id;
    return queue(e, &c);
}

int engine_all_notes_off(Engine *e, int64_t time, int track)
{
    if (track != ENGINE_MASTER && !valid_track(e, track))
        return refuse_call(e);
    Command c = cmd_record(CMD_ALL_NOTES_OFF, time);
    c.all_notes_off.every_track = track == ENGINE_MASTER;
    c.all_notes_off.track = track == ENGINE_MASTER ? 0 : (uint32_t)track;
    return queue(e, &c);
}

int engine_set_param(Engine *e, int64_t time, int track, int slot, int param, float value)
{
    if (!valid_track(e, track) || slot < 0 || slot > e->cfg.max_inserts || param < 0 || !(value == value))
        return refuse_call(e);
    Command c = cmd_record(CMD_SET_PARAM, time);
    c.set_param.track = (uint32_t)track;
    c.set_param.slot = (uint32_t)slot;
    c.set_param.param = (uint32_t)param;
    c.set_param.value = value;
    return queue(e, &c);
}

int engine_add_track(Engine *e, int64_t time, int track, EngineTrackKind kind)
{
    if (!valid_track(e, track) || kind < ENGINE_TRACK_INSTRUMENT || kind > ENGINE_TRACK_BUS)
        return refuse_call(e);
    Command c = cmd_record(CMD_ADD_TRACK, time);
    c.add_track.track = (uint32_t)track;
    c.add_track.kind = (uint8_t)(kind - ENGINE_TRACK_INSTRUMENT);   /* CMD_TRACK_* */
    return queue(e, &c);
}

int engine_set_track_position(Engine *e, int64_t time, int track, int position)
{
    if (!valid_track(e, track) || position < 0 || position > CMD_POSITION_LIMIT)
        return refuse_call(e);
    Command c = cmd_record(CMD_SET_TRACK_POSITION, time);
    c.set_track_position.track = (uint32_t)track;
    c.set_track_position.position = (uint32_t)position;
    return queue(e, &c);
}

int engine_remove_track(Engine *e, int64_t time, int track)
{
    if (!valid_track(e, track))
        return refuse_call(e);
    Command c = cmd_record(CMD_REMOVE_TRACK, time);
    c.remove_track.track = (uint32_t)track;
    return queue(e, &c);
}

int engine_set_instrument(Engine *e, int64_t time, int track, EngineNode *node)
{
    if (!valid_track(e, track) || !valid_time(time))
        return refuse_call(e);
    bool full;
    Command c = cmd_record(CMD_SET_INSTRUMENT_NODE, time);
    c.set_instrument_node.track = (uint32_t)track;
    c.set_instrument_node.parcel = parcel_put(e, node, &full);
    return queue_parcel(e, &c, c.set_instrument_node.parcel, full);
}

int engine_insert_add(Engine *e, int64_t time, int track, int position, EngineNode *node)
{
    if (!valid_track(e, track) || !node || !valid_time(time))
        return refuse_call(e);
    bool full;
    Command c = cmd_record(CMD_INSERT_NODE, time);
    c.insert_node.track = (uint32_t)track;
    c.insert_node.index = position < 0 ? 0 : (uint32_t)position;
    c.insert_node.parcel = parcel_put(e, node, &full);
    return queue_parcel(e, &c, c.insert_node.parcel, full);
}

int engine_swap_node(Engine *e, int64_t time, int track, int slot, EngineNode *node)
{
    if (!valid_track(e, track) || !node || slot < 0 || slot > e->cfg.max_inserts || !valid_time(time))
        return refuse_call(e);
    bool full;
    Command c = cmd_record(CMD_SWAP_NODE, time);
    c.swap_node.track = (uint32_t)track;
    c.swap_node.slot = (uint32_t)slot;
    c.swap_node.parcel = parcel_put(e, node, &full);
    return queue_parcel(e, &c, c.swap_node.parcel, full);
}

/* Commands count insert positions from 1; these calls from 0. */
int engine_insert_remove(Engine *e, int64_t time, int track, int position)
{
    if (!valid_track(e, track) || position < 0 || position >= e->cfg.max_inserts)
        return refuse_call(e);
    Command c = cmd_record(CMD_REMOVE_INSERT, time);
    c.remove_insert.track = (uint32_t)track;
    c.remove_insert.position = (uint32_t)position + 1;
    return queue(e, &c);
}

int engine_insert_move(Engine *e, int64_t time, int track, int from, int to)
{
    if (!valid_track(e, track) || from < 0 || from >= e->cfg.max_inserts || to < 0 || to >= e->cfg.max_inserts)
        return refuse_call(e);
    Command c = cmd_record(CMD_MOVE_INSERT, time);
    c.move_insert.track = (uint32_t)track;
    c.move_insert.from = (uint32_t)from + 1;
    c.move_insert.to = (uint32_t)to + 1;
    return queue(e, &c);
}

int engine_set_voice_mode(Engine *e, int64_t time, int track, EngineVoiceMode mode, EnginePriority priority,
                          float glide_seconds)
{
    if (!valid_track(e, track) || mode < ENGINE_VOICE_POLY || mode > ENGINE_VOICE_LEGATO ||
        priority < ENGINE_PRIORITY_LAST || priority > ENGINE_PRIORITY_HIGH || !(glide_seconds >= 0.0f) ||
        !(glide_seconds <= 10.0f))
        return refuse_call(e);
    Command c = cmd_record(CMD_SET_VOICE_MODE, time);
    c.set_voice_mode.track = (uint32_t)track;
    c.set_voice_mode.mode = (uint8_t)mode;           /* CMD_VOICE_* */
    c.set_voice_mode.priority = (uint8_t)priority;   /* CMD_PRIORITY_* */
    c.set_voice_mode.glide = glide_seconds;
    return queue(e, &c);
}

static bool mixer_track(const Engine *e, int track)
{
    return track == ENGINE_MASTER || valid_track(e, track);
}

int engine_set_gain(Engine *e, int64_t time, int track, float gain_db)
{
    if (!mixer_track(e, track) || !(gain_db <= 24.0f) || gain_db != gain_db)
        return refuse_call(e);
    Command c = cmd_record(CMD_FADER_GAIN, time);
    c.fader_gain.track = track;
    c.fader_gain.db = gain_db;
    return queue(e, &c);
}

int engine_set_pan(Engine *e, int64_t time, int track, float pan)
{
    if (!valid_track(e, track) || !(pan >= -1.0f && pan <= 1.0f))
        return refuse_call(e);
    Command c = cmd_record(CMD_SET_PAN, time);
    c.set_pan.track = (uint32_t)track;
    c.set_pan.pan = pan;
    return queue(e, &c);
}

int engine_set_mute(Engine *e, int64_t time, int track, int mute)
{
    if (!valid_track(e, track))
        return refuse_call(e);
    Command c = cmd_record(CMD_SET_MUTE, time);
    c.set_mute.track = (uint32_t)track;
    c.set_mute.mute = mute != 0;
    return queue(e, &c);
}

int engine_set_solo(Engine *e, int64_t time, int track, int solo)
{
    if (!valid_track(e, track))
        return refuse_call(e);
    Command c = cmd_record(CMD_SET_SOLO, time);
    c.set_solo.track = (uint32_t)track;
    c.set_solo.solo = solo != 0;
    return queue(e, &c);
}

int engine_set_send(Engine *e, int64_t time, int track, int send, int bus, float level_db)
{
    if (!valid_track(e, track) || send < 0 || send >= e->cfg.max_sends || bus < -1 ||
        bus >= e->cfg.max_tracks || !(level_db <= 24.0f) || level_db != level_db)
        return refuse_call(e);
    Command c = cmd_record(CMD_SEND_SLOT, time);
    c.send_slot.track = (uint32_t)track;
    c.send_slot.send = (uint32_t)send;
    c.send_slot.bus = bus;
    c.send_slot.db = level_db;
    return queue(e, &c);
}

static bool clip_sorted(const EngineClip *c)
{
    for (int i = 0; i < c->n_notes; i++) {
        const EngineNote *n = &c->notes[i];
        if (!(n->start >= 0.0 && n->length > 0.0) || n->key < 0 || n->key > 127 ||
            !(n->vel >= 0.0f && n->vel <= 1.0f))
            return false;
        if (i > 0 && n->start < c->notes[i - 1].start)
            return false;
    }
    return c->n_notes >= 0 && c->n_notes <= c->capacity;
}

int engine_load_clip(Engine *e, int64_t time, int clip_id, EngineClip *clip)
{
    if (clip_id < 0 || clip_id >= e->cfg.max_clips || (clip && !clip_sorted(clip)) || !valid_time(time))
        return refuse_call(e);
    bool full;
    Command c = cmd_record(CMD_LOAD_CLIP_BLOCK, time);
    c.load_clip_block.clip = (uint32_t)clip_id;
    c.load_clip_block.parcel = parcel_put(e, clip, &full);
    return queue_parcel(e, &c, c.load_clip_block.parcel, full);
}

int engine_place_clip_looped(Engine *e, int64_t time, int track, int slot, int clip_id, double start_beat,
                             double length_beats, double loop_beats)
{
    if (!valid_track(e, track) || slot < 0 || slot >= e->cfg.max_placements || clip_id < -1 ||
        clip_id >= e->cfg.max_clips || !valid_beat(start_beat) || !valid_beat(length_beats) ||
        !valid_beat(loop_beats) || (loop_beats != 0.0 && loop_beats < ENGINE_LOOP_MIN))
        return refuse_call(e);
    Command c = cmd_record(CMD_PLACE_CLIP, time);
    c.place_clip.track = (uint32_t)track;
    c.place_clip.slot = (uint32_t)slot;
    c.place_clip.clip = clip_id;
    c.place_clip.start = start_beat;
    c.place_clip.length = length_beats;
    c.place_clip.loop = loop_beats;
    return queue(e, &c);
}

int engine_place_clip(Engine *e, int64_t time, int track, int slot, int clip_id, double start_beat,
                      double length_beats)
{
    return engine_place_clip_looped(e, time, track, slot, clip_id, start_beat, length_beats, 0.0);
}

int engine_load_sample(Engine *e, int64_t time, int sample_id, EngineSample *sample)
{
    if (sample_id < 0 || sample_id >= e->cfg.max_samples || !valid_time(time))
        return refuse_call(e);
    bool full;
    Command c = cmd_record(CMD_LOAD_SAMPLE_BLOCK, time);
    c.load_sample_block.sample = (uint32_t)sample_id;
    c.load_sample_block.parcel = parcel_put(e, sample, &full);
    return queue_parcel(e, &c, c.load_sample_block.parcel, full);
}

int engine_bind_sample(Engine *e, int64_t time, int track, int slot, int sample_id)
{
    if (!valid_track(e, track) || slot < 0 || slot >= ENGINE_SAMPLE_SLOTS || sample_id < -1 ||
        sample_id >= e->cfg.max_samples || !valid_time(time))
        return refuse_call(e);
    Command c = cmd_record(CMD_BIND_SAMPLE, time);
    c.bind_sample.track = (uint32_t)track;
    c.bind_sample.slot = (uint32_t)slot;
    c.bind_sample.sample = sample_id;
    return queue(e, &c);
}

int engine_place_region(Engine *e, int64_t time, int track, int slot, int sample_id, double start_beat,
                        int64_t offset_frames, int64_t length_frames, float gain_db)
{
    if (!valid_track(e, track) || slot < 0 || slot >= e->cfg.max_regions || sample_id < -1 ||
        sample_id >= e->cfg.max_samples || !valid_beat(start_beat) || offset_frames < 0 ||
        !(gain_db <= 24.0f) || gain_db != gain_db)
        return refuse_call(e);
    Command c = cmd_record(CMD_PLACE_REGION_SLOT, time);
    c.place_region_slot.track = (uint32_t)track;
    c.place_region_slot.slot = (uint32_t)slot;
    c.place_region_slot.sample = sample_id;
    c.place_region_slot.start = start_beat;
    c.place_region_slot.first_frame = offset_frames;
    c.place_region_slot.frames = length_frames;
    c.place_region_slot.db = gain_db;
    return queue(e, &c);
}

static bool lane_sorted(const EngineLane *l)
{
    if (l->n_points < 1 || (l->unit != ENGINE_TIME_BEATS && l->unit != ENGINE_TIME_SAMPLES))
        return false;
    for (int i = 0; i < l->n_points; i++) {
        if (!(l->points[i].time >= 0.0) || l->points[i].value != l->points[i].value)
            return false;
        if (i > 0 && l->points[i].time < l->points[i - 1].time)
            return false;
    }
    return true;
}

int engine_set_lane(Engine *e, int64_t time, int track, int lane_slot, int target_slot, int param,
                    EngineLane *lane)
{
    bool fader = target_slot == ENGINE_LANE_FADER;
    if (!valid_track(e, track) || lane_slot < 0 || lane_slot >= e->cfg.max_lanes ||
        (!fader && (target_slot < 0 || target_slot > e->cfg.max_inserts)) || param < 0 ||
        (fader && param > ENGINE_FADER_PAN) || (lane && !lane_sorted(lane)) || !valid_time(time))
        return refuse_call(e);
    bool full;
    Command c = cmd_record(CMD_SET_LANE, time);
    c.set_lane.track = (uint32_t)track;
    c.set_lane.lane = (uint32_t)lane_slot;
    c.set_lane.target = target_slot;
    c.set_lane.param = (uint32_t)param;
    c.set_lane.parcel = parcel_put(e, lane, &full);
    return queue_parcel(e, &c, c.set_lane.parcel, full);
}

/* The engine_commands.c drain queues the UI's commands that need no table
 * as they came off the ring. */
int engine_queue_command(Engine *e, const Command *c)
{
    return queue(e, c);
}
