/* store_sqlite.c — the embedded backend of store.h: sqlite3 in WAL mode.
 *
 * Files: DATA_DIR/ampd.sqlite (with its -wal and -shm). store_open creates
 * the folder (0700) and the file, switches the file to WAL, and applies the
 * migrations embedded from server/migrations/NNN_*.sql (store_migrations,
 * generated at build time by runtime/gen/embed.c): each one whose number is
 * not yet in schema_version, in ascending order, in its own transaction
 * together with its row there (numbers may have gaps: see migrate). A
 * database newer than this build is refused.
 *
 * Threading: one sqlite connection per StoreConn, and ampd makes one
 * StoreConn per worker thread (workers.c), so a connection is only ever
 * used by the thread that owns it (SQLITE_OPEN_NOMUTEX) and every statement
 * is prepared once, when the connection is made. Readers never wait for the
 * writer (WAL); writers take the write lock at BEGIN IMMEDIATE and wait for
 * each other through busy_timeout, so a transaction never has to upgrade a
 * read lock (which can deadlock). Every connection runs with
 * synchronous=FULL: a commit returns after the WAL is fsynced, so a save
 * acknowledged with 200 survives a crash of the process or the machine.
 *
 * Statements: one enum entry and one SQL text each; values only ever go
 * through sqlite3_bind_*. Each use is bind -> step -> finish (reset and
 * clear bindings), so no statement keeps a read snapshot open.
 */
#include "store.h"

#include "build.h" /* BuildHeader, the type of the embedded migrations */

#include <sqlite3.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* server/migrations/NNN_name.sql in name order (build/gen/migrations.c). */
extern const BuildHeader store_migrations[];
extern const int store_n_migrations;

#define DB_FILE_NAME "ampd.sqlite"
#define BUSY_TIMEOUT_MS 10000

struct Store {
    char path[4200];
    int schema_version;
};

typedef enum StatementId {
    SQL_BEGIN,
    SQL_COMMIT,
    SQL_ROLLBACK,
    SQL_JOURNAL_MODE,
    SQL_SYNCHRONOUS,
    SQL_USER_INSERT,
    SQL_USER_BY_NAME,
    SQL_USER_BY_ID,
    SQL_USER_LOCAL,
    SQL_USER_SET_PASSWORD,
    SQL_SESSIONS_REVOKE_OTHERS,
    SQL_SESSIONS_PURGE,
    SQL_SESSION_INSERT,
    SQL_SESSION_FIND,
    SQL_SESSION_DELETE,
    SQL_PROJECT_INSERT,
    SQL_PROJECT_FIND,
    SQL_PROJECT_LIST,
    SQL_PROJECT_SET_HEAD,
    SQL_PROJECT_RENAME,
    SQL_PROJECT_DELETE,
    SQL_PROJECT_SET_SHARE,
    SQL_PROJECT_BY_SHARE,
    SQL_REVISION_INSERT,
    SQL_REVISION_GET,
    SQL_REVISION_LIST,
    /* the patch library */
    SQL_PATCH_INSERT,
    SQL_PATCH_FIND,
    SQL_PATCH_LIST,
    SQL_PATCH_SET_HEAD,
    SQL_PATCH_RENAME,
    SQL_PATCH_DELETE,
    SQL_PATCH_REVISION_INSERT,
    SQL_PATCH_REVISION_GET,
    SQL_PATCH_REVISION_LIST,
    /* audio assets */
    SQL_ASSET_INSERT,
    SQL_ASSET_GET,
    SQL_ASSET_LIST,
    SQL_ASSET_USAGE,
    SQL_ASSET_DELETE,
    SQL_ASSET_LINKS,
    SQL_STATEMENT_COUNT
} StatementId;

/* The project columns read into a StoreProject, after the internal id. */
#define PROJECT_COLUMNS "id, public_id, name, head, created_at, updated_at, share_hash IS NOT NULL"
/* The patch columns read into a StorePatch, after the internal id (the
 * size is the head revision's). */
#define PATCH_COLUMNS "id, public_id, name, head, created_at, updated_at, " \
                      "(SELECT size FROM patch_revisions r WHERE r.patch_id = p.id AND r.number = p.head)"

/* The asset columns read into a StoreAsset. */
#define ASSET_COLUMNS "hash, name, size, format, created_at"

