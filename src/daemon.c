/* tinmoi — the daemon: one loop, a schedule per source, coalesced publishes,
 * the HTTP server, systemd notifications and signals. See daemon.h. */
#include "tinmoi/daemon.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "tinmoi/config.h"
#include "tinmoi/error.h"
#include "tinmoi/feed.h"
#include "tinmoi/fetch.h"
#include "tinmoi/harvest.h"
#include "tinmoi/log.h"
#include "tinmoi/metrics.h"
#include "tinmoi/notify.h"
#include "tinmoi/refresh.h"
#include "tinmoi/schedule.h"
#include "tinmoi/serve.h"
#include "tinmoi/state_lock.h"
#include "tinmoi/store.h"
#include "str_int.h"

/* One configured source and its schedule, in memory. */
struct dsrc {
    const struct tm_source *src; /* into the current config (d->cfg->sources) */
    char *url_override;          /* the URL a 301/308-only chain moved it to, or NULL */
    int64_t due_utc;
    int64_t retry_after_utc;
    int failures;
    bool gone;    /* 410 Gone: not polled until the source list changes its URL */
    bool running; /* a harvest is in flight */
};

struct daemon {
    uv_loop_t loop;
    struct tm_config *cfg;
    const char *config_path;
    struct tm_store *store;
    struct tm_fetcher *fetcher;
    struct tm_harvester *harvester;
    struct tm_server *server;
    struct tm_metrics *metrics;
    struct tm_schedule_policy policy;
    int64_t status_publish_s; /* 0: TM_SCHEDULE_STATUS_PUBLISH_S */
    struct tm_schedule_hosts *hosts;
    struct tm_schedule_random rnd;
    uint64_t rnd_state;
    struct dsrc *srcs;
    size_t n_srcs;
    uv_timer_t sched_timer;
    uv_timer_t publish_timer;
    uv_timer_t watchdog_timer;
    uv_signal_t sig_hup, sig_term, sig_int;
    bool handles_ok; /* init_handles succeeded: stop() closes them */
    bool stopping;
    int64_t last_publish_ms;      /* wall clock of the last publish, 0 when never */
    bool items_pending;           /* an item change waits for the publish timer */
    int64_t last_publish_cost_ms; /* how long the last publish took (monotonic) */
    bool limits_pending;          /* a reload changed [fetch] limits: swap the fetcher */
    int64_t last_publish_utc;
    int lock_fd;
    int open_handles; /* closed by stop(), counted down in on_uv_close */
};

/* ---- small helpers --------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "Now" for the next due time, rounded up to the next second: due times
 * are whole seconds, and rounding down would let the next request go out
 * up to a second earlier than its interval allows. */
static int64_t now_utc_ceil(void)
{
    return (now_ms() + 999) / 1000;
}

/* xorshift64*: scheduling jitter needs spread, not secrecy. */
static uint32_t on_schedule_random(void *ud)
{
    uint64_t *s = ud;
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * 2685821657736338717ULL) >> 32);
}

static const char *dsrc_url(const struct dsrc *ds)
{
    return ds->url_override ? ds->url_override : ds->src->url;
}

static struct dsrc *find_src(struct daemon *d, const char *id)
{
    for (size_t i = 0; i < d->n_srcs; i++)
        if (strcmp(d->srcs[i].src->id, id) == 0)
            return &d->srcs[i];
    return NULL;
}

static void free_srcs(struct dsrc *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].url_override);
    free(v);
}

static void notify(const char *state)
{
    struct tm_error err = {0};
    if (tm_notify(state, &err) < 0)
        tm_log(TM_LOG_WARNING, "%s", err.msg);
}

static void store_schedule(struct daemon *d, const struct dsrc *ds)
{
    struct tm_store_schedule s = {
        .next_due_utc = ds->due_utc,
        .retry_after_utc = ds->retry_after_utc,
        .gone = ds->gone,
    };
    struct tm_error err = {0};
    if (tm_store_set_schedule(d->store, ds->src->id, &s, &err) < 0)
        tm_log(TM_LOG_ERR, "source %s: storing its schedule: %s", ds->src->id, err.msg);
}

/* One line for systemd: "N sources ok, M error, K items, last publish
 * HH:MM:SS" (in the config's utc_offset, the portal's time). */
