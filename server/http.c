/* http.c — the libmicrohttpd daemon, the routing table and the replies.
 *
 * Threading: libmicrohttpd runs its own event loop (poll(); see
 * http_daemon_flags for why not epoll) in a pool of HttpServer.threads
 * threads; each connection
 * belongs to one pool thread, which runs every callback for it, so an
 * HttpRequest is only ever touched by that thread. No thread is spent per
 * connection: an idle or slow client costs a socket and its connection
 * memory, nothing more. A handler must therefore not block; work that does
 * (argon2id, fsync, compiles) suspends the connection with http_suspend
 * and runs on workers.c's pool, which resumes the connection when the reply
 * is ready (the daemon is started with MHD_ALLOW_SUSPEND_RESUME; while
 * suspended, the HttpRequest belongs to the worker holding it). The HttpServer is read-only once the daemon
 * runs.
 *
 * Slow clients: the connection-notify callback bounds all connections (it
 * shuts down any past HttpServer.max_connections), libmicrohttpd's
 * MHD_OPTION_PER_IP_CONNECTION_LIMIT those of one address, and
 * MHD_OPTION_CONNECTION_TIMEOUT idle ones; but a client that sends one byte
 * now and then is never idle, so each connection also has a head deadline:
 * the connection-notify callback registers it (a WatchedConnection), the first
 * access-handler call (the head is complete) takes it off the clock, the
 * completion callback of a kept-alive request puts it back on, and a sweeper
 * thread shuts down the socket of any connection still without a complete
 * head when the deadline passes (libmicrohttpd then closes it in its own
 * thread).
 *
 * Life of a request: the URI log callback (called once, before libmicrohttpd
 * parses or unescapes anything) allocates the HttpRequest and keeps the raw
 * request-target, so we decode it once ourselves and see %00 or %2e%2e as
 * sent. The first access-handler call checks the head (size, framing, Host,
 * the target) and finds the route; every refusal there is ampd's own reply
 * with the one error shape, sent at once without reading the body, and the
 * connection is closed. The following calls collect the body up to
 * HTTP_BODY_MAX (discarding it for GET and HEAD); the last call runs the
 * handler. A route that streams its body (HttpRoute.streams_body) runs its
 * handler at the head instead and hands each piece to its sink as it
 * arrives (stream_piece). The completion callback frees the request
 * whatever happened.
 */
#include "http.h"
#include "live.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

/* ---- the routing table ------------------------------------------------ */

static enum MHD_Result api_not_found(struct MHD_Connection *conn, const HttpRequest *req)
{
    return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
}

/* First matching url wins; its rows give the allowed methods. Static files
 * come last and catch every path that is not an API. A row names
 * streams_body only when it is set (hence the pragma). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const HttpRoute routes[] = {
    {"/api/health", "GET", api_health_get},
    {"/api/health", "HEAD", api_health_get},
    {"/api/storage", "GET", api_storage_get},
    {"/api/account", "GET", api_account_get},
    {"/api/account/signup", "POST", api_account_signup},
    {"/api/account/signin", "POST", api_account_signin},
    {"/api/account/signout", "POST", api_account_signout},
    {"/api/account/password", "POST", api_account_password},
    {"/api/projects", "GET", api_projects_collection},
    {"/api/projects", "POST", api_projects_collection},
    /* Before the rows below: the first matching row wins. */
    {"/api/projects/*/live", "GET", live_upgrade},
    /* {id}, {id}/duplicate, {id}/share, {id}/revisions[/{n}[/restore]]:
     * api_projects.c matches the rest of the path and the method. */
    {"/api/projects/*", "GET", api_projects_item},
    {"/api/projects/*", "PUT", api_projects_item},
    {"/api/projects/*", "PATCH", api_projects_item},
    {"/api/projects/*", "POST", api_projects_item},
    {"/api/projects/*", "DELETE", api_projects_item},
    {"/api/shared/*", "GET", api_shared_get},
    {"/api/compile", "POST", api_compile},
    {"/api/compile/*", "GET", api_compile_module},
    {"/api/patches", "GET", api_patches_collection},
    {"/api/patches", "POST", api_patches_collection},
    /* {id}, {id}/revisions[/{n}]: api_patches.c matches the rest. */
    {"/api/patches/*", "GET", api_patches_item},
    {"/api/patches/*", "PUT", api_patches_item},
    {"/api/patches/*", "PATCH", api_patches_item},
    {"/api/patches/*", "DELETE", api_patches_item},
    /* The built-in library is read-only: other methods are 405. */
    {"/api/library/*", "GET", api_library_get},
    {"/api/library/*", "HEAD", api_library_get},
    /* An upload streams to disk as it arrives (api_assets.c). */
    {"/api/assets", "GET", api_assets_collection},
    {"/api/assets", "POST", api_assets_collection, .streams_body = true},
    {"/api/assets/*", "GET", api_assets_item},
    {"/api/assets/*", "HEAD", api_assets_item},
    {"/api/assets/*", "DELETE", api_assets_item},
    {"/api/*", NULL, api_not_found},
    {"/*", "GET", static_serve},
    {"/*", "HEAD", static_serve},
};
#pragma GCC diagnostic pop
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

