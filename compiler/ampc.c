/* ampc.c — the compiler pipeline: each pass in order, stopping at the
 * first that reports an error; `--dump PASS` prints a pass's result.
 *
 *   parse     re2c lexer + lemon grammar (lang/)                  -> Module
 *   load      every file the main file imports, breadth first; an
 *             `import faust` runs faust and adds its node (faust.c) -> Program
 *   sema      checks; the unit patch collected (sema.c)           -> PatchScope
 *   schedule  the order of its instances (schedule.c)             -> PatchScope.order
 *   lower     instances inlined into the value graph (lower.c)    -> Lowered
 *   plan      where each value is read, what gets storage (plan.c) -> Plan
 *   flush     where tiny values are flushed to zero (flush.c)     -> Plan.flush
 *   loops     the patch section's sample loop, split (loops.c)    -> Plan.loop_of
 *   budget    the state's size and items, held to the budget (budget.c) -> StateBudget
 *   emit      JSON metadata, C source and header (emit_json.c, emit_c.c)
 */
#include "ampc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "budget.h"
#include "emit.h"
#include "faust.h"
#include "lower.h"
#include "parser.h"
#include "sema.h"
#include "../runtime/formats/wav.h"

typedef struct Loaded {
    char *key;             /* canonical path, to load each file once */
    Module *module;
} Loaded;

static char *dir_of(Arena *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return arena_strdup(a, ".");
    return arena_strndup(a, path, (size_t)(slash - path) + (slash == path));
}

static char *join(Arena *a, const char *dir, const char *name)
{
    if (name[0] == '/')
        return arena_strdup(a, name);
    if (!strcmp(dir, "."))
        return arena_strdup(a, name);
    return arena_printf(a, "%s/%s", dir, name);
}

static char *canonical(Arena *a, const char *path, const AmpcOptions *opt)
{
    if (opt && opt->resolver)
        return arena_strdup(a, path);
    char buf[PATH_MAX];
    if (realpath(path, buf))
        return arena_strdup(a, buf);
    return arena_strdup(a, path);
}

/* Whether a file is at path: on the file system, or the resolver's. */
static int readable(const char *path, const AmpcOptions *opt)
{
    if (opt && opt->resolver) {
        size_t len;
        return opt->resolver->read(opt->resolver->ctx, path, &len) != NULL;
    }
    return access(path, R_OK) == 0;
}

/* The file at path, loaded: from the file system, or the resolver's. */
static SourceFile *load_file(Arena *a, Diag *d, const char *path, const AmpcOptions *opt)
{
    if (opt && opt->resolver) {
        size_t len = 0;
        const char *text = opt->resolver->read(opt->resolver->ctx, path, &len);
        if (!text) {
            diag_plain(d, "cannot read '%s': no such file", path);
            return NULL;
        }
        return source_from_text(a, path, text, len);
    }
    return source_load(a, d, path);
}

/* Where an import names a file: next to the importing file, else in each
 * include directory. NULL if it is nowhere. */
static char *resolve_import(Arena *a, const char *from, const char *name, const AmpcOptions *opt)
{
    char *p = join(a, dir_of(a, from), name);
    if (readable(p, opt))
        return p;
    for (int i = 0; opt && i < opt->n_include_dirs; i++) {
        p = join(a, opt->include_dirs[i], name);
        if (readable(p, opt))
            return p;
    }
    return NULL;
}

/* A confined import (AmpcOptions.confined): relative, no '..' segment, no
 * empty segment, so it stays beneath the folder it is looked up in. */
static int confined_name(const char *name)
{
    if (!name[0] || name[0] == '/')
        return 0;
    for (const char *seg = name; *seg;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 2 && seg[0] == '.' && seg[1] == '.') || (n == 1 && seg[0] == '.'))
            return 0;
        seg += n;
        if (*seg == '/')
            seg++;
        if (!*seg && seg[-1] == '/')
            return 0;
    }
    return 1;
}

static int already_loaded(PtrVec *loaded, const char *key)
{
    for (int i = 0; i < loaded->n; i++)
        if (!strcmp(((Loaded *)loaded->items[i])->key, key))
            return 1;
    return 0;
}

static void add_module(Program *prog, Module *m)
{
    vec_push(prog->arena, &prog->modules, m);
    for (Node *n = m->nodes; n; n = n->next) {
        n->module = m;
        vec_push(prog->arena, &prog->nodes, n);
    }
    for (Patch *p = m->patches; p; p = p->next)
        vec_push(prog->arena, &prog->patches, p);
    for (FnDef *f = m->funcs; f; f = f->next) {
        f->module = m;
        vec_push(prog->arena, &prog->funcs, f);
    }
}

