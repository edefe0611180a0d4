/* Tests for the streaming feed parser (src/parse.c, src/decode.c) and its
 * JSON (src/feed_json.c): formats, chunking, hostile documents, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tinmoi/buf.h"
#include "tinmoi/feed_json.h"
#include "tinmoi/parse.h"
#include "tinmoi/text.h"
#include "fuzz/raw_html_check.h"

static const struct tm_parse_opts default_opts = {
    .url = NULL,
    .charset = NULL,
    .dates = {.utc_offset_s = TM_DATE_DEFAULT_OFFSET_S, .order = TM_DATE_DMY},
};

/* Parses `doc` pushed in chunks of `chunk` bytes (0: one push). Returns the
 * finish code; *out gets the feed (or NULL). */
static int parse_chunked(const char *doc, size_t len, size_t chunk, const struct tm_parse_opts *o,
                         struct tm_feed **out, struct tm_error *err)
{
    struct tm_parser *p = tm_parser_new(o ? o : &default_opts);
    assert_non_null(p);
    if (chunk == 0)
        chunk = len ? len : 1;
    for (size_t i = 0; i < len; i += chunk) {
        size_t n = len - i < chunk ? len - i : chunk;
        if (tm_parser_push(p, doc + i, n) < 0)
            break;
    }
    int rc = tm_parser_finish(p, out, err);
    tm_parser_free(p);
    return rc;
}

/* Parses `doc` pushed in chunks of `chunk` bytes (0: one push), failing
 * the test when the parse fails. */
static struct tm_feed *parse_ok_chunked(const char *doc, size_t chunk)
{
    struct tm_feed *f = NULL;
    struct tm_error err = {0};
    int rc = parse_chunked(doc, strlen(doc), chunk, NULL, &f, &err);
    if (rc != 0)
        fail_msg("parse failed (%d, chunk %zu): %s", rc, chunk, err.msg);
    return f;
}

static struct tm_feed *parse_ok(const char *doc)
{
    return parse_ok_chunked(doc, 0);
}

static bool has_error(const struct tm_feed *f, const char *needle)
{
    for (size_t i = 0; i < f->n_errors; i++)
        if (strstr(f->errors[i], needle) != NULL)
            return true;
    return false;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    struct tm_buf b;
    tm_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        assert_int_equal(tm_buf_add(&b, chunk, n), 0);
    fclose(fp);
    *len = b.len;
    return tm_buf_steal(&b);
}

static char *json_of(const char *doc, size_t len, size_t chunk, const char *url)
{
    struct tm_parse_opts o = default_opts;
    o.url = url;
    struct tm_feed *f = NULL;
    struct tm_error err = {0};
    int rc = parse_chunked(doc, len, chunk, &o, &f, &err);
    char *json;
    if (rc == 0) {
        json = tm_feed_to_json(f, NULL, 0);
        tm_feed_free(f);
    } else {
        char *why = err.msg;
        json = tm_feed_to_json(NULL, &why, 1);
    }
    assert_non_null(json);
    return json;
}

/* Calls `check` on every document in `dir` whose name ends in `suffix`
 * (dot files aside), read whole; returns how many there were. */
static int each_doc(const char *dir, const char *suffix,
                    void (*check)(const char *name, const char *doc, size_t len))
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name), sl = strlen(suffix);
        if (de->d_name[0] == '.' || nl < sl || strcmp(de->d_name + nl - sl, suffix) != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len = 0;
        char *doc = read_file(path, &len);
        assert_non_null(doc);
        check(de->d_name, doc, len);
        free(doc);
        n++;
    }
    closedir(d);
    return n;
}

static void check_chunking(const char *name, const char *doc, size_t len)
{
    char *whole = json_of(doc, len, 0, "http://example.org/feed.xml");
    char *bytes = json_of(doc, len, 1, "http://example.org/feed.xml");
    char *sevens = json_of(doc, len, 7, "http://example.org/feed.xml");
    if (strcmp(whole, bytes) != 0 || strcmp(whole, sevens) != 0)
        fail_msg("%s: chunked parse differs:\n%s\n---\n%s", name, whole, bytes);
    free(whole);
    free(bytes);
    free(sevens);
}

/* Every fixture gives the same JSON pushed a byte at a time, in 7-byte
 * pieces and whole: the fetcher's chunking must never change the result. */
static void test_chunking_is_invisible(void **state)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/parse", TM_TEST_DATA);
    assert_true(each_doc(dir, ".xml", check_chunking) >= 10);
}

/* A body that resolving its links makes longer than
 * TM_PARSE_MAX_CONTENT_BYTES is cut, and the error line names the field. */
