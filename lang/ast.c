/* ast.c — building the syntax tree (the ast_* calls of the grammar's
 * actions) and printing it (`ampc --dump ast`).
 *
 * The dump is a stable text form for tests and for people: one construct a
 * line, indented by nesting, each line ending in the construct's `@line:col`;
 * expressions as fully parenthesised S-expressions, `(+ x (* a (- z x)))`,
 * numbers with %.9g in base units (`1000hz`, `0.01s`; a dB literal as the
 * level written, `-6db`). Expression printing recurses, bounded by
 * AST_MAX_DEPTH, which the parser enforces.
 */
#include "ast.h"

#include <stdio.h>

/* ---- builders --------------------------------------------------------------- */

static Expr *new_expr(Arena *a, ExprKind kind, Loc loc)
{
    Expr *e = arena_alloc(a, sizeof *e);
    e->kind = kind;
    e->loc = loc;
    e->depth = 1;
    return e;
}

static int max_int(int x, int y)
{
    return x > y ? x : y;
}

static int args_depth(const Arg *args, int *count)
{
    int depth = 0;
    *count = 0;
    for (; args; args = args->next) {
        depth = max_int(depth, args->value ? args->value->depth : 0);
        (*count)++;
    }
    return depth;
}

Expr *ast_num(Arena *a, Loc loc, double value, Unit unit)
{
    Expr *e = new_expr(a, EX_NUM, loc);
    e->num = value;
    e->raw = value;
    e->unit = unit;
    return e;
}

Expr *ast_name(Arena *a, Loc loc, const char *name)
{
    Expr *e = new_expr(a, EX_NAME, loc);
    e->name = name;
    return e;
}

Expr *ast_field(Arena *a, Loc loc, Expr *object, const char *field)
{
    Expr *e = new_expr(a, EX_FIELD, loc);
    e->a = object;
    e->name = field;
    e->depth = object->depth + 1;
    return e;
}

Expr *ast_call(Arena *a, Loc loc, const char *name, Arg *args)
{
    Expr *e = new_expr(a, EX_CALL, loc);
    e->name = name;
    e->args = args;
    e->depth = args_depth(args, &e->nargs) + 1;
    return e;
}

Expr *ast_method(Arena *a, Loc loc, Expr *object, const char *method, Arg *args)
{
    Expr *e = new_expr(a, EX_METHOD, loc);
    e->a = object;
    e->name = method;
    e->args = args;
    e->depth = max_int(object->depth, args_depth(args, &e->nargs)) + 1;
    return e;
}

Expr *ast_unary(Arena *a, Loc loc, Op op, Expr *x)
{
    Expr *e = new_expr(a, EX_UNARY, loc);
    e->op = op;
    e->a = x;
    e->depth = x->depth + 1;
    return e;
}

Expr *ast_binary(Arena *a, Loc loc, Op op, Expr *x, Expr *y)
{
    Expr *e = new_expr(a, EX_BINARY, loc);
    e->op = op;
    e->a = x;
    e->b = y;
    e->depth = max_int(x->depth, y->depth) + 1;
    return e;
}

Expr *ast_cond(Arena *a, Loc loc, Expr *c, Expr *x, Expr *y)
{
    Expr *e = new_expr(a, EX_COND, loc);
    e->a = c;
    e->b = x;
    e->c = y;
    e->depth = max_int(c->depth, max_int(x->depth, y->depth)) + 1;
    return e;
}

Expr *ast_index(Arena *a, Loc loc, const char *name, Expr *index)
{
    Expr *e = new_expr(a, EX_INDEX, loc);
    e->name = name;
    e->b = index;
    e->depth = index->depth + 1;
    return e;
}

Expr *ast_paren(Expr *x)
{
    x->parenthesized = 1;
    return x;
}

Arg *ast_arg(Arena *a, Loc loc, const char *name, Expr *value)
{
    Arg *arg = arena_alloc(a, sizeof *arg);
    arg->name = name;
    arg->loc = loc;
    arg->value = value;
    return arg;
}