/* An import of module m: without `as`, its names become visible to all;
 * with `as lib`, as lib.name (a name for one file only). */
static void import_names(Program *prog, Import *im, Module *m, Diag *d)
{
    if (!im->as) {
        m->global = 1;
        return;
    }
    for (int i = 0; i < prog->aliases.n; i++) {
        ImportAlias *al = prog->aliases.items[i];
        if (strcmp(al->name, im->as) != 0)
            continue;
        if (al->module != m) {
            diag_error(d, im->loc, "'%s' already names '%s'; import '%s' under another name", im->as,
                       al->module->import_path, im->path);
            diag_note(d, al->loc, "'%s' was given here", im->as);
        }
        return;
    }
    ImportAlias *al = arena_alloc(prog->arena, sizeof *al);
    al->name = im->as;
    al->module = m;
    al->loc = im->loc;
    vec_push(prog->arena, &prog->aliases, al);
}

static Module *loaded_module(PtrVec *loaded, const char *key)
{
    for (int i = 0; i < loaded->n; i++)
        if (!strcmp(((Loaded *)loaded->items[i])->key, key))
            return ((Loaded *)loaded->items[i])->module;
    return NULL;
}

/* `import faust "FILE.dsp" as NAME;`: the Faust program becomes the node
 * NAME. The same file under the same name, imported by several files, is
 * one node. */
static void load_faust(Program *prog, Module *m, Import *im, const char *path, const AmpcOptions *opt, Diag *d,
                       PtrVec *loaded)
{
    Arena *a = prog->arena;
    char *key = arena_printf(a, "faust:%s:%s", im->faust_as, canonical(a, path, opt));
    if (already_loaded(loaded, key))
        return;
    Loaded *l = arena_alloc(a, sizeof *l);
    l->key = key;
    vec_push(a, loaded, l);
    FaustProgram *fp = faust_import(a, d, im->loc, im->path, path, im->faust_as,
                                    opt ? opt->include_dirs : NULL, opt ? opt->n_include_dirs : 0);
    if (!fp)
        return;
    fp->module = m;
    vec_push(a, &prog->fausts, fp);
    vec_push(a, &prog->nodes, fp->node);
}

/* Load every imported file, breadth first. */
static int load_imports(Program *prog, const AmpcOptions *opt, Diag *d, PtrVec *loaded)
{
    Arena *a = prog->arena;
    for (int i = 0; i < prog->modules.n && !d->errors; i++) {
        Module *m = prog->modules.items[i];
        for (Import *im = m->imports; im; im = im->next) {
            if (opt && opt->confined && !confined_name(im->path)) {
                diag_error(d, im->loc, "'%s': an import here names a file of the library by a relative path "
                           "(no leading '/', no '..')", im->path);
                continue;
            }
            char *path = resolve_import(a, m->file->path, im->path, opt);
            if (path && im->faust_as) {
                load_faust(prog, m, im, path, opt, d, loaded);
                continue;
            }
            if (!path) {
                diag_error(d, im->loc, "cannot find '%s' (looked next to this file and in %d include director%s)",
                           im->path, opt ? opt->n_include_dirs : 0, opt && opt->n_include_dirs == 1 ? "y" : "ies");
                continue;
            }
            char *key = canonical(a, path, opt);
            if (already_loaded(loaded, key)) {
                Module *old = loaded_module(loaded, key);
                if (old)
                    import_names(prog, im, old, d);
                continue;
            }
            SourceFile *f = load_file(a, d, path, opt);
            if (!f)
                continue;
            Module *sub = parse_source(a, d, f);
            if (!sub)
                return 1;
            sub->import_path = im->path;
            Loaded *l = arena_alloc(a, sizeof *l);
            l->key = key;
            l->module = sub;
            vec_push(a, loaded, l);
            add_module(prog, sub);
            import_names(prog, im, sub, d);
        }
    }
    return d->errors != 0;
}

/* The bytes of a data file (a WAV of `table t = file(...)`), in the
 * arena: from the resolver, or read whole from the file system. NULL with
 * a message in err if it cannot be read. */
