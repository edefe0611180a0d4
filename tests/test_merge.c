/* Tests of the cross-source merge (SPEC §7): which items are one story, the
 * primary, the stable entry id, the order, and the cost at 100,000 items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tinmoi/error.h"
#include "tinmoi/identity.h"
#include "tinmoi/item.h"
#include "tinmoi/merge.h"

#define HOUR (3600)
#define T0 INT64_C(1653969300) /* 2022-05-31T03:55:00Z */
#define PUBLIC_URL "http://127.0.0.1:8080/"

static char *dup_or_null(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    assert_non_null(d);
    memcpy(d, s, n);
    return d;
}

/* Fills items[i] as the store would: canonical link, normalised title and
 * key computed, published and first seen given. */
static void set_item(struct tm_item *it, int64_t rowid, const char *source, int priority,
                     const char *title, const char *link, int64_t published_utc,
                     int64_t first_seen_utc, const char *entry_id)
{
    memset(it, 0, sizeof *it);
    it->rowid = rowid;
    it->source_id = dup_or_null(source);
    it->source_priority = priority;
    it->title = dup_or_null(title);
    it->link = dup_or_null(link);
    it->canonical_link = tm_link_canonical(link);
    it->norm_title = tm_title_normalize(title);
    it->key = tm_item_key(NULL, it->canonical_link, title, published_utc);
    it->published_utc = published_utc;
    it->first_seen_utc = first_seen_utc;
    it->entry_id = dup_or_null(entry_id);
}

static struct tm_item *new_items(size_t n)
{
    struct tm_item *items = calloc(n, sizeof *items);
    assert_non_null(items);
    return items;
}

static void merge_ok(struct tm_item *items, size_t n, struct tm_story **st, size_t *n_st)
{
    struct tm_merge_opts o = {.public_url = PUBLIC_URL};
    assert_int_equal(tm_merge(items, n, &o, st, n_st), 0);
}

/* The story holding the item with `rowid`. */
static const struct tm_story *story_of(const struct tm_item *items, const struct tm_story *st,
                                       size_t n_st, int64_t rowid)
{
    for (size_t s = 0; s < n_st; s++) {
        for (size_t m = 0; m < st[s].n_members; m++) {
            if (items[st[s].members[m]].rowid == rowid)
                return &st[s];
        }
    }
    fail_msg("rowid %lld is in no story", (long long)rowid);
    return NULL;
}

static void assert_together(const struct tm_item *items, const struct tm_story *st, size_t n_st,
                            int64_t a, int64_t b)
{
    if (story_of(items, st, n_st, a) != story_of(items, st, n_st, b))
        fail_msg("rowids %lld and %lld should be one story", (long long)a, (long long)b);
}

static void assert_apart(const struct tm_item *items, const struct tm_story *st, size_t n_st,
                         int64_t a, int64_t b)
{
    if (story_of(items, st, n_st, a) == story_of(items, st, n_st, b))
        fail_msg("rowids %lld and %lld should be two stories", (long long)a, (long long)b);
}

static const char *LONG_TITLE = "Ủy ban nhân dân tỉnh Thanh Hóa tổ chức hội nghị tổng kết công "
                                "tác chuyển đổi số năm 2022";
static const char *LONG_TITLE_PLUS = "Ủy ban nhân dân tỉnh Thanh Hóa tổ chức hội nghị tổng kết "
                                     "công tác chuyển đổi số năm 2022 và triển khai";

static void test_two_plans_are_two_stories(void **state)
{
    (void)state;
    struct tm_item *items = new_items(2);
    set_item(&items[0], 1, "xay-dung", 0, "Kế hoạch chuyển đổi số ngành xây dựng",
             "https://sxd.thanhhoa.gov.vn/1", T0, T0, NULL);
    set_item(&items[1], 2, "y-te", 0, "Kế hoạch chuyển đổi số ngành y tế",
             "https://syt.thanhhoa.gov.vn/1", T0, T0, NULL);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 2, &st, &n_st);
    assert_int_equal(n_st, 2);
    tm_stories_free(st, n_st);
    tm_items_free(items, 2);
}

static void test_similar_titles_within_window(void **state)
{
    (void)state;
    struct tm_item *items = new_items(4);
    set_item(&items[0], 1, "tinh", 0, LONG_TITLE, "https://thanhhoa.gov.vn/a", T0, T0, NULL);
    set_item(&items[1], 2, "huyen", 0, LONG_TITLE_PLUS, "https://nhuthanh.gov.vn/b", T0 + 71 * HOUR,
             T0 + 71 * HOUR, NULL);
    /* The same pair, 73 hours apart. */
    set_item(&items[2], 3, "bo", 0, LONG_TITLE, "https://mic.gov.vn/c", T0 + 1000 * HOUR,
             T0 + 1000 * HOUR, NULL);
    set_item(&items[3], 4, "so", 0, LONG_TITLE_PLUS, "https://stttt.gov.vn/d", T0 + 1073 * HOUR,
             T0 + 1073 * HOUR, NULL);
    assert_true(tm_title_similarity(items[0].norm_title, items[1].norm_title) >= 0.85);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 4, &st, &n_st);
    assert_int_equal(n_st, 3);
    assert_together(items, st, n_st, 1, 2);
    assert_apart(items, st, n_st, 3, 4);
    tm_stories_free(st, n_st);

    /* A stricter threshold keeps them apart. */
    struct tm_merge_opts o = {.similarity = 0.99, .public_url = PUBLIC_URL};
    assert_int_equal(tm_merge(items, 4, &o, &st, &n_st), 0);
    assert_int_equal(n_st, 4);
    tm_stories_free(st, n_st);
    tm_items_free(items, 4);
}

