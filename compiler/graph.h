/* graph.h — a directed graph over Val ids and its strongly connected
 * components, for the passes that look at feedback loops: where to flush
 * (flush.c) and how to split the sample loop (loops.c). Its arrays live
 * in the compilation's arena.
 *
 * Build it from an edge list (graph_edge, then graph_finish); nodes are
 * ids 0..n-1, each switched on or off (g->on). scc_run() numbers the
 * components of the nodes that are on (and in mask, if one is given) in
 * Tarjan's order: a component is numbered after every component it
 * reaches, so descending numbers are a topological order. */
#ifndef AMP_GRAPH_H
#define AMP_GRAPH_H

#include "ir.h"

typedef struct Graph {
    Arena *arena;          /* where every array lives */
    int n;
    int *start, *adj;      /* successors of v: adj[start[v] .. start[v + 1]) */
    char *on;              /* in the graph */
    int *from, *to;        /* the edges, while building */
    int n_edges, cap;
} Graph;

void graph_init(Graph *g, Arena *a, int n);  /* every node off */
void graph_edge(Graph *g, int from, int to);
void graph_finish(Graph *g);                 /* builds the successor lists */
/* The edges a value carries to the next sample, between Vals that are on
 * (set g->on first): a state's end -> its start leaf, a delay line's write
 * -> each of its reads. sources, if not NULL, gets 1 for the Val each such
 * edge leaves (the stored values). */
void graph_carried_edges(Graph *g, const Ir *ir, char *sources);
/* The edges into each live output of a Faust node (an extern): from its
 * live inputs and params, which its dsp reads in the same sample. */
void graph_extern_edges(Graph *g, const Ir *ir);

typedef struct Scc {
    int *index, *low, *stack, *calls, *edge_at;
    int *comp;             /* per node: its component, -1 when not visited */
    int *size;             /* per component: its number of nodes */
    char *cyclic;          /* per component: on a cycle (more than one node, or a self edge) */
    char *on_stack;
    int n_comp;
} Scc;

void scc_init(Scc *s, Arena *a, int n);
/* Components of the nodes listed (in that order of search) that are on
 * and in mask (when not NULL). Returns the number of nodes on cycles. */
int scc_run(Scc *s, const Graph *g, const char *mask, const int *nodes, int n_nodes);

#endif
