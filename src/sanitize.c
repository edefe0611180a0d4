/* tinmoi — allow-list HTML sanitiser (SPEC §8) and URL resolution.
 *
 * libxml2's HTML parser builds the tree (the same recovery rules browsers
 * roughly follow for tag soup); the walk below writes back only what the
 * allow-list names, escaping every text and attribute value itself, so no
 * markup from the input reaches the output except through this table. */
#include "tinmoi/sanitize.h"
#include "tinmoi/buf.h"
#include "tinmoi/error.h"
#include "tinmoi/text.h"
#include "text_int.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The fragment is parsed after this prefix: with <body> open, libxml2 puts
 * leading text straight into it instead of wrapping it in an implied <p>. */
#define TM_SANITIZE_PREFIX "<body>"

/* Options for the HTML parser: never the network; no error output (a pure
 * module does not log); no implied <html>/<body>; ignore <meta charset>,
 * since the caller hands over UTF-8 and a meta must not re-decode it. */
#define TM_SANITIZE_HTML_OPTIONS                                                                   \
    (HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NOIMPLIED |         \
     HTML_PARSE_IGNORE_ENC | HTML_PARSE_RECOVER)

/* Attributes an allowed element may keep. */
enum {
    A_HREF = 1 << 0,
    A_TITLE = 1 << 1,
    A_SRC = 1 << 2,
    A_ALT = 1 << 3,
    A_WIDTH = 1 << 4,
    A_HEIGHT = 1 << 5,
    A_COLSPAN = 1 << 6,
    A_ROWSPAN = 1 << 7,
    A_CITE = 1 << 8,
    A_START = 1 << 9,
};

enum elem_kind {
    ELEM_KEEP, /* written with its allowed attributes */
    ELEM_DROP, /* dropped with everything inside it */
};

struct elem_rule {
    const char *name;
    unsigned char kind;
    unsigned char is_void;
    unsigned short attrs;
};

/* Sorted by name for bsearch. Elements not listed are unwrapped: their
 * children are kept, the tag is not. */
static const struct elem_rule elem_rules[] = {
    {"a", ELEM_KEEP, 0, A_HREF | A_TITLE},
    {"abbr", ELEM_KEEP, 0, A_TITLE},
    {"applet", ELEM_DROP, 0, 0},
    {"b", ELEM_KEEP, 0, 0},
    {"base", ELEM_DROP, 0, 0},
    {"blockquote", ELEM_KEEP, 0, A_CITE},
    {"br", ELEM_KEEP, 1, 0},
    {"button", ELEM_DROP, 0, 0},
    {"caption", ELEM_KEEP, 0, 0},
    {"cite", ELEM_KEEP, 0, 0},
    {"code", ELEM_KEEP, 0, 0},
    {"dd", ELEM_KEEP, 0, 0},
    {"del", ELEM_KEEP, 0, 0},
    {"div", ELEM_KEEP, 0, 0},
    {"dl", ELEM_KEEP, 0, 0},
    {"dt", ELEM_KEEP, 0, 0},
    {"em", ELEM_KEEP, 0, 0},
    {"embed", ELEM_DROP, 0, 0},
    {"figcaption", ELEM_KEEP, 0, 0},
    {"figure", ELEM_KEEP, 0, 0},
    {"form", ELEM_DROP, 0, 0},
    {"frame", ELEM_DROP, 0, 0},
    {"frameset", ELEM_DROP, 0, 0},
    {"h1", ELEM_KEEP, 0, 0},
    {"h2", ELEM_KEEP, 0, 0},
    {"h3", ELEM_KEEP, 0, 0},
    {"h4", ELEM_KEEP, 0, 0},
    {"h5", ELEM_KEEP, 0, 0},
    {"h6", ELEM_KEEP, 0, 0},
    {"head", ELEM_DROP, 0, 0},
    {"hr", ELEM_KEEP, 1, 0},
    {"i", ELEM_KEEP, 0, 0},
    {"iframe", ELEM_DROP, 0, 0},
    {"img", ELEM_KEEP, 1, A_SRC | A_ALT | A_TITLE | A_WIDTH | A_HEIGHT},
    {"input", ELEM_DROP, 0, 0},
    {"ins", ELEM_KEEP, 0, 0},
    {"li", ELEM_KEEP, 0, 0},
    {"link", ELEM_DROP, 0, 0},
    {"math", ELEM_DROP, 0, 0},
    {"meta", ELEM_DROP, 0, 0},
    {"noembed", ELEM_DROP, 0, 0},
    {"noframes", ELEM_DROP, 0, 0},
    {"noscript", ELEM_DROP, 0, 0},
    {"object", ELEM_DROP, 0, 0},
    {"ol", ELEM_KEEP, 0, A_START},
    {"option", ELEM_DROP, 0, 0},
    {"p", ELEM_KEEP, 0, 0},
    {"param", ELEM_DROP, 0, 0},
    {"pre", ELEM_KEEP, 0, 0},
    {"q", ELEM_KEEP, 0, A_CITE},
    {"s", ELEM_KEEP, 0, 0},
    {"script", ELEM_DROP, 0, 0},
    {"select", ELEM_DROP, 0, 0},
    {"small", ELEM_KEEP, 0, 0},
    {"source", ELEM_DROP, 0, 0},
    {"span", ELEM_KEEP, 0, 0},
    {"strong", ELEM_KEEP, 0, 0},
    {"style", ELEM_DROP, 0, 0},
    {"sub", ELEM_KEEP, 0, 0},
    {"sup", ELEM_KEEP, 0, 0},
    {"svg", ELEM_DROP, 0, 0},
    {"table", ELEM_KEEP, 0, 0},
    {"tbody", ELEM_KEEP, 0, 0},
    {"td", ELEM_KEEP, 0, A_COLSPAN | A_ROWSPAN},
    {"template", ELEM_DROP, 0, 0},
    {"textarea", ELEM_DROP, 0, 0},
    {"tfoot", ELEM_KEEP, 0, 0},
    {"th", ELEM_KEEP, 0, A_COLSPAN | A_ROWSPAN},
    {"thead", ELEM_KEEP, 0, 0},
    {"title", ELEM_DROP, 0, 0},
    {"tr", ELEM_KEEP, 0, 0},
    {"u", ELEM_KEEP, 0, 0},
    {"ul", ELEM_KEEP, 0, 0},
};

