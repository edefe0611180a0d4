/* tinmoi — a configured source (one OPML <outline>, SPEC §4) and its
 * stored state. Plain data shared by config, fetch, store and publish. */
#ifndef TINMOI_SOURCE_H
#define TINMOI_SOURCE_H

#include <stdint.h>

#include "tinmoi/date.h"

struct tm_source {
    char *id;       /* stable identifier, e.g. "huyen-nhu-thanh" */
    char *title;    /* display name (OPML text/title) */
    char *url;      /* absolute http(s):// or file:// URL of the feed */
    char *html_url; /* the source's web site, or NULL */
    char *category; /* slug: "district", "province", "ministry", ... */
    int64_t interval_s;
    int priority;              /* higher wins as the primary of a merged story */
    struct tm_date_opts dates; /* utc_offset and date_order for this source */
    int line;                  /* line of the <outline> in the OPML file, for messages */
};

enum tm_source_status {
    TM_SOURCE_NEVER = 0, /* never fetched successfully or unsuccessfully */
    TM_SOURCE_OK,
    TM_SOURCE_ERROR,
};

/* What the store knows of a source between runs. Strings owned by the
 * struct; free with tm_source_state_clear. */
struct tm_source_state {
    char *etag; /* HTTP validators of the last 200, or NULL */
    char *last_modified;
    int64_t last_attempt_utc; /* TM_TIME_NONE when never */
    int64_t last_success_utc; /* TM_TIME_NONE when never */
    char *last_error;         /* one line, NULL after a success */
    int consecutive_failures;
    int64_t item_count; /* items stored for the source */
    enum tm_source_status status;
};

void tm_source_clear(struct tm_source *s);
void tm_source_state_clear(struct tm_source_state *st);
const char *tm_source_status_name(enum tm_source_status status);

#endif
