/* http.c — the libmicrohttpd daemon, the routing table and the replies.
 *
 * Threading: libmicrohttpd runs one listening thread and one thread per
 * connection (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
 * with poll() so descriptor numbers are not limited by FD_SETSIZE). We chose
 * it over epoll with a thread pool because later handlers (sqlite, compile,
 * render) may block, and a blocked handler must only hold up its own
 * connection. The number of threads is bounded by MHD_OPTION_CONNECTION_LIMIT,
 * slow or idle clients are dropped by MHD_OPTION_CONNECTION_TIMEOUT, and the
 * request head is bounded by MHD_OPTION_CONNECTION_MEMORY_LIMIT (libmicrohttpd
 * answers longer heads itself with 414/431). The HttpServer is read-only once
 * the daemon runs; each HttpRequest belongs to its connection's thread.
 *
 * Life of a request: the URI log callback (called once, before libmicrohttpd
 * parses or unescapes anything) allocates the HttpRequest and keeps the raw
 * request-target, so we decode it once ourselves and see %00 or %2e%2e as
 * sent. The first access-handler call checks the target and finds the route
 * (errors are answered at once, without reading the body); the following
 * calls collect the body up to HTTP_BODY_MAX; the last call runs the handler.
 * The completion callback frees the request whatever happened.
 */
#include "http.h"
#include "live.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---- the routing table ------------------------------------------------ */

static enum MHD_Result api_not_found(struct MHD_Connection *conn, const HttpRequest *req)
{
    return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
}

/* First matching url wins; its rows give the allowed methods. Static files
 * come last and catch every path that is not an API. */
static const HttpRoute routes[] = {
    {"/api/health", "GET", api_health_get},
    {"/api/health", "HEAD", api_health_get},
    {"/api/projects/*/live", "GET", live_upgrade},
    {"/api/*", NULL, api_not_found},
    {"/*", "GET", static_serve},
    {"/*", "HEAD", static_serve},
};
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

/* ---- libmicrohttpd callbacks ------------------------------------------ */

/* Called once per request with the raw request-target, before any parsing:
 * the returned HttpRequest arrives as *req_cls in the access handler and is
 * freed by request_completed. */
static void *request_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
    HttpRequest *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->server = cls;
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
    HttpRequest *req = *req_cls;
    if (!req)
        return;
    free(req->raw_uri);
    free(req->path);
    free(req->body);
    free(req);
    *req_cls = NULL;
}

/* Checks that need only the request line and headers. Returns true when a
 * reply (an error) was queued into *ret. */
static bool refuse_early(struct MHD_Connection *conn, HttpRequest *req, enum MHD_Result *ret)
{
    if (req->raw_uri_len > HTTP_URI_MAX) {
        *ret = reply_error(conn, MHD_HTTP_URI_TOO_LONG, "uri_too_long",
                           "the request-target is longer than the server accepts");
        return true;
    }
    if (!req->raw_uri || !(req->path = malloc(req->raw_uri_len + 1))) {
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
    if (length && strtoull(length, NULL, 10) > HTTP_BODY_MAX) {
        *ret = reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                           "the request body is larger than the server accepts");
        return true;
    }
    return false;
}

/* Append one chunk of the body; false when the cap is passed. That only
 * happens to chunked uploads (a declared Content-Length over the cap was
 * refused on the first call), and since libmicrohttpd 0.9.75 cannot queue a
 * reply in mid-upload, the caller then closes the connection. */
static bool append_body(HttpRequest *req, const char *data, size_t size)
{
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    HttpRequest *req = *req_cls;
    if (!req)
        return MHD_NO; /* request_begin ran out of memory */
    if (req->replied) {
        *upload_data_size = 0; /* discard the rest of a refused body */
        return MHD_YES;
    }
    if (!req->started) {
        req->started = true;
        req->method = method;
        req->version = version;
        enum MHD_Result ret;
        if (refuse_early(conn, req, &ret)) {
            req->replied = true;
            return ret;
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (!append_body(req, upload_data, *upload_data_size))
            return MHD_NO; /* close: too large, or out of memory */
        *upload_data_size = 0;
        return MHD_YES;
    }
    req->replied = true;
    return req->route->handler(conn, req);
}

static void log_message(void *cls, const char *fmt, va_list ap)
{
    const HttpServer *server = cls;
    if (!server->verbose)
        return;
    fputs("ampd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

struct MHD_Daemon *http_start(const HttpServer *server, const struct sockaddr *addr)
{
    /* MHD_ALLOW_UPGRADE: live.c takes WebSocket sockets over. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
    if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL;
    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The port argument is ignored when MHD_OPTION_SOCK_ADDR is given. */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, (void *)server,
        /* First, so that libmicrohttpd's messages about later options
         * also go through it. */
        MHD_OPTION_EXTERNAL_LOGGER, log_message, (void *)server,
        MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_CONNECTION_LIMIT, server->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, server->timeout_seconds,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, server->connection_memory,
        MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
        MHD_OPTION_URI_LOG_CALLBACK, request_begin, (void *)server,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, (void *)server,
        MHD_OPTION_END);
}

unsigned http_bound_port(struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}
