/* tinmoi — giving freed memory back to the system.
 *
 * The publishing half holds the whole archive's rows for a moment (the
 * process's peak) and the fetching half many parsers' buffers: memory one
 * half frees is handed back before the other stacks its own on top, so the
 * peak is the larger half's, not their sum. glibc only; elsewhere these do
 * nothing. */
#ifndef TINMOI_HEAP_H
#define TINMOI_HEAP_H

/* Blocks this big or bigger are mapped on their own and unmapped when
 * freed: the merge's arrays (megabytes at 10,000 sources) never stay
 * resident after use, while the parsers' many small buffers stay in the
 * heap. */
#define TM_HEAP_MMAP_BYTES (1024 * 1024)

/* Once, at the start of the program: fixes the threshold at
 * TM_HEAP_MMAP_BYTES (glibc otherwise raises it each time a mapped block
 * is freed, up to 32 MB, after which big arrays land in the heap and their
 * pages stay resident once freed). */
void tm_heap_init(void);

/* Hands the heap's free pages back (malloc_trim): between the two halves. */
void tm_heap_release(void);

#endif
