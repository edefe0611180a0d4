/* tinmoi — the OPML 2.0 source list (SPEC §4): one <outline> with xmlUrl per
 * source, folders as categories. Read with libxml2 (no network, no DTD). */
#ifndef TINMOI_OPML_H
#define TINMOI_OPML_H

#include <stddef.h>
#include <stdint.h>

#include "tinmoi/config.h"
#include "tinmoi/source.h"

/* Largest source list read, in bytes: 10,000 sources take about 3 MB, so
 * this leaves room while refusing a runaway file. */
#define TM_OPML_MAX_BYTES (32u * 1024 * 1024)
/* Most sources in one list: ten times the largest deployment benchmarked. */
#define TM_OPML_MAX_SOURCES 100000
/* Deepest nesting of folder outlines followed; real lists use one or two. */
#define TM_OPML_MAX_DEPTH 32
/* Longest id or category slug: they name files and metric labels. */
#define TM_OPML_MAX_SLUG 64

/* What a source gets when its outline does not say. */
struct tm_opml_defaults {
    int64_t interval_s;
    int utc_offset_s;
};

/* Reads the OPML file at `path`. `display` names the file in problems (NULL:
 * `path`). Relative xmlUrl paths are resolved against the file's folder and
 * become absolute file:// URLs. On 0, *out holds *n_out sources the caller
 * frees with tm_opml_sources_free. On TM_ECONFIG every problem found was
 * appended to `problems` (sorted by line) and *out is NULL. TM_ENOMEM on OOM. */
int tm_opml_load(const char *path, const char *display, const struct tm_opml_defaults *defaults,
                 struct tm_source **out, size_t *n_out, struct tm_config_problems *problems);

/* Frees `n` sources and the array. Accepts NULL. */
void tm_opml_sources_free(struct tm_source *v, size_t n);

/* The slug of `text` used for default ids and folder categories: diacritics
 * stripped (đ → d), lower case, every run of other characters one '-', no
 * leading or trailing '-', at most TM_OPML_MAX_SLUG bytes ("Huyện Như Thanh"
 * → "huyen-nhu-thanh"). Caller frees; NULL when nothing remains or on OOM. */
char *tm_opml_slug(const char *text);

#endif
