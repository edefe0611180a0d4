/* tinmoi — the OPML 2.0 source list (SPEC §4) through libxml2's tree API.
 *
 * The list is small (kilobytes to a few megabytes) and read once per load,
 * so a tree is fine here; the feeds themselves go through the push parser.
 * No network (XML_PARSE_NONET), no DTD loading, no entity substitution, and a
 * document with a DOCTYPE is refused: an OPML file never needs one. */
#include "tinmoi/opml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <utf8proc.h>

#include "config_int.h"
#include "tinmoi/date.h"
#include "tinmoi/error.h"

/* Attributes a source outline may carry: OPML 2.0's own (§"Attributes of
 * <outline>", including those a feed reader exports) and SPEC §4's. */
static const char *const source_attrs[] = {
    "text",         "title",       "type",     "xmlUrl",   "htmlUrl",    "url",
    "category",     "description", "language", "version",  "created",    "isComment",
    "isBreakpoint", "id",          "interval", "priority", "utc_offset", "date_order",
};

/* Categories that would overwrite another published file: latest.atom and
 * snapshot.json (SPEC §6). */
static const char *const reserved_categories[] = {"latest", "snapshot"};

/* Priorities are compared, never summed: a small range keeps typos visible. */
#define TM_OPML_MAX_PRIORITY 1000

struct opml_state {
    const char *display;
    const char *dir; /* absolute folder of the OPML file */
    const struct tm_opml_defaults *defaults;
    struct tm_config_problems *problems;
    struct tm_source *v;
    size_t n, cap;
    bool oom;
    bool full;
    int xml_error_line; /* the first XML error, 0 when none */
    char xml_error[512];
};

static void problem(struct opml_state *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct opml_state *st, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (tm_config_problems_add(st->problems, st->display, line, "%s", msg) != 0)
        st->oom = true;
}

void tm_opml_sources_free(struct tm_source *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        tm_source_clear(&v[i]);
    free(v);
}

char *tm_opml_slug(const char *text)
{
    if (text == NULL)
        return NULL;
    utf8proc_uint8_t *d = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)text, 0, &d,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                          UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD);
    if (n < 0)
        return NULL;
    char *out = malloc((size_t)n + 1);
    if (out == NULL) {
        free(d);
        return NULL;
    }
    size_t o = 0;
    bool dash = false;
    for (utf8proc_ssize_t i = 0; i < n && o < TM_OPML_MAX_SLUG;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(d + i, n - i, &cp);
        if (k <= 0)
            break;
        i += k;
        char c = 0;
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
            c = (char)cp;
        else if (cp >= 'A' && cp <= 'Z')
            c = (char)(cp - 'A' + 'a');
        else if (cp == 0x0111 || cp == 0x0110) /* đ has no decomposition */
            c = 'd';
        if (c == 0) {
            dash = o > 0;
            continue;
        }
        if (dash && o + 1 < TM_OPML_MAX_SLUG)
            out[o++] = '-';
        dash = false;
        out[o++] = c;
    }
    free(d);
    while (o > 0 && out[o - 1] == '-')
        o--;
    if (o == 0) {
        free(out);
        return NULL;
    }
    out[o] = '\0';
    return out;
}

