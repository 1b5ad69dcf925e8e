/* check_api.c — ampd's storage, accounts and projects (server/api*.c,
 * store_sqlite.c, auth.c, workers.c, doc_upgrade.c).
 *
 * "core": in-process: tokens, cookies, name and password rules, the rate
 * limiter's sliding window, the worker pool's bounded queue, the document
 * upgrade runner with a synthetic version 0, the store's migrations.
 * The other cases start the real build/ampd on a free loopback port with a
 * temporary --data folder and fast argon2id settings (--argon-ops 1
 * --argon-mem 8192), each case its own server, and talk to it with the
 * small socket client below:
 * "accounts": sign up, in, out, password change, the cookie's attributes,
 * CSRF and Origin checks, missing and forged sessions, bad input of every
 * kind. "projects": every endpoint, revisions, If-Match, ownership (another
 * user's project is 404 everywhere and never leaks), share links, bad
 * documents, names and ids. "expiry": a 1-second session lifetime.
 * "ratelimit": 429 after N failed sign-ins, per account and per address.
 * "local": --local. "storage": synchronous=FULL and WAL asserted through
 * the server and by opening its file, integrity, the 503 of a full queue.
 */
#include "testutil.h"
#include "ampd_process.h"
#include "api_client.h"

#include "auth.h"
#include "doc_upgrade.h"
#include "project.h"
#include "store.h"
#include "workers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AMPD_PATH
#define AMPD_PATH "build/ampd"
#endif

/* How many migrations this build embeds (server/migrations/, store_sqlite.c):
 * the schema version a new database reaches. */
extern const int store_n_migrations;

/* ---- core: in-process ----------------------------------------------------- */

START_TEST(test_tokens_and_cookies)
{
    ck_assert(auth_init());
    char a[AUTH_TOKEN_LEN + 1], b[AUTH_TOKEN_LEN + 1];
    auth_new_token(a);
    auth_new_token(b);
    ck_assert_uint_eq(strlen(a), AUTH_TOKEN_LEN);
    ck_assert(auth_token_well_formed(a));
    ck_assert_str_ne(a, b);
    ck_assert(!auth_token_well_formed(""));
    ck_assert(!auth_token_well_formed("short"));
    char bad[AUTH_TOKEN_LEN + 2];
    snprintf(bad, sizeof bad, "%s", a);
    bad[3] = '\'';
    ck_assert(!auth_token_well_formed(bad));
    snprintf(bad, sizeof bad, "%sx", a);
    ck_assert(!auth_token_well_formed(bad));
    ck_assert(auth_equal(a, a));
    ck_assert(!auth_equal(a, b));
    ck_assert(!auth_equal(a, ""));

    uint8_t h1[AUTH_TOKEN_HASH_BYTES], h2[AUTH_TOKEN_HASH_BYTES];
    auth_token_hash(a, h1);
    auth_token_hash(b, h2);
    ck_assert(memcmp(h1, h2, sizeof h1) != 0);

    char out[128];
    ck_assert(auth_cookie_token("x=1; amp_session=abc; y=2", out, sizeof out));
    ck_assert_str_eq(out, "abc");
    ck_assert(auth_cookie_token("amp_session=", out, sizeof out));
    ck_assert_str_eq(out, "");
    ck_assert(!auth_cookie_token("amp_sessionx=1; other=2", out, sizeof out));
    ck_assert(!auth_cookie_token("", out, sizeof out));
    auth_session_cookie(out, sizeof out, "T", 60, false);
    ck_assert(strstr(out, "amp_session=T;") && strstr(out, "HttpOnly") && strstr(out, "SameSite=Strict") &&
              strstr(out, "Path=/") && strstr(out, "Max-Age=60") && !strstr(out, "Secure"));
    auth_session_cookie(out, sizeof out, "T", 60, true);
    ck_assert(strstr(out, "Max-Age=60; Secure"));
}
END_TEST

START_TEST(test_names_and_passwords)
{
    const char *hint;
    static const char *good[] = {"abc", "Alice", "bob_2", "a.b-c", "x23456789012345678901234567890yz"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(auth_valid_name(good[i], &hint), "refused %s", good[i]);
    static const char *bad[] = {"ab", "", "_abc", ".abc", "a b", "a'b", "a;b", "a/b", "../x", "é!é",
                                "x234567890123456789012345678901yz", "abc\x01", "Robert'); DROP TABLE users;--"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!auth_valid_name(bad[i], &hint) && hint, "accepted %s", bad[i]);
    ck_assert(auth_valid_password("12345678", &hint));
    ck_assert(!auth_valid_password("1234567", &hint));
    char long_pw[AUTH_PASSWORD_MAX + 2];
    memset(long_pw, 'p', sizeof long_pw - 1);
    long_pw[sizeof long_pw - 1] = '\0';
    ck_assert(!auth_valid_password(long_pw, &hint));
    long_pw[AUTH_PASSWORD_MAX] = '\0';
    ck_assert(auth_valid_password(long_pw, &hint));

    char hash[AUTH_PASSWORD_HASH_MAX];
    ck_assert(auth_hash_password("correct horse", 1, 8192, hash));
    ck_assert(strncmp(hash, "$argon2id$", 10) == 0);
    ck_assert(auth_verify_password(hash, "correct horse"));
    ck_assert(!auth_verify_password(hash, "correct horsE"));
    ck_assert(!auth_verify_password("", "anything")); /* the local user */
}
END_TEST

START_TEST(test_rate_limiter)
{
    RateLimiter *l = auth_limiter_new(3, 60, 4);
    ck_assert_ptr_nonnull(l);
    ck_assert_uint_eq(auth_limiter_wait(l, "k", 1000), 0);
    auth_limiter_fail(l, "k", 1000);
    auth_limiter_fail(l, "k", 1010);
    ck_assert_uint_eq(auth_limiter_wait(l, "k", 1011), 0);
    auth_limiter_fail(l, "k", 1020);
    /* Three within 60 s: blocked until the first leaves the window. */
    ck_assert_uint_eq(auth_limiter_wait(l, "k", 1021), 39);
    ck_assert_uint_eq(auth_limiter_wait(l, "other", 1021), 0);
    /* Sliding: at 1060 the failure of 1000 is out, two remain. */
    ck_assert_uint_eq(auth_limiter_wait(l, "k", 1060), 0);
    auth_limiter_fail(l, "k", 1061);
    ck_assert_uint_eq(auth_limiter_wait(l, "k", 1062), 8); /* until 1010 leaves */
    auth_limiter_forget(l, "k");
    ck_assert_uint_eq(auth_limiter_wait(l, "k", 1062), 0);
    /* More keys than slots: the oldest is forgotten, the newest kept. */
    for (int i = 0; i < 6; i++) {
        char key[16];
        snprintf(key, sizeof key, "key%d", i);
        for (int j = 0; j < 3; j++)
            auth_limiter_fail(l, key, 2000 + i);
    }
    ck_assert_uint_gt(auth_limiter_wait(l, "key5", 2006), 0);
    ck_assert_uint_eq(auth_limiter_wait(l, "key0", 2006), 0);
    auth_limiter_free(l);
}
END_TEST

/* The worker pool: every accepted job runs once; a full queue refuses. */
typedef struct PoolProbe {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int ran;
    bool release;           /* the blocking job may return */
    int contexts_started;
} PoolProbe;

static void *probe_start(void *arg, unsigned index)
{
    PoolProbe *p = arg;
    pthread_mutex_lock(&p->lock);
    p->contexts_started++;
    pthread_mutex_unlock(&p->lock);
    return p;
}

static void probe_job(void *context, void *arg)
{
    PoolProbe *p = context;
    pthread_mutex_lock(&p->lock);
    while (arg && !p->release)
        pthread_cond_wait(&p->changed, &p->lock);
    p->ran++;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

START_TEST(test_worker_pool)
{
    PoolProbe p = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    WorkerHooks hooks = {.start = probe_start, .arg = &p};
    WorkerPool *pool = workers_start(1, 2, &hooks);
    ck_assert_ptr_nonnull(pool);
    ck_assert_int_eq(p.contexts_started, 1);
    /* One blocking job on the worker, then the queue of 2 fills. */
    ck_assert(workers_submit(pool, probe_job, (void *)1));
    double deadline = ampd_now_seconds() + 5;
    bool queued = false;
    while (!queued && ampd_now_seconds() < deadline) {
        usleep(1000);
        queued = workers_submit(pool, probe_job, NULL); /* true once the blocker left the queue */
    }
    ck_assert(queued);
    ck_assert(workers_submit(pool, probe_job, NULL));
    ck_assert(!workers_submit(pool, probe_job, NULL)); /* full: refused, never run */
    pthread_mutex_lock(&p.lock);
    p.release = true;
    pthread_cond_broadcast(&p.changed);
    pthread_mutex_unlock(&p.lock);
    workers_stop(pool);
    ck_assert_int_eq(p.ran, 3);
    ck_assert(!workers_submit(pool, probe_job, NULL)); /* stopped */
    workers_free(pool);
}
END_TEST

/* A synthetic version 0 whose "bpm" became "tempo" in version 1. */
static int upgrade_v0(json_t *doc, char *err, size_t errlen)
{
    json_t *bpm = json_object_get(doc, "bpm");
    if (bpm) {
        json_object_set(doc, "tempo", bpm);
        json_object_del(doc, "bpm");
    }
    return 0;
}

static int upgrade_fails(json_t *doc, char *err, size_t errlen)
{
    snprintf(err, errlen, "cannot");
    return -1;
}

START_TEST(test_doc_upgrade)
{
    static const DocUpgradeStep steps[] = {{0, upgrade_v0}};
    char err[256];
    int from;
    json_t *doc = json_loads("{\"version\": 0, \"bpm\": 97, \"tracks\": []}", 0, NULL);
    ck_assert_int_eq(doc_upgrade(doc, steps, 1, 1, &from, err, sizeof err), 0);
    ck_assert_int_eq(from, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "version")), 1);
    ck_assert(json_object_get(doc, "bpm") == NULL);
    ck_assert(json_real_value(json_object_get(doc, "tempo")) == 97 ||
              json_integer_value(json_object_get(doc, "tempo")) == 97);
    json_decref(doc);

    /* The server's own list: versions 1 and 2 pass untouched (1 is read as
     * it is), 0 has no step. */
    doc = json_loads("{\"version\": 1, \"tracks\": []}", 0, NULL);
    ck_assert_int_eq(doc_upgrade(doc, doc_upgrade_steps, doc_upgrade_step_count, PROJECT_VERSION, &from, err,
                                 sizeof err),
                     0);
    ck_assert_int_eq(from, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "version")), 1);
    json_decref(doc);
    doc = json_loads("{\"version\": 2, \"tracks\": []}", 0, NULL);
    ck_assert_int_eq(doc_upgrade(doc, doc_upgrade_steps, doc_upgrade_step_count, PROJECT_VERSION, &from, err,
                                 sizeof err),
                     0);
    ck_assert_int_eq(from, 2);
    json_decref(doc);
    doc = json_loads("{\"version\": 0, \"tracks\": []}", 0, NULL);
    ck_assert_int_eq(doc_upgrade(doc, doc_upgrade_steps, doc_upgrade_step_count, PROJECT_VERSION, &from, err,
                                 sizeof err),
                     -1);
    ck_assert(strstr(err, "not supported"));
    json_decref(doc);
    doc = json_loads("{\"version\": 3, \"tracks\": []}", 0, NULL);
    ck_assert_int_eq(doc_upgrade(doc, doc_upgrade_steps, doc_upgrade_step_count, PROJECT_VERSION, &from, err,
                                 sizeof err),
                     -1);
    ck_assert(strstr(err, "newer"));
    json_decref(doc);
    doc = json_loads("{\"tracks\": []}", 0, NULL);
    ck_assert_int_eq(doc_upgrade(doc, steps, 1, PROJECT_VERSION, &from, err, sizeof err), -1);
    json_decref(doc);
    static const DocUpgradeStep failing[] = {{0, upgrade_fails}};
    doc = json_loads("{\"version\": 0}", 0, NULL);
    ck_assert_int_eq(doc_upgrade(doc, failing, 1, PROJECT_VERSION, &from, err, sizeof err), -1);
    ck_assert(strstr(err, "cannot"));
    json_decref(doc);
}
END_TEST

