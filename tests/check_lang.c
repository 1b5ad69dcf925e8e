/* check_lang.c — the front end: lexer, grammar, syntax errors, robustness,
 * and the golden syntax diagnostics in tests/diag/syntax_*.amp.
 *
 * Runs from the repository root (it reads lang/SPEC.md, lang/examples/ and
 * tests/diag/). Texts are parsed through source_from_text with a Diag that
 * writes into a memory buffer, so every message can be compared exactly.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ampc.h"
#include "build.h"
#include "host.h"
#include "parse.h"
#include "parser.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------------- */

/* One parse of a text: the module (NULL on error) and everything printed. */
typedef struct Run {
    Arena arena;
    Module *module;
    int errors;
    char *out;             /* the Diag's output, NUL-terminated */
    size_t out_len;
} Run;

static void run_parse(Run *r, const char *text, size_t len)
{
    arena_init(&r->arena);
    FILE *out = open_memstream(&r->out, &r->out_len);
    ck_assert_ptr_nonnull(out);
    Diag d;
    diag_init(&d, out);
    SourceFile *f = source_from_text(&r->arena, "t.amp", text, len);
    r->module = parse_source(&r->arena, &d, f);
    r->errors = d.errors;
    fclose(out);
}

static void run_free(Run *r)
{
    arena_free(&r->arena);
    free(r->out);
}

/* The first line the parse printed (the error), or "" if none. */
static const char *first_error(const char *text)
{
    static char line[512];
    Run r;
    run_parse(&r, text, strlen(text));
    size_t n = strcspn(r.out, "\n");
    if (n >= sizeof line)
        n = sizeof line - 1;
    memcpy(line, r.out, n);
    line[n] = 0;
    ck_assert_msg(r.module == NULL && r.errors == 1,
                  "'%s' should fail with one error, got %d", text, r.errors);
    run_free(&r);
    return line;
}

/* ast_dump of a text that must parse. */
static char *dump_text(const char *text)
{
    Run r;
    run_parse(&r, text, strlen(text));
    ck_assert_msg(r.module != NULL, "'%s' should parse: %s", text, r.out);
    char *buf;
    size_t len;
    FILE *out = open_memstream(&buf, &len);
    ast_dump(out, r.module);
    fclose(out);
    run_free(&r);
    return buf;
}

/* The S-expression of one expression, parsed as `let v = <expr>;`. */
static char *dump_expr(const char *expr)
{
    char text[512];
    snprintf(text, sizeof text, "node n { let v = %s; }", expr);
    Run r;
    run_parse(&r, text, strlen(text));
    ck_assert_msg(r.module != NULL, "'%s' should parse: %s", expr, r.out);
    char *buf;
    size_t len;
    FILE *out = open_memstream(&buf, &len);
    ast_dump_expr(out, r.module->nodes->decls->value);
    fclose(out);
    run_free(&r);
    return buf;
}

/* The value of the expression `expr` (a number literal after parsing). */
static const Expr *parse_expr(Run *r, const char *expr)
{
    static char text[512];
    snprintf(text, sizeof text, "node n { let v = %s; }", expr);
    run_parse(r, text, strlen(text));
    ck_assert_msg(r->module != NULL, "'%s' should parse: %s", expr, r->out);
    return r->module->nodes->decls->value;
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap)
            buf = realloc(buf, cap = 2 * cap + 4096);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* The code blocks of SPEC.md that hold .amp text (they contain a '{'). */
enum { MAX_EXAMPLES = 32 };
typedef struct Examples {
    char *text[MAX_EXAMPLES];
    size_t len[MAX_EXAMPLES];
    int count;
} Examples;

static void spec_examples(Examples *ex)
{
    size_t len;
    char *spec = read_whole("lang/SPEC.md", &len);
    ck_assert_msg(spec != NULL, "cannot read lang/SPEC.md (run from the repository root)");
    ex->count = 0;
    char *p = spec;
    while ((p = strstr(p, "```\n")) != NULL && ex->count < MAX_EXAMPLES) {
        char *body = p + 4;
        char *end = strstr(body, "```");
        if (!end)
            break;
        if (memchr(body, '{', (size_t)(end - body))) {
            ex->len[ex->count] = (size_t)(end - body);
            ex->text[ex->count] = strndup(body, ex->len[ex->count]);
            ex->count++;
        }
        p = end + 3;
    }
    free(spec);
}

static void examples_free(Examples *ex)
{
    for (int i = 0; i < ex->count; i++)
        free(ex->text[i]);
}

/* xorshift64: the same pseudo-random inputs on every run. */
static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* Parse and check the contract: a module and no error, or NULL and exactly one. */
static void parse_any(FILE *sink, const char *text, size_t len)
{
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, sink);
    SourceFile *f = source_from_text(&a, "fuzz.amp", text, len);
    Module *m = parse_source(&a, &d, f);
    ck_assert_int_eq(d.errors, m ? 0 : 1);
    arena_free(&a);
}

/* ---- lexer ------------------------------------------------------------------- */

typedef struct Expected { int code, line, col; size_t offset; } Expected;

START_TEST(test_tokens_and_locations)
{
    const char *text = "node a {\n  x = 1.5 khz; // c\n\t}";
    const Expected want[] = {
        { TK_NODE, 1, 1, 0 },    { TK_IDENT, 1, 6, 5 },   { TK_LBRACE, 1, 8, 7 },
        { TK_IDENT, 2, 3, 11 },  { TK_ASSIGN, 2, 5, 13 }, { TK_NUMBER, 2, 7, 15 },
        { TK_SEMI, 2, 14, 22 },  { TK_RBRACE, 3, 2, 30 }, { 0, 3, 3, 31 },
    };
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, NULL);
    SourceFile *f = source_from_text(&a, "t.amp", text, strlen(text));
    Lexer lx;
    lex_init(&lx, &a, &d, f);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        Token t;
        int code = lex_next(&lx, &t);
        ck_assert_int_eq(code, want[i].code);
        ck_assert_int_eq(t.loc.line, want[i].line);
        ck_assert_int_eq(t.loc.col, want[i].col);
        ck_assert_uint_eq(t.loc.offset, want[i].offset);
        ck_assert_ptr_eq(t.loc.file, f);
        if (code == TK_IDENT)
            ck_assert_str_eq(t.str, i == 1 ? "a" : "x");
        if (code == TK_NUMBER) {
            ck_assert_double_eq(t.num, 1500.0);
            ck_assert_double_eq(t.raw, 1.5);
            ck_assert_int_eq(t.unit, UNIT_KHZ);
            ck_assert_uint_eq(t.len, 7);
        }
    }
    ck_assert_int_eq(d.errors, 0);
    arena_free(&a);
}
END_TEST

/* The codes, values and units of the tokens of `text`. */
static int lex_all(const char *text, int *codes, double *nums, Unit *units, int max)
{
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, NULL);
    SourceFile *f = source_from_text(&a, "t.amp", text, strlen(text));
    Lexer lx;
    lex_init(&lx, &a, &d, f);
    int n = 0;
    for (; n < max; n++) {
        Token t;
        codes[n] = lex_next(&lx, &t);
        nums[n] = t.num;
        units[n] = t.unit;
        if (codes[n] <= 0)
            break;
    }
    arena_free(&a);
    return n;
}

START_TEST(test_numbers)
{
    int codes[16];
    double nums[16];
    Unit units[16];
    int n = lex_all("12 0.5 .5 1e3 2.5e-3 7E+2", codes, nums, units, 16);
    const double want[] = { 12, 0.5, 0.5, 1000, 0.0025, 700 };
    ck_assert_int_eq(n, 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(codes[i], TK_NUMBER);
        ck_assert_double_eq_tol(nums[i], want[i], 1e-15);
        ck_assert_int_eq(units[i], UNIT_NONE);
    }
    ck_assert_int_eq(codes[6], 0);
}
END_TEST

