/* engine_render.c — the engine's audio side: the transport (beats, tempo
 * map, loop), notes and voice modes, automation lanes, the per-track render
 * loop (split at every clip note, region start, breakpoint and control
 * tick), the mixer (fader, sends, meters), the block loop (split at every
 * command and transport boundary), the state region, and engine_render.
 *
 * Threads: the audio thread only, except engine_state_read (any thread,
 * a seqlock read) and engine_state. Nothing here allocates, frees, locks,
 * waits or does I/O: every table is sized by engine_init, and buffers
 * leave the audio side only as events on the event ring.
 */
#include "util.h"
#include "engine_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "patch_swap.h"
#include "voice.h"

/* ======================================================================== */
/* Small helpers                                                            */
/* ======================================================================== */

static uint64_t clock_now(const Engine *e)
{
    return e->cfg.clock ? e->cfg.clock(e->cfg.clock_user) : 0;
}

/* An event on the ring; false when the ring is full (the ring counts it). */
bool engine_post(Engine *e, int64_t time, int kind, int track, int slot, int code, void *ptr)
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
        if (!engine_post(e, l->time, l->kind, -1, -1, 0, e->back_head))
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
void engine_hand_back(Engine *e, int64_t time, int kind, void *ptr)
{
    if (!ptr)
        return;
    if (!e->back_head && engine_post(e, time, kind, -1, -1, 0, ptr))
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

double engine_beat_at(const Engine *e, int64_t s)
{
    if (!e->playing)
        return e->anchor_beat;
    return e->anchor_beat + beats_in(e, (double)(s - e->anchor_sample));
}

int64_t engine_playhead_at(const Engine *e, int64_t s)
{
    return e->playing ? e->anchor_play + (s - e->anchor_sample) : e->anchor_play;
}

/* The first offset o in [0, n] with engine_beat_at(s0 + o) >= x; n if none below n. */
static int beat_offset(const Engine *e, double x, int64_t s0, int n)
{
    double b0 = engine_beat_at(e, s0);
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
    while (o > 0 && engine_beat_at(e, s0 + o - 1) >= x)
        o--;
    while (o < n && engine_beat_at(e, s0 + o) < x)
        o++;
    return o;
}

/* The first offset in [0, n] where the playhead reaches sample position p. */
static int playhead_offset(const Engine *e, double p, int64_t s0, int n)
{
    double p0 = (double)engine_playhead_at(e, s0);
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
double engine_tempo_seconds(const Engine *e, double a, double b)
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
void engine_anchor_at(Engine *e, int64_t s, double beat, int64_t play)
{
    e->anchor_sample = s;
    e->anchor_beat = beat;
    e->anchor_play = play;
    e->tempo_index = tempo_index_for(e, beat);
    e->bpm = tempo_bpm_at_index(e, e->tempo_index);
    engine_metronome_seek(e, beat);
}

/* ======================================================================== */
/* The signature map and the metronome                                      */
/* ======================================================================== */

/* Segment `seg` of the signature map: -1 the base (from beat 0), k >= 0
 * change k. Its beats (of the signature: 4 / den quarter notes each)
 * count from its start. */
static double sig_start(const Engine *e, int seg)
{
    return seg < 0 ? 0.0 : e->sig_points[seg].beat;
}

static int sig_num_of(const Engine *e, int seg)
{
    return seg < 0 ? e->sig_num : e->sig_points[seg].num;
}

static double sig_unit(const Engine *e, int seg)
{
    return 4.0 / (double)(seg < 0 ? e->sig_den : e->sig_points[seg].den);
}

static double click_beat(const Engine *e, int seg, int64_t index)
{
    return sig_start(e, seg) + (double)index * sig_unit(e, seg);
}

/* Past the end of its segment, the next click is the next segment's first. */
static void metronome_normalize(Engine *e)
{
    while (e->metro_seg + 1 < e->n_sig &&
           click_beat(e, e->metro_seg, e->metro_index) >= e->sig_points[e->metro_seg + 1].beat) {
        e->metro_seg++;
        e->metro_index = 0;
    }
    e->metro_next = click_beat(e, e->metro_seg, e->metro_index);
}

/* The next click: the first beat of the signature at or after `beat`. */
void engine_metronome_seek(Engine *e, double beat)
{
    int seg = -1;
    for (int i = 0; i < e->n_sig && e->sig_points[i].beat <= beat; i++)
        seg = i;
    double start = sig_start(e, seg), unit = sig_unit(e, seg);
    int64_t index = beat > start ? (int64_t)ceil((beat - start) / unit) : 0;
    while (index > 0 && click_beat(e, seg, index - 1) >= beat)   /* exact, whatever the division rounded */
        index--;
    while (click_beat(e, seg, index) < beat)
        index++;
    e->metro_seg = seg;
    e->metro_index = index;
    metronome_normalize(e);
}

/* Add the sounding click over out[from, to). */
static void click_mix(Engine *e, float *L, float *R, int from, int to)
{
    if (e->click_pos < 0)
        return;
    const float *k = e->click[e->click_kind];
    float g = e->metro_gain;
    for (int i = from; i < to && e->click_pos < e->click_len; i++, e->click_pos++) {
        float x = k[e->click_pos] * g;
        L[i] += x;
        R[i] += x;
    }
    if (e->click_pos >= e->click_len)
        e->click_pos = -1;
}

/* The metronome over the master's output [pos, pos + n) of a segment
 * (constant tempo, no jump): a click starts on the first sample of each
 * beat of the signature while playing (and counts on when it is off). */
static void metronome_run(Engine *e, float *L, float *R, int pos, int n)
{
    int64_t s0 = e->now + pos;
    int from = 0;
    for (int guard = 0; guard < n + 1; guard++) {
        int o = e->playing ? beat_offset(e, e->metro_next, s0, n) : n;
        click_mix(e, L + pos, R + pos, from, o);
        if (o >= n)
            return;
        if (e->metro_on) {
            e->click_kind = e->metro_index % sig_num_of(e, e->metro_seg) == 0;
            e->click_pos = 0;
        }
        e->metro_index++;
        metronome_normalize(e);
        from = o;
    }
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

void engine_track_note_on(Track *t, int note_id, int key, float vel)
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

void engine_track_note_off(Track *t, int note_id)
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
void engine_track_all_off(Track *t)
{
    t->n_sounding = 0;
    t->n_held = 0;
    t->mono_id = -1;
    if (t->inst && t->inst->poly)
        voice_all_off(t->inst->desc, t->inst->state);
}

/* Cut every voice without a click (seek). */
void engine_track_cut(Track *t)
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
        engine_track_note_off(t, t->sounding[i].note_id);
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
    engine_track_note_on(t, id, note->key, note->vel);
}

/* ======================================================================== */
/* Automation lanes                                                         */
/* ======================================================================== */

EngineNode *engine_track_slot(Track *t, int slot)
{
    if (slot == 0)
        return t->inst;
    if (slot >= 1 && slot <= t->n_inserts)
        return t->inserts[slot - 1];
    return NULL;
}

static double lane_position(const Engine *e, const Lane *l, int64_t s)
{
    return l->data->unit == ENGINE_TIME_SAMPLES ? (double)engine_playhead_at(e, s) : engine_beat_at(e, s);
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

float engine_pan_clamp(float pan)
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
            t->pan = engine_pan_clamp(v);
        track_gains(t);
        return;
    }
    EngineNode *nd = engine_track_slot(t, l->target);
    if (nd && l->param >= 0 && l->param < nd->desc->n_params)
        nd->desc->set_param(nd->state, l->param, lane_value(l, x));
}

/* Cursor to the position at engine time s, and the value set there. */
void engine_lane_reset(Engine *e, Track *t, Lane *l, int64_t s)
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

void engine_region_position(Engine *e, Region *r, double beat)
{
    if (r->sample < 0)
        return;
    if (beat < r->start) {
        r->state = REGION_IDLE;
        r->frame = 0;
        return;
    }
    int64_t frame = llround(engine_tempo_seconds(e, r->start, beat) * (double)e->sr);
    r->frame = frame;
    r->state = frame < region_length(e, r) ? REGION_PLAYING : REGION_DONE;
}

/* Beats from the placement's start of its note k in repeat `rep`. */
static double placement_offset(const Placement *pl, const EngineClip *c, int64_t rep, int k)
{
    return pl->loop > 0.0 ? (double)rep * pl->loop + c->notes[k].start : c->notes[k].start;
}

/* Keep the cursor on a note that may still play: past the notes of the
 * loop's content it moves to the next repeat (while one starts before the
 * end); nothing left: n_notes. */
static void placement_normalize(Placement *pl, const EngineClip *c)
{
    if (pl->cursor < c->n_notes && !(pl->loop > 0.0 && c->notes[pl->cursor].start >= pl->loop))
        return;
    if (pl->loop > 0.0 && c->n_notes > 0 && c->notes[0].start < pl->loop &&
        (double)(pl->rep + 1) * pl->loop < pl->length) {
        pl->rep++;
        pl->cursor = 0;
        return;
    }
    pl->cursor = c->n_notes;
}

void engine_placement_position(Engine *e, Placement *pl, double beat)
{
    const EngineClip *c = pl->clip >= 0 ? e->clips[pl->clip] : NULL;
    int k = 0;
    int64_t rep = 0;
    if (c && pl->loop > 0.0 && beat > pl->start) {
        double r = floor((beat - pl->start) / pl->loop);
        rep = r > 0.0 ? (r < 1e15 ? (int64_t)r : (int64_t)1e15) : 0;
        while (rep > 0 && pl->start + (double)rep * pl->loop > beat)
            rep--;
        while (pl->start + (double)(rep + 1) * pl->loop <= beat)
            rep++;
    }
    if (c)
        while (k < c->n_notes && pl->start + placement_offset(pl, c, rep, k) < beat)
            k++;
    pl->rep = rep;
    pl->cursor = k;
    if (c)
        placement_normalize(pl, c);
}

/* Clips, regions and lanes of a track to the playhead at engine time s. */
static void track_position(Engine *e, Track *t, int64_t s)
{
    double beat = engine_beat_at(e, s);
    for (int i = 0; i < t->placements_used; i++)
        if (t->placements[i].clip >= 0)
            engine_placement_position(e, &t->placements[i], beat);
    for (int i = 0; i < t->regions_used; i++)
        engine_region_position(e, &t->regions[i], beat);
    for (int i = 0; i < t->lanes_used; i++)
        if (t->lanes[i].data)
            engine_lane_reset(e, t, &t->lanes[i], s);
}

void engine_all_tracks_position(Engine *e, int64_t s)
{
    for (int i = 0; i < e->n_order; i++)
        track_position(e, &e->tracks[e->order[i]], s);
}

/* After play or seek: regions that start sounding in their middle fade in
 * (3 ms) instead of jumping to their level. */
void engine_regions_rise(Engine *e)
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

/* The first sample of out[0..channels) over [0, n) beyond
 * ENGINE_SIGNAL_CEILING or non-finite: its index, and in *code
 * ENGINE_FAULT_NONFINITE or ENGINE_FAULT_CEILING; -1 when there is none.
 * One compare per sample on the magnitude bits: NaN and +-Inf have the
 * largest exponent, so they are above the ceiling's bits too. */
static int block_fault(float *const *out, int channels, int n, int *code)
{
    int first = -1;
    uint32_t worst = 0;
    for (int c = 0; c < channels; c++) {
        const float *x = out[c];
        int end = first < 0 ? n : first + 1;
        for (int i = 0; i < end; i++) {
            uint32_t bits;
            memcpy(&bits, &x[i], sizeof bits);
            bits &= 0x7fffffffu;
            if (bits > ENGINE_SIGNAL_CEILING_BITS) {
                if (first < 0 || i < first || bits > worst) {
                    first = i;
                    worst = bits;
                }
                break;
            }
        }
    }
    if (first >= 0)
        *code = worst >= 0x7f800000u ? ENGINE_FAULT_NONFINITE : ENGINE_FAULT_CEILING;
    return first;
}

/* A fault on slot `slot` of t (0 the instrument or an audio track's
 * regions, 1.. the inserts) at engine time `at`: counted, remembered as the
 * engine's last fault, posted when the slot was not already faulted. */
static void track_fault(Engine *e, Track *t, int slot, int *faulted, int64_t at, int code)
{
    t->faults++;
    e->last_fault_track = t->id;
    e->last_fault_slot = slot;
    if (!*faulted)
        engine_post(e, at, ENGINE_EV_NODE_FAULT, t->id, slot, code, NULL);
    *faulted = 1;
}

/* The instrument's sample slots (patch ABI 3) as the track binds them
 * (engine_bind_sample), written before each process() call: the sample
 * under each id now, so one loaded or replaced since is read as it is (the
 * live page binds a slot while the instrument plays, and the sample may
 * arrive after the bind). Writing through sample() marks the patch's
 * control values stale, so what it reads from a slot (`wav.frames()`,
 * `wav.rate()`) follows the binding (amp_patch.h). */
static void bind_samples(const Engine *e, const Track *t, const EngineNode *nd)
{
    const AmpPatchDesc *d = nd->desc;
    for (int k = 0; k < d->n_samples && k < ENGINE_SAMPLE_SLOTS; k++) {
        AmpSample *s = d->sample(nd->state, k);
        int32_t id = t->sample_bind[k];
        const EngineSample *es = id >= 0 && id < e->cfg.max_samples ? e->samples[id] : NULL;
        AmpSample now = { .frames = 0 };
        if (es && es->frames > 0) {
            now.data[0].p = es->data[0];
            now.data[1].p = es->data[es->channels > 1 ? 1 : 0];
            now.frames = (int32_t)(es->frames < AMP_SAMPLE_MAX_FRAMES ? es->frames : AMP_SAMPLE_MAX_FRAMES);
            now.rate = e->sr;
        }
        *s = now;
    }
}

/* process() with timing and the signal guard; `at` is the engine time of
 * out[.][0]. */
static void run_node(Engine *e, Track *t, int slot, EngineNode *nd, const float *const *in,
                     float *const *out, int n, int64_t at)
{
    const AmpPatchDesc *d = nd->desc;
    if (slot == 0 && d->n_samples > 0)
        bind_samples(e, t, nd);
    uint64_t t0 = clock_now(e);
    d->process(nd->state, n, in, out);
    if (nd->poly)
        voice_collect(d, nd->state, n);
    if (e->cfg.clock)
        nd->cpu_ns += clock_now(e) - t0;
    int code = 0;
    int first = block_fault(out, d->n_outputs, n, &code);
    if (first < 0) {
        nd->faulted = 0;
        return;
    }
    for (int c = 0; c < d->n_outputs; c++)
        memset(out[c], 0, (size_t)n * sizeof(float));
    d->reset(nd->state);
    engine_node_voices_init(e, nd, t->mode);
    if (slot == 0) {
        t->n_held = 0;
        t->mono_id = -1;
    }
    track_fault(e, t, slot, &nd->faulted, at + first, code);
}

/* Hot swap's crossfade (patch_swap.h): when slot's old node is fading
 * out, it runs on `in` (its own inputs) into e->fade_out and `out` (the
 * new node's outputs, already made) becomes the crossfade; at the end the
 * old node is handed back. A fault of the old node silences its part. */
static void run_fade(Engine *e, Track *t, int slot, const float *const *in, float *const *out, int channels, int n,
                     int64_t at)
{
    EngineNode *old = t->fade_node;
    if (!old || t->fade_slot != slot)
        return;
    const AmpPatchDesc *d = old->desc;
    float *fo[ENGINE_MAX_CHANNELS];
    for (int c = 0; c < d->n_outputs; c++)
        fo[c] = e->fade_out[c];
    if (slot == 0 && d->n_samples > 0)
        bind_samples(e, t, old);
    d->process(old->state, n, in, fo);
    if (old->poly)
        voice_collect(d, old->state, n);
    int code = 0;
    if (block_fault(fo, d->n_outputs, n, &code) >= 0)
        for (int c = 0; c < d->n_outputs; c++)
            memset(fo[c], 0, (size_t)n * sizeof(float));
    for (int c = d->n_outputs; c < channels; c++)
        fo[c] = e->silence;
    patch_swap_mix(out, (const float *const *)fo, channels, n, t->fade_done, t->fade_total);
    t->fade_done += n;
    if (t->fade_done >= t->fade_total) {
        engine_hand_back(e, at + n, ENGINE_EV_NODE_RELEASED, old);
        t->fade_node = NULL;
    }
}

/* The inputs of an insert's patch d over L, R: a mono input gets their mean
 * (in e->mono, made once per block by the first caller: `mono_made`). */
static void insert_inputs(Engine *e, const AmpPatchDesc *d, float *L, float *R, int n, const float **in,
                          int *mono_made)
{
    if (d->n_inputs == 1) {
        if (!*mono_made)
            for (int i = 0; i < n; i++)
                e->mono[i] = (L[i] + R[i]) * 0.5f;
        *mono_made = 1;
        in[0] = e->mono;
    } else {
        for (int i = 0; i < d->n_inputs; i++)
            in[i] = i == 0 ? L : i == 1 ? R : e->silence;
    }
}

static void run_instrument(Engine *e, Track *t, float *L, float *R, int n, int64_t at)
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
    for (int i = 0; i < ENGINE_MAX_CHANNELS; i++)   /* the swap's old node may have more */
        in[i] = e->silence;
    out[0] = L;
    for (int i = 1; i < d->n_outputs; i++)
        out[i] = i == 1 ? R : e->scratch[i];
    run_node(e, t, 0, nd, in, out, n, at);
    run_fade(e, t, 0, in, out, d->n_outputs, n, at);
    if (d->n_outputs == 1)
        memcpy(R, L, (size_t)n * sizeof(float));
}

