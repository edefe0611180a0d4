/* bench_parse — libtinmoi's streaming parser against the floor any
 * libxml2-based parser pays (issue #2 item 9).
 *
 *   bench_parse [--chunk BYTES] [--seconds S] FILE...
 *       throughput: every file is read into memory first; then, in the same
 *       run, (a) a minimal libxml2 SAX2 walk (push parser, empty
 *       startElementNs/endElementNs/characters handlers, the same options
 *       libtinmoi uses) and (b) tm_parser_push/tm_parser_finish go over the
 *       same bytes in the same chunk size, interleaved pass by pass until
 *       each has run for S seconds (default 2). Prints MB/s for each and the
 *       ratio tinmoi/raw.
 *   bench_parse --heap [--chunk BYTES] FILE
 *       peak heap: parses FILE once each way, sampling glibc's mallinfo2()
 *       (uordblks + hblkhd: heap and mmap'd blocks in use) before the parser
 *       exists and after every chunk pushed, and prints the peak above that
 *       baseline. The document itself is in memory before the baseline is
 *       taken, so it is not counted; the chunk buffer is a slice of it.
 *
 * Output lines are `key value` pairs that bench/parse.sh turns into a table. */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libxml/parser.h>

#include "tinmoi/feed.h"
#include "tinmoi/parse.h"

/* curl hands a write callback at most CURL_MAX_WRITE_SIZE (16 KiB) at once,
 * so that is the size the fetcher pushes. */
#define BENCH_DEFAULT_CHUNK_BYTES 16384
#define BENCH_DEFAULT_SECONDS 2.0

struct doc {
    const char *path;
    char *bytes;
    size_t len;
};

static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Reads a whole file into one allocation of exactly its size, so that a
 * heap profile of the process (massif) shows the document as one block of
 * known size. */
static int read_file(const char *path, struct doc *d)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "bench_parse: %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        abort();
    size_t got = fread(buf, 1, len, f);
    fclose(f);
    if (got != len) {
        fprintf(stderr, "bench_parse: %s: short read\n", path);
        free(buf);
        return -1;
    }
    d->path = path;
    d->bytes = buf;
    d->len = len;
    return 0;
}

/* (a) The floor: libxml2 tokenising and checking well-formedness, handing
 * every element and text run to handlers that do nothing. */
static void on_raw_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                         const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                         int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
}

static void on_raw_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                       const xmlChar *uri)
{
}

static void on_raw_characters(void *ctx, const xmlChar *ch, int len)
{
}

static int raw_walk(const struct doc *d, size_t chunk, size_t *peak)
{
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_raw_start;
    sax.endElementNs = on_raw_end;
    sax.characters = on_raw_characters;
    sax.cdataBlock = on_raw_characters;
    xmlParserCtxtPtr ctxt = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, d->path);
    if (ctxt == NULL)
        return -1;
    if (xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_RECOVER) != 0) {
        xmlFreeParserCtxt(ctxt);
        return -1;
    }
    for (size_t off = 0; off < d->len; off += chunk) {
        size_t n = d->len - off < chunk ? d->len - off : chunk;
        xmlParseChunk(ctxt, d->bytes + off, (int)n, 0);
        if (peak != NULL && heap_in_use() > *peak)
            *peak = heap_in_use();
    }
    xmlParseChunk(ctxt, NULL, 0, 1);
    int ok = ctxt->wellFormed;
    xmlFreeParserCtxt(ctxt);
    return ok ? 0 : -1;
}

/* (b) libtinmoi: the whole parser, from bytes to a normalised feed. */
static int tinmoi_parse(const struct doc *d, size_t chunk, size_t *peak, size_t *entries)
{
    struct tm_parse_opts opts = {
        .url = "https://nhuthanh.thanhhoa.gov.vn/rss/tin-tuc.rss",
        .charset = NULL,
        .dates = {.utc_offset_s = TM_DATE_DEFAULT_OFFSET_S, .order = TM_DATE_DMY},
    };
    struct tm_parser *p = tm_parser_new(&opts);
    if (p == NULL)
        return -1;
    int rc = 0;
    for (size_t off = 0; off < d->len && rc == 0; off += chunk) {
        size_t n = d->len - off < chunk ? d->len - off : chunk;
        rc = tm_parser_push(p, d->bytes + off, n);
        if (peak != NULL && heap_in_use() > *peak)
            *peak = heap_in_use();
    }
    struct tm_feed *feed = NULL;
    if (rc == 0)
        rc = tm_parser_finish(p, &feed, NULL);
    if (peak != NULL && heap_in_use() > *peak)
        *peak = heap_in_use();
    if (rc == 0 && entries != NULL)
        *entries = feed->n_entries;
    tm_feed_free(feed);
    tm_parser_free(p);
    return rc;
}