START_TEST(test_units)
{
    int codes[16];
    double nums[16];
    Unit units[16];
    int n = lex_all("1 khz 5ms 2 s 440hz 10 ms 6 db 3\ts", codes, nums, units, 16);
    ck_assert_int_eq(n, 7);
    const double want[] = { 1000, 0.005, 2, 440, 0.01, 1.9952623149688795, 3 };
    const Unit unit[] = { UNIT_KHZ, UNIT_MS, UNIT_S, UNIT_HZ, UNIT_MS, UNIT_DB, UNIT_S };
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(codes[i], TK_NUMBER);
        ck_assert_double_eq_tol(nums[i], want[i], 1e-12);
        ck_assert_int_eq(units[i], unit[i]);
    }

    /* A unit word must end there: a longer word is a name. */
    n = lex_all("2 samples x * s 1 khzx 2\ns", codes, nums, units, 16);
    const int want_codes[] = { TK_NUMBER, TK_IDENT, TK_IDENT, TK_STAR, TK_IDENT,
                               TK_NUMBER, TK_IDENT, TK_NUMBER, TK_IDENT, 0 };
    ck_assert_int_eq(n, 9);
    for (int i = 0; i <= n; i++)
        ck_assert_int_eq(codes[i], want_codes[i]);
    ck_assert_int_eq(units[0], UNIT_NONE);
    ck_assert_double_eq(nums[0], 2);
    ck_assert_int_eq(units[5], UNIT_NONE);
    ck_assert_int_eq(units[7], UNIT_NONE);
}
END_TEST

START_TEST(test_db_sign)
{
    Run r;
    const Expr *e = parse_expr(&r, "-6 db");
    ck_assert_int_eq(e->kind, EX_NUM);
    ck_assert_double_eq_tol(e->num, 0.50118723362727224, 1e-12);
    ck_assert_double_eq(e->raw, -6);
    ck_assert_int_eq(e->unit, UNIT_DB);
    ck_assert_int_eq(e->loc.col, 18);
    run_free(&r);

    e = parse_expr(&r, "- 6db");
    ck_assert_int_eq(e->kind, EX_NUM);
    ck_assert_double_eq_tol(e->num, 0.50118723362727224, 1e-12);
    run_free(&r);

    e = parse_expr(&r, "-(6 db)");   /* the negated level, not -6 dB */
    ck_assert_int_eq(e->kind, EX_UNARY);
    ck_assert_double_eq_tol(e->a->num, 1.9952623149688795, 1e-12);
    run_free(&r);

    e = parse_expr(&r, "x - 6 db");  /* binary minus: x minus 6 dB */
    ck_assert_int_eq(e->kind, EX_BINARY);
    ck_assert_double_eq_tol(e->b->num, 1.9952623149688795, 1e-12);
    run_free(&r);

    e = parse_expr(&r, "-3");        /* other numbers keep their negation */
    ck_assert_int_eq(e->kind, EX_UNARY);
    run_free(&r);
}
END_TEST

START_TEST(test_keywords_and_comments)
{
    int codes[16];
    double nums[16];
    Unit units[16];
    int n = lex_all("in int voices voice_ voice steal smooth step // x\n/* a\n*/ out",
                    codes, nums, units, 16);
    const int want[] = { TK_IN, TK_IDENT, TK_VOICES, TK_IDENT, TK_VOICE, TK_STEAL,
                         TK_SMOOTH, TK_STEP, TK_OUT, 0 };
    ck_assert_int_eq(n, 9);
    for (int i = 0; i <= n; i++)
        ck_assert_int_eq(codes[i], want[i]);

    n = lex_all("-> - > == = != ! <= < >= > || && % / * + ? : . , ; [ ] ( ) { }",
                codes, nums, units, 16);
    ck_assert_int_eq(n, 16);
    ck_assert_int_eq(codes[0], TK_ARROW);
    ck_assert_int_eq(codes[1], TK_MINUS);
    ck_assert_int_eq(codes[2], TK_GT);
    ck_assert_int_eq(codes[3], TK_EQ);
    ck_assert_int_eq(codes[4], TK_ASSIGN);
}
END_TEST

/* ---- parser ------------------------------------------------------------------- */

