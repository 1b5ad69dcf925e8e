/* parser.c — the front end's driver: load a source, feed the lexer's tokens
 * to lemon's parser, and the builders the grammar's actions call when they
 * need the parser's state (see parser.h).
 *
 * The pipeline is lex_next -> AmpParse, one token at a time, until the end
 * of input or the first error (from the lexer, the grammar's %syntax_error
 * or an action through parse_fail). Lists are appended in source order
 * through their last element, so building is linear in the input.
 */
#include "parser.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- sources ------------------------------------------------------------ */

SourceFile *source_from_text(Arena *a, const char *path, const char *text, size_t len)
{
    SourceFile *f = arena_alloc(a, sizeof *f);
    f->path = arena_strdup(a, path);
    f->text = arena_strndup(a, text, len);
    f->len = len;
    return f;
}

SourceFile *source_load(Arena *a, Diag *d, const char *path)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        diag_plain(d, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    /* Only regular files, and not huge ones: an import of a device or a
     * FIFO must not read forever. */
    struct stat st;
    if (fstat(fileno(in), &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_plain(d, "cannot read '%s': not a regular file", path);
        fclose(in);
        return NULL;
    }
    enum { MAX_SOURCE = 16 << 20 };
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len > MAX_SOURCE) {
            diag_plain(d, "cannot read '%s': larger than %d MiB", path, MAX_SOURCE >> 20);
            fclose(in);
            free(buf);
            return NULL;
        }
        if (len == cap)
            buf = xrealloc(buf, cap *= 2);
        size_t got = fread(buf + len, 1, cap - len, in);
        len += got;
        if (got == 0)
            break;
    }
    int failed = ferror(in);
    int err = errno;
    fclose(in);
    SourceFile *f = NULL;
    if (failed)
        diag_plain(d, "cannot read '%s': %s", path, strerror(err ? err : EIO));
    else
        f = source_from_text(a, path, buf, len);
    free(buf);
    return f;
}

/* ---- the driver ----------------------------------------------------------- */

static Loc loc_after(const Token *t)
{
    Loc loc = t->loc;
    loc.col += (int)t->len;
    loc.offset += t->len;
    return loc;
}

Module *parse_source(Arena *a, Diag *d, SourceFile *f)
{
    ParseState ps;
    memset(&ps, 0, sizeof ps);
    ps.arena = a;
    ps.diag = d;
    ps.module = ast_module(a, f);
    ps.prev_end = (Loc){ f, 1, 1, 0 };

    Lexer lx;
    lex_init(&lx, a, d, f);
    void *parser = AmpParseAlloc(xmalloc, &ps);
    for (;;) {
        Token t;
        int code = lex_next(&lx, &t);
        if (code < 0) {
            ps.failed = 1;
            break;
        }
        ps.tok = t;
        AmpParse(parser, code, t);
        if (ps.failed || code == 0)
            break;
        ps.prev_end = loc_after(&t);
    }
    AmpParseFree(parser, free);
    return ps.failed ? NULL : ps.module;
}

void parse_fail(ParseState *P, Loc loc, const char *fmt, ...)
{
    if (P->failed)
        return;
    P->failed = 1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(P->diag, loc, "%s", msg);
}

/* ---- lists ---------------------------------------------------------------- */

#define LIST_ADD(l, x)              \
    do {                            \
        if (!(x))                   \
            break;                  \
        if (l.last)                 \
            l.last->next = (x);     \
        else                        \
            l.head = (x);           \
        l.last = (x);               \
    } while (0)

IdentList ident_list_add(IdentList l, Ident *x) { LIST_ADD(l, x); return l; }
ArgList arg_list_add(ArgList l, Arg *x) { LIST_ADD(l, x); return l; }
DeclList decl_list_add(DeclList l, Decl *x) { LIST_ADD(l, x); return l; }
StmtList stmt_list_add(StmtList l, Stmt *x) { LIST_ADD(l, x); return l; }
TargetList target_list_add(TargetList l, Target *x) { LIST_ADD(l, x); return l; }
GraphList graph_list_add(GraphList l, GraphItem *x) { LIST_ADD(l, x); return l; }

/* Append list `more` to list `to`. */
static IdentList ident_list_join(IdentList to, IdentList more)
{
    if (!more.head)
        return to;
    if (to.last)
        to.last->next = more.head;
    else
        to.head = more.head;
    to.last = more.last;
    return to;
}

/* ---- expressions ---------------------------------------------------------- */

Expr *parse_bounded(ParseState *P, Expr *e)
{
    if (e->depth > AST_MAX_DEPTH)
        parse_fail(P, e->loc, "expression nested too deeply");
    return e;
}

/* A balanced tree of op over terms[0..n), each node at the loc of the
 * operator written before its right half. */
static Expr *balanced(ParseState *P, Op op, Expr **terms, Loc *locs, int n)
{
    if (n == 1)
        return terms[0];
    int half = n / 2;
    Expr *x = balanced(P, op, terms, locs, half);
    Expr *y = balanced(P, op, terms + half, locs + half, n - half);
    return ast_binary(P->arena, locs[half], op, x, y);
}

