/* engine.c — the engine host: tracks, mixer, transport and the sample-
 * accurate scheduler; see engine.h for the model and the threading
 * contract.
 *
 * Reading order: memory (the fixed-region heap, engine_init), the command
 * queue (control -> audio), the transport (beats, tempo map, loop), notes
 * and voice modes, automation lanes, the per-track render loop (split at
 * every clip note, region start, breakpoint and control tick), the mixer
 * (fader, sends, meters), the block loop (split at every command and
 * transport boundary), command application, the state region.
 *
 * Nothing below engine_render allocates, frees, locks or does I/O: every
 * table is sized by engine_init, and buffers leave the audio side only as
 * events on the event ring.
 */
#include "util.h"
#include "engine.h"

#include <assert.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef __EMSCRIPTEN__
#include <time.h>
#endif

#include "amp_math.h"
#include "pool.h"
#include "ring.h"
#include "voice.h"

/* The state region's layout (EngineState, EngineEvent) is pinned by the
 * static asserts layout.h expands from layout.def. */

#define ALIGN 64
#define CLIP_NOTE_BASE 0x40000000   /* clip notes get patch note ids from here */

/* ======================================================================== */
/* Heap: first fit over one fixed region, for blocks of varying size        */
/* ======================================================================== */

/* Control side only. Each block is a HEAP_HEADER-byte header followed by
 * its payload; sizes are multiples of ALIGN, so every payload is ALIGN-
 * aligned. Freeing merges with free neighbours (prev_size finds the one
 * before). O(blocks) per allocation: fine off the audio path. */
#define HEAP_HEADER ALIGN
#define HEAP_MAGIC 0x68656170u

/* A buffer the engine hands back while the event ring is full waits in a
 * list threaded through the buffers themselves (BackLink: in a heap
 * block's header, in a node), so no hand-back is ever lost and the list
 * needs no memory of its own. Written by the audio side only, while it
 * owns the buffer. */
typedef struct BackLink {
    void *next;            /* the next buffer waiting, NULL: the last */
    int32_t next_kind;     /* its kind (where its link is) */
    int32_t kind;          /* ENGINE_EV_*_RELEASED */
    int64_t time;          /* the hand-back's engine time */
} BackLink;

typedef struct HeapBlock {
    size_t size;           /* bytes, header included */
    size_t prev_size;      /* size of the block before, 0 for the first */
    uint32_t free;
    uint32_t magic;
    BackLink back;         /* engine side: waiting to be handed back */
} HeapBlock;
static_assert(sizeof(HeapBlock) <= HEAP_HEADER, "a heap header holds its block's hand-back link");

typedef struct Heap {
    unsigned char *base;
    size_t bytes;
    size_t used;           /* payload + header bytes in use */
} Heap;

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
/* Types                                                                    */
/* ======================================================================== */

struct EngineNode {
    const AmpPatchDesc *desc;
    void *state;
    int poly;              /* desc->max_voices > 0 */
    int faulted;           /* the last process() call gave NaN/Inf */
    uint64_t cpu_ns;       /* this render call */
    BackLink back;         /* waiting to be handed back (see HeapBlock) */
};

/* One queued command; the fields each kind uses are listed at its
 * engine_* function. */
typedef struct Command {
    int64_t time;
    uint32_t seq;          /* call order, for equal times */
    int32_t kind;          /* EngineCommandKind */
    int32_t track;
    int32_t a, b, c;
    float f;
    int32_t pad;
    double x, y;
    int64_t m, n;
    void *ptr;
} Command;

/* Single producer (control), single consumer (audio), fixed slots. */
typedef struct CommandQueue {
    alignas(ALIGN) _Atomic uint32_t write;   /* producer-owned */
    alignas(ALIGN) _Atomic uint32_t read;    /* consumer-owned */
    alignas(ALIGN) uint32_t mask;            /* capacity - 1, fixed */
    Command *slots;
} CommandQueue;

typedef struct Ramp {
    float cur, target, step;
    int left;              /* samples until cur == target */
} Ramp;

typedef struct Meter {
    double sq[2];
    float peak[2];
    int count;
    EngineMeter out;       /* the last complete window */
} Meter;

typedef struct Placement {
    int clip;              /* -1: empty */
    double start, length;  /* beats */
    int cursor;            /* next note to start */
} Placement;

enum { REGION_IDLE, REGION_PLAYING, REGION_DONE };

typedef struct Region {
    int sample;            /* -1: empty */
    double start;          /* beats */
    int64_t offset, length;/* frames; length <= 0: to the end */
    float gain;            /* linear */
    int state;             /* REGION_* */
    int64_t frame;         /* frames played since the region's start */
    int64_t fade_frame;    /* stop/seek: where the fading read head is */
    int fade_left;         /* its samples still to play, 0: none */
    int rise_left;         /* play/seek into the middle: samples of fade-in left */
} Region;

/* A region cut by stop or seek fades out over 3 ms (like a stolen voice). */
static int region_fade_len(float sr)
{
    int n = (int)(sr * 0.003f + 0.5f);
    return n > 0 ? n : 1;
}

typedef struct Sounding {  /* a note a clip started */
    int32_t note_id;
    int32_t pad;
    double end;            /* beat it ends at */
    int64_t on_at;         /* engine sample it started at */
} Sounding;

typedef struct Held {      /* a held key in mono / legato mode */
    int32_t note_id;
    int32_t key;
    float vel;
    uint32_t order;        /* press order */
} Held;

typedef struct Lane {
    EngineLane *data;      /* NULL: unused */
    int target;            /* slot */
    int param;
    int cursor;            /* first point with time > the position */
} Lane;

typedef struct Send {
    int bus;               /* -1: unused */
    float level_db;
    Ramp ramp;
} Send;

typedef struct Track {
    int kind;              /* EngineTrackKind; 0: no track */
    int id;
    EngineNode *inst;
    EngineNode **inserts;
    int n_inserts;
    float gain_db, pan;
    int mute, solo, heard, fed_by_solo;
    int fresh;             /* not mixed yet: fader changes jump instead of ramping */
    Ramp gl, gr;
    Send *sends;
    Placement *placements;
    Region *regions;
    Lane *lanes;
    int placements_used;   /* slots at or past these are empty: the render */
    int regions_used;      /* loops stop there instead of at the configured */
    int lanes_used;        /* maximum */
    Sounding *sounding;
    int n_sounding;
    Held held[ENGINE_HELD_NOTES];
    int n_held;
    uint32_t held_order;
    int mode, priority;
    int mono_id;           /* note id of the voice in mono / legato, -1 none */
    float glide_k;         /* legato glide: how much of the way is left after a control tick, 0 none */
    int gliding;           /* the mono voice's pitch is on its way */
    float glide_at, glide_to;    /* its log2 frequency now, and where it goes */
    float *buf[2];
    Meter meter;
    uint32_t faults, notes_refused;
} Track;

typedef struct TempoPoint {
    double beat, bpm;
} TempoPoint;

struct Engine {
    CommandQueue queue;
    EngineConfig cfg;
    float sr;
    unsigned char *memory;          /* the one block everything lives in */

    /* control side */
    uint32_t next_seq;
    _Atomic uint32_t cmd_refused, nodes_refused, buffers_refused;
    Pool *node_pool;
    void *back_head, *back_tail;   /* buffers waiting for room in the event ring, oldest first */
    int back_head_kind, back_tail_kind;
    uint32_t back_waiting;
    Heap state_heap, clip_heap, sample_heap, lane_heap;

    /* audio side */
    Command *pending;               /* binary min-heap on (time, seq) */
    int n_pending, pending_cap;
    void *events;                   /* event ring */
    uint32_t cmd_failed;
    int64_t now;
    Track *tracks;
    int *order;                     /* active tracks: sources, then buses, by id */
    int n_order;
    EngineClip **clips;
    EngineSample **samples;
    TempoPoint *tempo_points;
    int n_tempo, tempo_index;       /* index of the point in force, -1: the base */
    double base_bpm, bpm;
    int playing;
    int64_t anchor_sample;          /* engine time of the anchor */
    double anchor_beat;
    int64_t anchor_play;            /* playhead samples at the anchor */
    int loop_on;
    double loop_start, loop_end;
    int sig_num, sig_den;
    uint32_t clip_note_seq;
    float master_db;
    Ramp master;
    Meter master_meter;
    int meter_window;
    float *mix[2];
    float *scratch[ENGINE_MAX_CHANNELS];
    float *mono;                    /* an insert's one input */
    float *silence;
    uint64_t render_ns;

    EngineState priv;               /* built on the audio side ... */
    EngineState *shared;            /* ... and published here */
};

/* ======================================================================== */
/* Small helpers                                                            */
/* ======================================================================== */

