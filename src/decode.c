/* tinmoi — the parser's input layer: raw bytes to clean UTF-8 XML.
 *
 * Two stages, both streaming:
 *  A. encoding: BOM, then the HTTP charset, then the XML declaration decide
 *     (the bytes' own UTF-16 pattern beats a label); the input is then
 *     validated as UTF-8 (invalid bytes decoded by a fallback code page),
 *     mapped through a single-byte code page, or converted with iconv.
 *  B. markup repair on UTF-8: leading white space and the XML declaration
 *     removed (libxml2 then assumes UTF-8), HTML named entities replaced by
 *     their characters, bare '&' and '<' escaped, XML-illegal characters
 *     dropped. CDATA, comments, PIs and the DOCTYPE pass untouched but for
 *     illegal characters.
 *  Text inside the root element that holds multi-byte characters or
 *  references goes on as CDATA sections, references decoded (see
 *  scan_content): libxml2 reads character data a character at a time, and
 *  a CDATA section in bulk, so Vietnamese text costs it half as much.
 * Clean runs are passed on in bulk, found sixteen bytes at a time
 * (utf8_scan_int.h); only the bytes that stop them are looked at. */
#include "decode_int.h"

#include "tinmoi/buf.h"
#include "tinmoi/error.h"
#include "tinmoi/text.h"
#include "copy_int.h"
#include "utf8_scan_int.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many bytes of the document are held back to find the XML declaration
 * before deciding the encoding: a declaration is short, and a document
 * without one is decided from its first bytes. */
#define TM_DECODE_PROLOG_BYTES 1024
/* Decoded output handed to libxml2 per xmlParseChunk call: large enough that
 * the call's overhead vanishes, small enough to keep the heap flat. */
#define TM_DECODE_FLUSH_BYTES 65536
/* Runs of input passed on unchanged at least this long go to the sink
 * where they lie; shorter ones are gathered in the output buffer, so that a
 * document full of small repairs does not become many tiny sink calls. */
#define TM_DECODE_DIRECT_BYTES 1024
/* Look-ahead after '&': '#x10FFFF;' or the longest HTML5 entity name
 * ("CounterClockwiseContourIntegral", 31) plus ';'. */
#define TM_DECODE_REF_MAX 34
/* Held-back bytes across pushes: a reference, "<!DOCTYPE", "<?xml ". */
#define TM_DECODE_CARRY_MAX 64
/* Bytes of the next input joined with the held-back ones: more than any
 * look-ahead needs (TM_DECODE_REF_MAX + 1), so the join always gets past
 * what was held back. */
#define TM_DECODE_JOIN_BYTES (2 * TM_DECODE_CARRY_MAX)

enum enc_kind {
    ENC_UNDECIDED,
    ENC_UTF8,
    ENC_CODEPAGE, /* single-byte windows-1252 / windows-1258 (iso-8859-1 read as 1252) */
    ENC_ICONV,
};

/* What the tag being scanned is, for the element depth. */
enum tag_kind {
    TAG_START, /* "<name": opens an element unless it ends in "/>" */
    TAG_END,   /* "</name" */
    TAG_OTHER, /* "<!...>" read as a bogus comment */
};

enum scan_state {
    ST_TEXT,
    ST_TAG,     /* inside <...>, outside attribute quotes */
    ST_QUOTE,   /* inside an attribute value; `quote` holds the delimiter */
    ST_CDATA,   /* until "]]>" */
    ST_COMMENT, /* until "-->" */
    ST_PI,      /* until "?>" */
    ST_DOCTYPE,
};

struct tm_decoder {
    char *http_charset;
    enum enc_kind kind;
    int codepage;    /* ENC_CODEPAGE */
    int fallback_cp; /* code page for invalid bytes in a "utf-8" document */
    char encoding[40];
    char fallback_name[16];
    iconv_t cd;

    struct tm_buf prolog;  /* raw bytes before the decision */
    unsigned char pend[8]; /* incomplete sequence between pushes */
    size_t n_pend;

    enum scan_state state;
    char quote;
    int run;      /* consecutive ']' / '-' / '?' before a possible '>' */
    int dt_depth; /* '[' nesting in the DOCTYPE */
    char dt_quote;
    bool at_start; /* nothing but white space decoded yet */
    bool drop_pi;  /* the current PI is the XML declaration: not passed on */
    bool ws_seen;
    /* Element nesting as the scan sees it, start tags less end tags: text
     * is content, which may go as CDATA, only inside the root element. */
    unsigned depth;
    enum tag_kind tag;      /* the tag being scanned (ST_TAG, ST_QUOTE) */
    unsigned char tag_last; /* its last byte so far: '/' before '>' is "/>" */
    bool in_cdata;          /* a CDATA section of the layer's own is open */
    /* The scan may no longer see what libxml2 sees (a '<' inside a tag, a
     * DTD internal subset): no more CDATA of the layer's own, text goes as
     * it is written (escaped references stay escaped: text stays text). */
    bool no_cdata;
    int rsqb; /* ']' just passed on as text, outside a CDATA section (0-2) */
    char carry[TM_DECODE_CARRY_MAX];
    size_t n_carry;
    struct tm_buf out; /* repaired bytes, passed on before `span` */
    /* Input passed on unchanged, not yet handed to the sink: a slice of the
     * bytes being scanned, valid until scan() returns. */
    const char *span;
    size_t span_len;

    tm_decoder_sink sink;
    void *sink_ctx;
    int rc;
    struct tm_decoder_notes notes;
};

/* The bytes each scanning state passes on unchanged in bulk: ASCII but the
 * state's markup bytes and the C0 controls XML forbids, and valid UTF-8 of
 * the two- and three-byte forms with no range exceptions (Latin,
 * Vietnamese, punctuation: leads C2-DF, E1-EC, EE). Anything else stops the
 * run and is looked at (handle_high validates the rarer forms). Validation
 * of a "utf-8" document happens here, in the same pass as the markup scan. */
