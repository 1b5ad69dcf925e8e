/* check_flush.c — where the emitted code flushes tiny values (compiler/flush.c).
 *
 * "cover": on 3000 random value graphs (states, delay lines, arithmetic,
 * copies) every feedback loop passes through a flushed Val, checked by a
 * topological sort independent of the pass; loops made only of copies and
 * truth values need none. Only Vals the emitter can flush are chosen, and
 * the result does not depend on anything but the graph.
 * "shapes": a damped comb (state and delay line on one loop) gets one
 * flush, on the state's new value; an all-pass loop one, on its write; a
 * feed-forward delay none; the emitted Freeverb has 24 (one per comb and
 * all-pass) where flushing every stored value took 40; a biquad (the
 * trapezoidal SVF form: two integrators, each a loop of its own) two.
 * Besides those, each patch output is flushed where it is written unless
 * it is a flushed value already (no patch writes a denormal).
 */
#include "ampc.h"
#include "flush.h"
#include "ir.h"

#include "testutil.h"

#include <string.h>

static int truth(const Val *v);

/* Is there a cycle among the live Vals with flush[] == 0 (data edges, as
 * flush_data_edge says, with the carried
 * edges: state end -> start, delay write -> reads)? Kahn's algorithm;
 * *pure set when no Val doing arithmetic is on a cycle (each Val Kahn left
 * is searched for a path back to itself). */
static int has_cycle(Ir *ir, const char *flush, int *pure)
{
    int n = ir->vals.n;
    int *indeg = calloc((size_t)n + 1, sizeof(int));
    int (*edges)[2] = malloc(sizeof *edges * (size_t)(4 * n + 16));
    int ne = 0;
    char *on = calloc((size_t)n + 1, 1);
    for (int i = 0; i < n; i++) {
        Val *v = ir->vals.items[i];
        on[v->id] = v->live && !flush[v->id];
    }
    for (int i = 0; i < n; i++) {
        Val *v = ir->vals.items[i];
        if (!on[v->id])
            continue;
        Val *ops[3] = { v->a, v->b, v->c };
        for (int k = 0; k < 3; k++)
            if (ops[k] && on[ops[k]->id] && flush_data_edge(v, k)) {
                edges[ne][0] = ops[k]->id;
                edges[ne++][1] = v->id;
            }
        if (v->op == V_DELAY_READ) {
            DelaySlot *d = ir->delays.items[v->idx];
            if (d->write && on[d->write->id]) {
                edges[ne][0] = d->write->id;
                edges[ne++][1] = v->id;
            }
        }
    }
    for (int k = 0; k < ir->states.n; k++) {
        StateSlot *s = ir->states.items[k];
        if (s->end != s->start && on[s->end->id] && on[s->start->id]) {
            edges[ne][0] = s->end->id;
            edges[ne++][1] = s->start->id;
        }
    }
    for (int k = 0; k < ne; k++)
        indeg[edges[k][1]]++;
    int *queue = malloc(sizeof(int) * (size_t)(n + 1)), head = 0, tail = 0, left = 0;
    for (int v = 0; v < n; v++)
        if (on[v]) {
            left++;
            if (!indeg[v])
                queue[tail++] = v;
        }
    while (head < tail) {
        int v = queue[head++];
        left--;
        for (int k = 0; k < ne; k++)
            if (edges[k][0] == v && --indeg[edges[k][1]] == 0)
                queue[tail++] = edges[k][1];
    }
    /* Vals on a loop: those that reach themselves (search from each). */
    *pure = 1;
    char *seen = malloc((size_t)n + 1);
    int *stack = malloc(sizeof(int) * (size_t)(n + 1));
    for (int i = 0; i < n && left; i++) {
        Val *v = ir->vals.items[i];
        if (!on[v->id] || indeg[v->id] == 0 || v->op == V_STATE || truth(v) || v->op == V_EXTERN_OUT)
            continue;
        memset(seen, 0, (size_t)n + 1);
        int sp = 0, loop = 0;
        stack[sp++] = v->id;
        while (sp && !loop) {
            int u = stack[--sp];
            for (int k = 0; k < ne; k++) {
                if (edges[k][0] != u)
                    continue;
                int w = edges[k][1];
                if (w == v->id)
                    loop = 1;
                else if (!seen[w]) {
                    seen[w] = 1;
                    stack[sp++] = w;
                }
            }
        }
        if (loop)
            *pure = 0;
    }
    free(seen);
    free(stack);
    free(indeg);
    free(edges);
    free(on);
    free(queue);
    return left > 0;
}

/* A truth value: 0 or 1, never near the denormal range. */
static int truth(const Val *v)
{
    return v->op == V_NOT || (v->op >= V_LT && v->op <= V_OR);
}

static uint32_t rnd_state;
static uint32_t rnd(uint32_t n)
{
    rnd_state = rnd_state * 1664525u + 1013904223u;
    return (rnd_state >> 8) % n;
}

/* A random graph: a few states and delay lines, then arithmetic on what
 * exists so far (leaves, inputs, constants), then each state's end and
 * each line's write chosen among the Vals (a copy of a state now and then). */
