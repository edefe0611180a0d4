/* tinmoi — the state store: SQLite in WAL mode (SPEC §7, issue 3 item 3).
 *
 * One connection, its prepared statements cached for the life of the handle
 * (SQLITE_PREPARE_PERSISTENT): a cycle of 10,000 sources × 20 items runs
 * each statement hundreds of thousands of times. Each source's outcome is
 * one transaction, so a crash leaves every source either before or after
 * its fetch, never half-stored, and a reader (`tinmoi status`) never waits
 * for a whole cycle. */
#include "tinmoi/store.h"
#include "store_checkpoint_int.h"
#include "tinmoi/buf.h"
#include "tinmoi/hash.h"
#include "tinmoi/heap.h"
#include "tinmoi/identity.h"
#include "tinmoi/log.h"
#include "tinmoi/parse.h" /* tm_parse_html */
#include "tinmoi/text.h"
#include "str_int.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

/* How long a writer waits for another connection's write lock (a second
 * process such as `tinmoi status` reading during a checkpoint, or an
 * operator's sqlite3 shell) before the call fails. Long enough to ride out
 * a checkpoint of a large cycle, short enough that a stuck lock is
 * reported instead of hanging the loop. */
#define TM_STORE_BUSY_TIMEOUT_MS 5000

/* The connection's settings (measured with bench/cycle.sh; see the "Fetch
 * cycle" section of docs/PERFORMANCE.md):
 *   - synchronous NORMAL in WAL mode: a commit does not wait for the disk;
 *     a power cut may lose the last transactions, never corrupt the
 *     database, and the next cycle fetches them again;
 *   - a WAL checkpoint every STORE_CHECKPOINT_BYTES (32 MiB) instead of
 *     SQLite's 1,000 pages, run by the checkpointer's thread
 *     (store_checkpoint_int.h) so that its fsyncs stall no commit; the
 *     WAL file is cut back to journal_size_limit once a checkpoint has
 *     copied all of it (the page count is set at open, from the
 *     database's own page size);
 *   - a 16 MiB page cache (SQLite's default is 2 MiB): the index pages a
 *     cycle of inserts touches stay in memory instead of being read back;
 *   - temporary b-trees (sorting) in memory. */
#define STORE_PRAGMAS                                                                              \
    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"                                       \
    "PRAGMA journal_size_limit = 33554432;" STORE_CACHE_PUT "; PRAGMA temp_store = MEMORY"
#define STORE_CHECKPOINT_BYTES (32 * 1024 * 1024)

/* A WAL this big is started over before the next transaction, which waits
 * for the checkpointer to finish copying it (store_checkpoint_int.h): the
 * -wal file's bound during a burst of commits (a cold cycle of 10,000
 * sources writes 530 MB). */
#define STORE_WAL_MAX_BYTES (4 * STORE_CHECKPOINT_BYTES)

/* The page size of a new database (an existing one keeps its own). Item
 * bodies average about 1.8 KB: in 4 KiB pages a quarter of each page was
 * left empty and every page cost a WAL frame and a checkpoint copy; at
 * 16 KiB the bench store (200,000 items) is 532 MB instead of 629 MB and
 * its cold cycle about 10 % faster (docs/PERFORMANCE.md). Larger pages
 * gained nothing more. */
#define STORE_PAGE_SIZE_SQL "PRAGMA page_size = 16384"

/* Schema migrations: migrations[v] takes a database from user_version v to
 * v + 1, in one transaction with the version bump. Steps are only ever
 * appended: a released step is never edited, since databases in the field
 * already ran it. */
static const char *const migrations[] = {
    /* 0 -> 1: sources with fetch state and the daemon's schedule; items. */
    "CREATE TABLE sources ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " url TEXT NOT NULL,"
    " title TEXT,"
    " category TEXT,"
    " priority INTEGER NOT NULL DEFAULT 0,"
    " configured INTEGER NOT NULL DEFAULT 1,"
    " etag TEXT,"
    " last_modified TEXT,"
    " last_attempt_utc INTEGER,"
    " last_success_utc INTEGER,"
    " last_error TEXT,"
    " consecutive_failures INTEGER NOT NULL DEFAULT 0,"
    " status TEXT NOT NULL DEFAULT 'never' CHECK (status IN ('never', 'ok', 'error')),"
    " item_count INTEGER NOT NULL DEFAULT 0,"
    " next_due_utc INTEGER,"
    " retry_after_utc INTEGER,"
    " gone INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE TABLE items ("
    " id INTEGER PRIMARY KEY,"
    " source_id TEXT NOT NULL REFERENCES sources(id),"
    " key TEXT NOT NULL,"
    " guid TEXT,"
    " title TEXT,"
    " link TEXT,"
    " canonical_link TEXT,"
    " norm_title TEXT,"
    " published_utc INTEGER NOT NULL," /* after SPEC §7's clamping */
    " feed_published_utc INTEGER,"     /* the date as the feed gave it */
    " updated_utc INTEGER,"
    " first_seen_utc INTEGER NOT NULL,"
    " author TEXT,"
    " summary TEXT,"
    " content TEXT,"
    " categories TEXT," /* JSON array of strings, NULL when none */
    " entry_id TEXT"
    ") STRICT;"
    "CREATE UNIQUE INDEX items_source_key ON items(source_id, key);"
    "CREATE INDEX items_source_link ON items(source_id, canonical_link);"
    "CREATE INDEX items_published ON items(published_utc);"
    "CREATE INDEX items_first_seen ON items(first_seen_utc);",
    /* 1 -> 2: the URL a 301/308-only redirect chain moved a source to, and
     * the configured URL it replaces (the daemon, issue 4). */
    "ALTER TABLE sources ADD COLUMN moved_from TEXT;"
    "ALTER TABLE sources ADD COLUMN moved_to TEXT;",
    /* 2 -> 3: the source-list URL a 410 Gone applied to (the daemon), so
     * that a restart with another URL polls again. A source already gone
     * takes the URL it was configured with (its moved_from when moved). */
    "ALTER TABLE sources ADD COLUMN gone_url TEXT;"
    "UPDATE sources SET gone_url = COALESCE(moved_from, url) WHERE gone = 1;",
    /* 3 -> 4: an item's body (author, summary, content, categories) in a
     * table of its own. An items row is then a few hundred bytes instead of
     * a page or more, so the publishing half's scan of every item, and the
     * entry ids the merge writes back, read and write the small rows only
     * (bench/cycle.sh at 10,000 sources: 750 MB of rows read, 200,000 rows
     * rewritten). */
    "CREATE TABLE item_bodies ("
    " item_id INTEGER PRIMARY KEY REFERENCES items(id),"
    " author TEXT,"
    " summary TEXT,"
    " content TEXT,"
    " categories TEXT" /* JSON array of strings, NULL when none */
    ") STRICT;"
    "INSERT INTO item_bodies (item_id, author, summary, content, categories)"
    " SELECT id, author, summary, content, categories FROM items;"
    "ALTER TABLE items DROP COLUMN author;"
    "ALTER TABLE items DROP COLUMN summary;"
    "ALTER TABLE items DROP COLUMN content;"
    "ALTER TABLE items DROP COLUMN categories;",
    /* 4 -> 5: the indexes on published_utc and first_seen_utc go. No
     * query of the daemon or `tinmoi once` uses them (the lean load scans
     * the table in rowid order), and every insert paid for both: the
     * published dates arrive in no order, so each new item dirtied a page
     * of that index (bench/cycle.sh, 10,000 sources: see PERFORMANCE.md). */
    "DROP INDEX items_published;"
    "DROP INDEX items_first_seen;",
    /* 5 -> 6: an item's entry id in a narrow table of its own. The merge
     * records the id of every item it assigns (200,000 at the bench's cold
     * cycle): as a column of items each write grew a row in the middle of
     * a page, split pages and rewrote the whole table into the WAL
     * (110 MB); here the rows are appended in rowid order (14 MB).
     * docs/PERFORMANCE.md, runs N to Q. */
    "CREATE TABLE item_entries ("
    " item_id INTEGER PRIMARY KEY REFERENCES items(id),"
    " entry_id TEXT NOT NULL"
    ") STRICT;"
    "INSERT INTO item_entries (item_id, entry_id)"
    " SELECT id, entry_id FROM items WHERE entry_id IS NOT NULL ORDER BY id;"
    "ALTER TABLE items DROP COLUMN entry_id;",
    /* 6 -> 7: summaries and contents stored as the feed gave them, and
     * sanitised when read back (item_read): raw_html has a bit per field
     * stored raw (TM_RAW_SUMMARY, TM_RAW_CONTENT), html_base the URL their
     * links resolve against. The harvest no longer sanitises every item it
     * stores, of which a few are ever published (PERFORMANCE.md, run Y).
     * Rows from before are sanitised already (0); each is written raw the
     * next time its feed is fetched. */
    "ALTER TABLE item_bodies ADD COLUMN raw_html INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE item_bodies ADD COLUMN html_base TEXT;",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == TM_STORE_SCHEMA_VERSION,
               "one migration step per schema version");

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_SRC_UNCONFIGURE,
    ST_SRC_UPSERT,
    ST_SRC_STATE,
    ST_SRC_SUCCESS,
    ST_SRC_NOT_MODIFIED,
    ST_SRC_FAILURE,
    ST_SRC_LIST,
    ST_SCHED_GET,
    ST_SCHED_SET,
    ST_SRC_GONE,
    ST_SRC_MOVED,
    ST_ITEM_BY_KEY,
    ST_ITEM_BY_LINK_TITLE,
    ST_ITEM_BY_TITLE_DATE,
    ST_ITEM_INSERT,
    ST_ITEM_UPDATE,
    ST_BODY_PUT,
    ST_BODY_GET,
    ST_ITEM_LOAD,
    ST_ITEM_SET_ENTRY,
    ST_ITEM_ROWS,
    ST_ROWS_SOURCES,
    ST_ITEM_TITLES,
    ST_ITEM_SHOWN,
    ST_COUNT
};

