/* static.c — the built web app: regular files under the served root.
 *
 * GET and HEAD only (the routing table sends other methods to 405). The path
 * arrives decoded and already free of NUL, backslash and dot segments
 * (http_decode_path); here it is opened beneath the root's descriptor with
 * no symlink followed on any component, inside the root or out (the built
 * web app holds none): one openat2() call with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS where the kernel has it, else
 * one openat(O_NOFOLLOW) per component. Nothing is resolved by name twice,
 * so swapping a directory for a symlink between two steps gains nothing
 * (checking with realpath() and then opening did: the swap landed between
 * the two). The descriptor we opened is the file we serve, handed to
 * libmicrohttpd (sendfile; never read into memory).
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
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

static enum MHD_Result reply_resolve_error(struct MHD_Connection *conn, int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such file");
    case ELOOP:
    case EXDEV:
        return reply_error(conn, MHD_HTTP_FORBIDDEN, "forbidden",
                           "the path crosses a symbolic link, which is never followed");
    case EACCES:
        return reply_error(conn, MHD_HTTP_FORBIDDEN, "forbidden", "the file cannot be served");
    case ENAMETOOLONG:
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_path", "the path is too long");
    default:
        return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                           "the file could not be opened");
    }
}

int static_open_walk(int dirfd, const char *path, int flags)
{
    /* Our own copy of the start, so every step may close what it leaves. */
    int dir = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -1;
    const char *p = path;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0') {
            /* Empty path or a trailing '/': the directory itself. */
            int fd = openat(dir, ".", flags | O_CLOEXEC);
            int saved = errno;
            close(dir);
            errno = saved;
            return fd;
        }
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        char name[NAME_MAX + 1];
        if (len > NAME_MAX) {
            close(dir);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            close(dir);
            errno = EXDEV;
            return -1;
        }
        if (*end == '\0') {
            /* The last component: O_NOFOLLOW refuses a symlink with ELOOP. */
            int fd = openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC);
            int saved = errno;
            close(dir);
            errno = saved;
            return fd;
        }
        /* An inner component: O_PATH | O_NOFOLLOW opens a symlink itself,
         * which fstat then tells from a directory. */
        int next = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(dir);
        if (next < 0) {
            errno = saved;
            return -1;
        }
        struct stat st;
        if (fstat(next, &st) != 0 || !S_ISDIR(st.st_mode)) {
            bool link = S_ISLNK(st.st_mode);
            close(next);
            errno = link ? ELOOP : ENOTDIR;
            return -1;
        }
        dir = next;
        p = end;
    }
}

int static_open_beneath(int dirfd, const char *path, int flags)
{
#ifdef SYS_openat2
    /* Set once the kernel says it has no openat2 (before Linux 5.6). */
    static atomic_bool no_openat2;
    if (!atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
        struct open_how how = {
            .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        const char *rel = path;
        while (*rel == '/')
            rel++;
        long fd = syscall(SYS_openat2, dirfd, *rel ? rel : ".", &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        if (errno != ENOSYS && errno != EPERM) /* EPERM: a seccomp filter */
            return -1;
        if (errno == ENOSYS)
            atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
    }
#endif
    return static_open_walk(dirfd, path, flags);
}

static void add_cache_headers(struct MHD_Response *resp, const char *path, const char *etag)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            static_is_hashed_asset(path) ? "public, max-age=31536000, immutable"
                                                         : "no-cache");
}

/* Open the file for `path` beneath the root, a directory's index.html in
 * its place; the descriptor and its stat, or -1 with errno set. *is_index
 * tells that the index was opened (its type is then HTML). */
static int open_served(const HttpServer *server, const char *path, struct stat *st,
                       bool *is_index)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    const int flags = O_RDONLY | O_NONBLOCK;
    *is_index = false;
    int fd = static_open_beneath(server->root_fd, path, flags);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0)
        goto fail;
    if (S_ISDIR(st->st_mode)) {
        /* Beneath the directory we hold, not by name again. */
        int index = static_open_beneath(fd, "index.html", flags);
        int saved = errno;
        close(fd);
        errno = saved;
        if (index < 0)
            return -1;
        fd = index;
        *is_index = true;
        if (fstat(fd, st) != 0)
            goto fail;
    }
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

enum MHD_Result static_serve(struct MHD_Connection *conn, const HttpRequest *req)
{
    struct stat opened;
    bool is_index;
    int fd = open_served(req->server, req->path, &opened, &is_index);
    if (fd < 0)
        return reply_resolve_error(conn, errno);
    if (!S_ISREG(opened.st_mode)) {
        close(fd);
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "not a regular file");
    }
    if (opened.st_size > STATIC_FILE_MAX) {
        close(fd);
        return reply_error(conn, MHD_HTTP_FORBIDDEN, "too_large", "the file is too large to serve");
    }

    char etag[96];
    snprintf(etag, sizeof etag, "\"%jx-%jx-%jx\"", (uintmax_t)opened.st_size,
             (uintmax_t)opened.st_mtim.tv_sec * 1000000000u + (uintmax_t)opened.st_mtim.tv_nsec,
             (uintmax_t)opened.st_ino);

    const char *if_none_match =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (if_none_match && http_etag_listed(if_none_match, etag)) {
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
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            static_mime_type(is_index ? "index.html" : req->path));
    add_cache_headers(resp, req->path, etag);
    return http_reply(conn, MHD_HTTP_OK, resp);
}
