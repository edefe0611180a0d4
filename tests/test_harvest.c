/* Tests of the harvester (fetch → parse → store for one source) with file:
 * sources, which the fetcher allows when the source list names them: every
 * result reaches the store, failures are recorded, and results share
 * batches of the store that are on disk when the harvester says so. Each
 * test runs a fresh uv loop and a fresh state_dir. */
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
#include <unistd.h>

#include <uv.h>

#include "tinmoi/fetch.h"
#include "tinmoi/harvest.h"
#include "tinmoi/store.h"

#include "store_peek.h"
#include "tmpdir.h"

#define PER_FEED 3 /* items in every generated feed */

struct fixture {
    char dir[64]; /* state_dir and the feed files */
    uv_loop_t loop;
    struct tm_store *store;
    struct tm_fetcher *fetcher;
    struct tm_harvester *harvester;
    size_t done, ok, failed;
    size_t expected;
    /* committed items (as another connection sees them) when the result
     * numbered check_at (1-based) was heard of, and when the last one was */
    size_t check_at;
    int committed_at_check;
    int committed_at_first;
    uint64_t started_ns;  /* uv_hrtime before the first start */
    uint64_t first_at_ms; /* when the first result was heard of, after started_ns */
    int committed_at_last;
    bool batch_open_at_last;
};

static void on_done(void *ud, const struct tm_harvest_outcome *o)
{
    struct fixture *fx = ud;
    fx->done++;
    assert_true(tm_harvester_offloaded(fx->harvester) <= TM_HARVEST_MAX_OFFLOADED);
    assert_true(tm_harvester_unfreed(fx->harvester) <= TM_HARVEST_MAX_UNFREED);
    if (o->ok)
        fx->ok++;
    else
        fx->failed++;
    if (fx->done == 1) {
        fx->committed_at_first = committed_items(fx->dir);
        fx->first_at_ms = (uv_hrtime() - fx->started_ns) / 1000000;
    }
    if (fx->done == fx->check_at)
        fx->committed_at_check = committed_items(fx->dir);
    if (fx->done == fx->expected) {
        fx->committed_at_last = committed_items(fx->dir);
        fx->batch_open_at_last = tm_store_batch_open(fx->store);
    }
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/tinmoi-harvest-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    struct tm_error err = {0};
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    struct tm_fetch_limits lim = {
        .concurrency = 8, .per_host = 8, .timeout_s = 10, .max_body_bytes = 1 << 20};
    assert_int_equal(tm_fetcher_new(&fx->loop, &lim, &fx->fetcher, &err), 0);
    assert_int_equal(
        tm_harvester_new(&fx->loop, fx->fetcher, fx->store, on_done, fx, &fx->harvester, &err), 0);
    *state = fx;
    return 0;
}

static void on_closed(void *ud)
{
    (void)ud;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tm_harvester_free(fx->harvester);
    tm_fetcher_close(fx->fetcher, on_closed, NULL);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    tm_store_close(fx->store);
    remove_tree(fx->dir);
    free(fx);
    return 0;
}

/* Writes feed number i (PER_FEED items of its own) and returns its file:
 * URL in url. */
static void write_feed(const struct fixture *fx, size_t i, char *url, size_t url_size)
{
    char path[256];
    snprintf(path, sizeof path, "%s/feed-%zu.xml", fx->dir, i);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "<rss version=\"2.0\"><channel><title>Nguồn %zu</title>"
            "<link>http://nguon%zu.example/</link>",
            i, i);
    for (int k = 0; k < PER_FEED; k++)
        fprintf(f,
                "<item><title>Tin %d của nguồn %zu</title>"
                "<link>http://nguon%zu.example/tin/%d</link>"
                "<pubDate>Tue, 31 May 2022 10:55:00 +0700</pubDate></item>",
                k, i, i, k);
    fputs("</channel></rss>", f);
    assert_int_equal(fclose(f), 0);
    snprintf(url, url_size, "file://%s", path);
}

static void start(struct fixture *fx, size_t i, char *url)
{
    char id[32];
    snprintf(id, sizeof id, "nguon-%zu", i);
    struct tm_source src = {.id = id, .title = id, .url = url, .category = "district"};
    struct tm_error err = {0};
    assert_int_equal(tm_store_sync_sources(fx->store, &src, 1, &err), 0);
    if (tm_harvest_start(fx->harvester, &src, &err) != 0)
        fail_msg("harvest_start %s: %s", url, err.msg);
}

/* Results: feeds stored, a missing file recorded as a failure, and every
 * result on disk when the last job is heard of. */
