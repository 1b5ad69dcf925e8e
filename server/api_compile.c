/* api_compile.c — the compile service: patch text in, ampc's diagnostics
 * and the patch's metadata out.
 *
 *   POST /api/compile   {"text", "unit"?}   200 {"ok", "diagnostics",
 *                                               "unit"?, "metadata"?, "key", "cached"}
 *
 * The diagnostics are ampc's own text, exactly as the command line prints
 * it for a file named patch.amp (so the editor shows the same messages);
 * "metadata" is ampc's NAME.json (params, ports, voices) when the compile
 * succeeds, and "module" the URL of the patch's WebAssembly module
 * (GET /api/compile/KEY.wasm), built in the same child by
 * runtime/wasm/patch_module.sh: ampc, then clang-14 and wasm-ld-14 on the
 * C ampc wrote and nothing else. A failed compile is still 200 with
 * "ok": false: the request was served, the patch has errors.
 *
 * Confinement. Each compile runs `ampc patch.amp --confine -I lib -o out`
 * as a child process in a fresh folder under DATA/compile/ holding only
 * the source and `lib`, a link to the server's --library folder: imports
 * are relative paths without '..' (ampc --confine), so nothing outside the
 * library is read, and the messages never show a path of the server. The
 * child gets limits before it runs (setrlimit: CPU seconds, address space,
 * file size, open files; its own process group) and a wall-clock deadline
 * after which its group is killed (--compile-seconds, --compile-memory);
 * at most --compile-jobs run at once, a request past that is 503 `busy`
 * with Retry-After, and so is a project save that needs the metadata of a
 * patch not yet in the cache (nothing waits on an API worker for a slot). The source is capped
 * at COMPILE_TEXT_MAX bytes (413) and must be UTF-8 without NUL.
 *
 * Cache. Results are kept by a key: SHA-256 of the compiler's version and
 * bytes, the module script and the runtime headers beside it, the unit,
 * the source and a fingerprint of the library (every file's path, size and
 * modification time, taken at start), in DATA/compile/cache/ab/KEY,
 * written to a temporary file and renamed. The same text compiles once;
 * "cached" says whether this answer came from there.
 */
#include "api.h"
#include "project_resolve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define COMPILE_TEXT_MAX (256u << 10)      /* bytes of source, as a library patch */
#define COMPILE_OUTPUT_MAX (1u << 20)      /* bytes of diagnostics kept */
#define COMPILE_FILE_BYTES (64ul << 20)

static struct {
    bool ready;
    char *ampc;                 /* the compiler's path */
    char *library;              /* the library folder's path, NULL for none */
    char *module_script;        /* runtime/wasm/patch_module.sh, NULL: no modules */
    int dir_fd;                 /* DATA/compile */
    char *dir;                  /* its path */
    unsigned char fingerprint[crypto_hash_sha256_BYTES];
    atomic_int running;
    int jobs;
    int cpu_seconds;            /* RLIMIT_CPU of a compile */
    int wall_ms;                /* then its process group is killed */
    unsigned long memory_bytes; /* RLIMIT_AS */
} service = { .dir_fd = -1, .cpu_seconds = 20, .wall_ms = 30000, .memory_bytes = 1024ul << 20 };

void api_compile_limits(int seconds, int wall_seconds, int memory_mib)
{
    if (seconds > 0) {
        service.cpu_seconds = seconds;
        service.wall_ms = seconds * 1500; /* as 20 s and 30 s: the CPU limit speaks first for a busy compile */
    }
    if (wall_seconds > 0)
        service.wall_ms = wall_seconds * 1000;
    if (memory_mib > 0)
        service.memory_bytes = (unsigned long)memory_mib << 20;
}

/* ---- start ---------------------------------------------------------------------- */

/* Every file under `path` (its path relative to the library, size and
 * mtime) into the hash: a changed library changes every key. */
