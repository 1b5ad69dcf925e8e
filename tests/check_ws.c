/* check_ws.c — the WebSocket protocol (server/ws.c), on byte arrays.
 *
 * "handshake": the request checks, the accept key (RFC 6455's own example),
 * header tokens, the Origin policy.
 * "utf8": the validator on every class of well- and ill-formed sequence.
 * "frames": the writer and the parser on 7-, 16- and 64-bit lengths, masked
 * and unmasked, fragments with pings between them, every close path, and one
 * stream of many frames split at every byte boundary and fed a byte at a time.
 * "errors": each way a frame is refused and the close code it gets.
 */
#include "testutil.h"
#include "ws.h"

#include <stdlib.h>
#include <string.h>

/* ---- handshake ---------------------------------------------------------- */

static WsHandshake good_request(void)
{
    WsHandshake h = {
        .method = "GET",
        .http_version = "HTTP/1.1",
        .host = "127.0.0.1:8080",
        .upgrade = "websocket",
        .connection = "Upgrade",
        .key = "dGhlIHNhbXBsZSBub25jZQ==",
        .version = "13",
    };
    return h;
}

START_TEST(test_handshake_accepts)
{
    const char *hint = NULL;
    WsHandshake h = good_request();
    ck_assert_int_eq(ws_handshake_check(&h, &hint), WS_HANDSHAKE_OK);
    h.upgrade = "WebSocket";
    h.connection = "keep-alive, Upgrade";
    ck_assert_int_eq(ws_handshake_check(&h, &hint), WS_HANDSHAKE_OK);
    h.upgrade = "foo/2, websocket ";
    h.connection = " upgrade\t,close";
    ck_assert_int_eq(ws_handshake_check(&h, &hint), WS_HANDSHAKE_OK);
}
END_TEST

START_TEST(test_handshake_refuses)
{
    struct {
        int field;
        const char *value;
        WsHandshakeResult want;
    } cases[] = {
        {0, "POST", WS_HANDSHAKE_BAD_REQUEST},
        {0, NULL, WS_HANDSHAKE_BAD_REQUEST},
        {1, "HTTP/1.0", WS_HANDSHAKE_BAD_REQUEST},
        {2, NULL, WS_HANDSHAKE_BAD_REQUEST},
        {2, "", WS_HANDSHAKE_BAD_REQUEST},
        {3, NULL, WS_HANDSHAKE_BAD_REQUEST},
        {3, "websockets", WS_HANDSHAKE_BAD_REQUEST},
        {3, "h2c", WS_HANDSHAKE_BAD_REQUEST},
        {4, NULL, WS_HANDSHAKE_BAD_REQUEST},
        {4, "keep-alive", WS_HANDSHAKE_BAD_REQUEST},
        {4, "Upgraded", WS_HANDSHAKE_BAD_REQUEST},
        {5, NULL, WS_HANDSHAKE_BAD_REQUEST},
        {5, "", WS_HANDSHAKE_BAD_REQUEST},
        {5, "dGhlIHNhbXBsZSBub25jZQ=", WS_HANDSHAKE_BAD_REQUEST},   /* 23 characters */
        {5, "dGhlIHNhbXBsZSBub25jZQ===", WS_HANDSHAKE_BAD_REQUEST}, /* 25 */
        {5, "dGhlIHNhbXBsZSBub25jZ!==", WS_HANDSHAKE_BAD_REQUEST},  /* not base64 */
        {5, "dGhlIHNhbXBsZSBub25jZQAA", WS_HANDSHAKE_BAD_REQUEST},  /* 18 bytes */
        {6, NULL, WS_HANDSHAKE_BAD_VERSION},
        {6, "8", WS_HANDSHAKE_BAD_VERSION},
        {6, "13, 8", WS_HANDSHAKE_BAD_VERSION},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        WsHandshake h = good_request();
        const char **field[] = {&h.method, &h.http_version, &h.host, &h.upgrade,
                                &h.connection, &h.key, &h.version};
        *field[cases[i].field] = cases[i].value;
        const char *hint = NULL;
        ck_assert_msg(ws_handshake_check(&h, &hint) == cases[i].want, "case %zu accepted", i);
        ck_assert_ptr_nonnull(hint);
    }
}
END_TEST

