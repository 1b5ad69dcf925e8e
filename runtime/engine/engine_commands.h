/* engine_commands.h — the engine consumes the command ring: each record the
 * UI wrote (runtime/engine/commands.def, decoded by cmd_decode) goes into the
 * engine's one command queue, as it is or, where it names things through
 * the tables below, as the engine's own record(s) (engine.h's calls).
 *
 *   UI ──rb_write──▶ command ring ──engine_drain_ring──▶ cmd_decode
 *        ──engine_apply_command──▶ engine queue (the record, or the engine's
 *        records for it) ──▶ engine_apply.c apply_command at its sample
 *
 * The commands name things by number (track ids, insert positions, patch
 * ids, the sender's clip and sample ids, pool handles); the engine takes
 * pointers and slots. This module keeps the tables between the two, in an
 * EngineCommands made once per engine by engine_commands_new. Nothing in a
 * record is trusted: every id is checked against the engine's sizes and
 * every handle against the table it names; a command that does not map is
 * refused and counted (EngineCommandsStats), never applied in part.
 *
 * ---- Patches: ready nodes, not descriptors -------------------------------
 *
 * set_instrument and add_insert carry a patch id. Creating a patch instance
 * (engine_node_new) is a control call: it takes a state block from the
 * engine's state heap (a first-fit search) and runs the patch's init(),
 * which may fill tables and clear delay lines of any size. Neither belongs
 * on the audio thread. So a patch id names a *stock of ready nodes*:
 *
 *   control  engine_commands_set_patch(cx, id, desc, stock) registers the
 *            descriptor under `id` and makes `stock` nodes of it;
 *            engine_commands_refill(cx), called after each engine_drain on
 *            the control side, makes new nodes for the ones taken (and frees
 *            nodes of a patch that was replaced or removed).
 *   audio    set_instrument / add_insert take one ready node of that patch
 *            (an atomic exchange on its slot, O(stock)) and pass it to
 *            engine_set_instrument / engine_insert_add. The node's params are
 *            the patch's defaults; set_param commands after it (same time,
 *            later in the ring) set others. The node it replaces comes back
 *            as ENGINE_EV_NODE_RELEASED and engine_release frees it.
 *
 * When the stock of a patch is empty, the drain stops at that command and
 * retries it at the next drain (after the control side refilled), keeping
 * the ring's order; after cfg.wait_limit drains it is refused
 * (ENGINE_COMMANDS_REFUSE_NO_NODE). A UI that sends many instrument changes
 * of one patch at once should give it a stock that large. The render path
 * thus never creates, initialises or frees a node: it moves pointers.
 *
 * ---- Data blocks: handles ------------------------------------------------
 *
 * load_clip, load_sample and automation carry a u32 handle. The control
 * side fills a buffer from the engine's pools (engine_clip_new,
 * engine_sample_new, engine_lane_new), parks it with engine_commands_put_*
 * and gets back its handle, an index into that kind's handle table. The
 * command passes the block to the engine: the handle must name a parked
 * block of the right kind (the tables are separate per kind) that matches
 * the command — a clip's byte size (engine_commands_clip_bytes) equals
 * `length`, a sample's frames and channels equal the command's and its
 * rate is the engine's, a lane has `count` points — else the command is
 * refused and the block stays parked (engine_commands_withdraw takes it
 * back). A handle is good for one command: once the engine has the block,
 * the slot is empty again and the handle may be reused for another block.
 * A replaced block comes back on the event ring as usual.
 *
 * Each table slot is one atomic word: 0 empty, else the block's address,
 * with bit 0 set while the audio side holds it between taking it and the
 * engine call. Only the control side turns 0 into an address; only the
 * audio side sets and clears bit 0 and empties a slot it took; a withdraw
 * empties a slot only if bit 0 is clear (compare-and-swap), so a block is
 * owned by exactly one side at every moment.
 *
 * ---- Clips and lanes note by note: ready blocks -----------------------------
 *
 * clip_notes / clip_note and automation_lane / automation_point (ring
 * format 3) carry a clip's notes or a lane's points in the records
 * themselves, so the page needs no pool of its own. The block they fill
 * is taken, like a node, from a stock the control side keeps ready
 * (engine_commands_refill): blocks of 16, 64, 256, ... 65536 notes or
 * points, cfg.block_stock of the smallest kept ready, half as many of the
 * next, a quarter of the third; a larger one is made when a clip_notes
 * asks for it, and the drain waits for it as for a node (RETRY). While
 * the clip or lane is being filled its block stays claimed in its slot
 * (bit 0); the last note or point hands it to the engine (engine_load_clip
 * or engine_set_lane, at the time of clip_notes / automation_lane) and the
 * slot is free for the next refill. One clip or lane is filled at a time:
 * a new clip_notes or automation_lane drops an unfinished one (counted in
 * `dropped`), a note or point that names another is refused
 * (ENGINE_COMMANDS_REFUSE_SEQUENCE), and one out of order spoils the
 * whole (refused when its last one comes, nothing applied).
 *
 * ---- What each command becomes -------------------------------------------
 *
 *   play, stop, tempo, time_signature, time_signature_change, metronome,
 *   note_on, note_off, all_notes_off, panic, set_param, settle,
 *   add_track, remove_track, set_track_position, remove_insert,
 *   move_insert, set_voice_mode, set_gain, set_master_gain, set_pan,
 *   set_mute, set_solo: queued into the engine as they are
 *     (engine_queue_command), once their ids are checked against the
 *     engine's sizes (note ids above ENGINE_LIVE_NOTE_MAX are refused);
 *     the engine applies them (engine_apply.c: track kinds 0/1/2 ->
 *     instrument/audio/bus, insert positions 1.. -> its 0.., set_gain and
 *     set_master_gain -144 dB and below -> silence). tempo also resets the
 *     map here (the engine clears its tempo changes).
 *   The others need this module's tables and become the engine's own
 *   commands (commands.def, "engine:") through the engine_* calls:
 *   seek, loop: positions in timeline samples -> beats through the tempo
 *     map this module keeps (tempo commands, engine_commands_set_tempo_map):
 *     with a constant tempo, beat = samples * bpm / (60 * rate), the
 *     engine's own expression, so a position lands on its sample exactly.
 *   tempo_change: the position -> its beat through the map as it stands,
 *     then engine_add_tempo_change at that beat, and the change goes into
 *     the map here too (so later positions convert through it). A map
 *     already holding the engine's max_tempo_points changes is refused
 *     (ENGINE_COMMANDS_REFUSE_FULL) unless the beat is one of them.
 *   set_send: the track's send slot to that bus (a slot is taken on the
 *     first send to a bus and freed when its level is set to 0); the
 *     linear level becomes 20 log10(level) dB.
 *   load_clip: engine_load_clip under the sender's clip id (< max_clips),
 *     then engine_place_clip on the track's placement slot for that clip,
 *     from `start` (timeline samples -> beats) for the span of its notes
 *     (the end of its last note: every note plays in full). Loading an id
 *     again replaces the clip, and moves it if the track differs.
 *   load_sample: engine_load_sample under the sender's sample id
 *     (< max_samples).
 *   place_region: engine_place_region on the track's region slot for the
 *     sender's region id (ids < max_tracks * max_regions, the engine's
 *     region slots in all; a slot is taken on the first placement of an id
 *     on a track), from `start` (timeline samples -> beats), sample id <
 *     max_samples, frames first_frame .. first_frame + frames - 1 (0: to
 *     the end), gain in dB (-144 and below -> silence). Placing an id again
 *     replaces the region, and moves it if the track differs (the old slot
 *     is cleared at the same time). A slot freed by remove_region, a move
 *     or remove_track at time T is taken again only by a placement that
 *     applies at T or later (an earlier one would be applied first and
 *     then cleared). The same holds for send, clip placement and lane
 *     slots (set_send with level 0, load_clip moving a clip, automation
 *     with no points, remove_track). A track that is not an audio track is
 *     refused by the engine when the command applies (ENGINE_EV_REFUSED).
 *   remove_region: the id's slot cleared (engine_place_region with sample
 *     -1) and freed; an id that is not placed is ignored (applied, nothing
 *     queued).
 *   panic: queued as it is; the engine cuts the voices (all_notes_off
 *     releases them).
 *   settle: queued as it is; the engine resets the slot's patch with its
 *     params as set (a project's params: set_instrument, set_param...,
 *     settle gives the node project_feed makes).
 *   automation: the track's lane slot for (slot, param) (taken on first
 *     use, freed by count 0) -> engine_set_lane; the lane's own unit
 *     (beats or samples) stands. Slot INSERT_LIMIT + 1 is the track's
 *     fader (ENGINE_LANE_FADER): param 0 its gain in dB, 1 its pan.
 *   The project's own terms (format 3):
 *   seek_beat, loop_beats: engine_seek, engine_set_loop as given.
 *   tempo_bpm, tempo_change_beat: engine_set_tempo,
 *     engine_add_tempo_change, and the same into this module's map (so
 *     sample positions of older commands convert through it).
 *   fader_gain: engine_set_gain in exact dB (track -1: the master).
 *   set_send_db: as set_send, the level in dB as given; remove clears.
 *   automation_lane + automation_point: a lane in beats, from a ready
 *     block, onto the lane slot as automation does.
 *   clip_notes + clip_note: a clip from a ready block, engine_load_clip
 *     under the sender's clip id (< max_clips); count 0 clears the id.
 *   place_clip_beats: engine_place_clip_looped on the track's placement
 *     slot for the sender's placement id (< max_tracks * max_placements;
 *     taken on first placement, as for regions; placing the id on another
 *     track moves it); loop 0 or at least ENGINE_LOOP_MIN.
 *   remove_placement: the id's slot cleared and freed (not placed:
 *     ignored).
 *   place_region_beats: as place_region, from a beat, with offset and
 *     length in seconds rounded to frames at the engine's rate
 *     (llround, as project_feed) and the gain in exact dB.
 *
 * Every command's time must lie within cfg.max_ahead_seconds of the
 * engine's time (a time already past is fine: it applies at once): the
 * engine keeps queued commands until their time, so a record with a time
 * far ahead (a stray bit in its header) would hold a queue slot for good.
 *
 * Tables this module fills (sends, placements, regions, lanes of a track)
 * must not be driven by direct engine_* calls for the same track at the
 * same time; remove_track frees a track's entries.
 *
 * ---- Threads --------------------------------------------------------------
 *
 *   control  engine_commands_new / _free / _set_patch / _refill / _put_* /
 *            _withdraw (one thread at a time, the one that also polls the
 *            engine's events and frees what they hand back).
 *   drain    engine_drain_ring / engine_apply_command /
 *            engine_commands_set_tempo_map: the audio thread, at the start
 *            of each render quantum, before engine_render. These make the
 *            engine's queueing calls (engine_queue_command, engine_seek,
 *            ...), so while a ring is drained no other thread may queue
 *            engine commands; the pool calls (engine_node_new,
 *            engine_clip_new, engine_release, ...)
 *            stay on the control thread. In the browser's worklet both roles
 *            are one thread.
 *   any      engine_commands_stats (relaxed snapshot), engine_commands_of.
 * Nothing on the drain side allocates, locks, waits or does I/O.
 */
