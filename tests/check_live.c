/* check_live.c — live updates (server/live.c) over real sockets.
 *
 * Each test runs an in-process daemon (http_start from libampd.a, port 0 on
 * 127.0.0.1) with live_start, as a checked fixture, so the test's own
 * process holds the hub and calls live_publish directly: the product has no
 * test-only endpoint. The authorizer accepts the cookie "session=good" for
 * every project but "forbidden"; the latest-revision loader knows only
 * project "seeded" (revision 3). The client side is written here by hand
 * over ws.c (client role: masked frames out, unmasked frames in).
 *
 * "handshake": 101 and the accept key, every refusal before upgrading
 * (Origin, session, no authorizer, version, key, path, method), a first
 * frame sent with the request head.
 * "messages": fan-out to two tabs of a project and not to another, hello
 * answered current or with the latest (published or loaded), bad messages.
 * "protocol": ping and pong, the closing handshake both ways, 1009, 1002,
 * 1007, 1003, silence past the ping interval, 1001 at stop, an upgraded
 * socket outliving the HTTP idle timeout.
 * "load": a slow reader dropped while a fast one gets every revision, 200
 * tabs at once.
 * "ampd": the real binary wires it up: --origin checked, upgrades refused
 * (403) while no authorizer is plugged in, a clean stop.
 * Every wait is bounded.
 */
#include "testutil.h"
#include "ampd_process.h"
#include "http.h"
#include "live.h"
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AMPD_PATH
#define AMPD_PATH "build/ampd"
#endif

/* ---- the server under test --------------------------------------------- */

static HttpServer server = {
    .max_connections = 512,
    .max_per_address = 0,   /* 200 tabs from one address */
    .head_deadline_seconds = 10,
    .threads = 2,           /* ampd's model: an event loop in a pool */
    .timeout_seconds = 1, /* upgraded sockets must outlive it */
    .connection_memory = HTTP_CONNECTION_MEMORY,
};
static HttpDaemon *daemon_handle;
static unsigned port;
static char root_dir[256];
static char host_header[64];  /* "127.0.0.1:PORT" */
static char own_origin[80];   /* "http://127.0.0.1:PORT" */

static const char *const test_origins[] = {"http://allowed.example:5173"};

static bool test_authorize(struct MHD_Connection *conn, const char *project, void *user)
{
    const char *session = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "session");
    return session && strcmp(session, "good") == 0 && strcmp(project, "forbidden") != 0;
}

static bool test_latest(const char *project, long *revision, char **json_text, void *user)
{
    if (strcmp(project, "seeded") != 0)
        return false;
    *revision = 3;
    *json_text = strdup("{\"seeded\":true}");
    return true;
}

static LiveConfig test_config(void)
{
    LiveConfig config = live_default_config();
    config.origins = test_origins;
    config.origin_count = 1;
    config.authorize = test_authorize;
    config.latest = test_latest;
    config.max_clients = 300;
    config.max_frame = 4096;
    config.max_message = 8192;
    config.max_queue = 64 * 1024;
    config.ping_ms = 0;
    config.close_ms = 1000;
    return config;
}

static void restart_live(const LiveConfig *config)
{
    live_stop();
    ck_assert(live_start(config));
}

static void servers_setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(root_dir, sizeof root_dir, "/tmp/ampd-live-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root_dir));
    ck_assert_ptr_nonnull(realpath(root_dir, server.root));
    server.root_len = strlen(server.root);
    server.root_fd = open(server.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(server.root_fd, 0);
    LiveConfig config = test_config();
    ck_assert(live_start(&config));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_handle = http_start(&server, (struct sockaddr *)&addr);
    ck_assert_ptr_nonnull(daemon_handle);
    port = http_bound_port(daemon_handle);
    ck_assert_uint_ne(port, 0);
    snprintf(host_header, sizeof host_header, "127.0.0.1:%u", port);
    snprintf(own_origin, sizeof own_origin, "http://127.0.0.1:%u", port);
}

static void servers_teardown(void)
{
    live_stop();
    if (daemon_handle)
        http_stop(daemon_handle);
    daemon_handle = NULL;
    if (server.root_fd >= 0)
        close(server.root_fd);
    server.root_fd = -1;
    rmdir(root_dir);
}

/* ---- a raw client ------------------------------------------------------- */

typedef struct TestClient {
    int fd;
    WsParser parser;       /* client role */
    uint8_t buf[65536];    /* received, not yet parsed: [at, len) */
    size_t len, at;
    int status;            /* of the handshake reply */
    char head[4096];       /* the reply's head */
    char body[1024];       /* an error reply's body */
} TestClient;

/* The outcome of waiting for a frame. */
enum { GOT_TIMEOUT = -1, GOT_EOF = -2 };

typedef struct Frame {
    int kind;              /* a WsEventKind, GOT_TIMEOUT or GOT_EOF */
    WsOpcode opcode;
    unsigned close_code;
    char *data;            /* NUL-terminated copy */
    size_t len;
} Frame;

static int connect_loopback(int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "connect: %s",
                  strerror(errno));
    return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    double deadline = ampd_now_seconds() + 10;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            ck_assert(ampd_now_seconds() < deadline);
            usleep(1000);
            continue;
        }
        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Receive into the client's buffer; bytes read, 0 at EOF, -1 on timeout. */
