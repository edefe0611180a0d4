/* tinmoi — the JSON Feed 1.1 writer on jansson. */
#include "tinmoi/jsonfeed.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tinmoi/date.h"
#include "tinmoi/feed.h"
#include "tinmoi/text.h"

#define TM_JSONFEED_VERSION "https://jsonfeed.org/version/1.1"

/* The first failure while building the tree: after it every helper is a
 * no-op that releases what it was handed, so the builder reads top to
 * bottom and leaks nothing. */
struct builder {
    int rc;
    struct tm_error *err;
};

static void fail(struct builder *b, int code, const char *what)
{
    if (b->rc == 0)
        b->rc = tm_error_set(b->err, code, "jsonfeed: %s", what);
}

static void put(struct builder *b, json_t *obj, const char *key, json_t *val)
{
    if (val == NULL) {
        fail(b, TM_ENOMEM, "out of memory");
        return;
    }
    if (b->rc != 0 || obj == NULL) {
        json_decref(val);
        return;
    }
    /* json_object_set_new takes the reference even when it fails. */
    if (json_object_set_new(obj, key, val) != 0)
        fail(b, TM_ENOMEM, "out of memory");
}

static void push(struct builder *b, json_t *arr, json_t *val)
{
    if (val == NULL) {
        fail(b, TM_ENOMEM, "out of memory");
        return;
    }
    if (b->rc != 0 || arr == NULL) {
        json_decref(val);
        return;
    }
    if (json_array_append_new(arr, val) != 0)
        fail(b, TM_ENOMEM, "out of memory");
}

/* A string, or null for NULL. Invalid UTF-8 is an error rather than a
 * silently dropped field: the store only holds the parser's valid UTF-8. */
static json_t *jstr(struct builder *b, const char *s)
{
    if (s == NULL)
        return json_null();
    if (!tm_utf8_valid(s, strlen(s))) {
        fail(b, TM_EINVAL, "a string is not valid UTF-8");
        return json_null();
    }
    return json_string(s);
}

/* An RFC 3339 date, or null for TM_TIME_NONE. */
static json_t *jdate(struct builder *b, int64_t utc)
{
    if (utc == TM_TIME_NONE)
        return json_null();
    char buf[TM_DATE_RFC3339_LEN];
    if (tm_date_format_rfc3339(utc, buf) != 0) {
        if (b->rc == 0)
            b->rc =
                tm_error_set(b->err, TM_EINVAL, "jsonfeed: cannot write date %lld", (long long)utc);
        return json_null();
    }
    return json_string(buf);
}

static json_t *source_ref(struct builder *b, const struct tm_view *v, const char *source_id)
{
    const struct tm_source *src = tm_view_source(v, source_id, NULL);
    json_t *o = json_object();
    put(b, o, "id", jstr(b, source_id));
    put(b, o, "title", jstr(b, src != NULL ? src->title : NULL));
    put(b, o, "url", jstr(b, src != NULL ? src->url : NULL));
    return o;
}

static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The other sources that carried the story, each once (SPEC §7). */
static json_t *also_in(struct builder *b, const struct tm_view *v, const struct tm_story *story)
{
    const struct tm_item *primary = &v->items[story->primary];
    json_t *arr = json_array();
    for (size_t m = 0; m < story->n_members; m++) {
        const struct tm_item *it = &v->items[story->members[m]];
        if (it->source_id == NULL || same(it->source_id, primary->source_id))
            continue;
        bool seen = false;
        for (size_t k = 0; k < m && !seen; k++)
            seen = same(v->items[story->members[k]].source_id, it->source_id);
        if (seen)
            continue;
        json_t *ref = source_ref(b, v, it->source_id);
        if (it->link != NULL)
            put(b, ref, "item_url", jstr(b, it->link));
        push(b, arr, ref);
    }
    return arr;
}

/* How many of a file's first items the box (`_tinmoi.latest`) names:
 * latest_limit, within items_limit. */
static size_t box_len(const struct tm_config *cfg)
{
    size_t latest = cfg->latest_limit > 0 ? (size_t)cfg->latest_limit : 0;
    size_t items = cfg->items_limit > 0 ? (size_t)cfg->items_limit : 0;
    return latest < items ? latest : items;
}

/* The item's date as the portal shows it (tm_date_format_display in the
 * configured offset). */
static int display_date(const struct tm_view *v, const struct tm_item *it,
                        char out[TM_DATE_DISPLAY_LEN])
{
    return tm_date_format_display(it->published_utc, v->config->utc_offset_s, out);
}

