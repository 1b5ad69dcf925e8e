/* check_assets.c — audio assets (server/api_assets.c, the streamed body of
 * http.c, the assets section of store_sqlite.c).
 *
 * Every case starts the real build/ampd (tests/ampd_process.h) on a free
 * loopback port with a temporary --data, fast argon2id and small
 * --asset-max-bytes / --quota-bytes, and talks to it over raw sockets:
 * "formats": each format sniffed from a minimal file built here (a WAV
 * header and samples, an AIFF FORM, fLaC and STREAMINFO, an Ogg page, an
 * ID3v2 tag before an MPEG frame, a bare MPEG frame), text named .wav and
 * an ID3 tag before anything else refused with 415; "limits": the size cap
 * for a declared length (refused before the body is sent) and for a chunked
 * body (as it arrives), the quota, names; "sharing": one file for the same
 * content of two users, links removed one by one, another user's asset 404
 * on GET and DELETE, sessions, CSRF, tricks in the hash, a project naming
 * its sample by hash; "ranges": Range,
 * If-None-Match, the caching headers; "memory": a body 32 times
 * HTTP_BODY_MAX leaves ampd's peak RSS (VmHWM) almost where it was; "sweep":
 * start-up removes temporary and unlinked files and keeps linked ones.
 */
#include "testutil.h"
#include "ampd_process.h"

#define API_CLIENT_SECONDS 30 /* uploads of many megabytes */
#include "api_client.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AMPD_PATH
#define AMPD_PATH "build/ampd"
#endif

#define HTTP_BODY_MAX_BYTES (1u << 20) /* http.h's HTTP_BODY_MAX */
#define SMALL_MAX 65536                /* --asset-max-bytes of the small server */
#define SMALL_QUOTA 150000             /* --quota-bytes of the small server */

static pid_t ampd_pid = -1;
static unsigned ampd_port;
static char data_dir[512], root_dir[512];

static void make_dirs(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(data_dir, sizeof data_dir, "%s/ampd-assets-XXXXXX", tmp);
    snprintf(root_dir, sizeof root_dir, "%s/ampd-assets-root-XXXXXX", tmp);
    ck_assert_ptr_nonnull(mkdtemp(data_dir));
    ck_assert_ptr_nonnull(mkdtemp(root_dir));
}

/* Start ampd over the current data folder with these caps. */
static void spawn(const char *max_bytes, const char *quota)
{
    const char *args[] = {"--port", "0", "--root", root_dir, "--data", data_dir, "--argon-ops", "1",
                          "--argon-mem", "8192", "--timeout", "10", "--asset-max-bytes", max_bytes,
                          "--quota-bytes", quota, NULL};
    const char *bin = getenv("AMPD") ? getenv("AMPD") : AMPD_PATH;
    ampd_pid = ampd_spawn(bin, args, &ampd_port, NULL, 0);
    ck_assert_msg(ampd_port != 0, "ampd did not start (%s)", bin);
}

static void start_small(void)
{
    make_dirs();
    char max[32], quota[32];
    snprintf(max, sizeof max, "%d", SMALL_MAX);
    snprintf(quota, sizeof quota, "%d", SMALL_QUOTA);
    spawn(max, quota);
}

static void start_large(void)
{
    make_dirs();
    spawn("67108864", "134217728");
}

static void stop_ampd(void)
{
    ampd_stop(ampd_pid, 10);
    ampd_pid = -1;
    testutil_remove_tree(data_dir);
    testutil_remove_tree(root_dir);
}

/* ---- a small HTTP client (api_client.h) ---------------------------------------- */

/* One request: `body` of body_len bytes, framed by Content-Length unless
 * `chunk` > 0 (then chunked, in chunks of that size); `extra` more header
 * lines each ending in \r\n. */
static Reply *send_request(const Agent *a, const char *method, const char *path, const void *body, size_t body_len,
                           size_t chunk, const char *extra)
{
    size_t cap = body_len * 2 + 8192;
    char *text = malloc(cap);
    int n = snprintf(text, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n", method, path,
                     ampd_port);
    if (a && a->cookie[0])
        n += snprintf(text + n, cap - n, "Cookie: amp_session=%s\r\n", a->cookie);
    if (a && a->csrf[0])
        n += snprintf(text + n, cap - n, "X-CSRF-Token: %s\r\n", a->csrf);
    if (extra)
        n += snprintf(text + n, cap - n, "%s", extra);
    size_t len = (size_t)n;
    if (body && chunk) {
        len += (size_t)snprintf(text + len, cap - len, "Transfer-Encoding: chunked\r\n\r\n");
        for (size_t at = 0; at < body_len; at += chunk) {
            size_t k = body_len - at < chunk ? body_len - at : chunk;
            len += (size_t)snprintf(text + len, cap - len, "%zx\r\n", k);
            memcpy(text + len, (const char *)body + at, k);
            len += k;
            len += (size_t)snprintf(text + len, cap - len, "\r\n");
        }
        len += (size_t)snprintf(text + len, cap - len, "0\r\n\r\n");
    } else if (body) {
        len += (size_t)snprintf(text + len, cap - len, "Content-Length: %zu\r\n\r\n", body_len);
        memcpy(text + len, body, body_len);
        len += body_len;
    } else
        len += (size_t)snprintf(text + len, cap - len, "\r\n");
    Reply *r = api_client_exchange(ampd_port, text, len);
    free(text);
    return r;
}