static ssize_t receive(TestClient *c, double seconds)
{
    if (c->at == c->len)
        c->at = c->len = 0;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, (int)(seconds * 1000)) <= 0)
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n < 0)
        return errno == ECONNRESET ? 0 : -1;
    c->len += (size_t)n;
    return n;
}

/* Send `request` (the head, plus `extra` bytes after it) and read the
 * reply's head, and for a non-101 its body; bytes after a 101's head stay
 * in the buffer for the parser. */
static TestClient *client_request(const char *request, const void *extra, size_t extra_len,
                                  int rcvbuf)
{
    TestClient *c = calloc(1, sizeof *c);
    c->fd = connect_loopback(rcvbuf);
    ws_parser_init(&c->parser, 1 << 20, 1 << 20, false);
    char *whole = malloc(strlen(request) + extra_len);
    memcpy(whole, request, strlen(request));
    if (extra_len)
        memcpy(whole + strlen(request), extra, extra_len);
    send_all(c->fd, whole, strlen(request) + extra_len);
    free(whole);
    double deadline = ampd_now_seconds() + 5;
    char *end = NULL;
    while (!end && ampd_now_seconds() < deadline) {
        if (receive(c, 0.1) == 0)
            break;
        c->buf[c->len < sizeof c->buf ? c->len : sizeof c->buf - 1] = 0;
        end = strstr((char *)c->buf, "\r\n\r\n");
    }
    ck_assert_msg(end != NULL, "no reply head");
    size_t head_len = (size_t)(end + 4 - (char *)c->buf);
    ck_assert_uint_lt(head_len, sizeof c->head);
    memcpy(c->head, c->buf, head_len);
    c->head[head_len] = 0;
    c->at = head_len;
    sscanf(c->head, "HTTP/1.1 %d", &c->status);
    if (c->status == 101)
        return c;
    const char *cl = strcasestr(c->head, "\r\nContent-Length:");
    size_t body_len = cl ? strtoul(cl + 17, NULL, 10) : 0;
    while (c->len - c->at < body_len && ampd_now_seconds() < deadline)
        if (receive(c, 0.1) == 0)
            break;
    size_t n = c->len - c->at < sizeof c->body - 1 ? c->len - c->at : sizeof c->body - 1;
    memcpy(c->body, c->buf + c->at, n);
    c->body[n] = 0;
    return c;
}

/* A handshake request for `path` with these Origin and Cookie (NULL: none)
 * and any `extra_headers`. */
static void handshake_request(char *out, size_t cap, const char *method, const char *path,
                              const char *origin, const char *cookie, const char *extra_headers)
{
    int n = snprintf(out, cap,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
                     method, path, host_header);
    if (origin)
        n += snprintf(out + n, cap - (size_t)n, "Origin: %s\r\n", origin);
    if (cookie)
        n += snprintf(out + n, cap - (size_t)n, "Cookie: %s\r\n", cookie);
    snprintf(out + n, cap - (size_t)n, "%s\r\n",
             extra_headers ? extra_headers
                           : "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n");
}

static TestClient *client_open_with(const char *project, const char *origin, const char *cookie,
                                    int rcvbuf)
{
    char path[128], request[1024];
    snprintf(path, sizeof path, "/api/projects/%s/live", project);
    handshake_request(request, sizeof request, "GET", path, origin, cookie, NULL);
    return client_request(request, NULL, 0, rcvbuf);
}

/* A tab of `project` from the server's own origin with a good session. */
static TestClient *client_open(const char *project)
{
    TestClient *c = client_open_with(project, own_origin, "session=good", 0);
    ck_assert_msg(c->status == 101, "handshake for %s got %d: %s", project, c->status, c->body);
    return c;
}

static void client_free(TestClient *c)
{
    if (c->fd >= 0)
        close(c->fd);
    ws_parser_free(&c->parser);
    free(c);
}

/* A fresh parser, to read on past a close frame. */
static void reset_parser(TestClient *c)
{
    ws_parser_free(&c->parser);
    ws_parser_init(&c->parser, 1 << 20, 1 << 20, false);
}

static void frame_free(Frame *f)
{
    free(f->data);
    f->data = NULL;
}