START_TEST(test_store_in_process)
{
    char *dir = api_temp_dir("ampd-store");
    char err[512];
    Store *store = store_open(dir, err, sizeof err);
    ck_assert_msg(store != NULL, "%s", err);
    ck_assert_int_ge(store_n_migrations, 2);
    ck_assert_int_eq(store_schema_version(store), store_n_migrations);
    StoreConn *c = store_connect(store, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    char journal[16], sync[16];
    ck_assert_int_eq(store_settings(c, journal, sizeof journal, sync, sizeof sync), STORE_OK);
    ck_assert_str_eq(journal, "wal");
    ck_assert_str_eq(sync, "full");

    StoreUser u, v, w;
    ck_assert_int_eq(store_user_create(c, "Alice", "h", false, 1, &u), STORE_OK);
    ck_assert_int_eq(store_user_create(c, "aLICE", "h", false, 1, &w), STORE_CONFLICT);
    ck_assert_int_eq(store_user_create(c, "x'); DROP TABLE users;--", "h", false, 1, &v), STORE_OK);
    ck_assert_int_eq(store_user_by_name(c, "x'); DROP TABLE users;--", &w), STORE_OK);
    ck_assert_int_eq(w.id, v.id);
    ck_assert_int_eq(store_user_by_name(c, "ALICE", &w), STORE_OK);
    ck_assert_str_eq(w.name, "Alice");

    StoreProject p;
    ck_assert_int_eq(store_project_create(c, u.id, "0123456789abcdef0123456789abcdef", "P", "{\"a\":1}", 5, &p),
                     STORE_OK);
    ck_assert_int_eq(store_project_save(c, u.id, "0123456789abcdef0123456789abcdef", 1, "{\"a\":2}", 6, &p),
                     STORE_OK);
    ck_assert_int_eq(p.revision, 2);
    ck_assert_int_eq(store_project_save(c, u.id, "0123456789abcdef0123456789abcdef", 1, "{\"a\":3}", 7, &p),
                     STORE_CONFLICT);
    ck_assert_int_eq(p.revision, 2);
    ck_assert_int_eq(store_project_save(c, v.id, "0123456789abcdef0123456789abcdef", 2, "{\"a\":3}", 7, &p),
                     STORE_NOT_FOUND);
    char *doc = NULL;
    ck_assert_int_eq(store_project_get(c, u.id, "0123456789abcdef0123456789abcdef", &p, &doc), STORE_OK);
    ck_assert_str_eq(doc, "{\"a\":2}");
    free(doc);
    store_disconnect(c);
    store_close(store);

    /* Reopening applies nothing twice. */
    store = store_open(dir, err, sizeof err);
    ck_assert_msg(store != NULL, "%s", err);
    store_close(store);
    char path[700];
    snprintf(path, sizeof path, "%s/ampd.sqlite", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*), max(version) FROM schema_version", -1, &s, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), store_n_migrations);
    ck_assert_int_eq(sqlite3_column_int(s, 1), store_n_migrations);
    sqlite3_finalize(s);
    sqlite3_close(db);

    /* A database from a newer ampd is refused. */
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99, 'future', 0)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    store = store_open(dir, err, sizeof err);
    ck_assert_ptr_null(store);
    ck_assert(strstr(err, "newer"));
    testutil_remove_tree(dir);
}
END_TEST

/* ---- the server under test ------------------------------------------------- */

static pid_t ampd_pid = -1;
static unsigned ampd_port;
static char *data_dir;
static char *root_dir;     /* the (empty) web root the server is given */

/* Start ampd (the binary in $AMPD, or AMPD_PATH) with `args`; the pid, and
 * the port from its banner in *port (0 when it did not start). */
static pid_t spawn_ampd(const char *const *args, unsigned *port)
{
    const char *bin = getenv("AMPD") ? getenv("AMPD") : AMPD_PATH;
    return ampd_spawn(bin, args, port, NULL, 0);
}

static void stop_ampd(void)
{
    ampd_stop(ampd_pid, 10);
    ampd_pid = -1;
    if (data_dir)
        testutil_remove_tree(data_dir);
    if (root_dir)
        testutil_remove_tree(root_dir);
    data_dir = root_dir = NULL;
}

/* Start a server over a fresh data folder with the fast argon2id settings
 * and `extra` options (NULL-terminated). */
