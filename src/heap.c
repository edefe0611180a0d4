/* tinmoi — giving freed memory back to the system (glibc's malloc). */
#include "tinmoi/heap.h"

#include <stdlib.h> /* defines __GLIBC__ when it is glibc */

#ifdef __GLIBC__
#include <malloc.h>
#endif

void tm_heap_init(void)
{
#ifdef __GLIBC__
    (void)mallopt(M_MMAP_THRESHOLD, TM_HEAP_MMAP_BYTES);
#endif
}

void tm_heap_release(void)
{
#ifdef __GLIBC__
    (void)malloc_trim(0);
#endif
}