static void random_graph(Ir *ir, Arena *arena, uint32_t seed)
{
    rnd_state = seed;
    ir_init(ir, arena);
    int n_states = 1 + (int)rnd(5), n_delays = (int)rnd(4);
    Val *pool[256];
    int np = 0;
    pool[np++] = ir_leaf(ir, V_INPUT, 0, RATE_AUDIO, SEC_PATCH);
    pool[np++] = ir_leaf(ir, V_PARAM, 0, RATE_CONTROL, SEC_PATCH);
    StateSlot *st[8];
    DelaySlot *dl[8];
    for (int k = 0; k < n_states; k++) {
        st[k] = ir_state(ir, "s", SEC_PATCH, ir_const(ir, 0));
        pool[np++] = st[k]->start;
    }
    for (int k = 0; k < n_delays; k++) {
        dl[k] = ir_delay(ir, "d", SEC_PATCH, 100);
        pool[np++] = ir_op(ir, V_DELAY_READ, k, ir_const(ir, 1 + rnd(99)), NULL, NULL);
    }
    static const ValOp ops[] = { V_ADD, V_SUB, V_MUL, V_NEG, V_LT, V_SELECT, V_FUNC1, V_CLAMP };
    int n_ops = 3 + (int)rnd(40);
    for (int i = 0; i < n_ops && np < 250; i++) {
        ValOp op = ops[rnd(sizeof ops / sizeof ops[0])];
        Val *a = pool[rnd((uint32_t)np)], *b = pool[rnd((uint32_t)np)], *c = pool[rnd((uint32_t)np)];
        Val *v;
        if (op == V_NEG)
            v = ir_op(ir, op, 0, a, NULL, NULL);
        else if (op == V_FUNC1)
            v = ir_op(ir, op, F_TANH, a, NULL, NULL);
        else if (op == V_SELECT || op == V_CLAMP)
            v = ir_op(ir, op, 0, a, b, c);
        else if (op == V_MUL && rnd(2))
            v = ir_op(ir, op, 0, a, ir_const(ir, 0.5), NULL);
        else
            v = ir_op(ir, op, 0, a, b, NULL);
        pool[np++] = v;
    }
    Val *roots[32];
    int nr = 0;
    for (int k = 0; k < n_states; k++) {
        st[k]->end = pool[rnd((uint32_t)np)];
        roots[nr++] = st[k]->end;
    }
    for (int k = 0; k < n_delays; k++) {
        dl[k]->write = pool[rnd((uint32_t)np)];
        roots[nr++] = dl[k]->write;
    }
    roots[nr++] = pool[np - 1];
    ir_mark_live(ir, roots, nr);
}

static int count(const char *flush, int n)
{
    int c = 0;
    for (int i = 0; i <= n; i++)
        c += flush[i] != 0;
    return c;
}

START_TEST(test_random_graphs_covered)
{
    int cyclic = 0, flushed = 0;
    for (uint32_t seed = 1; seed <= 3000; seed++) {
        Arena arena;
        arena_init(&arena);
        Ir ir;
        random_graph(&ir, &arena, seed);
        char *none = calloc((size_t)ir.vals.n + 1, 1);
        int pure;
        cyclic += has_cycle(&ir, none, &pure) && !pure;
        char *flush = flush_points(&arena, &ir);
        ck_assert_ptr_nonnull(flush);
        int left = has_cycle(&ir, flush, &pure);
        if (left && !pure)
            ck_abort_msg("seed %u: a loop with arithmetic has no flush", seed);
        for (int i = 0; i < ir.vals.n; i++) {
            Val *v = ir.vals.items[i];
            if (!flush[v->id])
                continue;
            ck_assert_msg(v->live, "seed %u: a dead Val is flushed", seed);
            ck_assert_msg(v->op != V_STATE && v->op != V_INPUT && v->op != V_CONST && v->op != V_PARAM &&
                              !truth(v),
                          "seed %u: Val %d (%s) cannot be flushed where it is computed", seed, v->id,
                          valop_name(v->op));
        }
        /* the same graph again: the same choice */
        char *again = flush_points(&arena, &ir);
        ck_assert_int_eq(memcmp(flush, again, (size_t)ir.vals.n + 1), 0);
        flushed += count(flush, ir.vals.n);
        free(none);
        arena_free(&arena);
    }
    printf("flush: 3000 random graphs, %d with loops through arithmetic, %d flushes in all; every loop cut\n",
           cyclic, flushed);
    ck_assert_int_gt(cyclic, 500);
}
END_TEST

/* The number of per-sample amp_flush calls in the process function of
 * unit `unit`, compiled from `src` (text) or, when src is NULL, from the
 * file `file`, not counting those on the patch's outputs (after the
 * chunk's loops, `flush_out(out[k] + pos, len)`, every output not flushed
 * already) nor those at the chunk's end on states as they are stored
 * (`s->stK = amp_flushf(stK)`) and on the samples the chunk wrote to a
 * delay line (`flush_ring(s->dlK, ...)`, plan_chunk_flushes); those in
 * *outputs and *chunk_end when non-NULL. */