struct attr_rule {
    const char *name;
    unsigned short bit;
};

static const struct attr_rule attr_rules[] = {
    {"href", A_HREF},   {"title", A_TITLE},   {"src", A_SRC},         {"alt", A_ALT},
    {"width", A_WIDTH}, {"height", A_HEIGHT}, {"colspan", A_COLSPAN}, {"rowspan", A_ROWSPAN},
    {"cite", A_CITE},   {"start", A_START},
};

static int elem_cmp(const void *key, const void *item)
{
    return strcasecmp(key, ((const struct elem_rule *)item)->name);
}

static const struct elem_rule *elem_find(const xmlChar *name)
{
    if (name == NULL)
        return NULL;
    return bsearch(name, elem_rules, sizeof elem_rules / sizeof elem_rules[0], sizeof elem_rules[0],
                   elem_cmp);
}

/* ---- URLs --------------------------------------------------------------- */

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Prepares a URL as the WHATWG URL parser would before parsing: leading and
 * trailing C0 controls and spaces stripped, tab and newlines removed
 * anywhere (that is how "jav&#x09;ascript:" still runs in a browser), then
 * what RFC 3986 does not allow percent-encoded (spaces, non-ASCII bytes of
 * an IRI such as ".../tin-tức", a '%' that starts no escape, a second '#')
 * so that xmlParseURI accepts what browsers accept. */
static int url_prepare(struct tm_buf *b, const char *s)
{
    static const char hexdig[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    while (len > 0 && (unsigned char)s[len - 1] <= 0x20)
        len--;
    size_t i = 0;
    while (i < len && (unsigned char)s[i] <= 0x20)
        i++;
    bool fragment = false;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t' || c == '\n' || c == '\r')
            continue;
        bool enc = c <= 0x20 || c >= 0x7F || strchr("\"<>\\^`{|}", c) != NULL;
        if (c == '%')
            enc = !(i + 2 < len && is_hex((unsigned char)s[i + 1]) &&
                    is_hex((unsigned char)s[i + 2]));
        if (c == '#') {
            enc = fragment;
            fragment = true;
        }
        int rc;
        if (enc) {
            char esc[3] = {'%', hexdig[c >> 4], hexdig[c & 15]};
            rc = tm_buf_add(b, esc, 3);
        } else {
            rc = tm_buf_addc(b, (char)c);
        }
        if (rc != 0)
            return rc;
    }
    return tm_buf_add(b, "", 0);
}

