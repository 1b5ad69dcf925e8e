/* flush.c — where the emitted code flushes tiny values to zero.
 *
 * A float that decays towards zero through a feedback loop (a filter's
 * state, a comb's delay line, after the input went silent) enters the
 * denormal range, where x86 arithmetic is many times slower and
 * WebAssembly has no flush-to-zero mode. The emitted code therefore
 * replaces values below 1e-30 by 0 (amp_flush). One flush on every
 * feedback loop is enough: once the flushed value is 0, everything the
 * loop computes from it is 0 too, and above 1e-30 the values around the
 * loop stay far from the denormal range for any sensible coefficient.
 *
 * The loops are the cycles of the value graph (its data edges: not into
 * comparisons, conditions or floor; see flush_data_edge) with one edge
 * added per carried value: a state's end value -> its start leaf, a delay
 * line's write -> each of its reads (an extern block: its inputs and
 * params -> its outputs). This pass picks a small set of Vals that cuts every cycle
 * (a feedback vertex set, greedily): in each strongly connected component
 * it flushes the Val whose removal leaves the fewest Vals on cycles,
 * preferring a value that is stored (a state's end, a delay write), so a
 * damped comb (state f = read * a + f * b; write x + f * g) gets one flush,
 * on f, instead of one on f and one on the write. Deterministic: ties go
 * to the earlier Val.
 *
 * Takes the Ir of a lowered unit (its live Vals); produces Plan.flush
 * (plan.h), in the arena.
 */
#include "flush.h"

#include "graph.h"
#include "plan.h"

#include <string.h>

/* Can the emitter flush this Val where it is computed? Leaves it names
 * directly (state, extern outputs, inputs, constants) and truth values
 * cannot, or need not, be. */
static int flushable(const Val *v)
{
    switch (v->op) {
    case V_CONST: case V_SR: case V_PARAM: case V_NOTE: case V_INPUT: case V_STATE:
    case V_NOISE: case V_VOICEBUS: case V_TINDEX: case V_PLACEHOLDER: case V_EXTERN_OUT: case V_SAMPLE_INFO:
    case V_OS_IN: case V_OS_OUT:
        return 0;
    default:
        return !valop_is_truth(v->op);
    }
}

/* Does operand k of v carry its magnitude into v's value? A truth value
 * (a comparison, and, or, not), the condition of a select and a rounded
 * value (floor, ceil, round, trunc: 0 or at least 1 in magnitude) do not:
 * a tiny operand there cannot make a tiny result, so loops through such an
 * edge need no flush for it. */
int flush_data_edge(const Val *v, int k)
{
    if (valop_is_truth(v->op))
        return 0;
    if (v->op == V_SELECT)
        return k != 0;
    if (v->op == V_FUNC1)
        return !func_rounds((Func)v->idx);
    return 1;
}

/* Candidates are tried in components up to this size; a larger one has
 * every stored value flushed (every cycle passes through one), as a bound
 * on the time this pass takes. */
enum { TRY_ALL = 512 };

char *flush_points(Arena *a, const Ir *ir)
{
    int n = ir->vals.n;
    char *flush = arena_alloc(a, (size_t)n + 1);
    char *stored = arena_alloc(a, (size_t)n + 1);
    Graph g;
    Scc s;
    graph_init(&g, a, n);
    scc_init(&s, a, n);
    for (int i = 0; i < n; i++) {
        Val *v = ir->vals.items[i];
        if (!v->live)
            continue;
        g.on[v->id] = 1;
        const Val *ops[3] = { v->a, v->b, v->c };
        for (int k = 0; k < 3; k++)
            if (ops[k] && ops[k]->live && flush_data_edge(v, k))
                graph_edge(&g, ops[k]->id, v->id);
    }
    graph_carried_edges(&g, ir, stored);
    graph_extern_edges(&g, ir);
    graph_finish(&g);
    int *nodes = arena_alloc(a, sizeof(int) * (size_t)(n + 1));
    int *members = arena_alloc(a, sizeof(int) * (size_t)(n + 1));
    char *mask = arena_alloc(a, (size_t)n + 1);
    char *hopeless = arena_alloc(a, (size_t)n + 1);
    int *comp = arena_alloc(a, sizeof(int) * (size_t)(n + 1));
    char *cyclic = arena_alloc(a, (size_t)n + 1);   /* per component; there are at most n */
    int n_nodes = 0;
    for (int v = 0; v < n; v++)
        if (g.on[v])
            nodes[n_nodes++] = v;
    /* Each round flushes one Val in every component that still has a
     * cycle and a Val that can be flushed. */
    while (scc_run(&s, &g, NULL, nodes, n_nodes) > 0) {
        int n_comp = s.n_comp, progress = 0;
        memcpy(comp, s.comp, sizeof(int) * (size_t)(n + 1));
        memcpy(cyclic, s.cyclic, (size_t)n_comp);
        for (int c = 0; c < n_comp; c++) {
            if (!cyclic[c])
                continue;
            int m = 0;
            for (int i = 0; i < n_nodes; i++)
                if (comp[nodes[i]] == c)
                    members[m++] = nodes[i];
            if (m == 0 || hopeless[members[0]])
                continue;
            if (m > TRY_ALL) {
                for (int i = 0; i < m; i++) {
                    int v = members[i];
                    if (stored[v] && flushable(ir->vals.items[v])) {
                        flush[v] = 1;
                        g.on[v] = 0;
                        progress = 1;
                    }
                }
                continue;
            }
            for (int i = 0; i < m; i++)
                mask[members[i]] = 1;
            int best = -1, best_left = 0, best_stored = 0;
            for (int i = 0; i < m; i++) {
                int v = members[i];
                if (!flushable(ir->vals.items[v]))
                    continue;
                g.on[v] = 0;
                int left = scc_run(&s, &g, mask, members, m);
                g.on[v] = 1;
                if (best < 0 || left < best_left || (left == best_left && stored[v] && !best_stored)) {
                    best = v;
                    best_left = left;
                    best_stored = stored[v];
                }
            }
            for (int i = 0; i < m; i++)
                mask[members[i]] = 0;
            if (best < 0) {
                /* no arithmetic on this loop (copies, truth values): it
                 * cannot make a denormal */
                for (int i = 0; i < m; i++)
                    hopeless[members[i]] = 1;
                continue;
            }
            flush[best] = 1;
            g.on[best] = 0;
            progress = 1;
        }
        if (!progress)
            break;
    }
    return flush;
}

void plan_flush(Arena *a, Plan *p)
{
    p->flush = flush_points(a, p->ir);
}

/* `--dump flush`: the flushed values. */
void plan_dump_flush(FILE *out, const Plan *p)
{
    const Ir *ir = p->ir;
    int n = 0;
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (!p->flush[v->id])
            continue;
        fprintf(out, "flush ");
        ir_dump_val(out, v);
        if (v->name)
            fprintf(out, "    ; %s", v->name);
        fputc('\n', out);
        n++;
    }
    fprintf(out, "%d flush point%s\n", n, n == 1 ? "" : "s");
}