static int usage(void)
{
    fputs("usage: bench_parse [--chunk BYTES] [--seconds S] FILE...\n"
          "       bench_parse --heap [--chunk BYTES] FILE\n",
          stderr);
    return 2;
}

static int run_heap(const struct doc *d, size_t chunk)
{
    size_t base = heap_in_use(), peak = base;
    if (raw_walk(d, chunk, &peak) != 0) {
        fprintf(stderr, "bench_parse: %s: not well-formed\n", d->path);
        return 1;
    }
    printf("heap_raw_bytes %zu\n", peak - base);
    base = heap_in_use();
    peak = base;
    size_t entries = 0;
    int rc = tinmoi_parse(d, chunk, &peak, &entries);
    if (rc != 0) {
        fprintf(stderr, "bench_parse: %s: tinmoi parse failed (%d)\n", d->path, rc);
        return 1;
    }
    printf("heap_doc_bytes %zu\nheap_chunk_bytes %zu\nheap_tinmoi_bytes %zu\nheap_entries %zu\n",
           d->len, chunk, peak - base, entries);
    return 0;
}

int main(int argc, char **argv)
{
    size_t chunk = BENCH_DEFAULT_CHUNK_BYTES;
    double seconds = BENCH_DEFAULT_SECONDS;
    bool heap = false;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--heap") == 0) {
            heap = true;
        } else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], NULL, 10);
            if (v <= 0 || v > (1L << 30))
                return usage();
            chunk = (size_t)v;
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
            if (!(seconds > 0))
                return usage();
        } else {
            return usage();
        }
    }
    int n_docs = argc - i;
    if (n_docs < 1 || (heap && n_docs != 1))
        return usage();
    struct doc *docs = calloc((size_t)n_docs, sizeof *docs);
    if (docs == NULL)
        abort();
    size_t total = 0;
    for (int k = 0; k < n_docs; k++) {
        if (read_file(argv[i + k], &docs[k]) != 0)
            return 1;
        total += docs[k].len;
    }
    xmlInitParser();
    if (heap) {
        int rc = run_heap(&docs[0], chunk);
        free(docs[0].bytes);
        free(docs);
        xmlCleanupParser();
        return rc;
    }

    /* One untimed pass each: page in, warm caches, and check both succeed. */
    for (int k = 0; k < n_docs; k++) {
        if (raw_walk(&docs[k], chunk, NULL) != 0) {
            fprintf(stderr, "bench_parse: %s: not well-formed\n", docs[k].path);
            return 1;
        }
        if (tinmoi_parse(&docs[k], chunk, NULL, NULL) != 0) {
            fprintf(stderr, "bench_parse: %s: tinmoi parse failed\n", docs[k].path);
            return 1;
        }
    }
    double t_raw = 0, t_tm = 0;
    unsigned long passes_raw = 0, passes_tm = 0;
    while (t_raw < seconds || t_tm < seconds) {
        double t0 = now_s();
        for (int k = 0; k < n_docs; k++)
            (void)raw_walk(&docs[k], chunk, NULL);
        double t1 = now_s();
        for (int k = 0; k < n_docs; k++)
            (void)tinmoi_parse(&docs[k], chunk, NULL, NULL);
        double t2 = now_s();
        t_raw += t1 - t0;
        t_tm += t2 - t1;
        passes_raw++;
        passes_tm++;
    }
    double mb = (double)total / 1e6;
    double raw_mbs = mb * (double)passes_raw / t_raw, tm_mbs = mb * (double)passes_tm / t_tm;
    printf("files %d\nbytes %zu\nchunk_bytes %zu\npasses %lu\n", n_docs, total, chunk, passes_raw);
    printf("raw_seconds %.3f\nraw_mb_s %.1f\ntinmoi_seconds %.3f\ntinmoi_mb_s %.1f\nratio %.3f\n",
           t_raw, raw_mbs, t_tm, tm_mbs, tm_mbs / raw_mbs);
    for (int k = 0; k < n_docs; k++)
        free(docs[k].bytes);
    free(docs);
    xmlCleanupParser();
    return 0;
}
