/* ws.c — the WebSocket protocol (RFC 6455): handshake checks, the accept
 * key, the Origin policy, UTF-8 validation, the frame parser and writer.
 *
 * Nothing here does I/O or keeps global state; the parser owns only its
 * reassembly buffer. See ws.h for what each check answers.
 */
#include "ws.h"

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the opening handshake ------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

bool ws_header_has_token(const char *value, const char *token)
{
    if (!value)
        return false;
    size_t token_len = strlen(token);
    const char *p = value;
    for (;;) {
        while (is_space(*p) || *p == ',')
            p++;
        if (!*p)
            return false;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && is_space(end[-1]))
            end--;
        if ((size_t)(end - start) == token_len && strncasecmp(start, token, token_len) == 0)
            return true;
    }
}

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* 16 bytes in base64: 22 characters and "==". */
static bool key_valid(const char *key)
{
    if (strlen(key) != WS_KEY_LENGTH || strcmp(key + 22, "==") != 0)
        return false;
    for (int i = 0; i < 22; i++)
        if (!is_base64_char(key[i]))
            return false;
    uint8_t decoded[BASE64_DECODE_LENGTH(WS_KEY_LENGTH)];
    size_t decoded_len = sizeof decoded;
    struct base64_decode_ctx ctx;
    base64_decode_init(&ctx);
    return base64_decode_update(&ctx, &decoded_len, decoded, WS_KEY_LENGTH, key) &&
           base64_decode_final(&ctx) && decoded_len == 16;
}

WsHandshakeResult ws_handshake_check(const WsHandshake *request, const char **hint)
{
    if (!request->method || strcmp(request->method, "GET") != 0) {
        *hint = "a WebSocket handshake is a GET request";
        return WS_HANDSHAKE_BAD_REQUEST;
    }
    if (!request->http_version || strcmp(request->http_version, "HTTP/1.1") != 0) {
        *hint = "a WebSocket handshake needs HTTP/1.1";
        return WS_HANDSHAKE_BAD_REQUEST;
    }
    if (!request->host || !*request->host) {
        *hint = "the Host header is missing";
        return WS_HANDSHAKE_BAD_REQUEST;
    }
    if (!ws_header_has_token(request->upgrade, "websocket")) {
        *hint = "the Upgrade header must name websocket";
        return WS_HANDSHAKE_BAD_REQUEST;
    }
    if (!ws_header_has_token(request->connection, "Upgrade")) {
        *hint = "the Connection header must name Upgrade";
        return WS_HANDSHAKE_BAD_REQUEST;
    }
    if (!request->key || !key_valid(request->key)) {
        *hint = "Sec-WebSocket-Key must be 16 bytes in base64";
        return WS_HANDSHAKE_BAD_REQUEST;
    }
    if (!request->version || strcmp(request->version, "13") != 0) {
        *hint = "only WebSocket version 13 is supported";
        return WS_HANDSHAKE_BAD_VERSION;
    }
    return WS_HANDSHAKE_OK;
}

void ws_accept_key(const char *key, char out[WS_ACCEPT_LENGTH + 1])
{
    struct sha1_ctx ctx;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_update(&ctx, strlen(key), (const uint8_t *)key);
    sha1_update(&ctx, strlen(WS_GUID), (const uint8_t *)WS_GUID);
    sha1_digest(&ctx, sizeof digest, digest);
    /* 20 bytes encode to exactly 28 characters, padding included. */
    base64_encode_raw(out, sizeof digest, digest);
    out[WS_ACCEPT_LENGTH] = '\0';
}

/* ---- origins ------------------------------------------------------------ */

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-';
}

bool ws_origin_valid(const char *origin)
{
    const char *p;
    if (strncasecmp(origin, "http://", 7) == 0)
        p = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        p = origin + 8;
    else
        return false;
    const char *host = p;
    if (*p == '[') { /* an IPv6 literal */
        p++;
        while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') ||
               *p == ':' || *p == '.')
            p++;
        if (*p != ']' || p == host + 1)
            return false;
        p++;
    } else {
        while (is_host_char(*p))
            p++;
        if (p == host)
            return false;
    }
    if (*p == ':') {
        const char *port = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == port || p - port > 5)
            return false;
    }
    return *p == '\0';
}