char *tm_url_resolve(const char *base, const char *ref)
{
    if (ref == NULL)
        return NULL;
    struct tm_buf r, bb;
    tm_buf_init(&r, 0);
    tm_buf_init(&bb, 0);
    char *result = NULL;
    if (url_prepare(&r, ref) != 0)
        goto out;
    if (base != NULL && url_prepare(&bb, base) != 0)
        goto out;
    xmlChar *built = xmlBuildURI((const xmlChar *)r.data, base ? (const xmlChar *)bb.data : NULL);
    if (built == NULL)
        goto out;
    xmlURIPtr uri = xmlParseURI((const char *)built);
    bool absolute = uri != NULL && uri->scheme != NULL && uri->scheme[0] != '\0';
    if (absolute && (strcasecmp(uri->scheme, "http") == 0 || strcasecmp(uri->scheme, "https") == 0))
        absolute = uri->server != NULL && uri->server[0] != '\0';
    xmlFreeURI(uri);
    if (absolute)
        result = strdup((const char *)built);
    xmlFree(built);
out:
    tm_buf_free(&r);
    tm_buf_free(&bb);
    return result;
}

char *tm_url_resolve_http(const char *base, const char *ref)
{
    char *url = tm_url_resolve(base, ref);
    if (url == NULL)
        return NULL;
    size_t colon = strcspn(url, ":");
    if ((colon == 4 && strncasecmp(url, "http", 4) == 0) ||
        (colon == 5 && strncasecmp(url, "https", 5) == 0))
        return url;
    free(url);
    return NULL;
}

enum url_use {
    URL_LINK,  /* a[href]: http, https, mailto */
    URL_IMAGE, /* img[src]: http, https, data:image/{png,gif,jpeg,webp} */
    URL_CITE,  /* blockquote/q[cite]: http, https */
};

/* An inline image in one of the raster formats browsers render safely;
 * data:image/svg+xml can carry script and is refused. */
static bool data_image_ok(const char *s)
{
    static const char *const types[] = {"png", "gif", "jpeg", "webp"};
    while (*s != '\0' && (unsigned char)*s <= 0x20)
        s++;
    if (strncasecmp(s, "data:image/", 11) != 0)
        return false;
    s += 11;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i]);
        if (strncasecmp(s, types[i], n) == 0 && (s[n] == ';' || s[n] == ','))
            return true;
    }
    return false;
}

/* The URL to write for an attribute value, or NULL to drop the attribute. */
static char *url_sanitize(const char *value, const char *base, enum url_use use)
{
    if (use == URL_IMAGE && data_image_ok(value)) {
        struct tm_buf b;
        tm_buf_init(&b, 0);
        if (url_prepare(&b, value) != 0) {
            tm_buf_free(&b);
            return NULL;
        }
        return tm_buf_steal(&b);
    }
    char *url = tm_url_resolve(base, value);
    if (url == NULL)
        return NULL;
    size_t colon = strcspn(url, ":");
    bool ok =
        (colon == 4 && strncasecmp(url, "http", 4) == 0) ||
        (colon == 5 && strncasecmp(url, "https", 5) == 0) ||
        (use == URL_LINK && colon == 6 && strncasecmp(url, "mailto", 6) == 0 && url[7] != '\0');
    if (!ok) {
        free(url);
        return NULL;
    }
    return url;
}

/* ---- HTML5 references ---------------------------------------------------- */

/* libxml2 2.9's HTML parser knows HTML 4's 253 named references; HTML5 added
 * some 2,000 more (&colon;, &Tab;, &NewLine;, &bigstar;...). Rewrites those
 * in in[0..len) as numeric references, which libxml2 decodes, so text and
 * URLs read as a browser reads them ("javascript&colon;" is a scheme to a
 * browser). Returns 0 with *out NULL when nothing needed rewriting, or a
 * malloc'd copy in *out; TM_ENOMEM. */
