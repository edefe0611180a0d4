/* tinmoi — telling systemd how the daemon is doing (sd_notify(3), the
 * service manager's notification protocol; issue 4 item 4).
 *
 * With libsystemd at build time (TINMOI_HAVE_SYSTEMD) tm_notify goes
 * through sd_notify; otherwise through tm_notify_socket_send, the protocol
 * written once: one AF_UNIX SOCK_DGRAM datagram of "KEY=VALUE\n..." lines
 * to $NOTIFY_SOCKET, a path or an abstract socket written with a leading
 * '@'. The fallback is always compiled, so it is tested on every build. */
#ifndef TINMOI_NOTIFY_H
#define TINMOI_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "tinmoi/error.h"

/* Longest NOTIFY_SOCKET address: sun_path holds 108 bytes. */
#define TM_NOTIFY_MAX_ADDR_BYTES 107

/* Sends `state` ("READY=1", "STATUS=...", several lines joined by '\n') to
 * the address `socket_addr` ("/run/systemd/notify" or "@abstract"). Returns
 * 1 when sent, 0 when `socket_addr` is NULL or empty (not run by systemd:
 * nothing to do), or TM_EINVAL (a relative path, too long) / TM_EIO (socket
 * or sendto failed) with `err` (may be NULL) saying why. No logging. */
int tm_notify_socket_send(const char *socket_addr, const char *state, struct tm_error *err);

/* Sends `state` to the service manager named by $NOTIFY_SOCKET: through
 * sd_notify when built with libsystemd, else tm_notify_socket_send. Returns
 * 1 sent, 0 not under a service manager, negative TM_E* on failure. */
int tm_notify(const char *state, struct tm_error *err);

/* Like tm_notify with "RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC µs>",
 * which Type=notify-reload managers require and others accept. */
int tm_notify_reloading(struct tm_error *err);

/* Whether the service manager expects WATCHDOG=1 keep-alives from this
 * process (sd_watchdog_enabled(3): $WATCHDOG_USEC set and, when
 * $WATCHDOG_PID is set, equal to our pid). On true, *usec is the watchdog
 * period; the daemon pings every *usec / 2. */
bool tm_notify_watchdog_usec(uint64_t *usec);

#endif
