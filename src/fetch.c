/* tinmoi — the fetcher: libcurl's multi interface on a libuv loop.
 *
 * The wiring is curl's docs/examples/multi-uv.c: curl tells us which sockets
 * to watch (on_curl_socket -> one uv_poll per socket, its struct freed in the
 * poll's close callback) and when to call it back (on_curl_timer -> one
 * uv_timer); libuv tells curl what happened (on_uv_poll, on_uv_timer ->
 * curl_multi_socket_action), and completions are read with
 * curl_multi_info_read. Unlike the example, every result is checked. */
#include "tinmoi/fetch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "str_int.h"
#include "tinmoi/config.h"
#include "tinmoi/hash.h"

/* Buckets of the per-host active-transfer table. Only hosts with a running
 * transfer have an entry, so this is bounded by `concurrency`. */
#define TM_FETCH_HOST_BUCKETS 256

struct tm_host {
    struct tm_host *next;
    int active;
    char key[]; /* "host:port", lower-case; "file:" for file:// */
};

enum tm_abort {
    TM_ABORT_NONE = 0,
    TM_ABORT_TOO_LARGE, /* max_body_bytes reached in the write callback */
    TM_ABORT_SINK,      /* on_data returned non-zero */
    TM_ABORT_STATUS,    /* a non-2xx response started sending a body */
};

struct tm_transfer {
    struct tm_transfer *prev, *next; /* in the fetcher's queue or running list */
    struct tm_fetcher *f;
    CURL *easy; /* only while running */
    struct curl_slist *headers;
    struct tm_host *host; /* only while running */
    char *source_id;
    char *url;
    char *etag;
    char *last_modified;
    char *host_key;
    bool is_file;
    tm_fetch_headers_cb on_headers;
    tm_fetch_data_cb on_data;
    tm_fetch_done_cb on_done;
    bool headers_told; /* on_headers ran for this transfer */
    void *ud;
    bool all_permanent; /* no redirect hop so far was other than 301/308 */
    enum tm_abort abort;
    int sink_code;
    int64_t body_bytes;
    struct tm_error sink_err;
    char errbuf[CURL_ERROR_SIZE];
};

struct tm_list {
    struct tm_transfer *head, *tail;
    size_t n;
};

/* One socket curl asked us to watch. The poll handle is embedded; the struct
 * is freed in the poll's close callback, never before. */
struct tm_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct tm_fetcher *f;
    struct tm_sock *prev, *next;
};

struct tm_fetcher {
    uv_loop_t *loop;
    uv_timer_t timer;
    CURLM *multi; /* NULL once cleaned up in tm_fetcher_close */
    struct tm_fetch_limits limits;
    struct tm_list queue;   /* waiting for a slot, FIFO */
    struct tm_list running; /* added to the multi handle */
    CURL **pool;            /* idle easy handles, reset, at most `concurrency` */
    size_t pool_n;
    struct tm_host *hosts[TM_FETCH_HOST_BUCKETS];
    struct tm_sock *socks; /* open (not closing) poll handles */
    int open_handles;      /* timer + polls not yet through their close callback */
    bool cancelling;
    bool closing;
    void (*on_closed)(void *ud);
    void *closed_ud;
};

/* ---- small helpers ---------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    char *d = tm_strdup_or_null(s);
    if (s != NULL && d == NULL)
        abort(); /* small fixed allocation (STYLE: may abort on OOM) */
    return d;
}

static void list_push(struct tm_list *l, struct tm_transfer *t)
{
    t->next = NULL;
    t->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
    l->n++;
}

static void list_remove(struct tm_list *l, struct tm_transfer *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        l->head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    else
        l->tail = t->prev;
    t->prev = t->next = NULL;
    l->n--;
}

static uint32_t host_hash(const char *key)
{
    return (uint32_t)(tm_hash_str(key) % TM_FETCH_HOST_BUCKETS);
}

static struct tm_host *host_find(const struct tm_fetcher *f, const char *key)
{
    for (struct tm_host *h = f->hosts[host_hash(key)]; h != NULL; h = h->next) {
        if (strcmp(h->key, key) == 0)
            return h;
    }
    return NULL;
}

static int host_active(const struct tm_fetcher *f, const char *key)
{
    const struct tm_host *h = host_find(f, key);
    return h != NULL ? h->active : 0;
}

static struct tm_host *host_acquire(struct tm_fetcher *f, const char *key)
{
    struct tm_host *h = host_find(f, key);
    if (h == NULL) {
        size_t len = strlen(key);
        h = calloc(1, sizeof *h + len + 1);
        if (h == NULL)
            abort();
        memcpy(h->key, key, len + 1);
        uint32_t b = host_hash(key);
        h->next = f->hosts[b];
        f->hosts[b] = h;
    }
    h->active++;
    return h;
}

