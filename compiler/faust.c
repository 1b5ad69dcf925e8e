/* faust.c — running faust on an imported .dsp and making it a node; see
 * faust.h for what the result is and how it is used.
 *
 *   run       faust -lang c -os -ftz 1 -cn AmpFaustClass -json -O . -o faust.c /ABS/FILE
 *             in a fresh temporary folder TMP, stdout and stderr to TMP/log
 *             (fork + exec, no shell, address randomisation off, a minimal
 *             environment: see spawn_canonical; killed after
 *             FAUST_TIMEOUT_S)
 *   prepare   drop faust's preprocessor lines and the functions a patch does
 *             not call, make the rest static, check every call, rename the
 *             class AmpFaustClass -> amp_faust_NAME
 *   describe  the JSON's ports and UI items, matched in order with the
 *             `ui_interface->add...(..., &dsp->ZONE, ...)` calls of the C,
 *             become the node's ports and params
 *
 * The generated C is the same for every run on the same input, and holds
 * no path, date or version: the header comment and the metadata function
 * (which hold the file name and faust's version) are dropped.
 */
#include "faust.h"
#include "emit.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PLACEHOLDER "AmpFaustClass"
#define FAUST_TIMEOUT_S 120

/* ---- the routing table ----------------------------------------------------
 * Every function the prepared C may call that it does not define itself:
 * libm's float functions mapped to the kernels of runtime/abi/amp_math.h (or to
 * the small helpers of the prelude, built from them), and the integer
 * min/max/abs that faust's C expects its architecture file to provide.
 * Where libm gives NaN or an infinity the kernels give a finite value
 * (amp_math.h: log of 0 is -1e30, sqrt of a negative 0, fmod by 0 is 0,
 * pow of a negative base to a fractional power |x|^y), and fmaxf/fminf
 * are compare-and-select (they differ from libm on NaN and on -0/+0). */
static const struct {
    const char *libm, *kernel;
} routes[] = {
    { "sinf", "amp_sin_precisef" }, { "cosf", "amp_cos_precisef" }, { "tanf", "amp_tan_precisef" },
    { "asinf", "amp_asinf" },   { "acosf", "amp_acosf" },     { "atanf", "amp_atanf" },
    { "atan2f", "amp_atan2f" }, { "sinhf", "amp_sinhf" },     { "coshf", "amp_coshf" },
    { "tanhf", "amp_tanhf" },   { "expf", "amp_exp_precisef" }, { "exp2f", "amp_exp2_precisef" },
    { "exp10f", "amp_exp10_precisef" }, { "logf", "amp_log_precisef" }, { "log2f", "amp_log2_precisef" },
    { "log10f", "amp_log10_precisef" }, { "powf", "amp_pow_precisef" }, { "sqrtf", "amp_sqrtf" },
    { "fabsf", "amp_absf" },    { "floorf", "amp_floorf" },   { "ceilf", "amp_ceilf" },
    { "roundf", "amp_roundf" }, { "truncf", "amp_truncf" },   { "fmodf", "amp_fmodf" },
    { "fmaxf", "amp_maxf" },    { "fminf", "amp_minf" },      { "remainderf", "amp_faust_remainderf" },
    { "rintf", "amp_faust_rintf" }, { "nearbyintf", "amp_faust_rintf" },
    { "copysignf", "amp_faust_copysignf" },
    { "min", "amp_faust_imin" }, { "max", "amp_faust_imax" }, { "abs", "amp_faust_iabs" },
};
#define N_ROUTES ((int)(sizeof routes / sizeof routes[0]))

/* The helpers are exact or built from exact operations and the kernels, so
 * native and WebAssembly agree. remainderf and rintf have no kernel in
 * amp_math.h: rintf rounds halves to even from amp_roundf (exact);
 * remainderf is x - rint(x/y)*y in float, which equals C's exact remainder
 * when the quotient x/y is exact and below 2^23 in magnitude, and is off by
 * the rounding of x/y otherwise (y == 0 gives 0, like amp_fmodf, where C
 * gives NaN). */
static const char prelude_helpers[] =
    "#ifndef AMP_FAUST_HELPERS\n"
    "#define AMP_FAUST_HELPERS\n"
    "static inline int amp_faust_imin(int a, int b) { return a < b ? a : b; }\n"
    "static inline int amp_faust_imax(int a, int b) { return a > b ? a : b; }\n"
    "static inline int amp_faust_iabs(int a) { return a < 0 ? -a : a; }\n"
    "static inline float amp_faust_copysignf(float x, float y)\n"
    "{\n"
    "    union { float f; uint32_t u; } a = { x }, b = { y };\n"
    "    a.u = (a.u & 0x7fffffffu) | (b.u & 0x80000000u);\n"
    "    return a.f;\n"
    "}\n"
    "/* round to nearest, halves to even (C's rintf in the default rounding mode) */\n"
    "static inline float amp_faust_rintf(float x)\n"
    "{\n"
    "    float r = amp_roundf(x);\n"
    "    if (amp_absf(x - amp_truncf(x)) == 0.5f && amp_floorf(r * 0.5f) * 2.0f != r)\n"
    "        r -= amp_faust_copysignf(1.0f, x);\n"
    "    return r;\n"
    "}\n"
    "/* x - n*y, n = x/y rounded to nearest even; computed in float (see ampc's faust.c) */\n"
    "static inline float amp_faust_remainderf(float x, float y)\n"
    "{\n"
    "    if (y == 0.0f)\n"
    "        return 0.0f;\n"
    "    return x - amp_faust_rintf(x / y) * y;\n"
    "}\n"
    "#endif\n";

