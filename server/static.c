/* static.c — the built web app: regular files under the served root.
 *
 * GET and HEAD only (the routing table sends other methods to 405). The path
 * arrives decoded and already free of NUL, backslash and dot segments
 * (http_decode_path); here it is joined to the root and resolved with
 * realpath(), and anything that resolves outside the root (a symlink to
 * elsewhere) is refused, so symlinks are followed only while they stay
 * inside. The file is then opened with O_NOFOLLOW and checked to be the same
 * regular file we resolved, and handed to libmicrohttpd as a descriptor
 * (sendfile; never read into memory).
 *
 * Caching: a strong ETag from size, mtime and inode, answered with 304 on
 * If-None-Match; hashed bundle names (Vite's assets/name-HASH.js) are
 * immutable for a year, everything else (index.html above all) is
 * revalidated on every use ("no-cache").
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files larger than this are refused rather than served. */
#define STATIC_FILE_MAX ((off_t)1 << 31)

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"wasm", "application/wasm"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"wav", "audio/wav"},
    {"txt", "text/plain; charset=utf-8"},
    {"woff2", "font/woff2"},
};

const char *static_mime_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
                return mime_types[i].type;
    }
    return "application/octet-stream";
}

static bool is_hash_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* The last n characters of the stem [stem, stem + len) look like a content
 * hash: separated by '-' or '.', base64url characters, and with a digit or
 * both cases (so "assets/icon-settings.svg" is not taken for one). */
static bool hash_suffix(const char *stem, size_t len, size_t n)
{
    if (len < n + 2 || (stem[len - n - 1] != '-' && stem[len - n - 1] != '.'))
        return false;
    bool digit = false, upper = false, lower = false;
    for (const char *p = stem + len - n; p < stem + len; p++) {
        if (!is_hash_char(*p))
            return false;
        digit |= *p >= '0' && *p <= '9';
        upper |= *p >= 'A' && *p <= 'Z';
        lower |= *p >= 'a' && *p <= 'z';
    }
    return digit || (upper && lower);
}

/* A bundler output name under an "assets" directory whose stem ends in an
 * 8 to 32 character hash: its content never changes under that name. */
bool static_is_hashed_asset(const char *path)
{
    if (strncmp(path, "assets/", 7) != 0 && strncmp(path, "/assets/", 8) != 0 &&
        !strstr(path, "/assets/"))
        return false;
    const char *base = strrchr(path, '/') + 1;
    const char *dot = strrchr(base, '.');
    size_t len = dot ? (size_t)(dot - base) : strlen(base);
    for (size_t n = 8; n <= 32; n++)
        if (hash_suffix(base, len, n))
            return true;
    return false;
}

/* realpath() results are canonical, so a prefix test at a '/' is enough. */
static bool inside_root(const HttpServer *server, const char *real)
{
    if (server->root_len == 1) /* the root is "/" */
        return true;
    return strncmp(real, server->root, server->root_len) == 0 &&
           (real[server->root_len] == '\0' || real[server->root_len] == '/');
}

static enum MHD_Result reply_resolve_error(struct MHD_Connection *conn, int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such file");
    case EACCES:
    case ELOOP:
        return reply_error(conn, MHD_HTTP_FORBIDDEN, "forbidden", "the file cannot be served");
    case ENAMETOOLONG:
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_path", "the path is too long");
    default:
        return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                           "the file could not be opened");
    }
}

/* Resolve `path` (root-relative, starting with '/') into `real`; 0 or an
 * errno value, EPERM meaning "resolves outside the root". */
static int resolve(const HttpServer *server, const char *path, char real[PATH_MAX])
{
    char joined[PATH_MAX];
    int n = snprintf(joined, sizeof joined, "%s%s", server->root, path);
    if (n < 0 || (size_t)n >= sizeof joined)
        return ENAMETOOLONG;
    if (!realpath(joined, real))
        return errno;
    return inside_root(server, real) ? 0 : EPERM;
}

/* Weak comparison (RFC 9110 13.1.2): a list of entity tags or "*". */
static bool etag_matches(const char *if_none_match, const char *etag)
{
    size_t etag_len = strlen(etag);
    const char *p = if_none_match;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end - start == 1 && *start == '*')
            return true;
        if (end - start > 2 && start[0] == 'W' && start[1] == '/')
            start += 2;
        if ((size_t)(end - start) == etag_len && memcmp(start, etag, etag_len) == 0)
            return true;
    }
    return false;
}

static void add_cache_headers(struct MHD_Response *resp, const char *path, const char *etag)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            static_is_hashed_asset(path) ? "public, max-age=31536000, immutable"
                                                         : "no-cache");
}

/* Open the regular file at the canonical path `real`, refusing a swap to a
 * symlink or a different file since it was resolved. -1 with errno set. */
static int open_regular(const char *real, const struct stat *expected, struct stat *st)
{
    /* O_NONBLOCK: opening a FIFO put there in the meantime must not hang. */
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_dev != expected->st_dev ||
        st->st_ino != expected->st_ino) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    return fd;
}

enum MHD_Result static_serve(struct MHD_Connection *conn, const HttpRequest *req)
{
    const HttpServer *server = req->server;
    char real[PATH_MAX];
    int err = resolve(server, req->path, real);
    struct stat st;
    if (err == 0 && stat(real, &st) != 0)
        err = errno;
    if (err == 0 && S_ISDIR(st.st_mode)) {
        /* A directory serves its index.html (which may itself be a link). */
        char index[PATH_MAX];
        int n = snprintf(index, sizeof index, "%s/index.html", real + server->root_len);
        if (n < 0 || (size_t)n >= sizeof index)
            err = ENAMETOOLONG;
        else if ((err = resolve(server, index, real)) == 0 && stat(real, &st) != 0)
            err = errno;
    }
    if (err == EPERM)
        return reply_error(conn, MHD_HTTP_FORBIDDEN, "forbidden",
                           "the path leads outside the served directory");
    if (err != 0)
        return reply_resolve_error(conn, err);
    if (!S_ISREG(st.st_mode))
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "not a regular file");
    if (st.st_size > STATIC_FILE_MAX)
        return reply_error(conn, MHD_HTTP_FORBIDDEN, "too_large", "the file is too large to serve");

    struct stat opened;
    int fd = open_regular(real, &st, &opened);
    if (fd < 0)
        return reply_resolve_error(conn, errno);

    char etag[96];
    snprintf(etag, sizeof etag, "\"%jx-%jx-%jx\"", (uintmax_t)opened.st_size,
             (uintmax_t)opened.st_mtim.tv_sec * 1000000000u + (uintmax_t)opened.st_mtim.tv_nsec,
             (uintmax_t)opened.st_ino);

    const char *if_none_match =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (if_none_match && etag_matches(if_none_match, etag)) {
        close(fd);
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        if (resp)
            add_cache_headers(resp, req->path, etag);
        return http_reply(conn, MHD_HTTP_NOT_MODIFIED, resp);
    }

    /* libmicrohttpd owns the descriptor from here and closes it. */
    struct MHD_Response *resp = MHD_create_response_from_fd((size_t)opened.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, static_mime_type(real));
    add_cache_headers(resp, req->path, etag);
    return http_reply(conn, MHD_HTTP_OK, resp);
}
