/* tinmoi fuzzers — the input as a C string. */
#ifndef TINMOI_FUZZ_INPUT_H
#define TINMOI_FUZZ_INPUT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'd, NUL-terminated copy of data[0..size) (the caller frees it;
 * it ends at the first NUL the input holds); NULL on OOM. */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
