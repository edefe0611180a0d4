/* tinmoi — the fetching half: fetch → parse → store for one source. */
#include "tinmoi/harvest.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "tinmoi/feed.h"
#include "tinmoi/log.h"
#include "tinmoi/parse.h"
#include "tinmoi/worker.h"

#include "str_int.h"

/* What a finished transfer leaves for the store. */
enum record_kind {
    RECORD_FEED,         /* the parsed feed: its items and validators */
    RECORD_NOT_MODIFIED, /* a 304 */
    RECORD_FAILURE,      /* `why` */
    RECORD_GONE,         /* a 410: the failure, and polling stops */
};

struct job {
    struct tm_harvester *h; /* NULL once the harvester is gone: drop the result */
    struct job *prev, *next;
    struct tm_source src; /* owned copy; src.url is where it is fetched */
    char *list_url;       /* the URL the source list names (src.url unless moved) */
    /* Made on the loop. An offloaded job's parser is then the parser
     * thread's alone (the pieces and the finish, in order on its queue)
     * until its finish is done. */
    struct tm_parser *parser;
    _Atomic int parse_rc; /* first negative parse result; set by either thread */
    bool offloaded;       /* parsed on the harvester's parser thread, else on the loop */
    bool handed;          /* offloaded, and the parser thread has (had) it: counted in
                           * h->n_offloaded until its finish is done */
    bool fetching;        /* counted in h->n_fetching */
    bool cancelled;       /* the transfer was cancelled: dropped once finished */
    /* The transfer's end, into a record (finish_run: on the parser thread
     * for an offloaded job, else on the loop), then the record to the
     * writer thread (record_run) and back (record_done). Each side touches
     * the job only while it is its own (a worker's queue hands it over). */
    struct tm_worker_job finish;
    struct tm_worker_job record;
    enum record_kind kind;
    struct tm_feed *feed;         /* RECORD_FEED: owned */
    struct tm_fetch_result fetch; /* owned copy; o.fetch points here */
    bool settle;                  /* no transfer was running: commit after this one */
    struct tm_harvest_outcome o;
    char why[sizeof((struct tm_error *)0)->msg + 64]; /* o.error's text */
};

/* A piece of an offloaded job's body on its way to the parser thread: the
 * loop's copy of what the fetcher handed it, freed once parsed. */
struct chunk {
    struct tm_worker_job wj;
    struct job *j;
    size_t len;
    char data[];
};

struct tm_harvester {
    struct tm_fetcher *fetcher;
    struct tm_store *store;
    struct tm_worker *parser; /* the offloaded jobs' parse, beside the loop's own */
    struct tm_worker *writer; /* the store's writes, off the loop */
    tm_harvest_done_cb on_done;
    void *ud;
    struct job *jobs; /* active jobs (fetching or recording), doubly linked */
    size_t n_active;
    size_t n_fetching;  /* of them, transfers not yet done */
    size_t n_finishing; /* ... and offloaded transfers done, their parse not yet */
    size_t n_started;   /* jobs started: every TM_HARVEST_OFFLOAD_EVERY-th is offloaded */
    size_t n_offloaded; /* offloaded jobs handed to the parser thread, finish not done */
    /* Recorded feeds the writer left for the loop to free (record_done);
     * written by the writer and the loop. */
    _Atomic size_t n_unfreed;
    bool closing; /* tm_harvester_free is under way */
    /* The open batch; touched only while holding the store. */
    size_t batch_results;   /* results recorded in the store's open batch */
    int64_t batch_start_ms; /* monotonic time the open batch began */
};

static int64_t monotonic_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000); /* the loop's own clock */
}

/* Results are recorded in a batch of the store (tm_store_batch_begin): one
 * commit for many sources. When the batch cannot begin, each result is
 * its own transaction, as without batches. The batch functions run while
 * holding the store (the writer thread and the loop both record). */

/* Commits the open batch. */
static void batch_commit(struct tm_harvester *h)
{
    if (!tm_store_batch_pending(h->store))
        return;
    struct tm_error err = {0};
    if (tm_store_batch_commit(h->store, &err) < 0) {
        if (tm_store_batch_open(h->store))
            tm_log(TM_LOG_WARNING, "store: %s; the results of %zu sources wait for the next commit",
                   err.msg, h->batch_results);
        else
            tm_log(TM_LOG_ERR,
                   "store: the results of up to %zu sources were not kept (they are fetched "
                   "again at their next poll): %s",
                   h->batch_results, err.msg);
    }
    if (!tm_store_batch_open(h->store))
        h->batch_results = 0;
}

