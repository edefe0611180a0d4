/* Tests for tinmoi.conf and the OPML source list (SPEC §4): defaults, every
 * key, durations, relative paths, each problem with its line, folder
 * categories, slugs, duplicates, file:// and relative xmlUrl, the demo. */
/* nftw(3) is an XSI function. */
#define _XOPEN_SOURCE 700
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tinmoi/config.h"
#include "tinmoi/error.h"
#include "tinmoi/opml.h"

/* The test's folder; short, so that paths built under it fit PATH_MAX. */
static char tmp[256];

static int on_nftw_remove(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    char templ[] = "/tmp/tinmoi-config-XXXXXX";
    if (mkdtemp(templ) == NULL)
        return -1;
    char *abs = realpath(templ, NULL);
    if (abs == NULL || strlen(abs) >= sizeof tmp) {
        free(abs);
        return -1;
    }
    memcpy(tmp, abs, strlen(abs) + 1);
    free(abs);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmp, on_nftw_remove, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes `text` to tmp/name (creating its folder) and returns the path in a
 * static buffer. */
static const char *put(const char *name, const char *text)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + strlen(tmp) + 1; *p != '\0'; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    return path;
}

static char *join(const char *a, const char *b)
{
    static char out[PATH_MAX];
    snprintf(out, sizeof out, "%s%s", a, b);
    return out;
}

static const char *one_source =
    "<?xml version=\"1.0\"?>\n"
    "<opml version=\"2.0\"><head/><body>\n"
    "<outline text=\"Huyện Như Thanh\" category=\"district\" xmlUrl=\"https://a.example/rss\"/>\n"
    "</body></opml>\n";

/* Loads tmp/name, expecting success. */
static struct tm_config *load_ok(const char *name)
{
    struct tm_config *cfg = NULL;
    struct tm_config_problems pr = {0};
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    int rc = tm_config_load(path, &cfg, &pr);
    for (size_t i = 0; i < pr.n; i++)
        print_error("unexpected problem %s:%d: %s\n", pr.v[i].file, pr.v[i].line, pr.v[i].message);
    assert_int_equal(rc, 0);
    assert_non_null(cfg);
    tm_config_problems_clear(&pr);
    return cfg;
}

/* Loads tmp/name, expecting TM_ECONFIG; the caller clears `pr`. */
static void load_bad(const char *name, struct tm_config_problems *pr)
{
    struct tm_config *cfg = NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    assert_int_equal(tm_config_load(path, &cfg, pr), TM_ECONFIG);
    assert_null(cfg);
    assert_true(pr->n > 0);
}

/* True when some problem is at `line` of a file ending in `file` and its
 * message contains `needle`. */
static int has_problem(const struct tm_config_problems *pr, const char *file, int line,
                       const char *needle)
{
    for (size_t i = 0; i < pr->n; i++) {
        size_t fl = strlen(pr->v[i].file), nl = strlen(file);
        if (pr->v[i].line == line && fl >= nl && strcmp(pr->v[i].file + fl - nl, file) == 0 &&
            strstr(pr->v[i].message, needle) != NULL)
            return 1;
    }
    for (size_t i = 0; i < pr->n; i++)
        print_error("  have %s:%d: %s\n", pr->v[i].file, pr->v[i].line, pr->v[i].message);
    print_error("  want %s:%d: ...%s...\n", file, line, needle);
    return 0;
}

