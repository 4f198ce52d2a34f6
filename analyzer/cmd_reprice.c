/* cmd_reprice.c — `hc-analyze reprice`: stored costs recomputed from the stored
 * tokens with the current price table (embedded + user file, or --prices FILE).
 *
 * DESIGN. A record keeps its tokens by class, so a cost recorded with a wrong
 * or missing price can be corrected after the fact (reprice.h has the rule).
 * The records the filters select are read, repriced and, unless --dry-run,
 * written back in batches of REPRICE_BATCH per write transaction, so the
 * recorder of a running app never waits long for the write lock. Only
 * cost_nusd / saved_nusd and cost_flags change; nothing else in a record is
 * touched: reprice_patch() rewrites those fields in the stored bytes and
 * copies the rest, including fields of a newer hcshim. The answer, per (provider,
 * model): requests, how many changed, the cost before and after.
 */
#include "agg.h"
#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "fmt.h"
#include "jsonw.h"
#include "pricing.h"
#include "reprice.h"
#include "table.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPRICE_BATCH 512

static const char usage[] =
    "usage: hc-analyze reprice [options]\n"
    "\n"
    "Recompute the cost of the selected records from their stored tokens with the\n"
    "current price table (embedded, plus $HC_PRICES or --prices FILE) and write it\n"
    "back. Prints, per provider and model, the requests, how many changed, and the\n"
    "cost before and after. Records without usage are left as they are.\n"
    "\n"
    "  --dry-run          say what would change, write nothing\n" CLI_HELP_COMMON CLI_HELP_FILTERS;

enum { OPT_DRY = OPT_CMD };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    { "dry-run", 'n', false, OPT_DRY },
    { 0 },
};

typedef struct model_tot {
    char *key; /* provider NUL model */
    size_t klen;
    uint64_t requests, changed, now_priced, now_unpriced;
    int64_t before, after; /* cost_nusd + saved_nusd of cache hits, nano-USD */
} model_tot;

typedef struct rp {
    model_tot *m;
    size_t n, cap;
    uint64_t scanned, selected, changed;
    bool oom;
} rp;

static model_tot *tot_for(rp *x, const hc_record *r)
{
    const char *model = r->model_resp[0] ? r->model_resp : r->model_req;
    size_t pl = strlen(r->provider), ml = strlen(model), kl = pl + 1 + ml;
    for (size_t i = 0; i < x->n; i++)
        if (x->m[i].klen == kl && !memcmp(x->m[i].key, r->provider, pl) &&
            !strcmp(x->m[i].key + pl + 1, model))
            return &x->m[i];
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 32;
        model_tot *nm = realloc(x->m, nc * sizeof *nm);
        if (!nm)
            return NULL;
        x->m = nm;
        x->cap = nc;
    }
    model_tot *t = &x->m[x->n];
    memset(t, 0, sizeof *t);
    if (!(t->key = malloc(kl + 1)))
        return NULL;
    memcpy(t->key, r->provider, pl + 1);
    memcpy(t->key + pl + 1, model, ml + 1);
    t->klen = kl;
    x->n++;
    return t;
}

static int64_t cost_of(const hc_record *r)
{
    return (r->flags & (HC_REC_CACHE_HIT | HC_REC_REPLAYED)) ? r->saved_nusd : r->cost_nusd;
}

/* One batch from key `from`; *done at the end of the table. */
static int batch(hc_store *s, uint8_t from[HC_UUID_LEN], const query_filter *f, bool dry, rp *x,
                 bool *done)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = hc_store_txn_begin(s, !dry, &txn);
    if (rc)
        return rc;
    if (mdb_cursor_open(txn, hc_store_dbi(s, HC_T_RECORDS), &cur)) {
        hc_store_txn_abort(s, txn);
        return HC_ESTORE;
    }
    MDB_val k = { HC_UUID_LEN, from }, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    size_t nb = 0;
    hc_buf enc = HC_BUF_INIT;
    *done = true;
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (nb == REPRICE_BATCH) {
            memcpy(from, k.mv_data, HC_UUID_LEN);
            *done = false;
            break;
        }
        nb++;
        x->scanned++;
        hc_record r;
        if (k.mv_size != HC_UUID_LEN || hc_record_decode(v.mv_data, v.mv_size, &r) != 0)
            continue;
        memcpy(r.id, k.mv_data, HC_UUID_LEN);
        if (!query_match(f, &r))
            continue;
        x->selected++;
        model_tot *t = tot_for(x, &r);
        if (!t) {
            x->oom = true;
            break;
        }
        t->requests++;
        int64_t before = cost_of(&r);
        uint32_t fl_before = r.cost_flags;
        if (!reprice_record(&r)) {
            t->before += before;
            t->after += before;
            continue;
        }
        t->before += before;
        t->after += cost_of(&r);
        t->changed++;
        x->changed++;
        if ((fl_before & HC_COST_UNPRICED) && (r.cost_flags & HC_COST_PRICED))
            t->now_priced++;
        if ((fl_before & HC_COST_PRICED) && (r.cost_flags & HC_COST_UNPRICED))
            t->now_unpriced++;
        if (dry)
            continue;
        enc.len = 0;
        int erc = reprice_patch(v.mv_data, v.mv_size, &r, &enc);
        if (erc) {
            x->oom = erc == HC_ENOMEM;
            rc = erc == HC_ENOMEM ? 0 : HC_ESTORE;
            break;
        }
        /* The key must not point into the page the put rewrites. */
        uint8_t kb[HC_UUID_LEN];
        memcpy(kb, k.mv_data, HC_UUID_LEN);
        MDB_val kc = { HC_UUID_LEN, kb }, nv = { enc.len, enc.data };
        int prc = mdb_cursor_put(cur, &kc, &nv, MDB_CURRENT);
        if (prc) {
            rc = prc == MDB_MAP_FULL ? HC_EFULL : HC_ESTORE;
            break;
        }
    }
    hc_buf_free(&enc);
    mdb_cursor_close(cur);
    if (!rc && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = HC_ESTORE;
    if (rc || x->oom || dry) {
        hc_store_txn_abort(s, txn);
        return rc ? rc : x->oom ? HC_ENOMEM : 0;
    }
    return hc_store_txn_commit(s, txn);
}

