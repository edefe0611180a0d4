/* libFuzzer target for the date parser (src/date.c): every input is parsed
 * in both field orders and any accepted date is written back out in every
 * format, which must succeed (accepted years are 1970..2100) and read back
 * to the same instant. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tinmoi/date.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_formats(int64_t utc)
{
    char rfc[TM_DATE_RFC3339_LEN], disp[TM_DATE_DISPLAY_LEN], http[TM_DATE_HTTP_LEN];
    if (tm_date_format_rfc3339(utc, rfc) != 0 || tm_date_format_http(utc, http) != 0 ||
        tm_date_format_display(utc, TM_DATE_DEFAULT_OFFSET_S, disp) != 0)
        abort();
    int64_t back = 0;
    if (tm_date_parse(rfc, NULL, &back) != 0 || back != utc)
        abort();
    if (tm_date_parse(http, NULL, &back) != 0 || back != utc)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstring(data, size);
    if (s == NULL)
        return 0;

    const struct tm_date_opts dmy = {.utc_offset_s = TM_DATE_DEFAULT_OFFSET_S,
                                     .order = TM_DATE_DMY};
    const struct tm_date_opts mdy = {.utc_offset_s = -5 * 3600, .order = TM_DATE_MDY};
    int64_t utc = 0;
    if (tm_date_parse(s, &dmy, &utc) == 0)
        check_formats(utc);
    if (tm_date_parse(s, &mdy, &utc) == 0)
        check_formats(utc);
    int off = 0;
    (void)tm_date_parse_offset(s, &off);
    free(s);
    return 0;
}
