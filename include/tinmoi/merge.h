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
/* Items merge() accepts: indexes are kept in 32 bits to halve the memory of
 * the candidate lists; a store holding more has to be pruned first. */
#define TM_MERGE_MAX_ITEMS UINT32_MAX
/* Candidate pairs merge() examines. Real archives give about one per item;
 * millions mean a flood of identical titles from several sources within the
 * window, and at 48 bytes a pair this bounds the memory to about 400 MB. */
#define TM_MERGE_MAX_PAIRS (8u * 1024 * 1024)

struct tm_merge_opts {
    double similarity;      /* Jaccard threshold in (0.5, 1]; 0 means the default */
    int64_t window_s;       /* > 0; 0 means the default */
    const char *public_url; /* base of new entry ids (tm_entry_id_new); may be NULL */
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
 * `items` is not modified and must outlive the stories, whose members are
 * indexes into it. `opts` may be NULL (defaults). On success returns 0 and
 * sets *out (free with tm_stories_free(*out, *n_out); NULL when n_items is
 * 0) and *n_out. Errors: TM_EINVAL (NULL out or n_out, NULL items with
 * n_items > 0, similarity or window out of range), TM_ELIMIT (n_items over
 * TM_MERGE_MAX_ITEMS, candidate pairs over TM_MERGE_MAX_PAIRS), TM_ENOMEM;
 * *out is then NULL and *n_out 0.
 *
 * Cost, N items, T words per title: O(N·T·log(N·T)) for sorting keys and
 * word pairs, plus O(C·T) for the C candidate pairs, which are pairs of
 * items of different sources within the window that share one of the rarest
 * word pairs of each title (prefix filtering: a pair at Jaccard ≥ s shares
 * one of the |x| − ⌈s·|x|⌉ + 1 rarest, so no similar pair is missed), plus
 * pairs sharing an exact title within the window. */
int tm_merge(const struct tm_item *items, size_t n_items, const struct tm_merge_opts *opts,
             struct tm_story **out, size_t *n_out);

#endif