static void fingerprint_folder(crypto_hash_sha256_state *h, const char *root, const char *rel, int depth)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    if (depth > 8)
        return;
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (name[0] != '.') {
            char child[4096], full[8192];
            snprintf(child, sizeof child, "%s%s%s", rel, rel[0] ? "/" : "", name);
            snprintf(full, sizeof full, "%s/%s", root, child);
            struct stat sb;
            if (stat(full, &sb) == 0) {
                if (S_ISDIR(sb.st_mode)) {
                    fingerprint_folder(h, root, child, depth + 1);
                } else if (S_ISREG(sb.st_mode)) {
                    char line[4200];
                    int len = snprintf(line, sizeof line, "%s %lld %lld.%09ld\n", child, (long long)sb.st_size,
                                       (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
                    crypto_hash_sha256_update(h, (const unsigned char *)line, (unsigned long long)len);
                }
            }
        }
        free(names[i]);
    }
    free(names);
}

static int make_folder(int parent, const char *name)
{
    if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST)
        return -1;
    return openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The bytes of a small file into the hash (the module script). */
static bool hash_file(crypto_hash_sha256_state *h, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    unsigned char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        crypto_hash_sha256_update(h, buf, n);
    fclose(f);
    return true;
}

bool api_compile_start(const char *data_dir, const char *ampc, const char *library, const char *module_script,
                       int jobs)
{
    if (!data_dir)
        return true;
    char path[4096];
    snprintf(path, sizeof path, "%s/compile", data_dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "ampd: %s: %s\n", path, strerror(errno));
        return false;
    }
    service.dir = realpath(path, NULL);
    service.dir_fd = service.dir ? open(service.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    int cache = service.dir_fd >= 0 ? make_folder(service.dir_fd, "cache") : -1;
    if (cache < 0) {
        fprintf(stderr, "ampd: %s: cannot make the compile folders\n", path);
        return false;
    }
    close(cache);
    service.ampc = strdup(ampc);
    service.library = library ? realpath(library, NULL) : NULL;
    service.jobs = jobs > 0 ? jobs : 1;
    /* The compiler's own version is part of every key. */
    char version[256] = "";
    char command[4200];
    snprintf(command, sizeof command, "'%s' --version 2>&1", ampc);
    FILE *p = strchr(ampc, '\'') ? NULL : popen(command, "r");
    size_t vlen = p ? fread(version, 1, sizeof version - 1, p) : 0;
    int status = p ? pclose(p) : -1;
    version[vlen] = '\0';
    if (status != 0 || vlen == 0) {
        fprintf(stderr, "ampd: --ampc %s: not a working compiler; /api/compile answers 503\n", ampc);
        return true;
    }
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)version, vlen);
    /* and its bytes: the version string stays while the C it emits changes
     * (a fix in the emitter must not be answered with a module from before) */
    hash_file(&h, ampc);
    if (service.library)
        fingerprint_folder(&h, service.library, "", 0);
    /* The module recipe and the runtime headers a module is built with (the
     * patch ABI, the math kernels, the DSP helpers: ../abi/ beside the
     * script) are part of the key. */
    if (module_script && hash_file(&h, module_script)) {
        service.module_script = realpath(module_script, NULL);
        char abi[4200];
        snprintf(abi, sizeof abi, "%s", module_script);
        char *slash = strrchr(abi, '/');
        snprintf(slash ? slash + 1 : abi, sizeof abi - (size_t)(slash ? slash + 1 - abi : 0), "../abi");
        fingerprint_folder(&h, abi, "", 0);
    } else if (module_script) {
        fprintf(stderr, "ampd: --module-script %s: cannot be read; compiles give no modules\n", module_script);
    }
    crypto_hash_sha256_final(&h, service.fingerprint);
    service.ready = service.ampc != NULL;
    return service.ready;
}

/* ---- one compile ---------------------------------------------------------------------- */

typedef struct Compile {
    const char *builtin;        /* a file of the library to compile instead of text, or NULL */
    bool module;                /* also build the WebAssembly module (patch_module.sh) */
    const char *key;            /* the cache key: where the module goes */
    const char *text;
    size_t len;
    const char *unit;           /* NULL: the file's default */
    char *diagnostics;          /* ampc's stderr */
    size_t diag_len;
    char *metadata;             /* NAME.json, NULL when it failed */
    char *name;                 /* the unit compiled */
    bool ok, timed_out;
} Compile;