static char *prelude_text, *postlude_text;
static pthread_once_t prelude_once = PTHREAD_ONCE_INIT;

static void make_prelude(void)
{
    EmitText p = { 0 }, q = { 0 };
    /* faust's C: unused parameters (sample_rate, iControl), scratch
     * variables it declares but does not always read; helpers a program
     * may not call */
    text_puts(&p, "#pragma GCC diagnostic push\n"
                 "#pragma GCC diagnostic ignored \"-Wunused-parameter\"\n"
                 "#pragma GCC diagnostic ignored \"-Wunused-variable\"\n"
                 "#pragma GCC diagnostic ignored \"-Wunused-function\"\n"
                 "#pragma GCC diagnostic ignored \"-Wsign-compare\"\n");
    text_puts(&p, prelude_helpers);
    /* faust's C leaves these to its architecture file */
    text_puts(&p, "#define FAUSTFLOAT float\n#define RESTRICT __restrict__\n");
    for (int i = 0; i < N_ROUTES; i++)
        text_printf(&p, "#define %s %s\n", routes[i].libm, routes[i].kernel);
    text_puts(&p, "\n");
    text_puts(&q, "#pragma GCC diagnostic pop\n");
    for (int i = 0; i < N_ROUTES; i++)
        text_printf(&q, "#undef %s\n", routes[i].libm);
    text_puts(&q, "#undef RESTRICT\n#undef FAUSTFLOAT\n\n");
    prelude_text = p.text;
    postlude_text = q.text;
}

const char *faust_prelude(void)
{
    pthread_once(&prelude_once, make_prelude);
    return prelude_text;
}

const char *faust_postlude(void)
{
    pthread_once(&prelude_once, make_prelude);
    return postlude_text;
}

/* ---- files ------------------------------------------------------------------- */

/* The whole file, NUL-terminated, malloc'd; NULL with errno set. */
static char *read_all(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    EmitText b = { 0 };
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        text_add(&b, chunk, got);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(b.text);
        errno = EIO;
        return NULL;
    }
    if (!b.text)
        text_add(&b, "", 0);
    if (len_out)
        *len_out = b.len;
    return b.text;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* ---- running faust ---------------------------------------------------------- */

typedef struct FaustRun {
    char *c_text;          /* faust's C, or NULL after an error */
    char *json_text;
    char *error;           /* the message to report, or NULL */
    int faust_said;        /* error is faust's own message */
} FaustRun;

/* The line of faust's output that says what went wrong. */
static char *error_line(const char *log, int status)
{
    const char *best = NULL, *last = NULL;
    for (const char *p = log; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int blank = 1;
        for (size_t i = 0; i < n; i++)
            if (!isspace((unsigned char)p[i]))
                blank = 0;
        if (!blank) {
            last = p;
            if (!best && memmem(p, n, "ERROR", 5))
                best = p;
        }
        p = e ? e + 1 : p + n;
    }
    const char *line = best ? best : last;
    if (!line) {
        char msg[64];
        snprintf(msg, sizeof msg, "faust failed with exit status %d and no message", status);
        return strdup(msg);
    }
    const char *e = strchr(line, '\n');
    size_t n = e ? (size_t)(e - line) : strlen(line);
    while (n && isspace((unsigned char)line[n - 1]))
        n--;
    if (n > 400)
        n = 400;
    char *s = xmalloc(n + 1);
    memcpy(s, line, n);
    s[n] = 0;
    return s;
}

/* Faust's C for a large program (a 2 x 64-band vocoder) is not always the
 * same: now and then it orders its constants and sums differently, by the
 * addresses of its own data, which address-space randomisation and the
 * sizes of its arguments and environment move. So faust runs where
 * nothing of ampc's invocation reaches it: address randomisation off,
 * in its temporary folder, with absolute paths (the caller's) and only
 * the environment it needs (PATH to find itself, HOME, FAUST_*), so the
 * same program gives the same C whatever folder ampc runs in and whatever
 * it writes to. */
static char **faust_environment(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = xmalloc(sizeof(char *) * (n + 1));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!strncmp(environ[i], "PATH=", 5) || !strncmp(environ[i], "HOME=", 5) ||
            !strncmp(environ[i], "FAUST", 5))
            env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

/* fork + exec of exe (looked up in PATH when it has no '/') in folder dir,
 * stdin from /dev/null, stdout and stderr to logpath. 0, or an errno. */