static void start_with(const char *const *extra)
{
    data_dir = api_temp_dir("ampd-api");
    root_dir = api_temp_dir("ampd-root");
    const char *args[40] = {"--port", "0", "--root", root_dir, "--data", data_dir, "--argon-ops", "1",
                            "--argon-mem", "8192", "--timeout", "10"};
    int n = 12;
    for (int i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    ampd_pid = spawn_ampd(args, &ampd_port);
    ck_assert_msg(ampd_port != 0, "ampd did not start (%s)", AMPD_PATH);
}

static void start_plain(void) { start_with(NULL); }
static void start_local(void)
{
    static const char *extra[] = {"--local", NULL};
    start_with(extra);
}
static void start_secure_cookies(void)
{
    static const char *extra[] = {"--secure-cookies", NULL};
    start_with(extra);
}
static void start_short_sessions(void)
{
    static const char *extra[] = {"--session-lifetime", "1", NULL};
    start_with(extra);
}
static void start_limited(void)
{
    static const char *extra[] = {"--signin-limit", "3", NULL};
    start_with(extra);
}

/* ---- a small HTTP client (api_client.h) ---------------------------------------- */

/* One request; `extra` more header lines each ending in \r\n. The session
 * cookie is sent after another cookie, as a browser may. */
static Reply *send_request(const Agent *a, const char *method, const char *path, const char *body, size_t body_len,
                           const char *extra)
{
    char lines[1024] = "";
    int n = 0;
    if (a && a->cookie[0])
        n += snprintf(lines + n, sizeof lines - n, "Cookie: other=1; amp_session=%s\r\n", a->cookie);
    if (a && a->csrf[0])
        n += snprintf(lines + n, sizeof lines - n, "X-CSRF-Token: %s\r\n", a->csrf);
    if (!extra)
        return api_client_request(ampd_port, NULL, method, path, body, body_len, n ? lines : NULL);
    char *all = malloc((size_t)n + strlen(extra) + 1);
    snprintf(all, (size_t)n + strlen(extra) + 1, "%s%s", lines, extra);
    Reply *r = api_client_request(ampd_port, NULL, method, path, body, body_len, all);
    free(all);
    return r;
}

static Reply *req(const Agent *a, const char *method, const char *path, const char *body)
{
    return send_request(a, method, path, body, body ? strlen(body) : 0, NULL);
}

static Reply *req_h(const Agent *a, const char *method, const char *path, const char *body, const char *extra)
{
    return send_request(a, method, path, body, body ? strlen(body) : 0, extra);
}

static Agent signup(const char *name, const char *password)
{
    return api_client_signup(ampd_port, name, password);
}

static int signin_status(Agent *a, const char *name, const char *password)
{
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name, password);
    Reply *r = req(NULL, "POST", "/api/account/signin", body);
    int status = r->status;
    if (status == 200 && a)
        take_cookie(a, r);
    reply_free(r);
    return status;
}

/* ---- accounts ----------------------------------------------------------------- */

START_TEST(test_signup_signin_signout)
{
    Reply *r = req(NULL, "POST", "/api/account/signup", "{\"name\":\"alice\",\"password\":\"secret-one\"}");
    expect(r, 201, NULL);
    const char *cookie = reply_header(r, "Set-Cookie");
    ck_assert(strstr(cookie, "HttpOnly") && strstr(cookie, "SameSite=Strict") && strstr(cookie, "Path=/"));
    ck_assert(strstr(cookie, "Max-Age="));
    Agent alice = {0};
    take_cookie(&alice, r);
    ck_assert(auth_token_well_formed(alice.cookie));
    reply_free(r);

    r = req(&alice, "GET", "/api/account", NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r->json, "user"), "name")), "alice");
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "csrf")), alice.csrf);
    ck_assert_str_eq(reply_header(r, "Cache-Control"), "no-store");
    reply_free(r);

    /* The name is taken, whatever its case. */
    expect_free(req(NULL, "POST", "/api/account/signup", "{\"name\":\"ALICE\",\"password\":\"secret-two\"}"), 409,
                "name_taken");
    expect_free(req(NULL, "POST", "/api/account/signup", "{\"name\":\"local\",\"password\":\"secret-two\"}"), 409,
                "name_taken");

    /* A second session by signing in; the two are independent. */
    Agent second = {0};
    ck_assert_int_eq(signin_status(&second, "Alice", "secret-one"), 200);
    ck_assert_str_ne(second.cookie, alice.cookie);
    ck_assert_str_ne(second.csrf, alice.csrf);
    ck_assert_int_eq(signin_status(NULL, "alice", "secret-onE"), 401);
    ck_assert_int_eq(signin_status(NULL, "nobody", "secret-one"), 401);

    /* Sign out ends that session only, and clears the cookie. */
    r = req(&alice, "POST", "/api/account/signout", NULL);
    expect(r, 204, NULL);
    ck_assert(strstr(reply_header(r, "Set-Cookie"), "Max-Age=0"));
    reply_free(r);
    expect_free(req(&alice, "GET", "/api/account", NULL), 401, "session_invalid");
    expect_free(req(&second, "GET", "/api/account", NULL), 200, NULL);
}
END_TEST

