/* api_assets.c — audio assets: uploads streamed to disk, stored by content.
 *
 *   POST   /api/assets?name=NAME    body: the raw file           201, 200 (the caller had it)
 *   GET    /api/assets              the caller's assets          200
 *   GET    /api/assets/{hash}       the bytes (Range, ETag)      200, 206, 304, 416
 *   DELETE /api/assets/{hash}       the caller's link removed    204
 *
 * All need a caller (api.h); writes need the CSRF token. Another user's
 * asset is 404 exactly like a missing one: links are found only through
 * their owner (store.h).
 *
 * Files: DATA/assets/ab/abcdef... holds the content whose SHA-256 in
 * lowercase hex is abcdef..., under a folder named by its first two digits;
 * an upload in progress is DATA/assets/tmp/upload-RANDOM. A row of
 * asset_links (owner, hash, name, size, format, created_at) is one user's
 * link to a file; the same content uploaded twice, by one user or by two,
 * is one file.
 *
 * An upload (HttpRoute.streams_body): at the head, before any of the body
 * is read, a worker checks the caller, the CSRF token, the name, the
 * declared size against --asset-max-bytes and the caller's usage against
 * --quota-bytes, and creates the temporary file; a refusal there is
 * answered at once and the body never read. Then each piece of the body,
 * as libmicrohttpd hands it over, is copied into the upload's buffer (at
 * most one piece: the connection's read buffer, under 128 KiB) and written
 * and hashed (crypto_hash_sha256, incremental) by a worker while the
 * connection is suspended: the event loop never blocks on the disk, and
 * the memory of an upload is one piece whatever its size. The size cap is
 * checked as pieces arrive. Once the body is complete a worker, again:
 *   1. sniffs the format from the first bytes (not the name, not the
 *      Content-Type): RIFF....WAVE, fLaC, ID3v2 followed by an MPEG frame or
 *      fLaC, an MPEG audio frame header, OggS, FORM....AIFF/AIFC; else 415;
 *   2. fsyncs the temporary file;
 *   3. under the lock of the hash (a process-wide stripe, so that a delete
 *      cannot remove a file an upload has just found), renames it to
 *      ab/<hash> (or drops it when that file exists) and fsyncs ab/;
 *   4. commits the row (with the quota checked in the same transaction).
 * So a committed row always names a complete, durable file. Deleting does
 * it the other way round: the row is committed first, then the file is
 * removed when no row names it any more. A crash between leaves a file no
 * row names (or a temporary file), never a row without its file; start-up
 * removes both (api_assets_start).
 *
 * Serving: the file is opened beneath the assets folder's descriptor with
 * no symlink followed (static_open_beneath) and handed to libmicrohttpd
 * (sendfile, at an offset for a range); the content never changes under
 * its hash, so it is cached for a year and revalidated by ETag.
 */
#include "api.h"
#include "project.h"

#include <sodium.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ASSET_NAME_MAX 200            /* bytes of a name */
#define ASSET_NAME_RAW_MAX 1024       /* longer query values are not even copied */
#define ASSET_LOCK_STRIPES 64
#define ASSET_TEMP_PREFIX "upload-"

/* The assets folder, set at start-up; read-only afterwards but for the
 * stripes. */
typedef struct AssetFolder {
    int dir_fd;                       /* DATA/assets, O_RDONLY: opened beneath, fsynced */
    int tmp_fd;                       /* DATA/assets/tmp */
    int64_t max_bytes, quota_bytes;
    pthread_mutex_t stripes[ASSET_LOCK_STRIPES]; /* by the hash's first byte */
} AssetFolder;

static AssetFolder folder = {.dir_fd = -1, .tmp_fd = -1};

/* ---- formats --------------------------------------------------------------- */

typedef struct AudioFormat {
    const char *name;                 /* as stored and returned */
    const char *mime;
} AudioFormat;

static const AudioFormat format_wav = {"wav", "audio/wav"};
static const AudioFormat format_flac = {"flac", "audio/flac"};
static const AudioFormat format_mp3 = {"mp3", "audio/mpeg"};
static const AudioFormat format_ogg = {"ogg", "audio/ogg"};
static const AudioFormat format_aiff = {"aiff", "audio/aiff"};

