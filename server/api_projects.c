/* api_projects.c — projects, their revisions and share links.
 *
 *   GET    /api/projects                          the caller's projects              200
 *   POST   /api/projects                          {"name", "document"?}              201
 *   GET    /api/projects/{id}                     the latest revision, ETag "<rev>"  200
 *   PUT    /api/projects/{id}                     body: the document; If-Match
 *                                                 "<rev>" required                  200, 412, 428
 *   PATCH  /api/projects/{id}                     {"name"}: rename                   200
 *   DELETE /api/projects/{id}                                                        204
 *   POST   /api/projects/{id}/duplicate           {"name"?}                          201
 *   GET    /api/projects/{id}/revisions           the history, newest first          200
 *   GET    /api/projects/{id}/revisions/{n}       an old revision                    200
 *   POST   /api/projects/{id}/revisions/{n}/restore   a new revision with its
 *                                                 document (If-Match optional)      200, 412
 *   POST   /api/projects/{id}/share               a new read-only link's token       201
 *   DELETE /api/projects/{id}/share               revoke it                          204
 *   GET    /api/shared/{token}                    the latest revision, no session    200
 *
 * All but the last need a caller (api.h); writes need the CSRF token. A
 * project of another user is 404 like one that does not exist, on every
 * endpoint: the store finds projects only through their owner. Ids are 32
 * random hex digits, never sequential.
 *
 * Documents: the engine's project JSON (runtime/formats/PROJECT.md). A save
 * upgrades an older format version (doc_upgrade.h), then validates it with
 * the engine's own reader (project_load_text: structure, types, ranges;
 * patches are not compiled or resolved, but a {"library", "revision"}
 * patch must be one of the caller's: api_patches_check_references), then
 * stores it compactly as a new revision. A stale If-Match is 412 with the
 * current revision in the error, and nothing is written: the client keeps
 * its document and decides (reload, merge, save again). Each new revision is
 * announced through store_project_saved_hook (store.h) when it is set.
 */
#include "api.h"
#include "doc_upgrade.h"
#include "project_read.h"

#include <sodium.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ProjectSavedHook store_project_saved_hook;

#define PROJECT_NAME_MAX 200           /* bytes */
#define PUBLIC_ID_HEX 32
#define PATH_SEGMENTS_MAX 4
#define EMPTY_DOCUMENT "{\"version\":1,\"tracks\":[]}"

/* ---- checks and conversions ---------------------------------------------- */

static bool is_public_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= PUBLIC_ID_HEX || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == PUBLIC_ID_HEX;
}

static void new_public_id(char out[PUBLIC_ID_HEX + 1])
{
    unsigned char raw[PUBLIC_ID_HEX / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, PUBLIC_ID_HEX + 1, raw, sizeof raw);
}

/* A revision number in a path: 1..10^15 in plain decimal; 0 when not. */
static int64_t parse_revision(const char *s)
{
    if (!s[0] || s[0] == '0' || strlen(s) > 15)
        return 0;
    int64_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        n = n * 10 + (*p - '0');
    }
    return n;
}

/* If-Match: "N" (or N); -1 when absent, 0 when malformed. */
static int64_t parse_if_match(const char *value)
{
    if (!value)
        return -1;
    char digits[24];
    size_t n = strlen(value);
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
        if (n - 2 >= sizeof digits)
            return 0;
        memcpy(digits, value + 1, n - 2);
        digits[n - 2] = '\0';
    } else {
        if (n >= sizeof digits)
            return 0;
        memcpy(digits, value, n + 1);
    }
    return parse_revision(digits);
}

/* A project name: 1..PROJECT_NAME_MAX bytes of UTF-8 (jansson checked
 * that), no control characters. NULL with the reply set. */
static const char *project_name(ApiCall *call, json_t *body, bool required)
{
    const char *name = api_string_member(call, body, "name", PROJECT_NAME_MAX, required);
    if (!name)
        return NULL;
    if (!name[0]) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_name", "a project name cannot be empty");
        return NULL;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            api_error(call, MHD_HTTP_BAD_REQUEST, "bad_name", "a project name cannot hold control characters");
            return NULL;
        }
    }
    return name;
}

static void set_etag(ApiCall *call, int64_t revision)
{
    snprintf(call->etag, sizeof call->etag, "\"%" PRId64 "\"", revision);
}