START_TEST(test_missing_and_forged_sessions)
{
    Agent bob = signup("bob", "bobs-password");
    expect_free(req(NULL, "GET", "/api/account", NULL), 401, "not_signed_in");
    expect_free(req(NULL, "GET", "/api/projects", NULL), 401, "not_signed_in");
    expect_free(req(NULL, "POST", "/api/projects", "{\"name\":\"x\"}"), 401, "not_signed_in");
    /* Not signed in and not local: loopback alone grants nothing. */
    Agent forged = {0};
    static const char *cookies[] = {
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* well formed, unknown */
        "x", "", "' OR 1=1 --", "../../etc/passwd",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof cookies / sizeof cookies[0]; i++) {
        snprintf(forged.cookie, sizeof forged.cookie, "%s", cookies[i]);
        if (!forged.cookie[0]) {
            Reply *r = req_h(NULL, "GET", "/api/account", NULL, "Cookie: amp_session=\r\n");
            expect_free(r, 401, "session_invalid");
            continue;
        }
        Reply *r = req(&forged, "GET", "/api/account", NULL);
        expect(r, 401, "session_invalid");
        ck_assert(strstr(reply_header(r, "Set-Cookie"), "Max-Age=0"));
        reply_free(r);
    }
    /* A token one character off bob's. */
    snprintf(forged.cookie, sizeof forged.cookie, "%s", bob.cookie);
    forged.cookie[5] = forged.cookie[5] == 'A' ? 'B' : 'A';
    expect_free(req(&forged, "GET", "/api/account", NULL), 401, "session_invalid");
    /* Bob's CSRF token is no session. */
    Agent csrf_only = {0};
    snprintf(csrf_only.csrf, sizeof csrf_only.csrf, "%s", bob.csrf);
    expect_free(req(&csrf_only, "GET", "/api/projects", NULL), 401, "not_signed_in");

    /* The database keeps only hashes of the tokens. */
    char path[700];
    snprintf(path, sizeof path, "%s/ampd.sqlite", data_dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM sessions WHERE token_hash = ?1 "
                                            "OR CAST(token_hash AS TEXT) = ?1", -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, bob.cookie, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 0);
    sqlite3_finalize(s);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT password_hash FROM users WHERE name = 'bob'", -1, &s, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert(strncmp((const char *)sqlite3_column_text(s, 0), "$argon2id$", 10) == 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_csrf_and_origin)
{
    Agent carol = signup("carol", "carols-password");
    Agent no_token = carol;
    no_token.csrf[0] = '\0';
    Agent wrong = carol;
    wrong.csrf[0] = wrong.csrf[0] == 'A' ? 'B' : 'A';
    Agent short_token = carol;
    short_token.csrf[10] = '\0';
    static const char body[] = "{\"name\":\"p\"}";
    expect_free(req(&no_token, "POST", "/api/projects", body), 403, "csrf");
    expect_free(req(&wrong, "POST", "/api/projects", body), 403, "csrf");
    expect_free(req(&short_token, "POST", "/api/projects", body), 403, "csrf");
    expect_free(req(&no_token, "POST", "/api/account/signout", NULL), 403, "csrf");
    expect_free(req(&no_token, "POST", "/api/account/password",
                    "{\"password\":\"carols-password\",\"new_password\":\"another-one\"}"),
                403, "csrf");
    /* Reads need no token. */
    expect_free(req(&no_token, "GET", "/api/projects", NULL), 200, NULL);
    /* Another user's token is not this session's. */
    Agent dave = signup("dave", "daves-password");
    Agent mixed = carol;
    snprintf(mixed.csrf, sizeof mixed.csrf, "%s", dave.csrf);
    expect_free(req(&mixed, "POST", "/api/projects", body), 403, "csrf");

    /* Origin and Sec-Fetch-Site, when sent, must be this site. */
    char origin[128];
    snprintf(origin, sizeof origin, "Origin: http://127.0.0.1:%u\r\n", ampd_port);
    expect_free(req_h(&carol, "POST", "/api/projects", body, origin), 201, NULL);
    expect_free(req_h(&carol, "POST", "/api/projects", body, "Origin: http://evil.example\r\n"), 403,
                "cross_origin");
    expect_free(req_h(&carol, "POST", "/api/projects", body, "Origin: null\r\n"), 403, "cross_origin");
    expect_free(req_h(&carol, "POST", "/api/projects", body, "Sec-Fetch-Site: cross-site\r\n"), 403,
                "cross_origin");
    expect_free(req_h(&carol, "POST", "/api/projects", body, "Sec-Fetch-Site: same-site\r\n"), 403,
                "cross_origin");
    expect_free(req_h(&carol, "POST", "/api/projects", body, "Sec-Fetch-Site: same-origin\r\n"), 201, NULL);
    expect_free(req_h(NULL, "POST", "/api/account/signin", "{\"name\":\"carol\",\"password\":\"carols-password\"}",
                      "Origin: http://evil.example\r\n"),
                403, "cross_origin");
}
END_TEST

START_TEST(test_change_password)
{
    Agent erin = signup("erin", "erins-password");
    Agent other = {0};
    ck_assert_int_eq(signin_status(&other, "erin", "erins-password"), 200);
    expect_free(req(&erin, "POST", "/api/account/password",
                    "{\"password\":\"wrong-password\",\"new_password\":\"erins-new-password\"}"),
                403, "bad_credentials");
    expect_free(req(&erin, "POST", "/api/account/password",
                    "{\"password\":\"erins-password\",\"new_password\":\"short\"}"),
                400, "bad_credentials_format");
    expect_free(req(&erin, "POST", "/api/account/password", "{\"password\":\"erins-password\"}"), 400,
                "missing_field");
    expect_free(req(&erin, "POST", "/api/account/password",
                    "{\"password\":\"erins-password\",\"new_password\":12345678}"),
                400, "wrong_type");
    expect_free(req(&erin, "POST", "/api/account/password",
                    "{\"password\":\"erins-password\",\"new_password\":\"erins-new-password\"}"),
                200, NULL);
    /* This session lives on; the other one is revoked. */
    expect_free(req(&erin, "GET", "/api/account", NULL), 200, NULL);
    expect_free(req(&other, "GET", "/api/account", NULL), 401, "session_invalid");
    ck_assert_int_eq(signin_status(NULL, "erin", "erins-password"), 401);
    ck_assert_int_eq(signin_status(NULL, "erin", "erins-new-password"), 200);
}
END_TEST

START_TEST(test_account_bad_input)
{
    static const struct {
        const char *body;
        int status;
        const char *code;
    } cases[] = {
        {"", 400, "bad_json"},
        {"{", 400, "bad_json"},
        {"{\"name\":\"a\",\"name\":\"b\",\"password\":\"xxxxxxxx\"}", 400, "bad_json"}, /* duplicate keys */
        {"[]", 400, "bad_request"},
        {"\"alice\"", 400, "bad_json"}, /* a body is an object or an array */
        {"null", 400, "bad_json"},
        {"{}", 400, "missing_field"},
        {"{\"name\":\"frank\"}", 400, "missing_field"},
        {"{\"name\":7,\"password\":\"xxxxxxxx\"}", 400, "wrong_type"},
        {"{\"name\":\"frank\",\"password\":[\"x\"]}", 400, "wrong_type"},
        {"{\"name\":null,\"password\":\"xxxxxxxx\"}", 400, "wrong_type"},
        {"{\"name\":\"fr\",\"password\":\"xxxxxxxx\"}", 400, "bad_credentials_format"},
        {"{\"name\":\"frank\",\"password\":\"short\"}", 400, "bad_credentials_format"},
        {"{\"name\":\"x'); DROP TABLE users;--\",\"password\":\"xxxxxxxx\"}", 400, "bad_credentials_format"},
        {"{\"name\":\"../../etc\",\"password\":\"xxxxxxxx\"}", 400, "bad_credentials_format"},
        {"{\"name\":\"fr\\u0000ank\",\"password\":\"xxxxxxxx\"}", 400, "bad_json"},
        {"{\"name\":\"fr\\nank\",\"password\":\"xxxxxxxx\"}", 400, "bad_credentials_format"},
        {"{\"name\":\"fr\xc3\xa9nk\",\"password\":\"xxxxxxxx\"}", 400, "bad_credentials_format"},
        {"{\"name\":\"fr\xff\xfenk\",\"password\":\"xxxxxxxx\"}", 400, "bad_json"}, /* not UTF-8 */
        {"{\"name\":\"frank\",\"password\":\"\xc0\xaf\xc0\xaf\xc0\xaf\xc0\xaf\"}", 400, "bad_json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Reply *r = req(NULL, "POST", "/api/account/signup", cases[i].body);
        ck_assert_msg(r->status == cases[i].status, "case %zu: %d for %s", i, r->status, cases[i].body);
        expect_free(r, cases[i].status, cases[i].code);
    }
    /* Very long strings: a name of 10000 characters, a password past the cap. */
    size_t n = 10000;
    char *body = malloc(n + 128);
    ck_assert_ptr_nonnull(body);
    int len = snprintf(body, n + 128, "{\"name\":\"");
    memset(body + len, 'a', n);
    len += (int)n;
    snprintf(body + len, 128, "\",\"password\":\"xxxxxxxx\"}");
    expect_free(req(NULL, "POST", "/api/account/signup", body), 400, "too_long");
    len = snprintf(body, n + 128, "{\"name\":\"frank\",\"password\":\"");
    memset(body + len, 'p', 2000);
    len += 2000;
    snprintf(body + len, 128, "\"}");
    expect_free(req(NULL, "POST", "/api/account/signup", body), 400, "too_long");
    expect_free(req(NULL, "POST", "/api/account/signin", body), 400, "too_long");
    free(body);
    /* Oversize bodies are refused before they are read. */
    expect_free(req_h(NULL, "POST", "/api/account/signup", NULL, "Content-Length: 5000000\r\n"), 413,
                "body_too_large");
    size_t big = (1u << 20) + 10;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    expect_free(send_request(NULL, "POST", "/api/projects", huge, big, NULL), 413, "body_too_large");
    free(huge);
    /* Wrong methods. */
    Reply *r = req(NULL, "GET", "/api/account/signup", NULL);
    expect(r, 405, "method_not_allowed");
    ck_assert_str_eq(reply_header(r, "Allow"), "POST");
    reply_free(r);
    expect_free(req(NULL, "DELETE", "/api/account", NULL), 405, "method_not_allowed");
    /* Nothing was created by all that. */
    ck_assert_int_eq(signin_status(NULL, "frank", "xxxxxxxx"), 401);
}
END_TEST

/* ---- projects --------------------------------------------------------------------- */

static const char DOC_A[] = "{\"version\":1,\"tempo\":101,\"tracks\":[{\"id\":1,\"name\":\"Keys\",\"kind\":"
                            "\"instrument\",\"patch\":{\"builtin\":\"epiano.amp\"},\"clips\":[{\"start_beat\":0,"
                            "\"length_beats\":4,\"notes\":[{\"key\":60,\"start_beat\":0,\"length_beats\":1}]}]}]}";
static const char DOC_B[] = "{\"version\":1,\"tempo\":102,\"tracks\":[],\"ui\":{\"zoom\":2}}";
static const char DOC_C[] = "{\"version\":1,\"tempo\":103,\"tracks\":[]}";

/* Create a project; its id into `id`. */
static void create_project(Agent *a, const char *name_json, const char *doc, char id[64])
{
    char *body = malloc(strlen(name_json) + (doc ? strlen(doc) : 0) + 64);
    if (doc)
        sprintf(body, "{\"name\":%s,\"document\":%s}", name_json, doc);
    else
        sprintf(body, "{\"name\":%s}", name_json);
    Reply *r = req(a, "POST", "/api/projects", body);
    free(body);
    expect(r, 201, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 1);
    ck_assert_str_eq(reply_header(r, "ETag"), "\"1\"");
    snprintf(id, 64, "%s", json_string_value(json_object_get(r->json, "id")));
    ck_assert_uint_eq(strlen(id), 32);
    reply_free(r);
}

static Reply *put_doc(Agent *a, const char *id, const char *if_match, const char *doc)
{
    char path[128], header[64] = "";
    snprintf(path, sizeof path, "/api/projects/%s", id);
    if (if_match)
        snprintf(header, sizeof header, "If-Match: %s\r\n", if_match);
    return req_h(a, "PUT", path, doc, header);
}

/* The document of GET `path` equals `doc` (as JSON). */
static void expect_document(Agent *a, const char *path, const char *doc)
{
    Reply *r = req(a, "GET", path, NULL);
    expect(r, 200, NULL);
    json_t *want = json_loads(doc, 0, NULL);
    ck_assert(json_equal(json_object_get(r->json, "document"), want));
    json_decref(want);
    reply_free(r);
}

START_TEST(test_project_lifecycle)
{
    Agent a = signup("gina", "ginas-password");
    char id[64], path[256];
    create_project(&a, "\"Song\"", DOC_A, id);
    snprintf(path, sizeof path, "/api/projects/%s", id);
    expect_document(&a, path, DOC_A);

    /* Saves: If-Match required, revisions count up, the ETag follows. */
    expect_free(put_doc(&a, id, NULL, DOC_B), 428, "if_match_required");
    expect_free(put_doc(&a, id, "\"x\"", DOC_B), 400, "bad_if_match");
    expect_free(put_doc(&a, id, "\"0\"", DOC_B), 400, "bad_if_match");
    Reply *r = put_doc(&a, id, "\"1\"", DOC_B);
    expect(r, 200, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 2);
    ck_assert_str_eq(reply_header(r, "ETag"), "\"2\"");
    reply_free(r);
    /* A stale save: 412 with the current revision, nothing written. */
    r = put_doc(&a, id, "\"1\"", DOC_C);
    expect(r, 412, "stale_revision");
    json_t *error = json_object_get(r->json, "error");
    ck_assert_int_eq(json_integer_value(json_object_get(error, "current_revision")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(error, "your_revision")), 1);
    ck_assert_str_eq(reply_header(r, "ETag"), "\"2\"");
    reply_free(r);
    expect_document(&a, path, DOC_B);
    expect_free(put_doc(&a, id, "\"2\"", DOC_C), 200, NULL);
    r = req(&a, "GET", path, NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(reply_header(r, "ETag"), "\"3\"");
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Song");
    reply_free(r);

    /* History: newest first; old revisions readable; restore makes a new one. */
    char sub[320];
    snprintf(sub, sizeof sub, "%s/revisions", path);
    r = req(&a, "GET", sub, NULL);
    expect(r, 200, NULL);
    json_t *revs = json_object_get(r->json, "revisions");
    ck_assert_uint_eq(json_array_size(revs), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(revs, 0), "revision")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(revs, 2), "revision")), 1);
    ck_assert_int_gt(json_integer_value(json_object_get(json_array_get(revs, 2), "size")), 0);
    reply_free(r);
    snprintf(sub, sizeof sub, "%s/revisions/1", path);
    expect_document(&a, sub, DOC_A);
    snprintf(sub, sizeof sub, "%s/revisions/2", path);
    expect_document(&a, sub, DOC_B);
    static const char *bad_revisions[] = {"4", "0", "-1", "01", "1a", "99999999999999999999", "1%20", "%31"};
    for (size_t i = 0; i < sizeof bad_revisions / sizeof bad_revisions[0]; i++) {
        snprintf(sub, sizeof sub, "%s/revisions/%s", path, bad_revisions[i]);
        r = req(&a, "GET", sub, NULL);
        if (strcmp(bad_revisions[i], "%31") == 0) /* decoded once: revision 1 */
            expect_free(r, 200, NULL);
        else
            expect_free(r, 404, "not_found");
    }
    snprintf(sub, sizeof sub, "%s/revisions/1/restore", path);
    r = req_h(&a, "POST", sub, NULL, "If-Match: \"2\"\r\n");
    expect_free(r, 412, "stale_revision");
    r = req_h(&a, "POST", sub, NULL, "If-Match: \"3\"\r\n");
    expect(r, 200, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "restored_from")), 1);
    reply_free(r);
    expect_document(&a, path, DOC_A);
    snprintf(sub, sizeof sub, "%s/revisions/9/restore", path);
    expect_free(req(&a, "POST", sub, NULL), 404, "not_found");
    snprintf(sub, sizeof sub, "%s/revisions/4", path);
    r = req(&a, "GET", sub, NULL);
    expect(r, 200, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "restored_from")), 1);
    reply_free(r);

    /* Rename; duplicate; list; delete. */
    r = req(&a, "PATCH", path, "{\"name\":\"Song v2\"}");
    expect(r, 200, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Song v2");
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 4);
    reply_free(r);
    snprintf(sub, sizeof sub, "%s/duplicate", path);
    r = req(&a, "POST", sub, NULL);
    expect(r, 201, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Song v2 (copy)");
    char copy_id[64];
    snprintf(copy_id, sizeof copy_id, "%s", json_string_value(json_object_get(r->json, "id")));
    ck_assert_str_ne(copy_id, id);
    reply_free(r);
    r = req(&a, "POST", sub, "{\"name\":\"Named copy\"}");
    expect(r, 201, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Named copy");
    reply_free(r);
    char copy_path[128];
    snprintf(copy_path, sizeof copy_path, "/api/projects/%s", copy_id);
    expect_document(&a, copy_path, DOC_A);
    snprintf(sub, sizeof sub, "%s/revisions", copy_path);
    r = req(&a, "GET", sub, NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r->json, "revisions")), 1);
    reply_free(r);

    r = req(&a, "GET", "/api/projects", NULL);
    expect(r, 200, NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r->json, "projects")), 3);
    reply_free(r);
    expect_free(req(&a, "DELETE", copy_path, NULL), 204, NULL);
    expect_free(req(&a, "GET", copy_path, NULL), 404, "not_found");
    expect_free(req(&a, "DELETE", copy_path, NULL), 404, "not_found");
    snprintf(sub, sizeof sub, "%s/revisions/1", copy_path);
    expect_free(req(&a, "GET", sub, NULL), 404, "not_found");
    r = req(&a, "GET", "/api/projects", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r->json, "projects")), 2);
    reply_free(r);

    /* A project without a document starts empty. */
    char empty_id[64];
    create_project(&a, "\"Empty\"", NULL, empty_id);
    snprintf(sub, sizeof sub, "/api/projects/%s", empty_id);
    expect_document(&a, sub, "{\"version\":1,\"tracks\":[]}");

    /* Unknown sub-paths and methods. */
    snprintf(sub, sizeof sub, "%s/nothing", path);
    expect_free(req(&a, "GET", sub, NULL), 404, "not_found");
    snprintf(sub, sizeof sub, "%s/share", path);
    r = req(&a, "GET", sub, NULL);
    expect(r, 405, "method_not_allowed");
    ck_assert_str_eq(reply_header(r, "Allow"), "POST, DELETE");
    reply_free(r);
    expect_free(req(&a, "PUT", "/api/projects", DOC_A), 405, "method_not_allowed");
}
END_TEST

