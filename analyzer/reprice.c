/* reprice.c — see reprice.h. */
#include "reprice.h"

#include "err.h"
#include "pricing.h"
#include "query.h"

bool reprice_on_read;

bool reprice_record(hc_record *r)
{
    if (!(r->cost_flags & (HC_COST_PRICED | HC_COST_UNPRICED)) ||
        (r->cost_flags & HC_COST_NO_USAGE))
        return false;
    const char *model = r->model_resp[0] ? r->model_resp : r->model_req;
    const hc_price *p = model[0] ? hc_price_lookup(r->provider, model) : NULL;
    if (!p && r->model_req[0] && model != r->model_req)
        p = hc_price_lookup(r->provider, r->model_req);
    int64_t cost = 0;
    uint32_t flags = (r->cost_flags & HC_COST_ESTIMATED) | (p ? HC_COST_PRICED : HC_COST_UNPRICED);
    if (p) {
        cost = hc_cost_nusd_at(p, &r->tok, r->start_us);
        if (hc_cost_long_tier(p, &r->tok))
            flags |= HC_COST_LONG_CTX;
        if (hc_cost_peak(p, r->start_us))
            flags |= HC_COST_PEAK;
    }
    int64_t *slot =
        (r->flags & (HC_REC_CACHE_HIT | HC_REC_REPLAYED)) ? &r->saved_nusd : &r->cost_nusd;
    bool changed = *slot != cost || r->cost_flags != flags;
    *slot = cost;
    r->cost_flags = flags;
    return changed;
}

static int put_varint(hc_buf *out, unsigned num, uint64_t v)
{
    uint8_t tmp[20];
    size_t n = hc_varint_put(tmp, (uint64_t)num << 3);
    n += hc_varint_put(tmp + n, v);
    return hc_buf_append(out, tmp, n);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

int reprice_patch(const void *old, size_t len, const hc_record *r, hc_buf *out)
{
    const uint8_t *p = old, *end = p + len;
    if (len < 1)
        return HC_EPARSE;
    if (hc_buf_append(out, p, 1))
        return HC_ENOMEM;
    for (p++; p < end;) {
        const uint8_t *start = p;
        uint64_t key, v;
        size_t n = hc_varint_get(p, (size_t)(end - p), &key);
        if (!n)
            return HC_EPARSE;
        p += n;
        unsigned wt = key & 7;
        uint64_t num = key >> 3;
        if (wt == 0) {
            if (!(n = hc_varint_get(p, (size_t)(end - p), &v)))
                return HC_EPARSE;
            p += n;
        } else if (wt == 2) {
            if (!(n = hc_varint_get(p, (size_t)(end - p), &v)) ||
                v >= (uint64_t)((size_t)(end - p) - n))
                return HC_EPARSE;
            p += n + v + 1;
        } else {
            return HC_EPARSE;
        }
        if (wt == 0 && (num == 19 || num == 20 || num == 37))
            continue;
        if (hc_buf_append(out, start, (size_t)(p - start)))
            return HC_ENOMEM;
    }
    if ((r->cost_nusd && put_varint(out, 19, zigzag(r->cost_nusd))) ||
        (r->cost_flags && put_varint(out, 20, r->cost_flags)) ||
        (r->saved_nusd && put_varint(out, 37, zigzag(r->saved_nusd))))
        return HC_ENOMEM;
    return 0;
}
