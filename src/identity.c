/* tinmoi — identity of items (SPEC §7): canonical links through libcurl's
 * URL API, normalised titles through utf8proc, keys and entry ids. Pure. */
#include "tinmoi/identity.h"

#include "identity_int.h"
#include "text_int.h"
#include "tinmoi/date.h"
#include "tinmoi/error.h"
#include "tinmoi/hash.h"
#include "tinmoi/feed.h"
#include "tinmoi/item.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <utf8proc.h>

/* Authority of tag: ids when public_url gives no usable host name; the
 * .invalid TLD (RFC 2606) can never belong to anyone else. */
#define ENTRY_ID_FALLBACK_HOST "tinmoi.invalid"

/* ---- canonical links ---------------------------------------------------- */

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int ascii_upper(int c)
{
    return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c;
}

static int is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 §6.2.2.1: "%3a" and "%3A" are the same octet; uppercase is the
 * normal form. */
static void upper_escapes(char *s)
{
    for (; *s != '\0'; s++) {
        if (s[0] == '%' && is_hex((unsigned char)s[1]) && is_hex((unsigned char)s[2])) {
            s[1] = (char)ascii_upper((unsigned char)s[1]);
            s[2] = (char)ascii_upper((unsigned char)s[2]);
            s += 2;
        }
    }
}

/* Tracking parameters that say how a reader arrived, not what they read. */
static int is_tracking_param(const char *name, size_t len)
{
    static const char *const exact[] = {"fbclid", "gclid", "mc_cid", "mc_eid"};
    if (len >= 4 && strncasecmp(name, "utm_", 4) == 0)
        return 1;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        if (strlen(exact[i]) == len && strncasecmp(name, exact[i], len) == 0)
            return 1;
    }
    return 0;
}

/* Rewrites the query `q` in place keeping the non-tracking, non-empty
 * parameters in their order. */