static json_t *project_json(const StoreProject *p)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:b}", "id", p->public_id, "name", p->name, "revision",
                     (json_int_t)p->revision, "created_at", (json_int_t)p->created_at, "updated_at",
                     (json_int_t)p->updated_at, "shared", p->shared);
}

/* A stored document as JSON, upgraded when it is of an older format.
 * NULL when it cannot be read (a stored document was valid when saved, so
 * this means a bug or a damaged database). */
static json_t *stored_document(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return NULL;
    char err[256];
    int from;
    if (doc_upgrade(doc, doc_upgrade_steps, doc_upgrade_step_count, PROJECT_VERSION, &from, err, sizeof err) !=
        0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* The document of a save: upgraded, validated by the engine's reader,
 * its library patches found among the caller's (api_patches.c), and
 * printed compactly. NULL with the reply set (422 for a document the
 * engine refuses or naming a patch the caller does not have). Steals
 * `doc`. */
static char *accept_document(ApiCall *call, StoreConn *db, json_t *doc)
{
    char err[PROJECT_MAX_JSON_PATH + 256];
    int from;
    if (!json_is_object(doc)) {
        json_decref(doc);
        api_error(call, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_document", "a project document is a JSON object");
        return NULL;
    }
    if (doc_upgrade(doc, doc_upgrade_steps, doc_upgrade_step_count, PROJECT_VERSION, &from, err, sizeof err) !=
        0) {
        json_decref(doc);
        api_error(call, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_document", err);
        return NULL;
    }
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text) {
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
        return NULL;
    }
    Project project;
    memset(&project, 0, sizeof project);
    int rc = project_load_text(text, strlen(text), "document", ".", &project, err, sizeof err);
    if (rc != 0) {
        free(text);
        api_error(call, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_document", err);
        return NULL;
    }
    bool found = api_patches_check_references(call, db, &project);
    project_free(&project);
    if (!found) {
        free(text);
        return NULL;
    }
    return text;
}

static void announce(const StoreProject *p, const char *document)
{
    ProjectSavedHook hook = store_project_saved_hook;
    if (hook)
        hook(p->public_id, p->revision, document);
}

/* 412: the save was based on `sent`, the project is at `current`. */
static void reply_stale(ApiCall *call, int64_t sent, int64_t current)
{
    json_t *body = http_error_body("stale_revision",
                                   "the project changed since the revision in If-Match; nothing was saved: "
                                   "reload the current revision, merge, and save again");
    json_t *error = json_object_get(body, "error");
    json_object_set_new(error, "current_revision", json_integer(current));
    json_object_set_new(error, "your_revision", json_integer(sent));
    api_reply(call, MHD_HTTP_PRECONDITION_FAILED, body);
    set_etag(call, current);
}

/* The project id of the call, or 404 set and NULL. */
static const char *project_id(ApiCall *call)
{
    if (is_public_id(call->params[0]))
        return call->params[0];
    api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such project");
    return NULL;
}

/* ---- the collection ----------------------------------------------------------- */

static void projects_list(ApiCall *call, StoreConn *db)
{
    StoreProjectList list;
    StoreStatus st = store_project_list(db, call->user.id, &list);
    if (st != STORE_OK) {
        api_store_error(call, st);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < list.count; i++)
        json_array_append_new(items, project_json(&list.items[i]));
    store_project_list_free(&list);
    api_reply(call, MHD_HTTP_OK, json_pack("{s:o}", "projects", items));
}

static void projects_create(ApiCall *call, StoreConn *db)
{
    json_t *body = api_body_object(call);
    const char *name = body ? project_name(call, body, true) : NULL;
    if (!name) {
        json_decref(body);
        return;
    }
    json_t *doc = json_object_get(body, "document");
    char *text = accept_document(call, db, doc ? json_incref(doc) : json_loads(EMPTY_DOCUMENT, 0, NULL));
    if (!text) {
        json_decref(body);
        return;
    }
    StoreProject project;
    StoreStatus st = STORE_CONFLICT;
    for (int attempt = 0; attempt < 4 && st == STORE_CONFLICT; attempt++) {
        char id[PUBLIC_ID_HEX + 1];
        new_public_id(id);
        st = store_project_create(db, call->user.id, id, name, text, api_now(), &project);
    }
    json_decref(body);
    if (st != STORE_OK) {
        free(text);
        api_store_error(call, STORE_ERROR);
        return;
    }
    announce(&project, text);
    free(text);
    set_etag(call, project.revision);
    api_reply(call, MHD_HTTP_CREATED, project_json(&project));
}

enum MHD_Result api_projects_collection(struct MHD_Connection *conn, const HttpRequest *req)
{
    if (strcmp(req->method, "POST") == 0)
        return api_defer(conn, req, projects_create, API_USER | API_WRITE, NULL, 0);
    return api_defer(conn, req, projects_list, API_USER, NULL, 0);
}

/* ---- one project ------------------------------------------------------------------ */

static void project_get(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    if (!id)
        return;
    StoreProject project;
    char *text = NULL;
    StoreStatus st = store_project_get(db, call->user.id, id, &project, &text);
    if (st != STORE_OK) {
        api_store_error(call, st);
        return;
    }
    json_t *doc = stored_document(text);
    free(text);
    if (!doc) {
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "damaged_document", "the stored document cannot be read");
        return;
    }
    json_t *body = project_json(&project);
    json_object_set_new(body, "document", doc);
    set_etag(call, project.revision);
    api_reply(call, MHD_HTTP_OK, body);
}

static void project_put(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    if (!id)
        return;
    int64_t expected = parse_if_match(call->if_match);
    if (expected < 0) {
        api_error(call, 428, "if_match_required", "a save needs If-Match: \"<revision it was based on>\"");
        return;
    }
    if (expected == 0) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_if_match", "If-Match must be a revision number in quotes");
        return;
    }
    const char *hint = NULL;
    json_t *doc = http_parse_json(call->req, &hint);
    if (!doc) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_json", hint);
        return;
    }
    char *text = accept_document(call, db, doc);
    if (!text)
        return;
    StoreProject project;
    StoreStatus st = store_project_save(db, call->user.id, id, expected, text, api_now(), &project);
    if (st == STORE_CONFLICT)
        reply_stale(call, expected, project.revision);
    else if (st != STORE_OK)
        api_store_error(call, st);
    else {
        announce(&project, text);
        set_etag(call, project.revision);
        api_reply(call, MHD_HTTP_OK, project_json(&project));
    }
    free(text);
}

static void project_rename(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    json_t *body = id ? api_body_object(call) : NULL;
    const char *name = body ? project_name(call, body, true) : NULL;
    if (!name) {
        json_decref(body);
        return;
    }
    StoreProject project;
    StoreStatus st = store_project_rename(db, call->user.id, id, name, api_now(), &project);
    json_decref(body);
    if (st != STORE_OK) {
        api_store_error(call, st);
        return;
    }
    set_etag(call, project.revision);
    api_reply(call, MHD_HTTP_OK, project_json(&project));
}

static void project_delete(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    if (!id)
        return;
    StoreStatus st = store_project_delete(db, call->user.id, id);
    if (st != STORE_OK)
        api_store_error(call, st);
    else
        api_reply(call, MHD_HTTP_NO_CONTENT, NULL);
}

static void project_duplicate(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    if (!id)
        return;
    /* The body is optional: {"name": ...}; without one, "<name> (copy)". */
    json_t *body = NULL;
    const char *name = NULL;
    char copy_name[PROJECT_NAME_MAX + 1];
    if (call->req->body_len) {
        body = api_body_object(call);
        if (!body)
            return;
        name = project_name(call, body, false);
        if (!name && call->status) {
            json_decref(body);
            return;
        }
    }
    if (!name) {
        StoreProject source;
        StoreStatus st = store_project_get(db, call->user.id, id, &source, NULL);
        if (st != STORE_OK) {
            json_decref(body);
            api_store_error(call, st);
            return;
        }
        /* Cut at a character boundary so the name stays UTF-8. */
        size_t room = PROJECT_NAME_MAX - strlen(" (copy)"), n = strlen(source.name);
        if (n > room) {
            n = room;
            while (n > 0 && ((unsigned char)source.name[n] & 0xc0) == 0x80)
                n--;
        }
        snprintf(copy_name, sizeof copy_name, "%.*s (copy)", (int)n, source.name);
        name = copy_name;
    }
    StoreProject project;
    StoreStatus st = STORE_CONFLICT;
    for (int attempt = 0; attempt < 4 && st == STORE_CONFLICT; attempt++) {
        char new_id[PUBLIC_ID_HEX + 1];
        new_public_id(new_id);
        st = store_project_duplicate(db, call->user.id, id, new_id, name, api_now(), &project);
    }
    json_decref(body);
    if (st != STORE_OK) {
        api_store_error(call, st == STORE_CONFLICT ? STORE_ERROR : st);
        return;
    }
    set_etag(call, project.revision);
    api_reply(call, MHD_HTTP_CREATED, project_json(&project));
}

/* ---- revisions --------------------------------------------------------------------- */

static void revisions_list(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    if (!id)
        return;
    StoreRevisionList list;
    StoreStatus st = store_revision_list(db, call->user.id, id, &list);
    if (st != STORE_OK) {
        api_store_error(call, st);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < list.count; i++) {
        const StoreRevision *r = &list.items[i];
        json_t *item = json_pack("{s:I,s:I,s:I}", "revision", (json_int_t)r->number, "created_at",
                                 (json_int_t)r->created_at, "size", (json_int_t)r->size);
        if (r->restored_from)
            json_object_set_new(item, "restored_from", json_integer(r->restored_from));
        json_array_append_new(items, item);
    }
    store_revision_list_free(&list);
    api_reply(call, MHD_HTTP_OK, json_pack("{s:o}", "revisions", items));
}

static void revision_get(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    int64_t number = id ? parse_revision(call->params[1]) : 0;
    if (!id)
        return;
    if (!number) {
        api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such revision");
        return;
    }
    StoreRevision revision;
    char *text = NULL;
    StoreStatus st = store_revision_get(db, call->user.id, id, number, &revision, &text);
    if (st != STORE_OK) {
        if (st == STORE_NOT_FOUND)
            api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such project or revision");
        else
            api_store_error(call, st);
        return;
    }
    json_t *doc = stored_document(text);
    free(text);
    if (!doc) {
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "damaged_document", "the stored document cannot be read");
        return;
    }
    json_t *body = json_pack("{s:I,s:I,s:o}", "revision", (json_int_t)revision.number, "created_at",
                             (json_int_t)revision.created_at, "document", doc);
    if (revision.restored_from)
        json_object_set_new(body, "restored_from", json_integer(revision.restored_from));
    api_reply(call, MHD_HTTP_OK, body);
}

