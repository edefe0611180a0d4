/* Title normalisation benchmark: tm_title_normalize (a table lookup a code
 * point for Latin and Vietnamese, utf8proc for the rest) beside the whole
 * utf8proc pass it must equal (tm_identity_title_normalize_utf8proc), over
 * the same titles in the same run, passes interleaved.
 *
 *   bench_titles [--passes N] FEED...
 *
 * The titles are the text of every <title> element of the given files (the
 * gen_corpus feeds), entities left as they are. Prints µs per title each
 * way and their ratio, and checks that both give the same bytes. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tinmoi/identity.h"

#include "../src/identity_int.h"

/* Titles read at most: plenty for a stable figure. */
#define BENCH_MAX_TITLES 100000
/* Bytes of a feed file read at most. */
#define BENCH_MAX_FILE_BYTES (64 << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t read_titles(const char *path, char **titles, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    char *buf = malloc(BENCH_MAX_FILE_BYTES + 1);
    if (buf == NULL)
        exit(1);
    size_t len = fread(buf, 1, BENCH_MAX_FILE_BYTES, f);
    fclose(f);
    buf[len] = '\0';
    for (char *p = buf; n < BENCH_MAX_TITLES && (p = strstr(p, "<title>")) != NULL;) {
        p += 7;
        char *e = strstr(p, "</title>");
        if (e == NULL)
            break;
        titles[n] = strndup(p, (size_t)(e - p));
        if (titles[n] == NULL)
            exit(1);
        n++;
        p = e;
    }
    free(buf);
    return n;
}

static double run(char *(*fn)(const char *), char **titles, size_t n, size_t *bytes)
{
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        char *s = fn(titles[i]);
        *bytes += s != NULL ? strlen(s) : 0;
        free(s);
    }
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    int passes = 20, first = 1;
    if (argc > 2 && strcmp(argv[1], "--passes") == 0) {
        long v = strtol(argv[2], NULL, 10);
        passes = v > 0 && v < 1000000 ? (int)v : 1;
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: bench_titles [--passes N] FEED...\n");
        return 2;
    }
    char **titles = malloc(BENCH_MAX_TITLES * sizeof *titles);
    if (titles == NULL)
        return 1;
    size_t n = 0;
    for (int i = first; i < argc; i++)
        n = read_titles(argv[i], titles, n);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        char *a = tm_title_normalize(titles[i]);
        char *b = tm_identity_title_normalize_utf8proc(titles[i]);
        same += (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
        free(a);
        free(b);
    }
    double t_fast = 0, t_ref = 0;
    size_t bytes_fast = 0, bytes_ref = 0;
    for (int p = 0; p < passes; p++) {
        t_fast += run(tm_title_normalize, titles, n, &bytes_fast);
        t_ref += run(tm_identity_title_normalize_utf8proc, titles, n, &bytes_ref);
    }
    double calls = (double)n * passes;
    printf("titles %zu, passes %d, equal outputs %zu of %zu\n", n, passes, same, n);
    printf("tm_title_normalize      %.3f us/title\n", t_fast / calls * 1e6);
    printf("utf8proc whole title    %.3f us/title\n", t_ref / calls * 1e6);
    printf("speed-up                %.2f x\n", t_ref / t_fast);
    for (size_t i = 0; i < n; i++)
        free(titles[i]);
    free(titles);
    return same == n && bytes_fast == bytes_ref ? 0 : 1;
}
