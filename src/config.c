/* tinmoi — tinmoi.conf (SPEC §4): INI through inih, every problem collected
 * with its line, then the OPML source list it names.
 *
 * Debian's libinih is built without INI_HANDLER_LINENO, so the handler does
 * not learn the line. We feed inih through ini_parse_stream with our own
 * reader: it counts lines, and it vets each line before inih sees it, so that
 * a syntax error or an unknown section is reported with its line and inih's
 * own "first error line" never has to be trusted. */
#include "tinmoi/config.h"

#include <curl/curl.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "config_int.h"
#include "tinmoi/date.h"
#include "tinmoi/error.h"
#include "tinmoi/opml.h"

enum key {
    K_TITLE,
    K_SOURCES,
    K_STATE_DIR,
    K_OUT_DIR,
    K_PUBLIC_URL,
    K_LATEST_LIMIT,
    K_ITEMS_LIMIT,
    K_UTC_OFFSET,
    K_INTERVAL,
    K_CONCURRENCY,
    K_PER_HOST,
    K_TIMEOUT,
    K_MAX_BODY,
    K_LISTEN,
    K_COUNT
};

/* Keys, their section and their default: exactly SPEC §4's example. */
static const struct {
    const char *section;
    const char *name;
    const char *default_value;
} keys[K_COUNT] = {
    [K_TITLE] = {"tinmoi", "title", "Tin mới nhất"},
    [K_SOURCES] = {"tinmoi", "sources", "sources.opml"},
    [K_STATE_DIR] = {"tinmoi", "state_dir", "../state"},
    [K_OUT_DIR] = {"tinmoi", "out_dir", "../out"},
    [K_PUBLIC_URL] = {"tinmoi", "public_url", "http://127.0.0.1:8080/"},
    [K_LATEST_LIMIT] = {"tinmoi", "latest_limit", "8"},
    [K_ITEMS_LIMIT] = {"tinmoi", "items_limit", "50"},
    [K_UTC_OFFSET] = {"tinmoi", "utc_offset", "+07:00"},
    [K_INTERVAL] = {"fetch", "interval", "15m"},
    [K_CONCURRENCY] = {"fetch", "concurrency", "32"},
    [K_PER_HOST] = {"fetch", "per_host", "4"},
    [K_TIMEOUT] = {"fetch", "timeout", "30s"},
    [K_MAX_BODY] = {"fetch", "max_body", "8388608"},
    [K_LISTEN] = {"http", "listen", "127.0.0.1:8080"},
};

static const char *const sections[] = {"tinmoi", "fetch", "http"};

struct ini_state {
    const char *file; /* as the problems name it */
    const char *text;
    size_t len;
    size_t pos;
    int line;
    char *values[K_COUNT];
    int lines[K_COUNT]; /* 0: not set, the default applies */
    struct tm_config_problems *problems;
    bool oom;
};

int tm_config_problems_add(struct tm_config_problems *problems, const char *file, int line,
                           const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct tm_config_problem *v = realloc(problems->v, (problems->n + 1) * sizeof *v);
    if (v == NULL)
        return TM_ENOMEM;
    problems->v = v;
    struct tm_config_problem *p = &v[problems->n];
    p->file = strdup(file != NULL ? file : "");
    p->message = strdup(msg);
    p->line = line;
    if (p->file == NULL || p->message == NULL) {
        free(p->file);
        free(p->message);
        return TM_ENOMEM;
    }
    problems->n++;
    return 0;
}

void tm_config_problems_clear(struct tm_config_problems *problems)
{
    if (problems == NULL)
        return;
    for (size_t i = 0; i < problems->n; i++) {
        free(problems->v[i].file);
        free(problems->v[i].message);
    }
    free(problems->v);
    problems->v = NULL;
    problems->n = 0;
}

void tm_config_free(struct tm_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->dir);
    free(cfg->title);
    free(cfg->sources_path);
    free(cfg->state_dir);
    free(cfg->out_dir);
    free(cfg->public_url);
    free(cfg->listen);
    tm_opml_sources_free(cfg->sources, cfg->n_sources);
    free(cfg);
}