#define PLAIN_SET TM_UTF8_PLAIN_XML
static const struct tm_utf8_plain set_text = PLAIN_SET('<', '&', '<', '&');
/* Content: also ']', which never goes into a CDATA section of the layer's
 * own (so "]]>" cannot appear in one), and CR, which becomes LF (see
 * scan_content). */
static const struct tm_utf8_plain set_content = PLAIN_SET('<', '&', ']', '\r');
static const struct tm_utf8_plain set_tag = PLAIN_SET('>', '"', '\'', '<');
static const struct tm_utf8_plain set_quote = PLAIN_SET('"', '\'', '&', '<');
/* CDATA sections, comments and PIs stop at their mark only (see
 * scan_until_close). */
static const struct tm_utf8_plain set_cdata = PLAIN_SET(']', ']', ']', ']');
static const struct tm_utf8_plain set_comment = PLAIN_SET('-', '-', '-', '-');
static const struct tm_utf8_plain set_pi = PLAIN_SET('?', '?', '?', '?');

/* windows-1252 0x80..0x9F: numeric references in that range mean these
 * characters in every browser (HTML5 "numeric character reference end state"). */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

struct tm_decoder *tm_decoder_new(const char *http_charset)
{
    struct tm_decoder *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    if (http_charset != NULL && http_charset[0] != '\0') {
        d->http_charset = strdup(http_charset);
        if (d->http_charset == NULL) {
            free(d);
            return NULL;
        }
    }
    d->cd = (iconv_t)-1;
    d->fallback_cp = 1252;
    snprintf(d->fallback_name, sizeof d->fallback_name, "windows-1252");
    d->at_start = true;
    d->notes.first_char = -1;
    tm_buf_init(&d->prolog, 0);
    tm_buf_init(&d->out, 0);
    return d;
}

void tm_decoder_free(struct tm_decoder *d)
{
    if (d == NULL)
        return;
    if (d->cd != (iconv_t)-1)
        iconv_close(d->cd);
    tm_buf_free(&d->prolog);
    tm_buf_free(&d->out);
    free(d->http_charset);
    free(d);
}

const char *tm_decoder_encoding(const struct tm_decoder *d)
{
    if (d->kind == ENC_UNDECIDED)
        return NULL;
    if (d->kind == ENC_UTF8 && d->notes.invalid_utf8_bytes > 0 && !d->notes.valid_utf8_seen)
        return d->fallback_name;
    return d->encoding;
}

const char *tm_decoder_fallback_name(const struct tm_decoder *d)
{
    return d->fallback_name;
}

const struct tm_decoder_notes *tm_decoder_notes(const struct tm_decoder *d)
{
    return &d->notes;
}

/* ---- output ------------------------------------------------------------ */

static int flush_out(struct tm_decoder *d)
{
    if (d->rc == 0 && d->out.len > 0) {
        int rc = d->sink(d->sink_ctx, d->out.data, d->out.len);
        if (rc < 0)
            d->rc = rc;
    }
    tm_buf_reset(&d->out);
    return d->rc;
}

static int emit_copy(struct tm_decoder *d, const void *p, size_t n);

/* Hands the pending input span on: straight to the sink when long (after
 * the buffered bytes that precede it), else into the output buffer. */
static int settle_span(struct tm_decoder *d)
{
    if (d->span_len == 0)
        return d->rc;
    const char *s = d->span;
    size_t n = d->span_len;
    d->span_len = 0;
    if (n < TM_DECODE_DIRECT_BYTES)
        return emit_copy(d, s, n);
    if (flush_out(d) < 0)
        return d->rc;
    int rc = d->sink(d->sink_ctx, s, n);
    if (rc < 0)
        d->rc = rc;
    return d->rc;
}

static int emit_slow(struct tm_decoder *d, const void *p, size_t n)
{
    if (n == 0)
        return d->rc;
    if (d->span_len > 0 && (const char *)p == d->span + d->span_len) {
        d->span_len += n;
        return d->span_len >= TM_DECODE_FLUSH_BYTES ? settle_span(d) : d->rc;
    }
    if (d->span_len > 0 && settle_span(d) < 0)
        return d->rc;
    d->span = p;
    d->span_len = n;
    return d->rc;
}

/* Passes on `n` bytes of the input being scanned, unchanged: no copy while
 * the runs are contiguous in the input (the common case, inline). */
static inline int emit(struct tm_decoder *d, const void *p, size_t n)
{
    if (d->span_len > 0 && (const char *)p == d->span + d->span_len &&
        d->span_len + n < TM_DECODE_FLUSH_BYTES) {
        d->span_len += n;
        return d->rc;
    }
    return emit_slow(d, p, n);
}

/* Passes on `n` bytes that are not the input's (replacements, converted
 * text, look-ahead copies): copied into the output buffer. */
static int emit_copy(struct tm_decoder *d, const void *p, size_t n)
{
    if (n == 0)
        return d->rc;
    if (d->span_len > 0 && settle_span(d) < 0)
        return d->rc;
    if (tm_buf_add_fast(&d->out, p, n) < 0) /* most runs are short: a tag, a word */
        return d->rc = TM_ENOMEM;
    if (d->out.len >= TM_DECODE_FLUSH_BYTES)
        return flush_out(d);
    return d->rc;
}

static int emits(struct tm_decoder *d, const char *s)
{
    return emit_copy(d, s, strlen(s));
}

/* True where text is element content the decoder may send as CDATA of its
 * own (scan_content): inside the root element, while the scan still sees
 * what libxml2 sees. */
static bool content_as_cdata(const struct tm_decoder *d)
{
    return d->depth > 0 && !d->no_cdata;
}

