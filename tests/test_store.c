/* Tests of the SQLite state store (SPEC §7, issue 3 item 3). Each test gets
 * a fresh state_dir from mkdtemp and removes it afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include <dirent.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "tinmoi/identity.h"
#include "tinmoi/store.h"
#include "tinmoi/view.h"

#include "store_peek.h"
#include "store_fixture.h"

/* 2022-05-31T03:55:00Z, the portal's newest story. */
#define T0 INT64_C(1653969300)
#define DAY INT64_C(86400)

static struct tm_source src_a = {
    .id = "huyen-nhu-thanh",
    .title = "Huyện Như Thanh",
    .url = "http://nhuthanh.example/rss",
    .category = "district",
    .priority = 1,
};

static struct tm_source src_b = {
    .id = "tinh-thanh-hoa",
    .title = "Tỉnh Thanh Hóa",
    .url = "http://thanhhoa.example/rss",
    .category = "province",
    .priority = 5,
};

static char *dup_or_null(const char *s)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

static struct tm_feed *feed_new(size_t n)
{
    struct tm_feed *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->format = TM_FORMAT_RSS20;
    f->updated_utc = TM_TIME_NONE;
    if (n > 0) {
        f->entries = calloc(n, sizeof *f->entries);
        assert_non_null(f->entries);
    }
    f->n_entries = n;
    return f;
}

static void entry_set(struct tm_feed *f, size_t i, const char *guid, const char *title,
                      const char *link, int64_t published_utc)
{
    struct tm_entry *e = &f->entries[i];
    tm_entry_clear(e);
    memset(e, 0, sizeof *e);
    e->id = dup_or_null(guid);
    e->title = dup_or_null(title);
    e->link = dup_or_null(link);
    e->published_utc = published_utc;
    e->updated_utc = TM_TIME_NONE;
}

/* The portal-like feed used by most tests: three dated entries. */
static struct tm_feed *feed_three(void)
{
    struct tm_feed *f = feed_new(3);
    entry_set(f, 0, "g1", "Kế hoạch chuyển đổi số ngành xây dựng", "http://nhuthanh.example/tin/1",
              T0);
    entry_set(f, 1, "g2", "Hội nghị tổng kết năm 2021", "http://nhuthanh.example/tin/2", T0 - 3600);
    entry_set(f, 2, "g3", "Thông báo lịch tiếp công dân", "http://nhuthanh.example/tin/3",
              T0 - 7200);
    f->entries[0].summary = dup_or_null("<p>Tóm tắt</p>");
    f->entries[0].categories = calloc(2, sizeof(char *));
    assert_non_null(f->entries[0].categories);
    f->entries[0].categories[0] = dup_or_null("Chuyển đổi số");
    f->entries[0].categories[1] = dup_or_null("Xây dựng");
    f->entries[0].n_categories = 2;
    return f;
}

static void put(struct fixture *fx, const struct tm_source *src, const struct tm_feed *f,
                int64_t now, struct tm_store_put_result *res)
{
    struct tm_error err = {0};
    int rc = tm_store_put_feed(fx->store, src, f, now, NULL, NULL, res, &err);
    if (rc != 0)
        fail_msg("put_feed: %s", err.msg);
}

static size_t load_all(struct fixture *fx, struct tm_item **items)
{
    size_t n = 0;
    struct tm_error err = {0};
    int rc = tm_store_load_items(fx->store, items, &n, &err);
    if (rc != 0)
        fail_msg("load_items: %s", err.msg);
    return n;
}

static const struct tm_item *by_title(const struct tm_item *items, size_t n, const char *title)
{
    for (size_t i = 0; i < n; i++)
        if (items[i].title != NULL && strcmp(items[i].title, title) == 0)
            return &items[i];
    return NULL;
}

static struct tm_source_state state_of(struct fixture *fx, const char *id)
{
    struct tm_source_state st;
    struct tm_error err = {0};
    int rc = tm_store_source_state(fx->store, id, &st, &err);
    if (rc != 0)
        fail_msg("source_state: %s", err.msg);
    return st;
}

/* ---- open ---------------------------------------------------------------- */

static void test_create_and_reopen(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(tm_store_schema_version(fx->store), TM_STORE_SCHEMA_VERSION);
    tm_store_close(fx->store);
    fx->store = NULL;

    char path[128];
    snprintf(path, sizeof path, "%s/tinmoi.db", fx->dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), TM_STORE_SCHEMA_VERSION);
    sqlite3_finalize(st);
    /* A new database takes 16 KiB pages (see STORE_PAGE_SIZE_SQL). */
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 16384);
    sqlite3_finalize(st);
    sqlite3_close(db);

    struct tm_error err = {0};
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);
    assert_int_equal(tm_store_schema_version(fx->store), TM_STORE_SCHEMA_VERSION);

    /* Data written before a reopen is still there after it. */
    struct tm_feed *f = feed_three();
    put(fx, &src_a, f, T0, NULL);
    tm_store_close(fx->store);
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);
    struct tm_item *items = NULL;
    assert_int_equal(load_all(fx, &items), 3);
    tm_items_free(items, 3);
    tm_feed_free(f);
}

/* A database made with other pages keeps them: the page size is fixed
 * once it holds data, and the store works on it all the same. */
static void test_existing_page_size_kept(void **state)
{
    struct fixture *fx = *state;
    tm_store_close(fx->store);
    fx->store = NULL;
    char path[128], side[160];
    snprintf(path, sizeof path, "%s/tinmoi.db", fx->dir);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
        (void)unlink(side);
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;"
                                  "CREATE TABLE older (a)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct tm_error err = {0};
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);
    struct tm_feed *f = feed_three();
    put(fx, &src_a, f, T0, NULL);
    tm_feed_free(f);
    struct tm_item *items = NULL;
    assert_int_equal(load_all(fx, &items), 3);
    tm_items_free(items, 3);
    tm_store_close(fx->store);
    fx->store = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 4096);
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);
}

