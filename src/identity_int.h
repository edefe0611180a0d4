/* tinmoi — helpers identity.c shares with merge.c; not part of libtinmoi's
 * public API. */
#ifndef TINMOI_IDENTITY_INT_H
#define TINMOI_IDENTITY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* tm_title_normalize done wholly by utf8proc: the reference its fast path
 * (one table lookup a code point for NFC-inert text) must equal, which
 * test_identity checks; the path every other title takes. Same contract as
 * tm_title_normalize. */
char *tm_identity_title_normalize_utf8proc(const char *title);

/* tm_title_normalize's fast path alone: sets *slow and returns NULL when
 * the title holds a code point outside its table, or on OOM (the caller
 * then takes the utf8proc pass); otherwise *slow is false and the result
 * is tm_title_normalize's. test_identity checks that the fast path is
 * taken, not only that the two agree. */
char *tm_identity_title_normalize_fast(const char *title, bool *slow);

/* tm_link_canonical done wholly by libcurl's URL API: the reference its
 * fast path (plain http(s) links, read in one pass) must equal, which
 * test_identity checks; the path every other link takes. Same contract as
 * tm_link_canonical. */
char *tm_identity_link_canonical_curl(const char *url);

/* tm_link_canonical's fast path alone, for a non-NULL url: sets *slow and
 * returns NULL when the link is not plain (see identity.c), or on OOM;
 * otherwise *slow is false and the result is tm_link_canonical's. */
char *tm_identity_link_canonical_fast(const char *url, bool *slow);

/* Number of words (runs of non-space bytes) in a normalised title; 0 for NULL. */
size_t tm_identity_count_words(const char *norm);

/* The token set of a normalised title, sorted ascending with duplicates
 * removed, as hashes: each adjacent word pair, or each word when `words`
 * is true (the caller's choice for a title of fewer than two words, which
 * has no pair), written to `out`, which has room for
 * tm_identity_count_words(norm) tokens (never more are written); returns
 * how many the set holds. */
size_t tm_identity_title_tokens_into(const char *norm, bool words, uint64_t *out);

/* |A ∩ B| / |A ∪ B| of two sorted duplicate-free token sets; 0 when both are
 * empty. */
double tm_identity_jaccard(const uint64_t *a, size_t n_a, const uint64_t *b, size_t n_b);

#endif