static const AudioFormat *format_named(const char *name)
{
    static const AudioFormat *const all[] = {&format_wav, &format_flac, &format_mp3, &format_ogg, &format_aiff};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

/* An MPEG audio frame header: 11 sync bits, and no reserved version,
 * layer, bitrate or sample rate (which rules out most text and ADTS). */
static bool mpeg_frame(const unsigned char *b)
{
    return b[0] == 0xff && (b[1] & 0xe0) == 0xe0 && ((b[1] >> 3) & 3) != 1 && ((b[1] >> 1) & 3) != 0 &&
           (b[2] >> 4) != 15 && ((b[2] >> 2) & 3) != 3;
}

/* The format of the file behind `fd`, from its first bytes; NULL when it
 * is none we take. */
static const AudioFormat *sniff_format(int fd)
{
    unsigned char b[12];
    if (pread(fd, b, sizeof b, 0) != (ssize_t)sizeof b)
        return NULL; /* no audio file is shorter */
    if (memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WAVE", 4) == 0)
        return &format_wav;
    if (memcmp(b, "FORM", 4) == 0 && (memcmp(b + 8, "AIFF", 4) == 0 || memcmp(b + 8, "AIFC", 4) == 0))
        return &format_aiff;
    if (memcmp(b, "fLaC", 4) == 0)
        return &format_flac;
    if (memcmp(b, "OggS", 4) == 0 && b[4] == 0)
        return &format_ogg;
    if (mpeg_frame(b))
        return &format_mp3;
    if (memcmp(b, "ID3", 3) != 0 || b[3] == 0xff || b[4] == 0xff || ((b[6] | b[7] | b[8] | b[9]) & 0x80))
        return NULL;
    /* An ID3v2 tag (its size in four 7-bit bytes, plus a footer when
     * flagged): what follows decides. */
    off_t after = 10 + ((off_t)b[6] << 21 | (off_t)b[7] << 14 | (off_t)b[8] << 7 | (off_t)b[9]);
    if (b[5] & 0x10)
        after += 10;
    unsigned char next[4];
    if (pread(fd, next, sizeof next, after) != (ssize_t)sizeof next)
        return NULL;
    if (memcmp(next, "fLaC", 4) == 0)
        return &format_flac;
    return mpeg_frame(next) ? &format_mp3 : NULL;
}

/* ---- names, hashes, files ----------------------------------------------------- */

static bool is_asset_hash(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= STORE_ASSET_HASH_HEX || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == STORE_ASSET_HASH_HEX;
}

static pthread_mutex_t *stripe_of(const char *hash)
{
    unsigned byte = (unsigned)strtoul((char[]){hash[0], hash[1], '\0'}, NULL, 16);
    return &folder.stripes[byte % ASSET_LOCK_STRIPES];
}

/* "ab/abcdef..." for a hash. */
static void file_path(const char *hash, char out[STORE_ASSET_HASH_HEX + 4])
{
    snprintf(out, STORE_ASSET_HASH_HEX + 4, "%.2s/%s", hash, hash);
}

/* The folder ab/ of a hash, made (and its parent fsynced) when missing;
 * -1 with errno. */
static int open_subfolder(const char *hash)
{
    char sub[3] = {hash[0], hash[1], '\0'};
    int fd = openat(folder.dir_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    if (mkdirat(folder.dir_fd, sub, 0700) != 0 && errno != EEXIST)
        return -1;
    if (fsync(folder.dir_fd) != 0)
        return -1;
    return openat(folder.dir_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A store or file failure as a reply: 507 when the disk is full. */
static void file_error(ApiCall *call, int err, const char *what)
{
    fprintf(stderr, "ampd: assets: %s: %s\n", what, strerror(err));
    if (err == ENOSPC || err == EDQUOT)
        api_error(call, MHD_HTTP_INSUFFICIENT_STORAGE, "insufficient_storage", "the server's disk is full");
    else
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "storage_error", "the file could not be stored; try again");
}

static json_t *asset_json(const StoreAsset *a)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:I}", "hash", a->hash, "name", a->name, "size", (json_int_t)a->size,
                     "format", a->format, "created_at", (json_int_t)a->created_at);
}

/* ---- the upload -------------------------------------------------------------------- */

/* One upload, from its head to its completion. Threading: the head's work
 * and the finishing work run on a worker while the connection is
 * suspended; each piece is taken whole on the event loop, and written by a
 * worker while the connection is suspended, so at any time one thread owns
 * the upload. The worker's writes are seen by the event loop through
 * MHD_resume_connection (it takes libmicrohttpd's lock, and so does the
 * pool thread before it processes the connection again); while the
 * connection is suspended http.c does not offer the sink any piece. */
typedef struct AssetUpload {
    char name[ASSET_NAME_RAW_MAX + 1];
    bool name_given;
    bool name_too_long;
    int64_t declared;                 /* Content-Length, -1 when chunked */
    int fd;                           /* the temporary file, -1 before and after */
    char temp_name[48];               /* its name in tmp/, "" once renamed or removed */
    crypto_hash_sha256_state hash;
    /* The body. */
    struct MHD_Connection *conn;
    char *buffer;                     /* the piece being written */
    size_t buffer_cap;
    size_t pending;                   /* bytes of `buffer` the worker writes */
    int write_error;                  /* errno of a failed write, 0 */
    int64_t received;                 /* bytes of the body taken */
    enum { UPLOAD_OK, UPLOAD_TOO_LARGE, UPLOAD_BUSY, UPLOAD_WRITE_FAILED } refused;
} AssetUpload;

static void discard_temp(AssetUpload *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    if (u->temp_name[0])
        unlinkat(folder.tmp_fd, u->temp_name, 0);
    u->temp_name[0] = '\0';
}

/* With the call: upload_finish has removed the temporary file on a worker;
 * only after a dropped connection, or a session refused at the end of the
 * body, is it unlinked here, on the event loop (rare, and what start-up
 * would do otherwise). */
static void upload_free(void *state)
{
    AssetUpload *u = state;
    if (!u)
        return;
    discard_temp(u);
    free(u->buffer);
    free(u);
}

/* The name as given: 1..ASSET_NAME_MAX bytes of UTF-8, no control
 * characters. false with the reply set. */
static bool check_name(ApiCall *call, const AssetUpload *u)
{
    if (!u->name_given || !u->name[0]) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "missing_name", "an upload needs ?name=... (the file's name)");
        return false;
    }
    if (u->name_too_long || strlen(u->name) > ASSET_NAME_MAX) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_name", "an asset name is at most 200 bytes");
        return false;
    }
    json_t *utf8 = json_string(u->name); /* NULL when not valid UTF-8 */
    json_decref(utf8);
    bool control = false;
    for (const unsigned char *p = (const unsigned char *)u->name; *p; p++)
        control |= *p < 0x20 || *p == 0x7f;
    if (!utf8 || control) {
        api_error(call, MHD_HTTP_BAD_REQUEST, "bad_name", "an asset name is UTF-8 without control characters");
        return false;
    }
    return true;
}