static void test_missing_state_dir(void **state)
{
    struct fixture *fx = *state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/nope", fx->dir);
    struct tm_store *s = (struct tm_store *)(uintptr_t)1; /* must be reset to NULL */
    struct tm_error err = {0};
    assert_int_equal(tm_store_open(dir, &s, &err), TM_EIO);
    assert_null(s);
    char want[200];
    snprintf(want, sizeof want, "state_dir %s: No such file or directory", dir);
    assert_string_equal(err.msg, want);
    /* The folder is not created. */
    struct stat sb;
    assert_int_not_equal(stat(dir, &sb), 0);

    /* A file where the folder should be. */
    char file[128];
    snprintf(file, sizeof file, "%s/tinmoi.db", fx->dir);
    assert_int_equal(tm_store_open(file, &s, &err), TM_EIO);
    snprintf(want, sizeof want, "state_dir %s: Not a directory", file);
    assert_string_equal(err.msg, want);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *fx = *state;
    tm_store_close(fx->store);
    fx->store = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/tinmoi.db", fx->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    struct tm_error err = {0};
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), TM_ESTORE);
    assert_null(fx->store);
    assert_non_null(strstr(err.msg, "schema version 99 is newer"));
}

/* Schema 3 kept an item's body in its items row; 4 moves it to
 * item_bodies, 5 drops the two date indexes, 6 moves the entry ids to
 * item_entries and 7 marks every body sanitised (raw_html). A store written
 * by schema 3 (rebuilt here from a current one by undoing the steps) keeps
 * every body and entry id, loses the indexes, and a re-put of the same
 * feed finds nothing changed. */