static bool url_matches(const char *pattern, const char *path)
{
    const char *star = strchr(pattern, '*');
    if (!star)
        return strcmp(pattern, path) == 0;
    size_t n = (size_t)(star - pattern);
    if (strncmp(pattern, path, n) != 0)
        return false;
    if (star[1] == '\0')
        return true;
    /* One segment, then the rest of the pattern. */
    const char *end = strchr(path + n, '/');
    return end && end > path + n && url_matches(star + 1, end);
}

/* The route for (path, method); NULL when none, *url_found (the matched url, or NULL)
 * telling 405 from 404. */
static const HttpRoute *find_route(const char *path, const char *method, const char **url_found)
{
    *url_found = NULL;
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (!*url_found) {
            if (!url_matches(routes[i].url, path))
                continue;
            *url_found = routes[i].url;
        }
        if (strcmp(routes[i].url, *url_found) != 0)
            continue;
        if (!routes[i].method || strcmp(routes[i].method, method) == 0)
            return &routes[i];
    }
    return NULL;
}

/* "GET, HEAD" for the rows of `url`. */
static void allowed_methods(const char *url, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (strcmp(routes[i].url, url) != 0 || !routes[i].method)
            continue;
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", len ? ", " : "", routes[i].method);
    }
}

/* ---- replies ---------------------------------------------------------- */

void http_add_common_headers(struct MHD_Response *resp)
{
    /* Cross-origin isolation (SharedArrayBuffer for the engine) on every
     * response, errors included, so no document ever lacks it. */
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(resp, "Cross-Origin-Embedder-Policy", "require-corp");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned status,
                           struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO; /* out of memory: libmicrohttpd closes the connection */
    http_add_common_headers(resp);
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static json_t *error_body(const char *code, const char *hint);

/* A JSON response (Content-Type set) that owns its text; steals `body`. */
static struct MHD_Response *json_response(json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return NULL;
    /* jansson allocates with malloc, so libmicrohttpd may free() it. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return resp;
}

struct MHD_Response *http_json_response(json_t *body)
{
    return json_response(body);
}

json_t *http_error_body(const char *code, const char *hint)
{
    return error_body(code, hint);
}

static json_t *error_body(const char *code, const char *hint)
{
    return json_pack("{s:{s:s,s:s}}", "error", "code", code, "hint", hint);
}

enum MHD_Result http_reply_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
    return http_reply(conn, status, json_response(body));
}

/* The one error shape: {"error": {"code": "...", "hint": "..."}}. */
enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status,
                            const char *code, const char *hint)
{
    return http_reply(conn, status, json_response(error_body(code, hint)));
}

/* An error reply after which the connection is closed: the head was
 * malformed or ambiguous, so nothing after it on the connection can be
 * trusted to start a request. */
static enum MHD_Result reply_error_close(struct MHD_Connection *conn, unsigned status,
                                         const char *code, const char *hint)
{
    struct MHD_Response *resp = json_response(error_body(code, hint));
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    return http_reply(conn, status, resp);
}

/* 405 is an error reply that must also say what is allowed. */
static enum MHD_Result reply_method_not_allowed(struct MHD_Connection *conn, const char *url)
{
    char allow[128];
    allowed_methods(url, allow, sizeof allow);
    struct MHD_Response *resp = json_response(
        error_body("method_not_allowed", "this path accepts only the methods listed in Allow"));
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return http_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
}

/* ---- request targets -------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* True when the segment [start, end) is "." or "..". */
static bool is_dot_segment(const char *start, const char *end)
{
    size_t n = (size_t)(end - start);
    return (n == 1 && start[0] == '.') || (n == 2 && start[0] == '.' && start[1] == '.');
}

char *http_decode_path(const char *raw, size_t raw_len, char *out, const char **hint)
{
    const char *query = memchr(raw, '?', raw_len);
    size_t n = query ? (size_t)(query - raw) : raw_len;
    if (n == 0 || raw[0] != '/') {
        *hint = "the path must start with '/'";
        return NULL;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex_value(raw[i + 1]) : -1;
            int lo = i + 2 < n ? hex_value(raw[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *hint = "bad percent-escape in the path";
                return NULL;
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            *hint = "NUL byte in the path";
            return NULL;
        }
        if (c < 0x20 || c == 0x7f) {
            *hint = "control character in the path";
            return NULL;
        }
        if (c == '\\') {
            *hint = "backslash in the path";
            return NULL;
        }
        out[len++] = (char)c;
    }
    out[len] = '\0';
    /* Segments are checked after decoding, so %2e%2e and ..%2f count. */
    const char *seg = out + 1;
    for (const char *p = out + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            if (is_dot_segment(seg, p)) {
                *hint = "'.' and '..' segments are not allowed in the path";
                return NULL;
            }
            if (*p == '\0')
                break;
            seg = p + 1;
        }
    }
    return out;
}

json_t *http_parse_json(const HttpRequest *req, const char **hint)
{
    if (!req->body || req->body_len == 0) {
        *hint = "the request body must be a JSON value";
        return NULL;
    }
    json_error_t err;
    json_t *value = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!value)
        *hint = "the request body is not valid JSON";
    return value;
}

