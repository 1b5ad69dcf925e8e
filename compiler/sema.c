/* sema.c — the checks before lowering, and the unit patch collected.
 *
 * Takes the parsed program (every module loaded, every Faust import made a
 * node) and the name of the unit to compile; produces a PatchScope (sema.h):
 * the unit patch (a node compiled alone is wrapped in one), its signature
 * in a new Lowered (name, inputs, outputs, params with their ranges, voices)
 * and its instances, lets and connections, indexed by name. Checked here:
 * names defined twice; every node alone, once, by lowering it against
 * stand-ins for its params and inputs (lower_node_body: names, arity,
 * units, rates, assignments); the unit's params, voices and outputs; each
 * instance's node and named arguments; each connection's targets and
 * channel counts. What an expression of the unit patch itself reads is
 * checked when lower.c lowers it.
 */
#include "sema.h"

#include <math.h>
#include <string.h>
#include "amp_patch.h"
#include "faust.h"

/* ---- units of measure ----------------------------------------------------- */

const char *sema_dim_text(UDim d)
{
    if (!d.known) return "a plain number";
    switch (d.exp) {
    case 0: return "a plain number";
    case 1: return "a time (s)";
    case -1: return "a frequency (Hz)";
    case 2: return "a time squared (s^2)";
    case -2: return "a frequency squared (Hz^2)";
    default: return "a value of unusual dimension";
    }
}

int sema_dims_clash(UDim x, UDim y)
{
    return x.known && y.known && x.exp != y.exp;
}

/* ---- names ----------------------------------------------------------------- */

/* A file's names are visible everywhere unless it was only imported with
 * `as` (a Faust node has no file of its own: visible). */
static int visible(const Module *m)
{
    return !m || m->global;
}

Module *sema_find_alias(Program *p, const char *name, size_t len)
{
    for (int i = 0; i < p->aliases.n; i++) {
        ImportAlias *al = p->aliases.items[i];
        if (strlen(al->name) == len && strncmp(al->name, name, len) == 0)
            return al->module;
    }
    return NULL;
}

/* `lib.name`: the file lib names and the name in it; NULL when name has
 * no '.' (or lib names no file: *file stays NULL). */
static const char *qualified(Program *p, const char *name, Module **file)
{
    const char *dot = strchr(name, '.');
    *file = NULL;
    if (!dot)
        return NULL;
    *file = sema_find_alias(p, name, (size_t)(dot - name));
    return dot + 1;
}

Node *sema_find_node(Program *p, const char *name)
{
    Module *file;
    const char *inner = qualified(p, name, &file);
    for (int i = 0; i < p->nodes.n; i++) {
        Node *n = p->nodes.items[i];
        if (inner ? file && n->module == file && strcmp(n->name, inner) == 0
                  : visible(n->module) && strcmp(n->name, name) == 0)
            return n;
    }
    return NULL;
}

/* A function called from the file `from` (NULL: the main file): lib.name,
 * else one of from's own, else one visible to all. */
FnDef *sema_find_func(Program *p, Module *from, const char *name)
{
    Module *file;
    const char *inner = qualified(p, name, &file);
    if (inner) {
        for (int i = 0; i < p->funcs.n && file; i++) {
            FnDef *f = p->funcs.items[i];
            if (f->module == file && strcmp(f->name, inner) == 0)
                return f;
        }
        return NULL;
    }
    if (!from)
        from = p->main;
    FnDef *any = NULL;
    for (int i = 0; i < p->funcs.n; i++) {
        FnDef *f = p->funcs.items[i];
        if (strcmp(f->name, name) != 0)
            continue;
        if (f->module == from)
            return f;
        if (!any && visible(f->module))
            any = f;
    }
    return any;
}

/* Two definitions of one name clash when they are in one file, or both in
 * files visible to all; in two files, the error names both. */
static void report_clash(Diag *d, const char *name, Loc loc, const Module *m, Loc old_loc, const Module *old)
{
    if (m == old || !m || !old) {
        diag_error(d, loc, "'%s' is already defined", name);
        diag_note(d, old_loc, "'%s' was defined here", name);
        return;
    }
    const char *base = strrchr(m->import_path, '/');
    base = base ? base + 1 : m->import_path;
    size_t n = strcspn(base, ".");
    int ident = n > 0 && n < 40 && !(base[0] >= '0' && base[0] <= '9');
    for (size_t i = 0; i < n; i++)
        ident &= (base[i] >= 'a' && base[i] <= 'z') || (base[i] >= 'A' && base[i] <= 'Z') ||
                 (base[i] >= '0' && base[i] <= '9') || base[i] == '_';
    char as[48];
    snprintf(as, sizeof as, "%.*s", ident ? (int)n : 3, ident ? base : "lib");
    diag_error(d, loc, "'%s' is defined in both '%s' and '%s'; import one of them with a name: "
               "import \"%s\" as %s; then write %s.%s", name, old->import_path, m->import_path, m->import_path,
               as, as, name);
    diag_note(d, old_loc, "'%s' was defined here", name);
}

static int clash(const Module *m, const Module *old)
{
    return m == old || (visible(m) && visible(old));
}

static Patch *find_patch(Program *p, const char *name)
{
    for (int i = 0; i < p->patches.n; i++) {
        Patch *pa = p->patches.items[i];
        if (strcmp(pa->name, name) == 0)
            return pa;
    }
    return NULL;
}