START_TEST(test_share_links)
{
    Agent a = signup("hank", "hanks-password");
    char id[64], path[256], sub[320];
    create_project(&a, "\"Shared\"", DOC_B, id);
    snprintf(path, sizeof path, "/api/projects/%s", id);
    snprintf(sub, sizeof sub, "%s/share", path);
    Reply *r = req(&a, "POST", sub, NULL);
    expect(r, 201, NULL);
    char link[128];
    snprintf(link, sizeof link, "%s", json_string_value(json_object_get(r->json, "path")));
    ck_assert(strncmp(link, "/api/shared/", 12) == 0);
    reply_free(r);
    /* Read without any session; the latest revision; no project id. */
    r = req(NULL, "GET", link, NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Shared");
    ck_assert_ptr_null(json_object_get(r->json, "id"));
    reply_free(r);
    expect_free(put_doc(&a, id, "\"1\"", DOC_C), 200, NULL);
    expect_document(NULL, link, DOC_C);
    /* Read only: the link opens nothing else. */
    char write_path[300];
    snprintf(write_path, sizeof write_path, "%s", link);
    expect_free(req(NULL, "PUT", write_path, DOC_A), 405, "method_not_allowed");
    expect_free(req(NULL, "DELETE", write_path, NULL), 405, "method_not_allowed");
    r = req(&a, "GET", path, NULL);
    ck_assert(json_is_true(json_object_get(r->json, "shared")));
    reply_free(r);
    /* A new link replaces the old one; revoking ends both. */
    r = req(&a, "POST", sub, NULL);
    expect(r, 201, NULL);
    char link2[128];
    snprintf(link2, sizeof link2, "%s", json_string_value(json_object_get(r->json, "path")));
    reply_free(r);
    expect_free(req(NULL, "GET", link, NULL), 404, "not_found");
    expect_free(req(NULL, "GET", link2, NULL), 200, NULL);
    expect_free(req(&a, "DELETE", sub, NULL), 204, NULL);
    expect_free(req(NULL, "GET", link2, NULL), 404, "not_found");
    /* Forged tokens. */
    static const char *forged[] = {"/api/shared/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "/api/shared/x",
                                   "/api/shared/", "/api/shared/a/b", "/api/shared/'%20OR%201=1--"};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++)
        expect_free(req(NULL, "GET", forged[i], NULL), 404, "not_found");
}
END_TEST

