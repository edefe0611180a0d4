/* tinmoi — internals of the HTTP endpoint shared by serve.c and
 * status_page.c (and their tests). */
#ifndef TINMOI_SERVE_INT_H
#define TINMOI_SERVE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tinmoi/buf.h"

/* Largest status page rendered: the box holds latest_limit headlines and
 * the table one row per source; 10,000 sources with long error texts stay
 * well under it. */
#define TM_STATUS_PAGE_MAX_BYTES (16u * 1024 * 1024)

/* Renders the operators' status page (self-contained HTML5, inline CSS, no
 * script) from the bytes of snapshot.json: the "Tin mới nhất" box (for each
 * id in _tinmoi.latest, the item's title linked to its url, then
 * "(display_date)") and a table of _tinmoi.sources (name, category, status,
 * last success, last error, item count). `snapshot` may be NULL (nothing
 * published yet): the page says so. `title` is the page title;
 * `published_utc` (0: never) and `utc_offset_s` show the publish time.
 * Every text from the snapshot is HTML-escaped. Pure. Appends to `out`;
 * returns 0, TM_EPARSE when the snapshot is not JSON (a page saying so is
 * still appended), TM_ENOMEM, TM_ELIMIT. */
int tm_status_page_render(const char *snapshot, size_t len, const char *title,
                          int64_t published_utc, int utc_offset_s, struct tm_buf *out);

#endif