static void test_resolved_body_cut(void **state)
{
    (void)state;
    struct tm_buf b;
    tm_buf_init(&b, 4 << 20);
    const char *head = "<rss version=\"2.0\"><channel><title>t</title><item><title>x</title>"
                       "<link>http://example.org/a/1</link><description><![CDATA[";
    assert_int_equal(tm_buf_add(&b, head, strlen(head)), 0);
    for (int i = 0; i < 25000; i++)
        assert_int_equal(tm_buf_add(&b, "<a href=\"p\">b</a>", 17), 0);
    const char *tail = "]]></description></item></channel></rss>";
    assert_int_equal(tm_buf_add(&b, tail, strlen(tail)), 0);
    struct tm_parse_opts o = default_opts;
    o.url = "http://example.org/a/long/path/of/the/feed.xml";
    struct tm_feed *f = NULL;
    struct tm_error err = {0};
    assert_int_equal(tm_parse_buffer(b.data, b.len, &o, &f, &err), 0);
    assert_int_equal(f->n_entries, 1);
    assert_true(strlen(f->entries[0].summary) <= TM_PARSE_MAX_CONTENT_BYTES);
    assert_true(has_error(f, "entry 1: summary truncated to 524288 bytes"));
    tm_feed_free(f);
    tm_buf_free(&b);
}

/* The decoder passes a CDATA section, a comment and a PI on whole, ending
 * each only at its closing marks and '>' ("]]>", "-->", "?>"), wherever the
 * pushes cut them; '>' and a lone mark inside are content. Escaped markup
 * ("&lt;", "&quot;") passes through the same way. */
static void test_sections_split_anywhere(void **state)
{
    (void)state;
    const char *doc =
        "<?xml version=\"1.0\"?><!-- a->b - c> --><?pi a>b ?c?>"
        "<rss version=\"2.0\"><channel><title>t &lt;b&gt; &quot;q&quot; &amp; &apos;</title>"
        "<item><title>x</title><description><![CDATA[<p>1 > 0, a]b, c]>d, "
        "e]]x</p>]]]></description></item></channel></rss>";
    for (size_t chunk = 1; chunk <= strlen(doc); chunk++) {
        struct tm_feed *f = parse_ok_chunked(doc, chunk);
        assert_string_equal(f->title, "t \"q\" & '"); /* an RSS title: tags dropped */
        assert_int_equal(f->n_entries, 1);
        assert_string_equal(f->entries[0].summary, "<p>1 &gt; 0, a]b, c]&gt;d, e]]x</p>]");
        tm_feed_free(f);
    }
}

/* Element text goes to libxml2 as CDATA sections of the decoder's own
 * (decode.c, scan_content), with references decoded and line ends made LF:
 * the text must come out as libxml2 would have read it, however the pushes
 * cut it. A "]]>" in the text is repaired and noted, also when a dropped
 * character stood in it. */
static void test_content_as_cdata(void **state)
{
    (void)state;
    const char *doc =
        "<rss version=\"2.0\"><channel><title>Tin &amp; b\xc3\xa0i</title>"
        "<item><title>x &amp; y &quot;z&quot; &apos;\xe1\xba\xa1&apos; &#8230;</title>"
        "<description>d\xc3\xb2ng m\xe1\xbb\x99t\r\nd\xc3\xb2ng hai\rba ]]> c]d ]]]> "
        "&lt;b&gt;\xc4\x91\xe1\xba\xadm&lt;/b&gt; a&#93;&#93;&gt;b &amp;lt; ]]\x01> "
        "]]\xef\xbf\xbe> ]&rsqb;>"
        "</description></item></channel></rss>";
    for (size_t chunk = 1; chunk <= strlen(doc); chunk++) {
        struct tm_feed *f = parse_ok_chunked(doc, chunk);
        assert_string_equal(f->title, "Tin & b\xc3\xa0i");
        assert_int_equal(f->n_entries, 1);
        assert_string_equal(f->entries[0].title, "x & y \"z\" '\xe1\xba\xa1' \xe2\x80\xa6");
        assert_string_equal(f->entries[0].summary,
                            "d\xc3\xb2ng m\xe1\xbb\x99t\nd\xc3\xb2ng hai\nba ]]&gt; c]d ]]]&gt; "
                            "<b>\xc4\x91\xe1\xba\xadm</b> a]]&gt;b &lt; ]]&gt; ]]&gt; ]]&gt;");
        assert_true(has_error(f, "4 ']]>' in text read as text"));
        assert_true(has_error(f, "2 characters not allowed in XML dropped"));
        assert_true(has_error(f, "HTML entities decoded (1, first &rsqb;)"));
        assert_int_equal(f->n_errors, 3);
        tm_feed_free(f);
    }
}

/* Text cannot close the decoder's CDATA section and become markup: "]]>"
 * written as itself, as references or as HTML entities stays text, and the
 * escaped <item> after it is not an item. */
