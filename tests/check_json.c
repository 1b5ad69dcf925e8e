/* check_json.c — the JSON reader (runtime/formats/json.h) against jansson,
 * the reader it stands in for.
 *
 *   "errors"     malformed texts give jansson's message, line, column and
 *                byte position (a table, each line checked against
 *                jansson too)
 *   "values"     numbers, strings, escapes, order: the compact dump equals
 *                jansson's json_dumps, and reals are bit for bit strtod's
 *   "limits"     nesting past the depth cap, a size cap, 100 000-member
 *                objects with a duplicate at the end, NUL bytes, invalid
 *                UTF-8: an error and never a crash
 *   "fuzz"       seeded mutations of real documents (the demo project and
 *                friends), each parsed by both readers: the same verdict,
 *                the same error, the same values
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "project_read.h"
#include "testutil.h"

/* ---- both readers on one text -------------------------------------------- */

typedef struct Verdict {
    int ok;
    JvError err;                        /* when !ok */
    char *dump;                         /* when ok: compact JSON (malloc'd) */
    size_t dump_len;
} Verdict;

static void ours(const char *text, size_t len, Verdict *v)
{
    memset(v, 0, sizeof *v);
    JvDoc *d = jv_parse(text, len, NULL, &v->err);
    v->ok = d != NULL;
    if (d) {
        char probe[1];
        v->dump_len = jv_dump(jv_root(d), probe, sizeof probe);
        v->dump = malloc(v->dump_len + 1);
        ck_assert(v->dump);
        ck_assert_int_eq(jv_dump(jv_root(d), v->dump, v->dump_len + 1), v->dump_len);
    }
    jv_free(d);
}

static void theirs(const char *text, size_t len, Verdict *v)
{
    memset(v, 0, sizeof *v);
    json_error_t e;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    v->ok = root != NULL;
    if (root) {
        v->dump = json_dumps(root, JSON_ENCODE_ANY | JSON_COMPACT);
        ck_assert(v->dump);
        v->dump_len = strlen(v->dump);
        json_decref(root);
    } else {
        v->err.line = e.line;
        v->err.column = e.column;
        v->err.position = (size_t)e.position;
        snprintf(v->err.text, sizeof v->err.text, "%s", e.text);
    }
}

/* Our messages where they differ from jansson's, mapped to jansson's for
 * the comparison: the two about \u0000 (which do not name jansson's flag
 * JSON_ALLOW_NUL), and a NUL byte named as such (jansson says "near end of
 * file" at a NUL byte that is not the end). */
static const char *as_jansson(const char *text, char *buf, size_t len)
{
    const char *nul = strstr(text, " near a NUL byte");
    if (nul) {
        snprintf(buf, len, "%.*s near end of file", (int)(nul - text), text);
        return buf;
    }
    static const struct { const char *ours, *theirs; } map[] = {
        { "\\u0000 is not allowed in a string", "\\u0000 is not allowed without JSON_ALLOW_NUL" },
        { "\\u0000 is not allowed in an object key", "NUL byte in object key not supported" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].ours);
        if (!strncmp(text, map[i].ours, n)) {
            snprintf(buf, len, "%s%s", map[i].theirs, text + n);
            return buf;
        }
    }
    return text;
}

static void show_text(const char *text, size_t len, char *buf, size_t buflen)
{
    size_t n = 0;
    for (size_t i = len > 120 ? len - 120 : 0; i < len && n + 5 < buflen; i++) {
        unsigned char c = (unsigned char)text[i];
        n += (size_t)snprintf(buf + n, buflen - n, c >= 0x20 && c < 0x7F ? "%c" : "\\x%02x", c);
    }
    buf[n] = '\0';
}

/* Both readers agree on text: verdict, error and place, or values. A text
 * with a NUL byte we always refuse, and compare no further: jansson's
 * stream drops a NUL byte it has looked ahead at and put back (it refills
 * its one-character buffer on a NUL), so "[0\0]" is [0] to it. */
