/* tinmoi parse [--url URL] FILE|-: parse one feed document and print the
 * normalised JSON of SPEC §5.
 *
 * The file is pushed through the streaming parser in chunks, as the fetcher
 * does with a transfer, so this command exercises the same path. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "tinmoi/error.h"
#include "tinmoi/feed_json.h"
#include "tinmoi/parse.h"

/* Bytes read per push: the size of a typical transfer write callback. */
#define TM_CMD_PARSE_CHUNK_BYTES 65536

static void parse_usage(FILE *out)
{
    fprintf(out, "usage: tinmoi parse [--url URL] FILE|-\n\n"
                 "Parse one RSS or Atom document (FILE, or standard input for '-') and print\n"
                 "its normalised JSON. Exit 0 when it is a feed, 1 when it is not (the JSON\n"
                 "says why) or cannot be read, 2 on usage errors.\n\n"
                 "options:\n"
                 "      --url URL  the document's own address: the base for relative links\n"
                 "  -h, --help     show this help\n"
                 "      --version  show the version\n");
}

/* Prints the JSON of a document that is not a feed: format and feed null,
 * the reason as the only error. */
static int print_not_feed(const char *encoding, const char *reason)
{
    struct tm_feed nf;
    memset(&nf, 0, sizeof nf);
    nf.format = TM_FORMAT_NONE;
    nf.encoding = (char *)(uintptr_t)encoding;
    char *why = (char *)(uintptr_t)reason;
    char *json = tm_feed_to_json(&nf, &why, 1);
    if (json == NULL) {
        fprintf(stderr, "tinmoi parse: out of memory\n");
        return TM_EXIT_FAIL;
    }
    fputs(json, stdout);
    free(json);
    return TM_EXIT_FAIL;
}

int tm_cmd_parse(int argc, char **argv)
{
    const char *url = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            parse_usage(stdout);
            return TM_EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("tinmoi %s\n", TINMOI_VERSION);
            return TM_EXIT_OK;
        }
        if (strcmp(a, "--url") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tinmoi parse: --url needs a URL\n");
                parse_usage(stderr);
                return TM_EXIT_USAGE;
            }
            url = argv[++i];
            continue;
        }
        if (strncmp(a, "--url=", 6) == 0) {
            url = a + 6;
            continue;
        }
        if (a[0] == '-' && strcmp(a, "-") != 0) {
            fprintf(stderr, "tinmoi parse: unknown option '%s'\n", a);
            parse_usage(stderr);
            return TM_EXIT_USAGE;
        }
        if (path != NULL) {
            fprintf(stderr, "tinmoi parse: one document at a time\n");
            parse_usage(stderr);
            return TM_EXIT_USAGE;
        }
        path = a;
    }
    if (path == NULL) {
        fprintf(stderr, "tinmoi parse: which document? (a file, or - for standard input)\n");
        parse_usage(stderr);
        return TM_EXIT_USAGE;
    }

    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in == NULL) {
        fprintf(stderr, "tinmoi parse: %s: %s\n", path, strerror(errno));
        return TM_EXIT_FAIL;
    }
    struct tm_parse_opts opts = {
        .url = url,
        .charset = NULL,
        .dates = {.utc_offset_s = TM_DATE_DEFAULT_OFFSET_S, .order = TM_DATE_DMY},
    };
    struct tm_parser *p = tm_parser_new(&opts);
    char *buf = malloc(TM_CMD_PARSE_CHUNK_BYTES);
    if (p == NULL || buf == NULL) {
        fprintf(stderr, "tinmoi parse: out of memory\n");
        free(buf);
        tm_parser_free(p);
        if (in != stdin)
            fclose(in);
        return TM_EXIT_FAIL;
    }
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, TM_CMD_PARSE_CHUNK_BYTES, in)) > 0)
        rc = tm_parser_push(p, buf, n);
    bool read_error = ferror(in) != 0;
    int saved = errno;
    if (in != stdin)
        fclose(in);
    free(buf);
    if (read_error) {
        fprintf(stderr, "tinmoi parse: %s: %s\n", path, strerror(saved));
        tm_parser_free(p);
        return TM_EXIT_FAIL;
    }

    struct tm_feed *feed = NULL;
    struct tm_error err = {0};
    rc = tm_parser_finish(p, &feed, &err);
    int exit_code;
    if (rc == 0) {
        char *json = tm_feed_to_json(feed, NULL, 0);
        if (json == NULL) {
            fprintf(stderr, "tinmoi parse: out of memory\n");
            exit_code = TM_EXIT_FAIL;
        } else {
            fputs(json, stdout);
            free(json);
            exit_code = TM_EXIT_OK;
        }
        tm_feed_free(feed);
    } else if (rc == TM_ENOMEM) {
        fprintf(stderr, "tinmoi parse: out of memory\n");
        exit_code = TM_EXIT_FAIL;
    } else {
        exit_code = print_not_feed(tm_parser_encoding(p), err.msg[0] ? err.msg : tm_strerror(rc));
    }
    tm_parser_free(p);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "tinmoi parse: writing the output: %s\n", strerror(errno));
        return TM_EXIT_FAIL;
    }
    return exit_code;
}