static int rewrite_html5_refs(const char *in, size_t len, char **out, size_t *out_len)
{
    struct tm_buf b;
    tm_buf_init(&b, 0);
    bool copying = false;
    size_t run = 0, i = 0;
    *out = NULL;
    while (i < len) {
        const char *amp = memchr(in + i, '&', len - i);
        if (amp == NULL)
            break;
        size_t name = (size_t)(amp - in) + 1, end = name;
        while (end < len && end - name < 32 &&
               (((in[end] | 0x20) >= 'a' && (in[end] | 0x20) <= 'z') ||
                (in[end] >= '0' && in[end] <= '9')))
            end++;
        i = end;
        if (end == name || end >= len || in[end] != ';')
            continue;
        char key[33], utf8[TM_ENTITY_MAX_UTF8];
        memcpy(key, in + name, end - name);
        key[end - name] = '\0';
        size_t n = tm_entity_lookup(key, end - name, utf8);
        if (n == 0 || htmlEntityLookup((const xmlChar *)key) != NULL)
            continue;
        int rc = copying ? 0 : tm_buf_add(&b, in, 0);
        copying = true;
        if (rc == 0)
            rc = tm_buf_add(&b, in + run, name - 1 - run);
        for (size_t k = 0; k < n && rc == 0;) {
            int32_t cp;
            k += tm_utf8_decode((const unsigned char *)utf8 + k, n - k, &cp);
            rc = tm_buf_printf(&b, "&#x%X;", (unsigned)cp);
        }
        if (rc != 0) {
            tm_buf_free(&b);
            return rc;
        }
        i = end + 1;
        run = i;
    }
    if (!copying)
        return 0;
    int rc = tm_buf_add(&b, in + run, len - run);
    if (rc != 0) {
        tm_buf_free(&b);
        return rc;
    }
    *out_len = b.len;
    *out = tm_buf_steal(&b);
    return *out ? 0 : TM_ENOMEM;
}

/* ---- The walk ----------------------------------------------------------- */

struct san {
    struct tm_buf out;
    struct tm_buf tag; /* the start tag being built */
    const char *base;
    size_t max_bytes;   /* 0: no limit */
    size_t close_bytes; /* end tags owed to the elements now open */
    bool inert;         /* nothing written can change under NFC */
    bool visible;       /* some text or an image was written */
    bool stop;          /* max_bytes reached */
    bool truncated;
    int err;
};

static void put(struct san *st, struct tm_buf *b, const char *s, size_t n)
{
    if (st->err == 0)
        st->err = tm_buf_add(b, s, n);
}

/* Room left before the limit, keeping what the open elements' end tags need. */
static size_t room(const struct san *st)
{
    if (st->max_bytes == 0)
        return SIZE_MAX;
    size_t used = st->out.len + st->close_bytes;
    return used >= st->max_bytes ? 0 : st->max_bytes - used;
}

static const char *escape_of(unsigned char c, bool is_text)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return is_text ? NULL : "&quot;";
    default:
        return NULL;
    }
}

/* Writes s[0..len) to `b` escaped for HTML text or a double-quoted
 * attribute value, at most `avail` bytes, cut on a character boundary.
 * Returns false when it had to cut. Notes in st whether the text may change
 * under NFC and whether it shows anything. */
static bool put_escaped(struct san *st, struct tm_buf *b, const char *s, size_t len, size_t avail,
                        bool is_text)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0, i = 0, cost = 0;
    bool whole = true;
    while (i < len) {
        unsigned char c = p[i];
        size_t n = 1;
        const char *esc = NULL;
        if (c >= 0x80) {
            int32_t cp;
            n = tm_utf8_decode(p + i, len - i, &cp);
            if (cp < 0 || !tm_text_cp_inert(cp))
                st->inert = false;
            if (is_text && cp >= 0 && !tm_text_cp_space(cp))
                st->visible = true;
        } else {
            esc = escape_of(c, is_text);
            if (is_text && !tm_text_cp_space(c))
                st->visible = true;
        }
        size_t e = esc ? strlen(esc) : n;
        if (e > avail - cost) {
            whole = false;
            break;
        }
        cost += e;
        if (esc != NULL) {
            put(st, b, s + run, i - run);
            put(st, b, esc, e);
            run = i + 1;
        }
        i += n;
    }
    put(st, b, s + run, i - run);
    return whole;
}

static bool digits_ok(const char *v)
{
    size_t n = 0;
    if (*v == '-')
        v++;
    for (; v[n] != '\0'; n++)
        if (v[n] < '0' || v[n] > '9')
            return false;
    return n > 0 && n <= 9;
}

