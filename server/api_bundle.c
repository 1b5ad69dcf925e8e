/* api_bundle.c — a project exported whole, as one tar archive.
 *
 *   GET /api/projects/{id}/bundle[?revision=N]     application/x-tar     200
 *
 * The archive holds everything `amp render` needs besides the built-in
 * library, under one folder named by the project's id:
 *
 *   <id>/project.json                 the document (upgraded to the current
 *                                     format), its library patches rewritten
 *                                     as files of the bundle
 *   <id>/patches/<patch id>-r<n>.amp  each {"library": id, "revision": n}
 *                                     patch the document names, as that
 *                                     revision's text
 *   <id>/assets/ab/<hash>             each audio asset a region or a sample
 *                                     slot names, the layout the project
 *                                     reader expects
 *
 * so that
 *
 *   tar -xf song.tar && amp render <id>/project.json --library nodes -o song.wav
 *
 * renders the stored project (built-in patches, {"builtin": path}, are
 * the server's --library folder's: pass the same folder). A project of
 * another user, or a revision it does not have, is 404 like a missing one;
 * every patch and asset is looked up through the caller, so a bundle never
 * holds anything the caller does not own (a stored document names only the
 * caller's own, api_assets_check_references, but a patch or asset removed
 * since is 409 `missing_part`, naming it).
 *
 * The archive is written by a worker into an unnamed temporary file in the
 * data folder (O_TMPFILE: nothing to clean up after a crash), then sent
 * from that descriptor by libmicrohttpd: the memory of a bundle is one copy
 * buffer, whatever the size of its audio. POSIX ustar format: every path is
 * split into the header's prefix (the id) and name (at most 100 bytes).
 */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAR_BLOCK 512
#define COPY_CHUNK (64u << 10)
#define BUNDLE_ASSETS_MAX 4096          /* distinct assets of one project */

typedef struct Bundle {
    int fd;                             /* the archive, -1 until built */
    off_t size;
    char id[API_ID_HEX + 1];
    int64_t revision;                   /* 0: the latest */
    int64_t mtime;                      /* the revision's time, for every entry */
    bool none;                          /* the path names no project: 404 */
} Bundle;

static void bundle_free(void *state)
{
    Bundle *b = state;
    if (b->fd >= 0)
        close(b->fd);
    free(b);
}

/* ---- the tar writer ------------------------------------------------------------ */

static bool write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* `value` in width - 1 octal digits and a NUL (ustar's numeric fields);
 * callers keep values below 8^(width - 1): sizes under 8 GiB. */
static void octal(char *field, size_t width, uint64_t value)
{
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0; value >>= 3)
        field[i] = (char)('0' + (value & 7));
}

/* One ustar header: `name` under the folder `prefix`. */
static bool tar_header(int fd, const char *prefix, const char *name, uint64_t size, int64_t mtime)
{
    unsigned char h[TAR_BLOCK];
    memset(h, 0, sizeof h);
    if (strlen(name) > 100 || strlen(prefix) > 155 || size >= (uint64_t)1 << 33)
        return false;
    memcpy(h, name, strlen(name));
    octal((char *)h + 100, 8, 0644);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, size);
    octal((char *)h + 136, 12, (uint64_t)(mtime > 0 ? mtime : 0));
    memset(h + 148, ' ', 8);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memcpy(h + 345, prefix, strlen(prefix));
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof h; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return write_all(fd, h, sizeof h);
}

static bool tar_pad(int fd, uint64_t size)
{
    static const char zeros[TAR_BLOCK];
    size_t rest = (size_t)(size % TAR_BLOCK);
    return rest == 0 || write_all(fd, zeros, TAR_BLOCK - rest);
}

static bool tar_bytes(int fd, const Bundle *b, const char *name, const char *data, size_t len)
{
    return tar_header(fd, b->id, name, len, b->mtime) && write_all(fd, data, len) && tar_pad(fd, len);
}