static json_t *item_ext(struct builder *b, const struct tm_view *v, const struct tm_story *story)
{
    const struct tm_item *it = &v->items[story->primary];
    const struct tm_source *src = tm_view_source(v, it->source_id, NULL);
    json_t *ext = json_object();
    json_t *so = json_object();
    put(b, so, "id", jstr(b, it->source_id));
    put(b, so, "title", jstr(b, src != NULL ? src->title : NULL));
    put(b, so, "url", jstr(b, src != NULL ? src->url : NULL));
    if (src != NULL && src->html_url != NULL)
        put(b, so, "home_page_url", jstr(b, src->html_url));
    put(b, so, "category", jstr(b, src != NULL ? src->category : NULL));
    put(b, ext, "source", so);
    put(b, ext, "category", jstr(b, src != NULL ? src->category : NULL));
    char display[TM_DATE_DISPLAY_LEN];
    if (display_date(v, it, display) == 0)
        put(b, ext, "display_date", json_string(display));
    else
        fail(b, TM_EINVAL, "cannot write a display date");
    put(b, ext, "also_in", also_in(b, v, story));
    return ext;
}

static json_t *item(struct builder *b, const struct tm_view *v, const struct tm_story *story)
{
    const struct tm_item *it = &v->items[story->primary];
    json_t *o = json_object();
    put(b, o, "id", jstr(b, story->entry_id));
    if (it->link != NULL)
        put(b, o, "url", jstr(b, it->link));
    if (it->title != NULL)
        put(b, o, "title", jstr(b, it->title));
    const char *html = it->content != NULL ? it->content : it->summary;
    if (html != NULL)
        put(b, o, "content_html", jstr(b, html));
    else /* JSON Feed 1.1 requires content_html or content_text. */
        put(b, o, "content_text", jstr(b, it->title != NULL ? it->title : ""));
    if (it->summary != NULL) {
        bool oom = false;
        char *plain = tm_text_plain(it->summary, strlen(it->summary), &oom);
        if (oom)
            fail(b, TM_ENOMEM, "out of memory");
        if (plain != NULL)
            put(b, o, "summary", jstr(b, plain));
        free(plain);
    }
    put(b, o, "date_published", jdate(b, it->published_utc));
    if (it->updated_utc != TM_TIME_NONE)
        put(b, o, "date_modified", jdate(b, it->updated_utc));
    if (it->author != NULL) {
        json_t *authors = json_array();
        json_t *a = json_object();
        put(b, a, "name", jstr(b, it->author));
        push(b, authors, a);
        put(b, o, "authors", authors);
    }
    if (it->n_categories > 0) {
        json_t *tags = json_array();
        for (size_t i = 0; i < it->n_categories; i++)
            if (it->categories[i] != NULL && it->categories[i][0] != '\0')
                push(b, tags, jstr(b, it->categories[i]));
        put(b, o, "tags", tags);
    }
    put(b, o, "_tinmoi", item_ext(b, v, story));
    return o;
}

static json_t *sources(struct builder *b, const struct tm_view *v, const char *category)
{
    json_t *arr = json_array();
    const struct tm_config *cfg = v->config;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const struct tm_source *s = &cfg->sources[i];
        if (category != NULL && !same(s->category, category))
            continue;
        const struct tm_source_state *st = v->states != NULL ? &v->states[i] : NULL;
        json_t *o = json_object();
        put(b, o, "id", jstr(b, s->id));
        put(b, o, "title", jstr(b, s->title));
        put(b, o, "url", jstr(b, s->url));
        put(b, o, "category", jstr(b, s->category));
        put(b, o, "status",
            json_string(tm_source_status_name(st != NULL ? st->status : TM_SOURCE_NEVER)));
        put(b, o, "last_success", jdate(b, st != NULL ? st->last_success_utc : TM_TIME_NONE));
        put(b, o, "last_error", jstr(b, st != NULL ? st->last_error : NULL));
        put(b, o, "consecutive_failures", json_integer(st != NULL ? st->consecutive_failures : 0));
        put(b, o, "item_count", json_integer(st != NULL ? st->item_count : 0));
        push(b, arr, o);
    }
    return arr;
}