START_TEST(test_other_users_projects)
{
    Agent owner = signup("ivan", "ivans-password");
    Agent other = signup("judy", "judys-password");
    char id[64], path[256], sub[320];
    create_project(&owner, "\"Ivan's secret song\"", DOC_A, id);
    snprintf(path, sizeof path, "/api/projects/%s", id);
    expect_free(put_doc(&owner, id, "\"1\"", DOC_B), 200, NULL);

    /* Every endpoint answers 404 to judy, exactly as for a missing id. */
    struct {
        const char *method, *suffix, *body, *extra;
    } calls[] = {
        {"GET", "", NULL, NULL},
        {"PUT", "", DOC_C, "If-Match: \"2\"\r\n"},
        {"PATCH", "", "{\"name\":\"stolen\"}", NULL},
        {"DELETE", "", NULL, NULL},
        {"POST", "/duplicate", NULL, NULL},
        {"GET", "/revisions", NULL, NULL},
        {"GET", "/revisions/1", NULL, NULL},
        {"POST", "/revisions/1/restore", NULL, NULL},
        {"POST", "/share", NULL, NULL},
        {"DELETE", "/share", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        snprintf(sub, sizeof sub, "%s%s", path, calls[i].suffix);
        Reply *r = req_h(&other, calls[i].method, sub, calls[i].body, calls[i].extra);
        expect(r, 404, "not_found");
        ck_assert_msg(!strstr(r->data, "secret") && !strstr(r->data, "tempo"), "leak: %s", r->data);
        reply_free(r);
        /* The same for an id that does not exist. */
        snprintf(sub, sizeof sub, "/api/projects/00000000000000000000000000000000%s", calls[i].suffix);
        expect_free(req_h(&other, calls[i].method, sub, calls[i].body, calls[i].extra), 404, "not_found");
    }
    Reply *r = req(&other, "GET", "/api/projects", NULL);
    expect(r, 200, NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r->json, "projects")), 0);
    reply_free(r);
    /* Nothing changed for the owner. */
    r = req(&owner, "GET", path, NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Ivan's secret song");
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "revision")), 2);
    ck_assert(json_is_false(json_object_get(r->json, "shared")));
    reply_free(r);
}
END_TEST

START_TEST(test_bad_documents)
{
    Agent a = signup("kate", "kates-password");
    char id[64];
    create_project(&a, "\"Docs\"", DOC_A, id);
    static const struct {
        const char *doc;
        int status;
        const char *code;
        const char *in_hint;
    } cases[] = {
        {"{\"version\":1,\"tempo\":1400,\"tracks\":[]}", 422, "invalid_document", "tempo"},
        {"{\"version\":1,\"tempo\":\"fast\",\"tracks\":[]}", 422, "invalid_document", "tempo"},
        {"{\"version\":1,\"tracks\":[],\"tempoo\":120}", 422, "invalid_document", "tempoo"},
        {"{\"version\":1}", 422, "invalid_document", "tracks"},
        {"{\"tracks\":[]}", 422, "invalid_document", "version"},
        {"{\"version\":3,\"tracks\":[]}", 422, "invalid_document", "newer"},
        {"{\"version\":0,\"tracks\":[]}", 422, "invalid_document", "not supported"},
        {"{\"version\":\"1\",\"tracks\":[]}", 422, "invalid_document", "version"},
        {"{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":\"x\",\"clips\":[{\"start_beat\":0,"
         "\"length_beats\":1,\"notes\":[{\"key\":200,\"start_beat\":0,\"length_beats\":1}]}]}]}",
         422, "invalid_document", "tracks[0].clips[0].notes[0].key"},
        /* A patch named by a file path: never stored (it would name a file of the server). */
        {"{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"instrument\",\"patch\":\"../../etc/passwd\"}]}", 422,
         "file_path", "tracks[0].patch: a stored project names a patch of the library"},
        {"{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"bus\",\"inserts\":[{\"patch\":{\"file\":\"x.amp\"}}]}]}", 422,
         "file_path", "tracks[0].inserts[0].patch"},
        {"{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"bus\"},{\"id\":1,\"kind\":\"bus\"}]}", 422,
         "invalid_document", NULL},
        {"[1,2]", 422, "invalid_document", NULL},
        {"42", 400, "bad_json", NULL},
        {"{\"version\":1,\"tracks\":[]", 400, "bad_json", NULL},
        {"{\"version\":1,\"tracks\":[],\"tracks\":[]}", 400, "bad_json", NULL},
        {"{\"version\":1,\"tracks\":[],\"ui\":\"\xff\"}", 400, "bad_json", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Reply *r = put_doc(&a, id, "\"1\"", cases[i].doc);
        ck_assert_msg(r->status == cases[i].status, "case %zu: %d: %s", i, r->status, r->data);
        expect(r, cases[i].status, cases[i].code);
        const char *hint = json_string_value(json_object_get(json_object_get(r->json, "error"), "hint"));
        ck_assert_msg(!cases[i].in_hint || strstr(hint, cases[i].in_hint), "case %zu hint: %s", i, hint);
        reply_free(r);
    }
    /* Creating with a bad document creates nothing. */
    expect_free(req(&a, "POST", "/api/projects", "{\"name\":\"x\",\"document\":{\"version\":1}}"), 422,
                "invalid_document");
    expect_free(req(&a, "POST", "/api/projects", "{\"name\":\"x\",\"document\":\"text\"}"), 422,
                "invalid_document");
    Reply *r = req(&a, "GET", "/api/projects", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r->json, "projects")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(r->json, "projects"), 0),
                                                        "revision")),
                     1);
    reply_free(r);
    /* The "ui" object may hold anything and comes back as sent. */
    static const char with_ui[] = "{\"version\":1,\"tracks\":[],\"ui\":{\"colours\":[\"#fff\",null,1.5],"
                                  "\"\\u00e9\\u4e2d\":{\"deep\":true}}}";
    expect_free(put_doc(&a, id, "\"1\"", with_ui), 200, NULL);
    char path[128];
    snprintf(path, sizeof path, "/api/projects/%s", id);
    expect_document(&a, path, with_ui);
}
END_TEST

