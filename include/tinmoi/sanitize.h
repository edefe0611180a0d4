/* tinmoi — allow-list HTML sanitiser (SPEC §8) on libxml2's HTML parser.
 *
 * Pure: no I/O, no network (the HTML parser runs with HTML_PARSE_NONET). */
#ifndef TINMOI_SANITIZE_H
#define TINMOI_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

/* Sanitises the HTML fragment html[0..len) by an allow-list: only listed
 * elements and attributes survive; script, style, iframe, object, embed and
 * their content are dropped; on* attributes dropped; URLs in href/src are
 * resolved against `base_url` (may be NULL) and kept only when http(s),
 * mailto, or (for img src) data:image/*; white space inside text kept.
 * The result is serialised HTML in NFC.
 *
 * Returns a malloc'd string the caller frees, or NULL when nothing visible
 * remains (`*oom` set on allocation failure when non-NULL). */
char *tm_html_sanitize(const char *html, size_t len, const char *base_url, bool *oom);

/* Resolves `ref` against `base` (RFC 3986), returning a malloc'd absolute
 * URL, or NULL when it cannot be made absolute. `base` may be NULL, in which
 * case only already-absolute refs are returned. */
char *tm_url_resolve(const char *base, const char *ref);

#endif
