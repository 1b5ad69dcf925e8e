/* api_health.c — GET /api/health: a liveness probe for the page and tests.
 *
 * Answers {"ok": true, "version": "..."} while the daemon runs; it touches
 * no shared state, so it also shows that a connection thread is still free.
 */
#include "http.h"

enum MHD_Result api_health_get(struct MHD_Connection *conn, const HttpRequest *req)
{
    return http_reply_json(conn, MHD_HTTP_OK,
                           json_pack("{s:b,s:s}", "ok", 1, "version", AMPD_VERSION));
}