static void count(_Atomic uint32_t *c)
{
    /* Relaxed: a statistic, read by the audio thread for the state region. */
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* dB to gain; -inf below -150 dB; at most +24 dB; 0 dB exactly 1. */
static float db_to_gain(float db)
{
    if (db == 0.0f)
        return 1.0f;
    if (!(db > -150.0f))
        return 0.0f;
    if (db > 24.0f)
        db = 24.0f;
    return amp_db2linf(db);
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

static uint64_t clock_now(const Engine *e)
{
    return e->cfg.clock ? e->cfg.clock(e->cfg.clock_user) : 0;
}

/* An event on the ring; false when the ring is full (the ring counts it). */
static bool post(Engine *e, int64_t time, int kind, int track, int slot, int code, void *ptr)
{
    EngineEvent ev;
    memset(&ev, 0, sizeof ev);
    ev.time = time;
    ev.kind = kind;
    ev.track = track;
    ev.slot = slot;
    ev.code = code;
    ev.ptr = ptr;
    return rb_write(e->events, &ev, sizeof ev);
}

static BackLink *back_link(void *ptr, int kind)
{
    if (kind == ENGINE_EV_NODE_RELEASED)
        return &((EngineNode *)ptr)->back;
    return &((HeapBlock *)((unsigned char *)ptr - HEAP_HEADER))->back;
}

/* Hand the buffers that waited back, oldest first, while there is room. */
static void hand_back_waiting(Engine *e)
{
    while (e->back_head) {
        BackLink *l = back_link(e->back_head, e->back_head_kind);
        if (!post(e, l->time, l->kind, -1, -1, 0, e->back_head))
            return;
        e->back_head = l->next;
        e->back_head_kind = l->next_kind;
        if (!e->back_head)
            e->back_tail = NULL;
        e->back_waiting--;
    }
}

/* Give a buffer back to the control side: an event now, or, when the
 * event ring is full (or others already wait), at the next render call
 * that finds room. Never lost, never out of order with other hand-backs. */
static void hand_back(Engine *e, int64_t time, int kind, void *ptr)
{
    if (!ptr)
        return;
    if (!e->back_head && post(e, time, kind, -1, -1, 0, ptr))
        return;
    BackLink *l = back_link(ptr, kind);
    l->next = NULL;
    l->next_kind = 0;
    l->time = time;
    l->kind = kind;
    if (e->back_tail) {
        BackLink *t = back_link(e->back_tail, e->back_tail_kind);
        t->next = ptr;
        t->next_kind = kind;
    } else {
        e->back_head = ptr;
        e->back_head_kind = kind;
    }
    e->back_tail = ptr;
    e->back_tail_kind = kind;
    e->back_waiting++;
}

static void ramp_to(Ramp *r, float target)
{
    r->target = target;
    if (r->cur == target) {
        r->left = 0;
        r->step = 0.0f;
        return;
    }
    r->left = ENGINE_RAMP;
    r->step = (target - r->cur) / (float)ENGINE_RAMP;
}

static void ramp_jump(Ramp *r, float target)
{
    r->cur = r->target = target;
    r->left = 0;
    r->step = 0.0f;
}

static inline float ramp_next(Ramp *r)
{
    if (r->left > 0) {
        r->cur += r->step;
        if (--r->left == 0)
            r->cur = r->target;
    }
    return r->cur;
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
    if (!(c->sample_rate >= 1000.0f && c->sample_rate <= 768000.0f))
        return fail(err, errlen, "sample rate %g Hz is outside 1000..768000", (double)c->sample_rate);
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
    e->pending = carve(c, qcap * sizeof(Command));
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
    for (int k = 0; k < 2; k++)
        e->mix[k] = carve(c, block);
    for (int k = 0; k < ENGINE_MAX_CHANNELS; k++)
        e->scratch[k] = carve(c, block);
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

static void track_clear(Engine *e, Track *t, int id)
{
    const EngineConfig *cfg = &e->cfg;
    t->kind = ENGINE_TRACK_NONE;
    t->id = id;
    t->inst = NULL;
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

    for (int i = 0; i < cfg->max_tracks; i++)
        track_clear(e, &e->tracks[i], i);
    e->base_bpm = e->bpm = 120.0;
    e->tempo_index = -1;
    e->sig_num = 4;
    e->sig_den = 4;
    e->loop_start = 0.0;
    e->loop_end = 4.0;
    ramp_jump(&e->master, 1.0f);
    long window = lround(ENGINE_METER_SECONDS * e->sr);
    e->meter_window = window < 1 ? 1 : (int)window;

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
static void node_voices_init(Engine *e, EngineNode *nd, int mode)
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
    node_voices_init(e, nd, ENGINE_VOICE_POLY);
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

/* ======================================================================== */
/* Command queue                                                            */
/* ======================================================================== */

/* Producer side. */
static int queue_push(Engine *e, Command *c)
{
    CommandQueue *q = &e->queue;
    /* Own index relaxed; the consumer's with acquire, so that its reads of
     * the slot we are about to reuse are done. */
    uint32_t w = atomic_load_explicit(&q->write, memory_order_relaxed);
    uint32_t r = atomic_load_explicit(&q->read, memory_order_acquire);
    if (w - r > q->mask) {
        count(&e->cmd_refused);
        return -1;
    }
    c->seq = e->next_seq++;
    q->slots[w & q->mask] = *c;
    /* Release: the slot's bytes before the index that publishes them. */
    atomic_store_explicit(&q->write, w + 1, memory_order_release);
    return 0;
}

/* Consumer side. */
static bool queue_pop(Engine *e, Command *c)
{
    CommandQueue *q = &e->queue;
    uint32_t r = atomic_load_explicit(&q->read, memory_order_relaxed);
    /* Acquire: the slot's bytes were written before this index. */
    uint32_t w = atomic_load_explicit(&q->write, memory_order_acquire);
    if (r == w)
        return false;
    *c = q->slots[r & q->mask];
    /* Release: done reading the slot before the producer may reuse it. */
    atomic_store_explicit(&q->read, r + 1, memory_order_release);
    return true;
}

static bool cmd_before(const Command *a, const Command *b)
{
    return a->time < b->time || (a->time == b->time && (int32_t)(a->seq - b->seq) < 0);
}

static void pending_push(Engine *e, const Command *c)
{
    int i = e->n_pending++;
    e->pending[i] = *c;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!cmd_before(&e->pending[i], &e->pending[parent]))
            break;
        Command tmp = e->pending[i];
        e->pending[i] = e->pending[parent];
        e->pending[parent] = tmp;
        i = parent;
    }
}

static void pending_pop(Engine *e, Command *out)
{
    *out = e->pending[0];
    e->pending[0] = e->pending[--e->n_pending];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < e->n_pending && cmd_before(&e->pending[l], &e->pending[m]))
            m = l;
        if (r < e->n_pending && cmd_before(&e->pending[r], &e->pending[m]))
            m = r;
        if (m == i)
            break;
        Command tmp = e->pending[i];
        e->pending[i] = e->pending[m];
        e->pending[m] = tmp;
        i = m;
    }
}

/* Move what the control side queued into the time-ordered pending heap.
 * Commands beyond the heap's room wait in the queue (which then fills and
 * refuses new ones). */
static void drain_queue(Engine *e)
{
    Command c;
    while (e->n_pending < e->pending_cap && queue_pop(e, &c))
        pending_push(e, &c);
}

/* ======================================================================== */
/* Transport                                                                */
/* ======================================================================== */

/* Beats after `samples` samples at the tempo in force. Multiplying before
 * dividing keeps whole tempos exact: 24000 samples at 120 bpm and 48 kHz
 * are exactly 1 beat, so a note on beat 1 falls on sample 24000. */
static double beats_in(const Engine *e, double samples)
{
    return samples * e->bpm / (60.0 * (double)e->sr);
}

static double samples_in(const Engine *e, double beats)
{
    return beats * (60.0 * (double)e->sr) / e->bpm;
}

static double beat_at(const Engine *e, int64_t s)
{
    if (!e->playing)
        return e->anchor_beat;
    return e->anchor_beat + beats_in(e, (double)(s - e->anchor_sample));
}

static int64_t playhead_at(const Engine *e, int64_t s)
{
    return e->playing ? e->anchor_play + (s - e->anchor_sample) : e->anchor_play;
}

/* The first offset o in [0, n] with beat_at(s0 + o) >= x; n if none below n. */
static int beat_offset(const Engine *e, double x, int64_t s0, int n)
{
    double b0 = beat_at(e, s0);
    if (x <= b0)
        return 0;
    if (!e->playing)
        return n;
    double d = samples_in(e, x - b0);
    if (!(d < (double)n + 2.0))
        return n;
    int o = (int)ceil(d);
    if (o > n)
        o = n;
    while (o > 0 && beat_at(e, s0 + o - 1) >= x)
        o--;
    while (o < n && beat_at(e, s0 + o) < x)
        o++;
    return o;
}

/* The first offset in [0, n] where the playhead reaches sample position p. */
static int playhead_offset(const Engine *e, double p, int64_t s0, int n)
{
    double p0 = (double)playhead_at(e, s0);
    if (p <= p0)
        return 0;
    if (!e->playing)
        return n;
    double d = ceil(p - p0);
    return d < (double)n ? (int)d : n;
}

static double tempo_bpm_at_index(const Engine *e, int index)
{
    return index < 0 ? e->base_bpm : e->tempo_points[index].bpm;
}

static int tempo_index_for(const Engine *e, double beat)
{
    int index = -1;
    for (int i = 0; i < e->n_tempo && e->tempo_points[i].beat <= beat; i++)
        index = i;
    return index;
}

/* Seconds from beat a to beat b >= a through the tempo map. */
static double tempo_seconds(const Engine *e, double a, double b)
{
    double seconds = 0.0, at = a;
    int index = tempo_index_for(e, a);
    while (at < b) {
        double until = index + 1 < e->n_tempo ? e->tempo_points[index + 1].beat : b;
        if (until > b)
            until = b;
        seconds += (until - at) * 60.0 / tempo_bpm_at_index(e, index);
        at = until;
        index++;
    }
    return seconds;
}

/* Put the playhead at `beat` from engine time s (the tempo in force there). */
static void anchor_at(Engine *e, int64_t s, double beat, int64_t play)
{
    e->anchor_sample = s;
    e->anchor_beat = beat;
    e->anchor_play = play;
    e->tempo_index = tempo_index_for(e, beat);
    e->bpm = tempo_bpm_at_index(e, e->tempo_index);
}

/* ======================================================================== */
/* Notes and voice modes                                                    */
/* ======================================================================== */

static Held *held_pick(Track *t)
{
    Held *best = NULL;
    for (int i = 0; i < t->n_held; i++) {
        Held *h = &t->held[i];
        if (!best) {
            best = h;
            continue;
        }
        bool better;
        switch (t->priority) {
        case ENGINE_PRIORITY_LOW:
            better = h->key < best->key || (h->key == best->key && h->order > best->order);
            break;
        case ENGINE_PRIORITY_HIGH:
            better = h->key > best->key || (h->key == best->key && h->order > best->order);
            break;
        default:
            better = h->order > best->order;
            break;
        }
        if (better)
            best = h;
    }
    return best;
}

static bool held_remove(Track *t, int note_id)
{
    for (int i = 0; i < t->n_held; i++) {
        if (t->held[i].note_id == note_id) {
            t->held[i] = t->held[--t->n_held];
            return true;
        }
    }
    return false;
}