START_TEST(test_accept_key)
{
    char out[WS_ACCEPT_LENGTH + 1];
    /* RFC 6455, section 1.3. */
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* Another key, its value computed with sha1sum and base64. */
    ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out);
    ck_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}
END_TEST

START_TEST(test_header_tokens)
{
    ck_assert(ws_header_has_token("Upgrade", "upgrade"));
    ck_assert(ws_header_has_token("a, b ,c", "b"));
    ck_assert(ws_header_has_token(",,c", "c"));
    ck_assert(!ws_header_has_token("a, b ,c", "d"));
    ck_assert(!ws_header_has_token("ab", "a"));
    ck_assert(!ws_header_has_token("", "a"));
    ck_assert(!ws_header_has_token(NULL, "a"));
}
END_TEST

START_TEST(test_origins)
{
    static const char *const allowed[] = {"https://amplitude.example", "http://localhost:5173"};
    ck_assert(ws_origin_valid("http://a"));
    ck_assert(ws_origin_valid("https://a.b-c.d:443"));
    ck_assert(ws_origin_valid("http://[::1]:8080"));
    ck_assert(!ws_origin_valid("http://"));
    ck_assert(!ws_origin_valid("http://a/"));
    ck_assert(!ws_origin_valid("http://a:"));
    ck_assert(!ws_origin_valid("http://a:123456"));
    ck_assert(!ws_origin_valid("ftp://a"));
    ck_assert(!ws_origin_valid("null"));
    ck_assert(!ws_origin_valid("http://a b"));
    ck_assert(!ws_origin_valid("http://[zz]"));

    /* The listed origins, any case. */
    ck_assert(ws_origin_allowed("https://amplitude.example", "x", allowed, 2));
    ck_assert(ws_origin_allowed("HTTPS://Amplitude.Example", "x", allowed, 2));
    ck_assert(ws_origin_allowed("http://localhost:5173", NULL, allowed, 2));
    /* The Host's own origin, in either scheme. */
    ck_assert(ws_origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", NULL, 0));
    ck_assert(ws_origin_allowed("https://Example.org", "example.org", NULL, 0));
    /* Anything else. */
    ck_assert(!ws_origin_allowed("http://127.0.0.1:8081", "127.0.0.1:8080", NULL, 0));
    ck_assert(!ws_origin_allowed("http://evil.example", "127.0.0.1:8080", allowed, 2));
    ck_assert(!ws_origin_allowed("https://amplitude.example.evil", "x", allowed, 2));
    ck_assert(!ws_origin_allowed("http://amplitude.example", "x", allowed, 2));
    ck_assert(!ws_origin_allowed("null", "null", allowed, 2));
    ck_assert(!ws_origin_allowed(NULL, "127.0.0.1:8080", allowed, 2));
    ck_assert(!ws_origin_allowed("http://127.0.0.1:8080/", "127.0.0.1:8080", NULL, 0));
    ck_assert(!ws_origin_allowed("http://127.0.0.1:8080", NULL, NULL, 0));
}
END_TEST

/* ---- utf8 --------------------------------------------------------------- */

START_TEST(test_utf8)
{
    static const char *good[] = {
        "", "plain ascii", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x8e\xb9", "\xef\xbf\xbf",
        "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80", "\xc2\x80", "\xe0\xa0\x80",
        "\xf0\x90\x80\x80",
    };
    static const char *bad[] = {
        "\x80", "\xbf", "\xc0\x80", "\xc1\xbf",   /* lone continuation, overlong 2-byte */
        "\xe0\x80\x80", "\xe0\x9f\xbf",           /* overlong 3-byte */
        "\xed\xa0\x80", "\xed\xbf\xbf",           /* surrogates */
        "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",   /* overlong 4-byte */
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",   /* above U+10FFFF */
        "\xff", "\xfe", "\xc3\x28", "\xe2\x28\xa1", "\xe2\x82", "\xf0\x9f\x8e",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(ws_utf8_valid(good[i], strlen(good[i])), "refused good %zu", i);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!ws_utf8_valid(bad[i], strlen(bad[i])), "accepted bad %zu", i);

    /* Fed a byte at a time: incomplete in the middle, complete at the end. */
    const uint8_t *euro = (const uint8_t *)"\xe2\x82\xac";
    WsUtf8 s = {0};
    ck_assert(ws_utf8_feed(&s, euro, 1) && !ws_utf8_complete(&s));
    ck_assert(ws_utf8_feed(&s, euro + 1, 1) && !ws_utf8_complete(&s));
    ck_assert(ws_utf8_feed(&s, euro + 2, 1) && ws_utf8_complete(&s));
    /* Fails at the first byte that cannot continue. */
    WsUtf8 t = {0};
    ck_assert(ws_utf8_feed(&t, (const uint8_t *)"\xed", 1));
    ck_assert(!ws_utf8_feed(&t, (const uint8_t *)"\xa0", 1));
}
END_TEST

/* ---- frames: a stream builder and an event recorder --------------------- */

typedef struct ByteStream {
    uint8_t *data;
    size_t len, cap;
} ByteStream;

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Append one frame: masked with MASK when `masked`. */
static void put_frame(ByteStream *s, bool fin, unsigned opcode, bool masked, const void *payload,
                      size_t len)
{
    size_t need = s->len + WS_HEADER_MAX + len;
    if (need > s->cap) {
        s->cap = need * 2;
        s->data = realloc(s->data, s->cap);
    }
    s->len += ws_frame_write(s->data + s->len, fin, (WsOpcode)opcode, masked ? MASK : NULL,
                             payload, len);
}

/* Append raw bytes (hand-made headers). */
static void put_bytes(ByteStream *s, const void *bytes, size_t len)
{
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->data = realloc(s->data, s->cap);
    }
    memcpy(s->data + s->len, bytes, len);
    s->len += len;
}

