/* emit_json.c — the metadata document beside the C: ports and params, for
 * the UI, the server and the host. Built with jansson; keys in a fixed
 * order, so the output is byte-for-byte deterministic. */
#include "emit.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "amp_patch.h"
#include "ampc.h"

void text_add(EmitText *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        t->text = xrealloc(t->text, cap);
        t->cap = cap;
    }
    memcpy(t->text + t->len, s, n);
    t->len += n;
    t->text[t->len] = 0;
}

void text_puts(EmitText *t, const char *s)
{
    text_add(t, s, strlen(s));
}

void text_printf(EmitText *t, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        text_add(t, small, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    text_add(t, big, (size_t)n);
    free(big);
}

static json_t *names(const char **list, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}

static json_t *number_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static const char *unit_label(int unit)
{
    switch (unit) {
    case AMP_UNIT_HZ: return "Hz";
    case AMP_UNIT_S: return "s";
    case AMP_UNIT_DB: return "dB";
    default: return "";
    }
}

void emit_json(const Lowered *u, EmitText *out)
{
    json_t *root = json_object();
    json_object_set_new(root, "name", json_string(u->name));
    json_object_set_new(root, "compiler", json_string("ampc " AMPC_VERSION));
    json_object_set_new(root, "abi", json_integer(AMP_ABI_VERSION));
    const char *kind = u->voices ? "instrument" : u->n_inputs ? "effect" : "generator";
    json_object_set_new(root, "kind", json_string(kind));
    json_object_set_new(root, "voices", json_integer(u->voices));
    if (u->voices)
        json_object_set_new(root, "steal", json_string(u->steal == AMP_STEAL_OLDEST ? "oldest"
                                                       : u->steal == AMP_STEAL_QUIETEST ? "quietest" : "none"));
    json_object_set_new(root, "inputs", names(u->input_names, u->n_inputs));
    json_object_set_new(root, "outputs", names(u->output_names, u->n_outputs));
    json_t *params = json_array();
    for (int i = 0; i < u->n_params; i++) {
        const UnitParam *p = &u->params[i];
        json_t *o = json_object();
        json_object_set_new(o, "index", json_integer(i));
        json_object_set_new(o, "name", json_string(p->name));
        json_object_set_new(o, "default", json_real(p->def));
        json_object_set_new(o, "min", number_or_null(p->lo));
        json_object_set_new(o, "max", number_or_null(p->hi));
        json_object_set_new(o, "step", json_real(p->step));
        json_object_set_new(o, "unit", json_string(p->unit_label ? p->unit_label : unit_label(p->unit)));
        json_object_set_new(o, "smooth", json_real(p->smooth));
        json_array_append_new(params, o);
    }
    json_object_set_new(root, "params", params);
    json_object_set_new(root, "control_tick", json_integer(AMP_CHUNK));
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(root);
    text_puts(out, s ? s : "{}");
    text_puts(out, "\n");
    free(s);
}