static void reply_too_large(ApiCall *call)
{
    char hint[128];
    snprintf(hint, sizeof hint, "an audio file may have at most %" PRId64 " bytes", folder.max_bytes);
    api_error(call, MHD_HTTP_CONTENT_TOO_LARGE, "asset_too_large", hint);
}

static void reply_over_quota(ApiCall *call)
{
    char hint[160];
    snprintf(hint, sizeof hint, "your audio files may take at most %" PRId64 " bytes in all; delete some first",
             folder.quota_bytes);
    api_error(call, MHD_HTTP_CONTENT_TOO_LARGE, "quota_exceeded", hint);
}

/* On a worker, at the head (the caller checked): refuse what can be
 * refused before the body is read, else create the temporary file and
 * leave no reply, so that upload_proceed starts the stream. */
static void upload_begin(ApiCall *call, StoreConn *db)
{
    AssetUpload *u = call->extra;
    if (!check_name(call, u))
        return;
    if (u->declared > folder.max_bytes) {
        reply_too_large(call);
        return;
    }
    int64_t used = 0;
    StoreStatus st = store_asset_usage(db, call->user.id, &used);
    if (st != STORE_OK) {
        api_store_error(call, st);
        return;
    }
    /* The declared size against the quota now; the size received is
     * checked again when the row is added. (Content the caller already has
     * would not count, but is refused here too when it would not fit.) */
    if (u->declared > folder.quota_bytes - used) {
        reply_over_quota(call);
        return;
    }
    unsigned char raw[8];
    char hex[sizeof raw * 2 + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    snprintf(u->temp_name, sizeof u->temp_name, ASSET_TEMP_PREFIX "%s", hex);
    u->fd = openat(folder.tmp_fd, u->temp_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        u->temp_name[0] = '\0';
        file_error(call, errno, "creating a temporary file");
        return;
    }
    crypto_hash_sha256_init(&u->hash);
}

/* On a worker: write and hash one piece, then give the connection back. */
static void write_piece(void *context, void *arg)
{
    AssetUpload *u = arg;
    struct MHD_Connection *conn = u->conn; /* `u` may be freed once resumed */
    size_t done = 0;
    while (done < u->pending) {
        ssize_t n = write(u->fd, u->buffer + done, u->pending - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            u->write_error = n < 0 ? errno : EIO;
            break;
        }
        done += (size_t)n;
    }
    if (!u->write_error)
        crypto_hash_sha256_update(&u->hash, (const unsigned char *)u->buffer, u->pending);
    u->pending = 0;
    MHD_resume_connection(conn);
}

/* HttpBodySink.piece, on the event loop, the connection not suspended (the
 * last piece written): take the whole piece into the upload's buffer,
 * suspend, and have a worker write it.
 *
 * Always the whole piece: bytes left in libmicrohttpd's read buffer would
 * be offered again only when the socket is readable again, and the client
 * may have sent everything already (the stall this replaced: a piece taken
 * after its write, in a second call, while more of the body had arrived,
 * left those bytes behind until the idle timeout). Taken whole, the read
 * buffer is empty when the connection is resumed, and what is still to come
 * can only come from the socket. */
static long upload_piece(struct MHD_Connection *conn, void *state, const char *data, size_t size)
{
    ApiCall *call = state;
    AssetUpload *u = call->extra;
    if (u->write_error) {
        u->refused = UPLOAD_WRITE_FAILED;
        return -1;
    }
    if ((int64_t)size > folder.max_bytes - u->received) {
        u->refused = UPLOAD_TOO_LARGE;
        return -1;
    }
    if (size > u->buffer_cap) {
        char *grown = realloc(u->buffer, size);
        if (!grown) {
            u->write_error = ENOMEM;
            u->refused = UPLOAD_WRITE_FAILED;
            return -1;
        }
        u->buffer = grown;
        u->buffer_cap = size;
    }
    memcpy(u->buffer, data, size);
    u->conn = conn;
    u->pending = size;
    u->received += (int64_t)size;
    MHD_suspend_connection(conn);
    if (!workers_submit(api_settings.workers, write_piece, u)) {
        u->pending = 0;
        MHD_resume_connection(conn);
        u->refused = UPLOAD_BUSY;
        return -1;
    }
    return (long)size;
}

/* Under the hash's lock: the temporary file becomes ab/<hash>, or is
 * dropped when that file is there already; then ab/ is fsynced, so the
 * name is durable before any row names it. 0, or an errno. */
static int place_file(AssetUpload *u, const char *hash)
{
    int sub = open_subfolder(hash);
    if (sub < 0)
        return errno;
    struct stat st;
    int err = 0;
    if (fstatat(sub, hash, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && st.st_size == u->received) {
        /* The same content (its name is its hash), fsynced before it was
         * renamed there; its name may not be durable yet if its upload is
         * still finishing, hence the fsync of ab/ below all the same. */
        discard_temp(u);
    } else if (renameat(folder.tmp_fd, u->temp_name, sub, hash) == 0) {
        u->temp_name[0] = '\0';
    } else
        err = errno;
    if (!err && fsync(sub) != 0)
        err = errno;
    close(sub);
    return err;
}

/* Remove ab/<hash> if no row names it (an upload whose row was refused).
 * Under the hash's lock. */
static void remove_if_unlinked(StoreConn *db, const char *hash)
{
    bool linked = true;
    if (store_asset_linked(db, hash, &linked) == STORE_OK && !linked) {
        char path[STORE_ASSET_HASH_HEX + 4];
        file_path(hash, path);
        unlinkat(folder.dir_fd, path, 0);
    }
}

/* On a worker, the body complete: the durability steps of the file
 * comment, and the reply. */
static void finish_upload(ApiCall *call, StoreConn *db)
{
    AssetUpload *u = call->extra;
    switch (u->refused) {
    case UPLOAD_TOO_LARGE:
        reply_too_large(call);
        return;
    case UPLOAD_BUSY:
        api_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "the server is busy; try again in a moment");
        call->retry_after = 1;
        return;
    case UPLOAD_WRITE_FAILED:
        file_error(call, u->write_error, "writing an upload");
        return;
    case UPLOAD_OK:
        break;
    }
    if (u->write_error) { /* the last piece's write */
        file_error(call, u->write_error, "writing an upload");
        return;
    }
    const AudioFormat *format = sniff_format(u->fd);
    if (!format) {
        api_error(call, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_format",
                  "not an audio file this server takes: WAV, AIFF, FLAC, MP3 or Ogg");
        return;
    }
    StoreAsset asset = {.size = u->received, .created_at = api_now()};
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&u->hash, digest);
    sodium_bin2hex(asset.hash, sizeof asset.hash, digest, sizeof digest);
    snprintf(asset.name, sizeof asset.name, "%.*s", (int)sizeof asset.name - 1, u->name); /* checked: it fits */
    snprintf(asset.format, sizeof asset.format, "%s", format->name);
    if (fsync(u->fd) != 0) {
        file_error(call, errno, "fsync of an upload");
        return;
    }
    pthread_mutex_t *lock = stripe_of(asset.hash);
    pthread_mutex_lock(lock);
    int err = place_file(u, asset.hash);
    StoreAsset link;
    bool created = false;
    StoreStatus st = err ? STORE_ERROR
                         : store_asset_link(db, call->user.id, &asset, folder.quota_bytes, &link, &created);
    if (!err && st != STORE_OK)
        remove_if_unlinked(db, asset.hash);
    pthread_mutex_unlock(lock);
    if (err)
        file_error(call, err, "placing an upload");
    else if (st == STORE_CONFLICT)
        reply_over_quota(call);
    else if (st != STORE_OK)
        api_store_error(call, st);
    else
        api_reply(call, created ? MHD_HTTP_CREATED : MHD_HTTP_OK, asset_json(&link));
}

