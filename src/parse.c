/* tinmoi — the streaming feed parser (SPEC §5, §8).
 *
 * Bytes → the input layer (decode.c: encoding, markup repair) → libxml2's
 * push parser → the SAX2 callbacks below, which map elements to fields by
 * context (channel, item, feed, entry, author) and capture only the text of
 * fields that are kept. No DOM, no whole document: memory is the open
 * element stack, the entries and one bounded text buffer.
 *
 * Safety (SPEC §8): XML_PARSE_NONET, no DTD loading; entity declarations
 * are not stored (on_xml_entity_decl), so no declared entity, internal or
 * external, is ever expanded: an XXE yields nothing and a "billion laughs"
 * costs one error line. Entity look-ups are counted and bounded anyway. */
#include "parse_int.h"

#include "tinmoi/error.h"
#include "tinmoi/sanitize.h"
#include "tinmoi/text.h"
#include "copy_int.h"

#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <stdlib.h>
#include <string.h>

#define NS_ATOM10 "http://www.w3.org/2005/Atom"
#define NS_ATOM03 "http://purl.org/atom/ns#"
#define NS_RSS10 "http://purl.org/rss/1.0/"
#define NS_RSS090 "http://my.netscape.com/rdf/simple/0.9/"
#define NS_RSS090_ALT "http://channel.netscape.com/rdf/simple/0.9/"
#define NS_RDF "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define NS_XHTML "http://www.w3.org/1999/xhtml"
#define NS_XML "http://www.w3.org/XML/1998/namespace"

/* Bytes handed to one xmlParseChunk call: its length is an int, and a
 * smaller piece lets a limit or a finished root stop the parse sooner. */
#define TM_PARSE_CHUNK_BYTES (1 << 20)

enum vocab { V_RSS, V_ATOM, V_DC, V_DCTERMS, V_CONTENT, V_MEDIA, V_SY, V_RDF, V_ITUNES, V_OTHER };

static enum vocab vocab_lookup(const char *uri)
{
    static const struct {
        const char *uri;
        enum vocab v;
    } known[] = {
        {NS_ATOM10, V_ATOM},
        {NS_ATOM03, V_ATOM},
        {NS_RSS10, V_RSS},
        {NS_RSS090, V_RSS},
        {NS_RSS090_ALT, V_RSS},
        {"http://backend.userland.com/rss2", V_RSS},
        {"http://backend.userland.com/rss", V_RSS},
        {"http://purl.org/dc/elements/1.1/", V_DC},
        {"http://purl.org/dc/elements/1.0/", V_DC},
        {"http://purl.org/dc/terms/", V_DCTERMS},
        {"http://purl.org/rss/1.0/modules/content/", V_CONTENT},
        {"http://search.yahoo.com/mrss/", V_MEDIA},
        {"http://search.yahoo.com/mrss", V_MEDIA},
        {"http://purl.org/rss/1.0/modules/syndication/", V_SY},
        {NS_RDF, V_RDF},
        {"http://www.itunes.com/dtds/podcast-1.0.dtd", V_ITUNES},
    };
    if (uri == NULL)
        return V_RSS;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(uri, known[i].uri) == 0)
            return known[i].v;
    return V_OTHER;
}

/* vocab_lookup through a one-entry cache: libxml2 hands an element's
 * namespace URI as a string interned in the parser's dictionary, which lives
 * as long as the parser, so the same pointer is the same URI. Strings the
 * dictionary does not own are looked up every time. */
static enum vocab vocab_of(struct tm_parser *p, const char *uri)
{
    if (uri == NULL)
        return V_RSS;
    if (uri == p->vocab_uri)
        return (enum vocab)p->vocab;
    enum vocab v = vocab_lookup(uri);
    if (p->ctxt->dict != NULL && xmlDictOwns(p->ctxt->dict, (const xmlChar *)uri) == 1) {
        p->vocab_uri = uri;
        p->vocab = (unsigned char)v;
    }
    return v;
}

static bool eq(const char *a, const char *b)
{
    return a != NULL && strcmp(a, b) == 0;
}

static bool eq_ci(const char *a, const char *b)
{
    if (a == NULL)
        return false;
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        if (x != *b)
            return false;
    }
    return *a == *b;
}

/* ---- attributes (SAX2: localname, prefix, URI, value, end per attribute) - */

struct attrs {
    const xmlChar **v;
    int n;
};

/* The attribute's value, malloc'd. libxml2 (without XML_PARSE_NOENT) passes
 * every '&' in a value as "&#38;" for the tree builder to decode later; this
 * decodes it. NULL when absent. */
static char *attr_dup(struct tm_parser *p, const struct attrs *a, const char *local,
                      const char *uri)
{
    for (int i = 0; i < a->n; i++) {
        const xmlChar **at = a->v + i * 5;
        if (strcmp((const char *)at[0], local) != 0)
            continue;
        if (uri == NULL ? at[2] != NULL : !eq((const char *)at[2], uri))
            continue;
        const char *s = (const char *)at[3];
        size_t len = (size_t)(at[4] - at[3]);
        char *out = malloc(len + 1);
        if (out == NULL) {
            tm_parse_oom(p);
            return NULL;
        }
        size_t o = 0;
        for (size_t k = 0; k < len; k++) {
            if (s[k] == '&' && len - k >= 5 && memcmp(s + k, "&#38;", 5) == 0) {
                out[o++] = '&';
                k += 4;
            } else {
                out[o++] = s[k];
            }
        }
        out[o] = '\0';
        return out;
    }
    return NULL;
}

/* ---- capture -------------------------------------------------------------- */

static void capture_add(struct tm_parser *p, const char *s, size_t n)
{
    if (p->cap_truncated || n == 0)
        return;
    struct tm_buf *b = &p->text;
    if (n > p->cap_limit - b->len) {
        n = tm_utf8_boundary(s, n, p->cap_limit - b->len);
        p->cap_truncated = true;
    }
    /* Escaped HTML arrives a few bytes per call ("&lt;" is one). */
    if (tm_buf_add_fast(b, s, n) < 0)
        tm_parse_oom(p);
}