/* ---- the head deadline ------------------------------------------------- */

/* One open connection, from the connection-notify callback's STARTED to its
 * CLOSED. Threading: inserted, taken off and put back on the clock, and
 * removed by the connection's pool thread; read by the sweeper. The links
 * and every field are guarded by HttpDaemon.lock. */
typedef struct WatchedConnection {
    struct WatchedConnection *prev, *next;
    int fd;                /* the socket; libmicrohttpd closes it only after CLOSED */
    bool head_pending;     /* on the clock: the current request head is not complete */
    bool shut;             /* the sweeper has shut the socket down */
    struct timespec since; /* when the clock started: accept, or the last reply */
} WatchedConnection;

struct HttpDaemon {
    struct MHD_Daemon *mhd;
    const HttpServer *server;
    pthread_mutex_t lock;        /* guards everything below */
    pthread_cond_t wake;         /* signalled when `stopping` is set */
    unsigned open_connections;   /* counted here: libmicrohttpd counts per pool thread */
    bool stopping;
    bool sweeper_started;
    pthread_t sweeper;
    WatchedConnection *watched;  /* every open connection */
};

static struct timespec monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

static int64_t elapsed_ms(struct timespec from, struct timespec to)
{
    return (int64_t)(to.tv_sec - from.tv_sec) * 1000 + (to.tv_nsec - from.tv_nsec) / 1000000;
}

/* The WatchedConnection of `conn`, or NULL (its allocation failed). */
static WatchedConnection *watched_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* Start (pending = true) or stop the head clock of `conn`. */
static void set_head_pending(HttpDaemon *d, struct MHD_Connection *conn, bool pending)
{
    WatchedConnection *w = watched_of(conn);
    if (!w)
        return;
    pthread_mutex_lock(&d->lock);
    w->head_pending = pending;
    if (pending)
        w->since = monotonic_now();
    pthread_mutex_unlock(&d->lock);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    HttpDaemon *d = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        WatchedConnection *w = info ? calloc(1, sizeof *w) : NULL;
        *socket_context = w;
        if (!w)
            return; /* unwatched: only the idle timeout applies to it */
        w->fd = info->connect_fd;
        w->head_pending = true;
        w->since = monotonic_now();
        pthread_mutex_lock(&d->lock);
        /* Past the limit: shut down at once, never answered, so a client
         * is turned away rather than left waiting in the listen queue. */
        if (++d->open_connections > d->server->max_connections) {
            shutdown(w->fd, SHUT_RDWR);
            w->shut = true;
        }
        w->next = d->watched;
        if (d->watched)
            d->watched->prev = w;
        d->watched = w;
        pthread_mutex_unlock(&d->lock);
        return;
    }
    WatchedConnection *w = *socket_context;
    if (!w)
        return;
    /* Unlinked under the lock, so the sweeper never shuts a socket down
     * after libmicrohttpd has closed it (and the number is reused). */
    pthread_mutex_lock(&d->lock);
    d->open_connections--;
    if (w->prev)
        w->prev->next = w->next;
    else
        d->watched = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&d->lock);
    free(w);
    *socket_context = NULL;
}