#ifndef AMP_ENGINE_COMMANDS_H
#define AMP_ENGINE_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "amp_patch.h"
#include "commands.h"
#include "engine.h"

#define ENGINE_COMMANDS_MAX_ENGINES 16     /* engines with tables at once, per process */
#define ENGINE_COMMANDS_MAX_STOCK 64       /* ready nodes one patch may keep */
#define ENGINE_COMMANDS_NO_HANDLE UINT32_MAX
#define ENGINE_COMMANDS_RETRY 1            /* engine_apply_command: no ready node yet */

typedef struct EngineCommands EngineCommands;

typedef struct EngineCommandsConfig {
    uint32_t max_patches;        /* patch ids 1..max_patches (0 means "none") */
    uint32_t max_stock;          /* most ready nodes per patch, <= ENGINE_COMMANDS_MAX_STOCK */
    uint32_t clip_handles;       /* handles 0..clip_handles-1 */
    uint32_t sample_handles;
    uint32_t lane_handles;
    uint32_t wait_limit;         /* drains a command may wait for a ready node */
    double max_ahead_seconds;    /* a command timed further ahead of the engine's time
                                    is refused (it would sit in the engine's queue and
                                    fill it); 0: no limit */
    uint32_t block_stock;        /* ready clip and lane blocks kept for clip_notes and
                                    automation_lane: this many of 16 notes or points, half
                                    as many of 64, a quarter of 256; larger ones (up to
                                    65536) are made when asked for; <= ENGINE_COMMANDS_MAX_STOCK */
} EngineCommandsConfig;

