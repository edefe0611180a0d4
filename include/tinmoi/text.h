/* tinmoi — Unicode text: NFC, entities, plain text, UTF-8 boundaries.
 *
 * Pure: no I/O. Every function that returns a string returns a malloc'd,
 * NUL-terminated UTF-8 string in NFC that the caller frees with free(). */
#ifndef TINMOI_TEXT_H
#define TINMOI_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinmoi/buf.h"

/* Longest UTF-8 expansion of one HTML5 named entity (some expand to two
 * code points), with room for the NUL. */
#define TM_ENTITY_MAX_UTF8 9

/* Looks up an HTML5 named character reference by name without '&' or ';'
 * ("nbsp", "agrave", "Ocirc"). On success writes its UTF-8 (NUL-terminated)
 * to `out` and returns the byte length; returns 0 when unknown. */
size_t tm_entity_lookup(const char *name, size_t name_len, char out[TM_ENTITY_MAX_UTF8]);

/* True when s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool tm_utf8_valid(const char *s, size_t len);

/* Largest n <= max_bytes such that s[0..n) ends on a character boundary of
 * the UTF-8 string s[0..len). */
size_t tm_utf8_boundary(const char *s, size_t len, size_t max_bytes);

/* Decodes single-byte windows-1252 or windows-1258 (`cp` is 1252 or 1258)
 * into UTF-8 (not yet NFC; windows-1258 uses combining tone marks). Returns
 * NULL on OOM or an unsupported code page. */
char *tm_text_from_codepage(const char *s, size_t len, int cp);

/* NFC of s[0..len). Invalid UTF-8 sequences, and the C0 controls XML 1.0
 * forbids (all but tab, LF, CR) and U+FFFE/U+FFFF, are replaced with U+FFFD.
 * Returns NULL on OOM. The functions below that say "NFC" do the same. */
char *tm_text_nfc(const char *s, size_t len);

/* Plain text from text that may hold markup and entities (SPEC §5 "text"):
 * tags removed, HTML entities and numeric references decoded, white space
 * (including U+00A0) collapsed to single spaces and trimmed, NFC. Returns
 * NULL when nothing remains or on OOM (`*oom` set when non-NULL). */
char *tm_text_plain(const char *s, size_t len, bool *oom);

/* White space collapsed and trimmed, NFC, no other change (for text that is
 * already plain, e.g. an XML text node). NULL when empty or on OOM. */
char *tm_text_collapse(const char *s, size_t len, bool *oom);

/* Cuts a malloc'd UTF-8 string to at most `max_bytes` on a character
 * boundary, in place, also keeping a letter with the combining marks that
 * follow it. Returns true when it cut. Not for HTML: a cut may fall inside a
 * tag; bound sanitised HTML with tm_html_sanitize_limit instead. */
bool tm_text_truncate(char *s, size_t max_bytes);

/* Appends s[0..len) to `b` escaped as HTML text or attribute value:
 * & < > " ' become entities, every other byte is copied. Returns 0 or the
 * tm_buf error (TM_ELIMIT, TM_ENOMEM). */
int tm_text_escape_html(struct tm_buf *b, const char *s, size_t len);

#endif
