/* amp_patch.h — the interface between a compiled patch and the runtime.
 *
 * The compiler (ampc) emits, for each patch, one C file that includes this
 * header and defines:
 *   - a state struct (everything the patch needs, sized at compile time);
 *   - the lifecycle functions below;
 *   - one `const AmpPatchDesc <name>_desc` descriptor naming them.
 * The runtime (native host, engine, wasm engine) only ever sees the
 * descriptor and an opaque, caller-allocated block of `state_size` bytes,
 * aligned to AMP_STATE_ALIGN.
 *
 * Threads: init() runs on a non-real-time thread; everything else runs on
 * the audio thread and never allocates, locks, or does I/O.
 *
 * Voices: a polyphonic patch keeps an AmpVoiceTable inside its state. The
 * runtime's voice allocator (voice.h) writes it — which key plays in which
 * slot, gate, velocity, fade-out of stolen voices — and keeps live voices
 * packed into slots 0..live-1 so that process() runs ceil(live/4) groups of
 * four voices, one voice per lane of a 4 x f32 vector. process() reads the
 * table and writes back each slot's output level.
 */
#ifndef AMP_PATCH_H
#define AMP_PATCH_H

#include <stddef.h>
#include <stdint.h>

/* Version 2: the descriptor ends with the state map (n_state, state_map),
 * which hot swap reads (runtime/engine/patch_swap.c).
 * Version 3: then the sample slots (n_samples, sample_names, sample): a
 * patch reads audio the host binds at run time (the engine's sample pool).
 * A module or shared object of an older version is refused with a message
 * naming both versions; rebuilding it from its source is the migration. */
#define AMP_ABI_VERSION 3
#define AMP_STATE_ALIGN 16
#define AMP_CHUNK 16            /* control tick: control-rate values are
                                   recomputed at most once per this many
                                   samples, and at the start of every
                                   process() call */
#define AMP_MIN_SAMPLE_RATE 8000   /* the rates init() may be given, Hz: */
#define AMP_MAX_SAMPLE_RATE 192000 /* delay lines sized in time hold their
                                      time up to this rate */
#define AMP_MAX_VOICES 256      /* most voices a patch may declare */
#define AMP_FADE_SLOTS 4        /* extra slots where stolen voices fade out */
#define AMP_VOICE_SLOTS (AMP_MAX_VOICES + AMP_FADE_SLOTS)

/* Per-slot data, structure-of-arrays so that a group of four slots loads
 * as one vector. Written by the voice allocator, read by process(), except
 * `level`, written by process(). */
typedef struct AmpVoiceTable {
    _Alignas(16) float freq[AMP_VOICE_SLOTS];  /* note.freq, Hz */
    _Alignas(16) float gate[AMP_VOICE_SLOTS];  /* note.gate: 1 held, 0 released */
    _Alignas(16) float vel[AMP_VOICE_SLOTS];   /* note.vel in [0, 1] */
    _Alignas(16) float key[AMP_VOICE_SLOTS];   /* note.key, MIDI key number */
    _Alignas(16) float gain[AMP_VOICE_SLOTS];  /* output gain: 1 playing, ramps to 0 when stolen, 0 free */
    _Alignas(16) float gain_step[AMP_VOICE_SLOTS]; /* subtracted from gain each sample */
    _Alignas(16) float level[AMP_VOICE_SLOTS]; /* peak |output| over the last process() call */
    int32_t note_id[AMP_VOICE_SLOTS];   /* runtime's id of the note in the slot, -1 if free */
    uint64_t started[AMP_VOICE_SLOTS];  /* note-on sequence number, for "oldest" */
    uint32_t silent[AMP_VOICE_SLOTS];   /* samples the released slot has been silent */
    int live;              /* slots 0..live-1 are in use */
    int max_voices;        /* the patch's `voices N` */
    int steal;             /* AMP_STEAL_* */
    uint64_t sequence;     /* next note-on sequence number */
    float sample_rate;
} AmpVoiceTable;

enum { AMP_STEAL_OLDEST = 0, AMP_STEAL_QUIETEST = 1, AMP_STEAL_NONE = 2 };

enum { AMP_UNIT_NONE = 0, AMP_UNIT_HZ, AMP_UNIT_S, AMP_UNIT_DB };

typedef struct AmpParamDesc {
    const char *name;
    float def, lo, hi;     /* in the unit shown to the user (dB for AMP_UNIT_DB) */
    float step;            /* 0: continuous */
    float smooth;          /* smoothing time constant in seconds, 0: none */
    int unit;              /* AMP_UNIT_* */
} AmpParamDesc;

