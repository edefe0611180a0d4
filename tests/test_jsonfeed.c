/* JSON Feed writer: the SPEC §6 fields, display dates as the portal shows
 * them, also_in, the content_text fallback, latest ids and source status.
 * The output is parsed back with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "publish_fixture.h"
#include "tinmoi/jsonfeed.h"
#include "tinmoi/view.h"

#define GENERATED_UTC 1654000000 /* 2022-05-31T12:26:40Z */

static char *render_bytes(struct fixture *f, const char *category, int64_t generated_utc,
                          size_t *len)
{
    struct tm_view v;
    struct tm_error err = {0};
    assert_int_equal(tm_view_init(&v, &f->cfg, f->states, f->items, 6, f->stories, 3, NULL, &err),
                     0);
    char *out;
    assert_int_equal(tm_jsonfeed_render(&v, category, generated_utc, &out, len, &err), 0);
    tm_view_clear(&v);
    assert_int_equal(strlen(out), *len);
    return out;
}

static json_t *render(struct fixture *f, const char *category)
{
    size_t len;
    char *out = render_bytes(f, category, GENERATED_UTC, &len);
    json_error_t jerr;
    json_t *doc = json_loadb(out, len, 0, &jerr);
    if (doc == NULL)
        fail_msg("not JSON: %s at %d", jerr.text, jerr.line);
    free(out);
    return doc;
}

static const char *str(json_t *o, const char *path)
{
    /* "a.b.c" through objects */
    json_t *cur = o;
    for (const char *k = path; cur != NULL;) {
        const char *dot = strchr(k, '.');
        size_t n = dot != NULL ? (size_t)(dot - k) : strlen(k);
        cur = json_object_getn(cur, k, n);
        if (dot == NULL)
            break;
        k = dot + 1;
    }
    return json_string_value(cur);
}

static json_t *item(json_t *doc, size_t i)
{
    json_t *it = json_array_get(json_object_get(doc, "items"), i);
    assert_non_null(it);
    return it;
}

static void test_top_level(void **state)
{
    struct fixture f;
    fx_init(&f);
    json_t *doc = render(&f, NULL);
    assert_string_equal(str(doc, "version"), "https://jsonfeed.org/version/1.1");
    assert_string_equal(str(doc, "title"), "Tin mới nhất");
    assert_string_equal(str(doc, "home_page_url"), "http://127.0.0.1:8080/");
    assert_string_equal(str(doc, "feed_url"), "http://127.0.0.1:8080/snapshot.json");
    assert_string_equal(str(doc, "language"), "vi");
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 3);
    assert_string_equal(str(doc, "_tinmoi.generated_at"), "2022-05-31T12:26:40Z");
    json_decref(doc);
}

static void test_item_fields(void **state)
{
    struct fixture f;
    fx_init(&f);
    json_t *doc = render(&f, NULL);
    json_t *it = item(doc, 0);
    assert_string_equal(str(it, "id"), "urn:tinmoi:story:1");
    assert_string_equal(str(it, "url"), FX_LINK_0);
    assert_string_equal(str(it, "title"), FX_TITLE_0);
    assert_string_equal(str(it, "content_html"), FX_CONTENT_0);
    assert_null(json_object_get(it, "content_text"));
    /* summary is plain text: tags stripped, entities decoded */
    assert_string_equal(str(it, "summary"), "Tóm tắt & đậm");
    assert_string_equal(str(it, "date_published"), "2022-05-31T03:55:00Z");
    assert_null(json_object_get(it, "date_modified"));
    json_t *authors = json_object_get(it, "authors");
    assert_int_equal(json_array_size(authors), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(authors, 0), "name")),
                        "Ban biên tập");
    json_t *tags = json_object_get(it, "tags");
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "Chuyển đổi số");
    assert_string_equal(str(it, "_tinmoi.source.id"), "huyen-nhu-thanh");
    assert_string_equal(str(it, "_tinmoi.source.title"), "Huyện Như Thanh");
    assert_string_equal(str(it, "_tinmoi.source.url"), "http://127.0.0.1:9/nhuthanh.rss");
    assert_string_equal(str(it, "_tinmoi.source.category"), "district");
    assert_string_equal(str(it, "_tinmoi.category"), "district");

    json_t *it2 = item(doc, 1); /* summary only: content_html is the summary */
    assert_string_equal(str(it2, "content_html"), "Hội nghị <i>trực tuyến</i> toàn quốc");
    assert_string_equal(str(it2, "summary"), "Hội nghị trực tuyến toàn quốc");
    assert_string_equal(str(it2, "date_modified"), "2022-06-01T00:00:00Z");
    assert_null(json_object_get(it2, "authors"));
    assert_null(json_object_get(it2, "tags"));
    json_decref(doc);
}