static void revision_restore(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    int64_t number = id ? parse_revision(call->params[1]) : 0;
    if (!id)
        return;
    if (!number) {
        api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such revision");
        return;
    }
    int64_t expected = parse_if_match(call->if_match);
    if (expected == 0) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_if_match", "If-Match must be a revision number in quotes");
        return;
    }
    StoreProject project;
    StoreStatus st = store_revision_restore(db, call->user.id, id, number, expected, api_now(), &project);
    if (st == STORE_CONFLICT) {
        reply_stale(call, expected, project.revision);
        return;
    }
    if (st != STORE_OK) {
        if (st == STORE_NOT_FOUND)
            api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such project or revision");
        else
            api_store_error(call, st);
        return;
    }
    if (store_project_saved_hook) {
        char *text = NULL;
        if (store_revision_get(db, call->user.id, id, project.revision, NULL, &text) == STORE_OK)
            announce(&project, text);
        free(text);
    }
    set_etag(call, project.revision);
    json_t *body = project_json(&project);
    json_object_set_new(body, "restored_from", json_integer(number));
    api_reply(call, MHD_HTTP_OK, body);
}

/* ---- share links ------------------------------------------------------------------- */

static void share_create(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    if (!id)
        return;
    char token[AUTH_TOKEN_LEN + 1];
    auth_new_token(token);
    uint8_t hash[AUTH_TOKEN_HASH_BYTES];
    auth_token_hash(token, hash);
    StoreStatus st = store_share_set(db, call->user.id, id, hash);
    if (st != STORE_OK) {
        api_store_error(call, st);
        return;
    }
    char path[128];
    snprintf(path, sizeof path, "/api/shared/%s", token);
    api_reply(call, MHD_HTTP_CREATED, json_pack("{s:s,s:s}", "token", token, "path", path));
}

