/* tinmoi — the HTTP endpoint: h2o (libuv flavour) on the daemon's loop,
 * serving the published files from an immutable, refcounted bundle.
 *
 * Wiring after h2o's examples/libh2o/simple.c: one host, one path "/" whose
 * handler routes by exact match on the raw request path (never a
 * file-system path, so "/../x" and "%2e%2e" simply match nothing). Each
 * accepted uv_tcp_t is handed to h2o_uv_socket_create + h2o_accept; its
 * close callback is ours, which is how connections are counted and how the
 * server knows when it may free itself. */
/* memfd_create (glibc declares it for _GNU_SOURCE only). */
#define _GNU_SOURCE
#include "tinmoi/serve.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <h2o.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "serve_int.h"
#include "tinmoi/hash.h"
#include "tinmoi/date.h"

/* Largest /metrics body: one line per source and outcome for 10,000
 * sources with long ids fits many times. */
#define TM_SERVE_MAX_METRICS_BYTES (64u * 1024 * 1024)

/* Bodies smaller than this are not worth gzip (the header costs more). */
#define TM_SERVE_MIN_GZIP_BYTES 256

/* Bodies at least this large are also kept in a sealed memfd and sent with
 * sendfile(2): the kernel then hands the socket references to the memfd's
 * pages instead of copying the body from user memory on every response
 * (the copy was a fifth of the serving loop's CPU for a 34 KB snapshot).
 * Below it, one copy costs less than the extra header write and syscall. */
#define TM_SERVE_MIN_SENDFILE_BYTES (16u * 1024)

struct served_file {
    char *name; /* without the leading '/' */
    size_t name_len;
    char *data;
    size_t len;
    char *gz; /* NULL when gzip does not make it smaller */
    size_t gz_len;
    int fd;    /* sealed memfd holding data, or -1 (small body, or no memfd) */
    int gz_fd; /* the same for gz */
    char *content_type;
    bool cors; /* JSON: the portal's pages fetch it from another origin */
    uint64_t hash;
    int64_t modified_utc;
    char etag[24];    /* "0123456789abcdef" */
    char etag_gz[28]; /* "0123456789abcdef-gz" */
    char last_modified[TM_DATE_HTTP_LEN];
};

/* One publish, immutable once built; freed when the last holder (the
 * server or a request in flight) lets go. All on the loop thread, so a
 * plain counter. */
struct bundle {
    int refs;
    struct served_file *files;
    size_t n_files;
    char *status_page;
    size_t status_len;
    int64_t published_utc; /* 0: never published */
};

struct conn {
    uv_tcp_t tcp; /* first: the close callback gets it */
    struct tm_server *server;
    h2o_socket_t *sock; /* NULL for a connection refused over the cap */
    bool nodelay_failed;
    struct conn *prev, *next;
};

struct route_handler {
    h2o_handler_t super;
    struct tm_server *server;
};

struct tm_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t finalizer; /* never started: its close marks the end */
    bool listener_open;
    bool closing;
    bool finishing; /* maybe_finish ran: h2o's nested uv_run may re-enter */
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    bool ctx_ready;
    struct conn *conns;
    size_t n_conns;
    int port;
    int max_age_s;
    char cache_control[48]; /* "public, max-age=N", built once */
    int stale_after_s;
    int utc_offset_s;
    char *title;
    const struct tm_metrics *metrics;
    struct tm_http_stats http_stats;
    struct bundle *current;
    void (*on_closed)(void *ud);
    void *on_closed_ud;
};

/* A request's hold on a bundle, released when h2o frees the request. For
 * a sendfile response, the body's memfd and its bytes in memory (for what
 * sendfile could not send at once). */
struct response {
    h2o_generator_t gen; /* first: h2o hands it back to proceed */
    struct bundle *bundle;
    int body_fd;
    int sock_fd; /* corked while the headers and the body are queued */
    const char *body;
    size_t body_len;
};

/* A body we allocated, freed with the request. */
struct owned_body {
    char *data;
};

static void bundle_unref(struct bundle *b)
{
    if (b == NULL || --b->refs > 0) {
        return;
    }
    for (size_t i = 0; i < b->n_files; i++) {
        if (b->files[i].fd >= 0) {
            close(b->files[i].fd);
        }
        if (b->files[i].gz_fd >= 0) {
            close(b->files[i].gz_fd);
        }
        free(b->files[i].name);
        free(b->files[i].data);
        free(b->files[i].gz);
        free(b->files[i].content_type);
    }
    free(b->files);
    free(b->status_page);
    free(b);
}

