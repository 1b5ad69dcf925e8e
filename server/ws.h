/* ws.h — the WebSocket protocol (RFC 6455), without any I/O.
 *
 * The opening handshake's checks and Sec-WebSocket-Accept, the Origin
 * policy, an incremental frame parser (feed it bytes as they arrive, in any
 * split, and take one event at a time) and a frame writer. live.c drives
 * them over sockets; tests/check_ws.c drives them over byte arrays.
 *
 * The parser enforces the receiving side of section 5: masking by role
 * (a server requires masked frames, a client unmasked ones), no reserved
 * bits (we negotiate no extensions), known opcodes only, control frames
 * unfragmented and at most 125 bytes, the minimal length encoding,
 * continuation frames only inside a fragmented message and data frames only
 * outside one, control frames allowed between fragments, caps on one
 * frame's payload and on a reassembled message (both 1009), text that is
 * UTF-8 across fragment boundaries (1007, reported as soon as a byte
 * cannot continue a valid sequence), and close frames with a valid code and
 * a UTF-8 reason (1002 / 1007).
 */
#ifndef AMPD_WS_H
#define AMPD_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sec-WebSocket-Key is 16 random bytes in base64; the accept value is the
 * base64 SHA-1 of the key and this GUID. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LENGTH 24
#define WS_ACCEPT_LENGTH 28
/* A control frame's payload, and the most a frame header takes. */
#define WS_CONTROL_MAX 125
#define WS_HEADER_MAX 14

typedef enum WsOpcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
} WsOpcode;

/* The status codes we send or name (section 7.4.1). */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005,   /* never on the wire: "the close frame had no code" */
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL_ERROR = 1011,
};

/* ---- the opening handshake ------------------------------------------- */

/* The request's relevant parts; NULL for an absent header. */
typedef struct WsHandshake {
    const char *method;
    const char *http_version; /* "HTTP/1.1" */
    const char *host;
    const char *upgrade;      /* must list the token "websocket" */
    const char *connection;   /* must list the token "Upgrade" */
    const char *key;          /* Sec-WebSocket-Key */
    const char *version;      /* Sec-WebSocket-Version, must be "13" */
} WsHandshake;

typedef enum WsHandshakeResult {
    WS_HANDSHAKE_OK,
    WS_HANDSHAKE_BAD_REQUEST, /* answer 400 */
    WS_HANDSHAKE_BAD_VERSION, /* answer 426 with Sec-WebSocket-Version: 13 */
} WsHandshakeResult;

/* Checks section 4.2.1; on failure *hint says what is wrong. */
WsHandshakeResult ws_handshake_check(const WsHandshake *request, const char **hint);

/* Sec-WebSocket-Accept for a key ws_handshake_check accepted: 28
 * characters and a NUL into `out`. */
void ws_accept_key(const char *key, char out[WS_ACCEPT_LENGTH + 1]);

/* True when the comma-separated header `value` lists `token` (ASCII case
 * ignored, spaces and tabs around items ignored). */
bool ws_header_has_token(const char *value, const char *token);

/* True for "http://HOST[:PORT]" or "https://..." with nothing after: the
 * shape of an Origin header and of the --origin option. */
bool ws_origin_valid(const char *origin);

/* The Origin policy: `origin` is one of `allowed` or is the server's own
 * origin as the request names it, "http://" or "https://" followed by the
 * Host header (a TLS proxy in front changes the scheme, not the host).
 * ASCII case is ignored. A missing Origin is refused: browsers always send
 * one on a WebSocket handshake. */
bool ws_origin_allowed(const char *origin, const char *host, const char *const *allowed,
                       size_t allowed_count);

/* ---- UTF-8 -------------------------------------------------------------- */

/* An incremental validator for well-formed UTF-8 (Unicode table 3-7: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
typedef struct WsUtf8 {
    uint8_t need;    /* continuation bytes still expected */
    uint8_t low;     /* the range the next continuation byte must be in */
    uint8_t high;
} WsUtf8;