static void agree(const char *text, size_t len)
{
    if (memchr(text, '\0', len)) {
        JvDoc *d = jv_parse(text, len, NULL, NULL);
        ck_assert_msg(d == NULL, "accepted a text with a NUL byte");
        return;
    }
    Verdict a, b;
    ours(text, len, &a);
    theirs(text, len, &b);
    char shown[600], mapped[JV_ERROR_TEXT + 64];
    show_text(text, len, shown, sizeof shown);
    ck_assert_msg(a.ok == b.ok, "for [%s] (%zu bytes): ours %s, jansson %s", shown, len,
                  a.ok ? "accepts" : a.err.text, b.ok ? "accepts" : b.err.text);
    if (a.ok) {
        ck_assert_msg(a.dump_len == b.dump_len && !strcmp(a.dump, b.dump), "for [%s]:\n ours    %.300s\n jansson %.300s",
                      shown, a.dump, b.dump);
        free(a.dump);
        free(b.dump);
        return;
    }
    const char *msg = as_jansson(a.err.text, mapped, sizeof mapped);
    ck_assert_msg(!strcmp(msg, b.err.text) && a.err.line == b.err.line && a.err.column == b.err.column &&
                      a.err.position == b.err.position,
                  "for [%s] (%zu bytes):\n ours    %d:%d @%zu %s\n jansson %d:%d @%zu %s", shown, len, a.err.line,
                  a.err.column, a.err.position, a.err.text, b.err.line, b.err.column, b.err.position, b.err.text);
}

/* ---- errors ------------------------------------------------------------------ */

static const struct {
    const char *text;
    int line, column;
    const char *message;
} error_cases[] = {
    { "{\"version\": 1, \"tracks\": [}", 1, 27, "unexpected token near '}'" },
    { "", 1, 0, "'[' or '{' expected near end of file" },
    { "   ", 1, 3, "'[' or '{' expected near end of file" },
    { "\"x\"", 1, 3, "'[' or '{' expected near '\"x\"'" },
    { "7", 1, 1, "'[' or '{' expected near '7'" },
    { "[01]", 1, 2, "invalid token near '0'" },
    { "[1.]", 1, 3, "invalid token near '1.'" },
    { "[-]", 1, 2, "invalid token near '-'" },
    { "[1e]", 1, 3, "invalid token near '1e'" },
    { "[1e+]", 1, 4, "invalid token near '1e+'" },
    { "[1e999]", 1, 6, "real number overflow near '1e999'" },
    { "[-1e999]", 1, 7, "real number overflow near '-1e999'" },
    { "[99999999999999999999]", 1, 21, "too big integer near '99999999999999999999'" },
    { "[-99999999999999999999]", 1, 22, "too big negative integer" },
    { "{\"a\":1,\"a\":2}", 1, 10, "duplicate object key near '\"a\"'" },
    { "[1] x", 1, 5, "end of file expected near 'x'" },
    { "[tru]", 1, 4, "invalid token near 'tru'" },
    { "[true false]", 1, 11, "']' expected near 'false'" },
    { "{\"a\" 1}", 1, 6, "':' expected near '1'" },
    { "{a:1}", 1, 2, "string or '}' expected near 'a'" },
    { "[1,]", 1, 4, "unexpected token near ']'" },
    { "{\"a\":1,}", 1, 8, "string or '}' expected near '}'" },
    { "{\"a\":1 \"b\":2}", 1, 10, "'}' expected near '\"b\"'" },
    { "[\"\x01\"]", 1, 2, "control character 0x1 near '\"'" },
    { "[\"a\nb\"]", 1, 3, "unexpected newline near '\"a'" },
    { "[\"\\q\"]", 1, 4, "invalid escape near '\"\\q'" },
    { "[\"\\u12x4\"]", 1, 7, "invalid escape near '\"\\u12x'" },
    { "[\"\\ud800\"]", 1, 9, "invalid Unicode '\\uD800' near '\"\\ud800\"'" },
    { "[\"\\udc00x\"]", 1, 10, "invalid Unicode '\\uDC00' near '\"\\udc00x\"'" },
    { "[\"\\ud800\\u0041\"]", 1, 15, "invalid Unicode '\\uD800\\u0041' near '\"\\ud800\\u0041\"'" },
    { "[\xff]", 1, 1, "unable to decode byte 0xff" },
    { "[\"\xc0\x80\"]", 1, 2, "unable to decode byte 0xc0 near '\"'" },
    { "[\"\xed\xa0\x80\"]", 1, 2, "unable to decode byte 0xed near '\"'" },
    { "[\"\xf4\x90\x80\x80\"]", 1, 2, "unable to decode byte 0xf4 near '\"'" },
    { "[\"ab\xe2\x82\"]", 1, 4, "unable to decode byte 0xe2 near '\"ab'" },
    { "[1\xff]", 1, 2, "unable to decode byte 0xff near '1'" },
    { "\n\n  [1,\n  }", 4, 3, "unexpected token near '}'" },
    { "[\"\xc3\xa9\", x]", 1, 7, "invalid token near 'x'" },
    { "[1", 1, 2, "']' expected near end of file" },
    { "[", 1, 1, "']' expected near end of file" },
    { "[1,", 1, 3, "']' expected near end of file" },
    { "{", 1, 1, "string or '}' expected near end of file" },
    { "{\"a\":", 1, 5, "unexpected token near end of file" },
    { "\"", 1, 1, "premature end of input near '\"'" },
    { "[\"abc", 1, 5, "premature end of input near '\"abc'" },
    { "[#]", 1, 2, "invalid token near '#'" },
    { "[\xc3\xa9]", 1, 2, "invalid token near '\xc3\xa9'" },
    { "[\"a very long string token\", 1e999999]", 1, 37, "real number overflow near '1e999999'" },
    { "[\"a string longer than twenty bytes\\ud800\"]", 1, 42, "invalid Unicode '\\uD800'" },
};