static void notify_status(struct daemon *d, const char *prefix)
{
    struct tm_store_source *list = NULL;
    size_t n = 0;
    struct tm_error err = {0};
    size_t ok = 0, bad = 0;
    int64_t items = 0;
    if (tm_store_list_sources(d->store, &list, &n, &err) < 0) {
        tm_log(TM_LOG_WARNING, "status: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].gone || list[i].state.status == TM_SOURCE_ERROR)
            bad++;
        else if (list[i].state.status == TM_SOURCE_OK)
            ok++;
        items += list[i].state.item_count;
    }
    tm_store_sources_free(list, n);
    char when[16] = "never";
    if (d->last_publish_utc > 0) {
        time_t t = (time_t)(d->last_publish_utc + d->cfg->utc_offset_s);
        struct tm tmv;
        if (gmtime_r(&t, &tmv) != NULL)
            strftime(when, sizeof when, "%H:%M:%S", &tmv);
    }
    char msg[256];
    snprintf(msg, sizeof msg, "%sSTATUS=%zu sources ok, %zu error, %lld items, last publish %s",
             prefix, ok, bad, (long long)items, when);
    notify(msg);
}

/* ---- publishing: store → merge → publish → server --------------------- */

static int publish(struct daemon *d)
{
    int64_t now = (int64_t)time(NULL);
    struct tm_publish_result res = {0};
    struct tm_refresh_stats stats = {0};
    struct tm_error err = {0};
    /* What is published is on disk first: no result of the writer thread
     * lands between the commit and the refresh. */
    tm_store_hold(d->store);
    tm_harvester_flush(d->harvester);
    int rc = tm_refresh(d->store, d->cfg, now, &res, &stats, &err);
    tm_store_release(d->store);
    if (rc < 0) {
        tm_log(TM_LOG_ERR, "publish: %s", err.msg);
        return err.code < 0 ? err.code : TM_EIO;
    }
    if (stats.merge_pairs_dropped > 0)
        tm_log(TM_LOG_WARNING,
               "merge: %zu similar-title pairs past the limit were not compared; some stories "
               "may be shown twice",
               stats.merge_pairs_dropped);
    tm_log(res.n_changed > 0 ? TM_LOG_INFO : TM_LOG_DEBUG,
           "published %zu files (%zu changed): %zu stories from %zu items", res.n_files,
           res.n_changed, stats.n_stories, stats.n_items);
    if (d->server && tm_server_set_files(d->server, res.files, res.n_files, now, &err) < 0)
        tm_log(TM_LOG_ERR, "serving the published files: %s", err.msg);
    tm_metrics_published(d->metrics, now, stats.n_items, stats.n_stories);
    tm_publish_result_clear(&res);
    d->last_publish_ms = now_ms();
    d->last_publish_utc = now;
    return 0;
}

static void on_publish_timer(uv_timer_t *t);

/* (Re)arms the one publish timer for the decision of
 * tm_schedule_publish_wait_ms; a timer already due sooner is kept. */
static void arm_publish_timer(struct daemon *d)
{
    if (d->stopping || !d->handles_ok)
        return;
    uint64_t wait =
        (uint64_t)tm_schedule_publish_wait_ms(d->last_publish_ms, now_ms(), d->items_pending,
                                              d->status_publish_s, d->last_publish_cost_ms);
    if (uv_is_active((uv_handle_t *)&d->publish_timer) &&
        uv_timer_get_due_in(&d->publish_timer) <= wait)
        return;
    int rc = uv_timer_start(&d->publish_timer, on_publish_timer, wait, 0);
    if (rc < 0)
        tm_log(TM_LOG_ERR, "publish timer: %s", uv_strerror(rc));
}

/* Publishes now and arms the next publish: the status period (or the
 * coalescing delay when a change arrived meanwhile). A failed publish is
 * retried on the same cadence; /healthz goes stale if it keeps failing. */
static int publish_and_rearm(struct daemon *d)
{
    d->items_pending = false;
    uv_timer_stop(&d->publish_timer);
    uint64_t t0 = uv_hrtime();
    int rc = publish(d);
    d->last_publish_cost_ms = (int64_t)((uv_hrtime() - t0) / 1000000);
    arm_publish_timer(d);
    return rc;
}

static void on_publish_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    if (d->stopping)
        return;
    if (publish_and_rearm(d) == 0)
        notify_status(d, "");
}

/* Items changed: one coalesced publish. The first change pulls the timer
 * in, later ones before it fires ride along. Status-only changes need no
 * call: the status period publishes them. */
