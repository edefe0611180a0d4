/* tinmoi — merging the same story from several sources (SPEC §7). Pure.
 *
 * Shape: every rule becomes a list of candidate pairs ("edges") found by
 * sorting, never by comparing all pairs; the edges are sorted into one fixed
 * order and applied to a union-find whose components remember their sources,
 * so that a story never holds two items of one source. */
#include "tinmoi/merge.h"

#include "identity_int.h"
#include "tinmoi/error.h"
#include "tinmoi/hash.h"
#include "tinmoi/identity.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Word pairs of a title the similar-title rule compares (a posting keeps
 * the count and positions in 16 bits). The parser cuts titles at 2 KiB,
 * about a thousand words; a longer stored title only misses this rule. */
#define MAX_TITLE_PAIRS UINT16_MAX

/* Earlier items of other sources each item of an equal-title group is
 * paired with (see edges_title): the nearest connects the group, the
 * second gives an item whose nearest partner is refused a second chance. */
#define TITLE_PARTNERS 2

/* Fewest distinct titles per thread worth a thread of its own for the
 * similar-title probes (by default: see tm_merge_opts.threads). */
#define TITLES_PER_THREAD 4096

/* Slack for comparing Jaccard values computed in floating point. */
#define SIM_EPSILON 1e-9

/* ---- sort keys ----------------------------------------------------------
 * Every sort (sort_int.h's, one per element type, each beside its cmp_
 * function) runs over small structs that carry their keys; the last key is
 * always the item index, which makes each order total and the result
 * independent of the input order only through rowid (indexes break ties
 * between equal rowids, which the store never produces). */

struct ref {
    const char *s; /* the string grouped on */
    uint64_t h;    /* its hash: equal strings are adjacent, compared once */
    int64_t t;
    int64_t rowid;
    int src;
    uint32_t idx;
};

