/* tinmoi — configuration (tinmoi.conf, INI via inih) and the OPML source
 * list (SPEC §4). The left-most stage: it reads files and produces plain data. */
#ifndef TINMOI_CONFIG_H
#define TINMOI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tinmoi/source.h"

struct tm_config {
    char *path;         /* the config file as given */
    char *dir;          /* its folder: relative paths are relative to it */
    char *title;        /* "Tin mới nhất" */
    char *sources_path; /* absolute or relative-to-cwd path of the OPML file */
    char *state_dir;
    char *out_dir;
    char *public_url;   /* ends with '/' */
    int latest_limit;
    int items_limit;
    int utc_offset_s;
    int64_t interval_s;
    int concurrency;
    int per_host;
    int64_t timeout_s;
    int64_t max_body_bytes;
    char *listen;       /* "127.0.0.1:8080", NULL when the HTTP server is off */
    struct tm_source *sources;
    size_t n_sources;
};

/* One problem found while loading: reported as "FILE:LINE: message". */
struct tm_config_problem {
    char *file;
    int line; /* 0 when the problem has no line (unreadable file) */
    char *message;
};

struct tm_config_problems {
    struct tm_config_problem *v;
    size_t n;
};

/* Loads the config at `path` and the OPML source list it names. On 0, *out
 * is a config the caller frees with tm_config_free. On TM_ECONFIG every
 * problem found is in `problems` (caller frees with
 * tm_config_problems_clear), and *out is NULL. TM_ENOMEM otherwise. */
int tm_config_load(const char *path, struct tm_config **out, struct tm_config_problems *problems);

void tm_config_free(struct tm_config *cfg);
void tm_config_problems_clear(struct tm_config_problems *problems);

/* Parses a duration "15m", "30s", "1h", "90" (seconds) into seconds.
 * Returns 0 or TM_EINVAL. */
int tm_config_parse_duration(const char *s, int64_t *out_s);

#endif
