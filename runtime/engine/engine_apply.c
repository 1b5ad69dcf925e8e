/* engine_apply.c — the audio side of commands: records leave the command
 * queue (the consumer end), wait in a heap ordered by (time, arrival), and
 * are applied one by one at their sample by apply_command, the one switch
 * over the command types of commands.def. The render loop
 * (engine_render.c) cuts each block at the next pending command's time.
 *
 * Threads: the audio thread only (engine_render and what it calls).
 * Nothing here allocates, frees, locks, waits or does I/O: a buffer a
 * command replaces leaves as an event on the event ring.
 */
#include "util.h"
#include "engine_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch_swap.h"
#include "ring.h"
#include "voice.h"

/* ======================================================================== */
/* Command queue                                                            */
/* ======================================================================== */

/* Consumer side. */
static bool queue_pop(Engine *e, Command *c)
{
    EngineQueue *q = &e->queue;
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

static bool pending_before(const PendingCommand *a, const PendingCommand *b)
{
    return a->command.header.time < b->command.header.time ||
           (a->command.header.time == b->command.header.time && (int32_t)(a->seq - b->seq) < 0);
}

static void pending_push(Engine *e, const Command *c)
{
    int i = e->n_pending++;
    e->pending[i].command = *c;
    e->pending[i].seq = e->next_seq++;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!pending_before(&e->pending[i], &e->pending[parent]))
            break;
        PendingCommand tmp = e->pending[i];
        e->pending[i] = e->pending[parent];
        e->pending[parent] = tmp;
        i = parent;
    }
}

static void pending_pop(Engine *e, Command *out)
{
    *out = e->pending[0].command;
    e->pending[0] = e->pending[--e->n_pending];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < e->n_pending && pending_before(&e->pending[l], &e->pending[m]))
            m = l;
        if (r < e->n_pending && pending_before(&e->pending[r], &e->pending[m]))
            m = r;
        if (m == i)
            break;
        PendingCommand tmp = e->pending[i];
        e->pending[i] = e->pending[m];
        e->pending[m] = tmp;
        i = m;
    }
}

/* Move what the control side queued into the time-ordered pending heap.
 * Commands beyond the heap's room wait in the queue (which then fills and
 * refuses new ones). */
void engine_drain_queue(Engine *e)
{
    Command c;
    while (e->n_pending < e->pending_cap && queue_pop(e, &c))
        pending_push(e, &c);
}

/* Audio side: the pointer a command hands in, and its parcel free again.
 * NULL for CMD_PARCEL_NONE (or a parcel out of range). */
