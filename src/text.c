/* tinmoi — Unicode text: UTF-8 checks, code pages, NFC, entities, plain text.
 *
 * Every function here is linear in its input: the parser calls them for each
 * field of each entry. Text that cannot change under NFC (ASCII, Latin-1,
 * precomposed Vietnamese, common punctuation) skips utf8proc altogether. */
#include "tinmoi/text.h"
#include "tinmoi/error.h"
#include "entities_int.h"
#include "text_int.h"
#include "copy_int.h"
#include "utf8_scan_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

/* How far a tag may run while its quoted attribute values are honoured; past
 * it the first '>' ends the tag. Bounds the work a '<' can cost in tag soup
 * with unbalanced quotes, so tm_text_plain stays linear. */
#define TM_TEXT_MAX_TAG_BYTES 1024

/* Combining marks tm_text_truncate backs over so that a base letter is not
 * cut from its marks; real text never stacks more. */
#define TM_TEXT_MAX_MARKS 16

/* windows-1252, bytes 0x80-0xFF, as the WHATWG Encoding Standard maps them
 * (the five holes 0x81, 0x8D, 0x8F, 0x90, 0x9D map to the C1 control of the
 * same value, as browsers do). */
static const uint16_t cp1252_high[128] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, /* 80 */
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F, /* 88 */
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, /* 90 */
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178, /* 98 */
    0x00A0, 0x00A1, 0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x00A6, 0x00A7, /* A0 */
    0x00A8, 0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF, /* A8 */
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x00B6, 0x00B7, /* B0 */
    0x00B8, 0x00B9, 0x00BA, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF, /* B8 */
    0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x00C7, /* C0 */
    0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF, /* C8 */
    0x00D0, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x00D7, /* D0 */
    0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x00DD, 0x00DE, 0x00DF, /* D8 */
    0x00E0, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x00E7, /* E0 */
    0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF, /* E8 */
    0x00F0, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x00F7, /* F0 */
    0x00F8, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x00FD, 0x00FE, 0x00FF, /* F8 */
};

/* windows-1258 (Vietnamese), bytes 0x80-0xFF, per the WHATWG index. Five
 * tone marks are combining characters (0xCC grave U+0300, 0xD2 hook U+0309,
 * 0xDE tilde U+0303, 0xEC acute U+0301, 0xF2 dot below U+0323), so decoded
 * text is in a decomposed form that NFC turns into precomposed letters. */
static const uint16_t cp1258_high[128] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, /* 80 */
    0x02C6, 0x2030, 0x008A, 0x2039, 0x0152, 0x008D, 0x008E, 0x008F, /* 88 */
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, /* 90 */
    0x02DC, 0x2122, 0x009A, 0x203A, 0x0153, 0x009D, 0x009E, 0x0178, /* 98 */
    0x00A0, 0x00A1, 0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x00A6, 0x00A7, /* A0 */
    0x00A8, 0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF, /* A8 */
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x00B6, 0x00B7, /* B0 */
    0x00B8, 0x00B9, 0x00BA, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF, /* B8 */
    0x00C0, 0x00C1, 0x00C2, 0x0102, 0x00C4, 0x00C5, 0x00C6, 0x00C7, /* C0 */
    0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x0300, 0x00CD, 0x00CE, 0x00CF, /* C8 */
    0x0110, 0x00D1, 0x0309, 0x00D3, 0x00D4, 0x01A0, 0x00D6, 0x00D7, /* D0 */
    0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x01AF, 0x0303, 0x00DF, /* D8 */
    0x00E0, 0x00E1, 0x00E2, 0x0103, 0x00E4, 0x00E5, 0x00E6, 0x00E7, /* E0 */
    0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x0301, 0x00ED, 0x00EE, 0x00EF, /* E8 */
    0x0111, 0x00F1, 0x0323, 0x00F3, 0x00F4, 0x01A1, 0x00F6, 0x00F7, /* F0 */
    0x00F8, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x01B0, 0x20AB, 0x00FF, /* F8 */
};

/* ---- UTF-8 -------------------------------------------------------------- */

size_t tm_utf8_decode(const unsigned char *s, size_t len, int32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    int32_t v;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        *cp = -1;
        return 1;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *cp = -1;
            return i;
        }
        v = (v << 6) | (s[i] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return need + 1;
}