/* The sweeper thread: every quarter of the deadline (at most a second),
 * shut down the sockets whose head is overdue. shutdown() wakes the
 * connection's pool thread, which reads EOF and closes the connection
 * itself; we never close a descriptor libmicrohttpd owns. */
static void *sweep(void *arg)
{
    HttpDaemon *d = arg;
    int64_t deadline_ms = (int64_t)d->server->head_deadline_seconds * 1000;
    int64_t period_ms = deadline_ms / 4 < 1000 ? deadline_ms / 4 : 1000;
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        struct timespec now = monotonic_now();
        for (WatchedConnection *w = d->watched; w; w = w->next) {
            if (w->head_pending && !w->shut && elapsed_ms(w->since, now) >= deadline_ms) {
                shutdown(w->fd, SHUT_RDWR);
                w->shut = true;
            }
        }
        struct timespec until = now;
        until.tv_nsec += (long)(period_ms % 1000) * 1000000;
        until.tv_sec += period_ms / 1000 + until.tv_nsec / 1000000000;
        until.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&d->wake, &d->lock, &until);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* ---- libmicrohttpd callbacks ------------------------------------------ */

/* Called once per request with the raw request-target, before any parsing:
 * the returned HttpRequest arrives as *req_cls in the access handler and is
 * freed by request_completed. */
static void *request_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
    HttpDaemon *d = cls;
    HttpRequest *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->server = d->server;
    req->raw_uri_at = uri;
    req->raw_uri_len = strlen(uri);
    /* Keep no more than we will look at; a longer target is answered 414. */
    size_t keep = req->raw_uri_len > HTTP_URI_MAX ? 0 : req->raw_uri_len;
    req->raw_uri = malloc(keep + 1);
    if (req->raw_uri) {
        memcpy(req->raw_uri, uri, keep);
        req->raw_uri[keep] = '\0';
    }
    return req;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                              enum MHD_RequestTerminationCode toe)
{
    HttpDaemon *d = cls;
    /* A kept-alive connection waits for its next head: back on the clock. */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        set_head_pending(d, conn, true);
    HttpRequest *req = *req_cls;
    if (!req)
        return;
    if (req->deferred_free)
        req->deferred_free(req->deferred);
    free(req->raw_uri);
    free(req->path);
    free(req->body);
    free(req);
    *req_cls = NULL;
}

/* The header fields that decide framing, counted in one pass. */
typedef struct HeadFields {
    unsigned hosts;
    unsigned content_lengths;
    unsigned transfer_encodings;
    const char *transfer_encoding; /* the last one seen */
    bool bad_name;                 /* a field name that is empty or holds whitespace */
} HeadFields;

static enum MHD_Result count_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    HeadFields *f = cls;
    if (!key[0] || strpbrk(key, " \t"))
        f->bad_name = true;
    else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
        f->hosts++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        f->content_lengths++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encodings++;
        f->transfer_encoding = value ? value : "";
    }
    return MHD_YES;
}

/* The hint for a head whose framing or Host is ambiguous, or NULL. Each
 * case is one a proxy in front of us could read differently (request
 * smuggling), so it is refused rather than guessed (RFC 9112 6.1, 6.3). */