/* A whole item, in the columns item_read reads. */
#define ITEM_SELECT                                                                                \
    "SELECT i.id, i.source_id, s.priority, i.key, i.guid, i.title, i.link,"                        \
    " i.canonical_link, i.norm_title, i.published_utc, i.updated_utc,"                             \
    " i.first_seen_utc, b.author, b.summary, b.content, b.categories, e.entry_id,"                 \
    " b.raw_html, b.html_base"                                                                     \
    " FROM items i JOIN sources s ON s.id = i.source_id"                                           \
    " LEFT JOIN item_bodies b ON b.item_id = i.id"                                                 \
    " LEFT JOIN item_entries e ON e.item_id = i.id"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT tm_write",
    [ST_RELEASE] = "RELEASE tm_write",
    [ST_ROLLBACK_TO] = "ROLLBACK TO tm_write",
    [ST_SRC_UNCONFIGURE] = "UPDATE sources SET configured = 0 WHERE configured = 1",
    [ST_SRC_UPSERT] = "INSERT INTO sources (id, url, title, category, priority, configured)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, 1)"
                      /* A new URL is a new resource: the old one's HTTP
                       * validators must not be sent to it. */
                      " ON CONFLICT (id) DO UPDATE SET url = excluded.url,"
                      " etag = CASE WHEN url IS excluded.url THEN etag END,"
                      " last_modified = CASE WHEN url IS excluded.url THEN last_modified END,"
                      " title = excluded.title, category = excluded.category,"
                      " priority = excluded.priority, configured = 1"
                      " WHERE url IS NOT excluded.url OR title IS NOT excluded.title"
                      " OR category IS NOT excluded.category OR priority != excluded.priority"
                      " OR configured != 1",
    [ST_SRC_STATE] = "SELECT etag, last_modified, last_attempt_utc, last_success_utc, last_error,"
                     " consecutive_failures, item_count, status FROM sources WHERE id = ?1",
    [ST_SRC_SUCCESS] = "UPDATE sources SET last_attempt_utc = ?2, last_success_utc = ?2,"
                       " status = 'ok', consecutive_failures = 0, last_error = NULL,"
                       " etag = ?3, last_modified = ?4, item_count = item_count + ?5"
                       " WHERE id = ?1",
    [ST_SRC_NOT_MODIFIED] = "UPDATE sources SET last_attempt_utc = ?2, last_success_utc = ?2,"
                            " status = 'ok', consecutive_failures = 0, last_error = NULL"
                            " WHERE id = ?1",
    [ST_SRC_FAILURE] = "UPDATE sources SET last_attempt_utc = ?2, status = 'error',"
                       " consecutive_failures = consecutive_failures + 1, last_error = ?3"
                       " WHERE id = ?1",
    [ST_SRC_LIST] = "SELECT id, title, url, category, priority, etag, last_modified,"
                    " last_attempt_utc, last_success_utc, last_error, consecutive_failures,"
                    " item_count, status, next_due_utc, retry_after_utc, gone"
                    " FROM sources WHERE configured = 1 ORDER BY id",
    [ST_SCHED_GET] = "SELECT next_due_utc, retry_after_utc, gone FROM sources WHERE id = ?1",
    [ST_SCHED_SET] = "UPDATE sources SET next_due_utc = ?2, retry_after_utc = ?3, gone = ?4"
                     " WHERE id = ?1",
    [ST_ITEM_BY_KEY] = "SELECT id, first_seen_utc, link, title, canonical_link, norm_title"
                       " FROM items WHERE source_id = ?1 AND key = ?2",
    [ST_ITEM_BY_LINK_TITLE] = "SELECT id, first_seen_utc FROM items"
                              " WHERE source_id = ?1 AND canonical_link = ?2 AND norm_title = ?3"
                              " ORDER BY id DESC",
    [ST_ITEM_BY_TITLE_DATE] = "SELECT id, first_seen_utc FROM items"
                              " WHERE source_id = ?1 AND canonical_link IS NULL"
                              " AND norm_title = ?2 AND feed_published_utc IS ?3"
                              " ORDER BY id DESC",
    [ST_ITEM_INSERT] = "INSERT INTO items (source_id, key, guid, title, link, canonical_link,"
                       " norm_title, published_utc, updated_utc, first_seen_utc,"
                       " feed_published_utc)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    /* Writes only when something differs, so a re-put of an unchanged feed
     * touches no page and counts no update. */
    [ST_ITEM_UPDATE] = "UPDATE items SET key = ?2, guid = ?3, title = ?4, link = ?5,"
                       " canonical_link = ?6, norm_title = ?7, published_utc = ?8,"
                       " updated_utc = ?9, feed_published_utc = ?10"
                       " WHERE id = ?1 AND (key IS NOT ?2 OR guid IS NOT ?3 OR title IS NOT ?4"
                       " OR link IS NOT ?5 OR canonical_link IS NOT ?6 OR norm_title IS NOT ?7"
                       " OR published_utc IS NOT ?8 OR updated_utc IS NOT ?9"
                       " OR feed_published_utc IS NOT ?10)",
    /* The body of a new item, or of a stored one that differs (item_update
     * reads it first, ST_BODY_GET, and writes only a changed one). */
    [ST_BODY_PUT] = "INSERT INTO item_bodies (item_id, author, summary, content, categories,"
                    " raw_html, html_base)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                    " ON CONFLICT (item_id) DO UPDATE SET author = excluded.author,"
                    " summary = excluded.summary, content = excluded.content,"
                    " categories = excluded.categories, raw_html = excluded.raw_html,"
                    " html_base = excluded.html_base",
    [ST_BODY_GET] = "SELECT author, summary, content, categories, raw_html, html_base"
                    " FROM item_bodies WHERE item_id = ?1",
    [ST_ITEM_LOAD] = ITEM_SELECT " WHERE s.configured = 1"
                                 " ORDER BY i.published_utc DESC, i.id",
    /* Read before every fetch (harvest_begin): prepared once, as the rest. */
    [ST_SRC_GONE] = "SELECT gone, gone_url FROM sources WHERE id = ?1",
    [ST_SRC_MOVED] = "SELECT moved_from, moved_to FROM sources WHERE id = ?1",
    [ST_ITEM_SET_ENTRY] = "INSERT INTO item_entries (item_id, entry_id) VALUES (?1, ?2)"
                          " ON CONFLICT (item_id) DO UPDATE SET entry_id = excluded.entry_id"
                          " WHERE entry_id IS NOT excluded.entry_id",
    /* The configured sources numbered in id order (n), the numbers the
     * rows carry: CROSS JOIN keeps the items outer, scanned in rowid
     * order, with the few sources looked up. */
    [ST_ITEM_ROWS] = "SELECT i.id, s.n, s.priority, i.key, i.canonical_link,"
                     " i.norm_title, i.published_utc, i.updated_utc, i.first_seen_utc,"
                     " e.entry_id"
                     " FROM items i CROSS JOIN (SELECT id, priority,"
                     "  row_number() OVER (ORDER BY id) - 1 AS n"
                     "  FROM sources WHERE configured = 1) s ON s.id = i.source_id"
                     " LEFT JOIN item_entries e ON e.item_id = i.id"
                     " ORDER BY i.id",
    [ST_ROWS_SOURCES] = "SELECT id FROM sources WHERE configured = 1 ORDER BY id",
    [ST_ITEM_TITLES] = "SELECT id, norm_title FROM items WHERE id >= ?1 ORDER BY id",
    [ST_ITEM_SHOWN] = ITEM_SELECT " WHERE i.id = ?1",
};

struct tm_store {
    /* Held for the length of every public call (STORE_LOCKED) and between
     * tm_store_hold and tm_store_release: the harvester's writer thread
     * and the loop share the connection, one call at a time. Recursive, so
     * a held store's calls, and calls that make calls, take it again. */
    uv_mutex_t lock;
    sqlite3 *db;
    char *path; /* state_dir/tinmoi.db, for messages */
    /* Copies the WAL back into the database (NULL: SQLite's automatic
     * checkpoint on this connection does). Poked after a commit leaves
     * checkpoint_pages or more in the WAL. */
    struct tm_checkpointer *checkpointer;
    int64_t checkpoint_pages;
    bool wal_full;  /* the last commit left STORE_WAL_MAX_BYTES or more in the WAL */
    bool wal_stuck; /* a reader kept the WAL from being copied whole (logged once) */
    int schema_version;
    bool cache_small; /* the page cache is at STORE_CACHE_LOAD (the publishing half) */
    bool batch;       /* a batch's transaction is open (tm_store_batch_begin) */
    bool batch_lost;  /* SQLite rolled the open batch back after an error */
    sqlite3_stmt *st[ST_COUNT];
    /* tm_store_title's cursor (ST_ITEM_TITLES): while open, on the row
     * title_at; closed again past the last row. */
    bool title_open;
    int64_t title_at;
};

void tm_store_hold(struct tm_store *s)
{
    uv_mutex_lock(&s->lock);
}

void tm_store_release(struct tm_store *s)
{
    uv_mutex_unlock(&s->lock);
}

static struct tm_store *store_lock(struct tm_store *s)
{
    tm_store_hold(s);
    return s;
}

static void store_unlock_at_exit(struct tm_store **s)
{
    tm_store_release(*s);
}

/* The first line of every public call on an open store: holds the store
 * until the call returns, whichever return it is. */
#define STORE_LOCKED(s)                                                                            \
    struct tm_store *store_locked_ __attribute__((cleanup(store_unlock_at_exit))) = store_lock(s)

/* Rows tm_store_title steps over to reach the next title before it seeks
 * instead: a step costs a row, a seek a walk down the table's tree. */
#define TITLE_MAX_STEPS 32

/* The page cache while the publishing half holds the archive's items in
 * memory (the rows' load, the entry ids' appends): a scan reads each page
 * once, and the 16 MiB the inserts use would add to the peak. Restored by
 * the next put. */
#define STORE_CACHE_LOAD "PRAGMA cache_size = -2048"
#define STORE_CACHE_PUT "PRAGMA cache_size = -16384"

/* Sets the page cache for loads (small) or puts (STORE_PRAGMAS' size). */
static int cache_for(struct tm_store *s, bool small, struct tm_error *err);

/* ---- errors, binding, reading ---------------------------------------- */