typedef enum {
    ENGINE_COMMANDS_CLIP = 0,
    ENGINE_COMMANDS_SAMPLE = 1,
    ENGINE_COMMANDS_LANE = 2
} EngineCommandsHandleKind;

/* Why a decoded command was not applied. */
typedef enum {
    ENGINE_COMMANDS_REFUSE_RANGE = 0,   /* an id or position beyond the engine's sizes */
    ENGINE_COMMANDS_REFUSE_TIME,        /* timed more than max_ahead_seconds ahead */
    ENGINE_COMMANDS_REFUSE_PATCH,       /* no such patch id; an insert that has no inputs */
    ENGINE_COMMANDS_REFUSE_NO_NODE,     /* no ready node of the patch (or block for clip_notes,
                                           automation_lane) within wait_limit drains */
    ENGINE_COMMANDS_REFUSE_HANDLE,      /* no parked block under the handle, or not the one described */
    ENGINE_COMMANDS_REFUSE_FULL,        /* no free send, placement or lane slot on the track */
    ENGINE_COMMANDS_REFUSE_ENGINE,      /* the engine refused the call (queue full, bad value) */
    ENGINE_COMMANDS_REFUSE_UNKNOWN,     /* a command type this module does not map */
    ENGINE_COMMANDS_REFUSE_SEQUENCE,    /* a clip_note / automation_point with no open clip or lane of
                                           its ids; the last one of a clip or lane sent out of order */
    ENGINE_COMMANDS_REFUSE_COUNT
} EngineCommandsRefusal;