static const char *framing_problem(struct MHD_Connection *conn, const char *version,
                                   const char **code)
{
    HeadFields f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_field, &f);
    bool http10 = strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
    *code = "bad_header";
    if (f.bad_name)
        return "a header field name is empty or holds whitespace";
    *code = "bad_host";
    if (f.hosts > 1)
        return "more than one Host header";
    if (f.hosts == 0 && !http10)
        return "an HTTP/1.1 request must carry a Host header";
    *code = "bad_framing";
    if (f.content_lengths > 1)
        return "more than one Content-Length header";
    if (f.transfer_encodings == 0)
        return NULL;
    if (f.content_lengths > 0)
        return "both Content-Length and Transfer-Encoding";
    if (http10)
        return "Transfer-Encoding in an HTTP/1.0 request";
    if (f.transfer_encodings > 1 || strcasecmp(f.transfer_encoding, "chunked") != 0)
        return "the only Transfer-Encoding accepted is a single \"chunked\"";
    return NULL;
}

/* The request-target as libmicrohttpd split it from the request line ends
 * right before `version` (the space there became its terminator); when
 * strlen() saw less, the target held a raw NUL byte that cut it short. */
static bool target_has_nul(const HttpRequest *req, const char *version)
{
    uintptr_t at = (uintptr_t)req->raw_uri_at, end = (uintptr_t)version;
    return end <= at || end - at - 1 != req->raw_uri_len;
}

/* Checks of the request head as a whole: size, target bytes, framing and
 * Host. The connection is closed after any of these refusals. */
static bool refuse_head(struct MHD_Connection *conn, HttpRequest *req, const char *version,
                        enum MHD_Result *ret)
{
    if (req->raw_uri_len > HTTP_URI_MAX) {
        *ret = reply_error_close(conn, MHD_HTTP_URI_TOO_LONG, "uri_too_long",
                                 "the request-target is longer than the server accepts");
        return true;
    }
    const union MHD_ConnectionInfo *size =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (size && size->header_size > HTTP_HEAD_MAX) {
        *ret = reply_error_close(conn, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                                 "header_too_large",
                                 "the request head is larger than the server accepts");
        return true;
    }
    if (!req->raw_uri) {
        *ret = MHD_NO;
        return true;
    }
    if (target_has_nul(req, version)) {
        *ret = reply_error_close(conn, MHD_HTTP_BAD_REQUEST, "bad_target",
                                 "NUL byte in the request-target");
        return true;
    }
    for (const char *p = req->raw_uri; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f) {
            *ret = reply_error_close(conn, MHD_HTTP_BAD_REQUEST, "bad_target",
                                     "space or control character in the request-target");
            return true;
        }
    }
    const char *code, *hint = framing_problem(conn, version, &code);
    if (hint) {
        *ret = reply_error_close(conn, MHD_HTTP_BAD_REQUEST, code, hint);
        return true;
    }
    return false;
}

/* Checks that need the path: decoding, the route, the declared body size.
 * Returns true when a reply (an error) was queued into *ret. */
static bool refuse_early(struct MHD_Connection *conn, HttpRequest *req, enum MHD_Result *ret)
{
    if (!(req->path = malloc(req->raw_uri_len + 1))) {
        *ret = MHD_NO;
        return true;
    }
    const char *hint = NULL;
    if (!http_decode_path(req->raw_uri, req->raw_uri_len, req->path, &hint)) {
        free(req->path);
        req->path = NULL;
        *ret = reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_path", hint);
        return true;
    }
    const char *url_found;
    req->route = find_route(req->path, req->method, &url_found);
    if (!req->route) {
        *ret = url_found ? reply_method_not_allowed(conn, url_found)
                         : reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no route");
        return true;
    }
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    /* A streamed body has its handler's own cap, checked by the handler. */
    if (!req->route->streams_body && length && strtoull(length, NULL, 10) > HTTP_BODY_MAX) {
        *ret = reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                           "the request body is larger than the server accepts");
        return true;
    }
    return false;
}

/* Take one chunk of the body; false when the cap is passed. That only
 * happens to chunked uploads (a declared Content-Length over the cap was
 * refused on the first call), and since libmicrohttpd 0.9.75 cannot queue a
 * reply in mid-upload, the caller then closes the connection. GET and HEAD
 * take no body: theirs is counted against the cap and dropped. */
static bool take_body(HttpRequest *req, const char *data, size_t size)
{
    if (!req->keeps_body) {
        if (size > HTTP_BODY_MAX - req->body_discarded)
            return false;
        req->body_discarded += size;
        return true;
    }
    if (size > HTTP_BODY_MAX - req->body_len)
        return false;
    char *grown = realloc(req->body, req->body_len + size + 1);
    if (!grown)
        return false;
    memcpy(grown + req->body_len, data, size);
    req->body = grown;
    req->body_len += size;
    req->body[req->body_len] = '\0';
    return true;
}