static void *parcel_take(Engine *e, uint32_t parcel)
{
    if (parcel >= e->n_parcels)
        return NULL;
    /* Relaxed: the queue's acquire already ordered the control side's
     * store of the pointer before this load. */
    void *p = (void *)atomic_load_explicit(&e->parcels[parcel], memory_order_relaxed);
    /* Release: our read of the word is done before control may reuse it. */
    atomic_store_explicit(&e->parcels[parcel], 0, memory_order_release);
    return p;
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

/* The track a command names, for ENGINE_EV_REFUSED: -1 for none. */
static int command_track(const Command *c)
{
    switch ((CmdType)c->header.type) {
    case CMD_NOTE_ON: return (int)c->note_on.track;
    case CMD_NOTE_OFF: return (int)c->note_off.track;
    case CMD_ALL_NOTES_OFF: return c->all_notes_off.every_track ? ENGINE_MASTER : (int)c->all_notes_off.track;
    case CMD_PANIC: return c->panic.every_track ? ENGINE_MASTER : (int)c->panic.track;
    case CMD_SET_PARAM: return (int)c->set_param.track;
    case CMD_SET_LANE: return (int)c->set_lane.track;
    case CMD_ADD_TRACK: return (int)c->add_track.track;
    case CMD_REMOVE_TRACK: return (int)c->remove_track.track;
    case CMD_SET_INSTRUMENT_NODE: return (int)c->set_instrument_node.track;
    case CMD_INSERT_NODE: return (int)c->insert_node.track;
    case CMD_SWAP_NODE: return (int)c->swap_node.track;
    case CMD_REMOVE_INSERT: return (int)c->remove_insert.track;
    case CMD_MOVE_INSERT: return (int)c->move_insert.track;
    case CMD_SET_VOICE_MODE: return (int)c->set_voice_mode.track;
    case CMD_SETTLE: return (int)c->settle.track;
    case CMD_SET_TRACK_POSITION: return (int)c->set_track_position.track;
    case CMD_SET_GAIN: return (int)c->set_gain.track;
    case CMD_FADER_GAIN: return c->fader_gain.track;
    case CMD_SET_MASTER_GAIN: return ENGINE_MASTER;
    case CMD_SET_PAN: return (int)c->set_pan.track;
    case CMD_SET_MUTE: return (int)c->set_mute.track;
    case CMD_SET_SOLO: return (int)c->set_solo.track;
    case CMD_SEND_SLOT: return (int)c->send_slot.track;
    case CMD_PLACE_CLIP: return (int)c->place_clip.track;
    case CMD_PLACE_REGION_SLOT: return (int)c->place_region_slot.track;
    case CMD_BIND_SAMPLE: return (int)c->bind_sample.track;
    default: return -1;
    }
}

/* A command that cannot apply: reported (code: its CMD_* type), and the
 * buffer it handed in, if any, handed back. */
static void refuse(Engine *e, const Command *c, int release_kind, void *ptr)
{
    e->cmd_failed++;
    engine_post(e, c->header.time, ENGINE_EV_REFUSED, command_track(c), -1, (int)c->header.type, NULL);
    if (release_kind)
        engine_hand_back(e, c->header.time, release_kind, ptr);
}

/* A hot swap's crossfade cut short (the chain changes under it): the old
 * node is handed back now. */
static void end_fade(Engine *e, Track *t, int64_t time)
{
    if (!t->fade_node)
        return;
    engine_hand_back(e, time, ENGINE_EV_NODE_RELEASED, t->fade_node);
    t->fade_node = NULL;
}

static void release_track_contents(Engine *e, Track *t, int64_t time)
{
    end_fade(e, t, time);
    engine_hand_back(e, time, ENGINE_EV_NODE_RELEASED, t->inst);
    for (int k = 0; k < t->n_inserts; k++)
        engine_hand_back(e, time, ENGINE_EV_NODE_RELEASED, t->inserts[k]);
    for (int k = 0; k < t->lanes_used; k++)
        engine_hand_back(e, time, ENGINE_EV_LANE_RELEASED, t->lanes[k].data);
}

static void transport_play(Engine *e, int64_t s)
{
    if (e->playing)
        return;
    e->playing = 1;
    engine_anchor_at(e, s, e->anchor_beat, e->anchor_play);
    engine_all_tracks_position(e, s);
    engine_regions_rise(e);
}

static void transport_stop(Engine *e, int64_t s)
{
    if (e->playing)
        engine_anchor_at(e, s, engine_beat_at(e, s), engine_playhead_at(e, s));
    e->playing = 0;
    for (int i = 0; i < e->n_order; i++) {
        Track *t = &e->tracks[e->order[i]];
        engine_track_all_off(t);
        engine_track_fade_regions(e, t);
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
        engine_track_cut(t);
        if (e->playing)
            engine_track_fade_regions(e, t);
    }
    engine_anchor_at(e, s, beat, 0);
    e->anchor_play = llround(engine_tempo_seconds(e, 0.0, beat) * (double)e->sr);
    engine_all_tracks_position(e, s);
    if (e->playing)
        engine_regions_rise(e);
}

/* After a change of the tempo map: the tempo in force at the playhead. */
static void tempo_changed(Engine *e, int64_t s)
{
    engine_anchor_at(e, s, engine_beat_at(e, s), engine_playhead_at(e, s));
}

static void set_fader_gain(Engine *e, const Command *c, int track, float db)
{
    if (track == ENGINE_MASTER) {
        e->master_db = db;
        ramp_to(&e->master, db_to_gain(db));
        if (c->header.time == 0)   /* before the first sample: nothing to ramp from */
            ramp_jump(&e->master, db_to_gain(db));
        return;
    }
    Track *t = track_of(e, track, 0);
    if (!t) {
        refuse(e, c, 0, NULL);
        return;
    }
    t->gain_db = db;
    engine_update_heard(e);
}

/* Pan, mute and solo of a track. */
static void apply_mixer(Engine *e, const Command *c, int track)
{
    Track *t = track_of(e, track, 0);
    if (!t) {
        refuse(e, c, 0, NULL);
        return;
    }
    switch ((CmdType)c->header.type) {
    case CMD_SET_PAN: t->pan = engine_pan_clamp(c->set_pan.pan); break;
    case CMD_SET_MUTE: t->mute = c->set_mute.mute != 0; break;
    case CMD_SET_SOLO: t->solo = c->set_solo.solo != 0; break;
    default: break;
    }
    engine_update_heard(e);
}

static void apply_send(Engine *e, const Command *c)
{
    const CmdSendSlot *cs = &c->send_slot;
    Track *t = track_of(e, (int)cs->track, 0);
    int bus = cs->bus;
    if (!t || cs->send >= (uint32_t)e->cfg.max_sends) {
        refuse(e, c, 0, NULL);
        return;
    }
    Send *sd = &t->sends[cs->send];
    if (bus < 0) {
        sd->bus = -1;
        engine_update_heard(e);
        return;
    }
    /* A bus exists, is not the track itself, and comes later in the order. */
    if (!track_of(e, bus, ENGINE_TRACK_BUS) || bus == t->id ||
        (t->kind == ENGINE_TRACK_BUS && !engine_runs_before(t, &e->tracks[bus]))) {
        refuse(e, c, 0, NULL);
        return;
    }
    float g = db_to_gain(cs->db);
    if (sd->bus != bus)
        ramp_jump(&sd->ramp, 0.0f);
    sd->bus = bus;
    sd->level_db = cs->db;
    ramp_to(&sd->ramp, g);
    if (t->fresh)
        ramp_jump(&sd->ramp, g);
    engine_update_heard(e);
}

static void add_track(Engine *e, const Command *c)
{
    int id = (int)c->add_track.track;
    if (id >= e->cfg.max_tracks || e->tracks[id].kind != ENGINE_TRACK_NONE || c->add_track.kind > CMD_TRACK_BUS) {
        refuse(e, c, 0, NULL);
        return;
    }
    Track *t = &e->tracks[id];
    engine_track_clear(e, t, id);
    /* CMD_TRACK_INSTRUMENT / AUDIO / BUS are the engine's kinds less one */
    t->kind = ENGINE_TRACK_INSTRUMENT + c->add_track.kind;
    engine_rebuild_order(e);
    engine_update_heard(e);
}

static void set_track_position(Engine *e, const Command *c)
{
    Track *t = track_of(e, (int)c->set_track_position.track, 0);
    if (!t) {
        refuse(e, c, 0, NULL);
        return;
    }
    t->position = c->set_track_position.position;
    engine_rebuild_order(e);
    engine_update_heard(e);
}

/* A slot's patch back to its state after init with its params as set:
 * what project_feed's nodes get before they are handed in (engine.h
 * engine_node_settle), here on the node in place. */
static void settle(Engine *e, const Command *c)
{
    Track *t = track_of(e, (int)c->settle.track, 0);
    EngineNode *nd = t && c->settle.slot <= (uint32_t)e->cfg.max_inserts ? engine_track_slot(t, (int)c->settle.slot)
                                                                          : NULL;
    if (!nd) {
        refuse(e, c, 0, NULL);
        return;
    }
    nd->desc->reset(nd->state);
    engine_node_voices_init(e, nd, c->settle.slot == 0 ? t->mode : ENGINE_VOICE_POLY);
    if (c->settle.slot == 0) {
        t->n_sounding = 0;
        t->n_held = 0;
        t->mono_id = -1;
        t->gliding = 0;
    }
}

static void remove_track(Engine *e, const Command *c)
{
    Track *t = track_of(e, (int)c->remove_track.track, 0);
    if (!t) {
        refuse(e, c, 0, NULL);
        return;
    }
    release_track_contents(e, t, c->header.time);
    for (int i = 0; i < e->n_order; i++) {
        Track *u = &e->tracks[e->order[i]];
        for (int k = 0; k < e->cfg.max_sends; k++)
            if (u->sends[k].bus == t->id)
                u->sends[k].bus = -1;
    }
    engine_track_clear(e, t, t->id);
    engine_rebuild_order(e);
    engine_update_heard(e);
}

static void set_instrument(Engine *e, const Command *c)
{
    EngineNode *nd = parcel_take(e, c->set_instrument_node.parcel);
    Track *t = track_of(e, (int)c->set_instrument_node.track, ENGINE_TRACK_INSTRUMENT);
    if (!t) {
        refuse(e, c, ENGINE_EV_NODE_RELEASED, nd);
        return;
    }
    end_fade(e, t, c->header.time);
    engine_hand_back(e, c->header.time, ENGINE_EV_NODE_RELEASED, t->inst);
    t->inst = nd;
    t->n_sounding = 0;
    t->n_held = 0;
    t->mono_id = -1;
    if (t->inst)
        engine_node_voices_init(e, t->inst, t->mode);
}

static void insert_node(Engine *e, const Command *c)
{
    EngineNode *nd = parcel_take(e, c->insert_node.parcel);
    Track *t = track_of(e, (int)c->insert_node.track, 0);
    if (!t || !nd || t->n_inserts >= e->cfg.max_inserts) {
        refuse(e, c, ENGINE_EV_NODE_RELEASED, nd);
        return;
    }
    end_fade(e, t, c->header.time);
    int at = c->insert_node.index > (uint32_t)t->n_inserts ? t->n_inserts : (int)c->insert_node.index;
    memmove(&t->inserts[at + 1], &t->inserts[at], (size_t)(t->n_inserts - at) * sizeof *t->inserts);
    t->inserts[at] = nd;
    t->n_inserts++;
}

/* Insert positions in commands count from 1. */
static void remove_insert(Engine *e, const Command *c)
{
    Track *t = track_of(e, (int)c->remove_insert.track, 0);
    int at = (int)c->remove_insert.position - 1;
    if (!t || at < 0 || at >= t->n_inserts) {
        refuse(e, c, 0, NULL);
        return;
    }
    end_fade(e, t, c->header.time);
    engine_hand_back(e, c->header.time, ENGINE_EV_NODE_RELEASED, t->inserts[at]);
    memmove(&t->inserts[at], &t->inserts[at + 1], (size_t)(t->n_inserts - at - 1) * sizeof *t->inserts);
    t->n_inserts--;
}

static void move_insert(Engine *e, const Command *c)
{
    Track *t = track_of(e, (int)c->move_insert.track, 0);
    int from = (int)c->move_insert.from - 1, to = (int)c->move_insert.to - 1;
    if (!t || from < 0 || from >= t->n_inserts || to < 0 || to >= t->n_inserts) {
        refuse(e, c, 0, NULL);
        return;
    }
    end_fade(e, t, c->header.time);
    EngineNode *nd = t->inserts[from];
    if (from < to)
        memmove(&t->inserts[from], &t->inserts[from + 1], (size_t)(to - from) * sizeof *t->inserts);
    else
        memmove(&t->inserts[to + 1], &t->inserts[to], (size_t)(from - to) * sizeof *t->inserts);
    t->inserts[to] = nd;
}

/* Hot swap (patch_swap.h): the new node takes the slot with what carries
 * from the old one; the old one is handed back at once, or after a
 * crossfade when something could not carry (engine_render.c). */
static void swap_node(Engine *e, const Command *c)
{
    EngineNode *nd = parcel_take(e, c->swap_node.parcel);
    Track *t = track_of(e, (int)c->swap_node.track, 0);
    int slot = (int)c->swap_node.slot;
    EngineNode *old = t && slot <= e->cfg.max_inserts ? engine_track_slot(t, slot) : NULL;
    if (!nd || !old || (slot > 0 && nd->desc->n_inputs < 1)) {
        refuse(e, c, ENGINE_EV_NODE_RELEASED, nd);
        return;
    }
    end_fade(e, t, c->header.time);
    engine_node_voices_init(e, nd, slot == 0 ? t->mode : ENGINE_VOICE_POLY);
    int all = patch_swap_carry(old->desc, old->state, nd->desc, nd->state);
    if (slot == 0)
        t->inst = nd;
    else
        t->inserts[slot - 1] = nd;
    if (all) {
        engine_hand_back(e, c->header.time, ENGINE_EV_NODE_RELEASED, old);
        return;
    }
    t->fade_node = old;
    t->fade_slot = slot;
    t->fade_done = 0;
    t->fade_total = patch_swap_fade_frames(e->sr);
}

static void set_voice_mode(Engine *e, const Command *c)
{
    const CmdSetVoiceMode *cv = &c->set_voice_mode;
    Track *t = track_of(e, (int)cv->track, ENGINE_TRACK_INSTRUMENT);
    if (!t) {
        refuse(e, c, 0, NULL);
        return;
    }
    /* CMD_VOICE_* and CMD_PRIORITY_* have the engine's values */
    t->mode = cv->mode;
    t->priority = cv->priority;
    /* the runtime's own exp (libm's is not promised to give the same bits
     * natively and in WebAssembly), once per voice mode */
    t->glide_k = cv->glide > 0.0f ? amp_expf(-(float)AMP_CHUNK / (cv->glide * e->sr)) : 0.0f;
    t->gliding = 0;
    t->n_held = 0;
    t->mono_id = -1;
    t->n_sounding = 0;
    if (t->inst)
        engine_node_voices_init(e, t->inst, t->mode);
}

static void load_clip(Engine *e, const Command *c)
{
    uint32_t id = c->load_clip_block.clip;
    EngineClip *clip = parcel_take(e, c->load_clip_block.parcel);
    if (id >= (uint32_t)e->cfg.max_clips) {
        refuse(e, c, ENGINE_EV_CLIP_RELEASED, clip);
        return;
    }
    engine_hand_back(e, c->header.time, ENGINE_EV_CLIP_RELEASED, e->clips[id]);
    e->clips[id] = clip;
    /* Placements of this clip now index other notes. */
    for (int i = 0; i < e->n_order; i++) {
        Track *t = &e->tracks[e->order[i]];
        for (int k = 0; k < t->placements_used; k++)
            if (t->placements[k].clip == (int)id)
                engine_placement_position(e, &t->placements[k], engine_beat_at(e, c->header.time));
    }
}

static void load_sample(Engine *e, const Command *c)
{
    uint32_t id = c->load_sample_block.sample;
    EngineSample *sample = parcel_take(e, c->load_sample_block.parcel);
    if (id >= (uint32_t)e->cfg.max_samples) {
        refuse(e, c, ENGINE_EV_SAMPLE_RELEASED, sample);
        return;
    }
    engine_hand_back(e, c->header.time, ENGINE_EV_SAMPLE_RELEASED, e->samples[id]);
    e->samples[id] = sample;
}

static void bind_sample(Engine *e, const Command *c)
{
    const CmdBindSample *b = &c->bind_sample;
    Track *t = track_of(e, (int)b->track, ENGINE_TRACK_INSTRUMENT);
    if (!t || b->slot >= ENGINE_SAMPLE_SLOTS || b->sample >= e->cfg.max_samples) {
        refuse(e, c, 0, NULL);
        return;
    }
    t->sample_bind[b->slot] = b->sample;
}

static void place_clip(Engine *e, const Command *c)
{
    const CmdPlaceClip *cp = &c->place_clip;
    Track *t = track_of(e, (int)cp->track, ENGINE_TRACK_INSTRUMENT);
    if (!t || cp->slot >= (uint32_t)e->cfg.max_placements || cp->clip >= e->cfg.max_clips) {
        refuse(e, c, 0, NULL);
        return;
    }
    Placement *pl = &t->placements[cp->slot];
    if ((int)cp->slot >= t->placements_used)
        t->placements_used = (int)cp->slot + 1;
    pl->clip = cp->clip;
    pl->start = cp->start;
    pl->length = cp->length;
    pl->loop = cp->loop;
    engine_placement_position(e, pl, engine_beat_at(e, c->header.time));
}

static void place_region(Engine *e, const Command *c)
{
    const CmdPlaceRegionSlot *cr = &c->place_region_slot;
    Track *t = track_of(e, (int)cr->track, ENGINE_TRACK_AUDIO);
    if (!t || cr->slot >= (uint32_t)e->cfg.max_regions || cr->sample >= e->cfg.max_samples) {
        refuse(e, c, 0, NULL);
        return;
    }
    Region *r = &t->regions[cr->slot];
    if ((int)cr->slot >= t->regions_used)
        t->regions_used = (int)cr->slot + 1;
    *r = (Region){ .sample = cr->sample, .start = cr->start, .offset = cr->first_frame, .length = cr->frames,
                   .gain = db_to_gain(cr->db), .state = REGION_DONE };
    if (e->playing)
        engine_region_position(e, r, engine_beat_at(e, c->header.time));
}

static void set_lane(Engine *e, const Command *c)
{
    const CmdSetLane *cl = &c->set_lane;
    EngineLane *data = parcel_take(e, cl->parcel);
    Track *t = track_of(e, (int)cl->track, 0);
    if (!t || cl->lane >= (uint32_t)e->cfg.max_lanes) {
        refuse(e, c, ENGINE_EV_LANE_RELEASED, data);
        return;
    }
    Lane *l = &t->lanes[cl->lane];
    if ((int)cl->lane >= t->lanes_used)
        t->lanes_used = (int)cl->lane + 1;
    engine_hand_back(e, c->header.time, ENGINE_EV_LANE_RELEASED, l->data);
    *l = (Lane){ .data = data, .target = cl->target, .param = (int)cl->param };
    if (l->data)
        engine_lane_reset(e, t, l, c->header.time);
}

static void tempo_change(Engine *e, const Command *c, int64_t s)
{
    double beat = c->tempo_change_beat.beat, bpm = c->tempo_change_beat.bpm;
    int i = 0;
    while (i < e->n_tempo && e->tempo_points[i].beat < beat)
        i++;
    if (i < e->n_tempo && e->tempo_points[i].beat == beat) {
        e->tempo_points[i].bpm = bpm;
    } else if (e->n_tempo < e->cfg.max_tempo_points) {
        memmove(&e->tempo_points[i + 1], &e->tempo_points[i], (size_t)(e->n_tempo - i) * sizeof(TempoPoint));
        e->tempo_points[i] = (TempoPoint){ beat, bpm };
        e->n_tempo++;
    } else {
        refuse(e, c, 0, NULL);
        return;
    }
    tempo_changed(e, s);
}

/* The signature map: the base (clearing the changes), or a change
 * inserted at its beat (replacing one at the same beat). */
static void set_signature(Engine *e, const Command *c, int64_t s)
{
    if (c->header.type == CMD_TIME_SIGNATURE) {
        e->sig_num = c->time_signature.numerator;
        e->sig_den = c->time_signature.denominator;
        e->n_sig = 0;
    } else {
        const CmdTimeSignatureChange *cs = &c->time_signature_change;
        int i = 0;
        while (i < e->n_sig && e->sig_points[i].beat < cs->beat)
            i++;
        if (!(i < e->n_sig && e->sig_points[i].beat == cs->beat)) {
            if (e->n_sig >= e->cfg.max_tempo_points) {
                refuse(e, c, 0, NULL);
                return;
            }
            memmove(&e->sig_points[i + 1], &e->sig_points[i], (size_t)(e->n_sig - i) * sizeof(SigPoint));
            e->n_sig++;
        }
        e->sig_points[i] = (SigPoint){ cs->beat, cs->numerator, cs->denominator };
    }
    engine_metronome_seek(e, engine_beat_at(e, s));
}

static void set_tempo(Engine *e, double bpm, int64_t s)
{
    e->base_bpm = bpm;
    e->n_tempo = 0;
    tempo_changed(e, s);
}

static void note(Engine *e, const Command *c)
{
    bool on = c->header.type == CMD_NOTE_ON;
    Track *t = track_of(e, (int)(on ? c->note_on.track : c->note_off.track), ENGINE_TRACK_INSTRUMENT);
    if (!t) {
        refuse(e, c, 0, NULL);
        return;
    }
    if (on)
        engine_track_note_on(t, (int)c->note_on.note_id, c->note_on.key, c->note_on.velocity);
    else
        engine_track_note_off(t, (int)c->note_off.note_id);
}

static void set_patch_param(Engine *e, const Command *c)
{
    const CmdSetParam *cp = &c->set_param;
    Track *t = track_of(e, (int)cp->track, 0);
    EngineNode *nd = t && cp->slot <= (uint32_t)e->cfg.max_inserts ? engine_track_slot(t, (int)cp->slot) : NULL;
    if (!nd || cp->param >= (uint32_t)nd->desc->n_params) {
        refuse(e, c, 0, NULL);
        return;
    }
    nd->desc->set_param(nd->state, (int)cp->param, cp->value);
}

/* The set_gain floor: -144 dB and below is silence (the engine's -150). */
static float floor_db(float db)
{
    return db <= -144.0f ? -150.0f : db;
}

/* Apply one command at engine time s (its time, or s when that passed).
 * The one switch over the command types: adding a command to commands.def
 * adds a case here. The UI's commands that name things through
 * engine_commands.c's tables (patch ids, handles, sample positions) are
 * mapped onto the engine's commands as the ring is drained, in its order,
 * and never reach this queue. */
static void apply_command(Engine *e, const Command *c, int64_t s)
{
    switch ((CmdType)c->header.type) {
    /* transport */
    case CMD_PLAY: transport_play(e, s); return;
    case CMD_STOP: transport_stop(e, s); return;
    case CMD_SEEK_BEAT: transport_seek(e, s, c->seek_beat.beat); return;
    case CMD_LOOP_BEATS:
        e->loop_on = c->loop_beats.enabled && c->loop_beats.end > c->loop_beats.start;
        e->loop_start = c->loop_beats.start;
        e->loop_end = c->loop_beats.end;
        return;
    case CMD_TEMPO: set_tempo(e, (double)c->tempo.bpm, s); return;
    case CMD_TEMPO_BPM: set_tempo(e, c->tempo_bpm.bpm, s); return;
    case CMD_TEMPO_CHANGE_BEAT: tempo_change(e, c, s); return;
    case CMD_TIME_SIGNATURE:
    case CMD_TIME_SIGNATURE_CHANGE: set_signature(e, c, s); return;
    case CMD_METRONOME:
        e->metro_on = c->metronome.enabled;
        e->metro_db = c->metronome.gain_db;
        e->metro_gain = db_to_gain(c->metronome.gain_db);
        return;
    /* notes */
    case CMD_NOTE_ON:
    case CMD_NOTE_OFF: note(e, c); return;
    case CMD_ALL_NOTES_OFF:
        for (int i = 0; i < e->n_order; i++) {
            Track *t = &e->tracks[e->order[i]];
            if (c->all_notes_off.every_track || (int)c->all_notes_off.track == t->id)
                engine_track_all_off(t);
        }
        return;
    case CMD_PANIC:
        for (int i = 0; i < e->n_order; i++) {
            Track *t = &e->tracks[e->order[i]];
            if (c->panic.every_track || (int)c->panic.track == t->id)
                engine_track_cut(t);
        }
        return;
    /* parameters */
    case CMD_SET_PARAM: set_patch_param(e, c); return;
    case CMD_SETTLE: settle(e, c); return;
    case CMD_SET_LANE: set_lane(e, c); return;
    /* graph */
    case CMD_ADD_TRACK: add_track(e, c); return;
    case CMD_REMOVE_TRACK: remove_track(e, c); return;
    case CMD_SET_INSTRUMENT_NODE: set_instrument(e, c); return;
    case CMD_INSERT_NODE: insert_node(e, c); return;
    case CMD_SWAP_NODE: swap_node(e, c); return;
    case CMD_REMOVE_INSERT: remove_insert(e, c); return;
    case CMD_MOVE_INSERT: move_insert(e, c); return;
    case CMD_SET_VOICE_MODE: set_voice_mode(e, c); return;
    case CMD_SET_TRACK_POSITION: set_track_position(e, c); return;
    /* mixer */
    case CMD_SET_GAIN: set_fader_gain(e, c, (int)c->set_gain.track, floor_db(c->set_gain.db)); return;
    case CMD_SET_MASTER_GAIN: set_fader_gain(e, c, ENGINE_MASTER, floor_db(c->set_master_gain.db)); return;
    case CMD_FADER_GAIN: set_fader_gain(e, c, c->fader_gain.track, c->fader_gain.db); return;
    case CMD_SET_PAN: apply_mixer(e, c, (int)c->set_pan.track); return;
    case CMD_SET_MUTE: apply_mixer(e, c, (int)c->set_mute.track); return;
    case CMD_SET_SOLO: apply_mixer(e, c, (int)c->set_solo.track); return;
    case CMD_SEND_SLOT: apply_send(e, c); return;
    /* data */
    case CMD_LOAD_CLIP_BLOCK: load_clip(e, c); return;
    case CMD_PLACE_CLIP: place_clip(e, c); return;
    case CMD_LOAD_SAMPLE_BLOCK: load_sample(e, c); return;
    case CMD_PLACE_REGION_SLOT: place_region(e, c); return;
    case CMD_BIND_SAMPLE: bind_sample(e, c); return;
    /* mapped by engine_commands.c as the ring is drained */
    case CMD_SEEK:
    case CMD_LOOP:
    case CMD_TEMPO_CHANGE:
    case CMD_AUTOMATION:
    case CMD_SET_INSTRUMENT:
    case CMD_ADD_INSERT:
    case CMD_SWAP_PATCH:
    case CMD_SET_SEND:
    case CMD_LOAD_CLIP:
    case CMD_LOAD_SAMPLE:
    case CMD_PLACE_REGION:
    case CMD_REMOVE_REGION:
    case CMD_AUTOMATION_LANE:
    case CMD_AUTOMATION_POINT:
    case CMD_SET_SEND_DB:
    case CMD_CLIP_NOTES:
    case CMD_CLIP_NOTE:
    case CMD_PLACE_CLIP_BEATS:
    case CMD_REMOVE_PLACEMENT:
    case CMD_PLACE_REGION_BEATS:
        break;
    }
    refuse(e, c, 0, NULL);
}

/* Every pending command due at or before engine time s. */
void engine_apply_due(Engine *e, int64_t s)
{
    Command c;
    while (e->n_pending > 0 && e->pending[0].command.header.time <= s) {
        pending_pop(e, &c);
        c.header.time = c.header.time < s ? s : c.header.time;
        apply_command(e, &c, s);
    }
}
