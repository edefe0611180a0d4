/* tinmoi — copying the few bytes of a markup piece without a call.
 *
 * The parser's text capture, the sanitiser's writer and the text writer
 * append many pieces of a few bytes ("<", "&lt;" decoded, a tag name): for
 * those, a call to memcpy with a size that changes every time costs more
 * than the copy. Internal to the library. */
#ifndef TINMOI_COPY_INT_H
#define TINMOI_COPY_INT_H

#include <stdint.h>
#include <string.h>

#include "tinmoi/buf.h"

/* Copies n bytes from src to dst (which do not overlap). Up to 16 bytes as
 * two overlapping loads and stores of a fixed size, which compilers inline;
 * longer copies go to memcpy. gcc's -Warray-bounds, inlining this with a
 * short string literal as src, warns about the 8-byte loads of a branch
 * that only runs for n >= 8: a false alarm, silenced here alone. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
static inline void tm_copy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n > 16) {
        memcpy(d, s, n);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n > 0) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* tm_buf_add, with the copy inlined when the buffer has room already (the
 * common case for pieces of a few bytes, where the call costs more than
 * the copy). Same result and errors as tm_buf_add. */
static inline int tm_buf_add_fast(struct tm_buf *b, const void *s, size_t n)
{
    if (n < b->cap - b->len && n <= b->max_bytes - b->len) {
        tm_copy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return tm_buf_add(b, s, n);
}

#endif
