/* tinmoi — the feed parser's fields: captured text to normalised values
 * (SPEC §5): plain text, sanitised HTML, absolute links, dates, limits. */
#include "parse_int.h"
#include "str_int.h"

#include "tinmoi/error.h"
#include "tinmoi/sanitize.h"
#include "tinmoi/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest piece of an unrecognised value quoted in an error line. */
#define TM_PARSE_QUOTE_BYTES 64

enum vtype {
    V_PLAIN, /* text: markup removed (or literal for Atom type="text"), collapsed */
    V_TITLE, /* V_PLAIN cut to TM_PARSE_MAX_TITLE_BYTES */
    V_HTML,  /* sanitised HTML */
    V_URL,   /* absolute link */
    V_ID,    /* trimmed, as given */
    V_DATE,
    V_INT,
};

static const struct {
    const char *name;
    enum vtype type;
} targets[TM_T_COUNT] = {
    [TM_T_NONE] = {"", V_PLAIN},
    [TM_T_FEED_TITLE] = {"title", V_TITLE},
    [TM_T_FEED_LINK] = {"link", V_URL},
    [TM_T_FEED_ID] = {"id", V_ID},
    [TM_T_FEED_SUBTITLE] = {"subtitle", V_PLAIN},
    [TM_T_FEED_LANGUAGE] = {"language", V_ID},
    [TM_T_FEED_UPDATED] = {"updated", V_DATE},
    [TM_T_FEED_AUTHOR] = {"author", V_PLAIN},
    [TM_T_FEED_GENERATOR] = {"generator", V_PLAIN},
    [TM_T_FEED_RIGHTS] = {"rights", V_PLAIN},
    [TM_T_FEED_IMAGE] = {"image", V_URL},
    [TM_T_FEED_TTL] = {"ttl", V_INT},
    [TM_T_FEED_SY_PERIOD] = {"sy:updatePeriod", V_ID},
    [TM_T_FEED_SY_FREQ] = {"sy:updateFrequency", V_INT},
    [TM_T_ENTRY_ID] = {"id", V_ID},
    [TM_T_ENTRY_GUID] = {"guid", V_ID},
    [TM_T_ENTRY_TITLE] = {"title", V_TITLE},
    [TM_T_ENTRY_LINK] = {"link", V_URL},
    [TM_T_ENTRY_PUBLISHED] = {"published", V_DATE},
    [TM_T_ENTRY_UPDATED] = {"updated", V_DATE},
    [TM_T_ENTRY_AUTHOR] = {"author", V_PLAIN},
    [TM_T_ENTRY_SUMMARY] = {"summary", V_HTML},
    [TM_T_ENTRY_CONTENT] = {"content", V_HTML},
    [TM_T_ENTRY_CATEGORY] = {"category", V_PLAIN},
};

const char *tm_parse_target_name(enum tm_target target)
{
    return targets[target].name;
}

size_t tm_parse_raw_limit(enum tm_target target)
{
    return targets[target].type == V_HTML ? TM_PARSE_MAX_CONTENT_BYTES : TM_PARSE_MAX_FIELD_BYTES;
}

void tm_parse_oom(struct tm_parser *p)
{
    if (p->status == 0)
        p->status = TM_ENOMEM;
    if (p->ctxt != NULL)
        xmlStopParser(p->ctxt);
}

void tm_parse_error(struct tm_parser *p, const char *fmt, ...)
{
    struct tm_feed *f = p->feed;
    if (f->n_errors >= TM_PARSE_MAX_ERRORS)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (f->n_errors == TM_PARSE_MAX_ERRORS - 1)
        snprintf(line, sizeof line, "more than %d problems; the rest are not listed",
                 TM_PARSE_MAX_ERRORS - 1);
    if (f->n_errors > 0 && strcmp(f->errors[f->n_errors - 1], line) == 0)
        return;
    if (f->n_errors == p->cap_errors) {
        size_t cap = p->cap_errors ? p->cap_errors * 2 : 8;
        char **v = realloc(f->errors, cap * sizeof *v);
        if (v == NULL) {
            tm_parse_oom(p);
            return;
        }
        f->errors = v;
        p->cap_errors = cap;
    }
    /* The text is ours or libxml2's message: make sure it is valid UTF-8. */
    char *s = tm_text_nfc(line, strlen(line));
    if (s == NULL) {
        tm_parse_oom(p);
        return;
    }
    f->errors[f->n_errors++] = s;
}

