/* emit_c.c — print a lowered unit as C: one state struct, the lifecycle
 * functions of amp_patch.h, and a descriptor.
 *
 * Takes the Lowered unit and its Plan (plan.h) and only prints: where each
 * live Val is computed and read, what is stored, what is flushed and how
 * the patch loop is split were decided by the plan passes (plan.c,
 * flush.c, loops.c); neither the Ir nor the Plan is written here.
 *
 * Vals are printed in creation order, which is dependency order, each in
 * the context of its section and rate (plan.c). A patch value read by
 * voice code is splatted to a vector once, at group start. The patch
 * section's per-sample code may be split into several loops over the
 * chunk (loops.c); every feedback loop passes through one flushed value
 * (flush.c); vector selects of common shapes take one or two operations
 * (plan_select_shape).
 *
 * Extern slots (Faust programs, faust.h): the prepared C of each program
 * is printed after the includes, between faust_prelude() (libm routed to
 * the kernels) and faust_postlude(). Each instance keeps Faust's dsp
 * struct and the two control arrays of -os mode in the state (one per
 * voice slot in the voice section). Its zones are written and control()
 * called once per control tick when every param is at most control rate,
 * else every sample; compute() runs where its first live output is
 * computed, once per sample, with the input values of that sample (voice
 * code: once per live lane, one Faust instance per voice). init() runs
 * staticInit once per program and the instance functions per instance,
 * reset and voice_reset call instanceClear, voice_move copies the struct.
 * Cost: a function call per instance, sample and voice, plus control()
 * per tick; a block of n samples is n calls of one frame (Faust's -os
 * mode), which keeps everything in one sample loop even when the graph
 * feeds a Faust output back into its input through prev().
 * The descriptor ends with the state map (state_map.c): every live state,
 * noise generator, delay line and smoothed param by its path through
 * instances, with offsetof/sizeof and its shape, for hot swap.
 * The output is deterministic: no dates, no paths, no pointer values.
 */
#include "emit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "amp_oversample.h"
#include "amp_patch.h"
#include "ampc.h"
#include "faust.h"
#include "plan.h"
#include "state_map.h"

typedef struct Emitter {
    const Lowered *u;
    const Ir *ir;
    const Plan *p;         /* what to print where (plan.h) */
    EmitText *t;
    Arena *arena;          /* scratch while printing */
    char *extern_called;   /* per extern: compute() already printed in this context */
    char *region_done;     /* per oversampled region: its loop already printed in this context */
    int cur_loop;          /* the loop being printed, -1 outside a split patch loop */
    int steady;            /* printing the steady body (1), with the tail (2); 0: the full
                              body (plan_steady.c) */
    int *cx_slot;          /* per Val id: its row of the chunk array cx (a split loop's
                              crossing value or state leaf), -1 if none */
    int n_cx;
    char *run_tap;         /* per Val id: a fixed tap read in runs (t<id>, tb<id>) */
    char *run_write;       /* per delay slot: written in runs (w<len>) */
} Emitter;

static int is_vec(const Emitter *e, int ctx)
{
    return plan_is_vec(e->p, ctx);
}

/* The type of a voice value, and how one voice's slot of array X is named. */
static const char *voice_type(const Emitter *e)
{
    return e->p->lanes == 4 ? "v4f" : "float";
}

static const char *lane(const Emitter *e, char *buf, size_t n, const char *array, const char *v, const char *rest)
{
    if (e->p->lanes == 4)
        snprintf(buf, n, "s->%s[%s >> 2]%s[%s & 3]", array, v, rest, v);
    else
        snprintf(buf, n, "s->%s[%s]%s", array, v, rest);
    return buf;
}

/* Is v always a whole number (or not finite)? */
static int whole(const Emitter *e, const Val *v)
{
    return e->p->integral[v->id];
}

/* The longest delay a read of line k may ask for: its size, a constant,
 * for a line sized in samples; for one sized in time, that time at the
 * rate the patch was initialised with (s->dszK, set by init), so that a
 * time means the same at every rate. */
static const char *delay_limit(const DelaySlot *d, int k, char *buf, size_t n)
{
    if (d->seconds > 0)
        snprintf(buf, n, "s->dsz%d", k);
    else
        snprintf(buf, n, "%d.0f", d->size);
    return buf;
}

/* ---- references ------------------------------------------------------------------ */

static void literal(char *buf, size_t n, double k)
{
    float f = (float)k;
    if (isnan(f)) {
        snprintf(buf, n, "__builtin_nanf(\"\")");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, n, f > 0 ? "__builtin_inff()" : "(-__builtin_inff())");
        return;
    }
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.9g", (double)f);
    if (!strpbrk(tmp, ".e"))
        strcat(tmp, ".0");
    snprintf(buf, n, "%s%sf", f < 0 ? "(" : "", tmp);
    if (f < 0)
        strcat(buf, ")");
}

/* The first table with table k's data (tables read from one file by
 * several instances share it): its tabdataN array holds it. */
static int data_owner(const Ir *ir, int k)
{
    const TableSlot *tb = ir->tables.items[k];
    for (int j = 0; j < k; j++)
        if (((const TableSlot *)ir->tables.items[j])->data == tb->data)
            return j;
    return k;
}

/* The tables read from files: their data in the module, each file's
 * channel once, every float printed so that it reads back exactly. */
static void emit_table_data(Emitter *e)
{
    EmitText *t = e->t;
    for (int k = 0; k < e->ir->tables.n; k++) {
        const TableSlot *tb = e->ir->tables.items[k];
        if (!tb->data || !e->p->table_live[k] || data_owner(e->ir, k) != k)
            continue;
        text_printf(t, "static const float tabdata%d[%d] = { /* %s */\n", k, tb->size, tb->name);
        char lit[64];
        for (int i = 0; i < tb->size; i++) {
            literal(lit, sizeof lit, tb->data[i]);
            text_printf(t, "%s%s,%s", i % 8 ? " " : "    ", lit, i % 8 == 7 || i == tb->size - 1 ? "\n" : "");
        }
        text_puts(t, "};\n\n");
    }
}

/* How code in context `ctx` names Val v. `in_init`: inside init(), where
 * init values are locals; in reset code they are read from s->init[]. */
static const char *ref(Emitter *e, const Val *v, int ctx, char *buf, size_t n)
{
    int vector = is_vec(e, ctx);
    if (e->steady && ctx == USE_PAUDIO) {
        if (e->p->steady_truth[v->id] >= 0) {
            snprintf(buf, n, "%s", e->p->steady_truth[v->id] ? "1.0f" : "0.0f");
            return buf;
        }
        if (e->p->steady_alias[v->id])
            v = e->p->steady_alias[v->id];
    }
    if (v->op == V_CONST) {
        char lit[64];
        literal(lit, sizeof lit, v->k);
        if (vector)
            snprintf(buf, n, "amp_splat(%s)", lit);
        else
            snprintf(buf, n, "%s", lit);
        return buf;
    }
    if (v->op == V_STATE) {
        if (e->cur_loop >= 0 && e->p->loop_of[v->id] >= 0 && e->p->loop_of[v->id] != e->cur_loop)
            snprintf(buf, n, "AMP_ROW_AT(cx, %d, i)", e->cx_slot[v->id]);
        else
            snprintf(buf, n, "st%d", v->idx);
        return buf;
    }
    if (ctx == USE_RESET) {
        snprintf(buf, n, "s->init[%d]", e->p->init_slot[v->id]);
        return buf;
    }
    if (vector && v->sec == SEC_PATCH)
        snprintf(buf, n, "vx%d", v->id);
    else
        snprintf(buf, n, "x%d", v->id);
    return buf;
}

static const char *func_c(Func f)
{
    switch (f) {
    case F_ABS: return "abs";
    default: return func_name(f);
    }
}

static const char *compare_op(ValOp op)
{
    static const char *ops[] = { [V_LT] = "<", [V_LE] = "<=", [V_GT] = ">", [V_GE] = ">=",
                                 [V_EQ] = "==", [V_NE] = "!=" };
    return ops[op];
}

/* Val o read as a condition in context ctx: an inline comparison (a mask
 * in vector code, an int in scalar code), or the value tested against 0. */
static const char *cond(Emitter *e, const Val *o, int ctx, char *buf, size_t n)
{
    char x[96], y[96];
    if (e->steady && ctx == USE_PAUDIO && e->p->steady_truth[o->id] >= 0) {
        snprintf(buf, n, "%d", e->p->steady_truth[o->id]);
        return buf;
    }
    if (e->steady && ctx == USE_PAUDIO && e->p->steady_alias[o->id])
        o = e->p->steady_alias[o->id];
    if (e->p->inlined[o->id]) {
        snprintf(buf, n, "(%s %s %s)", ref(e, o->a, ctx, x, sizeof x), compare_op(o->op),
                 ref(e, o->b, ctx, y, sizeof y));
        return buf;
    }
    ref(e, o, ctx, x, sizeof x);
    snprintf(buf, n, is_vec(e, ctx) ? "amp_nz(%s)" : "(%s != 0.0f)", x);
    return buf;
}

