/* ir.c — building the value graph: hash-consing, constant folding, rates.
 *
 * Every Val is made through ir_op/ir_leaf/ir_const, which (1) folds
 * operations whose operands are all constants, in double precision, (2)
 * simplifies a few identities that are exact in IEEE arithmetic (x+0, x*1,
 * x-0, x/1), and (3) returns the existing Val when the same operation on the
 * same operands was built before. Its rate is the slowest of its operands'
 * and its section is the voice section if any operand is per voice.
 */
#include "ir.h"

#include <float.h>
#include <math.h>
#include <string.h>

void vec_push(Arena *a, PtrVec *v, void *item)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 16;
        void **items = arena_alloc(a, sizeof(void *) * (size_t)cap);
        if (v->n)
            memcpy(items, v->items, sizeof(void *) * (size_t)v->n);
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = item;
}

void ir_init(Ir *ir, Arena *a)
{
    memset(ir, 0, sizeof *ir);
    ir->arena = a;
    ir->hash_cap = 1024;
    ir->hash = arena_alloc(a, sizeof(Val *) * (size_t)ir->hash_cap);
}

static uint64_t hash_val(ValOp op, int idx, double k, const Val *a, const Val *b, const Val *c)
{
    uint64_t h = 1469598103934665603ull;
    uint64_t bits;
    memcpy(&bits, &k, sizeof bits);
    uint64_t parts[6] = { (uint64_t)op, (uint64_t)(uint32_t)idx, bits,
                          a ? (uint64_t)a->id + 1 : 0, b ? (uint64_t)b->id + 1 : 0,
                          c ? (uint64_t)c->id + 1 : 0 };
    for (int i = 0; i < 6; i++) {
        h ^= parts[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

static void rehash(Ir *ir)
{
    int cap = ir->hash_cap * 2;
    Val **table = arena_alloc(ir->arena, sizeof(Val *) * (size_t)cap);
    for (int i = 0; i < ir->vals.n; i++) {
        Val *v = ir->vals.items[i];
        uint64_t h = hash_val(v->op, v->idx, v->k, v->a, v->b, v->c) & (uint64_t)(cap - 1);
        v->hash_next = table[h];
        table[h] = v;
    }
    ir->hash = table;
    ir->hash_cap = cap;
}

static int same_k(double x, double y)
{
    return memcmp(&x, &y, sizeof x) == 0;
}

/* Find or make a Val. Leaves that stand for distinct storage (state slots,
 * noise generators) are made unique by their idx, so they hash-cons too. */
static Val *intern(Ir *ir, ValOp op, int idx, double k, Val *a, Val *b, Val *c, Rate rate, Section sec)
{
    uint64_t h = hash_val(op, idx, k, a, b, c) & (uint64_t)(ir->hash_cap - 1);
    for (Val *v = ir->hash[h]; v; v = v->hash_next)
        if (v->op == op && v->idx == idx && same_k(v->k, k) && v->a == a && v->b == b && v->c == c)
            return v;
    Val *v = arena_alloc(ir->arena, sizeof *v);
    v->id = ir->vals.n;
    v->op = op;
    v->idx = idx;
    v->k = k;
    v->a = a;
    v->b = b;
    v->c = c;
    v->rate = rate;
    v->sec = sec;
    v->region = ir->cur_region;
    v->hash_next = ir->hash[h];
    ir->hash[h] = v;
    vec_push(ir->arena, &ir->vals, v);
    if (ir->vals.n * 2 > ir->hash_cap)
        rehash(ir);
    return v;
}

Val *ir_const(Ir *ir, double k)
{
    if (k == 0)
        k = 0;             /* one zero: -0 and +0 fold to the same Val */
    return intern(ir, V_CONST, 0, k, NULL, NULL, NULL, RATE_CONST, SEC_PATCH);
}

Val *ir_leaf(Ir *ir, ValOp op, int idx, Rate rate, Section sec)
{
    return intern(ir, op, idx, 0, NULL, NULL, NULL, rate, sec);
}

int ir_is_const(const Val *v, double k)
{
    return v && v->op == V_CONST && v->k == k;
}

/* C's float semantics for the folded value: the runtime computes in float,
 * so a folded constant is rounded to float like the run-time value would be
 * after each operation. */
static double to_float(double x)
{
    return (double)(float)x;
}

static double fold(ValOp op, int idx, double a, double b, double c)
{
    switch (op) {
    case V_NEG: return -a;
    case V_NOT: return a == 0 ? 1 : 0;
    case V_ADD: return a + b;
    case V_SUB: return a - b;
    case V_MUL: return a * b;
    case V_DIV: return a / b;
    case V_MOD: return b == 0 ? 0 : a - b * floor(a / b);
    case V_LT: return a < b;
    case V_LE: return a <= b;
    case V_GT: return a > b;
    case V_GE: return a >= b;
    case V_EQ: return a == b;
    case V_NE: return a != b;
    case V_AND: return a != 0 && b != 0;
    case V_OR: return a != 0 || b != 0;
    case V_SELECT: return a != 0 ? b : c;
    case V_CLAMP: return a < b ? b : a > c ? c : a;
    case V_FUNC1:
    case V_FUNC2: return func_eval((Func)idx, a, b);
    default: return 0;
    }
}

Val *ir_op(Ir *ir, ValOp op, int idx, Val *a, Val *b, Val *c)
{
    int all_const = (!a || a->op == V_CONST) && (!b || b->op == V_CONST) && (!c || c->op == V_CONST);
    int foldable = op != V_DELAY_READ && op != V_TABLE_AT && op != V_TABLE_LERP && op != V_SAMPLE_READ;
    if (all_const && foldable)
        return ir_const(ir, to_float(fold(op, idx, a ? a->k : 0, b ? b->k : 0, c ? c->k : 0)));
    /* identities exact in IEEE arithmetic */
    switch (op) {
    case V_ADD:
        if (ir_is_const(b, 0)) return a;
        if (ir_is_const(a, 0)) return b;
        break;
    case V_SUB:
        if (ir_is_const(b, 0)) return a;
        if (ir_is_const(a, 0)) return ir_op(ir, V_NEG, 0, b, NULL, NULL);
        break;
    case V_MUL:
        if (ir_is_const(b, 1)) return a;
        if (ir_is_const(a, 1)) return b;
        break;
    case V_DIV:
        if (ir_is_const(b, 1)) return a;
        /* A divisor that changes less often than the dividend (a constant,
         * SR, a param): multiply by its reciprocal, computed at the
         * divisor's rate, so each sample multiplies instead of dividing.
         * Exact for powers of two, else within an ulp of the quotient. */
        if (b && a && b->rate < a->rate && !ir_is_const(a, 1))
            return ir_op(ir, V_MUL, 0, a, ir_op(ir, V_DIV, 0, ir_const(ir, 1), b, NULL), NULL);
        break;
    case V_SELECT:
        if (a->op == V_CONST) return a->k != 0 ? b : c;
        if (b == c) return b;
        break;
    case V_NEG:
        if (a->op == V_NEG) return a->a;
        break;
    default:
        break;
    }
    /* commutative operations: order operands by id so a+b and b+a are one Val */
    if ((op == V_ADD || op == V_MUL || op == V_EQ || op == V_NE || op == V_AND || op == V_OR) &&
        a && b && a->id > b->id) {
        Val *t = a;
        a = b;
        b = t;
    }
    Rate rate = RATE_CONST;
    Section sec = SEC_PATCH;
    Val *ops[3] = { a, b, c };
    for (int i = 0; i < 3; i++) {
        if (!ops[i])
            continue;
        if (ops[i]->rate > rate)
            rate = ops[i]->rate;
        if (ops[i]->sec == SEC_VOICE)
            sec = SEC_VOICE;
    }
    /* a delay read happens every sample whatever its argument, in the
     * section of the line it reads (a voice's line is per voice even when
     * the delay is a constant) */
    if (op == V_DELAY_READ) {
        rate = RATE_AUDIO;
        if (idx >= 0 && idx < ir->delays.n && ((DelaySlot *)ir->delays.items[idx])->sec == SEC_VOICE)
            sec = SEC_VOICE;
    }
    if ((op == V_TABLE_AT || op == V_TABLE_LERP) && rate < RATE_INIT)
        rate = RATE_INIT;
    if (op == V_SAMPLE_READ && rate < RATE_CONTROL)   /* the binding changes between process() calls */
        rate = RATE_CONTROL;
    return intern(ir, op, idx, 0, a, b, c, rate, sec);
}

StateSlot *ir_state(Ir *ir, const char *name, Section sec, Val *init)
{
    StateSlot *s = arena_alloc(ir->arena, sizeof *s);
    s->name = name;
    s->sec = sec;
    s->init = init;
    s->start = intern(ir, V_STATE, ir->states.n, 0, NULL, NULL, NULL, RATE_AUDIO, sec);
    s->end = s->start;
    s->region = ir->cur_region;
    vec_push(ir->arena, &ir->states, s);
    return s;
}

int ir_region(Ir *ir, const char *name, Section sec, int factor)
{
    RegionSlot *r = arena_alloc(ir->arena, sizeof *r);
    r->name = name;
    r->sec = sec;
    r->factor = factor;
    vec_push(ir->arena, &ir->regions, r);
    return ir->regions.n - 1;
}

Val *ir_os_in(Ir *ir, int r, Val *v)
{
    int saved = ir->cur_region;
    ir->cur_region = r + 1;
    Val *u = intern(ir, V_OS_IN, r, 0, v, NULL, NULL, RATE_AUDIO, ((RegionSlot *)ir->regions.items[r])->sec);
    ir->cur_region = saved;
    return u;
}

Val *ir_os_out(Ir *ir, int r, Val *inner)
{
    int saved = ir->cur_region;
    ir->cur_region = 0;
    Val *u = intern(ir, V_OS_OUT, r, 0, inner, NULL, NULL, RATE_AUDIO, ((RegionSlot *)ir->regions.items[r])->sec);
    ir->cur_region = saved;
    return u;
}

DelaySlot *ir_delay(Ir *ir, const char *name, Section sec, int size)
{
    DelaySlot *d = arena_alloc(ir->arena, sizeof *d);
    d->name = name;
    d->sec = sec;
    d->size = size;
    int len = 2;
    while (len <= size + 1)
        len *= 2;
    d->len = len;
    vec_push(ir->arena, &ir->delays, d);
    return d;
}

TableSlot *ir_table(Ir *ir, const char *name, int size)
{
    TableSlot *t = arena_alloc(ir->arena, sizeof *t);
    t->name = name;
    t->size = size;
    vec_push(ir->arena, &ir->tables, t);
    return t;
}

ExternSlot *ir_extern(Ir *ir, const char *name, Section sec, const struct FaustProgram *faust,
                      int n_in, Val **in, int n_param, Val **param, int n_out)
{
    ExternSlot *x = arena_alloc(ir->arena, sizeof *x);
    x->name = name;
    x->sec = sec;
    x->faust = faust;
    x->n_in = n_in;
    x->in = in;
    x->n_param = n_param;
    x->param = param;
    x->n_out = n_out;
    x->param_rate = RATE_CONTROL;
    for (int i = 0; i < n_param; i++)
        if (param[i]->rate > x->param_rate)
            x->param_rate = param[i]->rate;
    vec_push(ir->arena, &ir->externs, x);
    x->out = arena_alloc(ir->arena, sizeof(Val *) * (size_t)(n_out + 1));
    for (int k = 0; k < n_out; k++)
        x->out[k] = intern(ir, V_EXTERN_OUT, ir->externs.n - 1, k, NULL, NULL, NULL, RATE_AUDIO, sec);
    return x;
}

int ir_sample(Ir *ir, const char *name)
{
    for (int k = 0; k < ir->samples.n; k++)
        if (!strcmp(ir->samples.items[k], name))
            return k;
    vec_push(ir->arena, &ir->samples, (void *)name);
    return ir->samples.n - 1;
}

Val *ir_noise(Ir *ir, Section sec)
{
    NoiseSlot *n = arena_alloc(ir->arena, sizeof *n);
    n->sec = sec;
    n->seed = 0x9E3779B9u * (uint32_t)(ir->noises.n + 1);
    vec_push(ir->arena, &ir->noises, n);
    return intern(ir, V_NOISE, ir->noises.n - 1, 0, NULL, NULL, NULL, RATE_AUDIO, sec);
}

/* Iterative marking (an explicit stack), so a long chain of Vals cannot
 * overflow the C stack. */
static void mark(Ir *ir, Val *root, PtrVec *stack)
{
    if (!root || root->live)
        return;
    stack->n = 0;
    root->live = 1;
    vec_push(ir->arena, stack, root);
    while (stack->n) {
        Val *v = stack->items[--stack->n];
        Val *ops[3] = { v->a, v->b, v->c };
        for (int i = 0; i < 3; i++) {
            if (ops[i] && !ops[i]->live) {
                ops[i]->live = 1;
                vec_push(ir->arena, stack, ops[i]);
            }
        }
        if (v->op == V_STATE) {
            StateSlot *s = ir->states.items[v->idx];
            if (s->end != s->start && !s->end->live) {
                s->end->live = 1;
                vec_push(ir->arena, stack, s->end);
            }
            if (s->init && !s->init->live) {
                s->init->live = 1;
                vec_push(ir->arena, stack, s->init);
            }
        }
        if (v->op == V_TABLE_AT || v->op == V_TABLE_LERP) {
            TableSlot *t = ir->tables.items[v->idx];
            if (t->fill && !t->fill->live) {
                t->fill->live = 1;
                vec_push(ir->arena, stack, t->fill);
            }
        }
        if (v->op == V_DELAY_READ) {
            DelaySlot *d = ir->delays.items[v->idx];
            if (d->write && !d->write->live) {
                d->write->live = 1;
                vec_push(ir->arena, stack, d->write);
            }
        }
        if (v->op == V_EXTERN_OUT) {
            ExternSlot *x = ir->externs.items[v->idx];
            for (int i = 0; i < x->n_in + x->n_param; i++) {
                Val *u = i < x->n_in ? x->in[i] : x->param[i - x->n_in];
                if (!u->live) {
                    u->live = 1;
                    vec_push(ir->arena, stack, u);
                }
            }
        }
    }
}

void ir_mark_live(Ir *ir, Val **roots, int n_roots)
{
    PtrVec stack = { 0 };
    for (int i = 0; i < n_roots; i++)
        mark(ir, roots[i], &stack);
}

const char *rate_name(Rate r)
{
    static const char *names[] = { "constant", "init", "control", "audio" };
    return names[r];
}

static const struct {
    const char *name;
    int arity;
} funcs[F_COUNT] = {
    [F_SIN] = { "sin", 1 },     [F_COS] = { "cos", 1 },     [F_TAN] = { "tan", 1 },
    [F_ASIN] = { "asin", 1 },   [F_ACOS] = { "acos", 1 },   [F_ATAN] = { "atan", 1 },
    [F_SINH] = { "sinh", 1 },   [F_COSH] = { "cosh", 1 },   [F_TANH] = { "tanh", 1 },
    [F_EXP] = { "exp", 1 },     [F_EXP2] = { "exp2", 1 },   [F_LOG] = { "log", 1 },
    [F_LOG2] = { "log2", 1 },   [F_LOG10] = { "log10", 1 }, [F_SQRT] = { "sqrt", 1 },
    [F_ABS] = { "abs", 1 },     [F_FLOOR] = { "floor", 1 }, [F_CEIL] = { "ceil", 1 },
    [F_ROUND] = { "round", 1 }, [F_TRUNC] = { "trunc", 1 }, [F_FRACT] = { "fract", 1 },
    [F_DB2LIN] = { "db2lin", 1 }, [F_LIN2DB] = { "lin2db", 1 },
    [F_ATAN2] = { "atan2", 2 }, [F_POW] = { "pow", 2 },     [F_MIN] = { "min", 2 },
    [F_MAX] = { "max", 2 },
};

const char *func_name(Func f) { return funcs[f].name; }
int func_arity(Func f) { return funcs[f].arity; }

int func_rounds(Func f)
{
    return f == F_FLOOR || f == F_CEIL || f == F_ROUND || f == F_TRUNC;
}

int valop_is_truth(ValOp op)
{
    return op == V_NOT || (op >= V_LT && op <= V_OR);
}

int func_lookup(const char *name)
{
    for (int i = 0; i < F_COUNT; i++)
        if (strcmp(funcs[i].name, name) == 0)
            return i;
    return -1;
}

/* Compile-time evaluation, with the runtime kernels' conventions at the
 * edges (log of x <= 0 is -1e30, sqrt of x < 0 is 0). */
static double func_exact(Func f, double a, double b);

/* pow as the kernel defines it (lang/SPEC.md §2, amp_pow): |x|^y for a
 * negative x, negated when y is an odd integer; 0^y is 0 for y > 0, 1 for
 * y = 0, FLT_MAX for y < 0 (with the same sign rule). */
static double pow_defined(double x, double y)
{
    double r = x == 0 ? (y > 0 ? 0 : y == 0 ? 1 : FLT_MAX) : pow(fabs(x), y);
    int odd = y == floor(y) && fabs(y) < 0x1p24 && fmod(fabs(y), 2) == 1;
    return x < 0 || (x == 0 && signbit(x)) ? (odd ? -r : r) : r;
}

/* What the run-time kernels give for any input (lang/SPEC.md §2): finite
 * results, saturating at +-FLT_MAX, the out-of-domain values of the
 * table there. */
double func_eval(Func f, double a, double b)
{
    double r = func_exact(f, a, b);
    if (isnan(r))
        return 0;
    return r > FLT_MAX ? FLT_MAX : r < -FLT_MAX ? -FLT_MAX : r;
}

static double func_exact(Func f, double a, double b)
{
    switch (f) {
    case F_SIN: return sin(a);
    case F_COS: return cos(a);
    case F_TAN: return tan(a);
    case F_ASIN: return asin(a < -1 ? -1 : a > 1 ? 1 : a);
    case F_ACOS: return acos(a < -1 ? -1 : a > 1 ? 1 : a);
    case F_ATAN: return atan(a);
    case F_SINH: return sinh(a);
    case F_COSH: return cosh(a);
    case F_TANH: return tanh(a);
    case F_EXP: return exp(a);
    case F_EXP2: return exp2(a);
    case F_LOG: return a > 0 ? log(a) : -1e30;
    case F_LOG2: return a > 0 ? log2(a) : -1e30;
    case F_LOG10: return a > 0 ? log10(a) : -1e30;
    case F_SQRT: return a > 0 ? sqrt(a) : 0;
    case F_ABS: return fabs(a);
    case F_FLOOR: return floor(a);
    case F_CEIL: return ceil(a);
    case F_ROUND: return round(a);
    case F_TRUNC: return trunc(a);
    case F_FRACT: return a - floor(a);
    case F_DB2LIN: return pow(10, a / 20);
    case F_LIN2DB: return a > 0 ? 20 * log10(a) : -1e30;
    case F_ATAN2: return atan2(a, b);
    case F_POW: return pow_defined(a, b);
    case F_MIN: return a < b ? a : b;
    case F_MAX: return a > b ? a : b;
    default: return 0;
    }
}

const char *valop_name(ValOp op)
{
    static const char *names[V_COUNT] = {
        [V_CONST] = "const", [V_SR] = "SR", [V_PARAM] = "param", [V_NOTE] = "note",
        [V_INPUT] = "input", [V_STATE] = "state", [V_NOISE] = "noise",
        [V_VOICEBUS] = "voices", [V_TINDEX] = "i", [V_PLACEHOLDER] = "placeholder",
        [V_EXTERN_OUT] = "extern", [V_OS_IN] = "upsample", [V_OS_OUT] = "downsample",
        [V_DELAY_READ] = "delay.read", [V_TABLE_AT] = "table.at", [V_TABLE_LERP] = "table.lerp",
        [V_SAMPLE_READ] = "sample.read", [V_SAMPLE_INFO] = "sample.info",
        [V_NEG] = "neg", [V_NOT] = "not", [V_ADD] = "+", [V_SUB] = "-", [V_MUL] = "*",
        [V_DIV] = "/", [V_MOD] = "%", [V_LT] = "<", [V_LE] = "<=", [V_GT] = ">", [V_GE] = ">=",
        [V_EQ] = "==", [V_NE] = "!=", [V_AND] = "&&", [V_OR] = "||", [V_SELECT] = "?:",
        [V_FUNC1] = "call", [V_FUNC2] = "call", [V_CLAMP] = "clamp",
    };
    return names[op];
}

void ir_dump_val(FILE *out, const Val *v)
{
    fprintf(out, "v%d = ", v->id);
    if (v->op == V_CONST) {
        fprintf(out, "%.9g", v->k);
    } else if (v->op == V_EXTERN_OUT) {
        fprintf(out, "extern[%d].out%d", v->idx, (int)v->k);
    } else if (v->op == V_FUNC1 || v->op == V_FUNC2) {
        fprintf(out, "%s(", func_name((Func)v->idx));
        fprintf(out, "v%d", v->a->id);
        if (v->b)
            fprintf(out, ", v%d", v->b->id);
        fputc(')', out);
    } else {
        fputs(valop_name(v->op), out);
        if (v->op == V_PARAM || v->op == V_NOTE || v->op == V_INPUT || v->op == V_STATE ||
            v->op == V_NOISE || v->op == V_VOICEBUS || v->op == V_DELAY_READ ||
            v->op == V_TABLE_AT || v->op == V_TABLE_LERP || v->op == V_SAMPLE_READ || v->op == V_SAMPLE_INFO)
            fprintf(out, "[%d]", v->idx);
        const Val *ops[3] = { v->a, v->b, v->c };
        for (int i = 0; i < 3; i++)
            if (ops[i])
                fprintf(out, " v%d", ops[i]->id);
    }
}