static void run_insert(Engine *e, Track *t, int slot, EngineNode *nd, float *L, float *R, int n, int64_t at)
{
    const AmpPatchDesc *d = nd->desc;
    const float *in[ENGINE_MAX_CHANNELS];
    float *out[ENGINE_MAX_CHANNELS];
    int mono_made = 0;
    insert_inputs(e, d, L, R, n, in, &mono_made);
    for (int i = 0; i < d->n_outputs; i++)
        out[i] = e->scratch[i];
    run_node(e, t, slot, nd, in, out, n, at);
    if (t->fade_node && t->fade_slot == slot) {
        const float *fin[ENGINE_MAX_CHANNELS];
        insert_inputs(e, t->fade_node->desc, L, R, n, fin, &mono_made);
        run_fade(e, t, slot, fin, out, d->n_outputs, n, at);
    }
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
void engine_track_fade_regions(Engine *e, Track *t)
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
    int64_t at = e->now + q;
    switch (t->kind) {
    case ENGINE_TRACK_INSTRUMENT:
        run_instrument(e, t, L, R, n, at);
        break;
    case ENGINE_TRACK_AUDIO: {
        memset(L, 0, (size_t)n * sizeof(float));
        memset(R, 0, (size_t)n * sizeof(float));
        mix_regions(e, t, L, R, n);   /* while playing, and fades after a stop */
        float *lr[2] = { L, R };      /* a sample's data is the control side's: guarded as a patch's */
        int code = 0, first = block_fault(lr, 2, n, &code);
        if (first < 0) {
            t->src_faulted = 0;
        } else {
            memset(L, 0, (size_t)n * sizeof(float));
            memset(R, 0, (size_t)n * sizeof(float));
            track_fault(e, t, 0, &t->src_faulted, at + first, code);
        }
        break;
    }
    default:   /* a bus: the sends are already in its buffer */
        break;
    }
    for (int k = 0; k < t->n_inserts; k++)
        run_insert(e, t, k + 1, t->inserts[k], L, R, n, at);
}