static void batch_join(struct tm_harvester *h)
{
    if (tm_store_batch_open(h->store) && monotonic_ms() - h->batch_start_ms < TM_HARVEST_BATCH_MS)
        return;
    batch_commit(h); /* an old batch, or a lost one to report */
    if (tm_store_batch_open(h->store))
        return; /* its commit was refused for now: it goes on */
    struct tm_error err = {0};
    if (tm_store_batch_begin(h->store, &err) < 0) {
        tm_log(TM_LOG_WARNING, "store: %s; recording each source on its own", err.msg);
        return;
    }
    h->batch_results = 0;
    h->batch_start_ms = monotonic_ms();
}

/* Commits the batch once it is full, old, or no transfer is left running
 * (`last`: so a cycle's last result is on disk before anyone hears of it). */
static void batch_settle(struct tm_harvester *h, bool last)
{
    h->batch_results++;
    if (last || h->batch_results >= TM_HARVEST_BATCH_RESULTS ||
        monotonic_ms() - h->batch_start_ms >= TM_HARVEST_BATCH_MS)
        batch_commit(h);
}

void tm_harvester_flush(struct tm_harvester *h)
{
    if (h == NULL)
        return;
    tm_store_hold(h->store);
    batch_commit(h);
    tm_store_release(h->store);
}

int tm_harvester_new(uv_loop_t *loop, struct tm_fetcher *fetcher, struct tm_store *store,
                     tm_harvest_done_cb on_done, void *ud, struct tm_harvester **out,
                     struct tm_error *err)
{
    *out = NULL;
    struct tm_harvester *h = calloc(1, sizeof *h);
    if (h == NULL)
        return tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
    int rc = tm_worker_new(loop, TM_HARVEST_MAX_WAITING, &h->writer, err);
    if (rc < 0) {
        free(h);
        return rc;
    }
    /* Without the parser thread every job is parsed on the loop. */
    struct tm_error perr = {0};
    if (tm_worker_new(loop, TM_HARVEST_MAX_CHUNKS, &h->parser, &perr) < 0)
        tm_log(TM_LOG_WARNING, "harvester: %s; every feed is parsed on the loop", perr.msg);
    h->fetcher = fetcher;
    h->store = store;
    h->on_done = on_done;
    h->ud = ud;
    *out = h;
    return 0;
}

static int source_copy(struct tm_source *dst, const struct tm_source *src)
{
    *dst = *src;
    dst->id = tm_strdup_or_null(src->id);
    dst->title = tm_strdup_or_null(src->title);
    dst->url = tm_strdup_or_null(src->url);
    dst->html_url = tm_strdup_or_null(src->html_url);
    dst->category = tm_strdup_or_null(src->category);
    if (!dst->id || !dst->url || (src->title && !dst->title) || (src->html_url && !dst->html_url) ||
        (src->category && !dst->category)) {
        tm_source_clear(dst);
        return TM_ENOMEM;
    }
    return 0;
}

static void fetching_ended(struct job *j)
{
    if (j->fetching && j->h)
        j->h->n_fetching--;
    j->fetching = false;
}

static void job_unlink(struct job *j)
{
    struct tm_harvester *h = j->h;
    if (h == NULL)
        return;
    fetching_ended(j);
    if (j->prev)
        j->prev->next = j->next;
    else
        h->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    h->n_active--;
    j->h = NULL;
}

static void job_free(struct job *j)
{
    job_unlink(j);
    tm_parser_free(j->parser);
    tm_feed_free(j->feed);
    tm_fetch_result_clear(&j->fetch);
    tm_source_clear(&j->src);
    free(j->list_url);
    free(j);
}

/* The parser is made when the body starts, so that the charset of the
 * response's Content-Type (which wins over the document's declaration) is
 * known; a body that never starts gets one at the end. */
static int job_parser(struct job *j, const char *charset)
{
    if (j->parser)
        return 0;
    struct tm_parse_opts popts = {
        .url = j->src.url, .charset = charset, .dates = j->src.dates, .raw_html = true};
    j->parser = tm_parser_new(&popts);
    return j->parser ? 0 : TM_ENOMEM;
}

static void on_fetch_headers(void *ud, long status, const char *content_type, const char *charset)
{
    struct job *j = ud;
    (void)status;
    (void)content_type;
    if (atomic_load_explicit(&j->parse_rc, memory_order_relaxed) == 0)
        atomic_store_explicit(&j->parse_rc, job_parser(j, charset), memory_order_relaxed);
}