static void filter_query(char *q)
{
    char *out = q;
    const char *p = q;
    while (*p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t name_len = eq != NULL ? (size_t)(eq - p) : len;
        if (len > 0 && !is_tracking_param(p, name_len)) {
            if (out != q)
                *out++ = '&';
            memmove(out, p, len);
            out += len;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    *out = '\0';
}

/* Lowercased host: ASCII folding for ASCII names, Unicode case folding (NFC)
 * for IDN names written in Unicode. NULL on OOM or invalid UTF-8. */
static char *lower_host(const char *host)
{
    int ascii = 1;
    for (const char *p = host; *p != '\0'; p++) {
        if ((unsigned char)*p >= 0x80)
            ascii = 0;
    }
    if (ascii) {
        char *d = strdup(host);
        if (d != NULL) {
            for (char *p = d; *p != '\0'; p++)
                *p = (char)ascii_lower((unsigned char)*p);
        }
        return d;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)host, 0, &dst,
                     UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (n < 0)
        return NULL;
    return (char *)dst;
}

/* curl_url_get's string itself (curl_free it; NULL when the part is
 * absent). Returns 0, or -1 on any other failure. */
static int url_part(CURLU *u, CURLUPart part, unsigned flags, char **out)
{
    *out = NULL;
    CURLUcode rc = curl_url_get(u, part, out, flags);
    if (rc == CURLUE_NO_PORT || rc == CURLUE_NO_QUERY || rc == CURLUE_NO_FRAGMENT) {
        *out = NULL;
        return 0;
    }
    return rc == CURLUE_OK ? 0 : -1;
}

/* curl_url_get into a malloc'd copy (curl's strings must go back through
 * curl_free, ours through free). *out is NULL when the part is absent.
 * Returns 0, or -1 on any other failure. */
static int url_get(CURLU *u, CURLUPart part, unsigned flags, char **out)
{
    char *s = NULL;
    *out = NULL;
    if (url_part(u, part, flags, &s) != 0)
        return -1;
    if (s == NULL)
        return 0;
    *out = strdup(s);
    curl_free(s);
    return *out != NULL ? 0 : -1;
}

/* The canonical form of the URL u holds, in *out. The path and query are
 * set again only when they change (most links change neither): each get
 * and set costs curl a copy, and this runs for every stored item. */
static int canonicalise(CURLU *u, char **out)
{
    char *scheme = NULL, *host = NULL, *lhost = NULL, *port = NULL, *path = NULL, *query = NULL;
    int ret = -1;

    if (url_part(u, CURLUPART_SCHEME, 0, &scheme) != 0 || scheme == NULL)
        goto done;
    bool http = strcmp(scheme, "http") == 0;
    if (!http && strcmp(scheme, "https") != 0)
        goto done;
    if (url_part(u, CURLUPART_HOST, 0, &host) != 0 || host == NULL || host[0] == '\0')
        goto done;
    if ((lhost = lower_host(host)) == NULL)
        goto done;
    /* The port as written, minus the scheme's default: decided before the
     * scheme becomes https, or http://h:80 would turn into https://h:80. */
    if (url_part(u, CURLUPART_PORT, CURLU_NO_DEFAULT_PORT, &port) != 0)
        goto done;
    if (url_part(u, CURLUPART_PATH, 0, &path) != 0)
        goto done;
    if (url_part(u, CURLUPART_QUERY, 0, &query) != 0)
        goto done;

    const char *new_path = path; /* NULL: unchanged */
    if (path == NULL) {
        new_path = "/";
    } else {
        size_t len = strlen(path);
        if (len > 1 && path[len - 1] == '/')
            path[len - 1] = '\0';
        else
            new_path = NULL;
    }
    bool query_changed = false;
    if (query != NULL) {
        size_t len = strlen(query);
        filter_query(query); /* only ever shortens it */
        query_changed = query[0] == '\0' || strlen(query) != len;
    }

    if ((http && curl_url_set(u, CURLUPART_SCHEME, "https", 0) != CURLUE_OK) ||
        /* Always: setting the host is what drops an IPv6 zone id. */
        curl_url_set(u, CURLUPART_HOST, lhost, 0) != CURLUE_OK ||
        /* Always: after http -> https a written :80 must go, and a port
         * curl refuses on set (:0) makes the link not canonical. */
        curl_url_set(u, CURLUPART_PORT, port, 0) != CURLUE_OK ||
        (new_path != NULL && curl_url_set(u, CURLUPART_PATH, new_path, 0) != CURLUE_OK) ||
        (query_changed &&
         curl_url_set(u, CURLUPART_QUERY, query[0] != '\0' ? query : NULL, 0) != CURLUE_OK) ||
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK)
        goto done;
    if (url_get(u, CURLUPART_URL, CURLU_NO_DEFAULT_PORT, out) != 0 || *out == NULL)
        goto done;
    /* On the whole result, so that the stored keys do not depend on which
     * case a given libcurl writes its escapes in. */
    upper_escapes(*out);
    ret = 0;
done:
    curl_free(scheme);
    curl_free(host);
    free(lhost);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    return ret;
}

/* ---- canonical links: the fast path --------------------------------------
 * Most links are plain: "http(s)://" in lowercase, a host name of letters,
 * digits and hyphens in dot-separated labels, no user or port, a path and
 * query of characters RFC 3986 allows unescaped (and well-formed %XX), no
 * dot segments or empty ones. For those, curl's parse and rebuild
 * (twenty-odd allocations) changes nothing but what canonicalise asks, so
 * the same result is written here in one pass. Anything else, including
 * every host curl might read as an IPv4 number, takes curl's path. */

/* RFC 3986 pchar, '%' aside: unreserved, sub-delims, ':' and '@'. */
static bool is_pchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

/* Whether s[0..n) is pchars, '/' (and '?' in a query) and %XX alone. */
static bool plain_part(const char *s, size_t n, bool query)
{
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) || !is_hex((unsigned char)s[i + 2]))
                return false;
            i += 2;
        } else if (!(is_pchar(c) || c == '/' || (query && c == '?'))) {
            return false;
        }
    }
    return true;
}

/* A host of dot-separated labels of [a-z0-9-] (either case), one of them
 * holding a letter that cannot be part of an IPv4 number in any of the
 * forms curl reads (hex digits and 'x' can). */
static bool plain_host(const char *h, size_t n)
{
    bool named = false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        int c = ascii_lower((unsigned char)h[i]);
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
        named |= c >= 'g' && c <= 'z' && c != 'x';
        label++;
    }
    return label > 0 && named;
}