static void open_cdata(struct tm_decoder *d)
{
    if (!d->in_cdata) {
        emits(d, "<![CDATA[");
        d->in_cdata = true;
    }
}

static void close_cdata(struct tm_decoder *d)
{
    if (d->in_cdata) {
        emits(d, "]]>");
        d->in_cdata = false;
    }
}

/* Passes on `c` ('&', '<' or '>'), a character of text that XML escapes.
 * In element content it goes as itself in a CDATA section, not as `ref`:
 * libxml2 (2.9) drops every reference to a predefined entity in content once
 * it has met an error in the document, and a feed with one broken tag would
 * lose the '&' of each link after it. */
static void emit_escaped(struct tm_decoder *d, char c, const char *ref)
{
    if (d->state == ST_TEXT && content_as_cdata(d)) {
        open_cdata(d);
        emit_copy(d, &c, 1);
    } else {
        emits(d, ref);
    }
}

/* ---- stage B: markup repair --------------------------------------------- */

static int utf8_seq_len(const unsigned char *p, size_t n, bool *incomplete)
{
    unsigned char c = p[0];
    *incomplete = false;
    int len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    for (int k = 1; k < len; k++) {
        if ((size_t)k >= n) {
            *incomplete = true;
            return 0;
        }
        unsigned char b = p[k];
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return 0;
    }
    return len;
}

/* True when p[0..n) starts with U+FFFE or U+FFFF, which are not XML
 * characters: dropped, not passed on. */
static bool nonchar_at(const unsigned char *p, size_t n)
{
    return n >= 3 && p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF);
}

/* The end of the run from p[j] of bytes that pass unchanged in a state whose
 * plain set is `a`: stops at an ASCII byte the state looks at, at the end,
 * or at a byte that does not start a valid UTF-8 sequence of an XML
 * character (see handle_high). */
__attribute__((always_inline)) static inline size_t
run_end_multi(struct tm_decoder *d, const unsigned char *p, size_t j, size_t n,
              const struct tm_utf8_plain *a, bool *multi)
{
    for (;;) {
        j = tm_utf8_plain_run(a, p, j, n, multi);
        if (j >= n || p[j] < 0x80)
            return j;
        /* The rarer forms (E0, ED, EF, four bytes) the long way. */
        if (nonchar_at(p + j, n - j))
            return j; /* U+FFFE, U+FFFF: not XML characters */
        bool incomplete;
        int len = utf8_seq_len(p + j, n - j, &incomplete);
        if (len == 0)
            return j;
        *multi = true;
        j += (size_t)len;
    }
}

/* run_end_multi, noting only that valid UTF-8 was seen. */
__attribute__((always_inline)) static inline size_t run_end(struct tm_decoder *d,
                                                            const unsigned char *p, size_t j,
                                                            size_t n, const struct tm_utf8_plain *a)
{
    return run_end_multi(d, p, j, n, a, &d->notes.valid_utf8_seen);
}

/* Handles the byte above 0x7F at p[0] that run_end stopped at: U+FFFE or
 * U+FFFF (dropped), a sequence cut by the end of the input (0: more input
 * needed), or bytes that are not UTF-8, decoded by the fallback code page
 * (the declared encoding was wrong for them). Returns bytes consumed. */
static size_t handle_high(struct tm_decoder *d, const unsigned char *p, size_t n, bool final)
{
    if (nonchar_at(p, n)) {
        d->notes.controls_dropped++;
        return 3;
    }
    bool incomplete;
    int len = utf8_seq_len(p, n, &incomplete);
    if (len > 0) {
        /* Valid after all (run_end stops on a sequence cut by its end). */
        d->notes.valid_utf8_seen = true;
        emit(d, p, (size_t)len);
        return (size_t)len;
    }
    if (incomplete && !final)
        return 0;
    size_t j = 1;
    while (j < n && p[j] >= 0x80 && utf8_seq_len(p + j, n - j, &incomplete) == 0 &&
           !(incomplete && !final))
        j++;
    d->notes.invalid_utf8_bytes += j;
    char *u = tm_text_from_codepage((const char *)p, j, d->fallback_cp);
    if (u == NULL) {
        d->rc = TM_ENOMEM;
        return j;
    }
    emit_copy(d, u, strlen(u));
    free(u);
    return j;
}

