/* tinmoi — the operators' status page at / (issue 5): the portal's
 * "Tin mới nhất" box and a table of sources, rendered once per publish from
 * snapshot.json. Self-contained: inline CSS, no script, no external asset. */
#include "serve_int.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "tinmoi/date.h"
#include "tinmoi/error.h"
#include "tinmoi/jsonfeed.h"
#include "tinmoi/text.h"

static const char page_css[] =
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}"
    ".box{border:1px solid #c8102e;max-width:40em;padding:.5em 1em}"
    ".box h2{margin:.2em 0 .5em;color:#c8102e}"
    ".box ul{margin:0;padding-left:1.2em}.box li{margin:.3em 0}"
    ".date{color:#666;white-space:nowrap}"
    "table{border-collapse:collapse;margin-top:.5em}"
    "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}.ok{color:#17692f}.error{color:#b00020}.never{color:#666}"
    "td.n{text-align:right}footer{margin-top:1.5em;color:#666;font-size:.9em}";

static int add_escaped(struct tm_buf *out, const char *s)
{
    return s != NULL ? tm_text_escape_html(out, s, strlen(s)) : 0;
}

/* Only http(s) links become hrefs: a snapshot URL is outside input. */
static bool safe_url(const char *url)
{
    return url != NULL && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0);
}

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) {                                                                            \
            return rc_;                                                                            \
        }                                                                                          \
    } while (0)

/* An RFC 3339 time from the snapshot shown as the portal shows dates; the
 * raw text when it does not parse, "—" when null. */
static int add_time(struct tm_buf *out, const char *rfc3339, int utc_offset_s)
{
    int64_t utc;
    char display[TM_DATE_DISPLAY_LEN];
    if (rfc3339 == NULL || rfc3339[0] == '\0') {
        return tm_buf_adds(out, "—");
    }
    if (tm_date_parse(rfc3339, NULL, &utc) == 0 &&
        tm_date_format_display(utc, utc_offset_s, display) == 0) {
        return tm_buf_adds(out, display);
    }
    return add_escaped(out, rfc3339);
}

static const char *obj_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int on_latest_box(void *ud, const struct tm_jsonfeed_headline *h)
{
    struct tm_buf *out = ud;
    const char *title = h->title;
    CHECK(tm_buf_adds(out, "<li>"));
    if (safe_url(h->url)) {
        CHECK(tm_buf_adds(out, "<a href=\""));
        CHECK(add_escaped(out, h->url));
        CHECK(tm_buf_adds(out, "\">"));
        CHECK(add_escaped(out, title != NULL ? title : h->url));
        CHECK(tm_buf_adds(out, "</a>"));
    } else {
        CHECK(add_escaped(out, title != NULL ? title : ""));
    }
    if (h->display_date != NULL) {
        CHECK(tm_buf_adds(out, " <span class=\"date\">("));
        CHECK(add_escaped(out, h->display_date));
        CHECK(tm_buf_adds(out, ")</span>"));
    }
    return tm_buf_adds(out, "</li>\n");
}

static int render_box(const json_t *doc, struct tm_buf *out)
{
    CHECK(tm_buf_adds(out, "<section class=\"box\" id=\"latest\"><h2>Tin mới nhất</h2><ul>\n"));
    CHECK(tm_jsonfeed_each_latest(doc, on_latest_box, out));
    return tm_buf_adds(out, "</ul></section>\n");
}

