/* http.h — the HTTP layer of ampd: per-request state, the routing table's
 * handler type, the reply helpers and the one error shape.
 *
 * http.c owns the libmicrohttpd daemon: it creates a HttpRequest when the
 * request line arrives, checks the head (framing, Host, size) and the path,
 * finds the route, reads a size-capped body (or hands it piece by piece to
 * a route that streams it, HttpBodySink), calls the handler once, and
 * frees the request in the completion callback. server/README.md describes
 * the options, the threading model and the limits. Each endpoint group lives in its own file (static.c,
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
 * longer ones get 414. */
#define HTTP_URI_MAX 2048
/* Largest request head (request line and header fields) we handle; larger
 * ones get 431. Both limits sit well below the library's own (the
 * connection memory, HTTP_CONNECTION_MEMORY), so that it is ampd that
 * answers, with the one error shape; only heads beyond the connection
 * memory are refused by libmicrohttpd itself (server/README.md). */
#define HTTP_HEAD_MAX (16u << 10)
#define HTTP_CONNECTION_MEMORY (128u << 10)
/* Largest request body read into memory; larger ones get 413. GET and HEAD
 * bodies count against it too, but are discarded, never stored. */
#define HTTP_BODY_MAX (1u << 20)
/* A streamed body (HttpRoute.streams_body) refused mid-way by its sink:
 * this much more of it is read and dropped so that the refusal can still be
 * answered once the body ends; past it the connection is closed. */
#define HTTP_STREAM_DISCARD_MAX (16u << 20)

/* Server-wide settings shared read-only by every request. */
typedef struct HttpServer {
    char root[4096];       /* realpath of the directory served by static.c */
    size_t root_len;
    int root_fd;           /* that directory, opened O_PATH: files resolve beneath it */
    unsigned max_connections;
    unsigned max_per_address; /* connections from one client address; 0: no limit */
    unsigned head_deadline_seconds; /* a request head must be complete within this */
    unsigned threads;         /* event-loop threads (libmicrohttpd's thread pool) */
    unsigned timeout_seconds; /* idle connections are closed after this */
    size_t connection_memory; /* per-connection buffer for the request head */
    bool verbose;             /* libmicrohttpd's own messages on stderr */
} HttpServer;

/* Called when a connection suspended by http_suspend is resumed; it
 * queues the reply. */
typedef enum MHD_Result (*HttpResume)(struct MHD_Connection *conn, void *state);

/* One request, from the request line to the completion callback. */
typedef struct HttpRequest {
    const HttpServer *server;
    char *raw_uri;            /* request-target as received, NUL-terminated */
    const char *raw_uri_at;   /* where libmicrohttpd had it (only for the NUL check) */
    size_t raw_uri_len;       /* its length, even when longer than HTTP_URI_MAX */
    char *path;               /* percent-decoded path, no query; NULL if bad */
    const char *method;
    const char *version;      /* "HTTP/1.1" (a WebSocket upgrade needs it) */
    const struct HttpRoute *route;
    char *body;               /* NUL-terminated, body_len bytes */
    size_t body_len;
    size_t body_discarded;    /* body bytes of a GET or HEAD: counted, never stored */
    bool keeps_body;          /* the method takes a body (not GET or HEAD) */
    bool started;             /* the first access-handler call is done */
    bool replied;             /* a response was queued (handler ran or refused) */
    HttpResume resume;        /* set by http_suspend: replies once resumed */
    void *deferred;           /* its state, freed by deferred_free on completion */
    void (*deferred_free)(void *state);
    /* A streamed body (HttpRoute.streams_body): where its pieces go, set
     * by http_stream_body; the state is owned by whoever set it. */
    const struct HttpBodySink *sink;
    void *sink_state;
    bool sink_refused;        /* the sink refused a piece: the rest is dropped */
} HttpRequest;

typedef enum MHD_Result (*HttpHandler)(struct MHD_Connection *conn,
                                       const HttpRequest *req);

/* One row of the routing table. `url` ending in '*' matches that prefix,
 * a '*' before a '/' one non-empty segment; `method` NULL matches every
 * method.
 *
 * `streams_body`: the body is not buffered (nor capped at HTTP_BODY_MAX)
 * and the handler runs at the head, before any of it is read. It then
 * replies (a refusal: the body is never read and the connection closed),
 * or calls http_stream_body (at once, or from the resume callback of an
 * http_suspend), after which every piece of the body goes to the sink as it
 * arrives, and the sink's `end` replies once the body is complete. */
typedef struct HttpRoute {
    const char *url;
    const char *method;
    HttpHandler handler;
    bool streams_body;
} HttpRoute;

/* Where a streamed body goes. Both callbacks run on the event loop.
 *
 * piece: `size` (> 0) more bytes of the body, in order. Returns how many it
 * took (0..size), or -1 to refuse the rest: up to HTTP_STREAM_DISCARD_MAX
 * more bytes are then read and dropped and `end` still runs (past that the
 * connection is closed, since libmicrohttpd 0.9.75 cannot queue a reply in
 * mid-upload). A sink that takes fewer bytes than offered must leave the
 * connection suspended (MHD_suspend_connection); once resumed, the bytes
 * not taken are offered again, first. One that does not is a bug that
 * would stall the upload (libmicrohttpd offers them again only when more
 * arrive): http.c closes the connection instead. Best take every piece
 * whole, then suspend if its work must run elsewhere. `piece` is never
 * called while the connection is suspended. Nothing may keep `data` after
 * returning: libmicrohttpd moves its buffer.
 *
 * end: the body is complete (or was refused); queue the reply, or
 * http_suspend and reply once resumed. */
