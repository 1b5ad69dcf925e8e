/* json.c — the JSON reader of json.h: a lexer that reads the text a byte
 * at a time as jansson's does (so errors land on the same line, column and
 * byte, near the same token text), an iterative parser with an explicit
 * stack of open containers, and one arena per document.
 *
 * While a container is open its children wait on a scratch stack (one
 * growable buffer per parse); when it closes they are copied into the
 * arena as one contiguous block and popped. Duplicate keys are found with a
 * hash table over (object, key), also per parse. The scratch buffers are
 * freed when the parse ends; the arena only when the document is.
 *
 * Tokens and their "saved text" follow jansson's lexer: a token's text is
 * every byte from its first non-blank byte to the read position; a
 * character read to look ahead and not taken is put back. A message gets
 * " near '<token text>'" when that text is 1 to 20 bytes, " near end of
 * file" when it is empty, nothing after invalid UTF-8.
 */
#include "json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the arena ------------------------------------------------------------- */

typedef struct JvChunk {
    struct JvChunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} JvChunk;

struct JvDoc {
    JvChunk *chunks;                    /* newest first */
    size_t next_size;                   /* bytes of the next chunk */
    JvValue root;
};

#define ARENA_FIRST ((size_t)4 << 10)
#define ARENA_MAX_CHUNK ((size_t)16 << 20)

