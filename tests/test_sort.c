/* Tests of the sort template (src/sort_int.h): every length from 0 to a
 * few hundred and some large ones, random, sorted, reversed, all equal,
 * organ pipes and few distinct keys, against qsort on the same total
 * order; and the heapsort the depth limit falls back to, forced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xorshift.h"

/* A key with many duplicates and the index that makes the order total,
 * as the merge's sorts have. */
struct kv {
    uint32_t key;
    uint32_t idx;
};

#define KV_LESS(a, b) ((a)->key != (b)->key ? (a)->key < (b)->key : (a)->idx < (b)->idx)

#define TM_SORT_NAME sort_kv
#define TM_SORT_TYPE struct kv
#define TM_SORT_LESS KV_LESS
#include "sort_int.h"

#define TM_SORT_NAME sort_u64
#define TM_SORT_TYPE uint64_t
#define TM_SORT_LESS(a, b) (*(a) < *(b))
#include "sort_int.h"

static int on_qsort_kv(const void *pa, const void *pb)
{
    const struct kv *a = pa, *b = pb;
    return KV_LESS(a, b) ? -1 : KV_LESS(b, a) ? 1 : 0;
}

static int on_qsort_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

enum shape { RANDOM, SORTED, REVERSED, EQUAL, PIPE, FEW, N_SHAPES };

static uint32_t key_of(enum shape s, size_t i, size_t n, uint32_t *rng)
{
    switch (s) {
    case SORTED:
        return (uint32_t)i;
    case REVERSED:
        return (uint32_t)(n - i);
    case EQUAL:
        return 7;
    case PIPE:
        return (uint32_t)(i < n / 2 ? i : n - i);
    case FEW:
        return xorshift32(rng) % 4;
    default:
        return xorshift32(rng);
    }
}

/* Sorts n elements of shape s with the template (depth: as given, or
 * the template's own when UINT32_MAX) and with qsort; they must agree. */
static void check_kv(enum shape s, size_t n, unsigned depth, uint32_t *rng)
{
    struct kv *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] = (struct kv){key_of(s, i, n, rng), (uint32_t)(xorshift32(rng) % (n + 1))};
    /* Indexes may repeat: equal elements are then truly equal, as a
     * strict weak order allows. */
    if (depth == UINT32_MAX)
        sort_kv(a, n);
    else
        sort_kv_intro(a, n, depth);
    qsort(b, n, sizeof *b, on_qsort_kv);
    for (size_t i = 0; i < n; i++)
        if (a[i].key != b[i].key || a[i].idx != b[i].idx)
            fail_msg("shape %d, n %zu, depth %u: element %zu differs", s, n, depth, i);
    free(a);
    free(b);
}

static void test_agrees_with_qsort(void **state)
{
    (void)state;
    uint32_t rng = 2463534242u;
    for (enum shape s = RANDOM; s < N_SHAPES; s++) {
        for (size_t n = 0; n <= 300; n++)
            check_kv(s, n, UINT32_MAX, &rng);
        check_kv(s, 4096, UINT32_MAX, &rng);
        check_kv(s, 200000, UINT32_MAX, &rng);
    }
}

/* Depth 0 heapsorts the whole range, depth 1 one partition then heaps. */
static void test_heapsort_fallback(void **state)
{
    (void)state;
    uint32_t rng = 88172645u;
    for (enum shape s = RANDOM; s < N_SHAPES; s++) {
        for (unsigned depth = 0; depth < 3; depth++) {
            for (size_t n = 30; n <= 70; n++)
                check_kv(s, n, depth, &rng);
            check_kv(s, 10000, depth, &rng);
        }
    }
}

static void test_scalars(void **state)
{
    (void)state;
    uint32_t rng = 5u;
    for (size_t n = 0; n < 2000; n += 7) {
        uint64_t *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
        assert_non_null(a);
        assert_non_null(b);
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] = ((uint64_t)xorshift32(&rng) << 32 | xorshift32(&rng)) % (n / 3 + 1);
        sort_u64(a, n);
        qsort(b, n, sizeof *b, on_qsort_u64);
        assert_memory_equal(a, b, n * sizeof *a);
        free(a);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agrees_with_qsort),
        cmocka_unit_test(test_heapsort_fallback),
        cmocka_unit_test(test_scalars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
