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
 */
#include "flush.h"

#include <stdlib.h>
#include <string.h>

typedef struct Graph {
    int n;                 /* Vals, by id */
    int *start, *adj;      /* successors of v: adj[start[v] .. start[v + 1]) */
    char *on;              /* in the graph: live, not flushed */
} Graph;

typedef struct Edges {
    int *from, *to;
    int n, cap;
} Edges;

static int edge(Edges *e, int from, int to)
{
    if (e->n == e->cap) {
        int cap = e->cap ? 2 * e->cap : 256;
        int *f = realloc(e->from, sizeof(int) * (size_t)cap);
        if (!f)
            return -1;
        e->from = f;
        int *t = realloc(e->to, sizeof(int) * (size_t)cap);
        if (!t)
            return -1;
        e->to = t;
        e->cap = cap;
    }
    e->from[e->n] = from;
    e->to[e->n] = to;
    e->n++;
    return 0;
}

/* Can the emitter flush this Val where it is computed? Leaves it names
 * directly (state, extern outputs, inputs, constants) and truth values
 * cannot, or need not, be. */
static int flushable(const Val *v)
{
    switch (v->op) {
    case V_CONST: case V_SR: case V_PARAM: case V_NOTE: case V_INPUT: case V_STATE:
    case V_NOISE: case V_VOICEBUS: case V_TINDEX: case V_PLACEHOLDER: case V_EXTERN_OUT:
    case V_NOT: case V_LT: case V_LE: case V_GT: case V_GE: case V_EQ: case V_NE:
    case V_AND: case V_OR:
        return 0;
    default:
        return 1;
    }
}

/* Does operand k of v carry its magnitude into v's value? A truth value
 * (a comparison, and, or, not), the condition of a select and a rounded
 * value (floor, ceil, round, trunc: 0 or at least 1 in magnitude) do not:
 * a tiny operand there cannot make a tiny result, so loops through such an
 * edge need no flush for it. */
int flush_data_edge(const Val *v, int k)
{
    switch (v->op) {
    case V_NOT: case V_LT: case V_LE: case V_GT: case V_GE: case V_EQ: case V_NE: case V_AND: case V_OR:
        return 0;
    case V_SELECT:
        return k != 0;
    case V_FUNC1:
        return !(v->idx == F_FLOOR || v->idx == F_CEIL || v->idx == F_ROUND || v->idx == F_TRUNC);
    default:
        return 1;
    }
}

/* Tarjan's strongly connected components over the Vals with g->on set and
 * mask (if given) set, iteratively. comp[v] = component number, or -1 for
 * a Val on no cycle. Returns the number of Vals on cycles. */
typedef struct Scc {
    int *index, *low, *stack, *calls, *edge_at, *comp;
    char *on_stack;
    int n_comp;
} Scc;

static int scc_alloc(Scc *s, int n)
{
    memset(s, 0, sizeof *s);
    s->index = malloc(sizeof(int) * (size_t)(n + 1));
    s->low = malloc(sizeof(int) * (size_t)(n + 1));
    s->stack = malloc(sizeof(int) * (size_t)(n + 1));
    s->calls = malloc(sizeof(int) * (size_t)(n + 1));
    s->edge_at = malloc(sizeof(int) * (size_t)(n + 1));
    s->comp = malloc(sizeof(int) * (size_t)(n + 1));
    s->on_stack = malloc((size_t)n + 1);
    return s->index && s->low && s->stack && s->calls && s->edge_at && s->comp && s->on_stack ? 0 : -1;
}

static void scc_free(Scc *s)
{
    free(s->index); free(s->low); free(s->stack); free(s->calls);
    free(s->edge_at); free(s->comp); free(s->on_stack);
}

static int in_graph(const Graph *g, const char *mask, int v)
{
    return g->on[v] && (!mask || mask[v]);
}

/* Components over `nodes` (the Vals to visit, in order). */
static int scc_run(Scc *s, const Graph *g, const char *mask, const int *nodes, int n_nodes)
{
    for (int i = 0; i < n_nodes; i++) {
        int v = nodes[i];
        s->index[v] = -1;
        s->on_stack[v] = 0;
        s->comp[v] = -1;
    }
    int counter = 0, sp = 0, cyclic = 0;
    s->n_comp = 0;
    for (int r = 0; r < n_nodes; r++) {
        int root = nodes[r];
        if (!in_graph(g, mask, root) || s->index[root] >= 0)
            continue;
        int depth = 0;
        s->calls[depth] = root;
        s->edge_at[depth] = g->start[root];
        s->index[root] = s->low[root] = counter++;
        s->stack[sp++] = root;
        s->on_stack[root] = 1;
        while (depth >= 0) {
            int v = s->calls[depth];
            if (s->edge_at[depth] < g->start[v + 1]) {
                int w = g->adj[s->edge_at[depth]++];
                if (!in_graph(g, mask, w))
                    continue;
                if (s->index[w] < 0) {
                    depth++;
                    s->calls[depth] = w;
                    s->edge_at[depth] = g->start[w];
                    s->index[w] = s->low[w] = counter++;
                    s->stack[sp++] = w;
                    s->on_stack[w] = 1;
                } else if (s->on_stack[w] && s->index[w] < s->low[v]) {
                    s->low[v] = s->index[w];
                }
                continue;
            }
            if (s->low[v] == s->index[v]) {
                int size = 0, self = 0;
                for (int k = sp - 1; k >= 0; k--) {
                    size++;
                    if (s->stack[k] == v)
                        break;
                }
                if (size == 1)
                    for (int k = g->start[v]; k < g->start[v + 1]; k++)
                        self |= g->adj[k] == v;
                int c = size > 1 || self ? s->n_comp++ : -1;
                if (c >= 0)
                    cyclic += size;
                for (int k = 0; k < size; k++) {
                    int w = s->stack[--sp];
                    s->on_stack[w] = 0;
                    s->comp[w] = c;
                }
            }
            depth--;
            if (depth >= 0) {
                int u = s->calls[depth];
                if (s->low[v] < s->low[u])
                    s->low[u] = s->low[v];
            }
        }
    }
    return cyclic;
}

