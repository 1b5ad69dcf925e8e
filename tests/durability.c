/* durability.c — saves acknowledged by ampd survive kill -9.
 *
 *   durability [--kills N] [--seed S]
 *
 * Starts build/ampd (--local, a temporary --data) and saves one project
 * over and over (PUT with If-Match, each document unique), while a second
 * thread sends SIGKILL at a random moment (0 to 40 ms into the saves, now
 * and then before the first). Then it restarts the server at once and
 * checks, N times over:
 *   - the project's latest revision is the last acknowledged one, or one
 *     more whose document is exactly the save that was in flight when the
 *     server died (committed but not yet acknowledged: allowed);
 *   - every save acknowledged since the previous kill reads back exactly.
 * At the end, with the server stopped: every acknowledged save is in the
 * database byte for byte (the server stores the compact text we send), the
 * revision numbers have no gap, and PRAGMA integrity_check says ok.
 * Prints the figures; exit status 0 when all held.
 *
 * A kill -9 tests the process dying with the operating system intact (the
 * page cache survives); synchronous=FULL (asserted by check_api) is what
 * covers the machine losing power, which this cannot simulate.
 */
#include "ampd_process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AMPD_PATH
#define AMPD_PATH "build/ampd"
#endif

#define FAIL(...)                                                                                              \
    do {                                                                                                       \
        fprintf(stderr, "durability: FAILED: " __VA_ARGS__);                                                  \
        fputc('\n', stderr);                                                                                   \
        exit(1);                                                                                               \
    } while (0)

static char data_dir[512], root_dir[512];
static unsigned port;
static char csrf[128];

/* ---- the server ------------------------------------------------------------- */

static pid_t start_server(void)
{
    const char *args[] = {"--port", "0", "--root", root_dir, "--data", data_dir, "--local",
                          "--argon-ops", "1", "--argon-mem", "8192", NULL};
    char banner[512];
    pid_t pid = ampd_spawn(AMPD_PATH, args, &port, banner, sizeof banner);
    if (pid < 0)
        FAIL("cannot start %s: %s", AMPD_PATH, strerror(errno));
    if (port == 0)
        FAIL("ampd did not start: '%s'", banner);
    return pid;
}

/* ---- a minimal client: one request per connection ----------------------------- */

typedef struct Answer {
    int status;          /* 0: no answer (the server died) */
    json_t *json;
} Answer;

