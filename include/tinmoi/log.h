/* tinmoi — logging for the program's I/O stages (pure modules never log).
 *
 * One event a line on stderr, prefixed with the syslog priority "<N>" that
 * journald understands (sd-daemon(3)), so `journalctl -p warning` works when
 * tinmoi runs under systemd. */
#ifndef TINMOI_LOG_H
#define TINMOI_LOG_H

/* syslog(3) priorities. */
enum tm_log_level {
    TM_LOG_ERR = 3,
    TM_LOG_WARNING = 4,
    TM_LOG_NOTICE = 5,
    TM_LOG_INFO = 6,
    TM_LOG_DEBUG = 7,
};

/* Writes "<N>message\n" (TM_LOG_DEBUG lines are dropped) to stderr in one write(2), so lines from
 * one process never interleave. Newlines inside the message become spaces. */
void tm_log(enum tm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