static void held_push(Track *t, int note_id, int key, float vel)
{
    held_remove(t, note_id);
    if (t->n_held == ENGINE_HELD_NOTES) {
        int oldest = 0;
        for (int i = 1; i < t->n_held; i++)
            if (t->held[i].order < t->held[oldest].order)
                oldest = i;
        t->held[oldest] = t->held[--t->n_held];
    }
    t->held[t->n_held++] = (Held){ note_id, key, vel, t->held_order++ };
}

/* The slot of the mono voice (note mono_id) in *vt, -1 when there is none. */
static int mono_slot(const Track *t, AmpVoiceTable **vt)
{
    const EngineNode *nd = t->inst;
    if (!nd || !nd->desc->voices || t->mono_id < 0)
        return -1;
    *vt = nd->desc->voices(nd->state);
    for (int i = 0; i < (*vt)->live; i++)
        if ((*vt)->note_id[i] == t->mono_id)
            return i;
    return -1;
}

/* One control tick (AMP_CHUNK samples) of a legato glide: the pitch
 * approaches the target exponentially in log frequency, time constant
 * t->glide; within 0.024 cent it lands on the key's exact frequency. */
static void glide_tick(Track *t)
{
    AmpVoiceTable *vt = NULL;
    int slot = mono_slot(t, &vt);
    if (slot < 0) {
        t->gliding = 0;
        return;
    }
    t->glide_at = t->glide_to + (t->glide_at - t->glide_to) * t->glide_k;
    if (fabsf(t->glide_at - t->glide_to) < 2e-5f) {   /* 0.024 cent: float's last steps stall */
        t->gliding = 0;
        vt->freq[slot] = voice_key_to_freq((int)vt->key[slot]);   /* exactly the key's frequency */
    } else {
        vt->freq[slot] = amp_exp2f(t->glide_at);
    }
}

/* Mono / legato: make the sounding voice follow the held key the priority
 * picks. */
static void mono_update(Track *t)
{
    EngineNode *nd = t->inst;
    const AmpPatchDesc *d = nd->desc;
    Held *w = held_pick(t);
    if (!w) {
        if (t->mono_id >= 0)
            voice_note_off(d, nd->state, t->mono_id);
        t->mono_id = -1;
        return;
    }
    if (w->note_id == t->mono_id)
        return;
    if (t->mode == ENGINE_VOICE_LEGATO && t->mono_id >= 0) {
        AmpVoiceTable *vt = NULL;
        int old = mono_slot(t, &vt);
        float before = old >= 0 ? vt->freq[old] : 0.0f;
        int slot = voice_legato(d, nd->state, t->mono_id, w->note_id, w->key);
        if (slot >= 0) {
            t->mono_id = w->note_id;
            if (t->glide_k > 0.0f && before > 0.0f) {
                /* glide from where the pitch is (mid-glide too) to the new key */
                t->glide_at = t->gliding ? t->glide_at : amp_log2f(before);
                t->glide_to = amp_log2f(vt->freq[slot]);
                t->gliding = 1;
                vt->freq[slot] = amp_exp2f(t->glide_at);
            }
            return;
        }
    }
    /* Retrigger: with one voice that steals, the old voice fades out. */
    if (voice_note_on(d, nd->state, w->note_id, w->key, w->vel) < 0) {
        t->notes_refused++;
        t->mono_id = -1;
        return;
    }
    t->mono_id = w->note_id;
}

static void track_note_on(Track *t, int note_id, int key, float vel)
{
    EngineNode *nd = t->inst;
    if (!nd || !nd->poly) {
        t->notes_refused++;
        return;
    }
    if (t->mode == ENGINE_VOICE_POLY) {
        if (voice_note_on(nd->desc, nd->state, note_id, key, vel) < 0)
            t->notes_refused++;
        return;
    }
    held_push(t, note_id, key, vel);
    mono_update(t);
}

static void track_note_off(Track *t, int note_id)
{
    EngineNode *nd = t->inst;
    if (!nd || !nd->poly)
        return;
    if (t->mode == ENGINE_VOICE_POLY) {
        voice_note_off(nd->desc, nd->state, note_id);
        return;
    }
    if (held_remove(t, note_id))
        mono_update(t);
}

/* Release every note (stop). */
static void track_all_off(Track *t)
{
    t->n_sounding = 0;
    t->n_held = 0;
    t->mono_id = -1;
    if (t->inst && t->inst->poly)
        voice_all_off(t->inst->desc, t->inst->state);
}

/* Cut every voice without a click (seek). */
static void track_cut(Track *t)
{
    t->n_sounding = 0;
    t->n_held = 0;
    t->mono_id = -1;
    if (t->inst && t->inst->poly)
        voice_fade_all(t->inst->desc, t->inst->state);
}

/* Release the notes the clips started (loop wrap). */
static void track_release_clip_notes(Track *t)
{
    for (int i = 0; i < t->n_sounding; i++)
        track_note_off(t, t->sounding[i].note_id);
    t->n_sounding = 0;
}

static void clip_note_on(Engine *e, Track *t, int64_t s, const EngineNote *note, double end)
{
    if (t->n_sounding >= e->cfg.max_clip_notes) {
        t->notes_refused++;
        return;
    }
    int id = CLIP_NOTE_BASE + (int)(e->clip_note_seq++ & (uint32_t)ENGINE_LIVE_NOTE_MAX);
    t->sounding[t->n_sounding++] = (Sounding){ .note_id = id, .end = end, .on_at = s };
    track_note_on(t, id, note->key, note->vel);
}

/* ======================================================================== */
/* Automation lanes                                                         */
/* ======================================================================== */

static EngineNode *track_slot(Track *t, int slot)
{
    if (slot == 0)
        return t->inst;
    if (slot >= 1 && slot <= t->n_inserts)
        return t->inserts[slot - 1];
    return NULL;
}

static double lane_position(const Engine *e, const Lane *l, int64_t s)
{
    return l->data->unit == ENGINE_TIME_SAMPLES ? (double)playhead_at(e, s) : beat_at(e, s);
}

static float lane_value(const Lane *l, double x)
{
    const EngineLane *d = l->data;
    int k = l->cursor;
    if (k <= 0)
        return d->points[0].value;
    if (k >= d->n_points)
        return d->points[d->n_points - 1].value;
    const EnginePoint *a = &d->points[k - 1], *b = &d->points[k];
    double span = b->time - a->time;
    if (!(span > 0.0))
        return b->value;
    double u = (x - a->time) / span;
    return (float)((double)a->value + ((double)b->value - (double)a->value) * u);
}

static bool lane_ramping(const Lane *l)
{
    int k = l->cursor;
    return k > 0 && k < l->data->n_points && l->data->points[k - 1].value != l->data->points[k].value;
}

static void track_gains(Track *t);

static float pan_clamp(float pan)
{
    return pan < -1.0f ? -1.0f : pan > 1.0f ? 1.0f : pan;
}

static void lane_apply(Track *t, Lane *l, double x)
{
    if (l->target == ENGINE_LANE_FADER) {
        float v = lane_value(l, x);
        if (l->param == ENGINE_FADER_GAIN)
            t->gain_db = v;   /* db_to_gain bounds it, as for a gain command */
        else
            t->pan = pan_clamp(v);
        track_gains(t);
        return;
    }
    EngineNode *nd = track_slot(t, l->target);
    if (nd && l->param >= 0 && l->param < nd->desc->n_params)
        nd->desc->set_param(nd->state, l->param, lane_value(l, x));
}

/* Cursor to the position at engine time s, and the value set there. */
static void lane_reset(Engine *e, Track *t, Lane *l, int64_t s)
{
    double x = lane_position(e, l, s);
    int k = 0;
    while (k < l->data->n_points && l->data->points[k].time <= x)
        k++;
    l->cursor = k;
    lane_apply(t, l, x);
}

/* At sample s while playing: set the param at a breakpoint crossed and at
 * every control tick of a ramp. */
static void lane_step(Engine *e, Track *t, Lane *l, int64_t s)
{
    double x = lane_position(e, l, s);
    bool crossed = false;
    while (l->cursor < l->data->n_points && l->data->points[l->cursor].time <= x) {
        l->cursor++;
        crossed = true;
    }
    if (crossed || (lane_ramping(l) && s % AMP_CHUNK == 0))
        lane_apply(t, l, x);
}

/* The next offset in (p, n] at which lane_step has something to do. */
static int lane_next(const Engine *e, const Lane *l, int64_t s0, int p, int n)
{
    int best = n;
    if (l->cursor < l->data->n_points) {
        double at = l->data->points[l->cursor].time;
        int o = l->data->unit == ENGINE_TIME_SAMPLES ? playhead_offset(e, at, s0, n)
                                                     : beat_offset(e, at, s0, n);
        if (o <= p)
            o = p + 1;
        if (o < best)
            best = o;
    }
    if (lane_ramping(l)) {
        int64_t s = s0 + p;
        int64_t tick = (s / AMP_CHUNK + 1) * AMP_CHUNK;
        if (tick - s0 < best)
            best = (int)(tick - s0);
    }
    return best;
}

/* ======================================================================== */
/* Arrangement positions                                                    */
/* ======================================================================== */

static int64_t region_length(const Engine *e, const Region *r)
{
    if (r->length > 0)
        return r->length;
    const EngineSample *smp = r->sample >= 0 ? e->samples[r->sample] : NULL;
    if (!smp || smp->frames <= r->offset)
        return 0;
    return smp->frames - r->offset;
}

static void region_position(Engine *e, Region *r, double beat)
{
    if (r->sample < 0)
        return;
    if (beat < r->start) {
        r->state = REGION_IDLE;
        r->frame = 0;
        return;
    }
    int64_t frame = llround(tempo_seconds(e, r->start, beat) * (double)e->sr);
    r->frame = frame;
    r->state = frame < region_length(e, r) ? REGION_PLAYING : REGION_DONE;
}

