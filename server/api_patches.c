/* api_patches.c — the patch library: a user's .amp patches with their
 * revisions, and the read-only built-in library (the repo's nodes/).
 *
 *   GET    /api/patches                      the caller's patches, then the built-in ones  200
 *   POST   /api/patches                      {"name", "text"}                              201
 *   GET    /api/patches/{id}                 the latest text, ETag "<rev>"                 200
 *   PUT    /api/patches/{id}                 {"text"}; If-Match "<rev>" required           200, 412, 428
 *   PATCH  /api/patches/{id}                 {"name"}: rename                              200
 *   DELETE /api/patches/{id}                 the patch and its history                     204
 *   GET    /api/patches/{id}/revisions       the history, newest first                     200
 *   GET    /api/patches/{id}/revisions/{n}   an old revision's text                        200
 *   GET    /api/library/{path}               a built-in file's text (no session needed)    200
 *
 * The /api/patches endpoints need a caller (api.h), writes the CSRF token;
 * another user's patch is 404 exactly like a missing one (the store finds
 * patches only through their owner). Ids are 32 random hex digits.
 *
 * A patch's text is opaque here: UTF-8 (the raw body is checked before the
 * JSON parser sees it, so the refusal names the encoding), at most
 * PATCH_TEXT_MAX bytes (413), stored as sent. ampd does not compile it: no
 * compiler is linked into ampd, and a compile service is a later issue
 * (server/README.md). Saves are revisions, with If-Match as for projects: a
 * stale one is 412 with the current revision and writes nothing.
 *
 * The built-in library is a directory (--library DIR, else "library" beside
 * the web root), opened once at start-up as a descriptor; every file and
 * folder under it is opened beneath that descriptor with no symlink followed
 * (static_open_beneath, as static.c does for the web root), so no path in a
 * request can leave it. GET /api/library/{path} serves .amp patches and the
 * .dsp files they import; reading a small file runs on the event loop as
 * static.c's opens do, and needs no storage. Listing it runs on a worker
 * with the user's patches.
 *
 * Projects name a patch as {"library": id, "revision": n}
 * (runtime/formats/PROJECT.md); api_patches_check_references is what a
 * project save (api_projects.c) calls to refuse ids and revisions that are
 * not the caller's, and {"builtin": path} patches that the built-in
 * library does not hold (without a library every valid path is accepted:
 * the browser's engine has the patches of nodes/ built in, and refuses an
 * unknown one when it renders).
 */
#include "api.h"
#include "project.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATCH_TEXT_MAX (256u << 10)   /* bytes of .amp text: 413 beyond */
#define PATCH_NAME_MAX 200            /* bytes, as project names */
#define LIBRARY_PATH_MAX 255          /* bytes of a path under the library */
#define LIBRARY_DEPTH_MAX 8           /* folders listed below the library */
#define LIBRARY_FILES_MAX 1000        /* files listed */

/* The built-in library's directory (O_PATH), or -1 for none. Set by
 * api_patches_library before the daemon starts; read-only afterwards. */
static int library_fd = -1;
static char *library_path;             /* its real path, for the compile service */

/* ---- checks and conversions ------------------------------------------------- */

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* The request body as a JSON object, refusing a body that is not UTF-8
 * with its own code first. NULL with the reply set. */
static json_t *patch_body(ApiCall *call)
{
    if (call->req->body && !utf8_valid((const unsigned char *)call->req->body, call->req->body_len)) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "not_utf8", "the request body must be UTF-8");
        return NULL;
    }
    return api_body_object(call);
}

/* A patch name: 1..PATCH_NAME_MAX bytes of UTF-8, no control characters
 * (the rules of project names). NULL with the reply set. */
static const char *patch_name(ApiCall *call, json_t *body)
{
    return api_name_member(call, body, "patch", PATCH_NAME_MAX, true);
}

/* The "text" member: a string of at most PATCH_TEXT_MAX bytes (UTF-8: the
 * body was checked). NULL with the reply set. */