/* Candidates are tried in components up to this size; a larger one has
 * every stored value flushed (every cycle passes through one), as a bound
 * on the time this pass takes. */
enum { TRY_ALL = 512 };

char *flush_points(Ir *ir)
{
    int n = ir->vals.n;
    char *flush = calloc((size_t)n + 1, 1);
    char *stored = calloc((size_t)n + 1, 1);
    Graph g = { n, calloc((size_t)n + 2, sizeof(int)), NULL, calloc((size_t)n + 1, 1) };
    Edges es = { 0 };
    Scc s;
    memset(&s, 0, sizeof s);
    int ok = flush && stored && g.start && g.on && scc_alloc(&s, n) == 0;
    for (int i = 0; ok && i < n; i++) {
        Val *v = ir->vals.items[i];
        if (!v->live)
            continue;
        g.on[v->id] = 1;
        const Val *ops[3] = { v->a, v->b, v->c };
        for (int k = 0; k < 3 && ok; k++)
            if (ops[k] && ops[k]->live && flush_data_edge(v, k))
                ok = edge(&es, ops[k]->id, v->id) == 0;
    }
    for (int k = 0; ok && k < ir->states.n; k++) {
        StateSlot *st = ir->states.items[k];
        if (st->end != st->start && st->end->live && st->start->live) {
            ok = edge(&es, st->end->id, st->start->id) == 0;
            stored[st->end->id] = 1;
        }
    }
    for (int i = 0; ok && i < n; i++) {
        Val *v = ir->vals.items[i];
        if (v->live && v->op == V_DELAY_READ) {
            DelaySlot *d = ir->delays.items[v->idx];
            if (d->write && d->write->live) {
                ok = edge(&es, d->write->id, v->id) == 0;
                stored[d->write->id] = 1;
            }
        }
        if (ok && v->live && v->op == V_EXTERN_OUT) {
            ExternSlot *x = ir->externs.items[v->idx];
            for (int j = 0; j < x->n_in && ok; j++)
                if (x->in[j]->live)
                    ok = edge(&es, x->in[j]->id, v->id) == 0;
            for (int j = 0; j < x->n_param && ok; j++)
                if (x->param[j]->live)
                    ok = edge(&es, x->param[j]->id, v->id) == 0;
        }
    }
    int *nodes = NULL, *members = NULL;
    char *mask = NULL;
    if (ok) {
        g.adj = malloc(sizeof(int) * (size_t)(es.n + 1));
        nodes = malloc(sizeof(int) * (size_t)(n + 1));
        members = malloc(sizeof(int) * (size_t)(n + 1));
        mask = calloc((size_t)n + 1, 1);
        ok = g.adj && nodes && members && mask;
    }
    if (ok) {
        for (int k = 0; k < es.n; k++)
            g.start[es.from[k] + 1]++;
        for (int v = 0; v < n; v++)
            g.start[v + 1] += g.start[v];
        int *fill = malloc(sizeof(int) * (size_t)(n + 1));
        ok = fill != NULL;
        if (ok) {
            memcpy(fill, g.start, sizeof(int) * (size_t)n);
            for (int k = 0; k < es.n; k++)
                g.adj[fill[es.from[k]]++] = es.to[k];
            free(fill);
        }
    }
    int n_nodes = 0;
    for (int v = 0; ok && v < n; v++)
        if (g.on[v])
            nodes[n_nodes++] = v;
    /* Each round flushes one Val in every component that still has a
     * cycle and a Val that can be flushed. */
    char *hopeless = ok ? calloc((size_t)n + 1, 1) : NULL;
    while (ok && hopeless && scc_run(&s, &g, NULL, nodes, n_nodes) > 0) {
        int n_comp = s.n_comp, progress = 0;
        int *comp = malloc(sizeof(int) * (size_t)(n + 1));
        if (!comp)
            break;
        memcpy(comp, s.comp, sizeof(int) * (size_t)(n + 1));
        for (int c = 0; c < n_comp; c++) {
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
                const Val *val = ir->vals.items[v];
                if (!flushable(val))
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
        free(comp);
        if (!progress)
            break;
    }
    if ((!ok || !hopeless) && flush && stored) {
        /* out of memory: flush every stored value, as before this pass */
        for (int v = 0; v < n; v++)
            flush[v] = stored[v] && flushable(ir->vals.items[v]);
    }
    free(hopeless);
    free(nodes);
    free(members);
    free(mask);
    free(g.adj);
    free(g.start);
    free(g.on);
    free(es.from);
    free(es.to);
    free(stored);
    scc_free(&s);
    return flush;
}