static void capture_escaped(struct tm_parser *p, const char *s, size_t n, bool quotes)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        if (s[i] == '<')
            rep = "&lt;";
        else if (s[i] == '>')
            rep = "&gt;";
        else if (s[i] == '&' && !quotes)
            rep = "&amp;";
        else if (s[i] == '"' && quotes)
            rep = "&quot;";
        if (rep == NULL)
            continue;
        capture_add(p, s + run, i - run);
        capture_add(p, rep, strlen(rep));
        run = i + 1;
    }
    capture_add(p, s + run, n - run);
}

static void begin_capture(struct tm_parser *p, enum tm_target t, unsigned char prio,
                          enum tm_textkind kind)
{
    if (t != TM_T_ENTRY_CATEGORY) {
        tm_parse_resolve_raw(p, t);
        unsigned char have = t >= TM_T_ENTRY_ID ? p->eprio[t] : p->fprio[t];
        if (prio <= have)
            return;
    }
    p->target = t;
    p->cap_prio = prio;
    p->cap_kind = kind;
    p->cap_depth = p->depth;
    p->cap_limit = tm_parse_raw_limit(t);
    p->cap_truncated = false;
    tm_buf_reset(&p->text);
}

static bool serialises(const struct tm_parser *p)
{
    return p->cap_kind == TM_K_XHTML || p->cap_kind == TM_K_HTML ||
           p->target == TM_T_ENTRY_SUMMARY || p->target == TM_T_ENTRY_CONTENT;
}

