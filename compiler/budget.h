/* budget.h — the state a patch needs, known at compile time, and its
 * budget.
 *
 * budget_measure() lays out the state struct emit_c.c prints, field by
 * field, with the C rules for size and alignment, and so knows
 * sizeof(<name>_state), the `state_size` the runtime allocates (the host's
 * block, the engine's state pool request), before any C is compiled. The
 * struct is the same at every supported rate: delay lines sized in time
 * hold their time at AMP_MAX_SAMPLE_RATE (SPEC §4, "delay"), and a Faust
 * program sizes its own lines for the same rate. The measure names every
 * item (instance path and kind) and its bytes; emit_json.c writes it as
 * the metadata's "state", and budget_check() refuses a patch whose state
 * is larger than AMPC_STATE_BUDGET, naming the largest items.
 */
#ifndef AMP_BUDGET_H
#define AMP_BUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "plan.h"

/* The most state one patch instance may have, every voice slot included
 * (lang/SPEC.md, "State and its budget"). */
#define AMPC_STATE_BUDGET ((uint64_t)16 << 20)

typedef enum {
    BUDGET_VOICE_TABLE,      /* the voice allocator's table (AmpVoiceTable) */
    BUDGET_PARAMS,           /* params as set, targets, smoothed values, smoothing, cached values */
    BUDGET_STATE,            /* a `state` or a prev() */
    BUDGET_NOISE,            /* a noise generator */
    BUDGET_DELAY,            /* a delay line */
    BUDGET_TABLE,            /* a table */
    BUDGET_FAUST,            /* a Faust node instance: its dsp struct and control arrays */
    BUDGET_SAMPLE,           /* a sample slot's binding (AmpSample; the audio is the host's) */
    BUDGET_OVERSAMPLE,       /* an oversampled instance's up- and downsamplers' histories */
} BudgetItemKind;

typedef struct BudgetItem {
    const char *name;      /* instance path: `echo.line`; the Faust instance's name; "voices", "params"
                              (a node compiled alone: the name in the node, `line`) */
    const char *path;      /* the slot's own name (the Ir's), which finds its declaration */
    BudgetItemKind kind;
    Section sec;
    uint64_t bytes;        /* in the state, every voice slot included */
    uint64_t per_voice;      /* one voice slot's share; 0 in the patch section */
    long length;           /* delay: buffer length in samples (a power of two); table: entries;
                              oversample: the factor */
    double seconds;        /* delay sized in time: that time; else 0 */
    const char *program;   /* Faust: the program's node name */
    int order;             /* position in the struct, to break ties */
} BudgetItem;

typedef struct StateBudget {
    uint64_t bytes;        /* sizeof(<name>_state) == the descriptor's state_size, at every rate
                              (64 bits: ampc also runs in wasm32, where size_t would wrap) */
    uint64_t per_voice;      /* one voice slot's share of it (0 without a voice section) */
    int voice_slots;       /* voice slots in the state: voices + fade slots, rounded up to the lanes */
    int n_items;
    BudgetItem *items;      /* largest first (ties in struct order) */
} StateBudget;

/* The state of the planned unit, as emit_c.c lays it out. */
StateBudget *budget_measure(Arena *a, const Plan *p);
/* Report an error when s is over AMPC_STATE_BUDGET: the patch, its size,
 * the budget and its three largest items, at the largest item's
 * declaration. Returns the number of errors (0 or 1). */
int budget_check(const StateBudget *s, PatchScope *ps, Diag *d);
/* "delay", "table", ... */
const char *budget_kind_name(BudgetItemKind k);
/* n bytes for people: "80 bytes", "12.3 KiB", "46.9 MiB". */
void budget_format(char *buf, size_t n, uint64_t bytes);
/* --dump state: the size, then every item, largest first. */
void budget_dump(FILE *out, const StateBudget *s);

#endif
