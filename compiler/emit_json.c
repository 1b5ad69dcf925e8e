/* emit_json.c — the metadata document beside the C: ports and params, for
 * the UI, the server and the host. Written with runtime/formats/json_write
 * (no jansson, so ampc also builds for WebAssembly); keys in a fixed order
 * and reals with 9 significant digits, so the output is byte-for-byte
 * deterministic and the same bytes jansson printed before. */
#include "emit.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "amp_oversample.h"
#include "amp_patch.h"
#include "ampc.h"
#include "budget.h"
#include "json_write.h"
#include "state_map.h"

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

/* Reals in the metadata: 9 significant digits (a float reads back exactly). */
#define META_DIGITS 9

static void names(JsonWriter *w, const char *key, const char **list, int n)
{
    json_write_array(w, key, JSON_WRITE_BLOCK);
    for (int i = 0; i < n; i++)
        json_write_string(w, NULL, list[i]);
    json_write_end(w);
}

static void number_or_null(JsonWriter *w, const char *key, double x)
{
    if (isfinite(x))
        json_write_real_digits(w, key, x, META_DIGITS);
    else
        json_write_null(w, key);
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

/* The items "state" lists: the largest few. */
#define STATE_ITEMS_SHOWN 8

/* "state": the bytes the runtime allocates for one instance (the
 * descriptor's state_size, the same at every supported rate), one voice
 * slot's share, the budget, and the largest items (budget.c). */
static void state(JsonWriter *w, const StateBudget *s)
{
    json_write_object(w, "state", JSON_WRITE_BLOCK);
    json_write_integer(w, "bytes", (long long)s->bytes);
    json_write_integer(w, "per_voice", (long long)s->per_voice);
    json_write_integer(w, "voice_slots", s->voice_slots);
    json_write_integer(w, "sized_for_rate", AMP_MAX_SAMPLE_RATE);
    json_write_integer(w, "budget", (long long)AMPC_STATE_BUDGET);
    json_write_array(w, "largest", JSON_WRITE_BLOCK);
    for (int i = 0; i < s->n_items && i < STATE_ITEMS_SHOWN; i++) {
        const BudgetItem *it = &s->items[i];
        json_write_object(w, NULL, JSON_WRITE_INLINE);
        json_write_string(w, "name", it->name);
        json_write_string(w, "type", budget_kind_name(it->kind));
        json_write_integer(w, "bytes", (long long)it->bytes);
        if (it->sec == SEC_VOICE)
            json_write_integer(w, "per_voice", (long long)it->per_voice);
        if (it->kind == BUDGET_DELAY)
            json_write_integer(w, "samples", it->length);
        if (it->kind == BUDGET_DELAY && it->seconds > 0)
            json_write_real_digits(w, "seconds", it->seconds, META_DIGITS);
        if (it->kind == BUDGET_TABLE)
            json_write_integer(w, "entries", it->length);
        if (it->kind == BUDGET_FAUST)
            json_write_string(w, "program", it->program);
        if (it->kind == BUDGET_OVERSAMPLE)
            json_write_integer(w, "factor", it->length);
        json_write_end(w);
    }
    json_write_end(w);
    json_write_end(w);
}

/* The patch's latency in samples: the longest path from an input, a note
 * or a param to an output, counting each downsampler it passes
 * (amp_oversample.h: the round trip of factor N) and going through delay
 * lines (their own delay not counted). Voice outputs reach the patch
 * section through V_VOICEBUS and a delay line's write may come after its
 * reads, so the walk runs twice (a feedback loop is followed once). */
static long unit_latency(const Lowered *u)
{
    const Ir *ir = &u->ir;
    long *lat = calloc((size_t)ir->vals.n + 1, sizeof *lat), voice[MAX_CHANNELS] = { 0 }, best = 0;
    if (!lat)
        return 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < ir->vals.n; i++) {
            const Val *v = ir->vals.items[i];
            const Val *ops[3] = { v->a, v->b, v->c };
            long l = v->op == V_VOICEBUS && v->idx < MAX_CHANNELS ? voice[v->idx] : 0;
            for (int k = 0; k < 3; k++)
                if (ops[k] && lat[ops[k]->id] > l)
                    l = lat[ops[k]->id];
            if (v->op == V_DELAY_READ) {          /* what was written, from the pass before */
                const DelaySlot *d = ir->delays.items[v->idx];
                if (d->write && lat[d->write->id] > l)
                    l = lat[d->write->id];
            }
            if (v->op == V_OS_OUT)
                l += amp_os_latency(((const RegionSlot *)ir->regions.items[v->idx])->factor);
            lat[v->id] = l;
        }
        for (int ch = 0; ch < u->n_outputs && ch < MAX_CHANNELS; ch++)
            if (u->voice_out[ch])
                voice[ch] = lat[u->voice_out[ch]->id];
    }
    for (int ch = 0; ch < u->n_outputs && ch < MAX_CHANNELS; ch++) {
        const Val *o = u->out[ch] ? u->out[ch] : u->voice_out[ch];
        if (o && lat[o->id] > best)
            best = lat[o->id];
    }
    free(lat);
    return best;
}

