/* tinmoi — when to fetch each source next (issue 4 item 1).
 *
 * Pure: times in, times out. No uv, no I/O, no clock: the caller passes
 * `now_utc` and a random source, so tests are deterministic. Times are
 * seconds since the Unix epoch (UTC); TM_TIME_NONE (feed.h) means "none".
 *
 * The rules:
 *  - a source is polled every `interval_s` (its OPML interval or the
 *    config's), stretched to the feed's own hints (RSS <ttl>,
 *    sy:updatePeriod/sy:updateFrequency, Cache-Control max-age, Expires)
 *    when they ask for less, and always clamped to [min_interval_s,
 *    TM_SCHEDULE_MAX_INTERVAL_S];
 *  - after n consecutive failures the delay is interval × 2^(n-1) with
 *    jitter, capped at max_backoff_s: a failing source keeps being retried
 *    at the cap, never dropped;
 *  - a Retry-After (429, 503) holds back every source on that host until
 *    it has passed (tm_schedule_hosts);
 *  - at start, sources never fetched or overdue are due within the first
 *    TM_SCHEDULE_START_SPREAD_S seconds, spread by jitter; the others keep
 *    their stored due time. */
#ifndef TINMOI_SCHEDULE_H
#define TINMOI_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Never poll a source more often than once a minute (issue 4): a feed is
 * not a chat, and the servers we poll belong to small district offices.
 * Tests may lower it through the policy (the daemon reads
 * TINMOI_MIN_INTERVAL_S), never a config file. */
#define TM_SCHEDULE_MIN_INTERVAL_S 60
/* Never less than once a day, whatever a feed's ttl or Expires says: a
 * source that went quiet must still be noticed when it comes back. */
#define TM_SCHEDULE_MAX_INTERVAL_S 86400
/* Longest delay after consecutive failures: a source down for a day is
 * still retried four times a day, so it recovers on its own. */
#define TM_SCHEDULE_MAX_BACKOFF_S (6 * 3600)
/* Longest Retry-After honoured: a misconfigured or hostile server must not
 * silence a whole host for weeks. */
#define TM_SCHEDULE_MAX_RETRY_AFTER_S 86400
/* Sources due at start are spread over this many seconds, so a restart
 * never hits every server in the same second. */
#define TM_SCHEDULE_START_SPREAD_S 5
/* Regular polls are delayed by up to interval / TM_SCHEDULE_JITTER_DIV
 * (never advanced), so sources configured alike drift apart instead of
 * firing in lockstep. */
#define TM_SCHEDULE_JITTER_DIV 10
/* Longest host name kept in the Retry-After table (DNS names are at most
 * 253 bytes). */
#define TM_SCHEDULE_MAX_HOST_BYTES 256

/* A random source: returns a uniformly distributed 32-bit value. The daemon
 * passes a PRNG seeded at start; tests pass a fixed sequence. */
struct tm_schedule_random {
    uint32_t (*next)(void *ud);
    void *ud;
};

struct tm_schedule_policy {
    int64_t min_interval_s; /* >= 1; TM_SCHEDULE_MIN_INTERVAL_S in production */
    int64_t max_interval_s; /* TM_SCHEDULE_MAX_INTERVAL_S */
    int64_t max_backoff_s;  /* TM_SCHEDULE_MAX_BACKOFF_S */
    int64_t start_spread_s; /* TM_SCHEDULE_START_SPREAD_S */
};

/* The production policy: the TM_SCHEDULE_* constants above. */
void tm_schedule_policy_default(struct tm_schedule_policy *p);

/* What a response said about polling; absent values are 0 (durations) or
 * TM_TIME_NONE (times). */
struct tm_schedule_hints {
    int64_t ttl_s;           /* RSS <ttl>, in seconds */
    int64_t update_period_s; /* sy:updatePeriod / sy:updateFrequency */
    int64_t max_age_s;       /* Cache-Control max-age; <= 0: none */
    int64_t expires_utc;     /* Expires */
};

/* The polling interval after a successful fetch at `now_utc`: the
 * configured `interval_s`, raised to the largest hint (a feed asking to be
 * polled less often is obeyed; one asking for more often than configured is
 * not), clamped to [min_interval_s, max_interval_s]. `hints` may be NULL. */
int64_t tm_schedule_interval(const struct tm_schedule_policy *p, int64_t interval_s,
                             const struct tm_schedule_hints *hints, int64_t now_utc);

/* Next due time after a success: now + interval + a jitter in
 * [0, interval / TM_SCHEDULE_JITTER_DIV]. Never earlier than now + interval. */
int64_t tm_schedule_next_ok(const struct tm_schedule_policy *p, int64_t interval_s,
                            const struct tm_schedule_hints *hints, int64_t now_utc,
                            const struct tm_schedule_random *rnd);

/* The backoff delay after `failures` (>= 1) consecutive failures of a
 * source polled every `interval_s`: base = the clamped interval,
 * delay = base × 2^(failures-1) capped at max(max_backoff_s, base), then
 * "equal jitter": a value drawn in [delay/2, delay], never below base. */
int64_t tm_schedule_backoff_s(const struct tm_schedule_policy *p, int64_t interval_s, int failures,
                              const struct tm_schedule_random *rnd);

/* Next due time after a failure: now + tm_schedule_backoff_s, or the
 * response's Retry-After (`retry_after_utc`, TM_TIME_NONE when none;
 * bounded by TM_SCHEDULE_MAX_RETRY_AFTER_S) when that is later. */