static bool is_slug(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TM_OPML_MAX_SLUG || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static bool is_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TM_OPML_MAX_SLUG || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static char *attr(xmlNode *node, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(node, (const xmlChar *)name);
    if (v == NULL)
        return NULL;
    char *s = strdup((const char *)v);
    xmlFree(v);
    return s;
}

static int node_line(xmlNode *node)
{
    if (node->type == XML_ELEMENT_NODE && node->_private != NULL)
        return (int)(intptr_t)node->_private;
    long line = xmlGetLineNo(node);
    return line > 0 && line <= 0x7fffffff ? (int)line : 0;
}

/* The display name of an outline for messages and default ids. */
static char *outline_name(xmlNode *node)
{
    char *raw = attr(node, "text");
    char *text = raw != NULL ? tm_config_text(raw) : NULL;
    free(raw);
    if (text != NULL && text[0] != '\0')
        return text;
    free(text);
    raw = attr(node, "title");
    text = raw != NULL ? tm_config_text(raw) : NULL;
    free(raw);
    if (text != NULL && text[0] != '\0')
        return text;
    free(text);
    return NULL;
}

/* Resolves an xmlUrl to what the fetcher accepts: an http(s) URL in curl's
 * normal form, a file:/// URL, or a path (relative to the OPML file's folder)
 * turned into an absolute file:// URL. NULL after recording a problem. */
static char *resolve_url(struct opml_state *st, const char *raw, int line)
{
    if (raw[0] == '\0') {
        problem(st, line, "xmlUrl is empty");
        return NULL;
    }
    size_t sl = 0;
    if ((raw[0] >= 'a' && raw[0] <= 'z') || (raw[0] >= 'A' && raw[0] <= 'Z')) {
        while ((raw[sl] >= 'a' && raw[sl] <= 'z') || (raw[sl] >= 'A' && raw[sl] <= 'Z') ||
               (raw[sl] >= '0' && raw[sl] <= '9') || raw[sl] == '+' || raw[sl] == '-' ||
               raw[sl] == '.')
            sl++;
        if (raw[sl] != ':')
            sl = 0;
    }
    if (sl > 0) {
        if ((sl == 4 && strncasecmp(raw, "http", 4) == 0) ||
            (sl == 5 && strncasecmp(raw, "https", 5) == 0)) {
            char *url = NULL;
            int rc = tm_config_http_url(raw, &url);
            if (rc == TM_ENOMEM)
                st->oom = true;
            else if (rc != 0)
                problem(st, line, "bad value '%s' for xmlUrl: not a valid http(s) URL", raw);
            return url;
        }
        if (sl == 4 && strncasecmp(raw, "file", 4) == 0) {
            const char *path = NULL;
            if (strncmp(raw + 4, ":///", 4) == 0)
                path = raw + 7;
            else if (strncasecmp(raw + 4, "://localhost/", 13) == 0)
                path = raw + 16;
            if (path == NULL) {
                problem(st, line,
                        "bad value '%s' for xmlUrl: a file URL names a local absolute path "
                        "(file:///...)",
                        raw);
                return NULL;
            }
            size_t n = strlen(path);
            char *url = malloc(n + 8);
            if (url == NULL) {
                st->oom = true;
                return NULL;
            }
            memcpy(url, "file://", 7);
            memcpy(url + 7, path, n + 1);
            return url;
        }
        problem(st, line,
                "unsupported URL scheme '%.*s' in xmlUrl '%s': expected http, https, file or a "
                "path relative to the source list",
                (int)sl, raw, raw);
        return NULL;
    }
    if (raw[0] == '/' && raw[1] == '/') {
        problem(st, line,
                "xmlUrl '%s' has no scheme: expected http, https, file or a path relative to "
                "the source list",
                raw);
        return NULL;
    }
    char *abs = tm_config_path_join(st->dir, raw);
    if (abs == NULL) {
        st->oom = true;
        return NULL;
    }
    xmlChar *escaped = xmlURIEscapeStr((const xmlChar *)abs, (const xmlChar *)"/");
    free(abs);
    if (escaped == NULL) {
        st->oom = true;
        return NULL;
    }
    size_t n = strlen((const char *)escaped);
    char *url = malloc(n + 8);
    if (url != NULL) {
        memcpy(url, "file://", 7);
        memcpy(url + 7, escaped, n + 1);
    } else {
        st->oom = true;
    }
    xmlFree(escaped);
    return url;
}

static bool known_attr(const char *name)
{
    for (size_t i = 0; i < sizeof source_attrs / sizeof source_attrs[0]; i++)
        if (strcmp(source_attrs[i], name) == 0)
            return true;
    return false;
}

/* Validates a category slug; NULL after recording a problem. */
static char *category_value(struct opml_state *st, const char *v, int line)
{
    if (!is_slug(v)) {
        problem(st, line,
                "bad value '%s' for category: expected a slug such as 'district' (a-z, 0-9 and "
                "'-', at most %d characters)",
                v, TM_OPML_MAX_SLUG);
        return NULL;
    }
    for (size_t i = 0; i < sizeof reserved_categories / sizeof reserved_categories[0]; i++)
        if (strcmp(v, reserved_categories[i]) == 0) {
            problem(st, line, "category '%s' is reserved: its files would overwrite %s", v,
                    i == 0 ? "latest.atom" : "snapshot.json");
            return NULL;
        }
    char *c = strdup(v);
    if (c == NULL)
        st->oom = true;
    return c;
}

static void add_source(struct opml_state *st, xmlNode *node, const char *folder_category,
                       const char *raw_url)
{
    int line = node_line(node);
    if (st->n == TM_OPML_MAX_SOURCES) {
        if (!st->full)
            problem(st, line, "more than %d sources", TM_OPML_MAX_SOURCES);
        st->full = true;
        return;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap != 0 ? st->cap * 2 : 16;
        struct tm_source *v = realloc(st->v, cap * sizeof *v);
        if (v == NULL) {
            st->oom = true;
            return;
        }
        st->v = v;
        st->cap = cap;
    }
    struct tm_source *s = &st->v[st->n++];
    memset(s, 0, sizeof *s);
    s->line = line;
    s->interval_s = st->defaults->interval_s;
    s->dates.utc_offset_s = st->defaults->utc_offset_s;
    s->dates.order = TM_DATE_DMY;

    for (xmlAttr *a = node->properties; a != NULL; a = a->next)
        if (a->ns == NULL && !known_attr((const char *)a->name))
            problem(st, line, "unknown attribute '%s' on a source outline", (const char *)a->name);

    s->title = outline_name(node);
    if (s->title == NULL)
        problem(st, line, "source has neither text nor title");

    char *trimmed = tm_config_text(raw_url);
    if (trimmed == NULL) {
        st->oom = true;
        return;
    }
    s->url = resolve_url(st, trimmed, line);
    free(trimmed);

    char *v = attr(node, "htmlUrl");
    if (v != NULL && v[0] != '\0') {
        int rc = tm_config_http_url(v, &s->html_url);
        if (rc == TM_ENOMEM)
            st->oom = true;
        else if (rc != 0)
            problem(st, line, "bad value '%s' for htmlUrl: expected an http:// or https:// URL", v);
    }
    free(v);

    v = attr(node, "category");
    if (v != NULL)
        s->category = category_value(st, v, line);
    else if (folder_category != NULL && (s->category = strdup(folder_category)) == NULL)
        st->oom = true;
    else if (folder_category == NULL)
        problem(st, line,
                "source '%s' has no category: add category=\"...\" or put it in a folder outline",
                s->title != NULL ? s->title : raw_url);
    free(v);

    v = attr(node, "id");
    if (v != NULL) {
        if (is_id(v)) {
            s->id = v;
            v = NULL;
        } else {
            problem(st, line,
                    "bad value '%s' for id: expected letters, digits, '-', '_' or '.' (at most "
                    "%d)",
                    v, TM_OPML_MAX_SLUG);
        }
    } else if (s->title != NULL && (s->id = tm_opml_slug(s->title)) == NULL) {
        problem(st, line, "cannot make an id from '%s': add an id attribute", s->title);
    }
    free(v);

    v = attr(node, "interval");
    if (v != NULL) {
        int64_t sec;
        if (tm_config_parse_duration(v, &sec) == 0 && sec >= 1 && sec <= TM_CONFIG_MAX_INTERVAL_S)
            s->interval_s = sec;
        else
            problem(st, line,
                    "bad value '%s' for interval: expected a duration such as 30s, 15m or 1h, "
                    "from 1s to %ds",
                    v, TM_CONFIG_MAX_INTERVAL_S);
    }
    free(v);

    v = attr(node, "priority");
    if (v != NULL) {
        long long p;
        if (tm_config_parse_int(v, -TM_OPML_MAX_PRIORITY, TM_OPML_MAX_PRIORITY, &p) == 0)
            s->priority = (int)p;
        else
            problem(st, line, "bad value '%s' for priority: expected an integer from %d to %d", v,
                    -TM_OPML_MAX_PRIORITY, TM_OPML_MAX_PRIORITY);
    }
    free(v);

    v = attr(node, "utc_offset");
    if (v != NULL) {
        int off;
        if (tm_date_parse_offset(v, &off) == 0 && off >= -14 * 3600 && off <= 14 * 3600)
            s->dates.utc_offset_s = off;
        else
            problem(st, line, "bad value '%s' for utc_offset: expected an offset such as +07:00",
                    v);
    }
    free(v);

    v = attr(node, "date_order");
    if (v != NULL) {
        if (strcmp(v, "dmy") == 0)
            s->dates.order = TM_DATE_DMY;
        else if (strcmp(v, "mdy") == 0)
            s->dates.order = TM_DATE_MDY;
        else
            problem(st, line, "bad value '%s' for date_order: expected dmy or mdy", v);
    }
    free(v);
}

static bool has_child_outline(xmlNode *node)
{
    for (xmlNode *c = node->children; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, (const xmlChar *)"outline"))
            return true;
    return false;
}

