/* tinmoi — the writers' view of the merged list and the sources. */
#include "tinmoi/view.h"

#include <stdlib.h>
#include <string.h>

#include "tinmoi/feed.h"

static int compare_refs(const void *a, const void *b)
{
    const struct tm_view_ref *ra = a;
    const struct tm_view_ref *rb = b;
    return strcmp(ra->id, rb->id);
}

int64_t tm_view_item_updated_utc(const struct tm_item *item)
{
    return tm_item_changed_utc(item->published_utc, item->updated_utc);
}

static ptrdiff_t source_index(const struct tm_view *v, const char *source_id)
{
    if (source_id == NULL || v->by_id == NULL)
        return -1;
    struct tm_view_ref key = {.id = source_id, .index = 0};
    const struct tm_view_ref *hit =
        bsearch(&key, v->by_id, v->config->n_sources, sizeof *v->by_id, compare_refs);
    return hit == NULL ? -1 : (ptrdiff_t)hit->index;
}

int tm_view_init(struct tm_view *v, const struct tm_config *config,
                 const struct tm_source_state *states, const struct tm_item *items, size_t n_items,
                 const struct tm_story *stories, size_t n_stories,
                 const int64_t *source_updated_utc, struct tm_error *err)
{
    memset(v, 0, sizeof *v);
    if (config == NULL || config->public_url == NULL || config->title == NULL)
        return tm_error_set(err, TM_EINVAL, "publish: config without title or public_url");
    for (size_t i = 0; i < n_stories; i++) {
        const struct tm_story *s = &stories[i];
        if (s->entry_id == NULL || s->entry_id[0] == '\0')
            return tm_error_set(err, TM_EINVAL, "publish: story %zu has no entry id", i);
        if (s->primary >= n_items)
            return tm_error_set(err, TM_EINVAL, "publish: story %s: primary out of range",
                                s->entry_id);
        for (size_t m = 0; m < s->n_members; m++)
            if (s->members[m] >= n_items)
                return tm_error_set(err, TM_EINVAL, "publish: story %s: member out of range",
                                    s->entry_id);
    }
    v->config = config;
    v->states = states;
    v->items = items;
    v->n_items = n_items;
    v->stories = stories;
    v->n_stories = n_stories;
    size_t n = config->n_sources;
    if (n > 0) {
        v->by_id = calloc(n, sizeof *v->by_id);
        if (v->by_id == NULL)
            return tm_error_set(err, TM_ENOMEM, "publish: out of memory");
        for (size_t i = 0; i < n; i++) {
            v->by_id[i].id = config->sources[i].id != NULL ? config->sources[i].id : "";
            v->by_id[i].index = i;
        }
        qsort(v->by_id, n, sizeof *v->by_id, compare_refs);
    }
    if (source_updated_utc != NULL || n == 0) {
        v->source_updated_utc = source_updated_utc;
        return 0;
    }
    int64_t *dates = malloc(n * sizeof *dates);
    if (dates == NULL) {
        tm_view_clear(v);
        return tm_error_set(err, TM_ENOMEM, "publish: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        dates[i] = TM_TIME_NONE;
    for (size_t i = 0; i < n_items; i++) {
        ptrdiff_t si = source_index(v, items[i].source_id);
        if (si < 0)
            continue;
        int64_t t = tm_view_item_updated_utc(&items[i]);
        if (t != TM_TIME_NONE && t > dates[si])
            dates[si] = t;
    }
    v->own_updated_utc = dates;
    v->source_updated_utc = dates;
    return 0;
}

void tm_view_clear(struct tm_view *v)
{
    if (v == NULL)
        return;
    free(v->by_id);
    free(v->own_updated_utc);
    v->by_id = NULL;
    v->own_updated_utc = NULL;
    v->source_updated_utc = NULL;
}

const struct tm_source *tm_view_source(const struct tm_view *v, const char *source_id,
                                       const struct tm_source_state **state)
{
    ptrdiff_t si = source_index(v, source_id);
    if (state != NULL)
        *state = (si >= 0 && v->states != NULL) ? &v->states[si] : NULL;
    return si >= 0 ? &v->config->sources[si] : NULL;
}

const char *tm_view_story_category(const struct tm_view *v, const struct tm_story *story)
{
    const struct tm_source *src = tm_view_source(v, v->items[story->primary].source_id, NULL);
    return src != NULL ? src->category : NULL;
}

bool tm_view_story_in(const struct tm_view *v, const struct tm_story *story, const char *category)
{
    if (category == NULL)
        return true;
    const char *c = tm_view_story_category(v, story);
    return c != NULL && strcmp(c, category) == 0;
}
