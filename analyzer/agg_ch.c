/* agg_ch.c — report's aggregation in ClickHouse (see agg_ch.h). */
#include "agg_ch.h"
#include "chdest.h"
#include "cli.h"
#include "err.h"
#include "reprice.h"
#include "source_ch.h"
#include "timebucket.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* L: the latency agg_acc_add() counts (negative as 0). The columns, in the
 * order row_acc() reads them; each is what agg_acc_add() sums (agg.c). */
#define L "if(latency_us > 0, latency_us, 0)"
/* Percentiles: each group's values sorted once (the aliases hc_sl, hc_st),
 * then the element of rank ceil(p*n/100), -1 when there is none. */
#define RANK(p, n) "toUInt64(greatest(1, intDiv(" #p " * " n " + 99, 100)))"
static const char aggs[] =
    "count() AS hc_n, countIf(status >= 400 OR status <= 0), countIf(bitAnd(cost_flags, 2) != 0),"
    " countIf(bitAnd(cost_flags, 8) != 0 AND bitAnd(cost_flags, 2) = 0 AND status >= 200 AND "
    "status < 300"
    " AND bitAnd(flags, 8194) = 0),"
    " countIf(bitAnd(cost_flags, 4) != 0), countIf(bitAnd(flags, 2) != 0), countIf(retries > 0),"
    " sumIf(retries, retries > 0), countIf(fallback_idx >= 0),"
    " countIf(bitAnd(flags, 128) = 0 AND (bitAnd(flags, 2048) != 0 OR status = 429)),"
    " countIf(bitAnd(flags, 128) != 0 AND substring(error, 1, 10) = 'rate limit'),"
    " countIf(bitAnd(flags, 128) != 0 AND substring(error, 1, 10) != 'rate limit'),"
    " countIf(bitAnd(flags, 1) != 0),"
    " sum(tok_in), sum(tok_out), sum(tok_cached), sum(tok_reasoning), sum(tok_cw5m), sum(tok_cw1h),"
    " sum(cost_nusd), sum(saved_nusd), sum(" L "), min(start_us), max(start_us + " L
    "), max(start_us),"
    " if(hc_n = 0, -1, arrayElement(arraySort(groupArray(" L ")) AS hc_sl, " RANK(
        50,
        "hc_n") ")),"
                " if(hc_n = 0, -1, arrayElement(hc_sl, " RANK(
                    95,
                    "hc_n") ")),"
                            " if(hc_n = 0, -1, arrayElement(hc_sl, " RANK(
                                99,
                                "hc_n") ")),"
                                        " if((countIf(ttft_us >= 0) AS hc_tn) = 0, -1,"
                                        " arrayElement(arraySort(groupArrayIf(ttft_us, ttft_us >= "
                                        "0)) AS hc_st, " RANK(
                                            50,
                                            "hc_tn") ")),"
                                                     " if(hc_tn = 0, -1, arrayElement(hc_st, " RANK(
                                                         95, "hc_tn") "))";
enum { NAGG = 30 };

bool agg_ch_usable(const query_filter *f)
{
    hc_buf w = { 0 };
    bool exact = false;
    int rc = source_ch_where(f, "", &w, &exact);
    hc_buf_free(&w);
    return rc == 0 && exact && !reprice_on_read;
}

/* The SQL of one --by dimension's value. */
static int dim_sql(hc_buf *o, const char *spec)
{
    static const char *const plain[][2] = {
        { "model", "if(model_req != '', model_req, model_resp)" },
        { "provider", "provider" },
        { "user", "user" },
        { "session", "session_id" },
        { "program", "program" },
        { "status", "toString(status)" },
        { "api", "api" },
        { "host", "host" },
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(spec, plain[i][0]) == 0)
            return hc_buf_printf(o, "hex(%s)", plain[i][1]);
    /* "test" is the property the pytest test is recorded under (report's --by test). */
    const char *k = strcmp(spec, "test") == 0 ? "test"
                    : strchr(spec, ':')       ? strchr(spec, ':') + 1
                                              : "";
    int rc = hc_buf_puts(o, "hex(if(indexOf(props.name, unhex('");
    for (const unsigned char *p = (const unsigned char *)k; *p && !rc; p++)
        rc = hc_buf_printf(o, "%02X", *p);
    if (!rc)
        rc = hc_buf_puts(o, "')) > 0, props.value[indexOf(props.name, unhex('");
    for (const unsigned char *p = (const unsigned char *)k; *p && !rc; p++)
        rc = hc_buf_printf(o, "%02X", *p);
    return rc ? rc : hc_buf_puts(o, "'))], ''))");
}