static void test_defaults(void **state)
{
    (void)state;
    put("etc/sources.opml", one_source);
    put("etc/tinmoi.conf", "; nothing set: every key takes SPEC §4's value\n[tinmoi]\n");
    struct tm_config *cfg = load_ok("etc/tinmoi.conf");
    assert_string_equal(cfg->title, "Tin mới nhất");
    assert_string_equal(cfg->dir, join(tmp, "/etc"));
    assert_string_equal(cfg->sources_path, join(tmp, "/etc/sources.opml"));
    assert_string_equal(cfg->state_dir, join(tmp, "/state"));
    assert_string_equal(cfg->out_dir, join(tmp, "/out"));
    assert_string_equal(cfg->public_url, "http://127.0.0.1:8080/");
    assert_int_equal(cfg->latest_limit, 8);
    assert_int_equal(cfg->items_limit, 50);
    assert_int_equal(cfg->utc_offset_s, 7 * 3600);
    assert_int_equal(cfg->interval_s, 15 * 60);
    assert_int_equal(cfg->concurrency, 32);
    assert_int_equal(cfg->per_host, 4);
    assert_int_equal(cfg->timeout_s, 30);
    assert_int_equal(cfg->max_body_bytes, 8388608);
    assert_string_equal(cfg->listen, "127.0.0.1:8080");
    assert_int_equal(cfg->n_sources, 1);
    assert_int_equal(cfg->sources[0].interval_s, 15 * 60);
    assert_int_equal(cfg->sources[0].dates.utc_offset_s, 7 * 3600);
    tm_config_free(cfg);
}

static void test_every_key(void **state)
{
    (void)state;
    put("c/list.opml", one_source);
    put("c/tinmoi.conf", "[tinmoi]\n"
                         "title        = \"Tin  tức\"   ; quoted, white space folded\n"
                         "sources      = list.opml\n"
                         "state_dir    = /var/lib/tinmoi\n"
                         "out_dir      = ./public/feeds/\n"
                         "public_url   = https://thanhhoa.gov.vn/tinmoi   ; no slash\n"
                         "latest_limit = 5\n"
                         "items_limit  = 120\n"
                         "utc_offset   = -03:30\n"
                         "[fetch]\n"
                         "interval     = 1h30m\n"
                         "concurrency  = 64\n"
                         "per_host     = 64\n"
                         "timeout      = 2m\n"
                         "max_body     = 1048576\n"
                         "[http]\n"
                         "listen       = [::1]:9000\n");
    struct tm_config *cfg = load_ok("c/tinmoi.conf");
    assert_string_equal(cfg->title, "Tin tức");
    assert_string_equal(cfg->sources_path, join(tmp, "/c/list.opml"));
    assert_string_equal(cfg->state_dir, "/var/lib/tinmoi");
    assert_string_equal(cfg->out_dir, join(tmp, "/c/public/feeds"));
    assert_string_equal(cfg->public_url, "https://thanhhoa.gov.vn/tinmoi/");
    assert_int_equal(cfg->latest_limit, 5);
    assert_int_equal(cfg->items_limit, 120);
    assert_int_equal(cfg->utc_offset_s, -(3 * 3600 + 30 * 60));
    assert_int_equal(cfg->interval_s, 5400);
    assert_int_equal(cfg->concurrency, 64);
    assert_int_equal(cfg->per_host, 64);
    assert_int_equal(cfg->timeout_s, 120);
    assert_int_equal(cfg->max_body_bytes, 1048576);
    assert_string_equal(cfg->listen, "[::1]:9000");
    /* The config's interval and offset are the sources' defaults. */
    assert_int_equal(cfg->sources[0].interval_s, 5400);
    assert_int_equal(cfg->sources[0].dates.utc_offset_s, -(3 * 3600 + 30 * 60));
    tm_config_free(cfg);
}

static void test_listen_empty_turns_http_off(void **state)
{
    (void)state;
    put("sources.opml", one_source);
    put("tinmoi.conf", "[http]\nlisten =        ; no server\n");
    struct tm_config *cfg = load_ok("tinmoi.conf");
    assert_null(cfg->listen);
    tm_config_free(cfg);
}

static void test_relative_paths_follow_the_config_folder(void **state)
{
    (void)state;
    put("lists/feeds.opml", one_source);
    put("a/b/tinmoi.conf", "[tinmoi]\nsources = ../../lists/feeds.opml\nstate_dir = ..\n"
                           "out_dir = ../../www/./out\n");
    /* Loaded from another working directory, by a relative path. */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmp), 0);
    struct tm_config *cfg = NULL;
    struct tm_config_problems pr = {0};
    int rc = tm_config_load("a/b/tinmoi.conf", &cfg, &pr);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->path, "a/b/tinmoi.conf");
    assert_string_equal(cfg->sources_path, join(tmp, "/lists/feeds.opml"));
    assert_string_equal(cfg->state_dir, join(tmp, "/a"));
    assert_string_equal(cfg->out_dir, join(tmp, "/www/out"));
    tm_config_free(cfg);
}