/* The next frame from the server, within `seconds`. */
static Frame client_next(TestClient *c, double seconds)
{
    Frame f = {.kind = GOT_TIMEOUT};
    double deadline = ampd_now_seconds() + seconds;
    for (;;) {
        while (c->at < c->len) {
            WsEvent ev;
            c->at += ws_parse(&c->parser, c->buf + c->at, c->len - c->at, &ev);
            if (ev.kind == WS_EVENT_NONE)
                continue;
            f.kind = ev.kind;
            f.opcode = ev.opcode;
            f.close_code = ev.close_code;
            f.len = ev.len;
            f.data = malloc(ev.len + 1);
            if (ev.len)
                memcpy(f.data, ev.data, ev.len);
            f.data[ev.len] = 0;
            return f;
        }
        double left = deadline - ampd_now_seconds();
        if (left <= 0)
            return f;
        ssize_t n = receive(c, left);
        if (n == 0) {
            f.kind = GOT_EOF;
            return f;
        }
    }
}

static const uint8_t MASK[4] = {0xa1, 0x5b, 0x0c, 0x77};

static void client_send(TestClient *c, bool fin, WsOpcode op, const void *payload, size_t len)
{
    uint8_t *frame = malloc(WS_HEADER_MAX + len);
    size_t n = ws_frame_write(frame, fin, op, MASK, payload, len);
    send_all(c->fd, frame, n);
    free(frame);
}

static void client_text(TestClient *c, const char *text)
{
    client_send(c, true, WS_OP_TEXT, text, strlen(text));
}

/* The next frame is a text message; parsed. */
static json_t *client_json(TestClient *c, double seconds)
{
    Frame f = client_next(c, seconds);
    ck_assert_msg(f.kind == WS_EVENT_MESSAGE && f.opcode == WS_OP_TEXT,
                  "wanted a text message, got kind %d", f.kind);
    json_t *v = json_loads(f.data, 0, NULL);
    ck_assert_msg(v != NULL, "not JSON: %s", f.data);
    frame_free(&f);
    return v;
}

static const char *message_type(json_t *v)
{
    return json_string_value(json_object_get(v, "type"));
}

static long json_revision(json_t *v)
{
    return (long)json_integer_value(json_object_get(v, "revision"));
}

/* Say hello holding `revision`; the reply must be "current" at `want`.
 * Proves the tab is subscribed. */
static void expect_current(TestClient *c, long revision, long want)
{
    char hello[64];
    snprintf(hello, sizeof hello, "{\"type\":\"hello\",\"revision\":%ld}", revision);
    client_text(c, hello);
    json_t *v = client_json(c, 5);
    ck_assert_str_eq(message_type(v), "current");
    ck_assert_int_eq(json_revision(v), want);
    json_decref(v);
}

/* The next message is revision `want` of `project`; returns the document. */
static json_t *expect_revision(TestClient *c, const char *project, long want)
{
    json_t *v = client_json(c, 5);
    ck_assert_str_eq(message_type(v), "revision");
    ck_assert_str_eq(json_string_value(json_object_get(v, "project")), project);
    ck_assert_int_eq(json_revision(v), want);
    json_t *doc = json_incref(json_object_get(v, "document"));
    ck_assert(json_is_object(doc));
    json_decref(v);
    return doc;
}

/* The server closes with `code`, then closes TCP. */
static void expect_close(TestClient *c, unsigned code)
{
    Frame f = client_next(c, 5);
    ck_assert_msg(f.kind == WS_EVENT_CLOSE, "wanted close %u, got kind %d", code, f.kind);
    ck_assert_uint_eq(f.close_code, code);
    frame_free(&f);
    /* Answer as a browser does, then the server ends the connection. */
    uint8_t payload[WS_CONTROL_MAX];
    client_send(c, true, WS_OP_CLOSE, payload, ws_close_payload(payload, (uint16_t)code, NULL));
    reset_parser(c); /* read on past the close */
    f = client_next(c, 5);
    ck_assert_msg(f.kind == GOT_EOF, "wanted EOF after the close, got kind %d", f.kind);
    frame_free(&f);
}

static void wait_clients(unsigned want)
{
    double deadline = ampd_now_seconds() + 10;
    while (live_client_count() != want && ampd_now_seconds() < deadline)
        usleep(2000);
    ck_assert_uint_eq(live_client_count(), want);
}

/* ---- handshake ---------------------------------------------------------- */