static const char *patch_text(ApiCall *call, json_t *body)
{
    json_t *v = json_object_get(body, "text");
    if (!v) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "missing_field", "the field \"text\" is required");
        return NULL;
    }
    if (!json_is_string(v)) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "wrong_type", "the field \"text\" must be a string");
        return NULL;
    }
    if (json_string_length(v) > PATCH_TEXT_MAX) {
        char hint[96];
        snprintf(hint, sizeof hint, "a patch's text is at most %u bytes", PATCH_TEXT_MAX);
        api_error(call, MHD_HTTP_CONTENT_TOO_LARGE, "patch_too_large", hint);
        return NULL;
    }
    return json_string_value(v);
}

static json_t *patch_json(const StorePatch *p)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:b}", "id", p->public_id, "name", p->name, "revision",
                     (json_int_t)p->revision, "created_at", (json_int_t)p->created_at, "updated_at",
                     (json_int_t)p->updated_at, "size", (json_int_t)p->size, "builtin", 0);
}

/* The patch id of the call, or 404 set and NULL. */
static const char *patch_id(ApiCall *call)
{
    return api_id_param(call, "no such patch");
}

static void patch_store_error(ApiCall *call, StoreStatus status)
{
    api_store_error_as(call, status, "no such patch");
}

/* ---- the built-in library ------------------------------------------------------ */

/* A path under the library as a request may name it: segments of
 * [A-Za-z0-9_+-.], none empty or starting with '.', ending in .amp or
 * .dsp. (http.c already refused dot segments, NUL and backslashes; this
 * also refuses a leading '/', "//" and anything a file name of ours never
 * holds.) */
static bool library_path_valid(const char *path)
{
    size_t n = strlen(path);
    if (n == 0 || n > LIBRARY_PATH_MAX)
        return false;
    bool segment_start = true;
    for (const char *p = path; *p; p++) {
        char c = *p;
        if (c == '/') {
            if (segment_start)
                return false;
            segment_start = true;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '+' || (c == '.' && !segment_start);
        if (!ok)
            return false;
        segment_start = false;
    }
    if (segment_start)
        return false;
    return (n > 4 && strcmp(path + n - 4, ".amp") == 0) || (n > 4 && strcmp(path + n - 4, ".dsp") == 0);
}

/* Read the regular file `path` beneath the library: malloc'd text and its
 * size, or NULL with *status and *code set for the reply. */
static char *library_read(const char *path, size_t *size, unsigned *status, const char **code,
                          const char **hint)
{
    *status = MHD_HTTP_NOT_FOUND, *code = "not_found", *hint = "no such file in the library";
    if (library_fd < 0) {
        *hint = "this server has no patch library (ampd --library DIR)";
        return NULL;
    }
    if (!library_path_valid(path)) {
        *status = MHD_HTTP_BAD_REQUEST, *code = "bad_path";
        *hint = "a library path is folders and a .amp or .dsp file name, relative, without dot segments";
        return NULL;
    }
    int fd = static_open_beneath(library_fd, path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP || errno == EXDEV) {
            *status = MHD_HTTP_FORBIDDEN, *code = "forbidden";
            *hint = "the path crosses a symbolic link, which is never followed";
        }
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    if (st.st_size > (off_t)PATCH_TEXT_MAX) {
        close(fd);
        *status = MHD_HTTP_FORBIDDEN, *code = "too_large", *hint = "the file is larger than a patch may be";
        return NULL;
    }
    char *text = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (text && got < (size_t)st.st_size) {
        ssize_t r = read(fd, text + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!text || got != (size_t)st.st_size) {
        free(text);
        *status = MHD_HTTP_INTERNAL_SERVER_ERROR, *code = "internal", *hint = "the file could not be read";
        return NULL;
    }
    text[got] = '\0';
    if (!utf8_valid((const unsigned char *)text, got) || strlen(text) != got) {
        free(text);
        *status = MHD_HTTP_UNPROCESSABLE_CONTENT, *code = "not_utf8", *hint = "the library file is not UTF-8 text";
        return NULL;
    }
    *size = got;
    return text;
}

/* "std/osc.amp" -> "std/osc": the name a built-in patch is listed by. */
static json_t *builtin_json(const char *path, size_t size)
{
    size_t n = strlen(path);
    return json_pack("{s:s,s:s#,s:I,s:b}", "path", path, "name", path, (int)(n - 4), "size", (json_int_t)size,
                     "builtin", 1);
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "path")),
                  json_string_value(json_object_get(*(json_t *const *)b, "path")));
}

