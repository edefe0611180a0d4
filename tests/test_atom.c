/* Atom writer: RFC 4287 structure, escaping, atom:source, dates. The output
 * is parsed back with libxml2 and checked with XPath. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "publish_fixture.h"
#include "tinmoi/atom.h"
#include "tinmoi/view.h"

struct doc {
    char *bytes;
    size_t len;
    xmlDocPtr xml;
    xmlXPathContextPtr xp;
};

static void render(struct fixture *f, const char *category, struct doc *d)
{
    struct tm_view v;
    struct tm_error err = {0};
    assert_int_equal(tm_view_init(&v, &f->cfg, f->states, f->items, 6, f->stories, 3, NULL, &err),
                     0);
    assert_int_equal(tm_atom_render(&v, category, &d->bytes, &d->len, &err), 0);
    tm_view_clear(&v);
    assert_int_equal(strlen(d->bytes), d->len);
    d->xml = xmlReadMemory(d->bytes, (int)d->len, "feed.atom", NULL, XML_PARSE_NONET);
    assert_non_null(d->xml); /* well-formed */
    d->xp = xmlXPathNewContext(d->xml);
    assert_non_null(d->xp);
    assert_int_equal(xmlXPathRegisterNs(d->xp, (const xmlChar *)"a",
                                        (const xmlChar *)"http://www.w3.org/2005/Atom"),
                     0);
}

static void done(struct doc *d)
{
    xmlXPathFreeContext(d->xp);
    xmlFreeDoc(d->xml);
    free(d->bytes);
}

/* The string value of an XPath expression ("" when it selects nothing). */
static char *xs(struct doc *d, const char *expr)
{
    char wrapped[512];
    snprintf(wrapped, sizeof wrapped, "string(%s)", expr);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)wrapped, d->xp);
    assert_non_null(o);
    char *s = strdup(o->stringval != NULL ? (const char *)o->stringval : "");
    xmlXPathFreeObject(o);
    return s;
}

static void assert_xs(struct doc *d, const char *expr, const char *want)
{
    char *got = xs(d, expr);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", expr, got, want);
    free(got);
}

static long count(struct doc *d, const char *expr)
{
    char wrapped[512];
    snprintf(wrapped, sizeof wrapped, "count(%s)", expr);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)wrapped, d->xp);
    assert_non_null(o);
    long n = (long)o->floatval;
    xmlXPathFreeObject(o);
    return n;
}

static void test_feed_metadata(void **state)
{
    struct fixture f;
    struct doc d;
    fx_init(&f);
    render(&f, NULL, &d);
    assert_xs(&d, "/a:feed/@xml:lang", "vi");
    assert_xs(&d, "/a:feed/a:id", "http://127.0.0.1:8080/latest.atom");
    assert_xs(&d, "/a:feed/a:title", "Tin mới nhất");
    assert_xs(&d, "/a:feed/a:link[@rel='self']/@href", "http://127.0.0.1:8080/latest.atom");
    assert_xs(&d, "/a:feed/a:link[@rel='self']/@type", "application/atom+xml");
    assert_xs(&d, "/a:feed/a:link[@rel='alternate']/@href", "http://127.0.0.1:8080/");
    assert_xs(&d, "/a:feed/a:author/a:name", "Tin mới nhất");
    assert_xs(&d, "/a:feed/a:generator", "tinmoi");
    assert_xs(&d, "/a:feed/a:generator/@version", TINMOI_VERSION);
    assert_int_equal(count(&d, "/a:feed/a:entry"), 3);
    /* newest first */
    assert_xs(&d, "/a:feed/a:entry[1]/a:id", "urn:tinmoi:story:1");
    assert_xs(&d, "/a:feed/a:entry[2]/a:id", "urn:tinmoi:story:2");
    assert_xs(&d, "/a:feed/a:entry[3]/a:id", "urn:tinmoi:story:3");
    done(&d);
}

/* The feed's updated is its latest entry's, not the time of writing: story
 * 2 was updated 2022-06-01, later than any other entry's date. */
