/* sema.h — the checked patch, as the middle passes hand it on:
 *
 *   sema.c      checks the program and collects the unit patch -> PatchScope
 *   schedule.c  orders the instances of each section            -> ps->order
 *   lower.c     inlines them, in that order, into the Ir        -> Lowered
 *
 * and the state of the expression walk (Walk) that sema and lower share:
 * lower.c's walk over an expression checks its names, arity and units as
 * it builds its Vals, so sema checks a node by lowering it alone, against
 * stand-ins for its params and inputs (sema_unit -> lower_node_body).
 */
#ifndef AMP_SEMA_H
#define AMP_SEMA_H

#include "lower.h"

typedef struct UDim {      /* a unit of measure: a power of seconds (Hz is s^-1) */
    int known;             /* 0: any (no unit written) */
    int exp;               /* power of seconds */
} UDim;

/* A signal in a patch may have several channels (`voices`); in a node,
 * always one. */
typedef struct Sig {
    int n;
    Val *ch[MAX_CHANNELS];
    UDim d;
} Sig;

typedef enum { SYM_PARAM, SYM_INPUT, SYM_OUTPUT, SYM_STATE, SYM_DELAY, SYM_TABLE, SYM_LET, SYM_INDEX, SYM_SAMPLE } SymKind;

typedef struct Sym {       /* a name in a node's scope */
    const char *name;
    Loc loc;
    SymKind kind;
    Val *val;              /* current value (state: as assigned so far) */
    UDim d;
    StateSlot *state;
    DelaySlot *delay;
    TableSlot *table;
    int slot;              /* delay, table or sample: its index in the Ir */
    int assigned;          /* output assigned */
    int written;           /* delay written */
    struct Sym *next;
} Sym;

typedef struct PInst {     /* an instance of the unit patch */
    GraphItem *item;
    Node *node;
    Section sec;
    int side;              /* an instance of a node built from instances (§11), whose own instances
                              sema inlined as "name.inner": 1 its inputs and params (named "name"),
                              2 its outputs ("name.out", the target of its `-> out`); 0 otherwise */
    struct PInst *partner; /* side 1: its side 2, and back */
    Val **ports;           /* side 1: per param, input, output (in that order) once lowered */
    int color;             /* schedule: 0 new, 1 on the DFS stack, 2 done */
    int lowered;
    int n_outs;
    Val **outs;
} PInst;

typedef struct PLet {      /* a let of the unit patch */
    GraphItem *item;
    Section sec;
    int busy;              /* being walked: a let that refers to itself */
    int done;              /* lowered: value holds it */
    Sig value;
    int channels;          /* sema_expr_channels() of its value, 0 until known */
    int deps_done;         /* deps holds the instances its value reads (schedule) */
    PtrVec deps;
} PLet;

typedef struct PConn {     /* a connection `value -> targets;` of the unit patch */
    GraphItem *item;
    Section sec;
    int done;
    Sig value;
} PConn;

typedef struct Deferred {  /* a prev() in a patch, lowered after everything else */
    StateSlot *slot[MAX_CHANNELS];
    int n;
    Expr *expr;
    Section sec;
} Deferred;

/* Names to items, hashed (a patch may hold tens of thousands of lets). */
typedef struct NameEntry {
    const char *name;
    Section sec;
    void *item;
} NameEntry;

typedef struct NameIndex {
    NameEntry *slots;      /* open addressing; name NULL: empty */
    int cap, n;
} NameIndex;

typedef struct PatchScope {
    Program *prog;
    Patch *patch;          /* the unit (a node compiled alone: a patch wrapping it) */
    Lowered *unit;         /* its signature, filled by sema; its Ir, by lower */
    PtrVec insts, lets, conns; /* PInst*, PLet*, PConn*, in source order (voice block first) */
    NameIndex inst_ix, let_ix;
    PtrVec order[2];       /* per Section: PInst*, in schedule order (schedule.c) */
    PtrVec deferred;       /* lower: Deferred*, the prev()s to lower last */
    Sig voicebus;          /* lower: the sum of voices, per output channel */
} PatchScope;

