/* Tests of canonical links, normalised titles, similarity, keys and entry
 * ids (SPEC §7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tinmoi/feed.h"
#include "tinmoi/identity.h"
#include "tinmoi/item.h"

#include "identity_int.h"
#include "xorshift.h"

/* printf's %s with NULL is undefined. */
static const char *show(const char *s)
{
    return s != NULL ? s : "(null)";
}

static void assert_canonical(const char *in, const char *want)
{
    char *got = tm_link_canonical(in);
    if (want == NULL) {
        if (got != NULL)
            fail_msg("%s: expected NULL, got %s", show(in), got);
    } else {
        if (got == NULL)
            fail_msg("%s: expected %s, got NULL", in, want);
        if (strcmp(got, want) != 0)
            fail_msg("%s: expected %s, got %s", in, want, got);
    }
    free(got);
}

static void assert_same_link(const char *a, const char *b)
{
    char *ca = tm_link_canonical(a), *cb = tm_link_canonical(b);
    assert_non_null(ca);
    assert_non_null(cb);
    if (strcmp(ca, cb) != 0)
        fail_msg("%s -> %s differs from %s -> %s", a, ca, b, cb);
    free(ca);
    free(cb);
}

static void assert_norm(const char *in, const char *want)
{
    char *got = tm_title_normalize(in);
    if (want == NULL) {
        if (got != NULL)
            fail_msg("[%s]: expected NULL, got [%s]", show(in), got);
    } else {
        if (got == NULL)
            fail_msg("[%s]: expected [%s], got NULL", in, want);
        if (strcmp(got, want) != 0)
            fail_msg("[%s]: expected [%s], got [%s]", in, want, got);
    }
    free(got);
}

static void test_link_tracking_params(void **state)
{
    (void)state;
    assert_canonical("https://thanhhoa.gov.vn/tin?utm_source=fb&id=5&utm_medium=social&p=2",
                     "https://thanhhoa.gov.vn/tin?id=5&p=2");
    assert_canonical("https://a.vn/x?fbclid=IwAR0&gclid=abc&mc_cid=1&mc_eid=2", "https://a.vn/x");
    assert_canonical("https://a.vn/x?UTM_Campaign=x&b=1", "https://a.vn/x?b=1");
    /* Parameters that merely contain the names stay. */
    assert_canonical("https://a.vn/x?my_utm_source=1&gclidx=2",
                     "https://a.vn/x?my_utm_source=1&gclidx=2");
    assert_canonical("https://a.vn/x?a=1&&b=2", "https://a.vn/x?a=1&b=2");
    assert_canonical("https://a.vn/x?", "https://a.vn/x");
}

static void test_link_case_port_fragment(void **state)
{
    (void)state;
    assert_canonical("HTTPS://ThanhHoa.GOV.vn/Tin-Tuc/Bai-1.html",
                     "https://thanhhoa.gov.vn/Tin-Tuc/Bai-1.html");
    assert_canonical("http://a.vn:80/x", "https://a.vn/x");
    assert_canonical("https://a.vn:443/x", "https://a.vn/x");
    assert_canonical("https://a.vn:8443/x", "https://a.vn:8443/x");
    assert_canonical("http://a.vn:8080/x", "https://a.vn:8080/x");
    assert_canonical("https://a.vn/x#binh-luan", "https://a.vn/x");
    assert_canonical("https://a.vn/x?id=1#top", "https://a.vn/x?id=1");
    assert_same_link("http://a.vn/tin/1", "https://a.vn/tin/1");
}

static void test_link_path(void **state)
{
    (void)state;
    assert_canonical("https://a.vn/tin/", "https://a.vn/tin");
    assert_canonical("https://a.vn/", "https://a.vn/");
    assert_canonical("https://a.vn", "https://a.vn/");
    assert_canonical("https://a.vn/a/../b/./c", "https://a.vn/b/c");
    /* Raw UTF-8 and its percent-encoding (either case) are one link. */
    assert_same_link("https://a.vn/tin-tức?q=á", "https://a.vn/tin-t%e1%bb%a9c?q=%C3%A1");
    assert_canonical("https://a.vn/tin-tức", "https://a.vn/tin-t%E1%BB%A9c");
    assert_canonical("https://a.vn/a b", "https://a.vn/a%20b");
}

static void test_link_idn_host(void **state)
{
    (void)state;
    assert_canonical("https://BỘ.Ví-DỤ.VN/Tin", "https://bộ.ví-dụ.vn/Tin");
    assert_same_link("http://XÂYDỰNG.vn/a/", "https://xâydựng.vn/a");
}

