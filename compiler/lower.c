/* lower.c — semantic checks and lowering of a patch to the value graph.
 *
 * One walk does both: lowering an expression checks its names, arity and
 * units and builds its Vals. Nodes are first lowered alone, once each, with
 * stand-in values for their params and inputs, and that is where their
 * errors are reported; then each instance of the unit patch is lowered
 * again with its real bindings (its params bound to the argument values,
 * its inputs to the sum of what is connected), in schedule order.
 *
 * Units of measure: every value carries a dimension, a power of seconds
 * (Hz is s^-1), or "any" for values written without a unit. Adding values
 * of two known, different dimensions is an error; so is binding a param to
 * a value of the wrong dimension, or giving a dimensioned value to a
 * function that expects a plain number.
 */
#include "lower.h"

#include <math.h>
#include <string.h>
#include "amp_patch.h"
#include "faust.h"

typedef struct UDim {
    int known;             /* 0: any (no unit written) */
    int exp;               /* power of seconds */
} UDim;

static const UDim ANY = { 0, 0 };
static const UDim PLAIN = { 1, 0 };
static const UDim FREQ = { 1, -1 };
static const UDim TIME = { 1, 1 };

/* A signal in a patch may have several channels (`voices`); in a node,
 * always one. */
typedef struct Sig {
    int n;
    Val *ch[MAX_CHANNELS];
    UDim d;
} Sig;

typedef enum { SYM_PARAM, SYM_INPUT, SYM_OUTPUT, SYM_STATE, SYM_DELAY, SYM_TABLE, SYM_LET, SYM_INDEX } SymKind;

typedef struct Sym {
    const char *name;
    Loc loc;
    SymKind kind;
    Val *val;              /* current value (state: as assigned so far) */
    UDim d;
    StateSlot *state;
    DelaySlot *delay;
    TableSlot *table;
    int slot;              /* delay or table: its index in the Ir */
    int assigned;          /* output assigned */
    int written;           /* delay written */
    struct Sym *next;
} Sym;

typedef struct PInst {
    GraphItem *item;
    Node *node;
    Section sec;
    int color;             /* 0 new, 1 on the DFS stack, 2 done */
    int lowered;
    int n_outs;
    Val **outs;
    struct PInst *via;     /* DFS parent, to print a cycle */
} PInst;

typedef struct PLet {
    GraphItem *item;
    Section sec;
    int busy;              /* being lowered: a let that refers to itself */
    int done;
    Sig value;
    int channels;          /* expr_channels() of its value, 0 until known */
    int deps_done;         /* deps holds the instances its value reads */
    PtrVec deps;
} PLet;

typedef struct PConn {
    GraphItem *item;
    Section sec;
    int done;
    Sig value;
} PConn;

typedef struct Deferred {
    StateSlot *slot[MAX_CHANNELS];
    int n;
    Expr *expr;
    Section sec;
} Deferred;

/* Names to items, hashed (a patch may hold tens of thousands of lets). */
typedef struct NameEntry {
    const char *name;
    Section sec;
    void *item;
} NameEntry;

typedef struct NameIndex {
    NameEntry *slots;      /* open addressing; name NULL: empty */
    int cap, n;
} NameIndex;

typedef struct PatchScope {
    Patch *patch;
    Lowered *unit;
    PtrVec insts, lets, conns, deferred;
    NameIndex inst_ix, let_ix;
    Sig voicebus;
} PatchScope;

typedef struct Ctx {
    Program *prog;
    Diag *d;
    Arena *a;
    Ir *ir;
    Section sec;
    /* node scope */
    Sym *syms;
    const char *inst;      /* instance name, for slot names */
    int in_table;          /* lowering a table fill: `i` is bound */
    /* patch scope (NULL inside a node) */
    PatchScope *ps;
    int let_depth;         /* patch lets being walked, one inside another */
} Ctx;

/* A patch let read through a chain of more lets than this is an error, as
 * an expression nested too deeply is (each walk over lets recurses). */
enum { LET_NEST_LIMIT = AST_MAX_DEPTH };

/* ---- helpers ------------------------------------------------------------ */

static const char *dim_text(UDim d)
{
    if (!d.known) return "a plain number";
    switch (d.exp) {
    case 0: return "a plain number";
    case 1: return "a time (s)";
    case -1: return "a frequency (Hz)";
    case 2: return "a time squared (s^2)";
    case -2: return "a frequency squared (Hz^2)";
    default: return "a value of unusual dimension";
    }
}

static int dims_clash(UDim x, UDim y)
{
    return x.known && y.known && x.exp != y.exp;
}

static UDim dim_join(UDim x, UDim y)
{
    return x.known ? x : y;
}

static Sig sig1(Val *v, UDim d)
{
    Sig s = { 0 };
    s.n = 1;
    s.ch[0] = v;
    s.d = d;
    return s;
}

static Sig sig_zero(Ctx *c)
{
    return sig1(ir_const(c->ir, 0), ANY);
}

static Node *find_node(Program *p, const char *name)
{
    for (int i = 0; i < p->nodes.n; i++) {
        Node *n = p->nodes.items[i];
        if (strcmp(n->name, name) == 0)
            return n;
    }
    return NULL;
}

static Patch *find_patch(Program *p, const char *name)
{
    for (int i = 0; i < p->patches.n; i++) {
        Patch *pa = p->patches.items[i];
        if (strcmp(pa->name, name) == 0)
            return pa;
    }
    return NULL;
}

