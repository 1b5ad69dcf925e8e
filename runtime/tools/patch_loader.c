/* patch_loader.c — the native patch loader (see patch_loader.h): ampc
 * compiles the file to C, diagnostics collected in memory for the message;
 * build.c turns the C into a cached shared object and loads it.
 */
#include "patch_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ampc.h"
#include "build.h"
#include "diag.h"

const AmpPatchDesc *patch_loader_compile(void *user, const char *path, const char *unit, char *err,
                                         size_t errlen)
{
    const PatchLoaderOptions *lopt = user;
    char *diag_text = NULL;
    size_t diag_len = 0;
    FILE *mem = open_memstream(&diag_text, &diag_len);
    if (!mem) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    Diag diag;
    diag_init(&diag, mem);
    AmpcOptions opt = { 0 };
    opt.unit = unit;
    opt.include_dirs = lopt ? lopt->include_dirs : NULL;
    opt.n_include_dirs = lopt ? lopt->n_include_dirs : 0;
    AmpcResult res;
    memset(&res, 0, sizeof res);
    int rc = ampc_compile_file(path, &opt, &diag, &res);
    fclose(mem);
    if (rc != 0) {
        snprintf(err, errlen, "cannot compile '%s':\n%s", path, diag_text ? diag_text : "");
        free(diag_text);
        return NULL;
    }
    free(diag_text);
    char build_err[4096];
    const AmpPatchDesc *desc = build_shared_object(res.c_text, res.c_len, res.symbol, build_err, sizeof build_err, NULL);
    ampc_result_free(&res);
    if (!desc)
        snprintf(err, errlen, "cannot build '%s': %s", path, build_err);
    return desc;
}

ProjectPatchLoader patch_loader_native(const PatchLoaderOptions *opt)
{
    return (ProjectPatchLoader){ .load = patch_loader_compile, .user = (void *)opt };
}