static int cmp_i64(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

static int cmp_ref_tail(const struct ref *x, const struct ref *y)
{
    int c = cmp_i64(x->t, y->t);
    if (c == 0)
        c = cmp_i64(x->rowid, y->rowid);
    if (c == 0)
        c = (x->idx > y->idx) - (x->idx < y->idx);
    return c;
}

/* Groups equal strings: by hash, then the string when the refs carry one
 * (entry ids; links and titles are grouped by their hashes alone, see
 * tm_merge_row). The order between groups is the hashes', which no result
 * depends on: groups only ever test equality, and the edges are sorted
 * into their own total order. */
static int cmp_ref_str(const struct ref *x, const struct ref *y)
{
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->s == y->s || x->s == NULL || y->s == NULL ? 0 : strcmp(x->s, y->s);
}

/* A ref on hash `h` of string `s` (NULL: compared by the hash alone). */
static struct ref ref_hashed(const char *s, uint64_t h, int src, int64_t t, int64_t rowid,
                             uint32_t idx)
{
    return (struct ref){.s = s, .h = h, .t = t, .rowid = rowid, .src = src, .idx = idx};
}

static struct ref ref_of(const char *s, int src, int64_t t, int64_t rowid, uint32_t idx)
{
    return ref_hashed(s, tm_hash_str(s), src, t, rowid, idx);
}

static bool has_text(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* ---- hashes of the undecided items' strings ------------------------------
 * A group of equal links or titles can only gain an edge when it holds an
 * undecided item (see decided()), so only groups whose hash is in this set
 * are sorted: a publish after a few new items sorts a few groups, not the
 * archive. Open addressing over the rows' hashes; 0 marks an empty slot,
 * which no hash is (tm_merge_hash: 0 means no string, never added). A
 * collision only lets in a group that cannot gain an edge. */
struct hset {
    uint64_t *slot;
    size_t mask;
};

static int hset_init(struct hset *set, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    set->slot = calloc(cap, sizeof *set->slot);
    set->mask = cap - 1;
    return set->slot != NULL ? 0 : TM_ENOMEM;
}

static void hset_add(struct hset *set, uint64_t h)
{
    size_t i = (size_t)h & set->mask;
    while (set->slot[i] != 0 && set->slot[i] != h)
        i = (i + 1) & set->mask;
    set->slot[i] = h;
}

static bool hset_has(const struct hset *set, uint64_t h)
{
    for (size_t i = (size_t)h & set->mask; set->slot[i] != 0; i = (i + 1) & set->mask)
        if (set->slot[i] == h)
            return true;
    return false;
}

static bool same_str(const struct ref *x, const struct ref *y)
{
    return cmp_ref_str(x, y) == 0;
}

static int cmp_ref(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    int c = cmp_ref_str(x, y);
    return c != 0 ? c : cmp_ref_tail(x, y);
}

#define TM_SORT_NAME sort_refs
#define TM_SORT_TYPE struct ref
#define TM_SORT_LESS(a, b) (cmp_ref(a, b) < 0)
#include "sort_int.h"

static int cmp_ref_src(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    int c = cmp_ref_str(x, y);
    if (c == 0)
        c = (x->src > y->src) - (x->src < y->src);
    return c != 0 ? c : cmp_ref_tail(x, y);
}

#define TM_SORT_NAME sort_refs_by_src
#define TM_SORT_TYPE struct ref
#define TM_SORT_LESS(a, b) (cmp_ref_src(a, b) < 0)
#include "sort_int.h"

/* ---- edges -------------------------------------------------------------- */

enum edge_kind {
    EDGE_ENTRY = 0, /* same published entry id */
    EDGE_LINK,      /* same canonical link */
    EDGE_TITLE,     /* same normalised title, within the window */
    EDGE_SIMILAR,   /* similar titles, within the window */
};

struct edge {
    int64_t r1, r2; /* rowids, smaller first: the last tie-breaker */
    int64_t dt;     /* |published difference| */
    double sim;
    uint32_t a, b;
    int kind;
};

struct edges {
    struct edge *v;
    size_t n, cap;
    size_t n_similar;   /* EDGE_SIMILAR edges in v */
    size_t max_similar; /* opts->max_pairs */
    size_t dropped;     /* EDGE_SIMILAR edges refused past max_similar */
    /* A prober's beside others (edges_similar): the similar edges all of
     * them hold; past max_similar an add fails with TM_ELIMIT instead. */
    _Atomic size_t *shared;
};

/* Adds an edge. The rules other than similar titles add at most
 * 1 + 1 + TITLE_PARTNERS edges an item, bounded by TM_MERGE_MAX_ITEMS;
 * similar-title edges past max_similar are counted and left out (or, with
 * `shared`, refused with TM_ELIMIT). */
static int edge_add(struct edges *e, const struct tm_merge_row *items, uint32_t a, uint32_t b,
                    int kind, double sim)
{
    if (kind == EDGE_SIMILAR) {
        if (e->shared != NULL && atomic_fetch_add(e->shared, 1) >= e->max_similar)
            return TM_ELIMIT;
        if (e->n_similar >= e->max_similar) {
            e->dropped++;
            return 0;
        }
        e->n_similar++;
    }
    if (e->n == e->cap) {
        size_t cap = e->cap != 0 ? e->cap * 2 : 1024;
        struct edge *v = realloc(e->v, cap * sizeof *v);
        if (v == NULL)
            return TM_ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    struct edge *x = &e->v[e->n++];
    int64_t ra = items[a].rowid, rb = items[b].rowid;
    int64_t ta = items[a].published_utc, tb = items[b].published_utc;
    x->r1 = ra <= rb ? ra : rb;
    x->r2 = ra <= rb ? rb : ra;
    x->dt = ta >= tb ? ta - tb : tb - ta;
    x->sim = sim;
    x->a = a;
    x->b = b;
    x->kind = kind;
    return 0;
}

static int cmp_edge(const void *pa, const void *pb)
{
    const struct edge *x = pa, *y = pb;
    int c = (x->kind > y->kind) - (x->kind < y->kind);
    if (c == 0)
        c = (x->sim < y->sim) - (x->sim > y->sim); /* most similar first */
    if (c == 0)
        c = cmp_i64(x->dt, y->dt);
    if (c == 0)
        c = cmp_i64(x->r1, y->r1);
    if (c == 0)
        c = cmp_i64(x->r2, y->r2);
    if (c == 0) {
        uint32_t xa = x->a < x->b ? x->a : x->b, ya = y->a < y->b ? y->a : y->b;
        uint32_t xb = x->a < x->b ? x->b : x->a, yb = y->a < y->b ? y->b : y->a;
        c = (xa > ya) - (xa < ya);
        if (c == 0)
            c = (xb > yb) - (xb < yb);
    }
    return c;
}

#define TM_SORT_NAME sort_edges
#define TM_SORT_TYPE struct edge
#define TM_SORT_LESS(a, b) (cmp_edge(a, b) < 0)
#include "sort_int.h"

/* ---- union-find with a source set per component ------------------------- */

struct comp {
    uint32_t parent;
    uint32_t size;
    int one;      /* the only source while srcs is NULL */
    int *srcs;    /* sorted sources of the component, or NULL for {one} */
    size_t n_src; /* entries in srcs */
};

static uint32_t uf_find(struct comp *c, uint32_t x)
{
    while (c[x].parent != x) {
        c[x].parent = c[c[x].parent].parent;
        x = c[x].parent;
    }
    return x;
}

/* Joins the components of a and b unless they share a source. Returns 0
 * (joined, already one, or refused) or TM_ENOMEM. */
static int uf_union(struct comp *c, uint32_t a, uint32_t b)
{
    uint32_t ra = uf_find(c, a), rb = uf_find(c, b);
    if (ra == rb)
        return 0;
    const int *sa = c[ra].srcs != NULL ? c[ra].srcs : &c[ra].one;
    const int *sb = c[rb].srcs != NULL ? c[rb].srcs : &c[rb].one;
    size_t na = c[ra].srcs != NULL ? c[ra].n_src : 1;
    size_t nb = c[rb].srcs != NULL ? c[rb].n_src : 1;
    int *m = malloc((na + nb) * sizeof *m);
    if (m == NULL)
        return TM_ENOMEM;
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (sa[i] == sb[j]) {
            free(m);
            return 0;
        }
        m[k++] = sa[i] < sb[j] ? sa[i++] : sb[j++];
    }
    while (i < na)
        m[k++] = sa[i++];
    while (j < nb)
        m[k++] = sb[j++];
    if (c[ra].size < c[rb].size) {
        uint32_t t = ra;
        ra = rb;
        rb = t;
    }
    free(c[ra].srcs);
    free(c[rb].srcs);
    c[rb].srcs = NULL;
    c[rb].parent = ra;
    c[ra].size += c[rb].size;
    c[ra].srcs = m;
    c[ra].n_src = k;
    return 0;
}

/* ---- candidate pairs per rule ------------------------------------------- */

struct ctx {
    const struct tm_merge_row *items;
    const char *const *source_ids; /* by tm_merge_row.source */
    /* tm_merge_opts' */
    int (*title_of)(void *arg, const struct tm_merge_row *row, const char **title);
    void *title_of_arg;
    uint32_t n;
    double sim;
    int64_t window_s;
    unsigned threads;         /* for the similar-title probes; 0: by the titles' count */
    int *title_id;            /* equal normalised titles share a number; -1 none */
    uint32_t n_titles;        /* numbers given in title_id */
    struct title_set *titles; /* by number, for edges_similar */
    uint32_t *tok;            /* the titles' word-pair sets, as ranks */
    uint32_t *mem;            /* the titles' items taking part */
    struct ref *refs;         /* scratch, n entries */
    struct edges edges;
    struct hset new_links;  /* hashes of the undecided items' canonical links */
    struct hset new_titles; /* ... and of their normalised titles */
    bool any_new;           /* some item is undecided; then new_lo..new_hi is */
    int64_t new_lo, new_hi; /* the window around their published dates */
};

/* An item that already belongs to a published entry: every pair of two such
 * items was examined by the merge that published them (their stories are
 * kept whole by edges_entry), so the title rules only look at pairs with at
 * least one new item. This makes a publish after a few new items cheap; the
 * cost is that a published item whose title a feed later edits is not
 * re-matched against other published items. */
static bool decided(const struct ctx *c, uint32_t idx)
{
    return c->items[idx].entry_id != NULL;
}

/* Fills new_links, new_titles and the window around the undecided items'
 * dates (their span widened by window_s on both sides). */
static int index_undecided(struct ctx *c)
{
    size_t n_new = 0;
    for (uint32_t i = 0; i < c->n; i++)
        n_new += !decided(c, i);
    int rc = hset_init(&c->new_links, n_new);
    if (rc == 0)
        rc = hset_init(&c->new_titles, n_new);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct tm_merge_row *it = &c->items[i];
        if (decided(c, i))
            continue;
        if (it->link_hash != 0)
            hset_add(&c->new_links, it->link_hash);
        if (it->title_hash != 0)
            hset_add(&c->new_titles, it->title_hash);
        int64_t t = it->published_utc;
        if (!c->any_new || t < c->new_lo)
            c->new_lo = t;
        if (!c->any_new || t > c->new_hi)
            c->new_hi = t;
        c->any_new = true;
    }
    if (c->any_new) {
        c->new_lo = c->new_lo > INT64_MIN + c->window_s ? c->new_lo - c->window_s : INT64_MIN;
        c->new_hi = c->new_hi < INT64_MAX - c->window_s ? c->new_hi + c->window_s : INT64_MAX;
    }
    return 0;
}

static bool in_new_window(const struct ctx *c, int64_t t)
{
    return c->any_new && t >= c->new_lo && t <= c->new_hi;
}

/* Item idx's source number, as the int the comparisons use (sources
 * number at most the rows, TM_MERGE_MAX_ITEMS). */
static int src_of(const struct ctx *c, uint32_t idx)
{
    return (int)c->items[idx].source;
}

/* Items already published as one entry stay one story: star edges from the
 * member seen first. */
static int edges_entry(struct ctx *c)
{
    size_t n = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct tm_merge_row *it = &c->items[i];
        if (has_text(it->entry_id))
            c->refs[n++] = ref_of(it->entry_id, src_of(c, i), it->first_seen_utc, it->rowid, i);
    }
    sort_refs(c->refs, n);
    for (size_t s = 0, e; s < n; s = e) {
        for (e = s + 1; e < n && same_str(&c->refs[e], &c->refs[s]); e++) {
            if (c->refs[e].src == c->refs[s].src)
                continue;
            int rc = edge_add(&c->edges, c->items, c->refs[s].idx, c->refs[e].idx, EDGE_ENTRY, 1.0);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Equal canonical links, skipping links one source uses for several items
 * (a section or home page): star edges from the earliest published. */
static int edges_link(struct ctx *c)
{
    size_t n = 0;
    for (uint32_t i = 0; c->any_new && i < c->n; i++) {
        const struct tm_merge_row *it = &c->items[i];
        uint64_t h = it->link_hash;
        if (h != 0 && hset_has(&c->new_links, h))
            c->refs[n++] = ref_hashed(NULL, h, src_of(c, i), it->published_utc, it->rowid, i);
    }
    sort_refs_by_src(c->refs, n);
    for (size_t s = 0, e; s < n; s = e) {
        for (e = s + 1; e < n && same_str(&c->refs[e], &c->refs[s]); e++)
            ;
        const struct ref *center = NULL;
        for (size_t k = s; k < e; k++) {
            bool shared = (k > s && c->refs[k - 1].src == c->refs[k].src) ||
                          (k + 1 < e && c->refs[k + 1].src == c->refs[k].src);
            if (shared)
                continue;
            if (center == NULL || cmp_ref_tail(&c->refs[k], center) < 0)
                center = &c->refs[k];
        }
        for (size_t k = s; center != NULL && k < e; k++) {
            bool shared = (k > s && c->refs[k - 1].src == c->refs[k].src) ||
                          (k + 1 < e && c->refs[k + 1].src == c->refs[k].src);
            if (shared || &c->refs[k] == center)
                continue;
            int rc = edge_add(&c->edges, c->items, center->idx, c->refs[k].idx, EDGE_LINK, 1.0);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Equal normalised titles within the window; numbers the titles too.
 *
 * A group of k equal titles gives O(k) edges, not every pair: in time
 * order, each item is paired with its TITLE_PARTNERS nearest earlier items
 * of other sources within the window (found in O(1) each through
 * `other`, the nearest earlier position of a source other than the
 * position's own). Consecutive items of a group within the window are
 * thereby connected, so every pair within the window is too; the merge.h
 * contract says when the stories can still differ from all pairs. Pairs of
 * two decided items are left out as before (see decided()). */
static int edges_title(struct ctx *c)
{
    size_t n = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct tm_merge_row *it = &c->items[i];
        c->title_id[i] = -1;
        if (!c->any_new || it->title_hash == 0)
            continue;
        /* The groups that can gain an edge, and every title edges_similar
         * looks at (those in the window around the undecided items), which
         * it tells apart by their numbers. */
        uint64_t h = it->title_hash;
        if (in_new_window(c, it->published_utc) || hset_has(&c->new_titles, h))
            c->refs[n++] = ref_hashed(NULL, h, src_of(c, i), it->published_utc, it->rowid, i);
    }
    sort_refs(c->refs, n);
    const size_t none = SIZE_MAX;
    size_t *other = malloc((n != 0 ? n : 1) * sizeof *other);
    if (other == NULL)
        return TM_ENOMEM;
    int rc = 0;
    int id = -1;
    for (size_t s = 0, e; s < n && rc == 0; s = e) {
        id++;
        for (e = s + 1; e < n && same_str(&c->refs[e], &c->refs[s]); e++)
            ;
        for (size_t i = s; i < e; i++) {
            c->title_id[c->refs[i].idx] = id;
            if (i == s)
                other[i] = none;
            else
                other[i] = c->refs[i - 1].src != c->refs[i].src ? i - 1 : other[i - 1];
        }
        for (size_t i = s + 1; i < e && rc == 0; i++) {
            const struct ref *x = &c->refs[i];
            size_t p = i - 1;
            for (int found = 0; found < TITLE_PARTNERS && rc == 0; found++, p--) {
                if (c->refs[p].src == x->src)
                    p = other[p]; /* skip x's own source */
                if (p == none || x->t - c->refs[p].t > c->window_s)
                    break;
                if (!decided(c, x->idx) || !decided(c, c->refs[p].idx))
                    rc = edge_add(&c->edges, c->items, c->refs[p].idx, x->idx, EDGE_TITLE, 1.0);
                if (p == s)
                    break;
            }
        }
    }
    free(other);
    c->n_titles = (uint32_t)(id + 1);
    return rc;
}

/* ---- the titles the similar-title rule compares ---------------------------
 * The rule runs over distinct titles, not items: the items of one title
 * (one title_id) share one word-pair set, split once, and two titles found
 * similar give an edge for each pair of their items the rule allows. A
 * story carried by k sources costs one set and one comparison, not k. */

/* One title the similar-title rule looks at: its items taking part (within
 * the window of the undecided items) and its word-pair set. */
struct title_set {
    int64_t first, last; /* its items' earliest and latest dates */
    uint32_t mem, n_mem; /* its items, in time order: c->mem[mem .. mem + n_mem) */
    size_t tok;          /* its set, ranks ascending: c->tok[tok .. tok + n_tok) */
    uint32_t n_tok;      /* 0: not compared (no item taking part, no text, one word, or more
                          * than MAX_TITLE_PAIRS pairs) */
    bool fresh;          /* one of its items is undecided */
    bool split;          /* its set is taken (split_titles) */
};

struct member {
    int64_t t, rowid;
    uint32_t idx;
    int title;
};

/* By title, then time; ties by rowid (then index), so that nothing depends
 * on the input's order. */
static int cmp_member(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    int c = (x->title > y->title) - (x->title < y->title);
    if (c == 0)
        c = cmp_i64(x->t, y->t);
    if (c == 0)
        c = cmp_i64(x->rowid, y->rowid);
    return c != 0 ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

#define TM_SORT_NAME sort_members
#define TM_SORT_TYPE struct member
#define TM_SORT_LESS(a, b) (cmp_member(a, b) < 0)
#include "sort_int.h"

static bool takes_part(const struct ctx *c, uint32_t i)
{
    return c->title_id[i] >= 0 && in_new_window(c, c->items[i].published_utc);
}

/* Groups the items taking part by title: c->titles' mem, n_mem, fresh. */
static int group_members(struct ctx *c)
{
    size_t n = 0;
    for (uint32_t i = 0; i < c->n; i++)
        n += takes_part(c, i);
    struct member *m = malloc((n != 0 ? n : 1) * sizeof *m);
    c->mem = malloc((n != 0 ? n : 1) * sizeof *c->mem);
    c->titles = calloc(c->n_titles != 0 ? c->n_titles : 1, sizeof *c->titles);
    if (m == NULL || c->mem == NULL || c->titles == NULL) {
        free(m);
        return TM_ENOMEM;
    }
    n = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct tm_merge_row *it = &c->items[i];
        if (takes_part(c, i))
            m[n++] = (struct member){it->published_utc, it->rowid, i, c->title_id[i]};
    }
    sort_members(m, n);
    for (size_t k = 0; k < n; k++) {
        struct title_set *ts = &c->titles[m[k].title];
        if (ts->n_mem++ == 0) {
            ts->mem = (uint32_t)k;
            ts->first = m[k].t;
        }
        ts->last = m[k].t;
        ts->fresh |= !decided(c, m[k].idx);
        c->mem[k] = m[k].idx;
    }
    free(m);
    return 0;
}

/* ---- word pairs as ranks -----------------------------------------------
 * Prefix filtering needs one global order of the word pairs, rarest first
 * (rarity counted over the titles taking part). While the titles are split,
 * each distinct pair gets a number (pair_ids); the numbers are then replaced
 * by the pairs' ranks in that order, ties broken by the pair's hash so that
 * the order depends on the titles, not on the order of the items. A title's
 * set is then its ranks sorted ascending: its prefix is its first entries,
 * the postings are grouped by a counting sort on the rank, and two sets are
 * compared as 32-bit numbers. */

/* Distinct word pairs: open addressing from a pair's hash to its number.
 * Grows by doubling at half full. */
struct pair_ids {
    uint64_t *key;
    uint32_t *id; /* NO_PAIR: empty slot */
    size_t mask;
    uint32_t n; /* numbers given: 0 .. n-1 */
};

#define NO_PAIR UINT32_MAX
#define PAIR_IDS_MIN_SLOTS 1024u

static size_t pair_slot(const struct pair_ids *t, uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15u) >> 32) & t->mask;
}

static int pair_ids_alloc(struct pair_ids *t, size_t slots)
{
    uint64_t *key = malloc(slots * sizeof *key);
    uint32_t *id = malloc(slots * sizeof *id);
    if (key == NULL || id == NULL) {
        free(key);
        free(id);
        return TM_ENOMEM;
    }
    memset(id, 0xff, slots * sizeof *id); /* NO_PAIR */
    *t = (struct pair_ids){key, id, slots - 1, t->n};
    return 0;
}

static void pair_ids_free(struct pair_ids *t)
{
    free(t->key);
    free(t->id);
    t->key = NULL;
    t->id = NULL;
}

static int pair_ids_grow(struct pair_ids *t)
{
    struct pair_ids old = *t;
    int rc = pair_ids_alloc(t, (old.mask + 1) * 2);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i <= old.mask; i++) {
        if (old.id[i] == NO_PAIR)
            continue;
        size_t k = pair_slot(t, old.key[i]);
        while (t->id[k] != NO_PAIR)
            k = (k + 1) & t->mask;
        t->key[k] = old.key[i];
        t->id[k] = old.id[i];
    }
    pair_ids_free(&old);
    return 0;
}

/* The number of pair `key`, given now when it has none. TM_ELIMIT past
 * 2^32 - 1 distinct pairs (more than TM_MERGE_MAX_ITEMS titles hold). */
static int pair_ids_get(struct pair_ids *t, uint64_t key, uint32_t *out)
{
    if (2 * ((size_t)t->n + 1) > t->mask + 1) {
        int rc = pair_ids_grow(t);
        if (rc != 0)
            return rc;
    }
    size_t k = pair_slot(t, key);
    for (; t->id[k] != NO_PAIR; k = (k + 1) & t->mask) {
        if (t->key[k] == key) {
            *out = t->id[k];
            return 0;
        }
    }
    if (t->n == NO_PAIR)
        return TM_ELIMIT;
    t->key[k] = key;
    t->id[k] = t->n;
    *out = t->n++;
    return 0;
}

struct rare {
    uint32_t df; /* titles holding the pair */
    uint32_t id; /* its number in pair_ids */
    uint64_t key;
};

/* Rarest word pairs first, the one global order prefix filtering needs. */
static int cmp_rare(const void *a, const void *b)
{
    const struct rare *x = a, *y = b;
    int c = (x->df > y->df) - (x->df < y->df);
    return c != 0 ? c : (x->key > y->key) - (x->key < y->key);
}

#define TM_SORT_NAME sort_rare
#define TM_SORT_TYPE struct rare
#define TM_SORT_LESS(a, b) (cmp_rare(a, b) < 0)
#include "sort_int.h"

#define TM_SORT_NAME sort_u32
#define TM_SORT_TYPE uint32_t
#define TM_SORT_LESS(a, b) (*(a) < *(b))
#include "sort_int.h"

/* Number of rarest tokens of a set of n that two sets at Jaccard >= s
 * must share one of (prefix filtering, Chaudhuri et al. 2006): both sets'
 * prefixes hold a common pair. */
static size_t prefix_len(size_t n, double s)
{
    size_t need = (size_t)ceil(s * (double)n - SIM_EPSILON);
    if (need < 1)
        need = 1;
    return need > n ? 1 : n - need + 1;
}

/* Common word pairs two sets of na and nb need for Jaccard >= s:
 * o / (na + nb - o) >= s  <=>  o >= s / (1 + s) * (na + nb). Rounded down
 * by a margin far wider than SIM_EPSILON, so it never prunes a pair the
 * final test would keep. */
static size_t overlap_needed(size_t na, size_t nb, double s)
{
    double need = ceil(s / (1.0 + s) * (double)(na + nb) - 1e-6);
    return need < 1.0 ? 1 : (size_t)need;
}

/* The normalised title of item i for the similar-title rule: the row's
 * own, or the caller's (tm_merge_opts.title_of) when the row has none. */
static int title_of(const struct ctx *c, uint32_t i, const char **title)
{
    *title = c->items[i].norm_title;
    if (*title == NULL && c->title_of != NULL)
        return c->title_of(c->title_of_arg, &c->items[i], title);
    return 0;
}

/* Grows *v (elements of `size` bytes, room for *cap) to room for `need`,
 * doubling. Big arrays are mapped on their own (heap.h), so the room not
 * yet written costs no memory. */
static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap != 0 ? *cap : 1024;
    while (ncap < need)
        ncap *= 2;
    void *nv = realloc(*v, ncap * size);
    if (nv == NULL)
        return TM_ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}

/* Splits each title with an item taking part into word pairs, as numbers
 * (c->titles' tok, n_tok), reading it at its first such item in the rows'
 * order (the order title_of promises). Sets *n_pairs to the numbers
 * given. */
static int split_titles(struct ctx *c, uint32_t *n_pairs)
{
    *n_pairs = 0;
    struct pair_ids ids = {0};
    uint64_t *hashes = NULL;
    size_t hashes_cap = 0, cap = 0, total = 0;
    int rc = pair_ids_alloc(&ids, PAIR_IDS_MIN_SLOTS);
    for (uint32_t i = 0; i < c->n && rc == 0; i++) {
        if (!takes_part(c, i) || c->titles[c->title_id[i]].split)
            continue;
        struct title_set *ts = &c->titles[c->title_id[i]];
        const char *title = NULL;
        rc = title_of(c, i, &title);
        if (rc != 0 || title == NULL)
            continue; /* a later row of the title may carry its text */
        ts->split = true;
        /* Single-word titles are not compared: against any longer title the
         * word-set Jaccard is at most 1/2, below every allowed threshold;
         * against another single word it is 1 only when equal, which
         * edges_title covers. A title has at most a pair a word. */
        size_t words = tm_identity_count_words(title);
        if (words < 2)
            continue;
        rc = grow((void **)&hashes, &hashes_cap, words, sizeof *hashes);
        if (rc == 0)
            rc = grow((void **)&c->tok, &cap, total + words, sizeof *c->tok);
        if (rc != 0)
            break;
        size_t n = tm_identity_title_tokens_into(title, false, hashes);
        if (n > MAX_TITLE_PAIRS) /* not compared: see MAX_TITLE_PAIRS */
            continue;
        for (size_t j = 0; j < n && rc == 0; j++)
            rc = pair_ids_get(&ids, hashes[j], &c->tok[total + j]);
        ts->tok = total;
        ts->n_tok = (uint32_t)n;
        total += n;
    }
    *n_pairs = ids.n;
    if (rc != 0 || ids.n == 0)
        goto done;

    /* Numbers become ranks: count each pair's titles, sort the pairs
     * rarest first, renumber, and sort each set. */
    rc = TM_ENOMEM;
    struct rare *rare = calloc(ids.n, sizeof *rare);
    uint32_t *rank = malloc(ids.n * sizeof *rank);
    if (rare != NULL && rank != NULL) {
        for (size_t k = 0; k <= ids.mask; k++) {
            if (ids.id[k] != NO_PAIR)
                rare[ids.id[k]] = (struct rare){0, ids.id[k], ids.key[k]};
        }
        pair_ids_free(&ids);
        for (size_t k = 0; k < total; k++)
            rare[c->tok[k]].df++;
        sort_rare(rare, *n_pairs);
        for (uint32_t r = 0; r < *n_pairs; r++)
            rank[rare[r].id] = r;
        for (size_t k = 0; k < total; k++)
            c->tok[k] = rank[c->tok[k]];
        for (uint32_t k = 0; k < c->n_titles; k++)
            sort_u32(c->tok + c->titles[k].tok, c->titles[k].n_tok);
        rc = 0;
    }
    free(rare);
    free(rank);
done:
    pair_ids_free(&ids);
    free(hashes);
    return rc;
}

/* Positions a title of n word pairs must have a common pair at to match a
 * title at least as long (the "index prefix" of AllPairs, Bayardo et al.
 * 2007): with the first common pair at position
 * i, at most n - i pairs are common, and a partner at least as long needs
 * overlap_needed(n, n) of them. */
static size_t index_len(size_t n, double s)
{
    size_t need = overlap_needed(n, n, s);
    return need >= n ? 1 : n - need + 1;
}

/* A title (by its place in the processing order) under one of its word
 * pairs, at position pos of its set of n: the filters read the posting
 * alone. */
struct posting {
    uint32_t place;
    uint16_t pos, n;
};

/* The index of every title, filled in the order titles are processed
 * (fewest pairs first, see edges_similar): pair r's titles are
 * post[start[r] .. end[r]), by place. */
struct index {
    struct posting *post;
    size_t *start, *end; /* n_pairs + 1 each */
};

static void index_free(struct index *ix)
{
    free(ix->post);
    free(ix->start);
    free(ix->end);
    *ix = (struct index){0};
}

/* Room for the index prefixes of every title. */
static int index_init(struct index *ix, const struct ctx *c, uint32_t n_pairs)
{
    ix->start = calloc((size_t)n_pairs + 1, sizeof *ix->start);
    ix->end = malloc(((size_t)n_pairs + 1) * sizeof *ix->end);
    if (ix->start == NULL || ix->end == NULL)
        return TM_ENOMEM;
    for (uint32_t k = 0; k < c->n_titles; k++) {
        const struct title_set *ts = &c->titles[k];
        const uint32_t *tok = c->tok + ts->tok;
        for (size_t j = 0, p = ts->n_tok != 0 ? index_len(ts->n_tok, c->sim) : 0; j < p; j++)
            ix->start[tok[j] + 1]++;
    }
    for (uint32_t r = 0; r < n_pairs; r++)
        ix->start[r + 1] += ix->start[r];
    memcpy(ix->end, ix->start, ((size_t)n_pairs + 1) * sizeof *ix->end);
    ix->post = malloc((ix->start[n_pairs] != 0 ? ix->start[n_pairs] : 1) * sizeof *ix->post);
    return ix->post != NULL ? 0 : TM_ENOMEM;
}

static void index_add(struct index *ix, const struct ctx *c, const struct title_set *ts,
                      uint32_t place)
{
    const uint32_t *tok = c->tok + ts->tok;
    for (size_t j = 0, p = index_len(ts->n_tok, c->sim); j < p; j++)
        ix->post[ix->end[tok[j]]++] = (struct posting){place, (uint16_t)j, (uint16_t)ts->n_tok};
}

/* The index of the titles with an undecided item, for the titles without
 * one (see edges_similar): built whole, as few postings as such titles
 * hold (a publish after a few new items: a few), sorted by (pair rank,
 * place in the processing order); key[i] = rank << 32 | place. */
struct fresh_index {
    uint64_t *key;
    struct posting *post;
    size_t n;
};

struct fresh_entry {
    uint64_t key;
    struct posting p;
};

static int cmp_fresh(const void *a, const void *b)
{
    uint64_t x = ((const struct fresh_entry *)a)->key, y = ((const struct fresh_entry *)b)->key;
    return (x > y) - (x < y);
}

#define TM_SORT_NAME sort_fresh
#define TM_SORT_TYPE struct fresh_entry
#define TM_SORT_LESS(a, b) (cmp_fresh(a, b) < 0)
#include "sort_int.h"

static void fresh_free(struct fresh_index *fx)
{
    free(fx->key);
    free(fx->post);
    *fx = (struct fresh_index){0};
}

/* order[0 .. n_order): the titles in processing order. */
static int fresh_init(struct fresh_index *fx, const struct ctx *c,
                      const struct title_set *const *order, size_t n_order)
{
    size_t n = 0;
    for (size_t k = 0; k < n_order; k++)
        n += order[k]->fresh ? index_len(order[k]->n_tok, c->sim) : 0;
    struct fresh_entry *e = malloc((n != 0 ? n : 1) * sizeof *e);
    fx->key = malloc((n != 0 ? n : 1) * sizeof *fx->key);
    fx->post = malloc((n != 0 ? n : 1) * sizeof *fx->post);
    if (e == NULL || fx->key == NULL || fx->post == NULL) {
        free(e);
        return TM_ENOMEM;
    }
    fx->n = 0;
    for (size_t k = 0; k < n_order; k++) {
        const struct title_set *ts = order[k];
        const uint32_t *tok = c->tok + ts->tok;
        for (size_t j = 0, p = ts->fresh ? index_len(ts->n_tok, c->sim) : 0; j < p; j++)
            e[fx->n++] = (struct fresh_entry){(uint64_t)tok[j] << 32 | k,
                                              {(uint32_t)k, (uint16_t)j, (uint16_t)ts->n_tok}};
    }
    sort_fresh(e, fx->n);
    for (size_t i = 0; i < fx->n; i++) {
        fx->key[i] = e[i].key;
        fx->post[i] = e[i].p;
    }
    free(e);
    return 0;
}

/* The postings of fx under pair r of titles processed before place k:
 * fx->post[*lo .. return). */
static size_t fresh_range(const struct fresh_index *fx, uint32_t r, size_t k, size_t *lo)
{
    uint64_t from = (uint64_t)r << 32, to = (uint64_t)r << 32 | k;
    size_t a = 0, b = fx->n;
    while (a < b) { /* the first key >= from */
        size_t m = a + (b - a) / 2;
        if (fx->key[m] < from)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    while (a < fx->n && fx->key[a] < to)
        a++;
    return a;
}

/* tm_identity_jaccard of the sorted sets a and b, or 0 as soon as more of
 * either is missing from the other than an overlap of `need` allows (two
 * titles that are not similar part ways within a few steps). */
static double jaccard_at_least(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
                               size_t need)
{
    size_t miss_a = na > need ? na - need : 0, miss_b = nb > need ? nb - need : 0;
    size_t i = 0, j = 0, common = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j]) {
            common++;
            i++;
            j++;
        } else if (a[i] < b[j]) {
            if (miss_a-- == 0)
                return 0.0;
            i++;
        } else {
            if (miss_b-- == 0)
                return 0.0;
            j++;
        }
    }
    return (double)common / (double)(na + nb - common);
}