START_TEST(test_handshake)
{
    TestClient *c = client_open("alpha");
    ck_assert_int_eq(c->status, 101);
    ck_assert_ptr_nonnull(strcasestr(c->head, "\r\nUpgrade: websocket\r\n"));
    ck_assert_msg(strcasestr(c->head, "\r\nConnection: Upgrade\r\n") != NULL, "%s", c->head);
    /* RFC 6455's example key and its accept value. */
    ck_assert_ptr_nonnull(strstr(c->head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    expect_current(c, 0, 0);
    wait_clients(1);
    client_free(c);
    wait_clients(0);

    /* Another key; the origins the policy allows. */
    char request[1024];
    handshake_request(request, sizeof request, "GET", "/api/projects/alpha/live",
                      "http://allowed.example:5173", "session=good",
                      "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n");
    c = client_request(request, NULL, 0, 0);
    ck_assert_int_eq(c->status, 101);
    ck_assert_ptr_nonnull(strstr(c->head, "\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"));
    client_free(c);
    char https_origin[96];
    snprintf(https_origin, sizeof https_origin, "https://%s", host_header);
    c = client_open_with("alpha", https_origin, "session=good", 0);
    ck_assert_int_eq(c->status, 101);
    client_free(c);
}
END_TEST

/* The request gets `status` with error `code` in the one error shape. */
static void expect_refused(const char *method, const char *path, const char *origin,
                           const char *cookie, const char *headers, int status, const char *code)
{
    char request[1024];
    handshake_request(request, sizeof request, method, path, origin, cookie, headers);
    TestClient *c = client_request(request, NULL, 0, 0);
    ck_assert_msg(c->status == status, "%s %s origin %s: got %d, want %d", method, path,
                  origin ? origin : "(none)", c->status, status);
    if (code) {
        json_t *body = json_loads(c->body, 0, NULL);
        ck_assert_msg(body != NULL, "error body not JSON: %s", c->body);
        const char *got = json_string_value(json_object_get(json_object_get(body, "error"), "code"));
        ck_assert_msg(got && strcmp(got, code) == 0, "code %s, want %s", got, code);
        json_decref(body);
    }
    client_free(c);
}

START_TEST(test_refusals)
{
    const char *p = "/api/projects/alpha/live";
    const char *good = "session=good";
    expect_refused("GET", p, "http://evil.example", good, NULL, 403, "origin_refused");
    expect_refused("GET", p, "http://127.0.0.1:1", good, NULL, 403, "origin_refused");
    expect_refused("GET", p, "null", good, NULL, 403, "origin_refused");
    expect_refused("GET", p, NULL, good, NULL, 403, "origin_refused");
    expect_refused("GET", p, own_origin, NULL, NULL, 403, "forbidden");
    expect_refused("GET", p, own_origin, "session=bad", NULL, 403, "forbidden");
    expect_refused("GET", "/api/projects/forbidden/live", own_origin, good, NULL, 403, "forbidden");
    expect_refused("GET", p, own_origin, good,
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n",
                   426, "bad_websocket_version");
    expect_refused("GET", p, own_origin, good, "Sec-WebSocket-Version: 13\r\n", 400,
                   "bad_handshake");
    expect_refused("GET", p, own_origin, good,
                   "Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n", 400,
                   "bad_handshake");
    expect_refused("GET", "/api/projects/a.b/live", own_origin, good, NULL, 404, "not_found");
    expect_refused("GET", "/api/projects//live", own_origin, good, NULL, 404, "not_found");
    expect_refused("GET", "/api/projects/alpha/live/x", own_origin, good, NULL, 404, "not_found");
    expect_refused("POST", p, own_origin, good, NULL, 405, "method_not_allowed");
    /* A plain GET with no upgrade at all. */
    char request[256];
    snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", p, host_header);
    TestClient *c = client_request(request, NULL, 0, 0);
    ck_assert_int_eq(c->status, 400);
    client_free(c);
    /* The 426 says which version we speak. */
    char versioned[1024];
    handshake_request(versioned, sizeof versioned, "GET", p, own_origin, good,
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n");
    c = client_request(versioned, NULL, 0, 0);
    ck_assert_ptr_nonnull(strcasestr(c->head, "\r\nSec-WebSocket-Version: 13\r\n"));
    client_free(c);
    ck_assert_uint_eq(live_client_count(), 0);
}
END_TEST

START_TEST(test_no_authorizer)
{
    LiveConfig config = test_config();
    config.authorize = NULL;
    restart_live(&config);
    expect_refused("GET", "/api/projects/alpha/live", own_origin, "session=good", NULL, 403,
                   "forbidden");
    /* Stopped: refused too. */
    live_stop();
    expect_refused("GET", "/api/projects/alpha/live", own_origin, "session=good", NULL, 503,
                   "live_unavailable");
}
END_TEST

START_TEST(test_first_frame_with_head)
{
    /* A hello sent in the same packet as the request head reaches the
     * hub through libmicrohttpd's extra bytes. */
    char request[1024];
    handshake_request(request, sizeof request, "GET", "/api/projects/alpha/live", own_origin,
                      "session=good", NULL);
    uint8_t frame[64];
    const char hello[] = "{\"type\":\"hello\",\"revision\":4}";
    size_t n = ws_frame_write(frame, true, WS_OP_TEXT, MASK, hello, strlen(hello));
    TestClient *c = client_request(request, frame, n, 0);
    ck_assert_int_eq(c->status, 101);
    json_t *v = client_json(c, 5);
    ck_assert_str_eq(message_type(v), "current");
    ck_assert_int_eq(json_revision(v), 4);
    json_decref(v);
    client_free(c);
}
END_TEST

/* ---- messages ----------------------------------------------------------- */

START_TEST(test_fanout)
{
    TestClient *a1 = client_open("alpha"), *a2 = client_open("alpha"), *b = client_open("beta");
    expect_current(a1, 0, 0);
    expect_current(a2, 0, 0);
    expect_current(b, 0, 0);

    live_publish("alpha", 1, "{\"tracks\":[1,2],\"name\":\"caf\xc3\xa9\"}");
    for (int i = 0; i < 2; i++) {
        json_t *doc = expect_revision(i ? a2 : a1, "alpha", 1);
        ck_assert_int_eq(json_array_size(json_object_get(doc, "tracks")), 2);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "name")), "caf\xc3\xa9");
        json_decref(doc);
    }
    Frame f = client_next(b, 0.3);
    ck_assert_msg(f.kind == GOT_TIMEOUT, "beta heard of alpha (kind %d)", f.kind);
    frame_free(&f);

    live_publish("beta", 7, "{\"beta\":1}");
    json_decref(expect_revision(b, "beta", 7));
    f = client_next(a1, 0.3);
    ck_assert_int_eq(f.kind, GOT_TIMEOUT);
    frame_free(&f);

    /* Refused at the door: a bad id, a negative revision, text that is not UTF-8. */
    live_publish("al pha", 2, "{}");
    live_publish("alpha", -1, "{}");
    live_publish("alpha", 2, "{\"x\":\"\xff\"}");
    live_publish(NULL, 2, "{}");
    live_publish("alpha", 2, NULL);
    /* Revisions come in order of publishing. */
    for (long r = 2; r <= 5; r++) {
        char doc[32];
        snprintf(doc, sizeof doc, "{\"r\":%ld}", r);
        live_publish("alpha", r, doc);
    }
    for (long r = 2; r <= 5; r++) {
        json_t *doc = expect_revision(a2, "alpha", r);
        ck_assert_int_eq(json_integer_value(json_object_get(doc, "r")), r);
        json_decref(doc);
    }
    client_free(a1);
    client_free(a2);
    client_free(b);
}
END_TEST

