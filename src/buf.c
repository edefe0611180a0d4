/* tinmoi — bounded growable buffer. */
#include "tinmoi/buf.h"
#include "tinmoi/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest allocation: most fields are short, so start small. */
#define TM_BUF_MIN_CAP 64

void tm_buf_init(struct tm_buf *b, size_t max_bytes)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max_bytes = max_bytes ? max_bytes : SIZE_MAX / 2;
}

static int buf_reserve(struct tm_buf *b, size_t extra)
{
    if (extra > b->max_bytes - b->len)
        return TM_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : TM_BUF_MIN_CAP;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return TM_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int tm_buf_add(struct tm_buf *b, const void *data, size_t len)
{
    int rc = buf_reserve(b, len);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int tm_buf_adds(struct tm_buf *b, const char *s)
{
    return tm_buf_add(b, s, strlen(s));
}

int tm_buf_addc(struct tm_buf *b, char c)
{
    return tm_buf_add(b, &c, 1);
}

int tm_buf_printf(struct tm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TM_EINVAL;
    int rc = buf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void tm_buf_reset(struct tm_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *tm_buf_steal(struct tm_buf *b)
{
    char *p = b->data;
    if (p == NULL)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

void tm_buf_free(struct tm_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
