/* check_uploads.c — streamed uploads under load (server/api_assets.c, the
 * streamed body of http.c): no upload ever waits on libmicrohttpd for data
 * it already holds.
 *
 * The bug this guards against: each piece of the body was written by a
 * worker while the connection was suspended, and taken (reported to
 * libmicrohttpd) in a second call after the resume. When more of the body
 * had arrived meanwhile, that call was offered the piece and the new bytes
 * together and took only the piece; the rest sat in libmicrohttpd's read
 * buffer, the connection neither suspended nor (the client having sent
 * everything) readable, and libmicrohttpd 0.9.75 offers such bytes again
 * only when the socket is readable again. The upload hung until some other
 * connection of the same pool thread woke its poll(), or the idle timeout
 * did: 1 in 100 uploads stalled for 10 to 30 s in the browser.
 *
 * The case starts the real build/ampd with one pool thread and a day-long
 * idle --timeout (so that nothing but the bug's own fix can end a stall:
 * no other connection, no timeout), and --verbose (libmicrohttpd's
 * warnings on its stderr, kept in a file); keeps every core busy with
 * spinning threads; and uploads, one at a time, files of many sizes: the
 * whole request in one write, the head then the body, the body in uneven
 * writes, chunked bodies. It asserts, for every upload, a 201 or 200 naming
 * the file's hash and size, within a hang guard (a stall never ends; an
 * upload here takes milliseconds); for the whole run, that libmicrohttpd
 * never warned of upload data left unprocessed on a connection that was not
 * suspended (the stall's precondition, whether or not it went on to hang).
 * The first failure ends the run. Each upload's time is measured and the
 * slowest printed, with the suite's time; no time is asserted.
 */
#include "testutil.h"
#include "ampd_process.h"

#include "api_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AMPD_PATH
#define AMPD_PATH "build/ampd"
#endif

/* ampd's idle --timeout for this suite: a day, so that a stalled upload
 * (which only the idle timeout's wake-up of the pool thread would rescue)
 * stays stalled. */
#define IDLE_TIMEOUT "86400"
/* The hang guard: a reply not complete this long after the request was
 * sent is a stall (one never ends; an upload here takes milliseconds). */
#define REPLY_WAIT_SECONDS 20.0
/* libmicrohttpd 0.9.75's warning (connection.c, process_request_body) when
 * the access handler leaves upload data unprocessed on a connection that
 * is not suspended: with an internal polling thread that data is offered
 * again only when the socket is readable again. */
#define MHD_UNPROCESSED_WARNING "incomplete upload processing and connection not suspended"

#define UPLOADS 400

static pid_t ampd_pid = -1;
static unsigned ampd_port;
static char data_dir[512], root_dir[512], log_path[600];
static double suite_start;

static void start(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(data_dir, sizeof data_dir, "%s/ampd-uploads-XXXXXX", tmp);
    snprintf(root_dir, sizeof root_dir, "%s/ampd-uploads-root-XXXXXX", tmp);
    ck_assert_ptr_nonnull(mkdtemp(data_dir));
    ck_assert_ptr_nonnull(mkdtemp(root_dir));
    snprintf(log_path, sizeof log_path, "%s.log", data_dir);
    /* ampd's stderr into the log: ampd_spawn leaves the child our stderr
     * when AMPD_TEST_VERBOSE is set, so ours points at the log meanwhile. */
    int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(log, 0);
    int saved = dup(STDERR_FILENO);
    char *verbose_before = getenv("AMPD_TEST_VERBOSE");
    setenv("AMPD_TEST_VERBOSE", "1", 1);
    dup2(log, STDERR_FILENO);
    const char *args[] = {"--port", "0", "--root", root_dir, "--data", data_dir, "--argon-ops", "1",
                          "--argon-mem", "8192", "--threads", "1", "--timeout", IDLE_TIMEOUT, "--verbose",
                          NULL};
    const char *bin = getenv("AMPD") ? getenv("AMPD") : AMPD_PATH;
    ampd_pid = ampd_spawn(bin, args, &ampd_port, NULL, 0);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(log);
    if (!verbose_before)
        unsetenv("AMPD_TEST_VERBOSE");
    ck_assert_msg(ampd_port != 0, "ampd did not start (%s)", bin);
}

/* Also called by the test before it asserts (a failed test skips the
 * teardown), hence idempotent. */
static void stop(void)
{
    if (ampd_pid > 0)
        ampd_stop(ampd_pid, 10);
    ampd_pid = -1;
    if (data_dir[0]) {
        testutil_remove_tree(data_dir);
        testutil_remove_tree(root_dir);
        unlink(log_path);
    }
    data_dir[0] = '\0';
}

/* ---- the load ------------------------------------------------------------------ */

static atomic_bool spinning;