/* Print `const T x<id> = <expression>;` for one Val in context ctx. */
static void emit_val(Emitter *e, const Val *v, int ctx, const char *indent)
{
    int vector = is_vec(e, ctx);
    int voice = ctx == USE_VCTRL || ctx == USE_VAUDIO;
    const char *T = vector ? "v4f" : "float";
    char a[256] = "", b[256] = "", c[96] = "";
    int conds = v->op == V_SELECT || v->op == V_AND || v->op == V_OR || v->op == V_NOT;
    if (v->a) (conds ? cond : ref)(e, v->a, ctx, a, sizeof a);
    if (v->b) (v->op == V_AND || v->op == V_OR ? cond : ref)(e, v->b, ctx, b, sizeof b);
    if (v->c) ref(e, v->c, ctx, c, sizeof c);
    EmitText *t = e->t;
    text_printf(t, "%sconst %s x%d = ", indent, T, v->id);
    int flushed = e->p->flush[v->id] && ctx != USE_INIT && ctx != USE_TABLE;
    if (flushed)
        text_puts(t, vector ? "amp_flush(" : "amp_flushf(");
    const char *zero = vector ? "amp_splat(0.0f)" : "0.0f";
    switch (v->op) {
    case V_SR: text_puts(t, ctx == USE_INIT ? "sr" : "s->sr"); break;
    case V_PARAM: text_printf(t, "s->pv[%d]", v->idx); break;
    case V_NOTE: {
        static const char *fields[] = { "freq", "key", "vel", "gate" };
        text_printf(t, vector ? "*(const v4f *)&s->vt.%s[4 * g]" : "s->vt.%s[g]", fields[v->idx]);
        break;
    }
    case V_INPUT: text_printf(t, "in[%d][pos + i]", v->idx); break;
    case V_NOISE:
        text_printf(t, vector ? "amp_noise(&nz%d)" : "amp_noise(&nz%d)[0]", v->idx);
        break;
    case V_VOICEBUS: text_printf(t, "vb%d[i]", v->idx); break;
    case V_TINDEX: text_puts(t, "(float)ti"); break;
    case V_DELAY_READ: {
        DelaySlot *d = e->ir->delays.items[v->idx];
        int w = whole(e, v->a);
        if (plan_fixed_tap(v) && e->run_tap && e->run_tap[v->id]) {
            if (w)
                text_printf(t, "t%d[j]", v->id);
            else
                text_printf(t, "amp_tap_lerpf(t%d[j], tb%d[j], df%d)", v->id, v->id, v->id);
            break;
        }
        if (plan_fixed_tap(v) && w) {
            text_printf(t, "s->dl%d[(dp - dk%d) & %du]", v->idx, v->id, d->len - 1);
            break;
        }
        if (plan_fixed_tap(v)) {
            text_printf(t, "amp_delay_tapf(s->dl%d, dp, %d, dk%d, df%d)", v->idx, d->len - 1, v->id, v->id);
            break;
        }
        char lim[32];
        text_printf(t, vector ? "amp_delay_read4%s(dl%d, dp, %d, %s, %s)"
                       : voice ? "amp_delay_read%sf(dl%d, dp, %d, %s, %s)" : "amp_delay_read%sf(s->dl%d, dp, %d, %s, %s)",
                    w ? "i" : "", v->idx, d->len - 1, a, delay_limit(d, v->idx, lim, sizeof lim));
        break;
    }
    case V_SAMPLE_INFO:
        text_printf(t, v->idx % 2 ? "s->smp[%d].rate" : "(float)s->smp[%d].frames", v->idx / 2);
        break;
    case V_SAMPLE_READ: {
        static const char *const reads[] = { "at", "lerp", "loop" };
        text_printf(t, "amp_sample_%s%s(&s->smp[%d], %d, %s)", reads[v->idx / 2 % 4], vector ? "4" : "f",
                    v->idx / 8, v->idx % 2, a);
        break;
    }
    case V_TABLE_AT:
    case V_TABLE_LERP: {
        TableSlot *tb = e->ir->tables.items[v->idx];
        if (tb->data)
            text_printf(t, "amp_table_%s%s(tabdata%d, %d, %s)", v->op == V_TABLE_AT ? "at" : "lerp",
                        vector ? "4" : "f", data_owner(e->ir, v->idx), tb->size, a);
        else
            text_printf(t, "amp_table_%s%s(s->tab%d, %d, %s)", v->op == V_TABLE_AT ? "at" : "lerp",
                        vector ? "4" : "f", v->idx, tb->size, a);
        break;
    }
    case V_NEG: text_printf(t, "-%s", a); break;
    case V_ADD: text_printf(t, "%s + %s", a, b); break;
    case V_SUB: text_printf(t, "%s - %s", a, b); break;
    case V_MUL: text_printf(t, "%s * %s", a, b); break;
    case V_DIV: text_printf(t, "%s / %s", a, b); break;
    case V_MOD: text_printf(t, vector ? "amp_mod(%s, %s)" : "amp_floormodf(%s, %s)", a, b); break;
    case V_NOT:
        if (vector) text_printf(t, "amp_bool(~%s)", a);
        else text_printf(t, "%s ? 0.0f : 1.0f", a);
        break;
    case V_LT: case V_LE: case V_GT: case V_GE: case V_EQ: case V_NE:
        if (vector) text_printf(t, "amp_bool(%s %s %s)", a, compare_op(v->op), b);
        else text_printf(t, "%s %s %s ? 1.0f : 0.0f", a, compare_op(v->op), b);
        break;
    case V_AND: case V_OR: {
        const char *op = v->op == V_AND ? (vector ? "&" : "&&") : (vector ? "|" : "||");
        if (vector) text_printf(t, "amp_bool(%s %s %s)", a, op, b);
        else text_printf(t, "(%s %s %s) ? 1.0f : 0.0f", a, op, b);
        break;
    }
    case V_SELECT:
        if (!vector) {
            text_printf(t, "%s ? %s : %s", a, b, c);
            break;
        }
        switch (plan_select_shape(v)) {
        case SEL_MIN: text_printf(t, "amp_min(%s, %s)", b, c); break;
        case SEL_MAX: text_printf(t, "amp_max(%s, %s)", b, c); break;
        case SEL_BOOL: text_printf(t, "amp_bool(%s)", a); break;
        case SEL_AND: text_printf(t, "amp_and(%s, %s)", a, b); break;
        case SEL_ANDNOT: text_printf(t, "amp_andnot(%s, %s)", a, c); break;
        case SEL_NEG_B: text_printf(t, "amp_negif(%s, %s)", a, c); break;
        case SEL_NEG_C: case SEL_SIGN: text_printf(t, "amp_negif(~%s, %s)", a, b); break;
        default: text_printf(t, "amp_sel(%s, %s, %s)", a, b, c); break;
        }
        break;
    case V_CLAMP: text_printf(t, vector ? "amp_clamp(%s, %s, %s)" : "amp_clampf(%s, %s, %s)", a, b, c); break;
    case V_FUNC1: text_printf(t, vector ? "amp_%s(%s)" : "amp_%sf(%s)", func_c((Func)v->idx), a); break;
    case V_FUNC2: text_printf(t, vector ? "amp_%s(%s, %s)" : "amp_%sf(%s, %s)", func_c((Func)v->idx), a, b); break;
    default: text_puts(t, zero); break;
    }
    text_puts(t, flushed ? ");\n" : ";\n");
}

/* ---- extern slots (Faust programs) ------------------------------------------------------- */

/* How extern code names v for one voice: lane l of a voice vector, the
 * scalar of a patch value, a literal. */
static const char *extern_value(Emitter *e, const Val *v, int ctx, char *buf, size_t n)
{
    if (v->op == V_CONST) {
        literal(buf, n, v->k);
        return buf;
    }
    if (!is_vec(e, ctx))
        return ref(e, v, ctx, buf, n);
    if (v->sec == SEC_PATCH && v->rate <= RATE_CONTROL)
        return ref(e, v, USE_PCTRL, buf, n);
    char r[96];
    ref(e, v, ctx, r, sizeof r);
    snprintf(buf, n, "%s[l]", r);
    return buf;
}

/* The dsp struct and control arrays of extern k, in the scope of the
 * voice slot `vs` when the instance is per voice. */
static void extern_names(const ExternSlot *x, int k, char *dsp, char *ic, char *fc, size_t n)
{
    const char *at = x->sec == SEC_VOICE ? "[vs]" : "";
    snprintf(dsp, n, "s->fx%d%s", k, at);
    snprintf(ic, n, "s->fic%d%s", k, at);
    snprintf(fc, n, "s->ffc%d%s", k, at);
}

/* Open the loop over the live voices of group g (vector code: its lanes). */
static void open_lanes(Emitter *e, const char *indent)
{
    if (e->p->lanes == 4)
        text_printf(e->t, "%sfor (int l = 0; l < 4 && 4 * g + l < s->vt.live; l++) {\n"
                          "%s    const int vs = 4 * g + l;\n", indent, indent);
    else
        text_printf(e->t, "%s{\n%s    const int vs = g;\n", indent, indent);
}

/* Write each zone and run control(). */
static void emit_extern_control(Emitter *e, int k, int ctx, const char *indent)
{
    ExternSlot *x = e->ir->externs.items[k];
    const FaustProgram *fp = x->faust;
    char dsp[64], ic[64], fc[64], buf[128];
    extern_names(x, k, dsp, ic, fc, sizeof dsp);
    for (int i = 0; i < x->n_param; i++)
        text_printf(e->t, "%s%s.%s = %s; /* %s */\n", indent, dsp, fp->controls[i].zone,
                    extern_value(e, x->param[i], ctx, buf, sizeof buf), fp->controls[i].name);
    text_printf(e->t, "%scontrol%s(&%s, %s, %s);\n", indent, fp->cname, dsp, ic, fc);
}

/* Control-tick work of the externs of one section whose params are at
 * most control rate. */
static void emit_extern_controls(Emitter *e, Section sec, const char *indent)
{
    char inner[64];
    snprintf(inner, sizeof inner, "%s    ", indent);
    for (int k = 0; k < e->ir->externs.n; k++) {
        ExternSlot *x = e->ir->externs.items[k];
        if (!e->p->extern_live[k] || x->sec != sec || x->param_rate == RATE_AUDIO)
            continue;
        text_printf(e->t, "%s/* Faust node '%s' (%s): control */\n", indent, x->name, x->faust->name);
        if (sec == SEC_VOICE) {
            open_lanes(e, indent);
            emit_extern_control(e, k, USE_VCTRL, inner);
            text_printf(e->t, "%s}\n", indent);
        } else {
            emit_extern_control(e, k, USE_PCTRL, indent);
        }
    }
}

/* One sample of extern k: its outputs in fo<k>[]. */
static void emit_extern_call(Emitter *e, int k, int ctx, const char *indent)
{
    ExternSlot *x = e->ir->externs.items[k];
    const FaustProgram *fp = x->faust;
    EmitText *t = e->t;
    char dsp[64], ic[64], fc[64], buf[128], inner[64];
    extern_names(x, k, dsp, ic, fc, sizeof dsp);
    snprintf(inner, sizeof inner, "%s    ", indent);
    int vec = is_vec(e, ctx);
    text_printf(t, "%s/* Faust node '%s' (%s): one sample */\n", indent, x->name, fp->name);
    text_printf(t, "%s%s fo%d[%d];\n", indent, vec ? "v4f" : "float", k, x->n_out);
    if (vec)
        text_printf(t, "%sfor (int o = 0; o < %d; o++)\n%s    fo%d[o] = amp_splat(0.0f);\n", indent, x->n_out,
                    indent, k);
    if (x->sec == SEC_VOICE)
        open_lanes(e, indent);
    else
        text_printf(t, "%s{\n", indent);
    if (x->param_rate == RATE_AUDIO)
        emit_extern_control(e, k, ctx, inner);
    text_printf(t, "%sfloat fi[%d] = { ", inner, x->n_in > 0 ? x->n_in : 1);
    for (int i = 0; i < x->n_in; i++)
        text_printf(t, "%s%s", i ? ", " : "", extern_value(e, x->in[i], ctx, buf, sizeof buf));
    text_puts(t, x->n_in ? " };\n" : "0.0f };\n");
    if (vec) {
        text_printf(t, "%sfloat fl[%d];\n", inner, x->n_out);
        text_printf(t, "%scompute%s(&%s, fi, fl, %s, %s);\n", inner, fp->cname, dsp, ic, fc);
        text_printf(t, "%sfor (int o = 0; o < %d; o++)\n%s    fo%d[o][l] = fl[o];\n", inner, x->n_out, inner, k);
    } else {
        text_printf(t, "%scompute%s(&%s, fi, fo%d, %s, %s);\n", inner, fp->cname, dsp, k, ic, fc);
    }
    text_printf(t, "%s}\n", indent);
}

/* Print every live Val of one context, in order. */
static void emit_taps(Emitter *e, int part, const char *indent);

/* ---- oversampled regions (ir.h RegionSlot, runtime/abi/amp_oversample.h) ---- */

/* Is v computed in the sub-sample loop of its region? */
static int in_region(const Val *v)
{
    return v->region && v->rate == RATE_AUDIO;
}

/* The up- or downsampler's history of a crossing value: one array per
 * value, per voice group in the voice section. */
static const char *os_history(const Emitter *e, const Val *v, char *buf, size_t n)
{
    snprintf(buf, n, "s->os%c%d%s", v->op == V_OS_IN ? 'u' : 'd', v->id, v->sec == SEC_VOICE ? "[g]" : "");
    return buf;
}

static int emit_skips(const Emitter *e, const Val *v, int ctx)
{
    if (!v->live || v->op == V_CONST || v->op == V_STATE || e->p->dep_i[v->id] || e->p->inlined[v->id] ||
        plan_ctx_of(v) != ctx)
        return 1;
    return v->op == V_NEG && !e->p->uses[v->id] && !e->p->muses[v->id];
}