/* The similar-title edges between the items of titles x and y: each pair
 * within the window, of two sources, not both decided. Both lists are in
 * time order, so each item of x meets only y's items in its window. */
static int pair_members(const struct ctx *c, const struct title_set *x, const struct title_set *y,
                        double sim, struct edges *out)
{
    const uint32_t *mx = c->mem + x->mem, *my = c->mem + y->mem;
    int rc = 0;
    for (size_t i = 0, lo = 0; i < x->n_mem && rc == 0; i++) {
        uint32_t a = mx[i];
        int64_t ta = c->items[a].published_utc;
        while (lo < y->n_mem && ta - c->items[my[lo]].published_utc > c->window_s)
            lo++;
        for (size_t j = lo; j < y->n_mem && rc == 0; j++) {
            uint32_t b = my[j];
            if (c->items[b].published_utc - ta > c->window_s)
                break;
            if (src_of(c, a) != src_of(c, b) && (!decided(c, a) || !decided(c, b)))
                rc = edge_add(out, c->items, a, b, EDGE_SIMILAR, sim);
        }
    }
    return rc;
}

/* Compares two titles, the cheap filters first (set sizes, the items' time
 * spans), and pairs their items when the titles are similar enough. */
static int similar_titles(const struct ctx *c, const struct title_set *x, const struct title_set *y,
                          struct edges *out)
{
    size_t na = x->n_tok, nb = y->n_tok;
    size_t lo = na < nb ? na : nb, hi = na < nb ? nb : na;
    if ((double)lo < c->sim * (double)hi - SIM_EPSILON)
        return 0;
    if (y->first - x->last > c->window_s || x->first - y->last > c->window_s)
        return 0;
    double sim =
        jaccard_at_least(c->tok + x->tok, na, c->tok + y->tok, nb, overlap_needed(na, nb, c->sim));
    if (sim + SIM_EPSILON < c->sim)
        return 0;
    return pair_members(c, x, y, sim, out);
}

