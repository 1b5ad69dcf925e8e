/* engine.h — the engine host: many compiled patches playing an arrangement
 * through a mixer, sample-accurately, in real time.
 *
 *   instrument track: patch (notes from clips and live notes)  ┐
 *   audio track:      audio regions from the sample pool       ├─> inserts -> fader -> master
 *   bus track:        the sum of the sends into it             ┘      (post-fader sends -> buses)
 *
 * The engine owns one block of memory, allocated by engine_init from the
 * sizes in EngineConfig and never grown: the command queue, the event
 * ring, the track table, the mix buffers, and the pools that patch states,
 * clips, samples and automation lanes come from. A full pool refuses (the
 * call returns NULL or -1 and the refusal is counted in EngineState);
 * nothing is allocated, freed, locked or waited on while rendering.
 *
 * ---- Threads -------------------------------------------------------------
 *
 * Two roles, which may be one thread (offline render; the browser's
 * worklet, which decodes the command ring and then renders):
 *   control  the engine_* calls that queue a command (every call with a
 *            `time`), the pool calls (engine_node_new, engine_clip_new,
 *            engine_sample_new, engine_lane_new, engine_*_free,
 *            engine_release) and engine_poll. One thread at a time.
 *   audio    engine_render. One thread at a time.
 * They meet only in three lock-free places: the command queue (control ->
 * audio, single producer / single consumer, fixed slots), the event ring
 * (audio -> control, runtime/engine/ring.h) and the state region (audio ->
 * anyone, seqlock). Patch states, clips, samples and lanes change hands
 * through those: a buffer is filled on the control side, handed to the
 * engine by a timed command, and handed back by an ENGINE_EV_*_RELEASED
 * event when a later command replaces or removes it; only then may the
 * control side free it (engine_release does that for any event). When the
 * event ring is full, a hand-back waits (in a list threaded through the
 * buffers themselves) and goes out at the next engine_render that finds
 * room, in order: buffers are never lost, other events may be dropped.
 *
 * ---- Time ----------------------------------------------------------------
 *
 * `time` is engine time: the number of samples engine_render has produced
 * since engine_init. A command at time t takes effect before sample t is
 * rendered, whatever the render call lengths (each call is cut at command
 * times, not rounded to the block or the vector width); a time already
 * past takes effect at the start of the next render call; commands at the
 * same time apply in the order they were queued.
 *
 * The arrangement (clips, regions, automation, loop, tempo changes) is in
 * beats (quarter notes). The playhead moves only while playing, at the
 * tempo in force: beat(s) = anchor_beat + (s - anchor_sample) * bpm / 60 /
 * sample_rate, the anchor reset at play, seek, loop wrap and each tempo
 * change (computed as samples * bpm / (60 * rate), so whole tempos are
 * exact: beat 1 at 120 bpm and 48 kHz is sample 24000). Something placed
 * at beat x happens at the first sample s whose beat(s) >= x. With the loop
 * on, the first sample at or past its end (a playhead already past it
 * included) jumps to the loop start: that sample plays the loop start.
 * Tempo: a base tempo plus a map of changes at beats (each in force from
 * the first sample at or past its beat); engine_set_tempo replaces both.
 * The playhead in samples is the tempo map's time from beat 0 to the
 * playhead (set at play, seek and loop wrap), then counts samples.
 *
 * A clip placement may loop (engine_place_clip_looped): the notes starting
 * in [0, loop) of its clip play again every `loop` beats, each cut at the
 * end of its repeat and at the placement's end, exactly as a clip holding
 * the repeats one after another would (note k of repeat r starts at
 * start + (r * loop + note.start)).
 *
 * Time signature: a base signature plus a map of changes at beats (up to
 * max_tempo_points of them); it never changes timing (beats are quarter
 * notes). It drives the metronome: with it on, a click starts on the
 * first sample of every beat of the signature — every 4 / denominator
 * quarter notes counted from the change in force (from beat 0 for the
 * base), the first of every `numerator` of them an accent — while the
 * transport plays. The click is a 35 ms decaying cosine (time constant 3
 * ms) starting at its peak: 1 kHz peaking at 0.3 for a beat, 2 kHz
 * peaking at 0.5 for an accent, times the metronome's gain; it is added to
 * the master after the master fader (the master meter includes it). A
 * click that starts plays out whatever the transport then does.
 *
 * ---- Mixer ---------------------------------------------------------------
 *
 * Track signal: 2 channels. A patch with one output feeds both; an insert
 * with one input gets (left + right) / 2, with two or more gets left and
 * right (further inputs silence), and its first two outputs become the
 * track (one output: both). Fader: gain in dB, then the pan law, then mute
 * and solo, all as one gain per channel that ramps linearly over
 * ENGINE_RAMP samples from the sample of the change (no zipper, no click);
 * send levels ramp the same way. Settings made before a track's first
 * sample (and a master gain at time 0) apply at once: nothing to ramp from.
 * Pan law: equal power, -3 dB at the centre: with a = (pan + 1) * pi / 4,
 * left *= cos(a), right *= sin(a). pan -1: left 1, right 0; pan 0: both
 * 0.7071 (-3.01 dB); pan 1: left 0, right 1. A stereo track is panned the
 * same way (as a balance): at the centre both of its channels are 3 dB
 * down.
 * Sends are post-fader (after gain, pan, mute and solo) into bus tracks.
 * Tracks run first, then buses, each in increasing position
 * (engine_set_track_position; a new track's position is its id; equal
 * positions in increasing id), and sum into the master in that order, so
 * a bus may send only to a bus after it. Every track and bus goes to the
 * master, whose fader is a gain.
 * Solo rule: when any track is soloed, a track is heard only if it is
 * soloed, or if it is a bus fed by a send from a heard soloed track (or
 * from such a bus). Muted beats soloed. Soloing a bus alone does not bring
 * back the tracks that feed it (they stay solo-muted, so it is silent).
 *
 * ---- Meters and CPU ------------------------------------------------------
 *
 * Per track (after the fader, i.e. what reaches the master) and for the
 * master: peak |x| and RMS per channel over consecutive windows of
 * ENGINE_METER_SECONDS (50 ms, rounded to whole samples), each published
 * when its window completes (integrate and dump: a full-scale sine reads
 * RMS 0.7071 = -3.01 dBFS). Linear values; the UI converts to dB.
 * CPU: EngineConfig.clock, when set, is read around every process() call;
 * cpu_ns holds the nanoseconds each slot took in the last render call.
 *
 * ---- Automation ----------------------------------------------------------
 *
 * A lane drives one param of one slot of a track from breakpoints (time in
 * beats or in playhead samples, value in the param's unit). Before the
 * first point the value is the first point's, after the last the last's;
 * between two points it is linear in time. The engine sets the param at
 * each breakpoint's sample exactly and, between points whose values
 * differ, at every engine sample that is a multiple of AMP_CHUNK (16) —
 * the control tick — with the value at that sample. Two points at the same
 * time make a step. The param then follows its own smoothing, if declared.
 * While stopped a lane holds its value; a seek sets it at once.
 *
 * ---- Voice modes ---------------------------------------------------------
 *
 * poly: every note gets a voice; the patch's own stealing (voice.c).
 * mono: one voice; the note to sound is chosen among the held keys by the
 *   priority (last / low / high); when it changes, the old voice fades out
 *   (3 ms, as a stolen voice) and the new one starts: retrigger.
 * legato: one voice; a change of held note only changes the sounding
 *   voice's key and frequency (voice_legato): gate stays on, envelopes are
 *   not restarted. Releasing the sounding key moves to the next held one
 *   (by priority); releasing the last releases the voice.
 * Both keep ENGINE_HELD_NOTES held keys; a further key pushes out the
 * oldest. Changing the mode cuts the sounding voices.
 *
 * ---- Faults --------------------------------------------------------------
 *
 * After every process() call the engine scans the patch's outputs. If any
 * sample is NaN, infinite or beyond +-ENGINE_SIGNAL_CEILING (+96 dBFS: a
 * feedback build-up, a 3e38), that call's output is zeroed, the patch is
 * reset() (a polyphonic one loses its voices), the slot is marked faulted
 * in EngineState, its fault count grows, and ENGINE_EV_NODE_FAULT is posted
 * when the slot was not already faulted: track, slot (0 the instrument,
 * k the k-th insert), time the engine time of the first bad sample, code
 * ENGINE_FAULT_NONFINITE or ENGINE_FAULT_CEILING (what that sample was).
 * The slot keeps being processed: it is heard again as soon as a call gives
 * output within the ceiling. An audio track's region mix is guarded the
 * same way as its slot 0 (a sample's data comes from the control side).
 * The rest of the mix never sees the bad samples.
 *
 * Past the patches every stage stays finite by construction: a track's
 * signal is bounded by the ceiling, faders, pans and sends by +24 dB, a bus
 * sums at most ENGINE_MAX_TRACKS bounded signals (and its own inserts are
 * guarded), the master gain is bounded. Last, the master's output goes
 * through a safety limit: a sample beyond +-ENGINE_MASTER_LIMIT (+12 dBFS)
 * is clipped to it (only such samples are touched: a render that stays
 * below is bit-identical), counted in EngineState.master_limited, and
 * ENGINE_EV_MASTER_LIMIT is posted at the end of a render call that
 * clipped when the one before did not (time: that call's first sample;
 * track, slot: the engine's last fault, -1 none; code: samples clipped in
 * that call).
 *
 * ---- Transport and voices ------------------------------------------------
 *
 * play: starts from the playhead; regions already under way there play
 * from the matching frame, lanes take their value there; notes that began
 * before it are not chased. stop: every instrument's notes (clip and live)
 * are released (note-off) at that sample, audio regions stop, the playhead
 * stays. seek: every voice is cut with the 3 ms fade of a stolen voice
 * (panic without a click), then as for play. A loop wrap releases the
 * notes the clips started (note-off) and repositions regions and lanes.
 * Clip notes are cut at their clip's end. Live notes play whether or not
 * the transport runs; clips, regions and lanes only while it plays.
 */
