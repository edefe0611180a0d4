/* tinmoi — destructors of the plain data shared between stages. */
#include "tinmoi/item.h"
#include "tinmoi/date.h"
#include "tinmoi/source.h"

#include <stdlib.h>

int64_t tm_item_changed_utc(int64_t published_utc, int64_t updated_utc)
{
    return updated_utc != TM_TIME_NONE && updated_utc > published_utc ? updated_utc : published_utc;
}

void tm_item_clear(struct tm_item *it)
{
    if (it == NULL)
        return;
    free(it->source_id);
    free(it->key);
    free(it->guid);
    free(it->title);
    free(it->link);
    free(it->canonical_link);
    free(it->norm_title);
    free(it->author);
    free(it->summary);
    free(it->content);
    for (size_t i = 0; i < it->n_categories; i++)
        free(it->categories[i]);
    free(it->categories);
    free(it->entry_id);
}

void tm_items_free(struct tm_item *items, size_t n)
{
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        tm_item_clear(&items[i]);
    free(items);
}

void tm_stories_free(struct tm_story *stories, size_t n)
{
    if (stories == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(stories[i].members);
        free(stories[i].new_entry_id);
    }
    free(stories);
}

void tm_source_clear(struct tm_source *s)
{
    if (s == NULL)
        return;
    free(s->id);
    free(s->title);
    free(s->url);
    free(s->html_url);
    free(s->category);
}

void tm_source_state_clear(struct tm_source_state *st)
{
    if (st == NULL)
        return;
    free(st->etag);
    free(st->last_modified);
    free(st->last_error);
    st->etag = st->last_modified = st->last_error = NULL;
}

const char *tm_source_status_name(enum tm_source_status status)
{
    switch (status) {
    case TM_SOURCE_OK:
        return "ok";
    case TM_SOURCE_ERROR:
        return "error";
    case TM_SOURCE_NEVER:
        break;
    }
    return "never";
}