/* Whether the path holds a "." or ".." segment, or an empty one before
 * its end. */
static bool odd_segments(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '/')
            continue;
        size_t len = 0;
        while (i + 1 + len < n && p[i + 1 + len] != '/')
            len++;
        const char *s = p + i + 1;
        if ((len == 0 && i + 1 < n) || (len == 1 && s[0] == '.') ||
            (len == 2 && s[0] == '.' && s[1] == '.'))
            return true;
    }
    return false;
}

char *tm_identity_link_canonical_fast(const char *url, bool *slow)
{
    *slow = true;
    size_t skip;
    if (strncmp(url, "https://", 8) == 0)
        skip = 8;
    else if (strncmp(url, "http://", 7) == 0)
        skip = 7;
    else
        return NULL;
    const char *host = url + skip;
    size_t host_len = strcspn(host, "/?#");
    const char *path = host + host_len;
    size_t path_len = path[0] == '/' ? strcspn(path, "?#") : 0;
    const char *query = NULL, *frag = path + path_len;
    size_t query_len = 0;
    if (frag[0] == '?') {
        query = frag + 1;
        query_len = strcspn(query, "#");
        frag = query + query_len;
    }
    for (const char *f = frag; *f != '\0'; f++)
        if ((unsigned char)*f <= 0x20 || (unsigned char)*f >= 0x7f)
            return NULL; /* curl's call: escape or refuse */
    if (!plain_host(host, host_len) || !plain_part(path, path_len, false) ||
        odd_segments(path, path_len) || (query != NULL && !plain_part(query, query_len, true)))
        return NULL;

    /* "https://" host path ["?" query]: the host lowercased, the path's
     * trailing '/' dropped ("/" for none), the query filtered. */
    size_t cap = 8 + host_len + (path_len != 0 ? path_len : 1) + 1 + query_len + 1;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    char *w = out;
    memcpy(w, "https://", 8);
    w += 8;
    for (size_t i = 0; i < host_len; i++)
        *w++ = (char)ascii_lower((unsigned char)host[i]);
    if (path_len == 0) {
        *w++ = '/';
    } else {
        size_t keep = path_len > 1 && path[path_len - 1] == '/' ? path_len - 1 : path_len;
        memcpy(w, path, keep);
        w += keep;
    }
    *w = '\0';
    if (query != NULL) {
        w[0] = '?';
        memcpy(w + 1, query, query_len);
        w[1 + query_len] = '\0';
        filter_query(w + 1);
        if (w[1] == '\0')
            w[0] = '\0'; /* nothing left: no '?' */
    }
    upper_escapes(out);
    *slow = false;
    return out;
}

char *tm_identity_link_canonical_curl(const char *url)
{
    if (url == NULL || url[0] == '\0')
        return NULL;
    CURLU *u = curl_url();
    if (u == NULL)
        return NULL;
    char *out = NULL;
    /* CURLU_URLENCODE: raw spaces and UTF-8 in links (common on Vietnamese
     * portals) are accepted and compare equal to their %-encoded form. No
     * CURLU_NON_SUPPORT_SCHEME: only schemes curl knows parse at all. */
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_URLENCODE) == CURLUE_OK) {
        if (canonicalise(u, &out) != 0) {
            free(out);
            out = NULL;
        }
    }
    curl_url_cleanup(u);
    return out;
}

char *tm_link_canonical(const char *url)
{
    if (url == NULL || url[0] == '\0')
        return NULL;
    bool slow;
    char *out = tm_identity_link_canonical_fast(url, &slow);
    return slow ? tm_identity_link_canonical_curl(url) : out;
}

/* ---- normalised titles -------------------------------------------------- */

/* utf8proc's part of a normalised title: NFC of the full case fold,
 * default-ignorables dropped. */
#define TITLE_MAP_FLAGS                                                                            \
    (UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE)

/* Code points that separate words: punctuation, symbols, separators and
 * controls (tab, newline). */
static int is_separator(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CC:
        return 1;
    default:
        return 0;
    }
}

