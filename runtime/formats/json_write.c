/* json_write.c — the JSON text writer of json_write.h: a growable buffer,
 * a stack of open containers, and the number and string forms jansson
 * prints (its dump.c and strconv.c are the reference for the bytes, not
 * for the code).
 */
#include "json_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_write_init(JsonWriter *w)
{
    memset(w, 0, sizeof *w);
}

void json_write_free(JsonWriter *w)
{
    free(w->text);
    json_write_init(w);
}

static void put_bytes(JsonWriter *w, const char *s, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *bigger = realloc(w->text, cap);
        if (!bigger) {
            w->failed = true;
            return;
        }
        w->text = bigger;
        w->cap = cap;
    }
    memcpy(w->text + w->len, s, n);
    w->len += n;
    w->text[w->len] = '\0';
}

static void put_text(JsonWriter *w, const char *s)
{
    put_bytes(w, s, strlen(s));
}

static void put_indent(JsonWriter *w, int levels)
{
    for (int i = 0; i < levels; i++)
        put_bytes(w, "  ", 2);
}

/* A quoted string, escaped as jansson escapes it without flags. */
static void put_string(JsonWriter *w, const char *s)
{
    put_bytes(w, "\"", 1);
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put_bytes(w, run, (size_t)(p - run));
        run = p + 1;
        char seq[8];
        switch (c) {
        case '"': put_text(w, "\\\""); break;
        case '\\': put_text(w, "\\\\"); break;
        case '\b': put_text(w, "\\b"); break;
        case '\f': put_text(w, "\\f"); break;
        case '\n': put_text(w, "\\n"); break;
        case '\r': put_text(w, "\\r"); break;
        case '\t': put_text(w, "\\t"); break;
        default:
            snprintf(seq, sizeof seq, "\\u%04X", c);
            put_text(w, seq);
        }
    }
    put_text(w, run);
    put_bytes(w, "\"", 1);
}

/* Before a value: the separator and the line of its container, then its key. */
static void begin_item(JsonWriter *w, const char *key)
{
    if (w->depth > 0) {
        size_t items = w->open[w->depth - 1].items++;
        if (items)
            put_bytes(w, ",", 1);
        if (w->open[w->depth - 1].block) {
            put_bytes(w, "\n", 1);
            put_indent(w, w->depth);
        } else if (items) {
            put_bytes(w, " ", 1);
        }
    }
    if (key) {
        put_string(w, key);
        put_bytes(w, ": ", 2);
    }
}

static void open_container(JsonWriter *w, const char *key, JsonLayout layout, char open, char close)
{
    begin_item(w, key);
    if (w->depth == JSON_WRITE_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    w->open[w->depth].block = layout == JSON_WRITE_BLOCK;
    w->open[w->depth].close = (unsigned char)close;
    w->open[w->depth].items = 0;
    w->depth++;
    put_bytes(w, &open, 1);
}

void json_write_object(JsonWriter *w, const char *key, JsonLayout layout)
{
    open_container(w, key, layout, '{', '}');
}

void json_write_array(JsonWriter *w, const char *key, JsonLayout layout)
{
    open_container(w, key, layout, '[', ']');
}

void json_write_end(JsonWriter *w)
{
    if (w->depth == 0) {
        w->failed = true;
        return;
    }
    w->depth--;
    char close = (char)w->open[w->depth].close;
    if (w->open[w->depth].block && w->open[w->depth].items) {
        put_bytes(w, "\n", 1);
        put_indent(w, w->depth);
    }
    put_bytes(w, &close, 1);
}

void json_write_string(JsonWriter *w, const char *key, const char *s)
{
    begin_item(w, key);
    put_string(w, s);
}

void json_write_integer(JsonWriter *w, const char *key, long long v)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", v);
    begin_item(w, key);
    put_text(w, text);
}

/* "%.<digits>g", then as jansson: a '.' or an 'e' always (so it reads
 * back as a real), no '+' and no leading zeros in the exponent. */
void json_write_real_digits(JsonWriter *w, const char *key, double v, int digits)
{
    if (!isfinite(v) || digits < 1 || digits > 17) {
        w->failed = true;
        return;
    }
    char text[48];
    snprintf(text, sizeof text, "%.*g", digits, v);
    if (!strchr(text, '.') && !strchr(text, 'e'))
        strcat(text, ".0");
    char *e = strchr(text, 'e');
    if (e) {
        char *start = e + 1;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start)
            memmove(start, end, strlen(end) + 1);
    }
    begin_item(w, key);
    put_text(w, text);
}

void json_write_real(JsonWriter *w, const char *key, double v)
{
    json_write_real_digits(w, key, v, 17);
}

void json_write_null(JsonWriter *w, const char *key)
{
    begin_item(w, key);
    put_text(w, "null");
}

void json_write_raw(JsonWriter *w, const char *s)
{
    put_text(w, s);
}

char *json_write_finish(JsonWriter *w, size_t *len)
{
    if (w->failed || w->depth || !w->text) {
        json_write_free(w);
        return NULL;
    }
    char *text = w->text;
    if (len)
        *len = w->len;
    w->text = NULL;
    json_write_free(w);
    return text;
}

bool json_write_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t size;
        unsigned value;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c <= 0xC1)
            return false;               /* a continuation byte, or an overlong 2-byte form */
        if (c <= 0xDF) {
            size = 2;
            value = c & 0x1F;
        } else if (c <= 0xEF) {
            size = 3;
            value = c & 0x0F;
        } else if (c <= 0xF4) {
            size = 4;
            value = c & 0x07;
        } else {
            return false;
        }
        if (n - i < size)
            return false;
        for (size_t k = 1; k < size; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            value = (value << 6) | (p[i + k] & 0x3F);
        }
        if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF) || (size == 3 && value < 0x800) ||
            (size == 4 && value < 0x10000))
            return false;
        i += size;
    }
    return true;
}
