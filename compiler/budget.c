/* budget.c — the state a patch needs, and its budget (budget.h).
 *
 * The layout below follows emit_struct() in emit_c.c field by field: the
 * same fields, in the same order, with the same liveness (the Plan's), and
 * the C rules for placing them (each field at the next multiple of its
 * alignment, the struct padded to its largest alignment). A Faust node's
 * dsp struct is measured from the prepared C itself. tests/check_budget.c
 * compiles every patch in nodes/ and holds the result to the descriptor's
 * state_size, so a change to the struct that is not made here fails there.
 */
#include "budget.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "amp_oversample.h"
#include "amp_patch.h"
#include "faust.h"
#include "sema.h"

/* The C types of the state's fields: size and alignment. float, int and
 * unsigned are 4 bytes; v4f and v4u (amp_math.h) are 16, aligned to 16;
 * the voice table is what the runtime's header makes it. There are no
 * pointers in a state, so these hold on 64-bit hosts and in wasm32 alike. */
#define SCALAR_BYTES 4
#define VECTOR_BYTES 16

/* The instance sema makes of a node compiled alone (sema.c): not a name
 * the user wrote, so not shown. */
#define NODE_UNIT_INSTANCE "_unit"

typedef struct BudgetLayout {
    Arena *a;
    uint64_t offset;       /* the struct so far */
    uint64_t align;        /* its largest alignment */
    PtrVec items;          /* BudgetItem* */
} BudgetLayout;

static uint64_t round_up(uint64_t n, uint64_t to)
{
    return (n + to - 1) / to * to;
}

/* Place a field of `bytes` aligned to `align`; its size. */
static uint64_t place(BudgetLayout *l, uint64_t bytes, uint64_t align)
{
    l->offset = round_up(l->offset, align) + bytes;
    if (align > l->align)
        l->align = align;
    return bytes;
}

static BudgetItem *item(BudgetLayout *l, const char *name, BudgetItemKind kind, Section sec, uint64_t bytes)
{
    BudgetItem *it = arena_alloc(l->a, sizeof *it);
    memset(it, 0, sizeof *it);
    it->name = it->path = name;
    it->kind = kind;
    it->sec = sec;
    it->bytes = bytes;
    it->order = l->items.n;
    vec_push(l->a, &l->items, it);
    return it;
}

static int at_least_one(int n)
{
    return n > 0 ? n : 1;
}

/* ---- a Faust program's dsp struct --------------------------------------- */

typedef struct FaustCType {
    uint64_t size, align;
} FaustCType;

/* The size of one member type of Faust's C: int, float (FAUSTFLOAT is
 * float, faust.c), double. */
static FaustCType faust_type(const char *word, size_t n)
{
    if (n == 6 && !memcmp(word, "double", 6))
        return (FaustCType){ 8, 8 };
    return (FaustCType){ SCALAR_BYTES, SCALAR_BYTES };
}

/* `TYPE NAME[N][M];` — one member line of the struct. */
static void faust_member(const char *line, const char *end, FaustCType *st)
{
    while (line < end && (*line == ' ' || *line == '\t'))
        line++;
    const char *word = line;
    while (line < end && *line != ' ' && *line != '\t')
        line++;
    if (line >= end || line == word)
        return;
    FaustCType t = faust_type(word, (size_t)(line - word));
    uint64_t count = 1;
    for (const char *b = memchr(line, '[', (size_t)(end - line)); b && b < end;
         b = memchr(b + 1, '[', (size_t)(end - b - 1)))
        count *= (uint64_t)strtoull(b + 1, NULL, 10);
    st->size = round_up(st->size, t.align) + t.size * count;
    if (t.align > st->align)
        st->align = t.align;
}

/* sizeof and alignof the struct `typedef struct { ... } CNAME;` in code. */
static FaustCType faust_struct(const FaustProgram *fp)
{
    FaustCType st = { 0, 1 };
    char close[256];
    snprintf(close, sizeof close, "} %s;", fp->cname);
    const char *end = strstr(fp->code, close);
    if (!end)
        return st;
    const char *open = NULL;
    for (const char *s = fp->code; (s = strstr(s, "typedef struct {")) && s < end; s++)
        open = s;
    if (!open)
        return st;
    const char *line = strchr(open, '\n');
    while (line && line < end) {
        line++;
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *stop = nl ? nl : end;
        const char *semi = memchr(line, ';', (size_t)(stop - line));
        if (semi)
            faust_member(line, semi, &st);
        line = nl;
    }
    st.size = round_up(st.size, st.align);
    return st;
}