static int spawn_canonical(pid_t *pid, const char *exe, char *const argv[], char *const env[], const char *dir,
                           const char *logpath)
{
    int pipefd[2];        /* the child reports a failed exec through it */
    if (pipe2(pipefd, O_CLOEXEC))
        return errno;
    *pid = fork();
    if (*pid < 0) {
        int e = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return e;
    }
    if (*pid == 0) {
        /* the child of a process that may have threads (ampd): only
         * calls that take no lock until exec (the environment and argv
         * were made before the fork) */
        personality(ADDR_NO_RANDOMIZE);   /* best effort: refused in some sandboxes */
        int in = open("/dev/null", O_RDONLY), out = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = 0;
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || chdir(dir))
            e = errno;
        if (!e) {
            execvpe(exe, argv, env);
            e = errno;
        }
        if (write(pipefd[1], &e, sizeof e) < 0)
            _exit(127);
        _exit(127);
    }
    close(pipefd[1]);
    int e = 0;
    ssize_t got = read(pipefd[0], &e, sizeof e);
    close(pipefd[0]);
    if (got == (ssize_t)sizeof e) {
        waitpid(*pid, NULL, 0);
        return e;
    }
    return 0;
}

static FaustRun run_faust(const char *exe, const char *path, const char *const *incs, int n_incs)
{
    FaustRun r = { 0 };
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ampc-faust-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        char msg[512];
        snprintf(msg, sizeof msg, "cannot make a temporary folder for faust: %s", strerror(errno));
        r.error = strdup(msg);
        return r;
    }
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/log", dir);
    char *fixed[] = { (char *)exe, "-lang", "c", "-os", "-ftz", "1", "-cn", PLACEHOLDER, "-json",
                      "-O", ".", "-o", "faust.c" };
    size_t nf = sizeof fixed / sizeof fixed[0];
    char **argv = xmalloc(sizeof(char *) * (nf + 2 * (size_t)n_incs + 2));
    memcpy(argv, fixed, sizeof fixed);
    size_t na = nf;
    for (int i = 0; i < n_incs; i++) {
        argv[na++] = "-I";
        argv[na++] = (char *)incs[i];
    }
    argv[na++] = (char *)path;
    argv[na] = NULL;
    char **env = faust_environment();
    pid_t pid = -1;
    int rc = spawn_canonical(&pid, exe, argv, env, dir, logpath);
    free(env);
    free(argv);
    if (rc != 0) {
        char msg[4400];
        if (strcmp(exe, "faust") == 0)
            snprintf(msg, sizeof msg, "cannot run faust: %s (install faust, or set AMPC_FAUST to its path)",
                     strerror(rc));
        else
            snprintf(msg, sizeof msg, "cannot run faust ('%s', from AMPC_FAUST): %s", exe, strerror(rc));
        r.error = strdup(msg);
        remove_tree(dir);
        return r;
    }
    int status = 0, waited = 0;
    struct timespec pause = { 0, 10 * 1000 * 1000 };
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            status = -1;
            break;
        }
        if (waited >= FAUST_TIMEOUT_S * 100) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            char msg[128];
            snprintf(msg, sizeof msg, "faust did not finish within %d s", FAUST_TIMEOUT_S);
            r.error = strdup(msg);
            remove_tree(dir);
            return r;
        }
        nanosleep(&pause, NULL);
        waited++;
    }
    char *log = read_all(logpath, NULL);
    if (WIFSIGNALED(status)) {
        char msg[128];
        snprintf(msg, sizeof msg, "faust was killed by signal %d", WTERMSIG(status));
        r.error = strdup(msg);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        r.error = error_line(log ? log : "", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        r.faust_said = log && *log;
    } else {
        char cpath[4200];
        snprintf(cpath, sizeof cpath, "%s/faust.c", dir);
        r.c_text = read_all(cpath, NULL);
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            size_t n = strlen(de->d_name);
            if (n > 5 && !strcmp(de->d_name + n - 5, ".json") && !r.json_text) {
                char jpath[4400];
                snprintf(jpath, sizeof jpath, "%s/%s", dir, de->d_name);
                r.json_text = read_all(jpath, NULL);
            }
        }
        if (d)
            closedir(d);
        if (!r.c_text || !r.json_text) {
            free(r.c_text);
            free(r.json_text);
            r.c_text = r.json_text = NULL;
            r.error = strdup("faust succeeded but wrote no C or no JSON description");
        }
    }
    free(log);
    remove_tree(dir);
    return r;
}

/* ---- the cache ---------------------------------------------------------------
 * faust takes 0.05 to 2 s per program; a process that compiles the same
 * patch again (tests, the fuzzer, the server) runs it once per input. */

typedef struct CacheEntry {
    char *key;
    FaustRun run;
    struct CacheEntry *next;
} CacheEntry;

