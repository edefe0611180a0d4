/* tinmoi — the Atom 1.0 writer (RFC 4287, SPEC §6).
 *
 * Pure: builds the document in memory with libxml2's xmlTextWriter and does
 * no I/O. The bytes depend only on the view (never on the time of writing),
 * so an unchanged merged list renders byte-identical output and the
 * publisher leaves the file alone. */
#ifndef TINMOI_ATOM_H
#define TINMOI_ATOM_H

#include <stddef.h>

#include "tinmoi/error.h"
#include "tinmoi/view.h"

/* Renders the Atom feed of `category` (NULL: the merged "latest" list) as
 * UTF-8 XML:
 *  - feed: xml:lang="vi"; id and rel="self" = public_url + "latest.atom" (or
 *    "<category>.atom"); title = config title (" — <category>" appended for
 *    a category); rel="alternate" = public_url; author = the feed title;
 *    generator "tinmoi" with its version; updated = the latest entry
 *    `updated` among the entries written, or 1970-01-01T00:00:00Z for an
 *    empty feed (a fixed value, so an empty feed never changes either).
 *  - the first config->items_limit stories of that category, newest first;
 *    each entry: id = story entry_id, title, link rel="alternate" (when the
 *    primary has a link), published, updated = max(published, updated),
 *    author (when known), one category per tag, summary and content as
 *    type="html" (content = content, else summary; content type="text" with
 *    the title when the item has neither link nor text, as §4.1.2 requires
 *    one of them), and atom:source (§4.2.11: id = source feed URL, title,
 *    alternate = html_url or the feed URL, self = feed URL, updated = the
 *    latest date among the source's items).
 * Characters XML 1.0 forbids (C0 controls other than tab, LF, CR; U+FFFE,
 * U+FFFF) are dropped. On 0, *out is a NUL-terminated malloc'd buffer of
 * *out_len bytes the caller frees with free(). Returns TM_ENOMEM, or
 * TM_EINVAL when a date cannot be written (detail in `err`). */
int tm_atom_render(const struct tm_view *v, const char *category, char **out, size_t *out_len,
                   struct tm_error *err);

#endif