/* The SQL of a --trend bucket's start in µs (tb_start() in SQL). */
static const char *trend_sql(int unit)
{
#define FDIV(x, d) "intDiv(" x " - if(" x " < 0, " d " - 1, 0), " d ")"
#define SECS       FDIV("start_us", "1000000")
#define DAYS       FDIV(SECS, "86400")
    switch (unit) {
    case TB_HOUR: return "toString(" FDIV(SECS, "3600") " * 3600000000)";
    case TB_DAY: return "toString(" DAYS " * 86400000000)";
    case TB_WEEK: return "toString((" DAYS " - ((" DAYS " + 3) % 7 + 7) % 7) * 86400000000)";
    case TB_MONTH:
        return "toString(toInt64(toStartOfMonth(toDate(toUInt16(" DAYS ")))) * 86400000000)";
    default: return NULL;
    }
}

static int unhex_into(hc_buf *o, const char *h, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i + 1 < n && !rc; i += 2) {
        char b[3] = { h[i], h[i + 1], 0 };
        char c = (char)strtol(b, NULL, 16);
        rc = hc_buf_append(o, &c, 1);
    }
    return rc;
}

/* The aggregate columns c[0..NAGG) into a (and its percentiles into p). */
static void row_acc(char **c, agg_acc *a, agg_ch_pct *p)
{
#define U(i) strtoull(c[i], NULL, 10)
#define I(i) strtoll(c[i], NULL, 10)
    a->requests = U(0), a->errors = U(1), a->unpriced = U(2), a->no_usage = U(3),
    a->estimated = U(4);
    a->cache_hits = U(5), a->retried = U(6), a->retries = U(7), a->fallbacks = U(8),
    a->rate_limited = U(9);
    a->ratelimit_blocked = U(10), a->budget_blocked = U(11), a->streamed = U(12);
    a->blocked = a->ratelimit_blocked + a->budget_blocked;
    a->tok_in = I(13), a->tok_out = I(14), a->tok_cached = I(15), a->tok_reasoning = I(16);
    a->tok_cw5m = I(17), a->tok_cw1h = I(18), a->cost_nusd = I(19), a->saved_nusd = I(20);
    a->latency_sum_us = I(21);
    if (a->requests)
        a->first_us = I(22), a->last_us = I(23), a->last_start_us = I(24);
    p->p50 = I(25), p->p95 = I(26), p->p99 = I(27), p->ttft_p50 = I(28), p->ttft_p95 = I(29);
#undef U
#undef I
}

/* One GROUP BY query: nkeys key columns (hex, joined by NUL into a group
 * key), then the aggregates. g NULL: the total (one row) into total/pct.
 * total non-NULL with g: also the total, WITH TOTALS (one scan for both;
 * ClickHouse writes it after an empty line). */
