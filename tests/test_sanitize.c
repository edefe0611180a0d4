/* Tests for src/sanitize.c: the HTML a feed reader or the portal would show
 * from a summary or content, and the links it would follow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tinmoi/sanitize.h"
#include "tinmoi/text.h"

#define BASE "https://example.vn/tin/bai.html"

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

/* Nothing that runs script may survive, whatever else comes out. */
static void assert_inert(const char *out)
{
    static const char *const bad[] = {
        "<script", "javascript:", "vbscript:", "onerror", "onload",     "onclick", "<iframe",
        "<svg",    "<style",      "style=",    "<object", "<embed",     "srcdoc",  "data:text",
        "<form",   "<meta",       "<link",     "<base",   "expression("};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (contains_ci(out, bad[i]))
            fail_msg("output holds %s: %s", bad[i], out);
}

static char *san(const char *in)
{
    bool oom = true;
    char *out = tm_html_sanitize(in, strlen(in), BASE, &oom);
    assert_false(oom);
    if (out != NULL) {
        assert_true(tm_utf8_valid(out, strlen(out)));
        assert_inert(out);
    }
    return out;
}

static void check(const char *in, const char *want)
{
    char *out = san(in);
    if (want == NULL) {
        if (out != NULL)
            fail_msg("expected NULL for %s, got %s", in, out);
        return;
    }
    if (out == NULL)
        fail_msg("expected %s for %s, got NULL", want, in);
    assert_string_equal(out, want);
    free(out);
}

static void test_allowed_kept(void **state)
{
    (void)state;
    check("<p>Tin <b>mới</b> <em>nhất</em></p>", "<p>Tin <b>mới</b> <em>nhất</em></p>");
    check("plain text", "plain text");
    check("a<br>b<br/>c<hr>", "a<br>b<br>c<hr>");
    check("<ul><li>1<li>2</ul>", "<ul><li>1</li><li>2</li></ul>");
    check("<table><tr><td colspan=\"2\" rowspan=3 width=5>a</td></tr></table>",
          "<table><tr><td colspan=\"2\" rowspan=\"3\">a</td></tr></table>");
    check("<ol start=\"3\" type=\"a\"><li>x</li></ol>", "<ol start=\"3\"><li>x</li></ol>");
    check("<abbr title=\"Ủy ban nhân dân\">UBND</abbr>",
          "<abbr title=\"Ủy ban nhân dân\">UBND</abbr>");
    check("<blockquote cite=\"/nguon\">q</blockquote>",
          "<blockquote cite=\"https://example.vn/nguon\">q</blockquote>");
    check("<pre>  a\n    b  </pre>", "<pre>  a\n    b  </pre>");
    check("<figure><img src=\"a.jpg\" alt=\"Ảnh\" width=\"600\" height=\"x\">"
          "<figcaption>Chú thích</figcaption></figure>",
          "<figure><img src=\"https://example.vn/tin/a.jpg\" alt=\"Ảnh\" width=\"600\">"
          "<figcaption>Chú thích</figcaption></figure>");
}

static void test_attributes_dropped(void **state)
{
    (void)state;
    check("<p class=\"x\" id=\"y\" style=\"color:red\" onclick=\"alert(1)\">t</p>", "<p>t</p>");
    check("<span data-x=1 lang=vi dir=rtl>t</span>", "<span>t</span>");
    check("<a href=\"/x\" target=\"_blank\" rel=\"x\" title=\"T\">l</a>",
          "<a href=\"https://example.vn/x\" title=\"T\">l</a>");
}

static void test_escaping(void **state)
{
    (void)state;
    check("a &lt; b &amp;&amp; c &gt; d", "a &lt; b &amp;&amp; c &gt; d");
    check("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;");
    check("<abbr title='a\"b&lt;c'>x</abbr>", "<abbr title=\"a&quot;b&lt;c\">x</abbr>");
    check("a < b", "a &lt; b");
    /* Quotes need no escape in text; with and without markup around. */
    check("He said \"hi\" > ok", "He said \"hi\" &gt; ok");
    check("<p>\"q\" > 'r'</p>", "<p>\"q\" &gt; 'r'</p>");
    check("  Tiê\xcc\x81ng  ", "Tiếng");
    check("Tr&agrave; &#7901; &nbsp;x", "Trà ờ \xc2\xa0x");
}