/* A title's signature: one bit of 64 for each of its word pairs. Each bit
 * set in x's and clear in y's stands for at least one pair of x that y
 * lacks (distinct bits, distinct pairs), so x and y have at most
 * |x| - popcount(sig x & ~sig y) pairs in common: a bound from two words,
 * read before the titles' sets, which lie all over memory. */
static uint64_t title_sig(const uint32_t *tok, size_t n)
{
    uint64_t sig = 0;
    for (size_t i = 0; i < n; i++)
        sig |= UINT64_C(1) << ((tok[i] * UINT32_C(2654435769)) >> 26);
    return sig;
}

/* Whether the signatures alone show fewer than `need` common pairs
 * between x (nx pairs) and y (ny). */
static bool sig_too_far(uint64_t sx, uint64_t sy, size_t nx, size_t ny, size_t need)
{
    size_t miss_x = (size_t)__builtin_popcountll(sx & ~sy);
    size_t miss_y = (size_t)__builtin_popcountll(sy & ~sx);
    return nx - miss_x < need || ny - miss_y < need;
}

static int cmp_by_size(const void *a, const void *b)
{
    const struct title_set *x = *(const struct title_set *const *)a;
    const struct title_set *y = *(const struct title_set *const *)b;
    if (x->n_tok != y->n_tok)
        return x->n_tok < y->n_tok ? -1 : 1;
    return (x > y) - (x < y);
}

