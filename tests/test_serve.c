/* Tests of the HTTP endpoint (issue 5): the server runs on a libuv loop in
 * a second thread; the test drives it with libcurl (easy) and raw sockets
 * from the main thread. Every server call is made on the loop thread
 * through a uv_async job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "serve_int.h"
#include "tinmoi/hash.h"
#include "tinmoi/date.h"
#include "tinmoi/metrics.h"
#include "tinmoi/serve.h"

/* ---- the loop thread ---- */

struct harness {
    uv_loop_t loop;
    uv_async_t async;
    uv_thread_t thread;
    uv_sem_t done;
    uv_mutex_t lock;
    void (*job)(struct harness *h, void *arg);
    void *job_arg;
    struct tm_server *server;
    struct tm_metrics *metrics;
    int port;
    int closed_calls;
    int loop_close_rc;
    uv_sem_t finished;
    /* the swap-under-load timer */
    uv_timer_t swapper;
    int swaps;
};

static struct harness H;

static void on_async_job(uv_async_t *a)
{
    struct harness *h = a->data;
    uv_mutex_lock(&h->lock);
    void (*job)(struct harness *, void *) = h->job;
    void *arg = h->job_arg;
    h->job = NULL;
    uv_mutex_unlock(&h->lock);
    if (job != NULL) {
        job(h, arg);
        uv_sem_post(&h->done);
    }
}

/* h2o keeps per-thread recycled memory in thread-local lists it never
 * frees. The loop thread therefore parks after its loop has closed instead
 * of exiting, so LeakSanitizer still sees those lists as reachable. */
static uv_sem_t parked;

static void loop_thread(void *arg)
{
    struct harness *h = arg;
    uv_run(&h->loop, UV_RUN_DEFAULT);
    h->loop_close_rc = uv_loop_close(&h->loop);
    uv_sem_post(&h->finished);
    uv_sem_wait(&parked);
}

/* Runs job(h, arg) on the loop thread and waits for it. */
static void run_on_loop(void (*job)(struct harness *, void *), void *arg)
{
    uv_mutex_lock(&H.lock);
    H.job = job;
    H.job_arg = arg;
    uv_mutex_unlock(&H.lock);
    assert_int_equal(uv_async_send(&H.async), 0);
    uv_sem_wait(&H.done);
}

struct start_args {
    const char *listen;
    int stale_after_s;
    int rc;
    struct tm_error err;
};

static void job_start(struct harness *h, void *arg)
{
    struct start_args *a = arg;
    struct tm_serve_opts opts = {
        .listen = a->listen,
        .max_age_s = 300,
        .stale_after_s = a->stale_after_s,
        .metrics = h->metrics,
        .title = "tinmoi <test>",
        .utc_offset_s = 7 * 3600,
    };
    a->rc = tm_server_start(&h->loop, &opts, &h->server, &a->err);
    if (a->rc == 0) {
        h->port = tm_server_port(h->server);
    }
}

static void on_server_closed(void *ud)
{
    struct harness *h = ud;
    h->closed_calls++;
}

static void job_stop(struct harness *h, void *arg)
{
    if (uv_is_active((uv_handle_t *)&h->swapper)) {
        uv_timer_stop(&h->swapper);
    }
    uv_close((uv_handle_t *)&h->swapper, NULL);
    tm_server_close(h->server, on_server_closed, h);
    h->server = NULL;
    uv_close((uv_handle_t *)&h->async, NULL);
}

/* ---- the published files ---- */

static const char snapshot_json[] =
    "{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"t\",\"items\":["
    "{\"id\":\"tag:a,2022:1\",\"url\":\"https://xa.example.vn/tin/1\","
    "\"title\":\"Hội nghị <triển khai> nhiệm vụ\",\"content_text\":\"x\","
    "\"_tinmoi\":{\"display_date\":\"31/05/2022 10:55 SA\"}},"
    "{\"id\":\"tag:a,2022:2\",\"url\":\"javascript:alert(1)\",\"title\":\"Tin thứ hai\","
    "\"content_text\":\"x\",\"_tinmoi\":{\"display_date\":\"30/05/2022 5:53 CH\"}}],"
    "\"_tinmoi\":{\"generated_at\":\"2022-05-31T04:00:00Z\","
    "\"latest\":[\"tag:a,2022:1\",\"tag:a,2022:2\"],\"sources\":["
    "{\"id\":\"xa\",\"title\":\"UBND xã\",\"url\":\"https://xa.example.vn/rss\","
    "\"category\":\"district\",\"status\":\"ok\",\"last_success\":\"2022-05-31T03:55:00Z\","
    "\"last_error\":null,\"consecutive_failures\":0,\"item_count\":12},"
    "{\"id\":\"tinh\",\"title\":\"Tỉnh\",\"url\":\"https://tinh.example.vn/rss\","
    "\"category\":\"province\",\"status\":\"error\",\"last_success\":null,"
    "\"last_error\":\"HTTP 500 <b>boom</b>\",\"consecutive_failures\":3,\"item_count\":0}]}}";