static void placement_position(Engine *e, Placement *pl, double beat)
{
    const EngineClip *c = pl->clip >= 0 ? e->clips[pl->clip] : NULL;
    int k = 0;
    if (c)
        while (k < c->n_notes && pl->start + c->notes[k].start < beat)
            k++;
    pl->cursor = k;
}

/* Clips, regions and lanes of a track to the playhead at engine time s. */
static void track_position(Engine *e, Track *t, int64_t s)
{
    double beat = beat_at(e, s);
    for (int i = 0; i < t->placements_used; i++)
        if (t->placements[i].clip >= 0)
            placement_position(e, &t->placements[i], beat);
    for (int i = 0; i < t->regions_used; i++)
        region_position(e, &t->regions[i], beat);
    for (int i = 0; i < t->lanes_used; i++)
        if (t->lanes[i].data)
            lane_reset(e, t, &t->lanes[i], s);
}

static void all_tracks_position(Engine *e, int64_t s)
{
    for (int i = 0; i < e->n_order; i++)
        track_position(e, &e->tracks[e->order[i]], s);
}

/* After play or seek: regions that start sounding in their middle fade in
 * (3 ms) instead of jumping to their level. */
static void regions_rise(Engine *e)
{
    for (int i = 0; i < e->n_order; i++) {
        Track *t = &e->tracks[e->order[i]];
        for (int k = 0; k < t->regions_used; k++) {
            Region *r = &t->regions[k];
            r->rise_left = r->sample >= 0 && r->state == REGION_PLAYING && r->frame > 0 ? region_fade_len(e->sr) : 0;
        }
    }
}

/* ======================================================================== */
/* Track render: source and inserts, split at the track's own events        */
/* ======================================================================== */

static bool block_finite(float *const *out, int channels, int n)
{
    for (int c = 0; c < channels; c++) {
        const float *x = out[c];
        for (int i = 0; i < n; i++) {
            uint32_t bits;
            memcpy(&bits, &x[i], sizeof bits);
            if ((bits & 0x7f800000u) == 0x7f800000u)
                return false;
        }
    }
    return true;
}

/* process() with timing and the non-finite guard. */
static void run_node(Engine *e, Track *t, int slot, EngineNode *nd, const float *const *in,
                     float *const *out, int n)
{
    const AmpPatchDesc *d = nd->desc;
    uint64_t t0 = clock_now(e);
    d->process(nd->state, n, in, out);
    if (nd->poly)
        voice_collect(d, nd->state, n);
    if (e->cfg.clock)
        nd->cpu_ns += clock_now(e) - t0;
    if (block_finite(out, d->n_outputs, n)) {
        nd->faulted = 0;
        return;
    }
    for (int c = 0; c < d->n_outputs; c++)
        memset(out[c], 0, (size_t)n * sizeof(float));
    d->reset(nd->state);
    node_voices_init(e, nd, t->mode);
    if (slot == 0) {
        t->n_held = 0;
        t->mono_id = -1;
    }
    t->faults++;
    if (!nd->faulted)
        post(e, e->now, ENGINE_EV_NODE_FAULT, t->id, slot, 0, NULL);
    nd->faulted = 1;
}

static void run_instrument(Engine *e, Track *t, float *L, float *R, int n)
{
    EngineNode *nd = t->inst;
    if (!nd || nd->desc->n_outputs == 0) {
        memset(L, 0, (size_t)n * sizeof(float));
        memset(R, 0, (size_t)n * sizeof(float));
        return;
    }
    const AmpPatchDesc *d = nd->desc;
    const float *in[ENGINE_MAX_CHANNELS];
    float *out[ENGINE_MAX_CHANNELS];
    for (int i = 0; i < d->n_inputs; i++)
        in[i] = e->silence;
    out[0] = L;
    for (int i = 1; i < d->n_outputs; i++)
        out[i] = i == 1 ? R : e->scratch[i];
    run_node(e, t, 0, nd, in, out, n);
    if (d->n_outputs == 1)
        memcpy(R, L, (size_t)n * sizeof(float));
}

static void run_insert(Engine *e, Track *t, int slot, EngineNode *nd, float *L, float *R, int n)
{
    const AmpPatchDesc *d = nd->desc;
    const float *in[ENGINE_MAX_CHANNELS];
    float *out[ENGINE_MAX_CHANNELS];
    if (d->n_inputs == 1) {
        for (int i = 0; i < n; i++)
            e->mono[i] = (L[i] + R[i]) * 0.5f;
        in[0] = e->mono;
    } else {
        for (int i = 0; i < d->n_inputs; i++)
            in[i] = i == 0 ? L : i == 1 ? R : e->silence;
    }
    for (int i = 0; i < d->n_outputs; i++)
        out[i] = e->scratch[i];
    run_node(e, t, slot, nd, in, out, n);
    if (d->n_outputs == 0) {
        memset(L, 0, (size_t)n * sizeof(float));
        memset(R, 0, (size_t)n * sizeof(float));
        return;
    }
    memcpy(L, out[0], (size_t)n * sizeof(float));
    memcpy(R, out[d->n_outputs > 1 ? 1 : 0], (size_t)n * sizeof(float));
}

/* The fading head of a region cut by stop or seek: a linear ramp from its
 * gain to 0 over region_fade_len samples. */
static void mix_region_fade(Engine *e, Region *r, float *L, float *R, int n)
{
    const EngineSample *smp = r->sample >= 0 ? e->samples[r->sample] : NULL;
    if (!smp) {   /* the sample went away: the fade goes on in silence */
        int k = n < r->fade_left ? n : r->fade_left;
        r->fade_frame += k;
        r->fade_left -= k;
        return;
    }
    float len = (float)region_fade_len(e->sr);
    int64_t end = region_length(e, r);
    const float *a = smp->data[0], *b = smp->data[smp->channels > 1 ? 1 : 0];
    for (int i = 0; i < n && r->fade_left > 0; i++, r->fade_frame++, r->fade_left--) {
        int64_t at = r->offset + r->fade_frame;
        if (r->fade_frame >= end || at < 0 || at >= smp->frames)
            continue;
        float g = r->gain * ((float)r->fade_left / len);
        L[i] += a[at] * g;
        R[i] += b[at] * g;
    }
}

static void region_fade_out(Engine *e, Region *r)
{
    if (r->sample < 0 || r->state != REGION_PLAYING)
        return;
    r->fade_frame = r->frame;
    r->fade_left = region_fade_len(e->sr);
}

/* Stop, seek or a loop wrap cuts the track's sounding regions: each fades. */
static void track_fade_regions(Engine *e, Track *t)
{
    for (int k = 0; k < t->regions_used; k++)
        region_fade_out(e, &t->regions[k]);
}

static void mix_regions(Engine *e, Track *t, float *L, float *R, int n)
{
    for (int k = 0; k < t->regions_used; k++) {
        Region *r = &t->regions[k];
        if (r->fade_left > 0)
            mix_region_fade(e, r, L, R, n);
        if (!e->playing || r->sample < 0 || r->state != REGION_PLAYING)
            continue;
        const EngineSample *smp = e->samples[r->sample];
        int64_t len = region_length(e, r);
        int i = 0;
        if (smp) {
            const float *a = smp->data[0], *b = smp->data[smp->channels > 1 ? 1 : 0];
            float rise = (float)region_fade_len(e->sr);
            for (; i < n && r->frame < len; i++, r->frame++) {
                int64_t at = r->offset + r->frame;
                float g = r->gain;
                if (r->rise_left > 0)
                    g *= 1.0f - (float)r->rise_left-- / rise;
                if (at < 0 || at >= smp->frames)
                    continue;
                L[i] += a[at] * g;
                R[i] += b[at] * g;
            }
        } else {
            r->frame += n;
        }
        if (r->frame >= len)
            r->state = REGION_DONE;
    }
}

/* Source and inserts over block offsets [q, q + n). */
static void run_chain(Engine *e, Track *t, int q, int n)
{
    float *L = t->buf[0] + q, *R = t->buf[1] + q;
    switch (t->kind) {
    case ENGINE_TRACK_INSTRUMENT:
        run_instrument(e, t, L, R, n);
        break;
    case ENGINE_TRACK_AUDIO:
        memset(L, 0, (size_t)n * sizeof(float));
        memset(R, 0, (size_t)n * sizeof(float));
        mix_regions(e, t, L, R, n);   /* while playing, and fades after a stop */
        break;
    default:   /* a bus: the sends are already in its buffer */
        break;
    }
    for (int k = 0; k < t->n_inserts; k++)
        run_insert(e, t, k + 1, t->inserts[k], L, R, n);
}

/* What happens on the track at engine time s while playing: clip note-offs,
 * clip note-ons, region starts, lanes. */
static void track_events_at(Engine *e, Track *t, int64_t s)
{
    double beat = beat_at(e, s);
    for (int i = 0; i < t->n_sounding;) {
        Sounding *so = &t->sounding[i];
        if (so->end <= beat && so->on_at < s) {
            int id = so->note_id;
            *so = t->sounding[--t->n_sounding];
            track_note_off(t, id);
        } else {
            i++;
        }
    }
    for (int k = 0; k < t->placements_used; k++) {
        Placement *pl = &t->placements[k];
        const EngineClip *c = pl->clip >= 0 ? e->clips[pl->clip] : NULL;
        if (!c)
            continue;
        while (pl->cursor < c->n_notes) {
            const EngineNote *note = &c->notes[pl->cursor];
            if (note->start >= pl->length) {
                pl->cursor = c->n_notes;
                break;
            }
            double at = pl->start + note->start;
            if (at > beat)
                break;
            double end = at + note->length, clip_end = pl->start + pl->length;
            clip_note_on(e, t, s, note, end < clip_end ? end : clip_end);
            pl->cursor++;
        }
    }
    for (int k = 0; k < t->regions_used; k++) {
        Region *r = &t->regions[k];
        if (r->sample >= 0 && r->state == REGION_IDLE && r->start <= beat) {
            r->state = REGION_PLAYING;
            r->frame = 0;
        }
    }
    for (int k = 0; k < t->lanes_used; k++)
        if (t->lanes[k].data)
            lane_step(e, t, &t->lanes[k], s);
}