START_TEST(test_names_and_ids)
{
    Agent a = signup("liam", "liams-password");
    /* Names round-trip exactly: SQL metacharacters, quotes, paths, UTF-8. */
    static const char *names[] = {
        "\"Robert'); DROP TABLE projects;--\"", "\"%s%n%x\"", "\"../../../etc/passwd\"",
        "\"a\\\\b\\\"c\"", "\"\\u00e9t\\u00e9 \\u4e2d\\u6587 \\ud83c\\udfb5\"", "\"' OR '1'='1\"",
        "\"<script>alert(1)</script>\"",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char id[64], path[128];
        create_project(&a, names[i], NULL, id);
        snprintf(path, sizeof path, "/api/projects/%s", id);
        Reply *r = req(&a, "GET", path, NULL);
        json_t *want = json_loads(names[i], JSON_DECODE_ANY, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), json_string_value(want));
        json_decref(want);
        reply_free(r);
    }
    Reply *r = req(&a, "GET", "/api/projects", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r->json, "projects")), sizeof names / sizeof names[0]);
    reply_free(r);
    /* Refused names. */
    static const char *bad[] = {"{\"name\":\"\"}", "{\"name\":\"a\\u0001b\"}", "{\"name\":\"a\\nb\"}",
                                "{\"name\":\"\\u007f\"}", "{\"name\":5}", "{}", "{\"name\":\"a\xff\"}"};
    static const char *codes[] = {"bad_name", "bad_name", "bad_name", "bad_name", "wrong_type", "missing_field",
                                  "bad_json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_free(req(&a, "POST", "/api/projects", bad[i]), 400, codes[i]);
    char long_name[400];
    int n = snprintf(long_name, sizeof long_name, "{\"name\":\"");
    memset(long_name + n, 'n', 201);
    snprintf(long_name + n + 201, sizeof long_name - n - 201, "\"}");
    expect_free(req(&a, "POST", "/api/projects", long_name), 400, "too_long");

    /* Ids: anything but 32 lowercase hex digits is not found; path tricks
     * are refused before routing. */
    char id[64];
    create_project(&a, "\"Target\"", NULL, id);
    char upper[64];
    snprintf(upper, sizeof upper, "%s", id);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    char target[256];
    static const char *ids[] = {"x", "0", "-1", "%27%20OR%201=1--", "00000000000000000000000000000000",
                                "0000000000000000000000000000000g", NULL, NULL, NULL};
    ids[6] = upper;
    char longer[80];
    snprintf(longer, sizeof longer, "%s0", id);
    ids[7] = longer;
    char spaced[80];
    snprintf(spaced, sizeof spaced, "%s%%20", id);
    ids[8] = spaced;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (strcmp(ids[i], upper) == 0 && strcmp(upper, id) == 0)
            continue; /* an id of digits only has no upper case */
        snprintf(target, sizeof target, "/api/projects/%s", ids[i]);
        expect_free(req(&a, "GET", target, NULL), 404, "not_found");
    }
    static const char *tricks[] = {"/api/projects/../account", "/api/projects/%2e%2e/account",
                                   "/api/projects/x/..", "/api/projects/a%00b", "/api/projects/a%5cb"};
    for (size_t i = 0; i < sizeof tricks / sizeof tricks[0]; i++)
        expect_free(req(&a, "GET", tricks[i], NULL), 400, "bad_path");
    snprintf(target, sizeof target, "/api/projects/%s/", id);
    expect_free(req(&a, "GET", target, NULL), 404, "not_found");
    snprintf(target, sizeof target, "/api/projects/%s//revisions", id);
    expect_free(req(&a, "GET", target, NULL), 404, "not_found");
    char *very_long = malloc(1800);
    int len = snprintf(very_long, 1800, "/api/projects/");
    memset(very_long + len, 'a', 1700);
    very_long[len + 1700] = '\0';
    expect_free(req(&a, "GET", very_long, NULL), 404, "not_found");
    free(very_long);
    /* The target still exists, untouched. */
    snprintf(target, sizeof target, "/api/projects/%s", id);
    expect_free(req(&a, "GET", target, NULL), 200, NULL);
}
END_TEST

/* ---- expiry, rate limits, local mode ----------------------------------------------- */

START_TEST(test_session_expiry)
{
    Agent a = signup("mona", "monas-password");
    expect_free(req(&a, "GET", "/api/account", NULL), 200, NULL);
    /* The server checks the expiry itself, whatever the browser keeps. */
    usleep(2100 * 1000);
    expect_free(req(&a, "GET", "/api/account", NULL), 401, "session_invalid");
    expect_free(req(&a, "POST", "/api/projects", "{\"name\":\"late\"}"), 401, "session_invalid");
    Agent again = {0};
    ck_assert_int_eq(signin_status(&again, "mona", "monas-password"), 200);
    expect_free(req(&again, "GET", "/api/account", NULL), 200, NULL);
}
END_TEST

START_TEST(test_signin_rate_limit)
{
    /* The fixture allows 3 failures per account, 12 per address, per 5 min. */
    Agent a = signup("nora", "noras-password");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(signin_status(NULL, "nora", "wrong-password"), 401);
    Reply *r = req(NULL, "POST", "/api/account/signin", "{\"name\":\"NORA\",\"password\":\"noras-password\"}");
    expect(r, 429, "too_many_attempts");
    const char *retry = reply_header(r, "Retry-After");
    ck_assert_ptr_nonnull(retry);
    ck_assert_int_gt(atoi(retry), 0);
    ck_assert_int_le(atoi(retry), 300);
    reply_free(r);
    /* The account's existing session is not affected. */
    expect_free(req(&a, "GET", "/api/account", NULL), 200, NULL);
    /* Password changes count against the account too. */
    expect_free(req(&a, "POST", "/api/account/password",
                    "{\"password\":\"noras-password\",\"new_password\":\"whatever-else\"}"),
                429, "too_many_attempts");
    /* Another account from this address may still try... */
    signup("olga", "olgas-password");
    ck_assert_int_eq(signin_status(NULL, "olga", "olgas-password"), 200);
    /* ...until the address has failed 12 times (3 so far). */
    for (int i = 0; i < 9; i++) {
        char name[32];
        snprintf(name, sizeof name, "ghost%d", i);
        ck_assert_int_eq(signin_status(NULL, name, "wrong-password"), 401);
    }
    ck_assert_int_eq(signin_status(NULL, "olga", "olgas-password"), 429);
}
END_TEST

START_TEST(test_local_mode)
{
    /* Loopback without a session is the local user. */
    Reply *r = req(NULL, "GET", "/api/account", NULL);
    expect(r, 200, NULL);
    json_t *user = json_object_get(r->json, "user");
    ck_assert_str_eq(json_string_value(json_object_get(user, "name")), "local");
    ck_assert(json_is_true(json_object_get(user, "local")));
    Agent local = {0};
    snprintf(local.csrf, sizeof local.csrf, "%s", json_string_value(json_object_get(r->json, "csrf")));
    ck_assert(auth_token_well_formed(local.csrf));
    reply_free(r);
    /* Writes still need the CSRF token (a page of another site could
     * otherwise post to this loopback server). */
    expect_free(req(NULL, "POST", "/api/projects", "{\"name\":\"mine\"}"), 403, "csrf");
    char id[64], path[128];
    create_project(&local, "\"mine\"", DOC_A, id);
    snprintf(path, sizeof path, "/api/projects/%s", id);
    expect_document(&local, path, DOC_A);
    expect_free(put_doc(&local, id, "\"1\"", DOC_B), 200, NULL);
    /* A Host that is not a loopback name (DNS rebinding) is not local. */
    expect_free(req_h(NULL, "GET", "/api/account", NULL, "Host: evil.example\r\n"), 401, "not_signed_in");
    r = send_request(NULL, "GET", "/api/projects", NULL, 0, NULL);
    expect_free(r, 200, NULL);
    /* A signed-up user on the same machine sees only their own projects. */
    Agent pat = signup("pat", "pats-password");
    r = req(&pat, "GET", "/api/projects", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r->json, "projects")), 0);
    reply_free(r);
    expect_free(req(&pat, "GET", path, NULL), 404, "not_found");
    /* A stale cookie is refused (and cleared), not silently local. */
    Agent stale = {0};
    snprintf(stale.cookie, sizeof stale.cookie, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    expect_free(req(&stale, "GET", "/api/account", NULL), 401, "session_invalid");
    /* The local user has no password to sign in with or change. */
    ck_assert_int_eq(signin_status(NULL, "local", ""), 401);
    ck_assert_int_eq(signin_status(NULL, "local", "anything-at-all"), 401);
    expect_free(req(&local, "POST", "/api/account/password",
                    "{\"password\":\"anything\",\"new_password\":\"anything-else\"}"),
                403, "local_user");
    expect_free(req(&local, "POST", "/api/account/signout", NULL), 204, NULL);
}
END_TEST

