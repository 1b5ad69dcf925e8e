/* live.c — the live-updates hub: the WebSocket upgrade of
 * GET /api/projects/{id}/live, one event loop over every upgraded socket,
 * subscriptions by project, and live_publish. The protocol is in live.h
 * and LIVE.md; the framing in ws.c.
 *
 * Threading contract:
 * - One loop thread owns every LiveClient and LiveTopic: sockets, parsers,
 *   output queues, subscriptions. No other thread touches them.
 * - Other threads reach it only through the inbox, a list of LiveMessage
 *   under hub.lock, and an eventfd that wakes the loop's epoll_wait:
 *   live_publish (any thread) posts PUBLISH; live_upgrade (libmicrohttpd's
 *   threads) posts PIN and SEED; the upgrade callback posts CLIENT.
 * - hub.lock also guards the handoffs (upgrades answered 101 whose socket
 *   has not arrived yet) and hub.open (between live_start and live_stop).
 * - Counters read by other threads are atomics; each says what it orders.
 *
 * Life of a tab: live_upgrade checks the handshake, the Origin and the
 * session, registers a handoff and pins the project's topic (so that a
 * save committed from now on is cached even before the socket arrives),
 * loads the latest revision if it can (SEED), and queues the 101 response.
 * libmicrohttpd then calls upgrade_done with the socket, which becomes a
 * CLIENT message; the loop subscribes it (the pin becomes a subscription).
 * A handoff whose socket never comes (the client went away before the 101
 * was sent) expires and unpins. Each PIN is matched by exactly one CLIENT
 * or UNPIN, and a topic lives while it has subscribers or pins.
 *
 * Output: each frame is built once in a LiveBuffer shared by every queue
 * that sends it. Sockets are non-blocking; a queue over max_queue bytes
 * drops its client at once (a slow reader never holds memory or the loop).
 * Closing: the side that closes first queues a close frame; once it is
 * sent, the write side is shut and the loop waits close_ms for the other
 * side's close frame or EOF; the socket is then handed back to
 * libmicrohttpd (MHD_upgrade_action CLOSE), which closes it.
 */
#include "live.h"
#include "ws.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define TOPIC_BUCKETS 256
#define LOOP_TICK_MS 100       /* timers (close deadlines, pings, expiry) run this often */
#define HANDOFF_EXPIRE_MS 30000
#define READ_CHUNK 16384

/* One frame, built once, shared by every output queue that sends it. */
typedef struct LiveBuffer {
    /* Taken and dropped by the loop thread, and by a publisher before it
     * posts the buffer; the last drop frees (acq_rel orders the frees). */
    atomic_size_t refs;
    size_t len;
    uint8_t bytes[];
} LiveBuffer;

typedef struct LiveChunk {
    struct LiveChunk *next;
    LiveBuffer *buffer;
} LiveChunk;

typedef enum LiveClientState {
    CLIENT_OPEN,
    CLIENT_CLOSING,   /* our close frame is queued, not yet sent */
    CLIENT_LINGER,    /* our close frame is sent and our side shut */
    CLIENT_DEAD,      /* on the reap list */
} LiveClientState;

typedef struct LiveClient {
    int fd;
    struct MHD_UpgradeResponseHandle *urh;
    struct LiveTopic *topic;
    struct LiveClient *topic_prev, *topic_next; /* the topic's subscribers */
    struct LiveClient *prev, *next;             /* every client, or the reap list */
    WsParser parser;
    LiveClientState state;
    bool peer_closed;        /* the tab's close frame came */
    bool want_write;         /* EPOLLOUT is registered */
    bool ping_outstanding;   /* pinged, nothing heard since */
    LiveChunk *out_head, *out_tail;
    size_t out_offset;       /* bytes of out_head already sent */
    size_t out_bytes;        /* unsent bytes in the queue */
    uint64_t deadline_ms;    /* CLOSING / LINGER: give up then */
    uint64_t heard_ms;       /* when the tab last sent anything */
} LiveClient;

typedef struct LiveTopic {
    char id[LIVE_PROJECT_ID_MAX + 1];
    long revision;           /* latest known, -1 for none */
    LiveBuffer *latest;      /* its "revision" frame */
    LiveClient *subscribers;
    unsigned pins;           /* upgrades on their way */
    struct LiveTopic *next;  /* in its bucket */
} LiveTopic;

typedef enum LiveMessageKind {
    MSG_PIN,      /* an upgrade is on its way */
    MSG_UNPIN,    /* ... and will not come */
    MSG_SEED,     /* the stored latest revision: cache it, do not send it */
    MSG_PUBLISH,  /* a committed save: cache it and send it */
    MSG_CLIENT,   /* an upgraded socket */
} LiveMessageKind;