START_TEST(test_precedence)
{
    static const char *const cases[][2] = {
        { "a + b * c", "(+ a (* b c))" },
        { "a * b + c", "(+ (* a b) c)" },
        { "a - b - c", "(- (- a b) c)" },
        { "a / b % c", "(% (/ a b) c)" },
        { "a ? b : c ? d : e", "(? a b (? c d e))" },
        { "a ? b ? c : d : e", "(? a (? b c d) e)" },
        { "a ? b : c || d", "(? a b (|| c d))" },
        { "x || y ? 1 : 0", "(? (|| x y) 1 0)" },
        { "a || b && c", "(|| a (&& b c))" },
        { "a && b || c", "(|| (&& a b) c)" },
        { "a == b < c", "(== a (< b c))" },
        { "a != b == c", "(== (!= a b) c)" },
        { "a >= b <= c > d", "(> (<= (>= a b) c) d)" },
        { "a < b + c", "(< a (+ b c))" },
        { "-a * b", "(* (- a) b)" },
        { "!a && b", "(&& (! a) b)" },
        { "- -a", "(- (- a))" },
        { "-a.b", "(- (. a b))" },
        { "(a + b) * c", "(* (+ a b) c)" },
        { "f(a, b: c + 1).y", "(. (f a b: (+ c 1)) y)" },
        { "buf.read(1 + 2)", "(.read buf (+ 1 2))" },
        { "a.b.c(d)", "(.c (. a b) d)" },
        { "noise()", "(noise)" },
        { "voices.left * 0.5", "(* (. voices left) 0.5)" },
        { "2 * -3", "(* 2 (- 3))" },
        { "1 khz + 10ms", "(+ 1000hz 0.01s)" },
        { "-6 db", "-6db" },
        { "-(6 db)", "(- 6db)" },
        { "x - 6 db", "(- x 6db)" },
        { "clamp(x, 0, 1) * 2 - 1", "(- (* (clamp x 0 1) 2) 1)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = dump_expr(cases[i][0]);
        ck_assert_msg(strcmp(got, cases[i][1]) == 0, "%s: got %s, want %s", cases[i][0], got,
                      cases[i][1]);
        free(got);
    }
}
END_TEST

START_TEST(test_source_order)
{
    const char *text =
        "import \"a.amp\";\n"
        "node first { in a; out y; in b, c; param p1 = 1; param p2 = 2;\n"
        "  state s1 = 0, s2 = 1; let l = 1; delay d[4]; table t[8] = i;\n"
        "  process { let u = 1; s1 = u; d.write(s1); y = s2; } }\n"
        "import faust \"f.dsp\" as fx;\n"
        "patch p1 { g1 = first(); voice { v1 = first(); v2 = first(); } g2 = first(); }\n"
        "node second { }\n"
        "patch p2 { }\n";
    Run r;
    run_parse(&r, text, strlen(text));
    ck_assert_ptr_nonnull(r.module);
    const Module *m = r.module;
    ck_assert_str_eq(m->imports->path, "a.amp");
    ck_assert_ptr_null(m->imports->faust_as);
    ck_assert_str_eq(m->imports->next->path, "f.dsp");
    ck_assert_str_eq(m->imports->next->faust_as, "fx");
    ck_assert_str_eq(m->nodes->name, "first");
    ck_assert_str_eq(m->nodes->next->name, "second");
    ck_assert_str_eq(m->patches->name, "p1");
    ck_assert_str_eq(m->patches->next->name, "p2");

    const Node *n = m->nodes;
    ck_assert_str_eq(n->ins->name, "a");
    ck_assert_str_eq(n->ins->next->name, "b");
    ck_assert_str_eq(n->ins->next->next->name, "c");
    ck_assert_ptr_null(n->ins->next->next->next);
    ck_assert_str_eq(n->params->name, "p1");
    ck_assert_str_eq(n->params->next->name, "p2");
    const char *decls[] = { "s1", "s2", "l", "d", "t" };
    const DeclKind kinds[] = { DECL_STATE, DECL_STATE, DECL_LET, DECL_DELAY, DECL_TABLE };
    const Decl *d = n->decls;
    for (int i = 0; i < 5; i++, d = d->next) {
        ck_assert_str_eq(d->name, decls[i]);
        ck_assert_int_eq(d->kind, kinds[i]);
    }
    ck_assert_ptr_null(d);
    const StmtKind stmts[] = { ST_LET, ST_ASSIGN, ST_WRITE, ST_ASSIGN };
    const Stmt *s = n->process;
    for (int i = 0; i < 4; i++, s = s->next)
        ck_assert_int_eq(s->kind, stmts[i]);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(n->has_process, 1);
    ck_assert_int_eq(n->process_loc.line, 4);

    const Patch *p = m->patches;
    ck_assert_str_eq(p->graph->name, "g1");
    ck_assert_str_eq(p->graph->next->name, "g2");
    ck_assert_str_eq(p->voice->name, "v1");
    ck_assert_str_eq(p->voice->next->name, "v2");
    ck_assert_int_eq(p->has_voice, 1);
    ck_assert_ptr_null(p->outs);
    ck_assert_ptr_null(m->nodes->next->process);
    ck_assert_int_eq(m->nodes->next->has_process, 0);
    run_free(&r);
}
END_TEST

START_TEST(test_patch_fields)
{
    const char *text =
        "patch p {\n"
        "  in a; out l, r;\n"
        "  voices 2 * 4 steal quietest;\n"
        "  x = osc(f: 1, 2);\n"
        "  x.y * 2, voices -> out, out.l, x.a;\n"
        "  voices - 1 -> out;\n"
        "}\n"
        "patch q { voices 3 steal none; }\n"
        "patch s { voices 1; }\n";
    Run r;
    run_parse(&r, text, strlen(text));
    ck_assert_msg(r.module == NULL, "a connection has one value");
    ck_assert_str_eq(strtok(r.out, "\n"), "t.amp:5:10: error: expected '->' before ','");
    run_free(&r);

    text =
        "patch p {\n"
        "  in a; out l, r;\n"
        "  voices 2 * 4 steal quietest;\n"
        "  x = osc(f: 1, 2);\n"
        "  x.y * 2 -> out, out.l, x.a;\n"
        "  voices - 1 -> out;\n"
        "}\n"
        "patch q { voices 3 steal none; }\n"
        "patch s { voices 1; }\n";
    run_parse(&r, text, strlen(text));
    ck_assert_ptr_nonnull(r.module);
    const Patch *p = r.module->patches;
    ck_assert_int_eq(p->voices->kind, EX_BINARY);  /* stored unevaluated */
    ck_assert_int_eq(p->voices_loc.line, 3);
    ck_assert_int_eq(p->voices_loc.col, 3);
    ck_assert_int_eq(p->steal, STEAL_QUIETEST);
    ck_assert_int_eq(p->has_voice, 0);
    ck_assert_str_eq(p->ins->name, "a");
    ck_assert_str_eq(p->outs->next->name, "r");
    const GraphItem *g = p->graph;
    ck_assert_int_eq(g->kind, GI_INSTANCE);
    ck_assert_str_eq(g->node, "osc");
    ck_assert_str_eq(g->args->name, "f");
    ck_assert_ptr_null(g->args->next->name);
    ck_assert_int_eq(g->node_loc.col, 7);
    g = g->next;
    ck_assert_int_eq(g->kind, GI_CONNECT);
    const Target *t = g->targets;
    ck_assert_str_eq(t->object, "out");
    ck_assert_ptr_null(t->port);
    ck_assert_str_eq(t->next->object, "out");
    ck_assert_str_eq(t->next->port, "l");
    ck_assert_str_eq(t->next->next->object, "x");
    ck_assert_str_eq(t->next->next->port, "a");
    g = g->next;
    ck_assert_int_eq(g->kind, GI_CONNECT);      /* `voices - 1 -> out` is a connection */
    ck_assert_int_eq(g->value->kind, EX_BINARY);
    ck_assert_str_eq(g->value->a->name, "voices");
    ck_assert_int_eq(r.module->patches->next->steal, STEAL_NONE);
    ck_assert_int_eq(r.module->patches->next->next->steal, STEAL_OLDEST);
    run_free(&r);
}
END_TEST

START_TEST(test_dump)
{
    const char *text =
        "import \"std.amp\";\n"
        "node n {\n"
        "  in x;\n"
        "  out y;\n"
        "  param g = -6 db in [-60 db, 0 db] step 1 smooth 10 ms;\n"
        "  state z = 0;\n"
        "  delay d[2 s];\n"
        "  table t[4] = sin(i);\n"
        "  let k = 1 - z;\n"
        "  process { let u = x * g; z = u; d.write(u); y = d.read(1) + z; }\n"
        "}\n"
        "patch p {\n"
        "  voices 4;\n"
        "  voice { o = n(x: note.freq); let w = o.y; w -> out; }\n"
        "  voices * 0.5 -> out.left, out.right;\n"
        "}\n";
    char *got = dump_text(text);
    const char *want =
        "import \"std.amp\" @1:8\n"
        "node n @2:1\n"
        "  in x @3:6\n"
        "  out y @4:7\n"
        "  param g = -6db in [-60db, 0db] step 1 smooth 0.01s @5:9\n"
        "  state z = 0 @6:9\n"
        "  delay d[2s] @7:9\n"
        "  table t[4] = (sin i) @8:9\n"
        "  let k = (- 1 z) @9:7\n"
        "  process @10:3\n"
        "    let u = (* x g) @10:13\n"
        "    z = u @10:28\n"
        "    d.write u @10:35\n"
        "    y = (+ (.read d 1) z) @10:47\n"
        "patch p @12:1\n"
        "  voices 4 steal oldest @13:3\n"
        "  voice @14:3\n"
        "    o = n(x: (. note freq)) @14:11\n"
        "    let w = (. o y) @14:32\n"
        "    w -> out @14:47\n"
        "  (* voices 0.5) -> out.left, out.right @15:16\n";
    ck_assert_msg(strcmp(got, want) == 0, "got:\n%s", got);
    free(got);
}
END_TEST

START_TEST(test_spec_examples)
{
    Examples ex;
    spec_examples(&ex);
    ck_assert_int_ge(ex.count, 2);
    int nodes = 0, patches = 0;
    for (int i = 0; i < ex.count; i++) {
        Run r;
        run_parse(&r, ex.text[i], ex.len[i]);
        ck_assert_msg(r.module != NULL, "SPEC.md example %d: %s", i, r.out);
        for (const Node *n = r.module->nodes; n; n = n->next)
            nodes++;
        for (const Patch *p = r.module->patches; p; p = p->next)
            patches++;
        run_free(&r);
    }
    ck_assert_int_ge(nodes, 1);
    ck_assert_int_ge(patches, 1);
    examples_free(&ex);
}
END_TEST

/* Every file in lang/examples/ parses (the directory may still be empty). */
START_TEST(test_example_files)
{
    DIR *dir = opendir("lang/examples");
    ck_assert_msg(dir != NULL, "cannot open lang/examples (run from the repository root)");
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".amp") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "lang/examples/%s", e->d_name);
        size_t len;
        char *text = read_whole(path, &len);
        ck_assert_ptr_nonnull(text);
        Run r;
        run_parse(&r, text, len);
        ck_assert_msg(r.module != NULL, "%s: %s", path, r.out);
        run_free(&r);
        free(text);
    }
    closedir(dir);
}
END_TEST

START_TEST(test_empty_input)
{
    static const char *const texts[] = { "", "   \n\t\n", "// only a comment", "/* block */\n" };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        Run r;
        run_parse(&r, texts[i], strlen(texts[i]));
        ck_assert_ptr_nonnull(r.module);
        ck_assert_int_eq(r.errors, 0);
        ck_assert_ptr_null(r.module->nodes);
        ck_assert_ptr_null(r.module->patches);
        ck_assert_ptr_null(r.module->imports);
        ck_assert_uint_eq(r.out_len, 0);
        run_free(&r);
    }
}
END_TEST

START_TEST(test_source_load)
{
    Arena a;
    arena_init(&a);
    char *buf;
    size_t len;
    FILE *out = open_memstream(&buf, &len);
    Diag d;
    diag_init(&d, out);
    SourceFile *f = source_load(&a, &d, "lang/SPEC.md");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_gt(f->len, 100);
    ck_assert_int_eq(f->text[f->len], 0);
    ck_assert_ptr_null(source_load(&a, &d, "no/such/file.amp"));
    fclose(out);
    ck_assert_str_eq(buf, "error: cannot read 'no/such/file.amp': No such file or directory\n");
    ck_assert_int_eq(d.errors, 1);
    free(buf);
    arena_free(&a);
}
END_TEST

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- errors ------------------------------------------------------------------- */

