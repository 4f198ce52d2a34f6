/* summary.h — the headline numbers of a set of records (report, audit).
 *
 * Definitions (docs/ANALYZER.md repeats them):
 *   error           status >= 400, or status 0 (no response at all)
 *   error rate      errors / requests
 *   cache hit rate  cache hits / requests
 *   cost per request  cost / priced requests (requests - unpriced - answers
 *                   without usage): unpriced requests and 2xx answers that
 *                   reported no usage have an unknown cost and must not dilute
 *                   the average (null when there is no priced request)
 *   latency, TTFT   exact nearest-rank percentiles (agg.h) over every matching
 *                   record; TTFT over records that have one (ttft_us >= 0)
 *   provider 429s, rate-limit blocks, budget blocks: agg_limit_of (agg.h)
 *
 * JSON keys (object "summary" of `report --json` and `audit --json`):
 *   requests, cost_nusd, cost_usd, unpriced_requests, estimated_requests,
 *   no_usage_requests, cost_per_request_nusd, tok_in, tok_out, tok_cached, tok_reasoning,
 *   tok_cw5m, tok_cw1h, latency_us {p50,p95,p99}, ttft_us {p50,p95},
 *   errors, error_rate, cache_hits, cache_hit_rate, saved_nusd,
 *   retried_requests, retries, fallbacks, rate_limited (provider 429s),
 *   ratelimit_blocked, budget_blocked, blocked (both blocks), streamed,
 *   first_time, last_time.
 * A percentile of an empty set is null.
 *
 * Not thread-safe (percentiles reorder the accumulator's arrays).
 */
#ifndef HC_ANA_SUMMARY_H
#define HC_ANA_SUMMARY_H

#include <stdio.h>

#include "agg.h"
#include "jsonw.h"

/* Percentiles of a (computed once; -1 = no data). */
typedef struct summary_pct {
    int64_t p50, p95, p99, ttft_p50, ttft_p95;
} summary_pct;

/* Needs a->keep & AGG_LATENCY (and AGG_TTFT for the TTFT ones). */
void summary_percentiles(agg_acc *a, summary_pct *p);

/* Write the "summary" object's members (without braces) into the open object. */
void summary_json(jw *w, const agg_acc *a, const summary_pct *p);

/* The limit counts, as members of the open object: rate_limited (provider
 * 429s), ratelimit_blocked, budget_blocked, blocked (the two blocks). Every
 * JSON that counts them writes them with this. */
void agg_limits_json(jw *w, const agg_acc *a);

/* The text block of `report`. */
void summary_text(FILE *f, const agg_acc *a, const summary_pct *p);

/* "$1.2345", or "$1.2345 + 3 unpriced", or "unpriced" when every request is. */
const char *summary_cost_text(char *out, size_t size, int64_t nusd, uint64_t unpriced,
                              uint64_t requests);

#endif
