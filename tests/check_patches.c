/* check_patches.c — the patch library (server/api_patches.c, the patches
 * section of store_sqlite.c, migration 003) and projects naming library
 * patches (api_projects.c's check).
 *
 * "core": in-process: the store's patch functions (revisions, conflicts,
 * owners, SQL metacharacters) and the migrations applied by number.
 * The other cases start the real build/ampd on a free loopback port with a
 * temporary --data, fast argon2id (--argon-ops 1 --argon-mem 8192) and
 * --library at the repo's nodes/, and talk to it with the small client
 * below: "patches": every endpoint, revisions, If-Match (a stale save is
 * 412 and loses nothing), bad input of every class, sessions and CSRF,
 * another user's patch 404 like a missing one. "library": the built-in
 * files, read-only, and path tricks. "links": a library of our own holding
 * symlinks, a FIFO, a non-UTF-8 and an oversized file. "projects": a
 * project naming a library patch, accepted for its owner only.
 */
#include "testutil.h"
#include "ampd_process.h"
#include "api_client.h"

#include "store.h"

#include <jansson.h>

#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AMPD_PATH
#define AMPD_PATH "build/ampd"
#endif

#define PATCH_TEXT_MAX (256 << 10) /* api_patches.c: 413 beyond */

extern const int store_n_migrations;

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return text;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* ---- core: in-process ------------------------------------------------------ */

START_TEST(test_store_patches)
{
    char *dir = api_temp_dir("ampd-patches-store");
    char err[512];
    Store *store = store_open(dir, err, sizeof err);
    ck_assert_msg(store != NULL, "%s", err);
    StoreConn *c = store_connect(store, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    StoreUser u, v;
    ck_assert_int_eq(store_user_create(c, "owner", "h", false, 1, &u), STORE_OK);
    ck_assert_int_eq(store_user_create(c, "other", "h", false, 1, &v), STORE_OK);

    static const char id[] = "0123456789abcdef0123456789abcdef";
    static const char evil[] = "x'); DROP TABLE patches;--";
    StorePatch p;
    ck_assert_int_eq(store_patch_create(c, u.id, id, evil, "node a {}", 10, &p), STORE_OK);
    ck_assert_int_eq(p.revision, 1);
    ck_assert_int_eq(p.size, 9);
    ck_assert_int_eq(store_patch_create(c, v.id, id, "dup", "", 10, &p), STORE_CONFLICT);
    ck_assert_int_eq(store_patch_save(c, u.id, id, 1, evil, 11, &p), STORE_OK);
    ck_assert_int_eq(p.revision, 2);
    ck_assert_int_eq(store_patch_save(c, u.id, id, 1, "lost", 12, &p), STORE_CONFLICT);
    ck_assert_int_eq(p.revision, 2);
    ck_assert_int_eq(store_patch_save(c, v.id, id, 2, "stolen", 12, &p), STORE_NOT_FOUND);
    ck_assert_int_eq(store_patch_rename(c, v.id, id, "stolen", 12, &p), STORE_NOT_FOUND);
    ck_assert_int_eq(store_patch_delete(c, v.id, id), STORE_NOT_FOUND);
    ck_assert_int_eq(store_patch_revision_get(c, v.id, id, 1, NULL, NULL), STORE_NOT_FOUND);

    char *text = NULL;
    ck_assert_int_eq(store_patch_get(c, u.id, id, &p, &text), STORE_OK);
    ck_assert_str_eq(text, evil);
    ck_assert_str_eq(p.name, evil);
    ck_assert_int_eq(p.size, (int64_t)strlen(evil));
    free(text);
    StoreRevision r;
    ck_assert_int_eq(store_patch_revision_get(c, u.id, id, 1, &r, &text), STORE_OK);
    ck_assert_str_eq(text, "node a {}");
    ck_assert_int_eq(r.created_at, 10);
    free(text);
    ck_assert_int_eq(store_patch_revision_get(c, u.id, id, 3, NULL, NULL), STORE_NOT_FOUND);
    StoreRevisionList revs;
    ck_assert_int_eq(store_patch_revision_list(c, u.id, id, &revs), STORE_OK);
    ck_assert_uint_eq(revs.count, 2);
    ck_assert_int_eq(revs.items[0].number, 2);
    store_revision_list_free(&revs);
    StorePatchList list;
    ck_assert_int_eq(store_patch_list(c, v.id, &list), STORE_OK);
    ck_assert_uint_eq(list.count, 0);
    store_patch_list_free(&list);
    ck_assert_int_eq(store_patch_list(c, u.id, &list), STORE_OK);
    ck_assert_uint_eq(list.count, 1);
    store_patch_list_free(&list);
    ck_assert_int_eq(store_patch_delete(c, u.id, id), STORE_OK);
    ck_assert_int_eq(store_patch_get(c, u.id, id, &p, NULL), STORE_NOT_FOUND);
    store_disconnect(c);
    store_close(store);

    /* The history went with the patch. */
    char path[700];
    snprintf(path, sizeof path, "%s/ampd.sqlite", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM patch_revisions", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    testutil_remove_tree(dir);
}
END_TEST

/* Migrations are applied by number: a database without 003 (made by a
 * build that had only 001) gets it, whatever numbers sit between. */
START_TEST(test_migrations_by_number)
{
    char *dir = api_temp_dir("ampd-patches-migrate");
    char err[512];
    Store *store = store_open(dir, err, sizeof err);
    ck_assert_msg(store != NULL, "%s", err);
    ck_assert_int_eq(store_schema_version(store), 3);
    store_close(store);
    char path[700];
    snprintf(path, sizeof path, "%s/ampd.sqlite", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*), min(version), max(version) FROM schema_version", -1, &s,
                                        NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), store_n_migrations);
    ck_assert_int_eq(sqlite3_column_int(s, 1), 1);
    ck_assert_int_eq(sqlite3_column_int(s, 2), 3);
    sqlite3_finalize(s);
    /* Back to a database of before the patch library. */
    ck_assert_int_eq(sqlite3_exec(db,
                                  "DROP TABLE patch_revisions; DROP TABLE patches;"
                                  " DELETE FROM schema_version WHERE version = 3",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    store = store_open(dir, err, sizeof err);
    ck_assert_msg(store != NULL, "%s", err);
    StoreConn *c = store_connect(store, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    StorePatchList list;
    ck_assert_int_eq(store_patch_list(c, 1, &list), STORE_OK);
    store_patch_list_free(&list);
    store_disconnect(c);
    store_close(store);
    /* A version this build does not have (here 4) is a newer database. */
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO schema_version VALUES (4, '004_future.sql', 0)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    ck_assert_ptr_null(store_open(dir, err, sizeof err));
    ck_assert_msg(strstr(err, "newer") && strstr(err, "4"), "%s", err);
    testutil_remove_tree(dir);
}
END_TEST

/* ---- the server under test --------------------------------------------------- */

static pid_t server_pid = -1;
static unsigned server_port;
static char *server_data, *server_root;
static char library_dir[PATH_MAX];   /* the --library folder of the running server */

/* `extra`: more arguments (NULL-terminated), or NULL. */
static void start_server_with(const char *library, const char *const *extra)
{
    server_data = api_temp_dir("ampd-patches-data");
    server_root = api_temp_dir("ampd-patches-root");
    snprintf(library_dir, sizeof library_dir, "%s", library);
    const char *args[32] = {"--port", "0", "--root", server_root, "--data", server_data, "--argon-ops", "1",
                            "--argon-mem", "8192", "--timeout", "10", "--library", library_dir};
    int n = 14;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    const char *bin = getenv("AMPD") ? getenv("AMPD") : AMPD_PATH;
    server_pid = ampd_spawn(bin, args, &server_port, NULL, 0);
    ck_assert_msg(server_port != 0, "ampd did not start (%s)", bin);
}

static void start_server(const char *library)
{
    start_server_with(library, NULL);
}

static void stop_server(void)
{
    ampd_stop(server_pid, 10);
    server_pid = -1;
    testutil_remove_tree(server_data);
    testutil_remove_tree(server_root);
}

/* The repo's nodes/, as make run passes it. */
static void start_with_nodes(void)
{
    char nodes[PATH_MAX];
    ck_assert_ptr_nonnull(realpath("nodes", nodes));
    start_server(nodes);
}

/* ---- a small HTTP client (api_client.h) ---------------------------------------- */

/* One request with a JSON `body` (NULL: none) and `extra` header lines,
 * each ending in \r\n. */
static Reply *call(const Agent *a, const char *method, const char *path, const char *body, const char *extra)
{
    return api_client_request(server_port, a, method, path, body, body ? strlen(body) : 0, extra);
}

/* Sign up `name` with the password "<name>-password". */
static Agent signup(const char *name)
{
    char password[256];
    snprintf(password, sizeof password, "%s-password", name);
    return api_client_signup(server_port, name, password);
}

/* Create a patch from a JSON body; its id into `id` (33 bytes). */
static void create_patch(const Agent *a, const char *body, char *id)
{
    Reply *r = call(a, "POST", "/api/patches", body, NULL);
    expect(r, 201, NULL);
    const char *got = json_string_value(json_object_get(r->json, "id"));
    ck_assert_uint_eq(strlen(got), 32);
    snprintf(id, 33, "%s", got);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 1);
    ck_assert_str_eq(reply_header(r, "ETag"), "\"1\"");
    reply_free(r);
}

/* The text of GET `path`, which must be 200 at `revision` (0: any). */
static void expect_text(const Agent *a, const char *path, const char *text, int revision)
{
    Reply *r = call(a, "GET", path, NULL, NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "text")), text);
    if (revision)
        ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), revision);
    reply_free(r);
}

