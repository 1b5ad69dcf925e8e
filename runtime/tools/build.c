/* build.c — compile emitted C into a cached shared object and load it;
 * see build.h for the cache layout and the compiler command. */
#include "util.h"
#include "build.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_CC_WORDS 32
#define PATH_BYTES 4096

/* The flags after $CC; part of the cache key. */
static const char *const cc_flags[] = {
    "-std=c11", "-O2", "-ffp-contract=off", "-fno-fast-math", "-fPIC", "-shared",
};
#define N_CC_FLAGS ((int)(sizeof cc_flags / sizeof cc_flags[0]))

/* ---- the key: two FNV-1a 64 streams over length-framed parts ---------- */

typedef struct Hash {
    uint64_t a, b;
} Hash;

#define FNV_PRIME 0x100000001b3ull

static void hash_bytes(Hash *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h->a = (h->a ^ p[i]) * FNV_PRIME;
        h->b = (h->b ^ (unsigned char)(p[i] + 0x9e)) * FNV_PRIME;
    }
}

/* A part: its length first, so that ("ab","c") and ("a","bc") differ. */
static void hash_part(Hash *h, const void *data, size_t len)
{
    unsigned char n[8];
    for (int i = 0; i < 8; i++)
        n[i] = (unsigned char)((uint64_t)len >> (8 * i));
    hash_bytes(h, n, sizeof n);
    hash_bytes(h, data, len);
}

static void hash_string(Hash *h, const char *s)
{
    hash_part(h, s, strlen(s));
}

/* ---- files ------------------------------------------------------------ */

static int mkdir_p(const char *path, char *err, size_t errlen)
{
    char buf[PATH_BYTES];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return fail(err, errlen, "bad cache path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return fail(err, errlen, "cannot create %s: %s", buf, strerror(errno));
        buf[i] = saved;
    }
    return 0;
}

