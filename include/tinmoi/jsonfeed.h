/* tinmoi — the JSON Feed 1.1 writer for snapshot.json and <category>.json
 * (SPEC §6, https://jsonfeed.org/version/1.1).
 *
 * Pure: builds the document in memory with jansson and does no I/O. */
#ifndef TINMOI_JSONFEED_H
#define TINMOI_JSONFEED_H

#include <stddef.h>
#include <stdint.h>

#include "tinmoi/error.h"
#include "tinmoi/view.h"

struct json_t; /* jansson's document type */

/* Renders the JSON Feed of `category` (NULL: the merged list, snapshot.json)
 * as UTF-8 JSON (non-ASCII written as is), keys in a fixed order, indented
 * by 2 spaces, with a final newline:
 *  - version "https://jsonfeed.org/version/1.1", title (config title, with
 *    " — <category>" for a category), home_page_url = public_url, feed_url =
 *    public_url + "snapshot.json" (or "<category>.json"), language "vi";
 *  - items: the first config->items_limit stories of that category, newest
 *    first, each with id (entry_id), url (when the primary has a link),
 *    title, content_html (content, else summary) or content_text (the title,
 *    or "" when there is none), summary (plain text of the summary, when
 *    any remains), date_published, date_modified (when the item has an
 *    updated date), authors [{name}], tags, and `_tinmoi`: source {id, title,
 *    url (the feed URL), home_page_url (html_url, when known), category},
 *    category, display_date ("31/05/2022 10:55 SA" in config->utc_offset_s)
 *    and also_in [{id, title, url, item_url}] for the other members'
 *    sources, each once, never the primary's source;
 *  - `_tinmoi`: generated_at (`generated_utc` as RFC 3339), latest (the ids
 *    of the first config->latest_limit items of this file), sources [{id,
 *    title, url, category, status, last_success, last_error,
 *    consecutive_failures, item_count}] for the configured sources of this
 *    category (every source for the merged list); absent values are null.
 * `generated_utc` is the only input that is not in the view: to leave an
 * unchanged file alone, render first with the generated_at of the existing
 * file (tm_jsonfeed_generated_at) and compare.
 * On 0, *out is a NUL-terminated malloc'd buffer of *out_len bytes the caller
 * frees with free(). TM_ENOMEM; TM_EINVAL for a date out of range or a
 * string that is not UTF-8 (detail in `err`). */
int tm_jsonfeed_render(const struct tm_view *v, const char *category, int64_t generated_utc,
                       char **out, size_t *out_len, struct tm_error *err);

/* Reads `_tinmoi.generated_at` from a document written by
 * tm_jsonfeed_render. Returns 0 and sets *out_utc; TM_EPARSE when data is
 * not JSON; TM_ENOENT when the field is missing or not a date. */
int tm_jsonfeed_generated_at(const char *data, size_t len, int64_t *out_utc);

/* One headline of the "Tin mới nhất" box. Strings are borrowed from the
 * parsed document; any may be NULL when the document lacks it. */
struct tm_jsonfeed_headline {
    const char *title;
    const char *url;
    const char *display_date; /* `_tinmoi.display_date`, "31/05/2022 10:55 SA" */
};

/* Calls `fn` for each headline of the box the view's snapshot names in
 * `_tinmoi.latest` (the first latest_limit of its items), in order,
 * straight from the view: what tm_jsonfeed_each_latest reads back from the
 * rendered document. Strings are borrowed from the view and from `fn`'s
 * call (display_date). Stops at and returns `fn`'s first non-zero
 * result; TM_EINVAL for a date the box cannot show. */
int tm_jsonfeed_each_box(const struct tm_view *v,
                         int (*fn)(void *ud, const struct tm_jsonfeed_headline *h), void *ud);

/* Calls `fn` for each item a parsed snapshot (jansson's json_t, as loaded
 * from a document tm_jsonfeed_render wrote) names in `_tinmoi.latest`, in
 * that order: the portal's box. Ids naming no item are skipped. Stops at and
 * returns the first non-zero value `fn` returns; 0 otherwise. */
int tm_jsonfeed_each_latest(const struct json_t *doc,
                            int (*fn)(void *ud, const struct tm_jsonfeed_headline *h), void *ud);

#endif