static int gzip_body(const char *data, size_t len, char **out, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    *out = NULL;
    *out_len = 0;
    /* windowBits 15 + 16: a gzip wrapper, as Content-Encoding: gzip needs. */
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return TM_ENOMEM;
    }
    uLong cap = deflateBound(&zs, (uLong)len);
    char *buf = malloc(cap);
    if (buf == NULL) {
        deflateEnd(&zs);
        return TM_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    int zrc = deflate(&zs, Z_FINISH);
    size_t produced = (size_t)zs.total_out;
    if (deflateEnd(&zs) != Z_OK && zrc == Z_STREAM_END) {
        zrc = Z_STREAM_ERROR;
    }
    if (zrc != Z_STREAM_END) {
        free(buf);
        return TM_EIO;
    }
    *out = buf;
    *out_len = produced;
    return 0;
}

static struct bundle *bundle_empty(const struct tm_server *s)
{
    struct bundle *b = calloc(1, sizeof(*b));
    struct tm_buf page;
    if (b == NULL) {
        return NULL;
    }
    b->refs = 1;
    tm_buf_init(&page, TM_STATUS_PAGE_MAX_BYTES);
    if (tm_status_page_render(NULL, 0, s->title, 0, s->utc_offset_s, &page) != 0) {
        tm_buf_free(&page);
        free(b);
        return NULL;
    }
    b->status_len = page.len;
    b->status_page = tm_buf_steal(&page);
    if (b->status_page == NULL) {
        free(b);
        return NULL;
    }
    return b;
}

static const struct served_file *bundle_find(const struct bundle *b, const char *name, size_t len)
{
    for (size_t i = 0; b != NULL && i < b->n_files; i++) {
        if (b->files[i].name_len == len && memcmp(b->files[i].name, name, len) == 0) {
            return &b->files[i];
        }
    }
    return NULL;
}

/* A sealed memfd holding data[0..len), or -1 when the body is small or no
 * memfd can be made (the body is then sent from memory, as before). The
 * seals keep its pages immutable while sockets still reference them. */