static Answer http(const char *method, const char *path, const char *extra, const char *body)
{
    Answer a = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (fd >= 0)
            close(fd);
        return a;
    }
    size_t blen = body ? strlen(body) : 0;
    size_t cap = blen + 1024;
    char *text = malloc(cap);
    int n = snprintf(text, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\nX-CSRF-Token: %s\r\n%s"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, port, csrf, extra ? extra : "", blen, body ? body : "");
    ssize_t sent = send(fd, text, (size_t)n, MSG_NOSIGNAL);
    free(text);
    if (sent != n) {
        close(fd);
        return a;
    }
    size_t rcap = 1 << 16, got = 0;
    char *data = malloc(rcap + 1);
    double deadline = ampd_now_seconds() + 10;
    while (ampd_now_seconds() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (got == rcap) {
            rcap *= 2;
            data = realloc(data, rcap + 1);
        }
        ssize_t r = recv(fd, data + got, rcap - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    data[got] = '\0';
    const char *end = strstr(data, "\r\n\r\n");
    if (sscanf(data, "HTTP/1.1 %d", &a.status) == 1 && end) {
        json_error_t err;
        a.json = json_loads(end + 4, 0, &err);
        if (!a.json)
            a.status = 0; /* cut short by the kill */
    } else
        a.status = 0;
    free(data);
    return a;
}

/* ---- the saves ------------------------------------------------------------------- */

typedef struct Save {
    long revision;
    char *document;      /* the compact text sent */
} Save;

static Save *acked;
static size_t n_acked, cap_acked;
static char project_path[128];

static char *make_document(unsigned long serial)
{
    /* Unique per save, valid for the engine, a little bulky. */
    char *doc = malloc(2048);
    int n = snprintf(doc, 2048, "{\"version\":1,\"tempo\":%lu,\"tracks\":[{\"id\":1,\"kind\":\"instrument\","
                                "\"patch\":\"lib:pad@1\",\"clips\":[{\"start_beat\":0,\"length_beats\":8,\"notes\":[",
                     60 + serial % 200);
    for (int i = 0; i < 8; i++)
        n += snprintf(doc + n, 2048 - n, "%s{\"key\":%lu,\"start_beat\":%d,\"length_beats\":1}", i ? "," : "",
                      36 + (serial + (unsigned long)i) % 60, i);
    snprintf(doc + n, 2048 - n, "]}]}],\"ui\":{\"save\":%lu}}", serial);
    return doc;
}

static void record_ack(long revision, char *document)
{
    if (n_acked == cap_acked) {
        cap_acked = cap_acked ? cap_acked * 2 : 1024;
        acked = realloc(acked, cap_acked * sizeof *acked);
    }
    acked[n_acked++] = (Save){revision, document};
}

static bool same_document(json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, 0, NULL);
    bool same = got && want && json_equal(got, want);
    json_decref(want);
    return same;
}

/* Read revision `rev` back; it must be `text`. */
static void verify_revision(long rev, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/revisions/%ld", project_path, rev);
    Answer a = http("GET", path, NULL, NULL);
    if (a.status != 200)
        FAIL("GET %s: status %d", path, a.status);
    if (!same_document(json_object_get(a.json, "document"), text))
        FAIL("revision %ld does not hold the acknowledged save", rev);
    json_decref(a.json);
}

static void fetch_csrf(void)
{
    Answer a = http("GET", "/api/account", NULL, NULL);
    if (a.status != 200)
        FAIL("GET /api/account: status %d", a.status);
    snprintf(csrf, sizeof csrf, "%s", json_string_value(json_object_get(a.json, "csrf")));
    json_decref(a.json);
}

static long current_revision(void)
{
    Answer a = http("GET", project_path, NULL, NULL);
    if (a.status != 200)
        FAIL("GET %s: status %d", project_path, a.status);
    long rev = (long)json_integer_value(json_object_get(a.json, "revision"));
    json_decref(a.json);
    return rev;
}

/* ---- the killer ------------------------------------------------------------------ */

typedef struct Killer {
    pid_t pid;
    unsigned delay_us;
} Killer;

static void *killer_main(void *arg)
{
    Killer *k = arg;
    usleep(k->delay_us);
    kill(k->pid, SIGKILL);
    return NULL;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

int main(int argc, char **argv)
{
    long kills = 100;
    unsigned seed = (unsigned)time(NULL);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--kills") == 0)
            kills = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0)
            seed = (unsigned)strtoul(argv[i + 1], NULL, 10);
    }
    signal(SIGPIPE, SIG_IGN);
    srand(seed);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(data_dir, sizeof data_dir, "%s/ampd-durability-XXXXXX", tmp);
    snprintf(root_dir, sizeof root_dir, "%s/ampd-durability-root-XXXXXX", tmp);
    if (!mkdtemp(data_dir) || !mkdtemp(root_dir))
        FAIL("mkdtemp: %s", strerror(errno));
    double started = ampd_now_seconds();

    pid_t pid = start_server();
    fetch_csrf();
    char *first = make_document(0);
    char body[4096];
    snprintf(body, sizeof body, "{\"name\":\"durable\",\"document\":%s}", first);
    Answer a = http("POST", "/api/projects", NULL, body);
    if (a.status != 201)
        FAIL("POST /api/projects: status %d", a.status);
    snprintf(project_path, sizeof project_path, "/api/projects/%s",
             json_string_value(json_object_get(a.json, "id")));
    json_decref(a.json);
    record_ack(1, first);

    unsigned long serial = 1;
    size_t verified_upto = 0;    /* acked[0..verified_upto) checked after a restart */
    long in_flight_committed = 0;
    for (long k = 0; k < kills; k++) {
        long head = acked[n_acked - 1].revision;
        Killer killer = {pid, (rand() % 10 == 0) ? 0 : (unsigned)(rand() % 40000)};
        pthread_t thread;
        pthread_create(&thread, NULL, killer_main, &killer);
        char *pending = NULL;
        for (;;) {
            pending = make_document(serial++);
            char if_match[64];
            snprintf(if_match, sizeof if_match, "If-Match: \"%ld\"\r\n", head);
            a = http("PUT", project_path, if_match, pending);
            if (a.status == 0)
                break; /* died with this save in flight */
            if (a.status != 200)
                FAIL("PUT: status %d at revision %ld", a.status, head);
            long rev = (long)json_integer_value(json_object_get(a.json, "revision"));
            json_decref(a.json);
            if (rev != head + 1)
                FAIL("PUT acknowledged revision %ld after %ld", rev, head);
            record_ack(rev, pending);
            pending = NULL;
            head = rev;
        }
        pthread_join(thread, NULL);
        waitpid(pid, NULL, 0);

        pid = start_server();
        fetch_csrf();
        long now_head = current_revision();
        if (now_head == head + 1) {
            /* The save in flight was committed before the kill. */
            verify_revision(now_head, pending);
            record_ack(now_head, pending);
            pending = NULL;
            in_flight_committed++;
        } else if (now_head != head)
            FAIL("after kill %ld the project is at revision %ld, the last acknowledged was %ld", k + 1, now_head,
                 head);
        free(pending);
        for (; verified_upto < n_acked; verified_upto++)
            verify_revision(acked[verified_upto].revision, acked[verified_upto].document);
    }

    /* Every acknowledged save, read through the server once more. */
    for (size_t i = 0; i < n_acked; i++)
        verify_revision(acked[i].revision, acked[i].document);
    ampd_stop(pid, 10);

    /* And in the file, byte for byte, with no gap; the file intact. */
    char db_path[600];
    snprintf(db_path, sizeof db_path, "%s/ampd.sqlite", data_dir);
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        FAIL("open %s", db_path);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL);
    if (sqlite3_step(s) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0)
        FAIL("integrity_check: %s", sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "SELECT number, document FROM revisions ORDER BY number", -1, &s, NULL);
    size_t i = 0;
    long expect_number = 1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        long number = sqlite3_column_int64(s, 0);
        if (number != expect_number++)
            FAIL("revision %ld follows %ld", number, expect_number - 2);
        if (i < n_acked && acked[i].revision == number) {
            if (strcmp((const char *)sqlite3_column_text(s, 1), acked[i].document) != 0)
                FAIL("revision %ld in the file differs from the acknowledged save", number);
            i++;
        }
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (i != n_acked)
        FAIL("%zu of %zu acknowledged saves are in the file", i, n_acked);

    printf("durability: %ld kills, %zu saves acknowledged and verified (%ld more committed in flight), "
           "integrity ok, %.1f s (seed %u)\n",
           kills, n_acked - (size_t)in_flight_committed, in_flight_committed, ampd_now_seconds() - started, seed);
    for (size_t j = 0; j < n_acked; j++)
        free(acked[j].document);
    free(acked);
    nftw(data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(root_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