static void *arena_alloc(JvDoc *d, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    JvChunk *c = d->chunks;
    if (!c || c->size - c->used < n) {
        size_t size = d->next_size > n ? d->next_size : n;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = d->chunks;
        d->chunks = c;
        if (d->next_size < ARENA_MAX_CHUNK)
            d->next_size *= 2;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void jv_free(JvDoc *doc)
{
    if (!doc)
        return;
    for (JvChunk *c = doc->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(doc);
}

JvValue *jv_root(const JvDoc *doc)
{
    return doc ? (JvValue *)&doc->root : NULL;
}

char *jv_keep(JvDoc *doc, const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = arena_alloc(doc, n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

JvValue *jv_object_get(const JvValue *obj, const char *key)
{
    if (!jv_is_object(obj) || !key)
        return NULL;
    size_t len = strlen(key);
    for (uint32_t i = 0; i < obj->n; i++) {
        JvMember *m = &obj->u.members[i];
        if (m->key_len == len && !memcmp(m->key, key, len))
            return &m->value;
    }
    return NULL;
}

/* ---- UTF-8 ------------------------------------------------------------------ */

/* Bytes of the valid UTF-8 character at s (n bytes there), or 0. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t count;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        count = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        count = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        count = 4, cp = c & 0x07;
    else
        return 0;
    if (n < count)
        return 0;
    for (size_t i = 1; i < count; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((count == 3 && cp < 0x800) || (count == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return count;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- the parser's state ------------------------------------------------------ */

enum {
    CH_EOF = -1,                        /* get(): the end of the text */
    CH_ERROR = -2                       /* get(): invalid UTF-8 (reported) */
};

typedef enum {
    TK_INVALID, TK_EOF, TK_STRING, TK_INTEGER, TK_REAL, TK_TRUE, TK_FALSE, TK_NULL,
    TK_LBRACE, TK_RBRACE, TK_LBRACKET, TK_RBRACKET, TK_COLON, TK_COMMA
} JvToken;

typedef struct JvFrame {
    uint32_t kind;                      /* JV_ARRAY or JV_OBJECT */
    uint32_t serial;                    /* the object's number, for the duplicate table */
    size_t start;                       /* its first child on the scratch stack */
    const char *key;                    /* an object's member being read: its key */
    uint32_t key_len;
} JvFrame;

typedef struct JvSlot {
    uint32_t serial;                    /* the object's; 0: empty */
    uint32_t index;                     /* the member's place on the scratch stack */
    uint32_t hash;
} JvSlot;

typedef struct JvParser {
    const unsigned char *text;
    size_t len;
    size_t pos;                         /* next byte to read */
    size_t token_start;                 /* the current token's first byte */
    size_t valid_until;                 /* bytes before this are checked UTF-8 */
    int stream_error;                   /* invalid UTF-8 was met */
    int failed;                         /* an error is set (the first one stays) */
    JvError *err;
    JvDoc *doc;
    JvToken token;
    JvValue value;                      /* of a scalar or string token */
    /* scratch, freed at the end of the parse */
    JvMember *stack;                    /* children of the open containers */
    size_t n_stack, cap_stack;
    JvFrame *frames;
    size_t n_frames, cap_frames;
    JvSlot *slots;                      /* duplicate keys: (object serial, key) */
    size_t cap_slots, n_slots;
    uint32_t serials;
    char *number;                       /* a number's text with a NUL, for strtoll / strtod */
    size_t cap_number;
    int max_depth;
} JvParser;

/* Line (1-based) and column (characters) of byte `pos`, counted as jansson
 * counts: '\n' starts a line, every byte that is not a UTF-8 continuation
 * is a character. */
static void locate(const unsigned char *text, size_t pos, int *line, int *column)
{
    int l = 1, c = 0;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            l++;
            c = 0;
        } else if ((text[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *column = c;
}

/* n bytes of s after the text in buf (JV_ERROR_TEXT bytes), cut to fit. */
static void append(char *buf, const char *s, size_t n)
{
    size_t used = strlen(buf);
    if (n > JV_ERROR_TEXT - 1 - used)
        n = JV_ERROR_TEXT - 1 - used;
    memcpy(buf + used, s, n);
    buf[used + n] = '\0';
}

static void error_at(JvParser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error_at(JvParser *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    if (!p->err)
        return;
    JvError *e = p->err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    va_end(ap);
    const char *saved = (const char *)p->text + p->token_start;
    size_t n_saved = p->pos - p->token_start;
    if (n_saved > 0 && saved[0] == '\0') {
        append(e->text, " near a NUL byte", 16);
    } else if (n_saved > 0 && n_saved <= 20) {
        append(e->text, " near '", 7);
        const char *nul = memchr(saved, '\0', n_saved);   /* the text as jansson's %s prints it */
        append(e->text, saved, nul ? (size_t)(nul - saved) : n_saved);
        append(e->text, "'", 1);
    } else if (n_saved == 0 && !p->stream_error) {
        append(e->text, " near end of file", 17);
    }
    e->position = p->pos;
    locate(p->text, p->pos, &e->line, &e->column);
}

static void out_of_memory(JvParser *p)
{
    error_at(p, "out of memory");
}

/* ---- the lexer ------------------------------------------------------------------ */

/* The next byte, or CH_EOF, or CH_ERROR. A byte that starts a character
 * is checked with the whole character first, as jansson's stream does. */
static int get(JvParser *p)
{
    if (p->stream_error)
        return CH_ERROR;
    if (p->pos >= p->len)
        return CH_EOF;
    unsigned char c = p->text[p->pos];
    if (c >= 0x80 && p->pos >= p->valid_until) {
        size_t n = utf8_char(p->text + p->pos, p->len - p->pos);
        if (!n) {
            p->stream_error = 1;
            error_at(p, "unable to decode byte 0x%x", c);
            return CH_ERROR;
        }
        p->valid_until = p->pos + n;
    }
    p->pos++;
    return c;
}

/* Put back what get() returned (nothing for the end or an error). */
static void unget(JvParser *p, int c)
{
    if (c >= 0)
        p->pos--;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_xdigit(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static int hex_value(int c)
{
    return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* The token text [token_start, pos) with a NUL, in p->number. */
static const char *number_text(JvParser *p)
{
    size_t n = p->pos - p->token_start;
    if (n + 1 > p->cap_number) {
        size_t cap = n + 1 > 64 ? n + 1 : 64;
        char *bigger = realloc(p->number, cap);
        if (!bigger)
            return NULL;
        p->number = bigger;
        p->cap_number = cap;
    }
    memcpy(p->number, p->text + p->token_start, n);
    p->number[n] = '\0';
    return p->number;
}

/* number -> '-'? ('0' | [1-9][0-9]*) ('.' [0-9]+)? ([eE] [+-]? [0-9]+)?
 * The first character (c) is read. Leaves TK_INVALID on a malformed one. */
static void lex_number(JvParser *p, int c)
{
    if (c == '-')
        c = get(p);
    if (c == '0') {
        c = get(p);
        if (is_digit(c)) {
            unget(p, c);
            return;
        }
    } else if (is_digit(c)) {
        do
            c = get(p);
        while (is_digit(c));
    } else {
        unget(p, c);
        return;
    }
    if (c != '.' && c != 'e' && c != 'E') {
        unget(p, c);
        const char *s = number_text(p);
        if (!s)
            return out_of_memory(p);
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE) {
            error_at(p, v < 0 ? "too big negative integer" : "too big integer");
            return;
        }
        p->token = TK_INTEGER;
        p->value = (JvValue){ .kind = JV_INTEGER, .u.integer = v };
        return;
    }
    if (c == '.') {
        c = get(p);
        if (!is_digit(c)) {
            unget(p, c);
            return;
        }
        do
            c = get(p);
        while (is_digit(c));
    }
    if (c == 'e' || c == 'E') {
        c = get(p);
        if (c == '+' || c == '-')
            c = get(p);
        if (!is_digit(c)) {
            unget(p, c);
            return;
        }
        do
            c = get(p);
        while (is_digit(c));
    }
    unget(p, c);
    char *s = (char *)number_text(p);
    if (!s)
        return out_of_memory(p);
    /* strtod reads the locale's decimal point, as jansson allows for. */
    char point = localeconv()->decimal_point[0];
    if (point && point != '.') {
        char *dot = strchr(s, '.');
        if (dot)
            *dot = point;
    }
    errno = 0;
    double v = strtod(s, NULL);
    if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE) {
        error_at(p, "real number overflow");
        return;
    }
    p->token = TK_REAL;
    p->value = (JvValue){ .kind = JV_REAL, .u.real = v };
}

/* Four hex digits at s. */
static uint32_t hex4(const unsigned char *s)
{
    return (uint32_t)(hex_value(s[0]) << 12 | hex_value(s[1]) << 8 | hex_value(s[2]) << 4 | hex_value(s[3]));
}

/* The string token [token_start, pos) (quotes included, escapes checked)
 * decoded into the arena. */
static void decode_string(JvParser *p)
{
    const unsigned char *s = p->text + p->token_start + 1;
    const unsigned char *end = p->text + p->pos - 1;   /* the closing quote */
    char *out = arena_alloc(p->doc, (size_t)(end - s) + 1);
    if (!out)
        return out_of_memory(p);
    size_t n = 0;
    while (s < end) {
        if (*s != '\\') {
            out[n++] = (char)*s++;
            continue;
        }
        s++;
        if (*s != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            out[n++] = to[strchr(from, *s) - from];
            s++;
            continue;
        }
        uint32_t cp = hex4(s + 1);
        s += 5;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s + 1 < end && s[0] == '\\' && s[1] == 'u') {
                uint32_t low = hex4(s + 2);
                s += 6;
                if (low < 0xDC00 || low > 0xDFFF) {
                    error_at(p, "invalid Unicode '\\u%04X\\u%04X'", cp, low);
                    return;
                }
                cp = ((cp - 0xD800) << 10) + (low - 0xDC00) + 0x10000;
            } else {
                error_at(p, "invalid Unicode '\\u%04X'", cp);
                return;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            error_at(p, "invalid Unicode '\\u%04X'", cp);
            return;
        }
        n += utf8_encode(cp, out + n);
    }
    out[n] = '\0';
    p->token = TK_STRING;
    p->value = (JvValue){ .kind = JV_STRING, .n = (uint32_t)n, .u.string = out };
}

/* string -> '"' (char | '\' ["\/bfnrt] | '\u' hex hex hex hex)* '"'
 * The opening quote is read. */
static void lex_string(JvParser *p)
{
    int c = get(p);
    while (c != '"') {
        if (c == CH_ERROR)
            return;
        if (c == CH_EOF) {
            error_at(p, "premature end of input");
            return;
        }
        if (c <= 0x1F) {
            unget(p, c);
            if (c == '\n')
                error_at(p, "unexpected newline");
            else
                error_at(p, "control character 0x%x", (unsigned)c);
            return;
        }
        if (c == '\\') {
            c = get(p);
            if (c == 'u') {
                c = get(p);
                for (int i = 0; i < 4; i++) {
                    if (!is_xdigit(c)) {
                        error_at(p, "invalid escape");
                        return;
                    }
                    c = get(p);
                }
            } else if (c >= 0 && c != 0 && strchr("\"\\/bfnrt", c)) {
                c = get(p);
            } else {
                error_at(p, "invalid escape");
                return;
            }
        } else {
            c = get(p);
        }
    }
    decode_string(p);
}

/* The next token into p->token (p->value for scalars). */
static void lex(JvParser *p)
{
    p->token = TK_INVALID;
    int c;
    do {
        p->token_start = p->pos;        /* blanks are no part of a token's text */
        c = get(p);
    } while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    if (c == CH_EOF) {
        p->token = TK_EOF;
        return;
    }
    if (c == CH_ERROR)
        return;
    switch (c) {
    case '{': p->token = TK_LBRACE; return;
    case '}': p->token = TK_RBRACE; return;
    case '[': p->token = TK_LBRACKET; return;
    case ']': p->token = TK_RBRACKET; return;
    case ':': p->token = TK_COLON; return;
    case ',': p->token = TK_COMMA; return;
    case '"': lex_string(p); return;
    default: break;
    }
    if (c == '-' || is_digit(c)) {
        lex_number(p, c);
        return;
    }
    if (is_alpha(c)) {
        do
            c = get(p);
        while (is_alpha(c));
        unget(p, c);
        size_t n = p->pos - p->token_start;
        const char *word = (const char *)p->text + p->token_start;
        if (n == 4 && !memcmp(word, "true", 4))
            p->token = TK_TRUE, p->value = (JvValue){ .kind = JV_TRUE };
        else if (n == 5 && !memcmp(word, "false", 5))
            p->token = TK_FALSE, p->value = (JvValue){ .kind = JV_FALSE };
        else if (n == 4 && !memcmp(word, "null", 4))
            p->token = TK_NULL, p->value = (JvValue){ .kind = JV_NULL };
        return;
    }
    /* Any other character is an invalid token, its whole UTF-8 sequence
     * in the token text. */
    if (p->pos < p->valid_until)
        p->pos = p->valid_until;
}

/* ---- the parser ------------------------------------------------------------------ */

static int push_child(JvParser *p, const char *key, uint32_t key_len, const JvValue *v)
{
    if (p->n_stack == p->cap_stack) {
        size_t cap = p->cap_stack ? 2 * p->cap_stack : 256;
        JvMember *bigger = realloc(p->stack, cap * sizeof *bigger);
        if (!bigger)
            return -1;
        p->stack = bigger;
        p->cap_stack = cap;
    }
    p->stack[p->n_stack++] = (JvMember){ .key = key, .key_len = key_len, .value = *v };
    return 0;
}

static uint32_t hash_key(uint32_t serial, const char *key, size_t n)
{
    uint32_t h = 2166136261u ^ serial;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h ^ (h >> 15);
}

static int grow_slots(JvParser *p)
{
    size_t cap = p->cap_slots ? 2 * p->cap_slots : 256;
    JvSlot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < p->cap_slots; i++) {
        JvSlot s = p->slots[i];
        if (!s.serial)
            continue;
        size_t k = s.hash & (cap - 1);
        while (slots[k].serial)
            k = (k + 1) & (cap - 1);
        slots[k] = s;
    }
    free(p->slots);
    p->slots = slots;
    p->cap_slots = cap;
    return 0;
}

/* Is `key` already a member of the open object `f`? If not, it is noted
 * as the member that will be pushed next (at the top of the scratch
 * stack, once its value is read). -1: out of memory. Entries of closed
 * objects stay in the table; their serials never match again, and only an
 * entry of `f` (all pushed by now) is looked at on the stack. */
static int duplicate_key(JvParser *p, const JvFrame *f, const char *key, uint32_t n)
{
    if (2 * (p->n_slots + 1) > p->cap_slots && grow_slots(p))
        return -1;
    size_t mask = p->cap_slots - 1;
    uint32_t hash = hash_key(f->serial, key, n);
    size_t k = hash & mask;
    for (; p->slots[k].serial; k = (k + 1) & mask) {
        const JvSlot *s = &p->slots[k];
        if (s->serial != f->serial || s->hash != hash)
            continue;
        const JvMember *m = &p->stack[s->index];
        if (m->key_len == n && !memcmp(m->key, key, n))
            return 1;
    }
    p->slots[k] = (JvSlot){ .serial = f->serial, .index = (uint32_t)p->n_stack, .hash = hash };
    p->n_slots++;
    return 0;
}

static int open_frame(JvParser *p, uint32_t kind)
{
    if (p->n_frames == p->cap_frames) {
        size_t cap = p->cap_frames ? 2 * p->cap_frames : 32;
        JvFrame *bigger = realloc(p->frames, cap * sizeof *bigger);
        if (!bigger)
            return -1;
        p->frames = bigger;
        p->cap_frames = cap;
    }
    p->frames[p->n_frames++] = (JvFrame){ .kind = kind, .serial = ++p->serials, .start = p->n_stack };
    return 0;
}

/* Close the innermost container: its children into the arena, as *v. */
static int close_frame(JvParser *p, JvValue *v)
{
    JvFrame *f = &p->frames[--p->n_frames];
    size_t n = p->n_stack - f->start;
    const JvMember *children = p->stack + f->start;
    *v = (JvValue){ .kind = f->kind, .n = (uint32_t)n };
    if (f->kind == JV_OBJECT) {
        JvMember *members = arena_alloc(p->doc, n * sizeof *members + 1);
        if (!members)
            return -1;
        memcpy(members, children, n * sizeof *members);
        v->u.members = members;
    } else {
        JvValue *items = arena_alloc(p->doc, n * sizeof *items + 1);
        if (!items)
            return -1;
        for (size_t i = 0; i < n; i++)
            items[i] = children[i].value;
        v->u.items = items;
    }
    p->n_stack = f->start;
    return 0;
}

/* member -> string ':' value, in the innermost (object) frame: reads up
 * to the value's first token, left in p->token; the key waits in the
 * frame until the value is read. */
static int object_key(JvParser *p)
{
    JvFrame *f = &p->frames[p->n_frames - 1];
    if (p->token != TK_STRING) {
        error_at(p, "string or '}' expected");
        return -1;
    }
    f->key = p->value.u.string;
    f->key_len = p->value.n;
    if (memchr(f->key, '\0', f->key_len)) {
        error_at(p, "\\u0000 is not allowed in an object key");
        return -1;
    }
    int dup = duplicate_key(p, f, f->key, f->key_len);
    if (dup) {
        if (dup < 0)
            out_of_memory(p);
        else
            error_at(p, "duplicate object key");
        return -1;
    }
    lex(p);
    if (p->token != TK_COLON) {
        error_at(p, "':' expected");
        return -1;
    }
    lex(p);
    return 0;
}

/* value -> object | array | string | number | true | false | null
 * object -> '{' (member (',' member)*)? '}'
 * array  -> '[' (value (',' value)*)? ']'
 * Iterative: p->frames holds the open containers, each object with the
 * key of the member being read. */
static int parse(JvParser *p, JvValue *root)
{
    JvValue v;
    for (;;) {
        /* p->token starts a value, at depth n_frames + 1. */
        if ((int)p->n_frames + 1 > p->max_depth) {
            error_at(p, "maximum parsing depth reached");
            return -1;
        }
        switch (p->token) {
        case TK_STRING:
            if (memchr(p->value.u.string, '\0', p->value.n)) {
                error_at(p, "\\u0000 is not allowed in a string");
                return -1;
            }
            v = p->value;
            break;
        case TK_INTEGER: case TK_REAL: case TK_TRUE: case TK_FALSE: case TK_NULL:
            v = p->value;
            break;
        case TK_LBRACE:
            lex(p);
            if (p->token == TK_RBRACE) {
                v = (JvValue){ .kind = JV_OBJECT };
                break;
            }
            if (open_frame(p, JV_OBJECT)) {
                out_of_memory(p);
                return -1;
            }
            if (object_key(p))
                return -1;
            continue;
        case TK_LBRACKET:
            lex(p);
            if (p->token == TK_RBRACKET) {
                v = (JvValue){ .kind = JV_ARRAY };
                break;
            }
            if (p->token == TK_EOF) {
                error_at(p, "']' expected");
                return -1;
            }
            if (open_frame(p, JV_ARRAY)) {
                out_of_memory(p);
                return -1;
            }
            continue;
        case TK_INVALID:
            error_at(p, "invalid token");
            return -1;
        default:
            error_at(p, "unexpected token");
            return -1;
        }
        /* v is complete: add it to its container, and close each container
         * that ends after it, until one goes on with a ','. */
        for (;;) {
            if (p->n_frames == 0) {
                *root = v;
                return 0;
            }
            JvFrame *f = &p->frames[p->n_frames - 1];
            int object = f->kind == JV_OBJECT;
            if (push_child(p, object ? f->key : NULL, object ? f->key_len : 0, &v)) {
                out_of_memory(p);
                return -1;
            }
            lex(p);
            if (p->token == TK_COMMA) {
                lex(p);
                if (object) {
                    if (object_key(p))
                        return -1;
                } else if (p->token == TK_EOF) {
                    error_at(p, "']' expected");
                    return -1;
                }
                break;                  /* the next value */
            }
            if (p->token != (object ? TK_RBRACE : TK_RBRACKET)) {
                error_at(p, object ? "'}' expected" : "']' expected");
                return -1;
            }
            if (close_frame(p, &v)) {
                out_of_memory(p);
                return -1;
            }
        }
    }
}

JvDoc *jv_parse(const char *text, size_t len, const JvLimits *limits, JvError *err)
{
    JvParser p = { .text = (const unsigned char *)text, .len = len, .err = err };
    size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : JV_MAX_BYTES;
    p.max_depth = limits && limits->max_depth > 0 ? limits->max_depth : JV_MAX_DEPTH;
    if (err)
        memset(err, 0, sizeof *err);
    /* Refusals of the whole text: at 1:0, with no token to name. */
    p.stream_error = 1;
    if (!text && len) {
        error_at(&p, "no text");
        return NULL;
    }
    if (len > max_bytes || len >= UINT32_MAX) {
        error_at(&p, "the text is %zu bytes, more than the %zu read", len, max_bytes);
        return NULL;
    }
    p.stream_error = 0;
    p.doc = calloc(1, sizeof *p.doc);
    if (!p.doc) {
        out_of_memory(&p);
        return NULL;
    }
    p.doc->next_size = len / 2 > ARENA_FIRST ? len / 2 : ARENA_FIRST;
    int rc = -1;
    lex(&p);
    if (p.token != TK_LBRACE && p.token != TK_LBRACKET)
        error_at(&p, "'[' or '{' expected");
    else if (parse(&p, &p.doc->root) == 0) {
        lex(&p);
        if (p.token != TK_EOF)
            error_at(&p, "end of file expected");
        else
            rc = p.failed ? -1 : 0;
    }
    free(p.stack);
    free(p.frames);
    free(p.slots);
    free(p.number);
    if (rc) {
        jv_free(p.doc);
        return NULL;
    }
    return p.doc;
}

/* ---- dumping -------------------------------------------------------------------- */

typedef struct JvOut {
    char *buf;
    size_t len, n;                      /* n: bytes of the whole text so far */
} JvOut;

static void put(JvOut *o, const char *s, size_t n)
{
    if (o->n < o->len) {
        size_t room = o->len - 1 - o->n;
        memcpy(o->buf + o->n, s, n < room ? n : room);
    }
    o->n += n;
}

static void put_string(JvOut *o, const char *s, size_t n)
{
    put(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char hex[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(hex, sizeof hex, "\\u%04X", c);
                esc = hex;
            }
        }
        if (!esc)
            continue;
        put(o, s + run, i - run);
        put(o, esc, strlen(esc));
        run = i + 1;
    }
    put(o, s + run, n - run);
    put(o, "\"", 1);
}

/* A real as jansson prints it: %.17g, with ".0" when that looks like an
 * integer, and the exponent without '+' or leading zeros. */
static void put_real(JvOut *o, double x)
{
    char text[40];
    int n = snprintf(text, sizeof text, "%.17g", x);
    if (n < 0)
        return;
    for (char *c = text; *c; c++)
        if (*c == ',')
            *c = '.';                   /* a locale's decimal comma */
    if (!strchr(text, '.') && !strchr(text, 'e') && n + 2 < (int)sizeof text) {
        strcat(text, ".0");
        n += 2;
    }
    char *e = strchr(text, 'e');
    if (e) {
        char *start = e + 1, *digits = e + 1;
        if (*start == '-')
            start++, digits++;
        else if (*start == '+')
            digits++;
        while (*digits == '0' && digits[1])
            digits++;
        memmove(start, digits, strlen(digits) + 1);
        n = (int)strlen(text);
    }
    put(o, text, (size_t)n);
}

static void dump(JvOut *o, const JvValue *v)
{
    char text[32];
    switch (v->kind) {
    case JV_NULL: put(o, "null", 4); return;
    case JV_TRUE: put(o, "true", 4); return;
    case JV_FALSE: put(o, "false", 5); return;
    case JV_INTEGER:
        put(o, text, (size_t)snprintf(text, sizeof text, "%lld", v->u.integer));
        return;
    case JV_REAL: put_real(o, v->u.real); return;
    case JV_STRING: put_string(o, v->u.string, v->n); return;
    case JV_ARRAY:
        put(o, "[", 1);
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                put(o, ",", 1);
            dump(o, &v->u.items[i]);
        }
        put(o, "]", 1);
        return;
    case JV_OBJECT:
        put(o, "{", 1);
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                put(o, ",", 1);
            put_string(o, v->u.members[i].key, v->u.members[i].key_len);
            put(o, ":", 1);
            dump(o, &v->u.members[i].value);
        }
        put(o, "}", 1);
        return;
    default: return;
    }
}

size_t jv_dump(const JvValue *v, char *buf, size_t len)
{
    JvOut o = { buf, len, 0 };
    if (v)
        dump(&o, v);
    if (len)
        buf[o.n < len ? o.n : len - 1] = '\0';
    return o.n;
}
