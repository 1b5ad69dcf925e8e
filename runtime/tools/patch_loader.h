/* patch_loader.h — the native ProjectPatchLoader (project_resolve.h): a
 * patch file compiled with the compiler library (ampc_compile_file), the C
 * built into a shared object in the content-addressed cache and loaded
 * (build_shared_object, build.h).
 *
 * This is where the compiler meets the runtime, so it is not in the
 * runtime's archive: it is in the native tools' library ($(B)/libamptools.a,
 * with build.c), which `amp` and the tests link before the rest of the
 * runtime and libampc.a. Loaded patches stay loaded for the life of the
 * process.
 * Not for the audio thread: compiles, writes files, loads code.
 */
#ifndef AMP_PATCH_LOADER_H
#define AMP_PATCH_LOADER_H

#include <stddef.h>

#include "amp_patch.h"
#include "project_resolve.h"

typedef struct PatchLoaderOptions {
    const char *const *include_dirs;    /* extra import folders for ampc */
    int n_include_dirs;
} PatchLoaderOptions;

/* The loader: `opt` (NULL: no extra folders) must outlive its use. */
ProjectPatchLoader patch_loader_native(const PatchLoaderOptions *opt);

/* Its load function, for a loader that wraps it: `user` is a
 * const PatchLoaderOptions * or NULL. Messages: "cannot compile 'PATH':"
 * and the compiler's diagnostics on the following lines, or
 * "cannot build 'PATH': ..." with the C compiler's. */
const AmpPatchDesc *patch_loader_compile(void *user, const char *path, const char *unit, char *err,
                                         size_t errlen);

#endif