static void test_content_cannot_end_cdata(void **state)
{
    (void)state;
    static const char *const closers[] = {"]]>",     "]]&gt;", "&#93;&#93;&gt;", "&rsqb;&rsqb;&gt;",
                                          "]&#93;>", "]]\r>"};
    for (size_t c = 0; c < sizeof closers / sizeof closers[0]; c++) {
        char doc[512];
        snprintf(doc, sizeof doc,
                 "<rss version=\"2.0\"><channel><title>t</title><item><description>\xe1\xba\xa1%s"
                 "&lt;/description&gt;&lt;/item&gt;&lt;item&gt;&lt;description&gt;gi\xe1\xba\xa3"
                 "</description></item></channel></rss>",
                 closers[c]);
        for (size_t chunk = 1; chunk <= strlen(doc); chunk += 3) {
            struct tm_feed *f = parse_ok_chunked(doc, chunk);
            if (f->n_entries != 1)
                fail_msg("%s: %zu entries", closers[c], f->n_entries);
            assert_non_null(strstr(f->entries[0].summary, "\xe1\xba\xa1]"));
            assert_non_null(strstr(f->entries[0].summary, "gi\xe1\xba\xa3"));
            tm_feed_free(f);
        }
    }
}

/* Where libxml2's recovery may read bytes other than the decoder thinks (a
 * '<' inside a tag, a DTD internal subset), the decoder writes no CDATA of
 * its own from there on: escaped markup stays text, and a well-formed
 * document with brackets in its subset's comments still parses. */
static void test_desync_keeps_text(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "<rss><channel><item><title>real</title><x <?p/><description>\xc3\xa9 ?>&lt;/item&gt;"
        "&lt;item&gt;&lt;title&gt;FAKE&lt;/title&gt;</description></item></channel></rss>",
        "<rss><channel><item><title>real</title><x <!--/><description>\xc3\xa9 --&gt;&lt;/item&gt;"
        "&lt;item&gt;&lt;title&gt;FAKE&lt;/title&gt;</description></item></channel></rss>",
        "<rss><channel><item><title>real</title><description<![CDATA[<p>\xc3\xa9</p><item>"
        "<title>FAKE</title></item>]]></description></item></channel></rss>",
    };
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        for (size_t chunk = 1; chunk <= strlen(docs[d]); chunk += 5) {
            struct tm_feed *f = parse_ok_chunked(docs[d], chunk);
            if (f->n_entries != 1)
                fail_msg("doc %zu, chunk %zu: %zu entries", d, chunk, f->n_entries);
            assert_string_equal(f->entries[0].title, "real");
            tm_feed_free(f);
        }
    }
    struct tm_feed *f = parse_ok("<!DOCTYPE rss [<!-- ] <a><b>\xc3\xa9 -->]>"
                                 "<rss><channel><title>T</title></channel></rss>");
    assert_string_equal(f->title, "T");
    tm_feed_free(f);
}

/* libxml2 drops references to its predefined entities in text once it has
 * met an error anywhere before them; the decoder hands it those characters
 * as text, so one broken tag does not take the '&' out of every link after
 * it. */
static void test_references_after_an_error(void **state)
{
    (void)state;
    struct tm_feed *f = parse_ok("<rss version=\"2.0\"><channel><title>A</titl>"
                                 "<item><title>x &amp; y &lt;3</title>"
                                 "<link>http://e.org/?a=1&amp;b=2</link></item></channel></rss>");
    assert_true(has_error(f, "Opening and ending tag mismatch"));
    assert_int_equal(f->n_entries, 1);
    assert_string_equal(f->entries[0].title, "x & y <3");
    assert_string_equal(f->entries[0].link, "http://e.org/?a=1&b=2");
    tm_feed_free(f);
}

/* Attribute values compared in place (atom_kind, isPermaLink): letters in
 * either case, and a value with an escaped '&' compares as its decoded
 * form would. */
static void test_attribute_values(void **state)
{
    (void)state;
    struct tm_feed *f =
        parse_ok("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>"
                 "<entry><id>urn:1</id><title type=\"HTML\">&lt;b&gt;a&lt;/b&gt; b</title>"
                 "<summary type=\"text/x&amp;y\">&lt;i&gt;</summary>"
                 "<content type=\"Text/HTML\">&lt;p&gt;c&lt;/p&gt;</content></entry>"
                 "<entry><id>urn:2</id><title>u</title><content type=\"image/png\">AAAA</content>"
                 "</entry></feed>");
    assert_int_equal(f->n_entries, 2);
    assert_string_equal(f->entries[0].title, "a b");
    assert_string_equal(f->entries[0].summary, "&lt;i&gt;");
    assert_string_equal(f->entries[0].content, "<p>c</p>");
    assert_null(f->entries[1].content);
    tm_feed_free(f);
    f = parse_ok("<rss version=\"2.0\"><channel><title>t</title>"
                 "<item><guid isPermaLink=\"FALSE\">http://e.org/1</guid></item>"
                 "<item><guid isPermaLink=\"true\">http://e.org/2</guid></item>"
                 "</channel></rss>");
    assert_int_equal(f->n_entries, 2);
    assert_null(f->entries[0].link);
    assert_string_equal(f->entries[1].link, "http://e.org/2");
    tm_feed_free(f);
}