START_TEST(test_error_messages)
{
    static const char *const cases[][2] = {
        { "patch p {\n  a.y -> out\n}", "t.amp:2:13: error: expected ';' after the connection" },
        { "patch p {\n  a.y -> out b;\n}", "t.amp:2:14: error: expected ';' before 'b'" },
        { "node n { let a = ; }", "t.amp:1:18: error: expected an expression before ';'" },
        { "node n { let a = f(a b); }", "t.amp:1:22: error: expected ')' before 'b'" },
        { "node n { let a = x ? b ; }", "t.amp:1:24: error: expected ':' before ';'" },
        { "node n {", "t.amp:1:9: error: expected '}' before end of file" },
        { "node n { in a, b\n out c; }", "t.amp:1:17: error: expected ';' after the input list" },
        { "node n { param x = 1 khz\n}", "t.amp:1:25: error: expected ';' after the param" },
        { "node n { state in = 0; }", "t.amp:1:16: error: expected a name before 'in'" },
        { "node n { y = 1; }", "t.amp:1:10: error: 'y = ...' outside the process block: statements go in process { ... }, "
          "and only an instance is assigned here (name = node(...);)" },
        { "node n { process { y = 1\n} }", "t.amp:1:25: error: expected ';' after the assignment" },
        { "node n { process { d.write(y)\n} }", "t.amp:1:30: error: expected ';' after the write" },
        { "node n { process { buf.read(1); } }",
          "t.amp:1:24: error: only 'write' can be called as a statement" },
        { "node n { process { buf.write(1, 2); } }",
          "t.amp:1:24: error: 'write' takes exactly one argument" },
        { "node n { process {} process {} }",
          "t.amp:1:21: error: node 'n' already has a process block" },
        { "patch p { voice {} voice {} }", "t.amp:1:20: error: patch 'p' already has a voice block" },
        { "patch p { voices 2; voices 3; }",
          "t.amp:1:21: error: patch 'p' already has a voices line" },
        { "patch p { voices 2 steal loudest; }",
          "t.amp:1:26: error: unknown steal mode 'loudest' (expected oldest, quietest or none)" },
        { "patch p { voices 2\n}", "t.amp:1:19: error: expected ';' after the voices line" },
        { "patch p { x = osc()\n}", "t.amp:1:20: error: expected ';' after the instance" },
        { "patch p { x = 5; }", "t.amp:1:15: error: expected a name before number" },
        { "patch p { a + b; }", "t.amp:1:16: error: expected '->' before ';'" },
        { "patch p { a -> ; }", "t.amp:1:16: error: expected 'out' or a name before ';'" },
        { "import osc;", "t.amp:1:8: error: expected 'faust' or a string before 'osc'" },
        { "import \"x.amp\"", "t.amp:1:15: error: expected ';' after the import" },
        { "import faust \"x.dsp\" name;", "t.amp:1:22: error: expected 'as' before 'name'" },
        { "}", "t.amp:1:1: error: expected 'import', 'fn', 'node' or 'patch' before '}'" },
        { "node { }", "t.amp:1:6: error: expected a name before '{'" },
        { "fn f(x) = x\nnode n { }", "t.amp:1:12: error: expected ';' after the function" },
        { "fn f(x) x;", "t.amp:1:9: error: expected '=' before 'x'" },
        { "fn (x) = 1;", "t.amp:1:4: error: expected a name before '('" },
        { "patch p { for k in 0 { } }", "t.amp:1:22: error: expected '..' before '{'" },
        { "patch p { for k 0..2 { } }", "t.amp:1:17: error: expected 'in' before number" },
        { "patch p { table t = [1, 2; }", "t.amp:1:26: error: expected ']' before ';'" },
        { "patch p { table t = []; }", "t.amp:1:22: error: expected an expression before ']'" },
        { "node n { process { for k in 0..2 { } } }",
          "t.amp:1:20: error: expected 'let', a name or '}' before 'for'" },
        { "patch p { a[1 = b(); }", "t.amp:1:15: error: expected ']' before '='" },
        { "node n { delay d[2 s; }", "t.amp:1:21: error: expected ']' before ';'" },
        { "node n { let a = 1e999; }", "t.amp:1:18: error: number out of range" },
        { "node n { let a = 1e306 khz; }", "t.amp:1:18: error: number out of range" },
        { "node n { let a = \"abc; }", "t.amp:1:18: error: unterminated string" },
        { "node n {\n  /* abc ", "t.amp:2:3: error: unterminated comment" },
        { "node n { let a = a $ b; }", "t.amp:1:20: error: unexpected character '$'" },
        { "node n { let a = a \x7f b; }", "t.amp:1:20: error: unexpected character '\\x7F'" },
        { "node n { let a = a \xc3\xa9; }", "t.amp:1:20: error: unexpected character '\\xC3'" },
        { "node n { let a = 2 samples; }", "t.amp:1:20: error: expected ';' before 'samples'" },
        { "node n { let a = 1; } }",
          "t.amp:1:23: error: expected 'import', 'fn', 'node' or 'patch' before '}'" },
        { "node n { let aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa }",
          "t.amp:1:65: error: expected '=' before '}'" },
        { "node n { let a = b bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb; }",
          "t.amp:1:20: error: expected ';' before 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = first_error(cases[i][0]);
        ck_assert_msg(strcmp(got, cases[i][1]) == 0, "input %zu: got\n  %s\nwant\n  %s", i, got,
                      cases[i][1]);
    }
}
END_TEST

/* The full diagnostic: message, source line, caret. */
START_TEST(test_error_caret)
{
    Run r;
    const char *text = "patch p {\n\tosc.y -> out\n}\n";
    run_parse(&r, text, strlen(text));
    ck_assert_str_eq(r.out, "t.amp:2:14: error: expected ';' after the connection\n"
                            "\tosc.y -> out\n"
                            "\t            ^\n");
    run_free(&r);
}
END_TEST

START_TEST(test_nul_byte)
{
    Run r;
    const char text[] = "node a {\0}";
    run_parse(&r, text, sizeof text - 1);
    ck_assert_ptr_null(r.module);
    ck_assert_int_eq(r.errors, 1);
    ck_assert_msg(starts_with(r.out, "t.amp:1:9: error: unexpected character '\\x00'\n"), "%s",
                  r.out);
    run_free(&r);

    const char in_string[] = "import \"a\0b\";";
    run_parse(&r, in_string, sizeof in_string - 1);
    ck_assert_ptr_null(r.module);
    ck_assert_msg(starts_with(r.out, "t.amp:1:10: error: unexpected character '\\x00'\n"), "%s",
                  r.out);
    run_free(&r);
}
END_TEST

/* ---- robustness ---------------------------------------------------------------- */

static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
    size_t h = strlen(head), u = strlen(unit), t = strlen(tail);
    char *s = malloc(h + u * times + t + 1);
    memcpy(s, head, h);
    for (size_t i = 0; i < times; i++)
        memcpy(s + h + i * u, unit, u);
    memcpy(s + h + u * times, tail, t + 1);
    return s;
}

START_TEST(test_deep_nesting)
{
    static const char *const units[] = { "(", "-", "!", "f(", "a ? b : ", "-(" };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        char *text = repeat("node n { let a = ", units[i], 100000, "x; }");
        Run r;
        run_parse(&r, text, strlen(text));
        ck_assert_ptr_null(r.module);
        ck_assert_int_eq(r.errors, 1);
        ck_assert_msg(strncmp(r.out, "t.amp:1:", 8) == 0 &&
                          strstr(r.out, ": error: expression nested too deeply\n"),
                      "%s", r.out);
        run_free(&r);
        free(text);
    }
}
END_TEST

/* Left-associative chains do not deepen the parser's stack but do deepen
 * the tree: the parser bounds the tree's depth too. */
START_TEST(test_long_chains)
{
    static const char *const units[] = { "a - ", "a * b - ", "x.", "a && " };
    static const char *const tails[] = { "a; }", "a; }", "y; }", "a; }" };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        char *text = repeat("node n { let a = ", units[i], 100000, tails[i]);
        Run r;
        run_parse(&r, text, strlen(text));
        ck_assert_ptr_null(r.module);
        ck_assert_msg(strstr(r.out, ": error: expression nested too deeply\n"), "%s", r.out);
        run_free(&r);
        free(text);
    }
    /* Just under the bound is fine: depth AST_MAX_DEPTH. */
    char *text = repeat("node n { let a = ", "a + ", AST_MAX_DEPTH - 1, "a; }");
    Run r;
    run_parse(&r, text, strlen(text));
    ck_assert_ptr_nonnull(r.module);
    ck_assert_int_eq(r.module->nodes->decls->value->depth, AST_MAX_DEPTH);
    run_free(&r);
    free(text);
    /* Chains of + and of * longer than that are rebuilt balanced each time
     * they reach the bound: 100000 terms parse. */
    static const char *const sums[] = { "a + ", "a * " };
    for (size_t i = 0; i < 2; i++) {
        text = repeat("node n { let a = ", sums[i], 99999, "a; }");
        run_parse(&r, text, strlen(text));
        ck_assert_msg(r.module != NULL, "%s", r.out);
        ck_assert_int_le(r.module->nodes->decls->value->depth, AST_MAX_DEPTH);
        run_free(&r);
        free(text);
    }
}
END_TEST

