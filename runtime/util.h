/* util.h — two small helpers the runtime's files share: filling a
 * caller's error buffer, and reading a whole (bounded) file into memory.
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

#endif