static void host_release(struct tm_fetcher *f, struct tm_host *h)
{
    if (h == NULL || --h->active > 0)
        return;
    struct tm_host **pp = &f->hosts[host_hash(h->key)];
    while (*pp != h)
        pp = &(*pp)->next;
    *pp = h->next;
    free(h);
}

static void transfer_free(struct tm_transfer *t)
{
    if (t == NULL)
        return;
    curl_slist_free_all(t->headers);
    free(t->source_id);
    free(t->url);
    free(t->etag);
    free(t->last_modified);
    free(t->host_key);
    free(t);
}

/* ---- easy handle pool ------------------------------------------------- */

static CURL *pool_take(struct tm_fetcher *f)
{
    if (f->pool_n > 0)
        return f->pool[--f->pool_n];
    return curl_easy_init();
}

static void pool_give(struct tm_fetcher *f, CURL *e)
{
    if (e == NULL)
        return;
    if (!f->closing && f->pool_n < (size_t)f->limits.concurrency) {
        curl_easy_reset(e);
        f->pool[f->pool_n++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

/* Takes a running transfer out of curl and frees its slot (not its memory). */
static void transfer_detach(struct tm_fetcher *f, struct tm_transfer *t)
{
    if (t->easy != NULL) {
        if (f->multi != NULL) {
            /* Can only fail for a handle not in this multi, which would be a
             * bug here; the handle is destroyed rather than pooled then. */
            CURLMcode mc = curl_multi_remove_handle(f->multi, t->easy);
            if (mc != CURLM_OK) {
                curl_easy_cleanup(t->easy);
                t->easy = NULL;
            }
        }
        pool_give(f, t->easy);
        t->easy = NULL;
    }
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    host_release(f, t->host);
    t->host = NULL;
}

/* ---- results ---------------------------------------------------------- */

/* Heap copies of what on_done sees, freed right after the call. */
struct tm_result_store {
    char *etag, *last_modified, *content_type, *charset, *final_url;
};

static void result_store_clear(struct tm_result_store *s)
{
    free(s->etag);
    free(s->last_modified);
    free(s->content_type);
    free(s->charset);
    free(s->final_url);
}

static void result_init(struct tm_fetch_result *r, const struct tm_transfer *t,
                        enum tm_fetch_outcome outcome, const char *error)
{
    memset(r, 0, sizeof *r);
    r->outcome = outcome;
    r->source_id = t->source_id;
    r->url = t->url;
    r->error = error;
    r->max_age_s = -1;
    r->expires_utc = TM_TIME_NONE;
    r->retry_after_utc = TM_TIME_NONE;
    r->body_bytes = t->body_bytes;
}

/* Reports an outcome that has no response to describe (cancelled, could not
 * start, curl failed as a whole) and frees the transfer. */
static void report_bare(struct tm_transfer *t, enum tm_fetch_outcome outcome, const char *error)
{
    struct tm_fetch_result r;
    result_init(&r, t, outcome, error);
    t->on_done(t->ud, &r);
    transfer_free(t);
}

static bool header_value_ok(const char *v)
{
    size_t n = strlen(v);
    return n > 0 && n <= TM_FETCH_MAX_HEADER_VALUE_BYTES;
}

/* The first `name` header of the final response (curl's header API keeps
 * each response of a redirect chain apart; -1 is the last one). */
static const char *header_get(CURL *e, const char *name)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == NULL)
        return NULL;
    return header_value_ok(h->value) ? h->value : NULL;
}

/* Cache-Control: max-age=N (RFC 9111 §5.2.2.1). -1 when absent. */
static int64_t parse_max_age(const char *v)
{
    for (const char *p = v; p != NULL && *p != '\0'; p = strchr(p, ',')) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "max-age", 7) != 0)
            continue;
        p += 7;
        while (*p == ' ')
            p++;
        if (*p != '=')
            continue;
        p++;
        if (*p == '"')
            p++;
        if (!isdigit((unsigned char)*p))
            continue;
        char *end = NULL;
        long long n = strtoll(p, &end, 10);
        return n < 0 ? -1 : (int64_t)n;
    }
    return -1;
}

