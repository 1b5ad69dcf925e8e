/* store.h — ampd's storage: users, sessions, projects and their revisions.
 *
 * The handlers (api_accounts.c, api_projects.c) see only this interface:
 * an opaque Store (the database), an opaque StoreConn (one connection, used
 * by one thread at a time), one function per operation, typed results. No
 * SQL and no database types appear here, so another backend (PostgreSQL,
 * for several stateless ampd instances) can implement the same functions
 * without touching a handler. store_sqlite.c is the embedded backend.
 *
 * Threading: store_open runs once at start-up (it creates the data folder,
 * applies the schema migrations and checks the settings); each worker
 * thread then calls store_connect once and uses its StoreConn for every
 * job it runs. Every function below is safe to call concurrently on
 * different StoreConns; one StoreConn must not be used by two threads at
 * once.
 *
 * Ownership: a user's project is found only through its owner's id; every
 * project function takes (owner, public id) and answers STORE_NOT_FOUND for
 * a project that exists but belongs to someone else, so a handler cannot
 * tell the two apart even by mistake.
 *
 * Strings handed in are copied or bound, never kept. Strings handed out in
 * fixed arrays are NUL-terminated; documents are malloc'd and the caller
 * frees them. Times are Unix seconds.
 */
#ifndef AMPD_STORE_H
#define AMPD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Store Store;
typedef struct StoreConn StoreConn;

typedef enum StoreStatus {
    STORE_OK,
    STORE_NOT_FOUND,   /* no such row (or not the caller's) */
    STORE_CONFLICT,    /* a unique name taken, or a stale revision */
    STORE_ERROR,       /* the database failed; logged */
} StoreStatus;

#define STORE_NAME_MAX 64          /* user names, bytes with the NUL */
#define STORE_HASH_MAX 160         /* an encoded password hash, with the NUL */
#define STORE_TOKEN_HASH_BYTES 32  /* session and share tokens are stored as SHA-256 */
#define STORE_CSRF_MAX 72          /* a session's CSRF token, with the NUL */
#define STORE_PUBLIC_ID_MAX 40     /* a project's public id, with the NUL */
#define STORE_PROJECT_NAME_MAX 512 /* bytes with the NUL */

typedef struct StoreUser {
    int64_t id;
    char name[STORE_NAME_MAX];
    char password_hash[STORE_HASH_MAX]; /* "" for the local user: no password */
    bool local;
} StoreUser;

typedef struct StoreSession {
    int64_t id;
    int64_t user_id;
    char csrf[STORE_CSRF_MAX];
    int64_t expires_at;
} StoreSession;

typedef struct StoreProject {
    char public_id[STORE_PUBLIC_ID_MAX];
    char name[STORE_PROJECT_NAME_MAX];
    int64_t revision;         /* the latest */
    int64_t created_at, updated_at;
    bool shared;              /* a share link exists */
} StoreProject;

typedef struct StoreRevision {
    int64_t number;
    int64_t created_at;
    int64_t size;             /* bytes of the document */
    int64_t restored_from;    /* 0 unless made by a restore */
} StoreRevision;

typedef struct StoreProjectList {
    StoreProject *items;
    size_t count;
} StoreProjectList;

typedef struct StoreRevisionList {
    StoreRevision *items;
    size_t count;
} StoreRevisionList;

/* A save announced to live listeners. The WebSocket module (server/live.c)
 * sets store_project_saved_hook from main.c at start-up, before the daemon
 * starts; NULL (the default) announces nothing. api_projects.c calls it on
 * the worker thread after a new revision (save or restore) is committed,
 * whatever the backend, with the project's public id, the new revision and
 * its document (valid only during the call). It must not block for long:
 * it runs on a worker. */
typedef void (*ProjectSavedHook)(const char *project_id, int64_t revision, const char *document);
extern ProjectSavedHook store_project_saved_hook;

/* ---- the database ------------------------------------------------------ */

/* Open (creating the folder and the file when missing) the database in
 * `data_dir`, apply pending migrations in order, each in a transaction.
 * NULL with a message in err. */
Store *store_open(const char *data_dir, char *err, size_t errlen);
void store_close(Store *store);
/* The schema version the migrations reached. */
int store_schema_version(const Store *store);

/* One connection with every statement prepared; NULL with a message. */
StoreConn *store_connect(Store *store, char *err, size_t errlen);
void store_disconnect(StoreConn *conn);

/* What this connection runs with, as the database reports it: the journal
 * mode ("wal") and the synchronous level ("full"). */