/* Region r, once per sample: its inputs upsampled, then factor times its
 * values and state updates, each output kept for the downsampler. */
static void emit_region(Emitter *e, int r, int ctx, const char *indent)
{
    const Ir *ir = e->ir;
    const RegionSlot *rs = ir->regions.items[r];
    EmitText *t = e->t;
    int vec = is_vec(e, ctx), n = rs->factor;
    const char *T = vec ? "v4f" : "float", *fn = vec ? "4" : "f";
    char buf[96], hist[64], inner[64];
    snprintf(inner, sizeof inner, "%s    ", indent);
    e->region_done[r] = 1;
    text_printf(t, "%s/* oversample %d: instance '%s' */\n", indent, n, rs->name);
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (v->live && v->idx == r && (v->op == V_OS_IN || v->op == V_OS_OUT))
            text_printf(t, "%s%s u%d[%d];\n", indent, T, v->id, n);
        if (v->live && v->idx == r && v->op == V_OS_IN)
            text_printf(t, "%samp_os_up%s(%s, dp, %d, %s, u%d);\n", indent, fn, os_history(e, v, hist, sizeof hist),
                        n, ref(e, v->a, ctx, buf, sizeof buf), v->id);
    }
    text_printf(t, "%sfor (int os = 0; os < %d; os++) {\n", indent, n);
    for (int i = 0; i < ir->vals.n; i++) {
        Val *v = ir->vals.items[i];
        if (v->region != r + 1 || !in_region(v) || emit_skips(e, v, ctx))
            continue;
        if (v->op == V_OS_IN)
            text_printf(t, "%sconst %s x%d = u%d[os];\n", inner, T, v->id, v->id);
        else
            emit_val(e, v, ctx, inner);
    }
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (v->live && v->idx == r && v->op == V_OS_OUT)
            text_printf(t, "%su%d[os] = %s;\n", inner, v->id, ref(e, v->a, ctx, buf, sizeof buf));
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < ir->states.n; k++) {
            StateSlot *s = ir->states.items[k];
            if (!e->p->state_live[k] || s->region != r + 1 || s->end == s->start)
                continue;
            if (pass == 0)
                text_printf(t, "%sconst %s n%d = %s;\n", inner, T, k, ref(e, s->end, ctx, buf, sizeof buf));
            else
                text_printf(t, "%sst%d = n%d;\n", inner, k, k);
        }
    }
    text_printf(t, "%s}\n", indent);
}

static void emit_downsample(Emitter *e, const Val *v, int ctx, const char *indent)
{
    const RegionSlot *rs = e->ir->regions.items[v->idx];
    char hist[64];
    if (!e->region_done[v->idx])
        emit_region(e, v->idx, ctx, indent);
    int vec = is_vec(e, ctx);
    text_printf(e->t, "%sconst %s x%d = amp_os_down%s(%s, dp, %d, u%d);\n", indent, vec ? "v4f" : "float", v->id,
                vec ? "4" : "f", os_history(e, v, hist, sizeof hist), rs->factor, v->id);
}

static void emit_context(Emitter *e, int ctx, const char *indent)
{
    memset(e->extern_called, 0, (size_t)e->ir->externs.n + 1);
    memset(e->region_done, 0, (size_t)e->ir->regions.n + 1);
    for (int i = 0; i < e->ir->vals.n; i++) {
        Val *v = e->ir->vals.items[i];
        if (in_region(v) && !emit_skips(e, v, ctx)) {
            if (!e->region_done[v->region - 1])
                emit_region(e, v->region - 1, ctx, indent);
            continue;
        }
        if (!v->live || v->op == V_CONST || v->op == V_STATE || e->p->dep_i[v->id] || e->p->inlined[v->id] || plan_ctx_of(v) != ctx)
            continue;
        if (v->op == V_NEG && !e->p->uses[v->id] && !e->p->muses[v->id])
            continue;   /* read only by selects that flip signs instead */
        if (ctx == USE_PAUDIO && e->cur_loop >= 0 && e->p->loop_of[v->id] != e->cur_loop)
            continue;
        if (ctx == USE_PAUDIO && e->steady && (!e->p->steady_live[v->id] || e->p->steady_live[v->id] > e->steady ||
                                               e->p->steady_alias[v->id] || e->p->steady_truth[v->id] >= 0))
            continue;
        if (v->op == V_OS_OUT) {
            emit_downsample(e, v, ctx, indent);
            continue;
        }
        if (v->op == V_EXTERN_OUT) {
            if (!e->extern_called[v->idx]) {
                emit_extern_call(e, v->idx, ctx, indent);
                e->extern_called[v->idx] = 1;
            }
            text_printf(e->t, "%sconst %s x%d = fo%d[%d];\n", indent, is_vec(e, ctx) ? "v4f" : "float", v->id,
                        v->idx, (int)v->k);
            continue;
        }
        emit_val(e, v, ctx, indent);
        if (ctx == USE_PAUDIO && e->cur_loop >= 0 && e->p->cross[v->id])
            text_printf(e->t, "%sAMP_ROW_AT(cx, %d, i) = x%d;\n", indent, e->cx_slot[v->id], v->id);
    }
    if (ctx == USE_PCTRL)
        emit_taps(e, 1, indent);
}

/* Fixed delay taps, once per control tick after the control values they
 * read: part 1 clamps the delay (dd), part 2 splits it (dk, df). */
static void emit_taps(Emitter *e, int part, const char *indent)
{
    for (int i = 0; i < e->ir->vals.n; i++) {
        Val *v = e->ir->vals.items[i];
        if (!v->live || !plan_fixed_tap(v))
            continue;
        DelaySlot *d = e->ir->delays.items[v->idx];
        char a[96], lim[32];
        if (part == 1) {
            text_printf(e->t, "%sconst float dd%d = amp_delay_clamp(%s, %s);\n", indent, v->id,
                        ref(e, v->a, USE_PCTRL, a, sizeof a), delay_limit(d, v->idx, lim, sizeof lim));
            continue;
        }
        text_printf(e->t, "%sconst unsigned dk%d = (unsigned)(int)dd%d;\n", indent, v->id, v->id);
        if (!whole(e, v->a))
            text_printf(e->t, "%sconst float df%d = dd%d - (float)(int)dk%d;\n", indent, v->id, v->id, v->id);
    }
}

/* Patch values read by voice code, splatted once per group. */
static void emit_splats(Emitter *e, const char *indent)
{
    if (e->p->lanes == 1)
        return;
    for (int i = 0; i < e->ir->vals.n; i++) {
        Val *v = e->ir->vals.items[i];
        if (!v->live || v->op == V_CONST || v->sec != SEC_PATCH || v->rate == RATE_AUDIO)
            continue;
        if (e->p->uses[v->id] & (USE_VCTRL | USE_VAUDIO))
            text_printf(e->t, "%sconst v4f vx%d = amp_splat(x%d);\n", indent, v->id, v->id);
    }
}

/* ---- the state struct ---------------------------------------------------------------- */

/* Is any delay line of section sec (-1: of either) live? */
static int any_delay(const Emitter *e, int sec)
{
    for (int k = 0; k < e->ir->delays.n; k++) {
        const DelaySlot *d = e->ir->delays.items[k];
        if (e->p->delay_live[k] && (sec < 0 || (int)d->sec == sec))
            return 1;
    }
    for (int i = 0; i < e->ir->vals.n; i++) {     /* the oversamplers run on the same counter */
        const Val *v = e->ir->vals.items[i];
        if (v->live && (v->op == V_OS_IN || v->op == V_OS_OUT) && (sec < 0 || (int)v->sec == sec))
            return 1;
    }
    return 0;
}

/* Every live crossing of an oversampled region, in order: f(e, v, arg). */
static int os_history_len(const Val *v)
{
    return v->op == V_OS_IN ? AMP_OS_UP_LEN : AMP_OS_DOWN_LEN;
}

static int is_crossing(const Val *v)
{
    return v->live && (v->op == V_OS_IN || v->op == V_OS_OUT);
}

static int np1(int n)
{
    return n > 0 ? n : 1;
}

static void emit_struct(Emitter *e)
{
    const Lowered *u = e->u;
    const Ir *ir = e->ir;
    EmitText *t = e->t;
    text_printf(t, "typedef struct %s_state {\n", u->name);
    if (u->voices)
        text_puts(t, "    AmpVoiceTable vt;\n");
    text_puts(t, "    float sr;\n");
    text_printf(t, "    float pu[%d];   /* params as set, in the user's unit */\n", np1(u->n_params));
    text_printf(t, "    float pt[%d];   /* params' targets, in code units */\n", np1(u->n_params));
    text_printf(t, "    float pv[%d];   /* params' smoothed values */\n", np1(u->n_params));
    text_printf(t, "    float pk[%d];   /* smoothing: 1 / (time constant in samples) */\n", np1(u->n_params));
    text_printf(t, "    float init[%d]; /* init-rate values */\n", np1(e->p->n_init));
    if (e->p->cache_ctl) {
        text_printf(t, "    float ctl[%d];  /* control values, recomputed only after a param moved */\n", np1(e->p->n_ctl));
        text_puts(t, "    int ctl_valid;\n");
    }
    for (int k = 0; k < ir->states.n; k++) {
        StateSlot *s = ir->states.items[k];
        if (!e->p->state_live[k])
            continue;
        if (s->sec == SEC_VOICE)
            text_printf(t, "    %s st%d[%d]; /* %s */\n", voice_type(e), k, e->p->groups, s->name);
        else
            text_printf(t, "    float st%d; /* %s */\n", k, s->name);
    }
    for (int k = 0; k < ir->noises.n; k++) {
        NoiseSlot *ns = ir->noises.items[k];
        if (!e->p->noise_live[k])
            continue;
        if (ns->sec == SEC_VOICE)
            text_printf(t, "    v4u nz%d[%d];\n", k, e->p->groups);
        else
            text_printf(t, "    v4u nz%d;\n", k);
    }
    if (any_delay(e, -1))
        text_puts(t, "    unsigned dpos; /* samples written to every delay line (all advance together) */\n");
    for (int k = 0; k < ir->delays.n; k++) {
        DelaySlot *d = ir->delays.items[k];
        if (!e->p->delay_live[k])
            continue;
        if (d->sec == SEC_VOICE)
            text_printf(t, "    %s dl%d[%d][%d]; /* %s */\n", voice_type(e), k, e->p->groups, d->len, d->name);
        else
            text_printf(t, "    float dl%d[%d]; /* %s */\n", k, d->len, d->name);
        if (d->seconds > 0)
            text_printf(t, "    float dsz%d; /* longest delay of %s at this rate: %.9g s */\n", k, d->name, d->seconds);
    }
    for (int k = 0; k < ir->tables.n; k++) {
        TableSlot *tb = ir->tables.items[k];
        if (e->p->table_live[k] && !tb->data)
            text_printf(t, "    float tab%d[%d]; /* %s */\n", k, tb->size, tb->name);
    }
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (!is_crossing(v))
            continue;
        const RegionSlot *rs = ir->regions.items[v->idx];
        const char *what = v->op == V_OS_IN ? "upsampler" : "downsampler";
        char c = v->op == V_OS_IN ? 'u' : 'd';
        if (v->sec == SEC_VOICE)
            text_printf(t, "    %s os%c%d[%d][%d]; /* %s of %s (x%d) */\n", voice_type(e), c, v->id, e->p->groups,
                        os_history_len(v), what, rs->name, v->id);
        else
            text_printf(t, "    float os%c%d[%d]; /* %s of %s (x%d) */\n", c, v->id, os_history_len(v), what, rs->name,
                        v->id);
    }
    for (int k = 0; k < ir->externs.n; k++) {
        ExternSlot *x = ir->externs.items[k];
        if (!e->p->extern_live[k])
            continue;
        const FaustProgram *fp = x->faust;
        char slots[32] = "";
        if (x->sec == SEC_VOICE)
            snprintf(slots, sizeof slots, "[%d]", e->p->groups * e->p->lanes);
        text_printf(t, "    %s fx%d%s; /* Faust node '%s' (%s) */\n", fp->cname, k, slots, x->name, fp->name);
        text_printf(t, "    int fic%d%s[%d];\n    float ffc%d%s[%d];\n", k, slots, fp->n_int_controls, k, slots,
                    fp->n_real_controls);
    }
    if (ir->samples.n)
        text_printf(t, "    AmpSample smp[%d]; /* sample slots, bound by the host */\n", ir->samples.n);
    text_printf(t, "} %s_state;\n\n", u->name);
}

