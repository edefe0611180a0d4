/* tinmoi — operational counters rendered in the Prometheus text format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). */
#include "tinmoi/metrics.h"
#include "tinmoi/hash.h"

#include <stdlib.h>
#include <string.h>

#include "tinmoi/error.h"

static const double bucket_bounds_s[TM_METRICS_N_BUCKETS] = {TM_METRICS_BUCKETS_S};

struct outcome_count {
    char name[TM_METRICS_MAX_OUTCOME_BYTES + 1];
    uint64_t n;
};

struct source_metrics {
    char *id;
    int up; /* -1 unknown, 0, 1 */
    struct outcome_count outcomes[TM_METRICS_MAX_OUTCOMES];
    size_t n_outcomes;
};

struct tm_metrics {
    struct source_metrics *sources; /* in the order first seen */
    size_t n_sources, cap_sources;
    size_t *slots; /* open addressing: index+1 into sources, 0 empty */
    size_t n_slots;
    uint64_t buckets[TM_METRICS_N_BUCKETS]; /* non-cumulative counts */
    uint64_t duration_count;
    double duration_sum_s;
    uint64_t publish_total;
    int64_t last_publish_utc;
    size_t n_items, n_stories;
};

struct tm_metrics *tm_metrics_new(void)
{
    return calloc(1, sizeof(struct tm_metrics));
}

void tm_metrics_free(struct tm_metrics *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->n_sources; i++) {
        free(m->sources[i].id);
    }
    free(m->sources);
    free(m->slots);
    free(m);
}