static Sym *find_sym(Sym *s, const char *name)
{
    for (; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

static Sym *add_sym(Ctx *c, const char *name, Loc loc, SymKind kind)
{
    Sym *old = find_sym(c->syms, name);
    if (strcmp(name, "pi") == 0 || strcmp(name, "SR") == 0)
        diag_error(c->d, loc, "'%s' is a built-in name and cannot be redefined", name);
    else if (old) {
        diag_error(c->d, loc, "'%s' is already defined", name);
        diag_note(c->d, old->loc, "'%s' was defined here", name);
    }
    Sym *s = arena_alloc(c->a, sizeof *s);
    s->name = name;
    s->loc = loc;
    s->kind = kind;
    s->next = c->syms;
    c->syms = s;
    return s;
}

static const char *slot_name(Ctx *c, const char *name)
{
    return c->inst ? arena_printf(c->a, "%s.%s", c->inst, name) : name;
}

/* ---- expressions ------------------------------------------------------- */

static Sig lower_expr(Ctx *c, Expr *e);

/* One operation applied channel by channel, a one-channel operand
 * broadcast over a many-channel one. */
static Sig map2(Ctx *c, Loc loc, ValOp op, int idx, Sig x, Sig y, UDim d)
{
    Sig r = { 0 };
    if (x.n != y.n && x.n != 1 && y.n != 1) {
        diag_error(c->d, loc, "cannot combine signals of %d and %d channels", x.n, y.n);
        return sig_zero(c);
    }
    r.n = x.n > y.n ? x.n : y.n;
    for (int i = 0; i < r.n; i++)
        r.ch[i] = ir_op(c->ir, op, idx, x.ch[x.n == 1 ? 0 : i], y.ch[y.n == 1 ? 0 : i], NULL);
    r.d = d;
    return r;
}

static Sig map1(Ctx *c, ValOp op, int idx, Sig x, UDim d)
{
    Sig r = x;
    for (int i = 0; i < x.n; i++)
        r.ch[i] = ir_op(c->ir, op, idx, x.ch[i], NULL, NULL);
    r.d = d;
    return r;
}

static UDim dim_mul(UDim x, UDim y, int sign)
{
    if (!x.known && !y.known)
        return ANY;
    UDim r = { 1, (x.known ? x.exp : 0) + sign * (y.known ? y.exp : 0) };
    return r;
}

/* expr -> expr op expr */
static Sig lower_binary(Ctx *c, Expr *e)
{
    static const ValOp ops[] = {
        [OP_ADD] = V_ADD, [OP_SUB] = V_SUB, [OP_MUL] = V_MUL, [OP_DIV] = V_DIV, [OP_MOD] = V_MOD,
        [OP_LT] = V_LT, [OP_LE] = V_LE, [OP_GT] = V_GT, [OP_GE] = V_GE, [OP_EQ] = V_EQ,
        [OP_NE] = V_NE, [OP_AND] = V_AND, [OP_OR] = V_OR,
    };
    Sig x = lower_expr(c, e->a);
    Sig y = lower_expr(c, e->b);
    UDim d = ANY;
    switch (e->op) {
    case OP_ADD: case OP_SUB: case OP_MOD:
    case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_EQ: case OP_NE:
        if (dims_clash(x.d, y.d)) {
            const char *verb = e->op == OP_ADD ? "add" : e->op == OP_SUB ? "subtract" :
                               e->op == OP_MOD ? "take the modulo of" : "compare";
            diag_error(c->d, e->loc, "cannot %s %s and %s", verb, dim_text(x.d), dim_text(y.d));
        }
        if (e->op == OP_ADD || e->op == OP_SUB || e->op == OP_MOD)
            d = dim_join(x.d, y.d);
        break;
    case OP_MUL:
        d = dim_mul(x.d, y.d, 1);
        break;
    case OP_DIV:
        d = dim_mul(x.d, y.d, -1);
        for (int i = 0; i < y.n; i++)
            if (ir_is_const(y.ch[i], 0)) {
                diag_error(c->d, e->b->loc, "division by zero");
                break;
            }
        break;
    default:
        break;
    }
    return map2(c, e->loc, ops[e->op], 0, x, y, d);
}

static Sig lower_cond(Ctx *c, Expr *e)
{
    Sig q = lower_expr(c, e->a);
    Sig x = lower_expr(c, e->b);
    Sig y = lower_expr(c, e->c);
    if (dims_clash(x.d, y.d))
        diag_error(c->d, e->loc, "the two branches of '?:' are %s and %s", dim_text(x.d), dim_text(y.d));
    int n = q.n > x.n ? q.n : x.n;
    if (y.n > n)
        n = y.n;
    if ((q.n != 1 && q.n != n) || (x.n != 1 && x.n != n) || (y.n != 1 && y.n != n)) {
        diag_error(c->d, e->loc, "cannot combine signals of different channel counts in '?:'");
        return sig_zero(c);
    }
    Sig r = { 0 };
    r.n = n;
    r.d = dim_join(x.d, y.d);
    for (int i = 0; i < n; i++)
        r.ch[i] = ir_op(c->ir, V_SELECT, 0, q.ch[q.n == 1 ? 0 : i], x.ch[x.n == 1 ? 0 : i],
                        y.ch[y.n == 1 ? 0 : i]);
    return r;
}

static int count_args(Arg *a)
{
    int n = 0;
    for (; a; a = a->next)
        n++;
    return n;
}

static int check_positional(Ctx *c, Expr *e, const char *what, int want)
{
    for (Arg *a = e->args; a; a = a->next)
        if (a->name) {
            diag_error(c->d, a->loc, "%s takes positional arguments, not '%s:'", what, a->name);
            return 0;
        }
    int n = count_args(e->args);
    if (n != want) {
        diag_error(c->d, e->loc, "%s takes %d argument%s, got %d", what, want, want == 1 ? "" : "s", n);
        return 0;
    }
    return 1;
}

static Sig lower_prev(Ctx *c, Expr *e);

/* name(args): built-in functions, noise(), prev() */
static Sig lower_call(Ctx *c, Expr *e)
{
    const char *name = e->name;
    if (strcmp(name, "noise") == 0) {
        if (!check_positional(c, e, "noise()", 0))
            return sig_zero(c);
        return sig1(ir_noise(c->ir, c->sec), ANY);
    }
    if (strcmp(name, "prev") == 0) {
        if (!check_positional(c, e, "prev()", 1))
            return sig_zero(c);
        return lower_prev(c, e);
    }
    if (strcmp(name, "clamp") == 0) {
        if (!check_positional(c, e, "clamp()", 3))
            return sig_zero(c);
        Sig x = lower_expr(c, e->args->value);
        Sig lo = lower_expr(c, e->args->next->value);
        Sig hi = lower_expr(c, e->args->next->next->value);
        if (dims_clash(x.d, lo.d) || dims_clash(x.d, hi.d) || dims_clash(lo.d, hi.d))
            diag_error(c->d, e->loc, "clamp() needs a value and bounds of the same unit");
        if (lo.n != 1 || hi.n != 1) {
            diag_error(c->d, e->loc, "the bounds of clamp() must be single signals");
            return sig_zero(c);
        }
        Sig r = x;
        for (int i = 0; i < x.n; i++)
            r.ch[i] = ir_op(c->ir, V_CLAMP, 0, x.ch[i], lo.ch[0], hi.ch[0]);
        r.d = dim_join(x.d, dim_join(lo.d, hi.d));
        return r;
    }
    int f = func_lookup(name);
    if (f < 0) {
        if (find_node(c->prog, name))
            diag_error(c->d, e->loc, "'%s' is a node; instances are made in a patch: name = %s(...);", name, name);
        else
            diag_error(c->d, e->loc, "unknown function '%s'", name);
        return sig_zero(c);
    }
    char what[64];
    snprintf(what, sizeof what, "%s()", name);
    if (!check_positional(c, e, what, func_arity((Func)f)))
        return sig_zero(c);
    Sig x = lower_expr(c, e->args->value);
    if (func_arity((Func)f) == 1) {
        UDim d = PLAIN;
        if (f == F_ABS || func_rounds((Func)f))
            d = x.d;
        else if (x.d.known && x.d.exp != 0)
            diag_error(c->d, e->args->value->loc, "%s() takes a plain number, not %s", name, dim_text(x.d));
        if (f == F_FRACT)
            d = ANY;
        return map1(c, V_FUNC1, f, x, d);
    }
    Sig y = lower_expr(c, e->args->next->value);
    UDim d = PLAIN;
    if (f == F_MIN || f == F_MAX) {
        if (dims_clash(x.d, y.d))
            diag_error(c->d, e->loc, "%s() of %s and %s", name, dim_text(x.d), dim_text(y.d));
        d = dim_join(x.d, y.d);
    } else if (f == F_POW) {
        if (x.d.known && x.d.exp != 0)
            diag_error(c->d, e->args->value->loc, "pow() takes a plain number, not %s", dim_text(x.d));
    } else if (f == F_ATAN2) {
        if (dims_clash(x.d, y.d))
            diag_error(c->d, e->loc, "atan2() of %s and %s", dim_text(x.d), dim_text(y.d));
    }
    return map2(c, e->loc, V_FUNC2, f, x, y, d);
}

/* prev(x): the value x had one sample earlier. Inside a node the argument
 * is lowered at once; in a patch it may name instances that are scheduled
 * later (that is what breaks a loop), so it is lowered at the end. */
static int expr_channels(Ctx *c, Expr *e);

static Sig lower_prev(Ctx *c, Expr *e)
{
    Expr *x = e->args->value;
    Sig r = { 0 };
    r.d = ANY;
    if (!c->ps) {
        Sig v = lower_expr(c, x);
        r.n = v.n;
        r.d = v.d;
        for (int i = 0; i < v.n; i++) {
            StateSlot *s = ir_state(c->ir, slot_name(c, "prev"), c->sec, ir_const(c->ir, 0));
            s->is_prev = 1;
            s->end = v.ch[i];
            r.ch[i] = s->start;
        }
        return r;
    }
    Deferred *df = arena_alloc(c->a, sizeof *df);
    df->expr = x;
    df->sec = c->sec;
    df->n = expr_channels(c, x);
    r.n = df->n;
    for (int i = 0; i < df->n; i++) {
        df->slot[i] = ir_state(c->ir, "prev", c->sec, ir_const(c->ir, 0));
        df->slot[i]->is_prev = 1;
        r.ch[i] = df->slot[i]->start;
    }
    vec_push(c->a, &c->ps->deferred, df);
    return r;
}

/* ---- names in a node --------------------------------------------------- */

static Sig lower_node_name(Ctx *c, Expr *e)
{
    Sym *s = find_sym(c->syms, e->name);
    if (!s) {
        if (strcmp(e->name, "i") == 0 && c->in_table)
            return sig1(ir_leaf(c->ir, V_TINDEX, 0, RATE_INIT, SEC_PATCH), PLAIN);
        diag_error(c->d, e->loc, "unknown name '%s'", e->name);
        return sig_zero(c);
    }
    switch (s->kind) {
    case SYM_DELAY:
        diag_error(c->d, e->loc, "'%s' is a delay line; read it with %s.read(samples)", s->name, s->name);
        return sig_zero(c);
    case SYM_TABLE:
        diag_error(c->d, e->loc, "'%s' is a table; read it with %s.at(index) or %s.lerp(position)",
                   s->name, s->name, s->name);
        return sig_zero(c);
    case SYM_OUTPUT:
        if (!s->assigned) {
            diag_error(c->d, e->loc, "output '%s' is read before it is assigned", s->name);
            return sig_zero(c);
        }
        return sig1(s->val, s->d);
    default:
        return sig1(s->val, s->d);
    }
}

/* obj.method(args): delay and table reads */
static Sig lower_method(Ctx *c, Expr *e)
{
    if (e->a->kind != EX_NAME || c->ps) {
        diag_error(c->d, e->loc, "'.%s(...)' can only be called on a delay line or a table", e->name);
        return sig_zero(c);
    }
    Sym *s = find_sym(c->syms, e->a->name);
    if (!s) {
        diag_error(c->d, e->a->loc, "unknown name '%s'", e->a->name);
        return sig_zero(c);
    }
    char what[96];
    if (s->kind == SYM_DELAY) {
        if (strcmp(e->name, "read") != 0) {
            if (strcmp(e->name, "write") == 0)
                diag_error(c->d, e->loc, "'%s.write(...)' is a statement; it gives no value", s->name);
            else
                diag_error(c->d, e->loc, "delay line '%s' has no method '%s' (read, write)", s->name, e->name);
            return sig_zero(c);
        }
        snprintf(what, sizeof what, "%s.read()", s->name);
        if (!check_positional(c, e, what, 1))
            return sig_zero(c);
        Sig x = lower_expr(c, e->args->value);
        Val *d = x.ch[0];
        if (x.d.known && x.d.exp == 1)
            d = ir_op(c->ir, V_MUL, 0, d, ir_leaf(c->ir, V_SR, 0, RATE_INIT, SEC_PATCH), NULL);
        else if (x.d.known && x.d.exp != 0)
            diag_error(c->d, e->args->value->loc, "a delay is read in samples or as a time, not %s",
                       dim_text(x.d));
        return sig1(ir_op(c->ir, V_DELAY_READ, s->slot, d, NULL, NULL), ANY);
    }
    if (s->kind == SYM_TABLE) {
        int lerp = strcmp(e->name, "lerp") == 0;
        if (!lerp && strcmp(e->name, "at") != 0) {
            diag_error(c->d, e->loc, "table '%s' has no method '%s' (at, lerp)", s->name, e->name);
            return sig_zero(c);
        }
        snprintf(what, sizeof what, "%s.%s()", s->name, e->name);
        if (!check_positional(c, e, what, 1))
            return sig_zero(c);
        Sig x = lower_expr(c, e->args->value);
        return sig1(ir_op(c->ir, lerp ? V_TABLE_LERP : V_TABLE_AT, s->slot, x.ch[0], NULL, NULL), ANY);
    }
    diag_error(c->d, e->loc, "'%s' has no method '%s': only delay lines and tables do", s->name, e->name);
    return sig_zero(c);
}

/* ---- names in a patch ---------------------------------------------------- */

static uint32_t name_hash(const char *name, Section sec)
{
    uint32_t h = 2166136261u ^ (uint32_t)sec;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static void *ix_get(const NameIndex *ix, const char *name, Section sec)
{
    if (!ix->cap)
        return NULL;
    for (uint32_t i = name_hash(name, sec) & (uint32_t)(ix->cap - 1);; i = (i + 1) & (uint32_t)(ix->cap - 1)) {
        const NameEntry *e = &ix->slots[i];
        if (!e->name)
            return NULL;
        if (e->sec == sec && strcmp(e->name, name) == 0)
            return e->item;
    }
}

/* Add a name not in the index yet (the arena keeps old tables). */
static void ix_put(Arena *a, NameIndex *ix, const char *name, Section sec, void *item)
{
    if (2 * (ix->n + 1) > ix->cap) {
        NameIndex bigger = { arena_alloc(a, sizeof(NameEntry) * (size_t)(ix->cap ? 2 * ix->cap : 64)),
                             ix->cap ? 2 * ix->cap : 64, 0 };
        memset(bigger.slots, 0, sizeof(NameEntry) * (size_t)bigger.cap);
        for (int k = 0; k < ix->cap; k++)
            if (ix->slots[k].name)
                ix_put(a, &bigger, ix->slots[k].name, ix->slots[k].sec, ix->slots[k].item);
        *ix = bigger;
    }
    uint32_t i = name_hash(name, sec) & (uint32_t)(ix->cap - 1);
    while (ix->slots[i].name)
        i = (i + 1) & (uint32_t)(ix->cap - 1);
    ix->slots[i] = (NameEntry){ name, sec, item };
    ix->n++;
}

static PInst *find_inst(PatchScope *ps, const char *name, Section sec)
{
    return ix_get(&ps->inst_ix, name, sec);
}

static PLet *find_let(PatchScope *ps, const char *name, Section sec)
{
    return ix_get(&ps->let_ix, name, sec);
}

static int find_param(Lowered *u, const char *name)
{
    for (int i = 0; i < u->n_params; i++)
        if (strcmp(u->params[i].name, name) == 0)
            return i;
    return -1;
}

static int find_name(const char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

static UDim unit_dim(int unit)
{
    return unit == AMP_UNIT_HZ ? FREQ : unit == AMP_UNIT_S ? TIME : unit == AMP_UNIT_DB ? PLAIN : ANY;
}

static Sig lower_let(Ctx *c, PLet *l);

static Sig lower_patch_name(Ctx *c, Expr *e)
{
    PatchScope *ps = c->ps;
    Lowered *u = ps->unit;
    const char *name = e->name;
    PLet *l = find_let(ps, name, c->sec);
    if (l)
        return lower_let(c, l);
    int k = find_param(u, name);
    if (k >= 0)
        return sig1(ir_leaf(c->ir, V_PARAM, k, RATE_CONTROL, SEC_PATCH), unit_dim(u->params[k].unit));
    k = find_name(u->input_names, u->n_inputs, name);
    if (k >= 0)
        return sig1(ir_leaf(c->ir, V_INPUT, k, RATE_AUDIO, SEC_PATCH), ANY);
    if (strcmp(name, "voices") == 0) {
        if (c->sec == SEC_VOICE) {
            diag_error(c->d, e->loc, "'voices' (the sum of all voices) cannot be used inside the voice block");
            return sig_zero(c);
        }
        if (!u->voices) {
            diag_error(c->d, e->loc, "'voices' needs a voice section: add 'voices N;' and a voice { } block");
            return sig_zero(c);
        }
        return ps->voicebus;
    }
    if (find_inst(ps, name, c->sec)) {
        diag_error(c->d, e->loc, "'%s' is an instance; read one of its outputs, as in %s.y", name, name);
        return sig_zero(c);
    }
    if (strcmp(name, "note") == 0) {
        diag_error(c->d, e->loc, "'note' has fields: note.freq, note.key, note.vel, note.gate");
        return sig_zero(c);
    }
    if (c->sec == SEC_PATCH && find_inst(ps, name, SEC_VOICE))
        diag_error(c->d, e->loc, "'%s' is inside the voice block; outside it, use 'voices'", name);
    else if (c->sec == SEC_VOICE && find_inst(ps, name, SEC_PATCH))
        diag_error(c->d, e->loc, "'%s' is outside the voice block and cannot be used inside it", name);
    else
        diag_error(c->d, e->loc, "unknown name '%s'", name);
    return sig_zero(c);
}

static void lower_inst(Ctx *c, PInst *p);

static Sig lower_patch_field(Ctx *c, Expr *e)
{
    PatchScope *ps = c->ps;
    Lowered *u = ps->unit;
    if (e->a->kind != EX_NAME) {
        diag_error(c->d, e->loc, "'.%s' must follow an instance name, 'note' or 'voices'", e->name);
        return sig_zero(c);
    }
    const char *obj = e->a->name;
    if (strcmp(obj, "note") == 0 && !find_inst(ps, obj, c->sec)) {
        static const char *fields[NOTE_COUNT] = { "freq", "key", "vel", "gate" };
        static const UDim dims[NOTE_COUNT] = { { 1, -1 }, { 0, 0 }, { 0, 0 }, { 0, 0 } };
        if (c->sec != SEC_VOICE) {
            diag_error(c->d, e->loc, "'note.%s' is only known inside a voice block", e->name);
            return sig_zero(c);
        }
        for (int i = 0; i < NOTE_COUNT; i++)
            if (strcmp(fields[i], e->name) == 0)
                return sig1(ir_leaf(c->ir, V_NOTE, i, RATE_CONTROL, SEC_VOICE), dims[i]);
        diag_error(c->d, e->loc, "'note' has no field '%s' (freq, key, vel, gate)", e->name);
        return sig_zero(c);
    }
    if (strcmp(obj, "voices") == 0 && !find_inst(ps, obj, c->sec)) {
        Sig all = lower_patch_name(c, e->a);
        if (all.n <= 1)
            return all;
        int k = find_name(u->output_names, u->n_outputs, e->name);
        if (k < 0) {
            diag_error(c->d, e->loc, "'voices' has no channel '%s'", e->name);
            return sig_zero(c);
        }
        return sig1(all.ch[k], ANY);
    }
    PInst *p = find_inst(ps, obj, c->sec);
    if (!p)
        return lower_patch_name(c, e->a);
    for (Ident *o = p->node->outs; o; o = o->next) {
        if (strcmp(o->name, e->name) != 0)
            continue;
        if (!p->lowered)
            lower_inst(c, p);
        if (!p->outs)      /* still being lowered: a loop, reported by schedule() */
            return sig_zero(c);
        int k = 0;
        for (Ident *q = p->node->outs; q != o; q = q->next)
            k++;
        return sig1(p->outs[k], ANY);
    }
    diag_error(c->d, e->loc, "'%s' (node %s) has no output '%s'", obj, p->node->name, e->name);
    return sig_zero(c);
}

static Sig lower_let(Ctx *c, PLet *l)
{
    if (l->done)
        return l->value;
    if (l->busy) {
        diag_error(c->d, l->item->loc, "'%s' is defined in terms of itself", l->item->name);
        l->done = 1;
        l->value = sig_zero(c);
        return l->value;
    }
    if (c->let_depth >= LET_NEST_LIMIT) {
        diag_error(c->d, l->item->loc, "'%s' is read through a chain of more than %d lets", l->item->name,
                   LET_NEST_LIMIT);
        l->done = 1;
        l->value = sig_zero(c);
        return l->value;
    }
    l->busy = 1;
    c->let_depth++;
    Section saved = c->sec;
    c->sec = l->sec;
    l->value = lower_expr(c, l->item->value);
    c->sec = saved;
    c->let_depth--;
    l->busy = 0;
    l->done = 1;
    return l->value;
}

/* ---- the expression walk --------------------------------------------------- */

static Sig lower_expr(Ctx *c, Expr *e)
{
    switch (e->kind) {
    case EX_NUM: {
        UDim d = ANY;
        if (e->unit == UNIT_HZ || e->unit == UNIT_KHZ) d = FREQ;
        else if (e->unit == UNIT_S || e->unit == UNIT_MS) d = TIME;
        else if (e->unit == UNIT_DB) d = PLAIN;
        return sig1(ir_const(c->ir, e->num), d);
    }
    case EX_NAME:
        if (strcmp(e->name, "pi") == 0)
            return sig1(ir_const(c->ir, M_PI), PLAIN);
        if (strcmp(e->name, "SR") == 0)
            return sig1(ir_leaf(c->ir, V_SR, 0, RATE_INIT, SEC_PATCH), FREQ);
        return c->ps ? lower_patch_name(c, e) : lower_node_name(c, e);
    case EX_FIELD:
        if (!c->ps) {
            diag_error(c->d, e->loc, "'.%s': a node has no instances to read from", e->name);
            return sig_zero(c);
        }
        return lower_patch_field(c, e);
    case EX_CALL:
        return lower_call(c, e);
    case EX_METHOD:
        return lower_method(c, e);
    case EX_UNARY: {
        Sig x = lower_expr(c, e->a);
        if (e->op == OP_NEG)
            return map1(c, V_NEG, 0, x, x.d);
        return map1(c, V_NOT, 0, x, ANY);
    }
    case EX_BINARY:
        return lower_binary(c, e);
    case EX_COND:
        return lower_cond(c, e);
    }
    return sig_zero(c);
}

/* How many channels an expression has, without lowering it (prev() in a
 * patch needs it before its argument can be lowered). */
/* A let's channels, worked out once per let so that chains of lets stay
 * linear (one being worked out, or read past LET_NEST_LIMIT, waits). */
static void let_channels(Ctx *c, PLet *l)
{
    if (l->channels || l->busy || c->let_depth >= LET_NEST_LIMIT)
        return;
    l->busy = 1;
    c->let_depth++;
    l->channels = expr_channels(c, l->item->value);
    c->let_depth--;
    l->busy = 0;
}

static int expr_channels(Ctx *c, Expr *e)
{
    if (!e)
        return 1;
    if (e->kind == EX_NAME && strcmp(e->name, "voices") == 0 && c->sec == SEC_PATCH &&
        !find_let(c->ps, "voices", c->sec))
        return c->ps->unit->n_outputs;
    if (e->kind == EX_NAME) {
        PLet *l = find_let(c->ps, e->name, c->sec);
        if (l)
            let_channels(c, l);
        return l && l->channels ? l->channels : 1;
    }
    if (e->kind == EX_FIELD || e->kind == EX_NUM)
        return 1;
    int n = 1;
    Expr *sub[3] = { e->a, e->b, e->c };
    for (int i = 0; i < 3; i++) {
        int k = sub[i] ? expr_channels(c, sub[i]) : 1;
        if (k > n) n = k;
    }
    for (Arg *a = e->args; a; a = a->next) {
        int k = expr_channels(c, a->value);
        if (k > n) n = k;
    }
    return n;
}

/* A value that must be known when the patch is compiled. */
static int const_value(Ctx *c, Expr *e, const char *what, double *out, UDim *dim)
{
    Sig s = lower_expr(c, e);
    if (dim)
        *dim = s.d;
    if (s.n != 1 || s.ch[0]->op != V_CONST) {
        diag_error(c->d, e->loc, "%s must be a constant", what);
        return 0;
    }
    *out = s.ch[0]->k;
    return 1;
}

/* ---- nodes ------------------------------------------------------------------- */

typedef struct NodeBinding {
    Val **params;          /* per param, in declaration order */
    UDim *param_dims;
    Val **inputs;          /* per input */
} NodeBinding;

static int ident_count(Ident *i)
{
    int n = 0;
    for (; i; i = i->next)
        n++;
    return n;
}

static int param_count(Param *p)
{
    int n = 0;
    for (; p; p = p->next)
        n++;
    return n;
}

/* Lower the declarations and the process block of a node with its params
 * and inputs bound; fill outs (one Val per output). */
static void lower_node_body(Ctx *c, Node *n, NodeBinding *b, Val **outs)
{
    c->syms = NULL;
    int k = 0;
    for (Param *p = n->params; p; p = p->next, k++) {
        Sym *s = add_sym(c, p->name, p->loc, SYM_PARAM);
        s->val = b->params[k];
        s->d = b->param_dims[k];
    }
    k = 0;
    for (Ident *i = n->ins; i; i = i->next, k++) {
        Sym *s = add_sym(c, i->name, i->loc, SYM_INPUT);
        s->val = b->inputs[k];
        s->d = ANY;
    }
    for (Ident *o = n->outs; o; o = o->next) {
        Sym *s = add_sym(c, o->name, o->loc, SYM_OUTPUT);
        s->d = ANY;
    }
    for (Decl *d = n->decls; d; d = d->next) {
        switch (d->kind) {
        case DECL_LET: {
            Sig v = lower_expr(c, d->value);
            Sym *s = add_sym(c, d->name, d->loc, SYM_LET);
            s->val = v.ch[0];
            s->d = v.d;
            if (!v.ch[0]->name)
                v.ch[0]->name = slot_name(c, d->name);
            break;
        }
        case DECL_STATE: {
            Sig v = lower_expr(c, d->value);
            if (v.ch[0]->rate > RATE_INIT) {
                diag_error(c->d, d->value->loc, "the initial value of state '%s' must not depend on %s",
                           d->name, v.ch[0]->rate == RATE_CONTROL ? "params" : "signals");
                v = sig_zero(c);
            }
            Sym *s = add_sym(c, d->name, d->loc, SYM_STATE);
            s->state = ir_state(c->ir, slot_name(c, d->name), c->sec, v.ch[0]);
            s->val = s->state->start;
            s->val->name = s->state->name;
            s->d = v.d;
            break;
        }
        case DECL_DELAY: {
            double size = 1;
            UDim dim;
            if (const_value(c, d->size, "the size of a delay line", &size, &dim)) {
                if (dim.known && dim.exp == 1)
                    size *= 96000.0;
                else if (dim.known && dim.exp != 0)
                    diag_error(c->d, d->size->loc, "a delay size is a number of samples or a time, not %s",
                               dim_text(dim));
                if (!(size >= 1 && size <= 4194304)) {
                    diag_error(c->d, d->size->loc, "a delay line holds 1 to 4194304 samples; this one asks for %.9g", size);
                    size = 1;
                }
            }
            Sym *s = add_sym(c, d->name, d->loc, SYM_DELAY);
            s->delay = ir_delay(c->ir, slot_name(c, d->name), c->sec, (int)ceil(size));
            s->slot = c->ir->delays.n - 1;
            break;
        }
        case DECL_TABLE: {
            double size = 1;
            if (const_value(c, d->size, "the size of a table", &size, NULL) && !(size >= 1 && size <= 1048576)) {
                diag_error(c->d, d->size->loc, "a table holds 1 to 1048576 entries; this one asks for %.9g", size);
                size = 1;
            }
            c->in_table = 1;
            Sig v = lower_expr(c, d->value);
            c->in_table = 0;
            if (v.ch[0]->rate > RATE_INIT) {
                diag_error(c->d, d->value->loc, "the contents of table '%s' may depend only on i, SR and constants",
                           d->name);
                v = sig_zero(c);
            }
            Sym *s = add_sym(c, d->name, d->loc, SYM_TABLE);
            s->table = ir_table(c->ir, slot_name(c, d->name), (int)ceil(size));
            s->table->fill = v.ch[0];
            s->slot = c->ir->tables.n - 1;
            break;
        }
        }
    }
    for (Stmt *st = n->process; st; st = st->next) {
        Sig v = lower_expr(c, st->value);
        switch (st->kind) {
        case ST_LET: {
            Sym *s = add_sym(c, st->name, st->name_loc, SYM_LET);
            s->val = v.ch[0];
            s->d = v.d;
            if (!v.ch[0]->name)
                v.ch[0]->name = slot_name(c, st->name);
            break;
        }
        case ST_ASSIGN: {
            Sym *s = find_sym(c->syms, st->name);
            if (!s) {
                diag_error(c->d, st->name_loc, "unknown name '%s' (declare it with 'state %s = 0;' or 'out %s;')",
                           st->name, st->name, st->name);
            } else if (s->kind == SYM_STATE) {
                if (dims_clash(s->d, v.d))
                    diag_error(c->d, st->loc, "state '%s' holds %s, not %s", s->name, dim_text(s->d), dim_text(v.d));
                s->val = v.ch[0];
            } else if (s->kind == SYM_OUTPUT) {
                s->val = v.ch[0];
                s->assigned = 1;
            } else {
                static const char *kinds[] = { "a param", "an input", "an output", "a state", "a delay line",
                                               "a table", "a let", "the table index" };
                diag_error(c->d, st->name_loc, "cannot assign to '%s': it is %s (only states and outputs can be assigned)",
                           s->name, kinds[s->kind]);
            }
            break;
        }
        case ST_WRITE: {
            Sym *s = find_sym(c->syms, st->name);
            if (!s || s->kind != SYM_DELAY) {
                diag_error(c->d, st->name_loc, "'%s' is not a delay line", st->name);
            } else if (s->written) {
                diag_error(c->d, st->loc, "'%s' is written twice in one sample", s->name);
            } else {
                s->written = 1;
                s->delay->write = v.ch[0];
            }
            break;
        }
        }
    }
    for (Sym *s = c->syms; s; s = s->next)
        if (s->kind == SYM_STATE)
            s->state->end = s->val;
    k = 0;
    for (Ident *o = n->outs; o; o = o->next, k++) {
        Sym *s = NULL;
        for (Sym *t = c->syms; t; t = t->next)
            if (t->kind == SYM_OUTPUT && strcmp(t->name, o->name) == 0)
                s = t;
        if (!s || !s->assigned) {
            diag_error(c->d, o->loc, "output '%s' of node '%s' is never assigned", o->name, n->name);
            outs[k] = ir_const(c->ir, 0);
        } else {
            outs[k] = s->val;
        }
    }
}

static int param_unit(Param *p)
{
    Expr *e = p->def;
    if (e->kind != EX_NUM)
        return AMP_UNIT_NONE;
    switch (e->unit) {
    case UNIT_HZ: case UNIT_KHZ: return AMP_UNIT_HZ;
    case UNIT_S: case UNIT_MS: return AMP_UNIT_S;
    case UNIT_DB: return AMP_UNIT_DB;
    default: return AMP_UNIT_NONE;
    }
}

/* Check one node alone, with stand-ins for its params and inputs. A Faust
 * node has no body here: faust checked it. */
static void check_node(Program *prog, Diag *d, Node *n)
{
    if (n->faust_path)
        return;
    Ir scratch;
    ir_init(&scratch, prog->arena);
    Ctx c = { .prog = prog, .d = d, .a = prog->arena, .ir = &scratch, .sec = SEC_PATCH };
    int np = param_count(n->params), ni = ident_count(n->ins), no = ident_count(n->outs);
    NodeBinding b = {
        .params = arena_alloc(c.a, sizeof(Val *) * (size_t)(np + 1)),
        .param_dims = arena_alloc(c.a, sizeof(UDim) * (size_t)(np + 1)),
        .inputs = arena_alloc(c.a, sizeof(Val *) * (size_t)(ni + 1)),
    };
    int k = 0;
    for (Param *p = n->params; p; p = p->next, k++) {
        b.params[k] = ir_leaf(&scratch, V_PLACEHOLDER, k, RATE_CONTROL, SEC_PATCH);
        b.param_dims[k] = unit_dim(param_unit(p));
        double v;
        const_value(&c, p->def, "a param's default", &v, NULL);
        if (p->lo) const_value(&c, p->lo, "a param's range", &v, NULL);
        if (p->hi) const_value(&c, p->hi, "a param's range", &v, NULL);
    }
    for (k = 0; k < ni; k++)
        b.inputs[k] = ir_leaf(&scratch, V_PLACEHOLDER, 1000 + k, RATE_AUDIO, SEC_PATCH);
    if (no == 0)
        diag_error(d, n->loc, "node '%s' has no outputs (declare them with 'out y;')", n->name);
    Val **outs = arena_alloc(c.a, sizeof(Val *) * (size_t)(no + 1));
    lower_node_body(&c, n, &b, outs);
}

/* ---- patches ------------------------------------------------------------------ */

static void lower_params(Ctx *c, Param *list, Lowered *u)
{
    u->n_params = param_count(list);
    u->params = arena_alloc(c->a, sizeof(UnitParam) * (size_t)(u->n_params + 1));
    int k = 0;
    for (Param *p = list; p; p = p->next)  /* names first: a default may name a later param */
        u->params[k++].name = p->name;
    k = 0;
    for (Param *p = list; p; p = p->next, k++) {
        UnitParam *up = &u->params[k];
        up->name = p->name;
        up->loc = p->loc;
        up->unit = param_unit(p);
        up->unit_label = p->unit_label;
        for (int j = 0; j < k; j++)
            if (strcmp(u->params[j].name, p->name) == 0) {
                diag_error(c->d, p->loc, "'%s' is already defined", p->name);
                diag_note(c->d, u->params[j].loc, "'%s' was defined here", p->name);
            }
        int db = up->unit == AMP_UNIT_DB;
        UDim want = unit_dim(up->unit), got;
        double v = 0;
        if (const_value(c, p->def, "a param's default", &v, &got))
            up->def = db ? 20 * log10(v > 0 ? v : 1e-30) : v;
        up->lo = -INFINITY;
        up->hi = INFINITY;
        if (p->lo && p->hi) {
            up->has_range = 1;
            double lo = 0, hi = 0;
            int ok = const_value(c, p->lo, "a param's range", &lo, &got);
            if (ok && (dims_clash(want, got) || (db && p->lo->unit != UNIT_DB)))
                diag_error(c->d, p->lo->loc, "the range of '%s' must be %s like its default", p->name,
                           db ? "in dB" : dim_text(want));
            ok &= const_value(c, p->hi, "a param's range", &hi, &got);
            if (ok && (dims_clash(want, got) || (db && p->hi->unit != UNIT_DB)))
                diag_error(c->d, p->hi->loc, "the range of '%s' must be %s like its default", p->name,
                           db ? "in dB" : dim_text(want));
            if (db) {
                lo = 20 * log10(lo > 0 ? lo : 1e-30);
                hi = 20 * log10(hi > 0 ? hi : 1e-30);
            }
            if (ok && lo > hi)
                diag_error(c->d, p->lo->loc, "the range of '%s' is empty: %.9g > %.9g", p->name, lo, hi);
            else if (ok && (up->def < lo - 1e-9 * fabs(lo) || up->def > hi + 1e-9 * fabs(hi)))
                diag_error(c->d, p->def->loc, "the default of '%s' (%.9g) is outside its range [%.9g, %.9g]",
                           p->name, up->def, lo, hi);
            up->lo = lo;
            up->hi = hi;
        }
        if (p->step && const_value(c, p->step, "a param's step", &up->step, NULL) && up->step < 0)
            diag_error(c->d, p->step->loc, "a param's step must not be negative");
        if (p->smooth && const_value(c, p->smooth, "a smoothing time", &up->smooth, &got)) {
            if (got.known && got.exp != 1)
                diag_error(c->d, p->smooth->loc, "a smoothing time must be a time (ms or s), not %s", dim_text(got));
            else if (up->smooth < 0)
                diag_error(c->d, p->smooth->loc, "a smoothing time must not be negative");
        }
    }
}

static const char **ident_names(Arena *a, Ident *list, int *n)
{
    *n = ident_count(list);
    const char **names = arena_alloc(a, sizeof(char *) * (size_t)(*n + 1));
    int k = 0;
    for (Ident *i = list; i; i = i->next)
        names[k++] = i->name;
    return names;
}

static int node_input(Node *n, const char *name)
{
    int k = 0;
    for (Ident *i = n->ins; i; i = i->next, k++)
        if (strcmp(i->name, name) == 0)
            return k;
    return -1;
}

static int node_param(Node *n, const char *name)
{
    int k = 0;
    for (Param *p = n->params; p; p = p->next, k++)
        if (strcmp(p->name, name) == 0)
            return k;
    return -1;
}

static int target_width(Ctx *c, Target *t)
{
    if (strcmp(t->object, "out") == 0 && !t->port)
        return c->ps->unit->n_outputs;
    return 1;
}

static int target_count(Target *t)
{
    int n = 0;
    for (; t; t = t->next)
        n++;
    return n;
}

/* Which channel of the connected value feeds channel ch of target number ti. */
static int conn_channel(int n_value, int n_targets, int ti, int ch)
{
    if (n_value == 1)
        return 0;
    return n_targets == 1 ? ch : ti;
}

/* Check the targets of a connection when the patch is collected. */
static void check_connection(Ctx *c, GraphItem *g, Section sec)
{
    PatchScope *ps = c->ps;
    Lowered *u = ps->unit;
    int nt = target_count(g->targets);
    for (Target *t = g->targets; t; t = t->next) {
        if (strcmp(t->object, "out") == 0) {
            if (t->port && find_name(u->output_names, u->n_outputs, t->port) < 0)
                diag_error(c->d, t->loc, "patch '%s' has no output '%s'", u->name, t->port);
            continue;
        }
        PInst *p = find_inst(ps, t->object, sec);
        if (!p) {
            if (find_inst(ps, t->object, sec == SEC_VOICE ? SEC_PATCH : SEC_VOICE))
                diag_error(c->d, t->loc, "'%s' is on the other side of the voice block", t->object);
            else
                diag_error(c->d, t->loc, "unknown instance '%s' (connect to an instance's input or to out)", t->object);
            continue;
        }
        if (!t->port) {
            if (ident_count(p->node->ins) != 1)
                diag_error(c->d, t->loc, "'%s' (node %s) has %d inputs; name one, as in %s.%s", t->object,
                           p->node->name, ident_count(p->node->ins), t->object,
                           p->node->ins ? p->node->ins->name : "x");
            else
                t->port = p->node->ins->name;
            continue;
        }
        if (node_input(p->node, t->port) < 0) {
            if (node_param(p->node, t->port) >= 0)
                diag_error(c->d, t->loc, "'%s' is a param of %s; bind it in the instance: %s(%s: value)",
                           t->port, p->node->name, p->node->name, t->port);
            else
                diag_error(c->d, t->loc, "'%s' (node %s) has no input '%s'", t->object, p->node->name, t->port);
        }
    }
    int n = expr_channels(c, g->value);
    if (n > 1) {
        int widths_one = 1;
        for (Target *t = g->targets; t; t = t->next)
            if (target_width(c, t) != 1)
                widths_one = 0;
        int ok = (nt == 1 && target_width(c, g->targets) == n) || (nt == n && widths_one);
        if (!ok)
            diag_error(c->d, g->loc, "this signal has %d channels but the targets take %d", n,
                       nt == 1 ? target_width(c, g->targets) : nt);
    }
}

static Sig conn_value(Ctx *c, PConn *k)
{
    if (!k->done) {
        k->done = 1;
        Section saved = c->sec;
        c->sec = k->sec;
        k->value = lower_expr(c, k->item->value);
        c->sec = saved;
    }
    return k->value;
}

/* The sum of everything connected to channel ch of (object, port) in sec. */
static Val *gather(Ctx *c, Section sec, const char *object, const char *port, int ch)
{
    Val *sum = ir_const(c->ir, 0);
    for (int i = 0; i < c->ps->conns.n; i++) {
        PConn *k = c->ps->conns.items[i];
        if (k->sec != sec)
            continue;
        int nt = target_count(k->item->targets), ti = 0;
        for (Target *t = k->item->targets; t; t = t->next, ti++) {
            if (strcmp(t->object, object) != 0)
                continue;
            int whole = !t->port && strcmp(object, "out") == 0;
            if (!whole && (!t->port || strcmp(t->port, port) != 0))
                continue;
            Sig v = conn_value(c, k);
            int vc = conn_channel(v.n, nt, ti, ch);
            if (vc < v.n)
                sum = ir_op(c->ir, V_ADD, 0, sum, v.ch[vc], NULL);
        }
    }
    return sum;
}

static FaustProgram *find_faust(Program *prog, const Node *n)
{
    for (int i = 0; i < prog->fausts.n; i++) {
        FaustProgram *fp = prog->fausts.items[i];
        if (fp->node == n)
            return fp;
    }
    return NULL;
}

/* An instance of a Faust node: an extern slot whose params are the values
 * Faust's zones get, in Faust's unit (ms for a time in ms, dB for a level:
 * the language's dB values read as linear amplitude). */
static void lower_faust_inst(Ctx *c, PInst *p, NodeBinding *b)
{
    FaustProgram *fp = find_faust(c->prog, p->node);
    if (!fp) {             /* cannot happen: every Faust node comes from an import */
        p->n_outs = 0;
        return;
    }
    Val **zones = arena_alloc(c->a, sizeof(Val *) * (size_t)(fp->n_controls + 1));
    for (int k = 0; k < fp->n_controls; k++) {
        Val *v = b->params[k];
        if (fp->controls[k].scale == FAUST_ZONE_MS)
            v = ir_op(c->ir, V_MUL, 0, v, ir_const(c->ir, 1000.0), NULL);
        else if (fp->controls[k].scale == FAUST_ZONE_DB)
            v = v->op == V_FUNC1 && v->idx == F_DB2LIN ? v->a : ir_op(c->ir, V_FUNC1, F_LIN2DB, v, NULL, NULL);
        zones[k] = v;
    }
    ExternSlot *x = ir_extern(c->ir, p->item->name, p->sec, fp, fp->n_inputs, b->inputs, fp->n_controls, zones,
                              fp->n_outputs);
    p->n_outs = fp->n_outputs;
    p->outs = x->out;
    for (int k = 0; k < fp->n_outputs; k++)
        x->out[k]->name = arena_printf(c->a, "%s.out%d", p->item->name, k);
}

static void lower_inst(Ctx *c, PInst *p)
{
    if (p->lowered)
        return;
    p->lowered = 1;        /* also stops a loop that was reported already */
    Node *n = p->node;
    int np = param_count(n->params), ni = ident_count(n->ins);
    NodeBinding b = {
        .params = arena_alloc(c->a, sizeof(Val *) * (size_t)(np + 1)),
        .param_dims = arena_alloc(c->a, sizeof(UDim) * (size_t)(np + 1)),
        .inputs = arena_alloc(c->a, sizeof(Val *) * (size_t)(ni + 1)),
    };
    Section saved = c->sec;
    c->sec = p->sec;
    Diag quiet = *c->d;    /* the node's own errors were reported by check_node */
    quiet.out = NULL;
    int k = 0;
    for (Param *q = n->params; q; q = q->next, k++) {
        Ctx cc = *c;
        cc.ps = NULL;
        cc.syms = NULL;
        cc.d = &quiet;
        Sig def = lower_expr(&cc, q->def);
        b.params[k] = def.ch[0]->op == V_CONST ? def.ch[0] : ir_const(c->ir, 0);
        b.param_dims[k] = unit_dim(param_unit(q));
    }
    for (k = 0; k < ni; k++)
        b.inputs[k] = ir_const(c->ir, 0);
    for (Arg *a = p->item->args; a; a = a->next) {
        if (!a->name)
            continue;      /* reported when the patch was collected */
        int pi = node_param(n, a->name);
        Sig v = lower_expr(c, a->value);
        if (v.n != 1) {
            diag_error(c->d, a->loc, "'%s' takes one channel; this value has %d", a->name, v.n);
            continue;
        }
        if (pi >= 0) {
            if (dims_clash(b.param_dims[pi], v.d))
                diag_error(c->d, a->value->loc, "param '%s' of %s expects %s, got %s", a->name, n->name,
                           dim_text(b.param_dims[pi]), dim_text(v.d));
            b.params[pi] = v.ch[0];
        } else {
            int ii = node_input(n, a->name);
            if (ii >= 0)
                b.inputs[ii] = ir_op(c->ir, V_ADD, 0, b.inputs[ii], v.ch[0], NULL);
        }
    }
    k = 0;
    for (Ident *i = n->ins; i; i = i->next, k++)
        b.inputs[k] = ir_op(c->ir, V_ADD, 0, b.inputs[k], gather(c, p->sec, p->item->name, i->name, 0), NULL);
    if (n->faust_path) {
        lower_faust_inst(c, p, &b);
        c->sec = saved;
        return;
    }
    Ctx nc = *c;
    nc.ps = NULL;
    nc.syms = NULL;
    nc.inst = p->item->name;
    nc.in_table = 0;
    nc.d = &quiet;
    p->n_outs = ident_count(n->outs);
    p->outs = arena_alloc(c->a, sizeof(Val *) * (size_t)(p->n_outs + 1));
    lower_node_body(&nc, n, &b, p->outs);
    c->sec = saved;
}

static void collect_deps(Ctx *c, Expr *e, Section sec, PtrVec *deps);

/* The instances a let reads, worked out once per let (as let_channels). */
static void let_deps(Ctx *c, PLet *l)
{
    if (l->deps_done || l->busy || c->let_depth >= LET_NEST_LIMIT)
        return;
    l->busy = 1;
    c->let_depth++;
    collect_deps(c, l->item->value, l->sec, &l->deps);
    c->let_depth--;
    l->busy = 0;
    l->deps_done = 1;
}

/* Instances that an expression reads (not through prev). */
static void collect_deps(Ctx *c, Expr *e, Section sec, PtrVec *deps)
{
    if (!e)
        return;
    if (e->kind == EX_CALL && strcmp(e->name, "prev") == 0)
        return;
    if (e->kind == EX_NAME) {
        PInst *p = find_inst(c->ps, e->name, sec);
        if (p) {
            vec_push(c->a, deps, p);
            return;
        }
        PLet *l = find_let(c->ps, e->name, sec);
        if (!l)
            return;
        let_deps(c, l);
        for (int i = 0; i < l->deps.n; i++) {
            int seen = 0;
            for (int j = 0; j < deps->n && !seen; j++)
                seen = deps->items[j] == l->deps.items[i];
            if (!seen)
                vec_push(c->a, deps, l->deps.items[i]);
        }
        return;
    }
    collect_deps(c, e->a, sec, deps);
    collect_deps(c, e->b, sec, deps);
    collect_deps(c, e->c, sec, deps);
    for (Arg *a = e->args; a; a = a->next)
        collect_deps(c, a->value, sec, deps);
}

typedef struct Frame {
    PInst *inst;
    PtrVec deps;
    int next;
} Frame;

static void inst_deps(Ctx *c, PInst *p, PtrVec *deps)
{
    for (Arg *a = p->item->args; a; a = a->next)
        collect_deps(c, a->value, p->sec, deps);
    for (int i = 0; i < c->ps->conns.n; i++) {
        PConn *k = c->ps->conns.items[i];
        if (k->sec != p->sec)
            continue;
        for (Target *t = k->item->targets; t; t = t->next)
            if (strcmp(t->object, p->item->name) == 0) {
                collect_deps(c, k->item->value, p->sec, deps);
                break;
            }
    }
}

/* Depth-first search with an explicit stack: a post-order of the
 * instances of one section, and the first loop found, named in full. */
static void schedule(Ctx *c, Section sec, PtrVec *order)
{
    PatchScope *ps = c->ps;
    Frame *stack = arena_alloc(c->a, sizeof(Frame) * (size_t)(ps->insts.n + 1));
    for (int r = 0; r < ps->insts.n; r++) {
        PInst *root = ps->insts.items[r];
        if (root->sec != sec || root->color)
            continue;
        int top = 0;
        stack[0] = (Frame){ .inst = root };
        inst_deps(c, root, &stack[0].deps);
        root->color = 1;
        while (top >= 0) {
            Frame *f = &stack[top];
            if (f->next == f->deps.n) {
                f->inst->color = 2;
                vec_push(c->a, order, f->inst);
                top--;
                continue;
            }
            PInst *q = f->deps.items[f->next++];
            if (q->color == 2)
                continue;
            if (q->color == 1) {
                int j = top;
                while (j > 0 && stack[j].inst != q)
                    j--;
                char *path = arena_strdup(c->a, q->item->name);
                for (int i = j + 1; i <= top; i++)
                    path = arena_printf(c->a, "%s -> %s", path, stack[i].inst->item->name);
                path = arena_printf(c->a, "%s -> %s", path, q->item->name);
                diag_error(c->d, q->item->loc, "feedback loop without a delay: %s", path);
                diag_note(c->d, q->item->loc, "break the loop with prev(...) or a delay line");
                continue;
            }
            q->color = 1;
            top++;
            stack[top] = (Frame){ .inst = q };
            inst_deps(c, q, &stack[top].deps);
        }
    }
}

static void collect_items(Ctx *c, GraphItem *items, Section sec)
{
    PatchScope *ps = c->ps;
    for (GraphItem *g = items; g; g = g->next) {
        if (g->kind == GI_INSTANCE) {
            Node *n = find_node(c->prog, g->node);
            if (!n) {
                if (find_patch(c->prog, g->node))
                    diag_error(c->d, g->node_loc, "'%s' is a patch; only nodes can be instantiated", g->node);
                else if (func_lookup(g->node) >= 0 || !strcmp(g->node, "noise") || !strcmp(g->node, "prev"))
                    diag_error(c->d, g->node_loc, "'%s' is a built-in function, not a node; use it in an expression",
                               g->node);
                else
                    diag_error(c->d, g->node_loc, "unknown node '%s'", g->node);
                continue;
            }
            PInst *old = find_inst(ps, g->name, sec);
            PLet *oldl = find_let(ps, g->name, sec);
            if (old || oldl || find_param(ps->unit, g->name) >= 0 ||
                find_name(ps->unit->input_names, ps->unit->n_inputs, g->name) >= 0) {
                diag_error(c->d, g->name_loc, "'%s' is already defined", g->name);
                continue;
            }
            if (!strcmp(g->name, "note") || !strcmp(g->name, "voices") || !strcmp(g->name, "SR") ||
                !strcmp(g->name, "pi")) {
                diag_error(c->d, g->name_loc, "'%s' is a built-in name and cannot be redefined", g->name);
                continue;
            }
            PInst *p = arena_alloc(c->a, sizeof *p);
            p->item = g;
            p->node = n;
            p->sec = sec;
            vec_push(c->a, &ps->insts, p);
            ix_put(c->a, &ps->inst_ix, g->name, sec, p);
        } else if (g->kind == GI_LET) {
            if (find_inst(ps, g->name, sec) || find_let(ps, g->name, sec) || find_param(ps->unit, g->name) >= 0) {
                diag_error(c->d, g->name_loc, "'%s' is already defined", g->name);
                continue;
            }
            PLet *l = arena_alloc(c->a, sizeof *l);
            l->item = g;
            l->sec = sec;
            vec_push(c->a, &ps->lets, l);
            ix_put(c->a, &ps->let_ix, g->name, sec, l);
        } else {
            PConn *k = arena_alloc(c->a, sizeof *k);
            k->item = g;
            k->sec = sec;
            vec_push(c->a, &ps->conns, k);
        }
    }
}

static void check_instance_args(Ctx *c, PInst *p)
{
    for (Arg *a = p->item->args; a; a = a->next) {
        if (!a->name) {
            diag_error(c->d, a->loc, "arguments of an instance are named: %s(param: value)", p->node->name);
            continue;
        }
        for (Arg *b = p->item->args; b != a; b = b->next)
            if (b->name && strcmp(b->name, a->name) == 0) {
                diag_error(c->d, a->loc, "'%s' is given twice", a->name);
                break;
            }
        if (node_param(p->node, a->name) < 0 && node_input(p->node, a->name) < 0)
            diag_error(c->d, a->loc, "node '%s' has no param or input '%s'", p->node->name, a->name);
    }
}

/* A node compiled on its own becomes a patch with the node's params,
 * inputs and outputs, holding one instance of it. */
static Patch *wrap_node(Arena *a, Node *n)
{
    Patch *p = arena_alloc(a, sizeof *p);
    p->name = n->name;
    p->loc = n->loc;
    p->ins = n->ins;
    p->outs = n->outs;
    p->params = n->params;
    GraphItem *inst = arena_alloc(a, sizeof *inst);
    inst->kind = GI_INSTANCE;
    inst->loc = inst->name_loc = inst->node_loc = n->loc;
    inst->name = "_unit";
    inst->node = n->name;
    Arg *args = NULL;
    for (Param *q = n->params; q; q = q->next)
        args = ast_arg_append(args, ast_arg(a, q->loc, q->name, ast_name(a, q->loc, q->name)));
    for (Ident *i = n->ins; i; i = i->next)
        args = ast_arg_append(args, ast_arg(a, i->loc, i->name, ast_name(a, i->loc, i->name)));
    inst->args = args;
    p->graph = inst;
    GraphItem *last = inst;
    for (Ident *o = n->outs; o; o = o->next) {
        GraphItem *g = arena_alloc(a, sizeof *g);
        g->kind = GI_CONNECT;
        g->loc = o->loc;
        g->value = ast_field(a, o->loc, ast_name(a, o->loc, "_unit"), o->name);
        Target *t = arena_alloc(a, sizeof *t);
        t->object = "out";
        t->port = o->name;
        t->loc = o->loc;
        g->targets = t;
        last->next = g;
        last = g;
    }
    return p;
}

static void lower_section(Ctx *c, Section sec)
{
    PtrVec order = { 0 };
    schedule(c, sec, &order);
    if (c->d->errors)
        return;
    for (int i = 0; i < order.n; i++) {
        PInst *p = order.items[i];
        UnitInstance *ui = arena_alloc(c->a, sizeof *ui);
        ui->name = p->item->name;
        ui->node = p->node->name;
        ui->sec = sec;
        ui->order = c->ps->unit->instances.n;
        vec_push(c->a, &c->ps->unit->instances, ui);
        lower_inst(c, p);
    }
    for (int i = 0; i < c->ps->lets.n; i++) {   /* unused lets are still checked */
        PLet *l = c->ps->lets.items[i];
        if (l->sec == sec)
            lower_let(c, l);
    }
}

static void check_names(Program *prog, Diag *d)
{
    for (int i = 0; i < prog->nodes.n + prog->patches.n; i++) {
        int is_node = i < prog->nodes.n;
        const char *name = is_node ? ((Node *)prog->nodes.items[i])->name
                                   : ((Patch *)prog->patches.items[i - prog->nodes.n])->name;
        Loc loc = is_node ? ((Node *)prog->nodes.items[i])->loc
                          : ((Patch *)prog->patches.items[i - prog->nodes.n])->loc;
        for (int j = 0; j < i; j++) {
            int jn = j < prog->nodes.n;
            const char *other = jn ? ((Node *)prog->nodes.items[j])->name
                                   : ((Patch *)prog->patches.items[j - prog->nodes.n])->name;
            if (strcmp(name, other) != 0)
                continue;
            Loc oloc = jn ? ((Node *)prog->nodes.items[j])->loc
                          : ((Patch *)prog->patches.items[j - prog->nodes.n])->loc;
            diag_error(d, loc, "'%s' is already defined", name);
            diag_note(d, oloc, "'%s' was defined here", name);
            break;
        }
    }
}

static Patch *pick_unit(Program *prog, const char *name, Diag *d, Node **as_node)
{
    Module *m = prog->main;
    *as_node = NULL;
    if (name) {
        Patch *p = find_patch(prog, name);
        if (p)
            return p;
        Node *n = find_node(prog, name);
        if (n) {
            *as_node = n;
            return wrap_node(prog->arena, n);
        }
        diag_plain(d, "%s: no patch or node named '%s'", m->file->path, name);
        return NULL;
    }
    Patch *last = NULL;
    for (Patch *p = m->patches; p; p = p->next)
        last = p;
    if (last)
        return last;
    Node *lastn = NULL;
    for (Node *n = m->nodes; n; n = n->next)
        lastn = n;
    for (int i = 0; !m->nodes && i < prog->fausts.n; i++) {   /* a file of Faust imports: the last */
        FaustProgram *fp = prog->fausts.items[i];
        if (fp->module == m)
            lastn = fp->node;
    }
    if (lastn) {
        *as_node = lastn;
        return wrap_node(prog->arena, lastn);
    }
    diag_plain(d, "%s: nothing to compile: the file defines no patch or node", m->file->path);
    return NULL;
}

Lowered *lower_unit(Program *prog, const char *unit_name, Diag *d)
{
    check_names(prog, d);
    for (int i = 0; i < prog->nodes.n; i++)
        check_node(prog, d, prog->nodes.items[i]);
    Node *as_node;
    Patch *patch = pick_unit(prog, unit_name, d, &as_node);
    if (!patch || d->errors)
        return NULL;
    static const char *reserved[] = { "amp_patch", "amp_dsp", "amp_math" };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (!strcmp(patch->name, reserved[i])) {
            diag_error(d, patch->loc, "'%s' is the name of a runtime header (%s.h); name the unit otherwise",
                       patch->name, patch->name);
            return NULL;
        }
    Lowered *u = arena_alloc(prog->arena, sizeof *u);
    u->name = patch->name;
    u->from_node = as_node != NULL;
    ir_init(&u->ir, prog->arena);
    PatchScope ps = { .patch = patch, .unit = u };
    Ctx c = { .prog = prog, .d = d, .a = prog->arena, .ir = &u->ir, .sec = SEC_PATCH, .ps = &ps };

    u->input_names = ident_names(c.a, patch->ins, &u->n_inputs);
    if (patch->outs) {
        u->output_names = ident_names(c.a, patch->outs, &u->n_outputs);
    } else {
        static const char *stereo[] = { "left", "right" };
        u->output_names = stereo;
        u->n_outputs = 2;
    }
    if (u->n_outputs > MAX_CHANNELS || u->n_inputs > MAX_CHANNELS) {
        diag_error(d, patch->loc, "a patch has at most %d inputs and %d outputs", MAX_CHANNELS, MAX_CHANNELS);
        return NULL;
    }
    for (int i = 0; i < u->n_outputs; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(u->output_names[i], u->output_names[j]))
                diag_error(d, patch->loc, "output '%s' is declared twice", u->output_names[i]);
    lower_params(&c, patch->params, u);

    u->steal = patch->steal;
    if (patch->voices) {
        double v = 0;
        if (const_value(&c, patch->voices, "the number of voices", &v, NULL)) {
            if (v != floor(v) || v < 1 || v > AMP_MAX_VOICES)
                diag_error(d, patch->voices->loc, "the number of voices must be a whole number from 1 to %d",
                           AMP_MAX_VOICES);
            else
                u->voices = (int)v;
        }
        if (!patch->has_voice)
            diag_error(d, patch->voices_loc, "'voices' needs a voice { } block saying what each voice plays");
    } else if (patch->has_voice) {
        diag_error(d, patch->voice_loc, "a voice block needs a 'voices N;' line saying how many voices");
    }
    if (d->errors)
        return NULL;

    collect_items(&c, patch->voice, SEC_VOICE);
    collect_items(&c, patch->graph, SEC_PATCH);
    /* Channels and instance dependencies of every let, in the order they
     * are written: a let reading earlier lets finds them known, so the
     * walks stay shallow however long the chain (forward references nest,
     * up to LET_NEST_LIMIT). */
    for (int i = 0; i < ps.lets.n; i++) {
        PLet *l = ps.lets.items[i];
        c.sec = l->sec;
        let_channels(&c, l);
        let_deps(&c, l);
    }
    for (int i = 0; i < ps.insts.n; i++)
        check_instance_args(&c, ps.insts.items[i]);
    for (int i = 0; i < ps.conns.n; i++) {
        PConn *k = ps.conns.items[i];
        c.sec = k->sec;
        check_connection(&c, k->item, k->sec);
    }
    if (d->errors)
        return NULL;

    /* the voice section, then the sum of voices, then the patch section */
    c.sec = SEC_VOICE;
    lower_section(&c, SEC_VOICE);
    int voice_connected = 0;
    for (int i = 0; i < ps.conns.n; i++) {
        PConn *k = ps.conns.items[i];
        if (k->sec == SEC_VOICE)
            conn_value(&c, k);
        for (Target *t = k->item->targets; t; t = t->next)
            if (k->sec == SEC_VOICE && !strcmp(t->object, "out"))
                voice_connected = 1;
    }
    if (u->voices) {
        if (!voice_connected)
            diag_error(d, patch->voice_loc, "the voice block sends nothing to 'out'");
        for (int ch = 0; ch < u->n_outputs; ch++) {
            u->voice_out[ch] = gather(&c, SEC_VOICE, "out", u->output_names[ch], ch);
            ps.voicebus.ch[ch] = ir_leaf(&u->ir, V_VOICEBUS, ch, RATE_AUDIO, SEC_PATCH);
        }
        ps.voicebus.n = u->n_outputs;
        ps.voicebus.d = ANY;
    }
    c.sec = SEC_PATCH;
    lower_section(&c, SEC_PATCH);
    int patch_connected = 0;
    for (int i = 0; i < ps.conns.n; i++) {
        PConn *k = ps.conns.items[i];
        if (k->sec == SEC_PATCH)
            conn_value(&c, k);
        for (Target *t = k->item->targets; t; t = t->next)
            if (k->sec == SEC_PATCH && !strcmp(t->object, "out"))
                patch_connected = 1;
    }
    for (int ch = 0; ch < u->n_outputs; ch++)
        u->out[ch] = patch_connected ? gather(&c, SEC_PATCH, "out", u->output_names[ch], ch)
                     : u->voices     ? ps.voicebus.ch[ch]
                                     : ir_const(&u->ir, 0);
    if (!patch_connected && !u->voices)
        diag_error(d, patch->loc, "patch '%s' sends nothing to 'out'", u->name);

    for (int i = 0; i < ps.deferred.n; i++) {
        Deferred *df = ps.deferred.items[i];
        c.sec = df->sec;
        Sig v = lower_expr(&c, df->expr);
        for (int ch = 0; ch < df->n; ch++)
            df->slot[ch]->end = v.ch[v.n == 1 ? 0 : ch < v.n ? ch : 0];
    }
    if (d->errors)
        return NULL;

    Val *roots[2 * MAX_CHANNELS];
    int nr = 0;
    for (int ch = 0; ch < u->n_outputs; ch++) {
        roots[nr++] = u->out[ch];
        if (u->voice_out[ch])
            roots[nr++] = u->voice_out[ch];
    }
    ir_mark_live(&u->ir, roots, nr);
    return u;
}

/* ---- dumps ----------------------------------------------------------------- */

void lower_dump_graph(FILE *out, const Lowered *u)
{
    fprintf(out, "unit %s: %d input(s), %d output(s), %d param(s)", u->name, u->n_inputs, u->n_outputs,
            u->n_params);
    if (u->voices)
        fprintf(out, ", %d voices (%s)", u->voices,
                u->steal == AMP_STEAL_OLDEST ? "steal oldest" : u->steal == AMP_STEAL_QUIETEST ? "steal quietest" : "no stealing");
    fputc('\n', out);
    for (int i = 0; i < u->instances.n; i++) {
        UnitInstance *ui = u->instances.items[i];
        const char *faust = NULL;
        for (int k = 0; k < u->ir.externs.n; k++) {
            ExternSlot *x = u->ir.externs.items[k];
            if (x->sec == ui->sec && !strcmp(x->name, ui->name))
                faust = x->faust->path;
        }
        fprintf(out, "  %d. %s = %s%s%s%s  [%s]\n", ui->order + 1, ui->name, ui->node, faust ? " (Faust, \"" : "",
                faust ? faust : "", faust ? "\")" : "", ui->sec == SEC_VOICE ? "per voice" : "patch");
    }
    const Ir *ir = &u->ir;
    int live = 0;
    for (int i = 0; i < ir->vals.n; i++)
        live += ((Val *)ir->vals.items[i])->live;
    fprintf(out, "  %d values (%d live), %d states, %d delay lines, %d tables, %d noise generators",
            ir->vals.n, live, ir->states.n, ir->delays.n, ir->tables.n, ir->noises.n);
    if (ir->externs.n)
        fprintf(out, ", %d Faust instance%s", ir->externs.n, ir->externs.n == 1 ? "" : "s");
    fputc('\n', out);
}

void lower_dump_rates(FILE *out, const Lowered *u)
{
    const Ir *ir = &u->ir;
    for (int sec = SEC_PATCH; sec <= SEC_VOICE; sec++) {
        for (int r = RATE_INIT; r <= RATE_AUDIO; r++) {
            int header = 0;
            for (int i = 0; i < ir->vals.n; i++) {
                const Val *v = ir->vals.items[i];
                if (!v->live || (int)v->rate != r || (int)v->sec != sec || v->op == V_CONST)
                    continue;
                if (!header) {
                    fprintf(out, "%s, %s rate:\n", sec == SEC_VOICE ? "per voice" : "patch", rate_name((Rate)r));
                    header = 1;
                }
                fputs("  ", out);
                ir_dump_val(out, v);
                if (v->name)
                    fprintf(out, "    ; %s", v->name);
                fputc('\n', out);
            }
        }
    }
}
