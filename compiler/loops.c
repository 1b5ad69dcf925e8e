/* loops.c — the patch section's sample loop, split: the last part of the
 * emitter's Plan (plan.h).
 *
 * One loop over the chunk for everything the patch section computes per
 * sample is one long body: when it is longer than the processor can look
 * ahead, the long chains in it (a sum of eight combs, four all-passes in
 * series) run one sample at a time, and past the registers it spills. So
 * the loop is split, the way Faust's -vec mode does, at feedback loops
 * (the strongly connected components of the per-sample graph, with the
 * carried edges state end -> start and delay write -> read): the
 * components, in a topological order that keeps together what feeds one
 * value (dfs_order: a sum of combs right after its combs), are cut into
 * loops before a feedback loop that would take the current one past
 * LOOP_BUDGET values. A value read in a later loop is kept in the chunk
 * array. A short patch section without delay lines stays one loop
 * (patch_has_delay; with settled states, by the size of its steady body,
 * plan_steady.c). The order is legal because every dependency, carried
 * ones included, points from an earlier loop (or sample) to a later one.
 * Not done when the patch section runs Faust code (its compute() keeps its
 * own per-sample order).
 *
 * Takes a Plan whose uses are known (plan.c); produces its n_loops,
 * loop_of, cross and need, in the arena.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>
#include "graph.h"

enum { LOOP_BUDGET = 48, MAX_CROSSING = 256, REGISTER_ONE_LOOP = 128 };

static int is_member(const Plan *p, const Val *v)
{
    return v && v->live && v->sec == SEC_PATCH && v->op != V_CONST && !p->dep_i[v->id] &&
           (v->op == V_STATE || plan_ctx_of(v) == USE_PAUDIO);
}

static int need_cmp(const void *a, const void *b)
{
    const int *x = a, *y = b;
    return x[0] != y[0] ? (x[0] > y[0]) - (x[0] < y[0]) : (x[1] > y[1]) - (x[1] < y[1]);
}

/* Record that loop `loop` reads Val id from an earlier one; p->need
 * doubles in the arena. */
static void add_need(Arena *a, Plan *p, int *cap, int loop, int id)
{
    if (p->n_need == *cap) {
        int c = *cap ? 2 * *cap : 64;
        int *need = arena_alloc(a, sizeof(int) * 2 * (size_t)c);
        if (p->n_need)
            memcpy(need, p->need, sizeof(int) * 2 * (size_t)p->n_need);
        p->need = need;
        *cap = c;
    }
    p->need[2 * p->n_need] = loop;
    p->need[2 * p->n_need + 1] = id;
    p->n_need++;
}

/* Value o read by code printed in loop `loop` (through inline comparisons). */
static void read_in(Arena *a, Plan *p, int *cap, const Val *o, int loop)
{
    if (!is_member(p, o))
        return;
    if (p->inlined[o->id]) {
        read_in(a, p, cap, o->a, loop);
        read_in(a, p, cap, o->b, loop);
        return;
    }
    if (p->loop_of[o->id] == loop)
        return;
    p->cross[o->id] = 1;
    add_need(a, p, cap, loop, o->id);
}

/* The components in an order that keeps together what feeds one value:
 * a depth-first search from the outputs (then every other member, in
 * creation order) that puts each component after the components it reads,
 * those in the order its members read them. A sum of eight combs comes
 * right after its eight combs, a chain of all-passes after that sum, so
 * that cutting the order into loops leaves few values crossing between
 * them. Iterative (deep graphs must not overflow the stack). Returns the
 * number of components written to order[]. */
