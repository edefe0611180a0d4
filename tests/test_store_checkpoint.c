/* Tests for store_checkpoint.c: a poke copies the WAL back into the
 * database on the checkpointer's thread, waiting for it lets the next
 * write transaction start the WAL over, and a database it cannot open is
 * a clear error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store_checkpoint_int.h"

/* Rows of 1 KB: enough pages that the WAL holds hundreds of frames. */
enum { N_ROWS = 400, ROW_BYTES = 1024 };

struct fixture {
    char dir[64];
    char path[96];
    sqlite3 *db; /* the writer's connection: WAL mode, never checkpoints itself */
};

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg != NULL ? msg : sqlite3_errstr(rc));
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/tm-ckpt-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/t.db", fx->dir);
    assert_int_equal(sqlite3_open(fx->path, &fx->db), SQLITE_OK);
    exec_ok(fx->db, "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
                    "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    sqlite3_close(fx->db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static void write_rows(sqlite3 *db, int n)
{
    exec_ok(db, "BEGIN");
    char sql[256];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d)"
             " INSERT INTO t (body) SELECT randomblob(%d) FROM k",
             n, ROW_BYTES);
    exec_ok(db, sql);
    exec_ok(db, "COMMIT");
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The frames in the WAL (a PASSIVE checkpoint reports them; whatever it
 * copies on the way changes no count the tests read). */
static void wal_frames(sqlite3 *db, int *n_log, int *n_copied)
{
    assert_int_equal(
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, n_log, n_copied), SQLITE_OK);
}

static void test_poke_copies_the_wal(void **state)
{
    struct fixture *fx = *state;
    write_rows(fx->db, N_ROWS);
    off_t before = file_size(fx->path);
    struct tm_checkpointer *c = NULL;
    struct tm_error err = {0};
    assert_int_equal(tm_checkpointer_start(fx->path, &c, &err), 0);
    tm_checkpointer_poke(c);
    tm_checkpointer_wait(c);
    struct tm_checkpointer_stats st = tm_checkpointer_stats(c);
    assert_true(st.runs >= 1);
    assert_int_equal(st.failures, 0);
    /* The rows are in the database file now, not only in the WAL. */
    assert_true(file_size(fx->path) >= before + (off_t)N_ROWS * ROW_BYTES);
    tm_checkpointer_stop(c);
}

static void test_wait_lets_the_wal_start_over(void **state)
{
    struct fixture *fx = *state;
    write_rows(fx->db, N_ROWS);
    int n_log = 0, n_copied = 0;
    struct tm_checkpointer *c = NULL;
    struct tm_error err = {0};
    assert_int_equal(tm_checkpointer_start(fx->path, &c, &err), 0);
    tm_checkpointer_poke(c);
    tm_checkpointer_wait(c);
    /* The writer's next transaction begins with the WAL copied whole: its
     * first frame goes at the start of the WAL again. */
    write_rows(fx->db, 1);
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(fx->path, &other), SQLITE_OK);
    exec_ok(other, "PRAGMA wal_autocheckpoint = 0; SELECT count(*) FROM t");
    tm_checkpointer_stop(c);
    wal_frames(other, &n_log, &n_copied);
    assert_true(n_log > 0);
    assert_true(n_log < 10); /* one row: a few pages, not N_ROWS of them */
    sqlite3_close(other);
}

static void test_stop_without_poke_runs_nothing(void **state)
{
    struct fixture *fx = *state;
    write_rows(fx->db, 10);
    off_t before = file_size(fx->path);
    struct tm_checkpointer *c = NULL;
    struct tm_error err = {0};
    assert_int_equal(tm_checkpointer_start(fx->path, &c, &err), 0);
    tm_checkpointer_wait(c); /* nothing asked: returns at once */
    assert_int_equal(tm_checkpointer_stats(c).runs, 0);
    tm_checkpointer_stop(c);
    assert_int_equal(file_size(fx->path), before);
    tm_checkpointer_stop(NULL);
}

static void test_missing_database_is_an_error(void **state)
{
    struct fixture *fx = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/no-such-dir/t.db", fx->dir);
    struct tm_checkpointer *c = (struct tm_checkpointer *)1;
    struct tm_error err = {0};
    assert_int_equal(tm_checkpointer_start(path, &c, &err), TM_ESTORE);
    assert_null(c);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "checkpointer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_poke_copies_the_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_lets_the_wal_start_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_without_poke_runs_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_database_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