int tm_config_parse_duration(const char *s, int64_t *out_s)
{
    if (s == NULL || *s == '\0')
        return TM_EINVAL;
    int64_t total = 0;
    const char *p = s;
    bool bare = true;
    while (*p != '\0') {
        if (*p < '0' || *p > '9')
            return TM_EINVAL;
        int64_t n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n > (INT64_MAX - 9) / 10)
                return TM_EINVAL;
            n = n * 10 + (*p++ - '0');
        }
        int64_t unit = 1;
        switch (*p) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case '\0':
            /* A bare number is seconds, but only on its own: "1h30" is a typo. */
            if (!bare)
                return TM_EINVAL;
            break;
        default:
            return TM_EINVAL;
        }
        if (*p != '\0') {
            p++;
            bare = false;
        }
        if (n > (INT64_MAX - total) / unit)
            return TM_EINVAL;
        total += n * unit;
    }
    *out_s = total;
    return 0;
}

int tm_config_parse_int(const char *s, long long min, long long max, long long *out)
{
    if (s == NULL || *s == '\0')
        return TM_EINVAL;
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return TM_EINVAL;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || v < min || v > max)
        return TM_EINVAL;
    *out = v;
    return 0;
}

int tm_config_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, char *why,
                        size_t why_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, why_len, "%s", strerror(errno));
        return TM_EIO;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        fclose(f);
        return TM_ENOMEM;
    }
    for (;;) {
        if (len == cap - 1) {
            if (cap - 1 > max_bytes)
                break;
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return TM_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int rc = 0;
    if (ferror(f)) {
        snprintf(why, why_len, "%s", strerror(errno != 0 ? errno : EIO));
        rc = TM_EIO;
    } else if (len > max_bytes) {
        snprintf(why, why_len, "larger than %zu bytes", max_bytes);
        rc = TM_ELIMIT;
    }
    fclose(f);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

char *tm_config_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

char *tm_config_path_join(const char *dir, const char *path)
{
    size_t dl = path[0] == '/' ? 0 : strlen(dir);
    size_t pl = strlen(path);
    char *joined = malloc(dl + pl + 2);
    if (joined == NULL)
        return NULL;
    memcpy(joined, dir, dl);
    joined[dl] = '/';
    memcpy(joined + dl + 1, path, pl + 1);
    if (dl == 0)
        memmove(joined, joined + 1, pl + 1);

    /* Fold segments in place: out never runs ahead of in. */
    bool absolute = joined[0] == '/';
    char *out = malloc(strlen(joined) + 2);
    if (out == NULL) {
        free(joined);
        return NULL;
    }
    size_t o = 0;
    size_t floor = 0; /* leading ".." segments of a relative path stay */
    if (absolute)
        out[o++] = '/';
    const char *p = joined;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *seg = p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t n = (size_t)(p - seg);
        if (n == 1 && seg[0] == '.')
            continue;
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            size_t base = absolute ? 1 : 0;
            if (o > base + floor) {
                while (o > base && out[o - 1] != '/')
                    o--;
                if (o > base)
                    o--; /* the slash before the dropped segment */
                continue;
            }
            if (absolute)
                continue; /* "/.." is "/" */
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, "..", 2);
            o += 2;
            floor = o;
            continue;
        }
        if (o > (absolute ? 1u : 0u))
            out[o++] = '/';
        memcpy(out + o, seg, n);
        o += n;
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = '\0';
    free(joined);
    return out;
}

char *tm_config_text(const char *s)
{
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &nfc,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0)
        return NULL;
    char *t = (char *)nfc;
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; t[i] != '\0'; i++) {
        char c = t[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            space = o > 0;
            continue;
        }
        if (space)
            t[o++] = ' ';
        space = false;
        t[o++] = c;
    }
    t[o] = '\0';
    return t;
}

int tm_config_http_url(const char *s, char **out)
{
    CURLU *u = curl_url();
    if (u == NULL)
        return TM_ENOMEM;
    int rc = TM_EINVAL;
    char *scheme = NULL, *host = NULL, *full = NULL;
    if (curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK)
        goto done;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        goto done;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
        goto done;
    if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
        goto done;
    *out = strdup(full);
    rc = *out != NULL ? 0 : TM_ENOMEM;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(full);
    curl_url_cleanup(u);
    return rc;
}

static bool utf8_line_valid(const char *s, size_t n)
{
    utf8proc_ssize_t i = 0;
    while ((size_t)i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)n - i, &cp);
        if (k <= 0 || cp == 0)
            return false;
        i += k;
    }
    return true;
}