static void arm_publish(struct daemon *d)
{
    d->items_pending = true;
    arm_publish_timer(d);
}

/* ---- the fetcher and its limits --------------------------------------- */

static void on_harvest_done(void *ud, const struct tm_harvest_outcome *o);

static void on_fetcher_closed(void *ud)
{
    (void)ud;
}

static int new_fetcher(struct daemon *d, struct tm_fetcher **fetcher,
                       struct tm_harvester **harvester, struct tm_error *err)
{
    struct tm_fetch_limits limits = tm_fetch_limits_of(d->cfg);
    *fetcher = NULL;
    *harvester = NULL;
    int rc = tm_fetcher_new(&d->loop, &limits, fetcher, err);
    if (rc < 0)
        return rc;
    rc = tm_harvester_new(&d->loop, *fetcher, d->store, on_harvest_done, d, harvester, err);
    if (rc < 0) {
        tm_fetcher_close(*fetcher, on_fetcher_closed, NULL);
        *fetcher = NULL;
    }
    return rc;
}

/* Applies [fetch] limits a reload changed: the fetcher holds them for its
 * queue and every transfer, so a new one replaces it once no transfer is in
 * flight. Until then no new transfer starts (the drain lasts at most
 * `timeout`); due sources go out right after. Returns true when new
 * transfers may start. */
static bool apply_limits(struct daemon *d)
{
    if (!d->limits_pending)
        return true;
    if (tm_harvester_active(d->harvester) > 0)
        return false;
    d->limits_pending = false;
    struct tm_fetcher *f = NULL;
    struct tm_harvester *h = NULL;
    struct tm_error err = {0};
    if (new_fetcher(d, &f, &h, &err) < 0) {
        tm_log(TM_LOG_ERR, "[fetch] limits: %s; keeping the previous ones", err.msg);
        return true;
    }
    tm_harvester_free(d->harvester);
    tm_fetcher_close(d->fetcher, on_fetcher_closed, NULL);
    d->harvester = h;
    d->fetcher = f;
    tm_log(
        TM_LOG_NOTICE,
        "[fetch] limits applied: concurrency %d, per_host %d, timeout %llds, max_body %lld bytes",
        d->cfg->concurrency, d->cfg->per_host, (long long)d->cfg->timeout_s,
        (long long)d->cfg->max_body_bytes);
    return true;
}

/* ---- scheduling ------------------------------------------------------- */

static void on_sched_timer(uv_timer_t *t);

static void arm_schedule(struct daemon *d)
{
    if (d->stopping)
        return;
    int64_t earliest = INT64_MAX;
    for (size_t i = 0; i < d->n_srcs; i++) {
        const struct dsrc *ds = &d->srcs[i];
        if (!ds->running && !ds->gone && ds->due_utc < earliest)
            earliest = ds->due_utc;
    }
    if (earliest == INT64_MAX) {
        uv_timer_stop(&d->sched_timer);
        return;
    }
    int64_t wait = earliest * 1000 - now_ms();
    if (wait < 0)
        wait = 0;
    int rc = uv_timer_start(&d->sched_timer, on_sched_timer, (uint64_t)wait, 0);
    if (rc < 0)
        tm_log(TM_LOG_ERR, "schedule timer: %s", uv_strerror(rc));
}

static void start_harvest(struct daemon *d, struct dsrc *ds, int64_t now)
{
    char host[TM_SCHEDULE_MAX_HOST_BYTES];
    if (tm_schedule_url_host(dsrc_url(ds), host, sizeof host) == 0) {
        int64_t nb = tm_schedule_hosts_not_before(d->hosts, host, now);
        if (nb != TM_TIME_NONE) {
            /* Another feed on this host got a Retry-After: wait with it,
             * spread so the host is not hit by all of them at once. */
            ds->due_utc = tm_schedule_initial(&d->policy, TM_TIME_NONE, nb, &d->rnd);
            tm_log(TM_LOG_INFO, "source %s: host %s asked to wait, next fetch in %llds",
                   ds->src->id, host, (long long)(ds->due_utc - now));
            return;
        }
    }
    struct tm_error err = {0};
    int rc = tm_harvest_start(d->harvester, ds->src, &err);
    if (rc == TM_ENOENT) { /* a 410 Gone for this URL, recorded earlier */
        ds->gone = true;
        tm_log(TM_LOG_NOTICE, "source %s: %s", ds->src->id, err.msg);
        return;
    }
    if (rc < 0) {
        ds->failures++;
        ds->due_utc = tm_schedule_next_failure(&d->policy, ds->src->interval_s, ds->failures,
                                               TM_TIME_NONE, now, &d->rnd);
        tm_log(TM_LOG_WARNING, "source %s: error: %s", ds->src->id, err.msg);
        store_schedule(d, ds);
        return;
    }
    ds->running = true;
}

