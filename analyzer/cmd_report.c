/* cmd_report.c — `hc-analyze report`: totals, nested breakdowns, time series.
 *
 * One pass over the records (zero-copy decode, never the bodies table) feeds
 * the total accumulator, one group table per --by level (keyed by the prefix
 * of dimension values joined with NUL) and the trend buckets. Percentiles
 * are exact (agg.h). With --db clickhouse://… the server computes the same
 * accumulators (agg_ch.h) when it can say the whole selection in SQL; a
 * group's percentiles then come with it (acc->user). */
#include "agg.h"
#include "agg_ch.h"
#include "chdest.h"
#include "cli.h"
#include "cmds.h"
#include "fmt.h"
#include "jsonw.h"
#include "summary.h"
#include "table.h"
#include "trend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: hc-analyze report [options]\n"
    "\n"
    "Total spend, requests, tokens, latency and TTFT percentiles, errors, cache,\n"
    "retries and fallbacks; then a breakdown and optionally a time series.\n"
    "\n"
    "  --by DIM           group by model (default), provider, user, session, program,\n"
    "                     status, api, host, test (the pytest test) or\n"
    "                     property:NAME; repeat to nest\n"
    "                     (--by property:Workflow --by property:Step)\n"
    "  --trend UNIT       add a time series by hour, day, week (ISO) or month (UTC)\n"
    "  --top N            show at most N groups per level (default: all)\n" CLI_HELP_COMMON
        CLI_HELP_FILTERS "\n"
    "The model dimension groups by the model requested, else the model answered.\n"
    "Costs of unpriced models are unknown: totals say \"+ N unpriced\".\n";

enum { OPT_BY = OPT_CMD, OPT_TREND, OPT_TOP };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    { "by", 0, true, OPT_BY },
    { "trend", 0, true, OPT_TREND },
    { "top", 0, true, OPT_TOP },
    { 0 },
};

#define MAX_BY 4

enum dim_kind {
    D_MODEL,
    D_PROVIDER,
    D_USER,
    D_SESSION,
    D_PROGRAM,
    D_STATUS,
    D_API,
    D_HOST,
    D_PROPERTY
};

struct dim {
    enum dim_kind kind;
    const char *prop; /* D_PROPERTY */
    const char *spec; /* as given, e.g. "property:Step" */
};

struct report {
    struct dim by[MAX_BY];
    int nby;
    enum tb_unit trend;
    unsigned long long top;
    agg_acc total;
    agg_groups level[MAX_BY];
    agg_groups buckets; /* key: bucket start as decimal µs */
    hc_buf key;
    int oom;
};

static int parse_dim(const char *s, struct dim *d)
{
    static const struct {
        const char *name;
        enum dim_kind k;
    } names[] = {
        { "model", D_MODEL },     { "provider", D_PROVIDER }, { "user", D_USER },
        { "session", D_SESSION }, { "program", D_PROGRAM },   { "status", D_STATUS },
        { "api", D_API },         { "host", D_HOST },
    };
    d->spec = s;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            d->kind = names[i].k;
            return 0;
        }
    if (strncmp(s, "property:", 9) == 0 && s[9]) {
        d->kind = D_PROPERTY;
        d->prop = s + 9;
        return 0;
    }
    if (strcmp(s, "test") == 0) { /* the pytest test (PYTEST_CURRENT_TEST, core/context.h) */
        d->kind = D_PROPERTY;
        d->prop = "test";
        return 0;
    }
    return cli_misuse(
        "--by: expected model, provider, user, session, program, status, api, host, test "
        "or property:NAME, got '%s'",
        s);
}

static const char *dim_value(const struct dim *d, const hc_record *r, char *tmp, size_t size)
{
    switch (d->kind) {
    case D_MODEL: return query_model_of(r);
    case D_PROVIDER: return r->provider;
    case D_USER: return r->user;
    case D_SESSION: return r->session_id;
    case D_PROGRAM: return r->program;
    case D_STATUS: snprintf(tmp, size, "%d", r->status); return tmp;
    case D_API: return r->api;
    case D_HOST: return r->host;
    case D_PROPERTY: {
        const char *v = hc_pairs_get(&r->props, d->prop);
        return v ? v : "";
    }
    }
    return "";
}

