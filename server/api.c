/* api.c — the ApiCall of api.h: deferring a request to the worker pool,
 * finding the caller, checking the CSRF token, sending the reply.
 */
#include "api.h"

#include <sodium.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

ApiSettings api_settings;

/* Longest header value copied for the work (a CSRF token is 43). */
#define API_HEADER_MAX 256

int64_t api_now(void)
{
    return (int64_t)time(NULL);
}

/* ---- replies ----------------------------------------------------------- */

void api_reply(ApiCall *call, unsigned status, json_t *body)
{
    json_decref(call->body);
    call->status = status;
    call->body = body;
}

void api_error(ApiCall *call, unsigned status, const char *code, const char *hint)
{
    api_reply(call, status, http_error_body(code, hint));
}

void api_store_error(ApiCall *call, StoreStatus status)
{
    if (status == STORE_NOT_FOUND)
        api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such project");
    else
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage_error", "the database failed; try again");
}

json_t *api_body_object(ApiCall *call)
{
    const char *hint = NULL;
    json_t *body = http_parse_json(call->req, &hint);
    if (!body) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_json", hint);
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_request", "the request body must be a JSON object");
        return NULL;
    }
    return body;
}

const char *api_string_member(ApiCall *call, json_t *obj, const char *key, size_t max_bytes, bool required)
{
    char hint[160];
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) {
            snprintf(hint, sizeof hint, "the field \"%s\" is required", key);
            api_error(call, MHD_HTTP_BAD_REQUEST, "missing_field", hint);
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        snprintf(hint, sizeof hint, "the field \"%s\" must be a string", key);
        api_error(call, MHD_HTTP_BAD_REQUEST, "wrong_type", hint);
        return NULL;
    }
    if (json_string_length(v) > max_bytes || strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(hint, sizeof hint, "the field \"%s\" is longer than %zu bytes", key, max_bytes);
        api_error(call, MHD_HTTP_BAD_REQUEST, "too_long", hint);
        return NULL;
    }
    return json_string_value(v);
}

/* ---- item endpoints: ids, revisions, If-Match, names, routes ------------ */

bool api_is_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= API_ID_HEX || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == API_ID_HEX;
}

void api_new_id(char out[API_ID_HEX + 1])
{
    unsigned char raw[API_ID_HEX / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, API_ID_HEX + 1, raw, sizeof raw);
}

const char *api_id_param(ApiCall *call, const char *missing)
{
    if (api_is_id(call->params[0]))
        return call->params[0];
    api_error(call, MHD_HTTP_NOT_FOUND, "not_found", missing);
    return NULL;
}

void api_store_error_as(ApiCall *call, StoreStatus status, const char *missing)
{
    if (status == STORE_NOT_FOUND)
        api_error(call, MHD_HTTP_NOT_FOUND, "not_found", missing);
    else
        api_store_error(call, status);
}

int64_t api_revision_number(const char *s, size_t len)
{
    if (len == 0 || len > 15 || s[0] == '0')
        return 0;
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        n = n * 10 + (s[i] - '0');
    }
    return n;
}

int64_t api_if_match(const ApiCall *call)
{
    const char *value = call->if_match;
    if (!value)
        return -1;
    size_t n = strlen(value);
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"')
        return api_revision_number(value + 1, n - 2);
    return api_revision_number(value, n);
}

int64_t api_if_match_required(ApiCall *call)
{
    int64_t expected = api_if_match(call);
    if (expected < 0) {
        api_error(call, 428, "if_match_required", "a save needs If-Match: \"<revision it was based on>\"");
        return 0;
    }
    if (expected == 0)
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_if_match", "If-Match must be a revision number in quotes");
    return expected;
}

void api_set_etag(ApiCall *call, int64_t revision)
{
    snprintf(call->etag, sizeof call->etag, "\"%" PRId64 "\"", revision);
}