/* ---- init, reset, voices, params ------------------------------------------------------------ */

static void emit_table_fill(Emitter *e, int k)
{
    TableSlot *tb = e->ir->tables.items[k];
    EmitText *t = e->t;
    char buf[96];
    text_printf(t, "    for (int ti = 0; ti < %d; ti++) { /* %s */\n", tb->size, tb->name);
    /* the Vals of this fill that depend on the index, in order */
    char *need = arena_alloc(e->arena, (size_t)e->ir->vals.n + 1);
    need[tb->fill->id] = 1;
    for (int i = tb->fill->id; i >= 0; i--) {
        Val *v = e->ir->vals.items[i];
        if (!need[i])
            continue;
        if (v->a) need[v->a->id] = 1;
        if (v->b) need[v->b->id] = 1;
        if (v->c) need[v->c->id] = 1;
    }
    for (int i = 0; i <= tb->fill->id; i++) {
        Val *v = e->ir->vals.items[i];
        if (need[i] && e->p->dep_i[i] && v->op != V_CONST && !e->p->inlined[i])
            emit_val(e, v, USE_INIT, "        ");
    }
    text_printf(t, "        s->tab%d[ti] = %s;\n    }\n", k, ref(e, tb->fill, USE_INIT, buf, sizeof buf));
}

/* Faust instances at init: each program's static tables once, then the
 * constants and UI defaults of every instance (the state is cleared by
 * p_reset). */
static void emit_extern_init(Emitter *e)
{
    const Ir *ir = e->ir;
    for (int k = 0; k < ir->externs.n; k++) {
        ExternSlot *x = ir->externs.items[k];
        if (!e->p->extern_live[k])
            continue;
        const char *cn = x->faust->cname;
        int first = 1;
        for (int j = 0; j < k; j++) {
            ExternSlot *y = ir->externs.items[j];
            if (e->p->extern_live[j] && y->faust == x->faust)
                first = 0;
        }
        const char *at = x->sec == SEC_VOICE ? "[0]" : "";
        if (first)
            text_printf(e->t, "    staticInit%s(&s->fx%d%s, (int)sr);\n", cn, k, at);
        if (x->sec == SEC_VOICE) {
            text_printf(e->t, "    for (int v = 0; v < %d; v++) {\n", e->p->groups * e->p->lanes);
            text_printf(e->t, "        instanceConstants%s(&s->fx%d[v], (int)sr);\n", cn, k);
            text_printf(e->t, "        instanceResetUserInterface%s(&s->fx%d[v]);\n    }\n", cn, k);
        } else {
            text_printf(e->t, "    instanceConstants%s(&s->fx%d, (int)sr);\n", cn, k);
            text_printf(e->t, "    instanceResetUserInterface%s(&s->fx%d);\n", cn, k);
        }
    }
}

static void emit_init(Emitter *e)
{
    const Lowered *u = e->u;
    const Ir *ir = e->ir;
    EmitText *t = e->t;
    text_printf(t, "static void p_init(void *state, float sr)\n{\n    %s_state *s = state;\n", u->name);
    text_puts(t, "    memset(s, 0, sizeof *s);\n    s->sr = sr;\n");
    for (int k = 0; k < e->ir->delays.n; k++) {
        const DelaySlot *d = e->ir->delays.items[k];
        char lit[48];
        if (e->p->delay_live[k] && d->seconds > 0) {
            literal(lit, sizeof lit, d->seconds);
            text_printf(t, "    s->dsz%d = amp_clampf(amp_ceilf(%s * sr), 1.0f, %d.0f);\n", k, lit, d->size);
        }
    }
    if (u->voices) {
        text_printf(t, "    s->vt.max_voices = %d;\n    s->vt.steal = %d;\n    s->vt.sample_rate = sr;\n",
                    u->voices, u->steal);
        text_puts(t, "    for (int v = 0; v < AMP_VOICE_SLOTS; v++)\n        s->vt.note_id[v] = -1;\n");
    }
    for (int i = 0; i < u->n_params; i++) {
        UnitParam *p = &u->params[i];
        char lit[64];
        literal(lit, sizeof lit, p->def);
        text_printf(t, "    s->pu[%d] = %s;\n", i, lit);
        if (p->unit == AMP_UNIT_DB)
            text_printf(t, "    s->pt[%d] = amp_db2linf(s->pu[%d]);\n", i, i);
        else
            text_printf(t, "    s->pt[%d] = s->pu[%d];\n", i, i);
        if (p->smooth > 0) {
            literal(lit, sizeof lit, p->smooth);
            text_printf(t, "    s->pk[%d] = 1.0f / (%s * sr);\n", i, lit);
        }
    }
    char *filled = arena_alloc(e->arena, (size_t)ir->tables.n + 1);
    char buf[96];
    for (int i = 0; i < ir->vals.n; i++) {
        Val *v = ir->vals.items[i];
        if (!v->live || v->rate != RATE_INIT || e->p->dep_i[v->id] || e->p->inlined[v->id] || v->op == V_CONST)
            continue;
        if ((v->op == V_TABLE_AT || v->op == V_TABLE_LERP) && !filled[v->idx] &&
            !((TableSlot *)ir->tables.items[v->idx])->data) {
            emit_table_fill(e, v->idx);
            filled[v->idx] = 1;
        }
        emit_val(e, v, USE_INIT, "    ");
        if (e->p->init_slot[v->id] >= 0)
            text_printf(t, "    s->init[%d] = %s;\n", e->p->init_slot[v->id], ref(e, v, USE_INIT, buf, sizeof buf));
    }
    for (int k = 0; k < ir->tables.n; k++)
        if (e->p->table_live[k] && !filled[k] && !((TableSlot *)ir->tables.items[k])->data)
            emit_table_fill(e, k);
    emit_extern_init(e);
    text_puts(t, "    p_reset(s);\n}\n\n");
}

static void emit_reset_lanes(Emitter *e, const char *v)
{
    const Ir *ir = e->ir;
    EmitText *t = e->t;
    char buf[96], name[32], at[96];
    for (int k = 0; k < ir->states.n; k++) {
        StateSlot *s = ir->states.items[k];
        if (!e->p->state_live[k] || s->sec != SEC_VOICE)
            continue;
        snprintf(name, sizeof name, "st%d", k);
        text_printf(t, "    %s = %s;\n", lane(e, at, sizeof at, name, v, ""), ref(e, s->init, USE_RESET, buf, sizeof buf));
    }
    for (int k = 0; k < ir->delays.n; k++) {
        DelaySlot *d = ir->delays.items[k];
        if (!e->p->delay_live[k] || d->sec != SEC_VOICE)
            continue;
        snprintf(name, sizeof name, "dl%d", k);
        text_printf(t, "    for (int j = 0; j < %d; j++)\n        %s = 0.0f;\n", d->len, lane(e, at, sizeof at, name, v, "[j]"));
    }
    for (int k = 0; k < ir->externs.n; k++) {
        ExternSlot *x = ir->externs.items[k];
        if (e->p->extern_live[k] && x->sec == SEC_VOICE)
            text_printf(t, "    instanceClear%s(&s->fx%d[%s]);\n", x->faust->cname, k, v);
    }
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *x = ir->vals.items[i];
        if (!is_crossing(x) || x->sec != SEC_VOICE)
            continue;
        snprintf(name, sizeof name, "os%c%d", x->op == V_OS_IN ? 'u' : 'd', x->id);
        text_printf(t, "    for (int j = 0; j < %d; j++)\n        %s = 0.0f;\n", os_history_len(x),
                    lane(e, at, sizeof at, name, v, "[j]"));
    }
}

static void emit_reset(Emitter *e)
{
    const Lowered *u = e->u;
    const Ir *ir = e->ir;
    EmitText *t = e->t;
    char buf[96];
    text_printf(t, "static void p_reset(void *state)\n{\n    %s_state *s = state;\n", u->name);
    for (int i = 0; i < u->n_params; i++)
        text_printf(t, "    s->pv[%d] = s->pt[%d];\n", i, i);
    if (e->p->cache_ctl)
        text_puts(t, "    s->ctl_valid = 0;\n");
    for (int k = 0; k < ir->states.n; k++) {
        StateSlot *s = ir->states.items[k];
        if (e->p->state_live[k] && s->sec == SEC_PATCH)
            text_printf(t, "    s->st%d = %s;\n", k, ref(e, s->init, USE_RESET, buf, sizeof buf));
    }
    for (int k = 0; k < ir->noises.n; k++) {
        NoiseSlot *ns = ir->noises.items[k];
        if (!e->p->noise_live[k])
            continue;
        if (ns->sec == SEC_VOICE)
            text_printf(t, "    for (int g = 0; g < %d; g++)\n        s->nz%d[g] = amp_noise_seed(%uu + 4u * (uint32_t)g);\n",
                        e->p->groups, k, ns->seed);
        else
            text_printf(t, "    s->nz%d = amp_noise_seed(%uu);\n", k, ns->seed);
    }
    if (any_delay(e, -1))
        text_puts(t, "    s->dpos = 0;\n");
    for (int k = 0; k < ir->delays.n; k++) {
        if (!e->p->delay_live[k])
            continue;
        text_printf(t, "    memset(s->dl%d, 0, sizeof s->dl%d);\n", k, k);
    }
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (is_crossing(v))
            text_printf(t, "    memset(s->os%c%d, 0, sizeof s->os%c%d);\n", v->op == V_OS_IN ? 'u' : 'd', v->id,
                        v->op == V_OS_IN ? 'u' : 'd', v->id);
    }
    for (int k = 0; k < ir->externs.n; k++) {
        ExternSlot *x = ir->externs.items[k];
        if (e->p->extern_live[k] && x->sec == SEC_PATCH)
            text_printf(t, "    instanceClear%s(&s->fx%d);\n", x->faust->cname, k);
    }
    if (u->voices) {
        text_puts(t, "    s->vt.live = 0;\n");
        text_puts(t, "    for (int v = 0; v < AMP_VOICE_SLOTS; v++) {\n");
        text_puts(t, "        s->vt.note_id[v] = -1;\n        s->vt.gain[v] = 0.0f;\n        s->vt.gain_step[v] = 0.0f;\n");
        text_puts(t, "        s->vt.gate[v] = 0.0f;\n        s->vt.level[v] = 0.0f;\n    }\n");
        text_printf(t, "    for (int v = 0; v < %d; v++)\n        p_voice_reset(s, v);\n", e->p->groups * e->p->lanes);
    }
    text_puts(t, "}\n\n");
}

