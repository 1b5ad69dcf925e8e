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
 * Beside the saves, a second client uploads small audio files (each
 * unique) and now and then deletes one it uploaded (POST and DELETE
 * /api/assets), so that the kills land in uploads and deletes too. After
 * every restart:
 *   - every asset row in the database names a file that is there, complete:
 *     its content re-hashed is its name, its size the row's;
 *   - no file is left that no row names, and no temporary file (start-up
 *     swept them);
 *   - every acknowledged upload is listed by GET /api/assets, every
 *     acknowledged delete is not (one in flight at the kill may be either);
 *   - PRAGMA integrity_check says ok.
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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* One request with a body of `blen` bytes (binary), Connection: close. */
static Answer http_bytes(const char *method, const char *path, const char *extra, const void *body, size_t blen)
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
    size_t cap = blen + 1024;
    char *text = malloc(cap);
    int n = snprintf(text, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\nX-CSRF-Token: %s\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, port, csrf, extra ? extra : "", blen);
    if (blen)
        memcpy(text + n, body, blen);
    size_t total = (size_t)n + blen, sent = 0;
    while (sent < total) {
        ssize_t k = send(fd, text + sent, total - sent, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        sent += (size_t)k;
    }
    free(text);
    if (sent != total) {
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
        if (!a.json && a.status != 204)
            a.status = 0; /* cut short by the kill */
    } else
        a.status = 0;
    free(data);
    return a;
}

static Answer http(const char *method, const char *path, const char *extra, const char *body)
{
    return http_bytes(method, path, extra, body, body ? strlen(body) : 0);
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
                                "\"patch\":{\"builtin\":\"pad.amp\"},\"clips\":[{\"start_beat\":0,\"length_beats\":8,\"notes\":[",
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

/* ---- the assets ----------------------------------------------------------------- */

typedef enum AssetState { ASSET_PRESENT, ASSET_ABSENT, ASSET_MAYBE } AssetState;

typedef struct TrackedAsset {
    char hash[65];
    AssetState state;    /* what the acknowledgements say */
} TrackedAsset;

/* Touched by the uploader thread during a kill cycle and by the main
 * thread between cycles, never both at once (joined before). */
static TrackedAsset *assets;
static size_t n_assets, cap_assets;
static unsigned long asset_serial;
static long uploads_acked, deletes_acked, asset_rows_checked;
#define ASSETS_KEPT 16   /* the uploader deletes when it holds more */

static TrackedAsset *track(const char *hash, AssetState state)
{
    if (n_assets == cap_assets) {
        cap_assets = cap_assets ? cap_assets * 2 : 256;
        assets = realloc(assets, cap_assets * sizeof *assets);
    }
    TrackedAsset *t = &assets[n_assets++];
    snprintf(t->hash, sizeof t->hash, "%s", hash);
    t->state = state;
    return t;
}

static void hash_hex(const void *data, size_t len, char out[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, data, len);
    sodium_bin2hex(out, 65, digest, sizeof digest);
}

/* A small WAV file, unique by `serial`, 1 to 33 KiB. */
static unsigned char *make_wav(unsigned long serial, size_t *len)
{
    size_t samples = 512 + (size_t)(rand() % 16384);
    *len = 44 + samples * 2;
    unsigned char *w = calloc(1, *len);
    memcpy(w, "RIFF", 4);
    uint32_t riff = (uint32_t)(*len - 8), data = (uint32_t)(samples * 2);
    memcpy(w + 4, &riff, 4);
    memcpy(w + 8, "WAVEfmt ", 8);
    const unsigned char fmt[20] = {16, 0, 0, 0, 1, 0, 1, 0, 0x80, 0xbb, 0, 0, 0, 0x77, 1, 0, 2, 0, 16, 0};
    memcpy(w + 16, fmt, sizeof fmt);
    memcpy(w + 36, "data", 4);
    memcpy(w + 40, &data, 4);
    for (size_t i = 0; i < samples; i++) {
        uint16_t v = (uint16_t)(serial * 2654435761u + i * 40503u);
        memcpy(w + 44 + i * 2, &v, 2);
    }
    return w;
}

/* The uploader: uploads, and a delete whenever it holds more than
 * ASSETS_KEPT, until the server dies. */
static void *uploader_main(void *arg)
{
    for (;;) {
        size_t present = 0, oldest = n_assets;
        for (size_t i = 0; i < n_assets; i++)
            if (assets[i].state == ASSET_PRESENT) {
                present++;
                if (oldest == n_assets)
                    oldest = i;
            }
        if (present > ASSETS_KEPT) {
            TrackedAsset *t = &assets[oldest];
            char path[128];
            snprintf(path, sizeof path, "/api/assets/%s", t->hash);
            t->state = ASSET_MAYBE;
            Answer a = http("DELETE", path, NULL, NULL);
            json_decref(a.json);
            if (a.status == 0)
                return NULL;
            if (a.status != 204)
                FAIL("DELETE %s: status %d", path, a.status);
            t->state = ASSET_ABSENT;
            deletes_acked++;
            continue;
        }
        size_t len;
        unsigned char *wav = make_wav(++asset_serial, &len);
        char hash[65], path[64];
        hash_hex(wav, len, hash);
        TrackedAsset *t = track(hash, ASSET_MAYBE);
        snprintf(path, sizeof path, "/api/assets?name=u%lu.wav", asset_serial);
        Answer a = http_bytes("POST", path, NULL, wav, len);
        free(wav);
        if (a.status == 0)
            return NULL;
        if (a.status != 201)
            FAIL("POST %s: status %d", path, a.status);
        if (strcmp(json_string_value(json_object_get(a.json, "hash")), hash) != 0)
            FAIL("POST %s: another hash", path);
        json_decref(a.json);
        t->state = ASSET_PRESENT;
        uploads_acked++;
    }
}

/* The file DATA/assets/ab/<hash>: its content hashes to its name and it has
 * `size` bytes. */
static void verify_file(const char *hash, long size)
{
    char path[800];
    snprintf(path, sizeof path, "%s/assets/%.2s/%s", data_dir, hash, hash);
    FILE *f = fopen(path, "rb");
    if (!f)
        FAIL("asset row %s: no file", hash);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536];
    size_t n;
    long total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        crypto_hash_sha256_update(&st, buf, n);
        total += (long)n;
    }
    fclose(f);
    unsigned char digest[crypto_hash_sha256_BYTES];
    char got[65];
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(got, sizeof got, digest, sizeof digest);
    if (strcmp(got, hash) != 0 || total != size)
        FAIL("asset %s: the file holds %ld bytes hashing to %s (row: %ld bytes)", hash, total, got, size);
}

