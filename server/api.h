/* api.h — what the JSON endpoint groups (api_accounts.c, api_projects.c,
 * api_patches.c, api_assets.c) share: the settings main.c fills in, the ApiCall that carries one request
 * to a worker and its reply back, and who the caller is.
 *
 * Life of an API call: the endpoint's HttpHandler (on the event loop) calls
 * api_defer with the work to do and what it requires (a signed-in caller,
 * a CSRF token for a write). api_defer copies the headers the work needs,
 * suspends the connection and queues the call on the worker pool (a full
 * queue answers 503). On a worker: the Origin / Sec-Fetch-Site check for
 * writes, the caller's session (or the local user), the CSRF token, then
 * the work, which fills in the reply with api_reply / api_error; the
 * worker resumes the connection and the event loop sends the reply. The
 * call is freed in the request's completion callback.
 *
 * Who the caller is: a valid session cookie names the user. Without a
 * cookie, in local mode (ampd --local), a request from a loopback address
 * whose Host is a loopback name is the local user (server/README.md
 * describes this trust model). Anything else is 401 for calls that need a
 * user. A cookie that names no live session (expired, revoked, forged) is
 * always 401, with a Set-Cookie that removes it.
 */
#ifndef AMPD_API_H
#define AMPD_API_H

#include "auth.h"
#include "http.h"
#include "store.h"
#include "workers.h"

#include <stdbool.h>
#include <stdint.h>

/* Set by main.c before the daemon starts; read-only afterwards. */
typedef struct ApiSettings {
    Store *store;
    WorkerPool *workers;
    bool local;                    /* --local: loopback without a session is the local user */
    char local_csrf[AUTH_TOKEN_LEN + 1]; /* the local user's CSRF token, new at each start */
    unsigned long long argon_ops;  /* argon2id limits (--argon-ops, --argon-mem) */
    size_t argon_mem;
    char dummy_hash[AUTH_PASSWORD_HASH_MAX]; /* verified against for unknown names: same time */
    int64_t session_lifetime;      /* seconds (--session-lifetime) */
    bool secure_cookies;           /* --secure-cookies: the session cookie says Secure */
    RateLimiter *signin_by_account;
    RateLimiter *signin_by_address;
} ApiSettings;

extern ApiSettings api_settings;

/* What main.c reads from its options (ampd --help). */
typedef struct ApiOptions {
    const char *data_dir;          /* NULL: no storage, the API answers 503 */
    bool local;
    unsigned long long argon_ops;
    size_t argon_mem;
    int64_t session_lifetime;
    bool secure_cookies;
    unsigned workers, queue;       /* worker threads, waiting jobs */
    unsigned signin_limit;         /* failures per account per window; 4x per address */
    unsigned signin_window;        /* seconds */
} ApiOptions;

/* Defaults: argon2id at libsodium's INTERACTIVE limits, 30-day sessions,
 * 4 workers, 64 waiting jobs, 5 failed sign-ins per account per 5 minutes. */
void api_default_options(ApiOptions *options);
/* Open the store, start the workers (one store connection each), create the
 * local user in local mode. false with a message on stderr. */
bool api_start(const ApiOptions *options);
/* Shutdown, in two steps around MHD_stop_daemon: api_drain runs the queued
 * calls (resuming their connections) and stops the workers, so no
 * connection is left suspended; api_stop then frees the pool and closes the
 * store. */
void api_drain(void);
void api_stop(void);

/* ---- live updates (api_live.c) ---------------------------------------------- */

/* live.c's LiveAuthorize: may this connection's caller listen to
 * `project_id`? Only its owner may (another user's project, like a missing
 * one, is refused). */
bool api_live_authorize(struct MHD_Connection *conn, const char *project_id, void *user);
/* live.c's LiveLatest: the latest revision of the project just authorized
 * on this thread, and its document. */
bool api_live_latest(const char *project_id, long *revision, char **json_text, void *user);
/* store_project_saved_hook: a committed save, told to the project's tabs. */
void api_live_saved(const char *project_id, int64_t revision, const char *document);
/* Close the store connection the two above share (api_stop calls it). */
void api_live_close(void);

/* ---- the patch library (api_patches.c) ------------------------------------------- */

/* Open `dir` as the read-only built-in library (GET /api/library/...,
 * listed by GET /api/patches), before the daemon starts. A missing or
 * unreadable `dir` is an error (message on stderr) only when `required`
 * (--library); otherwise the server runs without a built-in library. */
bool api_patches_library(const char *dir, bool required);
/* The library folder's real path, NULL without one. */
const char *api_patches_library_path(void);

/* What a call requires before its work runs. */
enum {
    API_USER = 1 << 0,   /* a signed-in caller (or the local user), else 401 */
    API_WRITE = 1 << 1,  /* a write: Origin / Sec-Fetch-Site checked, and with API_USER the CSRF token */
};

#define API_MAX_PARAMS 3
#define API_PARAM_MAX 64