static bool is_void(const char *name)
{
    static const char *const v[] = {"area",  "base", "br",   "col",   "embed",  "hr",    "img",
                                    "input", "link", "meta", "param", "source", "track", "wbr"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (strcmp(name, v[i]) == 0)
            return true;
    return false;
}

/* A child element inside a captured field: markup for HTML fields. */
static void capture_child(struct tm_parser *p, struct tm_frame *fr, const char *local,
                          const char *uri, const struct attrs *a)
{
    if (!serialises(p))
        return;
    if (p->cap_kind == TM_K_XHTML && p->depth == p->cap_depth + 1 && eq(local, "div") &&
        eq(uri, NS_XHTML)) {
        fr->skip_tag = true; /* RFC 4287 §4.1.3.1: the wrapper is not content */
        return;
    }
    capture_add(p, "<", 1);
    capture_add(p, local, strlen(local));
    for (int i = 0; i < a->n; i++) {
        const xmlChar **at = a->v + i * 5;
        if (at[2] != NULL)
            continue;
        capture_add(p, " ", 1);
        capture_add(p, (const char *)at[0], strlen((const char *)at[0]));
        capture_add(p, "=\"", 2);
        capture_escaped(p, (const char *)at[3], (size_t)(at[4] - at[3]), true);
        capture_add(p, "\"", 1);
    }
    capture_add(p, ">", 1);
    fr->serialised = true;
    fr->void_tag = is_void(local);
}

/* ---- element mapping ------------------------------------------------------ */

static enum tm_textkind atom_kind(struct tm_parser *p, const struct attrs *a, bool content,
                                  bool *skip)
{
    *skip = false;
    char *type = attr_dup(p, a, "type", NULL);
    char *mode = attr_dup(p, a, "mode", NULL);
    char *src = content ? attr_dup(p, a, "src", NULL) : NULL;
    enum tm_textkind k = TM_K_TEXT;
    bool escaped = eq(mode, "escaped");
    if (src != NULL || eq(mode, "base64")) {
        *skip = true;
    } else if (type == NULL || eq_ci(type, "text") || eq_ci(type, "text/plain")) {
        k = TM_K_TEXT;
    } else if (eq_ci(type, "html")) {
        k = TM_K_HTML;
    } else if (eq_ci(type, "text/html")) {
        /* Atom 0.3: mode="xml" (the default) means inline markup. */
        k = (p->feed->format == TM_FORMAT_ATOM03 && !escaped) ? TM_K_XHTML : TM_K_HTML;
    } else if (eq_ci(type, "xhtml") || eq_ci(type, "application/xhtml+xml")) {
        k = escaped ? TM_K_HTML : TM_K_XHTML;
    } else if (strncmp(type, "text/", 5) == 0) {
        k = TM_K_TEXT;
    } else {
        *skip = true; /* binary content: nothing to show */
    }
    free(type);
    free(mode);
    free(src);
    return k;
}

static void atom_link(struct tm_parser *p, struct tm_frame *fr, const struct attrs *a, bool entry)
{
    char *href = attr_dup(p, a, "href", NULL);
    if (href == NULL)
        return;
    char *rel = attr_dup(p, a, "rel", NULL);
    char *type = attr_dup(p, a, "type", NULL);
    const char *base = tm_parse_base(p, fr);
    if (rel == NULL || eq(rel, "alternate") ||
        eq(rel, "http://www.iana.org/assignments/relation/alternate")) {
        /* An HTML alternate beats one of another type (RFC 4287 §4.2.7.2). */
        unsigned char prio = (type == NULL || eq_ci(type, "text/html")) ? 3 : 2;
        if (p->feed->format != TM_FORMAT_ATOM10 && p->feed->format != TM_FORMAT_ATOM03)
            prio = 1; /* atom:link in RSS yields to <link> */
        char *abs = tm_url_resolve(base, href);
        tm_parse_set(p, entry ? TM_T_ENTRY_LINK : TM_T_FEED_LINK, prio, abs);
    } else if (eq(rel, "enclosure") && entry) {
        char *length = attr_dup(p, a, "length", NULL);
        tm_parse_add_enclosure(p, base, href, type, length);
        free(length);
    } else if (eq(rel, "self") && !entry && p->self_link == NULL) {
        p->self_link = tm_url_resolve(p->url, href);
    }
    free(href);
    free(rel);
    free(type);
}

static void media_element(struct tm_parser *p, struct tm_frame *fr, const char *local,
                          const struct attrs *a)
{
    if (eq(local, "content")) {
        char *url = attr_dup(p, a, "url", NULL);
        char *type = attr_dup(p, a, "type", NULL);
        char *size = attr_dup(p, a, "fileSize", NULL);
        tm_parse_add_enclosure(p, tm_parse_base(p, fr), url, type, size);
        free(url);
        free(type);
        free(size);
    } else if (eq(local, "thumbnail") && p->thumbnail == NULL) {
        char *url = attr_dup(p, a, "url", NULL);
        if (url != NULL)
            p->thumbnail = tm_url_resolve(tm_parse_base(p, fr), url);
        free(url);
    } else if (eq(local, "group")) {
        fr->ctx = p->frames[p->depth - 1].ctx;
    }
}

static void start_entry(struct tm_parser *p, struct tm_frame *fr, enum tm_pctx ctx,
                        const struct attrs *a)
{
    if (!tm_parse_entry_begin(p))
        return;
    fr->ctx = (unsigned char)ctx;
    fr->entry = p->entry;
    char *about = attr_dup(p, a, "about", NS_RDF);
    if (about != NULL) {
        bool oom = false;
        p->about = tm_text_collapse(about, strlen(about), &oom);
        free(about);
        if (oom)
            tm_parse_oom(p);
    }
}

static void rss_channel_child(struct tm_parser *p, struct tm_frame *fr, enum vocab v, const char *l,
                              const struct attrs *a)
{
    if (v == V_RSS) {
        if (eq(l, "title"))
            begin_capture(p, TM_T_FEED_TITLE, 2, TM_K_HTMLISH);
        else if (eq(l, "link"))
            begin_capture(p, TM_T_FEED_LINK, 2, TM_K_TEXT);
        else if (eq(l, "description"))
            begin_capture(p, TM_T_FEED_SUBTITLE, 2, TM_K_HTMLISH);
        else if (eq(l, "language"))
            begin_capture(p, TM_T_FEED_LANGUAGE, 2, TM_K_TEXT);
        else if (eq(l, "copyright"))
            begin_capture(p, TM_T_FEED_RIGHTS, 2, TM_K_HTMLISH);
        else if (eq(l, "managingEditor"))
            begin_capture(p, TM_T_FEED_AUTHOR, 2, TM_K_HTMLISH);
        else if (eq(l, "generator"))
            begin_capture(p, TM_T_FEED_GENERATOR, 2, TM_K_HTMLISH);
        else if (eq(l, "lastBuildDate"))
            begin_capture(p, TM_T_FEED_UPDATED, 3, TM_K_TEXT);
        else if (eq(l, "pubDate"))
            begin_capture(p, TM_T_FEED_UPDATED, 1, TM_K_TEXT);
        else if (eq(l, "ttl"))
            begin_capture(p, TM_T_FEED_TTL, 1, TM_K_TEXT);
        else if (eq(l, "item"))
            start_entry(p, fr, TM_C_ITEM, a);
        else if (eq(l, "image"))
            fr->ctx = TM_C_IMAGE;
    } else if (v == V_DC) {
        if (eq(l, "creator") || eq(l, "publisher"))
            begin_capture(p, TM_T_FEED_AUTHOR, eq(l, "creator") ? 1 : 0, TM_K_HTMLISH);
        else if (eq(l, "date"))
            begin_capture(p, TM_T_FEED_UPDATED, 2, TM_K_TEXT);
        else if (eq(l, "language"))
            begin_capture(p, TM_T_FEED_LANGUAGE, 1, TM_K_TEXT);
        else if (eq(l, "rights"))
            begin_capture(p, TM_T_FEED_RIGHTS, 1, TM_K_HTMLISH);
        else if (eq(l, "title"))
            begin_capture(p, TM_T_FEED_TITLE, 1, TM_K_HTMLISH);
    } else if (v == V_DCTERMS && eq(l, "modified")) {
        begin_capture(p, TM_T_FEED_UPDATED, 2, TM_K_TEXT);
    } else if (v == V_SY) {
        if (eq(l, "updatePeriod"))
            begin_capture(p, TM_T_FEED_SY_PERIOD, 1, TM_K_TEXT);
        else if (eq(l, "updateFrequency"))
            begin_capture(p, TM_T_FEED_SY_FREQ, 1, TM_K_TEXT);
    } else if (v == V_ATOM && eq(l, "link")) {
        atom_link(p, fr, a, false);
    } else if (v == V_ITUNES && eq(l, "image")) {
        char *href = attr_dup(p, a, "href", NULL);
        if (href != NULL)
            tm_parse_set(p, TM_T_FEED_IMAGE, 1, tm_url_resolve(tm_parse_base(p, fr), href));
        free(href);
    }
}

static void rss_item_child(struct tm_parser *p, struct tm_frame *fr, enum vocab v, const char *l,
                           const struct attrs *a)
{
    if (v == V_RSS) {
        if (eq(l, "title")) {
            begin_capture(p, TM_T_ENTRY_TITLE, 2, TM_K_HTMLISH);
        } else if (eq(l, "link")) {
            begin_capture(p, TM_T_ENTRY_LINK, 2, TM_K_TEXT);
        } else if (eq(l, "description")) {
            begin_capture(p, TM_T_ENTRY_SUMMARY, 2, TM_K_HTMLISH);
        } else if (eq(l, "guid")) {
            char *perm = attr_dup(p, a, "isPermaLink", NULL);
            if (perm != NULL) {
                p->guid_permalink = !eq_ci(perm, "false");
                p->guid_permalink_explicit = true;
                free(perm);
            }
            begin_capture(p, TM_T_ENTRY_GUID, 1, TM_K_TEXT);
        } else if (eq(l, "pubDate")) {
            begin_capture(p, TM_T_ENTRY_PUBLISHED, 2, TM_K_TEXT);
        } else if (eq(l, "author")) {
            begin_capture(p, TM_T_ENTRY_AUTHOR, 2, TM_K_HTMLISH);
        } else if (eq(l, "category")) {
            begin_capture(p, TM_T_ENTRY_CATEGORY, 1, TM_K_HTMLISH);
        } else if (eq(l, "enclosure")) {
            char *url = attr_dup(p, a, "url", NULL);
            char *type = attr_dup(p, a, "type", NULL);
            char *length = attr_dup(p, a, "length", NULL);
            tm_parse_add_enclosure(p, tm_parse_base(p, fr), url, type, length);
            free(url);
            free(type);
            free(length);
        }
    } else if (v == V_DC) {
        if (eq(l, "creator"))
            begin_capture(p, TM_T_ENTRY_AUTHOR, 1, TM_K_HTMLISH);
        else if (eq(l, "date"))
            begin_capture(p, TM_T_ENTRY_PUBLISHED, 1, TM_K_TEXT);
        else if (eq(l, "subject"))
            begin_capture(p, TM_T_ENTRY_CATEGORY, 1, TM_K_HTMLISH);
        else if (eq(l, "description"))
            begin_capture(p, TM_T_ENTRY_SUMMARY, 1, TM_K_HTMLISH);
        else if (eq(l, "title"))
            begin_capture(p, TM_T_ENTRY_TITLE, 1, TM_K_HTMLISH);
        else if (eq(l, "identifier"))
            begin_capture(p, TM_T_ENTRY_ID, 1, TM_K_TEXT);
    } else if (v == V_DCTERMS) {
        if (eq(l, "issued") || eq(l, "created"))
            begin_capture(p, TM_T_ENTRY_PUBLISHED, 1, TM_K_TEXT);
        else if (eq(l, "modified"))
            begin_capture(p, TM_T_ENTRY_UPDATED, 2, TM_K_TEXT);
    } else if (v == V_CONTENT && eq(l, "encoded")) {
        begin_capture(p, TM_T_ENTRY_CONTENT, 2, TM_K_HTML);
    } else if (v == V_ATOM) {
        if (eq(l, "link"))
            atom_link(p, fr, a, true);
        else if (eq(l, "updated"))
            begin_capture(p, TM_T_ENTRY_UPDATED, 1, TM_K_TEXT);
        else if (eq(l, "published"))
            begin_capture(p, TM_T_ENTRY_PUBLISHED, 1, TM_K_TEXT);
    } else if (v == V_MEDIA) {
        media_element(p, fr, l, a);
    }
}

static void atom_category(struct tm_parser *p, const struct attrs *a)
{
    char *label = attr_dup(p, a, "label", NULL);
    char *term = label ? NULL : attr_dup(p, a, "term", NULL);
    char *s = label ? label : term;
    if (s != NULL) {
        bool oom = false;
        char *v = tm_text_plain(s, strlen(s), &oom);
        if (oom)
            tm_parse_oom(p);
        tm_parse_set(p, TM_T_ENTRY_CATEGORY, 1, v);
    }
    free(label);
    free(term);
}

static void atom_text(struct tm_parser *p, const struct attrs *a, enum tm_target t,
                      unsigned char prio, bool content)
{
    bool skip;
    enum tm_textkind k = atom_kind(p, a, content, &skip);
    if (!skip)
        begin_capture(p, t, prio, k);
}

static void atom_child(struct tm_parser *p, struct tm_frame *fr, enum vocab v, const char *l,
                       const struct attrs *a, bool entry)
{
    if (v == V_ATOM) {
        if (eq(l, "title"))
            atom_text(p, a, entry ? TM_T_ENTRY_TITLE : TM_T_FEED_TITLE, 2, false);
        else if (eq(l, "link"))
            atom_link(p, fr, a, entry);
        else if (eq(l, "id"))
            begin_capture(p, entry ? TM_T_ENTRY_ID : TM_T_FEED_ID, 2, TM_K_TEXT);
        else if (eq(l, "updated") || eq(l, "modified"))
            begin_capture(p, entry ? TM_T_ENTRY_UPDATED : TM_T_FEED_UPDATED, 2, TM_K_TEXT);
        else if (eq(l, "author"))
            fr->ctx = entry ? TM_C_ENTRY_AUTHOR : TM_C_FEED_AUTHOR;
        else if (!entry && (eq(l, "subtitle") || eq(l, "tagline")))
            atom_text(p, a, TM_T_FEED_SUBTITLE, 2, false);
        else if (!entry && (eq(l, "rights") || eq(l, "copyright")))
            atom_text(p, a, TM_T_FEED_RIGHTS, 2, false);
        else if (!entry && eq(l, "generator"))
            begin_capture(p, TM_T_FEED_GENERATOR, 2, TM_K_TEXT);
        else if (!entry && eq(l, "logo"))
            begin_capture(p, TM_T_FEED_IMAGE, 2, TM_K_TEXT);
        else if (!entry && eq(l, "icon"))
            begin_capture(p, TM_T_FEED_IMAGE, 1, TM_K_TEXT);
        else if (!entry && eq(l, "entry"))
            start_entry(p, fr, TM_C_ENTRY, a);
        else if (entry && (eq(l, "published") || eq(l, "issued")))
            begin_capture(p, TM_T_ENTRY_PUBLISHED, 2, TM_K_TEXT);
        else if (entry && eq(l, "created"))
            begin_capture(p, TM_T_ENTRY_PUBLISHED, 1, TM_K_TEXT);
        else if (entry && eq(l, "summary"))
            atom_text(p, a, TM_T_ENTRY_SUMMARY, 2, false);
        else if (entry && eq(l, "content"))
            atom_text(p, a, TM_T_ENTRY_CONTENT, 2, true);
        else if (entry && eq(l, "category"))
            atom_category(p, a);
    } else if (entry && v == V_DC) {
        if (eq(l, "subject"))
            begin_capture(p, TM_T_ENTRY_CATEGORY, 1, TM_K_HTMLISH);
        else if (eq(l, "creator"))
            begin_capture(p, TM_T_ENTRY_AUTHOR, 1, TM_K_HTMLISH);
    } else if (entry && v == V_MEDIA) {
        media_element(p, fr, l, a);
    }
}

static void root_element(struct tm_parser *p, struct tm_frame *fr, const char *l, const char *uri,
                         const char *prefix, const xmlChar **namespaces, int nb_namespaces,
                         const struct attrs *a)
{
    struct tm_feed *f = p->feed;
    p->root_seen = true;
    snprintf(p->root_name, sizeof p->root_name, "%s%s%.40s", prefix ? prefix : "",
             prefix ? ":" : "", l);
    if (eq(l, "rss") && vocab_of(p, uri) == V_RSS) {
        char *version = attr_dup(p, a, "version", NULL);
        static const struct {
            const char *v;
            enum tm_format f;
        } versions[] = {{"0.90", TM_FORMAT_RSS090}, {"0.91", TM_FORMAT_RSS091},
                        {"0.92", TM_FORMAT_RSS092}, {"0.93", TM_FORMAT_RSS093},
                        {"0.94", TM_FORMAT_RSS094}, {"2.0", TM_FORMAT_RSS20},
                        {"2.00", TM_FORMAT_RSS20},  {"2.0.1", TM_FORMAT_RSS20}};
        f->format = TM_FORMAT_RSS20;
        if (version != NULL) {
            bool known = false;
            for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
                if (strcmp(version, versions[i].v) == 0) {
                    f->format = versions[i].f;
                    known = true;
                }
            }
            if (!known)
                tm_parse_error(p, "unknown RSS version \"%.20s\", read as RSS 2.0", version);
            free(version);
        }
        fr->ctx = TM_C_RSS;
    } else if (eq(l, "RDF") && eq(uri, NS_RDF)) {
        f->format = TM_FORMAT_RSS10;
        for (int i = 0; i < nb_namespaces; i++) {
            const char *ns = (const char *)namespaces[2 * i + 1];
            if (eq(ns, NS_RSS090) || eq(ns, NS_RSS090_ALT))
                f->format = TM_FORMAT_RSS090;
        }
        fr->ctx = TM_C_RDF;
    } else if (eq(l, "feed") && (uri == NULL || eq(uri, NS_ATOM10) || eq(uri, NS_ATOM03))) {
        f->format = eq(uri, NS_ATOM03) ? TM_FORMAT_ATOM03 : TM_FORMAT_ATOM10;
        if (uri == NULL)
            tm_parse_error(p, "Atom <feed> without the Atom namespace");
        fr->ctx = TM_C_FEED;
        free(p->feed_lang);
        p->feed_lang = fr->lang ? strdup(fr->lang) : NULL;
    } else {
        snprintf(p->reason, sizeof p->reason, "root element <%s> is not a feed", p->root_name);
        p->status = TM_ENOTFEED;
        xmlStopParser(p->ctxt);
    }
}

