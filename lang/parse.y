/* parse.y — the grammar of the .amp language (lemon, LALR(1)).
 *
 * lemon turns this file into build/gen/parse.c and parse.h; parse.h gives
 * the TK_ token codes the lexer (lex.re) returns. Each action is one call
 * into a builder: ast_* (ast.c) for a piece of tree, parse_* (parser.c) for
 * what needs the parser's state (the node or patch being parsed, the first
 * error). The tree lives in the compilation's arena, so the destructors have
 * nothing to free.
 *
 * The parse stops at the first error. %syntax_error names the token the
 * user wrote and, by running the parser's tables on each possible next token
 * (syntax_error() at the end of this file), what would have been accepted
 * there: `expected ')' before 'b'`, `expected ';' after the connection`.
 * The stack is bounded (%stack_size): nesting deeper than that is the error
 * `expression nested too deeply`, never a crash.
 */

%name AmpParse
%token_prefix TK_
%token_type {Token}
%extra_context {ParseState *P}
%stack_size 1000
%start_symbol file

%include {
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "parser.h"

/* One error stops the parse, so lemon's recovery is never wanted. */
#define YYNOERRORRECOVERY 1

struct yyParser;
static void syntax_error(ParseState *P, const struct yyParser *parser, int code, const Token *tok);

/* lemon defines these without declaring them. */
void AmpParseInit(void *parser, ParseState *P);
void AmpParseFinalize(void *parser);
int AmpParseFallback(int code);
#ifndef NDEBUG
void AmpParseTrace(FILE *out, char *prompt);
#endif
}

%syntax_error { syntax_error(P, yypParser, yymajor, &TOKEN); }
%stack_overflow { parse_fail(P, P->tok.loc, "expression nested too deeply"); }

/* Token codes, in the order the syntax error messages list them. */
%token IMPORT FAUST AS FN NODE PATCH IN OUT PARAM STATE DELAY TABLE LET PROCESS
       VOICE STEAL STEP SMOOTH FOR SAMPLE OVERSAMPLE.
%token IDENT NUMBER STRING.
%token LBRACE RBRACE LPAREN RPAREN LBRACKET RBRACKET SEMI COMMA ARROW ASSIGN DOT DOTDOT.

/* Operators, lowest precedence first. VOICES ranks above the operators so
 * that `voices - x -> out` at the start of a patch item is a connection, not
 * a voices line `voices -x;`. */
%right QUESTION COLON.
%left OROR.
%left ANDAND.
%left EQ NE.
%left LT LE GT GE.
%left PLUS MINUS.
%left STAR SLASH PERCENT.
%right NOT.
%nonassoc VOICES.

%type expr {Expr *}
%type postfix {Expr *}
%type primary {Expr *}
%type step {Expr *}
%type smooth {Expr *}
%type range {Range}
%type args {ArgList}
%type elems {ArgList}
%type args_opt {ArgList}
%type arg {Arg *}
%type idlist {IdentList}
%type fn_params {IdentList}
%type inits {DeclList}
%type init {Decl *}
%type stmts {StmtList}
%type stmt {Stmt *}
%type graph_items {GraphList}
%type graph_item {GraphItem *}
%type wire {GraphItem *}
%type targets {TargetList}
%type target {Target *}
%type steal {Token}

/* Arena memory: popping a value off the stack frees nothing. */
%destructor expr { (void)$$; (void)P; }
%destructor postfix { (void)$$; (void)P; }
%destructor primary { (void)$$; (void)P; }

/* file -> { import | fn | node | patch } */
file ::= items.
items ::= .
items ::= items import.
items ::= items func.
items ::= items node.
items ::= items patch.

/* import -> IMPORT STRING [AS IDENT] ';' | IMPORT FAUST STRING AS IDENT ';' */
import ::= IMPORT STRING(S) SEMI.                     { parse_add_import(P, &S, NULL); }
import ::= IMPORT FAUST STRING(S) AS IDENT(N) SEMI.   { parse_add_import(P, &S, &N); }
import ::= IMPORT STRING(S) AS IDENT(N) SEMI.         { parse_add_import_as(P, &S, &N); }