static bool xml_char_ok(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

static bool is_name_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || c >= 0x80;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The length of the reference to one of XML's predefined entities at p[0]
 * == '&' ("&lt;", "&gt;", "&amp;", "&quot;", "&apos;"), which libxml2 reads
 * as written; 0 for anything else, or when p[0..n) is too short to tell. */
static inline size_t predefined_ref_len(const unsigned char *p, size_t n)
{
    if (n >= 4 && p[3] == ';' && p[2] == 't' && (p[1] == 'l' || p[1] == 'g'))
        return 4;
    if (n >= 5 && p[4] == ';' && p[1] == 'a' && p[2] == 'm' && p[3] == 'p')
        return 5;
    if (n >= 6 && p[5] == ';' && (memcmp(p + 1, "quot", 4) == 0 || memcmp(p + 1, "apos", 4) == 0))
        return 6;
    return 0;
}

/* The character a reference of predefined_ref_len() > 0 stands for, told
 * by its second and third bytes. */
static char predefined_char(const unsigned char *p)
{
    switch (p[1]) {
    case 'l':
        return '<';
    case 'g':
        return '>';
    case 'q':
        return '"';
    default:
        return p[2] == 'm' ? '&' : '\''; /* "&amp;", "&apos;" */
    }
}

/* Handles the '&' at p[0]. Returns bytes consumed, 0 when more input is
 * needed to decide. */
static size_t handle_amp(struct tm_decoder *d, const unsigned char *p, size_t n, bool final)
{
    if (n < 2) {
        if (!final)
            return 0;
        emit_escaped(d, '&', "&amp;");
        d->notes.bare_ampersands++;
        return 1;
    }
    /* The predefined entities of escaped HTML ("&lt;p&gt;"): as written. */
    size_t pre = predefined_ref_len(p, n);
    if (pre > 0) {
        emit(d, p, pre);
        return pre;
    }
    size_t j;
    if (p[1] == '#') {
        bool hex = n > 2 && (p[2] == 'x' || p[2] == 'X');
        j = hex ? 3 : 2;
        uint32_t cp = 0;
        size_t digits = 0;
        while (j < n && digits < 9) {
            unsigned char c = p[j];
            int v;
            if (c >= '0' && c <= '9')
                v = c - '0';
            else if (hex && c >= 'a' && c <= 'f')
                v = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F')
                v = c - 'A' + 10;
            else
                break;
            cp = cp * (hex ? 16 : 10) + (uint32_t)v;
            digits++;
            j++;
        }
        if (j == n && digits < 9 && !final)
            return 0;
        if (digits == 0 || j == n || p[j] != ';' || cp > 0x10FFFF) {
            emit_escaped(d, '&', "&amp;");
            d->notes.bare_ampersands++;
            return 1;
        }
        bool remapped = cp >= 0x80 && cp <= 0x9F;
        if (remapped)
            cp = cp1252_c1[cp - 0x80];
        if (!xml_char_ok(cp)) {
            d->notes.controls_dropped++;
            return j + 1;
        }
        if (cp >= 0x80 && cp <= 0x9F) {
            d->notes.controls_dropped++;
            return j + 1;
        }
        if (!remapped && p[2] != 'X') {
            /* A well-formed reference to an XML character: libxml2 reads it. */
            emit(d, p, j + 1);
            return j + 1;
        }
        char ref[16];
        int len = snprintf(ref, sizeof ref, "&#%u;", (unsigned)cp);
        emit_copy(d, ref, (size_t)len);
        return j + 1;
    }
    j = 1;
    while (j < n && j <= TM_DECODE_REF_MAX && is_name_byte(p[j]))
        j++;
    if (j == n && j <= TM_DECODE_REF_MAX && !final)
        return 0;
    if (j > 1 && j < n && p[j] == ';' && tm_utf8_valid((const char *)p + 1, j - 1)) {
        const char *name = (const char *)p + 1;
        size_t name_len = j - 1;
        char u[TM_ENTITY_MAX_UTF8];
        size_t ulen = tm_entity_lookup(name, name_len, u);
        if (ulen > 0) {
            if (d->notes.html_entities++ == 0)
                snprintf(d->notes.first_entity, sizeof d->notes.first_entity, "&%.*s;",
                         (int)name_len, name);
            /* As a reference: markup characters, and ']' (which must not
             * go into a CDATA section nor help make "]]>" in text). */
            if (ulen == 1 && strchr("<>&\"']", u[0]) != NULL) {
                char ref[8];
                int len = snprintf(ref, sizeof ref, "&#%d;", u[0]);
                emit_copy(d, ref, (size_t)len);
            } else {
                emit_copy(d, u, ulen);
            }
            return j + 1;
        }
        /* Unknown name: libxml2 decides (declared in the DTD or undefined). */
        emit(d, p, j + 1);
        return j + 1;
    }
    emit_escaped(d, '&', "&amp;");
    d->notes.bare_ampersands++;
    return 1;
}

static bool prefix_ci(const unsigned char *p, size_t n, const char *lit, size_t *need)
{
    size_t len = strlen(lit);
    *need = len;
    for (size_t i = 0; i < len && i < n; i++) {
        unsigned char a = p[i], b = (unsigned char)lit[i];
        if (a >= 'a' && a <= 'z')
            a = (unsigned char)(a - 32);
        if (b >= 'a' && b <= 'z')
            b = (unsigned char)(b - 32);
        if (a != b)
            return false;
    }
    return true;
}

/* Handles the '<' at p[0] in text. Returns bytes consumed, 0 for more input. */
static size_t handle_lt(struct tm_decoder *d, const unsigned char *p, size_t n, bool final)
{
    if (n < 2) {
        if (!final)
            return 0;
        emit_escaped(d, '<', "&lt;");
        d->notes.bare_lt++;
        return 1;
    }
    unsigned char c = p[1];
    size_t need;
    if (c == '!') {
        static const struct {
            const char *lit;
            enum scan_state state;
        } opens[] = {{"<![CDATA[", ST_CDATA}, {"<!--", ST_COMMENT}, {"<!DOCTYPE", ST_DOCTYPE}};
        for (size_t k = 0; k < sizeof opens / sizeof opens[0]; k++) {
            if (!prefix_ci(p, n, opens[k].lit, &need))
                continue;
            if (n < need) {
                if (!final)
                    return 0;
                continue;
            }
            emit(d, p, need);
            d->state = opens[k].state;
            d->run = 0;
            d->dt_depth = 0;
            d->dt_quote = 0;
            return need;
        }
        emit(d, p, 2);
        d->state = ST_TAG;
        d->tag = TAG_OTHER;
        return 2;
    }
    if (c == '?') {
        emit(d, p, 2);
        d->state = ST_PI;
        d->run = 0;
        return 2;
    }
    if (c == '/' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
        c >= 0x80) {
        emit(d, p, 1);
        d->state = ST_TAG;
        d->tag = c == '/' ? TAG_END : TAG_START;
        d->tag_last = '<';
        return 1;
    }
    emit_escaped(d, '<', "&lt;");
    d->notes.bare_lt++;
    return 1;
}

/* The document's start: white space is dropped, and an XML declaration too
 * (the text is UTF-8 now, whatever it declared). Returns bytes consumed;
 * *more is set when the rest must wait for more input. */
static size_t scan_start(struct tm_decoder *d, const unsigned char *p, size_t n, bool final,
                         bool *more)
{
    size_t i = 0;
    while (i < n && (is_space(p[i]) || p[i] == 0)) {
        d->ws_seen = true;
        i++;
    }
    if (i == n)
        return i;
    static const char decl[] = "<?xml";
    size_t avail = n - i;
    if (avail < sizeof decl && !final && memcmp(p + i, decl, avail < 5 ? avail : 5) == 0) {
        *more = true;
        return i;
    }
    d->at_start = false;
    d->notes.first_char = p[i];
    if (avail >= sizeof decl && memcmp(p + i, decl, sizeof decl - 1) == 0 &&
        is_space(p[i + sizeof decl - 1])) {
        d->notes.space_before_decl = d->ws_seen;
        d->state = ST_PI;
        d->drop_pi = true;
        d->run = 0;
        return i + sizeof decl;
    }
    return i;
}

/* Scans the closing run of a CDATA section, comment or PI: `mark` repeated
 * `min` times then '>'. */
static size_t scan_until_close(struct tm_decoder *d, const unsigned char *p, size_t n,
                               const struct tm_utf8_plain *attn, unsigned char mark, int min,
                               bool pass, bool final)
{
    /* Bytes passed on unchanged are emitted in one run from `start`. */
    size_t i = 0, start = 0;
    while (i < n) {
        /* '>' matters only right after the marks; elsewhere (every tag of
         * the HTML in a CDATA section) it is plain and the run goes on. The
         * marks may have ended the previous input: d->run carries them. */
        if (d->run > 0 && p[i] == '>') {
            i++;
            if (d->run >= min) {
                if (pass)
                    emit(d, p + start, i - start);
                d->state = ST_TEXT;
                d->drop_pi = false;
                d->run = 0;
                return i;
            }
            d->run = 0;
            continue;
        }
        size_t j = run_end(d, p, i, n, attn);
        if (j > i) {
            d->run = 0;
            i = j;
            if (i == n)
                break;
        }
        unsigned char c = p[i];
        if (c == mark) {
            d->run++;
            i++;
        } else {
            if (pass)
                emit(d, p + start, i - start);
            if (c >= 0x80) {
                size_t k = pass ? handle_high(d, p + i, n - i, final) : 1;
                if (k == 0)
                    return i; /* a sequence cut by the end: more input */
                i += k;
                d->run = 0;
            } else {
                d->notes.controls_dropped++;
                i++;
            }
            start = i;
        }
    }
    if (pass)
        emit(d, p + start, i - start);
    return i;
}

static size_t scan_doctype(struct tm_decoder *d, const unsigned char *p, size_t n, bool final)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t k = handle_high(d, p + i, n - i, final);
            if (k == 0)
                return i;
            i += k;
            continue;
        }
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            d->notes.controls_dropped++;
            i++;
            continue;
        }
        if (d->dt_quote) {
            if (c == (unsigned char)d->dt_quote)
                d->dt_quote = 0;
        } else if (c == '"' || c == '\'') {
            d->dt_quote = (char)c;
        } else if (c == '[') {
            d->dt_depth++;
            /* An internal subset: its comments and PIs may hold brackets
             * this count does not skip. */
            d->no_cdata = true;
        } else if (c == ']') {
            d->dt_depth--;
        } else if (c == '>' && d->dt_depth <= 0) {
            emit(d, p + i, 1);
            d->state = ST_TEXT;
            return i + 1;
        }
        emit(d, p + i, 1);
        i++;
    }
    return i;
}