typedef struct LiveMessage {
    LiveMessageKind kind;
    struct LiveMessage *next;
    char project[LIVE_PROJECT_ID_MAX + 1];
    long revision;                 /* SEED, PUBLISH */
    LiveBuffer *frame;             /* SEED, PUBLISH */
    /* CLIENT; while it waits in the handoffs, handoff_id and created_ms */
    uint64_t handoff_id;
    uint64_t created_ms;
    int fd;
    struct MHD_UpgradeResponseHandle *urh;
    uint8_t *extra;                /* bytes libmicrohttpd read past the head */
    size_t extra_len;
} LiveMessage;

static struct {
    LiveConfig config;
    char **origins;                /* the config's, copied; kept after live_stop */
    size_t origin_count;
    pthread_t thread;
    int epoll_fd, wake_fd;
    bool running;                  /* main thread only: the thread exists */

    pthread_mutex_t lock;          /* guards the fields below, up to the loop's */
    bool open;                     /* posts and handoffs are taken */
    LiveMessage *inbox_head, *inbox_tail;
    LiveMessage *handoffs;
    uint64_t next_handoff_id;

    /* Upgrades admitted and not yet closed (handoffs and clients): a
     * counter only, relaxed; admission is a compare-exchange against
     * max_clients. */
    atomic_uint admitted;
    /* Open clients, for live_client_count: relaxed, a statistic. */
    atomic_uint open_clients;

    /* the loop thread's own */
    LiveClient *clients;
    LiveClient *reap;
    LiveTopic *topics[TOPIC_BUCKETS];
    uint64_t next_tick_ms, next_ping_ms;
} hub = {.lock = PTHREAD_MUTEX_INITIALIZER, .epoll_fd = -1, .wake_fd = -1};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- buffers ------------------------------------------------------------ */

/* A server frame (unmasked, final) holding `len` payload bytes. */
static LiveBuffer *buffer_frame(WsOpcode opcode, const void *payload, size_t len)
{
    size_t header = ws_frame_header_size(len, false);
    LiveBuffer *b = malloc(sizeof *b + header + len);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = ws_frame_write(b->bytes, true, opcode, NULL, payload, len);
    return b;
}

static LiveBuffer *buffer_ref(LiveBuffer *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed); /* the caller holds one */
    return b;
}