static bool write_text(int dir, const char *name, const char *text, size_t len)
{
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    bool ok = true;
    for (size_t done = 0; ok && done < len;) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        done += ok ? (size_t)n : 0;
    }
    return close(fd) == 0 && ok;
}

static char *read_text(int dir, const char *name, size_t cap)
{
    int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = malloc(cap + 1);
    size_t got = 0;
    while (buf && got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf)
        buf[got] = '\0';
    return buf;
}

static void remove_folder(int parent, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        DIR *d = fdopendir(fd);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno == EISDIR)
                remove_folder(dirfd(d), e->d_name);
        }
        if (d)
            closedir(d);
        else
            close(fd);
    }
    unlinkat(parent, name, AT_REMOVEDIR);
}

/* The child: limits, its own group, stderr to the pipe, then ampc. Only
 * async-signal-safe calls between fork and exec. */
static void run_child(const char *work, const char *const *argv, int err_fd)
{
    setpgid(0, 0);
    struct rlimit cpu = { (rlim_t)service.cpu_seconds, (rlim_t)service.cpu_seconds + 1 };
    struct rlimit mem = { service.memory_bytes, service.memory_bytes };
    struct rlimit fsize = { COMPILE_FILE_BYTES, COMPILE_FILE_BYTES };
    struct rlimit files = { 64, 64 };
    struct rlimit core = { 0, 0 };
    if (setrlimit(RLIMIT_CPU, &cpu) || setrlimit(RLIMIT_AS, &mem) || setrlimit(RLIMIT_FSIZE, &fsize) ||
        setrlimit(RLIMIT_NOFILE, &files) || setrlimit(RLIMIT_CORE, &core) || chdir(work) != 0)
        _exit(126);
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(err_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(126);
    /* mktemp (the module script) works in the job's folder: removed with it. */
    static char *const env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", "TMPDIR=.", NULL };
    execve(argv[0], (char *const *)argv, env);
    _exit(127);
}

static void compile_run(Compile *c)
{
    char work[64];
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(work, sizeof work, "job-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
             rnd[5], rnd[6], rnd[7]);
    int wd = make_folder(service.dir_fd, work);
    int out = wd >= 0 ? make_folder(wd, "out") : -1;
    char main_file[300];
    snprintf(main_file, sizeof main_file, c->builtin ? "lib/%s" : "patch.amp", c->builtin);
    bool staged = out >= 0 && (c->builtin || write_text(wd, "patch.amp", c->text, c->len)) &&
                  (!service.library || symlinkat(service.library, wd, "lib") == 0);
    int pipefd[2] = { -1, -1 };
    pid_t pid = -1;
    if (staged && pipe2(pipefd, O_CLOEXEC) == 0) {
        char work_path[4200];
        snprintf(work_path, sizeof work_path, "%s/%s", service.dir, work);
        const char *argv[16];
        int n = 0;
        if (c->module) {
            argv[n++] = "/bin/sh";
            argv[n++] = service.module_script;
            argv[n++] = service.ampc;
            argv[n++] = main_file;
            argv[n++] = "out";
        } else {
            argv[n++] = service.ampc;
            argv[n++] = main_file;
        }
        argv[n++] = "--confine";
        if (service.library) {
            argv[n++] = "-I";
            argv[n++] = "lib";
        }
        if (c->unit) {
            argv[n++] = "--unit";
            argv[n++] = c->unit;
        }
        if (!c->module) {
            argv[n++] = "-o";
            argv[n++] = "out";
        }
        argv[n] = NULL;
        pid = fork();
        if (pid == 0) {
            close(pipefd[0]);
            run_child(work_path, argv, pipefd[1]);
        }
        close(pipefd[1]);
    }
    c->diagnostics = malloc(COMPILE_OUTPUT_MAX + 1);
    c->diag_len = 0;
    if (pid > 0 && c->diagnostics) {
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long elapsed = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
            if (elapsed >= service.wall_ms) {
                c->timed_out = true;
                kill(-pid, SIGKILL);
                break;
            }
            struct pollfd p = { pipefd[0], POLLIN, 0 };
            int r = poll(&p, 1, (int)(service.wall_ms - elapsed));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                continue;
            char buf[4096];
            ssize_t got = read(pipefd[0], buf, sizeof buf);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            size_t keep = (size_t)got < COMPILE_OUTPUT_MAX - c->diag_len ? (size_t)got : COMPILE_OUTPUT_MAX - c->diag_len;
            memcpy(c->diagnostics + c->diag_len, buf, keep);
            c->diag_len += keep;
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        kill(-pid, SIGKILL); /* anything it left behind */
        c->ok = !c->timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        /* The module script (sh, set -e) exits with 128 + N when ampc
         * or clang was stopped by signal N; ampc itself never exits so. */
        int signal_number = WIFSIGNALED(status) ? WTERMSIG(status)
                            : WIFEXITED(status) && WEXITSTATUS(status) > 128 ? WEXITSTATUS(status) - 128 : 0;
        if (!c->timed_out && signal_number) {
            const char *why = signal_number == SIGXCPU ? "its CPU time limit" : "a signal";
            c->diag_len += (size_t)snprintf(c->diagnostics + c->diag_len, COMPILE_OUTPUT_MAX + 1 - c->diag_len,
                                            "ampd: the compiler was stopped by %s\n", why);
        }
        if (c->timed_out)
            c->diag_len += (size_t)snprintf(c->diagnostics + c->diag_len, COMPILE_OUTPUT_MAX + 1 - c->diag_len,
                                            "ampd: the compile took longer than %g s and was stopped\n",
                                            service.wall_ms / 1000.0);
    } else if (c->diagnostics) {
        c->diag_len = (size_t)snprintf(c->diagnostics, COMPILE_OUTPUT_MAX, "ampd: the compiler could not be started\n");
    }
    if (c->diagnostics)
        c->diagnostics[c->diag_len] = '\0';
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    /* ampc writes NAME.c, NAME.h and NAME.json (the module script
     * NAME.module.wasm and NAME.module.json): the one .json is the
     * metadata, and the module goes into the cache as KEY.wasm. */
    if (c->ok && out >= 0) {
        const char *suffix = c->module ? ".module.json" : ".json";
        size_t sl = strlen(suffix);
        DIR *d = fdopendir(dup(out));
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (n > sl && strcmp(e->d_name + n - sl, suffix) == 0 && !c->metadata) {
                c->metadata = read_text(out, e->d_name, COMPILE_OUTPUT_MAX);
                c->name = strndup(e->d_name, n - sl);
            }
        }
        if (d)
            closedir(d);
        c->ok = c->metadata != NULL;
        if (c->ok && c->module) {
            char wasm[300], folder[16], cached[160];
            snprintf(wasm, sizeof wasm, "%s.module.wasm", c->name);
            snprintf(folder, sizeof folder, "cache/%.2s", c->key);
            snprintf(cached, sizeof cached, "%s/%s.wasm", folder, c->key);
            int fd = make_folder(service.dir_fd, folder);
            if (fd >= 0)
                close(fd);
            c->ok = fd >= 0 && renameat(out, wasm, service.dir_fd, cached) == 0;
        }
    }
    if (out >= 0)
        close(out);
    if (wd >= 0) {
        close(wd);
        remove_folder(service.dir_fd, work);
    }
}