static void share_delete(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    if (!id)
        return;
    StoreStatus st = store_share_clear(db, call->user.id, id);
    if (st != STORE_OK)
        api_store_error(call, st);
    else
        api_reply(call, MHD_HTTP_NO_CONTENT, NULL);
}

static void shared_get(ApiCall *call, StoreConn *db)
{
    if (!auth_token_well_formed(call->params[0])) {
        api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such share link");
        return;
    }
    uint8_t hash[AUTH_TOKEN_HASH_BYTES];
    auth_token_hash(call->params[0], hash);
    StoreProject project;
    char *text = NULL;
    StoreStatus st = store_shared_get(db, hash, &project, &text);
    if (st != STORE_OK) {
        if (st == STORE_NOT_FOUND)
            api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such share link");
        else
            api_store_error(call, st);
        return;
    }
    json_t *doc = stored_document(text);
    free(text);
    if (!doc) {
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "damaged_document", "the stored document cannot be read");
        return;
    }
    /* No project id: the link grants reading, nothing else. */
    api_reply(call, MHD_HTTP_OK,
              json_pack("{s:s,s:I,s:I,s:o}", "name", project.name, "revision", (json_int_t)project.revision,
                        "updated_at", (json_int_t)project.updated_at, "document", doc));
}

enum MHD_Result api_shared_get(struct MHD_Connection *conn, const HttpRequest *req)
{
    const char *token = req->path + strlen("/api/shared/");
    if (strlen(token) >= API_PARAM_MAX || strchr(token, '/'))
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such share link");
    const char *params[] = {token};
    return api_defer(conn, req, shared_get, 0, params, 1);
}

