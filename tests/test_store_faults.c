/* Faults inside the store's batches that the public API cannot cause:
 * SQLite rolling a transaction back by itself (SQLITE_FULL, an I/O error),
 * and a COMMIT refused for now. This file includes store.c itself, so its
 * definitions replace the library's (libtinmoi is a static archive: the
 * linker never pulls store.o) and the tests can reach the connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>

#include "../src/store.c"

#include "store_peek.h"
#include "store_fixture.h"

#define T0 INT64_C(1653969300)

static const struct tm_source src_a = {
    .id = "huyen-nhu-thanh",
    .title = "Huyện Như Thanh",
    .url = "http://nhuthanh.example/rss",
    .category = "district",
};

/* One entry of its own for each call. */
static void put_one(struct tm_store *s, char *guid)
{
    struct tm_entry e = {
        .id = guid, .title = guid, .link = NULL, .published_utc = T0, .updated_utc = TM_TIME_NONE};
    struct tm_feed f = {.format = TM_FORMAT_RSS20, .updated_utc = TM_TIME_NONE};
    f.entries = &e;
    f.n_entries = 1;
    struct tm_error err = {0};
    if (tm_store_put_feed(s, &src_a, &f, T0, NULL, NULL, NULL, &err) != 0)
        fail_msg("put_feed: %s", err.msg);
}

/* SQLite ends the whole transaction (as SQLITE_FULL or an I/O error do):
 * the batch is lost, reported once, and writing goes on. */
static void test_lost_batch_reported_once(void **state)
{
    struct fixture *fx = *state;
    struct tm_error err = {0};
    assert_int_equal(tm_store_batch_begin(fx->store, &err), 0);
    put_one(fx->store, "g1");
    assert_int_equal(sqlite3_exec(fx->store->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_false(tm_store_batch_open(fx->store));
    assert_true(tm_store_batch_pending(fx->store));

    /* A write after it is its own transaction, and kept. */
    put_one(fx->store, "g2");
    assert_int_equal(committed_items(fx->dir), 1);

    /* Entry ids do not fail on a loss that is the batch owner's to report. */
    struct tm_item *items = NULL;
    size_t n = 0;
    assert_int_equal(tm_store_load_items(fx->store, &items, &n, &err), 0);
    struct tm_story story = {.entry_id = "urn:x", .members = (size_t[]){0}, .n_members = 1};
    assert_int_equal(set_entry_ids_of(fx->store, items, n, &story, 1, &err), 0);
    tm_items_free(items, n);

    assert_int_equal(tm_store_batch_commit(fx->store, &err), TM_ESTORE);
    assert_non_null(strstr(err.msg, "rolled back the batch"));
    assert_false(tm_store_batch_pending(fx->store));
    assert_int_equal(tm_store_batch_commit(fx->store, &err), 0); /* once */

    /* A loss nobody committed after is reported by the next begin. */
    assert_int_equal(tm_store_batch_begin(fx->store, &err), 0);
    put_one(fx->store, "g3");
    assert_int_equal(sqlite3_exec(fx->store->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    err = (struct tm_error){0};
    assert_int_equal(tm_store_batch_begin(fx->store, &err), TM_ESTORE);
    assert_non_null(strstr(err.msg, "rolled back the batch"));
    assert_int_equal(tm_store_batch_begin(fx->store, &err), 0);
    put_one(fx->store, "g4");
    assert_int_equal(tm_store_batch_commit(fx->store, &err), 0);
    assert_int_equal(committed_items(fx->dir), 2);
}

/* A write that fails inside a batch takes only its own part back. */
static void test_failed_write_keeps_the_batch(void **state)
{
    struct fixture *fx = *state;
    struct tm_error err = {0};
    assert_int_equal(tm_store_batch_begin(fx->store, &err), 0);
    put_one(fx->store, "g1");
    /* Make the next put fail after it has written: its item insert then
     * breaks a constraint the test adds. */
    assert_int_equal(sqlite3_exec(fx->store->db,
                                  "CREATE TRIGGER no_g2 BEFORE INSERT ON items"
                                  " WHEN NEW.guid = 'g2' BEGIN SELECT RAISE(ABORT, 'no g2'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    /* g2a is written before g2 fails: the failure must take it back too. */
    struct tm_entry e[2] = {
        {.id = "g2a", .title = "g2a", .published_utc = T0, .updated_utc = TM_TIME_NONE},
        {.id = "g2", .title = "g2", .published_utc = T0, .updated_utc = TM_TIME_NONE},
    };
    struct tm_feed f = {.format = TM_FORMAT_RSS20, .updated_utc = TM_TIME_NONE};
    f.entries = e;
    f.n_entries = 2;
    assert_int_equal(tm_store_put_feed(fx->store, &src_a, &f, T0, "\"v2\"", NULL, NULL, &err),
                     TM_ESTORE);
    assert_true(tm_store_batch_open(fx->store));
    /* Nothing of the failed put is left in the batch: neither g2a nor a
     * "v2" validator (read before g3's put writes the source row again). */
    struct tm_source_state st = {0};
    assert_int_equal(tm_store_source_state(fx->store, src_a.id, &st, &err), 0);
    assert_null(st.etag);
    tm_source_state_clear(&st);
    put_one(fx->store, "g3");
    assert_int_equal(tm_store_batch_commit(fx->store, &err), 0);
    assert_int_equal(committed_items(fx->dir), 2); /* g1 and g3 */
}

/* The store hands its checkpoints to the checkpointer, and a WAL past its
 * bound is started over: with the thresholds lowered to a page (every
 * commit pokes; four pages make the WAL full) the -wal file stays a few
 * commits long. Without the hook the checkpointer never runs; without the
 * wait the WAL never starts over and 60 commits leave hundreds of frames. */
static void test_checkpointer_bounds_the_wal(void **state)
{
    struct fixture *fx = *state;
    fx->store->checkpoint_pages = 1;
    char guid[32];
    for (int i = 0; i < 60; i++) {
        snprintf(guid, sizeof guid, "w%d", i);
        put_one(fx->store, guid);
    }
    struct tm_checkpointer_stats st = tm_checkpointer_stats(fx->store->checkpointer);
    assert_true(st.runs > 0);
    assert_int_equal(st.failures, 0);
    char wal[160];
    snprintf(wal, sizeof wal, "%s/tinmoi.db-wal", fx->dir);
    struct stat sb;
    assert_int_equal(stat(wal, &sb), 0);
    /* A commit here writes a few 16 KiB pages: 64 of them is ten commits. */
    if (sb.st_size > 64 * 16384)
        fail_msg("-wal file of %lld bytes after 60 commits", (long long)sb.st_size);
    assert_int_equal(committed_items(fx->dir), 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lost_batch_reported_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_keeps_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpointer_bounds_the_wal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
