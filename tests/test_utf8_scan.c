/* Tests for src/utf8_scan_int.h: the block-at-a-time run of plain UTF-8
 * must end exactly where the simple per-character loop ends, and count the
 * same characters, wherever a character or a stop byte falls against the
 * 16-byte blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "utf8_scan_int.h"
#include "xorshift.h"

/* The sets decode.c, sanitize.c and text.c use (text state; text writer;
 * collapsing text), from the same definitions. */
static const struct tm_utf8_plain decoder_set = TM_UTF8_PLAIN_XML('<', '&', '<', '&');
static const struct tm_utf8_plain sanitizer_set = TM_UTF8_PLAIN_VI(0xC2, '&', '<', '>', '"');
static const struct tm_utf8_plain text_set = TM_UTF8_PLAIN_VI(0xC3, ' ', '\t', '\n', '\r');

/* Compares both forms from every start index of s[0..n). */
static void check_all_starts(const struct tm_utf8_plain *k, const unsigned char *s, size_t n)
{
    for (size_t j = 0; j <= n; j++) {
        bool m_fast = false, m_simple = false;
        size_t fast = tm_utf8_plain_run(k, s, j, n, &m_fast);
        size_t simple = tm_utf8_plain_run_simple(k, s, j, n, &m_simple);
        if (fast != simple || m_fast != m_simple)
            fail_msg("start %zu of %zu: block form %zu (%d), simple %zu (%d)", j, n, fast, m_fast,
                     simple, m_simple);
    }
}

static void check_both_sets(const unsigned char *s, size_t n)
{
    check_all_starts(&decoder_set, s, n);
    check_all_starts(&sanitizer_set, s, n);
    check_all_starts(&text_set, s, n);
}

/* Pieces that matter to one set or the other. */
static const char *const pieces[] = {
    /* plain to both sets */
    "a",
    "Z",
    " ",
    "\t",
    "\n",
    "\r",
    "\x7f",
    "\xc3\xa1",
    "\xc4\x91",
    "\xc6\xb0",
    "\xcb\x86",
    "\xe1\xbb\x87",
    "\xe1\xba\xa1",
    "\xe1\xb8\x80",
    /* plain to the decoder's set only */
    "\xcc\x81",
    "\xdf\xbf",
    "\xe1\x80\x80",
    "\xe2\x80\x93",
    "\xec\x9c\x84",
    "\xee\x80\x80",
    /* stops, and what needs a closer look */
    "<",
    "&",
    ">",
    "\"",
    "\x27",
    "\x01",
    "\x1f",
    "\xe0\xa4\x85",
    "\xed\x9f\xbf",
    "\xef\xbf\xbd",
    "\xef\xbf\xbe",
    "\xf0\x9f\x98\x80",
    "\xc3",
    "\xe1\xbb",
    "\x80",
    "\xbf",
    "\xc0\xaf",
    "\xc1\x81",
    "\xf5",
    "\xff",
    "\xe1\x41\x80",
    "\xc3\xc3",
};

static void test_random_mixes(void **state)
{
    (void)state;
    uint32_t seed = 2463534242u;
    unsigned char buf[96];
    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        /* Mostly text that runs on, with a rarer piece that stops it. */
        while (n < sizeof buf - 4) {
            (void)xorshift32(&seed);
            size_t npieces = sizeof pieces / sizeof pieces[0];
            size_t pick = (seed >> 8) % 16 < 14 ? (seed >> 12) % 20 : (seed >> 12) % npieces;
            size_t len = strlen(pieces[pick]);
            if (n + len > sizeof buf)
                break;
            memcpy(buf + n, pieces[pick], len);
            n += len;
            if ((seed & 63) == 0)
                break;
        }
        check_both_sets(buf, n);
    }
}

/* A character of each length at every offset around the block edges, in
 * ASCII, then cut short by the end of the input. */
static void test_straddling_blocks(void **state)
{
    (void)state;
    static const char *const chars[] = {"\xc6\xb0", "\xe1\xbb\x87", "\xe2\x80\x93",
                                        "\xf0\x9f\x98\x80"};
    unsigned char buf[64];
    for (size_t c = 0; c < sizeof chars / sizeof chars[0]; c++) {
        size_t len = strlen(chars[c]);
        for (size_t off = 0; off + len <= 40; off++) {
            memset(buf, 'x', sizeof buf);
            memcpy(buf + off, chars[c], len);
            for (size_t n = off; n <= 40; n++)
                check_both_sets(buf, n);
            /* Followed by a stop byte, a control, a lone continuation. */
            buf[off + len] = '<';
            check_both_sets(buf, 40);
            buf[off + len] = '\x02';
            check_both_sets(buf, 40);
            buf[off + len] = '\x80';
            check_both_sets(buf, 40);
        }
    }
}