/* What one event said, copied out of the parser. */
typedef struct Recorded {
    WsEventKind kind;
    WsOpcode opcode;
    uint16_t close_code;
    size_t len;
    uint8_t *data;
} Recorded;

typedef struct Recording {
    Recorded events[64];
    int count;
} Recording;

/* Feed `len` bytes, recording every event. */
static void feed(WsParser *p, Recording *rec, const uint8_t *data, size_t len)
{
    size_t at = 0;
    do {
        WsEvent ev;
        size_t used = ws_parse(p, data + at, len - at, &ev);
        ck_assert_uint_le(used, len - at);
        at += used;
        if (ev.kind == WS_EVENT_NONE) {
            ck_assert_uint_eq(at, len); /* NONE only when everything was taken */
            continue;
        }
        ck_assert_int_lt(rec->count, 64);
        Recorded *r = &rec->events[rec->count++];
        r->kind = ev.kind;
        r->opcode = ev.opcode;
        r->close_code = ev.close_code;
        r->len = ev.len;
        r->data = malloc(ev.len + 1);
        if (ev.len)
            memcpy(r->data, ev.data, ev.len);
        r->data[ev.len] = 0;
    } while (at < len);
}

static void recording_free(Recording *rec)
{
    for (int i = 0; i < rec->count; i++)
        free(rec->events[i].data);
    rec->count = 0;
}

/* Parse a whole stream in one piece (server role, 1 MiB limits). */
static void parse_all(const ByteStream *s, Recording *rec, size_t max_frame, size_t max_message,
                      bool server)
{
    WsParser p;
    ws_parser_init(&p, max_frame, max_message, server);
    feed(&p, rec, s->data, s->len);
    ws_parser_free(&p);
}

static void assert_same(const Recording *a, const Recording *b, const char *what, size_t split)
{
    ck_assert_msg(a->count == b->count, "%s at %zu: %d events, want %d", what, split, b->count,
                  a->count);
    for (int i = 0; i < a->count; i++) {
        ck_assert_int_eq(a->events[i].kind, b->events[i].kind);
        ck_assert_int_eq(a->events[i].opcode, b->events[i].opcode);
        ck_assert_int_eq(a->events[i].close_code, b->events[i].close_code);
        ck_assert_uint_eq(a->events[i].len, b->events[i].len);
        ck_assert_msg(memcmp(a->events[i].data, b->events[i].data, a->events[i].len) == 0,
                      "%s at %zu: event %d differs", what, split, i);
    }
}

/* ---- frames ------------------------------------------------------------- */