START_TEST(test_hello)
{
    /* A tab that slept through saves learns it is stale from its hello. */
    TestClient *a = client_open("alpha");
    expect_current(a, 0, 0);
    live_publish("alpha", 5, "{\"five\":5}");
    json_decref(expect_revision(a, "alpha", 5));

    TestClient *late = client_open("alpha");
    client_text(late, "{\"type\":\"hello\",\"revision\":2}");
    json_t *doc = expect_revision(late, "alpha", 5);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "five")), 5);
    json_decref(doc);
    expect_current(late, 5, 5);
    expect_current(late, 9, 5); /* ahead of the server: told the server's */
    /* The cache keeps the newest even when revisions are published out of order. */
    live_publish("alpha", 8, "{\"eight\":8}");
    live_publish("alpha", 6, "{\"six\":6}");
    json_decref(expect_revision(late, "alpha", 8));
    json_decref(expect_revision(late, "alpha", 6));
    expect_current(late, 8, 8);
    client_free(a);
    client_free(late);

    /* A project nobody published since start: the loader's revision. */
    TestClient *s = client_open("seeded");
    client_text(s, "{\"type\":\"hello\",\"revision\":1}");
    doc = expect_revision(s, "seeded", 3);
    ck_assert(json_is_true(json_object_get(doc, "seeded")));
    json_decref(doc);
    expect_current(s, 3, 3);
    client_free(s);
}
END_TEST

START_TEST(test_bad_messages)
{
    static const char *bad[][2] = {
        {"not json", "bad_message"},
        {"[1,2]", "bad_message"},
        {"{\"revision\":1}", "bad_message"},
        {"{\"type\":\"save\"}", "unknown_type"},
        {"{\"type\":\"hello\"}", "bad_revision"},
        {"{\"type\":\"hello\",\"revision\":-1}", "bad_revision"},
        {"{\"type\":\"hello\",\"revision\":\"3\"}", "bad_revision"},
    };
    TestClient *c = client_open("alpha");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        client_text(c, bad[i][0]);
        json_t *v = client_json(c, 5);
        ck_assert_str_eq(message_type(v), "error");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "error"), "code")),
                         bad[i][1]);
        json_decref(v);
    }
    expect_current(c, 1, 1); /* still open */
    client_free(c);
}
END_TEST

/* ---- protocol ----------------------------------------------------------- */