const char *tm_parse_base(const struct tm_parser *p, const struct tm_frame *frame)
{
    if (frame != NULL && frame->base != NULL)
        return frame->base;
    if (p->feed->link != NULL)
        return p->feed->link;
    return p->self_link;
}

/* "entry 3" or "feed", for messages: written into out only when a message
 * needs it (formatting it for every field cost more than the field). */
static const char *where(const struct tm_parser *p, enum tm_target t, char *out, size_t size)
{
    if (t >= TM_T_ENTRY_ID && p->entry >= 0)
        snprintf(out, size, "entry %ld", p->entry + 1);
    else
        snprintf(out, size, "feed");
    return out;
}

static char **slot(struct tm_parser *p, enum tm_target t)
{
    struct tm_feed *f = p->feed;
    struct tm_entry *e = p->entry >= 0 ? &f->entries[p->entry] : NULL;
    switch (t) {
    case TM_T_FEED_TITLE:
        return &f->title;
    case TM_T_FEED_LINK:
        return &f->link;
    case TM_T_FEED_ID:
        return &f->id;
    case TM_T_FEED_SUBTITLE:
        return &f->subtitle;
    case TM_T_FEED_LANGUAGE:
        return &f->language;
    case TM_T_FEED_AUTHOR:
        return &f->author;
    case TM_T_FEED_GENERATOR:
        return &f->generator;
    case TM_T_FEED_RIGHTS:
        return &f->rights;
    case TM_T_FEED_IMAGE:
        return &f->image;
    case TM_T_ENTRY_ID:
        return e ? &e->id : NULL;
    case TM_T_ENTRY_GUID:
        return e ? &p->guid : NULL;
    case TM_T_ENTRY_TITLE:
        return e ? &e->title : NULL;
    case TM_T_ENTRY_LINK:
        return e ? &e->link : NULL;
    case TM_T_ENTRY_AUTHOR:
        return e ? &e->author : NULL;
    case TM_T_ENTRY_SUMMARY:
        return e ? &e->summary : NULL;
    case TM_T_ENTRY_CONTENT:
        return e ? &e->content : NULL;
    default:
        return NULL;
    }
}

static unsigned char *prio_of(struct tm_parser *p, enum tm_target t)
{
    return t >= TM_T_ENTRY_ID ? &p->eprio[t] : &p->fprio[t];
}

static void add_category(struct tm_parser *p, char *value)
{
    struct tm_entry *e = &p->feed->entries[p->entry];
    for (size_t i = 0; i < e->n_categories; i++) {
        if (strcmp(e->categories[i], value) == 0) {
            free(value);
            return;
        }
    }
    if (e->n_categories >= TM_PARSE_MAX_CATEGORIES) {
        if (e->n_categories == TM_PARSE_MAX_CATEGORIES)
            tm_parse_error(p, "entry %ld: more than %d categories; the rest were dropped",
                           p->entry + 1, TM_PARSE_MAX_CATEGORIES);
        free(value);
        return;
    }
    char **v = realloc(e->categories, (e->n_categories + 1) * sizeof *v);
    if (v == NULL) {
        free(value);
        tm_parse_oom(p);
        return;
    }
    e->categories = v;
    e->categories[e->n_categories++] = value;
}

void tm_parse_set(struct tm_parser *p, enum tm_target t, unsigned char prio, char *value)
{
    if (value == NULL)
        return;
    if (t == TM_T_ENTRY_CATEGORY) {
        if (p->entry >= 0)
            add_category(p, value);
        else
            free(value);
        return;
    }
    char **dst = slot(p, t);
    unsigned char *have = prio_of(p, t);
    if (dst == NULL || prio <= *have) {
        free(value);
        return;
    }
    free(*dst);
    *dst = value;
    *have = prio;
}

static void set_time(struct tm_parser *p, enum tm_target t, unsigned char prio, int64_t utc)
{
    unsigned char *have = prio_of(p, t);
    if (prio <= *have)
        return;
    int64_t *dst = NULL;
    if (t == TM_T_FEED_UPDATED)
        dst = &p->feed->updated_utc;
    else if (p->entry >= 0 && t == TM_T_ENTRY_PUBLISHED)
        dst = &p->feed->entries[p->entry].published_utc;
    else if (p->entry >= 0 && t == TM_T_ENTRY_UPDATED)
        dst = &p->feed->entries[p->entry].updated_utc;
    if (dst == NULL)
        return;
    *dst = utc;
    *have = prio;
}

