/* budget.h — spending limits (HC_BUDGET), shared by every process using the store.
 *
 *   HC_BUDGET="AMOUNT/PERIOD[:ACTION…][@SCOPE][,…]"
 *     AMOUNT  US dollars ("5", "0.25")
 *     PERIOD  hour, day, week, month (calendar periods, UTC; weeks start on
 *             Monday), process (this process's lifetime), total (all time)
 *     ACTION  warn (the default: one stderr line when the budget is crossed),
 *             block (requests that start while the budget is spent get a 429
 *             and make no upstream call), webhook=URL (a JSON POST when the
 *             budget is crossed; must be the last action). Several: "5/day:block:webhook=…"
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
 * Thread-safe.
 */
#ifndef HC_CORE_BUDGET_H
#define HC_CORE_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"
#include "store.h"

#define HC_MAX_BUDGETS 16

enum hc_period { HC_PERIOD_HOUR, HC_PERIOD_DAY, HC_PERIOD_WEEK, HC_PERIOD_MONTH, HC_PERIOD_PROCESS,
                 HC_PERIOD_TOTAL };

typedef struct hc_budget {
    char            spec[256];       /* as written in HC_BUDGET */
    char            name[256];       /* AMOUNT/PERIOD[@SCOPE]: names it in messages, records, webhooks */
    uint64_t        limit_nusd;
    enum hc_period  period;
    bool            warn, block;
    char            webhook[512];    /* "" = none */
    bool            per_user;
    char            prop[128];       /* per value of this property ("" = not) */
} hc_budget;

/* Parse HC_BUDGET. 0, or HC_EINVAL with "item: reason" in err (nothing is
 * returned then: a half-understood budget is worse than a loud refusal). */
int hc_budgets_parse(const char *text, hc_budget *out, int max, int *n, char *err, size_t errlen);

/* Start of the period containing now_us (µs since epoch; 0 for total). */
int64_t hc_period_start(enum hc_period p, int64_t now_us);

/* Check before a request: if a blocking budget applicable to o is spent,
 * return its index and fill *spent (nano-USD); else -1. *spent is UINT64_MAX
 * when the budget blocks because its shared spend cannot be read (HC_SHARED
 * down under HC_SHARED_ON_ERROR=fail-closed, shared.h). */
int hc_budget_blocked(hc_store *s, const hc_budget *b, int n, const hc_opts *o, int64_t now_us, uint64_t *spent);

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