/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. */
static int64_t parse_retry_after(const char *v, time_t now)
{
    while (*v == ' ')
        v++;
    if (isdigit((unsigned char)*v)) {
        char *end = NULL;
        long long n = strtoll(v, &end, 10);
        while (*end == ' ')
            end++;
        if (*end == '\0' && n >= 0 && n < INT32_MAX)
            return (int64_t)now + n;
        return TM_TIME_NONE;
    }
    time_t t = curl_getdate(v, NULL);
    return t == (time_t)-1 ? TM_TIME_NONE : (int64_t)t;
}

/* Splits a Content-Type into its lower-case media type and charset. */
static void parse_content_type(const char *v, struct tm_result_store *s)
{
    size_t n = strcspn(v, ";");
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    if (n > 0) {
        s->content_type = malloc(n + 1);
        if (s->content_type == NULL)
            abort();
        for (size_t i = 0; i < n; i++)
            s->content_type[i] = (char)tolower((unsigned char)v[i]);
        s->content_type[n] = '\0';
    }
    for (const char *p = strchr(v, ';'); p != NULL; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncasecmp(q, "charset", 7) != 0)
            continue;
        q += 7;
        while (*q == ' ')
            q++;
        if (*q != '=')
            continue;
        q++;
        while (*q == ' ')
            q++;
        bool quoted = *q == '"';
        if (quoted)
            q++;
        size_t len = strcspn(q, quoted ? "\"" : "; \t");
        if (len > 0) {
            s->charset = strndup(q, len);
            if (s->charset == NULL)
                abort();
        }
        return;
    }
}

static void result_fill_response(struct tm_fetch_result *r, struct tm_result_store *s,
                                 struct tm_transfer *t)
{
    CURL *e = t->easy;
    long status = 0;
    if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
        r->http_status = status;
    long redirects = 0;
    if (curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects) == CURLE_OK)
        r->redirect_count = (int)redirects;
    r->permanent_redirect = r->redirect_count > 0 && t->all_permanent;
    char *eff = NULL;
    if (curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff != NULL)
        s->final_url = dup_or_null(eff);
    r->final_url = s->final_url != NULL ? s->final_url : t->url;
    curl_off_t total_us = 0;
    if (curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK)
        r->total_time_us = (int64_t)total_us;
    if (t->is_file)
        return;

    const char *v;
    if ((v = header_get(e, "ETag")) != NULL)
        r->etag = s->etag = dup_or_null(v);
    if ((v = header_get(e, "Last-Modified")) != NULL)
        r->last_modified = s->last_modified = dup_or_null(v);
    if ((v = header_get(e, "Content-Type")) != NULL) {
        parse_content_type(v, s);
        r->content_type = s->content_type;
        r->charset = s->charset;
    }
    if ((v = header_get(e, "Cache-Control")) != NULL)
        r->max_age_s = parse_max_age(v);
    if ((v = header_get(e, "Expires")) != NULL) {
        time_t when = curl_getdate(v, NULL);
        if (when != (time_t)-1)
            r->expires_utc = (int64_t)when;
    }
    if ((v = header_get(e, "Retry-After")) != NULL)
        r->retry_after_utc = parse_retry_after(v, time(NULL));
}

/* Decides the outcome of a transfer curl finished with `rc` and writes a
 * one-line reason into `msg`. */
static enum tm_fetch_outcome classify(const struct tm_fetcher *f, const struct tm_transfer *t,
                                      CURLcode rc, long status, char *msg, size_t msg_size)
{
    msg[0] = '\0';
    if (t->abort == TM_ABORT_TOO_LARGE || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(msg, msg_size, "body exceeds max_body (%lld bytes)",
                 (long long)f->limits.max_body_bytes);
        return TM_FETCH_TOO_LARGE;
    }
    if (t->abort == TM_ABORT_SINK) {
        snprintf(msg, msg_size, "%s",
                 t->sink_err.msg[0] != '\0' ? t->sink_err.msg : tm_strerror(t->sink_code));
        return TM_FETCH_ABORTED;
    }
    if (t->abort == TM_ABORT_STATUS ||
        (rc == CURLE_OK && !t->is_file && status != 304 && (status < 200 || status > 299))) {
        snprintf(msg, msg_size, "HTTP %ld", status);
        return TM_FETCH_HTTP_ERROR;
    }
    const char *curl_text = t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(msg, msg_size, "%s", curl_text);
        return TM_FETCH_TIMEOUT;
    }
    if (rc != CURLE_OK) {
        snprintf(msg, msg_size, "%s", curl_text);
        return TM_FETCH_NETWORK;
    }
    return status == 304 ? TM_FETCH_NOT_MODIFIED : TM_FETCH_OK;
}

/* ---- the transfer's curl callbacks ------------------------------------ */

