/* schedule.c — the order of the instances of the unit patch.
 *
 * Takes the PatchScope that sema collected; produces, per section, its
 * instances in an order where each comes after every instance it reads
 * (through its arguments, the connections to its inputs and the lets
 * these read; not through prev(), which reads the previous sample):
 * ps->order, and the unit's instance list (Lowered.instances) that the
 * graph dump and the JSON show. A cycle of such reads is a feedback loop
 * without a delay, an error that names the loop.
 */
#include "sema.h"

#include <string.h>

static void collect_deps(Walk *c, Expr *e, Section sec, PtrVec *deps);

/* The instances a let reads, worked out once per let (as let_channels). */
static void let_deps(Walk *c, PLet *l)
{
    if (l->deps_done || l->busy || c->let_depth >= LET_NEST_LIMIT)
        return;
    l->busy = 1;
    c->let_depth++;
    collect_deps(c, l->item->value, l->sec, &l->deps);
    c->let_depth--;
    l->busy = 0;
    l->deps_done = 1;
}

/* Instances that an expression reads (not through prev). */
static void collect_deps(Walk *c, Expr *e, Section sec, PtrVec *deps)
{
    if (!e)
        return;
    if (e->kind == EX_CALL && strcmp(e->name, "prev") == 0)
        return;
    if (e->kind == EX_FIELD && e->a->kind == EX_NAME) {
        PInst *p = sema_find_inst(c->ps, e->a->name, sec);
        if (p && p->side == 1 && e->name[0] != '@') {
            vec_push(c->a, deps, p->partner);   /* an output of a node built from instances */
            return;
        }
    }
    if (e->kind == EX_NAME) {
        PInst *p = sema_find_inst(c->ps, e->name, sec);
        if (p) {
            vec_push(c->a, deps, p);
            return;
        }
        PLet *l = sema_find_let(c->ps, e->name, sec);
        if (!l)
            return;
        let_deps(c, l);
        for (int i = 0; i < l->deps.n; i++) {
            int seen = 0;
            for (int j = 0; j < deps->n && !seen; j++)
                seen = deps->items[j] == l->deps.items[i];
            if (!seen)
                vec_push(c->a, deps, l->deps.items[i]);
        }
        return;
    }
    collect_deps(c, e->a, sec, deps);
    collect_deps(c, e->b, sec, deps);
    collect_deps(c, e->c, sec, deps);
    for (Arg *a = e->args; a; a = a->next)
        collect_deps(c, a->value, sec, deps);
}

typedef struct ScheduleFrame { /* a PInst on the DFS stack */
    PInst *inst;
    PtrVec deps;
    int next;
} ScheduleFrame;

static void inst_deps(Walk *c, PInst *p, PtrVec *deps)
{
    for (Arg *a = p->item->args; a; a = a->next)
        collect_deps(c, a->value, p->sec, deps);
    for (int i = 0; i < c->ps->conns.n; i++) {
        PConn *k = c->ps->conns.items[i];
        if (k->sec != p->sec)
            continue;
        for (Target *t = k->item->targets; t; t = t->next)
            if (strcmp(t->object, p->item->name) == 0) {
                collect_deps(c, k->item->value, p->sec, deps);
                break;
            }
    }
}

/* Depth-first search with an explicit stack: a post-order of the
 * instances of one section, and the first loop found, named in full. */
static void schedule(Walk *c, Section sec, PtrVec *order)
{
    PatchScope *ps = c->ps;
    ScheduleFrame *stack = arena_alloc(c->a, sizeof(ScheduleFrame) * (size_t)(ps->insts.n + 1));
    for (int r = 0; r < ps->insts.n; r++) {
        PInst *root = ps->insts.items[r];
        if (root->sec != sec || root->color)
            continue;
        int top = 0;
        stack[0] = (ScheduleFrame){ .inst = root };
        inst_deps(c, root, &stack[0].deps);
        root->color = 1;
        while (top >= 0) {
            ScheduleFrame *f = &stack[top];
            if (f->next == f->deps.n) {
                f->inst->color = 2;
                vec_push(c->a, order, f->inst);
                top--;
                continue;
            }
            PInst *q = f->deps.items[f->next++];
            if (q->color == 2)
                continue;
            if (q->color == 1) {
                int j = top;
                while (j > 0 && stack[j].inst != q)
                    j--;
                char *path = arena_strdup(c->a, q->item->name);
                for (int i = j + 1; i <= top; i++)
                    path = arena_printf(c->a, "%s -> %s", path, stack[i].inst->item->name);
                path = arena_printf(c->a, "%s -> %s", path, q->item->name);
                diag_error(c->d, q->item->loc, "feedback loop without a delay: %s", path);
                diag_note(c->d, q->item->loc, "break the loop with prev(...) or a delay line");
                continue;
            }
            q->color = 1;
            top++;
            stack[top] = (ScheduleFrame){ .inst = q };
            inst_deps(c, q, &stack[top].deps);
        }
    }
}

int schedule_unit(PatchScope *ps, Diag *d)
{
    int errors = d->errors;
    Walk c = { .prog = ps->prog, .d = d, .a = ps->prog->arena, .ps = ps };
    /* the instances each let reads, in the order the lets are written (as
     * sema works out their channels) */
    for (int i = 0; i < ps->lets.n; i++) {
        PLet *l = ps->lets.items[i];
        c.sec = l->sec;
        let_deps(&c, l);
    }
    for (int sec = SEC_VOICE; sec >= SEC_PATCH; sec--) {   /* the voice section first */
        schedule(&c, (Section)sec, &ps->order[sec]);
        for (int i = 0; i < ps->order[sec].n; i++) {
            PInst *p = ps->order[sec].items[i];
            if (p->side)   /* its instances are listed */
                continue;
            UnitInstance *ui = arena_alloc(c.a, sizeof *ui);
            ui->name = p->item->name;
            ui->node = p->node->name;
            ui->sec = (Section)sec;
            ui->order = ps->unit->instances.n;
            vec_push(c.a, &ps->unit->instances, ui);
        }
    }
    return d->errors - errors;
}

/* `--dump schedule`: per section, the instances in order and what each
 * reads. */
void schedule_dump(FILE *out, const PatchScope *ps)
{
    for (int sec = SEC_VOICE; sec >= SEC_PATCH; sec--) {
        const PtrVec *order = &ps->order[sec];
        if (!order->n)
            continue;
        fprintf(out, "%s:\n", sec == SEC_VOICE ? "per voice" : "patch");
        for (int i = 0; i < order->n; i++) {
            PInst *p = order->items[i];
            fprintf(out, "  %d. %s = %s", i + 1, p->item->name, p->node->name);
            PtrVec deps = { 0 };
            Walk c = { .prog = ps->prog, .a = ps->prog->arena, .ps = (PatchScope *)ps, .sec = (Section)sec };
            inst_deps(&c, p, &deps);
            int shown = 0;
            for (int k = 0; k < deps.n; k++) {
                int seen = 0;
                for (int j = 0; j < k && !seen; j++)
                    seen = deps.items[j] == deps.items[k];
                if (!seen)
                    fprintf(out, "%s%s", shown++ ? ", " : "  <- ", ((PInst *)deps.items[k])->item->name);
            }
            fputc('\n', out);
        }
    }
}