static Reply *req(const Agent *a, const char *method, const char *path, const char *extra)
{
    return send_request(a, method, path, NULL, 0, 0, extra);
}

static Reply *upload(const Agent *a, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "/api/assets?name=%s", name);
    return send_request(a, "POST", path, data, len, 0, NULL);
}

/* Sign up `name` with the password "<name>-password". */
static Agent signup(const char *name)
{
    char password[256];
    snprintf(password, sizeof password, "%s-password", name);
    return api_client_signup(ampd_port, name, password);
}

/* ---- minimal audio files ------------------------------------------------------ */

typedef struct AudioBytes {
    unsigned char *data;
    size_t len;
} AudioBytes;

static void put(AudioBytes *b, const void *p, size_t n)
{
    b->data = realloc(b->data, b->len + n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_le32(AudioBytes *b, uint32_t v)
{
    unsigned char x[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
    put(b, x, 4);
}

static void put_be32(AudioBytes *b, uint32_t v)
{
    unsigned char x[4] = {v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff};
    put(b, x, 4);
}

/* `frames` 16-bit mono samples, different for each `seed`. */
static void put_samples(AudioBytes *b, size_t frames, unsigned seed)
{
    for (size_t i = 0; i < frames; i++) {
        uint16_t s = (uint16_t)(i * 37u + seed * 7919u);
        put(b, &s, 2);
    }
}

static AudioBytes make_wav(size_t frames, unsigned seed)
{
    AudioBytes b = {0};
    put(&b, "RIFF", 4);
    put_le32(&b, (uint32_t)(36 + frames * 2));
    put(&b, "WAVEfmt ", 8);
    put_le32(&b, 16);
    const unsigned char fmt[16] = {1, 0, 1, 0, 0x80, 0xbb, 0, 0, 0, 0x77, 1, 0, 2, 0, 16, 0}; /* PCM mono 48k 16-bit */
    put(&b, fmt, sizeof fmt);
    put(&b, "data", 4);
    put_le32(&b, (uint32_t)(frames * 2));
    put_samples(&b, frames, seed);
    return b;
}

static AudioBytes make_aiff(size_t frames, unsigned seed)
{
    AudioBytes b = {0};
    put(&b, "FORM", 4);
    put_be32(&b, (uint32_t)(4 + 26 + 16 + frames * 2));
    put(&b, "AIFFCOMM", 8);
    put_be32(&b, 18);
    const unsigned char comm[18] = {0, 1, 0, 0, 0, 0, 0, 16, 0x40, 0x0e, 0xbb, 0x80, 0, 0, 0, 0, 0, 0};
    put(&b, comm, sizeof comm);
    put(&b, "SSND", 4);
    put_be32(&b, (uint32_t)(8 + frames * 2));
    put_be32(&b, 0);
    put_be32(&b, 0);
    put_samples(&b, frames, seed);
    return b;
}

static AudioBytes make_flac(unsigned seed)
{
    AudioBytes b = {0};
    put(&b, "fLaC", 4);
    const unsigned char block_header[4] = {0x80, 0, 0, 34}; /* last block, STREAMINFO, 34 bytes */
    put(&b, block_header, 4);
    unsigned char info[34] = {0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x0b, 0xb8, 0x00, 0xf0};
    info[20] = (unsigned char)seed;
    put(&b, info, sizeof info);
    return b;
}

static AudioBytes make_ogg(unsigned seed)
{
    AudioBytes b = {0};
    const unsigned char page[27] = {'O', 'g', 'g', 'S', 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, (unsigned char)seed, 0, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 0, 1};
    put(&b, page, sizeof page);
    const unsigned char segment = 30;
    put(&b, &segment, 1);
    unsigned char packet[30] = {1, 'v', 'o', 'r', 'b', 'i', 's'};
    put(&b, packet, sizeof packet);
    return b;
}

static void put_mpeg_frame(AudioBytes *b, unsigned seed)
{
    const unsigned char header[4] = {0xff, 0xfb, 0x90, 0x64}; /* MPEG-1 layer III, 128 kb/s, 44.1 kHz */
    put(b, header, 4);
    put_samples(b, 200, seed);
}

/* An ID3v2.3 tag (10 bytes of header, `body` bytes of padding), then `next`. */
static AudioBytes make_id3(const AudioBytes *next)
{
    AudioBytes b = {0};
    const unsigned char tag[10] = {'I', 'D', '3', 3, 0, 0, 0, 0, 1, 4}; /* size 132, syncsafe */
    put(&b, tag, sizeof tag);
    unsigned char padding[132] = {0};
    put(&b, padding, sizeof padding);
    put(&b, next->data, next->len);
    return b;
}

static void hash_hex(const void *data, size_t len, char out[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, data, len);
    sodium_bin2hex(out, 65, digest, sizeof digest);
}

/* Upload `b` as `name`: the status and, for 200/201, the fields checked. */
static void upload_expect(const Agent *a, const char *name, const AudioBytes *b, int status, const char *format)
{
    Reply *r = upload(a, name, b->data, b->len);
    if (status != 200 && status != 201) {
        expect_free(r, status, format);
        return;
    }
    expect(r, status, NULL);
    char hash[65];
    hash_hex(b->data, b->len, hash);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "hash")), hash);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), name);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "format")), format);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "size")), (json_int_t)b->len);
    reply_free(r);
}

