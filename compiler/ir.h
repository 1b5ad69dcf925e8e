/* ir.h — the per-sample intermediate form: a graph of values.
 *
 * Lowering (lower.c) inlines every node instance of a patch into one graph
 * of Vals: each Val is an operation on earlier Vals, hash-consed (the same
 * operation on the same operands is one Val) and constant-folded when it is
 * built. Each Val knows its rate (the slowest rate it can be computed at)
 * and its section (per voice, or once for the whole patch). Effects that
 * carry over to the next sample — state variables, delay lines, prev() —
 * are slots whose value at the start of a sample is a leaf Val and whose
 * value at the end is another Val. A block of code the IR does not see
 * into (a Faust program) is an extern slot: its inputs and params are
 * Vals, its outputs are leaves made after them, and it runs once per
 * sample when its first live output is computed. The emitter (emit_c.c)
 * prints the live Vals of each (section, rate) in creation order, which is
 * dependency order.
 */
#ifndef AMP_IR_H
#define AMP_IR_H

#include <stdint.h>
#include <stdio.h>
#include "arena.h"
#include "ast.h"

typedef enum { RATE_CONST = 0, RATE_INIT, RATE_CONTROL, RATE_AUDIO } Rate;
typedef enum { SEC_PATCH = 0, SEC_VOICE } Section;

typedef enum {
    /* leaves */
    V_CONST,       /* k */
    V_SR,          /* sample rate */
    V_PARAM,       /* patch param idx (smoothed value, code units) */
    V_NOTE,        /* voice note field idx: NOTE_* */
    V_INPUT,       /* patch input idx */
    V_STATE,       /* state slot idx, value at the start of the sample */
    V_NOISE,       /* noise generator idx */
    V_VOICEBUS,    /* sum of voices, channel idx (patch section) */
    V_TINDEX,      /* the index `i` while filling a table */
    V_PLACEHOLDER, /* stands for a param/input while checking a node alone */
    V_EXTERN_OUT,  /* output k (the Val's k) of extern slot idx */
    /* reads */
    V_DELAY_READ,  /* delay slot idx, a = delay in samples */
    V_TABLE_AT,    /* table slot idx, a = index */
    V_TABLE_LERP,  /* table slot idx, a = position */
    V_SAMPLE_READ, /* sample slot idx / 8, read SAMPLE_READ_* (idx / 2 % 4), channel idx % 2; a = position */
    V_SAMPLE_INFO, /* sample slot idx / 2: its frames (idx % 2 == 0) or its rate (1); control rate */
    /* arithmetic */
    V_NEG, V_NOT,
    V_ADD, V_SUB, V_MUL, V_DIV, V_MOD,
    V_LT, V_LE, V_GT, V_GE, V_EQ, V_NE, V_AND, V_OR,
    V_SELECT,      /* a ? b : c */
    V_FUNC1,       /* idx = Func, a */
    V_FUNC2,       /* idx = Func, a, b */
    V_CLAMP,       /* a clamped to [b, c] */
    /* oversampling (region idx, RegionSlot): where a signal crosses in or out */
    V_OS_IN,       /* a (a base-rate audio value) upsampled: one value per sub-sample */
    V_OS_OUT,      /* a (a value of the region) downsampled: one value per sample */
    V_COUNT
} ValOp;

typedef enum {
    F_SIN, F_COS, F_TAN, F_ASIN, F_ACOS, F_ATAN, F_SINH, F_COSH, F_TANH,
    F_EXP, F_EXP2, F_LOG, F_LOG2, F_LOG10, F_SQRT,
    F_ABS, F_FLOOR, F_CEIL, F_ROUND, F_TRUNC, F_FRACT,
    F_DB2LIN, F_LIN2DB,
    F_ATAN2, F_POW, F_MIN, F_MAX,
    F_COUNT
} Func;

enum { NOTE_FREQ = 0, NOTE_KEY, NOTE_VEL, NOTE_GATE, NOTE_COUNT };
enum { SAMPLE_READ_AT = 0, SAMPLE_READ_LERP = 1, SAMPLE_READ_LOOP = 2 };

typedef struct Val Val;
struct Val {
    int id;                /* creation order */
    ValOp op;
    int idx;
    double k;              /* V_CONST */
    Val *a, *b, *c;
    Rate rate;
    Section sec;
    const char *name;      /* a source name it was bound to, for dumps */
    int live;              /* reached from a root */
    int region;            /* made inside oversampled region region-1 (0: none); only
                              audio-rate Vals of a region run at its rate */
    Val *hash_next;
};

typedef struct StateSlot {
    const char *name;      /* instance.state, for dumps and C comments */
    Section sec;
    Val *init;             /* initial value: constant or init rate */
    Val *start;            /* V_STATE leaf */
    Val *end;              /* value at the end of the sample (== start if never assigned) */
    int is_prev;           /* made by prev() */
    int region;            /* of an oversampled instance: region-1 (0: none); updated
                              once per sub-sample */
} StateSlot;

