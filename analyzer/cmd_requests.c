/* cmd_requests.c — `hc-analyze requests`: one line per exchange, newest first. */
#include "agg.h"
#include "cli.h"
#include "cmds.h"
#include "fmt.h"
#include "jsonw.h"
#include "recjson.h"
#include "table.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: hc-analyze requests [options]\n"
    "\n"
    "One line per exchange, newest first.\n"
    "\n"
    "  -n, --limit N      at most N lines (default 50; 0 = all)\n" CLI_HELP_COMMON CLI_HELP_FILTERS
    "\n"
    "FLAGS column: S streamed, C cache hit, Y replayed from a cassette, R<n> retried\n"
    "n times, F<i> answered by fallback i, L provider 429, P rate-limit block,\n"
    "B budget block (never sent).\n"
    "COST of a cache hit: \"saved $X\", what it saved (the hit itself cost $0;\n"
    "--csv and --json give cost 0 and saved_nusd).\n";

enum { OPT_LIMIT = OPT_CMD };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    { "limit", 'n', true, OPT_LIMIT },
    { 0 },
};

static const table_col cols[] = {
    { "TIME (UTC)", "time", 0 },
    { "ID", "id", 0 },
    { "PROVIDER", "provider", TBL_SHRINK | TBL_DROP },
    { "MODEL", "model", TBL_SHRINK },
    { "STATUS", "status", TBL_RIGHT },
    { "IN", "tok_in", TBL_RIGHT },
    { "OUT", "tok_out", TBL_RIGHT },
    { "COST", "cost_usd", TBL_RIGHT },
    { "LATENCY", "latency_ms", TBL_RIGHT },
    { "FLAGS", "flags", TBL_DROP },
    { "USER", "user", TBL_SHRINK | TBL_DROP },
    { "PROPERTIES", "properties", TBL_SHRINK | TBL_DROP },
};

struct ctx {
    ana_ctx *c;
    unsigned long long limit, shown;
    table *t;
    jw w;
    hc_buf tmp;
};

static int one(void *vctx, const hc_record *r)
{
    struct ctx *x = vctx;
    if (x->c->fmt == CLI_JSON) {
        jw_obj(&x->w);
        recjson_fields(&x->w, r);
        jw_obj_end(&x->w);
    } else {
        char t[40], id[HC_UUID_STRLEN + 1], n1[FMT_NUM], n2[FMT_NUM], cost[FMT_NUM], lat[FMT_NUM],
            fl[64];
        hc_uuid_format(r->id, id);
        bool csv = x->c->fmt == CLI_CSV;
        table_cell2(x->t, fmt_time(t, r->start_us), fmt_time_iso(t, r->start_us));
        if (csv)
            table_cell(x->t, id);
        else {
            table_cell(x->t, id + HC_UUID_STRLEN - 8); /* the random end: the start is the time */
        }
        table_cell(x->t, r->provider);
        table_cell(x->t, query_model_of(r));
        char st[16];
        snprintf(st, sizeof st, "%d", r->status);
        table_cell2(x->t, r->status ? st : "ERR", st);
        snprintf(n1, sizeof n1, "%lld", (long long)r->tok_in);
        snprintf(n2, sizeof n2, "%lld", (long long)r->tok_out);
        table_cell(x->t, n1);
        table_cell(x->t, n2);
        if (r->cost_flags & HC_COST_UNPRICED)
            table_cell2(x->t, "unpriced", "");
        else if ((r->cost_flags & HC_COST_NO_USAGE) && r->status >= 200 && r->status < 300 &&
                 !(r->flags & HC_REC_CACHE_HIT))
            table_cell2(x->t, "no usage", ""); /* an answer whose cost is unknown is not $0 */
        else if ((r->flags & HC_REC_CACHE_HIT) && r->saved_nusd > 0 && r->cost_nusd == 0) {
            /* A cache hit cost nothing; what it saved is the news ("$0" read as a bug). */
            char exact[FMT_NUM], saved[FMT_NUM + 8];
            snprintf(saved, sizeof saved, "saved %s", fmt_usd(cost, r->saved_nusd));
            table_cell2(x->t, saved, fmt_usd_exact(exact, r->cost_nusd));
        } else {
            char exact[FMT_NUM];
            table_cell2(x->t, fmt_usd(cost, r->cost_nusd), fmt_usd_exact(exact, r->cost_nusd));
        }
        char lms[FMT_NUM];
        table_cell2(x->t, fmt_dur(lat, r->latency_us), fmt_ms_exact(lms, r->latency_us));
        agg_flags_text(r, fl, sizeof fl);
        table_cell(x->t, fl);
        table_cell(x->t, r->user);
        hc_buf_reset(&x->tmp);
        uint32_t pos = 0;
        const char *k, *v;
        while (hc_pairs_next(&r->props, &pos, &k, &v))
            hc_buf_printf(&x->tmp, "%s%s=%s", x->tmp.len ? " " : "", k, v);
        table_cell(x->t, fmt_built(&x->tmp));
    }
    x->shown++;
    return x->limit && x->shown >= x->limit;
}

static int own(void *self, int id, const char *arg)
{
    struct ctx *x = self;
    if (id == OPT_LIMIT)
        return cli_parse_u64("--limit", arg, &x->limit);
    return 1;
}

static const cli_cmd cmd = { usage, opts, own };

static int begin(void *self, cli_scan *sc)
{
    struct ctx *x = self;
    if (x->c->fmt == CLI_JSON) {
        jw_init(&x->w, stdout, false);
        jw_obj(&x->w);
        jw_key(&x->w, "requests");
        jw_arr(&x->w);
    } else {
        x->t = table_new(stdout, x->c->fmt, cols, sizeof cols / sizeof cols[0]);
    }
    return 0;
}

int cmd_requests(int argc, char **argv)
{
    ana_ctx c = { .cmd = "requests" };
    struct ctx x = { .c = &c, .limit = 50, .tmp = HC_BUF_INIT };
    cli_scan sc = { .on_record = one, .self = &x, .newest_first = true, .begin = begin };
    int rc = cli_parse(&c, &cmd, argc, argv, &x);
    if (rc || c.help)
        goto out;
    rc = cli_scan_run(&c, &sc);
    if (!sc.begun)
        goto out;
    if (c.fmt == CLI_JSON) {
        jw_arr_end(&x.w);
        jw_kuint(&x.w, "count", x.shown);
        jw_kuint(&x.w, "undecodable", sc.st.undecodable);
        jw_obj_end(&x.w);
        jw_end_doc(&x.w);
    } else {
        table_end(x.t);
        if (c.fmt == CLI_TEXT && x.shown == 0)
            table_textf(stdout, 2, "(no matching records)\n");
    }
out:
    hc_buf_free(&x.tmp);
    query_filter_free(&c.filter);
    return rc;
}