static void test_xss_cheat_sheet(void **state)
{
    (void)state;
    check("<img src=x onerror=alert(1)>", "<img src=\"https://example.vn/tin/x\">");
    check("<a href=\"javascript:alert(1)\">x</a>", "<a>x</a>");
    check("<a href=\" JaVaScRiPt:alert(1)\">x</a>", "<a>x</a>");
    check("<a href=\"jav&#x09;ascript:alert(1)\">x</a>", "<a>x</a>");
    check("<a href=\"jav&#x0A;ascript:alert(1)\">x</a>", "<a>x</a>");
    check(
        "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
        "<a>x</a>");
    /* HTML5-only references (libxml2 2.9 knows HTML 4's) read as browsers
     * read them. */
    check("<a href=\"&#x6A;avascript&colon;alert(1)\">x</a>", "<a>x</a>");
    check("<a href=\"java&Tab;script&colon;alert(1)\">x</a>", "<a>x</a>");
    check("<p>&bigstar; &NewLine;&colon;&rpar; &nosuch; &amp;colon;</p>",
          "<p>★ \n:) &amp;nosuch; &amp;colon;</p>");
    check("<a href=\"\x01javascript:alert(1)\">x</a>", "<a>x</a>");
    check("<a href=\"vbscript:msgbox(1)\">x</a>", "<a>x</a>");
    check("<a href=\"data:text/html,<script>alert(1)</script>\">x</a>", "<a>x</a>");
    check("<img src=\"javascript:alert(1)\">t", "t");
    check("<img src=\"data:image/svg+xml,<svg onload=alert(1)>\">t", "t");
    check("<svg onload=alert(1)><text>x</text></svg>", NULL);
    check("<svg><script>alert(1)</script></svg>ok", "ok");
    check("<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>ok", "ok");
    check("<iframe src=\"https://evil.example/\">fallback</iframe>ok", "ok");
    check("<style>body{background:url(javascript:alert(1))}</style>ok", "ok");
    check("<object data=\"x.swf\"><embed src=\"x.swf\"></object>ok", "ok");
    check("<SCRIPT>alert(1)</SCRIPT>ok", "ok");
    check("<ScRiPt SRC=//evil/x.js></sCrIpT>ok", "ok");
    check("<scr<script>ipt>alert(1)</script>", "ipt&gt;alert(1)");
    check("<script>alert(1)", NULL);
    check("<p>unclosed <b>bold <i>both", "<p>unclosed <b>bold <i>both</i></b></p>");
    check("<B>Upper</B> <IMG SRC=\"a.png\" ONERROR=\"x\">",
          "<b>Upper</b> <img src=\"https://example.vn/tin/a.png\">");
    check("<form action=\"/x\"><input value=\"v\"><button>b</button></form>ok", "ok");
    check("<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">ok", "ok");
    check("<base href=\"javascript:/\"><link rel=stylesheet href=x>ok", "ok");
    check("<noscript><p>n</p></noscript><template><p>t</p></template>ok", "ok");
    check("<div style=\"width:expression(alert(1))\">ok</div>", "<div>ok</div>");
    check("<!-- <script>alert(1)</script> -->ok<?php x ?>", "ok");
    check("<a href=\"https://example.vn/\" onmouseover=\"alert(1)\">x</a>",
          "<a href=\"https://example.vn/\">x</a>");
    check("<img src=\"x\" srcset=\"javascript:alert(1) 1x\">",
          "<img src=\"https://example.vn/tin/x\">");
    check("<textarea><script>alert(1)</script></textarea>ok", "ok");
    check("<title><script>alert(1)</script></title>ok", "ok");
    check("<xmp><script>alert(1)</script></xmp>", NULL);
}

/* A NUL inside a value is not the end of the input. */
static void test_nul_byte(void **state)
{
    (void)state;
    static const char in[] = "<a href=\"java\0script:alert(1)\">x</a>";
    bool oom;
    char *out = tm_html_sanitize(in, sizeof in - 1, BASE, &oom);
    assert_non_null(out);
    assert_inert(out);
    assert_non_null(strstr(out, ">x</a>"));
    free(out);
}

static void test_unknown_unwrapped(void **state)
{
    (void)state;
    check("<section><font color=red>a</font> <center>b</center></section>", "a b");
    check("<custom-tag><b>x</b></custom-tag>", "<b>x</b>");
    check("<html><body><p>x</p></body></html>", "<p>x</p>");
}

static void test_nothing_visible(void **state)
{
    (void)state;
    check("", NULL);
    check("   \n\t ", NULL);
    check("<p> </p><br><div>&nbsp;</div>", NULL);
    check("<p>\xc2\xa0 \xe3\x80\x80</p>", NULL);
    check("\xc2\xa0\xc3\xa9", "\xc2\xa0\xc3\xa9");
    check("\xe1\xbb\x9d", "\xe1\xbb\x9d");
    check("<script>x</script><style>y</style>", NULL);
    check("<img src=\"javascript:x\">", NULL);
    check("<img src=\"a.png\">", "<img src=\"https://example.vn/tin/a.png\">");
    check("  <p>x</p>\n", "<p>x</p>");
}

static void test_urls(void **state)
{
    (void)state;
    check("<a href=\"//cdn.example.vn/a\">x</a>", "<a href=\"https://cdn.example.vn/a\">x</a>");
    check("<a href=\"../x\">x</a>", "<a href=\"https://example.vn/x\">x</a>");
    check("<a href=\"?q=1\">x</a>", "<a href=\"https://example.vn/tin/bai.html?q=1\">x</a>");
    check("<a href=\"#f\">x</a>", "<a href=\"https://example.vn/tin/bai.html#f\">x</a>");
    check("<a href=\"mailto:toasoan@example.vn\">x</a>",
          "<a href=\"mailto:toasoan@example.vn\">x</a>");
    check("<img src=\"mailto:x@y\">t", "t");
    check("<a href=\"ftp://example.vn/f\">x</a>", "<a>x</a>");
    check("<a href=\"/tin tức/a&amp;b?x=1&y=2\">x</a>",
          "<a href=\"https://example.vn/tin%20t%E1%BB%A9c/a&amp;b?x=1&amp;y=2\">x</a>");
    check("<img src=\"DATA:image/PNG;base64,iVBORw0KGgo=\">",
          "<img src=\"DATA:image/PNG;base64,iVBORw0KGgo=\">");
    check("<img src=\"data:image/webp;base64,UklG\">", "<img src=\"data:image/webp;base64,UklG\">");
    check("<a href=\"data:image/png;base64,iVBO\">x</a>", "<a>x</a>");

    bool oom;
    char *out = tm_html_sanitize("<a href=\"/x\">x</a>", 18, NULL, &oom);
    assert_non_null(out);
    assert_string_equal(out, "<a>x</a>");
    free(out);
}

static void check_resolve(const char *base, const char *ref, const char *want)
{
    char *got = tm_url_resolve(base, ref);
    if (want == NULL) {
        if (got != NULL)
            fail_msg("expected NULL for %s + %s, got %s", base ? base : "(null)", ref, got);
        return;
    }
    if (got == NULL)
        fail_msg("expected %s for %s + %s, got NULL", want, base ? base : "(null)", ref);
    assert_string_equal(got, want);
    free(got);
}

static void test_url_resolve(void **state)
{
    (void)state;
    const char *b = "https://baochinhphu.vn/thoi-su/a/b.htm?p=1#top";
    check_resolve(b, "//cdn.example.vn/x.jpg", "https://cdn.example.vn/x.jpg");
    check_resolve(b, "../x", "https://baochinhphu.vn/thoi-su/x");
    check_resolve(b, "x", "https://baochinhphu.vn/thoi-su/a/x");
    check_resolve(b, "/x", "https://baochinhphu.vn/x");
    check_resolve(b, "?q", "https://baochinhphu.vn/thoi-su/a/b.htm?q");
    check_resolve(b, "#f", "https://baochinhphu.vn/thoi-su/a/b.htm?p=1#f");
    check_resolve(b, "http://other.vn/y", "http://other.vn/y");
    check_resolve(b, "  https://other.vn/y\n", "https://other.vn/y");
    check_resolve(b, "", "https://baochinhphu.vn/thoi-su/a/b.htm?p=1");
    check_resolve("https://example.vn", "x", "https://example.vn/x");
    check_resolve(NULL, "https://example.vn/a", "https://example.vn/a");
    check_resolve(NULL, "/relative", NULL);
    check_resolve("", "relative", NULL);
    check_resolve("not a url", "relative", NULL);
    check_resolve(NULL, "https:no-host", NULL);
    check_resolve(NULL, "http://[::1", NULL);
    check_resolve(NULL, "mailto:a@b.vn", "mailto:a@b.vn");
    check_resolve(b, "javascript:alert(1)", "javascript:alert(1)");

    char *h = tm_url_resolve_http(b, "javascript:alert(1)");
    assert_null(h);
    h = tm_url_resolve_http(b, "mailto:a@b.vn");
    assert_null(h);
    h = tm_url_resolve_http(b, "/ok");
    assert_non_null(h);
    assert_string_equal(h, "https://baochinhphu.vn/ok");
    free(h);
}

static void test_nfc_output(void **state)
{
    (void)state;
    check("<p>Tiê\xcc\x81ng Viê\xcc\xa3t</p>", "<p>Tiếng Việt</p>");
    check("<p>Tie&#x302;&#x301;ng</p>", "<p>Tiếng</p>");
    check("<abbr title=\"Vie\xcc\xa3\xcc\x82t\">x</abbr>", "<abbr title=\"Việt\">x</abbr>");
    /* Invalid UTF-8 becomes U+FFFD and does not switch the decoding. */
    check("<p>caf\xe9 Việt</p>", "<p>caf\xef\xbf\xbd Việt</p>");
    check("<meta charset=\"iso-8859-1\"><p>Việt</p>", "<p>Việt</p>");
}

static void test_limit(void **state)
{
    (void)state;
    const char *in = "<p>Tin <b>mới nhất</b> hôm nay</p><p>second</p>";
    bool trunc, oom;
    char *full = tm_html_sanitize_limit(in, strlen(in), BASE, 0, &trunc, &oom);
    assert_non_null(full);
    assert_false(trunc);
    size_t full_len = strlen(full);
    for (size_t max = 1; max <= full_len + 2; max++) {
        char *out = tm_html_sanitize_limit(in, strlen(in), BASE, max, &trunc, &oom);
        assert_false(oom);
        if (out == NULL)
            continue; /* nothing visible fit */
        assert_true(strlen(out) <= max);
        assert_true(tm_utf8_valid(out, strlen(out)));
        assert_int_equal(trunc, max < full_len);
        /* Every element opened is closed: the tags balance. */
        size_t opens = 0, closes = 0;
        for (const char *p = out; *p; p++)
            if (*p == '<' && p[1] == '/')
                closes++;
            else if (*p == '<' && strncmp(p, "<br>", 4) != 0 && strncmp(p, "<hr>", 4) != 0 &&
                     strncmp(p, "<img", 4) != 0)
                opens++;
        assert_int_equal(opens, closes);
        free(out);
    }
    char *out = tm_html_sanitize_limit(in, strlen(in), BASE, 24, &trunc, &oom);
    assert_non_null(out);
    assert_string_equal(out, "<p>Tin <b>mới </b></p>");
    assert_true(trunc);
    free(out);
    free(full);
}

/* Deep tag soup neither overflows the stack nor loses text: elements past
 * the depth limit (256) are unwrapped, and every one opened is closed. */
static void check_depth(size_t depth, size_t divs_kept)
{
    char *s = malloc(depth * 5 + 7);
    assert_non_null(s);
    memcpy(s, "lead ", 5);
    for (size_t i = 0; i < depth; i++)
        memcpy(s + 5 + i * 5, "<div>", 5);
    s[5 + depth * 5] = 'x';
    s[5 + depth * 5 + 1] = '\0';
    bool oom;
    char *out = tm_html_sanitize(s, strlen(s), BASE, &oom);
    assert_non_null(out);
    assert_memory_equal(out, "lead <div>", 10);
    size_t opens = 0, closes = 0;
    for (const char *p = out; (p = strstr(p, "<div>")) != NULL; p++)
        opens++;
    for (const char *p = out; (p = strstr(p, "</div>")) != NULL; p++)
        closes++;
    assert_int_equal(opens, divs_kept);
    assert_int_equal(closes, divs_kept);
    const char *x = strchr(out, 'x');
    assert_non_null(x);
    assert_memory_equal(x - 5, "<div>x</div>", 12);
    free(out);
    free(s);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    check_depth(200, 200);
    check_depth(20000, 256);
}

/* Text made HTML in one pass equals the sanitiser's reading of the text
 * escaped (the two-pass way it replaces), byte for byte, NULL alike. */
static void test_html_from_text(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "Tin mới nhất",
        "  Kế hoạch \"chuyển đổi số\" & 'xây dựng' <2022>  ",
        "a < b > c && d;",
        "&nbsp; &amp; &#39; &lt;p&gt; as written",
        "Thanh Ho\xcc\x81"
        "a: NFD becomes NFC",          /* combining acute */
        "bad \xff\xfe bytes \xc3 end", /* invalid UTF-8 */
        "control \x01\x02 characters\x7f",
        "   \t\n  ",        /* nothing visible */
        "\xc2\xa0\xc2\xa0", /* NBSP only */
        "\xc2\xa0 x \xc2\xa0",
        "line\r\nbreaks\rkept",
        "x",
        "",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *t = texts[i];
        struct tm_buf esc;
        tm_buf_init(&esc, 0);
        assert_int_equal(tm_text_escape_html(&esc, t, strlen(t)), 0);
        bool oom = true, oom2 = true;
        char *want = tm_html_sanitize(esc.data != NULL ? esc.data : "", esc.len, NULL, &oom);
        char *got = tm_html_from_text(t, strlen(t), &oom2);
        assert_false(oom);
        assert_false(oom2);
        if (want == NULL)
            assert_null(got);
        else
            assert_string_equal(got, want);
        free(want);
        free(got);
        tm_buf_free(&esc);
    }
    char *x = tm_html_from_text("a <b> & c", 9, NULL);
    assert_string_equal(x, "a &lt;b&gt; &amp; c");
    free(x);
}

