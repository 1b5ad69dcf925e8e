/* ampc_wasm.c — ampc as a WebAssembly module (ampc.wasm) for the patch
 * editor's worker (web/src/editor/ampc-worker.ts): the check of
 *
 *     ampc patch.amp --check --confine -I lib
 *
 * exactly as ampd's compile service runs it (server/api_compile.c: a
 * folder holding patch.amp and lib, a link to the library), on text in
 * memory and a library held in memory: the worker adds each file of the
 * library once (ampc_add_file("lib/std/osc.amp", ...)), then checks each
 * edit (ampc_check). Imports resolve through the compiler's resolver
 * (AmpcResolver, compiler/ampc.h) over these files, the same joins as on
 * the file system, so the messages are the command line's, byte for byte.
 *
 * A Faust import is left to the server (faust_server.c, in place of
 * compiler/faust.c): ampc_check returns AMPC_WASM_FAUST and no
 * diagnostics.
 *
 * Exports (and malloc/free for the texts the worker passes in):
 *   int ampc_add_file(const char *path, const char *text, size_t len)   0 ok
 *   void ampc_clear_files(void)
 *   int ampc_check(const char *text, size_t len)   AMPC_WASM_OK, _ERRORS, _FAUST
 *   const char *ampc_output(void)  size_t ampc_output_len(void)   the diagnostics
 *   const char *ampc_version(void)
 */
#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ampc.h"
#include "ampc_wasm.h"

typedef struct VFile {
    char *path;
    char *text;
    size_t len;
} VFile;

static VFile *files;
static int n_files, cap_files;
static const char *main_text;
static size_t main_len;
static char *out_text;
static size_t out_len;

int ampc_wasm_faust_imports;

EMSCRIPTEN_KEEPALIVE int ampc_add_file(const char *path, const char *text, size_t len)
{
    if (n_files == cap_files) {
        int cap = cap_files ? cap_files * 2 : 32;
        VFile *grown = realloc(files, sizeof *files * (size_t)cap);
        if (!grown)
            return 1;
        files = grown;
        cap_files = cap;
    }
    VFile *f = &files[n_files];
    f->path = strdup(path);
    f->text = malloc(len + 1);
    if (!f->path || !f->text) {
        free(f->path);
        free(f->text);
        return 1;
    }
    memcpy(f->text, text, len);
    f->text[len] = 0;
    f->len = len;
    n_files++;
    return 0;
}

EMSCRIPTEN_KEEPALIVE void ampc_clear_files(void)
{
    for (int i = 0; i < n_files; i++) {
        free(files[i].path);
        free(files[i].text);
    }
    n_files = 0;
}

/* The resolver: the text being checked is patch.amp, the library's files
 * are under lib/. */
static const char *vfs_read(void *ctx, const char *path, size_t *len)
{
    (void)ctx;
    if (!strcmp(path, AMPC_WASM_MAIN)) {
        *len = main_len;
        return main_text;
    }
    for (int i = 0; i < n_files; i++)
        if (!strcmp(files[i].path, path)) {
            *len = files[i].len;
            return files[i].text;
        }
    return NULL;
}

EMSCRIPTEN_KEEPALIVE int ampc_check(const char *text, size_t len)
{
    free(out_text);
    out_text = NULL;
    out_len = 0;
    ampc_wasm_faust_imports = 0;
    main_text = text;
    main_len = len;
    FILE *mem = open_memstream(&out_text, &out_len);
    if (!mem)
        return AMPC_WASM_ERRORS;
    Diag d;
    diag_init(&d, mem);
    static const char *const includes[] = { AMPC_WASM_LIBRARY };
    AmpcResolver resolver = { vfs_read, NULL };
    AmpcOptions opt = { .include_dirs = includes, .n_include_dirs = 1, .confined = 1, .resolver = &resolver,
                        .dump_out = mem };
    AmpcResult r;
    int rc = ampc_compile_text(AMPC_WASM_MAIN, text, len, &opt, &d, &r);
    if (rc == 0)
        ampc_result_free(&r);
    fclose(mem);
    main_text = NULL;
    main_len = 0;
    if (ampc_wasm_faust_imports) {
        out_len = 0;
        if (out_text)
            out_text[0] = 0;
        return AMPC_WASM_FAUST;
    }
    return rc ? AMPC_WASM_ERRORS : AMPC_WASM_OK;
}

EMSCRIPTEN_KEEPALIVE const char *ampc_output(void)
{
    return out_text ? out_text : "";
}

EMSCRIPTEN_KEEPALIVE size_t ampc_output_len(void)
{
    return out_text ? out_len : 0;
}

EMSCRIPTEN_KEEPALIVE const char *ampc_version(void)
{
    return AMPC_VERSION;
}
