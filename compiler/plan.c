/* plan.c — where the C code computes and reads each value: the first
 * part of the emitter's Plan (plan.h).
 *
 * Takes a Lowered unit (its live Vals) and the lane count (4 voices per
 * vector, or 1 for the scalar build); produces a Plan with, per Val id,
 * the contexts that read it as a value (uses) and as a condition (muses),
 * the comparisons printed inline as masks, the values that depend on a
 * table's index, the whole numbers (integral), and per slot whether it is
 * live; then the storage this implies: a slot in s->ctl[] for each patch
 * control value read outside its context when control values are cached,
 * a slot in s->init[] for each init value read outside init().
 *
 * Where each live Val is computed follows from its section and rate:
 *
 *   init rate            init(), stored in s->init[] if anything later reads it
 *   patch, control rate  once per control tick (chunk), a scalar local
 *   patch, audio rate    every sample, a scalar local
 *   voice, control rate  once per chunk and group of four voices, a v4f local
 *   voice, audio rate    every sample and group, a v4f local
 */
#include "plan.h"

#include <math.h>
#include "amp_patch.h"
#include "flush.h"
#include "graph.h"

static void use(Plan *p, const Val *v, int ctx)
{
    if (v)
        p->uses[v->id] |= ctx;
}

/* Where extern code in context ctx reads v: voice code reads a patch
 * value of control rate or slower as the scalar (it is in scope), not as a
 * splat. */
static int extern_use(const Plan *p, const Val *v, int ctx)
{
    if (plan_is_vec(p, ctx) && v->sec == SEC_PATCH && v->rate <= RATE_CONTROL)
        return USE_PCTRL;
    return ctx;
}

/* Is v always a whole number (or not finite)? Float sums, differences
 * and products of whole numbers are whole: beyond 2^24 every float is. */
static int whole(const Plan *p, const Val *v)
{
    return p->integral[v->id];
}

static void find_integral(Plan *p)
{
    for (int i = 0; i < p->ir->vals.n; i++) {
        Val *v = p->ir->vals.items[i];
        int w = 0;
        switch (v->op) {
        case V_CONST: w = v->k == floor(v->k); break;
        case V_NEG: w = whole(p, v->a); break;
        case V_ADD: case V_SUB: case V_MUL: w = whole(p, v->a) && whole(p, v->b); break;
        case V_SELECT: w = whole(p, v->b) && whole(p, v->c); break;
        case V_CLAMP: w = whole(p, v->a) && whole(p, v->b) && whole(p, v->c); break;
        case V_FUNC1:
            w = func_rounds((Func)v->idx) || (v->idx == F_ABS && whole(p, v->a));
            break;
        case V_FUNC2: w = (v->idx == F_MIN || v->idx == F_MAX) && whole(p, v->a) && whole(p, v->b); break;
        default: break;
        }
        p->integral[v->id] = (char)w;
    }
}

static int is_compare(const Val *v)
{
    return v->op >= V_LT && v->op <= V_NE;
}

/* Is operand o of v read as a condition (a mask) rather than a value? */
static int cond_operand(const Val *v, const Val *o)
{
    return (v->op == V_SELECT && o == v->a) || v->op == V_AND || v->op == V_OR || v->op == V_NOT;
}

/* The constant +0 (not -0: mask ? x : -0 is not an and). */
static int plus_zero(const Val *v)
{
    return v->op == V_CONST && v->k == 0 && !signbit(v->k);
}

SelShape plan_select_shape(const Val *v)
{
    const Val *m = v->a;
    if ((m->op == V_LT || m->op == V_GT) && m->a == v->b && m->b == v->c)
        return m->op == V_LT ? SEL_MIN : SEL_MAX;          /* a < b ? a : b */
    if (plus_zero(v->c) && ir_is_const(v->b, 1))
        return SEL_BOOL;                                    /* m ? 1 : 0 */
    if (plus_zero(v->c))
        return SEL_AND;                                     /* m ? x : 0 */
    if (plus_zero(v->b))
        return SEL_ANDNOT;                                  /* m ? 0 : x */
    if (v->b->op == V_NEG && v->b->a == v->c)
        return SEL_NEG_B;                                   /* m ? -x : x */
    if (v->c->op == V_NEG && v->c->a == v->b)
        return SEL_NEG_C;                                   /* m ? x : -x */
    if (v->b->op == V_CONST && v->c->op == V_CONST && v->b->k == -v->c->k && v->b->k != 0)
        return SEL_SIGN;                                    /* m ? k : -k */
    return SEL_GENERAL;
}

/* Does v, in context ctx, read operand o other than through its value?
 * (A vector select m ? -x : x reads x and flips signs; the -x it does not
 * read is then not printed, unless something else reads it.) */