static void on_sched_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    if (d->stopping)
        return;
    /* Draining for new limits: the last harvest to end arms this again. */
    if (!apply_limits(d))
        return;
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < d->n_srcs; i++) {
        struct dsrc *ds = &d->srcs[i];
        if (!ds->running && !ds->gone && ds->due_utc <= now)
            start_harvest(d, ds, now);
    }
    arm_schedule(d);
}

static void hold_host(struct daemon *d, const char *url, int64_t until_utc, int64_t now)
{
    char host[TM_SCHEDULE_MAX_HOST_BYTES];
    if (tm_schedule_url_host(url, host, sizeof host) != 0)
        return;
    if (tm_schedule_hosts_hold(d->hosts, host, until_utc, now) < 0)
        tm_log(TM_LOG_WARNING, "host %s: Retry-After not recorded", host);
}

static void on_harvest_done(void *ud, const struct tm_harvest_outcome *o)
{
    struct daemon *d = ud;
    const struct tm_fetch_result *f = o->fetch;
    int64_t now = now_utc_ceil();
    double secs = f ? (double)f->total_time_us / 1e6 : 0;
    const char *outcome = o->ok ? (f && f->outcome == TM_FETCH_NOT_MODIFIED ? "not_modified" : "ok")
                                : (f ? tm_fetch_outcome_name(f->outcome) : "error");
    if (f && f->outcome == TM_FETCH_OK && !o->ok)
        outcome = "not_a_feed";
    tm_metrics_fetch_done(d->metrics, o->source->id, outcome, secs);
    tm_metrics_source_up(d->metrics, o->source->id, o->ok);

    struct dsrc *ds = find_src(d, o->source->id);
    if (o->changed)
        arm_publish(d);
    if (ds == NULL) /* removed by a reload while its transfer ran */
        return;
    ds->running = false;
    if (strcmp(o->source->url, dsrc_url(ds)) != 0) {
        /* A reload gave the source a new URL while this transfer ran: the
         * result was the old URL's. The new one is fetched at once. */
        ds->due_utc = now;
        store_schedule(d, ds);
        arm_schedule(d);
        return;
    }
    long status = f ? f->http_status : 0;
    ds->retry_after_utc = TM_TIME_NONE;
    if (o->gone) {
        /* RFC 9110 §15.5.11: gone for good. The harvester recorded it with
         * the source-list URL it applies to (a restart with the same URL
         * stays stopped); polling stops until the source list changes. */
        ds->gone = true;
    } else if (o->ok) {
        ds->failures = 0;
        if (f && f->permanent_redirect && f->final_url && strcmp(f->final_url, dsrc_url(ds)) != 0) {
            char *moved = strdup(f->final_url);
            struct tm_error err = {0};
            if (moved == NULL) {
                tm_log(TM_LOG_ERR, "source %s: %s", ds->src->id, tm_strerror(TM_ENOMEM));
            } else if (tm_store_set_url_override(d->store, ds->src->id, ds->src->url, moved, &err) <
                       0) {
                tm_log(TM_LOG_ERR, "source %s: storing its new URL: %s", ds->src->id, err.msg);
                free(moved);
            } else {
                tm_log(TM_LOG_NOTICE, "source %s: moved permanently from %s to %s", ds->src->id,
                       dsrc_url(ds), moved);
                free(ds->url_override);
                ds->url_override = moved;
            }
        }
        struct tm_schedule_hints hints = {
            .ttl_s = o->ttl_s,
            .update_period_s = o->update_period_s,
            .max_age_s = f ? f->max_age_s : 0,
            .expires_utc = f ? f->expires_utc : TM_TIME_NONE,
        };
        ds->due_utc = tm_schedule_next_ok(&d->policy, ds->src->interval_s, &hints, now, &d->rnd);
    } else {
        ds->failures++;
        int64_t ra = TM_TIME_NONE;
        if (f && (status == 429 || status == 503) && f->retry_after_utc != TM_TIME_NONE) {
            ra = f->retry_after_utc;
            hold_host(d, dsrc_url(ds), ra, now);
            ds->retry_after_utc = ra;
            tm_log(TM_LOG_NOTICE, "source %s: HTTP %ld with Retry-After: its host waits %llds",
                   ds->src->id, status, (long long)(ra - now));
        }
        ds->due_utc = tm_schedule_next_failure(&d->policy, ds->src->interval_s, ds->failures, ra,
                                               now, &d->rnd);
    }
    store_schedule(d, ds);
    arm_schedule(d);
}