/* Many items: building is linear, not quadratic. */
START_TEST(test_many_items)
{
    char *text = repeat("node n { ", "in a; state s = 1, t = 2; ", 100000, "process { } }");
    Run r;
    run_parse(&r, text, strlen(text));
    ck_assert_ptr_nonnull(r.module);
    int count = 0;
    for (const Ident *id = r.module->nodes->ins; id; id = id->next)
        count++;
    ck_assert_int_eq(count, 100000);
    run_free(&r);
    free(text);
}
END_TEST

START_TEST(test_random_bytes)
{
    FILE *sink = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(sink);
    static const char alphabet[] = "node patch in out {}();,.=->?:+-*/%<>!&|\"ab 1.5e3 khz db\n/";
    char buf[128];
    for (int i = 0; i < 100000; i++) {
        size_t len = rnd(sizeof buf);
        int mostly_text = rnd(2);
        for (size_t k = 0; k < len; k++)
            buf[k] = mostly_text ? alphabet[rnd(sizeof alphabet - 1)] : (char)rnd(256);
        parse_any(sink, buf, len);
    }
    fclose(sink);
}
END_TEST

/* Sequences of real tokens reach deep into the grammar. */
START_TEST(test_token_soup)
{
    static const char *const tokens[] = {
        "import", "faust", "as", "node", "patch", "in", "out", "param", "state", "delay",
        "table", "let", "process", "voices", "voice", "steal", "smooth", "step", "x", "osc",
        "note", "oldest", "write", "1", "2.5", "1 khz", "-6 db", "10ms", "\"a.amp\"", "{", "}",
        "(", ")", "[", "]", ";", ",", ".", ":", "?", "->", "=", "||", "&&", "==", "!=", "<",
        "<=", ">", ">=", "+", "-", "*", "/", "%", "!", "\n", "// c\n", "/* c */",
    };
    enum { NTOKENS = sizeof tokens / sizeof tokens[0] };
    FILE *sink = fopen("/dev/null", "w");
    char buf[1024];
    for (int i = 0; i < 30000; i++) {
        size_t len = 0;
        int count = (int)rnd(80);
        for (int k = 0; k < count; k++) {
            const char *t = tokens[rnd(NTOKENS)];
            size_t n = strlen(t);
            if (len + n + 1 >= sizeof buf)
                break;
            memcpy(buf + len, t, n);
            len += n;
            buf[len++] = ' ';
        }
        parse_any(sink, buf, len);
    }
    fclose(sink);
}
END_TEST

START_TEST(test_spec_mutations)
{
    Examples ex;
    spec_examples(&ex);
    ck_assert_int_ge(ex.count, 2);
    FILE *sink = fopen("/dev/null", "w");
    static const char *const inserts[] = { ";", "}", "{", "(", ")", "->", ",", "\"", "/*",
                                           "voices", "x", "1", "\n", "db", "?" };
    for (int i = 0; i < 10000; i++) {
        int which = (int)rnd((unsigned)ex.count);
        size_t len = ex.len[which];
        char *text = malloc(len + 64);
        memcpy(text, ex.text[which], len);
        int edits = 1 + (int)rnd(4);
        for (int e = 0; e < edits; e++) {
            size_t at = len ? rnd((unsigned)len) : 0;
            switch (rnd(4)) {
            case 0: /* delete a run of bytes */
                if (len) {
                    size_t n = 1 + rnd(8);
                    if (n > len - at)
                        n = len - at;
                    memmove(text + at, text + at + n, len - at - n);
                    len -= n;
                }
                break;
            case 1: /* replace a byte */
                if (len)
                    text[at] = (char)rnd(256);
                break;
            case 2: { /* insert a token */
                const char *t = inserts[rnd(sizeof inserts / sizeof inserts[0])];
                size_t n = strlen(t);
                memmove(text + at + n, text + at, len - at);
                memcpy(text + at, t, n);
                len += n;
                break;
            }
            default: /* cut the text short */
                len = at;
                break;
            }
        }
        parse_any(sink, text, len);
        free(text);
    }
    fclose(sink);
    examples_free(&ex);
}
END_TEST

/* ---- golden syntax diagnostics ------------------------------------------------------ */

/* tests/diag/syntax_*.amp: the `//! LINE:COL: error: MESSAGE` lines at the
 * top list exactly the diagnostics the rest of the file produces. */
static void check_golden(const char *path)
{
    size_t len;
    char *text = read_whole(path, &len);
    ck_assert_msg(text != NULL, "cannot read %s", path);

    char want[4096] = "";
    for (const char *p = text; strncmp(p, "//! ", 4) == 0;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        strncat(want, p + 4, n - 4 < sizeof want - strlen(want) - 2 ? n - 4 : 0);
        strcat(want, "\n");
        if (!end)
            break;
        p = end + 1;
    }
    ck_assert_msg(want[0], "%s: no //! lines at the top", path);

    Arena a;
    arena_init(&a);
    char *out;
    size_t out_len;
    FILE *sink = open_memstream(&out, &out_len);
    Diag d;
    diag_init(&d, sink);
    SourceFile *f = source_load(&a, &d, path);
    ck_assert_ptr_nonnull(f);
    Module *m = parse_source(&a, &d, f);
    fclose(sink);
    ck_assert_msg(m == NULL, "%s: parsed without error", path);

    /* Keep the `path:` lines, without the path. */
    char got[4096] = "";
    size_t plen = strlen(path);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, path, plen) == 0 && line[plen] == ':' &&
            strlen(got) + strlen(line) + 2 < sizeof got) {
            strcat(got, line + plen + 1);
            strcat(got, "\n");
        }
    }
    ck_assert_msg(strcmp(got, want) == 0, "%s:\ngot:\n%swant:\n%s", path, got, want);
    free(out);
    free(text);
    arena_free(&a);
}

static int by_name(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

START_TEST(test_golden_syntax)
{
    DIR *dir = opendir("tests/diag");
    ck_assert_msg(dir != NULL, "cannot open tests/diag (run from the repository root)");
    char *names[256];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL && count < 256) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "syntax_", 7) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".amp") == 0)
            names[count++] = strdup(e->d_name);
    }
    closedir(dir);
    qsort(names, (size_t)count, sizeof names[0], by_name);
    ck_assert_int_ge(count, 15);
    for (int i = 0; i < count; i++) {
        char path[512];
        snprintf(path, sizeof path, "tests/diag/%s", names[i]);
        check_golden(path);
        free(names[i]);
    }
}
END_TEST

/* ---- functions, tables and loops, compiled (SPEC.md §8, §9) ---------------------------- */

#define SR 48000.0

/* Compile text (its relative imports anchored in tests/) to C; the
 * caller frees the result. */
static AmpcResult compile_text(const char *text, const char *unit)
{
    AmpcOptions opt = { .unit = unit };
    char *msgs;
    size_t msgs_len;
    FILE *out = open_memstream(&msgs, &msgs_len);
    Diag d;
    diag_init(&d, out);
    AmpcResult r;
    int rc = ampc_compile_text("tests/check_lang.amp", text, strlen(text), &opt, &d, &r);
    fclose(out);
    ck_assert_msg(rc == 0, "ampc failed:\n%s", msgs);
    free(msgs);
    return r;
}

static const AmpPatchDesc *build_text(const char *text, const char *unit)
{
    AmpcResult r = compile_text(text, unit);
    static char err[16384];
    const AmpPatchDesc *d = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(d != NULL, "%s", err);
    ampc_result_free(&r);
    return d;
}

/* n frames of channel 0 and 1 of d, from a fresh state, with events. */
static float *render_text(const char *text, const char *unit, const Command *ev, int nev, long n, float **right)
{
    const AmpPatchDesc *d = build_text(text, unit);
    HostPatch hp;
    char err[256];
    ck_assert_msg(host_init(&hp, d, (float)SR, err, sizeof err) == 0, "%s", err);
    float *out[HOST_MAX_CHANNELS] = { 0 };
    for (int c = 0; c < d->n_outputs; c++)
        out[c] = calloc((size_t)n, sizeof(float));
    const float *ins[HOST_MAX_CHANNELS] = { 0 };
    ck_assert_int_eq(host_render(&hp, ev, nev, ins, out, n), nev);
    host_free(&hp);
    if (right)
        *right = out[1];
    else
        free(out[1]);
    for (int c = 2; c < d->n_outputs; c++)
        free(out[c]);
    return out[0];
}