/* Bucket start for a time (UTC). */
static int on_record(void *ctx, const hc_record *r)
{
    struct report *rp = ctx;
    char tmp[16];
    if (agg_acc_add(&rp->total, r))
        rp->oom = 1;
    hc_buf_reset(&rp->key);
    for (int l = 0; l < rp->nby; l++) {
        if (l)
            hc_buf_append(&rp->key, "", 1); /* NUL separates levels */
        hc_buf_puts(&rp->key, dim_value(&rp->by[l], r, tmp, sizeof tmp));
        agg_acc *g =
            hc_buf_error(&rp->key) ? NULL : agg_group(&rp->level[l], rp->key.data, rp->key.len);
        if (!g || agg_acc_add(g, r))
            rp->oom = 1;
    }
    if (rp->trend != TB_NONE) {
        char k[TREND_KEY_MAX];
        size_t n = trend_key(rp->trend, r->start_us, k);
        agg_acc *b = agg_group(&rp->buckets, k, n);
        if (!b || agg_acc_add(b, r))
            rp->oom = 1;
    }
    return 0;
}

/* The last level's value of a group key (after the last NUL). */
static const char *last_part(const char *key, size_t klen)
{
    const char *p = key;
    for (size_t i = 0; i < klen; i++)
        if (key[i] == '\0')
            p = key + i + 1;
    return p;
}

static const char *shown(const char *v)
{
    return *v ? v : "(none)";
}

/* Ordered indexes of level l's groups whose key extends parent (plen bytes). */
static size_t children(const agg_groups *g, const size_t *order, const char *parent, size_t plen,
                       bool root, size_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++) {
        size_t gi = order[i];
        if (root || (g->klens[gi] > plen && memcmp(g->keys[gi], parent, plen) == 0 &&
                     g->keys[gi][plen] == '\0'))
            out[n++] = gi;
    }
    return n;
}

struct out {
    struct report *rp;
    size_t *order[MAX_BY];
    size_t *scratch[MAX_BY];
    enum cli_fmt fmt;
    table *t;
    jw *w;
};

static void group_row(struct out *o, int level, agg_acc *a, const char *key, size_t klen)
{
    char b[6][FMT_NUM], cost[128];
    static const unsigned ps[] = { 50, 95 };
    int64_t pv[2];
    if (a->user) { /* computed by ClickHouse (agg_ch.h) */
        pv[0] = ((const agg_ch_pct *)a->user)->p50;
        pv[1] = ((const agg_ch_pct *)a->user)->p95;
    } else {
        agg_percentiles(&a->lat, ps, 2, pv);
    }
    int64_t p50 = pv[0], p95 = pv[1];
    if (o->fmt == CLI_JSON) {
        jw_kstr(o->w, "key", last_part(key, klen));
        jw_kstr(o->w, "by", o->rp->by[level].spec);
        jw_kuint(o->w, "requests", a->requests);
        jw_kint(o->w, "tok_in", a->tok_in);
        jw_kint(o->w, "tok_out", a->tok_out);
        jw_kint(o->w, "tok_cached", a->tok_cached);
        jw_kint(o->w, "tok_reasoning", a->tok_reasoning);
        jw_kint(o->w, "cost_nusd", a->cost_nusd);
        jw_kuint(o->w, "unpriced_requests", a->unpriced);
        jw_key(o->w, "latency_p50_us");
        if (p50 < 0)
            jw_null(o->w);
        else
            jw_int(o->w, p50);
        jw_key(o->w, "latency_p95_us");
        if (p95 < 0)
            jw_null(o->w);
        else
            jw_int(o->w, p95);
        jw_kuint(o->w, "errors", a->errors);
        jw_kdouble(o->w, "error_rate", a->requests ? (double)a->errors / (double)a->requests : 0.0);
        jw_kuint(o->w, "cache_hits", a->cache_hits);
        jw_kint(o->w, "saved_nusd", a->saved_nusd);
        return;
    }
    if (o->fmt == CLI_CSV) {
        char lv[16];
        snprintf(lv, sizeof lv, "%d", level + 1);
        table_cell(o->t, lv);
        /* One column per level: the key's parts, empty below this level. */
        const char *p = key;
        for (int l = 0; l < o->rp->nby; l++) {
            if (l <= level) {
                table_cell(o->t, p);
                p += strlen(p) + 1;
            } else {
                table_cell(o->t, "");
            }
        }
    } else {
        hc_buf name = HC_BUF_INIT;
        for (int i = 0; i < level; i++)
            hc_buf_puts(&name, "  ");
        hc_buf name_safe = HC_BUF_INIT;
        const char *v = shown(last_part(key, klen));
        fmt_term(&name_safe, v, strlen(v), 0);
        hc_buf_append_buf(&name, &name_safe);
        table_cell(o->t, fmt_built(&name));
        hc_buf_free(&name);
        hc_buf_free(&name_safe);
    }
    snprintf(b[0], FMT_NUM, "%" PRIu64, a->requests);
    table_cell2(o->t, fmt_int(b[1], (int64_t)a->requests), b[0]);
    snprintf(b[0], FMT_NUM, "%" PRId64, a->tok_in);
    table_cell2(o->t, fmt_int(b[1], a->tok_in), b[0]);
    snprintf(b[0], FMT_NUM, "%" PRId64, a->tok_out);
    table_cell2(o->t, fmt_int(b[1], a->tok_out), b[0]);
    summary_cost_text(cost, sizeof cost, a->cost_nusd, a->unpriced, a->requests);
    table_cell2(o->t, cost, fmt_usd_exact(b[2], a->cost_nusd));
    if (o->fmt == CLI_CSV) {
        snprintf(b[0], FMT_NUM, "%" PRIu64, a->unpriced);
        table_cell(o->t, b[0]);
    }
    table_cell2(o->t, fmt_dur(b[3], p50), fmt_ms_exact(b[4], p50));
    table_cell2(o->t, fmt_dur(b[3], p95), fmt_ms_exact(b[4], p95));
    snprintf(b[0], FMT_NUM, "%" PRIu64, a->errors);
    if (o->fmt == CLI_CSV)
        table_cell(o->t, b[0]);
    else {
        char pct[FMT_NUM], txt[FMT_NUM * 2];
        snprintf(txt, sizeof txt, "%s (%s)", b[0], fmt_pct(pct, a->errors, a->requests));
        table_cell(o->t, txt);
    }
}

