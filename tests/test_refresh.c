/* Tests of the publishing half (tm_refresh): the merge's rows for every
 * item (titles read one at a time, whole items only for what the writers
 * render) give the same bytes as loading every item whole, in a first
 * cycle and in one that adds items beside published ones, and an idle
 * refresh changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tinmoi/merge.h"
#include "tinmoi/publish.h"
#include "tinmoi/refresh.h"
#include "tinmoi/store.h"
#include "tmpdir.h"

#define T0 INT64_C(1653969300) /* 2022-05-31T03:55:00Z */
#define N_SOURCES 4
#define N_ENTRIES 30

struct fixture {
    char dir[64];
    char state_dir[96];
    char out_full[96];
    char out_rows[96];
    struct tm_source sources[N_SOURCES];
    struct tm_config cfg;
    struct tm_store *store;
};

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

/* An RSS 2.0 feed of n empty entries, for the caller to fill. */
static struct tm_feed *feed_of(size_t n)
{
    struct tm_feed *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->format = TM_FORMAT_RSS20;
    f->updated_utc = TM_TIME_NONE;
    f->entries = calloc(n, sizeof *f->entries);
    assert_non_null(f->entries);
    f->n_entries = n;
    return f;
}

static const char *const CATS[N_SOURCES] = {"district", "province", "ministry", "district"};

/* Four sources; each carries N_ENTRIES items, a third of them stories that
 * the other sources carry too (same title, other link), with summary,
 * content, author and categories, so that a display field missing from
 * the rows path would show in the bytes. */
static void fill_store(struct fixture *fx)
{
    for (int s = 0; s < N_SOURCES; s++) {
        struct tm_feed *f = feed_of(N_ENTRIES);
        for (int i = 0; i < N_ENTRIES; i++) {
            struct tm_entry *e = &f->entries[i];
            char buf[256];
            bool shared = i % 3 == 0;
            snprintf(buf, sizeof buf, "g-%d-%d", s, i);
            e->id = dup_str(buf);
            if (shared)
                snprintf(buf, sizeof buf, "Thông báo số %d về kế hoạch chuyển đổi số năm 2022", i);
            else
                snprintf(buf, sizeof buf, "Tin riêng %d của nguồn %d: hội nghị sơ kết", i, s);
            e->title = dup_str(buf);
            snprintf(buf, sizeof buf, "http://s%d.example/tin/%d", s, i);
            e->link = dup_str(buf);
            e->published_utc = T0 - (int64_t)i * 3600 - s * 60;
            e->updated_utc = i % 4 == 0 ? e->published_utc + 600 : TM_TIME_NONE;
            snprintf(buf, sizeof buf, "<p>Tóm tắt %d/%d</p>", s, i);
            e->summary = dup_str(buf);
            snprintf(buf, sizeof buf, "<p>Nội dung <b>%d</b> của nguồn %d</p>", i, s);
            e->content = i % 2 == 0 ? dup_str(buf) : NULL;
            e->author = i % 5 == 0 ? dup_str("Phóng viên") : NULL;
            if (i % 2 == 1) {
                e->categories = calloc(2, sizeof *e->categories);
                assert_non_null(e->categories);
                e->categories[0] = dup_str("Chuyển đổi số");
                e->categories[1] = dup_str("Kinh tế");
                e->n_categories = 2;
            }
        }
        struct tm_error err = {0};
        int rc = tm_store_put_feed(fx->store, &fx->sources[s], f, T0 + 60, NULL, NULL, NULL, &err);
        if (rc != 0)
            fail_msg("put_feed: %s", err.msg);
        tm_feed_free(f);
    }
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/tinmoi-refresh-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->state_dir, sizeof fx->state_dir, "%s/state", fx->dir);
    snprintf(fx->out_full, sizeof fx->out_full, "%s/full", fx->dir);
    snprintf(fx->out_rows, sizeof fx->out_rows, "%s/rows", fx->dir);
    assert_int_equal(mkdir(fx->state_dir, 0700), 0);
    assert_int_equal(mkdir(fx->out_full, 0700), 0);
    assert_int_equal(mkdir(fx->out_rows, 0700), 0);
    for (int s = 0; s < N_SOURCES; s++) {
        char buf[64];
        snprintf(buf, sizeof buf, "nguon-%d", s);
        fx->sources[s].id = dup_str(buf);
        snprintf(buf, sizeof buf, "Nguồn %d", s);
        fx->sources[s].title = dup_str(buf);
        snprintf(buf, sizeof buf, "http://s%d.example/rss", s);
        fx->sources[s].url = dup_str(buf);
        fx->sources[s].category = dup_str(CATS[s]);
        fx->sources[s].priority = s == 1 ? 10 : 0;
    }
    fx->cfg = (struct tm_config){
        .title = "Tin mới nhất",
        .state_dir = fx->state_dir,
        .public_url = "http://127.0.0.1:8080/",
        .latest_limit = 4,
        .items_limit = 7, /* a strict subset of the stories is rendered */
        .utc_offset_s = 7 * 3600,
        .sources = fx->sources,
        .n_sources = N_SOURCES,
    };
    struct tm_error err = {0};
    assert_int_equal(tm_store_open(fx->state_dir, &fx->store, &err), 0);
    assert_int_equal(tm_store_sync_sources(fx->store, fx->sources, N_SOURCES, &err), 0);
    fill_store(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tm_store_close(fx->store);
    remove_tree(fx->dir);
    for (int s = 0; s < N_SOURCES; s++)
        tm_source_clear(&fx->sources[s]);
    free(fx);
    return 0;
}

