/* tinmoi — helpers shared by the config (src/config.c) and OPML (src/opml.c)
 * loaders. Internal to src/. */
#ifndef TINMOI_CONFIG_INT_H
#define TINMOI_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tinmoi/config.h"

/* Longest interval a source may have: the daemon polls at least once a day. */
#define TM_CONFIG_MAX_INTERVAL_S 86400

/* Reads the whole file at `path` into a NUL-terminated malloc'd buffer (the
 * caller frees *out). Fails with TM_EIO (why: strerror text) or TM_ELIMIT
 * (why: the limit) when it is larger than `max_bytes`, TM_ENOMEM on OOM. */
int tm_config_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, char *why,
                        size_t why_len);

/* The folder part of `path` ("." when it has none). Caller frees. NULL on OOM. */
char *tm_config_dirname(const char *path);

/* `path` if absolute, else `dir`/`path`; "." and ".." segments and repeated
 * slashes folded lexically. Caller frees. NULL on OOM. */
char *tm_config_path_join(const char *dir, const char *path);

/* NFC of `s` with surrounding white space trimmed and inner runs collapsed to
 * one space. Caller frees; NULL on OOM or invalid UTF-8. */
char *tm_config_text(const char *s);

/* Parses a whole decimal integer (optional sign) within [min, max]. Returns
 * 0 or TM_EINVAL. */
int tm_config_parse_int(const char *s, long long min, long long max, long long *out);

/* Accepts "http://" and "https://" URLs with a host; writes curl's
 * normalised form to *out (caller frees). Returns 0, TM_EINVAL or TM_ENOMEM. */
int tm_config_http_url(const char *s, char **out);

/* Sorts problems[from..n) by line, keeping the order of equal lines, so that
 * each file's problems read top to bottom. Returns 0 or TM_ENOMEM. */
int tm_config_problems_sort_from(struct tm_config_problems *problems, size_t from);

#endif