/* Tag soup in a description (an unclosed <br>) makes libxml2 close the wrong
 * elements and swallow the next <item> as a child of the last: a new item
 * where one is already open closes the open one first. */
static bool reopens_entry(const struct tm_parser *p, enum vocab v, const char *l)
{
    if (p->entry < 0 && p->target == TM_T_NONE)
        return false;
    if (p->feed->format == TM_FORMAT_ATOM10 || p->feed->format == TM_FORMAT_ATOM03)
        return v == V_ATOM && eq(l, "entry") && p->entry >= 0;
    return v == V_RSS && eq(l, "item") && p->entry >= 0;
}

static void dispatch(struct tm_parser *p, const struct tm_frame *parent, struct tm_frame *fr,
                     enum vocab v, const char *l, const char *uri, const struct attrs *ap);

/* Elements that open structure (an entry, the channel) never occur inside a
 * text field, not even in its unescaped markup: met while a field is being
 * captured, they mean the field's end tag is missing. */
static bool opens_structure(const struct tm_parser *p, enum vocab v, const char *l)
{
    if (p->cap_depth < 2)
        return false;
    enum tm_pctx ctx = (enum tm_pctx)p->frames[p->cap_depth - 1].ctx;
    if (v == V_RSS)
        return (eq(l, "item") && (ctx == TM_C_CHANNEL || ctx == TM_C_RSS || ctx == TM_C_RDF)) ||
               (eq(l, "channel") && (ctx == TM_C_RSS || ctx == TM_C_RDF));
    if (v == V_ATOM)
        return eq(l, "entry") && ctx == TM_C_FEED;
    return false;
}

