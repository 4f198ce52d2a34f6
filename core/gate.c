/* gate.c — see gate.h.
 *
 * DESIGN
 * - Order: budgets first (a spent budget refuses without touching the
 *   rate-limit counters), then the rate limit, which counts the request as
 *   it checks it (hc_window_take: one store transaction).
 * - Fail open: no store, or a store error, lets the request pass; a warning
 *   says once that the policy is not enforced.
 */
#include "gate.h"
#include "budget.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void add_ratelimit_headers(const hc_gate *g, hc_buf *extra, uint64_t used)
{
    const hc_ratelimit *rl = &g->rl;
    uint64_t left = used >= rl->quota ? 0 : rl->quota - used;
    if (rl->cents)
        hc_buf_printf(extra,
                      "Helicone-RateLimit-Limit: %g\r\nHelicone-RateLimit-Remaining: %.4f\r\n",
                      rl->quota_cents, (double)left / 1e7);
    else
        hc_buf_printf(extra,
                      "Helicone-RateLimit-Limit: %llu\r\nHelicone-RateLimit-Remaining: %llu\r\n",
                      (unsigned long long)rl->quota, (unsigned long long)left);
    hc_buf_printf(extra, "Helicone-RateLimit-Policy: %s\r\n", rl->text);
}

static const char *segment_value(const hc_opts *o, const char *segment)
{
    if (!segment[0])
        return "";
    if (strcasecmp(segment, "user") == 0)
        return o->user;
    hc_pairs pl = { o->props.data, (uint32_t)o->props.len };
    uint32_t pos = 0;
    const char *n, *v;
    while (hc_pairs_next(&pl, &pos, &n, &v))
        if (strcasecmp(n, segment) == 0)
            return v;
    return "";
}

static bool budget_check(hc_core *core, const hc_opts *o, hc_capture *cap, int64_t now_us,
                         hc_gate_refusal *why)
{
    hc_store *s = hc_core_store(core);
    uint64_t spent = 0;
    int i = hc_budget_blocked(s, core->budgets, core->nbudgets, o, now_us, &spent);
    if (i < 0)
        return false;
    const hc_budget *b = &core->budgets[i];
    char sp[32], lim[32];
    hc_format_usd(spent, sp, sizeof sp);
    hc_format_usd(b->limit_nusd, lim, sizeof lim);
    hc_capture_set_budget(cap, b->name);
    why->status = 429;
    why->code = "budget_exceeded";
    why->flags = HC_REC_BLOCKED;
    if (spent == UINT64_MAX) /* budget.h: HC_SHARED down under fail-closed */
        snprintf(why->message, sizeof why->message,
                 "budget %s: the shared spend cannot be read (HC_SHARED "
                 "unreachable, HC_SHARED_ON_ERROR=fail-closed); no request was sent",
                 b->name);
    else
        snprintf(why->message, sizeof why->message,
                 "budget %s exceeded: spent %s of %s; no request was sent", b->name, sp, lim);
    return true;
}

static bool ratelimit_check(hc_gate *g, hc_core *core, const hc_opts *o, hc_buf *resp_extra,
                            int64_t now_us, hc_gate_refusal *why)
{
    char err[200];
    if (hc_ratelimit_parse(o->ratelimit, &g->rl, err, sizeof err) != 0) {
        why->status = 400;
        why->code = "bad_header";
        why->flags = 0;
        snprintf(why->message, sizeof why->message,
                 "Helicone-RateLimit-Policy: %s (expected "
                 "QUOTA;w=SECONDS[;u=request|cents][;s=user|PROPERTY])",
                 err);
        return true;
    }
    hc_store *s = hc_core_store(core);
    if (!s) {
        hc_log_warn_once("rl_store", "no store: rate-limit policies are not enforced");
        return false;
    }
    hc_ratelimit_key(&g->rl, segment_value(o, g->rl.segment), g->rl_key, sizeof g->rl_key);
    bool allowed = true;
    uint64_t used = 0;
    if (hc_window_take(s, g->rl_key, g->rl.window_us, g->rl.quota, g->rl.cents ? 0 : 1, now_us,
                       &allowed, &used) != 0)
        return false; /* the store failed: fail open */
    g->rl_on = true;
    add_ratelimit_headers(g, resp_extra, used);
    if (allowed)
        return false;
    why->status = 429;
    why->code = "rate_limited";
    why->flags = HC_REC_BLOCKED;
    snprintf(why->message, sizeof why->message, "rate limit %s reached; no request was sent",
             g->rl.text);
    return true;
}

/* HC_SHARED with a rate limit and budgets: one Redis script checks the
 * budgets and takes the window (one round trip). Returns 1 refused (why set),
 * 0 allowed, -1 not settled here: the separate checks below decide (no
 * shared store, a budget refuses and must say which, or Redis failed: the
 * failure policies of those checks apply). */
static int shared_check(hc_gate *g, hc_core *core, const hc_opts *o, hc_buf *resp_extra,
                        int64_t now_us, hc_gate_refusal *why)
{
    if (!core->nbudgets || !o->ratelimit[0])
        return -1; /* the common case: no store access at all (it costs a lock and fstats) */
    hc_store *s = hc_core_store(core);
    char err[200];
    if (!s || hc_ratelimit_parse(o->ratelimit, &g->rl, err, sizeof err) != 0)
        return -1;
    hc_ratelimit_key(&g->rl, segment_value(o, g->rl.segment), g->rl_key, sizeof g->rl_key);
    bool allowed = true;
    uint64_t used = 0;
    if (hc_budget_gate_shared(core->budgets, core->nbudgets, o, now_us, g->rl_key, g->rl.window_us,
                              g->rl.quota, g->rl.cents ? 0 : 1, &allowed, &used) != 0)
        return -1;
    g->rl_on = true;
    add_ratelimit_headers(g, resp_extra, used);
    if (allowed)
        return 0;
    why->status = 429;
    why->code = "rate_limited";
    why->flags = HC_REC_BLOCKED;
    snprintf(why->message, sizeof why->message, "rate limit %s reached; no request was sent",
             g->rl.text);
    return 1;
}

bool hc_gate_check(hc_gate *g, hc_core *core, const hc_opts *o, hc_capture *cap, hc_buf *resp_extra,
                   int64_t now_us, hc_gate_refusal *why)
{
    int sc = shared_check(g, core, o, resp_extra, now_us, why);
    if (sc >= 0)
        return sc == 1;
    if (core->nbudgets && budget_check(core, o, cap, now_us, why))
        return true;
    return o->ratelimit[0] && ratelimit_check(g, core, o, resp_extra, now_us, why);
}

uint32_t hc_gate_account(hc_gate *g, hc_core *core, const hc_opts *o, hc_capture *cap,
                         int64_t cost_nusd, int64_t now_us, const char *id)
{
    if (g->rl_on && g->rl.cents && cost_nusd > 0) {
        hc_store *s = hc_core_store(core);
        uint64_t used;
        if (s)
            hc_window_add(s, g->rl_key, g->rl.window_us, (uint64_t)cost_nusd, now_us, &used);
    }
    char name[256];
    if (core->nbudgets && cost_nusd > 0 &&
        hc_budget_account(hc_core_store(core), core->budgets, core->nbudgets, o, cost_nusd, now_us,
                          id, name, sizeof name)) {
        hc_capture_set_budget(cap, name);
        return HC_REC_BUDGET_WARN;
    }
    return 0;
}