char *tm_identity_title_normalize_utf8proc(const char *title)
{
    if (title == NULL)
        return NULL;
    utf8proc_uint8_t *s = NULL;
    /* UTF8PROC_CASEFOLD is the full case folding (ß → ss); with COMPOSE the
     * result is NFC whatever form came in. IGNORE drops soft hyphens and
     * zero-width joiners that would otherwise split or glue words. */
    utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)title, 0, &s, TITLE_MAP_FLAGS);
    if (len < 0)
        return NULL;
    /* In place: a separator becomes one byte, other code points are copied,
     * so the write position never passes the read position. */
    utf8proc_ssize_t r = 0;
    size_t w = 0;
    int pending_space = 0;
    while (r < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(s + r, len - r, &cp);
        if (n <= 0) {
            free(s);
            return NULL;
        }
        if (is_separator(cp)) {
            pending_space = w > 0;
        } else {
            if (pending_space)
                s[w++] = ' ';
            pending_space = 0;
            memmove(s + w, s + r, (size_t)n);
            w += (size_t)n;
        }
        r += n;
    }
    if (w == 0) {
        free(s);
        return NULL;
    }
    s[w] = '\0';
    return (char *)s;
}

/* The fast path. Titles whose code points are all NFC-inert
 * (tm_text_cp_inert: Latin and spacing modifiers up to U+02FF, precomposed
 * Vietnamese U+1E00..U+1EFF, general punctuation and currency
 * U+2002..U+20CF) are mapped one code point at a time through a table that
 * utf8proc itself fills at first use: each entry is the code point's case
 * fold in NFC with default-ignorables removed, or "separator", or "slow".
 * Any other code point (a combining mark of an NFD title, another script),
 * or one whose mapping is not inert in turn (İ folds to i + U+0307) or
 * mixes separators and letters, sends the whole title to utf8proc. A string
 * of inert code points is its own NFC and none of them composes with a
 * neighbour, so NFC of the whole is the mappings side by side;
 * test_identity checks every code point of the table and every pair of
 * them against tm_identity_title_normalize_utf8proc. */
#define TITLE_FAST_LATIN_END 0x300 /* U+0001..U+02FF */
#define TITLE_FAST_VI_FIRST 0x1E00 /* Latin Extended Additional (Vietnamese) */
#define TITLE_FAST_VI_END 0x1F00
#define TITLE_FAST_PUNCT_FIRST 0x2002 /* dashes, quotes, currency */
#define TITLE_FAST_PUNCT_END 0x20D0
#define TITLE_FAST_ENTRIES                                                                         \
    (TITLE_FAST_LATIN_END + (TITLE_FAST_VI_END - TITLE_FAST_VI_FIRST) +                            \
     (TITLE_FAST_PUNCT_END - TITLE_FAST_PUNCT_FIRST))
#define TITLE_FAST_MAX_BYTES 12 /* room for a mapping: three 4-byte code points */
/* Output bytes per input byte a fast mapping may take (ß → ss is 1:1; a
 * mapping that grows more goes the slow way), for the output's size. */
#define TITLE_FAST_MAX_GROWTH 2

enum title_kind { TITLE_SLOW = 0, TITLE_SEP, TITLE_MAPPED };

struct title_entry {
    uint8_t kind; /* enum title_kind */
    uint8_t len;  /* bytes of the mapping (0: an ignorable, dropped) */
    char bytes[TITLE_FAST_MAX_BYTES];
};

static struct title_entry title_table[TITLE_FAST_ENTRIES];
static pthread_once_t title_table_once = PTHREAD_ONCE_INIT;

/* The table index of cp, or -1 outside the table. */
static int title_index(int32_t cp)
{
    if (cp > 0 && cp < TITLE_FAST_LATIN_END)
        return (int)cp;
    int base = TITLE_FAST_LATIN_END;
    if (cp >= TITLE_FAST_VI_FIRST && cp < TITLE_FAST_VI_END)
        return base + (int)(cp - TITLE_FAST_VI_FIRST);
    base += TITLE_FAST_VI_END - TITLE_FAST_VI_FIRST;
    if (cp >= TITLE_FAST_PUNCT_FIRST && cp < TITLE_FAST_PUNCT_END)
        return base + (int)(cp - TITLE_FAST_PUNCT_FIRST);
    return -1;
}