/* False as soon as the bytes so far cannot begin valid UTF-8. */
bool ws_utf8_feed(WsUtf8 *state, const uint8_t *bytes, size_t len);
/* True when the bytes so far end on a character boundary. */
bool ws_utf8_complete(const WsUtf8 *state);
bool ws_utf8_valid(const void *bytes, size_t len);

/* ---- the frame parser --------------------------------------------------- */

typedef enum WsEventKind {
    WS_EVENT_NONE,    /* all bytes taken, nothing complete yet */
    WS_EVENT_MESSAGE, /* a whole text or binary message, reassembled */
    WS_EVENT_PING,
    WS_EVENT_PONG,
    WS_EVENT_CLOSE,   /* the peer's close frame; the parser takes no more */
    WS_EVENT_ERROR,   /* close with close_code; the parser takes no more */
} WsEventKind;

typedef struct WsEvent {
    WsEventKind kind;
    WsOpcode opcode;          /* MESSAGE: WS_OP_TEXT or WS_OP_BINARY */
    const uint8_t *data;      /* payload (close: the reason); valid until the next ws_parse */
    size_t len;
    uint16_t close_code;      /* CLOSE: the peer's code, or WS_CLOSE_NO_STATUS;
                                 ERROR: the code to close with */
    const char *hint;         /* ERROR: what was wrong, for logs and the close reason */
} WsEvent;

typedef enum WsParseState {
    WS_PARSE_HEADER,
    WS_PARSE_PAYLOAD,
    WS_PARSE_DONE, /* after a close frame or an error: input is ignored */
} WsParseState;

typedef struct WsParser {
    /* limits and role, fixed at init */
    size_t max_frame;         /* largest payload of one frame */
    size_t max_message;       /* largest reassembled message */
    bool expect_masked;       /* true on the server side */

    WsParseState state;
    uint8_t header[WS_HEADER_MAX];
    size_t header_len;        /* bytes of `header` received */
    size_t header_need;       /* bytes the header takes, once known (>= 2) */

    /* the frame being received */
    WsOpcode opcode;
    bool fin;
    uint8_t mask[4];
    bool masked;
    uint64_t payload_len;
    uint64_t payload_done;

    /* a control frame's payload */
    uint8_t control[WS_CONTROL_MAX];

    /* the data message being reassembled */
    bool in_message;          /* a first fragment came, the final one has not */
    WsOpcode message_opcode;
    uint8_t *message;         /* grows up to max_message */
    size_t message_len;
    size_t message_cap;
    bool message_delivered;   /* reset the message on the next call */
    WsUtf8 utf8;              /* across the fragments of a text message */
} WsParser;

void ws_parser_init(WsParser *parser, size_t max_frame, size_t max_message, bool expect_masked);
void ws_parser_free(WsParser *parser);

/* Take bytes from data[0, len) up to the end of the next complete event and
 * describe it in *event; returns the bytes taken. Call again with the rest
 * while bytes remain. An ERROR or CLOSE event is reported once; afterwards
 * every byte is taken and ignored. */
size_t ws_parse(WsParser *parser, const uint8_t *data, size_t len, WsEvent *event);

/* ---- the frame writer --------------------------------------------------- */

/* Bytes a frame header takes for this payload length. */
size_t ws_frame_header_size(uint64_t payload_len, bool masked);

/* Write one frame into `out` (ws_frame_header_size + len bytes): unmasked
 * when `mask` is NULL (a server's frames), else masked with those four
 * bytes (a client's). Returns the bytes written. */
size_t ws_frame_write(uint8_t *out, bool fin, WsOpcode opcode, const uint8_t *mask,
                      const void *payload, size_t len);

/* A close frame's payload: the code, big-endian, then as much of `reason`
 * as fits in WS_CONTROL_MAX (cut on a character boundary). Returns its
 * length (2 + the reason's). */
size_t ws_close_payload(uint8_t out[WS_CONTROL_MAX], uint16_t code, const char *reason);

/* True for a code a peer may send in a close frame. */
bool ws_close_code_valid(unsigned code);

#endif
