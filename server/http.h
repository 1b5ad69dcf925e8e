/* http.h — the HTTP layer of ampd: per-request state, the routing table's
 * handler type, the reply helpers and the one error shape.
 *
 * http.c owns the libmicrohttpd daemon: it creates a HttpRequest when the
 * request line arrives, decodes and checks the path, finds the route, reads a
 * size-capped body, calls the handler once, and frees the request in the
 * completion callback. Each endpoint group lives in its own file (static.c,
 * api_health.c, ...) and only calls the http_reply_* helpers below, so every
 * response carries the same cross-origin isolation headers.
 */
#ifndef AMPD_HTTP_H
#define AMPD_HTTP_H

#include <microhttpd.h>
#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>

#define AMPD_VERSION "0.1.0"

/* Longest request-target we handle (path and query, still percent-encoded);
 * longer ones get 414. libmicrohttpd refuses anything beyond the connection
 * memory limit before we see it. */
#define HTTP_URI_MAX 2048
/* Largest request body read into memory; larger ones get 413. */
#define HTTP_BODY_MAX (1u << 20)

/* Server-wide settings shared read-only by every request. */
typedef struct HttpServer {
    char root[4096];       /* realpath of the directory served by static.c */
    size_t root_len;
    unsigned max_connections;
    unsigned timeout_seconds; /* idle connections are closed after this */
    size_t connection_memory; /* per-connection buffer for the request head */
    bool verbose;             /* libmicrohttpd's own messages on stderr */
} HttpServer;

/* One request, from the request line to the completion callback. */
typedef struct HttpRequest {
    const HttpServer *server;
    char *raw_uri;            /* request-target as received, NUL-terminated */
    size_t raw_uri_len;       /* its length, even when longer than HTTP_URI_MAX */
    char *path;               /* percent-decoded path, no query; NULL if bad */
    const char *method;
    const char *version;      /* "HTTP/1.1" (a WebSocket upgrade needs it) */
    const struct HttpRoute *route;
    char *body;               /* NUL-terminated, body_len bytes */
    size_t body_len;
    bool started;             /* the first access-handler call is done */
    bool replied;             /* a response was queued (handler ran or refused) */
} HttpRequest;

typedef enum MHD_Result (*HttpHandler)(struct MHD_Connection *conn,
                                       const HttpRequest *req);

/* One row of the routing table. `url` ending in '*' matches that prefix,
 * a '*' before a '/' one non-empty segment; `method` NULL matches every
 * method. */
typedef struct HttpRoute {
    const char *url;
    const char *method;
    HttpHandler handler;
} HttpRoute;

/* Start the daemon on `addr` (port 0 picks a free one); NULL on failure with
 * a message on stderr. http_bound_port reports the port actually bound. */
struct sockaddr;
struct MHD_Daemon *http_start(const HttpServer *server, const struct sockaddr *addr);
unsigned http_bound_port(struct MHD_Daemon *daemon);

/* Reply helpers. Each adds the isolation headers, queues and releases the
 * response; the result is what the access handler returns. */
void http_add_common_headers(struct MHD_Response *resp);
enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned status,
                           struct MHD_Response *resp);
enum MHD_Result http_reply_json(struct MHD_Connection *conn, unsigned status,
                                json_t *body); /* steals `body` */
enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status,
                            const char *code, const char *hint);

/* Percent-decode the path of a raw request-target (up to '?') into `out`,
 * exactly once. Refuses (returns NULL and sets *hint) a path that does not
 * start with '/', holds a bad escape, a NUL, a control byte, a backslash, or
 * a "." or ".." segment. `out` must hold raw_len + 1 bytes. */
char *http_decode_path(const char *raw, size_t raw_len, char *out, const char **hint);

/* Parse a request body as one JSON value (the body is already size-capped).
 * NULL with *hint set when it is not valid JSON. */
json_t *http_parse_json(const HttpRequest *req, const char **hint);

/* ---- endpoint groups -------------------------------------------------- */

/* static.c: files under server->root; GET and HEAD. */
enum MHD_Result static_serve(struct MHD_Connection *conn, const HttpRequest *req);
const char *static_mime_type(const char *path);
bool static_is_hashed_asset(const char *path);

/* api_health.c: GET /api/health. */
enum MHD_Result api_health_get(struct MHD_Connection *conn, const HttpRequest *req);

#endif