typedef struct ApiCall ApiCall;
typedef void (*ApiWork)(ApiCall *call, StoreConn *db);

struct ApiCall {
    struct MHD_Connection *conn;
    const HttpRequest *req;    /* body and path; stable while suspended */
    ApiWork work;
    unsigned requires;         /* API_USER | API_WRITE */
    /* Captured on the event loop. */
    char *cookie_token;        /* the session cookie's value, NULL if none */
    char *csrf_header;         /* X-CSRF-Token */
    char *if_match;            /* If-Match */
    char address[64];          /* the peer's address, for rate limits */
    bool from_loopback;        /* peer address and Host both loopback */
    bool cross_site;           /* Origin or Sec-Fetch-Site says another site */
    char params[API_MAX_PARAMS][API_PARAM_MAX]; /* path segments the route captured */
    /* The caller, once known. */
    StoreUser user;
    StoreSession session;      /* id 0 for the local user */
    /* The reply. */
    unsigned status;
    json_t *body;
    char set_cookie[256];      /* "" for none */
    char etag[32];             /* "" for none */
    unsigned retry_after;      /* seconds, 0 for none */
    /* Set by api_defer_ext: the endpoint's own state, freed with the call,
     * and what runs on the event loop instead of a JSON reply when the work
     * leaves none (status 0): a file, or the start of a streamed body. */
    void *extra;
    void (*extra_free)(void *extra);
    HttpResume proceed;        /* called with (conn, call) */
};

/* Defer `work` to the worker pool; `params` (may be NULL) are copied into
 * call->params. Returns what the HttpHandler returns. */
enum MHD_Result api_defer(struct MHD_Connection *conn, const HttpRequest *req, ApiWork work,
                          unsigned requires, const char *const *params, int n_params);

/* api_defer with the endpoint's own state (`extra`, freed with
 * extra_free when the request ends) and `proceed`: when the work leaves no
 * reply (call->status 0), proceed(conn, call) runs on the event loop once
 * the connection is resumed, and replies (or, at the head of a streamed
 * body, calls http_stream_body). */
enum MHD_Result api_defer_ext(struct MHD_Connection *conn, const HttpRequest *req, ApiWork work, unsigned requires,
                              const char *const *params, int n_params, HttpResume proceed, void *extra,
                              void (*extra_free)(void *extra));
/* Defer `call` to a worker once more with new `work` (the checks of its
 * `requires` run again): the end of a streamed body. Its reply so far is
 * cleared; `proceed` stays as set. Returns what the handler returns. */
enum MHD_Result api_defer_again(struct MHD_Connection *conn, ApiCall *call, ApiWork work);

/* The caller of a request, found on the calling thread with `db` (the
 * same checks as API_USER: the session cookie, else the local user in
 * local mode): true and *user filled, false for none. For a caller that
 * cannot defer to a worker (the WebSocket upgrade, api_live.c). */
bool api_caller(struct MHD_Connection *conn, StoreConn *db, StoreUser *user);

/* Set the reply (steals `body`). */
void api_reply(ApiCall *call, unsigned status, json_t *body);
/* The one error shape. */
void api_error(ApiCall *call, unsigned status, const char *code, const char *hint);
/* A store failure: 404 for STORE_NOT_FOUND, 500 otherwise. */
void api_store_error(ApiCall *call, StoreStatus status);

/* The request body as a JSON object, or an error reply set and NULL. */
json_t *api_body_object(ApiCall *call);
/* A string member of `obj` no longer than `max_bytes`: NULL with an error
 * reply set when missing (and required), not a string, or too long. */
const char *api_string_member(ApiCall *call, json_t *obj, const char *key, size_t max_bytes, bool required);

/* ---- what the item endpoints share (api_projects.c, api_patches.c) ------------ */

/* Ids of projects and patches: API_ID_HEX random lowercase hex digits. */
#define API_ID_HEX 32
bool api_is_id(const char *s);
void api_new_id(char out[API_ID_HEX + 1]);
/* call->params[0] when it is an id; else 404 not_found with `missing` set
 * and NULL. */
const char *api_id_param(ApiCall *call, const char *missing);
/* A store failure: 404 not_found with `missing` for STORE_NOT_FOUND,
 * api_store_error otherwise. */
void api_store_error_as(ApiCall *call, StoreStatus status, const char *missing);

/* A revision number in a path or If-Match: 1..10^15 in plain decimal; 0
 * when not one. */
int64_t api_revision_number(const char *s, size_t len);
/* The call's If-Match: "N" (or N); -1 when absent, 0 when malformed. */
int64_t api_if_match(const ApiCall *call);
/* The If-Match a save requires: its revision, or 0 with the reply set
 * (428 when absent, 400 when malformed). */
int64_t api_if_match_required(ApiCall *call);
/* ETag: "<revision>". */
void api_set_etag(ApiCall *call, int64_t revision);
/* 412: the save was based on `sent`, the `noun` ("project", "patch") is
 * at `current`; its ETag is set. */
