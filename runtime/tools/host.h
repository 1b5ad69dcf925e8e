/* host.h — run one compiled patch natively, sample-accurately.
 *
 * A HostPatch owns a patch's state (allocated and initialised by host_init,
 * never during processing) and renders it over a span of frames while
 * applying timed commands: the engine's own records (commands.def, as
 * commands.h's Command) with header.time the frame, counted from the start
 * of the host_render call: note_on, note_off, set_param, all_notes_off,
 * panic. Their track (and set_param's slot) are ignored: there is one
 * patch. Any other command is ignored. Rendering goes in
 * blocks of at most HOST_BLOCK samples on a fixed grid (0, 128, 256, ...
 * from the start of each host_render call, the browser's render quantum),
 * and each block is split at the commands inside it, so a command at frame k
 * takes effect at exactly sample k. After every process() call the voice
 * allocator frees the voices that have ended (voice_collect).
 *
 * Patches that are not polyphonic (max_voices 0) ignore note commands;
 * they are counted in notes_refused, with no error.
 *
 * Threading contract: host_init / host_free / host_render_notes on any one
 * thread; host_render and host_reset are real-time safe (no allocation,
 * locks or I/O) and run on the audio thread. One HostPatch, one thread at a
 * time.
 */
#ifndef AMP_HOST_H
#define AMP_HOST_H

#include <stddef.h>
#include "amp_patch.h"
#include "commands.h"

#define HOST_BLOCK 128          /* longest process() call */
#define HOST_MAX_CHANNELS 64    /* most inputs / outputs a patch may have here */

/* Records for host_render (track 0, slot 0), at `frame`. */
Command host_note_on(long frame, int note_id, int key, float vel);
Command host_note_off(long frame, int note_id);
Command host_param(long frame, int param, float value);
Command host_all_off(long frame);   /* release every note */
Command host_panic(long frame);     /* cut every voice */

/* The first non-finite sample a patch wrote (NaN or an infinity). */
typedef struct HostFault {
    int found;
    long frame;            /* counted from host_init or the last host_reset */
    int channel;           /* output index */
    float value;
    int slot;              /* voice slot whose level went non-finite, -1 if none or not polyphonic */
    int key;               /* that voice's note.key */
} HostFault;

typedef struct HostPatch {
    const AmpPatchDesc *desc;
    void *state;           /* desc->state_size bytes, 64-byte aligned */
    float sample_rate;
    float *silence;        /* HOST_BLOCK zeros: the input of an unfed port */
    long notes_refused;    /* note-ons dropped: steal none, or not polyphonic */
    long frames_done;      /* frames rendered since host_init */
    HostFault fault;       /* the first non-finite output, if any */
    /* hot swap (host_prepare_swap) */
    const AmpPatchDesc *next_desc;   /* the patch a swap record brings in, NULL none */
    void *next_state;
    const AmpPatchDesc *fade_desc;   /* the patch swapped out, crossfading (or done) */
    void *fade_state;
    float *fade_buf[HOST_MAX_CHANNELS];
    int fade_done, fade_total;       /* samples of the crossfade made, its length (0: none) */
    int swaps;                       /* swaps applied, and of those ... */
    int swaps_carried;               /* ... how many carried everything (no crossfade) */
} HostPatch;

/* Hot swap, as the engine makes it (commands.def swap_patch, patch_swap.h):
 * `desc` becomes the next patch (its state allocated and init()ed here, not
 * on the audio thread); a host_swap record in host_render's commands
 * replaces the playing patch by it at that frame, carrying params, voices
 * and the state whose names and shapes match, and crossfading over
 * patch_swap_fade_frames() when anything could not carry. Its outputs must
 * be as many as the playing patch's. 0, or -1 with a message. */
int host_prepare_swap(HostPatch *hp, const AmpPatchDesc *desc, char *err, size_t errlen);
Command host_swap(long frame);

struct NoteList;

/* Check the descriptor, allocate and init() the state, init the voice
 * table. Returns 0, or -1 with a message in err. */
int host_init(HostPatch *hp, const AmpPatchDesc *desc, float sample_rate, char *err, size_t errlen);
void host_free(HostPatch *hp);

/* The patch's reset() (state as after init, params kept) and all voices free. */
void host_reset(HostPatch *hp);

/* Index of the param called `name`, or -1. */
int host_param_index(const HostPatch *hp, const char *name);

/* Set param `index` to `value` (in its unit) if it lies in the param's
 * range; else -1 and, in err, "AT: V is outside the range of 'NAME' in
 * patch 'P' [LO, HI]", the words of the project reader
 * (runtime/formats/project_resolve.c) for the same mistake in a project. */
int host_set_param_checked(HostPatch *hp, int index, double value, const char *at, char *err, size_t errlen);

/* The sample rates a patch is made for (amp_patch.h): 0, or -1 with
 * "sample rate R Hz is not supported (AMP_MIN to AMP_MAX)" in err. */
int host_check_rate(double sample_rate, char *err, size_t errlen);

/* hp->fault as one line: "patch 'P' wrote nan on output 0 at sample 1234
 * (0.0257 s), voice in slot 2 (key 60)". 0 if there is no fault, else -1. */
int host_fault_text(const HostPatch *hp, char *err, size_t errlen);

/* Render `frames` samples into out[0..n_outputs-1] (each `frames` long),
 * reading in[0..n_inputs-1] (each `frames` long; `in` or an in[k] may be
 * NULL: silence). cmd[0..n_commands-1] must be sorted by header.time; a
 * command at frame k < frames takes effect before sample k is rendered
 * (frames < 0 at once). Returns the number of commands applied: those at
 * frame >= frames are left for the caller's next call (with frames
 * subtracted). */
int host_render(HostPatch *hp, const Command *cmd, int n_commands,
                const float *const *in, float *const *out, long frames);

/* Render `frames` samples playing a note list (notes.h): builds the commands
 * (allocates, so not for the audio thread), then host_render. Returns 0, or
 * -1 when out of memory. */
int host_render_notes(HostPatch *hp, const struct NoteList *notes,
                      const float *const *in, float *const *out, long frames);

#endif
