/* libFuzzer target for the HTML sanitiser and the text functions
 * (src/sanitize.c, src/text.c): every input is sanitised against a fixed
 * base, with and without a size bound, and turned into plain text. The
 * sanitised HTML must be valid UTF-8, never hold "<script" in any case, and
 * every tag in it must carry only allowed attributes, with URL values that
 * are http(s), mailto or data:image/ (so no "javascript:" URL: the words may
 * still appear as text, escaped, which is harmless); plain text must be valid UTF-8 and already
 * collapsed and in NFC (collapsing it again changes nothing). The input is
 * also decoded as windows-1258 and normalised, and resolved as a URL. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tinmoi/sanitize.h"
#include "tinmoi/text.h"

#define FUZZ_BASE "https://example.vn/tin/bai.html"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay != '\0'; hay++) {
        size_t i = 0;
        while (i < n && hay[i] != '\0' && tolower((unsigned char)hay[i]) == needle[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static bool starts_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* The sanitiser writes tags in one regular form, `<name( attr="value")*>`
 * or `</name>`, and escapes every '<' of text, so each '<' in its output
 * opens a tag it wrote. Each tag is checked: only allowed attribute names,
 * and URL values that are http(s), mailto or an inline raster image. */
static void check_tag(const char *p, const char **end)
{
    p++; /* '<' */
    if (*p == '/')
        p++;
    while (*p >= 'a' && *p <= 'z')
        p++;
    while (*p >= '1' && *p <= '6')
        p++;
    while (*p == ' ') {
        static const char *const names[] = {"href",   "title",   "src",     "alt",  "width",
                                            "height", "colspan", "rowspan", "cite", "start"};
        const char *name = ++p;
        while (*p >= 'a' && *p <= 'z')
            p++;
        size_t nlen = (size_t)(p - name);
        bool known = false;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            known |= strlen(names[i]) == nlen && memcmp(names[i], name, nlen) == 0;
        if (!known || p[0] != '=' || p[1] != '"')
            abort();
        const char *value = p + 2;
        const char *close = strchr(value, '"');
        if (close == NULL)
            abort();
        bool is_url = (nlen == 4 && memcmp(name, "href", 4) == 0) ||
                      (nlen == 3 && memcmp(name, "src", 3) == 0) ||
                      (nlen == 4 && memcmp(name, "cite", 4) == 0);
        if (is_url && !starts_ci(value, "http://") && !starts_ci(value, "https://") &&
            !starts_ci(value, "mailto:") && !starts_ci(value, "data:image/"))
            abort();
        for (const char *c = value; c < close; c++)
            if (*c == '<' || *c == '>')
                abort();
        p = close + 1;
    }
    if (*p != '>')
        abort();
    *end = p + 1;
}

/* Valid UTF-8, never "<script" in any case, and every tag well formed. */
static void check_html(char *out)
{
    if (out == NULL)
        return;
    if (!tm_utf8_valid(out, strlen(out)) || contains_ci(out, "<script"))
        abort();
    const char *p = out;
    while ((p = strchr(p, '<')) != NULL)
        check_tag(p, &p);
    if (strchr(out, '>') != NULL) {
        /* A '>' outside a tag would be unescaped text. */
        const char *q = out;
        while ((q = strchr(q, '>')) != NULL) {
            const char *lt = q;
            while (lt > out && *lt != '<')
                lt--;
            if (*lt != '<')
                abort();
            q++;
        }
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bool oom = false, truncated = false;

    check_html(tm_html_sanitize(s, size, FUZZ_BASE, &oom));
    check_html(tm_html_sanitize_limit(s, size, FUZZ_BASE, size / 2 + 1, &truncated, &oom));

    char *plain = tm_text_plain(s, size, &oom);
    if (plain != NULL) {
        size_t len = strlen(plain);
        if (!tm_utf8_valid(plain, len) || len == 0)
            abort();
        char *again = tm_text_collapse(plain, len, &oom);
        if (again == NULL || strcmp(again, plain) != 0)
            abort();
        free(again);
        if (tm_text_truncate(plain, len / 2) && !tm_utf8_valid(plain, strlen(plain)))
            abort();
        free(plain);
    }

    char *dec = tm_text_from_codepage(s, size, 1258);
    if (dec == NULL || !tm_utf8_valid(dec, strlen(dec)))
        abort();
    char *nfc = tm_text_nfc(dec, strlen(dec));
    if (nfc == NULL || !tm_utf8_valid(nfc, strlen(nfc)))
        abort();
    free(nfc);
    free(dec);

    /* As a URL: whatever comes back is absolute and free of spaces,
     * controls and raw non-ASCII (all percent-encoded). */
    char *ref = malloc(size + 1);
    if (ref == NULL)
        return 0;
    memcpy(ref, data, size);
    ref[size] = '\0';
    char *urls[2] = {tm_url_resolve(FUZZ_BASE, ref), tm_url_resolve(ref, "x/../y?q#f")};
    for (int i = 0; i < 2; i++) {
        if (urls[i] == NULL)
            continue;
        if (strchr(urls[i], ':') == NULL)
            abort();
        for (const unsigned char *p = (const unsigned char *)urls[i]; *p; p++)
            if (*p <= 0x20 || *p >= 0x7F)
                abort();
        free(urls[i]);
    }
    free(ref);
    return 0;
}