static size_t utf8_encode(int32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool tm_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int32_t cp;
        i += tm_utf8_decode(p + i, len - i, &cp);
        if (cp < 0)
            return false;
    }
    return true;
}

size_t tm_utf8_boundary(const char *s, size_t len, size_t max_bytes)
{
    if (max_bytes >= len)
        return len;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = max_bytes;
    /* A code point has at most three continuation bytes; more means the
     * text is not UTF-8 and any cut is as good as another. */
    for (int back = 0; back < 4 && n > 0; back++) {
        if ((p[n] & 0xC0) != 0x80)
            return n;
        n--;
    }
    return (p[n] & 0xC0) != 0x80 ? n : max_bytes;
}

bool tm_text_cp_inert(int32_t cp)
{
    /* Checked against Unicode's data (every code point in these ranges has
     * canonical combining class 0, is its own NFC and is never the second
     * half of a composition): U+0000-U+02FF Latin and spacing modifiers,
     * U+1E00-U+1EFF Latin Extended Additional (precomposed Vietnamese),
     * U+2002-U+20CF punctuation, super/subscripts and currency (U+2000 and
     * U+2001 are singletons to U+2002/U+2003), and U+FFFD. */
    return cp < 0x300 || (cp >= 0x1E00 && cp <= 0x1EFF) || (cp >= 0x2002 && cp <= 0x20CF) ||
           cp == 0xFFFD;
}

bool tm_text_cp_illegal(int32_t cp)
{
    if (cp < 0x20)
        return cp != '\t' && cp != '\n' && cp != '\r';
    return cp == 0xFFFE || cp == 0xFFFF;
}

int tm_utf8_append_clean(struct tm_buf *b, const char *s, size_t len, bool *inert)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0, i = 0;
    bool all_inert = true;
    while (i < len) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80) {
            i++;
            continue;
        }
        int32_t cp;
        size_t n = tm_utf8_decode(p + i, len - i, &cp);
        if (cp >= 0 && !tm_text_cp_illegal(cp)) {
            if (!tm_text_cp_inert(cp))
                all_inert = false;
            i += n;
            continue;
        }
        int rc = tm_buf_add(b, s + run, i - run);
        if (rc == 0)
            rc = tm_buf_add(b, TM_TEXT_REPLACEMENT, 3);
        if (rc != 0)
            return rc;
        i += n;
        run = i;
    }
    if (inert != NULL && !all_inert)
        *inert = false;
    return tm_buf_add(b, s + run, i - run);
}

char *tm_text_nfc_take(char *s, size_t len, bool inert)
{
    if (inert)
        return s;
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &out,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0) {
        if (n == UTF8PROC_ERROR_NOMEM) {
            free(s);
            return NULL;
        }
        /* The caller passes valid UTF-8, so this is not reached; keeping
         * the text unnormalised beats losing it. */
        return s;
    }
    free(s);
    return (char *)out;
}

/* ---- Entities ----------------------------------------------------------- */

/* name[0..len) against the NUL-terminated e->name, in byte order, a
 * prefix before what it begins. Inline, byte by byte: most probes of the
 * search differ at the first byte, where strlen and memcmp calls cost more
 * than the comparison. */
