/* tinmoi — the parser's input layer: raw feed bytes in, clean UTF-8 XML out.
 *
 * Real feeds lie about their encoding, start with a BOM or white space,
 * use HTML entities, bare '&' and control characters. libxml2 would stop at
 * each of these, so the bytes pass through this layer first (streaming, in
 * front of xmlParseChunk): it picks the encoding (BOM, then HTTP charset,
 * then the XML declaration, RFC 3023 practice), transcodes to UTF-8, drops
 * the XML declaration (libxml2 then reads UTF-8 by default), and repairs the
 * markup a reader would repair. Internal to the parser. */
#ifndef TINMOI_DECODE_INT_H
#define TINMOI_DECODE_INT_H

#include <stdbool.h>
#include <stddef.h>

/* Receives decoded UTF-8 XML; returns 0 or a negative TM_E* code, which
 * stops decoding and is returned from tm_decoder_push. */
typedef int (*tm_decoder_sink)(void *ctx, const char *utf8, size_t len);

/* What the layer repaired, for the parser's `errors` lines. */
struct tm_decoder_notes {
    size_t invalid_utf8_bytes; /* bytes of "utf-8" input decoded by the fallback code page */
    bool valid_utf8_seen;      /* some multi-byte sequence was valid UTF-8 */
    size_t invalid_bytes;      /* undecodable bytes dropped (iconv encodings) */
    size_t bare_ampersands;    /* '&' not starting a reference, escaped */
    size_t bare_lt;            /* '<' not starting markup, escaped */
    size_t cdata_ends;         /* "]]>" in element text, its '>' escaped */
    size_t controls_dropped;   /* XML-illegal characters dropped */
    size_t html_entities;      /* HTML named entities replaced by their characters */
    bool space_before_decl;    /* white space (or a BOM and white space) before <?xml */
    bool unsupported_encoding; /* the declared/HTTP encoding was unknown: read as utf-8 */
    char unsupported_name[40];
    char first_entity[40]; /* the first HTML entity replaced, for the message */
    int first_char;        /* first non-space decoded byte, -1 when none yet */
};

struct tm_decoder;

/* Creates a decoder. `http_charset` (may be NULL) is the charset parameter
 * of an HTTP Content-Type; it wins over the XML declaration. Returns NULL on
 * OOM. Free with tm_decoder_free. */
struct tm_decoder *tm_decoder_new(const char *http_charset);

/* Decodes the next `len` bytes, passing clean UTF-8 to `sink` (zero or more
 * calls). With `final`, the end of the document: anything held back for
 * look-ahead is flushed. Returns 0 or the sink's negative code, or TM_ENOMEM. */
int tm_decoder_push(struct tm_decoder *d, const char *buf, size_t len, bool final,
                    tm_decoder_sink sink, void *ctx);

/* The encoding the document is being read as, lowercase ("utf-8",
 * "windows-1252"), NULL before the decoder has decided. For a "utf-8"
 * document whose every non-ASCII byte was invalid, the fallback code page. */
const char *tm_decoder_encoding(const struct tm_decoder *d);

/* The fallback code page name used for invalid UTF-8 ("windows-1252"). */
const char *tm_decoder_fallback_name(const struct tm_decoder *d);

const struct tm_decoder_notes *tm_decoder_notes(const struct tm_decoder *d);

/* Frees the decoder. Accepts NULL. */
void tm_decoder_free(struct tm_decoder *d);

#endif