static void test_migration_moves_bodies(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    struct tm_store_put_result res;
    put(fx, &src_a, f, T0, &res);
    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    struct tm_story story = {
        .primary = 1, .members = (size_t[]){1}, .n_members = 1, .entry_id = "E1"};
    struct tm_error err = {0};
    assert_int_equal(set_entry_ids_of(fx->store, items, n, &story, 1, &err), 0);
    int64_t decided = items[1].rowid;
    tm_items_free(items, n);
    tm_store_close(fx->store);
    fx->store = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/tinmoi.db", fx->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    const char *undo = "BEGIN;"
                       "ALTER TABLE items ADD COLUMN author TEXT;"
                       "ALTER TABLE items ADD COLUMN summary TEXT;"
                       "ALTER TABLE items ADD COLUMN content TEXT;"
                       "ALTER TABLE items ADD COLUMN categories TEXT;"
                       "UPDATE items SET author = b.author, summary = b.summary,"
                       " content = b.content, categories = b.categories"
                       " FROM item_bodies b WHERE b.item_id = items.id;"
                       "DROP TABLE item_bodies;"
                       "CREATE INDEX items_published ON items(published_utc);"
                       "CREATE INDEX items_first_seen ON items(first_seen_utc);"
                       "ALTER TABLE items ADD COLUMN entry_id TEXT;"
                       "UPDATE items SET entry_id = e.entry_id"
                       " FROM item_entries e WHERE e.item_id = items.id;"
                       "DROP TABLE item_entries;"
                       "PRAGMA user_version = 3;"
                       "COMMIT;";
    char *msg = NULL;
    if (sqlite3_exec(db, undo, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("undo: %s", msg);
    sqlite3_close(db);

    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);
    assert_int_equal(tm_store_schema_version(fx->store), TM_STORE_SCHEMA_VERSION);
    /* 4 -> 5 dropped the two date indexes; 5 -> 6 dropped items.entry_id,
     * and every id it moved has its item. */
    assert_int_equal(peek_int(fx->dir, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                       " AND name IN ('items_published', 'items_first_seen')"),
                     0);
    assert_int_equal(
        peek_int(fx->dir,
                 "SELECT count(*) FROM pragma_table_info('items') WHERE name = 'entry_id'"),
        0);
    assert_int_equal(peek_int(fx->dir, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    /* 6 -> 7: every body moved is marked sanitised, as it was. */
    assert_int_equal(peek_int(fx->dir, "SELECT count(*) FROM item_bodies WHERE raw_html = 0"
                                       " AND html_base IS NULL"),
                     3);
    n = load_all(fx, &items);
    assert_int_equal(n, 3);
    const struct tm_item *it = by_title(items, n, "Kế hoạch chuyển đổi số ngành xây dựng");
    assert_non_null(it);
    assert_string_equal(it->summary, "<p>Tóm tắt</p>");
    assert_int_equal(it->n_categories, 2);
    assert_string_equal(it->categories[1], "Xây dựng");
    /* 5 -> 6 kept the one entry id there was, on its item. */
    for (size_t i = 0; i < n; i++) {
        if (items[i].rowid == decided)
            assert_string_equal(items[i].entry_id, "E1");
        else
            assert_null(items[i].entry_id);
    }
    tm_items_free(items, n);
    put(fx, &src_a, f, T0 + 900, &res);
    assert_int_equal(res.new_items, 0);
    assert_int_equal(res.updated_items, 0);
    tm_feed_free(f);
}

/* The rows carry the merge's fields and the per-source dates, the titles
 * come one at a time from tm_store_title, and tm_store_load_shown gives
 * whole items equal to the full load's. */
static void test_rows_and_shown(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    put(fx, &src_a, f, T0, NULL);
    tm_feed_free(f);
    struct tm_item *full = NULL;
    size_t n = load_all(fx, &full);
    struct tm_store_rows set = {0};
    struct tm_error err = {0};
    assert_int_equal(tm_store_load_rows(fx->store, &set, &err), 0);
    assert_int_equal(set.n, n);
    assert_int_equal(set.n_sources, 1);
    assert_string_equal(set.source_ids[0], src_a.id);
    int64_t latest = TM_TIME_NONE, rowids[2] = {0, 0};
    size_t with_summary = 0;
    for (size_t i = 0; i < n; i++) {
        const struct tm_item *a = &full[i];
        const struct tm_merge_row *b = NULL;
        for (size_t k = 0; k < set.n; k++)
            b = set.rows[k].rowid == a->rowid ? &set.rows[k] : b;
        assert_non_null(b);
        assert_string_equal(set.source_ids[b->source], a->source_id);
        assert_true(b->id_hash == tm_entry_id_hash(a->source_id, a->key));
        assert_true(b->link_hash == tm_merge_hash(a->canonical_link));
        assert_true(b->title_hash == tm_merge_hash(a->norm_title));
        assert_null(b->norm_title);
        const char *title = NULL;
        assert_int_equal(tm_store_title(fx->store, b->rowid, &title, &err), 0);
        assert_string_equal(title, a->norm_title);
        assert_null(b->entry_id);
        assert_int_equal(b->published_utc, a->published_utc);
        assert_int_equal(b->first_seen_utc, a->first_seen_utc);
        assert_int_equal(b->priority, a->source_priority);
        int64_t t = tm_view_item_updated_utc(a);
        latest = latest == TM_TIME_NONE || t > latest ? t : latest;
        if (a->summary != NULL)
            with_summary = i;
    }
    assert_int_equal(set.source_updated_utc[0], latest);
    const char *title = NULL;
    assert_int_equal(tm_store_title(fx->store, 999999, &title, &err), TM_ENOENT);
    assert_null(title);
    tm_store_rows_clear(&set);
    tm_store_rows_clear(&set); /* cleared twice: still fine */

    struct tm_item *shown = NULL;
    rowids[0] = full[with_summary].rowid;
    rowids[1] = full[0].rowid;
    assert_int_equal(tm_store_load_shown(fx->store, rowids, 2, &shown, &err), 0);
    const struct tm_item *a = &full[with_summary], *b = &shown[0];
    assert_int_equal(a->rowid, b->rowid);
    assert_string_equal(a->title, b->title);
    assert_string_equal(a->link, b->link);
    assert_string_equal(a->summary, b->summary);
    assert_int_equal(a->n_categories, b->n_categories);
    assert_string_equal(a->categories[0], b->categories[0]);
    assert_int_equal(shown[1].rowid, full[0].rowid);
    tm_items_free(shown, 2);
    rowids[1] = 999999;
    assert_int_equal(tm_store_load_shown(fx->store, rowids, 2, &shown, &err), TM_ENOENT);
    assert_null(shown);
    tm_items_free(full, n);
}

/* tm_store_title's cursor: forward steps, a long gap, a step back, a row
 * past the end and a title-less row each give the row's own title. */
static void test_title_cursor(void **state)
{
    struct fixture *fx = *state;
    enum { N = 100, NO_TITLE = 50 };
    struct tm_feed *f = feed_new(N);
    char guid[32], title[64], link[64];
    for (size_t i = 0; i < N; i++) {
        snprintf(guid, sizeof guid, "c%zu", i);
        snprintf(title, sizeof title, "Tin số %zu", i);
        snprintf(link, sizeof link, "http://nhuthanh.example/tin/c%zu", i);
        entry_set(f, i, guid, i == NO_TITLE ? NULL : title, link, T0 - (int64_t)i * 60);
    }
    put(fx, &src_a, f, T0, NULL);
    tm_feed_free(f);
    struct tm_item *full = NULL;
    size_t n = load_all(fx, &full);
    assert_int_equal(n, N);
    for (size_t i = 1; i < n; i++)
        assert_true(full[i].rowid > full[i - 1].rowid); /* loaded in rowid order */
    int64_t last = full[n - 1].rowid;
    /* every row, every third, a gap past the cursor's steps, back to the
     * start, then the last row */
    size_t visit[] = {0, 1, 2, 3, 6, 9, 12, 80, 81, 5, 0, NO_TITLE, NO_TITLE, N - 1};
    struct tm_error err = {0};
    const char *got = NULL;
    for (size_t k = 0; k < sizeof visit / sizeof visit[0]; k++) {
        const struct tm_item *it = &full[visit[k]];
        assert_int_equal(tm_store_title(fx->store, it->rowid, &got, &err), 0);
        if (it->norm_title == NULL)
            assert_null(got);
        else
            assert_string_equal(got, it->norm_title);
    }
    assert_int_equal(tm_store_title(fx->store, last + 1, &got, &err), TM_ENOENT);
    assert_null(got);
    assert_int_equal(tm_store_title(fx->store, full[7].rowid, &got, &err), 0);
    assert_string_equal(got, full[7].norm_title);
    tm_store_titles_done(fx->store);
    tm_store_titles_done(fx->store); /* twice: still fine */
    /* a write after the cursor is closed, and the cursor again */
    f = feed_three();
    put(fx, &src_b, f, T0, NULL);
    tm_feed_free(f);
    assert_int_equal(tm_store_title(fx->store, full[8].rowid, &got, &err), 0);
    assert_string_equal(got, full[8].norm_title);
    tm_store_titles_done(fx->store);
    tm_items_free(full, n);
}

/* ---- put_feed ------------------------------------------------------------ */

static void test_reput_is_idempotent(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    struct tm_store_put_result res;
    put(fx, &src_a, f, T0, &res);
    assert_int_equal(res.new_items, 3);
    assert_int_equal(res.updated_items, 0);

    put(fx, &src_a, f, T0 + 900, &res);
    assert_int_equal(res.new_items, 0);
    assert_int_equal(res.updated_items, 0);

    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    assert_int_equal(n, 3);
    /* Newest published first, every field back as stored. */
    assert_string_equal(items[0].guid, "g1");
    assert_string_equal(items[0].key, "g:g1");
    assert_string_equal(items[0].source_id, "huyen-nhu-thanh");
    assert_int_equal(items[0].source_priority, 1);
    assert_int_equal(items[0].published_utc, T0);
    assert_int_equal(items[0].first_seen_utc, T0);
    assert_int_equal(items[0].updated_utc, TM_TIME_NONE);
    assert_string_equal(items[0].link, "http://nhuthanh.example/tin/1");
    assert_string_equal(items[0].canonical_link, "https://nhuthanh.example/tin/1");
    assert_string_equal(items[0].norm_title, "kế hoạch chuyển đổi số ngành xây dựng");
    assert_string_equal(items[0].summary, "<p>Tóm tắt</p>");
    assert_null(items[0].content);
    assert_null(items[0].entry_id);
    assert_int_equal(items[0].n_categories, 2);
    assert_string_equal(items[0].categories[1], "Xây dựng");
    assert_string_equal(items[2].guid, "g3");

    struct tm_source_state st = state_of(fx, src_a.id);
    assert_int_equal(st.item_count, 3);
    assert_int_equal(st.last_success_utc, T0 + 900);
    tm_source_state_clear(&st);
    tm_items_free(items, n);
    tm_feed_free(f);
}

/* A summary stored raw (tm_entry.raw_html, as the harvest's parser leaves
 * it) is kept as the feed gave it and sanitised against its base whenever
 * an item is read back, by the full load and the shown items alike. A body
 * put again is compared as its readers see it: the same raw body writes
 * nothing, other markup that sanitises the same (or the same body put
 * sanitised) is written but counts no update, and visible text does. */
static void test_raw_html_sanitised_when_read(void **state)
{
    struct fixture *fx = *state;
    static const char raw[] = "<p onclick=\"x()\">Tin <a href=\"tin/1\">một</a>"
                              "<script>bad()</script></p>";
    static const char sanitised[] =
        "<p>Tin <a href=\"http://nhuthanh.example/rss/tin/1\">một</a></p>";
    struct tm_feed *f = feed_three();
    struct tm_entry *e = &f->entries[1];
    e->summary = dup_or_null(raw);
    e->content = dup_or_null("<b>đã sạch</b>"); /* not raw: read as stored */
    e->raw_html = TM_RAW_SUMMARY;
    e->html_base = dup_or_null("http://nhuthanh.example/rss/");
    struct tm_store_put_result res;
    put(fx, &src_a, f, T0, &res);
    assert_int_equal(res.new_items, 3);
    assert_int_equal(peek_int(fx->dir, "SELECT count(*) FROM item_bodies WHERE raw_html = 1"
                                       " AND summary LIKE '%<script>%'"
                                       " AND html_base = 'http://nhuthanh.example/rss/'"),
                     1);
    /* A row with nothing raw keeps no base. */
    assert_int_equal(peek_int(fx->dir, "SELECT count(*) FROM item_bodies WHERE raw_html = 0"
                                       " AND html_base IS NOT NULL"),
                     0);
    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    const struct tm_item *it = by_title(items, n, "Hội nghị tổng kết năm 2021");
    assert_non_null(it);
    assert_string_equal(it->summary, sanitised);
    assert_string_equal(it->content, "<b>đã sạch</b>");
    struct tm_item *shown = NULL;
    struct tm_error err = {0};
    assert_int_equal(tm_store_load_shown(fx->store, &it->rowid, 1, &shown, &err), 0);
    assert_string_equal(shown[0].summary, sanitised);
    tm_items_free(shown, 1);
    tm_items_free(items, n);

    put(fx, &src_a, f, T0 + 900, &res);
    assert_int_equal(res.updated_items, 0);
    /* Markup the sanitiser drops changes nothing a reader sees: the new
     * text is written, and no update is counted (the daemon publishes on
     * updates). */
    free(e->summary);
    e->summary = dup_or_null("<p class=\"c2\">Tin <a href=\"tin/1\">một</a>"
                             "<script>other()</script></p><!-- c2 -->");
    put(fx, &src_a, f, T0 + 1200, &res);
    assert_int_equal(res.updated_items, 0);
    assert_int_equal(
        peek_int(fx->dir, "SELECT count(*) FROM item_bodies WHERE summary LIKE '%c2%'"), 1);
    /* The same item put sanitised, as stored before schema 7: written (the
     * row holds no raw text after), no update either. */
    free(e->summary);
    e->summary = dup_or_null(sanitised);
    e->raw_html = 0;
    put(fx, &src_a, f, T0 + 1800, &res);
    assert_int_equal(res.updated_items, 0);
    n = load_all(fx, &items);
    assert_string_equal(by_title(items, n, "Hội nghị tổng kết năm 2021")->summary, sanitised);
    assert_int_equal(peek_int(fx->dir, "SELECT count(*) FROM item_bodies WHERE raw_html != 0"), 0);
    tm_items_free(items, n);
    /* A change a reader sees is one. */
    free(e->summary);
    e->summary = dup_or_null("<p>Tin khác</p>");
    e->raw_html = TM_RAW_SUMMARY;
    put(fx, &src_a, f, T0 + 2400, &res);
    assert_int_equal(res.updated_items, 1);
    tm_feed_free(f);
}

/* The categories are stored as the compact JSON jansson writes (the
 * stored text is compared byte for byte to tell a changed item), escapes
 * and all, read back whole, and a category that is not UTF-8 is refused. */
static void test_categories_stored_as_json(void **state)
{
    struct fixture *fx = *state;
    static const char *const cats[] = {"Chuyển đổi số", "a \"quoted\" \\ back/slash",
                                       "tab\there\nline\x01\x1f\x7f", "𝄞 U+2028:\xe2\x80\xa8"};
    const size_t n_cats = sizeof cats / sizeof cats[0];
    struct tm_feed *f = feed_new(1);
    entry_set(f, 0, "g1", "Tin một", "http://nhuthanh.example/tin/1", T0);
    f->entries[0].categories = calloc(n_cats, sizeof(char *));
    assert_non_null(f->entries[0].categories);
    for (size_t i = 0; i < n_cats; i++)
        f->entries[0].categories[i] = dup_or_null(cats[i]);
    f->entries[0].n_categories = n_cats;
    struct tm_store_put_result res;
    put(fx, &src_a, f, T0, &res);
    assert_int_equal(res.new_items, 1);
    put(fx, &src_a, f, T0 + 900, &res); /* the same text: not an update */
    assert_int_equal(res.updated_items, 0);

    json_t *a = json_array();
    for (size_t i = 0; i < n_cats; i++)
        assert_int_equal(json_array_append_new(a, json_string(cats[i])), 0);
    char *want = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    char sql[512];
    char *quoted = sqlite3_mprintf("%Q", want);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM item_bodies WHERE categories = %s", quoted);
    sqlite3_free(quoted);
    free(want);
    tm_store_close(fx->store); /* committed, for another connection */
    fx->store = NULL;
    assert_int_equal(peek_int(fx->dir, sql), 1);
    struct tm_error err = {0};
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);

    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].n_categories, n_cats);
    for (size_t i = 0; i < n_cats; i++)
        assert_string_equal(items[0].categories[i], cats[i]);
    tm_items_free(items, n);

    free(f->entries[0].categories[1]);
    f->entries[0].categories[1] = dup_or_null("bad \xc3 utf-8");
    err = (struct tm_error){0};
    assert_int_equal(tm_store_put_feed(fx->store, &src_a, f, T0 + 1800, NULL, NULL, &res, &err),
                     TM_EINVAL);
    assert_non_null(strstr(err.msg, "not UTF-8"));
    tm_feed_free(f);
}