static inline int entity_cmp(const char *name, size_t len, const struct tm_entity *e)
{
    const unsigned char *a = (const unsigned char *)name, *b = (const unsigned char *)e->name;
    for (size_t i = 0; i < len; i++) {
        if (b[i] == '\0')
            return 1;
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return b[len] == '\0' ? 0 : -1;
}

static const struct tm_entity *entity_find(const char *name, size_t len)
{
    if (len == 0 || len > TM_ENTITY_NAME_MAX)
        return NULL;
    size_t lo = 0, hi = tm_entities_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = entity_cmp(name, len, &tm_entities[mid]);
        if (c == 0)
            return &tm_entities[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t tm_entity_lookup(const char *name, size_t name_len, char out[TM_ENTITY_MAX_UTF8])
{
    if (name_len > 0 && name[name_len - 1] == ';')
        name_len--;
    const struct tm_entity *e = entity_find(name, name_len);
    if (e == NULL)
        return 0;
    memcpy(out, e->utf8, e->utf8_len);
    out[e->utf8_len] = '\0';
    return e->utf8_len;
}

/* ---- Code pages --------------------------------------------------------- */

char *tm_text_from_codepage(const char *s, size_t len, int cp)
{
    const uint16_t *high;
    if (cp == 1252)
        high = cp1252_high;
    else if (cp == 1258)
        high = cp1258_high;
    else
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t out_len = 0;
    for (size_t i = 0; i < len; i++)
        out_len += p[i] < 0x80 ? 1 : high[p[i] - 0x80] < 0x800 ? 2 : 3;
    char *out = malloc(out_len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x80)
            out[o++] = (char)p[i];
        else
            o += utf8_encode(high[p[i] - 0x80], out + o);
    }
    out[o] = '\0';
    return out;
}

/* ---- Writer: repairs, collapses white space, tracks the NFC fast path --- */

struct text_out {
    char *data;
    size_t len;
    size_t cap;
    bool collapse; /* fold white space runs to one space, trim */
    bool space;    /* a space is owed before the next visible character */
    bool inert;    /* nothing written can change under NFC */
    bool oom;
};

static void out_init(struct text_out *o, size_t hint, bool collapse)
{
    o->data = NULL;
    o->len = 0;
    o->cap = 0;
    o->collapse = collapse;
    o->space = false;
    o->inert = true;
    o->oom = false;
    if (hint > 0) {
        /* Output is rarely longer than input; out_put reserves a byte for
         * an owed space and one for the NUL, so with only hint + 1 the
         * common one-piece write of the whole text reallocated. */
        o->data = malloc(hint + 2);
        if (o->data == NULL)
            o->oom = true;
        else
            o->cap = hint + 2;
    }
}

static bool out_reserve(struct text_out *o, size_t extra)
{
    if (o->oom)
        return false;
    if (o->len + extra + 1 <= o->cap)
        return true;
    size_t cap = o->cap ? o->cap : 64;
    while (cap < o->len + extra + 1)
        cap *= 2;
    char *p = realloc(o->data, cap);
    if (p == NULL) {
        o->oom = true;
        return false;
    }
    o->data = p;
    o->cap = cap;
    return true;
}

/* Writes bytes that hold no white space, paying an owed space first. */
static void out_put(struct text_out *o, const char *s, size_t n)
{
    if (n == 0 || !out_reserve(o, n + 1))
        return;
    if (o->space) {
        o->data[o->len++] = ' ';
        o->space = false;
    }
    tm_copy(o->data + o->len, s, n);
    o->len += n;
}

static void out_space(struct text_out *o)
{
    if (!o->collapse) {
        out_put(o, " ", 1);
        return;
    }
    if (o->len > 0)
        o->space = true;
}

bool tm_text_cp_space(int32_t cp)
{
    switch (cp) {
    case '\t':
    case '\n':
    case 0x0B:
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

/* Writes one code point, already known to be valid. */
static void out_cp(struct text_out *o, int32_t cp)
{
    if (o->collapse && tm_text_cp_space(cp)) {
        out_space(o);
        return;
    }
    if (tm_text_cp_illegal(cp) || cp < 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (!tm_text_cp_inert(cp))
        o->inert = false;
    char tmp[4];
    out_put(o, tmp, utf8_encode(cp, tmp));
}

/* What out_text passes without a look (utf8_scan_int.h): ASCII but the C0
 * controls (and, when collapsing, white space), and the two- and three-byte
 * characters of U+00C0-U+02FF and U+1E00-U+1EFF, which are neither white
 * space (U+0085 and U+00A0 are, so C2 is left out) nor changed by NFC. */
#define TEXT_PLAIN_SET(a, b, c, d) TM_UTF8_PLAIN_VI(0xC3, a, b, c, d)
static const struct tm_utf8_plain plain_folding = TEXT_PLAIN_SET(' ', '\t', '\n', '\r');
/* The same with ' ' plain, for a first look at the whole text. */
static const struct tm_utf8_plain plain_words = TEXT_PLAIN_SET('\t', '\n', '\r', '\t');
static const struct tm_utf8_plain plain_keeping = TEXT_PLAIN_SET('\0', '\0', '\0', '\0');

/* The end of the plain run from s[i]. When collapsing, a single ' ' between
 * two plain characters stays in the run: folding would write just that. */
static size_t plain_end(const struct text_out *o, const unsigned char *p, size_t i, size_t len)
{
    bool multi = false;
    if (!o->collapse)
        return tm_utf8_plain_run(&plain_keeping, p, i, len, &multi);
    size_t start = i;
    for (;;) {
        i = tm_utf8_plain_run(&plain_folding, p, i, len, &multi);
        if (i == start || i + 1 >= len || p[i] != ' ')
            return i;
        size_t next = len - (i + 1) < 3 ? len - (i + 1) : 3;
        if (tm_utf8_plain_run_simple(&plain_folding, p + i + 1, 0, next, &multi) == 0)
            return i;
        i++;
    }
}

/* Writes text: invalid UTF-8 and XML-illegal characters become U+FFFD, white
 * space is folded when collapsing; runs of other characters go in bulk. */
static void out_text(struct text_out *o, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (o->collapse && len > 0 && p[0] != ' ' && p[len - 1] != ' ') {
        /* Most titles and names are words of plain characters with single
         * spaces between them, which folding leaves as they are: one look
         * at the whole, instead of a run per word. */
        bool multi = false;
        size_t i = tm_utf8_plain_run(&plain_words, p, 0, len, &multi);
        bool single = true;
        for (size_t k = 1; k < i && single; k++)
            single = !(p[k] == ' ' && p[k - 1] == ' ');
        if (i == len && single) {
            out_put(o, s, len);
            return;
        }
    }
    size_t run = 0, i = 0;
    while (i < len) {
        i = plain_end(o, p, i, len);
        if (i >= len)
            break;
        int32_t cp;
        size_t n = tm_utf8_decode(p + i, len - i, &cp);
        bool special = cp < 0 || tm_text_cp_illegal(cp) || (o->collapse && tm_text_cp_space(cp));
        if (!special) {
            if (!tm_text_cp_inert(cp))
                o->inert = false;
            i += n;
            continue;
        }
        out_put(o, s + run, i - run);
        if (cp < 0)
            out_put(o, TM_TEXT_REPLACEMENT, 3);
        else
            out_cp(o, cp);
        i += n;
        run = i;
    }
    out_put(o, s + run, i - run);
}

/* Ends the text: NULL when empty or on OOM (*oom says which). */
static char *out_finish(struct text_out *o, bool *oom)
{
    if (oom != NULL)
        *oom = o->oom;
    if (o->oom || o->len == 0) {
        free(o->data);
        return NULL;
    }
    o->data[o->len] = '\0';
    if (o->inert && o->cap > 2 * o->len + 64) {
        char *p = realloc(o->data, o->len + 1);
        if (p != NULL)
            o->data = p;
    }
    char *r = tm_text_nfc_take(o->data, o->len, o->inert);
    if (r == NULL && oom != NULL)
        *oom = true;
    return r;
}

/* ---- Public text functions ---------------------------------------------- */

char *tm_text_nfc(const char *s, size_t len)
{
    struct text_out o;
    out_init(&o, len, false);
    out_text(&o, s, len);
    if (!out_reserve(&o, 0)) {
        free(o.data);
        return NULL;
    }
    o.data[o.len] = '\0';
    return tm_text_nfc_take(o.data, o.len, o.inert);
}

char *tm_text_collapse(const char *s, size_t len, bool *oom)
{
    struct text_out o;
    out_init(&o, len, true);
    out_text(&o, s, len);
    return out_finish(&o, oom);
}

bool tm_text_truncate(char *s, size_t max_bytes)
{
    size_t len = strlen(s);
    if (len <= max_bytes)
        return false;
    size_t n = tm_utf8_boundary(s, len, max_bytes);
    /* Keep a letter and its combining marks together: back over marks that
     * would start the cut-off part. */
    size_t m = n;
    for (int i = 0; i < TM_TEXT_MAX_MARKS && m > 0; i++) {
        int32_t cp;
        tm_utf8_decode((const unsigned char *)s + m, len - m, &cp);
        if (cp < 0x300 || utf8proc_get_property(cp)->combining_class == 0)
            break;
        m = tm_utf8_boundary(s, len, m - 1);
    }
    if (m == 0)
        m = n; /* nothing but marks: a code point boundary must do */
    s[m] = '\0';
    return true;
}

/* ---- Plain text from markup --------------------------------------------- */

/* HTML5 maps numeric references to 0x80-0x9F as windows-1252 ("&#150;" is an
 * en dash), and to 0, surrogates or past U+10FFFF as U+FFFD. */
static int32_t numeric_ref_cp(uint32_t v)
{
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0xFFFD;
    if (v >= 0x80 && v <= 0x9F)
        return cp1252_high[v - 0x80];
    return (int32_t)v;
}

static bool is_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_alnum(unsigned char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes the character reference at s[0] == '&'. Returns the bytes it
 * spans and writes the text, or 0 when it is a literal '&'. */
static size_t decode_ref(struct text_out *o, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 1;
    if (i < len && p[i] == '#') {
        i++;
        bool hex = i < len && (p[i] | 0x20) == 'x';
        if (hex)
            i++;
        size_t start = i;
        uint32_t v = 0;
        for (; i < len; i++) {
            int d = hex ? hex_val(p[i]) : (p[i] >= '0' && p[i] <= '9' ? p[i] - '0' : -1);
            if (d < 0)
                break;
            if (v <= 0x10FFFF)
                v = v * (hex ? 16 : 10) + (uint32_t)d;
        }
        if (i == start)
            return 0;
        if (i < len && p[i] == ';')
            i++;
        out_cp(o, numeric_ref_cp(v));
        return i;
    }
    size_t end = i;
    while (end < len && end - i <= TM_ENTITY_NAME_MAX && is_alnum(p[end]))
        end++;
    if (end == i)
        return 0;
    const struct tm_entity *e = NULL;
    if (end < len && p[end] == ';')
        e = entity_find(s + i, end - i);
    if (e != NULL) {
        end++;
    } else {
        /* HTML accepts the legacy names without ';', even glued to what
         * follows ("&copy2024"): take the longest such prefix. */
        size_t n = end - i < 6 ? end - i : 6;
        for (; n >= 2; n--) {
            e = entity_find(s + i, n);
            if (e != NULL && e->legacy)
                break;
            e = NULL;
        }
        if (e == NULL)
            return 0;
        end = i + n;
    }
    for (size_t k = 0; k < e->utf8_len;) {
        int32_t cp;
        k += tm_utf8_decode((const unsigned char *)e->utf8 + k, e->utf8_len - k, &cp);
        out_cp(o, cp);
    }
    return end;
}

/* Elements whose boundaries separate words: they become a space. */
static bool tag_breaks_words(const char *name, size_t len)
{
    static const char *const names[] = {
        "address", "article",    "aside",  "blockquote", "br",    "caption", "dd",    "div", "dl",
        "dt",      "figcaption", "figure", "footer",     "h1",    "h2",      "h3",    "h4",  "h5",
        "h6",      "header",     "hr",     "li",         "main",  "nav",     "ol",    "p",   "pre",
        "section", "table",      "tbody",  "td",         "tfoot", "th",      "thead", "tr",  "ul",
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strlen(names[k]) == len && strncasecmp(names[k], name, len) == 0)
            return true;
    return false;
}

static const char *find_sub(const char *s, size_t len, const char *needle)
{
    size_t nlen = strlen(needle);
    const char *end = s + len;
    while ((size_t)(end - s) >= nlen) {
        const char *c = memchr(s, needle[0], (size_t)(end - s) - nlen + 1);
        if (c == NULL)
            return NULL;
        if (memcmp(c, needle, nlen) == 0)
            return c;
        s = c + 1;
    }
    return NULL;
}

/* Memoised "next occurrence of c at or after pos": tag soup can send many
 * scans for the same missing byte, and each must not cost the rest of the
 * text again. */
struct next_cache {
    size_t from;
    size_t at; /* len when none */
    bool valid;
};

static size_t next_of(struct next_cache *nc, const char *s, size_t len, size_t pos, char c)
{
    if (nc->valid && pos >= nc->from && pos <= nc->at)
        return nc->at;
    const char *hit = pos < len ? memchr(s + pos, c, len - pos) : NULL;
    nc->from = pos;
    nc->at = hit ? (size_t)(hit - s) : len;
    nc->valid = true;
    return nc->at;
}

struct plain_scan {
    struct next_cache gt, sq, dq;
};

/* The end (index just past '>') of the tag whose name ends at `i`. 0 when
 * there is no '>' at all (then the '<' was text). */
static size_t tag_end(struct plain_scan *ps, const char *s, size_t len, size_t start, size_t i)
{
    size_t gt = next_of(&ps->gt, s, len, i, '>');
    if (gt == len)
        return 0;
    size_t limit = start + TM_TEXT_MAX_TAG_BYTES < len ? start + TM_TEXT_MAX_TAG_BYTES : len;
    while (i < limit) {
        char c = s[i];
        if (c == '>')
            return i + 1;
        if (c == '"' || c == '\'') {
            size_t q = next_of(c == '"' ? &ps->dq : &ps->sq, s, len, i + 1, c);
            if (q >= limit)
                break;
            i = q + 1;
            continue;
        }
        i++;
    }
    return gt + 1;
}

/* Skips a raw-text element's content up to and past its end tag. */
static size_t skip_raw_text(const char *s, size_t len, size_t i, const char *name, size_t nlen)
{
    while (i < len) {
        const char *lt = memchr(s + i, '<', len - i);
        if (lt == NULL)
            return len;
        i = (size_t)(lt - s) + 1;
        if (i + 1 + nlen <= len && s[i] == '/' && strncasecmp(s + i + 1, name, nlen) == 0) {
            const char *gt = memchr(s + i, '>', len - i);
            return gt ? (size_t)(gt - s) + 1 : len;
        }
    }
    return len;
}

char *tm_text_plain(const char *s, size_t len, bool *oom)
{
    struct text_out o;
    struct plain_scan ps;
    memset(&ps, 0, sizeof ps);
    out_init(&o, len, true);
    size_t i = 0, run = 0;
    while (i < len) {
        char c = s[i];
        if (c != '<' && c != '&') {
            i++;
            continue;
        }
        out_text(&o, s + run, i - run);
        run = i;
        if (c == '&') {
            size_t n = decode_ref(&o, s + i, len - i);
            i += n ? n : 1;
            if (n)
                run = i;
            continue;
        }
        /* c == '<' */
        unsigned char n1 = i + 1 < len ? (unsigned char)s[i + 1] : 0;
        unsigned char n2 = i + 2 < len ? (unsigned char)s[i + 2] : 0;
        if (n1 == '!') {
            if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
                const char *e = find_sub(s + i + 4, len - i - 4, "-->");
                i = e ? (size_t)(e - s) + 3 : len;
            } else if (len - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0) {
                const char *e = find_sub(s + i + 9, len - i - 9, "]]>");
                size_t stop = e ? (size_t)(e - s) : len;
                out_text(&o, s + i + 9, stop - i - 9);
                i = e ? stop + 3 : len;
            } else {
                size_t gt = next_of(&ps.gt, s, len, i, '>');
                i = gt < len ? gt + 1 : len;
            }
            run = i;
            continue;
        }
        if (n1 == '?') {
            size_t gt = next_of(&ps.gt, s, len, i, '>');
            i = gt < len ? gt + 1 : len;
            run = i;
            continue;
        }
        bool end_tag = n1 == '/';
        if (!(is_alpha(n1) || (end_tag && is_alpha(n2)))) {
            i++; /* a '<' that starts no tag is text ("a < b") */
            continue;
        }
        size_t name = i + (end_tag ? 2 : 1);
        size_t k = name;
        while (k < len && (is_alnum((unsigned char)s[k]) || s[k] == '-' || s[k] == ':'))
            k++;
        size_t end = tag_end(&ps, s, len, i, k);
        if (end == 0) {
            i++;
            continue;
        }
        if (tag_breaks_words(s + name, k - name))
            out_space(&o);
        i = end;
        bool raw = (k - name == 6 && strncasecmp(s + name, "script", 6) == 0) ||
                   (k - name == 5 && strncasecmp(s + name, "style", 5) == 0);
        if (!end_tag && raw && s[end - 2] != '/')
            i = skip_raw_text(s, len, i, s + name, k - name);
        run = i;
    }
    out_text(&o, s + run, len - run);
    return out_finish(&o, oom);
}

int tm_text_escape_html(struct tm_buf *b, const char *s, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        int rc = tm_buf_add(b, s + run, i - run);
        if (rc == 0)
            rc = tm_buf_adds(b, rep);
        if (rc < 0)
            return rc;
        run = i + 1;
    }
    return tm_buf_add(b, s + run, len - run);
}
