/* retry.h — when to retry an upstream attempt, and how long to wait first.
 *
 * Retried: 429, 500, 502, 503, 504 and connection failures (status 0), the
 * statuses Helicone retries. Wait before retry k (k = 0, 1, …):
 *     w = min(max, min * factor^k), then drawn uniformly from [w/2, w]
 * (jitter, so that many clients rejected together do not return together),
 * unless the provider said how long to wait — retry-after (seconds or an
 * HTTP date), retry-after-ms, or on a 429 the x-ratelimit-reset-requests/
 * -tokens ("1s", "6m0s", "250ms") of the limit that is exhausted (its
 * x-ratelimit-remaining-* is 0) — and that is longer; provider waits are capped at
 * HC_RETRY_AFTER_CAP_US so a bogus header cannot park a request for hours.
 *
 * Pure functions: thread-safe.
 */
#ifndef HC_CORE_RETRY_H
#define HC_CORE_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"

#define HC_RETRY_AFTER_CAP_US (120LL * 1000000)

typedef struct hc_retry_policy {
    int retries; /* retries allowed (0 = off) */
    double factor;
    int64_t min_us, max_us;
} hc_retry_policy;

/* True for the statuses that are retried (0 = connection failure). */
bool hc_retry_status(int status);

/* Microseconds to wait before retry number k (0-based). resp is the failed
 * response's head (NULL after a connection failure); now_us is wall-clock
 * time, for HTTP-date retry-after values. */
int64_t hc_retry_wait_us(const hc_retry_policy *p, int k, const hc_http_head *resp, int64_t now_us);

/* The longest wait the provider asked for in resp's headers, capped at
 * HC_RETRY_AFTER_CAP_US; -1 if it asked for none. */
int64_t hc_retry_after_us(const hc_http_head *resp, int64_t now_us);

/* Parse a Go-style duration as OpenAI sends it ("1s", "6m0s", "250ms",
 * "1h2m3.5s", "0.5s"). 0 or HC_EINVAL. */
int hc_parse_go_duration(const char *s, size_t n, int64_t *us);

#endif