/* ---- the state struct ---------------------------------------------------- */

/* A voice value's type: v4f with four lanes, float in a scalar build. */
static uint64_t voice_bytes(const Plan *p)
{
    return p->lanes == 4 ? VECTOR_BYTES : SCALAR_BYTES;
}

static int is_crossing(const Val *v)
{
    return v->live && (v->op == V_OS_IN || v->op == V_OS_OUT);
}

/* Delay lines and oversamplers share the sample counter dpos. */
static int any_live_delay(const Plan *p)
{
    for (int k = 0; k < p->ir->delays.n; k++)
        if (p->delay_live[k])
            return 1;
    for (int i = 0; i < p->ir->vals.n; i++)
        if (is_crossing(p->ir->vals.items[i]))
            return 1;
    return 0;
}

/* The histories of each oversampled region's up- and downsamplers
 * (amp_oversample.h), in the struct's order; one item per region. */
static void lay_oversamplers(BudgetLayout *l, const Plan *p)
{
    const Ir *ir = p->ir;
    if (!ir->regions.n)
        return;
    uint64_t vb = voice_bytes(p), *bytes = arena_alloc(l->a, sizeof(uint64_t) * (size_t)ir->regions.n);
    for (int i = 0; i < ir->vals.n; i++) {
        const Val *v = ir->vals.items[i];
        if (!is_crossing(v))
            continue;
        uint64_t len = v->op == V_OS_IN ? AMP_OS_UP_LEN : AMP_OS_DOWN_LEN;
        bytes[v->idx] += v->sec == SEC_VOICE ? place(l, vb * (uint64_t)p->groups * len, vb)
                                             : place(l, SCALAR_BYTES * len, SCALAR_BYTES);
    }
    for (int r = 0; r < ir->regions.n; r++) {
        const RegionSlot *rs = ir->regions.items[r];
        if (bytes[r])
            item(l, rs->name, BUDGET_OVERSAMPLE, rs->sec, bytes[r])->length = rs->factor;
    }
}

static void lay_params(BudgetLayout *l, const Plan *p)
{
    const Lowered *u = p->u;
    uint64_t bytes = 0;
    if (u->voices)
        item(l, "voices", BUDGET_VOICE_TABLE, SEC_PATCH,
             place(l, sizeof(AmpVoiceTable), _Alignof(AmpVoiceTable)));
    bytes += place(l, SCALAR_BYTES, SCALAR_BYTES);                                 /* sr */
    for (int k = 0; k < 4; k++)                                                    /* pu, pt, pv, pk */
        bytes += place(l, SCALAR_BYTES * (uint64_t)at_least_one(u->n_params), SCALAR_BYTES);
    bytes += place(l, SCALAR_BYTES * (uint64_t)at_least_one(p->n_init), SCALAR_BYTES); /* init */
    if (p->cache_ctl) {
        bytes += place(l, SCALAR_BYTES * (uint64_t)at_least_one(p->n_ctl), SCALAR_BYTES); /* ctl */
        bytes += place(l, SCALAR_BYTES, SCALAR_BYTES);                             /* ctl_valid */
    }
    item(l, "params", BUDGET_PARAMS, SEC_PATCH, bytes);
}

