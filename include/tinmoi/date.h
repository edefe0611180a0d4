/* tinmoi — dates as real feeds write them (SPEC §5).
 *
 * Pure: no I/O, no global state, no locale. Accepts RFC 822 and its common
 * corruptions, ISO 8601 / W3CDTF, and the Vietnamese portal forms. */
#ifndef TINMOI_DATE_H
#define TINMOI_DATE_H

#include <stddef.h>
#include <stdint.h>

/* "No time": a date absent or not recognised, a deadline never set. Every
 * stage uses this one marker for its *_utc fields. */
#define TM_TIME_NONE INT64_MIN

/* Vietnam's offset, the default for dates written without a zone. */
#define TM_DATE_DEFAULT_OFFSET_S (7 * 3600)

enum tm_date_order {
    TM_DATE_DMY = 0, /* d/M/yyyy, the Vietnamese and default order */
    TM_DATE_MDY,     /* M/d/yyyy, .NET-style feeds */
};

struct tm_date_opts {
    int utc_offset_s;         /* applied to dates without a zone */
    enum tm_date_order order; /* for ambiguous numeric dates; a field over 12 decides alone */
};

/* Parses `s` (NUL-terminated UTF-8) into seconds since the epoch, UTC.
 * `opts` may be NULL (DMY, +07:00). Returns 0, or TM_EDATE when the text is
 * not a date it recognises (out_utc is then untouched). */
int tm_date_parse(const char *s, const struct tm_date_opts *opts, int64_t *out_utc);

/* Size of an RFC 3339 UTC timestamp "2022-05-31T03:55:00Z" with its NUL. */
#define TM_DATE_RFC3339_LEN 21
/* Writes `utc` as RFC 3339 in UTC with `Z` and whole seconds. Returns 0 or
 * TM_EINVAL when the year is outside 0000..9999. */
int tm_date_format_rfc3339(int64_t utc, char out[TM_DATE_RFC3339_LEN]);

/* Size of the portal's display date "31/05/2022 10:55 SA" with its NUL. */
#define TM_DATE_DISPLAY_LEN 24
/* Writes `utc` shifted by `utc_offset_s` as the portal shows it:
 * "dd/mm/yyyy h:mm SA|CH" (12-hour clock, no leading zero on the hour;
 * 00:05 is "12:05 SA", 12:19 is "12:19 CH"). Returns 0 or TM_EINVAL. */
int tm_date_format_display(int64_t utc, int utc_offset_s, char out[TM_DATE_DISPLAY_LEN]);

/* Writes `utc` as an RFC 7231 HTTP-date ("Tue, 31 May 2022 03:55:00 GMT",
 * 29 characters plus NUL). Returns 0 or TM_EINVAL. */
#define TM_DATE_HTTP_LEN 30
int tm_date_format_http(int64_t utc, char out[TM_DATE_HTTP_LEN]);

/* Parses a UTC offset "+07:00", "-0330", "+7", "Z" into seconds.
 * Returns 0 or TM_EINVAL. */
int tm_date_parse_offset(const char *s, int *out_offset_s);

/* Days-from-civil: seconds since the epoch for a proleptic Gregorian UTC
 * date and time. No range checks beyond what the arithmetic needs. */
int64_t tm_date_from_civil(int year, int month, int day, int hour, int min, int sec);

#endif
