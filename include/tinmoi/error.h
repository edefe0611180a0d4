/* tinmoi — error codes shared by every module.
 *
 * Functions return 0 or a negative TM_E* code. When the caller wants detail
 * (line and column, HTTP status, SQLite message) it passes a struct tm_error
 * to fill; NULL means "don't care". */
#ifndef TINMOI_ERROR_H
#define TINMOI_ERROR_H

#include <stddef.h>

enum tm_err {
    TM_OK = 0,
    TM_ENOMEM = -1,   /* an allocation failed */
    TM_EINVAL = -2,   /* bad argument or value */
    TM_ENOTFEED = -3, /* the document is not an RSS or Atom feed */
    TM_ELIMIT = -4,   /* a named limit (TM_*_MAX_*) was exceeded */
    TM_EPARSE = -5,   /* malformed input that could not be recovered */
    TM_EIO = -6,      /* a read, write, rename or fsync failed */
    TM_ECONFIG = -7,  /* the configuration or source list is invalid */
    TM_ESTORE = -8,   /* the SQLite store failed */
    TM_EFETCH = -9,   /* a transfer failed (network, HTTP status, limits) */
    TM_EDATE = -10,   /* a date string was not recognised */
    TM_ENOENT = -11,  /* no such file, key or item */
    TM_EBUSY = -12,   /* already running (lock held) */
};

/* Detail of an error for the caller that asked for it. `msg` is one line, no
 * trailing newline; `line`/`column` are 1-based, 0 when unknown. */
struct tm_error {
    int code;
    int line;
    int column;
    char msg[512];
};

/* Static text for a TM_E* code; never NULL. */
const char *tm_strerror(int code);

/* Fills `err` (if not NULL) with `code` and a printf-style message; returns
 * `code` so callers can write `return tm_error_set(err, TM_EIO, "...")`. */
int tm_error_set(struct tm_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