static const unsigned char *read_bytes(Arena *a, const char *path, const AmpcOptions *opt, size_t *len,
                                       char *err, size_t errlen)
{
    if (opt && opt->resolver) {
        const char *bytes = opt->resolver->read(opt->resolver->ctx, path, len);
        if (!bytes)
            snprintf(err, errlen, "no such file");
        return (const unsigned char *)bytes;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    unsigned char *buf = xmalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap > (size_t)AMPC_FILE_BYTES) {
                snprintf(err, errlen, "larger than %d bytes", AMPC_FILE_BYTES);
                break;
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(fp) || err[0];
    if (ferror(fp) && !err[0])
        snprintf(err, errlen, "%s", strerror(errno ? errno : EIO));
    fclose(fp);
    unsigned char *out = NULL;
    if (!failed) {
        out = arena_alloc(a, n + 1);
        memcpy(out, buf, n);
        *len = n;
    }
    free(buf);
    return out;
}

/* `table t = file("NAME.wav")` in node n of module m: the path found as an
 * import's is (next to the file, then in the include folders; confined
 * the same way), the WAV read into the declaration (channels, frames,
 * every sample), or an error at the path. */
static void load_data_file(Arena *a, Module *m, Decl *dc, const AmpcOptions *opt, Diag *d)
{
    if (opt && opt->confined && !confined_name(dc->file)) {
        diag_error(d, dc->file_loc, "'%s': a file here is named by a relative path inside the library "
                   "(no leading '/', no '..')", dc->file);
        return;
    }
    char *path = resolve_import(a, m->file->path, dc->file, opt);
    if (!path) {
        diag_error(d, dc->file_loc, "cannot find '%s' (looked next to this file and in %d include director%s)",
                   dc->file, opt ? opt->n_include_dirs : 0, opt && opt->n_include_dirs == 1 ? "y" : "ies");
        return;
    }
    char err[160] = "";
    size_t len = 0;
    const unsigned char *bytes = read_bytes(a, path, opt, &len, err, sizeof err);
    if (!bytes) {
        diag_error(d, dc->file_loc, "cannot read '%s': %s", dc->file, err);
        return;
    }
    WavData w;
    if (wav_read_memory(bytes, len, &w, err, sizeof err) != 0) {
        diag_error(d, dc->file_loc, "'%s' is not a WAV file ampc reads: %s", dc->file, err);
        return;
    }
    if (w.frames < 1 || w.frames > AMPC_FILE_FRAMES) {
        diag_error(d, dc->file_loc, "'%s' has %ld frames; a table from a file holds 1 to %d", dc->file,
                   w.frames, AMPC_FILE_FRAMES);
        wav_free(&w);
        return;
    }
    dc->file_channels = w.channels;
    dc->file_frames = w.frames;
    dc->file_data = arena_alloc(a, sizeof(float *) * (size_t)w.channels);
    for (int c = 0; c < w.channels; c++) {
        dc->file_data[c] = arena_alloc(a, sizeof(float) * (size_t)w.frames);
        for (long i = 0; i < w.frames; i++) {
            float x = w.data[c][i];
            dc->file_data[c][i] = x == x && x - x == 0 ? x : 0.0f;   /* NaN and infinities read 0 */
        }
    }
    wav_free(&w);
}

/* The data files of every node of the program. */
static int load_data_files(Program *prog, const AmpcOptions *opt, Diag *d)
{
    for (int i = 0; i < prog->modules.n; i++) {
        Module *m = prog->modules.items[i];
        for (Node *n = m->nodes; n; n = n->next)
            for (Decl *dc = n->decls; dc; dc = dc->next)
                if (dc->kind == DECL_FILE)
                    load_data_file(prog->arena, m, dc, opt, d);
    }
    return d->errors != 0;
}

/* The main module and every module and Faust program it imports. */
static int load_program(Program *prog, Arena *a, Module *m, SourceFile *f, const AmpcOptions *opt, Diag *d)
{
    *prog = (Program){ .arena = a, .main = m };
    PtrVec loaded = { 0 };
    Loaded *self = arena_alloc(a, sizeof *self);
    self->key = canonical(a, f->path, opt);
    self->module = m;
    vec_push(a, &loaded, self);
    m->global = 1;
    m->import_path = f->path;
    add_module(prog, m);
    if (load_imports(prog, opt, d, &loaded))
        return 1;
    return load_data_files(prog, opt, d);
}

/* The dumps, in pipeline order: the name --dump takes, what it prints. */
static const struct {
    AmpcDump kind;
    const char *name, *what;
} dumps[] = {
    { AMPC_DUMP_AST, "ast", "the syntax tree of the main file" },
    { AMPC_DUMP_SEMA, "sema", "the unit's signature, instances, lets and connections" },
    { AMPC_DUMP_SCHEDULE, "schedule", "the instances of each section in order, and what each reads" },
    { AMPC_DUMP_GRAPH, "graph", "the unit, its instances in order, the size of its value graph" },
    { AMPC_DUMP_RATES, "rates", "every live value, by section and rate" },
    { AMPC_DUMP_PLAN, "plan", "where each live value is read, and the storage it gets" },
    { AMPC_DUMP_FLUSH, "flush", "the values flushed to zero on feedback loops" },
    { AMPC_DUMP_LOOPS, "loops", "how the patch section's sample loop is split" },
    { AMPC_DUMP_STATE, "state", "the state's size, and its items largest first" },
};

AmpcDump ampc_dump_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof dumps / sizeof dumps[0]; i++)
        if (!strcmp(dumps[i].name, name))
            return dumps[i].kind;
    return AMPC_DUMP_NONE;
}