#ifndef AMP_ENGINE_H
#define AMP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "amp_patch.h"
#include "commands.h"
/* The structs shared with JavaScript (EngineState and its parts,
 * EngineEvent), ENGINE_MAX_TRACKS, ENGINE_MAX_INSERTS, ENGINE_MAX_SLOTS
 * and ENGINE_STATE_VERSION: runtime/engine/layout.def. */
#include "layout.h"

#define ENGINE_MAX_CHANNELS 8     /* most inputs / outputs a hosted patch may have */
#define ENGINE_MASTER (-1)        /* the track argument that means the master fader */
#define ENGINE_SAMPLE_SLOTS 8     /* sample slots of a track's instrument the engine binds (CMD_SAMPLE_SLOT_LIMIT) */
#define ENGINE_RAMP 64            /* samples a fader, pan, mute or send change ramps over */
#define ENGINE_METER_SECONDS 0.05 /* meter window */
#define ENGINE_HELD_NOTES 16      /* held keys remembered in mono and legato modes */
#define ENGINE_LIVE_NOTE_MAX 0x3fffffff  /* live note ids are 0..this; clip notes use the rest */
#define ENGINE_LOOP_MIN (1.0 / 64.0)     /* shortest clip loop, in beats */
/* The signal guard (Faults below): a patch's output sample beyond
 * +-ENGINE_SIGNAL_CEILING (2^16, +96 dBFS: far above any legitimate level)
 * is a fault, as NaN and Inf are. _BITS: its IEEE-754 bits, the compare
 * the guard makes on |x|. */
