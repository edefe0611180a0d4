/* tinmoi — the state store (SPEC §7, issue 3 item 3): SQLite in WAL mode in
 * `state_dir/tinmoi.db`.
 *
 * The only state the fetching half and the publishing half share. The
 * fetching half records each source's outcome (tm_store_put_feed,
 * tm_store_put_not_modified, tm_store_put_failure), one transaction per
 * source (a savepoint of a batch, tm_store_batch_begin, when results share
 * a commit); the publishing half loads the archive as the merge's rows
 * (tm_store_load_rows), merges them, loads whole items only for what it
 * renders (tm_store_load_shown), and writes back which published entry
 * each item belongs to (tm_store_set_entry_ids).
 *
 * Items are never deleted: not when they leave their feed, not when a feed
 * has zero entries, not when a fetch fails, not when their source leaves the
 * configuration (the source is only marked as no longer configured).
 *
 * Every function returns 0 or a negative TM_E* code and, when `err` is not
 * NULL, fills it with a one-line message (SQLite's own text for TM_ESTORE).
 * Threads share a handle one call at a time (tm_store_hold below); no
 * function calls back. */
#ifndef TINMOI_STORE_H
#define TINMOI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinmoi/error.h"
#include "tinmoi/feed.h"
#include "tinmoi/item.h"
#include "tinmoi/merge.h"
#include "tinmoi/source.h"

/* The file inside state_dir. */
#define TM_STORE_FILENAME "tinmoi.db"

/* The schema version this program writes (PRAGMA user_version). A database
 * with a higher version was written by a newer tinmoi and is refused. */
#define TM_STORE_SCHEMA_VERSION 7

/* Opaque handle: the connection and its cached prepared statements. */
struct tm_store;

/* Result of one tm_store_put_feed. */
struct tm_store_put_result {
    size_t new_items;       /* items inserted */
    size_t updated_items;   /* existing items whose stored fields changed */
    size_t skipped_entries; /* entries with no guid, link or title: no identity */
};

/* A source as the store knows it: the configured fields it was last synced
 * or put with, its fetch state and the daemon's schedule. */
struct tm_store_source {
    char *id;
    char *title;
    char *url;
    char *category;
    int priority;
    struct tm_source_state state;
    int64_t next_due_utc;    /* TM_TIME_NONE when never scheduled */
    int64_t retry_after_utc; /* TM_TIME_NONE when no Retry-After is pending */
    bool gone;               /* the server answered 410 Gone: polling stopped */
};

/* The daemon's schedule of a source (issue 4), kept across restarts. */
struct tm_store_schedule {
    int64_t next_due_utc;    /* TM_TIME_NONE: due at once */
    int64_t retry_after_utc; /* TM_TIME_NONE: none */
    bool gone;
};

/* Opens (creating if missing) `state_dir/tinmoi.db` and brings its schema
 * to TM_STORE_SCHEMA_VERSION, each migration step in its own transaction.
 * The folder itself is never created: a missing one fails with TM_EIO and
 * "state_dir /x: No such file or directory" (likewise for a folder that is
 * not one or is not writable). A database written by a newer program fails
 * with TM_ESTORE. The connection runs in WAL mode with synchronous=NORMAL,
 * a busy timeout and foreign keys on. On 0, *out is the handle the caller
 * closes with tm_store_close; on error *out is NULL. */
int tm_store_open(const char *state_dir, struct tm_store **out, struct tm_error *err);

/* Sharing. Every call below is one step under the store's lock, so the
 * harvester's writer thread and the loop may both call; between
 * tm_store_hold and tm_store_release no other thread's call runs (a
 * refresh sees one state of the store; several calls form one step).
 * Holds nest. A thread that holds the store must not wait for another
 * thread that calls it. tm_store_close is not shared: nothing else may
 * use the store any more. */
void tm_store_hold(struct tm_store *store);
void tm_store_release(struct tm_store *store);

/* Commits a batch left open (its failure then goes unreported: commit with
 * tm_store_batch_commit to hear it), finalises every statement and closes
 * the connection. Accepts NULL. */
void tm_store_close(struct tm_store *store);