/* `origin` is "SCHEME://" + host, for SCHEME http or https. */
static bool origin_names_host(const char *origin, const char *host)
{
    const char *rest = NULL;
    if (strncasecmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    return rest && *rest && strcasecmp(rest, host) == 0;
}

bool ws_origin_allowed(const char *origin, const char *host, const char *const *allowed,
                       size_t allowed_count)
{
    if (!origin || !ws_origin_valid(origin))
        return false;
    for (size_t i = 0; i < allowed_count; i++)
        if (strcasecmp(origin, allowed[i]) == 0)
            return true;
    return host && origin_names_host(origin, host);
}

/* ---- UTF-8 -------------------------------------------------------------- */

bool ws_utf8_feed(WsUtf8 *state, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = bytes[i];
        if (state->need) {
            if (b < state->low || b > state->high)
                return false;
            state->need--;
            state->low = 0x80;
            state->high = 0xBF;
            continue;
        }
        if (b < 0x80)
            continue;
        /* A lead byte: how many continuation bytes follow, and the range
         * of the first one (which rules out overlong forms, surrogates and
         * code points above U+10FFFF). */
        state->low = 0x80;
        state->high = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            state->need = 1;
        } else if (b == 0xE0) {
            state->need = 2;
            state->low = 0xA0;
        } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
            state->need = 2;
        } else if (b == 0xED) {
            state->need = 2;
            state->high = 0x9F;
        } else if (b == 0xF0) {
            state->need = 3;
            state->low = 0x90;
        } else if (b >= 0xF1 && b <= 0xF3) {
            state->need = 3;
        } else if (b == 0xF4) {
            state->need = 3;
            state->high = 0x8F;
        } else {
            return false; /* 0x80-0xC1 as a lead, 0xF5-0xFF */
        }
    }
    return true;
}

bool ws_utf8_complete(const WsUtf8 *state)
{
    return state->need == 0;
}

bool ws_utf8_valid(const void *bytes, size_t len)
{
    WsUtf8 state = {0};
    return ws_utf8_feed(&state, bytes, len) && ws_utf8_complete(&state);
}

/* ---- close codes -------------------------------------------------------- */

bool ws_close_code_valid(unsigned code)
{
    /* 1004 is reserved; 1005, 1006 and 1015 only stand for "none" locally;
     * 1016-2999 are reserved for future use; 3000-4999 belong to libraries
     * and applications. */
    if (code >= 1000 && code <= 1003)
        return true;
    if (code >= 1007 && code <= 1014)
        return true;
    return code >= 3000 && code <= 4999;
}

size_t ws_close_payload(uint8_t out[WS_CONTROL_MAX], uint16_t code, const char *reason)
{
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t len = reason ? strlen(reason) : 0;
    if (len > WS_CONTROL_MAX - 2) {
        len = WS_CONTROL_MAX - 2;
        while (len > 0 && ((uint8_t)reason[len] & 0xC0) == 0x80)
            len--; /* do not cut a character in two */
    }
    if (len)
        memcpy(out + 2, reason, len);
    return 2 + len;
}

/* ---- the frame writer --------------------------------------------------- */

size_t ws_frame_header_size(uint64_t payload_len, bool masked)
{
    size_t size = 2;
    if (payload_len > 0xFFFF)
        size += 8;
    else if (payload_len > 125)
        size += 2;
    return size + (masked ? 4 : 0);
}