static void test_formats(void **state)
{
    static const struct {
        const char *doc;
        enum tm_format format;
    } cases[] = {
        {"<rss version=\"2.0\"><channel><title>t</title></channel></rss>", TM_FORMAT_RSS20},
        {"<rss version=\"0.91\"><channel><title>t</title></channel></rss>", TM_FORMAT_RSS091},
        {"<rss version=\"0.92\"><channel><title>t</title></channel></rss>", TM_FORMAT_RSS092},
        {"<rss version=\"0.93\"><channel><title>t</title></channel></rss>", TM_FORMAT_RSS093},
        {"<rss version=\"0.94\"><channel><title>t</title></channel></rss>", TM_FORMAT_RSS094},
        {"<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
         "xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"><channel><title>t</title></channel>"
         "<item><title>i</title><link>http://e.org/1</link></item></rdf:RDF>",
         TM_FORMAT_RSS090},
        {"<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
         "xmlns=\"http://purl.org/rss/1.0/\"><channel rdf:about=\"http://e.org/\"><title>t</title>"
         "</channel><item rdf:about=\"http://e.org/1\"><title>i</title></item></rdf:RDF>",
         TM_FORMAT_RSS10},
        {"<feed xmlns=\"http://purl.org/atom/ns#\" version=\"0.3\"><title>t</title></feed>",
         TM_FORMAT_ATOM03},
        {"<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title></feed>", TM_FORMAT_ATOM10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tm_feed *f = parse_ok(cases[i].doc);
        assert_int_equal(f->format, cases[i].format);
        assert_string_equal(f->title, "t");
        tm_feed_free(f);
    }
}

static void test_rss10_items_outside_channel(void **state)
{
    struct tm_feed *f = parse_ok(
        "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
        "xmlns=\"http://purl.org/rss/1.0/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
        "<channel rdf:about=\"http://e.org/\"><title>t</title><link>http://e.org/</link></channel>"
        "<item rdf:about=\"http://e.org/1\"><title>One</title><link>http://e.org/1</link>"
        "<dc:date>2022-05-31T10:55:00+07:00</dc:date><dc:subject>Y tế</dc:subject></item>"
        "</rdf:RDF>");
    assert_int_equal(f->n_entries, 1);
    assert_string_equal(f->entries[0].id, "http://e.org/1");
    assert_int_equal(f->entries[0].published_utc, 1653969300);
    assert_int_equal(f->entries[0].n_categories, 1);
    assert_string_equal(f->entries[0].categories[0], "Y tế");
    tm_feed_free(f);
}

/* SPEC §8: an external entity pointing at a local file yields nothing. */
static void test_xxe_yields_nothing(void **state)
{
    struct tm_feed *f = parse_ok(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
        "<rss version=\"2.0\"><channel><title>&xxe;</title><link>http://e.org/</link>"
        "<item><title>a&xxe;b</title><description>&xxe;</description></item>"
        "</channel></rss>");
    assert_null(f->title);
    assert_string_equal(f->entries[0].title, "ab");
    assert_null(f->entries[0].summary);
    assert_true(has_error(f, "undefined entity &xxe;"));
    tm_feed_free(f);
}

static char *billion_laughs(void)
{
    struct tm_buf b;
    tm_buf_init(&b, 0);
    tm_buf_adds(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY lol0 \"lol\">\n");
    for (int i = 1; i < 10; i++) {
        tm_buf_printf(&b, "<!ENTITY lol%d \"", i);
        for (int k = 0; k < 10; k++)
            tm_buf_printf(&b, "&lol%d;", i - 1);
        tm_buf_adds(&b, "\">\n");
    }
    tm_buf_adds(&b, "]>\n<rss version=\"2.0\"><channel><title>&lol9;</title>");
    /* Many references too: the per-document look-up bound must hold. */
    tm_buf_adds(&b, "<item><title>x</title><description>");
    for (int k = 0; k < 200000; k++)
        tm_buf_adds(&b, "&lol9;");
    tm_buf_adds(&b, "</description></item></channel></rss>");
    return tm_buf_steal(&b);
}

static void test_billion_laughs_fails_fast(void **state)
{
    /* No timed assertion (the suite runs on loaded machines and under ASan):
     * an expansion would take minutes and gigabytes, which CTest's timeout
     * and the checks below catch; the speed itself is measured in bench/. */
    char *doc = billion_laughs();
    struct tm_feed *f = NULL;
    struct tm_error err = {0};
    int rc = parse_chunked(doc, strlen(doc), 65536, NULL, &f, &err);
    /* Either way nothing is expanded: a feed without the laughs, or a limit. */
    if (rc == 0) {
        assert_null(f->title);
        tm_feed_free(f);
    } else {
        assert_int_equal(rc, TM_ELIMIT);
        assert_non_null(strstr(err.msg, "entity"));
    }
    free(doc);
}

static void test_depth_bomb(void **state)
{
    struct tm_buf b;
    tm_buf_init(&b, 0);
    tm_buf_adds(&b, "<rss version=\"2.0\"><channel><title>t</title>");
    for (int i = 0; i < 50000; i++)
        tm_buf_adds(&b, "<a>");
    struct tm_feed *f = NULL;
    struct tm_error err = {0};
    int rc = parse_chunked(b.data, b.len, 4096, NULL, &f, &err);
    assert_int_equal(rc, TM_ELIMIT);
    assert_null(f);
    assert_non_null(strstr(err.msg, "deeper than 256"));
    tm_buf_free(&b);
}

static void test_item_limit(void **state)
{
    struct tm_buf b;
    tm_buf_init(&b, 0);
    tm_buf_adds(&b, "<rss version=\"2.0\"><channel><title>t</title><link>http://e.org/</link>");
    for (int i = 1; i <= TM_PARSE_MAX_ITEMS + 1; i++)
        tm_buf_printf(&b, "<item><title>n%d</title><guid>g%d</guid></item>", i, i);
    tm_buf_adds(&b, "</channel></rss>");
    struct tm_feed *f = parse_ok(b.data);
    assert_int_equal(f->n_entries, TM_PARSE_MAX_ITEMS);
    assert_string_equal(f->entries[TM_PARSE_MAX_ITEMS - 1].title, "n1000");
    assert_true(has_error(f, "more than 1000 entries"));
    tm_feed_free(f);
    tm_buf_free(&b);
}

static void test_title_truncated_on_character(void **state)
{
    struct tm_buf b;
    tm_buf_init(&b, 0);
    tm_buf_adds(&b, "<rss version=\"2.0\"><channel><title>t</title><item><title>");
    for (int i = 0; i < 1024; i++) /* "ệ" is 3 bytes: 3 KiB */
        tm_buf_adds(&b, "ệ");
    tm_buf_adds(&b, "</title></item></channel></rss>");
    struct tm_feed *f = parse_ok(b.data);
    const char *t = f->entries[0].title;
    assert_non_null(t);
    assert_true(strlen(t) <= TM_PARSE_MAX_TITLE_BYTES);
    assert_true(strlen(t) > TM_PARSE_MAX_TITLE_BYTES - 3);
    assert_int_equal(strlen(t) % 3, 0);
    assert_true(tm_utf8_valid(t, strlen(t)));
    assert_true(has_error(f, "entry 1: title truncated to at most 2048 bytes"));
    tm_feed_free(f);
    tm_buf_free(&b);
}

/* The harvest's parse keeps HTML raw (tm_parse_opts.raw_html) and the
 * store sanitises it when it reads an item back: every fixture and every
 * fuzzing seed must come to the same feed so as parsed at once, whole and
 * split anywhere (fuzz_parse checks the same on every input). */
static void check_raw_html(const char *name, const char *doc, size_t len)
{
    struct tm_parse_opts o = default_opts;
    o.url = "http://example.org/feeds/feed.xml";
    size_t splits[] = {len, 1, len / 3, len / 2 + 7};
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++)
        if (!raw_html_agrees(doc, len, splits[k], o))
            fail_msg("%s: kept raw, split at %zu: not the same feed", name, splits[k]);
}