void http_stream_body(const HttpRequest *req, const HttpBodySink *sink, void *state)
{
    HttpRequest *own = (HttpRequest *)req; /* ours, as in http_suspend */
    own->sink = sink;
    own->sink_state = state;
}

static bool connection_suspended(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_SUSPENDED);
    return info && info->suspended == MHD_YES;
}

/* One piece of a streamed body for the sink: how much of it was taken (the
 * rest comes again), or false to close the connection.
 *
 * Two rules keep a streamed body from stalling. libmicrohttpd 0.9.75
 * (connection.c, process_request_body) offers bytes left in its read
 * buffer again only when its pool thread next processes the connection:
 * after a resume, or, for a connection that is not suspended, when the
 * socket is readable again or something else wakes that thread's poll().
 * The client may have sent everything, so a connection left with bytes and
 * not suspended waits for the idle timeout or for another connection's
 * traffic (uploads stalled 10 to 30 s in the browser). So:
 *   - while the connection is suspended (the sink's work on the last piece
 *     still runs, or its resume is not yet processed), the sink is not
 *     called: libmicrohttpd's instant retry of a chunked body calls the
 *     access handler again in the same pass, suspended or not. Nothing is
 *     taken; the bytes are offered again once the connection is resumed.
 *   - a sink that takes fewer bytes than offered must leave the connection
 *     suspended; one that does not has broken that rule and would stall
 *     the upload, so the connection is closed instead. */
static bool stream_piece(HttpRequest *req, struct MHD_Connection *conn, const char *data, size_t size,
                         size_t *taken)
{
    *taken = 0;
    if (!req->sink_refused && connection_suspended(conn))
        return true;
    if (!req->sink_refused) {
        long n = req->sink->piece(conn, req->sink_state, data, size);
        if (n >= 0) {
            *taken = (size_t)n < size ? (size_t)n : size;
            if (*taken < size && !connection_suspended(conn)) {
                fprintf(stderr, "ampd: %s %s: the body's sink left %zu bytes without suspending\n", req->method,
                        req->path, size - *taken);
                return false;
            }
            return true;
        }
        req->sink_refused = true;
    }
    /* Refused: drop what follows, up to a bound, to answer at the end. */
    if (size > HTTP_STREAM_DISCARD_MAX - req->body_discarded)
        return false;
    req->body_discarded += size;
    *taken = size;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    HttpRequest *req = *req_cls;
    if (!req)
        return MHD_NO; /* request_begin ran out of memory */
    if (req->resume) {
        HttpResume resume = req->resume; /* the work of a suspended call is done */
        req->resume = NULL;
        enum MHD_Result ret = resume(conn, req->deferred);
        /* At a streamed body's head: unless it started the stream (or
         * suspended again), the resumed work replied. */
        if (!req->sink && !req->resume)
            req->replied = true;
        return ret;
    }
    if (req->replied) {
        *upload_data_size = 0; /* discard the rest of a refused body */
        return MHD_YES;
    }
    if (!req->started) {
        /* The head is complete: off the deadline clock. */
        set_head_pending(cls, conn, false);
        req->started = true;
        req->method = method;
        req->keeps_body = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
        req->version = version;
        enum MHD_Result ret;
        if (refuse_head(conn, req, version, &ret) || refuse_early(conn, req, &ret)) {
            req->replied = true;
            return ret;
        }
        if (!req->route->streams_body)
            return MHD_YES;
        /* At the head: the handler replies, suspends, or starts the stream. */
        ret = req->route->handler(conn, req);
        if (!req->sink && !req->resume)
            req->replied = true;
        return ret;
    }
    if (req->sink) {
        if (*upload_data_size != 0) {
            size_t taken;
            if (!stream_piece(req, conn, upload_data, *upload_data_size, &taken))
                return MHD_NO; /* close: refused, and far too much followed */
            *upload_data_size -= taken;
            return MHD_YES;
        }
        req->replied = true;
        return req->sink->end(conn, req, req->sink_state);
    }
    if (*upload_data_size != 0) {
        if (!take_body(req, upload_data, *upload_data_size))
            return MHD_NO; /* close: too large, or out of memory */
        *upload_data_size = 0;
        return MHD_YES;
    }
    req->replied = true;
    return req->route->handler(conn, req);
}