/* List the .amp files of the directory `dir` (a descriptor the caller
 * owns) whose path under the library is `prefix`, recursing into folders;
 * symlinks and hidden names are skipped, never followed. */
static void list_folder(int dir, const char *prefix, int depth, json_t *items)
{
    int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) && json_array_size(items) < LIBRARY_FILES_MAX) {
        char path[LIBRARY_PATH_MAX + 2];
        if (e->d_name[0] == '.' ||
            (size_t)snprintf(path, sizeof path, "%s%s", prefix, e->d_name) > LIBRARY_PATH_MAX)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < LIBRARY_DEPTH_MAX) {
            int sub = openat(dirfd(d), e->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                strcat(path, "/");
                list_folder(sub, path, depth + 1, items);
                close(sub);
            }
        } else if (S_ISREG(st.st_mode) && library_path_valid(path) && strcmp(path + strlen(path) - 4, ".amp") == 0 &&
                   st.st_size <= (off_t)PATCH_TEXT_MAX) {
            json_array_append_new(items, builtin_json(path, (size_t)st.st_size));
        }
    }
    closedir(d);
}

/* The built-in patches, sorted by path. */
static json_t *library_list(void)
{
    json_t *items = json_array();
    if (library_fd < 0)
        return items;
    list_folder(library_fd, "", 0, items);
    size_t n = json_array_size(items);
    json_t **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return items;
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_incref(json_array_get(items, i));
    qsort(sorted, n, sizeof *sorted, compare_paths);
    json_array_clear(items);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, sorted[i]);
    free(sorted);
    return items;
}

bool api_patches_library(const char *dir, bool required)
{
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (required)
            fprintf(stderr, "ampd: --library %s: %s\n", dir, strerror(errno));
        return !required;
    }
    if (library_fd >= 0)
        close(library_fd);
    library_fd = fd;
    free(library_path);
    library_path = realpath(dir, NULL);
    return true;
}

const char *api_patches_library_path(void)
{
    return library_fd >= 0 ? library_path : NULL;
}

enum MHD_Result api_library_get(struct MHD_Connection *conn, const HttpRequest *req)
{
    const char *path = req->path + strlen("/api/library/");
    size_t size;
    unsigned status;
    const char *code, *hint;
    char *text = library_read(path, &size, &status, &code, &hint);
    if (!text)
        return reply_error(conn, status, code, hint);
    json_t *body = builtin_json(path, size);
    json_object_set_new(body, "text", json_stringn(text, size));
    free(text);
    return http_reply_json(conn, MHD_HTTP_OK, body);
}

/* ---- the collection --------------------------------------------------------------- */

static void patches_list(ApiCall *call, StoreConn *db)
{
    StorePatchList list;
    StoreStatus st = store_patch_list(db, call->user.id, &list);
    if (st != STORE_OK) {
        api_store_error(call, st);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < list.count; i++)
        json_array_append_new(items, patch_json(&list.items[i]));
    store_patch_list_free(&list);
    json_t *builtin = library_list();
    json_array_extend(items, builtin);
    json_decref(builtin);
    api_reply(call, MHD_HTTP_OK, json_pack("{s:o}", "patches", items));
}

