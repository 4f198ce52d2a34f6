/* gate.h — the policy gates: budgets and rate limits, before and after a request.
 *
 * Before a request goes anywhere, hc_gate_check() applies the blocking
 * budgets (budget.h: HC_BUDGET… with action block) and the request's
 * rate-limit policy (Helicone-RateLimit-Policy / HC_RATELIMIT_POLICY,
 * counters.h); a request over either is refused with a 429 and never sent.
 * After the answer, hc_gate_account() charges its cost to the cents-based
 * rate-limit window and to the budgets (warnings and webhooks).
 *
 * The gate does not answer the app: it says how (hc_gate_refusal), and the
 * pipeline answers with its error (gwerror.h). A store failure fails open:
 * the request passes and the limit is not enforced.
 *
 * Not thread-safe: one hc_gate per exchange, owned by its thread (the
 * counters themselves are shared through the store, which is).
 */
#ifndef HC_CORE_GATE_H
#define HC_CORE_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "capture.h"
#include "core.h"
#include "ratelimit.h"
#include "options.h"

typedef struct hc_gate {
    bool rl_on;       /* a rate-limit policy was counted for this request */
    hc_ratelimit rl;  /* the parsed policy */
    char rl_key[512]; /* its counter's key (policy and segment value) */
} hc_gate;

/* How to refuse a request. */
typedef struct hc_gate_refusal {
    int status;       /* 429, or 400 for an unusable policy header */
    const char *code; /* "budget_exceeded", "rate_limited", "bad_header" */
    char message[512];
    uint32_t flags; /* HC_REC_* for the record: HC_REC_BLOCKED, or 0 */
} hc_gate_refusal;

/* Budgets, then the rate-limit policy of o. Returns true if the request is
 * refused (*why filled; the blocking budget's name is given to the
 * capture). A counted rate limit adds its Helicone-RateLimit-Limit,
 * -Remaining and -Policy lines to resp_extra, refused or not. g must be
 * zeroed before. */
bool hc_gate_check(hc_gate *g, hc_core *core, const hc_opts *o, hc_capture *cap, hc_buf *resp_extra,
                   int64_t now_us, hc_gate_refusal *why);

/* After the answer: charge cost_nusd (> 0) to a cents-based rate limit and
 * to the budgets. Returns HC_REC_BUDGET_WARN when a warn/webhook budget was
 * crossed (its name given to the capture), else 0. id: the request's
 * helicone-id, for the webhook. */
uint32_t hc_gate_account(hc_gate *g, hc_core *core, const hc_opts *o, hc_capture *cap,
                         int64_t cost_nusd, int64_t now_us, const char *id);

#endif