static int flushes_in_all(const char *file, const char *src, const char *unit, int *outputs, int *chunk_end)
{
    AmpcOptions opt = { .unit = unit };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    int rc = src ? ampc_compile_text(file, src, strlen(src), &opt, &d, &r) : ampc_compile_file(file, &opt, &d, &r);
    ck_assert_msg(rc == 0, "%s: %s does not compile", file, unit);
    const char *p = strstr(r.c_text, "static void p_process(");
    ck_assert_ptr_nonnull(p);
    int c = 0, o = 0, e = 0;
    for (const char *q = p; (q = strstr(q, "amp_flush")); q++) {
        const char *line = q;
        while (line > p && line[-1] != '\n')
            line--;
        if (!strncmp(line + strspn(line, " "), "s->st", 5))
            e++;
        else
            c++;
    }
    for (const char *q = p; (q = strstr(q, "flush_ring(s->dl")); q++)
        e++;
    for (const char *q = p; (q = strstr(q, "flush_out(out[")); q++)
        o++;
    ampc_result_free(&r);
    if (outputs)
        *outputs = o;
    if (chunk_end)
        *chunk_end = e;
    return c;
}

static int flushes_in_out(const char *file, const char *src, const char *unit, int *outputs)
{
    return flushes_in_all(file, src, unit, outputs, NULL);
}

static int flushes_in(const char *file, const char *src, const char *unit)
{
    return flushes_in_out(file, src, unit, NULL);
}

START_TEST(test_shapes)
{
    static const char *src =
        "node comb {\n"
        "  in x; out y; param damp = 0.4 in [0, 1]; param fb = 0.8 in [0, 1];\n"
        "  state f = 0; delay c[2000];\n"
        "  process { let o = c.read(1116); f = o * (1 - damp) + f * damp; c.write(x + f * fb); y = o; }\n"
        "}\n"
        "node allpass {\n"
        "  in x; out y; delay a[1000];\n"
        "  process { let q = a.read(556); a.write(x + q * 0.5); y = q - x; }\n"
        "}\n"
        "node echo {\n"
        "  in x; out y; delay a[1000];\n"
        "  process { a.write(x); y = x + a.read(300) * 0.5; }\n"
        "}\n"
        "node onepole {\n"
        "  in x; out y; param a = 0.9 in [0, 1]; state z = 0;\n"
        "  process { z = x + (z - x) * a; y = z; }\n"
        "}\n";
    ck_assert_int_eq(flushes_in("flush.amp", src, "echo"), 0);
    /* every loop flushed at the chunk's end, none every sample: the
     * one-pole's state as it is stored; the comb's state and the samples
     * the chunk wrote to its line; the all-pass's line */
    int outs, ends;
    ck_assert_int_eq(flushes_in_all("flush.amp", src, "onepole", &outs, &ends), 0);
    ck_assert_int_eq(ends, 1);
    ck_assert_int_eq(flushes_in_all("flush.amp", src, "allpass", &outs, &ends), 0);
    ck_assert_int_eq(ends, 1);
    ck_assert_int_eq(flushes_in_all("flush.amp", src, "comb", &outs, &ends), 0);
    ck_assert_int_eq(ends, 2);
    /* outputs not flushed already (comb's is a delay read; the one-pole's,
     * its state's new value, is no longer flushed every sample) are
     * flushed after the chunk's loops */
    ck_assert_int_eq(outs, 1);
    flushes_in_out("flush.amp", src, "onepole", &outs);
    ck_assert_int_eq(outs, 1);
    flushes_in_out("flush.amp", src, "echo", &outs);
    ck_assert_int_eq(outs, 1);
}
END_TEST

/* The library's Freeverb and a biquad, compiled from nodes/std. */
START_TEST(test_library)
{
    int fv_end, bq_end;
    int fv = flushes_in_all("nodes/std/fx.amp", NULL, "freeverb", NULL, &fv_end);
    int bq = flushes_in_all("nodes/std/filter.amp", NULL, "lowpass", NULL, &bq_end);
    printf("flush: freeverb %d flushes per sample and %d per chunk (16 combs' states and lines + 8 "
           "all-passes' lines), lowpass biquad %d per sample and %d per chunk (its SVF's two integrator "
           "states and the two it re-bases them by on a cutoff change, hpp and v1p, all in one loop)\n", fv, fv_end, bq, bq_end);
    ck_assert_int_eq(fv, 0);
    ck_assert_int_eq(fv_end, 40);
    ck_assert_int_eq(bq, 0);
    ck_assert_int_eq(bq_end, 4);
}
END_TEST

static Suite *flush_suite(void)
{
    Suite *s = suite_create("flush");
    TCase *c = tcase_create("cover");
    tcase_set_timeout(c, 120);
    tcase_add_test(c, test_random_graphs_covered);
    suite_add_tcase(s, c);
    TCase *sh = tcase_create("shapes");
    tcase_add_test(sh, test_shapes);
    tcase_add_test(sh, test_library);
    suite_add_tcase(s, sh);
    return s;
}

int main(void)
{
    return testutil_run(flush_suite());
}