static void test_link_rejects(void **state)
{
    (void)state;
    assert_canonical(NULL, NULL);
    assert_canonical("", NULL);
    assert_canonical("ftp://a.vn/x", NULL);
    assert_canonical("javascript:alert(1)", NULL);
    assert_canonical("mailto:a@b.vn", NULL);
    assert_canonical("/relative/path", NULL);
    assert_canonical("not a url", NULL);
}

static void test_title_case_and_forms(void **state)
{
    (void)state;
    /* NFD: ữ = u + horn + tilde, ợ = o + horn + dot below, í = i + acute. */
    const char *nfd = "Nhu\xcc\x9b\xcc\x83ng lo\xcc\x9b\xcc\xa3i i\xcc\x81"
                      "ch";
    assert_norm(nfd, "những lợi ích");
    assert_norm("Những lợi ích", "những lợi ích");
    assert_norm("NHỮNG LỢI ÍCH", "những lợi ích");
    assert_norm("ĐẢNG BỘ HUYỆN", "đảng bộ huyện");
    assert_norm("Straße", "strasse");
}

static void test_title_punctuation_space(void **state)
{
    (void)state;
    assert_norm("  Những   lợi ích —  của “AI”!  ", "những lợi ích của ai");
    assert_norm("Thanh Hóa: kế hoạch 2022-2025 (dự thảo)…", "thanh hóa kế hoạch 2022 2025 dự thảo");
    assert_norm("a\tb\nc\u00a0d", "a b c d");
    assert_norm("tin\u00admới", "tinmới"); /* soft hyphen is ignorable */
    assert_norm("10% + 5$ = ?", "10 5");
    assert_norm("...", NULL);
    assert_norm("", NULL);
    assert_norm(NULL, NULL);
    assert_norm("\xff\xfe", NULL);
}

static void test_title_diacritics_kept(void **state)
{
    (void)state;
    char *a = tm_title_normalize("Báo Thanh Hóa");
    char *b = tm_title_normalize("Bão Thanh Hóa");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, "báo thanh hóa");
    assert_string_equal(b, "bão thanh hóa");
    assert_true(tm_title_similarity(a, b) < 0.85);
    free(a);
    free(b);
}

static void test_similarity(void **state)
{
    (void)state;
    char *a = tm_title_normalize("Kế hoạch chuyển đổi số ngành xây dựng");
    char *b = tm_title_normalize("Kế hoạch chuyển đổi số ngành y tế");
    /* 5 shared word pairs out of 9 distinct. */
    assert_float_equal(tm_title_similarity(a, b), 5.0 / 9.0, 1e-12);
    free(a);
    free(b);

    a = tm_title_normalize("Ủy ban nhân dân tỉnh Thanh Hóa tổ chức hội nghị tổng kết công tác "
                           "chuyển đổi số năm 2022");
    b = tm_title_normalize("Ủy ban nhân dân tỉnh Thanh Hóa tổ chức hội nghị tổng kết công tác "
                           "chuyển đổi số năm 2022 và triển khai");
    double s = tm_title_similarity(a, b);
    assert_true(s >= 0.85);
    assert_true(s < 1.0);
    assert_float_equal(tm_title_similarity(a, a), 1.0, 0);
    assert_float_equal(tm_title_similarity(a, NULL), 0.0, 0);
    assert_float_equal(tm_title_similarity("", a), 0.0, 0);
    free(a);
    free(b);

    /* One-word titles compare as word sets. */
    assert_float_equal(tm_title_similarity("thanh", "thanh"), 1.0, 0);
    assert_float_equal(tm_title_similarity("thanh", "thanh hóa"), 0.5, 1e-12);
    assert_float_equal(tm_title_similarity("thanh", "hóa"), 0.0, 0);
    /* Word order matters: pairs, not bags of words. */
    assert_true(tm_title_similarity("a b c d", "d c b a") < 0.1);
}

static void test_published_rules(void **state)
{
    (void)state;
    assert_int_equal(tm_item_published_utc(TM_TIME_NONE, 1000), 1000);
    assert_int_equal(tm_item_published_utc(500, 1000), 500);
    assert_int_equal(tm_item_published_utc(1000 + 86400, 1000), 1000 + 86400);
    assert_int_equal(tm_item_published_utc(1000 + 86401, 1000), 1000);
}

