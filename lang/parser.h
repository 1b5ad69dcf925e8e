/* parser.h — the front end: source files in, a Module (ast.h) out.
 *
 * The public part is the three calls below. The rest of this header is
 * shared by the three files of the front end only: the lexer (lex.re, built
 * into build/gen/lex.c), the grammar (parse.y, built by lemon into
 * build/gen/parse.c) and the driver (parser.c) that feeds the lexer's tokens
 * to the grammar and holds the builders its actions call.
 */
#ifndef AMP_PARSER_H
#define AMP_PARSER_H

#include <stddef.h>
#include "arena.h"
#include "ast.h"
#include "diag.h"

/* Read a file into a SourceFile (text NUL-terminated); NULL and
 * `cannot read 'x': reason` through diag_plain on failure. */
SourceFile *source_load(Arena *a, Diag *d, const char *path);
/* Wrap in-memory text, which may contain NUL bytes (len counts, not strlen). */
SourceFile *source_from_text(Arena *a, const char *path, const char *text, size_t len);
/* Parse one file. Returns the Module, or NULL after reporting the first
 * syntax error (the parse stops there). Any input bytes are safe. */
Module *parse_source(Arena *a, Diag *d, SourceFile *f);

/* ---- internal to the front end ---------------------------------------- */

/* A token: its code is lemon's TK_ value, returned beside it by lex_next. */
typedef struct Token {
    Loc loc;               /* first character */
    const char *text;      /* as written, in the source (not NUL-terminated) */
    size_t len;            /* bytes of text, a number's unit included */
    const char *str;       /* IDENT: the name; STRING: the contents (arena copies) */
    double num;            /* NUMBER: value in base units */
    double raw;            /* NUMBER: value as written, before the unit */
    Unit unit;             /* NUMBER: unit as written */
} Token;

typedef struct Lexer {
    const SourceFile *file;
    Arena *arena;
    Diag *diag;
    const unsigned char *start;  /* text of the file */
    const unsigned char *cur;    /* next byte to read */
    const unsigned char *lim;    /* end of text: the NUL sentinel sits here */
    const unsigned char *mar;    /* re2c's backtracking marker */
    const unsigned char *tok;    /* start of the token being scanned */
    const unsigned char *line_start;
    int line;
} Lexer;

void lex_init(Lexer *lx, Arena *a, Diag *d, const SourceFile *f);
/* The next token's TK_ code, 0 at end of input (t->loc is then the end),
 * or -1 after reporting a lexical error. */
int lex_next(Lexer *lx, Token *t);

/* Lists under construction: first and last element, appended in source order. */
typedef struct IdentList { Ident *head, *last; } IdentList;
typedef struct ArgList { Arg *head, *last; } ArgList;
typedef struct DeclList { Decl *head, *last; } DeclList;
typedef struct StmtList { Stmt *head, *last; } StmtList;
typedef struct TargetList { Target *head, *last; } TargetList;
typedef struct GraphList { GraphItem *head, *last; } GraphList;
typedef struct Range { Expr *lo, *hi; } Range;

IdentList ident_list_add(IdentList l, Ident *x);
ArgList arg_list_add(ArgList l, Arg *x);
DeclList decl_list_add(DeclList l, Decl *x);
StmtList stmt_list_add(StmtList l, Stmt *x);
TargetList target_list_add(TargetList l, Target *x);
GraphList graph_list_add(GraphList l, GraphItem *x);

/* What the grammar's actions share (lemon's %extra_context). */
typedef struct ParseState {
    Arena *arena;
    Diag *diag;
    Module *module;
    int failed;            /* an error was reported: no more tokens are fed */
    Token tok;             /* the token being fed, for the nesting error */
    Loc prev_end;          /* just past the previous token: "expected ';' after" */
    Node *node;            /* the node being parsed, or NULL */
    Patch *patch;          /* the patch being parsed, or NULL */
    IdentList ins, outs;   /* ... of the node or patch being parsed */
    Param *params_last;
    DeclList decls;
    GraphList graph;
    Import *imports_last;
    FnDef *funcs_last;
    Node *nodes_last;
    Patch *patches_last;
} ParseState;

/* Report an error unless one was already reported; stops the parse. */
void parse_fail(ParseState *P, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Expression builders' results pass through here: too deep is an error. */
Expr *parse_bounded(ParseState *P, Expr *e);
Expr *parse_chain(ParseState *P, Loc loc, Op op, Expr *x, Expr *y);
Expr *parse_number(ParseState *P, const Token *t);
Expr *parse_negate(ParseState *P, Loc minus, Expr *x);
Arg *parse_arg(ParseState *P, const Token *name, Expr *value);

void parse_add_import(ParseState *P, const Token *path, const Token *faust_as);
void parse_add_func(ParseState *P, const Token *name, IdentList params, Expr *body);
void parse_add_import_as(ParseState *P, const Token *path, const Token *as);
GraphItem *parse_qualified_instance(ParseState *P, const Token *name, Expr *index, const Token *lib,
                                    const Token *node, ArgList args);
Decl *parse_array_decl(ParseState *P, const Token *name, ArgList elems);
Decl *parse_file_decl(ParseState *P, const Token *name, const Token *fn, const Token *path, Expr *channel);
GraphItem *parse_indexed_instance(ParseState *P, const Token *name, Expr *index, const Token *node, ArgList args);
Target *parse_indexed_target(ParseState *P, const Token *name, Expr *index, const char *port);
void parse_begin_node(ParseState *P, const Token *keyword, const Token *name);
void parse_end_node(ParseState *P);
void parse_begin_patch(ParseState *P, const Token *keyword, const Token *name);
void parse_end_patch(ParseState *P);
void parse_add_ins(ParseState *P, IdentList l);
void parse_add_outs(ParseState *P, IdentList l);
void parse_add_param(ParseState *P, const Token *name, Expr *def, Range range, Expr *step,
                     Expr *smooth);
void parse_add_decls(ParseState *P, DeclList l);
void parse_add_decl(ParseState *P, Decl *d);
void parse_begin_process(ParseState *P, const Token *keyword);
void parse_set_process(ParseState *P, StmtList l);
Stmt *parse_write(ParseState *P, const Token *object, const Token *method, ArgList args);
void parse_set_voices(ParseState *P, const Token *keyword, Expr *count, const Token *steal);
void parse_begin_voice(ParseState *P, const Token *keyword);
void parse_set_voice(ParseState *P, GraphList l);
void parse_add_graph(ParseState *P, GraphItem *g);

/* lemon's parser (build/gen/parse.c, %name AmpParse). */
void *AmpParseAlloc(void *(*alloc)(size_t), ParseState *P);
void AmpParse(void *parser, int code, Token token);
void AmpParseFree(void *parser, void (*release)(void *));

#endif