static int store_fail(struct tm_store *s, struct tm_error *err, const char *what)
{
    return tm_error_set(err, TM_ESTORE, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* After a failed step, sqlite3_reset returns the same error again; it was
 * already reported from the step, so its result carries nothing new. */
static void stmt_reset(sqlite3_stmt *st)
{
    (void)sqlite3_reset(st);
}

/* Accumulates bind results so a statement's binds read as a list and the
 * first failure is reported once. */
struct binder {
    sqlite3_stmt *st;
    int rc;
};

static struct binder bind_start(sqlite3_stmt *st)
{
    return (struct binder){st, sqlite3_clear_bindings(st)};
}

static void bind_text(struct binder *b, int i, const char *v)
{
    if (b->rc != SQLITE_OK)
        return;
    b->rc =
        v != NULL ? sqlite3_bind_text(b->st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(b->st, i);
}

static void bind_int(struct binder *b, int i, int64_t v)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_int64(b->st, i, v);
}

/* TM_TIME_NONE is stored as NULL. */
static void bind_time(struct binder *b, int i, int64_t v)
{
    if (b->rc != SQLITE_OK)
        return;
    b->rc = v == TM_TIME_NONE ? sqlite3_bind_null(b->st, i) : sqlite3_bind_int64(b->st, i, v);
}

static int bind_done(struct tm_store *s, struct binder *b, struct tm_error *err)
{
    if (b->rc == SQLITE_OK)
        return 0;
    return tm_error_set(err, TM_ESTORE, "%s: bind: %s", s->path, sqlite3_errstr(b->rc));
}

/* Steps `st`, a query of one source's row by its id (?1): 1 when the row
 * is there (the caller reads its columns, then resets `st`), 0 when the
 * store has no such source, < 0 on error; `st` is reset unless 1. */
static int source_row(struct tm_store *s, sqlite3_stmt *st, const char *source_id, const char *what,
                      struct tm_error *err)
{
    struct binder b = bind_start(st);
    bind_text(&b, 1, source_id);
    int rc = bind_done(s, &b, err);
    if (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            return 1;
        if (step != SQLITE_DONE)
            rc = store_fail(s, err, what);
    }
    stmt_reset(st);
    return rc;
}

/* Steps a statement that returns no rows and resets it. */
static int run(struct tm_store *s, sqlite3_stmt *st, const char *what, struct tm_error *err)
{
    if (sqlite3_step(st) != SQLITE_DONE) {
        int rc = store_fail(s, err, what);
        stmt_reset(st);
        return rc;
    }
    stmt_reset(st);
    return 0;
}

/* Copies a text column; NULL stays NULL. TM_ENOMEM when SQLite or malloc
 * could not produce the text. */
static int col_str(sqlite3_stmt *st, int i, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return 0;
    const unsigned char *t = sqlite3_column_text(st, i);
    if (t == NULL)
        return TM_ENOMEM;
    size_t len = (size_t)sqlite3_column_bytes(st, i);
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return TM_ENOMEM;
    memcpy(copy, t, len);
    copy[len] = '\0';
    *out = copy;
    return 0;
}

static int64_t col_time(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return TM_TIME_NONE;
    return sqlite3_column_int64(st, i);
}

static enum tm_source_status status_from_text(const unsigned char *t)
{
    if (t != NULL && strcmp((const char *)t, "ok") == 0)
        return TM_SOURCE_OK;
    if (t != NULL && strcmp((const char *)t, "error") == 0)
        return TM_SOURCE_ERROR;
    return TM_SOURCE_NEVER;
}

/* ---- WAL checkpoints (store_checkpoint_int.h) ---------------------------- */

/* SQLite's WAL hook, after each commit of the store's connection (on the
 * committing thread, store held): the checkpointer takes it from here. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int wal_pages)
{
    (void)db;
    (void)name;
    struct tm_store *s = arg;
    if (wal_pages >= s->checkpoint_pages)
        tm_checkpointer_poke(s->checkpointer);
    s->wal_full = wal_pages >= s->checkpoint_pages * (STORE_WAL_MAX_BYTES / STORE_CHECKPOINT_BYTES);
    return SQLITE_OK;
}

/* Before a write transaction: a WAL past its bound is copied back whole
 * first, so that this transaction starts it over (store_checkpoint_int.h). */
static void wal_rewind(struct tm_store *s)
{
    if (!s->wal_full)
        return;
    s->wal_full = false;
    tm_checkpointer_wait(s->checkpointer);
    struct tm_checkpointer_stats st = tm_checkpointer_stats(s->checkpointer);
    if (!st.last_whole && !st.last_failed && !s->wal_stuck)
        tm_log(TM_LOG_WARNING,
               "store: %s: the WAL holds %d pages that another connection's read keeps from "
               "being copied back; the -wal file grows until that read ends",
               s->path, st.last_wal_pages);
    s->wal_stuck = !st.last_whole;
}

/* Hands the checkpoints to a thread of their own. Without one (no second
 * connection or thread) the connection keeps checkpointing itself, as
 * wal_autocheckpoint was set: slower, and nothing else changes. */
static void start_checkpointer(struct tm_store *s)
{
    struct tm_error err = {0};
    if (tm_checkpointer_start(s->path, &s->checkpointer, &err) < 0) {
        tm_log(TM_LOG_WARNING, "store: %s; the commits checkpoint the WAL themselves", err.msg);
        return;
    }
    /* Replaces the automatic checkpoint's own hook. */
    (void)sqlite3_wal_hook(s->db, on_wal_commit, s);
}

/* ---- transactions ----------------------------------------------------- */

/* Notes that SQLite rolled the open batch back by itself (SQLITE_FULL,
 * IOERR, NOMEM end the whole transaction): its writes are gone, which
 * tm_store_batch_commit reports. */
static void batch_check(struct tm_store *s)
{
    if (s->batch && sqlite3_get_autocommit(s->db)) {
        s->batch = false;
        s->batch_lost = true;
    }
}

/* Every write call is one transaction of its own or, while a batch is open,
 * one savepoint inside the batch's transaction: atomic either way. */
static int tx_begin(struct tm_store *s, struct tm_error *err)
{
    tm_store_titles_done(s); /* its snapshot could refuse the write (SQLITE_BUSY_SNAPSHOT) */
    batch_check(s);
    if (s->batch)
        return run(s, s->st[ST_SAVEPOINT], "savepoint", err);
    wal_rewind(s);
    return run(s, s->st[ST_BEGIN], "begin", err);
}

static int tx_commit(struct tm_store *s, struct tm_error *err)
{
    if (!s->batch)
        return run(s, s->st[ST_COMMIT], "commit", err);
    return run(s, s->st[ST_RELEASE], "release", err);
}

/* Steps a statement whose error is not reported (a rollback after the
 * error that is); true when it ran. */
static bool step_quiet(sqlite3_stmt *st)
{
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    stmt_reset(st);
    return ok;
}

/* Undoes the open transaction (or the batch's open savepoint) after an
 * error that is already reported. Some errors (SQLITE_FULL, IOERR, NOMEM)
 * make SQLite roll back by itself; then there is nothing to undo. */
static void tx_rollback(struct tm_store *s)
{
    batch_check(s);
    if (sqlite3_get_autocommit(s->db))
        return;
    if (s->batch) {
        /* Only this write's part goes. If even that cannot be undone, the
         * batch cannot be committed without half a write in it: all of it
         * goes, reported as lost. */
        if (step_quiet(s->st[ST_ROLLBACK_TO]) && step_quiet(s->st[ST_RELEASE]))
            return;
        (void)step_quiet(s->st[ST_ROLLBACK]);
        s->batch = false;
        s->batch_lost = true;
        return;
    }
    /* The first error is the one reported. A rollback that fails too
     * leaves the transaction open; the next BEGIN then fails and reports
     * it, and close rolls it back. */
    (void)step_quiet(s->st[ST_ROLLBACK]);
}

static int batch_lost_error(struct tm_store *s, struct tm_error *err)
{
    s->batch_lost = false;
    return tm_error_set(err, TM_ESTORE,
                        "%s: an earlier error rolled back the batch: its writes are not kept",
                        s->path);
}

int tm_store_batch_begin(struct tm_store *s, struct tm_error *err)
{
    STORE_LOCKED(s);
    batch_check(s);
    if (s->batch)
        return 0;
    if (s->batch_lost) /* reported here if nobody committed since */
        return batch_lost_error(s, err);
    tm_store_titles_done(s); /* as tx_begin */
    wal_rewind(s);
    int rc = run(s, s->st[ST_BEGIN], "begin batch", err);
    if (rc == 0)
        s->batch = true;
    return rc;
}

bool tm_store_batch_open(struct tm_store *s)
{
    STORE_LOCKED(s);
    return s->batch && !sqlite3_get_autocommit(s->db);
}

bool tm_store_batch_pending(struct tm_store *s)
{
    STORE_LOCKED(s);
    return s->batch || s->batch_lost;
}

int tm_store_batch_commit(struct tm_store *s, struct tm_error *err)
{
    STORE_LOCKED(s);
    batch_check(s);
    if (s->batch_lost)
        return batch_lost_error(s, err);
    if (!s->batch)
        return 0;
    int rc = run(s, s->st[ST_COMMIT], "commit batch", err);
    /* A refused COMMIT (SQLITE_BUSY) leaves the transaction open: the batch
     * stays for the next try. Otherwise it has ended, committed or not. */
    s->batch = rc != 0 && !sqlite3_get_autocommit(s->db);
    return rc;
}

/* ---- open, migrate, close --------------------------------------------- */

static int exec_sql(struct tm_store *s, const char *sql, const char *what, struct tm_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = tm_error_set(err, TM_ESTORE, "%s: %s: %s", s->path, what,
                              msg != NULL ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

/* Runs a one-row PRAGMA and copies its first column as an integer or, when
 * `text` is not NULL, as text (cut to text_size). */
static int pragma_get(struct tm_store *s, const char *sql, int64_t *num, char *text,
                      size_t text_size, struct tm_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, err, sql);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        int ret = store_fail(s, err, sql);
        sqlite3_finalize(st);
        return ret;
    }
    if (num != NULL)
        *num = sqlite3_column_int64(st, 0);
    if (text != NULL) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(text, text_size, "%s", t != NULL ? (const char *)t : "");
    }
    if (sqlite3_finalize(st) != SQLITE_OK)
        return store_fail(s, err, sql);
    return 0;
}

static int migrate(struct tm_store *s, struct tm_error *err)
{
    int64_t version = 0;
    int rc = pragma_get(s, "PRAGMA user_version", &version, NULL, 0, err);
    for (;;) {
        if (rc != 0)
            return rc;
        if (version > TM_STORE_SCHEMA_VERSION || version < 0)
            return tm_error_set(err, TM_ESTORE,
                                "%s: schema version %lld is newer than this tinmoi's (%d);"
                                " upgrade tinmoi or use another state_dir",
                                s->path, (long long)version, TM_STORE_SCHEMA_VERSION);
        if (version == TM_STORE_SCHEMA_VERSION)
            break;
        /* IMMEDIATE takes the write lock before reading the version again,
         * so two processes starting together never run the same step. */
        rc = exec_sql(s, "BEGIN IMMEDIATE", "migrate: begin", err);
        if (rc != 0)
            return rc;
        int64_t locked_version = 0;
        rc = pragma_get(s, "PRAGMA user_version", &locked_version, NULL, 0, err);
        if (rc == 0 && locked_version == version) {
            char what[64], bump[64];
            snprintf(what, sizeof what, "migrate to schema version %lld", (long long)version + 1);
            snprintf(bump, sizeof bump, "PRAGMA user_version = %lld", (long long)version + 1);
            rc = exec_sql(s, migrations[version], what, err);
            if (rc == 0)
                rc = exec_sql(s, bump, what, err);
            locked_version = version + 1;
        }
        if (rc == 0)
            rc = exec_sql(s, "COMMIT", "migrate: commit", err);
        if (rc != 0 && !sqlite3_get_autocommit(s->db)) {
            char *msg = NULL;
            if (sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, &msg) != SQLITE_OK)
                sqlite3_free(msg); /* the first error is the one reported */
        }
        version = locked_version;
    }
    s->schema_version = (int)version;
    return 0;
}