/* A file copied in from the descriptor `src` (closed here). */
static bool tar_file(int fd, const Bundle *b, const char *name, int src)
{
    struct stat sb;
    bool ok = fstat(src, &sb) == 0 && S_ISREG(sb.st_mode) &&
              tar_header(fd, b->id, name, (uint64_t)sb.st_size, b->mtime);
    char *buf = ok ? malloc(COPY_CHUNK) : NULL;
    uint64_t copied = 0;
    while (buf && copied < (uint64_t)sb.st_size) {
        ssize_t n = read(src, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || !write_all(fd, buf, (size_t)n))
            break;
        copied += (uint64_t)n;
    }
    ok = buf && copied == (uint64_t)sb.st_size && tar_pad(fd, copied);
    free(buf);
    close(src);
    return ok;
}

/* ---- the contents ------------------------------------------------------------- */

static void missing_part(ApiCall *call, const char *what)
{
    char hint[256];
    snprintf(hint, sizeof hint, "%s is no longer stored: save the project again without it", what);
    api_error(call, MHD_HTTP_CONFLICT, "missing_part", hint);
}

/* A {"library", "revision"} patch: its text into the archive and the
 * reference rewritten as the bundle's file. False with the reply set. */
static bool add_library_patch(ApiCall *call, StoreConn *db, int fd, const Bundle *b, json_t *patch)
{
    const char *id = json_string_value(json_object_get(patch, "library"));
    json_t *rev = json_object_get(patch, "revision");
    if (!id || !json_is_integer(rev))
        return true; /* not this form: a builtin or a file the reader accepted */
    json_int_t number = json_integer_value(rev);
    char *text = NULL;
    StoreStatus st = api_is_id(id) ? store_patch_revision_get(db, call->user.id, id, number, NULL, &text)
                                   : STORE_NOT_FOUND;
    char name[100];
    snprintf(name, sizeof name, "patches/%.32s-r%lld.amp", id, (long long)number);
    if (st == STORE_NOT_FOUND) {
        char what[128];
        snprintf(what, sizeof what, "patch %.32s revision %lld", id, (long long)number);
        missing_part(call, what);
        return false;
    }
    if (st != STORE_OK) {
        api_store_error(call, st);
        return false;
    }
    bool ok = tar_bytes(fd, b, name, text, strlen(text));
    free(text);
    if (!ok) {
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the bundle could not be written");
        return false;
    }
    json_t *unit = json_object_get(patch, "unit");
    json_incref(unit);
    json_object_clear(patch);
    json_object_set_new(patch, "file", json_string(name));
    if (unit)
        json_object_set_new(patch, "unit", unit);
    return true;
}

static bool add_patches(ApiCall *call, StoreConn *db, int fd, const Bundle *b, json_t *doc)
{
    size_t i, k;
    json_t *track, *insert;
    json_array_foreach(json_object_get(doc, "tracks"), i, track) {
        json_t *patch = json_object_get(track, "patch");
        if (json_is_object(patch) && !add_library_patch(call, db, fd, b, patch))
            return false;
        json_array_foreach(json_object_get(track, "inserts"), k, insert) {
            patch = json_object_get(insert, "patch");
            if (json_is_object(patch) && !add_library_patch(call, db, fd, b, patch))
                return false;
        }
    }
    return true;
}

static int hash_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every asset a region or a sample slot ("samples") names, once each, in
 * hash order. */