static void tell_headers(struct tm_transfer *t)
{
    struct tm_result_store s = {0};
    long status = 0;
    if (!t->is_file) {
        if (curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
            status = 0;
        const char *v = header_get(t->easy, "Content-Type");
        if (v != NULL)
            parse_content_type(v, &s);
    }
    t->on_headers(t->ud, status, s.content_type, s.charset);
    result_store_clear(&s);
}

/* Body bytes, decompressed by curl. Returning anything but `n` aborts the
 * transfer with CURLE_WRITE_ERROR; `t->abort` says why. */
static size_t on_curl_write(char *buf, size_t size, size_t nmemb, void *userp)
{
    struct tm_transfer *t = userp;
    size_t n = size * nmemb;
    if (n == 0)
        return 0;
    if (!t->is_file) {
        /* Headers are complete before the first body byte: only a 2xx body
         * is a document; error pages never reach the parser. */
        long status = 0;
        if (curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
            status < 200 || status > 299) {
            t->abort = TM_ABORT_STATUS;
            return 0;
        }
    }
    if (!t->headers_told) {
        t->headers_told = true;
        if (t->on_headers != NULL)
            tell_headers(t);
    }
    if ((int64_t)n > t->f->limits.max_body_bytes - t->body_bytes) {
        t->abort = TM_ABORT_TOO_LARGE;
        return 0;
    }
    t->body_bytes += (int64_t)n;
    int rc = t->on_data(t->ud, buf, n, &t->sink_err);
    if (rc != 0) {
        t->abort = TM_ABORT_SINK;
        t->sink_code = rc;
        return 0;
    }
    return n;
}

/* Header lines, used only to see each hop's status line: a redirect chain
 * is permanent only when every hop was 301 or 308 (RFC 9110 §15.4). */
static size_t on_curl_header(char *buf, size_t size, size_t nitems, void *userp)
{
    struct tm_transfer *t = userp;
    size_t n = size * nitems;
    if (n < 12 || memcmp(buf, "HTTP/", 5) != 0)
        return n;
    const char *sp = memchr(buf, ' ', n);
    if (sp == NULL || (size_t)(buf + n - sp) < 4)
        return n;
    int status = 0;
    for (int i = 1; i <= 3; i++) {
        if (!isdigit((unsigned char)sp[i]))
            return n;
        status = status * 10 + (sp[i] - '0');
    }
    if (status >= 300 && status <= 399 && status != 301 && status != 308 && status != 304)
        t->all_permanent = false;
    return n;
}

/* ---- multi <-> loop wiring -------------------------------------------- */

static void check_multi_info(struct tm_fetcher *f);
static void pump(struct tm_fetcher *f);
static void fail_running(struct tm_fetcher *f, enum tm_fetch_outcome outcome, const char *why);

static void handle_closed(struct tm_fetcher *f)
{
    f->open_handles--;
    if (!f->closing || f->open_handles > 0)
        return;
    void (*cb)(void *) = f->on_closed;
    void *ud = f->closed_ud;
    free(f->pool);
    free(f);
    if (cb != NULL)
        cb(ud);
}

static void on_uv_poll_close(uv_handle_t *h)
{
    struct tm_sock *sk = (struct tm_sock *)h;
    struct tm_fetcher *f = sk->f;
    free(sk);
    handle_closed(f);
}

static void on_uv_timer_close(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void sock_close(struct tm_fetcher *f, struct tm_sock *sk)
{
    if (sk->prev != NULL)
        sk->prev->next = sk->next;
    else
        f->socks = sk->next;
    if (sk->next != NULL)
        sk->next->prev = sk->prev;
    sk->prev = sk->next = NULL;
    uv_close((uv_handle_t *)&sk->poll, on_uv_poll_close);
}

/* After curl_multi_socket_action failed as a whole: every running transfer
 * is reported, the queue carries on. */
static void after_action(struct tm_fetcher *f, CURLMcode mc)
{
    if (mc != CURLM_OK && f->multi != NULL && !f->closing) {
        char why[160];
        snprintf(why, sizeof why, "curl multi: %s", curl_multi_strerror(mc));
        fail_running(f, TM_FETCH_NETWORK, why);
        pump(f);
    }
    check_multi_info(f);
}

static void on_uv_poll(uv_poll_t *h, int status, int events)
{
    struct tm_sock *sk = (struct tm_sock *)h;
    struct tm_fetcher *f = sk->f;
    if (f->closing || f->multi == NULL)
        return;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running = 0;
    after_action(f, curl_multi_socket_action(f->multi, sk->fd, flags, &running));
}

static void on_uv_timer(uv_timer_t *h)
{
    struct tm_fetcher *f = h->data;
    if (f->closing || f->multi == NULL)
        return;
    int running = 0;
    after_action(f, curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running));
}

/* CURLMOPT_TIMERFUNCTION: curl wants socket_action(TIMEOUT) in timeout_ms
 * (-1: never). Never called back from inside this callback: the uv timer
 * fires on a later loop iteration even for 0. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct tm_fetcher *f = userp;
    (void)multi;
    if (f->closing)
        return 0;
    if (timeout_ms < 0)
        return uv_timer_stop(&f->timer) < 0 ? -1 : 0;
    return uv_timer_start(&f->timer, on_uv_timer, (uint64_t)timeout_ms, 0) < 0 ? -1 : 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch `s` for `action`, or stop (REMOVE, which
 * curl sends before it closes the socket). */
static int on_curl_socket(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
    struct tm_fetcher *f = userp;
    struct tm_sock *sk = socketp;
    (void)easy;
    if (action == CURL_POLL_REMOVE) {
        if (sk != NULL)
            sock_close(f, sk);
        return 0;
    }
    if (f->closing)
        return -1;
    if (sk == NULL) {
        sk = calloc(1, sizeof *sk);
        if (sk == NULL)
            return -1;
        if (uv_poll_init_socket(f->loop, &sk->poll, s) < 0) {
            free(sk);
            return -1;
        }
        sk->fd = s;
        sk->f = f;
        sk->next = f->socks;
        if (f->socks != NULL)
            f->socks->prev = sk;
        f->socks = sk;
        f->open_handles++;
        if (curl_multi_assign(f->multi, s, sk) != CURLM_OK) {
            sock_close(f, sk);
            return -1;
        }
    }
    int events = 0;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&sk->poll, events, on_uv_poll) < 0 ? -1 : 0;
}