START_TEST(test_error_messages)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const char *text = error_cases[i].text;
        JvError e;
        JvDoc *d = jv_parse(text, strlen(text), NULL, &e);
        ck_assert_msg(d == NULL, "accepted [%s]", text);
        ck_assert_msg(!strcmp(e.text, error_cases[i].message) && e.line == error_cases[i].line &&
                          e.column == error_cases[i].column,
                      "for [%s]\n got  %d:%d %s\n want %d:%d %s", text, e.line, e.column, e.text, error_cases[i].line,
                      error_cases[i].column, error_cases[i].message);
        agree(text, strlen(text));
    }
}
END_TEST

START_TEST(test_nul_messages_are_ours)
{
    JvError e;
    ck_assert(jv_parse("[\"a\\u0000b\"]", 12, NULL, &e) == NULL);
    ck_assert_str_eq(e.text, "\\u0000 is not allowed in a string near '\"a\\u0000b\"'");
    ck_assert_int_eq(e.column, 11);
    ck_assert(jv_parse("{\"\\u0000\":1}", 12, NULL, &e) == NULL);
    ck_assert_str_eq(e.text, "\\u0000 is not allowed in an object key near '\"\\u0000\"'");
    agree("[\"a\\u0000b\"]", 12);
    agree("{\"\\u0000\":1}", 12);
    /* A NUL byte outside strings: an invalid token, named as a NUL byte. */
    static const char bare[] = "[1]\0garbage";
    ck_assert(jv_parse(bare, sizeof bare - 1, NULL, &e) == NULL);
    ck_assert_str_eq(e.text, "end of file expected near a NUL byte");
    ck_assert_int_eq(e.column, 4);
    static const char inside[] = "[1,\0]";
    ck_assert(jv_parse(inside, sizeof inside - 1, NULL, &e) == NULL);
    ck_assert_str_eq(e.text, "invalid token near a NUL byte");
    static const char after_number[] = "[0\0]";
    ck_assert(jv_parse(after_number, sizeof after_number - 1, NULL, &e) == NULL);
    ck_assert_str_eq(e.text, "']' expected near a NUL byte");
    /* Inside a string it is a control character, as for jansson. */
    static const char in_string[] = "[\"a\0\"]";
    ck_assert(jv_parse(in_string, sizeof in_string - 1, NULL, &e) == NULL);
    ck_assert_str_eq(e.text, "control character 0x0 near '\"a'");
}
END_TEST