int plan_bypassed(const Plan *p, const Val *v, const Val *o, int ctx)
{
    if (v->op != V_SELECT || !plan_is_vec(p, ctx))
        return 0;
    SelShape sh = plan_select_shape(v);
    return (sh == SEL_NEG_B && o == v->b && o != v->c) || (sh == SEL_NEG_C && o == v->c && o != v->b);
}

Plan *plan_unit(Arena *a, const Lowered *u, int scalar)
{
    const Ir *ir = &u->ir;
    int n = ir->vals.n;
    Plan *p = arena_alloc(a, sizeof *p);
    p->u = u;
    p->ir = ir;
    p->lanes = scalar ? 1 : 4;
    p->groups = u->voices ? (u->voices + AMP_FADE_SLOTS + p->lanes - 1) / p->lanes : 0;
    p->uses = arena_alloc(a, sizeof(int) * ((size_t)n + 1));
    p->muses = arena_alloc(a, sizeof(int) * ((size_t)n + 1));
    p->inlined = arena_alloc(a, (size_t)n + 1);
    p->dep_i = arena_alloc(a, sizeof(int) * ((size_t)n + 1));
    p->state_live = arena_alloc(a, (size_t)ir->states.n + 1);
    p->delay_live = arena_alloc(a, (size_t)ir->delays.n + 1);
    p->table_live = arena_alloc(a, (size_t)ir->tables.n + 1);
    p->noise_live = arena_alloc(a, (size_t)ir->noises.n + 1);
    p->extern_live = arena_alloc(a, (size_t)ir->externs.n + 1);
    p->integral = arena_alloc(a, (size_t)n + 1);
    find_integral(p);
    for (int i = 0; i < n; i++) {
        Val *v = ir->vals.items[i];
        if (v->op == V_TINDEX)
            p->dep_i[v->id] = 1;
        if ((v->a && p->dep_i[v->a->id]) || (v->b && p->dep_i[v->b->id]) || (v->c && p->dep_i[v->c->id]))
            p->dep_i[v->id] = 1;
        if (!v->live)
            continue;
        if (v->op == V_STATE)
            p->state_live[v->idx] = 1;
        if (v->op == V_DELAY_READ)
            p->delay_live[v->idx] = 1;
        if (v->op == V_TABLE_AT || v->op == V_TABLE_LERP)
            p->table_live[v->idx] = 1;
        if (v->op == V_NOISE)
            p->noise_live[v->idx] = 1;
        if (v->op == V_EXTERN_OUT)
            p->extern_live[v->idx] = 1;
    }
    /* the roots: what slots, externs and outputs read */
    for (int k = 0; k < ir->externs.n; k++) {
        ExternSlot *x = ir->externs.items[k];
        if (!p->extern_live[k])
            continue;
        int audio = plan_audio_ctx(x->sec);
        int ctrl = x->param_rate == RATE_AUDIO ? audio : x->sec == SEC_VOICE ? USE_VCTRL : USE_PCTRL;
        for (int i = 0; i < x->n_in; i++)
            use(p, x->in[i], extern_use(p, x->in[i], audio));
        for (int i = 0; i < x->n_param; i++)
            use(p, x->param[i], extern_use(p, x->param[i], ctrl));
    }
    for (int k = 0; k < ir->states.n; k++) {
        StateSlot *s = ir->states.items[k];
        if (!p->state_live[k])
            continue;
        use(p, s->init, USE_RESET);
        if (s->end != s->start)
            use(p, s->end, plan_audio_ctx(s->sec));
    }
    for (int k = 0; k < ir->delays.n; k++) {
        DelaySlot *d = ir->delays.items[k];
        if (p->delay_live[k] && d->write)
            use(p, d->write, plan_audio_ctx(d->sec));
    }
    for (int k = 0; k < ir->tables.n; k++) {
        TableSlot *t = ir->tables.items[k];
        if (p->table_live[k])
            use(p, t->fill, USE_TABLE);
    }
    for (int ch = 0; ch < p->u->n_outputs; ch++) {
        use(p, p->u->out[ch], USE_PAUDIO);
        use(p, p->u->voice_out[ch], USE_VAUDIO);
    }
    /* Users before operands (creation order, reversed): a comparison whose
     * value nobody reads is printed inline, as a mask, inside each
     * condition that reads it, so its operands are read where those are. */
    for (int i = n - 1; i >= 0; i--) {
        Val *v = ir->vals.items[i];
        if (!v->live)
            continue;
        int ctxs;
        if (is_compare(v) && !p->uses[v->id] && p->muses[v->id]) {
            p->inlined[v->id] = 1;
            ctxs = p->muses[v->id];
        } else {
            ctxs = p->dep_i[v->id] ? USE_TABLE : plan_ctx_of(v);
        }
        if (plan_fixed_tap(v) && v->a->op != V_CONST) {
            p->uses[v->a->id] |= USE_PCTRL;
            continue;
        }
        Val *ops[3] = { v->a, v->b, v->c };
        for (int k = 0; k < 3; k++) {
            Val *o = ops[k];
            if (!o || plan_bypassed(p, v, o, ctxs))
                continue;
            if (cond_operand(v, o)) {
                p->muses[o->id] |= ctxs;
                if (!is_compare(o))
                    p->uses[o->id] |= ctxs;
            } else {
                p->uses[o->id] |= ctxs;
            }
        }
    }
    /* patch control values read outside their context, and fixed taps, get
     * a slot in s->ctl[] when control values are cached */
    p->ctl_slot = arena_alloc(a, sizeof(int) * ((size_t)n + 1));
    for (int i = 0; i <= n; i++)
        p->ctl_slot[i] = -1;
    p->cache_ctl = 1;
    for (int k = 0; k < ir->externs.n; k++)
        if (p->extern_live[k] && ((ExternSlot *)ir->externs.items[k])->sec == SEC_PATCH)
            p->cache_ctl = 0;
    for (int i = 0; i < n && p->cache_ctl; i++) {
        Val *v = ir->vals.items[i];
        if (!v->live || v->op == V_CONST || p->inlined[v->id] || p->dep_i[v->id])
            continue;
        if ((plan_ctx_of(v) == USE_PCTRL && (p->uses[v->id] & (USE_PAUDIO | USE_VCTRL | USE_VAUDIO))) || plan_fixed_tap(v))
            p->ctl_slot[v->id] = p->n_ctl++;
    }
    /* init values read outside init() get a slot in s->init[] */
    p->init_slot = arena_alloc(a, sizeof(int) * ((size_t)n + 1));
    for (int i = 0; i <= n; i++)
        p->init_slot[i] = -1;
    for (int i = 0; i < n; i++) {
        Val *v = ir->vals.items[i];
        if (v->live && v->rate == RATE_INIT && !p->dep_i[v->id] && !p->inlined[v->id] &&
            (p->uses[v->id] & ~(USE_INIT | USE_TABLE)))
            p->init_slot[v->id] = p->n_init++;
    }
    return p;
}