void api_reply_stale(ApiCall *call, const char *noun, int64_t sent, int64_t current)
{
    char hint[200];
    snprintf(hint, sizeof hint,
             "the %s changed since the revision in If-Match; nothing was saved: "
             "reload the current revision, merge, and save again",
             noun);
    json_t *body = http_error_body("stale_revision", hint);
    json_t *error = json_object_get(body, "error");
    json_object_set_new(error, "current_revision", json_integer(current));
    json_object_set_new(error, "your_revision", json_integer(sent));
    api_reply(call, MHD_HTTP_PRECONDITION_FAILED, body);
    api_set_etag(call, current);
}

const char *api_name_member(ApiCall *call, json_t *body, const char *noun, size_t max_bytes, bool required)
{
    char hint[96];
    const char *name = api_string_member(call, body, "name", max_bytes, required);
    if (!name)
        return NULL;
    if (!name[0]) {
        snprintf(hint, sizeof hint, "a %s name cannot be empty", noun);
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_name", hint);
        return NULL;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(hint, sizeof hint, "a %s name cannot hold control characters", noun);
            api_error(call, MHD_HTTP_BAD_REQUEST, "bad_name", hint);
            return NULL;
        }
    }
    return name;
}

void api_reply_revisions(ApiCall *call, StoreRevisionList *list)
{
    json_t *items = json_array();
    for (size_t i = 0; i < list->count; i++) {
        const StoreRevision *r = &list->items[i];
        json_t *item = json_pack("{s:I,s:I,s:I}", "revision", (json_int_t)r->number, "created_at",
                                 (json_int_t)r->created_at, "size", (json_int_t)r->size);
        if (r->restored_from)
            json_object_set_new(item, "restored_from", json_integer(r->restored_from));
        json_array_append_new(items, item);
    }
    store_revision_list_free(list);
    api_reply(call, MHD_HTTP_OK, json_pack("{s:o}", "revisions", items));
}

/* Split `rest` at '/' into at most API_ROUTE_SEGMENTS segments of fewer
 * than API_PARAM_MAX bytes; -1 when it does not fit (or is empty). */
static int split_segments(const char *rest, char segments[API_ROUTE_SEGMENTS][API_PARAM_MAX])
{
    int n = 0;
    for (const char *p = rest;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == API_ROUTE_SEGMENTS || len == 0 || len >= API_PARAM_MAX)
            return -1;
        memcpy(segments[n], p, len);
        segments[n][len] = '\0';
        n++;
        if (!slash)
            return n;
        p = slash + 1;
    }
}

static bool route_matches(const ApiRoute *r, char segments[API_ROUTE_SEGMENTS][API_PARAM_MAX], int n,
                          const char **params, int *n_params)
{
    *n_params = 0;
    int i = 0;
    for (; i < API_ROUTE_SEGMENTS && r->pattern[i]; i++) {
        if (i >= n)
            return false;
        if (strcmp(r->pattern[i], "*") == 0)
            params[(*n_params)++] = segments[i];
        else if (strcmp(r->pattern[i], segments[i]) != 0)
            return false;
    }
    return i == n;
}

