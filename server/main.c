/* main.c — ampd, the Amplitude server: options, start, wait for a signal.
 *
 *   ampd [--host ADDR] [--port N] [--root DIR] [--max-connections N]
 *        [--max-per-address N] [--head-deadline SECONDS] [--threads N]
 *        [--timeout SECONDS] [--origin URL]... [--verbose]
 *        [--data DIR] [--local] [--argon-ops N] [--argon-mem BYTES]
 *        [--session-lifetime SECONDS] [--secure-cookies] [--workers N] [--queue N] [--signin-limit N]
 *        [--library DIR]
 *        [--asset-max-bytes N] [--quota-bytes N]
 *
 * With --data, accounts and projects are stored in DIR (api.c, store.h);
 * without it the API answers 503 and only the app is served. --library DIR
 * is the read-only built-in patch library (api_patches.c; default: the
 * folder "library" beside the web root, when there is one).
 * Serves the built web app in DIR (default build/web) on ADDR:N (default
 * 127.0.0.1:8080; port 0 takes a free port) and prints the address it bound.
 * Live updates (live.c) run beside it; --origin adds an origin allowed to
 * open them besides the server's own (a dev server's, a proxy's).
 * SIGINT and SIGTERM are blocked in every thread and taken by sigwait() here,
 * so shutdown runs in the main thread: live_stop closes the WebSockets,
 * http_stop the listening socket and every connection, then we exit 0.
 * server/README.md describes every option and the limits behind them.
 */
#include "api.h"
#include "http.h"
#include "live.h"
#include "ws.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fputs("usage: ampd [--host ADDR] [--port N] [--root DIR] [--max-connections N]\n"
          "            [--max-per-address N] [--head-deadline SECONDS] [--threads N]\n"
          "            [--timeout SECONDS] [--origin URL]... [--verbose]\n"
          "  --host ADDR            address to listen on (default 127.0.0.1)\n"
          "  --port N               port, 0 for any free one (default 8080)\n"
          "  --root DIR             the built web app to serve (default build/web)\n"
          "  --max-connections N    simultaneous connections (default 256)\n"
          "  --max-per-address N    of which from one client address, 0: no limit (default 32)\n"
          "  --head-deadline SECONDS  a request head must be complete within this (default 10)\n"
          "  --threads N            event-loop threads (default: one per CPU)\n"
          "  --timeout SECONDS      idle connections are closed after this (default 30)\n"
          "  --origin URL           also allow live updates from pages of this origin\n"
          "                         (http[s]://HOST[:PORT]; repeatable)\n"
          "  --verbose              print libmicrohttpd's messages\n"
          "storage and accounts (see server/README.md):\n"
          "  --data DIR             keep accounts and projects in DIR (created if missing)\n"
          "  --local                single-user machine: loopback requests without a session\n"
          "                         act as the local user\n"
          "  --argon-ops N          argon2id passes (default: libsodium INTERACTIVE, 2)\n"
          "  --argon-mem BYTES      argon2id memory (default: INTERACTIVE, 64 MiB)\n"
          "  --session-lifetime S   sessions expire after S seconds (default 30 days)\n"
          "  --workers N            threads for storage and hashing (default 4)\n"
          "  --queue N              jobs waiting for them before 503 (default 64)\n"
          "  --secure-cookies       mark the session cookie Secure (serving behind HTTPS)\n"
          "  --ampc PATH            the compiler of /api/compile (default: ampc beside ampd)\n"
          "  --compile-jobs N       compiles at once (default 2)\n"
          "  --compile-seconds N    a compile's CPU time limit (default 20)\n"
          "  --compile-wall N       its wall-clock limit in seconds (default 1.5 times\n"
          "                         the CPU limit: 30)\n"
          "  --compile-memory MIB   a compile's address-space limit (default 1024)\n"
          "  --module-script PATH   the patch module recipe (default: the repo's\n"
          "                         runtime/wasm/patch_module.sh)\n"
          "  --signin-limit N       failed sign-ins per account per 5 minutes (default 5;\n"
          "                         4N per address)\n"
          "  --library DIR          the built-in patch library, read-only (default: \"library\"\n"
          "                         beside --root, if it exists; make run: the repo's nodes/)\n"
          "  --asset-max-bytes N    largest audio file uploaded (default 512 MiB)\n"
          "  --quota-bytes N        audio files of one user in all (default 5 GiB)\n"
          "AMPD_ARGON_OPS and AMPD_ARGON_MEM in the environment set the argon2id defaults.\n",
          out);
}

/* A decimal number in [min, max], or -1. */
static long parse_number(const char *text, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return -1;
    return v;
}

/* The numeric address for `host` with `port` set; false when it does not
 * resolve. */