/* ---- the cache ----------------------------------------------------------------------- */

static void cache_key(const Compile *c, char out[2 * crypto_hash_sha256_BYTES + 1])
{
    crypto_hash_sha256_state h;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, service.fingerprint, sizeof service.fingerprint);
    const char *unit = c->unit ? c->unit : "";
    crypto_hash_sha256_update(&h, (const unsigned char *)unit, strlen(unit) + 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)(c->module ? "module" : "metadata"), 9);
    if (c->builtin) /* a library file: its path (the fingerprint covers its content) */
        crypto_hash_sha256_update(&h, (const unsigned char *)c->builtin, strlen(c->builtin) + 1);
    else
        crypto_hash_sha256_update(&h, (const unsigned char *)c->text, c->len);
    crypto_hash_sha256_final(&h, digest);
    sodium_bin2hex(out, 2 * crypto_hash_sha256_BYTES + 1, digest, sizeof digest);
}

static json_t *cache_read(const char *key)
{
    char path[128];
    snprintf(path, sizeof path, "cache/%.2s/%s", key, key);
    char *text = read_text(service.dir_fd, path, 4 * COMPILE_OUTPUT_MAX);
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return json_is_object(v) ? v : (json_decref(v), NULL);
}

static void cache_write(const char *key, json_t *result)
{
    char folder[16], tmp[160], path[128];
    snprintf(folder, sizeof folder, "cache/%.2s", key);
    int fd = make_folder(service.dir_fd, folder);
    if (fd < 0)
        return;
    close(fd);
    char *text = json_dumps(result, JSON_COMPACT);
    unsigned char rnd[6];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(tmp, sizeof tmp, "%s/.%s.%02x%02x%02x%02x%02x%02x", folder, key, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
             rnd[5]);
    snprintf(path, sizeof path, "%s/%s", folder, key);
    if (text && write_text(service.dir_fd, tmp, text, strlen(text)))
        renameat(service.dir_fd, tmp, service.dir_fd, path);
    else
        unlinkat(service.dir_fd, tmp, 0);
    free(text);
}