/* fn -> FN IDENT '(' [idlist] ')' '=' expr ';' */
func ::= FN IDENT(N) LPAREN fn_params(L) RPAREN ASSIGN expr(B) SEMI.  { parse_add_func(P, &N, L, B); }
fn_params(A) ::= .                                    { A = (IdentList){0}; }
fn_params(A) ::= idlist(L).                           { A = L; }

/* node -> NODE IDENT '{' { node_item } '}' */
node ::= node_head LBRACE node_items RBRACE.          { parse_end_node(P); }
node_head ::= NODE(K) IDENT(N).                       { parse_begin_node(P, &K, &N); }
node_items ::= .
node_items ::= node_items node_item.

/* node_item -> ports | param | STATE init {',' init} ';'
 *            | DELAY IDENT '[' expr ']' ';' | TABLE IDENT '[' expr ']' '=' expr ';'
 *            | TABLE IDENT '=' IDENT '(' STRING [',' expr] ')' ';' | SAMPLE IDENT ';'
 *            | LET IDENT '=' expr ';' | PROCESS '{' { stmt } '}'
 *            | wire                        (a node built from instances, §11) */
node_item ::= ports.
node_item ::= wire(G).                                { parse_add_graph(P, G); }
node_item ::= param.
node_item ::= STATE inits(L) SEMI.                    { parse_add_decls(P, L); }
node_item ::= DELAY IDENT(N) LBRACKET expr(S) RBRACKET SEMI.
    { parse_add_decl(P, ast_decl(P->arena, DECL_DELAY, N.loc, N.str, NULL, S)); }
node_item ::= TABLE IDENT(N) LBRACKET expr(S) RBRACKET ASSIGN expr(V) SEMI.
    { parse_add_decl(P, ast_decl(P->arena, DECL_TABLE, N.loc, N.str, V, S)); }
node_item ::= TABLE IDENT(N) ASSIGN LBRACKET elems(L) RBRACKET SEMI.
    { parse_add_decl(P, parse_array_decl(P, &N, L)); }
node_item ::= TABLE IDENT(N) ASSIGN IDENT(F) LPAREN STRING(S) RPAREN SEMI.
    { parse_add_decl(P, parse_file_decl(P, &N, &F, &S, NULL)); }
node_item ::= TABLE IDENT(N) ASSIGN IDENT(F) LPAREN STRING(S) COMMA expr(C) RPAREN SEMI.
    { parse_add_decl(P, parse_file_decl(P, &N, &F, &S, C)); }
node_item ::= SAMPLE IDENT(N) SEMI.
    { parse_add_decl(P, ast_decl(P->arena, DECL_SAMPLE, N.loc, N.str, NULL, NULL)); }
node_item ::= LET IDENT(N) ASSIGN expr(V) SEMI.
    { parse_add_decl(P, ast_decl(P->arena, DECL_LET, N.loc, N.str, V, NULL)); }
node_item ::= process_head LBRACE stmts(L) RBRACE.    { parse_set_process(P, L); }
process_head ::= PROCESS(K).                          { parse_begin_process(P, &K); }

/* init -> IDENT '=' expr */
inits(A) ::= init(X).                                 { A = decl_list_add((DeclList){0}, X); }
inits(A) ::= inits(L) COMMA init(X).                  { A = decl_list_add(L, X); }
init(A) ::= IDENT(N) ASSIGN expr(V).
    { A = ast_decl(P->arena, DECL_STATE, N.loc, N.str, V, NULL); }

/* ports -> IN idlist ';' | OUT idlist ';'   (of the node or patch being parsed)
 * idlist -> IDENT {',' IDENT} */
ports ::= IN idlist(L) SEMI.                          { parse_add_ins(P, L); }
ports ::= OUT idlist(L) SEMI.                         { parse_add_outs(P, L); }
idlist(A) ::= IDENT(N).                 { A = ident_list_add((IdentList){0}, ast_ident(P->arena, N.loc, N.str)); }
idlist(A) ::= idlist(L) COMMA IDENT(N). { A = ident_list_add(L, ast_ident(P->arena, N.loc, N.str)); }

