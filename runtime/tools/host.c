/* host.c — the sample-accurate render loop around one patch, driven by
 * commands.def records; see host.h. */
#include "util.h"
#include "host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notes.h"
#include "patch_swap.h"
#include "voice.h"

#define STATE_ALIGN 64   /* >= AMP_STATE_ALIGN; a cache line */

static int is_poly(const AmpPatchDesc *d)
{
    return d->max_voices > 0;
}

int host_init(HostPatch *hp, const AmpPatchDesc *desc, float sample_rate, char *err, size_t errlen)
{
    memset(hp, 0, sizeof *hp);
    if (check_patch_desc(desc, HOST_MAX_CHANNELS, err, errlen))
        return -1;
    if (host_check_rate(sample_rate, err, errlen))
        return -1;
    size_t size = (desc->state_size + STATE_ALIGN - 1) / STATE_ALIGN * STATE_ALIGN;
    hp->state = aligned_alloc(STATE_ALIGN, size);
    hp->silence = calloc(HOST_BLOCK, sizeof(float));
    if (!hp->state || !hp->silence) {
        host_free(hp);
        return fail(err, errlen, "out of memory for a %zu-byte patch state", desc->state_size);
    }
    memset(hp->state, 0, size);
    hp->desc = desc;
    hp->sample_rate = sample_rate;
    desc->init(hp->state, sample_rate);
    if (is_poly(desc))
        voice_table_init(desc->voices(hp->state), desc->max_voices, desc->steal, sample_rate);
    return 0;
}

static void *new_state(const AmpPatchDesc *desc)
{
    size_t size = (desc->state_size + STATE_ALIGN - 1) / STATE_ALIGN * STATE_ALIGN;
    void *s = aligned_alloc(STATE_ALIGN, size);
    if (s)
        memset(s, 0, size);
    return s;
}

int host_prepare_swap(HostPatch *hp, const AmpPatchDesc *desc, char *err, size_t errlen)
{
    if (check_patch_desc(desc, HOST_MAX_CHANNELS, err, errlen))
        return -1;
    if (desc->n_outputs != hp->desc->n_outputs)
        return fail(err, errlen, "patch '%s' has %d outputs, '%s' %d: a swap keeps the outputs", desc->name,
                    desc->n_outputs, hp->desc->name, hp->desc->n_outputs);
    free(hp->next_state);
    hp->next_state = new_state(desc);
    for (int c = 0; c < HOST_MAX_CHANNELS && c < hp->desc->n_outputs; c++)
        if (!hp->fade_buf[c])
            hp->fade_buf[c] = calloc(HOST_BLOCK, sizeof(float));
    if (!hp->next_state)
        return fail(err, errlen, "out of memory for a %zu-byte patch state", desc->state_size);
    hp->next_desc = desc;
    desc->init(hp->next_state, hp->sample_rate);
    if (is_poly(desc))
        voice_table_init(desc->voices(hp->next_state), desc->max_voices, desc->steal, hp->sample_rate);
    return 0;
}

Command host_swap(long frame)
{
    return cmd_record(CMD_SWAP_PATCH, frame);
}

/* The swap record: the prepared patch takes over (patch_swap_carry). The
 * old state is kept (freed by host_free), no allocation here. */
static void swap_now(HostPatch *hp)
{
    if (!hp->next_desc)
        return;
    int all = patch_swap_carry(hp->desc, hp->state, hp->next_desc, hp->next_state);
    void *spare = hp->fade_state;
    hp->fade_desc = hp->desc;
    hp->fade_state = hp->state;
    hp->desc = hp->next_desc;
    hp->state = hp->next_state;
    hp->next_desc = NULL;
    hp->next_state = spare;   /* freed by host_free */
    hp->fade_done = 0;
    hp->fade_total = all ? 0 : patch_swap_fade_frames(hp->sample_rate);
    hp->swaps++;
    hp->swaps_carried += all;
}

void host_free(HostPatch *hp)
{
    free(hp->next_state);
    free(hp->fade_state);
    for (int c = 0; c < HOST_MAX_CHANNELS; c++)
        free(hp->fade_buf[c]);
    free(hp->state);
    free(hp->silence);
    memset(hp, 0, sizeof *hp);
}

void host_reset(HostPatch *hp)
{
    hp->fault.found = 0;
    hp->frames_done = 0;
    const AmpPatchDesc *d = hp->desc;
    d->reset(hp->state);
    if (is_poly(d))
        voice_table_init(d->voices(hp->state), d->max_voices, d->steal, hp->sample_rate);
}

