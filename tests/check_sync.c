/* check_sync.c — the command ring in the project's own terms (ring format
 * 3, runtime/engine/commands.def): what a page's sync layer sends builds
 * exactly the engine project_feed builds, and edits while playing do what
 * they say.
 *
 * "build": a reference translator (sync_project below) turns a resolved
 * Project into ring commands the way the page's TypeScript sync layer
 * does — tempo map, signature map, loop, master, tracks under engine ids
 * that are not their positions (reversed) with set_track_position giving
 * the document's order, instruments and inserts by patch id with their
 * params and a settle, faders in exact dB, clip notes note by note, clip
 * placements, regions in beats and seconds, automation point by point,
 * sends in dB — all encoded by the C encoders into a real ring and drained
 * by engine_drain_ring, the ready blocks and nodes refilled between
 * drains as the worklet's control side does. Rendered next to project_feed
 * of the same Project, the two outputs must be the same bits: for
 * tests/projects/demo.json (version 1) and for a generated version 2
 * project with tempo changes, a signature change, the metronome, a
 * transport loop, a looped clip, an insert, two buses (one sending to the
 * other) and automation of a param and of a fader.
 *
 * "edit": a rig of hand-written patches (tests/fixtures: with attack and
 * release 0 a note sounds exactly from its note-on to its note-off)
 * playing two tracks, edited while the transport runs: a clip placement
 * moved, a clip's notes replaced, a placement removed, a track removed;
 * each measured on the output (onsets to the sample, frequency by zero
 * crossings, silence). And the refusals: a note for no open clip, notes
 * out of order, an unfinished clip dropped.
 *
 * Tests run from the repository root (patch and sample paths).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "engine.h"
#include "engine_commands.h"
#include "patch_loader.h"
#include "project_feed.h"
#include "project_read.h"
#include "project_render.h"
#include "project_resolve.h"
#include "ring.h"
#include "testutil.h"
#include "fixtures/fixture_poly.c"

#define RING_CAPACITY (1u << 16)
#define SMALL_RING 4096            /* the builds: about 80 commands at a time */

/* ---- a page's engine: tables, a ring, the control side between drains ------------------- */

typedef struct RingFeed {
    Engine *e;
    EngineCommands *cx;
    void *ring;
    int pumps;                  /* drains so far */
    int refill_errors;
} RingFeed;

/* One drain of the ring (as at the start of a render quantum), then the
 * control side: events read, what they hand back freed, stocks refilled. */
static void sync_pump(RingFeed *s)
{
    ck_assert_int_ge(engine_drain_ring(s->e, s->ring, UINT32_MAX), 0);
    engine_drain(s->e, NULL, NULL);
    if (engine_commands_refill(s->cx, NULL, 0) < 0)
        s->refill_errors++;
    s->pumps++;
}

static void sync_send(RingFeed *s, const unsigned char *rec, uint32_t len)
{
    for (int tries = 0; !rb_write(s->ring, rec, len); tries++) {
        ck_assert_msg(tries < 100000, "the ring does not drain");
        sync_pump(s);
    }
}

/* Drain until everything sent is in the engine's queue. */
static void sync_flush(RingFeed *s)
{
    for (int tries = 0;; tries++) {
        EngineCommandsStats st;
        engine_commands_stats(s->cx, &st);
        if (rb_used(s->ring) == 0 && !st.waiting)
            return;
        ck_assert_msg(tries < 100000, "the ring does not drain");
        sync_pump(s);
    }
}