enum MHD_Result api_route(struct MHD_Connection *conn, const HttpRequest *req, const char *prefix,
                          const ApiRoute *routes, size_t n_routes)
{
    char segments[API_ROUTE_SEGMENTS][API_PARAM_MAX];
    int n = split_segments(req->path + strlen(prefix), segments);
    char allow[64] = "";
    for (size_t i = 0; n > 0 && i < n_routes; i++) {
        const char *params[API_MAX_PARAMS];
        int n_params;
        const ApiRoute *r = &routes[i];
        if (!route_matches(r, segments, n, params, &n_params))
            continue;
        if (strcmp(r->method, req->method) == 0)
            return api_defer(conn, req, r->work, r->requires, params, n_params);
        size_t len = strlen(allow);
        snprintf(allow + len, sizeof allow - len, "%s%s", len ? ", " : "", r->method);
    }
    if (!allow[0])
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
    struct MHD_Response *resp = http_json_response(
        http_error_body("method_not_allowed", "this path accepts only the methods listed in Allow"));
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return http_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, void *state)
{
    ApiCall *call = state;
    if (!call->status && call->proceed)
        return call->proceed(conn, call);
    struct MHD_Response *resp;
    if (call->status == MHD_HTTP_NO_CONTENT) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    } else {
        resp = http_json_response(call->body);
        call->body = NULL;
    }
    if (resp && call->set_cookie[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, call->set_cookie);
    if (resp && call->etag[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, call->etag);
    if (resp && call->retry_after) {
        char seconds[24];
        snprintf(seconds, sizeof seconds, "%u", call->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    return http_reply(conn, call->status, resp);
}

static void free_call(void *state)
{
    ApiCall *call = state;
    if (!call)
        return;
    free(call->cookie_token);
    free(call->csrf_header);
    free(call->if_match);
    json_decref(call->body);
    if (call->extra_free)
        call->extra_free(call->extra);
    free(call);
}

/* ---- the caller ------------------------------------------------------------ */

static void refuse_session(ApiCall *call, const char *hint)
{
    api_error(call, MHD_HTTP_UNAUTHORIZED, "session_invalid", hint);
    auth_clear_cookie(call->set_cookie, sizeof call->set_cookie, api_settings.secure_cookies);
}

/* The caller from the session cookie; false with the reply set. */
static bool session_caller(ApiCall *call, StoreConn *db)
{
    if (!auth_token_well_formed(call->cookie_token)) {
        refuse_session(call, "the session cookie is not one of ours; sign in again");
        return false;
    }
    uint8_t hash[AUTH_TOKEN_HASH_BYTES];
    auth_token_hash(call->cookie_token, hash);
    StoreStatus status = store_session_find(db, hash, api_now(), &call->session);
    if (status == STORE_OK)
        status = store_user_by_id(db, call->session.user_id, &call->user);
    if (status == STORE_NOT_FOUND) {
        refuse_session(call, "the session has expired or was signed out; sign in again");
        return false;
    }
    if (status != STORE_OK) {
        api_store_error(call, status);
        return false;
    }
    return true;
}

static bool local_caller(ApiCall *call, StoreConn *db)
{
    StoreStatus status = store_local_user(db, api_now(), &call->user);
    if (status != STORE_OK) {
        api_store_error(call, status);
        return false;
    }
    call->session = (StoreSession){0};
    snprintf(call->session.csrf, sizeof call->session.csrf, "%s", api_settings.local_csrf);
    return true;
}

/* Run the checks `requires` asks for; false with the reply set. */
static bool authorize(ApiCall *call, StoreConn *db)
{
    if ((call->requires & API_WRITE) && call->cross_site) {
        api_error(call, MHD_HTTP_FORBIDDEN, "cross_origin", "writes are accepted only from this site's own pages");
        return false;
    }
    if (!(call->requires & API_USER))
        return true;
    bool known;
    if (call->cookie_token)
        known = session_caller(call, db);
    else if (api_settings.local && call->from_loopback)
        known = local_caller(call, db);
    else {
        api_error(call, MHD_HTTP_UNAUTHORIZED, "not_signed_in", "sign in first");
        known = false;
    }
    if (!known)
        return false;
    if ((call->requires & API_WRITE) &&
        (!call->csrf_header || !auth_equal(call->csrf_header, call->session.csrf))) {
        api_error(call, MHD_HTTP_FORBIDDEN, "csrf",
                  "a write needs the X-CSRF-Token header with the token GET /api/account returns");
        return false;
    }
    return true;
}

/* On a worker: the checks, the work, then back to the event loop. */
static void run_call(void *context, void *arg)
{
    ApiCall *call = arg;
    StoreConn *db = context;
    if (authorize(call, db))
        call->work(call, db);
    if (!call->status && !call->proceed)
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the request was not answered");
    /* The last touch of the call on this thread: once resumed, the event
     * loop sends the reply and may free the call at any moment. */
    MHD_resume_connection(call->conn);
}

/* ---- capturing the request on the event loop ---------------------------------- */

static char *header_copy(struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    if (!v)
        return NULL;
    return strndup(v, API_HEADER_MAX);
}

static bool address_is_loopback(const struct sockaddr *sa, char *text, size_t cap)
{
    text[0] = '\0';
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)cap);
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)cap);
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