static void on_xml_start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                                 const xmlChar *URI, int nb_namespaces, const xmlChar **namespaces,
                                 int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    struct tm_parser *p = ctx;
    if (p->status < 0)
        return;
    if (p->depth >= TM_PARSE_MAX_DEPTH) {
        snprintf(p->reason, sizeof p->reason, "elements nested deeper than %d levels",
                 TM_PARSE_MAX_DEPTH);
        p->status = TM_ELIMIT;
        xmlStopParser(p->ctxt);
        return;
    }
    const char *l = (const char *)localname;
    const char *uri = (const char *)URI;
    struct attrs a = {attributes, nb_attributes};
    struct tm_frame *parent = &p->frames[p->depth];
    struct tm_frame *fr = &p->frames[++p->depth];
    memset(fr, 0, sizeof *fr);
    fr->base = parent->base;
    fr->lang = parent->lang;
    fr->entry = -1;
    fr->ctx = TM_C_NONE;

    char *base = attr_dup(p, &a, "base", NS_XML);
    if (base != NULL) {
        char *abs = tm_url_resolve(parent->base, base);
        if (abs != NULL) {
            fr->base = abs;
            fr->own_base = true;
        }
        free(base);
    }
    char *lang = attr_dup(p, &a, "lang", NS_XML);
    if (lang != NULL) {
        fr->lang = lang;
        fr->own_lang = true;
    }

    if (p->depth == 1) {
        root_element(p, fr, l, uri, (const char *)prefix, namespaces, nb_namespaces, &a);
        return;
    }
    enum vocab v = vocab_of(p, uri);
    if (reopens_entry(p, v, l)) {
        if (p->target != TM_T_NONE)
            tm_parse_field_end(p);
        tm_parse_entry_end(p);
        tm_parse_error(p, "line %d: <%s> opened inside another entry; the markup was recovered",
                       xmlSAX2GetLineNumber(p->ctxt), l);
        start_entry(p, fr,
                    p->feed->format == TM_FORMAT_ATOM10 || p->feed->format == TM_FORMAT_ATOM03
                        ? TM_C_ENTRY
                        : TM_C_ITEM,
                    &a);
        return;
    }
    if (p->target != TM_T_NONE) {
        if (!opens_structure(p, v, l)) {
            capture_child(p, fr, l, uri, &a);
            return;
        }
        /* An unclosed text field: libxml2 nests what follows inside it. The
         * field ends here and the element belongs to the field's parent. */
        parent = &p->frames[p->cap_depth - 1];
        tm_parse_error(p, "line %d: <%s> inside an unclosed <%s>; the %s ends there",
                       xmlSAX2GetLineNumber(p->ctxt), l, p->cap_elem,
                       tm_parse_target_name(p->target));
        tm_parse_field_end(p);
    }
    dispatch(p, parent, fr, v, l, uri, &a);
    if (p->target != TM_T_NONE && p->cap_depth == p->depth) {
        size_t n = strnlen(l, sizeof p->cap_elem - 1);
        memcpy(p->cap_elem, l, n);
        p->cap_elem[n] = '\0';
    }
}

