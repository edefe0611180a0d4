/* Tests of the NOTIFY_SOCKET datagram protocol (sd_notify(3)) written by
 * tinmoi itself: against a path socket and an abstract socket this test
 * binds, and the watchdog's environment rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "tinmoi/error.h"
#include "tinmoi/notify.h"

/* Binds a datagram socket at `addr` ('@' for abstract) and returns it. */
static int bind_dgram(const char *addr)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(addr);
    memcpy(sa.sun_path, addr, len);
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (addr[0] == '@')
        sa.sun_path[0] = '\0';
    else
        salen++;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, salen), 0);
    struct timeval tv = {.tv_sec = 2};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    return fd;
}

static void recv_expect(int fd, const char *want)
{
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static void test_path_socket(void **state)
{
    (void)state;
    char dir[] = "/tmp/tm-notify-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/notify", dir);
    int fd = bind_dgram(path);
    struct tm_error err = {0};
    assert_int_equal(tm_notify_socket_send(path, "READY=1", &err), 1);
    recv_expect(fd, "READY=1");
    assert_int_equal(tm_notify_socket_send(path,
                                           "STATUS=3 sources ok, 1 error, 42 items, last publish "
                                           "10:55:00",
                                           &err),
                     1);
    recv_expect(fd, "STATUS=3 sources ok, 1 error, 42 items, last publish 10:55:00");
    /* tm_notify goes to $NOTIFY_SOCKET (through libsystemd when built with it) */
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(tm_notify("STOPPING=1", &err), 1);
    recv_expect(fd, "STOPPING=1");
    assert_int_equal(tm_notify_reloading(&err), 1);
    char buf[128];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "RELOADING=1\nMONOTONIC_USEC="));
    unsetenv("NOTIFY_SOCKET");
    close(fd);
    unlink(path);
    rmdir(dir);
    /* nobody listening any more: an error, not a crash or a hang */
    assert_true(tm_notify_socket_send(path, "READY=1", &err) < 0);
    assert_int_equal(err.code, TM_EIO);
}

static void test_abstract_socket(void **state)
{
    (void)state;
    char addr[64];
    snprintf(addr, sizeof addr, "@tinmoi-test-notify-%ld", (long)getpid());
    int fd = bind_dgram(addr);
    assert_int_equal(tm_notify_socket_send(addr, "WATCHDOG=1", NULL), 1);
    recv_expect(fd, "WATCHDOG=1");
    close(fd);
}

static void test_no_socket(void **state)
{
    (void)state;
    struct tm_error err = {0};
    assert_int_equal(tm_notify_socket_send(NULL, "READY=1", &err), 0);
    assert_int_equal(tm_notify_socket_send("", "READY=1", &err), 0);
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(tm_notify("READY=1", &err), 0);
    assert_int_equal(tm_notify_socket_send("relative/path", "READY=1", &err), TM_EINVAL);
    char longaddr[200];
    memset(longaddr, 'a', sizeof longaddr - 1);
    longaddr[0] = '/';
    longaddr[sizeof longaddr - 1] = '\0';
    assert_int_equal(tm_notify_socket_send(longaddr, "READY=1", &err), TM_EINVAL);
}

static void test_watchdog_env(void **state)
{
    (void)state;
    uint64_t usec = 0;
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_false(tm_notify_watchdog_usec(&usec));
    setenv("WATCHDOG_USEC", "1000000", 1);
    assert_true(tm_notify_watchdog_usec(&usec));
    assert_int_equal(usec, 1000000);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_true(tm_notify_watchdog_usec(&usec));
    /* meant for another process (our parent, say): not ours to ping */
    snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_false(tm_notify_watchdog_usec(&usec));
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "soon", 1);
    assert_false(tm_notify_watchdog_usec(&usec));
    unsetenv("WATCHDOG_USEC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_socket),
        cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test(test_no_socket),
        cmocka_unit_test(test_watchdog_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