static int body_memfd(const char *name, const char *data, size_t len)
{
    if (len < TM_SERVE_MIN_SENDFILE_BYTES) {
        return -1;
    }
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int build_file(struct served_file *f, const struct tm_published_file *src,
                      const struct bundle *prev, int64_t published_utc)
{
    f->name_len = strlen(src->name);
    f->name = malloc(f->name_len + 1);
    f->data = malloc(src->len + 1);
    f->content_type =
        strdup(src->content_type != NULL ? src->content_type : "application/octet-stream");
    if (f->name == NULL || f->data == NULL || f->content_type == NULL) {
        return TM_ENOMEM;
    }
    memcpy(f->name, src->name, f->name_len + 1);
    memcpy(f->data, src->data, src->len);
    f->data[src->len] = '\0';
    f->len = src->len;
    f->cors = strstr(f->content_type, "json") != NULL;
    f->hash = tm_hash_fnv1a64(TM_HASH_FNV1A64_INIT, f->data, f->len);
    snprintf(f->etag, sizeof(f->etag), "\"%016llx\"", (unsigned long long)f->hash);
    snprintf(f->etag_gz, sizeof(f->etag_gz), "\"%016llx-gz\"", (unsigned long long)f->hash);

    const struct served_file *old = bundle_find(prev, f->name, f->name_len);
    if (old != NULL && old->len == f->len && memcmp(old->data, f->data, f->len) == 0) {
        /* Same bytes: same validators, and no need to compress again. */
        f->modified_utc = old->modified_utc;
        if (old->gz != NULL) {
            f->gz = malloc(old->gz_len);
            if (f->gz == NULL) {
                return TM_ENOMEM;
            }
            memcpy(f->gz, old->gz, old->gz_len);
            f->gz_len = old->gz_len;
        }
    } else {
        f->modified_utc = published_utc;
        if (f->len >= TM_SERVE_MIN_GZIP_BYTES) {
            int rc = gzip_body(f->data, f->len, &f->gz, &f->gz_len);
            if (rc != 0) {
                return rc;
            }
            if (f->gz_len >= f->len) {
                free(f->gz);
                f->gz = NULL;
                f->gz_len = 0;
            }
        }
    }
    if (tm_date_format_http(f->modified_utc, f->last_modified) != 0) {
        return TM_EINVAL;
    }
    f->fd = body_memfd(f->name, f->data, f->len);
    if (f->gz != NULL) {
        f->gz_fd = body_memfd(f->name, f->gz, f->gz_len);
    }
    return 0;
}

int tm_server_set_files(struct tm_server *s, const struct tm_published_file *files, size_t n,
                        int64_t published_utc, struct tm_error *err)
{
    if (s == NULL || (files == NULL && n > 0)) {
        return tm_error_set(err, TM_EINVAL, "serve: no server or no files");
    }
    for (size_t i = 0; i < n; i++) {
        if (files[i].name == NULL || files[i].name[0] == '\0' ||
            (files[i].data == NULL && files[i].len > 0)) {
            return tm_error_set(err, TM_EINVAL, "serve: file %zu has no name or data", i);
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(files[k].name, files[i].name) == 0) {
                return tm_error_set(err, TM_EINVAL, "serve: duplicate file %s", files[i].name);
            }
        }
    }
    struct bundle *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return tm_error_set(err, TM_ENOMEM, "serve: out of memory");
    }
    b->refs = 1;
    b->published_utc = published_utc;
    b->files = calloc(n > 0 ? n : 1, sizeof(*b->files));
    if (b->files == NULL) {
        free(b);
        return tm_error_set(err, TM_ENOMEM, "serve: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        b->files[i].fd = -1;
        b->files[i].gz_fd = -1;
    }
    int rc = 0;
    const struct tm_published_file *snapshot = NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        b->n_files = i + 1;
        rc = build_file(&b->files[i], &files[i], s->current, published_utc);
        if (strcmp(files[i].name, "snapshot.json") == 0) {
            snapshot = &files[i];
        }
    }
    if (rc == 0) {
        struct tm_buf page;
        tm_buf_init(&page, TM_STATUS_PAGE_MAX_BYTES);
        /* A snapshot that is not JSON still gets a page saying so. */
        rc = tm_status_page_render(snapshot != NULL ? snapshot->data : NULL,
                                   snapshot != NULL ? snapshot->len : 0, s->title, published_utc,
                                   s->utc_offset_s, &page);
        if (rc == TM_EPARSE) {
            rc = 0;
        }
        b->status_len = page.len;
        b->status_page = rc == 0 ? tm_buf_steal(&page) : NULL;
        tm_buf_free(&page);
        if (rc == 0 && b->status_page == NULL) {
            rc = TM_ENOMEM;
        }
    }
    if (rc != 0) {
        bundle_unref(b);
        return tm_error_set(err, rc, "serve: cannot build the bundle: %s", tm_strerror(rc));
    }
    bundle_unref(s->current);
    s->current = b;
    return 0;
}

/* ---- responses ---- */

static void on_response_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    /* Every body is sent in one final h2o_send: nothing more to push. */
}

static void on_response_stop(h2o_generator_t *gen, h2o_req_t *req)
{
}

/* The connection's socket, or -1. */
static int request_fd(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL
                             ? req->conn->callbacks->get_socket(req->conn)
                             : NULL;
    return sock != NULL ? h2o_socket_get_fd(sock) : -1;
}

/* TCP_CORK on or off: while on, the kernel holds partial segments, so the
 * headers h2o writes and the body sendfile queues leave as one segment
 * (nginx's tcp_nopush). Best effort: without it they leave as two. */
static void set_cork(int fd, int on)
{
    if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) != 0) {
        return; /* only the packet count differs */
    }
}

/* h2o has written the headers of a sendfile response and its write queue
 * is empty: the body goes straight from the memfd to the socket, then h2o
 * is told the response is complete. Whatever sendfile cannot send at once
 * (a full socket buffer) is handed to h2o from memory, after the bytes
 * already sent, so the order on the wire holds. */
