/* tinmoi — the publishing half: store → merge → publish.
 *
 * Loads the stored items and the sources' states, merges them into stories
 * (SPEC §7), publishes every output file (SPEC §6) and, once they are out,
 * records the entry ids the merge gave so they never change. Runs after a
 * cycle (`tinmoi once`) or when the daemon's coalesced "something changed"
 * timer fires. */
#ifndef TINMOI_REFRESH_H
#define TINMOI_REFRESH_H

#include <stddef.h>
#include <stdint.h>

#include "tinmoi/config.h"
#include "tinmoi/error.h"
#include "tinmoi/publish.h"
#include "tinmoi/store.h"

struct tm_refresh_stats {
    size_t n_items;   /* items loaded from the store */
    size_t n_stories; /* stories after the merge */
    /* Similar-title pairs the merge left out at TM_MERGE_MAX_PAIRS (> 0:
     * some stories may be split; worth a warning in the log). */
    size_t merge_pairs_dropped;
};

/* Publishes from the store at `now_utc`, holding the store throughout
 * (tm_store_hold: one state of it). On 0 `res` holds the published
 * files (caller clears it with tm_publish_result_clear) and `stats` (may be
 * NULL) the counts. On failure nothing already published is touched and
 * `err` says why (TM_ESTORE, TM_EIO, TM_ENOMEM). */
int tm_refresh(struct tm_store *store, const struct tm_config *config, int64_t now_utc,
               struct tm_publish_result *res, struct tm_refresh_stats *stats, struct tm_error *err);

#endif
