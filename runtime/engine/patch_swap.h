/* patch_swap.h — hot swap of a playing patch: what carries from the old
 * patch's state to the new one's, and the crossfade for what cannot.
 *
 * One C path for the engine (a track's instrument or insert, at a command's
 * sample: engine_apply.c, engine_render.c) and for `amp render --swap-at`
 * (runtime/tools/host.c), so that the reference and the engine agree bit
 * for bit.
 *
 * Threads: both functions run on the audio thread: no allocation, lock or
 * I/O; patch_swap_carry is O(entries^2) name compares plus a memcpy of the
 * state that matches.
 */
#ifndef AMP_PATCH_SWAP_H
#define AMP_PATCH_SWAP_H

#include "amp_patch.h"

#define PATCH_SWAP_FADE_SECONDS 0.01f   /* the crossfade, when one is needed: 10 ms */

/* Into `to_state` (the new patch, initialised at the old one's rate and
 * not yet run) from `from_state` (the old patch, playing):
 *   - params by name: to's param gets from's value (set_param, clamped to
 *     to's range);
 *   - the voice table (polyphonic to polyphonic): which notes sound in
 *     which slots, gates, gains; to keeps its own max_voices and steal;
 *   - every state map entry of `to` whose name, kind, lanes, slots, len
 *     and size equal one of `from`'s: its bytes.
 * Returns 1 when everything carried (every entry of each map matched one
 * of the other's, no opaque state, both polyphonic or neither, and the
 * voices fit): the new patch goes on where the old one stopped, no
 * crossfade. Returns 0 when something could not carry: the caller
 * crossfades from the old patch's output to the new one's over
 * patch_swap_fade_frames(). */
int patch_swap_carry(const AmpPatchDesc *from, const void *from_state, const AmpPatchDesc *to, void *to_state);

/* The crossfade's length in samples at a rate (at most 20 ms, at least 1). */
int patch_swap_fade_frames(float sample_rate);

/* The crossfade over n samples, `done` of `total` already made: for each
 * channel c < channels, out[c][i] = old[c][i] + (out[c][i] - old[c][i]) * w
 * with w = (done + i + 1) / total (1 from the last sample on). */
void patch_swap_mix(float *const *out, const float *const *old, int channels, int n, int done, int total);

#endif