START_TEST(test_ping_pong)
{
    TestClient *c = client_open("alpha");
    client_send(c, true, WS_OP_PING, "abc", 3);
    Frame f = client_next(c, 5);
    ck_assert_int_eq(f.kind, WS_EVENT_PONG);
    ck_assert_str_eq(f.data, "abc");
    frame_free(&f);
    /* A ping between the fragments of a hello: pong first, then the answer. */
    client_send(c, false, WS_OP_TEXT, "{\"type\":\"hel", 12);
    client_send(c, true, WS_OP_PING, "", 0);
    client_send(c, false, WS_OP_CONTINUATION, "lo\",\"revi", 9);
    client_send(c, true, WS_OP_CONTINUATION, "sion\":2}", 8);
    f = client_next(c, 5);
    ck_assert_int_eq(f.kind, WS_EVENT_PONG);
    ck_assert_uint_eq(f.len, 0);
    frame_free(&f);
    json_t *v = client_json(c, 5);
    ck_assert_str_eq(message_type(v), "current");
    ck_assert_int_eq(json_revision(v), 2);
    json_decref(v);
    /* Unsolicited pongs are ignored. */
    client_send(c, true, WS_OP_PONG, "x", 1);
    expect_current(c, 2, 2);
    client_free(c);
}
END_TEST

START_TEST(test_close_handshake)
{
    /* The tab closes: the server echoes the code, then closes TCP. */
    TestClient *c = client_open("alpha");
    expect_current(c, 0, 0);
    wait_clients(1);
    uint8_t payload[WS_CONTROL_MAX];
    client_send(c, true, WS_OP_CLOSE, payload, ws_close_payload(payload, 1000, "bye"));
    Frame f = client_next(c, 5);
    ck_assert_int_eq(f.kind, WS_EVENT_CLOSE);
    ck_assert_uint_eq(f.close_code, 1000);
    frame_free(&f);
    reset_parser(c);
    f = client_next(c, 5);
    ck_assert_int_eq(f.kind, GOT_EOF);
    client_free(c);
    wait_clients(0);

    /* A close with no code is answered with no code. */
    c = client_open("alpha");
    client_send(c, true, WS_OP_CLOSE, "", 0);
    f = client_next(c, 5);
    ck_assert_int_eq(f.kind, WS_EVENT_CLOSE);
    ck_assert_uint_eq(f.close_code, WS_CLOSE_NO_STATUS);
    frame_free(&f);
    client_free(c);

    /* A tab that vanishes without a close frame is cleaned up. */
    c = client_open("alpha");
    expect_current(c, 0, 0);
    wait_clients(1);
    client_free(c);
    wait_clients(0);
}
END_TEST

START_TEST(test_oversize)
{
    /* One frame over max_frame (4096): 1009 from its header alone. */
    TestClient *c = client_open("alpha");
    static uint8_t big[9000];
    memset(big, 'a', sizeof big);
    client_send(c, true, WS_OP_TEXT, big, 5000);
    expect_close(c, 1009);
    client_free(c);
    /* Fragments each under max_frame, together over max_message (8192). */
    c = client_open("alpha");
    client_send(c, false, WS_OP_TEXT, big, 4000);
    client_send(c, false, WS_OP_CONTINUATION, big, 4000);
    client_send(c, true, WS_OP_CONTINUATION, big, 1000);
    expect_close(c, 1009);
    client_free(c);
    wait_clients(0);
}
END_TEST

START_TEST(test_protocol_errors)
{
    /* An unmasked client frame. */
    TestClient *c = client_open("alpha");
    uint8_t frame[64];
    size_t n = ws_frame_write(frame, true, WS_OP_TEXT, NULL, "{}", 2);
    send_all(c->fd, frame, n);
    expect_close(c, 1002);
    client_free(c);
    /* A reserved opcode. */
    c = client_open("alpha");
    client_send(c, true, (WsOpcode)0x3, "x", 1);
    expect_close(c, 1002);
    client_free(c);
    /* Text that is not UTF-8, split across fragments. */
    c = client_open("alpha");
    client_send(c, false, WS_OP_TEXT, "\"\xe2\x82", 3);
    client_send(c, true, WS_OP_CONTINUATION, "x\"", 2);
    expect_close(c, 1007);
    client_free(c);
    /* Binary messages are not part of the protocol. */
    c = client_open("alpha");
    client_send(c, true, WS_OP_BINARY, "\x01\x02", 2);
    expect_close(c, 1003);
    client_free(c);
    /* A bad close code. */
    c = client_open("alpha");
    client_send(c, true, WS_OP_CLOSE, "\x03\xed", 2);
    expect_close(c, 1002);
    client_free(c);
    wait_clients(0);
}
END_TEST

