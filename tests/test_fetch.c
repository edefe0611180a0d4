/* Tests of the fetcher against a loopback HTTP server (tests/tools/httpd.py)
 * that the test starts on 127.0.0.1 with an ephemeral port. Each test runs a
 * fresh uv loop, counts callbacks, closes the fetcher and asserts that
 * uv_loop_close succeeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "tinmoi/fetch.h"

extern char **environ;

#define HTTPD TM_TEST_DATA "/../tools/httpd.py"
#define FEED_MARK "<title>One</title>"
#define FEED_LEN 199 /* bytes of httpd.py's FEED */

static pid_t server_pid;
static int server_port;

/* ---- server ----------------------------------------------------------- */

static int server_start(void **state)
{
    (void)state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *argv[] = {"/usr/bin/python3", HTTPD, NULL};
    int rc = posix_spawn(&server_pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    FILE *out = fdopen(fds[0], "r");
    if (out == NULL)
        return -1;
    char line[32];
    if (fgets(line, sizeof line, out) == NULL) {
        fclose(out);
        return -1;
    }
    fclose(out);
    server_port = (int)strtol(line, NULL, 10);
    return server_port > 0 ? 0 : -1;
}

static int server_stop(void **state)
{
    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        int status;
        waitpid(server_pid, &status, 0);
    }
    curl_global_cleanup();
    return 0;
}

static void url_for(char *out, size_t n, const char *path)
{
    snprintf(out, n, "http://127.0.0.1:%d%s", server_port, path);
}

static size_t on_plain_write(char *buf, size_t size, size_t nmemb, void *userp)
{
    char *dst = userp;
    size_t have = strlen(dst), n = size * nmemb;
    if (have + n >= 256)
        n = 255 - have;
    memcpy(dst + have, buf, n);
    dst[have + n] = '\0';
    return size * nmemb;
}

/* Blocking GET for the server's bookkeeping routes (/stats, /reset). */
static void plain_get(const char *path, char out[256])
{
    char url[256];
    url_for(url, sizeof url, path);
    out[0] = '\0';
    CURL *e = curl_easy_init();
    assert_non_null(e);
    assert_int_equal(curl_easy_setopt(e, CURLOPT_URL, url), CURLE_OK);
    assert_int_equal(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_plain_write), CURLE_OK);
    assert_int_equal(curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)out), CURLE_OK);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    curl_easy_cleanup(e);
}

/* ---- harness ---------------------------------------------------------- */

struct harness;

struct got {
    struct harness *h;
    int data_calls;
    int done_calls;
    size_t body_len;
    char body[2048];
    int64_t abort_after_bytes; /* > 0: on_data fails once this many arrived */
    const char *abort_msg;
    enum tm_fetch_outcome outcome;
    long status;
    bool has_error;
    char error[512];
    char etag[64], last_modified[64], content_type[64], charset[64], final_url[512];
    bool has_etag, has_charset;
    int64_t max_age_s, expires_utc, retry_after_utc, body_bytes, total_time_us;
    int redirects;
    bool permanent;
    int start_during_done; /* tm_fetch_start's return when tried from on_done */
    int headers_calls;
    int data_calls_at_headers;
    long hdr_status;
    char hdr_charset[64];
};

struct harness {
    uv_loop_t loop;
    struct tm_fetcher *f;
    int expected;
    int done;
    int closed;
    bool close_when_done;
    int starts_in_done; /* on_done tries tm_fetch_start this many more times */
};

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src != NULL ? src : "");
}

static int on_test_data(void *ud, const char *buf, size_t len, struct tm_error *err)
{
    struct got *g = ud;
    g->data_calls++;
    size_t room = sizeof g->body - 1 - (g->body_len < sizeof g->body ? g->body_len : 0);
    if (g->body_len < sizeof g->body - 1) {
        size_t n = len < room ? len : room;
        memcpy(g->body + g->body_len, buf, n);
        g->body[g->body_len + n] = '\0';
    }
    g->body_len += len;
    if (g->abort_after_bytes > 0 && (int64_t)g->body_len >= g->abort_after_bytes) {
        if (g->abort_msg != NULL)
            return tm_error_set(err, TM_ENOTFEED, "%s", g->abort_msg);
        return TM_ENOTFEED;
    }
    return 0;
}