static void test_results_reach_the_store(void **state)
{
    struct fixture *fx = *state;
    char url[512];
    for (size_t i = 0; i < 4; i++) {
        write_feed(fx, i, url, sizeof url);
        start(fx, i, url);
    }
    snprintf(url, sizeof url, "file://%s/missing.xml", fx->dir);
    start(fx, 4, url);
    fx->expected = 5;
    assert_int_equal(tm_harvester_active(fx->harvester), 5);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(fx->done, 5);
    assert_int_equal(fx->ok, 4);
    assert_int_equal(fx->failed, 1);
    assert_int_equal(tm_harvester_active(fx->harvester), 0);
    assert_int_equal(tm_harvester_offloaded(fx->harvester), 0); /* offloading goes on */
    assert_int_equal(tm_harvester_unfreed(fx->harvester), 0);   /* every feed freed */
    assert_int_equal(fx->committed_at_last, 4 * PER_FEED);
    assert_false(fx->batch_open_at_last);

    struct tm_source_state st = {0};
    struct tm_error err = {0};
    assert_int_equal(tm_store_source_state(fx->store, "nguon-4", &st, &err), 0);
    assert_int_equal(st.status, TM_SOURCE_ERROR);
    assert_non_null(st.last_error);
    tm_source_state_clear(&st);
}

/* Writes `body` to `name` in the fixture's folder; its file: URL in url. */
static void write_file(const struct fixture *fx, const char *name, const char *body, char *url,
                       size_t url_size)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(body, f);
    assert_int_equal(fclose(f), 0);
    snprintf(url, url_size, "file://%s", path);
}

/* The store's last error of source number i ("" when none). */
static void last_error(struct fixture *fx, size_t i, char *out, size_t size)
{
    char id[32];
    snprintf(id, sizeof id, "nguon-%zu", i);
    struct tm_source_state st = {0};
    struct tm_error err = {0};
    assert_int_equal(tm_store_source_state(fx->store, id, &st, &err), 0);
    snprintf(out, size, "%s", st.last_error != NULL ? st.last_error : "");
    tm_source_state_clear(&st);
}

/* Every TM_HARVEST_OFFLOAD_EVERY-th job is parsed on the parser thread, the
 * rest on the loop: each kind of body, started that many times in a row,
 * goes through both, and both give the same result. A long feed arrives in
 * many pieces; an HTML page stops the parse; a broken document fails. */
static void test_both_parsers_alike(void **state)
{
    struct fixture *fx = *state;
    char *big = malloc(400 * 256 + 256);
    assert_non_null(big);
    size_t len = (size_t)sprintf(big, "<rss version=\"2.0\"><channel><title>Lớn</title>");
    for (int k = 0; k < 400; k++)
        len +=
            (size_t)sprintf(big + len,
                            "<item><title>Tin dài số %d</title><link>http://lon.example/%d</link>"
                            "<description>&lt;p&gt;Nội dung %d&lt;/p&gt;</description></item>",
                            k, k, k);
    sprintf(big + len, "</channel></rss>");
    const char *bodies[] = {
        big,
        "<!DOCTYPE html><html><head><title>Trang chủ</title></head><body><p>Không phải "
        "feed</p></body></html>",
        "<rss version=\"2.0\"><channel><title>Hỏng</title><item><title>a</title></chan",
    };
    enum { KINDS = sizeof bodies / sizeof *bodies, EACH = TM_HARVEST_OFFLOAD_EVERY };
    char url[512], name[32];
    for (size_t k = 0; k < KINDS; k++) {
        snprintf(name, sizeof name, "kind-%zu.xml", k);
        write_file(fx, name, bodies[k], url, sizeof url);
        for (size_t e = 0; e < EACH; e++)
            start(fx, k * EACH + e, url);
    }
    free(big);
    fx->expected = KINDS * EACH;
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(fx->done, KINDS * EACH);
    assert_int_equal(tm_harvester_offloaded(fx->harvester), 0);
    assert_int_equal(tm_harvester_unfreed(fx->harvester), 0);
    assert_int_equal(fx->ok, 2 * EACH); /* the long feed, and the broken one recovered */
    assert_int_equal(committed_items(fx->dir), 400 * EACH + 1 * EACH);
    for (size_t k = 0; k < KINDS; k++) {
        char first[512], other[512];
        last_error(fx, k * EACH, first, sizeof first);
        for (size_t e = 1; e < EACH; e++) {
            last_error(fx, k * EACH + e, other, sizeof other);
            assert_string_equal(first, other);
        }
        if (k == 1)
            assert_non_null(strstr(first, "<html>"));
    }
}

/* Many results: a batch is committed every TM_HARVEST_BATCH_RESULTS while
 * jobs still run (its writes are visible to others when the result that
 * filled it is heard of), and the rest when the last one ends. */
