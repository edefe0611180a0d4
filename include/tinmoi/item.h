/* tinmoi — a stored item and a merged story (SPEC §7).
 *
 * Plain data: the store produces arrays of tm_item for the publishing half;
 * merge groups them into tm_story; the writers turn stories into Atom and
 * JSON. Strings are owned by the item; free with tm_item_clear. */
#ifndef TINMOI_ITEM_H
#define TINMOI_ITEM_H

#include <stddef.h>
#include <stdint.h>

struct tm_item {
    int64_t rowid;         /* the store's id for the item */
    char *source_id;       /* tm_source.id it came from */
    int source_priority;   /* copied from the source at load time */
    char *key;             /* per-source identity (guid, canonical link or hash) */
    char *guid;            /* the feed's own id, or NULL */
    char *title;           /* plain text, or NULL */
    char *link;            /* absolute link as published, or NULL */
    char *canonical_link;  /* tm_link_canonical(link), or NULL */
    char *norm_title;      /* tm_title_normalize(title), or NULL */
    int64_t published_utc; /* after SPEC §7 rules: never TM_TIME_NONE, never > 1 day ahead */
    int64_t updated_utc;   /* TM_TIME_NONE when absent */
    int64_t first_seen_utc;
    char *author;
    char *summary; /* sanitised HTML or NULL */
    char *content; /* sanitised HTML or NULL */
    char **categories;
    size_t n_categories;
    char *entry_id; /* published entry this item belongs to, NULL if never published */
};

/* A merged story: one or more items the same story, from several sources. */
struct tm_story {
    size_t primary;  /* index into the item array of the primary item */
    size_t *members; /* indexes of every item in the story, primary first */
    size_t n_members;
    /* The stable published id: the id of the member it was claimed from
     * (borrowed: the items outlive their stories) or new_entry_id. */
    const char *entry_id;
    char *new_entry_id; /* owned: an id this merge assigned, NULL when claimed */
    int64_t sort_utc;   /* the primary's published_utc: the story's place in the list */
};

/* The date an item was last changed: the later of its published and
 * updated dates (updated may be TM_TIME_NONE). */
int64_t tm_item_changed_utc(int64_t published_utc, int64_t updated_utc);

void tm_item_clear(struct tm_item *item);
void tm_items_free(struct tm_item *items, size_t n);
void tm_stories_free(struct tm_story *stories, size_t n);

#endif