/* What happens on the track at engine time s while playing: clip note-offs,
 * clip note-ons, region starts, lanes. */
static void track_events_at(Engine *e, Track *t, int64_t s)
{
    double beat = engine_beat_at(e, s);
    for (int i = 0; i < t->n_sounding;) {
        Sounding *so = &t->sounding[i];
        if (so->end <= beat && so->on_at < s) {
            int id = so->note_id;
            *so = t->sounding[--t->n_sounding];
            engine_track_note_off(t, id);
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
            double offset = placement_offset(pl, c, pl->rep, pl->cursor);
            if (offset >= pl->length) {
                pl->cursor = c->n_notes;
                break;
            }
            double at = pl->start + offset;
            if (at > beat)
                break;
            double end = at + note->length, clip_end = pl->start + pl->length;
            if (pl->loop > 0.0) {   /* cut at the end of its repeat */
                double rep_end = pl->start + (double)(pl->rep + 1) * pl->loop;
                clip_end = rep_end < clip_end ? rep_end : clip_end;
            }
            clip_note_on(e, t, s, note, end < clip_end ? end : clip_end);
            pl->cursor++;
            placement_normalize(pl, c);
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
        if (c && pl->cursor < c->n_notes) {
            double offset = placement_offset(pl, c, pl->rep, pl->cursor);
            if (offset < pl->length)
                CONSIDER(beat_offset(e, pl->start + offset, s0, n));
        }
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

static void meter_add(MeterWindow *m, const float *L, const float *R, int n, int window)
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
        if (al > 1.0f || ar > 1.0f)
            m->clips++;
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
void engine_update_heard(Engine *e)
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

/* Whether track a runs (and sums into the master) before track b of the
 * same pass: by position, then by id. */
bool engine_runs_before(const Track *a, const Track *b)
{
    return a->position < b->position || (a->position == b->position && a->id < b->id);
}

/* Instrument and audio tracks, then buses, each by position: an insertion
 * sort over at most ENGINE_MAX_TRACKS tracks. */
void engine_rebuild_order(Engine *e)
{
    e->n_order = 0;
    for (int pass = 0; pass < 2; pass++) {
        int first = e->n_order;
        for (int i = 0; i < e->cfg.max_tracks; i++) {
            int kind = e->tracks[i].kind;
            if (kind == ENGINE_TRACK_NONE || (kind == ENGINE_TRACK_BUS) != (pass == 1))
                continue;
            int at = e->n_order++;
            while (at > first && engine_runs_before(&e->tracks[i], &e->tracks[e->order[at - 1]])) {
                e->order[at] = e->order[at - 1];
                at--;
            }
            e->order[at] = i;
        }
    }
}

/* The master's safety limit: a hard clip at +-ENGINE_MASTER_LIMIT, touching
 * only the samples beyond it (a normal render is bit-identical without
 * it); each one is counted. A NaN cannot get here (every source is guarded
 * and every gain bounded); were one to, it would leave as 0. */
static void master_limit(Engine *e, float *x, int n)
{
    for (int i = 0; i < n; i++) {
        float v = x[i];
        if (fabsf(v) <= ENGINE_MASTER_LIMIT)
            continue;
        x[i] = v != v ? 0.0f : v > 0.0f ? ENGINE_MASTER_LIMIT : -ENGINE_MASTER_LIMIT;
        e->master_limited++;
        e->limited_now++;
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
    metronome_run(e, outL, outR, pos, n);
    master_limit(e, outL + pos, n);
    master_limit(e, outR + pos, n);
    meter_add(&e->master_meter, outL + pos, outR + pos, n, e->meter_window);
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
        double beat = engine_beat_at(e, s);
        if (e->tempo_index + 1 < e->n_tempo && beat >= e->tempo_points[e->tempo_index + 1].beat) {
            engine_anchor_at(e, s, beat, engine_playhead_at(e, s));
            continue;
        }
        if (e->loop_on && beat >= e->loop_end) {
            for (int i = 0; i < e->n_order; i++) {
                Track *t = &e->tracks[e->order[i]];
                track_release_clip_notes(t);
                engine_track_fade_regions(e, t);
            }
            engine_anchor_at(e, s, e->loop_start, llround(engine_tempo_seconds(e, 0.0, e->loop_start) * (double)e->sr));
            engine_all_tracks_position(e, s);
            engine_regions_rise(e);   /* a crossfade at the wrap, not a jump */
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
        engine_apply_due(e, s);
        transport_at(e, s);
        int seg = n - pos;
        if (e->n_pending > 0 && e->pending[0].command.header.time - s < seg)
            seg = (int)(e->pending[0].command.header.time - s);
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

/* The bar and the beat of the signature into it at `beat`: bars count
 * from each change, a partial bar before a change counting as one. */
static void bar_position(const Engine *e, double beat, EngineState *st)
{
    uint64_t bars = 0;
    int seg = -1;
    for (int i = 0; i < e->n_sig && e->sig_points[i].beat <= beat; i++) {
        double bar_len = sig_num_of(e, seg) * sig_unit(e, seg);
        bars += (uint64_t)ceil((e->sig_points[i].beat - sig_start(e, seg)) / bar_len);
        seg = i;
    }
    double unit = sig_unit(e, seg), bar_len = sig_num_of(e, seg) * unit;
    double in = beat > sig_start(e, seg) ? beat - sig_start(e, seg) : 0.0;
    double whole = floor(in / bar_len);
    st->bar = (uint32_t)(bars + (uint64_t)whole);
    st->bar_beat = (in - whole * bar_len) / unit;
    st->sig_num = (uint32_t)sig_num_of(e, seg);
    st->sig_den = (uint32_t)(seg < 0 ? e->sig_den : e->sig_points[seg].den);
}

static void state_build(Engine *e)
{
    EngineState *st = &e->priv;
    st->playing = (uint32_t)e->playing;
    st->now = e->now;
    st->playhead = engine_playhead_at(e, e->now);
    st->beat = engine_beat_at(e, e->now);
    st->tempo = e->bpm;
    bar_position(e, st->beat, st);
    st->master_clips = e->master_meter.clips;
    st->master_limited = e->master_limited;
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
        ts->clips = t->meter.clips;
        for (int slot = 0; slot <= t->n_inserts; slot++) {
            EngineNode *nd = engine_track_slot(t, slot);
            if (!nd)
                continue;
            ts->cpu_ns[slot] = ns32(nd->cpu_ns);
            nd->cpu_ns = 0;
            if (nd->faulted)
                ts->faulted |= 1u << slot;
        }
        if (t->src_faulted)
            ts->faulted |= 1u;
        if (t->inst && t->inst->poly)
            ts->voices = (uint32_t)t->inst->desc->voices(t->inst->state)->live;
    }
}

void engine_render(Engine *e, float *const out[2], int frames)
{
    uint64_t t0 = clock_now(e);
    hand_back_waiting(e);
    engine_drain_queue(e);
    for (int done = 0; done < frames;) {
        int n = frames - done < e->cfg.max_block ? frames - done : e->cfg.max_block;
        render_block(e, out[0] + done, out[1] + done, n);
        done += n;
        engine_drain_queue(e);
    }
    e->render_ns = e->cfg.clock ? clock_now(e) - t0 : 0;
    if (e->limited_now > 0 && !e->limiting)   /* once per episode, as a fault */
        engine_post(e, e->now - frames, ENGINE_EV_MASTER_LIMIT, e->last_fault_track, e->last_fault_slot,
                    (int)(e->limited_now > INT32_MAX ? INT32_MAX : e->limited_now), NULL);
    e->limiting = e->limited_now > 0;
    e->limited_now = 0;
    state_build(e);
    state_publish(e);
}