/* An HTML field's value bounded by TM_PARSE_MAX_CONTENT_BYTES: resolving
 * URLs and escaping text again can lengthen it past the raw capture's
 * bound. Cut, then sanitised again so the cut leaves no half tag. Takes
 * `html`; sets *cut when it cut. */
static char *bound_html(char *html, const char *base, bool *cut, bool *oom)
{
    if (html == NULL || strlen(html) <= TM_PARSE_MAX_CONTENT_BYTES)
        return html;
    *cut = true;
    tm_text_truncate(html, TM_PARSE_MAX_CONTENT_BYTES - 64);
    char *again = tm_html_sanitize(html, strlen(html), base, oom);
    free(html);
    if (again != NULL)
        tm_text_truncate(again, TM_PARSE_MAX_CONTENT_BYTES);
    return again;
}

char *tm_parse_html(const char *raw, size_t len, const char *base, bool *truncated, bool *oom)
{
    bool cut = false, failed = false;
    char *html = bound_html(tm_html_sanitize(raw, len, base, &failed), base, &cut, &failed);
    if (truncated != NULL)
        *truncated = cut;
    if (oom != NULL)
        *oom = failed;
    return html;
}

/* An HTML field's value: `text` (Atom type="text") escaped into HTML,
 * else the markup sanitised (tm_parse_html); bounded either way, a cut
 * reported. */
static char *finish_html(struct tm_parser *p, const char *raw, size_t len, const char *base,
                         enum tm_target t, bool text)
{
    bool oom = false, cut = false;
    char *html;
    if (text)
        html = bound_html(tm_html_from_text(raw, len, &oom), base, &cut, &oom);
    else
        html = tm_parse_html(raw, len, base, &cut, &oom);
    if (oom)
        tm_parse_oom(p);
    if (cut) {
        char what[32];
        tm_parse_error(p, "%s: %s truncated to %d bytes", where(p, t, what, sizeof what),
                       targets[t].name, TM_PARSE_MAX_CONTENT_BYTES);
    }
    return html;
}

static unsigned raw_bit(enum tm_target t)
{
    return t == TM_T_ENTRY_SUMMARY ? TM_RAW_SUMMARY : TM_RAW_CONTENT;
}

void tm_parse_resolve_raw(struct tm_parser *p, enum tm_target t)
{
    if (p->entry < 0 || (t != TM_T_ENTRY_SUMMARY && t != TM_T_ENTRY_CONTENT))
        return;
    struct tm_entry *e = &p->feed->entries[p->entry];
    unsigned bit = raw_bit(t);
    if ((e->raw_html & bit) == 0)
        return;
    char **dst = slot(p, t);
    char *raw = *dst;
    *dst = finish_html(p, raw, strlen(raw), e->html_base, t, false);
    free(raw);
    e->raw_html &= (unsigned char)~bit;
    if (*dst == NULL)
        *prio_of(p, t) = 0; /* as if it had never been set (tm_parse_set) */
}

/* Keeps the captured markup of HTML field `t` raw when the parser was asked
 * to and the field is empty (a field that holds a value, resolved when this
 * capture began, weighs the new one sanitised, as without raw_html). The
 * entry has one base for both fields: a field whose base differs from the
 * other raw field's is sanitised now. Returns false when the caller is to
 * sanitise the markup. */
static bool keep_raw(struct tm_parser *p, enum tm_target t, const char *raw, size_t len,
                     const char *base)
{
    struct tm_entry *e = &p->feed->entries[p->entry];
    char **dst = slot(p, t);
    unsigned other = raw_bit(t) ^ (TM_RAW_SUMMARY | TM_RAW_CONTENT);
    bool shares_base = (e->raw_html & other) != 0;
    if (!p->opts.raw_html || p->cap_kind == TM_K_TEXT || *dst != NULL ||
        p->cap_prio <= *prio_of(p, t) || len == 0 || len > TM_PARSE_MAX_RAW_HTML_BYTES ||
        (shares_base && !tm_str_same(e->html_base, base)))
        return false;
    char *copy = malloc(len + 1);
    char *base_copy = !shares_base && base != NULL ? strdup(base) : NULL;
    if (copy == NULL || (!shares_base && base != NULL && base_copy == NULL)) {
        free(copy);
        free(base_copy);
        tm_parse_oom(p);
        return true;
    }
    memcpy(copy, raw, len);
    copy[len] = '\0';
    if (!shares_base) {
        free(e->html_base);
        e->html_base = base_copy;
    }
    *dst = copy;
    *prio_of(p, t) = p->cap_prio;
    e->raw_html |= (unsigned char)raw_bit(t);
    return true;
}

