/* tinmoi — FNV-1a 64. */
#include "tinmoi/hash.h"

#include <string.h>

/* FNV-1a 64 prime. */
#define TM_HASH_FNV1A64_PRIME UINT64_C(1099511628211)

uint64_t tm_hash_fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= TM_HASH_FNV1A64_PRIME;
    }
    return h;
}

uint64_t tm_hash_str(const char *s)
{
    return tm_hash_fnv1a64(TM_HASH_FNV1A64_INIT, s, strlen(s));
}
