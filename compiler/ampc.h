/* ampc.h — the compiler as a library: .amp text in, C + header + JSON out.
 *
 * Used by the `ampc` driver (compiler/main.c), by `amp render` (which builds
 * the C into a cached shared object), by the fuzz harness and the tests.
 * The pipeline (compile() in compiler/ampc.c) is the list of passes, one
 * file each:
 *   parse (lang/) -> load imports -> sema (sema.c) -> schedule (schedule.c)
 *   -> lower (lower.c) -> plan (plan.c) -> flush (flush.c) -> loops
 *   (loops.c) -> state budget (budget.c) -> emit JSON (emit_json.c)
 *   -> emit C (emit_c.c)
 * and AmpcOptions.dump prints the result of one of them.
 */
#ifndef AMP_AMPC_H
#define AMP_AMPC_H

#include <stddef.h>
#include <stdio.h>
#include "diag.h"

#define AMPC_VERSION "0.1.0"

/* A table read from a file (`table t = file("NAME.wav")`, lang/SPEC.md §9)
 * holds at most this many frames; its data is in the module, not in the
 * state, and each patch's file tables together hold at most
 * AMPC_DATA_BUDGET bytes (4 per entry). A file is read only if it is at
 * most AMPC_FILE_BYTES long. */
#define AMPC_FILE_FRAMES 1048576
#define AMPC_DATA_BUDGET (4 << 20)
#define AMPC_FILE_BYTES (64 << 20)

typedef enum {
    AMPC_DUMP_NONE = 0,
    AMPC_DUMP_AST,         /* parse: the main file's syntax tree */
    AMPC_DUMP_GRAPH,       /* lower: the unit, its instances in order, the Ir's size */
    AMPC_DUMP_RATES,       /* lower: every live value, by section and rate */
    AMPC_DUMP_SEMA,        /* sema: the unit's signature, instances, lets, connections */
    AMPC_DUMP_SCHEDULE,    /* schedule: the instances of each section in order */
    AMPC_DUMP_PLAN,        /* plan: where each live value is read, the storage it gets */
    AMPC_DUMP_FLUSH,       /* plan_flush: the values flushed to zero */
    AMPC_DUMP_LOOPS,       /* plan_loops: the patch section's sample loop, split */
    AMPC_DUMP_STATE,       /* budget: the state's size and its items, largest first */
} AmpcDump;

/* Where imports are read from when there is no file system (ampc.wasm in
 * the editor's worker, compiler/wasm/): read(ctx, path, &len) gives the
 * text of the file at `path` — the path ampc made by joining the importing
 * file's folder, or an include folder, and the import's name, e.g.
 * "lib/std/osc.amp" — or NULL when there is no such file. The text stays
 * valid for the compile. A path is its own canonical name (no links).
 * The data files of tables (`file("waves/organ.wav")`) are read through
 * it the same way: their bytes, *len of them (NUL bytes included). */
typedef struct AmpcResolver {
    const char *(*read)(void *ctx, const char *path, size_t *len);
    void *ctx;
} AmpcResolver;

typedef struct AmpcOptions {
    const char *unit;              /* patch or node to compile; NULL: the file's last patch, else its last node */
    const char *const *include_dirs;
    int n_include_dirs;
    AmpcDump dump;                 /* print this intermediate form to dump_out */
    FILE *dump_out;
    int scalar;                    /* 1: emit scalar code for voices (for benchmarks); 0: 4 voices per vector */
    int confined;                  /* 1: an import names a relative path without '..' (ampd's compile
                                      service: nothing outside the source's folder and the -I folders) */
    const AmpcResolver *resolver;  /* NULL: imports from the file system */
} AmpcOptions;

typedef struct AmpcResult {
    char *name;                    /* the unit's name, a C identifier */
    char *symbol;                  /* the descriptor's symbol: amp_<name>_desc */
    char *c_text;   size_t c_len;  /* <name>.c */
    char *h_text;   size_t h_len;  /* <name>.h */
    char *json_text; size_t json_len; /* <name>.json */
} AmpcResult;

/* Compile the file at path. Returns 0 and fills *out (free with
 * ampc_result_free) on success; on error returns 1, with every diagnostic
 * written to diag. Never crashes on any input. */
int ampc_compile_file(const char *path, const AmpcOptions *opt, Diag *diag, AmpcResult *out);
/* Same, for text in memory (len bytes, may contain NUL); `path` names it in
 * diagnostics and anchors relative imports. */
int ampc_compile_text(const char *path, const char *text, size_t len,
                      const AmpcOptions *opt, Diag *diag, AmpcResult *out);
void ampc_result_free(AmpcResult *r);

/* The dump a name (as `ampc --dump NAME` takes it) stands for;
 * AMPC_DUMP_NONE if none. */
AmpcDump ampc_dump_lookup(const char *name);
/* One line per dump, in pipeline order: its name and what it prints. */
void ampc_dump_usage(FILE *out, const char *indent);

#endif
