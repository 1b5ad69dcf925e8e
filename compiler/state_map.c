/* state_map.c — the state map of a unit (state_map.h): what hot swap
 * carries from a playing patch to its edited text.
 *
 * One entry per live piece of state, in the order the state struct holds
 * it: the states (`state x` of every instance, prev() values), the noise
 * generators, the delay lines' shared write position, the delay lines, the
 * smoothed params, and one opaque entry per Faust instance. Tables and
 * init-rate values are not in it: init() of the new patch makes them.
 *
 * Names are paths through instances, as sema names them ("osc.phase",
 * "flt.ic1"); a name that occurs twice (two prev() of one instance) gets
 * "#2", "#3", ... in order, and noise generators, which have no name, are
 * "noise#1", "noise#2", ... per section. Per-voice entries say "voice", so
 * a patch-wide state and a voice state of the same name never match.
 */
#include "state_map.h"

#include <string.h>
#include "amp_oversample.h"
#include "amp_patch.h"
#include "ir.h"

/* The state struct's layout, as emit_struct prints it: a cursor over its
 * members in order. */
typedef struct StructCursor {
    long at;
} StructCursor;

static long place(StructCursor *l, long align, long size)
{
    l->at = (l->at + align - 1) / align * align;
    long here = l->at;
    l->at += size;
    return here;
}

static int np1(int n)
{
    return n > 0 ? n : 1;
}

static int count_before(const StateMap *m, const char *name)
{
    int k = 0;
    for (int i = 0; i < m->n; i++) {
        const char *s = m->items[i].name;
        size_t n = strlen(name);
        if (!strncmp(s, name, n) && (s[n] == 0 || s[n] == '#'))
            k++;
    }
    return k;
}

static void add(Arena *a, StateMap *m, const char *name, const char *member, int index, int kind, int voice, int len,
                long offset, long size)
{
    int seen = count_before(m, name);
    StateMapEntry *e = &m->items[m->n++];
    e->name = seen ? arena_printf(a, "%s#%d", name, seen + 1) : name;
    e->member = member;
    e->index = index;
    e->kind = kind;
    e->voice = voice;
    e->len = len;
    e->offset = offset;
    e->size = size;
}

static int is_crossing(const Val *v)
{
    return v->live && (v->op == V_OS_IN || v->op == V_OS_OUT);
}

StateMap *state_map_build(Arena *a, const Lowered *u, const Plan *plan)
{
    const Ir *ir = &u->ir;
    StateMap *m = arena_alloc(a, sizeof *m);
    int crossings = 0;
    for (int i = 0; i < ir->vals.n; i++)
        crossings += is_crossing(ir->vals.items[i]);
    int cap = ir->states.n + ir->noises.n + ir->delays.n + ir->externs.n + u->n_params + crossings + 1;
    m->items = arena_alloc(a, sizeof *m->items * (size_t)(cap > 0 ? cap : 1));
    m->lanes = plan->lanes;
    m->slots = plan->groups * plan->lanes;
    const int vec = plan->lanes == 4;
    const long slot_bytes = vec ? 16 : 4, slot_align = vec ? 16 : 4;   /* v4f or float per voice group */
    StructCursor l = { 0 };
    if (u->voices)
        place(&l, _Alignof(AmpVoiceTable), sizeof(AmpVoiceTable));
    place(&l, 4, 4);                                             /* sr */
    place(&l, 4, 4L * np1(u->n_params));                         /* pu */
    place(&l, 4, 4L * np1(u->n_params));                         /* pt */
    long pv = place(&l, 4, 4L * np1(u->n_params));
    place(&l, 4, 4L * np1(u->n_params));                         /* pk */
    place(&l, 4, 4L * np1(plan->n_init));
    if (plan->cache_ctl) {
        place(&l, 4, 4L * np1(plan->n_ctl));
        place(&l, 4, 4);                                         /* ctl_valid */
    }
    for (int k = 0; k < ir->states.n; k++) {
        const StateSlot *s = ir->states.items[k];
        if (!plan->state_live[k])
            continue;
        int voice = s->sec == SEC_VOICE;
        long size = voice ? slot_bytes * plan->groups : 4;
        long at = place(&l, voice ? slot_align : 4, size);
        add(a, m, s->name, arena_printf(a, "st%d", k), -1, AMP_STATE_VALUE, voice, 1, at, size);
    }
    for (int k = 0, voice_n = 0, patch_n = 0; k < ir->noises.n; k++) {
        const NoiseSlot *ns = ir->noises.items[k];
        int voice = ns->sec == SEC_VOICE;
        int nth = voice ? ++voice_n : ++patch_n;
        if (!plan->noise_live[k])
            continue;
        long size = voice ? 16L * plan->groups : 16, at = place(&l, 16, size);   /* v4u */
        add(a, m, arena_printf(a, "noise#%d", nth), arena_printf(a, "nz%d", k), -1, AMP_STATE_NOISE, voice, 1, at,
            size);
    }
    int any_delay = crossings > 0;      /* oversamplers run on the delay lines' position */
    for (int k = 0; k < ir->delays.n; k++)
        any_delay |= plan->delay_live[k];
    if (any_delay) {
        long at = place(&l, 4, 4);
        add(a, m, "delay.position", "dpos", -1, AMP_STATE_POSITION, 0, 1, at, 4);
    }
    for (int k = 0; k < ir->delays.n; k++) {
        const DelaySlot *d = ir->delays.items[k];
        if (!plan->delay_live[k])
            continue;
        int voice = d->sec == SEC_VOICE;
        long size = voice ? slot_bytes * plan->groups * d->len : 4L * d->len;
        long at = place(&l, voice ? slot_align : 4, size);
        add(a, m, d->name, arena_printf(a, "dl%d", k), -1, AMP_STATE_DELAY, voice, d->len, at, size);
        if (d->seconds > 0)
            place(&l, 4, 4);                                     /* dsz */
    }
    for (int k = 0; k < ir->tables.n; k++)                       /* not carried: init() fills them */
        if (plan->table_live[k])
            place(&l, 4, 4L * ((const TableSlot *)ir->tables.items[k])->size);
    for (int i = 0; i < ir->vals.n; i++) {      /* oversamplers' histories, carried like delay lines */
        const Val *v = ir->vals.items[i];
        if (!is_crossing(v))
            continue;
        const RegionSlot *rs = ir->regions.items[v->idx];
        int voice = v->sec == SEC_VOICE, len = v->op == V_OS_IN ? AMP_OS_UP_LEN : AMP_OS_DOWN_LEN;
        long size = voice ? slot_bytes * plan->groups * len : 4L * len;
        long at = place(&l, voice ? slot_align : 4, size);
        char c = v->op == V_OS_IN ? 'u' : 'd';
        add(a, m, arena_printf(a, "%s.%s", rs->name, v->op == V_OS_IN ? "upsampler" : "downsampler"),
            arena_printf(a, "os%c%d", c, v->id), -1, AMP_STATE_DELAY, voice, len, at, size);
    }
    for (int i = 0; i < u->n_params; i++)
        if (u->params[i].smooth > 0)
            add(a, m, arena_printf(a, "param.%s", u->params[i].name), "pv", i, AMP_STATE_PARAM, 0, 1, pv + 4L * i, 4);
    for (int k = 0; k < ir->externs.n; k++) {
        const ExternSlot *x = ir->externs.items[k];
        if (plan->extern_live[k])
            add(a, m, arena_printf(a, "faust.%s", x->name), arena_printf(a, "fx%d", k), -1, AMP_STATE_OPAQUE,
                x->sec == SEC_VOICE, 1, -1, -1);
    }
    return m;
}