static void emit_voice_fns(Emitter *e)
{
    const Lowered *u = e->u;
    const Ir *ir = e->ir;
    EmitText *t = e->t;
    text_printf(t, "static void p_voice_reset(void *state, int v)\n{\n    %s_state *s = state;\n", u->name);
    text_printf(t, "    if (v < 0 || v >= %d)\n        return;\n", e->p->groups * e->p->lanes);
    emit_reset_lanes(e, "v");
    text_puts(t, "    (void)s;\n}\n\n");

    text_printf(t, "static void p_voice_move(void *state, int to, int from)\n{\n    %s_state *s = state;\n", u->name);
    text_printf(t, "    if (to < 0 || from < 0 || to >= %d || from >= %d || to == from)\n        return;\n",
                e->p->groups * e->p->lanes, e->p->groups * e->p->lanes);
    char name[32], a[96], b[96];
    for (int k = 0; k < ir->states.n; k++) {
        StateSlot *s = ir->states.items[k];
        if (!e->p->state_live[k] || s->sec != SEC_VOICE)
            continue;
        snprintf(name, sizeof name, "st%d", k);
        text_printf(t, "    %s = %s;\n", lane(e, a, sizeof a, name, "to", ""), lane(e, b, sizeof b, name, "from", ""));
    }
    for (int k = 0; k < ir->noises.n; k++) {
        NoiseSlot *ns = ir->noises.items[k];
        if (!e->p->noise_live[k] || ns->sec != SEC_VOICE)
            continue;
        snprintf(name, sizeof name, "nz%d", k);
        text_printf(t, "    %s = %s;\n", lane(e, a, sizeof a, name, "to", ""), lane(e, b, sizeof b, name, "from", ""));
    }
    for (int k = 0; k < ir->delays.n; k++) {
        DelaySlot *d = ir->delays.items[k];
        if (!e->p->delay_live[k] || d->sec != SEC_VOICE)
            continue;
        snprintf(name, sizeof name, "dl%d", k);
        text_printf(t, "    for (int j = 0; j < %d; j++)\n        %s = %s;\n", d->len,
                    lane(e, a, sizeof a, name, "to", "[j]"), lane(e, b, sizeof b, name, "from", "[j]"));
    }
    for (int k = 0; k < ir->externs.n; k++) {
        ExternSlot *x = ir->externs.items[k];
        if (!e->p->extern_live[k] || x->sec != SEC_VOICE)
            continue;
        text_printf(t, "    s->fx%d[to] = s->fx%d[from];\n", k, k);
        text_printf(t, "    memcpy(s->fic%d[to], s->fic%d[from], sizeof s->fic%d[to]);\n", k, k, k);
        text_printf(t, "    memcpy(s->ffc%d[to], s->ffc%d[from], sizeof s->ffc%d[to]);\n", k, k, k);
    }
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *x = ir->vals.items[i];
        if (!is_crossing(x) || x->sec != SEC_VOICE)
            continue;
        snprintf(name, sizeof name, "os%c%d", x->op == V_OS_IN ? 'u' : 'd', x->id);
        text_printf(t, "    for (int j = 0; j < %d; j++)\n        %s = %s;\n", os_history_len(x),
                    lane(e, a, sizeof a, name, "to", "[j]"), lane(e, b, sizeof b, name, "from", "[j]"));
    }
    text_puts(t, "    (void)s;\n}\n\n");
    text_printf(t, "static AmpVoiceTable *p_voices(void *state)\n{\n    return &((%s_state *)state)->vt;\n}\n\n", u->name);
}

static void emit_params(Emitter *e)
{
    const Lowered *u = e->u;
    EmitText *t = e->t;
    char lo[64], hi[64], st[64];
    text_printf(t, "static void p_set_param(void *state, int index, float value)\n{\n    %s_state *s = state;\n",
                u->name);
    text_puts(t, "    if (!(value == value))\n        return;\n    switch (index) {\n");
    for (int i = 0; i < u->n_params; i++) {
        UnitParam *p = &u->params[i];
        text_printf(t, "    case %d:\n", i);
        if (p->has_range) {
            literal(lo, sizeof lo, p->lo);
            literal(hi, sizeof hi, p->hi);
            text_printf(t, "        value = value < %s ? %s : value > %s ? %s : value;\n", lo, lo, hi, hi);
        }
        if (p->step > 0) {
            literal(st, sizeof st, p->step);
            if (p->has_range)
                text_printf(t, "        value = %s + amp_roundf((value - %s) / %s) * %s;\n", lo, lo, st, st);
            else
                text_printf(t, "        value = amp_roundf(value / %s) * %s;\n", st, st);
            if (p->has_range)
                text_printf(t, "        value = value > %s ? %s : value;\n", hi, hi);
        }
        text_printf(t, "        s->pu[%d] = value;\n", i);
        if (e->p->cache_ctl)
            text_puts(t, "        s->ctl_valid = 0;\n");
        text_printf(t, p->unit == AMP_UNIT_DB ? "        s->pt[%d] = amp_db2linf(value);\n" : "        s->pt[%d] = value;\n", i);
        if (p->smooth <= 0)
            text_printf(t, "        s->pv[%d] = s->pt[%d];\n", i, i);
        text_puts(t, "        break;\n");
    }
    text_puts(t, "    default:\n        break;\n    }\n    (void)s;\n}\n\n");
    if (!u->n_params) {
        text_puts(t, "static float p_get_param(const void *state, int index)\n{\n"
                     "    (void)state;\n    (void)index;\n    return 0.0f;\n}\n\n");
        return;
    }
    text_printf(t, "static float p_get_param(const void *state, int index)\n{\n    const %s_state *s = state;\n",
                u->name);
    text_printf(t, "    return index >= 0 && index < %d ? s->pu[index] : 0.0f;\n}\n\n", u->n_params);
}

/* ---- process ----------------------------------------------------------------------------- */

static void emit_state_loads(Emitter *e, Section sec, const char *indent)
{
    const Ir *ir = e->ir;
    for (int k = 0; k < ir->states.n; k++) {
        StateSlot *s = ir->states.items[k];
        if (!e->p->state_live[k] || s->sec != sec)
            continue;
        const char *cq = s->end == s->start ? "const " : "";
        if (sec == SEC_VOICE)
            text_printf(e->t, "%s%s%s st%d = s->st%d[g];\n", indent, cq, voice_type(e), k, k);
        else
            text_printf(e->t, "%s%sfloat st%d = s->st%d;\n", indent, cq, k, k);
    }
    for (int k = 0; k < ir->noises.n; k++) {
        NoiseSlot *ns = ir->noises.items[k];
        if (e->p->noise_live[k] && ns->sec == sec)
            text_printf(e->t, "%sv4u nz%d = s->nz%d%s;\n", indent, k, k, sec == SEC_VOICE ? "[g]" : "");
    }
    for (int k = 0; k < ir->delays.n; k++) {
        DelaySlot *d = ir->delays.items[k];
        if (!e->p->delay_live[k] || d->sec != sec)
            continue;
        if (sec == SEC_VOICE)
            text_printf(e->t, "%s%s *dl%d = s->dl%d[g];\n", indent, voice_type(e), k, k);
    }
}

/* One state stored at the chunk's end; flushed there when its feedback
 * loop's flushes were moved to the chunk's end (plan_chunk_flushes). */
static void emit_state_store(Emitter *e, int k, Section sec, const char *indent)
{
    const char *slot = sec == SEC_VOICE ? "[g]" : "";
    if (!e->p->flush_state[k])
        text_printf(e->t, "%ss->st%d%s = st%d;\n", indent, k, slot, k);
    else
        text_printf(e->t, "%ss->st%d%s = %s(st%d);\n", indent, k, slot,
                    sec == SEC_VOICE && e->p->lanes == 4 ? "amp_flush" : "amp_flushf", k);
}

static void emit_state_stores(Emitter *e, Section sec, const char *indent)
{
    const Ir *ir = e->ir;
    for (int k = 0; k < ir->states.n; k++) {
        StateSlot *s = ir->states.items[k];
        if (e->p->state_live[k] && s->sec == sec && s->end != s->start)
            emit_state_store(e, k, sec, indent);
    }
    for (int k = 0; k < ir->noises.n; k++) {
        NoiseSlot *ns = ir->noises.items[k];
        if (e->p->noise_live[k] && ns->sec == sec)
            text_printf(e->t, "%ss->nz%d%s = nz%d;\n", indent, k, sec == SEC_VOICE ? "[g]" : "", k);
    }
}

/* End of a sample: new state values, delay writes. Every feedback loop
 * went through a flushed value (flush.c), or has its states flushed at the
 * chunk's end (emit_state_store), so stored values need no flush of their
 * own. */
static int elsewhere(const Emitter *e, Section sec, const Val *v)
{
    return sec == SEC_PATCH && e->cur_loop >= 0 && plan_loop_at(e->p, v) != e->cur_loop;
}

/* Does this sample's code update state k? In the steady body (plan_steady.c)
 * a settled state holds its value, and a state that is not carried is
 * updated in the last sample only. */
static int updated_here(const Emitter *e, int k, Section sec)
{
    const StateSlot *s = e->ir->states.items[k];
    if (!e->p->state_live[k] || s->sec != sec || s->end == s->start || s->region || elsewhere(e, sec, s->start))
        return 0;
    if (sec != SEC_PATCH || !e->steady)
        return 1;
    return !e->p->settled[k] && (e->p->carried[k] || e->steady == 2);
}

static void emit_sample_end(Emitter *e, Section sec, const char *indent)
{
    const Ir *ir = e->ir;
    int ctx = plan_audio_ctx(sec);
    int vector = sec == SEC_VOICE && e->p->lanes == 4;
    char buf[96];
    for (int k = 0; k < ir->states.n; k++)
        if (updated_here(e, k, sec))
            text_printf(e->t, "%sconst %s n%d = %s;\n", indent, vector ? "v4f" : "float", k,
                        ref(e, ((const StateSlot *)ir->states.items[k])->end, ctx, buf, sizeof buf));
    for (int k = 0; k < ir->states.n; k++)
        if (updated_here(e, k, sec))
            text_printf(e->t, "%sst%d = n%d;\n", indent, k, k);
    for (int k = 0; k < ir->delays.n; k++) {
        DelaySlot *d = ir->delays.items[k];
        if (!e->p->delay_live[k] || d->sec != sec || elsewhere(e, sec, d->write))
            continue;
        const char *w = d->write ? ref(e, d->write, ctx, buf, sizeof buf) : vector ? "amp_splat(0.0f)" : "0.0f";
        if (sec == SEC_PATCH && e->run_write && e->run_write[k])
            text_printf(e->t, "%sAMP_FIELD_AT(s, %s_state, dl%d, w%d + (size_t)j) = %s;\n", indent, e->u->name, k, d->len, w);
        else
            text_printf(e->t, "%s%sdl%d[dp & %d] = %s;\n", indent, sec == SEC_VOICE ? "" : "s->", k, d->len - 1, w);
    }
}