static CacheEntry *cache;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static FaustRun cached_run(const char *exe, const char *path, const char *text, size_t len,
                           const char *const *incs, int n_incs)
{
    /* a bare name is looked up in PATH, which is then part of the key */
    const char *search = strchr(exe, '/') ? "" : getenv("PATH");
    search = search ? search : "";
    size_t kl = strlen(exe) + strlen(search) + strlen(path) + 64;
    for (int i = 0; i < n_incs; i++)
        kl += strlen(incs[i]) + 1;
    char *key = xmalloc(kl);
    int at = snprintf(key, kl, "%s\n%s\n%s\n%016llx:%zu", exe, search, path, (unsigned long long)fnv1a(text, len), len);
    for (int i = 0; i < n_incs; i++)
        at += snprintf(key + at, kl - (size_t)at, "\n%s", incs[i]);
    pthread_mutex_lock(&cache_lock);
    for (CacheEntry *c = cache; c; c = c->next)
        if (!strcmp(c->key, key)) {
            FaustRun r = c->run;
            pthread_mutex_unlock(&cache_lock);
            free(key);
            return r;
        }
    pthread_mutex_unlock(&cache_lock);
    FaustRun r = run_faust(exe, path, incs, n_incs);
    CacheEntry *c = xmalloc(sizeof *c);
    c->key = key;
    c->run = r;
    pthread_mutex_lock(&cache_lock);
    c->next = cache;
    cache = c;
    pthread_mutex_unlock(&cache_lock);
    return r;
}

/* ---- preparing the C ----------------------------------------------------------- */

typedef struct Prepared {
    EmitText code;
    int n_int, n_real;     /* FAUST_INT_CONTROLS, FAUST_REAL_CONTROLS */
    char **defined;        /* functions the code defines */
    int n_defined, cap_defined;
    const char *error;     /* static text */
} Prepared;

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Keep the lines outside preprocessor conditionals that faust wraps around
 * its architecture glue: everything inside `#ifndef TESTBENCH` and the
 * include guard, nothing inside the others (extern "C", RESTRICT, the
 * Apple exp10f names), and no directive itself. The two sizes faust
 * #defines for the -os control arrays are read on the way. */
static void strip_preprocessor(const char *src, Prepared *p, EmitText *out)
{
    int keep[64], depth = 0, k = 1;
    for (const char *line = src; *line;) {
        const char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);
        const char *t = skip_space(line);
        if (*t == '#') {
            const char *w = skip_space(t + 1);
            if (starts_with(w, "if")) {           /* #if, #ifdef, #ifndef */
                const char *arg = w;
                while (*arg && !isspace((unsigned char)*arg))
                    arg++;
                arg = skip_space(arg);
                size_t an = 0;
                while (arg[an] && !isspace((unsigned char)arg[an]))
                    an++;
                int wanted = starts_with(w, "ifndef") &&
                             ((an == 9 && !strncmp(arg, "TESTBENCH", 9)) ||
                              (an > 4 && !strncmp(arg + an - 4, "_H__", 4)));
                if (depth < 64)
                    keep[depth] = k;
                depth++;
                k = k && wanted;
            } else if (starts_with(w, "else") || starts_with(w, "elif")) {
                k = 0;
            } else if (starts_with(w, "endif")) {
                if (depth > 0)
                    depth--;
                k = depth < 64 ? keep[depth] : 0;
            } else if (k && starts_with(w, "define")) {
                const char *d = skip_space(w + 6);
                if (starts_with(d, "FAUST_INT_CONTROLS"))
                    p->n_int = atoi(d + 18);
                else if (starts_with(d, "FAUST_REAL_CONTROLS"))
                    p->n_real = atoi(d + 19);
            }
        } else if (k) {
            text_add(out, line, n);
            text_add(out, "\n", 1);
        }
        line = eol ? eol + 1 : line + n;
    }
}

/* Past a string or character literal starting at s (at the quote). */
static const char *skip_literal(const char *s)
{
    char q = *s++;
    while (*s && *s != q) {
        if (*s == '\\' && s[1])
            s++;
        s++;
    }
    return *s ? s + 1 : s;
}

/* Past a comment starting at s, or s itself if none starts there. */
static const char *skip_comment(const char *s)
{
    if (s[0] == '/' && s[1] == '*') {
        const char *e = strstr(s + 2, "*/");
        return e ? e + 2 : s + strlen(s);
    }
    if (s[0] == '/' && s[1] == '/') {
        const char *e = strchr(s, '\n');
        return e ? e : s + strlen(s);
    }
    return s;
}

/* Past a comment or a string/character literal starting at s, or s itself
 * if neither starts there. */
static const char *skip_noncode(const char *s)
{
    if (*s == '"' || *s == '\'')
        return skip_literal(s);
    return skip_comment(s);
}

/* The end of the top-level item (declaration or function) starting at s. */
static const char *item_end(const char *s, int *is_function)
{
    int depth = 0, paren = 0, brace = 0;
    *is_function = 0;
    int typedef_item = starts_with(s, "typedef");
    while (*s) {
        const char *c = skip_noncode(s);
        if (c != s) {
            s = c;
            continue;
        }
        if (*s == '(' && !brace)
            paren = 1;
        if (*s == '{') {
            if (!brace && paren && !typedef_item)
                *is_function = 1;
            brace = 1;
            depth++;
        } else if (*s == '}') {
            depth--;
            if (depth == 0 && *is_function)
                return s + 1;
        } else if (*s == ';' && depth == 0) {
            return s + 1;
        }
        s++;
    }
    return s;
}

/* The name of the function whose definition starts at s: the identifier
 * just before its first '('. */