/* ---- dispatch of /api/projects/{id}/... ------------------------------------------- */

/* A sub-route: the segments after /api/projects/ ("*" takes a parameter). */
typedef struct ProjectRoute {
    const char *method;
    const char *pattern[PATH_SEGMENTS_MAX];
    ApiWork work;
    unsigned requires;
} ProjectRoute;

static const ProjectRoute project_routes[] = {
    {"GET", {"*"}, project_get, API_USER},
    {"PUT", {"*"}, project_put, API_USER | API_WRITE},
    {"PATCH", {"*"}, project_rename, API_USER | API_WRITE},
    {"DELETE", {"*"}, project_delete, API_USER | API_WRITE},
    {"POST", {"*", "duplicate"}, project_duplicate, API_USER | API_WRITE},
    {"POST", {"*", "share"}, share_create, API_USER | API_WRITE},
    {"DELETE", {"*", "share"}, share_delete, API_USER | API_WRITE},
    {"GET", {"*", "revisions"}, revisions_list, API_USER},
    {"GET", {"*", "revisions", "*"}, revision_get, API_USER},
    {"POST", {"*", "revisions", "*", "restore"}, revision_restore, API_USER | API_WRITE},
};

/* Split `rest` at '/' into at most PATH_SEGMENTS_MAX segments of fewer
 * than API_PARAM_MAX bytes; -1 when it does not fit (or is empty). */
static int split_segments(const char *rest, char segments[PATH_SEGMENTS_MAX][API_PARAM_MAX])
{
    int n = 0;
    const char *p = rest;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == PATH_SEGMENTS_MAX || len == 0 || len >= API_PARAM_MAX)
            return -1;
        memcpy(segments[n], p, len);
        segments[n][len] = '\0';
        n++;
        if (!slash)
            return n;
        p = slash + 1;
    }
}

static bool route_matches(const ProjectRoute *r, char segments[PATH_SEGMENTS_MAX][API_PARAM_MAX], int n,
                          const char **params, int *n_params)
{
    *n_params = 0;
    int i = 0;
    for (; i < PATH_SEGMENTS_MAX && r->pattern[i]; i++) {
        if (i >= n)
            return false;
        if (strcmp(r->pattern[i], "*") == 0)
            params[(*n_params)++] = segments[i];
        else if (strcmp(r->pattern[i], segments[i]) != 0)
            return false;
    }
    return i == n;
}

enum MHD_Result api_projects_item(struct MHD_Connection *conn, const HttpRequest *req)
{
    char segments[PATH_SEGMENTS_MAX][API_PARAM_MAX];
    int n = split_segments(req->path + strlen("/api/projects/"), segments);
    char allow[64] = "";
    for (size_t i = 0; n > 0 && i < sizeof project_routes / sizeof project_routes[0]; i++) {
        const char *params[API_MAX_PARAMS];
        int n_params;
        const ProjectRoute *r = &project_routes[i];
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
