/* graph.c — a graph over Val ids and Tarjan's strongly connected
 * components, iterative (graphs of a hundred thousand Vals must not
 * overflow the stack). */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

int graph_init(Graph *g, int n)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->start = calloc((size_t)n + 2, sizeof(int));
    g->on = calloc((size_t)n + 1, 1);
    g->failed = !g->start || !g->on;
    return g->failed ? -1 : 0;
}

void graph_edge(Graph *g, int from, int to)
{
    if (g->failed)
        return;
    if (g->n_edges == g->cap) {
        int cap = g->cap ? 2 * g->cap : 256;
        int *f = realloc(g->from, sizeof(int) * (size_t)cap);
        if (f)
            g->from = f;
        int *t = f ? realloc(g->to, sizeof(int) * (size_t)cap) : NULL;
        if (t)
            g->to = t;
        if (!f || !t) {
            g->failed = 1;
            return;
        }
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

int graph_finish(Graph *g)
{
    if (g->failed)
        return -1;
    g->adj = malloc(sizeof(int) * (size_t)(g->n_edges + 1));
    int *fill = malloc(sizeof(int) * (size_t)(g->n + 1));
    if (!g->adj || !fill) {
        free(fill);
        g->failed = 1;
        return -1;
    }
    for (int k = 0; k < g->n_edges; k++)
        g->start[g->from[k] + 1]++;
    for (int v = 0; v < g->n; v++)
        g->start[v + 1] += g->start[v];
    memcpy(fill, g->start, sizeof(int) * (size_t)g->n);
    for (int k = 0; k < g->n_edges; k++)
        g->adj[fill[g->from[k]]++] = g->to[k];
    free(fill);
    return 0;
}

void graph_free(Graph *g)
{
    free(g->start);
    free(g->adj);
    free(g->on);
    free(g->from);
    free(g->to);
    memset(g, 0, sizeof *g);
}

int scc_alloc(Scc *s, int n)
{
    memset(s, 0, sizeof *s);
    size_t k = (size_t)n + 1;
    s->index = malloc(sizeof(int) * k);
    s->low = malloc(sizeof(int) * k);
    s->stack = malloc(sizeof(int) * k);
    s->calls = malloc(sizeof(int) * k);
    s->edge_at = malloc(sizeof(int) * k);
    s->comp = malloc(sizeof(int) * k);
    s->size = malloc(sizeof(int) * k);
    s->cyclic = malloc(k);
    s->on_stack = malloc(k);
    return s->index && s->low && s->stack && s->calls && s->edge_at && s->comp && s->size && s->cyclic &&
                   s->on_stack
               ? 0
               : -1;
}

void scc_free(Scc *s)
{
    free(s->index);
    free(s->low);
    free(s->stack);
    free(s->calls);
    free(s->edge_at);
    free(s->comp);
    free(s->size);
    free(s->cyclic);
    free(s->on_stack);
    memset(s, 0, sizeof *s);
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