static char atom_v1[4096];
static size_t atom_v1_len;

static void make_atom(char *buf, size_t size, size_t *len, const char *marker)
{
    int n = snprintf(buf, size,
                     "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed "
                     "xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"vi\"><title>%s</title>",
                     marker);
    for (int i = 0; i < 20 && (size_t)n < size - 200; i++) {
        n += snprintf(buf + n, size - (size_t)n,
                      "<entry><title>Tin số %d</title><id>tag:x,%d</id></entry>\n", i, i);
    }
    n += snprintf(buf + n, size - (size_t)n, "</feed>\n");
    *len = (size_t)n;
}

struct set_args {
    struct tm_published_file *files;
    size_t n;
    int64_t published_utc;
    int rc;
};

static void job_set(struct harness *h, void *arg)
{
    struct set_args *a = arg;
    a->rc = tm_server_set_files(h->server, a->files, a->n, a->published_utc, NULL);
}

/* Publishes latest.atom, snapshot.json and news.json at `published_utc`. */
static int publish_default(int64_t published_utc)
{
    struct tm_published_file files[3] = {
        {.name = (char[]){"latest.atom"},
         .data = atom_v1,
         .len = atom_v1_len,
         .content_type = TM_PUBLISH_TYPE_ATOM},
        {.name = (char[]){"snapshot.json"},
         .data = (char *)(uintptr_t)snapshot_json,
         .len = sizeof(snapshot_json) - 1,
         .content_type = TM_PUBLISH_TYPE_JSON},
        {.name = (char[]){"news.json"},
         .data = (char[]){"{\"items\":[]}"},
         .len = 12,
         .content_type = TM_PUBLISH_TYPE_JSON},
    };
    struct set_args a = {.files = files, .n = 3, .published_utc = published_utc};
    run_on_loop(job_set, &a);
    return a.rc;
}

/* ---- HTTP client ---- */

struct resp {
    long status;
    struct tm_buf headers;
    struct tm_buf body;
    CURLcode curl_rc;
};

static size_t on_curl_write(char *p, size_t size, size_t n, void *ud)
{
    struct tm_buf *b = ud;
    return tm_buf_add(b, p, size * n) == 0 ? size * n : 0;
}

static void resp_free(struct resp *r)
{
    tm_buf_free(&r->headers);
    tm_buf_free(&r->body);
}

/* `method` NULL for GET; "HEAD" uses CURLOPT_NOBODY; headers NULL-ended;
 * accept_encoding non-NULL asks curl to decode (CURLOPT_ACCEPT_ENCODING). */
static void request(const char *method, const char *path, const char *const *headers,
                    const char *accept_encoding, struct resp *r)
{
    char url[512];
    struct curl_slist *list = NULL;
    CURL *c = curl_easy_init();
    assert_non_null(c);
    memset(r, 0, sizeof(*r));
    tm_buf_init(&r->headers, 1 << 20);
    tm_buf_init(&r->body, 64 << 20);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", H.port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_curl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_curl_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    if (method != NULL && strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method != NULL) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (accept_encoding != NULL) {
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, accept_encoding);
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        list = curl_slist_append(list, headers[i]);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    r->curl_rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
}

/* The value of response header `name` (case-insensitive), copied into
 * `out`; NULL when absent. */
static const char *header(const struct resp *r, const char *name, char *out, size_t size)
{
    const char *p = r->headers.data;
    size_t nlen = strlen(name);
    while (p != NULL && *p != '\0') {
        const char *eol = strstr(p, "\r\n");
        if (eol == NULL) {
            break;
        }
        if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ') {
                v++;
            }
            size_t vlen = (size_t)(eol - v);
            if (vlen >= size) {
                vlen = size - 1;
            }
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return out;
        }
        p = eol + 2;
    }
    return NULL;
}

static void assert_header(const struct resp *r, const char *name, const char *want)
{
    char v[512];
    const char *got = header(r, name, v, sizeof(v));
    if (want == NULL) {
        if (got != NULL) {
            fail_msg("unexpected header %s: %s", name, got);
        }
        return;
    }
    if (got == NULL) {
        fail_msg("missing header %s in:\n%s", name, r->headers.data);
    }
    assert_string_equal(got, want);
}

/* ---- setup / teardown ---- */