/* A Host naming this machine: localhost, 127.x.y.z or [::1], any port.
 * (A page of another site that a DNS name points at 127.0.0.1 sends its
 * own name: it is not treated as the local user.) */
static bool host_is_loopback(const char *host)
{
    if (!host)
        return false;
    char name[256];
    snprintf(name, sizeof name, "%s", host);
    if (name[0] == '[') {
        char *close = strchr(name, ']');
        if (!close)
            return false;
        *close = '\0';
        return strcmp(name + 1, "::1") == 0;
    }
    char *colon = strchr(name, ':');
    if (colon)
        *colon = '\0';
    if (strcasecmp(name, "localhost") == 0)
        return true;
    struct in_addr a;
    return inet_pton(AF_INET, name, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* Origin, when sent, must be this site (scheme://Host); Sec-Fetch-Site,
 * when sent, must say same-origin or none (typed by the user). */
static bool request_is_cross_site(struct MHD_Connection *conn)
{
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    const char *site = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return true;
    if (!origin)
        return false;
    if (!host)
        return true;
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    return !rest || strcasecmp(rest, host) != 0;
}

/* What a call needs of its connection, copied while on the event loop. */
static void capture(ApiCall *call, struct MHD_Connection *conn, const HttpRequest *req, ApiWork work,
                    unsigned requires)
{
    call->conn = conn;
    call->req = req;
    call->work = work;
    call->requires = requires;
    const char *cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
    char token[API_HEADER_MAX];
    if (cookie && auth_cookie_token(cookie, token, sizeof token))
        call->cookie_token = strdup(token);
    call->csrf_header = header_copy(conn, "X-CSRF-Token");
    call->if_match = header_copy(conn, MHD_HTTP_HEADER_IF_MATCH);
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    bool loopback = address_is_loopback(info ? info->client_addr : NULL, call->address, sizeof call->address);
    call->from_loopback =
        loopback && host_is_loopback(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST));
    call->cross_site = request_is_cross_site(conn);
}

bool api_caller(struct MHD_Connection *conn, StoreConn *db, StoreUser *user)
{
    ApiCall call = {0};
    capture(&call, conn, NULL, NULL, API_USER);
    bool known = api_settings.store && authorize(&call, db);
    if (known)
        *user = call.user;
    free(call.cookie_token);
    free(call.csrf_header);
    free(call.if_match);
    json_decref(call.body);
    return known;
}

/* Suspend the call's connection and queue it on the workers (503 when the
 * queue is full). */
static enum MHD_Result submit(struct MHD_Connection *conn, ApiCall *call)
{
    enum MHD_Result ret = http_suspend(conn, call->req, send_reply, call, free_call);
    if (!workers_submit(api_settings.workers, run_call, call)) {
        api_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "the server is busy; try again in a moment");
        call->retry_after = 1;
        MHD_resume_connection(conn);
    }
    return ret;
}

enum MHD_Result api_defer_ext(struct MHD_Connection *conn, const HttpRequest *req, ApiWork work, unsigned requires,
                              const char *const *params, int n_params, HttpResume proceed, void *extra,
                              void (*extra_free)(void *extra))
{
    if (!api_settings.workers) {
        if (extra_free)
            extra_free(extra);
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no_storage",
                           "this server runs without a data folder (ampd --data DIR)");
    }
    ApiCall *call = calloc(1, sizeof *call);
    if (!call) {
        if (extra_free)
            extra_free(extra);
        return MHD_NO;
    }
    capture(call, conn, req, work, requires);
    for (int i = 0; i < n_params && i < API_MAX_PARAMS; i++)
        snprintf(call->params[i], sizeof call->params[i], "%s", params[i]);
    call->proceed = proceed;
    call->extra = extra;
    call->extra_free = extra_free;
    return submit(conn, call);
}