static void emit_voices(Emitter *e)
{
    const Lowered *u = e->u;
    EmitText *t = e->t;
    char buf[96];
    const char *I2 = "            ", *I3 = "                ";
    int vec = e->p->lanes == 4;
    const char *T = voice_type(e);
    for (int ch = 0; ch < u->n_outputs; ch++)
        text_printf(t, "        float vb%d[AMP_CHUNK] = { 0 };\n", ch);
    text_puts(t, vec ? "        const int groups = (s->vt.live + 3) >> 2;\n" : "        const int groups = s->vt.live;\n");
    text_puts(t, "        for (int g = 0; g < groups; g++) {\n");
    emit_splats(e, I2);
    emit_context(e, USE_VCTRL, I2);
    emit_extern_controls(e, SEC_VOICE, I2);
    if (vec) {
        text_puts(t, "            v4f gain = *(const v4f *)&s->vt.gain[4 * g];\n");
        text_puts(t, "            const v4f gain_step = *(const v4f *)&s->vt.gain_step[4 * g];\n");
        text_puts(t, "            v4f peak = *(const v4f *)&s->vt.level[4 * g];\n");
    } else {
        text_puts(t, "            float gain = s->vt.gain[g];\n");
        text_puts(t, "            const float gain_step = s->vt.gain_step[g];\n");
        text_puts(t, "            float peak = s->vt.level[g];\n");
    }
    emit_state_loads(e, SEC_VOICE, I2);
    text_puts(t, "            for (int i = 0; i < len; i++) {\n");
    if (any_delay(e, SEC_VOICE))
        text_printf(t, "%sconst unsigned dp = s->dpos + (unsigned)i;\n", I3);
    /* patch inputs read by voices */
    for (int i = 0; i < e->ir->vals.n; i++) {
        Val *v = e->ir->vals.items[i];
        if (v->live && v->op == V_INPUT && (e->p->uses[v->id] & USE_VAUDIO))
            text_printf(t, vec ? "%sconst v4f vx%d = amp_splat(in[%d][pos + i]);\n"
                               : "%sconst float x%d = in[%d][pos + i];\n", I3, v->id, v->idx);
    }
    emit_context(e, USE_VAUDIO, I3);
    if (vec) {
        text_printf(t, "%sgain = amp_max(gain - gain_step, amp_splat(0.0f));\n", I3);
        text_printf(t, "%sconst v4i on = gain > amp_splat(0.0f);\n", I3);
    } else {
        text_printf(t, "%sgain = amp_maxf(gain - gain_step, 0.0f);\n", I3);
        text_printf(t, "%sconst int on = gain > 0.0f;\n", I3);
    }
    for (int ch = 0; ch < u->n_outputs; ch++) {
        const char *o = ref(e, u->voice_out[ch], USE_VAUDIO, buf, sizeof buf);
        if (vec) {
            text_printf(t, "%sconst v4f o%d = amp_sel(on, %s * gain, amp_splat(0.0f));\n", I3, ch, o);
            text_printf(t, "%speak = amp_max(peak, amp_abs(o%d));\n", I3, ch);
            text_printf(t, "%svb%d[i] += (o%d[0] + o%d[1]) + (o%d[2] + o%d[3]);\n", I3, ch, ch, ch, ch, ch);
        } else {
            text_printf(t, "%sconst %s o%d = on ? %s * gain : 0.0f;\n", I3, T, ch, o);
            text_printf(t, "%speak = amp_maxf(peak, amp_absf(o%d));\n", I3, ch);
            text_printf(t, "%svb%d[i] += o%d;\n", I3, ch, ch);
        }
    }
    emit_sample_end(e, SEC_VOICE, I3);
    text_puts(t, "            }\n");
    emit_state_stores(e, SEC_VOICE, I2);
    if (vec) {
        text_puts(t, "            *(v4f *)&s->vt.gain[4 * g] = gain;\n");
        text_puts(t, "            *(v4f *)&s->vt.level[4 * g] = peak;\n");
    } else {
        text_puts(t, "            s->vt.gain[g] = gain;\n");
        text_puts(t, "            s->vt.level[g] = peak;\n");
    }
    text_puts(t, "        }\n");
}

/* Patch control values, computed only when a param was set or is still
 * gliding (or after init/reset), kept in s->ctl[] in between: the same
 * values, so the same samples, as recomputing every tick. */
static void emit_cached_controls(Emitter *e)
{
    const Lowered *u = e->u;
    EmitText *t = e->t;
    text_puts(t, "        int fresh = !s->ctl_valid;\n");
    for (int i = 0; i < u->n_params; i++)
        if (u->params[i].smooth > 0)
            text_printf(t, "        if (s->pv[%d] != s->pt[%d]) {\n"
                           "            s->pv[%d] = amp_smooth(s->pv[%d], s->pt[%d], s->pk[%d], len);\n"
                           "            fresh = 1;\n        }\n", i, i, i, i, i, i);
    text_puts(t, "        if (fresh) {\n");
    emit_context(e, USE_PCTRL, "            ");
    for (int i = 0; i < e->ir->vals.n; i++) {
        Val *v = e->ir->vals.items[i];
        if (e->p->ctl_slot[v->id] >= 0)
            text_printf(t, "            s->ctl[%d] = %s%d;\n", e->p->ctl_slot[v->id], plan_fixed_tap(v) ? "dd" : "x", v->id);
    }
    text_puts(t, "            s->ctl_valid = 1;\n        }\n");
    for (int i = 0; i < e->ir->vals.n; i++) {
        Val *v = e->ir->vals.items[i];
        if (e->p->ctl_slot[v->id] >= 0)
            text_printf(t, "        const float %s%d = s->ctl[%d];\n", plan_fixed_tap(v) ? "dd" : "x", v->id, e->p->ctl_slot[v->id]);
    }
    emit_taps(e, 2, "        ");
}

/* One output sample, flushed (|x| < 1e-30 -> 0) unless its value is
 * flushed already or a constant: no patch writes a denormal, whatever
 * gains it applies to a decaying signal (lang/SPEC.md §2). */
static int output_needs_flush(const Emitter *e, int ch)
{
    const Val *v = e->u->out[ch];
    return !(v->op == V_CONST || e->p->flush[v->id]);
}

/* The flush itself happens after the chunk's loops (emit_output_flushes),
 * four samples at a time: the same bits as amp_flushf on each sample, at a
 * quarter of the instructions and off the loop's dependency chains. */
static void emit_output(Emitter *e, int ch, const char *value, const char *indent)
{
    text_printf(e->t, "%sout[%d][pos + i] = %s;\n", indent, ch, value);
}

/* Does any output of the unit need the block flush? */
static int any_output_flush(const Emitter *e)
{
    for (int ch = 0; ch < e->u->n_outputs; ch++)
        if (output_needs_flush(e, ch))
            return 1;
    return 0;
}

static int any_delay_flush(const Emitter *e)
{
    for (int k = 0; k < e->ir->delays.n; k++)
        if (e->p->delay_live[k] && e->p->flush_delay[k])
            return 1;
    return 0;
}

/* The helpers the chunk's output and delay line flushes call, printed
 * once before p_process when they are needed. */
static void emit_flush_out_helper(Emitter *e)
{
    if (!any_output_flush(e) && !any_delay_flush(e))
        return;
    /* sixteen at a time where chunks can be blocks (emit_chunk_len); in
     * 16-sample chunks the extra loop costs more than it saves */
    int sixteen = !e->u->voices && e->p->cache_ctl;
    text_printf(e->t, "/* |x| < 1e-30 -> 0 over n samples: amp_flushf on each, %s at a time */\n"
                      "static void flush_out(float *x, int n)\n{\n"
                      "    int i = 0;\n", sixteen ? "sixteen, then four" : "four");
    if (sixteen)
        text_puts(e->t, "    for (; i + 16 <= n; i += 16) {\n"
                        "        v4f a, b, c, d;\n"
                        "        memcpy(&a, x + i, sizeof a);\n"
                        "        memcpy(&b, x + i + 4, sizeof b);\n"
                        "        memcpy(&c, x + i + 8, sizeof c);\n"
                        "        memcpy(&d, x + i + 12, sizeof d);\n"
                        "        a = amp_flush_block(a);\n"
                        "        b = amp_flush_block(b);\n"
                        "        c = amp_flush_block(c);\n"
                        "        d = amp_flush_block(d);\n"
                        "        memcpy(x + i, &a, sizeof a);\n"
                        "        memcpy(x + i + 4, &b, sizeof b);\n"
                        "        memcpy(x + i + 8, &c, sizeof c);\n"
                        "        memcpy(x + i + 12, &d, sizeof d);\n"
                        "    }\n");
    text_puts(e->t, "    for (; i + 4 <= n; i += 4) {\n"
                    "        v4f v;\n"
                    "        memcpy(&v, x + i, sizeof v);\n"
                    "        v = amp_flush_block(v);\n"
                    "        memcpy(x + i, &v, sizeof v);\n"
                    "    }\n"
                    "    for (; i < n; i++)\n"
                    "        x[i] = amp_flushf(x[i]);\n"
                    "}\n\n");
    if (any_delay_flush(e))
        text_puts(e->t, "/* the n samples written up to position pos + n - 1 of a ring of mask + 1\n"
                        " * (all of it when n is longer) */\n"
                        "static void flush_ring(float *ring, unsigned pos, int n, unsigned mask)\n{\n"
                        "    if (n > (int)mask + 1) {\n"
                        "        pos += (unsigned)n - (mask + 1);\n"
                        "        n = (int)mask + 1;\n"
                        "    }\n"
                        "    unsigned at = pos & mask;\n"
                        "    int first = (int)(mask + 1 - at) < n ? (int)(mask + 1 - at) : n;\n"
                        "    flush_out(ring + at, first);\n"
                        "    flush_out(ring, n - first);\n"
                        "}\n\n");
}

/* After the chunk's loops: the outputs whose value is not flushed already,
 * and the samples the chunk wrote to delay lines whose loops are flushed
 * at the chunk's end (plan_chunk_flushes). */
static void emit_output_flushes(Emitter *e)
{
    for (int ch = 0; ch < e->u->n_outputs; ch++)
        if (output_needs_flush(e, ch))
            text_printf(e->t, "        flush_out(out[%d] + pos, len);\n", ch);
    for (int k = 0; k < e->ir->delays.n; k++) {
        const DelaySlot *d = e->ir->delays.items[k];
        if (e->p->delay_live[k] && e->p->flush_delay[k] && d->sec == SEC_PATCH)
            text_printf(e->t, "        flush_ring(s->dl%d, s->dpos, len, %du);\n", k, d->len - 1);
    }
}

/* Rings at least this long are read and written in runs (emit_sample_loop):
 * a run ends where one of its indices wraps, at most once per ring length. */
enum { RUN_RING_MIN = 1024 };

/* A loop body of at most this many values that carries states from one
 * sample to the next is printed four times over (emit_sample_loop); one
 * without states is left to the C compiler, which vectorises it. */
enum { UNROLL_MAX_VALUES = 24 };

/* Is patch audio value v printed in the loop being printed (e->cur_loop,
 * e->steady)? As emit_context decides. */
static int printed_here(const Emitter *e, const Val *v)
{
    if (!v->live || v->op == V_CONST || v->op == V_STATE || e->p->dep_i[v->id] || e->p->inlined[v->id] ||
        plan_ctx_of(v) != USE_PAUDIO || in_region(v))
        return 0;
    if (e->cur_loop >= 0 && e->p->loop_of[v->id] != e->cur_loop)
        return 0;
    if (e->steady && (!e->p->steady_live[v->id] || e->p->steady_live[v->id] > e->steady ||
                      e->p->steady_alias[v->id] || e->p->steady_truth[v->id] >= 0))
        return 0;
    return 1;
}