/* The temporary file goes whatever happened, here on the worker (once
 * renamed, only its descriptor is left to close). */
static void upload_finish(ApiCall *call, StoreConn *db)
{
    finish_upload(call, db);
    discard_temp(call->extra);
}

static enum MHD_Result upload_end(struct MHD_Connection *conn, const HttpRequest *req, void *state)
{
    return api_defer_again(conn, state, upload_finish);
}

static const HttpBodySink upload_sink = {upload_piece, upload_end};

/* ApiCall.proceed at the head, the checks passed: read the body. */
static enum MHD_Result upload_proceed(struct MHD_Connection *conn, void *state)
{
    ApiCall *call = state;
    http_stream_body(call->req, &upload_sink, call);
    return MHD_YES;
}

static enum MHD_Result upload_start(struct MHD_Connection *conn, const HttpRequest *req)
{
    AssetUpload *u = calloc(1, sizeof *u);
    if (!u)
        return MHD_NO;
    u->fd = -1;
    const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
    if (name) {
        u->name_given = true;
        u->name_too_long = strlen(name) > ASSET_NAME_RAW_MAX;
        snprintf(u->name, sizeof u->name, "%s", u->name_too_long ? "" : name);
    }
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    u->declared = -1;
    if (length) {
        unsigned long long n = strtoull(length, NULL, 10);
        u->declared = n > (unsigned long long)INT64_MAX ? INT64_MAX : (int64_t)n;
    }
    return api_defer_ext(conn, req, upload_begin, API_USER | API_WRITE, NULL, 0, upload_proceed, u, upload_free);
}