static Reply *put_text(const Agent *a, const char *id, const char *if_match, const char *text)
{
    char path[128], extra[128] = "";
    snprintf(path, sizeof path, "/api/patches/%s", id);
    if (if_match)
        snprintf(extra, sizeof extra, "If-Match: %s\r\n", if_match);
    json_t *body = json_pack("{s:s}", "text", text);
    char *json = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    Reply *r = call(a, "PUT", path, json, extra);
    free(json);
    return r;
}

/* ---- patches --------------------------------------------------------------------------- */

#define TEXT_A "// a\nnode tone { out y; param freq = 440 hz in [20 hz, 2 khz]; }\n"
#define TEXT_B "// b: \xc3\xa9t\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x8e\xb5\nnode tone { out y; }\n"

START_TEST(test_patch_lifecycle)
{
    Agent a = signup("alice");
    char id[33], path[128], sub[192];
    create_patch(&a, "{\"name\":\"Tone\",\"text\":\"// a\\nnode tone { out y; param freq = 440 hz in [20 hz, 2 khz]; }\\n\"}",
                 id);
    snprintf(path, sizeof path, "/api/patches/%s", id);
    Reply *r = call(&a, "GET", path, NULL, NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "text")), TEXT_A);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Tone");
    ck_assert(json_is_false(json_object_get(r->json, "builtin")));
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "size")), (json_int_t)strlen(TEXT_A));
    ck_assert_str_eq(reply_header(r, "ETag"), "\"1\"");
    reply_free(r);

    /* Saves: If-Match required and well formed; revisions count up. */
    expect_free(put_text(&a, id, NULL, TEXT_B), 428, "if_match_required");
    static const char *bad_if_match[] = {"\"x\"", "\"0\"", "\"01\"", "\"-1\"", "\"\"", "\"1"};
    for (size_t i = 0; i < sizeof bad_if_match / sizeof bad_if_match[0]; i++)
        expect_free(put_text(&a, id, bad_if_match[i], TEXT_B), 400, "bad_if_match");
    r = put_text(&a, id, "\"1\"", TEXT_B);
    expect(r, 200, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 2);
    ck_assert_str_eq(reply_header(r, "ETag"), "\"2\"");
    reply_free(r);
    /* A stale save: 412 with the current revision; nothing lost or written. */
    r = put_text(&a, id, "\"1\"", "lost");
    expect(r, 412, NULL);
    json_t *error = json_object_get(r->json, "error");
    ck_assert_str_eq(json_string_value(json_object_get(error, "code")), "stale_revision");
    ck_assert_int_eq(json_integer_value(json_object_get(error, "current_revision")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(error, "your_revision")), 1);
    ck_assert_str_eq(reply_header(r, "ETag"), "\"2\"");
    reply_free(r);
    expect_text(&a, path, TEXT_B, 2);
    expect_free(put_text(&a, id, "3", ""), 412, "stale_revision");
    expect_free(put_text(&a, id, "2", ""), 200, NULL); /* unquoted, and an empty text */
    expect_text(&a, path, "", 3);

    /* History. */
    snprintf(sub, sizeof sub, "%s/revisions", path);
    r = call(&a, "GET", sub, NULL, NULL);
    expect(r, 200, NULL);
    json_t *revs = json_object_get(r->json, "revisions");
    ck_assert_uint_eq(json_array_size(revs), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(revs, 0), "revision")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(revs, 2), "size")), (json_int_t)strlen(TEXT_A));
    reply_free(r);
    snprintf(sub, sizeof sub, "%s/revisions/1", path);
    expect_text(&a, sub, TEXT_A, 1);
    snprintf(sub, sizeof sub, "%s/revisions/2", path);
    expect_text(&a, sub, TEXT_B, 2);
    static const char *bad_revisions[] = {"4", "0", "-1", "01", "1a", "99999999999999999999", "1%20", "'%20OR%201=1"};
    for (size_t i = 0; i < sizeof bad_revisions / sizeof bad_revisions[0]; i++) {
        snprintf(sub, sizeof sub, "%s/revisions/%s", path, bad_revisions[i]);
        expect_free(call(&a, "GET", sub, NULL, NULL), 404, "not_found");
    }

    /* Rename; list; delete. */
    r = call(&a, "PATCH", path, "{\"name\":\"Tone 2\"}", NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Tone 2");
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 3);
    reply_free(r);
    r = call(&a, "GET", "/api/patches", NULL, NULL);
    expect(r, 200, NULL);
    json_t *items = json_object_get(r->json, "patches");
    json_t *first = json_array_get(items, 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(first, "name")), "Tone 2");
    ck_assert(json_is_false(json_object_get(first, "builtin")));
    reply_free(r);
    expect_free(call(&a, "DELETE", path, NULL, NULL), 204, NULL);
    expect_free(call(&a, "GET", path, NULL, NULL), 404, "not_found");
    expect_free(call(&a, "DELETE", path, NULL, NULL), 404, "not_found");
    snprintf(sub, sizeof sub, "%s/revisions/1", path);
    expect_free(call(&a, "GET", sub, NULL, NULL), 404, "not_found");

    /* Unknown sub-paths and methods. */
    create_patch(&a, "{\"name\":\"x\",\"text\":\"\"}", id);
    snprintf(sub, sizeof sub, "/api/patches/%s/nothing", id);
    expect_free(call(&a, "GET", sub, NULL, NULL), 404, "not_found");
    snprintf(sub, sizeof sub, "/api/patches/%s/revisions", id);
    r = call(&a, "DELETE", sub, NULL, NULL);
    expect(r, 405, "method_not_allowed");
    ck_assert_str_eq(reply_header(r, "Allow"), "GET");
    reply_free(r);
    snprintf(sub, sizeof sub, "/api/patches/%s", id);
    r = call(&a, "POST", sub, "{}", NULL);
    expect(r, 405, "method_not_allowed");
    reply_free(r);
    expect_free(call(&a, "PUT", "/api/patches", "{}", NULL), 405, "method_not_allowed");
}
END_TEST

