/* voice.h — the voice allocator: which note sounds in which slot of a
 * polyphonic patch.
 *
 * A polyphonic patch keeps an AmpVoiceTable in its state (amp_patch.h); the
 * functions here write it and call the patch's voice_reset / voice_move.
 * Live slots stay packed in 0..live-1 so that process() runs only
 * ceil(live/4) groups of four lanes; every slot at or past `live` is free
 * and has gain 0, so the unused lanes of the last group are silent.
 *
 * A slot is in one of three states:
 *   playing  note_id >= 0, gain_step == 0; gate 1 while held, 0 once released
 *            (a released voice keeps sounding until it is silent);
 *   fading   stolen: note_id -1, gate 0, gain_step > 0; its gain ramps from
 *            1 to 0 over VOICE_FADE_SECONDS, then the slot is freed;
 *   free     at or past `live`: note_id -1, gain 0.
 * At most max_voices slots are playing and at most AMP_FADE_SLOTS are
 * fading, so live <= max_voices + AMP_FADE_SLOTS <= AMP_VOICE_SLOTS.
 *
 * Threading contract: audio thread only (the thread that calls process()).
 * Nothing here allocates, locks or does I/O; every call is O(live).
 */
#ifndef AMP_VOICE_H
#define AMP_VOICE_H

#include "amp_patch.h"

#define VOICE_FADE_SECONDS    0.003   /* a stolen voice fades out over 3 ms */
#define VOICE_SILENT_LEVEL    1e-5f   /* -100 dB: below this a released voice is silent */
#define VOICE_SILENT_SECONDS  0.010   /* ... and ends after this long below it */

/* All slots free. max_voices is clamped to [1, AMP_MAX_VOICES], steal to a
 * known AMP_STEAL_* (unknown: oldest). Call after the patch's init() and
 * reset(), which leave the table to the runtime. */
void voice_table_init(AmpVoiceTable *vt, int max_voices, int steal, float sample_rate);

/* Start note `note_id` (the caller's id, >= 0) on MIDI key `key` with
 * velocity `vel` (clamped to [0, 1]). Returns the slot the note plays in,
 * or -1 if it was refused (steal mode none with every voice playing). When
 * every voice plays, one is stolen (oldest / quietest): it keeps its slot
 * and fades out while the new note starts at once in another slot. */
int voice_note_on(const AmpPatchDesc *d, void *state, int note_id, int key, float vel);

/* Release the note `note_id` (gate 0) in every slot that plays it. Returns
 * the number of slots released (0 if the note was stolen or never started). */
int voice_note_off(const AmpPatchDesc *d, void *state, int note_id);

/* Call after every process() call with the number of samples it rendered:
 * frees released voices that stayed below VOICE_SILENT_LEVEL for
 * VOICE_SILENT_SECONDS and fading voices whose gain reached 0, and packs the
 * survivors (the last live slot moves into each hole). Returns the number of
 * slots freed. */
int voice_collect(const AmpPatchDesc *d, void *state, int samples_just_processed);

/* Release every playing note (all keys up). */
void voice_all_off(const AmpPatchDesc *d, void *state);

/* Cut every voice at once (no fade): all slots free. */
void voice_panic(const AmpPatchDesc *d, void *state);

/* Every voice that is not already fading (held or released) fades out
 * over VOICE_FADE_SECONDS, as if stolen: a cut without a click. This may
 * leave more than AMP_FADE_SLOTS voices fading; until they end, a note-on
 * that finds every fade slot taken reuses the slot of the quietest fading
 * voice (live never exceeds max_voices + AMP_FADE_SLOTS). */
void voice_fade_all(const AmpPatchDesc *d, void *state);

/* Legato: the voice playing note `from_id` goes on as note `to_id` on MIDI
 * key `key`: its key and frequency change, gate, velocity and the patch's
 * per-voice state (envelopes, phases) do not; voice_reset is not called.
 * Returns the slot, or -1 (nothing changed) when no held voice plays
 * `from_id`. */
int voice_legato(const AmpPatchDesc *d, void *state, int from_id, int to_id, int key);

/* MIDI key -> frequency in Hz, A4 (key 69) = 440 Hz, computed in double. */
float voice_key_to_freq(int key);

#endif