/* Handles an element by what its parent's children mean. */
static void dispatch(struct tm_parser *p, const struct tm_frame *parent, struct tm_frame *fr,
                     enum vocab v, const char *l, const char *uri, const struct attrs *ap)
{
    const struct attrs a = *ap;
    switch ((enum tm_pctx)parent->ctx) {
    case TM_C_RSS:
    case TM_C_RDF:
        if (v == V_RSS && eq(l, "channel")) {
            fr->ctx = TM_C_CHANNEL;
            p->channel_seen = true;
            if (eq(uri, NS_RSS090) || eq(uri, NS_RSS090_ALT))
                p->feed->format = TM_FORMAT_RSS090;
            free(p->feed_lang);
            p->feed_lang = fr->lang ? strdup(fr->lang) : NULL;
        } else if (v == V_RSS && eq(l, "item")) {
            start_entry(p, fr, TM_C_ITEM, &a);
        } else if (v == V_RSS && eq(l, "image")) {
            fr->ctx = TM_C_IMAGE;
        }
        break;
    case TM_C_CHANNEL:
        rss_channel_child(p, fr, v, l, &a);
        break;
    case TM_C_IMAGE:
        if (v == V_RSS && eq(l, "url"))
            begin_capture(p, TM_T_FEED_IMAGE, 2, TM_K_TEXT);
        break;
    case TM_C_ITEM:
        rss_item_child(p, fr, v, l, &a);
        break;
    case TM_C_FEED:
        atom_child(p, fr, v, l, &a, false);
        break;
    case TM_C_ENTRY:
        atom_child(p, fr, v, l, &a, true);
        break;
    case TM_C_FEED_AUTHOR:
    case TM_C_ENTRY_AUTHOR:
        if (v == V_ATOM && (eq(l, "name") || eq(l, "email")))
            begin_capture(p, parent->ctx == TM_C_FEED_AUTHOR ? TM_T_FEED_AUTHOR : TM_T_ENTRY_AUTHOR,
                          eq(l, "name") ? 3 : 2, TM_K_TEXT);
        break;
    case TM_C_NONE:
    case TM_C_DOC:
        break;
    }
}

static void on_xml_end_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                               const xmlChar *URI)
{
    struct tm_parser *p = ctx;
    if (p->depth <= 0)
        return;
    struct tm_frame *fr = &p->frames[p->depth];
    if (p->status == 0) {
        if (p->target != TM_T_NONE && p->depth > p->cap_depth) {
            if (fr->serialised && !fr->void_tag) {
                capture_add(p, "</", 2);
                capture_add(p, (const char *)localname, strlen((const char *)localname));
                capture_add(p, ">", 1);
            }
        } else if (p->target != TM_T_NONE && p->depth == p->cap_depth) {
            tm_parse_field_end(p);
        }
        if (fr->entry >= 0 && fr->entry == p->entry)
            tm_parse_entry_end(p);
    }
    if (p->depth == 1)
        p->root_done = true;
    if (fr->own_base)
        free(fr->base);
    if (fr->own_lang)
        free((char *)(uintptr_t)fr->lang);
    p->depth--;
}

static void on_xml_characters(void *ctx, const xmlChar *ch, int len)
{
    struct tm_parser *p = ctx;
    if (p->target == TM_T_NONE || p->status < 0 || len <= 0)
        return;
    if (p->cap_kind == TM_K_XHTML)
        capture_escaped(p, (const char *)ch, (size_t)len, false);
    else
        capture_add(p, (const char *)ch, (size_t)len);
}

static xmlEntityPtr on_xml_get_entity(void *ctx, const xmlChar *name)
{
    struct tm_parser *p = ctx;
    if (++p->entity_refs > TM_PARSE_MAX_ENTITY_REFS && p->status == 0) {
        snprintf(p->reason, sizeof p->reason, "more than %d entity references",
                 TM_PARSE_MAX_ENTITY_REFS);
        p->status = TM_ELIMIT;
        xmlStopParser(p->ctxt);
        return NULL;
    }
    return xmlGetPredefinedEntity(name);
}

static void on_xml_reference(void *ctx, const xmlChar *name)
{
    /* An undeclared entity in content (reported by on_xml_error): nothing to add. */
}

static void on_xml_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                               const xmlChar *system_id, xmlChar *content)
{
    struct tm_parser *p = ctx;
    if (p->entity_decls++ == 0)
        snprintf(p->first_decl, sizeof p->first_decl, "%s", (const char *)name);
}

static xmlParserInputPtr on_xml_resolve_entity(void *ctx, const xmlChar *public_id,
                                               const xmlChar *system_id)
{
    return NULL; /* never load anything (SPEC §8) */
}