static void quote(const char *s, char *out, size_t size)
{
    size_t n = tm_utf8_boundary(s, strlen(s), TM_PARSE_QUOTE_BYTES);
    snprintf(out, size, "%.*s%s", (int)n, s, s[n] ? "..." : "");
}

void tm_parse_field_end(struct tm_parser *p)
{
    enum tm_target t = p->target;
    p->target = TM_T_NONE;
    if (t == TM_T_NONE || p->status < 0)
        return;
    if ((t >= TM_T_ENTRY_ID) && p->entry < 0)
        return;
    const struct tm_frame *fr = &p->frames[p->cap_depth];
    const char *raw = p->text.data ? p->text.data : "";
    size_t len = p->text.len;
    char what[32];
    if (p->cap_truncated && targets[t].type != V_TITLE)
        tm_parse_error(p, "%s: %s longer than %zu bytes, truncated", where(p, t, what, sizeof what),
                       targets[t].name, tm_parse_raw_limit(t));
    bool oom = false;
    char *v = NULL;
    switch (targets[t].type) {
    case V_TITLE:
    case V_PLAIN:
        if (p->cap_kind == TM_K_TEXT)
            v = tm_text_collapse(raw, len, &oom);
        else
            v = tm_text_plain(raw, len, &oom);
        if (v != NULL && targets[t].type == V_TITLE &&
            (tm_text_truncate(v, TM_PARSE_MAX_TITLE_BYTES) || p->cap_truncated))
            tm_parse_error(p, "%s: title truncated to at most %d bytes",
                           where(p, t, what, sizeof what), TM_PARSE_MAX_TITLE_BYTES);
        break;
    case V_HTML: {
        const char *base = tm_parse_base(p, fr);
        if (keep_raw(p, t, raw, len, base))
            return;
        v = finish_html(p, raw, len, base, t, p->cap_kind == TM_K_TEXT);
        tm_parse_set(p, t, p->cap_prio, v);
        return;
    }
    case V_ID:
        v = tm_text_collapse(raw, len, &oom);
        break;
    case V_URL: {
        char *ref = tm_text_collapse(raw, len, &oom);
        if (ref != NULL) {
            v = tm_url_resolve(tm_parse_base(p, fr), ref);
            if (v == NULL) {
                char q[96];
                quote(ref, q, sizeof q);
                tm_parse_error(p, "%s: %s \"%s\" is not an absolute URL and has no base",
                               where(p, t, what, sizeof what), targets[t].name, q);
            }
            free(ref);
        }
        break;
    }
    case V_DATE: {
        char *s = tm_text_collapse(raw, len, &oom);
        if (s != NULL) {
            int64_t utc;
            if (tm_date_parse(s, &p->opts.dates, &utc) == 0) {
                set_time(p, t, p->cap_prio, utc);
            } else {
                char q[96];
                quote(s, q, sizeof q);
                tm_parse_error(p, "%s: unrecognised date \"%s\" in %s",
                               where(p, t, what, sizeof what), q, targets[t].name);
            }
            free(s);
        }
        break;
    }
    case V_INT: {
        char *s = tm_text_collapse(raw, len, &oom);
        if (s != NULL) {
            char *end;
            long n = strtol(s, &end, 10);
            if (*end != '\0' || n <= 0 || n > 1000000) {
                char q[96];
                quote(s, q, sizeof q);
                tm_parse_error(p, "%s: bad %s \"%s\" ignored", where(p, t, what, sizeof what),
                               targets[t].name, q);
            } else if (t == TM_T_FEED_TTL) {
                p->feed->ttl_s = (int64_t)n * 60;
            } else if (t == TM_T_FEED_SY_FREQ) {
                p->sy_freq = n;
            }
            free(s);
        }
        break;
    }
    }
    if (oom) {
        free(v);
        tm_parse_oom(p);
        return;
    }
    if (t == TM_T_FEED_SY_PERIOD && v != NULL) {
        static const struct {
            const char *name;
            int64_t s;
        } periods[] = {{"hourly", 3600},
                       {"daily", 86400},
                       {"weekly", 7 * 86400},
                       {"monthly", 30 * 86400},
                       {"yearly", 365 * 86400}};
        bool known = false;
        for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
            if (strcmp(v, periods[i].name) == 0) {
                p->sy_period_s = periods[i].s;
                known = true;
            }
        }
        if (!known)
            tm_parse_error(p, "feed: unknown sy:updatePeriod \"%.32s\" ignored", v);
        free(v);
        return;
    }
    tm_parse_set(p, t, p->cap_prio, v);
}