/* On the parser thread: a piece of an offloaded body into its parser,
 * unless the parse has stopped; the piece goes at once. */
static void chunk_run(struct tm_worker_job *wj)
{
    struct chunk *c = (struct chunk *)wj;
    struct job *j = c->j;
    if (atomic_load_explicit(&j->parse_rc, memory_order_relaxed) == 0) {
        int rc = tm_parser_push(j->parser, c->data, c->len);
        if (rc < 0)
            atomic_store_explicit(&j->parse_rc, rc, memory_order_relaxed);
    }
    free(c);
}

/* Hands a piece of an offloaded body to the parser thread. */
static int send_chunk(struct job *j, const char *buf, size_t len)
{
    if (j->h == NULL)
        return TM_EIO; /* the harvester and its parser thread are gone */
    struct chunk *c = malloc(sizeof *c + len);
    if (c == NULL)
        return TM_ENOMEM;
    *c = (struct chunk){.wj = {.run = chunk_run}, .j = j, .len = len};
    memcpy(c->data, buf, len);
    tm_worker_submit(j->h->parser, &c->wj);
    return 0;
}

/* Whether an offloaded job goes to the parser thread, decided when it
 * first needs it: yes while fewer than TM_HARVEST_MAX_OFFLOADED are there,
 * else it is parsed on the loop after all (its parser is still the
 * loop's alone). */
static bool hand_over(struct job *j)
{
    struct tm_harvester *h = j->h;
    if (j->offloaded && !j->handed && h != NULL) {
        if (h->n_offloaded < TM_HARVEST_MAX_OFFLOADED) {
            j->handed = true;
            h->n_offloaded++;
        } else {
            j->offloaded = false;
        }
    }
    return j->offloaded;
}

/* The transfer's body, as it arrives: into the streaming parser, here or
 * (an offloaded job) on the parser thread. Once the parser says the bytes
 * can no longer become a feed (an HTML page, a limit), the transfer is
 * aborted (an offloaded one at its next piece): nothing more is worth
 * downloading. */
static int on_fetch_data(void *ud, const char *buf, size_t len, struct tm_error *err)
{
    struct job *j = ud;
    int rc = atomic_load_explicit(&j->parse_rc, memory_order_relaxed);
    if (rc == 0)
        rc = job_parser(j, NULL);
    if (rc == 0)
        rc = hand_over(j) ? send_chunk(j, buf, len) : tm_parser_push(j->parser, buf, len);
    if (rc < 0) {
        atomic_store_explicit(&j->parse_rc, rc, memory_order_relaxed);
        return tm_error_set(err, rc, "%s", tm_strerror(rc));
    }
    return 0;
}

/* One line per harvest, logged where its result is recorded (the daemon
 * and `tinmoi once` only count it). */
static void log_outcome(const struct tm_harvest_outcome *o)
{
    const char *id = o->source->id;
    if (!o->ok)
        tm_log(TM_LOG_WARNING, "source %s: error: %s", id, o->error);
    else if (o->fetch->outcome == TM_FETCH_NOT_MODIFIED)
        tm_log(TM_LOG_INFO, "source %s: not modified", id);
    else
        tm_log(TM_LOG_INFO, "source %s: ok, %zu entries, %zu new, %zu updated", id, o->n_entries,
               o->new_items, o->updated_items);
}

/* ---- the writer thread's half: the result into the store ---------------- */

/* The job that a worker job is the record of. */
static struct job *job_of(struct tm_worker_job *wj)
{
    return (struct job *)((char *)wj - offsetof(struct job, record));
}

/* The result could not be stored: the store's words are the reason. */
static void store_refused(struct job *j, int rc, const struct tm_error *err)
{
    snprintf(j->why, sizeof j->why, "store: %s", err->msg[0] ? err->msg : tm_strerror(rc));
    j->o.error = j->why;
}

/* Appends the store's refusal to the job's reason. */
static void why_store_failed(struct job *j, const struct tm_error *serr)
{
    size_t len = strlen(j->why);
    snprintf(j->why + len, sizeof j->why - len, " (and the store failed: %s)", serr->msg);
}

/* Records a failed harvest with its reason, j->why. */
static void record_failure(struct tm_harvester *h, struct job *j, int64_t now_utc)
{
    struct tm_error serr = {0};
    j->o.ok = false;
    j->o.error = j->why;
    if (tm_store_put_failure(h->store, j->src.id, now_utc, j->why, &serr) < 0)
        why_store_failed(j, &serr);
}

