/* faust_server.c — compiler/faust.c's interface in ampc.wasm, which has no
 * faust to run (no processes, no file system) and no jansson: a Faust
 * import is left to the server's compile. faust_import notes it
 * (ampc_wasm_faust_imports) and makes no node; ampc_check then answers
 * AMPC_WASM_FAUST and drops the diagnostics that follow from the missing
 * node. The native ampc links compiler/faust.c as before. */
#include "ampc_wasm.h"
#include "faust.h"

FaustProgram *faust_import(Arena *a, Diag *d, Loc loc, const char *written, const char *path,
                           const char *name, const char *const *include_dirs, int n_include_dirs)
{
    (void)a, (void)d, (void)loc, (void)written, (void)path, (void)name, (void)include_dirs, (void)n_include_dirs;
    ampc_wasm_faust_imports++;
    return 0;
}

const char *faust_prelude(void)
{
    return "";
}

const char *faust_postlude(void)
{
    return "";
}
