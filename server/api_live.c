/* api_live.c — who may listen to a project's live updates, and what a tab
 * is told when it opens: the API's side of live.c.
 *
 * live.c calls api_live_authorize and then api_live_latest from a
 * libmicrohttpd thread while it upgrades a connection to a WebSocket
 * (before the 101 is sent). Both read the store on that thread, through one
 * store connection kept for them (opened on first use, shared under a
 * mutex): one indexed session lookup and one read of the project's head, so
 * an event-loop thread is held for as long as two short sqlite reads (WAL
 * readers never wait for the writer). The upgrade is rare next to plain
 * requests; a save's fsync never runs here. The owner found by the
 * authorization is kept per thread for the load that follows it, so the
 * load reads only a project the caller owns.
 *
 * api_live_saved is the store's ProjectSavedHook: it runs on the worker that
 * committed the save and hands the revision to live_publish (which only
 * queues it for live.c's own thread).
 */
#include "api.h"
#include "live.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t live_db_lock = PTHREAD_MUTEX_INITIALIZER;
static StoreConn *live_db;               /* under live_db_lock */
static _Thread_local int64_t authorized_owner;  /* 0: none on this thread */

/* The shared connection, locked; NULL (and unlocked) without a store. */
static StoreConn *live_db_acquire(void)
{
    pthread_mutex_lock(&live_db_lock);
    if (!live_db && api_settings.store) {
        char err[256];
        live_db = store_connect(api_settings.store, err, sizeof err);
        if (!live_db)
            fprintf(stderr, "ampd: live updates cannot read the store: %s\n", err);
    }
    if (!live_db)
        pthread_mutex_unlock(&live_db_lock);
    return live_db;
}

bool api_live_authorize(struct MHD_Connection *conn, const char *project_id, void *user)
{
    (void)user;
    authorized_owner = 0;
    StoreConn *db = live_db_acquire();
    if (!db)
        return false;
    StoreUser caller;
    StoreProject project;
    bool ok = api_caller(conn, db, &caller) &&
              store_project_get(db, caller.id, project_id, &project, NULL) == STORE_OK;
    pthread_mutex_unlock(&live_db_lock);
    if (ok)
        authorized_owner = caller.id;
    return ok;
}

bool api_live_latest(const char *project_id, long *revision, char **json_text, void *user)
{
    (void)user;
    int64_t owner = authorized_owner;
    authorized_owner = 0;
    if (!owner)
        return false;
    StoreConn *db = live_db_acquire();
    if (!db)
        return false;
    StoreProject project;
    char *document = NULL;
    StoreStatus status = store_project_get(db, owner, project_id, &project, &document);
    pthread_mutex_unlock(&live_db_lock);
    if (status != STORE_OK) {
        free(document);
        return false;
    }
    *revision = (long)project.revision;
    *json_text = document;
    return true;
}

void api_live_saved(const char *project_id, int64_t revision, const char *document)
{
    live_publish(project_id, (long)revision, document);
}

/* Called by api_stop, once nothing upgrades any more. */
void api_live_close(void)
{
    pthread_mutex_lock(&live_db_lock);
    store_disconnect(live_db);
    live_db = NULL;
    pthread_mutex_unlock(&live_db_lock);
}