/* ---- the source table ------------------------------------------------- */

/* Builds the table for `cfg`, carrying over the state of `old` (by id) and
 * reading the stored schedule of sources new to it. */
static int build_srcs(struct daemon *d, const struct tm_config *cfg, const struct dsrc *old,
                      size_t n_old, struct dsrc **out)
{
    struct dsrc *v = calloc(cfg->n_sources ? cfg->n_sources : 1, sizeof *v);
    if (v == NULL)
        return TM_ENOMEM;
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < cfg->n_sources; i++) {
        struct dsrc *ds = &v[i];
        ds->src = &cfg->sources[i];
        const struct dsrc *prev = NULL;
        for (size_t k = 0; k < n_old; k++)
            if (strcmp(old[k].src->id, ds->src->id) == 0)
                prev = &old[k];
        if (prev && strcmp(prev->src->url, ds->src->url) == 0) {
            *ds = *prev;
            ds->src = &cfg->sources[i];
            ds->url_override = prev->url_override ? strdup(prev->url_override) : NULL;
            continue;
        }
        struct tm_store_schedule sched;
        struct tm_source_state st = {0};
        struct tm_error err = {0};
        bool gone_here = false;
        if (tm_store_get_schedule(d->store, ds->src->id, &sched, &err) < 0 ||
            tm_store_gone_for(d->store, ds->src->id, ds->src->url, &gone_here, &err) < 0 ||
            tm_store_source_state(d->store, ds->src->id, &st, &err) < 0 ||
            tm_store_get_url_override(d->store, ds->src->id, ds->src->url, &ds->url_override,
                                      &err) < 0) {
            tm_log(TM_LOG_ERR, "source %s: %s", ds->src->id, err.msg);
            tm_source_state_clear(&st);
            free_srcs(v, i + 1);
            return TM_ESTORE;
        }
        ds->failures = st.consecutive_failures;
        tm_source_state_clear(&st);
        if (sched.gone && !gone_here && prev == NULL)
            tm_log(TM_LOG_NOTICE, "source %s: the 410 Gone was for another URL: polling %s again",
                   ds->src->id, ds->src->url);
        if (prev || (sched.gone && !gone_here)) {
            /* The source list gave it a new URL (while running, or since
             * the 410 before a restart): a fresh start there (an old
             * redirect no longer applies, a 410 was the old URL's). */
            ds->due_utc = tm_schedule_initial(&d->policy, TM_TIME_NONE, now, &d->rnd);
            ds->running = prev != NULL && prev->running; /* its old URL's transfer runs on */
            ds->failures = 0;
            ds->gone = false;
            ds->retry_after_utc = TM_TIME_NONE;
            store_schedule(d, ds);
            if (tm_store_set_gone_url(d->store, ds->src->id, NULL, &err) < 0)
                tm_log(TM_LOG_ERR, "source %s: %s", ds->src->id, err.msg);
            continue;
        }
        ds->gone = sched.gone;
        ds->retry_after_utc = sched.retry_after_utc;
        if (sched.retry_after_utc != TM_TIME_NONE && sched.retry_after_utc > now)
            hold_host(d, dsrc_url(ds), sched.retry_after_utc, now);
        ds->due_utc = tm_schedule_initial(&d->policy, sched.next_due_utc, now, &d->rnd);
        if (ds->gone)
            tm_log(TM_LOG_NOTICE, "source %s: gone (410) and not polled", ds->src->id);
    }
    *out = v;
    return 0;
}

/* ---- HTTP server ------------------------------------------------------ */

static void on_server_closed(void *ud)
{
    (void)ud;
}