static void lay_slots(BudgetLayout *l, const Plan *p)
{
    const Ir *ir = p->ir;
    uint64_t groups = (uint64_t)p->groups, vb = voice_bytes(p);
    for (int k = 0; k < ir->states.n; k++) {
        const StateSlot *s = ir->states.items[k];
        if (p->state_live[k])
            item(l, s->name, BUDGET_STATE, s->sec, s->sec == SEC_VOICE ? place(l, vb * groups, vb)
                                                                      : place(l, SCALAR_BYTES, SCALAR_BYTES));
    }
    for (int k = 0; k < ir->noises.n; k++) {
        const NoiseSlot *ns = ir->noises.items[k];
        if (p->noise_live[k])
            item(l, "noise", BUDGET_NOISE, ns->sec,
                 place(l, VECTOR_BYTES * (ns->sec == SEC_VOICE ? groups : 1), VECTOR_BYTES));
    }
    if (any_live_delay(p))
        place(l, SCALAR_BYTES, SCALAR_BYTES);                                      /* dpos */
    for (int k = 0; k < ir->delays.n; k++) {
        const DelaySlot *d = ir->delays.items[k];
        if (!p->delay_live[k])
            continue;
        uint64_t len = (uint64_t)d->len;
        uint64_t bytes = d->sec == SEC_VOICE ? place(l, vb * groups * len, vb) : place(l, SCALAR_BYTES * len, SCALAR_BYTES);
        if (d->seconds > 0)
            bytes += place(l, SCALAR_BYTES, SCALAR_BYTES);                         /* dsz */
        BudgetItem *it = item(l, d->name, BUDGET_DELAY, d->sec, bytes);
        it->length = d->len;
        it->seconds = d->seconds;
    }
    for (int k = 0; k < ir->tables.n; k++) {
        const TableSlot *tb = ir->tables.items[k];
        if (p->table_live[k] && !tb->data)   /* a file's data is in the module, not the state */
            item(l, tb->name, BUDGET_TABLE, SEC_PATCH, place(l, SCALAR_BYTES * (uint64_t)tb->size, SCALAR_BYTES))
                ->length = tb->size;
    }
    lay_oversamplers(l, p);
    for (int k = 0; k < ir->externs.n; k++) {
        const ExternSlot *x = ir->externs.items[k];
        if (!p->extern_live[k])
            continue;
        const FaustProgram *fp = x->faust;
        uint64_t slots = x->sec == SEC_VOICE ? groups * (uint64_t)p->lanes : 1;
        FaustCType st = faust_struct(fp);
        uint64_t bytes = place(l, st.size * slots, st.align);
        bytes += place(l, SCALAR_BYTES * slots * (uint64_t)fp->n_int_controls, SCALAR_BYTES);  /* fic */
        bytes += place(l, SCALAR_BYTES * slots * (uint64_t)fp->n_real_controls, SCALAR_BYTES); /* ffc */
        item(l, x->name, BUDGET_FAUST, x->sec, bytes)->program = fp->name;
    }
    for (int k = 0; k < ir->samples.n; k++)    /* AmpSample smp[n]: the same size on every build */
        item(l, ir->samples.items[k], BUDGET_SAMPLE, SEC_PATCH, place(l, sizeof(AmpSample), _Alignof(AmpSample)));
}

static int larger_first(const void *x, const void *y)
{
    const BudgetItem *a = *(BudgetItem *const *)x, *b = *(BudgetItem *const *)y;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    return a->order - b->order;
}

StateBudget *budget_measure(Arena *a, const Plan *p)
{
    BudgetLayout l = { .a = a, .align = SCALAR_BYTES };
    lay_params(&l, p);
    lay_slots(&l, p);
    StateBudget *s = arena_alloc(a, sizeof *s);
    memset(s, 0, sizeof *s);
    s->bytes = round_up(l.offset, l.align);
    s->voice_slots = p->groups * p->lanes;
    s->n_items = l.items.n;
    s->items = arena_alloc(a, sizeof(BudgetItem) * (size_t)(l.items.n + 1));
    qsort(l.items.items, (size_t)l.items.n, sizeof(void *), larger_first);
    for (int i = 0; i < l.items.n; i++) {
        BudgetItem *it = l.items.items[i];
        if (p->u->from_node && !strncmp(it->name, NODE_UNIT_INSTANCE ".", strlen(NODE_UNIT_INSTANCE ".")))
            it->name += strlen(NODE_UNIT_INSTANCE ".");
        if (it->sec == SEC_VOICE && s->voice_slots > 0) {
            it->per_voice = it->bytes / (uint64_t)s->voice_slots;
            s->per_voice += it->per_voice;
        }
        s->items[i] = *it;
    }
    return s;
}

/* ---- reporting ------------------------------------------------------------ */

const char *budget_kind_name(BudgetItemKind k)
{
    switch (k) {
    case BUDGET_VOICE_TABLE: return "voice table";
    case BUDGET_PARAMS: return "params";
    case BUDGET_STATE: return "state";
    case BUDGET_NOISE: return "noise";
    case BUDGET_DELAY: return "delay";
    case BUDGET_TABLE: return "table";
    case BUDGET_SAMPLE: return "sample";
    case BUDGET_FAUST: return "faust";
    case BUDGET_OVERSAMPLE: return "oversample";
    }
    return "?";
}

