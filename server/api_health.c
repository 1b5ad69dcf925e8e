/* api_health.c — GET /api/health: a liveness probe for the page and tests.
 *
 * Answers {"ok": true, "version": "...", "storage": bool} while the daemon
 * runs; it touches no shared state, so it also shows that a connection
 * thread is still free. "storage": whether ampd has a data folder (--data),
 * so a page knows before asking that projects and the patch library are
 * there (without, their endpoints answer 503 no_storage).
 */
#include "api.h"
#include "http.h"

enum MHD_Result api_health_get(struct MHD_Connection *conn, const HttpRequest *req)
{
    return http_reply_json(conn, MHD_HTTP_OK,
                           json_pack("{s:b,s:s,s:b}", "ok", 1, "version", AMPD_VERSION,
                                     "storage", api_settings.store != NULL));
}
