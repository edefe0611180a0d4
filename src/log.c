/* tinmoi — one event a line on stderr with a syslog priority prefix. */
#include "tinmoi/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* A log line longer than this is cut: an event is one line, not a dump. */
#define TM_LOG_MAX_LINE_BYTES 2048

/* Debug lines are for developers reading a test's output, not journals. */
#define TM_LOG_MAX_LEVEL TM_LOG_INFO

void tm_log(enum tm_log_level level, const char *fmt, ...)
{
    if (level > TM_LOG_MAX_LEVEL)
        return;
    char line[TM_LOG_MAX_LINE_BYTES];
    int head = snprintf(line, sizeof line, "<%d>", (int)level);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + head, sizeof line - (size_t)head - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)head;
    if (n > 0)
        len +=
            (size_t)n < sizeof line - (size_t)head - 1 ? (size_t)n : sizeof line - (size_t)head - 2;
    for (size_t i = (size_t)head; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere left to report a failing stderr */
}
