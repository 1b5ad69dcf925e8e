/* plan_steady.c — the patch sample loop after its first sample: states
 * that hold a chunk's constant, and what folds away with them (plan.h).
 *
 * A state assigned a value of control rate or slower every sample (the
 * std filters' `gp = g`, `kp = k`: the g and k of the previous sample, to
 * re-base their states when the cutoff moves) holds exactly that value
 * from the chunk's second sample on: the value does not change within a
 * chunk. Such a state is settled. From the second sample on, a read of
 * it is a read of its value, and what it was read for folds: a comparison
 * of a value with itself (`gp != g` is false, `kp < k` is false), a
 * select whose condition is known, and everything only those needed (the
 * re-basing products, the scaled states). What is left is the steady
 * body, printed after the full body has run the chunk's first sample.
 *
 * A state that the steady body does not read, and whose end value reads
 * no such state (a filter's `hpp`, `v1p`: kept only for the re-basing),
 * is computed once, in the chunk's last sample (the tail): the steady
 * loop runs the samples between the first and the last.
 *
 * The folds are exact: a settled state has the bits of its value, and a
 * comparison of a value with itself is false (<, >) or, unless the value
 * is NaN, true (<=, >=, ==) or false (!=); those values are the guards, and
 * a chunk in which one is NaN runs the full body for every sample. Noise
 * generators advance in every body. Done for the patch section's single
 * sample loop without Faust code or oversampled regions, and only when
 * the steady body is shorter than the full one.
 *
 * Takes a Plan after plan_chunk_flushes and before plan_loops (which
 * keeps a chain of filters in one loop by the size of its steady body, and
 * drops the steady body when it splits the loop); produces its settled,
 * carried, steady_alias, steady_truth, steady_live and guards, in the
 * arena.
 */
#include "plan.h"

#include <math.h>
#include <string.h>

/* Is v computed in the patch section's sample loop (or a state leaf read
 * there)? Everything else is in scope as it is. */
static int in_body(const Plan *p, const Val *v)
{
    return v && v->live && v->sec == SEC_PATCH && v->op != V_CONST && !p->dep_i[v->id] &&
           (v->op == V_STATE || plan_ctx_of(v) == USE_PAUDIO);
}

/* What v is in the steady body: its alias, or itself. */
static const Val *res(const Plan *p, const Val *v)
{
    return v && p->steady_alias[v->id] ? p->steady_alias[v->id] : v;
}

/* v as a condition in the steady body: 0, 1, or -1 when not known. */
static int truth(const Plan *p, const Val *v)
{
    const Val *r = res(p, v);
    if (p->steady_truth[v->id] >= 0)
        return p->steady_truth[v->id];
    if (p->steady_truth[r->id] >= 0)
        return p->steady_truth[r->id];
    if (r->op == V_CONST)
        return r->k != 0 || isnan(r->k);
    return -1;
}

static void add_guard(Arena *a, Plan *p, const Val *v, char *guarded)
{
    if (guarded[v->id])
        return;
    guarded[v->id] = 1;
    const Val **g = arena_alloc(a, sizeof *g * ((size_t)p->n_guard + 1));
    if (p->n_guard)
        memcpy(g, p->guard, sizeof *g * (size_t)p->n_guard);
    g[p->n_guard++] = v;
    p->guard = g;
}

/* A comparison of one value with itself: 0 or 1, guarded when the answer
 * holds only for a value that is not NaN. */
static int self_compare(Arena *a, Plan *p, ValOp op, const Val *x, char *guarded)
{
    if (op == V_LT || op == V_GT)
        return 0;
    if (x->op == V_CONST) {
        if (isnan(x->k))
            return op == V_NE;
        return op != V_NE;
    }
    add_guard(a, p, x, guarded);
    return op != V_NE;
}

static int const_compare(ValOp op, double x, double y)
{
    switch (op) {
    case V_LT: return x < y;
    case V_LE: return x <= y;
    case V_GT: return x > y;
    case V_GE: return x >= y;
    case V_EQ: return x == y;
    default: return x != y;
    }
}

/* The aliases and truths of the steady body, in creation order (operands
 * first). */