static int setup(void **state)
{
    memset(&H, 0, sizeof(H));
    make_atom(atom_v1, sizeof(atom_v1), &atom_v1_len, "v1");
    assert_int_equal(uv_loop_init(&H.loop), 0);
    assert_int_equal(uv_async_init(&H.loop, &H.async, on_async_job), 0);
    H.async.data = &H;
    assert_int_equal(uv_timer_init(&H.loop, &H.swapper), 0);
    H.swapper.data = &H;
    assert_int_equal(uv_sem_init(&H.done, 0), 0);
    assert_int_equal(uv_sem_init(&H.finished, 0), 0);
    assert_int_equal(uv_mutex_init(&H.lock), 0);
    H.metrics = tm_metrics_new();
    assert_non_null(H.metrics);
    assert_int_equal(uv_thread_create(&H.thread, loop_thread, &H), 0);
    struct start_args a = {.listen = "127.0.0.1:0", .stale_after_s = 600};
    run_on_loop(job_start, &a);
    assert_int_equal(a.rc, 0);
    assert_true(H.port > 0);
    return 0;
}

static int teardown(void **state)
{
    uv_mutex_lock(&H.lock);
    H.job = job_stop;
    H.job_arg = NULL;
    uv_mutex_unlock(&H.lock);
    assert_int_equal(uv_async_send(&H.async), 0);
    uv_sem_wait(&H.finished);
    assert_int_equal(H.closed_calls, 1);
    assert_int_equal(H.loop_close_rc, 0);
    uv_sem_destroy(&H.done);
    uv_sem_destroy(&H.finished);
    uv_mutex_destroy(&H.lock);
    tm_metrics_free(H.metrics);
    return 0;
}

/* ---- tests ---- */

static void test_before_first_publish(void **state)
{
    struct resp r;
    request(NULL, "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body.data, "\"status\":\"never_published\""));
    resp_free(&r);
    request(NULL, "/latest.atom", NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    request(NULL, "/", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "tinmoi &lt;test&gt;"));
    resp_free(&r);
}

static void expected_etag(const char *data, size_t len, char out[32])
{
    snprintf(out, 32, "\"%016llx\"",
             (unsigned long long)tm_hash_fnv1a64(TM_HASH_FNV1A64_INIT, data, len));
}