static void test_updated_is_newest_entry(void **state)
{
    struct fixture f;
    struct doc d;
    fx_init(&f);
    render(&f, NULL, &d);
    assert_xs(&d, "/a:feed/a:updated", "2022-06-01T00:00:00Z");
    assert_xs(&d, "/a:feed/a:entry[2]/a:published", "2022-05-30T10:53:00Z");
    assert_xs(&d, "/a:feed/a:entry[2]/a:updated", "2022-06-01T00:00:00Z");
    assert_xs(&d, "/a:feed/a:entry[1]/a:updated", "2022-05-31T03:55:00Z");
    done(&d);

    render(&f, "district", &d);
    assert_xs(&d, "/a:feed/a:updated", "2022-05-31T03:55:00Z");
    done(&d);

    /* Rendering twice gives the same bytes: nothing depends on the clock. */
    struct doc d2;
    render(&f, NULL, &d);
    render(&f, NULL, &d2);
    assert_int_equal(d.len, d2.len);
    assert_memory_equal(d.bytes, d2.bytes, d.len);
    done(&d);
    done(&d2);
}

static void test_escaping(void **state)
{
    struct fixture f;
    struct doc d;
    fx_init(&f);
    render(&f, NULL, &d);
    /* Parsed back, every value is exactly the input text. */
    assert_xs(&d, "/a:feed/a:entry[1]/a:title", FX_TITLE_0);
    assert_xs(&d, "/a:feed/a:entry[1]/a:title/@type", "text");
    assert_xs(&d, "/a:feed/a:entry[1]/a:link[@rel='alternate']/@href", FX_LINK_0);
    assert_xs(&d, "/a:feed/a:entry[1]/a:summary", FX_SUMMARY_0);
    assert_xs(&d, "/a:feed/a:entry[1]/a:summary/@type", "html");
    assert_xs(&d, "/a:feed/a:entry[1]/a:content", FX_CONTENT_0);
    assert_xs(&d, "/a:feed/a:entry[1]/a:content/@type", "html");
    /* The HTML travels escaped, not as markup, and UTF-8 is written as is. */
    assert_non_null(strstr(d.bytes, "&lt;p&gt;Tóm tắt &amp;amp; &lt;b&gt;"));
    assert_null(strstr(d.bytes, "<p>"));
    assert_null(strstr(d.bytes, "&#"));
    done(&d);
}

static void test_forbidden_characters_dropped(void **state)
{
    struct fixture f;
    struct doc d;
    fx_init(&f);
    f.items[0].title = (char *)"Tin\x01 có \x1f ký tự\xEF\xBF\xBE lạ";
    render(&f, NULL, &d); /* asserts the output is well-formed */
    assert_xs(&d, "/a:feed/a:entry[1]/a:title", "Tin có  ký tự lạ");
    done(&d);
}

static void test_entry_fields(void **state)
{
    struct fixture f;
    struct doc d;
    fx_init(&f);
    render(&f, NULL, &d);
    assert_xs(&d, "/a:feed/a:entry[1]/a:published", "2022-05-31T03:55:00Z");
    assert_xs(&d, "/a:feed/a:entry[1]/a:author/a:name", "Ban biên tập");
    assert_int_equal(count(&d, "/a:feed/a:entry[1]/a:category"), 2);
    assert_xs(&d, "/a:feed/a:entry[1]/a:category[1]/@term", "Chuyển đổi số");
    assert_xs(&d, "/a:feed/a:entry[1]/a:category[2]/@term", "Tin tức");
    /* summary only: content repeats it */
    assert_xs(&d, "/a:feed/a:entry[2]/a:content", "Hội nghị <i>trực tuyến</i> toàn quốc");
    assert_int_equal(count(&d, "/a:feed/a:entry[2]/a:author"), 0);
    /* no link, no text: §4.1.1 wants a link or content, so the title */
    assert_int_equal(count(&d, "/a:feed/a:entry[3]/a:link"), 0);
    assert_int_equal(count(&d, "/a:feed/a:entry[3]/a:summary"), 0);
    assert_xs(&d, "/a:feed/a:entry[3]/a:content/@type", "text");
    assert_xs(&d, "/a:feed/a:entry[3]/a:content", "Thông báo nghỉ lễ");
    done(&d);
}

