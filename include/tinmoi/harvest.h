/* tinmoi — the fetching half: fetch → parse → store for one source.
 *
 * A harvest job starts a transfer for a source, pushes the body into the
 * streaming parser as it arrives, and records the result in the store
 * atomically (new items, a 304, or a failure with its one-line reason).
 * The loop fetches and parses; every TM_HARVEST_OFFLOAD_EVERY-th body is
 * parsed on the harvester's parser thread instead, piece by piece as it
 * arrives. The store's writes run on its writer thread, in the order the
 * parses ended (both threads are tm_workers), so parsing, the only work
 * as big as the rest together, is shared by two cores. The writer and the
 * loop share the store one call at a time (tm_store_hold); the parser
 * thread never touches it.
 * Results that arrive close together share one commit (a batch of the
 * store, tm_store_batch_begin): it is committed when no transfer is left
 * running, after TM_HARVEST_BATCH_RESULTS results, at the first start or
 * result TM_HARVEST_BATCH_MS after it began, at tm_harvester_flush (the
 * daemon's publish) and when the harvester is freed. Past that second a
 * batch waits for the next of those: a result waiting there is lost only
 * to a crash, and its feed is then fetched again. A batch SQLite rolled
 * back after an error is reported in the log at the next commit or start.
 * A commit happens before `on_done` hears of the result that triggered it:
 * when the last running job's `on_done` runs, every result is on disk. A
 * failing source stays local: its error becomes a status row, never an error
 * that travels. When the job ends, the sink `on_done` hears what happened, so
 * the daemon can reschedule and coalesce a publish. */
#ifndef TINMOI_HARVEST_H
#define TINMOI_HARVEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinmoi/error.h"
#include "tinmoi/fetch.h"
#include "tinmoi/source.h"
#include "tinmoi/store.h"

#include <uv.h>

/* The failure a 410 Gone is recorded with (once: the store's consecutive
 * failures go up by one), in the status a reader of the snapshot sees. */
#define TM_HARVEST_GONE_REASON "410 Gone: polling stopped"

/* Results that wait for the writer thread (each holds its parsed feed
 * until the writer has stored it): past this many the loop waits for the
 * writer instead of fetching more. A batch's commit holds the writer for
 * 0.05-0.1 s, while the loop parses a hundred feeds or more: at 32 the loop
 * waited 1.0-1.6 s of a 10,000-source cycle for room. At 128 one cold
 * cycle of a dozen peaked at 109 MB (see PERFORMANCE.md). */
#define TM_HARVEST_MAX_WAITING 64

/* Every this many jobs one is parsed on the harvester's parser thread
 * instead of the loop, which also fetches (see PERFORMANCE.md: parsing
 * every body there left that thread the bottleneck). */
#define TM_HARVEST_OFFLOAD_EVERY 2

/* Pieces of offloaded bodies (as the fetcher hands them over, at most
 * CURL_MAX_WRITE_SIZE bytes each) that wait for the parser thread: past
 * this many the loop waits for it instead of reading more. */
#define TM_HARVEST_MAX_CHUNKS 64

/* Offloaded bodies under way at once: sent to the parser thread and not yet
 * handed to the writer. Each holds its feed, parsed or half parsed, and a
 * parsed one waits for the loop to pass it on, which a loop busy with a
 * burst of transfers does late: without a bound, 250-480 parsed feeds piled
 * up there, and one cold 10,000-source cycle in four peaked at 102-126 MB.
 * Past this many, a body that starts is parsed on the loop. 48: the 32
 * bodies that one in two of the default 64 transfers keeps under way, and
 * 16 parsed ones waiting for the loop. */
#define TM_HARVEST_MAX_OFFLOADED 48

/* Recorded feeds the writer thread leaves for the loop to free. Freeing a
 * feed on the writer sent each of its strings back to the arena of the
 * thread that parsed it (glibc's malloc has one per thread) under that
 * arena's lock, which the loop and the parser thread were taking for
 * their own allocations at the same time: 4.7 % of a cold cycle's samples
 * were on those locks, and with every feed freed on the loop the cycle
 * took 0.8 s less CPU. But a loop busy with transfers reports results
 * late, and unbounded the feeds waiting for it peaked at 111 MB; past this
 * many, the writer frees a feed itself. */