/* The state map: every piece of a patch's state that lives from one
 * sample to the next, named by its path through instances ("osc.phase",
 * "flt.ic1", "env.level"; "param.NAME" the smoothed value of a param,
 * "delay.position" the write position every delay line shares). Hot swap
 * copies an entry from the old patch's state to the new one's when name,
 * kind, lanes, slots, len and size all match. */
enum {
    AMP_STATE_VALUE = 1,   /* a float: per voice slot, or one for the patch */
    AMP_STATE_DELAY = 2,   /* a delay line of `len` floats (per voice slot, or one) */
    AMP_STATE_NOISE = 3,   /* a noise generator's uint32 (per voice slot, or one) */
    AMP_STATE_PARAM = 4,   /* a smoothed param's current value, float, code units */
    AMP_STATE_POSITION = 5,/* the delay lines' write position, unsigned */
    AMP_STATE_OPAQUE = 6,  /* state the map cannot describe (a Faust program): never carried */
};

typedef struct AmpStateEntry {
    const char *name;      /* path through instances */
    uint32_t offset;       /* bytes from the start of the state */
    uint32_t size;         /* bytes */
    uint16_t kind;         /* AMP_STATE_* */
    uint16_t lanes;        /* voices per vector group: 4, or 1 (ampc --scalar); 0 patch-wide */
    uint32_t slots;        /* voice slots held (groups * lanes); 0 patch-wide */
    uint32_t len;          /* floats per slot: a delay line's length, else 1 */
} AmpStateEntry;

/* A sample slot's binding: audio the host lends the patch (the engine's
 * sample pool), written by the host before a process() call and read by
 * it; never freed or written by the patch. The layout is the same on every
 * build (pointers held in 8-byte words), so the state's size is too. */
#define AMP_SAMPLE_MAX_FRAMES 16777216   /* 2^24: every frame index is an exact float */
typedef struct AmpSample {
    union { const float *p; uint64_t word; } data[2]; /* channels 0 and 1 (a mono sample: both channel 0);
                                                         NULL: nothing bound */
    int32_t frames;        /* 0..AMP_SAMPLE_MAX_FRAMES; 0 (nothing bound): every read gives 0 */
    float rate;            /* the data's sample rate, Hz (the engine's: it resamples on load) */
} AmpSample;

typedef struct AmpPatchDesc {
    uint32_t abi_version;  /* AMP_ABI_VERSION */
    const char *name;
    size_t state_size;
    int n_inputs, n_outputs;
    const char *const *input_names;
    const char *const *output_names;
    int n_params;
    const AmpParamDesc *params;
    int max_voices;        /* 0: not polyphonic (no voice section) */
    int steal;             /* AMP_STEAL_* */
    const char *json;      /* the metadata document ampc writes beside the C */

    /* Prepare the state for a sample rate: all values to their initial
     * state, params to their defaults, tables filled. */
    void (*init)(void *state, float sample_rate);
    /* Back to the state right after init(), keeping the sample rate and
     * the current param values. */
    void (*reset)(void *state);
    /* Set param `index` to `value` in the user's unit; clamped to its
     * range; reached through the param's smoothing. */
    void (*set_param)(void *state, int index, float value);
    float (*get_param)(const void *state, int index);
    /* NULL unless polyphonic: */
    AmpVoiceTable *(*voices)(void *state);
    void (*voice_reset)(void *state, int slot);          /* a note starts in slot */
    void (*voice_move)(void *state, int to, int from);   /* pack: copy slot `from` to `to` */
    /* Render n samples (any n >= 0). in[i] for i < n_inputs, out[i] for
     * i < n_outputs; the output buffers are overwritten. */
    void (*process)(void *state, int n, const float *const *in, float *const *out);
    /* ABI 2: the state map (may be empty: nothing carries, a swap crossfades). */
    int n_state;
    const AmpStateEntry *state_map;
    /* ABI 3: the sample slots (`sample NAME;` in a node, lang/SPEC.md),
     * named by instance path ("play.wav"), in the metadata's order. The
     * host binds slot k by writing *sample(state, k) between process()
     * calls (zeroed by init: nothing bound); the call marks the patch's
     * cached control values stale, so those read from a slot (.frames(),
     * .rate()) follow a new binding. NULL when n_samples is 0. */
    int n_samples;
    const char *const *sample_names;
    AmpSample *(*sample)(void *state, int slot);
} AmpPatchDesc;

#endif
