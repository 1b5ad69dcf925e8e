/* json.h — a small JSON reader: text in memory -> a read-only tree that
 * lives in one arena, freed in one call. It reads the project document
 * (project_read.c) natively and in engine.wasm, where there is no jansson.
 *
 * It reads what jansson (json_loadb with JSON_REJECT_DUPLICATES) reads,
 * with the same values and the same diagnostics, so that a document means
 * the same to `amp render`, to ampd (which parses requests with jansson)
 * and to the browser:
 *   - the top level is an object or an array;
 *   - a number without '.', 'e' or 'E' is an integer (long long; out of
 *     range is an error, as in jansson), any other a real, read by strtod
 *     (so bit for bit jansson's value; overflow is an error, underflow
 *     gives 0 or a subnormal);
 *   - a key given twice in one object is an error ("duplicate object
 *     key"); members keep document order;
 *   - the whole text must be UTF-8 (no overlong forms, surrogates or code
 *     points past U+10FFFF), strings have no raw control characters, and
 *     \u0000 is refused in strings and keys;
 *   - errors carry line, column (in characters) and byte position of
 *     jansson's, and its message ("unexpected token near '}'", "']'
 *     expected near end of file", ...).
 * The differences are in three messages: an invalid token that is a NUL
 * byte is said to be one (jansson says "near end of file"), and the two
 * about \u0000 do not name jansson's flag JSON_ALLOW_NUL.
 * tests/check_json.c compares the two readers on mutated documents.
 *
 * Limits: at most JvLimits.max_bytes of text (default JV_MAX_BYTES) and
 * max_depth nested values (default JV_MAX_DEPTH, jansson's). The parse is
 * iterative: deep nesting never touches the C stack.
 *
 * Memory: every value, string and member list comes from the document's
 * arena (a few large blocks); jv_free releases it all. Not for the audio
 * thread (it allocates).
 *
 * The accessors are named after jansson's (jv_object_get for
 * json_object_get, jv_is_integer for json_is_integer, ...), take NULL
 * (then they answer "no", 0 or NULL) and never fail.
 */
#ifndef AMP_JSON_H
#define AMP_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JV_MAX_DEPTH 2048               /* nested values, as jansson's JSON_PARSER_MAX_DEPTH */
#define JV_MAX_BYTES ((size_t)64 << 20) /* default cap on the text */
#define JV_ERROR_TEXT 160               /* bytes of JvError.text, with its NUL */

typedef enum { JV_NULL = 0, JV_FALSE, JV_TRUE, JV_INTEGER, JV_REAL, JV_STRING, JV_ARRAY, JV_OBJECT } JvKind;

typedef struct JvValue JvValue;
typedef struct JvMember JvMember;

struct JvValue {
    uint32_t kind;                      /* JvKind */
    uint32_t n;                         /* string bytes (without the NUL), array items, object members */
    union {
        long long integer;
        double real;
        const char *string;             /* NUL-terminated, valid UTF-8, no NUL inside */
        JvValue *items;
        JvMember *members;              /* in document order */
    } u;
};

struct JvMember {
    const char *key;                    /* NUL-terminated */
    uint32_t key_len;
    JvValue value;
};

typedef struct JvDoc JvDoc;             /* the arena and the root */

typedef struct JvError {
    int line;                           /* 1-based */
    int column;                         /* characters since the line's start */
    size_t position;                    /* bytes from the start of the text */
    char text[JV_ERROR_TEXT];
} JvError;

typedef struct JvLimits {
    size_t max_bytes;                   /* 0: JV_MAX_BYTES */
    int max_depth;                      /* 0: JV_MAX_DEPTH */
} JvLimits;

/* Parse `len` bytes at `text` (no NUL needed). The document, or NULL with
 * *err filled (err may be NULL). limits NULL: the defaults. */
JvDoc *jv_parse(const char *text, size_t len, const JvLimits *limits, JvError *err);
/* The top-level value (an object or an array). */
JvValue *jv_root(const JvDoc *doc);
/* Release the document and everything in it; NULL is fine. */
void jv_free(JvDoc *doc);
/* A copy of `s` that lives as long as the document (for names a reader
 * derives from it); NULL when out of memory. */
