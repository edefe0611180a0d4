/* tinmoi — allow-list HTML sanitiser (SPEC §8) on libxml2's HTML parser.
 *
 * Pure: no I/O, no network (the HTML parser runs with HTML_PARSE_NONET). */
#ifndef TINMOI_SANITIZE_H
#define TINMOI_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

/* Sanitises the HTML fragment html[0..len) by an allow-list: only listed
 * elements and attributes survive; script, style, iframe, object, embed,
 * svg, math, forms, head and similar are dropped with their content; other
 * unknown elements are unwrapped (children kept); on*, style, class and id
 * attributes dropped; URLs in href/src/cite are resolved against `base_url`
 * (may be NULL) and kept only when http(s), mailto (href), or (img src)
 * data:image/{png,gif,jpeg,webp}; an img without such a src is dropped;
 * white space inside text kept, outer white space trimmed. Invalid UTF-8 in
 * the input becomes U+FFFD. The result is serialised HTML (void elements as
 * `<br>`, attribute values in double quotes, text and values escaped) in NFC.
 *
 * Returns a malloc'd string the caller frees, or NULL when nothing visible
 * remains (no non-space text and no image) or on allocation failure (then
 * `*oom` is set, when non-NULL; it is cleared otherwise). */
char *tm_html_sanitize(const char *html, size_t len, const char *base_url, bool *oom);

/* tm_html_sanitize with a bound: the serialised HTML is at most `max_bytes`
 * (0: no bound) and stays well formed: text is cut on a character boundary,
 * an element that does not fit is left out with everything after it, and
 * the open elements are closed. `*truncated` (when non-NULL) tells whether
 * anything was left out. The bound holds before NFC; NFC only lengthens
 * text holding one of Unicode's rare composition exclusions. */
char *tm_html_sanitize_limit(const char *html, size_t len, const char *base_url, size_t max_bytes,
                             bool *truncated, bool *oom);

/* Plain text as the HTML tm_html_sanitize makes of it once escaped: & < >
 * escaped, invalid UTF-8 and XML-illegal characters as U+FFFD, outer white
 * space trimmed, NFC; NULL when nothing visible remains or on allocation
 * failure (then `*oom` is set, when non-NULL; it is cleared otherwise). One
 * pass, for text fields that an HTML field is made of (an Atom summary of
 * type "text"). */
char *tm_html_from_text(const char *text, size_t len, bool *oom);

/* Resolves `ref` against `base` (RFC 3986, via xmlBuildURI), returning a
 * malloc'd absolute URL the caller frees, or NULL when it cannot be made
 * absolute (or is unparseable, or is http(s) without a host). `base` may be
 * NULL, in which case only already-absolute refs are returned. Both are
 * first cleaned the way browsers do: surrounding spaces and controls
 * trimmed, tabs and newlines removed, spaces, non-ASCII bytes and stray '%'
 * percent-encoded. Any scheme is returned ("javascript:x" too): callers that
 * write links must check it, or use tm_url_resolve_http. */
char *tm_url_resolve(const char *base, const char *ref);

/* tm_url_resolve, but NULL unless the result is http or https: for the links
 * of feeds and entries, which readers follow. */
char *tm_url_resolve_http(const char *base, const char *ref);

#endif