/* ---- the list -------------------------------------------------------------------- */

static void assets_list(ApiCall *call, StoreConn *db)
{
    StoreAssetList list;
    int64_t used = 0;
    StoreStatus st = store_asset_list(db, call->user.id, &list);
    if (st == STORE_OK && (st = store_asset_usage(db, call->user.id, &used)) != STORE_OK)
        store_asset_list_free(&list);
    if (st != STORE_OK) {
        api_store_error(call, st);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < list.count; i++)
        json_array_append_new(items, asset_json(&list.items[i]));
    store_asset_list_free(&list);
    api_reply(call, MHD_HTTP_OK,
              json_pack("{s:o,s:I,s:I,s:I}", "assets", items, "used_bytes", (json_int_t)used, "quota_bytes",
                        (json_int_t)folder.quota_bytes, "max_bytes", (json_int_t)folder.max_bytes));
}

enum MHD_Result api_assets_collection(struct MHD_Connection *conn, const HttpRequest *req)
{
    if (strcmp(req->method, "POST") == 0)
        return upload_start(conn, req);
    return api_defer(conn, req, assets_list, API_USER, NULL, 0);
}

/* ---- one asset ------------------------------------------------------------------- */

typedef struct AssetItem {
    char hash[STORE_ASSET_HASH_HEX + 1]; /* "" when the path held no hash */
    int fd;                              /* the opened file, -1 */
    int64_t size;
    const AudioFormat *format;
} AssetItem;