/* What tm_refresh did before the rows load: every item whole. `first`:
 * the store holds the fill_store items only, none published. */
static void publish_full(struct fixture *fx, struct tm_publish_result *res, bool first)
{
    struct tm_item *items = NULL;
    size_t n = 0;
    struct tm_error err = {0};
    assert_int_equal(tm_store_load_items(fx->store, &items, &n, &err), 0);
    if (first)
        assert_int_equal(n, N_SOURCES * N_ENTRIES);
    struct tm_story *st = NULL;
    size_t n_st = 0;
    struct tm_merge_opts o = {.public_url = fx->cfg.public_url};
    assert_int_equal(tm_merge(items, n, &o, &st, &n_st), 0);
    /* Every shared story has one member per source. */
    if (first)
        assert_int_equal(n_st, N_SOURCES * N_ENTRIES - (N_SOURCES - 1) * (N_ENTRIES / 3));
    struct tm_source_state states[N_SOURCES];
    for (int k = 0; k < N_SOURCES; k++)
        assert_int_equal(tm_store_source_state(fx->store, fx->sources[k].id, &states[k], &err), 0);
    struct tm_config cfg = fx->cfg;
    cfg.out_dir = fx->out_full;
    struct tm_publish_input in = {
        .config = &cfg,
        .states = states,
        .items = items,
        .n_items = n,
        .stories = st,
        .n_stories = n_st,
        .now_utc = T0 + 120,
    };
    if (tm_publish_all(&in, res, &err) != 0)
        fail_msg("publish: %s", err.msg);
    for (int k = 0; k < N_SOURCES; k++)
        tm_source_state_clear(&states[k]);
    tm_stories_free(st, n_st);
    tm_items_free(items, n);
}

static void assert_same_files(const struct tm_publish_result *full,
                              const struct tm_publish_result *rows)
{
    assert_int_equal(full->n_files, rows->n_files);
    assert_true(full->n_files >= 2 + 2 * 3);
    for (size_t i = 0; i < full->n_files; i++) {
        assert_string_equal(full->files[i].name, rows->files[i].name);
        if (full->files[i].len != rows->files[i].len ||
            memcmp(full->files[i].data, rows->files[i].data, full->files[i].len) != 0)
            print_message("%s differs\n", full->files[i].name);
        assert_int_equal(full->files[i].len, rows->files[i].len);
        assert_memory_equal(full->files[i].data, rows->files[i].data, full->files[i].len);
    }
}

static void test_rows_equal_full(void **state)
{
    struct fixture *fx = *state;
    struct tm_publish_result full = {0}, rows = {0};
    publish_full(fx, &full, true);
    struct tm_config cfg = fx->cfg;
    cfg.out_dir = fx->out_rows;
    struct tm_refresh_stats stats = {0};
    struct tm_error err = {0};
    if (tm_refresh(fx->store, &cfg, T0 + 120, &rows, &stats, &err) != 0)
        fail_msg("refresh: %s", err.msg);
    assert_int_equal(stats.n_items, N_SOURCES * N_ENTRIES);
    assert_same_files(&full, &rows);
    /* The rendered bytes carry display fields: the shown items have them. */
    assert_non_null(strstr(rows.files[0].data, "Nội dung"));
    tm_publish_result_clear(&full);
    tm_publish_result_clear(&rows);
}