START_TEST(test_patch_bad_input)
{
    Agent a = signup("bruno");
    static const struct {
        const char *body;
        int status;
        const char *code;
    } cases[] = {
        {"{\"name\":\"x\",\"text\":\"a\"", 400, "bad_json"},
        {"", 400, "bad_json"},
        {"{\"name\":\"x\",\"text\":\"a\",\"text\":\"b\"}", 400, "bad_json"},
        {"[\"x\"]", 400, "bad_request"},
        {"\"x\"", 400, "bad_json"},           /* the parser takes objects and arrays only */
        {"{\"name\":\"x\"}", 400, "missing_field"},
        {"{\"text\":\"x\"}", 400, "missing_field"},
        {"{\"name\":5,\"text\":\"x\"}", 400, "wrong_type"},
        {"{\"name\":\"x\",\"text\":5}", 400, "wrong_type"},
        {"{\"name\":\"x\",\"text\":null}", 400, "wrong_type"},
        {"{\"name\":\"x\",\"text\":[\"a\"]}", 400, "wrong_type"},
        {"{\"name\":\"\",\"text\":\"x\"}", 400, "bad_name"},
        {"{\"name\":\"a\\u0001b\",\"text\":\"x\"}", 400, "bad_name"},
        {"{\"name\":\"a\\nb\",\"text\":\"x\"}", 400, "bad_name"},
        {"{\"name\":\"\\u007f\",\"text\":\"x\"}", 400, "bad_name"},
        /* Not UTF-8: a stray byte, an overlong '/', an encoded surrogate,
         * past U+10FFFF, a cut sequence; and a lone escaped surrogate. */
        {"{\"name\":\"x\",\"text\":\"a\xff\"}", 400, "not_utf8"},
        {"{\"name\":\"x\",\"text\":\"\xc0\xaf\"}", 400, "not_utf8"},
        {"{\"name\":\"x\",\"text\":\"\xed\xa0\x80\"}", 400, "not_utf8"},
        {"{\"name\":\"x\",\"text\":\"\xf4\x90\x80\x80\"}", 400, "not_utf8"},
        {"{\"name\":\"x\",\"text\":\"\xe4\xb8\"}", 400, "not_utf8"},
        {"{\"name\":\"\xfe\",\"text\":\"x\"}", 400, "not_utf8"},
        {"{\"name\":\"x\",\"text\":\"\\ud800\"}", 400, "bad_json"},
        {"{\"name\":\"x\",\"text\":\"a\\u0000b\"}", 400, "bad_json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Reply *r = call(&a, "POST", "/api/patches", cases[i].body, NULL);
        ck_assert_msg(r->status == cases[i].status, "case %zu: %s", i, r->data);
        expect_free(r, cases[i].status, cases[i].code);
    }
    char long_name[300];
    int n = snprintf(long_name, sizeof long_name, "{\"text\":\"\",\"name\":\"");
    memset(long_name + n, 'n', 201);
    snprintf(long_name + n + 201, sizeof long_name - n - 201, "\"}");
    expect_free(call(&a, "POST", "/api/patches", long_name, NULL), 400, "too_long");

    /* The size cap: exactly PATCH_TEXT_MAX bytes is a patch, one more is
     * 413; a body past the HTTP layer's 1 MiB is 413 too. */
    size_t cap = PATCH_TEXT_MAX + 64;
    char *body = malloc(2u << 20);
    n = snprintf(body, cap, "{\"name\":\"big\",\"text\":\"");
    memset(body + n, 'a', PATCH_TEXT_MAX);
    snprintf(body + n + PATCH_TEXT_MAX, 8, "\"}");
    Reply *r = call(&a, "POST", "/api/patches", body, NULL);
    expect(r, 201, NULL);
    char id[33];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r->json, "id")));
    reply_free(r);
    memset(body + n, 'a', PATCH_TEXT_MAX + 1);
    snprintf(body + n + PATCH_TEXT_MAX + 1, 8, "\"}");
    expect_free(call(&a, "POST", "/api/patches", body, NULL), 413, "patch_too_large");
    char *big = malloc(PATCH_TEXT_MAX + 2);
    memset(big, 'b', PATCH_TEXT_MAX + 1);
    big[PATCH_TEXT_MAX + 1] = '\0';
    expect_free(put_text(&a, id, "\"1\"", big), 413, "patch_too_large");
    free(big);
    n = snprintf(body, 64, "{\"name\":\"huge\",\"text\":\"");
    memset(body + n, 'h', (1u << 20) + 10);
    snprintf(body + n + (1u << 20) + 10, 8, "\"}");
    expect_free(call(&a, "POST", "/api/patches", body, NULL), 413, "body_too_large");
    free(body);
    /* Nothing of that was stored but the one patch, still at revision 1. */
    r = call(&a, "GET", "/api/patches", NULL, NULL);
    json_t *items = json_object_get(r->json, "patches");
    size_t mine = 0;
    for (size_t i = 0; i < json_array_size(items); i++)
        mine += json_is_false(json_object_get(json_array_get(items, i), "builtin"));
    ck_assert_uint_eq(mine, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "revision")), 1);
    reply_free(r);

    /* Bad saves and renames change nothing. */
    char path[96];
    snprintf(path, sizeof path, "/api/patches/%s", id);
    static const char *bad_puts[] = {"{\"text\":5}", "{}", "{\"text\":\"\xff\"}", "nope"};
    for (size_t i = 0; i < sizeof bad_puts / sizeof bad_puts[0]; i++)
        expect_free(call(&a, "PUT", path, bad_puts[i], "If-Match: \"1\"\r\n"), 400, NULL);
    expect_free(call(&a, "PATCH", path, "{\"name\":\"\"}", NULL), 400, "bad_name");
    expect_free(call(&a, "PATCH", path, "{\"name\":[1]}", NULL), 400, "wrong_type");
    r = call(&a, "GET", path, NULL, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "big");
    reply_free(r);
}
END_TEST

START_TEST(test_patch_names_and_ids)
{
    Agent a = signup("carla");
    /* Names and texts round-trip exactly: SQL metacharacters, paths, UTF-8. */
    static const char *names[] = {
        "Robert'); DROP TABLE patches;--", "%s%n%x", "../../../etc/passwd", "a\\b\"c", "' OR '1'='1",
        "\xc3\xa9t\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x8e\xb5", "<script>alert(1)</script>",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *body = json_pack("{s:s,s:s}", "name", names[i], "text", names[i]);
        char *json = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        char id[33], path[96];
        create_patch(&a, json, id);
        free(json);
        snprintf(path, sizeof path, "/api/patches/%s", id);
        Reply *r = call(&a, "GET", path, NULL, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), names[i]);
        ck_assert_str_eq(json_string_value(json_object_get(r->json, "text")), names[i]);
        reply_free(r);
    }
    char id[33];
    create_patch(&a, "{\"name\":\"Target\",\"text\":\"t\"}", id);
    char upper[40], longer[40], target[256];
    snprintf(upper, sizeof upper, "%s", id);
    bool has_letter = false;
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32), has_letter = true;
    snprintf(longer, sizeof longer, "%s0", id);
    const char *ids[] = {"x", "0", "-1", "%27%20OR%201=1--", "00000000000000000000000000000000",
                         "0000000000000000000000000000000g", longer, has_letter ? upper : "y", "%2A"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        snprintf(target, sizeof target, "/api/patches/%s", ids[i]);
        expect_free(call(&a, "GET", target, NULL, NULL), 404, "not_found");
        expect_free(call(&a, "DELETE", target, NULL, NULL), 404, "not_found");
    }
    static const char *tricks[] = {"/api/patches/../account", "/api/patches/%2e%2e/projects",
                                   "/api/patches/x/..", "/api/patches/a%00b", "/api/patches/a%5cb"};
    for (size_t i = 0; i < sizeof tricks / sizeof tricks[0]; i++)
        expect_free(call(&a, "GET", tricks[i], NULL, NULL), 400, "bad_path");
    snprintf(target, sizeof target, "/api/patches/%s/", id);
    expect_free(call(&a, "GET", target, NULL, NULL), 404, "not_found");
    snprintf(target, sizeof target, "/api/patches/%s//revisions", id);
    expect_free(call(&a, "GET", target, NULL, NULL), 404, "not_found");
    snprintf(target, sizeof target, "/api/patches/%s", id);
    expect_text(&a, target, "t", 1);
}
END_TEST

