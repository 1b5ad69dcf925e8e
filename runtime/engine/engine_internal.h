/* engine_internal.h — what the engine's files share: the Engine struct and
 * its parts, the small inline helpers, and the functions one file gives the
 * others. Not for use outside runtime/engine_*.c; the engine's interface is
 * engine.h.
 *
 *   engine_control.c  control side: configuration, memory and pools, the
 *                     engine_* calls that build and queue commands.def
 *                     records, the producer end of the command queue
 *   engine_apply.c    audio side: the consumer end of the queue, the
 *                     time-ordered pending heap, and the one switch that
 *                     applies a record at its sample
 *   engine_render.c   audio side: transport, notes and voice modes,
 *                     automation, the per-track render, the mixer, the
 *                     block loop (cut at every command and transport
 *                     boundary), the state region, engine_render
 *
 * Threading contract (engine.h has the whole of it): the control role and
 * the audio role, one thread each at a time, meet only in the command
 * queue (SPSC: control writes `queue.write` and the slots, audio writes
 * `queue.read`), the parcel words (control turns 0 into a pointer, audio
 * takes it and stores 0), the event ring (audio -> control), the state
 * region (seqlock) and the relaxed statistics counters. Every other field
 * of Engine belongs to one role, as marked.
 */
#ifndef AMP_ENGINE_INTERNAL_H
#define AMP_ENGINE_INTERNAL_H

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amp_math.h"
#include "commands.h"
#include "engine.h"
#include "pool.h"

#define ALIGN 64
#define CLIP_NOTE_BASE 0x40000000   /* clip notes get patch note ids from here */

/* ---- the heap (engine_control.c): first fit over one fixed region ------------ */

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

/* ---- types ------------------------------------------------------------------ */

struct EngineNode {
    const AmpPatchDesc *desc;
    void *state;
    int poly;              /* desc->max_voices > 0 */
    int faulted;           /* the last process() call gave NaN/Inf or beyond ENGINE_SIGNAL_CEILING */
    uint64_t cpu_ns;       /* this render call */
    BackLink back;         /* waiting to be handed back (see HeapBlock) */
};

/* The engine's one command queue carries commands.def records as
 * cmd_decode leaves them (commands.h's Command): single producer (control),
 * single consumer (audio), fixed slots. */
typedef struct EngineQueue {
    alignas(ALIGN) _Atomic uint32_t write;   /* producer-owned */
    alignas(ALIGN) _Atomic uint32_t read;    /* consumer-owned */
    alignas(ALIGN) uint32_t mask;            /* capacity - 1, fixed */
    Command *slots;
} EngineQueue;

/* A command waiting in the time-ordered heap, with its place in the
 * order of arrival (for equal times). */
typedef struct PendingCommand {
    Command command;
    uint32_t seq;
    uint32_t pad;
} PendingCommand;

typedef struct Ramp {
    float cur, target, step;
    int left;              /* samples until cur == target */
} Ramp;

typedef struct MeterWindow {  /* peak and RMS over the window being filled */
    double sq[2];
    float peak[2];
    int count;
    uint32_t clips;        /* samples past full scale so far (sticky) */
    EngineMeter out;       /* the last complete window */
} MeterWindow;

typedef struct Placement {
    int clip;              /* -1: empty */
    double start, length;  /* beats */
    double loop;           /* beats of content that repeat; 0: no loop */
    int64_t rep;           /* the repeat the cursor is in (0 without a loop) */
    int cursor;            /* next note to start, in repeat `rep`; n_notes: none left */
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
    uint32_t position;     /* place in the mixer order (set_track_position); its id when new */
    EngineNode *inst;
    EngineNode **inserts;
    int n_inserts;
    EngineNode *fade_node;   /* hot swap: the replaced node, crossfading out; NULL none */
    int fade_slot;           /* the slot it fades out of (0 instrument, k insert k) */
    int fade_done, fade_total;/* samples of the crossfade made, and its length */
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
    MeterWindow meter;
    uint32_t faults, notes_refused;
    int src_faulted;       /* audio track: its regions' last mix was faulted (slot 0) */
    int32_t sample_bind[ENGINE_SAMPLE_SLOTS]; /* sample id each slot of the instrument reads, -1 none */
} Track;

typedef struct TempoPoint {
    double beat, bpm;
} TempoPoint;

typedef struct SigPoint {  /* a time signature change */
    double beat;
    int32_t num, den;
} SigPoint;

/* The metronome's click: a cosine from its peak under an exponential
 * decay, made once at engine_init with the runtime's kernels. */
#define CLICK_SECONDS 0.035     /* length: the decay is below -100 dB by then */
#define CLICK_DECAY 0.003       /* time constant, seconds */
#define CLICK_HZ 1000.0         /* a beat; an accent (a bar's first beat) is an octave up */
#define CLICK_LEVEL 0.3f        /* a beat's peak at 0 dB */
#define CLICK_ACCENT_LEVEL 0.5f /* an accent's peak at 0 dB */

