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
 *   GET    /api/projects/{id}/bundle[?revision=N] a tar of it, its patches and assets 200 (api_bundle.c)
 *
 * All but the last need a caller (api.h); writes need the CSRF token. A
 * project of another user is 404 like one that does not exist, on every
 * endpoint: the store finds projects only through their owner. Ids are 32
 * random hex digits, never sequential.
 *
 * Documents: the engine's project JSON (runtime/formats/PROJECT.md). A save
 * upgrades an older format version (doc_upgrade.h), then validates it with
 * the engine's own reader (project_load_text: structure, types, ranges;
 * a {"library", "revision"} patch must be one of the caller's:
 * api_patches_check_references; an audio region or a sample slot names
 * an asset the caller uploaded, never a file path:
 * api_assets_check_references; the
 * params and lanes of built-in and library patches are checked against
 * their compiled metadata: api_compile_check_params), then
 * stores it compactly as a new revision. A stale If-Match is 412 with the
 * current revision in the error, and nothing is written: the client keeps
 * its document and decides (reload, merge, save again). Each new revision is
 * announced through store_project_saved_hook (store.h) when it is set.
 */
#include "api.h"
#include "doc_upgrade.h"
#include "project_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ProjectSavedHook store_project_saved_hook;

#define PROJECT_NAME_MAX 200           /* bytes */
#define EMPTY_DOCUMENT "{\"version\":1,\"tracks\":[]}"

/* ---- checks and conversions ---------------------------------------------- */

/* A project name: 1..PROJECT_NAME_MAX bytes of UTF-8 (jansson checked
 * that), no control characters. NULL with the reply set. */
static const char *project_name(ApiCall *call, json_t *body, bool required)
{
    return api_name_member(call, body, "project", PROJECT_NAME_MAX, required);
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
json_t *api_projects_stored_document(const char *text)
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
    bool found = api_patches_check_references(call, db, &project) && api_assets_check_references(call, db, &project) &&
                 api_compile_check_params(call, db, &project);
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

/* The project id of the call, or 404 set and NULL. */
static const char *project_id(ApiCall *call)
{
    return api_id_param(call, "no such project");
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
        char id[API_ID_HEX + 1];
        api_new_id(id);
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
    api_set_etag(call, project.revision);
    api_reply(call, MHD_HTTP_CREATED, project_json(&project));
}

enum MHD_Result api_projects_collection(struct MHD_Connection *conn, const HttpRequest *req)
{
    if (strcmp(req->method, "POST") == 0)
        return api_defer(conn, req, projects_create, API_USER | API_WRITE, NULL, 0);
    return api_defer(conn, req, projects_list, API_USER, NULL, 0);
}

/* ---- one project ------------------------------------------------------------------ */

json_t *api_projects_load(ApiCall *call, StoreConn *db, const char *id, int64_t number, StoreProject *project,
                          StoreRevision *revision)
{
    char *text = NULL;
    StoreStatus st = number > 0 ? store_revision_get(db, call->user.id, id, number, revision, &text)
                                : store_project_get(db, call->user.id, id, project, &text);
    if (st != STORE_OK) {
        if (number > 0)
            api_store_error_as(call, st, "no such project or revision");
        else
            api_store_error(call, st);
        return NULL;
    }
    json_t *doc = api_projects_stored_document(text);
    free(text);
    if (!doc)
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "damaged_document", "the stored document cannot be read");
    return doc;
}

static void project_get(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    if (!id)
        return;
    StoreProject project;
    json_t *doc = api_projects_load(call, db, id, 0, &project, NULL);
    if (!doc)
        return;
    json_t *body = project_json(&project);
    json_object_set_new(body, "document", doc);
    api_set_etag(call, project.revision);
    api_reply(call, MHD_HTTP_OK, body);
}

static void project_put(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    if (!id)
        return;
    int64_t expected = api_if_match_required(call);
    if (!expected)
        return;
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
        api_reply_stale(call, "project", expected, project.revision);
    else if (st != STORE_OK)
        api_store_error(call, st);
    else {
        announce(&project, text);
        api_set_etag(call, project.revision);
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
    api_set_etag(call, project.revision);
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
        char new_id[API_ID_HEX + 1];
        api_new_id(new_id);
        st = store_project_duplicate(db, call->user.id, id, new_id, name, api_now(), &project);
    }
    json_decref(body);
    if (st != STORE_OK) {
        api_store_error(call, st == STORE_CONFLICT ? STORE_ERROR : st);
        return;
    }
    api_set_etag(call, project.revision);
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
    api_reply_revisions(call, &list);
}

static void revision_get(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    int64_t number = id ? api_revision_number(call->params[1], strlen(call->params[1])) : 0;
    if (!id)
        return;
    if (!number) {
        api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such revision");
        return;
    }
    StoreRevision revision;
    json_t *doc = api_projects_load(call, db, id, number, NULL, &revision);
    if (!doc)
        return;
    json_t *body = json_pack("{s:I,s:I,s:o}", "revision", (json_int_t)revision.number, "created_at",
                             (json_int_t)revision.created_at, "document", doc);
    if (revision.restored_from)
        json_object_set_new(body, "restored_from", json_integer(revision.restored_from));
    api_reply(call, MHD_HTTP_OK, body);
}

static void revision_restore(ApiCall *call, StoreConn *db)
{
    const char *id = project_id(call);
    int64_t number = id ? api_revision_number(call->params[1], strlen(call->params[1])) : 0;
    if (!id)
        return;
    if (!number) {
        api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such revision");
        return;
    }
    int64_t expected = api_if_match(call);
    if (expected == 0) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_if_match", "If-Match must be a revision number in quotes");
        return;
    }
    StoreProject project;
    StoreStatus st = store_revision_restore(db, call->user.id, id, number, expected, api_now(), &project);
    if (st == STORE_CONFLICT) {
        api_reply_stale(call, "project", expected, project.revision);
        return;
    }
    if (st != STORE_OK) {
        api_store_error_as(call, st, "no such project or revision");
        return;
    }
    if (store_project_saved_hook) {
        char *text = NULL;
        if (store_revision_get(db, call->user.id, id, project.revision, NULL, &text) == STORE_OK)
            announce(&project, text);
        free(text);
    }
    api_set_etag(call, project.revision);
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
        api_store_error_as(call, st, "no such share link");
        return;
    }
    json_t *doc = api_projects_stored_document(text);
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

static const ApiRoute project_routes[] = {
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

enum MHD_Result api_projects_item(struct MHD_Connection *conn, const HttpRequest *req)
{
    const char *id = req->path + strlen("/api/projects/");
    const char *slash = strchr(id, '/');
    if (slash && strcmp(slash, "/bundle") == 0 && strcmp(req->method, "GET") == 0)
        return api_projects_bundle(conn, req, id, (size_t)(slash - id));
    return api_route(conn, req, "/api/projects/", project_routes, sizeof project_routes / sizeof project_routes[0]);
}
