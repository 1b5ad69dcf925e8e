/* lex.re — the lexer: bytes of an .amp file in, lemon's TK_ tokens out.
 *
 * re2c turns this file into build/gen/lex.c. The token codes come from the
 * grammar (parse.y, through lemon's parse.h), so the two cannot drift apart.
 * The input is the SourceFile's text with its NUL terminator as re2c's
 * sentinel; every block checks YYLIMIT when it reads the sentinel (re2c:eof),
 * so a NUL byte inside the text is an ordinary unexpected character.
 *
 * A number may carry a unit (`1 khz`, `10ms`), which the lexer converts to
 * the base unit (Hz, s, linear amplitude); the value as written stays in
 * Token.raw for the grammar's `-6 db` rule.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"
#include "parse.h"

/*!re2c
    re2c:define:YYCTYPE  = "unsigned char";
    re2c:define:YYCURSOR = "lx->cur";
    re2c:define:YYMARKER = "lx->mar";
    re2c:define:YYLIMIT  = "lx->lim";
    re2c:yyfill:enable   = 0;
    re2c:eof             = 0;

    ident  = [A-Za-z_][A-Za-z0-9_]*;
    digits = [0-9]+;
    number = (digits ("." digits)? | "." digits) ([eE] [+-]? digits)?;
    blank  = [ \t\r\v\f];
*/

void lex_init(Lexer *lx, Arena *a, Diag *d, const SourceFile *f)
{
    memset(lx, 0, sizeof *lx);
    lx->file = f;
    lx->arena = a;
    lx->diag = d;
    lx->start = (const unsigned char *)f->text;
    lx->cur = lx->start;
    lx->lim = lx->start + f->len;
    lx->line_start = lx->start;
    lx->line = 1;
}

static Loc loc_at(const Lexer *lx, const unsigned char *p)
{
    Loc loc = { lx->file, lx->line, (int)(p - lx->line_start) + 1, (size_t)(p - lx->start) };
    return loc;
}

static void newline(Lexer *lx, const unsigned char *after)
{
    lx->line++;
    lx->line_start = after;
}

static int bad_char(Lexer *lx, const unsigned char *p)
{
    if (*p >= 0x20 && *p < 0x7f)
        diag_error(lx->diag, loc_at(lx, p), "unexpected character '%c'", *p);
    else
        diag_error(lx->diag, loc_at(lx, p), "unexpected character '\\x%02X'", *p);
    return -1;
}

/* block comment -> '/' '*' { any } '*' '/' ; lx->cur is past the opening. */
static int skip_comment(Lexer *lx)
{
    const unsigned char *open = lx->tok;
    Loc open_loc = loc_at(lx, open);
    for (;;) {
        lx->tok = lx->cur;
        /*!re2c
            "*" "/"  { return 0; }
            "\n"     { newline(lx, lx->cur); continue; }
            *        { continue; }
            $        {
                lx->tok = open;
                diag_error(lx->diag, open_loc, "unterminated comment");
                return -1;
            }
        */
    }
}

/* unit -> [blanks] ( hz | khz | s | ms | db ), not followed by a name
 * character: a longer word is a name of its own, and lx->cur goes back to
 * the end of the number. */
static Unit scan_unit(Lexer *lx)
{
    const unsigned char *number_end = lx->cur;
    /*!re2c
        [ \t]* "hz"   { return UNIT_HZ; }
        [ \t]* "khz"  { return UNIT_KHZ; }
        [ \t]* "s"    { return UNIT_S; }
        [ \t]* "ms"   { return UNIT_MS; }
        [ \t]* "db"   { return UNIT_DB; }
        [ \t]* ident  { lx->cur = number_end; return UNIT_NONE; }
        *             { lx->cur = number_end; return UNIT_NONE; }
        $             { lx->cur = number_end; return UNIT_NONE; }
    */
}