static void test_guid_churn_keeps_items(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    put(fx, &src_a, f, T0, NULL);
    struct tm_item *before = NULL;
    size_t n = load_all(fx, &before);

    /* Every guid changes; links (now https, with a tracking parameter) and
     * titles (other case and punctuation) are the same. */
    struct tm_feed *g = feed_new(3);
    entry_set(g, 0, "new-1", "KẾ HOẠCH chuyển đổi số, ngành xây dựng!",
              "https://nhuthanh.example/tin/1?utm_source=zalo", T0);
    entry_set(g, 1, "new-2", "Hội nghị tổng kết năm 2021", "http://nhuthanh.example/tin/2",
              T0 - 3600);
    entry_set(g, 2, "new-3", "Thông báo lịch tiếp công dân", "http://nhuthanh.example/tin/3/",
              T0 - 7200);
    struct tm_store_put_result res;
    put(fx, &src_a, g, T0 + 900, &res);
    assert_int_equal(res.new_items, 0);
    assert_int_equal(res.updated_items, 3);

    struct tm_item *after = NULL;
    assert_int_equal(load_all(fx, &after), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(after[i].rowid, before[i].rowid);
        assert_int_equal(after[i].first_seen_utc, T0);
    }
    assert_string_equal(after[0].guid, "new-1");
    assert_string_equal(after[0].key, "g:new-1");

    /* And again with the new guids: nothing changes. */
    put(fx, &src_a, g, T0 + 1800, &res);
    assert_int_equal(res.new_items, 0);
    assert_int_equal(res.updated_items, 0);

    struct tm_source_state st = state_of(fx, src_a.id);
    assert_int_equal(st.item_count, 3);
    tm_source_state_clear(&st);
    tm_items_free(before, n);
    tm_items_free(after, 3);
    tm_feed_free(f);
    tm_feed_free(g);
}