enum MHD_Result http_suspend(struct MHD_Connection *conn, const HttpRequest *req, HttpResume resume,
                             void *state, void (*free_state)(void *state))
{
    /* The request is ours (request_begin made it); handlers see it const. */
    HttpRequest *own = (HttpRequest *)req;
    own->resume = resume;
    own->deferred = state;
    own->deferred_free = free_state;
    MHD_suspend_connection(conn);
    return MHD_YES;
}

static void log_message(void *cls, const char *fmt, va_list ap)
{
    const HttpServer *server = cls;
    if (!server->verbose)
        return;
    fputs("ampd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

unsigned http_daemon_flags(int family)
{
    /* MHD_ALLOW_UPGRADE: live.c takes WebSocket sockets over. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
    /* poll(), not epoll: libmicrohttpd 0.9.75's edge-triggered epoll loop
     * misses a FIN that arrives together with the last bytes of a head (a
     * short read clears its read-ready flag and no new edge comes), so a
     * client that sends half a head and closes would hold its slot until a
     * timeout. Level-triggered poll() sees the EOF at once; each pool
     * thread polls only its own share of the connections. */
    if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return flags;
}

static void free_daemon(HttpDaemon *d)
{
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

HttpDaemon *http_start(const HttpServer *server, const struct sockaddr *addr)
{
    HttpDaemon *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->server = server;
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&d->wake, &attr);
    pthread_condattr_destroy(&attr);

    /* The port argument is ignored when MHD_OPTION_SOCK_ADDR is given.
     * STRICT_FOR_CLIENT 0: libmicrohttpd's strict mode only adds the Host
     * and space-in-target checks, which refuse_head makes itself so that
     * the reply is ours. */
    d->mhd = MHD_start_daemon(
        http_daemon_flags(addr->sa_family), 0, NULL, NULL, on_request, d,
        /* First, so that libmicrohttpd's messages about later options
         * also go through it. */
        MHD_OPTION_EXTERNAL_LOGGER, log_message, (void *)server,
        MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_THREAD_POOL_SIZE, server->threads,
        /* Twice ours: libmicrohttpd splits its limit evenly over the pool
         * threads and, when one thread's share is full, stops accepting on
         * it; on_connection enforces the real, process-wide limit. */
        MHD_OPTION_CONNECTION_LIMIT, 2 * server->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, server->max_per_address,
        MHD_OPTION_CONNECTION_TIMEOUT, server->timeout_seconds,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, server->connection_memory,
        MHD_OPTION_STRICT_FOR_CLIENT, (int)0,
        MHD_OPTION_URI_LOG_CALLBACK, request_begin, (void *)d,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, (void *)d,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, (void *)d,
        MHD_OPTION_END);
    if (!d->mhd) {
        free_daemon(d);
        return NULL;
    }
    if (server->head_deadline_seconds > 0) {
        if (pthread_create(&d->sweeper, NULL, sweep, d) != 0) {
            fprintf(stderr, "ampd: cannot start the head-deadline thread\n");
            MHD_stop_daemon(d->mhd);
            free_daemon(d);
            return NULL;
        }
        d->sweeper_started = true;
    }
    return d;
}

unsigned http_bound_port(const HttpDaemon *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void http_stop(HttpDaemon *d)
{
    if (d->sweeper_started) {
        pthread_mutex_lock(&d->lock);
        d->stopping = true;
        pthread_cond_signal(&d->wake);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->sweeper, NULL);
    }
    /* Closes every connection; each CLOSED notification unlinks its
     * WatchedConnection. */
    MHD_stop_daemon(d->mhd);
    free_daemon(d);
}

/* Weak comparison (RFC 9110 13.1.2): a list of entity tags or "*". */
bool http_etag_listed(const char *if_none_match, const char *etag)
{
    size_t etag_len = strlen(etag);
    const char *p = if_none_match;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end - start == 1 && *start == '*')
            return true;
        if (end - start > 2 && start[0] == 'W' && start[1] == '/')
            start += 2;
        if ((size_t)(end - start) == etag_len && memcmp(start, etag, etag_len) == 0)
            return true;
    }
    return false;
}
