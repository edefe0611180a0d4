/* tinmoi — the publishing half: store → merge → publish. */
#include "tinmoi/refresh.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "tinmoi/heap.h"
#include "tinmoi/log.h"
#include "tinmoi/item.h"
#include "tinmoi/merge.h"

/* The states of the configured sources, aligned with config->sources (a
 * source the store has never seen gets the empty state, "never"). Caller
 * frees with states_free. */
static int load_states(struct tm_store *store, const struct tm_config *cfg,
                       struct tm_source_state **out, struct tm_error *err)
{
    struct tm_source_state *states = calloc(cfg->n_sources ? cfg->n_sources : 1, sizeof *states);
    if (states == NULL)
        return tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
    for (size_t i = 0; i < cfg->n_sources; i++) {
        int rc = tm_store_source_state(store, cfg->sources[i].id, &states[i], err);
        if (rc < 0) {
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

/* The stories the writers render: those within the first `limit` of the
 * merged list (latest.atom, snapshot.json) or of their primary's category
 * (<category>.atom and .json; a story is in the category of its primary's
 * source, tm_view_story_category). Sets *idx (indexes into `stories`, in
 * their order; caller frees) and *n_idx. */
static int render_set(const struct tm_config *cfg, const struct tm_store_rows *set,
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
        const char *sid = set->source_ids[set->rows[stories[i].primary].source];
        const char *cat = NULL;
        if (n_src > 0) {
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
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            size_t *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL)
                goto done;
            v = nv;
            cap = ncap;
        }
        v[n++] = i;
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

/* What the writers get: the rendered stories, their members renumbered into
 * `items` (loaded whole for them alone). The stories borrow their entry
 * ids; `members` holds every story's member list. */
struct shown {
    struct tm_item *items;
    size_t n_items;
    struct tm_story *stories;
    size_t n_stories;
    size_t *members;
};

static void shown_clear(struct shown *sh)
{
    tm_items_free(sh->items, sh->n_items);
    free(sh->stories);
    free(sh->members);
    *sh = (struct shown){0};
}

static int load_shown(struct tm_store *store, const struct tm_store_rows *set,
                      const struct tm_story *stories, const size_t *idx, size_t n_idx,
                      struct shown *sh, struct tm_error *err)
{
    *sh = (struct shown){0};
    size_t n = 0;
    for (size_t k = 0; k < n_idx; k++)
        n += stories[idx[k]].n_members;
    int64_t *rowids = malloc((n != 0 ? n : 1) * sizeof *rowids);
    sh->members = malloc((n != 0 ? n : 1) * sizeof *sh->members);
    sh->stories = calloc(n_idx != 0 ? n_idx : 1, sizeof *sh->stories);
    if (rowids == NULL || sh->members == NULL || sh->stories == NULL) {
        free(rowids);
        shown_clear(sh);
        return tm_error_set(err, TM_ENOMEM, "%s", tm_strerror(TM_ENOMEM));
    }
    /* An item is in one story only: the members are numbered in turn. */
    size_t at = 0;
    for (size_t k = 0; k < n_idx; k++) {
        const struct tm_story *s = &stories[idx[k]];
        struct tm_story *d = &sh->stories[k];
        *d = (struct tm_story){.primary = at,
                               .members = sh->members + at,
                               .n_members = s->n_members,
                               .entry_id = s->entry_id,
                               .sort_utc = s->sort_utc};
        for (size_t m = 0; m < s->n_members; m++) {
            rowids[at] = set->rows[s->members[m]].rowid;
            sh->members[at] = at;
            at++;
        }
    }
    sh->n_stories = n_idx;
    int rc = tm_store_load_shown(store, rowids, n, &sh->items, err);
    free(rowids);
    if (rc != 0) {
        shown_clear(sh);
        return rc;
    }
    sh->n_items = n;
    return 0;
}

static int on_bsearch_id(const void *key, const void *elem)
{
    return strcmp(*(const char *const *)key, *(const char *const *)elem);
}

/* The latest item date of each configured source, in the config's order,
 * from the rows' per-source dates (which are in id order). */
static int source_dates(const struct tm_config *cfg, const struct tm_store_rows *set, int64_t **out)
{
    *out = malloc((cfg->n_sources != 0 ? cfg->n_sources : 1) * sizeof **out);
    if (*out == NULL)
        return TM_ENOMEM;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const char *id = cfg->sources[i].id != NULL ? cfg->sources[i].id : "";
        const char **hit = set->n_sources == 0 /* no source stored: source_ids is NULL */
                               ? NULL
                               : bsearch(&id, set->source_ids, set->n_sources,
                                         sizeof *set->source_ids, on_bsearch_id);
        (*out)[i] = hit != NULL ? set->source_updated_utc[hit - set->source_ids] : TM_TIME_NONE;
    }
    return 0;
}

/* The merge's source of titles (tm_merge_opts.title_of): the store, one
 * title at a time, so the archive's titles are never all in memory. */
struct titles {
    struct tm_store *store;
    struct tm_error *err; /* the store's message when it fails */
    bool failed;
};

static int on_title_of(void *arg, const struct tm_merge_row *row, const char **title)
{
    struct titles *t = arg;
    int rc = tm_store_title(t->store, row->rowid, title, t->err);
    t->failed = rc < 0;
    return rc;
}

/* The files are rendered and written on a thread of their own while this
 * one writes the entry ids (the publish reads only memory and out_dir, the
 * ids only the store), and the ids are committed once the files are in
 * place. */
struct publish_task {
    const struct tm_publish_input *in;
    struct tm_publish_result *res;
    struct tm_error err;
    int rc;
    uv_thread_t thread;
    bool running; /* started, not yet joined */
};

static void publish_main(void *arg)
{
    struct publish_task *t = arg;
    t->rc = tm_publish_all(t->in, t->res, &t->err);
}

/* Starts the publish; without a thread, publishes now. */
static void publish_start(struct publish_task *t)
{
    t->running = uv_thread_create(&t->thread, publish_main, t) == 0;
    if (!t->running)
        publish_main(t);
}

/* Waits for the publish: its result, `err` set from its own. */
static int publish_wait(struct publish_task *t, struct tm_error *err)
{
    if (t->running)
        (void)uv_thread_join(&t->thread); /* fails only for a thread not joinable */
    t->running = false;
    if (t->rc < 0)
        *err = t->err;
    return t->rc;
}

/* tm_store_set_entry_ids' confirm: the ids are kept only when every file
 * is in place. */
static int on_store_confirm(void *arg, struct tm_error *err)
{
    return publish_wait(arg, err);
}

/* tm_refresh's work, while it holds the store. */
static int refresh(struct tm_store *store, const struct tm_config *cfg, int64_t now_utc,
                   struct tm_publish_result *res, struct tm_refresh_stats *stats,
                   struct tm_error *err)
{
    struct tm_source_state *states = NULL;
    struct tm_store_rows set = {0};
    struct tm_story *stories = NULL;
    size_t n_stories = 0;
    size_t *idx = NULL, n_idx = 0;
    struct shown sh = {0};
    int64_t *dates = NULL;
    struct tm_merge_id_write *writes = NULL;
    size_t n_writes = 0;

    int rc = load_states(store, cfg, &states, err);
    if (rc < 0)
        return rc;
    /* Every stored item takes part: a category feed's newest items may be
     * older than the merged list's, and the merge must see both sides of a
     * story to keep its entry id. They are loaded as the merge's rows
     * (hashes, dates, ids), the titles read one at a time where the
     * similar-title rule needs them, and whole items for the stories the
     * writers render, so memory follows the archive's rows, not its
     * content. */
    struct titles titles = {store, err, false};
    struct tm_merge_opts mopts = {
        .public_url = cfg->public_url, .title_of = on_title_of, .title_of_arg = &titles};
    rc = tm_store_load_rows(store, &set, err);
    if (rc < 0)
        goto out;
    struct tm_merge_stats mstats;
    rc = tm_merge_rows(set.rows, set.n, set.source_ids, set.n_sources, &mopts, &stories, &n_stories,
                       &mstats);
    tm_store_titles_done(store);
    if (rc < 0) {
        if (!titles.failed) /* else err holds the store's message */
            tm_error_set(err, rc, "merge: %s", tm_strerror(rc));
        goto out;
    }
    rc = render_set(cfg, &set, stories, n_stories, &idx, &n_idx);
    if (rc == 0)
        rc = source_dates(cfg, &set, &dates);
    if (rc < 0) {
        tm_error_set(err, rc, "%s", tm_strerror(rc));
        goto out;
    }
    rc = load_shown(store, &set, stories, idx, n_idx, &sh, err);
    if (rc < 0)
        goto out;
    rc = tm_merge_id_writes(set.rows, stories, n_stories, &writes, &n_writes);
    if (rc < 0) {
        tm_error_set(err, rc, "%s", tm_strerror(rc));
        goto out;
    }
    /* The rows have given every answer: what remains of them is the
     * strings the stories borrow. Their memory goes before the files'. */
    size_t n_rows = set.n;
    tm_store_rows_free_rows(&set);
    struct tm_publish_input in = {
        .config = cfg,
        .states = states,
        .items = sh.items,
        .n_items = sh.n_items,
        .stories = sh.stories,
        .n_stories = sh.n_stories,
        .source_updated_utc = dates,
        .now_utc = now_utc,
    };
    /* Only ids that are out in the world need to be remembered: committed
     * once the files are in place, they leave a failed publish harmless. */
    struct publish_task task = {.in = &in, .res = res};
    publish_start(&task);
    rc = tm_store_set_entry_ids(store, writes, n_writes, on_store_confirm, &task, err);
    if (task.running) { /* the store failed before it asked: its error is returned */
        struct tm_error perr = {0};
        if (publish_wait(&task, &perr) < 0)
            tm_log(TM_LOG_ERR, "publish: %s", perr.msg);
    }
    if (rc < 0) {
        tm_publish_result_clear(res);
        goto out;
    }
    if (stats) {
        stats->n_items = n_rows;
        stats->n_stories = n_stories;
        stats->merge_pairs_dropped = mstats.pairs_dropped;
    }
out:
    free(writes);
    free(dates);
    shown_clear(&sh);
    free(idx);
    tm_stories_free(stories, n_stories);
    tm_store_rows_clear(&set);
    states_free(states, cfg->n_sources);
    tm_heap_release();
    return rc;
}

int tm_refresh(struct tm_store *store, const struct tm_config *cfg, int64_t now_utc,
               struct tm_publish_result *res, struct tm_refresh_stats *stats, struct tm_error *err)
{
    /* One state of the store: no result of the harvester's writer thread
     * lands between the load, the merge and the entry ids written back. */
    tm_store_hold(store);
    int rc = refresh(store, cfg, now_utc, res, stats, err);
    tm_store_release(store);
    return rc;
}