#define ENGINE_SIGNAL_CEILING 65536.0f
#define ENGINE_SIGNAL_CEILING_BITS 0x47800000u
/* The master's safety limit: a hard clip at +-4.0 (+12 dBFS). */
#define ENGINE_MASTER_LIMIT 4.0f

typedef struct Engine Engine;

typedef enum {
    ENGINE_TRACK_NONE = 0,
    ENGINE_TRACK_INSTRUMENT = 1,
    ENGINE_TRACK_AUDIO = 2,
    ENGINE_TRACK_BUS = 3
} EngineTrackKind;

typedef enum { ENGINE_VOICE_POLY = 0, ENGINE_VOICE_MONO = 1, ENGINE_VOICE_LEGATO = 2 } EngineVoiceMode;
typedef enum { ENGINE_PRIORITY_LAST = 0, ENGINE_PRIORITY_LOW = 1, ENGINE_PRIORITY_HIGH = 2 } EnginePriority;
typedef enum { ENGINE_TIME_BEATS = 0, ENGINE_TIME_SAMPLES = 1 } EngineTimeUnit;

/* Nanoseconds from a monotonic clock; any origin. */
typedef uint64_t (*EngineClockFn)(void *user);

typedef struct EngineConfig {
    float sample_rate;
    int max_block;           /* frames per internal step and per mix buffer; render calls
                                of any length are cut into steps of at most this */
    int max_tracks;          /* track ids 0..max_tracks-1, at most ENGINE_MAX_TRACKS */
    int max_inserts;         /* per track, at most ENGINE_MAX_INSERTS */
    int max_sends;           /* per track */
    int max_nodes;           /* patch instances (instruments + inserts) alive at once */
    size_t state_bytes;      /* pool for patch states */
    int max_clips;           /* clip ids 0..max_clips-1 */
    int max_placements;      /* clip placements per track */
    size_t clip_bytes;       /* pool for clip note data */
    int max_clip_notes;      /* notes from clips sounding at once, per track */
    int max_samples;         /* sample ids 0..max_samples-1 */
    int max_regions;         /* audio regions per track */
    size_t sample_bytes;     /* pool for sample data */
    int max_lanes;           /* automation lanes per track */
    size_t lane_bytes;       /* pool for breakpoints */
    int max_tempo_points;    /* tempo changes in the tempo map */
    int queue_size;          /* commands queued and not yet applied (rounded up to a power of 2) */
    int event_ring_bytes;    /* bytes of the event ring (a power of 2) */
    EngineClockFn clock;     /* NULL: no CPU metering (cpu_ns stay 0) */
    void *clock_user;
} EngineConfig;