static bool is_true(xmlNode *node, const char *name)
{
    char *v = attr(node, name);
    bool yes = v != NULL && strcmp(v, "true") == 0;
    free(v);
    return yes;
}

/* Walks the outlines under `parent`. `folder_category` is the category the
 * nearest folder gives its sources (NULL at the top). */
static void walk(struct opml_state *st, xmlNode *parent, const char *folder_category, int depth)
{
    for (xmlNode *n = parent->children; n != NULL && !st->oom && !st->full; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || n->ns != NULL ||
            !xmlStrEqual(n->name, (const xmlChar *)"outline"))
            continue;
        /* OPML 2.0: a comment outline and everything under it is switched off. */
        if (is_true(n, "isComment"))
            continue;
        int line = node_line(n);
        char *url = attr(n, "xmlUrl");
        if (url != NULL) {
            add_source(st, n, folder_category, url);
            free(url);
            continue;
        }
        char *name = outline_name(n);
        if (!has_child_outline(n)) {
            if (name != NULL)
                problem(st, line, "missing xmlUrl on outline '%s'", name);
            else
                problem(st, line, "missing xmlUrl on outline");
            free(name);
            continue;
        }
        if (depth >= TM_OPML_MAX_DEPTH) {
            problem(st, line, "folder outlines nested deeper than %d", TM_OPML_MAX_DEPTH);
            free(name);
            continue;
        }
        char *category = NULL;
        char *v = attr(n, "category");
        if (v != NULL)
            category = category_value(st, v, line);
        else if (name != NULL)
            category = tm_opml_slug(name);
        free(v);
        walk(st, n, category, depth + 1);
        free(category);
        free(name);
    }
}