static void emit_level(struct out *o, int level, const char *parent, size_t plen)
{
    struct report *rp = o->rp;
    agg_groups *g = &rp->level[level];
    size_t *kids = o->scratch[level];
    size_t n = children(g, o->order[level], parent, plen, level == 0, kids);
    if (rp->top && n > rp->top)
        n = (size_t)rp->top;
    if (o->fmt == CLI_JSON) {
        jw_key(o->w, "groups");
        jw_arr(o->w);
    }
    for (size_t i = 0; i < n; i++) {
        size_t gi = kids[i];
        if (o->fmt == CLI_JSON)
            jw_obj(o->w);
        group_row(o, level, &g->accs[gi], g->keys[gi], g->klens[gi]);
        if (level + 1 < rp->nby)
            emit_level(o, level + 1, g->keys[gi], g->klens[gi]);
        if (o->fmt == CLI_JSON)
            jw_obj_end(o->w);
    }
    if (o->fmt == CLI_JSON)
        jw_arr_end(o->w);
}

static void emit_trend(struct report *rp, enum cli_fmt fmt, jw *w)
{
    static const table_col cols[] = {
        { "PERIOD", "period", 0 },
        { "START (UTC)", "start", TBL_DROP },
        { "REQUESTS", "requests", TBL_RIGHT },
        { "TOKENS", "tokens", TBL_RIGHT },
        { "COST", "cost_usd", TBL_RIGHT },
        { "ERRORS", "errors", TBL_RIGHT },
    };
    agg_groups *g = &rp->buckets;
    table *t = trend_emit_begin(fmt, w, rp->trend, cols, sizeof cols / sizeof cols[0]);
    /* Every bucket from the first to the last, empty ones included. */
    trend_iter it;
    trend_iter_init(&it, g, rp->trend);
    int64_t s;
    long gi;
    while (trend_next(&it, &s, &gi)) {
        char b1[FMT_NUM], b2[FMT_NUM], b3[FMT_NUM], cost[128];
        agg_acc empty, *a = &empty;
        agg_acc_init(&empty, 0);
        if (gi >= 0)
            a = &g->accs[gi];
        trend_emit_period(fmt, w, t, rp->trend, s);
        if (fmt == CLI_JSON) {
            jw_kuint(w, "requests", a->requests);
            jw_kint(w, "tok_in", a->tok_in);
            jw_kint(w, "tok_out", a->tok_out);
            jw_kint(w, "cost_nusd", a->cost_nusd);
            jw_kuint(w, "unpriced_requests", a->unpriced);
            jw_kuint(w, "errors", a->errors);
            jw_obj_end(w);
            continue;
        }
        snprintf(b1, sizeof b1, "%" PRIu64, a->requests);
        table_cell2(t, fmt_int(b2, (int64_t)a->requests), b1);
        snprintf(b1, sizeof b1, "%" PRId64, a->tok_in + a->tok_out);
        table_cell2(t, fmt_int(b2, a->tok_in + a->tok_out), b1);
        summary_cost_text(cost, sizeof cost, a->cost_nusd, a->unpriced, a->requests);
        table_cell2(t, cost, fmt_usd_exact(b3, a->cost_nusd));
        snprintf(b1, sizeof b1, "%" PRIu64, a->errors);
        table_cell(t, b1);
    }
    trend_emit_end(fmt, w, t);
}