/* Does the loop being printed write patch delay line k? */
static int writes_here(const Emitter *e, int k)
{
    const DelaySlot *d = e->ir->delays.items[k];
    return e->p->delay_live[k] && d->sec == SEC_PATCH && !elsewhere(e, SEC_PATCH, d->write);
}

/* Which fixed taps and writes of the loop being printed go in runs (long
 * rings; e->run_tap, e->run_write), and does anything else there need the
 * sample's ring position dp? Returns the number in runs. */
static int plan_runs(Emitter *e, int *needs_dp)
{
    const Ir *ir = e->ir;
    int runs = 0;
    *needs_dp = 0;
    memset(e->run_tap, 0, (size_t)ir->vals.n + 1);
    memset(e->run_write, 0, (size_t)ir->delays.n + 1);
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (v->live && v->sec == SEC_PATCH && (v->op == V_OS_IN || v->op == V_OS_OUT))
            *needs_dp = 1;    /* the oversamplers run on the same counter */
        if (!printed_here(e, v) || v->sec != SEC_PATCH)
            continue;
        if (v->op != V_DELAY_READ)
            continue;
        const DelaySlot *d = ir->delays.items[v->idx];
        if (plan_fixed_tap(v) && d->len >= RUN_RING_MIN) {
            e->run_tap[v->id] = 1;
            runs++;
        } else {
            *needs_dp = 1;
        }
    }
    for (int k = 0; k < ir->delays.n; k++) {
        const DelaySlot *d = ir->delays.items[k];
        if (!writes_here(e, k))
            continue;
        if (d->len >= RUN_RING_MIN) {
            e->run_write[k] = 1;
            runs++;
        } else {
            *needs_dp = 1;
        }
    }
    return runs;
}

/* One sample of the loop being printed: what it reads from earlier loops,
 * its values, its outputs, its stores. */
static void emit_loop_body(Emitter *e, const char *indent)
{
    const Ir *ir = e->ir;
    char buf[96];
    int l = e->cur_loop;
    if (l >= 0) {
        for (int ni = 0; ni < e->p->n_need; ni++) {
            const Val *v = ir->vals.items[e->p->need[2 * ni + 1]];
            if (e->p->need[2 * ni] == l && v->op != V_STATE)
                text_printf(e->t, "%sconst float x%d = AMP_ROW_AT(cx, %d, i);\n", indent, v->id, e->cx_slot[v->id]);
        }
        for (int i = 0; i < ir->vals.n; i++) {
            const Val *v = ir->vals.items[i];
            if (v->op == V_STATE && e->p->cross[v->id] && e->p->loop_of[v->id] == l)
                text_printf(e->t, "%sAMP_ROW_AT(cx, %d, i) = st%d;\n", indent, e->cx_slot[v->id], v->idx);
        }
    }
    emit_context(e, USE_PAUDIO, indent);
    for (int ch = 0; ch < e->u->n_outputs; ch++)
        if (l < 0 || plan_loop_at(e->p, e->u->out[ch]) == l)
            emit_output(e, ch, ref(e, e->u->out[ch], USE_PAUDIO, buf, sizeof buf), indent);
    emit_sample_end(e, SEC_PATCH, indent);
}

/* A sample loop of the patch section over [from, to): the loop being
 * printed (e->cur_loop, e->steady). When it reads fixed taps of long rings
 * or writes long rings, it runs in runs in which no such index wraps: per
 * run, each index is found once (amp_ring_at), and each sample reads and
 * writes at that index plus j, with no subtraction and no mask. The
 * samples are the same. */
static void emit_sample_loop(Emitter *e, const char *from, const char *to, const char *comment, int many)
{
    EmitText *t = e->t;
    const Ir *ir = e->ir;
    int needs_dp;
    int runs = plan_runs(e, &needs_dp);
    int values = 0, carried = 0;
    for (int i = 0; i < ir->vals.n; i++)
        values += printed_here(e, ir->vals.items[i]);
    for (int k = 0; k < ir->states.n; k++)
        carried += updated_here(e, k, SEC_PATCH);
    if (!runs && many && carried && values <= UNROLL_MAX_VALUES) {
        /* a short body, four samples at a time: the loop's own count,
         * compare and branch once per four, and the states carried through
         * four copies instead of moved back every sample */
        text_printf(t, "        {\n        int u = %s;\n        for (; u + 4 <= %s; u += 4) {%s\n", from, to, comment);
        for (int k = 0; k < 4; k++) {
            text_printf(t, "            {\n                const int i = u + %d;\n", k);
            if (needs_dp)
                text_puts(t, "                const unsigned dp = s->dpos + (unsigned)i;\n");
            emit_loop_body(e, "                ");
            text_puts(t, "            }\n");
        }
        text_printf(t, "        }\n        for (int i = u; i < %s; i++) {\n", to);
        if (needs_dp)
            text_puts(t, "            const unsigned dp = s->dpos + (unsigned)i;\n");
        emit_loop_body(e, "            ");
        text_puts(t, "        }\n        }\n");
        return;
    }
    if (!runs) {
        /* a long body with carried states: in WebAssembly clang unrolls it
         * four times. V8 keeps loop-carried values in stack slots across
         * the loop's back edge (the biquad chain's filter states: every
         * recurrence through a store and a load); unrolled, three of four
         * samples carry them in registers. Natively gcc keeps them in
         * registers and the loop as it is. The same operations per sample. */
        if (many && carried)
            text_puts(t, "#ifdef __wasm__\n#pragma clang loop unroll_count(4)\n#endif\n");
        text_printf(t, "        for (int i = %s; i < %s; i++) {%s\n", from, to, comment);
        if (needs_dp)
            text_puts(t, "            const unsigned dp = s->dpos + (unsigned)i;\n");
        emit_loop_body(e, "            ");
        text_puts(t, "        }\n");
        return;
    }
    text_printf(t, "        for (int i0 = %s; i0 < %s;) {%s\n", from, to, comment);
    text_printf(t, "            const unsigned p0 = s->dpos + (unsigned)i0;\n            int run = %s - i0;\n", to);
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (!e->run_tap[v->id])
            continue;
        int mask = ((const DelaySlot *)ir->delays.items[v->idx])->len - 1;
        text_printf(t, "            const float *t%d = s->dl%d + amp_ring_at(p0 - dk%d, %du, &run);\n", v->id, v->idx,
                    v->id, mask);
        if (!whole(e, v->a))
            text_printf(t, "            const float *tb%d = s->dl%d + amp_ring_at(p0 - dk%d - 1u, %du, &run);\n", v->id,
                        v->idx, v->id, mask);
    }
    for (int k = 0; k < ir->delays.n; k++) {
        int len = ((const DelaySlot *)ir->delays.items[k])->len, first = 1;
        if (!e->run_write[k])
            continue;
        for (int j = 0; j < k && first; j++)
            first = !(e->run_write[j] && ((const DelaySlot *)ir->delays.items[j])->len == len);
        if (first)
            text_printf(t, "            const size_t w%d = amp_ring_at(p0, %du, &run);\n", len, len - 1);
    }
    text_puts(t, "            for (int j = 0; j < run; j++) {\n                const int i = i0 + j;\n");
    if (needs_dp)
        text_puts(t, "                const unsigned dp = p0 + (unsigned)j;\n");
    emit_loop_body(e, "                ");
    text_puts(t, "            }\n            i0 += run;\n        }\n");
    memset(e->run_tap, 0, (size_t)ir->vals.n + 1);
    memset(e->run_write, 0, (size_t)ir->delays.n + 1);
}

/* The rows of the chunk array: values and state leaves a later loop reads. */
static int count_crossing(Emitter *e)
{
    if (e->cx_slot)
        return e->n_cx;
    int n = e->ir->vals.n;
    e->cx_slot = arena_alloc(e->arena, sizeof(int) * ((size_t)n + 1));
    for (int i = 0; i <= n; i++)
        e->cx_slot[i] = -1;
    for (int i = 0; i < n; i++) {
        const Val *v = e->ir->vals.items[i];
        if (e->p->cross[v->id])
            e->cx_slot[v->id] = e->n_cx++;
    }
    return e->n_cx;
}

/* The longest chunk a split patch loop runs while no param glides: the
 * block, up to 128 samples, with the chunk array on the audio thread's
 * stack kept within 16 KiB. */
static int split_chunk(Emitter *e)
{
    int rows = count_crossing(e), cap = 8 * AMP_CHUNK;
    while (cap > AMP_CHUNK && (size_t)rows * (size_t)cap * sizeof(float) > 16384)
        cap /= 2;
    return cap;
}

/* The patch section's sample loop as e->p->n_loops loops over the chunk
 * (loops.c): the chunk array for the values that cross, then each loop. */
static void emit_split_loops(Emitter *e)
{
    int rows = count_crossing(e);
    if (rows)
        text_printf(e->t, "        float cx[%d][%d];   /* values a later loop reads */\n", rows, split_chunk(e));
    for (int l = 0; l < e->p->n_loops; l++) {
        char comment[48];
        e->cur_loop = l;
        snprintf(comment, sizeof comment, "   /* loop %d of %d */", l + 1, e->p->n_loops);
        emit_sample_loop(e, "0", "len", comment, 1);
    }
    e->cur_loop = -1;
}

/* The chunk's length: AMP_CHUNK samples, the control tick; or, in a
 * single-instance unit whose control values are cached (they stay the same
 * until a param is set, between process() calls, or glides), the rest of
 * the block while no param glides (a split loop: up to split_chunk
 * samples, its chunk array's length): the same values, so the same
 * samples, with the per-chunk work (loads and stores of state, the flushes
 * at the chunk's end) once per block instead of every 16 samples. */
static void emit_chunk_len(Emitter *e)
{
    const Lowered *u = e->u;
    EmitText *t = e->t;
    if (u->voices || !e->p->cache_ctl) {
        text_puts(t, "        const int len = n - pos < AMP_CHUNK ? n - pos : AMP_CHUNK;\n");
        return;
    }
    char whole[64];
    if (e->p->n_loops > 1) {
        int cap = split_chunk(e);
        snprintf(whole, sizeof whole, "n - pos < %d ? n - pos : %d", cap, cap);
    } else {
        snprintf(whole, sizeof whole, "n - pos");
    }
    int gliding = 0;
    for (int i = 0; i < u->n_params; i++)
        gliding += u->params[i].smooth > 0;
    if (!gliding) {
        text_printf(t, "        const int len = %s;   /* no param glides: the whole block */\n", whole);
        return;
    }
    text_puts(t, "        const int glide = ");
    for (int i = 0, k = 0; i < u->n_params; i++)
        if (u->params[i].smooth > 0)
            text_printf(t, "%ss->pv[%d] != s->pt[%d]", k++ ? " || " : "", i, i);
    text_printf(t, ";\n        const int len = !glide ? %s : n - pos < AMP_CHUNK ? n - pos : AMP_CHUNK;\n", whole);
}

/* The patch section's single loop with settled states (plan_steady.c): the
 * full body for the chunk's first sample (for every sample while a guard
 * is NaN), then the steady body, and the tail in the last sample. */