#define ENGINE_COMMANDS_DECODE_ERRORS 9    /* rejected_by[-status] for CMD_ERR_SHORT (-1) .. CMD_ERR_RULE (-8) */

/* Counters since engine_commands_new (each wraps at 2^32). Every record
 * read is rejected (did not decode), applied, refused, or is the one
 * waiting for a node: records == rejected + applied + refused + waiting
 * (engine_apply_command calls from outside the drain add to applied or
 * refused only). */
typedef struct EngineCommandsStats {
    uint32_t records;            /* records read from the ring */
    uint32_t rejected;           /* did not decode (or longer than any command): skipped */
    uint32_t applied;            /* queued into the engine */
    uint32_t refused;            /* decoded, but could not be applied */
    uint32_t waiting;            /* 1 while a command waits for a ready node */
    uint32_t waits;              /* drains that stopped early to wait for a node */
    uint32_t ring_corrupt;       /* drains stopped by a corrupt ring (RB_CORRUPT) */
    uint32_t dropped;            /* clips and lanes left unfinished: the next clip_notes or
                                    automation_lane came before their last note or point */
    uint32_t rejected_by[ENGINE_COMMANDS_DECODE_ERRORS];   /* by -CmdStatus; [0] unused */
    uint32_t refused_by[ENGINE_COMMANDS_REFUSE_COUNT];     /* by EngineCommandsRefusal */
} EngineCommandsStats;

/* 256 patches with up to 8 ready nodes each, 256 handles of each kind, a
 * wait of up to 1024 drains, commands at most 60 s ahead, 8 ready blocks
 * of 16 notes (and points), 4 of 64, 2 of 256: about 22 KB of the clip
 * pool and 15 KB of the lane pool. */
void engine_commands_config_default(EngineCommandsConfig *cfg);

/* ---- control ------------------------------------------------------------------- */