START_TEST(test_header_sizes)
{
    ck_assert_uint_eq(ws_frame_header_size(0, false), 2);
    ck_assert_uint_eq(ws_frame_header_size(125, false), 2);
    ck_assert_uint_eq(ws_frame_header_size(126, false), 4);
    ck_assert_uint_eq(ws_frame_header_size(65535, false), 4);
    ck_assert_uint_eq(ws_frame_header_size(65536, false), 10);
    ck_assert_uint_eq(ws_frame_header_size(0, true), 6);
    ck_assert_uint_eq(ws_frame_header_size(65536, true), 14);

    uint8_t out[16];
    ck_assert_uint_eq(ws_frame_write(out, true, WS_OP_TEXT, NULL, "Hi", 2), 4);
    ck_assert_mem_eq(out, "\x81\x02Hi", 4);
    /* RFC 6455 section 5.7: a masked "Hello". */
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    ck_assert_uint_eq(ws_frame_write(out, true, WS_OP_TEXT, key, "Hello", 5), 11);
    ck_assert_mem_eq(out, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    /* and its unfragmented and fragmented unmasked forms */
    ck_assert_uint_eq(ws_frame_write(out, false, WS_OP_TEXT, NULL, "Hel", 3), 5);
    ck_assert_mem_eq(out, "\x01\x03Hel", 5);
    ck_assert_uint_eq(ws_frame_write(out, true, WS_OP_CONTINUATION, NULL, "lo", 2), 4);
    ck_assert_mem_eq(out, "\x80\x02lo", 4);
    ck_assert_uint_eq(ws_frame_write(out, true, WS_OP_PING, NULL, "Hello", 5), 7);
    ck_assert_mem_eq(out, "\x89\x05Hello", 7);
}
END_TEST

START_TEST(test_lengths)
{
    /* 7-, 16- and 64-bit lengths at their edges, masked and unmasked. */
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    uint8_t *payload = malloc(70000);
    for (size_t i = 0; i < 70000; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    for (int masked = 0; masked < 2; masked++) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            ByteStream s = {0};
            put_frame(&s, true, WS_OP_BINARY, masked, payload, sizes[k]);
            ck_assert_uint_eq(s.len, ws_frame_header_size(sizes[k], masked) + sizes[k]);
            Recording rec = {0};
            parse_all(&s, &rec, 1 << 20, 1 << 20, masked);
            ck_assert_int_eq(rec.count, 1);
            ck_assert_int_eq(rec.events[0].kind, WS_EVENT_MESSAGE);
            ck_assert_int_eq(rec.events[0].opcode, WS_OP_BINARY);
            ck_assert_uint_eq(rec.events[0].len, sizes[k]);
            ck_assert(memcmp(rec.events[0].data, payload, sizes[k]) == 0);
            recording_free(&rec);
            free(s.data);
        }
    }
    free(payload);
}
END_TEST

/* A stream exercising every kind of event: messages in one frame and in
 * fragments (text split inside a character), pings and a pong between
 * fragments, empty frames, a 16-bit and a 64-bit frame, and a close. */
static ByteStream mixed_stream(size_t *big_start, size_t *big_end)
{
    ByteStream s = {0};
    put_frame(&s, true, WS_OP_TEXT, true, "{\"type\":\"hello\"}", 16);
    put_frame(&s, false, WS_OP_TEXT, true, "caf\xc3", 4);
    put_frame(&s, true, WS_OP_PING, true, "p1", 2);
    put_frame(&s, false, WS_OP_CONTINUATION, true, "\xa9 \xe2\x82", 4);
    put_frame(&s, true, WS_OP_PONG, true, "", 0);
    put_frame(&s, false, WS_OP_CONTINUATION, true, "", 0);
    put_frame(&s, true, WS_OP_CONTINUATION, true, "\xac!", 2);
    put_frame(&s, true, WS_OP_PING, true, "", 0);
    static uint8_t mid[300], big[66000];
    memset(mid, 'm', sizeof mid);
    memset(big, 0xb1, sizeof big);
    put_frame(&s, true, WS_OP_BINARY, true, mid, sizeof mid);
    *big_start = s.len + ws_frame_header_size(sizeof big, true);
    put_frame(&s, false, WS_OP_BINARY, true, big, sizeof big);
    *big_end = s.len;
    put_frame(&s, true, WS_OP_CONTINUATION, true, "end", 3);
    put_frame(&s, true, WS_OP_TEXT, true, "", 0);
    uint8_t close[WS_CONTROL_MAX];
    size_t n = ws_close_payload(close, 1000, "bye");
    put_frame(&s, true, WS_OP_CLOSE, true, close, n);
    put_frame(&s, true, WS_OP_TEXT, true, "after close", 11); /* ignored */
    return s;
}