/* ---- starting, finishing, cancelling ---------------------------------- */

#define SETOPT(e, opt, val)                                                                        \
    do {                                                                                           \
        CURLcode c_ = curl_easy_setopt((e), (opt), (val));                                         \
        if (c_ != CURLE_OK)                                                                        \
            return tm_error_set(err, TM_EFETCH, "curl option %s: %s", #opt,                        \
                                curl_easy_strerror(c_));                                           \
    } while (0)

static int add_header(struct tm_transfer *t, const char *name, const char *value,
                      struct tm_error *err)
{
    char line[TM_FETCH_MAX_HEADER_VALUE_BYTES + 64];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(t->headers, line);
    if (l == NULL)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    t->headers = l;
    return 0;
}

static int configure_easy(struct tm_fetcher *f, struct tm_transfer *t, CURL *e,
                          struct tm_error *err)
{
    SETOPT(e, CURLOPT_URL, t->url);
    SETOPT(e, CURLOPT_PRIVATE, (void *)t);
    SETOPT(e, CURLOPT_ERRORBUFFER, t->errbuf);
    SETOPT(e, CURLOPT_NOSIGNAL, 1L);
    SETOPT(e, CURLOPT_WRITEFUNCTION, on_curl_write);
    SETOPT(e, CURLOPT_WRITEDATA, (void *)t);
    SETOPT(e, CURLOPT_TIMEOUT, (long)f->limits.timeout_s);
    SETOPT(e, CURLOPT_LOW_SPEED_LIMIT, (long)TM_FETCH_LOW_SPEED_BYTES_PER_S);
    SETOPT(e, CURLOPT_LOW_SPEED_TIME, (long)TM_FETCH_LOW_SPEED_TIME_S);
    /* An announced size over the limit fails before any byte is read; the
     * write callback enforces the limit on decompressed bytes. */
    SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->limits.max_body_bytes);
    if (t->is_file) {
        /* The source list named this file itself; nothing can redirect. */
        SETOPT(e, CURLOPT_PROTOCOLS_STR, "file");
        SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
        return 0;
    }
    SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(e, CURLOPT_FOLLOWLOCATION, 1L);
    SETOPT(e, CURLOPT_MAXREDIRS, (long)TM_FETCH_MAX_REDIRECTS);
    SETOPT(e, CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(e, CURLOPT_USERAGENT, TM_FETCH_USER_AGENT);
    SETOPT(e, CURLOPT_HEADERFUNCTION, on_curl_header);
    SETOPT(e, CURLOPT_HEADERDATA, (void *)t);

    struct curl_slist *l = curl_slist_append(NULL, TM_FETCH_ACCEPT);
    if (l == NULL)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    t->headers = l;
    int rc;
    if (t->etag != NULL && (rc = add_header(t, "If-None-Match", t->etag, err)) < 0)
        return rc;
    if (t->last_modified != NULL &&
        (rc = add_header(t, "If-Modified-Since", t->last_modified, err)) < 0)
        return rc;
    SETOPT(e, CURLOPT_HTTPHEADER, t->headers);
    return 0;
}