static void test_guid_churn_without_link(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_new(1);
    entry_set(f, 0, "a-1", "Thông báo nghỉ lễ", NULL, T0);
    put(fx, &src_a, f, T0, NULL);
    entry_set(f, 0, "a-2", "Thông báo nghỉ lễ", NULL, T0);
    struct tm_store_put_result res;
    put(fx, &src_a, f, T0 + 60, &res);
    assert_int_equal(res.new_items, 0);
    /* Same title on another day is another item. */
    entry_set(f, 0, "a-3", "Thông báo nghỉ lễ", NULL, T0 + 30 * DAY);
    put(fx, &src_a, f, T0 + 30 * DAY, &res);
    assert_int_equal(res.new_items, 1);
    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    assert_int_equal(n, 2);
    tm_items_free(items, n);
    tm_feed_free(f);
}

static void test_same_link_other_title_is_new(void **state)
{
    struct fixture *fx = *state;
    /* Some portals give every item the same link: the title decides. */
    struct tm_feed *f = feed_new(2);
    entry_set(f, 0, "x-1", "Tin thứ nhất", "http://nhuthanh.example/", T0);
    entry_set(f, 1, "x-2", "Tin thứ hai", "http://nhuthanh.example/", T0 - 60);
    struct tm_store_put_result res;
    put(fx, &src_a, f, T0, &res);
    assert_int_equal(res.new_items, 2);
    tm_feed_free(f);
}

static void test_new_item_added(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    put(fx, &src_a, f, T0, NULL);
    struct tm_feed *g = feed_new(4);
    for (size_t i = 0; i < 3; i++)
        entry_set(g, i + 1, f->entries[i].id, f->entries[i].title, f->entries[i].link,
                  f->entries[i].published_utc);
    entry_set(g, 0, "g4", "Tin mới: khởi công cầu Như Thanh", "http://nhuthanh.example/tin/4",
              T0 + 3600);
    struct tm_store_put_result res;
    put(fx, &src_a, g, T0 + 3700, &res);
    assert_int_equal(res.new_items, 1);

    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    assert_int_equal(n, 4);
    assert_string_equal(items[0].guid, "g4");
    assert_int_equal(items[0].first_seen_utc, T0 + 3700);
    assert_int_equal(items[1].first_seen_utc, T0);
    struct tm_source_state st = state_of(fx, src_a.id);
    assert_int_equal(st.item_count, 4);
    tm_source_state_clear(&st);
    tm_items_free(items, n);
    tm_feed_free(f);
    tm_feed_free(g);
}

static void test_title_update_keeps_identity(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    put(fx, &src_a, f, T0, NULL);
    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    struct tm_story story = {.primary = 0,
                             .members = (size_t[]){0},
                             .n_members = 1,
                             .entry_id = "tag:tinmoi.invalid,2022-05-31:huyen-nhu-thanh/1"};
    struct tm_error err = {0};
    assert_int_equal(set_entry_ids_of(fx->store, items, n, &story, 1, &err), 0);
    int64_t rowid = items[0].rowid;
    tm_items_free(items, n);

    /* The feed corrects a typo and adds content, an hour later. */
    free(f->entries[0].title);
    f->entries[0].title = dup_or_null("Kế hoạch chuyển đổi số ngành Xây dựng năm 2022");
    f->entries[0].content = dup_or_null("<p>Nội dung</p>");
    f->entries[0].updated_utc = T0 + 3000;
    struct tm_store_put_result res;
    put(fx, &src_a, f, T0 + 3600, &res);
    assert_int_equal(res.new_items, 0);
    assert_int_equal(res.updated_items, 1);

    n = load_all(fx, &items);
    assert_int_equal(n, 3);
    const struct tm_item *it = by_title(items, n, "Kế hoạch chuyển đổi số ngành Xây dựng năm 2022");
    assert_non_null(it);
    assert_int_equal(it->rowid, rowid);
    assert_string_equal(it->norm_title, "kế hoạch chuyển đổi số ngành xây dựng năm 2022");
    assert_string_equal(it->content, "<p>Nội dung</p>");
    assert_int_equal(it->updated_utc, T0 + 3000);
    assert_int_equal(it->first_seen_utc, T0);
    assert_string_equal(it->entry_id, "tag:tinmoi.invalid,2022-05-31:huyen-nhu-thanh/1");
    tm_items_free(items, n);
    tm_feed_free(f);
}

static void test_zero_entries_delete_nothing(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    put(fx, &src_a, f, T0, NULL);
    struct tm_feed *empty = feed_new(0);
    struct tm_store_put_result res;
    put(fx, &src_a, empty, T0 + 900, &res);
    assert_int_equal(res.new_items, 0);
    /* An item that left the feed stays too. */
    struct tm_feed *one = feed_new(1);
    entry_set(one, 0, "g1", f->entries[0].title, f->entries[0].link, T0);
    put(fx, &src_a, one, T0 + 1800, &res);

    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    assert_int_equal(n, 3);
    struct tm_source_state st = state_of(fx, src_a.id);
    assert_int_equal(st.status, TM_SOURCE_OK);
    assert_int_equal(st.item_count, 3);
    tm_source_state_clear(&st);
    tm_items_free(items, n);
    tm_feed_free(f);
    tm_feed_free(empty);
    tm_feed_free(one);
}