struct dup_key {
    const char *key;
    size_t index;
};

static int on_qsort_dup_key(const void *a, const void *b)
{
    const struct dup_key *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The URL as duplicates compare it: scheme and host are case-insensitive. */
static char *url_key(const char *url)
{
    char *k = strdup(url);
    if (k == NULL)
        return NULL;
    char *p = strstr(k, "://");
    char *end = p != NULL ? strchr(p + 3, '/') : NULL;
    if (end == NULL)
        end = k + strlen(k);
    for (char *c = k; c < end; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return k;
}

/* Reports every source whose id (or URL) an earlier source already has,
 * naming the first one's line. Sorting keeps this O(n log n) for the 10,000
 * source lists of the benchmarks. */
static void find_duplicates(struct opml_state *st, bool by_url)
{
    struct dup_key *keys = calloc(st->n != 0 ? st->n : 1, sizeof *keys);
    char **owned = by_url ? calloc(st->n != 0 ? st->n : 1, sizeof *owned) : NULL;
    size_t m = 0;
    if (keys == NULL || (by_url && owned == NULL)) {
        st->oom = true;
        goto done;
    }
    for (size_t i = 0; i < st->n; i++) {
        const char *k = by_url ? st->v[i].url : st->v[i].id;
        if (k == NULL)
            continue;
        if (by_url) {
            owned[i] = url_key(k);
            if (owned[i] == NULL) {
                st->oom = true;
                goto done;
            }
            k = owned[i];
        }
        keys[m].key = k;
        keys[m].index = i;
        m++;
    }
    qsort(keys, m, sizeof *keys, on_qsort_dup_key);
    for (size_t i = 1, first = 0; i < m; i++) {
        if (strcmp(keys[i].key, keys[first].key) != 0) {
            first = i;
            continue;
        }
        const struct tm_source *a = &st->v[keys[first].index], *b = &st->v[keys[i].index];
        if (by_url)
            problem(st, b->line, "duplicate source URL '%s' (first at line %d)", b->url, a->line);
        else
            problem(st, b->line, "duplicate source id '%s' (first at line %d)", b->id, a->line);
    }
done:
    if (owned != NULL)
        for (size_t i = 0; i < st->n; i++)
            free(owned[i]);
    free(owned);
    free(keys);
}

/* libxml2 stamps an element with the line where its start tag ends; a
 * message should name the line where it begins. Called by the parser after
 * the start tag's attributes: no '<' can occur inside the tag, so the tag
 * begins at the last '<' before the cursor. The line goes in _private. */
static void on_xml_start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                                 const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                                 int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
    xmlParserInputPtr in = ctxt->input;
    if (ctxt->node == NULL || in == NULL || in->cur == NULL || in->base == NULL)
        return;
    int line = in->line;
    const xmlChar *p = in->cur;
    while (p > in->base && *p != '<') {
        p--;
        if (*p == '\n')
            line--;
    }
    if (*p == '<' && line > 0)
        ctxt->node->_private = (void *)(intptr_t)line;
}

/* Keeps the first error: later ones are mostly its echoes. */
static void on_xml_error(void *ctx, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = ctx;
    struct opml_state *st = ctxt->_private;
    if (e == NULL || e->level == XML_ERR_WARNING || st->xml_error_line != 0)
        return;
    if (e->code == XML_ERR_NO_MEMORY)
        st->oom = true;
    snprintf(st->xml_error, sizeof st->xml_error, "%s",
             e->message != NULL ? e->message : "unknown error");
    size_t n = strlen(st->xml_error);
    while (n > 0 && (st->xml_error[n - 1] == '\n' || st->xml_error[n - 1] == ' '))
        st->xml_error[--n] = '\0';
    st->xml_error_line = e->line > 0 ? e->line : 1;
}

static void parse_document(struct opml_state *st, const char *text, size_t len, const char *path)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (ctxt == NULL) {
        st->oom = true;
        return;
    }
    ctxt->_private = st;
    ctxt->sax->startElementNs = on_xml_start_element;
    ctxt->sax->serror = on_xml_error;
    /* No XML_PARSE_NOENT or DTDLOAD: entities stay unexpanded in text, no
     * external subset is fetched; BIG_LINES keeps line numbers past 65535. */
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, text, (int)len, path, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                          XML_PARSE_BIG_LINES);
    if (doc == NULL) {
        if (!st->oom)
            problem(st, st->xml_error_line > 0 ? st->xml_error_line : 1, "not well-formed XML: %s",
                    st->xml_error_line > 0 ? st->xml_error : "unknown error");
        xmlFreeParserCtxt(ctxt);
        return;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        /* A DTD node carries no line: find the declaration in the text. */
        const char *decl = strstr(text, "<!DOCTYPE");
        int line = 1;
        for (const char *c = text; decl != NULL && c < decl; c++)
            line += *c == '\n';
        problem(st, line, "a DOCTYPE is not allowed in the source list");
    } else if (root == NULL || !xmlStrEqual(root->name, (const xmlChar *)"opml") ||
               root->ns != NULL) {
        problem(st, root != NULL ? node_line(root) : 1,
                "not an OPML document (root element <%s>, expected <opml>)",
                root != NULL ? (const char *)root->name : "");
    } else {
        xmlNode *body = NULL;
        for (xmlNode *c = root->children; c != NULL && body == NULL; c = c->next)
            if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, (const xmlChar *)"body"))
                body = c;
        if (body == NULL) {
            problem(st, node_line(root), "OPML document has no <body>");
        } else {
            walk(st, body, NULL, 0);
            if (!st->oom && st->n == 0 && !st->full)
                problem(st, node_line(body), "no sources: add an <outline> with an xmlUrl");
        }
    }
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
}

