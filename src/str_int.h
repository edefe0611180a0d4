/* tinmoi — string helpers shared inside the library. */
#ifndef TINMOI_STR_INT_H
#define TINMOI_STR_INT_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* strdup that passes NULL through: returns NULL for NULL, else a malloc'd
 * copy the caller frees, or NULL on OOM (callers that must tell the two
 * apart check `src != NULL && copy == NULL`). */
static inline char *tm_strdup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* Whether two strings, either of which may be NULL, are equal (two NULLs
 * are). */
static inline bool tm_str_same(const char *a, const char *b)
{
    return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

#endif