static char *function_name(const char *s, const char *end)
{
    const char *paren = memchr(s, '(', (size_t)(end - s));
    if (!paren)
        return NULL;
    const char *e = paren;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    const char *b = e;
    while (b > s && (isalnum((unsigned char)b[-1]) || b[-1] == '_'))
        b--;
    if (b == e)
        return NULL;
    return strndup(b, (size_t)(e - b));
}

/* Functions of faust's C that a compiled patch does not call: they need
 * calloc/free, the MetaGlue/UIGlue types of faust's architecture headers,
 * or they would redo the static tables for every voice (instanceInit,
 * init: the patch calls staticInit once and the instance functions for
 * each instance itself). */
static const char *const dropped[] = {
    "new", "delete", "metadata", "getSampleRate", "getNumInputs", "getNumOutputs", "classInit",
    "instanceInit", "init", "buildUserInterface", "getNumIntControls", "getNumRealControls",
};

/* The functions the emitted patch calls: all must be there. */
static const char *const required[] = {
    "staticInit", "instanceConstants", "instanceResetUserInterface", "instanceClear", "control", "compute",
};

static int is_dropped(const char *name)
{
    size_t pl = strlen(PLACEHOLDER);
    size_t n = strlen(name);
    if (n <= pl || strcmp(name + n - pl, PLACEHOLDER) != 0)
        return 0;
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        if (strlen(dropped[i]) == n - pl && !strncmp(name, dropped[i], n - pl))
            return 1;
    return 0;
}

static void add_defined(Prepared *p, char *name)
{
    if (p->n_defined == p->cap_defined) {
        p->cap_defined = p->cap_defined ? 2 * p->cap_defined : 32;
        p->defined = xrealloc(p->defined, sizeof(char *) * (size_t)p->cap_defined);
    }
    p->defined[p->n_defined++] = name;
}

static int is_defined(const Prepared *p, const char *name, size_t n)
{
    for (int i = 0; i < p->n_defined; i++)
        if (strlen(p->defined[i]) == n && !strncmp(p->defined[i], name, n))
            return 1;
    return 0;
}

/* Split the stripped C into top-level items; keep the declarations and the
 * functions the patch needs, each function made static. */
static void keep_items(const char *s, Prepared *p)
{
    while (*s) {
        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        const char *c = skip_comment(s);
        if (c != s) {
            s = c;
            continue;
        }
        int is_function;
        const char *e = item_end(s, &is_function);
        if (!is_function) {
            text_add(&p->code, s, (size_t)(e - s));
            text_puts(&p->code, "\n\n");
            s = e;
            continue;
        }
        char *name = function_name(s, e);
        if (name && is_dropped(name)) {
            free(name);
            s = e;
            continue;
        }
        if (name)
            add_defined(p, name);
        if (!starts_with(s, "static"))
            text_puts(&p->code, "static ");
        text_add(&p->code, s, (size_t)(e - s));
        text_puts(&p->code, "\n\n");
        s = e;
    }
}

static int is_keyword(const char *s, size_t n)
{
    static const char *const kw[] = { "if", "for", "while", "switch", "return", "sizeof", "do" };
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strlen(kw[i]) == n && !strncmp(kw[i], s, n))
            return 1;
    return 0;
}

static int is_routed(const char *s, size_t n)
{
    for (int i = 0; i < N_ROUTES; i++)
        if (strlen(routes[i].libm) == n && !strncmp(routes[i].libm, s, n))
            return 1;
    return 0;
}

/* The first call to a function that is neither defined by the code nor
 * routed to a kernel (a libm function without a kernel, a foreign
 * function), malloc'd; NULL if there is none. */
static char *unknown_call(const Prepared *p)
{
    const char *s = p->code.text;
    while (s && *s) {
        const char *c = skip_noncode(s);
        if (c != s) {
            s = c;
            continue;
        }
        if (!(isalpha((unsigned char)*s) || *s == '_')) {
            s++;
            continue;
        }
        const char *b = s;
        while (isalnum((unsigned char)*s) || *s == '_')
            s++;
        size_t n = (size_t)(s - b);
        const char *after = s;
        while (isspace((unsigned char)*after))
            after++;
        if (*after != '(' || is_keyword(b, n) || is_routed(b, n) || is_defined(p, b, n))
            continue;
        return strndup(b, n);
    }
    return NULL;
}

/* text with every occurrence of what (if not empty) replaced by with. */
static char *replace_all(Arena *a, const char *text, const char *what, const char *with)
{
    EmitText b = { 0 };
    size_t wl = strlen(what);
    for (const char *s = text;;) {
        const char *hit = wl ? strstr(s, what) : NULL;
        if (!hit) {
            text_puts(&b, s);
            break;
        }
        text_add(&b, s, (size_t)(hit - s));
        text_puts(&b, with);
        s = hit + wl;
    }
    char *r = arena_strdup(a, b.text);
    free(b.text);
    return r;
}

static void prepared_free(Prepared *p)
{
    free(p->code.text);
    for (int i = 0; i < p->n_defined; i++)
        free(p->defined[i]);
    free(p->defined);
}