static int check_state_dir(const char *dir, struct tm_error *err)
{
    struct stat sb;
    if (dir == NULL || dir[0] == '\0')
        return tm_error_set(err, TM_EINVAL, "state_dir is empty");
    if (stat(dir, &sb) != 0)
        return tm_error_set(err, TM_EIO, "state_dir %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return tm_error_set(err, TM_EIO, "state_dir %s: %s", dir, strerror(ENOTDIR));
    /* WAL keeps -wal and -shm files beside the database: the folder itself
     * must be writable, not only the file. */
    if (access(dir, W_OK | X_OK) != 0)
        return tm_error_set(err, TM_EIO, "state_dir %s: %s", dir, strerror(errno));
    return 0;
}

int tm_store_open(const char *state_dir, struct tm_store **out, struct tm_error *err)
{
    *out = NULL;
    int rc = check_state_dir(state_dir, err);
    if (rc != 0)
        return rc;

    struct tm_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    if (uv_mutex_init_recursive(&s->lock) != 0) {
        free(s);
        return tm_error_set(err, TM_ENOMEM, "cannot make the store's lock");
    }
    size_t dlen = strlen(state_dir);
    bool slash = state_dir[dlen - 1] == '/';
    size_t plen = dlen + 1 + sizeof TM_STORE_FILENAME;
    s->path = malloc(plen);
    if (s->path == NULL) {
        tm_store_close(s);
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    }
    snprintf(s->path, plen, "%s%s%s", state_dir, slash ? "" : "/", TM_STORE_FILENAME);

    /* NOMUTEX: the store's own lock (STORE_LOCKED) already makes every use
     * of the connection one thread's at a time, which is all SQLite's
     * multi-thread mode asks; its per-call mutex was ~2 % of the writer. */
    int orc = sqlite3_open_v2(
        s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (orc != SQLITE_OK) {
        rc = tm_error_set(err, TM_ESTORE, "%s: %s", s->path,
                          s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(orc));
        goto fail;
    }
    if (sqlite3_extended_result_codes(s->db, 1) != SQLITE_OK ||
        sqlite3_busy_timeout(s->db, TM_STORE_BUSY_TIMEOUT_MS) != SQLITE_OK) {
        rc = store_fail(s, err, "configure");
        goto fail;
    }
    /* Before WAL mode: in WAL mode the page size is fixed. */
    rc = exec_sql(s, STORE_PAGE_SIZE_SQL, "configure", err);
    if (rc != 0)
        goto fail;
    char mode[16];
    rc = pragma_get(s, "PRAGMA journal_mode = WAL", NULL, mode, sizeof mode, err);
    if (rc != 0)
        goto fail;
    if (strcmp(mode, "wal") != 0) {
        rc = tm_error_set(err, TM_ESTORE, "%s: cannot use WAL mode (journal mode is %s)", s->path,
                          mode);
        goto fail;
    }
    /* NORMAL in WAL mode: a power cut may lose the last transactions, never
     * corrupt the database; the next cycle fetches them again. */
    rc = exec_sql(s, STORE_PRAGMAS, "configure", err);
    int64_t page_size = 0;
    if (rc == 0)
        rc = pragma_get(s, "PRAGMA page_size", &page_size, NULL, 0, err);
    if (rc == 0) {
        s->checkpoint_pages = STORE_CHECKPOINT_BYTES / (page_size > 0 ? page_size : 4096);
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint = %lld",
                 (long long)s->checkpoint_pages);
        rc = exec_sql(s, sql, "configure", err);
    }
    if (rc != 0)
        goto fail;
    rc = migrate(s, err);
    if (rc != 0)
        goto fail;
    start_checkpointer(s);
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            rc = store_fail(s, err, "prepare");
            goto fail;
        }
    }
    *out = s;
    return 0;

fail:
    tm_store_close(s);
    return rc;
}

void tm_store_close(struct tm_store *s)
{
    if (s == NULL)
        return;
    /* A batch its owner left open: its writes are each complete, so they
     * are kept (the owner reports a failure by committing first). */
    if (s->batch && s->st[ST_COMMIT] != NULL)
        (void)tm_store_batch_commit(s, NULL);
    if (s->checkpointer != NULL) {
        (void)sqlite3_wal_hook(s->db, NULL, NULL); /* no poke after the stop */
        tm_checkpointer_stop(s->checkpointer);
        s->checkpointer = NULL;
    }
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]); /* returns the statement's last error, already reported */
    if (s->db != NULL) {
        /* Every statement is finalised, so close cannot be refused for
         * open statements; it checkpoints and removes the -wal file. */
        if (sqlite3_close(s->db) != SQLITE_OK)
            (void)sqlite3_close_v2(s->db);
    }
    free(s->path);
    uv_mutex_destroy(&s->lock);
    free(s);
}

int tm_store_schema_version(const struct tm_store *s)
{
    return s->schema_version;
}

/* ---- sources ------------------------------------------------------------ */

static int source_upsert(struct tm_store *s, const struct tm_source *src, struct tm_error *err)
{
    if (src->id == NULL || src->url == NULL)
        return tm_error_set(err, TM_EINVAL, "source without id or url");
    sqlite3_stmt *st = s->st[ST_SRC_UPSERT];
    struct binder b = bind_start(st);
    bind_text(&b, 1, src->id);
    bind_text(&b, 2, src->url);
    bind_text(&b, 3, src->title);
    bind_text(&b, 4, src->category);
    bind_int(&b, 5, src->priority);
    int rc = bind_done(s, &b, err);
    return rc != 0 ? rc : run(s, st, "upsert source", err);
}

int tm_store_sync_sources(struct tm_store *s, const struct tm_source *sources, size_t n,
                          struct tm_error *err)
{
    STORE_LOCKED(s);
    int rc = tx_begin(s, err);
    if (rc != 0)
        return rc;
    rc = run(s, s->st[ST_SRC_UNCONFIGURE], "sync sources", err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = source_upsert(s, &sources[i], err);
    if (rc == 0)
        rc = tx_commit(s, err);
    if (rc != 0)
        tx_rollback(s);
    return rc;
}

static void state_empty(struct tm_source_state *st)
{
    memset(st, 0, sizeof *st);
    st->last_attempt_utc = TM_TIME_NONE;
    st->last_success_utc = TM_TIME_NONE;
    st->status = TM_SOURCE_NEVER;
}

/* Reads the state columns starting at `c`: etag, last_modified,
 * last_attempt_utc, last_success_utc, last_error, consecutive_failures,
 * item_count, status. */
static int state_read(sqlite3_stmt *st, int c, struct tm_source_state *out)
{
    if (col_str(st, c, &out->etag) != 0 || col_str(st, c + 1, &out->last_modified) != 0 ||
        col_str(st, c + 4, &out->last_error) != 0)
        return TM_ENOMEM;
    out->last_attempt_utc = col_time(st, c + 2);
    out->last_success_utc = col_time(st, c + 3);
    out->consecutive_failures = sqlite3_column_int(st, c + 5);
    out->item_count = sqlite3_column_int64(st, c + 6);
    out->status = status_from_text(sqlite3_column_text(st, c + 7));
    return 0;
}

int tm_store_source_state(struct tm_store *s, const char *source_id, struct tm_source_state *out,
                          struct tm_error *err)
{
    STORE_LOCKED(s);
    state_empty(out);
    sqlite3_stmt *st = s->st[ST_SRC_STATE];
    int rc = source_row(s, st, source_id, "source state", err);
    if (rc <= 0)
        return rc; /* never seen: the empty state */
    rc = state_read(st, 0, out);
    if (rc != 0)
        tm_error_set(err, rc, "out of memory");
    stmt_reset(st);
    if (rc != 0) {
        tm_source_state_clear(out);
        state_empty(out);
    }
    return rc;
}

/* Runs an UPDATE of one source row; TM_ENOENT when no row has that id. */
static int source_update(struct tm_store *s, sqlite3_stmt *st, const char *source_id,
                         const char *what, struct tm_error *err)
{
    int rc = run(s, st, what, err);
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = tm_error_set(err, TM_ENOENT, "%s: source %s is not in the store", what, source_id);
    return rc;
}

int tm_store_put_not_modified(struct tm_store *s, const char *source_id, int64_t now_utc,
                              struct tm_error *err)
{
    STORE_LOCKED(s);
    sqlite3_stmt *st = s->st[ST_SRC_NOT_MODIFIED];
    struct binder b = bind_start(st);
    bind_text(&b, 1, source_id);
    bind_int(&b, 2, now_utc);
    int rc = bind_done(s, &b, err);
    return rc != 0 ? rc : source_update(s, st, source_id, "not modified", err);
}

/* One line of at most TM_STORE_MAX_ERROR_BYTES, cut on a UTF-8 boundary. */
static char *error_line(const char *reason)
{
    if (reason == NULL)
        reason = "unknown error";
    size_t len = strlen(reason);
    if (len > TM_STORE_MAX_ERROR_BYTES) {
        len = TM_STORE_MAX_ERROR_BYTES;
        while (len > 0 && ((unsigned char)reason[len] & 0xC0) == 0x80)
            len--;
    }
    char *line = malloc(len + 1);
    if (line == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)reason[i];
        line[i] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
    }
    line[len] = '\0';
    return line;
}

