/* lower.c — inlining: the checked unit patch (sema.c), in schedule order
 * (schedule.c), becomes one value graph, the Ir of a Lowered.
 *
 * Each instance is lowered with its real bindings (its params bound to the
 * argument values, its inputs to the sum of what is connected), the voice
 * section first, then the sum of voices, then the patch section; a prev()
 * in the patch is lowered last (it may read instances scheduled later:
 * that is what breaks a loop); then every Val reached from an output is
 * marked live. An instance of a Faust node is not inlined: it becomes an
 * extern slot (ir.h).
 *
 * One walk both checks and lowers an expression: its names, arity and
 * units are checked as its Vals are built, so an error in a let or a
 * connection of the unit patch is reported here, and sema checks a node by
 * lowering it alone (lower_node_body) against stand-ins.
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
#include "ampc.h"
#include "faust.h"
#include "sema.h"

static const UDim ANY = { 0, 0 };
static const UDim PLAIN = { 1, 0 };
static const UDim FREQ = { 1, -1 };
static const UDim TIME = { 1, 1 };

/* ---- helpers ------------------------------------------------------------ */

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

static Sig sig_zero(Walk *c)
{
    return sig1(ir_const(c->ir, 0), ANY);
}

static Sym *find_sym(Sym *s, const char *name)
{
    for (; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

static Sym *add_sym(Walk *c, const char *name, Loc loc, SymKind kind)
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

static const char *slot_name(Walk *c, const char *name)
{
    return c->inst ? arena_printf(c->a, "%s.%s", c->inst, name) : name;
}

/* ---- expressions ------------------------------------------------------- */

static Sig lower_expr(Walk *c, Expr *e);

/* SR: the patch's rate, or inside an oversampled instance the rate it runs
 * at, so that its filters and oscillators compute their coefficients for it. */
static Val *sample_rate(Walk *c)
{
    Val *sr = ir_leaf(c->ir, V_SR, 0, RATE_INIT, SEC_PATCH);
    if (!c->ir->cur_region)
        return sr;
    RegionSlot *r = c->ir->regions.items[c->ir->cur_region - 1];
    return ir_op(c->ir, V_MUL, 0, sr, ir_const(c->ir, r->factor), NULL);
}

/* One operation applied channel by channel, a one-channel operand
 * broadcast over a many-channel one. */
static Sig map2(Walk *c, Loc loc, ValOp op, int idx, Sig x, Sig y, UDim d)
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

static Sig map1(Walk *c, ValOp op, int idx, Sig x, UDim d)
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
static Sig lower_binary(Walk *c, Expr *e)
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
        if (sema_dims_clash(x.d, y.d)) {
            const char *verb = e->op == OP_ADD ? "add" : e->op == OP_SUB ? "subtract" :
                               e->op == OP_MOD ? "take the modulo of" : "compare";
            diag_error(c->d, e->loc, "cannot %s %s and %s", verb, sema_dim_text(x.d), sema_dim_text(y.d));
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

static Sig lower_cond(Walk *c, Expr *e)
{
    Sig q = lower_expr(c, e->a);
    Sig x = lower_expr(c, e->b);
    Sig y = lower_expr(c, e->c);
    if (sema_dims_clash(x.d, y.d))
        diag_error(c->d, e->loc, "the two branches of '?:' are %s and %s", sema_dim_text(x.d), sema_dim_text(y.d));
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

static int check_positional(Walk *c, Expr *e, const char *what, int want)
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

static Sig lower_prev(Walk *c, Expr *e);
static Sig lower_fn_call(Walk *c, Expr *e, FnDef *fn);

/* The arguments of a call of fn, in the order of its parameters: the
 * positional ones first, then `name: value`. 0 after reporting. */
static int fn_args(Walk *c, Expr *e, FnDef *fn, Expr **vals)
{
    int k = 0, n = 0;
    for (int i = 0; i < fn->n_params; i++)
        vals[i] = NULL;
    for (Arg *a = e->args; a; a = a->next, n++) {
        if (!a->name) {
            if (k < fn->n_params)
                vals[k] = a->value;
            k++;
            continue;
        }
        int j = 0;
        Ident *p = fn->params;
        for (; p && strcmp(p->name, a->name) != 0; p = p->next)
            j++;
        if (!p) {
            diag_error(c->d, a->loc, "function '%s' has no parameter '%s'", fn->name, a->name);
            return 0;
        }
        if (vals[j]) {
            diag_error(c->d, a->loc, "'%s' is given twice", a->name);
            return 0;
        }
        vals[j] = a->value;
    }
    int missing = 0;
    for (int i = 0; i < fn->n_params; i++)
        missing |= !vals[i];
    if (n != fn->n_params || missing) {
        diag_error(c->d, e->loc, "%s() takes %d argument%s, got %d", fn->name, fn->n_params,
                   fn->n_params == 1 ? "" : "s", n);
        return 0;
    }
    return 1;
}

/* A call of a function: its arguments lowered where the call stands, then
 * its body lowered with its parameters bound to them, so units and rates
 * flow through the body as through any expression. A unit error inside
 * the body is followed by a note at the outermost call that caused it.
 * Recursion was reported by sema (check_funcs); here it only stops. */
static Sig lower_fn_call(Walk *c, Expr *e, FnDef *fn)
{
    Expr **vals = arena_alloc(c->a, sizeof(Expr *) * (size_t)(fn->n_params + 1));
    if (!fn_args(c, e, fn, vals))
        return sig_zero(c);
    for (FnFrame *up = c->fn; up; up = up->up)
        if (up->f == fn)
            return sig_zero(c);
    int depth = (c->fn ? c->fn->depth : 0) + fn->body->depth;
    if (depth > FN_DEPTH_LIMIT) {
        diag_error(c->d, e->loc, "calls of functions nested too deeply (in '%s')", fn->name);
        return sig_zero(c);
    }
    if (c->prog->inlined > FN_INLINE_LIMIT) {
        if (!c->prog->inline_limit_reported++)
            diag_error(c->d, e->loc, "function calls expand to more than %d operations", FN_INLINE_LIMIT);
        return sig_zero(c);
    }
    FnFrame frame = { .f = fn, .call = e->loc, .depth = depth, .up = c->fn };
    frame.args = arena_alloc(c->a, sizeof(Sig) * (size_t)(fn->n_params + 1));
    for (int i = 0; i < fn->n_params; i++)
        frame.args[i] = lower_expr(c, vals[i]);
    Diag *saved_d = c->d;
    Diag quiet = *c->d;    /* a body with errors of its own was reported once, by sema */
    quiet.out = NULL;
    if (fn->failed)
        c->d = &quiet;
    int errors = c->d->errors;
    Module *caller = c->module;
    c->fn = &frame;
    c->module = fn->module;
    Sig r = lower_expr(c, fn->body);
    c->fn = frame.up;
    c->module = caller;
    if (!fn->failed && !frame.up && c->d->errors > errors)   /* the outermost call: where it came from */
        diag_note(c->d, e->loc, "in this call of '%s'", fn->name);
    c->d = saved_d;
    return r;
}

/* A name inside a function's body: one of its parameters. */
static Sig lower_fn_name(Walk *c, Expr *e)
{
    int k = 0;
    for (Ident *p = c->fn->f->params; p; p = p->next, k++)
        if (strcmp(p->name, e->name) == 0)
            return c->fn->args[k];
    diag_error(c->d, e->loc, "unknown name '%s' (function '%s' reads only its parameters, constants and SR)",
               e->name, c->fn->f->name);
    return sig_zero(c);
}

/* name(args): built-in functions, noise(), prev(), functions (fn) */
static Sig lower_call(Walk *c, Expr *e)
{
    const char *name = e->name;
    if (c->fn && (strcmp(name, "noise") == 0 || strcmp(name, "prev") == 0)) {
        diag_error(c->d, e->loc, "%s() cannot be used in function '%s': a function is pure (the same "
                   "arguments give the same value)", name, c->fn->f->name);
        return sig_zero(c);
    }
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
        if (sema_dims_clash(x.d, lo.d) || sema_dims_clash(x.d, hi.d) || sema_dims_clash(lo.d, hi.d))
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
        FnDef *fn = e->fn ? e->fn : (e->fn = sema_find_func(c->prog, c->module, name));
        if (fn)
            return lower_fn_call(c, e, fn);
        if (sema_find_node(c->prog, name))
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
            diag_error(c->d, e->args->value->loc, "%s() takes a plain number, not %s", name, sema_dim_text(x.d));
        if (f == F_FRACT)
            d = ANY;
        return map1(c, V_FUNC1, f, x, d);
    }
    Sig y = lower_expr(c, e->args->next->value);
    UDim d = PLAIN;
    if (f == F_MIN || f == F_MAX) {
        if (sema_dims_clash(x.d, y.d))
            diag_error(c->d, e->loc, "%s() of %s and %s", name, sema_dim_text(x.d), sema_dim_text(y.d));
        d = dim_join(x.d, y.d);
    } else if (f == F_POW) {
        if (x.d.known && x.d.exp != 0)
            diag_error(c->d, e->args->value->loc, "pow() takes a plain number, not %s", sema_dim_text(x.d));
    } else if (f == F_ATAN2) {
        if (sema_dims_clash(x.d, y.d))
            diag_error(c->d, e->loc, "atan2() of %s and %s", sema_dim_text(x.d), sema_dim_text(y.d));
    }
    return map2(c, e->loc, V_FUNC2, f, x, y, d);
}

/* prev(x): the value x had one sample earlier. Inside a node the argument
 * is lowered at once; in a patch it may name instances that are scheduled
 * later (that is what breaks a loop), so it is lowered at the end. */

static Sig lower_prev(Walk *c, Expr *e)
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
    df->n = sema_expr_channels(c, x);
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

static Sig lower_node_name(Walk *c, Expr *e)
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
    case SYM_SAMPLE:
        diag_error(c->d, e->loc, "'%s' is a sample; read it with %s.lerp(position), .at, .loop, .frames(), .rate()",
                   s->name, s->name);
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

/* lib.f(args): a function of a file imported as lib; NULL if e is not
 * such a call. */
static FnDef *qualified_call(Walk *c, Expr *e)
{
    if (e->kind != EX_METHOD || e->a->kind != EX_NAME || (!c->ps && !c->fn && find_sym(c->syms, e->a->name)) ||
        !sema_find_alias(c->prog, e->a->name, strlen(e->a->name)))
        return NULL;
    FnDef *fn = sema_find_func(c->prog, NULL, arena_printf(c->a, "%s.%s", e->a->name, e->name));
    if (!fn)
        diag_error(c->d, e->loc, "'%s' (the file '%s') has no function '%s'", e->a->name,
                   sema_find_alias(c->prog, e->a->name, strlen(e->a->name))->import_path, e->name);
    return fn;
}

/* s.at(x), s.lerp(x), s.loop(x) [, channel 0 or 1], s.frames(), s.rate():
 * a sample slot (`sample s;`), bound at run time (amp_dsp.h's reads). */
static Sig lower_sample_method(Walk *c, Expr *e, Sym *s)
{
    static const char *const reads[] = { [SAMPLE_READ_AT] = "at", [SAMPLE_READ_LERP] = "lerp",
                                         [SAMPLE_READ_LOOP] = "loop" };
    char what[96];
    snprintf(what, sizeof what, "%s.%s()", s->name, e->name);
    int info = !strcmp(e->name, "frames") ? 0 : !strcmp(e->name, "rate") ? 1 : -1;
    if (info >= 0) {
        if (!check_positional(c, e, what, 0))
            return sig_zero(c);
        return sig1(ir_leaf(c->ir, V_SAMPLE_INFO, s->slot * 2 + info, RATE_CONTROL, SEC_PATCH),
                    info ? (UDim){ .known = 1, .exp = -1 } : PLAIN);
    }
    int read = -1;
    for (int k = 0; k < 3; k++)
        if (!strcmp(e->name, reads[k]))
            read = k;
    if (read < 0) {
        diag_error(c->d, e->loc, "sample '%s' has no method '%s' (at, lerp, loop, frames, rate)", s->name, e->name);
        return sig_zero(c);
    }
    int n = count_args(e->args);
    if (!check_positional(c, e, what, n == 2 ? 2 : 1))
        return sig_zero(c);
    int channel = 0;
    if (n == 2) {
        double ch = 0;
        if (!lower_const(c, e->args->next->value, "a sample's channel", &ch, NULL))
            return sig_zero(c);
        if (ch != 0 && ch != 1) {
            diag_error(c->d, e->args->next->value->loc, "a sample's channel is 0 or 1, not %.9g", ch);
            return sig_zero(c);
        }
        channel = (int)ch;
    }
    Sig x = lower_expr(c, e->args->value);
    return sig1(ir_op(c->ir, V_SAMPLE_READ, s->slot * 8 + read * 2 + channel, x.ch[0], NULL, NULL), ANY);
}

/* obj.method(args): delay and table reads, lib.f(args) */
static Sig lower_method(Walk *c, Expr *e)
{
    if (e->a->kind == EX_NAME && sema_find_alias(c->prog, e->a->name, strlen(e->a->name)) &&
        (c->ps || !find_sym(c->syms, e->a->name))) {
        FnDef *fn = qualified_call(c, e);
        return fn ? lower_fn_call(c, e, fn) : sig_zero(c);
    }
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
                       sema_dim_text(x.d));
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
    if (s->kind == SYM_SAMPLE)
        return lower_sample_method(c, e, s);
    diag_error(c->d, e->loc, "'%s' has no method '%s': only delay lines, tables and samples do", s->name, e->name);
    return sig_zero(c);
}


static Sig lower_let(Walk *c, PLet *l);

static Sig lower_patch_name(Walk *c, Expr *e)
{
    PatchScope *ps = c->ps;
    Lowered *u = ps->unit;
    const char *name = e->name;
    PLet *l = sema_find_let(ps, name, c->sec);
    if (l)
        return lower_let(c, l);
    int k = sema_find_param(u, name);
    if (k >= 0)
        return sig1(ir_leaf(c->ir, V_PARAM, k, RATE_CONTROL, SEC_PATCH), sema_unit_dim(u->params[k].unit));
    k = sema_find_name(u->input_names, u->n_inputs, name);
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
    if (sema_find_inst(ps, name, c->sec)) {
        diag_error(c->d, e->loc, "'%s' is an instance; read one of its outputs, as in %s.y", name, name);
        return sig_zero(c);
    }
    if (strcmp(name, "note") == 0) {
        diag_error(c->d, e->loc, "'note' has fields: note.freq, note.key, note.vel, note.gate");
        return sig_zero(c);
    }
    if (c->sec == SEC_PATCH && sema_find_inst(ps, name, SEC_VOICE))
        diag_error(c->d, e->loc, "'%s' is inside the voice block; outside it, use 'voices'", name);
    else if (c->sec == SEC_VOICE && sema_find_inst(ps, name, SEC_PATCH))
        diag_error(c->d, e->loc, "'%s' is outside the voice block and cannot be used inside it", name);
    else
        diag_error(c->d, e->loc, "unknown name '%s'", name);
    return sig_zero(c);
}

static void lower_inst(Walk *c, PInst *p);
static Sig composite_field(Walk *c, PInst *p, Expr *e);

static Sig lower_patch_field(Walk *c, Expr *e)
{
    PatchScope *ps = c->ps;
    Lowered *u = ps->unit;
    if (e->a->kind != EX_NAME) {
        diag_error(c->d, e->loc, "'.%s' must follow an instance name, 'note' or 'voices'", e->name);
        return sig_zero(c);
    }
    const char *obj = e->a->name;
    if (strcmp(obj, "note") == 0 && !sema_find_inst(ps, obj, c->sec)) {
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
    if (strcmp(obj, "voices") == 0 && !sema_find_inst(ps, obj, c->sec)) {
        Sig all = lower_patch_name(c, e->a);
        if (all.n <= 1)
            return all;
        int k = sema_find_name(u->output_names, u->n_outputs, e->name);
        if (k < 0) {
            diag_error(c->d, e->loc, "'voices' has no channel '%s'", e->name);
            return sig_zero(c);
        }
        return sig1(all.ch[k], ANY);
    }
    PInst *p = sema_find_inst(ps, obj, c->sec);
    if (!p)
        return lower_patch_name(c, e->a);
    if (p->side)
        return composite_field(c, p, e);
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

static Sig lower_let(Walk *c, PLet *l)
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

static Sig lower_expr(Walk *c, Expr *e)
{
    if (c->fn) {
        c->prog->inlined++;
        if (e->kind == EX_METHOD && e->a->kind == EX_NAME &&
            sema_find_alias(c->prog, e->a->name, strlen(e->a->name))) {
            FnDef *fn = qualified_call(c, e);
            return fn ? lower_fn_call(c, e, fn) : sig_zero(c);
        }
        if (e->kind == EX_FIELD || e->kind == EX_METHOD) {
            diag_error(c->d, e->loc, "'.%s': function '%s' reads only its parameters, constants and SR",
                       e->name, c->fn->f->name);
            return sig_zero(c);
        }
        if (e->kind == EX_NAME && strcmp(e->name, "pi") != 0 && strcmp(e->name, "SR") != 0)
            return lower_fn_name(c, e);
    }
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
            return sig1(sample_rate(c), FREQ);
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
    case EX_INDEX:     /* left by sema only where no table can be: in a function */
        diag_error(c->d, e->loc, "'%s[...]': function '%s' reads only its parameters, constants and SR", e->name,
                   c->fn ? c->fn->f->name : "?");
        return sig_zero(c);
    }
    return sig_zero(c);
}

Sig lower_value(Walk *c, Expr *e)
{
    return lower_expr(c, e);
}

/* A value that must be known when the patch is compiled. */
/* table t = file("NAME.wav"[, channel]): one channel of the file read
 * when the program was loaded (compiler/ampc.c), its data kept in the
 * module. A file with several channels needs the channel named. */
static void lower_file_table(Walk *c, Decl *d)
{
    int channel = 0;
    if (d->value) {
        double ch = 0;
        int known = lower_const(c, d->value, "a file's channel", &ch, NULL);
        if (known && ch == floor(ch) && ch >= 0 && ch < d->file_channels)
            channel = (int)ch;
        else if (known)
            diag_error(c->d, d->value->loc, "channel %.9g is outside '%s' (0 to %d: it has %d channel%s)", ch,
                       d->file, d->file_channels - 1, d->file_channels, d->file_channels == 1 ? "" : "s");
    } else if (d->file_channels != 1) {
        diag_error(c->d, d->file_loc, "'%s' has %d channels and a table holds one: name it, file(\"%s\", 0)",
                   d->file, d->file_channels, d->file);
    }
    /* declared even after an error (channel 0), so its reads say nothing more */
    Sym *s = add_sym(c, d->name, d->loc, SYM_TABLE);
    s->table = ir_table(c->ir, slot_name(c, d->name), (int)d->file_frames);
    s->table->data = d->file_data[channel];
    s->slot = c->ir->tables.n - 1;
}

int lower_const(Walk *c, Expr *e, const char *what, double *out, UDim *dim)
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


/* Lower the declarations and the process block of a node with its params
 * and inputs bound; fill outs (one Val per output). */
void lower_node_body(Walk *c, Node *n, NodeBinding *b, Val **outs)
{
    c->syms = NULL;
    c->module = n->module;
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
            double size = 1, seconds = 0;
            UDim dim;
            if (lower_const(c, d->size, "the size of a delay line", &size, &dim)) {
                if (dim.known && dim.exp == 1) {
                    seconds = size;
                    size *= AMP_MAX_SAMPLE_RATE;
                }
                else if (dim.known && dim.exp != 0)
                    diag_error(c->d, d->size->loc, "a delay size is a number of samples or a time, not %s",
                               sema_dim_text(dim));
                if (!(size >= 1 && size <= 4194304)) {
                    diag_error(c->d, d->size->loc, "a delay line holds 1 to 4194304 samples; this one asks for %.9g", size);
                    size = 1;
                }
            }
            Sym *s = add_sym(c, d->name, d->loc, SYM_DELAY);
            s->delay = ir_delay(c->ir, slot_name(c, d->name), c->sec, (int)ceil(size));
            s->delay->seconds = size > 1 ? seconds : 0;
            s->slot = c->ir->delays.n - 1;
            break;
        }
        case DECL_ARRAY:   /* its entries were put where it is indexed (sema.c) */
            break;
        case DECL_FILE:
            lower_file_table(c, d);
            break;
        case DECL_SAMPLE: {
            Sym *s = add_sym(c, d->name, d->loc, SYM_SAMPLE);
            s->slot = ir_sample(c->ir, slot_name(c, d->name));
            break;
        }
        case DECL_TABLE: {
            double size = 1;
            if (lower_const(c, d->size, "the size of a table", &size, NULL) && !(size >= 1 && size <= 1048576)) {
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
                if (sema_dims_clash(s->d, v.d))
                    diag_error(c->d, st->loc, "state '%s' holds %s, not %s", s->name, sema_dim_text(s->d), sema_dim_text(v.d));
                s->val = v.ch[0];
            } else if (s->kind == SYM_OUTPUT) {
                s->val = v.ch[0];
                s->assigned = 1;
            } else {
                static const char *const kinds[] = { [SYM_PARAM] = "a param",      [SYM_INPUT] = "an input",
                                                     [SYM_OUTPUT] = "an output",    [SYM_STATE] = "a state",
                                                     [SYM_DELAY] = "a delay line",  [SYM_TABLE] = "a table",
                                                     [SYM_LET] = "a let",           [SYM_INDEX] = "the table index",
                                                     [SYM_SAMPLE] = "a sample slot" };
                const char *kind = (unsigned)s->kind < sizeof kinds / sizeof kinds[0] && kinds[s->kind]
                                       ? kinds[s->kind] : "not a state";
                diag_error(c->d, st->name_loc, "cannot assign to '%s': it is %s (only states and outputs can be assigned)",
                           s->name, kind);
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

/* Which channel of the connected value feeds channel ch of target number ti. */
static int conn_channel(int n_value, int n_targets, int ti, int ch)
{
    if (n_value == 1)
        return 0;
    return n_targets == 1 ? ch : ti;
}


static Sig conn_value(Walk *c, PConn *k)
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
static Val *gather(Walk *c, Section sec, const char *object, const char *port, int ch)
{
    Val *sum = ir_const(c->ir, 0);
    for (int i = 0; i < c->ps->conns.n; i++) {
        PConn *k = c->ps->conns.items[i];
        if (k->sec != sec)
            continue;
        int nt = sema_target_count(k->item->targets), ti = 0;
        for (Target *t = k->item->targets; t; t = t->next, ti++) {
            if (strcmp(t->object, object) != 0)
                continue;
            const char *dot = strrchr(object, '.');   /* "ch.out": the outputs of a node built from instances */
            int whole = !t->port && (strcmp(object, "out") == 0 || (dot && strcmp(dot, ".out") == 0));
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
static void lower_faust_inst(Walk *c, PInst *p, NodeBinding *b)
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

/* The range a value is known to stay in: a constant, a patch param with a
 * range (set_param clamps it; smoothing stays between two values in range),
 * a clamp to constants. 0 when unknown. In code units (linear for dB). */
static int known_range(const Walk *c, const Val *v, double *lo, double *hi)
{
    if (v->op == V_CONST) {
        *lo = *hi = v->k;
        return 1;
    }
    if (v->op == V_PARAM && c->ps && v->idx < c->ps->unit->n_params) {
        const UnitParam *up = &c->ps->unit->params[v->idx];
        if (!up->has_range)
            return 0;
        int db = up->unit == AMP_UNIT_DB;
        *lo = db ? pow(10, up->lo / 20) : up->lo;
        *hi = db ? pow(10, up->hi / 20) : up->hi;
        return 1;
    }
    if (v->op == V_CLAMP && v->b->op == V_CONST && v->c->op == V_CONST && v->b->k <= v->c->k) {
        *lo = v->b->k;
        *hi = v->c->k;
        return 1;
    }
    return 0;
}

/* Within [lo, hi] up to float rounding (a dB range converted to linear
 * and back, a constant folded in float). */
static int within(double lo, double hi, double x)
{
    return x >= lo - 1e-6 * fabs(lo) && x <= hi + 1e-6 * fabs(hi);
}

/* A node's param bound in an instance is kept in the param's declared
 * range (lang/SPEC.md §3): a constant outside it is an error, a value not
 * known to stay inside it is clamped into it. */
static Val *bind_in_range(Walk *c, Walk *quiet, Node *n, Param *q, Arg *a, Val *v)
{
    double lo, hi, vlo, vhi;
    if (!q->lo || !q->hi || !lower_const(quiet, q->lo, "a param's range", &lo, NULL) ||
        !lower_const(quiet, q->hi, "a param's range", &hi, NULL) || !(lo <= hi))
        return v;
    if (v->op == V_CONST) {
        if (!within(lo, hi, v->k)) {
            int db = sema_param_unit(q) == AMP_UNIT_DB;
            double x = v->k;
            if (db) {
                x = 20 * log10(x > 0 ? x : 1e-30);
                lo = 20 * log10(lo > 0 ? lo : 1e-30);
                hi = 20 * log10(hi > 0 ? hi : 1e-30);
            }
            const char *u = db ? " dB" : "";
            diag_error(c->d, a->value->loc, "param '%s' of %s is %.9g%s, outside its range [%.9g%s, %.9g%s]", q->name,
                       n->name, x, u, lo, u, hi, u);
        }
        return v;
    }
    if (known_range(c, v, &vlo, &vhi) && within(lo, hi, vlo) && within(lo, hi, vhi))
        return v;
    return ir_op(c->ir, V_CLAMP, 0, v, ir_const(c->ir, lo), ir_const(c->ir, hi));
}

/* ---- nodes built from instances (§11) ---- */

/* A param of a node built from instances, as its instance binds it (kept
 * in the param's range, as a node's) or its default. */
static Val *composite_param(Walk *c, PInst *p, int k)
{
    Node *n = p->node;
    Param *q = n->params;
    for (int j = 0; j < k; j++)
        q = q->next;
    Diag quiet = *c->d;
    quiet.out = NULL;
    Walk cc = *c;
    cc.ps = NULL;
    cc.syms = NULL;
    cc.d = &quiet;
    UDim want = sema_unit_dim(sema_param_unit(q));
    for (Arg *a = p->item->args; a; a = a->next) {
        if (!a->name || strcmp(a->name, q->name) != 0)
            continue;
        Sig v = lower_expr(c, a->value);
        if (v.n != 1) {
            diag_error(c->d, a->loc, "'%s' takes one channel; this value has %d", a->name, v.n);
            return ir_const(c->ir, 0);
        }
        if (sema_dims_clash(want, v.d)) {
            diag_error(c->d, a->value->loc, "param '%s' of %s expects %s, got %s", a->name, n->name,
                       sema_dim_text(want), sema_dim_text(v.d));
            return ir_const(c->ir, 0);
        }
        Ir scratch;
        ir_init(&scratch, c->a);
        cc.ir = &scratch;
        return bind_in_range(c, &cc, n, q, a, v.ch[0]);
    }
    Sig def = lower_expr(&cc, q->def);
    return def.ch[0]->op == V_CONST ? def.ch[0] : ir_const(c->ir, 0);
}

/* An input: what the instance's arguments give it and what is connected to it. */
static Val *composite_input(Walk *c, PInst *p, const char *name)
{
    Val *sum = ir_const(c->ir, 0);
    for (Arg *a = p->item->args; a; a = a->next) {
        if (!a->name || strcmp(a->name, name) != 0)
            continue;
        Sig v = lower_expr(c, a->value);
        if (v.n != 1)
            diag_error(c->d, a->loc, "'%s' takes one channel; this value has %d", a->name, v.n);
        else
            sum = ir_op(c->ir, V_ADD, 0, sum, v.ch[0], NULL);
    }
    return ir_op(c->ir, V_ADD, 0, sum, gather(c, p->sec, p->item->name, name, 0), NULL);
}

/* `ch.name` of an instance of a node built from instances: its inlined
 * instances read its params and inputs so, and the patch its outputs (the
 * sum of what is sent to `ch.out`). */
static Sig composite_field(Walk *c, PInst *p, Expr *e)
{
    if (p->side == 2)
        p = p->partner;
    Node *n = p->node;
    int np = sema_param_count(n->params), ni = sema_ident_count(n->ins), no = sema_ident_count(n->outs);
    int k, slot;
    UDim d = ANY;
    const char *name = e->name[0] == '@' ? e->name + 1 : NULL;   /* read inside: a param or an input */
    if (!name) {
        if ((k = sema_node_output(n, e->name)) < 0) {
            diag_error(c->d, e->loc, "'%s' (%s %s) has no output '%s'", p->item->name,
                       n->from_patch ? "patch" : "node", n->name, e->name);
            return sig_zero(c);
        }
        slot = np + ni + k;
    } else if ((k = sema_node_param(n, name)) >= 0) {
        slot = k;
        Param *q = n->params;
        for (int j = 0; j < k; j++)
            q = q->next;
        d = sema_unit_dim(sema_param_unit(q));
    } else {
        if ((k = sema_node_input(n, name)) < 0)
            return sig_zero(c);
        slot = np + k;
    }
    if (!p->ports)
        p->ports = arena_alloc(c->a, sizeof(Val *) * (size_t)(np + ni + no + 1));
    if (!p->ports[slot]) {
        p->ports[slot] = ir_const(c->ir, 0);   /* a loop back into it, reported by schedule() */
        Section saved = c->sec;
        c->sec = p->sec;
        Val *v = slot < np        ? composite_param(c, p, k)
                 : slot < np + ni ? composite_input(c, p, name)
                                  : gather(c, p->sec, p->partner->item->name, e->name, k);
        c->sec = saved;
        p->ports[slot] = v;
    }
    return sig1(p->ports[slot], d);
}

/* An instance in an `oversample N { … }` block: a region of the Ir. Its
 * audio-rate params and inputs enter upsampled; params at control rate or
 * slower enter as they are (they hold for the whole tick anyway). The Vals
 * its body makes belong to the region until it is closed. */
static int open_region(Walk *c, PInst *p, NodeBinding *b, int np, int ni)
{
    int r = ir_region(c->ir, p->item->name, p->sec, p->item->oversample);
    for (int k = 0; k < np; k++)
        if (b->params[k]->rate == RATE_AUDIO)
            b->params[k] = ir_os_in(c->ir, r, b->params[k]);
    for (int k = 0; k < ni; k++)
        if (b->inputs[k]->rate == RATE_AUDIO)
            b->inputs[k] = ir_os_in(c->ir, r, b->inputs[k]);
    c->ir->cur_region = r + 1;
    return r;
}

static void lower_inst(Walk *c, PInst *p)
{
    if (p->lowered)
        return;
    p->lowered = 1;        /* also stops a loop that was reported already */
    if (p->side == 1) {    /* its params and inputs, read or not, so that their arguments are checked */
        Expr port = { .kind = EX_FIELD, .loc = p->item->loc };
        for (Param *q = p->node->params; q; q = q->next) {
            port.name = arena_printf(c->a, "@%s", q->name);
            composite_field(c, p, &port);
        }
        for (Ident *i = p->node->ins; i; i = i->next) {
            port.name = arena_printf(c->a, "@%s", i->name);
            composite_field(c, p, &port);
        }
    }
    if (p->side)           /* its instances are lowered, its ports read (composite_field) */
        return;
    Node *n = p->node;
    int np = sema_param_count(n->params), ni = sema_ident_count(n->ins);
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
        Walk cc = *c;
        cc.ps = NULL;
        cc.syms = NULL;
        cc.d = &quiet;
        Sig def = lower_expr(&cc, q->def);
        b.params[k] = def.ch[0]->op == V_CONST ? def.ch[0] : ir_const(c->ir, 0);
        b.param_dims[k] = sema_unit_dim(sema_param_unit(q));
    }
    for (k = 0; k < ni; k++)
        b.inputs[k] = ir_const(c->ir, 0);
    Ir scratch = { 0 };    /* ranges' constants, kept out of the unit's Ir */
    for (Arg *a = p->item->args; a; a = a->next) {
        if (!a->name)
            continue;      /* reported when the patch was collected */
        int pi = sema_node_param(n, a->name);
        Sig v = lower_expr(c, a->value);
        if (v.n != 1) {
            diag_error(c->d, a->loc, "'%s' takes one channel; this value has %d", a->name, v.n);
            continue;
        }
        if (pi >= 0) {
            if (sema_dims_clash(b.param_dims[pi], v.d)) {
                diag_error(c->d, a->value->loc, "param '%s' of %s expects %s, got %s", a->name, n->name,
                           sema_dim_text(b.param_dims[pi]), sema_dim_text(v.d));
                continue;
            }
            Param *q = n->params;
            for (int j = 0; j < pi; j++)
                q = q->next;
            if (!scratch.arena)
                ir_init(&scratch, c->a);
            Walk cc = *c;
            cc.ps = NULL;
            cc.syms = NULL;
            cc.d = &quiet;
            cc.ir = &scratch;
            b.params[pi] = bind_in_range(c, &cc, n, q, a, v.ch[0]);
        } else {
            int ii = sema_node_input(n, a->name);
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
    int region = p->item->oversample > 1 ? open_region(c, p, &b, np, ni) : -1;
    Walk nc = *c;
    nc.ps = NULL;
    nc.syms = NULL;
    nc.inst = p->item->name;
    nc.in_table = 0;
    nc.d = &quiet;
    p->n_outs = sema_ident_count(n->outs);
    p->outs = arena_alloc(c->a, sizeof(Val *) * (size_t)(p->n_outs + 1));
    lower_node_body(&nc, n, &b, p->outs);
    if (region >= 0) {     /* what leaves the region comes out downsampled */
        c->ir->cur_region = 0;
        for (k = 0; k < p->n_outs; k++)
            if (p->outs[k] && p->outs[k]->rate == RATE_AUDIO)
                p->outs[k] = ir_os_out(c->ir, region, p->outs[k]);
    }
    c->sec = saved;
}

/* The instances of one section in schedule order, then its lets (unused
 * lets are still checked). After errors in the voice section, the patch
 * section's instances are lowered only as its connections read them. */
static void lower_section(Walk *c, Section sec)
{
    if (c->d->errors)
        return;
    PtrVec *order = &c->ps->order[sec];
    for (int i = 0; i < order->n; i++)
        lower_inst(c, order->items[i]);
    for (int i = 0; i < c->ps->lets.n; i++) {
        PLet *l = c->ps->lets.items[i];
        if (l->sec == sec)
            lower_let(c, l);
    }
}

/* The tables read from files keep their data in the module: together
 * (each file's channel once, however many instances read it) at most
 * AMPC_DATA_BUDGET bytes, a budget of their own beside the state's. */
static void check_data_budget(const Ir *ir, Loc loc, Diag *d)
{
    uint64_t bytes = 0;
    for (int k = 0; k < ir->tables.n; k++) {
        const TableSlot *t = ir->tables.items[k];
        int seen = 0;
        for (int j = 0; j < k && t->data && !seen; j++)
            seen = ((const TableSlot *)ir->tables.items[j])->data == t->data;
        if (t->data && !seen)
            bytes += 4 * (uint64_t)t->size;
    }
    if (bytes > AMPC_DATA_BUDGET)
        diag_error(d, loc, "the tables read from files hold %llu bytes; a patch may hold %d (4 per entry)",
                   (unsigned long long)bytes, AMPC_DATA_BUDGET);
}

Lowered *lower_unit(PatchScope *ps, Diag *d)
{
    Lowered *u = ps->unit;
    Walk c = { .prog = ps->prog, .d = d, .a = ps->prog->arena, .ir = &u->ir, .sec = SEC_PATCH, .ps = ps };
    Patch *patch = ps->patch;

    /* the voice section, then the sum of voices, then the patch section */
    c.sec = SEC_VOICE;
    lower_section(&c, SEC_VOICE);
    int voice_connected = 0;
    for (int i = 0; i < ps->conns.n; i++) {
        PConn *k = ps->conns.items[i];
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
            ps->voicebus.ch[ch] = ir_leaf(&u->ir, V_VOICEBUS, ch, RATE_AUDIO, SEC_PATCH);
        }
        ps->voicebus.n = u->n_outputs;
        ps->voicebus.d = ANY;
    }
    c.sec = SEC_PATCH;
    lower_section(&c, SEC_PATCH);
    int patch_connected = 0;
    for (int i = 0; i < ps->conns.n; i++) {
        PConn *k = ps->conns.items[i];
        if (k->sec == SEC_PATCH)
            conn_value(&c, k);
        for (Target *t = k->item->targets; t; t = t->next)
            if (k->sec == SEC_PATCH && !strcmp(t->object, "out"))
                patch_connected = 1;
    }
    for (int ch = 0; ch < u->n_outputs; ch++)
        u->out[ch] = patch_connected ? gather(&c, SEC_PATCH, "out", u->output_names[ch], ch)
                     : u->voices     ? ps->voicebus.ch[ch]
                                     : ir_const(&u->ir, 0);
    if (!patch_connected && !u->voices)
        diag_error(d, patch->loc, "patch '%s' sends nothing to 'out'", u->name);

    for (int i = 0; i < ps->deferred.n; i++) {
        Deferred *df = ps->deferred.items[i];
        c.sec = df->sec;
        Sig v = lower_expr(&c, df->expr);
        for (int ch = 0; ch < df->n; ch++)
            df->slot[ch]->end = v.ch[v.n == 1 ? 0 : ch < v.n ? ch : 0];
    }
    check_data_budget(&u->ir, patch->loc, d);
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