static bool add_assets(ApiCall *call, StoreConn *db, int fd, const Bundle *b, json_t *doc)
{
    const char *hashes[BUNDLE_ASSETS_MAX];
    size_t n = 0, i, k;
    json_t *track, *region;
    json_array_foreach(json_object_get(doc, "tracks"), i, track) {
        json_t *refs = json_array();
        json_array_foreach(json_object_get(track, "regions"), k, region)
            json_array_append(refs, region);
        const char *slot;
        json_object_foreach(json_object_get(track, "samples"), slot, region)
            json_array_append(refs, region);
        json_array_foreach(refs, k, region) {
            const char *hash = json_string_value(json_object_get(region, "asset"));
            if (!hash)
                continue;
            if (n == BUNDLE_ASSETS_MAX) {
                json_decref(refs);
                api_error(call, MHD_HTTP_CONTENT_TOO_LARGE, "too_many_assets", "a bundle holds at most 4096 assets");
                return false;
            }
            hashes[n++] = hash;
        }
        json_decref(refs);
    }
    qsort(hashes, n, sizeof hashes[0], hash_order);
    for (i = 0; i < n; i++) {
        if (i > 0 && strcmp(hashes[i], hashes[i - 1]) == 0)
            continue;
        StoreAsset asset;
        StoreStatus st = store_asset_get(db, call->user.id, hashes[i], &asset);
        int src = st == STORE_OK ? api_assets_open(hashes[i]) : -1;
        if (st == STORE_NOT_FOUND || (st == STORE_OK && src < 0)) {
            char what[96];
            snprintf(what, sizeof what, "asset %.64s", hashes[i]);
            missing_part(call, what);
            return false;
        }
        if (st != STORE_OK) {
            api_store_error(call, st);
            return false;
        }
        char name[100];
        snprintf(name, sizeof name, "assets/%.2s/%s", hashes[i], hashes[i]);
        if (!tar_file(fd, b, name, src)) {
            api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the bundle could not be written");
            return false;
        }
    }
    return true;
}

/* On a worker: the document, its patches and assets, into the archive. */
static void bundle_build(ApiCall *call, StoreConn *db)
{
    Bundle *b = call->extra;
    if (b->none) {
        api_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such project or revision");
        return;
    }
    StoreProject project;
    StoreRevision revision;
    json_t *doc = api_projects_load(call, db, b->id, b->revision, &project, &revision);
    if (!doc)
        return;
    b->mtime = b->revision > 0 ? revision.created_at : project.updated_at;
    int fd = api_assets_temp_file();
    if (fd < 0) {
        json_decref(doc);
        api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "no room for the bundle");
        return;
    }
    bool ok = add_patches(call, db, fd, b, doc) && add_assets(call, db, fd, b, doc);
    if (ok) {
        char *json = json_dumps(doc, JSON_INDENT(2));
        static const char end[2 * TAR_BLOCK];
        ok = json && tar_bytes(fd, b, "project.json", json, strlen(json)) && write_all(fd, end, sizeof end);
        free(json);
        if (!ok)
            api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the bundle could not be written");
    }
    json_decref(doc);
    struct stat sb;
    if (!ok || fstat(fd, &sb) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        if (ok)
            api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the bundle could not be written");
        close(fd);
        return;
    }
    b->fd = fd;
    b->size = sb.st_size;
}

/* On the event loop: the archive, from its descriptor. */
static enum MHD_Result bundle_send(struct MHD_Connection *conn, void *state)
{
    ApiCall *call = state;
    Bundle *b = call->extra;
    struct MHD_Response *resp = MHD_create_response_from_fd((size_t)b->size, b->fd);
    if (!resp)
        return MHD_NO;
    b->fd = -1; /* libmicrohttpd closes it */
    char disposition[96];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s.tar\"", b->id);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-tar");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return http_reply(conn, MHD_HTTP_OK, resp);
}

enum MHD_Result api_projects_bundle(struct MHD_Connection *conn, const HttpRequest *req, const char *id, size_t len)
{
    Bundle *b = calloc(1, sizeof *b);
    if (!b)
        return MHD_NO;
    b->fd = -1;
    /* Anything but an id names no project: 404 once the caller is known. */
    if (len == API_ID_HEX)
        memcpy(b->id, id, len);
    b->none = !api_is_id(b->id);
    const char *revision = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "revision");
    if (revision) {
        b->revision = api_revision_number(revision, strlen(revision));
        b->none |= b->revision <= 0;
    }
    return api_defer_ext(conn, req, bundle_build, API_USER, NULL, 0, bundle_send, b, bundle_free);
}
