/* host.h — run one compiled patch natively, sample-accurately.
 *
 * A HostPatch owns a patch's state (allocated and initialised by host_init,
 * never during processing) and renders it over a span of frames while
 * applying timed events: note on / off, param changes. Rendering goes in
 * blocks of at most HOST_BLOCK samples on a fixed grid (0, 128, 256, ...
 * from the start of each host_render call, the browser's render quantum),
 * and each block is split at the events inside it, so an event at frame k
 * takes effect at exactly sample k. After every process() call the voice
 * allocator frees the voices that have ended (voice_collect).
 *
 * Patches that are not polyphonic (max_voices 0) ignore note events; they
 * are counted in notes_refused, with no error.
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

#define HOST_BLOCK 128          /* longest process() call */
#define HOST_MAX_CHANNELS 64    /* most inputs / outputs a patch may have here */

typedef enum {
    HOST_EV_NOTE_ON,       /* note_id, key, vel */
    HOST_EV_NOTE_OFF,      /* note_id */
    HOST_EV_PARAM,         /* param, value (in the param's unit) */
    HOST_EV_ALL_OFF,       /* release every note */
    HOST_EV_PANIC          /* cut every voice */
} HostEventKind;

typedef struct HostEvent {
    long frame;            /* sample offset from the start of the host_render call */
    int kind;              /* HostEventKind */
    int note_id;           /* caller's note id, >= 0 */
    int key;               /* MIDI key */
    float vel;             /* 0..1 */
    int param;             /* index into desc->params */
    float value;
} HostEvent;

typedef struct HostPatch {
    const AmpPatchDesc *desc;
    void *state;           /* desc->state_size bytes, 64-byte aligned */
    float sample_rate;
    float *silence;        /* HOST_BLOCK zeros: the input of an unfed port */
    long notes_refused;    /* note-ons dropped: steal none, or not polyphonic */
} HostPatch;

struct NoteList;

/* Check the descriptor, allocate and init() the state, init the voice
 * table. Returns 0, or -1 with a message in err. */
int host_init(HostPatch *hp, const AmpPatchDesc *desc, float sample_rate, char *err, size_t errlen);
void host_free(HostPatch *hp);

/* The patch's reset() (state as after init, params kept) and all voices free. */
void host_reset(HostPatch *hp);

/* Index of the param called `name`, or -1. */
int host_param_index(const HostPatch *hp, const char *name);

/* Render `frames` samples into out[0..n_outputs-1] (each `frames` long),
 * reading in[0..n_inputs-1] (each `frames` long; `in` or an in[k] may be
 * NULL: silence). ev[0..n_events-1] must be sorted by frame; an event at
 * frame k < frames takes effect before sample k is rendered (frames < 0 at
 * once). Returns the number of events applied: those at frame >= frames are
 * left for the caller's next call (with frames subtracted). */
int host_render(HostPatch *hp, const HostEvent *ev, int n_events,
                const float *const *in, float *const *out, long frames);

/* Render `frames` samples playing a note list (notes.h): builds the events
 * (allocates, so not for the audio thread), then host_render. Returns 0, or
 * -1 when out of memory. */
int host_render_notes(HostPatch *hp, const struct NoteList *notes,
                      const float *const *in, float *const *out, long frames);

#endif