START_TEST(test_patch_sessions_and_owners)
{
    Agent owner = signup("dora");
    Agent other = signup("egon");
    char id[33], path[96], sub[160];
    create_patch(&owner, "{\"name\":\"Dora's secret\",\"text\":\"secret text\"}", id);
    snprintf(path, sizeof path, "/api/patches/%s", id);

    /* No session, a forged one, a CSRF token alone: refused everywhere. */
    Agent forged = {.cookie = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    Agent junk = {.cookie = "' OR 1=1 --"};
    Agent csrf_only = {0};
    snprintf(csrf_only.csrf, sizeof csrf_only.csrf, "%s", owner.csrf);
    struct {
        const char *method, *suffix, *body, *extra;
    } calls[] = {
        {"GET", "", NULL, NULL},
        {"PUT", "", "{\"text\":\"x\"}", "If-Match: \"1\"\r\n"},
        {"PATCH", "", "{\"name\":\"stolen\"}", NULL},
        {"DELETE", "", NULL, NULL},
        {"GET", "/revisions", NULL, NULL},
        {"GET", "/revisions/1", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        snprintf(sub, sizeof sub, "%s%s", path, calls[i].suffix);
        expect_free(call(NULL, calls[i].method, sub, calls[i].body, calls[i].extra), 401, "not_signed_in");
        expect_free(call(&csrf_only, calls[i].method, sub, calls[i].body, calls[i].extra), 401, "not_signed_in");
        expect_free(call(&forged, calls[i].method, sub, calls[i].body, calls[i].extra), 401, "session_invalid");
        expect_free(call(&junk, calls[i].method, sub, calls[i].body, calls[i].extra), 401, "session_invalid");
        /* Another user: 404, exactly as for an id that does not exist. */
        Reply *r = call(&other, calls[i].method, sub, calls[i].body, calls[i].extra);
        expect(r, 404, "not_found");
        ck_assert_msg(!strstr(r->data, "secret"), "leak: %s", r->data);
        snprintf(sub, sizeof sub, "/api/patches/00000000000000000000000000000000%s", calls[i].suffix);
        Reply *missing = call(&other, calls[i].method, sub, calls[i].body, calls[i].extra);
        expect(missing, 404, "not_found");
        ck_assert_str_eq(missing->body, r->body);
        reply_free(missing);
        reply_free(r);
    }
    expect_free(call(NULL, "GET", "/api/patches", NULL, NULL), 401, "not_signed_in");
    expect_free(call(NULL, "POST", "/api/patches", "{\"name\":\"x\",\"text\":\"\"}", NULL), 401, "not_signed_in");

    /* Writes without the CSRF token, with a wrong one, from another site. */
    Agent no_token = owner;
    no_token.csrf[0] = '\0';
    Agent wrong = owner;
    wrong.csrf[0] = wrong.csrf[0] == 'A' ? 'B' : 'A';
    Agent others_token = owner;
    snprintf(others_token.csrf, sizeof others_token.csrf, "%s", other.csrf);
    const Agent *refused[] = {&no_token, &wrong, &others_token};
    for (size_t k = 0; k < 3; k++) {
        expect_free(call(refused[k], "POST", "/api/patches", "{\"name\":\"x\",\"text\":\"\"}", NULL), 403, "csrf");
        expect_free(call(refused[k], "PUT", path, "{\"text\":\"x\"}", "If-Match: \"1\"\r\n"), 403, "csrf");
        expect_free(call(refused[k], "PATCH", path, "{\"name\":\"x\"}", NULL), 403, "csrf");
        expect_free(call(refused[k], "DELETE", path, NULL, NULL), 403, "csrf");
    }
    expect_free(call(&owner, "PUT", path, "{\"text\":\"x\"}", "If-Match: \"1\"\r\nOrigin: http://evil.example\r\n"),
                403, "cross_origin");
    expect_free(call(&owner, "DELETE", path, NULL, "Sec-Fetch-Site: cross-site\r\n"), 403, "cross_origin");

    /* The other user lists nothing of the owner's; the owner lost nothing. */
    Reply *r = call(&other, "GET", "/api/patches", NULL, NULL);
    expect(r, 200, NULL);
    ck_assert_msg(!strstr(r->body, id) && !strstr(r->body, "secret"), "leak: %s", r->body);
    reply_free(r);
    r = call(&owner, "GET", path, NULL, NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Dora's secret");
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "text")), "secret text");
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 1);
    reply_free(r);
}
END_TEST

/* ---- the built-in library --------------------------------------------------------------- */

START_TEST(test_library_listed_and_read)
{
    Agent a = signup("fritz");
    Reply *r = call(&a, "GET", "/api/patches", NULL, NULL);
    expect(r, 200, NULL);
    json_t *items = json_object_get(r->json, "patches");
    /* Every .amp of nodes/, sorted, marked builtin; no .dsp, no user patch. */
    const char *want[] = {"drive.amp", "drums.amp", "epiano.amp", "hall.amp", "karplus.amp", "ladder_bass.amp",
                          "pad.amp", "phaser.amp", "reverb.amp", "sampler.amp", "std/env.amp", "std/filter.amp",
                          "std/fx.amp", "std/osc.amp", "std/sample.amp", "stereo_delay.amp", "supersaw.amp"};
    ck_assert_uint_eq(json_array_size(items), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_t *item = json_array_get(items, i);
        ck_assert_str_eq(json_string_value(json_object_get(item, "path")), want[i]);
        ck_assert(json_is_true(json_object_get(item, "builtin")));
        ck_assert_ptr_null(json_object_get(item, "id"));
    }
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 13), "name")), "std/osc");
    reply_free(r);

    /* The text, as the file holds it; no session needed; .dsp imports too. */
    static const char *files[] = {"std/osc.amp", "pad.amp", "faust/ladder.dsp"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char fs_path[PATH_MAX + 64], url[128];
        snprintf(fs_path, sizeof fs_path, "%s/%s", library_dir, files[i]);
        snprintf(url, sizeof url, "/api/library/%s", files[i]);
        size_t len;
        char *text = read_file(fs_path, &len);
        r = call(NULL, "GET", url, NULL, NULL);
        expect(r, 200, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(r->json, "text")), text);
        ck_assert_str_eq(json_string_value(json_object_get(r->json, "path")), files[i]);
        ck_assert(json_is_true(json_object_get(r->json, "builtin")));
        ck_assert_int_eq(json_integer_value(json_object_get(r->json, "size")), (json_int_t)len);
        reply_free(r);
        free(text);
    }
    r = call(NULL, "HEAD", "/api/library/std/osc.amp", NULL, NULL);
    ck_assert_int_eq(r->status, 200);
    reply_free(r);

    /* Read-only: every write is 405, signed in or not, with Allow. */
    static const char *writes[] = {"PUT", "POST", "DELETE", "PATCH"};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        r = call(&a, writes[i], "/api/library/std/osc.amp", "{\"text\":\"x\"}", NULL);
        expect(r, 405, "method_not_allowed");
        ck_assert_str_eq(reply_header(r, "Allow"), "GET, HEAD");
        reply_free(r);
    }

    /* Missing files, other kinds of file, and path tricks. */
    static const struct {
        const char *url;
        int status;
        const char *code;
    } bad[] = {
        {"/api/library/nosuch.amp", 404, "not_found"},
        {"/api/library/std/nosuch.amp", 404, "not_found"},
        {"/api/library/nosuch/osc.amp", 404, "not_found"},
        {"/api/library/std.amp", 404, "not_found"},          /* a folder's name + .amp: no such file */
        {"/api/library/std", 400, "bad_path"},               /* a folder */
        {"/api/library/std/", 400, "bad_path"},
        {"/api/library/", 400, "bad_path"},
        {"/api/library", 404, "not_found"},
        {"/api/library/../server/main.c", 400, "bad_path"},
        {"/api/library/%2e%2e/Makefile", 400, "bad_path"},
        {"/api/library/std/%2e%2e/pad.amp", 400, "bad_path"},
        {"/api/library/..%2fMakefile", 400, "bad_path"},
        {"/api/library//etc/passwd", 400, "bad_path"},       /* absolute */
        {"/api/library/%2fetc%2fpasswd", 400, "bad_path"},
        {"/api/library/std//osc.amp", 400, "bad_path"},
        {"/api/library/.git/config", 400, "bad_path"},
        {"/api/library/std/.osc.amp", 400, "bad_path"},
        {"/api/library/std%5cosc.amp", 400, "bad_path"},
        {"/api/library/std/osc.amp%00.txt", 400, "bad_path"},
        {"/api/library/std/osc.amp.txt", 400, "bad_path"},   /* not a patch or an import */
        {"/api/library/std/osc", 400, "bad_path"},
        {"/api/library/std/osc.amp/", 400, "bad_path"},
        {"/api/library/'%20OR%201=1.amp", 400, "bad_path"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = call(NULL, "GET", bad[i].url, NULL, NULL);
        ck_assert_msg(r->status == bad[i].status, "%s: %s", bad[i].url, r->data);
        ck_assert_msg(!strstr(r->body, "root:") && !strstr(r->body, "int main"), "leak: %s", r->body);
        expect_free(r, bad[i].status, bad[i].code);
    }
}
END_TEST

/* A library of our own: symlinks (in and out of it, to files and to
 * folders), a FIFO, a file not in UTF-8, one past the size cap. */
static char links_dir[PATH_MAX];

