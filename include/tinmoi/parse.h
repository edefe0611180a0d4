/* tinmoi — the streaming feed parser (SPEC §5, §8).
 *
 * libxml2's push parser with SAX2 callbacks: bytes go in as they arrive
 * (tm_parser_push), no DOM or whole document is ever held. Pure: no I/O, no
 * network (XML_PARSE_NONET, no DTD loading, no external entities). */
#ifndef TINMOI_PARSE_H
#define TINMOI_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "tinmoi/date.h"
#include "tinmoi/error.h"
#include "tinmoi/feed.h"

/* Hard limits (SPEC §8 / issue #2). Hitting one is reported in feed->errors
 * (truncation) or fails the parse with TM_ELIMIT, never silently. */
#define TM_PARSE_MAX_ITEMS 1000           /* entries kept per feed; more are dropped and reported */
#define TM_PARSE_MAX_TITLE_BYTES 2048     /* title fields; truncated on a character boundary */
#define TM_PARSE_MAX_CONTENT_BYTES 524288 /* summary/content; truncated on a character boundary */
#define TM_PARSE_MAX_FIELD_BYTES 65536    /* any other text field (links, ids, authors) */
#define TM_PARSE_MAX_DEPTH 256            /* element nesting; deeper documents fail */
#define TM_PARSE_MAX_CATEGORIES 64        /* per entry */
#define TM_PARSE_MAX_ENCLOSURES 32        /* per entry */
#define TM_PARSE_MAX_ERRORS 100           /* messages kept in feed->errors */

/* An HTML summary or content kept raw (tm_parse_opts.raw_html) is at most
 * this long; a longer one is sanitised at once. The sanitised HTML can be
 * longer than the markup (URLs resolved, text escaped again), and past
 * TM_PARSE_MAX_CONTENT_BYTES it is cut with an error line in feed->errors:
 * markup at most half the bound rarely grows that much, and where it does,
 * tm_parse_html cuts it the same way when the field is read back, without
 * the error line. */
#define TM_PARSE_MAX_RAW_HTML_BYTES (TM_PARSE_MAX_CONTENT_BYTES / 2)

struct tm_parse_opts {
    const char *url;     /* the document's own address (base for links), or NULL */
    const char *charset; /* charset from an HTTP Content-Type, or NULL */
    struct tm_date_opts dates;
    /* Keep HTML summaries and contents as read, to be sanitised later (see
     * tm_entry.raw_html), instead of sanitising every one of them: for the
     * harvest, whose items are stored and only a few ever published. */
    bool raw_html;
};

struct tm_parser;

/* Creates a parser. `opts` is copied (its strings too). Caller frees with
 * tm_parser_free. Returns NULL on OOM. */
struct tm_parser *tm_parser_new(const struct tm_parse_opts *opts);

/* Feeds the next `len` bytes of the document. Returns 0, or a negative code
 * once the document can no longer become a feed (TM_ENOTFEED, TM_ELIMIT,
 * TM_ENOMEM); the caller may stop pushing then. Never calls back. */
int tm_parser_push(struct tm_parser *p, const char *buf, size_t len);

/* Ends the document and hands over the result: on 0, *out is a feed the
 * caller frees with tm_feed_free. Returns TM_ENOTFEED when the input is not
 * an RSS/Atom feed (an HTML page, an empty body), TM_ELIMIT/TM_ENOMEM
 * otherwise; `err` (may be NULL) gets a one-line reason. */
int tm_parser_finish(struct tm_parser *p, struct tm_feed **out, struct tm_error *err);

/* The encoding the document is read as, lowercase ("utf-8", "windows-1252"),
 * or NULL before enough bytes arrived to decide. Valid until tm_parser_free;
 * useful after a failed finish to report a not-a-feed document. */
const char *tm_parser_encoding(const struct tm_parser *p);

/* Frees a parser at any point. Accepts NULL. */
void tm_parser_free(struct tm_parser *p);

/* The sanitised HTML of an HTML summary or content whose markup is
 * raw[0..len), with links resolved against `base` (may be NULL): what the
 * parser stores in the field (tm_html_sanitize_limit, bounded by
 * TM_PARSE_MAX_CONTENT_BYTES; `*truncated` tells whether it cut), and what a
 * raw field (tm_entry.raw_html) becomes. NULL when nothing visible remains,
 * or on allocation failure (then `*oom` is set). */
char *tm_parse_html(const char *raw, size_t len, const char *base, bool *truncated, bool *oom);

/* Convenience: parse a whole buffer. Same contract as push + finish. */
int tm_parse_buffer(const char *buf, size_t len, const struct tm_parse_opts *opts,
                    struct tm_feed **out, struct tm_error *err);

#endif
