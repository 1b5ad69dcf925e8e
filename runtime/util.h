/* util.h — small helpers the runtime's files share: filling a caller's
 * error buffer, reading a whole (bounded) file into memory, and checking a
 * patch descriptor before hosting it.
 * Header-only so that every build that compiles a runtime file (native,
 * WebAssembly, benchmarks) gets them without another object. Not for the
 * audio thread: read_whole_file allocates. */
#ifndef AMP_UTIL_H
#define AMP_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amp_patch.h"

/* Print fmt into err (if given); returns -1, so `return fail(...)` reads
 * as the error path. */
static inline int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Read the file at path into a malloc'd buffer (*out, *len; free it).
 * Refuses files of max_bytes or more. 0, or -1 with a message in err that
 * names the path. */
static inline int read_whole_file(const char *path, size_t max_bytes, unsigned char **out, size_t *len,
                                  char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    int rc = 0;
    for (;;) {
        if (!buf) {
            rc = fail(err, errlen, "%s: out of memory", path);
            break;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp))
                rc = fail(err, errlen, "%s: read error", path);
            break;
        }
        if (n >= max_bytes) {
            rc = fail(err, errlen, "%s: %zu bytes or more", path, max_bytes);
            break;
        }
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap * 2);
            if (!bigger)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(fp);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Everything a host relies on in a patch descriptor, checked once when the
 * patch is taken in so that the audio path needs no checks: the ABI
 * version, the lifecycle functions, at most max_channels inputs and
 * outputs, the param table, and the voice functions of a polyphonic patch.
 * 0, or -1 with a message in err. */
static inline int check_patch_desc(const AmpPatchDesc *d, int max_channels, char *err, size_t errlen)
{
    if (!d)
        return fail(err, errlen, "no patch descriptor");
    if (d->abi_version != AMP_ABI_VERSION)
        return fail(err, errlen, "patch ABI version %u, the runtime has %d",
                    (unsigned)d->abi_version, AMP_ABI_VERSION);
    const char *name = d->name ? d->name : "?";
    if (d->state_size == 0 || !d->init || !d->reset || !d->process)
        return fail(err, errlen, "patch '%s': incomplete descriptor", name);
    if (d->n_inputs < 0 || d->n_inputs > max_channels || d->n_outputs < 0 || d->n_outputs > max_channels)
        return fail(err, errlen, "patch '%s': %d inputs, %d outputs (at most %d each)", name,
                    d->n_inputs, d->n_outputs, max_channels);
    if (d->n_params < 0 || (d->n_params > 0 && (!d->params || !d->set_param)))
        return fail(err, errlen, "patch '%s': bad param table", name);
    if (d->max_voices < 0 || d->max_voices > AMP_MAX_VOICES)
        return fail(err, errlen, "patch '%s': %d voices (at most %d)", name, d->max_voices, AMP_MAX_VOICES);
    if (d->max_voices > 0 && (!d->voices || !d->voice_reset || !d->voice_move))
        return fail(err, errlen, "patch '%s': polyphonic without voice functions", name);
    return 0;
}

#endif
