/* tinmoi — the same story from several sources, merged (SPEC §7).
 *
 * Pure: no I/O, no global state, no logging. The store hands over every
 * item it keeps; tm_merge groups them into stories, picks each story's
 * primary item and its published entry id, and orders the stories for the
 * writers. */
#ifndef TINMOI_MERGE_H
#define TINMOI_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "tinmoi/item.h"

/* SPEC §7: titles this similar (word-bigram Jaccard) are the same story. */
#define TM_MERGE_DEFAULT_SIMILARITY 0.85
/* SPEC §7: similar titles are the same story only within 72 hours. */
#define TM_MERGE_DEFAULT_WINDOW_S (72 * 3600)
/* Items merge() accepts: what the store loads at most
 * (TM_STORE_MAX_LOAD_ITEMS). Indexes are kept in 32 bits, and the rules
 * that are never cut short (entry id, link, equal title) add at most four
 * candidate pairs an item, so at this count their pairs take at most about
 * 200 MB and the per-item scratch about as much again. */
#define TM_MERGE_MAX_ITEMS 1000000u
/* Similar-title pairs merge() keeps by default. Real archives give about one
 * per item; millions mean a flood of near-identical titles from several
 * sources within the window, and at 48 bytes a pair this bounds their
 * memory to about 400 MB. Past it the rule stops adding pairs (those
 * stories stay split) and tm_merge_ex reports how many it dropped. */
#define TM_MERGE_MAX_PAIRS (8u * 1024 * 1024)

/* Threads the similar-title rule's lookups share by default (the merge's
 * own and one more) once there are enough distinct titles to be worth it.
 * The merge is pure, but it may start threads of its own for this (and
 * joins them before it returns); tm_merge_opts.threads = 1 keeps it on
 * the caller's. */
#define TM_MERGE_THREADS 2
/* Most threads tm_merge_opts.threads may ask for; more is taken as this
 * many (the probers' state is on the stack, and the machines this runs on
 * have a few cores). */
#define TM_MERGE_MAX_THREADS 8

struct tm_merge_row; /* below: what the merge reads of an item */

struct tm_merge_opts {
    double similarity;      /* Jaccard threshold in (0.5, 1]; 0 means the default */
    int64_t window_s;       /* > 0; 0 means the default */
    const char *public_url; /* base of new entry ids (tm_entry_id_new); may be NULL */
    /* Similar-title pairs of items kept; 0 means TM_MERGE_MAX_PAIRS. Each
     * pair counts once. The kept ones are the first found (by title: fewer
     * word pairs first, then the order of the titles' hashes; the items of
     * two titles in time order), not the most similar: past the cap the
     * merge is a partial one, reported. */
    size_t max_pairs;
    /* Where tm_merge_rows reads the normalised title of a row whose
     * norm_title is NULL, when the similar-title rule needs it (an item
     * within window_s of an undecided one): sets *title (NULL: none; valid
     * until the next call) and returns 0, or a negative TM_E* code that
     * ends the merge with it. Called in the rows' order, once for each
     * distinct title hash (at its first row in the window; at the next
     * one when that gives no text). NULL: such rows have no title to
     * compare. */
    int (*title_of)(void *arg, const struct tm_merge_row *row, const char **title);
    void *title_of_arg;
    /* Threads for the similar-title rule's lookups (more than
     * TM_MERGE_MAX_THREADS count as that many); 0: TM_MERGE_THREADS, or
     * one for few titles. The stories do not depend on it. */
    unsigned threads;
};

/* What a merge had to leave out (tm_merge_ex). */
struct tm_merge_stats {
    size_t pairs_dropped; /* similar-title pairs past opts->max_pairs, not applied */
};