int64_t tm_schedule_next_failure(const struct tm_schedule_policy *p, int64_t interval_s,
                                 int failures, int64_t retry_after_utc, int64_t now_utc,
                                 const struct tm_schedule_random *rnd);

/* Due time at start for a source whose stored due time is
 * `stored_next_due_utc` (TM_TIME_NONE: never scheduled). Never fetched or
 * overdue: now + a jitter in [0, start_spread_s]. Otherwise the stored time,
 * but no later than now + max(max_interval_s, max_backoff_s) (a clock that
 * jumped back must not park a source for years). */
int64_t tm_schedule_initial(const struct tm_schedule_policy *p, int64_t stored_next_due_utc,
                            int64_t now_utc, const struct tm_schedule_random *rnd);

/* Publishing cadence of the daemon (issue 4 item 2, issue 5's /healthz).
 *
 * Item changes are published fast, coalesced: sources finishing close
 * together cause one publish, at most one a second. */
#define TM_SCHEDULE_PUBLISH_COALESCE_MS 1000
/* Everything else (source status only: last success, last error,
 * consecutive failures; or nothing at all) is published once per this
 * period. Why a minute: it is the shortest polling interval, so the
 * status a reader sees is never more than one poll behind, while a daemon
 * polling 10,000 sources whose feeds did not change publishes once a
 * minute instead of after every 304. An idle publish rewrites no file
 * (files whose bytes would not change are left alone); it proves the loop
 * alive to /healthz. */
#define TM_SCHEDULE_STATUS_PUBLISH_S 60
/* /healthz turns 503 once the last publish is older than this: three
 * status periods, so one slow or failed publish (a busy disk, a merge of a
 * cold 10,000-source store) is not an outage, while a stuck loop is seen
 * within three minutes. A quiet hour still publishes every period. */
#define TM_SCHEDULE_STALE_AFTER_S (3 * TM_SCHEDULE_STATUS_PUBLISH_S)
/* A status publish merges and renders the whole store (about 1.5 s of CPU
 * at 1,000 sources, far more at 10,000): the status period stretches to
 * this many times the last publish's cost, so status-only publishing takes
 * at most a tenth of the loop... */
#define TM_SCHEDULE_STATUS_COST_FACTOR 10
/* ... but never beyond this, so /healthz (TM_SCHEDULE_STALE_AFTER_S) stays
 * green while a publish takes less than a period. */
#define TM_SCHEDULE_STATUS_MAX_PERIOD_S (2 * TM_SCHEDULE_STATUS_PUBLISH_S)

/* Milliseconds from `now_ms` until the daemon's next publish, given the
 * wall clock of the last one (`last_publish_ms`, 0 when never):
 * `items_changed` (an item change is waiting) publishes
 * TM_SCHEDULE_PUBLISH_COALESCE_MS after the last publish; otherwise the
 * next one is `status_period_s` after it (<= 0 or above
 * TM_SCHEDULE_STATUS_PUBLISH_S: that constant; only tests pass less),
 * stretched to TM_SCHEDULE_STATUS_COST_FACTOR × `last_cost_ms` (what the
 * last publish took) up to TM_SCHEDULE_STATUS_MAX_PERIOD_S. Never
 * negative: a publish already due is due now (0); never more than one
 * period or delay away, whatever the clock did. */
int64_t tm_schedule_publish_wait_ms(int64_t last_publish_ms, int64_t now_ms, bool items_changed,
                                    int64_t status_period_s, int64_t last_cost_ms);

/* Extracts the host of `url` (lower-case, as libcurl's URL API parses it)
 * into host[0..size). Returns 0, TM_EINVAL for a URL without a host
 * (file://, malformed), TM_ELIMIT when it does not fit. */
int tm_schedule_url_host(const char *url, char *host, size_t size);

/* The per-host "not before" table of Retry-After: a 429 or 503 from one
 * feed on a host holds back every source on that host. Owned by the caller;
 * entries whose time has passed are dropped as new ones come in. */
struct tm_schedule_hosts;

/* Returns a new empty table (caller frees with tm_schedule_hosts_free) or
 * NULL when out of memory. */
struct tm_schedule_hosts *tm_schedule_hosts_new(void);

void tm_schedule_hosts_free(struct tm_schedule_hosts *t);

/* Records that `host` asked not to be contacted before `not_before_utc`
 * (bounded to now + TM_SCHEDULE_MAX_RETRY_AFTER_S). A later time replaces
 * an earlier one, never the reverse. Returns 0, TM_EINVAL for an empty
 * host, TM_ELIMIT for one longer than TM_SCHEDULE_MAX_HOST_BYTES, or
 * TM_ENOMEM. */
int tm_schedule_hosts_hold(struct tm_schedule_hosts *t, const char *host, int64_t not_before_utc,
                           int64_t now_utc);

/* The time before which `host` must not be contacted, or TM_TIME_NONE
 * when it may be now (no entry, or its time has passed). */
int64_t tm_schedule_hosts_not_before(const struct tm_schedule_hosts *t, const char *host,
                                     int64_t now_utc);

/* Hosts currently held (entries whose time has not passed at `now_utc`). */
size_t tm_schedule_hosts_count(const struct tm_schedule_hosts *t, int64_t now_utc);

#endif