static void test_raw_html_same_feed(void **state)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/parse", TM_TEST_DATA);
    assert_true(each_doc(dir, ".xml", check_raw_html) >= 100);
    snprintf(dir, sizeof dir, "%s/../fuzz/corpus_parse", TM_TEST_DATA);
    assert_true(each_doc(dir, "", check_raw_html) >= 40);
}

static struct tm_feed *parse_raw(const char *doc)
{
    struct tm_parse_opts o = default_opts;
    o.url = "http://example.org/feeds/feed.xml";
    o.raw_html = true;
    struct tm_feed *f = NULL;
    struct tm_error err = {0};
    if (parse_chunked(doc, strlen(doc), 0, &o, &f, &err) != 0)
        fail_msg("parse: %s", err.msg);
    assert_true(raw_html_agrees(doc, strlen(doc), strlen(doc), o));
    return f;
}

/* What is kept raw, and what is not: markup is kept as read with the base
 * its links resolve against; Atom type="text" is escaped at once; a second
 * candidate for a field weighs the first sanitised (one that sanitises to
 * nothing gives way to a lower one, as without raw_html); a field whose
 * base differs from the other raw field's is sanitised at once. */
static void test_raw_html_kept(void **state)
{
    struct tm_feed *f = parse_raw(
        "<rss version=\"2.0\" "
        "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>t</title>"
        "<item><title>a</title><description>&lt;p&gt;x &lt;a "
        "href=\"y\"&gt;y&lt;/a&gt;</description>"
        "</item>"
        "<item><title>b</title><description>&lt;script&gt;s()&lt;/script&gt;</description>"
        "<dc:description>thấp</dc:description></item>"
        "<item><title>c</title><dc:description>thấp</dc:description>"
        "<description>&lt;b&gt;cao&lt;/b&gt;</description></item>"
        "</channel></rss>");
    assert_int_equal(f->n_entries, 3);
    struct tm_entry *e = &f->entries[0];
    assert_int_equal(e->raw_html, TM_RAW_SUMMARY);
    assert_string_equal(e->summary, "<p>x <a href=\"y\">y</a>");
    assert_string_equal(e->html_base, "http://example.org/feeds/feed.xml");
    e = &f->entries[1]; /* the script gave way; the lower one is kept raw */
    assert_int_equal(e->raw_html, TM_RAW_SUMMARY);
    assert_string_equal(e->summary, "thấp");
    e = &f->entries[2];
    assert_int_equal(e->raw_html, 0);
    assert_string_equal(e->summary, "<b>cao</b>");
    tm_feed_free(f);

    f = parse_raw("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>"
                  "<entry><title>a</title><summary type=\"text\">1 &lt; 2</summary>"
                  "<content type=\"html\" xml:base=\"http://other.example/\">"
                  "&lt;img src=\"i.png\"&gt;</content></entry>"
                  "<entry><title>b</title><summary type=\"html\">&lt;a href=\"s\"&gt;s&lt;/a&gt;"
                  "</summary><content type=\"html\" xml:base=\"http://other.example/\">"
                  "&lt;a href=\"c\"&gt;c&lt;/a&gt;</content></entry></feed>");
    e = &f->entries[0];
    assert_int_equal(e->raw_html, TM_RAW_CONTENT);
    assert_string_equal(e->summary, "1 &lt; 2");
    assert_string_equal(e->html_base, "http://other.example/");
    e = &f->entries[1];
    assert_int_equal(e->raw_html, TM_RAW_SUMMARY);
    assert_string_equal(e->html_base, "http://example.org/feeds/feed.xml");
    assert_string_equal(e->content, "<a href=\"http://other.example/c\">c</a>");
    tm_feed_free(f);
}