static void on_sendfile_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct response *r = (struct response *)gen;
    off_t offset = 0;
    size_t left = r->body_len;

    while (r->sock_fd >= 0 && r->body_fd >= 0 && left > 0) {
        ssize_t n = sendfile(r->sock_fd, r->body_fd, &offset, left);
        if (n > 0) {
            left -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            /* The peer is gone: h2o closes the connection. */
            h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
            return;
        } else {
            break;
        }
    }
    set_cork(r->sock_fd, 0);
    r->body_fd = -1; /* proceed is not called again; be sure of it */
    if (left == 0) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_iovec_t rest = h2o_iovec_init(r->body + (r->body_len - left), left);
        h2o_send(req, &rest, 1, H2O_SEND_STATE_FINAL);
    }
}

static void on_response_dispose(void *p)
{
    struct response *r = p;
    bundle_unref(r->bundle);
}

static void on_owned_body_dispose(void *p)
{
    struct owned_body *o = p;
    free(o->data);
}

static void add_header(h2o_req_t *req, const h2o_token_t *token, const char *value, size_t len)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, len);
}

static void add_header_str(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    /* Static or bundle-owned strings outlive the request. */
    add_header(req, token, value, strlen(value));
}

static bool is_head(const h2o_req_t *req)
{
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
}

/* Sends `len` bytes at `body` (kept alive by the caller's hold on the
 * request pool) with req->res already set up; HEAD gets the headers with
 * the same Content-Length and no body. */
static void send_body(struct tm_server *s, h2o_req_t *req, h2o_generator_t *gen, const char *body,
                      size_t len)
{
    h2o_iovec_t iov = h2o_iovec_init(body, len);
    tm_metrics_http_count(&s->http_stats, req->res.status);
    req->res.content_length = len;
    h2o_start_response(req, gen);
    if (is_head(req)) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
    }
}