/* ---- data handed to the engine -------------------------------------------- */

typedef struct EngineNote {
    double start;            /* beats from the clip's start */
    double length;           /* beats, > 0 */
    int32_t key;             /* MIDI key 0..127 */
    float vel;               /* 0..1 */
} EngineNote;

typedef struct EngineClip {
    int32_t n_notes;
    int32_t capacity;        /* notes allocated; n_notes may be lowered */
    EngineNote notes[];      /* sorted by start */
} EngineClip;

typedef struct EngineSample {
    int32_t channels;        /* 1: feeds both sides; 2+: the first two */
    int32_t pad;
    int64_t frames;
    float *data[ENGINE_MAX_CHANNELS]; /* data[c][i], at the engine's sample rate */
} EngineSample;

typedef struct EnginePoint {
    double time;             /* beats or playhead samples, per the lane's unit; non-decreasing */
    float value;             /* in the param's unit */
    float pad;
} EnginePoint;

typedef struct EngineLane {
    int32_t n_points;
    int32_t unit;            /* EngineTimeUnit */
    EnginePoint points[];
} EngineLane;

typedef struct EngineNode EngineNode;   /* a patch instance: descriptor + state */

/* ---- events: engine -> control ---------------------------------------------- */

typedef enum {
    ENGINE_EV_NONE = 0,
    ENGINE_EV_NODE_RELEASED = 1,     /* ptr: EngineNode* (engine_node_free) */
    ENGINE_EV_CLIP_RELEASED = 2,     /* ptr: EngineClip* */
    ENGINE_EV_SAMPLE_RELEASED = 3,   /* ptr: EngineSample* */
    ENGINE_EV_LANE_RELEASED = 4,     /* ptr: EngineLane* */
    ENGINE_EV_NODE_FAULT = 5,        /* track, slot: output NaN/Inf or past the ceiling (code: ENGINE_FAULT_*); muted and reset */
    ENGINE_EV_REFUSED = 6,           /* track, code: a command that could not apply (its CMD_* type) */
    ENGINE_EV_MASTER_LIMIT = 7       /* track, slot: the last fault (-1 none); code: samples clipped */
} EngineEventKind;

/* ENGINE_EV_NODE_FAULT's code: what its first bad sample was. */
typedef enum { ENGINE_FAULT_NONFINITE = 1, ENGINE_FAULT_CEILING = 2 } EngineFaultKind;

/* One record of the event ring: struct EngineEvent, 40 bytes on every
 * target (time, kind, track, slot, code, ptr, pad), laid out in
 * runtime/engine/layout.def; in wasm32 ptr is a 4-byte address in an 8-byte
 * field. */

