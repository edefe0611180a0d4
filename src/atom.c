/* tinmoi — the Atom 1.0 writer (RFC 4287) on libxml2's xmlTextWriter. */
#include "tinmoi/atom.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "tinmoi/date.h"
#include "tinmoi/feed.h"

#define TM_ATOM_NS "http://www.w3.org/2005/Atom"

/* The writer and the first failure: every libxml2 call is checked, and
 * after one fails the rest become no-ops so the code reads top to bottom. */
struct atom_writer {
    xmlTextWriterPtr w;
    int rc; /* 0 or the first TM_E* */
    struct tm_error *err;
};

static const xmlChar *X(const char *s)
{
    return (const xmlChar *)s;
}

/* XML 1.0 §2.2 Char excludes C0 controls other than tab, LF and CR, and
 * U+FFFE/U+FFFF (EF BF BE / EF BF BF in UTF-8); xmlTextWriter would write
 * them through and make the document ill-formed. Returns `s` itself when it
 * is clean, else a malloc'd cleaned copy in *owned (NULL on OOM). */
static bool xml_forbidden_at(const unsigned char *p)
{
    if (p[0] < 0x20 && p[0] != '\t' && p[0] != '\n' && p[0] != '\r')
        return true;
    return p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF);
}

static const char *xml_clean(const char *s, char **owned)
{
    *owned = NULL;
    const unsigned char *p = (const unsigned char *)s;
    bool dirty = false;
    for (size_t i = 0; p[i] != '\0'; i++)
        if (xml_forbidden_at(p + i)) {
            dirty = true;
            break;
        }
    if (!dirty)
        return s;
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (xml_forbidden_at(p + i)) {
            i += p[i] < 0x20 ? 1 : 3;
            continue;
        }
        copy[o++] = s[i++];
    }
    copy[o] = '\0';
    *owned = copy;
    return copy;
}

static void check(struct atom_writer *aw, int xml_rc)
{
    if (xml_rc < 0 && aw->rc == 0)
        aw->rc = tm_error_set(aw->err, TM_ENOMEM, "atom: xmlTextWriter failed (out of memory)");
}

static void start(struct atom_writer *aw, const char *name)
{
    if (aw->rc == 0)
        check(aw, xmlTextWriterStartElement(aw->w, X(name)));
}

static void end(struct atom_writer *aw)
{
    if (aw->rc == 0)
        check(aw, xmlTextWriterEndElement(aw->w));
}

static void attr(struct atom_writer *aw, const char *name, const char *value)
{
    if (aw->rc != 0)
        return;
    char *owned;
    const char *clean = xml_clean(value, &owned);
    if (clean == NULL) {
        aw->rc = tm_error_set(aw->err, TM_ENOMEM, "atom: out of memory");
        return;
    }
    check(aw, xmlTextWriterWriteAttribute(aw->w, X(name), X(clean)));
    free(owned);
}

static void text(struct atom_writer *aw, const char *value)
{
    if (aw->rc != 0)
        return;
    char *owned;
    const char *clean = xml_clean(value, &owned);
    if (clean == NULL) {
        aw->rc = tm_error_set(aw->err, TM_ENOMEM, "atom: out of memory");
        return;
    }
    check(aw, xmlTextWriterWriteString(aw->w, X(clean)));
    free(owned);
}

/* <name [type="..."]>value</name> */
static void element(struct atom_writer *aw, const char *name, const char *type, const char *value)
{
    start(aw, name);
    if (type != NULL)
        attr(aw, "type", type);
    text(aw, value);
    end(aw);
}

static void add_link(struct atom_writer *aw, const char *rel, const char *type, const char *href)
{
    start(aw, "link");
    attr(aw, "rel", rel);
    if (type != NULL)
        attr(aw, "type", type);
    attr(aw, "href", href);
    end(aw);
}

static void date(struct atom_writer *aw, const char *name, int64_t utc, struct tm_error *err)
{
    if (aw->rc != 0)
        return;
    char buf[TM_DATE_RFC3339_LEN];
    if (tm_date_format_rfc3339(utc, buf) != 0) {
        aw->rc = tm_error_set(err, TM_EINVAL, "atom: cannot write date %lld as RFC 3339",
                              (long long)utc);
        return;
    }
    element(aw, name, NULL, buf);
}

static void person(struct atom_writer *aw, const char *name, const char *uri)
{
    start(aw, "author");
    element(aw, "name", NULL, name);
    if (uri != NULL)
        element(aw, "uri", NULL, uri);
    end(aw);
}

/* RFC 4287 §4.2.11: the entry was copied from another feed; keep that
 * feed's metadata so readers can credit and follow the source. */
static void source(struct atom_writer *aw, const struct tm_view *v, const struct tm_item *item,
                   struct tm_error *err)
{
    const struct tm_source *src = tm_view_source(v, item->source_id, NULL);
    start(aw, "source");
    if (src != NULL && src->url != NULL) {
        element(aw, "id", NULL, src->url);
        element(aw, "title", "text", src->title != NULL ? src->title : src->id);
        if (src->html_url != NULL)
            add_link(aw, "alternate", "text/html", src->html_url);
        else
            add_link(aw, "alternate", NULL, src->url);
        add_link(aw, "self", NULL, src->url);
        int64_t updated = v->source_updated_utc[src - v->config->sources];
        if (updated != TM_TIME_NONE)
            date(aw, "updated", updated, err);
    } else if (item->source_id != NULL) {
        /* The source has left the source list: its items stay (SPEC §7);
         * only its id is still known. */
        element(aw, "title", "text", item->source_id);
    }
    end(aw);
}

