/* api_client.h — the raw HTTP client of the suites that talk to a running
 * ampd (check_api.c, check_assets.c, check_patches.c): one request per
 * loopback connection, read until the server closes; the reply's status,
 * headers and JSON body; a user agent's session cookie and CSRF token; the
 * one error shape of the API asserted; signing up.
 *
 * Check-based like testutil.h: a step that cannot be taken fails the test.
 * The server's port is an argument. A reply is awaited for
 * API_CLIENT_SECONDS (20 unless the suite defines it before including).
 */
#ifndef AMP_API_CLIENT_H
#define AMP_API_CLIENT_H

#include "ampd_process.h"

#include <check.h>
#include <jansson.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef API_CLIENT_SECONDS
#define API_CLIENT_SECONDS 20
#endif

typedef struct Reply {
    int status;
    char *data;          /* everything received, NUL-terminated */
    size_t head_len;
    const char *body;
    size_t body_len;
    json_t *json;        /* the body parsed, or NULL */
} Reply;

/* A browser-like user agent: its session cookie and CSRF token. */
typedef struct Agent {
    char cookie[128];    /* the amp_session value, "" for none */
    char csrf[128];      /* sent as X-CSRF-Token when not "" */
} Agent;

/* Send `text` (len bytes) to `port` on a new connection and read until the
 * server closes, within API_CLIENT_SECONDS. */
static inline Reply *api_client_exchange(unsigned port, const char *text, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "connect: %s", strerror(errno));
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, text + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    Reply *r = calloc(1, sizeof *r);
    size_t cap = 1 << 16, got = 0;
    r->data = malloc(cap + 1);
    double deadline = ampd_now_seconds() + API_CLIENT_SECONDS;
    while (ampd_now_seconds() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (got == cap) {
            cap *= 2;
            r->data = realloc(r->data, cap + 1);
        }
        ssize_t n = recv(fd, r->data + got, cap - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    r->data[got] = '\0';
    sscanf(r->data, "HTTP/1.1 %d", &r->status);
    const char *end = strstr(r->data, "\r\n\r\n");
    r->head_len = end ? (size_t)(end + 4 - r->data) : got;
    r->body = r->data + r->head_len;
    r->body_len = got - r->head_len;
    json_error_t err;
    r->json = r->body_len ? json_loadb(r->body, r->body_len, 0, &err) : NULL;
    return r;
}

static inline void reply_free(Reply *r)
{
    json_decref(r->json);
    free(r->data);
    free(r);
}

/* The value of the header `name` (any case), or NULL; valid until four
 * more calls. */
static inline const char *reply_header(const Reply *r, const char *name)
{
    static char values[4][1024];
    static int next;
    size_t n = strlen(name);
    const char *line = strstr(r->data, "\r\n");
    while (line && line + 2 < r->data + r->head_len) {
        line += 2;
        const char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - line) > n && line[n] == ':' && strncasecmp(line, name, n) == 0) {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            char *out = values[next++ % 4];
            snprintf(out, 1024, "%.*s", (int)(eol - v), v);
            return out;
        }
        line = eol;
    }
    return NULL;
}

/* One request to `port` with a JSON body of `body_len` bytes (NULL: none)
 * and `extra` more header lines, each ending in \r\n (a Host: among them
 * replaces the loopback one). */
static inline Reply *api_client_request(unsigned port, const Agent *a, const char *method, const char *path,
                                        const char *body, size_t body_len, const char *extra)
{
    size_t cap = body_len + 8192;
    char *text = malloc(cap);
    int n = snprintf(text, cap, "%s %s HTTP/1.1\r\nConnection: close\r\n", method, path);
    if (!extra || !strstr(extra, "Host:"))
        n += snprintf(text + n, cap - n, "Host: 127.0.0.1:%u\r\n", port);
    if (a && a->cookie[0])
        n += snprintf(text + n, cap - n, "Cookie: amp_session=%s\r\n", a->cookie);
    if (a && a->csrf[0])
        n += snprintf(text + n, cap - n, "X-CSRF-Token: %s\r\n", a->csrf);
    if (extra)
        n += snprintf(text + n, cap - n, "%s", extra);
    if (body)
        n += snprintf(text + n, cap - n, "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
    n += snprintf(text + n, cap - n, "\r\n");
    if (body) {
        memcpy(text + n, body, body_len);
        n += (int)body_len;
    }
    Reply *r = api_client_exchange(port, text, (size_t)n);
    free(text);
    return r;
}

/* The status, and the one error shape with `code` when one is given. */
static inline void expect(Reply *r, int status, const char *code)
{
    ck_assert_msg(r->status == status, "status %d, want %d:\n%.2000s", r->status, status, r->data);
    if (!code)
        return;
    ck_assert_msg(r->json, "error body is not JSON: %.500s", r->body);
    json_t *error = json_object_get(r->json, "error");
    ck_assert_msg(json_is_object(error) && json_object_size(r->json) == 1, "not the error shape: %.500s", r->body);
    ck_assert_msg(json_is_string(json_object_get(error, "code")), "no error code: %.500s", r->body);
    ck_assert_msg(strcmp(json_string_value(json_object_get(error, "code")), code) == 0, "code: %.500s, want %s",
                  r->body, code);
    const char *hint = json_string_value(json_object_get(error, "hint"));
    ck_assert(hint && hint[0]);
    const char *type = reply_header(r, "Content-Type");
    ck_assert(type && strcmp(type, "application/json") == 0);
}

static inline void expect_free(Reply *r, int status, const char *code)
{
    expect(r, status, code);
    reply_free(r);
}

/* Take the session cookie and CSRF token of a reply into the agent. */
static inline void take_cookie(Agent *a, const Reply *r)
{
    const char *set = reply_header(r, "Set-Cookie");
    ck_assert_msg(set != NULL, "no Set-Cookie in:\n%.2000s", r->data);
    ck_assert(strncmp(set, "amp_session=", 12) == 0);
    const char *end = strchr(set, ';');
    ck_assert_ptr_nonnull(end);
    snprintf(a->cookie, sizeof a->cookie, "%.*s", (int)(end - set - 12), set + 12);
    const char *csrf = json_string_value(json_object_get(r->json, "csrf"));
    ck_assert_ptr_nonnull(csrf);
    snprintf(a->csrf, sizeof a->csrf, "%s", csrf);
}

/* Sign up `name` with `password` (201), signed in as the agent returned. */
static inline Agent api_client_signup(unsigned port, const char *name, const char *password)
{
    Agent a = {0};
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name, password);
    Reply *r = api_client_request(port, NULL, "POST", "/api/account/signup", body, strlen(body), NULL);
    expect(r, 201, NULL);
    take_cookie(&a, r);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r->json, "user"), "name")), name);
    reply_free(r);
    return a;
}

/* A new folder under $TMPDIR (else /tmp) named NAME-XXXXXX; the last eight
 * made stay valid. */
static inline char *api_temp_dir(const char *name)
{
    static char dirs[8][512];
    static int next;
    char *dir = dirs[next++ % 8];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, 512, "%s/%s-XXXXXX", tmp, name);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

#endif