/* ---- the state region: engine -> anyone ---------------------------------- */
/*
 * One plain struct with a fixed layout, struct EngineState (the
 * transport, the master meter, counters, then one EngineTrackState per
 * track id), defined with every offset in runtime/engine/layout.def, which pins
 * them with static asserts on every target and gives the same offsets to
 * JavaScript ($(B)/gen/web/layout.ts).
 * Every field is 4 or 8 bytes at its natural alignment, little-endian in
 * WebAssembly. The audio thread writes it at the end of every render call
 * as a seqlock: `seq` becomes odd, the fields are stored, `seq` becomes
 * even again. A reader copies the fields and keeps the copy when `seq` was
 * the same even number before and after (engine_state_read does this; a
 * JavaScript reader does the same with Atomics.load on every 32-bit word,
 * seq first and last). Meters are linear; times in samples; cpu_ns per
 * slot over the last render call. Version 2 of the region added the
 * playhead's bar and beat into it under the signature map (bar, bar_beat,
 * and sig_num / sig_den now the signature in force there) and sticky clip
 * counters: samples past full scale (|x| > 1) after each track's fader
 * (EngineTrackState.clips) and at the master's output (master_clips),
 * counted since the track was added (or engine_init); a held clip
 * indicator shows while a counter differs from the value its reader last
 * acknowledged, so nothing needs resetting in the engine. Version 3 put
 * master_limited (the safety limit's count, Faults above) where version 2
 * had a reserved 0; a reader of version 2 refuses a version-3 region by
 * its version word, as any other mismatch.
 */
enum {
    ENGINE_TRACK_FLAG_MUTED = 1,     /* muted by its own mute */
    ENGINE_TRACK_FLAG_SOLOED = 2,
    ENGINE_TRACK_FLAG_HEARD = 4      /* not muted and not silenced by another's solo */
};

/* ---- life cycle (control) --------------------------------------------------- */

/* Sensible sizes for `sample_rate`: 64 tracks, 8 inserts, 64 MB of patch
 * states, 16 MB of clips, 256 MB of samples, ...; the monotonic clock
 * natively, none under emscripten. */
void engine_config_default(EngineConfig *cfg, float sample_rate);

/* Allocate everything and start stopped at beat 0, 120 bpm, 4/4, master 0
 * dB, no tracks. NULL with a message on bad sizes or no memory. */
Engine *engine_init(const EngineConfig *cfg, char *err, size_t errlen);
/* Frees the engine and everything in its pools. */
void engine_free(Engine *e);

const EngineConfig *engine_config(const Engine *e);
/* Commands that fit in the queue (queue_size rounded up to a power of 2). */
int engine_queue_capacity(const Engine *e);
/* Engine time: samples rendered so far. */
int64_t engine_now(const Engine *e);

/* The native monotonic clock in nanoseconds (clock_gettime); absent under
 * emscripten, where the host supplies its own or none. */
uint64_t engine_clock_monotonic(void *user);

/* ---- pools (control) ---------------------------------------------------------- */

/* A patch instance: the state from the state pool, init(sample_rate), its
 * voice table ready. NULL (message in err, refusal counted) when the node
 * or state pool is full or the descriptor is unusable. */
EngineNode *engine_node_new(Engine *e, const AmpPatchDesc *desc, char *err, size_t errlen);
void engine_node_free(Engine *e, EngineNode *node);
const AmpPatchDesc *engine_node_desc(const EngineNode *node);
void *engine_node_state(EngineNode *node);
int engine_node_param_index(const EngineNode *node, const char *name);
/* Before the node is handed in: set a param, then settle (reset) so the
 * render starts at the values set rather than gliding to them. */
void engine_node_set_param(EngineNode *node, int index, float value);
void engine_node_settle(EngineNode *node);

/* Buffers from the clip / sample / lane pools, zeroed; NULL when full
 * (counted). A sample's channels are allocated one after another. */
EngineClip *engine_clip_new(Engine *e, int n_notes);
EngineSample *engine_sample_new(Engine *e, int channels, int64_t frames);
EngineLane *engine_lane_new(Engine *e, int n_points);
void engine_clip_free(Engine *e, EngineClip *clip);
void engine_sample_free(Engine *e, EngineSample *sample);
void engine_lane_free(Engine *e, EngineLane *lane);