/* The answer for `c`: from the cache, or compiled (and then cached). When
 * --compile-jobs compiles are running already, it sets *busy and returns
 * NULL at once: no request waits on an API worker for a slot (a compile
 * request, or a save that needs a patch's metadata, is 503 with
 * Retry-After and the client tries again). */
static json_t *compile_cached(Compile *c, bool *busy)
{
    *busy = false;
    char key[2 * crypto_hash_sha256_BYTES + 1];
    cache_key(c, key);
    c->key = key;
    json_t *result = cache_read(key);
    if (result) {
        json_object_set_new(result, "cached", json_true());
        return result;
    }
    if (atomic_fetch_add(&service.running, 1) >= service.jobs) {
        atomic_fetch_sub(&service.running, 1);
        *busy = true;
        return NULL;
    }
    compile_run(c);
    atomic_fetch_sub(&service.running, 1);
    result = json_pack("{s:b,s:s%,s:s}", "ok", c->ok, "diagnostics", c->diagnostics ? c->diagnostics : "",
                       c->diag_len, "key", key);
    if (result && c->ok) {
        json_t *meta = json_loads(c->metadata, 0, NULL);
        json_object_set_new(result, "unit", json_string(c->name));
        json_object_set_new(result, "metadata", meta ? meta : json_null());
        if (c->module) {
            char url[120];
            snprintf(url, sizeof url, "/api/compile/%s.wasm", key);
            json_object_set_new(result, "module", json_string(url));
        }
    }
    /* A stopped compile is not the text's answer: not cached. */
    if (result && !c->timed_out && c->diagnostics && !strstr(c->diagnostics, "ampd: "))
        cache_write(key, result);
    free(c->diagnostics);
    free(c->metadata);
    free(c->name);
    if (result)
        json_object_set_new(result, "cached", json_false());
    return result;
}

/* ---- the endpoint ---------------------------------------------------------------------- */

static void compile_work(ApiCall *call, StoreConn *db)
{
    (void)db;
    if (!service.ready) {
        api_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "no_compiler", "this server has no compiler");
        return;
    }
    json_t *body = api_body_object(call);
    if (!body)
        return;
    json_t *text = json_object_get(body, "text");
    json_t *unit = json_object_get(body, "unit");
    if (!json_is_string(text) || (unit && !json_is_string(unit))) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_field", "\"text\" is the patch source, \"unit\" a name");
        return;
    }
    Compile c = { .text = json_string_value(text), .len = json_string_length(text),
                  .unit = unit ? json_string_value(unit) : NULL, .module = service.module_script != NULL };
    if (c.len > COMPILE_TEXT_MAX) {
        api_error(call, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "a patch's text is at most 256 KiB");
        return;
    }
    if (memchr(c.text, '\0', c.len)) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_field", "the text holds a NUL byte");
        return;
    }
    if (c.unit) {
        size_t n = strlen(c.unit);
        bool ok = n > 0 && n <= 64 && strspn(c.unit, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n &&
                  !(c.unit[0] >= '0' && c.unit[0] <= '9');
        if (!ok) {
            api_error(call, MHD_HTTP_BAD_REQUEST, "bad_field", "\"unit\" is a patch or node name");
            return;
        }
    }
    bool busy;
    json_t *result = compile_cached(&c, &busy);
    if (busy) {
        call->retry_after = 1;
        api_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "every compiler is busy: try again in a moment");
        return;
    }
    if (!result) {
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
        return;
    }
    api_reply(call, MHD_HTTP_OK, result);
}