/* param -> PARAM IDENT '=' expr [IN '[' expr ',' expr ']'] [STEP expr] [SMOOTH expr] ';' */
param ::= PARAM IDENT(N) ASSIGN expr(D) range(R) step(S) smooth(M) SEMI.
    { parse_add_param(P, &N, D, R, S, M); }
range(A) ::= .                                        { A = (Range){NULL, NULL}; }
range(A) ::= IN LBRACKET expr(L) COMMA expr(H) RBRACKET.  { A = (Range){L, H}; }
step(A) ::= .                                         { A = NULL; }
step(A) ::= STEP expr(X).                             { A = X; }
smooth(A) ::= .                                       { A = NULL; }
smooth(A) ::= SMOOTH expr(X).                         { A = X; }

/* process body -> { stmt }
 * stmt -> LET IDENT '=' expr ';' | IDENT '=' expr ';' | IDENT '.' IDENT '(' [args] ')' ';' */
stmts(A) ::= .                                        { A = (StmtList){0}; }
stmts(A) ::= stmts(L) stmt(S).                        { A = stmt_list_add(L, S); }
stmt(A) ::= LET(K) IDENT(N) ASSIGN expr(V) SEMI.
    { A = ast_stmt(P->arena, ST_LET, K.loc, N.str, N.loc, V); }
stmt(A) ::= IDENT(N) ASSIGN expr(V) SEMI.
    { A = ast_stmt(P->arena, ST_ASSIGN, N.loc, N.str, N.loc, V); }
stmt(A) ::= IDENT(N) DOT IDENT(M) LPAREN args_opt(X) RPAREN SEMI.
    { A = parse_write(P, &N, &M, X); }

/* patch -> PATCH IDENT '{' { patch_item } '}' */
patch ::= patch_head LBRACE patch_items RBRACE.       { parse_end_patch(P); }
patch_head ::= PATCH(K) IDENT(N).                     { parse_begin_patch(P, &K, &N); }
patch_items ::= .
patch_items ::= patch_items patch_item.

/* patch_item -> ports | param | VOICES expr [STEAL IDENT] ';'
 *             | VOICE '{' { graph_item } '}' | graph_item */
patch_item ::= ports.
patch_item ::= param.
patch_item ::= VOICES(K) expr(N) steal(S) SEMI.       { parse_set_voices(P, &K, N, &S); }
patch_item ::= voice_head LBRACE graph_items(L) RBRACE.  { parse_set_voice(P, L); }
patch_item ::= graph_item(G).                         { parse_add_graph(P, G); }
voice_head ::= VOICE(K).                              { parse_begin_voice(P, &K); }
steal(A) ::= .                                        { memset(&A, 0, sizeof A); }
steal(A) ::= STEAL IDENT(M).                          { A = M; }

graph_items(A) ::= .                                  { A = (GraphList){0}; }
graph_items(A) ::= graph_items(L) graph_item(G).      { A = graph_list_add(L, G); }

/* graph_item -> wire | LET IDENT '=' expr ';' | TABLE IDENT '=' '[' expr {',' expr} ']' ';'
 * wire -> IDENT ['[' expr ']'] '=' [IDENT '.'] IDENT '(' [args] ')' ';'
 *       | expr '->' target {',' target} ';'
 *       | FOR IDENT IN expr '..' expr '{' { graph_item } '}'
 * graph_item also -> OVERSAMPLE expr '{' { graph_item } '}' (§12)
 * (a node's own `let` and `table` items are its declarations) */
graph_item(A) ::= wire(W).                            { A = W; }
wire(A) ::= IDENT(N) ASSIGN IDENT(K) LPAREN args_opt(X) RPAREN SEMI.
    { A = ast_instance(P->arena, N.loc, N.str, K.str, K.loc, X.head); }
