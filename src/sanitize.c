/* tinmoi — allow-list HTML sanitiser (SPEC §8) and URL resolution.
 *
 * One pass over the fragment: a tokenizer that follows HTML5's rules for
 * where tags, attributes, comments and character references begin and end
 * (so the sanitiser reads markup the way a browser will), an allow-list
 * that decides what is written, and a stack of the kept elements now open
 * so the output is balanced. Nothing from the input reaches the output but
 * text and attribute values, which are decoded and escaped again here, and
 * tags written from the table below: what the output says is what was
 * checked. No tree is built and no text is copied twice. */
#include "tinmoi/sanitize.h"
#include "tinmoi/buf.h"
#include "tinmoi/error.h"
#include "tinmoi/text.h"
#include "text_int.h"
#include "copy_int.h"
#include "utf8_scan_int.h"

#include <libxml/uri.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Kept elements open at once. Real articles nest a dozen deep; tag soup can
 * nest without end, and the stack is a fixed array. Deeper elements are
 * unwrapped (their text is kept, their tags are not). */
#define TM_SANITIZE_MAX_DEPTH 256

/* Longest HTML5 named reference ("CounterClockwiseContourIntegral", 31):
 * a longer run of letters after '&' is not a reference. */
#define TM_SANITIZE_MAX_REF_NAME 32

/* Longest element or attribute name in the tables below, plus one: longer
 * names are unknown without looking. */
#define TM_SANITIZE_MAX_NAME 12

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

/* What an element is to the tokenizer and to the implied-end-tag rules. */
enum {
    F_VOID = 1 << 0,     /* no content, no end tag */
    F_RAW = 1 << 1,      /* content is raw text up to its end tag */
    F_FOREIGN = 1 << 2,  /* svg, math: "/>" closes it */
    F_CLOSES_P = 1 << 3, /* its start tag closes an open p */
    F_SPECIAL = 1 << 4,  /* HTML5's "special" category: stops the li/dd/dt search */
};

/* Groups for the rules that close elements implicitly. */
enum elem_group {
    G_NONE,
    G_P,
    G_LI,
    G_DDT,
    G_H,
    G_TR,
    G_CELL,
    G_TSECT,
    G_TABLE,
    G_CAPTION,
};

struct elem_rule {
    const char *name;
    unsigned char name_len;
    unsigned char kind;
    unsigned char flags;
    unsigned char group;
    unsigned short attrs;
};

#define BLOCK (F_CLOSES_P | F_SPECIAL)

/* A rule, its name's length counted by the compiler. */
#define E(name, kind, flags, group, attrs)                                                         \
    {                                                                                              \
        name, sizeof name - 1, kind, flags, group, attrs                                           \
    }

/* Sorted by name for bsearch. Elements not listed are unwrapped: their
 * children are kept, the tag is not. */
static const struct elem_rule elem_rules[] = {
    E("a", ELEM_KEEP, 0, G_NONE, A_HREF | A_TITLE),
    E("abbr", ELEM_KEEP, 0, G_NONE, A_TITLE),
    E("applet", ELEM_DROP, 0, G_NONE, 0),
    E("b", ELEM_KEEP, 0, G_NONE, 0),
    E("base", ELEM_DROP, F_VOID, G_NONE, 0),
    E("blockquote", ELEM_KEEP, BLOCK, G_NONE, A_CITE),
    E("br", ELEM_KEEP, F_VOID, G_NONE, 0),
    E("button", ELEM_DROP, 0, G_NONE, 0),
    E("caption", ELEM_KEEP, F_SPECIAL, G_CAPTION, 0),
    E("cite", ELEM_KEEP, 0, G_NONE, 0),
    E("code", ELEM_KEEP, 0, G_NONE, 0),
    E("dd", ELEM_KEEP, BLOCK, G_DDT, 0),
    E("del", ELEM_KEEP, 0, G_NONE, 0),
    E("div", ELEM_KEEP, F_CLOSES_P, G_NONE, 0),
    E("dl", ELEM_KEEP, BLOCK, G_NONE, 0),
    E("dt", ELEM_KEEP, BLOCK, G_DDT, 0),
    E("em", ELEM_KEEP, 0, G_NONE, 0),
    E("embed", ELEM_DROP, F_VOID, G_NONE, 0),
    E("figcaption", ELEM_KEEP, BLOCK, G_NONE, 0),
    E("figure", ELEM_KEEP, BLOCK, G_NONE, 0),
    E("form", ELEM_DROP, 0, G_NONE, 0),
    E("frame", ELEM_DROP, F_VOID, G_NONE, 0),
    E("frameset", ELEM_DROP, 0, G_NONE, 0),
    E("h1", ELEM_KEEP, BLOCK, G_H, 0),
    E("h2", ELEM_KEEP, BLOCK, G_H, 0),
    E("h3", ELEM_KEEP, BLOCK, G_H, 0),
    E("h4", ELEM_KEEP, BLOCK, G_H, 0),
    E("h5", ELEM_KEEP, BLOCK, G_H, 0),
    E("h6", ELEM_KEEP, BLOCK, G_H, 0),
    E("head", ELEM_DROP, 0, G_NONE, 0),
    E("hr", ELEM_KEEP, F_VOID | F_CLOSES_P, G_NONE, 0),
    E("i", ELEM_KEEP, 0, G_NONE, 0),
    E("iframe", ELEM_DROP, F_RAW, G_NONE, 0),
    E("img", ELEM_KEEP, F_VOID, G_NONE, A_SRC | A_ALT | A_TITLE | A_WIDTH | A_HEIGHT),
    E("input", ELEM_DROP, F_VOID, G_NONE, 0),
    E("ins", ELEM_KEEP, 0, G_NONE, 0),
    E("li", ELEM_KEEP, BLOCK, G_LI, 0),
    E("link", ELEM_DROP, F_VOID, G_NONE, 0),
    E("math", ELEM_DROP, F_FOREIGN, G_NONE, 0),
    E("meta", ELEM_DROP, F_VOID, G_NONE, 0),
    E("noembed", ELEM_DROP, F_RAW, G_NONE, 0),
    E("noframes", ELEM_DROP, F_RAW, G_NONE, 0),
    E("noscript", ELEM_DROP, F_RAW, G_NONE, 0),
    E("object", ELEM_DROP, 0, G_NONE, 0),
    E("ol", ELEM_KEEP, BLOCK, G_NONE, A_START),
    E("option", ELEM_DROP, 0, G_NONE, 0),
    E("p", ELEM_KEEP, F_CLOSES_P, G_P, 0),
    E("param", ELEM_DROP, F_VOID, G_NONE, 0),
    E("pre", ELEM_KEEP, BLOCK, G_NONE, 0),
    E("q", ELEM_KEEP, 0, G_NONE, A_CITE),
    E("s", ELEM_KEEP, 0, G_NONE, 0),
    E("script", ELEM_DROP, F_RAW, G_NONE, 0),
    E("select", ELEM_DROP, 0, G_NONE, 0),
    E("small", ELEM_KEEP, 0, G_NONE, 0),
    E("source", ELEM_DROP, F_VOID, G_NONE, 0),
    E("span", ELEM_KEEP, 0, G_NONE, 0),
    E("strong", ELEM_KEEP, 0, G_NONE, 0),
    E("style", ELEM_DROP, F_RAW, G_NONE, 0),
    E("sub", ELEM_KEEP, 0, G_NONE, 0),
    E("sup", ELEM_KEEP, 0, G_NONE, 0),
    E("svg", ELEM_DROP, F_FOREIGN, G_NONE, 0),
    E("table", ELEM_KEEP, BLOCK, G_TABLE, 0),
    E("tbody", ELEM_KEEP, F_SPECIAL, G_TSECT, 0),
    E("td", ELEM_KEEP, F_SPECIAL, G_CELL, A_COLSPAN | A_ROWSPAN),
    E("template", ELEM_DROP, 0, G_NONE, 0),
    E("textarea", ELEM_DROP, F_RAW, G_NONE, 0),
    E("tfoot", ELEM_KEEP, F_SPECIAL, G_TSECT, 0),
    E("th", ELEM_KEEP, F_SPECIAL, G_CELL, A_COLSPAN | A_ROWSPAN),
    E("thead", ELEM_KEEP, F_SPECIAL, G_TSECT, 0),
    E("title", ELEM_DROP, F_RAW, G_NONE, 0),
    E("tr", ELEM_KEEP, F_SPECIAL, G_TR, 0),
    E("u", ELEM_KEEP, 0, G_NONE, 0),
    E("ul", ELEM_KEEP, BLOCK, G_NONE, 0),
};