/* At the '>' that ends a tag: the element depth it leaves. */
static void end_tag_depth(struct tm_decoder *d)
{
    if (d->tag == TAG_START && d->tag_last != '/')
        d->depth++;
    else if (d->tag == TAG_END && d->depth > 0)
        d->depth--;
}

/* Text inside the root element, from p[0]: one run, then what stopped it.
 * libxml2 reads character data a character at a time wherever it is not
 * ASCII or holds a reference, and a CDATA section in bulk. So a run with a
 * multi-byte character, or a reference to a predefined entity, opens a CDATA
 * section, and the references in it are decoded ("&lt;" becomes '<'). The
 * section stays open over the runs that follow and closes before markup,
 * before a reference it cannot hold, at ']' (set_content) and at the end of
 * the document; so its text is what libxml2 would have read, and "]]>" never
 * occurs in it. Line ends become LF here, as XML's reader would make them,
 * and a "]]>" of the text itself (its ']'s and '>' apart from dropped
 * characters) is repaired, its '>' escaped. ASCII runs
 * without references (white space between tags, dates, links) go as they
 * are. Returns bytes consumed, 0 when the byte that stopped the run needs
 * more input. */
static size_t scan_content(struct tm_decoder *d, const unsigned char *p, size_t n, bool final)
{
    if (d->rsqb == 2 && p[0] == '>') {
        /* "]]>" is not allowed in text, and libxml2 would drop a ']' of it. */
        emit_escaped(d, '>', "&gt;");
        d->notes.cdata_ends++;
        d->rsqb = 0;
        return 1;
    }
    bool multi = false;
    size_t j = run_end_multi(d, p, 0, n, &set_content, &multi);
    if (multi) {
        d->notes.valid_utf8_seen = true;
        open_cdata(d);
    }
    emit(d, p, j);
    if (j > 0)
        d->rsqb = 0;
    if (j == n)
        return j;
    size_t k;
    int rsqb = 0; /* what d->rsqb becomes */
    unsigned char c = p[j];
    if (c == '&') {
        size_t pre = predefined_ref_len(p + j, n - j);
        if (pre > 0) {
            char ch = predefined_char(p + j);
            open_cdata(d);
            emit_copy(d, &ch, 1);
            k = pre;
        } else {
            close_cdata(d);
            k = handle_amp(d, p + j, n - j, final);
        }
    } else if (c == '<') {
        close_cdata(d);
        k = handle_lt(d, p + j, n - j, final);
    } else if (c == ']') {
        close_cdata(d);
        emit(d, p + j, 1);
        rsqb = d->rsqb < 2 ? d->rsqb + 1 : 2;
        k = 1;
    } else if (c == '\r') {
        /* XML reads CR LF and a lone CR as LF; in a CDATA section libxml2
         * leaves that to its reader, so it is done here. */
        if (n - j < 2 && !final) {
            k = 0;
        } else {
            k = n - j >= 2 && p[j + 1] == '\n' ? 2 : 1;
            emit_copy(d, "\n", 1);
        }
    } else {
        /* A character dropped (a control, U+FFFE) leaves the ']'s before it
         * next to what follows. */
        if (c < 0x80 || nonchar_at(p + j, n - j))
            rsqb = d->rsqb;
        if (c >= 0x80) {
            k = handle_high(d, p + j, n - j, final);
        } else {
            d->notes.controls_dropped++;
            k = 1;
        }
    }
    if (k > 0)
        d->rsqb = rsqb;
    return k == 0 ? j : j + k;
}