int tm_store_put_failure(struct tm_store *s, const char *source_id, int64_t now_utc,
                         const char *reason, struct tm_error *err)
{
    STORE_LOCKED(s);
    char *line = error_line(reason);
    if (line == NULL)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    sqlite3_stmt *st = s->st[ST_SRC_FAILURE];
    struct binder b = bind_start(st);
    bind_text(&b, 1, source_id);
    bind_int(&b, 2, now_utc);
    bind_text(&b, 3, line);
    int rc = bind_done(s, &b, err);
    if (rc == 0)
        rc = source_update(s, st, source_id, "failure", err);
    free(line);
    return rc;
}

void tm_store_sources_free(struct tm_store_source *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].title);
        free(v[i].url);
        free(v[i].category);
        tm_source_state_clear(&v[i].state);
    }
    free(v);
}

int tm_store_list_sources(struct tm_store *s, struct tm_store_source **out, size_t *n,
                          struct tm_error *err)
{
    STORE_LOCKED(s);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = s->st[ST_SRC_LIST];
    struct tm_store_source *v = NULL;
    size_t len = 0, cap = 0;
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap == 0 ? 64 : cap * 2;
            struct tm_store_source *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                rc = TM_ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        struct tm_store_source *e = &v[len++];
        memset(e, 0, sizeof *e);
        state_empty(&e->state);
        if (col_str(st, 0, &e->id) != 0 || col_str(st, 1, &e->title) != 0 ||
            col_str(st, 2, &e->url) != 0 || col_str(st, 3, &e->category) != 0 ||
            state_read(st, 5, &e->state) != 0) {
            rc = TM_ENOMEM;
            break;
        }
        e->priority = sqlite3_column_int(st, 4);
        e->next_due_utc = col_time(st, 13);
        e->retry_after_utc = col_time(st, 14);
        e->gone = sqlite3_column_int(st, 15) != 0;
    }
    if (rc == TM_ENOMEM)
        tm_error_set(err, rc, "out of memory");
    else if (step != SQLITE_DONE)
        rc = store_fail(s, err, "list sources");
    stmt_reset(st);
    if (rc != 0) {
        tm_store_sources_free(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}

int tm_store_get_schedule(struct tm_store *s, const char *source_id, struct tm_store_schedule *out,
                          struct tm_error *err)
{
    STORE_LOCKED(s);
    out->next_due_utc = TM_TIME_NONE;
    out->retry_after_utc = TM_TIME_NONE;
    out->gone = false;
    sqlite3_stmt *st = s->st[ST_SCHED_GET];
    struct binder b = bind_start(st);
    bind_text(&b, 1, source_id);
    int rc = bind_done(s, &b, err);
    if (rc != 0)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        out->next_due_utc = col_time(st, 0);
        out->retry_after_utc = col_time(st, 1);
        out->gone = sqlite3_column_int(st, 2) != 0;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, err, "get schedule");
    }
    stmt_reset(st);
    return rc;
}

int tm_store_set_schedule(struct tm_store *s, const char *source_id,
                          const struct tm_store_schedule *schedule, struct tm_error *err)
{
    STORE_LOCKED(s);
    sqlite3_stmt *st = s->st[ST_SCHED_SET];
    struct binder b = bind_start(st);
    bind_text(&b, 1, source_id);
    bind_time(&b, 2, schedule->next_due_utc);
    bind_time(&b, 3, schedule->retry_after_utc);
    bind_int(&b, 4, schedule->gone ? 1 : 0);
    int rc = bind_done(s, &b, err);
    return rc != 0 ? rc : source_update(s, st, source_id, "set schedule", err);
}

/* ---- items: the fetching half ----------------------------------------- */

/* Item ids already written by the current put: a feed that lists the same
 * item twice (same guid, or same link and title) writes it once, instead
 * of the two copies taking turns on every cycle. Bounded by the parser's
 * TM_PARSE_MAX_ITEMS, so a linear scan is enough. */
struct touched {
    int64_t *ids;
    size_t n;
};

static bool touched_has(const struct touched *t, int64_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ids[i] == id)
            return true;
    return false;
}

/* Appends s as a JSON string exactly as jansson's json_dumps writes it
 * (the stored text is compared byte for byte to tell a changed item): '"'
 * and '\\' escaped, the C0 controls as \b \f \n \r \t or \u00XX (upper
 * hex), everything else, '/' and non-ASCII included, as is. */
static int json_string_put(struct tm_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = tm_buf_addc(b, '"');
    const char *run = s;
    for (const char *p = s; rc == 0 && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = tm_buf_add(b, run, (size_t)(p - run));
        run = p + 1;
        const char *short_esc = c == '"'    ? "\\\""
                                : c == '\\' ? "\\\\"
                                : c == '\b' ? "\\b"
                                : c == '\f' ? "\\f"
                                : c == '\n' ? "\\n"
                                : c == '\r' ? "\\r"
                                : c == '\t' ? "\\t"
                                            : NULL;
        if (rc == 0 && short_esc != NULL) {
            rc = tm_buf_add(b, short_esc, 2);
        } else if (rc == 0) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = tm_buf_add(b, u, sizeof u);
        }
    }
    if (rc == 0)
        rc = tm_buf_adds(b, run);
    return rc == 0 ? tm_buf_addc(b, '"') : rc;
}

/* The entry's categories as a compact JSON array of strings (json_dumps
 * with JSON_COMPACT, written here: 5 % of the writer thread went to
 * building and dumping jansson values for it), NULL when it has none.
 * TM_EINVAL when one is not UTF-8 (the parser's contract was broken). */
static int categories_encode(const struct tm_entry *e, char **out)
{
    *out = NULL;
    if (e->n_categories == 0)
        return 0;
    for (size_t i = 0; i < e->n_categories; i++)
        if (e->categories[i] == NULL || !tm_utf8_valid(e->categories[i], strlen(e->categories[i])))
            return TM_EINVAL;
    struct tm_buf b;
    tm_buf_init(&b, 0);
    int rc = tm_buf_addc(&b, '[');
    for (size_t i = 0; rc == 0 && i < e->n_categories; i++) {
        if (i > 0)
            rc = tm_buf_addc(&b, ',');
        if (rc == 0)
            rc = json_string_put(&b, e->categories[i]);
    }
    if (rc == 0)
        rc = tm_buf_addc(&b, ']');
    if (rc != 0) {
        tm_buf_free(&b);
        return TM_ENOMEM;
    }
    *out = tm_buf_steal(&b);
    return *out != NULL ? 0 : TM_ENOMEM;
}

/* The stored item an entry matched. */
struct found {
    int64_t id; /* 0: none */
    int64_t first_seen_utc;
    /* Set when the stored link and title equal the entry's: the stored
     * canonical link and normalised title are then reused instead of being
     * derived again (half the cost of re-putting an unchanged feed). */
    bool same_text;
    char *canonical;
    char *norm_title;
};

/* A text column (sqlite3_column_text) against a string. */
static bool text_equal(const unsigned char *stored, const char *v)
{
    return tm_str_same((const char *)stored, v);
}

/* Steps a statement returning (id, first_seen_utc[, link, title,
 * canonical_link, norm_title]); the first row whose id is not in `skip`
 * wins. With `e`, the four text columns are compared with the entry. */
static int item_find(struct tm_store *s, sqlite3_stmt *st, const struct touched *skip,
                     const struct tm_entry *e, struct found *f, struct tm_error *err)
{
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t row = sqlite3_column_int64(st, 0);
        if (skip != NULL && touched_has(skip, row))
            continue;
        f->id = row;
        f->first_seen_utc = sqlite3_column_int64(st, 1);
        if (e != NULL && text_equal(sqlite3_column_text(st, 2), e->link) &&
            text_equal(sqlite3_column_text(st, 3), e->title)) {
            if (col_str(st, 4, &f->canonical) != 0 || col_str(st, 5, &f->norm_title) != 0)
                rc = tm_error_set(err, TM_ENOMEM, "out of memory");
            f->same_text = rc == 0;
        }
        break;
    }
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = store_fail(s, err, "find item");
    stmt_reset(st);
    return rc;
}

/* The fields of one item as insert and update store them: the items row,
 * and its body in item_bodies (body_put). */
struct item_row {
    const char *source_id;
    const char *key;
    const struct tm_entry *e;
    const char *canonical;
    const char *norm_title;
    int64_t published_utc;
    int64_t first_seen_utc;
    const char *categories;
};

/* Stores the body of item `id`, new or replacing the one stored. */
static int body_put(struct tm_store *s, int64_t id, const struct item_row *r, struct tm_error *err)
{
    sqlite3_stmt *st = s->st[ST_BODY_PUT];
    struct binder b = bind_start(st);
    bind_int(&b, 1, id);
    bind_text(&b, 2, r->e->author);
    bind_text(&b, 3, r->e->summary);
    bind_text(&b, 4, r->e->content);
    bind_text(&b, 5, r->categories);
    bind_int(&b, 6, r->e->raw_html);
    bind_text(&b, 7, r->e->raw_html != 0 ? r->e->html_base : NULL);
    int rc = bind_done(s, &b, err);
    if (rc == 0)
        rc = run(s, st, "store item body", err);
    return rc;
}