struct Engine {
    EngineQueue queue;
    EngineConfig cfg;
    float sr;
    unsigned char *memory;          /* the one block everything lives in */

    /* control side */
    _Atomic uint32_t cmd_refused, nodes_refused, buffers_refused;
    uint32_t parcel_next;           /* where the next parcel_put starts looking */
    Pool *node_pool;
    void *back_head, *back_tail;   /* buffers waiting for room in the event ring, oldest first */
    int back_head_kind, back_tail_kind;
    uint32_t back_waiting;
    Heap state_heap, clip_heap, sample_heap, lane_heap;

    /* both sides: one pointer word per parcel (see parcel_put) */
    _Atomic uintptr_t *parcels;
    uint32_t n_parcels;

    /* audio side */
    PendingCommand *pending;        /* binary min-heap on (time, seq) */
    int n_pending, pending_cap;
    uint32_t next_seq;              /* arrival order, given as commands leave the queue */
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
    int sig_num, sig_den;           /* the signature from beat 0 ... */
    SigPoint *sig_points;           /* ... then these changes (sorted by beat, up to max_tempo_points) */
    int n_sig;
    int metro_on;                   /* metronome */
    float metro_db, metro_gain;
    float *click[2];                /* click tables: a beat, an accent */
    int click_len;
    int click_pos, click_kind;      /* the click sounding: sample into it, -1 none; which table */
    int metro_seg;                  /* the next click: signature segment (-1 the base) ... */
    int64_t metro_index;            /* ... and beat of the signature within it */
    double metro_next;              /* its beat */
    uint32_t clip_note_seq;
    float master_db;
    Ramp master;
    MeterWindow master_meter;
    uint32_t master_limited;        /* samples the safety limit clipped since init */
    uint32_t limited_now;           /* ... in this render call */
    int limiting;                   /* the last render call clipped */
    int last_fault_track, last_fault_slot;   /* the engine's last fault, -1 none */
    int meter_window;
    float *mix[2];
    float *scratch[ENGINE_MAX_CHANNELS];
    float *fade_out[ENGINE_MAX_CHANNELS];   /* a hot swap's old node's output */
    float *mono;                    /* an insert's one input */
    float *silence;
    uint64_t render_ns;

    EngineState priv;               /* built on the audio side ... */
    EngineState *shared;            /* ... and published here */
};

/* ---- small helpers, inline for the audio path ---------------------------------- */
static inline void count(_Atomic uint32_t *c)
{
    /* Relaxed: a statistic, read by the audio thread for the state region. */
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* dB to gain; -inf below -150 dB; at most +24 dB; 0 dB exactly 1. */
static inline float db_to_gain(float db)
{
    if (db == 0.0f)
        return 1.0f;
    if (!(db > -150.0f))
        return 0.0f;
    if (db > 24.0f)
        db = 24.0f;
    return amp_db2linf(db);
}

static inline void ramp_to(Ramp *r, float target)
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

static inline void ramp_jump(Ramp *r, float target)
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

/* A region cut by stop or seek fades out over 3 ms (like a stolen voice). */
static inline int region_fade_len(float sr)
{
    int n = (int)(sr * 0.003f + 0.5f);
    return n > 0 ? n : 1;
}

/* ---- engine_control.c ---------------------------------------------------------- */

void engine_node_voices_init(Engine *e, EngineNode *nd, int mode);
void engine_track_clear(Engine *e, Track *t, int id);

/* ---- engine_apply.c (audio) ----------------------------------------------------- */

void engine_apply_due(Engine *e, int64_t s);
void engine_drain_queue(Engine *e);

/* ---- engine_render.c (audio) ---------------------------------------------------- */

void engine_all_tracks_position(Engine *e, int64_t s);
void engine_anchor_at(Engine *e, int64_t s, double beat, int64_t play);
double engine_beat_at(const Engine *e, int64_t s);
void engine_hand_back(Engine *e, int64_t time, int kind, void *ptr);
void engine_lane_reset(Engine *e, Track *t, Lane *l, int64_t s);
float engine_pan_clamp(float pan);
void engine_placement_position(Engine *e, Placement *pl, double beat);
int64_t engine_playhead_at(const Engine *e, int64_t s);
bool engine_post(Engine *e, int64_t time, int kind, int track, int slot, int code, void *ptr);
void engine_rebuild_order(Engine *e);
bool engine_runs_before(const Track *a, const Track *b);
void engine_region_position(Engine *e, Region *r, double beat);
void engine_regions_rise(Engine *e);
double engine_tempo_seconds(const Engine *e, double a, double b);
void engine_metronome_seek(Engine *e, double beat);
void engine_track_all_off(Track *t);
void engine_track_cut(Track *t);
void engine_track_fade_regions(Engine *e, Track *t);
void engine_track_note_off(Track *t, int note_id);
void engine_track_note_on(Track *t, int note_id, int key, float vel);
EngineNode *engine_track_slot(Track *t, int slot);
void engine_update_heard(Engine *e);

#endif
