/* tinmoi tests — the store as another process sees it. */
#ifndef TINMOI_TESTS_STORE_PEEK_H
#define TINMOI_TESTS_STORE_PEEK_H

#include <sqlite3.h>
#include <stdio.h>

/* Items in state_dir `dir`'s store as another connection (tinmoi status, a
 * crash's successor) sees them: what is committed. Fails the test when the
 * database cannot be read. */
static inline int committed_items(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tinmoi.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM items", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

#endif