static void test_display_dates(void **state)
{
    struct fixture f;
    fx_init(&f);
    json_t *doc = render(&f, NULL);
    assert_string_equal(str(item(doc, 0), "_tinmoi.display_date"), "31/05/2022 10:55 SA");
    assert_string_equal(str(item(doc, 1), "_tinmoi.display_date"), "30/05/2022 5:53 CH");
    assert_string_equal(str(item(doc, 2), "_tinmoi.display_date"), "31/01/2022 12:19 CH");
    json_decref(doc);
}

/* No content, no summary: JSON Feed needs content_html or content_text. */
static void test_content_text_fallback(void **state)
{
    struct fixture f;
    fx_init(&f);
    json_t *doc = render(&f, NULL);
    json_t *it = item(doc, 2);
    assert_null(json_object_get(it, "content_html"));
    assert_string_equal(str(it, "content_text"), "Thông báo nghỉ lễ");
    assert_null(json_object_get(it, "summary"));
    assert_null(json_object_get(it, "url"));
    json_decref(doc);
}

/* Other sources, each once, never the primary's own. */
static void test_also_in(void **state)
{
    struct fixture f;
    fx_init(&f);
    json_t *doc = render(&f, NULL);
    json_t *also = json_object_get(json_object_get(item(doc, 0), "_tinmoi"), "also_in");
    assert_int_equal(json_array_size(also), 2);
    json_t *a0 = json_array_get(also, 0), *a1 = json_array_get(also, 1);
    assert_string_equal(str(a0, "id"), "tinh-thanh-hoa");
    assert_string_equal(str(a0, "title"), "Tỉnh Thanh Hóa");
    assert_string_equal(str(a0, "url"), "http://127.0.0.1:9/thanhhoa.rss");
    assert_string_equal(str(a0, "item_url"), "http://thanhhoa.gov.vn/tin/9");
    assert_string_equal(str(a1, "id"), "huyen-khac");
    assert_string_equal(str(a1, "item_url"), "http://khac.gov.vn/a");
    json_t *none = json_object_get(json_object_get(item(doc, 1), "_tinmoi"), "also_in");
    assert_true(json_is_array(none));
    assert_int_equal(json_array_size(none), 0);
    json_decref(doc);

    /* a second item from the primary's own source is not "also in" */
    f.items[2].source_id = (char *)"huyen-nhu-thanh";
    doc = render(&f, NULL);
    also = json_object_get(json_object_get(item(doc, 0), "_tinmoi"), "also_in");
    assert_int_equal(json_array_size(also), 2);
    assert_string_equal(str(json_array_get(also, 1), "id"), "huyen-khac");
    assert_string_equal(str(json_array_get(also, 1), "item_url"), "http://khac.gov.vn/b");
    json_decref(doc);
}