/* Runs stage B over p[0..n); bytes needing look-ahead past the end are kept
 * in d->carry unless `final`. */
static int scan_piece(struct tm_decoder *d, const unsigned char *p, size_t n, bool final)
{
    size_t i = 0;
    while (i < n && d->rc == 0) {
        if (d->at_start) {
            bool more = false;
            i += scan_start(d, p + i, n - i, final, &more);
            if (more) {
                memcpy(d->carry, p + i, n - i);
                d->n_carry = n - i;
                break;
            }
            continue;
        }
        size_t k = 0, j = i;
        switch (d->state) {
        case ST_TEXT:
            if (content_as_cdata(d)) {
                k = scan_content(d, p + i, n - i, final);
                break;
            }
            /* Escaped HTML is mostly "&lt;" and "&gt;": they pass as
             * written, so the run goes on through them. */
            for (;;) {
                j = run_end(d, p, j, n, &set_text);
                size_t ref = j < n && p[j] == '&' ? predefined_ref_len(p + j, n - j) : 0;
                if (ref == 0)
                    break;
                j += ref;
            }
            emit(d, p + i, j - i);
            i = j;
            if (i == n)
                break;
            if (p[i] == '&')
                k = handle_amp(d, p + i, n - i, final);
            else if (p[i] == '<')
                k = handle_lt(d, p + i, n - i, final);
            else if (p[i] >= 0x80)
                k = handle_high(d, p + i, n - i, final);
            else
                k = 1, d->notes.controls_dropped++;
            break;
        case ST_TAG:
            j = run_end(d, p, j, n, &set_tag);
            emit(d, p + i, j - i);
            if (j > i)
                d->tag_last = p[j - 1];
            i = j;
            if (i == n)
                break;
            if (p[i] == '>') {
                end_tag_depth(d);
                d->state = ST_TEXT;
                emit(d, p + i, 1);
                k = 1;
            } else if (p[i] == '"' || p[i] == '\'') {
                d->state = ST_QUOTE;
                d->quote = (char)p[i];
                d->tag_last = p[i];
                emit(d, p + i, 1);
                k = 1;
            } else if (p[i] == '<') {
                /* libxml2 ends the tag here and reads on as markup; where it
                 * goes next is its recovery's business. As before. */
                d->no_cdata = true;
                emit(d, p + i, 1);
                k = 1;
            } else if (p[i] >= 0x80) {
                if (!nonchar_at(p + i, n - i))
                    d->tag_last = 0x80; /* a character, not a dropped U+FFFE */
                k = handle_high(d, p + i, n - i, final);
            } else {
                k = 1, d->notes.controls_dropped++;
            }
            break;
        case ST_QUOTE:
            j = run_end(d, p, j, n, &set_quote);
            emit(d, p + i, j - i);
            i = j;
            if (i == n)
                break;
            if (p[i] == (unsigned char)d->quote) {
                d->state = ST_TAG;
                emit(d, p + i, 1);
                k = 1;
            } else if (p[i] == '"' || p[i] == '\'') {
                emit(d, p + i, 1);
                k = 1;
            } else if (p[i] == '&') {
                k = handle_amp(d, p + i, n - i, final);
            } else if (p[i] == '<') {
                emits(d, "&lt;");
                d->notes.bare_lt++;
                k = 1;
            } else if (p[i] >= 0x80) {
                k = handle_high(d, p + i, n - i, final);
            } else {
                k = 1, d->notes.controls_dropped++;
            }
            break;
        case ST_CDATA:
            k = scan_until_close(d, p + i, n - i, &set_cdata, ']', 2, true, final);
            break;
        case ST_COMMENT:
            k = scan_until_close(d, p + i, n - i, &set_comment, '-', 2, true, final);
            break;
        case ST_PI:
            k = scan_until_close(d, p + i, n - i, &set_pi, '?', 1, !d->drop_pi, final);
            break;
        case ST_DOCTYPE:
            k = scan_doctype(d, p + i, n - i, final);
            break;
        }
        if (i < n && k == 0) {
            /* Look-ahead runs past the input: keep the rest for next time. */
            size_t rest = n - i;
            if (rest > sizeof d->carry)
                rest = sizeof d->carry;
            memcpy(d->carry, p + i, rest);
            d->n_carry = rest;
            break;
        }
        i += k;
    }
    /* The input ends here (it may be scan()'s join buffer): pass the span on now. */
    settle_span(d);
    return d->rc;
}

/* Runs stage B over p[0..n), after the bytes held back from the previous
 * input: those are joined with only the next TM_DECODE_JOIN_BYTES of p (on
 * the stack), which is enough for any look-ahead to be decided, and the rest
 * of p is scanned where it lies. */