/* Batches. Each write call (tm_store_put_feed, tm_store_put_failure, ...)
 * is atomic: one transaction of its own, or, while a batch is open, one
 * savepoint inside the batch's single transaction. A batch saves what every
 * commit costs: the index and interior pages each commit rewrites in the
 * WAL (bench/cycle.sh, 1,000 sources, 4 KiB pages: 52 WAL frames a source, 16 of them
 * its rows). What a batch holds reaches the disk at its commit: a crash
 * before it loses the batch's writes, never part of one, and the store is
 * as it was before the batch (the sources' validators included, so their
 * feeds are fetched again). Reads on this connection see the batch.
 *
 * tm_store_batch_begin opens a batch (nothing when one is open; TM_ESTORE
 * when the database is locked or failing, or to report a lost batch, see
 * below). tm_store_batch_commit commits it; with nothing pending it does
 * nothing and returns 0. A COMMIT the database refuses for now
 * (SQLITE_BUSY) returns TM_ESTORE and keeps the batch open for the next
 * commit. When an error made SQLite roll the whole batch back
 * (SQLITE_FULL, an I/O error, or a write's savepoint that could not be
 * undone), the batch is "lost": the next tm_store_batch_commit or
 * tm_store_batch_begin returns TM_ESTORE saying its writes are not kept,
 * once. tm_store_batch_open says whether a batch is open;
 * tm_store_batch_pending whether one is open or lost and not yet reported
 * (a commit is due either way). */
int tm_store_batch_begin(struct tm_store *store, struct tm_error *err);
int tm_store_batch_commit(struct tm_store *store, struct tm_error *err);
bool tm_store_batch_open(struct tm_store *store);
bool tm_store_batch_pending(struct tm_store *store);

/* The schema version of the open database (TM_STORE_SCHEMA_VERSION after
 * a successful open). */
int tm_store_schema_version(const struct tm_store *store);

/* Makes the stored source list match the configuration, in one transaction:
 * each of `sources[0..n)` is inserted or has its url, title, category and
 * priority updated (fetch state and items kept); every other stored source
 * is marked as no longer configured, keeping its state and items, so that a
 * source that comes back finds its history. Only configured sources are
 * listed (tm_store_list_sources) and loaded (tm_store_load_items). */
int tm_store_sync_sources(struct tm_store *store, const struct tm_source *sources, size_t n,
                          struct tm_error *err);

/* Fills *out with the fetch state of `source_id` (validators, last attempt
 * and success, last error, consecutive failures, item count, status). A
 * source the store has never seen gets the empty state: status
 * TM_SOURCE_NEVER, no validators, times TM_TIME_NONE, counts 0. The caller
 * frees *out with tm_source_state_clear (also on error, when it is empty). */
int tm_store_source_state(struct tm_store *store, const char *source_id,
                          struct tm_source_state *out, struct tm_error *err);

/* Records a 200 with a parsed feed for `src`, in one transaction: the
 * source row is upserted (as by tm_store_sync_sources) and every entry of
 * `feed` is upserted as an item of that source.
 *
 * Identity within the source (SPEC §7; the lookup order of identity.h):
 * the key tm_item_key gives (guid, else canonical link, else a hash of the
 * normalised title and the feed's date); else an existing item of the
 * source with the same canonical link and normalised title; else, for an
 * entry without a canonical link, one with no canonical link, the same
 * normalised title and the same feed date. A matched item takes the new key
 * and guid (a source that changes every guid but keeps link and title
 * creates no new items). Entries with none of guid, link and title are
 * skipped, as is a second entry with the key of one already stored by this
 * put (the feed lists the item twice).
 *
 * A new item gets first_seen_utc = now_utc, canonical_link and norm_title
 * (tm_link_canonical, tm_title_normalize) are stored with it, and its
 * published_utc is tm_item_published_utc(entry date, first_seen_utc): an
 * undated entry, or one dated more than a day after first seen, is listed
 * at first seen. An existing item takes the entry's current title, link,
 * dates, author, summary, content and categories; its first_seen_utc and
 * entry_id never change. Items absent from `feed` are kept; a feed with
 * zero entries deletes nothing.
 *
 * The source's state becomes: last attempt and success now_utc, status ok,
 * consecutive failures 0, no last error, validators `etag` and
 * `last_modified` (either NULL: the server sent none). `res` (may be NULL)
 * receives the counts. On error nothing of the put is kept. */
