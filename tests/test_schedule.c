/* Tests of the scheduler's rules (issue 4 item 1): intervals and feed hints
 * within bounds, backoff with jitter and its cap, Retry-After per host,
 * initial due times at start, the publish cadence against /healthz's bound.
 * Pure: a fixed random sequence, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tinmoi/error.h"
#include "tinmoi/feed.h"
#include "tinmoi/schedule.h"

#define NOW 1700000000LL

/* A random source that always returns `value`. */
static uint32_t fixed_next(void *ud)
{
    return *(uint32_t *)ud;
}

/* A small LCG: deterministic but varied, for the distribution tests. */
static uint32_t lcg_next(void *ud)
{
    uint64_t *s = ud;
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 32);
}

static struct tm_schedule_policy policy(void)
{
    struct tm_schedule_policy p;
    tm_schedule_policy_default(&p);
    return p;
}

static const struct tm_schedule_hints no_hints = {0, 0, 0, TM_TIME_NONE};

static void test_interval_clamped(void **state)
{
    (void)state;
    struct tm_schedule_policy p = policy();
    assert_int_equal(tm_schedule_interval(&p, 900, NULL, NOW), 900);
    /* never more often than once a minute, never less than once a day */
    assert_int_equal(tm_schedule_interval(&p, 5, NULL, NOW), 60);
    assert_int_equal(tm_schedule_interval(&p, 0, NULL, NOW), 60);
    assert_int_equal(tm_schedule_interval(&p, 7 * 86400, NULL, NOW), 86400);
    /* tests may lower the floor through the policy only */
    p.min_interval_s = 1;
    assert_int_equal(tm_schedule_interval(&p, 2, NULL, NOW), 2);
    p.min_interval_s = 0;
    assert_int_equal(tm_schedule_interval(&p, 0, NULL, NOW), 1);
}

static void test_interval_hints(void **state)
{
    (void)state;
    struct tm_schedule_policy p = policy();
    struct tm_schedule_hints h = no_hints;
    assert_int_equal(tm_schedule_interval(&p, 900, &h, NOW), 900);
    h.ttl_s = 3600; /* <ttl>60</ttl> */
    assert_int_equal(tm_schedule_interval(&p, 900, &h, NOW), 3600);
    h = no_hints;
    h.update_period_s = 2 * 3600; /* sy:updatePeriod hourly, frequency 1/2 */
    assert_int_equal(tm_schedule_interval(&p, 900, &h, NOW), 7200);
    h = no_hints;
    h.max_age_s = 1800;
    assert_int_equal(tm_schedule_interval(&p, 900, &h, NOW), 1800);
    h = no_hints;
    h.expires_utc = NOW + 1200;
    assert_int_equal(tm_schedule_interval(&p, 900, &h, NOW), 1200);
    /* an Expires in the past, a max-age of 0: the configured interval */
    h.expires_utc = NOW - 50;
    h.max_age_s = 0;
    assert_int_equal(tm_schedule_interval(&p, 900, &h, NOW), 900);
    /* a hint asking for more often than configured is not obeyed */
    h = no_hints;
    h.ttl_s = 60;
    assert_int_equal(tm_schedule_interval(&p, 900, &h, NOW), 900);
    /* hints are bounded to a day */
    h.ttl_s = 30 * 86400;
    assert_int_equal(tm_schedule_interval(&p, 900, &h, NOW), 86400);
    h = no_hints;
    h.expires_utc = NOW + 400 * 86400;
    assert_int_equal(tm_schedule_interval(&p, 900, &h, NOW), 86400);
}

static void test_next_ok_jitter(void **state)
{
    (void)state;
    struct tm_schedule_policy p = policy();
    uint32_t zero = 0, max = UINT32_MAX;
    struct tm_schedule_random r0 = {fixed_next, &zero};
    assert_int_equal(tm_schedule_next_ok(&p, 900, NULL, NOW, &r0), NOW + 900);
    uint64_t seed = 42;
    struct tm_schedule_random r = {lcg_next, &seed};
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t d = tm_schedule_next_ok(&p, 900, NULL, NOW, &r) - NOW;
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    /* never earlier than the interval, at most a tenth later, and spread */
    assert_true(lo >= 900);
    assert_true(hi <= 990);
    assert_true(hi - lo >= 60);
    struct tm_schedule_random rmax = {fixed_next, &max};
    assert_true(tm_schedule_next_ok(&p, 900, NULL, NOW, &rmax) <= NOW + 990);
}