void ampc_dump_usage(FILE *out, const char *indent)
{
    for (size_t i = 0; i < sizeof dumps / sizeof dumps[0]; i++)
        fprintf(out, "%s%-10s%s\n", indent, dumps[i].name, dumps[i].what);
}

static char *dup_text(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* The three texts of the result, malloc'd (they outlive the arena). */
static int emit(const Lowered *u, const Plan *plan, const StateBudget *state, AmpcResult *result)
{
    EmitText json = { 0 }, c = { 0 }, h = { 0 };
    emit_json(u, plan, state, &json);
    emit_c(u, plan, json.text, &c, &h);
    result->name = dup_text(u->name, strlen(u->name));
    size_t sl = strlen(u->name) + 16;
    result->symbol = xmalloc(sl);
    snprintf(result->symbol, sl, "amp_%s_desc", u->name);
    result->c_text = c.text;
    result->c_len = c.len;
    result->h_text = h.text;
    result->h_len = h.len;
    result->json_text = json.text;
    result->json_len = json.len;
    return 0;
}

static int compile(Arena *a, SourceFile *f, const AmpcOptions *opt, Diag *d, AmpcResult *result)
{
    memset(result, 0, sizeof *result);
    AmpcDump dump = opt ? opt->dump : AMPC_DUMP_NONE;
    FILE *out = opt && opt->dump_out ? opt->dump_out : stdout;
    Program prog;
    Module *m;
    PatchScope *ps;
    Lowered *u;
    Plan *plan;
    StateBudget *state;

    if (!(m = parse_source(a, d, f)))
        return 1;
    if (dump == AMPC_DUMP_AST)
        ast_dump(out, m);
    if (load_program(&prog, a, m, f, opt, d))
        return 1;
    if (!(ps = sema_unit(&prog, opt ? opt->unit : NULL, d)))
        return 1;
    if (dump == AMPC_DUMP_SEMA)
        sema_dump(out, ps);
    if (schedule_unit(ps, d))
        return 1;
    if (dump == AMPC_DUMP_SCHEDULE)
        schedule_dump(out, ps);
    if (!(u = lower_unit(ps, d)))
        return 1;
    if (dump == AMPC_DUMP_GRAPH)
        lower_dump_graph(out, u);
    if (dump == AMPC_DUMP_RATES)
        lower_dump_rates(out, u);
    plan = plan_unit(a, u, opt ? opt->scalar : 0);
    if (dump == AMPC_DUMP_PLAN)
        plan_dump(out, plan);
    plan_flush(a, plan);
    if (dump == AMPC_DUMP_FLUSH)
        plan_dump_flush(out, plan);
    plan_chunk_flushes(a, plan);
    plan_steady(a, plan);
    plan_loops(a, plan);
    if (dump == AMPC_DUMP_LOOPS) {
        plan_dump_loops(out, plan);
        plan_dump_steady(out, plan);
    }
    state = budget_measure(a, plan);
    if (dump == AMPC_DUMP_STATE)
        budget_dump(out, state);
    if (budget_check(state, ps, d))
        return 1;
    return emit(u, plan, state, result);
}

int ampc_compile_text(const char *path, const char *text, size_t len, const AmpcOptions *opt, Diag *d,
                      AmpcResult *out)
{
    Arena a;
    arena_init(&a);
    SourceFile *f = source_from_text(&a, path, text, len);
    int rc = compile(&a, f, opt, d, out);
    arena_free(&a);
    return rc;
}

int ampc_compile_file(const char *path, const AmpcOptions *opt, Diag *d, AmpcResult *out)
{
    Arena a;
    arena_init(&a);
    memset(out, 0, sizeof *out);
    SourceFile *f = source_load(&a, d, path);
    int rc = f ? compile(&a, f, opt, d, out) : 1;
    arena_free(&a);
    return rc;
}

void ampc_result_free(AmpcResult *r)
{
    free(r->name);
    free(r->symbol);
    free(r->c_text);
    free(r->h_text);
    free(r->json_text);
    memset(r, 0, sizeof *r);
}
