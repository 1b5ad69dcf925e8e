/* json_write.h — a small JSON text writer: objects, arrays, strings,
 * integers and reals into a growable buffer, laid out as the caller says.
 * midi_import.c writes its project documents with it, natively and in
 * engine.wasm (where there is no jansson and no open_memstream).
 *
 * It prints what jansson prints (json_dumps without JSON_COMPACT, keys in
 * the order given), so documents written before it are the same bytes:
 *   - integers as "%lld";
 *   - reals as "%.17g" (exact: the double reads back bit for bit), with
 *     ".0" added when that has neither '.' nor 'e', and the exponent
 *     without '+' or leading zeros ("1e20", "3.05e-5");
 *   - strings with '"', '\\' and control characters escaped (\b \f \n
 *     \r \t, else \u00XX in upper-case hex), everything else as is (the
 *     text must be UTF-8: json_write_utf8_valid is jansson's check);
 *   - ", " between items and ": " after a key.
 * Layout: a JSON_WRITE_INLINE container is one line (`{"key": 60, "velocity":
 * 1.0}`); a JSON_WRITE_BLOCK one puts each item on a line of its own, indented
 * two spaces a level, and its closing bracket on a line below; an empty
 * one of either kind is "[]" or "{}".
 *
 * Errors: running out of memory, a non-finite real or nesting deeper than
 * JSON_WRITE_MAX_DEPTH marks the writer failed; later calls do nothing and
 * json_write_finish returns NULL. Not for the audio thread (allocates).
 */
#ifndef AMP_JSON_WRITE_H
#define AMP_JSON_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_WRITE_MAX_DEPTH 32

typedef enum { JSON_WRITE_INLINE, JSON_WRITE_BLOCK } JsonLayout;

typedef struct JsonWriter {
    char *text;                          /* malloc'd, NUL-terminated while not failed */
    size_t len, cap;
    bool failed;
    int depth;                           /* open containers */
    struct {
        unsigned char block;             /* JsonLayout of the container */
        unsigned char close;             /* '}' or ']' */
        size_t items;                    /* written so far */
    } open[JSON_WRITE_MAX_DEPTH];
} JsonWriter;

void json_write_init(JsonWriter *w);

/* Each value takes `key` inside an object, NULL inside an array or at
 * the top. Containers end with json_write_end. */
void json_write_object(JsonWriter *w, const char *key, JsonLayout layout);
void json_write_array(JsonWriter *w, const char *key, JsonLayout layout);
void json_write_end(JsonWriter *w);
void json_write_string(JsonWriter *w, const char *key, const char *s);
void json_write_integer(JsonWriter *w, const char *key, long long v);
void json_write_real(JsonWriter *w, const char *key, double v);
/* A real with `digits` significant digits (1..17) instead of 17, as
 * jansson's JSON_REAL_PRECISION(digits) prints it. */
void json_write_real_digits(JsonWriter *w, const char *key, double v, int digits);
/* JSON null (for a value that has none, e.g. an unbounded range). */
void json_write_null(JsonWriter *w, const char *key);
/* Raw text after everything (e.g. the final "\n"). */
void json_write_raw(JsonWriter *w, const char *s);

/* The text (malloc'd, NUL-terminated; free() it) and its length, or NULL
 * when the writer failed or a container is still open. Either way the
 * writer is released. */
char *json_write_finish(JsonWriter *w, size_t *len);
void json_write_free(JsonWriter *w);

/* Whether s[0..n) is UTF-8 as jansson takes it: no overlong forms, no
 * surrogates, nothing past U+10FFFF (and, for C strings, no NUL). */
bool json_write_utf8_valid(const char *s, size_t n);

#endif
