/* live.h — live project updates: every open tab of a project hears of each
 * new revision over a WebSocket.
 *
 * Protocol (server/LIVE.md has the whole of it). A tab opens
 *
 *   GET /api/projects/{id}/live   (Upgrade: websocket, RFC 6455, version 13)
 *
 * from an allowed Origin with a session the authorizer accepts; anything
 * else is answered 403 before upgrading. Messages are JSON text frames:
 *
 *   server -> tab  {"type":"revision","project":ID,"revision":N,"document":{...}}
 *                  after every committed save of the project (a tab may see
 *                  a revision again or out of order: it ignores any revision
 *                  not newer than the one it holds), and in answer to a
 *                  stale hello.
 *   tab -> server  {"type":"hello","revision":N}: "I hold revision N".
 *   server -> tab  {"type":"current","project":ID,"revision":N} when N is the
 *                  latest the server knows, else the "revision" message above:
 *                  so a tab that missed saves (asleep, reconnecting) learns it
 *                  is stale before its next save is refused with 412.
 *   server -> tab  {"type":"error","error":{"code":C,"hint":H}} for a message
 *                  it does not understand; the connection stays open.
 *
 * Binary messages are closed with 1003, protocol errors with 1002, text that
 * is not UTF-8 with 1007, frames or messages over the caps with 1009; a tab
 * silent through two ping intervals, or one that reads too slowly for its
 * bounded output queue, is dropped; 1001 when the server stops.
 *
 * Threading: live_publish and live_client_count may be called from any
 * thread; live_upgrade is the routing table's handler (libmicrohttpd's
 * threads); live_start and live_stop from the main thread, live_stop before
 * MHD_stop_daemon. Upgraded sockets are served by one thread of live.c's own.
 */
#ifndef AMPD_LIVE_H
#define AMPD_LIVE_H

#include "http.h"

#include <stdbool.h>
#include <stddef.h>

/* Project ids in the path: 1 to 64 of [A-Za-z0-9_-]. */
#define LIVE_PROJECT_ID_MAX 64

/* May this request (its cookies, through `conn`) follow `project_id`?
 * Called on a libmicrohttpd thread before upgrading; it may block. */
typedef bool (*LiveAuthorize)(struct MHD_Connection *conn, const char *project_id, void *user);

/* The latest committed revision of `project_id` and its document (JSON
 * text, malloc'd, freed by the caller); false when there is none. Called on
 * a libmicrohttpd thread before upgrading, so that a hello is answered
 * right even when no save happened since ampd started; it may block. */
typedef bool (*LiveLatest)(const char *project_id, long *revision, char **json_text, void *user);

typedef struct LiveConfig {
    const char *const *origins;  /* allowed Origins besides the Host's own */
    size_t origin_count;
    LiveAuthorize authorize;     /* NULL: every upgrade is refused (403) */
    void *authorize_user;
    LiveLatest latest;           /* NULL: only revisions published since start are known */
    void *latest_user;
    unsigned max_clients;        /* upgraded sockets at once; more get 503 */
    size_t max_frame;            /* largest frame a tab may send */
    size_t max_message;          /* largest message a tab may send, reassembled */
    size_t max_queue;            /* unsent bytes per tab before it is dropped */
    unsigned ping_ms;            /* ping a tab this long after it last spoke; 0: never */
    unsigned close_ms;           /* wait this long for the closing handshake */
} LiveConfig;

/* The defaults, with no origins, authorizer or loader: a tab only says
 * hello, so its messages are small; the output queue holds a few whole
 * documents (HTTP_BODY_MAX each). */
LiveConfig live_default_config(void);

/* Start the event loop thread; the config (origins included) is copied.
 * False with a message on stderr when it cannot. */
bool live_start(const LiveConfig *config);

/* Close every live socket (1001) and join the thread; upgrades arriving
 * afterwards are refused. Call before MHD_stop_daemon. */
void live_stop(void);

/* Tell every tab of `project_id` about `revision`, whose document is
 * `json_text` (one JSON value, as stored). Called by the projects code after
 * each committed save; thread-safe, never blocks on a socket. */
void live_publish(const char *project_id, long revision, const char *json_text);

/* Upgraded sockets currently open. */
unsigned live_client_count(void);

/* The routing table's handler for GET /api/projects/{id}/live. */
enum MHD_Result live_upgrade(struct MHD_Connection *conn, const HttpRequest *req);

#endif