static json_t *document(struct builder *b, const struct tm_view *v, const char *category,
                        int64_t generated_utc)
{
    const struct tm_config *cfg = v->config;
    char name[256], url[2048], title[1024];
    snprintf(name, sizeof name, "%s.json", category != NULL ? category : "snapshot");
    int n_url = snprintf(url, sizeof url, "%s%s", cfg->public_url, name);
    if (n_url < 0 || (size_t)n_url >= sizeof url) {
        fail(b, TM_EINVAL, "public_url too long");
        return NULL;
    }
    if (category != NULL)
        snprintf(title, sizeof title, "%s — %s", cfg->title, category);
    else
        snprintf(title, sizeof title, "%s", cfg->title);

    json_t *doc = json_object();
    put(b, doc, "version", json_string(TM_JSONFEED_VERSION));
    put(b, doc, "title", jstr(b, title));
    put(b, doc, "home_page_url", jstr(b, cfg->public_url));
    put(b, doc, "feed_url", jstr(b, url));
    put(b, doc, "language", json_string("vi"));

    size_t items_limit = cfg->items_limit > 0 ? (size_t)cfg->items_limit : 0;
    size_t in_box = box_len(cfg);
    json_t *items = json_array();
    json_t *latest = json_array();
    size_t n = 0;
    for (size_t i = 0; i < v->n_stories && n < items_limit && b->rc == 0; i++) {
        const struct tm_story *s = &v->stories[i];
        if (!tm_view_story_in(v, s, category))
            continue;
        push(b, items, item(b, v, s));
        if (n < in_box)
            push(b, latest, jstr(b, s->entry_id));
        n++;
    }
    put(b, doc, "items", items);

    json_t *ext = json_object();
    put(b, ext, "generated_at", jdate(b, generated_utc));
    put(b, ext, "latest", latest);
    put(b, ext, "sources", sources(b, v, category));
    put(b, doc, "_tinmoi", ext);
    return doc;
}

int tm_jsonfeed_render(const struct tm_view *v, const char *category, int64_t generated_utc,
                       char **out, size_t *out_len, struct tm_error *err)
{
    *out = NULL;
    *out_len = 0;
    struct builder b = {.rc = 0, .err = err};
    json_t *doc = document(&b, v, category, generated_utc);
    if (doc == NULL)
        fail(&b, TM_ENOMEM, "out of memory");
    if (b.rc != 0) {
        json_decref(doc);
        return b.rc;
    }
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (text == NULL)
        return tm_error_set(err, TM_ENOMEM, "jsonfeed: out of memory");
    size_t len = strlen(text);
    char *data = realloc(text, len + 2);
    if (data == NULL) {
        free(text);
        return tm_error_set(err, TM_ENOMEM, "jsonfeed: out of memory");
    }
    data[len] = '\n';
    data[len + 1] = '\0';
    *out = data;
    *out_len = len + 1;
    return 0;
}

int tm_jsonfeed_generated_at(const char *data, size_t len, int64_t *out_utc)
{
    json_error_t jerr;
    json_t *doc = json_loadb(data, len, 0, &jerr);
    if (doc == NULL)
        return TM_EPARSE;
    int rc = TM_ENOENT;
    json_t *ext = json_object_get(doc, "_tinmoi");
    const char *s = json_string_value(json_object_get(ext, "generated_at"));
    int64_t utc;
    if (s != NULL && tm_date_parse(s, NULL, &utc) == 0) {
        *out_utc = utc;
        rc = 0;
    }
    json_decref(doc);
    return rc;
}

int tm_jsonfeed_each_box(const struct tm_view *v,
                         int (*fn)(void *ud, const struct tm_jsonfeed_headline *h), void *ud)
{
    /* The merged list's file: every story is in it, so its first ones. */
    for (size_t i = 0, n = box_len(v->config); i < v->n_stories && i < n; i++) {
        const struct tm_item *it = &v->items[v->stories[i].primary];
        char display[TM_DATE_DISPLAY_LEN];
        if (display_date(v, it, display) != 0)
            return TM_EINVAL;
        struct tm_jsonfeed_headline h = {
            .title = it->title, .url = it->link, .display_date = display};
        int rc = fn(ud, &h);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int tm_jsonfeed_each_latest(const struct json_t *doc,
                            int (*fn)(void *ud, const struct tm_jsonfeed_headline *h), void *ud)
{
    const json_t *latest = json_object_get(json_object_get(doc, "_tinmoi"), "latest");
    const json_t *items = json_object_get(doc, "items");
    size_t i, k;
    const json_t *id, *item;
    /* The box holds latest_limit ids (8) among items_limit items: a scan
     * per id is cheaper than building an index. */
    json_array_foreach(latest, i, id)
    {
        json_array_foreach(items, k, item)
        {
            if (!json_equal(json_object_get(item, "id"), id))
                continue;
            struct tm_jsonfeed_headline h = {
                .title = json_string_value(json_object_get(item, "title")),
                .url = json_string_value(json_object_get(item, "url")),
                .display_date = json_string_value(
                    json_object_get(json_object_get(item, "_tinmoi"), "display_date")),
            };
            int rc = fn(ud, &h);
            if (rc != 0)
                return rc;
            break;
        }
    }
    return 0;
}
