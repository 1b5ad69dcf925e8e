/* graph.c — a graph over Val ids and Tarjan's strongly connected
 * components, iterative (graphs of a hundred thousand Vals must not
 * overflow the stack), in the compilation's arena. */
#include "graph.h"

#include <string.h>

void graph_init(Graph *g, Arena *a, int n)
{
    memset(g, 0, sizeof *g);
    g->arena = a;
    g->n = n;
    g->start = arena_alloc(a, sizeof(int) * ((size_t)n + 2));
    g->on = arena_alloc(a, (size_t)n + 1);
}

/* The edge list doubles in the arena (the old arrays stay there until the
 * compilation ends: at most as much again). */
void graph_edge(Graph *g, int from, int to)
{
    if (g->n_edges == g->cap) {
        int cap = g->cap ? 2 * g->cap : 256;
        int *f = arena_alloc(g->arena, sizeof(int) * (size_t)cap);
        int *t = arena_alloc(g->arena, sizeof(int) * (size_t)cap);
        if (g->n_edges) {
            memcpy(f, g->from, sizeof(int) * (size_t)g->n_edges);
            memcpy(t, g->to, sizeof(int) * (size_t)g->n_edges);
        }
        g->from = f;
        g->to = t;
        g->cap = cap;
    }
    g->from[g->n_edges] = from;
    g->to[g->n_edges] = to;
    g->n_edges++;
}

void graph_carried_edges(Graph *g, const Ir *ir, char *sources)
{
    for (int k = 0; k < ir->states.n; k++) {
        const StateSlot *st = ir->states.items[k];
        if (st->end != st->start && g->on[st->end->id] && g->on[st->start->id]) {
            graph_edge(g, st->end->id, st->start->id);
            if (sources)
                sources[st->end->id] = 1;
        }
    }
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (v->op != V_DELAY_READ || !g->on[v->id])
            continue;
        const DelaySlot *d = ir->delays.items[v->idx];
        if (d->write && g->on[d->write->id]) {
            graph_edge(g, d->write->id, v->id);
            if (sources)
                sources[d->write->id] = 1;
        }
    }
}

void graph_extern_edges(Graph *g, const Ir *ir)
{
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (!v->live || v->op != V_EXTERN_OUT)
            continue;
        const ExternSlot *x = ir->externs.items[v->idx];
        for (int j = 0; j < x->n_in; j++)
            if (x->in[j]->live)
                graph_edge(g, x->in[j]->id, v->id);
        for (int j = 0; j < x->n_param; j++)
            if (x->param[j]->live)
                graph_edge(g, x->param[j]->id, v->id);
    }
}

void graph_finish(Graph *g)
{
    g->adj = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n_edges + 1));
    int *fill = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n + 1));
    for (int k = 0; k < g->n_edges; k++)
        g->start[g->from[k] + 1]++;
    for (int v = 0; v < g->n; v++)
        g->start[v + 1] += g->start[v];
    memcpy(fill, g->start, sizeof(int) * (size_t)g->n);
    for (int k = 0; k < g->n_edges; k++)
        g->adj[fill[g->from[k]]++] = g->to[k];
}

void scc_init(Scc *s, Arena *a, int n)
{
    memset(s, 0, sizeof *s);
    size_t k = (size_t)n + 1;
    s->index = arena_alloc(a, sizeof(int) * k);
    s->low = arena_alloc(a, sizeof(int) * k);
    s->stack = arena_alloc(a, sizeof(int) * k);
    s->calls = arena_alloc(a, sizeof(int) * k);
    s->edge_at = arena_alloc(a, sizeof(int) * k);
    s->comp = arena_alloc(a, sizeof(int) * k);
    s->size = arena_alloc(a, sizeof(int) * k);
    s->cyclic = arena_alloc(a, k);
    s->on_stack = arena_alloc(a, k);
}

static int in_graph(const Graph *g, const char *mask, int v)
{
    return g->on[v] && (!mask || mask[v]);
}

int scc_run(Scc *s, const Graph *g, const char *mask, const int *nodes, int n_nodes)
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
        s->calls[0] = root;
        s->edge_at[0] = g->start[root];
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
                int c = s->n_comp++;
                s->size[c] = size;
                s->cyclic[c] = (char)(size > 1 || self);
                if (s->cyclic[c])
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