#define TM_SORT_NAME sort_by_size
#define TM_SORT_TYPE const struct title_set *
#define TM_SORT_LESS(a, b) (cmp_by_size(a, b) < 0)
#include "sort_int.h"

/* One thread's share of the probes: the titles at places k with
 * k % n_threads == t, in order. The index and everything it reads are
 * shared and only read; the rest is the prober's own. */
struct prober {
    const struct ctx *c;
    const struct index *ix;
    const struct fresh_index *fx;
    const struct title_set *const *order; /* the titles in processing order */
    const uint64_t *sig;                  /* their signatures (title_sig), by place */
    size_t n_order;
    unsigned t, n_threads;
    size_t *start;     /* its cursors over ix's pairs (see probe) */
    uint32_t *seen;    /* by place: k + 1 once compared with the title at k */
    struct edges *out; /* where its edges go: c->edges alone, else `own` */
    struct edges own;  /* beside other probers: its edges, `shared` counting all */
    int rc;
};

/* Compares the title at place k (of n_tok pairs) with the titles of
 * post[0 .. n) placed before it, met under the pair at position j of its
 * set, each once. Positional filter (PPJoin, Xiao et al. 2008): the first
 * pair x meets y under is their first common pair in the rank order (an
 * earlier one would be in y's index prefix too, and x would have met y
 * there), so at most 1 + the shorter of the two rests are common; when
 * that is too few, they are not similar. Nor are they when their
 * signatures say so (title_sig). */
static int probe_list(struct prober *pr, uint32_t k, size_t j, const struct posting *post, size_t n)
{
    const struct ctx *c = pr->c;
    const struct title_set *tx = pr->order[k];
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint32_t y = post[i].place;
        if (y >= k)
            break; /* by place: the rest come after x too */
        if (pr->seen[y] == k + 1)
            continue;
        pr->seen[y] = k + 1;
        size_t ny = post[i].n;
        size_t rest_x = tx->n_tok - j - 1, rest_y = ny - post[i].pos - 1;
        size_t need = overlap_needed(tx->n_tok, ny, c->sim);
        if (1 + (rest_x < rest_y ? rest_x : rest_y) >= need &&
            !sig_too_far(pr->sig[k], pr->sig[y], tx->n_tok, ny, need))
            rc = similar_titles(c, tx, pr->order[y], pr->out);
    }
    return rc;
}

/* Looks the title at place k up under its prefix_len rarest pairs: among
 * every title before it (ix) when it holds an undecided item, else among
 * those before it that do (fx). */
static int probe(struct prober *pr, uint32_t k)
{
    const struct ctx *c = pr->c;
    const struct title_set *tx = pr->order[k];
    const uint32_t *tok = c->tok + tx->tok;
    const struct index *ix = pr->ix;
    int rc = 0;
    for (size_t j = 0, p = prefix_len(tx->n_tok, c->sim); j < p && rc == 0; j++) {
        uint32_t r = tok[j];
        if (!tx->fresh) {
            size_t lo, hi = fresh_range(pr->fx, r, k, &lo);
            rc = probe_list(pr, k, j, pr->fx->post + lo, hi - lo);
            continue;
        }
        /* Titles come fewest pairs first: one shorter than s times this
         * one is too short for every title after it in this prober. */
        size_t *start = &pr->start[r];
        while (*start < ix->end[r] &&
               (double)ix->post[*start].n < c->sim * (double)tx->n_tok - SIM_EPSILON)
            (*start)++;
        rc = probe_list(pr, k, j, ix->post + *start, ix->end[r] - *start);
    }
    return rc;
}

/* Probes its share of the titles. */
static void *prober_main(void *arg)
{
    struct prober *pr = arg;
    int rc = 0;
    for (size_t k = pr->t; k < pr->n_order && rc == 0; k += pr->n_threads)
        rc = probe(pr, (uint32_t)k);
    pr->rc = rc; /* once: the probers' structs share cache lines */
    return NULL;
}

static void prober_free(struct prober *pr)
{
    free(pr->start);
    free(pr->seen);
    free(pr->own.v);
}

static int prober_init(struct prober *pr, uint32_t n_pairs)
{
    pr->start = malloc(((size_t)n_pairs + 1) * sizeof *pr->start);
    pr->seen = calloc(pr->n_order != 0 ? pr->n_order : 1, sizeof *pr->seen);
    if (pr->start == NULL || pr->seen == NULL)
        return TM_ENOMEM;
    memcpy(pr->start, pr->ix->start, ((size_t)n_pairs + 1) * sizeof *pr->start);
    return 0;
}