/* "latency" and "oversample", written only for a unit with oversampled
 * instances (a unit without has no latency). */
static void oversampling(JsonWriter *w, const Lowered *u)
{
    const Ir *ir = &u->ir;
    if (!ir->regions.n)
        return;
    json_write_integer(w, "latency", unit_latency(u));
    json_write_array(w, "oversample", JSON_WRITE_BLOCK);
    for (int r = 0; r < ir->regions.n; r++) {
        const RegionSlot *rs = ir->regions.items[r];
        json_write_object(w, NULL, JSON_WRITE_INLINE);
        json_write_string(w, "instance", rs->name);
        json_write_integer(w, "factor", rs->factor);
        json_write_integer(w, "latency", amp_os_latency(rs->factor));
        json_write_end(w);
    }
    json_write_end(w);
}

void emit_json(const Lowered *u, const Plan *plan, const StateBudget *st, EmitText *out)
{
    JsonWriter w;
    json_write_init(&w);
    json_write_object(&w, NULL, JSON_WRITE_BLOCK);
    json_write_string(&w, "name", u->name);
    json_write_string(&w, "compiler", "ampc " AMPC_VERSION);
    json_write_integer(&w, "abi", AMP_ABI_VERSION);
    const char *kind = u->voices ? "instrument" : u->n_inputs ? "effect" : "generator";
    json_write_string(&w, "kind", kind);
    json_write_integer(&w, "voices", u->voices);
    if (u->voices)
        json_write_string(&w, "steal", u->steal == AMP_STEAL_OLDEST ? "oldest"
                                       : u->steal == AMP_STEAL_QUIETEST ? "quietest" : "none");
    names(&w, "inputs", u->input_names, u->n_inputs);
    names(&w, "outputs", u->output_names, u->n_outputs);
    json_write_array(&w, "params", JSON_WRITE_BLOCK);
    for (int i = 0; i < u->n_params; i++) {
        const UnitParam *p = &u->params[i];
        json_write_object(&w, NULL, JSON_WRITE_BLOCK);
        json_write_integer(&w, "index", i);
        json_write_string(&w, "name", p->name);
        json_write_real_digits(&w, "default", p->def, META_DIGITS);
        number_or_null(&w, "min", p->lo);
        number_or_null(&w, "max", p->hi);
        json_write_real_digits(&w, "step", p->step, META_DIGITS);
        json_write_string(&w, "unit", p->unit_label ? p->unit_label : unit_label(p->unit));
        json_write_real_digits(&w, "smooth", p->smooth, META_DIGITS);
        json_write_end(&w);
    }
    json_write_end(&w);
    if (u->ir.samples.n) {     /* the sample slots, in the descriptor's order (ABI 3) */
        json_write_array(&w, "samples", JSON_WRITE_BLOCK);
        for (int k = 0; k < u->ir.samples.n; k++)
            json_write_string(&w, NULL, emit_sample_name(u, k));
        json_write_end(&w);
    }
    json_write_integer(&w, "control_tick", AMP_CHUNK);
    oversampling(&w, u);
    if (st)
        state(&w, st);
    if (plan)
        state_map_emit_json(state_map_build(u->ir.arena, u, plan), &w);
    json_write_end(&w);
    size_t len = 0;
    char *s = json_write_finish(&w, &len);
    text_puts(out, s ? s : "{}");
    text_puts(out, "\n");
    free(s);
}