static void test_durations(void **state)
{
    (void)state;
    int64_t s = -1;
    assert_int_equal(tm_config_parse_duration("15m", &s), 0);
    assert_int_equal(s, 900);
    assert_int_equal(tm_config_parse_duration("30s", &s), 0);
    assert_int_equal(s, 30);
    assert_int_equal(tm_config_parse_duration("1h", &s), 0);
    assert_int_equal(s, 3600);
    assert_int_equal(tm_config_parse_duration("90", &s), 0);
    assert_int_equal(s, 90);
    assert_int_equal(tm_config_parse_duration("1h30m15s", &s), 0);
    assert_int_equal(s, 5415);
    s = 7;
    const char *bad[] = {"",
                         "m",
                         "15x",
                         "1.5h",
                         "-5m",
                         " 5m",
                         "5m ",
                         "1h30",
                         "99999999999999999999s",
                         "4611686018427387904h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tm_config_parse_duration(bad[i], &s), TM_EINVAL);
    assert_int_equal(s, 7);
}

/* One broken line at a time, each reported at its own line. */
static void test_each_error_has_its_line(void **state)
{
    (void)state;
    struct {
        const char *body; /* lines 3.. of a config whose line 1 is [tinmoi] */
        int line;
        const char *message;
    } cases[] = {
        {"colour = blue\n", 3, "unknown key 'colour' in [tinmoi]"},
        {"\n[fetch]\ntitle = x\n", 5, "unknown key 'title' in [fetch]"},
        {"[cache]\nsize = 1\n", 3, "unknown section [cache]"},
        {"[http\n", 3, "expected ']' after the section name"},
        {"just words\n", 3, "expected 'key = value'"},
        {"latest_limit = eight\n", 3, "bad value 'eight' for latest_limit"},
        {"latest_limit = 0\n", 3, "bad value '0' for latest_limit"},
        {"items_limit = 0\n", 3, "bad value '0' for items_limit"},
        {"latest_limit = 60\n", 3, "latest_limit (60) must not exceed items_limit (50)"},
        {"utc_offset = Hà Nội\n", 3, "bad value 'Hà Nội' for utc_offset"},
        {"public_url = ftp://thanhhoa.gov.vn/\n", 3, "expected an http:// or https:// URL"},
        {"public_url = thanhhoa.gov.vn\n", 3, "expected an http:// or https:// URL"},
        {"title =\n", 3, "bad value '' for title"},
        {"state_dir =\n", 3, "bad value '' for state_dir: expected a path"},
        {"title = a\ntitle = b\n", 4, "duplicate key 'title' (first at line 3)"},
        {"[fetch]\ninterval = 15 m\n", 4, "bad value '15 m' for interval"},
        {"[fetch]\ninterval = 2d\n", 4, "bad value '2d' for interval"},
        {"[fetch]\ntimeout = 0s\n", 4, "bad value '0s' for timeout"},
        {"[fetch]\nconcurrency = 0\n", 4, "bad value '0' for concurrency"},
        {"[fetch]\nconcurrency = 1025\n", 4, "bad value '1025' for concurrency"},
        {"[fetch]\nconcurrency = 8\nper_host = 9\n", 5,
         "bad value '9' for per_host: expected an integer from 1 to concurrency (8)"},
        {"[fetch]\nper_host = 0\n", 4, "bad value '0' for per_host"},
        {"[fetch]\nconcurrency = 2\n", 4,
         "bad value '2' for concurrency: must be at least per_host"},
        {"[fetch]\nmax_body = 8MB\n", 4, "bad value '8MB' for max_body"},
        {"[http]\nlisten = 8080\n", 4, "bad value '8080' for listen"},
        {"[http]\nlisten = 127.0.0.1:99999\n", 4, "bad value '127.0.0.1:99999' for listen"},
        {"\xff\xfe = 1\n", 3, "line is not valid UTF-8"},
    };
    put("sources.opml", one_source);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "[tinmoi]\n; case %zu\n%s", i, cases[i].body);
        put("tinmoi.conf", text);
        struct tm_config_problems pr = {0};
        load_bad("tinmoi.conf", &pr);
        if (!has_problem(&pr, "tinmoi.conf", cases[i].line, cases[i].message))
            fail_msg("case %zu", i);
        tm_config_problems_clear(&pr);
    }
}