/* Moves the probers' own edges to c->edges, freeing each as it goes. No
 * cap applies: together they hold at most max_pairs. The order does not
 * matter: the edges are sorted into one order afterwards. */
static int gather_edges(struct ctx *c, struct prober *pr, unsigned n_pr)
{
    for (unsigned t = 0; t < n_pr; t++) {
        struct edges *e = &pr[t].own;
        if (e->n > 0 &&
            grow((void **)&c->edges.v, &c->edges.cap, c->edges.n + e->n, sizeof *c->edges.v) != 0)
            return TM_ENOMEM;
        if (e->n > 0)
            memcpy(c->edges.v + c->edges.n, e->v, e->n * sizeof *e->v);
        c->edges.n += e->n;
        c->edges.n_similar += e->n;
        free(e->v);
        *e = (struct edges){0};
    }
    return 0;
}

/* Runs the probes on n_pr threads (this one and n_pr - 1 more; a thread
 * that cannot start runs here) and adds their edges to c->edges. One
 * prober adds straight to c->edges, under its cap. Several hold their own
 * and stop with TM_ELIMIT once all of them together would pass max_pairs
 * (c->edges is then unchanged): which pairs a cap keeps depends on the
 * order they are found in, and only one thread has that order. */
static int probe_all(struct ctx *c, const struct index *ix, const struct fresh_index *fx,
                     const struct title_set *const *order, const uint64_t *sig, size_t n_order,
                     uint32_t n_pairs, unsigned n_pr)
{
    struct prober pr[TM_MERGE_MAX_THREADS] = {0};
    pthread_t th[TM_MERGE_MAX_THREADS];
    bool started[TM_MERGE_MAX_THREADS] = {false};
    _Atomic size_t found = 0;
    int rc = 0;
    for (unsigned t = 0; t < n_pr && rc == 0; t++) {
        pr[t] = (struct prober){.c = c,
                                .ix = ix,
                                .fx = fx,
                                .order = order,
                                .sig = sig,
                                .n_order = n_order,
                                .t = t,
                                .n_threads = n_pr,
                                .out = n_pr > 1 ? &pr[t].own : &c->edges,
                                .own = {.max_similar = c->edges.max_similar, .shared = &found}};
        rc = prober_init(&pr[t], n_pairs);
    }
    for (unsigned t = 1; t < n_pr && rc == 0; t++)
        started[t] = pthread_create(&th[t], NULL, prober_main, &pr[t]) == 0;
    for (unsigned t = 0; t < n_pr && rc == 0; t++) {
        if (!started[t])
            prober_main(&pr[t]);
    }
    for (unsigned t = 1; t < n_pr; t++) {
        if (started[t])
            (void)pthread_join(th[t], NULL); /* fails only for a thread not joinable */
    }
    for (unsigned t = 0; t < n_pr && rc == 0; t++)
        rc = pr[t].rc;
    for (unsigned t = 0; t < n_pr && rc == TM_ELIMIT; t++)
        if (pr[t].rc != TM_ELIMIT && pr[t].rc != 0)
            rc = pr[t].rc; /* a real failure wins over the cap */
    if (rc == 0 && n_pr > 1)
        rc = gather_edges(c, pr, n_pr);
    for (unsigned t = 0; t < n_pr; t++)
        prober_free(&pr[t]);
    return rc;
}

/* Similar titles within the window, by the AllPairs join (Bayardo et al.
 * 2007) over the distinct titles: titles are taken fewest word pairs
 * first; each is looked up under its prefix_len rarest pairs among the
 * titles before it, and indexed under its index_len rarest. Two similar
 * titles share a pair within both (prefix_len of the longer, index_len of
 * the shorter), so every similar pair is found, once, by its later title.
 * The index is built whole first, so the lookups are independent: they
 * are shared between c->threads threads, each title's by its place. Only
 * pairs with a title holding an undecided item count (a pair of two
 * decided items was examined by the merge that published them, see
 * decided()): a title with none is looked up only among those that have
 * one, in an index of their own (built only when some title has none). */
static int edges_similar(struct ctx *c)
{
    if (!c->any_new) /* every pair is decided */
        return 0;
    uint32_t n_pairs = 0;
    int rc = group_members(c);
    if (rc == 0)
        rc = split_titles(c, &n_pairs);
    if (rc != 0 || n_pairs == 0)
        return rc;
    struct index all = {0};
    struct fresh_index fresh = {0};
    const struct title_set **order = malloc(c->n_titles * sizeof *order);
    uint64_t *sig = malloc(c->n_titles * sizeof *sig);
    rc = order != NULL && sig != NULL ? 0 : TM_ENOMEM;
    size_t n_order = 0;
    bool all_fresh = true;
    for (uint32_t k = 0; k < c->n_titles && rc == 0; k++) {
        if (c->titles[k].n_tok != 0) {
            order[n_order++] = &c->titles[k];
            all_fresh &= c->titles[k].fresh;
        }
    }
    if (rc == 0) {
        sort_by_size(order, n_order);
        rc = index_init(&all, c, n_pairs);
    }
    if (rc == 0 && !all_fresh)
        rc = fresh_init(&fresh, c, order, n_order);
    for (size_t k = 0; k < n_order && rc == 0; k++) {
        index_add(&all, c, order[k], (uint32_t)k);
        sig[k] = title_sig(c->tok + order[k]->tok, order[k]->n_tok);
    }

    /* By default a thread per TITLES_PER_THREAD titles begun, at most
     * TM_MERGE_THREADS. */
    size_t by_titles = n_order / TITLES_PER_THREAD + 1;
    unsigned n_pr = c->threads != 0                ? c->threads
                    : by_titles < TM_MERGE_THREADS ? (unsigned)by_titles
                                                   : TM_MERGE_THREADS;
    if (n_pr > TM_MERGE_MAX_THREADS)
        n_pr = TM_MERGE_MAX_THREADS;
    if (rc == 0) {
        rc = probe_all(c, &all, &fresh, order, sig, n_order, n_pairs, n_pr);
        /* Past max_pairs, which pairs are kept depends on the order they
         * are found in: the first found by one thread. Such a flood is
         * rare; the probes then run again on one thread, so the same
         * pairs are kept. The probers hold max_pairs at most together
         * (moving them into c->edges briefly holds the largest twice). */
        if (rc == TM_ELIMIT && n_pr > 1)
            rc = probe_all(c, &all, &fresh, order, sig, n_order, n_pairs, 1);
    }
    free(order);
    free(sig);
    index_free(&all);
    fresh_free(&fresh);
    return rc;
}

/* ---- stories ------------------------------------------------------------ */

struct rank {
    uint32_t story;
    int prio;
    int64_t pub;
    int64_t seen;
    int64_t rowid;
    uint32_t idx;
};

static struct rank rank_of(const struct ctx *c, uint32_t story, uint32_t i)
{
    const struct tm_merge_row *it = &c->items[i];
    return (struct rank){story, it->priority, it->published_utc, it->first_seen_utc, it->rowid, i};
}

static int cmp_rank(const void *a, const void *b)
{
    const struct rank *x = a, *y = b;
    int c = (x->story > y->story) - (x->story < y->story);
    if (c == 0)
        c = (x->prio < y->prio) - (x->prio > y->prio); /* highest priority first */
    if (c == 0)
        c = cmp_i64(x->pub, y->pub);
    if (c == 0)
        c = cmp_i64(x->seen, y->seen);
    if (c == 0)
        c = cmp_i64(x->rowid, y->rowid);
    if (c == 0)
        c = (x->idx > y->idx) - (x->idx < y->idx);
    return c;
}

#define TM_SORT_NAME sort_ranks
#define TM_SORT_TYPE struct rank
#define TM_SORT_LESS(a, b) (cmp_rank(a, b) < 0)
#include "sort_int.h"

struct claim {
    const char *id;
    int64_t seen;
    int64_t rowid;
    uint32_t idx;
    uint32_t story;
};

static int cmp_claim(const void *a, const void *b)
{
    const struct claim *x = a, *y = b;
    int c = cmp_i64(x->seen, y->seen);
    if (c == 0)
        c = cmp_i64(x->rowid, y->rowid);
    if (c == 0)
        c = (x->idx > y->idx) - (x->idx < y->idx);
    return c;
}

#define TM_SORT_NAME sort_claims
#define TM_SORT_TYPE struct claim
#define TM_SORT_LESS(a, b) (cmp_claim(a, b) < 0)
#include "sort_int.h"

/* Entry ids already given to a story: open addressing over borrowed strings. */
struct idset {
    const char **slot;
    size_t mask;
};

static bool idset_insert(struct idset *set, const char *id)
{
    size_t i = (size_t)tm_hash_str(id) & set->mask;
    while (set->slot[i] != NULL) {
        if (strcmp(set->slot[i], id) == 0)
            return false;
        i = (i + 1) & set->mask;
    }
    set->slot[i] = id;
    return true;
}