enum MHD_Result api_compile(struct MHD_Connection *conn, const HttpRequest *req)
{
    return api_defer(conn, req, compile_work, API_USER | API_WRITE, NULL, 0);
}

/* ---- checking a saved project's params ------------------------------------------------------ */

/* The patches a save's check built from metadata, freed after it. */
typedef struct MetaDescs {
    ApiCall *call;
    StoreConn *db;
    json_t *kept;               /* every metadata object, alive while the descriptors are */
    bool busy;                  /* a patch was not checked: no compile slot */
} MetaDescs;

/* A descriptor with what project_resolve checks (name, ports, params and
 * their ranges, the sample slots' names) from ampc's metadata; no
 * functions. Its strings point into `meta`, which m->kept keeps alive; the
 * arrays are freed by descs_free. */
static const AmpPatchDesc *desc_from_metadata(MetaDescs *m, json_t *result, const char *what, char *err,
                                              size_t errlen)
{
    json_t *meta = json_object_get(result, "metadata");
    if (!json_is_true(json_object_get(result, "ok")) || !json_is_object(meta)) {
        /* A patch with errors cannot be checked, and its song is still
         * saved: it plays once the patch is fixed (the editor shows why). */
        (void)what;
        err[0] = '\0';
        return NULL;
    }
    json_array_append(m->kept, result);
    json_t *params = json_object_get(meta, "params");
    size_t n = json_array_size(params);
    json_t *samples = json_object_get(meta, "samples");
    size_t n_samples = json_array_size(samples);
    AmpPatchDesc *d = calloc(1, sizeof *d);
    AmpParamDesc *pd = calloc(n ? n : 1, sizeof *pd);
    const char **names = calloc(n_samples ? n_samples : 1, sizeof *names);
    if (!d || !pd || !names) {
        free(d);
        free(pd);
        free(names);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n_samples; i++) {
        const char *name = json_string_value(json_array_get(samples, i));
        names[i] = name ? name : "";
    }
    d->n_samples = (int)n_samples;
    d->sample_names = names;
    d->name = json_string_value(json_object_get(meta, "name"));
    d->n_inputs = (int)json_array_size(json_object_get(meta, "inputs"));
    d->n_outputs = (int)json_array_size(json_object_get(meta, "outputs"));
    d->n_params = (int)n;
    d->params = pd;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(params, i);
        pd[i].name = json_string_value(json_object_get(p, "name"));
        pd[i].lo = (float)json_number_value(json_object_get(p, "min"));
        pd[i].hi = (float)json_number_value(json_object_get(p, "max"));
        pd[i].def = (float)json_number_value(json_object_get(p, "default"));
    }
    /* Remember the arrays with the metadata, to free them afterwards. */
    json_array_append_new(m->kept, json_pack("{s:I,s:I,s:I}", "desc", (json_int_t)(intptr_t)d, "params",
                                              (json_int_t)(intptr_t)pd, "names", (json_int_t)(intptr_t)names));
    return d;
}

static void descs_free(MetaDescs *m)
{
    size_t i;
    json_t *v;
    json_array_foreach(m->kept, i, v) {
        json_t *d = json_object_get(v, "desc");
        if (json_is_integer(d) && json_object_size(v) == 3) {
            free((void *)(intptr_t)json_integer_value(d));
            free((void *)(intptr_t)json_integer_value(json_object_get(v, "params")));
            free((void *)(intptr_t)json_integer_value(json_object_get(v, "names")));
        }
    }
    json_decref(m->kept);
}

static const AmpPatchDesc *load_builtin_meta(void *user, const char *id, const char *unit, char *err, size_t errlen)
{
    MetaDescs *m = user;
    if (!service.library) { /* no library to compile it from: not checked */
        err[0] = '\0';
        return NULL;
    }
    Compile c = { .builtin = id, .unit = unit };
    bool busy;
    json_t *result = compile_cached(&c, &busy);
    if (!result) {
        m->busy |= busy;
        snprintf(err, errlen, busy ? "every compiler is busy" : "out of memory");
        return NULL;
    }
    char what[200];
    snprintf(what, sizeof what, "built-in patch '%s'", id);
    const AmpPatchDesc *d = desc_from_metadata(m, result, what, err, errlen);
    json_decref(result);
    return d;
}