static void test_content_truncated(void **state)
{
    struct tm_buf b;
    tm_buf_init(&b, 0);
    tm_buf_adds(&b, "<rss version=\"2.0\"><channel><title>t</title><item><description>");
    for (int i = 0; i < 120000; i++)
        tm_buf_adds(&b, "&lt;p&gt;ab&lt;/p&gt;");
    tm_buf_adds(&b, "</description></item></channel></rss>");
    struct tm_feed *f = parse_ok(b.data);
    assert_non_null(f->entries[0].summary);
    assert_true(strlen(f->entries[0].summary) <= TM_PARSE_MAX_CONTENT_BYTES);
    assert_true(has_error(f, "summary"));
    tm_feed_free(f);
    tm_buf_free(&b);
}

/* Every way an HTML field can grow past TM_PARSE_MAX_CONTENT_BYTES is cut
 * to it: Atom type="text" escaped again (each '&' five bytes), characters
 * that NFC makes longer (U+0958 is three bytes, its decomposition six), and
 * markup kept raw that grows only when it is read back (tm_parse_html). */
/* A one-entry document whose field is `piece` n times: head, the pieces,
 * tail; freed by the caller. */
static char *doc_repeat(const char *head, const char *piece, int n, const char *tail)
{
    struct tm_buf b;
    tm_buf_init(&b, 0);
    tm_buf_adds(&b, head);
    for (int i = 0; i < n; i++)
        tm_buf_adds(&b, piece);
    tm_buf_adds(&b, tail);
    char *doc = tm_buf_steal(&b);
    assert_non_null(doc);
    return doc;
}

#define RSS_DESCRIPTION_HEAD                                                                       \
    "<rss version=\"2.0\"><channel><title>t</title><item><title>a</title><description>"
#define RSS_DESCRIPTION_TAIL "</description></item></channel></rss>"