/* Stops polling a source that answered 410 Gone, for the URL the source
 * list names: tm_harvest_start refuses it from then on (the daemon and
 * `tinmoi once` alike) until the source list changes that URL. */
static void record_gone(struct tm_harvester *h, struct job *j)
{
    struct tm_store_schedule sched;
    struct tm_error serr = {0};
    int rc = tm_store_get_schedule(h->store, j->src.id, &sched, &serr);
    if (rc == 0) {
        sched.gone = true;
        rc = tm_store_set_schedule(h->store, j->src.id, &sched, &serr);
    }
    if (rc == 0)
        rc = tm_store_set_gone_url(h->store, j->src.id, j->list_url, &serr);
    j->o.gone = rc == 0;
    if (rc < 0)
        why_store_failed(j, &serr);
}

static void record_feed(struct tm_harvester *h, struct job *j, int64_t now_utc)
{
    struct tm_store_put_result put = {0};
    struct tm_error err = {0};
    int rc = tm_store_put_feed(h->store, &j->src, j->feed, now_utc, j->fetch.etag,
                               j->fetch.last_modified, &put, &err);
    if (rc < 0) {
        store_refused(j, rc, &err);
        return;
    }
    j->o.ok = true;
    j->o.new_items = put.new_items;
    j->o.updated_items = put.updated_items;
    j->o.changed = put.new_items + put.updated_items > 0;
}

static void record_not_modified(struct tm_harvester *h, struct job *j, int64_t now_utc)
{
    struct tm_error err = {0};
    int rc = tm_store_put_not_modified(h->store, j->src.id, now_utc, &err);
    if (rc < 0) {
        store_refused(j, rc, &err);
        return;
    }
    j->o.ok = true;
}

/* On the writer thread: the job's result into the store's batch. The
 * harvester outlives this call (tm_harvester_free closes the writer, which
 * runs every waiting job, before it goes). */
static void record_run(struct tm_worker_job *wj)
{
    struct job *j = job_of(wj);
    struct tm_harvester *h = j->h;
    int64_t now_utc = (int64_t)time(NULL);
    tm_store_hold(h->store);
    batch_join(h);
    switch (j->kind) {
    case RECORD_FEED:
        record_feed(h, j, now_utc);
        break;
    case RECORD_NOT_MODIFIED:
        record_not_modified(h, j, now_utc);
        break;
    case RECORD_FAILURE:
        record_failure(h, j, now_utc);
        break;
    case RECORD_GONE:
        /* RFC 9110 §15.5.11: gone for good. This one failure, with this
         * reason, is its record; polling stops. */
        record_failure(h, j, now_utc);
        record_gone(h, j);
        break;
    }
    batch_settle(h, j->settle);
    tm_store_release(h->store);
    /* Its items are stored. The loop frees the feed (record_done): freed
     * here, every string went back to the arena of the thread that parsed
     * it under that arena's lock, which that thread was taking for its own
     * allocations meanwhile (TM_HARVEST_MAX_UNFREED says what it cost).
     * Past the bound the loop is behind, and the feed goes now. */
    if (j->feed == NULL)
        return;
    /* Only this thread adds to the count (the loop takes away): checked,
     * then added, it never passes the bound. */
    if (atomic_load_explicit(&h->n_unfreed, memory_order_relaxed) < TM_HARVEST_MAX_UNFREED) {
        atomic_fetch_add_explicit(&h->n_unfreed, 1, memory_order_relaxed);
    } else {
        tm_feed_free(j->feed);
        j->feed = NULL;
    }
}

/* Back on the loop: the result is recorded; say so, and tell on_done. */
static void record_done(struct tm_worker_job *wj)
{
    struct job *j = job_of(wj);
    struct tm_harvester *h = j->h;
    if (j->feed != NULL) { /* left by record_run */
        tm_feed_free(j->feed);
        j->feed = NULL;
        atomic_fetch_sub_explicit(&h->n_unfreed, 1, memory_order_relaxed);
    }
    log_outcome(&j->o);
    tm_harvest_done_cb cb = h->on_done;
    void *cb_ud = h->ud;
    job_unlink(j); /* on_done may free the harvester */
    cb(cb_ud, &j->o);
    job_free(j);
}

/* ---- the transfer's end into a record ------------------------------------ */

static void finish_aborted(struct job *j);

