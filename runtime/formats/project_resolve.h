/* project_resolve.h — a read Project (project_read.h) made ready to feed
 * an engine: every patch it names loaded through the caller's loader, each
 * param and automation lane checked against the patch's descriptor (name
 * and range), every audio region's WAV file read and resampled to the
 * render rate.
 *
 * The runtime does not compile patches: the caller says how a patch file
 * becomes a descriptor. `amp` and the tests pass the native loader
 * (patch_loader.h: ampc, a cached shared object, dlopen); a host with its
 * patches built in could look them up by name instead.
 *
 * Built natively and into engine.wasm. There it reads no file: its loader
 * finds patches in the engine's registry and audio in the bytes the page
 * handed in (read_audio). Not for the audio thread.
 */
#ifndef AMP_PROJECT_RESOLVE_H
#define AMP_PROJECT_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "amp_patch.h"
#include "project.h"

/* How a patch file becomes a descriptor. load() gets the file's path (the
 * document's "file" taken from the project's folder) and the unit (NULL:
 * the file's default unit) and returns the patch's descriptor, which must
 * stay valid as long as the Project is used; or NULL with a message in
 * err (errlen bytes) that need not name the document's field:
 * project_resolve puts the field's JSON path in front of it. Each
 * (path, unit) is asked for once per project_resolve call. */
typedef struct ProjectPatchLoader {
    const AmpPatchDesc *(*load)(void *user, const char *path, const char *unit, char *err, size_t errlen);
    void *user;                         /* passed to load() and load_library() as it is */
    /* A patch of ampd's patch library ({"library": id, "revision": n}),
     * as load() does for a file; each (id, revision, unit) is asked for
     * once. NULL (the native loader: it has no library) refuses every
     * such patch with "a library patch needs ampd". */
    const AmpPatchDesc *(*load_library)(void *user, const char *id, int revision, const char *unit, char *err,
                                        size_t errlen);
    /* A patch of the built-in library ({"builtin": id}: its path there,
     * e.g. "epiano.amp", checked by project_builtin_id_valid), as load()
     * does for a file; each (id, unit) is asked for once. NULL refuses
     * every such patch ("this loader has no built-in library"). */
    const AmpPatchDesc *(*load_builtin)(void *user, const char *id, const char *unit, char *err, size_t errlen);
    /* The bytes of a region's audio file from memory instead of the file
     * system: `path` is the file as the resolver would open it (the
     * document's "file" taken from the project's folder, or
     * assets/ab/<hash>), `asset` the region's "asset" hash or NULL.
     * Returns 0 with *bytes and *len (valid until project_resolve
     * returns), 1 to read the file after all, or -1 with a message. NULL:
     * files are read (natively; engine.wasm reads none). */
    int (*read_audio)(void *user, const char *path, const char *asset, const unsigned char **bytes, size_t *len,
                      char *err, size_t errlen);
    /* 1: check patches, params and lanes only, as a server does on save:
     * no audio is read, and a patch named by file is skipped when load()
     * is NULL (its params go unchecked), and so is a patch whose hook
     * returns NULL with an empty message. */
    int patches_only;
} ProjectPatchLoader;

/* Load the patches through `loader`, check params and lanes against them,
 * read the audio at `rate` (0: the project's sample_rate; the rate
 * becomes p->render_rate). 0, or -1 with "json.path: message" in err. */
int project_resolve(Project *p, const ProjectPatchLoader *loader, int rate, char *err, size_t errlen);

/* One channel of `n` frames at `from` Hz as the resolver reads a region's
 * audio at `to` Hz (linear interpolation; a copy when the rates agree):
 * a malloc'd array of *out_n frames, or NULL. The browser's live engine
 * (runtime/wasm/wasm_main.c amp_sample_wav) loads assets through it too,
 * so a region sounds as in `amp render`. */
float *project_resample(const float *x, int64_t n, int from, int to, int64_t *out_n);

#endif