START_TEST(test_mixed_stream)
{
    size_t big_start, big_end;
    ByteStream s = mixed_stream(&big_start, &big_end);
    Recording rec = {0};
    parse_all(&s, &rec, 1 << 20, 1 << 20, true);
    ck_assert_int_eq(rec.count, 9);
    Recorded *e = rec.events;
    ck_assert_int_eq(e[0].kind, WS_EVENT_MESSAGE);
    ck_assert_str_eq((char *)e[0].data, "{\"type\":\"hello\"}");
    ck_assert_int_eq(e[1].kind, WS_EVENT_PING);
    ck_assert_str_eq((char *)e[1].data, "p1");
    ck_assert_int_eq(e[2].kind, WS_EVENT_PONG);
    ck_assert_uint_eq(e[2].len, 0);
    ck_assert_int_eq(e[3].kind, WS_EVENT_MESSAGE);
    ck_assert_int_eq(e[3].opcode, WS_OP_TEXT);
    ck_assert_str_eq((char *)e[3].data, "caf\xc3\xa9 \xe2\x82\xac!");
    ck_assert_int_eq(e[4].kind, WS_EVENT_PING);
    ck_assert_int_eq(e[5].kind, WS_EVENT_MESSAGE);
    ck_assert_int_eq(e[5].opcode, WS_OP_BINARY);
    ck_assert_uint_eq(e[5].len, 300);
    ck_assert_int_eq(e[6].kind, WS_EVENT_MESSAGE);
    ck_assert_uint_eq(e[6].len, 66003);
    ck_assert_int_eq(e[6].data[65999], 0xb1);
    ck_assert_mem_eq(e[6].data + 66000, "end", 3);
    ck_assert_int_eq(e[7].kind, WS_EVENT_MESSAGE);
    ck_assert_uint_eq(e[7].len, 0);
    ck_assert_int_eq(e[8].kind, WS_EVENT_CLOSE);
    ck_assert_int_eq(e[8].close_code, 1000);
    ck_assert_str_eq((char *)e[8].data, "bye");
    recording_free(&rec);
    free(s.data);
}
END_TEST

START_TEST(test_every_split)
{
    /* The same events however the bytes arrive: in two pieces split at
     * every boundary, and one byte at a time. Inside the 66000-byte payload
     * (past its first and before its last 64 bytes) every 97th boundary
     * stands for the rest, which take the same path. */
    size_t big_start, big_end;
    ByteStream s = mixed_stream(&big_start, &big_end);
    Recording whole = {0};
    parse_all(&s, &whole, 1 << 20, 1 << 20, true);
    size_t splits = 0;
    for (size_t split = 0; split <= s.len; split++) {
        if (split > big_start + 64 && split + 64 < big_end && (split - big_start) % 97 != 0)
            continue;
        splits++;
        WsParser p;
        ws_parser_init(&p, 1 << 20, 1 << 20, true);
        Recording rec = {0};
        feed(&p, &rec, s.data, split);
        feed(&p, &rec, s.data + split, s.len - split);
        assert_same(&whole, &rec, "split", split);
        recording_free(&rec);
        ws_parser_free(&p);
    }
    WsParser p;
    ws_parser_init(&p, 1 << 20, 1 << 20, true);
    Recording rec = {0};
    for (size_t i = 0; i < s.len; i++)
        feed(&p, &rec, s.data + i, 1);
    assert_same(&whole, &rec, "bytewise", 0);
    ck_assert_uint_gt(splits, 1000);
    recording_free(&rec);
    ws_parser_free(&p);
    recording_free(&whole);
    free(s.data);
}
END_TEST