wire(A) ::= IDENT(N) ASSIGN IDENT(L) DOT IDENT(K) LPAREN args_opt(X) RPAREN SEMI.
    { A = parse_qualified_instance(P, &N, NULL, &L, &K, X); }
wire(A) ::= IDENT(N) LBRACKET expr(I) RBRACKET ASSIGN IDENT(L) DOT IDENT(K) LPAREN args_opt(X) RPAREN SEMI.
    { A = parse_qualified_instance(P, &N, I, &L, &K, X); }
wire(A) ::= IDENT(N) LBRACKET expr(I) RBRACKET ASSIGN IDENT(K) LPAREN args_opt(X) RPAREN SEMI.
    { A = parse_indexed_instance(P, &N, I, &K, X); }
graph_item(A) ::= TABLE IDENT(N) ASSIGN LBRACKET elems(L) RBRACKET SEMI.
    { A = ast_array(P->arena, N.loc, N.str, L.head); }
wire(A) ::= FOR(K) IDENT(N) IN expr(F) DOTDOT expr(T) LBRACE graph_items(B) RBRACE.
    { A = ast_for(P->arena, K.loc, N.str, N.loc, F, T, B.head); }
graph_item(A) ::= OVERSAMPLE(K) expr(F) LBRACE graph_items(B) RBRACE.
    { A = ast_oversample(P->arena, K.loc, F, B.head); }
graph_item(A) ::= LET(K) IDENT(N) ASSIGN expr(V) SEMI.
    { A = ast_graph_let(P->arena, K.loc, N.str, N.loc, V); }
wire(A) ::= expr(V) ARROW(K) targets(T) SEMI.
    { A = ast_connect(P->arena, K.loc, V, T.head); }

/* target -> OUT | OUT '.' IDENT | IDENT '.' IDENT | IDENT */
targets(A) ::= target(X).                             { A = target_list_add((TargetList){0}, X); }
targets(A) ::= targets(L) COMMA target(X).            { A = target_list_add(L, X); }
target(A) ::= OUT(K).                    { A = ast_target(P->arena, K.loc, "out", NULL); }
target(A) ::= OUT(K) DOT IDENT(F).       { A = ast_target(P->arena, K.loc, "out", F.str); }
target(A) ::= IDENT(N) DOT IDENT(F).     { A = ast_target(P->arena, N.loc, N.str, F.str); }
target(A) ::= IDENT(N).                  { A = ast_target(P->arena, N.loc, N.str, NULL); }
target(A) ::= IDENT(N) LBRACKET expr(I) RBRACKET DOT IDENT(F).
    { A = parse_indexed_target(P, &N, I, F.str); }
target(A) ::= IDENT(N) LBRACKET expr(I) RBRACKET.
    { A = parse_indexed_target(P, &N, I, NULL); }

/* expr -> expr '?' expr ':' expr            (right-associative, lowest)
 *       | expr ('||' | '&&' | '==' | '!=' | '<' | '<=' | '>' | '>='
 *               | '+' | '-' | '*' | '/' | '%') expr   (left-associative)
 *       | ('-' | '!') expr
 *       | postfix */
expr(A) ::= expr(C) QUESTION(K) expr(X) COLON expr(Y).
    { A = parse_bounded(P, ast_cond(P->arena, K.loc, C, X, Y)); }