/* The fragment is read the way a browser's HTML5 tokenizer reads it. */
static void test_html5_reading(void **state)
{
    (void)state;
    check("a</br>b", "a<br>b");
    check("<p>one<p>two<div>three</div>", "<p>one</p><p>two</p><div>three</div>");
    check("<dl><dt>a<dd>b<dt>c</dl>", "<dl><dt>a</dt><dd>b</dd><dt>c</dt></dl>");
    check("<table><tr><td>1<td>2<tr><td>3</table>",
          "<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>");
    check("<b>x</i>y</b></p>z", "<b>xy</b>z");
    check("<a title=\"x>y\" href='/q?a=1&amp;b=2'>l</a>",
          "<a title=\"x&gt;y\" href=\"https://example.vn/q?a=1&amp;b=2\">l</a>");
    check("<a href=\"/1\" HREF=\"javascript:alert(1)\">x</a>",
          "<a href=\"https://example.vn/1\">x</a>");
    check("<a href=\"javascript:alert(1)\" href=\"/1\">x</a>", "<a>x</a>");
    check("ok<b title=\"unterminated", "ok");
    check("ok<!-->shown<!--->too<!-- x --!>end", "okshowntooend");
    check("1 < 2 <3 </ 4> <!doctype html>5", "1 &lt; 2 &lt;3  5");
    check("&#150; &#x2014 &#0; &#xD800; &#99999999; &amp",
          "\xe2\x80\x93 \xe2\x80\x94 "
          "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd &amp;amp");
    check("<svg/>after", "after");
    check("<svg><title>t</title><p>in</p></svg>after", "after");
    check("<script>a</scriptx>b</script >ok", "ok");
    check("<style>p{}</style\n>ok", "ok");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_kept),
        cmocka_unit_test(test_attributes_dropped),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_xss_cheat_sheet),
        cmocka_unit_test(test_unknown_unwrapped),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_nothing_visible),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_url_resolve),
        cmocka_unit_test(test_nfc_output),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_html5_reading),
        cmocka_unit_test(test_html_from_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