/* Finishes the parse of a transfer that ended OK: the record of the feed,
 * or of why it is none. A parse that stopped on the parser thread may
 * have let the transfer end: its reason is said as for an aborted one. */
static void finish_feed(struct job *j)
{
    struct tm_error err = {0};
    if (atomic_load_explicit(&j->parse_rc, memory_order_relaxed) < 0) {
        finish_aborted(j);
        return;
    }
    int rc = job_parser(j, NULL);
    if (rc == 0)
        rc = tm_parser_finish(j->parser, &j->feed, &err);
    if (rc < 0) {
        j->kind = RECORD_FAILURE;
        snprintf(j->why, sizeof j->why, "%s", err.msg[0] ? err.msg : tm_strerror(rc));
        return;
    }
    j->kind = RECORD_FEED;
    j->o.n_entries = j->feed->n_entries;
    j->o.ttl_s = j->feed->ttl_s;
    j->o.update_period_s = j->feed->update_period_s;
}

/* Says why a transfer the parser stopped was aborted, in the parser's
 * words, or the fetcher's. */
static void finish_aborted(struct job *j)
{
    j->kind = RECORD_FAILURE;
    int parse_rc = atomic_load_explicit(&j->parse_rc, memory_order_relaxed);
    if (parse_rc < 0) {
        struct tm_feed *partial = NULL;
        struct tm_error err = {0};
        int rc = j->parser ? tm_parser_finish(j->parser, &partial, &err) : parse_rc;
        tm_feed_free(partial);
        snprintf(j->why, sizeof j->why, "%s",
                 rc < 0 && err.msg[0] ? err.msg : tm_strerror(parse_rc));
    } else {
        snprintf(j->why, sizeof j->why, "%s", j->fetch.error ? j->fetch.error : "transfer aborted");
    }
}

/* The record of how the transfer ended (j->fetch), after every piece of
 * its body was parsed: on the parser thread for an offloaded job, else on
 * the loop. The parser goes here; its feed, if any, is j->feed. */
static void finish_run(struct tm_worker_job *wj)
{
    struct job *j = (struct job *)((char *)wj - offsetof(struct job, finish));
    const struct tm_fetch_result *res = &j->fetch;
    if (j->cancelled) {
        /* dropped in finish_done */
    } else if (res->outcome == TM_FETCH_OK) {
        finish_feed(j);
    } else if (res->outcome == TM_FETCH_NOT_MODIFIED) {
        j->kind = RECORD_NOT_MODIFIED;
    } else if (res->outcome == TM_FETCH_ABORTED) {
        finish_aborted(j);
    } else if (res->outcome == TM_FETCH_HTTP_ERROR && res->http_status == 410) {
        j->kind = RECORD_GONE;
        snprintf(j->why, sizeof j->why, "%s", TM_HARVEST_GONE_REASON);
    } else {
        j->kind = RECORD_FAILURE;
        snprintf(j->why, sizeof j->why, "%s",
                 res->error ? res->error : tm_fetch_outcome_name(res->outcome));
    }
    tm_parser_free(j->parser);
    j->parser = NULL;
}

/* On the loop, once finished: the record goes to the writer thread. */
static void finish_done(struct tm_worker_job *wj)
{
    struct job *j = (struct job *)((char *)wj - offsetof(struct job, finish));
    struct tm_harvester *h = j->h;
    if (h != NULL && j->offloaded) {
        h->n_finishing--;
        h->n_offloaded--;
    }
    if (h == NULL || j->cancelled) {
        job_free(j);
        return;
    }
    j->settle = h->n_fetching == 0 && h->n_finishing == 0;
    j->record = (struct tm_worker_job){.run = record_run, .done = record_done};
    tm_worker_submit(h->writer, &j->record);
}

static void on_fetch_done(void *ud, const struct tm_fetch_result *res)
{
    struct job *j = ud;
    struct tm_harvester *h = j->h;
    if (h == NULL) { /* an offloaded job's pieces were all parsed when it went */
        job_free(j);
        return;
    }
    fetching_ended(j);
    j->cancelled = res->outcome == TM_FETCH_CANCELLED;
    if (!j->cancelled) {
        tm_fetch_result_copy(&j->fetch, res);
        j->o.source = &j->src;
        j->o.fetch = &j->fetch;
    }
    j->finish = (struct tm_worker_job){.run = finish_run, .done = finish_done};
    if (hand_over(j)) { /* after its last piece, on the parser thread */
        h->n_finishing++;
        tm_worker_submit(h->parser, &j->finish);
        return;
    }
    finish_run(&j->finish);
    finish_done(&j->finish);
}

