/* tinmoi — when to fetch each source next. Pure: see schedule.h. */
#include "tinmoi/schedule.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "tinmoi/error.h"
#include "tinmoi/feed.h"

void tm_schedule_policy_default(struct tm_schedule_policy *p)
{
    p->min_interval_s = TM_SCHEDULE_MIN_INTERVAL_S;
    p->max_interval_s = TM_SCHEDULE_MAX_INTERVAL_S;
    p->max_backoff_s = TM_SCHEDULE_MAX_BACKOFF_S;
    p->start_spread_s = TM_SCHEDULE_START_SPREAD_S;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo)
        return lo;
    if (v > hi)
        return hi;
    return v;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* A value drawn uniformly in [0, bound] by scaling (not modulo, so the
 * top of the range is reachable and a fixed sequence maps predictably).
 * Bounds here are at most a day or so, far below 2^31. */
static int64_t draw(const struct tm_schedule_random *rnd, int64_t bound)
{
    if (bound <= 0 || rnd == NULL || rnd->next == NULL)
        return 0;
    if (bound > INT32_MAX)
        bound = INT32_MAX;
    uint64_t r = rnd->next(rnd->ud);
    return (int64_t)((r * ((uint64_t)bound + 1)) >> 32);
}

static int64_t policy_min(const struct tm_schedule_policy *p)
{
    return p->min_interval_s >= 1 ? p->min_interval_s : 1;
}

static int64_t policy_max(const struct tm_schedule_policy *p)
{
    return max64(p->max_interval_s, policy_min(p));
}

int64_t tm_schedule_interval(const struct tm_schedule_policy *p, int64_t interval_s,
                             const struct tm_schedule_hints *hints, int64_t now_utc)
{
    int64_t v = interval_s;
    if (hints != NULL) {
        v = max64(v, hints->ttl_s);
        v = max64(v, hints->update_period_s);
        v = max64(v, hints->max_age_s);
        if (hints->expires_utc != TM_TIME_NONE && hints->expires_utc > now_utc)
            v = max64(v, hints->expires_utc - now_utc);
    }
    return clamp(v, policy_min(p), policy_max(p));
}

int64_t tm_schedule_next_ok(const struct tm_schedule_policy *p, int64_t interval_s,
                            const struct tm_schedule_hints *hints, int64_t now_utc,
                            const struct tm_schedule_random *rnd)
{
    int64_t iv = tm_schedule_interval(p, interval_s, hints, now_utc);
    return now_utc + iv + draw(rnd, iv / TM_SCHEDULE_JITTER_DIV);
}

int64_t tm_schedule_backoff_s(const struct tm_schedule_policy *p, int64_t interval_s, int failures,
                              const struct tm_schedule_random *rnd)
{
    int64_t base = tm_schedule_interval(p, interval_s, NULL, 0);
    int64_t cap = max64(p->max_backoff_s, base);
    int64_t delay = base;
    for (int i = 1; i < failures && delay < cap; i++)
        delay *= 2;
    if (delay > cap)
        delay = cap;
    int64_t jittered = delay / 2 + draw(rnd, delay - delay / 2);
    return max64(jittered, base);
}

static int64_t bound_retry_after(int64_t retry_after_utc, int64_t now_utc)
{
    if (retry_after_utc == TM_TIME_NONE || retry_after_utc <= now_utc)
        return TM_TIME_NONE;
    if (retry_after_utc - now_utc > TM_SCHEDULE_MAX_RETRY_AFTER_S)
        return now_utc + TM_SCHEDULE_MAX_RETRY_AFTER_S;
    return retry_after_utc;
}

int64_t tm_schedule_next_failure(const struct tm_schedule_policy *p, int64_t interval_s,
                                 int failures, int64_t retry_after_utc, int64_t now_utc,
                                 const struct tm_schedule_random *rnd)
{
    int64_t due = now_utc + tm_schedule_backoff_s(p, interval_s, failures < 1 ? 1 : failures, rnd);
    int64_t ra = bound_retry_after(retry_after_utc, now_utc);
    return ra != TM_TIME_NONE && ra > due ? ra : due;
}

int64_t tm_schedule_initial(const struct tm_schedule_policy *p, int64_t stored_next_due_utc,
                            int64_t now_utc, const struct tm_schedule_random *rnd)
{
    if (stored_next_due_utc == TM_TIME_NONE || stored_next_due_utc <= now_utc)
        return now_utc + draw(rnd, p->start_spread_s > 0 ? p->start_spread_s : 0);
    int64_t latest = now_utc + max64(policy_max(p), p->max_backoff_s);
    return stored_next_due_utc < latest ? stored_next_due_utc : latest;
}