/* ---- the UI: zones from the C, descriptions from the JSON ---------------------- */

typedef struct Zone {
    char kind[32];         /* HorizontalSlider, Button, ... */
    char field[64];        /* fHslider0 */
} Zone;

/* Every `ui_interface->addKIND(ui_interface->uiInterface, "label", &dsp->FIELD, ...)`
 * of buildUserInterface, in order. Returns the count (at most max). */
static int find_zones(const char *c, Zone *z, int max)
{
    int n = 0;
    for (const char *s = c; (s = strstr(s, "ui_interface->add"));) {
        s += strlen("ui_interface->add");
        Zone one = { 0 };
        size_t k = 0;
        while ((isalnum((unsigned char)s[k]) || s[k] == '_') && k + 1 < sizeof one.kind)
            k++;
        memcpy(one.kind, s, k);
        const char *q = strchr(s, '"');
        if (!q)
            break;
        q = skip_literal(q);
        const char *f = strstr(q, "&dsp->");
        if (!f)
            break;
        f += 6;
        k = 0;
        while ((isalnum((unsigned char)f[k]) || f[k] == '_') && k + 1 < sizeof one.field)
            k++;
        memcpy(one.field, f, k);
        if (n < max)
            z[n] = one;
        n++;
        s = f;
    }
    return n;
}

typedef struct UiItem {
    const char *type, *label, *shortname, *address, *unit;
    double init, lo, hi, step;
} UiItem;

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static double jnum(json_t *o, const char *key, double def)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

static const char *meta_value(json_t *o, const char *key)
{
    json_t *meta = json_object_get(o, "meta");
    size_t i;
    json_t *m;
    json_array_foreach(meta, i, m) {
        const char *v = json_string_value(json_object_get(m, key));
        if (v)
            return v;
    }
    return "";
}

/* The UI items, depth first: the order of buildUserInterface's calls. */
static void walk_ui(Arena *a, json_t *items, UiItem **out, int *n, int *cap)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *type = jstr(it, "type");
        if (!strcmp(type, "vgroup") || !strcmp(type, "hgroup") || !strcmp(type, "tgroup")) {
            walk_ui(a, json_object_get(it, "items"), out, n, cap);
            continue;
        }
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            UiItem *bigger = arena_alloc(a, sizeof(UiItem) * (size_t)*cap);
            if (*n)
                memcpy(bigger, *out, sizeof(UiItem) * (size_t)*n);
            *out = bigger;
        }
        UiItem *u = &(*out)[(*n)++];
        u->type = arena_strdup(a, type);
        u->label = arena_strdup(a, jstr(it, "label"));
        u->shortname = arena_strdup(a, jstr(it, "shortname"));
        u->address = arena_strdup(a, jstr(it, "address"));
        u->unit = arena_strdup(a, meta_value(it, "unit"));
        int toggle = !strcmp(type, "button") || !strcmp(type, "checkbox");
        u->init = jnum(it, "init", 0);
        u->lo = jnum(it, "min", 0);
        u->hi = jnum(it, "max", toggle ? 1 : 0);
        u->step = jnum(it, "step", toggle ? 1 : 0);
    }
}

static const char *zone_kind(const char *type)
{
    static const char *const map[][2] = {
        { "hslider", "HorizontalSlider" }, { "vslider", "VerticalSlider" }, { "nentry", "NumEntry" },
        { "button", "Button" },            { "checkbox", "CheckButton" },
        { "hbargraph", "HorizontalBargraph" }, { "vbargraph", "VerticalBargraph" },
        { "soundfile", "Soundfile" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], type))
            return map[i][1];
    return "";
}

static int is_param_type(const char *type)
{
    return !strcmp(type, "hslider") || !strcmp(type, "vslider") || !strcmp(type, "nentry") ||
           !strcmp(type, "button") || !strcmp(type, "checkbox");
}

/* ---- names ----------------------------------------------------------------------- */

static int reserved(const char *s)
{
    static const char *const words[] = {
        "import", "faust", "as", "node", "patch", "in", "out", "param", "state", "delay", "table",
        "let", "process", "voices", "voice", "steal", "smooth", "step", "pi", "SR", "note", "i",
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcmp(words[i], s))
            return 1;
    return 0;
}

/* A control's param name: its short name (unique among the controls),
 * lower case, every run of other characters one '_'; never a keyword or a
 * port name; made unique with _2, _3... */
static const char *param_name(Arena *a, const UiItem *u, const char **taken, int n_taken)
{
    const char *src = *u->shortname ? u->shortname : u->label;
    char base[64];
    size_t k = 0;
    int under = 0;
    for (const char *s = src; *s && k < sizeof base - 8; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch)) {
            if (under && k)
                base[k++] = '_';
            under = 0;
            base[k++] = (char)tolower(ch);
        } else {
            under = 1;
        }
    }
    base[k] = 0;
    if (!k)
        strcpy(base, "param");
    if (isdigit((unsigned char)base[0])) {
        memmove(base + 1, base, k + 1);
        base[0] = 'p';
    }
    if (reserved(base))
        strcat(base, "_");
    const char *name = arena_strdup(a, base);
    for (int suffix = 2;; suffix++) {
        int clash = 0;
        for (int i = 0; i < n_taken && !clash; i++)
            clash = !strcmp(taken[i], name);
        if (!clash)
            return name;
        name = arena_printf(a, "%s_%d", base, suffix);
    }
}