/* Groups `items[0..n_items)` into stories.
 *
 * Two items of DIFFERENT sources are the same story when
 *   - they already carry the same entry_id (a published story never splits),
 *   - or their canonical links are equal (a link that two or more items of
 *     one source share is that source's section page, not an article, and is
 *     not used for that source's items),
 *   - or their normalised titles are equal and their published dates are
 *     within `window_s` (the window applies to equal titles as well: "Lịch
 *     công tác tuần" recurs every week and is a new story each time),
 *   - or tm_title_similarity of their normalised titles is at least
 *     `similarity` and their dates are within `window_s`.
 * Items of the SAME source are never merged, by any rule: a source that
 * repeats a title or a link has two items by its own word, and its own
 * duplicates are the store's business (per-source identity). A story
 * therefore holds at most one item per source; the rules are applied as
 * unions in a fixed order (entry id, link, equal title, then similar titles
 * from most to least similar, then closest in time, then lowest rowids) and a
 * union that would put two items of one source into a story is skipped. The
 * result is deterministic: it does not depend on the order of `items`.
 *
 * Equal titles do not pair every two items of a group: with the group in
 * time order, each item is paired with its two nearest earlier items of
 * other sources within the window (a thousand sources sharing "Thông báo"
 * give two thousand pairs, not half a million). Closest pairs are applied
 * first either way, and a chain of items each within the window of the
 * next is connected, so the stories are those of all pairs whenever no
 * union is refused. They can differ only when an item's nearest partners
 * are refused (their stories already hold its source, e.g. because the
 * source repeats the title, or through a link) while a farther item of the
 * group, whose story does not, is not paired with it: the item then stays
 * apart where all pairs would have joined it to that farther one. The
 * one-per-source rule has already made that a judgement call, and the
 * farther item is the worse match in time.
 *
 * The merge is incremental. An item that carries an entry_id was decided by
 * the merge that published it, so a pair of two such items is not examined
 * again by the link and title rules (their published stories are kept whole
 * by the entry-id rule): only pairs with at least one undecided item (a new
 * one) are. A publish after a few new items therefore looks only at the
 * groups of equal links and titles that hold a new item and at the titles
 * within `window_s` of one; with no new item it builds the stories from the
 * entry ids alone. The price: a published item whose link or title its feed
 * later edits is not re-matched against other published items.
 *
 * Each story's members are sorted best first; members[0] == primary: highest
 * source_priority, then earliest published_utc, then earliest
 * first_seen_utc, then lowest rowid. Its entry_id is the entry_id of the
 * member seen first (smallest first_seen_utc, then rowid) that carries one
 * and whose id no other story already took; otherwise a new id,
 * tm_entry_id_new(primary, opts->public_url) (with "~2", "~3"... appended in
 * the unlikely case it is taken). So an entry id, once published, stays
 * even when a better primary arrives. Members whose entry_id differs from
 * their story's lost their old entry: their story was merged into an older
 * one, the one case where a published entry disappears. The caller stores
 * story.entry_id on every member whose entry_id differs.
 *
 * Stories come out newest first by sort_utc (the primary's published_utc),
 * ties by entry_id (strcmp). Items with NULL canonical_link or norm_title
 * simply do not match by that rule.
 *
 * `items` is not modified and must outlive the stories, unchanged: members
 * are indexes into it, and a story whose id was claimed from a member
 * borrows that member's entry_id string (entry_id; only new ids are the
 * story's own, new_entry_id). `opts` may be NULL (defaults). On success returns 0 and
 * sets *out (free with tm_stories_free(*out, *n_out); NULL when n_items is
 * 0) and *n_out. Errors: TM_EINVAL (NULL out or n_out, NULL items with
 * n_items > 0, similarity or window out of range), TM_ELIMIT (n_items over
 * TM_MERGE_MAX_ITEMS), TM_ENOMEM; *out is then NULL and *n_out 0. More
 * similar-title pairs than opts->max_pairs are not an error: the rest are
 * dropped (see tm_merge_ex, which reports them).
 *
 * Cost, N items, D distinct titles, T words per title: O(N·log N) for
 * sorting keys, at most two pairs an item for equal titles, O(D·T)
 * (expected) to number the word pairs of each distinct title once in a
 * hash table and O(P·log P) to rank the P distinct ones, plus O(C·T) for
 * the C candidate pairs of titles, which share one of the rarest word
 * pairs of each (prefix filtering: a pair at Jaccard ≥ s shares one of the
 * |x| − ⌈s·|x|⌉ + 1 rarest of the longer and one of the shorter's index
 * prefix, so no similar pair is missed). Two similar titles carried by k₁
 * and k₂ items give up to k₁·k₂ similar pairs of items: that is what
 * max_pairs cuts. */