enum MHD_Result api_defer(struct MHD_Connection *conn, const HttpRequest *req, ApiWork work, unsigned requires,
                          const char *const *params, int n_params)
{
    return api_defer_ext(conn, req, work, requires, params, n_params, NULL, NULL, NULL);
}

enum MHD_Result api_defer_again(struct MHD_Connection *conn, ApiCall *call, ApiWork work)
{
    json_decref(call->body);
    call->body = NULL;
    call->status = 0;
    call->work = work;
    return submit(conn, call);
}

/* ---- start and stop ---------------------------------------------------------- */

void api_default_options(ApiOptions *o)
{
    *o = (ApiOptions){
        .argon_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE,
        .argon_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE,
        .session_lifetime = 30 * 24 * 3600,
        .workers = 4,
        .queue = 64,
        .signin_limit = 5,
        .signin_window = 300,
    };
}

static void *worker_connect(void *arg, unsigned index)
{
    char err[512];
    StoreConn *conn = store_connect(api_settings.store, err, sizeof err);
    if (!conn)
        fprintf(stderr, "ampd: worker %u: %s\n", index, err);
    return conn;
}

static void worker_disconnect(void *arg, void *context)
{
    store_disconnect(context);
}

/* The local user exists from the first start on. */
static bool ensure_local_user(void)
{
    char err[512];
    StoreConn *conn = store_connect(api_settings.store, err, sizeof err);
    if (!conn) {
        fprintf(stderr, "ampd: %s\n", err);
        return false;
    }
    StoreUser user;
    StoreStatus st = store_local_user(conn, api_now(), &user);
    store_disconnect(conn);
    if (st != STORE_OK)
        fprintf(stderr, "ampd: cannot create the local user\n");
    return st == STORE_OK;
}

bool api_start(const ApiOptions *o)
{
    if (!auth_init()) {
        fprintf(stderr, "ampd: libsodium cannot be initialised\n");
        return false;
    }
    if (!o->data_dir)
        return true;
    ApiSettings *s = &api_settings;
    s->local = o->local;
    s->argon_ops = o->argon_ops;
    s->argon_mem = o->argon_mem;
    s->session_lifetime = o->session_lifetime;
    s->secure_cookies = o->secure_cookies;
    auth_new_token(s->local_csrf);
    char dummy_password[AUTH_TOKEN_LEN + 1];
    auth_new_token(dummy_password);
    if (!auth_hash_password(dummy_password, o->argon_ops, o->argon_mem, s->dummy_hash)) {
        fprintf(stderr, "ampd: argon2id with --argon-ops %llu --argon-mem %zu failed\n", o->argon_ops,
                o->argon_mem);
        return false;
    }
    s->signin_by_account = auth_limiter_new(o->signin_limit, o->signin_window, 4096);
    s->signin_by_address = auth_limiter_new(o->signin_limit * 4, o->signin_window, 4096);
    char err[512];
    s->store = store_open(o->data_dir, err, sizeof err);
    if (!s->store) {
        fprintf(stderr, "ampd: --data %s: %s\n", o->data_dir, err);
        return false;
    }
    if (o->local && !ensure_local_user())
        return false;
    WorkerHooks hooks = {.start = worker_connect, .stop = worker_disconnect};
    s->workers = workers_start(o->workers, o->queue, &hooks);
    if (!s->workers) {
        fprintf(stderr, "ampd: the worker threads did not start\n");
        return false;
    }
    return true;
}

void api_drain(void)
{
    workers_stop(api_settings.workers);
}

void api_stop(void)
{
    api_live_close();
    workers_free(api_settings.workers);
    api_settings.workers = NULL;
    store_close(api_settings.store);
    api_settings.store = NULL;
    auth_limiter_free(api_settings.signin_by_account);
    auth_limiter_free(api_settings.signin_by_address);
}
