/* voice.c — the voice allocator; see voice.h for the slot states and the
 * threading contract (audio thread only, no allocation, O(live)). */
#include "voice.h"

#include <math.h>

static int is_fading(const AmpVoiceTable *vt, int slot)
{
    return vt->gain_step[slot] > 0.0f;
}

/* The slot's table entries to "free": silent lane, no note. */
static void clear_slot(AmpVoiceTable *vt, int slot)
{
    vt->freq[slot] = 0.0f;
    vt->gate[slot] = 0.0f;
    vt->vel[slot] = 0.0f;
    vt->key[slot] = 0.0f;
    vt->gain[slot] = 0.0f;
    vt->gain_step[slot] = 0.0f;
    vt->level[slot] = 0.0f;
    vt->note_id[slot] = -1;
    vt->started[slot] = 0;
    vt->silent[slot] = 0;
}

static void copy_slot(AmpVoiceTable *vt, int to, int from)
{
    vt->freq[to] = vt->freq[from];
    vt->gate[to] = vt->gate[from];
    vt->vel[to] = vt->vel[from];
    vt->key[to] = vt->key[from];
    vt->gain[to] = vt->gain[from];
    vt->gain_step[to] = vt->gain_step[from];
    vt->level[to] = vt->level[from];
    vt->note_id[to] = vt->note_id[from];
    vt->started[to] = vt->started[from];
    vt->silent[to] = vt->silent[from];
}

float voice_key_to_freq(int key)
{
    return (float)(440.0 * pow(2.0, (key - 69) / 12.0));
}

void voice_table_init(AmpVoiceTable *vt, int max_voices, int steal, float sample_rate)
{
    if (max_voices < 1)
        max_voices = 1;
    if (max_voices > AMP_MAX_VOICES)
        max_voices = AMP_MAX_VOICES;
    if (steal != AMP_STEAL_OLDEST && steal != AMP_STEAL_QUIETEST && steal != AMP_STEAL_NONE)
        steal = AMP_STEAL_OLDEST;
    for (int i = 0; i < AMP_VOICE_SLOTS; i++)
        clear_slot(vt, i);
    vt->live = 0;
    vt->max_voices = max_voices;
    vt->steal = steal;
    vt->sequence = 0;
    vt->sample_rate = sample_rate > 0.0f ? sample_rate : 48000.0f;
}

/* The playing voice to steal: the oldest, or the quietest (ties: oldest). */
static int pick_victim(const AmpVoiceTable *vt)
{
    int best = -1;
    for (int i = 0; i < vt->live; i++) {
        if (is_fading(vt, i))
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        if (vt->steal == AMP_STEAL_QUIETEST) {
            if (vt->level[i] < vt->level[best])
                best = i;
            else if (vt->level[i] == vt->level[best] && vt->started[i] < vt->started[best])
                best = i;
        } else if (vt->started[i] < vt->started[best]) {
            best = i;
        }
    }
    return best;
}

/* The fading voice closest to silence (ties: oldest), to cut when every
 * fade slot is taken. */
static int quietest_fading(const AmpVoiceTable *vt)
{
    int best = -1;
    for (int i = 0; i < vt->live; i++) {
        if (!is_fading(vt, i))
            continue;
        if (best < 0 || vt->gain[i] < vt->gain[best] ||
            (vt->gain[i] == vt->gain[best] && vt->started[i] < vt->started[best]))
            best = i;
    }
    return best;
}

/* Stolen: the voice keeps its slot and ramps its gain to 0, so the cut
 * does not click; voice_collect frees the slot once the gain is 0. */
static void start_fade(AmpVoiceTable *vt, int slot)
{
    vt->gate[slot] = 0.0f;
    vt->note_id[slot] = -1;
    vt->gain_step[slot] = (float)(1.0 / (VOICE_FADE_SECONDS * vt->sample_rate));
    vt->silent[slot] = 0;
}

static void start_note(const AmpPatchDesc *d, void *state, AmpVoiceTable *vt, int slot,
                       int note_id, int key, float vel)
{
    d->voice_reset(state, slot);
    vt->freq[slot] = voice_key_to_freq(key);
    vt->gate[slot] = 1.0f;
    vt->vel[slot] = vel;
    vt->key[slot] = (float)key;
    vt->gain[slot] = 1.0f;
    vt->gain_step[slot] = 0.0f;
    /* Not heard yet: count it as full scale so that "quietest" does not
     * steal a note before its first sample. process() overwrites it. */
    vt->level[slot] = 1.0f;
    vt->note_id[slot] = note_id;
    vt->started[slot] = vt->sequence++;
    vt->silent[slot] = 0;
}