void state_map_emit_c(const StateMap *m, const char *state_type, EmitText *c)
{
    text_puts(c, "/* The state map (amp_patch.h AmpStateEntry): what a hot swap carries. */\n");
    text_puts(c, "static const AmpStateEntry state_map[] = {\n");
    for (int i = 0; i < m->n; i++) {
        const StateMapEntry *e = &m->items[i];
        int lanes = e->voice ? m->lanes : 0, slots = e->voice ? m->slots : 0;
        if (e->index >= 0)
            text_printf(c, "    { \"%s\", offsetof(%s, %s) + %d * sizeof(float), sizeof(float), %d, %d, %d, %d },\n",
                        e->name, state_type, e->member, e->index, e->kind, lanes, slots, e->len);
        else
            text_printf(c, "    { \"%s\", offsetof(%s, %s), sizeof(((%s *)0)->%s), %d, %d, %d, %d },\n", e->name,
                        state_type, e->member, state_type, e->member, e->kind, lanes, slots, e->len);
    }
    if (!m->n)
        text_puts(c, "    { \"\", 0, 0, 0, 0, 0, 0 },\n");
    text_puts(c, "};\n\n");
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case AMP_STATE_VALUE: return "value";
    case AMP_STATE_DELAY: return "delay";
    case AMP_STATE_NOISE: return "noise";
    case AMP_STATE_PARAM: return "param";
    case AMP_STATE_POSITION: return "position";
    default: return "opaque";
    }
}

void state_map_emit_json(const StateMap *m, JsonWriter *w)
{
    json_write_array(w, "state_map", JSON_WRITE_BLOCK);
    for (int i = 0; i < m->n; i++) {
        const StateMapEntry *e = &m->items[i];
        json_write_object(w, NULL, JSON_WRITE_INLINE);
        json_write_string(w, "name", e->name);
        json_write_string(w, "type", kind_name(e->kind));   /* not "kind": the unit's own key */
        json_write_string(w, "member", e->member);
        if (e->index >= 0)
            json_write_integer(w, "index", e->index);
        if (e->offset >= 0) {
            json_write_integer(w, "offset", e->offset);
            json_write_integer(w, "size", e->size);
        } else {
            json_write_null(w, "offset");
            json_write_null(w, "size");
        }
        json_write_integer(w, "slots", e->voice ? m->slots : 0);
        json_write_integer(w, "lanes", e->voice ? m->lanes : 0);
        json_write_integer(w, "len", e->len);
        json_write_end(w);
    }
    json_write_end(w);
}