static const AmpPatchDesc *load_library_meta(void *user, const char *id, int revision, const char *unit, char *err,
                                             size_t errlen)
{
    MetaDescs *m = user;
    char *text = NULL;
    StoreStatus st = store_patch_revision_get(m->db, m->call->user.id, id, revision, NULL, &text);
    if (st != STORE_OK) {
        snprintf(err, errlen, "library patch '%s' revision %d: not found", id, revision);
        return NULL;
    }
    Compile c = { .text = text, .len = strlen(text), .unit = unit };
    bool busy;
    json_t *result = compile_cached(&c, &busy);
    free(text);
    if (!result) {
        m->busy |= busy;
        snprintf(err, errlen, busy ? "every compiler is busy" : "out of memory");
        return NULL;
    }
    char what[200];
    snprintf(what, sizeof what, "library patch '%s' revision %d", id, revision);
    const AmpPatchDesc *d = desc_from_metadata(m, result, what, err, errlen);
    json_decref(result);
    return d;
}

bool api_compile_check_params(ApiCall *call, StoreConn *db, Project *project)
{
    if (!service.ready)
        return true; /* no compiler: params are not checked (server/README.md) */
    MetaDescs m = { .call = call, .db = db, .kept = json_array() };
    ProjectPatchLoader loader = { .user = &m, .load_builtin = load_builtin_meta, .load_library = load_library_meta,
                                  .patches_only = 1 };
    char err[PROJECT_MAX_JSON_PATH + 512];
    int rc = project_resolve(project, &loader, 0, err, sizeof err);
    descs_free(&m);
    if (rc != 0 && m.busy) {
        call->retry_after = 1;
        api_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                  "every compiler is busy checking patches: nothing was saved; try again in a moment");
        return false;
    }
    if (rc != 0) {
        api_error(call, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_document", err);
        return false;
    }
    return true;
}

/* ---- the module of a compile ---------------------------------------------------------- */

typedef struct ModuleFile {
    char key[2 * crypto_hash_sha256_BYTES + 1];
    int fd;
    off_t size;
} ModuleFile;

static void module_free(void *state)
{
    ModuleFile *m = state;
    if (m->fd >= 0)
        close(m->fd);
    free(m);
}

static void module_open(ApiCall *call, StoreConn *db)
{
    (void)db;
    ModuleFile *m = call->extra;
    char path[160];
    snprintf(path, sizeof path, "cache/%.2s/%s.wasm", m->key, m->key);
    struct stat sb;
    m->fd = m->key[0] && service.dir_fd >= 0 ? openat(service.dir_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (m->fd < 0 || fstat(m->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such module (compile the patch first)");
        return;
    }
    m->size = sb.st_size;
}

static enum MHD_Result module_send(struct MHD_Connection *conn, void *state)
{
    ApiCall *call = state;
    ModuleFile *m = call->extra;
    struct MHD_Response *resp = MHD_create_response_from_fd((size_t)m->size, m->fd);
    if (!resp)
        return MHD_NO;
    m->fd = -1;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/wasm");
    /* Named by the hash of everything it was made from: never changes. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private, max-age=31536000, immutable");
    return http_reply(conn, MHD_HTTP_OK, resp);
}

enum MHD_Result api_compile_module(struct MHD_Connection *conn, const HttpRequest *req)
{
    ModuleFile *m = calloc(1, sizeof *m);
    if (!m)
        return MHD_NO;
    m->fd = -1;
    const char *name = req->path + strlen("/api/compile/");
    size_t hex = 2 * crypto_hash_sha256_BYTES;
    if (strlen(name) == hex + 5 && strspn(name, "0123456789abcdef") == hex && strcmp(name + hex, ".wasm") == 0)
        memcpy(m->key, name, hex);
    return api_defer_ext(conn, req, module_open, API_USER, NULL, 0, module_send, m, module_free);
}