static void test_backoff_grows_and_caps(void **state)
{
    (void)state;
    struct tm_schedule_policy p = policy();
    uint32_t max = UINT32_MAX;
    struct tm_schedule_random top = {fixed_next, &max};
    /* with the top of the jitter range: interval × 2^(n-1) */
    assert_int_equal(tm_schedule_backoff_s(&p, 900, 1, &top), 900);
    assert_int_equal(tm_schedule_backoff_s(&p, 900, 2, &top), 1800);
    assert_int_equal(tm_schedule_backoff_s(&p, 900, 3, &top), 3600);
    assert_int_equal(tm_schedule_backoff_s(&p, 900, 5, &top), 14400);
    /* capped, and still retried at the cap after many failures */
    assert_int_equal(tm_schedule_backoff_s(&p, 900, 6, &top), TM_SCHEDULE_MAX_BACKOFF_S);
    assert_int_equal(tm_schedule_backoff_s(&p, 900, 1000, &top), TM_SCHEDULE_MAX_BACKOFF_S);
    assert_int_equal(tm_schedule_backoff_s(&p, 900, 2147483647, &top), TM_SCHEDULE_MAX_BACKOFF_S);
    /* a source polled daily is never retried more often than daily */
    assert_int_equal(tm_schedule_backoff_s(&p, 86400, 3, &top), 86400);
}

static void test_backoff_jitter_range(void **state)
{
    (void)state;
    struct tm_schedule_policy p = policy();
    uint32_t zero = 0;
    struct tm_schedule_random bottom = {fixed_next, &zero};
    /* the bottom of the equal-jitter range is half the delay, never below
     * the interval */
    assert_int_equal(tm_schedule_backoff_s(&p, 900, 3, &bottom), 1800);
    assert_int_equal(tm_schedule_backoff_s(&p, 900, 1, &bottom), 900);
    assert_int_equal(tm_schedule_backoff_s(&p, 900, 20, &bottom), TM_SCHEDULE_MAX_BACKOFF_S / 2);
    uint64_t seed = 7;
    struct tm_schedule_random r = {lcg_next, &seed};
    int distinct = 0;
    int64_t prev = -1;
    for (int i = 0; i < 200; i++) {
        int64_t d = tm_schedule_backoff_s(&p, 900, 4, &r);
        assert_true(d >= 3600 && d <= 7200);
        if (d != prev)
            distinct++;
        prev = d;
    }
    assert_true(distinct > 100);
}

static void test_failure_retry_after(void **state)
{
    (void)state;
    struct tm_schedule_policy p = policy();
    uint32_t max = UINT32_MAX;
    struct tm_schedule_random top = {fixed_next, &max};
    /* Retry-After later than the backoff wins */
    assert_int_equal(tm_schedule_next_failure(&p, 900, 1, NOW + 7200, NOW, &top), NOW + 7200);
    /* earlier: the backoff wins */
    assert_int_equal(tm_schedule_next_failure(&p, 900, 1, NOW + 120, NOW, &top), NOW + 900);
    assert_int_equal(tm_schedule_next_failure(&p, 900, 2, TM_TIME_NONE, NOW, &top), NOW + 1800);
    /* a Retry-After of a year is bounded to a day */
    assert_int_equal(tm_schedule_next_failure(&p, 900, 1, NOW + 365 * 86400LL, NOW, &top),
                     NOW + TM_SCHEDULE_MAX_RETRY_AFTER_S);
}

static void test_initial(void **state)
{
    (void)state;
    struct tm_schedule_policy p = policy();
    uint64_t seed = 1;
    struct tm_schedule_random r = {lcg_next, &seed};
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 500; i++) {
        /* never fetched and overdue sources: within the first seconds, spread */
        int64_t a = tm_schedule_initial(&p, TM_TIME_NONE, NOW, &r);
        int64_t b = tm_schedule_initial(&p, NOW - 3600, NOW, &r);
        assert_true(a >= NOW && a <= NOW + TM_SCHEDULE_START_SPREAD_S);
        assert_true(b >= NOW && b <= NOW + TM_SCHEDULE_START_SPREAD_S);
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    assert_true(hi - lo >= TM_SCHEDULE_START_SPREAD_S - 1);
    /* the others keep their stored schedule */
    assert_int_equal(tm_schedule_initial(&p, NOW + 600, NOW, &r), NOW + 600);
    /* but a due time years ahead (clock jumped back) is pulled in */
    assert_int_equal(tm_schedule_initial(&p, NOW + 10 * 365 * 86400LL, NOW, &r),
                     NOW + TM_SCHEDULE_MAX_INTERVAL_S);
}

