/* tinmoi — what the output writers render (SPEC §6).
 *
 * A view borrows the merged list (items and stories, newest first) and the
 * configured sources with their states, and adds a lookup from a source id
 * to its configuration. Pure: no I/O. The atom and jsonfeed writers take a
 * view; tm_publish_all builds one. */
#ifndef TINMOI_VIEW_H
#define TINMOI_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinmoi/config.h"
#include "tinmoi/error.h"
#include "tinmoi/item.h"
#include "tinmoi/source.h"

struct tm_view_ref {
    const char *id; /* borrowed from config->sources[index].id */
    size_t index;
};

struct tm_view {
    const struct tm_config *config;       /* title, public_url, limits, utc_offset_s, sources */
    const struct tm_source_state *states; /* config->n_sources states, aligned; NULL: all "never" */
    const struct tm_item *items;
    size_t n_items;
    const struct tm_story *stories; /* newest first; stories[i].entry_id never NULL */
    size_t n_stories;
    /* Per configured source: the latest date among its items (max of
     * published and updated), TM_TIME_NONE if none; the caller's array
     * (tm_view_init's argument) or own_updated_utc. */
    const int64_t *source_updated_utc;
    /* Owned by the view: */
    struct tm_view_ref *by_id; /* config->sources sorted by id, for bsearch */
    int64_t *own_updated_utc;  /* the dates taken from `items`; NULL when borrowed */
};

/* Builds a view over borrowed arrays that must outlive it. Checks that every
 * story's primary and members index `items` and that every story has an
 * entry_id (TM_EINVAL otherwise, with detail in `err`); `config` must have a
 * non-NULL public_url and title. `source_updated_utc` (aligned with
 * config->sources, borrowed like the rest) gives the per-source dates when
 * `items` holds only what is rendered; NULL: they are taken from `items`.
 * TM_ENOMEM. Free with tm_view_clear. */
int tm_view_init(struct tm_view *v, const struct tm_config *config,
                 const struct tm_source_state *states, const struct tm_item *items, size_t n_items,
                 const struct tm_story *stories, size_t n_stories,
                 const int64_t *source_updated_utc, struct tm_error *err);

/* Frees what the view owns (not the borrowed arrays). Accepts NULL. */
void tm_view_clear(struct tm_view *v);

/* The configured source with `source_id`, or NULL (an item whose source has
 * left the source list). `state` (may be NULL) receives its state or NULL. */
const struct tm_source *tm_view_source(const struct tm_view *v, const char *source_id,
                                       const struct tm_source_state **state);

/* The category of a story: its primary item's source's category. NULL when
 * the source is unknown or has none. A story appears in exactly one
 * category's files, the same one its `_tinmoi.category` names. */
const char *tm_view_story_category(const struct tm_view *v, const struct tm_story *story);

/* True when `story` belongs in the output for `category` (NULL: every story). */
bool tm_view_story_in(const struct tm_view *v, const struct tm_story *story, const char *category);

/* The date an entry was last changed: max(published, updated) of `item`. */
int64_t tm_view_item_updated_utc(const struct tm_item *item);

#endif