static bool resolve_host(const char *host, unsigned port, struct sockaddr_storage *addr)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *found;
    if (getaddrinfo(host, NULL, &hints, &found) != 0)
        return false;
    memcpy(addr, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    if (addr->ss_family == AF_INET)
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
    else if (addr->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
    else
        return false;
    return true;
}

/* The long name of the option whose code is `opt`. */
static const char *option_name(const struct option *options, int opt)
{
    for (; options->name; options++)
        if (options->val == opt)
            return options->name;
    return "?";
}

static bool set_root(HttpServer *server, const char *dir)
{
    struct stat st;
    if (!realpath(dir, server->root) || stat(server->root, &st) != 0) {
        fprintf(stderr, "ampd: --root %s: %s\n", dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "ampd: --root %s: not a directory\n", dir);
        return false;
    }
    server->root_len = strlen(server->root);
    /* Files are opened beneath this descriptor, never by a path string. */
    server->root_fd = open(server->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (server->root_fd < 0) {
        fprintf(stderr, "ampd: --root %s: %s\n", dir, strerror(errno));
        return false;
    }
    return true;
}

/* The built-in patch library: `dir` (--library), else "library" beside
 * the web root when it exists. */
static bool set_library(const HttpServer *server, const char *dir)
{
    if (dir)
        return api_patches_library(dir, true);
    char beside[sizeof server->root + 16];
    snprintf(beside, sizeof beside, "%s/../library", server->root);
    return api_patches_library(beside, false);
}

/* One of the numeric storage options (`opt` as in the option table). */
static bool api_option(ApiOptions *api, int opt, const char *text)
{
    long v;
    switch (opt) {
    case 'O': v = parse_number(text, 1, 64); if (v < 0) return false; api->argon_ops = (unsigned long long)v; break;
    case 'M': v = parse_number(text, 8192, 1L << 32); if (v < 0) return false; api->argon_mem = (size_t)v; break;
    case 'S': v = parse_number(text, 1, 365L * 24 * 3600); if (v < 0) return false; api->session_lifetime = v; break;
    case 'W': v = parse_number(text, 1, 64); if (v < 0) return false; api->workers = (unsigned)v; break;
    case 'Q': v = parse_number(text, 1, 65536); if (v < 0) return false; api->queue = (unsigned)v; break;
    case 'R': v = parse_number(text, 1, 64); if (v < 0) return false; api->signin_limit = (unsigned)v; break;
    default: return false;
    }
    return true;
}

/* AMPD_ARGON_OPS / AMPD_ARGON_MEM set the argon2id limits before options. */
static bool api_env_options(ApiOptions *api)
{
    static const struct { const char *name; int opt; } vars[] = {
        {"AMPD_ARGON_OPS", 'O'}, {"AMPD_ARGON_MEM", 'M'},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i].name);
        if (v && !api_option(api, vars[i].opt, v)) {
            fprintf(stderr, "ampd: bad value '%s' for %s\n", v, vars[i].name);
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"root", required_argument, NULL, 'r'},
        {"max-connections", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"max-per-address", required_argument, NULL, 'a'},
        {"head-deadline", required_argument, NULL, 'd'},
        {"threads", required_argument, NULL, 'T'},
        {"origin", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"data", required_argument, NULL, 'D'},
        {"local", no_argument, NULL, 'L'},
        {"argon-ops", required_argument, NULL, 'O'},
        {"argon-mem", required_argument, NULL, 'M'},
        {"session-lifetime", required_argument, NULL, 'S'},
        {"workers", required_argument, NULL, 'W'},
        {"queue", required_argument, NULL, 'Q'},
        {"signin-limit", required_argument, NULL, 'R'},
        {"secure-cookies", no_argument, NULL, 'C'},
        {"ampc", required_argument, NULL, 'A'},
        {"compile-jobs", required_argument, NULL, 'J'},
        {"compile-seconds", required_argument, NULL, 'J' + 256},
        {"compile-memory", required_argument, NULL, 'J' + 512},
        {"compile-wall", required_argument, NULL, 'J' + 768},
        {"module-script", required_argument, NULL, 'M' + 256},
        {"library", required_argument, NULL, 'l'},
        {"asset-max-bytes", required_argument, NULL, 'X'},
        {"quota-bytes", required_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static HttpServer server = {
        .max_connections = 256,
        .timeout_seconds = 30,
        .max_per_address = 32,
        .head_deadline_seconds = 10,
        .connection_memory = HTTP_CONNECTION_MEMORY,
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    server.threads = cpus < 1 ? 1 : cpus > 64 ? 64 : (unsigned)cpus;
    enum { ORIGINS_MAX = 16 };
    const char *origins[ORIGINS_MAX];
    size_t origin_count = 0;
    const char *host = "127.0.0.1", *root = "build/web", *library = NULL;
    long port = 8080, value;
    int opt, compile_jobs = 2, compile_seconds = 0, compile_wall = 0, compile_memory = 0;
    const char *ampc = NULL;
#ifdef AMPD_MODULE_SCRIPT
    const char *module_script = AMPD_MODULE_SCRIPT;
#else
    const char *module_script = NULL;
#endif
    ApiOptions api;
    api_default_options(&api);
    AssetOptions assets;
    api_assets_default_options(&assets);
    if (!api_env_options(&api))
        return 2;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'r': root = optarg; break;
        case 'v': server.verbose = true; break;
        case 'o':
            if (!ws_origin_valid(optarg) || origin_count == ORIGINS_MAX)
                goto bad_value;
            origins[origin_count++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        case 'p':
            if ((port = parse_number(optarg, 0, 65535)) < 0)
                goto bad_value;
            break;
        case 'c':
            if ((value = parse_number(optarg, 1, 65536)) < 0)
                goto bad_value;
            server.max_connections = (unsigned)value;
            break;
        case 't':
            if ((value = parse_number(optarg, 1, 86400)) < 0)
                goto bad_value;
            server.timeout_seconds = (unsigned)value;
            break;
        case 'D': api.data_dir = optarg; break;
        case 'l': library = optarg; break;
        case 'L': api.local = true; break;
        case 'C': api.secure_cookies = true; break;
        case 'A': ampc = optarg; break;
        case 'M' + 256: module_script = optarg; break;
        case 'J': compile_jobs = (int)parse_number(optarg, 1, 64); if (compile_jobs < 0) goto bad_value; break;
        case 'J' + 256: compile_seconds = (int)parse_number(optarg, 1, 3600); if (compile_seconds < 0) goto bad_value; break;
        case 'J' + 768: compile_wall = (int)parse_number(optarg, 1, 3600); if (compile_wall < 0) goto bad_value; break;
        case 'J' + 512: compile_memory = (int)parse_number(optarg, 16, 1 << 20); if (compile_memory < 0) goto bad_value; break;
        case 'O': case 'M': case 'S': case 'W': case 'Q': case 'R':
            if (!api_option(&api, opt, optarg))
                goto bad_value;
            break;
        case 'X':
            if ((value = parse_number(optarg, 1, 1L << 40)) < 0)
                goto bad_value;
            assets.max_bytes = value;
            break;
        case 'U':
            if ((value = parse_number(optarg, 0, 1L << 50)) < 0)
                goto bad_value;
            assets.quota_bytes = value;
            break;
        case 'a':
            if ((value = parse_number(optarg, 0, 65536)) < 0)
                goto bad_value;
            server.max_per_address = (unsigned)value;
            break;
        case 'd':
            if ((value = parse_number(optarg, 1, 3600)) < 0)
                goto bad_value;
            server.head_deadline_seconds = (unsigned)value;
            break;
        case 'T':
            if ((value = parse_number(optarg, 1, 256)) < 0)
                goto bad_value;
            server.threads = (unsigned)value;
            break;
        default: usage(stderr); return 2;
        }
        continue;
    bad_value:
        fprintf(stderr, "ampd: bad value '%s' for --%s\n", optarg, option_name(options, opt));
        return 2;
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (!set_root(&server, root))
        return 1;
    if (!set_library(&server, library))
        return 1;
    struct sockaddr_storage addr;
    if (!resolve_host(host, (unsigned)port, &addr)) {
        fprintf(stderr, "ampd: --host %s: not an address\n", host);
        return 1;
    }

    /* Block the stop signals before any thread exists, so that every
     * libmicrohttpd thread inherits the mask and sigwait() gets them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!api_start(&api) || !api_assets_start(api.data_dir, &assets))
        return 1;
    char ampc_beside[4096];
    if (!ampc) {
        ssize_t n = readlink("/proc/self/exe", ampc_beside, sizeof ampc_beside - 8);
        char *slash = n > 0 ? memrchr(ampc_beside, '/', (size_t)n) : NULL;
        if (slash)
            strcpy(slash, "/ampc");
        else
            strcpy(ampc_beside, "ampc");
        ampc = ampc_beside;
    }
    api_compile_limits(compile_seconds, compile_wall, compile_memory);
    if (!api_compile_start(api.data_dir, ampc, api_patches_library_path(), module_script, compile_jobs))
        return 1;
    LiveConfig live = live_default_config();
    live.origins = origins;
    live.origin_count = origin_count;
    /* Who may listen to a project, and its latest revision when a tab
     * opens: the API's session check and store (api_live.c). */
    live.authorize = api_live_authorize;
    live.latest = api_live_latest;
    /* Upgraded sockets count against the connection limit: keep a quarter
     * of it for plain requests. */
    live.max_clients = server.max_connections - server.max_connections / 4;
    if (!live_start(&live))
        return 1;
    store_project_saved_hook = api_live_saved;
    HttpDaemon *daemon = http_start(&server, (struct sockaddr *)&addr);
    if (!daemon) {
        fprintf(stderr, "ampd: cannot listen on %s:%ld: %s\n", host, port, strerror(errno));
        return 1;
    }
    const char *open_bracket = addr.ss_family == AF_INET6 ? "[" : "";
    const char *close_bracket = addr.ss_family == AF_INET6 ? "]" : "";
    printf("ampd: serving %s at http://%s%s%s:%u/\n", root, open_bracket, host, close_bracket,
           http_bound_port(daemon));
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    live_stop();
    api_drain(); /* no connection may stay suspended when the daemon stops */
    http_stop(daemon);
    api_stop();
    api_assets_stop();
    fprintf(stderr, "ampd: stopped (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return 0;
}
