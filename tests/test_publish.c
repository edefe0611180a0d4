/* Publisher: atomic replacement, unchanged files left alone (same inode,
 * same mtime), errors that leave the old files intact, and the full set of
 * outputs. With TM_SAMPLE_OUT set, also publishes the fixture into that
 * folder for tests/e2e_publish_valid.sh to validate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "publish_fixture.h"
#include "tinmoi/jsonfeed.h"
#include "tinmoi/publish.h"
#include "tmpdir.h"

#define NOW_UTC 1654000000 /* 2022-05-31T12:26:40Z */

static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/tinmoi-test-publish-XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    char *data = malloc(1 << 20);
    assert_non_null(data);
    *len = fread(data, 1, 1 << 20, fp);
    data[*len] = '\0';
    fclose(fp);
    return data;
}

static void stat_file(const char *dir, const char *name, struct stat *st)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(stat(path, st), 0);
}

/* Puts the file's mtime in the past so any rewrite would show. */
static void age_file(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct timespec times[2] = {{.tv_sec = 1000000000, .tv_nsec = 0},
                                {.tv_sec = 1000000000, .tv_nsec = 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* Number of entries in dir whose name starts with '.', other than . and .. */
static int hidden_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void test_file_unchanged_bytes_left_alone(void **state)
{
    char *dir = make_tmpdir();
    struct tm_error err = {0};
    bool changed = false;
    assert_int_equal(tm_publish_file(dir, "a.atom", "first", 5, &changed, &err), 0);
    assert_true(changed);
    struct stat st1, st2;
    stat_file(dir, "a.atom", &st1);
    assert_int_equal(st1.st_mode & 0777, 0644);
    age_file(dir, "a.atom");
    stat_file(dir, "a.atom", &st1);

    assert_int_equal(tm_publish_file(dir, "a.atom", "first", 5, &changed, &err), 0);
    assert_false(changed);
    stat_file(dir, "a.atom", &st2);
    assert_int_equal(st1.st_ino, st2.st_ino);
    assert_int_equal(st1.st_mtime, st2.st_mtime);
    assert_int_equal(hidden_entries(dir), 0);
    remove_tree(dir);
    free(dir);
}

static void test_file_changed_bytes_replace_inode(void **state)
{
    char *dir = make_tmpdir();
    struct tm_error err = {0};
    bool changed = false;
    assert_int_equal(tm_publish_file(dir, "a.atom", "first", 5, &changed, &err), 0);
    struct stat st1, st2;
    stat_file(dir, "a.atom", &st1);
    /* same length, different bytes */
    assert_int_equal(tm_publish_file(dir, "a.atom", "fir5t", 5, &changed, &err), 0);
    assert_true(changed);
    stat_file(dir, "a.atom", &st2);
    assert_int_not_equal(st1.st_ino, st2.st_ino); /* renamed over, not rewritten in place */
    size_t len;
    char *data = slurp(dir, "a.atom", &len);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "fir5t", 5);
    free(data);
    /* longer, and an empty body */
    assert_int_equal(tm_publish_file(dir, "a.atom", "first and more", 14, &changed, &err), 0);
    assert_true(changed);
    assert_int_equal(tm_publish_file(dir, "a.atom", "", 0, &changed, &err), 0);
    assert_true(changed);
    stat_file(dir, "a.atom", &st2);
    assert_int_equal(st2.st_size, 0);
    assert_int_equal(hidden_entries(dir), 0);
    remove_tree(dir);
    free(dir);
}

/* Root ignores permission bits, so failures come from paths that cannot
 * work for anyone: a folder under a regular file, a missing folder, and a
 * target that is itself a folder (the rename fails after the write). */
static void test_file_errors_leave_old_file(void **state)
{
    char *dir = make_tmpdir();
    struct tm_error err = {0};
    bool changed = true;
    assert_int_equal(tm_publish_file(dir, "plain", "x", 1, &changed, &err), 0);

    char bad[4096];
    snprintf(bad, sizeof bad, "%s/plain", dir);
    assert_int_equal(tm_publish_file(bad, "a.atom", "data", 4, &changed, &err), TM_EIO);
    assert_false(changed);
    assert_non_null(strstr(err.msg, bad));
    assert_non_null(strstr(err.msg, "Not a directory"));

    snprintf(bad, sizeof bad, "%s/missing", dir);
    assert_int_equal(tm_publish_file(bad, "a.atom", "data", 4, &changed, &err), TM_EIO);
    assert_non_null(strstr(err.msg, "No such file or directory"));

    char sub[4096];
    snprintf(sub, sizeof sub, "%s/taken.atom", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(tm_publish_file(dir, "taken.atom", "data", 4, &changed, &err), TM_EIO);
    assert_false(changed);
    assert_non_null(strstr(err.msg, "rename"));
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(hidden_entries(dir), 0); /* the temporary file is gone */
    size_t len;
    char *old = slurp(dir, "plain", &len);
    assert_string_equal(old, "x");
    free(old);
    remove_tree(dir);
    free(dir);
}

static const char *const all_files[] = {
    "latest.atom",   "snapshot.json", "district.atom", "district.json",
    "province.atom", "province.json", "ministry.atom", "ministry.json",
};

static void publish(struct fixture *f, char *dir, int64_t now_utc, struct tm_publish_result *res)
{
    f->cfg.out_dir = dir;
    struct tm_publish_input in = {.config = &f->cfg,
                                  .states = f->states,
                                  .items = f->items,
                                  .n_items = 6,
                                  .stories = f->stories,
                                  .n_stories = 3,
                                  .now_utc = now_utc};
    struct tm_error err = {0};
    int rc = tm_publish_all(&in, res, &err);
    if (rc != 0)
        fail_msg("tm_publish_all: %s", err.msg);
}

static char *generated_at(const char *dir, const char *name)
{
    size_t len;
    char *data = slurp(dir, name, &len);
    assert_non_null(data);
    json_t *doc = json_loadb(data, len, 0, NULL);
    assert_non_null(doc);
    char *s =
        strdup(json_string_value(json_object_get(json_object_get(doc, "_tinmoi"), "generated_at")));
    json_decref(doc);
    free(data);
    return s;
}

static void test_all_files_and_idle_cycle(void **state)
{
    char *dir = make_tmpdir();
    struct fixture f;
    fx_init(&f);
    struct tm_publish_result res;
    publish(&f, dir, NOW_UTC, &res);
    assert_int_equal(res.n_files, 8);
    assert_int_equal(res.n_changed, 8);
    struct stat before[8];
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(res.files[i].name, all_files[i]);
        assert_true(res.files[i].changed);
        assert_string_equal(res.files[i].content_type,
                            i % 2 == 0 ? TM_PUBLISH_TYPE_ATOM : TM_PUBLISH_TYPE_JSON);
        size_t len;
        char *disk = slurp(dir, all_files[i], &len);
        assert_non_null(disk);
        assert_int_equal(len, res.files[i].len); /* the server gets the bytes on disk */
        assert_memory_equal(disk, res.files[i].data, len);
        free(disk);
        age_file(dir, all_files[i]);
        stat_file(dir, all_files[i], &before[i]);
    }
    tm_publish_result_clear(&res);
    char *gen1 = generated_at(dir, "snapshot.json");
    assert_string_equal(gen1, "2022-05-31T12:26:40Z");

    /* An hour later, nothing new: no file is touched, generated_at stays. */
    publish(&f, dir, NOW_UTC + 3600, &res);
    assert_int_equal(res.n_files, 8);
    assert_int_equal(res.n_changed, 0);
    for (size_t i = 0; i < 8; i++) {
        struct stat after;
        stat_file(dir, all_files[i], &after);
        assert_int_equal(after.st_ino, before[i].st_ino);
        assert_int_equal(after.st_mtime, before[i].st_mtime);
        assert_false(res.files[i].changed);
    }
    tm_publish_result_clear(&res);
    char *gen2 = generated_at(dir, "snapshot.json");
    assert_string_equal(gen2, gen1);

    /* A district story changes: its files and the merged ones change, with
     * a new generated_at; province and ministry files stay. */
    f.items[0].title = (char *)"Kế hoạch chuyển đổi số (cập nhật)";
    publish(&f, dir, NOW_UTC + 7200, &res);
    assert_int_equal(res.n_changed, 4);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(res.files[i].changed, i < 4);
    tm_publish_result_clear(&res);
    char *gen3 = generated_at(dir, "snapshot.json");
    assert_string_equal(gen3, "2022-05-31T14:26:40Z");
    char *gen4 = generated_at(dir, "province.json");
    assert_string_equal(gen4, gen1);
    free(gen1);
    free(gen2);
    free(gen3);
    free(gen4);
    assert_int_equal(hidden_entries(dir), 0);
    remove_tree(dir);
    free(dir);
}

/* tm_jsonfeed_each_latest's callback: the box read back from the snapshot,
 * compared with the result's, one headline at a time. */
struct box_check {
    const struct tm_publish_result *res;
    size_t n;
};

static int on_read_back(void *ud, const struct tm_jsonfeed_headline *h)
{
    struct box_check *bc = ud;
    assert_true(bc->n < bc->res->n_latest);
    const struct tm_published_headline *mine = &bc->res->latest[bc->n++];
    assert_string_equal(mine->display_date, h->display_date);
    if (h->title == NULL)
        assert_null(mine->title);
    else
        assert_string_equal(mine->title, h->title);
    if (h->url == NULL)
        assert_null(mine->url);
    else
        assert_string_equal(mine->url, h->url);
    return 0;
}

/* The result carries the box the snapshot names (`_tinmoi.latest`), for
 * `tinmoi once` to show without parsing the snapshot back: the same
 * headlines in the same order, within items_limit when latest_limit is
 * larger. */
static void test_result_box_is_the_snapshots(void **state)
{
    (void)state;
    const int limits[][2] = {{2, 50}, {8, 50}, {8, 1}, {0, 50}}; /* latest_limit, items_limit */
    const size_t expect[] = {2, 3, 1, 0};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        char *dir = make_tmpdir();
        struct fixture f;
        fx_init(&f);
        f.cfg.latest_limit = limits[k][0];
        f.cfg.items_limit = limits[k][1];
        struct tm_publish_result res;
        publish(&f, dir, NOW_UTC, &res);
        assert_int_equal(res.n_latest, expect[k]);
        if (expect[k] > 0) {
            assert_string_equal(res.latest[0].display_date, "31/05/2022 10:55 SA");
            assert_string_equal(res.latest[0].title, FX_TITLE_0);
        }
        json_t *doc = json_loadb(res.files[1].data, res.files[1].len, 0, NULL);
        assert_non_null(doc);
        struct box_check bc = {&res, 0};
        assert_int_equal(tm_jsonfeed_each_latest(doc, on_read_back, &bc), 0);
        assert_int_equal(bc.n, res.n_latest);
        json_decref(doc);
        tm_publish_result_clear(&res);
        remove_tree(dir);
        free(dir);
    }
}

/* A category without stories still gets its (empty) files. */
static void test_empty_category_published(void **state)
{
    char *dir = make_tmpdir();
    struct fixture f;
    fx_init(&f);
    f.sources[3].category = (char *)"commune";
    struct tm_publish_result res;
    publish(&f, dir, NOW_UTC, &res);
    assert_int_equal(res.n_files, 10);
    assert_string_equal(res.files[8].name, "commune.atom");
    assert_string_equal(res.files[9].name, "commune.json");
    assert_non_null(strstr(res.files[8].data, "<updated>1970-01-01T00:00:00Z</updated>"));
    assert_null(strstr(res.files[8].data, "<entry>"));
    tm_publish_result_clear(&res);
    remove_tree(dir);
    free(dir);
}

static void test_bad_out_dir(void **state)
{
    char *dir = make_tmpdir();
    struct fixture f;
    fx_init(&f);
    struct tm_publish_result res;
    publish(&f, dir, NOW_UTC, &res);
    tm_publish_result_clear(&res);
    size_t len0;
    char *before = slurp(dir, "latest.atom", &len0);

    char bad[4096];
    snprintf(bad, sizeof bad, "%s/latest.atom/out", dir);
    f.cfg.out_dir = bad;
    struct tm_publish_input in = {.config = &f.cfg,
                                  .states = f.states,
                                  .items = f.items,
                                  .n_items = 6,
                                  .stories = f.stories,
                                  .n_stories = 3,
                                  .now_utc = NOW_UTC};
    struct tm_error err = {0};
    assert_int_equal(tm_publish_all(&in, &res, &err), TM_EIO);
    assert_non_null(strstr(err.msg, bad));
    assert_int_equal(res.n_files, 0);
    assert_null(res.files);

    snprintf(bad, sizeof bad, "%s/missing", dir);
    assert_int_equal(tm_publish_all(&in, &res, &err), TM_EIO);
    assert_non_null(strstr(err.msg, "No such file or directory"));
    struct stat st;
    assert_int_not_equal(stat(bad, &st), 0); /* nothing created */

    size_t len1;
    char *after = slurp(dir, "latest.atom", &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    free(before);
    free(after);
    remove_tree(dir);
    free(dir);
}

static void test_bad_category_name(void **state)
{
    char *dir = make_tmpdir();
    struct fixture f;
    fx_init(&f);
    f.cfg.out_dir = dir;
    struct tm_publish_input in = {.config = &f.cfg,
                                  .states = f.states,
                                  .items = f.items,
                                  .n_items = 6,
                                  .stories = f.stories,
                                  .n_stories = 3,
                                  .now_utc = NOW_UTC};
    struct tm_publish_result res;
    struct tm_error err = {0};
    char bad[][16] = {"latest", "snapshot", "../etc", "a/b", ".hidden", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f.sources[2].category = bad[i];
        assert_int_equal(tm_publish_all(&in, &res, &err), TM_EINVAL);
        assert_non_null(strstr(err.msg, "bo-tttt"));
    }
    DIR *d = opendir(dir);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    assert_int_equal(n, 2); /* only . and .. */
    remove_tree(dir);
    free(dir);
}

/* For tests/e2e_publish_valid.sh: the fixture published into a folder. */
static void test_sample_out(void **state)
{
    char *out = getenv("TM_SAMPLE_OUT");
    if (out == NULL || out[0] == '\0')
        skip();
    struct fixture f;
    fx_init(&f);
    struct tm_publish_result res;
    publish(&f, out, NOW_UTC, &res);
    assert_int_equal(res.n_files, 8);
    tm_publish_result_clear(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_unchanged_bytes_left_alone),
        cmocka_unit_test(test_file_changed_bytes_replace_inode),
        cmocka_unit_test(test_file_errors_leave_old_file),
        cmocka_unit_test(test_all_files_and_idle_cycle),
        cmocka_unit_test(test_empty_category_published),
        cmocka_unit_test(test_bad_out_dir),
        cmocka_unit_test(test_result_box_is_the_snapshots),
        cmocka_unit_test(test_bad_category_name),
        cmocka_unit_test(test_sample_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