static void test_file_headers(void **state)
{
    int64_t published = 1653969300; /* 2022-05-31T03:55:00Z */
    char etag[32], lm[TM_DATE_HTTP_LEN];
    struct resp r;
    assert_int_equal(publish_default(published), 0);
    assert_int_equal(tm_date_format_http(published, lm), 0);

    request(NULL, "/latest.atom", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, atom_v1_len);
    assert_memory_equal(r.body.data, atom_v1, atom_v1_len);
    expected_etag(atom_v1, atom_v1_len, etag);
    assert_header(&r, "Content-Type", "application/atom+xml; charset=utf-8");
    assert_header(&r, "ETag", etag);
    assert_header(&r, "Last-Modified", "Tue, 31 May 2022 03:55:00 GMT");
    assert_header(&r, "Cache-Control", "public, max-age=300");
    assert_header(&r, "Vary", "Accept-Encoding");
    assert_header(&r, "Access-Control-Allow-Origin", NULL);
    assert_header(&r, "Content-Encoding", NULL);
    resp_free(&r);

    request(NULL, "/snapshot.json", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, snapshot_json);
    assert_header(&r, "Content-Type", "application/feed+json; charset=utf-8");
    assert_header(&r, "Access-Control-Allow-Origin", "*");
    resp_free(&r);

    request(NULL, "/news.json?cache=bust", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"items\":[]}");
    resp_free(&r);

    /* HEAD: same headers and Content-Length, no body. */
    request("HEAD", "/latest.atom", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    char cl[32];
    snprintf(cl, sizeof(cl), "%zu", atom_v1_len);
    assert_header(&r, "Content-Length", cl);
    assert_header(&r, "ETag", etag);
    resp_free(&r);

    /* A republish of the same bytes a minute later keeps the validators;
     * a change in one second gets a new ETag and Last-Modified. */
    assert_int_equal(publish_default(published + 60), 0);
    request(NULL, "/latest.atom", NULL, NULL, &r);
    assert_header(&r, "ETag", etag);
    assert_header(&r, "Last-Modified", "Tue, 31 May 2022 03:55:00 GMT");
    resp_free(&r);
}

static void test_conditional(void **state)
{
    char etag[32], hdr[128];
    struct resp r;
    assert_int_equal(publish_default(1653969300), 0);
    expected_etag(atom_v1, atom_v1_len, etag);

    snprintf(hdr, sizeof(hdr), "If-None-Match: %s", etag);
    request(NULL, "/latest.atom", (const char *[]){hdr, NULL}, NULL, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body.len, 0);
    assert_header(&r, "ETag", etag);
    resp_free(&r);

    snprintf(hdr, sizeof(hdr), "If-None-Match: \"nope\", W/%s", etag);
    request(NULL, "/latest.atom", (const char *[]){hdr, NULL}, NULL, &r);
    assert_int_equal(r.status, 304);
    resp_free(&r);

    request(NULL, "/latest.atom", (const char *[]){"If-None-Match: *", NULL}, NULL, &r);
    assert_int_equal(r.status, 304);
    resp_free(&r);

    request(NULL, "/latest.atom", (const char *[]){"If-None-Match: \"0000000000000000\"", NULL},
            NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, atom_v1_len);
    resp_free(&r);

    request(NULL, "/latest.atom",
            (const char *[]){"If-Modified-Since: Tue, 31 May 2022 03:55:00 GMT", NULL}, NULL, &r);
    assert_int_equal(r.status, 304);
    resp_free(&r);
    request(NULL, "/latest.atom",
            (const char *[]){"If-Modified-Since: Tue, 31 May 2022 03:54:59 GMT", NULL}, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* If-None-Match wins over If-Modified-Since (RFC 7232 §6). */
    request(NULL, "/latest.atom",
            (const char *[]){"If-None-Match: \"other\"",
                             "If-Modified-Since: Tue, 31 May 2022 03:55:00 GMT", NULL},
            NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void test_gzip(void **state)
{
    struct resp r;
    char etag[32], etag_gz[40];
    assert_int_equal(publish_default(1653969300), 0);
    expected_etag(atom_v1, atom_v1_len, etag);
    snprintf(etag_gz, sizeof(etag_gz), "\"%016llx-gz\"",
             (unsigned long long)tm_hash_fnv1a64(TM_HASH_FNV1A64_INIT, atom_v1, atom_v1_len));

    /* curl asks for gzip and decodes: the round trip gives the bytes back. */
    request(NULL, "/latest.atom", NULL, "gzip", &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Encoding", "gzip");
    assert_header(&r, "Vary", "Accept-Encoding");
    assert_header(&r, "ETag", etag_gz);
    assert_int_equal(r.body.len, atom_v1_len);
    assert_memory_equal(r.body.data, atom_v1, atom_v1_len);
    char cl[32];
    assert_non_null(header(&r, "Content-Length", cl, sizeof(cl)));
    assert_true(strtoul(cl, NULL, 10) < atom_v1_len / 2);
    resp_free(&r);

    /* The gzip variant's tag validates too. */
    char hdr[96];
    snprintf(hdr, sizeof(hdr), "If-None-Match: %s", etag_gz);
    request(NULL, "/latest.atom", (const char *[]){hdr, NULL}, "gzip", &r);
    assert_int_equal(r.status, 304);
    resp_free(&r);

    static const struct {
        const char *ae;
        bool gzip;
    } cases[] = {
        {"Accept-Encoding: gzip;q=0", false}, {"Accept-Encoding: gzip; q=0.000, deflate", false},
        {"Accept-Encoding: identity", false}, {"Accept-Encoding: br, gzip;q=0.5", true},
        {"Accept-Encoding: *;q=0.1", true},   {"Accept-Encoding: *, gzip;q=0", false},
        {"Accept-Encoding: GZIP", true},      {"Accept-Encoding: x-gzip", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        request(NULL, "/latest.atom", (const char *[]){cases[i].ae, NULL}, NULL, &r);
        assert_int_equal(r.status, 200);
        char v[64];
        bool got = header(&r, "Content-Encoding", v, sizeof(v)) != NULL;
        if (got != cases[i].gzip) {
            fail_msg("%s: gzip %d, expected %d", cases[i].ae, got, cases[i].gzip);
        }
        if (!got) {
            assert_int_equal(r.body.len, atom_v1_len);
            assert_header(&r, "ETag", etag);
        }
        resp_free(&r);
    }
}

static void test_not_found_and_methods(void **state)
{
    static const char *const not_found[] = {
        "/nope.atom",     "/../latest.atom",   "/%2e%2e/latest.atom", "/%252e%252e/snapshot.json",
        "/./latest.atom", "//latest.atom",     "/latest.atom/",       "/LATEST.ATOM",
        "/latest%2eatom", "/..%2flatest.atom", "/etc/passwd",         "/latest.atom%00",
    };
    struct resp r;
    assert_int_equal(publish_default(1653969300), 0);
    for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
        request(NULL, not_found[i], NULL, NULL, &r);
        if (r.status != 404) {
            fail_msg("%s: %ld", not_found[i], r.status);
        }
        resp_free(&r);
    }
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        request(methods[i], "/latest.atom", NULL, NULL, &r);
        assert_int_equal(r.status, 405);
        assert_header(&r, "Allow", "GET, HEAD");
        resp_free(&r);
    }
}

/* Raw socket helpers for what curl will not send. */
static int connect_raw(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)H.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until EOF or timeout_ms; returns bytes read, -1 on timeout. */
static long read_until_close(int fd, char *buf, size_t size, int timeout_ms)
{
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, timeout_ms);
        if (n <= 0) {
            return -1;
        }
        ssize_t k = read(fd, buf + got, size - 1 - got);
        if (k <= 0) {
            buf[got] = '\0';
            return (long)got;
        }
        got += (size_t)k;
        if (got == size - 1) {
            buf[got] = '\0';
            return (long)got;
        }
    }
}

static void test_oversized_headers(void **state)
{
    /* H2O_MAX_REQLEN is 417,792 bytes: send more header than that. */
    size_t big = 600 * 1024;
    char *req = malloc(big + 128);
    assert_non_null(req);
    int n = snprintf(req, 128, "GET /latest.atom HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', big);
    memcpy(req + n + big, "\r\n\r\n", 4);
    int fd = connect_raw();
    assert_true(fd >= 0);
    /* The server may stop reading early: ignore a failed write. */
    size_t off = 0;
    while (off < (size_t)n + big + 4) {
        ssize_t k = send(fd, req + off, (size_t)n + big + 4 - off, MSG_NOSIGNAL);
        if (k <= 0) {
            break;
        }
        off += (size_t)k;
    }
    char buf[4096];
    long got = read_until_close(fd, buf, sizeof(buf), 5000);
    close(fd);
    free(req);
    /* Either a 4xx answer or a plain close; never the file. */
    assert_true(got >= 0);
    if (got > 0) {
        assert_non_null(strstr(buf, "HTTP/1.1 4"));
    }
    assert_null(strstr(buf, "200 OK"));

    /* More than H2O_MAX_HEADERS (100) fields. */
    struct tm_buf many;
    tm_buf_init(&many, 0);
    tm_buf_adds(&many, "GET /latest.atom HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 150; i++) {
        tm_buf_printf(&many, "X-H%d: v\r\n", i);
    }
    tm_buf_adds(&many, "\r\n");
    fd = connect_raw();
    assert_true(fd >= 0);
    assert_int_equal(send(fd, many.data, many.len, MSG_NOSIGNAL), (ssize_t)many.len);
    got = read_until_close(fd, buf, sizeof(buf), 5000);
    close(fd);
    tm_buf_free(&many);
    assert_true(got > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 400"));
}

static void test_slow_client_timed_out(void **state)
{
    int fd = connect_raw();
    assert_true(fd >= 0);
    /* Half a request line, then nothing: the server must hang up after
     * TM_SERVE_REQ_TIMEOUT_MS, not wait forever. */
    assert_int_equal(send(fd, "GET /latest.atom HT", 19, MSG_NOSIGNAL), 19);
    char buf[512];
    uint64_t t0 = uv_hrtime();
    long got = read_until_close(fd, buf, sizeof(buf), TM_SERVE_REQ_TIMEOUT_MS + 5000);
    uint64_t waited_ms = (uv_hrtime() - t0) / 1000000;
    close(fd);
    assert_true(got >= 0);
    assert_true(waited_ms >= TM_SERVE_REQ_TIMEOUT_MS - 1000);
    assert_true(waited_ms < TM_SERVE_REQ_TIMEOUT_MS + 5000);
}

static void job_nothing(struct harness *h, void *arg)
{
}

static void test_connection_flood(void **state)
{
    enum { N = TM_SERVE_MAX_CONNECTIONS + 200 };
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < N + 64) {
        rl.rlim_cur = rl.rlim_max < N + 64 ? rl.rlim_max : N + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < N + 64) {
        skip();
    }
    static int fds[N];
    int opened = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = connect_raw();
        if (fds[i] >= 0) {
            opened++;
        }
    }
    assert_true(opened > TM_SERVE_MAX_CONNECTIONS);
    /* The loop keeps answering promptly while the flood sits there. */
    for (int k = 0; k < 5; k++) {
        uint64_t t0 = uv_hrtime();
        run_on_loop(job_nothing, NULL);
        assert_true((uv_hrtime() - t0) / 1000000 < 500);
    }
    /* The ones over the cap were closed by the server. */
    int closed = 0;
    for (int i = 0; i < N; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        char c;
        if (fds[i] >= 0 && poll(&p, 1, i >= TM_SERVE_MAX_CONNECTIONS ? 1000 : 0) == 1 &&
            read(fds[i], &c, 1) <= 0) {
            closed++;
        }
    }
    assert_true(closed >= opened - TM_SERVE_MAX_CONNECTIONS);
    for (int i = 0; i < N; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    /* Once they are gone, requests are served again. */
    struct resp r;
    for (int tries = 0; tries < 50; tries++) {
        request(NULL, "/healthz", NULL, NULL, &r);
        if (r.status != 0) {
            break;
        }
        resp_free(&r);
        usleep(100 * 1000);
    }
    assert_int_equal(r.status, 503);
    resp_free(&r);
}

/* ---- swap under load ---- */

enum { SWAP_BYTES = 2 * 1024 * 1024 };
static char *swap_bodies[2];

static void on_swapper_timer(uv_timer_t *t)
{
    struct harness *h = t->data;
    int v = h->swaps % 2;
    struct tm_published_file f = {.name = (char[]){"snapshot.json"},
                                  .data = swap_bodies[v],
                                  .len = SWAP_BYTES,
                                  .content_type = TM_PUBLISH_TYPE_JSON};
    /* One second per publish: Last-Modified must follow the bytes. */
    assert_int_equal(tm_server_set_files(h->server, &f, 1, 1700000000 + h->swaps, NULL), 0);
    h->swaps++;
    /* An irregular rhythm, so requests meet both versions. */
    assert_int_equal(uv_timer_start(t, on_swapper_timer, (uint64_t)(rand() % 7), 0), 0);
}

static void job_start_swapper(struct harness *h, void *arg)
{
    assert_int_equal(uv_timer_start(&h->swapper, on_swapper_timer, 0, 0), 0);
}

static void job_stop_swapper(struct harness *h, void *arg)
{
    assert_int_equal(uv_timer_stop(&h->swapper), 0);
}

static void test_swap_under_load(void **state)
{
    for (int v = 0; v < 2; v++) {
        swap_bodies[v] = malloc(SWAP_BYTES);
        assert_non_null(swap_bodies[v]);
        for (size_t i = 0; i < SWAP_BYTES; i++) {
            swap_bodies[v][i] = (char)('a' + (i * 7 + (size_t)v * 3) % 26);
        }
    }
    run_on_loop(job_start_swapper, NULL);
    int seen[2] = {0, 0};
    for (int i = 0; i < 60; i++) {
        struct resp r;
        request(NULL, "/snapshot.json", NULL, i % 2 ? "gzip" : NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body.len, SWAP_BYTES);
        char etag[40], want[40], want_gz[40];
        assert_non_null(header(&r, "ETag", etag, sizeof(etag)));
        uint64_t hash = tm_hash_fnv1a64(TM_HASH_FNV1A64_INIT, r.body.data, r.body.len);
        snprintf(want, sizeof(want), "\"%016llx\"", (unsigned long long)hash);
        snprintf(want_gz, sizeof(want_gz), "\"%016llx-gz\"", (unsigned long long)hash);
        if (strcmp(etag, want) != 0 && strcmp(etag, want_gz) != 0) {
            fail_msg("response %d: ETag %s does not match its body (%s)", i, etag, want);
        }
        int v = memcmp(r.body.data, swap_bodies[0], SWAP_BYTES) == 0   ? 0
                : memcmp(r.body.data, swap_bodies[1], SWAP_BYTES) == 0 ? 1
                                                                       : -1;
        assert_true(v >= 0);
        seen[v]++;
        resp_free(&r);
    }
    run_on_loop(job_stop_swapper, NULL);
    if (H.swaps <= 10 || seen[0] == 0 || seen[1] == 0) {
        fail_msg("swaps %d, seen %d/%d", H.swaps, seen[0], seen[1]);
    }
    free(swap_bodies[0]);
    free(swap_bodies[1]);
}

/* Bodies of 16 KB and more leave through sendfile after h2o's headers:
 * pipelined requests on one keep-alive connection (GET, HEAD, a small GET,
 * then GET with Connection: close) must come back whole and in order. */
enum { BIG_BYTES = 100 * 1024 + 7 };

static void job_publish_big(struct harness *h, void *arg)
{
    char *big = arg;
    struct tm_published_file files[2] = {
        {.name = (char[]){"big.json"},
         .data = big,
         .len = BIG_BYTES,
         .content_type = TM_PUBLISH_TYPE_JSON},
        {.name = (char[]){"news.json"},
         .data = (char[]){"{\"items\":[]}"},
         .len = 12,
         .content_type = TM_PUBLISH_TYPE_JSON},
    };
    assert_int_equal(tm_server_set_files(h->server, files, 2, 1653969300, NULL), 0);
}

/* Parses one response at *p: returns its body (NULL for HEAD) and length;
 * advances *p past it. */
static const char *next_response(const char **p, const char *end, bool head, size_t *body_len)
{
    const char *hend = strstr(*p, "\r\n\r\n");
    assert_non_null(hend);
    assert_true(strncmp(*p, "HTTP/1.1 200 ", 13) == 0);
    const char *cl = strstr(*p, "Content-Length: ");
    assert_true(cl != NULL && cl < hend);
    *body_len = (size_t)strtoul(cl + 16, NULL, 10);
    const char *body = hend + 4;
    if (head) {
        *p = body;
        return NULL;
    }
    assert_true((size_t)(end - body) >= *body_len);
    *p = body + *body_len;
    return body;
}

static void test_sendfile_pipelined(void **state)
{
    char *big = malloc(BIG_BYTES);
    assert_non_null(big);
    for (size_t i = 0; i < BIG_BYTES; i++) {
        big[i] = (char)('A' + (i * 13) % 26);
    }
    run_on_loop(job_publish_big, big);

    struct resp r;
    request(NULL, "/big.json", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, BIG_BYTES);
    assert_memory_equal(r.body.data, big, BIG_BYTES);
    assert_header(&r, "Access-Control-Allow-Origin", "*");
    resp_free(&r);

    static const char reqs[] = "GET /big.json HTTP/1.1\r\nHost: x\r\n\r\n"
                               "HEAD /big.json HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /news.json HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /big.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int fd = connect_raw();
    assert_true(fd >= 0);
    assert_int_equal(write(fd, reqs, sizeof(reqs) - 1), (ssize_t)(sizeof(reqs) - 1));
    size_t cap = 3 * BIG_BYTES;
    char *buf = malloc(cap);
    assert_non_null(buf);
    long got = read_until_close(fd, buf, cap, 10000);
    close(fd);
    assert_true(got > 2 * BIG_BYTES);
    const char *p = buf, *end = buf + got;
    size_t len;
    const char *body = next_response(&p, end, false, &len);
    assert_int_equal(len, BIG_BYTES);
    assert_memory_equal(body, big, BIG_BYTES);
    assert_null(next_response(&p, end, true, &len));
    assert_int_equal(len, BIG_BYTES);
    body = next_response(&p, end, false, &len);
    assert_int_equal(len, 12);
    assert_memory_equal(body, "{\"items\":[]}", 12);
    body = next_response(&p, end, false, &len);
    assert_int_equal(len, BIG_BYTES);
    assert_memory_equal(body, big, BIG_BYTES);
    assert_true(p == end);
    free(buf);
    free(big);
}

static void test_healthz(void **state)
{
    struct resp r;
    assert_int_equal(publish_default((int64_t)time(NULL) - 1000), 0);
    request(NULL, "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body.data, "\"status\":\"stale\""));
    assert_header(&r, "Content-Type", "application/json; charset=utf-8");
    resp_free(&r);

    int64_t now = (int64_t)time(NULL);
    char when[TM_DATE_RFC3339_LEN], want[64];
    assert_int_equal(publish_default(now), 0);
    request(NULL, "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(tm_date_format_rfc3339(now, when), 0);
    snprintf(want, sizeof(want), "\"last_publish\":\"%s\"", when);
    assert_non_null(strstr(r.body.data, "{\"status\":\"ok\""));
    assert_non_null(strstr(r.body.data, want));
    assert_non_null(strstr(r.body.data, "\"age_s\":"));
    resp_free(&r);
}

static void job_fill_metrics(struct harness *h, void *arg)
{
    assert_int_equal(tm_metrics_fetch_done(h->metrics, "xa", "ok", 0.03), 0);
    assert_int_equal(tm_metrics_fetch_done(h->metrics, "xa", "not_modified", 0.2), 0);
    assert_int_equal(tm_metrics_fetch_done(h->metrics, "we\"ird\\id\n", "timeout", 31), 0);
    assert_int_equal(tm_metrics_source_up(h->metrics, "xa", true), 0);
    assert_int_equal(tm_metrics_source_up(h->metrics, "we\"ird\\id\n", false), 0);
    tm_metrics_published(h->metrics, 1653969300, 42, 40);
}

static void test_metrics_endpoint(void **state)
{
    struct resp r;
    run_on_loop(job_fill_metrics, NULL);
    assert_int_equal(publish_default(1653969300), 0);
    request(NULL, "/latest.atom", NULL, NULL, &r);
    resp_free(&r);
    request(NULL, "/nope", NULL, NULL, &r);
    resp_free(&r);
    request(NULL, "/metrics", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    const char *b = r.body.data;
    assert_non_null(strstr(b, "# TYPE tinmoi_fetch_total counter\n"));
    assert_non_null(strstr(b, "tinmoi_fetch_total{source=\"xa\",outcome=\"ok\"} 1\n"));
    assert_non_null(
        strstr(b, "tinmoi_fetch_total{source=\"we\\\"ird\\\\id\\n\",outcome=\"timeout\"} 1\n"));
    assert_non_null(strstr(b, "tinmoi_fetch_duration_seconds_bucket{le=\"0.05\"} 1\n"));
    assert_non_null(strstr(b, "tinmoi_fetch_duration_seconds_bucket{le=\"0.25\"} 2\n"));
    assert_non_null(strstr(b, "tinmoi_fetch_duration_seconds_bucket{le=\"30\"} 2\n"));
    assert_non_null(strstr(b, "tinmoi_fetch_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(b, "tinmoi_fetch_duration_seconds_count 3\n"));
    assert_non_null(strstr(b, "tinmoi_source_up{source=\"xa\"} 1\n"));
    assert_non_null(strstr(b, "tinmoi_items 42\n"));
    assert_non_null(strstr(b, "tinmoi_stories 40\n"));
    assert_non_null(strstr(b, "tinmoi_publish_total 1\n"));
    assert_non_null(strstr(b, "tinmoi_last_publish_timestamp_seconds 1653969300\n"));
    assert_non_null(strstr(b, "tinmoi_build_info{version=\"" TINMOI_VERSION "\"} 1\n"));
    assert_non_null(strstr(b, "tinmoi_http_requests_total{code=\"200\"} "));
    assert_non_null(strstr(b, "tinmoi_http_requests_total{code=\"404\"} "));
    resp_free(&r);
}

static void test_status_page(void **state)
{
    struct resp r;
    assert_int_equal(publish_default(1653969300), 0);
    request(NULL, "/", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/html; charset=utf-8");
    const char *b = r.body.data;
    assert_non_null(strstr(b, "Tin mới nhất"));
    assert_non_null(strstr(b, "<a href=\"https://xa.example.vn/tin/1\">Hội nghị &lt;triển "
                              "khai&gt; nhiệm vụ</a> <span class=\"date\">(31/05/2022 10:55 SA)"));
    /* The javascript: link is shown as text, not as a link. */
    assert_null(strstr(b, "javascript:"));
    assert_non_null(strstr(b, "Tin thứ hai <span class=\"date\">(30/05/2022 5:53 CH)"));
    assert_non_null(strstr(b, "HTTP 500 &lt;b&gt;boom&lt;/b&gt;"));
    assert_non_null(strstr(b, "31/05/2022 10:55 SA</td>")); /* last success in +07:00 */
    assert_null(strstr(b, "<script"));
    assert_null(strstr(b, "src="));
    resp_free(&r);
}

static void test_start_errors(void **state)
{
    struct start_args a = {.listen = "127.0.0.1"};
    struct tm_server *saved = H.server;
    run_on_loop(job_start, &a);
    assert_int_equal(a.rc, TM_EINVAL);
    a = (struct start_args){.listen = "[::1:80"};
    run_on_loop(job_start, &a);
    assert_int_equal(a.rc, TM_EINVAL);
    a = (struct start_args){.listen = "127.0.0.1:70000"};
    run_on_loop(job_start, &a);
    assert_int_equal(a.rc, TM_EINVAL);
    char busy[64];
    snprintf(busy, sizeof(busy), "127.0.0.1:%d", H.port);
    a = (struct start_args){.listen = busy};
    run_on_loop(job_start, &a);
    assert_int_equal(a.rc, TM_EIO);
    assert_non_null(strstr(a.err.msg, "cannot listen"));
    H.server = saved;
    H.port = tm_server_port(saved);
}

/* Pure: the metrics text without a server. */
static void test_metrics_render(void **state)
{
    struct tm_buf out;
    tm_buf_init(&out, 0);
    assert_int_equal(tm_metrics_render(NULL, &out), 0);
    assert_non_null(strstr(out.data, "tinmoi_last_publish_timestamp_seconds 0\n"));
    assert_non_null(strstr(out.data, "tinmoi_fetch_duration_seconds_bucket{le=\"+Inf\"} 0\n"));
    tm_buf_reset(&out);

    struct tm_metrics *m = tm_metrics_new();
    assert_non_null(m);
    char id[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof(id), "src%d", i);
        assert_int_equal(tm_metrics_fetch_done(m, id, i % 2 ? "ok" : "http_error", 1.0), 0);
    }
    assert_int_equal(tm_metrics_fetch_done(m, "src7", "ok", 0.01), 0);
    assert_int_equal(tm_metrics_fetch_done(m, "", "ok", 0.01), TM_EINVAL);
    assert_int_equal(tm_metrics_fetch_done(m, "x", NULL, 0.01), TM_EINVAL);
    tm_metrics_source_forget(m, "src5");
    tm_metrics_source_forget(m, "absent");
    assert_int_equal(tm_metrics_render(m, &out), 0);
    assert_non_null(strstr(out.data, "tinmoi_fetch_total{source=\"src7\",outcome=\"ok\"} 2\n"));
    assert_null(strstr(out.data, "source=\"src5\""));
    assert_non_null(strstr(out.data, "source=\"src2999\",outcome=\"ok\"} 1\n"));
    assert_non_null(strstr(out.data, "tinmoi_fetch_duration_seconds_count 3001\n"));
    /* Every family has exactly one HELP and one TYPE line. */
    const char *p = out.data;
    int help = 0, type = 0;
    while ((p = strstr(p, "# HELP ")) != NULL) {
        help++;
        p++;
    }
    p = out.data;
    while ((p = strstr(p, "# TYPE ")) != NULL) {
        type++;
        p++;
    }
    assert_int_equal(help, 8);
    assert_int_equal(type, 8);
    tm_metrics_free(m);
    tm_metrics_free(NULL);

    struct tm_http_stats st;
    memset(&st, 0, sizeof(st));
    tm_metrics_http_count(&st, 304);
    tm_metrics_http_count(&st, 304);
    tm_metrics_http_count(&st, 42);
    tm_buf_reset(&out);
    assert_int_equal(tm_metrics_render_http(&st, &out), 0);
    assert_non_null(strstr(out.data, "tinmoi_http_requests_total{code=\"304\"} 2\n"));
    assert_null(strstr(out.data, "code=\"42\""));
    tm_buf_free(&out);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (uv_sem_init(&parked, 0) != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_render),
        cmocka_unit_test_setup_teardown(test_before_first_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_client_timed_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendfile_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