static void fold(Arena *a, Plan *p, char *guarded)
{
    const Ir *ir = p->ir;
    for (int i = 0; i < ir->vals.n; i++) {
        Val *v = ir->vals.items[i];
        if (!in_body(p, v))
            continue;
        if (v->op == V_STATE) {
            StateSlot *s = ir->states.items[v->idx];
            if (p->settled[v->idx])
                p->steady_alias[v->id] = s->end;
            continue;
        }
        const Val *ra = res(p, v->a), *rb = res(p, v->b);
        int t = -1;
        switch (v->op) {
        case V_LT: case V_LE: case V_GT: case V_GE: case V_EQ: case V_NE:
            if (ra == rb)
                t = self_compare(a, p, v->op, ra, guarded);
            else if (ra->op == V_CONST && rb->op == V_CONST)
                t = const_compare(v->op, ra->k, rb->k);
            break;
        case V_NOT:
            if (truth(p, v->a) >= 0)
                t = !truth(p, v->a);
            break;
        case V_AND:
            if (truth(p, v->a) == 0 || truth(p, v->b) == 0)
                t = 0;
            else if (truth(p, v->a) == 1 && truth(p, v->b) == 1)
                t = 1;
            break;
        case V_OR:
            if (truth(p, v->a) == 1 || truth(p, v->b) == 1)
                t = 1;
            else if (truth(p, v->a) == 0 && truth(p, v->b) == 0)
                t = 0;
            break;
        case V_SELECT: {
            int c = truth(p, v->a);
            const Val *pick = c < 0 ? (rb == res(p, v->c) ? rb : NULL) : res(p, c ? v->b : v->c);
            if (pick && pick != v) {
                p->steady_alias[v->id] = pick;
                if (p->steady_truth[pick->id] >= 0)
                    t = p->steady_truth[pick->id];
            }
            break;
        }
        default:
            break;
        }
        p->steady_truth[v->id] = (signed char)t;
    }
}

/* Marking what a body computes: a stack of Val ids, each pushed once per level. */
typedef struct Marker {
    Plan *p;
    int *stack, n;
} Marker;

static void need(Marker *m, const Val *v, char level)
{
    Plan *p = m->p;
    if (!v)
        return;
    v = res(p, v);
    if (!in_body(p, v) || p->steady_truth[v->id] >= 0 || (p->steady_live[v->id] && p->steady_live[v->id] <= level))
        return;
    p->steady_live[v->id] = level;
    m->stack[m->n++] = v->id;
}

static void drain(Marker *m, char level)
{
    Plan *p = m->p;
    while (m->n > 0) {
        const Val *v = p->ir->vals.items[m->stack[--m->n]];
        if (v->op == V_STATE || plan_fixed_tap(v))
            continue;
        need(m, v->a, level);
        need(m, v->b, level);
        need(m, v->c, level);
    }
}

/* Is state k one the steady body may update? (A settled state needs no
 * update: it holds its value.) */
static int updated(const Plan *p, int k)
{
    const StateSlot *s = p->ir->states.items[k];
    return p->state_live[k] && s->sec == SEC_PATCH && s->end != s->start && !s->region && !p->settled[k];
}

/* Values the full body prints (patch audio values), and the steady one. */
static void count_printed(const Plan *p, int *full, int *steady)
{
    *full = *steady = 0;
    for (int i = 0; i < p->ir->vals.n; i++) {
        const Val *v = p->ir->vals.items[i];
        if (!in_body(p, v) || v->op == V_STATE || p->inlined[v->id])
            continue;
        (*full)++;
        *steady += p->steady_live[v->id] != 0 && !p->steady_alias[v->id];
    }
}

static void steady_off(Plan *p)
{
    p->n_settled = 0;
    p->n_guard = 0;
}

void plan_steady_drop(Plan *p)
{
    if (!p->n_settled)
        return;
    memset(p->settled, 0, (size_t)p->ir->states.n + 1);
    memset(p->carried, 0, (size_t)p->ir->states.n + 1);
    steady_off(p);
}

int plan_steady_size(const Plan *p)
{
    int full, steady;
    count_printed(p, &full, &steady);
    return p->n_settled ? steady : full;
}