static int rehash(struct tm_metrics *m, size_t n_slots)
{
    size_t *slots = calloc(n_slots, sizeof(*slots));
    if (slots == NULL) {
        return TM_ENOMEM;
    }
    for (size_t i = 0; i < m->n_sources; i++) {
        size_t j = (size_t)(tm_hash_str(m->sources[i].id) & (n_slots - 1));
        while (slots[j] != 0) {
            j = (j + 1) & (n_slots - 1);
        }
        slots[j] = i + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n_slots;
    return 0;
}

/* Index of `id` in m->sources, or -1. */
static long find_source(const struct tm_metrics *m, const char *id)
{
    if (m->n_slots == 0) {
        return -1;
    }
    size_t j = (size_t)(tm_hash_str(id) & (m->n_slots - 1));
    while (m->slots[j] != 0) {
        const struct source_metrics *sm = &m->sources[m->slots[j] - 1];
        if (strcmp(sm->id, id) == 0) {
            return (long)(m->slots[j] - 1);
        }
        j = (j + 1) & (m->n_slots - 1);
    }
    return -1;
}

static struct source_metrics *get_source(struct tm_metrics *m, const char *id)
{
    long i = find_source(m, id);
    if (i >= 0) {
        return &m->sources[i];
    }
    if (m->n_sources == m->cap_sources) {
        size_t cap = m->cap_sources != 0 ? m->cap_sources * 2 : 16;
        struct source_metrics *p = realloc(m->sources, cap * sizeof(*p));
        if (p == NULL) {
            return NULL;
        }
        m->sources = p;
        m->cap_sources = cap;
    }
    char *copy = strdup(id);
    if (copy == NULL) {
        return NULL;
    }
    struct source_metrics *sm = &m->sources[m->n_sources];
    memset(sm, 0, sizeof(*sm));
    sm->id = copy;
    sm->up = -1;
    m->n_sources++;
    /* Keep the table at most half full. */
    if (m->n_sources * 2 > m->n_slots) {
        if (rehash(m, m->n_slots != 0 ? m->n_slots * 2 : 64) != 0) {
            m->n_sources--;
            free(copy);
            return NULL;
        }
    } else {
        size_t j = (size_t)(tm_hash_str(id) & (m->n_slots - 1));
        while (m->slots[j] != 0) {
            j = (j + 1) & (m->n_slots - 1);
        }
        m->slots[j] = m->n_sources;
    }
    return sm;
}

int tm_metrics_fetch_done(struct tm_metrics *m, const char *source_id, const char *outcome,
                          double duration_s)
{
    if (m == NULL || source_id == NULL || source_id[0] == '\0' || outcome == NULL ||
        outcome[0] == '\0') {
        return TM_EINVAL;
    }
    struct source_metrics *sm = get_source(m, source_id);
    if (sm == NULL) {
        return TM_ENOMEM;
    }
    char name[TM_METRICS_MAX_OUTCOME_BYTES + 1];
    size_t len = strlen(outcome);
    if (len > TM_METRICS_MAX_OUTCOME_BYTES) {
        len = TM_METRICS_MAX_OUTCOME_BYTES;
    }
    memcpy(name, outcome, len);
    name[len] = '\0';
    struct outcome_count *oc = NULL;
    for (size_t i = 0; i < sm->n_outcomes; i++) {
        if (strcmp(sm->outcomes[i].name, name) == 0) {
            oc = &sm->outcomes[i];
            break;
        }
    }
    if (oc == NULL) {
        if (sm->n_outcomes == TM_METRICS_MAX_OUTCOMES) {
            /* The last slot becomes "other" for every further outcome. */
            oc = &sm->outcomes[TM_METRICS_MAX_OUTCOMES - 1];
            memcpy(oc->name, "other", sizeof("other"));
        } else {
            oc = &sm->outcomes[sm->n_outcomes++];
            memcpy(oc->name, name, len + 1);
            oc->n = 0;
        }
    }
    oc->n++;
    if (!(duration_s > 0)) {
        duration_s = 0;
    }
    for (size_t i = 0; i < TM_METRICS_N_BUCKETS; i++) {
        if (duration_s <= bucket_bounds_s[i]) {
            m->buckets[i]++;
            break;
        }
    }
    m->duration_count++;
    m->duration_sum_s += duration_s;
    return 0;
}

int tm_metrics_source_up(struct tm_metrics *m, const char *source_id, bool up)
{
    if (m == NULL || source_id == NULL || source_id[0] == '\0') {
        return TM_EINVAL;
    }
    struct source_metrics *sm = get_source(m, source_id);
    if (sm == NULL) {
        return TM_ENOMEM;
    }
    sm->up = up ? 1 : 0;
    return 0;
}

void tm_metrics_source_forget(struct tm_metrics *m, const char *source_id)
{
    if (m == NULL || source_id == NULL) {
        return;
    }
    long i = find_source(m, source_id);
    if (i < 0) {
        return;
    }
    free(m->sources[i].id);
    memmove(&m->sources[i], &m->sources[i + 1],
            (m->n_sources - (size_t)i - 1) * sizeof(m->sources[0]));
    m->n_sources--;
    /* Rebuild the slots in place (indexes shifted): no allocation, so
     * forgetting cannot fail. */
    memset(m->slots, 0, m->n_slots * sizeof(*m->slots));
    for (size_t k = 0; k < m->n_sources; k++) {
        size_t j = (size_t)(tm_hash_str(m->sources[k].id) & (m->n_slots - 1));
        while (m->slots[j] != 0) {
            j = (j + 1) & (m->n_slots - 1);
        }
        m->slots[j] = k + 1;
    }
}

void tm_metrics_published(struct tm_metrics *m, int64_t now_utc, size_t n_items, size_t n_stories)
{
    if (m == NULL) {
        return;
    }
    m->publish_total++;
    m->last_publish_utc = now_utc;
    m->n_items = n_items;
    m->n_stories = n_stories;
}

int64_t tm_metrics_last_publish_utc(const struct tm_metrics *m)
{
    return m != NULL ? m->last_publish_utc : 0;
}

/* Label value escaping of the text format: backslash, double quote and
 * line feed. */
static int add_label_value(struct tm_buf *out, const char *s)
{
    int rc = 0;
    for (; *s != '\0' && rc == 0; s++) {
        switch (*s) {
        case '\\':
            rc = tm_buf_add(out, "\\\\", 2);
            break;
        case '"':
            rc = tm_buf_add(out, "\\\"", 2);
            break;
        case '\n':
            rc = tm_buf_add(out, "\\n", 2);
            break;
        default:
            rc = tm_buf_addc(out, *s);
        }
    }
    return rc;
}

static int family(struct tm_buf *out, const char *name, const char *type, const char *help)
{
    return tm_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) {                                                                            \
            return rc_;                                                                            \
        }                                                                                          \
    } while (0)