static int dfs_order(Arena *a, const Plan *p, const Graph *g, const Scc *sc, const int *nodes, int n_nodes,
                     int *order)
{
    int nc = sc->n_comp;
    int *first = arena_alloc(a, sizeof(int) * ((size_t)nc + 1));
    int *next = arena_alloc(a, sizeof(int) * ((size_t)p->ir->vals.n + 1));
    for (int c = 0; c < nc; c++)
        first[c] = -1;
    for (int i = n_nodes - 1; i >= 0; i--) {
        int v = nodes[i];
        next[v] = first[sc->comp[v]];
        first[sc->comp[v]] = v;
    }
    /* the components each component reads: CSR, in member order */
    int *pstart = arena_alloc(a, sizeof(int) * ((size_t)nc + 2));
    for (int e = 0; e < g->n_edges; e++)
        if (g->on[g->from[e]] && g->on[g->to[e]] && sc->comp[g->from[e]] != sc->comp[g->to[e]])
            pstart[sc->comp[g->to[e]] + 1]++;
    for (int c = 0; c < nc; c++)
        pstart[c + 1] += pstart[c];
    int *preds = arena_alloc(a, sizeof(int) * ((size_t)pstart[nc] + 1));
    int *fill = arena_alloc(a, sizeof(int) * ((size_t)nc + 1));
    for (int e = 0; e < g->n_edges; e++) {
        int u = g->from[e], v = g->to[e];
        if (g->on[u] && g->on[v] && sc->comp[u] != sc->comp[v])
            preds[pstart[sc->comp[v]] + fill[sc->comp[v]]++] = sc->comp[u];
    }
    char *seen = arena_alloc(a, (size_t)nc + 1);
    int *stack = arena_alloc(a, sizeof(int) * ((size_t)nc + 1));
    int *at = arena_alloc(a, sizeof(int) * ((size_t)nc + 1));   /* per component on the stack: next pred */
    int n = 0;
    int n_roots = p->u->n_outputs + n_nodes;
    for (int r = 0; r < n_roots; r++) {
        int root;
        if (r < p->u->n_outputs) {
            const Val *o = p->u->out[r];
            if (!o || !is_member(p, o))
                continue;
            root = sc->comp[o->id];
        } else {
            root = sc->comp[nodes[r - p->u->n_outputs]];
        }
        if (root < 0 || seen[root])
            continue;
        int sp = 0;
        stack[sp++] = root;
        seen[root] = 1;
        at[root] = pstart[root];
        while (sp > 0) {
            int c = stack[sp - 1];
            if (at[c] < pstart[c + 1]) {
                int d = preds[at[c]++];
                if (!seen[d]) {
                    seen[d] = 1;
                    at[d] = pstart[d];
                    stack[sp++] = d;
                }
                continue;
            }
            order[n++] = c;
            sp--;
        }
    }
    return n;
}

/* Each member's loop: the components in dfs_order, cut into loops before a
 * feedback loop that would take the current one past LOOP_BUDGET values
 * (printed values only); returns the number of loops. */
static int place(Arena *a, Plan *p, const Graph *g, const Scc *sc, const int *nodes, int n_nodes)
{
    const Ir *ir = p->ir;
    int nc = sc->n_comp;
    int *order = arena_alloc(a, sizeof(int) * ((size_t)nc + 1));
    int n_order = dfs_order(a, p, g, sc, nodes, n_nodes, order);
    int *size = arena_alloc(a, sizeof(int) * ((size_t)nc + 1));
    int *loop = arena_alloc(a, sizeof(int) * ((size_t)nc + 1));
    for (int i = 0; i < n_nodes; i++) {
        const Val *v = ir->vals.items[nodes[i]];
        if (v->op != V_STATE && !p->inlined[v->id])
            size[sc->comp[v->id]]++;
    }
    int cur = 0, acc = 0;
    for (int i = 0; i < n_order; i++) {
        int c = order[i];
        if (sc->cyclic[c] && acc > 0 && acc + size[c] > LOOP_BUDGET) {
            cur++;
            acc = 0;
        }
        loop[c] = cur;
        acc += size[c];
    }
    for (int i = 0; i < n_nodes; i++)
        p->loop_of[nodes[i]] = loop[sc->comp[nodes[i]]];
    return cur + 1;
}

/* What each loop reads from earlier ones: p->need, sorted, no pair twice. */
static void find_needs(Arena *a, Plan *p)
{
    const Ir *ir = p->ir;
    int cap = 0;
    for (int i = 0; i < ir->vals.n; i++) {
        Val *v = ir->vals.items[i];
        if (!is_member(p, v) || v->op == V_STATE || p->inlined[v->id])
            continue;
        int l = p->loop_of[v->id];
        if (plan_fixed_tap(v))
            continue;   /* reads its delay as dk/df, computed per tick */
        const Val *ops[3] = { v->a, v->b, v->c };
        for (int k = 0; k < 3; k++)
            if (!plan_bypassed(p, v, ops[k], USE_PAUDIO))
                read_in(a, p, &cap, ops[k], l);
    }
    for (int k = 0; k < ir->states.n; k++) {
        StateSlot *st = ir->states.items[k];
        if (p->state_live[k] && st->sec == SEC_PATCH && st->end != st->start)
            read_in(a, p, &cap, st->end, plan_loop_at(p, st->start));
    }
    for (int ch = 0; ch < p->u->n_outputs; ch++)
        read_in(a, p, &cap, p->u->out[ch], plan_loop_at(p, p->u->out[ch]));
    if (p->n_need > 1)
        qsort(p->need, (size_t)p->n_need, 2 * sizeof(int), need_cmp);
    int m = 0;
    for (int i = 0; i < p->n_need; i++)
        if (m == 0 || p->need[2 * i] != p->need[2 * (m - 1)] || p->need[2 * i + 1] != p->need[2 * (m - 1) + 1]) {
            p->need[2 * m] = p->need[2 * i];
            p->need[2 * m + 1] = p->need[2 * i + 1];
            m++;
        }
    p->n_need = m;
}