void budget_format(char *buf, size_t n, uint64_t bytes)
{
    if (bytes < 1024)
        snprintf(buf, n, "%" PRIu64 " bytes", bytes);
    else if (bytes < ((uint64_t)1 << 20))
        snprintf(buf, n, "%.1f KiB", (double)bytes / 1024.0);
    else if (bytes < ((uint64_t)1 << 30))
        snprintf(buf, n, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    else
        snprintf(buf, n, "%.1f GiB", (double)bytes / (1024.0 * 1024.0 * 1024.0));
}

/* "delay 'echo.buf' (60 s, 20 voice slots) 46.9 MiB" */
static void describe(char *buf, size_t n, const BudgetItem *it, int voice_slots)
{
    char size[32], what[64] = "";
    budget_format(size, sizeof size, it->bytes);
    if (it->kind == BUDGET_DELAY && it->seconds > 0)
        snprintf(what, sizeof what, "%.9g s", it->seconds);
    else if (it->kind == BUDGET_DELAY)
        snprintf(what, sizeof what, "%ld samples", it->length);
    else if (it->kind == BUDGET_TABLE)
        snprintf(what, sizeof what, "%ld entries", it->length);
    else if (it->kind == BUDGET_FAUST)
        snprintf(what, sizeof what, "%s", it->program);
    else if (it->kind == BUDGET_OVERSAMPLE)
        snprintf(what, sizeof what, "%ldx", it->length);
    if (it->sec == SEC_VOICE)
        snprintf(what + strlen(what), sizeof what - strlen(what), "%s%d voice slots", what[0] ? ", " : "", voice_slots);
    if (it->kind == BUDGET_PARAMS || it->kind == BUDGET_VOICE_TABLE) {
        snprintf(buf, n, "%s %s", budget_kind_name(it->kind), size);
        return;
    }
    snprintf(buf, n, "%s '%s'%s%s%s %s", budget_kind_name(it->kind), it->name, what[0] ? " (" : "", what,
             what[0] ? ")" : "", size);
}

/* Where the item is declared: the `delay`/`table`/`state` line in its
 * node (*inst then is its instance in the unit patch), else its instance,
 * else the patch. */
static Loc declaration(const BudgetItem *it, PatchScope *ps, PInst **inst)
{
    *inst = NULL;
    Loc at = ps->patch->loc;
    const char *dot = strrchr(it->path, '.');   /* "ch.d1.line": instance "ch.d1" (§11) */
    size_t n = dot ? (size_t)(dot - it->path) : strlen(it->path);
    char name[128];
    if (n >= sizeof name)
        return at;
    memcpy(name, it->path, n);
    name[n] = 0;
    PInst *pi = sema_find_inst(ps, name, it->sec);
    if (!pi)
        pi = sema_find_inst(ps, name, it->sec == SEC_VOICE ? SEC_PATCH : SEC_VOICE);
    if (!pi)
        return at;
    if (dot && pi->node)
        for (Decl *d = pi->node->decls; d; d = d->next)
            if (!strcmp(d->name, dot + 1)) {
                *inst = pi;
                return d->loc;
            }
    return pi->item->loc;
}

int budget_check(const StateBudget *s, PatchScope *ps, Diag *d)
{
    if (s->bytes <= AMPC_STATE_BUDGET)
        return 0;
    char total[32], budget[32], list[1024] = "";
    budget_format(total, sizeof total, s->bytes);
    snprintf(budget, sizeof budget, "%" PRIu64 " MiB", AMPC_STATE_BUDGET >> 20);
    for (int i = 0; i < s->n_items && i < 3; i++) {
        char one[256];
        describe(one, sizeof one, &s->items[i], s->voice_slots);
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", one);
    }
    PInst *inst = NULL;
    Loc at = s->n_items ? declaration(&s->items[0], ps, &inst) : ps->patch->loc;
    diag_error(d, at, "%s '%s' needs %s (%" PRIu64 " bytes) of state at %d kHz; the budget is %s (%" PRIu64 " bytes): %s",
               ps->unit->from_node ? "node" : "patch", ps->unit->name, total, s->bytes, AMP_MAX_SAMPLE_RATE / 1000,
               budget, AMPC_STATE_BUDGET, list);
    if (inst && !ps->unit->from_node)
        diag_note(d, inst->item->loc, "'%s' is in instance '%s' of node '%s'", s->items[0].name, inst->item->name,
                  inst->node->name);
    return 1;
}

void budget_dump(FILE *out, const StateBudget *s)
{
    char size[32];
    budget_format(size, sizeof size, s->bytes);
    fprintf(out, "state: %" PRIu64 " bytes (%s) at every rate, sized for %d Hz", s->bytes, size, AMP_MAX_SAMPLE_RATE);
    if (s->voice_slots)
        fprintf(out, "; %" PRIu64 " bytes per voice slot, %d slots", s->per_voice, s->voice_slots);
    fprintf(out, "\n");
    for (int i = 0; i < s->n_items; i++) {
        char one[320];
        describe(one, sizeof one, &s->items[i], s->voice_slots);
        fprintf(out, "  %10" PRIu64 "  %s\n", s->items[i].bytes, one);
    }
}
