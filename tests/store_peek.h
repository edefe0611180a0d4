/* tinmoi tests — the store as another process sees it. */
#ifndef TINMOI_TESTS_STORE_PEEK_H
#define TINMOI_TESTS_STORE_PEEK_H

#include <sqlite3.h>
#include <stdio.h>

/* The integer the one-row query `sql` gives on state_dir `dir`'s store, as
 * another connection (tinmoi status, a crash's successor) sees it: what is
 * committed. Fails the test when the database cannot be read. */
static inline int peek_int(const char *dir, const char *sql)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tinmoi.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Items committed in state_dir `dir`'s store. */
static inline int committed_items(const char *dir)
{
    return peek_int(dir, "SELECT count(*) FROM items");
}

#endif