void api_reply_stale(ApiCall *call, const char *noun, int64_t sent, int64_t current);
/* The "name" member of `body`: 1..max_bytes of UTF-8, no control
 * characters; the errors name the `noun`. NULL with the reply set (none
 * when absent and not `required`). */
const char *api_name_member(ApiCall *call, json_t *body, const char *noun, size_t max_bytes, bool required);
/* 200 {"revisions": [...]}: `list` (freed here) as revision, created_at,
 * size and restored_from where set. */
void api_reply_revisions(ApiCall *call, StoreRevisionList *list);

/* A sub-route of an item endpoint: the segments after its prefix ("*"
 * takes a parameter). */
#define API_ROUTE_SEGMENTS 4
typedef struct ApiRoute {
    const char *method;
    const char *pattern[API_ROUTE_SEGMENTS];
    ApiWork work;
    unsigned requires;
} ApiRoute;
/* Defer the request whose path is `prefix` then segments to the matching
 * one of `routes`: 404 when none matches the path, 405 with Allow when
 * none matches the method. Returns what the HttpHandler returns. */
enum MHD_Result api_route(struct MHD_Connection *conn, const HttpRequest *req, const char *prefix,
                          const ApiRoute *routes, size_t n_routes);

/* Every {"library": id, "revision": n} patch of `project` (read by
 * project_load_text) is a revision of one of the caller's patches, every
 * {"builtin": path} a file of the built-in library, and no patch is named
 * by a file path; false with the reply set otherwise (422 unknown_patch
 * or file_path, naming the field). */
struct Project;
bool api_patches_check_references(ApiCall *call, StoreConn *db, const struct Project *project);

/* Every audio region of `project` names its sample by "asset", a hash the
 * caller has uploaded (a stored project never names a file path); false
 * with the reply set otherwise (422 unknown_asset or file_path, naming the
 * field). Another user's asset is refused exactly like a missing one. */
bool api_assets_check_references(ApiCall *call, StoreConn *db, const struct Project *project);

/* A stored document as JSON, upgraded to the current format; NULL when it
 * cannot be read (api_projects.c). */
json_t *api_projects_stored_document(const char *text);
/* The caller's project `id`, its latest document (number 0: *project
 * filled) or revision `number` (*revision filled), upgraded; NULL with the
 * reply set (404, or 500 for a document that cannot be read). */
json_t *api_projects_load(ApiCall *call, StoreConn *db, const char *id, int64_t number, StoreProject *project,
                          StoreRevision *revision);
/* GET /api/projects/{id}/bundle: the project as a tar archive
 * (api_bundle.c); `id` is the path segment, `len` bytes. */
enum MHD_Result api_projects_bundle(struct MHD_Connection *conn, const HttpRequest *req, const char *id, size_t len);
/* The stored file of an asset, opened read-only beneath the data folder
 * (-1 when it cannot be), and an unnamed temporary file there (O_TMPFILE,
 * read-write; -1 on failure): api_assets.c. */
int api_assets_open(const char *hash);
int api_assets_temp_file(void);

/* The compile service (api_compile.c): `ampc` the compiler to run,
 * `library` the built-in library's folder (NULL: none), at most `jobs`
 * compiles at once, its files under DATA/compile. */
/* The limits of one compile: CPU seconds, wall-clock seconds (then its
 * process group is killed; default 1.5 times the CPU seconds) and address
 * space in MiB; 0 keeps the default (20 s CPU, 30 s wall, 1024 MiB).
 * Before api_compile_start. */
void api_compile_limits(int seconds, int wall_seconds, int memory_mib);
bool api_compile_start(const char *data_dir, const char *ampc, const char *library, const char *module_script,
                       int jobs);
/* Every param and lane of a save's built-in and library patches checked
 * against the patch's metadata from the compile service (compiled once,
 * then cached), in the project reader's words; false with 422 set. File
 * patches are not checked (the server has no files). */
bool api_compile_check_params(ApiCall *call, StoreConn *db, struct Project *project);

/* Seconds since the epoch. */
int64_t api_now(void);

/* ---- audio assets (api_assets.c) ------------------------------------------ */

/* What main.c reads for the assets (ampd --help). */
typedef struct AssetOptions {
    int64_t max_bytes;             /* one upload (--asset-max-bytes) */
    int64_t quota_bytes;           /* one user's distinct assets in all (--quota-bytes) */
} AssetOptions;

/* Defaults: 512 MiB per file, 5 GiB per user. */
void api_assets_default_options(AssetOptions *options);
/* After api_start, with the same data folder: make DATA/assets (and its
 * tmp/), and sweep what a crash can leave (temporary files, files no row
 * links). false with a message on stderr. Without --data: nothing. */
bool api_assets_start(const char *data_dir, const AssetOptions *options);
void api_assets_stop(void);

#endif
