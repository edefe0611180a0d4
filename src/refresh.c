/* tinmoi — the publishing half: store → merge → publish. */
#include "tinmoi/refresh.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

/* A configured source's category, by source id. */
struct cat_ref {
    const char *id;
    const char *category;
};

static int on_qsort_cat_ref(const void *a, const void *b)
{
    return strcmp(((const struct cat_ref *)a)->id, ((const struct cat_ref *)b)->id);
}

/* The items the writers render: every member of the stories within the
 * first `limit` of the merged list (latest.atom, snapshot.json) or of their
 * primary's category (<category>.atom and .json; a story is in the
 * category of its primary's source, tm_view_story_category). Sets *idx
 * (caller frees) and *n_idx. */
static int render_set(const struct tm_config *cfg, const struct tm_item *items,
                      const struct tm_story *stories, size_t n_stories, size_t **idx, size_t *n_idx)
{
    size_t limit = cfg->items_limit > 0 ? (size_t)cfg->items_limit : 0;
    if (cfg->latest_limit > 0 && (size_t)cfg->latest_limit > limit)
        limit = (size_t)cfg->latest_limit;
    size_t n_src = cfg->n_sources;
    struct cat_ref *refs = malloc((n_src ? n_src : 1) * sizeof *refs);
    /* Per category rank: a category's stories counted so far, by its
     * position among the distinct categories (few: a linear search). */
    const char **cats = malloc((n_src ? n_src : 1) * sizeof *cats);
    size_t *counts = calloc(n_src ? n_src : 1, sizeof *counts);
    size_t n_cats = 0, cap = 0, n = 0;
    size_t *v = NULL;
    int rc = TM_ENOMEM;
    if (refs == NULL || cats == NULL || counts == NULL)
        goto done;
    for (size_t i = 0; i < n_src; i++)
        refs[i] = (struct cat_ref){cfg->sources[i].id != NULL ? cfg->sources[i].id : "",
                                   cfg->sources[i].category};
    qsort(refs, n_src, sizeof *refs, on_qsort_cat_ref);
    for (size_t i = 0; i < n_stories; i++) {
        const struct tm_story *s = &stories[i];
        const char *sid = items[s->primary].source_id;
        const char *cat = NULL;
        if (sid != NULL && n_src > 0) {
            struct cat_ref key = {sid, NULL};
            const struct cat_ref *hit = bsearch(&key, refs, n_src, sizeof *refs, on_qsort_cat_ref);
            cat = hit != NULL ? hit->category : NULL;
        }
        bool take = i < limit;
        if (cat != NULL) {
            size_t c = 0;
            while (c < n_cats && strcmp(cats[c], cat) != 0)
                c++;
            if (c == n_cats)
                cats[n_cats++] = cat;
            if (counts[c]++ < limit)
                take = true;
        }
        if (!take)
            continue;
        if (n + s->n_members > cap) {
            size_t ncap = cap ? cap * 2 : 256;
            while (ncap < n + s->n_members)
                ncap *= 2;
            size_t *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL)
                goto done;
            v = nv;
            cap = ncap;
        }
        for (size_t m = 0; m < s->n_members; m++)
            v[n++] = s->members[m];
    }
    *idx = v;
    *n_idx = n;
    v = NULL;
    rc = 0;
done:
    free(v);
    free(refs);
    free(cats);
    free(counts);
    return rc;
}

int tm_refresh(struct tm_store *store, const struct tm_config *cfg, int64_t now_utc,
               struct tm_publish_result *res, struct tm_refresh_stats *stats, struct tm_error *err)
{
    struct tm_source_state *states = NULL;
    struct tm_store_items set = {NULL, 0, NULL};
    struct tm_story *stories = NULL;
    size_t n_stories = 0;
    size_t *idx = NULL, n_idx = 0;

    int rc = load_states(store, cfg, &states, err);
    if (rc < 0)
        return rc;
    /* Every stored item takes part: a category feed's newest items may be
     * older than the merged list's, and the merge must see both sides of a
     * story to keep its entry id. They are loaded lean (the merge's fields
     * only); the display fields are read for the items the writers render,
     * so memory follows the archive's rows, not its content. */
    rc = tm_store_load_lean(store, TM_TIME_NONE, &set, err);
    if (rc < 0)
        goto out;
    struct tm_merge_opts mopts = {.public_url = cfg->public_url};
    struct tm_merge_stats mstats;
    rc = tm_merge_ex(set.items, set.n, &mopts, &stories, &n_stories, &mstats);
    if (rc < 0) {
        tm_error_set(err, rc, "merge: %s", tm_strerror(rc));
        goto out;
    }
    rc = render_set(cfg, set.items, stories, n_stories, &idx, &n_idx);
    if (rc < 0) {
        tm_error_set(err, rc, "%s", tm_strerror(rc));
        goto out;
    }
    rc = tm_store_load_display(store, &set, idx, n_idx, err);
    if (rc < 0)
        goto out;
    struct tm_publish_input in = {
        .config = cfg,
        .states = states,
        .items = set.items,
        .n_items = set.n,
        .stories = stories,
        .n_stories = n_stories,
        .now_utc = now_utc,
    };
    rc = tm_publish_all(&in, res, err);
    if (rc < 0)
        goto out;
    /* Only ids that are out in the world need to be remembered; recording
     * them after the files are in place keeps a failed publish harmless. */
    rc = tm_store_set_entry_ids(store, set.items, stories, n_stories, err);
    if (rc < 0) {
        tm_publish_result_clear(res);
        goto out;
    }
    if (stats) {
        stats->n_items = set.n;
        stats->n_stories = n_stories;
        stats->merge_pairs_dropped = mstats.pairs_dropped;
    }
out:
    free(idx);
    tm_stories_free(stories, n_stories);
    tm_store_items_clear(&set);
    states_free(states, cfg->n_sources);
    return rc;
}