char *jv_keep(JvDoc *doc, const char *s);

/* ---- reading values ----------------------------------------------------- */

static inline int jv_kind(const JvValue *v) { return v ? (int)v->kind : -1; }
static inline int jv_is_object(const JvValue *v) { return v && v->kind == JV_OBJECT; }
static inline int jv_is_array(const JvValue *v) { return v && v->kind == JV_ARRAY; }
static inline int jv_is_string(const JvValue *v) { return v && v->kind == JV_STRING; }
static inline int jv_is_integer(const JvValue *v) { return v && v->kind == JV_INTEGER; }
static inline int jv_is_real(const JvValue *v) { return v && v->kind == JV_REAL; }
static inline int jv_is_number(const JvValue *v) { return jv_is_integer(v) || jv_is_real(v); }
static inline int jv_is_true(const JvValue *v) { return v && v->kind == JV_TRUE; }
static inline int jv_is_false(const JvValue *v) { return v && v->kind == JV_FALSE; }
static inline int jv_is_boolean(const JvValue *v) { return jv_is_true(v) || jv_is_false(v); }
static inline int jv_is_null(const JvValue *v) { return v && v->kind == JV_NULL; }

/* An integer's value; 0 for anything else. */
static inline long long jv_integer_value(const JvValue *v) { return jv_is_integer(v) ? v->u.integer : 0; }
/* A number's value (an integer converted, as json_number_value does); 0
 * for anything else. */
static inline double jv_number_value(const JvValue *v)
{
    return jv_is_real(v) ? v->u.real : jv_is_integer(v) ? (double)v->u.integer : 0.0;
}
/* A string's text and its length in bytes; NULL and 0 for anything else. */
static inline const char *jv_string_value(const JvValue *v) { return jv_is_string(v) ? v->u.string : NULL; }
static inline size_t jv_string_length(const JvValue *v) { return jv_is_string(v) ? v->n : 0; }

/* An array's length and its item i (NULL past the end or for a non-array). */
static inline size_t jv_array_size(const JvValue *v) { return jv_is_array(v) ? v->n : 0; }
static inline JvValue *jv_array_get(const JvValue *v, size_t i)
{
    return jv_is_array(v) && i < v->n ? &v->u.items[i] : NULL;
}

/* An object's member count, its i-th key and value in document order. */
static inline size_t jv_object_size(const JvValue *v) { return jv_is_object(v) ? v->n : 0; }
static inline const char *jv_object_key(const JvValue *v, size_t i)
{
    return jv_is_object(v) && i < v->n ? v->u.members[i].key : NULL;
}
static inline JvValue *jv_object_value(const JvValue *v, size_t i)
{
    return jv_is_object(v) && i < v->n ? &v->u.members[i].value : NULL;
}
/* The value of `key`, or NULL (a linear search: the documents read here
 * have small objects; the parse itself checks duplicates by hashing). */
JvValue *jv_object_get(const JvValue *obj, const char *key);

/* for each member of obj, in document order: key (const char *) and value
 * (JvValue *) set for the body, as json_object_foreach. */
#define JV_CAT_(a, b) a##b
#define JV_CAT(a, b) JV_CAT_(a, b)
#define jv_object_foreach(obj, key, value)                                                                  \
    for (size_t JV_CAT(jv_i_, __LINE__) = 0;                                                                \
         JV_CAT(jv_i_, __LINE__) < jv_object_size(obj) &&                                                   \
         ((key) = jv_object_key((obj), JV_CAT(jv_i_, __LINE__)),                                            \
          (value) = jv_object_value((obj), JV_CAT(jv_i_, __LINE__)), (void)(value), 1);                     \
         JV_CAT(jv_i_, __LINE__)++)

/* ---- writing values ------------------------------------------------------- */

/* v as compact JSON, as jansson's json_dumps(v, JSON_ENCODE_ANY |
 * JSON_COMPACT) prints it (reals with 17 significant digits and a ".0" or
 * an exponent, strings with \" \\ \b \f \n \r \t and \u00XX escaped,
 * other characters as they are), into buf (len bytes, NUL-terminated,
 * cut when short). Returns the length of the whole text, as snprintf. */
size_t jv_dump(const JvValue *v, char *buf, size_t len);

#endif