static void test_key_outside_section_and_long_line(void **state)
{
    (void)state;
    put("sources.opml", one_source);
    char text[600];
    memset(text, 0, sizeof text);
    snprintf(text, sizeof text, "title = x\n[tinmoi]\ntitle = ");
    size_t n = strlen(text);
    memset(text + n, 'a', 300);
    text[n + 300] = '\n';
    put("tinmoi.conf", text);
    struct tm_config_problems pr = {0};
    load_bad("tinmoi.conf", &pr);
    assert_true(has_problem(&pr, "tinmoi.conf", 1, "key 'title' is outside any section"));
    assert_true(has_problem(&pr, "tinmoi.conf", 3, "line too long"));
    tm_config_problems_clear(&pr);
}

/* Every problem of both files, config first, each file top to bottom. */
static void test_all_problems_are_collected(void **state)
{
    (void)state;
    put("list.opml", "<?xml version=\"1.0\"?>\n"
                     "<opml version=\"2.0\"><body>\n"
                     "<outline text=\"A\" category=\"district\"/>\n"
                     "<outline text=\"B\" category=\"district\" xmlUrl=\"gopher://b/\"/>\n"
                     "</body></opml>\n");
    put("tinmoi.conf", "[tinmoi]\n"
                       "sources = list.opml\n"
                       "colour = blue\n"
                       "[fetch]\n"
                       "per_host = 64\n"
                       "interval = soon\n");
    struct tm_config_problems pr = {0};
    load_bad("tinmoi.conf", &pr);
    assert_int_equal(pr.n, 5);
    assert_int_equal(pr.v[0].line, 3);
    assert_int_equal(pr.v[1].line, 5);
    assert_int_equal(pr.v[2].line, 6);
    assert_string_equal(pr.v[3].file, join(tmp, "/list.opml"));
    assert_int_equal(pr.v[3].line, 3);
    assert_string_equal(pr.v[3].message, "missing xmlUrl on outline 'A'");
    assert_int_equal(pr.v[4].line, 4);
    assert_string_equal(pr.v[4].message,
                        "unsupported URL scheme 'gopher' in xmlUrl 'gopher://b/': expected "
                        "http, https, file or a path relative to the source list");
    tm_config_problems_clear(&pr);
}

static void test_unreadable_files_have_line_0(void **state)
{
    (void)state;
    struct tm_config *cfg = NULL;
    struct tm_config_problems pr = {0};
    assert_int_equal(tm_config_load(join(tmp, "/missing.conf"), &cfg, &pr), TM_ECONFIG);
    assert_int_equal(pr.n, 1);
    assert_int_equal(pr.v[0].line, 0);
    assert_string_equal(pr.v[0].message, "cannot read: No such file or directory");
    tm_config_problems_clear(&pr);

    put("tinmoi.conf", "[tinmoi]\nsources = nowhere.opml\n");
    load_bad("tinmoi.conf", &pr);
    assert_int_equal(pr.n, 1);
    assert_string_equal(pr.v[0].file, join(tmp, "/nowhere.opml"));
    assert_int_equal(pr.v[0].line, 0);
    assert_string_equal(pr.v[0].message, "cannot read: No such file or directory");
    tm_config_problems_clear(&pr);
}

/* Loads an OPML document on its own, with the demo's defaults. */
static int opml(const char *text, struct tm_source **v, size_t *n, struct tm_config_problems *pr)
{
    const char *path = put("list/sources.opml", text);
    struct tm_opml_defaults d = {.interval_s = 900, .utc_offset_s = 7 * 3600};
    return tm_opml_load(path, NULL, &d, v, n, pr);
}