static void on_xml_error(void *ctx, xmlErrorPtr e)
{
    struct tm_parser *p = ctx;
    if (p->status < 0 || e == NULL)
        return;
    if (p->root_done) {
        if (!p->garbage_noted)
            tm_parse_error(p, "content after the root element ignored");
        p->garbage_noted = true;
        return;
    }
    char msg[200];
    snprintf(msg, sizeof msg, "%s", e->message ? e->message : "XML error");
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    if (!p->root_seen && p->reason[0] == '\0')
        snprintf(p->reason, sizeof p->reason, "not well-formed XML: line %d: %s", e->line, msg);
    if (p->finishing && !p->root_done &&
        (e->code == XML_ERR_DOCUMENT_END || e->code == XML_ERR_GT_REQUIRED ||
         e->code == XML_ERR_TAG_NOT_FINISHED))
        snprintf(msg, sizeof msg, "document ends before its root element is closed");
    if ((e->code == XML_ERR_UNDECLARED_ENTITY || e->code == XML_WAR_UNDECLARED_ENTITY) &&
        e->str1 != NULL)
        snprintf(msg, sizeof msg, "undefined %sentity %c%.60s; dropped",
                 strncmp(msg, "PEReference", 11) == 0 ? "parameter " : "",
                 strncmp(msg, "PEReference", 11) == 0 ? '%' : '&', e->str1);
    if (p->xml_errors++ >= TM_PARSE_MAX_XML_ERRORS) {
        if (p->xml_errors == TM_PARSE_MAX_XML_ERRORS + 1)
            tm_parse_error(p, "more XML errors not listed");
        return;
    }
    tm_parse_error(p, "line %d: %s", e->line, msg);
}

/* ---- lifecycle ------------------------------------------------------------ */

struct tm_parser *tm_parser_new(const struct tm_parse_opts *opts)
{
    xmlInitParser();
    struct tm_parser *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    if (opts != NULL)
        p->opts = *opts;
    else
        p->opts.dates.utc_offset_s = TM_DATE_DEFAULT_OFFSET_S;
    p->opts.charset = NULL;
    p->opts.url = NULL;
    p->entry = -1;
    tm_buf_init(&p->text, 0);
    p->feed = calloc(1, sizeof *p->feed);
    if (p->feed == NULL)
        goto fail;
    p->feed->updated_utc = TM_TIME_NONE;
    if (opts != NULL && opts->url != NULL && opts->url[0] != '\0') {
        p->url = tm_url_resolve(NULL, opts->url);
        if (p->url == NULL)
            p->url = strdup(opts->url);
        if (p->url == NULL)
            goto fail;
    }
    p->dec = tm_decoder_new(opts ? opts->charset : NULL);
    if (p->dec == NULL)
        goto fail;

    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_xml_start_element;
    sax.endElementNs = on_xml_end_element;
    sax.characters = on_xml_characters;
    sax.cdataBlock = on_xml_characters;
    sax.getEntity = on_xml_get_entity;
    sax.reference = on_xml_reference;
    sax.entityDecl = on_xml_entity_decl;
    sax.resolveEntity = on_xml_resolve_entity;
    sax.serror = on_xml_error;
    p->ctxt = xmlCreatePushParserCtxt(&sax, p, NULL, 0, NULL);
    if (p->ctxt == NULL)
        goto fail;
    /* RECOVER: keep going after well-formedness errors, as readers do. No
     * NOENT, DTDLOAD or DTDATTR: nothing outside the document is read. */
    if (xmlCtxtUseOptions(p->ctxt, XML_PARSE_NONET | XML_PARSE_RECOVER) != 0)
        goto fail;
    p->frames[0].ctx = TM_C_DOC;
    p->frames[0].base = p->url;
    p->frames[0].entry = -1;
    return p;
fail:
    tm_parser_free(p);
    return NULL;
}

static bool only_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

static int on_decoded(void *ctx, const char *s, size_t n)
{
    struct tm_parser *p = ctx;
    if (p->status < 0)
        return p->status;
    if (p->root_done) {
        /* The document is over: anything but white space is garbage. */
        if (!p->garbage_noted && !only_space(s, n)) {
            tm_parse_error(p, "content after the root element ignored");
            p->garbage_noted = true;
        }
        return 0;
    }
    while (n > 0 && p->status == 0 && !p->root_done) {
        int piece = n > TM_PARSE_CHUNK_BYTES ? TM_PARSE_CHUNK_BYTES : (int)n;
        /* Its result is the last libxml2 error, which the SAX error
         * handler has already recorded (recover mode goes on after it);
         * what stops the parse is p->status, set by the handlers. */
        (void)xmlParseChunk(p->ctxt, s, piece, 0);
        s += piece;
        n -= (size_t)piece;
    }
    return p->status;
}

int tm_parser_push(struct tm_parser *p, const char *buf, size_t len)
{
    if (p->status < 0)
        return p->status;
    int rc = tm_decoder_push(p->dec, buf, len, false, on_decoded, p);
    if (rc < 0 && p->status == 0)
        p->status = rc;
    return p->status;
}

/* One line for each note decoder_notes() may write. */
#define DECODER_NOTE_LINES 10

