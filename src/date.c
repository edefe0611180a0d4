/* tinmoi — dates as real feeds write them (SPEC §5).
 *
 * Two parsers share one validation step:
 *  - parse_iso: strict ISO 8601 / W3CDTF (RFC 3339 profile, basic format,
 *    reduced precision "2022-05" and "2022");
 *  - parse_loose: a token scanner for everything else: RFC 822/1123/850 and
 *    asctime with their corruptions, and the Vietnamese portal forms.
 *
 * The input is first folded with utf8proc (decompose, strip marks, case
 * fold, lump look-alike spaces and dashes) into lowercase ASCII, so NFC and
 * NFD input, "Thứ bảy" and "THỨ BẢY" all read "thu bay", and "tháng"/"năm"
 * read "thang"/"nam". No word the parser needs is told apart by its marks.
 *
 * Why not curl_getdate for the RFC 822 forms: it cannot tell the caller
 * whether the text had a zone (a zoneless date must take the source's
 * offset, curl assumes GMT), it silently drops the "+7" of "GMT+7", it
 * accepts 31 February (normalised into March), its two-digit year pivot is
 * 70 rather than 50, and it applies the sign-inverted RFC 822 military
 * zones. The tests use it as an oracle for the strict RFC 1123 subset,
 * where both must agree. */
#include "tinmoi/date.h"
#include "tinmoi/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

/* Longest input considered, after trimming white space. The longest real
 * form ("Thứ bảy, ngày 2 tháng 7 năm 2022 lúc 10:55 SA (GMT+07:00)") is
 * under 80 bytes; anything far beyond that is not a date, and the bound
 * keeps the folding buffers on the stack. */
#define TM_DATE_MAX_INPUT_BYTES 256
/* Tokens in one date: the longest form above has about 25. */
#define TM_DATE_MAX_TOKENS 64
/* Largest UTC offset accepted, either sign: real zones span -12:00..+14:00. */
#define TM_DATE_MAX_OFFSET_S (14 * 3600)
/* Feeds carry no dates outside these years; anything else is a typo or a
 * bogus default (.NET's 0001-01-01, a 1900 from a spreadsheet, 9999 as
 * "never"), and letting it through would pin a story to the top or the
 * bottom of every list forever. The bound applies to the year as written
 * and to the instant in UTC, so whatever is accepted is written back in
 * this range and reads back. */
#define TM_DATE_MIN_YEAR 1970
#define TM_DATE_MAX_YEAR 2100
/* Two-digit years below this are 20xx, the others 19xx (RFC 2822 §4.3
 * suggests 50 as the pivot). */
#define TM_DATE_YEAR_PIVOT 50

int64_t tm_date_from_civil(int year, int month, int day, int hour, int min, int sec)
{
    /* Howard Hinnant's days_from_civil, with the month folded into the year
     * first so out-of-range months behave like timegm's. */
    int64_t y = year;
    int64_t m = month - 1;
    y += (m >= 0 ? m : m - 11) / 12;
    m -= ((m >= 0 ? m : m - 11) / 12) * 12;
    m += 1;
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + (int64_t)hour * 3600 + (int64_t)min * 60 + sec;
}

struct civil {
    int year, month, day, hour, min, sec, wday; /* wday: 0 = Sunday */
};

/* Seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range the
 * formatters can write in four-digit years. */
#define TM_DATE_FORMAT_MIN_UTC (-62167219200LL)
#define TM_DATE_FORMAT_MAX_UTC (253402300799LL)

static int to_civil(int64_t utc, struct civil *c)
{
    if (utc < TM_DATE_FORMAT_MIN_UTC || utc > TM_DATE_FORMAT_MAX_UTC)
        return TM_EINVAL;
    int64_t days = utc / 86400;
    int64_t secs = utc % 86400;
    if (secs < 0) {
        secs += 86400;
        days -= 1;
    }
    c->hour = (int)(secs / 3600);
    c->min = (int)(secs / 60 % 60);
    c->sec = (int)(secs % 60);
    int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    c->wday = (int)(w < 0 ? w + 7 : w);

    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->year = (int)(yoe + era * 400 + (c->month <= 2));
    if (c->year < 0 || c->year > 9999)
        return TM_EINVAL;
    return 0;
}