static void test_equal_title_and_forms(void **state)
{
    (void)state;
    struct tm_item *items = new_items(4);
    set_item(&items[0], 1, "a", 0, "NHỮNG LỢI ÍCH của chuyển đổi số", "https://a.vn/1", T0, T0,
             NULL);
    set_item(&items[1], 2, "b", 0,
             "Nhu\xcc\x9b\xcc\x83ng lo\xcc\x9b\xcc\xa3i i\xcc\x81"
             "ch của chuyển đổi số!",
             "https://b.vn/1", T0 + HOUR, T0 + HOUR, NULL);
    /* báo (newspaper) and bão (storm) are different words. */
    set_item(&items[2], 3, "c", 0, "Báo Thanh Hóa đưa tin", "https://c.vn/1", T0, T0, NULL);
    set_item(&items[3], 4, "d", 0, "Bão Thanh Hóa đưa tin", "https://d.vn/1", T0, T0, NULL);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 4, &st, &n_st);
    assert_int_equal(n_st, 3);
    assert_together(items, st, n_st, 1, 2);
    assert_apart(items, st, n_st, 3, 4);
    tm_stories_free(st, n_st);
    tm_items_free(items, 4);
}

static void test_equal_links(void **state)
{
    (void)state;
    struct tm_item *items = new_items(3);
    set_item(&items[0], 1, "a", 0, "Tiêu đề thứ nhất", "http://Bo.gov.vn/tin/1/?utm_source=x", T0,
             T0, NULL);
    set_item(&items[1], 2, "b", 0, "Một tiêu đề hoàn toàn khác", "https://bo.gov.vn/tin/1#top",
             T0 + 500 * HOUR, T0 + 500 * HOUR, NULL);
    set_item(&items[2], 3, "c", 0, "Tiêu đề thứ ba", "https://bo.gov.vn/tin/2", T0, T0, NULL);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 3, &st, &n_st);
    assert_int_equal(n_st, 2);
    assert_together(items, st, n_st, 1, 2); /* links equal: no window */
    tm_stories_free(st, n_st);
    tm_items_free(items, 3);
}

static void test_section_link_not_used(void **state)
{
    (void)state;
    /* Source a links every item to its home page; b happens to link there too. */
    struct tm_item *items = new_items(3);
    set_item(&items[0], 1, "a", 0, "Tin số một về nông nghiệp", "https://a.vn/", T0, T0, NULL);
    set_item(&items[1], 2, "a", 0, "Tin số hai về giáo dục", "https://a.vn/", T0, T0, NULL);
    set_item(&items[2], 3, "b", 0, "Tin số ba về giao thông", "https://a.vn", T0, T0, NULL);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 3, &st, &n_st);
    assert_int_equal(n_st, 3);
    tm_stories_free(st, n_st);
    tm_items_free(items, 3);
}

static void test_same_source_not_merged(void **state)
{
    (void)state;
    /* Source a repeats its weekly title; b carries this week's once. */
    struct tm_item *items = new_items(4);
    set_item(&items[0], 1, "a", 0, "Lịch công tác tuần", "https://a.vn/1", T0, T0, NULL);
    set_item(&items[1], 2, "a", 0, "Lịch công tác tuần", "https://a.vn/2", T0 + 24 * HOUR,
             T0 + 24 * HOUR, NULL);
    set_item(&items[2], 3, "b", 0, "Lịch công tác tuần", "https://b.vn/1", T0 + 20 * HOUR,
             T0 + 20 * HOUR, NULL);
    /* And the same weekly title eight days later is a new story. */
    set_item(&items[3], 4, "b", 0, "Lịch công tác tuần", "https://b.vn/2", T0 + 8 * 24 * HOUR,
             T0 + 8 * 24 * HOUR, NULL);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 4, &st, &n_st);
    assert_int_equal(n_st, 3);
    assert_apart(items, st, n_st, 1, 2);
    assert_together(items, st, n_st, 2, 3); /* 4 hours apart beats 20 */
    assert_apart(items, st, n_st, 3, 4);
    assert_apart(items, st, n_st, 1, 4);
    for (size_t s = 0; s < n_st; s++)
        assert_true(st[s].n_members <= 2);
    tm_stories_free(st, n_st);
    tm_items_free(items, 4);
}

static void test_transitive(void **state)
{
    (void)state;
    /* a~b by link, b~c by title, c~d by similar title: one story of four. */
    struct tm_item *items = new_items(4);
    set_item(&items[0], 1, "a", 0, "Tiêu đề của nguồn a", "https://x.vn/1", T0, T0, NULL);
    set_item(&items[1], 2, "b", 0, LONG_TITLE, "http://x.vn/1/", T0 + HOUR, T0 + HOUR, NULL);
    set_item(&items[2], 3, "c", 0, LONG_TITLE, "https://c.vn/9", T0 + 2 * HOUR, T0 + 2 * HOUR,
             NULL);
    set_item(&items[3], 4, "d", 0, LONG_TITLE_PLUS, "https://d.vn/9", T0 + 3 * HOUR, T0 + 3 * HOUR,
             NULL);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 4, &st, &n_st);
    assert_int_equal(n_st, 1);
    assert_int_equal(st[0].n_members, 4);
    tm_stories_free(st, n_st);
    tm_items_free(items, 4);
}

