/* project_feed.c — a resolved Project -> an engine (see project_feed.h):
 * the project's timing, the engine sizes that fit it, and the commands
 * that set it up at time 0.
 *
 * Only the engine's own functions (engine.h) and plain memory: no JSON,
 * no compiler, no files. The same file builds natively and into
 * engine.wasm (web/web.mk), so that a project built in wasm memory can be
 * fed the same way (no export calls it yet).
 */
#include "project_feed.h"

#include <math.h>
#include <stdio.h>                      /* snprintf, for messages; no files */
#include <string.h>

/* ---- timing ----------------------------------------------------------------------- */

double project_seconds_at(const Project *p, double beat)
{
    double seconds = 0.0, at = 0.0, bpm = p->tempo;
    for (int i = 0; i < p->n_tempo_changes && p->tempo_changes[i].beat < beat; i++) {
        seconds += (p->tempo_changes[i].beat - at) * 60.0 / bpm;
        at = p->tempo_changes[i].beat;
        bpm = p->tempo_changes[i].bpm;
    }
    return seconds + (beat - at) * 60.0 / bpm;
}

static int64_t region_frames(const Project *p, const ProjectRegion *r)
{
    const ProjectSample *s = &p->samples[r->sample];
    int64_t offset = llround(r->offset_seconds * p->render_rate);
    int64_t avail = s->frames > offset ? s->frames - offset : 0;
    if (r->length_seconds <= 0)
        return avail;
    int64_t n = llround(r->length_seconds * p->render_rate);
    return n < avail ? n : avail;
}

/* Seconds until the arrangement ends: length_beats, else the last clip or
 * region end. */
static double length_seconds(const Project *p)
{
    if (p->length_beats >= 0)
        return project_seconds_at(p, p->length_beats);
    double end = 0.0;
    for (int i = 0; i < p->n_tracks; i++) {
        const ProjectTrack *t = &p->tracks[i];
        for (int k = 0; k < t->n_clips; k++) {
            double s = project_seconds_at(p, t->clips[k].start_beat + t->clips[k].length_beats);
            end = s > end ? s : end;
        }
        for (int k = 0; k < t->n_regions; k++) {
            const ProjectRegion *r = &t->regions[k];
            if (r->sample < 0)
                continue;
            double s = project_seconds_at(p, r->start_beat) + (double)region_frames(p, r) / p->render_rate;
            end = s > end ? s : end;
        }
    }
    return end;
}

int64_t project_end_frame(const Project *p)
{
    return llround(length_seconds(p) * p->render_rate);
}

/* Frames after the end: the fixed tail, or the tail rule's cap. */
static int64_t tail_limit(const Project *p)
{
    return llround((p->tail_rule ? p->tail_max_seconds : p->tail_seconds) * p->render_rate);
}

int64_t project_frames(const Project *p)
{
    return project_end_frame(p) + tail_limit(p);
}

/* ---- the tail rule --------------------------------------------------------------------- */

void project_tail_begin(const Project *p, ProjectTail *t)
{
    memset(t, 0, sizeof *t);
    t->end_frame = project_end_frame(p);
    t->limit = t->end_frame + tail_limit(p);
    t->rule = p->tail_rule;
    t->threshold = pow(10.0, p->tail_until_db / 20.0);
    double hold = ceil(p->tail_hold_seconds * p->render_rate / PROJECT_TAIL_QUANTUM);
    t->hold_quanta = hold > 1.0 ? (int64_t)hold : 1;
    t->quantum_end = t->end_frame + PROJECT_TAIL_QUANTUM;
    t->last_loud_end = t->end_frame;
    t->finished = t->limit <= 0;
}

/* The quantum being looked at is complete at frame `end`. */
static void tail_quantum_done(ProjectTail *t, int64_t end)
{
    if (t->loud) {
        t->last_loud_end = end;
        t->quiet = 0;
    } else if (++t->quiet >= t->hold_quanta) {
        t->finished = 1;
    }
    t->loud = 0;
    t->quantum_end = end + PROJECT_TAIL_QUANTUM;
}

int project_tail_feed(ProjectTail *t, const float *left, const float *right, int64_t n)
{
    for (int64_t i = 0; i < n && !t->finished; i++) {
        int64_t f = t->done++;
        if (t->done >= t->limit)
            t->finished = 1;
        if (!t->rule || f < t->end_frame)
            continue;
        if (fabs((double)left[i]) >= t->threshold || fabs((double)right[i]) >= t->threshold)
            t->loud = 1;
        if (f + 1 == t->quantum_end || f + 1 == t->limit) {
            int finished = t->finished;
            tail_quantum_done(t, f + 1);
            t->finished |= finished;
        }
    }
    return t->finished;
}

int64_t project_tail_frames(const ProjectTail *t)
{
    return t->rule ? t->last_loud_end : t->limit;
}

/* ---- feeding the engine -------------------------------------------------------------- */

static size_t heap_block(size_t bytes)
{
    return 64 + (bytes + 63) / 64 * 64;
}

