/* tinmoi tests — a parse that keeps HTML raw (tm_parse_opts.raw_html, the
 * harvest's) against one that sanitises at once (`tinmoi parse`'s). Shared
 * by test_parse and fuzz_parse. */
#ifndef TINMOI_RAW_HTML_CHECK_H
#define TINMOI_RAW_HTML_CHECK_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tinmoi/feed_json.h"
#include "tinmoi/parse.h"

/* The feed's JSON (without its error lines) once every raw field is what
 * tm_parse_html makes of it, as the store makes it when it reads an item
 * back; the parse's error when it fails. Bytes pushed in two pieces split
 * at `split`. NULL on allocation failure. */
static char *raw_html_json(const char *doc, size_t len, size_t split, struct tm_parse_opts opts)
{
    struct tm_parser *p = tm_parser_new(&opts);
    if (p == NULL)
        return NULL;
    if (split > len)
        split = len;
    if (tm_parser_push(p, doc, split) == 0)
        tm_parser_push(p, doc + split, len - split);
    struct tm_feed *feed = NULL;
    struct tm_error err = {0};
    char *json;
    if (tm_parser_finish(p, &feed, &err) == 0) {
        for (size_t i = 0; i < feed->n_entries; i++) {
            struct tm_entry *e = &feed->entries[i];
            char **field[] = {&e->summary, &e->content};
            unsigned bit[] = {TM_RAW_SUMMARY, TM_RAW_CONTENT};
            for (size_t k = 0; k < 2; k++) {
                if ((e->raw_html & bit[k]) == 0 || *field[k] == NULL)
                    continue;
                bool oom = false;
                char *html = tm_parse_html(*field[k], strlen(*field[k]), e->html_base, NULL, &oom);
                free(*field[k]);
                *field[k] = html;
            }
        }
        /* A raw field cut at TM_PARSE_MAX_CONTENT_BYTES is cut without an
         * error line (TM_PARSE_MAX_RAW_HTML_BYTES). */
        for (size_t i = 0; i < feed->n_errors; i++)
            free(feed->errors[i]);
        feed->n_errors = 0;
        json = tm_feed_to_json(feed, NULL, 0);
        tm_feed_free(feed);
    } else {
        char *why = err.msg;
        json = tm_feed_to_json(NULL, &why, 1);
    }
    tm_parser_free(p);
    return json;
}

/* True when doc[0..len) parses to the same feed with raw HTML kept as with
 * it sanitised at once (raw_html_json both ways), or when memory ran out. */
static bool raw_html_agrees(const char *doc, size_t len, size_t split, struct tm_parse_opts opts)
{
    opts.raw_html = false;
    char *now = raw_html_json(doc, len, split, opts);
    opts.raw_html = true;
    char *later = raw_html_json(doc, len, split, opts);
    bool same = now == NULL || later == NULL || strcmp(now, later) == 0;
    free(now);
    free(later);
    return same;
}

#endif