size_t ws_frame_write(uint8_t *out, bool fin, WsOpcode opcode, const uint8_t *mask,
                      const void *payload, size_t len)
{
    size_t at = 0;
    out[at++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    uint8_t mask_bit = mask ? 0x80 : 0;
    uint64_t n = len;
    if (n > 0xFFFF) {
        out[at++] = mask_bit | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            out[at++] = (uint8_t)(n >> shift);
    } else if (n > 125) {
        out[at++] = mask_bit | 126;
        out[at++] = (uint8_t)(n >> 8);
        out[at++] = (uint8_t)n;
    } else {
        out[at++] = mask_bit | (uint8_t)n;
    }
    const uint8_t *src = payload;
    if (mask) {
        memcpy(out + at, mask, 4);
        at += 4;
        for (size_t i = 0; i < len; i++)
            out[at + i] = src[i] ^ mask[i & 3];
    } else if (len) {
        memcpy(out + at, src, len);
    }
    return at + len;
}

/* ---- the frame parser --------------------------------------------------- */

void ws_parser_init(WsParser *parser, size_t max_frame, size_t max_message, bool expect_masked)
{
    memset(parser, 0, sizeof *parser);
    parser->max_frame = max_frame;
    parser->max_message = max_message;
    parser->expect_masked = expect_masked;
    parser->state = WS_PARSE_HEADER;
    parser->header_need = 2;
}

void ws_parser_free(WsParser *parser)
{
    free(parser->message);
    parser->message = NULL;
    parser->message_cap = parser->message_len = 0;
}

static bool is_control(WsOpcode op)
{
    return op >= WS_OP_CLOSE;
}

static size_t fail(WsParser *parser, WsEvent *event, uint16_t code, const char *hint, size_t used)
{
    parser->state = WS_PARSE_DONE;
    event->kind = WS_EVENT_ERROR;
    event->close_code = code;
    event->hint = hint;
    return used;
}

/* Checks that need only the first two bytes, so that a bad frame is
 * refused before its length or payload arrives. NULL when fine. */
static const char *check_first_bytes(const WsParser *parser, uint8_t b0, uint8_t b1)
{
    WsOpcode op = (WsOpcode)(b0 & 0x0F);
    if (b0 & 0x70)
        return "reserved bits set without an extension";
    if (!(op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG)))
        return "reserved opcode";
    if (is_control(op) && !(b0 & 0x80))
        return "fragmented control frame";
    if (is_control(op) && (b1 & 0x7F) > WS_CONTROL_MAX)
        return "control frame longer than 125 bytes";
    if (op == WS_OP_CONTINUATION && !parser->in_message)
        return "continuation frame outside a fragmented message";
    if ((op == WS_OP_TEXT || op == WS_OP_BINARY) && parser->in_message)
        return "new data frame inside a fragmented message";
    bool masked = (b1 & 0x80) != 0;
    if (masked != parser->expect_masked)
        return parser->expect_masked ? "client frames must be masked"
                                     : "server frames must not be masked";
    return NULL;
}

/* The whole header is in: decode the length and mask, check the limits
 * and make room for the payload. Returns 0, or the close code. */