/* Sends a body we malloc'd (freed with the request). */
static void send_owned(struct tm_server *s, h2o_req_t *req, int status, const char *reason,
                       const char *type, char *data, size_t len)
{
    struct owned_body *o = h2o_mem_alloc_shared(&req->pool, sizeof(*o), on_owned_body_dispose);
    struct response *r = h2o_mem_alloc_pool(&req->pool, sizeof(*r));
    o->data = data;
    r->gen.proceed = on_response_proceed;
    r->gen.stop = on_response_stop;
    r->bundle = NULL;
    req->res.status = status;
    req->res.reason = reason;
    add_header_str(req, H2O_TOKEN_CONTENT_TYPE, type);
    add_header_str(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
    send_body(s, req, &r->gen, data, len);
}

static int send_error(struct tm_server *s, h2o_req_t *req, int status, const char *reason)
{
    tm_metrics_http_count(&s->http_stats, status);
    if (status == 405) {
        add_header_str(req, H2O_TOKEN_ALLOW, "GET, HEAD");
        h2o_send_error_generic(req, status, reason, "method not allowed\n",
                               H2O_SEND_ERROR_KEEP_HEADERS);
    } else {
        h2o_send_error_generic(req, status, reason, "not found\n", 0);
    }
    return 0;
}

/* The value of request header `token` or {NULL, 0}. */
static h2o_iovec_t header_value(const h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i >= 0 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 7232 §3.2: a comma-separated list of entity tags or "*", compared
 * weakly (a W/ prefix ignored). Both the identity and the gzip variant's
 * tag stand for these bytes. */
static bool etag_matches(h2o_iovec_t inm, const struct served_file *f)
{
    const char *p = inm.base, *end = inm.base + inm.len;
    while (p < end) {
        while (p < end && (is_space(*p) || *p == ',')) {
            p++;
        }
        const char *start = p;
        while (p < end && *p != ',') {
            p++;
        }
        const char *stop = p;
        while (stop > start && is_space(stop[-1])) {
            stop--;
        }
        if (stop - start >= 2 && start[0] == 'W' && start[1] == '/') {
            start += 2;
        }
        size_t n = (size_t)(stop - start);
        if ((n == 1 && start[0] == '*') ||
            (n == strlen(f->etag) && memcmp(start, f->etag, n) == 0) ||
            (n == strlen(f->etag_gz) && memcmp(start, f->etag_gz, n) == 0)) {
            return true;
        }
    }
    return false;
}

/* True when the q parameter at p (after "q=") is above zero. */
static bool qvalue_positive(const char *p, const char *end)
{
    for (; p < end && !is_space(*p) && *p != ';'; p++) {
        if (*p >= '1' && *p <= '9') {
            return true;
        }
    }
    return false;
}

/* RFC 7231 §5.3.4: gzip (or x-gzip) with q > 0, or "*" with q > 0 and no
 * explicit gzip entry. */
static bool accepts_gzip(h2o_iovec_t ae)
{
    int gzip_q = -1, star_q = -1;
    const char *p = ae.base, *end = ae.base + ae.len;
    while (p < end) {
        while (p < end && (is_space(*p) || *p == ',')) {
            p++;
        }
        const char *tok = p;
        while (p < end && *p != ',' && *p != ';' && !is_space(*p)) {
            p++;
        }
        size_t tok_len = (size_t)(p - tok);
        int q = 1;
        while (p < end && *p != ',') {
            if (*p == ';') {
                p++;
                while (p < end && is_space(*p)) {
                    p++;
                }
                if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                    q = qvalue_positive(p + 2, end) ? 1 : 0;
                }
                continue;
            }
            p++;
        }
        if (h2o_lcstris(tok, tok_len, H2O_STRLIT("gzip")) ||
            h2o_lcstris(tok, tok_len, H2O_STRLIT("x-gzip"))) {
            gzip_q = q;
        } else if (tok_len == 1 && tok[0] == '*') {
            star_q = q;
        }
    }
    return gzip_q > 0 || (gzip_q < 0 && star_q > 0);
}

static void serve_file(struct tm_server *s, h2o_req_t *req, const struct served_file *f)
{
    struct response *r = h2o_mem_alloc_shared(&req->pool, sizeof(*r), on_response_dispose);
    bool use_gzip = f->gz != NULL && accepts_gzip(header_value(req, H2O_TOKEN_ACCEPT_ENCODING));

    r->gen.proceed = on_response_proceed;
    r->gen.stop = on_response_stop;
    r->bundle = s->current;
    r->bundle->refs++;
    r->body_fd = -1;

    add_header_str(req, H2O_TOKEN_CONTENT_TYPE, f->content_type);
    add_header_str(req, H2O_TOKEN_ETAG, use_gzip ? f->etag_gz : f->etag);
    add_header_str(req, H2O_TOKEN_LAST_MODIFIED, f->last_modified);
    add_header_str(req, H2O_TOKEN_CACHE_CONTROL, s->cache_control);
    add_header_str(req, H2O_TOKEN_VARY, "Accept-Encoding");
    if (f->cors) {
        add_header_str(req, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    }

    /* RFC 7232 §6: If-None-Match first; If-Modified-Since only without it. */
    bool not_modified = false;
    h2o_iovec_t inm = header_value(req, H2O_TOKEN_IF_NONE_MATCH);
    if (inm.base != NULL) {
        not_modified = etag_matches(inm, f);
    } else {
        h2o_iovec_t ims = header_value(req, H2O_TOKEN_IF_MODIFIED_SINCE);
        if (ims.base != NULL && ims.len < 64) {
            char date[64];
            memcpy(date, ims.base, ims.len);
            date[ims.len] = '\0';
            time_t since = curl_getdate(date, NULL);
            not_modified = since != (time_t)-1 && (int64_t)since >= f->modified_utc;
        }
    }
    if (not_modified) {
        req->res.status = 304;
        req->res.reason = "Not Modified";
        tm_metrics_http_count(&s->http_stats, 304);
        h2o_start_response(req, &r->gen);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    if (use_gzip) {
        add_header_str(req, H2O_TOKEN_CONTENT_ENCODING, "gzip");
    }
    const char *body = use_gzip ? f->gz : f->data;
    size_t len = use_gzip ? f->gz_len : f->len;
    int fd = use_gzip ? f->gz_fd : f->fd;
    if (fd < 0 || is_head(req)) {
        send_body(s, req, &r->gen, body, len);
        return;
    }
    /* Headers now (h2o writes them and calls proceed once they are out),
     * the body from the memfd in on_sendfile_proceed. */
    r->gen.proceed = on_sendfile_proceed;
    r->sock_fd = request_fd(req);
    set_cork(r->sock_fd, 1);
    r->body_fd = fd;
    r->body = body;
    r->body_len = len;
    tm_metrics_http_count(&s->http_stats, 200);
    req->res.content_length = len;
    h2o_start_response(req, &r->gen);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
}

static void serve_status_page(struct tm_server *s, h2o_req_t *req)
{
    struct response *r = h2o_mem_alloc_shared(&req->pool, sizeof(*r), on_response_dispose);
    r->gen.proceed = on_response_proceed;
    r->gen.stop = on_response_stop;
    r->bundle = s->current;
    r->bundle->refs++;
    req->res.status = 200;
    req->res.reason = "OK";
    add_header_str(req, H2O_TOKEN_CONTENT_TYPE, "text/html; charset=utf-8");
    add_header_str(req, H2O_TOKEN_CACHE_CONTROL, "no-cache");
    send_body(s, req, &r->gen, r->bundle->status_page, r->bundle->status_len);
}

static void serve_healthz(struct tm_server *s, h2o_req_t *req)
{
    struct tm_buf body;
    int64_t published = s->current->published_utc;
    int64_t now = (int64_t)time(NULL);
    int64_t age = now - published;
    int status = 200;
    const char *word = "ok";
    char when[TM_DATE_RFC3339_LEN];

    if (age < 0) {
        age = 0;
    }
    tm_buf_init(&body, 256);
    if (published <= 0 || tm_date_format_rfc3339(published, when) != 0) {
        status = 503;
        tm_buf_adds(&body,
                    "{\"status\":\"never_published\",\"last_publish\":null,\"age_s\":null}\n");
    } else {
        if (s->stale_after_s > 0 && age > s->stale_after_s) {
            status = 503;
            word = "stale";
        }
        tm_buf_printf(&body, "{\"status\":\"%s\",\"last_publish\":\"%s\",\"age_s\":%lld}\n", word,
                      when, (long long)age);
    }
    size_t len = body.len;
    char *data = tm_buf_steal(&body);
    if (data == NULL) {
        send_error(s, req, 500, "Internal Server Error");
        return;
    }
    send_owned(s, req, status, status == 200 ? "OK" : "Service Unavailable",
               "application/json; charset=utf-8", data, len);
}

static void serve_metrics(struct tm_server *s, h2o_req_t *req)
{
    struct tm_buf body;
    tm_buf_init(&body, TM_SERVE_MAX_METRICS_BYTES);
    int rc = tm_metrics_render(s->metrics, &body);
    if (rc == 0) {
        rc = tm_metrics_render_http(&s->http_stats, &body);
    }
    size_t len = body.len;
    char *data = rc == 0 ? tm_buf_steal(&body) : NULL;
    tm_buf_free(&body);
    if (data == NULL) {
        send_error(s, req, 500, "Internal Server Error");
        return;
    }
    send_owned(s, req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", data, len);
}

static int on_h2o_request(h2o_handler_t *self, h2o_req_t *req)
{
    struct tm_server *s = ((struct route_handler *)self)->server;
    bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    if (!get && !is_head(req)) {
        return send_error(s, req, 405, "Method Not Allowed");
    }
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *path = req->path.base;
    if (path_len == 0 || path[0] != '/') {
        return send_error(s, req, 404, "Not Found");
    }
    if (path_len == 1) {
        serve_status_page(s, req);
    } else if (h2o_memis(path, path_len, H2O_STRLIT("/healthz"))) {
        serve_healthz(s, req);
    } else if (h2o_memis(path, path_len, H2O_STRLIT("/metrics"))) {
        serve_metrics(s, req);
    } else {
        const struct served_file *f = bundle_find(s->current, path + 1, path_len - 1);
        if (f == NULL) {
            return send_error(s, req, 404, "Not Found");
        }
        serve_file(s, req, f);
    }
    return 0;
}

/* ---- connections and lifecycle ---- */

static void maybe_finish(struct tm_server *s);

static void on_finalizer_close(uv_handle_t *h)
{
    struct tm_server *s = h->data;
    void (*cb)(void *) = s->on_closed;
    void *ud = s->on_closed_ud;
    bundle_unref(s->current);
    free(s->title);
    free(s);
    if (cb != NULL) {
        cb(ud);
    }
}

static void on_conn_close(uv_handle_t *h)
{
    struct conn *c = (struct conn *)h;
    struct tm_server *s = c->server;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->n_conns--;
    free(c);
    maybe_finish(s);
}

static void on_listener_close(uv_handle_t *h)
{
    struct tm_server *s = h->data;
    s->listener_open = false;
    maybe_finish(s);
}

static void on_uv_connection(uv_stream_t *listener, int status)
{
    struct tm_server *s = listener->data;
    if (status != 0 || s->closing) {
        return;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return;
    }
    if (uv_tcp_init(s->loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    c->server = s;
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->n_conns++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 || s->n_conns > TM_SERVE_MAX_CONNECTIONS) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_close);
        return;
    }
    /* Responses sent with sendfile leave in two writes (h2o's headers, then
     * the body): without TCP_NODELAY, Nagle would hold the body until the
     * client acknowledged the headers, a delayed-ACK wait. Without it the
     * connection still works, only slower. */
    if (uv_tcp_nodelay(&c->tcp, 1) != 0) {
        c->nodelay_failed = true;
    }
    c->sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_close);
    if (c->sock == NULL) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_close);
        return;
    }
    h2o_accept(&s->accept_ctx, c->sock);
}