static void on_test_headers(void *ud, long status, const char *content_type, const char *charset)
{
    struct got *g = ud;
    (void)content_type;
    g->headers_calls++;
    g->data_calls_at_headers = g->data_calls;
    g->hdr_status = status;
    copy_str(g->hdr_charset, sizeof g->hdr_charset, charset);
}

static void on_test_closed(void *ud)
{
    struct harness *h = ud;
    h->closed++;
}

static void on_test_done(void *ud, const struct tm_fetch_result *r)
{
    struct got *g = ud;
    struct harness *h = g->h;
    g->done_calls++;
    g->outcome = r->outcome;
    g->status = r->http_status;
    g->has_error = r->error != NULL;
    copy_str(g->error, sizeof g->error, r->error);
    g->has_etag = r->etag != NULL;
    copy_str(g->etag, sizeof g->etag, r->etag);
    copy_str(g->last_modified, sizeof g->last_modified, r->last_modified);
    copy_str(g->content_type, sizeof g->content_type, r->content_type);
    g->has_charset = r->charset != NULL;
    copy_str(g->charset, sizeof g->charset, r->charset);
    copy_str(g->final_url, sizeof g->final_url, r->final_url);
    g->max_age_s = r->max_age_s;
    g->expires_utc = r->expires_utc;
    g->retry_after_utc = r->retry_after_utc;
    g->body_bytes = r->body_bytes;
    g->total_time_us = r->total_time_us;
    g->redirects = r->redirect_count;
    g->permanent = r->permanent_redirect;
    if (h->starts_in_done > 0) {
        h->starts_in_done--;
        char url[128];
        url_for(url, sizeof url, "/feed");
        struct tm_fetch_request req = {
            .url = url, .on_data = on_test_data, .on_done = on_test_done, .ud = g};
        g->start_during_done = tm_fetch_start(h->f, &req, NULL);
        if (g->start_during_done == 0)
            h->expected++;
    }
    h->done++;
    if (h->close_when_done && h->done == h->expected)
        tm_fetcher_close(h->f, on_test_closed, h);
}

static struct tm_fetch_limits default_limits(void)
{
    return (struct tm_fetch_limits){
        .concurrency = 8, .per_host = 8, .timeout_s = 10, .max_body_bytes = 1 << 20};
}

static void harness_open(struct harness *h, const struct tm_fetch_limits *lim)
{
    memset(h, 0, sizeof *h);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    struct tm_error err = {0};
    assert_int_equal(tm_fetcher_new(&h->loop, lim, &h->f, &err), 0);
    h->close_when_done = true;
}

/* Runs the loop until the fetcher has closed itself after the last on_done,
 * then proves nothing was left behind. */