static void test_item_keys(void **state)
{
    (void)state;
    char *k = tm_item_key("urn:x:1", "https://a.vn/1", "T", 5);
    assert_string_equal(k, "g:urn:x:1");
    free(k);
    k = tm_item_key(NULL, "https://a.vn/1", "T", 5);
    assert_string_equal(k, "l:https://a.vn/1");
    free(k);
    k = tm_item_key("", "https://a.vn/1", "T", 5);
    assert_string_equal(k, "l:https://a.vn/1");
    free(k);

    /* Title + date hash: same for NFC/NFD and case, different by date and
     * by title, 16 hex digits. */
    char *h1 = tm_item_key(NULL, NULL, "Những lợi ích", 1653969300);
    char *h2 = tm_item_key(NULL, NULL,
                           "NHU\xcc\x9b\xcc\x83NG lo\xcc\x9b\xcc\xa3i i\xcc\x81"
                           "ch!",
                           1653969300);
    char *h3 = tm_item_key(NULL, NULL, "Những lợi ích", 1653969301);
    char *h4 = tm_item_key(NULL, NULL, "Những lợi ích khác", 1653969300);
    char *h5 = tm_item_key(NULL, NULL, "Những lợi ích", TM_TIME_NONE);
    assert_non_null(h1);
    assert_int_equal(strlen(h1), 18);
    assert_memory_equal(h1, "h:", 2);
    assert_int_equal(strspn(h1 + 2, "0123456789abcdef"), 16);
    assert_string_equal(h1, h2);
    assert_string_not_equal(h1, h3);
    assert_string_not_equal(h1, h4);
    assert_string_not_equal(h1, h5);
    char *direct = tm_item_key_title("những lợi ích", 1653969300);
    assert_string_equal(h1, direct);
    free(direct);
    free(h1);
    free(h2);
    free(h3);
    free(h4);
    free(h5);

    /* Known FNV-1a 64 value of the empty input: the key stays stable. */
    k = tm_item_key(NULL, NULL, NULL, TM_TIME_NONE);
    assert_string_equal(k, "h:cbf29ce484222325");
    free(k);
    assert_null(tm_item_key_guid(NULL));
    assert_null(tm_item_key_link(""));
}

static void test_entry_id(void **state)
{
    (void)state;
    struct tm_item it = {0};
    it.source_id = "huyen-nhu-thanh";
    it.key = "g:abc";
    it.first_seen_utc = 1653969300; /* 2022-05-31T03:55:00Z */
    char *id = tm_entry_id_new(&it, "https://ThanhHoa.gov.vn:8443/tin-moi/");
    assert_non_null(id);
    const char *prefix = "tag:thanhhoa.gov.vn,2022-05-31:huyen-nhu-thanh/";
    assert_memory_equal(id, prefix, strlen(prefix));
    assert_int_equal(strlen(id), strlen(prefix) + 16);
    assert_int_equal(strspn(id + strlen(prefix), "0123456789abcdef"), 16);

    char *again = tm_entry_id_new(&it, "https://ThanhHoa.gov.vn:8443/tin-moi/");
    assert_string_equal(id, again);
    free(again);

    it.key = "g:abd";
    char *other = tm_entry_id_new(&it, "https://ThanhHoa.gov.vn:8443/tin-moi/");
    assert_string_not_equal(id, other);
    free(other);
    free(id);

    /* No usable host: the .invalid authority; odd source ids are escaped. */
    it.source_id = "sở y tế";
    id = tm_entry_id_new(&it, NULL);
    assert_non_null(id);
    const char *p2 = "tag:tinmoi.invalid,2022-05-31:s%E1%BB%9F%20y%20t%E1%BA%BF/";
    assert_memory_equal(id, p2, strlen(p2));
    free(id);
    id = tm_entry_id_new(&it, "http://[::1]:8080/");
    assert_memory_equal(id, "tag:tinmoi.invalid,", 19);
    free(id);
    id = tm_entry_id_new(&it, "http://127.0.0.1:8080/");
    assert_memory_equal(id, "tag:127.0.0.1,", 14);
    free(id);

    /* Without a stored key, the key is computed from the fields. */
    it.source_id = "s";
    it.key = NULL;
    it.guid = "g1";
    id = tm_entry_id_new(&it, NULL);
    it.key = "g:g1";
    again = tm_entry_id_new(&it, NULL);
    assert_string_equal(id, again);
    free(id);
    free(again);
    assert_null(tm_entry_id_new(NULL, NULL));
}

/* ---- the fast path of tm_title_normalize --------------------------------- */