static void test_slugs(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"Huyện Như Thanh", "huyen-nhu-thanh"},
        /* NFD input, as some CMSs write it */
        {"Huye\xcc\xa3\xcc\x82n Nhu\xcc\x9b Thanh", "huyen-nhu-thanh"},
        {"Bộ, ngành", "bo-nganh"},
        {"ĐÀI PHÁT THANH – TRUYỀN HÌNH", "dai-phat-thanh-truyen-hinh"},
        {"  Sở Y tế (Thanh Hóa)!  ", "so-y-te-thanh-hoa"},
        {"Tỉnh", "tinh"},
        {"Huyện", "huyen"},
        {"Bộ Thông tin và Truyền thông", "bo-thong-tin-va-truyen-thong"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = tm_opml_slug(cases[i].in);
        assert_non_null(s);
        assert_string_equal(s, cases[i].out);
        free(s);
    }
    assert_null(tm_opml_slug("—!?"));
    assert_null(tm_opml_slug(""));
}

static const struct tm_source *by_id(const struct tm_source *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].id != NULL && strcmp(v[i].id, id) == 0)
            return &v[i];
    fail_msg("no source %s", id);
    return NULL;
}

static void test_opml_folders_attributes_and_urls(void **state)
{
    (void)state;
    struct tm_source *v = NULL;
    size_t n = 0;
    struct tm_config_problems pr = {0};
    int rc = opml("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<opml version=\"2.0\">\n"
                  "<head><title>Nguồn</title></head>\n"
                  "<body>\n"
                  "  <outline text=\"Bộ, ngành\">\n"
                  "    <outline text=\"Bộ Thông tin và Truyền thông\" type=\"rss\"\n"
                  "             xmlUrl=\"HTTPS://Mic.Gov.VN/rss\" htmlUrl=\"https://mic.gov.vn/\"\n"
                  "             priority=\"5\" interval=\"1h\"/>\n"
                  "  </outline>\n"
                  "  <outline text=\"Huyện\" category=\"district\">\n"
                  "    <outline title=\"Huyện Như Thanh\" xmlUrl=\"../demo/nhu thanh.xml\"\n"
                  "             utc_offset=\"+06:00\" date_order=\"mdy\"/>\n"
                  "    <outline text=\"Triệu Sơn\" id=\"ts\" category=\"ward\" priority=\"-2\"\n"
                  "             xmlUrl=\"file:///srv/feeds/trieu-son.xml\"/>\n"
                  "    <outline text=\"Tắt\" isComment=\"true\" xmlUrl=\"ftp://off/\"/>\n"
                  "  </outline>\n"
                  "</body></opml>\n",
                  &v, &n, &pr);
    for (size_t i = 0; i < pr.n; i++)
        print_error("%d: %s\n", pr.v[i].line, pr.v[i].message);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);

    const struct tm_source *mic = by_id(v, n, "bo-thong-tin-va-truyen-thong");
    assert_string_equal(mic->title, "Bộ Thông tin và Truyền thông");
    assert_string_equal(mic->category, "bo-nganh"); /* the folder's text, slugged */
    assert_string_equal(mic->url, "https://Mic.Gov.VN/rss");
    assert_string_equal(mic->html_url, "https://mic.gov.vn/");
    assert_int_equal(mic->priority, 5);
    assert_int_equal(mic->interval_s, 3600);
    assert_int_equal(mic->dates.utc_offset_s, 7 * 3600);
    assert_int_equal(mic->dates.order, TM_DATE_DMY);
    assert_int_equal(mic->line, 6);

    const struct tm_source *nt = by_id(v, n, "huyen-nhu-thanh");
    assert_string_equal(nt->category, "district"); /* the folder's category attribute */
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "file://%s/demo/nhu%%20thanh.xml", tmp);
    assert_string_equal(nt->url, want);
    assert_null(nt->html_url);
    assert_int_equal(nt->priority, 0);
    assert_int_equal(nt->interval_s, 900);
    assert_int_equal(nt->dates.utc_offset_s, 6 * 3600);
    assert_int_equal(nt->dates.order, TM_DATE_MDY);

    const struct tm_source *ts = by_id(v, n, "ts");
    assert_string_equal(ts->category, "ward"); /* its own wins */
    assert_string_equal(ts->url, "file:///srv/feeds/trieu-son.xml");
    assert_int_equal(ts->priority, -2);
    tm_opml_sources_free(v, n);
}