/* The next offset in (p, n] at which track_events_at has work. */
static int track_next_event(const Engine *e, const Track *t, int64_t s0, int p, int n)
{
    int best = n;
#define CONSIDER(o) do { int o_ = (o); if (o_ <= p) o_ = p + 1; if (o_ < best) best = o_; } while (0)
    for (int i = 0; i < t->n_sounding; i++) {
        const Sounding *so = &t->sounding[i];
        int o = beat_offset(e, so->end, s0, n);
        if (so->on_at + 1 - s0 > o)            /* a note lasts at least one sample */
            o = (int)(so->on_at + 1 - s0);
        CONSIDER(o);
    }
    for (int k = 0; k < t->placements_used; k++) {
        const Placement *pl = &t->placements[k];
        const EngineClip *c = pl->clip >= 0 ? e->clips[pl->clip] : NULL;
        if (c && pl->cursor < c->n_notes && c->notes[pl->cursor].start < pl->length)
            CONSIDER(beat_offset(e, pl->start + c->notes[pl->cursor].start, s0, n));
    }
    for (int k = 0; k < t->regions_used; k++) {
        const Region *r = &t->regions[k];
        if (r->sample >= 0 && r->state == REGION_IDLE)
            CONSIDER(beat_offset(e, r->start, s0, n));
    }
    for (int k = 0; k < t->lanes_used; k++)
        if (t->lanes[k].data)
            CONSIDER(lane_next(e, &t->lanes[k], s0, p, n));
#undef CONSIDER
    return best;
}

/* The track's own signal over block offsets [pos, pos + n), which the
 * transport crosses at constant tempo without a jump. */
static void track_run(Engine *e, Track *t, int pos, int n)
{
    int64_t s0 = e->now + pos;
    int p = 0;
    while (p < n) {
        int next = n;
        if (e->playing) {
            track_events_at(e, t, s0 + p);
            next = track_next_event(e, t, s0, p, n);
        }
        if (t->gliding) {   /* a legato glide moves the pitch at every control tick */
            int64_t s = s0 + p;
            if (s % AMP_CHUNK == 0)
                glide_tick(t);
            int tick = (int)((s / AMP_CHUNK + 1) * AMP_CHUNK - s0);
            if (t->gliding && tick < next)
                next = tick;
        }
        run_chain(e, t, pos + p, next - p);
        p = next;
    }
}

/* ======================================================================== */
/* Mixer                                                                    */
/* ======================================================================== */

static void meter_add(Meter *m, const float *L, const float *R, int n, int window)
{
    for (int i = 0; i < n; i++) {
        float l = L[i], r = R[i];
        m->sq[0] += (double)l * l;
        m->sq[1] += (double)r * r;
        float al = fabsf(l), ar = fabsf(r);
        if (al > m->peak[0])
            m->peak[0] = al;
        if (ar > m->peak[1])
            m->peak[1] = ar;
        if (++m->count == window) {
            for (int c = 0; c < 2; c++) {
                m->out.peak[c] = m->peak[c];
                m->out.rms[c] = (float)sqrt(m->sq[c] / window);
                m->sq[c] = 0.0;
                m->peak[c] = 0.0f;
            }
            m->count = 0;
        }
    }
}

/* Gain and pan law (engine.h): the per-channel targets. */
static void track_gains(Track *t)
{
    float g = t->heard ? db_to_gain(t->gain_db) : 0.0f;
    float gl, gr;
    if (t->pan <= -1.0f) {
        gl = 1.0f;
        gr = 0.0f;
    } else if (t->pan >= 1.0f) {
        gl = 0.0f;
        gr = 1.0f;
    } else if (t->pan == 0.0f) {
        gl = gr = 0.70710677f;
    } else {
        float a = (t->pan + 1.0f) * 0.78539816f;
        gl = amp_cosf(a);
        gr = amp_sinf(a);
    }
    ramp_to(&t->gl, g * gl);
    ramp_to(&t->gr, g * gr);
    if (t->fresh) {
        ramp_jump(&t->gl, g * gl);
        ramp_jump(&t->gr, g * gr);
    }
}

/* Fader, meter, then into the master and the sends, over [pos, pos + n). */
static void track_mix(Engine *e, Track *t, int pos, int n)
{
    float *L = t->buf[0] + pos, *R = t->buf[1] + pos;
    t->fresh = 0;
    for (int i = 0; i < n; i++) {
        L[i] *= ramp_next(&t->gl);
        R[i] *= ramp_next(&t->gr);
    }
    meter_add(&t->meter, L, R, n, e->meter_window);
    float *ml = e->mix[0] + pos, *mr = e->mix[1] + pos;
    for (int i = 0; i < n; i++) {
        ml[i] += L[i];
        mr[i] += R[i];
    }
    for (int k = 0; k < e->cfg.max_sends; k++) {
        Send *sd = &t->sends[k];
        if (sd->bus < 0)
            continue;
        Track *bus = &e->tracks[sd->bus];
        float *bl = bus->buf[0] + pos, *br = bus->buf[1] + pos;
        for (int i = 0; i < n; i++) {
            float g = ramp_next(&sd->ramp);
            bl[i] += L[i] * g;
            br[i] += R[i] * g;
        }
    }
}

/* Who is heard under the solo rule (engine.h); buses after their senders. */
static void update_heard(Engine *e)
{
    bool solo_any = false;
    for (int i = 0; i < e->n_order; i++)
        solo_any |= e->tracks[e->order[i]].solo != 0;
    for (int i = 0; i < e->n_order; i++) {
        Track *t = &e->tracks[e->order[i]];
        t->fed_by_solo = 0;
        if (t->kind == ENGINE_TRACK_BUS) {
            for (int j = 0; j < i; j++) {
                Track *u = &e->tracks[e->order[j]];
                if (u->mute || !(u->solo || u->fed_by_solo))
                    continue;
                for (int k = 0; k < e->cfg.max_sends; k++)
                    if (u->sends[k].bus == t->id)
                        t->fed_by_solo = 1;
            }
        }
        t->heard = !t->mute && (!solo_any || t->solo || t->fed_by_solo);
        track_gains(t);
    }
}

static void rebuild_order(Engine *e)
{
    e->n_order = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < e->cfg.max_tracks; i++) {
            int kind = e->tracks[i].kind;
            if (kind != ENGINE_TRACK_NONE && (kind == ENGINE_TRACK_BUS) == (pass == 1))
                e->order[e->n_order++] = i;
        }
}

/* One stretch [pos, pos + n) of the block without commands or transport
 * boundaries inside. */
static void render_segment(Engine *e, float *outL, float *outR, int pos, int n)
{
    size_t bytes = (size_t)n * sizeof(float);
    memset(e->mix[0] + pos, 0, bytes);
    memset(e->mix[1] + pos, 0, bytes);
    for (int i = 0; i < e->n_order; i++) {
        Track *t = &e->tracks[e->order[i]];
        if (t->kind == ENGINE_TRACK_BUS) {
            memset(t->buf[0] + pos, 0, bytes);
            memset(t->buf[1] + pos, 0, bytes);
        }
    }
    for (int i = 0; i < e->n_order; i++) {
        Track *t = &e->tracks[e->order[i]];
        track_run(e, t, pos, n);
        track_mix(e, t, pos, n);
    }
    float *ml = e->mix[0] + pos, *mr = e->mix[1] + pos;
    for (int i = 0; i < n; i++) {
        float g = ramp_next(&e->master);
        outL[pos + i] = ml[i] * g;
        outR[pos + i] = mr[i] * g;
    }
    meter_add(&e->master_meter, outL + pos, outR + pos, n, e->meter_window);
}

/* ======================================================================== */
/* Applying commands                                                        */
/* ======================================================================== */

static Track *track_of(Engine *e, int id, int kind)
{
    if (id < 0 || id >= e->cfg.max_tracks)
        return NULL;
    Track *t = &e->tracks[id];
    if (t->kind == ENGINE_TRACK_NONE || (kind && t->kind != kind))
        return NULL;
    return t;
}

/* A command that cannot apply: reported, and its buffer handed back. */
static void refuse(Engine *e, const Command *c, int release_kind)
{
    e->cmd_failed++;
    post(e, c->time, ENGINE_EV_REFUSED, c->track, c->a, c->kind, NULL);
    if (release_kind)
        hand_back(e, c->time, release_kind, c->ptr);
}

static void release_track_contents(Engine *e, Track *t, int64_t time)
{
    hand_back(e, time, ENGINE_EV_NODE_RELEASED, t->inst);
    for (int k = 0; k < t->n_inserts; k++)
        hand_back(e, time, ENGINE_EV_NODE_RELEASED, t->inserts[k]);
    for (int k = 0; k < t->lanes_used; k++)
        hand_back(e, time, ENGINE_EV_LANE_RELEASED, t->lanes[k].data);
}

static void transport_play(Engine *e, int64_t s)
{
    if (e->playing)
        return;
    e->playing = 1;
    anchor_at(e, s, e->anchor_beat, e->anchor_play);
    all_tracks_position(e, s);
    regions_rise(e);
}

static void transport_stop(Engine *e, int64_t s)
{
    if (e->playing)
        anchor_at(e, s, beat_at(e, s), playhead_at(e, s));
    e->playing = 0;
    for (int i = 0; i < e->n_order; i++) {
        Track *t = &e->tracks[e->order[i]];
        track_all_off(t);
        track_fade_regions(e, t);
        for (int k = 0; k < t->regions_used; k++)
            if (t->regions[k].sample >= 0)
                t->regions[k].state = REGION_DONE;
    }
}

static void transport_seek(Engine *e, int64_t s, double beat)
{
    if (!(beat >= 0.0))
        beat = 0.0;
    for (int i = 0; i < e->n_order; i++) {
        Track *t = &e->tracks[e->order[i]];
        track_cut(t);
        if (e->playing)
            track_fade_regions(e, t);
    }
    anchor_at(e, s, beat, 0);
    e->anchor_play = llround(tempo_seconds(e, 0.0, beat) * (double)e->sr);
    all_tracks_position(e, s);
    if (e->playing)
        regions_rise(e);
}