/* ---- dump ------------------------------------------------------------------ */

static void print_uses(FILE *out, const char *what, int uses)
{
    static const char *names[] = { "init", "table", "reset", "patch-control", "patch-audio", "voice-control",
                                   "voice-audio" };
    if (!uses)
        return;
    fprintf(out, " %s", what);
    const char *sep = " ";
    for (int k = 0; k < 7; k++)
        if (uses & (1 << k)) {
            fprintf(out, "%s%s", sep, names[k]);
            sep = ",";
        }
}

static void print_live(FILE *out, const char *what, const char *live, int n)
{
    fprintf(out, "  live %s:", what);
    int any = 0;
    for (int k = 0; k < n; k++)
        if (live[k]) {
            fprintf(out, " %d", k);
            any = 1;
        }
    fputs(any ? "\n" : " none\n", out);
}

/* `--dump plan`: the storage, the live slots, then each live value that
 * the C computes: where it is read, and what it is given. */
void plan_dump(FILE *out, const Plan *p)
{
    const Ir *ir = p->ir;
    fprintf(out, "plan: %d lane%s per voice group, %d group%s; %d init slot%s; ", p->lanes,
            p->lanes == 1 ? "" : "s", p->groups, p->groups == 1 ? "" : "s", p->n_init, p->n_init == 1 ? "" : "s");
    if (p->cache_ctl)
        fprintf(out, "control values cached, %d slot%s\n", p->n_ctl, p->n_ctl == 1 ? "" : "s");
    else
        fputs("control values recomputed every tick (Faust code in the patch section)\n", out);
    print_live(out, "states", p->state_live, ir->states.n);
    print_live(out, "delay lines", p->delay_live, ir->delays.n);
    print_live(out, "tables", p->table_live, ir->tables.n);
    print_live(out, "noise generators", p->noise_live, ir->noises.n);
    print_live(out, "Faust instances", p->extern_live, ir->externs.n);
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (!v->live || v->op == V_CONST)
            continue;
        fputs("  ", out);
        ir_dump_val(out, v);
        fputs("    ;", out);
        print_uses(out, "read in", p->uses[v->id]);
        print_uses(out, "tested in", p->muses[v->id]);
        if (p->inlined[v->id])
            fputs(" inline", out);
        if (p->dep_i[v->id])
            fputs(" per-entry", out);
        if (p->integral[v->id])
            fputs(" whole", out);
        if (plan_fixed_tap(v))
            fputs(" fixed-tap", out);
        if (p->ctl_slot[v->id] >= 0)
            fprintf(out, " ctl[%d]", p->ctl_slot[v->id]);
        if (p->init_slot[v->id] >= 0)
            fprintf(out, " init[%d]", p->init_slot[v->id]);
        fputc('\n', out);
    }
}