static void test_primary_selection(void **state)
{
    (void)state;
    struct tm_item *items = new_items(5);
    /* Same title everywhere; the rules decide the order. */
    set_item(&items[0], 10, "huyen", 0, LONG_TITLE, "https://h.vn/1", T0, T0, NULL);
    set_item(&items[1], 11, "tinh", 5, LONG_TITLE, "https://t.vn/1", T0 + 2 * HOUR, T0 + 2 * HOUR,
             NULL);
    set_item(&items[2], 12, "bo", 5, LONG_TITLE, "https://b.vn/1", T0 + HOUR, T0 + 3 * HOUR, NULL);
    set_item(&items[3], 13, "so", 5, LONG_TITLE, "https://s.vn/1", T0 + HOUR, T0 + 2 * HOUR, NULL);
    set_item(&items[4], 9, "xa", 5, LONG_TITLE, "https://x.vn/1", T0 + HOUR, T0 + 2 * HOUR, NULL);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 5, &st, &n_st);
    assert_int_equal(n_st, 1);
    assert_int_equal(st[0].n_members, 5);
    /* priority 5 beats 0; then published T0+1h beats T0+2h; then first seen
     * 2h beats 3h; then rowid 9 beats 13. */
    int64_t want[] = {9, 13, 12, 11, 10};
    for (size_t m = 0; m < 5; m++)
        assert_int_equal(items[st[0].members[m]].rowid, want[m]);
    assert_int_equal(items[st[0].primary].rowid, 9);
    assert_int_equal(st[0].sort_utc, T0 + HOUR);
    char *id = tm_entry_id_new(&items[st[0].primary], PUBLIC_URL);
    assert_string_equal(st[0].entry_id, id);
    free(id);
    tm_stories_free(st, n_st);
    tm_items_free(items, 5);
}

static void test_entry_id_survives_better_primary(void **state)
{
    (void)state;
    struct tm_item *items = new_items(2);
    set_item(&items[0], 1, "huyen", 0, LONG_TITLE, "https://h.vn/1", T0, T0,
             "tag:127.0.0.1,2022-05-31:huyen/0000000000000001");
    /* The province's copy arrives later with a higher priority and an
     * earlier date: it becomes the primary, the id stays. */
    set_item(&items[1], 2, "tinh", 10, LONG_TITLE, "https://t.vn/1", T0 - HOUR, T0 + 5 * HOUR,
             NULL);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 2, &st, &n_st);
    assert_int_equal(n_st, 1);
    assert_int_equal(items[st[0].primary].rowid, 2);
    assert_string_equal(st[0].entry_id, "tag:127.0.0.1,2022-05-31:huyen/0000000000000001");
    tm_stories_free(st, n_st);
    tm_items_free(items, 2);
}

static void test_two_published_stories_merge(void **state)
{
    (void)state;
    /* Two stories were published apart; a new item bridges them. The one
     * seen first keeps its id, the other entry disappears. */
    struct tm_item *items = new_items(3);
    set_item(&items[0], 1, "a", 0, "Tiêu đề của nguồn a hôm nay", "https://x.vn/1", T0, T0 + 200,
             "E-later");
    set_item(&items[1], 2, "b", 0, LONG_TITLE, "https://b.vn/1", T0, T0 + 100, "E-first");
    set_item(&items[2], 3, "c", 0, LONG_TITLE, "https://x.vn/1", T0, T0 + 300, NULL);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 3, &st, &n_st);
    assert_int_equal(n_st, 1);
    assert_string_equal(st[0].entry_id, "E-first");
    tm_stories_free(st, n_st);
    tm_items_free(items, 3);
}

static void test_published_story_never_splits(void **state)
{
    (void)state;
    /* Already published together (an earlier, looser rule), now unrelated. */
    struct tm_item *items = new_items(3);
    set_item(&items[0], 1, "a", 0, "Một", "https://a.vn/1", T0, T0, "E1");
    set_item(&items[1], 2, "b", 0, "Hai", "https://b.vn/1", T0 + 400 * HOUR, T0, "E1");
    set_item(&items[2], 3, "a", 0, "Ba", "https://a.vn/2", T0, T0 + 1, "E1");
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 3, &st, &n_st);
    /* Items 1 and 2 stay one story; item 3 is a second item of source a, so
     * it cannot join and gets an entry of its own. */
    assert_int_equal(n_st, 2);
    assert_together(items, st, n_st, 1, 2);
    const struct tm_story *s1 = story_of(items, st, n_st, 1);
    const struct tm_story *s3 = story_of(items, st, n_st, 3);
    assert_string_equal(s1->entry_id, "E1");
    assert_string_not_equal(s3->entry_id, "E1");
    tm_stories_free(st, n_st);
    tm_items_free(items, 3);
}

static void test_order_and_edges(void **state)
{
    (void)state;
    struct tm_item *items = new_items(4);
    set_item(&items[0], 1, "a", 0, NULL, NULL, T0, T0, "b-id");
    set_item(&items[1], 2, "b", 0, NULL, NULL, T0, T0, "a-id");
    set_item(&items[2], 3, "c", 0, "Tin cũ", NULL, T0 - HOUR, T0, NULL);
    set_item(&items[3], 4, "d", 0, "Tin mới nhất", "https://d.vn/", T0 + HOUR, T0, NULL);
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, 4, &st, &n_st);
    assert_int_equal(n_st, 4);
    assert_int_equal(items[st[0].primary].rowid, 4);
    assert_string_equal(st[1].entry_id, "a-id"); /* same time: by entry id */
    assert_string_equal(st[2].entry_id, "b-id");
    assert_int_equal(items[st[3].primary].rowid, 3);
    tm_stories_free(st, n_st);

    assert_int_equal(tm_merge(items, 0, NULL, &st, &n_st), 0);
    assert_null(st);
    assert_int_equal(n_st, 0);
    struct tm_merge_opts bad = {.similarity = 0.3};
    assert_int_equal(tm_merge(items, 4, &bad, &st, &n_st), TM_EINVAL);
    bad.similarity = 1.5;
    assert_int_equal(tm_merge(items, 4, &bad, &st, &n_st), TM_EINVAL);
    assert_int_equal(tm_merge(NULL, 4, NULL, &st, &n_st), TM_EINVAL);
    assert_int_equal(tm_merge(items, 4, NULL, NULL, &n_st), TM_EINVAL);
    tm_items_free(items, 4);
}