static void add_problem(struct ini_state *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_problem(struct ini_state *st, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (tm_config_problems_add(st->problems, st->file, line, "%s", msg) != 0)
        st->oom = true;
}

static bool known_section(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (strlen(sections[i]) == n && memcmp(sections[i], name, n) == 0)
            return true;
    return false;
}

/* inih's reader: hands over one physical line at a time, counting them, and
 * replaces a line inih would reject (or misread) by an empty one after
 * recording the problem. Leading white space is dropped so that inih's
 * Python-style continuation lines never apply: every line stands alone. */
static char *on_ini_read_line(char *str, int num, void *stream)
{
    struct ini_state *st = stream;
    if (st->pos >= st->len)
        return NULL;
    const char *p = st->text + st->pos;
    const char *nl = memchr(p, '\n', st->len - st->pos);
    size_t n = nl != NULL ? (size_t)(nl - p) : st->len - st->pos;
    st->pos += n + (nl != NULL ? 1 : 0);
    st->line++;
    str[0] = '\0';
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (st->line == 1 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
        n -= 3;
    }
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    if (!utf8_line_valid(p, n)) {
        add_problem(st, st->line, "line is not valid UTF-8");
        return str;
    }
    if (num < 3 || n > (size_t)num - 3) {
        add_problem(st, st->line, "line too long (over %d bytes)", num - 3);
        return str;
    }
    if (n == 0 || p[0] == ';' || p[0] == '#')
        goto pass;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (close == NULL) {
            add_problem(st, st->line, "expected ']' after the section name");
            return str;
        }
        const char *name = p + 1;
        size_t nn = (size_t)(close - name);
        while (nn > 0 && (*name == ' ' || *name == '\t')) {
            name++;
            nn--;
        }
        while (nn > 0 && (name[nn - 1] == ' ' || name[nn - 1] == '\t'))
            nn--;
        if (!known_section(name, nn))
            add_problem(st, st->line, "unknown section [%.*s]", (int)nn, name);
        goto pass;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ';' && i > 0 && (p[i - 1] == ' ' || p[i - 1] == '\t'))
            break;
        if (p[i] == '=' || p[i] == ':')
            goto pass;
    }
    add_problem(st, st->line, "expected 'key = value'");
    return str;