/* A civil field for a fixed-width format: to_civil has checked its range
 * (years 0..9999, the rest two digits); the modulo says so to the
 * compiler, whose -Wformat-truncation cannot see it. */
static unsigned digits2(int v)
{
    return (unsigned)v % 100u;
}

static unsigned digits4(int v)
{
    return (unsigned)v % 10000u;
}

/* Writes the n last decimal digits of v at d, zero-padded. */
static void put_digits(char *d, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        d[i] = (char)('0' + v % 10);
}

int tm_date_format_rfc3339(int64_t utc, char out[TM_DATE_RFC3339_LEN])
{
    struct civil c;
    if (to_civil(utc, &c) != 0)
        return TM_EINVAL;
    /* By hand, not snprintf: every new entry id takes its day from here
     * (200,000 of them in a cold merge at 10,000 sources). */
    memcpy(out, "0000-00-00T00:00:00Z", TM_DATE_RFC3339_LEN);
    put_digits(out, digits4(c.year), 4);
    put_digits(out + 5, digits2(c.month), 2);
    put_digits(out + 8, digits2(c.day), 2);
    put_digits(out + 11, digits2(c.hour), 2);
    put_digits(out + 14, digits2(c.min), 2);
    put_digits(out + 17, digits2(c.sec), 2);
    return 0;
}

int tm_date_format_display(int64_t utc, int utc_offset_s, char out[TM_DATE_DISPLAY_LEN])
{
    struct civil c;
    if (utc_offset_s < -TM_DATE_MAX_OFFSET_S || utc_offset_s > TM_DATE_MAX_OFFSET_S)
        return TM_EINVAL;
    if (utc < TM_DATE_FORMAT_MIN_UTC || utc > TM_DATE_FORMAT_MAX_UTC)
        return TM_EINVAL;
    if (to_civil(utc + utc_offset_s, &c) != 0)
        return TM_EINVAL;
    /* The portal's 12-hour clock: SA (sáng) before noon, CH (chiều) from
     * noon; hour 0 and hour 12 both show as 12. */
    int h12 = c.hour % 12 == 0 ? 12 : c.hour % 12;
    snprintf(out, TM_DATE_DISPLAY_LEN, "%02u/%02u/%04u %u:%02u %s", digits2(c.day),
             digits2(c.month), digits4(c.year), digits2(h12), digits2(c.min),
             c.hour < 12 ? "SA" : "CH");
    return 0;
}