static int scan(struct tm_decoder *d, const unsigned char *p, size_t n, bool final)
{
    while (d->n_carry > 0 && d->rc == 0) {
        unsigned char join[TM_DECODE_CARRY_MAX + TM_DECODE_JOIN_BYTES];
        size_t take = n < TM_DECODE_JOIN_BYTES ? n : TM_DECODE_JOIN_BYTES;
        size_t held = d->n_carry;
        memcpy(join, d->carry, held);
        memcpy(join + held, p, take);
        d->n_carry = 0;
        /* Leaves any span in `join` settled, and new look-ahead in d->carry. */
        scan_piece(d, join, held + take, final && take == n);
        p += take;
        n -= take;
        if (n == 0)
            return d->rc;
    }
    return d->rc < 0 ? d->rc : scan_piece(d, p, n, final);
}

/* ---- stage A: encodings ------------------------------------------------- */

static int pass_codepage(struct tm_decoder *d, const unsigned char *p, size_t n, int cp)
{
    /* Converted between NUL bytes (which XML forbids): the result is a C string. */
    while (n > 0) {
        const unsigned char *nul = memchr(p, 0, n);
        size_t seg = nul ? (size_t)(nul - p) : n;
        if (seg > 0) {
            char *u = tm_text_from_codepage((const char *)p, seg, cp);
            if (u == NULL)
                return d->rc = TM_ENOMEM;
            int rc = scan(d, (const unsigned char *)u, strlen(u), false);
            free(u);
            if (rc < 0)
                return rc;
        }
        if (nul == NULL)
            break;
        d->notes.controls_dropped++;
        p += seg + 1;
        n -= seg + 1;
    }
    return d->rc;
}

/* A "utf-8" document: validated in the markup scan itself (run_end). */
static int feed_utf8(struct tm_decoder *d, const unsigned char *p, size_t n, bool final)
{
    return scan(d, p, n, final);
}

static int feed_iconv(struct tm_decoder *d, const unsigned char *p, size_t n, bool final)
{
    char obuf[16384];
    char *in = (char *)(uintptr_t)p;
    size_t inleft = n;
    while (inleft > 0) {
        char *o = obuf;
        size_t oleft = sizeof obuf;
        size_t r = iconv(d->cd, &in, &inleft, &o, &oleft);
        int e = errno;
        if (o > obuf && scan(d, (const unsigned char *)obuf, (size_t)(o - obuf), false) < 0)
            return d->rc;
        if (r != (size_t)-1)
            break;
        if (e == E2BIG)
            continue;
        if (e == EINVAL && !final && inleft <= sizeof d->pend) {
            memcpy(d->pend, in, inleft);
            d->n_pend = inleft;
            return 0;
        }
        /* EILSEQ, or a sequence cut by the end of the document. */
        d->notes.invalid_bytes++;
        in++;
        inleft--;
    }
    return 0;
}

static int feed_decided(struct tm_decoder *d, const unsigned char *p, size_t n, bool final)
{
    if (d->n_pend > 0) {
        /* Complete the sequence cut by the previous push. */
        struct tm_buf joined;
        tm_buf_init(&joined, 0);
        if (tm_buf_add(&joined, d->pend, d->n_pend) < 0 || tm_buf_add(&joined, p, n) < 0) {
            tm_buf_free(&joined);
            return d->rc = TM_ENOMEM;
        }
        d->n_pend = 0;
        int rc = feed_decided(d, (const unsigned char *)joined.data, joined.len, final);
        tm_buf_free(&joined);
        return rc;
    }
    switch (d->kind) {
    case ENC_UTF8:
        return feed_utf8(d, p, n, final);
    case ENC_CODEPAGE:
        return pass_codepage(d, p, n, d->codepage);
    case ENC_ICONV:
        return feed_iconv(d, p, n, final);
    case ENC_UNDECIDED:
        break;
    }
    return TM_EINVAL;
}