static int commands_needed(const Project *p)
{
    int n = 16 + p->n_tempo_changes + p->n_sig_changes + p->n_samples;
    for (int i = 0; i < p->n_tracks; i++) {
        const ProjectTrack *t = &p->tracks[i];
        n += 8 + t->n_inserts + t->n_sends + 2 * t->n_clips + t->n_regions + t->n_lanes + t->n_sample_slots;
    }
    return n;
}

void project_engine_config(const Project *p, EngineConfig *cfg)
{
    engine_config_default(cfg, (float)p->render_rate);
    int inserts = 0, sends = 1, placements = 1, regions = 1, lanes = 1, clips = 0, nodes = 0;
    size_t states = 0, clip_bytes = 0, sample_bytes = 0, lane_bytes = 0;
    for (int i = 0; i < p->n_tracks; i++) {
        const ProjectTrack *t = &p->tracks[i];
        if (t->patch.desc) {
            nodes++;
            states += heap_block(t->patch.desc->state_size);
        }
        for (int k = 0; k < t->n_inserts; k++) {
            nodes++;
            if (t->inserts[k].desc)
                states += heap_block(t->inserts[k].desc->state_size);
        }
        inserts = t->n_inserts > inserts ? t->n_inserts : inserts;
        sends = t->n_sends > sends ? t->n_sends : sends;
        placements = t->n_clips > placements ? t->n_clips : placements;
        regions = t->n_regions > regions ? t->n_regions : regions;
        lanes = t->n_lanes > lanes ? t->n_lanes : lanes;
        clips += t->n_clips;
        for (int k = 0; k < t->n_clips; k++)
            clip_bytes += heap_block(sizeof(EngineClip) + (size_t)t->clips[k].n_notes * sizeof(EngineNote));
        for (int k = 0; k < t->n_lanes; k++)
            lane_bytes += heap_block(sizeof(EngineLane) + (size_t)t->lanes[k].n_points * sizeof(EnginePoint));
    }
    for (int i = 0; i < p->n_samples; i++)
        sample_bytes += heap_block(64 + (size_t)p->samples[i].channels * heap_block((size_t)p->samples[i].frames * sizeof(float)));
    cfg->max_tracks = p->n_tracks > 0 ? p->n_tracks : 1;
    cfg->max_inserts = inserts;
    cfg->max_sends = sends;
    cfg->max_nodes = nodes > 0 ? nodes : 1;
    cfg->state_bytes = states + 128;
    cfg->max_clips = clips > 0 ? clips : 1;
    cfg->max_placements = placements;
    cfg->clip_bytes = clip_bytes + 128;
    cfg->max_samples = p->n_samples > 0 ? p->n_samples : 1;
    cfg->max_regions = regions;
    cfg->sample_bytes = sample_bytes + 128;
    cfg->max_lanes = lanes;
    cfg->lane_bytes = lane_bytes + 128;
    int points = p->n_tempo_changes > p->n_sig_changes ? p->n_tempo_changes : p->n_sig_changes;
    cfg->max_tempo_points = points > 0 ? points : 1;    /* the tempo and signature maps */
    cfg->queue_size = commands_needed(p);
    cfg->max_block = 1024;
}

static EngineNode *make_node(Engine *e, const ProjectPatch *pp, char *err, size_t errlen)
{
    char nerr[300];
    EngineNode *nd = engine_node_new(e, pp->desc, nerr, sizeof nerr);
    if (!nd) {
        snprintf(err, errlen, "%s: %s", pp->at, nerr);
        return NULL;
    }
    for (int i = 0; i < pp->n_params; i++)
        engine_node_set_param(nd, pp->params[i].index, (float)pp->params[i].value);
    engine_node_settle(nd);
    return nd;
}

