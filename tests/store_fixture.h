/* tinmoi tests — a fresh store in a fresh state_dir for each test
 * (cmocka setup and teardown), for the store's tests. */
#ifndef TINMOI_TESTS_STORE_FIXTURE_H
#define TINMOI_TESTS_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "tinmoi/merge.h"
#include "tinmoi/store.h"
#include "tmpdir.h"

struct fixture {
    char dir[64]; /* the state_dir, from mkdtemp */
    struct tm_store *store;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/tinmoi-store-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    struct tm_error err = {0};
    assert_int_equal(tm_store_open(fx->dir, &fx->store, &err), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tm_store_close(fx->store);
    remove_tree(fx->dir);
    free(fx);
    return 0;
}

/* tm_store_set_entry_ids for stories whose members index `items` (as
 * tm_store_load_items loads them), through the merge's rows of the items. */
static inline int set_entry_ids_of(struct tm_store *store, const struct tm_item *items, size_t n,
                                   const struct tm_story *stories, size_t n_stories,
                                   struct tm_error *err)
{
    struct tm_merge_input in;
    assert_int_equal(tm_merge_input_of(items, n, &in), 0);
    struct tm_merge_id_write *w;
    size_t n_w;
    assert_int_equal(tm_merge_id_writes(in.rows, stories, n_stories, &w, &n_w), 0);
    int rc = tm_store_set_entry_ids(store, w, n_w, NULL, NULL, err);
    free(w);
    tm_merge_input_clear(&in);
    return rc;
}

#endif