/* Read the next event: 1 and *ev filled, or 0 when there is none. */
int engine_poll(Engine *e, EngineEvent *ev);
/* Free what a *_RELEASED event hands back; other events: nothing. */
void engine_release(Engine *e, const EngineEvent *ev);
/* engine_poll + engine_release until the ring is empty; returns the number
 * of events read. Faults and refusals are counted into *faults / *refusals
 * when those are not NULL. */
int engine_drain(Engine *e, int *faults, int *refusals);
/* The event ring (runtime/engine/ring.h layout, records of sizeof(EngineEvent)),
 * for a consumer that reads it directly. */
void *engine_event_ring(Engine *e);

/* ---- commands (control): queued, applied at `time` --------------------------- */
/*
 * Each call builds one record of runtime/engine/commands.def (an engine command
 * where the engine's own slots, beats or pointers are named: seek_beat,
 * set_instrument_node, place_clip, ...) and queues it; a pointer rides in
 * a parcel (a word of the engine's parcel table) that the command names.
 * Each returns 0 when queued, -1 when refused at the call (queue full, or
 * an argument out of range: a track id >= max_tracks, a NULL where a buffer
 * is needed, ...), counted in commands_refused; on -1 the caller keeps any
 * buffer it passed. A queued command that cannot apply when its time comes
 * (no such track, wrong kind, slot full) is dropped with ENGINE_EV_REFUSED
 * (code: the record's CMD_* type) and any buffer it carried is handed back.
 */

/* Queue a record as it is (a command the UI sent through the ring that
 * needs no mapping; engine_commands.c). Its fields are the ring's: the
 * record must have passed cmd_decode. 0, or -1 when the queue is full. */
int engine_queue_command(Engine *e, const Command *c);

/* transport */
int engine_play(Engine *e, int64_t time);
int engine_stop(Engine *e, int64_t time);
int engine_seek(Engine *e, int64_t time, double beat);
int engine_set_loop(Engine *e, int64_t time, int enabled, double start_beat, double end_beat);
/* Tempo from `time` on; clears the tempo changes of the map. */
int engine_set_tempo(Engine *e, int64_t time, double bpm);
/* Add a tempo change to the map: from `beat` on, `bpm`. */
int engine_add_tempo_change(Engine *e, int64_t time, double beat, double bpm);
/* The signature from beat 0; clears the signature changes. */
int engine_set_time_signature(Engine *e, int64_t time, int numerator, int denominator);
/* Add a signature change to the map: from `beat` on (a bar line of the
 * signature before it, for bars to make sense), numerator/denominator. */
int engine_add_time_signature_change(Engine *e, int64_t time, double beat, int numerator, int denominator);
/* The metronome on or off, and its level (-150..24 dB). */
int engine_set_metronome(Engine *e, int64_t time, int enabled, float gain_db);

/* live notes (note_id 0..ENGINE_LIVE_NOTE_MAX, the caller's) */
int engine_note_on(Engine *e, int64_t time, int track, int note_id, int key, float vel);
int engine_note_off(Engine *e, int64_t time, int track, int note_id);
/* Release every note of the track (ENGINE_MASTER: of every track). */
int engine_all_notes_off(Engine *e, int64_t time, int track);

/* params: slot 0 the instrument, slot k >= 1 insert k-1; value in the param's unit */
int engine_set_param(Engine *e, int64_t time, int track, int slot, int param, float value);

/* graph */
int engine_add_track(Engine *e, int64_t time, int track, EngineTrackKind kind);
/* The track's place in the mixer order (0..CMD_POSITION_LIMIT; see Mixer). */
int engine_set_track_position(Engine *e, int64_t time, int track, int position);
/* Hands back its nodes, lanes; sends to it from other tracks are cleared. */
int engine_remove_track(Engine *e, int64_t time, int track);
/* The instrument of an instrument track (NULL removes); the old one is handed back. */
int engine_set_instrument(Engine *e, int64_t time, int track, EngineNode *node);
/* Insert at `position` (0 = first; > count: appended). */
int engine_insert_add(Engine *e, int64_t time, int track, int position, EngineNode *node);
int engine_insert_remove(Engine *e, int64_t time, int track, int position);
/* Hot swap (commands.def swap_patch): `node` takes the place of slot's node
 * (0 the instrument, k the insert at position k, from 1), carrying params,
 * voices and the state whose name and shape match (patch_swap.h); when
 * anything cannot carry, the old node plays on, crossfaded out over
 * patch_swap_fade_frames(), then is handed back. `node` should be settled
 * (fresh from init at the engine's rate, as engine_commands' stocks are). */