bool tm_parse_entry_begin(struct tm_parser *p)
{
    struct tm_feed *f = p->feed;
    if (f->n_entries >= TM_PARSE_MAX_ITEMS) {
        if (!p->items_dropped)
            tm_parse_error(p, "more than %d entries; the rest were dropped", TM_PARSE_MAX_ITEMS);
        p->items_dropped = true;
        return false;
    }
    if (f->n_entries == p->cap_entries) {
        size_t cap = p->cap_entries ? p->cap_entries * 2 : 16;
        struct tm_entry *v = realloc(f->entries, cap * sizeof *v);
        if (v == NULL) {
            tm_parse_oom(p);
            return false;
        }
        f->entries = v;
        p->cap_entries = cap;
    }
    struct tm_entry *e = &f->entries[f->n_entries];
    memset(e, 0, sizeof *e);
    e->published_utc = TM_TIME_NONE;
    e->updated_utc = TM_TIME_NONE;
    p->entry = (long)f->n_entries++;
    memset(p->eprio, 0, sizeof p->eprio);
    p->guid_permalink = true;
    p->guid_permalink_explicit = false;
    return true;
}

static bool is_http_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

void tm_parse_entry_end(struct tm_parser *p)
{
    if (p->entry < 0)
        return;
    struct tm_entry *e = &p->feed->entries[p->entry];
    if (p->guid != NULL) {
        /* RSS 2.0 "guid": isPermaLink defaults to true, so a guid is the
         * item's link when it has none; a default-permalink guid must look
         * like a URL, since many publishers leave the attribute out. */
        if (e->link == NULL && p->guid_permalink &&
            (p->guid_permalink_explicit || is_http_url(p->guid))) {
            e->link = tm_url_resolve(tm_parse_base(p, NULL), p->guid);
        }
        if (e->id == NULL) {
            e->id = p->guid;
            p->guid = NULL;
        }
    }
    if (e->id == NULL && p->about != NULL) {
        e->id = p->about;
        p->about = NULL;
    }
    if (e->n_enclosures == 0 && p->thumbnail != NULL)
        tm_parse_add_enclosure(p, NULL, p->thumbnail, NULL, NULL);
    free(p->guid);
    free(p->thumbnail);
    free(p->about);
    p->guid = p->thumbnail = p->about = NULL;
    p->entry = -1;
}

void tm_parse_add_enclosure(struct tm_parser *p, const char *base, const char *url,
                            const char *type, const char *length)
{
    if (p->entry < 0 || url == NULL)
        return;
    struct tm_entry *e = &p->feed->entries[p->entry];
    char *abs = tm_url_resolve(base ? base : tm_parse_base(p, NULL), url);
    if (abs == NULL) {
        char q[96];
        quote(url, q, sizeof q);
        tm_parse_error(p, "entry %ld: enclosure URL \"%s\" is not absolute and has no base",
                       p->entry + 1, q);
        return;
    }
    for (size_t i = 0; i < e->n_enclosures; i++) {
        if (strcmp(e->enclosures[i].url, abs) == 0) {
            free(abs);
            return;
        }
    }
    if (e->n_enclosures >= TM_PARSE_MAX_ENCLOSURES) {
        if (e->n_enclosures == TM_PARSE_MAX_ENCLOSURES)
            tm_parse_error(p, "entry %ld: more than %d enclosures; the rest were dropped",
                           p->entry + 1, TM_PARSE_MAX_ENCLOSURES);
        free(abs);
        return;
    }
    struct tm_enclosure *v = realloc(e->enclosures, (e->n_enclosures + 1) * sizeof *v);
    if (v == NULL) {
        free(abs);
        tm_parse_oom(p);
        return;
    }
    e->enclosures = v;
    struct tm_enclosure *enc = &e->enclosures[e->n_enclosures++];
    enc->url = abs;
    enc->type = NULL;
    enc->length = -1;
    if (type != NULL && type[0] != '\0') {
        bool oom = false;
        enc->type = tm_text_collapse(type, strlen(type), &oom);
        if (oom)
            tm_parse_oom(p);
    }
    if (length != NULL) {
        char *end;
        long long n = strtoll(length, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
            end++;
        if (end != length && *end == '\0' && n >= 0)
            enc->length = (int64_t)n;
    }
}