expr(A) ::= expr(X) OROR(K) expr(Y).    { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_OR, X, Y)); }
expr(A) ::= expr(X) ANDAND(K) expr(Y).  { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_AND, X, Y)); }
expr(A) ::= expr(X) EQ(K) expr(Y).      { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_EQ, X, Y)); }
expr(A) ::= expr(X) NE(K) expr(Y).      { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_NE, X, Y)); }
expr(A) ::= expr(X) LT(K) expr(Y).      { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_LT, X, Y)); }
expr(A) ::= expr(X) LE(K) expr(Y).      { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_LE, X, Y)); }
expr(A) ::= expr(X) GT(K) expr(Y).      { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_GT, X, Y)); }
expr(A) ::= expr(X) GE(K) expr(Y).      { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_GE, X, Y)); }
expr(A) ::= expr(X) PLUS(K) expr(Y).    { A = parse_chain(P, K.loc, OP_ADD, X, Y); }
expr(A) ::= expr(X) MINUS(K) expr(Y).   { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_SUB, X, Y)); }
expr(A) ::= expr(X) STAR(K) expr(Y).    { A = parse_chain(P, K.loc, OP_MUL, X, Y); }
expr(A) ::= expr(X) SLASH(K) expr(Y).   { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_DIV, X, Y)); }
expr(A) ::= expr(X) PERCENT(K) expr(Y). { A = parse_bounded(P, ast_binary(P->arena, K.loc, OP_MOD, X, Y)); }
expr(A) ::= MINUS(K) expr(X). [NOT]     { A = parse_negate(P, K.loc, X); }
expr(A) ::= NOT(K) expr(X).             { A = parse_bounded(P, ast_unary(P->arena, K.loc, OP_NOT, X)); }
expr(A) ::= postfix(X).                 { A = X; }

/* postfix -> primary | postfix '.' IDENT | postfix '.' IDENT '(' [args] ')'
 *          | IDENT '(' [args] ')' */
postfix(A) ::= primary(X).              { A = X; }
postfix(A) ::= postfix(X) DOT IDENT(F).
    { A = parse_bounded(P, ast_field(P->arena, F.loc, X, F.str)); }
postfix(A) ::= postfix(X) DOT IDENT(F) LPAREN args_opt(L) RPAREN.
    { A = parse_bounded(P, ast_method(P->arena, F.loc, X, F.str, L.head)); }
postfix(A) ::= IDENT(F) LPAREN args_opt(L) RPAREN.
    { A = parse_bounded(P, ast_call(P->arena, F.loc, F.str, L.head)); }
postfix(A) ::= IDENT(N) LBRACKET expr(I) RBRACKET.
    { A = parse_bounded(P, ast_index(P->arena, N.loc, N.str, I)); }

/* primary -> NUMBER | IDENT | VOICES | '(' expr ')' */
primary(A) ::= NUMBER(N).               { A = parse_number(P, &N); }
primary(A) ::= IDENT(N).                { A = ast_name(P->arena, N.loc, N.str); }
primary(A) ::= VOICES(K).               { A = ast_name(P->arena, K.loc, "voices"); }
primary(A) ::= LPAREN expr(X) RPAREN.   { A = ast_paren(X); }

/* args -> arg {',' arg}   arg -> expr | IDENT ':' expr */
args_opt(A) ::= .                       { A = (ArgList){0}; }
args_opt(A) ::= args(L).                { A = L; }
args(A) ::= arg(X).                     { A = arg_list_add((ArgList){0}, X); }
args(A) ::= args(L) COMMA arg(X).       { A = arg_list_add(L, X); }
arg(A) ::= expr(X).                     { A = parse_arg(P, NULL, X); }
elems(A) ::= expr(X).                   { A = arg_list_add((ArgList){0}, parse_arg(P, NULL, X)); }
elems(A) ::= elems(L) COMMA expr(X).    { A = arg_list_add(L, parse_arg(P, NULL, X)); }
arg(A) ::= IDENT(N) COLON expr(X).      { A = parse_arg(P, &N, X); }