typedef struct HttpBodySink {
    long (*piece)(struct MHD_Connection *conn, void *state, const char *data, size_t size);
    enum MHD_Result (*end)(struct MHD_Connection *conn, const HttpRequest *req, void *state);
} HttpBodySink;

/* The running server: the libmicrohttpd daemon and the head-deadline
 * sweeper (http.c). */
typedef struct HttpDaemon HttpDaemon;

/* Start the daemon on `addr` (port 0 picks a free one); NULL on failure with
 * a message on stderr. http_bound_port reports the port actually bound;
 * http_stop closes every connection and frees the daemon. */
struct sockaddr;
HttpDaemon *http_start(const HttpServer *server, const struct sockaddr *addr);
unsigned http_bound_port(const HttpDaemon *daemon);
void http_stop(HttpDaemon *daemon);

/* The libmicrohttpd flags ampd runs with for an address family: an internal
 * event loop (epoll where supported) served by a thread pool, with
 * MHD_ALLOW_SUSPEND_RESUME so that handlers may suspend a connection and
 * resume it from a worker thread. Exposed for the test suite, which checks
 * suspend and resume under exactly these flags. */
unsigned http_daemon_flags(int family);

/* Reply helpers. Each adds the isolation headers, queues and releases the
 * response; the result is what the access handler returns. */
void http_add_common_headers(struct MHD_Response *resp);
enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned status,
                           struct MHD_Response *resp);
enum MHD_Result http_reply_json(struct MHD_Connection *conn, unsigned status,
                                json_t *body); /* steals `body` */
enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status,
                            const char *code, const char *hint);

/* The JSON response behind http_reply_json (Content-Type, no-store), for a
 * reply that needs more headers; steals `body`. NULL when out of memory. */
struct MHD_Response *http_json_response(json_t *body);
/* The body of the one error shape: {"error": {"code": ..., "hint": ...}};
 * a caller may add fields inside "error" (412 adds the current revision). */
json_t *http_error_body(const char *code, const char *hint);

/* Suspend the connection of `req` (MHD_suspend_connection) so that slow
 * work runs elsewhere (api.c hands it to workers.c). Whoever finishes the
 * work calls MHD_resume_connection; libmicrohttpd then calls the access
 * handler again, which calls resume(conn, state) to queue the reply. The
 * state is freed with free_state in the completion callback, whatever
 * happened. Returns what the handler returns. */
enum MHD_Result http_suspend(struct MHD_Connection *conn, const HttpRequest *req, HttpResume resume,
                             void *state, void (*free_state)(void *state));

/* From a streams_body route's handler (or the resume callback of its
 * http_suspend): read the body into `sink`, with `state` (which the caller
 * owns and frees, e.g. with the state of its http_suspend). */
void http_stream_body(const HttpRequest *req, const HttpBodySink *sink, void *state);

/* Whether an If-None-Match value lists `etag` (quoted, as sent in ETag),
 * by weak comparison (RFC 9110 13.1.2), or is "*". For static.c's files and
 * api_assets.c's audio. */
bool http_etag_listed(const char *if_none_match, const char *etag);

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
/* Open `path` ('/'-separated, leading '/' ignored) beneath the directory
 * `dirfd` following no symlink on any component and never leaving `dirfd`:
 * openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has
 * it, else static_open_walk. `flags` as for open(); -1 with errno set:
 * ELOOP for a symlink, EXDEV for a ".." that would leave `dirfd` (the walk
 * refuses every "." and ".." component with EXDEV). */
int static_open_beneath(int dirfd, const char *path, int flags);
/* The same, one component at a time with openat(O_NOFOLLOW). */
int static_open_walk(int dirfd, const char *path, int flags);
const char *static_mime_type(const char *path);
bool static_is_hashed_asset(const char *path);

/* api_health.c: GET /api/health. */
enum MHD_Result api_health_get(struct MHD_Connection *conn, const HttpRequest *req);

/* api_accounts.c: /api/account/... (sign up, sign in, sign out, password)
 * and GET /api/storage (what the database runs with). */
enum MHD_Result api_account_get(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_account_signup(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_account_signin(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_account_signout(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_account_password(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_storage_get(struct MHD_Connection *conn, const HttpRequest *req);

/* api_projects.c: /api/projects, /api/projects/{id}/..., /api/shared/{token}. */
enum MHD_Result api_projects_collection(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_projects_item(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_shared_get(struct MHD_Connection *conn, const HttpRequest *req);

/* api_patches.c: /api/patches, /api/patches/{id}/..., /api/library/{path}. */
enum MHD_Result api_patches_collection(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_patches_item(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_library_get(struct MHD_Connection *conn, const HttpRequest *req);
/* api_assets.c: /api/assets (POST streams its body) and /api/assets/{hash}. */
enum MHD_Result api_assets_collection(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_assets_item(struct MHD_Connection *conn, const HttpRequest *req);
/* api_compile.c: POST /api/compile, GET /api/compile/{key}.wasm. */
enum MHD_Result api_compile(struct MHD_Connection *conn, const HttpRequest *req);
enum MHD_Result api_compile_module(struct MHD_Connection *conn, const HttpRequest *req);

#endif