void plan_steady(Arena *a, Plan *p)
{
    const Ir *ir = p->ir;
    int n = ir->vals.n;
    p->settled = arena_alloc(a, (size_t)ir->states.n + 1);
    p->carried = arena_alloc(a, (size_t)ir->states.n + 1);
    p->steady_alias = arena_alloc(a, sizeof *p->steady_alias * ((size_t)n + 1));
    p->steady_truth = arena_alloc(a, (size_t)n + 1);
    p->steady_live = arena_alloc(a, (size_t)n + 1);
    steady_off(p);
    for (int k = 0; k < ir->externs.n; k++)
        if (p->extern_live[k] && ((const ExternSlot *)ir->externs.items[k])->sec == SEC_PATCH)
            return;
    for (int i = 0; i < n; i++) {
        const Val *v = ir->vals.items[i];
        if (v->live && v->sec == SEC_PATCH && (v->region || v->op == V_OS_IN || v->op == V_OS_OUT))
            return;
    }
    for (int k = 0; k < ir->states.n; k++) {
        const StateSlot *s = ir->states.items[k];
        if (p->state_live[k] && s->sec == SEC_PATCH && s->end != s->start && !s->region &&
            s->end->rate <= RATE_CONTROL && !p->dep_i[s->end->id])
            p->settled[k] = 1, p->n_settled++;
    }
    if (!p->n_settled)
        return;
    memset(p->steady_truth, -1, (size_t)n + 1);
    char *guarded = arena_alloc(a, (size_t)n + 1);
    fold(a, p, guarded);

    /* The steady body: outputs, delay writes, noise, and the states it reads. */
    Marker m = { p, arena_alloc(a, sizeof(int) * ((size_t)n + 1)), 0 };
    for (int ch = 0; ch < p->u->n_outputs; ch++)
        need(&m, p->u->out[ch], 1);
    for (int k = 0; k < ir->delays.n; k++) {
        const DelaySlot *d = ir->delays.items[k];
        if (p->delay_live[k] && d->sec == SEC_PATCH)
            need(&m, d->write, 1);
    }
    for (int i = 0; i < n; i++) {
        const Val *v = ir->vals.items[i];
        if (v->op == V_NOISE && in_body(p, v))
            need(&m, v, 1);
    }
    for (;;) {
        int more;
        do {
            drain(&m, 1);
            more = 0;
            for (int k = 0; k < ir->states.n; k++) {
                const StateSlot *s = ir->states.items[k];
                if (updated(p, k) && !p->carried[k] && p->steady_live[s->start->id] == 1) {
                    p->carried[k] = 1;
                    need(&m, s->end, 1);
                    more = 1;
                }
            }
        } while (more);
        /* The tail: the other states' end values, in the last sample. One
         * whose leaf the tail reads is carried instead. */
        for (int i = 0; i <= n; i++)
            if (p->steady_live[i] == 2)
                p->steady_live[i] = 0;
        for (int k = 0; k < ir->states.n; k++)
            if (updated(p, k) && !p->carried[k])
                need(&m, ((const StateSlot *)ir->states.items[k])->end, 2);
        drain(&m, 2);
        for (int k = 0; k < ir->states.n; k++) {
            const StateSlot *s = ir->states.items[k];
            if (updated(p, k) && !p->carried[k] && p->steady_live[s->start->id] == 2) {
                p->carried[k] = 1;
                need(&m, s->end, 1);
                more = 1;
            }
        }
        if (!more)
            break;
    }
    int full, steady;
    count_printed(p, &full, &steady);
    if (steady >= full)
        plan_steady_drop(p);
}

/* Does the last sample compute values the steady loop does not? */
int plan_steady_tail(const Plan *p)
{
    for (int k = 0; k < p->ir->states.n; k++)
        if (updated(p, k) && !p->carried[k])
            return 1;
    return 0;
}

/* Part of `--dump loops`. */
void plan_dump_steady(FILE *out, const Plan *p)
{
    const Ir *ir = p->ir;
    if (!p->n_settled)
        return;
    int full, steady;
    count_printed(p, &full, &steady);
    fprintf(out, "steady body: %d of %d values;", steady, full);
    const char *what[] = { " settled", " tail" };
    for (int w = 0; w < 2; w++) {
        fputs(what[w], out);
        const char *sep = " ";
        for (int k = 0; k < ir->states.n; k++) {
            const StateSlot *s = ir->states.items[k];
            if (w == 0 ? p->settled[k] : updated(p, k) && !p->carried[k]) {
                fprintf(out, "%s%s", sep, s->name);
                sep = ", ";
            }
        }
        if (*sep == ' ')
            fputs(" none", out);
        fputc(w == 0 ? ';' : '\n', out);
    }
    if (p->n_guard) {
        fputs("  guards (not NaN):", out);
        for (int i = 0; i < p->n_guard; i++)
            fprintf(out, " v%d", p->guard[i]->id);
        fputc('\n', out);
    }
}