Arg *ast_arg_append(Arg *list, Arg *last)
{
    if (!list)
        return last;
    Arg *p = list;
    while (p->next)
        p = p->next;
    p->next = last;
    return list;
}

Ident *ast_ident(Arena *a, Loc loc, const char *name)
{
    Ident *id = arena_alloc(a, sizeof *id);
    id->name = name;
    id->loc = loc;
    return id;
}

Param *ast_param(Arena *a, Loc loc, const char *name, Expr *def, Expr *lo, Expr *hi,
                 Expr *step, Expr *smooth)
{
    Param *p = arena_alloc(a, sizeof *p);
    p->name = name;
    p->loc = loc;
    p->def = def;
    p->lo = lo;
    p->hi = hi;
    p->step = step;
    p->smooth = smooth;
    return p;
}

Decl *ast_decl(Arena *a, DeclKind kind, Loc loc, const char *name, Expr *value, Expr *size)
{
    Decl *d = arena_alloc(a, sizeof *d);
    d->kind = kind;
    d->name = name;
    d->loc = loc;
    d->value = value;
    d->size = size;
    return d;
}

Stmt *ast_stmt(Arena *a, StmtKind kind, Loc loc, const char *name, Loc name_loc, Expr *value)
{
    Stmt *s = arena_alloc(a, sizeof *s);
    s->kind = kind;
    s->loc = loc;
    s->name = name;
    s->name_loc = name_loc;
    s->value = value;
    return s;
}

Target *ast_target(Arena *a, Loc loc, const char *object, const char *port)
{
    Target *t = arena_alloc(a, sizeof *t);
    t->object = object;
    t->port = port;
    t->loc = loc;
    return t;
}

GraphItem *ast_instance(Arena *a, Loc loc, const char *name, const char *node, Loc node_loc,
                        Arg *args)
{
    GraphItem *g = arena_alloc(a, sizeof *g);
    g->kind = GI_INSTANCE;
    g->loc = loc;
    g->name = name;
    g->name_loc = loc;
    g->node = node;
    g->node_loc = node_loc;
    g->args = args;
    return g;
}

GraphItem *ast_graph_let(Arena *a, Loc loc, const char *name, Loc name_loc, Expr *value)
{
    GraphItem *g = arena_alloc(a, sizeof *g);
    g->kind = GI_LET;
    g->loc = loc;
    g->name = name;
    g->name_loc = name_loc;
    g->value = value;
    return g;
}

GraphItem *ast_array(Arena *a, Loc loc, const char *name, Arg *elems)
{
    GraphItem *g = arena_alloc(a, sizeof *g);
    g->kind = GI_ARRAY;
    g->loc = loc;
    g->name = name;
    g->name_loc = loc;
    g->elems = elems;
    return g;
}

GraphItem *ast_for(Arena *a, Loc loc, const char *var, Loc var_loc, Expr *from, Expr *to, GraphItem *body)
{
    GraphItem *g = arena_alloc(a, sizeof *g);
    g->kind = GI_FOR;
    g->loc = loc;
    g->name = var;
    g->name_loc = var_loc;
    g->from = from;
    g->to = to;
    g->body = body;
    return g;
}

GraphItem *ast_oversample(Arena *a, Loc loc, Expr *factor, GraphItem *body)
{
    GraphItem *g = arena_alloc(a, sizeof *g);
    g->kind = GI_OVERSAMPLE;
    g->loc = loc;
    g->from = factor;
    g->body = body;
    return g;
}

GraphItem *ast_connect(Arena *a, Loc loc, Expr *value, Target *targets)
{
    GraphItem *g = arena_alloc(a, sizeof *g);
    g->kind = GI_CONNECT;
    g->loc = loc;
    g->value = value;
    g->targets = targets;
    return g;
}

Import *ast_import(Arena *a, Loc loc, const char *path, const char *faust_as)
{
    Import *im = arena_alloc(a, sizeof *im);
    im->path = path;
    im->loc = loc;
    im->faust_as = faust_as;
    return im;
}

Node *ast_node(Arena *a, Loc loc, const char *name)
{
    Node *n = arena_alloc(a, sizeof *n);
    n->name = name;
    n->loc = loc;
    return n;
}