StoreStatus store_settings(StoreConn *conn, char *journal_mode, size_t jlen,
                           char *synchronous, size_t slen);

/* ---- users and sessions ----------------------------------------------- */

/* A new user; STORE_CONFLICT when the name is taken (names compare without
 * regard to ASCII case). `password_hash` "" for a user without password. */
StoreStatus store_user_create(StoreConn *conn, const char *name, const char *password_hash,
                              bool local, int64_t now, StoreUser *out);
StoreStatus store_user_by_name(StoreConn *conn, const char *name, StoreUser *out);
StoreStatus store_user_by_id(StoreConn *conn, int64_t id, StoreUser *out);
/* The local user (--local), created on first call. */
StoreStatus store_local_user(StoreConn *conn, int64_t now, StoreUser *out);
/* Set a new password hash and revoke every session of the user but
 * `keep_session` (0: all of them), in one transaction. */
StoreStatus store_user_set_password(StoreConn *conn, int64_t user_id, const char *password_hash,
                                    int64_t keep_session);

StoreStatus store_session_create(StoreConn *conn, int64_t user_id,
                                 const uint8_t token_hash[STORE_TOKEN_HASH_BYTES],
                                 const char *csrf, int64_t now, int64_t expires_at,
                                 StoreSession *out);
/* The session with this token hash, if it has not expired at `now`. */
StoreStatus store_session_find(StoreConn *conn, const uint8_t token_hash[STORE_TOKEN_HASH_BYTES],
                               int64_t now, StoreSession *out);
StoreStatus store_session_delete(StoreConn *conn, int64_t session_id);

/* ---- projects ---------------------------------------------------------- */

/* A new project whose revision 1 is `document`. STORE_CONFLICT when the
 * public id is taken (the caller draws another). */
StoreStatus store_project_create(StoreConn *conn, int64_t owner, const char *public_id,
                                 const char *name, const char *document, int64_t now,
                                 StoreProject *out);
/* The caller's projects, the most recently updated first. */
StoreStatus store_project_list(StoreConn *conn, int64_t owner, StoreProjectList *out);
void store_project_list_free(StoreProjectList *list);
/* The project and, when `document` is not NULL, its latest document. */
StoreStatus store_project_get(StoreConn *conn, int64_t owner, const char *public_id,
                              StoreProject *out, char **document);
/* Save `document` as the next revision if the latest is `expected`;
 * otherwise STORE_CONFLICT with the latest in out->revision and nothing
 * written. On STORE_OK, out describes the project after the save. */
StoreStatus store_project_save(StoreConn *conn, int64_t owner, const char *public_id,
                               int64_t expected, const char *document, int64_t now,
                               StoreProject *out);
StoreStatus store_project_rename(StoreConn *conn, int64_t owner, const char *public_id,
                                 const char *name, int64_t now, StoreProject *out);
StoreStatus store_project_delete(StoreConn *conn, int64_t owner, const char *public_id);
/* A new project `new_public_id` named `name` whose revision 1 is the
 * latest document of `public_id`. */
StoreStatus store_project_duplicate(StoreConn *conn, int64_t owner, const char *public_id,
                                    const char *new_public_id, const char *name, int64_t now,
                                    StoreProject *out);

StoreStatus store_revision_list(StoreConn *conn, int64_t owner, const char *public_id,
                                StoreRevisionList *out);
void store_revision_list_free(StoreRevisionList *list);
StoreStatus store_revision_get(StoreConn *conn, int64_t owner, const char *public_id,
                               int64_t number, StoreRevision *out, char **document);
/* A new revision holding revision `number`'s document; `expected` as for
 * store_project_save, or -1 to skip that check. */
StoreStatus store_revision_restore(StoreConn *conn, int64_t owner, const char *public_id,
                                   int64_t number, int64_t expected, int64_t now,
                                   StoreProject *out);

/* Share links: one per project; setting replaces the previous one. */
StoreStatus store_share_set(StoreConn *conn, int64_t owner, const char *public_id,
                            const uint8_t token_hash[STORE_TOKEN_HASH_BYTES]);
StoreStatus store_share_clear(StoreConn *conn, int64_t owner, const char *public_id);
/* The project shared under this token, with its latest document. */
StoreStatus store_shared_get(StoreConn *conn, const uint8_t token_hash[STORE_TOKEN_HASH_BYTES],
                             StoreProject *out, char **document);

/* ---- patches (the patch library) ---------------------------------------- */

/* A user's .amp patches, each with numbered revisions of its text (UTF-8,
 * opaque to the store). Like projects, a patch is found only through its
 * owner: another user's patch is STORE_NOT_FOUND. */

