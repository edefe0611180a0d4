/* tinmoi — sd_notify, through libsystemd or the datagram protocol itself. */
#include "tinmoi/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef TINMOI_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

int tm_notify_socket_send(const char *socket_addr, const char *state, struct tm_error *err)
{
    if (socket_addr == NULL || socket_addr[0] == '\0')
        return 0;
    size_t len = strlen(socket_addr);
    if (len > TM_NOTIFY_MAX_ADDR_BYTES)
        return tm_error_set(err, TM_EINVAL, "NOTIFY_SOCKET too long (%zu bytes)", len);
    if (socket_addr[0] != '/' && socket_addr[0] != '@')
        return tm_error_set(err, TM_EINVAL, "NOTIFY_SOCKET %s: neither a path nor @abstract",
                            socket_addr);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, socket_addr, len);
    /* An abstract address starts with a NUL byte and is exactly as long as
     * given: no terminator counts (unix(7)). */
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    socklen_t salen =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (socket_addr[0] == '@' ? 0 : 1));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return tm_error_set(err, TM_EIO, "notify socket: %s", strerror(errno));
    ssize_t n;
    do
        n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (n < 0)
        return tm_error_set(err, TM_EIO, "notify %s: %s", socket_addr, strerror(saved));
    return 1;
}

int tm_notify(const char *state, struct tm_error *err)
{
#ifdef TINMOI_HAVE_SYSTEMD
    int rc = sd_notify(0, state);
    if (rc < 0)
        return tm_error_set(err, TM_EIO, "sd_notify: %s", strerror(-rc));
    return rc > 0 ? 1 : 0;
#else
    return tm_notify_socket_send(getenv("NOTIFY_SOCKET"), state, err);
#endif
}

int tm_notify_reloading(struct tm_error *err)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return tm_error_set(err, TM_EIO, "clock_gettime: %s", strerror(errno));
    uint64_t usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    char msg[64];
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, usec);
    return tm_notify(msg, err);
}

#ifndef TINMOI_HAVE_SYSTEMD
static bool parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}
#endif

bool tm_notify_watchdog_usec(uint64_t *usec)
{
#ifdef TINMOI_HAVE_SYSTEMD
    uint64_t v = 0;
    if (sd_watchdog_enabled(0, &v) <= 0 || v == 0)
        return false;
    *usec = v;
    return true;
#else
    uint64_t v, pid;
    if (!parse_u64(getenv("WATCHDOG_USEC"), &v) || v == 0)
        return false;
    const char *p = getenv("WATCHDOG_PID");
    if (p != NULL && (!parse_u64(p, &pid) || pid != (uint64_t)getpid()))
        return false;
    *usec = v;
    return true;
#endif
}