static void item_free(void *state)
{
    AssetItem *item = state;
    if (item && item->fd >= 0)
        close(item->fd);
    free(item);
}

static void reply_no_asset(ApiCall *call)
{
    api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such asset");
}

/* On a worker: the caller's link, and its file opened. */
static void item_open(ApiCall *call, StoreConn *db)
{
    AssetItem *item = call->extra;
    StoreAsset asset;
    StoreStatus st = item->hash[0] ? store_asset_get(db, call->user.id, item->hash, &asset) : STORE_NOT_FOUND;
    if (st == STORE_NOT_FOUND) {
        reply_no_asset(call);
        return;
    }
    if (st != STORE_OK) {
        api_store_error(call, st);
        return;
    }
    char path[STORE_ASSET_HASH_HEX + 4];
    file_path(item->hash, path);
    item->fd = static_open_beneath(folder.dir_fd, path, O_RDONLY);
    struct stat sb;
    if (item->fd < 0 || fstat(item->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        /* A row always names a complete file; this is damage. */
        fprintf(stderr, "ampd: assets: %s is linked but cannot be opened\n", item->hash);
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "missing_file", "the asset's file cannot be read");
        return;
    }
    item->size = sb.st_size;
    item->format = format_named(asset.format);
}

typedef enum RangeKind { RANGE_NONE, RANGE_ONE, RANGE_UNSATISFIABLE } RangeKind;

/* A decimal number of at most 18 digits at *p; -1 when none. */
static int64_t range_number(const char **p)
{
    int64_t n = 0;
    int digits = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++, digits++) {
        if (digits == 18)
            return -1;
        n = n * 10 + (**p - '0');
    }
    return digits ? n : -1;
}

/* Range (RFC 9110 14.1.2), one range of bytes: "a-b", "a-" or "-n". A
 * header that is malformed, of another unit or holds several ranges is
 * ignored (RANGE_NONE: the whole file, 200). */
static RangeKind parse_range(const char *value, int64_t size, int64_t *first, int64_t *last)
{
    if (!value || strncmp(value, "bytes=", 6) != 0)
        return RANGE_NONE;
    const char *p = value + 6;
    if (*p == '-') {
        p++;
        int64_t n = range_number(&p);
        if (n < 0 || *p)
            return RANGE_NONE;
        if (n == 0)
            return RANGE_UNSATISFIABLE;
        *first = n >= size ? 0 : size - n;
        *last = size - 1;
        return RANGE_ONE;
    }
    int64_t a = range_number(&p);
    if (a < 0 || *p++ != '-')
        return RANGE_NONE;
    int64_t b = *p ? range_number(&p) : INT64_MAX; /* "a-": to the end */
    if (b < 0 || *p || b < a)
        return RANGE_NONE;
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    *first = a;
    *last = b < size ? b : size - 1;
    return RANGE_ONE;
}

static void add_asset_headers(struct MHD_Response *resp, const char *etag)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private, max-age=31536000, immutable");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
}