static void entry(struct atom_writer *aw, const struct tm_view *v, const struct tm_story *story,
                  struct tm_error *err)
{
    const struct tm_item *it = &v->items[story->primary];
    start(aw, "entry");
    element(aw, "id", NULL, story->entry_id);
    element(aw, "title", "text", it->title != NULL ? it->title : "");
    if (it->link != NULL)
        add_link(aw, "alternate", "text/html", it->link);
    date(aw, "published", it->published_utc, err);
    date(aw, "updated", tm_view_item_updated_utc(it), err);
    if (it->author != NULL)
        person(aw, it->author, NULL);
    for (size_t i = 0; i < it->n_categories; i++) {
        if (it->categories[i] == NULL || it->categories[i][0] == '\0')
            continue;
        start(aw, "category");
        attr(aw, "term", it->categories[i]);
        end(aw);
    }
    if (it->summary != NULL)
        element(aw, "summary", "html", it->summary);
    const char *body = it->content != NULL ? it->content : it->summary;
    if (body != NULL)
        element(aw, "content", "html", body);
    else if (it->link == NULL)
        element(aw, "content", "text", it->title != NULL ? it->title : "");
    source(aw, v, it, err);
    end(aw);
}

/* The feed's updated (§4.2.15: the latest instant it changed significantly):
 * the latest entry date written, never the time of writing. */
static int64_t feed_updated_utc(const struct tm_view *v, const char *category, size_t limit)
{
    int64_t updated = 0; /* 1970-01-01T00:00:00Z for an empty feed */
    bool any = false;
    size_t n = 0;
    for (size_t i = 0; i < v->n_stories && n < limit; i++) {
        const struct tm_story *s = &v->stories[i];
        if (!tm_view_story_in(v, s, category))
            continue;
        n++;
        int64_t t = tm_view_item_updated_utc(&v->items[s->primary]);
        if (!any || t > updated)
            updated = t;
        any = true;
    }
    return updated;
}

static void feed(struct atom_writer *aw, const struct tm_view *v, const char *category,
                 struct tm_error *err)
{
    const struct tm_config *cfg = v->config;
    size_t limit = cfg->items_limit > 0 ? (size_t)cfg->items_limit : 0;
    char name[256], self[2048], title[1024];
    snprintf(name, sizeof name, "%s.atom", category != NULL ? category : "latest");
    int n_self = snprintf(self, sizeof self, "%s%s", cfg->public_url, name);
    if (category != NULL)
        snprintf(title, sizeof title, "%s — %s", cfg->title, category);
    else
        snprintf(title, sizeof title, "%s", cfg->title);
    if (n_self < 0 || (size_t)n_self >= sizeof self) {
        aw->rc = tm_error_set(err, TM_EINVAL, "atom: public_url too long");
        return;
    }

    if (aw->rc == 0)
        check(aw, xmlTextWriterStartDocument(aw->w, "1.0", "UTF-8", NULL));
    start(aw, "feed");
    attr(aw, "xmlns", TM_ATOM_NS);
    attr(aw, "xml:lang", "vi");
    element(aw, "id", NULL, self);
    element(aw, "title", "text", title);
    date(aw, "updated", feed_updated_utc(v, category, limit), err);
    add_link(aw, "self", "application/atom+xml", self);
    add_link(aw, "alternate", "text/html", cfg->public_url);
    /* §4.1.1: a feed needs an author unless every entry has one; entries
     * whose source named nobody inherit this one. */
    person(aw, cfg->title, cfg->public_url);
    start(aw, "generator");
    attr(aw, "version", TINMOI_VERSION);
    text(aw, "tinmoi");
    end(aw);
    size_t n = 0;
    for (size_t i = 0; i < v->n_stories && n < limit && aw->rc == 0; i++) {
        if (!tm_view_story_in(v, &v->stories[i], category))
            continue;
        entry(aw, v, &v->stories[i], err);
        n++;
    }
    end(aw);
    if (aw->rc == 0)
        check(aw, xmlTextWriterEndDocument(aw->w));
}

int tm_atom_render(const struct tm_view *v, const char *category, char **out, size_t *out_len,
                   struct tm_error *err)
{
    *out = NULL;
    *out_len = 0;
    xmlBufferPtr buf = xmlBufferCreate();
    if (buf == NULL)
        return tm_error_set(err, TM_ENOMEM, "atom: out of memory");
    struct atom_writer aw = {.w = xmlNewTextWriterMemory(buf, 0), .rc = 0, .err = err};
    if (aw.w == NULL) {
        xmlBufferFree(buf);
        return tm_error_set(err, TM_ENOMEM, "atom: out of memory");
    }
    check(&aw, xmlTextWriterSetIndent(aw.w, 1));
    if (aw.rc == 0)
        check(&aw, xmlTextWriterSetIndentString(aw.w, X("  ")));
    feed(&aw, v, category, err);
    xmlFreeTextWriter(aw.w); /* flushes into buf */
    if (aw.rc != 0) {
        xmlBufferFree(buf);
        return aw.rc;
    }
    size_t len = (size_t)xmlBufferLength(buf);
    char *data = malloc(len + 1);
    if (data == NULL) {
        xmlBufferFree(buf);
        return tm_error_set(err, TM_ENOMEM, "atom: out of memory");
    }
    memcpy(data, xmlBufferContent(buf), len);
    data[len] = '\0';
    xmlBufferFree(buf);
    *out = data;
    *out_len = len;
    return 0;
}
