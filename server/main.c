/* main.c — ampd, the Amplitude server: options, start, wait for a signal.
 *
 *   ampd [--host ADDR] [--port N] [--root DIR] [--max-connections N]
 *        [--timeout SECONDS] [--origin URL]... [--verbose]
 *
 * Serves the built web app in DIR (default build/web) on ADDR:N (default
 * 127.0.0.1:8080; port 0 takes a free port) and prints the address it bound.
 * Live updates (live.c) run beside it; --origin adds an origin allowed to
 * open them besides the server's own (a dev server's, a proxy's).
 * SIGINT and SIGTERM are blocked in every thread and taken by sigwait() here,
 * so shutdown runs in the main thread: live_stop closes the WebSockets,
 * MHD_stop_daemon the listening socket and every connection, then we exit 0.
 */
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

static void usage(FILE *out)
{
    fputs("usage: ampd [--host ADDR] [--port N] [--root DIR] [--max-connections N]\n"
          "            [--timeout SECONDS] [--origin URL]... [--verbose]\n"
          "  --host ADDR            address to listen on (default 127.0.0.1)\n"
          "  --port N               port, 0 for any free one (default 8080)\n"
          "  --root DIR             the built web app to serve (default build/web)\n"
          "  --max-connections N    simultaneous connections (default 256)\n"
          "  --timeout SECONDS      idle connections are closed after this (default 30)\n"
          "  --origin URL           also allow live updates from pages of this origin\n"
          "                         (http[s]://HOST[:PORT]; repeatable)\n"
          "  --verbose              print libmicrohttpd's messages\n",
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
        {"origin", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static HttpServer server = {
        .max_connections = 256,
        .timeout_seconds = 30,
        .connection_memory = 64 * 1024,
    };
    enum { ORIGINS_MAX = 16 };
    const char *origins[ORIGINS_MAX];
    size_t origin_count = 0;
    const char *host = "127.0.0.1", *root = "build/web";
    long port = 8080, value;
    int opt;
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
        default: usage(stderr); return 2;
        }
        continue;
    bad_value:
        fprintf(stderr, "ampd: bad value '%s' for --%s\n", optarg,
                opt == 'p' ? "port" : opt == 'c' ? "max-connections" : opt == 'o' ? "origin" : "timeout");
        return 2;
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (!set_root(&server, root))
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

    /* No authorizer yet: until sessions exist every live upgrade is
     * refused (403). */
    LiveConfig live = live_default_config();
    live.origins = origins;
    live.origin_count = origin_count;
    /* Upgraded sockets count against the connection limit: keep a quarter
     * of it for plain requests. */
    live.max_clients = server.max_connections - server.max_connections / 4;
    if (!live_start(&live))
        return 1;
    struct MHD_Daemon *daemon = http_start(&server, (struct sockaddr *)&addr);
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
    MHD_stop_daemon(daemon);
    fprintf(stderr, "ampd: stopped (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return 0;
}