START_TEST(test_ping_timeout)
{
    /* With pings every 200 ms, a tab that answers stays and one that is
     * silent is gone within two intervals. */
    LiveConfig config = test_config();
    config.ping_ms = 200;
    restart_live(&config);
    TestClient *quiet = client_open("alpha"), *lively = client_open("alpha");
    expect_current(lively, 0, 0);
    wait_clients(2);
    double start = ampd_now_seconds(), pings = 0;
    while (ampd_now_seconds() - start < 1.5) {
        Frame f = client_next(lively, 0.05);
        if (f.kind == WS_EVENT_PING) {
            pings++;
            client_send(lively, true, WS_OP_PONG, f.data, f.len);
        }
        frame_free(&f);
    }
    ck_assert_msg(pings >= 3, "only %.0f pings in 1.5 s", pings);
    wait_clients(1);
    Frame f;
    do { /* the quiet tab saw pings, then EOF */
        f = client_next(quiet, 5);
        frame_free(&f);
    } while (f.kind == WS_EVENT_PING);
    ck_assert_int_eq(f.kind, GOT_EOF);
    expect_current(lively, 0, 0);
    client_free(quiet);
    client_free(lively);
}
END_TEST

START_TEST(test_stop_going_away)
{
    TestClient *c = client_open("alpha");
    expect_current(c, 0, 0);
    live_stop();
    Frame f = client_next(c, 5);
    ck_assert_int_eq(f.kind, WS_EVENT_CLOSE);
    ck_assert_uint_eq(f.close_code, 1001);
    frame_free(&f);
    reset_parser(c);
    f = client_next(c, 5);
    ck_assert_int_eq(f.kind, GOT_EOF);
    ck_assert_uint_eq(live_client_count(), 0);
    client_free(c);
    /* and it starts again */
    LiveConfig config = test_config();
    ck_assert(live_start(&config));
    c = client_open("alpha");
    expect_current(c, 0, 0);
    client_free(c);
}
END_TEST

START_TEST(test_outlives_http_timeout)
{
    /* The daemon closes idle HTTP connections after 1 s; an upgraded
     * socket is not HTTP any more and stays. */
    TestClient *c = client_open("alpha");
    expect_current(c, 0, 0);
    usleep(2500 * 1000);
    expect_current(c, 0, 0);
    live_publish("alpha", 1, "{}");
    json_decref(expect_revision(c, "alpha", 1));
    client_free(c);
}
END_TEST

/* ---- load --------------------------------------------------------------- */

START_TEST(test_slow_reader)
{
    /* A tab that stops reading (a small receive buffer, never read) fills
     * its queue (64 KiB here) and is dropped, while a tab that reads gets
     * every revision in order, without waiting on the slow one. */
    TestClient *slow = client_open_with("alpha", own_origin, "session=good", 4096);
    ck_assert_int_eq(slow->status, 101);
    TestClient *fast = client_open("alpha");
    expect_current(slow, 0, 0);
    expect_current(fast, 0, 0);
    wait_clients(2);

    size_t doc_len = 16 * 1024;
    char *doc = malloc(doc_len + 32);
    long published = 0;
    double start = ampd_now_seconds();
    while (live_client_count() == 2 && published < 2000) {
        published++;
        int n = snprintf(doc, 32, "{\"r\":%ld,\"pad\":\"", published);
        memset(doc + n, 'p', doc_len);
        strcpy(doc + n + doc_len, "\"}");
        live_publish("alpha", published, doc);
        json_t *got = expect_revision(fast, "alpha", published);
        ck_assert_int_eq(json_integer_value(json_object_get(got, "r")), published);
        json_decref(got);
    }
    ck_assert_msg(live_client_count() == 1, "the slow reader was kept through %ld revisions",
                  published);
    ck_assert_msg(ampd_now_seconds() - start < 20, "the fast tab was held up");
    /* The fast tab goes on. */
    live_publish("alpha", published + 1, "{}");
    json_decref(expect_revision(fast, "alpha", published + 1));
    /* The slow one finds its connection ended after what was buffered. */
    double deadline = ampd_now_seconds() + 10;
    Frame f = {0};
    do {
        frame_free(&f);
        f = client_next(slow, 1);
    } while (f.kind == WS_EVENT_MESSAGE && ampd_now_seconds() < deadline);
    ck_assert_msg(f.kind == GOT_EOF, "slow tab: kind %d", f.kind);
    frame_free(&f);
    free(doc);
    client_free(slow);
    client_free(fast);
}
END_TEST