/* ---- values ---------------------------------------------------------------------- */

START_TEST(test_values_match_jansson)
{
    static const char *const texts[] = {
        "[1e-400, 0.1, 1e20, 1e21, 100.0, 1E5, -0, -0.0, 1.5e300, 123456789012345678, -9223372036854775808,"
        " 9223372036854775807, 2.2250738585072014e-308, 4.9e-324, 1.7976931348623157e308, 0.30000000000000004,"
        " 5e-1, 1e+2, 1E-02, 123.456e-7, 0e0, -0e-0]",
        "[\"a/b\\\"\\\\\\t\\u001f\\u007f\\u00e9\\u2028\\ud83d\\ude00\\/\\b\\f\\n\\r\", \"\xc3\xa9\xf0\x9f\x98\x80\"]",
        "{\"z\":1,\"a\":{\"y\":[],\"b\":{}},\"m\":[true,false,null],\"\":\"\"}",
        "  \t\r\n[ 1 , { } , [ ] ]  \n",
        "{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"bus\", \"fader\": {\"pan\": 0.25}}]}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        agree(texts[i], strlen(texts[i]));

    /* Reals are strtod's bits; integers stay integers. */
    const char *text = "[0.1, 1e23, 3, 3.0, -0.0]";
    JvDoc *d = jv_parse(text, strlen(text), NULL, NULL);
    ck_assert(d);
    JvValue *root = jv_root(d);
    ck_assert_int_eq(jv_array_size(root), 5);
    double want = strtod("0.1", NULL), got = jv_number_value(jv_array_get(root, 0));
    ck_assert(memcmp(&want, &got, sizeof got) == 0);
    want = strtod("1e23", NULL), got = jv_number_value(jv_array_get(root, 1));
    ck_assert(memcmp(&want, &got, sizeof got) == 0);
    ck_assert(jv_is_integer(jv_array_get(root, 2)) && jv_integer_value(jv_array_get(root, 2)) == 3);
    ck_assert(jv_is_real(jv_array_get(root, 3)) && jv_number_value(jv_array_get(root, 3)) == 3.0);
    ck_assert(signbit(jv_number_value(jv_array_get(root, 4))));
    ck_assert(jv_array_get(root, 5) == NULL && jv_object_get(root, "x") == NULL);
    jv_free(d);
}
END_TEST

START_TEST(test_objects_keep_document_order)
{
    const char *text = "{\"b\": 1, \"a\": \"x\", \"c\": [1, 2], \"ui\": {\"k\": true}}";
    JvDoc *d = jv_parse(text, strlen(text), NULL, NULL);
    ck_assert(d);
    JvValue *root = jv_root(d);
    const char *order[] = { "b", "a", "c", "ui" };
    const char *key;
    JvValue *value;
    size_t i = 0;
    jv_object_foreach(root, key, value) {
        ck_assert_str_eq(key, order[i]);
        ck_assert(value == jv_object_get(root, order[i]));
        i++;
    }
    ck_assert_int_eq(i, 4);
    ck_assert_str_eq(jv_string_value(jv_object_get(root, "a")), "x");
    ck_assert_int_eq(jv_string_length(jv_object_get(root, "a")), 1);
    ck_assert(jv_is_true(jv_object_get(jv_object_get(root, "ui"), "k")));
    char *kept = jv_keep(d, "assets/ab/abc");
    ck_assert_str_eq(kept, "assets/ab/abc");
    /* The dump, cut: the length is the whole text's. */
    char small[8];
    size_t n = jv_dump(root, small, sizeof small);
    ck_assert_int_eq(n, strlen("{\"b\":1,\"a\":\"x\",\"c\":[1,2],\"ui\":{\"k\":true}}"));
    ck_assert_str_eq(small, "{\"b\":1,");
    jv_free(d);
}
END_TEST

/* project_read.c through this reader: its "got ..." shows a value as
 * jansson's compact dump did, cut at 40 bytes; syntax errors are jansson's
 * with the file's name. */
START_TEST(test_project_messages)
{
    static const struct { const char *text, *want; } cases[] = {
        { "{\"version\": 1.0, \"tracks\": []}", "version: expected a whole number from 0 to 1073741824, got 1.0" },
        { "{\"version\": 1, \"tracks\": [], \"tempo\": [0.1, 1e300, -0.0, \"\\t\"]}",
          "tempo: expected a number, got [0.10000000000000001,1.00000000000000..." },
        { "{\"version\": 1, \"tracks\": [], \"tempo\": {\"a\": null, \"b\": true}}",
          "tempo: expected a number, got {\"a\":null,\"b\":true}" },
        { "{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": 3}]}",
          "tracks[0].kind: expected a non-empty string, got 3" },
        { "{\"version\": 1, \"tracks\": [], \"tempo\": 1,\n \"tempo\": 2}",
          "t.json:2:8: duplicate object key near '\"tempo\"'" },
        { "{\"version\": 1, \"tracks\": [1,]}", "t.json:1:29: unexpected token near ']'" },
        { "[]", "project: expected an object, got []" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Project p;
        char err[512] = "";
        ck_assert_msg(project_load_text(cases[i].text, strlen(cases[i].text), "t.json", ".", &p, err, sizeof err) == -1,
                      "accepted %s", cases[i].text);
        ck_assert_msg(!strcmp(err, cases[i].want), "for %s\n got  %s\n want %s", cases[i].text, err, cases[i].want);
    }
}
END_TEST