static void test_opml_problems(void **state)
{
    (void)state;
    struct tm_source *v = NULL;
    size_t n = 0;
    struct tm_config_problems pr = {0};
    int rc = opml("<?xml version=\"1.0\"?>\n"      /* 1 */
                  "<opml version=\"2.0\"><body>\n" /* 2 */
                  "<outline text=\"Huyện Như Thanh\" category=\"district\" xmlUrl=\"a.xml\"/>\n"
                  "<outline text=\"Tỉnh\">\n" /* 4 */
                  "  <outline text=\"Huyện  Như Thanh\" xmlUrl=\"https://b.example/\"/>\n"
                  "  <outline text=\"Copy\" xmlUrl=\"./sub/../a.xml\"/>\n"     /* 6 */
                  "  <outline text=\"Ftp\" xmlUrl=\"ftp://c.example/rss\"/>\n" /* 7 */
                  "  <outline text=\"Odd\" xmlUrl=\"https://d.example/\" colour=\"red\"\n"
                  "           priority=\"high\" interval=\"often\" utc_offset=\"GMT+25\"\n"
                  "           date_order=\"ymd\" category=\"Bộ ngành\"/>\n" /* 10 */
                  "  <outline text=\"No URL\" type=\"rss\"/>\n"             /* 11 */
                  "  <outline xmlUrl=\"https://e.example/\"/>\n"            /* 12 */
                  "  <outline text=\"Bad\" xmlUrl=\"http://\"/>\n"          /* 13 */
                  "  <outline text=\"L\" category=\"latest\" xmlUrl=\"https://f.example/\"/>\n"
                  "  <outline text=\"Host case\" xmlUrl=\"https://B.EXAMPLE/\"/>\n" /* 15 */
                  "</outline>\n"
                  "<outline text=\"Top\" xmlUrl=\"https://g.example/\"/>\n" /* 17 */
                  "</body></opml>\n",
                  &v, &n, &pr);
    assert_int_equal(rc, TM_ECONFIG);
    assert_null(v);
    assert_true(has_problem(&pr, "sources.opml", 5,
                            "duplicate source id 'huyen-nhu-thanh' (first at line 3)"));
    assert_true(has_problem(&pr, "sources.opml", 6, "duplicate source URL 'file://"));
    assert_true(has_problem(&pr, "sources.opml", 6, "(first at line 3)"));
    assert_true(has_problem(&pr, "sources.opml", 7, "unsupported URL scheme 'ftp'"));
    assert_true(has_problem(&pr, "sources.opml", 8, "unknown attribute 'colour'"));
    assert_true(has_problem(&pr, "sources.opml", 8, "bad value 'high' for priority"));
    assert_true(has_problem(&pr, "sources.opml", 8, "bad value 'often' for interval"));
    assert_true(has_problem(&pr, "sources.opml", 8, "bad value 'GMT+25' for utc_offset"));
    assert_true(has_problem(&pr, "sources.opml", 8, "bad value 'ymd' for date_order"));
    assert_true(has_problem(&pr, "sources.opml", 8, "bad value 'Bộ ngành' for category"));
    assert_true(has_problem(&pr, "sources.opml", 11, "missing xmlUrl on outline 'No URL'"));
    assert_true(has_problem(&pr, "sources.opml", 12, "source has neither text nor title"));
    assert_true(has_problem(&pr, "sources.opml", 13, "bad value 'http://' for xmlUrl"));
    assert_true(has_problem(&pr, "sources.opml", 14, "category 'latest' is reserved"));
    assert_true(has_problem(&pr, "sources.opml", 15,
                            "duplicate source URL 'https://B.EXAMPLE/' (first at line 5)"));
    assert_true(has_problem(&pr, "sources.opml", 17, "source 'Top' has no category"));
    for (size_t i = 1; i < pr.n; i++)
        assert_true(pr.v[i - 1].line <= pr.v[i].line);
    tm_config_problems_clear(&pr);
}