int tm_store_put_feed(struct tm_store *store, const struct tm_source *src,
                      const struct tm_feed *feed, int64_t now_utc, const char *etag,
                      const char *last_modified, struct tm_store_put_result *res,
                      struct tm_error *err);

/* Records a 304 Not Modified for `source_id`: a success (last attempt and
 * success now_utc, status ok, failures 0, no last error) that keeps the
 * stored validators and items. TM_ENOENT when the source is not stored
 * (tm_store_sync_sources first). */
int tm_store_put_not_modified(struct tm_store *store, const char *source_id, int64_t now_utc,
                              struct tm_error *err);

/* Records a failed fetch of `source_id` (transfer error, HTTP status, not a
 * feed, limit): last attempt now_utc, consecutive failures + 1, last error
 * `reason` (one line; control characters become spaces, cut at
 * TM_STORE_MAX_ERROR_BYTES), status error. Items, validators and the last
 * success are kept. TM_ENOENT when the source is not stored. */
int tm_store_put_failure(struct tm_store *store, const char *source_id, int64_t now_utc,
                         const char *reason, struct tm_error *err);

/* Loads every item of the configured sources whole, newest published
 * first (ties by store id), every tm_item field filled: source_priority
 * from the source, entry_id NULL when never published. The tests'
 * reference for what the publishing half loads in parts (tm_store_load_rows,
 * tm_store_load_shown); no program path calls it. On 0 *items (NULL when *n
 * is 0) is owned by the caller, freed with tm_items_free. TM_ELIMIT past
 * TM_STORE_MAX_LOAD_ITEMS. */
int tm_store_load_items(struct tm_store *store, struct tm_item **items, size_t *n,
                        struct tm_error *err);

struct tm_store_arena;

/* The archive as the merge reads it: one tm_merge_row per item of the
 * configured sources, in store order (the merge does not depend on the
 * order), every string in an arena the set owns. */
struct tm_store_rows {
    struct tm_merge_row *rows;
    size_t n;
    const char **source_ids; /* sorted; rows[i].source indexes them */
    /* Per source id: the latest date among its items (max of published and
     * updated, tm_view_item_updated_utc), TM_TIME_NONE if none. */
    int64_t *source_updated_utc;
    size_t n_sources;
    struct tm_store_arena *arena; /* entry ids, source ids */
};

/* Loads the rows, without titles (tm_merge_row.norm_title is NULL: the
 * merge reads the few it needs with tm_store_title), so memory follows the
 * archive's rows (72 bytes and the entry id an item), not its titles or
 * content. The page cache shrinks first and the freed heap goes back to
 * the system (tm_heap_release): the process's peak is this load, not this
 * load on top of what the fetching half left. On 0 *out is owned by the
 * caller (tm_store_rows_clear); on error it is empty. TM_ELIMIT past
 * TM_STORE_MAX_LOAD_ITEMS. */
int tm_store_load_rows(struct tm_store *store, struct tm_store_rows *out, struct tm_error *err);

/* Frees the rows themselves (set->n becomes 0), keeping the strings they
 * point to, which the stories merged from them borrow, and the source ids:
 * what the publishing half holds once the merge's answers are taken.
 * Accepts NULL. */
void tm_store_rows_free_rows(struct tm_store_rows *set);

/* The normalised title of item `rowid` (*title NULL when it has none),
 * valid until the next call, tm_store_titles_done or tm_store_close. For
 * tm_merge_opts.title_of: the calls come in increasing rowid order, so
 * one cursor walks the table forward (a short gap is stepped over, a
 * long one or a step back seeks). The cursor holds a read transaction open until
 * tm_store_titles_done (or a write through the store, which closes it
 * first). TM_ENOENT for an item no longer stored,
 * TM_ESTORE, TM_ENOMEM. */
int tm_store_title(struct tm_store *store, int64_t rowid, const char **title, struct tm_error *err);

/* Closes tm_store_title's cursor (and its read transaction). Safe to call
 * when none is open. */
void tm_store_titles_done(struct tm_store *store);

/* Frees what tm_store_load_rows allocated and empties the set. Accepts NULL. */
void tm_store_rows_clear(struct tm_store_rows *set);