/* Back to one loop over the chunk. */
static void one_loop(Plan *p)
{
    int n = p->ir->vals.n;
    p->n_loops = 1;
    p->n_need = 0;
    for (int i = 0; i <= n; i++) {
        p->loop_of[i] = -1;
        p->cross[i] = 0;
    }
}

/* Does the patch section use a delay line? Without one its feedback
 * loops are filters carried in registers, short chains that the processor
 * overlaps across samples in one loop of modest length: split, a chain of
 * four biquads (82 values) ran slower (chunk arrays stored and reloaded
 * between its loops: 107 instructions per sample against 94, and about
 * 30 % more time), so such a patch section of up to REGISTER_ONE_LOOP
 * values (after its first sample: the steady body's, when it has one)
 * stays one loop; a longer one, or one with delay lines (Freeverb's combs
 * and all-passes), is split. */
static int patch_has_delay(const Plan *p)
{
    for (int k = 0; k < p->ir->delays.n; k++)
        if (p->delay_live[k] && ((const DelaySlot *)p->ir->delays.items[k])->sec == SEC_PATCH)
            return 1;
    return 0;
}

void plan_loops(Arena *a, Plan *p)
{
    const Ir *ir = p->ir;
    int n = ir->vals.n;
    p->n_loops = 1;
    p->loop_of = arena_alloc(a, sizeof(int) * ((size_t)n + 1));
    p->cross = arena_alloc(a, (size_t)n + 1);
    for (int i = 0; i <= n; i++)
        p->loop_of[i] = -1;
    for (int k = 0; k < ir->externs.n; k++)
        if (p->extern_live[k] && ((ExternSlot *)ir->externs.items[k])->sec == SEC_PATCH)
            return;
    for (int i = 0; i < n; i++) {    /* an oversampled region runs in one loop of its own */
        const Val *v = ir->vals.items[i];
        if (v->live && v->sec == SEC_PATCH && (v->op == V_OS_IN || v->op == V_OS_OUT))
            return;
    }
    Graph g;
    Scc sc;
    graph_init(&g, a, n);
    scc_init(&sc, a, n);
    int *nodes = arena_alloc(a, sizeof(int) * ((size_t)n + 1)), n_nodes = 0;
    for (int i = 0; i < n; i++) {
        Val *v = ir->vals.items[i];
        if (!is_member(p, v))
            continue;
        g.on[v->id] = 1;
        nodes[n_nodes++] = v->id;
        const Val *ops[3] = { v->a, v->b, v->c };
        for (int k = 0; k < 3; k++)
            if (is_member(p, ops[k]))
                graph_edge(&g, ops[k]->id, v->id);
    }
    if (!patch_has_delay(p) && (p->n_settled ? plan_steady_size(p) : n_nodes) <= REGISTER_ONE_LOOP)
        return;
    graph_carried_edges(&g, ir, NULL);
    graph_finish(&g);
    scc_run(&sc, &g, NULL, nodes, n_nodes);
    p->n_loops = place(a, p, &g, &sc, nodes, n_nodes);
    if (p->n_loops == 1) {
        one_loop(p);
        return;
    }
    plan_steady_drop(p);
    find_needs(a, p);
    /* The chunk arrays live on the stack of process() (the audio thread's;
     * 1 MiB in the browser): past MAX_CROSSING of them, one loop. */
    int crossing = 0;
    for (int i = 0; i <= n; i++)
        crossing += p->cross[i] != 0;
    if (crossing > MAX_CROSSING)
        one_loop(p);
}

/* `--dump loops`: the loops and the values that cross from one to a
 * later one. */
void plan_dump_loops(FILE *out, const Plan *p)
{
    const Ir *ir = p->ir;
    if (p->n_loops == 1) {
        fputs("patch sample loop: one\n", out);
        return;
    }
    fprintf(out, "patch sample loop: split in %d\n", p->n_loops);
    int ni = 0;
    for (int l = 0; l < p->n_loops; l++) {
        int members = 0;
        for (int i = 0; i < ir->vals.n; i++) {
            const Val *v = ir->vals.items[i];
            members += p->loop_of[v->id] == l && v->op != V_STATE && !p->inlined[v->id];
        }
        fprintf(out, "loop %d: %d value%s", l + 1, members, members == 1 ? "" : "s");
        const char *sep = "; reads";
        for (; ni < p->n_need && p->need[2 * ni] == l; ni++) {
            fprintf(out, "%s v%d", sep, p->need[2 * ni + 1]);
            sep = ",";
        }
        fputc('\n', out);
        for (int i = 0; i < ir->vals.n; i++) {
            const Val *v = ir->vals.items[i];
            if (p->loop_of[v->id] != l || v->op == V_STATE || p->inlined[v->id])
                continue;
            fputs("  ", out);
            ir_dump_val(out, v);
            if (p->cross[v->id])
                fputs("    ; kept for a later loop", out);
            fputc('\n', out);
        }
    }
}