/* Unique name for a temporary file beside `path`. */
static int temp_name(char *out, size_t outlen, const char *path)
{
    static atomic_uint counter;   /* relaxed: only uniqueness matters, no ordering */
    unsigned k = atomic_fetch_add_explicit(&counter, 1u, memory_order_relaxed);
    int n = snprintf(out, outlen, "%s.tmp.%ld.%u", path, (long)getpid(), k);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Write path whole through a temporary file and a rename, so that a reader
 * sees the old file or the new one, never half of one. */
static int write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    char tmp[PATH_BYTES];
    if (temp_name(tmp, sizeof tmp, path))
        return fail(err, errlen, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t put = write(fd, p, left);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return fail(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        }
        p += put;
        left -= (size_t)put;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fail(err, errlen, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

int build_cache_dir(char *buf, size_t len)
{
    const char *dir = getenv("AMP_CACHE");
    int n;
    if (dir && *dir) {
        n = snprintf(buf, len, "%s", dir);
    } else if ((dir = getenv("XDG_CACHE_HOME")) && dir[0] == '/') {
        n = snprintf(buf, len, "%s/amplitude", dir);
    } else if ((dir = getenv("HOME")) && *dir) {
        n = snprintf(buf, len, "%s/.cache/amplitude", dir);
    } else {
        return fail(buf, len, "no cache folder: set AMP_CACHE or HOME");
    }
    if (n < 0 || (size_t)n >= len)
        return fail(buf, len, "cache folder path too long");
    return 0;
}

/* ---- the compiler ----------------------------------------------------- */

/* $CC split at blanks into words[]; returns the count (0 if too many). */
static int cc_words(char *storage, size_t storage_len, char *words[MAX_CC_WORDS])
{
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    snprintf(storage, storage_len, "%s", cc);
    int n = 0;
    for (char *p = storage; *p;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        if (n == MAX_CC_WORDS)
            return 0;
        words[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    return n;
}

/* Run argv with stdout and stderr into out[0..outlen) (truncated, NUL
 * terminated). Returns the exit status, or -1 with the reason in out. */
static int run_capture(char *const argv[], char *out, size_t outlen)
{
    int fds[2];
    out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0)
        return fail(out, outlen, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return fail(out, outlen, "cannot run %s: %s", argv[0], strerror(rc));
    }
    size_t used = 0;
    for (;;) {
        char chunk[4096];
        ssize_t got = read(fds[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size_t keep = (size_t)got;
        if (keep > outlen - 1 - used)
            keep = outlen - 1 - used;      /* keep draining, drop the rest */
        memcpy(out + used, chunk, keep);
        used += keep;
    }
    out[used] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return fail(out, outlen, "waitpid: %s", strerror(errno));
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int compile(char *const cc[], int n_cc, const char *dir, const char *c_path,
                   const char *so_tmp, char *err, size_t errlen)
{
    char include[PATH_BYTES + 2];
    snprintf(include, sizeof include, "-I%s", dir);
    char *argv[MAX_CC_WORDS + N_CC_FLAGS + 8];
    int n = 0;
    for (int i = 0; i < n_cc; i++)
        argv[n++] = cc[i];
    for (int i = 0; i < N_CC_FLAGS; i++)
        argv[n++] = (char *)cc_flags[i];
    argv[n++] = include;
    argv[n++] = "-o";
    argv[n++] = (char *)so_tmp;
    argv[n++] = (char *)c_path;
    argv[n++] = "-lm";
    argv[n] = NULL;

    char output[8192];
    int status = run_capture(argv, output, sizeof output);
    if (status == 0)
        return 0;
    unlink(so_tmp);
    if (status < 0)
        return fail(err, errlen, "%s", output);
    return fail(err, errlen, "C compiler '%s' failed (status %d) on %s:\n%s",
                cc[0], status, c_path, output);
}

/* ---- loading ---------------------------------------------------------- */

static const AmpPatchDesc *load(const char *so_path, const char *symbol, char *err, size_t errlen)
{
    void *handle = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        fail(err, errlen, "cannot load %s: %s", so_path, why ? why : "?");
        return NULL;
    }
    const AmpPatchDesc *desc = dlsym(handle, symbol);
    if (!desc) {
        fail(err, errlen, "%s does not define '%s'", so_path, symbol);
        dlclose(handle);
        return NULL;
    }
    if (desc->abi_version != AMP_ABI_VERSION) {
        fail(err, errlen, "%s: patch ABI version %u, the runtime has %d",
             so_path, (unsigned)desc->abi_version, AMP_ABI_VERSION);
        dlclose(handle);
        return NULL;
    }
    return desc;
}

const AmpPatchDesc *build_shared_object(const char *c_text, size_t len, const char *symbol,
                                        char *errbuf, size_t errlen, int *from_cache)
{
    if (from_cache)
        *from_cache = 0;
    if (!c_text || !symbol || !*symbol) {
        fail(errbuf, errlen, "build_shared_object: no C text or no symbol");
        return NULL;
    }
    char cc_storage[1024];
    char *cc[MAX_CC_WORDS];
    int n_cc = cc_words(cc_storage, sizeof cc_storage, cc);
    if (n_cc == 0) {
        fail(errbuf, errlen, "cannot use $CC as a compiler command");
        return NULL;
    }

    Hash h = { 0xcbf29ce484222325ull, 0x6c62272e07bb0142ull };
    char abi[32];
    snprintf(abi, sizeof abi, "amp-build 1, abi %d", AMP_ABI_VERSION);
    hash_string(&h, abi);
    for (int i = 0; i < build_n_headers; i++) {
        hash_string(&h, build_headers[i].name);
        hash_part(&h, build_headers[i].text, build_headers[i].len);
    }
    for (int i = 0; i < n_cc; i++)
        hash_string(&h, cc[i]);
    for (int i = 0; i < N_CC_FLAGS; i++)
        hash_string(&h, cc_flags[i]);
    hash_part(&h, c_text, len);

    /* dir is at most PATH_BYTES - 32 long (checked below); the names under
     * it fit in the extra room. */
    char cache[PATH_BYTES], dir[PATH_BYTES];
    char so_path[PATH_BYTES + 16], c_path[PATH_BYTES + 16], so_tmp[PATH_BYTES + 64];
    if (build_cache_dir(cache, sizeof cache)) {
        fail(errbuf, errlen, "%s", cache);
        return NULL;
    }
    int n = snprintf(dir, sizeof dir, "%s/%016llx%016llx", cache,
                     (unsigned long long)h.a, (unsigned long long)h.b);
    if (n < 0 || (size_t)n + 32 >= sizeof dir) {
        fail(errbuf, errlen, "cache folder path too long");
        return NULL;
    }
    snprintf(so_path, sizeof so_path, "%s/patch.so", dir);
    snprintf(c_path, sizeof c_path, "%s/patch.c", dir);

    if (access(so_path, R_OK) == 0) {
        const AmpPatchDesc *desc = load(so_path, symbol, errbuf, errlen);
        if (desc) {
            if (from_cache)
                *from_cache = 1;
            return desc;
        }
        /* A damaged cache entry: build it again below. */
    }

    if (mkdir_p(dir, errbuf, errlen))
        return NULL;
    for (int i = 0; i < build_n_headers; i++) {
        char path[PATH_BYTES + 64];
        snprintf(path, sizeof path, "%s/%s", dir, build_headers[i].name);
        if (write_file_atomic(path, build_headers[i].text, build_headers[i].len, errbuf, errlen))
            return NULL;
    }
    if (write_file_atomic(c_path, c_text, len, errbuf, errlen))
        return NULL;
    if (temp_name(so_tmp, sizeof so_tmp, so_path)) {
        fail(errbuf, errlen, "cache folder path too long");
        return NULL;
    }
    if (compile(cc, n_cc, dir, c_path, so_tmp, errbuf, errlen))
        return NULL;
    if (rename(so_tmp, so_path) != 0) {
        fail(errbuf, errlen, "cannot move %s into place: %s", so_tmp, strerror(errno));
        unlink(so_tmp);
        return NULL;
    }
    return load(so_path, symbol, errbuf, errlen);
}