/* ---- starting a harvest ------------------------------------------------ */

static int harvest_begin(struct tm_harvester *h, struct job *j, const struct tm_source *src,
                         struct tm_error *err);

int tm_harvest_start(struct tm_harvester *h, const struct tm_source *src, struct tm_error *err)
{
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
    if (source_copy(&j->src, src) < 0) {
        free(j);
        return tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
    }
    /* The reads below, and a refusal recorded, share the batch with the
     * results: sources started together cost one transaction, not a few
     * lock round trips each. */
    tm_store_hold(h->store);
    batch_join(h);
    int rc = harvest_begin(h, j, src, err);
    if (h->n_fetching == 0 && h->n_finishing == 0)
        batch_commit(h); /* no transfer is running to commit it later */
    tm_store_release(h->store);
    return rc;
}

/* tm_harvest_start's work once the job exists; frees it on failure. */
static int harvest_begin(struct tm_harvester *h, struct job *j, const struct tm_source *src,
                         struct tm_error *err)
{
    /* What the store learned of the source list's URL: a 410 stops it, a
     * 301/308-only chain moved it (issue 4). Both hold only while the
     * source list names the same URL. */
    struct tm_error serr = {0};
    bool gone = false;
    char *moved = NULL;
    int rc = tm_store_gone_for(h->store, src->id, src->url, &gone, &serr);
    if (rc == 0 && !gone)
        rc = tm_store_get_url_override(h->store, src->id, src->url, &moved, &serr);
    if (rc < 0 || gone) {
        job_free(j);
        return rc < 0 ? tm_error_set(err, rc, "%s", serr.msg)
                      : tm_error_set(err, TM_ENOENT, "%s", TM_HARVEST_GONE_REASON);
    }
    j->list_url = strdup(src->url);
    if (j->list_url == NULL) {
        free(moved);
        job_free(j);
        return tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
    }
    if (moved != NULL) {
        free(j->src.url);
        j->src.url = moved;
    }
    struct tm_source_state st = {0};
    rc = tm_store_source_state(h->store, src->id, &st, &serr);
    if (rc < 0) {
        job_free(j);
        return tm_error_set(err, rc, "%s", serr.msg);
    }
    struct tm_fetch_request req = {
        .source_id = src->id,
        .url = j->src.url,
        .etag = st.etag,
        .last_modified = st.last_modified,
        .allow_file = strncmp(src->url, "file:", 5) == 0,
        .on_headers = on_fetch_headers,
        .on_data = on_fetch_data,
        .on_done = on_fetch_done,
        .ud = j,
    };
    j->h = h;
    j->offloaded = h->parser != NULL && ++h->n_started % TM_HARVEST_OFFLOAD_EVERY == 0;
    j->next = h->jobs;
    if (h->jobs)
        h->jobs->prev = j;
    h->jobs = j;
    h->n_active++;
    h->n_fetching++;
    j->fetching = true;
    rc = tm_fetch_start(h->fetcher, &req, err);
    tm_source_state_clear(&st);
    if (rc < 0) {
        tm_store_put_failure(h->store, src->id, (int64_t)time(NULL),
                             err && err->msg[0] ? err->msg : tm_strerror(rc), NULL);
        job_free(j);
        return rc;
    }
    return 0;
}

size_t tm_harvester_active(const struct tm_harvester *h)
{
    return h ? h->n_active : 0;
}

size_t tm_harvester_offloaded(const struct tm_harvester *h)
{
    return h ? h->n_offloaded : 0;
}

size_t tm_harvester_unfreed(const struct tm_harvester *h)
{
    return h ? atomic_load_explicit(&h->n_unfreed, memory_order_relaxed) : 0;
}

void tm_harvester_free(struct tm_harvester *h)
{
    if (h == NULL || h->closing)
        return; /* called again from an on_done of the free's own */
    /* The results already fetched are kept: the writer records each one
     * still waiting, and each is reported (on_done) before its thread ends:
     * what the store holds, the sink has heard of. */
    h->closing = true;
    tm_worker_close(h->parser); /* hands its records to the writer */
    tm_worker_close(h->writer);
    tm_harvester_flush(h);
    /* Jobs still known to the fetcher free themselves in on_fetch_done. */
    while (h->jobs)
        job_unlink(h->jobs);
    free(h);
}