static void test_failure_keeps_items(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    struct tm_error err = {0};
    assert_int_equal(tm_store_put_feed(fx->store, &src_a, f, T0, "\"v1\"",
                                       "Tue, 31 May 2022 03:55:00 GMT", NULL, &err),
                     0);
    assert_int_equal(tm_store_put_failure(fx->store, src_a.id, T0 + 900, "HTTP 500", &err), 0);
    assert_int_equal(
        tm_store_put_failure(fx->store, src_a.id, T0 + 1800, "timeout\nafter 30 s", &err), 0);

    struct tm_source_state st = state_of(fx, src_a.id);
    assert_int_equal(st.status, TM_SOURCE_ERROR);
    assert_int_equal(st.consecutive_failures, 2);
    assert_string_equal(st.last_error, "timeout after 30 s");
    assert_int_equal(st.last_attempt_utc, T0 + 1800);
    assert_int_equal(st.last_success_utc, T0);
    assert_string_equal(st.etag, "\"v1\"");
    assert_int_equal(st.item_count, 3);
    tm_source_state_clear(&st);
    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    assert_int_equal(n, 3);
    tm_items_free(items, n);

    /* Recovery clears the error. */
    assert_int_equal(tm_store_put_feed(fx->store, &src_a, f, T0 + 2700, NULL, NULL, NULL, &err), 0);
    st = state_of(fx, src_a.id);
    assert_int_equal(st.status, TM_SOURCE_OK);
    assert_int_equal(st.consecutive_failures, 0);
    assert_null(st.last_error);
    assert_null(st.etag); /* the 200 came without validators */
    tm_source_state_clear(&st);

    /* Unknown source. */
    assert_int_equal(tm_store_put_failure(fx->store, "nope", T0, "x", &err), TM_ENOENT);
    tm_feed_free(f);
}

static void test_not_modified(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    struct tm_error err = {0};
    assert_int_equal(tm_store_put_feed(fx->store, &src_a, f, T0, "\"v1\"",
                                       "Tue, 31 May 2022 03:55:00 GMT", NULL, &err),
                     0);
    assert_int_equal(tm_store_put_failure(fx->store, src_a.id, T0 + 900, "HTTP 503", &err), 0);
    assert_int_equal(tm_store_put_not_modified(fx->store, src_a.id, T0 + 1800, &err), 0);
    struct tm_source_state st = state_of(fx, src_a.id);
    assert_int_equal(st.status, TM_SOURCE_OK);
    assert_int_equal(st.consecutive_failures, 0);
    assert_null(st.last_error);
    assert_int_equal(st.last_success_utc, T0 + 1800);
    assert_string_equal(st.etag, "\"v1\"");
    assert_string_equal(st.last_modified, "Tue, 31 May 2022 03:55:00 GMT");
    assert_int_equal(st.item_count, 3);
    tm_source_state_clear(&st);
    assert_int_equal(tm_store_put_not_modified(fx->store, "nope", T0, &err), TM_ENOENT);

    /* A source never seen has the empty state. */
    st = state_of(fx, "nope");
    assert_int_equal(st.status, TM_SOURCE_NEVER);
    assert_int_equal(st.last_success_utc, TM_TIME_NONE);
    assert_null(st.etag);
    tm_source_state_clear(&st);

    /* A new URL for the source is a new resource: the old validators are
     * not sent to it; the same URL keeps them. */
    assert_int_equal(tm_store_sync_sources(fx->store, &src_a, 1, &err), 0);
    st = state_of(fx, src_a.id);
    assert_string_equal(st.etag, "\"v1\"");
    tm_source_state_clear(&st);
    struct tm_source moved = src_a;
    moved.url = "http://nhuthanh.example/rss-moi";
    assert_int_equal(tm_store_sync_sources(fx->store, &moved, 1, &err), 0);
    st = state_of(fx, src_a.id);
    assert_null(st.etag);
    assert_null(st.last_modified);
    assert_int_equal(st.item_count, 3);
    tm_source_state_clear(&st);
    tm_feed_free(f);
}

static void test_future_date_clamped(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_new(2);
    entry_set(f, 0, "far", "Tin ghi ngày sai", "http://nhuthanh.example/far", T0 + 3 * DAY);
    entry_set(f, 1, "near", "Tin hẹn giờ", "http://nhuthanh.example/near", T0 + DAY / 2);
    put(fx, &src_a, f, T0, NULL);
    /* Later fetches see the same wrong date: still clamped to first seen. */
    put(fx, &src_a, f, T0 + 3600, NULL);

    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    assert_int_equal(n, 2);
    const struct tm_item *far = by_title(items, n, "Tin ghi ngày sai");
    const struct tm_item *near = by_title(items, n, "Tin hẹn giờ");
    assert_int_equal(far->published_utc, T0);
    assert_int_equal(far->first_seen_utc, T0);
    assert_int_equal(near->published_utc, T0 + DAY / 2);
    tm_items_free(items, n);
    tm_feed_free(f);
}

static void test_undated_takes_first_seen(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_new(1);
    entry_set(f, 0, NULL, "Tin không ghi ngày", "http://nhuthanh.example/undated", TM_TIME_NONE);
    put(fx, &src_a, f, T0, NULL);
    struct tm_store_put_result res;
    put(fx, &src_a, f, T0 + DAY, &res);
    assert_int_equal(res.new_items, 0);
    assert_int_equal(res.updated_items, 0);

    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].published_utc, T0);
    assert_int_equal(items[0].first_seen_utc, T0);
    assert_string_equal(items[0].key, "l:https://nhuthanh.example/undated");
    assert_null(items[0].guid);
    tm_items_free(items, n);
    tm_feed_free(f);
}

static void test_duplicates_and_no_identity(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_new(4);
    entry_set(f, 0, "d-1", "Tin lặp", "http://nhuthanh.example/dup", T0);
    entry_set(f, 1, "d-1", "Tin lặp (bản 2)", "http://nhuthanh.example/dup", T0);
    entry_set(f, 2, "d-2", "Tin lặp", "http://nhuthanh.example/dup", T0);
    entry_set(f, 3, NULL, NULL, NULL, T0);
    f->entries[3].summary = dup_or_null("<p>only a description</p>");
    struct tm_store_put_result res;
    put(fx, &src_a, f, T0, &res);
    assert_int_equal(res.new_items, 2); /* d-1, and d-2 (same link+title as d-1, but d-1 taken) */
    assert_int_equal(res.skipped_entries, 2);
    put(fx, &src_a, f, T0 + 60, &res);
    assert_int_equal(res.new_items, 0);
    assert_int_equal(res.updated_items, 0);
    tm_feed_free(f);
}

/* ---- publishing half ------------------------------------------------------ */

