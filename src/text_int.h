/* tinmoi — UTF-8 helpers shared by text.c and sanitize.c (internal). */
#ifndef TINMOI_TEXT_INT_H
#define TINMOI_TEXT_INT_H

#include "tinmoi/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
#define TM_TEXT_REPLACEMENT "\xef\xbf\xbd"

/* Decodes one code point from s[0..len) (len >= 1) into *cp. Returns the
 * bytes consumed (>= 1). An invalid sequence sets *cp = -1 and consumes its
 * maximal valid prefix (at least one byte), as the WHATWG decoder does, so
 * each broken sequence becomes one U+FFFD. */
size_t tm_utf8_decode(const unsigned char *s, size_t len, int32_t *cp);

/* True when NFC leaves a string of such code points unchanged and none of
 * them can compose with a neighbour: the fast path that lets plain Latin,
 * Vietnamese and punctuation skip utf8proc entirely. Conservative: false
 * only costs a utf8proc pass. */
bool tm_text_cp_inert(int32_t cp);

/* True for code points XML 1.0 forbids in a document (C0 controls other than
 * tab, LF, CR; U+FFFE, U+FFFF): text passed on replaces them with U+FFFD. */
bool tm_text_cp_illegal(int32_t cp);

/* True for white space: ASCII's, U+0085, U+00A0 and Unicode's other spaces
 * (Zs, U+2028, U+2029). tm_text_collapse folds them. */
bool tm_text_cp_space(int32_t cp);

/* Appends s[0..len) to `b`, replacing invalid UTF-8 and XML-illegal code
 * points with U+FFFD; valid runs are copied in bulk. *inert (when non-NULL)
 * is cleared if a code point that may change under NFC was seen.
 * Returns 0, TM_ENOMEM or TM_ELIMIT. */
int tm_utf8_append_clean(struct tm_buf *b, const char *s, size_t len, bool *inert);

/* NFC of the malloc'd, NUL-terminated, valid UTF-8 string s[0..len), which
 * this function takes over: returns s itself when `inert` (nothing can
 * change), else a new string (s is freed). NULL on OOM (s freed too). */
char *tm_text_nfc_take(char *s, size_t len, bool inert);

#endif