/* The regular files under DATA/assets/??/. */
static int count_asset_files(void)
{
    char path[700];
    int count = 0;
    for (int i = 0; i < 256; i++) {
        snprintf(path, sizeof path, "%s/assets/%02x", data_dir, i);
        DIR *d = opendir(path);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)))
            count += e->d_name[0] != '.';
        closedir(d);
    }
    return count;
}

static bool asset_file_exists(const char *hash)
{
    char path[700];
    snprintf(path, sizeof path, "%s/assets/%.2s/%s", data_dir, hash, hash);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- formats ------------------------------------------------------------------ */

START_TEST(test_formats_sniffed)
{
    Agent a = signup("sniffer");
    AudioBytes wav = make_wav(500, 1), aiff = make_aiff(500, 2), flac = make_flac(3), ogg = make_ogg(4);
    AudioBytes frame = {0};
    put_mpeg_frame(&frame, 5);
    AudioBytes id3 = make_id3(&frame);
    AudioBytes bare = {0};
    put_mpeg_frame(&bare, 6);
    AudioBytes id3_flac = make_id3(&flac);
    static const struct {
        const char *name, *format, *mime;
    } want[] = {
        {"a.wav", "wav", "audio/wav"},  {"a.aif", "aiff", "audio/aiff"}, {"a.flac", "flac", "audio/flac"},
        {"a.ogg", "ogg", "audio/ogg"},  {"a.mp3", "mp3", "audio/mpeg"},  {"b.mp3", "mp3", "audio/mpeg"},
        {"c.flac", "flac", "audio/flac"},
    };
    const AudioBytes *files[] = {&wav, &aiff, &flac, &ogg, &id3, &bare, &id3_flac};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        upload_expect(&a, want[i].name, files[i], 201, want[i].format);
        char hash[65], path[128];
        hash_hex(files[i]->data, files[i]->len, hash);
        snprintf(path, sizeof path, "/api/assets/%s", hash);
        Reply *r = req(&a, "GET", path, NULL);
        expect(r, 200, NULL);
        ck_assert_str_eq(reply_header(r, "Content-Type"), want[i].mime);
        ck_assert_uint_eq(r->body_len, files[i]->len);
        ck_assert(memcmp(r->body, files[i]->data, files[i]->len) == 0);
        reply_free(r);
    }

    /* Not audio, whatever the name or the Content-Type says. */
    const char *text = "RIFF? no, just some text that claims to be a WAV file by its name.\n";
    Reply *r = send_request(&a, "POST", "/api/assets?name=song.wav", text, strlen(text), 0,
                            "Content-Type: audio/wav\r\n");
    expect_free(r, 415, "unsupported_format");
    AudioBytes junk = {0};
    put(&junk, "this is no frame", 16);
    AudioBytes id3_junk = make_id3(&junk);
    upload_expect(&a, "tagged.mp3", &id3_junk, 415, "unsupported_format");
    AudioBytes riff_avi = make_wav(100, 7);
    memcpy(riff_avi.data + 8, "AVI ", 4);
    upload_expect(&a, "movie.wav", &riff_avi, 415, "unsupported_format");
    r = send_request(&a, "POST", "/api/assets?name=empty.wav", "", 0, 0, NULL);
    expect_free(r, 415, "unsupported_format");
    ck_assert_int_eq(count_asset_files(), 7);

    /* The list: all seven, with what was sniffed. */
    r = req(&a, "GET", "/api/assets", NULL);
    expect(r, 200, NULL);
    json_t *items = json_object_get(r->json, "assets");
    ck_assert_uint_eq(json_array_size(items), 7);
    size_t total = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        total += files[i]->len;
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "used_bytes")), (json_int_t)total);
    reply_free(r);
    const AudioBytes *all[] = {&wav, &aiff, &flac, &ogg, &frame, &id3, &bare, &id3_flac, &junk, &id3_junk, &riff_avi};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->data);
}
END_TEST

/* ---- limits --------------------------------------------------------------------- */