static void harness_run(struct harness *h)
{
    assert_int_equal(uv_run(&h->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(h->done, h->expected);
    assert_int_equal(h->closed, 1);
    assert_int_equal(uv_loop_close(&h->loop), 0);
}

static void start(struct harness *h, struct got *g, const char *path, const char *etag,
                  const char *last_modified)
{
    char url[512];
    url_for(url, sizeof url, path);
    g->h = h;
    struct tm_fetch_request req = {.source_id = "src",
                                   .url = url,
                                   .etag = etag,
                                   .last_modified = last_modified,
                                   .on_headers = on_test_headers,
                                   .on_data = on_test_data,
                                   .on_done = on_test_done,
                                   .ud = g};
    struct tm_error err = {0};
    assert_int_equal(tm_fetch_start(h->f, &req, &err), 0);
    h->expected++;
}

static void fetch_one_limits(const char *path, const struct tm_fetch_limits *lim, struct got *g)
{
    struct harness h;
    harness_open(&h, lim);
    start(&h, g, path, NULL, NULL);
    harness_run(&h);
    assert_int_equal(g->done_calls, 1);
}

static void fetch_one(const char *path, struct got *g)
{
    struct tm_fetch_limits lim = default_limits();
    fetch_one_limits(path, &lim, g);
}

/* ---- tests ------------------------------------------------------------ */

static void test_200_body_and_headers(void **state)
{
    (void)state;
    struct got g = {0};
    fetch_one("/feed", &g);
    assert_int_equal(g.outcome, TM_FETCH_OK);
    assert_int_equal(g.status, 200);
    assert_false(g.has_error);
    assert_true(g.data_calls >= 1);
    assert_int_equal(g.body_len, FEED_LEN);
    assert_int_equal(g.body_bytes, FEED_LEN);
    assert_non_null(strstr(g.body, FEED_MARK));
    assert_string_equal(g.etag, "\"v1\"");
    assert_string_equal(g.last_modified, "Tue, 31 May 2022 03:55:00 GMT");
    assert_string_equal(g.content_type, "application/rss+xml");
    assert_string_equal(g.charset, "utf-8");
    assert_int_equal(g.max_age_s, 300);
    assert_int_equal(g.expires_utc, 1654041600); /* Wed, 01 Jun 2022 00:00:00 GMT */
    assert_int_equal(g.retry_after_utc, TM_TIME_NONE);
    assert_int_equal(g.redirects, 0);
    assert_false(g.permanent);
    assert_non_null(strstr(g.final_url, "/feed"));
    assert_true(g.total_time_us > 0);
}

static void test_304_with_validators(void **state)
{
    (void)state;
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    struct got by_etag = {0}, by_date = {0}, stale = {0};
    harness_open(&h, &lim);
    start(&h, &by_etag, "/feed", "\"v1\"", NULL);
    start(&h, &by_date, "/feed", NULL, "Tue, 31 May 2022 03:55:00 GMT");
    start(&h, &stale, "/feed", "\"v0\"", NULL);
    harness_run(&h);
    assert_int_equal(by_etag.outcome, TM_FETCH_NOT_MODIFIED);
    assert_int_equal(by_etag.status, 304);
    assert_int_equal(by_etag.data_calls, 0);
    assert_int_equal(by_etag.headers_calls, 0);
    assert_false(by_etag.has_error);
    assert_int_equal(by_date.outcome, TM_FETCH_NOT_MODIFIED);
    assert_int_equal(by_date.data_calls, 0);
    assert_int_equal(stale.outcome, TM_FETCH_OK);
    assert_int_equal(stale.body_len, FEED_LEN);
}

static void test_gzip_decoded(void **state)
{
    (void)state;
    struct got g = {0};
    fetch_one("/gzip", &g);
    assert_int_equal(g.outcome, TM_FETCH_OK);
    assert_int_equal(g.body_len, FEED_LEN);
    assert_non_null(strstr(g.body, FEED_MARK));
}

static void test_redirect_limit(void **state)
{
    (void)state;
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    struct got five = {0}, six = {0}, loop = {0};
    harness_open(&h, &lim);
    start(&h, &five, "/redirect/5", NULL, NULL);
    start(&h, &six, "/redirect/6", NULL, NULL);
    start(&h, &loop, "/loop", NULL, NULL);
    harness_run(&h);
    assert_int_equal(five.outcome, TM_FETCH_OK);
    assert_int_equal(five.redirects, 5);
    assert_int_equal(five.body_len, FEED_LEN);
    assert_non_null(strstr(five.final_url, "/redirect/0"));
    assert_int_equal(six.outcome, TM_FETCH_NETWORK);
    assert_int_equal(six.data_calls, 0);
    assert_true(six.has_error);
    assert_int_equal(loop.outcome, TM_FETCH_NETWORK);
    assert_int_equal(loop.data_calls, 0);
}

static void test_permanent_redirects(void **state)
{
    (void)state;
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    struct got p301 = {0}, p308 = {0}, mixed_perm = {0}, t302 = {0}, mixed = {0};
    harness_open(&h, &lim);
    start(&h, &p301, "/redirect/3?codes=301", NULL, NULL);
    start(&h, &p308, "/redirect/2?codes=308", NULL, NULL);
    start(&h, &mixed_perm, "/redirect/2?codes=301.308", NULL, NULL);
    start(&h, &t302, "/redirect/3?codes=302", NULL, NULL);
    start(&h, &mixed, "/redirect/3?codes=301.302", NULL, NULL);
    harness_run(&h);
    assert_int_equal(p301.outcome, TM_FETCH_OK);
    assert_int_equal(p301.redirects, 3);
    assert_true(p301.permanent);
    assert_true(p308.permanent);
    assert_true(mixed_perm.permanent);
    assert_int_equal(t302.outcome, TM_FETCH_OK);
    assert_int_equal(t302.redirects, 3);
    assert_false(t302.permanent);
    assert_int_equal(mixed.outcome, TM_FETCH_OK);
    assert_false(mixed.permanent);
}

static void test_http_errors(void **state)
{
    (void)state;
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    struct got e404 = {0}, e500 = {0}, e429 = {0}, e429date = {0};
    harness_open(&h, &lim);
    start(&h, &e404, "/404", NULL, NULL);
    start(&h, &e500, "/500", NULL, NULL);
    start(&h, &e429, "/retry", NULL, NULL);
    start(&h, &e429date, "/retry?date=1", NULL, NULL);
    harness_run(&h);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(e404.outcome, TM_FETCH_HTTP_ERROR);
    assert_int_equal(e404.status, 404);
    assert_int_equal(e404.data_calls, 0);
    assert_string_equal(e404.error, "HTTP 404");
    assert_int_equal(e404.headers_calls, 0);
    assert_int_equal(e500.outcome, TM_FETCH_HTTP_ERROR);
    assert_int_equal(e500.status, 500);
    assert_int_equal(e500.data_calls, 0);
    assert_int_equal(e429.outcome, TM_FETCH_HTTP_ERROR);
    assert_int_equal(e429.status, 429);
    assert_int_equal(e429.data_calls, 0);
    assert_in_range(e429.retry_after_utc, now + 110, now + 121);
    assert_in_range(e429date.retry_after_utc, now + 3590, now + 3601);
}

static void test_timeout(void **state)
{
    (void)state;
    struct tm_fetch_limits lim = default_limits();
    lim.timeout_s = 1;
    struct got g = {0};
    uint64_t t0 = uv_hrtime();
    fetch_one_limits("/slow?s=4", &lim, &g);
    uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(g.outcome, TM_FETCH_TIMEOUT);
    assert_int_equal(g.data_calls, 0);
    assert_true(g.has_error);
    assert_in_range(elapsed_ms, 900, 2500);
}

static void test_max_body_decompressed(void **state)
{
    (void)state;
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    lim.max_body_bytes = 100000;
    struct got zipped = {0}, plain = {0}, under = {0};
    harness_open(&h, &lim);
    start(&h, &zipped, "/big?gzip=1", NULL, NULL);        /* ~1 KiB on the wire */
    start(&h, &plain, "/big", NULL, NULL);                /* Content-Length 1 MiB */
    start(&h, &under, "/big?n=90000&gzip=1", NULL, NULL); /* under the limit */
    harness_run(&h);
    assert_int_equal(zipped.outcome, TM_FETCH_TOO_LARGE);
    assert_string_equal(zipped.error, "body exceeds max_body (100000 bytes)");
    assert_true(zipped.body_len <= 100000);
    assert_int_equal(plain.outcome, TM_FETCH_TOO_LARGE);
    assert_string_equal(plain.error, "body exceeds max_body (100000 bytes)");
    assert_true(plain.body_len <= 100000);
    assert_int_equal(under.outcome, TM_FETCH_OK);
    assert_int_equal(under.body_len, 90000);
}

static void test_sink_abort(void **state)
{
    (void)state;
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    struct got with_msg = {.abort_after_bytes = 1, .abort_msg = "not a feed: an HTML page"};
    struct got no_msg = {.abort_after_bytes = 1};
    harness_open(&h, &lim);
    start(&h, &with_msg, "/html", NULL, NULL);
    start(&h, &no_msg, "/big?n=300000", NULL, NULL);
    harness_run(&h);
    assert_int_equal(with_msg.outcome, TM_FETCH_ABORTED);
    assert_string_equal(with_msg.error, "not a feed: an HTML page");
    assert_string_equal(with_msg.content_type, "text/html");
    assert_int_equal(no_msg.outcome, TM_FETCH_ABORTED);
    assert_string_equal(no_msg.error, tm_strerror(TM_ENOTFEED));
    /* aborted at the first chunk: the rest never reached the sink */
    assert_int_equal(no_msg.data_calls, 1);
    assert_true(no_msg.body_len < 300000);
}

static void test_file_only_when_allowed(void **state)
{
    (void)state;
    char path[] = "/tmp/tinmoi-fetch-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char doc[] = "<rss version=\"2.0\"><channel><title>File</title></channel></rss>";
    assert_int_equal(write(fd, doc, sizeof doc - 1), (ssize_t)(sizeof doc - 1));
    close(fd);
    char url[128];
    snprintf(url, sizeof url, "file://%s", path);

    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    harness_open(&h, &lim);
    struct got g = {.h = &h};
    struct tm_fetch_request req = {.url = url,
                                   .on_headers = on_test_headers,
                                   .on_data = on_test_data,
                                   .on_done = on_test_done,
                                   .ud = &g};
    struct tm_error err = {0};
    assert_int_equal(tm_fetch_start(h.f, &req, &err), TM_EINVAL); /* allow_file false */
    req.url = "ftp://127.0.0.1/feed.xml";
    req.allow_file = true;
    assert_int_equal(tm_fetch_start(h.f, &req, &err), TM_EINVAL);
    req.url = "not a url";
    assert_int_equal(tm_fetch_start(h.f, &req, &err), TM_EINVAL);
    req.url = url;
    assert_int_equal(tm_fetch_start(h.f, &req, &err), 0);
    h.expected = 1;
    harness_run(&h);
    unlink(path);
    assert_int_equal(g.done_calls, 1);
    assert_int_equal(g.outcome, TM_FETCH_OK);
    assert_string_equal(g.body, doc);
    assert_int_equal(g.headers_calls, 1);
    assert_int_equal(g.hdr_status, 0);
}

static void test_redirect_to_file_refused(void **state)
{
    (void)state;
    struct got g = {0};
    fetch_one("/file-redirect", &g);
    assert_int_not_equal(g.outcome, TM_FETCH_OK);
    assert_int_equal(g.data_calls, 0);
    assert_int_equal(g.body_len, 0);
}

static void test_identity_headers(void **state)
{
    (void)state;
    struct got g = {0};
    fetch_one("/headers", &g);
    assert_int_equal(g.outcome, TM_FETCH_OK);
    assert_non_null(
        strstr(g.body, "ua=tinmoi/" TINMOI_VERSION " (+https://github.com/tinmoi/tinmoi)\n"));
    assert_non_null(strstr(g.body, "accept=application/atom+xml, application/rss+xml, "
                                   "application/xml;q=0.9, */*;q=0.8\n"));
}

static void test_charset_and_html(void **state)
{
    (void)state;
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    struct got cs = {0}, html = {0};
    harness_open(&h, &lim);
    start(&h, &cs, "/charset", NULL, NULL);
    start(&h, &html, "/html", NULL, NULL);
    harness_run(&h);
    assert_int_equal(cs.outcome, TM_FETCH_OK);
    assert_string_equal(cs.charset, "windows-1252");
    /* the sink learns the charset before the first body byte */
    assert_int_equal(cs.headers_calls, 1);
    assert_int_equal(cs.data_calls_at_headers, 0);
    assert_int_equal(cs.hdr_status, 200);
    assert_string_equal(cs.hdr_charset, "windows-1252");
    assert_false(cs.has_etag);
    assert_int_equal(html.outcome, TM_FETCH_OK);
    assert_string_equal(html.content_type, "text/html");
    assert_string_equal(html.charset, "utf-8");
}

static void run_concurrent(int concurrency, int per_host, int n, int expect_max)
{
    char stats[256];
    plain_get("/reset", stats);
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    lim.concurrency = concurrency;
    lim.per_host = per_host;
    struct got *g = calloc((size_t)n, sizeof *g);
    assert_non_null(g);
    harness_open(&h, &lim);
    for (int i = 0; i < n; i++)
        start(&h, &g[i], "/concurrent?ms=150", NULL, NULL);
    assert_int_equal(tm_fetcher_pending(h.f), (size_t)n);
    harness_run(&h);
    for (int i = 0; i < n; i++) {
        assert_int_equal(g[i].done_calls, 1);
        assert_int_equal(g[i].outcome, TM_FETCH_OK);
    }
    free(g);
    plain_get("/stats", stats);
    char want[32];
    snprintf(want, sizeof want, "max=%d", expect_max);
    assert_string_equal(stats, want);
}

static void test_concurrency_cap(void **state)
{
    (void)state;
    run_concurrent(3, 10, 12, 3);
}

static void test_per_host_cap(void **state)
{
    (void)state;
    run_concurrent(8, 2, 8, 2);
}

static void test_hundred_requests(void **state)
{
    (void)state;
    enum { N = 100 };
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    struct got *g = calloc(N, sizeof *g);
    assert_non_null(g);
    harness_open(&h, &lim);
    for (int i = 0; i < N; i++)
        start(&h, &g[i], i % 2 ? "/feed" : "/gzip", NULL, NULL);
    harness_run(&h);
    for (int i = 0; i < N; i++) {
        assert_int_equal(g[i].done_calls, 1);
        assert_int_equal(g[i].outcome, TM_FETCH_OK);
        assert_int_equal(g[i].body_len, FEED_LEN);
    }
    free(g);
}

static void test_start_from_on_done(void **state)
{
    (void)state;
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    lim.concurrency = 1;
    struct got g = {0};
    harness_open(&h, &lim);
    h.starts_in_done = 3; /* a chain of four transfers, each started by the last */
    start(&h, &g, "/feed", NULL, NULL);
    harness_run(&h);
    assert_int_equal(h.expected, 4);
    assert_int_equal(g.done_calls, 4);
    assert_int_equal(g.start_during_done, 0);
    assert_int_equal(g.outcome, TM_FETCH_OK);
    assert_int_equal(g.body_len, 4 * FEED_LEN);
}

static void on_test_cancel_timer(uv_timer_t *t)
{
    struct harness *h = t->data;
    tm_fetcher_cancel_all(h->f);
    h->starts_in_done = 0;
    /* accepting again once the cancel returned */
    assert_int_equal(tm_fetcher_pending(h->f), 0);
    tm_fetcher_close(h->f, on_test_closed, h);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel_all(void **state)
{
    (void)state;
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    lim.concurrency = 2;
    struct got g[4] = {{0}};
    harness_open(&h, &lim);
    h.close_when_done = false;
    h.starts_in_done = 4;
    for (int i = 0; i < 4; i++)
        start(&h, &g[i], "/slow?s=5", NULL, NULL);
    uv_timer_t timer;
    assert_int_equal(uv_timer_init(&h.loop, &timer), 0);
    timer.data = &h;
    assert_int_equal(uv_timer_start(&timer, on_test_cancel_timer, 300, 0), 0);
    uint64_t t0 = uv_hrtime();
    harness_run(&h);
    assert_true((uv_hrtime() - t0) / 1000000 < 2000);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(g[i].done_calls, 1);
        assert_int_equal(g[i].outcome, TM_FETCH_CANCELLED);
        assert_int_equal(g[i].data_calls, 0);
        assert_int_equal(g[i].start_during_done, TM_EBUSY);
    }
}

static void test_close_with_transfers_in_flight(void **state)
{
    (void)state;
    struct harness h;
    struct tm_fetch_limits lim = default_limits();
    struct got g = {0};
    harness_open(&h, &lim);
    h.close_when_done = false;
    start(&h, &g, "/slow?s=5", NULL, NULL);
    /* let it connect first */
    assert_int_equal(uv_run(&h.loop, UV_RUN_NOWAIT), 1);
    tm_fetcher_close(h.f, on_test_closed, &h);
    assert_int_equal(g.done_calls, 1);
    assert_int_equal(g.outcome, TM_FETCH_CANCELLED);
    harness_run(&h);
}

static void test_bad_limits(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct tm_fetcher *f = NULL;
    struct tm_fetch_limits lim = default_limits();
    lim.concurrency = 0;
    assert_int_equal(tm_fetcher_new(&loop, &lim, &f, NULL), TM_EINVAL);
    assert_null(f);
    lim = default_limits();
    lim.max_body_bytes = 0;
    assert_int_equal(tm_fetcher_new(&loop, &lim, &f, NULL), TM_EINVAL);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_200_body_and_headers),
        cmocka_unit_test(test_304_with_validators),
        cmocka_unit_test(test_gzip_decoded),
        cmocka_unit_test(test_redirect_limit),
        cmocka_unit_test(test_permanent_redirects),
        cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_max_body_decompressed),
        cmocka_unit_test(test_sink_abort),
        cmocka_unit_test(test_file_only_when_allowed),
        cmocka_unit_test(test_redirect_to_file_refused),
        cmocka_unit_test(test_identity_headers),
        cmocka_unit_test(test_charset_and_html),
        cmocka_unit_test(test_concurrency_cap),
        cmocka_unit_test(test_per_host_cap),
        cmocka_unit_test(test_hundred_requests),
        cmocka_unit_test(test_start_from_on_done),
        cmocka_unit_test(test_cancel_all),
        cmocka_unit_test(test_close_with_transfers_in_flight),
        cmocka_unit_test(test_bad_limits),
    };
    return cmocka_run_group_tests(tests, server_start, server_stop);
}