/* After a change of the tempo map: the tempo in force at the playhead. */
static void tempo_changed(Engine *e, int64_t s)
{
    anchor_at(e, s, beat_at(e, s), playhead_at(e, s));
}

static void apply_mixer(Engine *e, const Command *c)
{
    if (c->track == ENGINE_MASTER) {
        if (c->kind != ENGINE_CMD_GAIN) {
            refuse(e, c, 0);
            return;
        }
        e->master_db = c->f;
        ramp_to(&e->master, db_to_gain(c->f));
        if (c->time == 0)          /* before the first sample: nothing to ramp from */
            ramp_jump(&e->master, db_to_gain(c->f));
        return;
    }
    Track *t = track_of(e, c->track, 0);
    if (!t) {
        refuse(e, c, 0);
        return;
    }
    switch (c->kind) {
    case ENGINE_CMD_GAIN: t->gain_db = c->f; break;
    case ENGINE_CMD_PAN: t->pan = pan_clamp(c->f); break;
    case ENGINE_CMD_MUTE: t->mute = c->a != 0; break;
    case ENGINE_CMD_SOLO: t->solo = c->a != 0; break;
    default: break;
    }
    update_heard(e);
}

static void apply_send(Engine *e, const Command *c)
{
    Track *t = track_of(e, c->track, 0);
    int bus = c->b;
    if (!t || c->a < 0 || c->a >= e->cfg.max_sends) {
        refuse(e, c, 0);
        return;
    }
    Send *sd = &t->sends[c->a];
    if (bus < 0) {
        sd->bus = -1;
        update_heard(e);
        return;
    }
    /* A bus exists, is not the track itself, and comes later in the order. */
    if (!track_of(e, bus, ENGINE_TRACK_BUS) || bus == t->id ||
        (t->kind == ENGINE_TRACK_BUS && bus < t->id)) {
        refuse(e, c, 0);
        return;
    }
    float g = db_to_gain(c->f);
    if (sd->bus != bus)
        ramp_jump(&sd->ramp, 0.0f);
    sd->bus = bus;
    sd->level_db = c->f;
    ramp_to(&sd->ramp, g);
    if (t->fresh)
        ramp_jump(&sd->ramp, g);
    update_heard(e);
}

static void apply_graph(Engine *e, const Command *c)
{
    switch (c->kind) {
    case ENGINE_CMD_ADD_TRACK: {
        if (c->track < 0 || c->track >= e->cfg.max_tracks || e->tracks[c->track].kind != ENGINE_TRACK_NONE) {
            refuse(e, c, 0);
            return;
        }
        Track *t = &e->tracks[c->track];
        track_clear(e, t, c->track);
        t->kind = c->a;
        rebuild_order(e);
        update_heard(e);
        return;
    }
    case ENGINE_CMD_REMOVE_TRACK: {
        Track *t = track_of(e, c->track, 0);
        if (!t) {
            refuse(e, c, 0);
            return;
        }
        release_track_contents(e, t, c->time);
        for (int i = 0; i < e->n_order; i++) {
            Track *u = &e->tracks[e->order[i]];
            for (int k = 0; k < e->cfg.max_sends; k++)
                if (u->sends[k].bus == t->id)
                    u->sends[k].bus = -1;
        }
        track_clear(e, t, t->id);
        rebuild_order(e);
        update_heard(e);
        return;
    }
    case ENGINE_CMD_SET_INSTRUMENT: {
        Track *t = track_of(e, c->track, ENGINE_TRACK_INSTRUMENT);
        if (!t) {
            refuse(e, c, ENGINE_EV_NODE_RELEASED);
            return;
        }
        hand_back(e, c->time, ENGINE_EV_NODE_RELEASED, t->inst);
        t->inst = c->ptr;
        t->n_sounding = 0;
        t->n_held = 0;
        t->mono_id = -1;
        if (t->inst)
            node_voices_init(e, t->inst, t->mode);
        return;
    }
    case ENGINE_CMD_INSERT_ADD: {
        Track *t = track_of(e, c->track, 0);
        if (!t || t->n_inserts >= e->cfg.max_inserts) {
            refuse(e, c, ENGINE_EV_NODE_RELEASED);
            return;
        }
        int at = c->a < 0 ? 0 : c->a > t->n_inserts ? t->n_inserts : c->a;
        memmove(&t->inserts[at + 1], &t->inserts[at], (size_t)(t->n_inserts - at) * sizeof *t->inserts);
        t->inserts[at] = c->ptr;
        t->n_inserts++;
        return;
    }
    case ENGINE_CMD_INSERT_REMOVE: {
        Track *t = track_of(e, c->track, 0);
        if (!t || c->a < 0 || c->a >= t->n_inserts) {
            refuse(e, c, 0);
            return;
        }
        hand_back(e, c->time, ENGINE_EV_NODE_RELEASED, t->inserts[c->a]);
        memmove(&t->inserts[c->a], &t->inserts[c->a + 1], (size_t)(t->n_inserts - c->a - 1) * sizeof *t->inserts);
        t->n_inserts--;
        return;
    }
    case ENGINE_CMD_INSERT_MOVE: {
        Track *t = track_of(e, c->track, 0);
        if (!t || c->a < 0 || c->a >= t->n_inserts || c->b < 0 || c->b >= t->n_inserts) {
            refuse(e, c, 0);
            return;
        }
        EngineNode *nd = t->inserts[c->a];
        if (c->a < c->b)
            memmove(&t->inserts[c->a], &t->inserts[c->a + 1], (size_t)(c->b - c->a) * sizeof *t->inserts);
        else
            memmove(&t->inserts[c->b + 1], &t->inserts[c->b], (size_t)(c->a - c->b) * sizeof *t->inserts);
        t->inserts[c->b] = nd;
        return;
    }
    case ENGINE_CMD_VOICE_MODE: {
        Track *t = track_of(e, c->track, ENGINE_TRACK_INSTRUMENT);
        if (!t) {
            refuse(e, c, 0);
            return;
        }
        t->mode = c->a;
        t->priority = c->b;
        /* the runtime's own exp (libm's is not promised to give the same bits
         * natively and in WebAssembly), once per voice mode */
        t->glide_k = c->f > 0.0f ? amp_expf(-(float)AMP_CHUNK / (c->f * e->sr)) : 0.0f;
        t->gliding = 0;
        t->n_held = 0;
        t->mono_id = -1;
        t->n_sounding = 0;
        if (t->inst)
            node_voices_init(e, t->inst, t->mode);
        return;
    }
    default:
        return;
    }
}

static void apply_data(Engine *e, const Command *c)
{
    switch (c->kind) {
    case ENGINE_CMD_LOAD_CLIP:
        hand_back(e, c->time, ENGINE_EV_CLIP_RELEASED, e->clips[c->a]);
        e->clips[c->a] = c->ptr;
        /* Placements of this clip now index other notes. */
        for (int i = 0; i < e->n_order; i++) {
            Track *t = &e->tracks[e->order[i]];
            for (int k = 0; k < t->placements_used; k++)
                if (t->placements[k].clip == c->a)
                    placement_position(e, &t->placements[k], beat_at(e, c->time));
        }
        return;
    case ENGINE_CMD_LOAD_SAMPLE:
        hand_back(e, c->time, ENGINE_EV_SAMPLE_RELEASED, e->samples[c->a]);
        e->samples[c->a] = c->ptr;
        return;
    case ENGINE_CMD_PLACE_CLIP: {
        Track *t = track_of(e, c->track, ENGINE_TRACK_INSTRUMENT);
        if (!t) {
            refuse(e, c, 0);
            return;
        }
        Placement *pl = &t->placements[c->a];
        if (c->a >= t->placements_used)
            t->placements_used = c->a + 1;
        pl->clip = c->b;
        pl->start = c->x;
        pl->length = c->y;
        placement_position(e, pl, beat_at(e, c->time));
        return;
    }
    case ENGINE_CMD_PLACE_REGION: {
        Track *t = track_of(e, c->track, ENGINE_TRACK_AUDIO);
        if (!t) {
            refuse(e, c, 0);
            return;
        }
        Region *r = &t->regions[c->a];
        if (c->a >= t->regions_used)
            t->regions_used = c->a + 1;
        *r = (Region){ .sample = c->b, .start = c->x, .offset = c->m, .length = c->n,
                       .gain = db_to_gain(c->f), .state = REGION_DONE };
        if (e->playing)
            region_position(e, r, beat_at(e, c->time));
        return;
    }
    case ENGINE_CMD_LANE: {
        Track *t = track_of(e, c->track, 0);
        if (!t) {
            refuse(e, c, ENGINE_EV_LANE_RELEASED);
            return;
        }
        Lane *l = &t->lanes[c->a];
        if (c->a >= t->lanes_used)
            t->lanes_used = c->a + 1;
        hand_back(e, c->time, ENGINE_EV_LANE_RELEASED, l->data);
        *l = (Lane){ .data = c->ptr, .target = c->b, .param = c->c };
        if (l->data)
            lane_reset(e, t, l, c->time);
        return;
    }
    default:
        return;
    }
}