/* ---- generated archives ------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state = rng_state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (uint32_t)(rng_state >> 33);
}

static const char *const SYLLABLES[] = {
    "tỉnh", "huyện", "xã",   "thanh", "hóa",  "như",   "kế",   "hoạch", "chuyển", "đổi",
    "số",   "ngành", "xây",  "dựng",  "y",    "tế",    "giáo", "dục",   "nông",   "nghiệp",
    "công", "tác",   "hội",  "nghị",  "tổng", "kết",   "năm",  "dân",   "ủy",     "ban",
    "sở",   "bộ",    "phát", "triển", "kinh", "văn",   "hóa",  "du",    "lịch",   "đường",
    "cầu",  "mới",   "tin",  "lễ",    "trao", "quyết", "định", "đảng",  "đoàn",   "thể",
};
#define N_SYLLABLES (sizeof SYLLABLES / sizeof SYLLABLES[0])

/* A random title of `words` words, each two syllables (a vocabulary of
 * 2,500 words) so that random titles rarely share a word pair. */
static void random_title(char *buf, size_t cap, int words, const char *prefix)
{
    size_t w = (size_t)snprintf(buf, cap, "%s", prefix);
    for (int i = 0; i < words; i++)
        w += (size_t)snprintf(buf + w, cap - w, " %s%s", SYLLABLES[rng() % N_SYLLABLES],
                              SYLLABLES[rng() % N_SYLLABLES]);
}

static void test_large_archive(void **state)
{
    (void)state;
    /* 100,000 items from 200 sources over 60 days, every title starting with
     * the same words; every fifth item is another source's copy of an
     * earlier one with a word added, published within a day after it. */
    enum { N = 100000, SOURCES = 200 };
    rng_state = 42;
    struct tm_item *items = new_items(N);
    char title[512], src[32], link[64];
    size_t planted = 0;
    for (size_t i = 0; i < N; i++) {
        int64_t t = T0 + (int64_t)(rng() % (60 * 24)) * HOUR;
        if (i % 5 == 4) {
            size_t orig = i - 1 - rng() % (i < 100 ? i : 100);
            while (orig % 5 == 4)
                orig--;
            snprintf(title, sizeof title, "%s nay", items[orig].title);
            /* A source of its own, so the one-per-source rule never bites. */
            snprintf(src, sizeof src, "copy-%zu", i);
            t = items[orig].published_utc + (int64_t)(rng() % 24) * HOUR;
            planted++;
        } else {
            random_title(title, sizeof title, 8 + (int)(rng() % 8), "Tỉnh Thanh Hóa:");
            snprintf(src, sizeof src, "src-%u", rng() % SOURCES);
        }
        snprintf(link, sizeof link, "https://%s.vn/tin/%zu", src, i);
        set_item(&items[i], (int64_t)i + 1, src, 0, title, link, t, t, NULL);
    }
    struct tm_story *st;
    size_t n_st;
    clock_t start = clock();
    merge_ok(items, N, &st, &n_st);
    double cpu_s = (double)(clock() - start) / CLOCKS_PER_SEC;
    print_message("tm_merge: %d items, %zu stories, %.2f s CPU\n", N, n_st, cpu_s);
    assert_int_equal(n_st, N - planted);
    size_t *story_index = malloc(N * sizeof *story_index);
    assert_non_null(story_index);
    for (size_t s = 0; s < n_st; s++) {
        for (size_t m = 0; m < st[s].n_members; m++)
            story_index[st[s].members[m]] = s;
        if (s > 0)
            assert_true(st[s - 1].sort_utc >= st[s].sort_utc);
    }
    free(story_index);
    /* Quick enough for every publish; generous for sanitizer builds. */
    assert_true(cpu_s < 20.0);
    tm_stories_free(st, n_st);
    tm_items_free(items, N);
}

/* Prefix filtering finds exactly what comparing every pair finds. */
static size_t find_root(size_t *p, size_t x)
{
    while (p[x] != x)
        x = p[x] = p[p[x]];
    return x;
}

static void test_matches_all_pairs(void **state)
{
    (void)state;
    enum { N = 1500 };
    rng_state = 7;
    struct tm_item *items = new_items(N);
    char title[512], src[32];
    for (size_t i = 0; i < N; i++) {
        int64_t t = T0 + (int64_t)(rng() % (20 * 24)) * HOUR;
        if (i >= 10 && rng() % 2 == 0) {
            /* Mutate an earlier title: append, drop the last word, or
             * repeat; chains of mutations make transitive stories. */
            const char *base = items[i - 1 - rng() % 10].title;
            switch (rng() % 5) {
            case 0:
                snprintf(title, sizeof title, "%s thêm", base);
                break;
            case 3: /* a word in front: every word pair's position moves */
                snprintf(title, sizeof title, "Mới %s", base);
                break;
            case 4: { /* one word replaced in the middle: two pairs differ */
                snprintf(title, sizeof title, "%s", base);
                char *mid = strchr(title + strlen(title) / 2, ' ');
                if (mid != NULL && mid[1] != '\0')
                    mid[1] = 'X';
                break;
            }
            case 1: {
                snprintf(title, sizeof title, "%s", base);
                char *sp = strrchr(title, ' ');
                if (sp != NULL && sp != strchr(title, ' '))
                    *sp = '\0';
                break;
            }
            default:
                snprintf(title, sizeof title, "%s", base);
            }
        } else {
            random_title(title, sizeof title, 3 + (int)(rng() % 30), "Tin");
        }
        snprintf(src, sizeof src, "s%zu", i);
        set_item(&items[i], (int64_t)i + 1, src, 0, title, NULL, t, t, NULL);
    }
    size_t *p = malloc(N * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < N; i++)
        p[i] = i;
    size_t similar_pairs = 0;
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N; j++) {
            int64_t dt = items[i].published_utc - items[j].published_utc;
            if (dt < 0)
                dt = -dt;
            if (dt > TM_MERGE_DEFAULT_WINDOW_S)
                continue;
            if (tm_title_similarity(items[i].norm_title, items[j].norm_title) + 1e-9 >=
                TM_MERGE_DEFAULT_SIMILARITY) {
                similar_pairs++;
                p[find_root(p, i)] = find_root(p, j);
            }
        }
    }
    assert_true(similar_pairs > 100); /* the test exercises something */
    struct tm_story *st;
    size_t n_st;
    merge_ok(items, N, &st, &n_st);
    size_t roots = 0;
    for (size_t i = 0; i < N; i++)
        roots += find_root(p, i) == i;
    assert_int_equal(n_st, roots);
    for (size_t s = 0; s < n_st; s++) {
        size_t r = find_root(p, st[s].members[0]);
        for (size_t m = 1; m < st[s].n_members; m++)
            assert_int_equal(find_root(p, st[s].members[m]), r);
    }
    free(p);
    tm_stories_free(st, n_st);
    tm_items_free(items, N);
}