START_TEST(test_client_role)
{
    /* As a client (the test suites' side), frames must come unmasked. */
    ByteStream s = {0};
    put_frame(&s, true, WS_OP_TEXT, false, "from server", 11);
    Recording rec = {0};
    parse_all(&s, &rec, 1024, 1024, false);
    ck_assert_int_eq(rec.count, 1);
    ck_assert_str_eq((char *)rec.events[0].data, "from server");
    recording_free(&rec);
    put_frame(&s, true, WS_OP_TEXT, true, "masked", 6);
    parse_all(&s, &rec, 1024, 1024, false);
    ck_assert_int_eq(rec.count, 2);
    ck_assert_int_eq(rec.events[1].kind, WS_EVENT_ERROR);
    ck_assert_int_eq(rec.events[1].close_code, 1002);
    recording_free(&rec);
    free(s.data);
}
END_TEST

START_TEST(test_close_frames)
{
    struct {
        const char *payload;
        size_t len;
        WsEventKind kind;
        unsigned code;
    } cases[] = {
        {"", 0, WS_EVENT_CLOSE, WS_CLOSE_NO_STATUS},
        {"\x03\xe8", 2, WS_EVENT_CLOSE, 1000},
        {"\x03\xe9going", 7, WS_EVENT_CLOSE, 1001},
        {"\x03\xf3", 2, WS_EVENT_CLOSE, 1011},
        {"\x0b\xb8", 2, WS_EVENT_CLOSE, 3000},
        {"\x13\x87", 2, WS_EVENT_CLOSE, 4999},
        {"\x03", 1, WS_EVENT_ERROR, 1002},          /* one byte */
        {"\x03\xe7", 2, WS_EVENT_ERROR, 1002},      /* 999 */
        {"\x03\xec", 2, WS_EVENT_ERROR, 1002},      /* 1004 */
        {"\x03\xed", 2, WS_EVENT_ERROR, 1002},      /* 1005 */
        {"\x03\xee", 2, WS_EVENT_ERROR, 1002},      /* 1006 */
        {"\x03\xf7", 2, WS_EVENT_ERROR, 1002},      /* 1015 */
        {"\x07\xd0", 2, WS_EVENT_ERROR, 1002},      /* 2000 */
        {"\x13\x88", 2, WS_EVENT_ERROR, 1002},      /* 5000 */
        {"\x03\xe8\xff", 3, WS_EVENT_ERROR, 1007},  /* reason not UTF-8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ByteStream s = {0};
        put_frame(&s, true, WS_OP_CLOSE, true, cases[i].payload, cases[i].len);
        Recording rec = {0};
        parse_all(&s, &rec, 1024, 1024, true);
        ck_assert_msg(rec.count == 1 && rec.events[0].kind == cases[i].kind &&
                          rec.events[0].close_code == cases[i].code,
                      "close case %zu: kind %d code %u", i, rec.events[0].kind,
                      rec.events[0].close_code);
        recording_free(&rec);
        free(s.data);
    }
    /* The payload writer: a reason too long is cut on a character boundary. */
    uint8_t out[WS_CONTROL_MAX];
    ck_assert_uint_eq(ws_close_payload(out, 1009, NULL), 2);
    ck_assert_mem_eq(out, "\x03\xf1", 2);
    char reason[200];
    memset(reason, 'x', sizeof reason);
    memcpy(reason + 121, "\xe2\x82\xac", 3); /* a euro sign across byte 123 */
    reason[199] = 0;
    size_t n = ws_close_payload(out, 1000, reason);
    ck_assert_uint_eq(n, 2 + 121);
    ck_assert(ws_utf8_valid(out + 2, n - 2));
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

/* Parse `s` (server role, frame cap 1000, message cap 2000); the last
 * event must be an ERROR with `code`. */
static void assert_error(const ByteStream *s, unsigned code, const char *what)
{
    Recording rec = {0};
    parse_all(s, &rec, 1000, 2000, true);
    ck_assert_msg(rec.count >= 1, "%s: no event", what);
    Recorded *last = &rec.events[rec.count - 1];
    ck_assert_msg(last->kind == WS_EVENT_ERROR && last->close_code == code,
                  "%s: kind %d code %u, want error %u", what, last->kind, last->close_code, code);
    recording_free(&rec);
}

START_TEST(test_protocol_errors)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *what;
    } raw[] = {
        {"\x81\x05Hello", 7, "unmasked client frame"},
        {"\xc1\x80\0\0\0\0", 6, "RSV1 set"},
        {"\xa1\x80\0\0\0\0", 6, "RSV2 set"},
        {"\x91\x80\0\0\0\0", 6, "RSV3 set"},
        {"\x83\x80\0\0\0\0", 6, "opcode 3"},
        {"\x87\x80\0\0\0\0", 6, "opcode 7"},
        {"\x8b\x80\0\0\0\0", 6, "opcode 0xB"},
        {"\x8f\x80\0\0\0\0", 6, "opcode 0xF"},
        {"\x09\x80\0\0\0\0", 6, "fragmented ping"},
        {"\x88\xfe\x00\x7e", 4, "close of 126 bytes"},
        {"\x89\xfe\x00\x7e", 4, "ping of 126 bytes"},
        {"\x80\x80\0\0\0\0", 6, "continuation with no message"},
        {"\x82\xfe\x00\x05\0\0\0\0", 8, "16-bit length for 5 bytes"},
        {"\x82\xff\0\0\0\0\0\0\xff\xff\0\0\0\0", 14, "64-bit length for 65535 bytes"},
        {"\x82\xff\x80\0\0\0\0\0\0\0\0\0\0\0", 14, "64-bit length with the top bit set"},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        ByteStream s = {0};
        put_bytes(&s, raw[i].bytes, raw[i].len);
        assert_error(&s, 1002, raw[i].what);
        free(s.data);
    }
    /* A new data frame inside a fragmented message. */
    ByteStream s = {0};
    put_frame(&s, false, WS_OP_TEXT, true, "a", 1);
    put_frame(&s, true, WS_OP_TEXT, true, "b", 1);
    assert_error(&s, 1002, "text inside a message");
    free(s.data);
    /* Anything after the error is ignored. */
    WsParser p;
    ws_parser_init(&p, 100, 100, true);
    WsEvent ev;
    ck_assert_uint_eq(ws_parse(&p, (const uint8_t *)"\x81\x01x", 3, &ev), 2);
    ck_assert_int_eq(ev.kind, WS_EVENT_ERROR);
    ck_assert_ptr_nonnull(ev.hint);
    ck_assert_uint_eq(ws_parse(&p, (const uint8_t *)"\x89\x80\0\0\0\0", 6, &ev), 6);
    ck_assert_int_eq(ev.kind, WS_EVENT_NONE);
    ws_parser_free(&p);
}
END_TEST