int tm_opml_load(const char *path, const char *display, const struct tm_opml_defaults *defaults,
                 struct tm_source **out, size_t *n_out, struct tm_config_problems *problems)
{
    *out = NULL;
    *n_out = 0;
    struct opml_state st = {
        .display = display != NULL ? display : path,
        .defaults = defaults,
        .problems = problems,
    };
    size_t first = problems->n;
    char *text = NULL, *dir = NULL, *abs_dir = NULL;
    size_t len = 0;
    char why[256];
    int rc = tm_config_read_file(path, TM_OPML_MAX_BYTES, &text, &len, why, sizeof why);
    if (rc == TM_ENOMEM)
        goto done;
    if (rc != 0) {
        problem(&st, 0, "cannot read: %s", why);
        goto done;
    }
    if ((dir = tm_config_dirname(path)) == NULL) {
        st.oom = true;
        goto done;
    }
    if ((abs_dir = realpath(dir, NULL)) == NULL) {
        problem(&st, 0, "cannot resolve its folder: %s", strerror(errno));
        goto done;
    }
    st.dir = abs_dir;
    parse_document(&st, text, len, path);
    if (!st.oom)
        find_duplicates(&st, false);
    if (!st.oom)
        find_duplicates(&st, true);
done:
    free(text);
    free(dir);
    free(abs_dir);
    if (st.oom || rc == TM_ENOMEM || tm_config_problems_sort_from(problems, first) != 0) {
        tm_opml_sources_free(st.v, st.n);
        return TM_ENOMEM;
    }
    if (problems->n > first) {
        tm_opml_sources_free(st.v, st.n);
        return TM_ECONFIG;
    }
    *out = st.v;
    *n_out = st.n;
    return 0;
}