/* Appends code point cp to buf as UTF-8 (cp < 0x10000). */
static size_t put_cp(char *buf, size_t w, int32_t cp)
{
    if (cp < 0x80) {
        buf[w++] = (char)cp;
    } else if (cp < 0x800) {
        buf[w++] = (char)(0xC0 | (cp >> 6));
        buf[w++] = (char)(0x80 | (cp & 0x3F));
    } else {
        buf[w++] = (char)(0xE0 | (cp >> 12));
        buf[w++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[w++] = (char)(0x80 | (cp & 0x3F));
    }
    return w;
}

/* The fast path's result for s equals utf8proc's (when the fast path
 * takes s; tm_title_normalize's otherwise). Returns whether it took it. */
static bool assert_same_as_utf8proc(const char *s)
{
    bool slow = true;
    char *fast = tm_identity_title_normalize_fast(s, &slow);
    if (slow)
        fast = tm_title_normalize(s);
    char *ref = tm_identity_title_normalize_utf8proc(s);
    if ((fast == NULL) != (ref == NULL) || (fast != NULL && strcmp(fast, ref) != 0))
        fail_msg("\"%s\": \"%s\" but utf8proc gives \"%s\"", s, fast ? fast : "(null)",
                 ref ? ref : "(null)");
    free(fast);
    free(ref);
    return !slow;
}

/* Every code point of the fast path's table, alone and in every ordered pair
 * (with a few neighbours of the ranges, and letters around), normalises as
 * utf8proc does over the whole string: mapping one code point at a time is
 * NFC of the whole. */
static void test_title_fast_path_matches_utf8proc(void **state)
{
    (void)state;
    int32_t cps[0x300 + 0x100 + 0xCE + 8];
    size_t n = 0;
    for (int32_t cp = 1; cp < 0x300; cp++)
        cps[n++] = cp;
    for (int32_t cp = 0x1E00; cp < 0x1F00; cp++)
        cps[n++] = cp;
    for (int32_t cp = 0x2002; cp < 0x20D0; cp++)
        cps[n++] = cp;
    const int32_t edges[] = {0x300, 0x301, 0x323, 0x1DFF, 0x1F00, 0x2000, 0x20D0, 0x2126};
    for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++)
        cps[n++] = edges[k];
    char buf[32];
    size_t taken = 0;
    for (size_t a = 0; a < n; a++) {
        size_t w = put_cp(buf, 0, cps[a]);
        buf[w] = '\0';
        taken += assert_same_as_utf8proc(buf);
        for (size_t b = 0; b < n; b++) {
            size_t v = put_cp(buf, w, cps[b]);
            buf[v] = '\0';
            assert_same_as_utf8proc(buf);
        }
    }
    /* The fast path takes most of its table alone (the rest map to more
     * than it keeps, or are marks that combine), and the titles of a
     * Vietnamese portal whole. */
    assert_true(taken > n * 9 / 10);
    assert_true(assert_same_as_utf8proc("  Kế hoạch – chuyển đổi số: NGÀNH Y TẾ!  "));
    assert_true(assert_same_as_utf8proc("“Ngày hội” chuyển đổi số… 2022 ‰ €"));
    /* NFD among NFC, and invalid UTF-8. */
    assert_same_as_utf8proc("Ke\xcc\x82\xcc\x81 hoa\xcc\xa3"
                            "ch");
    assert_same_as_utf8proc("Stra\xc3\x9f\x65 \xc4\xb0stanbul \xc5\x89");
    assert_same_as_utf8proc("so\xc2\xad"
                            "ft hy\xc2\xadphen");
    assert_same_as_utf8proc("bad \xc3 utf-8");
    assert_same_as_utf8proc("\xe1\xba");
}

/* The link fast path's result for s equals curl's (when the fast path
 * takes s). Returns whether it took it. */
static bool assert_link_same_as_curl(const char *s)
{
    bool slow = true;
    char *fast = tm_identity_link_canonical_fast(s, &slow);
    if (slow) {
        assert_null(fast);
        return false;
    }
    char *ref = tm_identity_link_canonical_curl(s);
    if (ref == NULL || strcmp(fast, ref) != 0)
        fail_msg("\"%s\": \"%s\" but curl gives \"%s\"", s, fast, ref ? ref : "(null)");
    free(fast);
    free(ref);
    return true;
}

/* Appends one of `n` pieces to buf (at *w, room for `cap`). */
static void pick(char *buf, size_t *w, size_t cap, uint32_t *rng, const char *const *pieces,
                 size_t n)
{
    const char *p = pieces[xorshift32(rng) % n];
    size_t len = strlen(p);
    if (*w + len < cap) {
        memcpy(buf + *w, p, len);
        *w += len;
    }
    buf[*w] = '\0';
}

#define PIECES(a) a, sizeof a / sizeof a[0]

