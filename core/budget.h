/* budget.h — spending limits (HC_BUDGET), shared by every process using the store.
 *
 *   HC_BUDGET="AMOUNT/PERIOD[:ACTION…][@SCOPE][,…]"
 *     AMOUNT  US dollars ("5", "0.25")
 *     PERIOD  hour, day, week, month (calendar periods, UTC; weeks start on
 *             Monday), process (this process's lifetime), total (all time)
 *     ACTION  warn (the default: one stderr line when the budget is crossed),
 *             block (requests that start while the budget is spent get a 429
 *             and make no upstream call), webhook=URL (a JSON POST when the
 *             budget is crossed; must be the last action), at=P+P… (warn at
 *             these percentages of the limit too, e.g. at=50+80+100; default
 *             HC_BUDGET_ALERT_AT, else 80 and 100). Several: "5/day:block:webhook=…"
 *     SCOPE   user, or property:NAME — one budget per user / per value of the
 *             property; default: one budget for everything.
 *   e.g. HC_BUDGET="50/day:warn,5/hour:block@user,2/process:block"
 *
 * Spend is the sum of the recorded cost of completed requests in the period,
 * kept as a total in the store's counters table (ratelimit.h), so every process writing to
 * the store sees it. A crossing — the request whose cost takes the total from
 * below the limit to at or above it — is unique across processes (one LMDB
 * transaction makes it), which is what makes "one alert per crossing" exact.
 *
 * Warnings at fractions: each percentage P of the budget's list is crossed
 * once per period, by the request that takes the total from below P% of the
 * limit to at or above it (unique for the same reason). It prints one stderr
 * line (warn budgets) and goes to the alert destinations (alert.h:
 * HC_ALERT_WEBHOOK, _SLACK, _COMMAND); webhook=URL gets the fractions below
 * 100% only when they were chosen (at= or HC_BUDGET_ALERT_AT), so a plain
 * webhook budget still posts once, at the crossing.
 *
 * Thread-safe.
 */
#ifndef HC_CORE_BUDGET_H
#define HC_CORE_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"
#include "store.h"

#define HC_MAX_BUDGETS 16

enum hc_period {
    HC_PERIOD_HOUR,
    HC_PERIOD_DAY,
    HC_PERIOD_WEEK,
    HC_PERIOD_MONTH,
    HC_PERIOD_PROCESS,
    HC_PERIOD_TOTAL
};

typedef struct hc_budget {
    char spec[256]; /* as written in HC_BUDGET */
    char name[256]; /* AMOUNT/PERIOD[@SCOPE]: names it in messages, records, webhooks */
    uint64_t limit_nusd;
    enum hc_period period;
    bool warn, block;
    char webhook[512]; /* "" = none */
    bool per_user;
    char prop[128]; /* per value of this property ("" = not) */
    uint16_t at[8]; /* warn at these percentages of the limit (ascending) */
    int nat;
    bool at_chosen; /* at= or HC_BUDGET_ALERT_AT, not the default */
} hc_budget;

/* Parse a list of percentages "50,80,100" (sep ',') or "50+80+100" (sep
 * '+'), each 1..1000, at most 8, into at (ascending, no duplicates). 0 or
 * HC_EINVAL with the reason in err. */
int hc_budget_fractions_parse(const char *text, char sep, uint16_t *at, int *nat, char *err,
                              size_t errlen);

/* Parse HC_BUDGET (and HC_BUDGET_ALERT_AT, read here: a bad one is one
 * stderr line and the default 80,100). 0, or HC_EINVAL with "item: reason" in err (nothing is
 * returned then: a half-understood budget is worse than a loud refusal). */
int hc_budgets_parse(const char *text, hc_budget *out, int max, int *n, char *err, size_t errlen);

/* Start of the period containing now_us (µs since epoch; 0 for total). */
int64_t hc_period_start(enum hc_period p, int64_t now_us);

/* Check before a request: if a blocking budget applicable to o is spent,
 * return its index and fill *spent (nano-USD); else -1. *spent is UINT64_MAX
 * when the budget blocks because its shared spend cannot be read (HC_SHARED
 * down under HC_SHARED_ON_ERROR=fail-closed, shared.h). */
int hc_budget_blocked(hc_store *s, const hc_budget *b, int n, const hc_opts *o, int64_t now_us,
                      uint64_t *spent);

/* With HC_SHARED: the blocking budgets applicable to o and the rate-limit
 * window wkey (hc_window_take's arguments) checked in one Redis round trip
 * (hc_shared_gate). 0: no budget is spent and the window answered
 * (*allowed, *used); 1: a budget is spent (the window untouched; the caller
 * refuses through hc_budget_blocked(), which names it); HC_EDISABLED: not
 * answered here (no shared budget applies, a "process" budget is spent, or
 * Redis did not answer): take the usual path. */
int hc_budget_gate_shared(const hc_budget *b, int n, const hc_opts *o, int64_t now_us,
                          const char *wkey, int64_t window_us, uint64_t quota, uint64_t amount,
                          bool *allowed, uint64_t *used);

/* Account a completed request's cost. For each budget crossed by it, warns
 * and/or posts the webhook (asynchronously). Returns true if a warn or
 * webhook budget was crossed (the record gets HC_REC_BUDGET_WARN); spec_out
 * (may be NULL) then gets that budget's name. Block-only budgets act on the
 * next request instead. */
bool hc_budget_account(hc_store *s, const hc_budget *b, int n, const hc_opts *o, int64_t cost_nusd,
                       int64_t now_us, const char *request_id, char *spec_out, size_t spec_size);

/* Format nano-USD as "$1.234567" into out. */
void hc_format_usd(uint64_t nusd, char *out, size_t size);

/* After fork, in the child (core.c's fork handler, with its siblings): the
 * lock of the "process" budgets is reset (another thread of the parent may
 * have held it) and the child's process totals start from zero. */
void hc_budget_atfork_child(void);

#endif