/* ---- limits -------------------------------------------------------------------------- */

START_TEST(test_deep_nesting)
{
    size_t depth = 100000;
    char *text = malloc(2 * depth + 1);
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    JvError e;
    ck_assert(jv_parse(text, 2 * depth, NULL, &e) == NULL);
    ck_assert_str_eq(e.text, "maximum parsing depth reached near '['");
    ck_assert_int_eq(e.column, JV_MAX_DEPTH + 1);
    agree(text, 4000);                   /* jansson stops at the same place */
    /* At the cap exactly it reads; one more is refused, scalar or not. */
    memset(text, '[', JV_MAX_DEPTH);
    memset(text + JV_MAX_DEPTH, ']', JV_MAX_DEPTH);
    JvDoc *d = jv_parse(text, 2 * JV_MAX_DEPTH, NULL, &e);
    ck_assert_msg(d != NULL, "%s", e.text);
    jv_free(d);
    memset(text, '[', JV_MAX_DEPTH);
    text[JV_MAX_DEPTH] = '1';
    memset(text + JV_MAX_DEPTH + 1, ']', JV_MAX_DEPTH);
    ck_assert(jv_parse(text, 2 * JV_MAX_DEPTH + 1, NULL, &e) == NULL);
    ck_assert_str_eq(e.text, "maximum parsing depth reached near '1'");
    agree(text, 2 * JV_MAX_DEPTH + 1);
    /* A caller's smaller cap, and objects in the chain. */
    JvLimits lim = { .max_depth = 3 };
    ck_assert((d = jv_parse("{\"a\":[{}]}", 10, &lim, &e)) != NULL);
    jv_free(d);
    ck_assert(jv_parse("{\"a\":[{\"b\":1}]}", 15, &lim, &e) == NULL);
    ck_assert_str_eq(e.text, "maximum parsing depth reached near '1'");
    free(text);
}
END_TEST

START_TEST(test_size_cap)
{
    JvLimits lim = { .max_bytes = 8 };
    JvError e;
    ck_assert(jv_parse("[1,2,3,4]", 9, &lim, &e) == NULL);
    ck_assert_str_eq(e.text, "the text is 9 bytes, more than the 8 read");
    ck_assert(e.line == 1 && e.column == 0 && e.position == 0);
    JvDoc *d = jv_parse("[1,2,3]", 7, &lim, &e);
    ck_assert(d);
    jv_free(d);
}
END_TEST