/* When the listener and every connection have closed: dispose of h2o's
 * context, then free s from the close callback of `finalizer`. In its
 * libuv build h2o_context_dispose uv_close()s its timers and queue (their
 * memory is inside s) and then runs the loop once (UV_RUN_NOWAIT) so those
 * closes complete; only after it returns is the finalizer closed, so s
 * outlives every h2o handle. */
static void maybe_finish(struct tm_server *s)
{
    if (!s->closing || s->listener_open || s->n_conns > 0 || s->finishing) {
        return;
    }
    s->finishing = true;
    if (s->ctx_ready) {
        h2o_context_dispose(&s->ctx);
        s->ctx_ready = false;
    }
    h2o_config_dispose(&s->config);
    uv_close((uv_handle_t *)&s->finalizer, on_finalizer_close);
}

void tm_server_close(struct tm_server *s, void (*on_closed)(void *ud), void *ud)
{
    if (s == NULL || s->closing) {
        return;
    }
    s->closing = true;
    s->on_closed = on_closed;
    s->on_closed_ud = ud;
    /* No h2o_context_request_shutdown: for HTTP/2 (unused here) it arms a
     * graceful-shutdown timeout entry that h2o_context_dispose then asserts
     * against. */
    /* Cut every connection at the socket: h2o then sees EOF or a write
     * error on it and closes it the way it always does, so its own
     * bookkeeping (timeouts, pools) unwinds normally. */
    for (struct conn *c = s->conns; c != NULL; c = c->next) {
        uv_os_fd_t fd;
        if (c->sock != NULL && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
            shutdown(fd, SHUT_RDWR);
        }
    }
    if (s->listener_open && !uv_is_closing((uv_handle_t *)&s->listener)) {
        uv_close((uv_handle_t *)&s->listener, on_listener_close);
    }
    maybe_finish(s);
}