/* ApiCall.proceed on the event loop, the file open: 304, 416, 206 or 200. */
static enum MHD_Result item_send(struct MHD_Connection *conn, void *state)
{
    ApiCall *call = state;
    AssetItem *item = call->extra;
    char etag[STORE_ASSET_HASH_HEX + 3];
    snprintf(etag, sizeof etag, "\"%s\"", item->hash);
    const char *if_none_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (if_none_match && http_etag_listed(if_none_match, etag)) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (resp)
            add_asset_headers(resp, etag);
        return http_reply(conn, MHD_HTTP_NOT_MODIFIED, resp);
    }
    /* A Range with an If-Range naming other content: the whole file. */
    const char *range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    const char *if_range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
    if (if_range && strcmp(if_range, etag) != 0)
        range = NULL;
    int64_t first = 0, last = item->size - 1;
    RangeKind kind = parse_range(range, item->size, &first, &last);
    char content_range[96];
    if (kind == RANGE_UNSATISFIABLE) {
        struct MHD_Response *resp = http_json_response(
            http_error_body("range_not_satisfiable", "the range asked for lies past the end of the file"));
        snprintf(content_range, sizeof content_range, "bytes */%" PRId64, item->size);
        if (resp) {
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
            MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
        }
        return http_reply(conn, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
    }
    /* libmicrohttpd owns the descriptor from here and closes it. */
    struct MHD_Response *resp =
        MHD_create_response_from_fd_at_offset64((uint64_t)(last - first + 1), item->fd, (uint64_t)first);
    if (!resp)
        return MHD_NO;
    item->fd = -1;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            item->format ? item->format->mime : "application/octet-stream");
    add_asset_headers(resp, etag);
    if (kind == RANGE_ONE) {
        snprintf(content_range, sizeof content_range, "bytes %" PRId64 "-%" PRId64 "/%" PRId64, first, last,
                 item->size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
        return http_reply(conn, MHD_HTTP_PARTIAL_CONTENT, resp);
    }
    return http_reply(conn, MHD_HTTP_OK, resp);
}

/* On a worker: the caller's link goes; the file too when no link is left
 * (after the commit: a crash between leaves an unlinked file, which
 * start-up removes). */
static void item_delete(ApiCall *call, StoreConn *db)
{
    AssetItem *item = call->extra;
    if (!item->hash[0]) {
        reply_no_asset(call);
        return;
    }
    pthread_mutex_t *lock = stripe_of(item->hash);
    pthread_mutex_lock(lock);
    int64_t remaining = 1;
    StoreStatus st = store_asset_unlink(db, call->user.id, item->hash, &remaining);
    if (st == STORE_OK && remaining == 0) {
        char path[STORE_ASSET_HASH_HEX + 4];
        file_path(item->hash, path);
        if (unlinkat(folder.dir_fd, path, 0) != 0 && errno != ENOENT)
            fprintf(stderr, "ampd: assets: removing %s: %s\n", item->hash, strerror(errno));
    }
    pthread_mutex_unlock(lock);
    if (st == STORE_NOT_FOUND)
        reply_no_asset(call);
    else if (st != STORE_OK)
        api_store_error(call, st);
    else
        api_reply(call, MHD_HTTP_NO_CONTENT, NULL);
}

enum MHD_Result api_assets_item(struct MHD_Connection *conn, const HttpRequest *req)
{
    AssetItem *item = calloc(1, sizeof *item);
    if (!item)
        return MHD_NO;
    item->fd = -1;
    const char *hash = req->path + strlen("/api/assets/");
    /* Anything but 64 lowercase hex digits names no asset: 404 after the
     * caller is checked, like another user's. */
    if (is_asset_hash(hash))
        memcpy(item->hash, hash, sizeof item->hash);
    if (strcmp(req->method, "DELETE") == 0)
        return api_defer_ext(conn, req, item_delete, API_USER | API_WRITE, NULL, 0, NULL, item, item_free);
    return api_defer_ext(conn, req, item_open, API_USER, NULL, 0, item_send, item, item_free);
}

/* ---- start and stop ------------------------------------------------------------------ */

void api_assets_default_options(AssetOptions *o)
{
    *o = (AssetOptions){.max_bytes = (int64_t)512 << 20, .quota_bytes = (int64_t)5 << 30};
}

static int open_folder(int parent, const char *name)
{
    if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST)
        return -1;
    return openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Remove every entry of `dir_fd` for which `keep` says false; the count. */
static unsigned sweep_folder(int dir_fd, bool (*keep)(const char *name, void *arg), void *arg)
{
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    unsigned removed = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || keep(e->d_name, arg))
            continue;
        if (unlinkat(dir_fd, e->d_name, 0) == 0)
            removed++;
    }
    closedir(dir);
    return removed;
}

static bool keep_nothing(const char *name, void *arg)
{
    return false;
}

typedef struct SweepContext {
    StoreConn *db;
    const char *sub;                  /* the two digits of the folder swept */
} SweepContext;

/* A file of ab/ stays when a row links it; what is not one of our names
 * stays too (never ours to remove). */
static bool keep_linked(const char *name, void *arg)
{
    SweepContext *c = arg;
    if (!is_asset_hash(name) || strncmp(name, c->sub, 2) != 0)
        return true;
    bool linked = true;
    return store_asset_linked(c->db, name, &linked) != STORE_OK || linked;
}