/* The commands of one track (its id in the engine is its index). */
static int feed_track(const Project *p, Engine *e, int index, int *clip_id, char *err, size_t errlen)
{
    const ProjectTrack *t = &p->tracks[index];
    int bad = 0;
    if (t->kind == ENGINE_TRACK_INSTRUMENT) {
        EngineNode *nd = make_node(e, &t->patch, err, errlen);
        if (!nd)
            return -1;
        if (engine_set_instrument(e, 0, index, nd)) {
            engine_node_free(e, nd);
            bad = 1;
        }
        bad |= engine_set_voice_mode(e, 0, index, t->voice_mode, t->priority, (float)t->glide_seconds) != 0;
    }
    for (int k = 0; k < t->n_inserts && !bad; k++) {
        EngineNode *nd = make_node(e, &t->inserts[k], err, errlen);
        if (!nd)
            return -1;
        if (engine_insert_add(e, 0, index, k, nd)) {
            engine_node_free(e, nd);
            bad = 1;
        }
    }
    bad |= engine_set_gain(e, 0, index, (float)t->gain_db) != 0;
    bad |= engine_set_pan(e, 0, index, (float)t->pan) != 0;
    bad |= engine_set_mute(e, 0, index, t->mute) != 0;
    bad |= engine_set_solo(e, 0, index, t->solo) != 0;
    for (int k = 0; k < t->n_clips && !bad; k++) {
        const ProjectClip *pc = &t->clips[k];
        EngineClip *clip = engine_clip_new(e, pc->n_notes);
        if (!clip) {
            snprintf(err, errlen, "tracks[%d].clips[%d]: the clip pool is full", index, k);
            return -1;
        }
        for (int j = 0; j < pc->n_notes; j++)
            clip->notes[j] = (EngineNote){ .start = pc->notes[j].start_beat, .length = pc->notes[j].length_beats,
                                           .key = pc->notes[j].key, .vel = (float)pc->notes[j].velocity };
        if (engine_load_clip(e, 0, *clip_id, clip)) {
            engine_clip_free(e, clip);
            bad = 1;
            break;
        }
        bad |= engine_place_clip_looped(e, 0, index, k, *clip_id, pc->start_beat, pc->length_beats,
                                        pc->loop_beats) != 0;
        ++*clip_id;
    }
    for (int k = 0; k < t->n_sample_slots && !bad; k++)
        bad |= engine_bind_sample(e, 0, index, t->sample_slots[k].slot_index, t->sample_slots[k].source.sample) != 0;
    for (int k = 0; k < t->n_regions && !bad; k++) {
        const ProjectRegion *r = &t->regions[k];
        int64_t offset = llround(r->offset_seconds * p->render_rate);
        bad |= engine_place_region(e, 0, index, k, r->sample, r->start_beat, offset, region_frames(p, r),
                                   (float)r->gain_db) != 0;
    }
    for (int k = 0; k < t->n_lanes && !bad; k++) {
        const ProjectLane *l = &t->lanes[k];
        EngineLane *lane = engine_lane_new(e, l->n_points);
        if (!lane) {
            snprintf(err, errlen, "%s: the automation pool is full", l->at);
            return -1;
        }
        lane->unit = ENGINE_TIME_BEATS;
        for (int j = 0; j < l->n_points; j++)
            lane->points[j] = (EnginePoint){ .time = l->points[j].beat, .value = (float)l->points[j].value };
        if (engine_set_lane(e, 0, index, k, l->slot, l->param_index, lane)) {
            engine_lane_free(e, lane);
            bad = 1;
        }
    }
    if (bad) {
        snprintf(err, errlen, "tracks[%d]: the engine refused a command (queue full?)", index);
        return -1;
    }
    return 0;
}

int project_feed(const Project *p, Engine *e, char *err, size_t errlen)
{
    int bad = engine_set_tempo(e, 0, p->tempo) != 0;
    for (int i = 0; i < p->n_tempo_changes; i++)
        bad |= engine_add_tempo_change(e, 0, p->tempo_changes[i].beat, p->tempo_changes[i].bpm) != 0;
    bad |= engine_set_time_signature(e, 0, p->sig_num, p->sig_den) != 0;
    for (int i = 0; i < p->n_sig_changes; i++)
        bad |= engine_add_time_signature_change(e, 0, p->sig_changes[i].beat, p->sig_changes[i].num,
                                                p->sig_changes[i].den) != 0;
    if (p->metronome_export)   /* a render has the click when the project says so */
        bad |= engine_set_metronome(e, 0, 1, (float)p->metronome_gain_db) != 0;
    if (p->loop_enabled)
        bad |= engine_set_loop(e, 0, 1, p->loop_start, p->loop_end) != 0;
    bad |= engine_set_gain(e, 0, ENGINE_MASTER, (float)p->master_gain_db) != 0;
    for (int i = 0; i < p->n_samples && !bad; i++) {
        const ProjectSample *ps = &p->samples[i];
        EngineSample *s = engine_sample_new(e, ps->channels, ps->frames);
        if (!s) {
            snprintf(err, errlen, "the sample pool is full ('%s')", ps->path);
            return -1;
        }
        for (int ch = 0; ch < ps->channels; ch++)
            memcpy(s->data[ch], ps->data[ch], (size_t)ps->frames * sizeof(float));
        if (engine_load_sample(e, 0, i, s)) {
            engine_sample_free(e, s);
            bad = 1;
        }
    }
    for (int i = 0; i < p->n_tracks; i++)
        bad |= engine_add_track(e, 0, i, p->tracks[i].kind) != 0;
    if (bad) {
        snprintf(err, errlen, "the engine refused a command (queue full?)");
        return -1;
    }
    int clip_id = 0;
    for (int i = 0; i < p->n_tracks; i++)
        if (feed_track(p, e, i, &clip_id, err, errlen))
            return -1;
    for (int i = 0; i < p->n_tracks; i++)
        for (int k = 0; k < p->tracks[i].n_sends; k++)
            bad |= engine_set_send(e, 0, i, k, p->tracks[i].sends[k].bus_index,
                                   (float)p->tracks[i].sends[k].level_db) != 0;
    bad |= engine_play(e, 0) != 0;
    bad |= engine_stop(e, project_end_frame(p)) != 0;
    if (bad) {
        snprintf(err, errlen, "the engine refused a command (queue full?)");
        return -1;
    }
    return 0;
}