int64_t tm_schedule_publish_wait_ms(int64_t last_publish_ms, int64_t now_ms, bool items_changed,
                                    int64_t status_period_s, int64_t last_cost_ms)
{
    if (status_period_s <= 0 || status_period_s > TM_SCHEDULE_STATUS_PUBLISH_S)
        status_period_s = TM_SCHEDULE_STATUS_PUBLISH_S;
    int64_t period_ms = status_period_s * 1000;
    if (last_cost_ms > 0 && last_cost_ms < INT64_MAX / TM_SCHEDULE_STATUS_COST_FACTOR &&
        last_cost_ms * TM_SCHEDULE_STATUS_COST_FACTOR > period_ms)
        period_ms = last_cost_ms * TM_SCHEDULE_STATUS_COST_FACTOR;
    if (period_ms > (int64_t)TM_SCHEDULE_STATUS_MAX_PERIOD_S * 1000)
        period_ms = (int64_t)TM_SCHEDULE_STATUS_MAX_PERIOD_S * 1000;
    int64_t after = items_changed ? TM_SCHEDULE_PUBLISH_COALESCE_MS : period_ms;
    if (last_publish_ms <= 0)
        return 0;
    int64_t wait = last_publish_ms + after - now_ms;
    if (wait < 0)
        return 0;
    /* A clock that jumped back must not postpone a publish past a period. */
    return wait < after ? wait : after;
}

int tm_schedule_url_host(const char *url, char *host, size_t size)
{
    CURLU *u = curl_url();
    if (u == NULL)
        return TM_ENOMEM;
    char *h = NULL;
    int rc = TM_EINVAL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && h != NULL && h[0] != '\0') {
        size_t len = strlen(h);
        if (len >= size) {
            rc = TM_ELIMIT;
        } else {
            for (size_t i = 0; i < len; i++)
                host[i] = (char)tolower((unsigned char)h[i]);
            host[len] = '\0';
            rc = 0;
        }
    }
    curl_free(h);
    curl_url_cleanup(u);
    return rc;
}

struct hold {
    char *host;
    int64_t not_before_utc;
};

/* A small array: hosts that sent a Retry-After right now are few, and
 * expired entries are dropped on every insert. */
struct tm_schedule_hosts {
    struct hold *v;
    size_t n, cap;
};

struct tm_schedule_hosts *tm_schedule_hosts_new(void)
{
    return calloc(1, sizeof(struct tm_schedule_hosts));
}

void tm_schedule_hosts_free(struct tm_schedule_hosts *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].host);
    free(t->v);
    free(t);
}

static void drop_expired(struct tm_schedule_hosts *t, int64_t now_utc)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].not_before_utc <= now_utc)
            free(t->v[i].host);
        else
            t->v[k++] = t->v[i];
    }
    t->n = k;
}

int tm_schedule_hosts_hold(struct tm_schedule_hosts *t, const char *host, int64_t not_before_utc,
                           int64_t now_utc)
{
    if (host == NULL || host[0] == '\0')
        return TM_EINVAL;
    if (strlen(host) >= TM_SCHEDULE_MAX_HOST_BYTES)
        return TM_ELIMIT;
    drop_expired(t, now_utc);
    int64_t nb = bound_retry_after(not_before_utc, now_utc);
    if (nb == TM_TIME_NONE)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].host, host) == 0) {
            if (nb > t->v[i].not_before_utc)
                t->v[i].not_before_utc = nb;
            return 0;
        }
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct hold *v = realloc(t->v, cap * sizeof *v);
        if (v == NULL)
            return TM_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    char *copy = strdup(host);
    if (copy == NULL)
        return TM_ENOMEM;
    t->v[t->n++] = (struct hold){.host = copy, .not_before_utc = nb};
    return 0;
}

int64_t tm_schedule_hosts_not_before(const struct tm_schedule_hosts *t, const char *host,
                                     int64_t now_utc)
{
    if (t == NULL || host == NULL)
        return TM_TIME_NONE;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].host, host) == 0)
            return t->v[i].not_before_utc > now_utc ? t->v[i].not_before_utc : TM_TIME_NONE;
    return TM_TIME_NONE;
}

size_t tm_schedule_hosts_count(const struct tm_schedule_hosts *t, int64_t now_utc)
{
    size_t n = 0;
    for (size_t i = 0; t != NULL && i < t->n; i++)
        if (t->v[i].not_before_utc > now_utc)
            n++;
    return n;
}