int engine_swap_node(Engine *e, int64_t time, int track, int slot, EngineNode *node);
int engine_insert_move(Engine *e, int64_t time, int track, int from, int to);
/* glide_seconds (0..10): in legato mode, a change of key glides the pitch
 * there, exponentially in log frequency with this time constant, moved at
 * every control tick (0: at once). */
int engine_set_voice_mode(Engine *e, int64_t time, int track, EngineVoiceMode mode,
                          EnginePriority priority, float glide_seconds);

/* mixer (track ENGINE_MASTER: the master, gain only) */
int engine_set_gain(Engine *e, int64_t time, int track, float gain_db);
int engine_set_pan(Engine *e, int64_t time, int track, float pan);
int engine_set_mute(Engine *e, int64_t time, int track, int mute);
int engine_set_solo(Engine *e, int64_t time, int track, int solo);
/* Send slot `send` of `track` to bus track `bus` at level_db; bus -1 clears it. */
int engine_set_send(Engine *e, int64_t time, int track, int send, int bus, float level_db);

/* arrangement data; the buffer passes to the engine (NULL: clear the id) */
int engine_load_clip(Engine *e, int64_t time, int clip_id, EngineClip *clip);
/* Placement `slot` of the track plays clip `clip_id` (-1: clear) from
 * start_beat for length_beats (notes past the length are not played, notes
 * crossing it are cut there). */
int engine_place_clip(Engine *e, int64_t time, int track, int slot, int clip_id,
                      double start_beat, double length_beats);
/* The same with a loop of loop_beats (0: none, else at least
 * ENGINE_LOOP_MIN): see Time. */
int engine_place_clip_looped(Engine *e, int64_t time, int track, int slot, int clip_id,
                             double start_beat, double length_beats, double loop_beats);
int engine_load_sample(Engine *e, int64_t time, int sample_id, EngineSample *sample);
/* Sample slot `slot` (0..ENGINE_SAMPLE_SLOTS-1, the index in the patch's
 * sample_names) of the track's instrument reads sample `sample_id` (-1:
 * nothing) from `time` on: before each process() call the engine writes
 * the slot's AmpSample from the sample under that id now (so a sample
 * loaded later, or replaced, is read as it is; a new instrument too). */
int engine_bind_sample(Engine *e, int64_t time, int track, int slot, int sample_id);
/* Region `slot` of an audio track plays sample `sample_id` (-1: clear) from
 * start_beat: frames offset .. offset + length - 1 (length <= 0: to the
 * end), times gain_db. */
int engine_place_region(Engine *e, int64_t time, int track, int slot, int sample_id,
                        double start_beat, int64_t offset_frames, int64_t length_frames,
                        float gain_db);
/* Lane `lane_slot` of the track drives param `param` of slot `target_slot`
 * (NULL: clear the lane); with target_slot ENGINE_LANE_FADER it drives the
 * track's fader: param ENGINE_FADER_GAIN (dB, -150..24) or ENGINE_FADER_PAN
 * (-1..1), ramped as a gain or pan command is. */
enum { ENGINE_LANE_FADER = -1, ENGINE_FADER_GAIN = 0, ENGINE_FADER_PAN = 1 };
int engine_set_lane(Engine *e, int64_t time, int track, int lane_slot, int target_slot,
                    int param, EngineLane *lane);

/* ---- render (audio) ------------------------------------------------------------- */

/* Render `frames` samples (any number >= 0) into out[0] (left) and out[1]
 * (right), applying every command due before each sample; then publish the
 * state region. Real-time safe. */
void engine_render(Engine *e, float *const out[2], int frames);

/* ---- state (any thread) ------------------------------------------------------- */

/* The shared state region the engine publishes into. */
const EngineState *engine_state(const Engine *e);
/* A consistent copy of `shared` (seqlock read; retries while it is being
 * written). */
void engine_state_read(const EngineState *shared, EngineState *copy);

#endif