static void lower_copy(char *dst, size_t size, const char *src, size_t n)
{
    size_t k = 0;
    for (; k < n && k + 1 < size; k++) {
        char c = src[k];
        dst[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    dst[k] = '\0';
}

/* The encoding label of an XML declaration at the start of p[0..n), lowercased
 * into `out`; false when there is none. */
static bool declared_encoding(const unsigned char *p, size_t n, char *out, size_t size)
{
    size_t i = 0;
    while (i < n && is_space(p[i]))
        i++;
    if (n - i < 6 || memcmp(p + i, "<?xml", 5) != 0)
        return false;
    size_t end = i + 5;
    while (end + 1 < n && !(p[end] == '?' && p[end + 1] == '>'))
        end++;
    for (size_t k = i + 5; k + 8 <= end; k++) {
        if (memcmp(p + k, "encoding", 8) != 0)
            continue;
        k += 8;
        while (k < end && is_space(p[k]))
            k++;
        if (k >= end || p[k] != '=')
            return false;
        k++;
        while (k < end && is_space(p[k]))
            k++;
        if (k >= end || (p[k] != '"' && p[k] != '\''))
            return false;
        unsigned char q = p[k++];
        size_t v = k;
        while (k < end && p[k] != q)
            k++;
        if (k >= end || k == v)
            return false;
        lower_copy(out, size, (const char *)p + v, k - v);
        return true;
    }
    return false;
}

enum label_kind { L_UTF8, L_UTF16, L_1252, L_LATIN1, L_1258, L_OTHER };

static enum label_kind classify(const char *label)
{
    static const struct {
        const char *name;
        enum label_kind kind;
    } labels[] = {
        {"utf-8", L_UTF8},
        {"utf8", L_UTF8},
        {"us-ascii", L_UTF8},
        {"ascii", L_UTF8},
        {"unicode-1-1-utf-8", L_UTF8},
        {"utf-16", L_UTF16},
        {"utf-16le", L_UTF16},
        {"utf-16be", L_UTF16},
        {"windows-1252", L_1252},
        {"cp1252", L_1252},
        {"x-cp1252", L_1252},
        {"iso-8859-1", L_LATIN1},
        {"iso8859-1", L_LATIN1},
        {"iso_8859-1", L_LATIN1},
        {"latin1", L_LATIN1},
        {"l1", L_LATIN1},
        {"windows-1258", L_1258},
        {"cp1258", L_1258},
        {"x-cp1258", L_1258},
    };
    for (size_t k = 0; k < sizeof labels / sizeof labels[0]; k++)
        if (strcmp(label, labels[k].name) == 0)
            return labels[k].kind;
    return L_OTHER;
}

static void set_name(struct tm_decoder *d, const char *name)
{
    snprintf(d->encoding, sizeof d->encoding, "%s", name);
}

/* Picks the encoding from the held-back prolog; returns bytes of BOM to skip. */
static size_t decide(struct tm_decoder *d, const unsigned char *p, size_t n)
{
    char declared[40] = "", http[40] = "";
    bool has_decl = declared_encoding(p, n, declared, sizeof declared);
    if (d->http_charset != NULL)
        lower_copy(http, sizeof http, d->http_charset, strlen(d->http_charset));
    if (classify(declared) == L_1258 || classify(http) == L_1258) {
        d->fallback_cp = 1258;
        snprintf(d->fallback_name, sizeof d->fallback_name, "windows-1258");
    }

    const char *utf16 = NULL;
    size_t skip = 0;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        d->kind = ENC_UTF8;
        set_name(d, "utf-8");
        return 3;
    }
    if (n >= 2 && p[0] == 0xFF && p[1] == 0xFE)
        utf16 = "UTF-16LE", skip = 2;
    else if (n >= 2 && p[0] == 0xFE && p[1] == 0xFF)
        utf16 = "UTF-16BE", skip = 2;
    else if (n >= 4 && p[0] == '<' && p[1] == 0 && p[2] != 0 && p[3] == 0)
        utf16 = "UTF-16LE";
    else if (n >= 4 && p[0] == 0 && p[1] == '<' && p[2] == 0 && p[3] != 0)
        utf16 = "UTF-16BE";
    if (utf16 != NULL) {
        d->cd = iconv_open("UTF-8", utf16);
        if (d->cd != (iconv_t)-1) {
            d->kind = ENC_ICONV;
            set_name(d, "utf-16");
            return skip;
        }
    }

    const char *label = http[0] ? http : (has_decl ? declared : "utf-8");
    switch (classify(label)) {
    case L_UTF8:
    case L_UTF16: /* labelled UTF-16 but the bytes are 8-bit: they decide */
        d->kind = ENC_UTF8;
        set_name(d, "utf-8");
        break;
    case L_1252:
        d->kind = ENC_CODEPAGE, d->codepage = 1252;
        set_name(d, "windows-1252");
        break;
    case L_LATIN1:
        /* Read as windows-1252, its superset in practice (WHATWG Encoding). */
        d->kind = ENC_CODEPAGE, d->codepage = 1252;
        set_name(d, "iso-8859-1");
        break;
    case L_1258:
        d->kind = ENC_CODEPAGE, d->codepage = 1258;
        set_name(d, "windows-1258");
        break;
    case L_OTHER:
        d->cd = iconv_open("UTF-8", label);
        if (d->cd != (iconv_t)-1) {
            d->kind = ENC_ICONV;
            set_name(d, label);
        } else {
            d->kind = ENC_UTF8;
            set_name(d, "utf-8");
            d->notes.unsupported_encoding = true;
            snprintf(d->notes.unsupported_name, sizeof d->notes.unsupported_name, "%s", label);
        }
        break;
    }
    return 0;
}

static bool prolog_ready(const struct tm_buf *b)
{
    if (b->len >= TM_DECODE_PROLOG_BYTES)
        return true;
    const unsigned char *p = (const unsigned char *)b->data;
    size_t i = 0;
    if (b->len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;
    else if (b->len >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF)))
        return true;
    while (i < b->len && is_space(p[i]))
        i++;
    size_t avail = b->len - i;
    if (avail < 5)
        return false;
    if (memcmp(p + i, "<?xml", 5) != 0)
        return true;
    for (size_t k = i; k + 1 < b->len; k++)
        if (p[k] == '?' && p[k + 1] == '>')
            return true;
    return false;
}

int tm_decoder_push(struct tm_decoder *d, const char *buf, size_t len, bool final,
                    tm_decoder_sink sink, void *ctx)
{
    d->sink = sink;
    d->sink_ctx = ctx;
    if (d->rc < 0)
        return d->rc;
    const unsigned char *p = (const unsigned char *)buf;
    if (d->kind == ENC_UNDECIDED) {
        if (tm_buf_add(&d->prolog, buf, len) < 0)
            return d->rc = TM_ENOMEM;
        if (!final && !prolog_ready(&d->prolog))
            return 0;
        size_t skip = decide(d, (const unsigned char *)d->prolog.data, d->prolog.len);
        struct tm_buf held = d->prolog;
        tm_buf_init(&d->prolog, 0);
        int rc = feed_decided(d, (const unsigned char *)held.data + skip, held.len - skip, final);
        tm_buf_free(&held);
        if (rc < 0)
            return rc;
    } else if (len > 0 || d->n_pend > 0) {
        if (feed_decided(d, p, len, final) < 0)
            return d->rc;
    }
    if (final) {
        if (d->n_carry > 0 || d->at_start)
            scan(d, (const unsigned char *)"", 0, true);
        close_cdata(d);
    }
    return flush_out(d);
}