/* Gives each story its entry id (see tm_merge): first the ids the members
 * carry, claimed in the order their items were first seen, then new ones.
 * The claims and the order of the new ids are sorted one after the other,
 * so only one of the two lists is held at a time. */
static int assign_entry_ids(const struct ctx *c, struct tm_story *st, size_t n_st,
                            const uint32_t *story_of, const char *host)
{
    const struct tm_merge_row *items = c->items;
    uint32_t n = c->n;
    int rc = TM_ENOMEM;
    struct idset set = {NULL, 0};
    size_t cap = 16;
    while (cap < 2 * n_st)
        cap *= 2;
    set.slot = calloc(cap, sizeof *set.slot);
    if (set.slot == NULL)
        return TM_ENOMEM;
    set.mask = cap - 1;
    size_t n_cl = 0;
    for (uint32_t i = 0; i < n; i++)
        n_cl += has_text(items[i].entry_id);
    struct claim *cl = malloc((n_cl != 0 ? n_cl : 1) * sizeof *cl);
    if (cl == NULL)
        goto done;
    n_cl = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (has_text(items[i].entry_id))
            cl[n_cl++] = (struct claim){items[i].entry_id, items[i].first_seen_utc, items[i].rowid,
                                        i, story_of[i]};
    }
    sort_claims(cl, n_cl);
    for (size_t k = 0; k < n_cl; k++) {
        struct tm_story *s = &st[cl[k].story];
        if (s->entry_id == NULL && idset_insert(&set, cl[k].id))
            s->entry_id = cl[k].id;
    }
    free(cl);
    /* New ids in the order of their primaries' rowids, so that which of two
     * colliding ids gets the "~2" does not depend on the input order. */
    size_t n_new = 0;
    for (size_t k = 0; k < n_st; k++)
        n_new += st[k].entry_id == NULL;
    struct claim *order = malloc((n_new != 0 ? n_new : 1) * sizeof *order);
    if (order == NULL)
        goto done;
    /* Gathered in item order: rows come in rowid order from the store, so
     * the sort is then only a check. */
    n_new = 0;
    bool sorted = true;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = story_of[i];
        if (st[k].entry_id != NULL || st[k].primary != i)
            continue;
        order[n_new] = (struct claim){NULL, 0, items[i].rowid, i, k};
        sorted &= n_new == 0 || cmp_claim(&order[n_new - 1], &order[n_new]) < 0;
        n_new++;
    }
    if (!sorted)
        sort_claims(order, n_new);
    for (size_t k = 0; k < n_new; k++) {
        struct tm_story *s = &st[order[k].story];
        const struct tm_merge_row *p = &items[s->primary];
        char *id = tm_entry_id_make(c->source_ids[p->source], p->id_hash, p->first_seen_utc, host);
        if (id == NULL)
            goto done_order;
        for (unsigned suffix = 2; !idset_insert(&set, id); suffix++) {
            size_t len = strlen(id) + 16;
            char *alt = malloc(len);
            if (alt == NULL) {
                free(id);
                goto done_order;
            }
            snprintf(alt, len, "%s~%u", id, suffix);
            if (idset_insert(&set, alt)) {
                free(id);
                id = alt;
                break;
            }
            free(alt);
        }
        s->entry_id = s->new_entry_id = id;
    }
    rc = 0;
done_order:
    free(order);
done:
    free(set.slot);
    return rc;
}

static int cmp_story(const void *a, const void *b)
{
    const struct tm_story *x = a, *y = b;
    int c = cmp_i64(y->sort_utc, x->sort_utc); /* newest first */
    return c != 0 ? c : strcmp(x->entry_id, y->entry_id);
}

#define TM_SORT_NAME sort_stories
#define TM_SORT_TYPE struct tm_story
#define TM_SORT_LESS(a, b) (cmp_story(a, b) < 0)
#include "sort_int.h"

/* Numbers the components of `uf` as stories: *story_of (caller frees)
 * maps each item to its story, *n_st counts them. */
static int number_stories(struct comp *uf, uint32_t n, uint32_t **story_of, size_t *n_st)
{
    uint32_t *of = malloc(n * sizeof *of);
    uint32_t *root_story = malloc(n * sizeof *root_story);
    if (of == NULL || root_story == NULL) {
        free(of);
        free(root_story);
        return TM_ENOMEM;
    }
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        root_story[i] = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = uf_find(uf, i);
        if (root_story[r] == UINT32_MAX)
            root_story[r] = (uint32_t)k++;
        of[i] = root_story[r];
    }
    free(root_story);
    *story_of = of;
    *n_st = k;
    return 0;
}

/* The stories of `story_of` (n_st of them): members best first, entry ids,
 * newest first. */
static int build_stories(struct ctx *c, const uint32_t *story_of, size_t n_st,
                         const struct tm_merge_opts *o, struct tm_story **out, size_t *n_out)
{
    uint32_t n = c->n;
    int rc = TM_ENOMEM;
    struct rank *r = NULL;
    size_t *count = calloc(n_st != 0 ? n_st : 1, sizeof *count);
    struct tm_story *st = calloc(n_st, sizeof *st);
    if (count == NULL || st == NULL)
        goto fail;
    /* Each story's members, in item order, then ranked best first: a story
     * has a few members, so they are sorted story by story, not all
     * together, in one scratch as long as the largest story. */
    size_t most = 0;
    for (uint32_t i = 0; i < n; i++)
        if (++count[story_of[i]] > most)
            most = count[story_of[i]];
    for (size_t k = 0; k < n_st; k++) {
        st[k].members = malloc(count[k] * sizeof *st[k].members);
        if (st[k].members == NULL)
            goto fail;
    }
    r = malloc((most != 0 ? most : 1) * sizeof *r);
    if (r == NULL)
        goto fail;
    for (uint32_t i = 0; i < n; i++) {
        struct tm_story *s = &st[story_of[i]];
        s->members[s->n_members++] = i;
    }
    for (size_t k = 0; k < n_st; k++) {
        struct tm_story *s = &st[k];
        for (size_t m = 0; m < s->n_members; m++)
            r[m] = rank_of(c, (uint32_t)k, (uint32_t)s->members[m]);
        sort_ranks(r, s->n_members);
        for (size_t m = 0; m < s->n_members; m++)
            s->members[m] = r[m].idx;
        s->primary = s->members[0];
        s->sort_utc = c->items[s->primary].published_utc;
    }
    free(r);
    r = NULL;
    free(count);
    count = NULL;
    char *host = tm_entry_id_host(o->public_url); /* one URL parse, not one per story */
    rc = host != NULL ? assign_entry_ids(c, st, n_st, story_of, host) : TM_ENOMEM;
    free(host);
    if (rc != 0)
        goto fail;
    sort_stories(st, n_st);
    *out = st;
    *n_out = n_st;
    return 0;
fail:
    free(r);
    free(count);
    tm_stories_free(st, n_st);
    return rc;
}

/* Frees what only the link and title rules use, before the similar-title
 * rule takes its memory. Safe to call twice. */
static void free_lookups(struct ctx *c)
{
    free(c->refs);
    free(c->new_links.slot);
    free(c->new_titles.slot);
    c->refs = NULL;
    c->new_links.slot = NULL;
    c->new_titles.slot = NULL;
}

/* Frees the similar-title rule's word pairs. Safe to call twice. */
static void free_titles(struct ctx *c)
{
    free(c->titles);
    free(c->tok);
    free(c->mem);
    c->titles = NULL;
    c->tok = NULL;
    c->mem = NULL;
}

/* Frees what the edges needed (and the components' source sets); safe to
 * call twice. */
static void free_scratch(struct ctx *c, struct comp *uf)
{
    if (uf != NULL) {
        for (uint32_t i = 0; i < c->n; i++) {
            free(uf[i].srcs);
            uf[i].srcs = NULL;
        }
    }
    free_titles(c);
    free_lookups(c);
    free(c->title_id);
    free(c->edges.v);
    c->title_id = NULL;
    c->edges.v = NULL;
    c->edges.n = 0;
    c->edges.cap = 0;
}

uint64_t tm_merge_hash(const char *s)
{
    if (!has_text(s))
        return 0;
    uint64_t h = tm_hash_str(s);
    return h != 0 ? h : 1;
}

int tm_merge(const struct tm_item *items, size_t n_items, const struct tm_merge_opts *opts,
             struct tm_story **out, size_t *n_out)
{
    return tm_merge_ex(items, n_items, opts, out, n_out, NULL);
}

