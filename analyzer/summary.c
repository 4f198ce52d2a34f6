/* summary.c — headline numbers of a set of records (see summary.h). */
#include "summary.h"
#include "fmt.h"

#include <inttypes.h>
#include <string.h>

void summary_percentiles(agg_acc *a, summary_pct *p)
{
    static const unsigned ps[] = { 50, 95, 99 };
    int64_t out[3];
    agg_percentiles(&a->lat, ps, 3, out);
    p->p50 = out[0];
    p->p95 = out[1];
    p->p99 = out[2];
    agg_percentiles(&a->ttft, ps, 2, out);
    p->ttft_p50 = out[0];
    p->ttft_p95 = out[1];
}

static void kpct(jw *w, const char *k, int64_t v)
{
    jw_key(w, k);
    if (v < 0)
        jw_null(w);
    else
        jw_int(w, v);
}

static double ratio(uint64_t n, uint64_t d)
{
    return d ? (double)n / (double)d : 0.0;
}

const char *summary_cost_text(char *out, size_t size, int64_t nusd, uint64_t unpriced,
                              uint64_t requests)
{
    char c[FMT_NUM];
    if (unpriced && unpriced == requests && nusd == 0)
        snprintf(out, size, "unpriced");
    else if (unpriced)
        snprintf(out, size, "%s + %" PRIu64 " unpriced", fmt_usd(c, nusd), unpriced);
    else
        snprintf(out, size, "%s", fmt_usd(c, nusd));
    return out;
}

void summary_json(jw *w, const agg_acc *a, const summary_pct *p)
{
    char t[40];
    uint64_t priced = agg_priced(a);
    jw_kuint(w, "requests", a->requests);
    jw_kint(w, "cost_nusd", a->cost_nusd);
    jw_kdouble(w, "cost_usd", (double)a->cost_nusd / 1e9);
    jw_kuint(w, "unpriced_requests", a->unpriced);
    jw_kuint(w, "estimated_requests", a->estimated);
    jw_kuint(w, "no_usage_requests", a->no_usage);
    jw_key(w, "cost_per_request_nusd");
    if (priced)
        jw_double(w, (double)a->cost_nusd / (double)priced);
    else
        jw_null(w);
    jw_kint(w, "tok_in", a->tok_in);
    jw_kint(w, "tok_out", a->tok_out);
    jw_kint(w, "tok_cached", a->tok_cached);
    jw_kint(w, "tok_reasoning", a->tok_reasoning);
    jw_kint(w, "tok_cw5m", a->tok_cw5m);
    jw_kint(w, "tok_cw1h", a->tok_cw1h);
    jw_key(w, "latency_us");
    jw_obj(w);
    kpct(w, "p50", p->p50);
    kpct(w, "p95", p->p95);
    kpct(w, "p99", p->p99);
    jw_obj_end(w);
    jw_key(w, "ttft_us");
    jw_obj(w);
    kpct(w, "p50", p->ttft_p50);
    kpct(w, "p95", p->ttft_p95);
    jw_obj_end(w);
    jw_kuint(w, "errors", a->errors);
    jw_kdouble(w, "error_rate", ratio(a->errors, a->requests));
    jw_kuint(w, "cache_hits", a->cache_hits);
    jw_kdouble(w, "cache_hit_rate", ratio(a->cache_hits, a->requests));
    jw_kint(w, "saved_nusd", a->saved_nusd);
    jw_kuint(w, "retried_requests", a->retried);
    jw_kuint(w, "retries", a->retries);
    jw_kuint(w, "fallbacks", a->fallbacks);
    agg_limits_json(w, a);
    jw_kuint(w, "streamed", a->streamed);
    jw_key(w, "first_time");
    if (a->requests)
        jw_str(w, fmt_time_iso(t, a->first_us));
    else
        jw_null(w);
    jw_key(w, "last_time");
    if (a->requests)
        jw_str(w, fmt_time_iso(t, a->last_us));
    else
        jw_null(w);
}

void agg_limits_json(jw *w, const agg_acc *a)
{
    jw_kuint(w, "rate_limited", a->rate_limited);
    jw_kuint(w, "ratelimit_blocked", a->ratelimit_blocked);
    jw_kuint(w, "budget_blocked", a->budget_blocked);
    jw_kuint(w, "blocked", a->blocked);
}

void summary_text(FILE *f, const agg_acc *a, const summary_pct *p)
{
    char b1[FMT_NUM], b2[FMT_NUM], b3[FMT_NUM], b4[FMT_NUM], b5[FMT_NUM], t1[32], t2[32], cost[128];
    uint64_t priced = agg_priced(a);
    if (!a->requests) {
        fprintf(f, "Requests    0 (no matching records)\n");
        return;
    }
    fprintf(f, "Period      %s → %s UTC\n", fmt_time(t1, a->first_us), fmt_time(t2, a->last_us));
    fprintf(f, "Requests    %s   (%s streamed)\n", fmt_int(b1, (int64_t)a->requests),
            fmt_int(b2, (int64_t)a->streamed));
    summary_cost_text(cost, sizeof cost, a->cost_nusd, a->unpriced, a->requests);
    fprintf(f, "Spend       %s", cost);
    if (priced)
        fprintf(f, "   (%s per priced request)",
                fmt_usd(b1, (a->cost_nusd + (int64_t)priced / 2) / (int64_t)priced));
    if (a->estimated)
        fprintf(f, "   %s with estimated tokens", fmt_int(b2, (int64_t)a->estimated));
    if (a->no_usage)
        fprintf(f, "   + %s answers without usage (cost unknown)",
                fmt_int(b3, (int64_t)a->no_usage));
    fputc('\n', f);
    fprintf(f, "Tokens      in %s (cached %s)   out %s (reasoning %s)", fmt_int(b1, a->tok_in),
            fmt_int(b2, a->tok_cached), fmt_int(b3, a->tok_out), fmt_int(b4, a->tok_reasoning));
    if (a->tok_cw5m || a->tok_cw1h)
        fprintf(f, "   cache writes 5m %s / 1h %s", fmt_int(b1, a->tok_cw5m),
                fmt_int(b5, a->tok_cw1h));
    fputc('\n', f);
    fprintf(f, "Latency     p50 %s   p95 %s   p99 %s", fmt_dur(b1, p->p50), fmt_dur(b2, p->p95),
            fmt_dur(b3, p->p99));
    fprintf(f, "      TTFT p50 %s   p95 %s\n", fmt_dur(b4, p->ttft_p50), fmt_dur(b5, p->ttft_p95));
    fprintf(f, "Errors      %s (%s)\n", fmt_int(b1, (int64_t)a->errors),
            fmt_pct(b2, a->errors, a->requests));
    fprintf(f, "Limits      %s\n", agg_limits_text(cost, sizeof cost, a));
    fprintf(f, "Cache       hits %s (%s)   saved %s\n", fmt_int(b1, (int64_t)a->cache_hits),
            fmt_pct(b2, a->cache_hits, a->requests), fmt_usd(b3, a->saved_nusd));
    fprintf(f, "Retries     %s requests retried (%s retries)   fallbacks %s\n",
            fmt_int(b1, (int64_t)a->retried), fmt_int(b2, (int64_t)a->retries),
            fmt_int(b3, (int64_t)a->fallbacks));
}