static void *spin(void *arg)
{
    volatile uint64_t x = 0;
    while (atomic_load_explicit(&spinning, memory_order_relaxed))
        x = x * 6364136223846793005u + 1442695040888963407u;
    return NULL;
}

/* ---- one upload ------------------------------------------------------------------ */

typedef enum SendShape {
    SHAPE_ONE_WRITE,    /* head and body in one send() */
    SHAPE_HEAD_THEN_BODY,
    SHAPE_UNEVEN,       /* the body in writes of uneven sizes */
    SHAPE_CHUNKED,      /* Transfer-Encoding: chunked, all in one send() */
    SHAPE_COUNT
} SendShape;

static const char *const shape_names[SHAPE_COUNT] = {"one write", "head then body", "uneven writes", "chunked"};

typedef struct Upload {
    size_t size;
    SendShape shape;
    unsigned seed;
    /* Results. */
    int status;
    bool hash_ok;
    double seconds;
    char detail[160];
} Upload;

/* A WAV file of `size` bytes (at least 44), different for each seed. */
static unsigned char *make_wav(size_t size, unsigned seed)
{
    unsigned char *b = malloc(size);
    static const unsigned char head[44] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ',
                                           16, 0, 0, 0, 1, 0, 1, 0, 0x80, 0xbb, 0, 0, 0, 0x77, 1, 0, 2, 0, 16, 0,
                                           'd', 'a', 't', 'a', 0, 0, 0, 0};
    memcpy(b, head, sizeof head);
    uint32_t riff = (uint32_t)(size - 8), data = (uint32_t)(size - 44);
    for (int i = 0; i < 4; i++) {
        b[4 + i] = (unsigned char)(riff >> (8 * i));
        b[40 + i] = (unsigned char)(data >> (8 * i));
    }
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 44; i < size; i++) {
        x = x * 1664525u + 1013904223u;
        b[i] = (unsigned char)(x >> 24);
    }
    return b;
}

static bool send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        c += k;
        n -= (size_t)k;
    }
    return true;
}

/* The request text for `u`: its head (*head_len bytes) then its body. */
static char *request_text(const Upload *u, const Agent *a, const unsigned char *file, size_t *len, size_t *head_len)
{
    size_t cap = u->size * 2 + 4096;
    char *text = malloc(cap);
    size_t n = (size_t)snprintf(text, cap,
                                "POST /api/assets?name=u%u.wav HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                                "Connection: close\r\nCookie: amp_session=%s\r\nX-CSRF-Token: %s\r\n",
                                u->seed, ampd_port, a->cookie, a->csrf);
    if (u->shape == SHAPE_CHUNKED) {
        n += (size_t)snprintf(text + n, cap - n, "Transfer-Encoding: chunked\r\n\r\n");
        *head_len = n;
        /* Chunks of uneven sizes, some smaller than a read. */
        size_t at = 0, k = 1000 + u->seed % 5000;
        while (at < u->size) {
            size_t c = u->size - at < k ? u->size - at : k;
            n += (size_t)snprintf(text + n, cap - n, "%zx\r\n", c);
            memcpy(text + n, file + at, c);
            n += c;
            n += (size_t)snprintf(text + n, cap - n, "\r\n");
            at += c;
            k = k * 3 % 70000 + 500;
        }
        n += (size_t)snprintf(text + n, cap - n, "0\r\n\r\n");
    } else {
        n += (size_t)snprintf(text + n, cap - n, "Content-Length: %zu\r\n\r\n", u->size);
        *head_len = n;
        memcpy(text + n, file, u->size);
        n += u->size;
    }
    *len = n;
    return text;
}

/* Send `u` on a new connection and read the reply until the server closes.
 * Records, never asserts (the test asserts once ampd is stopped). */
