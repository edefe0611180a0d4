/* A hand-built merged list for the writer and publisher tests: four
 * sources in three categories, six items, three stories (newest first).
 *
 *  story 1 (district): primary item 0 "huyen-nhu-thanh", also carried by
 *          tinh-thanh-hoa (item 1) and huyen-khac (items 2 and 3);
 *          published 2022-05-31T03:55:00Z = 31/05/2022 10:55 SA at +07:00.
 *  story 2 (ministry): item 4, summary only, published
 *          2022-05-30T10:53:00Z (30/05/2022 5:53 CH), updated 2022-06-01.
 *  story 3 (province): item 5 with no link, summary or content,
 *          published 2022-01-31T05:19:00Z (31/01/2022 12:19 CH). */
#ifndef TM_TEST_PUBLISH_FIXTURE_H
#define TM_TEST_PUBLISH_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "tinmoi/config.h"
#include "tinmoi/date.h"
#include "tinmoi/feed.h"
#include "tinmoi/item.h"
#include "tinmoi/source.h"

#define FX_TITLE_0 "Kế hoạch <chuyển đổi số> & \"AT&T\" năm 2022"
#define FX_LINK_0 "http://nhuthanh.thanhhoa.gov.vn/tin/1?a=1&b=2"
#define FX_SUMMARY_0 "<p>Tóm tắt &amp; <b>đậm</b></p>"
#define FX_CONTENT_0 "<p>Nội dung đầy đủ &lt;script&gt;</p>"

struct fixture {
    struct tm_config cfg;
    struct tm_source sources[4];
    struct tm_source_state states[4];
    struct tm_item items[6];
    struct tm_story stories[3];
    size_t members0[4];
    size_t members1[1];
    size_t members2[1];
    char *cats0[2];
};

static inline void fx_source(struct tm_source *s, char *id, char *title, char *url, char *html,
                             char *cat)
{
    memset(s, 0, sizeof *s);
    s->id = id;
    s->title = title;
    s->url = url;
    s->html_url = html;
    s->category = cat;
    s->dates.utc_offset_s = TM_DATE_DEFAULT_OFFSET_S;
}

static inline void fx_item(struct tm_item *it, char *source_id, char *title, char *link,
                           int64_t published_utc)
{
    memset(it, 0, sizeof *it);
    it->source_id = source_id;
    it->title = title;
    it->link = link;
    it->published_utc = published_utc;
    it->updated_utc = TM_TIME_NONE;
    it->first_seen_utc = published_utc;
}

/* Everything points at string literals: nothing to free. */
static inline void fx_init(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    f->cfg.title = (char *)"Tin mới nhất";
    f->cfg.public_url = (char *)"http://127.0.0.1:8080/";
    f->cfg.latest_limit = 2;
    f->cfg.items_limit = 50;
    f->cfg.utc_offset_s = 7 * 3600;
    f->cfg.sources = f->sources;
    f->cfg.n_sources = 4;
    fx_source(&f->sources[0], (char *)"huyen-nhu-thanh", (char *)"Huyện Như Thanh",
              (char *)"http://127.0.0.1:9/nhuthanh.rss", (char *)"http://nhuthanh.thanhhoa.gov.vn/",
              (char *)"district");
    fx_source(&f->sources[1], (char *)"tinh-thanh-hoa", (char *)"Tỉnh Thanh Hóa",
              (char *)"http://127.0.0.1:9/thanhhoa.rss", NULL, (char *)"province");
    fx_source(&f->sources[2], (char *)"bo-tttt", (char *)"Bộ Thông tin và Truyền thông",
              (char *)"http://127.0.0.1:9/mic.atom", NULL, (char *)"ministry");
    fx_source(&f->sources[3], (char *)"huyen-khac", (char *)"Huyện Khác",
              (char *)"http://127.0.0.1:9/khac.rss", NULL, (char *)"district");
    for (int i = 0; i < 4; i++) {
        f->states[i].last_attempt_utc = TM_TIME_NONE;
        f->states[i].last_success_utc = TM_TIME_NONE;
    }
    f->states[0].status = TM_SOURCE_OK;
    f->states[0].last_success_utc = tm_date_from_civil(2022, 5, 31, 4, 0, 0);
    f->states[0].item_count = 1;
    f->states[1].status = TM_SOURCE_ERROR;
    f->states[1].last_error = (char *)"HTTP 500";
    f->states[1].consecutive_failures = 3;
    f->states[1].item_count = 2;

    fx_item(&f->items[0], (char *)"huyen-nhu-thanh", (char *)FX_TITLE_0, (char *)FX_LINK_0,
            tm_date_from_civil(2022, 5, 31, 3, 55, 0));
    f->items[0].summary = (char *)FX_SUMMARY_0;
    f->items[0].content = (char *)FX_CONTENT_0;
    f->items[0].author = (char *)"Ban biên tập";
    f->cats0[0] = (char *)"Chuyển đổi số";
    f->cats0[1] = (char *)"Tin tức";
    f->items[0].categories = f->cats0;
    f->items[0].n_categories = 2;
    fx_item(&f->items[1], (char *)"tinh-thanh-hoa", (char *)"Kế hoạch chuyển đổi số năm 2022",
            (char *)"http://thanhhoa.gov.vn/tin/9", tm_date_from_civil(2022, 5, 31, 4, 0, 0));
    fx_item(&f->items[2], (char *)"huyen-khac", (char *)"Kế hoạch chuyển đổi số năm 2022",
            (char *)"http://khac.gov.vn/a", tm_date_from_civil(2022, 5, 31, 4, 10, 0));
    fx_item(&f->items[3], (char *)"huyen-khac", (char *)"Kế hoạch chuyển đổi số năm 2022!",
            (char *)"http://khac.gov.vn/b", tm_date_from_civil(2022, 5, 31, 4, 20, 0));
    fx_item(&f->items[4], (char *)"bo-tttt", (char *)"Hội nghị trực tuyến",
            (char *)"http://mic.gov.vn/hoi-nghi", tm_date_from_civil(2022, 5, 30, 10, 53, 0));
    f->items[4].summary = (char *)"Hội nghị <i>trực tuyến</i> toàn quốc";
    f->items[4].updated_utc = tm_date_from_civil(2022, 6, 1, 0, 0, 0);
    fx_item(&f->items[5], (char *)"tinh-thanh-hoa", (char *)"Thông báo nghỉ lễ", NULL,
            tm_date_from_civil(2022, 1, 31, 5, 19, 0));

    f->members0[0] = 0;
    f->members0[1] = 1;
    f->members0[2] = 2;
    f->members0[3] = 3;
    f->members1[0] = 4;
    f->members2[0] = 5;
    f->stories[0] = (struct tm_story){.primary = 0,
                                      .members = f->members0,
                                      .n_members = 4,
                                      .entry_id = (char *)"urn:tinmoi:story:1",
                                      .sort_utc = f->items[0].published_utc};
    f->stories[1] = (struct tm_story){.primary = 4,
                                      .members = f->members1,
                                      .n_members = 1,
                                      .entry_id = (char *)"urn:tinmoi:story:2",
                                      .sort_utc = f->items[4].published_utc};
    f->stories[2] = (struct tm_story){.primary = 5,
                                      .members = f->members2,
                                      .n_members = 1,
                                      .entry_id = (char *)"urn:tinmoi:story:3",
                                      .sort_utc = f->items[5].published_utc};
}

#endif