/* expr -> expr '+' expr | expr '*' expr. A chain `a + b + c + ...` is a
 * tree leaning left, as deep as it is long; once it would pass
 * AST_MAX_DEPTH it is rebuilt balanced (the order of its terms kept, a
 * group in parentheses one term), so a sum of any length parses. Shorter
 * chains keep their left-to-right order, and so their rounding. */
Expr *parse_chain(ParseState *P, Loc loc, Op op, Expr *x, Expr *y)
{
    Expr *e = ast_binary(P->arena, loc, op, x, y);
    if (e->depth <= AST_MAX_DEPTH || y->depth >= AST_MAX_DEPTH)
        return parse_bounded(P, e);
    int n = 0;
    for (Expr *s = e; s->kind == EX_BINARY && s->op == op && !s->parenthesized; s = s->a)
        n++;
    Expr **terms = arena_alloc(P->arena, sizeof(Expr *) * (size_t)(n + 1));
    Loc *locs = arena_alloc(P->arena, sizeof(Loc) * (size_t)(n + 1));
    Expr *s = e;
    for (int i = n; i > 0; i--, s = s->a) {
        terms[i] = s->b;
        locs[i] = s->loc;
    }
    terms[0] = s;
    locs[0] = s->loc;
    return parse_bounded(P, balanced(P, op, terms, locs, n + 1));
}

Expr *parse_number(ParseState *P, const Token *t)
{
    Expr *e = ast_num(P->arena, t->loc, t->num, t->unit);
    e->raw = t->raw;
    return e;
}

/* expr -> '-' expr. A minus written right before a dB literal belongs to
 * the level: `-6 db` is 10^(-6/20), not -(10^(6/20)). */
Expr *parse_negate(ParseState *P, Loc minus, Expr *x)
{
    if (x->kind == EX_NUM && x->unit == UNIT_DB && !x->parenthesized) {
        Expr *e = ast_num(P->arena, minus, pow(10.0, -x->raw / 20.0), UNIT_DB);
        e->raw = -x->raw;
        return e;
    }
    return parse_bounded(P, ast_unary(P->arena, minus, OP_NEG, x));
}

Arg *parse_arg(ParseState *P, const Token *name, Expr *value)
{
    if (name)
        return ast_arg(P->arena, name->loc, name->str, value);
    return ast_arg(P->arena, value->loc, NULL, value);
}

/* ---- file, node and patch -------------------------------------------------- */

void parse_add_import(ParseState *P, const Token *path, const Token *faust_as)
{
    Import *im = ast_import(P->arena, path->loc, path->str, faust_as ? faust_as->str : NULL);
    if (P->imports_last)
        P->imports_last->next = im;
    else
        P->module->imports = im;
    P->imports_last = im;
}

void parse_add_import_as(ParseState *P, const Token *path, const Token *as)
{
    parse_add_import(P, path, NULL);
    P->imports_last->as = as->str;
}

/* name ['[' index ']'] '=' lib '.' node '(' args ')': the node `lib.node`. */
GraphItem *parse_qualified_instance(ParseState *P, const Token *name, Expr *index, const Token *lib,
                                    const Token *node, ArgList args)
{
    const char *qualified = arena_printf(P->arena, "%s.%s", lib->str, node->str);
    GraphItem *g = ast_instance(P->arena, name->loc, name->str, qualified, lib->loc, args.head);
    g->index = index;
    return g;
}

void parse_add_func(ParseState *P, const Token *name, IdentList params, Expr *body)
{
    FnDef *f = ast_func(P->arena, name->loc, name->str, params.head, body);
    if (P->funcs_last)
        P->funcs_last->next = f;
    else
        P->module->funcs = f;
    P->funcs_last = f;
}

Decl *parse_array_decl(ParseState *P, const Token *name, ArgList elems)
{
    Decl *d = ast_decl(P->arena, DECL_ARRAY, name->loc, name->str, NULL, NULL);
    d->elems = elems.head;
    return d;
}

/* table name = fn("path"[, channel]): fn must be `file`. */
Decl *parse_file_decl(ParseState *P, const Token *name, const Token *fn, const Token *path, Expr *channel)
{
    if (strcmp(fn->str, "file") != 0)
        diag_error(P->diag, fn->loc, "a table is filled from a file with file(\"NAME.wav\"), not '%s(...)'", fn->str);
    Decl *d = ast_decl(P->arena, DECL_FILE, name->loc, name->str, channel, NULL);
    d->file = path->str;
    d->file_loc = path->loc;
    return d;
}

GraphItem *parse_indexed_instance(ParseState *P, const Token *name, Expr *index, const Token *node, ArgList args)
{
    GraphItem *g = ast_instance(P->arena, name->loc, name->str, node->str, node->loc, args.head);
    g->index = index;
    return g;
}

Target *parse_indexed_target(ParseState *P, const Token *name, Expr *index, const char *port)
{
    Target *t = ast_target(P->arena, name->loc, name->str, port);
    t->index = index;
    return t;
}

/* Start collecting the ports, params, declarations and graph of a new
 * node or patch. */