/* A function is inlined: a node written with one renders exactly as the
 * node with the body written out, for several arguments. */
START_TEST(test_function_inlined)
{
    static const char *const with_fn =
        "fn shape(x, k) = x < 0 ? -shape2(-x, k) : shape2(x, k);\n"
        "fn shape2(x, k) = x / (1 + k * x * x);\n"
        "node n { out y; param f = 300 hz; param k = 2; state p = 0;\n"
        "  process { y = shape(2 * p - 1, k) + shape(p, 0.5); p = fract(p + f / SR); } }\n";
    static const char *const written_out =
        "node n { out y; param f = 300 hz; param k = 2; state p = 0;\n"
        "  process { let x = 2 * p - 1;\n"
        "    y = (x < 0 ? -(-x / (1 + k * -x * -x)) : x / (1 + k * x * x)) + p / (1 + 0.5 * p * p);\n"
        "    p = fract(p + f / SR); } }\n";
    const long n = 4800;
    float *a = render_text(with_fn, NULL, NULL, 0, n, NULL);
    float *b = render_text(written_out, NULL, NULL, 0, n, NULL);
    double peak = 0;
    for (long i = 0; i < n; i++)
        peak = fmax(peak, fabs(a[i]));
    printf("function inlined: %ld samples equal to the written-out node, peak %.3f\n", n, peak);
    ck_assert(peak > 0.3);
    ck_assert_msg(memcmp(a, b, sizeof(float) * (size_t)n) == 0, "the function's render differs");
    free(a);
    free(b);
}
END_TEST

/* The C of a sum of N terms, written out (a + b + ...) or as sum() of a
 * table of N entries, grows linearly with N: 10,000 terms compile, in 9 to
 * 11 times the bytes of 1,000. */
static size_t sum_c_bytes(int terms, int with_table)
{
    size_t cap = (size_t)terms * 40 + 512;
    char *text = malloc(cap);
    size_t used = 0;
    used += (size_t)snprintf(text + used, cap - used, "node s { in x; out y; %s",
                             with_table ? "table t = [" : "process { y = ");
    for (int k = 0; k < terms; k++)
        used += (size_t)snprintf(text + used, cap - used, "%ssin(%d * x)", k ? (with_table ? ", " : " + ") : "",
                                 k + 1);
    snprintf(text + used, cap - used, with_table ? "]; process { y = sum(t); } }\n" : "; } }\n");
    AmpcResult r = compile_text(text, NULL);
    size_t bytes = r.c_len;
    ampc_result_free(&r);
    free(text);
    return bytes;
}

START_TEST(test_long_sum_linear)
{
    for (int with_table = 0; with_table < 2; with_table++) {
        size_t small = sum_c_bytes(1000, with_table), big = sum_c_bytes(10000, with_table);
        double ratio = (double)big / (double)small;
        printf("sum %s: 1000 terms %zu bytes of C, 10000 terms %zu bytes (x%.2f)\n",
               with_table ? "of a table" : "written out", small, big, ratio);
        ck_assert_msg(ratio >= 9.0 && ratio <= 11.0, "C grows x%.2f for 10x the terms", ratio);
    }
}
END_TEST

/* |DFT| of x[from, from + len) at frequency f, Blackman-Harris window,
 * normalised so a sine of amplitude A gives A. */
static double amplitude_at(const float *x, long from, long len, double f)
{
    double re = 0, im = 0, wsum = 0;
    for (long i = 0; i < len; i++) {
        double t = 2 * M_PI * (double)i / (double)(len - 1);
        double w = 0.35875 - 0.48829 * cos(t) + 0.14128 * cos(2 * t) - 0.01168 * cos(3 * t);
        double ph = 2 * M_PI * f * (double)i / SR;
        re += w * x[from + i] * cos(ph);
        im -= w * x[from + i] * sin(ph);
        wsum += w;
    }
    return 2 * sqrt(re * re + im * im) / wsum;
}

/* The frequency of the strongest peak within ±1.5 Hz of f. */
static double peak_near(const float *x, long from, long len, double f, double *amp)
{
    double best = f, best_a = -1;
    for (double g = f - 1.5; g <= f + 1.5; g += 0.1) {
        double a = amplitude_at(x, from, len, g);
        if (a > best_a) { best_a = a; best = g; }
    }
    double centre = best;
    for (double g = centre - 0.1; g <= centre + 0.1; g += 0.002) {
        double a = amplitude_at(x, from, len, g);
        if (a > best_a) { best_a = a; best = g; }
    }
    *amp = best_a;
    return best;
}

/* nodes/supersaw.amp, chorus off, A3 (220 Hz) held at velocity 1: its
 * seven saws sound at 220 Hz times 1 + 0.018 * detune * spread[k] (seen
 * at their 8th harmonics, 10 Hz or more apart), each at the level of one
 * saw (2 / (8 pi) times 0.12 * 0.8, the sustain); with detune 0 they add
 * up in phase, seven saws' worth. */
START_TEST(test_supersaw)
{
    size_t len;
    char *text = read_whole("nodes/supersaw.amp", &len);
    ck_assert_ptr_nonnull(text);
    char *fixed = malloc(len + 64);
    /* Anchor its imports where compile_text anchors them (tests/). */
    const char *imp = "import \"std/";
    size_t used = 0;
    for (const char *p = text; *p;) {
        if (strncmp(p, imp, strlen(imp)) == 0) {
            used += (size_t)sprintf(fixed + used, "import \"../nodes/std/");
            p += strlen(imp);
        } else {
            fixed[used++] = *p++;
        }
        fixed = realloc(fixed, used + 64);
    }
    fixed[used] = 0;
    static const double spread[7] = { -1, -0.64, -0.33, 0, 0.33, 0.64, 1 };
    const long skip = 72000, n = 96000;     /* 1.5 s into the note, then 2 s */
    const AmpPatchDesc *d = build_text(fixed, NULL);
    int detune = -1, chorus = -1;
    for (int i = 0; i < d->n_params; i++) {
        if (!strcmp(d->params[i].name, "detune")) detune = i;
        if (!strcmp(d->params[i].name, "chorus")) chorus = i;
    }
    ck_assert(detune >= 0 && chorus >= 0);
    Command ev[3] = { host_param(0, chorus, 0.0f), host_param(0, detune, 1.0f), host_note_on(0, 0, 57, 1.0f) };
    float *right;
    float *y = render_text(fixed, NULL, ev, 3, skip + n, &right);
    ck_assert(memcmp(y, right, sizeof(float) * (size_t)(skip + n)) == 0);
    double one = 0.12 * 0.8 * 2 / (8 * M_PI);
    for (int k = 0; k < 7; k++) {
        double want = 8 * 220 * (1 + 0.018 * spread[k]), amp;
        double got = peak_near(y, skip, n, want, &amp);
        double cents = 1200 * log2(got / want);
        printf("supersaw saw %d: 8th harmonic %.3f Hz (want %.3f, %+.3f cents), %.2f dB re one saw\n", k, got,
               want, cents, 20 * log10(amp / one));
        ck_assert_msg(fabs(cents) < 0.1, "saw %d is %.3f cents off", k, cents);
        ck_assert_msg(fabs(20 * log10(amp / one)) < 0.5, "saw %d: level %.2f dB off", k, 20 * log10(amp / one));
    }
    free(y);
    free(right);
    ev[1] = host_param(0, detune, 0.0f);
    y = render_text(fixed, NULL, ev, 3, skip + n, NULL);
    double amp;
    double got = peak_near(y, skip, n, 220, &amp);
    double seven = 7 * 0.12 * 0.8 * 2 / M_PI;
    printf("supersaw, detune 0: fundamental %.3f Hz, %.2f dB re seven saws in phase\n", got,
           20 * log10(amp / seven));
    ck_assert(fabs(1200 * log2(got / 220)) < 0.1);
    ck_assert(fabs(20 * log10(amp / seven)) < 0.1);
    free(y);
    free(fixed);
    free(text);
}
END_TEST


/* ---- nodes built from instances, patches as nodes (SPEC.md §11) ------------------------- */

/* A file of nodes/ with its `import "std/..."` anchored in tests/, where
 * compile_text anchors them. */