static void test_entry_ids_persist(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    put(fx, &src_a, f, T0, NULL);
    struct tm_feed *g = feed_new(1);
    entry_set(g, 0, "p-1", "Kế hoạch chuyển đổi số ngành xây dựng", "http://thanhhoa.example/p1",
              T0 - 600);
    put(fx, &src_b, g, T0, NULL);

    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    assert_int_equal(n, 4);
    /* items[0] is nhu-thanh's g1, items[1] the province's copy. */
    assert_string_equal(items[1].source_id, "tinh-thanh-hoa");
    assert_int_equal(items[1].source_priority, 5);
    struct tm_story stories[2] = {
        {.primary = 1, .members = (size_t[]){1, 0}, .n_members = 2, .entry_id = "E1"},
        {.primary = 2, .members = (size_t[]){2}, .n_members = 1, .entry_id = "E2"},
    };
    struct tm_error err = {0};
    assert_int_equal(set_entry_ids_of(fx->store, items, n, stories, 2, &err), 0);
    tm_items_free(items, n);

    tm_store_close(fx->store);
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);
    n = load_all(fx, &items);
    assert_string_equal(items[0].entry_id, "E1");
    assert_string_equal(items[1].entry_id, "E1");
    assert_string_equal(items[2].entry_id, "E2");
    assert_null(items[3].entry_id);

    /* The merge folds E2's story into E1's: the store writes what it says. */
    stories[0].members = (size_t[]){1, 0, 2};
    stories[0].n_members = 3;
    assert_int_equal(set_entry_ids_of(fx->store, items, n, stories, 1, &err), 0);
    tm_items_free(items, n);
    n = load_all(fx, &items);
    assert_string_equal(items[2].entry_id, "E1");
    tm_items_free(items, n);
    tm_feed_free(f);
    tm_feed_free(g);
}

/* ---- sources --------------------------------------------------------------- */

static void test_sync_and_list_sources(void **state)
{
    struct fixture *fx = *state;
    struct tm_error err = {0};
    struct tm_source both[2] = {src_a, src_b};
    assert_int_equal(tm_store_sync_sources(fx->store, both, 2, &err), 0);
    struct tm_feed *f = feed_three();
    put(fx, &src_a, f, T0, NULL);

    struct tm_store_source *list = NULL;
    size_t n = 0;
    assert_int_equal(tm_store_list_sources(fx->store, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "huyen-nhu-thanh");
    assert_string_equal(list[0].title, "Huyện Như Thanh");
    assert_string_equal(list[0].category, "district");
    assert_int_equal(list[0].state.status, TM_SOURCE_OK);
    assert_int_equal(list[0].state.item_count, 3);
    assert_string_equal(list[1].id, "tinh-thanh-hoa");
    assert_int_equal(list[1].state.status, TM_SOURCE_NEVER);
    assert_int_equal(list[1].state.last_success_utc, TM_TIME_NONE);
    tm_store_sources_free(list, n);

    /* Removing a source hides it and its items; its state survives. */
    assert_int_equal(tm_store_sync_sources(fx->store, &src_b, 1, &err), 0);
    assert_int_equal(tm_store_list_sources(fx->store, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "tinh-thanh-hoa");
    tm_store_sources_free(list, n);
    struct tm_item *items = NULL;
    assert_int_equal(load_all(fx, &items), 0);
    assert_null(items);

    /* Back in the config, renamed and reprioritised: history intact. */
    struct tm_source a2 = src_a;
    a2.title = "Huyện Như Thanh (mới)";
    a2.priority = 9;
    assert_int_equal(tm_store_sync_sources(fx->store, &a2, 1, &err), 0);
    size_t ni = load_all(fx, &items);
    assert_int_equal(ni, 3);
    assert_int_equal(items[0].source_priority, 9);
    tm_items_free(items, ni);
    assert_int_equal(tm_store_list_sources(fx->store, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].title, "Huyện Như Thanh (mới)");
    assert_int_equal(list[0].state.last_success_utc, T0);
    tm_store_sources_free(list, n);
    tm_feed_free(f);
}

static void test_schedule(void **state)
{
    struct fixture *fx = *state;
    struct tm_error err = {0};
    struct tm_store_schedule sc;
    assert_int_equal(tm_store_get_schedule(fx->store, src_a.id, &sc, &err), 0);
    assert_int_equal(sc.next_due_utc, TM_TIME_NONE);
    assert_false(sc.gone);
    struct tm_store_schedule want = {
        .next_due_utc = T0 + 900, .retry_after_utc = T0 + 120, .gone = true};
    assert_int_equal(tm_store_set_schedule(fx->store, src_a.id, &want, &err), TM_ENOENT);
    assert_int_equal(tm_store_sync_sources(fx->store, &src_a, 1, &err), 0);
    assert_int_equal(tm_store_set_schedule(fx->store, src_a.id, &want, &err), 0);
    tm_store_close(fx->store);
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);
    assert_int_equal(tm_store_get_schedule(fx->store, src_a.id, &sc, &err), 0);
    assert_int_equal(sc.next_due_utc, T0 + 900);
    assert_int_equal(sc.retry_after_utc, T0 + 120);
    assert_true(sc.gone);
    struct tm_store_source *list = NULL;
    size_t n = 0;
    assert_int_equal(tm_store_list_sources(fx->store, &list, &n, &err), 0);
    assert_int_equal(list[0].next_due_utc, T0 + 900);
    assert_true(list[0].gone);
    tm_store_sources_free(list, n);
}

/* ---- sharing between threads --------------------------------------------- */

struct other_thread {
    struct tm_store *store;
    uv_sem_t started;
    atomic_bool returned; /* its store call returned */
    int rc;
};

static void other_thread_main(void *arg)
{
    struct other_thread *o = arg;
    uv_sem_post(&o->started);
    struct tm_source_state st = {0};
    struct tm_error err = {0};
    o->rc = tm_store_source_state(o->store, src_a.id, &st, &err);
    tm_source_state_clear(&st);
    atomic_store(&o->returned, true);
}

/* While one thread holds the store, another thread's call waits (holds
 * nest for the holder's own calls); it runs once the store is released. */
static void test_hold_excludes_other_threads(void **state)
{
    struct fixture *fx = *state;
    struct tm_error err = {0};
    assert_int_equal(tm_store_sync_sources(fx->store, &src_a, 1, &err), 0);
    struct other_thread o = {.store = fx->store};
    assert_int_equal(uv_sem_init(&o.started, 0), 0);
    tm_store_hold(fx->store);
    tm_store_hold(fx->store);
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, other_thread_main, &o), 0);
    uv_sem_wait(&o.started);
    uv_sleep(50);
    assert_false(atomic_load(&o.returned));
    struct tm_store_schedule sc;
    assert_int_equal(tm_store_get_schedule(fx->store, src_a.id, &sc, &err), 0);
    tm_store_release(fx->store);
    uv_sleep(20);
    assert_false(atomic_load(&o.returned)); /* still held once */
    tm_store_release(fx->store);
    assert_int_equal(uv_thread_join(&th), 0);
    assert_true(atomic_load(&o.returned));
    assert_int_equal(o.rc, 0);
    uv_sem_destroy(&o.started);
}