static void apply_command(Engine *e, const Command *c, int64_t s)
{
    switch (c->kind) {
    case ENGINE_CMD_PLAY: transport_play(e, s); return;
    case ENGINE_CMD_STOP: transport_stop(e, s); return;
    case ENGINE_CMD_SEEK: transport_seek(e, s, c->x); return;
    case ENGINE_CMD_LOOP:
        e->loop_on = c->a && c->y > c->x;
        e->loop_start = c->x;
        e->loop_end = c->y;
        return;
    case ENGINE_CMD_TEMPO:
        e->base_bpm = c->x;
        e->n_tempo = 0;
        tempo_changed(e, s);
        return;
    case ENGINE_CMD_TEMPO_CHANGE: {
        int i = 0;
        while (i < e->n_tempo && e->tempo_points[i].beat < c->x)
            i++;
        if (i < e->n_tempo && e->tempo_points[i].beat == c->x) {
            e->tempo_points[i].bpm = c->y;
        } else if (e->n_tempo < e->cfg.max_tempo_points) {
            memmove(&e->tempo_points[i + 1], &e->tempo_points[i], (size_t)(e->n_tempo - i) * sizeof(TempoPoint));
            e->tempo_points[i] = (TempoPoint){ c->x, c->y };
            e->n_tempo++;
        } else {
            refuse(e, c, 0);
            return;
        }
        tempo_changed(e, s);
        return;
    }
    case ENGINE_CMD_TIME_SIGNATURE:
        e->sig_num = c->a;
        e->sig_den = c->b;
        return;
    case ENGINE_CMD_NOTE_ON:
    case ENGINE_CMD_NOTE_OFF: {
        Track *t = track_of(e, c->track, ENGINE_TRACK_INSTRUMENT);
        if (!t) {
            refuse(e, c, 0);
            return;
        }
        if (c->kind == ENGINE_CMD_NOTE_ON)
            track_note_on(t, c->a, c->b, c->f);
        else
            track_note_off(t, c->a);
        return;
    }
    case ENGINE_CMD_ALL_NOTES_OFF:
        for (int i = 0; i < e->n_order; i++) {
            Track *t = &e->tracks[e->order[i]];
            if (c->track == ENGINE_MASTER || c->track == t->id)
                track_all_off(t);
        }
        return;
    case ENGINE_CMD_PARAM: {
        Track *t = track_of(e, c->track, 0);
        EngineNode *nd = t ? track_slot(t, c->a) : NULL;
        if (!nd || c->b < 0 || c->b >= nd->desc->n_params) {
            refuse(e, c, 0);
            return;
        }
        nd->desc->set_param(nd->state, c->b, c->f);
        return;
    }
    case ENGINE_CMD_GAIN:
    case ENGINE_CMD_PAN:
    case ENGINE_CMD_MUTE:
    case ENGINE_CMD_SOLO:
        apply_mixer(e, c);
        return;
    case ENGINE_CMD_SEND:
        apply_send(e, c);
        return;
    case ENGINE_CMD_ADD_TRACK:
    case ENGINE_CMD_REMOVE_TRACK:
    case ENGINE_CMD_SET_INSTRUMENT:
    case ENGINE_CMD_INSERT_ADD:
    case ENGINE_CMD_INSERT_REMOVE:
    case ENGINE_CMD_INSERT_MOVE:
    case ENGINE_CMD_VOICE_MODE:
        apply_graph(e, c);
        return;
    default:
        apply_data(e, c);
        return;
    }
}

/* Every pending command due at or before engine time s. */
static void apply_due(Engine *e, int64_t s)
{
    Command c;
    while (e->n_pending > 0 && e->pending[0].time <= s) {
        pending_pop(e, &c);
        c.time = c.time < s ? s : c.time;
        apply_command(e, &c, s);
    }
}

/* ======================================================================== */
/* The block loop                                                           */
/* ======================================================================== */

/* Tempo changes and the loop wrap that fall on engine time s. */
static void transport_at(Engine *e, int64_t s)
{
    if (!e->playing)
        return;
    for (int guard = 0; guard < 4 + e->n_tempo; guard++) {
        double beat = beat_at(e, s);
        if (e->tempo_index + 1 < e->n_tempo && beat >= e->tempo_points[e->tempo_index + 1].beat) {
            anchor_at(e, s, beat, playhead_at(e, s));
            continue;
        }
        if (e->loop_on && beat >= e->loop_end) {
            for (int i = 0; i < e->n_order; i++) {
                Track *t = &e->tracks[e->order[i]];
                track_release_clip_notes(t);
                track_fade_regions(e, t);
            }
            anchor_at(e, s, e->loop_start, llround(tempo_seconds(e, 0.0, e->loop_start) * (double)e->sr));
            all_tracks_position(e, s);
            regions_rise(e);   /* a crossfade at the wrap, not a jump */
            continue;
        }
        break;
    }
}

/* Offset in [1, n] of the next tempo change or loop end after s0. */
static int transport_next(const Engine *e, int64_t s0, int n)
{
    if (!e->playing)
        return n;
    int best = n;
    if (e->tempo_index + 1 < e->n_tempo) {
        int o = beat_offset(e, e->tempo_points[e->tempo_index + 1].beat, s0, n);
        if (o < best)
            best = o;
    }
    if (e->loop_on) {
        int o = beat_offset(e, e->loop_end, s0, n);
        if (o < best)
            best = o;
    }
    return best < 1 ? 1 : best;
}

static void render_block(Engine *e, float *L, float *R, int n)
{
    int pos = 0;
    while (pos < n) {
        int64_t s = e->now + pos;
        apply_due(e, s);
        transport_at(e, s);
        int seg = n - pos;
        if (e->n_pending > 0 && e->pending[0].time - s < seg)
            seg = (int)(e->pending[0].time - s);
        int t = transport_next(e, s, seg);
        if (t < seg)
            seg = t;
        render_segment(e, L, R, pos, seg);
        pos += seg;
    }
    e->now += n;
}

/* ======================================================================== */
/* State region                                                             */
/* ======================================================================== */

/* The region is copied as 32-bit atomic words, so that a reader racing the
 * writer is well defined; the seqlock tells it whether to keep what it
 * read. No fences (the form ThreadSanitizer can check): the writer stores
 * each field with release, so a reader that sees a new field also sees the
 * odd seq stored before it; the reader loads each field with acquire, so
 * its second look at seq cannot move before them. On x86 and WebAssembly
 * these are the same plain moves (wasm atomics are sequentially
 * consistent anyway). */
typedef _Atomic uint32_t AtomicWord;
static_assert(sizeof(AtomicWord) == 4, "atomic word is 4 bytes");

static void state_publish(Engine *e)
{
    AtomicWord *dst = (AtomicWord *)(void *)e->shared;
    const uint32_t *src = (const uint32_t *)(const void *)&e->priv;
    size_t words = sizeof(EngineState) / 4;
    uint32_t seq = atomic_load_explicit(&dst[0], memory_order_relaxed);   /* only this thread writes it */
    atomic_store_explicit(&dst[0], seq + 1, memory_order_relaxed);         /* odd: writing */
    for (size_t i = 1; i < words; i++)
        atomic_store_explicit(&dst[i], src[i], memory_order_release);      /* after the odd seq */
    atomic_store_explicit(&dst[0], seq + 2, memory_order_release);         /* every field before the even seq */
}

void engine_state_read(const EngineState *shared, EngineState *copy)
{
    const AtomicWord *src = (const AtomicWord *)(const void *)shared;
    uint32_t *dst = (uint32_t *)(void *)copy;
    size_t words = sizeof(EngineState) / 4;
    for (;;) {
        /* Acquire: the fields of this version (or newer) are visible. */
        uint32_t before = atomic_load_explicit(&src[0], memory_order_acquire);
        if (before & 1u)
            continue;
        for (size_t i = 1; i < words; i++)
            dst[i] = atomic_load_explicit(&src[i], memory_order_acquire);  /* before the second look */
        uint32_t after = atomic_load_explicit(&src[0], memory_order_relaxed);
        if (before == after) {
            dst[0] = before;
            return;
        }
    }
}

const EngineState *engine_state(const Engine *e)
{
    return e->shared;
}

static uint32_t ns32(uint64_t ns)
{
    return ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static void state_build(Engine *e)
{
    EngineState *st = &e->priv;
    st->playing = (uint32_t)e->playing;
    st->now = e->now;
    st->playhead = playhead_at(e, e->now);
    st->beat = beat_at(e, e->now);
    st->tempo = e->bpm;
    st->sig_num = (uint32_t)e->sig_num;
    st->sig_den = (uint32_t)e->sig_den;
    st->loop_enabled = (uint32_t)e->loop_on;
    st->loop_start = e->loop_start;
    st->loop_end = e->loop_end;
    st->master = e->master_meter.out;
    st->cpu_ns = ns32(e->render_ns);
    st->commands_refused = atomic_load_explicit(&e->cmd_refused, memory_order_relaxed);
    st->commands_failed = e->cmd_failed;
    st->events_dropped = rb_dropped(e->events);
    st->nodes_refused = atomic_load_explicit(&e->nodes_refused, memory_order_relaxed);
    st->buffers_refused = atomic_load_explicit(&e->buffers_refused, memory_order_relaxed);
    for (int i = 0; i < e->cfg.max_tracks; i++) {
        Track *t = &e->tracks[i];
        EngineTrackState *ts = &st->tracks[i];
        memset(ts, 0, sizeof *ts);
        ts->kind = (uint32_t)t->kind;
        if (t->kind == ENGINE_TRACK_NONE)
            continue;
        ts->flags = (t->mute ? ENGINE_TRACK_FLAG_MUTED : 0) | (t->solo ? ENGINE_TRACK_FLAG_SOLOED : 0) |
                    (t->heard ? ENGINE_TRACK_FLAG_HEARD : 0);
        ts->meter = t->meter.out;
        ts->faults = t->faults;
        ts->notes_refused = t->notes_refused;
        for (int slot = 0; slot <= t->n_inserts; slot++) {
            EngineNode *nd = track_slot(t, slot);
            if (!nd)
                continue;
            ts->cpu_ns[slot] = ns32(nd->cpu_ns);
            nd->cpu_ns = 0;
            if (nd->faulted)
                ts->faulted |= 1u << slot;
        }
        if (t->inst && t->inst->poly)
            ts->voices = (uint32_t)t->inst->desc->voices(t->inst->state)->live;
    }
}

void engine_render(Engine *e, float *const out[2], int frames)
{
    uint64_t t0 = clock_now(e);
    hand_back_waiting(e);
    drain_queue(e);
    for (int done = 0; done < frames;) {
        int n = frames - done < e->cfg.max_block ? frames - done : e->cfg.max_block;
        render_block(e, out[0] + done, out[1] + done, n);
        done += n;
        drain_queue(e);
    }
    e->render_ns = e->cfg.clock ? clock_now(e) - t0 : 0;
    state_build(e);
    state_publish(e);
}

/* ======================================================================== */
/* Command entry points (control side)                                      */
/* ======================================================================== */

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

static int queue_simple(Engine *e, int64_t time, int kind, int track, int a, int b, float f, double x, double y)
{
    if (!valid_time(time))
        return refuse_call(e);
    Command c = { .time = time, .kind = kind, .track = track, .a = a, .b = b, .f = f, .x = x, .y = y };
    return queue_push(e, &c);
}

int engine_play(Engine *e, int64_t time)
{
    return queue_simple(e, time, ENGINE_CMD_PLAY, -1, 0, 0, 0.0f, 0.0, 0.0);
}

int engine_stop(Engine *e, int64_t time)
{
    return queue_simple(e, time, ENGINE_CMD_STOP, -1, 0, 0, 0.0f, 0.0, 0.0);
}

int engine_seek(Engine *e, int64_t time, double beat)
{
    if (!(beat >= 0.0 && beat < 1e9))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_SEEK, -1, 0, 0, 0.0f, beat, 0.0);
}