static int own(void *self, int id, const char *arg)
{
    struct report *rp = self;
    if (id == OPT_BY) {
        if (rp->nby == MAX_BY)
            return cli_misuse("--by: at most %d levels", MAX_BY);
        if (parse_dim(arg, &rp->by[rp->nby]))
            return CLI_EXIT_MISUSE;
        rp->nby++;
        return 0;
    }
    if (id == OPT_TREND)
        return trend_parse_opt(arg, &rp->trend);
    if (id == OPT_TOP)
        return cli_parse_u64("--top", arg, &rp->top);
    return 1;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_report(int argc, char **argv)
{
    ana_ctx c = { .cmd = "report" };
    struct report rp;
    memset(&rp, 0, sizeof rp);
    struct out o;
    memset(&o, 0, sizeof o);
    cli_scan sc = { .on_record = on_record, .self = &rp };

    int rc = cli_parse(&c, &cmd, argc, argv, &rp);
    if (rc || c.help)
        goto out;
    if (rp.nby == 0)
        parse_dim("model", &rp.by[rp.nby++]);
    agg_acc_init(&rp.total, AGG_LATENCY | AGG_TTFT);
    for (int l = 0; l < rp.nby; l++)
        agg_groups_init(&rp.level[l], AGG_LATENCY);
    agg_groups_init(&rp.buckets, 0);
    summary_pct pct;
    if (ch_url_is(c.db) && agg_ch_usable(&c.filter)) {
        /* Aggregated by ClickHouse: a few rows per group, not every record. */
        const char *dims[MAX_BY];
        for (int l = 0; l < rp.nby; l++)
            dims[l] = rp.by[l].spec;
        agg_ch_req q = {
            .url = c.db, .f = &c.filter, .dims = dims, .ndims = rp.nby, .trend = rp.trend
        };
        agg_ch_pct cp;
        if ((rc = agg_ch_report(&q, &rp.total, &cp, rp.level, &rp.buckets, &sc.st, sc.path,
                                sizeof sc.path)))
            goto out_agg;
        pct = (summary_pct){ cp.p50, cp.p95, cp.p99, cp.ttft_p50, cp.ttft_p95 };
    } else {
        if ((rc = cli_scan_run(&c, &sc)))
            goto out_agg;
        summary_percentiles(&rp.total, &pct);
    }
    if (rp.oom) {
        rc = cli_misuse("report: out of memory");
        goto out_agg;
    }
    for (int l = 0; l < rp.nby; l++) {
        o.order[l] = malloc((rp.level[l].n + 1) * sizeof(size_t));
        o.scratch[l] = malloc((rp.level[l].n + 1) * sizeof(size_t));
        if (!o.order[l] || !o.scratch[l]) {
            rc = cli_misuse("report: out of memory");
            goto out_agg;
        }
        agg_groups_order(&rp.level[l], o.order[l]);
    }
    o.rp = &rp;
    o.fmt = c.fmt;

    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        o.w = &w;
        jw_obj(&w);
        jw_kstr(&w, "store", sc.path);
        char sel[1024];
        query_filter_describe(&c.filter, true, sel, sizeof sel);
        jw_kstr(&w, "selection", sel); /* for audit --baseline */
        jw_kstr(&w, "run", c.filter.run ? c.filter.run : sc.st.run);
        jw_kuint(&w, "records_scanned", sc.st.scanned);
        jw_kuint(&w, "records_matched", sc.st.matched);
        jw_kuint(&w, "undecodable", sc.st.undecodable);
        jw_key(&w, "summary");
        jw_obj(&w);
        summary_json(&w, &rp.total, &pct);
        jw_obj_end(&w);
        jw_key(&w, "by");
        jw_arr(&w);
        for (int l = 0; l < rp.nby; l++)
            jw_str(&w, rp.by[l].spec);
        jw_arr_end(&w);
        emit_level(&o, 0, "", 0);
        if (rp.trend != TB_NONE)
            emit_trend(&rp, c.fmt, &w);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else if (c.fmt == CLI_CSV) {
        /* CSV is one table: the breakdown (all levels, a "level" column), or
         * the time series when --trend is given. */
        if (rp.trend != TB_NONE) {
            emit_trend(&rp, c.fmt, NULL);
        } else {
            table_col cols[MAX_BY + 10];
            size_t nc = 0;
            cols[nc++] = (table_col){ "LEVEL", "level", 0 };
            for (int l = 0; l < rp.nby; l++)
                cols[nc++] = (table_col){ rp.by[l].spec, rp.by[l].spec, 0 };
            cols[nc++] = (table_col){ "REQUESTS", "requests", 0 };
            cols[nc++] = (table_col){ "IN", "tok_in", 0 };
            cols[nc++] = (table_col){ "OUT", "tok_out", 0 };
            cols[nc++] = (table_col){ "COST", "cost_usd", 0 };
            cols[nc++] = (table_col){ "UNPRICED", "unpriced_requests", 0 };
            cols[nc++] = (table_col){ "P50", "latency_p50_ms", 0 };
            cols[nc++] = (table_col){ "P95", "latency_p95_ms", 0 };
            cols[nc++] = (table_col){ "ERRORS", "errors", 0 };
            o.t = table_new(stdout, CLI_CSV, cols, nc);
            emit_level(&o, 0, "", 0);
            table_end(o.t);
        }
    } else {
        table_text tt;
        FILE *tf = table_text_begin(&tt, stdout, 12);
        fprintf(tf, "hcshim report — %s\n", sc.path);
        if (c.filter.run || sc.st.run[0])
            fprintf(tf, "Run         %s\n", c.filter.run ? c.filter.run : sc.st.run);
        if (!query_filter_empty(&c.filter))
            fprintf(tf, "Matched     %s of %s records\n",
                    fmt_int((char[FMT_NUM]){ 0 }, (int64_t)sc.st.matched),
                    fmt_int((char[FMT_NUM]){ 0 }, (int64_t)sc.st.scanned));
        summary_text(tf, &rp.total, &pct);
        if (sc.st.undecodable)
            fprintf(tf, "Undecodable %" PRIu64 " records skipped\n", sc.st.undecodable);
        table_text_end(&tt);
        if (rp.total.requests) {
            hc_buf title = HC_BUF_INIT;
            for (int l = 0; l < rp.nby; l++)
                hc_buf_printf(&title, "%s%s", l ? " / " : "", rp.by[l].spec);
            table_textf(stdout, 3, "\nBy %s\n", fmt_built(&title));
            table_col cols[] = {
                { title.data, "key", TBL_SHRINK },
                { "REQUESTS", "requests", TBL_RIGHT },
                { "IN", "tok_in", TBL_RIGHT | TBL_DROP },
                { "OUT", "tok_out", TBL_RIGHT | TBL_DROP },
                { "COST", "cost_usd", TBL_RIGHT },
                { "P50", "p50", TBL_RIGHT | TBL_DROP },
                { "P95", "p95", TBL_RIGHT },
                { "ERRORS", "errors", TBL_RIGHT },
            };
            for (char *q = title.data; *q; q++)
                *q = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
            o.t = table_new(stdout, CLI_TEXT, cols, sizeof cols / sizeof cols[0]);
            emit_level(&o, 0, "", 0);
            table_end(o.t);
            hc_buf_free(&title);
            if (rp.trend != TB_NONE)
                emit_trend(&rp, c.fmt, NULL);
        }
    }
    rc = 0;
out_agg:
    for (int l = 0; l < MAX_BY; l++) {
        free(o.order[l]);
        free(o.scratch[l]);
        for (size_t i = 0; i < rp.level[l].n; i++)
            free(rp.level[l].accs[i].user);
        agg_groups_free(&rp.level[l]);
    }
    for (size_t i = 0; i < rp.buckets.n; i++)
        free(rp.buckets.accs[i].user);
    agg_groups_free(&rp.buckets);
    agg_acc_free(&rp.total);
out:
    hc_buf_free(&rp.key);
    query_filter_free(&c.filter);
    return rc;
}