#define ELEM_COUNT (sizeof elem_rules / sizeof elem_rules[0])

struct attr_rule {
    const char *name;
    unsigned short bit;
};

static const struct attr_rule attr_rules[] = {
    {"href", A_HREF},   {"title", A_TITLE},   {"src", A_SRC},         {"alt", A_ALT},
    {"width", A_WIDTH}, {"height", A_HEIGHT}, {"colspan", A_COLSPAN}, {"rowspan", A_ROWSPAN},
    {"cite", A_CITE},   {"start", A_START},
};

/* strcmp, inline: the names are short and most probes differ at once. */
static inline int name_cmp(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

/* The rule for a lower-cased tag name, or NULL (unknown: unwrap). A binary
 * search like bsearch's, without a call per probe. */
static const struct elem_rule *elem_find(const char *name)
{
    size_t lo = 0, hi = ELEM_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, elem_rules[mid].name);
        if (c == 0)
            return &elem_rules[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static unsigned short attr_find(const char *name)
{
    for (size_t k = 0; k < sizeof attr_rules / sizeof attr_rules[0]; k++)
        if (name_cmp(name, attr_rules[k].name) == 0)
            return attr_rules[k].bit;
    return 0;
}

/* ---- URLs --------------------------------------------------------------- */

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* True for the bytes url_prepare percent-encodes: spaces and controls,
 * non-ASCII, and the ASCII RFC 3986 does not allow. */
static bool url_needs_escape(unsigned char c)
{
    if (c <= 0x20 || c >= 0x7F)
        return true;
    switch (c) {
    case '"':
    case '<':
    case '>':
    case '\\':
    case '^':
    case '`':
    case '{':
    case '|':
    case '}':
        return true;
    default:
        return false;
    }
}

/* Prepares a URL as the WHATWG URL parser would before parsing: leading and
 * trailing C0 controls and spaces stripped, tab and newlines removed
 * anywhere (that is how "jav&#x09;ascript:" still runs in a browser), then
 * what RFC 3986 does not allow percent-encoded (spaces, non-ASCII bytes of
 * an IRI such as ".../tin-tức", a '%' that starts no escape, a second '#')
 * so that xmlParseURI accepts what browsers accept. Clean runs are copied
 * whole. */
/* 1 for the bytes url_prepare looks at: url_needs_escape's, '%' and '#'. */
static const unsigned char url_attn[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

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
    size_t run = i;
    int rc = 0;
    for (; i < len && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!url_attn[c])
            continue;
        bool enc;
        if (c == '%')
            enc = !(i + 2 < len && is_hex((unsigned char)s[i + 1]) &&
                    is_hex((unsigned char)s[i + 2]));
        else if (c == '#')
            enc = fragment, fragment = true;
        else
            enc = url_needs_escape(c);
        if (!enc)
            continue;
        rc = tm_buf_add(b, s + run, i - run);
        run = i + 1;
        if (rc == 0 && c != '\t' && c != '\n' && c != '\r') {
            char esc[3] = {'%', hexdig[c >> 4], hexdig[c & 15]};
            rc = tm_buf_add(b, esc, 3);
        }
    }
    if (rc == 0)
        rc = tm_buf_add(b, s + run, len - run);
    if (rc == 0)
        rc = tm_buf_add(b, "", 0);
    return rc;
}

/* True when a parsed URI is absolute: it has a scheme, and http(s) a host. */
static bool uri_absolute(const xmlURI *uri)
{
    if (uri == NULL || uri->scheme == NULL || uri->scheme[0] == '\0')
        return false;
    if (strcasecmp(uri->scheme, "http") == 0 || strcasecmp(uri->scheme, "https") == 0)
        return uri->server != NULL && uri->server[0] != '\0';
    return true;
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* What each byte may be in the fast paths below: U_HOST in a plain host
 * name (letters, digits, '-', '.'); U_PATH what libxml2's URI parser accepts
 * in a path and its writer copies unchanged (RFC 3986 unreserved, and '/');
 * U_QUERY what xmlParseURI accepts in a query (pchar, '/', '?'), which is kept
 * as written ("query_raw"). Anything else takes the long way. A table, not
 * a chain of comparisons: URLs mix these classes in no learnable order. */
enum { U_HOST = 1, U_PATH = 2, U_QUERY = 4 };
static const unsigned char url_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 4, 0, 0, 4, 0, 4, 4, 4, 4, 4, 4, 4, 7, 7, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 4, 4, 0, 4, 0, 4,
    4, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 6,
    0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 6, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static bool plain_path_char(unsigned char c)
{
    return (url_class[c] & U_PATH) != 0;
}

/* Length of "http(s)://host[:port]" at the start of a prepared URL when the
 * host is a plain name (letters, digits, '-', '.') and the port plain
 * digits; 0 otherwise. */
static size_t plain_origin_len(const char *u)
{
    size_t i;
    if (strncasecmp(u, "http://", 7) == 0)
        i = 7;
    else if (strncasecmp(u, "https://", 8) == 0)
        i = 8;
    else
        return 0;
    size_t host = i;
    while (url_class[(unsigned char)u[i]] & U_HOST)
        i++;
    if (i == host)
        return 0;
    if (u[i] == ':') {
        size_t port = ++i;
        while (u[i] >= '0' && u[i] <= '9')
            i++;
        if (i == port || u[port] == '0' || i - port > 5)
            return 0;
    }
    return (u[i] == '\0' || u[i] == '/' || u[i] == '?' || u[i] == '#') ? i : 0;
}

/* True when u[0..] (after an origin) is a path with no dot segments and
 * optionally a query, all in the plain character sets; no fragment. */
static bool plain_path_query(const char *u)
{
    size_t i = 0;
    for (; u[i] != '\0' && u[i] != '?'; i++) {
        if (!plain_path_char((unsigned char)u[i]))
            return false;
        if (u[i] == '.' && (i == 0 || u[i - 1] == '/') &&
            (u[i + 1] == '/' || u[i + 1] == '\0' || u[i + 1] == '?' ||
             (u[i + 1] == '.' && (u[i + 2] == '/' || u[i + 2] == '\0' || u[i + 2] == '?'))))
            return false; /* "." or ".." segment */
    }
    if (u[i] == '?')
        for (i++; u[i] != '\0'; i++)
            if (!(url_class[(unsigned char)u[i]] & U_QUERY))
                return false;
    return true;
}

/* tm_url_resolve with the base already through url_prepare (NULL: none). */
static char *resolve_prepared(const char *base, const char *ref)
{
    struct tm_buf r;
    tm_buf_init(&r, 0);
    char *result = NULL;
    if (url_prepare(&r, ref) != 0)
        goto out;
    /* The two forms news feeds are made of, without a URI parse: an
     * absolute http(s) URL (kept as written, as below) and a path from the
     * root against an http(s) base (the base's origin, then the path). */
    if (r.len > 0) {
        size_t origin = plain_origin_len(r.data);
        if (origin > 0 && plain_path_query(r.data + origin)) {
            result = tm_buf_steal(&r);
            goto out;
        }
        size_t base_origin =
            base != NULL && r.data[0] == '/' && r.data[1] != '/' ? plain_origin_len(base) : 0;
        if (base_origin > 0 && plain_path_query(r.data)) {
            size_t n = r.len;
            result = malloc(base_origin + n + 1);
            if (result != NULL) {
                memcpy(result, base, base_origin);
                memcpy(result + base_origin, r.data, n + 1);
            }
            goto out;
        }
    }
    /* An absolute reference is returned as it is by xmlBuildURI (RFC 3986
     * 5.2.2 with the scheme defined): one parse tells all. */
    if (r.len > 0) {
        xmlURIPtr uri = xmlCreateURI();
        if (uri == NULL)
            goto out;
        bool parsed = xmlParseURIReference(uri, r.data) == 0;
        bool has_scheme = parsed && uri->scheme != NULL;
        bool absolute = has_scheme && uri_absolute(uri);
        xmlFreeURI(uri);
        if (!parsed)
            goto out;
        if (has_scheme) {
            if (absolute)
                result = tm_buf_steal(&r);
            goto out;
        }
    }
    xmlChar *built = xmlBuildURI((const xmlChar *)r.data, (const xmlChar *)base);
    if (built == NULL)
        goto out;
    xmlURIPtr uri = xmlParseURI((const char *)built);
    if (uri_absolute(uri))
        result = strdup((const char *)built);
    xmlFreeURI(uri);
    xmlFree(built);
out:
    tm_buf_free(&r);
    return result;
}

char *tm_url_resolve(const char *base, const char *ref)
{
    if (ref == NULL)
        return NULL;
    struct tm_buf bb;
    tm_buf_init(&bb, 0);
    if (base != NULL && url_prepare(&bb, base) != 0) {
        tm_buf_free(&bb);
        return NULL;
    }
    char *result = resolve_prepared(base != NULL ? bb.data : NULL, ref);
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

/* The URL to write for an attribute value, or NULL to drop the attribute.
 * `base` has been through url_prepare (NULL: none). */
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
    char *url = resolve_prepared(base, value);
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

/* ---- Output --------------------------------------------------------------- */

struct san {
    struct tm_buf out;
    struct tm_buf tag;    /* the start tag being built */
    struct tm_buf val;    /* an attribute value, references decoded */
    const char *base_url; /* as the caller gave it (may be NULL) */
    struct tm_buf base;   /* base_url through url_prepare, made at the first URL */
    bool base_ready;
    size_t max_bytes;   /* 0: no limit */
    size_t close_bytes; /* end tags owed to the elements now open */
    const struct elem_rule *open[TM_SANITIZE_MAX_DEPTH]; /* kept elements now open */
    size_t depth;
    const struct elem_rule *drop; /* dropped with its content, or NULL */
    size_t drop_depth;            /* elements of drop's name open inside it */
    bool has_src;                 /* the tag being built has an allowed src */
    bool inert;                   /* nothing written can change under NFC */
    bool visible;                 /* some text or an image was written */
    bool stop;                    /* max_bytes reached */
    bool truncated;
    int err;
};

static void put(struct san *st, struct tm_buf *b, const char *s, size_t n)
{
    if (st->err != 0 || n == 0)
        return;
    st->err = tm_buf_add_fast(b, s, n);
}

/* Room left before the limit, keeping what the open elements' end tags need. */
static size_t room(const struct san *st)
{
    if (st->max_bytes == 0)
        return SIZE_MAX;
    size_t used = st->out.len + st->close_bytes;
    return used >= st->max_bytes ? 0 : st->max_bytes - used;
}

/* What a byte is to the text writer. */
enum {
    C_PLAIN, /* printable ASCII copied as it is */
    C_SPACE, /* tab, LF, CR, space */
    C_AMP,
    C_LT,
    C_GT,
    C_QUOT,
    C_CTRL, /* a C0 control XML forbids: U+FFFD */
    C_HIGH, /* part of a multi-byte character */
};

#define HIGH16                                                                                     \
    C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH,        \
        C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH
#define CTRL16                                                                                     \
    C_CTRL, C_CTRL, C_CTRL, C_CTRL, C_CTRL, C_CTRL, C_CTRL, C_CTRL, C_CTRL, C_CTRL, C_CTRL,        \
        C_CTRL, C_CTRL, C_CTRL, C_CTRL, C_CTRL
#define PLAIN16                                                                                    \
    C_PLAIN, C_PLAIN, C_PLAIN, C_PLAIN, C_PLAIN, C_PLAIN, C_PLAIN, C_PLAIN, C_PLAIN, C_PLAIN,      \
        C_PLAIN, C_PLAIN, C_PLAIN, C_PLAIN, C_PLAIN, C_PLAIN

static const unsigned char byte_class[256] = {
    /* 0x00 */ C_CTRL,
    C_CTRL,
    C_CTRL,
    C_CTRL,
    C_CTRL,
    C_CTRL,
    C_CTRL,
    C_CTRL,
    C_CTRL,
    C_SPACE,
    C_SPACE,
    C_CTRL,
    C_CTRL,
    C_SPACE,
    C_CTRL,
    C_CTRL,
    /* 0x10 */ CTRL16,
    /* 0x20 */ C_SPACE,
    C_PLAIN,
    C_QUOT,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_AMP,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    /* 0x30 */ C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_PLAIN,
    C_LT,
    C_PLAIN,
    C_GT,
    C_PLAIN,
    /* 0x40 */ PLAIN16,
    PLAIN16,
    PLAIN16,
    PLAIN16,
    /* 0x80 */ HIGH16,
    HIGH16,
    HIGH16,
    HIGH16,
    HIGH16,
    HIGH16,
    HIGH16,
    HIGH16,
};

/* What put_text copies without a look (utf8_scan_int.h): ASCII but what it
 * escapes and the C0 controls, and the two- and three-byte characters of
 * U+0080-U+02FF and U+1E00-U+1EFF. '"' is escaped in attribute values only. */
static const struct tm_utf8_plain plain_text = TM_UTF8_PLAIN_VI(0xC2, '&', '<', '>', '&');
static const struct tm_utf8_plain plain_attr = TM_UTF8_PLAIN_VI(0xC2, '&', '<', '>', '"');

/* tm_text_cp_inert, inlined for the common ranges. */
static inline bool cp_inert(int32_t cp)
{
    return cp < 0x300 || (cp >= 0x1E00 && cp <= 0x1EFF) || tm_text_cp_inert(cp);
}

/* Writes s[0..len) to `b` escaped for HTML text (& < >) or a double-quoted
 * attribute value (also "), invalid UTF-8 and XML-illegal characters as
 * U+FFFD. With `at_markup` it stops before the first '<' or '&' (which the
 * caller reads as markup). Writing to st->out it stays within room(),
 * cutting on a character boundary and setting st->stop when it must.
 * Returns the bytes of s consumed. Notes in st whether the text may change
 * under NFC and whether it shows anything. */
static size_t put_text(struct san *st, struct tm_buf *b, const char *s, size_t len, bool is_text,
                       bool at_markup)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t avail = b == &st->out ? room(st) : SIZE_MAX;
    size_t i = 0, run = 0;
    for (;;) {
        size_t start = i;
        /* The fast path: ASCII that needs no escape, U+0080-U+02FF and
         * U+1E00-U+1EFF (Latin, and precomposed Vietnamese) go by whole,
         * sixteen bytes at a time: always valid, legal and inert under NFC. */
        bool multi = false;
        /* Two calls, so that each inlines with its set as constants. */
        if (is_text)
            i = tm_utf8_plain_run(&plain_text, p, i, len, &multi);
        else
            i = tm_utf8_plain_run(&plain_attr, p, i, len, &multi);
        if (i - start > avail) {
            i = start + avail;
            while (i > start && (p[i] & 0xC0) == 0x80)
                i--; /* a character boundary */
            goto cut;
        }
        avail -= i - start;
        if (is_text && !st->visible) {
            /* Anything but white space (U+0085 and U+00A0 are). */
            for (size_t k = start; k < i && !st->visible; k++) {
                unsigned char c = p[k];
                st->visible = byte_class[c] == C_PLAIN || c >= 0xC3 ||
                              (c == 0xC2 && p[k + 1] != 0x85 && p[k + 1] != 0xA0);
            }
        }
        if (i >= len)
            break;
        const char *rep = NULL;
        size_t n = 1;
        bool shows = true;
        switch (byte_class[p[i]]) {
        case C_AMP:
            if (at_markup)
                goto done;
            rep = "&amp;";
            break;
        case C_LT:
            if (at_markup)
                goto done;
            rep = "&lt;";
            break;
        case C_GT:
            rep = "&gt;";
            break;
        case C_QUOT:
            rep = is_text ? NULL : "&quot;";
            break;
        case C_CTRL:
            rep = TM_TEXT_REPLACEMENT;
            break;
        default: {
            int32_t cp;
            unsigned char c = p[i];
            /* Inline the two- and three-byte forms that need no range check
             * (all of Latin and Vietnamese); the rest goes the long way. */
            if (c >= 0xC2 && c <= 0xDF && i + 1 < len && (p[i + 1] & 0xC0) == 0x80) {
                cp = (int32_t)((c & 0x1F) << 6 | (p[i + 1] & 0x3F));
                n = 2;
            } else if (c >= 0xE1 && c <= 0xEC && i + 2 < len && (p[i + 1] & 0xC0) == 0x80 &&
                       (p[i + 2] & 0xC0) == 0x80) {
                cp = (int32_t)((c & 0x0F) << 12 | (p[i + 1] & 0x3F) << 6 | (p[i + 2] & 0x3F));
                n = 3;
            } else {
                n = tm_utf8_decode(p + i, len - i, &cp);
            }
            if (cp < 0 || tm_text_cp_illegal(cp)) {
                rep = TM_TEXT_REPLACEMENT;
            } else {
                if (st->inert && !cp_inert(cp))
                    st->inert = false;
                shows = st->visible || !tm_text_cp_space(cp);
            }
            break;
        }
        }
        size_t cost = rep != NULL ? strlen(rep) : n;
        if (cost > avail)
            goto cut;
        avail -= cost;
        if (is_text && shows)
            st->visible = true;
        if (rep != NULL) {
            put(st, b, s + run, i - run);
            put(st, b, rep, cost);
            run = i + n;
        }
        i += n;
    }
done:
    put(st, b, s + run, i - run);
    return i;
cut:
    put(st, b, s + run, i - run);
    st->stop = true;
    st->truncated = true;
    return i;
}

/* ---- Character references ------------------------------------------------ */

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The character a numeric reference stands for, as HTML5 reads it: NUL,
 * surrogates and values past U+10FFFF are U+FFFD, and 0x80-0x9F are read as
 * windows-1252 (CMSs write "&#150;" for a dash). */
static uint32_t numeric_ref_cp(uint32_t v)
{
    static const uint16_t c1[32] = {
        0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178,
    };
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0xFFFD;
    if (v >= 0x80 && v <= 0x9F)
        return c1[v - 0x80];
    return v;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* At s[0] == '&': the character reference there as HTML5 reads one,
 * "&#233;" or "&#xE9;" (';' optional) or "&eacute;" (a name from HTML5's
 * table, ';' required). Writes its UTF-8 to out[0..*out_len) and returns
 * the bytes it spans, or 0 when no reference starts here (the '&' is text). */
static size_t char_ref(const char *s, size_t len, char out[TM_ENTITY_MAX_UTF8], size_t *out_len)
{
    if (len >= 3 && s[1] == '#') {
        size_t i = 2;
        unsigned base = 10;
        if (s[i] == 'x' || s[i] == 'X') {
            base = 16;
            i++;
        }
        size_t first = i;
        uint32_t v = 0;
        for (; i < len; i++) {
            int d = hex_value(s[i]);
            if (d < 0 || (unsigned)d >= base)
                break;
            if (v <= 0x10FFFF)
                v = v * base + (unsigned)d;
        }
        if (i == first)
            return 0;
        if (i < len && s[i] == ';')
            i++;
        *out_len = utf8_encode(numeric_ref_cp(v), out);
        return i;
    }
    size_t i = 1;
    while (i < len && i <= TM_SANITIZE_MAX_REF_NAME && is_alnum(s[i]))
        i++;
    if (i == 1 || i >= len || s[i] != ';')
        return 0;
    size_t n = tm_entity_lookup(s + 1, i - 1, out);
    if (n == 0)
        return 0;
    *out_len = n;
    return i + 1;
}

/* At s[i] == '&' in text: writes the reference's character (or the '&')
 * and returns the index after it. */
static size_t text_ref(struct san *st, const char *s, size_t len, size_t i)
{
    char u[TM_ENTITY_MAX_UTF8];
    size_t n = 0;
    size_t used = char_ref(s + i, len - i, u, &n);
    if (used == 0) {
        put_text(st, &st->out, "&", 1, true, false);
        return i + 1;
    }
    put_text(st, &st->out, u, n, true, false);
    return i + used;
}

/* An attribute value with its references decoded, invalid UTF-8 and
 * illegal characters as U+FFFD, into st->val (NUL-terminated, no NUL
 * inside). */
static int decode_value(struct san *st, const char *s, size_t len)
{
    struct tm_buf *b = &st->val;
    tm_buf_reset(b);
    size_t run = 0, i = 0;
    int rc = 0;
    const char *amp;
    while (rc == 0 && i < len && (amp = memchr(s + i, '&', len - i)) != NULL) {
        size_t k = (size_t)(amp - s);
        char u[TM_ENTITY_MAX_UTF8];
        size_t n = 0;
        size_t used = char_ref(s + k, len - k, u, &n);
        if (used == 0) {
            i = k + 1;
            continue;
        }
        rc = tm_utf8_append_clean(b, s + run, k - run, NULL);
        if (rc == 0)
            rc = tm_utf8_append_clean(b, u, n, NULL);
        i = run = k + used;
    }
    if (rc == 0)
        rc = tm_utf8_append_clean(b, s + run, len - run, NULL);
    if (rc == 0)
        rc = tm_buf_add(b, "", 0);
    return rc;
}

/* ---- Tags ---------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_alpha(char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
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

/* Writes ` name="value"` for an allowed attribute of the tag being built,
 * or nothing when its value is refused. */
static void put_attr(struct san *st, unsigned short bit, const char *name, const char *raw,
                     size_t raw_len)
{
    int rc = decode_value(st, raw, raw_len);
    if (rc != 0) {
        st->err = rc;
        return;
    }
    const char *v = st->val.data;
    char *url = NULL;
    if ((bit & (A_HREF | A_SRC | A_CITE)) && !st->base_ready) {
        st->base_ready = true;
        if (st->base_url != NULL && (rc = url_prepare(&st->base, st->base_url)) != 0) {
            st->err = rc;
            return;
        }
    }
    const char *base = st->base_url != NULL ? st->base.data : NULL;
    if (bit == A_HREF)
        v = url = url_sanitize(v, base, URL_LINK);
    else if (bit == A_SRC)
        v = url = url_sanitize(v, base, URL_IMAGE);
    else if (bit == A_CITE)
        v = url = url_sanitize(v, base, URL_CITE);
    else if ((bit & (A_WIDTH | A_HEIGHT | A_COLSPAN | A_ROWSPAN | A_START)) && !digits_ok(v))
        v = NULL;
    if (v != NULL) {
        st->has_src |= bit == A_SRC;
        put(st, &st->tag, " ", 1);
        put(st, &st->tag, name, strlen(name));
        put(st, &st->tag, "=\"", 2);
        put_text(st, &st->tag, v, strlen(v), false, false);
        put(st, &st->tag, "\"", 1);
    }
    free(url);
}

/* Reads a tag's name from s[i..len): lower-cased into name, or "" when it
 * is too long to be in the table. Returns the index after it. */
static size_t read_name(const char *s, size_t len, size_t i, char name[TM_SANITIZE_MAX_NAME])
{
    size_t n = 0;
    bool fits = true;
    for (; i < len && !is_space(s[i]) && s[i] != '/' && s[i] != '>'; i++) {
        if (n + 1 < TM_SANITIZE_MAX_NAME)
            name[n++] = lower(s[i]);
        else
            fits = false;
    }
    name[fits ? n : 0] = '\0';
    return i;
}

/* Reads the attributes of a tag from s[i..len) to its '>', as HTML5's
 * tokenizer does (quoted values may hold '>'; a name may hold '"' or '<').
 * For `keep` (an allowed element), the first of each allowed attribute is
 * written to st->tag. Returns the index after the '>', or SIZE_MAX when the
 * input ends inside the tag (which is then no tag). */
static size_t scan_attrs(struct san *st, const char *s, size_t len, size_t i,
                         const struct elem_rule *keep, bool *self_closing)
{
    unsigned short seen = 0;
    *self_closing = false;
    for (;;) {
        while (i < len && (is_space(s[i]) || s[i] == '/')) {
            *self_closing = s[i] == '/' && i + 1 < len && s[i + 1] == '>';
            i++;
        }
        if (i >= len)
            return SIZE_MAX;
        if (s[i] == '>')
            return i + 1;
        char name[TM_SANITIZE_MAX_NAME];
        size_t n = 0;
        bool fits = true;
        do {
            if (n + 1 < TM_SANITIZE_MAX_NAME)
                name[n++] = lower(s[i]);
            else
                fits = false;
            i++;
        } while (i < len && !is_space(s[i]) && s[i] != '/' && s[i] != '>' && s[i] != '=');
        name[fits ? n : 0] = '\0';
        while (i < len && is_space(s[i]))
            i++;
        const char *v = "";
        size_t vlen = 0;
        if (i < len && s[i] == '=') {
            i++;
            while (i < len && is_space(s[i]))
                i++;
            if (i >= len)
                return SIZE_MAX;
            if (s[i] == '"' || s[i] == '\'') {
                const char *q = memchr(s + i + 1, s[i], len - i - 1);
                if (q == NULL)
                    return SIZE_MAX;
                v = s + i + 1;
                vlen = (size_t)(q - v);
                i = (size_t)(q - s) + 1;
            } else {
                size_t e = i;
                while (e < len && !is_space(s[e]) && s[e] != '>')
                    e++;
                v = s + i;
                vlen = e - i;
                i = e;
            }
        }
        if (keep != NULL && name[0] != '\0') {
            unsigned short bit = attr_find(name);
            if ((keep->attrs & bit) != 0 && (seen & bit) == 0) {
                seen |= bit;
                put_attr(st, bit, name, v, vlen);
            }
        }
    }
}

/* From s[i], just after the start tag of a raw-text element (script,
 * style...): the index after its end tag, or len when it has none. */
static size_t skip_raw(struct san *st, const char *s, size_t len, size_t i, const char *name)
{
    size_t n = strlen(name);
    for (;;) {
        const char *lt = memchr(s + i, '<', len - i);
        if (lt == NULL)
            return len;
        i = (size_t)(lt - s);
        size_t after = i + 2 + n;
        if (after <= len && s[i + 1] == '/' && strncasecmp(s + i + 2, name, n) == 0 &&
            (after == len || is_space(s[after]) || s[after] == '/' || s[after] == '>')) {
            bool sc;
            size_t end = scan_attrs(st, s, len, after, NULL, &sc);
            return end == SIZE_MAX ? len : end;
        }
        i++;
    }
}

/* From s[i], just after "<!--": the index after the comment. */
static size_t skip_comment(const char *s, size_t len, size_t i)
{
    if (i < len && s[i] == '>')
        return i + 1; /* <!--> */
    if (i + 1 < len && s[i] == '-' && s[i + 1] == '>')
        return i + 2; /* <!---> */
    for (;;) {
        const char *dash = memchr(s + i, '-', len - i);
        if (dash == NULL)
            return len;
        i = (size_t)(dash - s);
        if (i + 2 < len && s[i + 1] == '-' && s[i + 2] == '>')
            return i + 3;
        if (i + 3 < len && s[i + 1] == '-' && s[i + 2] == '!' && s[i + 3] == '>')
            return i + 4;
        i++;
    }
}

/* ---- The open elements ----------------------------------------------------- */

static size_t end_tag_bytes(const struct elem_rule *rule)
{
    return rule->flags & F_VOID ? 0 : (size_t)rule->name_len + 3;
}

/* Closes the open elements above index k (k itself included). */
static void pop_to(struct san *st, size_t k)
{
    while (st->depth > k) {
        const struct elem_rule *r = st->open[--st->depth];
        put(st, &st->out, "</", 2);
        put(st, &st->out, r->name, r->name_len);
        put(st, &st->out, ">", 1);
        st->close_bytes -= end_tag_bytes(r);
    }
}

#define GROUP_BIT(g) (1u << (g))

/* Scope boundaries: an end tag or an implied end does not reach past a
 * table cell, caption or table into the elements around it. */
#define SCOPE_DEFAULT (GROUP_BIT(G_CELL) | GROUP_BIT(G_CAPTION) | GROUP_BIT(G_TABLE))
#define SCOPE_TABLE GROUP_BIT(G_TABLE)

/* The stack index of the innermost open element matching `rule` (or, for a
 * non-NONE `group`, any element of that group), not past an element whose
 * group is in `scope` nor, with `special_stops`, past a special one.
 * SIZE_MAX when there is none. */
static size_t find_open(const struct san *st, const struct elem_rule *rule, unsigned group,
                        unsigned scope, bool special_stops)
{
    for (size_t k = st->depth; k-- > 0;) {
        const struct elem_rule *e = st->open[k];
        if (e == rule || (group != G_NONE && e->group == group))
            return k;
        if ((scope & GROUP_BIT(e->group)) != 0 || (special_stops && (e->flags & F_SPECIAL)))
            return SIZE_MAX;
    }
    return SIZE_MAX;
}

static void close_open(struct san *st, const struct elem_rule *rule, unsigned group, unsigned scope,
                       bool special_stops)
{
    size_t k = find_open(st, rule, group, scope, special_stops);
    if (k != SIZE_MAX)
        pop_to(st, k);
}

/* The end tags HTML implies before an element starts: a block closes an
 * open p, an li the previous li, a td the previous cell... */
static void close_implied(struct san *st, const struct elem_rule *r)
{
    if (r->flags & F_CLOSES_P)
        close_open(st, NULL, G_P, SCOPE_DEFAULT, false);
    switch (r->group) {
    case G_LI:
    case G_DDT:
        close_open(st, NULL, r->group, 0, true);
        break;
    case G_H:
        if (st->depth > 0 && st->open[st->depth - 1]->group == G_H)
            pop_to(st, st->depth - 1);
        break;
    case G_TR:
        close_open(st, NULL, G_TR, SCOPE_TABLE, false);
        break;
    case G_CELL:
        close_open(st, NULL, G_CELL, SCOPE_TABLE | GROUP_BIT(G_TR), false);
        break;
    case G_TSECT:
        close_open(st, NULL, G_TSECT, SCOPE_TABLE, false);
        break;
    default:
        break;
    }
}

/* Writes the start tag built in st->tag for a kept element and opens it. */
static void open_element(struct san *st, const struct elem_rule *r)
{
    bool is_void = (r->flags & F_VOID) != 0;
    if (r->attrs & A_SRC) {
        if (!st->has_src)
            return; /* an img with nothing to show */
    }
    close_implied(st, r);
    if (!is_void && st->depth == TM_SANITIZE_MAX_DEPTH)
        return; /* too deep: unwrapped */
    size_t close = end_tag_bytes(r);
    if (st->tag.len + close > room(st)) {
        st->stop = true;
        st->truncated = true;
        return;
    }
    put(st, &st->out, st->tag.data, st->tag.len);
    if (r->attrs & A_SRC)
        st->visible = true;
    if (!is_void) {
        st->open[st->depth++] = r;
        st->close_bytes += close;
    }
}

static void begin_tag(struct san *st, const struct elem_rule *r)
{
    tm_buf_reset(&st->tag);
    st->has_src = false;
    put(st, &st->tag, "<", 1);
    put(st, &st->tag, r->name, r->name_len);
}

/* At s[i] == '<' followed by a letter. Returns the index after the tag (and
 * after the content of an element dropped as raw text). */
static size_t start_tag(struct san *st, const char *s, size_t len, size_t i)
{
    char name[TM_SANITIZE_MAX_NAME];
    size_t k = read_name(s, len, i + 1, name);
    const struct elem_rule *r = name[0] != '\0' ? elem_find(name) : NULL;
    bool keep = st->drop == NULL && r != NULL && r->kind == ELEM_KEEP;
    if (keep)
        begin_tag(st, r);
    bool self_closing;
    k = scan_attrs(st, s, len, k, keep && r->attrs != 0 ? r : NULL, &self_closing);
    if (k == SIZE_MAX)
        return len;
    if (r == NULL)
        return k; /* unknown: unwrapped */
    if (st->drop != NULL) {
        /* Inside svg or math, script and style are elements like others. */
        if ((r->flags & F_RAW) && !(st->drop->flags & F_FOREIGN))
            return skip_raw(st, s, len, k, r->name);
        if (r == st->drop && !(self_closing && (r->flags & F_FOREIGN)))
            st->drop_depth++;
        return k;
    }
    if (r->kind == ELEM_DROP) {
        if (r->flags & F_RAW)
            return skip_raw(st, s, len, k, r->name);
        if (!(r->flags & F_VOID) && !(self_closing && (r->flags & F_FOREIGN))) {
            st->drop = r;
            st->drop_depth = 1;
        }
        return k;
    }
    put(st, &st->tag, ">", 1);
    open_element(st, r);
    return k;
}

/* At s[i] == '<', s[i + 1] == '/', then a letter. */
static size_t end_tag(struct san *st, const char *s, size_t len, size_t i)
{
    char name[TM_SANITIZE_MAX_NAME];
    bool self_closing;
    size_t k = read_name(s, len, i + 2, name);
    k = scan_attrs(st, s, len, k, NULL, &self_closing);
    if (k == SIZE_MAX)
        return len;
    const struct elem_rule *r = name[0] != '\0' ? elem_find(name) : NULL;
    if (r == NULL)
        return k;
    if (st->drop != NULL) {
        if (r == st->drop && --st->drop_depth == 0)
            st->drop = NULL;
        return k;
    }
    if (r->kind != ELEM_KEEP)
        return k; /* a stray end tag */
    if (r->flags & F_VOID) {
        if (strcmp(r->name, "br") == 0) {
            /* </br> is a <br> to browsers (and to CMS authors). */
            begin_tag(st, r);
            put(st, &st->tag, ">", 1);
            open_element(st, r);
        }
        return k;
    }
    bool table_part = r->group == G_TABLE || r->group == G_TR || r->group == G_CELL ||
                      r->group == G_TSECT || r->group == G_CAPTION;
    close_open(st, r, r->group == G_H ? G_H : G_NONE,
               table_part ? (r->group == G_TABLE ? 0 : SCOPE_TABLE) : SCOPE_DEFAULT, false);
    return k;
}

/* At s[i] == '<'. Returns the index after what it opens. */
static size_t markup(struct san *st, const char *s, size_t len, size_t i)
{
    size_t rest = len - i;
    if (rest >= 2 && is_alpha(s[i + 1]))
        return start_tag(st, s, len, i);
    if (rest >= 3 && s[i + 1] == '/' && is_alpha(s[i + 2]))
        return end_tag(st, s, len, i);
    if (rest >= 4 && memcmp(s + i, "<!--", 4) == 0)
        return skip_comment(s, len, i + 4);
    if (rest >= 3 && (s[i + 1] == '!' || s[i + 1] == '?' || s[i + 1] == '/')) {
        /* "</>", a doctype, "<?php ...>", "<![CDATA[": a bogus comment to '>'. */
        const char *gt = memchr(s + i, '>', rest);
        return gt != NULL ? (size_t)(gt - s) + 1 : len;
    }
    /* A '<' that opens nothing is text. */
    if (st->drop == NULL)
        put_text(st, &st->out, "<", 1, true, false);
    return i + 1;
}

static void sanitize_html(struct san *st, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && !st->stop && st->err == 0) {
        if (st->drop != NULL) {
            const char *lt = memchr(s + i, '<', len - i);
            if (lt == NULL)
                break;
            i = (size_t)(lt - s);
        } else if (s[i] != '<') {
            /* Not between two tags ("</b></p>"), where there is no text. */
            i += put_text(st, &st->out, s + i, len - i, true, true);
            if (i >= len || st->stop)
                break;
            if (s[i] == '&') {
                i = text_ref(st, s, len, i);
                continue;
            }
        }
        i = markup(st, s, len, i);
    }
    pop_to(st, 0);
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Readies st for an output of about len bytes (max_bytes 0: no bound). */
static void san_begin(struct san *st, const char *base_url, size_t max_bytes, size_t len)
{
    *st = (struct san){.base_url = base_url, .max_bytes = max_bytes, .inert = true};
    tm_buf_init(&st->out, 0);
    /* The output is about the input's size (a little longer when URLs are
     * resolved): allocated once rather than grown by doubling. */
    size_t expect = (max_bytes != 0 && max_bytes < len ? max_bytes : len) + 256;
    st->out.data = malloc(expect);
    if (st->out.data != NULL) {
        st->out.data[0] = '\0';
        st->out.cap = expect;
    }
    tm_buf_init(&st->tag, 0);
    tm_buf_init(&st->val, 0);
    tm_buf_init(&st->base, 0);
}

/* The result of what was written to st->out: outer white space trimmed,
 * in NFC, NULL when nothing visible was written or on failure. Frees st's
 * buffers. */
static char *san_end(struct san *st, bool *truncated, bool *oom)
{
    tm_buf_free(&st->tag);
    tm_buf_free(&st->val);
    tm_buf_free(&st->base);
    int err = st->err;
    bool visible = st->visible, inert = st->inert;
    if (truncated != NULL)
        *truncated = st->truncated;
    struct tm_buf out = st->out;
    if (err != 0 || !visible) {
        if (oom != NULL)
            *oom = err == TM_ENOMEM;
        if (truncated != NULL)
            *truncated = false;
        tm_buf_free(&out);
        return NULL;
    }
    size_t start = 0, end = out.len;
    while (start < end && is_ascii_space(out.data[start]))
        start++;
    while (end > start && is_ascii_space(out.data[end - 1]))
        end--;
    char *s = tm_buf_steal(&out);
    if (s == NULL) {
        if (oom != NULL)
            *oom = true;
        return NULL;
    }
    if (start > 0)
        memmove(s, s + start, end - start);
    s[end - start] = '\0';
    char *r = tm_text_nfc_take(s, end - start, inert);
    if (r == NULL && oom != NULL)
        *oom = true;
    return r;
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
    /* On the stack (2.3 KB, most of it the open-element stack): one
     * allocation and free fewer per HTML field. */
    struct san st;
    san_begin(&st, base_url, max_bytes, len);
    sanitize_html(&st, html, len);
    return san_end(&st, truncated, oom);
}

char *tm_html_from_text(const char *text, size_t len, bool *oom)
{
    if (oom != NULL)
        *oom = false;
    if (text == NULL || len == 0)
        return NULL;
    struct san st;
    san_begin(&st, NULL, 0, len);
    put_text(&st, &st.out, text, len, true, false);
    return san_end(&st, NULL, oom);
}

char *tm_html_sanitize(const char *html, size_t len, const char *base_url, bool *oom)
{
    return tm_html_sanitize_limit(html, len, base_url, 0, NULL, oom);
}
