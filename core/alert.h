/* alert.h — threshold alerts over sliding windows (HC_ALERTS) and the
 * alert destinations shared with budget warnings.
 *
 *   HC_ALERTS="RULE[;RULE…]"  or  HC_ALERTS=@FILE (one rule per line, # comments)
 *   RULE    METRIC>VALUE/WINDOW[,min=N][@SCOPE]
 *   METRIC  spend (VALUE in USD: 5usd, $5, 0.25), tokens (input + output:
 *           1M, 500k, 2000), error_rate (10%: answers with no status or a
 *           status >= 400), pNN_latency (p50, p90, p95, p99…: 8s, 500ms, 2m)
 *   WINDOW  a sliding window: 30s, 15m, 1h, 1d
 *   min=N   at least N requests in the window (default 1) before the rule fires
 *   SCOPE   user (one alert per user), property:NAME (one per value of the
 *           property), property:NAME=VALUE (requests with that value only);
 *           default: every request.
 *   e.g. HC_ALERTS="spend>5usd/1h; error_rate>10%/15m,min=20;
 *                   p95_latency>8s/10m,min=10; tokens>1M/1d"
 *
 * A percentile is above T exactly when more than (100-NN)% of the window's
 * requests took longer than T (nearest rank), so each rule keeps two
 * windowed counters: its measure (cost, tokens, errors, requests slower than
 * T) and the request count. They are the rate-limit windows of counters.h
 * (the store's counters table, or Redis with HC_SHARED), so every process of
 * the machine — of the fleet with HC_SHARED — adds to the same window.
 *
 * Fire once, resolve once: a rule's state (0 quiet, 1 firing) is one value in
 * the same place, changed by compare-and-set; only the process whose
 * compare-and-set moves it sends the alert ("firing"), and later the resolve
 * ("resolved"). Rules are evaluated by the recorder thread, within 20 ms of
 * writing the records (below): never on the app's path. A rule is evaluated
 * when requests are recorded, so a quiet program resolves with its next
 * request.
 *
 * Destinations (every alert and budget warning goes to each one set):
 *   HC_ALERT_WEBHOOK=URL   JSON POST (body: see README, "Alerts"); with
 *                          HC_ALERT_SECRET, header X-Hcshim-Signature:
 *                          sha256=<hex HMAC-SHA256(secret, body)>
 *   HC_ALERT_SLACK=URL     Slack incoming webhook: {"text": "<message>"}
 *   HC_ALERT_COMMAND=PATH  run PATH (no shell, no arguments): the JSON on
 *                          stdin, HC_ALERT_* fields in its environment
 *   HC_BUDGET_ALERT_AT=80,100  budget fractions (percent) that warn (budget.h)
 * Delivery is asynchronous with bounded retries (webhook.h); a failure is one
 * stderr line naming the destination's host, never its URL or secret.
 *
 * Thread-safety: hc_alerts_init on the app's thread at core start-up; the
 * rest from any thread.
 */
#ifndef HC_CORE_ALERT_H
#define HC_CORE_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "store.h"

#define HC_MAX_ALERT_RULES 32

enum hc_alert_metric { HC_AM_SPEND, HC_AM_TOKENS, HC_AM_ERROR_RATE, HC_AM_LATENCY };

typedef struct hc_alert_rule {
    char text[256]; /* as written, trimmed: names the rule */
    enum hc_alert_metric metric;
    uint64_t threshold; /* nano-USD, tokens, ppm of requests, or µs */
    int pct;            /* HC_AM_LATENCY: the percentile (1..99) */
    int64_t window_us;
    uint64_t min; /* requests in the window before it may fire */
    bool per_user;
    char prop[128];     /* scope property ("" = none) */
    char prop_val[128]; /* only this value ("" = one alert per value) */
} hc_alert_rule;

/* Parse rules separated by ';' or newlines ('#' starts a comment line).
 * Good rules go to out (at most max, *n of them); for each bad one, one
 * stderr line "VAR: bad rule 'RULE': reason" (var names the source). Returns
 * the number of bad rules. */
int hc_alert_rules_parse(const char *text, const char *var, hc_alert_rule *out, int max, int *n);

/* Parse one rule. 0, or HC_EINVAL with the reason in err. */
int hc_alert_rule_parse(const char *text, hc_alert_rule *r, char *err, size_t errlen);

/* Read HC_ALERTS and the destinations (core start-up, app's thread). */
void hc_alerts_init(void);

/* Any destination set (HC_ALERT_WEBHOOK, _SLACK, _COMMAND)? */
bool hc_alerts_have_destinations(void);

/* Evaluation, by the recorder thread only. The records of its batches are
 * summed per rule and scope value (hc_alerts_add_encoded); the sums are
 * applied at most every HC_ALERT_COALESCE_US (hc_alerts_due, then
 * hc_alerts_evaluate): the windows and states updated in one store write
 * transaction, or one Redis round trip per window with HC_SHARED, and the
 * alerts of the state changes sent. At full speed the recorder makes one
 * extra transaction per 20 ms, not one per batch. */
#define HC_ALERT_COALESCE_US 20000

/* Add n encoded records (what the recorder wrote). Returns whether sums are
 * pending. Cheap when no rule is set. */
bool hc_alerts_add_encoded(const char *const *recs, const size_t *lens, size_t n);
/* Sums pending / pending for HC_ALERT_COALESCE_US or more. */
bool hc_alerts_pending(void);
bool hc_alerts_due(void);
/* Apply the pending sums to s and send the alerts they cause. */
void hc_alerts_evaluate(hc_store *s);
/* hc_alerts_add + hc_alerts_evaluate of decoded records (tests). */
void hc_alerts_feed(hc_store *s, const hc_record *const *recs, size_t n);

/* A budget reached pct% of its limit (budget.c; the crossing is unique).
 * Sends it to the destinations. */
void hc_alert_budget(const char *budget, const char *scope, int pct, uint64_t spent_nusd,
                     uint64_t limit_nusd, const char *period_start, const char *request_id);

#endif