static void test_atom_source(void **state)
{
    struct fixture f;
    struct doc d;
    fx_init(&f);
    render(&f, NULL, &d);
    const char *s1 = "/a:feed/a:entry[1]/a:source";
    char expr[256];
    snprintf(expr, sizeof expr, "%s/a:id", s1);
    assert_xs(&d, expr, "http://127.0.0.1:9/nhuthanh.rss");
    snprintf(expr, sizeof expr, "%s/a:title", s1);
    assert_xs(&d, expr, "Huyện Như Thanh");
    snprintf(expr, sizeof expr, "%s/a:link[@rel='alternate']/@href", s1);
    assert_xs(&d, expr, "http://nhuthanh.thanhhoa.gov.vn/");
    snprintf(expr, sizeof expr, "%s/a:link[@rel='self']/@href", s1);
    assert_xs(&d, expr, "http://127.0.0.1:9/nhuthanh.rss");
    snprintf(expr, sizeof expr, "%s/a:updated", s1);
    assert_xs(&d, expr, "2022-05-31T03:55:00Z");
    /* without html_url, the alternate is the feed itself */
    assert_xs(&d, "/a:feed/a:entry[2]/a:source/a:title", "Bộ Thông tin và Truyền thông");
    assert_xs(&d, "/a:feed/a:entry[2]/a:source/a:link[@rel='alternate']/@href",
              "http://127.0.0.1:9/mic.atom");
    assert_xs(&d, "/a:feed/a:entry[2]/a:source/a:updated", "2022-06-01T00:00:00Z");
    /* the province's latest item is story 1's member, not its own entry */
    assert_xs(&d, "/a:feed/a:entry[3]/a:source/a:updated", "2022-05-31T04:00:00Z");
    assert_int_equal(count(&d, "/a:feed/a:entry/a:source"), 3);
    done(&d);
}

static void test_category_feed(void **state)
{
    struct fixture f;
    struct doc d;
    fx_init(&f);
    render(&f, "ministry", &d);
    assert_xs(&d, "/a:feed/a:id", "http://127.0.0.1:8080/ministry.atom");
    assert_xs(&d, "/a:feed/a:link[@rel='self']/@href", "http://127.0.0.1:8080/ministry.atom");
    assert_xs(&d, "/a:feed/a:title", "Tin mới nhất — ministry");
    assert_int_equal(count(&d, "/a:feed/a:entry"), 1);
    assert_xs(&d, "/a:feed/a:entry/a:id", "urn:tinmoi:story:2");
    done(&d);

    /* A category with no stories is still a valid feed, with a fixed date. */
    render(&f, "commune", &d);
    assert_int_equal(count(&d, "/a:feed/a:entry"), 0);
    assert_xs(&d, "/a:feed/a:updated", "1970-01-01T00:00:00Z");
    done(&d);
}

static void test_items_limit(void **state)
{
    struct fixture f;
    struct doc d;
    fx_init(&f);
    f.cfg.items_limit = 2;
    render(&f, NULL, &d);
    assert_int_equal(count(&d, "/a:feed/a:entry"), 2);
    assert_xs(&d, "/a:feed/a:entry[2]/a:id", "urn:tinmoi:story:2");
    done(&d);
}

static void test_bad_story_rejected(void **state)
{
    struct fixture f;
    fx_init(&f);
    struct tm_view v;
    struct tm_error err = {0};
    f.stories[1].primary = 6;
    assert_int_equal(tm_view_init(&v, &f.cfg, f.states, f.items, 6, f.stories, 3, NULL, &err),
                     TM_EINVAL);
    assert_non_null(strstr(err.msg, "urn:tinmoi:story:2"));
    f.stories[1].primary = 4;
    f.stories[2].entry_id = NULL;
    assert_int_equal(tm_view_init(&v, &f.cfg, f.states, f.items, 6, f.stories, 3, NULL, &err),
                     TM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_metadata),
        cmocka_unit_test(test_updated_is_newest_entry),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_forbidden_characters_dropped),
        cmocka_unit_test(test_entry_fields),
        cmocka_unit_test(test_atom_source),
        cmocka_unit_test(test_category_feed),
        cmocka_unit_test(test_items_limit),
        cmocka_unit_test(test_bad_story_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
