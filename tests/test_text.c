/* Tests for src/text.c and src/entities.c: what a reader of the published
 * feeds would see in titles and text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tinmoi/error.h"
#include "tinmoi/text.h"
#include "text_int.h"
#include "xorshift.h"

/* Asserts that f(s) returns `want` (NULL allowed) and frees the result. */
static void check_plain(const char *s, const char *want)
{
    bool oom = true;
    char *got = tm_text_plain(s, strlen(s), &oom);
    assert_false(oom);
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void check_collapse(const char *s, const char *want)
{
    bool oom = true;
    char *got = tm_text_collapse(s, strlen(s), &oom);
    assert_false(oom);
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void check_nfc(const char *s, size_t len, const char *want)
{
    char *got = tm_text_nfc(s, len);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_nfc_vietnamese(void **state)
{
    (void)state;
    /* NFD as some CMSs send it: e + circumflex + acute, e + circumflex + dot. */
    const char *nfd = "Tie\xcc\x82\xcc\x81ng Vie\xcc\x82\xcc\xa3t";
    check_nfc(nfd, strlen(nfd), "Tiếng Việt");
    /* Half-composed: ê + combining acute. */
    const char *half = "Tiê\xcc\x81ng Viê\xcc\xa3t";
    check_nfc(half, strlen(half), "Tiếng Việt");
    /* Already NFC (the fast path) is unchanged. */
    check_nfc("Chuyển đổi số", strlen("Chuyển đổi số"), "Chuyển đổi số");
    /* A singleton: OHM SIGN becomes GREEK CAPITAL OMEGA. */
    check_nfc("10 \xe2\x84\xa6", 6, "10 \xce\xa9");
    /* Order of marks: dot below (ccc 220) before circumflex (ccc 230). */
    const char *swapped = "e\xcc\xa3\xcc\x82";
    check_nfc(swapped, strlen(swapped), "ệ");
}

static void test_nfc_invalid(void **state)
{
    (void)state;
    /* A lone continuation byte, a truncated sequence, an overlong '/', a
     * surrogate: each becomes one U+FFFD. */
    check_nfc("a\x80z", 3, "a\xef\xbf\xbdz");
    check_nfc("a\xe1\xbbz", 4, "a\xef\xbf\xbdz");
    check_nfc("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");
    check_nfc("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    /* XML-illegal controls are replaced; tab and newline stay. */
    check_nfc("a\x01\tb\n", 5, "a\xef\xbf\xbd\tb\n");
    /* An embedded NUL does not cut the string short. */
    check_nfc("a\0b", 3,
              "a\xef\xbf\xbd"
              "b");
    check_nfc("", 0, "");
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(tm_utf8_valid("", 0));
    assert_true(tm_utf8_valid("Việt Nam", strlen("Việt Nam")));
    assert_true(tm_utf8_valid("\xf0\x9f\x98\x80", 4));  /* U+1F600 */
    assert_true(tm_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_false(tm_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(tm_utf8_valid("\xc1\xbf", 2));         /* overlong */
    assert_false(tm_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(tm_utf8_valid("\xed\xb0\x80", 3));     /* surrogate */
    assert_false(tm_utf8_valid("Vi\xe1\xbb", 4));       /* cut short */
    assert_false(tm_utf8_valid("caf\xe9", 4));          /* Latin-1 */
    assert_true(tm_utf8_valid("caf\xe9", 3));           /* length honoured */
}

static void test_boundary_and_truncate(void **state)
{
    (void)state;
    const char *s = "Việt"; /* V i ệ(3 bytes) t */
    size_t len = strlen(s);
    assert_int_equal(tm_utf8_boundary(s, len, 100), len);
    assert_int_equal(tm_utf8_boundary(s, len, 2), 2);
    assert_int_equal(tm_utf8_boundary(s, len, 3), 2);
    assert_int_equal(tm_utf8_boundary(s, len, 4), 2);
    assert_int_equal(tm_utf8_boundary(s, len, 5), 5);
    assert_int_equal(tm_utf8_boundary(s, len, 0), 0);

    /* Every cut of a Vietnamese title leaves valid UTF-8. */
    const char *title = "Kế hoạch chuyển đổi số ngành xây dựng 😀";
    for (size_t max = 0; max <= strlen(title) + 1; max++) {
        char *t = strdup(title);
        assert_non_null(t);
        bool cut = tm_text_truncate(t, max);
        assert_int_equal(cut, max < strlen(title));
        assert_true(strlen(t) <= max || !cut);
        assert_true(tm_utf8_valid(t, strlen(t)));
        assert_memory_equal(t, title, strlen(t));
        free(t);
    }

    /* A letter keeps its combining marks (NFD text). */
    char nfd[] = "ab"
                 "e\xcc\x82\xcc\x81"
                 "c";
    assert_true(tm_text_truncate(nfd, 4));
    assert_string_equal(nfd, "ab");
    char nfd2[] = "ab"
                  "e\xcc\x82\xcc\x81"
                  "c";
    assert_true(tm_text_truncate(nfd2, 7));
    assert_string_equal(nfd2, "ab"
                              "e\xcc\x82\xcc\x81");
    char shortstr[] = "abc";
    assert_false(tm_text_truncate(shortstr, 3));
    assert_string_equal(shortstr, "abc");
}

static void check_codepage(const char *in, size_t len, int cp, const char *want_nfc)
{
    char *dec = tm_text_from_codepage(in, len, cp);
    assert_non_null(dec);
    assert_true(tm_utf8_valid(dec, strlen(dec)));
    char *nfc = tm_text_nfc(dec, strlen(dec));
    assert_non_null(nfc);
    assert_string_equal(nfc, want_nfc);
    free(nfc);
    free(dec);
}

static void test_cp1252(void **state)
{
    (void)state;
    /* Smart quotes, dashes, ellipsis, euro and trade mark. */
    const char in[] = "\x93Hello\x94 \x91x\x92 \x96 \x97 \x85 \x80 \x99 caf\xe9 \xa0!";
    check_codepage(in, sizeof in - 1, 1252,
                   "\xe2\x80\x9cHello\xe2\x80\x9d \xe2\x80\x98x\xe2\x80\x99 \xe2\x80\x93 "
                   "\xe2\x80\x94 \xe2\x80\xa6 \xe2\x82\xac \xe2\x84\xa2 caf\xc3\xa9 \xc2\xa0!");
    /* The holes map to C1 controls as browsers do; never dropped. */
    char *d = tm_text_from_codepage("\x81\x8d", 2, 1252);
    assert_non_null(d);
    assert_string_equal(d, "\xc2\x81\xc2\x8d");
    free(d);
    /* Every byte decodes to valid UTF-8. */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)(i == 0 ? ' ' : i);
    for (int cp = 1252; cp <= 1258; cp += 6) {
        d = tm_text_from_codepage(all, sizeof all, cp);
        assert_non_null(d);
        assert_true(tm_utf8_valid(d, strlen(d)));
        free(d);
    }
    assert_null(tm_text_from_codepage("x", 1, 1251));
}

static void test_cp1258(void **state)
{
    (void)state;
    /* "Tiếng Việt" in windows-1258: ê is 0xEA, the acute 0xEC, the dot
     * below 0xF2. */
    const char in[] = "Ti\xea\xecng Vi\xea\xf2t";
    check_codepage(in, sizeof in - 1, 1258, "Tiếng Việt");
    /* đ, ơ, ư, ă and the other tone marks: grave 0xCC, hook 0xD2, tilde 0xDE. */
    const char in2[] = "\xf0\xf5\xfd\xe3 a\xcc a\xd2 a\xde \xa9 \xfe";
    check_codepage(in2, sizeof in2 - 1, 1258, "đơưă à ả ã © ₫");
    /* "Chuyển đổi số" */
    const char in3[] = "Chuy\xea\xd2n \xf0\xf4\xd2i s\xf4\xec";
    check_codepage(in3, sizeof in3 - 1, 1258, "Chuyển đổi số");
}

static void test_entity_lookup(void **state)
{
    (void)state;
    char out[TM_ENTITY_MAX_UTF8];
    assert_int_equal(tm_entity_lookup("nbsp", 4, out), 2);
    assert_string_equal(out, "\xc2\xa0");
    assert_int_equal(tm_entity_lookup("agrave", 6, out), 2);
    assert_string_equal(out, "à");
    assert_int_equal(tm_entity_lookup("Ocirc", 5, out), 2);
    assert_string_equal(out, "Ô");
    assert_int_equal(tm_entity_lookup("hellip", 6, out), 3);
    assert_string_equal(out, "…");
    assert_int_equal(tm_entity_lookup("amp", 3, out), 1);
    assert_string_equal(out, "&");
    /* Two code points. */
    assert_int_equal(tm_entity_lookup("NotEqualTilde", 13, out), 5);
    assert_string_equal(out, "\xe2\x89\x82\xcc\xb8");
    /* Outside the BMP. */
    assert_int_equal(tm_entity_lookup("Afr", 3, out), 4);
    assert_string_equal(out, "\xf0\x9d\x94\x84");
    /* First and last of the table, and the longest name. */
    assert_int_equal(tm_entity_lookup("AElig", 5, out), 2);
    assert_int_equal(tm_entity_lookup("zwnj", 4, out), 3);
    assert_int_equal(tm_entity_lookup("CounterClockwiseContourIntegral", 31, out), 3);
    assert_string_equal(out, "∳");
    /* A trailing ';' is tolerated; the length is honoured. */
    assert_int_equal(tm_entity_lookup("nbsp;", 5, out), 2);
    assert_int_equal(tm_entity_lookup("nbspxyz", 4, out), 2);
    /* Case matters; unknown names and empty ones are 0. */
    assert_int_equal(tm_entity_lookup("NBSP", 4, out), 0);
    assert_int_equal(tm_entity_lookup("nosuch", 6, out), 0);
    assert_int_equal(tm_entity_lookup("", 0, out), 0);
    assert_int_equal(tm_entity_lookup("a", 1, out), 0);
}

static void test_collapse(void **state)
{
    (void)state;
    check_collapse("  Tin\t\n mới \r\n nhất  ", "Tin mới nhất");
    /* NBSP, ideographic, thin, narrow no-break spaces and line separator. */
    check_collapse("\xc2\xa0 a\xe2\x80\x89"
                   "b\xe3\x80\x80"
                   "c\xe2\x80\xaf"
                   "d\xe2\x80\xa8 ",
                   "a b c d");
    check_collapse(" \n\t\xc2\xa0 ", NULL);
    check_collapse("", NULL);
    /* Markup and entities are left alone. */
    check_collapse("a <b> &amp; c", "a <b> &amp; c");
    /* NFC too. */
    check_collapse("  Tie\xcc\x82\xcc\x81ng  ", "Tiếng");
}

/* The simple form of collapsing: code point by code point, white space
 * folded to one ' ' between visible characters, invalid UTF-8 and illegal
 * characters as U+FFFD. The pieces used below are all NFC already. */
static char *collapse_simple(const char *s, size_t len, bool fold)
{
    char *out = malloc(3 * len + 1);
    assert_non_null(out);
    size_t o = 0, i = 0;
    bool pending = false;
    while (i < len) {
        int32_t cp;
        size_t n = tm_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (fold && cp >= 0 && tm_text_cp_space(cp)) {
            pending = o > 0;
        } else {
            if (pending)
                out[o++] = ' ';
            pending = false;
            if (cp < 0 || tm_text_cp_illegal(cp)) {
                memcpy(out + o, TM_TEXT_REPLACEMENT, 3);
                o += 3;
            } else {
                memcpy(out + o, s + i, n);
                o += n;
            }
        }
        i += n;
    }
    out[o] = '\0';
    return out;
}

/* tm_text_collapse and tm_text_nfc take plain runs (and single spaces
 * inside them) sixteen bytes at a time: the same text as the simple form
 * wherever white space, other spaces, controls and invalid bytes fall
 * against the blocks. */
static void test_collapse_blocks(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "a",
        "Z",
        "9",
        " ",
        " ",
        " ",
        "\t",
        "\n",
        "\r",
        "\xc3\xa1",
        "\xc6\xb0",
        "\xc4\x91",
        "\xe1\xbb\x87",
        "\xe1\xba\xa1",
        "\xc2\xa0",
        "\xc2\x85",
        "\xe1\x9a\x80",
        "\xe2\x80\x83",
        "\xe2\x80\x93",
        "\xe3\x80\x80",
        "\x01",
        "\x7f",
        "\xc3",
        "\x80",
        "\xe1\xbb",
        "\xef\xbf\xbe",
        "\xf0\x9f\x98\x80",
    };
    uint32_t seed = 88172645u;
    char buf[80];
    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        while (n < sizeof buf - 4) {
            (void)xorshift32(&seed);
            size_t np = sizeof pieces / sizeof pieces[0];
            size_t pick = (seed >> 8) % 4 != 0 ? (seed >> 12) % 14 : (seed >> 12) % np;
            if (round % 2 == 0) {
                /* Words and single spaces only, mostly: what titles are. */
                pick = (seed >> 12) % 11;
                pick = pick < 6 ? pick : pick + 3;
            }
            size_t pl = strlen(pieces[pick]);
            memcpy(buf + n, pieces[pick], pl);
            n += pl;
            if ((seed & 31) == 0)
                break;
        }
        for (int fold = 0; fold < 2; fold++) {
            bool oom = false;
            char *got = fold ? tm_text_collapse(buf, n, &oom) : tm_text_nfc(buf, n);
            char *want = collapse_simple(buf, n, fold);
            if (want[0] == '\0') {
                assert_null(got);
            } else {
                assert_non_null(got);
                if (strcmp(got, want) != 0)
                    fail_msg("fold %d, %zu bytes: got \"%s\", want \"%s\"", fold, n, got, want);
            }
            free(got);
            free(want);
        }
    }
}

static void test_plain_markup(void **state)
{
    (void)state;
    check_plain("<b>Tin</b> <i>mới</i>", "Tin mới");
    check_plain("a < b and c > d", "a < b and c > d");
    check_plain("&lt;b&gt;not a tag&lt;/b&gt;", "<b>not a tag</b>");
    check_plain("line<br>break<br/>here<p>para</p>end", "line break here para end");
    check_plain("Ti<b>ế</b>ng", "Tiếng");
    check_plain("<div>a</div><div>b</div>", "a b");
    check_plain("x<script>alert('<b>')</script>y<style>p{}</style>z", "xyz");
    check_plain("x<SCRIPT>a</SCRIPT >y", "xy");
    check_plain("a<!-- <b>comment</b> -->b", "ab");
    check_plain("<![CDATA[<raw> &amp;]]> tail", "<raw> &amp; tail");
    check_plain("<a href=\"x>y\" title='>'>link</a>", "link");
    check_plain("<?php echo 1 ?>ok", "ok");
    check_plain("a <b", "a <b");
    check_plain("1<2", "1<2");
    check_plain("</>", "</>");
    check_plain("<p></p><br>", NULL);
    check_plain("  ", NULL);
    check_plain("<b>Tiê\xcc\x81ng</b>\xc2\xa0 Việt", "Tiếng Việt");
}

static void test_plain_entities(void **state)
{
    (void)state;
    check_plain("&#7901;", "ờ");
    check_plain("&#x1EDD;&#X1edd;", "ờờ");
    check_plain("Tr&agrave; My", "Trà My");
    check_plain("&Ocirc;ng &amp; b&agrave;", "Ông & bà");
    check_plain("a&nbsp;&nbsp;b", "a b");
    check_plain("&hellip;&mdash;&rsquo;", "…—’");
    check_plain("&NotEqualTilde;", "\xe2\x89\x82\xcc\xb8");
    /* Legacy names without ';', even glued to the next letters. */
    check_plain("&amp &copy2024 &notit;", "& ©2024 ¬it;");
    /* Not references. */
    check_plain("AT&T &nosuch; & &#; &#x;", "AT&T &nosuch; & &#; &#x;");
    /* Numeric edge cases: NUL, surrogate, too big become U+FFFD; 0x80-0x9F
     * are windows-1252. */
    check_plain("&#0;&#xD800;&#x110000;&#99999999999;",
                "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    check_plain("&#150;&#x93;", "–“");
    /* A reference to white space is white space. */
    check_plain("a&#32;&#160;&#x9;b", "a b");
    /* Double escaping is decoded once. */
    check_plain("&amp;lt;", "&lt;");
    /* A decomposed reference composes. */
    check_plain("Tie&#x302;&#x301;ng", "Tiếng");
}

static void test_plain_invalid_utf8(void **state)
{
    (void)state;
    check_plain("caf\xe9 <b>x</b>", "caf\xef\xbf\xbd x");
}

/* Tag soup with unbalanced quotes must stay linear: 200k '<a "' takes no
 * noticeable time and leaves valid text. */
static void test_plain_soup_linear(void **state)
{
    (void)state;
    size_t n = 200000;
    char *s = malloc(n * 4 + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * 4, "<a \"", 4);
    s[n * 4] = '\0';
    bool oom;
    char *got = tm_text_plain(s, n * 4, &oom);
    assert_false(oom);
    assert_non_null(got);
    assert_true(tm_utf8_valid(got, strlen(got)));
    free(got);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * 4, "<a'>", 4);
    got = tm_text_plain(s, n * 4, &oom);
    assert_false(oom);
    free(got);
    free(s);
}

static void test_escape_html(void **state)
{
    (void)state;
    struct tm_buf b;
    tm_buf_init(&b, 128); /* room for one escaped copy (76 bytes), not two */
    const char *in = "Bộ TT&TT <b>\"tin\"</b> 'mới'";
    assert_int_equal(tm_text_escape_html(&b, in, strlen(in)), 0);
    assert_string_equal(b.data, "Bộ TT&amp;TT &lt;b&gt;&quot;tin&quot;&lt;/b&gt; &#39;mới&#39;");
    /* Past the buffer's limit nothing is silently cut: the append fails. */
    assert_int_equal(tm_text_escape_html(&b, in, strlen(in)), TM_ELIMIT);
    tm_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nfc_vietnamese),
        cmocka_unit_test(test_nfc_invalid),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_boundary_and_truncate),
        cmocka_unit_test(test_cp1252),
        cmocka_unit_test(test_cp1258),
        cmocka_unit_test(test_entity_lookup),
        cmocka_unit_test(test_collapse),
        cmocka_unit_test(test_collapse_blocks),
        cmocka_unit_test(test_plain_markup),
        cmocka_unit_test(test_plain_entities),
        cmocka_unit_test(test_plain_invalid_utf8),
        cmocka_unit_test(test_plain_soup_linear),
        cmocka_unit_test(test_escape_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