static int cmp_tot(const void *a, const void *b)
{
    const model_tot *x = a, *y = b;
    int64_t dx = x->after - x->before, dy = y->after - y->before;
    dx = dx < 0 ? -dx : dx;
    dy = dy < 0 ? -dy : dy;
    if (dx != dy)
        return dx > dy ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int own(void *self, int id, const char *arg)
{
    if (id != OPT_DRY)
        return 1;
    *(bool *)self = true;
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_reprice(int argc, char **argv)
{
    ana_ctx c = { .cmd = "reprice" };
    bool dry = false;
    int rc;
    hc_store *s = NULL;
    rp x = { 0 };
    char path[4096];

    rc = cli_parse(&c, &cmd, argc, argv, &dry);
    if (rc || c.help)
        goto out;
    rc = CLI_EXIT_MISUSE;
    /* --prices FILE already loaded the table; else embedded + the user file. */
    if (!reprice_on_read) {
        char err[512] = "", upath[4096];
        const char *uf = hc_pricing_user_file(upath, sizeof upath);
        if (hc_pricing_init(uf, err, sizeof err) != 0 && err[0]) {
            rc = cli_misuse("%s: %s (nothing repriced)", uf ? uf : "prices", err);
            goto out;
        }
    }
    reprice_on_read = false; /* this command reads the stored costs itself */
    if ((rc = cli_open_store_for_delete(&c, dry, path, sizeof path, &s)))
        goto out;
    uint8_t from[HC_UUID_LEN] = { 0 };
    for (bool done = false; !done;) {
        int brc = batch(s, from, &c.filter, dry, &x, &done);
        if (brc) {
            rc = cli_misuse("%s: %s (batches before this one were written)", path,
                            brc == HC_ENOMEM  ? "out of memory"
                            : brc == HC_EFULL ? "the store is full"
                                              : "write failed");
            goto out;
        }
    }
    qsort(x.m, x.n, sizeof *x.m, cmp_tot);
    int64_t tb = 0, ta = 0;
    for (size_t i = 0; i < x.n; i++)
        tb += x.m[i].before, ta += x.m[i].after;
    char b[6][FMT_NUM];
    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kbool(&w, "dry_run", dry);
        jw_kuint(&w, "scanned", x.scanned);
        jw_kuint(&w, "selected", x.selected);
        jw_kuint(&w, "changed", x.changed);
        jw_kint(&w, "before_nusd", tb);
        jw_kint(&w, "after_nusd", ta);
        jw_key(&w, "models");
        jw_arr(&w);
        for (size_t i = 0; i < x.n; i++) {
            const model_tot *t = &x.m[i];
            jw_obj(&w);
            jw_kstr(&w, "provider", t->key);
            jw_kstr(&w, "model", t->key + strlen(t->key) + 1);
            jw_kuint(&w, "requests", t->requests);
            jw_kuint(&w, "changed", t->changed);
            jw_kuint(&w, "now_priced", t->now_priced);
            jw_kuint(&w, "now_unpriced", t->now_unpriced);
            jw_kint(&w, "before_nusd", t->before);
            jw_kint(&w, "after_nusd", t->after);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else {
        static const table_col cols[] = {
            { "PROVIDER", "provider", 0 },
            { "MODEL", "model", TBL_SHRINK },
            { "REQUESTS", "requests", TBL_RIGHT },
            { "CHANGED", "changed", TBL_RIGHT },
            { "BEFORE", "before_usd", TBL_RIGHT },
            { "AFTER", "after_usd", TBL_RIGHT },
            { "NOW PRICED", "now_priced", TBL_RIGHT | TBL_DROP },
            { "NOW UNPRICED", "now_unpriced", TBL_RIGHT | TBL_DROP },
        };
        table *t = table_new(stdout, c.fmt, cols, sizeof cols / sizeof cols[0]);
        for (size_t i = 0; i < x.n; i++) {
            const model_tot *m = &x.m[i];
            table_cell(t, m->key);
            table_cell(t, m->key + strlen(m->key) + 1);
            table_cellf(t, "%" PRIu64, m->requests);
            table_cellf(t, "%" PRIu64, m->changed);
            table_cell2(t, fmt_usd(b[0], m->before), fmt_usd_exact(b[1], m->before));
            table_cell2(t, fmt_usd(b[2], m->after), fmt_usd_exact(b[3], m->after));
            table_cellf(t, "%" PRIu64, m->now_priced);
            table_cellf(t, "%" PRIu64, m->now_unpriced);
        }
        table_end(t);
        if (c.fmt != CLI_CSV)
            table_textf(stdout, 0, "\n%s %" PRIu64 " of %" PRIu64 " selected records: %s -> %s%s\n",
                        dry ? "Would change" : "Changed", x.changed, x.selected,
                        fmt_usd_exact(b[4], tb), fmt_usd_exact(b[5], ta),
                        dry ? " (dry run, nothing written)" : "");
    }
    rc = 0;
out:
    for (size_t i = 0; i < x.n; i++)
        free(x.m[i].key);
    free(x.m);
    cli_close_store(s);
    query_filter_free(&c.filter);
    return rc;
}