static void emit_steady_loops(Emitter *e)
{
    EmitText *t = e->t;
    const Plan *p = e->p;
    char buf[96];
    text_puts(t, "        /* settled from the chunk's second sample on:");
    for (int k = 0, any = 0; k < e->ir->states.n; k++)
        if (p->settled[k])
            text_printf(t, "%s st%d", any++ ? "," : "", k);
    text_puts(t, " */\n");
    if (p->n_guard) {
        text_puts(t, "        const int first = ");
        for (int g = 0; g < p->n_guard; g++) {
            const Val *v = p->guard[g];
            ref(e, v, plan_ctx_of(v), buf, sizeof buf);
            text_printf(t, "%s%s == %s", g ? " && " : "", buf, buf);
        }
        text_puts(t, " ? (len < 1 ? len : 1) : len;\n");
    } else {
        text_puts(t, "        const int first = len < 1 ? len : 1;\n");
    }
    int tail = plan_steady_tail(p);
    if (tail)
        text_puts(t, "        const int last = len - 1 > first ? len - 1 : first;\n");
    emit_sample_loop(e, "0", "first", "", 0);
    e->steady = 1;
    emit_sample_loop(e, "first", tail ? "last" : "len", "   /* steady */", 1);
    if (tail) {
        e->steady = 2;
        emit_sample_loop(e, "last", "len", "   /* steady, and the tail */", 0);
    }
    e->steady = 0;
}

static void emit_process(Emitter *e)
{
    const Lowered *u = e->u;
    EmitText *t = e->t;
    emit_flush_out_helper(e);
    text_printf(t, "static void p_process(void *state, int n, const float *const *in, float *const *out)\n{\n"
                   "    %s_state *s = state;\n    (void)in;\n", u->name);
    if (u->voices)
        text_puts(t, "    for (int v = 0; v < s->vt.live; v++)\n        s->vt.level[v] = 0.0f;\n");
    /* init values read at run time */
    for (int i = 0; i < e->ir->vals.n; i++) {
        Val *v = e->ir->vals.items[i];
        if (v->live && e->p->init_slot[v->id] >= 0 && (e->p->uses[v->id] & (USE_PCTRL | USE_PAUDIO | USE_VCTRL | USE_VAUDIO)))
            text_printf(t, "    const float x%d = s->init[%d];\n", v->id, e->p->init_slot[v->id]);
    }
    text_puts(t, "    for (int pos = 0; pos < n;) {\n");
    emit_chunk_len(e);
    if (e->p->cache_ctl)
        emit_cached_controls(e);
    else {
        for (int i = 0; i < u->n_params; i++)
            if (u->params[i].smooth > 0)
                text_printf(t, "        s->pv[%d] = amp_smooth(s->pv[%d], s->pt[%d], s->pk[%d], len);\n", i, i, i, i);
        emit_context(e, USE_PCTRL, "        ");
        emit_taps(e, 2, "        ");
    }
    emit_extern_controls(e, SEC_PATCH, "        ");
    if (u->voices)
        emit_voices(e);
    emit_state_loads(e, SEC_PATCH, "        ");
    if (e->p->n_loops > 1)
        emit_split_loops(e);
    else if (e->p->n_settled)
        emit_steady_loops(e);
    else
        emit_sample_loop(e, "0", "len", "", 1);
    emit_output_flushes(e);
    emit_state_stores(e, SEC_PATCH, "        ");
    if (any_delay(e, -1))
        text_puts(t, "        s->dpos += (unsigned)len;\n");
    text_puts(t, "        pos += len;\n    }\n}\n\n");
}

/* ---- the file ------------------------------------------------------------------------------ */

static void emit_string_literal(EmitText *t, const char *s)
{
    text_puts(t, "\"");
    for (; *s; s++) {
        if (*s == '\n')
            text_puts(t, "\\n\"\n    \"");
        else if (*s == '"' || *s == '\\')
            text_printf(t, "\\%c", *s);
        else if ((unsigned char)*s < 32)
            text_printf(t, "\\%03o", (unsigned char)*s);
        else
            text_printf(t, "%c", *s);
    }
    text_puts(t, "\"");
}

static void emit_names(EmitText *t, const char *what, const char **names, int n)
{
    text_printf(t, "static const char *const %s[] = { ", what);
    for (int i = 0; i < n; i++)
        text_printf(t, "\"%s\", ", names[i]);
    text_puts(t, n ? "};\n" : "\"\" };\n");
}

/* The prepared C of each Faust program the unit runs, once each. */
static void emit_faust_code(Emitter *e)
{
    const Ir *ir = e->ir;
    int any = 0;
    for (int k = 0; k < ir->externs.n; k++) {
        ExternSlot *x = ir->externs.items[k];
        int seen = !e->p->extern_live[k];
        for (int j = 0; j < k && !seen; j++) {
            ExternSlot *y = ir->externs.items[j];
            seen = e->p->extern_live[j] && y->faust == x->faust;
        }
        if (seen)
            continue;
        if (!any)
            text_puts(e->t, faust_prelude());
        any = 1;
        const char *file = strrchr(x->faust->path, '/');
        file = file ? file + 1 : x->faust->path;
        text_printf(e->t, "/* ---- Faust node '%s' (%s): faust -lang c -os -ftz 1, functions made static,\n"
                          " * libm routed to amp_math.h. ---- */\n\n", x->faust->name, strstr(file, "*/") ? "..." : file);
        text_puts(e->t, x->faust->code);
    }
    if (any)
        text_puts(e->t, faust_postlude());
}

/* A sample slot's name: its instance path (a node compiled alone: the
 * name in the node). */
const char *emit_sample_name(const Lowered *u, int k)
{
    const char *name = u->ir.samples.items[k];
    size_t skip = strlen(NODE_UNIT_INSTANCE ".");
    return u->from_node && !strncmp(name, NODE_UNIT_INSTANCE ".", skip) ? name + skip : name;
}

/* The sample slots: their names and the host's way in (ABI 3). */
static void emit_sample_slots(Emitter *e)
{
    const Ir *ir = e->ir;
    if (!ir->samples.n)
        return;
    EmitText *t = e->t;
    text_puts(t, "static const char *const sample_names[] = {");
    for (int k = 0; k < ir->samples.n; k++)
        text_printf(t, " \"%s\",", emit_sample_name(e->u, k));
    /* The host writes the slot through this pointer before a process()
     * call (amp_patch.h): the control values read from it (.frames(),
     * .rate()) are computed again, as after a param moved. */
    text_printf(t, " };\n\nstatic AmpSample *p_sample(void *state, int slot)\n{\n"
                   "    %s_state *s = state;\n", e->u->name);
    if (e->p->cache_ctl)
        text_puts(t, "    s->ctl_valid = 0;\n");
    text_puts(t, "    return &s->smp[slot];\n}\n\n");
}

void emit_c(const Lowered *u, const Plan *plan, const char *json, EmitText *c, EmitText *h)
{
    Emitter e = { .u = u, .ir = &u->ir, .p = plan, .t = c, .arena = u->ir.arena, .cur_loop = -1 };
    e.extern_called = arena_alloc(e.arena, (size_t)e.ir->externs.n + 1);
    e.region_done = arena_alloc(e.arena, (size_t)e.ir->regions.n + 1);
    e.run_tap = arena_alloc(e.arena, (size_t)e.ir->vals.n + 1);
    e.run_write = arena_alloc(e.arena, (size_t)e.ir->delays.n + 1);
    int scalar = plan->lanes == 1;
    const char *N = u->name;

    text_printf(c, "/* %s.c — generated by ampc %s from unit '%s'%s. Do not edit. */\n", N, AMPC_VERSION, N,
                !u->voices ? "" : scalar ? ", one voice at a time (scalar)" : ", four voices per vector");
    text_printf(c, "#ifndef AMP_GEN_%s_C\n#define AMP_GEN_%s_C\n\n", N, N);
    text_puts(c, "#include <string.h>\n#include \"amp_patch.h\"\n#include \"amp_dsp.h\"\n");
    if (e.ir->regions.n)
        text_puts(c, "#include \"amp_oversample.h\"\n");
    text_puts(c, "\n");
    emit_faust_code(&e);
    emit_table_data(&e);
    emit_struct(&e);
    text_puts(c, "static void p_reset(void *state);\n");
    if (u->voices)
        text_puts(c, "static void p_voice_reset(void *state, int v);\n");
    text_puts(c, "\n");
    emit_init(&e);
    emit_reset(&e);
    if (u->voices)
        emit_voice_fns(&e);
    emit_params(&e);
    emit_process(&e);

    emit_names(c, "input_names", u->input_names, u->n_inputs);
    emit_names(c, "output_names", u->output_names, u->n_outputs);
    text_printf(c, "static const AmpParamDesc params[] = {\n");
    for (int i = 0; i < u->n_params; i++) {
        UnitParam *p = &u->params[i];
        char d[64], lo[64], hi[64], st[64], sm[64];
        literal(d, sizeof d, p->def);
        literal(lo, sizeof lo, p->has_range ? p->lo : -INFINITY);
        literal(hi, sizeof hi, p->has_range ? p->hi : INFINITY);
        literal(st, sizeof st, p->step);
        literal(sm, sizeof sm, p->smooth);
        text_printf(c, "    { \"%s\", %s, %s, %s, %s, %s, %d },\n", p->name, d, lo, hi, st, sm, p->unit);
    }
    if (!u->n_params)
        text_puts(c, "    { \"\", 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0 },\n");
    text_puts(c, "};\n\n");
    char state_type[256];
    snprintf(state_type, sizeof state_type, "%s_state", N);
    const StateMap *sm = state_map_build(e.arena, u, plan);
    state_map_emit_c(sm, state_type, c);
    emit_sample_slots(&e);
    text_puts(c, "static const char json[] =\n    ");
    emit_string_literal(c, json);
    text_puts(c, ";\n\n");
    text_printf(c, "const AmpPatchDesc amp_%s_desc = {\n", N);
    text_printf(c, "    .abi_version = AMP_ABI_VERSION,\n    .name = \"%s\",\n    .state_size = sizeof(%s_state),\n", N, N);
    text_printf(c, "    .n_inputs = %d,\n    .n_outputs = %d,\n", u->n_inputs, u->n_outputs);
    text_puts(c, "    .input_names = input_names,\n    .output_names = output_names,\n");
    text_printf(c, "    .n_params = %d,\n    .params = params,\n", u->n_params);
    text_printf(c, "    .max_voices = %d,\n    .steal = %d,\n    .json = json,\n", u->voices, u->steal);
    text_puts(c, "    .init = p_init,\n    .reset = p_reset,\n    .set_param = p_set_param,\n    .get_param = p_get_param,\n");
    if (u->voices)
        text_puts(c, "    .voices = p_voices,\n    .voice_reset = p_voice_reset,\n    .voice_move = p_voice_move,\n");
    text_puts(c, "    .process = p_process,\n");
    text_printf(c, "    .n_state = %d,\n    .state_map = state_map,\n", sm->n);
    if (u->ir.samples.n)
        text_printf(c, "    .n_samples = %d,\n    .sample_names = sample_names,\n    .sample = p_sample,\n",
                    u->ir.samples.n);
    text_puts(c, "};\n\n#endif\n");

    text_printf(h, "/* %s.h — generated by ampc %s. Do not edit. */\n", N, AMPC_VERSION);
    text_printf(h, "#ifndef AMP_GEN_%s_H\n#define AMP_GEN_%s_H\n\n#include \"amp_patch.h\"\n\n", N, N);
    text_printf(h, "extern const AmpPatchDesc amp_%s_desc;\n\n#endif\n", N);
}