int tm_metrics_render(const struct tm_metrics *m, struct tm_buf *out)
{
    static const struct tm_metrics empty;
    if (m == NULL) {
        m = &empty;
    }
    CHECK(family(out, "tinmoi_build_info", "gauge", "Version of the running tinmoi."));
    CHECK(tm_buf_adds(out, "tinmoi_build_info{version=\""));
    CHECK(add_label_value(out, TINMOI_VERSION));
    CHECK(tm_buf_adds(out, "\"} 1\n"));

    CHECK(family(out, "tinmoi_fetch_total", "counter", "Fetches finished, by source and outcome."));
    for (size_t i = 0; i < m->n_sources; i++) {
        const struct source_metrics *sm = &m->sources[i];
        for (size_t k = 0; k < sm->n_outcomes; k++) {
            CHECK(tm_buf_adds(out, "tinmoi_fetch_total{source=\""));
            CHECK(add_label_value(out, sm->id));
            CHECK(tm_buf_adds(out, "\",outcome=\""));
            CHECK(add_label_value(out, sm->outcomes[k].name));
            CHECK(tm_buf_printf(out, "\"} %llu\n", (unsigned long long)sm->outcomes[k].n));
        }
    }

    CHECK(family(out, "tinmoi_fetch_duration_seconds", "histogram",
                 "Time from the start of a fetch to its end, all sources."));
    uint64_t cumulative = 0;
    for (size_t i = 0; i < TM_METRICS_N_BUCKETS; i++) {
        cumulative += m->buckets[i];
        CHECK(tm_buf_printf(out, "tinmoi_fetch_duration_seconds_bucket{le=\"%g\"} %llu\n",
                            bucket_bounds_s[i], (unsigned long long)cumulative));
    }
    CHECK(tm_buf_printf(out, "tinmoi_fetch_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                        (unsigned long long)m->duration_count));
    CHECK(tm_buf_printf(out, "tinmoi_fetch_duration_seconds_sum %.17g\n", m->duration_sum_s));
    CHECK(tm_buf_printf(out, "tinmoi_fetch_duration_seconds_count %llu\n",
                        (unsigned long long)m->duration_count));

    CHECK(family(out, "tinmoi_source_up", "gauge",
                 "1 when the source's last fetch succeeded, 0 when it failed."));
    for (size_t i = 0; i < m->n_sources; i++) {
        const struct source_metrics *sm = &m->sources[i];
        if (sm->up < 0) {
            continue;
        }
        CHECK(tm_buf_adds(out, "tinmoi_source_up{source=\""));
        CHECK(add_label_value(out, sm->id));
        CHECK(tm_buf_printf(out, "\"} %d\n", sm->up));
    }

    CHECK(family(out, "tinmoi_items", "gauge", "Items in the last publish."));
    CHECK(tm_buf_printf(out, "tinmoi_items %zu\n", m->n_items));
    CHECK(family(out, "tinmoi_stories", "gauge", "Merged stories in the last publish."));
    CHECK(tm_buf_printf(out, "tinmoi_stories %zu\n", m->n_stories));
    CHECK(family(out, "tinmoi_publish_total", "counter", "Publishes done since start."));
    CHECK(tm_buf_printf(out, "tinmoi_publish_total %llu\n", (unsigned long long)m->publish_total));
    CHECK(family(out, "tinmoi_last_publish_timestamp_seconds", "gauge",
                 "Unix time of the last publish, 0 before the first."));
    CHECK(tm_buf_printf(out, "tinmoi_last_publish_timestamp_seconds %lld\n",
                        (long long)m->last_publish_utc));
    return 0;
}

int tm_metrics_render_http(const struct tm_http_stats *st, struct tm_buf *out)
{
    CHECK(family(out, "tinmoi_http_requests_total", "counter",
                 "HTTP requests answered, by status code."));
    if (st == NULL) {
        return 0;
    }
    for (int code = TM_METRICS_HTTP_MIN_CODE; code <= TM_METRICS_HTTP_MAX_CODE; code++) {
        uint64_t n = st->by_code[code - TM_METRICS_HTTP_MIN_CODE];
        if (n != 0) {
            CHECK(tm_buf_printf(out, "tinmoi_http_requests_total{code=\"%d\"} %llu\n", code,
                                (unsigned long long)n));
        }
    }
    return 0;
}

void tm_metrics_http_count(struct tm_http_stats *st, int code)
{
    if (st != NULL && code >= TM_METRICS_HTTP_MIN_CODE && code <= TM_METRICS_HTTP_MAX_CODE) {
        st->by_code[code - TM_METRICS_HTTP_MIN_CODE]++;
    }
}
