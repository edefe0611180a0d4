/* tinmoi tests — a small deterministic generator (Marsaglia's xorshift32)
 * for the tests that mix random pieces of text. */
#ifndef TINMOI_TESTS_XORSHIFT_H
#define TINMOI_TESTS_XORSHIFT_H

#include <stdint.h>

/* The next value of the sequence in *state (never 0). */
static inline uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

#endif