/* A publish after new items arrive (the first half already carries the
 * entry ids an earlier merge gave it) groups exactly as a merge of the whole
 * archive from scratch: the pairs of two published items it skips were
 * decided the same way before. */
/* Asserts that two merges of items[0..n) group every pair (i, j) with
 * j - i < span alike, and returns how many such pairs are together. */
static size_t assert_same_stories(const struct tm_story *a, size_t n_a, const struct tm_story *b,
                                  size_t n_b, size_t n, size_t span)
{
    size_t *story_a = calloc(n, sizeof *story_a), *story_b = calloc(n, sizeof *story_b);
    assert_non_null(story_a);
    assert_non_null(story_b);
    for (size_t s = 0; s < n_a; s++)
        for (size_t m = 0; m < a[s].n_members; m++)
            story_a[a[s].members[m]] = s;
    for (size_t s = 0; s < n_b; s++)
        for (size_t m = 0; m < b[s].n_members; m++)
            story_b[b[s].members[m]] = s;
    size_t together = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n && j - i < span; j++) {
            bool f = story_a[i] == story_a[j], g = story_b[i] == story_b[j];
            if (f != g)
                fail_msg("items %zu and %zu: together %d in one merge, %d in the other", i, j, f,
                         g);
            together += f;
        }
    free(story_a);
    free(story_b);
    return together;
}

/* Gives every member of the stories its story's entry id, as the store
 * does after a publish. A story's id may be its member's own string
 * (borrowed), so it is copied before any member's is replaced; the stories'
 * ids are not to be read afterwards. */
static void publish_ids(struct tm_item *items, const struct tm_story *st, size_t n_st)
{
    for (size_t s = 0; s < n_st; s++) {
        char *id = dup_or_null(st[s].entry_id);
        for (size_t m = 0; m < st[s].n_members; m++) {
            free(items[st[s].members[m]].entry_id);
            items[st[s].members[m]].entry_id = dup_or_null(id);
        }
        free(id);
    }
}

/* Merges items[0..half), publishes that, then merges items[0..n) (the
 * incremental merge, *inc) and asserts it groups alike with a full merge
 * of items[0..n) (assert_same_stories over `span`); returns the pairs
 * together. */
static size_t merge_in_halves(struct tm_item *items, size_t n, size_t half, size_t span,
                              struct tm_story **inc, size_t *n_inc)
{
    struct tm_story *full, *first;
    size_t n_full, n_first;
    merge_ok(items, n, &full, &n_full);
    merge_ok(items, half, &first, &n_first);
    publish_ids(items, first, n_first);
    merge_ok(items, n, inc, n_inc);
    assert_int_equal(*n_inc, n_full);
    size_t together = assert_same_stories(full, n_full, *inc, *n_inc, n, span);
    tm_stories_free(full, n_full);
    tm_stories_free(first, n_first);
    return together;
}

/* n items over `days` days from n_sources sources (item i from source
 * i % n_sources), half of them an earlier one of the last ten's title with
 * a word added: chains of similar titles. rng_state is the caller's. */
static struct tm_item *chained_titles(size_t n, int days, size_t n_sources)
{
    struct tm_item *items = new_items(n);
    char title[512], src[32];
    for (size_t i = 0; i < n; i++) {
        int64_t t = T0 + (int64_t)(rng() % ((uint64_t)days * 24)) * HOUR;
        if (i >= 10 && rng() % 2 == 0)
            snprintf(title, sizeof title, "%s thêm", items[i - 1 - rng() % 10].title);
        else
            random_title(title, sizeof title, 3 + (int)(rng() % 10), "Tin");
        snprintf(src, sizeof src, "s%zu", i % n_sources);
        set_item(&items[i], (int64_t)i + 1, src, 0, title, NULL, t, t, NULL);
    }
    return items;
}

static void test_incremental_matches_full(void **state)
{
    (void)state;
    enum { N = 1200, HALF = N / 2 };
    rng_state = 11;
    struct tm_item *items = chained_titles(N, 10, N);
    struct tm_story *inc;
    size_t n_inc;
    /* the test exercises merging */
    assert_true(merge_in_halves(items, N, HALF, 40, &inc, &n_inc) > 20);
    tm_stories_free(inc, n_inc);
    tm_items_free(items, N);
}

/* The same with equal links and equal titles from small pools: a merge
 * that skips the groups without a new item (merge.c, struct hset) finds the
 * stories of a full merge. */