static void test_grown_fields_bounded(void **state)
{
    char *doc = doc_repeat("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><entry>"
                           "<title>a</title><content type=\"text\">",
                           "&amp;", 300000, "</content></entry></feed>");
    struct tm_feed *f = parse_ok(doc);
    assert_true(strlen(f->entries[0].content) <= TM_PARSE_MAX_CONTENT_BYTES);
    assert_true(has_error(f, "entry 1: content truncated to 524288 bytes"));
    tm_feed_free(f);
    free(doc);

    doc =
        doc_repeat(RSS_DESCRIPTION_HEAD, "\xe0\xa5\x98" /* U+0958 */, 174000, RSS_DESCRIPTION_TAIL);
    f = parse_ok(doc);
    assert_true(strlen(f->entries[0].summary) <= TM_PARSE_MAX_CONTENT_BYTES);
    assert_true(has_error(f, "entry 1: summary truncated to 524288 bytes"));
    tm_feed_free(f);
    free(doc);

    /* '&' in the markup, "&amp;" once sanitised */
    doc = doc_repeat(RSS_DESCRIPTION_HEAD, "&amp;", 110000, RSS_DESCRIPTION_TAIL);
    f = parse_raw(doc);
    struct tm_entry *e = &f->entries[0];
    assert_int_equal(e->raw_html, TM_RAW_SUMMARY);
    bool cut = false, oom = false;
    char *html = tm_parse_html(e->summary, strlen(e->summary), e->html_base, &cut, &oom);
    assert_non_null(html);
    assert_true(cut);
    assert_true(strlen(html) <= TM_PARSE_MAX_CONTENT_BYTES);
    free(html);
    tm_feed_free(f);
    free(doc);
}

static void expect_not_feed(const char *doc, size_t len, const char *reason)
{
    struct tm_feed *f = NULL;
    struct tm_error err = {0};
    int rc = parse_chunked(doc, len, 0, NULL, &f, &err);
    assert_int_equal(rc, TM_ENOTFEED);
    assert_null(f);
    assert_string_equal(err.msg, reason);
}

static void test_not_a_feed(void **state)
{
    const char *html = "<!DOCTYPE html>\n<html lang=\"vi\"><head><title>Just a moment...</title>"
                       "</head><body>Checking your browser</body></html>";
    expect_not_feed(html, strlen(html), "root element <html> is not a feed");
    expect_not_feed("", 0, "empty document");
    expect_not_feed(" \r\n\t", 4, "empty document");
    expect_not_feed("{\"items\": []}", 13, "document is JSON, not a feed");
    const char *note = "<?xml version=\"1.0\"?><note><to>x</to></note>";
    expect_not_feed(note, strlen(note), "root element <note> is not a feed");
    const char *rdf = "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/>";
    expect_not_feed(rdf, strlen(rdf), "root element <rdf:RDF> holds no RSS channel");
}

