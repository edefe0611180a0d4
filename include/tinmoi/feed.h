/* tinmoi — the normalised feed model (SPEC §5).
 *
 * What the parser produces and every later stage consumes. All strings are
 * UTF-8 in NFC, owned by the struct that holds them, and NULL when absent
 * (never ""). Times are seconds since the Unix epoch in UTC, TM_TIME_NONE
 * when absent. */
#ifndef TINMOI_FEED_H
#define TINMOI_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "tinmoi/date.h" /* TM_TIME_NONE */

enum tm_format {
    TM_FORMAT_NONE = 0, /* not a feed */
    TM_FORMAT_RSS090,
    TM_FORMAT_RSS091,
    TM_FORMAT_RSS092,
    TM_FORMAT_RSS093,
    TM_FORMAT_RSS094,
    TM_FORMAT_RSS20,
    TM_FORMAT_RSS10,
    TM_FORMAT_ATOM03,
    TM_FORMAT_ATOM10,
};

struct tm_enclosure {
    char *url;      /* absolute; never NULL in a valid enclosure */
    char *type;     /* MIME type or NULL */
    int64_t length; /* bytes, or -1 when unknown */
};

struct tm_entry {
    char *id;    /* guid / atom:id as given (trimmed), or NULL */
    char *title; /* plain text */
    char *link;  /* absolute alternate link */
    int64_t published_utc;
    int64_t updated_utc;
    char *author;      /* plain text */
    char *summary;     /* sanitised HTML, URLs absolute (but see raw_html) */
    char *content;     /* sanitised HTML, URLs absolute (but see raw_html) */
    char **categories; /* plain text */
    size_t n_categories;
    struct tm_enclosure *enclosures;
    size_t n_enclosures;
    /* Only from a parser asked for raw HTML (tm_parse_opts.raw_html, the
     * harvest): the fields whose bit is set hold the feed's HTML as read,
     * not yet sanitised, and `html_base` (NULL: none) is the URL their
     * links resolve against. tm_parse_html makes them what the parser would
     * have made them; the store does so whenever it reads an item back. */
    unsigned char raw_html; /* TM_RAW_SUMMARY | TM_RAW_CONTENT */
    char *html_base;
};

#define TM_RAW_SUMMARY 1u
#define TM_RAW_CONTENT 2u

struct tm_feed {
    enum tm_format format;
    char *encoding; /* the encoding the bytes were decoded from, lowercase ("utf-8") */
    char *title;
    char *link; /* absolute alternate (human) link */
    char *id;
    char *subtitle;
    char *language;
    int64_t updated_utc;
    char *author;
    char *generator;
    char *rights;
    char *image; /* absolute URL of the feed's logo/image */
    /* Polling hints for the scheduler, 0 when the feed gave none:
     * RSS <ttl> (minutes, stored in seconds) and sy:updatePeriod/Frequency. */
    int64_t ttl_s;
    int64_t update_period_s;
    struct tm_entry *entries;
    size_t n_entries;
    char **errors; /* non-fatal problems, one line each */
    size_t n_errors;
};

/* The SPEC §5 name of a format ("rss20", "atom10", ...), NULL for TM_FORMAT_NONE. */
const char *tm_format_name(enum tm_format format);

/* Frees a feed and everything it owns. Accepts NULL. */
void tm_feed_free(struct tm_feed *feed);

/* Frees what an entry owns (not the entry itself, which lives in an array). */
void tm_entry_clear(struct tm_entry *entry);

#endif