/* What a crash leaves: temporary files, and files whose last row was
 * deleted (or whose row was never committed). Before the daemon starts,
 * so no upload or delete runs beside it. */
static void sweep(StoreConn *db)
{
    unsigned temporary = sweep_folder(folder.tmp_fd, keep_nothing, NULL), unlinked = 0;
    for (unsigned i = 0; i < 256; i++) {
        char sub[3];
        snprintf(sub, sizeof sub, "%02x", i);
        int fd = openat(folder.dir_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        SweepContext c = {db, sub};
        unlinked += sweep_folder(fd, keep_linked, &c);
        close(fd);
    }
    if (temporary || unlinked)
        fprintf(stderr, "ampd: assets: removed %u temporary and %u unlinked files\n", temporary, unlinked);
}

bool api_assets_start(const char *data_dir, const AssetOptions *o)
{
    folder.max_bytes = o->max_bytes;
    folder.quota_bytes = o->quota_bytes;
    for (int i = 0; i < ASSET_LOCK_STRIPES; i++)
        pthread_mutex_init(&folder.stripes[i], NULL);
    if (!data_dir || !api_settings.store)
        return true;
    int data = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    folder.dir_fd = data >= 0 ? open_folder(data, "assets") : -1;
    if (data >= 0)
        close(data);
    folder.tmp_fd = folder.dir_fd >= 0 ? open_folder(folder.dir_fd, "tmp") : -1;
    if (folder.tmp_fd < 0) {
        fprintf(stderr, "ampd: --data %s: the assets folder: %s\n", data_dir, strerror(errno));
        return false;
    }
    char err[512];
    StoreConn *db = store_connect(api_settings.store, err, sizeof err);
    if (!db) {
        fprintf(stderr, "ampd: %s\n", err);
        return false;
    }
    sweep(db);
    store_disconnect(db);
    return true;
}

void api_assets_stop(void)
{
    if (folder.tmp_fd >= 0)
        close(folder.tmp_fd);
    if (folder.dir_fd >= 0)
        close(folder.dir_fd);
    folder.tmp_fd = folder.dir_fd = -1;
}

/* ---- projects naming assets ------------------------------------------------------- */

/* One region's (or sample slot's) sample: an asset of the caller. */
static bool check_reference(ApiCall *call, StoreConn *db, const ProjectRegion *r)
{
    char hint[PROJECT_MAX_JSON_PATH + 160];
    if (!r->asset) {
        snprintf(hint, sizeof hint,
                 "%s.file: a stored project names its audio by \"asset\" (upload the file: POST /api/assets)", r->at);
        api_error(call, MHD_HTTP_UNPROCESSABLE_CONTENT, "file_path", hint);
        return false;
    }
    StoreAsset found;
    StoreStatus st = store_asset_get(db, call->user.id, r->asset, &found);
    if (st == STORE_OK)
        return true;
    if (st != STORE_NOT_FOUND) {
        api_store_error(call, st);
        return false;
    }
    snprintf(hint, sizeof hint, "%s.asset: you have no asset %.64s (upload it first: POST /api/assets)", r->at,
             r->asset);
    api_error(call, MHD_HTTP_UNPROCESSABLE_CONTENT, "unknown_asset", hint);
    return false;
}

/* Every audio region and every instrument's sample slot ("samples",
 * PROJECT.md) names an asset the caller uploaded. */
bool api_assets_check_references(ApiCall *call, StoreConn *db, const struct Project *project)
{
    for (int i = 0; i < project->n_tracks; i++) {
        const ProjectTrack *t = &project->tracks[i];
        for (int k = 0; k < t->n_regions; k++)
            if (!check_reference(call, db, &t->regions[k]))
                return false;
        for (int k = 0; k < t->n_sample_slots; k++)
            if (!check_reference(call, db, &t->sample_slots[k].source))
                return false;
    }
    return true;
}

/* ---- files for other endpoints ------------------------------------------------------ */

int api_assets_open(const char *hash)
{
    if (!is_asset_hash(hash))
        return -1;
    char path[STORE_ASSET_HASH_HEX + 4];
    file_path(hash, path);
    return static_open_beneath(folder.dir_fd, path, O_RDONLY);
}

int api_assets_temp_file(void)
{
    return openat(folder.dir_fd, "tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}