static void run_upload(Upload *u, const Agent *a)
{
    unsigned char *file = make_wav(u->size, u->seed);
    size_t len, head_len;
    char *text = request_text(u, a, file, &len, &head_len);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ampd_port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double t0 = ampd_now_seconds();
    bool sent = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    switch (u->shape) {
    case SHAPE_ONE_WRITE:
    case SHAPE_CHUNKED:
        sent = sent && send_all(fd, text, len);
        break;
    case SHAPE_HEAD_THEN_BODY:
        sent = sent && send_all(fd, text, head_len) && send_all(fd, text + head_len, len - head_len);
        break;
    case SHAPE_UNEVEN: {
        sent = sent && send_all(fd, text, head_len);
        size_t at = head_len, k = 700 + u->seed % 3000;
        while (sent && at < len) {
            size_t c = len - at < k ? len - at : k;
            sent = send_all(fd, text + at, c);
            at += c;
            k = k * 7 % 90000 + 100;
        }
        break;
    }
    case SHAPE_COUNT:
        break;
    }
    size_t cap = 1 << 14, got = 0;
    char *reply = malloc(cap + 1);
    double deadline = t0 + REPLY_WAIT_SECONDS;
    bool closed = false;
    while (sent && !closed && ampd_now_seconds() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (got == cap)
            reply = realloc(reply, (cap *= 2) + 1);
        ssize_t n = recv(fd, reply + got, cap - got, 0);
        closed = n <= 0;
        got += closed ? 0 : (size_t)n;
    }
    u->seconds = ampd_now_seconds() - t0;
    if (fd >= 0)
        close(fd);
    reply[got] = '\0';
    u->status = 0;
    sscanf(reply, "HTTP/1.1 %d", &u->status);
    const char *body = strstr(reply, "\r\n\r\n");
    json_error_t err;
    json_t *json = body ? json_loads(body + 4, 0, &err) : NULL;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hash[crypto_hash_sha256_BYTES * 2 + 1];
    crypto_hash_sha256(digest, file, u->size);
    sodium_bin2hex(hash, sizeof hash, digest, sizeof digest);
    const char *got_hash = json_string_value(json_object_get(json, "hash"));
    u->hash_ok = got_hash && strcmp(got_hash, hash) == 0 &&
                 json_integer_value(json_object_get(json, "size")) == (json_int_t)u->size;
    snprintf(u->detail, sizeof u->detail, "%s",
             !sent     ? "the request could not be sent"
             : !closed ? "stalled: no complete reply within the hang guard"
             : got     ? reply
                       : "the connection was closed without a reply");
    json_decref(json);
    free(reply);
    free(text);
    free(file);
}

/* Sizes around the read buffer's and the socket's, and the browser's
 * 192 KB sample. */
static const size_t sizes[] = {44 + 1,  1000,   16384,  32768,  65535,  65536,  65537,  100000,
                               131072, 131073, 196652, 196608, 262144, 300001, 524288, 700000};
#define SIZE_COUNT (sizeof sizes / sizeof sizes[0])

static size_t count_in_log(const char *needle)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return 0;
    size_t count = 0;
    char line[4096];
    while (fgets(line, sizeof line, f))
        count += strstr(line, needle) != NULL;
    fclose(f);
    return count;
}

START_TEST(test_uploads_under_load)
{
    ck_assert_int_ge(sodium_init(), 0);
    Agent agent = api_client_signup(ampd_port, "uploader", "uploader-password");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int spinners = cores > 0 && cores < 16 ? (int)cores : 2;
    pthread_t spin_threads[16];
    atomic_store(&spinning, true);
    for (int i = 0; i < spinners; i++)
        ck_assert_int_eq(pthread_create(&spin_threads[i], NULL, spin, NULL), 0);

    /* One upload at a time: another connection's traffic would wake the
     * pool thread and hide a stall. The first failure ends the run. */
    Upload u = {0};
    int done = 0, over_second = 0;
    double slowest = 0, total = 0;
    bool ok = true;
    for (; done < UPLOADS && ok; done++) {
        u = (Upload){.size = sizes[((unsigned)done * 7) % SIZE_COUNT],
                     .shape = (SendShape)(((unsigned)done / SIZE_COUNT + (unsigned)done) % SHAPE_COUNT),
                     .seed = (unsigned)done + 1};
        run_upload(&u, &agent);
        ok = (u.status == 201 || u.status == 200) && u.hash_ok;
        over_second += u.seconds >= 1.0;
        slowest = u.seconds > slowest ? u.seconds : slowest;
        total += u.seconds;
    }
    atomic_store(&spinning, false);
    for (int i = 0; i < spinners; i++)
        pthread_join(spin_threads[i], NULL);

    size_t warnings = count_in_log(MHD_UNPROCESSED_WARNING);
    stop();
    printf("check_uploads: %d uploads under load in %.2f s, the slowest %.3f s, %d of a second or more; "
           "libmicrohttpd warned of unprocessed upload data %zu times\n",
           done, total, slowest, over_second, warnings);
    fflush(stdout);
    ck_assert_msg(ok, "upload %d of %d, %zu bytes (%s): %s after %.1f s: %.200s", done, UPLOADS, u.size,
                  shape_names[u.shape], u.status ? "a wrong reply" : "no reply", u.seconds, u.detail);
    ck_assert_msg(warnings == 0,
                  "libmicrohttpd warned %zu times of upload data left unprocessed on a connection not suspended",
                  warnings);
}
END_TEST

static Suite *uploads_suite(void)
{
    Suite *s = suite_create("uploads");
    TCase *load = tcase_create("load");
    tcase_add_checked_fixture(load, start, stop);
    tcase_set_timeout(load, 240);
    tcase_add_test(load, test_uploads_under_load);
    suite_add_tcase(s, load);
    return s;
}

int main(void)
{
    suite_start = ampd_now_seconds();
    int rc = testutil_run(uploads_suite());
    printf("check_uploads: %.1f s\n", ampd_now_seconds() - suite_start);
    return rc;
}