static bool hash_in(json_t *list, const char *hash)
{
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) if (strcmp(json_string_value(json_object_get(item, "hash")), hash) == 0)
        return true;
    return false;
}

/* After a restart: the rows, the files, the acknowledgements. */
static void verify_assets(void)
{
    char db_path[600];
    snprintf(db_path, sizeof db_path, "%s/ampd.sqlite", data_dir);
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        FAIL("open %s", db_path);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL);
    if (sqlite3_step(s) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0)
        FAIL("integrity_check: %s", sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    /* Every row names a complete file. */
    long rows = 0;
    sqlite3_prepare_v2(db, "SELECT DISTINCT hash, size FROM asset_links", -1, &s, NULL);
    while (sqlite3_step(s) == SQLITE_ROW) {
        verify_file((const char *)sqlite3_column_text(s, 0), (long)sqlite3_column_int64(s, 1));
        rows++;
    }
    sqlite3_finalize(s);
    asset_rows_checked += rows;
    /* Every file is named by a row; nothing temporary is left. */
    long files = 0;
    for (int i = 0; i < 256; i++) {
        char dir_path[700];
        snprintf(dir_path, sizeof dir_path, "%s/assets/%02x", data_dir, i);
        DIR *d = opendir(dir_path);
        struct dirent *e;
        while (d && (e = readdir(d)))
            files += e->d_name[0] != '.';
        if (d)
            closedir(d);
    }
    if (files != rows)
        FAIL("%ld asset files for %ld linked hashes after the restart", files, rows);
    char tmp_path[700];
    snprintf(tmp_path, sizeof tmp_path, "%s/assets/tmp", data_dir);
    DIR *d = opendir(tmp_path);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            FAIL("a temporary file is left after the restart: %s", e->d_name);
    if (d)
        closedir(d);
    sqlite3_close(db);
    /* The acknowledgements, through the server. */
    Answer a = http("GET", "/api/assets", NULL, NULL);
    if (a.status != 200)
        FAIL("GET /api/assets: status %d", a.status);
    json_t *list = json_object_get(a.json, "assets");
    if ((long)json_array_size(list) != rows)
        FAIL("GET /api/assets lists %zu assets, the database %ld", json_array_size(list), rows);
    for (size_t i = 0; i < n_assets; i++) {
        TrackedAsset *t = &assets[i];
        bool listed = hash_in(list, t->hash);
        if (t->state == ASSET_MAYBE)
            t->state = listed ? ASSET_PRESENT : ASSET_ABSENT; /* in flight at the kill: either */
        else if (listed != (t->state == ASSET_PRESENT))
            FAIL("asset %s: acknowledged %s, %s after the restart", t->hash,
                 t->state == ASSET_PRESENT ? "uploaded" : "deleted", listed ? "listed" : "missing");
    }
    json_decref(a.json);
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
    if (sodium_init() < 0)
        FAIL("libsodium");
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
        pthread_t thread, uploader;
        pthread_create(&thread, NULL, killer_main, &killer);
        pthread_create(&uploader, NULL, uploader_main, NULL);
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
        pthread_join(uploader, NULL);
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
        verify_assets();
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
           "%ld uploads and %ld deletes acknowledged, %ld asset files re-hashed after restarts, "
           "integrity ok, %.1f s (seed %u)\n",
           kills, n_acked - (size_t)in_flight_committed, in_flight_committed, uploads_acked, deletes_acked,
           asset_rows_checked, ampd_now_seconds() - started, seed);
    free(assets);
    for (size_t j = 0; j < n_acked; j++)
        free(acked[j].document);
    free(acked);
    nftw(data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(root_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