static void test_incremental_links_and_titles(void **state)
{
    (void)state;
    enum { N = 800, HALF = N / 2 };
    rng_state = 29;
    struct tm_item *items = new_items(N);
    char titles[120][256], link[64], src[32];
    for (size_t k = 0; k < 120; k++)
        random_title(titles[k], sizeof titles[k], 4 + (int)(rng() % 6), "Tin");
    for (size_t i = 0; i < N; i++) {
        int64_t t = T0 + (int64_t)(rng() % (8 * 24)) * HOUR;
        snprintf(link, sizeof link, "https://tin.vn/%u", rng() % 300);
        snprintf(src, sizeof src, "s%zu", i);
        set_item(&items[i], (int64_t)i + 1, src, 0, titles[rng() % 120],
                 rng() % 3 == 0 ? link : NULL, t, t, NULL);
    }
    struct tm_story *inc;
    size_t n_inc;
    /* the test exercises merging */
    assert_true(merge_in_halves(items, N, HALF, N, &inc, &n_inc) > 100);
    /* Nothing new: every item keeps its story, and no group is looked at. */
    publish_ids(items, inc, n_inc);
    struct tm_story *again;
    size_t n_again;
    merge_ok(items, N, &again, &n_again);
    assert_int_equal(n_again, n_inc);
    for (size_t s = 0; s < n_again; s++)
        for (size_t m = 0; m < again[s].n_members; m++)
            assert_string_equal(items[again[s].members[m]].entry_id, again[s].entry_id);
    tm_stories_free(inc, n_inc);
    tm_stories_free(again, n_again);
    tm_items_free(items, N);
}

/* The store's way: rows without titles and a title_of that reads them, in
 * row order and once a distinct title, give the stories of the items
 * themselves; an error from title_of ends the merge with it. */
struct title_source {
    const struct tm_item *items; /* rowid r is items[r - 1] */
    size_t calls, fail_at;       /* fail_at: the call that fails; 0 none */
    int64_t last_rowid;
};

static int give_title(void *arg, const struct tm_merge_row *row, const char **title)
{
    struct title_source *ts = arg;
    assert_true(row->rowid > ts->last_rowid); /* in row order */
    ts->last_rowid = row->rowid;
    if (++ts->calls == ts->fail_at)
        return TM_ESTORE;
    *title = ts->items[row->rowid - 1].norm_title;
    return 0;
}

static void test_titles_read_by_callback(void **state)
{
    (void)state;
    enum { N = 600 };
    rng_state = 17;
    struct tm_item *items = chained_titles(N, 5, 40);
    struct tm_story *want, *got;
    size_t n_want, n_got;
    merge_ok(items, N, &want, &n_want);

    struct tm_merge_input in;
    assert_int_equal(tm_merge_input_of(items, N, &in), 0);
    for (size_t i = 0; i < N; i++)
        in.rows[i].norm_title = NULL;
    struct title_source ts = {items, 0, 0, 0};
    struct tm_merge_opts o = {
        .public_url = PUBLIC_URL, .title_of = give_title, .title_of_arg = &ts};
    assert_int_equal(tm_merge_rows(in.rows, N, in.source_ids, in.n_sources, &o, &got, &n_got, NULL),
                     0);
    size_t distinct = 0; /* each title is read once */
    for (size_t i = 0; i < N; i++) {
        size_t j = 0;
        while (j < i && strcmp(items[j].norm_title, items[i].norm_title) != 0)
            j++;
        distinct += j == i;
    }
    assert_true(distinct < N - 10); /* the test repeats titles */
    assert_int_equal(ts.calls, distinct);
    assert_int_equal(n_got, n_want);
    /* the test exercises merging */
    assert_true(assert_same_stories(want, n_want, got, n_got, N, N) > 20);
    for (size_t s = 0; s < n_got; s++)
        assert_string_equal(got[s].entry_id, want[s].entry_id);
    tm_stories_free(got, n_got);

    ts = (struct title_source){items, 0, 5, 0};
    assert_int_equal(tm_merge_rows(in.rows, N, in.source_ids, in.n_sources, &o, &got, &n_got, NULL),
                     TM_ESTORE);
    assert_null(got);
    assert_int_equal(n_got, 0);
    tm_merge_input_clear(&in);
    tm_stories_free(want, n_want);
    tm_items_free(items, N);
}

/* The result does not depend on the order the store returns items in. */
static void test_input_order_irrelevant(void **state)
{
    (void)state;
    enum { N = 600 };
    rng_state = 99;
    struct tm_item *fwd = new_items(N), *rev = new_items(N);
    char title[512], src[32];
    for (size_t i = 0; i < N; i++) {
        int64_t t = T0 + (int64_t)(rng() % (10 * 24)) * HOUR;
        if (i >= 5 && rng() % 2 == 0)
            snprintf(title, sizeof title, "%s", fwd[i - 1 - rng() % 5].title);
        else
            random_title(title, sizeof title, 2 + (int)(rng() % 6), "Tin");
        snprintf(src, sizeof src, "s%u", rng() % 8);
        set_item(&fwd[i], (int64_t)i + 1, src, (int)(rng() % 3), title, NULL, t, t, NULL);
        set_item(&rev[N - 1 - i], (int64_t)i + 1, src, fwd[i].source_priority, title, NULL, t, t,
                 NULL);
    }
    struct tm_story *a, *b;
    size_t na, nb;
    merge_ok(fwd, N, &a, &na);
    merge_ok(rev, N, &b, &nb);
    assert_int_equal(na, nb);
    assert_true(na < N); /* some stories merged */
    for (size_t s = 0; s < na; s++) {
        assert_string_equal(a[s].entry_id, b[s].entry_id);
        assert_int_equal(a[s].n_members, b[s].n_members);
        for (size_t m = 0; m < a[s].n_members; m++)
            assert_int_equal(fwd[a[s].members[m]].rowid, rev[b[s].members[m]].rowid);
    }
    tm_stories_free(a, na);
    tm_stories_free(b, nb);
    tm_items_free(fwd, N);
    tm_items_free(rev, N);
}

/* Thousands of sources carrying the same title within an hour ("Thông
 * báo"): one story, found from a few pairs an item, not from every pair. */
