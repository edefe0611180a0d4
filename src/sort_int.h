/* tinmoi — one sort, made for each element type that needs it (internal).
 *
 * qsort calls its comparison through a pointer: the merge's sorts of
 * 200,000 refs and edges made ~3.5 million such calls each, and a title's
 * few dozen word hashes paid qsort's set-up for a handful. This template
 * has the comparison inlined. Define
 *
 *   TM_SORT_NAME          the function to define,
 *   TM_SORT_TYPE          the element type,
 *   TM_SORT_LESS(a, b)    a strict weak order on two `const TM_SORT_TYPE *`,
 *
 * then include this file: it defines
 * `static void TM_SORT_NAME(TM_SORT_TYPE *v, size_t n)` (and
 * TM_SORT_NAME##_intro, the same with the depth left before heapsort, for
 * the tests), and undefines the three. An introsort: quicksort on the
 * median of three, insertion sort from TM_SORT_INSERTION_MAX elements down,
 * heapsort past 2 log2 n levels. Not stable: the orders sorted with it are
 * total (their last key is an index or a rowid), so there is only one
 * result. */
#include <stddef.h>

#ifndef TINMOI_SORT_INT_H
#define TINMOI_SORT_INT_H

/* Ranges this short are sorted by insertion: a title's word hashes (a few
 * dozen at most) and a story's members (a few) are, whole. */
#define TM_SORT_INSERTION_MAX 32

#define TM_SORT_CAT_(a, b) a##b
#define TM_SORT_CAT(a, b) TM_SORT_CAT_(a, b)

/* 2 floor(log2 n): the depth past which a range is heapsorted. */
static inline unsigned tm_sort_depth(size_t n)
{
    unsigned d = 0;
    for (; n > 1; n >>= 1)
        d += 2;
    return d;
}

#endif

#if !defined(TM_SORT_NAME) || !defined(TM_SORT_TYPE) || !defined(TM_SORT_LESS)
#error "define TM_SORT_NAME, TM_SORT_TYPE and TM_SORT_LESS before including sort_int.h"
#endif

#define TM_SORT_FN(suffix) TM_SORT_CAT(TM_SORT_NAME, suffix)

static inline void TM_SORT_FN(_swap)(TM_SORT_TYPE *a, TM_SORT_TYPE *b)
{
    TM_SORT_TYPE t = *a;
    *a = *b;
    *b = t;
}

static void TM_SORT_FN(_insertion)(TM_SORT_TYPE *v, size_t n)
{
    for (size_t j = 1; j < n; j++) {
        TM_SORT_TYPE x = v[j];
        size_t h = j;
        for (; h > 0 && TM_SORT_LESS(&x, &v[h - 1]); h--)
            v[h] = v[h - 1];
        v[h] = x;
    }
}

static void TM_SORT_FN(_sift)(TM_SORT_TYPE *v, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && TM_SORT_LESS(&v[child], &v[child + 1]))
            child++;
        if (!TM_SORT_LESS(&v[root], &v[child]))
            return;
        TM_SORT_FN(_swap)(&v[root], &v[child]);
        root = child;
    }
}

static void TM_SORT_FN(_heap)(TM_SORT_TYPE *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        TM_SORT_FN(_sift)(v, i, n);
    for (size_t end = n; end-- > 1;) {
        TM_SORT_FN(_swap)(&v[0], &v[end]);
        TM_SORT_FN(_sift)(v, 0, end);
    }
}

__attribute__((unused)) static void TM_SORT_FN(_intro)(TM_SORT_TYPE *v, size_t n, unsigned depth)
{
    while (n > TM_SORT_INSERTION_MAX) {
        if (depth == 0) {
            TM_SORT_FN(_heap)(v, n);
            return;
        }
        depth--;
        /* The median of the first, middle and last, which also leaves an
         * element no greater than the pivot first and one no less last:
         * neither scan below runs off the range. */
        size_t mid = (n - 1) / 2;
        if (TM_SORT_LESS(&v[mid], &v[0]))
            TM_SORT_FN(_swap)(&v[mid], &v[0]);
        if (TM_SORT_LESS(&v[n - 1], &v[0]))
            TM_SORT_FN(_swap)(&v[n - 1], &v[0]);
        if (TM_SORT_LESS(&v[n - 1], &v[mid]))
            TM_SORT_FN(_swap)(&v[n - 1], &v[mid]);
        TM_SORT_TYPE pivot = v[mid];
        /* Hoare's partition: v[0..j] no greater than the pivot, v[j+1..n)
         * no less, both parts non-empty. */
        size_t i = 0, j = n - 1;
        for (;;) {
            while (TM_SORT_LESS(&v[i], &pivot))
                i++;
            while (TM_SORT_LESS(&pivot, &v[j]))
                j--;
            if (i >= j)
                break;
            TM_SORT_FN(_swap)(&v[i], &v[j]);
            i++;
            j--;
        }
        size_t left = j + 1;
        /* The shorter part by recursion, the longer by the loop: the stack
         * stays within log2 n frames. */
        if (left < n - left) {
            TM_SORT_FN(_intro)(v, left, depth);
            v += left;
            n -= left;
        } else {
            TM_SORT_FN(_intro)(v + left, n - left, depth);
            n = left;
        }
    }
    TM_SORT_FN(_insertion)(v, n);
}

__attribute__((unused)) static void TM_SORT_NAME(TM_SORT_TYPE *v, size_t n)
{
    TM_SORT_FN(_intro)(v, n, tm_sort_depth(n));
}

#undef TM_SORT_FN
#undef TM_SORT_NAME
#undef TM_SORT_TYPE
#undef TM_SORT_LESS