START_TEST(test_size_cap)
{
    Agent a = signup("capped");
    /* A declared length over the cap: refused at the head, the body never
     * sent (the reply comes without it). */
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /api/assets?name=big.wav HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Cookie: amp_session=%s\r\nX-CSRF-Token: %s\r\nContent-Length: %d\r\n\r\n",
                     a.cookie, a.csrf, SMALL_MAX + 1);
    Reply *r = api_client_exchange(ampd_port, head, (size_t)n);
    expect_free(r, 413, "asset_too_large");
    /* The same with Expect: 100-continue: no 100, the refusal. */
    n = snprintf(head, sizeof head,
                 "POST /api/assets?name=big.wav HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 "Cookie: amp_session=%s\r\nX-CSRF-Token: %s\r\nExpect: 100-continue\r\n"
                 "Content-Length: 99999999999\r\n\r\n",
                 a.cookie, a.csrf);
    r = api_client_exchange(ampd_port, head, (size_t)n);
    expect_free(r, 413, "asset_too_large");

    /* Chunked: the cap is checked as the pieces arrive. */
    size_t frames = (SMALL_MAX - 44) / 2;
    AudioBytes exact = make_wav(frames, 10); /* SMALL_MAX bytes exactly */
    ck_assert_uint_eq(exact.len, SMALL_MAX);
    AudioBytes over = make_wav(frames + 1, 11);
    r = send_request(&a, "POST", "/api/assets?name=over.wav", over.data, over.len, 4096, NULL);
    expect_free(r, 413, "asset_too_large");
    r = send_request(&a, "POST", "/api/assets?name=over.wav", over.data, over.len, 0, NULL);
    expect_free(r, 413, "asset_too_large");
    AudioBytes far = make_wav(3 * frames, 12);
    r = send_request(&a, "POST", "/api/assets?name=far.wav", far.data, far.len, 1000, NULL);
    expect_free(r, 413, "asset_too_large");
    ck_assert_int_eq(count_asset_files(), 0);
    r = send_request(&a, "POST", "/api/assets?name=exact.wav", exact.data, exact.len, 3000, NULL);
    expect(r, 201, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "size")), SMALL_MAX);
    reply_free(r);
    /* Nothing is left in tmp/. */
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s/assets/tmp", data_dir);
    DIR *d = opendir(tmp);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int left = 0;
    while ((e = readdir(d)))
        left += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(left, 0);
    free(exact.data);
    free(over.data);
    free(far.data);
}
END_TEST

START_TEST(test_quota)
{
    Agent a = signup("hoarder"), b = signup("sharer");
    /* 60000-byte files against a quota of 150000: two fit, a third not. */
    AudioBytes f1 = make_wav(29978, 20), f2 = make_wav(29978, 21), f3 = make_wav(29978, 22);
    ck_assert_uint_eq(f1.len, 60000);
    upload_expect(&a, "one.wav", &f1, 201, "wav");
    upload_expect(&a, "two.wav", &f2, 201, "wav");
    Reply *r = upload(&a, "three.wav", f3.data, f3.len);
    expect_free(r, 413, "quota_exceeded");
    /* Chunked (no declared length): refused when the row would be added,
     * and the file it made is gone again. */
    r = send_request(&a, "POST", "/api/assets?name=three.wav", f3.data, f3.len, 8192, NULL);
    expect_free(r, 413, "quota_exceeded");
    char h3[65];
    hash_hex(f3.data, f3.len, h3);
    ck_assert(!asset_file_exists(h3));
    /* Content the user has already does not count twice: 200 once the
     * body is hashed. But a declared length that would pass the quota is
     * refused at the head, before the content is known (a client can ask
     * GET /api/assets/{hash} first). */
    r = send_request(&a, "POST", "/api/assets?name=one.wav", f1.data, f1.len, 8192, NULL);
    expect_free(r, 200, NULL);
    expect_free(upload(&a, "one.wav", f1.data, f1.len), 413, "quota_exceeded");
    /* Another user's quota is their own; sharing a file costs each. */
    upload_expect(&b, "three.wav", &f3, 201, "wav");
    r = send_request(&a, "POST", "/api/assets?name=three.wav", f3.data, f3.len, 8192, NULL);
    expect_free(r, 413, "quota_exceeded");
    ck_assert(asset_file_exists(h3)); /* still b's */
    r = req(&a, "GET", "/api/assets", NULL);
    expect(r, 200, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "used_bytes")), 120000);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "quota_bytes")), SMALL_QUOTA);
    reply_free(r);
    /* Deleting makes room. */
    char path[128], h2[65];
    hash_hex(f2.data, f2.len, h2);
    snprintf(path, sizeof path, "/api/assets/%s", h2);
    expect_free(req(&a, "DELETE", path, NULL), 204, NULL);
    upload_expect(&a, "three.wav", &f3, 201, "wav");
    free(f1.data);
    free(f2.data);
    free(f3.data);
}
END_TEST