/* tm_refresh into out_rows at `now`; returns the files it changed. */
static size_t refresh_ok(struct fixture *fx, int64_t now)
{
    struct tm_config cfg = fx->cfg;
    cfg.out_dir = fx->out_rows;
    struct tm_publish_result res = {0};
    struct tm_error err = {0};
    if (tm_refresh(fx->store, &cfg, now, &res, NULL, &err) != 0)
        fail_msg("refresh: %s", err.msg);
    size_t changed = res.n_changed;
    tm_publish_result_clear(&res);
    return changed;
}

/* Puts a feed of one new item (number k) for the first source. */
static void put_new(struct fixture *fx, int k)
{
    struct tm_feed *f = feed_of(1);
    char buf[64];
    snprintf(buf, sizeof buf, "moi-%d", k);
    f->entries[0].id = dup_str(buf);
    snprintf(buf, sizeof buf, "Tin mới số %d", k);
    f->entries[0].title = dup_str(buf);
    f->entries[0].published_utc = T0 + k;
    f->entries[0].updated_utc = TM_TIME_NONE;
    struct tm_error err = {0};
    if (tm_store_put_feed(fx->store, &fx->sources[0], f, T0 + 60, NULL, NULL, NULL, &err) != 0)
        fail_msg("put_feed: %s", err.msg);
    tm_feed_free(f);
}

/* Whether another connection can checkpoint the whole WAL away: it cannot
 * while this process holds a read transaction open. */