static void test_opml_that_is_not_opml(void **state)
{
    (void)state;
    struct {
        const char *text;
        int line;
        const char *message;
    } cases[] = {
        {"<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel/></rss>\n", 2,
         "not an OPML document (root element <rss>, expected <opml>)"},
        {"<?xml version=\"1.0\"?>\n<opml version=\"2.0\">\n<head/>\n</opml>\n", 2,
         "OPML document has no <body>"},
        {"<?xml version=\"1.0\"?>\n<opml version=\"2.0\">\n<body>\n</body></opml>\n", 3,
         "no sources"},
        {"<?xml version=\"1.0\"?>\n<opml version=\"2.0\"><body>\n<outline text=\"a\">\n"
         "</body></opml>\n",
         4, "not well-formed XML"},
        {"<html><body><p>502 Bad Gateway</p></body></html>", 1, "not an OPML document"},
        {"", 1, "not well-formed XML"},
        {"<?xml version=\"1.0\"?>\n<!DOCTYPE opml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
         "<opml version=\"2.0\"><body><outline text=\"&x;\" category=\"a\" xmlUrl=\"a\"/>"
         "</body></opml>\n",
         3, "not well-formed XML: Attribute references external entity 'x'"},
        {"<?xml version=\"1.0\"?>\n<!DOCTYPE opml>\n"
         "<opml version=\"2.0\"><body><outline text=\"a\" category=\"a\" xmlUrl=\"a\"/>"
         "</body></opml>\n",
         2, "a DOCTYPE is not allowed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tm_source *v = NULL;
        size_t n = 0;
        struct tm_config_problems pr = {0};
        assert_int_equal(opml(cases[i].text, &v, &n, &pr), TM_ECONFIG);
        if (!has_problem(&pr, "sources.opml", cases[i].line, cases[i].message))
            fail_msg("case %zu", i);
        tm_config_problems_clear(&pr);
    }
}

/* The bundled demo loads cleanly and points at files that exist. */
static void test_demo(void **state)
{
    (void)state;
    struct tm_config *cfg = NULL;
    struct tm_config_problems pr = {0};
    int rc = tm_config_load(TM_TEST_DATA "/../../feeds/tinmoi.conf", &cfg, &pr);
    for (size_t i = 0; i < pr.n; i++)
        print_error("%s:%d: %s\n", pr.v[i].file, pr.v[i].line, pr.v[i].message);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->title, "Tin mới nhất");
    assert_int_equal(cfg->latest_limit, 8);
    assert_int_equal(cfg->n_sources, 4);
    struct {
        const char *id, *category;
        int priority;
    } want[] = {
        {"huyen-nhu-thanh", "district", 0},
        {"huyen-trieu-son", "district", 0},
        {"tinh-thanh-hoa", "province", 10},
        {"bo-tttt", "ministry", 5},
    };
    for (size_t i = 0; i < 4; i++) {
        const struct tm_source *s = by_id(cfg->sources, cfg->n_sources, want[i].id);
        assert_string_equal(s->category, want[i].category);
        assert_int_equal(s->priority, want[i].priority);
        assert_memory_equal(s->url, "file:///", 8);
        assert_int_equal(access(s->url + 7, R_OK), 0);
    }
    tm_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_empty_turns_http_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths_follow_the_config_folder, setup,
                                        teardown),
        cmocka_unit_test(test_durations),
        cmocka_unit_test_setup_teardown(test_each_error_has_its_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_outside_section_and_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_problems_are_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_files_have_line_0, setup, teardown),
        cmocka_unit_test(test_slugs),
        cmocka_unit_test_setup_teardown(test_opml_folders_attributes_and_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opml_problems, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opml_that_is_not_opml, setup, teardown),
        cmocka_unit_test(test_demo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