static int parse_listen(const char *listen, struct sockaddr_storage *addr, struct tm_error *err)
{
    char host[TM_SERVE_MAX_LISTEN_BYTES];
    const char *colon;
    const char *host_start = listen;
    size_t host_len;
    bool v6 = false;

    if (listen == NULL || strlen(listen) >= TM_SERVE_MAX_LISTEN_BYTES) {
        return tm_error_set(err, TM_EINVAL, "serve: listen address missing or too long");
    }
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':') {
            return tm_error_set(err, TM_EINVAL, "serve: bad listen address \"%s\"", listen);
        }
        host_start = listen + 1;
        host_len = (size_t)(close - host_start);
        colon = close + 1;
        v6 = true;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL) {
            return tm_error_set(err, TM_EINVAL, "serve: listen address \"%s\" has no port", listen);
        }
        host_len = (size_t)(colon - listen);
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
        return tm_error_set(err, TM_EINVAL, "serve: bad port in \"%s\"", listen);
    }
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    if (host_len == 0) {
        memcpy(host, "0.0.0.0", sizeof("0.0.0.0"));
    }
    int rc = v6 ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)addr)
                : uv_ip4_addr(host, (int)port, (struct sockaddr_in *)addr);
    if (rc != 0) {
        return tm_error_set(err, TM_EINVAL, "serve: bad address in \"%s\": %s", listen,
                            uv_strerror(rc));
    }
    return 0;
}

static void on_start_failed_close(uv_handle_t *h)
{
    free(h->data);
}

