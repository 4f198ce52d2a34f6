/* test_core_policy.c — the policy parsers that read what providers and users
 * write: retry-after headers (core/retry.c), HC_BUDGET (core/budget.c) and
 * time arguments (common/clock.c). The hostile cases are the ones fuzzing
 * found (tests/fuzz/corpus/…/bug-*): values that overflowed a conversion or a
 * buffer. */
#include "budget.h"
#include "clock.h"
#include "err.h"
#include "http.h"
#include "retry.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>

/* The provider's wait for a response carrying `headers` ("name: value\r\n"…). */
static int64_t asked(int status, const char *headers)
{
    static char buf[2048];
    snprintf(buf, sizeof buf, "HTTP/1.1 %d X\r\n%s\r\n", status, headers);
    hc_http_head h;
    if (hc_http_parse_response(buf, strlen(buf), &h) <= 0)
        return -99;
    return hc_retry_after_us(&h, 1700000000LL * 1000000);
}

static void test_retry_after(void)
{
    T_EQ_INT(asked(429, "retry-after: 2\r\n"), 2000000, "retry-after: 2 → 2 s");
    T_EQ_INT(asked(429, "retry-after: 0.5\r\n"), 500000, "retry-after: 0.5 → 0.5 s");
    T_EQ_INT(asked(429, "retry-after-ms: 250\r\n"), 250000, "retry-after-ms: 250 → 250 ms");
    T_EQ_INT(asked(429, "retry-after: Tue, 14 Nov 2023 22:13:30 GMT\r\n"), 10000000,
             "retry-after as an HTTP date 10 s ahead");
    T_EQ_INT(
        asked(503, "x-ratelimit-reset-requests: 6m0s\r\nx-ratelimit-remaining-requests: 0\r\n"), -1,
        "a reset header on a non-429 asks for nothing");
    T_EQ_INT(asked(429, "x-ratelimit-reset-tokens: 1.5s\r\nx-ratelimit-remaining-tokens: 0\r\n"),
             1500000, "an exhausted limit's reset on a 429");
    T_EQ_INT(asked(429, "retry-after: 3600\r\n"), HC_RETRY_AFTER_CAP_US, "an hour is capped");
    /* Found by fuzzing: out-of-range doubles converted to int64 (undefined;
     * INT64_MIN on x86-64, so the wait was ignored instead of capped). */
    T_EQ_INT(asked(429, "retry-after: 1e300\r\n"), HC_RETRY_AFTER_CAP_US,
             "retry-after: 1e300 is capped");
    T_EQ_INT(asked(429, "retry-after: inf\r\n"), HC_RETRY_AFTER_CAP_US,
             "retry-after: inf is capped");
    T_EQ_INT(asked(429, "retry-after-ms: 1e300\r\n"), HC_RETRY_AFTER_CAP_US,
             "retry-after-ms: 1e300 is capped");
    T_EQ_INT(asked(429, "retry-after: nan\r\n"), -1, "retry-after: nan asks for nothing");
    T_EQ_INT(asked(429, "retry-after: -5\r\n"), -1, "a negative retry-after asks for nothing");
    T_EQ_INT(asked(429, "retry-after-ms: \r\n"), -1, "an empty retry-after-ms asks for nothing");
}

static void test_budgets(void)
{
    hc_budget b[4];
    int n = -1;
    char err[256] = "";
    T_CHECK(hc_budgets_parse("5/day, 100/month:block@user ", b, 4, &n, err, sizeof err) == 0 &&
                n == 2,
            "two budgets parse (%s)", err);
    T_EQ_STR(b[1].name, "100/month@user", "the second is named by amount, period and scope");
    T_CHECK(b[1].block && b[1].per_user, "…blocks, per user");

    /* Found by fuzzing: an item longer than the 1 KiB work buffer was read
     * (and, with a trailing space, written) past its end. */
    size_t len = 1100;
    char *big = malloc(len + 2);
    memset(big, 'x', len);
    big[len] = ' ';
    big[len + 1] = '\0';
    err[0] = '\0';
    n = -1;
    T_CHECK(hc_budgets_parse(big, b, 4, &n, err, sizeof err) == HC_EINVAL && n == 0 &&
                strstr(err, "at most 1023 characters"),
            "a 1,100-character budget is refused, saying why (%s)", err);
    free(big);
}

static void test_time(void)
{
    int64_t us = 0;
    T_CHECK(hc_parse_time_utc("1700000000", &us) == 0 && us == 1700000000LL * 1000000,
            "Unix seconds");
    T_CHECK(hc_parse_time_utc("2026-11-01T10:00", &us) == 0 && us == 1793527200LL * 1000000,
            "ISO date and time");
    T_CHECK(hc_parse_time_utc("9223372036854", &us) == 0 && us == 9223372036854LL * 1000000,
            "the largest Unix seconds that fit in µs");
    /* Found by fuzzing: seconds * 1e6 overflowed int64 (undefined). */
    T_EQ_INT(hc_parse_time_utc("9223372036855", &us), HC_EINVAL, "one more second is refused");
    T_EQ_INT(hc_parse_time_utc("99999999999999999999999", &us), HC_EINVAL,
             "past LLONG_MAX is refused");
}

int main(void)
{
    test_retry_after();
    test_budgets();
    test_time();
    return t_done();
}
