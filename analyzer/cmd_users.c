/* cmd_users.c — `hc-analyze users`: one line per user (Helicone-User-Id). */
#include "agg.h"
#include "cli.h"
#include "cmds.h"
#include "fmt.h"
#include "jsonw.h"
#include "summary.h"
#include "table.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: hc-analyze users [options]\n"
    "\n"
    "Per user: requests, total and average cost, average and p95 latency, error\n"
    "rate, the models used (share of requests) and first/last seen. Records\n"
    "without a user id are grouped under \"(none)\". Sorted by cost.\n"
    "\n"
    "  --top N            at most N users (default: all)\n" CLI_HELP_COMMON CLI_HELP_FILTERS;

enum { OPT_TOP = OPT_CMD };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS, CLI_FILTER_OPTS, { "top", 0, true, OPT_TOP }, { 0 }
};

static const table_col cols[] = {
    { "USER", "user", TBL_SHRINK },
    { "REQUESTS", "requests", TBL_RIGHT },
    { "COST", "cost_usd", TBL_RIGHT },
    { "AVG COST", "avg_cost_usd", TBL_RIGHT | TBL_DROP },
    { "AVG LAT", "latency_avg_ms", TBL_RIGHT | TBL_DROP },
    { "P95 LAT", "latency_p95_ms", TBL_RIGHT },
    { "ERRORS", "error_rate", TBL_RIGHT },
    { "TOP MODELS", "models", TBL_SHRINK | TBL_DROP },
    { "FIRST SEEN", "first_seen", TBL_DROP },
    { "LAST SEEN", "last_seen", TBL_DROP },
};

static bool oom;

static int on_record(void *ctx, const hc_record *r)
{
    agg_acc *a = agg_group(ctx, r->user, strlen(r->user));
    if (!a || agg_acc_add(a, r))
        oom = true;
    return 0;
}

static int own(void *self, int id, const char *arg)
{
    if (id == OPT_TOP)
        return cli_parse_u64("--top", arg, self);
    return 1;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_users(int argc, char **argv)
{
    ana_ctx c = { .cmd = "users" };
    unsigned long long top = 0;
    agg_groups g;
    size_t *order = NULL;
    agg_groups_init(&g, AGG_LATENCY | AGG_MODELS);
    cli_scan sc = { .on_record = on_record, .self = &g };

    int rc = cli_parse(&c, &cmd, argc, argv, &top);
    if (rc || c.help || (rc = cli_scan_run(&c, &sc)))
        goto out;
    if (oom) {
        rc = cli_misuse("%s: %s", sc.path, "out of memory");
        goto out;
    }
    order = malloc((g.n + 1) * sizeof *order);
    if (!order) {
        rc = cli_misuse("users: out of memory");
        goto out;
    }
    agg_groups_order(&g, order);
    size_t n = top && top < g.n ? (size_t)top : g.n;

    jw w;
    table *t = NULL;
    if (c.fmt == CLI_JSON) {
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kuint(&w, "undecodable", sc.st.undecodable);
        jw_key(&w, "users");
        jw_arr(&w);
    } else {
        t = table_new(stdout, c.fmt, cols, sizeof cols / sizeof cols[0]);
    }
    for (size_t i = 0; i < n; i++) {
        agg_acc *a = &g.accs[order[i]];
        const char *user = g.keys[order[i]];
        uint64_t priced = agg_priced(a); /* as report's cost per request */
        int64_t p95 = agg_percentile(&a->lat, 95);
        int64_t avg_lat = a->requests ? a->latency_sum_us / (int64_t)a->requests : -1;
        agg_acc_sort_models(a);
        char t1[40], t2[40];
        if (c.fmt == CLI_JSON) {
            jw_obj(&w);
            jw_kstr(&w, "user", user);
            jw_kuint(&w, "requests", a->requests);
            jw_kint(&w, "cost_nusd", a->cost_nusd);
            jw_kuint(&w, "unpriced_requests", a->unpriced);
            jw_key(&w, "avg_cost_nusd");
            if (priced)
                jw_double(&w, (double)a->cost_nusd / (double)priced);
            else
                jw_null(&w);
            jw_kdouble(&w, "latency_avg_us",
                       a->requests ? (double)a->latency_sum_us / (double)a->requests : 0.0);
            jw_kint(&w, "latency_p95_us", p95);
            jw_kuint(&w, "errors", a->errors);
            agg_limits_json(&w, a);
            jw_kdouble(&w, "error_rate",
                       a->requests ? (double)a->errors / (double)a->requests : 0.0);
            jw_key(&w, "models");
            jw_arr(&w);
            for (size_t m = 0; m < a->nmodels; m++) {
                jw_obj(&w);
                jw_kstr(&w, "model", a->models[m].model);
                jw_kuint(&w, "requests", a->models[m].n);
                jw_obj_end(&w);
            }
            jw_arr_end(&w);
            jw_kstr(&w, "first_seen", fmt_time_iso(t1, a->first_us));
            jw_kstr(&w, "last_seen", fmt_time_iso(t2, a->last_start_us));
            jw_obj_end(&w);
            continue;
        }
        char b1[FMT_NUM], b2[FMT_NUM], cost[128];
        table_cell2(t, *user ? user : "(none)", user);
        snprintf(b1, sizeof b1, "%" PRIu64, a->requests);
        table_cell2(t, fmt_int(b2, (int64_t)a->requests), b1);
        summary_cost_text(cost, sizeof cost, a->cost_nusd, a->unpriced, a->requests);
        table_cell2(t, cost, fmt_usd_exact(b1, a->cost_nusd));
        if (priced) {
            int64_t avg = (a->cost_nusd + (int64_t)priced / 2) / (int64_t)priced;
            table_cell2(t, fmt_usd(b1, avg), fmt_usd_exact(b2, avg));
        } else {
            table_cell2(t, "-", "");
        }
        table_cell2(t, fmt_dur(b1, avg_lat), fmt_ms_exact(b2, avg_lat));
        table_cell2(t, fmt_dur(b1, p95), fmt_ms_exact(b2, p95));
        snprintf(b2, sizeof b2, "%.6f",
                 a->requests ? (double)a->errors / (double)a->requests : 0.0);
        table_cell2(t, fmt_pct(b1, a->errors, a->requests), b2);
        hc_buf models = HC_BUF_INIT;
        for (size_t m = 0; m < a->nmodels; m++) {
            if (c.fmt == CLI_CSV)
                hc_buf_printf(&models, "%s%s:%" PRIu64, m ? ";" : "", a->models[m].model,
                              a->models[m].n);
            else if (m < 3)
                hc_buf_printf(&models, "%s%s %.0f%%", m ? ", " : "", a->models[m].model,
                              100.0 * (double)a->models[m].n / (double)a->requests);
        }
        if (c.fmt != CLI_CSV && a->nmodels > 3)
            hc_buf_printf(&models, ", +%zu", a->nmodels - 3);
        table_cell(t, fmt_built(&models));
        hc_buf_free(&models);
        table_cell2(t, fmt_time(t1, a->first_us), fmt_time_iso(t2, a->first_us));
        table_cell2(t, fmt_time(t1, a->last_start_us), fmt_time_iso(t2, a->last_start_us));
    }
    if (c.fmt == CLI_JSON) {
        jw_arr_end(&w);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else {
        table_end(t);
    }
    rc = 0;
out:
    free(order);
    agg_groups_free(&g);
    query_filter_free(&c.filter);
    return rc;
}