pass:
    memcpy(str, p, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

static int on_ini_key(void *user, const char *section, const char *name, const char *value)
{
    struct ini_state *st = user;
    if (section[0] == '\0') {
        add_problem(st, st->line, "key '%s' is outside any section", name);
        return 1;
    }
    if (!known_section(section, strlen(section)))
        return 1; /* the section's line was reported */
    int k = -1;
    for (int i = 0; i < K_COUNT; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
            k = i;
    if (k < 0) {
        add_problem(st, st->line, "unknown key '%s' in [%s]", name, section);
        return 1;
    }
    if (st->lines[k] != 0) {
        add_problem(st, st->line, "duplicate key '%s' (first at line %d)", name, st->lines[k]);
        return 1;
    }
    /* A value in double quotes is taken without them. */
    size_t vl = strlen(value);
    if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
        value++;
        vl -= 2;
    }
    st->values[k] = strndup(value, vl);
    if (st->values[k] == NULL)
        st->oom = true;
    st->lines[k] = st->line;
    return 1;
}

static const char *value_of(const struct ini_state *st, enum key k)
{
    return st->values[k] != NULL ? st->values[k] : keys[k].default_value;
}

static void bad_value(struct ini_state *st, enum key k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "bad value 'X' for KEY: <why>" at the key's line (0 for a default, which
 * only a cross-check between two keys can reach). */
static void bad_value(struct ini_state *st, enum key k, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    add_problem(st, st->lines[k], "bad value '%s' for %s: %s", value_of(st, k), keys[k].name, why);
}

static bool int_key(struct ini_state *st, enum key k, long long min, long long max, long long *out)
{
    if (tm_config_parse_int(value_of(st, k), min, max, out) == 0)
        return true;
    bad_value(st, k, "expected an integer from %lld to %lld", min, max);
    return false;
}

static bool duration_key(struct ini_state *st, enum key k, int64_t max_s, int64_t *out)
{
    int64_t v;
    if (tm_config_parse_duration(value_of(st, k), &v) == 0 && v >= 1 && v <= max_s) {
        *out = v;
        return true;
    }
    bad_value(st, k, "expected a duration such as 30s, 15m or 1h, from 1s to %llds",
              (long long)max_s);
    return false;
}

static bool listen_valid(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return false;
    long long port;
    if (tm_config_parse_int(colon + 1, 1, 65535, &port) != 0 || colon[1] == '+' || colon[1] == '-')
        return false;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[')
        return hl > 2 && s[hl - 1] == ']';
    for (size_t i = 0; i < hl; i++)
        if (s[i] == ':' || s[i] == ' ' || s[i] == '/')
            return false;
    return true;
}

static char *path_key(struct ini_state *st, enum key k, const char *dir)
{
    const char *v = value_of(st, k);
    if (v[0] == '\0') {
        bad_value(st, k, "expected a path");
        return NULL;
    }
    char *p = tm_config_path_join(dir, v);
    if (p == NULL)
        st->oom = true;
    return p;
}

/* Turns the collected strings into `cfg`, recording a problem per bad value. */
static void apply_values(struct ini_state *st, struct tm_config *cfg)
{
    long long v;
    cfg->title = tm_config_text(value_of(st, K_TITLE));
    if (cfg->title == NULL || cfg->title[0] == '\0')
        bad_value(st, K_TITLE, "expected text");

    cfg->sources_path = path_key(st, K_SOURCES, cfg->dir);
    cfg->state_dir = path_key(st, K_STATE_DIR, cfg->dir);
    cfg->out_dir = path_key(st, K_OUT_DIR, cfg->dir);

    char *url = NULL;
    int rc = tm_config_http_url(value_of(st, K_PUBLIC_URL), &url);
    if (rc == TM_ENOMEM) {
        st->oom = true;
    } else if (rc != 0) {
        bad_value(st, K_PUBLIC_URL, "expected an http:// or https:// URL");
    } else {
        size_t n = strlen(url);
        if (n == 0 || url[n - 1] != '/') {
            char *slashed = realloc(url, n + 2);
            if (slashed == NULL) {
                st->oom = true;
            } else {
                slashed[n] = '/';
                slashed[n + 1] = '\0';
                url = slashed;
            }
        }
    }
    cfg->public_url = url;

    bool items_ok = int_key(st, K_ITEMS_LIMIT, 1, TM_CONFIG_MAX_ITEMS_LIMIT, &v);
    cfg->items_limit = (int)v;
    if (int_key(st, K_LATEST_LIMIT, 1, TM_CONFIG_MAX_ITEMS_LIMIT, &v)) {
        cfg->latest_limit = (int)v;
        if (items_ok && cfg->latest_limit > cfg->items_limit)
            bad_value(st, st->lines[K_LATEST_LIMIT] != 0 ? K_LATEST_LIMIT : K_ITEMS_LIMIT,
                      "latest_limit (%d) must not exceed items_limit (%d)", cfg->latest_limit,
                      cfg->items_limit);
    }

    if (tm_date_parse_offset(value_of(st, K_UTC_OFFSET), &cfg->utc_offset_s) != 0 ||
        cfg->utc_offset_s < -14 * 3600 || cfg->utc_offset_s > 14 * 3600) {
        bad_value(st, K_UTC_OFFSET, "expected an offset such as +07:00");
        cfg->utc_offset_s = TM_DATE_DEFAULT_OFFSET_S;
    }

    if (!duration_key(st, K_INTERVAL, TM_CONFIG_MAX_INTERVAL_S, &cfg->interval_s))
        cfg->interval_s = 15 * 60;
    duration_key(st, K_TIMEOUT, TM_CONFIG_MAX_TIMEOUT_S, &cfg->timeout_s);
    if (tm_config_parse_int(value_of(st, K_MAX_BODY), 1, INT64_MAX, &v) == 0)
        cfg->max_body_bytes = v;
    else
        bad_value(st, K_MAX_BODY, "expected a positive number of bytes");

    bool conc_ok = int_key(st, K_CONCURRENCY, 1, TM_CONFIG_MAX_CONCURRENCY, &v);
    cfg->concurrency = (int)v;
    if (conc_ok) {
        if (tm_config_parse_int(value_of(st, K_PER_HOST), 1, cfg->concurrency, &v) == 0)
            cfg->per_host = (int)v;
        else if (st->lines[K_PER_HOST] != 0 ||
                 tm_config_parse_int(value_of(st, K_PER_HOST), 1, INT_MAX, &v) != 0)
            bad_value(st, K_PER_HOST, "expected an integer from 1 to concurrency (%d)",
                      cfg->concurrency);
        else
            bad_value(st, K_CONCURRENCY, "must be at least per_host (%s)",
                      value_of(st, K_PER_HOST));
    }

    const char *listen = value_of(st, K_LISTEN);
    if (listen[0] == '\0')
        cfg->listen = NULL;
    else if (!listen_valid(listen))
        bad_value(st, K_LISTEN, "expected HOST:PORT, or nothing to turn the server off");
    else if ((cfg->listen = strdup(listen)) == NULL)
        st->oom = true;
}

/* Stable merge sort of problems[from..n) by line, so that each file's
 * problems read top to bottom. */
static void sort_by_line(struct tm_config_problem *v, struct tm_config_problem *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_by_line(v, tmp, h);
    sort_by_line(v + h, tmp, n - h);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n)
        tmp[o++] = v[j].line < v[i].line ? v[j++] : v[i++];
    while (i < h)
        tmp[o++] = v[i++];
    while (j < n)
        tmp[o++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

int tm_config_problems_sort_from(struct tm_config_problems *problems, size_t from)
{
    size_t n = problems->n - from;
    if (n < 2)
        return 0;
    struct tm_config_problem *tmp = malloc(n * sizeof *tmp);
    if (tmp == NULL)
        return TM_ENOMEM;
    sort_by_line(problems->v + from, tmp, n);
    free(tmp);
    return 0;
}

int tm_config_load(const char *path, struct tm_config **out, struct tm_config_problems *problems)
{
    *out = NULL;
    struct ini_state st = {.file = path, .problems = problems};
    size_t first = problems->n;
    struct tm_config *cfg = calloc(1, sizeof *cfg);
    char *given_dir = NULL, *text = NULL;
    int rc = TM_ENOMEM;
    if (cfg == NULL)
        goto done;
    if ((cfg->path = strdup(path)) == NULL || (given_dir = tm_config_dirname(path)) == NULL)
        goto done;

    char why[256];
    size_t len = 0;
    rc = tm_config_read_file(path, TM_CONFIG_MAX_BYTES, &text, &len, why, sizeof why);
    if (rc == TM_ENOMEM)
        goto done;
    if (rc != 0) {
        rc = tm_config_problems_add(problems, path, 0, "cannot read: %s", why) != 0 ? TM_ENOMEM
                                                                                    : TM_ECONFIG;
        goto done;
    }
    /* Relative paths hang off the folder the config was found in, made
     * absolute now so that a later chdir (or systemd's "/") cannot move them. */
    char *abs_dir = realpath(given_dir, NULL);
    if (abs_dir == NULL) {
        rc = tm_config_problems_add(problems, path, 0, "cannot resolve its folder: %s",
                                    strerror(errno)) != 0
                 ? TM_ENOMEM
                 : TM_ECONFIG;
        goto done;
    }
    cfg->dir = abs_dir;

    st.text = text;
    st.len = len;
    int first_error = ini_parse_stream(on_ini_read_line, &st, on_ini_key, &st);
    if (first_error == -2)
        st.oom = true;
    else if (first_error > 0 && problems->n == first)
        add_problem(&st, first_error, "syntax error");
    if (!st.oom)
        apply_values(&st, cfg);
    if (st.oom || tm_config_problems_sort_from(problems, first) != 0) {
        rc = TM_ENOMEM;
        goto done;
    }

    if (cfg->sources_path != NULL) {
        char *display = tm_config_path_join(given_dir, value_of(&st, K_SOURCES));
        if (display == NULL) {
            rc = TM_ENOMEM;
            goto done;
        }
        struct tm_opml_defaults defaults = {.interval_s = cfg->interval_s,
                                            .utc_offset_s = cfg->utc_offset_s};
        rc = tm_opml_load(cfg->sources_path, display, &defaults, &cfg->sources, &cfg->n_sources,
                          problems);
        free(display);
        if (rc == TM_ENOMEM)
            goto done;
    }
    rc = problems->n > first ? TM_ECONFIG : 0;
done:
    for (int i = 0; i < K_COUNT; i++)
        free(st.values[i]);
    free(text);
    free(given_dir);
    if (rc == 0)
        *out = cfg;
    else
        tm_config_free(cfg);
    return rc;
}
