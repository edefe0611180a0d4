/* sax_walk — the parsing floor of the fetch-cycle benchmark (bench/cycle.sh):
 * libxml2 push-parsing each file with empty SAX2 handlers, nothing else.
 *
 *   sax_walk FILE...
 *   sax_walk --list LISTFILE      one path a line
 *
 * Each file is read in 16 KiB chunks (what curl hands a write callback at
 * most) and pushed as it is read, with the options libtinmoi's parser uses
 * (XML_PARSE_NONET | XML_PARSE_RECOVER). Prints `files N`, `bytes N`,
 * `malformed N` and `seconds S` (wall time of the walk alone). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>

/* curl's CURL_MAX_WRITE_SIZE: the largest slice the fetcher ever pushes. */
#define WALK_CHUNK_BYTES 16384

static void on_walk_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                          const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                          int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    (void)ctx, (void)localname, (void)prefix, (void)uri, (void)nb_namespaces;
    (void)namespaces, (void)nb_attributes, (void)nb_defaulted, (void)attributes;
}

static void on_walk_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                        const xmlChar *uri)
{
    (void)ctx, (void)localname, (void)prefix, (void)uri;
}

static void on_walk_characters(void *ctx, const xmlChar *ch, int len)
{
    (void)ctx, (void)ch, (void)len;
}

static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct totals {
    unsigned long files;
    unsigned long long bytes;
    unsigned long malformed;
};

/* Walks one file. Returns 0, or -1 when it cannot be read. */
static int walk(const char *path, struct totals *t)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "sax_walk: %s: %s\n", path, strerror(errno));
        return -1;
    }
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_walk_start;
    sax.endElementNs = on_walk_end;
    sax.characters = on_walk_characters;
    sax.cdataBlock = on_walk_characters;
    xmlParserCtxtPtr ctxt = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, path);
    if (ctxt == NULL || xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_RECOVER) != 0) {
        fprintf(stderr, "sax_walk: %s: cannot make a parser\n", path);
        xmlFreeParserCtxt(ctxt);
        fclose(f);
        return -1;
    }
    char buf[WALK_CHUNK_BYTES];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        xmlParseChunk(ctxt, buf, (int)n, 0);
        t->bytes += n;
    }
    int bad = ferror(f);
    fclose(f);
    xmlParseChunk(ctxt, NULL, 0, 1);
    if (!ctxt->wellFormed)
        t->malformed++;
    xmlFreeParserCtxt(ctxt);
    if (bad) {
        fprintf(stderr, "sax_walk: %s: read error\n", path);
        return -1;
    }
    t->files++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs("usage: sax_walk FILE...\n       sax_walk --list LISTFILE\n", stderr);
        return 2;
    }
    LIBXML_TEST_VERSION
    struct totals t = {0};
    int failed = 0;
    double t0 = now_s();
    if (strcmp(argv[1], "--list") == 0) {
        if (argc != 3) {
            fputs("usage: sax_walk --list LISTFILE\n", stderr);
            return 2;
        }
        FILE *list = fopen(argv[2], "r");
        if (list == NULL) {
            fprintf(stderr, "sax_walk: %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        char line[4096];
        while (fgets(line, sizeof line, list) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] != '\0' && walk(line, &t) < 0)
                failed = 1;
        }
        fclose(list);
    } else {
        for (int i = 1; i < argc; i++)
            if (walk(argv[i], &t) < 0)
                failed = 1;
    }
    double elapsed = now_s() - t0;
    printf("files %lu\nbytes %llu\nmalformed %lu\nseconds %.3f\n", t.files, t.bytes, t.malformed,
           elapsed);
    xmlCleanupParser();
    return failed;
}