static void test_flood_of_one_title(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct tm_item *items = new_items(N);
    char src[32], link[64];
    for (size_t i = 0; i < N; i++) {
        snprintf(src, sizeof src, "s%zu", i);
        snprintf(link, sizeof link, "https://s%zu.vn/thong-bao", i);
        int64_t t = T0 + (int64_t)((i * 7919) % 3600);
        set_item(&items[i], (int64_t)i + 1, src, 0, "Thông báo", link, t, t, NULL);
    }
    struct tm_story *st;
    size_t n_st;
    struct tm_merge_stats stats = {99};
    struct tm_merge_opts o = {.public_url = PUBLIC_URL};
    clock_t start = clock();
    assert_int_equal(tm_merge_ex(items, N, &o, &st, &n_st, &stats), 0);
    double cpu_s = (double)(clock() - start) / CLOCKS_PER_SEC;
    print_message("tm_merge: %d items of one title, %.2f s CPU\n", N, cpu_s);
    assert_int_equal(n_st, 1);
    assert_int_equal(st[0].n_members, N);
    assert_int_equal(stats.pairs_dropped, 0);
    assert_true(cpu_s < 5.0);
    tm_stories_free(st, n_st);
    tm_items_free(items, N);
}

/* Two sources that each repeat one title a thousand times within a day:
 * the one-per-source rule still holds, each item pairs with the other
 * source's nearest one, and nothing is dropped. */
static void test_flood_of_two_sources(void **state)
{
    (void)state;
    enum { N = 2000 };
    struct tm_item *items = new_items(N);
    for (size_t i = 0; i < N; i++) {
        int64_t t = T0 + (int64_t)i * 40;
        set_item(&items[i], (int64_t)i + 1, i % 2 == 0 ? "a" : "b", 0, "Lịch công tác tuần", NULL,
                 t, t, NULL);
    }
    struct tm_story *st;
    size_t n_st;
    struct tm_merge_stats stats;
    struct tm_merge_opts o = {.public_url = PUBLIC_URL};
    assert_int_equal(tm_merge_ex(items, N, &o, &st, &n_st, &stats), 0);
    assert_int_equal(stats.pairs_dropped, 0);
    assert_int_equal(n_st, N / 2);
    for (size_t i = 0; i < N; i += 2)
        assert_together(items, st, n_st, (int64_t)i + 1, (int64_t)i + 2);
    tm_stories_free(st, n_st);
    tm_items_free(items, N);
}

/* Past the pair cap the similar-title rule stops, the merge still succeeds
 * and says how many pairs it dropped; the equal-title rule is not cut. */
static void test_pair_cap_reported(void **state)
{
    (void)state;
    enum { N = 400 };
    struct tm_item *items = new_items(N);
    char title[512], src[32];
    for (size_t i = 0; i < N; i++) {
        /* Titles differing in their last word only: every two are similar. */
        snprintf(title, sizeof title, "%s biến thể số %zu",
                 i < N - 2 ? LONG_TITLE : "Lịch công tác tuần của ủy ban", i < N - 2 ? i : 0);
        snprintf(src, sizeof src, "s%zu", i);
        int64_t t = T0 + (int64_t)i;
        set_item(&items[i], (int64_t)i + 1, src, 0, title, NULL, t, t, NULL);
    }
    struct tm_story *st;
    size_t n_st;
    struct tm_merge_stats stats;
    struct tm_merge_opts o = {.public_url = PUBLIC_URL, .max_pairs = 100};
    assert_int_equal(tm_merge_ex(items, N, &o, &st, &n_st, &stats), 0);
    assert_true(stats.pairs_dropped > 0);
    assert_true(n_st > 1);                      /* some similar items were left apart */
    assert_together(items, st, n_st, N - 1, N); /* equal titles still merge */
    tm_stories_free(st, n_st);
    /* The default cap holds them all: one story of the similar ones. */
    o.max_pairs = 0;
    assert_int_equal(tm_merge_ex(items, N, &o, &st, &n_st, &stats), 0);
    assert_int_equal(stats.pairs_dropped, 0);
    assert_int_equal(n_st, 2);
    /* tm_merge, without stats, succeeds the same way under the small cap. */
    tm_stories_free(st, n_st);
    o.max_pairs = 100;
    assert_int_equal(tm_merge(items, N, &o, &st, &n_st), 0);
    assert_true(n_st > 2);
    tm_stories_free(st, n_st);
    tm_items_free(items, N);
}

/* Two merges gave the very same stories: order, members, primaries, ids. */
static void assert_identical(const struct tm_story *a, size_t n_a, const struct tm_story *b,
                             size_t n_b)
{
    assert_int_equal(n_a, n_b);
    for (size_t s = 0; s < n_a; s++) {
        assert_int_equal(a[s].primary, b[s].primary);
        assert_int_equal(a[s].n_members, b[s].n_members);
        assert_memory_equal(a[s].members, b[s].members, a[s].n_members * sizeof *a[s].members);
        assert_string_equal(a[s].entry_id, b[s].entry_id);
        assert_int_equal(a[s].sort_utc, b[s].sort_utc);
    }
}

/* Merges items[0..n) on 1 thread and on each of `threads`, and asserts
 * the stories and the dropped pairs are the same. */
static void assert_threads_alike(const struct tm_item *items, size_t n, size_t max_pairs)
{
    struct tm_merge_opts o = {.public_url = PUBLIC_URL, .max_pairs = max_pairs, .threads = 1};
    struct tm_merge_stats one_stats, stats;
    struct tm_story *one, *st;
    size_t n_one, n_st;
    assert_int_equal(tm_merge_ex(items, n, &o, &one, &n_one, &one_stats), 0);
    const unsigned threads[] = {2, 3, TM_MERGE_MAX_THREADS, TM_MERGE_MAX_THREADS + 1};
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        o.threads = threads[t];
        assert_int_equal(tm_merge_ex(items, n, &o, &st, &n_st, &stats), 0);
        assert_identical(one, n_one, st, n_st);
        assert_int_equal(stats.pairs_dropped, one_stats.pairs_dropped);
        tm_stories_free(st, n_st);
    }
    tm_stories_free(one, n_one);
}