#define TM_HARVEST_MAX_UNFREED 128

/* A batch of results is committed after this many sources... */
#define TM_HARVEST_BATCH_RESULTS 256
/* ...or at the first result this long (ms) after the batch began. */
#define TM_HARVEST_BATCH_MS 1000

/* What one harvest did, for logs, metrics and the scheduler. Pointers are
 * valid only during the on_done call. */
struct tm_harvest_outcome {
    const struct tm_source *source;      /* the job's own copy of the source */
    const struct tm_fetch_result *fetch; /* the transfer's result (hints, status, timing) */
    bool ok;                             /* the store now counts the source as a success */
    bool changed;                        /* new or updated items were stored */
    size_t n_entries; /* entries the parser returned (0 for a 304 or a failure) */
    size_t new_items;
    size_t updated_items;
    int64_t ttl_s; /* the feed's polling hints (0 when none) */
    int64_t update_period_s;
    const char *error; /* one-line reason when !ok, else NULL */
    bool gone;         /* a 410 Gone stopped the source (recorded in the store) */
};

typedef void (*tm_harvest_done_cb)(void *ud, const struct tm_harvest_outcome *outcome);

struct tm_harvester;

/* Creates a harvester that starts transfers on `fetcher` and records results
 * in `store` (both borrowed; they must outlive the harvester), with its
 * writer thread on `loop`. `on_done` is called once per job, from the loop,
 * after the job's result is recorded. Caller frees with tm_harvester_free.
 * Returns 0, or TM_ENOMEM or TM_EIO with `err` set. */
int tm_harvester_new(uv_loop_t *loop, struct tm_fetcher *fetcher, struct tm_store *store,
                     tm_harvest_done_cb on_done, void *ud, struct tm_harvester **out,
                     struct tm_error *err);

/* Starts harvesting `src` (copied: the caller may free it at once) with
 * what the store holds for it: its validators, and the URL a 301/308-only
 * chain moved it to while the source list names src->url. Returns 0
 * (on_done will be called), or a negative code when the job did not start
 * (on_done is not called; `err` says why): TM_ENOENT for a source stopped
 * by a 410 Gone for this URL (TM_HARVEST_GONE_REASON; nothing recorded
 * again), TM_ESTORE, TM_ENOMEM, or the fetcher's refusal (recorded in the
 * store as a failure). */
int tm_harvest_start(struct tm_harvester *h, const struct tm_source *src, struct tm_error *err);

/* Commits the results recorded so far (the store's open batch), logging
 * a failure. Results still with the writer thread are not waited for: their
 * on_done has not been called. The daemon calls it before publishing,
 * holding the store so that no result lands between the commit and the
 * publish. Accepts NULL. */
void tm_harvester_flush(struct tm_harvester *h);

/* Jobs started and not yet done. */
size_t tm_harvester_active(const struct tm_harvester *h);

/* Offloaded bodies under way: handed to the parser thread, their finish
 * not yet back on the loop. At most TM_HARVEST_MAX_OFFLOADED; 0 once every
 * job is done. */
size_t tm_harvester_offloaded(const struct tm_harvester *h);

/* Recorded feeds left for the loop to free: at most TM_HARVEST_MAX_UNFREED;
 * 0 once every job is done. */
size_t tm_harvester_unfreed(const struct tm_harvester *h);

/* Records the results of transfers that have ended (waiting for the writer
 * thread) and calls their on_done, from inside this call; commits
 * (tm_harvester_flush) and frees the harvester; the writer's handle closes
 * when the loop runs next. Jobs still running must have been cancelled
 * through the fetcher first (their on_done then arrives before the fetcher
 * closes; after this call they are dropped without calling back). May be
 * called from on_done; a call from an on_done this call makes does
 * nothing. Accepts NULL. */
void tm_harvester_free(struct tm_harvester *h);

#endif