/* The attribute's value as libxml2 decoded it. *owned is set when the
 * caller must xmlFree it. */
static const char *attr_value(xmlAttr *a, xmlChar **owned)
{
    *owned = NULL;
    if (a->children == NULL)
        return "";
    if (a->children->type == XML_TEXT_NODE && a->children->next == NULL)
        return a->children->content ? (const char *)a->children->content : "";
    *owned = xmlNodeGetContent((xmlNode *)a);
    return *owned ? (const char *)*owned : "";
}

/* Builds the start tag of `n` with its allowed attributes in st->tag.
 * Returns false when the element must go (an img without an allowed src). */
static bool build_start_tag(struct san *st, xmlNode *n, const struct elem_rule *rule)
{
    struct tm_buf *b = &st->tag;
    bool has_src = false;
    tm_buf_reset(b);
    put(st, b, "<", 1);
    put(st, b, rule->name, strlen(rule->name));
    for (xmlAttr *a = n->properties; a != NULL && rule->attrs != 0; a = a->next) {
        const struct attr_rule *ar = NULL;
        for (size_t k = 0; k < sizeof attr_rules / sizeof attr_rules[0]; k++)
            if (a->name != NULL && strcasecmp((const char *)a->name, attr_rules[k].name) == 0)
                ar = &attr_rules[k];
        if (ar == NULL || (rule->attrs & ar->bit) == 0)
            continue;
        xmlChar *owned;
        const char *v = attr_value(a, &owned);
        char *url = NULL;
        bool keep = true;
        if (ar->bit == A_HREF)
            v = url = url_sanitize(v, st->base, URL_LINK);
        else if (ar->bit == A_SRC)
            v = url = url_sanitize(v, st->base, URL_IMAGE);
        else if (ar->bit == A_CITE)
            v = url = url_sanitize(v, st->base, URL_CITE);
        else if (ar->bit & (A_WIDTH | A_HEIGHT | A_COLSPAN | A_ROWSPAN | A_START))
            keep = digits_ok(v);
        if (v != NULL && keep) {
            has_src |= ar->bit == A_SRC;
            put(st, b, " ", 1);
            put(st, b, ar->name, strlen(ar->name));
            put(st, b, "=\"", 2);
            put_escaped(st, b, v, strlen(v), SIZE_MAX, false);
            put(st, b, "\"", 1);
        }
        free(url);
        xmlFree(owned);
    }
    put(st, b, ">", 1);
    if (strcmp(rule->name, "img") != 0)
        return true;
    if (has_src)
        st->visible = true;
    return has_src;
}

static size_t end_tag_bytes(const struct elem_rule *rule)
{
    return rule->is_void ? 0 : strlen(rule->name) + 3;
}

static void put_end_tag(struct san *st, const struct elem_rule *rule)
{
    put(st, &st->out, "</", 2);
    put(st, &st->out, rule->name, strlen(rule->name));
    put(st, &st->out, ">", 1);
}

/* Handles an element; returns true when the walk should go into its
 * children (an unwrapped element, or a kept one now open). */
static bool visit_element(struct san *st, xmlNode *n)
{
    const struct elem_rule *rule = elem_find(n->name);
    if (rule == NULL)
        return true; /* unknown: unwrap */
    if (rule->kind == ELEM_DROP)
        return false;
    if (!build_start_tag(st, n, rule))
        return false;
    size_t close = end_tag_bytes(rule);
    if (st->tag.len + close > room(st)) {
        st->stop = true;
        st->truncated = true;
        return false;
    }
    put(st, &st->out, st->tag.data, st->tag.len);
    if (rule->is_void)
        return false;
    if (n->children == NULL) {
        put_end_tag(st, rule);
        return false;
    }
    st->close_bytes += close;
    return true;
}

/* Called when the walk leaves an element it went into. */
static void leave_element(struct san *st, xmlNode *n)
{
    const struct elem_rule *rule = elem_find(n->name);
    if (rule == NULL || rule->kind != ELEM_KEEP || rule->is_void)
        return;
    put_end_tag(st, rule);
    st->close_bytes -= end_tag_bytes(rule);
}

/* Walks the tree without recursion (tag soup can nest deeply) in document
 * order, writing what the allow-list keeps. */