/* The similar-title lookups shared between threads find what one thread
 * finds, whole and after half the items were published (then titles
 * without a new item look only among those with one). */
static void test_threads_change_nothing(void **state)
{
    (void)state;
    enum { N = 3000, HALF = N / 2 };
    rng_state = 23;
    struct tm_item *items = chained_titles(N, 10, N / 3);
    struct tm_story *first;
    size_t n_first;
    assert_threads_alike(items, N, 0);
    merge_ok(items, HALF, &first, &n_first);
    publish_ids(items, first, n_first);
    tm_stories_free(first, n_first);
    assert_threads_alike(items, N, 0);
    tm_items_free(items, N);
}

/* Past the pair cap the pairs kept are the ones one thread keeps: the
 * first found, in the same order. */
static void test_threads_keep_the_same_pairs(void **state)
{
    (void)state;
    enum { N = 400 };
    struct tm_item *items = new_items(N);
    char title[512], src[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(title, sizeof title, "%s biến thể số %zu", LONG_TITLE, i);
        snprintf(src, sizeof src, "s%zu", i);
        int64_t t = T0 + (int64_t)i;
        set_item(&items[i], (int64_t)i + 1, src, 0, title, NULL, t, t, NULL);
    }
    const size_t caps[] = {1, 100, 5000, 79000, 79800};
    for (size_t k = 0; k < sizeof caps / sizeof *caps; k++)
        assert_threads_alike(items, N, caps[k]);
    tm_items_free(items, N);
}

/* Two stories whose new entry ids collide (one source, one key: the merge
 * never joins a source's items): the one whose primary has the lower rowid
 * gets the id, the other the id with "~2", whatever the input's order. */
static void test_colliding_ids_by_rowid(void **state)
{
    (void)state;
    for (int reversed = 0; reversed < 2; reversed++) {
        struct tm_item *items = new_items(2);
        set_item(&items[reversed ? 1 : 0], 2, "s", 0, "Một tin", "https://a.vn/x", T0, T0, NULL);
        set_item(&items[reversed ? 0 : 1], 1, "s", 0, "Hai tin khác hẳn", "https://a.vn/x", T0 + 60,
                 T0, NULL);
        struct tm_story *st;
        size_t n_st;
        merge_ok(items, 2, &st, &n_st);
        assert_int_equal(n_st, 2);
        const struct tm_story *one = story_of(items, st, n_st, 1);
        const struct tm_story *two = story_of(items, st, n_st, 2);
        size_t len = strlen(one->entry_id);
        assert_int_equal(strlen(two->entry_id), len + 2);
        assert_memory_equal(two->entry_id, one->entry_id, len);
        assert_string_equal(two->entry_id + len, "~2");
        tm_stories_free(st, n_st);
        tm_items_free(items, 2);
    }
}

/* The ids to write back: the members whose id differs from their story's,
 * in rowid order; members already carrying it and stories without an id
 * write nothing. */
static void test_id_writes(void **state)
{
    (void)state;
    struct tm_item *items = new_items(4);
    set_item(&items[0], 40, "a", 0, "Một", NULL, T0, T0, "tag:x");
    set_item(&items[1], 10, "b", 0, "Hai", NULL, T0, T0, NULL);
    set_item(&items[2], 30, "c", 0, "Ba", NULL, T0, T0, "tag:old");
    set_item(&items[3], 20, "d", 0, "Bốn", NULL, T0, T0, NULL);
    struct tm_merge_input in;
    assert_int_equal(tm_merge_input_of(items, 4, &in), 0);
    size_t m_x[] = {0, 2, 3}, m_none[] = {1};
    struct tm_story st[] = {
        {.members = m_x, .n_members = 3, .entry_id = "tag:x"},
        {.members = m_none, .n_members = 1, .entry_id = NULL},
    };
    struct tm_merge_id_write *w;
    size_t n;
    assert_int_equal(tm_merge_id_writes(in.rows, st, 2, &w, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(w[0].rowid, 20);
    assert_string_equal(w[0].entry_id, "tag:x");
    assert_int_equal(w[1].rowid, 30);
    assert_string_equal(w[1].entry_id, "tag:x");
    free(w);
    assert_int_equal(tm_merge_id_writes(in.rows, st + 1, 1, &w, &n), 0);
    assert_int_equal(n, 0);
    assert_null(w);
    tm_merge_input_clear(&in);
    tm_items_free(items, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_plans_are_two_stories),
        cmocka_unit_test(test_similar_titles_within_window),
        cmocka_unit_test(test_equal_title_and_forms),
        cmocka_unit_test(test_equal_links),
        cmocka_unit_test(test_section_link_not_used),
        cmocka_unit_test(test_same_source_not_merged),
        cmocka_unit_test(test_transitive),
        cmocka_unit_test(test_primary_selection),
        cmocka_unit_test(test_entry_id_survives_better_primary),
        cmocka_unit_test(test_two_published_stories_merge),
        cmocka_unit_test(test_published_story_never_splits),
        cmocka_unit_test(test_order_and_edges),
        cmocka_unit_test(test_matches_all_pairs),
        cmocka_unit_test(test_input_order_irrelevant),
        cmocka_unit_test(test_titles_read_by_callback),
        cmocka_unit_test(test_incremental_matches_full),
        cmocka_unit_test(test_incremental_links_and_titles),
        cmocka_unit_test(test_large_archive),
        cmocka_unit_test(test_flood_of_one_title),
        cmocka_unit_test(test_flood_of_two_sources),
        cmocka_unit_test(test_pair_cap_reported),
        cmocka_unit_test(test_threads_change_nothing),
        cmocka_unit_test(test_threads_keep_the_same_pairs),
        cmocka_unit_test(test_id_writes),
        cmocka_unit_test(test_colliding_ids_by_rowid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