/* ---- flushes at the chunk's end ------------------------------------------------------------ */

/* Components up to this many Vals are looked at; a larger unit keeps
 * flush.c's per-sample flushes (a bound on this pass's time). */
enum { CHUNK_FLUSH_MAX_VALS = 20000 };

/* May a member of a feedback loop be flushed at the chunk's end instead?
 * Not an extern output (Faust code keeps values where no flush reaches
 * them) nor a read of a voice's delay line (one ring per voice group, in
 * vectors: left per-sample), not a value of a table fill or loop; per-sample
 * values, the state leaves and reads of the patch's delay lines (the chunk
 * flushes the samples it wrote to them). */
static int chunk_flushable_member(const Plan *p, const Val *v)
{
    if (v->op == V_DELAY_READ)
        return ((const DelaySlot *)p->ir->delays.items[v->idx])->sec == SEC_PATCH && !p->dep_i[v->id];
    if (v->op == V_EXTERN_OUT || p->dep_i[v->id])
        return 0;
    if (v->op == V_STATE)
        return 1;
    int ctx = plan_ctx_of(v);
    return ctx == USE_PAUDIO || ctx == USE_VAUDIO;
}

/* A flush on every feedback loop every sample (flush.c) costs a mask,
 * a compare and an and on the loop's own chain: in a filter, about as
 * much as its arithmetic. A loop whose values are carried in state locals
 * (stored at the chunk's end) and the patch's delay lines is as safe
 * flushed once per chunk, on its states as they are stored and on the
 * samples the chunk wrote to its delay lines (four at a time): at every
 * chunk's end every value the loop carries into the next is flushed, so a
 * decaying loop is all 0 at the first chunk's end after it fell below
 * 1e-30, and at most one chunk (AMP_CHUNK samples, or the block in a unit
 * with one chunk per block, emit_chunk_len) of a decay runs through the
 * denormal range. Each strongly connected component of flush.c's graph
 * (data edges, carried edges, extern edges) with a per-sample flush and
 * only such members loses its per-sample flushes. The values differ from
 * per-sample flushing only below 1e-30. */
void plan_chunk_flushes(Arena *a, Plan *p)
{
    const Ir *ir = p->ir;
    int n = ir->vals.n;
    p->flush_state = arena_alloc(a, (size_t)ir->states.n + 1);
    p->flush_delay = arena_alloc(a, (size_t)ir->delays.n + 1);
    if (n > CHUNK_FLUSH_MAX_VALS)
        return;
    Graph g;
    Scc sc;
    graph_init(&g, a, n);
    scc_init(&sc, a, n);
    int *nodes = arena_alloc(a, sizeof(int) * ((size_t)n + 1)), n_nodes = 0;
    for (int i = 0; i < n; i++) {
        Val *v = ir->vals.items[i];
        if (!v->live)
            continue;
        g.on[v->id] = 1;
        nodes[n_nodes++] = v->id;
        const Val *ops[3] = { v->a, v->b, v->c };
        for (int k = 0; k < 3; k++)
            if (ops[k] && ops[k]->live && flush_data_edge(v, k))
                graph_edge(&g, ops[k]->id, v->id);
    }
    graph_carried_edges(&g, ir, NULL);
    graph_extern_edges(&g, ir);
    graph_finish(&g);
    scc_run(&sc, &g, NULL, nodes, n_nodes);
    int nc = sc.n_comp;
    char *bad = arena_alloc(a, (size_t)nc + 1);     /* per component: keeps per-sample flushes */
    char *flushed = arena_alloc(a, (size_t)nc + 1); /* per component: flush.c flushed a member */
    for (int i = 0; i < n_nodes; i++) {
        const Val *v = ir->vals.items[nodes[i]];
        int c = sc.comp[v->id];
        if (c < 0 || !sc.cyclic[c])
            continue;
        if (!chunk_flushable_member(p, v))
            bad[c] = 1;
        if (p->flush[v->id])
            flushed[c] = 1;
    }
    for (int k = 0; k < ir->states.n; k++) {
        const StateSlot *st = ir->states.items[k];
        int c = p->state_live[k] ? sc.comp[st->start->id] : -1;
        if (c >= 0 && sc.cyclic[c] && !bad[c] && flushed[c] && st->end != st->start)
            p->flush_state[k] = 1;
    }
    for (int i = 0; i < n_nodes; i++) {
        const Val *v = ir->vals.items[nodes[i]];
        int c = sc.comp[v->id];
        if (c < 0 || !sc.cyclic[c] || bad[c] || !flushed[c])
            continue;
        p->flush[v->id] = 0;
        if (v->op == V_DELAY_READ)
            p->flush_delay[v->idx] = 1;
    }
}
