/* tinmoi — the fetcher (issue 3 item 2): libcurl's multi interface driven by
 * a caller's libuv loop (the pattern of curl's docs/examples/multi-uv.c:
 * CURLMOPT_SOCKETFUNCTION -> one uv_poll per socket, CURLMOPT_TIMERFUNCTION ->
 * one uv_timer, curl_multi_socket_action, curl_multi_info_read).
 *
 * A stage with a sink: it knows its input (a request naming a URL and the
 * stored validators) and hands body bytes to `on_data` as they arrive, then
 * reports once through `on_done`. It knows nothing of parse, store or merge.
 *
 * Policy (SPEC §3, §8): http and https only; file:// only when the request
 * says the source list named it (never by redirect); at most
 * TM_FETCH_MAX_REDIRECTS redirects; every compression curl supports;
 * conditional GET from the stored ETag / Last-Modified; a whole-transfer
 * timeout and a low-speed limit; the body limit counts DECOMPRESSED bytes.
 *
 * Queueing: requests beyond `concurrency` transfers at once, or beyond
 * `per_host` to one host:port, wait in a FIFO inside the fetcher (not in
 * curl, whose pending transfers would spend their CURLOPT_TIMEOUT waiting).
 * Easy handles are created only when a transfer starts and are reused from a
 * pool of at most `concurrency`. CURLMOPT_MAX_TOTAL_CONNECTIONS and
 * CURLMOPT_MAX_HOST_CONNECTIONS are set to the same limits as a backstop
 * (a redirect may move a transfer to another host).
 *
 * The caller must have called curl_global_init(CURL_GLOBAL_DEFAULT) once,
 * before any thread exists, and calls curl_global_cleanup at exit; the
 * fetcher never calls either. Single-threaded: every function is called on
 * the loop's thread. */
#ifndef TINMOI_FETCH_H
#define TINMOI_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tinmoi/date.h"
#include "tinmoi/error.h"

/* RFC 9110 §15.4 recommends that clients detect cycles; 5 is curl's and
 * most feed readers' bound, and no honest feed moves more often than that. */
#define TM_FETCH_MAX_REDIRECTS 5
/* A transfer slower than this many bytes a second ... */
#define TM_FETCH_LOW_SPEED_BYTES_PER_S 64
/* ... for this long is aborted: a trickling server must not hold one of the
 * `concurrency` slots for the whole `timeout`. */
#define TM_FETCH_LOW_SPEED_TIME_S 15
/* Upper bound for `concurrency`: more parallel transfers than this only
 * exhaust file descriptors and hurt the servers we poll. */
#define TM_FETCH_MAX_CONCURRENCY 1024
/* ETag / Last-Modified / Content-Type values longer than this are ignored:
 * real ones are tens of bytes, and they are stored per source. */
#define TM_FETCH_MAX_HEADER_VALUE_BYTES 1024
/* The product's home page, named in the User-Agent. */
#define TM_FETCH_HOME_URL "https://github.com/tinmoi/tinmoi"
/* "tinmoi/<version> (+<home page>)" */
#define TM_FETCH_USER_AGENT "tinmoi/" TINMOI_VERSION " (+" TM_FETCH_HOME_URL ")"
/* Feeds first; anything else still accepted so a server that ignores
 * negotiation is read and reported, not refused. */
#define TM_FETCH_ACCEPT                                                                            \
    "Accept: application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.8"

struct tm_fetch_limits {
    int concurrency;        /* transfers at once, all hosts; 1..TM_FETCH_MAX_CONCURRENCY */
    int per_host;           /* transfers at once to one host:port; >= 1 */
    int64_t timeout_s;      /* whole transfer, redirects included; >= 1 */
    int64_t max_body_bytes; /* body after decompression; >= 1 */
};

enum tm_fetch_outcome {
    TM_FETCH_OK = 0,       /* 2xx (or a file:// read): the body went to on_data */
    TM_FETCH_NOT_MODIFIED, /* 304: the validators matched; on_data was never called */
    TM_FETCH_HTTP_ERROR,   /* final status >= 400 (or a 3xx that was not followed) */
    TM_FETCH_NETWORK,      /* DNS, connect, TLS, too many redirects, refused protocol... */
    TM_FETCH_TIMEOUT,      /* `timeout_s` or the low-speed limit */
    TM_FETCH_TOO_LARGE,    /* the body exceeded max_body_bytes (decompressed) */
    TM_FETCH_ABORTED,      /* the sink's on_data returned non-zero */
    TM_FETCH_CANCELLED,    /* tm_fetcher_cancel_all or tm_fetcher_close */
};

/* What a transfer ended with. Every pointer is owned by the fetcher and valid
 * only during the on_done call: the sink copies what it keeps. Strings are
 * NULL when absent, never "". Times are seconds since the epoch (UTC),
 * TM_TIME_NONE when absent. */
struct tm_fetch_result {
    enum tm_fetch_outcome outcome;
    const char *source_id; /* as given in the request */
    const char *url;       /* as requested */
    long http_status;      /* final response's status; 0 for file:// or no response */
    const char *error;     /* one line for every outcome but OK and NOT_MODIFIED */
    const char *etag;      /* of the final response */
    const char *last_modified;
    const char *content_type; /* media type, lower-case, without parameters */
    const char *charset;      /* Content-Type's charset parameter, unquoted */
    int64_t max_age_s;        /* Cache-Control max-age; -1 when absent */
    int64_t expires_utc;      /* Expires */
    int64_t retry_after_utc;  /* Retry-After, seconds or HTTP-date, made absolute */
    const char *final_url;    /* CURLINFO_EFFECTIVE_URL (after redirects) */
    int redirect_count;
    bool permanent_redirect; /* redirect_count > 0 and every hop was 301 or 308 */
    int64_t body_bytes;      /* decompressed body bytes received */
    int64_t total_time_us;   /* CURLINFO_TOTAL_TIME_T; 0 when cancelled before start */
};

