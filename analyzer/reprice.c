/* reprice.c — see reprice.h. */
#include "reprice.h"

#include "pricing.h"
#include "query.h"

bool reprice_on_read;

bool reprice_record(hc_record *r)
{
    if (!(r->cost_flags & (HC_COST_PRICED | HC_COST_UNPRICED)) || (r->cost_flags & HC_COST_NO_USAGE))
        return false;
    const char *model = r->model_resp[0] ? r->model_resp : r->model_req;
    const hc_price *p = model[0] ? hc_price_lookup(r->provider, model) : NULL;
    if (!p && r->model_req[0] && model != r->model_req)
        p = hc_price_lookup(r->provider, r->model_req);
    int64_t cost = 0;
    uint32_t flags = (r->cost_flags & HC_COST_ESTIMATED) | (p ? HC_COST_PRICED : HC_COST_UNPRICED);
    if (p) {
        hc_tokens t = { .in = r->tok_in, .out = r->tok_out, .cached = r->tok_cached, .cw5m = r->tok_cw5m,
                        .cw1h = r->tok_cw1h, .reasoning = r->tok_reasoning };
        cost = hc_cost_nusd(p, &t);
    }
    int64_t *slot = (r->flags & HC_REC_CACHE_HIT) ? &r->saved_nusd : &r->cost_nusd;
    bool changed = *slot != cost || r->cost_flags != flags;
    *slot = cost;
    r->cost_flags = flags;
    return changed;
}