int engine_set_loop(Engine *e, int64_t time, int enabled, double start_beat, double end_beat)
{
    if (!(start_beat >= 0.0 && end_beat < 1e9) || (enabled && !(end_beat > start_beat)))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_LOOP, -1, enabled != 0, 0, 0.0f, start_beat, end_beat);
}

static bool valid_bpm(double bpm)
{
    return bpm >= 1.0 && bpm <= 1000.0;
}

int engine_set_tempo(Engine *e, int64_t time, double bpm)
{
    if (!valid_bpm(bpm))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_TEMPO, -1, 0, 0, 0.0f, bpm, 0.0);
}

int engine_add_tempo_change(Engine *e, int64_t time, double beat, double bpm)
{
    if (!valid_bpm(bpm) || !(beat >= 0.0 && beat < 1e9))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_TEMPO_CHANGE, -1, 0, 0, 0.0f, beat, bpm);
}

int engine_set_time_signature(Engine *e, int64_t time, int numerator, int denominator)
{
    if (numerator < 1 || numerator > 64 || denominator < 1 || denominator > 64 ||
        (denominator & (denominator - 1)))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_TIME_SIGNATURE, -1, numerator, denominator, 0.0f, 0.0, 0.0);
}

int engine_note_on(Engine *e, int64_t time, int track, int note_id, int key, float vel)
{
    if (!valid_track(e, track) || note_id < 0 || note_id > ENGINE_LIVE_NOTE_MAX || key < 0 || key > 127 ||
        !(vel >= 0.0f && vel <= 1.0f))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_NOTE_ON, track, note_id, key, vel, 0.0, 0.0);
}

int engine_note_off(Engine *e, int64_t time, int track, int note_id)
{
    if (!valid_track(e, track) || note_id < 0 || note_id > ENGINE_LIVE_NOTE_MAX)
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_NOTE_OFF, track, note_id, 0, 0.0f, 0.0, 0.0);
}

int engine_all_notes_off(Engine *e, int64_t time, int track)
{
    if (track != ENGINE_MASTER && !valid_track(e, track))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_ALL_NOTES_OFF, track, 0, 0, 0.0f, 0.0, 0.0);
}

int engine_set_param(Engine *e, int64_t time, int track, int slot, int param, float value)
{
    if (!valid_track(e, track) || slot < 0 || slot > e->cfg.max_inserts || param < 0 || !(value == value))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_PARAM, track, slot, param, value, 0.0, 0.0);
}

int engine_add_track(Engine *e, int64_t time, int track, EngineTrackKind kind)
{
    if (!valid_track(e, track) || kind < ENGINE_TRACK_INSTRUMENT || kind > ENGINE_TRACK_BUS)
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_ADD_TRACK, track, (int)kind, 0, 0.0f, 0.0, 0.0);
}

int engine_remove_track(Engine *e, int64_t time, int track)
{
    if (!valid_track(e, track))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_REMOVE_TRACK, track, 0, 0, 0.0f, 0.0, 0.0);
}

static int queue_ptr(Engine *e, int64_t time, int kind, int track, int a, int b, int cc, void *ptr)
{
    if (!valid_time(time))
        return refuse_call(e);
    Command c = { .time = time, .kind = kind, .track = track, .a = a, .b = b, .c = cc, .ptr = ptr };
    return queue_push(e, &c);
}

int engine_set_instrument(Engine *e, int64_t time, int track, EngineNode *node)
{
    if (!valid_track(e, track))
        return refuse_call(e);
    return queue_ptr(e, time, ENGINE_CMD_SET_INSTRUMENT, track, 0, 0, 0, node);
}

int engine_insert_add(Engine *e, int64_t time, int track, int position, EngineNode *node)
{
    if (!valid_track(e, track) || !node)
        return refuse_call(e);
    return queue_ptr(e, time, ENGINE_CMD_INSERT_ADD, track, position, 0, 0, node);
}

int engine_insert_remove(Engine *e, int64_t time, int track, int position)
{
    if (!valid_track(e, track) || position < 0 || position >= e->cfg.max_inserts)
        return refuse_call(e);
    return queue_ptr(e, time, ENGINE_CMD_INSERT_REMOVE, track, position, 0, 0, NULL);
}

int engine_insert_move(Engine *e, int64_t time, int track, int from, int to)
{
    if (!valid_track(e, track) || from < 0 || from >= e->cfg.max_inserts || to < 0 || to >= e->cfg.max_inserts)
        return refuse_call(e);
    return queue_ptr(e, time, ENGINE_CMD_INSERT_MOVE, track, from, to, 0, NULL);
}

int engine_set_voice_mode(Engine *e, int64_t time, int track, EngineVoiceMode mode, EnginePriority priority,
                          float glide_seconds)
{
    if (!valid_track(e, track) || mode < ENGINE_VOICE_POLY || mode > ENGINE_VOICE_LEGATO ||
        priority < ENGINE_PRIORITY_LAST || priority > ENGINE_PRIORITY_HIGH || !(glide_seconds >= 0.0f) ||
        !(glide_seconds <= 10.0f))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_VOICE_MODE, track, (int)mode, (int)priority, glide_seconds, 0.0, 0.0);
}

static bool mixer_track(const Engine *e, int track)
{
    return track == ENGINE_MASTER || valid_track(e, track);
}

int engine_set_gain(Engine *e, int64_t time, int track, float gain_db)
{
    if (!mixer_track(e, track) || !(gain_db <= 24.0f) || gain_db != gain_db)
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_GAIN, track, 0, 0, gain_db, 0.0, 0.0);
}

int engine_set_pan(Engine *e, int64_t time, int track, float pan)
{
    if (!valid_track(e, track) || !(pan >= -1.0f && pan <= 1.0f))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_PAN, track, 0, 0, pan, 0.0, 0.0);
}

int engine_set_mute(Engine *e, int64_t time, int track, int mute)
{
    if (!valid_track(e, track))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_MUTE, track, mute != 0, 0, 0.0f, 0.0, 0.0);
}

int engine_set_solo(Engine *e, int64_t time, int track, int solo)
{
    if (!valid_track(e, track))
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_SOLO, track, solo != 0, 0, 0.0f, 0.0, 0.0);
}

int engine_set_send(Engine *e, int64_t time, int track, int send, int bus, float level_db)
{
    if (!valid_track(e, track) || send < 0 || send >= e->cfg.max_sends || bus < -1 ||
        bus >= e->cfg.max_tracks || !(level_db <= 24.0f) || level_db != level_db)
        return refuse_call(e);
    return queue_simple(e, time, ENGINE_CMD_SEND, track, send, bus, level_db, 0.0, 0.0);
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
    if (clip_id < 0 || clip_id >= e->cfg.max_clips || (clip && !clip_sorted(clip)))
        return refuse_call(e);
    return queue_ptr(e, time, ENGINE_CMD_LOAD_CLIP, -1, clip_id, 0, 0, clip);
}

int engine_place_clip(Engine *e, int64_t time, int track, int slot, int clip_id, double start_beat,
                      double length_beats)
{
    if (!valid_track(e, track) || slot < 0 || slot >= e->cfg.max_placements || clip_id < -1 ||
        clip_id >= e->cfg.max_clips || !(start_beat >= 0.0 && start_beat < 1e9) ||
        !(length_beats >= 0.0 && length_beats < 1e9) || !valid_time(time))
        return refuse_call(e);
    Command c = { .time = time, .kind = ENGINE_CMD_PLACE_CLIP, .track = track, .a = slot, .b = clip_id,
                  .x = start_beat, .y = length_beats };
    return queue_push(e, &c);
}

int engine_load_sample(Engine *e, int64_t time, int sample_id, EngineSample *sample)
{
    if (sample_id < 0 || sample_id >= e->cfg.max_samples)
        return refuse_call(e);
    return queue_ptr(e, time, ENGINE_CMD_LOAD_SAMPLE, -1, sample_id, 0, 0, sample);
}

int engine_place_region(Engine *e, int64_t time, int track, int slot, int sample_id, double start_beat,
                        int64_t offset_frames, int64_t length_frames, float gain_db)
{
    if (!valid_track(e, track) || slot < 0 || slot >= e->cfg.max_regions || sample_id < -1 ||
        sample_id >= e->cfg.max_samples || !(start_beat >= 0.0 && start_beat < 1e9) || offset_frames < 0 ||
        !(gain_db <= 24.0f) || gain_db != gain_db || !valid_time(time))
        return refuse_call(e);
    Command c = { .time = time, .kind = ENGINE_CMD_PLACE_REGION, .track = track, .a = slot, .b = sample_id,
                  .f = gain_db, .x = start_beat, .m = offset_frames, .n = length_frames };
    return queue_push(e, &c);
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
        (fader && param > ENGINE_FADER_PAN) || (lane && !lane_sorted(lane)))
        return refuse_call(e);
    return queue_ptr(e, time, ENGINE_CMD_LANE, track, lane_slot, target_slot, param, lane);
}
