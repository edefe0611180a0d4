/* tinmoi — publishing: render the outputs and replace files atomically. */
#include "tinmoi/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "str_int.h"
#include "tinmoi/atom.h"
#include "tinmoi/jsonfeed.h"
#include "tinmoi/view.h"

/* Longest dir/name path we build; PATH_MAX on Linux. */
#define TM_PUBLISH_MAX_PATH 4096

static int join(char *out, size_t cap, const char *dir, const char *prefix, const char *name,
                const char *suffix)
{
    int n = snprintf(out, cap, "%s/%s%s%s", dir, prefix, name, suffix);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* True when `path` is a regular file holding exactly data[0..len). Any
 * error reading it means "not the same": the file is then replaced. */
static bool same_content(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    bool same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len;
    char chunk[65536];
    size_t off = 0;
    while (same && off < len) {
        size_t want = len - off < sizeof chunk ? len - off : sizeof chunk;
        ssize_t got = read(fd, chunk, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || memcmp(chunk, data + off, (size_t)got) != 0)
            same = false;
        else
            off += (size_t)got;
    }
    close(fd);
    return same;
}

static int write_all(int fd, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

int tm_publish_file(const char *dir, const char *name, const char *data, size_t len, bool *changed,
                    struct tm_error *err)
{
    if (changed != NULL)
        *changed = false;
    char path[TM_PUBLISH_MAX_PATH], tmp[TM_PUBLISH_MAX_PATH];
    if (join(path, sizeof path, dir, "", name, "") != 0 ||
        join(tmp, sizeof tmp, dir, ".", name, ".XXXXXX") != 0)
        return tm_error_set(err, TM_EIO, "%s/%s: path too long", dir, name);
    if (same_content(path, data, len))
        return 0;

    int fd = mkstemp(tmp);
    if (fd < 0)
        return tm_error_set(err, TM_EIO, "%s: cannot create a temporary file: %s", path,
                            strerror(errno));
    const char *step = NULL;
    if (write_all(fd, data, len) != 0)
        step = "write";
    else if (fsync(fd) != 0)
        step = "fsync";
    else if (fchmod(fd, 0644) != 0)
        step = "chmod";
    int saved = errno;
    if (close(fd) != 0 && step == NULL) {
        step = "close";
        saved = errno;
    }
    if (step == NULL && rename(tmp, path) != 0) {
        step = "rename";
        saved = errno;
    }
    if (step != NULL) {
        unlink(tmp);
        return tm_error_set(err, TM_EIO, "%s: %s failed: %s", path, step, strerror(saved));
    }
    if (changed != NULL)
        *changed = true;

    /* The rename is durable only once the folder's entry is on disk. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        saved = errno;
        if (dfd >= 0)
            close(dfd);
        return tm_error_set(err, TM_EIO, "%s: fsync of the folder failed: %s", dir,
                            strerror(saved));
    }
    close(dfd);
    return 0;
}

/* Reads dir/name whole when it exists and is at most
 * TM_PUBLISH_MAX_FILE_BYTES; NULL otherwise (then it is simply replaced). */
static char *read_existing(const char *dir, const char *name, size_t *len)
{
    char path[TM_PUBLISH_MAX_PATH];
    if (join(path, sizeof path, dir, "", name, "") != 0)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *data = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
        (uintmax_t)st.st_size <= TM_PUBLISH_MAX_FILE_BYTES)
        data = malloc((size_t)st.st_size + 1);
    size_t off = 0;
    while (data != NULL && off < (size_t)st.st_size) {
        ssize_t got = read(fd, data + off, (size_t)st.st_size - off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            free(data);
            data = NULL;
        } else {
            off += (size_t)got;
        }
    }
    close(fd);
    if (data != NULL) {
        data[off] = '\0';
        *len = off;
    }
    return data;
}

static bool category_name_ok(const char *c)
{
    size_t n = strlen(c);
    if (n == 0 || n > TM_PUBLISH_MAX_CATEGORY_BYTES)
        return false;
    if (strcmp(c, "latest") == 0 || strcmp(c, "snapshot") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = c[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        if (!ok)
            return false;
    }
    return true;
}

/* Distinct categories of the configured sources, in source-list order. */
static int collect_categories(const struct tm_config *cfg, const char ***out, size_t *n_out,
                              struct tm_error *err)
{
    *out = NULL;
    *n_out = 0;
    if (cfg->n_sources == 0)
        return 0;
    const char **cats = calloc(cfg->n_sources, sizeof *cats);
    if (cats == NULL)
        return tm_error_set(err, TM_ENOMEM, "publish: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const char *c = cfg->sources[i].category;
        if (c == NULL)
            continue;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(cats[k], c) == 0;
        if (seen)
            continue;
        if (!category_name_ok(c)) {
            free(cats);
            return tm_error_set(err, TM_EINVAL,
                                "publish: category \"%s\" of source %s cannot name a file", c,
                                cfg->sources[i].id != NULL ? cfg->sources[i].id : "?");
        }
        cats[n++] = c;
    }
    *out = cats;
    *n_out = n;
    return 0;
}

/* Renders one JSON file. When the file on disk differs from this rendering
 * only in generated_at, its bytes are kept, so an idle cycle leaves it alone
 * (SPEC §6: a file whose content would not change is not rewritten). */
static int render_json(const struct tm_view *v, const char *dir, const char *name,
                       const char *category, int64_t now_utc, char **out, size_t *out_len,
                       struct tm_error *err)
{
    size_t old_len = 0;
    char *old = read_existing(dir, name, &old_len);
    int64_t prev_utc;
    if (old != NULL && tm_jsonfeed_generated_at(old, old_len, &prev_utc) == 0) {
        int rc = tm_jsonfeed_render(v, category, prev_utc, out, out_len, err);
        if (rc != 0) {
            free(old);
            return rc;
        }
        bool same = *out_len == old_len && memcmp(*out, old, old_len) == 0;
        free(old);
        if (same)
            return 0;
        free(*out);
        *out = NULL;
    } else {
        free(old);
    }
    return tm_jsonfeed_render(v, category, now_utc, out, out_len, err);
}

static int add_file(struct tm_publish_result *res, const char *base, const char *ext,
                    const char *type, char *data, size_t len, struct tm_error *err)
{
    struct tm_published_file *f = &res->files[res->n_files];
    size_t n = strlen(base) + strlen(ext) + 1;
    f->name = malloc(n);
    if (f->name == NULL) {
        free(data);
        return tm_error_set(err, TM_ENOMEM, "publish: out of memory");
    }
    snprintf(f->name, n, "%s%s", base, ext);
    f->data = data;
    f->len = len;
    f->content_type = type;
    f->changed = false;
    res->n_files++;
    return 0;
}

static int render_all(const struct tm_view *v, const char *dir, const char **cats, size_t n_cats,
                      int64_t now_utc, struct tm_publish_result *res, struct tm_error *err)
{
    for (size_t i = 0; i <= n_cats; i++) {
        const char *cat = i == 0 ? NULL : cats[i - 1];
        char *data;
        size_t len;
        int rc = tm_atom_render(v, cat, &data, &len, err);
        if (rc == 0)
            rc = add_file(res, cat != NULL ? cat : "latest", ".atom", TM_PUBLISH_TYPE_ATOM, data,
                          len, err);
        if (rc != 0)
            return rc;
        char name[TM_PUBLISH_MAX_CATEGORY_BYTES + 16];
        snprintf(name, sizeof name, "%s.json", cat != NULL ? cat : "snapshot");
        rc = render_json(v, dir, name, cat, now_utc, &data, &len, err);
        if (rc == 0)
            rc = add_file(res, cat != NULL ? cat : "snapshot", ".json", TM_PUBLISH_TYPE_JSON, data,
                          len, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int check_out_dir(const char *dir, struct tm_error *err)
{
    if (dir == NULL || dir[0] == '\0')
        return tm_error_set(err, TM_EIO, "publish: no out_dir configured");
    struct stat st;
    if (stat(dir, &st) != 0)
        return tm_error_set(err, TM_EIO, "out_dir %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return tm_error_set(err, TM_EIO, "out_dir %s: not a folder", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return tm_error_set(err, TM_EIO, "out_dir %s: not writable: %s", dir, strerror(errno));
    return 0;
}

/* tm_jsonfeed_each_box's callback: a copy of each headline into the result,
 * whose `latest` has room for them all. */
static int on_jsonfeed_box(void *ud, const struct tm_jsonfeed_headline *h)
{
    struct tm_publish_result *res = ud;
    struct tm_published_headline *d = &res->latest[res->n_latest++];
    d->title = tm_strdup_or_null(h->title);
    d->url = tm_strdup_or_null(h->url);
    d->display_date = tm_strdup_or_null(h->display_date);
    bool oom = (h->title != NULL && d->title == NULL) || (h->url != NULL && d->url == NULL) ||
               (h->display_date != NULL && d->display_date == NULL);
    return oom ? TM_ENOMEM : 0;
}

/* The box's headlines, for the callers that show it (`tinmoi once`). */
static int collect_box(const struct tm_view *v, struct tm_publish_result *res, struct tm_error *err)
{
    size_t n = v->config->latest_limit > 0 ? (size_t)v->config->latest_limit : 0;
    if (n == 0)
        return 0;
    res->latest = calloc(n, sizeof *res->latest);
    int rc = res->latest != NULL ? tm_jsonfeed_each_box(v, on_jsonfeed_box, res) : TM_ENOMEM;
    if (rc != 0)
        return tm_error_set(err, rc, "publish: the latest box: %s", tm_strerror(rc));
    return 0;
}

int tm_publish_all(const struct tm_publish_input *in, struct tm_publish_result *res,
                   struct tm_error *err)
{
    memset(res, 0, sizeof *res);
    const struct tm_config *cfg = in->config;
    if (cfg == NULL)
        return tm_error_set(err, TM_EINVAL, "publish: no config");
    int rc = check_out_dir(cfg->out_dir, err);
    if (rc != 0)
        return rc;
    const char **cats;
    size_t n_cats;
    rc = collect_categories(cfg, &cats, &n_cats, err);
    if (rc != 0)
        return rc;
    struct tm_view v;
    rc = tm_view_init(&v, cfg, in->states, in->items, in->n_items, in->stories, in->n_stories,
                      in->source_updated_utc, err);
    if (rc != 0) {
        free(cats);
        return rc;
    }
    res->files = calloc(2 * (n_cats + 1), sizeof *res->files);
    if (res->files == NULL)
        rc = tm_error_set(err, TM_ENOMEM, "publish: out of memory");
    if (rc == 0)
        rc = render_all(&v, cfg->out_dir, cats, n_cats, in->now_utc, res, err);
    if (rc == 0)
        rc = collect_box(&v, res, err);
    tm_view_clear(&v);
    free(cats);
    for (size_t i = 0; rc == 0 && i < res->n_files; i++) {
        struct tm_published_file *f = &res->files[i];
        rc = tm_publish_file(cfg->out_dir, f->name, f->data, f->len, &f->changed, err);
        if (f->changed)
            res->n_changed++;
    }
    if (rc != 0)
        tm_publish_result_clear(res);
    return rc;
}

void tm_publish_result_clear(struct tm_publish_result *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->n_files; i++) {
        free(res->files[i].name);
        free(res->files[i].data);
    }
    free(res->files);
    for (size_t i = 0; i < res->n_latest; i++) {
        free(res->latest[i].title);
        free(res->latest[i].url);
        free(res->latest[i].display_date);
    }
    free(res->latest);
    memset(res, 0, sizeof *res);
}