/* A cycle over many sources: one transaction each. TM_STORE_TEST_SOURCES
 * scales it (10000 for the figure); the default keeps CTest quick. */
/* ---- batches ------------------------------------------------------------- */

static void test_batch(void **state)
{
    struct fixture *fx = *state;
    struct tm_feed *f = feed_three();
    struct tm_error err = {0};
    assert_false(tm_store_batch_open(fx->store));
    assert_int_equal(tm_store_batch_commit(fx->store, &err), 0); /* none open: nothing */

    assert_int_equal(tm_store_batch_begin(fx->store, &err), 0);
    assert_true(tm_store_batch_open(fx->store));
    assert_int_equal(tm_store_batch_begin(fx->store, &err), 0); /* already open */
    put(fx, &src_a, f, T0, NULL);
    assert_int_equal(tm_store_put_failure(fx->store, src_b.id, T0, "x", &err), TM_ENOENT);
    assert_int_equal(tm_store_put_not_modified(fx->store, src_a.id, T0 + 60, &err), 0);
    /* This connection reads the batch; others see nothing until the commit. */
    struct tm_item *items = NULL;
    size_t n = load_all(fx, &items);
    assert_int_equal(n, 3);
    tm_items_free(items, n);
    assert_int_equal(committed_items(fx->dir), 0);
    assert_int_equal(tm_store_batch_commit(fx->store, &err), 0);
    assert_false(tm_store_batch_open(fx->store));
    assert_int_equal(committed_items(fx->dir), 3);
    struct tm_source_state st = state_of(fx, src_a.id);
    assert_int_equal(st.last_attempt_utc, T0 + 60);
    tm_source_state_clear(&st);

    /* Entry ids written in a batch are one more savepoint of it. */
    assert_int_equal(tm_store_batch_begin(fx->store, &err), 0);
    struct tm_feed *g = feed_new(1);
    entry_set(g, 0, "b1", "Tin của tỉnh", "http://thanhhoa.example/tin/1", T0);
    put(fx, &src_b, g, T0, NULL);
    n = load_all(fx, &items);
    struct tm_story story = {.entry_id = "urn:uuid:1", .members = (size_t[]){0}, .n_members = 1};
    assert_int_equal(set_entry_ids_of(fx->store, items, n, &story, 1, &err), 0);
    tm_items_free(items, n);
    assert_true(tm_store_batch_open(fx->store));
    assert_int_equal(committed_items(fx->dir), 3);
    assert_int_equal(tm_store_batch_commit(fx->store, &err), 0);
    assert_int_equal(committed_items(fx->dir), 4);

    /* A batch left open is kept at close. */
    assert_int_equal(tm_store_batch_begin(fx->store, &err), 0);
    entry_set(g, 0, "b2", "Tin thứ hai của tỉnh", "http://thanhhoa.example/tin/2", T0);
    put(fx, &src_b, g, T0 + 60, NULL);
    tm_store_close(fx->store);
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);
    assert_int_equal(committed_items(fx->dir), 5);
    tm_feed_free(g);
    tm_feed_free(f);
}

static void test_many_sources(void **state)
{
    struct fixture *fx = *state;
    const char *env = getenv("TM_STORE_TEST_SOURCES");
    long n_sources = env != NULL ? strtol(env, NULL, 10) : 300;
    if (n_sources <= 0)
        n_sources = 300;
    enum { PER = 20 };
    struct tm_feed *f = feed_new(PER);
    char id[64], url[128], title[128], guid[64];
    struct timespec t0, t1, t2, c0, c1, c2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (int pass = 0; pass < 2; pass++) {
        for (long s = 0; s < n_sources; s++) {
            snprintf(id, sizeof id, "nguon-%ld", s);
            snprintf(url, sizeof url, "http://127.0.0.1/feeds/%ld.xml", s);
            struct tm_source src = {.id = id, .title = id, .url = url, .category = "district"};
            for (int i = 0; i < PER; i++) {
                snprintf(guid, sizeof guid, "%ld-%d", s, i);
                snprintf(title, sizeof title, "Tin số %d của nguồn %ld", i, s);
                snprintf(url, sizeof url, "http://127.0.0.1/tin/%ld/%d.html", s, i);
                entry_set(f, (size_t)i, guid, title, url, T0 - i * 3600);
            }
            snprintf(url, sizeof url, "http://127.0.0.1/feeds/%ld.xml", s);
            struct tm_store_put_result res;
            put(fx, &src, f, T0 + pass, &res);
            assert_int_equal(res.new_items, pass == 0 ? PER : 0);
            assert_int_equal(res.updated_items, 0);
        }
        clock_gettime(CLOCK_MONOTONIC, pass == 0 ? &t1 : &t2);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, pass == 0 ? &c1 : &c2);
    }
    double cold = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double warm = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
    double cold_cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    double warm_cpu = (double)(c2.tv_sec - c1.tv_sec) + (double)(c2.tv_nsec - c1.tv_nsec) / 1e9;
    print_message("store: %ld sources x %d items: cold %.2f s (cpu %.2f s), unchanged %.2f s"
                  " (cpu %.2f s)\n",
                  n_sources, PER, cold, cold_cpu, warm, warm_cpu);
    struct tm_store_rows set = {0};
    struct tm_error err = {0};
    assert_int_equal(tm_store_load_rows(fx->store, &set, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double load = (double)(t0.tv_sec - t2.tv_sec) + (double)(t0.tv_nsec - t2.tv_nsec) / 1e9;
    print_message("store: rows of %zu items loaded in %.2f s\n", set.n, load);
    assert_int_equal(set.n, (size_t)n_sources * PER);
    tm_store_rows_clear(&set);
    tm_feed_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_page_size_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_state_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_moves_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_html_sanitised_when_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_and_shown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_title_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reput_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_categories_stored_as_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guid_churn_keeps_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guid_churn_without_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_link_other_title_is_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_item_added, setup, teardown),
        cmocka_unit_test_setup_teardown(test_title_update_keeps_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_entries_delete_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_keeps_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_modified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_future_date_clamped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undated_takes_first_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_and_no_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_ids_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_and_list_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_excludes_other_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_sources, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