static void start_with_links(void)
{
    snprintf(links_dir, sizeof links_dir, "%s", api_temp_dir("ampd-patches-lib"));
    char *outside = api_temp_dir("ampd-patches-outside");
    char p[PATH_MAX + 64], q[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/real.amp", links_dir);
    write_file(p, "node real { out y; }\n", 21);
    snprintf(p, sizeof p, "%s/sub", links_dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/sub/inner.amp", links_dir);
    write_file(p, "node inner { out y; }\n", 22);
    snprintf(p, sizeof p, "%s/secret.amp", outside);
    write_file(p, "SECRET OUTSIDE\n", 15);
    /* link.amp -> real.amp (inside), escape.amp -> outside, etc.amp -> an
     * absolute path, out -> the outside folder, subl -> sub (inside). */
    snprintf(p, sizeof p, "%s/link.amp", links_dir);
    ck_assert_int_eq(symlink("real.amp", p), 0);
    snprintf(p, sizeof p, "%s/escape.amp", links_dir);
    snprintf(q, sizeof q, "%s/secret.amp", outside);
    ck_assert_int_eq(symlink(q, p), 0);
    snprintf(p, sizeof p, "%s/etc.amp", links_dir);
    ck_assert_int_eq(symlink("/etc/passwd", p), 0);
    snprintf(p, sizeof p, "%s/out", links_dir);
    ck_assert_int_eq(symlink(outside, p), 0);
    snprintf(p, sizeof p, "%s/subl", links_dir);
    ck_assert_int_eq(symlink("sub", p), 0);
    snprintf(p, sizeof p, "%s/up.amp", links_dir);
    snprintf(q, sizeof q, "../%s/secret.amp", strrchr(outside, '/') + 1);
    ck_assert_int_eq(symlink(q, p), 0);
    snprintf(p, sizeof p, "%s/fifo.amp", links_dir);
    ck_assert_int_eq(mkfifo(p, 0644), 0);
    snprintf(p, sizeof p, "%s/latin1.amp", links_dir);
    write_file(p, "// caf\xe9\n", 8);
    snprintf(p, sizeof p, "%s/huge.amp", links_dir);
    char *huge = malloc(PATCH_TEXT_MAX + 1);
    memset(huge, '/', PATCH_TEXT_MAX + 1);
    write_file(p, huge, PATCH_TEXT_MAX + 1);
    free(huge);
    start_server(links_dir);
    testutil_remove_tree(outside);
}

static void stop_with_links(void)
{
    stop_server();
    testutil_remove_tree(links_dir);
}

START_TEST(test_library_symlinks_and_odd_files)
{
    expect_text(NULL, "/api/library/real.amp", "node real { out y; }\n", 0);
    expect_text(NULL, "/api/library/sub/inner.amp", "node inner { out y; }\n", 0);
    static const struct {
        const char *url;
        int status;
        const char *code;
    } cases[] = {
        {"/api/library/link.amp", 403, "forbidden"},          /* a symlink, even inside */
        {"/api/library/escape.amp", 403, "forbidden"},        /* absolute symlink out */
        {"/api/library/etc.amp", 403, "forbidden"},
        {"/api/library/up.amp", 403, "forbidden"},            /* relative symlink out */
        {"/api/library/out/secret.amp", 403, "forbidden"},    /* a symlinked folder */
        {"/api/library/subl/inner.amp", 403, "forbidden"},
        {"/api/library/fifo.amp", 404, "not_found"},          /* not a regular file, and no wait */
        {"/api/library/latin1.amp", 422, "not_utf8"},
        {"/api/library/huge.amp", 403, "too_large"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Reply *r = call(NULL, "GET", cases[i].url, NULL, NULL);
        ck_assert_msg(r->status == cases[i].status, "%s: %s", cases[i].url, r->data);
        ck_assert_msg(!strstr(r->body, "SECRET") && !strstr(r->body, "root:"), "leak: %s", r->body);
        expect_free(r, cases[i].status, cases[i].code);
    }
    /* The listing follows no symlink and skips what is not a regular
     * file or is past the size cap. */
    Agent a = signup("gerda");
    Reply *r = call(&a, "GET", "/api/patches", NULL, NULL);
    expect(r, 200, NULL);
    json_t *items = json_object_get(r->json, "patches");
    ck_assert_msg(json_array_size(items) == 3, "%s", r->body); /* latin1.amp, real.amp, sub/inner.amp */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "path")), "latin1.amp");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 1), "path")), "real.amp");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 2), "path")), "sub/inner.amp");
    ck_assert(!strstr(r->body, "SECRET") && !strstr(r->body, "secret"));
    reply_free(r);
}
END_TEST

/* ---- projects naming library patches --------------------------------------------------------- */

/* A project document whose instrument track and insert name `id` at
 * `revision` (inserts: stereo_delay.amp's form, so both forms meet). */
static char *library_document(const char *id, int revision, bool in_insert)
{
    char *doc = malloc(1024);
    if (in_insert)
        snprintf(doc, 1024,
                 "{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"bus\",\"inserts\":[{\"patch\":"
                 "{\"library\":\"%s\",\"revision\":%d},\"params\":{\"mix\":0.5}}]}]}",
                 id, revision);
    else
        snprintf(doc, 1024,
                 "{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":"
                 "{\"library\":\"%s\",\"revision\":%d,\"unit\":\"tone\"},\"params\":{\"freq\":220}}]}",
                 id, revision);
    return doc;
}

static Reply *create_project(const Agent *a, const char *document)
{
    char *body = malloc(strlen(document) + 64);
    sprintf(body, "{\"name\":\"Song\",\"document\":%s}", document);
    Reply *r = call(a, "POST", "/api/projects", body, NULL);
    free(body);
    return r;
}

START_TEST(test_projects_name_library_patches)
{
    Agent owner = signup("hilde");
    Agent other = signup("ingo");
    char id[33], others_id[33];
    create_patch(&owner, "{\"name\":\"Tone\",\"text\":\"node tone { out y; }\"}", id);
    create_patch(&other, "{\"name\":\"Theirs\",\"text\":\"node theirs { out y; }\"}", others_id);

    /* The owner's patch at an existing revision: accepted, and kept as sent. */
    char *doc = library_document(id, 1, false);
    Reply *r = create_project(&owner, doc);
    expect(r, 201, NULL);
    char project[33], project_path[96];
    snprintf(project, sizeof project, "%s", json_string_value(json_object_get(r->json, "id")));
    snprintf(project_path, sizeof project_path, "/api/projects/%s", project);
    reply_free(r);
    r = call(&owner, "GET", project_path, NULL, NULL);
    expect(r, 200, NULL);
    json_t *want = json_loads(doc, 0, NULL);
    ck_assert(json_equal(json_object_get(r->json, "document"), want));
    json_decref(want);
    reply_free(r);
    free(doc);
    doc = library_document(id, 1, true);
    expect_free(create_project(&owner, doc), 201, NULL);
    free(doc);

    /* A revision the patch does not have yet: 422, then accepted once saved. */
    doc = library_document(id, 2, false);
    expect_free(call(&owner, "PUT", project_path, doc, "If-Match: \"1\"\r\n"), 422, "unknown_patch");
    expect_free(put_text(&owner, id, "\"1\"", "node tone { out y; } // 2"), 200, NULL);
    expect_free(call(&owner, "PUT", project_path, doc, "If-Match: \"1\"\r\n"), 200, NULL);
    free(doc);

    /* Another user's patch, a missing one, a malformed id: 422, nothing saved. */
    const char *refused_ids[] = {others_id, "00000000000000000000000000000000", "x", "'); DROP TABLE patches;--",
                                 "../../etc/passwd"};
    for (size_t i = 0; i < sizeof refused_ids / sizeof refused_ids[0]; i++) {
        for (int in_insert = 0; in_insert < 2; in_insert++) {
            doc = library_document(refused_ids[i], 1, in_insert);
            r = call(&owner, "PUT", project_path, doc, "If-Match: \"2\"\r\n");
            expect(r, 422, "unknown_patch");
            const char *hint = json_string_value(json_object_get(json_object_get(r->json, "error"), "hint"));
            ck_assert_msg(strstr(hint, in_insert ? "tracks[0].inserts[0].patch" : "tracks[0].patch"), "%s", hint);
            ck_assert(!strstr(r->body, "Theirs") && !strstr(r->body, "theirs"));
            reply_free(r);
            expect_free(create_project(&owner, doc), 422, "unknown_patch");
            free(doc);
        }
    }
    /* The other user cannot name the owner's patch either. */
    doc = library_document(id, 1, false);
    expect_free(create_project(&other, doc), 422, "unknown_patch");
    free(doc);
    /* The form's own errors are the engine reader's (invalid_document). */
    expect_free(create_project(&owner, "{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":"
                                       "{\"library\":\"abc\"}}]}"),
                422, "invalid_document");
    r = call(&owner, "GET", project_path, NULL, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 2);
    reply_free(r);

    /* A deleted patch: saves naming it are refused from then on. */
    char patch_path[96];
    snprintf(patch_path, sizeof patch_path, "/api/patches/%s", id);
    expect_free(call(&owner, "DELETE", patch_path, NULL, NULL), 204, NULL);
    doc = library_document(id, 1, false);
    expect_free(call(&owner, "PUT", project_path, doc, "If-Match: \"2\"\r\n"), 422, "unknown_patch");
    free(doc);
}
END_TEST

/* {"builtin": path}: accepted when the built-in library (nodes/ here) has
 * the file, refused (422 unknown_patch, at the field) when it does not, and
 * a malformed path is the engine reader's invalid_document. */