%code {
/* ---- syntax error messages -------------------------------------------- */

/* Would the parser, in its present state, accept `code` as the next token?
 * Runs the reductions `code` triggers on a copy of the state stack until the
 * token is shifted (yes) or hits an error action (no). */
static int accepts(const yyParser *p, int code)
{
    YYACTIONTYPE states[YYSTACKDEPTH + 2];
    int top = (int)(p->yytos - p->yystack);
    for (int i = 0; i <= top; i++)
        states[i] = p->yystack[i].stateno;
    for (int steps = 0; steps < 4 * YYSTACKDEPTH; steps++) {
        YYACTIONTYPE act = yy_find_shift_action((YYCODETYPE)code, states[top]);
        if (act < YY_MIN_REDUCE)
            return act <= YY_MAX_SHIFTREDUCE || act == YY_ACCEPT_ACTION;
        unsigned rule = act - YY_MIN_REDUCE;
        top += yyRuleInfoNRhs[rule];
        if (top < 0 || top + 1 >= YYSTACKDEPTH + 2)
            return 0;
        act = yy_find_reduce_action(states[top], yyRuleInfoLhs[rule]);
        states[++top] = act;
    }
    return 0;
}

/* How a message names an expected token. */
static const char *const expected_name[YYNTOKEN] = {
    [0] = "end of file",
    [TK_IMPORT] = "'import'", [TK_FAUST] = "'faust'", [TK_AS] = "'as'", [TK_FN] = "'fn'",
    [TK_NODE] = "'node'", [TK_PATCH] = "'patch'", [TK_IN] = "'in'", [TK_OUT] = "'out'",
    [TK_PARAM] = "'param'", [TK_STATE] = "'state'", [TK_DELAY] = "'delay'",
    [TK_TABLE] = "'table'", [TK_LET] = "'let'", [TK_PROCESS] = "'process'",
    [TK_VOICES] = "'voices'", [TK_VOICE] = "'voice'", [TK_STEAL] = "'steal'",
    [TK_STEP] = "'step'", [TK_SMOOTH] = "'smooth'", [TK_FOR] = "'for'", [TK_SAMPLE] = "'sample'",
    [TK_OVERSAMPLE] = "'oversample'", [TK_DOTDOT] = "'..'",
    [TK_IDENT] = "a name", [TK_NUMBER] = "a number", [TK_STRING] = "a string",
    [TK_LBRACE] = "'{'", [TK_RBRACE] = "'}'", [TK_LPAREN] = "'('", [TK_RPAREN] = "')'",
    [TK_LBRACKET] = "'['", [TK_RBRACKET] = "']'", [TK_SEMI] = "';'", [TK_COMMA] = "','",
    [TK_ARROW] = "'->'", [TK_ASSIGN] = "'='", [TK_DOT] = "'.'", [TK_QUESTION] = "'?'",
    [TK_COLON] = "':'", [TK_OROR] = "'||'", [TK_ANDAND] = "'&&'", [TK_EQ] = "'=='",
    [TK_NE] = "'!='", [TK_LT] = "'<'", [TK_LE] = "'<='", [TK_GT] = "'>'", [TK_GE] = "'>='",
    [TK_PLUS] = "'+'", [TK_MINUS] = "'-'", [TK_STAR] = "'*'", [TK_SLASH] = "'/'",
    [TK_PERCENT] = "'%'", [TK_NOT] = "'!'",
};

/* Tokens that only continue an expression already complete: when anything
 * else is possible, they are left out of "expected ...". */
static int continues_expression(int code)
{
    switch (code) {
    case TK_QUESTION: case TK_OROR: case TK_ANDAND: case TK_EQ: case TK_NE:
    case TK_LT: case TK_LE: case TK_GT: case TK_GE: case TK_PLUS: case TK_MINUS:
    case TK_STAR: case TK_SLASH: case TK_PERCENT: case TK_DOT:
        return 1;
    }
    return 0;
}

static int starts_expression(int code)
{
    return code == TK_IDENT || code == TK_NUMBER || code == TK_LPAREN || code == TK_MINUS ||
           code == TK_NOT || code == TK_VOICES;
}

/* The token as the user wrote it: `'foo'`, `number`, `end of file`. */
static void describe(char *buf, size_t size, int code, const Token *tok)
{
    if (code == 0)
        snprintf(buf, size, "end of file");
    else if (code == TK_NUMBER)
        snprintf(buf, size, "number");
    else if (code == TK_STRING)
        snprintf(buf, size, "string");
    else if (tok->len > 40)
        snprintf(buf, size, "'%.40s...'", tok->text);
    else
        snprintf(buf, size, "'%.*s'", (int)tok->len, tok->text);
}

/* What the item holding the missing ';' is, from the symbols on the stack
 * since the innermost '{' (or the start of the file). NULL if unknown. */
static const char *item_name(const ParseState *P, const yyParser *p)
{
    const yyStackEntry *e = p->yytos, *first = NULL;
    for (; e > p->yystack && e->major != TK_LBRACE; e--) {
        if (e->major == TK_ARROW)
            return "the connection";
        if (e->major < YYNTOKEN)
            first = e;
    }
    if (!first)
        return NULL;
    switch (first->major) {
    case TK_IMPORT: return "the import";
    case TK_FN: return "the function";
    case TK_IN: return "the input list";
    case TK_OUT: return "the output list";
    case TK_PARAM: return "the param";
    case TK_STATE: return "the state declaration";
    case TK_DELAY: return "the delay declaration";
    case TK_TABLE: return "the table declaration";
    case TK_SAMPLE: return "the sample declaration";
    case TK_LET: return "the let definition";
    case TK_VOICES: return "the voices line";
    case TK_IDENT:
        if (!P->node)
            return "the instance";
        return first + 1 <= p->yytos && first[1].major == TK_DOT ? "the write" : "the assignment";
    }
    return NULL;
}

static void syntax_error(ParseState *P, const yyParser *p, int code, const Token *tok)
{
    if (P->failed)
        return;
    char what[64];
    describe(what, sizeof what, code, tok);

    unsigned char ok[YYNTOKEN];
    for (int c = 0; c < YYNTOKEN; c++)
        ok[c] = (unsigned char)accepts(p, c);

    /* `y = 1;` in a node, outside its process block: only an instance
     * (`f = lowpass(...);`, §11) is assigned there. */
    if (P->node && code != TK_IDENT && p->yytos > p->yystack + 1 && p->yytos->major == TK_ASSIGN &&
        p->yytos[-1].major == TK_IDENT && !accepts(p, TK_NUMBER)) {
        parse_fail(P, p->yytos[-1].minor.yy0.loc, "'%s = ...' outside the process block: statements go in "
                   "process { ... }, and only an instance is assigned here (name = node(...);)",
                   p->yytos[-1].minor.yy0.str);
        return;
    }

    /* A ';' would do: everything else possible only extends the item. */
    if (ok[TK_SEMI]) {
        const char *item = item_name(P, p);
        if (item && (code == 0 || tok->loc.line > P->prev_end.line))
            parse_fail(P, P->prev_end, "expected ';' after %s", item);
        else
            parse_fail(P, tok->loc, "expected ';' before %s", what);
        return;
    }

    const char *names[YYNTOKEN];
    int n = 0, others = 0;
    int expression = ok[TK_NUMBER];
    for (int c = 1; c < YYNTOKEN; c++)
        if (ok[c] && !continues_expression(c) && !(expression && starts_expression(c)))
            others++;
    if (expression)
        names[n++] = "an expression";
    int closer = ok[TK_RPAREN] || ok[TK_RBRACKET];
    for (int c = 1; c < YYNTOKEN; c++) {
        if (!ok[c] || (expression && starts_expression(c)))
            continue;
        if ((others || expression) && continues_expression(c))
            continue;
        if (closer && (c == TK_COMMA || c == TK_COLON))
            continue;
        if (expected_name[c])
            names[n++] = expected_name[c];
    }
    if (ok[0] && n == 0)
        names[n++] = expected_name[0];

    if (code == 0 && n > 4 && ok[TK_RBRACE]) {
        parse_fail(P, tok->loc, "expected '}' before end of file");
    } else if (n == 0 || n > 4) {
        parse_fail(P, tok->loc, "unexpected %s", what);
    } else if (n == 1) {
        parse_fail(P, tok->loc, "expected %s before %s", names[0], what);
    } else {
        char list[256] = "";
        for (int i = 0; i < n; i++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s",
                     i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
        }
        parse_fail(P, tok->loc, "expected %s before %s", list, what);
    }
}
}