/* ---- the node ------------------------------------------------------------------------ */

static Expr *num(Arena *a, Loc loc, double value, FaustZoneScale scale, const char *unit)
{
    if (scale == FAUST_ZONE_MS) {
        Expr *e = ast_num(a, loc, value * 0.001, UNIT_MS);
        e->raw = value;
        return e;
    }
    if (scale == FAUST_ZONE_DB) {
        Expr *e = ast_num(a, loc, pow(10.0, value / 20.0), UNIT_DB);
        e->raw = value;
        return e;
    }
    if (!strcmp(unit, "Hz"))
        return ast_num(a, loc, value, UNIT_HZ);
    if (!strcmp(unit, "s"))
        return ast_num(a, loc, value, UNIT_S);
    return ast_num(a, loc, value, UNIT_NONE);
}

static Ident *ports(Arena *a, Loc loc, const char *prefix, int n)
{
    Ident *head = NULL, **tail = &head;
    for (int i = 0; i < n; i++) {
        *tail = ast_ident(a, loc, arena_printf(a, "%s%d", prefix, i));
        tail = &(*tail)->next;
    }
    return head;
}

static Node *make_node(Arena *a, Loc loc, FaustProgram *fp)
{
    Node *n = ast_node(a, loc, fp->name);
    n->faust_path = fp->path;
    n->has_process = 1;
    n->ins = ports(a, loc, "in", fp->n_inputs);
    n->outs = ports(a, loc, "out", fp->n_outputs);
    Param **tail = &n->params;
    for (int i = 0; i < fp->n_controls; i++) {
        FaustControl *c = &fp->controls[i];
        Expr *step = c->step > 0 ? (c->scale == FAUST_ZONE_MS ? num(a, loc, c->step, c->scale, c->unit)
                                                              : ast_num(a, loc, c->step, UNIT_NONE))
                                 : NULL;
        *tail = ast_param(a, loc, c->name, num(a, loc, c->init, c->scale, c->unit),
                          num(a, loc, c->lo, c->scale, c->unit), num(a, loc, c->hi, c->scale, c->unit),
                          step, NULL);
        if (*c->unit && strcmp(c->unit, "Hz") && strcmp(c->unit, "ms") && strcmp(c->unit, "s") && strcmp(c->unit, "dB"))
            (*tail)->unit_label = c->unit;
        tail = &(*tail)->next;
    }
    return n;
}

/* The controls: the JSON's items matched with the C's zones. Returns 0
 * after an error: they do not match, a range is empty, or the program has
 * a soundfile. */
static int describe(Arena *a, Diag *d, Loc loc, FaustProgram *fp, json_t *root, const char *c_text)
{
    UiItem *items = NULL;
    int n = 0, cap = 0;
    walk_ui(a, json_object_get(root, "ui"), &items, &n, &cap);
    Zone *zones = arena_alloc(a, sizeof(Zone) * (size_t)(n + 1));
    int nz = find_zones(c_text, zones, n + 1);
    if (nz != n) {
        diag_error(d, loc, "faust's description of '%s' lists %d controls but its C has %d", fp->path, n, nz);
        return 0;
    }
    fp->controls = arena_alloc(a, sizeof(FaustControl) * (size_t)(n + 1));
    const char **taken = arena_alloc(a, sizeof(char *) * (size_t)(n + fp->n_inputs + fp->n_outputs + 1));
    int n_taken = 0;
    for (int i = 0; i < fp->n_inputs; i++)
        taken[n_taken++] = arena_printf(a, "in%d", i);
    for (int i = 0; i < fp->n_outputs; i++)
        taken[n_taken++] = arena_printf(a, "out%d", i);
    for (int i = 0; i < n; i++) {
        UiItem *u = &items[i];
        if (strcmp(zone_kind(u->type), zones[i].kind) != 0) {
            diag_error(d, loc, "faust's description of '%s' does not match its C (%s '%s' against add%s)",
                       fp->path, u->type, u->label, zones[i].kind);
            return 0;
        }
        if (!strcmp(u->type, "soundfile")) {
            diag_error(d, loc, "'%s' uses a soundfile ('%s'), which Faust nodes do not support", fp->path, u->label);
            return 0;
        }
        if (!is_param_type(u->type))
            continue;      /* bargraphs: outputs of Faust's UI, not params */
        FaustControl *c = &fp->controls[fp->n_controls++];
        c->label = u->label;
        c->address = u->address;
        c->type = u->type;
        c->zone = arena_strdup(a, zones[i].field);
        c->unit = u->unit;
        c->scale = !strcmp(u->unit, "ms") ? FAUST_ZONE_MS : !strcmp(u->unit, "dB") ? FAUST_ZONE_DB : FAUST_ZONE_AS_IS;
        c->lo = u->lo;
        c->hi = u->hi;
        c->step = u->step > 0 ? u->step : 0;
        c->init = u->init < u->lo ? u->lo : u->init > u->hi ? u->hi : u->init;
        if (c->lo > c->hi) {
            diag_error(d, loc, "control '%s' of '%s' has an empty range [%g, %g]", u->label, fp->path, u->lo, u->hi);
            return 0;
        }
        c->name = param_name(a, u, taken, n_taken);
        taken[n_taken++] = c->name;
    }
    return 1;
}