static void test_known_ends(void **state)
{
    (void)state;
    bool m = false;
    /* 7, 8, 15, 16 and 17 plain bytes then a stop. */
    const char *s = "0123456789abcdef0123456789abcdef<";
    for (size_t n = 7; n <= 17; n++) {
        char b[40];
        memcpy(b, s, n);
        b[n] = '&';
        memset(b + n + 1, 'y', sizeof b - n - 1);
        m = false;
        assert_int_equal(tm_utf8_plain_run(&decoder_set, (const unsigned char *)b, 0, sizeof b, &m),
                         n);
        assert_false(m);
    }
    /* Vietnamese runs on through a block edge; a dash stops the sanitiser's set only. */
    const char *vi = "Thi\xe1\xbb\x87t h\xe1\xba\xa1i do m\xc6\xb0\xe1\xbb\x9di \xe2\x80\x93 x";
    size_t n = strlen(vi);
    m = false;
    assert_int_equal(tm_utf8_plain_run(&decoder_set, (const unsigned char *)vi, 0, n, &m), n);
    assert_true(m);
    m = false;
    size_t dash = (size_t)(strstr(vi, "\xe2\x80\x93") - vi);
    assert_int_equal(tm_utf8_plain_run(&sanitizer_set, (const unsigned char *)vi, 0, n, &m), dash);
    assert_true(m);
    /* Invalid UTF-8 stops both: an overlong, a surrogate, a cut sequence. */
    const char *bad[] = {"abcdefghijklmnopq\xc0\xafxxxxxxxxxxxxxxxx",
                         "abcdefghijklmnopq\xed\xa0\x80xxxxxxxxxxxxxxxx",
                         "abcdefghijklmnopq\xe1\xbb\x61xxxxxxxxxxxxxxxx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = false;
        assert_int_equal(
            tm_utf8_plain_run(&decoder_set, (const unsigned char *)bad[i], 0, strlen(bad[i]), &m),
            17);
    }
}

/* Long runs, where the 32-byte form takes over (when the processor has it):
 * a break of each kind at every position of a run of 200 bytes, read from
 * many starts; the wide form on its own must stop at the same byte or
 * leave fewer than 32 to its caller. */
static void test_long_runs(void **state)
{
    (void)state;
    static const char *const plain[] = {
        "a", " ", "\xc3\xa1", "\xc6\xb0", "\xe1\xbb\x87", "\xe1\xba\xa1", "\n", "Z"};
    static const char *const breaks[] = {"<",    "&",    "\x01",         "\xe2\x80\x93",
                                         "\xc3", "\x80", "\xed\xa0\x80", "\xe1\x41"};
    unsigned char buf[240];
    uint32_t seed = 1234567u;
    size_t n = 0;
    while (n < 200) {
        const char *piece = plain[(xorshift32(&seed) >> 16) % 8];
        memcpy(buf + n, piece, strlen(piece));
        n += strlen(piece);
    }
    unsigned char doc[260];
    for (size_t b = 0; b < sizeof breaks / sizeof breaks[0]; b++) {
        for (size_t at = 0; at <= n; at++) {
            size_t bl = strlen(breaks[b]);
            memcpy(doc, buf, at);
            memcpy(doc + at, breaks[b], bl);
            memcpy(doc + at + bl, buf + at, n - at);
            size_t len = n + bl;
            check_both_sets(doc, len);
#if TM_UTF8_WIDE
            if (tm_utf8_wide_supported()) {
                for (size_t j = 0; j < 40; j++) {
                    bool m1 = false, m2 = false;
                    size_t simple = tm_utf8_plain_run_simple(&decoder_set, doc, j, len, &m1);
                    size_t wide = tm_utf8_plain_run_wide(&decoder_set, doc, j, len, &m2);
                    if (!(wide == simple || (wide < simple && len - wide < 32)) ||
                        (wide == simple && m1 != m2))
                        fail_msg("break %zu at %zu, start %zu: wide %zu, simple %zu", b, at, j,
                                 wide, simple);
                }
            }
#endif
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_mixes),
        cmocka_unit_test(test_straddling_blocks),
        cmocka_unit_test(test_known_ends),
        cmocka_unit_test(test_long_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