/* Body bytes as they arrive (already decompressed), only for a 2xx response
 * or a file:// read: error pages, redirect bodies and 304s never reach it.
 * `buf` is valid only during the call. Return 0 to go on; a non-zero return
 * aborts the transfer and on_done reports TM_FETCH_ABORTED with the one-line
 * reason the sink wrote into `err` (tm_error_set), or tm_strerror of the
 * returned code when it wrote none. on_data must not call any tm_fetch*
 * function (it runs inside a curl callback). Called at most
 * max_body_bytes in total; on_data may have been called before an on_done
 * whose outcome is not OK, and the sink then discards what it got. */
typedef int (*tm_fetch_data_cb)(void *ud, const char *buf, size_t len, struct tm_error *err);

/* Optional: called once, just before the first on_data, with the response
 * whose body follows: its status (0 for file://), Content-Type media type
 * (lower-case, no parameters) and charset parameter, each NULL when absent
 * and valid only during the call. Lets the sink set up its parser with the
 * HTTP charset. Runs inside a curl callback: it must not call any tm_fetch*
 * function. */
typedef void (*tm_fetch_headers_cb)(void *ud, long http_status, const char *content_type,
                                    const char *charset);

/* Called exactly once per request that tm_fetch_start accepted: from the
 * loop, or from inside tm_fetcher_cancel_all / tm_fetcher_close (outcome
 * CANCELLED), never from inside tm_fetch_start. It may call tm_fetch_start,
 * tm_fetcher_cancel_all and tm_fetcher_close. */
typedef void (*tm_fetch_done_cb)(void *ud, const struct tm_fetch_result *res);

struct tm_fetch_request {
    const char *source_id;          /* copied; echoed in the result */
    const char *url;                /* copied; absolute http(s):// (or file:// with allow_file) */
    const char *etag;               /* stored validator or NULL: sent as If-None-Match */
    const char *last_modified;      /* stored validator or NULL: sent as If-Modified-Since */
    bool allow_file;                /* the source list itself named a file:// URL */
    tm_fetch_headers_cb on_headers; /* optional (NULL) */
    tm_fetch_data_cb on_data;       /* required */
    tm_fetch_done_cb on_done;       /* required */
    void *ud;                       /* passed to both callbacks */
};

struct tm_config;

/* The [fetch] section of a config as fetcher limits. */
struct tm_fetch_limits tm_fetch_limits_of(const struct tm_config *cfg);

struct tm_fetcher;

/* Creates a fetcher on `loop` (the caller's; it must outlive the fetcher).
 * `limits` is copied. On 0, *out is a fetcher the caller ends with
 * tm_fetcher_close. Returns TM_EINVAL for a limit out of range, TM_ENOMEM,
 * or TM_EFETCH when curl or libuv refuse to set up (err says which). */
int tm_fetcher_new(uv_loop_t *loop, const struct tm_fetch_limits *limits, struct tm_fetcher **out,
                   struct tm_error *err);

/* Queues a transfer; everything in `req` is copied. Returns 0 when accepted:
 * on_done will then be called exactly once, later, from the loop. On a
 * negative return on_done is never called: TM_EINVAL for a malformed URL, a
 * scheme other than http/https (file only with allow_file) or missing
 * callbacks; TM_EBUSY while the fetcher is cancelling or closing; TM_ENOMEM;
 * TM_EFETCH when curl refuses the transfer. `err` (may be NULL) says why. */
int tm_fetch_start(struct tm_fetcher *f, const struct tm_fetch_request *req, struct tm_error *err);

/* Transfers queued or running. */
size_t tm_fetcher_pending(const struct tm_fetcher *f);

/* Graceful stop: aborts every running transfer and empties the queue,
 * calling each one's on_done with TM_FETCH_CANCELLED before it returns.
 * tm_fetch_start refuses (TM_EBUSY) while those callbacks run and accepts
 * again afterwards. Accepts NULL. */
void tm_fetcher_cancel_all(struct tm_fetcher *f);

/* Cancels everything (as tm_fetcher_cancel_all), then closes the fetcher's
 * uv handles. `f` is freed in the last close callback, after which
 * `on_closed(ud)` is called if not NULL; once the loop has run those
 * callbacks the fetcher holds no handle, so uv_loop_close succeeds. `f` must
 * not be used after this call. Accepts NULL (on_closed is then not called). */
void tm_fetcher_close(struct tm_fetcher *f, void (*on_closed)(void *ud), void *ud);

/* A copy of an on_done result that outlives the call (every string
 * duplicated; aborts when memory runs out, as for the fetcher's other
 * small copies), and its release (zeroes it; accepts NULL). */
void tm_fetch_result_copy(struct tm_fetch_result *dst, const struct tm_fetch_result *src);
void tm_fetch_result_clear(struct tm_fetch_result *r);

/* Static name of an outcome: "ok", "not_modified", "http_error", "network",
 * "timeout", "too_large", "aborted", "cancelled". Metrics use these. */
const char *tm_fetch_outcome_name(enum tm_fetch_outcome outcome);

#endif
