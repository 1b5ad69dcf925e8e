/* plan.h — what the C emitter decides before it prints: the Plan.
 *
 * Three passes fill it from a Lowered unit, and the emitter (emit_c.c)
 * only reads it; nobody writes into the Ir:
 *
 *   plan.c   plan_unit: where each live Val is computed and read (its
 *            contexts), which comparisons are printed inline as masks,
 *            which values are whole numbers, which slots are live, which
 *            init and control values get storage (s->init[], s->ctl[])
 *   flush.c  plan_flush: which Vals are flushed to zero where they are
 *            computed, so that every feedback loop passes through one
 *   loops.c  plan_loops: how the patch section's sample loop is split
 *   plan_steady.c  plan_steady: what the patch sample loop computes after
 *            its first sample, when states hold a chunk's constant
 *
 * Every array is indexed by Val id (ir->vals.n + 1 entries) or slot index,
 * and lives in the compilation's arena.
 */
#ifndef AMP_PLAN_H
#define AMP_PLAN_H

#include <stdio.h>
#include "lower.h"

/* The contexts code runs in; a Val's uses are a set of them. */
enum {
    USE_INIT = 1,          /* init(): init-rate values */
    USE_TABLE = 2,         /* a table fill, per entry */
    USE_RESET = 4,         /* reset code: init values read from s->init[] */
    USE_PCTRL = 8,         /* patch section, once per control tick */
    USE_PAUDIO = 16,       /* patch section, every sample */
    USE_VCTRL = 32,        /* voice section, once per tick and voice group */
    USE_VAUDIO = 64,       /* voice section, every sample and voice group */
};

typedef struct Plan {
    const Lowered *u;
    const Ir *ir;
    int lanes;             /* voices per group: 4 (one per vector lane), or 1 (scalar build) */
    int groups;            /* voice groups in the state */
    /* plan.c */
    int *uses;             /* per Val id: USE_* where its value is read */
    int *muses;            /* per Val id: USE_* where it is read as a condition */
    char *inlined;         /* per Val id: a comparison used only as a condition,
                              printed inline as a mask, never as a local */
    int *dep_i;            /* per Val id: depends on a table index */
    char *integral;        /* per Val id: always a whole number (delays read without
                              interpolation) */
    char *state_live, *delay_live, *table_live, *noise_live, *extern_live; /* per slot */
    int cache_ctl;         /* patch control values kept in s->ctl[] and recomputed
                              only when a param moved (no extern code in the patch section) */
    int n_ctl;
    int *ctl_slot;         /* per Val id: its place in s->ctl[], -1 if none */
    int n_init;            /* stored init values */
    int *init_slot;        /* per Val id: its place in s->init[], -1 if none */
    /* flush.c */
    char *flush;           /* per Val id: flushed where it is computed */
    /* plan.c, plan_chunk_flushes */
    char *flush_state;     /* per state slot: flushed once per chunk, as it is stored
                              (its feedback loop's flushes moved there) */
    char *flush_delay;     /* per delay slot: the samples a chunk wrote flushed at its end */
    /* loops.c */
    int n_loops;           /* the patch section's sample loop, split in this many */
    int *loop_of;          /* per Val id: its loop (patch audio Vals and state leaves), else -1 */
    char *cross;           /* per Val id: read in another loop, kept in a chunk array */
    int *need;             /* pairs (loop, Val id) of values a loop reads from an earlier one,
                              sorted */
    int n_need;
    /* plan_steady.c */
    int n_settled;         /* patch states that hold a chunk's constant from its second
                              sample on; 0: one body for every sample */
    char *settled;         /* per state slot: settled (its end value is of control rate or
                              slower), never updated after the first sample */
    char *carried;         /* per state slot: updated by the steady body (it reads it); an
                              updated state that is not carried is computed in the tail */
    const Val **steady_alias; /* per Val id: the value v is in the steady body, NULL: itself */
    signed char *steady_truth; /* per Val id: v as a condition in the steady body, 0 or 1;
                              -1: not known */
    char *steady_live;     /* per Val id: computed in the steady body (1), in the last
                              sample's only (2) */
    int n_guard;
    const Val **guard;     /* values that must not be NaN for the steady body to hold */
} Plan;

/* plan.c. scalar: one voice per lane group (for benchmarks). */
Plan *plan_unit(Arena *a, const Lowered *u, int scalar);
void plan_dump(FILE *out, const Plan *p);
/* flush.c */
void plan_flush(Arena *a, Plan *p);
void plan_dump_flush(FILE *out, const Plan *p);
/* plan.c, after plan_flush: a feedback loop through states and the patch
 * section's delay lines (no extern code, no voice delay line) is flushed
 * at the chunk's end, on its states as they are stored and on the samples
 * the chunk wrote to its delay lines, instead of every sample. */
void plan_chunk_flushes(Arena *a, Plan *p);
/* loops.c */
void plan_loops(Arena *a, Plan *p);
void plan_dump_loops(FILE *out, const Plan *p);
/* plan_steady.c, after plan_chunk_flushes, before plan_loops */
void plan_steady(Arena *a, Plan *p);
void plan_steady_drop(Plan *p);          /* back to one body (a split loop) */
int plan_steady_size(const Plan *p);     /* values the loop prints per sample after the first */
int plan_steady_tail(const Plan *p);     /* the last sample computes the tail */
void plan_dump_steady(FILE *out, const Plan *p);

/* ---- what the passes and the emitter ask of a Val ---- */

/* Is code in context ctx vector code? Voice code is, unless the unit is
 * emitted scalar. */
static inline int plan_is_vec(const Plan *p, int ctx)
{
    return p->lanes == 4 && (ctx == USE_VCTRL || ctx == USE_VAUDIO);
}

/* The context that computes v. */
static inline int plan_ctx_of(const Val *v)
{
    if (v->rate <= RATE_INIT)
        return USE_INIT;
    if (v->sec == SEC_VOICE)
        return v->rate == RATE_CONTROL ? USE_VCTRL : USE_VAUDIO;
    return v->rate == RATE_CONTROL ? USE_PCTRL : USE_PAUDIO;
}

static inline int plan_audio_ctx(Section sec)
{
    return sec == SEC_VOICE ? USE_VAUDIO : USE_PAUDIO;
}

/* A delay read in the patch section whose delay changes at most once per
 * control tick: its integer part and fraction are computed once per tick
 * (in the control context), and each sample only reads and interpolates. */
static inline int plan_fixed_tap(const Val *v)
{
    return v->op == V_DELAY_READ && v->sec == SEC_PATCH && v->a->rate <= RATE_CONTROL;
}

/* In a split patch loop: the loop that updates a state (where its start
 * leaf is), writes a delay line (where the written value is), puts out a
 * channel; values of control rate or slower go to the first loop. */
static inline int plan_loop_at(const Plan *p, const Val *v)
{
    return v && p->loop_of[v->id] >= 0 ? p->loop_of[v->id] : 0;
}

/* How vector code computes a select: one of the shapes that take fewer
 * operations than a bitwise select (the same bits), or the general one. */
typedef enum { SEL_GENERAL, SEL_MIN, SEL_MAX, SEL_BOOL, SEL_AND, SEL_ANDNOT, SEL_NEG_B, SEL_NEG_C, SEL_SIGN } SelShape;
SelShape plan_select_shape(const Val *v);
/* Does v, in context ctx, read operand o other than through its value? */
int plan_bypassed(const Plan *p, const Val *v, const Val *o, int ctx);

#endif