START_TEST(test_projects_name_builtin_patches)
{
    Agent a = signup("jana");
    expect_free(create_project(&a, "{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":"
                                   "{\"builtin\":\"epiano.amp\"},\"inserts\":[{\"patch\":{\"builtin\":"
                                   "\"stereo_delay.amp\",\"unit\":\"stereo_delay\"}}]}]}"),
                201, NULL);
    expect_free(create_project(&a, "{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":"
                                   "{\"builtin\":\"std/osc.amp\",\"unit\":\"sine\"}}]}"),
                201, NULL);
    static const struct { const char *patch, *code, *hint; } refused[] = {
        {"{\"builtin\":\"nosuch.amp\"}", "unknown_patch", "tracks[0].patch: the built-in library has no patch 'nosuch.amp'"},
        {"{\"builtin\":\"std/nosuch.amp\"}", "unknown_patch", "the built-in library has no patch 'std/nosuch.amp'"},
        {"{\"builtin\":\"std.amp\"}", "unknown_patch", "no patch 'std.amp'"},
        {"{\"builtin\":\"../Makefile.amp\"}", "invalid_document", "tracks[0].patch.builtin: expected a path"},
        {"{\"builtin\":\"faust/ladder.dsp\"}", "invalid_document", "tracks[0].patch.builtin: expected a path"},
        {"{\"builtin\":\"/etc/x.amp\"}", "invalid_document", "tracks[0].patch.builtin: expected a path"},
    };
    char doc[512];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        snprintf(doc, sizeof doc, "{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":%s}]}",
                 refused[i].patch);
        Reply *r = create_project(&a, doc);
        expect(r, 422, refused[i].code);
        const char *hint = json_string_value(json_object_get(json_object_get(r->json, "error"), "hint"));
        ck_assert_msg(hint && strstr(hint, refused[i].hint), "for %s: %s", refused[i].patch, hint);
        reply_free(r);
    }
}
END_TEST

/* A stored project exported as one tar archive renders with `amp render`:
 * its library patch comes as a file of the bundle, its audio under
 * assets/ab/<hash>, built-in patches from the same --library folder. */
static int run_command(const char *command)
{
    int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_project_bundle)
{
    Agent a = signup("bundler");
    char patch_id[33], body[2048];
    create_patch(&a, "{\"name\":\"Tone\",\"text\":\"import \\\"std/osc.amp\\\";\\nimport \\\"std/env.amp\\\";\\n"
                     "patch tone {\\n  voices 4 steal oldest;\\n  voice {\\n    o = sine(freq: note.freq);\\n"
                     "    e = adsr(attack: 5 ms, decay: 50 ms, sustain: 0.7, release: 100 ms, gate: note.gate);\\n"
                     "    o.y * e.y * note.vel * 0.5 -> out;\\n  }\\n}\\n\"}",
                 patch_id);
    /* A 0.25 s 16-bit mono WAV at 48 kHz of a 440 Hz tone. */
    enum { FRAMES = 12000 };
    unsigned char wav[44 + 2 * FRAMES];
    memcpy(wav, "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\xbb\0\0\0\x77\x01\0\x02\0\x10\0data", 40);
    uint32_t data_len = 2 * FRAMES, riff_len = 36 + data_len;
    memcpy(wav + 4, &riff_len, 4);
    memcpy(wav + 40, &data_len, 4);
    for (int i = 0; i < FRAMES; i++) {
        int16_t v = (int16_t)(8000.0 * sin(2.0 * M_PI * 440.0 * i / 48000.0));
        memcpy(wav + 44 + 2 * i, &v, 2);
    }
    Reply *r = api_client_request(server_port, &a, "POST", "/api/assets?name=tone.wav", (const char *)wav, sizeof wav,
                                  NULL);
    expect(r, 201, NULL);
    char hash[65];
    snprintf(hash, sizeof hash, "%s", json_string_value(json_object_get(r->json, "hash")));
    reply_free(r);
    snprintf(body, sizeof body,
             "{\"version\":2,\"tempo\":120,\"length_beats\":4,\"tail_seconds\":0.5,\"tracks\":["
             "{\"id\":1,\"kind\":\"instrument\",\"patch\":{\"library\":\"%s\",\"revision\":1},"
             "\"inserts\":[{\"patch\":{\"builtin\":\"stereo_delay.amp\"},\"params\":{\"mix\":0.2}}],"
             "\"clips\":[{\"start_beat\":0,\"length_beats\":4,\"notes\":[{\"key\":69,\"start_beat\":0,\"length_beats\":1}]}]},"
             "{\"id\":2,\"kind\":\"audio\",\"regions\":[{\"asset\":\"%s\",\"start_beat\":2},{\"asset\":\"%s\",\"start_beat\":3}]}]}",
             patch_id, hash, hash);
    r = create_project(&a, body);
    expect(r, 201, NULL);
    char project_id[33], path[128];
    snprintf(project_id, sizeof project_id, "%s", json_string_value(json_object_get(r->json, "id")));
    reply_free(r);

    snprintf(path, sizeof path, "/api/projects/%s/bundle", project_id);
    r = call(&a, "GET", path, NULL, NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(reply_header(r, "Content-Type"), "application/x-tar");
    ck_assert(strstr(reply_header(r, "Content-Disposition"), project_id));
    ck_assert_uint_eq(r->body_len % 512, 0);
    char *dir = api_temp_dir("ampd-bundle");
    char file[PATH_MAX], command[3 * PATH_MAX];
    snprintf(file, sizeof file, "%s/song.tar", dir);
    write_file(file, r->body, r->body_len);
    reply_free(r);
    snprintf(command, sizeof command, "tar -xf '%s' -C '%s'", file, dir);
    ck_assert_int_eq(run_command(command), 0);
    /* The asset is there byte for byte; the library patch is a file and
     * the document names it so. */
    snprintf(command, sizeof command, "cmp -s '%s/%s/assets/%.2s/%s' - ", dir, project_id, hash, hash);
    FILE *cmp = popen(command, "w");
    ck_assert_ptr_nonnull(cmp);
    fwrite(wav, 1, sizeof wav, cmp);
    ck_assert_int_eq(WEXITSTATUS(pclose(cmp)), 0);
    snprintf(file, sizeof file, "%s/%s/project.json", dir, project_id);
    json_t *doc = json_load_file(file, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *patch = json_object_get(json_array_get(json_object_get(doc, "tracks"), 0), "patch");
    char want[64];
    snprintf(want, sizeof want, "patches/%s-r1.amp", patch_id);
    ck_assert_str_eq(json_string_value(json_object_get(patch, "file")), want);
    ck_assert_ptr_null(json_object_get(patch, "library"));
    json_decref(doc);
    /* amp render plays it: the tone at beat 0, the asset twice. */
    snprintf(command, sizeof command, "%s render '%s' --library nodes -I nodes -o '%s/song.wav' 2>'%s/render.log'",
             AMP_PATH, file, dir, dir);
    int rc = run_command(command);
    if (rc != 0) {
        snprintf(command, sizeof command, "cat '%s/render.log' >&2", dir);
        run_command(command);
    }
    ck_assert_int_eq(rc, 0);

    /* Another user's project, a revision it does not have, a bad id: 404. */
    Agent b = signup("notbundler");
    expect_free(call(&b, "GET", path, NULL, NULL), 404, "not_found");
    snprintf(path, sizeof path, "/api/projects/%s/bundle?revision=9", project_id);
    expect_free(call(&a, "GET", path, NULL, NULL), 404, "not_found");
    snprintf(path, sizeof path, "/api/projects/%s/bundle?revision=1", project_id);
    expect_free(call(&a, "GET", path, NULL, NULL), 200, NULL);
    expect_free(call(&a, "GET", "/api/projects/../../etc/bundle", NULL, NULL), 400, "bad_path");
    expect_free(call(&a, "GET", "/api/projects/not-an-id/bundle", NULL, NULL), 404, "not_found");
    expect_free(call(NULL, "GET", path, NULL, NULL), 401, NULL);
    testutil_remove_tree(dir);
}
END_TEST

/* ---- the compile service (api_compile.c) ------------------------------------------ */

static const char *compile_body(Reply *r, bool *ok)
{
    *ok = json_is_true(json_object_get(r->json, "ok"));
    return json_string_value(json_object_get(r->json, "diagnostics"));
}

/* What `ampc patch.amp --check` prints for `text`, run in a fresh folder
 * (the command line's own messages, to compare with the service's). */
static char *ampc_says(const char *text)
{
    char *dir = api_temp_dir("ampc-cli");
    char file[PATH_MAX], command[3 * PATH_MAX];
    snprintf(file, sizeof file, "%s/patch.amp", dir);
    write_file(file, text, strlen(text));
    char ampc[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(AMPC_PATH, ampc));
    snprintf(command, sizeof command, "cd '%s' && '%s' patch.amp --confine --check 2>&1", dir, ampc);
    FILE *p = popen(command, "r");
    ck_assert_ptr_nonnull(p);
    char *out = calloc(1, 1 << 16);
    size_t n = fread(out, 1, (1 << 16) - 1, p);
    out[n] = '\0';
    pclose(p);
    testutil_remove_tree(dir);
    return out;
}

START_TEST(test_compile_service)
{
    Agent a = signup("designer");
    const char *good = "{\"text\":\"import \\\"std/osc.amp\\\";\\npatch tone {\\n  voices 4 steal oldest;\\n"
                       "  param bright = 0.5 in [0, 1];\\n  voice {\\n    o = sine(freq: note.freq);\\n"
                       "    o.y * bright -> out;\\n  }\\n}\\n\"}";
    Reply *r = call(&a, "POST", "/api/compile", good, NULL);
    expect(r, 200, NULL);
    bool ok;
    compile_body(r, &ok);
    ck_assert(ok);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "unit")), "tone");
    json_t *param = json_array_get(json_object_get(json_object_get(r->json, "metadata"), "params"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(param, "name")), "bright");
    ck_assert(json_is_false(json_object_get(r->json, "cached")));
    char key[80], module[128];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(r->json, "key")));
    /* The patch module (runtime/wasm/patch_module.sh), served by its key. */
    const char *url = json_string_value(json_object_get(r->json, "module"));
    ck_assert_msg(url != NULL, "no module: %s", r->body);
    snprintf(module, sizeof module, "%s", url);
    reply_free(r);
    r = call(&a, "GET", module, NULL, NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(reply_header(r, "Content-Type"), "application/wasm");
    ck_assert(strstr(reply_header(r, "Cache-Control"), "immutable"));
    ck_assert(r->body_len > 1000 && memcmp(r->body, "\0asm", 4) == 0);
    ck_assert(memmem(r->body, r->body_len, "amp_module", 10) && memmem(r->body, r->body_len, "\"patch\": \"tone\"", 15));
    reply_free(r);
    expect_free(call(NULL, "GET", module, NULL, NULL), 401, NULL);
    expect_free(call(&a, "GET", "/api/compile/0123.wasm", NULL, NULL), 404, "not_found");
    /* The same text again: from the cache, the same answer. */
    r = call(&a, "POST", "/api/compile", good, NULL);
    expect(r, 200, NULL);
    ck_assert(json_is_true(json_object_get(r->json, "cached")));
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "key")), key);
    reply_free(r);

    /* A mistake: ampc's own message, as the command line prints it. */
    const char *bad_text = "patch p {\n  voice {\n    o = sine(freq: note.freq);\n  }\n}\n";
    char body[1024];
    snprintf(body, sizeof body, "{\"text\":\"patch p {\\n  voice {\\n    o = sine(freq: note.freq);\\n  }\\n}\\n\"}");
    r = call(&a, "POST", "/api/compile", body, NULL);
    expect(r, 200, NULL);
    const char *diag = compile_body(r, &ok);
    ck_assert(!ok);
    char *cli = ampc_says(bad_text);
    ck_assert_msg(strcmp(diag, cli) == 0, "service:\n%s\ncommand line:\n%s", diag, cli);
    ck_assert(strstr(diag, "patch.amp:2:3: error:"));
    free(cli);
    ck_assert_ptr_null(json_object_get(r->json, "metadata"));
    reply_free(r);

    /* Imports reach the library only: no absolute path, no '..', and no
     * path of the server in any message. */
    static const char *escapes[] = {"/etc/passwd", "../../etc/passwd", "std/../../secret.amp", "./std/osc.amp"};
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        snprintf(body, sizeof body, "{\"text\":\"import \\\"%s\\\";\\npatch p { }\\n\"}", escapes[i]);
        r = call(&a, "POST", "/api/compile", body, NULL);
        expect(r, 200, NULL);
        diag = compile_body(r, &ok);
        ck_assert_msg(!ok && strstr(diag, "names a file of the library by a relative path"), "%s: %s", escapes[i], diag);
        reply_free(r);
    }
    snprintf(body, sizeof body, "{\"text\":\"import \\\"nosuch.amp\\\";\\npatch p { }\\n\"}");
    r = call(&a, "POST", "/api/compile", body, NULL);
    diag = compile_body(r, &ok);
    ck_assert(!ok && strstr(diag, "cannot find 'nosuch.amp'"));
    ck_assert_msg(!strstr(diag, server_data) && !strstr(diag, "/nodes"), "a server path leaked: %s", diag);
    reply_free(r);

    /* Bad requests. */
    expect_free(call(&a, "POST", "/api/compile", "{\"text\":5}", NULL), 400, "bad_field");
    expect_free(call(&a, "POST", "/api/compile", "{\"text\":\"x\",\"unit\":\"../x\"}", NULL), 400, "bad_field");
    size_t big = (256u << 10) + 16;
    char *huge = malloc(big + 32);
    int n = sprintf(huge, "{\"text\":\"");
    memset(huge + n, 'a', big);
    strcpy(huge + n + big, "\"}");
    Reply *h = call(&a, "POST", "/api/compile", huge, NULL);
    ck_assert_msg(h->status == 413, "a %zu-byte text: %d", big, h->status);
    reply_free(h);
    free(huge);
    Agent no_token = a;
    no_token.csrf[0] = '\0';
    expect_free(call(&no_token, "POST", "/api/compile", good, NULL), 403, "csrf");
    expect_free(call(NULL, "POST", "/api/compile", good, NULL), 401, NULL);
}
END_TEST

