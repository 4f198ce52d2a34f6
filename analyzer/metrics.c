/* metrics.c — see metrics.h. One scan per scrape: fine for the stores one
 * machine makes (a million records scan in about a second, BENCHMARKS.md);
 * the aggregation is a small linear table keyed by provider/model. */
#include "metrics.h"
#include "err.h"
#include "query.h"
#include "record.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double dur_bounds[] = { 0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                     1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92 };
#define NDUR (sizeof dur_bounds / sizeof dur_bounds[0])
static const int64_t tok_bounds[] = { 1,     4,     16,     64,      256,     1024,     4096,
                                      16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864 };
#define NTOK    (sizeof tok_bounds / sizeof tok_bounds[0])
#define NSTATUS 8

struct series {
    char provider[64], model[128];
    uint64_t status_code[NSTATUS]; /* distinct statuses seen, and their counts */
    uint64_t status_n[NSTATUS];
    uint64_t status_other; /* past NSTATUS distinct statuses */
    int64_t tok_in, tok_out, tok_cached, tok_reasoning, cost_nusd;
    uint64_t unpriced;
    uint64_t dur[NDUR + 1], dur_count; /* dur[NDUR]: +Inf only */
    double dur_sum;
    uint64_t tin[NTOK + 1], tout[NTOK + 1], tok_count;
    int64_t tin_sum, tout_sum;
};

struct agg {
    struct series *s;
    size_t n, cap;
    int oom;
};

static struct series *find(struct agg *a, const char *provider, const char *model)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->s[i].provider, provider) == 0 && strcmp(a->s[i].model, model) == 0)
            return &a->s[i];
    if (a->n >= METRICS_MAX_SERIES)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct series *s = realloc(a->s, cap * sizeof *s);
        if (!s)
            return NULL;
        a->s = s, a->cap = cap;
    }
    struct series *s = &a->s[a->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->provider, sizeof s->provider, "%s", provider);
    snprintf(s->model, sizeof s->model, "%s", model);
    return s;
}

static int on_record(void *ctx, const hc_record *r)
{
    struct agg *a = ctx;
    const char *model = query_model_of(r);
    struct series *s = find(a, r->provider, model);
    if (!s && !(s = find(a, r->provider, "other")) && !(s = find(a, "other", "other"))) {
        /* The table is full with the overflow rows too: count in the last row. */
        if (!a->n) {
            a->oom = 1;
            return 1;
        }
        s = &a->s[a->n - 1];
    }
    size_t i;
    for (i = 0; i < NSTATUS && s->status_n[i]; i++)
        if (s->status_code[i] == (uint64_t)r->status)
            break;
    if (i < NSTATUS) {
        s->status_code[i] = (uint64_t)r->status;
        s->status_n[i]++;
    } else {
        s->status_other++;
    }
    s->tok_in += r->tok_in > 0 ? r->tok_in : 0;
    s->tok_out += r->tok_out > 0 ? r->tok_out : 0;
    s->tok_cached += r->tok_cached > 0 ? r->tok_cached : 0;
    s->tok_reasoning += r->tok_reasoning > 0 ? r->tok_reasoning : 0;
    if (r->cost_flags & HC_COST_UNPRICED)
        s->unpriced++;
    else
        s->cost_nusd += r->cost_nusd > 0 ? r->cost_nusd : 0;
    double sec = r->latency_us > 0 ? (double)r->latency_us / 1e6 : 0;
    size_t b = 0;
    while (b < NDUR && sec > dur_bounds[b])
        b++;
    s->dur[b]++;
    s->dur_count++;
    s->dur_sum += sec;
    if (r->tok_in > 0 || r->tok_out > 0) {
        int64_t vin = r->tok_in > 0 ? r->tok_in : 0, vout = r->tok_out > 0 ? r->tok_out : 0;
        for (b = 0; b < NTOK && vin > tok_bounds[b]; b++)
            ;
        s->tin[b]++;
        for (b = 0; b < NTOK && vout > tok_bounds[b]; b++)
            ;
        s->tout[b]++;
        s->tok_count++;
        s->tin_sum += vin;
        s->tout_sum += vout;
    }
    return 0;
}

/* A label value: backslash, double quote and line feed escaped (exposition format). */
static void label(hc_buf *o, const char *name, const char *v, bool more)
{
    hc_buf_printf(o, "%s=\"", name);
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            hc_buf_puts(o, "\\\\");
        else if (*p == '"')
            hc_buf_puts(o, "\\\"");
        else if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            hc_buf_puts(o, "?"); /* control bytes and non-ASCII: the text must stay valid UTF-8 */
        else
            hc_buf_append(o, p, 1);
    }
    hc_buf_puts(o, more ? "\"," : "\"");
}

static void pm(hc_buf *o, const struct series *s, bool more)
{
    label(o, "provider", s->provider, true);
    label(o, "model", s->model, more);
}