int host_param_index(const HostPatch *hp, const char *name)
{
    for (int i = 0; i < hp->desc->n_params; i++)
        if (hp->desc->params[i].name && !strcmp(hp->desc->params[i].name, name))
            return i;
    return -1;
}


int host_set_param_checked(HostPatch *hp, int index, double value, const char *at, char *err, size_t errlen)
{
    const AmpPatchDesc *d = hp->desc;
    const AmpParamDesc *pd = &d->params[index];
    if (!(value >= pd->lo && value <= pd->hi))
        return fail(err, errlen, "%s: %g is outside the range of '%s' in patch '%s' [%g, %g]", at, value, pd->name,
                    d->name, (double)pd->lo, (double)pd->hi);
    d->set_param(hp->state, index, (float)value);
    return 0;
}

int host_check_rate(double sample_rate, char *err, size_t errlen)
{
    if (sample_rate >= AMP_MIN_SAMPLE_RATE && sample_rate <= AMP_MAX_SAMPLE_RATE)
        return 0;
    return fail(err, errlen, "sample rate %g Hz is not supported (%d to %d Hz)", sample_rate,
                AMP_MIN_SAMPLE_RATE, AMP_MAX_SAMPLE_RATE);
}

int host_fault_text(const HostPatch *hp, char *err, size_t errlen)
{
    const HostFault *f = &hp->fault;
    if (!f->found)
        return 0;
    char voice[64] = "";
    if (f->slot >= 0)
        snprintf(voice, sizeof voice, ", voice in slot %d (key %d)", f->slot, f->key);
    return fail(err, errlen, "patch '%s' wrote %s on output %d at sample %ld (%.4f s)%s", hp->desc->name,
                f->value != f->value ? "NaN" : f->value > 0 ? "+inf" : "-inf", f->channel, f->frame,
                (double)f->frame / hp->sample_rate, voice);
}

Command host_note_on(long frame, int note_id, int key, float vel)
{
    Command c = cmd_record(CMD_NOTE_ON, frame);
    c.note_on.note_id = (uint32_t)note_id;
    c.note_on.key = (uint8_t)key;
    c.note_on.velocity = vel;
    return c;
}

Command host_note_off(long frame, int note_id)
{
    Command c = cmd_record(CMD_NOTE_OFF, frame);
    c.note_off.note_id = (uint32_t)note_id;
    return c;
}

Command host_param(long frame, int param, float value)
{
    Command c = cmd_record(CMD_SET_PARAM, frame);
    c.set_param.param = (uint32_t)param;
    c.set_param.value = value;
    return c;
}

Command host_all_off(long frame)
{
    return cmd_record(CMD_ALL_NOTES_OFF, frame);
}

Command host_panic(long frame)
{
    return cmd_record(CMD_PANIC, frame);
}

static void apply_command(HostPatch *hp, const Command *c)
{
    const AmpPatchDesc *d = hp->desc;
    switch ((CmdType)c->header.type) {
    case CMD_NOTE_ON:
        if (!is_poly(d) ||
            voice_note_on(d, hp->state, (int)c->note_on.note_id, c->note_on.key, c->note_on.velocity) < 0)
            hp->notes_refused++;
        break;
    case CMD_NOTE_OFF:
        if (is_poly(d))
            voice_note_off(d, hp->state, (int)c->note_off.note_id);
        break;
    case CMD_SET_PARAM:
        if (c->set_param.param < (uint32_t)d->n_params)
            d->set_param(hp->state, (int)c->set_param.param, c->set_param.value);
        break;
    case CMD_ALL_NOTES_OFF:
        if (is_poly(d))
            voice_all_off(d, hp->state);
        break;
    case CMD_PANIC:
        if (is_poly(d))
            voice_panic(d, hp->state);
        break;
    case CMD_SWAP_PATCH:
        swap_now(hp);
        break;
    default:
        break;
    }
}

/* Record the first non-finite sample of a process() call (x - x is 0
 * for every finite x, NaN for NaN and the infinities), and the voice
 * whose level it made non-finite. */
static int any_nonfinite(const float *x, int n)
{
    /* NaN and +-Inf have all exponent bits set: adding 1 to the exponent
     * carries into the sign bit for them alone. An or over the block
     * that gcc and clang vectorise (the scan below, one sample and every
     * channel at a time, cost about as much as a small filter), run first
     * so that the scan runs only on a block that has a fault. */
    uint32_t bad = 0;
    for (int i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        bad |= (bits & 0x7f800000u) + 0x00800000u;
    }
    return (int)(bad >> 31);
}