typedef struct FnFrame {   /* a function being inlined (lower.c) */
    FnDef *f;
    Sig *args;             /* per parameter, the argument's value */
    Loc call;              /* the call */
    int depth;             /* sum of the bodies' depths of this frame and those around it */
    struct FnFrame *up;
} FnFrame;

typedef struct Walk {      /* the expression walk (lower.c), in a node or in the unit patch */
    Program *prog;
    Diag *d;
    Arena *a;
    Ir *ir;
    Section sec;
    /* node scope */
    Sym *syms;
    const char *inst;      /* instance name, for slot names */
    int in_table;          /* lowering a table fill: `i` is bound */
    /* patch scope (NULL inside a node) */
    PatchScope *ps;
    int let_depth;         /* patch lets being walked, one inside another */
    FnFrame *fn;           /* the innermost function being inlined, NULL outside any */
    Module *module;        /* the file whose text is walked (its functions first); NULL: the main file */
} Walk;

typedef struct NodeBinding {
    Val **params;          /* per param, in declaration order */
    UDim *param_dims;
    Val **inputs;          /* per input */
} NodeBinding;

/* A patch let read through a chain of more lets than this is an error, as
 * an expression nested too deeply is (each walk over lets recurses). */
enum { LET_NEST_LIMIT = AST_MAX_DEPTH };

/* Inlining limits: the depths of the bodies of functions called one
 * inside another add up to at most FN_DEPTH_LIMIT (the walk recurses
 * through them), and a compilation walks at most FN_INLINE_LIMIT
 * expression nodes of inlined bodies (a function that calls another
 * twice, which calls another twice, ... grows exponentially). */
enum { FN_DEPTH_LIMIT = 2 * AST_MAX_DEPTH, FN_INLINE_LIMIT = 4000000 };

/* ---- sema.c ---- */

/* Check every node of the program alone, pick the unit, check its
 * signature and collect its instances, lets and connections. NULL after
 * reporting errors. */
PatchScope *sema_unit(Program *prog, const char *unit_name, Diag *d);
void sema_dump(FILE *out, const PatchScope *ps);

Node *sema_find_node(Program *p, const char *name);
/* The node an instance of `name` makes when it is built from instances
 * (a node with a graph, or an effect patch); NULL otherwise. */
Node *sema_composite(Program *p, const char *name);
FnDef *sema_find_func(Program *p, Module *from, const char *name);
Module *sema_find_alias(Program *p, const char *name, size_t len);
PInst *sema_find_inst(PatchScope *ps, const char *name, Section sec);
PLet *sema_find_let(PatchScope *ps, const char *name, Section sec);
int sema_find_param(const Lowered *u, const char *name);
int sema_find_name(const char **names, int n, const char *name);
int sema_node_input(Node *n, const char *name);
int sema_node_param(Node *n, const char *name);
int sema_node_output(Node *n, const char *name);
int sema_ident_count(Ident *i);
int sema_param_count(Param *p);
int sema_target_count(Target *t);
int sema_param_unit(Param *p);         /* AMP_UNIT_* of a param, from its default */
UDim sema_unit_dim(int unit);
const char *sema_dim_text(UDim d);
int sema_dims_clash(UDim x, UDim y);
/* How many channels an expression has, without lowering it. */
int sema_expr_channels(Walk *c, Expr *e);

/* ---- schedule.c ---- */

/* Order the instances of each section so that each comes after those it
 * reads (not through prev() or a delay line); fill ps->order and the
 * unit's instances. Returns the number of errors (feedback loops). */
int schedule_unit(PatchScope *ps, Diag *d);
void schedule_dump(FILE *out, const PatchScope *ps);

/* ---- lower.c ---- */

/* Lower a node's declarations and process block with its params and
 * inputs bound; fill outs (one Val per output). */
void lower_node_body(Walk *c, Node *n, NodeBinding *b, Val **outs);
/* Lower one expression in the walk's scope (checking it as it goes). */
Sig lower_value(Walk *c, Expr *e);
/* A value that must be known when the patch is compiled: 0 after
 * reporting that it is not. */
int lower_const(Walk *c, Expr *e, const char *what, double *out, UDim *dim);

#endif