typedef struct DelaySlot {
    const char *name;
    Section sec;
    int size;              /* longest delay in samples (at AMP_MAX_SAMPLE_RATE when sized in time) */
    double seconds;        /* the size as a time, 0 when given in samples: reads are then
                              clamped to that time at the patch's rate */
    int len;               /* buffer length: power of two > size */
    Val *write;            /* value written this sample, NULL if never written */
} DelaySlot;

typedef struct TableSlot {
    const char *name;
    int size;
    Val *fill;             /* in terms of V_TINDEX, constants and SR; NULL for data */
    const float *data;     /* a table from a file: its `size` entries, kept in the module (not in
                              the state); instances of one node share the pointer */
} TableSlot;

/* One instance of an opaque per-sample block: a Faust program. Its
 * outputs are V_EXTERN_OUT leaves made after its inputs and params, so in
 * creation order the block comes after everything it reads. */
typedef struct ExternSlot {
    const char *name;      /* the instance's name */
    Section sec;           /* per voice: one instance per voice slot */
    const struct FaustProgram *faust;  /* the program (faust.h) */
    int n_in, n_param, n_out;
    Val **in;              /* per input: the value this sample */
    Val **param;           /* per param: the value its zone gets (Faust's unit) */
    Val **out;             /* per output: a V_EXTERN_OUT leaf */
    Rate param_rate;       /* the fastest of the params: control, or audio */
} ExternSlot;

/* An instance that runs at factor times the rate (`oversample N { … }`):
 * its audio-rate Vals are computed factor times per sample, in a loop of
 * their own, between V_OS_IN values (each with an upsampler) and V_OS_OUT
 * values (each with a downsampler), runtime/abi/amp_oversample.h. */
typedef struct RegionSlot {
    const char *name;      /* the instance's name */
    Section sec;
    int factor;            /* 2, 4 or 8 */
} RegionSlot;

typedef struct NoiseSlot {
    Section sec;
    uint32_t seed;
} NoiseSlot;

/* A growable array of pointers, in the arena. */
typedef struct PtrVec {
    void **items;
    int n, cap;
} PtrVec;
void vec_push(Arena *a, PtrVec *v, void *item);

typedef struct Ir {
    Arena *arena;
    PtrVec vals;           /* every Val, in creation order */
    Val **hash;            /* hash-consing table */
    int hash_cap;
    PtrVec states, delays, tables, noises, externs; /* slots */
    PtrVec samples;        /* sample slots: their names (instance paths), bound by the host */
    PtrVec regions;        /* RegionSlot* */
    int cur_region;        /* Vals and states made now belong to region cur_region-1 (0: none) */
} Ir;

void ir_init(Ir *ir, Arena *a);
Val *ir_const(Ir *ir, double k);
Val *ir_leaf(Ir *ir, ValOp op, int idx, Rate rate, Section sec);
Val *ir_op(Ir *ir, ValOp op, int idx, Val *a, Val *b, Val *c);
StateSlot *ir_state(Ir *ir, const char *name, Section sec, Val *init);
DelaySlot *ir_delay(Ir *ir, const char *name, Section sec, int size);
TableSlot *ir_table(Ir *ir, const char *name, int size);
Val *ir_noise(Ir *ir, Section sec);
/* The sample slot named `name` (an instance path), made on first use. */
int ir_sample(Ir *ir, const char *name);
/* An extern slot with its inputs and params (arrays of n_in and n_param
 * Vals, kept); makes its n_out output leaves. */
ExternSlot *ir_extern(Ir *ir, const char *name, Section sec, const struct FaustProgram *faust,
                      int n_in, Val **in, int n_param, Val **param, int n_out);
/* Open region (the instance being lowered runs oversampled); its index. */
int ir_region(Ir *ir, const char *name, Section sec, int factor);
/* v, audio rate, read inside region r (0-based): its upsampled value. */
Val *ir_os_in(Ir *ir, int r, Val *v);
/* inner, a value of region r: its downsampled value, outside the region. */
Val *ir_os_out(Ir *ir, int r, Val *inner);
int ir_is_const(const Val *v, double k);
/* Mark every Val reachable from the roots (outputs, state ends, delay
 * writes) given, plus state inits, table fills and the inputs and params
 * of extern slots. */
void ir_mark_live(Ir *ir, Val **roots, int n_roots);

const char *rate_name(Rate r);
const char *func_name(Func f);
int func_arity(Func f);
int func_rounds(Func f);            /* floor, ceil, round, trunc: a whole number out */
int valop_is_truth(ValOp op);       /* not, comparisons, and, or: 0 or 1 out */
int func_lookup(const char *name);  /* -1 if not a math function */
double func_eval(Func f, double a, double b);
const char *valop_name(ValOp op);
void ir_dump_val(FILE *out, const Val *v);

#endif