int voice_note_on(const AmpPatchDesc *d, void *state, int note_id, int key, float vel)
{
    if (!d->voices || note_id < 0)
        return -1;
    AmpVoiceTable *vt = d->voices(state);
    if (!(vel >= 0.0f))            /* also catches NaN */
        vel = 0.0f;
    if (vel > 1.0f)
        vel = 1.0f;

    int playing = 0, fading = 0;
    for (int i = 0; i < vt->live; i++) {
        if (is_fading(vt, i))
            fading++;
        else
            playing++;
    }
    if (playing >= vt->max_voices) {
        if (vt->steal == AMP_STEAL_NONE)
            return -1;
        int victim = pick_victim(vt);
        if (victim < 0)
            return -1;
        start_fade(vt, victim);
        fading++;
    }

    int slot;
    if (fading <= AMP_FADE_SLOTS && vt->live < vt->max_voices + AMP_FADE_SLOTS) {
        slot = vt->live++;
    } else {
        /* Every fade slot is taken: cut the fade closest to silence and
         * reuse its slot. */
        slot = quietest_fading(vt);
        if (slot < 0)
            return -1;
    }
    start_note(d, state, vt, slot, note_id, key, vel);
    return slot;
}

int voice_note_off(const AmpPatchDesc *d, void *state, int note_id)
{
    if (!d->voices || note_id < 0)
        return 0;
    AmpVoiceTable *vt = d->voices(state);
    int released = 0;
    for (int i = 0; i < vt->live; i++) {
        if (vt->note_id[i] == note_id && vt->gate[i] != 0.0f) {
            vt->gate[i] = 0.0f;
            vt->silent[i] = 0;
            released++;
        }
    }
    return released;
}

/* Free `slot` and fill the hole with the last live slot. */
static void free_slot(const AmpPatchDesc *d, void *state, AmpVoiceTable *vt, int slot)
{
    int last = vt->live - 1;
    if (slot != last) {
        d->voice_move(state, slot, last);
        copy_slot(vt, slot, last);
    }
    clear_slot(vt, last);
    vt->live = last;
}

int voice_collect(const AmpPatchDesc *d, void *state, int samples_just_processed)
{
    if (!d->voices)
        return 0;
    AmpVoiceTable *vt = d->voices(state);
    uint32_t n = samples_just_processed > 0 ? (uint32_t)samples_just_processed : 0;
    uint32_t silent_needed = (uint32_t)ceil(VOICE_SILENT_SECONDS * vt->sample_rate);
    int freed = 0;
    int i = 0;
    while (i < vt->live) {
        int done;
        if (is_fading(vt, i)) {
            done = vt->gain[i] <= 0.0f;
        } else if (vt->gate[i] == 0.0f) {
            if (vt->level[i] < VOICE_SILENT_LEVEL)
                vt->silent[i] = vt->silent[i] > UINT32_MAX - n ? UINT32_MAX : vt->silent[i] + n;
            else
                vt->silent[i] = 0;
            done = vt->silent[i] >= silent_needed;
        } else {
            done = 0;
        }
        if (done) {
            /* The moved-in slot came from past i: it is examined next,
             * with the same samples counted once. */
            free_slot(d, state, vt, i);
            freed++;
        } else {
            i++;
        }
    }
    return freed;
}

void voice_all_off(const AmpPatchDesc *d, void *state)
{
    if (!d->voices)
        return;
    AmpVoiceTable *vt = d->voices(state);
    for (int i = 0; i < vt->live; i++) {
        if (vt->note_id[i] >= 0 && vt->gate[i] != 0.0f) {
            vt->gate[i] = 0.0f;
            vt->silent[i] = 0;
        }
    }
}

void voice_panic(const AmpPatchDesc *d, void *state)
{
    if (!d->voices)
        return;
    AmpVoiceTable *vt = d->voices(state);
    for (int i = 0; i < AMP_VOICE_SLOTS; i++)
        clear_slot(vt, i);
    vt->live = 0;
}

void voice_fade_all(const AmpPatchDesc *d, void *state)
{
    if (!d->voices)
        return;
    AmpVoiceTable *vt = d->voices(state);
    for (int i = 0; i < vt->live; i++)
        if (!is_fading(vt, i))
            start_fade(vt, i);
}

int voice_legato(const AmpPatchDesc *d, void *state, int from_id, int to_id, int key)
{
    if (!d->voices || from_id < 0 || to_id < 0)
        return -1;
    AmpVoiceTable *vt = d->voices(state);
    for (int i = 0; i < vt->live; i++) {
        if (vt->note_id[i] == from_id && vt->gate[i] != 0.0f) {
            vt->note_id[i] = to_id;
            vt->key[i] = (float)key;
            vt->freq[i] = voice_key_to_freq(key);
            return i;
        }
    }
    return -1;
}