/* The value of the number at lx->tok, its unit applied; -1 if out of range. */
static int number_token(Lexer *lx, Token *t)
{
    const unsigned char *number_end = lx->cur;
    t->unit = scan_unit(lx);
    char small[64];
    size_t n = (size_t)(number_end - lx->tok);
    char *copy = n < sizeof small ? small : arena_alloc(lx->arena, n + 1);
    memcpy(copy, lx->tok, n);
    copy[n] = 0;
    t->raw = strtod(copy, NULL);
    switch (t->unit) {
    case UNIT_KHZ: t->num = t->raw * 1000.0; break;
    case UNIT_MS:  t->num = t->raw * 0.001; break;
    case UNIT_DB:  t->num = pow(10.0, t->raw / 20.0); break;
    default:       t->num = t->raw; break;
    }
    if (isinf(t->raw) || isinf(t->num)) {
        diag_error(lx->diag, t->loc, "number out of range");
        return -1;
    }
    return TK_NUMBER;
}

/* string -> '"' { any byte but '"', newline, NUL } '"' */
static int string_token(Lexer *lx, Token *t, int closed)
{
    if (!closed) {
        if (lx->cur < lx->lim && *lx->cur == 0)
            return bad_char(lx, lx->cur);
        diag_error(lx->diag, t->loc, "unterminated string");
        return -1;
    }
    t->str = arena_strndup(lx->arena, (const char *)lx->tok + 1, (size_t)(lx->cur - lx->tok) - 2);
    return TK_STRING;
}

static int scan(Lexer *lx, Token *t)
{
    for (;;) {
        lx->tok = lx->cur;
        t->loc = loc_at(lx, lx->tok);
        /*!re2c
            $            { return 0; }
            *            { return bad_char(lx, lx->tok); }
            blank+       { continue; }
            "\n"         { newline(lx, lx->cur); continue; }
            "//" [^\n]*  { continue; }
            "/" "*"      { if (skip_comment(lx) < 0) return -1; continue; }

            "import"     { return TK_IMPORT; }
            "faust"      { return TK_FAUST; }
            "as"         { return TK_AS; }
            "fn"         { return TK_FN; }
            "for"        { return TK_FOR; }
            "oversample" { return TK_OVERSAMPLE; }
            "node"       { return TK_NODE; }
            "patch"      { return TK_PATCH; }
            "in"         { return TK_IN; }
            "out"        { return TK_OUT; }
            "param"      { return TK_PARAM; }
            "state"      { return TK_STATE; }
            "delay"      { return TK_DELAY; }
            "table"      { return TK_TABLE; }
            "sample"     { return TK_SAMPLE; }
            "let"        { return TK_LET; }
            "process"    { return TK_PROCESS; }
            "voices"     { return TK_VOICES; }
            "voice"      { return TK_VOICE; }
            "steal"      { return TK_STEAL; }
            "smooth"     { return TK_SMOOTH; }
            "step"       { return TK_STEP; }

            ident        {
                t->str = arena_strndup(lx->arena, (const char *)lx->tok,
                                       (size_t)(lx->cur - lx->tok));
                return TK_IDENT;
            }
            number       { return number_token(lx, t); }
            ["] [^"\n\x00]* ["]  { return string_token(lx, t, 1); }
            ["] [^"\n\x00]*      { return string_token(lx, t, 0); }

            "{"  { return TK_LBRACE; }
            "}"  { return TK_RBRACE; }
            "("  { return TK_LPAREN; }
            ")"  { return TK_RPAREN; }
            "["  { return TK_LBRACKET; }
            "]"  { return TK_RBRACKET; }
            ";"  { return TK_SEMI; }
            ","  { return TK_COMMA; }
            "."  { return TK_DOT; }
            ".." { return TK_DOTDOT; }
            ":"  { return TK_COLON; }
            "?"  { return TK_QUESTION; }
            "->" { return TK_ARROW; }
            "="  { return TK_ASSIGN; }
            "||" { return TK_OROR; }
            "&&" { return TK_ANDAND; }
            "==" { return TK_EQ; }
            "!=" { return TK_NE; }
            "<"  { return TK_LT; }
            "<=" { return TK_LE; }
            ">"  { return TK_GT; }
            ">=" { return TK_GE; }
            "+"  { return TK_PLUS; }
            "-"  { return TK_MINUS; }
            "*"  { return TK_STAR; }
            "/"  { return TK_SLASH; }
            "%"  { return TK_PERCENT; }
            "!"  { return TK_NOT; }
        */
    }
}

int lex_next(Lexer *lx, Token *t)
{
    memset(t, 0, sizeof *t);
    int code = scan(lx, t);
    t->text = (const char *)lx->tok;
    t->len = code > 0 ? (size_t)(lx->cur - lx->tok) : 0;
    return code;
}