/* Links put together from plain pieces and the ones that must leave the
 * fast path (ports, users, IPv4-like hosts, dot and empty segments, bad
 * escapes, spaces, UTF-8, control bytes): wherever the fast path answers,
 * curl answers the same; and the links of a portal take it. */
static void test_link_fast_path_matches_curl(void **state)
{
    (void)state;
    static const char *const schemes[] = {"https://", "http://",  "https://", "http://", "https://",
                                          "http://",  "https://", "HTTP://",  "ftp://",  "https:/"};
    static const char *const labels[] = {
        "thanhhoa", "gov",      "vn",  "nhu-thanh", "a",       "Bo",  "XN--abc", "mic",     "moh",
        "so-yte",   "thanhhoa", "gov", "vn",        "nhuxuan", "a",   "Bo",      "127",     "0x7f",
        "cafe",     "1",        "",    "www",       "-x",      "b_c", "x",       "ex4mple", "0"};
    static const char *const seps[] = {".", ".", ".", ".", ".", ".", "", ":80", ":", "@", ".."};
    static const char *const segs[] = {"/tin-tuc",   "/tin-1-100000.htm",
                                       "/tin-tuc",   "/x.htm",
                                       "/2022",      "/tin-tuc",
                                       "/tin-1.htm", "/",
                                       "/a%2fb",     "/%E1%BB%A9",
                                       "/.",         "/..",
                                       "/a b",       "/tức",
                                       "/%zz",       "/%4",
                                       "/~u",        "/a;b=c",
                                       "/x:y@z",     "/!$&'()*+,",
                                       "/\x01",      "/a\"b",
                                       "/{}",        "/a.b"};
    static const char *const queries[] = {"",
                                          "",
                                          "?",
                                          "?id=5",
                                          "?utm_source=fb",
                                          "?a=1&utm_medium=x&b=2",
                                          "?a=&&b",
                                          "?x=a/b?c",
                                          "?q=%e1%bb%87",
                                          "?fbclid=1",
                                          "?a b",
                                          "?a=%"};
    static const char *const frags[] = {"", "", "", "", "", "#top", "#", "#a b", "#\x7f", "#x%20y"};
    uint32_t rng = 20221127;
    char buf[256];
    size_t taken = 0, n = 60000;
    for (size_t k = 0; k < n; k++) {
        size_t w = 0;
        buf[0] = '\0';
        pick(buf, &w, sizeof buf, &rng, PIECES(schemes));
        for (uint32_t l = 0, nl = 1 + xorshift32(&rng) % 4; l < nl; l++) {
            if (l > 0)
                pick(buf, &w, sizeof buf, &rng, PIECES(seps));
            pick(buf, &w, sizeof buf, &rng, PIECES(labels));
        }
        for (uint32_t g = 0, ng = xorshift32(&rng) % 4; g < ng; g++)
            pick(buf, &w, sizeof buf, &rng, PIECES(segs));
        pick(buf, &w, sizeof buf, &rng, PIECES(queries));
        pick(buf, &w, sizeof buf, &rng, PIECES(frags));
        taken += assert_link_same_as_curl(buf);
    }
    print_message("%zu of %zu links took the fast path\n", taken, n);
    assert_true(taken > n / 20); /* both paths are exercised */
    assert_true(taken < n / 2);
    assert_true(
        assert_link_same_as_curl("https://nhuxuan.thanhhoa.gov.vn/tin-tuc/tin-1-100000.htm"));
    assert_true(assert_link_same_as_curl("http://Mic.GOV.vn/Tin/?utm_source=x&id=7#top"));
    assert_true(assert_link_same_as_curl("https://a.vn?x=%2f"));
    assert_false(assert_link_same_as_curl("http://10.0.0.1/x")); /* curl reads IPv4 numbers */
    assert_false(assert_link_same_as_curl("https://a.vn/a/../b"));
    assert_false(assert_link_same_as_curl("https://a.vn:8443/x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_title_fast_path_matches_utf8proc),
        cmocka_unit_test(test_link_tracking_params),
        cmocka_unit_test(test_link_case_port_fragment),
        cmocka_unit_test(test_link_path),
        cmocka_unit_test(test_link_idn_host),
        cmocka_unit_test(test_link_rejects),
        cmocka_unit_test(test_link_fast_path_matches_curl),
        cmocka_unit_test(test_title_case_and_forms),
        cmocka_unit_test(test_title_punctuation_space),
        cmocka_unit_test(test_title_diacritics_kept),
        cmocka_unit_test(test_similarity),
        cmocka_unit_test(test_published_rules),
        cmocka_unit_test(test_item_keys),
        cmocka_unit_test(test_entry_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