static void decoder_notes(struct tm_parser *p, char ***out, size_t *n_out)
{
    const struct tm_decoder_notes *nt = tm_decoder_notes(p->dec);
    char lines[DECODER_NOTE_LINES][160];
    size_t n = 0;
    if (p->entity_decls > 0)
        snprintf(lines[n++], sizeof lines[0],
                 "%zu entity declarations in the DTD ignored (first: %s)", p->entity_decls,
                 p->first_decl);
    if (nt->space_before_decl)
        snprintf(lines[n++], sizeof lines[0], "white space before the XML declaration ignored");
    if (nt->unsupported_encoding)
        snprintf(lines[n++], sizeof lines[0], "unsupported encoding \"%s\", decoded as utf-8",
                 nt->unsupported_name);
    if (nt->invalid_utf8_bytes > 0)
        snprintf(lines[n++], sizeof lines[0], "invalid UTF-8, decoded as %s",
                 tm_decoder_fallback_name(p->dec));
    if (nt->invalid_bytes > 0)
        snprintf(lines[n++], sizeof lines[0], "%zu bytes invalid in %s dropped", nt->invalid_bytes,
                 tm_decoder_encoding(p->dec));
    if (nt->html_entities > 0)
        snprintf(lines[n++], sizeof lines[0], "HTML entities decoded (%zu, first %s)",
                 nt->html_entities, nt->first_entity);
    if (nt->bare_ampersands > 0)
        snprintf(lines[n++], sizeof lines[0], "%zu bare '&' read as text", nt->bare_ampersands);
    if (nt->bare_lt > 0)
        snprintf(lines[n++], sizeof lines[0], "%zu bare '<' read as text", nt->bare_lt);
    if (nt->cdata_ends > 0)
        snprintf(lines[n++], sizeof lines[0], "%zu ']]>' in text read as text", nt->cdata_ends);
    if (nt->controls_dropped > 0)
        snprintf(lines[n++], sizeof lines[0], "%zu characters not allowed in XML dropped",
                 nt->controls_dropped);
    *n_out = 0;
    *out = NULL;
    if (n == 0)
        return;
    *out = calloc(n, sizeof **out);
    if (*out == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        if (((*out)[*n_out] = strdup(lines[i])) != NULL)
            (*n_out)++;
}

/* Puts the decoder's notes before the parse's own lines. */
static int merge_notes(struct tm_parser *p)
{
    char **notes;
    size_t n_notes;
    decoder_notes(p, &notes, &n_notes);
    if (n_notes == 0)
        return 0;
    struct tm_feed *f = p->feed;
    char **v = malloc((n_notes + f->n_errors) * sizeof *v);
    if (v == NULL) {
        for (size_t i = 0; i < n_notes; i++)
            free(notes[i]);
        free(notes);
        return TM_ENOMEM;
    }
    memcpy(v, notes, n_notes * sizeof *v);
    if (f->n_errors)
        memcpy(v + n_notes, f->errors, f->n_errors * sizeof *v);
    free(notes);
    free(f->errors);
    f->errors = v;
    f->n_errors += n_notes;
    p->cap_errors = f->n_errors;
    return 0;
}

const char *tm_parser_encoding(const struct tm_parser *p)
{
    return tm_decoder_encoding(p->dec);
}

static void not_feed_reason(struct tm_parser *p)
{
    const struct tm_decoder_notes *nt = tm_decoder_notes(p->dec);
    struct tm_feed *f = p->feed;
    if (p->status == TM_ENOTFEED || p->status == TM_ELIMIT)
        return;
    if (!p->root_seen) {
        p->status = TM_ENOTFEED;
        if (nt->first_char < 0)
            snprintf(p->reason, sizeof p->reason, "empty document");
        else if (nt->first_char == '{' || nt->first_char == '[')
            snprintf(p->reason, sizeof p->reason, "document is JSON, not a feed");
        else if (nt->first_char != '<')
            snprintf(p->reason, sizeof p->reason, "document is not XML (it starts with text)");
        else if (p->reason[0] == '\0')
            snprintf(p->reason, sizeof p->reason, "no root element");
        return;
    }
    bool rss = f->format != TM_FORMAT_ATOM10 && f->format != TM_FORMAT_ATOM03;
    if (rss && !p->channel_seen && f->n_entries == 0) {
        p->status = TM_ENOTFEED;
        snprintf(p->reason, sizeof p->reason, "root element <%s> holds no RSS channel",
                 p->root_name);
    }
}

int tm_parser_finish(struct tm_parser *p, struct tm_feed **out, struct tm_error *err)
{
    *out = NULL;
    if (p->status == 0) {
        int rc = tm_decoder_push(p->dec, NULL, 0, true, on_decoded, p);
        if (rc < 0 && p->status == 0)
            p->status = rc;
    }
    p->finishing = true;
    if (p->status == 0 && !p->root_done)
        (void)xmlParseChunk(p->ctxt, NULL, 0, 1); /* errors: as above */
    if (p->status == TM_ENOMEM)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    not_feed_reason(p);
    if (p->status < 0)
        return tm_error_set(err, p->status, "%s", p->reason);
    struct tm_feed *f = p->feed;
    if (p->entry >= 0) {
        tm_parse_error(p, "document ends inside entry %ld", p->entry + 1);
        p->target = TM_T_NONE;
        tm_parse_entry_end(p);
    }
    if (f->language == NULL && p->feed_lang != NULL) {
        bool oom = false;
        f->language = tm_text_collapse(p->feed_lang, strlen(p->feed_lang), &oom);
    }
    if (p->sy_period_s > 0 || p->sy_freq > 0) {
        int64_t period = p->sy_period_s > 0 ? p->sy_period_s : 86400; /* sy: default daily */
        f->update_period_s = period / (p->sy_freq > 0 ? p->sy_freq : 1);
    }
    const char *enc = tm_decoder_encoding(p->dec);
    if ((enc != NULL && (f->encoding = strdup(enc)) == NULL) || merge_notes(p) < 0 ||
        p->status == TM_ENOMEM)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    *out = f;
    p->feed = NULL;
    return 0;
}

void tm_parser_free(struct tm_parser *p)
{
    if (p == NULL)
        return;
    if (p->ctxt != NULL) {
        if (p->ctxt->myDoc != NULL)
            xmlFreeDoc(p->ctxt->myDoc);
        xmlFreeParserCtxt(p->ctxt);
    }
    while (p->depth > 0) {
        struct tm_frame *fr = &p->frames[p->depth--];
        if (fr->own_base)
            free(fr->base);
        if (fr->own_lang)
            free((char *)(uintptr_t)fr->lang);
    }
    tm_decoder_free(p->dec);
    if (p->feed != NULL) {
        p->entry = -1;
        tm_feed_free(p->feed);
    }
    free(p->guid);
    free(p->thumbnail);
    free(p->about);
    free(p->self_link);
    free(p->feed_lang);
    free(p->url);
    tm_buf_free(&p->text);
    free(p);
}

int tm_parse_buffer(const char *buf, size_t len, const struct tm_parse_opts *opts,
                    struct tm_feed **out, struct tm_error *err)
{
    *out = NULL;
    struct tm_parser *p = tm_parser_new(opts);
    if (p == NULL)
        return tm_error_set(err, TM_ENOMEM, "out of memory");
    tm_parser_push(p, buf, len);
    int rc = tm_parser_finish(p, out, err);
    tm_parser_free(p);
    return rc;
}