Patch *ast_patch(Arena *a, Loc loc, const char *name)
{
    Patch *p = arena_alloc(a, sizeof *p);
    p->name = name;
    p->loc = loc;
    p->steal = STEAL_OLDEST;
    return p;
}

FnDef *ast_func(Arena *a, Loc loc, const char *name, Ident *params, Expr *body)
{
    FnDef *f = arena_alloc(a, sizeof *f);
    f->name = name;
    f->loc = loc;
    f->params = params;
    for (Ident *i = params; i; i = i->next)
        f->n_params++;
    f->body = body;
    return f;
}

Module *ast_module(Arena *a, SourceFile *file)
{
    Module *m = arena_alloc(a, sizeof *m);
    m->file = file;
    return m;
}

/* ---- names ------------------------------------------------------------------ */

const char *op_text(Op op)
{
    static const char *const text[] = {
        [OP_NEG] = "-", [OP_NOT] = "!", [OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*",
        [OP_DIV] = "/", [OP_MOD] = "%", [OP_LT] = "<", [OP_LE] = "<=", [OP_GT] = ">",
        [OP_GE] = ">=", [OP_EQ] = "==", [OP_NE] = "!=", [OP_AND] = "&&", [OP_OR] = "||",
    };
    return (unsigned)op < sizeof text / sizeof text[0] ? text[op] : "?";
}

const char *unit_text(Unit u)
{
    static const char *const text[] = {
        [UNIT_NONE] = "", [UNIT_HZ] = "hz", [UNIT_KHZ] = "khz",
        [UNIT_MS] = "ms", [UNIT_S] = "s", [UNIT_DB] = "db",
    };
    return (unsigned)u < sizeof text / sizeof text[0] ? text[u] : "?";
}

static const char *steal_text(StealMode m)
{
    switch (m) {
    case STEAL_OLDEST: return "oldest";
    case STEAL_QUIETEST: return "quietest";
    case STEAL_NONE: return "none";
    }
    return "?";
}

/* ---- dump ------------------------------------------------------------------- */

static void dump_args(FILE *out, const Arg *args)
{
    for (; args; args = args->next) {
        fputc(' ', out);
        if (args->name)
            fprintf(out, "%s: ", args->name);
        ast_dump_expr(out, args->value);
    }
}

/* The number in base units: 1 khz -> 1000hz, 10 ms -> 0.01s, -6 db -> -6db. */
static void dump_num(FILE *out, const Expr *e)
{
    switch (e->unit) {
    case UNIT_HZ: case UNIT_KHZ: fprintf(out, "%.9ghz", e->num); break;
    case UNIT_S: case UNIT_MS: fprintf(out, "%.9gs", e->num); break;
    case UNIT_DB: fprintf(out, "%.9gdb", e->raw); break;
    default: fprintf(out, "%.9g", e->num); break;
    }
}

void ast_dump_expr(FILE *out, const Expr *e)
{
    if (!e) {
        fputs("<null>", out);
        return;
    }
    switch (e->kind) {
    case EX_NUM:
        dump_num(out, e);
        break;
    case EX_NAME:
        fputs(e->name, out);
        break;
    case EX_FIELD:
        fputs("(. ", out);
        ast_dump_expr(out, e->a);
        fprintf(out, " %s)", e->name);
        break;
    case EX_CALL:
        fprintf(out, "(%s", e->name);
        dump_args(out, e->args);
        fputc(')', out);
        break;
    case EX_METHOD:
        fprintf(out, "(.%s ", e->name);
        ast_dump_expr(out, e->a);
        dump_args(out, e->args);
        fputc(')', out);
        break;
    case EX_UNARY:
        fprintf(out, "(%s ", op_text(e->op));
        ast_dump_expr(out, e->a);
        fputc(')', out);
        break;
    case EX_BINARY:
        fprintf(out, "(%s ", op_text(e->op));
        ast_dump_expr(out, e->a);
        fputc(' ', out);
        ast_dump_expr(out, e->b);
        fputc(')', out);
        break;
    case EX_COND:
        fputs("(? ", out);
        ast_dump_expr(out, e->a);
        fputc(' ', out);
        ast_dump_expr(out, e->b);
        fputc(' ', out);
        ast_dump_expr(out, e->c);
        fputc(')', out);
        break;
    case EX_INDEX:
        fprintf(out, "([] %s ", e->name);
        ast_dump_expr(out, e->b);
        fputc(')', out);
        break;
    }
}

static void dump_loc(FILE *out, Loc loc)
{
    fprintf(out, " @%d:%d\n", loc.line, loc.col);
}

static void dump_ports(FILE *out, const char *indent, const char *kind, const Ident *id)
{
    for (; id; id = id->next) {
        fprintf(out, "%s%s %s", indent, kind, id->name);
        dump_loc(out, id->loc);
    }
}

static void dump_params(FILE *out, const char *indent, const Param *p)
{
    for (; p; p = p->next) {
        fprintf(out, "%sparam %s = ", indent, p->name);
        ast_dump_expr(out, p->def);
        if (p->lo || p->hi) {
            fputs(" in [", out);
            ast_dump_expr(out, p->lo);
            fputs(", ", out);
            ast_dump_expr(out, p->hi);
            fputc(']', out);
        }
        if (p->step) {
            fputs(" step ", out);
            ast_dump_expr(out, p->step);
        }
        if (p->smooth) {
            fputs(" smooth ", out);
            ast_dump_expr(out, p->smooth);
        }
        dump_loc(out, p->loc);
    }
}

static void dump_list(FILE *out, const Arg *a)
{
    for (; a; a = a->next) {
        ast_dump_expr(out, a->value);
        if (a->next)
            fputs(", ", out);
    }
}

static void dump_decl(FILE *out, const Decl *d)
{
    switch (d->kind) {
    case DECL_STATE:
        fprintf(out, "  state %s = ", d->name);
        ast_dump_expr(out, d->value);
        break;
    case DECL_DELAY:
        fprintf(out, "  delay %s[", d->name);
        ast_dump_expr(out, d->size);
        fputc(']', out);
        break;
    case DECL_TABLE:
        fprintf(out, "  table %s[", d->name);
        ast_dump_expr(out, d->size);
        fputs("] = ", out);
        ast_dump_expr(out, d->value);
        break;
    case DECL_LET:
        fprintf(out, "  let %s = ", d->name);
        ast_dump_expr(out, d->value);
        break;
    case DECL_ARRAY:
        fprintf(out, "  table %s = [", d->name);
        dump_list(out, d->elems);
        fputc(']', out);
        break;
    case DECL_SAMPLE:
        fprintf(out, "  sample %s", d->name);
        break;
    case DECL_FILE:
        fprintf(out, "  table %s = file(\"%s\"", d->name, d->file);
        if (d->value) {
            fputs(", ", out);
            ast_dump_expr(out, d->value);
        }
        fputc(')', out);
        break;
    }
    dump_loc(out, d->loc);
}

static void dump_stmt(FILE *out, const Stmt *s)
{
    switch (s->kind) {
    case ST_LET: fprintf(out, "    let %s = ", s->name); break;
    case ST_ASSIGN: fprintf(out, "    %s = ", s->name); break;
    case ST_WRITE: fprintf(out, "    %s.write ", s->name); break;
    }
    ast_dump_expr(out, s->value);
    dump_loc(out, s->loc);
}

static void dump_graph(FILE *out, const char *indent, const GraphItem *g);

static void dump_node(FILE *out, const Node *n)
{
    fprintf(out, "node %s", n->name);
    dump_loc(out, n->loc);
    dump_ports(out, "  ", "in", n->ins);
    dump_ports(out, "  ", "out", n->outs);
    dump_params(out, "  ", n->params);
    for (const Decl *d = n->decls; d; d = d->next)
        dump_decl(out, d);
    if (n->has_process) {
        fputs("  process", out);
        dump_loc(out, n->process_loc);
        for (const Stmt *s = n->process; s; s = s->next)
            dump_stmt(out, s);
    }
    dump_graph(out, "  ", n->graph);
}

static void dump_graph(FILE *out, const char *indent, const GraphItem *g)
{
    for (; g; g = g->next) {
        fputs(indent, out);
        switch (g->kind) {
        case GI_INSTANCE:
            fputs(g->name, out);
            if (g->index) {
                fputc('[', out);
                ast_dump_expr(out, g->index);
                fputc(']', out);
            }
            fprintf(out, " = %s(", g->node);
            for (const Arg *a = g->args; a; a = a->next) {
                if (a->name)
                    fprintf(out, "%s: ", a->name);
                ast_dump_expr(out, a->value);
                if (a->next)
                    fputs(", ", out);
            }
            fputc(')', out);
            break;
        case GI_LET:
            fprintf(out, "let %s = ", g->name);
            ast_dump_expr(out, g->value);
            break;
        case GI_CONNECT:
            ast_dump_expr(out, g->value);
            fputs(" ->", out);
            for (const Target *t = g->targets; t; t = t->next) {
                fprintf(out, " %s", t->object);
                if (t->index) {
                    fputc('[', out);
                    ast_dump_expr(out, t->index);
                    fputc(']', out);
                }
                fprintf(out, "%s%s", t->port ? "." : "", t->port ? t->port : "");
                if (t->next)
                    fputc(',', out);
            }
            break;
        case GI_ARRAY:
            fprintf(out, "table %s = [", g->name);
            dump_list(out, g->elems);
            fputc(']', out);
            break;
        case GI_FOR: {
            fprintf(out, "for %s in ", g->name);
            ast_dump_expr(out, g->from);
            fputs("..", out);
            ast_dump_expr(out, g->to);
            dump_loc(out, g->loc);
            char deeper[64];
            snprintf(deeper, sizeof deeper, "%.60s  ", indent);
            dump_graph(out, deeper, g->body);
            continue;
        }
        case GI_OVERSAMPLE: {
            fputs("oversample ", out);
            ast_dump_expr(out, g->from);
            dump_loc(out, g->loc);
            char deeper[64];
            snprintf(deeper, sizeof deeper, "%.60s  ", indent);
            dump_graph(out, deeper, g->body);
            continue;
        }
        }
        dump_loc(out, g->loc);
    }
}

static void dump_patch(FILE *out, const Patch *p)
{
    fprintf(out, "patch %s", p->name);
    dump_loc(out, p->loc);
    if (p->voices) {
        fputs("  voices ", out);
        ast_dump_expr(out, p->voices);
        fprintf(out, " steal %s", steal_text(p->steal));
        dump_loc(out, p->voices_loc);
    }
    dump_ports(out, "  ", "in", p->ins);
    dump_ports(out, "  ", "out", p->outs);
    dump_params(out, "  ", p->params);
    if (p->has_voice) {
        fputs("  voice", out);
        dump_loc(out, p->voice_loc);
        dump_graph(out, "    ", p->voice);
    }
    dump_graph(out, "  ", p->graph);
}

void ast_dump(FILE *out, const Module *m)
{
    for (const Import *im = m->imports; im; im = im->next) {
        if (im->faust_as)
            fprintf(out, "import faust \"%s\" as %s", im->path, im->faust_as);
        else if (im->as)
            fprintf(out, "import \"%s\" as %s", im->path, im->as);
        else
            fprintf(out, "import \"%s\"", im->path);
        dump_loc(out, im->loc);
    }
    for (const FnDef *f = m->funcs; f; f = f->next) {
        fprintf(out, "fn %s(", f->name);
        for (const Ident *i = f->params; i; i = i->next)
            fprintf(out, "%s%s", i->name, i->next ? ", " : "");
        fputs(")", out);
        dump_loc(out, f->loc);
        fputs("  = ", out);
        ast_dump_expr(out, f->body);
        fputs("\n", out);
    }
    for (const Node *n = m->nodes; n; n = n->next)
        dump_node(out, n);
    for (const Patch *p = m->patches; p; p = p->next)
        dump_patch(out, p);
}