static void buffer_unref(LiveBuffer *b)
{
    /* acq_rel: every use of the bytes happens before the free. */
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

/* The "revision" message for a document, as a text frame. */
static LiveBuffer *revision_frame(const char *project, long revision, const char *json_text)
{
    static const char fmt[] = "{\"type\":\"revision\",\"project\":\"%s\",\"revision\":%ld,\"document\":";
    int head = snprintf(NULL, 0, fmt, project, revision);
    size_t doc = strlen(json_text);
    size_t len = (size_t)head + doc + 1;
    char *text = malloc(len + 1);
    if (!text)
        return NULL;
    snprintf(text, len + 1, fmt, project, revision);
    memcpy(text + head, json_text, doc);
    text[len - 1] = '}';
    LiveBuffer *b = buffer_frame(WS_OP_TEXT, text, len);
    free(text);
    return b;
}

/* ---- the inbox and the handoffs (under hub.lock) ------------------------ */

static void wake_loop(void)
{
    uint64_t one = 1;
    if (write(hub.wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        perror("ampd: live: wake");
}

/* Post messages to the loop; false (and nothing posted) unless open. */
static bool post_locked(LiveMessage *m)
{
    if (!hub.open)
        return false;
    m->next = NULL;
    if (hub.inbox_tail)
        hub.inbox_tail->next = m;
    else
        hub.inbox_head = m;
    hub.inbox_tail = m;
    return true;
}

static bool post(LiveMessage *m)
{
    pthread_mutex_lock(&hub.lock);
    bool posted = post_locked(m);
    pthread_mutex_unlock(&hub.lock);
    if (posted)
        wake_loop();
    return posted;
}

static LiveMessage *message_new(LiveMessageKind kind, const char *project)
{
    LiveMessage *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->kind = kind;
    m->fd = -1;
    snprintf(m->project, sizeof m->project, "%s", project);
    return m;
}

static void message_free(LiveMessage *m)
{
    buffer_unref(m->frame);
    free(m->extra);
    free(m);
}

/* Take the handoff `id` out of the list; NULL when it expired. */
static LiveMessage *handoff_take_locked(uint64_t id)
{
    for (LiveMessage **p = &hub.handoffs; *p; p = &(*p)->next) {
        if ((*p)->handoff_id == id) {
            LiveMessage *m = *p;
            *p = m->next;
            m->next = NULL;
            return m;
        }
    }
    return NULL;
}

static void release_admission(void)
{
    atomic_fetch_sub_explicit(&hub.admitted, 1, memory_order_relaxed); /* a counter only */
}

static bool take_admission(void)
{
    unsigned n = atomic_load_explicit(&hub.admitted, memory_order_relaxed);
    do {
        if (n >= hub.config.max_clients)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&hub.admitted, &n, n + 1,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

/* ---- topics (loop thread) ---------------------------------------------- */

static unsigned topic_bucket(const char *id)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % TOPIC_BUCKETS;
}

static LiveTopic *topic_find(const char *id)
{
    for (LiveTopic *t = hub.topics[topic_bucket(id)]; t; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

static LiveTopic *topic_get(const char *id)
{
    LiveTopic *t = topic_find(id);
    if (t)
        return t;
    if (!(t = calloc(1, sizeof *t)))
        return NULL;
    snprintf(t->id, sizeof t->id, "%s", id);
    t->revision = -1;
    unsigned b = topic_bucket(id);
    t->next = hub.topics[b];
    hub.topics[b] = t;
    return t;
}

/* Free a topic nobody follows or is about to. */
static void topic_release(LiveTopic *t)
{
    if (t->subscribers || t->pins)
        return;
    for (LiveTopic **p = &hub.topics[topic_bucket(t->id)]; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    buffer_unref(t->latest);
    free(t);
}

/* Keep `frame` as the topic's latest when it is newer; takes a reference. */
static void topic_note(LiveTopic *t, long revision, LiveBuffer *frame)
{
    if (revision <= t->revision)
        return;
    buffer_unref(t->latest);
    t->latest = buffer_ref(frame);
    t->revision = revision;
}

/* ---- clients: output (loop thread) -------------------------------------- */

static void client_fail(LiveClient *c);

static void set_want_write(LiveClient *c, bool want)
{
    if (c->want_write == want || c->state == CLIENT_DEAD)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(hub.epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        client_fail(c);
        return;
    }
    c->want_write = want;
}

static void after_flush(LiveClient *c);

/* Send what the socket takes now. */
static void flush(LiveClient *c)
{
    while (c->out_head) {
        LiveChunk *chunk = c->out_head;
        size_t left = chunk->buffer->len - c->out_offset;
        ssize_t n = send(c->fd, chunk->buffer->bytes + c->out_offset, left, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_want_write(c, true);
                return;
            }
            client_fail(c);
            return;
        }
        c->out_bytes -= (size_t)n;
        c->out_offset += (size_t)n;
        if (c->out_offset < chunk->buffer->len)
            continue;
        c->out_head = chunk->next;
        if (!c->out_head)
            c->out_tail = NULL;
        c->out_offset = 0;
        buffer_unref(chunk->buffer);
        free(chunk);
    }
    set_want_write(c, false);
    after_flush(c);
}

/* Queue a frame (taking a reference) and try to send it. A client whose
 * queue would pass max_queue is dropped: it reads too slowly. One message
 * is always accepted into an empty queue, however large. */
static void send_buffer(LiveClient *c, LiveBuffer *b)
{
    if (c->state == CLIENT_DEAD || c->state == CLIENT_LINGER)
        return;
    /* A close frame goes out even behind a full queue. */
    bool capped = b->bytes[0] != (0x80 | WS_OP_CLOSE);
    if (capped && c->out_bytes > 0 && c->out_bytes + b->len > hub.config.max_queue) {
        client_fail(c);
        return;
    }
    LiveChunk *chunk = malloc(sizeof *chunk);
    if (!chunk) {
        client_fail(c);
        return;
    }
    chunk->next = NULL;
    chunk->buffer = buffer_ref(b);
    if (c->out_tail)
        c->out_tail->next = chunk;
    else
        c->out_head = chunk;
    c->out_tail = chunk;
    c->out_bytes += b->len;
    if (!c->want_write)
        flush(c);
}

static void send_frame(LiveClient *c, WsOpcode opcode, const void *payload, size_t len)
{
    LiveBuffer *b = buffer_frame(opcode, payload, len);
    if (!b) {
        client_fail(c);
        return;
    }
    send_buffer(c, b);
    buffer_unref(b);
}

static void send_text(LiveClient *c, const char *text)
{
    send_frame(c, WS_OP_TEXT, text, strlen(text));
}

/* Start the closing handshake from our side. */
static void start_close(LiveClient *c, uint16_t code, const char *reason)
{
    if (c->state != CLIENT_OPEN)
        return;
    uint8_t payload[WS_CONTROL_MAX];
    size_t len = code == WS_CLOSE_NO_STATUS ? 0 : ws_close_payload(payload, code, reason);
    c->deadline_ms = now_ms() + hub.config.close_ms;
    c->state = CLIENT_CLOSING;
    send_frame(c, WS_OP_CLOSE, payload, len);
}

/* The queue ran dry: a close frame we queued is now on the wire. */
static void after_flush(LiveClient *c)
{
    if (c->state != CLIENT_CLOSING)
        return;
    if (c->peer_closed) {
        client_fail(c); /* both close frames exchanged: the server closes TCP first */
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = CLIENT_LINGER;
}

/* ---- clients: life (loop thread) ---------------------------------------- */

/* Unlink and put on the reap list; the socket is closed at the end of the
 * loop's round, so callers may go on iterating. */
static void client_fail(LiveClient *c)
{
    if (c->state == CLIENT_DEAD)
        return;
    c->state = CLIENT_DEAD;
    if (c->prev)
        c->prev->next = c->next;
    else
        hub.clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = hub.reap;
    hub.reap = c;
}

static void client_close(LiveClient *c)
{
    epoll_ctl(hub.epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    LiveTopic *t = c->topic;
    if (t) {
        if (c->topic_prev)
            c->topic_prev->topic_next = c->topic_next;
        else
            t->subscribers = c->topic_next;
        if (c->topic_next)
            c->topic_next->topic_prev = c->topic_prev;
        topic_release(t);
    }
    while (c->out_head) {
        LiveChunk *chunk = c->out_head;
        c->out_head = chunk->next;
        buffer_unref(chunk->buffer);
        free(chunk);
    }
    ws_parser_free(&c->parser);
    /* libmicrohttpd closes the socket (and frees the connection). */
    MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(c);
    atomic_fetch_sub_explicit(&hub.open_clients, 1, memory_order_relaxed); /* a statistic */
    release_admission();
}

static void reap_clients(void)
{
    while (hub.reap) {
        LiveClient *c = hub.reap;
        hub.reap = c->next;
        client_close(c);
    }
}

/* ---- clients: input (loop thread) --------------------------------------- */

static void send_error(LiveClient *c, const char *code, const char *hint)
{
    char text[256];
    snprintf(text, sizeof text, "{\"type\":\"error\",\"error\":{\"code\":\"%s\",\"hint\":\"%s\"}}",
             code, hint);
    send_text(c, text);
}

/* A text message from the tab: {"type":"hello","revision":N}. */
static void on_message(LiveClient *c, const uint8_t *data, size_t len)
{
    json_error_t err;
    json_t *msg = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err);
    const char *type = json_string_value(json_object_get(msg, "type"));
    json_t *revision = json_object_get(msg, "revision");
    if (!json_is_object(msg) || !type) {
        send_error(c, "bad_message", "a message is a JSON object with a type");
    } else if (strcmp(type, "hello") != 0) {
        send_error(c, "unknown_type", "the server understands only hello");
    } else if (!json_is_integer(revision) || json_integer_value(revision) < 0) {
        send_error(c, "bad_revision", "hello needs the revision the tab holds");
    } else {
        long held = (long)json_integer_value(revision);
        LiveTopic *t = c->topic;
        if (t->latest && t->revision > held) {
            send_buffer(c, t->latest);
        } else {
            char text[160];
            snprintf(text, sizeof text, "{\"type\":\"current\",\"project\":\"%s\",\"revision\":%ld}",
                     t->id, t->revision >= 0 ? t->revision : held);
            send_text(c, text);
        }
    }
    json_decref(msg);
}

static void on_event(LiveClient *c, const WsEvent *ev)
{
    switch (ev->kind) {
    case WS_EVENT_NONE:
        break;
    case WS_EVENT_MESSAGE:
        if (c->state != CLIENT_OPEN)
            break;
        if (ev->opcode == WS_OP_BINARY)
            start_close(c, WS_CLOSE_UNSUPPORTED_DATA, "binary messages are not accepted");
        else
            on_message(c, ev->data, ev->len);
        break;
    case WS_EVENT_PING:
        if (c->state == CLIENT_OPEN)
            send_frame(c, WS_OP_PONG, ev->data, ev->len);
        break;
    case WS_EVENT_PONG:
        break;
    case WS_EVENT_CLOSE:
        c->peer_closed = true;
        if (c->state == CLIENT_OPEN) {
            /* Echo the code; the queue drains, then we close TCP. */
            start_close(c, ev->close_code, NULL);
        } else if (c->state == CLIENT_LINGER) {
            client_fail(c);
        }
        break;
    case WS_EVENT_ERROR:
        start_close(c, ev->close_code, ev->hint);
        break;
    }
}

static void feed(LiveClient *c, const uint8_t *data, size_t len)
{
    size_t at = 0;
    while (at < len && c->state != CLIENT_DEAD) {
        WsEvent ev;
        at += ws_parse(&c->parser, data + at, len - at, &ev);
        on_event(c, &ev);
    }
}

static void on_readable(LiveClient *c)
{
    uint8_t buf[READ_CHUNK];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            client_fail(c);
        return;
    }
    if (n == 0) { /* EOF: after a close handshake, or the tab vanished */
        client_fail(c);
        return;
    }
    c->heard_ms = now_ms();
    c->ping_outstanding = false;
    feed(c, buf, (size_t)n);
}

/* A CLIENT message: the socket joins the loop and its topic. */
static void add_client(LiveMessage *m)
{
    LiveTopic *t = topic_find(m->project); /* pinned since live_upgrade */
    LiveClient *c = calloc(1, sizeof *c);
    if (!c || !t) {
        free(c);
        MHD_upgrade_action(m->urh, MHD_UPGRADE_ACTION_CLOSE);
        release_admission();
        if (t) {
            t->pins--;
            topic_release(t);
        }
        return;
    }
    c->fd = m->fd;
    c->urh = m->urh;
    c->heard_ms = now_ms();
    ws_parser_init(&c->parser, hub.config.max_frame, hub.config.max_message, true);
    int flags = fcntl(c->fd, F_GETFL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        epoll_ctl(hub.epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        ws_parser_free(&c->parser);
        free(c);
        MHD_upgrade_action(m->urh, MHD_UPGRADE_ACTION_CLOSE);
        release_admission();
        t->pins--;
        topic_release(t);
        return;
    }
    c->next = hub.clients;
    if (hub.clients)
        hub.clients->prev = c;
    hub.clients = c;
    c->topic = t;
    c->topic_next = t->subscribers;
    if (t->subscribers)
        t->subscribers->topic_prev = c;
    t->subscribers = c;
    t->pins--; /* the pin is now a subscription */
    atomic_fetch_add_explicit(&hub.open_clients, 1, memory_order_relaxed); /* a statistic */
    if (m->extra_len)
        feed(c, m->extra, m->extra_len);
}

/* ---- the loop ----------------------------------------------------------- */

static void handle_message(LiveMessage *m)
{
    LiveTopic *t;
    switch (m->kind) {
    case MSG_PIN:
        if ((t = topic_get(m->project)))
            t->pins++;
        /* Out of memory: the CLIENT or UNPIN that follows finds no topic. */
        break;
    case MSG_UNPIN:
        if ((t = topic_find(m->project))) {
            t->pins--;
            topic_release(t);
        }
        release_admission();
        break;
    case MSG_SEED:
        if ((t = topic_find(m->project)))
            topic_note(t, m->revision, m->frame);
        break;
    case MSG_PUBLISH:
        if (!(t = topic_find(m->project)))
            break; /* nobody follows it */
        topic_note(t, m->revision, m->frame);
        for (LiveClient *c = t->subscribers; c; c = c->topic_next)
            if (c->state == CLIENT_OPEN)
                send_buffer(c, m->frame);
        break;
    case MSG_CLIENT:
        add_client(m);
        break;
    }
    message_free(m);
}

static void drain_inbox(void)
{
    pthread_mutex_lock(&hub.lock);
    LiveMessage *m = hub.inbox_head;
    hub.inbox_head = hub.inbox_tail = NULL;
    pthread_mutex_unlock(&hub.lock);
    while (m) {
        LiveMessage *next = m->next;
        handle_message(m);
        m = next;
    }
}

/* Handoffs whose socket never came: their pins go. */
static void expire_handoffs(uint64_t now)
{
    LiveMessage *expired = NULL;
    pthread_mutex_lock(&hub.lock);
    for (LiveMessage **p = &hub.handoffs; *p;) {
        LiveMessage *m = *p;
        if (now - m->created_ms < HANDOFF_EXPIRE_MS) {
            p = &m->next;
            continue;
        }
        *p = m->next;
        m->next = expired;
        expired = m;
    }
    pthread_mutex_unlock(&hub.lock);
    while (expired) {
        LiveMessage *m = expired;
        expired = m->next;
        m->kind = MSG_UNPIN;
        handle_message(m);
    }
}

static void run_timers(uint64_t now)
{
    bool ping = hub.config.ping_ms && now >= hub.next_ping_ms;
    for (LiveClient *c = hub.clients, *next; c; c = next) {
        next = c->next;
        if (c->state == CLIENT_CLOSING || c->state == CLIENT_LINGER) {
            if (now >= c->deadline_ms)
                client_fail(c);
            continue;
        }
        if (!ping || now - c->heard_ms < hub.config.ping_ms)
            continue;
        if (c->ping_outstanding) {
            client_fail(c); /* silent through a whole ping interval */
            continue;
        }
        c->ping_outstanding = true;
        send_frame(c, WS_OP_PING, NULL, 0);
    }
    if (ping)
        hub.next_ping_ms = now + hub.config.ping_ms;
    expire_handoffs(now);
}

/* Stopping: say goodbye (1001) to every tab with what the sockets take
 * now, then close them all. */
static void close_everything(void)
{
    for (LiveClient *c = hub.clients; c; c = c->next)
        start_close(c, WS_CLOSE_GOING_AWAY, "server stopping");
    while (hub.clients)
        client_fail(hub.clients);
    reap_clients();
    pthread_mutex_lock(&hub.lock);
    LiveMessage *m = hub.inbox_head, *handoffs = hub.handoffs;
    hub.inbox_head = hub.inbox_tail = NULL;
    hub.handoffs = NULL;
    pthread_mutex_unlock(&hub.lock);
    while (m) { /* PIN before CLIENT, in order: every socket is closed */
        LiveMessage *next = m->next;
        handle_message(m);
        m = next;
    }
    while (hub.clients)
        client_fail(hub.clients);
    reap_clients();
    while (handoffs) {
        LiveMessage *next = handoffs->next;
        message_free(handoffs);
        release_admission();
        handoffs = next;
    }
    for (int b = 0; b < TOPIC_BUCKETS; b++) {
        while (hub.topics[b]) {
            LiveTopic *t = hub.topics[b];
            hub.topics[b] = t->next;
            buffer_unref(t->latest);
            free(t);
        }
    }
}

static void *loop_main(void *arg)
{
    struct epoll_event events[64];
    for (;;) {
        uint64_t now = now_ms();
        int timeout = hub.next_tick_ms > now ? (int)(hub.next_tick_ms - now) : 0;
        int n = epoll_wait(hub.epoll_fd, events, 64, timeout);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                uint64_t count;
                if (read(hub.wake_fd, &count, sizeof count) < 0 && errno != EAGAIN)
                    perror("ampd: live: wake");
                continue;
            }
            LiveClient *c = events[i].data.ptr;
            if (c->state == CLIENT_DEAD)
                continue;
            if (events[i].events & EPOLLOUT)
                flush(c);
            if (c->state != CLIENT_DEAD && events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(c);
        }
        reap_clients(); /* before the inbox, so no event names a freed client */
        pthread_mutex_lock(&hub.lock);
        bool open = hub.open;
        pthread_mutex_unlock(&hub.lock);
        if (!open)
            break;
        drain_inbox();
        now = now_ms();
        if (now >= hub.next_tick_ms) {
            run_timers(now);
            hub.next_tick_ms = now + LOOP_TICK_MS;
        }
        reap_clients();
    }
    close_everything();
    return NULL;
}

/* ---- start and stop ----------------------------------------------------- */

LiveConfig live_default_config(void)
{
    LiveConfig config = {
        .max_clients = 1024,
        .max_frame = 64 * 1024,
        .max_message = 64 * 1024,
        .max_queue = 4 * HTTP_BODY_MAX,
        .ping_ms = 30000,
        .close_ms = 2000,
    };
    return config;
}

static void free_origins(void)
{
    for (size_t i = 0; hub.origins && i < hub.origin_count; i++)
        free(hub.origins[i]);
    free(hub.origins);
    hub.origins = NULL;
    hub.origin_count = 0;
    hub.config.origins = NULL;
    hub.config.origin_count = 0;
}

bool live_start(const LiveConfig *config)
{
    if (hub.running)
        return false;
    free_origins();
    hub.config = *config;
    hub.origin_count = config->origin_count;
    hub.origins = calloc(config->origin_count + 1, sizeof *hub.origins);
    for (size_t i = 0; hub.origins && i < config->origin_count; i++)
        if (!(hub.origins[i] = strdup(config->origins[i])))
            goto fail;
    if (!hub.origins)
        goto fail;
    hub.config.origins = (const char *const *)hub.origins;
    hub.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    hub.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (hub.epoll_fd < 0 || hub.wake_fd < 0 ||
        epoll_ctl(hub.epoll_fd, EPOLL_CTL_ADD, hub.wake_fd, &ev) != 0) {
        perror("ampd: live");
        goto fail;
    }
    pthread_mutex_lock(&hub.lock);
    hub.open = true;
    pthread_mutex_unlock(&hub.lock);
    hub.next_tick_ms = now_ms() + LOOP_TICK_MS;
    hub.next_ping_ms = now_ms() + hub.config.ping_ms;
    if (pthread_create(&hub.thread, NULL, loop_main, NULL) != 0) {
        fputs("ampd: live: cannot start the event loop thread\n", stderr);
        pthread_mutex_lock(&hub.lock);
        hub.open = false;
        pthread_mutex_unlock(&hub.lock);
        goto fail;
    }
    hub.running = true;
    return true;
fail:
    if (hub.epoll_fd >= 0)
        close(hub.epoll_fd);
    if (hub.wake_fd >= 0)
        close(hub.wake_fd);
    hub.epoll_fd = hub.wake_fd = -1;
    free_origins();
    return false;
}

void live_stop(void)
{
    if (!hub.running)
        return;
    pthread_mutex_lock(&hub.lock);
    hub.open = false; /* from now on nothing is posted or handed off */
    pthread_mutex_unlock(&hub.lock);
    wake_loop();
    pthread_join(hub.thread, NULL);
    close(hub.epoll_fd);
    close(hub.wake_fd);
    hub.epoll_fd = hub.wake_fd = -1;
    /* The config (origins included) stays: a request that checked
     * hub_is_open just before may still read it. */
    hub.running = false;
}

unsigned live_client_count(void)
{
    return atomic_load_explicit(&hub.open_clients, memory_order_relaxed); /* a statistic */
}

/* ---- publishing --------------------------------------------------------- */

static bool project_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > LIVE_PROJECT_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A revision as a SEED or PUBLISH message; NULL when it cannot be sent. */
static LiveMessage *revision_message(LiveMessageKind kind, const char *project, long revision,
                                     const char *json_text)
{
    if (!project || !project_id_valid(project, strlen(project)) || revision < 0 || !json_text ||
        !ws_utf8_valid(json_text, strlen(json_text)))
        return NULL;
    LiveMessage *m = message_new(kind, project);
    if (!m)
        return NULL;
    m->revision = revision;
    if (!(m->frame = revision_frame(project, revision, json_text))) {
        message_free(m);
        return NULL;
    }
    return m;
}

void live_publish(const char *project_id, long revision, const char *json_text)
{
    LiveMessage *m = revision_message(MSG_PUBLISH, project_id, revision, json_text);
    if (m && !post(m))
        message_free(m);
}

/* ---- the upgrade -------------------------------------------------------- */

/* libmicrohttpd has sent the 101: the socket is ours (through `urh`). */
static void upgrade_done(void *cls, struct MHD_Connection *conn, void *req_cls,
                         const char *extra_in, size_t extra_in_size, MHD_socket sock,
                         struct MHD_UpgradeResponseHandle *urh)
{
    uint64_t id = (uint64_t)(uintptr_t)cls;
    pthread_mutex_lock(&hub.lock);
    LiveMessage *m = handoff_take_locked(id);
    bool posted = false, handed = false;
    if (m) {
        m->fd = sock;
        m->urh = urh;
        if (extra_in_size && (m->extra = malloc(extra_in_size))) {
            memcpy(m->extra, extra_in, extra_in_size);
            m->extra_len = extra_in_size;
        }
        if (extra_in_size && !m->extra)
            m->kind = MSG_UNPIN; /* out of memory: give the socket back */
        handed = m->kind == MSG_CLIENT; /* read before posting: then m is the loop's */
        posted = post_locked(m);
    }
    pthread_mutex_unlock(&hub.lock);
    if (posted)
        wake_loop();
    if (posted && handed)
        return;
    if (m && !posted) { /* stopping */
        message_free(m);
        release_admission();
    }
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static enum MHD_Result reply_upgrade_required(struct MHD_Connection *conn, const char *hint)
{
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", "bad_websocket_version", "hint", hint);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct MHD_Response *resp =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, "Sec-WebSocket-Version", "13");
    return http_reply(conn, MHD_HTTP_UPGRADE_REQUIRED, resp);
}

/* The project id of /api/projects/{id}/live into `out`; false if malformed. */
static bool path_project(const char *path, char out[LIVE_PROJECT_ID_MAX + 1])
{
    static const char prefix[] = "/api/projects/", suffix[] = "/live";
    size_t len = strlen(path), pre = strlen(prefix), suf = strlen(suffix);
    if (len <= pre + suf || strncmp(path, prefix, pre) != 0 || strcmp(path + len - suf, suffix) != 0)
        return false;
    size_t id_len = len - pre - suf;
    if (!project_id_valid(path + pre, id_len))
        return false;
    memcpy(out, path + pre, id_len);
    out[id_len] = '\0';
    return true;
}

static bool hub_is_open(void)
{
    pthread_mutex_lock(&hub.lock);
    bool open = hub.open;
    pthread_mutex_unlock(&hub.lock);
    return open;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* Register the handoff and pin the topic; its id, or 0 when stopping. */
static uint64_t begin_handoff(LiveMessage *handoff, LiveMessage *pin)
{
    pthread_mutex_lock(&hub.lock);
    uint64_t id = 0;
    if (post_locked(pin)) {
        id = ++hub.next_handoff_id;
        handoff->handoff_id = id;
        handoff->created_ms = now_ms();
        handoff->next = hub.handoffs;
        hub.handoffs = handoff;
    }
    pthread_mutex_unlock(&hub.lock);
    if (id)
        wake_loop();
    return id;
}

/* The 101 could not be queued: the handoff becomes an UNPIN. */
static void cancel_handoff(uint64_t id)
{
    pthread_mutex_lock(&hub.lock);
    LiveMessage *m = handoff_take_locked(id);
    bool posted = false;
    if (m) {
        m->kind = MSG_UNPIN;
        posted = post_locked(m);
    }
    pthread_mutex_unlock(&hub.lock);
    if (posted)
        wake_loop();
    else if (m)
        message_free(m);
}

enum MHD_Result live_upgrade(struct MHD_Connection *conn, const HttpRequest *req)
{
    WsHandshake hs = {
        .method = req->method,
        .http_version = req->version,
        .host = header(conn, MHD_HTTP_HEADER_HOST),
        .upgrade = header(conn, MHD_HTTP_HEADER_UPGRADE),
        .connection = header(conn, MHD_HTTP_HEADER_CONNECTION),
        .key = header(conn, "Sec-WebSocket-Key"),
        .version = header(conn, "Sec-WebSocket-Version"),
    };
    const char *hint = NULL;
    WsHandshakeResult checked = ws_handshake_check(&hs, &hint);
    if (checked == WS_HANDSHAKE_BAD_VERSION)
        return reply_upgrade_required(conn, hint);
    if (checked != WS_HANDSHAKE_OK)
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_handshake", hint);
    char project[LIVE_PROJECT_ID_MAX + 1];
    if (!path_project(req->path, project))
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such project");
    if (!hub_is_open())
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "live_unavailable",
                           "live updates are not running");
    if (!ws_origin_allowed(header(conn, "Origin"), hs.host, hub.config.origins,
                           hub.config.origin_count))
        return reply_error(conn, MHD_HTTP_FORBIDDEN, "origin_refused",
                           "live updates are only for pages of this server's origin");
    if (!hub.config.authorize ||
        !hub.config.authorize(conn, project, hub.config.authorize_user))
        return reply_error(conn, MHD_HTTP_FORBIDDEN, "forbidden",
                           "this session may not follow the project");
    if (!take_admission())
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_clients",
                           "the server follows as many tabs as it can");

    LiveMessage *handoff = message_new(MSG_CLIENT, project);
    LiveMessage *pin = message_new(MSG_PIN, project);
    uint64_t id = handoff && pin ? begin_handoff(handoff, pin) : 0;
    if (!id) {
        free(handoff);
        free(pin);
        release_admission();
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "live_unavailable",
                           "live updates are stopping");
    }
    /* Pinned first, loaded second: a save committed after the load is
     * published after the pin, so the topic sees it either way. */
    long revision;
    char *document = NULL;
    if (hub.config.latest && hub.config.latest(project, &revision, &document, hub.config.latest_user) &&
        document) {
        LiveMessage *seed = revision_message(MSG_SEED, project, revision, document);
        if (seed && !post(seed))
            message_free(seed);
    }
    free(document);

    char accept[WS_ACCEPT_LENGTH + 1];
    ws_accept_key(hs.key, accept);
    struct MHD_Response *resp = MHD_create_response_for_upgrade(upgrade_done, (void *)(uintptr_t)id);
    if (!resp) {
        cancel_handoff(id);
        return MHD_NO;
    }
    /* libmicrohttpd writes "Connection: Upgrade" itself. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
    enum MHD_Result ret = http_reply(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    if (ret != MHD_YES)
        cancel_handoff(id);
    return ret;
}