static int start_server(struct daemon *d)
{
    if (d->cfg->listen == NULL || d->cfg->listen[0] == '\0')
        return 0;
    struct tm_serve_opts so = {
        .listen = d->cfg->listen,
        .max_age_s = d->cfg->interval_s > INT32_MAX ? INT32_MAX : (int)d->cfg->interval_s,
        /* The loop publishes at least once per status period, even idle:
         * three missed periods mean it is stuck (schedule.h). */
        .stale_after_s = TM_SCHEDULE_STALE_AFTER_S,
        .metrics = d->metrics,
        .title = d->cfg->title,
        .utc_offset_s = d->cfg->utc_offset_s,
    };
    struct tm_error err = {0};
    int rc = tm_server_start(&d->loop, &so, &d->server, &err);
    if (rc < 0) {
        tm_log(TM_LOG_ERR, "http listen %s: %s", d->cfg->listen, err.msg);
        return rc;
    }
    tm_log(TM_LOG_INFO, "serving http on %s (port %d)", d->cfg->listen, tm_server_port(d->server));
    return 0;
}

/* ---- reload ----------------------------------------------------------- */

static void log_problems(const char *path, int rc, const struct tm_config_problems *p)
{
    if (p->n == 0)
        tm_log(TM_LOG_ERR, "%s: %s", path, tm_strerror(rc));
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].line > 0)
            tm_log(TM_LOG_ERR, "%s:%d: %s", p->v[i].file, p->v[i].line, p->v[i].message);
        else
            tm_log(TM_LOG_ERR, "%s: %s", p->v[i].file, p->v[i].message);
    }
}

static void reload(struct daemon *d)
{
    tm_log(TM_LOG_NOTICE, "reloading %s", d->config_path);
    struct tm_error err = {0};
    if (tm_notify_reloading(&err) < 0)
        tm_log(TM_LOG_WARNING, "%s", err.msg);
    struct tm_config *cfg = NULL;
    struct tm_config_problems problems = {0};
    int rc = tm_config_load(d->config_path, &cfg, &problems);
    if (rc < 0) {
        log_problems(d->config_path, rc, &problems);
        tm_config_problems_clear(&problems);
        tm_log(TM_LOG_ERR, "reload failed: keeping the running configuration");
        notify_status(d, "READY=1\n");
        return;
    }
    tm_config_problems_clear(&problems);
    if (!tm_str_same(cfg->state_dir, d->cfg->state_dir))
        tm_log(TM_LOG_WARNING, "state_dir changed to %s: takes effect at restart; keeping %s",
               cfg->state_dir, d->cfg->state_dir);
    bool limits_changed =
        cfg->concurrency != d->cfg->concurrency || cfg->per_host != d->cfg->per_host ||
        cfg->timeout_s != d->cfg->timeout_s || cfg->max_body_bytes != d->cfg->max_body_bytes;
    if (tm_store_sync_sources(d->store, cfg->sources, cfg->n_sources, &err) < 0) {
        tm_log(TM_LOG_ERR, "reload failed: %s; keeping the running configuration", err.msg);
        tm_config_free(cfg);
        notify_status(d, "READY=1\n");
        return;
    }
    struct dsrc *v = NULL;
    if (build_srcs(d, cfg, d->srcs, d->n_srcs, &v) < 0) {
        tm_log(TM_LOG_ERR, "reload failed: keeping the running configuration");
        tm_config_free(cfg);
        notify_status(d, "READY=1\n");
        return;
    }
    size_t added = 0, removed = 0;
    for (size_t i = 0; i < cfg->n_sources; i++)
        if (find_src(d, cfg->sources[i].id) == NULL) {
            added++;
            tm_log(TM_LOG_INFO, "source %s: added", cfg->sources[i].id);
        }
    for (size_t i = 0; i < d->n_srcs; i++) {
        bool kept = false;
        for (size_t k = 0; k < cfg->n_sources && !kept; k++)
            kept = strcmp(cfg->sources[k].id, d->srcs[i].src->id) == 0;
        if (!kept) {
            removed++;
            tm_log(TM_LOG_INFO, "source %s: removed (its items and state stay in the store)",
                   d->srcs[i].src->id);
            tm_metrics_source_forget(d->metrics, d->srcs[i].src->id);
        }
    }
    bool listen_changed = !tm_str_same(cfg->listen, d->cfg->listen);
    free_srcs(d->srcs, d->n_srcs);
    d->srcs = v;
    d->n_srcs = cfg->n_sources;
    /* The running config keeps its state_dir (the store and lock are there). */
    char *keep_state = d->cfg->state_dir;
    d->cfg->state_dir = cfg->state_dir;
    cfg->state_dir = keep_state;
    tm_config_free(d->cfg);
    d->cfg = cfg;
    if (listen_changed) {
        tm_server_close(d->server, on_server_closed, NULL);
        d->server = NULL;
        if (start_server(d) < 0)
            tm_log(TM_LOG_ERR, "http server off until the next reload");
    }
    tm_log(TM_LOG_NOTICE, "reloaded: %zu sources (%zu added, %zu removed)", d->n_srcs, added,
           removed);
    if (limits_changed) {
        d->limits_pending = true;
        if (!apply_limits(d))
            tm_log(TM_LOG_INFO,
                   "[fetch] limits changed: applied when the %zu transfers in "
                   "flight end",
                   tm_harvester_active(d->harvester));
    }
    /* Publish at once (categories may have changed; a new server needs
     * files), then say READY with the fresh status. */
    publish_and_rearm(d);
    notify_status(d, "READY=1\n");
    arm_schedule(d);
}