static void test_batches_of_results(void **state)
{
    struct fixture *fx = *state;
    enum { N = TM_HARVEST_BATCH_RESULTS + 20 };
    char url[512];
    fx->started_ns = uv_hrtime();
    for (size_t i = 0; i < N; i++) {
        write_feed(fx, i, url, sizeof url);
        start(fx, i, url);
    }
    fx->expected = N;
    fx->check_at = TM_HARVEST_BATCH_RESULTS;
    fx->committed_at_check = -1;
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(fx->ok, N);
    /* While others run, results wait in the batch: when the first result
     * is heard of (the writer thread may be ahead of the loop by then),
     * what is on disk is whole batches, unless a batch grew a second old
     * first (a slow machine) and was committed for its age... */
    if (fx->first_at_ms < TM_HARVEST_BATCH_MS)
        assert_true(fx->committed_at_first % (TM_HARVEST_BATCH_RESULTS * PER_FEED) == 0 ||
                    fx->committed_at_first == N * PER_FEED); /* the last one settled all */
    /* ...each earlier batch was committed when full or a second old: by the
     * result that fills the first batch at the latest, all of its results
     * are on disk. */
    assert_true(fx->committed_at_check >= TM_HARVEST_BATCH_RESULTS * PER_FEED);
    assert_int_equal(fx->committed_at_last, N * PER_FEED);
    assert_false(fx->batch_open_at_last);
}

/* Freeing the harvester with results still waiting for the writer (the
 * rest cancelled): each is recorded and heard of before the free returns,
 * so every source the store holds a result for has had its on_done (the
 * daemon stores its schedule there), and none is heard of twice. */
static void test_free_reports_what_it_records(void **state)
{
    struct fixture *fx = *state;
    enum { N = 96 };
    char url[512];
    for (size_t i = 0; i < N; i++) {
        write_feed(fx, i, url, sizeof url);
        start(fx, i, url);
    }
    fx->expected = N;
    while (fx->done == 0)
        (void)uv_run(&fx->loop, UV_RUN_ONCE);
    tm_fetcher_cancel_all(fx->fetcher);
    tm_harvester_free(fx->harvester);
    fx->harvester = NULL;
    size_t heard = fx->done;
    assert_int_equal(uv_run(&fx->loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(fx->done, heard);

    struct tm_store_source *list = NULL;
    size_t n = 0;
    struct tm_error err = {0};
    assert_int_equal(tm_store_list_sources(fx->store, &list, &n, &err), 0);
    size_t recorded = 0;
    for (size_t i = 0; i < n; i++)
        recorded += list[i].state.status != TM_SOURCE_NEVER;
    tm_store_sources_free(list, n);
    assert_int_equal(recorded, heard);
    assert_int_equal(committed_items(fx->dir), (int)(fx->ok * PER_FEED));
}

/* A flush commits at once; freeing the harvester flushes too. */
static void test_flush(void **state)
{
    struct fixture *fx = *state;
    struct tm_error err = {0};
    assert_int_equal(tm_store_batch_begin(fx->store, &err), 0);
    struct tm_feed f = {.format = TM_FORMAT_RSS20, .updated_utc = TM_TIME_NONE};
    struct tm_entry e = {.id = "g",
                         .title = "Tin",
                         .link = "http://a.example/1",
                         .published_utc = 1653969300,
                         .updated_utc = TM_TIME_NONE};
    f.entries = &e;
    f.n_entries = 1;
    struct tm_source src = {.id = "a", .title = "A", .url = "http://a.example/rss"};
    assert_int_equal(tm_store_put_feed(fx->store, &src, &f, 1653969300, NULL, NULL, NULL, &err), 0);
    assert_int_equal(committed_items(fx->dir), 0);
    tm_harvester_flush(fx->harvester);
    assert_false(tm_store_batch_open(fx->store));
    assert_int_equal(committed_items(fx->dir), 1);

    /* A second batch, committed by freeing the harvester (not by the
     * store's close in teardown). */
    assert_int_equal(tm_store_batch_begin(fx->store, &err), 0);
    e.id = "g2";
    e.link = "http://a.example/2";
    assert_int_equal(tm_store_put_feed(fx->store, &src, &f, 1653969300, NULL, NULL, NULL, &err), 0);
    assert_int_equal(committed_items(fx->dir), 1);
    tm_harvester_free(fx->harvester);
    fx->harvester = NULL;
    assert_false(tm_store_batch_open(fx->store));
    assert_int_equal(committed_items(fx->dir), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_results_reach_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_of_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_reports_what_it_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_both_parsers_alike, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