static void find_fault(HostPatch *hp, float *const *outs, int n)
{
    const AmpPatchDesc *d = hp->desc;
    int any = 0;
    for (int c = 0; c < d->n_outputs; c++)
        any |= any_nonfinite(outs[c], n);
    if (!any)
        return;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < d->n_outputs; c++) {
            float x = outs[c][i];
            if (x - x == 0.0f)
                continue;
            HostFault *f = &hp->fault;
            f->found = 1;
            f->frame = hp->frames_done + i;
            f->channel = c;
            f->value = x;
            f->slot = -1;
            if (is_poly(d)) {
                const AmpVoiceTable *vt = d->voices(hp->state);
                for (int v = 0; v < vt->live && f->slot < 0; v++)
                    if (vt->level[v] - vt->level[v] != 0.0f) {
                        f->slot = v;
                        f->key = (int)vt->key[v];
                    }
            }
            return;
        }
}

/* The swapped-out patch during its crossfade: as engine_render.c's
 * run_fade (a non-finite block of it is silenced). */
static void run_fade(HostPatch *hp, const float *const *in, float *const *outs, long pos, int n)
{
    const AmpPatchDesc *d = hp->fade_desc;
    const float *ins[HOST_MAX_CHANNELS];
    float *fo[HOST_MAX_CHANNELS];
    for (int i = 0; i < d->n_inputs; i++)
        ins[i] = in && in[i] ? in[i] + pos : hp->silence;
    for (int c = 0; c < d->n_outputs; c++)
        fo[c] = hp->fade_buf[c];
    d->process(hp->fade_state, n, ins, fo);
    if (is_poly(d))
        voice_collect(d, hp->fade_state, n);
    int bad = 0;
    for (int c = 0; c < d->n_outputs; c++)
        for (int i = 0; i < n; i++)
            bad |= fo[c][i] - fo[c][i] != 0.0f;
    if (bad)
        for (int c = 0; c < d->n_outputs; c++)
            memset(fo[c], 0, (size_t)n * sizeof(float));
    patch_swap_mix(outs, (const float *const *)fo, hp->desc->n_outputs, n, hp->fade_done, hp->fade_total);
    hp->fade_done += n;
}

/* One process() call over frames [pos, pos + n), n <= HOST_BLOCK. */
static void run(HostPatch *hp, const float *const *in, float *const *out, long pos, int n)
{
    const AmpPatchDesc *d = hp->desc;
    const float *ins[HOST_MAX_CHANNELS];
    float *outs[HOST_MAX_CHANNELS];
    for (int i = 0; i < d->n_inputs; i++)
        ins[i] = in && in[i] ? in[i] + pos : hp->silence;
    for (int i = 0; i < d->n_outputs; i++)
        outs[i] = out[i] + pos;
    d->process(hp->state, n, ins, outs);
    if (!hp->fault.found)
        find_fault(hp, outs, n);
    hp->frames_done += n;
    if (is_poly(d))
        voice_collect(d, hp->state, n);
    if (hp->fade_done < hp->fade_total)
        run_fade(hp, in, outs, pos, n);
}

int host_render(HostPatch *hp, const Command *cmd, int n_commands,
                const float *const *in, float *const *out, long frames)
{
    int e = 0;
    for (long block = 0; block < frames; block += HOST_BLOCK) {
        long block_end = frames - block < HOST_BLOCK ? frames : block + HOST_BLOCK;
        long pos = block;
        while (pos < block_end) {
            while (e < n_commands && cmd[e].header.time <= pos)
                apply_command(hp, &cmd[e++]);
            long next = block_end;
            if (e < n_commands && cmd[e].header.time < next)
                next = (long)cmd[e].header.time;
            run(hp, in, out, pos, (int)(next - pos));
            pos = next;
        }
    }
    return e;
}

int host_render_notes(HostPatch *hp, const struct NoteList *notes,
                      const float *const *in, float *const *out, long frames)
{
    int n_commands = 0;
    Command *cmd = notes_to_commands(notes, hp->sample_rate, &n_commands);
    if (!cmd && notes->n > 0)
        return -1;
    host_render(hp, cmd, n_commands, in, out, frames);
    free(cmd);
    return 0;
}