START_TEST(test_names)
{
    Agent a = signup("namer");
    AudioBytes w = make_wav(50, 30);
    Reply *r = send_request(&a, "POST", "/api/assets", w.data, w.len, 0, NULL);
    expect_free(r, 400, "missing_name");
    r = upload(&a, "", w.data, w.len);
    expect_free(r, 400, "missing_name");
    r = upload(&a, "bad%01name", w.data, w.len);
    expect_free(r, 400, "bad_name");
    r = upload(&a, "bad%ffutf8", w.data, w.len);
    expect_free(r, 400, "bad_name");
    char long_name[260];
    memset(long_name, 'n', 201);
    long_name[201] = '\0';
    r = upload(&a, long_name, w.data, w.len);
    expect_free(r, 400, "bad_name");
    r = upload(&a, "Kick%20drum%20%C3%A9.wav", w.data, w.len);
    expect(r, 201, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Kick drum \xc3\xa9.wav");
    reply_free(r);
    free(w.data);
}
END_TEST

/* ---- sharing, ownership, sessions ---------------------------------------------- */

START_TEST(test_dedup_and_ownership)
{
    Agent a = signup("alice"), b = signup("bob"), c = signup("carol");
    AudioBytes w = make_wav(4000, 40);
    char hash[65], path[128];
    hash_hex(w.data, w.len, hash);
    snprintf(path, sizeof path, "/api/assets/%s", hash);
    upload_expect(&a, "mine.wav", &w, 201, "wav");
    /* The existing link, its name kept. */
    Reply *r = upload(&a, "again.wav", w.data, w.len);
    expect(r, 200, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "mine.wav");
    reply_free(r);
    upload_expect(&b, "bobs.wav", &w, 201, "wav");
    ck_assert_int_eq(count_asset_files(), 1);

    /* Carol has no link: 404 like a missing asset, on every method. */
    Reply *missing = req(&c, "GET", "/api/assets/0000000000000000000000000000000000000000000000000000000000000000",
                         NULL);
    expect(missing, 404, "not_found");
    r = req(&c, "GET", path, NULL);
    expect(r, 404, "not_found");
    ck_assert_str_eq(r->body, missing->body);
    reply_free(r);
    reply_free(missing);
    expect_free(req(&c, "DELETE", path, NULL), 404, "not_found");
    expect_free(req(&c, "HEAD", path, NULL), 404, NULL);
    r = req(&c, "GET", "/api/assets", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r->json, "assets")), 0);
    reply_free(r);

    /* Links go one by one; the file with the last. */
    expect_free(req(&a, "DELETE", path, NULL), 204, NULL);
    expect_free(req(&a, "GET", path, NULL), 404, "not_found");
    expect_free(req(&a, "DELETE", path, NULL), 404, "not_found");
    ck_assert(asset_file_exists(hash));
    expect_free(req(&b, "GET", path, NULL), 200, NULL);
    expect_free(req(&b, "DELETE", path, NULL), 204, NULL);
    ck_assert(!asset_file_exists(hash));
    ck_assert_int_eq(count_asset_files(), 0);
    /* And it can come back. */
    upload_expect(&c, "back.wav", &w, 201, "wav");
    ck_assert(asset_file_exists(hash));
    free(w.data);
}
END_TEST