static void test_encodings(void **state)
{
    /* A "utf-8" document in windows-1252: every string still valid UTF-8. */
    const char doc[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
                       "<title>Caf\xe9</title></channel></rss>";
    struct tm_feed *f = parse_ok(doc);
    assert_string_equal(f->title, "Café");
    assert_string_equal(f->encoding, "windows-1252");
    assert_true(has_error(f, "invalid UTF-8, decoded as windows-1252"));
    tm_feed_free(f);

    /* The HTTP charset wins over the declaration (RFC 3023 practice). */
    struct tm_parse_opts o = default_opts;
    o.charset = "windows-1252";
    const char doc2[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
                        "<title>\xc3\xa9</title></channel></rss>";
    struct tm_error err = {0};
    assert_int_equal(parse_chunked(doc2, strlen(doc2), 3, &o, &f, &err), 0);
    assert_string_equal(f->encoding, "windows-1252");
    assert_string_equal(f->title, "Ã©");
    tm_feed_free(f);

    /* NFD from the CMS comes out NFC. */
    f = parse_ok("<rss version=\"2.0\"><channel><title>Vie\xcc\xa3\xcc\x82t</title>"
                 "</channel></rss>");
    assert_string_equal(f->title, "Việt");
    tm_feed_free(f);
}

static void test_recoveries(void **state)
{
    struct tm_feed *f = parse_ok(
        "\xef\xbb\xbf\n  <?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel>"
        "<title>\n  A &amp; B &nbsp;&agrave; Q&A \x01</title>"
        "<link>\n http://e.org/?a=1&b=2 \n</link>"
        "<item><title>one</title><description>x<br>y</description><link>http://e.org/1</link>"
        "<item><title>two</title><link>http://e.org/2</link></item>"
        "</channel></rss> trailing garbage <x/>");
    assert_string_equal(f->title, "A & B à Q&A");
    assert_string_equal(f->link, "http://e.org/?a=1&b=2");
    assert_int_equal(f->n_entries, 2);
    assert_string_equal(f->entries[1].title, "two");
    assert_true(has_error(f, "white space before the XML declaration ignored"));
    assert_true(has_error(f, "bare '&'"));
    assert_true(has_error(f, "not allowed in XML"));
    tm_feed_free(f);
}

static void test_atom_details(void **state)
{
    struct tm_parse_opts o = default_opts;
    o.url = "http://e.org/feeds/atom.xml";
    const char *doc =
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"vi\" xml:base=\"http://e.org/b/\">"
        "<title type=\"text\">a &lt; b</title><id>urn:x</id><logo>logo.png</logo>"
        "<author><name>Sở TT&amp;TT</name></author>"
        "<link rel=\"self\" href=\"http://e.org/feeds/atom.xml\"/><link href=\"/home\"/>"
        "<entry><id> urn:1 </id><title type=\"html\">&lt;b&gt;Tin&lt;/b&gt; mới</title>"
        "<link rel=\"enclosure\" href=\"a.mp3\" type=\"audio/mpeg\" length=\"10\"/>"
        "<link rel=\"alternate\" type=\"text/html\" href=\"p/1\" xml:base=\"http://other.org/\"/>"
        "<updated>2022-05-31T03:55:00Z</updated>"
        "<category term=\"y-te\" label=\"Y tế\"/><category term=\"xa-hoi\"/>"
        "<summary type=\"text\">1 &lt; 2</summary></entry></feed>";
    struct tm_feed *f = NULL;
    struct tm_error err = {0};
    assert_int_equal(parse_chunked(doc, strlen(doc), 5, &o, &f, &err), 0);
    assert_string_equal(f->title, "a < b");
    assert_string_equal(f->language, "vi");
    assert_string_equal(f->link, "http://e.org/home");
    assert_string_equal(f->image, "http://e.org/b/logo.png");
    assert_string_equal(f->author, "Sở TT&TT");
    struct tm_entry *e = &f->entries[0];
    assert_string_equal(e->id, "urn:1");
    assert_string_equal(e->title, "Tin mới");
    assert_string_equal(e->link, "http://other.org/p/1");
    assert_int_equal(e->published_utc, TM_TIME_NONE);
    assert_int_equal(e->updated_utc, 1653969300);
    assert_int_equal(e->n_categories, 2);
    assert_string_equal(e->categories[0], "Y tế");
    assert_string_equal(e->categories[1], "xa-hoi");
    assert_int_equal(e->n_enclosures, 1);
    assert_string_equal(e->enclosures[0].url, "http://e.org/b/a.mp3");
    assert_int_equal(e->enclosures[0].length, 10);
    assert_non_null(strstr(e->summary, "1 &lt; 2"));
    tm_feed_free(f);
}

/* An unclosed Atom <subtitle> and <summary>: libxml2 nests the entries that
 * follow inside them; both entries and the subtitle are still read. */
static void test_unclosed_atom_fields(void **state)
{
    (void)state;
    struct tm_feed *f = parse_ok("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>T</title>"
                                 "<subtitle>Tin tức\n"
                                 "<entry><title>Một</title><id>urn:1</id><summary>Tóm tắt\n</entry>"
                                 "<entry><title>Hai</title><id>urn:2</id></entry></feed>");
    assert_string_equal(f->subtitle, "Tin tức");
    assert_int_equal(f->n_entries, 2);
    assert_string_equal(f->entries[0].title, "Một");
    assert_string_equal(f->entries[0].summary, "Tóm tắt");
    assert_string_equal(f->entries[1].title, "Hai");
    assert_true(has_error(f, "<entry> inside an unclosed <subtitle>; the subtitle ends there"));
    tm_feed_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunking_is_invisible),
        cmocka_unit_test(test_sections_split_anywhere),
        cmocka_unit_test(test_content_as_cdata),
        cmocka_unit_test(test_content_cannot_end_cdata),
        cmocka_unit_test(test_references_after_an_error),
        cmocka_unit_test(test_desync_keeps_text),
        cmocka_unit_test(test_attribute_values),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_rss10_items_outside_channel),
        cmocka_unit_test(test_xxe_yields_nothing),
        cmocka_unit_test(test_billion_laughs_fails_fast),
        cmocka_unit_test(test_depth_bomb),
        cmocka_unit_test(test_item_limit),
        cmocka_unit_test(test_title_truncated_on_character),
        cmocka_unit_test(test_content_truncated),
        cmocka_unit_test(test_not_a_feed),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_recoveries),
        cmocka_unit_test(test_atom_details),
        cmocka_unit_test(test_unclosed_atom_fields),
        cmocka_unit_test(test_resolved_body_cut),
        cmocka_unit_test(test_raw_html_same_feed),
        cmocka_unit_test(test_raw_html_kept),
        cmocka_unit_test(test_grown_fields_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
