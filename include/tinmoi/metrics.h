/* tinmoi — operational counters and their Prometheus text rendering
 * (SPEC §9, issue 5).
 *
 * Pure: plain data and text, no I/O, no clock, no locking. The daemon owns
 * one struct tm_metrics, updates it from its loop callbacks, and the HTTP
 * server (on the same loop thread) renders it for /metrics. Everything is
 * rendered in the Prometheus text exposition format 0.0.4:
 *
 *   tinmoi_build_info{version}                 gauge, always 1
 *   tinmoi_fetch_total{source,outcome}         counter
 *   tinmoi_fetch_duration_seconds              histogram over ALL sources
 *                                              (buckets TM_METRICS_BUCKETS_S;
 *                                              one global histogram, because
 *                                              per-source buckets would be
 *                                              ~14 series x 10,000 sources)
 *   tinmoi_source_up{source}                   gauge 1/0
 *   tinmoi_items, tinmoi_stories               gauges (last publish)
 *   tinmoi_publish_total                       counter
 *   tinmoi_last_publish_timestamp_seconds      gauge (0 before the first)
 *   tinmoi_http_requests_total{code}           counter (tm_metrics_render_http)
 *
 * Label values are escaped as the format requires (\\, \", \n). */
#ifndef TINMOI_METRICS_H
#define TINMOI_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinmoi/buf.h"

/* Upper bounds (seconds) of the fetch-duration histogram buckets, +Inf
 * implied: from a loopback answer (50 ms) to the default fetch timeout
 * (30 s), roughly doubling so each bucket tells something apart. */
#define TM_METRICS_BUCKETS_S 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30
#define TM_METRICS_N_BUCKETS 10

/* Longest outcome label kept; longer outcomes are truncated. Outcomes are
 * short fixed words ("ok", "not_modified", "http_error", ...). */
#define TM_METRICS_MAX_OUTCOME_BYTES 31

/* Distinct outcomes counted per source: the fetcher's outcome words with
 * room to spare; further new outcomes of one source are counted as "other". */
#define TM_METRICS_MAX_OUTCOMES 16

/* HTTP status codes counted by the server: 100..599. */
#define TM_METRICS_HTTP_MIN_CODE 100
#define TM_METRICS_HTTP_MAX_CODE 599

struct tm_metrics;

/* Per-code request counters the HTTP server keeps (owned by the server). */
struct tm_http_stats {
    uint64_t by_code[TM_METRICS_HTTP_MAX_CODE - TM_METRICS_HTTP_MIN_CODE + 1];
};

/* Creates empty metrics (no sources, nothing published). Caller frees with
 * tm_metrics_free. Returns NULL on OOM. */
struct tm_metrics *tm_metrics_new(void);

/* Frees everything. Accepts NULL. */
void tm_metrics_free(struct tm_metrics *m);

/* Counts one finished fetch of `source_id` (copied; a source seen for the
 * first time is added) with `outcome` ("ok", "not_modified", "http_error",
 * "network", "timeout", "too_large", "aborted", "not_a_feed", ...; copied,
 * truncated to TM_METRICS_MAX_OUTCOME_BYTES) taking `duration_s` seconds
 * (negative counts as 0). Returns 0, TM_EINVAL for a NULL/empty id or
 * outcome, TM_ENOMEM (nothing counted). */
int tm_metrics_fetch_done(struct tm_metrics *m, const char *source_id, const char *outcome,
                          double duration_s);

/* Sets tinmoi_source_up{source} to 1 or 0 (adding the source when new).
 * Returns 0, TM_EINVAL, TM_ENOMEM. */
int tm_metrics_source_up(struct tm_metrics *m, const char *source_id, bool up);

/* Drops every series of `source_id` (a source removed by a reload).
 * Unknown ids are ignored. */
void tm_metrics_source_forget(struct tm_metrics *m, const char *source_id);

/* Records a successful publish at `now_utc` holding `n_items` items and
 * `n_stories` stories: bumps tinmoi_publish_total, sets the gauges and
 * tinmoi_last_publish_timestamp_seconds. */
void tm_metrics_published(struct tm_metrics *m, int64_t now_utc, size_t n_items, size_t n_stories);

/* Time of the last tm_metrics_published, 0 when never. Accepts NULL (0). */
int64_t tm_metrics_last_publish_utc(const struct tm_metrics *m);

/* Appends every metric above except the HTTP counters to `out`, each family
 * with its # HELP and # TYPE lines, sources in the order first seen. `m`
 * may be NULL: only tinmoi_build_info and zero-valued families. Returns 0,
 * or TM_ENOMEM / TM_ELIMIT from `out` (its content is then partial). */
int tm_metrics_render(const struct tm_metrics *m, struct tm_buf *out);

/* Appends tinmoi_http_requests_total{code} for every code with a non-zero
 * count (HELP and TYPE always). Returns 0, TM_ENOMEM, TM_ELIMIT. */
int tm_metrics_render_http(const struct tm_http_stats *st, struct tm_buf *out);

/* Adds one request with status `code` to `st`; codes out of range are
 * ignored. */
void tm_metrics_http_count(struct tm_http_stats *st, int code);

#endif