static void test_url_host(void **state)
{
    (void)state;
    char host[64];
    assert_int_equal(
        tm_schedule_url_host("http://NhuThanh.ThanhHoa.gov.vn:8080/rss?x=1", host, sizeof host), 0);
    assert_string_equal(host, "nhuthanh.thanhhoa.gov.vn");
    assert_int_equal(tm_schedule_url_host("https://127.0.0.1/feed", host, sizeof host), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(tm_schedule_url_host("file:///srv/feed.xml", host, sizeof host), TM_EINVAL);
    assert_int_equal(tm_schedule_url_host("not a url", host, sizeof host), TM_EINVAL);
    char tiny[4];
    assert_int_equal(tm_schedule_url_host("http://example.org/", tiny, sizeof tiny), TM_ELIMIT);
}

static void test_hosts_table(void **state)
{
    (void)state;
    struct tm_schedule_hosts *t = tm_schedule_hosts_new();
    assert_non_null(t);
    assert_int_equal(tm_schedule_hosts_not_before(t, "a.example", NOW), TM_TIME_NONE);
    assert_int_equal(tm_schedule_hosts_hold(t, "a.example", NOW + 120, NOW), 0);
    /* every source on that host is held, others are not */
    assert_int_equal(tm_schedule_hosts_not_before(t, "a.example", NOW + 10), NOW + 120);
    assert_int_equal(tm_schedule_hosts_not_before(t, "b.example", NOW + 10), TM_TIME_NONE);
    /* a later time extends the hold; an earlier one does not shorten it */
    assert_int_equal(tm_schedule_hosts_hold(t, "a.example", NOW + 300, NOW), 0);
    assert_int_equal(tm_schedule_hosts_hold(t, "a.example", NOW + 60, NOW), 0);
    assert_int_equal(tm_schedule_hosts_not_before(t, "a.example", NOW), NOW + 300);
    /* bounded to a day */
    assert_int_equal(tm_schedule_hosts_hold(t, "b.example", NOW + 999999, NOW), 0);
    assert_int_equal(tm_schedule_hosts_not_before(t, "b.example", NOW),
                     NOW + TM_SCHEDULE_MAX_RETRY_AFTER_S);
    assert_int_equal(tm_schedule_hosts_count(t, NOW), 2);
    /* the hold ends by itself */
    assert_int_equal(tm_schedule_hosts_not_before(t, "a.example", NOW + 300), TM_TIME_NONE);
    assert_int_equal(tm_schedule_hosts_count(t, NOW + 301), 1);
    /* a Retry-After in the past holds nothing */
    assert_int_equal(tm_schedule_hosts_hold(t, "c.example", NOW - 1, NOW), 0);
    assert_int_equal(tm_schedule_hosts_not_before(t, "c.example", NOW), TM_TIME_NONE);
    assert_int_equal(tm_schedule_hosts_hold(t, "", NOW + 5, NOW), TM_EINVAL);
    char longhost[TM_SCHEDULE_MAX_HOST_BYTES + 8];
    memset(longhost, 'a', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    assert_int_equal(tm_schedule_hosts_hold(t, longhost, NOW + 5, NOW), TM_ELIMIT);
    /* many hosts: the table grows */
    for (int i = 0; i < 100; i++) {
        char h[32];
        snprintf(h, sizeof h, "h%d.example", i);
        assert_int_equal(tm_schedule_hosts_hold(t, h, NOW + 1000 + i, NOW), 0);
    }
    assert_int_equal(tm_schedule_hosts_not_before(t, "h99.example", NOW), NOW + 1099);
    tm_schedule_hosts_free(t);
    tm_schedule_hosts_free(NULL);
}

/* The publish cadence: item changes within a second, coalesced; status
 * and idleness once per status period; never a negative or runaway wait. */
static void test_publish_wait(void **state)
{
    (void)state;
    const int64_t last = 1700000000000LL;
    /* An item change: one second after the last publish, at once if later. */
    assert_int_equal(tm_schedule_publish_wait_ms(last, last + 200, true, 0, 0), 800);
    assert_int_equal(tm_schedule_publish_wait_ms(last, last + 1500, true, 0, 0), 0);
    /* Status only, or nothing: the status period after the last publish. */
    assert_int_equal(tm_schedule_publish_wait_ms(last, last + 200, false, 0, 0),
                     TM_SCHEDULE_STATUS_PUBLISH_S * 1000 - 200);
    assert_int_equal(tm_schedule_publish_wait_ms(last, last + 61000, false, 0, 0), 0);
    /* A lower polling floor shortens the period; a higher one does not
     * lengthen it. */
    assert_int_equal(tm_schedule_publish_wait_ms(last, last + 200, false, 10, 0), 9800);
    assert_int_equal(tm_schedule_publish_wait_ms(last, last + 200, false, 3600, 0),
                     TM_SCHEDULE_STATUS_PUBLISH_S * 1000 - 200);
    /* Never published: now. A clock that jumped back: no more than one
     * period (or one coalescing delay) away. */
    assert_int_equal(tm_schedule_publish_wait_ms(0, last, false, 0, 0), 0);
    assert_int_equal(tm_schedule_publish_wait_ms(last, last - 3600000, false, 0, 0),
                     TM_SCHEDULE_STATUS_PUBLISH_S * 1000);
    assert_int_equal(tm_schedule_publish_wait_ms(last, last - 3600000, true, 0, 0),
                     TM_SCHEDULE_PUBLISH_COALESCE_MS);
    /* A costly publish stretches the status period to ten times its cost
     * (a tenth of the loop at most), up to two periods; item changes are
     * not held back by it. */
    assert_int_equal(tm_schedule_publish_wait_ms(last, last, false, 0, 1500),
                     TM_SCHEDULE_STATUS_PUBLISH_S * 1000);
    assert_int_equal(tm_schedule_publish_wait_ms(last, last, false, 0, 9000), 90000);
    assert_int_equal(tm_schedule_publish_wait_ms(last, last, false, 0, 60000),
                     TM_SCHEDULE_STATUS_MAX_PERIOD_S * 1000);
    assert_int_equal(tm_schedule_publish_wait_ms(last, last, false, 1, 500), 5000);
    assert_int_equal(tm_schedule_publish_wait_ms(last, last, true, 0, 60000),
                     TM_SCHEDULE_PUBLISH_COALESCE_MS);
}

/* /healthz's bound against the daemon's rule, simulated: a quiet hour
 * (nothing due, only the status period) and a busy hour (an item change
 * every 300 ms) with publishes that take up to 30 s (a cold merge, which
 * also stretches the status period) never leave a gap of
 * TM_SCHEDULE_STALE_AFTER_S, so a live loop is never reported stale; busy,
 * publishes stay at most one a second. */
static void test_publish_cadence_vs_stale(void **state)
{
    (void)state;
    for (int busy = 0; busy <= 1; busy++) {
        for (int64_t cost_ms = 0; cost_ms <= 30000; cost_ms += 15000) {
            int64_t now = 1700000000000LL, last = now, max_gap = 0, min_gap = INT64_MAX;
            int publishes = 0;
            while (now < 1700000000000LL + 3600000) {
                int64_t wait = tm_schedule_publish_wait_ms(last, now, busy != 0, 0, cost_ms);
                now += busy && wait > 300 ? 300 : wait; /* the next event */
                if (tm_schedule_publish_wait_ms(last, now, busy != 0, 0, cost_ms) > 0)
                    continue;
                now += cost_ms; /* the publish itself; it completes at `now` */
                int64_t gap = now - last;
                max_gap = gap > max_gap ? gap : max_gap;
                min_gap = gap < min_gap ? gap : min_gap;
                last = now;
                publishes++;
            }
            assert_true(max_gap < (int64_t)TM_SCHEDULE_STALE_AFTER_S * 1000);
            assert_true(min_gap >= (busy ? TM_SCHEDULE_PUBLISH_COALESCE_MS
                                         : TM_SCHEDULE_STATUS_PUBLISH_S * 1000));
            if (!busy)
                assert_true(publishes >=
                            3600000 / (TM_SCHEDULE_STATUS_MAX_PERIOD_S * 1000 + cost_ms));
        }
    }
    /* A loop that stopped publishing is stale after three periods. */
    assert_int_equal(TM_SCHEDULE_STALE_AFTER_S, 3 * TM_SCHEDULE_STATUS_PUBLISH_S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval_clamped),
        cmocka_unit_test(test_interval_hints),
        cmocka_unit_test(test_next_ok_jitter),
        cmocka_unit_test(test_backoff_grows_and_caps),
        cmocka_unit_test(test_backoff_jitter_range),
        cmocka_unit_test(test_failure_retry_after),
        cmocka_unit_test(test_initial),
        cmocka_unit_test(test_url_host),
        cmocka_unit_test(test_hosts_table),
        cmocka_unit_test(test_publish_wait),
        cmocka_unit_test(test_publish_cadence_vs_stale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
