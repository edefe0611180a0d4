/* tinmoi — the feed model's names and destructors. */
#include "tinmoi/feed.h"

#include <stdlib.h>

const char *tm_format_name(enum tm_format format)
{
    switch (format) {
    case TM_FORMAT_RSS090:
        return "rss090";
    case TM_FORMAT_RSS091:
        return "rss091";
    case TM_FORMAT_RSS092:
        return "rss092";
    case TM_FORMAT_RSS093:
        return "rss093";
    case TM_FORMAT_RSS094:
        return "rss094";
    case TM_FORMAT_RSS20:
        return "rss20";
    case TM_FORMAT_RSS10:
        return "rss10";
    case TM_FORMAT_ATOM03:
        return "atom03";
    case TM_FORMAT_ATOM10:
        return "atom10";
    case TM_FORMAT_NONE:
        break;
    }
    return NULL;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void tm_entry_clear(struct tm_entry *e)
{
    if (e == NULL)
        return;
    free(e->id);
    free(e->title);
    free(e->link);
    free(e->author);
    free(e->summary);
    free(e->content);
    free(e->html_base);
    free_strings(e->categories, e->n_categories);
    for (size_t i = 0; i < e->n_enclosures; i++) {
        free(e->enclosures[i].url);
        free(e->enclosures[i].type);
    }
    free(e->enclosures);
}

void tm_feed_free(struct tm_feed *f)
{
    if (f == NULL)
        return;
    free(f->encoding);
    free(f->title);
    free(f->link);
    free(f->id);
    free(f->subtitle);
    free(f->language);
    free(f->author);
    free(f->generator);
    free(f->rights);
    free(f->image);
    for (size_t i = 0; i < f->n_entries; i++)
        tm_entry_clear(&f->entries[i]);
    free(f->entries);
    free_strings(f->errors, f->n_errors);
    free(f);
}