static struct title_entry title_entry_of(int32_t cp)
{
    struct title_entry e = {TITLE_SLOW, 0, {0}};
    utf8proc_uint8_t in[4];
    utf8proc_ssize_t in_len = utf8proc_encode_char(cp, in);
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t len = utf8proc_map(in, in_len, &out, TITLE_MAP_FLAGS & ~UTF8PROC_NULLTERM);
    if (len < 0)
        return e;
    size_t n_sep = 0, n_cp = 0;
    bool inert = true;
    for (utf8proc_ssize_t r = 0; r < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate(out + r, len - r, &c);
        if (n <= 0) {
            inert = false;
            break;
        }
        n_cp++;
        n_sep += is_separator(c) != 0;
        if (!tm_text_cp_inert(c))
            inert = false;
        r += n;
    }
    if (inert && n_cp > 0 && n_sep == n_cp) {
        e.kind = TITLE_SEP;
    } else if (inert && n_sep == 0 && (size_t)len <= sizeof e.bytes &&
               len <= TITLE_FAST_MAX_GROWTH * in_len) {
        e.kind = TITLE_MAPPED;
        e.len = (uint8_t)len;
        memcpy(e.bytes, out, (size_t)len);
    }
    free(out);
    return e;
}

static void on_title_table_once(void)
{
    for (int32_t cp = 1; cp < TITLE_FAST_PUNCT_END; cp++) {
        int k = title_index(cp);
        if (k >= 0)
            title_table[k] = title_entry_of(cp);
    }
}

/* The fast path: sets *slow and returns NULL when the title needs the
 * whole utf8proc pass (or on OOM, which that pass reports again). */
char *tm_identity_title_normalize_fast(const char *title, bool *slow)
{
    *slow = true;
    if (pthread_once(&title_table_once, on_title_table_once) != 0)
        return NULL;
    size_t len = strlen(title);
    char *out = malloc(len * TITLE_FAST_MAX_GROWTH + 1);
    if (out == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)title;
    size_t i = 0, w = 0;
    bool pending_space = false;
    while (i < len) {
        int32_t cp = p[i];
        size_t n = 1;
        if (cp >= 0x80)
            n = tm_utf8_decode(p + i, len - i, &cp);
        int k = title_index(cp);
        if (k < 0 || title_table[k].kind == TITLE_SLOW) {
            free(out);
            return NULL;
        }
        const struct title_entry *e = &title_table[k];
        if (e->kind == TITLE_SEP) {
            pending_space = w > 0;
        } else if (e->len > 0) {
            if (pending_space)
                out[w++] = ' ';
            pending_space = false;
            memcpy(out + w, e->bytes, e->len);
            w += e->len;
        }
        i += n;
    }
    *slow = false;
    if (w == 0) {
        free(out);
        return NULL;
    }
    out[w] = '\0';
    return out;
}

char *tm_title_normalize(const char *title)
{
    if (title == NULL)
        return NULL;
    bool slow;
    char *norm = tm_identity_title_normalize_fast(title, &slow);
    return slow ? tm_identity_title_normalize_utf8proc(title) : norm;
}

/* ---- similarity --------------------------------------------------------- */

/* Next word of `p` (skipping spaces): sets *start and *len, returns the
 * position after it, or NULL at the end. */
static const char *next_word(const char *p, const char **start, size_t *len)
{
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return NULL;
    const char *e = p;
    while (*e != '\0' && *e != ' ')
        e++;
    *start = p;
    *len = (size_t)(e - p);
    return e;
}

size_t tm_identity_count_words(const char *norm)
{
    size_t n = 0;
    const char *w;
    size_t wl;
    if (norm == NULL)
        return 0;
    for (const char *p = norm; (p = next_word(p, &w, &wl)) != NULL;)
        n++;
    return n;
}

/* A title's hashes: a few dozen at most, sorted by insertion whole. */
#define TM_SORT_NAME sort_u64
#define TM_SORT_TYPE uint64_t
#define TM_SORT_LESS(a, b) (*(a) < *(b))
#include "sort_int.h"