static int item_insert(struct tm_store *s, const struct item_row *r, int64_t *id,
                       struct tm_error *err)
{
    sqlite3_stmt *st = s->st[ST_ITEM_INSERT];
    struct binder b = bind_start(st);
    bind_text(&b, 1, r->source_id);
    bind_text(&b, 2, r->key);
    bind_text(&b, 3, r->e->id);
    bind_text(&b, 4, r->e->title);
    bind_text(&b, 5, r->e->link);
    bind_text(&b, 6, r->canonical);
    bind_text(&b, 7, r->norm_title);
    bind_int(&b, 8, r->published_utc);
    bind_time(&b, 9, r->e->updated_utc);
    bind_int(&b, 10, r->first_seen_utc);
    bind_time(&b, 11, r->e->published_utc);
    int rc = bind_done(s, &b, err);
    if (rc == 0)
        rc = run(s, st, "insert item", err);
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(s->db);
    if (rc == 0)
        rc = body_put(s, *id, r, err);
    return rc;
}

/* Whether a summary or content reads differently: `old` as stored (raw
 * when old_raw, against old_base) against `now` (likewise). A raw field is
 * compared as its readers get it (tm_parse_html), so that markup the
 * sanitiser drops (comments, class attributes, scripts) or a base no link
 * uses is no change. */
static int html_differs(const char *old, bool old_raw, const char *old_base, const char *now,
                        bool now_raw, const char *now_base, bool *differs)
{
    *differs = false;
    if (old_raw == now_raw && tm_str_same(old, now) &&
        (!old_raw || tm_str_same(old_base, now_base)))
        return 0;
    bool oom = false, oom2 = false;
    char *a = old != NULL && old_raw ? tm_parse_html(old, strlen(old), old_base, NULL, &oom) : NULL;
    char *b =
        now != NULL && now_raw ? tm_parse_html(now, strlen(now), now_base, NULL, &oom2) : NULL;
    if (!oom && !oom2)
        *differs = !tm_str_same(old_raw ? a : old, now_raw ? b : now);
    free(a);
    free(b);
    return oom || oom2 ? TM_ENOMEM : 0;
}

/* How the stored body of item `id` compares with r's: *same when the
 * stored text is r's exactly (nothing to write), *visible when a reader
 * would see a change (the author, the categories, or a summary or content
 * as html_differs compares them). */
static int body_compare(struct tm_store *s, int64_t id, const struct item_row *r, bool *same,
                        bool *visible, struct tm_error *err)
{
    *same = false;
    *visible = true;
    sqlite3_stmt *st = s->st[ST_BODY_GET];
    struct binder b = bind_start(st);
    bind_int(&b, 1, id);
    int rc = bind_done(s, &b, err);
    if (rc != 0)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *author = (const char *)sqlite3_column_text(st, 0);
        const char *summary = (const char *)sqlite3_column_text(st, 1);
        const char *content = (const char *)sqlite3_column_text(st, 2);
        const char *cats = (const char *)sqlite3_column_text(st, 3);
        int64_t raw = sqlite3_column_int64(st, 4);
        const char *base = (const char *)sqlite3_column_text(st, 5);
        const struct tm_entry *e = r->e;
        const char *now_base = e->raw_html != 0 ? e->html_base : NULL;
        bool plain_same = tm_str_same(author, e->author) && tm_str_same(cats, r->categories);
        *same = plain_same && raw == e->raw_html && tm_str_same(base, now_base) &&
                tm_str_same(summary, e->summary) && tm_str_same(content, e->content);
        bool d_summary = false, d_content = false;
        if (!*same)
            rc = html_differs(summary, raw & TM_RAW_SUMMARY, base, e->summary,
                              e->raw_html & TM_RAW_SUMMARY, now_base, &d_summary);
        if (!*same && rc == 0)
            rc = html_differs(content, raw & TM_RAW_CONTENT, base, e->content,
                              e->raw_html & TM_RAW_CONTENT, now_base, &d_content);
        *visible = !plain_same || d_summary || d_content;
        if (rc != 0)
            tm_error_set(err, rc, "out of memory");
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, err, "read item body");
    }
    stmt_reset(st);
    return rc;
}

static int item_update(struct tm_store *s, int64_t id, const struct item_row *r, bool *changed,
                       struct tm_error *err)
{
    sqlite3_stmt *st = s->st[ST_ITEM_UPDATE];
    struct binder b = bind_start(st);
    bind_int(&b, 1, id);
    bind_text(&b, 2, r->key);
    bind_text(&b, 3, r->e->id);
    bind_text(&b, 4, r->e->title);
    bind_text(&b, 5, r->e->link);
    bind_text(&b, 6, r->canonical);
    bind_text(&b, 7, r->norm_title);
    bind_int(&b, 8, r->published_utc);
    bind_time(&b, 9, r->e->updated_utc);
    bind_time(&b, 10, r->e->published_utc);
    int rc = bind_done(s, &b, err);
    if (rc == 0)
        rc = run(s, st, "update item", err);
    *changed = rc == 0 && sqlite3_changes(s->db) > 0;
    /* A body that differs is written, but counts as a change (an update,
     * and a publish for the daemon) only when its readers would see one. */
    bool same = false, visible = false;
    if (rc == 0)
        rc = body_compare(s, id, r, &same, &visible, err);
    if (rc == 0 && !same)
        rc = body_put(s, id, r, err);
    *changed = *changed || (rc == 0 && !same && visible);
    return rc;
}

static int find_by_key(struct tm_store *s, const char *source_id, const char *key,
                       const struct tm_entry *e, struct found *f, struct tm_error *err)
{
    sqlite3_stmt *st = s->st[ST_ITEM_BY_KEY];
    struct binder b = bind_start(st);
    bind_text(&b, 1, source_id);
    bind_text(&b, 2, key);
    int rc = bind_done(s, &b, err);
    return rc != 0 ? rc : item_find(s, st, NULL, e, f, err);
}

/* The fallbacks of identity.h's lookup order when the key is new (SPEC §7:
 * "a source that changes every guid but keeps link and title does not
 * create new items"): same canonical link and normalised title; without a
 * canonical link, same normalised title and feed date. Items this put
 * already wrote are not matched again. */
static int find_by_text(struct tm_store *s, const struct item_row *r, const struct touched *t,
                        struct found *f, struct tm_error *err)
{
    sqlite3_stmt *st;
    struct binder b;
    if (r->canonical != NULL) {
        st = s->st[ST_ITEM_BY_LINK_TITLE];
        b = bind_start(st);
        bind_text(&b, 1, r->source_id);
        bind_text(&b, 2, r->canonical);
        bind_text(&b, 3, r->norm_title);
    } else {
        st = s->st[ST_ITEM_BY_TITLE_DATE];
        b = bind_start(st);
        bind_text(&b, 1, r->source_id);
        bind_text(&b, 2, r->norm_title);
        bind_time(&b, 3, r->e->published_utc);
    }
    int rc = bind_done(s, &b, err);
    return rc != 0 ? rc : item_find(s, st, t, NULL, f, err);
}

static int put_entry(struct tm_store *s, const char *source_id, const struct tm_entry *e,
                     int64_t now_utc, struct touched *t, struct tm_store_put_result *res,
                     struct tm_error *err)
{
    /* No guid, link or title: nothing identifies the entry across fetches
     * (an RSS item may be a bare description). */
    if (e->id == NULL && e->link == NULL && e->title == NULL) {
        res->skipped_entries++;
        return 0;
    }
    int rc = 0;
    struct item_row row = {.source_id = source_id, .e = e};
    struct found f = {0};
    char *key = NULL, *canonical = NULL, *norm_title = NULL, *categories = NULL;
    bool by_guid = e->id != NULL && e->id[0] != '\0';
    if (by_guid) {
        /* tm_item_key's first choice, without deriving the link and title
         * the key does not need. */
        key = tm_item_key_guid(e->id);
        if (key == NULL) {
            rc = tm_error_set(err, TM_ENOMEM, "out of memory");
            goto out;
        }
        rc = find_by_key(s, source_id, key, e, &f, err);
        if (rc != 0)
            goto out;
    }
    if (f.same_text) {
        canonical = f.canonical;
        norm_title = f.norm_title;
        f.canonical = f.norm_title = NULL;
    } else {
        canonical = e->link != NULL ? tm_link_canonical(e->link) : NULL;
        norm_title = e->title != NULL ? tm_title_normalize(e->title) : NULL;
    }
    if (!by_guid) {
        key = tm_item_key(NULL, canonical, e->title, e->published_utc);
        if (key == NULL) {
            rc = tm_error_set(err, TM_ENOMEM, "out of memory");
            goto out;
        }
        rc = find_by_key(s, source_id, key, NULL, &f, err);
        if (rc != 0)
            goto out;
    }
    if (f.id != 0 && touched_has(t, f.id)) {
        res->skipped_entries++; /* the feed lists this item twice */
        goto out;
    }
    rc = categories_encode(e, &categories);
    if (rc != 0) {
        tm_error_set(err, rc, "%s: entry %s: categories are not UTF-8", source_id, key);
        goto out;
    }
    row.key = key;
    row.canonical = canonical;
    row.norm_title = norm_title;
    row.categories = categories;
    if (f.id == 0 && norm_title != NULL) {
        rc = find_by_text(s, &row, t, &f, err);
        if (rc != 0)
            goto out;
    }
    row.first_seen_utc = f.id != 0 ? f.first_seen_utc : now_utc;
    /* An Atom entry may carry only <updated>: that is its date (SPEC §7's
     * "without a date" means neither). */
    int64_t dated_utc = e->published_utc != TM_TIME_NONE ? e->published_utc : e->updated_utc;
    row.published_utc = tm_item_published_utc(dated_utc, row.first_seen_utc);
    int64_t id = f.id;
    if (id != 0) {
        bool changed = false;
        rc = item_update(s, id, &row, &changed, err);
        if (rc == 0 && changed)
            res->updated_items++;
    } else {
        rc = item_insert(s, &row, &id, err);
        if (rc == 0)
            res->new_items++;
    }
    if (rc == 0)
        t->ids[t->n++] = id;
out:
    free(f.canonical);
    free(f.norm_title);
    free(canonical);
    free(norm_title);
    free(categories);
    free(key);
    return rc;
}

