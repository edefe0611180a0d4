/* tinmoi — the normalised JSON of a parsed feed (SPEC §5), via jansson.
 * Pure: no I/O. */
#ifndef TINMOI_FEED_JSON_H
#define TINMOI_FEED_JSON_H

#include "tinmoi/feed.h"

/* Serialises `feed` as the SPEC §5 object (keys in the SPEC's order, two-space
 * indentation, non-ASCII kept as UTF-8, a trailing newline). `feed` may be
 * NULL for a document that is not a feed (format null, empty feed/entries,
 * `errors` from `errors`/`n_errors`). Returns a malloc'd string or NULL on OOM. */
char *tm_feed_to_json(const struct tm_feed *feed, char *const *errors, size_t n_errors);

#endif