size_t tm_identity_title_tokens_into(const char *norm, bool words, uint64_t *out)
{
    size_t n = 0;
    const char *prev = NULL, *w;
    size_t prev_len = 0, wl;
    for (const char *p = norm; p != NULL && (p = next_word(p, &w, &wl)) != NULL;) {
        if (words) {
            out[n++] = tm_hash_fnv1a64(TM_HASH_FNV1A64_INIT, w, wl);
        } else if (prev != NULL) {
            uint64_t h = tm_hash_fnv1a64(TM_HASH_FNV1A64_INIT, prev, prev_len);
            h = tm_hash_fnv1a64(h, " ", 1);
            out[n++] = tm_hash_fnv1a64(h, w, wl);
        }
        prev = w;
        prev_len = wl;
    }
    sort_u64(out, n);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u == 0 || out[u - 1] != out[i])
            out[u++] = out[i];
    }
    return u;
}

double tm_identity_jaccard(const uint64_t *a, size_t n_a, const uint64_t *b, size_t n_b)
{
    size_t i = 0, j = 0, common = 0;
    if (n_a + n_b == 0)
        return 0.0;
    while (i < n_a && j < n_b) {
        if (a[i] == b[j]) {
            common++;
            i++;
            j++;
        } else if (a[i] < b[j]) {
            i++;
        } else {
            j++;
        }
    }
    return (double)common / (double)(n_a + n_b - common);
}

double tm_title_similarity(const char *norm_a, const char *norm_b)
{
    size_t wa = tm_identity_count_words(norm_a), wb = tm_identity_count_words(norm_b);
    if (wa == 0 || wb == 0)
        return 0.0;
    if (strcmp(norm_a, norm_b) == 0)
        return 1.0;
    bool words = wa < 2 || wb < 2;
    uint64_t *t = malloc((wa + wb) * sizeof *t);
    if (t == NULL)
        return 0.0;
    size_t na = tm_identity_title_tokens_into(norm_a, words, t);
    size_t nb = tm_identity_title_tokens_into(norm_b, words, t + wa);
    double sim = tm_identity_jaccard(t, na, t + wa, nb);
    free(t);
    return sim;
}

/* ---- keys and entry ids ------------------------------------------------- */

int64_t tm_item_published_utc(int64_t published_utc, int64_t first_seen_utc)
{
    if (published_utc == TM_TIME_NONE)
        return first_seen_utc;
    if (first_seen_utc != TM_TIME_NONE && published_utc > first_seen_utc &&
        published_utc - first_seen_utc > TM_IDENTITY_MAX_FUTURE_S)
        return first_seen_utc;
    return published_utc;
}

static char *prefixed(const char *prefix, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return NULL;
    size_t pl = strlen(prefix), sl = strlen(s);
    char *d = malloc(pl + sl + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, prefix, pl);
    memcpy(d + pl, s, sl + 1);
    return d;
}

char *tm_item_key_guid(const char *guid)
{
    return prefixed("g:", guid);
}

char *tm_item_key_link(const char *canonical_link)
{
    return prefixed("l:", canonical_link);
}

char *tm_item_key_title(const char *norm_title, int64_t published_utc)
{
    uint64_t h = TM_HASH_FNV1A64_INIT;
    if (norm_title != NULL)
        h = tm_hash_fnv1a64(h, norm_title, strlen(norm_title));
    if (published_utc != TM_TIME_NONE) {
        char date[24];
        int n = snprintf(date, sizeof date, "\n%" PRId64, published_utc);
        h = tm_hash_fnv1a64(h, date, (size_t)n);
    }
    char *d = malloc(2 + 16 + 1);
    if (d != NULL)
        snprintf(d, 2 + 16 + 1, "h:%016" PRIx64, h);
    return d;
}

char *tm_item_key(const char *guid, const char *canonical_link, const char *title,
                  int64_t published_utc)
{
    if (guid != NULL && guid[0] != '\0')
        return tm_item_key_guid(guid);
    if (canonical_link != NULL && canonical_link[0] != '\0')
        return tm_item_key_link(canonical_link);
    char *norm = tm_title_normalize(title);
    if (norm == NULL && title != NULL && title[0] != '\0') {
        /* Invalid UTF-8 cannot reach here from the parser; hash the bytes. */
        norm = strdup(title);
        if (norm == NULL)
            return NULL;
    }
    char *key = tm_item_key_title(norm, published_utc);
    free(norm);
    return key;
}

