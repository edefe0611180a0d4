/* tinmoi — publishing (SPEC §6): render every output and replace the files
 * in out_dir atomically.
 *
 * The I/O stage after merge. Each file is written to a temporary file in
 * the same folder, fsync'd, renamed over the old one and the folder fsync'd,
 * so a reader sees the old bytes or the new ones, never a torn file. A file
 * whose bytes would not change is not touched (same inode, same mtime). */
#ifndef TINMOI_PUBLISH_H
#define TINMOI_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinmoi/config.h"
#include "tinmoi/error.h"
#include "tinmoi/item.h"
#include "tinmoi/source.h"

/* Largest output file read back to compare with a new rendering: far above
 * items_limit entries of sanitised HTML, and a bound on what a stray file in
 * out_dir can make the publisher read. A larger existing file is replaced. */
#define TM_PUBLISH_MAX_FILE_BYTES (64u * 1024 * 1024)

/* Longest category slug used as a file name: room for ".atom" within any
 * file system's 255-byte name limit, with a wide margin. */
#define TM_PUBLISH_MAX_CATEGORY_BYTES 100

/* Content types the HTTP server sends with the rendered bodies (issue 5). */
#define TM_PUBLISH_TYPE_ATOM "application/atom+xml; charset=utf-8"
#define TM_PUBLISH_TYPE_JSON "application/feed+json; charset=utf-8"

/* Everything one publish needs, all borrowed for the duration of the call. */
struct tm_publish_input {
    const struct tm_config *config;       /* out_dir, title, public_url, items_limit,
                                           * latest_limit, utc_offset_s, sources */
    const struct tm_source_state *states; /* config->n_sources states aligned with
                                           * config->sources; NULL: every source "never" */
    const struct tm_item *items;          /* the items the stories index */
    size_t n_items;
    const struct tm_story *stories; /* merged, newest first, entry_id set */
    size_t n_stories;
    /* Per configured source (aligned with config->sources): the latest date
     * among all its items (tm_view.source_updated_utc), when `items` holds
     * only the items rendered; NULL: taken from `items`. */
    const int64_t *source_updated_utc;
    int64_t now_utc; /* generated_at of a JSON file whose content changed */
};

/* One published file and the bytes now in it. */
struct tm_published_file {
    char *name; /* "latest.atom", "district.json", ... (owned) */
    char *data; /* the file's bytes, NUL-terminated (owned) */
    size_t len;
    const char *content_type; /* TM_PUBLISH_TYPE_ATOM or TM_PUBLISH_TYPE_JSON (static) */
    bool changed;             /* this publish replaced the file */
};

/* One headline of the "Tin mới nhất" box (owned; title and url may be
 * NULL). */
struct tm_published_headline {
    char *title;
    char *url;
    char *display_date; /* "31/05/2022 10:55 SA" */
};

struct tm_publish_result {
    struct tm_published_file *files; /* latest.atom, snapshot.json, then for each category
                                      * in source-list order <category>.atom, <category>.json */
    size_t n_files;
    struct tm_published_headline *latest; /* the box snapshot.json names in `_tinmoi.latest`,
                                           * in order (tm_jsonfeed_each_box) */
    size_t n_latest;
    size_t n_changed; /* files replaced; 0 after an idle cycle */
};

/* Replaces dir/name with data[0..len) atomically. When the file already
 * holds exactly these bytes nothing is written and *changed is false.
 * Otherwise writes dir/.name.XXXXXX, fsyncs it, sets mode 0644, renames it
 * over dir/name, fsyncs dir, and sets *changed (may be NULL). On any
 * failure the temporary file is removed, the old file is left intact and
 * TM_EIO is returned with the path and the system's reason in `err`. */
int tm_publish_file(const char *dir, const char *name, const char *data, size_t len, bool *changed,
                    struct tm_error *err);

/* Renders latest.atom, snapshot.json and, for every category that a
 * configured source has (even with no items), <category>.atom and
 * <category>.json, then writes them into config->out_dir with
 * tm_publish_file. A JSON file keeps its previous generated_at when nothing
 * else in it changed, so an idle cycle rewrites no file at all.
 * On 0, `res` holds every file's name and bytes (changed or not: the bytes
 * now on disk) for the HTTP server; free with tm_publish_result_clear.
 * Errors: TM_EIO when out_dir is missing, not a folder or not writable
 * (checked before anything is written) or a write fails; TM_EINVAL for a
 * category that cannot be a file name ("latest", "snapshot", longer than
 * TM_PUBLISH_MAX_CATEGORY_BYTES, or with characters other than A-Z a-z 0-9
 * - _), an invalid story, or an unwritable
 * date; TM_ENOMEM. On error `res` is empty. */
int tm_publish_all(const struct tm_publish_input *in, struct tm_publish_result *res,
                   struct tm_error *err);

/* Frees what the result owns and empties it. Accepts NULL. */
void tm_publish_result_clear(struct tm_publish_result *res);

#endif