/* Loads the items with store ids rowids[0..n_rowids) into items[0..n_rowids),
 * in that order, every tm_item field filled as by tm_store_load_items: what
 * the publishing half renders. On 0 *items (NULL when n_rowids is 0) is
 * owned by the caller, freed with tm_items_free; on error it is NULL.
 * TM_ENOENT for an item no longer stored, TM_ESTORE. */
int tm_store_load_shown(struct tm_store *store, const int64_t *rowids, size_t n_rowids,
                        struct tm_item **items, struct tm_error *err);

/* Asked before entry ids are committed: 0 keeps them; a negative code
 * rolls them back and is returned, `err` being the callback's to set. */
typedef int (*tm_store_confirm_fn)(void *arg, struct tm_error *err);

/* Persists the merge's entry ids (tm_merge_id_writes: in rowid order, the
 * order the table is appended in), atomically (a transaction, or a
 * savepoint of an open batch): item writes[i].rowid gets
 * writes[i].entry_id. The merge decides: it replaces an item's entry id
 * only when its story merged into an older one. `confirm` (may be NULL)
 * is called once they are written and before they are committed (at once
 * when there is nothing to write): the publishing half keeps only the ids
 * of files that are in place. The write transaction stays open while it
 * runs: other connections (`tinmoi status`, the checkpointer) can read but
 * not write until it returns. */
int tm_store_set_entry_ids(struct tm_store *store, const struct tm_merge_id_write *writes,
                           size_t n_writes, tm_store_confirm_fn confirm, void *confirm_arg,
                           struct tm_error *err);

/* Lists the configured sources, ordered by id, for the snapshot's source
 * status and `tinmoi status`. On 0 *out (NULL when *n is 0) is owned by
 * the caller, freed with tm_store_sources_free. */
int tm_store_list_sources(struct tm_store *store, struct tm_store_source **out, size_t *n,
                          struct tm_error *err);

void tm_store_sources_free(struct tm_store_source *sources, size_t n);

/* Reads the schedule of `source_id`; a source the store has never seen has
 * the empty schedule (all TM_TIME_NONE, not gone). */
int tm_store_get_schedule(struct tm_store *store, const char *source_id,
                          struct tm_store_schedule *out, struct tm_error *err);

/* Stores the schedule of `source_id`. TM_ENOENT when the source is not
 * stored. */
int tm_store_set_schedule(struct tm_store *store, const char *source_id,
                          const struct tm_store_schedule *schedule, struct tm_error *err);

/* The URL a redirect chain of only 301/308 moved `source_id` to (issue 4),
 * valid while the source list still names `config_url` for it: a source
 * list that changes the URL wins over an old redirect. On 0 *url is a copy
 * the caller frees, or NULL when there is none. */
int tm_store_get_url_override(struct tm_store *store, const char *source_id, const char *config_url,
                              char **url, struct tm_error *err);

/* Records that `source_id`, configured as `config_url`, moved permanently
 * to `url` (NULL: forget the move). TM_ENOENT when the source is not
 * stored. */
int tm_store_set_url_override(struct tm_store *store, const char *source_id, const char *config_url,
                              const char *url, struct tm_error *err);

/* Records that `source_id` answered 410 Gone while the source list named
 * it `config_url` (NULL: forget it). The schedule's `gone` flag is set
 * apart (tm_store_set_schedule). TM_ENOENT when the source is not stored. */
int tm_store_set_gone_url(struct tm_store *store, const char *source_id, const char *config_url,
                          struct tm_error *err);

/* *gone is true when the stored schedule of `source_id` is gone AND the
 * 410 was recorded while the source list named `config_url`: a source
 * list that changes the URL polls again, one that keeps it stays stopped
 * (also across restarts). False for a source the store has never seen. */
int tm_store_gone_for(struct tm_store *store, const char *source_id, const char *config_url,
                      bool *gone, struct tm_error *err);

/* Longest last_error kept: one line of a status page or snapshot. */
#define TM_STORE_MAX_ERROR_BYTES 512

/* Most items a publish loads (tm_store_load_rows): every stored item takes
 * part in the merge, so past this many the publish refuses instead of
 * letting memory grow without bound (about 100 MB at the peak; see
 * docs/DEPLOYMENT.md, "Memory"). */
#define TM_STORE_MAX_LOAD_ITEMS 1000000

#endif