static const char *const statement_sql[SQL_STATEMENT_COUNT] = {
    [SQL_BEGIN] = "BEGIN IMMEDIATE",
    [SQL_COMMIT] = "COMMIT",
    [SQL_ROLLBACK] = "ROLLBACK",
    [SQL_JOURNAL_MODE] = "PRAGMA journal_mode",
    [SQL_SYNCHRONOUS] = "PRAGMA synchronous",
    [SQL_USER_INSERT] = "INSERT INTO users (name, password_hash, is_local, created_at) VALUES (?1, ?2, ?3, ?4)",
    [SQL_USER_BY_NAME] = "SELECT id, name, password_hash, is_local FROM users WHERE name = ?1",
    [SQL_USER_BY_ID] = "SELECT id, name, password_hash, is_local FROM users WHERE id = ?1",
    [SQL_USER_LOCAL] = "SELECT id, name, password_hash, is_local FROM users WHERE is_local = 1",
    [SQL_USER_SET_PASSWORD] = "UPDATE users SET password_hash = ?2 WHERE id = ?1",
    [SQL_SESSIONS_REVOKE_OTHERS] = "DELETE FROM sessions WHERE user_id = ?1 AND id <> ?2",
    [SQL_SESSIONS_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1",
    [SQL_SESSION_INSERT] = "INSERT INTO sessions (user_id, token_hash, csrf, created_at, expires_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQL_SESSION_FIND] = "SELECT id, user_id, csrf, expires_at FROM sessions "
                         "WHERE token_hash = ?1 AND expires_at > ?2",
    [SQL_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1",
    [SQL_PROJECT_INSERT] = "INSERT INTO projects (public_id, owner_id, name, head, created_at, updated_at) "
                           "VALUES (?1, ?2, ?3, 1, ?4, ?4)",
    [SQL_PROJECT_FIND] = "SELECT " PROJECT_COLUMNS " FROM projects WHERE owner_id = ?1 AND public_id = ?2",
    [SQL_PROJECT_LIST] = "SELECT " PROJECT_COLUMNS " FROM projects WHERE owner_id = ?1 "
                         "ORDER BY updated_at DESC, id DESC",
    [SQL_PROJECT_SET_HEAD] = "UPDATE projects SET head = ?2, updated_at = ?3 WHERE id = ?1",
    [SQL_PROJECT_RENAME] = "UPDATE projects SET name = ?2, updated_at = ?3 WHERE id = ?1",
    [SQL_PROJECT_DELETE] = "DELETE FROM projects WHERE id = ?1",
    [SQL_PROJECT_SET_SHARE] = "UPDATE projects SET share_hash = ?2 WHERE id = ?1",
    [SQL_PROJECT_BY_SHARE] = "SELECT " PROJECT_COLUMNS " FROM projects WHERE share_hash = ?1",
    [SQL_REVISION_INSERT] = "INSERT INTO revisions (project_id, number, document, size, restored_from, created_at) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQL_REVISION_GET] = "SELECT number, created_at, size, restored_from, document FROM revisions "
                         "WHERE project_id = ?1 AND number = ?2",
    [SQL_REVISION_LIST] = "SELECT number, created_at, size, restored_from FROM revisions "
                          "WHERE project_id = ?1 ORDER BY number DESC",
    [SQL_PATCH_INSERT] = "INSERT INTO patches (public_id, owner_id, name, head, created_at, updated_at) "
                         "VALUES (?1, ?2, ?3, 1, ?4, ?4)",
    [SQL_PATCH_FIND] = "SELECT " PATCH_COLUMNS " FROM patches p WHERE owner_id = ?1 AND public_id = ?2",
    [SQL_PATCH_LIST] = "SELECT " PATCH_COLUMNS " FROM patches p WHERE owner_id = ?1 "
                       "ORDER BY updated_at DESC, id DESC",
    [SQL_PATCH_SET_HEAD] = "UPDATE patches SET head = ?2, updated_at = ?3 WHERE id = ?1",
    [SQL_PATCH_RENAME] = "UPDATE patches SET name = ?2, updated_at = ?3 WHERE id = ?1",
    [SQL_PATCH_DELETE] = "DELETE FROM patches WHERE id = ?1",
    [SQL_PATCH_REVISION_INSERT] = "INSERT INTO patch_revisions (patch_id, number, text, size, created_at) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQL_PATCH_REVISION_GET] = "SELECT number, created_at, size, text FROM patch_revisions "
                               "WHERE patch_id = ?1 AND number = ?2",
    [SQL_PATCH_REVISION_LIST] = "SELECT number, created_at, size FROM patch_revisions "
                                "WHERE patch_id = ?1 ORDER BY number DESC",
    /* audio assets */
    [SQL_ASSET_INSERT] = "INSERT INTO asset_links (owner_id, hash, name, size, format, created_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQL_ASSET_GET] = "SELECT " ASSET_COLUMNS " FROM asset_links WHERE owner_id = ?1 AND hash = ?2",
    [SQL_ASSET_LIST] = "SELECT " ASSET_COLUMNS " FROM asset_links WHERE owner_id = ?1 "
                       "ORDER BY created_at DESC, hash",
    [SQL_ASSET_USAGE] = "SELECT coalesce(sum(size), 0) FROM asset_links WHERE owner_id = ?1",
    [SQL_ASSET_DELETE] = "DELETE FROM asset_links WHERE owner_id = ?1 AND hash = ?2",
    [SQL_ASSET_LINKS] = "SELECT count(*) FROM asset_links WHERE hash = ?1",
};

struct StoreConn {
    Store *store;
    sqlite3 *db;
    sqlite3_stmt *statements[SQL_STATEMENT_COUNT];
};

/* ---- helpers ------------------------------------------------------------ */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void log_db_error(StoreConn *c, const char *what)
{
    fprintf(stderr, "ampd: store: %s: %s\n", what, sqlite3_errmsg(c->db));
}

/* The statement, ready for binding. */
static sqlite3_stmt *use(StoreConn *c, StatementId id)
{
    return c->statements[id];
}

static void finish(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static void bind_text(sqlite3_stmt *s, int i, const char *text)
{
    sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
}

/* Step a statement that returns no row; true on success. Finishes it. */
static bool run(StoreConn *c, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    finish(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        log_db_error(c, what);
        return false;
    }
    return true;
}

static bool begin(StoreConn *c)
{
    return run(c, use(c, SQL_BEGIN), "begin");
}

static bool commit(StoreConn *c)
{
    return run(c, use(c, SQL_COMMIT), "commit");
}

static void rollback(StoreConn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        run(c, use(c, SQL_ROLLBACK), "rollback");
}

/* Commit, or roll back when `status` is not STORE_OK; the final status. */
static StoreStatus end_transaction(StoreConn *c, StoreStatus status)
{
    if (status != STORE_OK) {
        rollback(c);
        return status;
    }
    if (!commit(c)) {
        rollback(c);
        return STORE_ERROR;
    }
    return STORE_OK;
}

static void copy_column(sqlite3_stmt *s, int col, char *out, size_t cap)
{
    const unsigned char *text = sqlite3_column_text(s, col);
    snprintf(out, cap, "%s", text ? (const char *)text : "");
}

static char *dup_column(sqlite3_stmt *s, int col)
{
    const unsigned char *text = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    char *out = malloc((size_t)n + 1);
    if (!out)
        return NULL;
    memcpy(out, text ? (const char *)text : "", (size_t)n);
    out[n] = '\0';
    return out;
}

/* Step `s` for its one row: STORE_OK with the row left to read (the
 * caller then finishes `s`), STORE_NOT_FOUND, or STORE_ERROR logged as
 * `what`. */
static StoreStatus step_row(StoreConn *c, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    if (rc == SQLITE_DONE)
        return STORE_NOT_FOUND;
    log_db_error(c, what);
    return STORE_ERROR;
}

/* Step `s` to its end, each row read by `row` into an item of `size`
 * bytes pushed onto the array `*items` (`*count` long, grown by doubling
 * from 16), then finish `s`. On an error (logged as `what`) the array is
 * left for the caller to free. */
static StoreStatus read_rows(StoreConn *c, sqlite3_stmt *s, const char *what, size_t size,
                             void (*row)(sqlite3_stmt *s, void *item), void **items, size_t *count)
{
    size_t cap = 0;
    StoreStatus status = STORE_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            void *grown = realloc(*items, cap * size);
            if (!grown) {
                status = STORE_ERROR;
                break;
            }
            *items = grown;
        }
        row(s, (char *)*items + (*count)++ * size);
    }
    if (status == STORE_OK && rc != SQLITE_DONE) {
        log_db_error(c, what);
        status = STORE_ERROR;
    }
    finish(s);
    return status;
}

/* ---- opening, migrations ----------------------------------------------- */

static int open_db(const char *path, sqlite3 **db, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(*db, 1);
    /* Per-connection settings; journal_mode=WAL is kept in the file. */
    char *msg = NULL;
    rc = sqlite3_exec(*db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                      " PRAGMA trusted_schema=OFF;",
                      NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

/* The number NNN at the start of "NNN_name.sql", or -1. */
static int migration_number(const char *name)
{
    int n = 0, digits = 0;
    for (; name[digits] >= '0' && name[digits] <= '9'; digits++)
        n = n * 10 + (name[digits] - '0');
    return digits == 3 && name[digits] == '_' ? n : -1;
}

static int exec_or_err(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    set_err(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* The versions recorded in schema_version, ascending; at most `cap`. */
static int applied_versions(sqlite3 *db, int *versions, int cap, int *count, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version ORDER BY version", -1, &s, NULL) != SQLITE_OK) {
        set_err(err, errlen, "schema_version: %s", sqlite3_errmsg(db));
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *count < cap)
        versions[(*count)++] = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        set_err(err, errlen, "schema_version: %s", rc == SQLITE_ROW ? "too many rows" : sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static bool version_recorded(const int *versions, int count, int number)
{
    for (int i = 0; i < count; i++)
        if (versions[i] == number)
            return true;
    return false;
}

/* Apply migration `number` (its SQL in `sql`) and record it, atomically. */
static int apply_migration(sqlite3 *db, int number, const char *name, const char *sql, char *err,
                           size_t errlen)
{
    if (exec_or_err(db, "BEGIN IMMEDIATE", name, err, errlen) != 0)
        return -1;
    sqlite3_stmt *s = NULL;
    int ok = exec_or_err(db, sql, name, err, errlen) == 0 &&
             sqlite3_prepare_v2(db, "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
                                -1, &s, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int(s, 1, number);
        sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
        ok = sqlite3_step(s) == SQLITE_DONE;
        if (!ok)
            set_err(err, errlen, "%s: %s", name, sqlite3_errmsg(db));
    }
    sqlite3_finalize(s);
    if (ok && exec_or_err(db, "COMMIT", name, err, errlen) == 0)
        return 0;
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Migrations are numbered, not counted: branches add theirs with their
 * own numbers (001 accounts, 002 assets, 003 patches), so a build may lack
 * a number in between. Every embedded migration whose number is not in
 * schema_version is applied, in ascending order, whatever higher ones are
 * already there (a database made by a build without 002 gets 002 when a
 * build with it opens it). A recorded version that this build does not
 * embed means the database is newer than this build: refused. */
static int migrate(sqlite3 *db, int *reached, char *err, size_t errlen)
{
    if (exec_or_err(db,
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
                    "schema_version", err, errlen) != 0)
        return -1;
    int highest = 0;
    for (int i = 0; i < store_n_migrations; i++) {
        const BuildHeader *m = &store_migrations[i];
        int number = migration_number(m->name);
        if (number <= highest) {
            set_err(err, errlen, "migration %s: numbers must be 001 and up, each once, in order", m->name);
            return -1;
        }
        highest = number;
    }
    enum { VERSIONS_MAX = 1000 };
    int versions[VERSIONS_MAX], count;
    if (applied_versions(db, versions, VERSIONS_MAX, &count, err, errlen) != 0)
        return -1;
    for (int v = 0; v < count; v++) {
        bool known = false;
        for (int i = 0; i < store_n_migrations && !known; i++)
            known = migration_number(store_migrations[i].name) == versions[v];
        if (!known) {
            set_err(err, errlen,
                    "the database has schema version %d, which this ampd (at %d) does not know: it is newer",
                    versions[v], highest);
            return -1;
        }
    }
    for (int i = 0; i < store_n_migrations; i++) {
        const BuildHeader *m = &store_migrations[i];
        int number = migration_number(m->name);
        if (version_recorded(versions, count, number))
            continue;
        if (apply_migration(db, number, m->name, (const char *)m->text, err, errlen) != 0)
            return -1;
    }
    *reached = highest;
    return 0;
}

Store *store_open(const char *data_dir, char *err, size_t errlen)
{
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        set_err(err, errlen, "%s: %s", data_dir, strerror(errno));
        return NULL;
    }
    Store *store = calloc(1, sizeof *store);
    if (!store) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    if ((size_t)snprintf(store->path, sizeof store->path, "%s/%s", data_dir, DB_FILE_NAME) >=
        sizeof store->path) {
        set_err(err, errlen, "%s: path too long", data_dir);
        free(store);
        return NULL;
    }
    sqlite3 *db = NULL;
    if (open_db(store->path, &db, err, errlen) != 0 ||
        migrate(db, &store->schema_version, err, errlen) != 0) {
        sqlite3_close(db);
        free(store);
        return NULL;
    }
    sqlite3_close(db);
    return store;
}

void store_close(Store *store)
{
    free(store);
}

int store_schema_version(const Store *store)
{
    return store->schema_version;
}

StoreConn *store_connect(Store *store, char *err, size_t errlen)
{
    StoreConn *c = calloc(1, sizeof *c);
    if (!c) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    c->store = store;
    if (open_db(store->path, &c->db, err, errlen) != 0) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < SQL_STATEMENT_COUNT; i++) {
        if (sqlite3_prepare_v3(c->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->statements[i],
                               NULL) != SQLITE_OK) {
            set_err(err, errlen, "preparing \"%s\": %s", statement_sql[i], sqlite3_errmsg(c->db));
            store_disconnect(c);
            return NULL;
        }
    }
    return c;
}

void store_disconnect(StoreConn *c)
{
    if (!c)
        return;
    for (int i = 0; i < SQL_STATEMENT_COUNT; i++)
        sqlite3_finalize(c->statements[i]);
    sqlite3_close(c->db);
    free(c);
}

StoreStatus store_settings(StoreConn *c, char *journal_mode, size_t jlen, char *synchronous, size_t slen)
{
    static const char *const levels[] = {"off", "normal", "full", "extra"};
    sqlite3_stmt *s = use(c, SQL_JOURNAL_MODE);
    if (sqlite3_step(s) != SQLITE_ROW) {
        finish(s);
        return STORE_ERROR;
    }
    copy_column(s, 0, journal_mode, jlen);
    finish(s);
    s = use(c, SQL_SYNCHRONOUS);
    if (sqlite3_step(s) != SQLITE_ROW) {
        finish(s);
        return STORE_ERROR;
    }
    int level = sqlite3_column_int(s, 0);
    finish(s);
    snprintf(synchronous, slen, "%s", level >= 0 && level <= 3 ? levels[level] : "unknown");
    return STORE_OK;
}

/* ---- users and sessions ------------------------------------------------ */

static StoreStatus read_user(StoreConn *c, sqlite3_stmt *s, StoreUser *out)
{
    int rc = sqlite3_step(s);
    StoreStatus status = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        copy_column(s, 1, out->name, sizeof out->name);
        copy_column(s, 2, out->password_hash, sizeof out->password_hash);
        out->local = sqlite3_column_int(s, 3) != 0;
        status = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        log_db_error(c, "reading a user");
        status = STORE_ERROR;
    }
    finish(s);
    return status;
}

StoreStatus store_user_create(StoreConn *c, const char *name, const char *password_hash, bool local,
                              int64_t now, StoreUser *out)
{
    sqlite3_stmt *s = use(c, SQL_USER_INSERT);
    bind_text(s, 1, name);
    bind_text(s, 2, password_hash);
    sqlite3_bind_int(s, 3, local);
    sqlite3_bind_int64(s, 4, now);
    int rc = sqlite3_step(s);
    finish(s);
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
        return STORE_CONFLICT;
    if (rc != SQLITE_DONE) {
        log_db_error(c, "creating a user");
        return STORE_ERROR;
    }
    out->id = sqlite3_last_insert_rowid(c->db);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->password_hash, sizeof out->password_hash, "%s", password_hash);
    out->local = local;
    return STORE_OK;
}

StoreStatus store_user_by_name(StoreConn *c, const char *name, StoreUser *out)
{
    sqlite3_stmt *s = use(c, SQL_USER_BY_NAME);
    bind_text(s, 1, name);
    return read_user(c, s, out);
}

StoreStatus store_user_by_id(StoreConn *c, int64_t id, StoreUser *out)
{
    sqlite3_stmt *s = use(c, SQL_USER_BY_ID);
    sqlite3_bind_int64(s, 1, id);
    return read_user(c, s, out);
}

StoreStatus store_local_user(StoreConn *c, int64_t now, StoreUser *out)
{
    StoreStatus status = read_user(c, use(c, SQL_USER_LOCAL), out);
    if (status != STORE_NOT_FOUND)
        return status;
    status = store_user_create(c, "local", "", true, now, out);
    if (status == STORE_CONFLICT) /* another worker made it first, or the name is taken */
        status = read_user(c, use(c, SQL_USER_LOCAL), out);
    return status;
}

StoreStatus store_user_set_password(StoreConn *c, int64_t user_id, const char *password_hash,
                                    int64_t keep_session)
{
    if (!begin(c))
        return STORE_ERROR;
    sqlite3_stmt *s = use(c, SQL_USER_SET_PASSWORD);
    sqlite3_bind_int64(s, 1, user_id);
    bind_text(s, 2, password_hash);
    StoreStatus status = run(c, s, "setting a password") ? STORE_OK : STORE_ERROR;
    if (status == STORE_OK && sqlite3_changes(c->db) == 0)
        status = STORE_NOT_FOUND;
    if (status == STORE_OK) {
        s = use(c, SQL_SESSIONS_REVOKE_OTHERS);
        sqlite3_bind_int64(s, 1, user_id);
        sqlite3_bind_int64(s, 2, keep_session);
        status = run(c, s, "revoking sessions") ? STORE_OK : STORE_ERROR;
    }
    return end_transaction(c, status);
}

StoreStatus store_session_create(StoreConn *c, int64_t user_id, const uint8_t token_hash[STORE_TOKEN_HASH_BYTES],
                                 const char *csrf, int64_t now, int64_t expires_at, StoreSession *out)
{
    if (!begin(c))
        return STORE_ERROR;
    /* Expired sessions are swept whenever a new one starts. */
    sqlite3_stmt *s = use(c, SQL_SESSIONS_PURGE);
    sqlite3_bind_int64(s, 1, now);
    StoreStatus status = run(c, s, "purging sessions") ? STORE_OK : STORE_ERROR;
    if (status == STORE_OK) {
        s = use(c, SQL_SESSION_INSERT);
        sqlite3_bind_int64(s, 1, user_id);
        sqlite3_bind_blob(s, 2, token_hash, STORE_TOKEN_HASH_BYTES, SQLITE_STATIC);
        bind_text(s, 3, csrf);
        sqlite3_bind_int64(s, 4, now);
        sqlite3_bind_int64(s, 5, expires_at);
        status = run(c, s, "creating a session") ? STORE_OK : STORE_ERROR;
    }
    if (status == STORE_OK) {
        out->id = sqlite3_last_insert_rowid(c->db);
        out->user_id = user_id;
        snprintf(out->csrf, sizeof out->csrf, "%s", csrf);
        out->expires_at = expires_at;
    }
    return end_transaction(c, status);
}

StoreStatus store_session_find(StoreConn *c, const uint8_t token_hash[STORE_TOKEN_HASH_BYTES], int64_t now,
                               StoreSession *out)
{
    sqlite3_stmt *s = use(c, SQL_SESSION_FIND);
    sqlite3_bind_blob(s, 1, token_hash, STORE_TOKEN_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    int rc = sqlite3_step(s);
    StoreStatus status = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        out->user_id = sqlite3_column_int64(s, 1);
        copy_column(s, 2, out->csrf, sizeof out->csrf);
        out->expires_at = sqlite3_column_int64(s, 3);
        status = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        log_db_error(c, "finding a session");
        status = STORE_ERROR;
    }
    finish(s);
    return status;
}

StoreStatus store_session_delete(StoreConn *c, int64_t session_id)
{
    sqlite3_stmt *s = use(c, SQL_SESSION_DELETE);
    sqlite3_bind_int64(s, 1, session_id);
    if (!run(c, s, "deleting a session"))
        return STORE_ERROR;
    return sqlite3_changes(c->db) ? STORE_OK : STORE_NOT_FOUND;
}

/* ---- rows of projects and patches ------------------------------------------ */

/* Insert the owner's row `public_id` with `insert` (?1 public_id, ?2
 * owner, ?3 name, ?4 now): STORE_CONFLICT when the id is taken. Its
 * internal id is then sqlite3_last_insert_rowid. */
static StoreStatus insert_row(StoreConn *c, StatementId insert, int64_t owner, const char *public_id,
                              const char *name, int64_t now, const char *what)
{
    sqlite3_stmt *s = use(c, insert);
    bind_text(s, 1, public_id);
    sqlite3_bind_int64(s, 2, owner);
    bind_text(s, 3, name);
    sqlite3_bind_int64(s, 4, now);
    int rc = sqlite3_step(s);
    finish(s);
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
        return STORE_CONFLICT;
    if (rc != SQLITE_DONE) {
        log_db_error(c, what);
        return STORE_ERROR;
    }
    return STORE_OK;
}

/* Rename the row `id` with `rename` (?1 id, ?2 name, ?3 now). */
static StoreStatus rename_row(StoreConn *c, StatementId rename, int64_t id, const char *name, int64_t now,
                              const char *what)
{
    sqlite3_stmt *s = use(c, rename);
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, name);
    sqlite3_bind_int64(s, 3, now);
    return run(c, s, what) ? STORE_OK : STORE_ERROR;
}

/* Delete the row `id` with `remove` (?1 id). */
static StoreStatus delete_row(StoreConn *c, StatementId remove, int64_t id, const char *what)
{
    sqlite3_stmt *s = use(c, remove);
    sqlite3_bind_int64(s, 1, id);
    return run(c, s, what) ? STORE_OK : STORE_ERROR;
}

/* ---- projects ------------------------------------------------------------ */

/* Read the current row of a PROJECT_COLUMNS select. */
static void project_row(sqlite3_stmt *s, int64_t *internal_id, StoreProject *out)
{
    if (internal_id)
        *internal_id = sqlite3_column_int64(s, 0);
    copy_column(s, 1, out->public_id, sizeof out->public_id);
    copy_column(s, 2, out->name, sizeof out->name);
    out->revision = sqlite3_column_int64(s, 3);
    out->created_at = sqlite3_column_int64(s, 4);
    out->updated_at = sqlite3_column_int64(s, 5);
    out->shared = sqlite3_column_int(s, 6) != 0;
}

static void project_item(sqlite3_stmt *s, void *item)
{
    project_row(s, NULL, item);
}

/* The owner's project `public_id`: its internal id and row. */
static StoreStatus find_project(StoreConn *c, int64_t owner, const char *public_id, int64_t *internal_id,
                                StoreProject *out)
{
    sqlite3_stmt *s = use(c, SQL_PROJECT_FIND);
    sqlite3_bind_int64(s, 1, owner);
    bind_text(s, 2, public_id);
    StoreStatus status = step_row(c, s, "finding a project");
    if (status == STORE_OK)
        project_row(s, internal_id, out);
    finish(s);
    return status;
}

/* The revisions of projects or of patches: their statements, whether
 * they record restored_from (patch revisions don't), and what errors are
 * logged as. */
typedef struct {
    StatementId get, list, insert, set_head;
    bool restorable;
    const char *reading, *listing, *inserting, *moving;
} History;

static const History project_history = {
    .get = SQL_REVISION_GET,
    .list = SQL_REVISION_LIST,
    .insert = SQL_REVISION_INSERT,
    .set_head = SQL_PROJECT_SET_HEAD,
    .restorable = true,
    .reading = "reading a revision",
    .listing = "listing revisions",
    .inserting = "inserting a revision",
    .moving = "moving a project's head",
};

static const History patch_history = {
    .get = SQL_PATCH_REVISION_GET,
    .list = SQL_PATCH_REVISION_LIST,
    .insert = SQL_PATCH_REVISION_INSERT,
    .set_head = SQL_PATCH_SET_HEAD,
    .restorable = false,
    .reading = "reading a patch revision",
    .listing = "listing patch revisions",
    .inserting = "inserting a patch revision",
    .moving = "moving a patch's head",
};

/* The current row of a revision select: number, created_at, size, then
 * restored_from when `restorable`. */
static StoreRevision revision_row(sqlite3_stmt *s, bool restorable)
{
    return (StoreRevision){
        .number = sqlite3_column_int64(s, 0),
        .created_at = sqlite3_column_int64(s, 1),
        .size = sqlite3_column_int64(s, 2),
        .restored_from = restorable ? sqlite3_column_int64(s, 3) : 0,
    };
}

/* Revision `number` of the project or patch with internal id `owner_row`,
 * and its text (the column after the revision's). */
static StoreStatus get_revision(StoreConn *c, const History *h, int64_t owner_row, int64_t number,
                                StoreRevision *out, char **text)
{
    sqlite3_stmt *s = use(c, h->get);
    sqlite3_bind_int64(s, 1, owner_row);
    sqlite3_bind_int64(s, 2, number);
    StoreStatus status = step_row(c, s, h->reading);
    if (status == STORE_OK) {
        StoreRevision r = revision_row(s, h->restorable);
        if (out)
            *out = r;
        if (text && !(*text = dup_column(s, h->restorable ? 4 : 3)))
            status = STORE_ERROR;
    }
    finish(s);
    return status;
}

static void restorable_revision_item(sqlite3_stmt *s, void *item)
{
    *(StoreRevision *)item = revision_row(s, true);
}

static void revision_item(sqlite3_stmt *s, void *item)
{
    *(StoreRevision *)item = revision_row(s, false);
}

/* The history of the project or patch with internal id `owner_row`. */
static StoreStatus list_revisions(StoreConn *c, const History *h, int64_t owner_row, StoreRevisionList *out)
{
    sqlite3_stmt *s = use(c, h->list);
    sqlite3_bind_int64(s, 1, owner_row);
    void *items = NULL;
    StoreStatus status = read_rows(c, s, h->listing, sizeof *out->items,
                                   h->restorable ? restorable_revision_item : revision_item, &items, &out->count);
    out->items = items;
    if (status != STORE_OK)
        store_revision_list_free(out);
    return status;
}

/* restored_from is bound only when the history records it. */
static StoreStatus insert_revision(StoreConn *c, const History *h, int64_t owner_row, int64_t number,
                                   const char *text, int64_t restored_from, int64_t now)
{
    sqlite3_stmt *s = use(c, h->insert);
    size_t size = strlen(text);
    sqlite3_bind_int64(s, 1, owner_row);
    sqlite3_bind_int64(s, 2, number);
    sqlite3_bind_text(s, 3, text, (int)size, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)size);
    int next = 5;
    if (h->restorable)
        sqlite3_bind_int64(s, next++, restored_from);
    sqlite3_bind_int64(s, next, now);
    return run(c, s, h->inserting) ? STORE_OK : STORE_ERROR;
}

/* Insert revision `head` and make it the head, inside the caller's
 * transaction. */
static StoreStatus append_head(StoreConn *c, const History *h, int64_t owner_row, int64_t head, const char *text,
                               int64_t restored_from, int64_t now)
{
    StoreStatus status = insert_revision(c, h, owner_row, head, text, restored_from, now);
    if (status != STORE_OK)
        return status;
    sqlite3_stmt *s = use(c, h->set_head);
    sqlite3_bind_int64(s, 1, owner_row);
    sqlite3_bind_int64(s, 2, head);
    sqlite3_bind_int64(s, 3, now);
    return run(c, s, h->moving) ? STORE_OK : STORE_ERROR;
}

/* Insert a project row and its revision 1, inside the caller's transaction. */
static StoreStatus insert_project(StoreConn *c, int64_t owner, const char *public_id, const char *name,
                                  const char *document, int64_t now, StoreProject *out)
{
    StoreStatus status = insert_row(c, SQL_PROJECT_INSERT, owner, public_id, name, now, "creating a project");
    if (status != STORE_OK)
        return status;
    int64_t id = sqlite3_last_insert_rowid(c->db);
    status = insert_revision(c, &project_history, id, 1, document, 0, now);
    if (status != STORE_OK)
        return status;
    *out = (StoreProject){.revision = 1, .created_at = now, .updated_at = now};
    snprintf(out->public_id, sizeof out->public_id, "%s", public_id);
    snprintf(out->name, sizeof out->name, "%s", name);
    return STORE_OK;
}

StoreStatus store_project_create(StoreConn *c, int64_t owner, const char *public_id, const char *name,
                                 const char *document, int64_t now, StoreProject *out)
{
    if (!begin(c))
        return STORE_ERROR;
    return end_transaction(c, insert_project(c, owner, public_id, name, document, now, out));
}

StoreStatus store_project_list(StoreConn *c, int64_t owner, StoreProjectList *out)
{
    *out = (StoreProjectList){0};
    sqlite3_stmt *s = use(c, SQL_PROJECT_LIST);
    sqlite3_bind_int64(s, 1, owner);
    void *items = NULL;
    StoreStatus status = read_rows(c, s, "listing projects", sizeof *out->items, project_item, &items, &out->count);
    out->items = items;
    if (status != STORE_OK)
        store_project_list_free(out);
    return status;
}

void store_project_list_free(StoreProjectList *list)
{
    free(list->items);
    *list = (StoreProjectList){0};
}

StoreStatus store_project_get(StoreConn *c, int64_t owner, const char *public_id, StoreProject *out,
                              char **document)
{
    int64_t id;
    StoreStatus status = find_project(c, owner, public_id, &id, out);
    if (status != STORE_OK || !document)
        return status;
    /* Revisions are never changed, so the head's document is consistent
     * with the row read above even without a transaction; a project
     * deleted in between is simply not found. */
    return get_revision(c, &project_history, id, out->revision, NULL, document);
}

/* Inside a transaction: append `document` as the next revision when the
 * head is `expected` (or expected < 0). */
static StoreStatus append_revision(StoreConn *c, int64_t owner, const char *public_id, int64_t expected,
                                   const char *document, int64_t restored_from, int64_t now, StoreProject *out)
{
    int64_t id;
    StoreStatus status = find_project(c, owner, public_id, &id, out);
    if (status != STORE_OK)
        return status;
    if (expected >= 0 && out->revision != expected)
        return STORE_CONFLICT;
    int64_t next = out->revision + 1;
    status = append_head(c, &project_history, id, next, document, restored_from, now);
    if (status == STORE_OK) {
        out->revision = next;
        out->updated_at = now;
    }
    return status;
}

StoreStatus store_project_save(StoreConn *c, int64_t owner, const char *public_id, int64_t expected,
                               const char *document, int64_t now, StoreProject *out)
{
    if (!begin(c))
        return STORE_ERROR;
    StoreStatus status = append_revision(c, owner, public_id, expected, document, 0, now, out);
    if (status == STORE_CONFLICT) {
        rollback(c); /* out->revision holds the latest */
        return STORE_CONFLICT;
    }
    return end_transaction(c, status);
}

StoreStatus store_project_rename(StoreConn *c, int64_t owner, const char *public_id, const char *name,
                                 int64_t now, StoreProject *out)
{
    if (!begin(c))
        return STORE_ERROR;
    int64_t id;
    StoreStatus status = find_project(c, owner, public_id, &id, out);
    if (status == STORE_OK)
        status = rename_row(c, SQL_PROJECT_RENAME, id, name, now, "renaming a project");
    if (status == STORE_OK) {
        snprintf(out->name, sizeof out->name, "%s", name);
        out->updated_at = now;
    }
    return end_transaction(c, status);
}

StoreStatus store_project_delete(StoreConn *c, int64_t owner, const char *public_id)
{
    if (!begin(c))
        return STORE_ERROR;
    int64_t id;
    StoreProject found;
    StoreStatus status = find_project(c, owner, public_id, &id, &found);
    if (status == STORE_OK)
        status = delete_row(c, SQL_PROJECT_DELETE, id, "deleting a project");
    return end_transaction(c, status);
}

StoreStatus store_project_duplicate(StoreConn *c, int64_t owner, const char *public_id,
                                    const char *new_public_id, const char *name, int64_t now, StoreProject *out)
{
    if (!begin(c))
        return STORE_ERROR;
    int64_t id;
    StoreProject source;
    char *document = NULL;
    StoreStatus status = find_project(c, owner, public_id, &id, &source);
    if (status == STORE_OK)
        status = get_revision(c, &project_history, id, source.revision, NULL, &document);
    if (status == STORE_OK)
        status = insert_project(c, owner, new_public_id, name, document, now, out);
    free(document);
    return end_transaction(c, status);
}

StoreStatus store_revision_list(StoreConn *c, int64_t owner, const char *public_id, StoreRevisionList *out)
{
    *out = (StoreRevisionList){0};
    int64_t id;
    StoreProject found;
    StoreStatus status = find_project(c, owner, public_id, &id, &found);
    if (status != STORE_OK)
        return status;
    return list_revisions(c, &project_history, id, out);
}

void store_revision_list_free(StoreRevisionList *list)
{
    free(list->items);
    *list = (StoreRevisionList){0};
}

StoreStatus store_revision_get(StoreConn *c, int64_t owner, const char *public_id, int64_t number,
                               StoreRevision *out, char **document)
{
    int64_t id;
    StoreProject found;
    StoreStatus status = find_project(c, owner, public_id, &id, &found);
    if (status != STORE_OK)
        return status;
    return get_revision(c, &project_history, id, number, out, document);
}

StoreStatus store_revision_restore(StoreConn *c, int64_t owner, const char *public_id, int64_t number,
                                   int64_t expected, int64_t now, StoreProject *out)
{
    if (!begin(c))
        return STORE_ERROR;
    int64_t id;
    char *document = NULL;
    StoreStatus status = find_project(c, owner, public_id, &id, out);
    if (status == STORE_OK)
        status = get_revision(c, &project_history, id, number, NULL, &document);
    if (status == STORE_OK)
        status = append_revision(c, owner, public_id, expected, document, number, now, out);
    free(document);
    if (status == STORE_CONFLICT) {
        rollback(c);
        return STORE_CONFLICT;
    }
    return end_transaction(c, status);
}

static StoreStatus set_share(StoreConn *c, int64_t owner, const char *public_id,
                             const uint8_t *token_hash)
{
    if (!begin(c))
        return STORE_ERROR;
    int64_t id;
    StoreProject found;
    StoreStatus status = find_project(c, owner, public_id, &id, &found);
    if (status == STORE_OK) {
        sqlite3_stmt *s = use(c, SQL_PROJECT_SET_SHARE);
        sqlite3_bind_int64(s, 1, id);
        if (token_hash)
            sqlite3_bind_blob(s, 2, token_hash, STORE_TOKEN_HASH_BYTES, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 2);
        status = run(c, s, "setting a share link") ? STORE_OK : STORE_ERROR;
    }
    return end_transaction(c, status);
}

StoreStatus store_share_set(StoreConn *c, int64_t owner, const char *public_id,
                            const uint8_t token_hash[STORE_TOKEN_HASH_BYTES])
{
    return set_share(c, owner, public_id, token_hash);
}

StoreStatus store_share_clear(StoreConn *c, int64_t owner, const char *public_id)
{
    return set_share(c, owner, public_id, NULL);
}

StoreStatus store_shared_get(StoreConn *c, const uint8_t token_hash[STORE_TOKEN_HASH_BYTES], StoreProject *out,
                             char **document)
{
    sqlite3_stmt *s = use(c, SQL_PROJECT_BY_SHARE);
    sqlite3_bind_blob(s, 1, token_hash, STORE_TOKEN_HASH_BYTES, SQLITE_STATIC);
    int64_t id = 0;
    StoreStatus status = step_row(c, s, "finding a shared project");
    if (status == STORE_OK)
        project_row(s, &id, out);
    finish(s);
    if (status != STORE_OK)
        return status;
    return get_revision(c, &project_history, id, out->revision, NULL, document);
}

/* ---- patches (the patch library) -------------------------------------------- */

/* Read the current row of a PATCH_COLUMNS select. */
static void patch_row(sqlite3_stmt *s, int64_t *internal_id, StorePatch *out)
{
    if (internal_id)
        *internal_id = sqlite3_column_int64(s, 0);
    copy_column(s, 1, out->public_id, sizeof out->public_id);
    copy_column(s, 2, out->name, sizeof out->name);
    out->revision = sqlite3_column_int64(s, 3);
    out->created_at = sqlite3_column_int64(s, 4);
    out->updated_at = sqlite3_column_int64(s, 5);
    out->size = sqlite3_column_int64(s, 6);
}

static void patch_item(sqlite3_stmt *s, void *item)
{
    patch_row(s, NULL, item);
}

/* The owner's patch `public_id`: its internal id and row. */
static StoreStatus find_patch(StoreConn *c, int64_t owner, const char *public_id, int64_t *internal_id,
                              StorePatch *out)
{
    sqlite3_stmt *s = use(c, SQL_PATCH_FIND);
    sqlite3_bind_int64(s, 1, owner);
    bind_text(s, 2, public_id);
    StoreStatus status = step_row(c, s, "finding a patch");
    if (status == STORE_OK)
        patch_row(s, internal_id, out);
    finish(s);
    return status;
}

StoreStatus store_patch_create(StoreConn *c, int64_t owner, const char *public_id, const char *name,
                               const char *text, int64_t now, StorePatch *out)
{
    if (!begin(c))
        return STORE_ERROR;
    StoreStatus status = insert_row(c, SQL_PATCH_INSERT, owner, public_id, name, now, "creating a patch");
    if (status == STORE_OK)
        status = insert_revision(c, &patch_history, sqlite3_last_insert_rowid(c->db), 1, text, 0, now);
    if (status == STORE_OK) {
        *out = (StorePatch){.revision = 1, .created_at = now, .updated_at = now, .size = (int64_t)strlen(text)};
        snprintf(out->public_id, sizeof out->public_id, "%s", public_id);
        snprintf(out->name, sizeof out->name, "%s", name);
    }
    return end_transaction(c, status);
}

StoreStatus store_patch_list(StoreConn *c, int64_t owner, StorePatchList *out)
{
    *out = (StorePatchList){0};
    sqlite3_stmt *s = use(c, SQL_PATCH_LIST);
    sqlite3_bind_int64(s, 1, owner);
    void *items = NULL;
    StoreStatus status = read_rows(c, s, "listing patches", sizeof *out->items, patch_item, &items, &out->count);
    out->items = items;
    if (status != STORE_OK)
        store_patch_list_free(out);
    return status;
}

void store_patch_list_free(StorePatchList *list)
{
    free(list->items);
    *list = (StorePatchList){0};
}

StoreStatus store_patch_get(StoreConn *c, int64_t owner, const char *public_id, StorePatch *out, char **text)
{
    int64_t id;
    StoreStatus status = find_patch(c, owner, public_id, &id, out);
    if (status != STORE_OK || !text)
        return status;
    /* Revisions are never changed: the head's text matches the row. */
    return get_revision(c, &patch_history, id, out->revision, NULL, text);
}

StoreStatus store_patch_save(StoreConn *c, int64_t owner, const char *public_id, int64_t expected,
                             const char *text, int64_t now, StorePatch *out)
{
    if (!begin(c))
        return STORE_ERROR;
    int64_t id;
    StoreStatus status = find_patch(c, owner, public_id, &id, out);
    if (status == STORE_OK && out->revision != expected) {
        rollback(c); /* out->revision holds the latest */
        return STORE_CONFLICT;
    }
    int64_t next = status == STORE_OK ? out->revision + 1 : 0;
    if (status == STORE_OK)
        status = append_head(c, &patch_history, id, next, text, 0, now);
    if (status == STORE_OK) {
        out->revision = next;
        out->updated_at = now;
        out->size = (int64_t)strlen(text);
    }
    return end_transaction(c, status);
}

StoreStatus store_patch_rename(StoreConn *c, int64_t owner, const char *public_id, const char *name, int64_t now,
                               StorePatch *out)
{
    if (!begin(c))
        return STORE_ERROR;
    int64_t id;
    StoreStatus status = find_patch(c, owner, public_id, &id, out);
    if (status == STORE_OK)
        status = rename_row(c, SQL_PATCH_RENAME, id, name, now, "renaming a patch");
    if (status == STORE_OK) {
        snprintf(out->name, sizeof out->name, "%s", name);
        out->updated_at = now;
    }
    return end_transaction(c, status);
}

StoreStatus store_patch_delete(StoreConn *c, int64_t owner, const char *public_id)
{
    if (!begin(c))
        return STORE_ERROR;
    int64_t id;
    StorePatch found;
    StoreStatus status = find_patch(c, owner, public_id, &id, &found);
    if (status == STORE_OK)
        status = delete_row(c, SQL_PATCH_DELETE, id, "deleting a patch");
    return end_transaction(c, status);
}

StoreStatus store_patch_revision_list(StoreConn *c, int64_t owner, const char *public_id, StoreRevisionList *out)
{
    *out = (StoreRevisionList){0};
    int64_t id;
    StorePatch found;
    StoreStatus status = find_patch(c, owner, public_id, &id, &found);
    if (status != STORE_OK)
        return status;
    return list_revisions(c, &patch_history, id, out);
}

StoreStatus store_patch_revision_get(StoreConn *c, int64_t owner, const char *public_id, int64_t number,
                                     StoreRevision *out, char **text)
{
    int64_t id;
    StorePatch found;
    StoreStatus status = find_patch(c, owner, public_id, &id, &found);
    if (status != STORE_OK)
        return status;
    return get_revision(c, &patch_history, id, number, out, text);
}

/* ---- audio assets -------------------------------------------------------- */

static void asset_row(sqlite3_stmt *s, StoreAsset *out)
{
    copy_column(s, 0, out->hash, sizeof out->hash);
    copy_column(s, 1, out->name, sizeof out->name);
    out->size = sqlite3_column_int64(s, 2);
    copy_column(s, 3, out->format, sizeof out->format);
    out->created_at = sqlite3_column_int64(s, 4);
}

static void asset_item(sqlite3_stmt *s, void *item)
{
    asset_row(s, item);
}

StoreStatus store_asset_get(StoreConn *c, int64_t owner, const char *hash, StoreAsset *out)
{
    sqlite3_stmt *s = use(c, SQL_ASSET_GET);
    sqlite3_bind_int64(s, 1, owner);
    bind_text(s, 2, hash);
    StoreStatus status = step_row(c, s, "finding an asset");
    if (status == STORE_OK)
        asset_row(s, out);
    finish(s);
    return status;
}

/* One integer from a statement taking (?1 = an integer or text). */
static StoreStatus single_integer(StoreConn *c, sqlite3_stmt *s, const char *what, int64_t *out)
{
    int rc = sqlite3_step(s);
    StoreStatus status = STORE_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else {
        log_db_error(c, what);
        status = STORE_ERROR;
    }
    finish(s);
    return status;
}

StoreStatus store_asset_usage(StoreConn *c, int64_t owner, int64_t *bytes)
{
    sqlite3_stmt *s = use(c, SQL_ASSET_USAGE);
    sqlite3_bind_int64(s, 1, owner);
    return single_integer(c, s, "summing a user's assets", bytes);
}

static StoreStatus count_links(StoreConn *c, const char *hash, int64_t *count)
{
    sqlite3_stmt *s = use(c, SQL_ASSET_LINKS);
    bind_text(s, 1, hash);
    return single_integer(c, s, "counting an asset's links", count);
}

StoreStatus store_asset_link(StoreConn *c, int64_t owner, const StoreAsset *asset, int64_t quota, StoreAsset *out,
                             bool *created)
{
    *created = false;
    if (!begin(c))
        return STORE_ERROR;
    /* Under the write lock from here: the quota check and the insert are
     * one step for every writer. */
    StoreStatus status = store_asset_get(c, owner, asset->hash, out);
    if (status != STORE_NOT_FOUND)
        return end_transaction(c, status); /* already linked (STORE_OK), or an error */
    int64_t used = 0;
    status = store_asset_usage(c, owner, &used);
    if (status == STORE_OK && asset->size > quota - used)
        status = STORE_CONFLICT;
    if (status == STORE_OK) {
        sqlite3_stmt *s = use(c, SQL_ASSET_INSERT);
        sqlite3_bind_int64(s, 1, owner);
        bind_text(s, 2, asset->hash);
        bind_text(s, 3, asset->name);
        sqlite3_bind_int64(s, 4, asset->size);
        bind_text(s, 5, asset->format);
        sqlite3_bind_int64(s, 6, asset->created_at);
        status = run(c, s, "linking an asset") ? STORE_OK : STORE_ERROR;
    }
    status = end_transaction(c, status);
    if (status == STORE_OK) {
        *out = *asset;
        *created = true;
    }
    return status;
}

StoreStatus store_asset_list(StoreConn *c, int64_t owner, StoreAssetList *out)
{
    *out = (StoreAssetList){0};
    sqlite3_stmt *s = use(c, SQL_ASSET_LIST);
    sqlite3_bind_int64(s, 1, owner);
    void *items = NULL;
    StoreStatus status = read_rows(c, s, "listing assets", sizeof *out->items, asset_item, &items, &out->count);
    out->items = items;
    if (status != STORE_OK)
        store_asset_list_free(out);
    return status;
}

void store_asset_list_free(StoreAssetList *list)
{
    free(list->items);
    *list = (StoreAssetList){0};
}

StoreStatus store_asset_unlink(StoreConn *c, int64_t owner, const char *hash, int64_t *remaining)
{
    if (!begin(c))
        return STORE_ERROR;
    sqlite3_stmt *s = use(c, SQL_ASSET_DELETE);
    sqlite3_bind_int64(s, 1, owner);
    bind_text(s, 2, hash);
    StoreStatus status = run(c, s, "unlinking an asset") ? STORE_OK : STORE_ERROR;
    if (status == STORE_OK && sqlite3_changes(c->db) == 0)
        status = STORE_NOT_FOUND;
    if (status == STORE_OK)
        status = count_links(c, hash, remaining);
    return end_transaction(c, status);
}

StoreStatus store_asset_linked(StoreConn *c, const char *hash, bool *linked)
{
    int64_t count = 0;
    StoreStatus status = count_links(c, hash, &count);
    *linked = count > 0;
    return status;
}
