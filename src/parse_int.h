/* tinmoi — the feed parser's internals shared by parse.c (SAX callbacks and
 * element mapping) and parse_field.c (turning captured text into fields). */
#ifndef TINMOI_PARSE_INT_H
#define TINMOI_PARSE_INT_H

#include "decode_int.h"
#include "tinmoi/buf.h"
#include "tinmoi/parse.h"

#include <libxml/parser.h>
#include <stdbool.h>
#include <stdint.h>

/* Lines of libxml2 diagnostics kept in `errors`: a broken document can
 * produce one per byte; the first few say what is wrong. */
#define TM_PARSE_MAX_XML_ERRORS 10
/* Entity references looked up in one document. Declared entities are never
 * expanded, so this only bounds the work a document made of references can
 * cause (a "billion laughs" body after its DTD). */
#define TM_PARSE_MAX_ENTITY_REFS 100000

/* What an element's children mean: set by the element that opens them. */
enum tm_pctx {
    TM_C_NONE, /* nothing below is read */
    TM_C_DOC,
    TM_C_RSS,
    TM_C_RDF,
    TM_C_CHANNEL,
    TM_C_IMAGE,
    TM_C_ITEM,
    TM_C_FEED,
    TM_C_ENTRY,
    TM_C_FEED_AUTHOR,
    TM_C_ENTRY_AUTHOR,
};

/* Where a captured value goes. */
enum tm_target {
    TM_T_NONE,
    TM_T_FEED_TITLE,
    TM_T_FEED_LINK,
    TM_T_FEED_ID,
    TM_T_FEED_SUBTITLE,
    TM_T_FEED_LANGUAGE,
    TM_T_FEED_UPDATED,
    TM_T_FEED_AUTHOR,
    TM_T_FEED_GENERATOR,
    TM_T_FEED_RIGHTS,
    TM_T_FEED_IMAGE,
    TM_T_FEED_TTL,
    TM_T_FEED_SY_PERIOD,
    TM_T_FEED_SY_FREQ,
    TM_T_ENTRY_ID,
    TM_T_ENTRY_GUID,
    TM_T_ENTRY_TITLE,
    TM_T_ENTRY_LINK,
    TM_T_ENTRY_PUBLISHED,
    TM_T_ENTRY_UPDATED,
    TM_T_ENTRY_AUTHOR,
    TM_T_ENTRY_SUMMARY,
    TM_T_ENTRY_CONTENT,
    TM_T_ENTRY_CATEGORY,
    TM_T_COUNT,
};

/* How the captured text is written. */
enum tm_textkind {
    TM_K_HTMLISH, /* RSS text: plain in principle, often entity-escaped markup */
    TM_K_TEXT,    /* Atom type="text": literal */
    TM_K_HTML,    /* escaped HTML */
    TM_K_XHTML,   /* child elements, serialised back to markup here */
};

struct tm_frame {
    char *base;       /* effective xml:base (owned when own_base) or NULL */
    const char *lang; /* effective xml:lang (owned when own_lang) or NULL */
    bool own_base;
    bool own_lang;
    bool skip_tag;     /* the XHTML wrapper <div>: not part of the content */
    bool void_tag;     /* serialised without an end tag */
    bool serialised;   /* written into the capture buffer as markup */
    unsigned char ctx; /* enum tm_pctx for the children */
    long entry;        /* index of the entry this element opened, -1 */
};

struct tm_parser {
    struct tm_parse_opts opts;
    char *url;
    struct tm_decoder *dec;
    xmlParserCtxtPtr ctxt;
    int status;       /* 0 or the negative code that ended the parse */
    char reason[256]; /* why it is not a feed */

    struct tm_feed *feed;
    size_t cap_entries;
    size_t cap_errors;
    size_t xml_errors;
    size_t entity_refs;
    size_t entity_decls; /* <!ENTITY> declarations seen (and ignored) */
    char first_decl[48];
    bool root_seen;
    bool root_done;
    bool channel_seen;
    bool garbage_noted;
    bool finishing; /* inside tm_parser_finish: errors now mean truncation */
    bool items_dropped;
    bool rdf_pending; /* RDF root: RSS 0.90 or 1.0 decided by its children */
    char root_name[64];
    char *self_link;
    char *feed_lang; /* xml:lang of the channel/feed element */
    unsigned char fprio[TM_T_COUNT];
    int64_t sy_period_s;
    int64_t sy_freq;

    const char *vocab_uri; /* vocab_of's cache: a URI the parser's dictionary owns */
    unsigned char vocab;

    int depth;
    struct tm_frame frames[TM_PARSE_MAX_DEPTH + 2];

    /* The open entry. */
    long entry; /* index into feed->entries, -1 when none */
    unsigned char eprio[TM_T_COUNT];
    char *guid;
    bool guid_permalink;
    bool guid_permalink_explicit;
    char *thumbnail;
    char *about; /* rdf:about of an RSS 1.0 item */

    /* The field being captured. */
    enum tm_target target;
    int cap_depth;
    unsigned char cap_prio;
    enum tm_textkind cap_kind;
    bool cap_truncated;
    size_t cap_limit;  /* tm_parse_raw_limit(target) */
    char cap_elem[48]; /* local name of the captured element, for messages */
    struct tm_buf text;
};

/* Appends a formatted line to feed->errors (bounded by TM_PARSE_MAX_ERRORS). */
void tm_parse_error(struct tm_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Records an allocation failure: the parse ends with TM_ENOMEM. */
void tm_parse_oom(struct tm_parser *p);
/* The base URL for an element at `frame`: xml:base / --url, else the feed's link. */
const char *tm_parse_base(const struct tm_parser *p, const struct tm_frame *frame);
/* Ends the capture at the current depth: converts the text into its field. */
void tm_parse_field_end(struct tm_parser *p);
/* Opens a new entry; false when the entry limit drops it. */
bool tm_parse_entry_begin(struct tm_parser *p);
/* Closes the open entry (guid → link, thumbnail → enclosure). */
void tm_parse_entry_end(struct tm_parser *p);
/* Adds an enclosure to the open entry (url resolved against `base`). */
void tm_parse_add_enclosure(struct tm_parser *p, const char *base, const char *url,
                            const char *type, const char *length);
/* Stores an already-final string (owned, may be NULL) into `target` when its
 * priority beats what is there. */
void tm_parse_set(struct tm_parser *p, enum tm_target target, unsigned char prio, char *value);
/* Makes target `t` of the open entry what the parser would have made it,
 * if it holds raw HTML (tm_parse_opts.raw_html): called before another
 * candidate for it is weighed, since whether that one is read at all
 * depends on what this one sanitises to (one with nothing visible gives
 * way, as if never set). */
void tm_parse_resolve_raw(struct tm_parser *p, enum tm_target t);
/* Text limit for a target's raw capture. */
size_t tm_parse_raw_limit(enum tm_target target);
/* A readable name for messages ("title", "summary"). */
const char *tm_parse_target_name(enum tm_target target);

#endif