/* Tables for `e`, sized from its EngineConfig and `cfg` (NULL: defaults),
 * registered so that engine_drain_ring(e, ...) finds them. NULL with a
 * message on bad sizes, no memory, an engine that already has tables, or
 * ENGINE_COMMANDS_MAX_ENGINES engines with tables. */
EngineCommands *engine_commands_new(Engine *e, const EngineCommandsConfig *cfg, char *err, size_t errlen);
/* Unregister and free the tables, and every node and block still parked in
 * them (engine_*_free). Nobody may be draining for the engine; call it
 * before engine_free. */
void engine_commands_free(EngineCommands *cx);
/* The tables of `e`, or NULL. */
EngineCommands *engine_commands_of(const Engine *e);

/* Register `desc` under patch id 1..max_patches with `stock` ready nodes
 * (0..max_stock), made now; desc NULL removes the id. Nodes of a previous
 * descriptor under the id are freed now or by a later refill. 0, or -1
 * with a message (bad id or stock, the descriptor is unusable, the node or
 * state pool is full: the nodes made so far stay ready). */
int engine_commands_set_patch(EngineCommands *cx, uint32_t patch_id, const AmpPatchDesc *desc, uint32_t stock,
                              char *err, size_t errlen);
/* Make ready nodes for those taken, free those no longer wanted. Returns
 * the number of nodes made, or -1 with a message when the pools are full
 * (the rest is made by a later call). */
int engine_commands_refill(EngineCommands *cx, char *err, size_t errlen);
/* Ready nodes of a patch now (0 for an unknown id). */
uint32_t engine_commands_ready(const EngineCommands *cx, uint32_t patch_id);

/* Park a filled block and return its handle, or ENGINE_COMMANDS_NO_HANDLE
 * when the table is full or the block is NULL (the caller keeps it). */
uint32_t engine_commands_put_clip(EngineCommands *cx, EngineClip *clip);
uint32_t engine_commands_put_sample(EngineCommands *cx, EngineSample *sample);
uint32_t engine_commands_put_lane(EngineCommands *cx, EngineLane *lane);
/* Take back a parked block (the caller frees it); NULL when the handle is
 * empty, out of range, or its block is being handed to the engine right
 * now (then it is the engine's, or is parked again a moment later). */
void *engine_commands_withdraw(EngineCommands *cx, EngineCommandsHandleKind kind, uint32_t handle);
/* The bytes a load_clip command gives as `length` for a clip of n_notes. */
uint32_t engine_commands_clip_bytes(int32_t n_notes);

void engine_commands_stats(const EngineCommands *cx, EngineCommandsStats *out);

/* ---- drain (audio) ----------------------------------------------------------------- */

/* Tell the tables the engine's tempo map when it was set by direct
 * engine_set_tempo / engine_add_tempo_change calls (a project feed), so that
 * seek, loop and load_clip positions convert through it: base `bpm`, then
 * from beats[i] on, bpms[i] (beats increasing, n <= the engine's
 * max_tempo_points). Tempo commands from the ring keep it up to date by
 * themselves. 0, or -1 for bad values (the map is unchanged). */
int engine_commands_set_tempo_map(EngineCommands *cx, double bpm, const double *beats, const double *bpms, int n);

/* Apply one decoded, valid command (cmd_decode returned CMD_OK) at its
 * header's time. 0 when queued into the engine; -1 when refused (counted,
 * and any block or node it names stays where it was); ENGINE_COMMANDS_RETRY
 * when the patch has no ready node yet (not counted: try again after a
 * refill). -1 as well for an engine without tables. */
int engine_apply_command(Engine *e, const Command *c);

/* Read up to max_commands records from the command ring `ring` (ring.h
 * layout), decode and apply each; call at the start of every render
 * quantum. A record that does not decode is counted and skipped; a command
 * waiting for a node is retried first and, while it waits, stops the drain
 * (later records stay in the ring, in order); a corrupt ring stops the
 * drain and is counted. Returns the records read, or -1 for an engine
 * without tables or a NULL ring. */
int engine_drain_ring(Engine *e, void *ring, uint32_t max_commands);

#endif