/* ---- stopping --------------------------------------------------------- */

static void on_uv_close(uv_handle_t *h)
{
    struct daemon *d = h->data;
    d->open_handles--;
}

static void close_handle(struct daemon *d, uv_handle_t *h)
{
    if (uv_is_closing(h))
        return;
    d->open_handles++;
    uv_close(h, on_uv_close);
}

static void stop(struct daemon *d)
{
    if (d->stopping)
        return;
    d->stopping = true;
    notify("STOPPING=1");
    tm_log(TM_LOG_NOTICE,
           "stopping: %zu harvests under way (transfers cancelled, fetched results kept)",
           tm_harvester_active(d->harvester));
    /* No new transfers (stopping gates the timers), in-flight ones cut. */
    tm_fetcher_cancel_all(d->fetcher);
    tm_harvester_free(d->harvester);
    d->harvester = NULL;
    tm_fetcher_close(d->fetcher, on_fetcher_closed, NULL);
    d->fetcher = NULL;
    tm_server_close(d->server, on_server_closed, NULL);
    d->server = NULL;
    if (!d->handles_ok)
        return;
    close_handle(d, (uv_handle_t *)&d->sched_timer);
    close_handle(d, (uv_handle_t *)&d->publish_timer);
    close_handle(d, (uv_handle_t *)&d->watchdog_timer);
    close_handle(d, (uv_handle_t *)&d->sig_hup);
    close_handle(d, (uv_handle_t *)&d->sig_term);
    close_handle(d, (uv_handle_t *)&d->sig_int);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    if (d->stopping)
        return;
    if (signum == SIGHUP)
        reload(d);
    else
        stop(d);
}

static void on_watchdog_timer(uv_timer_t *t)
{
    (void)t;
    notify("WATCHDOG=1");
}

/* ---- start ------------------------------------------------------------ */

/* One writer per state_dir (state_lock.h). */
static int take_lock(struct daemon *d)
{
    struct tm_error err = {0};
    int rc = tm_state_lock(d->cfg->state_dir, &d->lock_fd, &err);
    if (rc < 0)
        tm_log(TM_LOG_ERR, "%s", err.msg);
    return rc;
}

static int init_handles(struct daemon *d)
{
    int rc;
    uv_timer_t *timers[] = {&d->sched_timer, &d->publish_timer, &d->watchdog_timer};
    for (size_t i = 0; i < 3; i++) {
        if ((rc = uv_timer_init(&d->loop, timers[i])) < 0)
            goto fail;
        timers[i]->data = d;
    }
    struct {
        uv_signal_t *h;
        int signum;
    } sigs[] = {{&d->sig_hup, SIGHUP}, {&d->sig_term, SIGTERM}, {&d->sig_int, SIGINT}};
    for (size_t i = 0; i < 3; i++) {
        if ((rc = uv_signal_init(&d->loop, sigs[i].h)) < 0)
            goto fail;
        sigs[i].h->data = d;
        if ((rc = uv_signal_start(sigs[i].h, on_signal, sigs[i].signum)) < 0)
            goto fail;
    }
    d->handles_ok = true;
    return 0;
fail:
    tm_log(TM_LOG_ERR, "libuv: %s", uv_strerror(rc));
    return TM_EIO;
}

static void start_watchdog(struct daemon *d)
{
    uint64_t usec = 0;
    if (!tm_notify_watchdog_usec(&usec))
        return;
    uint64_t every_ms = usec / 2000;
    if (every_ms == 0)
        every_ms = 1;
    int rc = uv_timer_start(&d->watchdog_timer, on_watchdog_timer, every_ms, every_ms);
    if (rc < 0) {
        tm_log(TM_LOG_ERR, "watchdog timer: %s", uv_strerror(rc));
        return;
    }
    tm_log(TM_LOG_INFO, "watchdog: pinging every %llu ms", (unsigned long long)every_ms);
}