START_TEST(test_size_caps)
{
    static uint8_t payload[3000];
    memset(payload, 'a', sizeof payload);
    /* One frame over the frame cap: refused from its header alone. */
    ByteStream s = {0};
    put_frame(&s, true, WS_OP_TEXT, true, payload, 1001);
    WsParser p;
    ws_parser_init(&p, 1000, 2000, true);
    WsEvent ev;
    ck_assert_uint_eq(ws_parse(&p, s.data, 8, &ev), 8); /* header: 2 + 2 + 4 */
    ck_assert_int_eq(ev.kind, WS_EVENT_ERROR);
    ck_assert_int_eq(ev.close_code, 1009);
    ws_parser_free(&p);
    free(s.data);
    /* A 64-bit length far over the cap. */
    s = (ByteStream){0};
    put_bytes(&s, "\x82\xff\0\0\0\x01\0\0\0\0\1\2\3\4", 14);
    assert_error(&s, 1009, "4 GiB frame");
    free(s.data);
    /* Exactly at the caps is fine. */
    s = (ByteStream){0};
    put_frame(&s, false, WS_OP_TEXT, true, payload, 1000);
    put_frame(&s, true, WS_OP_CONTINUATION, true, payload, 1000);
    Recording rec = {0};
    parse_all(&s, &rec, 1000, 2000, true);
    ck_assert_int_eq(rec.count, 1);
    ck_assert_uint_eq(rec.events[0].len, 2000);
    recording_free(&rec);
    /* One byte more across fragments is refused at the third header. */
    put_frame(&s, false, WS_OP_TEXT, true, payload, 1000);
    put_frame(&s, false, WS_OP_CONTINUATION, true, payload, 1000);
    put_frame(&s, true, WS_OP_CONTINUATION, true, payload, 1);
    assert_error(&s, 1009, "message over the cap");
    free(s.data);
    /* Control frames between fragments do not count towards the message. */
    s = (ByteStream){0};
    put_frame(&s, false, WS_OP_BINARY, true, payload, 1000);
    put_frame(&s, true, WS_OP_PING, true, payload, 125);
    put_frame(&s, true, WS_OP_CONTINUATION, true, payload, 1000);
    parse_all(&s, &rec, 1000, 2000, true);
    ck_assert_int_eq(rec.count, 2);
    ck_assert_int_eq(rec.events[0].kind, WS_EVENT_PING);
    ck_assert_uint_eq(rec.events[0].len, 125);
    ck_assert_uint_eq(rec.events[1].len, 2000);
    recording_free(&rec);
    free(s.data);
}
END_TEST