int tm_server_start(uv_loop_t *loop, const struct tm_serve_opts *opts, struct tm_server **out,
                    struct tm_error *err)
{
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    if (loop == NULL || opts == NULL || out == NULL) {
        return tm_error_set(err, TM_EINVAL, "serve: missing argument");
    }
    int rc = parse_listen(opts->listen, &addr, err);
    if (rc != 0) {
        return rc;
    }
    struct tm_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return tm_error_set(err, TM_ENOMEM, "serve: out of memory");
    }
    s->loop = loop;
    s->max_age_s = opts->max_age_s > 0 ? opts->max_age_s : 0;
    snprintf(s->cache_control, sizeof(s->cache_control), "public, max-age=%d", s->max_age_s);
    s->stale_after_s = opts->stale_after_s;
    s->utc_offset_s = opts->utc_offset_s;
    s->metrics = opts->metrics;
    s->title = strdup(opts->title != NULL ? opts->title : "tinmoi");
    s->current = s->title != NULL ? bundle_empty(s) : NULL;
    if (s->current == NULL) {
        free(s->title);
        free(s);
        return tm_error_set(err, TM_ENOMEM, "serve: out of memory");
    }

    int uvrc = uv_tcp_init(loop, &s->listener);
    if (uvrc != 0) {
        bundle_unref(s->current);
        free(s->title);
        free(s);
        return tm_error_set(err, TM_EIO, "serve: %s", uv_strerror(uvrc));
    }
    s->listener.data = s;
    uvrc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (uvrc == 0) {
        uvrc = uv_listen((uv_stream_t *)&s->listener, TM_SERVE_BACKLOG, on_uv_connection);
    }
    struct sockaddr_storage bound;
    int bound_len = sizeof(bound);
    if (uvrc == 0) {
        uvrc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &bound_len);
    }
    if (uvrc != 0) {
        tm_error_set(err, TM_EIO, "serve: cannot listen on %s: %s", opts->listen,
                     uv_strerror(uvrc));
        bundle_unref(s->current);
        free(s->title);
        /* s is freed once the listener handle has closed. */
        uv_close((uv_handle_t *)&s->listener, on_start_failed_close);
        return TM_EIO;
    }
    s->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    s->listener_open = true;
    uvrc = uv_timer_init(loop, &s->finalizer);
    if (uvrc != 0) {
        s->closing = true;
        uv_close((uv_handle_t *)&s->listener, on_start_failed_close);
        bundle_unref(s->current);
        free(s->title);
        return tm_error_set(err, TM_EIO, "serve: %s", uv_strerror(uvrc));
    }
    s->finalizer.data = s;

    h2o_config_init(&s->config);
    s->config.server_name = h2o_iovec_init(H2O_STRLIT("tinmoi"));
    s->config.http1.req_timeout = TM_SERVE_REQ_TIMEOUT_MS;
    s->config.http1.upgrade_to_http2 = 0;
    s->config.max_request_entity_size = TM_SERVE_MAX_REQUEST_BODY_BYTES;
    h2o_hostconf_t *host =
        h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = host != NULL ? h2o_config_register_path(host, "/", 0) : NULL;
    struct route_handler *handler =
        pathconf != NULL ? (struct route_handler *)h2o_create_handler(pathconf, sizeof(*handler))
                         : NULL;
    if (handler == NULL) {
        /* h2o aborts on OOM itself; this only guards a surprise. */
        s->closing = true;
        h2o_config_dispose(&s->config);
        /* Closed in this order so the listener's callback, which frees s,
         * runs after the finalizer's (libuv: last closed, first called). */
        uv_close((uv_handle_t *)&s->listener, on_start_failed_close);
        uv_close((uv_handle_t *)&s->finalizer, NULL);
        bundle_unref(s->current);
        free(s->title);
        return tm_error_set(err, TM_ENOMEM, "serve: h2o configuration failed");
    }
    handler->super.on_req = on_h2o_request;
    handler->server = s;
    h2o_context_init(&s->ctx, loop, &s->config);
    s->ctx_ready = true;
    s->accept_ctx.ctx = &s->ctx;
    s->accept_ctx.hosts = s->config.hosts;
    *out = s;
    return 0;
}

int tm_server_port(const struct tm_server *s)
{
    return s != NULL ? s->port : -1;
}