static void patches_create(ApiCall *call, StoreConn *db)
{
    json_t *body = patch_body(call);
    const char *name = body ? patch_name(call, body) : NULL;
    const char *text = name ? patch_text(call, body) : NULL;
    if (!text) {
        json_decref(body);
        return;
    }
    StorePatch patch;
    StoreStatus st = STORE_CONFLICT;
    for (int attempt = 0; attempt < 4 && st == STORE_CONFLICT; attempt++) {
        char id[API_ID_HEX + 1];
        api_new_id(id);
        st = store_patch_create(db, call->user.id, id, name, text, api_now(), &patch);
    }
    json_decref(body);
    if (st != STORE_OK) {
        api_store_error(call, STORE_ERROR);
        return;
    }
    api_set_etag(call, patch.revision);
    api_reply(call, MHD_HTTP_CREATED, patch_json(&patch));
}

enum MHD_Result api_patches_collection(struct MHD_Connection *conn, const HttpRequest *req)
{
    if (strcmp(req->method, "POST") == 0)
        return api_defer(conn, req, patches_create, API_USER | API_WRITE, NULL, 0);
    return api_defer(conn, req, patches_list, API_USER, NULL, 0);
}

/* ---- one patch ------------------------------------------------------------------------ */

static void patch_get(ApiCall *call, StoreConn *db)
{
    const char *id = patch_id(call);
    if (!id)
        return;
    StorePatch patch;
    char *text = NULL;
    StoreStatus st = store_patch_get(db, call->user.id, id, &patch, &text);
    if (st != STORE_OK) {
        patch_store_error(call, st);
        return;
    }
    json_t *body = patch_json(&patch);
    json_object_set_new(body, "text", json_string(text));
    free(text);
    api_set_etag(call, patch.revision);
    api_reply(call, MHD_HTTP_OK, body);
}

static void patch_put(ApiCall *call, StoreConn *db)
{
    const char *id = patch_id(call);
    if (!id)
        return;
    int64_t expected = api_if_match_required(call);
    if (!expected)
        return;
    json_t *body = patch_body(call);
    const char *text = body ? patch_text(call, body) : NULL;
    if (!text) {
        json_decref(body);
        return;
    }
    StorePatch patch;
    StoreStatus st = store_patch_save(db, call->user.id, id, expected, text, api_now(), &patch);
    json_decref(body);
    if (st == STORE_CONFLICT) {
        api_reply_stale(call, "patch", expected, patch.revision);
        return;
    }
    if (st != STORE_OK) {
        patch_store_error(call, st);
        return;
    }
    api_set_etag(call, patch.revision);
    api_reply(call, MHD_HTTP_OK, patch_json(&patch));
}

static void patch_rename(ApiCall *call, StoreConn *db)
{
    const char *id = patch_id(call);
    json_t *body = id ? patch_body(call) : NULL;
    const char *name = body ? patch_name(call, body) : NULL;
    if (!name) {
        json_decref(body);
        return;
    }
    StorePatch patch;
    StoreStatus st = store_patch_rename(db, call->user.id, id, name, api_now(), &patch);
    json_decref(body);
    if (st != STORE_OK) {
        patch_store_error(call, st);
        return;
    }
    api_set_etag(call, patch.revision);
    api_reply(call, MHD_HTTP_OK, patch_json(&patch));
}

static void patch_delete(ApiCall *call, StoreConn *db)
{
    const char *id = patch_id(call);
    if (!id)
        return;
    StoreStatus st = store_patch_delete(db, call->user.id, id);
    if (st != STORE_OK)
        patch_store_error(call, st);
    else
        api_reply(call, MHD_HTTP_NO_CONTENT, NULL);
}

static void patch_revisions(ApiCall *call, StoreConn *db)
{
    const char *id = patch_id(call);
    if (!id)
        return;
    StoreRevisionList list;
    StoreStatus st = store_patch_revision_list(db, call->user.id, id, &list);
    if (st != STORE_OK) {
        patch_store_error(call, st);
        return;
    }
    api_reply_revisions(call, &list);
}

