/* cmd_prices.c — `hc-analyze prices`: the price table (common/pricing.h) and
 * the models seen in the store that it does not price. */
#include "agg.h"
#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "fmt.h"
#include "jsonw.h"
#include "pricing.h"
#include "table.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char usage[] =
    "usage: hc-analyze prices [options]\n"
    "\n"
    "The price table (embedded, plus $HC_PRICES if set), in USD per 1M tokens, and\n"
    "the unpriced models seen in the store with their request and token counts.\n"
    "--provider and --model (glob) narrow both lists; the other filters apply to\n"
    "the store.\n"
    "\n"
    "  --check FILE       validate a price file (exit 0 ok, 2 with the first problem)\n"
    "  --no-store         only the price table\n"
    CLI_HELP_COMMON
    CLI_HELP_FILTERS;

enum { OPT_CHECK = OPT_CMD, OPT_NO_STORE };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS, CLI_FILTER_OPTS,
    { "check", 0, true, OPT_CHECK }, { "no-store", 0, false, OPT_NO_STORE },
    { 0 },
};

/* pico-USD per token is micro-USD per 1M tokens: print as exact decimal dollars. */
static const char *per_m(char out[FMT_NUM], int64_t pico)
{
    if (pico < 0) {
        snprintf(out, FMT_NUM, "-");
        return out;
    }
    int n = snprintf(out, FMT_NUM, "%" PRId64 ".%06" PRId64, pico / 1000000, pico % 1000000);
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
    return out;
}

static bool row_matches(const query_filter *f, const char *provider, const char *model)
{
    if (f->n_providers) {
        int i;
        for (i = 0; i < f->n_providers; i++)
            if (strcasecmp(f->providers[i], provider) == 0)
                break;
        if (i == f->n_providers)
            return false;
    }
    if (f->n_models) {
        int i;
        for (i = 0; i < f->n_models; i++)
            if (fnmatch(f->models[i], model, 0) == 0)
                break;
        if (i == f->n_models)
            return false;
    }
    return true;
}

struct seen {
    agg_groups g;   /* key provider NUL model */
    bool       oom;
};

static int on_record(void *ctx, const hc_record *r)
{
    struct seen *s = ctx;
    if (!(r->cost_flags & HC_COST_UNPRICED))
        return 0;
    hc_buf k = HC_BUF_INIT;
    hc_buf_puts(&k, r->provider);
    hc_buf_append(&k, "", 1);
    hc_buf_puts(&k, query_model_of(r));
    agg_acc *a = k.data ? agg_group(&s->g, k.data, k.len) : NULL;
    if (!a)
        s->oom = true;
    else
        agg_acc_add(a, r);
    hc_buf_free(&k);
    return 0;
}