FaustProgram *faust_import(Arena *a, Diag *d, Loc loc, const char *written, const char *path, const char *name,
                           const char *const *include_dirs, int n_include_dirs)
{
    size_t len;
    char *text = read_all(path, &len);
    if (!text) {
        diag_error(d, loc, "cannot read '%s': %s", written, strerror(errno));
        return NULL;
    }
    const char *exe = getenv("AMPC_FAUST");
    if (!exe || !*exe)
        exe = "faust";
    /* absolute paths: faust runs in its own folder (spawn_canonical) */
    char *real = realpath(path, NULL);
    const char *abs = real ? real : path;
    const char **incs = xmalloc(sizeof(char *) * (size_t)(n_include_dirs + 1));
    for (int i = 0; i < n_include_dirs; i++) {
        char *r = realpath(include_dirs[i], NULL);
        incs[i] = r ? arena_strdup(a, r) : include_dirs[i];
        free(r);
    }
    FaustRun run = cached_run(exe, abs, text, len, incs, n_include_dirs);
    free(incs);
    free(text);
    if (run.error) {
        /* faust's message with the path it was given replaced by the
         * import's string, so it reads like the user's text */
        const char *msg = replace_all(a, replace_all(a, run.error, abs, written), path, written);
        free(real);
        if (run.faust_said && !strstr(msg, written))
            diag_error(d, loc, "faust: %s: %s", written, msg);  /* name the file faust does not */
        else
            diag_error(d, loc, run.faust_said ? "faust: %s" : "%s", msg);
        return NULL;
    }
    free(real);

    FaustProgram *fp = arena_alloc(a, sizeof *fp);
    fp->name = name;
    fp->path = written;
    fp->cname = arena_printf(a, "amp_faust_%s", name);
    json_error_t jerr;
    json_t *root = json_loads(run.json_text, 0, &jerr);
    if (!root || !json_is_object(root)) {
        diag_error(d, loc, "cannot read faust's description of '%s': %s", written, root ? "not an object" : jerr.text);
        json_decref(root);
        return NULL;
    }
    fp->n_inputs = (int)jnum(root, "inputs", -1);
    fp->n_outputs = (int)jnum(root, "outputs", -1);
    int ok = 1;
    if (fp->n_outputs <= 0 || fp->n_inputs < 0) {
        diag_error(d, loc, "Faust program '%s' has no outputs; a node needs at least one", written);
        ok = 0;
    } else if (fp->n_inputs > FAUST_MAX_PORTS || fp->n_outputs > FAUST_MAX_PORTS) {
        diag_error(d, loc, "Faust program '%s' has %d inputs and %d outputs; a Faust node has at most %d of each",
                   written, fp->n_inputs, fp->n_outputs, FAUST_MAX_PORTS);
        ok = 0;
    }
    ok = ok && describe(a, d, loc, fp, root, run.c_text);
    json_decref(root);
    if (!ok)
        return NULL;

    Prepared p = { 0 };
    EmitText stripped = { 0 };
    strip_preprocessor(run.c_text, &p, &stripped);
    keep_items(stripped.text ? stripped.text : "", &p);
    free(stripped.text);
    for (size_t i = 0; i < sizeof required / sizeof required[0] && ok; i++) {
        char fn[128];
        snprintf(fn, sizeof fn, "%s%s", required[i], PLACEHOLDER);
        if (!is_defined(&p, fn, strlen(fn))) {
            diag_error(d, loc, "faust's C for '%s' has no function %s (is this faust too old or too new?)",
                       written, required[i]);
            ok = 0;
        }
    }
    char *bad = ok ? unknown_call(&p) : NULL;
    if (bad) {
        diag_error(d, loc, "Faust program '%s' calls '%s', which has no kernel in runtime/abi/amp_math.h "
                           "(a foreign function, or a libm function Faust nodes cannot use)", written, bad);
        free(bad);
        ok = 0;
    }
    if (ok) {
        fp->code = replace_all(a, p.code.text ? p.code.text : "", PLACEHOLDER, fp->cname);
        /* -ftz 1 flushes a recursive value below FLT_MIN, so a decaying one
         * hovers just above it and any gain below 1 on it (a mix, a level)
         * makes denormals; flushed below 1e-30 like the language's own
         * recursions (lang/SPEC.md §2), it is 0 long before. */
        fp->code = replace_all(a, fp->code, "> 1.1754944e-38f)", "> 1e-30f)");
        fp->n_int_controls = p.n_int > 0 ? p.n_int : 1;
        fp->n_real_controls = p.n_real > 0 ? p.n_real : 1;
        fp->node = make_node(a, loc, fp);
    }
    prepared_free(&p);
    return ok ? fp : NULL;
}