/* RFC 4151's authorityName is a DNS name: letters, digits, '-' and '.'. */
static int is_dns_name(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || h[0] == '.' || h[0] == '-' || h[n - 1] == '.' || h[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

char *tm_entry_id_host(const char *public_url)
{
    char *host = NULL;
    if (public_url != NULL) {
        CURLU *u = curl_url();
        if (u == NULL)
            return NULL; /* out of memory, not a URL without a host */
        char *h = NULL;
        CURLUcode rc = curl_url_set(u, CURLUPART_URL, public_url, CURLU_NON_SUPPORT_SCHEME);
        if (rc == CURLUE_OK)
            rc = curl_url_get(u, CURLUPART_HOST, &h, 0);
        curl_url_cleanup(u);
        if (rc == CURLUE_OUT_OF_MEMORY)
            return NULL;
        if (rc == CURLUE_OK && h != NULL) {
            host = strdup(h);
            curl_free(h);
            if (host == NULL)
                return NULL;
            for (char *p = host; *p != '\0'; p++)
                *p = (char)ascii_lower((unsigned char)*p);
            if (!is_dns_name(host)) {
                free(host);
                host = NULL;
            }
        }
    }
    return host != NULL ? host : strdup(ENTRY_ID_FALLBACK_HOST);
}

static int is_unreserved(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

char *tm_entry_id_new(const struct tm_item *primary, const char *public_url)
{
    if (primary == NULL)
        return NULL;
    char *computed = NULL;
    const char *key = primary->key;
    if (key == NULL) {
        computed = tm_item_key(primary->guid, primary->canonical_link, primary->title,
                               primary->published_utc);
        if (computed == NULL)
            return NULL;
        key = computed;
    }
    char *host = tm_entry_id_host(public_url);
    char *id = host == NULL
                   ? NULL
                   : tm_entry_id_make(primary->source_id, tm_entry_id_hash(primary->source_id, key),
                                      primary->first_seen_utc, host);
    free(host);
    free(computed);
    return id;
}

uint64_t tm_entry_id_hash(const char *source_id, const char *key)
{
    const char *source = source_id != NULL ? source_id : "";
    uint64_t h = tm_hash_fnv1a64(TM_HASH_FNV1A64_INIT, source, strlen(source));
    h = tm_hash_fnv1a64(h, "\n", 1);
    return tm_hash_fnv1a64(h, key != NULL ? key : "", key != NULL ? strlen(key) : 0);
}

char *tm_entry_id_make(const char *source_id, uint64_t h, int64_t first_seen_utc, const char *host)
{
    const char *source = source_id != NULL ? source_id : "";
    static const char hex[] = "0123456789ABCDEF", lower[] = "0123456789abcdef";

    /* The day of first_seen_utc, "1970-01-01" when it has none or no
     * four-digit year; written by hand, as the date is (a cold merge makes
     * one id a story, 200,000 of them at 10,000 sources). */
    char date[TM_DATE_RFC3339_LEN] = "1970-01-01";
    if (first_seen_utc != TM_TIME_NONE && tm_date_format_rfc3339(first_seen_utc, date) == 0)
        date[10] = '\0';

    size_t host_len = strlen(host);
    size_t cap = strlen("tag:") + host_len + 1 + 10 + 1 + 3 * strlen(source) + 1 + 16 + 1;
    char *id = malloc(cap);
    if (id == NULL)
        return NULL;
    size_t w = 0;
    memcpy(id + w, "tag:", 4);
    w += 4;
    memcpy(id + w, host, host_len);
    w += host_len;
    id[w++] = ',';
    memcpy(id + w, date, 10);
    w += 10;
    id[w++] = ':';
    for (const char *p = source; *p != '\0'; p++) {
        int c = (unsigned char)*p;
        if (is_unreserved(c)) {
            id[w++] = (char)c;
        } else {
            id[w++] = '%';
            id[w++] = hex[c >> 4];
            id[w++] = hex[c & 15];
        }
    }
    id[w++] = '/';
    for (int i = 15; i >= 0; i--, h >>= 4)
        id[w + (size_t)i] = lower[h & 15];
    id[w + 16] = '\0';
    return id;
}
