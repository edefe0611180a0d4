/* tinmoi — configuration (tinmoi.conf, INI via inih) and the OPML source
 * list (SPEC §4). The left-most stage: it reads files and produces plain data. */
#ifndef TINMOI_CONFIG_H
#define TINMOI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tinmoi/source.h"

/* Largest config file read: it holds a dozen keys, so anything bigger is a
 * mistake (the wrong file named with -c). */
#define TM_CONFIG_MAX_BYTES (1024 * 1024)
/* Transfers at once across all hosts; past this the daemon would run out of
 * descriptors under the default systemd limit of 1024. */
#define TM_CONFIG_MAX_CONCURRENCY 1024
/* Items in a published list: a reader that wants more should subscribe. */
#define TM_CONFIG_MAX_ITEMS_LIMIT 10000
/* Longest transfer time allowed: a slow source must not hold a slot all day. */
#define TM_CONFIG_MAX_TIMEOUT_S 3600

struct tm_config {
    char *path;         /* the config file as given */
    char *dir;          /* its folder, absolute: relative paths are relative to it */
    char *title;        /* "Tin mới nhất" */
    char *sources_path; /* absolute path of the OPML file */
    char *state_dir;    /* absolute */
    char *out_dir;      /* absolute */
    char *public_url;   /* http(s), ends with '/' */
    int latest_limit;
    int items_limit;
    int utc_offset_s;
    int64_t interval_s;
    int concurrency;
    int per_host;
    int64_t timeout_s;
    int64_t max_body_bytes;
    char *listen; /* "127.0.0.1:8080", NULL when the HTTP server is off */
    struct tm_source *sources;
    size_t n_sources;
};

/* One problem found while loading: reported as "FILE:LINE: message", or
 * "FILE: message" when line is 0. */
struct tm_config_problem {
    char *file;
    int line; /* 0 when the problem has no line (unreadable file) */
    char *message;
};

struct tm_config_problems {
    struct tm_config_problem *v;
    size_t n;
};

/* Loads the config at `path` and the OPML source list it names. Every key
 * has the default of SPEC §4's example, so an empty file is valid when
 * sources.opml sits beside it. On 0, *out is a config the caller frees with
 * tm_config_free. On TM_ECONFIG every problem found in both files is in
 * `problems` (config first, each file's in line order; caller frees with
 * tm_config_problems_clear), and *out is NULL. TM_ENOMEM otherwise. Does file
 * I/O; never logs. */
int tm_config_load(const char *path, struct tm_config **out, struct tm_config_problems *problems);

void tm_config_free(struct tm_config *cfg);
void tm_config_problems_clear(struct tm_config_problems *problems);

/* Appends a problem (file and message copied). Returns 0 or TM_ENOMEM. */
int tm_config_problems_add(struct tm_config_problems *problems, const char *file, int line,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Parses a duration "15m", "30s", "1h", "1h30m", "90" (seconds) into
 * seconds. Returns 0 or TM_EINVAL (empty, unknown unit, overflow). */
int tm_config_parse_duration(const char *s, int64_t *out_s);

#endif