/* Hands `t` to curl. On failure `t` is untouched but for its slot, which is
 * released again, and the caller still owns it. */
static int start_transfer(struct tm_fetcher *f, struct tm_transfer *t, struct tm_error *err)
{
    CURL *e = pool_take(f);
    if (e == NULL)
        return tm_error_set(err, TM_ENOMEM, "curl_easy_init failed");
    t->easy = e;
    t->all_permanent = true;
    t->abort = TM_ABORT_NONE;
    t->headers_told = false;
    t->errbuf[0] = '\0';
    int rc = configure_easy(f, t, e, err);
    if (rc == 0) {
        CURLMcode mc = curl_multi_add_handle(f->multi, e);
        if (mc != CURLM_OK)
            rc = tm_error_set(err, TM_EFETCH, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    }
    if (rc < 0) {
        curl_slist_free_all(t->headers);
        t->headers = NULL;
        t->easy = NULL;
        pool_give(f, e);
        return rc;
    }
    t->host = host_acquire(f, t->host_key);
    list_push(&f->running, t);
    return 0;
}

/* Starts queued transfers while slots are free, oldest first, skipping those
 * whose host is at per_host (they keep their place). */
static void pump(struct tm_fetcher *f)
{
    while (!f->cancelling && !f->closing && f->multi != NULL &&
           f->running.n < (size_t)f->limits.concurrency) {
        struct tm_transfer *t = f->queue.head;
        while (t != NULL && host_active(f, t->host_key) >= f->limits.per_host)
            t = t->next;
        if (t == NULL)
            return;
        list_remove(&f->queue, t);
        struct tm_error e = {0};
        if (start_transfer(f, t, &e) < 0)
            report_bare(t, TM_FETCH_NETWORK, e.msg);
    }
}

static void finish_transfer(struct tm_fetcher *f, struct tm_transfer *t, CURLcode rc)
{
    struct tm_result_store store = {0};
    struct tm_fetch_result r;
    char msg[CURL_ERROR_SIZE + TM_FETCH_MAX_HEADER_VALUE_BYTES];
    result_init(&r, t, TM_FETCH_OK, NULL);
    result_fill_response(&r, &store, t);
    r.outcome = classify(f, t, rc, r.http_status, msg, sizeof msg);
    r.error = msg[0] != '\0' ? msg : NULL;

    list_remove(&f->running, t);
    transfer_detach(f, t);
    pump(f);
    t->on_done(t->ud, &r);
    result_store_clear(&store);
    transfer_free(t);
}

static void check_multi_info(struct tm_fetcher *f)
{
    CURLMsg *m;
    int left = 0;
    /* on_done may close the fetcher: re-check before every read. */
    while (!f->closing && f->multi != NULL && (m = curl_multi_info_read(f->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        struct tm_transfer *t = NULL;
        if (curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t) != CURLE_OK || t == NULL) {
            /* Not one of ours: cannot happen, but never leave it in the multi. */
            if (curl_multi_remove_handle(f->multi, e) == CURLM_OK)
                curl_easy_cleanup(e);
            continue;
        }
        finish_transfer(f, t, rc);
    }
}

/* Takes every running transfer (and the queue when `with_queue`) out, then
 * reports each: all removals happen before the first on_done, so callbacks
 * that start, cancel or close find a consistent fetcher. */
static void fail_transfers(struct tm_fetcher *f, enum tm_fetch_outcome outcome, const char *why,
                           bool with_queue)
{
    struct tm_list running = f->running;
    struct tm_list queued = {0};
    f->running = (struct tm_list){0};
    if (with_queue) {
        queued = f->queue;
        f->queue = (struct tm_list){0};
    }
    for (struct tm_transfer *t = running.head; t != NULL; t = t->next)
        transfer_detach(f, t);
    struct tm_list *lists[2] = {&running, &queued};
    for (int i = 0; i < 2; i++) {
        struct tm_transfer *t = lists[i]->head;
        while (t != NULL) {
            struct tm_transfer *next = t->next;
            report_bare(t, outcome, why);
            t = next;
        }
    }
}

static void fail_running(struct tm_fetcher *f, enum tm_fetch_outcome outcome, const char *why)
{
    fail_transfers(f, outcome, why, false);
}

/* ---- public API ------------------------------------------------------- */

int tm_fetcher_new(uv_loop_t *loop, const struct tm_fetch_limits *limits, struct tm_fetcher **out,
                   struct tm_error *err)
{
    *out = NULL;
    if (loop == NULL || limits == NULL)
        return tm_error_set(err, TM_EINVAL, "fetcher: no loop or limits");
    if (limits->concurrency < 1 || limits->concurrency > TM_FETCH_MAX_CONCURRENCY)
        return tm_error_set(err, TM_EINVAL, "fetcher: concurrency must be 1..%d",
                            TM_FETCH_MAX_CONCURRENCY);
    if (limits->per_host < 1 || limits->timeout_s < 1 || limits->max_body_bytes < 1)
        return tm_error_set(err, TM_EINVAL, "fetcher: per_host, timeout and max_body must be > 0");
    if (limits->timeout_s > INT32_MAX)
        return tm_error_set(err, TM_EINVAL, "fetcher: timeout too large");

    struct tm_fetcher *f = calloc(1, sizeof *f);
    if (f == NULL)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    f->pool = calloc((size_t)limits->concurrency, sizeof *f->pool);
    if (f->pool == NULL) {
        free(f);
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    }
    f->loop = loop;
    f->limits = *limits;
    f->multi = curl_multi_init();
    if (f->multi == NULL) {
        free(f->pool);
        free(f);
        return tm_error_set(err, TM_EFETCH, "curl_multi_init failed");
    }
    CURLMcode mc = CURLM_OK;
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, (void *)f);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, (void *)f);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)limits->concurrency);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)limits->per_host);
    int rc = mc == CURLM_OK ? uv_timer_init(loop, &f->timer) : 0;
    if (mc != CURLM_OK || rc < 0) {
        curl_multi_cleanup(f->multi);
        free(f->pool);
        free(f);
        if (mc != CURLM_OK)
            return tm_error_set(err, TM_EFETCH, "curl_multi_setopt: %s", curl_multi_strerror(mc));
        return tm_error_set(err, TM_EFETCH, "uv_timer_init: %s", uv_strerror(rc));
    }
    f->timer.data = f;
    f->open_handles = 1;
    *out = f;
    return 0;
}