#define SEND(s, name, ...) \
    do { \
        unsigned char rec_[CMD_SIZE_MAX]; \
        uint32_t len_ = cmd_encode_##name(rec_, sizeof rec_, __VA_ARGS__); \
        ck_assert_msg(len_ > 0, "cmd_encode_" #name " refused its fields"); \
        sync_send((s), rec_, len_); \
    } while (0)

static void sync_init(RingFeed *s, const EngineConfig *cfg, const EngineCommandsConfig *ccfg, uint32_t ring_bytes)
{
    char err[300];
    memset(s, 0, sizeof *s);
    s->e = engine_init(cfg, err, sizeof err);
    ck_assert_msg(s->e != NULL, "%s", err);
    s->cx = engine_commands_new(s->e, ccfg, err, sizeof err);
    ck_assert_msg(s->cx != NULL, "%s", err);
    s->ring = aligned_alloc(RB_ALIGN, rb_bytes_needed(ring_bytes));
    ck_assert(s->ring && rb_init(s->ring, ring_bytes));
    ck_assert_int_ge(engine_commands_refill(s->cx, err, sizeof err), 0);
}

static void sync_free(RingFeed *s)
{
    ck_assert_int_eq(s->refill_errors, 0);
    engine_commands_free(s->cx);
    engine_free(s->e);
    free(s->ring);
}

/* ---- the reference translator: a Project as ring commands --------------------------------- */

#define MAX_PATCHES 32

typedef struct PatchTable {
    const AmpPatchDesc *desc[MAX_PATCHES];
    uint32_t uses[MAX_PATCHES];
    int n;
} PatchTable;

static uint32_t patch_id(PatchTable *t, const AmpPatchDesc *d)
{
    for (int i = 0; i < t->n; i++)
        if (t->desc[i] == d) {
            t->uses[i]++;
            return (uint32_t)i + 1;
        }
    ck_assert_int_lt(t->n, MAX_PATCHES);
    t->desc[t->n] = d;
    t->uses[t->n] = 1;
    return (uint32_t)++t->n;
}

/* The engine id the page gives document track i: not its position, so
 * that the order must come from set_track_position. */
static uint32_t engine_id(const Project *p, int i)
{
    return (uint32_t)(p->n_tracks - 1 - i);
}

/* Every patch of the project under a patch id, with a ready node per use
 * (as the page registers its library). */
static void sync_patches(RingFeed *s, const Project *p, PatchTable *pt)
{
    memset(pt, 0, sizeof *pt);
    for (int i = 0; i < p->n_tracks; i++) {
        const ProjectTrack *t = &p->tracks[i];
        if (t->patch.desc)
            patch_id(pt, t->patch.desc);
        for (int k = 0; k < t->n_inserts; k++)
            patch_id(pt, t->inserts[k].desc);
    }
    char err[300];
    for (int i = 0; i < pt->n; i++)
        ck_assert_msg(engine_commands_set_patch(s->cx, (uint32_t)i + 1, pt->desc[i], pt->uses[i], err, sizeof err) == 0,
                      "%s", err);
}

static uint32_t id_of(const PatchTable *pt, const AmpPatchDesc *d)
{
    for (int i = 0; i < pt->n; i++)
        if (pt->desc[i] == d)
            return (uint32_t)i + 1;
    ck_abort_msg("no patch id");
    return 0;
}

/* A patch into a slot: the node, its params, settled (project_feed's
 * make_node). */
static void sync_params(RingFeed *s, uint32_t track, uint32_t slot, const ProjectPatch *pp)
{
    for (int i = 0; i < pp->n_params; i++)
        SEND(s, set_param, 0, track, slot, (uint32_t)pp->params[i].index, (float)pp->params[i].value);
    SEND(s, settle, 0, track, slot);
}

/* One track's contents, in project_feed's order. Clip and placement ids
 * count from *clip, region ids from *region. */
static void sync_track(RingFeed *s, const Project *p, const PatchTable *pt, int i, uint32_t *clip, uint32_t *region)
{
    const ProjectTrack *t = &p->tracks[i];
    uint32_t id = engine_id(p, i);
    if (t->kind == ENGINE_TRACK_INSTRUMENT) {
        SEND(s, set_instrument, 0, id, id_of(pt, t->patch.desc));
        sync_params(s, id, 0, &t->patch);
        SEND(s, set_voice_mode, 0, id, (uint8_t)t->voice_mode, (uint8_t)t->priority, (float)t->glide_seconds);
    }
    for (int k = 0; k < t->n_inserts; k++) {
        SEND(s, add_insert, 0, id, (uint32_t)k + 1, id_of(pt, t->inserts[k].desc));
        sync_params(s, id, (uint32_t)k + 1, &t->inserts[k]);
    }
    SEND(s, fader_gain, 0, (int32_t)id, (float)t->gain_db);
    SEND(s, set_pan, 0, id, (float)t->pan);
    SEND(s, set_mute, 0, id, t->mute != 0);
    SEND(s, set_solo, 0, id, t->solo != 0);
    for (int k = 0; k < t->n_clips; k++, (*clip)++) {
        const ProjectClip *pc = &t->clips[k];
        SEND(s, clip_notes, 0, *clip, (uint32_t)pc->n_notes);
        for (int j = 0; j < pc->n_notes; j++) {
            const ProjectNote *n = &pc->notes[j];
            SEND(s, clip_note, 0, n->start_beat, n->length_beats, *clip, (float)n->velocity, (uint8_t)n->key);
        }
        SEND(s, place_clip_beats, 0, pc->start_beat, pc->length_beats, pc->loop_beats, *clip, id, *clip);
    }
    for (int k = 0; k < t->n_regions; k++, (*region)++) {
        const ProjectRegion *r = &t->regions[k];
        SEND(s, place_region_beats, 0, r->start_beat, r->offset_seconds, r->length_seconds, *region, id,
             (uint32_t)r->sample, (float)r->gain_db);
    }
    for (int k = 0; k < t->n_lanes; k++) {
        const ProjectLane *l = &t->lanes[k];
        uint32_t slot = l->slot == ENGINE_LANE_FADER ? CMD_INSERT_LIMIT + 1 : (uint32_t)l->slot;
        SEND(s, automation_lane, 0, id, slot, (uint32_t)l->param_index, (uint32_t)l->n_points);
        for (int j = 0; j < l->n_points; j++)
            SEND(s, automation_point, 0, l->points[j].beat, id, slot, (uint32_t)l->param_index,
                 (float)l->points[j].value);
    }
}

/* The whole project, as project_feed feeds it (a render: the metronome as
 * `export` says). */
static void sync_project(RingFeed *s, const Project *p)
{
    PatchTable pt;
    sync_patches(s, p, &pt);
    SEND(s, tempo_bpm, 0, p->tempo);
    for (int i = 0; i < p->n_tempo_changes; i++)
        SEND(s, tempo_change_beat, 0, p->tempo_changes[i].beat, p->tempo_changes[i].bpm);
    SEND(s, time_signature, 0, (uint8_t)p->sig_num, (uint8_t)p->sig_den);
    for (int i = 0; i < p->n_sig_changes; i++)
        SEND(s, time_signature_change, 0, p->sig_changes[i].beat, (uint8_t)p->sig_changes[i].num,
             (uint8_t)p->sig_changes[i].den);
    if (p->metronome_export)
        SEND(s, metronome, 0, (float)p->metronome_gain_db, true);
    if (p->loop_enabled)
        SEND(s, loop_beats, 0, p->loop_start, p->loop_end, true);
    SEND(s, fader_gain, 0, -1, (float)p->master_gain_db);
    for (int i = 0; i < p->n_samples; i++) {
        const ProjectSample *ps = &p->samples[i];
        EngineSample *smp = engine_sample_new(s->e, ps->channels, ps->frames);
        ck_assert_ptr_nonnull(smp);
        for (int ch = 0; ch < ps->channels; ch++)
            memcpy(smp->data[ch], ps->data[ch], (size_t)ps->frames * sizeof(float));
        uint32_t h = engine_commands_put_sample(s->cx, smp);
        ck_assert_uint_ne(h, ENGINE_COMMANDS_NO_HANDLE);
        SEND(s, load_sample, 0, (uint32_t)i, h, (uint32_t)ps->frames, (uint32_t)p->render_rate,
             (uint8_t)ps->channels);
    }
    for (int i = 0; i < p->n_tracks; i++) {
        SEND(s, add_track, 0, engine_id(p, i), (uint8_t)(p->tracks[i].kind - ENGINE_TRACK_INSTRUMENT));
        SEND(s, set_track_position, 0, engine_id(p, i), (uint32_t)i);
    }
    uint32_t clip = 0, region = 0;
    for (int i = 0; i < p->n_tracks; i++)
        sync_track(s, p, &pt, i, &clip, &region);
    for (int i = 0; i < p->n_tracks; i++)
        for (int k = 0; k < p->tracks[i].n_sends; k++)
            SEND(s, set_send_db, 0, engine_id(p, i), engine_id(p, p->tracks[i].sends[k].bus_index),
                 (float)p->tracks[i].sends[k].level_db, false);
    SEND(s, play, 0);
    SEND(s, stop, project_end_frame(p));
    sync_flush(s);
}

/* ---- the two builds, rendered -------------------------------------------------------------- */

static const ProjectPatchLoader *native_loader(void)
{
    static ProjectPatchLoader loader;
    loader = patch_loader_native(NULL);
    return &loader;
}

static void load_text(const char *json, Project *p)
{
    static char err[16384];
    ck_assert_msg(project_load_text(json, strlen(json), "sync.json", ".", p, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(project_resolve(p, native_loader(), 0, err, sizeof err) == 0, "%s", err);
}

static void load_file(const char *path, Project *p)
{
    static char err[16384];
    ck_assert_msg(project_load_file(path, p, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(project_resolve(p, native_loader(), 0, err, sizeof err) == 0, "%s", err);
}

static void render_fed(const Project *p, float *l, float *r, int64_t frames)
{
    char err[512];
    EngineConfig cfg;
    project_engine_config(p, &cfg);
    Engine *e = engine_init(&cfg, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    ck_assert_msg(project_feed(p, e, err, sizeof err) == 0, "%s", err);
    int faults = 0;
    project_render(e, l, r, frames, NULL, NULL, &faults);
    ck_assert_int_eq(faults, 0);
    engine_free(e);
}

/* The same engine sizes as project_feed's (the tables the mix runs over),
 * with room for the commands and the ready blocks and nodes. */
static void render_synced(const Project *p, float *l, float *r, int64_t frames, int *pumps, int *waits)
{
    EngineConfig cfg;
    project_engine_config(p, &cfg);
    cfg.queue_size = 1 << 16;
    cfg.clip_bytes += 4u << 20;
    cfg.lane_bytes += 4u << 20;
    cfg.max_nodes += 64;
    cfg.state_bytes = cfg.state_bytes * 2 + (64u << 20);
    EngineCommandsConfig ccfg;
    engine_commands_config_default(&ccfg);
    ccfg.max_patches = MAX_PATCHES;
    ccfg.max_stock = 16;
    ccfg.max_ahead_seconds = 0;
    ccfg.block_stock = 1;          /* clips wait for blocks: refilled between drains */
    RingFeed s;
    sync_init(&s, &cfg, &ccfg, SMALL_RING);
    sync_project(&s, p);
    EngineCommandsStats st;
    engine_commands_stats(s.cx, &st);
    ck_assert_msg(st.refused == 0 && st.rejected == 0, "%u refused, %u rejected", st.refused, st.rejected);
    int faults = 0;
    project_render(s.e, l, r, frames, NULL, NULL, &faults);
    ck_assert_int_eq(faults, 0);
    EngineState es;
    engine_state_read(engine_state(s.e), &es);
    ck_assert_uint_eq(es.commands_refused + es.commands_failed, 0);
    *pumps = s.pumps;
    *waits = (int)st.waits;
    sync_free(&s);
}

static long first_difference(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            return (long)i;
    return -1;
}

static void expect_same_render(const Project *p, const char *what)
{
    int64_t frames = project_frames(p);
    float *l1 = calloc((size_t)frames, sizeof(float)), *r1 = calloc((size_t)frames, sizeof(float));
    float *l2 = calloc((size_t)frames, sizeof(float)), *r2 = calloc((size_t)frames, sizeof(float));
    ck_assert(l1 && r1 && l2 && r2);
    render_fed(p, l1, r1, frames);
    int pumps = 0, waits = 0;
    render_synced(p, l2, r2, frames, &pumps, &waits);
    double peak = 0;
    for (int64_t i = 0; i < frames; i++)
        peak = fmax(peak, fmax(fabs(l1[i]), fabs(r1[i])));
    long dl = first_difference(l1, l2, frames), dr = first_difference(r1, r2, frames);
    printf("sync: %s: %lld frames, peak %.3f, through a %d-byte ring in %d drains (%d waiting for a block): %s\n",
           what, (long long)frames, peak, SMALL_RING, pumps, waits,
           dl < 0 && dr < 0 ? "the same bits as project_feed" : "DIFFERENT");
    ck_assert_msg(peak > 0.05, "%s renders (nearly) silent", what);
    ck_assert_msg(dl < 0, "%s: left differs from frame %ld (%.9g vs %.9g)", what, dl, dl < 0 ? 0.0 : (double)l1[dl],
                  dl < 0 ? 0.0 : (double)l2[dl]);
    ck_assert_msg(dr < 0, "%s: right differs from frame %ld", what, dr);
    free(l1);
    free(r1);
    free(l2);
    free(r2);
}

START_TEST(test_demo_through_the_ring)
{
    Project p;
    load_file("tests/projects/demo.json", &p);
    expect_same_render(&p, "demo.json");
    project_free(&p);
}
END_TEST

/* Version 2, everything the sync layer sends: tempo map, a signature
 * change (3/4, then 7/8 from bar 3), the metronome in the export, a
 * transport loop, a looped clip, an insert with params, a legato bass,
 * drums, an audio track with an offset region, two buses (the first sends
 * to the second, listed after it), automation of a param and of a fader. */
static const char generated[] =
    "{\"version\": 2, \"sample_rate\": 48000, \"tempo\": 100,"
    " \"tempo_changes\": [{\"beat\": 4, \"bpm\": 132.5}, {\"beat\": 10, \"bpm\": 90}],"
    " \"time_signature\": [3, 4], \"time_signature_changes\": [{\"beat\": 6, \"num\": 7, \"den\": 8}],"
    " \"metronome\": {\"enabled\": false, \"gain_db\": -12, \"export\": true},"
    " \"loop\": {\"enabled\": true, \"start_beat\": 2, \"end_beat\": 11.5},"
    " \"length_beats\": 14, \"tail_seconds\": 1, \"master\": {\"gain_db\": -1.5},"
    " \"tracks\": ["
    "  {\"id\": 10, \"kind\": \"instrument\", \"patch\": \"nodes/pad.amp\", \"params\": {\"cutoff\": 900},"
    "   \"fader\": {\"gain_db\": -4, \"pan\": -0.3}, \"sends\": [{\"bus\": 20, \"level_db\": -6}],"
    "   \"clips\": [{\"start_beat\": 0.5, \"length_beats\": 12, \"loop_beats\": 2.5, \"notes\": ["
    "     {\"key\": 57, \"start_beat\": 0, \"length_beats\": 1.75, \"velocity\": 0.6},"
    "     {\"key\": 64, \"start_beat\": 0, \"length_beats\": 3, \"velocity\": 0.5},"
    "     {\"key\": 60, \"start_beat\": 1.25, \"length_beats\": 0.5},"
    "     {\"key\": 72, \"start_beat\": 2.75, \"length_beats\": 1}]}],"
    "   \"automation\": [{\"target\": {\"slot\": 0, \"param\": \"cutoff\"},"
    "     \"points\": [{\"beat\": 0, \"value\": 400}, {\"beat\": 9, \"value\": 3000}]}]},"
    "  {\"id\": 11, \"kind\": \"instrument\", \"patch\": \"nodes/epiano.amp\","
    "   \"inserts\": [{\"patch\": \"nodes/stereo_delay.amp\", \"params\": {\"time\": 0.3, \"mix\": 0.3}}],"
    "   \"fader\": {\"gain_db\": -146, \"pan\": 0.4}, \"sends\": [{\"bus\": 21, \"level_db\": -3}],"
    "   \"clips\": [{\"start_beat\": 1, \"length_beats\": 8, \"notes\": ["
    "     {\"key\": 76, \"start_beat\": 0, \"length_beats\": 0.5, \"velocity\": 0.9},"
    "     {\"key\": 79, \"start_beat\": 0, \"length_beats\": 0.25},"
    "     {\"key\": 74, \"start_beat\": 1.5, \"length_beats\": 2}]}],"
    "   \"automation\": [{\"target\": {\"fader\": \"gain_db\"},"
    "     \"points\": [{\"beat\": 0, \"value\": -2}, {\"beat\": 6, \"value\": -12}, {\"beat\": 6, \"value\": 0}]}]},"
    "  {\"id\": 12, \"kind\": \"instrument\", \"patch\": \"nodes/pad.amp\", \"voice_mode\": \"legato\","
    "   \"glide_seconds\": 0.05, \"clips\": [{\"start_beat\": 0, \"length_beats\": 14, \"notes\": ["
    "     {\"key\": 40, \"start_beat\": 0, \"length_beats\": 3}, {\"key\": 43, \"start_beat\": 2.5, \"length_beats\": 3},"
    "     {\"key\": 45, \"start_beat\": 7, \"length_beats\": 2}]}]},"
    "  {\"id\": 13, \"kind\": \"instrument\", \"patch\": \"nodes/drums.amp\", \"fader\": {\"gain_db\": -6},"
    "   \"clips\": [{\"start_beat\": 0, \"length_beats\": 14, \"loop_beats\": 1, \"notes\": ["
    "     {\"key\": 36, \"start_beat\": 0, \"length_beats\": 0.25}, {\"key\": 42, \"start_beat\": 0.5, \"length_beats\": 0.25}]}]},"
    "  {\"id\": 14, \"kind\": \"audio\", \"fader\": {\"gain_db\": -3}, \"sends\": [{\"bus\": 21, \"level_db\": -10}],"
    "   \"regions\": [{\"file\": \"tests/projects/hats.wav\", \"start_beat\": 3, \"offset_seconds\": 0.1,"
    "     \"length_seconds\": 0.3, \"gain_db\": -2}, {\"file\": \"tests/projects/hats.wav\", \"start_beat\": 8}]},"
    "  {\"id\": 20, \"kind\": \"bus\", \"inserts\": [{\"patch\": \"nodes/stereo_delay.amp\","
    "   \"params\": {\"time\": 0.2, \"feedback\": 0.5, \"mix\": 1}}], \"sends\": [{\"bus\": 21, \"level_db\": -4}]},"
    "  {\"id\": 21, \"kind\": \"bus\", \"inserts\": [{\"patch\": \"nodes/reverb.amp\", \"params\": {\"mix\": 1}}],"
    "   \"fader\": {\"gain_db\": -2}}"
    " ]}";

START_TEST(test_generated_project_through_the_ring)
{
    Project p;
    load_text(generated, &p);
    ck_assert_int_eq(p.version, 2);
    ck_assert_int_eq(p.n_sig_changes, 1);
    ck_assert(p.tracks[0].clips[0].loop_beats == 2.5);
    expect_same_render(&p, "a generated version 2 project");
    project_free(&p);
}
END_TEST

/* ---- edits while playing ----------------------------------------------------------------------- */

#define SR 48000.0f
#define BEAT 24000                 /* samples per beat at 120 bpm */
#define LEN (9 * BEAT)
#define P_POLY 1

static float out_l[LEN], out_r[LEN];

typedef struct EditRig {
    RingFeed s;
    long pos;
} EditRig;

static void rig_init(EditRig *r)
{
    EngineConfig cfg;
    engine_config_default(&cfg, SR);
    cfg.max_tracks = 8;
    cfg.max_inserts = 2;
    cfg.max_nodes = 32;
    cfg.state_bytes = 8u << 20;
    cfg.clip_bytes = 1u << 20;
    cfg.lane_bytes = 1u << 20;
    cfg.sample_bytes = 1u << 16;
    cfg.max_clips = 8;
    cfg.max_placements = 4;
    cfg.max_block = 256;
    EngineCommandsConfig ccfg;
    engine_commands_config_default(&ccfg);
    ccfg.max_patches = 4;
    ccfg.max_stock = 4;
    ccfg.block_stock = 2;
    ccfg.max_ahead_seconds = 10;
    memset(r, 0, sizeof *r);
    sync_init(&r->s, &cfg, &ccfg, RING_CAPACITY);
    char err[300];
    ck_assert_int_eq(engine_commands_set_patch(r->s.cx, P_POLY, &amp_fixture_poly_desc, 4, err, sizeof err), 0);
}

/* Render to sample `to` in quanta of 128, each started by a drain. */
static void rig_render(EditRig *r, long to)
{
    while (r->pos < to) {
        int n = to - r->pos < 128 ? (int)(to - r->pos) : 128;
        sync_pump(&r->s);
        float *out[2] = { out_l + r->pos, out_r + r->pos };
        engine_render(r->s.e, out, n);
        r->pos += n;
    }
}

/* A track of the fixture with attack and release 0 (a note sounds exactly
 * from its note-on to its note-off), panned hard to one side. */
static void rig_track(EditRig *r, uint32_t track, uint32_t position, float pan)
{
    SEND(&r->s, add_track, 0, track, CMD_TRACK_INSTRUMENT);
    SEND(&r->s, set_track_position, 0, track, position);
    SEND(&r->s, set_instrument, 0, track, P_POLY);
    SEND(&r->s, set_param, 0, track, 0, 0, 1.0f);   /* volume */
    SEND(&r->s, set_param, 0, track, 0, 1, 0.0f);   /* attack */
    SEND(&r->s, set_param, 0, track, 0, 2, 0.0f);   /* release */
    SEND(&r->s, settle, 0, track, 0);
    SEND(&r->s, set_pan, 0, track, pan);
}

static void rig_clip(EditRig *r, int64_t time, uint32_t clip, uint8_t key, double start, double length)
{
    SEND(&r->s, clip_notes, time, clip, 1);
    SEND(&r->s, clip_note, time, start, length, clip, 1.0f, key);
}

/* Sign changes over [from, to): twice the frequency times the seconds. */
static int crossings(const float *x, long from, long to)
{
    int n = 0;
    for (long i = from + 1; i < to; i++)
        n += (x[i - 1] < 0) != (x[i] < 0);
    return n;
}

static long first_nonzero(const float *x, long from, long to)
{
    return testutil_first_nonzero(x, from, to);
}

START_TEST(test_edits_while_playing)
{
    EditRig r;
    rig_init(&r);
    /* Track 5 (first in the mix) on the left: one note of A4 (key 69) at
     * beat 4 for a beat. Track 2 on the right: A5 (key 81), half a beat,
     * looped every beat. */
    rig_track(&r, 5, 0, -1.0f);
    rig_track(&r, 2, 1, 1.0f);
    rig_clip(&r, 0, 0, 69, 0.0, 1.0);
    SEND(&r.s, place_clip_beats, 0, 4.0, 1.0, 0.0, 7, 5, 0);
    rig_clip(&r, 0, 1, 81, 0.0, 0.5);
    SEND(&r.s, place_clip_beats, 0, 0.0, 9.0, 1.0, 9, 2, 1);
    SEND(&r.s, play, 0);
    rig_render(&r, 2 * BEAT);
    /* Move the left clip from beat 4 to beat 6 while playing (beat 2). */
    SEND(&r.s, place_clip_beats, 2 * BEAT, 6.0, 1.0, 0.0, 7, 5, 0);
    rig_render(&r, 2 * BEAT + BEAT / 2);
    /* Change the looped note to A6 (key 93) at beat 2.5: from beat 3 on. */
    rig_clip(&r, 2 * BEAT + BEAT / 2, 1, 93, 0.0, 0.5);
    rig_render(&r, 6 * BEAT + BEAT / 2);
    /* Remove the left track in the middle of its note (beat 6.5). */
    SEND(&r.s, remove_track, 6 * BEAT + BEAT / 2, 5);
    rig_render(&r, 7 * BEAT + BEAT / 2);
    /* Remove the looped placement at beat 7.5 (in a gap: its note ended at 7.5). */
    SEND(&r.s, remove_placement, 7 * BEAT + BEAT / 2, 9);
    rig_render(&r, LEN);

    /* Left: nothing at beat 4 (moved), the note from beat 6 to the removal. */
    ck_assert_int_eq(first_nonzero(out_l, 0, LEN), 6 * BEAT);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, LEN), 6 * BEAT + BEAT / 2 - 1);
    int left_x = crossings(out_l, 6 * BEAT, 6 * BEAT + BEAT / 2);
    /* Right: a note on every beat, half a beat long, A5 then A6 from beat 3
     * (the note at 7 plays out: the placement goes at its end). */
    for (int b = 0; b < 8; b++) {
        long on = (long)b * BEAT, off = on + BEAT / 2;
        ck_assert_msg(first_nonzero(out_r, on, on + BEAT) == on, "beat %d starts at %ld", b,
                      first_nonzero(out_r, on, on + BEAT));
        ck_assert_msg(testutil_last_nonzero(out_r, on, on + BEAT) == off - 1, "beat %d ends at %ld", b,
                      testutil_last_nonzero(out_r, on, on + BEAT));
        int x = crossings(out_r, on, off);
        int want = b < 3 ? 880 : 1760;   /* Hz: two crossings a cycle over 0.25 s */
        ck_assert_msg(abs(x - want / 2) <= 2, "beat %d: %d crossings, want %d (%d Hz)", b, x, want / 2, want);
    }
    ck_assert_int_eq(first_nonzero(out_r, 8 * BEAT, LEN), -1);   /* removed at 7.5: no note at beat 8 */
    printf("sync: edits while playing: moved clip from sample %d, A4 %d crossings over 0.25 s (%d Hz), "
           "A5 -> A6 at beat 3, track removed at sample %d, placement removed: silent from beat 8\n",
           6 * BEAT, left_x, left_x * 2, 6 * BEAT + BEAT / 2);
    ck_assert(abs(left_x - 220) <= 2);
    EngineCommandsStats st;
    engine_commands_stats(r.s.cx, &st);
    ck_assert_uint_eq(st.refused, 0);
    EngineState es;
    engine_state_read(engine_state(r.s.e), &es);
    ck_assert_uint_eq(es.commands_failed, 0);
    ck_assert_uint_eq(es.tracks[5].kind, 0);
    sync_free(&r.s);
}
END_TEST

/* Notes that do not belong are refused and counted, never half applied. */
START_TEST(test_clip_sequence_refusals)
{
    EditRig r;
    rig_init(&r);
    rig_track(&r, 1, 0, -1.0f);
    SEND(&r.s, place_clip_beats, 0, 0.0, 4.0, 0.0, 0, 1, 3);
    SEND(&r.s, clip_note, 0, 0.0, 1.0, 3, 1.0f, 60);              /* no clip open */
    SEND(&r.s, clip_notes, 0, 3, 2);
    SEND(&r.s, clip_note, 0, 1.0, 1.0, 4, 1.0f, 60);              /* another clip's */
    SEND(&r.s, clip_note, 0, 1.0, 1.0, 3, 1.0f, 60);
    SEND(&r.s, clip_note, 0, 0.5, 1.0, 3, 1.0f, 62);              /* out of order: spoils it */
    SEND(&r.s, clip_notes, 0, 3, 3);
    SEND(&r.s, clip_note, 0, 0.0, 1.0, 3, 1.0f, 60);
    SEND(&r.s, automation_lane, 0, 1, 0, 0, 1);                   /* drops the unfinished clip */
    SEND(&r.s, automation_point, 0, 0.0, 1, 0, 1, 0.5f);          /* another lane's */
    SEND(&r.s, automation_point, 0, 0.0, 1, 0, 0, 0.5f);          /* volume 0.5 from beat 0 */
    SEND(&r.s, clip_notes, 0, 3, 1);
    SEND(&r.s, clip_note, 0, 2.0, 1.0, 3, 1.0f, 69);
    SEND(&r.s, clip_notes, 0, 99, 1);                             /* beyond max_clips */
    SEND(&r.s, play, 0);
    rig_render(&r, 4 * BEAT);
    EngineCommandsStats st;
    engine_commands_stats(r.s.cx, &st);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_SEQUENCE], 4);
    ck_assert_uint_eq(st.refused_by[ENGINE_COMMANDS_REFUSE_RANGE], 1);
    ck_assert_uint_eq(st.refused, 5);
    ck_assert_uint_eq(st.dropped, 1);
    ck_assert_uint_eq(st.records, st.applied + st.refused);
    /* Only the last clip played: from beat 2, at the lane's volume 0.5. */
    ck_assert_int_eq(first_nonzero(out_l, 0, 4 * BEAT), 2 * BEAT);
    ck_assert_float_eq(out_l[2 * BEAT], 0.5f);
    ck_assert_int_eq(testutil_last_nonzero(out_l, 0, 4 * BEAT), 3 * BEAT - 1);
    printf("sync: refusals: a stray note, another clip's note, notes out of order, another lane's point, a clip id "
           "out of range: %u refused; an unfinished clip: %u dropped; the rest applied\n", st.refused, st.dropped);
    sync_free(&r.s);
}
END_TEST

static Suite *sync_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *build = tcase_create("build");
    tcase_add_test(build, test_demo_through_the_ring);
    tcase_add_test(build, test_generated_project_through_the_ring);
    tcase_set_timeout(build, 600);
    suite_add_tcase(s, build);
    TCase *edit = tcase_create("edit");
    tcase_add_test(edit, test_edits_while_playing);
    tcase_add_test(edit, test_clip_sequence_refusals);
    tcase_set_timeout(edit, 120);
    suite_add_tcase(s, edit);
    return s;
}

int main(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = testutil_run(sync_suite());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_sync: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return rc;
}