/* A save checks the params and lanes of built-in and library patches
 * against their compiled metadata, in amp render's own words. */
static char *amp_render_says(const char *doc)
{
    char *dir = api_temp_dir("amp-cli");
    char file[PATH_MAX], command[3 * PATH_MAX], amp[PATH_MAX];
    snprintf(file, sizeof file, "%s/doc.json", dir);
    write_file(file, doc, strlen(doc));
    ck_assert_ptr_nonnull(realpath(AMP_PATH, amp));
    snprintf(command, sizeof command, "'%s' render '%s' --library nodes -o '%s/x.wav' 2>&1 >/dev/null", amp, file, dir);
    FILE *p = popen(command, "r");
    ck_assert_ptr_nonnull(p);
    char *out = calloc(1, 4096);
    size_t n = fread(out, 1, 4095, p);
    out[n] = '\0';
    pclose(p);
    testutil_remove_tree(dir);
    if (n && out[n - 1] == '\n')
        out[n - 1] = '\0';
    return out;
}

START_TEST(test_save_checks_params)
{
    Agent a = signup("checker");
    static const char *const docs[] = {
        "{\"version\":2,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":{\"builtin\":\"epiano.amp\"},"
        "\"params\":{\"brightness\":9}}]}",
        "{\"version\":2,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":{\"builtin\":\"epiano.amp\"},"
        "\"params\":{\"brightnes\":1}}]}",
        "{\"version\":2,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":{\"builtin\":\"epiano.amp\"},"
        "\"inserts\":[{\"patch\":{\"builtin\":\"stereo_delay.amp\"},\"params\":{\"time\":375}}]}]}",
        "{\"version\":2,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":{\"builtin\":\"epiano.amp\"},"
        "\"automation\":[{\"target\":{\"slot\":0,\"param\":\"decay\"},\"points\":[{\"beat\":0,\"value\":20}]}]}]}",
        "{\"version\":2,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":{\"builtin\":\"epiano.amp\"},"
        "\"inserts\":[{\"patch\":{\"builtin\":\"epiano.amp\"}}]}]}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        Reply *r = create_project(&a, docs[i]);
        expect(r, 422, "invalid_document");
        const char *hint = json_string_value(json_object_get(json_object_get(r->json, "error"), "hint"));
        char *cli = amp_render_says(docs[i]);
        ck_assert_msg(strncmp(cli, "amp: ", 5) == 0 && strcmp(hint, cli + 5) == 0, "ampd: %s\namp:  %s", hint, cli);
        free(cli);
        reply_free(r);
    }
    /* In range: saved. */
    expect_free(create_project(&a, "{\"version\":2,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":"
                                   "{\"builtin\":\"epiano.amp\"},\"params\":{\"brightness\":4,\"decay\":0.5}}]}"),
                201, NULL);
    /* A library patch's params too, from its own text. */
    char patch_id[33], doc[1024];
    create_patch(&a, "{\"name\":\"G\",\"text\":\"import \\\"std/osc.amp\\\";\\npatch g {\\n  voices 2 steal oldest;\\n"
                     "  param gain = 0.5 in [0, 1];\\n  voice {\\n    o = sine(freq: note.freq);\\n"
                     "    o.y * gain -> out;\\n  }\\n}\\n\"}",
                 patch_id);
    snprintf(doc, sizeof doc, "{\"version\":2,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":{\"library\":\"%s\","
             "\"revision\":1},\"params\":{\"gain\":2}}]}", patch_id);
    Reply *r = create_project(&a, doc);
    expect(r, 422, "invalid_document");
    const char *hint = json_string_value(json_object_get(json_object_get(r->json, "error"), "hint"));
    ck_assert_str_eq(hint, "tracks[0].params.gain: 2 is outside the range of 'gain' in patch 'g' [0, 1]");
    reply_free(r);
    snprintf(doc, sizeof doc, "{\"version\":2,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":{\"library\":\"%s\","
             "\"revision\":1},\"params\":{\"gain\":1}}]}", patch_id);
    expect_free(create_project(&a, doc), 201, NULL);
}
END_TEST

/* ---- the compile service's limits ------------------------------------------------ */

/* ampd with tests/compile_standin.c as its compiler (ordinary text goes
 * on to the real ampc), one compile at a time, 1 s of CPU, 10 s on the
 * wall clock (so a spinning compile meets its CPU limit first even on a
 * loaded machine) and 256 MiB of address space per compile. */
static void start_with_standin(void)
{
    static char standin[PATH_MAX], nodes[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(STANDIN_PATH, standin));
    ck_assert_ptr_nonnull(realpath("nodes", nodes));
    const char *extra[] = {"--ampc", standin, "--compile-jobs", "1", "--compile-seconds", "1",
                           "--compile-wall", "10", "--compile-memory", "256", NULL};
    start_server_with(nodes, extra);
}

static char *compile_request(const char *text)
{
    json_t *o = json_pack("{s:s}", "text", text);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return body;
}

typedef struct SlowCompile {
    const Agent *agent;
    const char *body;
    Reply *reply;
} SlowCompile;

static void *slow_compile(void *arg)
{
    SlowCompile *s = arg;
    s->reply = call(s->agent, "POST", "/api/compile", s->body, NULL);
    return NULL;
}

/* Whether a compile's work folder (DATA/compile/job-*) exists. */
static bool compile_running(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/compile", server_data);
    DIR *d = opendir(path);
    bool found = false;
    struct dirent *e;
    while (d && (e = readdir(d)))
        found |= strncmp(e->d_name, "job-", 4) == 0;
    if (d)
        closedir(d);
    return found;
}

/* Whether process `pid` is gone (or a zombie waiting for init). */
static bool process_gone(long pid)
{
    char path[64], stat[512] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *close = strrchr(stat, ')');
    return close && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
}

START_TEST(test_compile_limits)
{
    Agent a = signup("limits");
    bool ok;

    /* A compile that burns CPU: stopped by RLIMIT_CPU (through the module
     * script, which exits 128 + SIGXCPU), said so, and not cached. */
    char *spin = compile_request("patch p { }\n// STANDIN_SPIN\n");
    for (int round = 0; round < 2; round++) {
        Reply *r = call(&a, "POST", "/api/compile", spin, NULL);
        expect(r, 200, NULL);
        const char *diag = compile_body(r, &ok);
        ck_assert_msg(!ok && diag && strstr(diag, "ampd: the compiler was stopped by its CPU time limit"), "%s",
                      r->body);
        ck_assert(json_is_false(json_object_get(r->json, "cached")));
        reply_free(r);
    }
    free(spin);

    /* A compile that takes memory: refused at the address-space limit. */
    char *hog = compile_request("patch p { }\n// STANDIN_HOG\n");
    Reply *r = call(&a, "POST", "/api/compile", hog, NULL);
    expect(r, 200, NULL);
    const char *diag = compile_body(r, &ok);
    unsigned mib = 0;
    const char *at = diag ? strstr(diag, "standin: out of memory after ") : NULL;
    ck_assert_msg(!ok && at && sscanf(at, "standin: out of memory after %u MiB", &mib) == 1 && mib < 256,
                  "%s", r->body);
    reply_free(r);
    free(hog);

    /* A compile that hangs, with a child of its own, holds the one slot:
     * another compile, and a save that needs a patch's metadata not yet
     * in the cache, are 503 busy with Retry-After, and nothing is saved.
     * At the wall-clock limit the whole process group is killed. */
    char *sleeper = compile_request("patch p { }\n// STANDIN_SLEEP\n");
    SlowCompile slow = {&a, sleeper, NULL};
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, slow_compile, &slow), 0);
    for (int i = 0; i < 2000 && !compile_running(); i++)
        usleep(1000);
    ck_assert_msg(compile_running(), "the hanging compile did not start");
    char *other = compile_request("import \"std/osc.amp\";\npatch q {\n  voices 2 steal oldest;\n  voice {\n"
                                  "    o = sine(freq: note.freq);\n    o.y -> out;\n  }\n}\n");
    r = call(&a, "POST", "/api/compile", other, NULL);
    expect(r, 503, "busy");
    ck_assert_str_eq(reply_header(r, "Retry-After"), "1");
    reply_free(r);
    const char *song = "{\"version\":2,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":"
                       "{\"builtin\":\"epiano.amp\"},\"params\":{\"brightness\":4}}]}";
    r = create_project(&a, song);
    expect(r, 503, "busy");
    ck_assert_str_eq(reply_header(r, "Retry-After"), "1");
    reply_free(r);
    r = call(&a, "GET", "/api/projects", NULL, NULL);
    expect(r, 200, NULL);
    ck_assert_msg(strstr(r->body, "\"Song\"") == NULL, "a refused save was stored: %s", r->body);
    reply_free(r);
    pthread_join(thread, NULL);
    expect(slow.reply, 200, NULL);
    diag = compile_body(slow.reply, &ok);
    long child = 0;
    at = diag ? strstr(diag, "standin child ") : NULL;
    ck_assert_msg(!ok && at && sscanf(at, "standin child %ld", &child) == 1 && child > 0, "%s", slow.reply->body);
    ck_assert_msg(strstr(diag, "ampd: the compile took longer than 10 s and was stopped"), "%s", diag);
    for (int i = 0; i < 2000 && !process_gone(child); i++)
        usleep(1000);
    ck_assert_msg(process_gone(child), "the compile's child %ld outlived it", child);
    reply_free(slow.reply);
    free(sleeper);

    /* The slot is free again: the save goes through (epiano's metadata
     * compiled by the real ampc behind the stand-in), and the other text
     * compiles. */
    expect_free(create_project(&a, song), 201, NULL);
    r = call(&a, "POST", "/api/compile", other, NULL);
    expect(r, 200, NULL);
    compile_body(r, &ok);
    ck_assert_msg(ok, "%s", r->body);
    reply_free(r);
    free(other);
}
END_TEST

static Suite *patches_suite(void)
{
    Suite *s = suite_create("patches");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_store_patches);
    tcase_add_test(core, test_migrations_by_number);
    suite_add_tcase(s, core);

    TCase *patches = tcase_create("patches");
    tcase_add_unchecked_fixture(patches, start_with_nodes, stop_server);
    tcase_set_timeout(patches, 60);
    tcase_add_test(patches, test_patch_lifecycle);
    tcase_add_test(patches, test_patch_bad_input);
    tcase_add_test(patches, test_patch_names_and_ids);
    tcase_add_test(patches, test_patch_sessions_and_owners);
    suite_add_tcase(s, patches);

    TCase *library = tcase_create("library");
    tcase_add_unchecked_fixture(library, start_with_nodes, stop_server);
    tcase_set_timeout(library, 60);
    tcase_add_test(library, test_library_listed_and_read);
    suite_add_tcase(s, library);

    TCase *limits = tcase_create("limits");
    tcase_add_unchecked_fixture(limits, start_with_standin, stop_server);
    tcase_set_timeout(limits, 60);
    tcase_add_test(limits, test_compile_limits);
    suite_add_tcase(s, limits);

    TCase *links = tcase_create("links");
    tcase_add_unchecked_fixture(links, start_with_links, stop_with_links);
    tcase_set_timeout(links, 60);
    tcase_add_test(links, test_library_symlinks_and_odd_files);
    suite_add_tcase(s, links);

    TCase *projects = tcase_create("projects");
    tcase_add_unchecked_fixture(projects, start_with_nodes, stop_server);
    tcase_set_timeout(projects, 60);
    tcase_add_test(projects, test_projects_name_library_patches);
    tcase_add_test(projects, test_projects_name_builtin_patches);
    tcase_add_test(projects, test_project_bundle);
    tcase_add_test(projects, test_compile_service);
    tcase_add_test(projects, test_save_checks_params);
    suite_add_tcase(s, projects);
    return s;
}

int main(void)
{
    return testutil_run(patches_suite());
}