/* Validates the URL and derives the per-host key ("host:port", or "file:"). */
static int url_check(const char *url, bool allow_file, bool *is_file, char **host_key,
                     struct tm_error *err)
{
    CURLU *u = curl_url();
    if (u == NULL)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = 0;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (uc != CURLUE_OK) {
        rc = tm_error_set(err, TM_EINVAL, "bad URL %s: %s", url, curl_url_strerror(uc));
        goto out;
    }
    *is_file = strcasecmp(scheme, "file") == 0;
    if (*is_file) {
        if (!allow_file)
            rc = tm_error_set(err, TM_EINVAL,
                              "file:// is allowed only when the source list "
                              "names it");
        else
            *host_key = dup_or_null("file:");
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        rc = tm_error_set(err, TM_EINVAL, "scheme %s is not allowed (http and https only)", scheme);
        goto out;
    }
    uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (uc != CURLUE_OK) {
        rc = tm_error_set(err, TM_EINVAL, "bad URL %s: %s", url, curl_url_strerror(uc));
        goto out;
    }
    size_t n = strlen(host) + strlen(port) + 2;
    *host_key = malloc(n);
    if (*host_key == NULL)
        abort();
    snprintf(*host_key, n, "%s:%s", host, port);
    for (char *p = *host_key; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* A stored validator goes into a request header verbatim (RFC 9110
 * §13.1.1/§13.1.3); one that could split the header is not sent. */
static char *validator_copy(const char *v)
{
    if (v == NULL || !header_value_ok(v) || strpbrk(v, "\r\n") != NULL)
        return NULL;
    return dup_or_null(v);
}

int tm_fetch_start(struct tm_fetcher *f, const struct tm_fetch_request *req, struct tm_error *err)
{
    if (f == NULL || req == NULL || req->url == NULL || req->on_data == NULL ||
        req->on_done == NULL)
        return tm_error_set(err, TM_EINVAL, "fetch: missing URL or callback");
    if (f->closing || f->cancelling)
        return tm_error_set(err, TM_EBUSY, "fetch: the fetcher is stopping");
    bool is_file = false;
    char *host_key = NULL;
    int rc = url_check(req->url, req->allow_file, &is_file, &host_key, err);
    if (rc < 0)
        return rc;

    struct tm_transfer *t = calloc(1, sizeof *t);
    if (t == NULL) {
        free(host_key);
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    }
    t->f = f;
    t->source_id = dup_or_null(req->source_id);
    t->url = dup_or_null(req->url);
    t->host_key = host_key;
    t->is_file = is_file;
    if (!is_file) {
        t->etag = validator_copy(req->etag);
        t->last_modified = validator_copy(req->last_modified);
    }
    t->on_headers = req->on_headers;
    t->on_data = req->on_data;
    t->on_done = req->on_done;
    t->ud = req->ud;

    /* Start at once only when a slot is free and its host has room; queued
     * transfers are then all blocked by their host, so FIFO order holds. */
    if (f->running.n < (size_t)f->limits.concurrency &&
        host_active(f, host_key) < f->limits.per_host) {
        rc = start_transfer(f, t, err);
        if (rc < 0) {
            transfer_free(t);
            return rc;
        }
        return 0;
    }
    list_push(&f->queue, t);
    return 0;
}

size_t tm_fetcher_pending(const struct tm_fetcher *f)
{
    return f == NULL ? 0 : f->queue.n + f->running.n;
}

void tm_fetcher_cancel_all(struct tm_fetcher *f)
{
    if (f == NULL || f->cancelling)
        return;
    f->cancelling = true;
    fail_transfers(f, TM_FETCH_CANCELLED, "cancelled", true);
    f->cancelling = false;
}

void tm_fetcher_close(struct tm_fetcher *f, void (*on_closed)(void *ud), void *ud)
{
    if (f == NULL || f->closing)
        return;
    /* Cancel first, while the fetcher is still whole: on_done callbacks may
     * call tm_fetch_start (refused) or tm_fetcher_close (ignored). */
    bool was_cancelling = f->cancelling;
    f->cancelling = true;
    fail_transfers(f, TM_FETCH_CANCELLED, "cancelled", true);
    f->cancelling = was_cancelling;
    f->closing = true;
    f->on_closed = on_closed;
    f->closed_ud = ud;
    /* Cleanup closes cached connections and may call on_curl_socket with
     * CURL_POLL_REMOVE for their sockets. */
    CURLM *multi = f->multi;
    f->multi = NULL;
    CURLMcode mc = curl_multi_cleanup(multi);
    (void)mc; /* only fails for a bad handle or a call from a curl callback */
    for (size_t i = 0; i < f->pool_n; i++)
        curl_easy_cleanup(f->pool[i]);
    f->pool_n = 0;
    while (f->socks != NULL)
        sock_close(f, f->socks);
    uv_close((uv_handle_t *)&f->timer, on_uv_timer_close);
}

void tm_fetch_result_copy(struct tm_fetch_result *dst, const struct tm_fetch_result *src)
{
    *dst = *src;
    dst->source_id = dup_or_null(src->source_id);
    dst->url = dup_or_null(src->url);
    dst->error = dup_or_null(src->error);
    dst->etag = dup_or_null(src->etag);
    dst->last_modified = dup_or_null(src->last_modified);
    dst->content_type = dup_or_null(src->content_type);
    dst->charset = dup_or_null(src->charset);
    dst->final_url = dup_or_null(src->final_url);
}

void tm_fetch_result_clear(struct tm_fetch_result *r)
{
    if (r == NULL)
        return;
    free((char *)(uintptr_t)r->source_id);
    free((char *)(uintptr_t)r->url);
    free((char *)(uintptr_t)r->error);
    free((char *)(uintptr_t)r->etag);
    free((char *)(uintptr_t)r->last_modified);
    free((char *)(uintptr_t)r->content_type);
    free((char *)(uintptr_t)r->charset);
    free((char *)(uintptr_t)r->final_url);
    *r = (struct tm_fetch_result){0};
}

const char *tm_fetch_outcome_name(enum tm_fetch_outcome outcome)
{
    switch (outcome) {
    case TM_FETCH_OK:
        return "ok";
    case TM_FETCH_NOT_MODIFIED:
        return "not_modified";
    case TM_FETCH_HTTP_ERROR:
        return "http_error";
    case TM_FETCH_NETWORK:
        return "network";
    case TM_FETCH_TIMEOUT:
        return "timeout";
    case TM_FETCH_TOO_LARGE:
        return "too_large";
    case TM_FETCH_ABORTED:
        return "aborted";
    case TM_FETCH_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

struct tm_fetch_limits tm_fetch_limits_of(const struct tm_config *cfg)
{
    struct tm_fetch_limits limits = {
        .concurrency = cfg->concurrency,
        .per_host = cfg->per_host,
        .timeout_s = cfg->timeout_s,
        .max_body_bytes = cfg->max_body_bytes,
    };
    return limits;
}