static uint16_t start_payload(WsParser *parser, const char **hint)
{
    const uint8_t *h = parser->header;
    parser->fin = (h[0] & 0x80) != 0;
    parser->opcode = (WsOpcode)(h[0] & 0x0F);
    parser->masked = (h[1] & 0x80) != 0;
    uint64_t len = h[1] & 0x7F;
    size_t at = 2;
    if (len == 126) {
        len = ((uint64_t)h[2] << 8) | h[3];
        at = 4;
        if (len < 126) {
            *hint = "length not in its shortest encoding";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | h[2 + i];
        at = 10;
        if (len >> 63) {
            *hint = "64-bit length with the high bit set";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
        if (len <= 0xFFFF) {
            *hint = "length not in its shortest encoding";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
    }
    if (parser->masked)
        memcpy(parser->mask, h + at, 4);
    parser->payload_len = len;
    parser->payload_done = 0;
    if (is_control(parser->opcode))
        return 0;
    if (len > parser->max_frame) {
        *hint = "frame larger than the server accepts";
        return WS_CLOSE_TOO_BIG;
    }
    if (parser->opcode != WS_OP_CONTINUATION) {
        parser->in_message = true;
        parser->message_opcode = parser->opcode;
        parser->message_len = 0;
        memset(&parser->utf8, 0, sizeof parser->utf8);
    }
    if (len > parser->max_message - parser->message_len) {
        *hint = "message larger than the server accepts";
        return WS_CLOSE_TOO_BIG;
    }
    size_t need = parser->message_len + (size_t)len;
    if (need > parser->message_cap) {
        size_t cap = parser->message_cap ? parser->message_cap : 256;
        while (cap < need)
            cap *= 2;
        if (cap > parser->max_message)
            cap = parser->max_message;
        uint8_t *grown = realloc(parser->message, cap);
        if (!grown) {
            *hint = "out of memory";
            return WS_CLOSE_INTERNAL_ERROR;
        }
        parser->message = grown;
        parser->message_cap = cap;
    }
    return 0;
}

/* A control frame is complete: fill in its event. Returns 0, or a close
 * code for a bad close frame. */
static uint16_t finish_control(WsParser *parser, WsEvent *event, const char **hint)
{
    size_t len = (size_t)parser->payload_len;
    event->data = parser->control;
    event->len = len;
    if (parser->opcode == WS_OP_PING) {
        event->kind = WS_EVENT_PING;
        return 0;
    }
    if (parser->opcode == WS_OP_PONG) {
        event->kind = WS_EVENT_PONG;
        return 0;
    }
    if (len == 1) {
        *hint = "close frame with a one-byte payload";
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    event->close_code = WS_CLOSE_NO_STATUS;
    if (len >= 2) {
        unsigned code = ((unsigned)parser->control[0] << 8) | parser->control[1];
        if (!ws_close_code_valid(code)) {
            *hint = "invalid close code";
            return WS_CLOSE_PROTOCOL_ERROR;
        }
        if (!ws_utf8_valid(parser->control + 2, len - 2)) {
            *hint = "close reason is not UTF-8";
            return WS_CLOSE_INVALID_DATA;
        }
        event->close_code = (uint16_t)code;
        event->data = parser->control + 2;
        event->len = len - 2;
    }
    event->kind = WS_EVENT_CLOSE;
    parser->state = WS_PARSE_DONE;
    return 0;
}

/* Unmask payload bytes into their place; check text as it arrives. */
static uint16_t take_payload(WsParser *parser, const uint8_t *src, size_t n, const char **hint)
{
    uint8_t *dst = is_control(parser->opcode) ? parser->control + parser->payload_done
                                              : parser->message + parser->message_len;
    uint64_t pos = parser->payload_done;
    if (parser->masked) {
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i] ^ parser->mask[(pos + i) & 3];
    } else {
        memcpy(dst, src, n);
    }
    parser->payload_done += n;
    if (is_control(parser->opcode))
        return 0;
    parser->message_len += n;
    if (parser->message_opcode == WS_OP_TEXT && !ws_utf8_feed(&parser->utf8, dst, n)) {
        *hint = "text message is not UTF-8";
        return WS_CLOSE_INVALID_DATA;
    }
    return 0;
}

size_t ws_parse(WsParser *parser, const uint8_t *data, size_t len, WsEvent *event)
{
    memset(event, 0, sizeof *event);
    if (parser->message_delivered) {
        parser->message_delivered = false;
        parser->message_len = 0;
    }
    if (parser->state == WS_PARSE_DONE)
        return len;
    size_t used = 0;
    const char *hint = NULL;
    uint16_t code;
    for (;;) {
        if (parser->state == WS_PARSE_HEADER) {
            while (parser->header_len < parser->header_need && used < len)
                parser->header[parser->header_len++] = data[used++];
            if (parser->header_len < parser->header_need)
                return used;
            if (parser->header_need == 2) {
                uint8_t b0 = parser->header[0], b1 = parser->header[1];
                if ((hint = check_first_bytes(parser, b0, b1)))
                    return fail(parser, event, WS_CLOSE_PROTOCOL_ERROR, hint, used);
                uint8_t n = b1 & 0x7F;
                parser->header_need = 2 + (n == 126 ? 2 : n == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
                if (parser->header_len < parser->header_need)
                    continue;
            }
            if ((code = start_payload(parser, &hint)))
                return fail(parser, event, code, hint, used);
            parser->state = WS_PARSE_PAYLOAD;
        }
        uint64_t left = parser->payload_len - parser->payload_done;
        size_t n = left < len - used ? (size_t)left : len - used;
        if (n && (code = take_payload(parser, data + used, n, &hint)))
            return fail(parser, event, code, hint, used + n);
        used += n;
        if (parser->payload_done < parser->payload_len)
            return used;

        /* The frame is complete. */
        parser->state = WS_PARSE_HEADER;
        parser->header_len = 0;
        parser->header_need = 2;
        if (is_control(parser->opcode)) {
            if ((code = finish_control(parser, event, &hint)))
                return fail(parser, event, code, hint, used);
            return used;
        }
        if (!parser->fin)
            continue;
        if (parser->message_opcode == WS_OP_TEXT && !ws_utf8_complete(&parser->utf8))
            return fail(parser, event, WS_CLOSE_INVALID_DATA, "text message ends inside a character",
                        used);
        parser->in_message = false;
        parser->message_delivered = true;
        event->kind = WS_EVENT_MESSAGE;
        event->opcode = parser->message_opcode;
        event->data = parser->message;
        event->len = parser->message_len;
        return used;
    }
}
