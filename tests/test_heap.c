/* Tests of the heap policy (tm_heap): big blocks are mapped on their own
 * even after a bigger one was freed, and a release hands freed heap pages
 * back. Read off glibc's own counters (mallinfo2) and the kernel's (RSS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <malloc.h>

#include "tinmoi/heap.h"

/* AddressSanitizer brings its own allocator: glibc's policy is not there
 * to test (the suite's other build runs these). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* Resident bytes of this process (/proc/self/statm, second field). */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    unsigned long size = 0, resident = 0;
    assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Keeps the compiler from eliding a malloc/free pair it sees unused. */
static void escape(void *p)
{
    __asm__ volatile("" : : "g"(p) : "memory");
}

/* glibc raises its threshold when a mapped block is freed: without
 * tm_heap_init the second, smaller block would come from the heap. */
static void test_big_blocks_mapped(void **state)
{
    (void)state;
    if (UNDER_ASAN)
        skip();
    tm_heap_init();
    char *big = malloc(8 * TM_HEAP_MMAP_BYTES);
    assert_non_null(big);
    memset(big, 1, 8 * TM_HEAP_MMAP_BYTES);
    escape(big);
    free(big);
    size_t before = mallinfo2().hblkhd;
    char *block = malloc(2 * TM_HEAP_MMAP_BYTES);
    assert_non_null(block);
    escape(block);
    assert_true(mallinfo2().hblkhd >= before + 2 * TM_HEAP_MMAP_BYTES);
    free(block);
    assert_int_equal(mallinfo2().hblkhd, before);
}

/* 64 MB in 4 KB blocks (heap, below the threshold), touched and freed but
 * the last one (which keeps the heap's top): the pages stay resident until
 * the release. */
static void test_release_returns_pages(void **state)
{
    (void)state;
    if (UNDER_ASAN)
        skip();
    enum { N = 16384, SIZE = 4096 };
    char **v = malloc(N * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++) {
        v[i] = malloc(SIZE);
        assert_non_null(v[i]);
        memset(v[i], 1, SIZE);
        escape(v[i]);
    }
    for (size_t i = 0; i + 1 < N; i++)
        free(v[i]);
    size_t held = rss_bytes();
    tm_heap_release();
    size_t after = rss_bytes();
    assert_true(after + 32 * 1024 * 1024 < held);
    free(v[N - 1]);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_blocks_mapped),
        cmocka_unit_test(test_release_returns_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
