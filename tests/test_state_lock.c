/* Tests of the state_dir lock (one writer per store). flock(2) locks belong
 * to an open file description, so two tm_state_lock calls in one process
 * conflict just as two processes do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tinmoi/state_lock.h"
#include "tmpdir.h"

static void test_one_holder(void **state)
{
    (void)state;
    char dir[] = "/tmp/tinmoi-lock-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct tm_error err = {0};
    int fd = -1, fd2 = -1;
    assert_int_equal(tm_state_lock(dir, &fd, &err), 0);
    assert_true(fd >= 0);

    /* Held: refused, naming the holder. */
    assert_int_equal(tm_state_lock(dir, &fd2, &err), TM_EBUSY);
    assert_int_equal(fd2, -1);
    char want[96];
    snprintf(want, sizeof want, "another tinmoi is running on %s (pid %ld)", dir, (long)getpid());
    assert_string_equal(err.msg, want);

    /* Released (as by the kernel when the holder dies): taken again. */
    close(fd);
    assert_int_equal(tm_state_lock(dir, &fd2, &err), 0);
    close(fd2);

    remove_tree(dir);
}

static void test_missing_dir(void **state)
{
    (void)state;
    struct tm_error err = {0};
    int fd = -1;
    assert_int_equal(tm_state_lock("/nonexistent/tinmoi-state", &fd, &err), TM_EIO);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(err.msg, "state_dir /nonexistent/tinmoi-state: No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_holder),
        cmocka_unit_test(test_missing_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
