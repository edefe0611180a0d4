/* libFuzzer target for the streaming feed parser: the input is pushed in
 * two chunks split at data[0] % size (so chunk boundaries move with the
 * input), finished, and the result serialised to JSON; then parsed again
 * keeping HTML raw (the harvest's way), which must come to the same feed
 * once its raw fields are sanitised. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tinmoi/feed_json.h"
#include "tinmoi/parse.h"
#include "raw_html_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tm_parse_opts opts = {
        .url = "http://fuzz.example/feed.xml",
        .charset = NULL,
        .dates = {.utc_offset_s = TM_DATE_DEFAULT_OFFSET_S, .order = TM_DATE_DMY},
    };
    struct tm_parser *p = tm_parser_new(&opts);
    if (p == NULL)
        return 0;
    size_t split = size > 0 ? data[0] % size : 0;
    if (tm_parser_push(p, (const char *)data, split) == 0)
        tm_parser_push(p, (const char *)data + split, size - split);
    struct tm_feed *feed = NULL;
    struct tm_error err = {0};
    char *json;
    if (tm_parser_finish(p, &feed, &err) == 0) {
        json = tm_feed_to_json(feed, NULL, 0);
        tm_feed_free(feed);
    } else {
        char *why = err.msg;
        json = tm_feed_to_json(NULL, &why, 1);
    }
    free(json);
    tm_parser_free(p);
    if (!raw_html_agrees((const char *)data, size, split, opts))
        abort();
    return 0;
}