static void begin_container(ParseState *P)
{
    P->ins = P->outs = (IdentList){0};
    P->params_last = NULL;
    P->decls = (DeclList){0};
    P->graph = (GraphList){0};
}

void parse_begin_node(ParseState *P, const Token *keyword, const Token *name)
{
    Node *n = ast_node(P->arena, keyword->loc, name->str);
    if (P->nodes_last)
        P->nodes_last->next = n;
    else
        P->module->nodes = n;
    P->nodes_last = n;
    P->node = n;
    begin_container(P);
}

void parse_end_node(ParseState *P)
{
    P->node = NULL;
}

void parse_begin_patch(ParseState *P, const Token *keyword, const Token *name)
{
    Patch *p = ast_patch(P->arena, keyword->loc, name->str);
    if (P->patches_last)
        P->patches_last->next = p;
    else
        P->module->patches = p;
    P->patches_last = p;
    p->module = P->module;
    P->patch = p;
    begin_container(P);
}

void parse_end_patch(ParseState *P)
{
    P->patch = NULL;
}

void parse_add_ins(ParseState *P, IdentList l)
{
    P->ins = ident_list_join(P->ins, l);
    if (P->node)
        P->node->ins = P->ins.head;
    else if (P->patch)
        P->patch->ins = P->ins.head;
}

void parse_add_outs(ParseState *P, IdentList l)
{
    P->outs = ident_list_join(P->outs, l);
    if (P->node)
        P->node->outs = P->outs.head;
    else if (P->patch)
        P->patch->outs = P->outs.head;
}

void parse_add_param(ParseState *P, const Token *name, Expr *def, Range range, Expr *step,
                     Expr *smooth)
{
    Param *p = ast_param(P->arena, name->loc, name->str, def, range.lo, range.hi, step, smooth);
    if (P->params_last)
        P->params_last->next = p;
    else if (P->node)
        P->node->params = p;
    else if (P->patch)
        P->patch->params = p;
    P->params_last = p;
}

void parse_add_decls(ParseState *P, DeclList l)
{
    if (!l.head || !P->node)
        return;
    if (P->decls.last)
        P->decls.last->next = l.head;
    else
        P->node->decls = l.head;
    P->decls.last = l.last;
}

void parse_add_decl(ParseState *P, Decl *d)
{
    parse_add_decls(P, decl_list_add((DeclList){0}, d));
}

void parse_begin_process(ParseState *P, const Token *keyword)
{
    if (!P->node)
        return;
    if (P->node->has_process) {
        parse_fail(P, keyword->loc, "node '%s' already has a process block", P->node->name);
        return;
    }
    P->node->has_process = 1;
    P->node->process_loc = keyword->loc;
}

void parse_set_process(ParseState *P, StmtList l)
{
    if (P->node && !P->failed)
        P->node->process = l.head;
}

/* stmt -> IDENT '.' IDENT '(' [args] ')' ';' : only `buf.write(x);` */
Stmt *parse_write(ParseState *P, const Token *object, const Token *method, ArgList args)
{
    if (strcmp(method->str, "write") != 0) {
        parse_fail(P, method->loc, "only 'write' can be called as a statement");
        return NULL;
    }
    if (!args.head || args.head->next || args.head->name) {
        parse_fail(P, method->loc, "'write' takes exactly one argument");
        return NULL;
    }
    return ast_stmt(P->arena, ST_WRITE, object->loc, object->str, object->loc, args.head->value);
}

void parse_set_voices(ParseState *P, const Token *keyword, Expr *count, const Token *steal)
{
    Patch *p = P->patch;
    if (!p)
        return;
    if (p->voices) {
        parse_fail(P, keyword->loc, "patch '%s' already has a voices line", p->name);
        return;
    }
    StealMode mode = STEAL_OLDEST;
    if (steal->str) {
        if (strcmp(steal->str, "oldest") == 0)
            mode = STEAL_OLDEST;
        else if (strcmp(steal->str, "quietest") == 0)
            mode = STEAL_QUIETEST;
        else if (strcmp(steal->str, "none") == 0)
            mode = STEAL_NONE;
        else {
            parse_fail(P, steal->loc,
                       "unknown steal mode '%s' (expected oldest, quietest or none)", steal->str);
            return;
        }
    }
    p->voices = count;
    p->voices_loc = keyword->loc;
    p->steal = mode;
}

void parse_begin_voice(ParseState *P, const Token *keyword)
{
    Patch *p = P->patch;
    if (!p)
        return;
    if (p->has_voice) {
        parse_fail(P, keyword->loc, "patch '%s' already has a voice block", p->name);
        return;
    }
    p->has_voice = 1;
    p->voice_loc = keyword->loc;
}

void parse_set_voice(ParseState *P, GraphList l)
{
    if (P->patch && !P->failed)
        P->patch->voice = l.head;
}

void parse_add_graph(ParseState *P, GraphItem *g)
{
    if (!P->patch && !P->node)
        return;
    P->graph = graph_list_add(P->graph, g);
    if (P->patch)
        P->patch->graph = P->graph.head;
    else
        P->node->graph = P->graph.head;
}