/* Many members: the duplicate table grows; the last key repeats the first. */
START_TEST(test_big_objects)
{
    int n = 100000;
    size_t cap = (size_t)n * 48 + 64, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "{\"list\": [");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s{\"k%d\": %d}", i ? "," : "", i, i);
    len += (size_t)snprintf(text + len, cap - len, "], \"big\": {");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s\"key%d\": %d", i ? "," : "", i, i);
    size_t before_dup = len;
    len += (size_t)snprintf(text + len, cap - len, "}}");
    JvDoc *d = jv_parse(text, len, NULL, NULL);
    ck_assert(d);
    JvValue *big = jv_object_get(jv_root(d), "big");
    ck_assert_int_eq(jv_object_size(big), n);
    ck_assert_int_eq(jv_integer_value(jv_object_get(big, "key99999")), 99999);
    ck_assert_int_eq(jv_array_size(jv_object_get(jv_root(d), "list")), n);
    jv_free(d);
    agree(text, len);

    len = before_dup;
    len += (size_t)snprintf(text + len, cap - len, ", \"key0\": 1}}");
    JvError e;
    ck_assert(jv_parse(text, len, NULL, &e) == NULL);
    ck_assert_str_eq(e.text, "duplicate object key near '\"key0\"'");
    agree(text, len);
    free(text);
}
END_TEST