START_TEST(test_many_clients)
{
    enum { TABS = 200 };
    static TestClient *tabs[TABS];
    for (int i = 0; i < TABS; i++)
        tabs[i] = client_open(i % 10 == 9 ? "other" : "crowd");
    wait_clients(TABS);
    for (int i = 0; i < TABS; i++)
        expect_current(tabs[i], 0, 0);
    live_publish("crowd", 1, "{\"crowd\":true}");
    for (int i = 0; i < TABS; i++) {
        if (i % 10 == 9)
            continue;
        json_decref(expect_revision(tabs[i], "crowd", 1));
    }
    for (int i = 0; i < TABS; i++) {
        Frame f = client_next(tabs[i], i % 10 == 9 ? 0.05 : 0);
        ck_assert_msg(f.kind == GOT_TIMEOUT, "tab %d got more (kind %d)", i, f.kind);
        frame_free(&f);
    }
    for (int i = 0; i < TABS; i++)
        client_free(tabs[i]);
    wait_clients(0);
}
END_TEST

/* ---- ampd --------------------------------------------------------------- */

/* Run build/ampd with `args`; its pid, and the bound port in *bound (0 when
 * it printed no banner within 10 s). */
static pid_t spawn_ampd(const char *const *args, unsigned *bound)
{
    return ampd_spawn(AMPD_PATH, args, bound, NULL, 0);
}

START_TEST(test_ampd_binary)
{
    unsigned bound;
    const char *bad[] = {"--port", "0", "--root", server.root, "--origin", "http://a/path", NULL};
    ck_assert_int_eq(ampd_exit_code(ampd_wait(spawn_ampd(bad, &bound), 10)), 2);
    const char *bad_scheme[] = {"--port", "0", "--root", server.root, "--origin", "ws://a", NULL};
    ck_assert_int_eq(ampd_exit_code(ampd_wait(spawn_ampd(bad_scheme, &bound), 10)), 2);

    const char *args[] = {"--port", "0", "--root", server.root, "--origin",
                          "http://allowed.example:5173", NULL};
    pid_t pid = spawn_ampd(args, &bound);
    ck_assert_uint_ne(bound, 0);
    /* Talk to it instead of the fixture's daemon. */
    unsigned saved = port;
    port = bound;
    snprintf(host_header, sizeof host_header, "127.0.0.1:%u", bound);
    snprintf(own_origin, sizeof own_origin, "http://127.0.0.1:%u", bound);
    const char *p = "/api/projects/alpha/live";
    /* Origins are checked, then the session: with no authorizer plugged
     * in, every upgrade is refused. */
    expect_refused("GET", p, "http://evil.example", "session=good", NULL, 403, "origin_refused");
    expect_refused("GET", p, "http://allowed.example:5173", "session=good", NULL, 403, "forbidden");
    expect_refused("GET", p, own_origin, "session=good", NULL, 403, "forbidden");
    expect_refused("HEAD", p, own_origin, "session=good", NULL, 405, NULL);
    port = saved;
    ck_assert_int_eq(ampd_exit_code(ampd_stop(pid, 10)), 0);
}
END_TEST

static Suite *live_suite(void)
{
    Suite *s = suite_create("live");
    TCase *handshake = tcase_create("handshake");
    tcase_add_checked_fixture(handshake, servers_setup, servers_teardown);
    tcase_set_timeout(handshake, 30);
    tcase_add_test(handshake, test_handshake);
    tcase_add_test(handshake, test_refusals);
    tcase_add_test(handshake, test_no_authorizer);
    tcase_add_test(handshake, test_first_frame_with_head);
    suite_add_tcase(s, handshake);

    TCase *messages = tcase_create("messages");
    tcase_add_checked_fixture(messages, servers_setup, servers_teardown);
    tcase_set_timeout(messages, 30);
    tcase_add_test(messages, test_fanout);
    tcase_add_test(messages, test_hello);
    tcase_add_test(messages, test_bad_messages);
    suite_add_tcase(s, messages);

    TCase *protocol = tcase_create("protocol");
    tcase_add_checked_fixture(protocol, servers_setup, servers_teardown);
    tcase_set_timeout(protocol, 30);
    tcase_add_test(protocol, test_ping_pong);
    tcase_add_test(protocol, test_close_handshake);
    tcase_add_test(protocol, test_oversize);
    tcase_add_test(protocol, test_protocol_errors);
    tcase_add_test(protocol, test_ping_timeout);
    tcase_add_test(protocol, test_stop_going_away);
    tcase_add_test(protocol, test_outlives_http_timeout);
    suite_add_tcase(s, protocol);

    TCase *load = tcase_create("load");
    tcase_add_checked_fixture(load, servers_setup, servers_teardown);
    tcase_set_timeout(load, 60);
    tcase_add_test(load, test_slow_reader);
    tcase_add_test(load, test_many_clients);
    suite_add_tcase(s, load);

    TCase *binary = tcase_create("ampd");
    tcase_add_checked_fixture(binary, servers_setup, servers_teardown);
    tcase_set_timeout(binary, 60);
    tcase_add_test(binary, test_ampd_binary);
    suite_add_tcase(s, binary);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return testutil_run(live_suite());
}
