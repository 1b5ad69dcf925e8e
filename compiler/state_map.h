/* state_map.h — the state map of a unit: every piece of its state that
 * lives from one sample to the next, named by its path through instances,
 * with its shape and kind (amp_patch.h AmpStateEntry). emit_c.c prints it
 * as a table the descriptor points at (so the engine swaps patches with no
 * JavaScript); emit_json.c as "state_map" in the metadata. */
#ifndef AMP_STATE_MAP_H
#define AMP_STATE_MAP_H

#include "emit.h"
#include "json_write.h"
#include "lower.h"
#include "plan.h"

typedef struct StateMapEntry {
    const char *name;      /* "osc.phase", "param.cutoff", "delay.position" */
    const char *member;    /* the state struct's member, "st0", "pv" */
    int index;             /* element of the member (params: pv[index]); -1 the whole member */
    int kind;              /* AMP_STATE_* */
    int voice;             /* per voice slot */
    int len;               /* floats per slot (delay lines), else 1 */
    long offset, size;     /* bytes, as the C compiler lays the state struct out
                              (state_map.c mirrors emit_struct); -1 unknown (Faust) */
} StateMapEntry;

typedef struct StateMap {
    StateMapEntry *items;
    int n;
    int lanes, slots;      /* the plan's voices per group, and voice slots (groups * lanes) */
} StateMap;

/* The map of u as plan lays its state out (only live state). */
StateMap *state_map_build(Arena *a, const Lowered *u, const Plan *plan);

/* `static const AmpStateEntry state_map[] = {...};` for struct STATE. */
void state_map_emit_c(const StateMap *m, const char *state_type, EmitText *c);

/* "state_map": [{"name", "type", "member", "offset", "size", "slots",
 * "lanes", "len"}...]. The offsets are the layout rules of the struct
 * emit_c.c prints (the same on x86-64 and wasm32: no pointers in it);
 * the descriptor's table has the C compiler's own offsetof, and
 * tests/check_swap.c checks that the two agree. Opaque entries (Faust)
 * have "offset": null. */
void state_map_emit_json(const StateMap *m, JsonWriter *w);

#endif