START_TEST(test_invalid_utf8_everywhere)
{
    static const char *const bad[] = { "\x80", "\xbf", "\xc0\xaf", "\xc1\xbf", "\xc2", "\xe0\x80\xaf", "\xed\xbf\xbf",
                                       "\xef\xbf", "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                                       "\xfe", "\xff", "\xc3\x28" };
    static const char *const frames[] = { "[\"%s\"]", "[%s]", "%s", "[1]%s", "{\"a\": \"x%sy\"}", "{\"%s\": 1}",
                                          "[1%s]", "[tr%sue]", "[\"\\u00%s\"]" };
    char text[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (size_t f = 0; f < sizeof frames / sizeof frames[0]; f++) {
            int n = snprintf(text, sizeof text, frames[f], bad[i]);
            JvError e;
            ck_assert_msg(jv_parse(text, (size_t)n, NULL, &e) == NULL, "accepted %s", text);
            agree(text, (size_t)n);
        }
}
END_TEST

/* ---- fuzz ------------------------------------------------------------------------------ */

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static const char *const seeds_inline[] = {
    "{\"version\": 1, \"tracks\": [{\"id\": 1, \"kind\": \"instrument\", \"patch\": {\"file\": \"a.amp\", \"unit\": \"x\"},"
    " \"params\": {\"cutoff\": 1e3, \"res\": 0.5}, \"clips\": [{\"start_beat\": 0, \"length_beats\": 4, \"notes\":"
    " [{\"key\": 60, \"start_beat\": 0, \"length_beats\": 1, \"velocity\": 0.9}]}]}]}",
    "[\"\\u00e9\\ud83d\\ude00\", -12.5e-3, true, false, null, {\"\": []}]",
    "{\"a\": {\"b\": {\"c\": [1, [2, [3, {\"d\": \"e\\n\"}]]]}}}",
};

/* One mutation of src (len bytes) into dst (cap bytes); returns its length. */
static size_t mutate(const char *src, size_t len, char *dst, size_t cap)
{
    static const char *const pieces[] = { "\"", "\\", "\\u", "\\ud800", "{", "}", "[", "]", ":", ",", "-", "0", "1e",
                                          ".", "e999", "99999999999999999999", "true", "nul", "\x00", "\xc3", "\xa9",
                                          "\xed\xa0\x80", "\xf0\x9f\x98\x80", "\n", "\t", " ", "\x01", "\"a\":1,",
                                          "\"key\"", "1.5", "]]]]", "[[[[" };
    size_t n = len < cap ? len : cap;
    memcpy(dst, src, n);
    int rounds = 1 + (int)(rnd() % 4);
    for (int r = 0; r < rounds; r++) {
        size_t at = n ? rnd() % (n + 1) : 0;
        switch (rnd() % 6) {
        case 0:                         /* flip a byte */
            if (at < n)
                dst[at] = (char)(rnd() & 0xFF);
            break;
        case 1:                         /* delete a run */
            if (at < n) {
                size_t k = 1 + rnd() % 8;
                if (k > n - at)
                    k = n - at;
                memmove(dst + at, dst + at + k, n - at - k);
                n -= k;
            }
            break;
        case 2: {                       /* insert a piece */
            const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
            size_t k = *p ? strlen(p) : 1;
            if (n + k <= cap) {
                memmove(dst + at + k, dst + at, n - at);
                memcpy(dst + at, p, k);
                n += k;
            }
            break;
        }
        case 3:                         /* truncate */
            n = at;
            break;
        case 4:                         /* repeat a run */
            if (at < n) {
                size_t k = 1 + rnd() % 16;
                if (k > n - at)
                    k = n - at;
                if (n + k <= cap) {
                    memmove(dst + at + k, dst + at, n - at);
                    n += k;
                }
            }
            break;
        default:                        /* swap two bytes */
            if (at < n) {
                size_t b = rnd() % n;
                char t = dst[at];
                dst[at] = dst[b];
                dst[b] = t;
            }
            break;
        }
    }
    return n;
}

START_TEST(test_fuzz_against_jansson)
{
    char *seeds[8];
    size_t seed_len[8];
    int n_seeds = 0;
    FILE *fp = fopen("tests/projects/demo.json", "rb");
    ck_assert_msg(fp != NULL, "tests/projects/demo.json: run from the repository root");
    char *demo = malloc(1 << 20);
    size_t demo_len = fread(demo, 1, 1 << 20, fp);
    fclose(fp);
    ck_assert(demo_len > 1000);
    seeds[n_seeds] = demo;
    seed_len[n_seeds++] = demo_len;
    for (size_t i = 0; i < sizeof seeds_inline / sizeof seeds_inline[0]; i++) {
        seeds[n_seeds] = (char *)seeds_inline[i];
        seed_len[n_seeds++] = strlen(seeds_inline[i]);
    }
    size_t cap = demo_len + 4096;
    char *buf = malloc(cap);
    int runs = 20000, compared = 0, accepted = 0;
    rng_state = 0x5eed5eedull;
    for (int i = 0; i < runs; i++) {
        int s = (int)(rnd() % (unsigned)n_seeds);
        size_t n = mutate(seeds[s], seed_len[s], buf, cap);
        agree(buf, n);
        compared++;
        JvDoc *d = jv_parse(buf, n, NULL, NULL);
        accepted += d != NULL;
        jv_free(d);
    }
    /* Random bytes too, short and long. */
    for (int i = 0; i < 2000; i++) {
        size_t n = rnd() % 64;
        for (size_t k = 0; k < n; k++)
            buf[k] = "[]{}\",:0123456789-.eE\\utrufalsn \n\x80\xc3\xa9\x00"[rnd() % 38];
        agree(buf, n);
    }
    printf("json fuzz: %d mutated documents compared with jansson (%d accepted by both)\n", compared, accepted);
    ck_assert(compared > runs / 2 && accepted > 100);
    free(buf);
    free(demo);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, test_error_messages);
    tcase_add_test(tc, test_nul_messages_are_ours);
    suite_add_tcase(s, tc);
    tc = tcase_create("values");
    tcase_add_test(tc, test_values_match_jansson);
    tcase_add_test(tc, test_objects_keep_document_order);
    tcase_add_test(tc, test_project_messages);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_size_cap);
    tcase_add_test(tc, test_big_objects);
    tcase_add_test(tc, test_invalid_utf8_everywhere);
    suite_add_tcase(s, tc);
    tc = tcase_create("fuzz");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fuzz_against_jansson);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = testutil_run(json_suite());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("check_json: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    return rc;
}