START_TEST(test_local_user_persists)
{
    /* The local user exists from the first start, with its projects kept
     * across restarts. */
    char path[700];
    snprintf(path, sizeof path, "%s/ampd.sqlite", data_dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM users WHERE is_local = 1", -1, &s, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    sqlite3_close(db);
}
END_TEST

/* ---- storage ------------------------------------------------------------------------ */

START_TEST(test_synchronous_full)
{
    /* The running server's own connections report WAL and FULL... */
    for (int i = 0; i < 8; i++) { /* several requests: several workers */
        Reply *r = req(NULL, "GET", "/api/storage", NULL);
        expect(r, 200, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(r->json, "synchronous")), "full");
        ck_assert_str_eq(json_string_value(json_object_get(r->json, "journal_mode")), "wal");
        ck_assert_int_eq(json_integer_value(json_object_get(r->json, "schema_version")), store_n_migrations);
        reply_free(r);
    }
    /* ...and its file, opened read-only beside it, is in WAL mode, at
     * the schema version of the last migration, and intact. */
    Agent a = signup("quinn", "quinns-password");
    char id[64];
    create_project(&a, "\"On disk\"", DOC_A, id);
    char path[700];
    snprintf(path, sizeof path, "%s/ampd.sqlite", data_dir);
    struct stat st;
    ck_assert_int_eq(stat(data_dir, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char version[16];
    snprintf(version, sizeof version, "%d", store_n_migrations);
    const struct {
        const char *sql, *want;
    } checks[] = {
        {"PRAGMA journal_mode", "wal"},
        {"PRAGMA integrity_check", "ok"},
        {"SELECT max(version) FROM schema_version", version},
        {"SELECT name FROM projects", "On disk"},
        {"SELECT count(*) FROM revisions", "1"},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        sqlite3_stmt *s;
        ck_assert_int_eq(sqlite3_prepare_v2(db, checks[i].sql, -1, &s, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
        ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), checks[i].want);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
}
END_TEST

/* Concurrent slow sign-ups against one worker and a queue of one. */
typedef struct SignupThread {
    pthread_t thread;
    int index;
    int status;
    char retry_after[16];
    bool error_shape;
} SignupThread;

static void *signup_thread(void *arg)
{
    SignupThread *t = arg;
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"busy%d\",\"password\":\"busy-password\"}", t->index);
    char text[512];
    int n = snprintf(text, sizeof text,
                     "POST /api/account/signup HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    Reply *r = api_client_exchange(ampd_port, text, (size_t)n);
    t->status = r->status;
    const char *retry = reply_header(r, "Retry-After");
    snprintf(t->retry_after, sizeof t->retry_after, "%s", retry ? retry : "");
    json_t *error = json_object_get(r->json, "error");
    t->error_shape = json_is_object(error) && json_is_string(json_object_get(error, "code"));
    reply_free(r);
    return NULL;
}

START_TEST(test_full_queue_is_503)
{
    enum { CLIENTS = 12 };
    SignupThread threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        threads[i] = (SignupThread){.index = i};
        ck_assert_int_eq(pthread_create(&threads[i].thread, NULL, signup_thread, &threads[i]), 0);
    }
    int created = 0, busy = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i].thread, NULL);
        if (threads[i].status == 201)
            created++;
        else {
            ck_assert_int_eq(threads[i].status, 503);
            ck_assert(threads[i].error_shape);
            ck_assert_str_eq(threads[i].retry_after, "1");
            busy++;
        }
    }
    ck_assert_int_ge(created, 1);
    ck_assert_int_ge(busy, 1);
    ck_assert_int_eq(created + busy, CLIENTS);
    /* After the burst, the server answers normally. */
    Reply *r = req(NULL, "GET", "/api/storage", NULL);
    expect_free(r, 200, NULL);
}
END_TEST

static void start_one_worker(void)
{
    /* One worker, one waiting job, argon2id slow enough to pile up. */
    static const char *extra[] = {"--workers", "1", "--queue", "1", NULL};
    data_dir = api_temp_dir("ampd-api");
    root_dir = api_temp_dir("ampd-root");
    const char *args[] = {"--port", "0", "--root", root_dir, "--data", data_dir, "--argon-ops", "3",
                          "--argon-mem", "33554432", extra[0], extra[1], extra[2], extra[3], NULL};
    ampd_pid = spawn_ampd(args, &ampd_port);
    ck_assert_msg(ampd_port != 0, "ampd did not start");
}

/* Behind an HTTPS proxy the session cookie is Secure, on sign-up, sign-in
 * and sign-out alike; without the option it is not (plain http://localhost
 * would otherwise never get a session). */
START_TEST(test_secure_cookies)
{
    Reply *r = req(NULL, "POST", "/api/account/signup", "{\"name\":\"carol\",\"password\":\"secret-one\"}");
    expect(r, 201, NULL);
    const char *cookie = reply_header(r, "Set-Cookie");
    ck_assert(strstr(cookie, "; Secure") && strstr(cookie, "HttpOnly") && strstr(cookie, "SameSite=Strict"));
    Agent carol = {0};
    take_cookie(&carol, r);
    reply_free(r);
    r = req(NULL, "POST", "/api/account/signin", "{\"name\":\"carol\",\"password\":\"secret-one\"}");
    expect(r, 200, NULL);
    ck_assert(strstr(reply_header(r, "Set-Cookie"), "; Secure"));
    reply_free(r);
    r = req(&carol, "POST", "/api/account/signout", NULL);
    expect(r, 204, NULL);
    cookie = reply_header(r, "Set-Cookie");
    ck_assert(strstr(cookie, "Max-Age=0") && strstr(cookie, "; Secure"));
    reply_free(r);
}
END_TEST

START_TEST(test_no_data_folder)
{
    /* Without --data the app is served and the API says why it cannot. */
    char *root = api_temp_dir("ampd-root");
    const char *args[] = {"--port", "0", "--root", root, NULL};
    unsigned port;
    pid_t pid = spawn_ampd(args, &port);
    ck_assert_uint_ne(port, 0);
    unsigned saved = ampd_port;
    ampd_port = port;
    expect_free(req(NULL, "GET", "/api/projects", NULL), 503, "no_storage");
    expect_free(req(NULL, "GET", "/api/health", NULL), 200, NULL);
    ampd_port = saved;
    int status = ampd_stop(pid, 10);
    ck_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    testutil_remove_tree(root);
    /* Bad option values are refused. */
    static const char *bad[][3] = {{"--argon-ops", "0", NULL}, {"--argon-mem", "100", NULL},
                                   {"--session-lifetime", "x", NULL}, {"--workers", "0", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        status = ampd_wait(spawn_ampd(bad[i], &port), 10);
        ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2, "%s %s accepted",
                      bad[i][0], bad[i][1]);
    }
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_tokens_and_cookies);
    tcase_add_test(core, test_names_and_passwords);
    tcase_add_test(core, test_rate_limiter);
    tcase_add_test(core, test_worker_pool);
    tcase_add_test(core, test_doc_upgrade);
    tcase_add_test(core, test_store_in_process);
    tcase_add_test(core, test_no_data_folder);
    suite_add_tcase(s, core);

    TCase *accounts = tcase_create("accounts");
    tcase_add_unchecked_fixture(accounts, start_plain, stop_ampd);
    tcase_set_timeout(accounts, 60);
    tcase_add_test(accounts, test_signup_signin_signout);
    tcase_add_test(accounts, test_missing_and_forged_sessions);
    tcase_add_test(accounts, test_csrf_and_origin);
    tcase_add_test(accounts, test_change_password);
    tcase_add_test(accounts, test_account_bad_input);
    suite_add_tcase(s, accounts);

    TCase *projects = tcase_create("projects");
    tcase_add_unchecked_fixture(projects, start_plain, stop_ampd);
    tcase_set_timeout(projects, 60);
    tcase_add_test(projects, test_project_lifecycle);
    tcase_add_test(projects, test_share_links);
    tcase_add_test(projects, test_other_users_projects);
    tcase_add_test(projects, test_bad_documents);
    tcase_add_test(projects, test_names_and_ids);
    suite_add_tcase(s, projects);

    TCase *secure = tcase_create("secure");
    tcase_add_unchecked_fixture(secure, start_secure_cookies, stop_ampd);
    tcase_add_test(secure, test_secure_cookies);
    suite_add_tcase(s, secure);

    TCase *expiry = tcase_create("expiry");
    tcase_add_unchecked_fixture(expiry, start_short_sessions, stop_ampd);
    tcase_add_test(expiry, test_session_expiry);
    suite_add_tcase(s, expiry);

    TCase *ratelimit = tcase_create("ratelimit");
    tcase_add_unchecked_fixture(ratelimit, start_limited, stop_ampd);
    tcase_add_test(ratelimit, test_signin_rate_limit);
    suite_add_tcase(s, ratelimit);

    TCase *local = tcase_create("local");
    tcase_add_unchecked_fixture(local, start_local, stop_ampd);
    tcase_add_test(local, test_local_mode);
    tcase_add_test(local, test_local_user_persists);
    suite_add_tcase(s, local);

    TCase *storage = tcase_create("storage");
    tcase_add_unchecked_fixture(storage, start_plain, stop_ampd);
    tcase_add_test(storage, test_synchronous_full);
    suite_add_tcase(s, storage);

    TCase *busy = tcase_create("busy");
    tcase_add_unchecked_fixture(busy, start_one_worker, stop_ampd);
    tcase_set_timeout(busy, 60);
    tcase_add_test(busy, test_full_queue_is_503);
    suite_add_tcase(s, busy);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return testutil_run(api_suite());
}