int cmd_prices(int argc, char **argv)
{
    ana_ctx c = { .cmd = "prices" };
    cli_parser p;
    const char *arg, *check = NULL;
    bool no_store = false;
    int id, rc = CLI_EXIT_MISUSE;
    hc_store *s = NULL;
    struct seen seen = { 0 };
    size_t *order = NULL;
    agg_groups_init(&seen.g, 0);

    cli_init(&p, argc, argv, c.cmd);
    while ((id = cli_next(&p, opts, &arg)) != CLI_END) {
        if (id == CLI_ERR)
            goto out;
        int h = cli_common(&c, id, arg);
        if (h < 0)
            goto out;
        if (h)
            continue;
        if (id == OPT_CHECK)
            check = arg;
        else if (id == OPT_NO_STORE)
            no_store = true;
        else if (id == CLI_POS) {
            cli_misuse("prices: unexpected argument '%s'", arg);
            goto out;
        }
    }
    if (c.help) {
        fputs(usage, stdout);
        rc = 0;
        goto out;
    }
    char err[512] = "";
    if (check) {
        if (hc_pricing_check_file(check, err, sizeof err) != 0) {
            rc = cli_misuse("%s", err[0] ? err : check);
            goto out;
        }
        printf("%s: ok\n", check);
        rc = 0;
        goto out;
    }
    const char *user_file = getenv("HC_PRICES");
    if (hc_pricing_init(user_file && *user_file ? user_file : NULL, err, sizeof err) != 0 && err[0])
        cli_warn("HC_PRICES: %s (the embedded table is used)", err);
    /* The store part is optional unless --db was given explicitly. */
    query_stats st = { 0 };
    if (!no_store) {
        char path[4096], serr[4352];
        if (c.db) {
            if ((rc = cli_open_store(&c, &s)))
                goto out;
        } else if (cli_store_path(&c, path, sizeof path) == 0 &&
                   hc_store_open(path, HC_STORE_RDONLY, &s, serr, sizeof serr) == 0) {
            /* Default store: re-open through cli so its table handles are valid. */
            hc_store_close(s);
            s = NULL;
            ana_ctx dc = c;
            dc.db = path;
            if ((rc = cli_open_store(&dc, &s)))
                goto out;
        }
        if (s) {
            MDB_txn *txn;
            if (hc_store_txn_begin(s, false, &txn)) {
                rc = cli_misuse("%s: cannot start a read transaction", hc_store_path(s));
                goto out;
            }
            int qrc = query_scan(txn, cli_dbi(s, HC_T_RECORDS), &c.filter, false, on_record, &seen, &st);
            hc_store_txn_abort(s, txn);
            if (qrc || seen.oom) {
                rc = cli_misuse("%s: %s", hc_store_path(s), qrc ? "reading records failed" : "out of memory");
                goto out;
            }
        }
    }
    order = malloc((seen.g.n + 1) * sizeof *order);
    if (!order) {
        rc = cli_misuse("prices: out of memory");
        goto out;
    }
    /* Most requests first. */
    agg_groups_order(&seen.g, order);

    size_t nrows = hc_pricing_count();
    char b[8][FMT_NUM];
    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_key(&w, "prices");
        jw_arr(&w);
        for (size_t i = 0; i < nrows; i++) {
            const hc_price *pr = hc_pricing_at(i);
            if (!pr || !row_matches(&c.filter, pr->provider, pr->model))
                continue;
            jw_obj(&w);
            jw_kstr(&w, "provider", pr->provider);
            jw_kstr(&w, "model", pr->model);
            jw_kint(&w, "in_pusd", pr->in);
            jw_kint(&w, "out_pusd", pr->out);
            jw_kint(&w, "cached_pusd", pr->cached);
            jw_kint(&w, "cw5m_pusd", pr->cw5m);
            jw_kint(&w, "cw1h_pusd", pr->cw1h);
            jw_kint(&w, "reasoning_pusd", pr->reasoning);
            jw_kint(&w, "per_request_nusd", pr->per_request_nusd);
            jw_kstr(&w, "source", pr->source);
            jw_kstr(&w, "date", pr->date);
            jw_kbool(&w, "user", pr->user != 0);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_key(&w, "unpriced");
        jw_arr(&w);
        for (size_t i = 0; i < seen.g.n; i++) {
            const agg_acc *a = &seen.g.accs[order[i]];
            const char *prov = seen.g.keys[order[i]], *model = prov + strlen(prov) + 1;
            if (!row_matches(&c.filter, prov, model))
                continue;
            jw_obj(&w);
            jw_kstr(&w, "provider", prov);
            jw_kstr(&w, "model", model);
            jw_kuint(&w, "requests", a->requests);
            jw_kint(&w, "tok_in", a->tok_in);
            jw_kint(&w, "tok_out", a->tok_out);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else {
        static const table_col cols[] = {
            { "PROVIDER", "provider", 0 }, { "MODEL", "model", TBL_SHRINK },
            { "IN $/1M", "in_usd_per_1m", TBL_RIGHT }, { "OUT", "out_usd_per_1m", TBL_RIGHT },
            { "CACHED", "cached_usd_per_1m", TBL_RIGHT }, { "CW 5M", "cw5m_usd_per_1m", TBL_RIGHT },
            { "CW 1H", "cw1h_usd_per_1m", TBL_RIGHT }, { "REASONING", "reasoning_usd_per_1m", TBL_RIGHT | TBL_DROP },
            { "SOURCE", "source", TBL_SHRINK | TBL_DROP }, { "DATE", "date", TBL_DROP },
        };
        static const table_col ucols[] = {
            { "PROVIDER", "provider", 0 }, { "UNPRICED MODEL", "model", TBL_SHRINK },
            { "REQUESTS", "requests", TBL_RIGHT }, { "IN", "tok_in", TBL_RIGHT }, { "OUT", "tok_out", TBL_RIGHT },
        };
        bool csv = c.fmt == CLI_CSV;
        /* CSV is one table: the unpriced models when a store was read, else
         * (--no-store, or no default store) the price table. */
        table *t = NULL;
        if (!csv || !s) {
            t = table_new(stdout, c.fmt, cols, sizeof cols / sizeof cols[0]);
            for (size_t i = 0; i < nrows; i++) {
                const hc_price *pr = hc_pricing_at(i);
                if (!pr || !row_matches(&c.filter, pr->provider, pr->model))
                    continue;
                table_cell(t, pr->provider);
                table_cell(t, pr->model);
                table_cell(t, per_m(b[0], pr->in));
                table_cell(t, per_m(b[1], pr->out));
                table_cell(t, per_m(b[2], pr->cached));
                table_cell(t, per_m(b[3], pr->cw5m));
                table_cell(t, per_m(b[4], pr->cw1h));
                table_cell(t, per_m(b[5], pr->reasoning));
                table_cell(t, pr->source);
                table_cell(t, pr->date);
            }
            table_end(t);
        }
        if (s) {
            if (!csv)
                table_textf(stdout, 2, "\nUnpriced models seen in %s\n", hc_store_path(s));
            t = table_new(stdout, c.fmt, ucols, sizeof ucols / sizeof ucols[0]);
            for (size_t i = 0; i < seen.g.n; i++) {
                const agg_acc *a = &seen.g.accs[order[i]];
                const char *prov = seen.g.keys[order[i]], *model = prov + strlen(prov) + 1;
                if (!row_matches(&c.filter, prov, model))
                    continue;
                table_cell(t, prov);
                table_cell(t, model);
                snprintf(b[0], FMT_NUM, "%" PRIu64, a->requests);
                table_cell2(t, fmt_int(b[1], (int64_t)a->requests), b[0]);
                snprintf(b[0], FMT_NUM, "%" PRId64, a->tok_in);
                table_cell2(t, fmt_int(b[1], a->tok_in), b[0]);
                snprintf(b[0], FMT_NUM, "%" PRId64, a->tok_out);
                table_cell2(t, fmt_int(b[1], a->tok_out), b[0]);
            }
            table_end(t);
            if (!csv && seen.g.n == 0)
                table_textf(stdout, 2, "(none)\n");
        }
    }
    cli_report_undecodable(&st);
    rc = 0;
out:
    free(order);
    agg_groups_free(&seen.g);
    cli_close_store(s);
    query_filter_free(&c.filter);
    return rc;
}
