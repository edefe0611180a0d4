/* tinmoi — identity of items: canonical links, normalised titles, keys and
 * published entry ids (SPEC §7).
 *
 * Pure: no I/O, no global state, no logging. Every function that returns a
 * string returns a malloc'd, NUL-terminated UTF-8 string the caller frees
 * with free(); NULL means "no value" as documented, or out of memory. */
#ifndef TINMOI_IDENTITY_H
#define TINMOI_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

struct tm_item;

/* A date more than this far after the time an item was first seen is a
 * wrong clock or a wrong time zone at the source, not a scheduled story
 * (SPEC §7: "more than 1 day in the future is clamped"). */
#define TM_IDENTITY_MAX_FUTURE_S (24 * 3600)

/* Canonical form of an absolute http(s) link, for comparing links (SPEC §7),
 * built with libcurl's URL API:
 *  - the scheme is always written "https": http and https are the same link;
 *  - the host is lowercased (ASCII; a non-ASCII IDN host is Unicode
 *    case-folded and kept in Unicode: its punycode form is not equated);
 *  - the default port (:80 for http, :443 for https) is dropped;
 *  - dot segments are resolved, raw spaces and non-ASCII bytes in the path
 *    and query are percent-encoded, and %xx escapes are written uppercase
 *    (RFC 3986 §6.2.2.1);
 *  - one trailing "/" on the path is dropped, except the root "/";
 *  - the fragment is dropped;
 *  - query parameters named utm_* (any case), fbclid, gclid, mc_cid and
 *    mc_eid (Mailchimp) are removed, the others stay in their order, empty
 *    parameters ("a=1&&b=2") are removed, and an empty query is dropped.
 * The user info part is kept. Returns NULL for NULL, an unparseable URL, a
 * scheme other than http/https, or out of memory. */
char *tm_link_canonical(const char *url);

/* Normalised title for comparing titles (SPEC §7): NFC, full Unicode case
 * fold, default-ignorable code points (soft hyphen, zero-width joiners)
 * removed, every punctuation (P*) and symbol (S*) code point turned into a
 * space, white space and control characters folded to single spaces, trimmed.
 * Diacritics are kept: "báo" and "bão" stay different words. NFD and NFC
 * inputs give the same result. Returns NULL for NULL, when nothing remains,
 * for invalid UTF-8, or on OOM. */
char *tm_title_normalize(const char *title);

/* Word-bigram Jaccard similarity of two titles already normalised by
 * tm_title_normalize: |A ∩ B| / |A ∪ B| over the sets of adjacent word pairs.
 * When either title has a single word, both are compared as sets of words
 * instead. Returns a value in [0, 1]; 0 when either is NULL or empty, 1 when
 * they are equal. Word pairs are compared by a 64-bit hash (a false match
 * needs a hash collision, about 1 in 10^19 per pair). */
double tm_title_similarity(const char *norm_a, const char *norm_b);

/* The date an item is listed under (SPEC §7): `published_utc` as parsed, or
 * `first_seen_utc` when it is TM_TIME_NONE or more than
 * TM_IDENTITY_MAX_FUTURE_S after `first_seen_utc`. */
int64_t tm_item_published_utc(int64_t published_utc, int64_t first_seen_utc);

/* Per-source identity keys (SPEC §7). Each returns NULL when its input is
 * NULL or empty (or on OOM):
 *  - tm_item_key_guid:  "g:<guid>" (the guid as the feed wrote it);
 *  - tm_item_key_link:  "l:<canonical link>" (pass tm_link_canonical's result);
 *  - tm_item_key_title: "h:<16 hex digits>", the FNV-1a 64 hash of the
 *    normalised title, a newline and the decimal `published_utc` as the feed
 *    gave it (the newline and date are left out when it is TM_TIME_NONE).
 *    Never NULL except on OOM: an item with neither title nor date gets the
 *    hash of the empty string. FNV-1a is enough here: keys are compared only
 *    within one source (thousands of items, so a collision is about 1 in
 *    10^12), and a source that forges a collision only hides its own item.
 *
 * The store's lookup order for an incoming item of a source, so that a
 * source that changes every guid but keeps link and title does not create
 * new items:
 *   1. an item of that source with the same key (tm_item_key);
 *   2. else an item of that source with the same canonical link AND the same
 *      normalised title (both: some feeds give every item the same link);
 *   3. else, when the item has no canonical link, an item of that source
 *      with no canonical link, the same normalised title and the same
 *      published_utc;
 *   otherwise it is a new item. A match keeps its rowid, first_seen_utc and
 *   entry_id and takes the new fields (and the new key). */
char *tm_item_key_guid(const char *guid);
char *tm_item_key_link(const char *canonical_link);
char *tm_item_key_title(const char *norm_title, int64_t published_utc);

/* The key an item is stored under: tm_item_key_guid(guid), else
 * tm_item_key_link(canonical_link), else
 * tm_item_key_title(tm_title_normalize(title), published_utc). `title` is
 * the plain title (it is normalised here); `published_utc` is the date as
 * the feed gave it, TM_TIME_NONE when absent, so the key does not depend on
 * when the item was first seen. Returns NULL only on OOM. */
char *tm_item_key(const char *guid, const char *canonical_link, const char *title,
                  int64_t published_utc);

/* A new published entry id (atom:id, JSON Feed id) for a story whose primary
 * is `primary`: a tag URI (RFC 4151)
 *   tag:<host>,<yyyy-mm-dd>:<source_id>/<16 hex digits>
 * where <host> is the lowercased host name of `public_url` ("tinmoi.invalid"
 * when `public_url` is NULL, unparseable or its host is not a DNS-style
 * name), the date is the day (UTC) the primary was first seen, <source_id>
 * is percent-encoded outside [A-Za-z0-9._~-], and the hex digits are the
 * FNV-1a 64 hash of the source id, a newline and the item's key (its `key`,
 * or tm_item_key of its fields when `key` is NULL). The same item and
 * public_url always give the same id. Returns NULL when `primary` is NULL or
 * on OOM. */
char *tm_entry_id_new(const struct tm_item *primary, const char *public_url);

/* The hash part of that id: FNV-1a 64 of the source id (NULL as ""), a
 * newline and the item's key. */
uint64_t tm_entry_id_hash(const char *source_id, const char *key);

/* The <host> part of those ids for `public_url` (see tm_entry_id_new), to
 * be computed once for many ids. Caller frees; NULL on OOM. */
char *tm_entry_id_host(const char *public_url);

/* The same id from its parts: the source id (NULL as ""), the hash
 * (tm_entry_id_hash), the time the item was first seen and the host
 * (tm_entry_id_host). NULL on OOM. */
char *tm_entry_id_make(const char *source_id, uint64_t hash, int64_t first_seen_utc,
                       const char *host);

#endif