static void patch_revision(ApiCall *call, StoreConn *db)
{
    const char *id = patch_id(call);
    if (!id)
        return;
    int64_t number = api_revision_number(call->params[1], strlen(call->params[1]));
    StoreRevision revision;
    char *text = NULL;
    StoreStatus st = number ? store_patch_revision_get(db, call->user.id, id, number, &revision, &text)
                            : STORE_NOT_FOUND;
    if (st != STORE_OK) {
        api_store_error_as(call, st, "no such patch or revision");
        return;
    }
    api_reply(call, MHD_HTTP_OK,
              json_pack("{s:I,s:I,s:I,s:s}", "revision", (json_int_t)revision.number, "created_at",
                        (json_int_t)revision.created_at, "size", (json_int_t)revision.size, "text", text));
    free(text);
}

/* ---- dispatch of /api/patches/{id}/... ------------------------------------------------- */

static const ApiRoute patch_routes[] = {
    {"GET", {"*"}, patch_get, API_USER},
    {"PUT", {"*"}, patch_put, API_USER | API_WRITE},
    {"PATCH", {"*"}, patch_rename, API_USER | API_WRITE},
    {"DELETE", {"*"}, patch_delete, API_USER | API_WRITE},
    {"GET", {"*", "revisions"}, patch_revisions, API_USER},
    {"GET", {"*", "revisions", "*"}, patch_revision, API_USER},
};

enum MHD_Result api_patches_item(struct MHD_Connection *conn, const HttpRequest *req)
{
    return api_route(conn, req, "/api/patches/", patch_routes, sizeof patch_routes / sizeof patch_routes[0]);
}

/* ---- projects naming library patches ---------------------------------------------------- */

/* Is `path` a regular file of the built-in library (true when there is
 * no library to ask)? */
static bool builtin_found(const char *path)
{
    if (library_fd < 0)
        return true;
    if (!library_path_valid(path))
        return false;
    int fd = static_open_beneath(library_fd, path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat st;
    bool found = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    return found;
}

/* One {"library", "revision"} patch of a project: the caller's? A
 * {"builtin"} one: in the built-in library? */
static bool reference_found(ApiCall *call, StoreConn *db, const ProjectPatch *pp)
{
    if (!pp->library && !pp->builtin) {
        /* A file path would name something on the server's disk. */
        char hint[PROJECT_MAX_JSON_PATH + 200];
        snprintf(hint, sizeof hint,
                 "%s: a stored project names a patch of the library, {\"builtin\": path} or "
                 "{\"library\": id, \"revision\": n}, not a file",
                 pp->at);
        api_error(call, MHD_HTTP_UNPROCESSABLE_CONTENT, "file_path", hint);
        return false;
    }
    if (pp->builtin) {
        if (builtin_found(pp->builtin))
            return true;
        char hint[PROJECT_MAX_JSON_PATH + 320];
        snprintf(hint, sizeof hint, "%s: the built-in library has no patch '%s'", pp->at, pp->builtin);
        api_error(call, MHD_HTTP_UNPROCESSABLE_CONTENT, "unknown_patch", hint);
        return false;
    }
    if (!pp->library)
        return true;
    StoreStatus st = api_is_id(pp->library)
                         ? store_patch_revision_get(db, call->user.id, pp->library, pp->library_revision, NULL, NULL)
                         : STORE_NOT_FOUND;
    if (st == STORE_OK)
        return true;
    if (st != STORE_NOT_FOUND) {
        api_store_error(call, st);
        return false;
    }
    char hint[PROJECT_MAX_JSON_PATH + 160];
    snprintf(hint, sizeof hint, "%s: your patch library has no patch '%.64s' with revision %d", pp->at,
             pp->library, pp->library_revision);
    api_error(call, MHD_HTTP_UNPROCESSABLE_CONTENT, "unknown_patch", hint);
    return false;
}

bool api_patches_check_references(ApiCall *call, StoreConn *db, const struct Project *project)
{
    for (int i = 0; i < project->n_tracks; i++) {
        const ProjectTrack *t = &project->tracks[i];
        if (t->kind == ENGINE_TRACK_INSTRUMENT && !reference_found(call, db, &t->patch))
            return false;
        for (int k = 0; k < t->n_inserts; k++)
            if (!reference_found(call, db, &t->inserts[k]))
                return false;
    }
    return true;
}