typedef struct StorePatch {
    char public_id[STORE_PUBLIC_ID_MAX];
    char name[STORE_PROJECT_NAME_MAX];
    int64_t revision;         /* the latest */
    int64_t created_at, updated_at;
    int64_t size;             /* bytes of the latest revision's text */
} StorePatch;

typedef struct StorePatchList {
    StorePatch *items;
    size_t count;
} StorePatchList;

/* A new patch whose revision 1 is `text`. STORE_CONFLICT when the public
 * id is taken (the caller draws another). */
StoreStatus store_patch_create(StoreConn *conn, int64_t owner, const char *public_id, const char *name,
                               const char *text, int64_t now, StorePatch *out);
/* The caller's patches, the most recently updated first. */
StoreStatus store_patch_list(StoreConn *conn, int64_t owner, StorePatchList *out);
void store_patch_list_free(StorePatchList *list);
/* The patch and, when `text` is not NULL, its latest text. */
StoreStatus store_patch_get(StoreConn *conn, int64_t owner, const char *public_id, StorePatch *out,
                            char **text);
/* Save `text` as the next revision if the latest is `expected`; otherwise
 * STORE_CONFLICT with the latest in out->revision and nothing written. */
StoreStatus store_patch_save(StoreConn *conn, int64_t owner, const char *public_id, int64_t expected,
                             const char *text, int64_t now, StorePatch *out);
StoreStatus store_patch_rename(StoreConn *conn, int64_t owner, const char *public_id, const char *name,
                               int64_t now, StorePatch *out);
/* The patch and all its revisions. */
StoreStatus store_patch_delete(StoreConn *conn, int64_t owner, const char *public_id);
/* The history, newest first (restored_from is always 0). */
StoreStatus store_patch_revision_list(StoreConn *conn, int64_t owner, const char *public_id,
                                      StoreRevisionList *out);
/* Revision `number` and, when `text` is not NULL, its text; both out and
 * text may be NULL to ask only whether the owner has that revision. */
StoreStatus store_patch_revision_get(StoreConn *conn, int64_t owner, const char *public_id, int64_t number,
                                     StoreRevision *out, char **text);
/* ---- audio assets ------------------------------------------------------ */

#define STORE_ASSET_HASH_HEX 64        /* SHA-256 in lowercase hex, without the NUL */
#define STORE_ASSET_NAME_MAX 256       /* bytes with the NUL */
#define STORE_ASSET_FORMAT_MAX 8       /* "wav", "flac", "mp3", "ogg", "aiff", with the NUL */

/* One user's link to a stored file (the file itself is the asset module's:
 * DATA/assets/ab/<hash>). */
typedef struct StoreAsset {
    char hash[STORE_ASSET_HASH_HEX + 1];
    char name[STORE_ASSET_NAME_MAX];
    int64_t size;                      /* bytes */
    char format[STORE_ASSET_FORMAT_MAX];
    int64_t created_at;
} StoreAsset;

typedef struct StoreAssetList {
    StoreAsset *items;
    size_t count;
} StoreAssetList;

/* Link `asset` (its hash, name, size, format, created_at) to `owner`, in
 * one transaction: when the owner already links that hash, nothing is
 * written, *created is false and *out is the existing link; otherwise the
 * link is added unless the owner's distinct assets would then exceed
 * `quota` bytes, which is STORE_CONFLICT with nothing written. The caller
 * has made the file durable first. */
StoreStatus store_asset_link(StoreConn *conn, int64_t owner, const StoreAsset *asset, int64_t quota,
                             StoreAsset *out, bool *created);
/* The owner's link to `hash`. */
StoreStatus store_asset_get(StoreConn *conn, int64_t owner, const char *hash, StoreAsset *out);
/* The owner's links, the newest first. */
StoreStatus store_asset_list(StoreConn *conn, int64_t owner, StoreAssetList *out);
void store_asset_list_free(StoreAssetList *list);
/* Bytes of the owner's distinct assets. */
StoreStatus store_asset_usage(StoreConn *conn, int64_t owner, int64_t *bytes);
/* Remove the owner's link to `hash`; *remaining: how many links (of any
 * user) name the hash after the commit. The caller removes the file when
 * none does. */
StoreStatus store_asset_unlink(StoreConn *conn, int64_t owner, const char *hash, int64_t *remaining);
/* Whether any user links `hash`. */
StoreStatus store_asset_linked(StoreConn *conn, const char *hash, bool *linked);

#endif