int tm_daemon_run(const struct tm_daemon_opts *opts)
{
    struct daemon *d = calloc(1, sizeof *d);
    if (d == NULL)
        return TM_ENOMEM;
    d->lock_fd = -1;
    d->config_path = opts->config_path;
    tm_schedule_policy_default(&d->policy);
    if (opts->min_interval_s > 0)
        d->policy.min_interval_s = opts->min_interval_s;
    d->status_publish_s = opts->status_publish_s;
    d->rnd_state = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;
    d->rnd.next = on_schedule_random;
    d->rnd.ud = &d->rnd_state;

    struct tm_config_problems problems = {0};
    int rc = tm_config_load(opts->config_path, &d->cfg, &problems);
    if (rc < 0) {
        log_problems(opts->config_path, rc, &problems);
        tm_config_problems_clear(&problems);
        free(d);
        return TM_ECONFIG;
    }
    tm_config_problems_clear(&problems);
    int result = 0;
    bool loop_ok = false, curl_ok = false;
    struct tm_error err = {0};
    if ((result = take_lock(d)) < 0)
        goto out;
    if ((result = tm_store_open(d->cfg->state_dir, &d->store, &err)) < 0 ||
        (result = tm_store_sync_sources(d->store, d->cfg->sources, d->cfg->n_sources, &err)) < 0) {
        tm_log(TM_LOG_ERR, "%s", err.msg);
        goto out;
    }
    d->metrics = tm_metrics_new();
    d->hosts = tm_schedule_hosts_new();
    if (d->metrics == NULL || d->hosts == NULL) {
        result = TM_ENOMEM;
        goto out;
    }
    if ((rc = uv_loop_init(&d->loop)) < 0) {
        tm_log(TM_LOG_ERR, "uv_loop_init: %s", uv_strerror(rc));
        result = TM_EIO;
        goto out;
    }
    loop_ok = true;
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK) {
        tm_log(TM_LOG_ERR, "curl_global_init: %s", curl_easy_strerror(cc));
        result = TM_EFETCH;
        goto out;
    }
    curl_ok = true;
    if ((result = init_handles(d)) < 0)
        goto close_loop;
    /* Publish what the store holds at once: readers get files (and the
     * server its content) before the first fetch ends. The server starts
     * first so that one publish feeds both. */
    if ((result = start_server(d)) < 0 || (result = publish(d)) < 0)
        goto close_loop;
    arm_publish_timer(d); /* the status period starts now */
    if ((result = new_fetcher(d, &d->fetcher, &d->harvester, &err)) < 0) {
        tm_log(TM_LOG_ERR, "fetcher: %s", err.msg);
        goto close_loop;
    }
    if ((result = build_srcs(d, d->cfg, NULL, 0, &d->srcs)) < 0)
        goto close_loop;
    d->n_srcs = d->cfg->n_sources;
    tm_log(TM_LOG_NOTICE, "tinmoi %s running: %zu sources, state in %s, output in %s",
           TINMOI_VERSION, d->n_srcs, d->cfg->state_dir, d->cfg->out_dir);
    notify_status(d, "READY=1\n");
    start_watchdog(d);
    arm_schedule(d);
    rc = uv_run(&d->loop, UV_RUN_DEFAULT);
    if (rc < 0)
        tm_log(TM_LOG_ERR, "uv_run: %s", uv_strerror(rc));
    result = 0;
close_loop:
    if (!d->stopping) /* a start-up failure: close whatever was opened */
        stop(d);
    uv_run(&d->loop, UV_RUN_DEFAULT);
out:
    if (loop_ok && (rc = uv_loop_close(&d->loop)) < 0)
        tm_log(TM_LOG_ERR, "uv_loop_close: %s", uv_strerror(rc));
    if (curl_ok)
        curl_global_cleanup();
    tm_store_close(d->store);
    tm_metrics_free(d->metrics);
    tm_schedule_hosts_free(d->hosts);
    free_srcs(d->srcs, d->n_srcs);
    tm_config_free(d->cfg);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    if (result == 0)
        tm_log(TM_LOG_NOTICE, "stopped");
    free(d);
    return result;
}