static int render_sources(const json_t *doc, int utc_offset_s, struct tm_buf *out)
{
    const json_t *sources = json_object_get(json_object_get(doc, "_tinmoi"), "sources");
    size_t i;
    const json_t *src;

    CHECK(tm_buf_printf(out, "<h2>Nguồn tin (%zu)</h2>\n", json_array_size(sources)));
    CHECK(tm_buf_adds(out, "<table id=\"sources\"><thead><tr><th>Nguồn</th><th>Chuyên mục</th>"
                           "<th>Trạng thái</th><th>Lần thành công cuối</th><th>Lỗi gần nhất</th>"
                           "<th>Số tin</th></tr></thead><tbody>\n"));
    json_array_foreach(sources, i, src)
    {
        const char *title = obj_str(src, "title");
        const char *id = obj_str(src, "id");
        const char *url = obj_str(src, "url");
        const char *status = obj_str(src, "status");
        const char *cls = "never";
        if (status != NULL && strcmp(status, "ok") == 0) {
            cls = "ok";
        } else if (status != NULL && strcmp(status, "error") == 0) {
            cls = "error";
        }
        CHECK(tm_buf_adds(out, "<tr><td>"));
        if (safe_url(url)) {
            CHECK(tm_buf_adds(out, "<a href=\""));
            CHECK(add_escaped(out, url));
            CHECK(tm_buf_adds(out, "\">"));
        }
        CHECK(add_escaped(out, title != NULL ? title : id));
        if (safe_url(url)) {
            CHECK(tm_buf_adds(out, "</a>"));
        }
        CHECK(tm_buf_adds(out, "</td><td>"));
        CHECK(add_escaped(out, obj_str(src, "category")));
        CHECK(tm_buf_printf(out, "</td><td class=\"%s\">", cls));
        CHECK(add_escaped(out, status != NULL ? status : "never"));
        json_int_t failures = json_integer_value(json_object_get(src, "consecutive_failures"));
        if (failures > 1) {
            CHECK(tm_buf_printf(out, " (%lld lần)", (long long)failures));
        }
        CHECK(tm_buf_adds(out, "</td><td>"));
        CHECK(add_time(out, obj_str(src, "last_success"), utc_offset_s));
        CHECK(tm_buf_adds(out, "</td><td>"));
        const char *last_error = obj_str(src, "last_error");
        CHECK(last_error != NULL ? add_escaped(out, last_error) : tm_buf_adds(out, "—"));
        CHECK(tm_buf_printf(out, "</td><td class=\"n\">%lld</td></tr>\n",
                            (long long)json_integer_value(json_object_get(src, "item_count"))));
    }
    return tm_buf_adds(out, "</tbody></table>\n");
}

int tm_status_page_render(const char *snapshot, size_t len, const char *title,
                          int64_t published_utc, int utc_offset_s, struct tm_buf *out)
{
    json_t *doc = NULL;
    json_error_t jerr;
    int status = 0;
    char when[TM_DATE_DISPLAY_LEN];

    if (title == NULL) {
        title = "tinmoi";
    }
    if (snapshot != NULL) {
        doc = json_loadb(snapshot, len, JSON_REJECT_DUPLICATES, &jerr);
        if (doc == NULL || !json_is_object(doc)) {
            status = TM_EPARSE;
        }
    }
    CHECK(tm_buf_adds(out, "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
                           "<meta name=\"viewport\" content=\"width=device-width\"><title>"));
    int rc = add_escaped(out, title);
    if (rc == 0) {
        rc = tm_buf_printf(out, "</title><style>%s</style></head><body>\n<h1>", page_css);
    }
    if (rc == 0) {
        rc = add_escaped(out, title);
    }
    if (rc == 0) {
        rc = tm_buf_adds(out, "</h1>\n");
    }
    if (rc == 0 && status == 0 && doc != NULL) {
        rc = render_box(doc, out);
        if (rc == 0) {
            rc = render_sources(doc, utc_offset_s, out);
        }
    } else if (rc == 0) {
        rc = tm_buf_adds(out, doc == NULL && snapshot == NULL
                                  ? "<p>Chưa xuất bản lần nào (nothing published yet).</p>\n"
                                  : "<p>snapshot.json không đọc được.</p>\n");
    }
    if (rc == 0) {
        rc = tm_buf_adds(out, "<footer>Xuất bản lúc ");
    }
    if (rc == 0) {
        if (published_utc > 0 && tm_date_format_display(published_utc, utc_offset_s, when) == 0) {
            rc = tm_buf_adds(out, when);
        } else {
            rc = tm_buf_adds(out, "—");
        }
    }
    if (rc == 0) {
        rc = tm_buf_printf(out,
                           " · tinmoi %s · <a href=\"/metrics\">metrics</a> · "
                           "<a href=\"/healthz\">healthz</a></footer>\n</body></html>\n",
                           TINMOI_VERSION);
    }
    json_decref(doc);
    return rc != 0 ? rc : status;
}