static char *library_text(const char *path)
{
    size_t len;
    char *text = read_whole(path, &len);
    ck_assert_ptr_nonnull(text);
    const char *imp = "import \"std/";
    char *fixed = malloc(2 * len + 64);
    size_t used = 0;
    for (const char *p = text; *p;) {
        if (strncmp(p, imp, strlen(imp)) == 0) {
            used += (size_t)sprintf(fixed + used, "import \"../nodes/std/");
            p += strlen(imp);
        } else {
            fixed[used++] = *p++;
        }
    }
    fixed[used] = 0;
    free(text);
    return fixed;
}

/* A chorus node built from two chorus lines, inside an effect patch used
 * as a node, inside a patch: the same samples as the three written out
 * flat, and its state named by its path through the instances. */
START_TEST(test_nested_inlined)
{
    static const char *const nested =
        "import \"../nodes/std/osc.amp\";\n"
        "node line { in x; out y; param rate = 0.8 hz; param sign = 1; delay d[20 ms]; state ph = 0;\n"
        "  process { d.write(x); y = d.read(12 ms + 3 ms * sign * sin(2 * pi * ph)); ph = fract(ph + rate / SR); } }\n"
        "node chorus { in x; out left, right; param rate = 0.8 hz in [0.05 hz, 5 hz]; param mix = 0.5 in [0, 1];\n"
        "  let dry = 1 - mix;\n"
        "  a = line(rate: rate, sign: 1, x: x);\n"
        "  b = line(rate: rate * 1.1, sign: -1);\n"
        "  x -> b.x;\n"
        "  x * dry + a.y * mix -> out.left;\n"
        "  x * dry + b.y * mix -> out.right; }\n"
        "patch fx { in inl; out l, r; param depth = 0.7 in [0, 1];\n"
        "  ch = chorus(mix: depth, x: inl); ch.left -> out.l; ch.right -> out.r; }\n"
        "patch song { o = saw(freq: 220 hz); f = fx(inl: o.y); f.l -> out.left; f.r -> out.right; }\n";
    static const char *const flat =
        "import \"../nodes/std/osc.amp\";\n"
        "node line { in x; out y; param rate = 0.8 hz; param sign = 1; delay d[20 ms]; state ph = 0;\n"
        "  process { d.write(x); y = d.read(12 ms + 3 ms * sign * sin(2 * pi * ph)); ph = fract(ph + rate / SR); } }\n"
        "patch song { o = saw(freq: 220 hz);\n"
        "  a = line(rate: 0.8 hz, sign: 1, x: o.y); b = line(rate: 0.8 hz * 1.1, sign: -1); o.y -> b.x;\n"
        "  o.y * (1 - 0.7) + a.y * 0.7 -> out.left; o.y * (1 - 0.7) + b.y * 0.7 -> out.right; }\n";
    const long n = 24000;
    float *ra, *rb;
    float *a = render_text(nested, NULL, NULL, 0, n, &ra);
    float *b = render_text(flat, NULL, NULL, 0, n, &rb);
    double peak = 0;
    for (long i = 0; i < n; i++)
        peak = fmax(peak, fabs(a[i]));
    printf("nested chorus: %ld samples equal to the flat patch, peak %.3f\n", n, peak);
    ck_assert(peak > 0.3);
    ck_assert_msg(memcmp(a, b, sizeof(float) * (size_t)n) == 0, "left differs");
    ck_assert_msg(memcmp(ra, rb, sizeof(float) * (size_t)n) == 0, "right differs");
    AmpcResult r = compile_text(nested, NULL);
    const char *map = strstr(r.json_text, "\"state_map\"");   /* what hot swap follows */
    ck_assert_msg(map && strstr(map, "{\"name\": \"f.ch.a.d\"") && strstr(map, "{\"name\": \"f.ch.b.ph\""),
                  "no nested state names in:\n%s", r.json_text);
    ampc_result_free(&r);
    free(a); free(ra); free(b); free(rb);
}
END_TEST

/* nodes/karplus.amp: the string sounds at the note within 1 cent (its
 * loop filter's one-sample delay counted in the line's length), and its
 * fundamental falls at 60 dB per `decay` plus what the loop filter and the
 * line's interpolation take at that frequency. */
START_TEST(test_karplus)
{
    char *text = library_text("nodes/karplus.amp");
    static const int keys[] = { 40, 52, 57, 69, 76 };
    const double decay = 3, bright = 0.1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        double f = 440 * pow(2, (keys[i] - 69) / 12.0);
        const long n = (long)(2 * SR);
        Command ev[1] = { host_note_on(0, 0, keys[i], 1.0f) };
        float *y = render_text(text, NULL, ev, 1, n, NULL);
        double amp, a1, a2;
        double got = peak_near(y, (long)(0.1 * SR), (long)SR, f, &amp);
        double cents = 1200 * log2(got / f);
        peak_near(y, (long)(0.2 * SR), (long)(0.5 * SR), f, &a1);
        peak_near(y, (long)(1.2 * SR), (long)(0.5 * SR), f, &a2);
        double rate = 20 * log10(a2 / a1);   /* dB per second */
        double w = 2 * M_PI * f / SR, period = SR / f, frac = (period - 1) - floor(period - 1);
        double filter = 1 - 4 * bright * sin(w / 2) * sin(w / 2);
        double interp = sqrt(1 - 2 * frac * (1 - frac) * (1 - cos(w)));
        double want = -60 / decay + f * 20 * log10(filter * interp);
        printf("karplus key %d: fundamental %.3f Hz (want %.3f, %+.3f cents), decay %.3f dB/s (want %.3f)\n",
               keys[i], got, f, cents, rate, want);
        ck_assert_msg(fabs(cents) < 1, "key %d is %.3f cents off", keys[i], cents);
        ck_assert_msg(fabs(rate - want) < 0.03 * fabs(want), "key %d decays at %.3f dB/s, not %.3f", keys[i], rate,
                      want);
        free(y);
    }
    free(text);
}
END_TEST

/* Mean square of x[from, from + len). */
static double level_db(const float *x, long from, long len)
{
    double s = 0;
    for (long i = from; i < from + len; i++)
        s += (double)x[i] * x[i];
    return 10 * log10(s / (double)len + 1e-30);
}

/* nodes/phaser.amp, used as a node by a probe patch that feeds it a sine:
 * unswept (depth 0) at center 1 kHz without feedback, its six all-passes
 * turn the phase by 180° where tan(pi f / SR) = tan(15°) tan(pi 1000 / SR)
 * (about 268 Hz) and by 540° at 1 kHz: notches there, and the sine passes
 * elsewhere; at center 2 kHz they move to twice the frequency; swept by
 * the LFO, the level at 268 Hz rises and falls as the notch passes. */
static char *phaser_probe(double freq, double center, double depth)
{
    char *lib = library_text("nodes/phaser.amp");
    char *text = malloc(strlen(lib) + 512);
    sprintf(text, "%s\npatch probe { o = sine(freq: %.9g hz);\n"
                  "  p = phaser(depth: %.9g, center: %.9g hz, feedback: 0, rate: 1 hz, left: o.y, right: o.y);\n"
                  "  p.left -> out; }\n", lib, freq, depth, center);
    free(lib);
    return text;
}

START_TEST(test_phaser)
{
    const long n = (long)SR, tail = (long)(0.5 * SR);
    for (int c = 1; c <= 2; c++) {
        double center = 1000 * c;
        double notch1 = SR / M_PI * atan(tan(M_PI / 12) * tan(M_PI * center / SR));
        double probes[][2] = { { notch1, 1 }, { center, 1 }, { 0.5 * notch1, 0 }, { 1.6 * notch1, 0 },
                               { 0.55 * center, 0 } };
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
            char *text = phaser_probe(probes[i][0], center, 0);
            float *y = render_text(text, "probe", NULL, 0, n, NULL);
            double db = level_db(y, n - tail, tail) - 10 * log10(0.5);   /* re the sine's own level */
            printf("phaser, center %.0f Hz: %.1f Hz at %.1f dB%s\n", center, probes[i][0], db,
                   probes[i][1] ? " (a notch)" : "");
            if (probes[i][1])
                ck_assert_msg(db < -50, "no notch at %.1f Hz: %.1f dB", probes[i][0], db);
            else
                ck_assert_msg(db > -12, "%.1f Hz is cut: %.1f dB", probes[i][0], db);
            free(y);
            free(text);
        }
    }
    /* swept: the level at the unswept notch, in 10 ms blocks over 2 s */
    double notch1 = SR / M_PI * atan(tan(M_PI / 12) * tan(M_PI * 1000 / SR));
    char *text = phaser_probe(notch1, 1000, 1);
    const long m = (long)(2 * SR), block = (long)(0.01 * SR);
    float *y = render_text(text, "probe", NULL, 0, m, NULL);
    double lo = 1e9, hi = -1e9;
    for (long b = block * 10; b + block <= m; b += block) {
        double db = level_db(y, b, block) - 10 * log10(0.5);
        lo = fmin(lo, db);
        hi = fmax(hi, db);
    }
    printf("phaser swept at depth 1, 1 Hz: %.1f Hz between %.1f and %.1f dB\n", notch1, lo, hi);
    ck_assert(hi > -3 && lo < -15);
    free(y);
    free(text);
}
END_TEST