static uint32_t name_hash(const char *name, Section sec)
{
    uint32_t h = 2166136261u ^ (uint32_t)sec;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static void *ix_get(const NameIndex *ix, const char *name, Section sec)
{
    if (!ix->cap)
        return NULL;
    for (uint32_t i = name_hash(name, sec) & (uint32_t)(ix->cap - 1);; i = (i + 1) & (uint32_t)(ix->cap - 1)) {
        const NameEntry *e = &ix->slots[i];
        if (!e->name)
            return NULL;
        if (e->sec == sec && strcmp(e->name, name) == 0)
            return e->item;
    }
}

/* Add a name not in the index yet (the arena keeps old tables). */
static void ix_put(Arena *a, NameIndex *ix, const char *name, Section sec, void *item)
{
    if (2 * (ix->n + 1) > ix->cap) {
        NameIndex bigger = { arena_alloc(a, sizeof(NameEntry) * (size_t)(ix->cap ? 2 * ix->cap : 64)),
                             ix->cap ? 2 * ix->cap : 64, 0 };
        memset(bigger.slots, 0, sizeof(NameEntry) * (size_t)bigger.cap);
        for (int k = 0; k < ix->cap; k++)
            if (ix->slots[k].name)
                ix_put(a, &bigger, ix->slots[k].name, ix->slots[k].sec, ix->slots[k].item);
        *ix = bigger;
    }
    uint32_t i = name_hash(name, sec) & (uint32_t)(ix->cap - 1);
    while (ix->slots[i].name)
        i = (i + 1) & (uint32_t)(ix->cap - 1);
    ix->slots[i] = (NameEntry){ name, sec, item };
    ix->n++;
}

PInst *sema_find_inst(PatchScope *ps, const char *name, Section sec)
{
    return ix_get(&ps->inst_ix, name, sec);
}

PLet *sema_find_let(PatchScope *ps, const char *name, Section sec)
{
    return ix_get(&ps->let_ix, name, sec);
}

int sema_find_param(const Lowered *u, const char *name)
{
    for (int i = 0; i < u->n_params; i++)
        if (strcmp(u->params[i].name, name) == 0)
            return i;
    return -1;
}

int sema_find_name(const char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

UDim sema_unit_dim(int unit)
{
    static const UDim any = { 0, 0 }, plain = { 1, 0 }, freq = { 1, -1 }, time = { 1, 1 };
    return unit == AMP_UNIT_HZ ? freq : unit == AMP_UNIT_S ? time : unit == AMP_UNIT_DB ? plain : any;
}

/* How many channels an expression has, without lowering it (prev() in a
 * patch needs it before its argument can be lowered). */
/* A let's channels, worked out once per let so that chains of lets stay
 * linear (one being worked out, or read past LET_NEST_LIMIT, waits). */
static void let_channels(Walk *c, PLet *l)
{
    if (l->channels || l->busy || c->let_depth >= LET_NEST_LIMIT)
        return;
    l->busy = 1;
    c->let_depth++;
    l->channels = sema_expr_channels(c, l->item->value);
    c->let_depth--;
    l->busy = 0;
}

int sema_expr_channels(Walk *c, Expr *e)
{
    if (!e)
        return 1;
    if (e->kind == EX_NAME && strcmp(e->name, "voices") == 0 && c->sec == SEC_PATCH &&
        !sema_find_let(c->ps, "voices", c->sec))
        return c->ps->unit->n_outputs;
    if (e->kind == EX_NAME) {
        PLet *l = sema_find_let(c->ps, e->name, c->sec);
        if (l)
            let_channels(c, l);
        return l && l->channels ? l->channels : 1;
    }
    if (e->kind == EX_FIELD || e->kind == EX_NUM)
        return 1;
    int n = 1;
    Expr *sub[3] = { e->a, e->b, e->c };
    for (int i = 0; i < 3; i++) {
        int k = sub[i] ? sema_expr_channels(c, sub[i]) : 1;
        if (k > n) n = k;
    }
    for (Arg *a = e->args; a; a = a->next) {
        int k = sema_expr_channels(c, a->value);
        if (k > n) n = k;
    }
    return n;
}

int sema_ident_count(Ident *i)
{
    int n = 0;
    for (; i; i = i->next)
        n++;
    return n;
}

int sema_param_count(Param *p)
{
    int n = 0;
    for (; p; p = p->next)
        n++;
    return n;
}


int sema_param_unit(Param *p)
{
    Expr *e = p->def;
    if (e->kind != EX_NUM)
        return AMP_UNIT_NONE;
    switch (e->unit) {
    case UNIT_HZ: case UNIT_KHZ: return AMP_UNIT_HZ;
    case UNIT_S: case UNIT_MS: return AMP_UNIT_S;
    case UNIT_DB: return AMP_UNIT_DB;
    default: return AMP_UNIT_NONE;
    }
}

/* Check one node alone, with stand-ins for its params and inputs. A Faust
 * node has no body here: faust checked it. */
static void check_node(Program *prog, Diag *d, Node *n)
{
    if (n->faust_path)
        return;
    Ir scratch;
    ir_init(&scratch, prog->arena);
    Walk c = { .prog = prog, .d = d, .a = prog->arena, .ir = &scratch, .sec = SEC_PATCH };
    int np = sema_param_count(n->params), ni = sema_ident_count(n->ins), no = sema_ident_count(n->outs);
    NodeBinding b = {
        .params = arena_alloc(c.a, sizeof(Val *) * (size_t)(np + 1)),
        .param_dims = arena_alloc(c.a, sizeof(UDim) * (size_t)(np + 1)),
        .inputs = arena_alloc(c.a, sizeof(Val *) * (size_t)(ni + 1)),
    };
    int k = 0;
    for (Param *p = n->params; p; p = p->next, k++) {
        b.params[k] = ir_leaf(&scratch, V_PLACEHOLDER, k, RATE_CONTROL, SEC_PATCH);
        b.param_dims[k] = sema_unit_dim(sema_param_unit(p));
        double v;
        lower_const(&c, p->def, "a param's default", &v, NULL);
        if (p->lo) lower_const(&c, p->lo, "a param's range", &v, NULL);
        if (p->hi) lower_const(&c, p->hi, "a param's range", &v, NULL);
    }
    for (k = 0; k < ni; k++)
        b.inputs[k] = ir_leaf(&scratch, V_PLACEHOLDER, 1000 + k, RATE_AUDIO, SEC_PATCH);
    if (no == 0)
        diag_error(d, n->loc, "node '%s' has no outputs (declare them with 'out y;')", n->name);
    if (n->graph) {        /* built from instances: checked where it is instantiated */
        if (n->has_process)
            diag_error(d, n->process_loc, "node '%s' is built from instances; it cannot have a process block "
                       "too", n->name);
        for (Decl *dc = n->decls; dc; dc = dc->next)
            if (dc->kind == DECL_STATE || dc->kind == DECL_DELAY || dc->kind == DECL_TABLE)
                diag_error(d, dc->loc, "node '%s' is built from instances; '%s' belongs in a node with a "
                           "process block", n->name, dc->name);
        return;
    }
    Val **outs = arena_alloc(c.a, sizeof(Val *) * (size_t)(no + 1));
    lower_node_body(&c, n, &b, outs);
}

/* ---- functions ----------------------------------------------------------------- */

static int builtin_call(const char *name)
{
    static const char *const special[] = { "noise", "prev", "clamp", "sum", "product" };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (!strcmp(name, special[i]))
            return 1;
    return func_lookup(name) >= 0;
}

/* A function's name and parameters: not a built-in, not defined twice. */
static void check_func_names(Program *prog, Diag *d, int i)
{
    FnDef *f = prog->funcs.items[i];
    if (builtin_call(f->name))
        diag_error(d, f->loc, "'%s' is a built-in function and cannot be redefined", f->name);
    for (int j = 0; j < i; j++) {
        FnDef *g = prog->funcs.items[j];
        if (strcmp(f->name, g->name) == 0 && clash(f->module, g->module)) {
            report_clash(d, f->name, f->loc, f->module, g->loc, g->module);
            break;
        }
    }
    for (Ident *p = f->params; p; p = p->next) {
        if (!strcmp(p->name, "pi") || !strcmp(p->name, "SR"))
            diag_error(d, p->loc, "'%s' is a built-in name and cannot be redefined", p->name);
        for (Ident *q = f->params; q != p; q = q->next)
            if (!strcmp(p->name, q->name)) {
                diag_error(d, p->loc, "'%s' is already defined", p->name);
                diag_note(d, q->loc, "'%s' was defined here", q->name);
                break;
            }
    }
}

/* The functions `f` on the path stack calls in expression e; reports a
 * call that closes a cycle, naming it: `f -> g -> f`. */
static void find_recursion(Program *prog, Diag *d, FnDef **path, int n, Expr *e, PtrVec *order);

/* Depth first; order gets each function after those it calls. */
static void visit_func(Program *prog, Diag *d, FnDef **path, int n, FnDef *f, PtrVec *order)
{
    if (f->color == 2 || n >= FN_DEPTH_LIMIT)
        return;
    f->color = 1;
    path[n] = f;
    find_recursion(prog, d, path, n + 1, f->body, order);
    f->color = 2;
    vec_push(prog->arena, order, f);
}

static void find_recursion(Program *prog, Diag *d, FnDef **path, int n, Expr *e, PtrVec *order)
{
    if (!e)
        return;
    FnDef *g = NULL;
    if (e->kind == EX_CALL && func_lookup(e->name) < 0)
        g = e->fn ? e->fn : (e->fn = sema_find_func(prog, n > 0 ? path[n - 1]->module : NULL, e->name));
    else if (e->kind == EX_METHOD && e->a->kind == EX_NAME && sema_find_alias(prog, e->a->name, strlen(e->a->name)))
        g = sema_find_func(prog, NULL, arena_printf(prog->arena, "%s.%s", e->a->name, e->name));
    if (g && g->color == 1) {
            int from = n - 1;
            while (from > 0 && path[from] != g)
                from--;
            char cycle[512] = "";
            size_t used = 0;
            for (int i = from; i < n && used < sizeof cycle - 64; i++)
                used += (size_t)snprintf(cycle + used, sizeof cycle - used, "%s -> ", path[i]->name);
            snprintf(cycle + used, sizeof cycle - used, "%s", g->name);
            diag_error(d, e->loc, "function '%s' calls itself: %s (a function is inlined, so it cannot recurse)",
                       g->name, cycle);
    } else if (g) {
        visit_func(prog, d, path, n, g, order);
    }
    find_recursion(prog, d, path, n, e->a, order);
    find_recursion(prog, d, path, n, e->b, order);
    find_recursion(prog, d, path, n, e->c, order);
    for (Arg *a = e->args; a; a = a->next)
        find_recursion(prog, d, path, n, a->value, order);
}

/* Every function: its names, no recursion, and its body alone, with
 * stand-ins of any unit for its parameters (names, arity; units that
 * clash whatever the arguments). A body with errors is marked failed:
 * its calls are then inlined quietly. */
static void check_funcs(Program *prog, Diag *d)
{
    for (int i = 0; i < prog->funcs.n; i++)
        check_func_names(prog, d, i);
    FnDef **path = arena_alloc(prog->arena, sizeof(FnDef *) * (FN_DEPTH_LIMIT + 1));
    PtrVec fn_order = { 0 };
    for (int i = 0; i < prog->funcs.n; i++)
        visit_func(prog, d, path, 0, prog->funcs.items[i], &fn_order);
    /* Callees first: a call of a function whose body has errors of its
     * own is inlined quietly, so each error is reported once. */
    for (int i = 0; i < fn_order.n; i++) {
        FnDef *f = fn_order.items[i];
        Ir scratch;
        ir_init(&scratch, prog->arena);
        Walk c = { .prog = prog, .d = d, .a = prog->arena, .ir = &scratch, .sec = SEC_PATCH, .module = f->module };
        int errors = d->errors;
        FnFrame frame = { .f = f, .depth = 0 };
        frame.args = arena_alloc(prog->arena, sizeof(Sig) * (size_t)(f->n_params + 1));
        for (int k = 0; k < f->n_params; k++) {
            frame.args[k].n = 1;
            frame.args[k].ch[0] = ir_leaf(&scratch, V_PLACEHOLDER, 2000 + k, RATE_AUDIO, SEC_PATCH);
        }
        c.fn = &frame;
        c.fn->depth = f->body->depth;
        lower_value(&c, f->body);
        f->failed = d->errors > errors;
    }
}

/* ---- arrays and loops ----------------------------------------------------------- */

/* Before anything else reads a node or the unit patch, its arrays and
 * loops are expanded in its syntax tree, so that the later passes see
 * only plain names:
 *   - `for k in a..b { items }` becomes the items, once per k, with k a
 *     number in each copy;
 *   - `saws[3] = saw(...)` is the instance named "saws[3]", and the
 *     target `flt[3].x` its input;
 *   - `t[3]`, t a table `[e0, e1, ...]`, becomes the expression e3, and
 *     `saws[3]` the name "saws[3]";
 *   - sum(), product(), min() and max() of an array (a table, or
 *     `saws.y`: one output of every instance of an array) become a
 *     balanced tree of + or * or two-argument min()/max() calls.
 * Every index is a constant known here (numbers and loop variables):
 * one out of range is an error pointing at it. */

/* Loops make at most EXPAND_LIMIT items in a patch (4096 instances of a
 * saw compile in about a second), copying at most CLONE_LIMIT expression
 * nodes; an expression, once tables and reductions are put in, holds at
 * most SIZE_LIMIT nodes (counted as a tree). */
enum { EXPAND_LIMIT = 4096, CLONE_LIMIT = 1000000, SIZE_LIMIT = 4000000 };

typedef struct ArrayDef {
    const char *name;
    Loc loc;
    int is_table;
    Expr **elems;          /* table: its entries */
    int n;                 /* entries; instances: the highest index + 1 */
    int state;             /* table: 0 entries not rewritten, 1 being rewritten, 2 done */
} ArrayDef;

typedef struct Expand {
    Arena *a;
    Diag *d;
    Section sec;           /* of the items being expanded */
    NameIndex tables;      /* ArrayDef*: the tables (under SEC_PATCH) */
    NameIndex arrays;      /* ArrayDef*: the arrays of instances, by section */
    NameIndex elements;    /* the instances "name[k]" made, by section */
    long items;            /* graph items the loops have made */
    long cloned;           /* expression nodes the loops have copied */
    int too_deep;          /* reported once */
    int oversample;        /* the factor of the oversample block being unrolled, 0 outside */
    Loc oversample_loc;    /* where that block begins */
} Expand;

/* A constant the expansion can compute: numbers and arithmetic on them. */
static int const_value(const Expr *e, double *out)
{
    double x, y, z;
    switch (e->kind) {
    case EX_NUM:
        *out = e->num;
        return 1;
    case EX_UNARY:
        if (!const_value(e->a, &x))
            return 0;
        *out = e->op == OP_NEG ? -x : !x;
        return 1;
    case EX_BINARY:
        if (!const_value(e->a, &x) || !const_value(e->b, &y))
            return 0;
        switch (e->op) {
        case OP_ADD: *out = x + y; return 1;
        case OP_SUB: *out = x - y; return 1;
        case OP_MUL: *out = x * y; return 1;
        case OP_DIV: *out = y != 0 ? x / y : 0; return 1;
        case OP_MOD: *out = y != 0 ? x - y * floor(x / y) : 0; return 1;
        case OP_LT: *out = x < y; return 1;
        case OP_LE: *out = x <= y; return 1;
        case OP_GT: *out = x > y; return 1;
        case OP_GE: *out = x >= y; return 1;
        case OP_EQ: *out = x == y; return 1;
        case OP_NE: *out = x != y; return 1;
        case OP_AND: *out = x && y; return 1;
        case OP_OR: *out = x || y; return 1;
        default: return 0;
        }
    case EX_COND:
        if (!const_value(e->a, &x) || !const_value(e->b, &y) || !const_value(e->c, &z))
            return 0;
        *out = x ? y : z;
        return 1;
    default:
        return 0;
    }
}

/* A whole constant: an index or a loop's bound. 0 after reporting. */
static int whole_value(Expand *x, const Expr *e, const char *what, long *out)
{
    double v;
    if (!const_value(e, &v)) {
        diag_error(x->d, e->loc, "%s must be a constant (numbers and loop variables)", what);
        return 0;
    }
    if (v != floor(v) || fabs(v) > 1e9) {
        diag_error(x->d, e->loc, "%s must be a whole number, not %.9g", what, v);
        return 0;
    }
    *out = (long)v;
    return 1;
}

static ArrayDef *find_array(Expand *x, const char *name)
{
    ArrayDef *t = ix_get(&x->tables, name, SEC_PATCH);
    return t ? t : ix_get(&x->arrays, name, x->sec);
}

/* ---- copies with a loop's variable replaced by a number ---- */

static Expr *subst_expr(Expand *x, const Expr *e, const char *var, long k);

static Arg *subst_args(Expand *x, const Arg *list, const char *var, long k)
{
    Arg *head = NULL, **tail = &head;
    for (; list; list = list->next) {
        Arg *c = arena_alloc(x->a, sizeof *c);
        *c = *list;
        c->value = subst_expr(x, list->value, var, k);
        c->next = NULL;
        *tail = c;
        tail = &c->next;
    }
    return head;
}

static Expr *subst_expr(Expand *x, const Expr *e, const char *var, long k)
{
    if (!e)
        return NULL;
    x->cloned++;
    if (e->kind == EX_NAME && strcmp(e->name, var) == 0) {
        Expr *n = ast_num(x->a, e->loc, (double)k, UNIT_NONE);
        n->raw = (double)k;
        return n;
    }
    Expr *c = arena_alloc(x->a, sizeof *c);
    *c = *e;
    c->a = subst_expr(x, e->a, var, k);
    c->b = subst_expr(x, e->b, var, k);
    c->c = subst_expr(x, e->c, var, k);
    c->args = subst_args(x, e->args, var, k);
    return c;
}

/* A copy of the items of a loop's body with its variable replaced (a loop
 * inside with a variable of the same name keeps its own). */
static GraphItem *subst_items(Expand *x, const GraphItem *g, const char *var, long k)
{
    GraphItem *head = NULL, **tail = &head;
    for (; g; g = g->next) {
        GraphItem *c = arena_alloc(x->a, sizeof *c);
        *c = *g;
        x->items++;
        c->index = subst_expr(x, g->index, var, k);
        c->args = subst_args(x, g->args, var, k);
        c->value = subst_expr(x, g->value, var, k);
        c->elems = subst_args(x, g->elems, var, k);
        c->from = subst_expr(x, g->from, var, k);
        c->to = subst_expr(x, g->to, var, k);
        c->body = g->kind == GI_FOR && strcmp(g->name, var) == 0 ? g->body : subst_items(x, g->body, var, k);
        Target *th = NULL, **tt = &th;
        for (const Target *t = g->targets; t; t = t->next) {
            Target *ct = arena_alloc(x->a, sizeof *ct);
            *ct = *t;
            ct->index = subst_expr(x, t->index, var, k);
            ct->next = NULL;
            *tt = ct;
            tt = &ct->next;
        }
        c->targets = th;
        c->next = NULL;
        *tail = c;
        tail = &c->next;
    }
    return head;
}

/* ---- phase 1: loops unrolled, instances and tables named ---- */

static int builtin_name(const char *name)
{
    return !strcmp(name, "pi") || !strcmp(name, "SR") || !strcmp(name, "note") || !strcmp(name, "voices");
}

static const char *element_name(Arena *a, const char *name, long k)
{
    return arena_printf(a, "%s[%ld]", name, k);
}

static void add_table(Expand *x, const char *name, Loc loc, Arg *elems)
{
    if (ix_get(&x->tables, name, SEC_PATCH)) {
        ArrayDef *old = ix_get(&x->tables, name, SEC_PATCH);
        diag_error(x->d, loc, "'%s' is already defined", name);
        diag_note(x->d, old->loc, "'%s' was defined here", name);
        return;
    }
    ArrayDef *t = arena_alloc(x->a, sizeof *t);
    t->name = name;
    t->loc = loc;
    t->is_table = 1;
    for (Arg *e = elems; e; e = e->next)
        t->n++;
    t->elems = arena_alloc(x->a, sizeof(Expr *) * (size_t)(t->n + 1));
    int k = 0;
    for (Arg *e = elems; e; e = e->next)
        t->elems[k++] = e->value;
    ix_put(x->a, &x->tables, name, SEC_PATCH, t);
}

static GraphItem **unroll(Expand *x, GraphItem *list, GraphItem **tail);

/* oversample N { items }: the instances inside (loops unrolled) run at N
 * times the rate (lower.c); nothing else may be inside. */
static GraphItem **unroll_oversample(Expand *x, GraphItem *g, GraphItem **tail)
{
    long f;
    if (x->oversample) {
        diag_error(x->d, g->loc, "oversample blocks cannot be nested");
        diag_note(x->d, x->oversample_loc, "the outer oversample block begins here");
        return tail;
    }
    if (!whole_value(x, g->from, "the oversampling factor", &f))
        return tail;
    if (f != 2 && f != 4 && f != 8) {
        diag_error(x->d, g->from->loc, "the oversampling factor must be 2, 4 or 8, not %ld", f);
        return tail;
    }
    x->oversample = (int)f;
    x->oversample_loc = g->loc;
    tail = unroll(x, g->body, tail);
    x->oversample = 0;
    return tail;
}

/* Append the items of list, loops unrolled, to *tail; returns the new tail. */
static GraphItem **unroll(Expand *x, GraphItem *list, GraphItem **tail)
{
    GraphItem *next;
    for (GraphItem *g = list; g; g = next) {
        next = g->next;
        g->next = NULL;
        if (g->kind == GI_OVERSAMPLE) {
            tail = unroll_oversample(x, g, tail);
            continue;
        }
        if (x->oversample && g->kind != GI_FOR && g->kind != GI_INSTANCE) {
            static const char *what[] = { [GI_LET] = "let", [GI_CONNECT] = "connection", [GI_ARRAY] = "table" };
            diag_error(x->d, g->loc, "only instances can be oversampled; move this %s out of the oversample block",
                       what[g->kind]);
            continue;
        }
        if (g->kind == GI_INSTANCE)
            g->oversample = x->oversample;
        if (g->kind == GI_FOR) {
            long from, to;
            if (builtin_name(g->name)) {
                diag_error(x->d, g->name_loc, "'%s' is a built-in name and cannot be redefined", g->name);
                continue;
            }
            if (!whole_value(x, g->from, "a loop's bound", &from) || !whole_value(x, g->to, "a loop's bound", &to))
                continue;
            if (to < from) {
                diag_error(x->d, g->to->loc, "the range of a loop must not go down: %ld..%ld", from, to);
                continue;
            }
            for (long k = from; k < to; k++) {
                if (x->items + (to - k) > EXPAND_LIMIT || x->cloned > CLONE_LIMIT) {
                    diag_error(x->d, g->loc, "the loops of a patch make at most %d items (instances, "
                               "connections, loops) and copy at most %d operations", EXPAND_LIMIT, CLONE_LIMIT);
                    x->items = EXPAND_LIMIT + 1;
                    break;
                }
                tail = unroll(x, subst_items(x, g->body, g->name, k), tail);
            }
            continue;
        }
        if (g->kind == GI_ARRAY) {
            add_table(x, g->name, g->name_loc, g->elems);
            continue;
        }
        if (g->kind == GI_INSTANCE && g->index) {
            long k;
            if (!whole_value(x, g->index, "the index of an instance", &k))
                continue;
            if (k < 0) {
                diag_error(x->d, g->index->loc, "the index of an instance must not be negative (it is %ld)", k);
                continue;
            }
            ArrayDef *arr = ix_get(&x->arrays, g->name, x->sec);
            if (!arr) {
                arr = arena_alloc(x->a, sizeof *arr);
                arr->name = g->name;
                arr->loc = g->name_loc;
                ix_put(x->a, &x->arrays, g->name, x->sec, arr);
            }
            if (k + 1 > arr->n)
                arr->n = (int)(k + 1);
            g->name = element_name(x->a, g->name, k);
            g->index = NULL;
            if (!ix_get(&x->elements, g->name, x->sec))
                ix_put(x->a, &x->elements, g->name, x->sec, g);
        }
        for (Target *t = g->kind == GI_CONNECT ? g->targets : NULL; t; t = t->next) {
            long k;
            if (t->index && whole_value(x, t->index, "the index of an instance", &k)) {
                t->object = element_name(x->a, t->object, k);
                t->index = NULL;
            }
        }
        *tail = g;
        tail = &g->next;
    }
    return tail;
}

/* ---- phase 2: indexes and reductions rewritten ---- */

static Expr *rewrite(Expand *x, Expr *e);

static void table_ready(Expand *x, ArrayDef *t)
{
    if (t->state)
        return;
    t->state = 1;
    for (int i = 0; i < t->n; i++)
        t->elems[i] = rewrite(x, t->elems[i]);
    t->state = 2;
}

/* t[k]: the entry (a table) or the instance's name (an array of instances). */
static Expr *rewrite_index(Expand *x, Expr *e)
{
    ArrayDef *arr = find_array(x, e->name);
    if (!arr) {
        diag_error(x->d, e->loc, "'%s' is not a table or an array of instances", e->name);
        return ast_num(x->a, e->loc, 0, UNIT_NONE);
    }
    long k;
    char what[160];
    snprintf(what, sizeof what, "the index of '%.100s'", e->name);
    if (!whole_value(x, e->b, what, &k))
        return ast_num(x->a, e->loc, 0, UNIT_NONE);
    if (k < 0 || k >= arr->n) {
        diag_error(x->d, e->b->loc, "index %ld is outside '%s' (0 to %d)", k, e->name, arr->n - 1);
        return ast_num(x->a, e->loc, 0, UNIT_NONE);
    }
    if (arr->is_table) {
        if (arr->state == 1) {
            diag_error(x->d, e->loc, "table '%s' is defined in terms of itself", e->name);
            return ast_num(x->a, e->loc, 0, UNIT_NONE);
        }
        table_ready(x, arr);
        return arr->elems[k];
    }
    return ast_name(x->a, e->loc, element_name(x->a, e->name, k));
}

static Expr *reduce(Expand *x, Expr *e, Expr **terms, int lo, int hi)
{
    if (hi - lo == 1)
        return terms[lo];
    int mid = lo + (hi - lo) / 2;
    Expr *l = reduce(x, e, terms, lo, mid);
    Expr *r = reduce(x, e, terms, mid, hi);
    if (!strcmp(e->name, "sum") || !strcmp(e->name, "product"))
        return ast_binary(x->a, e->loc, e->name[0] == 's' ? OP_ADD : OP_MUL, l, r);
    Arg *args = ast_arg(x->a, e->loc, NULL, l);
    args->next = ast_arg(x->a, e->loc, NULL, r);
    return ast_call(x->a, e->loc, e->name, args);
}

/* sum(a), product(a), min(a), max(a) of an array: NULL if e is not one. */
static Expr *rewrite_reduction(Expand *x, Expr *e)
{
    int sum = !strcmp(e->name, "sum") || !strcmp(e->name, "product");
    int minmax = !strcmp(e->name, "min") || !strcmp(e->name, "max");
    if ((!sum && !minmax) || !e->args || e->args->next || e->args->name)
        return NULL;
    Expr *arg = e->args->value;
    ArrayDef *arr = NULL;
    if (arg->kind == EX_NAME)
        arr = ix_get(&x->tables, arg->name, SEC_PATCH);
    else if (arg->kind == EX_FIELD && arg->a->kind == EX_NAME)
        arr = ix_get(&x->arrays, arg->a->name, x->sec);
    if (!arr) {
        if (minmax)
            return NULL;   /* min(x): the usual arity error */
        diag_error(x->d, arg->loc, "%s() takes an array: a table (%s(gains)) or one output of instances made "
                   "in a loop (%s(saws.y))", e->name, e->name, e->name);
        return ast_num(x->a, e->loc, 0, UNIT_NONE);
    }
    if (arr->n == 0)
        return ast_num(x->a, e->loc, e->name[0] == 'p' ? 1 : 0, UNIT_NONE);
    Expr **terms = arena_alloc(x->a, sizeof(Expr *) * (size_t)arr->n);
    if (arr->is_table) {
        if (arr->state == 1) {
            diag_error(x->d, e->loc, "table '%s' is defined in terms of itself", arr->name);
            return ast_num(x->a, e->loc, 0, UNIT_NONE);
        }
        table_ready(x, arr);
        for (int i = 0; i < arr->n; i++)
            terms[i] = arr->elems[i];
    } else {
        for (int i = 0; i < arr->n; i++) {
            const char *name = element_name(x->a, arr->name, i);
            if (!ix_get(&x->elements, name, x->sec)) {
                diag_error(x->d, arg->loc, "'%s' has no instance %s (an array's instances are numbered from 0)",
                           arr->name, name);
                return ast_num(x->a, e->loc, 0, UNIT_NONE);
            }
            terms[i] = ast_field(x->a, arg->loc, ast_name(x->a, arg->a->loc, name), arg->name);
        }
    }
    return reduce(x, e, terms, 0, arr->n);
}

static int depth_of(const Expr *e)
{
    return e ? e->depth : 0;
}

/* The number of nodes of e counted as a tree (a table's entry counts at
 * each of its uses), saturating past SIZE_LIMIT; memoised in Expr.size. */
static long size_of(Expr *e)
{
    if (!e)
        return 0;
    if (e->size)
        return e->size;
    long n = 1 + size_of(e->a) + size_of(e->b) + size_of(e->c);
    for (Arg *a = e->args; a; a = a->next)
        n += size_of(a->value);
    e->size = n > SIZE_LIMIT ? SIZE_LIMIT + 1 : n;
    return e->size;
}

/* Past the limits, an expression is replaced by 0 after one error. */
static Expr *bounded(Expand *x, Expr *e)
{
    if (e->depth <= 2 * AST_MAX_DEPTH && size_of(e) <= SIZE_LIMIT)
        return e;
    if (!x->too_deep)
        diag_error(x->d, e->loc, "expression too large once tables and reductions are put in (more than %d "
                   "levels or %d operations)", 2 * AST_MAX_DEPTH, SIZE_LIMIT);
    x->too_deep = 1;
    return ast_num(x->a, e->loc, 0, UNIT_NONE);
}

static Expr *rewrite(Expand *x, Expr *e)
{
    if (!e)
        return NULL;
    if (e->kind == EX_INDEX)
        return rewrite_index(x, e);
    if (e->kind == EX_CALL) {
        Expr *r = rewrite_reduction(x, e);
        if (r)
            return bounded(x, r);
    }
    if (e->kind == EX_FIELD && e->a->kind == EX_NAME && ix_get(&x->arrays, e->a->name, x->sec) &&
        !ix_get(&x->elements, e->a->name, x->sec)) {
        diag_error(x->d, e->loc, "'%s' is an array of instances; read one as %s[k].%s, or all with sum(%s.%s)",
                   e->a->name, e->a->name, e->name, e->a->name, e->name);
        return ast_num(x->a, e->loc, 0, UNIT_NONE);
    }
    e->a = rewrite(x, e->a);
    e->b = rewrite(x, e->b);
    e->c = rewrite(x, e->c);
    int depth = depth_of(e->a);
    if (depth_of(e->b) > depth) depth = depth_of(e->b);
    if (depth_of(e->c) > depth) depth = depth_of(e->c);
    for (Arg *a = e->args; a; a = a->next) {
        a->value = rewrite(x, a->value);
        if (a->value->depth > depth)
            depth = a->value->depth;
    }
    e->depth = depth + 1;
    e->size = 0;
    return bounded(x, e);
}

static void rewrite_items(Expand *x, GraphItem *g)
{
    for (; g; g = g->next) {
        for (Arg *a = g->args; a; a = a->next)
            a->value = rewrite(x, a->value);
        g->value = rewrite(x, g->value);
    }
}

static void flatten_patch(Program *prog, Diag *d, Patch *p);

/* The unit patch: both sections unrolled, then rewritten, then the nodes
 * built from instances inlined. */
static void expand_patch(Program *prog, Diag *d, Patch *p)
{
    Expand x = { .a = prog->arena, .d = d };
    GraphItem *voice = NULL, *graph = NULL;
    x.sec = SEC_VOICE;
    unroll(&x, p->voice, &voice);
    x.sec = SEC_PATCH;
    unroll(&x, p->graph, &graph);
    p->voice = voice;
    p->graph = graph;
    if (d->errors)         /* a loop not unrolled: its arrays would be reported missing */
        return;
    x.sec = SEC_VOICE;
    rewrite_items(&x, p->voice);
    x.sec = SEC_PATCH;
    rewrite_items(&x, p->graph);
    if (!d->errors)
        flatten_patch(prog, d, p);
}

/* A node: its tables, then every expression rewritten. */
static void expand_node(Program *prog, Diag *d, Node *n)
{
    Expand x = { .a = prog->arena, .d = d, .sec = SEC_PATCH };
    for (Decl *dc = n->decls; dc; dc = dc->next)
        if (dc->kind == DECL_ARRAY)
            add_table(&x, dc->name, dc->loc, dc->elems);
    for (Decl *dc = n->decls; dc; dc = dc->next) {
        dc->value = rewrite(&x, dc->value);
        dc->size = rewrite(&x, dc->size);
    }
    for (Stmt *s = n->process; s; s = s->next)
        s->value = rewrite(&x, s->value);
}

/* ---- nodes built from instances (§11) ------------------------------------------ */

/* A node whose body holds instances and connections (`node chorus { ...
 * d1 = fdelay(...); ... -> out.y; }`), and an effect patch used as a node,
 * are inlined here, in the syntax tree of the unit patch, as its loops are:
 * the instance `ch = chorus(...)` stays (sema collects it as the two sides
 * of its ports, lower.c reads them), and the items of chorus follow it,
 * each name prefixed with the instance's: `ch.d1 = fdelay(...)`, `x` (an
 * input or a param) read as `ch.@x` (a field no text can name, so an
 * input and an output may share a name, as `in left; out left;`),
 * `-> out.y` sent to `ch.out`. Names inside are the
 * node's own: a name it does not define is unknown, whatever the patch
 * around it defines. So state is named by its path (`ch.d1.line`). */

/* Nodes nested at most NEST_DEPTH_LIMIT deep; at most NEST_ITEM_LIMIT items
 * made in all (a node of two instances of a node of two ... grows
 * exponentially). */
enum { NEST_DEPTH_LIMIT = 32, NEST_ITEM_LIMIT = 4 * EXPAND_LIMIT };

typedef struct Nest {
    Program *prog;
    Diag *d;
    Arena *a;
    Node *stack[NEST_DEPTH_LIMIT];  /* the nodes being inlined, outermost first */
    int depth;
    long items;
    int over;              /* the item limit, reported once */
    int recursion;         /* a node containing itself, reported once */
} Nest;

static Ident *stereo_outs(Arena *a, Loc loc)
{
    Ident *l = ast_ident(a, loc, "left");
    l->next = ast_ident(a, loc, "right");
    return l;
}

Node *sema_composite(Program *prog, const char *name)
{
    Node *n = sema_find_node(prog, name);
    if (n)
        return n->graph && !n->faust_path ? n : NULL;
    const char *dot = strchr(name, '.');
    Patch *p = dot ? NULL : find_patch(prog, name);
    Module *m = dot ? sema_find_alias(prog, name, (size_t)(dot - name)) : NULL;
    for (Patch *q = m ? m->patches : NULL; q; q = q->next)   /* lib.widen */
        if (!strcmp(q->name, dot + 1))
            p = q;
    if (!p || p->voices || p->has_voice)
        return NULL;
    if (!p->as_node) {
        Node *made = arena_alloc(prog->arena, sizeof *made);
        made->name = p->name;
        made->loc = p->loc;
        made->ins = p->ins;
        made->outs = p->outs ? p->outs : stereo_outs(prog->arena, p->loc);
        made->params = p->params;
        made->graph = p->graph;
        made->from_patch = 1;
        made->module = p->module;
        p->as_node = made;
    }
    return p->as_node;
}

/* A copy of the node's items: its lets and tables [..] first, then its
 * graph (each instance gets its own copy to expand and rename). */
static GraphItem *composite_items(Nest *w, Node *n)
{
    GraphItem *head = NULL, **tail = &head;
    for (Decl *dc = n->decls; dc; dc = dc->next) {
        if (dc->kind == DECL_LET)
            *tail = ast_graph_let(w->a, dc->loc, dc->name, dc->loc, dc->value);
        else if (dc->kind == DECL_ARRAY)
            *tail = ast_array(w->a, dc->loc, dc->name, dc->elems);
        else
            continue;      /* state, delay, table[size]: reported by check_node */
        tail = &(*tail)->next;
    }
    *tail = n->graph;
    Expand copy = { .a = w->a, .d = w->d };
    return subst_items(&copy, head, "", 0);
}

typedef struct Rename {
    const char *prefix;    /* the instance's path */
    Node *node;
    const char *alias;     /* the node's file is only imported as `alias`: its plain names of nodes and
                              functions are written alias.name; NULL otherwise */
} Rename;

/* The name a file imported only with `as` goes by; NULL if it is visible. */
static const char *module_alias(Program *prog, Module *m)
{
    if (!m || visible(m))
        return NULL;
    for (int j = 0; j < prog->aliases.n; j++) {
        ImportAlias *al = prog->aliases.items[j];
        if (al->module == m)
            return al->name;
    }
    return NULL;
}

/* Does file m define a node (or else a function) called name? */
static int module_defines(Program *prog, Module *m, const char *name, int node)
{
    for (int i = 0; node && i < prog->nodes.n; i++)
        if (((Node *)prog->nodes.items[i])->module == m && !strcmp(((Node *)prog->nodes.items[i])->name, name))
            return 1;
    for (int i = 0; !node && i < prog->funcs.n; i++)
        if (((FnDef *)prog->funcs.items[i])->module == m && !strcmp(((FnDef *)prog->funcs.items[i])->name, name))
            return 1;
    return 0;
}

static const char *nested_name(Nest *w, const Rename *r, const char *name)
{
    return arena_printf(w->a, "%s.%s", r->prefix, name);
}

static Expr *rename_expr(Nest *w, const Rename *r, Expr *e)
{
    if (!e)
        return NULL;
    if (e->kind == EX_NAME) {
        if (!strcmp(e->name, "SR") || !strcmp(e->name, "pi") || !strcmp(e->name, "note"))
            return e;
        if (sema_node_param(r->node, e->name) >= 0 || sema_node_input(r->node, e->name) >= 0)   /* ch.@x */
            return ast_field(w->a, e->loc, ast_name(w->a, e->loc, r->prefix), arena_printf(w->a, "@%s", e->name));
        return ast_name(w->a, e->loc, nested_name(w, r, e->name));
    }
    Expr *c = arena_alloc(w->a, sizeof *c);
    *c = *e;
    if (e->kind == EX_CALL && r->alias && module_defines(w->prog, r->node->module, e->name, 0)) {
        c->kind = EX_METHOD;                       /* f(x) in lib's node: lib.f(x) */
        c->a = ast_name(w->a, e->loc, r->alias);
    } else if (e->kind == EX_METHOD && e->a && e->a->kind == EX_NAME &&
        sema_find_alias(w->prog, e->a->name, strlen(e->a->name)))
        c->a = e->a;       /* lib.f(x) */
    else
        c->a = rename_expr(w, r, e->a);
    c->b = rename_expr(w, r, e->b);
    c->c = rename_expr(w, r, e->c);
    Arg *head = NULL, **tail = &head;
    for (Arg *a = e->args; a; a = a->next) {
        Arg *ca = arena_alloc(w->a, sizeof *ca);
        *ca = *a;
        ca->value = rename_expr(w, r, a->value);
        ca->next = NULL;
        *tail = ca;
        tail = &ca->next;
    }
    c->args = head;
    if (c->a && c->a->depth + 1 > c->depth)
        c->depth = c->a->depth + 1;
    return c;
}

static void rename_item(Nest *w, const Rename *r, GraphItem *g)
{
    if (g->kind == GI_INSTANCE || g->kind == GI_LET)
        g->name = nested_name(w, r, g->name);
    if (g->kind == GI_INSTANCE && r->alias && !strchr(g->node, '.') &&
        module_defines(w->prog, r->node->module, g->node, 1))
        g->node = arena_printf(w->a, "%s.%s", r->alias, g->node);   /* lib's own node */
    for (Arg *a = g->args; a; a = a->next)
        a->value = rename_expr(w, r, a->value);
    g->value = rename_expr(w, r, g->value);
    for (Target *t = g->targets; t; t = t->next)
        t->object = nested_name(w, r, t->object);   /* `out` too: the node's outputs */
}

static GraphItem **flatten(Nest *w, GraphItem *list, GraphItem **tail);

/* The items of node n for its instance g, renamed, after g. */
static GraphItem **inline_composite(Nest *w, GraphItem *g, Node *n, GraphItem **tail)
{
    for (int i = 0; i < w->depth; i++) {
        if (w->stack[i] != n)
            continue;
        if (w->recursion++)
            return tail;
        char *path = arena_strdup(w->a, w->stack[i]->name);
        for (int j = i + 1; j < w->depth; j++)
            path = arena_printf(w->a, "%s -> %s", path, w->stack[j]->name);
        diag_error(w->d, g->node_loc, "node '%s' contains itself: %s -> %s (its instances are inlined, so it "
                   "cannot recurse)", n->name, path, n->name);
        return tail;
    }
    if (w->depth == NEST_DEPTH_LIMIT) {
        if (w->recursion++)
            return tail;
        diag_error(w->d, g->node_loc, "nodes built from instances nest at most %d deep", NEST_DEPTH_LIMIT);
        return tail;
    }
    int errors = w->d->errors;
    Expand x = { .a = w->a, .d = w->d, .sec = SEC_PATCH };
    GraphItem *flat = NULL;
    unroll(&x, composite_items(w, n), &flat);
    if (w->d->errors > errors)
        return tail;
    rewrite_items(&x, flat);
    Rename r = { .prefix = g->name, .node = n, .alias = module_alias(w->prog, n->module) };
    for (GraphItem *h = flat; h; h = h->next)
        rename_item(w, &r, h);
    w->stack[w->depth++] = n;
    tail = flatten(w, flat, tail);
    w->depth--;
    return tail;
}

/* Append the items of list to *tail, each instance of a node built from
 * instances followed by that node's items; returns the new tail. */
static GraphItem **flatten(Nest *w, GraphItem *list, GraphItem **tail)
{
    GraphItem *next;
    for (GraphItem *g = list; g; g = next) {
        next = g->next;
        g->next = NULL;
        if (w->depth > 0 && ++w->items > NEST_ITEM_LIMIT) {   /* items of inlined nodes only */
            if (!w->over)
                diag_error(w->d, g->loc, "nodes built from instances make at most %d items in a patch",
                           NEST_ITEM_LIMIT);
            w->over = 1;
            return tail;
        }
        *tail = g;
        tail = &g->next;
        Node *n = g->kind == GI_INSTANCE ? sema_composite(w->prog, g->node) : NULL;
        if (n)
            tail = inline_composite(w, g, n, tail);
    }
    return tail;
}

static void flatten_patch(Program *prog, Diag *d, Patch *p)
{
    Nest w = { .prog = prog, .d = d, .a = prog->arena };
    GraphItem *voice = NULL, *graph = NULL;
    flatten(&w, p->voice, &voice);
    flatten(&w, p->graph, &graph);
    p->voice = voice;
    p->graph = graph;
}

/* ---- nodes and the unit patch ------------------------------------------------- */

static void check_params(Walk *c, Param *list, Lowered *u)
{
    u->n_params = sema_param_count(list);
    u->params = arena_alloc(c->a, sizeof(UnitParam) * (size_t)(u->n_params + 1));
    int k = 0;
    for (Param *p = list; p; p = p->next)  /* names first: a default may name a later param */
        u->params[k++].name = p->name;
    k = 0;
    for (Param *p = list; p; p = p->next, k++) {
        UnitParam *up = &u->params[k];
        up->name = p->name;
        up->loc = p->loc;
        up->unit = sema_param_unit(p);
        up->unit_label = p->unit_label;
        for (int j = 0; j < k; j++)
            if (strcmp(u->params[j].name, p->name) == 0) {
                diag_error(c->d, p->loc, "'%s' is already defined", p->name);
                diag_note(c->d, u->params[j].loc, "'%s' was defined here", p->name);
            }
        int db = up->unit == AMP_UNIT_DB;
        UDim want = sema_unit_dim(up->unit), got;
        double v = 0;
        if (lower_const(c, p->def, "a param's default", &v, &got))
            up->def = db ? 20 * log10(v > 0 ? v : 1e-30) : v;
        up->lo = -INFINITY;
        up->hi = INFINITY;
        if (p->lo && p->hi) {
            up->has_range = 1;
            double lo = 0, hi = 0;
            int ok = lower_const(c, p->lo, "a param's range", &lo, &got);
            if (ok && (sema_dims_clash(want, got) || (db && p->lo->unit != UNIT_DB)))
                diag_error(c->d, p->lo->loc, "the range of '%s' must be %s like its default", p->name,
                           db ? "in dB" : sema_dim_text(want));
            ok &= lower_const(c, p->hi, "a param's range", &hi, &got);
            if (ok && (sema_dims_clash(want, got) || (db && p->hi->unit != UNIT_DB)))
                diag_error(c->d, p->hi->loc, "the range of '%s' must be %s like its default", p->name,
                           db ? "in dB" : sema_dim_text(want));
            if (db) {
                lo = 20 * log10(lo > 0 ? lo : 1e-30);
                hi = 20 * log10(hi > 0 ? hi : 1e-30);
            }
            if (ok && lo > hi)
                diag_error(c->d, p->lo->loc, "the range of '%s' is empty: %.9g > %.9g", p->name, lo, hi);
            else if (ok && (up->def < lo - 1e-9 * fabs(lo) || up->def > hi + 1e-9 * fabs(hi)))
                diag_error(c->d, p->def->loc, "the default of '%s' (%.9g) is outside its range [%.9g, %.9g]",
                           p->name, up->def, lo, hi);
            up->lo = lo;
            up->hi = hi;
        }
        if (p->step && lower_const(c, p->step, "a param's step", &up->step, NULL) && up->step < 0)
            diag_error(c->d, p->step->loc, "a param's step must not be negative");
        if (p->smooth && lower_const(c, p->smooth, "a smoothing time", &up->smooth, &got)) {
            if (got.known && got.exp != 1)
                diag_error(c->d, p->smooth->loc, "a smoothing time must be a time (ms or s), not %s", sema_dim_text(got));
            else if (up->smooth < 0)
                diag_error(c->d, p->smooth->loc, "a smoothing time must not be negative");
        }
    }
}

static const char **ident_names(Arena *a, Ident *list, int *n)
{
    *n = sema_ident_count(list);
    const char **names = arena_alloc(a, sizeof(char *) * (size_t)(*n + 1));
    int k = 0;
    for (Ident *i = list; i; i = i->next)
        names[k++] = i->name;
    return names;
}

int sema_node_input(Node *n, const char *name)
{
    int k = 0;
    for (Ident *i = n->ins; i; i = i->next, k++)
        if (strcmp(i->name, name) == 0)
            return k;
    return -1;
}

int sema_node_output(Node *n, const char *name)
{
    int k = 0;
    for (Ident *i = n->outs; i; i = i->next, k++)
        if (strcmp(i->name, name) == 0)
            return k;
    return -1;
}

int sema_node_param(Node *n, const char *name)
{
    int k = 0;
    for (Param *p = n->params; p; p = p->next, k++)
        if (strcmp(p->name, name) == 0)
            return k;
    return -1;
}

static int target_width(Walk *c, Target *t)
{
    if (strcmp(t->object, "out") == 0 && !t->port)
        return c->ps->unit->n_outputs;
    PInst *p = t->port ? NULL : sema_find_inst(c->ps, t->object, c->sec);
    if (p && p->side == 2)
        return sema_ident_count(p->node->outs);
    return 1;
}

int sema_target_count(Target *t)
{
    int n = 0;
    for (; t; t = t->next)
        n++;
    return n;
}


/* Check the targets of a connection when the patch is collected. */
static void check_connection(Walk *c, GraphItem *g, Section sec)
{
    PatchScope *ps = c->ps;
    Lowered *u = ps->unit;
    int nt = sema_target_count(g->targets);
    for (Target *t = g->targets; t; t = t->next) {
        if (strcmp(t->object, "out") == 0) {
            if (t->port && sema_find_name(u->output_names, u->n_outputs, t->port) < 0)
                diag_error(c->d, t->loc, "patch '%s' has no output '%s'", u->name, t->port);
            continue;
        }
        PInst *p = sema_find_inst(ps, t->object, sec);
        if (!p) {
            if (sema_find_inst(ps, t->object, sec == SEC_VOICE ? SEC_PATCH : SEC_VOICE))
                diag_error(c->d, t->loc, "'%s' is on the other side of the voice block", t->object);
            else
                diag_error(c->d, t->loc, "unknown instance '%s' (connect to an instance's input or to out)", t->object);
            continue;
        }
        if (p->side == 2) {            /* `-> out.y` inside a node built from instances */
            if (t->port && sema_node_output(p->node, t->port) < 0)
                diag_error(c->d, t->loc, "%s '%s' has no output '%s'", p->node->from_patch ? "patch" : "node",
                           p->node->name, t->port);
            continue;
        }
        if (!t->port) {
            if (sema_ident_count(p->node->ins) != 1)
                diag_error(c->d, t->loc, "'%s' (node %s) has %d inputs; name one, as in %s.%s", t->object,
                           p->node->name, sema_ident_count(p->node->ins), t->object,
                           p->node->ins ? p->node->ins->name : "x");
            else
                t->port = p->node->ins->name;
            continue;
        }
        if (sema_node_input(p->node, t->port) < 0) {
            if (sema_node_param(p->node, t->port) >= 0)
                diag_error(c->d, t->loc, "'%s' is a param of %s; bind it in the instance: %s(%s: value)",
                           t->port, p->node->name, p->node->name, t->port);
            else
                diag_error(c->d, t->loc, "'%s' (%s %s) has no input '%s'", t->object,
                           p->node->from_patch ? "patch" : "node", p->node->name, t->port);
        }
    }
    int n = sema_expr_channels(c, g->value);
    if (n > 1) {
        int widths_one = 1;
        for (Target *t = g->targets; t; t = t->next)
            if (target_width(c, t) != 1)
                widths_one = 0;
        int ok = (nt == 1 && target_width(c, g->targets) == n) || (nt == n && widths_one);
        if (!ok)
            diag_error(c->d, g->loc, "this signal has %d channels but the targets take %d", n,
                       nt == 1 ? target_width(c, g->targets) : nt);
    }
}

/* `unknown node 'onepole'` when onepole is in a file imported only with
 * `as lib`: say to write lib.onepole. 0 if there is no such node. */
static int hidden_node_hint(Walk *c, GraphItem *g)
{
    if (strchr(g->node, '.'))
        return 0;
    for (int i = 0; i < c->prog->nodes.n; i++) {
        Node *n = c->prog->nodes.items[i];
        if (strcmp(n->name, g->node) != 0 || visible(n->module))
            continue;
        for (int j = 0; j < c->prog->aliases.n; j++) {
            ImportAlias *al = c->prog->aliases.items[j];
            if (al->module == n->module) {
                diag_error(c->d, g->node_loc, "unknown node '%s' ('%s' defines one; it is imported as '%s': "
                           "write %s.%s)", g->node, al->module->import_path, al->name, al->name, g->node);
                return 1;
            }
        }
    }
    return 0;
}

/* An instance of a node built from instances is two instances to the
 * scheduler: its inputs and params (`ch`: what it reads), and its outputs
 * (`ch.out`: what its `-> out` connections read), so that the node's
 * instances come after the first and before the second. */
static void add_output_side(Walk *c, PInst *p)
{
    GraphItem *g = arena_alloc(c->a, sizeof *g);
    *g = *p->item;
    g->name = arena_printf(c->a, "%s.out", p->item->name);
    g->args = NULL;
    g->next = NULL;
    PInst *q = arena_alloc(c->a, sizeof *q);
    *q = *p;
    q->item = g;
    q->side = 2;
    q->partner = p;
    p->side = 1;
    p->partner = q;
    vec_push(c->a, &c->ps->insts, q);
    ix_put(c->a, &c->ps->inst_ix, g->name, p->sec, q);
}

/* What cannot run oversampled: a Faust program (its own rate), a delay
 * line (every line advances once per sample, with the shared counter). */
static int oversample_ok(Walk *c, Node *n, GraphItem *g)
{
    if (n->faust_path) {
        diag_error(c->d, g->node_loc, "'%s' is a Faust node; it cannot be oversampled", n->name);
        return 0;
    }
    if (n->graph) {
        diag_error(c->d, g->node_loc, "'%s' is built from instances; oversample its instances inside it instead",
                   n->name);
        return 0;
    }
    for (Decl *d = n->decls; d; d = d->next) {
        if (d->kind == DECL_DELAY) {
            diag_error(c->d, g->node_loc, "node '%s' has a delay line ('%s'); it cannot be oversampled", n->name,
                       d->name);
            return 0;
        }
    }
    return 1;
}

static void collect_items(Walk *c, GraphItem *items, Section sec)
{
    PatchScope *ps = c->ps;
    for (GraphItem *g = items; g; g = g->next) {
        if (g->kind == GI_INSTANCE) {
            Node *n = sema_find_node(c->prog, g->node);
            if (!n)
                n = sema_composite(c->prog, g->node);
            if (!n) {
                if (find_patch(c->prog, g->node))
                    diag_error(c->d, g->node_loc, "'%s' is an instrument (it has a voice block); only an effect "
                               "patch can be used as a node", g->node);
                else if (func_lookup(g->node) >= 0 || !strcmp(g->node, "noise") || !strcmp(g->node, "prev"))
                    diag_error(c->d, g->node_loc, "'%s' is a built-in function, not a node; use it in an expression",
                               g->node);
                else if (!hidden_node_hint(c, g))
                    diag_error(c->d, g->node_loc, "unknown node '%s'", g->node);
                continue;
            }
            if (g->oversample > 1 && !oversample_ok(c, n, g))
                continue;
            PInst *old = sema_find_inst(ps, g->name, sec);
            PLet *oldl = sema_find_let(ps, g->name, sec);
            if (old || oldl || sema_find_param(ps->unit, g->name) >= 0 ||
                sema_find_name(ps->unit->input_names, ps->unit->n_inputs, g->name) >= 0) {
                diag_error(c->d, g->name_loc, "'%s' is already defined", g->name);
                continue;
            }
            if (!strcmp(g->name, "note") || !strcmp(g->name, "voices") || !strcmp(g->name, "SR") ||
                !strcmp(g->name, "pi")) {
                diag_error(c->d, g->name_loc, "'%s' is a built-in name and cannot be redefined", g->name);
                continue;
            }
            PInst *p = arena_alloc(c->a, sizeof *p);
            p->item = g;
            p->node = n;
            p->sec = sec;
            vec_push(c->a, &ps->insts, p);
            ix_put(c->a, &ps->inst_ix, g->name, sec, p);
            if (n->graph)
                add_output_side(c, p);
        } else if (g->kind == GI_LET) {
            if (sema_find_inst(ps, g->name, sec) || sema_find_let(ps, g->name, sec) || sema_find_param(ps->unit, g->name) >= 0) {
                diag_error(c->d, g->name_loc, "'%s' is already defined", g->name);
                continue;
            }
            PLet *l = arena_alloc(c->a, sizeof *l);
            l->item = g;
            l->sec = sec;
            vec_push(c->a, &ps->lets, l);
            ix_put(c->a, &ps->let_ix, g->name, sec, l);
        } else {
            PConn *k = arena_alloc(c->a, sizeof *k);
            k->item = g;
            k->sec = sec;
            vec_push(c->a, &ps->conns, k);
        }
    }
}

static void check_instance_args(Walk *c, PInst *p)
{
    for (Arg *a = p->item->args; a; a = a->next) {
        if (!a->name) {
            diag_error(c->d, a->loc, "arguments of an instance are named: %s(param: value)", p->node->name);
            continue;
        }
        for (Arg *b = p->item->args; b != a; b = b->next)
            if (b->name && strcmp(b->name, a->name) == 0) {
                diag_error(c->d, a->loc, "'%s' is given twice", a->name);
                break;
            }
        if (sema_node_param(p->node, a->name) < 0 && sema_node_input(p->node, a->name) < 0)
            diag_error(c->d, a->loc, "%s '%s' has no param or input '%s'", p->node->from_patch ? "patch" : "node",
                       p->node->name, a->name);
    }
}

/* A node compiled on its own becomes a patch with the node's params,
 * inputs and outputs, holding one instance of it. */
static Patch *wrap_node(Arena *a, Node *n)
{
    Patch *p = arena_alloc(a, sizeof *p);
    p->name = n->name;
    p->loc = n->loc;
    p->ins = n->ins;
    p->outs = n->outs;
    p->params = n->params;
    if (n->graph) {        /* built from instances: its items are the patch's */
        Nest w = { .a = a };
        p->graph = composite_items(&w, n);
        return p;
    }
    GraphItem *inst = arena_alloc(a, sizeof *inst);
    inst->kind = GI_INSTANCE;
    inst->loc = inst->name_loc = inst->node_loc = n->loc;
    inst->name = "_unit";
    inst->node = n->name;
    Arg *args = NULL;
    for (Param *q = n->params; q; q = q->next)
        args = ast_arg_append(args, ast_arg(a, q->loc, q->name, ast_name(a, q->loc, q->name)));
    for (Ident *i = n->ins; i; i = i->next)
        args = ast_arg_append(args, ast_arg(a, i->loc, i->name, ast_name(a, i->loc, i->name)));
    inst->args = args;
    p->graph = inst;
    GraphItem *last = inst;
    for (Ident *o = n->outs; o; o = o->next) {
        GraphItem *g = arena_alloc(a, sizeof *g);
        g->kind = GI_CONNECT;
        g->loc = o->loc;
        g->value = ast_field(a, o->loc, ast_name(a, o->loc, "_unit"), o->name);
        Target *t = arena_alloc(a, sizeof *t);
        t->object = "out";
        t->port = o->name;
        t->loc = o->loc;
        g->targets = t;
        last->next = g;
        last = g;
    }
    return p;
}

static void check_names(Program *prog, Diag *d)
{
    for (int i = 0; i < prog->nodes.n + prog->patches.n; i++) {
        int is_node = i < prog->nodes.n;
        const char *name = is_node ? ((Node *)prog->nodes.items[i])->name
                                   : ((Patch *)prog->patches.items[i - prog->nodes.n])->name;
        Loc loc = is_node ? ((Node *)prog->nodes.items[i])->loc
                          : ((Patch *)prog->patches.items[i - prog->nodes.n])->loc;
        Module *mod = is_node ? ((Node *)prog->nodes.items[i])->module : NULL;
        for (int j = 0; j < i; j++) {
            int jn = j < prog->nodes.n;
            const char *other = jn ? ((Node *)prog->nodes.items[j])->name
                                   : ((Patch *)prog->patches.items[j - prog->nodes.n])->name;
            if (strcmp(name, other) != 0)
                continue;
            Module *omod = jn ? ((Node *)prog->nodes.items[j])->module : NULL;
            if (is_node && jn && !clash(mod, omod))
                continue;
            Loc oloc = jn ? ((Node *)prog->nodes.items[j])->loc
                          : ((Patch *)prog->patches.items[j - prog->nodes.n])->loc;
            if (is_node && jn)
                report_clash(d, name, loc, mod, oloc, omod);
            else {
                diag_error(d, loc, "'%s' is already defined", name);
                diag_note(d, oloc, "'%s' was defined here", name);
            }
            break;
        }
    }
}

static Patch *pick_unit(Program *prog, const char *name, Diag *d, Node **as_node)
{
    Module *m = prog->main;
    *as_node = NULL;
    if (name) {
        Patch *p = find_patch(prog, name);
        if (p)
            return p;
        Node *n = sema_find_node(prog, name);
        if (n) {
            *as_node = n;
            return wrap_node(prog->arena, n);
        }
        diag_plain(d, "%s: no patch or node named '%s'", m->file->path, name);
        return NULL;
    }
    Patch *last = NULL;
    for (Patch *p = m->patches; p; p = p->next)
        last = p;
    if (last)
        return last;
    Node *lastn = NULL;
    for (Node *n = m->nodes; n; n = n->next)
        lastn = n;
    for (int i = 0; !m->nodes && i < prog->fausts.n; i++) {   /* a file of Faust imports: the last */
        FaustProgram *fp = prog->fausts.items[i];
        if (fp->module == m)
            lastn = fp->node;
    }
    if (lastn) {
        *as_node = lastn;
        return wrap_node(prog->arena, lastn);
    }
    diag_plain(d, "%s: nothing to compile: the file defines no patch or node", m->file->path);
    return NULL;
}


PatchScope *sema_unit(Program *prog, const char *unit_name, Diag *d)
{
    check_names(prog, d);
    check_funcs(prog, d);
    for (int i = 0; i < prog->nodes.n; i++)
        if (!((Node *)prog->nodes.items[i])->faust_path)
            expand_node(prog, d, prog->nodes.items[i]);
    for (int i = 0; i < prog->nodes.n; i++)
        check_node(prog, d, prog->nodes.items[i]);
    Node *as_node;
    Patch *patch = pick_unit(prog, unit_name, d, &as_node);
    if (!patch || d->errors)
        return NULL;
    static const char *reserved[] = { "amp_patch", "amp_dsp", "amp_math" };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (!strcmp(patch->name, reserved[i])) {
            diag_error(d, patch->loc, "'%s' is the name of a runtime header (%s.h); name the unit otherwise",
                       patch->name, patch->name);
            return NULL;
        }
    Lowered *u = arena_alloc(prog->arena, sizeof *u);
    u->name = patch->name;
    u->from_node = as_node != NULL;
    ir_init(&u->ir, prog->arena);
    PatchScope *ps = arena_alloc(prog->arena, sizeof *ps);
    ps->prog = prog;
    ps->patch = patch;
    ps->unit = u;
    Walk c = { .prog = prog, .d = d, .a = prog->arena, .ir = &u->ir, .sec = SEC_PATCH, .ps = ps };

    u->input_names = ident_names(c.a, patch->ins, &u->n_inputs);
    if (patch->outs) {
        u->output_names = ident_names(c.a, patch->outs, &u->n_outputs);
    } else {
        static const char *stereo[] = { "left", "right" };
        u->output_names = stereo;
        u->n_outputs = 2;
    }
    if (u->n_outputs > MAX_CHANNELS || u->n_inputs > MAX_CHANNELS) {
        diag_error(d, patch->loc, "a patch has at most %d inputs and %d outputs", MAX_CHANNELS, MAX_CHANNELS);
        return NULL;
    }
    for (int i = 0; i < u->n_outputs; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(u->output_names[i], u->output_names[j]))
                diag_error(d, patch->loc, "output '%s' is declared twice", u->output_names[i]);
    check_params(&c, patch->params, u);

    u->steal = patch->steal;
    if (patch->voices) {
        double v = 0;
        if (lower_const(&c, patch->voices, "the number of voices", &v, NULL)) {
            if (v != floor(v) || v < 1 || v > AMP_MAX_VOICES)
                diag_error(d, patch->voices->loc, "the number of voices must be a whole number from 1 to %d",
                           AMP_MAX_VOICES);
            else
                u->voices = (int)v;
        }
        if (!patch->has_voice)
            diag_error(d, patch->voices_loc, "'voices' needs a voice { } block saying what each voice plays");
    } else if (patch->has_voice) {
        diag_error(d, patch->voice_loc, "a voice block needs a 'voices N;' line saying how many voices");
    }
    if (d->errors)
        return NULL;

    expand_patch(prog, d, patch);
    if (d->errors)
        return NULL;
    collect_items(&c, patch->voice, SEC_VOICE);
    collect_items(&c, patch->graph, SEC_PATCH);
    /* The channels of every let, in the order they are written: a let
     * reading earlier lets finds them known, so the walks stay shallow
     * however long the chain (forward references nest, up to
     * LET_NEST_LIMIT). */
    for (int i = 0; i < ps->lets.n; i++) {
        PLet *l = ps->lets.items[i];
        c.sec = l->sec;
        let_channels(&c, l);
    }
    for (int i = 0; i < ps->insts.n; i++)
        check_instance_args(&c, ps->insts.items[i]);
    for (int i = 0; i < ps->conns.n; i++) {
        PConn *k = ps->conns.items[i];
        c.sec = k->sec;
        check_connection(&c, k->item, k->sec);
    }
    if (d->errors)
        return NULL;
    return ps;
}

/* ---- dump ------------------------------------------------------------------ */

/* `--dump sema`: the unit's signature, then per section its instances,
 * lets and connections as collected, in source order. */
void sema_dump(FILE *out, const PatchScope *ps)
{
    static const char *units[] = { [AMP_UNIT_NONE] = "", [AMP_UNIT_HZ] = " Hz", [AMP_UNIT_S] = " s",
                                   [AMP_UNIT_DB] = " dB" };
    const Lowered *u = ps->unit;
    fprintf(out, "%s %s\n", u->from_node ? "node" : "patch", u->name);
    fprintf(out, "  inputs:");
    for (int i = 0; i < u->n_inputs; i++)
        fprintf(out, " %s", u->input_names[i]);
    fprintf(out, "\n  outputs:");
    for (int i = 0; i < u->n_outputs; i++)
        fprintf(out, " %s", u->output_names[i]);
    fputc('\n', out);
    for (int i = 0; i < u->n_params; i++) {
        const UnitParam *p = &u->params[i];
        int unit = p->unit >= 0 && p->unit <= AMP_UNIT_DB ? p->unit : AMP_UNIT_NONE;
        fprintf(out, "  param %s = %.9g%s", p->name, p->def, p->unit_label ? "" : units[unit]);
        if (p->unit_label)
            fprintf(out, " %s", p->unit_label);
        if (p->has_range)
            fprintf(out, " in [%.9g, %.9g]", p->lo, p->hi);
        if (p->step > 0)
            fprintf(out, " step %.9g", p->step);
        if (p->smooth > 0)
            fprintf(out, " smooth %.9g s", p->smooth);
        fputc('\n', out);
    }
    if (u->voices)
        fprintf(out, "  voices %d\n", u->voices);
    for (int sec = u->voices ? SEC_VOICE : SEC_PATCH; sec >= SEC_PATCH; sec--) {
        fprintf(out, "%s:\n", sec == SEC_VOICE ? "per voice" : "patch");
        for (int i = 0; i < ps->insts.n; i++) {
            const PInst *p = ps->insts.items[i];
            if ((int)p->sec == sec)
                fprintf(out, "  instance %s = %s%s\n", p->item->name, p->node->name, p->node->faust_path ? " (Faust)" : "");
        }
        for (int i = 0; i < ps->lets.n; i++) {
            const PLet *l = ps->lets.items[i];
            if ((int)l->sec == sec)
                fprintf(out, "  let %s: %d channel%s\n", l->item->name, l->channels ? l->channels : 1,
                        l->channels > 1 ? "s" : "");
        }
        for (int i = 0; i < ps->conns.n; i++) {
            const PConn *k = ps->conns.items[i];
            if ((int)k->sec != sec)
                continue;
            fprintf(out, "  connection line %d ->", k->item->loc.line);
            for (Target *t = k->item->targets; t; t = t->next)
                fprintf(out, " %s%s%s", t->object, t->port ? "." : "", t->port ? t->port : "");
            fputc('\n', out);
        }
    }
}