static bool wal_truncates(const struct fixture *fx)
{
    char path[160];
    snprintf(path, sizeof path, "%s/tinmoi.db", fx->state_dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL; /* one row: busy, WAL frames, frames checkpointed */
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    bool busy = sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return !busy;
}

/* Refreshes into an out_dir that does not exist, so the publish fails
 * (nothing published); its path in `missing`. */
static int refresh_missing_out(struct fixture *fx, int64_t now, char *missing, size_t size,
                               struct tm_error *err)
{
    struct tm_config cfg = fx->cfg;
    snprintf(missing, size, "%s/missing", fx->dir);
    cfg.out_dir = missing;
    struct tm_publish_result res = {0};
    int rc = tm_refresh(fx->store, &cfg, now, &res, NULL, err);
    assert_int_equal(res.n_files, 0);
    return rc;
}

/* A refresh that fails after the merge read its titles (here: out_dir is
 * missing, so nothing is published and no entry id written) leaves no
 * read transaction behind to stall the WAL's checkpoints. */
static void test_failed_refresh_leaves_no_reader(void **state)
{
    struct fixture *fx = *state;
    char missing[160];
    struct tm_error err = {0};
    assert_true(refresh_missing_out(fx, T0 + 120, missing, sizeof missing, &err) < 0);
    assert_true(wal_truncates(fx));
    /* The check itself: a title read holds the WAL until the cursor is
     * closed, by tm_store_titles_done or by a write. */
    struct tm_store_rows set = {0};
    assert_int_equal(tm_store_load_rows(fx->store, &set, &err), 0);
    const char *title = NULL;
    put_new(fx, 1); /* frames in the WAL again */
    assert_int_equal(tm_store_title(fx->store, set.rows[0].rowid, &title, &err), 0);
    assert_false(wal_truncates(fx));
    tm_store_titles_done(fx->store);
    assert_true(wal_truncates(fx));
    put_new(fx, 2);
    assert_int_equal(tm_store_title(fx->store, set.rows[0].rowid, &title, &err), 0);
    put_new(fx, 3); /* closes the cursor first */
    assert_true(wal_truncates(fx));
    tm_store_rows_clear(&set);
}

/* A publish that fails keeps no entry id (they were never out in the
 * world), and says why in its own words, whether or not ids changed. */
static void test_failed_publish_keeps_no_ids(void **state)
{
    struct fixture *fx = *state;
    char missing[160];
    struct tm_error err = {0};
    assert_true(refresh_missing_out(fx, T0 + 120, missing, sizeof missing, &err) < 0);
    assert_non_null(strstr(err.msg, missing));
    struct tm_store_rows set = {0};
    assert_int_equal(tm_store_load_rows(fx->store, &set, &err), 0);
    assert_int_equal(set.n, N_SOURCES * N_ENTRIES);
    for (size_t i = 0; i < set.n; i++)
        assert_null(set.rows[i].entry_id);
    tm_store_rows_clear(&set);
    assert_true(refresh_ok(fx, T0 + 120) > 0); /* and then they are kept */
    assert_int_equal(tm_store_load_rows(fx->store, &set, &err), 0);
    for (size_t i = 0; i < set.n; i++)
        assert_non_null(set.rows[i].entry_id);
    tm_store_rows_clear(&set);
    /* With no id to write, the publish still fails, and says so. */
    err = (struct tm_error){0};
    assert_true(refresh_missing_out(fx, T0 + 180, missing, sizeof missing, &err) < 0);
    assert_non_null(strstr(err.msg, missing));
}

static void test_second_refresh_idle(void **state)
{
    struct fixture *fx = *state;
    struct tm_error err = {0};
    assert_true(refresh_ok(fx, T0 + 120) > 0);
    /* The entry ids are stored: every item has one now. The rows carry no
     * title (the merge reads the ones it needs from the store). */
    struct tm_store_rows set = {0};
    assert_int_equal(tm_store_load_rows(fx->store, &set, &err), 0);
    assert_int_equal(set.n, N_SOURCES * N_ENTRIES);
    for (size_t i = 0; i < set.n; i++) {
        assert_non_null(set.rows[i].entry_id);
        assert_null(set.rows[i].norm_title);
        assert_true(set.rows[i].title_hash != 0);
    }
    tm_store_rows_clear(&set);
    assert_int_equal(refresh_ok(fx, T0 + 180), 0);
}

/* A second cycle: a source adds a story close to a published one of
 * another source (a similar title, an hour later) and one of its own far
 * from the rest; the merge reads only the titles it needs and the bytes
 * still equal the full path's. */
static void test_second_cycle_equals_full(void **state)
{
    struct fixture *fx = *state;
    struct tm_error err = {0};
    (void)refresh_ok(fx, T0 + 120);

    struct tm_feed *f = feed_of(2);
    f->entries[0].id = dup_str("g-new-near");
    f->entries[0].title = dup_str("Tin riêng 1 của nguồn 2: hội nghị sơ kết năm");
    f->entries[0].link = dup_str("http://s0.example/tin/new-near");
    f->entries[0].published_utc = T0 - 3600 + 1800;
    f->entries[0].updated_utc = TM_TIME_NONE;
    f->entries[1].id = dup_str("g-new-far");
    f->entries[1].title = dup_str("Tin mới xa: lịch tiếp công dân của lãnh đạo huyện");
    f->entries[1].link = dup_str("http://s0.example/tin/new-far");
    f->entries[1].published_utc = T0 - 40 * 24 * 3600;
    f->entries[1].updated_utc = TM_TIME_NONE;
    if (tm_store_put_feed(fx->store, &fx->sources[0], f, T0 + 90, NULL, NULL, NULL, &err) != 0)
        fail_msg("put_feed: %s", err.msg);
    tm_feed_free(f);

    struct tm_publish_result full = {0}, rows = {0};
    publish_full(fx, &full, false);
    struct tm_config cfg = fx->cfg;
    cfg.out_dir = fx->out_rows;
    if (tm_refresh(fx->store, &cfg, T0 + 120, &rows, NULL, &err) != 0)
        fail_msg("refresh: %s", err.msg);
    assert_same_files(&full, &rows);
    tm_publish_result_clear(&full);
    tm_publish_result_clear(&rows);
    /* The near one joined the published story (Jaccard 0.9), the far one
     * is a story of its own. */
    struct tm_item *items = NULL;
    size_t n = 0;
    assert_int_equal(tm_store_load_items(fx->store, &items, &n, &err), 0);
    const char *near = NULL, *old = NULL, *far = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(items[i].key, "g:g-new-near") == 0)
            near = items[i].entry_id;
        else if (strcmp(items[i].key, "g:g-new-far") == 0)
            far = items[i].entry_id;
        else if (strcmp(items[i].key, "g:g-2-1") == 0)
            old = items[i].entry_id;
    }
    assert_non_null(near);
    assert_non_null(old);
    assert_non_null(far);
    assert_string_equal(near, old);
    assert_string_not_equal(far, old);
    tm_items_free(items, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows_equal_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_cycle_equals_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_refresh_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_refresh_leaves_no_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_publish_keeps_no_ids, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