static void walk(struct san *st, xmlDoc *doc)
{
    xmlNode *top = (xmlNode *)doc;
    xmlNode *n = doc->children;
    while (n != NULL) {
        bool descend = false;
        if (n->type == XML_ELEMENT_NODE) {
            descend = visit_element(st, n) && n->children != NULL;
        } else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
                   n->content != NULL) {
            size_t len = strlen((const char *)n->content);
            if (!put_escaped(st, &st->out, (const char *)n->content, len, room(st), true)) {
                st->stop = true;
                st->truncated = true;
            }
        }
        if (st->stop || st->err != 0) {
            /* Close what is open, innermost first. */
            for (xmlNode *p = descend ? n : n->parent; p != NULL && p != top; p = p->parent)
                if (p->type == XML_ELEMENT_NODE)
                    leave_element(st, p);
            return;
        }
        if (descend) {
            n = n->children;
            continue;
        }
        while (n->next == NULL) {
            n = n->parent;
            if (n == NULL || n == top)
                return;
            leave_element(st, n);
        }
        n = n->next;
    }
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

char *tm_html_sanitize_limit(const char *html, size_t len, const char *base_url, size_t max_bytes,
                             bool *truncated, bool *oom)
{
    if (oom != NULL)
        *oom = false;
    if (truncated != NULL)
        *truncated = false;
    if (html == NULL || len == 0)
        return NULL;
    struct tm_buf in;
    tm_buf_init(&in, 0);
    /* Text without markup or references (many RSS descriptions) needs no
     * parser: it is escaped as one text node. */
    bool markup = memchr(html, '<', len) != NULL || memchr(html, '&', len) != NULL;
    int rc = markup ? tm_buf_adds(&in, TM_SANITIZE_PREFIX) : 0;
    if (rc == 0)
        rc = tm_utf8_append_clean(&in, html, len, NULL);
    if (rc != 0 || in.len > INT_MAX) {
        if (oom != NULL)
            *oom = rc == TM_ENOMEM;
        tm_buf_free(&in);
        return NULL;
    }
    struct san st = {.base = base_url, .max_bytes = max_bytes, .inert = true};
    tm_buf_init(&st.out, 0);
    tm_buf_init(&st.tag, 0);
    if (markup) {
        char *re = NULL;
        size_t re_len = 0;
        rc = rewrite_html5_refs(in.data, in.len, &re, &re_len);
        if (rc != 0 || re_len > INT_MAX) {
            if (oom != NULL)
                *oom = rc == TM_ENOMEM;
            free(re);
            tm_buf_free(&in);
            return NULL;
        }
        htmlDocPtr doc =
            re ? htmlReadMemory(re, (int)re_len, NULL, "UTF-8", TM_SANITIZE_HTML_OPTIONS)
               : htmlReadMemory(in.data, (int)in.len, NULL, "UTF-8", TM_SANITIZE_HTML_OPTIONS);
        free(re);
        tm_buf_free(&in);
        if (doc == NULL) {
            /* The input is never empty (the prefix), so this is libxml2's OOM. */
            if (oom != NULL)
                *oom = true;
            return NULL;
        }
        walk(&st, doc);
        xmlFreeDoc(doc);
    } else {
        if (!put_escaped(&st, &st.out, in.data, in.len, room(&st), true))
            st.truncated = true;
        tm_buf_free(&in);
    }
    tm_buf_free(&st.tag);
    if (st.err != 0 || !st.visible) {
        if (oom != NULL)
            *oom = st.err == TM_ENOMEM;
        tm_buf_free(&st.out);
        return NULL;
    }
    if (truncated != NULL)
        *truncated = st.truncated;
    size_t start = 0, end = st.out.len;
    while (start < end && is_ascii_space(st.out.data[start]))
        start++;
    while (end > start && is_ascii_space(st.out.data[end - 1]))
        end--;
    char *s = tm_buf_steal(&st.out);
    if (s == NULL) {
        if (oom != NULL)
            *oom = true;
        return NULL;
    }
    if (start > 0)
        memmove(s, s + start, end - start);
    s[end - start] = '\0';
    char *r = tm_text_nfc_take(s, end - start, st.inert);
    if (r == NULL && oom != NULL)
        *oom = true;
    return r;
}

char *tm_html_sanitize(const char *html, size_t len, const char *base_url, bool *oom)
{
    return tm_html_sanitize_limit(html, len, base_url, 0, NULL, oom);
}
