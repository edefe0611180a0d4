/* tinmoi — error codes to text. */
#include "tinmoi/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *tm_strerror(int code)
{
    switch (code) {
    case TM_OK:
        return "success";
    case TM_ENOMEM:
        return "out of memory";
    case TM_EINVAL:
        return "invalid argument";
    case TM_ENOTFEED:
        return "not an RSS or Atom feed";
    case TM_ELIMIT:
        return "limit exceeded";
    case TM_EPARSE:
        return "malformed input";
    case TM_EIO:
        return "input/output error";
    case TM_ECONFIG:
        return "invalid configuration";
    case TM_ESTORE:
        return "store error";
    case TM_EFETCH:
        return "fetch failed";
    case TM_EDATE:
        return "unrecognised date";
    case TM_ENOENT:
        return "not found";
    case TM_EBUSY:
        return "already in use";
    default:
        return "unknown error";
    }
}

int tm_error_set(struct tm_error *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}
