/* tinmoi — the publishing half: store → merge → publish. */
#include "tinmoi/refresh.h"

#include <stdlib.h>

#include "tinmoi/item.h"
#include "tinmoi/merge.h"

/* The states of the configured sources, aligned with config->sources. A
 * source the store has never seen is "never". Caller frees with
 * states_free. */
static int load_states(struct tm_store *store, const struct tm_config *cfg,
                       struct tm_source_state **out, struct tm_error *err)
{
    struct tm_source_state *states = calloc(cfg->n_sources ? cfg->n_sources : 1, sizeof *states);
    if (states == NULL)
        return tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
    for (size_t i = 0; i < cfg->n_sources; i++) {
        int rc = tm_store_source_state(store, cfg->sources[i].id, &states[i], err);
        if (rc == TM_ENOENT) {
            states[i] = (struct tm_source_state){.last_attempt_utc = TM_TIME_NONE,
                                                 .last_success_utc = TM_TIME_NONE};
        } else if (rc < 0) {
            for (size_t k = 0; k < i; k++)
                tm_source_state_clear(&states[k]);
            free(states);
            return rc;
        }
    }
    *out = states;
    return 0;
}

static void states_free(struct tm_source_state *states, size_t n)
{
    if (states == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        tm_source_state_clear(&states[i]);
    free(states);
}

int tm_refresh(struct tm_store *store, const struct tm_config *cfg, int64_t now_utc,
               struct tm_publish_result *res, struct tm_refresh_stats *stats, struct tm_error *err)
{
    struct tm_source_state *states = NULL;
    struct tm_item *items = NULL;
    size_t n_items = 0;
    struct tm_story *stories = NULL;
    size_t n_stories = 0;

    int rc = load_states(store, cfg, &states, err);
    if (rc < 0)
        return rc;
    /* Every stored item takes part: a category feed's newest items may be
     * older than the merged list's, and the merge must see both sides of a
     * story to keep its entry id. */
    rc = tm_store_load_items(store, TM_TIME_NONE, &items, &n_items, err);
    if (rc < 0)
        goto out;
    struct tm_merge_opts mopts = {.public_url = cfg->public_url};
    rc = tm_merge(items, n_items, &mopts, &stories, &n_stories);
    if (rc < 0) {
        tm_error_set(err, rc, "merge: %s", tm_strerror(rc));
        goto out;
    }
    struct tm_publish_input in = {
        .config = cfg,
        .states = states,
        .items = items,
        .n_items = n_items,
        .stories = stories,
        .n_stories = n_stories,
        .now_utc = now_utc,
    };
    rc = tm_publish_all(&in, res, err);
    if (rc < 0)
        goto out;
    /* Only ids that are out in the world need to be remembered; recording
     * them after the files are in place keeps a failed publish harmless. */
    rc = tm_store_set_entry_ids(store, items, stories, n_stories, err);
    if (rc < 0) {
        tm_publish_result_clear(res);
        goto out;
    }
    if (stats) {
        stats->n_items = n_items;
        stats->n_stories = n_stories;
    }
out:
    tm_stories_free(stories, n_stories);
    tm_items_free(items, n_items);
    states_free(states, cfg->n_sources);
    return rc;
}