static void test_latest_and_sources(void **state)
{
    struct fixture f;
    fx_init(&f);
    json_t *doc = render(&f, NULL);
    json_t *ext = json_object_get(doc, "_tinmoi");
    json_t *latest = json_object_get(ext, "latest");
    assert_int_equal(json_array_size(latest), 2); /* latest_limit */
    assert_string_equal(json_string_value(json_array_get(latest, 0)), "urn:tinmoi:story:1");
    assert_string_equal(json_string_value(json_array_get(latest, 1)), "urn:tinmoi:story:2");
    json_t *sources = json_object_get(ext, "sources");
    assert_int_equal(json_array_size(sources), 4);
    json_t *s0 = json_array_get(sources, 0), *s1 = json_array_get(sources, 1);
    json_t *s2 = json_array_get(sources, 2);
    assert_string_equal(str(s0, "id"), "huyen-nhu-thanh");
    assert_string_equal(str(s0, "status"), "ok");
    assert_string_equal(str(s0, "last_success"), "2022-05-31T04:00:00Z");
    assert_true(json_is_null(json_object_get(s0, "last_error")));
    assert_int_equal(json_integer_value(json_object_get(s0, "item_count")), 1);
    assert_string_equal(str(s1, "status"), "error");
    assert_string_equal(str(s1, "last_error"), "HTTP 500");
    assert_int_equal(json_integer_value(json_object_get(s1, "consecutive_failures")), 3);
    assert_true(json_is_null(json_object_get(s1, "last_success")));
    assert_string_equal(str(s2, "status"), "never");
    assert_string_equal(str(s2, "category"), "ministry");
    json_decref(doc);
}

static void test_category_file(void **state)
{
    struct fixture f;
    fx_init(&f);
    json_t *doc = render(&f, "district");
    assert_string_equal(str(doc, "feed_url"), "http://127.0.0.1:8080/district.json");
    assert_string_equal(str(doc, "title"), "Tin mới nhất — district");
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 1);
    json_t *sources = json_object_get(json_object_get(doc, "_tinmoi"), "sources");
    assert_int_equal(json_array_size(sources), 2);
    assert_string_equal(str(json_array_get(sources, 1), "id"), "huyen-khac");
    json_t *latest = json_object_get(json_object_get(doc, "_tinmoi"), "latest");
    assert_int_equal(json_array_size(latest), 1);
    json_decref(doc);
}

static void test_generated_at_round_trip(void **state)
{
    struct fixture f;
    fx_init(&f);
    size_t len;
    char *out = render_bytes(&f, NULL, GENERATED_UTC, &len);
    int64_t got = 0;
    assert_int_equal(tm_jsonfeed_generated_at(out, len, &got), 0);
    assert_int_equal(got, GENERATED_UTC);
    /* Only generated_at depends on the clock. */
    size_t len2;
    char *again = render_bytes(&f, NULL, GENERATED_UTC, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(out, again, len);
    free(again);
    /* UTF-8 is written as is, not as \u escapes; the file ends in a newline. */
    assert_non_null(strstr(out, "Tin mới nhất"));
    assert_null(strstr(out, "\\u"));
    assert_int_equal(out[len - 1], '\n');
    free(out);
    assert_int_equal(tm_jsonfeed_generated_at("{", 1, &got), TM_EPARSE);
    assert_int_equal(tm_jsonfeed_generated_at("{}", 2, &got), TM_ENOENT);
}

static void test_invalid_utf8_rejected(void **state)
{
    struct fixture f;
    fx_init(&f);
    f.items[4].title = (char *)"bad \xC3\x28 byte";
    struct tm_view v;
    struct tm_error err = {0};
    assert_int_equal(tm_view_init(&v, &f.cfg, f.states, f.items, 6, f.stories, 3, NULL, &err), 0);
    char *out = NULL;
    size_t len;
    assert_int_equal(tm_jsonfeed_render(&v, NULL, GENERATED_UTC, &out, &len, &err), TM_EINVAL);
    assert_null(out);
    assert_non_null(strstr(err.msg, "UTF-8"));
    tm_view_clear(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_item_fields),
        cmocka_unit_test(test_display_dates),
        cmocka_unit_test(test_content_text_fallback),
        cmocka_unit_test(test_also_in),
        cmocka_unit_test(test_latest_and_sources),
        cmocka_unit_test(test_category_file),
        cmocka_unit_test(test_generated_at_round_trip),
        cmocka_unit_test(test_invalid_utf8_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