/* A node built from instances and an effect patch of a file imported as
 * `lib` use that file's own node and function by their plain names, not
 * the main file's function of the same name: out = 0.5 + 10 * 0.25. */
START_TEST(test_nested_import_as)
{
    char dir[] = "/tmp/check_lang_nested_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    static const char *const files[][2] = {
        { "lib.amp", "fn half(x) = x * 0.5;\n"
                     "node pass { in x; out y; process { y = x; } }\n"
                     "node halver { in x; out y; a = pass(x: half(x)); a.y -> out.y; }\n"
                     "patch fx { in x; out y; k = halver(x: x); half(k.y) -> out.y; }\n" },
        { "main.amp", "import \"lib.amp\" as lib;\nfn half(x) = x * 3;\n"
                      "patch p { q = lib.halver(x: 1); r = lib.fx(x: 1); q.y + r.y * 10 -> out; }\n" },
    };
    char path[2][128];
    for (int i = 0; i < 2; i++) {
        snprintf(path[i], sizeof path[i], "%s/%s", dir, files[i][0]);
        FILE *f = fopen(path[i], "w");
        ck_assert_ptr_nonnull(f);
        fputs(files[i][1], f);
        fclose(f);
    }
    AmpcOptions opt = { 0 };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_file(path[1], &opt, &d, &r), 0);
    static char err[16384];
    const AmpPatchDesc *desc = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(desc != NULL, "%s", err);
    ampc_result_free(&r);
    HostPatch hp;
    char msg[256];
    ck_assert_msg(host_init(&hp, desc, (float)SR, msg, sizeof msg) == 0, "%s", msg);
    float y[16], yr[16];
    const float *ins[HOST_MAX_CHANNELS] = { 0 };
    float *outs[HOST_MAX_CHANNELS] = { y, yr };
    host_render(&hp, NULL, 0, ins, outs, 16);
    host_free(&hp);
    printf("nested nodes of a file imported as lib: %.6f (want 3)\n", y[15]);
    ck_assert(y[15] == 3.0f);
    for (int i = 0; i < 2; i++)
        unlink(path[i]);
    rmdir(dir);
}
END_TEST

/* `import "x.amp" as lib;`: two files that both define the node smooth1
 * and the function f are used side by side as a.smooth1 and b.smooth1,
 * and each node calls its own file's f (a adds 1, b doubles; a smooths by
 * 0.5 a sample, b by 0.25): out = b.f(a.f(b.smooth1(a.smooth1(1)))) is
 * 3.5 at the first sample and settles at 10 (8 and 4.5 if each node
 * called the other file's f). */
START_TEST(test_import_as)
{
    char dir[] = "/tmp/check_lang_import_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    static const char *const files[][2] = {
        { "a.amp", "fn f(x) = x + 1;\n"
                   "node smooth1 { in x; out y; state z = 0; process { z = z + 0.5 * (x - z); y = f(z); } }\n" },
        { "b.amp", "fn f(x) = x * 2;\n"
                   "node smooth1 { in x; out y; state z = 0; process { z = z + 0.25 * (x - z); y = f(z); } }\n" },
        { "main.amp", "import \"a.amp\" as a;\nimport \"b.amp\" as b;\n"
                      "patch p { in x; out y; s = a.smooth1(x: x); t = b.smooth1(x: s.y); "
                      "b.f(a.f(t.y)) -> out; }\n" },
    };
    char path[3][128];
    for (int i = 0; i < 3; i++) {
        snprintf(path[i], sizeof path[i], "%s/%s", dir, files[i][0]);
        FILE *f = fopen(path[i], "w");
        ck_assert_ptr_nonnull(f);
        fputs(files[i][1], f);
        fclose(f);
    }
    AmpcOptions opt = { 0 };
    Diag d;
    diag_init(&d, stderr);
    AmpcResult r;
    ck_assert_int_eq(ampc_compile_file(path[2], &opt, &d, &r), 0);
    static char err[16384];
    const AmpPatchDesc *desc = build_shared_object(r.c_text, r.c_len, r.symbol, err, sizeof err, NULL);
    ck_assert_msg(desc != NULL, "%s", err);
    ampc_result_free(&r);
    HostPatch hp;
    char msg[256];
    ck_assert_msg(host_init(&hp, desc, (float)SR, msg, sizeof msg) == 0, "%s", msg);
    enum { N = 64 };
    float one[N], y[N];
    for (int i = 0; i < N; i++)
        one[i] = 1;
    const float *ins[HOST_MAX_CHANNELS] = { one };
    float *outs[HOST_MAX_CHANNELS] = { y };
    host_render(&hp, NULL, 0, ins, outs, N);
    host_free(&hp);
    printf("import as: a step through a.smooth1 and b.smooth1: %.6f at the first sample, %.6f at the %dth\n",
           y[0], y[N - 1], N);
    ck_assert(fabs(y[0] - 3.5) < 1e-6);
    ck_assert(fabs(y[N - 1] - 10.0) < 1e-5);
    for (int i = 0; i < 3; i++)
        remove(path[i]);
    rmdir(dir);
}
END_TEST

/* ---- suite ------------------------------------------------------------------------ */

static Suite *lang_suite(void)
{
    Suite *s = suite_create("lang");

    TCase *lexer = tcase_create("lexer");
    tcase_add_test(lexer, test_tokens_and_locations);
    tcase_add_test(lexer, test_numbers);
    tcase_add_test(lexer, test_units);
    tcase_add_test(lexer, test_db_sign);
    tcase_add_test(lexer, test_keywords_and_comments);
    suite_add_tcase(s, lexer);

    TCase *parser = tcase_create("parser");
    tcase_add_test(parser, test_precedence);
    tcase_add_test(parser, test_source_order);
    tcase_add_test(parser, test_patch_fields);
    tcase_add_test(parser, test_dump);
    tcase_add_test(parser, test_spec_examples);
    tcase_add_test(parser, test_example_files);
    tcase_add_test(parser, test_empty_input);
    tcase_add_test(parser, test_source_load);
    suite_add_tcase(s, parser);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_error_messages);
    tcase_add_test(errors, test_error_caret);
    tcase_add_test(errors, test_nul_byte);
    suite_add_tcase(s, errors);

    TCase *robust = tcase_create("robustness");
    tcase_set_timeout(robust, 600);
    tcase_add_test(robust, test_deep_nesting);
    tcase_add_test(robust, test_long_chains);
    tcase_add_test(robust, test_many_items);
    tcase_add_test(robust, test_random_bytes);
    tcase_add_test(robust, test_token_soup);
    tcase_add_test(robust, test_spec_mutations);
    suite_add_tcase(s, robust);

    TCase *language = tcase_create("language");
    tcase_set_timeout(language, 600);
    tcase_add_test(language, test_function_inlined);
    tcase_add_test(language, test_long_sum_linear);
    tcase_add_test(language, test_supersaw);
    tcase_add_test(language, test_import_as);
    tcase_add_test(language, test_nested_inlined);
    tcase_add_test(language, test_nested_import_as);
    tcase_add_test(language, test_karplus);
    tcase_add_test(language, test_phaser);
    suite_add_tcase(s, language);

    TCase *golden = tcase_create("golden");
    tcase_add_test(golden, test_golden_syntax);
    suite_add_tcase(s, golden);
    return s;
}

int main(void)
{
    /* Builds are cached in $AMP_CACHE; without it, in a temporary folder
     * removed at the end. */
    static char tmp_cache[64];
    int own_cache = getenv("AMP_CACHE") == NULL;
    if (own_cache) {
        snprintf(tmp_cache, sizeof tmp_cache, "/tmp/check_lang_cache_XXXXXX");
        if (!mkdtemp(tmp_cache)) {
            perror("mkdtemp");
            return EXIT_FAILURE;
        }
        setenv("AMP_CACHE", tmp_cache, 1);
    }
    int rc = testutil_run(lang_suite());
    if (own_cache)
        testutil_remove_tree(tmp_cache);
    return rc;
}
