/* tinmoi — the HTTP endpoint (SPEC §6, §9, issue 5), h2o on the daemon's
 * libuv loop.
 *
 * Serves the published files from memory, /healthz, /metrics and a status
 * page at /. Every function here must be called on the thread running the
 * loop given to tm_server_start (h2o and libuv are single-threaded).
 *
 * Files live in an immutable, reference-counted bundle built by
 * tm_server_set_files: a request holds the bundle it started on until its
 * response is fully sent, so no response mixes two publishes. Per file the
 * bundle holds the bytes, a gzip copy (compressed once, at publish), a
 * strong ETag from a 64-bit content hash and a Last-Modified time. */
#ifndef TINMOI_SERVE_H
#define TINMOI_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tinmoi/error.h"
#include "tinmoi/metrics.h"
#include "tinmoi/publish.h"

/* Most connections open at once. Past it a new connection is accepted and
 * closed at once, so a flood costs an accept+close each and never grows
 * memory or starves the fetcher sharing the loop. */
#define TM_SERVE_MAX_CONNECTIONS 1024

/* A client has this long to send a whole request (and an idle keep-alive
 * connection is closed after it): slow-loris clients cannot pin
 * connections. Becomes h2o's globalconf.http1.req_timeout. */
#define TM_SERVE_REQ_TIMEOUT_MS 10000

/* Request headers larger than h2o's H2O_MAX_REQLEN (8 KiB + 4 KiB per
 * header, 417,792 bytes) or with more than H2O_MAX_HEADERS (100) fields are
 * answered 400 and the connection closed by h2o itself. Bodies are not
 * accepted at all (only GET and HEAD): h2o's max_request_entity_size is set
 * to this. */
#define TM_SERVE_MAX_REQUEST_BODY_BYTES 1024

/* Pending connections queued by the kernel (listen backlog). */
#define TM_SERVE_BACKLOG 511

/* Longest `listen` string accepted ("[v6 address]:port"). */
#define TM_SERVE_MAX_LISTEN_BYTES 128

struct tm_serve_opts {
    const char *listen;               /* "127.0.0.1:8080", "[::1]:0", "0.0.0.0:80"; port 0 picks
                                       * an ephemeral port (see tm_server_port); copied */
    int max_age_s;                    /* Cache-Control: public, max-age=N on the files (the poll
                                       * interval); <0 is taken as 0 */
    int stale_after_s;                /* /healthz answers 503 once the last publish is older;
                                       * <=0: only "never published" is unhealthy */
    const struct tm_metrics *metrics; /* rendered by /metrics; borrowed, may be NULL,
                                       * must outlive the server */
    const char *title;                /* status page title (copied); NULL: "tinmoi" */
    int utc_offset_s;                 /* offset for the times shown on the status page
                                       * (the config's utc_offset) */
};

struct tm_server;

/* Binds opts->listen on `loop`, starts h2o on it and accepts connections.
 * No files are served (404) until the first tm_server_set_files; /healthz
 * answers 503 until then. On 0, *out is the server: stop it with
 * tm_server_close. Errors: TM_EINVAL for a bad listen string, TM_EIO when
 * the address cannot be bound (in use, no permission) with the reason in
 * `err`, TM_ENOMEM. Nothing is left on the loop on error. */
int tm_server_start(uv_loop_t *loop, const struct tm_serve_opts *opts, struct tm_server **out,
                    struct tm_error *err);

/* The port actually bound (useful with port 0), or -1. */
int tm_server_port(const struct tm_server *s);

/* Replaces the served files with copies of files[0..n) (names, bytes,
 * content types; the caller keeps its array) published at `published_utc`.
 * Names are matched exactly against the request path without its leading
 * '/' (never used as a file-system path). A file whose bytes equal the
 * previous bundle's keeps its Last-Modified and ETag; a changed one gets
 * published_utc. Also renders the status page from "snapshot.json" (when
 * present) and records published_utc for /healthz. Requests already in
 * flight finish on the previous bundle. Errors: TM_EINVAL (NULL name or
 * data, duplicate name), TM_ENOMEM, TM_EIO (zlib); on error the previous
 * bundle stays served and published_utc is not recorded. */
int tm_server_set_files(struct tm_server *s, const struct tm_published_file *files, size_t n,
                        int64_t published_utc, struct tm_error *err);

/* Stops accepting, closes every connection (requests in flight are cut)
 * and releases the h2o context; once every handle has closed, frees the
 * server and calls on_closed(ud) (may be NULL) from a loop callback. After
 * it the loop holds nothing of the server, so uv_loop_close can return 0.
 * Accepts NULL (on_closed is then not called). */
void tm_server_close(struct tm_server *s, void (*on_closed)(void *ud), void *ud);

#endif