int tm_merge_ex(const struct tm_item *items, size_t n_items, const struct tm_merge_opts *opts,
                struct tm_story **out, size_t *n_out, struct tm_merge_stats *stats)
{
    if (stats != NULL)
        *stats = (struct tm_merge_stats){0};
    if (out == NULL || n_out == NULL)
        return TM_EINVAL;
    *out = NULL;
    *n_out = 0;
    if (items == NULL && n_items > 0)
        return TM_EINVAL;
    if (n_items > TM_MERGE_MAX_ITEMS)
        return TM_ELIMIT;
    struct tm_merge_input in;
    int rc = tm_merge_input_of(items, n_items, &in);
    if (rc == 0)
        rc = tm_merge_rows(in.rows, in.n, in.source_ids, in.n_sources, opts, out, n_out, stats);
    /* The stories borrow entry ids from the items, never from `in`. */
    tm_merge_input_clear(&in);
    return rc;
}

static int on_qsort_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int tm_merge_input_of(const struct tm_item *items, size_t n_items, struct tm_merge_input *out)
{
    *out = (struct tm_merge_input){0};
    size_t n = n_items != 0 ? n_items : 1;
    out->rows = calloc(n, sizeof *out->rows);
    out->source_ids = malloc(n * sizeof *out->source_ids);
    if (out->rows == NULL || out->source_ids == NULL) {
        tm_merge_input_clear(out);
        return TM_ENOMEM;
    }
    for (size_t i = 0; i < n_items; i++)
        out->source_ids[i] = items[i].source_id != NULL ? items[i].source_id : "";
    qsort(out->source_ids, n_items, sizeof *out->source_ids, on_qsort_str);
    size_t n_src = 0;
    for (size_t i = 0; i < n_items; i++) {
        if (n_src == 0 || strcmp(out->source_ids[n_src - 1], out->source_ids[i]) != 0)
            out->source_ids[n_src++] = out->source_ids[i];
    }
    out->n_sources = n_src;
    for (size_t i = 0; i < n_items; i++) {
        const struct tm_item *it = &items[i];
        const char *sid = it->source_id != NULL ? it->source_id : "";
        const char **hit =
            bsearch(&sid, out->source_ids, n_src, sizeof *out->source_ids, on_qsort_str);
        char *made = NULL;
        if (it->key == NULL) { /* as tm_entry_id_new does */
            made = tm_item_key(it->guid, it->canonical_link, it->title, it->published_utc);
            if (made == NULL) {
                tm_merge_input_clear(out);
                return TM_ENOMEM;
            }
        }
        uint64_t id_hash = tm_entry_id_hash(sid, made != NULL ? made : it->key);
        free(made);
        out->rows[i] = (struct tm_merge_row){
            .rowid = it->rowid,
            .published_utc = it->published_utc,
            .first_seen_utc = it->first_seen_utc,
            .link_hash = tm_merge_hash(it->canonical_link),
            .title_hash = tm_merge_hash(it->norm_title),
            .norm_title = it->norm_title,
            .entry_id = it->entry_id,
            .id_hash = id_hash,
            .source = (uint32_t)(hit - out->source_ids),
            .priority = it->source_priority,
        };
    }
    out->n = n_items;
    return 0;
}

void tm_merge_input_clear(struct tm_merge_input *in)
{
    if (in == NULL)
        return;
    free(in->rows);
    free(in->source_ids);
    *in = (struct tm_merge_input){0};
}

int tm_merge_rows(const struct tm_merge_row *rows, size_t n_rows, const char *const *source_ids,
                  size_t n_sources, const struct tm_merge_opts *opts, struct tm_story **out,
                  size_t *n_out, struct tm_merge_stats *stats)
{
    if (stats != NULL)
        *stats = (struct tm_merge_stats){0};
    if (out == NULL || n_out == NULL)
        return TM_EINVAL;
    *out = NULL;
    *n_out = 0;
    if ((rows == NULL && n_rows > 0) || (source_ids == NULL && n_sources > 0))
        return TM_EINVAL;
    struct tm_merge_opts o = {.similarity = TM_MERGE_DEFAULT_SIMILARITY,
                              .window_s = TM_MERGE_DEFAULT_WINDOW_S,
                              .max_pairs = TM_MERGE_MAX_PAIRS};
    if (opts != NULL) {
        if (opts->similarity != 0.0)
            o.similarity = opts->similarity;
        if (opts->window_s != 0)
            o.window_s = opts->window_s;
        o.public_url = opts->public_url;
        if (opts->max_pairs != 0)
            o.max_pairs = opts->max_pairs;
        o.title_of = opts->title_of;
        o.title_of_arg = opts->title_of_arg;
        o.threads = opts->threads;
    }
    if (!(o.similarity > 0.5 && o.similarity <= 1.0) || o.window_s < 0)
        return TM_EINVAL;
    for (size_t i = 0; i < n_rows; i++) {
        if (rows[i].source >= n_sources)
            return TM_EINVAL;
    }
    if (n_rows == 0)
        return 0;
    if (n_rows > TM_MERGE_MAX_ITEMS)
        return TM_ELIMIT;
    size_t n_items = n_rows;

    struct ctx c = {.items = rows,
                    .source_ids = source_ids,
                    .title_of = o.title_of,
                    .title_of_arg = o.title_of_arg,
                    .n = (uint32_t)n_items,
                    .sim = o.similarity,
                    .window_s = o.window_s,
                    .threads = o.threads};
    c.edges.max_similar = o.max_pairs;
    struct comp *uf = NULL;
    int rc = TM_ENOMEM;
    c.title_id = malloc(n_items * sizeof *c.title_id);
    c.refs = malloc(n_items * sizeof *c.refs);
    if (c.title_id == NULL || c.refs == NULL)
        goto done;

    /* Each part's memory is freed as soon as the rules after it no longer
     * need it: the equal-title rule (beside the caller's titles) and the
     * similar-title rule's word pairs and postings are the merge's peaks,
     * so nothing else is held beside them. */
    if ((rc = index_undecided(&c)) != 0 || (rc = edges_entry(&c)) != 0 ||
        (rc = edges_link(&c)) != 0)
        goto done;
    free(c.new_links.slot);
    c.new_links.slot = NULL;
    if ((rc = edges_title(&c)) != 0)
        goto done;
    free_lookups(&c);
    if ((rc = edges_similar(&c)) != 0)
        goto done;
    free_titles(&c);

    sort_edges(c.edges.v, c.edges.n);

    rc = TM_ENOMEM;
    uf = calloc(n_items, sizeof *uf);
    if (uf == NULL)
        goto done;

    for (uint32_t i = 0; i < c.n; i++)
        uf[i] = (struct comp){i, 1, src_of(&c, i), NULL, 0};
    for (size_t k = 0; k < c.edges.n; k++) {
        if ((rc = uf_union(uf, c.edges.v[k].a, c.edges.v[k].b)) != 0)
            goto done;
    }
    /* Only the components are needed from here: the scratch goes first,
     * so the stories are built within the memory the edges took. */
    free_scratch(&c, uf);
    uint32_t *story_of = NULL;
    size_t n_st = 0;
    rc = number_stories(uf, c.n, &story_of, &n_st);
    free(uf);
    uf = NULL;
    if (rc == 0)
        rc = build_stories(&c, story_of, n_st, &o, out, n_out);
    free(story_of);
    if (rc == 0 && stats != NULL)
        stats->pairs_dropped = c.edges.dropped;
done:
    free_scratch(&c, uf);
    free(uf);
    return rc;
}

static int cmp_id_write(const void *a, const void *b)
{
    int64_t x = ((const struct tm_merge_id_write *)a)->rowid;
    int64_t y = ((const struct tm_merge_id_write *)b)->rowid;
    return (x > y) - (x < y);
}

#define TM_SORT_NAME sort_id_writes
#define TM_SORT_TYPE struct tm_merge_id_write
#define TM_SORT_LESS(a, b) (cmp_id_write(a, b) < 0)
#include "sort_int.h"

int tm_merge_id_writes(const struct tm_merge_row *rows, const struct tm_story *stories,
                       size_t n_stories, struct tm_merge_id_write **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    size_t n = 0;
    for (size_t i = 0; i < n_stories; i++)
        if (stories[i].entry_id != NULL)
            n += stories[i].n_members;
    if (n == 0)
        return 0;
    struct tm_merge_id_write *w = malloc(n * sizeof *w);
    if (w == NULL)
        return TM_ENOMEM;
    n = 0;
    for (size_t i = 0; i < n_stories; i++) {
        const char *id = stories[i].entry_id;
        for (size_t m = 0; id != NULL && m < stories[i].n_members; m++) {
            const struct tm_merge_row *it = &rows[stories[i].members[m]];
            if (it->entry_id == NULL || strcmp(it->entry_id, id) != 0)
                w[n++] = (struct tm_merge_id_write){it->rowid, id};
        }
    }
    /* The store's table order: each of its pages is then read and dirtied
     * once (in story order, a cold merge's 200,000 writes would wander over
     * the whole table through a small cache). */
    sort_id_writes(w, n);
    if (n == 0) {
        free(w);
        w = NULL;
    }
    *out = w;
    *n_out = n;
    return 0;
}