static int one_query(const ch_dest *d, const char *where, const char *const *keys, int nkeys,
                     bool hexkeys, agg_groups *g, agg_acc *total, agg_ch_pct *pct, char *err,
                     size_t errlen)
{
    hc_buf sql = { 0 }, ans = { 0 }, key = { 0 };
    int rc = hc_buf_puts(&sql, "SELECT ");
    for (int i = 0; i < nkeys && !rc; i++)
        rc = hc_buf_printf(&sql, "%s AS k%d, ", keys[i], i);
    if (!rc)
        rc = hc_buf_printf(&sql, "%s FROM %s.hc_records FINAL WHERE %s", aggs, d->db, where);
    for (int i = 0; i < nkeys && !rc; i++)
        rc = hc_buf_printf(&sql, "%sk%d", i ? ", " : " GROUP BY ", i);
    if (!rc)
        rc = hc_buf_puts(&sql,
                         g && total ? " WITH TOTALS FORMAT TabSeparated" : " FORMAT TabSeparated");
    if (!rc)
        rc = ch_exec(d, NULL, sql.data, sql.len, 0, &ans, err, errlen);
    bool totals = !g;
    char *next = !rc && ans.len ? ans.data : NULL;
    for (char *line; (line = strsep(&next, "\n")) != NULL && !rc;) {
        if (!*line) {
            totals = true; /* WITH TOTALS: the total's row follows */
            continue;
        }
        char *c[NAGG + 8];
        int n = 0;
        for (char *p = line, *t; n < nkeys + NAGG; p = t + 1) {
            c[n++] = p;
            if (!(t = strchr(p, '\t')))
                break;
            *t = '\0';
        }
        if (n != nkeys + NAGG) {
            rc = HC_EPARSE;
            snprintf(err, errlen, "unexpected answer (%d columns)", n);
            break;
        }
        agg_ch_pct rowp;
        if (totals) {
            row_acc(c + (g ? nkeys : 0), total, pct);
            continue;
        }
        hc_buf_reset(&key);
        for (int i = 0; i < nkeys && !rc; i++) {
            if (i)
                rc = hc_buf_append(&key, "", 1);
            if (!rc)
                rc = hexkeys ? unhex_into(&key, c[i], strlen(c[i])) : hc_buf_puts(&key, c[i]);
        }
        agg_acc *a = rc ? NULL : agg_group(g, key.data ? key.data : "", key.len);
        agg_ch_pct *keep = a ? malloc(sizeof *keep) : NULL;
        if (!keep) {
            rc = HC_ENOMEM;
            break;
        }
        row_acc(c + nkeys, a, &rowp);
        *keep = rowp;
        free(a->user);
        a->user = keep;
    }
    hc_buf_free(&sql), hc_buf_free(&ans), hc_buf_free(&key);
    return rc;
}

static int run_all(const agg_ch_req *q, const ch_dest *d, agg_acc *total, agg_ch_pct *pct,
                   agg_groups *levels, agg_groups *buckets, query_stats *st, char *err,
                   size_t errlen)
{
    hc_buf where = { 0 }, dims[8] = { { 0 } };
    const char *keys[8];
    int rc = 0;
    if (q->f && q->f->run_last) {
        rc = source_ch_last_run(d, st->run, sizeof st->run, err, errlen);
        st->run_none = !st->run[0];
    }
    if (!rc)
        rc = source_ch_where(q->f, st->run, &where, NULL);
    if (!rc && q->ndims == 0)
        rc = one_query(d, where.data, NULL, 0, false, NULL, total, pct, err, errlen);
    for (int l = 0; l < q->ndims && l < 8 && !rc; l++) {
        if ((rc = dim_sql(&dims[l], q->dims[l])) == 0) {
            keys[l] = dims[l].data;
            rc = one_query(d, where.data, keys, l + 1, true, &levels[l], l ? NULL : total,
                           l ? NULL : pct, err, errlen);
        }
    }
    st->matched = total->requests;
    /* Records scanned: all on the server (one more query only when filtered). */
    if (!rc && strcmp(where.data, "1") != 0)
        rc = source_ch_count(d, &st->scanned, err, errlen);
    else
        st->scanned = st->matched;
    const char *tsql = trend_sql(q->trend);
    if (!rc && tsql)
        rc = one_query(d, where.data, &tsql, 1, false, buckets, NULL, NULL, err, errlen);
    hc_buf_free(&where);
    for (int l = 0; l < 8; l++)
        hc_buf_free(&dims[l]);
    return rc;
}

int agg_ch_report(const agg_ch_req *q, agg_acc *total, agg_ch_pct *pct, agg_groups *levels,
                  agg_groups *buckets, query_stats *st, char *label, size_t lsize)
{
    ch_dest d = { .timeout_ms = 600000 };
    memset(st, 0, sizeof *st);
    *pct = (agg_ch_pct){ -1, -1, -1, -1, -1 };
    if (ch_dest_parse(q->url, "--db", &d))
        return CLI_EXIT_MISUSE;
    snprintf(label, lsize, "%s", d.name);
    char err[512] = "";
    int rc = run_all(q, &d, total, pct, levels, buckets, st, err, sizeof err);
    if (rc)
        return cli_misuse("--db %s: %s", d.name, err[0] ? err : hc_strerror(rc));
    return 0;
}