int tm_store_put_feed(struct tm_store *s, const struct tm_source *src, const struct tm_feed *feed,
                      int64_t now_utc, const char *etag, const char *last_modified,
                      struct tm_store_put_result *res, struct tm_error *err)
{
    STORE_LOCKED(s);
    struct tm_store_put_result local = {0};
    struct touched t = {NULL, 0};
    if (feed->n_entries > 0) {
        t.ids = malloc(feed->n_entries * sizeof *t.ids);
        if (t.ids == NULL)
            return tm_error_set(err, TM_ENOMEM, "out of memory");
    }
    int rc = cache_for(s, false, err);
    if (rc == 0)
        rc = tx_begin(s, err);
    if (rc != 0)
        goto out;
    rc = source_upsert(s, src, err);
    for (size_t i = 0; rc == 0 && i < feed->n_entries; i++)
        rc = put_entry(s, src->id, &feed->entries[i], now_utc, &t, &local, err);
    if (rc == 0) {
        sqlite3_stmt *st = s->st[ST_SRC_SUCCESS];
        struct binder b = bind_start(st);
        bind_text(&b, 1, src->id);
        bind_int(&b, 2, now_utc);
        bind_text(&b, 3, etag);
        bind_text(&b, 4, last_modified);
        bind_int(&b, 5, (int64_t)local.new_items);
        rc = bind_done(s, &b, err);
        if (rc == 0)
            rc = source_update(s, st, src->id, "record success", err);
    }
    if (rc == 0)
        rc = tx_commit(s, err);
    if (rc != 0)
        tx_rollback(s);
out:
    free(t.ids);
    if (res != NULL)
        *res = rc == 0 ? local : (struct tm_store_put_result){0};
    return rc;
}

/* ---- items: the publishing half --------------------------------------- */

static int categories_decode(const char *text, struct tm_item *it)
{
    if (text == NULL)
        return 0;
    json_t *a = json_loads(text, 0, NULL);
    if (a == NULL || !json_is_array(a)) {
        json_decref(a);
        return TM_ESTORE;
    }
    size_t n = json_array_size(a);
    if (n > 0) {
        it->categories = calloc(n, sizeof *it->categories);
        if (it->categories == NULL) {
            json_decref(a);
            return TM_ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *c = json_string_value(json_array_get(a, i));
        if (c == NULL)
            continue;
        it->categories[it->n_categories] = strdup(c);
        if (it->categories[it->n_categories] == NULL) {
            json_decref(a);
            return TM_ENOMEM;
        }
        it->n_categories++;
    }
    json_decref(a);
    return 0;
}

/* Column i, an HTML field: copied when stored sanitised, sanitised
 * (tm_parse_html) when stored raw, so that no reader of the store sees the
 * feed's HTML as it came. */
static int col_html(sqlite3_stmt *st, int i, bool raw, const char *base, char **out)
{
    if (!raw)
        return col_str(st, i, out);
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return 0;
    const char *t = (const char *)sqlite3_column_text(st, i);
    if (t == NULL)
        return TM_ENOMEM;
    bool oom = false;
    *out = tm_parse_html(t, (size_t)sqlite3_column_bytes(st, i), base, NULL, &oom);
    return oom ? TM_ENOMEM : 0;
}

static int item_read(sqlite3_stmt *st, struct tm_item *it)
{
    char *categories = NULL;
    int64_t raw = sqlite3_column_int64(st, 17);
    const char *base = (const char *)sqlite3_column_text(st, 18);
    if (base == NULL && sqlite3_column_type(st, 18) != SQLITE_NULL)
        return TM_ENOMEM;
    it->rowid = sqlite3_column_int64(st, 0);
    it->source_priority = sqlite3_column_int(st, 2);
    it->published_utc = sqlite3_column_int64(st, 9);
    it->updated_utc = col_time(st, 10);
    it->first_seen_utc = sqlite3_column_int64(st, 11);
    if (col_str(st, 1, &it->source_id) != 0 || col_str(st, 3, &it->key) != 0 ||
        col_str(st, 4, &it->guid) != 0 || col_str(st, 5, &it->title) != 0 ||
        col_str(st, 6, &it->link) != 0 || col_str(st, 7, &it->canonical_link) != 0 ||
        col_str(st, 8, &it->norm_title) != 0 || col_str(st, 12, &it->author) != 0 ||
        col_html(st, 13, raw & TM_RAW_SUMMARY, base, &it->summary) != 0 ||
        col_html(st, 14, raw & TM_RAW_CONTENT, base, &it->content) != 0 ||
        col_str(st, 15, &categories) != 0 || col_str(st, 16, &it->entry_id) != 0) {
        free(categories);
        return TM_ENOMEM;
    }
    int rc = categories_decode(categories, it);
    free(categories);
    return rc;
}

/* item_read, with the failure reported in `err`. */
static int item_read_reported(struct tm_store *s, sqlite3_stmt *st, struct tm_item *it,
                              struct tm_error *err)
{
    int rc = item_read(st, it);
    if (rc == TM_ESTORE)
        tm_error_set(err, rc, "%s: item %lld: categories are not a JSON array", s->path,
                     (long long)it->rowid);
    else if (rc != 0)
        tm_error_set(err, rc, "out of memory");
    return rc;
}

int tm_store_load_items(struct tm_store *s, struct tm_item **items, size_t *n, struct tm_error *err)
{
    STORE_LOCKED(s);
    *items = NULL;
    *n = 0;
    sqlite3_stmt *st = s->st[ST_ITEM_LOAD];
    int rc = 0;
    struct tm_item *v = NULL;
    size_t len = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == TM_STORE_MAX_LOAD_ITEMS) {
            rc = tm_error_set(err, TM_ELIMIT, "%s: more than %d items to load", s->path,
                              TM_STORE_MAX_LOAD_ITEMS);
            break;
        }
        if (len == cap) {
            size_t ncap = cap == 0 ? 256 : cap * 2;
            struct tm_item *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                rc = tm_error_set(err, TM_ENOMEM, "out of memory");
                break;
            }
            v = nv;
            cap = ncap;
        }
        struct tm_item *it = &v[len++];
        memset(it, 0, sizeof *it);
        rc = item_read_reported(s, st, it, err);
        if (rc != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_fail(s, err, "load items");
    stmt_reset(st);
    if (rc != 0) {
        tm_items_free(v, len);
        return rc;
    }
    *items = v;
    *n = len;
    return 0;
}

int tm_store_load_shown(struct tm_store *s, const int64_t *rowids, size_t n_rowids,
                        struct tm_item **items, struct tm_error *err)
{
    STORE_LOCKED(s);
    *items = NULL;
    if (n_rowids == 0)
        return 0;
    struct tm_item *v = calloc(n_rowids, sizeof *v);
    if (v == NULL)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    sqlite3_stmt *st = s->st[ST_ITEM_SHOWN];
    int rc = 0;
    for (size_t k = 0; k < n_rowids && rc == 0; k++) {
        struct binder b = bind_start(st);
        bind_int(&b, 1, rowids[k]);
        rc = bind_done(s, &b, err);
        if (rc != 0)
            break;
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            rc = item_read_reported(s, st, &v[k], err);
        else if (step == SQLITE_DONE)
            rc = tm_error_set(err, TM_ENOENT, "%s: item %lld is gone", s->path,
                              (long long)rowids[k]);
        else
            rc = store_fail(s, err, "load shown items");
        stmt_reset(st);
    }
    if (rc != 0) {
        tm_items_free(v, n_rowids);
        return rc;
    }
    *items = v;
    return 0;
}

/* ---- the merge's rows ---------------------------------------------------- */

/* Bytes of one arena block: large enough that the per-block overhead is
 * nothing, small enough that the last, partly used block wastes little. */
#define TM_STORE_ARENA_BLOCK_BYTES (1024 * 1024)

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
};

/* Every string of a tm_store_rows (entry ids, source ids), bump-allocated:
 * one malloc per MiB instead of one per item. */
struct tm_store_arena {
    struct arena_block *head;
};

/* `n` bytes, unaligned (strings only). */
static char *arena_alloc(struct tm_store_arena *a, size_t n)
{
    struct arena_block *b = a->head;
    size_t at = b != NULL ? b->used : 0;
    if (b == NULL || at + n > b->cap) {
        size_t cap = n > TM_STORE_ARENA_BLOCK_BYTES ? n : TM_STORE_ARENA_BLOCK_BYTES;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
        at = 0;
    }
    b->used = at + n;
    return b->data + at;
}

static char *arena_str(struct tm_store_arena *a, const char *t, size_t len)
{
    char *d = arena_alloc(a, len + 1);
    if (d != NULL) {
        memcpy(d, t, len);
        d[len] = '\0';
    }
    return d;
}

/* A text column copied into the arena; NULL stays NULL. */
static int col_arena(struct tm_store_arena *a, sqlite3_stmt *st, int i, const char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return 0;
    const unsigned char *t = sqlite3_column_text(st, i);
    if (t == NULL)
        return TM_ENOMEM;
    *out = arena_str(a, (const char *)t, (size_t)sqlite3_column_bytes(st, i));
    return *out != NULL ? 0 : TM_ENOMEM;
}

/* tm_merge_hash of a text column, without a copy. */
static uint64_t col_hash(sqlite3_stmt *st, int i)
{
    return tm_merge_hash((const char *)sqlite3_column_text(st, i));
}

/* The configured sources, sorted: the ids the rows' numbers index (a
 * number is the place in ST_ROWS_SOURCES' order, which ST_ITEM_ROWS
 * numbers the same way), with their dates not yet seen. */
static int rows_sources(struct tm_store *s, struct tm_store_rows *out, struct tm_error *err)
{
    sqlite3_stmt *st = s->st[ST_ROWS_SOURCES];
    size_t cap = 0;
    int step, rc = 0;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (out->n_sources == cap) {
            cap = cap != 0 ? 2 * cap : 256;
            const char **ids = realloc(out->source_ids, cap * sizeof *ids);
            if (ids != NULL)
                out->source_ids = ids;
            int64_t *dates = realloc(out->source_updated_utc, cap * sizeof *dates);
            if (dates != NULL)
                out->source_updated_utc = dates;
            if (ids == NULL || dates == NULL)
                rc = tm_error_set(err, TM_ENOMEM, "out of memory");
        }
        const char *copy = rc == 0 && id != NULL ? arena_str(out->arena, id, strlen(id)) : NULL;
        if (rc == 0 && copy == NULL)
            rc = tm_error_set(err, TM_ENOMEM, "out of memory");
        if (rc == 0) {
            out->source_ids[out->n_sources] = copy;
            out->source_updated_utc[out->n_sources++] = TM_TIME_NONE;
        }
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_fail(s, err, "list sources");
    stmt_reset(st);
    return rc;
}

