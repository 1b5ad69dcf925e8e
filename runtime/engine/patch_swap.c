/* patch_swap.c — state carried across a hot swap, and the crossfade for
 * what cannot carry; see patch_swap.h. Runs on the audio thread. */
#include "patch_swap.h"

#include <string.h>

static const AmpStateEntry *find_entry(const AmpPatchDesc *d, const char *name)
{
    for (int i = 0; i < d->n_state; i++)
        if (!strcmp(d->state_map[i].name, name))
            return &d->state_map[i];
    return NULL;
}

static int same_shape(const AmpStateEntry *a, const AmpStateEntry *b)
{
    return a->kind == b->kind && a->lanes == b->lanes && a->slots == b->slots && a->len == b->len &&
           a->size == b->size && a->kind != AMP_STATE_OPAQUE;
}

static void carry_params(const AmpPatchDesc *from, const void *from_state, const AmpPatchDesc *to, void *to_state)
{
    for (int j = 0; j < to->n_params; j++)
        for (int i = 0; i < from->n_params; i++)
            if (from->params[i].name && to->params[j].name && !strcmp(from->params[i].name, to->params[j].name)) {
                to->set_param(to_state, j, from->get_param(from_state, i));
                break;
            }
}

/* The voice table; 1 when every live voice has a slot in `to`. */
static int carry_voices(const AmpPatchDesc *from, const void *from_state, const AmpPatchDesc *to, void *to_state)
{
    AmpVoiceTable *vt = to->voices(to_state);
    const AmpVoiceTable *old = from->voices((void *)from_state);
    int max_voices = vt->max_voices, steal = vt->steal;
    float rate = vt->sample_rate;
    memcpy(vt, old, sizeof *vt);
    vt->max_voices = max_voices;
    vt->steal = steal;
    vt->sample_rate = rate;
    int room = max_voices + AMP_FADE_SLOTS;
    if (vt->live <= room)
        return 1;
    for (int v = room; v < vt->live; v++) {
        vt->note_id[v] = -1;
        vt->gain[v] = 0.0f;
        vt->gate[v] = 0.0f;
    }
    vt->live = room;
    return 0;
}

int patch_swap_carry(const AmpPatchDesc *from, const void *from_state, const AmpPatchDesc *to, void *to_state)
{
    int all = 1;
    carry_params(from, from_state, to, to_state);
    int from_poly = from->max_voices > 0 && from->voices, to_poly = to->max_voices > 0 && to->voices;
    if (from_poly && to_poly)
        all &= carry_voices(from, from_state, to, to_state);
    else if (from_poly != to_poly)
        all = 0;
    for (int j = 0; j < to->n_state; j++) {
        const AmpStateEntry *e = &to->state_map[j];
        const AmpStateEntry *o = find_entry(from, e->name);
        if (!o || !same_shape(o, e)) {
            all = 0;
            continue;
        }
        memcpy((unsigned char *)to_state + e->offset, (const unsigned char *)from_state + o->offset, e->size);
    }
    for (int i = 0; i < from->n_state && all; i++) {
        const AmpStateEntry *e = find_entry(to, from->state_map[i].name);
        all = e && same_shape(e, &from->state_map[i]);
    }
    return all;
}

int patch_swap_fade_frames(float sample_rate)
{
    int n = (int)(sample_rate * PATCH_SWAP_FADE_SECONDS);
    return n < 1 ? 1 : n;
}

void patch_swap_mix(float *const *out, const float *const *old, int channels, int n, int done, int total)
{
    float inv = 1.0f / (float)total;
    for (int c = 0; c < channels; c++)
        for (int i = 0; i < n; i++) {
            int k = done + i + 1;
            float w = k >= total ? 1.0f : (float)k * inv;
            out[c][i] = old[c][i] + (out[c][i] - old[c][i]) * w;
        }
}