START_TEST(test_bad_utf8)
{
    /* In one frame. */
    ByteStream s = {0};
    put_frame(&s, true, WS_OP_TEXT, true, "ok \xff", 4);
    assert_error(&s, 1007, "0xff in text");
    free(s.data);
    /* Split across fragments: each fragment alone is a valid prefix, the
     * second cannot continue the first. */
    s = (ByteStream){0};
    put_frame(&s, false, WS_OP_TEXT, true, "a\xe2\x82", 3);
    put_frame(&s, true, WS_OP_CONTINUATION, true, "(", 1);
    assert_error(&s, 1007, "broken sequence across fragments");
    free(s.data);
    /* A message that ends inside a character, its fragments each valid so far. */
    s = (ByteStream){0};
    put_frame(&s, false, WS_OP_TEXT, true, "a", 1);
    put_frame(&s, true, WS_OP_CONTINUATION, true, "\xf0\x9f", 2);
    assert_error(&s, 1007, "truncated character");
    free(s.data);
    /* Fail fast: refused at the bad byte, before the frame ends. */
    s = (ByteStream){0};
    put_frame(&s, true, WS_OP_TEXT, true, "\xc0xxxxxxxxxxxxxxxxxxxxxx", 23);
    WsParser p;
    ws_parser_init(&p, 1000, 1000, true);
    WsEvent ev;
    ws_parse(&p, s.data, 7, &ev); /* the header and the first byte */
    ck_assert_int_eq(ev.kind, WS_EVENT_ERROR);
    ck_assert_int_eq(ev.close_code, 1007);
    ws_parser_free(&p);
    free(s.data);
    /* Binary messages are not checked. */
    s = (ByteStream){0};
    put_frame(&s, true, WS_OP_BINARY, true, "\xff\xfe", 2);
    Recording rec = {0};
    parse_all(&s, &rec, 1000, 1000, true);
    ck_assert_int_eq(rec.events[0].kind, WS_EVENT_MESSAGE);
    recording_free(&rec);
    free(s.data);
}
END_TEST

static Suite *ws_suite(void)
{
    Suite *s = suite_create("ws");
    TCase *handshake = tcase_create("handshake");
    tcase_add_test(handshake, test_handshake_accepts);
    tcase_add_test(handshake, test_handshake_refuses);
    tcase_add_test(handshake, test_accept_key);
    tcase_add_test(handshake, test_header_tokens);
    tcase_add_test(handshake, test_origins);
    suite_add_tcase(s, handshake);

    TCase *utf8 = tcase_create("utf8");
    tcase_add_test(utf8, test_utf8);
    suite_add_tcase(s, utf8);

    TCase *frames = tcase_create("frames");
    tcase_set_timeout(frames, 60);
    tcase_add_test(frames, test_header_sizes);
    tcase_add_test(frames, test_lengths);
    tcase_add_test(frames, test_mixed_stream);
    tcase_add_test(frames, test_every_split);
    tcase_add_test(frames, test_client_role);
    tcase_add_test(frames, test_close_frames);
    suite_add_tcase(s, frames);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_protocol_errors);
    tcase_add_test(errors, test_size_caps);
    tcase_add_test(errors, test_bad_utf8);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return testutil_run(ws_suite());
}