int tm_merge(const struct tm_item *items, size_t n_items, const struct tm_merge_opts *opts,
             struct tm_story **out, size_t *n_out);

/* tm_merge, and when `stats` is not NULL it is set (zeroed first, also on
 * error) to what the merge left out: pairs_dropped > 0 means the
 * similar-title rule hit opts->max_pairs and some stories may be split that
 * a full merge would join. Same arguments, result and errors as tm_merge. */
int tm_merge_ex(const struct tm_item *items, size_t n_items, const struct tm_merge_opts *opts,
                struct tm_story **out, size_t *n_out, struct tm_merge_stats *stats);

/* ---- the merge's own input ----------------------------------------------
 * What tm_merge reads of an item, and nothing else: the publishing half
 * loads the whole archive in this form (tm_store_load_rows, 72 bytes and
 * the entry id an item; the titles are read one at a time when needed) and the display fields only
 * for what it renders. Links and titles are compared by their hashes (tm_merge_hash): two different
 * strings with one 64-bit hash would count as equal. */
struct tm_merge_row {
    int64_t rowid;
    int64_t published_utc;  /* after SPEC §7's rules, as tm_item's */
    int64_t first_seen_utc; /* the day of a new entry id */
    uint64_t link_hash;     /* tm_merge_hash of the canonical link; 0: none */
    uint64_t title_hash;    /* tm_merge_hash of the normalised title; 0: none */
    /* The normalised title, for the similar-title rule; NULL: read through
     * tm_merge_opts.title_of when the rule needs it (the store loads none:
     * a cold archive's titles would be the biggest part of its rows). */
    const char *norm_title;
    const char *entry_id; /* the published entry it belongs to; NULL: undecided */
    uint64_t id_hash;     /* tm_entry_id_hash of its source and key: a new id's */
    uint32_t source;      /* index into the source ids handed over with the rows */
    int32_t priority;     /* the source's priority */
};

/* The hash links and titles are compared by: tm_hash_str, with 0 (no
 * string, or an empty one) kept apart from every string's. */
uint64_t tm_merge_hash(const char *s);

/* tm_merge_ex over rows: the same rules, order and result. `source_ids`
 * (n_sources of them) gives each row's source its id, which new entry ids
 * are made of; they must be distinct (items of one source are told apart by
 * their number alone); rows[i].source < n_sources (TM_EINVAL otherwise). Stories'
 * members index `rows`; a claimed id borrows the row's entry_id string, so
 * the rows' strings must outlive the stories, unchanged. */
int tm_merge_rows(const struct tm_merge_row *rows, size_t n_rows, const char *const *source_ids,
                  size_t n_sources, const struct tm_merge_opts *opts, struct tm_story **out,
                  size_t *n_out, struct tm_merge_stats *stats);

/* An entry id to record: item `rowid` belongs to the published entry
 * `entry_id` (borrowed from the stories). */
struct tm_merge_id_write {
    int64_t rowid;
    const char *entry_id;
};

/* What the stories change in the rows' entry ids: each member of
 * stories[0..n_stories) (indexes into `rows`) whose entry_id differs from
 * its story's, stories with a NULL entry_id skipped, in rowid order. On 0
 * *out (NULL when *n_out is 0) is the caller's to free, its ids borrowed
 * from the stories; TM_ENOMEM. */
int tm_merge_id_writes(const struct tm_merge_row *rows, const struct tm_story *stories,
                       size_t n_stories, struct tm_merge_id_write **out, size_t *n_out);

/* Rows for items (what tm_merge does with its input): the hashes computed
 * (an item without a key hashed with tm_item_key's, as tm_entry_id_new
 * does), the strings borrowed from the items. Free with
 * tm_merge_input_clear. */
struct tm_merge_input {
    struct tm_merge_row *rows;
    size_t n;
    const char **source_ids; /* borrowed from the items, sorted */
    size_t n_sources;
};

int tm_merge_input_of(const struct tm_item *items, size_t n_items, struct tm_merge_input *out);
void tm_merge_input_clear(struct tm_merge_input *in);

#endif