START_TEST(test_sessions_csrf_and_paths)
{
    Agent a = signup("guarded");
    AudioBytes w = make_wav(100, 50);
    char hash[65], path[128];
    hash_hex(w.data, w.len, hash);
    snprintf(path, sizeof path, "/api/assets/%s", hash);
    upload_expect(&a, "g.wav", &w, 201, "wav");

    /* No session, a forged one, no CSRF token, another site. */
    Reply *r = upload(NULL, "x.wav", w.data, w.len);
    expect_free(r, 401, "not_signed_in");
    expect_free(req(NULL, "GET", path, NULL), 401, "not_signed_in");
    expect_free(req(NULL, "GET", "/api/assets", NULL), 401, "not_signed_in");
    expect_free(req(NULL, "DELETE", path, NULL), 401, "not_signed_in");
    Agent forged = a;
    forged.cookie[5] = forged.cookie[5] == 'A' ? 'B' : 'A';
    r = upload(&forged, "x.wav", w.data, w.len);
    expect(r, 401, "session_invalid");
    ck_assert_ptr_nonnull(reply_header(r, "Set-Cookie"));
    reply_free(r);
    expect_free(req(&forged, "GET", path, NULL), 401, "session_invalid");
    Agent no_csrf = a;
    no_csrf.csrf[0] = '\0';
    expect_free(upload(&no_csrf, "x.wav", w.data, w.len), 403, "csrf");
    expect_free(req(&no_csrf, "DELETE", path, NULL), 403, "csrf");
    Agent wrong_csrf = a;
    wrong_csrf.csrf[0] = wrong_csrf.csrf[0] == 'A' ? 'B' : 'A';
    expect_free(upload(&wrong_csrf, "x.wav", w.data, w.len), 403, "csrf");
    r = send_request(&a, "POST", "/api/assets?name=x.wav", w.data, w.len, 0, "Origin: https://evil.example\r\n");
    expect_free(r, 403, "cross_origin");
    expect_free(req(&no_csrf, "GET", path, NULL), 200, NULL); /* reads need no token */

    /* Tricks in the hash. */
    char upper[128];
    snprintf(upper, sizeof upper, "/api/assets/%s", hash);
    for (char *p = upper + 12; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p -= 32;
    expect_free(req(&a, "GET", upper, NULL), 404, "not_found");
    char shorter[128], longer[140], nested[200], traversal[200];
    snprintf(shorter, sizeof shorter, "/api/assets/%.63s", hash);
    snprintf(longer, sizeof longer, "/api/assets/%s0", hash);
    snprintf(nested, sizeof nested, "/api/assets/%.2s/%s", hash, hash);
    snprintf(traversal, sizeof traversal, "/api/assets/../assets/%s", hash);
    expect_free(req(&a, "GET", shorter, NULL), 404, "not_found");
    expect_free(req(&a, "GET", longer, NULL), 404, "not_found");
    expect_free(req(&a, "GET", nested, NULL), 404, "not_found");
    expect_free(req(&a, "DELETE", nested, NULL), 404, "not_found");
    expect_free(req(&a, "GET", traversal, NULL), 400, "bad_path");
    expect_free(req(&a, "GET", "/api/assets/%2e%2e%2fampd.sqlite", NULL), 400, "bad_path");
    expect_free(req(&a, "GET", "/api/assets/..%2F..%2Fampd.sqlite", NULL), 400, "bad_path");
    expect_free(req(&a, "GET", "/api/assets/%2F..%2Fampd.sqlite", NULL), 400, "bad_path");
    char nul[160];
    snprintf(nul, sizeof nul, "/api/assets/%.32s%%00%.31s", hash, hash + 32);
    expect_free(req(&a, "GET", nul, NULL), 400, "bad_path");
    expect_free(req(&a, "GET", "/api/assets/tmp", NULL), 404, "not_found");
    expect_free(req(&a, "PUT", path, NULL), 405, "method_not_allowed");
    ck_assert(asset_file_exists(hash));
    free(w.data);
}
END_TEST

/* A project document names an uploaded sample by its hash. */
START_TEST(test_project_refers_by_hash)
{
    Agent a = signup("composer");
    AudioBytes w = make_wav(2000, 90);
    char hash[65], body[1024];
    hash_hex(w.data, w.len, hash);
    upload_expect(&a, "loop.wav", &w, 201, "wav");
    snprintf(body, sizeof body,
             "{\"name\":\"By hash\",\"document\":{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"audio\","
             "\"regions\":[{\"asset\":\"%s\",\"start_beat\":0}]}]}}",
             hash);
    Reply *r = send_request(&a, "POST", "/api/projects", body, strlen(body), 0, "Content-Type: application/json\r\n");
    expect(r, 201, NULL);
    reply_free(r);
    /* A malformed hash is the engine reader's 422, with the field. */
    snprintf(body, sizeof body,
             "{\"name\":\"Bad\",\"document\":{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"audio\","
             "\"regions\":[{\"asset\":\"%.40s\",\"start_beat\":0}]}]}}",
             hash);
    r = send_request(&a, "POST", "/api/projects", body, strlen(body), 0, "Content-Type: application/json\r\n");
    expect(r, 422, "invalid_document");
    ck_assert(strstr(json_string_value(json_object_get(json_object_get(r->json, "error"), "hint")),
                     "tracks[0].regions[0].asset"));
    reply_free(r);
    free(w.data);
}
END_TEST

/* A project names only the caller's own assets, and never a file path: a
 * hash someone else uploaded is refused exactly like one nobody did, so a
 * project cannot be used to reach another user's audio. */
START_TEST(test_project_asset_owner)
{
    Agent owner = signup("assetowner");
    Agent other = signup("assetthief");
    AudioBytes w = make_wav(1500, 70);
    char hash[65], body[1024];
    hash_hex(w.data, w.len, hash);
    upload_expect(&owner, "mine.wav", &w, 201, "wav");
    const char *shape = "{\"name\":\"P\",\"document\":{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"audio\","
                        "\"regions\":[{\"start_beat\":0},{\"asset\":\"%s\",\"start_beat\":4}]}]}}";
    snprintf(body, sizeof body, shape, hash);
    /* The first region has no sample at all: the reader's 422. */
    Reply *r = send_request(&other, "POST", "/api/projects", body, strlen(body), 0, "Content-Type: application/json\r\n");
    expect(r, 422, "invalid_document");
    reply_free(r);
    const char *one = "{\"name\":\"P\",\"document\":{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"audio\","
                      "\"regions\":[{\"start_beat\":0,\"asset\":\"%s\"},{\"asset\":\"%s\",\"start_beat\":4}]}]}}";
    char mine[65];
    AudioBytes w2 = make_wav(1200, 50);
    hash_hex(w2.data, w2.len, mine);
    upload_expect(&other, "theirs.wav", &w2, 201, "wav");
    snprintf(body, sizeof body, one, mine, hash);
    r = send_request(&other, "POST", "/api/projects", body, strlen(body), 0, "Content-Type: application/json\r\n");
    expect(r, 422, "unknown_asset");
    ck_assert(strstr(json_string_value(json_object_get(json_object_get(r->json, "error"), "hint")),
                     "tracks[0].regions[1].asset"));
    reply_free(r);
    /* The same document is the owner's own once the owner has both. */
    upload_expect(&owner, "theirs.wav", &w2, 201, "wav");
    r = send_request(&owner, "POST", "/api/projects", body, strlen(body), 0, "Content-Type: application/json\r\n");
    expect(r, 201, NULL);
    reply_free(r);
    /* A file path never reaches the store. */
    const char *path = "{\"name\":\"P\",\"document\":{\"version\":1,\"tracks\":[{\"id\":1,\"kind\":\"audio\","
                       "\"regions\":[{\"file\":\"../../etc/passwd\",\"start_beat\":0}]}]}}";
    r = send_request(&owner, "POST", "/api/projects", path, strlen(path), 0, "Content-Type: application/json\r\n");
    expect(r, 422, "file_path");
    ck_assert(strstr(json_string_value(json_object_get(json_object_get(r->json, "error"), "hint")),
                     "tracks[0].regions[0].file"));
    reply_free(r);
    free(w.data);
    free(w2.data);
}
END_TEST

/* ---- ranges and caching ------------------------------------------------------- */

START_TEST(test_ranges)
{
    Agent a = signup("ranger");
    AudioBytes w = make_wav(1000, 60); /* 2044 bytes */
    char hash[65], path[128], etag[80];
    hash_hex(w.data, w.len, hash);
    snprintf(path, sizeof path, "/api/assets/%s", hash);
    snprintf(etag, sizeof etag, "\"%s\"", hash);
    upload_expect(&a, "r.wav", &w, 201, "wav");

    Reply *r = req(&a, "GET", path, NULL);
    expect(r, 200, NULL);
    ck_assert_str_eq(reply_header(r, "ETag"), etag);
    ck_assert_str_eq(reply_header(r, "Cache-Control"), "private, max-age=31536000, immutable");
    ck_assert_str_eq(reply_header(r, "Accept-Ranges"), "bytes");
    ck_assert_str_eq(reply_header(r, "Cross-Origin-Resource-Policy"), "same-origin");
    ck_assert_uint_eq(r->body_len, 2044);
    reply_free(r);

    static const struct {
        const char *range;
        int status;
        long first, last;     /* the bytes expected (206), or -1 */
        const char *content_range;
    } cases[] = {
        {"bytes=0-0", 206, 0, 0, "bytes 0-0/2044"},
        {"bytes=-4", 206, 2040, 2043, "bytes 2040-2043/2044"},
        {"bytes=2000-", 206, 2000, 2043, "bytes 2000-2043/2044"},
        {"bytes=10-19", 206, 10, 19, "bytes 10-19/2044"},
        {"bytes=2040-99999", 206, 2040, 2043, "bytes 2040-2043/2044"},
        {"bytes=-99999", 206, 0, 2043, "bytes 0-2043/2044"},
        {"bytes=2044-", 416, -1, -1, "bytes */2044"},
        {"bytes=5000-6000", 416, -1, -1, "bytes */2044"},
        {"bytes=-0", 416, -1, -1, "bytes */2044"},
        /* Malformed, another unit, several ranges: ignored, the whole file. */
        {"bytes=abc", 200, 0, 2043, NULL},
        {"bytes=5-2", 200, 0, 2043, NULL},
        {"bytes=", 200, 0, 2043, NULL},
        {"bytes=1-2-3", 200, 0, 2043, NULL},
        {"items=0-1", 200, 0, 2043, NULL},
        {"bytes=0-1,4-5", 200, 0, 2043, NULL},
        {"bytes=99999999999999999999-", 200, 0, 2043, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "Range: %s\r\n", cases[i].range);
        r = req(&a, "GET", path, extra);
        ck_assert_msg(r->status == cases[i].status, "%s: %d", cases[i].range, r->status);
        const char *cr = reply_header(r, "Content-Range");
        if (cases[i].content_range)
            ck_assert_msg(cr && strcmp(cr, cases[i].content_range) == 0, "%s: Content-Range %s", cases[i].range,
                          cr ? cr : "(none)");
        else
            ck_assert_ptr_null(cr);
        if (cases[i].status == 416) {
            expect(r, 416, "range_not_satisfiable");
        } else {
            size_t n = (size_t)(cases[i].last - cases[i].first + 1);
            ck_assert_uint_eq(r->body_len, n);
            ck_assert(memcmp(r->body, w.data + cases[i].first, n) == 0);
            ck_assert_str_eq(reply_header(r, "Content-Type"), "audio/wav");
        }
        reply_free(r);
    }
    /* If-Range naming other content: the whole file. */
    r = req(&a, "GET", path, "Range: bytes=0-0\r\nIf-Range: \"other\"\r\n");
    expect(r, 200, NULL);
    ck_assert_uint_eq(r->body_len, 2044);
    reply_free(r);

    /* If-None-Match: 304 with no body, for the tag, a list holding it, or *. */
    const char *matching[] = {etag, "\"x\", W/\"" /* completed below */, "*"};
    char list[200];
    snprintf(list, sizeof list, "\"x\", W/%s", etag);
    matching[1] = list;
    for (size_t i = 0; i < 3; i++) {
        char extra[256];
        snprintf(extra, sizeof extra, "If-None-Match: %s\r\n", matching[i]);
        r = req(&a, "GET", path, extra);
        expect(r, 304, NULL);
        ck_assert_uint_eq(r->body_len, 0);
        ck_assert_str_eq(reply_header(r, "ETag"), etag);
        reply_free(r);
    }
    r = req(&a, "GET", path, "If-None-Match: \"other\"\r\n");
    expect(r, 200, NULL);
    reply_free(r);
    /* HEAD: the headers, no body. */
    r = req(&a, "HEAD", path, NULL);
    expect(r, 200, NULL);
    ck_assert_uint_eq(r->body_len, 0);
    ck_assert_str_eq(reply_header(r, "Content-Length"), "2044");
    reply_free(r);
    free(w.data);
}
END_TEST

/* ---- memory ----------------------------------------------------------------------- */

/* Peak resident set of a process (VmHWM), in KiB; -1 when unknown. */
static long peak_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

START_TEST(test_streaming_memory)
{
    Agent a = signup("streamer");
    /* Warm up: one small upload, so that lazily made things (the worker
     * connections' caches, the upload's buffer) are in the baseline. */
    AudioBytes small = make_wav(1000, 70);
    upload_expect(&a, "small.wav", &small, 201, "wav");
    long before = peak_rss_kib(ampd_pid);
    ck_assert_int_gt(before, 0);

    size_t size = 32 * (size_t)HTTP_BODY_MAX_BYTES;
    AudioBytes big = make_wav((size - 44) / 2, 71);
    double started = ampd_now_seconds();
    Reply *r = upload(&a, "big.wav", big.data, big.len);
    double seconds = ampd_now_seconds() - started;
    expect(r, 201, NULL);
    reply_free(r);
    long after = peak_rss_kib(ampd_pid);
    fprintf(stderr, "check_assets: a %zu MiB upload in %.2f s: ampd's peak RSS %ld KiB before, %ld KiB after\n",
            size >> 20, seconds, before, after);
    ck_assert_msg(after - before < 4096, "peak RSS grew by %ld KiB for a %zu KiB body", after - before, size >> 10);
    ck_assert_msg(after < (long)(size >> 10) / 2, "peak RSS %ld KiB", after);
    /* And chunked. */
    big.data[100] ^= 1;
    r = send_request(&a, "POST", "/api/assets?name=big2.wav", big.data, big.len, 60000, NULL);
    expect(r, 201, NULL);
    reply_free(r);
    after = peak_rss_kib(ampd_pid);
    ck_assert_msg(after - before < 4096, "peak RSS grew by %ld KiB (chunked)", after - before);

    /* The file on disk is the body, byte for byte (its name its hash). */
    char hash[65], path[700];
    hash_hex(big.data, big.len, hash);
    snprintf(path, sizeof path, "%s/assets/%.2s/%s", data_dir, hash, hash);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *back = malloc(big.len + 1);
    ck_assert_uint_eq(fread(back, 1, big.len + 1, f), big.len);
    fclose(f);
    ck_assert(memcmp(back, big.data, big.len) == 0);
    free(back);
    free(big.data);
    free(small.data);
}
END_TEST

/* ---- the start-up sweep ---------------------------------------------------------- */

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

START_TEST(test_startup_sweep)
{
    Agent a = signup("sweeper");
    AudioBytes kept = make_wav(100, 80), orphan = make_wav(100, 81);
    char kept_hash[65], orphan_hash[65], path[800];
    hash_hex(kept.data, kept.len, kept_hash);
    hash_hex(orphan.data, orphan.len, orphan_hash);
    upload_expect(&a, "kept.wav", &kept, 201, "wav");
    ampd_stop(ampd_pid, 10);

    /* What a crash can leave: a temporary file, a file no row links. And
     * something that is not ours, which stays. */
    snprintf(path, sizeof path, "%s/assets/tmp/upload-0123456789abcdef", data_dir);
    write_file(path, "partial", 7);
    snprintf(path, sizeof path, "%s/assets/%.2s", data_dir, orphan_hash);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/assets/%.2s/%s", data_dir, orphan_hash, orphan_hash);
    write_file(path, orphan.data, orphan.len);
    snprintf(path, sizeof path, "%s/assets/%.2s/README", data_dir, orphan_hash);
    write_file(path, "not ours", 8);

    char max[32], quota[32];
    snprintf(max, sizeof max, "%d", SMALL_MAX);
    snprintf(quota, sizeof quota, "%d", SMALL_QUOTA);
    spawn(max, quota);
    ck_assert(asset_file_exists(kept_hash));
    ck_assert(!asset_file_exists(orphan_hash));
    snprintf(path, sizeof path, "%s/assets/tmp/upload-0123456789abcdef", data_dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/assets/%.2s/README", data_dir, orphan_hash);
    ck_assert_int_eq(access(path, F_OK), 0);
    snprintf(path, sizeof path, "/api/assets/%s", kept_hash);
    expect_free(req(&a, "GET", path, NULL), 200, NULL);
    free(kept.data);
    free(orphan.data);
}
END_TEST

static Suite *assets_suite(void)
{
    Suite *s = suite_create("assets");
    TCase *formats = tcase_create("formats");
    tcase_add_checked_fixture(formats, start_small, stop_ampd);
    tcase_set_timeout(formats, 60);
    tcase_add_test(formats, test_formats_sniffed);
    suite_add_tcase(s, formats);

    TCase *limits = tcase_create("limits");
    tcase_add_checked_fixture(limits, start_small, stop_ampd);
    tcase_set_timeout(limits, 60);
    tcase_add_test(limits, test_size_cap);
    tcase_add_test(limits, test_quota);
    tcase_add_test(limits, test_names);
    suite_add_tcase(s, limits);

    TCase *sharing = tcase_create("sharing");
    tcase_add_checked_fixture(sharing, start_small, stop_ampd);
    tcase_set_timeout(sharing, 60);
    tcase_add_test(sharing, test_dedup_and_ownership);
    tcase_add_test(sharing, test_sessions_csrf_and_paths);
    tcase_add_test(sharing, test_project_refers_by_hash);
    tcase_add_test(sharing, test_project_asset_owner);
    suite_add_tcase(s, sharing);

    TCase *ranges = tcase_create("ranges");
    tcase_add_checked_fixture(ranges, start_small, stop_ampd);
    tcase_set_timeout(ranges, 60);
    tcase_add_test(ranges, test_ranges);
    suite_add_tcase(s, ranges);

    TCase *memory = tcase_create("memory");
    tcase_add_checked_fixture(memory, start_large, stop_ampd);
    tcase_set_timeout(memory, 120);
    tcase_add_test(memory, test_streaming_memory);
    suite_add_tcase(s, memory);

    TCase *sweep = tcase_create("sweep");
    tcase_add_checked_fixture(sweep, start_small, stop_ampd);
    tcase_set_timeout(sweep, 60);
    tcase_add_test(sweep, test_startup_sweep);
    suite_add_tcase(s, sweep);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    return testutil_run(assets_suite());
}
