/* lower.h — the program the middle passes take, and the lowered unit
 * they produce: everything the emitters need.
 *
 * sema_unit() (sema.c) checks the Program and collects the unit patch,
 * schedule_unit() (schedule.c) orders its instances, and lower_unit()
 * (lower.c) inlines every instance into the Ir: the voice block into the
 * voice section, the rest into the patch section. An instance of a Faust
 * node is not inlined: it becomes an extern slot of the Ir (ir.h).
 */
#ifndef AMP_LOWER_H
#define AMP_LOWER_H

#include "ast.h"
#include "diag.h"
#include "ir.h"

#define MAX_CHANNELS 8

typedef struct ImportAlias {  /* `import "file.amp" as name;` */
    const char *name;
    Module *module;
    Loc loc;               /* of the first import that gave the name */
} ImportAlias;

typedef struct Program {
    Arena *arena;
    PtrVec modules;        /* Module*, the main file first */
    PtrVec nodes;          /* Node*, every file's, in load order */
    PtrVec patches;        /* Patch* */
    PtrVec fausts;         /* FaustProgram* (faust.h): the `import faust` nodes, also in nodes */
    PtrVec funcs;          /* FnDef*, every file's `fn`, in load order */
    PtrVec aliases;        /* ImportAlias*: `lib` of `import "x.amp" as lib;`, of any file */
    long inlined;          /* expression nodes walked in inlined function bodies, all walks together */
    int inline_limit_reported; /* FN_INLINE_LIMIT (sema.h) passed and said once */
    Module *main;
} Program;

typedef struct UnitParam {
    const char *name;
    Loc loc;
    double def, lo, hi;    /* in the user's unit (dB for a dB param) */
    double step, smooth;   /* smooth in seconds */
    int unit;              /* AMP_UNIT_* */
    const char *unit_label;/* shown instead of the unit's name when set (Param.unit_label) */
    int has_range;
} UnitParam;

typedef struct UnitInstance {
    const char *name;
    const char *node;
    Section sec;
    int order;             /* position in the schedule */
} UnitInstance;

typedef struct Lowered {   /* a compilation unit, lowered */
    const char *name;
    Ir ir;
    int n_inputs, n_outputs;
    const char **input_names, **output_names;
    int n_params;
    UnitParam *params;
    int voices;            /* 0: no voice section */
    int steal;             /* AMP_STEAL_* */
    Val *voice_out[MAX_CHANNELS];  /* per output channel, voice section; NULL: silent */
    Val *out[MAX_CHANNELS];        /* per output channel, patch section */
    PtrVec instances;      /* UnitInstance*, in schedule order */
    int from_node;         /* the unit is a node wrapped as a patch */
} Lowered;

typedef struct PatchScope PatchScope;   /* the checked unit patch (sema.h) */

/* Inline the scheduled unit into its Ir. Returns NULL after reporting
 * errors. */
Lowered *lower_unit(PatchScope *ps, Diag *d);
void lower_dump_graph(FILE *out, const Lowered *u);
void lower_dump_rates(FILE *out, const Lowered *u);

#endif