/* One row of ST_ITEM_ROWS. */
static int row_read(struct tm_store_rows *out, sqlite3_stmt *st, struct tm_merge_row *r)
{
    struct tm_store_arena *a = out->arena;
    *r = (struct tm_merge_row){
        .rowid = sqlite3_column_int64(st, 0),
        .priority = sqlite3_column_int(st, 2),
        .link_hash = col_hash(st, 4),
        .title_hash = col_hash(st, 5),
        .published_utc = sqlite3_column_int64(st, 6),
        .first_seen_utc = sqlite3_column_int64(st, 8),
    };
    int64_t updated = col_time(st, 7);
    int64_t number = sqlite3_column_int64(st, 1);
    if (number < 0 || (uint64_t)number >= out->n_sources)
        return TM_ESTORE; /* a source configured between the two queries */
    r->source = (uint32_t)number;
    if (col_arena(a, st, 9, &r->entry_id) != 0)
        return TM_ENOMEM;
    r->id_hash =
        tm_entry_id_hash(out->source_ids[r->source], (const char *)sqlite3_column_text(st, 3));

    int64_t t = tm_item_changed_utc(r->published_utc, updated);
    int64_t *latest = &out->source_updated_utc[r->source];
    if (*latest == TM_TIME_NONE || t > *latest)
        *latest = t;
    return 0;
}

static void arena_free(struct tm_store_arena *a)
{
    if (a == NULL)
        return;
    for (struct arena_block *b = a->head, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

void tm_store_rows_free_rows(struct tm_store_rows *set)
{
    if (set == NULL)
        return;
    free(set->rows);
    set->rows = NULL;
    set->n = 0;
}

void tm_store_rows_clear(struct tm_store_rows *set)
{
    if (set == NULL)
        return;
    free(set->rows);
    free(set->source_ids); /* the ids themselves are in the arena */
    free(set->source_updated_utc);
    arena_free(set->arena);
    *set = (struct tm_store_rows){0};
}

int tm_store_load_rows(struct tm_store *s, struct tm_store_rows *out, struct tm_error *err)
{
    STORE_LOCKED(s);
    *out = (struct tm_store_rows){0};
    out->arena = calloc(1, sizeof *out->arena);
    if (out->arena == NULL)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    int rc = cache_for(s, true, err);
    /* The peak of the process is here: the pages the cache let go (the
     * writer thread's) and what the fetching half freed go back to the
     * system before the rows come. */
    tm_heap_release();
    if (rc == 0)
        rc = rows_sources(s, out, err);
    if (rc != 0) {
        tm_store_rows_clear(out);
        return rc;
    }
    sqlite3_stmt *st = s->st[ST_ITEM_ROWS];
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == TM_STORE_MAX_LOAD_ITEMS) {
            rc = tm_error_set(err, TM_ELIMIT, "%s: more than %d items to load", s->path,
                              TM_STORE_MAX_LOAD_ITEMS);
            break;
        }
        if (out->n == cap) {
            size_t ncap = cap == 0 ? 1024 : cap * 2;
            struct tm_merge_row *nv = realloc(out->rows, ncap * sizeof *nv);
            if (nv == NULL) {
                rc = tm_error_set(err, TM_ENOMEM, "out of memory");
                break;
            }
            out->rows = nv;
            cap = ncap;
        }
        rc = row_read(out, st, &out->rows[out->n]);
        if (rc != 0) {
            tm_error_set(err, rc, "%s: load items: %s", s->path,
                         rc == TM_ESTORE ? "the sources changed while loading" : "out of memory");
            break;
        }
        out->n++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_fail(s, err, "load items");
    stmt_reset(st);
    if (rc != 0) {
        tm_store_rows_clear(out);
        return rc;
    }
    /* The doubling's slack back (mremap for an array this size: no copy). */
    if (out->n > 0 && out->n < cap) {
        struct tm_merge_row *nv = realloc(out->rows, out->n * sizeof *nv);
        if (nv != NULL)
            out->rows = nv;
    }
    return 0;
}

/* Moves the title cursor one row on. */
static int title_step(struct tm_store *s, struct tm_error *err)
{
    sqlite3_stmt *st = s->st[ST_ITEM_TITLES];
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        s->title_at = sqlite3_column_int64(st, 0);
        return 0;
    }
    if (step == SQLITE_DONE) {
        tm_store_titles_done(s);
        return 0;
    }
    int rc = store_fail(s, err, "load a title");
    tm_store_titles_done(s);
    return rc;
}

/* Puts the title cursor on the first row from `rowid` on. */
static int title_seek(struct tm_store *s, int64_t rowid, struct tm_error *err)
{
    tm_store_titles_done(s);
    struct binder b = bind_start(s->st[ST_ITEM_TITLES]);
    bind_int(&b, 1, rowid);
    int rc = bind_done(s, &b, err);
    if (rc != 0)
        return rc;
    s->title_open = true;
    return title_step(s, err);
}

int tm_store_title(struct tm_store *s, int64_t rowid, const char **title, struct tm_error *err)
{
    STORE_LOCKED(s);
    *title = NULL;
    int rc = 0;
    if (!s->title_open || rowid < s->title_at)
        rc = title_seek(s, rowid, err);
    for (int k = 0; rc == 0 && s->title_open && s->title_at < rowid; k++)
        rc = k < TITLE_MAX_STEPS ? title_step(s, err) : title_seek(s, rowid, err);
    if (rc != 0)
        return rc;
    if (!s->title_open || s->title_at != rowid)
        return tm_error_set(err, TM_ENOENT, "%s: item %lld is gone", s->path, (long long)rowid);
    /* The row's own text: valid until the cursor moves, as promised. */
    *title = (const char *)sqlite3_column_text(s->st[ST_ITEM_TITLES], 1);
    if (*title == NULL && sqlite3_errcode(s->db) == SQLITE_NOMEM)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    return 0;
}

void tm_store_titles_done(struct tm_store *s)
{
    STORE_LOCKED(s);
    if (s->title_open)
        stmt_reset(s->st[ST_ITEM_TITLES]);
    s->title_open = false;
}

static int cache_for(struct tm_store *s, bool small, struct tm_error *err)
{
    if (s->cache_small == small)
        return 0;
    int rc = exec_sql(s, small ? STORE_CACHE_LOAD : STORE_CACHE_PUT, "cache size", err);
    if (rc == 0)
        s->cache_small = small;
    return rc;
}

int tm_store_set_entry_ids(struct tm_store *s, const struct tm_merge_id_write *w, size_t n,
                           tm_store_confirm_fn confirm, void *confirm_arg, struct tm_error *err)
{
    STORE_LOCKED(s);
    if (n == 0)
        return confirm != NULL ? confirm(confirm_arg, err) : 0;
    /* The small cache: the rows are appended in rowid order, so a few pages
     * are all the writes touch, while the archive's stories are in memory. */
    int rc = cache_for(s, true, err);
    if (rc == 0)
        rc = tx_begin(s, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = s->st[ST_ITEM_SET_ENTRY];
    for (size_t k = 0; rc == 0 && k < n; k++) {
        struct binder b = bind_start(st);
        bind_int(&b, 1, w[k].rowid);
        bind_text(&b, 2, w[k].entry_id);
        rc = bind_done(s, &b, err);
        if (rc == 0)
            rc = run(s, st, "set entry id", err);
    }
    if (rc == 0 && confirm != NULL)
        rc = confirm(confirm_arg, err);
    if (rc == 0)
        rc = tx_commit(s, err);
    if (rc != 0)
        tx_rollback(s);
    return rc;
}

/* ---- permanent redirects (the daemon) ---------------------------------- */

int tm_store_get_url_override(struct tm_store *s, const char *source_id, const char *config_url,
                              char **url, struct tm_error *err)
{
    STORE_LOCKED(s);
    *url = NULL;
    sqlite3_stmt *st = s->st[ST_SRC_MOVED];
    int rc = source_row(s, st, source_id, "get url override", err);
    if (rc <= 0)
        return rc;
    const char *from = (const char *)sqlite3_column_text(st, 0);
    const char *to = (const char *)sqlite3_column_text(st, 1);
    rc = 0;
    if (from && to && config_url && strcmp(from, config_url) == 0) {
        *url = strdup(to);
        if (*url == NULL)
            rc = tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
    }
    stmt_reset(st);
    return rc;
}

int tm_store_set_url_override(struct tm_store *s, const char *source_id, const char *config_url,
                              const char *url, struct tm_error *err)
{
    STORE_LOCKED(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "UPDATE sources SET moved_from = ?2, moved_to = ?3 WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, err, "set url override");
    int rc = 0;
    if (sqlite3_bind_text(st, 1, source_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, url ? config_url : NULL, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, url, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE)
        rc = store_fail(s, err, "set url override");
    else if (sqlite3_changes(s->db) == 0)
        rc = tm_error_set(err, TM_ENOENT, "set url override: source %s is not in the store",
                          source_id);
    sqlite3_finalize(st);
    return rc;
}

/* ---- 410 Gone (the daemon) --------------------------------------------- */

int tm_store_set_gone_url(struct tm_store *s, const char *source_id, const char *config_url,
                          struct tm_error *err)
{
    STORE_LOCKED(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "UPDATE sources SET gone_url = ?2 WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return store_fail(s, err, "set gone url");
    int rc = 0;
    if (sqlite3_bind_text(st, 1, source_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, config_url, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE)
        rc = store_fail(s, err, "set gone url");
    else if (sqlite3_changes(s->db) == 0)
        rc = tm_error_set(err, TM_ENOENT, "set gone url: source %s is not in the store", source_id);
    sqlite3_finalize(st);
    return rc;
}

int tm_store_gone_for(struct tm_store *s, const char *source_id, const char *config_url, bool *gone,
                      struct tm_error *err)
{
    STORE_LOCKED(s);
    *gone = false;
    sqlite3_stmt *st = s->st[ST_SRC_GONE];
    int rc = source_row(s, st, source_id, "get gone url", err);
    if (rc <= 0)
        return rc;
    const char *url = (const char *)sqlite3_column_text(st, 1);
    *gone = sqlite3_column_int(st, 0) != 0 && url != NULL && config_url != NULL &&
            strcmp(url, config_url) == 0;
    stmt_reset(st);
    return 0;
}
