/* tinmoi — the one non-cryptographic hash every module uses.
 *
 * FNV-1a 64 (Fowler–Noll–Vo): tiny, stable across platforms and releases,
 * and good enough for what it serves here — hash-table buckets, item keys of
 * titles, ETags of published bodies. None of these is an adversary's target:
 * a collision costs a bucket scan or, for an ETag, a 304 for a body that
 * changed in exactly the colliding way, far less likely than a disk error. */
#ifndef TINMOI_HASH_H
#define TINMOI_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a 64 offset basis: the hash of nothing, and the seed to continue from. */
#define TM_HASH_FNV1A64_INIT UINT64_C(14695981039346656037)

/* Continues the FNV-1a 64 hash `h` over data[0..len). Start with
 * TM_HASH_FNV1A64_INIT; hashing a then b in two calls equals hashing ab. */
uint64_t tm_hash_fnv1a64(uint64_t h, const void *data, size_t len);

/* The FNV-1a 64 hash of a NUL-terminated string. */
uint64_t tm_hash_str(const char *s);

#endif