int metrics_write(MDB_txn *txn, MDB_dbi dbi, hc_buf *o)
{
    struct agg a = { 0 };
    int rc = query_scan(txn, dbi, NULL, false, on_record, &a, NULL);
    if (!rc && a.oom)
        rc = HC_ENOMEM;
    if (rc)
        goto out;
    hc_buf_puts(
        o, "# HELP hcshim_requests_total LLM requests recorded, by HTTP status (0: no answer).\n"
           "# TYPE hcshim_requests_total counter\n");
    for (size_t i = 0; i < a.n; i++) {
        const struct series *s = &a.s[i];
        for (size_t k = 0; k < NSTATUS && s->status_n[k]; k++) {
            hc_buf_puts(o, "hcshim_requests_total{");
            pm(o, s, true);
            hc_buf_printf(o, "status=\"%" PRIu64 "\"} %" PRIu64 "\n", s->status_code[k],
                          s->status_n[k]);
        }
        if (s->status_other) {
            hc_buf_puts(o, "hcshim_requests_total{");
            pm(o, s, true);
            hc_buf_printf(o, "status=\"other\"} %" PRIu64 "\n", s->status_other);
        }
    }
    hc_buf_puts(o, "# HELP hcshim_tokens_total Tokens recorded (cached is part of input, reasoning "
                   "part of output).\n"
                   "# TYPE hcshim_tokens_total counter\n");
    for (size_t i = 0; i < a.n; i++) {
        const struct series *s = &a.s[i];
        const struct {
            const char *t;
            int64_t v;
        } tk[] = { { "input", s->tok_in },
                   { "output", s->tok_out },
                   { "cached", s->tok_cached },
                   { "reasoning", s->tok_reasoning } };
        for (size_t k = 0; k < 4; k++) {
            hc_buf_puts(o, "hcshim_tokens_total{");
            pm(o, s, true);
            hc_buf_printf(o, "type=\"%s\"} %" PRId64 "\n", tk[k].t, tk[k].v);
        }
    }
    hc_buf_puts(o, "# HELP hcshim_cost_usd_total Cost of priced requests in US dollars.\n"
                   "# TYPE hcshim_cost_usd_total counter\n");
    for (size_t i = 0; i < a.n; i++) {
        hc_buf_puts(o, "hcshim_cost_usd_total{");
        pm(o, &a.s[i], false);
        hc_buf_printf(o, "} %" PRId64 ".%09" PRId64 "\n", a.s[i].cost_nusd / 1000000000,
                      a.s[i].cost_nusd % 1000000000);
    }
    hc_buf_puts(o, "# HELP hcshim_unpriced_requests_total Requests whose model has no price.\n"
                   "# TYPE hcshim_unpriced_requests_total counter\n");
    for (size_t i = 0; i < a.n; i++) {
        hc_buf_puts(o, "hcshim_unpriced_requests_total{");
        pm(o, &a.s[i], false);
        hc_buf_printf(o, "} %" PRIu64 "\n", a.s[i].unpriced);
    }
    hc_buf_puts(o, "# HELP gen_ai_client_operation_duration_seconds GenAI operation duration.\n"
                   "# TYPE gen_ai_client_operation_duration_seconds histogram\n");
    for (size_t i = 0; i < a.n; i++) {
        const struct series *s = &a.s[i];
        uint64_t cum = 0;
        for (size_t b = 0; b <= NDUR; b++) {
            cum += s->dur[b];
            hc_buf_puts(o, "gen_ai_client_operation_duration_seconds_bucket{");
            pm(o, s, true);
            if (b < NDUR)
                hc_buf_printf(o, "le=\"%g\"} %" PRIu64 "\n", dur_bounds[b], cum);
            else
                hc_buf_printf(o, "le=\"+Inf\"} %" PRIu64 "\n", cum);
        }
        hc_buf_puts(o, "gen_ai_client_operation_duration_seconds_sum{");
        pm(o, s, false);
        hc_buf_printf(o, "} %.6f\n", s->dur_sum);
        hc_buf_puts(o, "gen_ai_client_operation_duration_seconds_count{");
        pm(o, s, false);
        hc_buf_printf(o, "} %" PRIu64 "\n", s->dur_count);
    }
    hc_buf_puts(o, "# HELP gen_ai_client_token_usage Tokens used per GenAI operation.\n"
                   "# TYPE gen_ai_client_token_usage histogram\n");
    for (size_t i = 0; i < a.n; i++) {
        const struct series *s = &a.s[i];
        for (int t = 0; t < 2; t++) {
            const uint64_t *h = t ? s->tout : s->tin;
            const char *tt = t ? "output" : "input";
            uint64_t cum = 0;
            for (size_t b = 0; b <= NTOK; b++) {
                cum += h[b];
                hc_buf_puts(o, "gen_ai_client_token_usage_bucket{");
                pm(o, s, true);
                if (b < NTOK)
                    hc_buf_printf(o, "token_type=\"%s\",le=\"%" PRId64 "\"} %" PRIu64 "\n", tt,
                                  tok_bounds[b], cum);
                else
                    hc_buf_printf(o, "token_type=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", tt, cum);
            }
            hc_buf_puts(o, "gen_ai_client_token_usage_sum{");
            pm(o, s, true);
            hc_buf_printf(o, "token_type=\"%s\"} %" PRId64 "\n", tt, t ? s->tout_sum : s->tin_sum);
            hc_buf_puts(o, "gen_ai_client_token_usage_count{");
            pm(o, s, true);
            hc_buf_printf(o, "token_type=\"%s\"} %" PRIu64 "\n", tt, s->tok_count);
        }
    }
out:
    free(a.s);
    return rc ? rc : hc_buf_error(o);
}
