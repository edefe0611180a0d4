/* tinmoi — a parsed feed as the SPEC §5 JSON, via jansson. */
#include "tinmoi/feed_json.h"

#include "tinmoi/date.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Builders return false on OOM; every jansson result is checked. */

static bool set(json_t *obj, const char *key, json_t *value)
{
    return value != NULL && json_object_set_new(obj, key, value) == 0;
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t utc)
{
    char buf[TM_DATE_RFC3339_LEN];
    if (utc == TM_TIME_NONE || tm_date_format_rfc3339(utc, buf) < 0)
        return json_null();
    return json_string(buf);
}

static json_t *strings(char *const *v, size_t n)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(a, json_string(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *feed_object(const struct tm_feed *f)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (set(o, "title", str_or_null(f->title)) && set(o, "link", str_or_null(f->link)) &&
        set(o, "id", str_or_null(f->id)) && set(o, "subtitle", str_or_null(f->subtitle)) &&
        set(o, "language", str_or_null(f->language)) &&
        set(o, "updated", time_or_null(f->updated_utc)) &&
        set(o, "author", str_or_null(f->author)) &&
        set(o, "generator", str_or_null(f->generator)) &&
        set(o, "rights", str_or_null(f->rights)) && set(o, "image", str_or_null(f->image)))
        return o;
    json_decref(o);
    return NULL;
}

static json_t *enclosure_object(const struct tm_enclosure *e)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (set(o, "url", str_or_null(e->url)) && set(o, "type", str_or_null(e->type)) &&
        set(o, "length", e->length >= 0 ? json_integer((json_int_t)e->length) : json_null()))
        return o;
    json_decref(o);
    return NULL;
}

static json_t *entry_object(const struct tm_entry *e)
{
    json_t *o = json_object();
    json_t *encs = json_array();
    if (o == NULL || encs == NULL)
        goto fail;
    for (size_t i = 0; i < e->n_enclosures; i++)
        if (json_array_append_new(encs, enclosure_object(&e->enclosures[i])) < 0)
            goto fail;
    if (set(o, "id", str_or_null(e->id)) && set(o, "title", str_or_null(e->title)) &&
        set(o, "link", str_or_null(e->link)) &&
        set(o, "published", time_or_null(e->published_utc)) &&
        set(o, "updated", time_or_null(e->updated_utc)) &&
        set(o, "author", str_or_null(e->author)) && set(o, "summary", str_or_null(e->summary)) &&
        set(o, "content", str_or_null(e->content)) &&
        set(o, "categories", strings(e->categories, e->n_categories))) {
        if (json_object_set_new(o, "enclosures", encs) == 0)
            return o;
        encs = NULL;
    }
fail:
    json_decref(encs);
    json_decref(o);
    return NULL;
}

static json_t *document(const struct tm_feed *f, char *const *errors, size_t n_errors)
{
    json_t *root = json_object();
    if (root == NULL)
        return NULL;
    bool feed = f != NULL && f->format != TM_FORMAT_NONE;
    if (f != NULL && n_errors == 0) {
        errors = f->errors;
        n_errors = f->n_errors;
    }
    json_t *entries = json_array();
    if (entries == NULL)
        goto fail;
    if (feed) {
        for (size_t i = 0; i < f->n_entries; i++) {
            if (json_array_append_new(entries, entry_object(&f->entries[i])) < 0) {
                json_decref(entries);
                goto fail;
            }
        }
    }
    if (!set(root, "format", str_or_null(feed ? tm_format_name(f->format) : NULL)) ||
        !set(root, "encoding", str_or_null(f ? f->encoding : NULL)) ||
        !set(root, "feed", feed ? feed_object(f) : json_null())) {
        json_decref(entries);
        goto fail;
    }
    /* json_object_set_new takes the reference even when it fails. */
    if (!set(root, "entries", entries) || !set(root, "errors", strings(errors, n_errors)))
        goto fail;
    return root;
fail:
    json_decref(root);
    return NULL;
}

char *tm_feed_to_json(const struct tm_feed *feed, char *const *errors, size_t n_errors)
{
    json_t *root = document(feed, errors, n_errors);
    if (root == NULL)
        return NULL;
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return NULL;
    size_t len = strlen(text);
    char *out = realloc(text, len + 2);
    if (out == NULL) {
        free(text);
        return NULL;
    }
    out[len] = '\n';
    out[len + 1] = '\0';
    return out;
}
