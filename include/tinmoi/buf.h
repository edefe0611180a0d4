/* tinmoi — a growable byte buffer with a hard limit (after curl's dynbuf).
 *
 * Anything sized by outside input grows in a tm_buf: past `max_bytes` an
 * append fails with TM_ELIMIT instead of growing without bound. The data is
 * always NUL-terminated so it can be used as a C string. */
#ifndef TINMOI_BUF_H
#define TINMOI_BUF_H

#include <stddef.h>

struct tm_buf {
    char *data;       /* owned; NULL until the first append */
    size_t len;       /* bytes used, excluding the terminating NUL */
    size_t cap;       /* bytes allocated */
    size_t max_bytes; /* hard limit on len; 0 means SIZE_MAX/2 */
};

/* Initialises an empty buffer that may hold at most `max_bytes` bytes. */
void tm_buf_init(struct tm_buf *b, size_t max_bytes);
/* Appends `len` bytes; TM_ELIMIT past max_bytes (nothing appended), TM_ENOMEM. */
int tm_buf_add(struct tm_buf *b, const void *data, size_t len);
/* Appends a NUL-terminated string. */
int tm_buf_adds(struct tm_buf *b, const char *s);
/* Appends one byte. */
int tm_buf_addc(struct tm_buf *b, char c);
/* Appends printf-style text. */
int tm_buf_printf(struct tm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties the buffer, keeping its memory. */
void tm_buf_reset(struct tm_buf *b);
/* Hands the data to the caller (who frees it with free()) and empties the
 * buffer. Returns an empty malloc'd string for an empty buffer; NULL on OOM. */
char *tm_buf_steal(struct tm_buf *b);
/* Frees the data; the buffer may be reused after tm_buf_init. */
void tm_buf_free(struct tm_buf *b);

#endif