static const char k_month_abbr[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char k_wday_abbr[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

int tm_date_format_http(int64_t utc, char out[TM_DATE_HTTP_LEN])
{
    struct civil c;
    if (to_civil(utc, &c) != 0)
        return TM_EINVAL;
    /* RFC 7231 §7.1.1.1 IMF-fixdate. */
    snprintf(out, TM_DATE_HTTP_LEN, "%.3s, %02u %.3s %04u %02u:%02u:%02u GMT", k_wday_abbr[c.wday],
             digits2(c.day), k_month_abbr[c.month - 1], digits4(c.year), digits2(c.hour),
             digits2(c.min), digits2(c.sec));
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Reads exactly `n` digits at *p, advancing it. */
static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int count_digits(const char *p)
{
    int n = 0;
    while (is_digit(p[n]))
        n++;
    return n;
}

static bool offset_ok(int hours, int minutes)
{
    return minutes >= 0 && minutes < 60 && hours * 3600 + minutes * 60 <= TM_DATE_MAX_OFFSET_S;
}

/* Reads "[+-]hh", "[+-]h", "[+-]hhmm", "[+-]hh:mm" at *p, advancing it. */
static bool read_numeric_offset(const char **p, int *out_s)
{
    const char *q = *p;
    int sign = *q == '+' ? 1 : *q == '-' ? -1 : 0;
    if (sign == 0)
        return false;
    q++;
    int nd = count_digits(q);
    int h = 0, m = 0;
    if (nd == 1 || nd == 2) {
        read_digits(&q, nd, &h);
        if (*q == ':') {
            q++;
            if (count_digits(q) != 2)
                return false;
            read_digits(&q, 2, &m);
        }
    } else if (nd == 4) {
        read_digits(&q, 2, &h);
        read_digits(&q, 2, &m);
    } else {
        return false;
    }
    if (!offset_ok(h, m))
        return false;
    *out_s = sign * (h * 3600 + m * 60);
    *p = q;
    return true;
}

int tm_date_parse_offset(const char *s, int *out_offset_s)
{
    if (s == NULL || out_offset_s == NULL)
        return TM_EINVAL;
    while (is_space(*s))
        s++;
    const char *p = s;
    int off = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (!read_numeric_offset(&p, &off))
        return TM_EINVAL;
    while (is_space(*p))
        p++;
    if (*p != '\0')
        return TM_EINVAL;
    *out_offset_s = off;
    return 0;
}

/* ---- Folding ---------------------------------------------------------- */

/* Folds s[0..len) into lowercase ASCII in `out` (NUL-terminated): marks
 * stripped, case folded, look-alike spaces and dashes lumped to ' ' and '-',
 * "đ" to "d"; any other non-ASCII character becomes '\x01', which the
 * tokenizer treats as a letter of an unknown word. False on invalid UTF-8 or
 * when the text is too long. */
static bool fold(const char *s, size_t len, char out[TM_DATE_MAX_INPUT_BYTES + 1])
{
    size_t k = 0;
    while (k < len && (unsigned char)s[k] < 0x80)
        k++;
    if (k == len) {
        /* ASCII (RFC 822, ISO 8601): utf8proc would only fold the case. */
        for (size_t i = 0; i < len; i++) {
            char c = s[i];
            out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : is_space(c) ? ' ' : c;
        }
        out[len] = '\0';
        return true;
    }
    utf8proc_int32_t cps[TM_DATE_MAX_INPUT_BYTES];
    utf8proc_ssize_t n = utf8proc_decompose(
        (const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, cps, TM_DATE_MAX_INPUT_BYTES,
        UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD | UTF8PROC_LUMP);
    if (n < 0 || n > TM_DATE_MAX_INPUT_BYTES)
        return false;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        utf8proc_int32_t c = cps[i];
        if (c >= 'A' && c <= 'Z')
            out[i] = (char)(c - 'A' + 'a');
        else if (c == 0x111)
            out[i] = 'd';
        else if (c > 0 && c < 0x80)
            out[i] = is_space((char)c) ? ' ' : (char)c;
        else
            out[i] = '\x01';
    }
    out[n] = '\0';
    return true;
}

/* ---- Shared validation ------------------------------------------------ */

struct parts {
    int year, year_digits, month, day;
    int hour, min, sec; /* hour < 0: no time given */
    char meridiem;      /* 0, 'a' (SA, AM, sáng) or 'p' (CH, PM, chiều, tối) */
    bool has_zone;
    int zone_s;
};

static void parts_init(struct parts *p)
{
    memset(p, 0, sizeof *p);
    p->year = p->month = p->day = -1;
    p->hour = p->min = p->sec = -1;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int k_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : k_days[m - 1];
}

static int finish(struct parts *p, int default_offset_s, int64_t *out_utc)
{
    if (p->year < 0 || p->month < 0 || p->day < 0)
        return TM_EDATE;
    if (p->year_digits == 2)
        p->year += p->year < TM_DATE_YEAR_PIVOT ? 2000 : 1900;
    if (p->year < TM_DATE_MIN_YEAR || p->year > TM_DATE_MAX_YEAR)
        return TM_EDATE;
    if (p->month < 1 || p->month > 12 || p->day < 1 || p->day > days_in_month(p->year, p->month))
        return TM_EDATE;
    if (p->hour < 0) {
        if (p->meridiem)
            return TM_EDATE;
        p->hour = p->min = p->sec = 0;
    }
    if (p->sec < 0)
        p->sec = 0;
    if (p->meridiem == 'a') {
        /* 12:05 SA is five past midnight. */
        if (p->hour > 12)
            return TM_EDATE;
        if (p->hour == 12)
            p->hour = 0;
    } else if (p->meridiem == 'p') {
        /* 12:05 CH is five past noon; "13:05 CH" is redundant, not wrong. */
        if (p->hour == 0)
            return TM_EDATE;
        if (p->hour < 12)
            p->hour += 12;
    }
    /* Second 60 is a leap second (RFC 3339 §5.7); it rolls into the next
     * minute. */
    if (p->hour > 23 || p->min > 59 || p->sec > 60)
        return TM_EDATE;
    int off = p->has_zone ? p->zone_s : default_offset_s;
    int64_t utc = tm_date_from_civil(p->year, p->month, p->day, p->hour, p->min, p->sec) - off;
    if (utc < tm_date_from_civil(TM_DATE_MIN_YEAR, 1, 1, 0, 0, 0) ||
        utc >= tm_date_from_civil(TM_DATE_MAX_YEAR + 1, 1, 1, 0, 0, 0))
        return TM_EDATE;
    *out_utc = utc;
    return 0;
}

/* ---- ISO 8601 / W3CDTF ------------------------------------------------ */

/* hh:mm[:ss[.frac]] (extended) or hhmm[ss[.frac]] (basic). */
static bool iso_time(const char **pp, bool basic, struct parts *p)
{
    const char *q = *pp;
    if (!read_digits(&q, 2, &p->hour))
        return false;
    if (!basic && *q++ != ':')
        return false;
    if (!read_digits(&q, 2, &p->min))
        return false;
    p->sec = 0;
    if ((basic && is_digit(*q)) || (!basic && *q == ':' && is_digit(q[1]))) {
        if (!basic)
            q++;
        if (!read_digits(&q, 2, &p->sec))
            return false;
        if ((*q == '.' || *q == ',') && is_digit(q[1])) {
            q++;
            q += count_digits(q); /* fractions are dropped: outputs are whole seconds */
        }
    }
    *pp = q;
    return true;
}

static bool iso_zone(const char **pp, struct parts *p)
{
    const char *q = *pp;
    if (*q == ' ' && (q[1] == 'z' || q[1] == '+' || q[1] == '-'))
        q++;
    if (*q == 'z') {
        q++;
        p->zone_s = 0;
    } else if (*q == '+' || *q == '-') {
        int nd = count_digits(q + 1);
        if (nd != 2 && nd != 4)
            return false;
        if (!read_numeric_offset(&q, &p->zone_s))
            return false;
    } else {
        return true;
    }
    p->has_zone = true;
    *pp = q;
    return true;
}

/* Accepts the whole of `f` (folded, trimmed) or nothing. */
static bool parse_iso(const char *f, struct parts *p)
{
    const char *q = f;
    if (count_digits(q) == 8) {
        read_digits(&q, 4, &p->year);
        read_digits(&q, 2, &p->month);
        read_digits(&q, 2, &p->day);
        if (*q == 't') {
            q++;
            if (!iso_time(&q, true, p) || !iso_zone(&q, p))
                return false;
        }
        p->year_digits = 4;
        return *q == '\0';
    }
    if (count_digits(q) != 4)
        return false;
    read_digits(&q, 4, &p->year);
    p->year_digits = 4;
    p->month = p->day = 1;
    if (*q == '\0')
        return true;
    if (*q++ != '-' || !read_digits(&q, 2, &p->month))
        return false;
    if (*q == '\0')
        return true;
    if (*q++ != '-' || !read_digits(&q, 2, &p->day))
        return false;
    if (*q == '\0')
        return true;
    if (*q != 't' && *q != ' ')
        return false;
    q++;
    if (!iso_time(&q, false, p) || !iso_zone(&q, p))
        return false;
    return *q == '\0';
}

/* ---- Everything else: a token scanner --------------------------------- */

struct tok {
    char kind;    /* 'n' number, 'w' word, else the punctuation character */
    uint16_t len; /* bytes in the folded text */
    uint16_t pos; /* offset in the folded text */
    int value;    /* numbers of up to 9 digits; -1 beyond */
};

static int tokenize(const char *f, struct tok *t)
{
    int n = 0;
    for (int i = 0; f[i] != '\0';) {
        char c = f[i];
        if (c == ' ') {
            i++;
            continue;
        }
        if (n == TM_DATE_MAX_TOKENS)
            return -1;
        struct tok *k = &t[n++];
        k->pos = (uint16_t)i;
        k->value = -1;
        if (is_digit(c)) {
            int j = i, v = 0;
            while (is_digit(f[j])) {
                if (j - i < 9)
                    v = v * 10 + (f[j] - '0');
                j++;
            }
            k->kind = 'n';
            k->len = (uint16_t)(j - i);
            k->value = j - i <= 9 ? v : -1;
            i = j;
        } else if ((c >= 'a' && c <= 'z') || c == '\x01') {
            int j = i;
            while ((f[j] >= 'a' && f[j] <= 'z') || f[j] == '\x01')
                j++;
            k->kind = 'w';
            k->len = (uint16_t)(j - i);
            i = j;
        } else if (strchr(",:/-+.()|", c) != NULL) {
            k->kind = c;
            k->len = 1;
            i++;
        } else {
            return -1;
        }
    }
    return n;
}

struct scan {
    const char *f;
    const struct tok *t;
    int n;
    int depth; /* parentheses: unknown words inside are a comment */
    enum tm_date_order order;
    struct parts *p;
};

static bool kind_at(const struct scan *s, int i, char kind)
{
    return i < s->n && s->t[i].kind == kind;
}

static bool word_is(const struct scan *s, int i, const char *w)
{
    size_t len = strlen(w);
    return kind_at(s, i, 'w') && s->t[i].len == len && memcmp(s->f + s->t[i].pos, w, len) == 0;
}

static bool word_in(const struct scan *s, int i, const char *const *list)
{
    for (; *list != NULL; list++)
        if (word_is(s, i, *list))
            return true;
    return false;
}

static int month_at(const struct scan *s, int i)
{
    static const char *const k_months[12][3] = {
        {"jan", "january", NULL}, {"feb", "february", NULL}, {"mar", "march", NULL},
        {"apr", "april", NULL},   {"may", NULL, NULL},       {"jun", "june", NULL},
        {"jul", "july", NULL},    {"aug", "august", NULL},   {"sep", "sept", "september"},
        {"oct", "october", NULL}, {"nov", "november", NULL}, {"dec", "december", NULL},
    };
    for (int m = 0; m < 12; m++)
        for (int j = 0; j < 3 && k_months[m][j] != NULL; j++)
            if (word_is(s, i, k_months[m][j]))
                return m + 1;
    return 0;
}

/* "+7", "+07", "+0700", "+07:00" as tokens at i (the sign). Returns the
 * tokens used, 0 when they do not form a valid offset. */
static int offset_at(const struct scan *s, int i, int *out_s)
{
    if (!(kind_at(s, i, '+') || kind_at(s, i, '-')) || !kind_at(s, i + 1, 'n'))
        return 0;
    int sign = s->t[i].kind == '+' ? 1 : -1;
    const struct tok *h = &s->t[i + 1];
    int hours, minutes = 0, used = 2;
    if (h->len == 4) {
        hours = h->value / 100;
        minutes = h->value % 100;
    } else if (h->len == 3) {
        hours = h->value / 100; /* "+700" */
        minutes = h->value % 100;
    } else if (h->len <= 2) {
        hours = h->value;
        if (kind_at(s, i + 2, ':') && kind_at(s, i + 3, 'n') && s->t[i + 3].len == 2) {
            minutes = s->t[i + 3].value;
            used = 4;
        }
    } else {
        return 0;
    }
    if (!offset_ok(hours, minutes))
        return 0;
    *out_s = sign * (hours * 3600 + minutes * 60);
    return used;
}

/* A second zone contradicts the first: "GMT ICT", "+0700 -0500". */
static bool set_zone(struct scan *s, int zone_s)
{
    struct parts *p = s->p;
    if (p->has_zone)
        return false;
    p->has_zone = true;
    p->zone_s = zone_s;
    return true;
}

static bool set_meridiem(struct parts *p, char m)
{
    if (p->meridiem != 0 && p->meridiem != m)
        return false;
    p->meridiem = m;
    return true;
}

/* h:mm[:ss[.frac]], "10h55", "10h", "10 giờ 55 [phút]" at i. Returns the
 * tokens used, 0 when no time starts here, -1 when it is a bad one. */
static int time_at(struct scan *s, int i)
{
    const struct tok *t = s->t;
    struct parts *p = s->p;
    if (t[i].len > 2)
        return 0;
    int used;
    int min = 0, sec = 0;
    if (kind_at(s, i + 1, ':')) {
        if (!kind_at(s, i + 2, 'n') || t[i + 2].len != 2)
            return -1;
        min = t[i + 2].value;
        used = 3;
        if (kind_at(s, i + 3, ':')) {
            if (!kind_at(s, i + 4, 'n') || t[i + 4].len != 2)
                return -1;
            sec = t[i + 4].value;
            used = 5;
            if (kind_at(s, i + 5, '.') && kind_at(s, i + 6, 'n') && !kind_at(s, i + 7, '.') &&
                !kind_at(s, i + 7, '/') && !kind_at(s, i + 7, '-'))
                used = 7;
        }
    } else if (word_is(s, i + 1, "h") || word_is(s, i + 1, "gio")) {
        used = 2;
        if (kind_at(s, i + 2, 'n') && t[i + 2].len == 2) {
            min = t[i + 2].value;
            used = 3;
        }
    } else {
        return 0;
    }
    if (p->hour >= 0)
        return -1;
    p->hour = t[i].value;
    p->min = min;
    p->sec = sec;
    return used;
}

/* a/b/c with one separator, '/', '-' or '.', throughout. */
static int numeric_date_at(struct scan *s, int i)
{
    const struct tok *t = s->t;
    struct parts *p = s->p;
    char sep = i + 1 < s->n ? t[i + 1].kind : 0;
    if (sep != '/' && sep != '-' && sep != '.')
        return 0;
    if (!kind_at(s, i + 2, 'n') || !kind_at(s, i + 3, sep) || !kind_at(s, i + 4, 'n'))
        return 0;
    const struct tok *a = &t[i], *b = &t[i + 2], *c = &t[i + 4];
    if (p->year >= 0 || p->month >= 0 || p->day >= 0)
        return -1;
    if (a->len == 4 && b->len <= 2 && c->len <= 2) {
        p->year = a->value;
        p->year_digits = 4;
        p->month = b->value;
        p->day = c->value;
        return 5;
    }
    if (a->len > 2 || b->len > 2 || (c->len != 4 && c->len != 2))
        return -1;
    p->year = c->value;
    p->year_digits = c->len;
    /* A field over 12 can only be the day, whatever the source's order. */
    bool day_first;
    if (a->value > 12 && b->value <= 12)
        day_first = true;
    else if (b->value > 12 && a->value <= 12)
        day_first = false;
    else if (a->value <= 12 && b->value <= 12)
        day_first = s->order != TM_DATE_MDY;
    else
        return -1;
    p->day = day_first ? a->value : b->value;
    p->month = day_first ? b->value : a->value;
    return 5;
}

static int number_at(struct scan *s, int i)
{
    const struct tok *k = &s->t[i];
    struct parts *p = s->p;
    int used = time_at(s, i);
    if (used != 0)
        return used;
    used = numeric_date_at(s, i);
    if (used != 0)
        return used;
    /* A lone number: the year when it has four digits; otherwise the day,
     * then a two-digit year ("31 May 22"). */
    if (k->len == 4 && p->year < 0) {
        p->year = k->value;
        p->year_digits = 4;
        return 1;
    }
    if (k->len <= 2 && p->day < 0) {
        p->day = k->value;
        return 1;
    }
    if (k->len == 2 && p->year < 0) {
        p->year = k->value;
        p->year_digits = 2;
        return 1;
    }
    return -1;
}

static const char *const k_weekdays_en[] = {
    "mon",  "monday", "tue", "tues",   "tuesday", "wed",      "weds", "wednesday", "thursday",
    "thur", "thurs",  "fri", "friday", "sat",     "saturday", "sun",  "sunday",    NULL,
};
/* Vietnamese weekdays after "thứ": hai, ba, tư, năm, sáu, bảy (folded). */
static const char *const k_weekdays_vi[] = {"hai", "ba", "tu", "nam", "sau", "bay", NULL};
/* Words that carry nothing: "ngày" (day), "lúc"/"vào"/"hồi" (at), "phút"
 * (minutes, after "10 giờ 55"), and "at"/"on". */
static const char *const k_fillers[] = {"ngay", "luc", "vao", "hoi", "phut", "at", "on", NULL};
static const char *const k_morning[] = {"am", "sa", "sang", NULL};
static const char *const k_afternoon[] = {"pm", "ch", "chieu", "toi", NULL};

struct named_zone {
    const char *name;
    int offset_s;
};
static const struct named_zone k_zones[] = {
    {"est", -5 * 3600}, {"edt", -4 * 3600}, {"cst", -6 * 3600},
    {"cdt", -5 * 3600}, {"mst", -7 * 3600}, {"mdt", -6 * 3600},
    {"pst", -8 * 3600}, {"pdt", -7 * 3600}, {"ict", 7 * 3600}, /* Indochina Time, Vietnam's zone */
};

static bool small_number_at(const struct scan *s, int i, int lo, int hi)
{
    return kind_at(s, i, 'n') && s->t[i].len == 1 && s->t[i].value >= lo && s->t[i].value <= hi;
}

/* Returns the tokens used, 0 for an unknown word, -1 for a contradiction. */
static int word_at(struct scan *s, int i)
{
    struct parts *p = s->p;
    int m = month_at(s, i);
    if (m > 0) {
        if (p->month >= 0)
            return -1;
        p->month = m;
        return 1;
    }
    if (word_in(s, i, k_weekdays_en) || word_in(s, i, k_fillers) || word_is(s, i, "cn"))
        return 1;
    if (word_is(s, i, "thu")) {
        /* "Thứ 5, 02/06/2022" or "Thứ Năm"; but "Thu 2 Jun 2022" is
         * English, told apart by the month name after the number. */
        if (small_number_at(s, i + 1, 2, 7) && month_at(s, i + 2) == 0)
            return 2;
        if (word_in(s, i + 1, k_weekdays_vi))
            return 2;
        return 1;
    }
    if (word_is(s, i, "chu") && word_is(s, i + 1, "nhat"))
        return 2;
    if (word_is(s, i, "t")) {
        /* "T2".."T7", or the "T" between an ISO date and time. */
        if (small_number_at(s, i + 1, 2, 7) && !kind_at(s, i + 2, ':') && !word_is(s, i + 2, "h"))
            return 2;
        return 1;
    }
    if (word_is(s, i, "thang") || word_is(s, i, "thg")) { /* "thg" is Google's short form */
        if (!kind_at(s, i + 1, 'n') || s->t[i + 1].len > 2 || p->month >= 0)
            return -1;
        p->month = s->t[i + 1].value;
        return 2;
    }
    if (word_is(s, i, "nam")) {
        if (!kind_at(s, i + 1, 'n') || s->t[i + 1].len != 4 || p->year >= 0)
            return -1;
        p->year = s->t[i + 1].value;
        p->year_digits = 4;
        return 2;
    }
    if (word_in(s, i, k_morning))
        return set_meridiem(p, 'a') ? 1 : -1;
    if (word_in(s, i, k_afternoon))
        return set_meridiem(p, 'p') ? 1 : -1;
    if ((word_is(s, i, "a") || word_is(s, i, "p")) && kind_at(s, i + 1, '.') &&
        word_is(s, i + 2, "m")) {
        if (!set_meridiem(p, s->f[s->t[i].pos]))
            return -1;
        return kind_at(s, i + 3, '.') ? 4 : 3;
    }
    if (word_is(s, i, "gmt") || word_is(s, i, "utc") || word_is(s, i, "ut") || word_is(s, i, "z")) {
        /* "GMT+7" means seven hours east, as people write it, not the
         * inverted POSIX TZ sense. */
        int off = 0;
        int used = offset_at(s, i + 1, &off);
        if (!set_zone(s, off))
            return -1;
        return 1 + used;
    }
    for (size_t z = 0; z < sizeof k_zones / sizeof k_zones[0]; z++)
        if (word_is(s, i, k_zones[z].name))
            return set_zone(s, k_zones[z].offset_s) ? 1 : -1;
    return 0;
}

/* '+' or '-' at i: a numeric zone after the time, unless a date follows. */
static int sign_at(struct scan *s, int i)
{
    if (s->p->hour < 0 || !kind_at(s, i + 1, 'n'))
        return 0;
    char next = i + 2 < s->n ? s->t[i + 2].kind : 0;
    if ((next == '/' || next == '-' || next == '.') && kind_at(s, i + 3, 'n'))
        return 0;
    int off = 0;
    int used = offset_at(s, i, &off);
    if (used == 0)
        return 0;
    return set_zone(s, off) ? used : -1;
}

static int skip_group(const struct scan *s, int i)
{
    int depth = 0;
    for (; i < s->n; i++) {
        if (s->t[i].kind == '(')
            depth++;
        else if (s->t[i].kind == ')' && --depth == 0)
            return i + 1;
    }
    return i;
}

static bool parse_loose(const char *f, enum tm_date_order order, struct parts *p)
{
    struct tok t[TM_DATE_MAX_TOKENS];
    int n = tokenize(f, t);
    if (n <= 0)
        return false;
    struct scan s = {.f = f, .t = t, .n = n, .order = order, .p = p};
    for (int i = 0; i < n;) {
        char kind = t[i].kind;
        int used = 0;
        if (kind == '(') {
            /* After a zone, a parenthesis is a comment: "+0700 (ICT)". */
            if (p->has_zone) {
                i = skip_group(&s, i);
                continue;
            }
            s.depth++;
            used = 1;
        } else if (kind == ')') {
            if (s.depth > 0)
                s.depth--;
            used = 1;
        } else if (kind == 'n') {
            used = number_at(&s, i);
        } else if (kind == 'w') {
            used = word_at(&s, i);
            if (used == 0 && s.depth > 0)
                used = 1;
            else if (used == 0)
                return false;
        } else if (kind == '+' || kind == '-') {
            used = sign_at(&s, i);
            if (used == 0 && kind == '-')
                used = 1;
            else if (used == 0)
                return false;
        } else {
            used = 1; /* , . / : | between fields */
        }
        if (used < 0)
            return false;
        i += used;
    }
    return true;
}

int tm_date_parse(const char *s, const struct tm_date_opts *opts, int64_t *out_utc)
{
    if (s == NULL || out_utc == NULL)
        return TM_EDATE;
    int default_offset_s = opts != NULL ? opts->utc_offset_s : TM_DATE_DEFAULT_OFFSET_S;
    enum tm_date_order order = opts != NULL ? opts->order : TM_DATE_DMY;

    while (is_space(*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && is_space(s[len - 1]))
        len--;
    if (len == 0 || len > TM_DATE_MAX_INPUT_BYTES)
        return TM_EDATE;
    char f[TM_DATE_MAX_INPUT_BYTES + 1];
    if (!fold(s, len, f))
        return TM_EDATE;

    struct parts p;
    parts_init(&p);
    if (parse_iso(f, &p))
        return finish(&p, default_offset_s, out_utc);
    parts_init(&p);
    if (parse_loose(f, order, &p))
        return finish(&p, default_offset_s, out_utc);
    return TM_EDATE;
}
