/* cmd_prune.c — `hc-analyze prune --older-than D [filters]`: delete old
 * records and their bodies, or only the bodies; with filters, only the
 * records they select (a user's, a property's…), of any age if no
 * --older-than is given.
 *
 * Work is done in write transactions of BATCH_DEL_MAX deletions each (batch.h), so a
 * prune of millions of records never holds the writer lock for long (the
 * shim may be recording meanwhile) and survives interruption: what was
 * committed stays deleted, a re-run finishes the job. LMDB reuses freed pages
 * for new records; data.mdb itself does not shrink. */
#include "batch.h"
#include "cli.h"
#include "clock.h"
#include "cmds.h"
#include "err.h"
#include "fmt.h"
#include "jsonw.h"
#include "query.h"
#include "shipcur.h"
#include "table.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: hc-analyze prune [--older-than D] [--shipped] [filters] [--bodies-only] [--dry-run] "
    "[options]\n"
    "\n"
    "Delete records that started more than D ago (30d, 12h, 2w…) and their bodies;\n"
    "with filters, only the records they select (e.g. every record of one user:\n"
    "prune --user alice). With --bodies-only keep the records and delete only the\n"
    "stored prompts and responses. Says how much it removed. At least one of\n"
    "--older-than, --shipped and a filter is required. Writes the store (as do cache clear,\n"
    "compact, import and merge); --dry-run only reads.\n"
    "\n"
    "  --older-than D     age limit\n"
    "  --shipped          only records every `ship` destination has acknowledged\n"
    "                     (behind its cursor; docs/FLEET.md); nothing if none\n"
    "  --bodies-only      delete bodies, keep records\n"
    "  --dry-run          count what would be removed; change nothing\n" CLI_HELP_DB
    "  --json, --csv      print the counts as JSON / CSV\n"
    "  -h, --help         this help\n"
    "\n" CLI_HELP_FILTERS;

enum { OPT_OLDER = OPT_CMD, OPT_BODIES_ONLY, OPT_DRY_RUN, OPT_SHIPPED };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    { "older-than", 0, true, OPT_OLDER },
    { "bodies-only", 0, false, OPT_BODIES_ONLY },
    { "dry-run", 0, false, OPT_DRY_RUN },
    { "shipped", 0, false, OPT_SHIPPED },
    { 0 },
};

struct totals {
    uint64_t records, record_bytes, bodies, body_bytes, scanned;
};

/* Does the record go? Older than cutoff (start_us, or the id's time if it
 * does not decode) and, when there is a filter, selected by it (a record that
 * does not decode is never selected by a filter). */
/* --shipped: only ids <= this (the lowest ship cursor); NULL without --shipped. */
static const uint8_t *shipped_upto;

static bool selected(const MDB_val *k, const MDB_val *v, int64_t cutoff, const query_filter *f)
{
    if (shipped_upto && memcmp(k->mv_data, shipped_upto, HC_UUID_LEN) > 0)
        return false;
    hc_record r;
    bool ok = hc_record_decode(v->mv_data, v->mv_size, &r) == 0;
    if ((ok ? r.start_us : hc_uuid_time_us(k->mv_data)) >= cutoff)
        return false;
    return query_filter_empty(f) || (ok && query_match(f, &r));
}

struct walk {
    hc_store *s;
    int64_t cutoff;
    const query_filter *f;
    bool bodies_only;
    struct totals *t;
};

/* A record to prune: counted with its bodies; with --bodies-only, picked only when it has one. */
static int pick(void *self, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
    struct walk *w = self;
    w->t->scanned++;
    if (k->mv_size != HC_UUID_LEN || !selected(k, v, w->cutoff, w->f))
        return 0;
    uint8_t bk[HC_UUID_LEN + 1];
    memcpy(bk, k->mv_data, HC_UUID_LEN);
    bool any_body = false;
    for (int i = 0; i < 2; i++) {
        bk[HC_UUID_LEN] = i ? HC_BODY_RESPONSE : HC_BODY_REQUEST;
        MDB_val bkey = { sizeof bk, bk }, bv;
        if (mdb_get(txn, hc_store_dbi(w->s, HC_T_BODIES), &bkey, &bv) == 0) {
            w->t->bodies++;
            w->t->body_bytes += bv.mv_size;
            any_body = true;
        }
    }
    if (!w->bodies_only) {
        w->t->records++;
        w->t->record_bytes += v->mv_size;
        return 1;
    }
    return any_body;
}

/* Its bodies, and the record unless --bodies-only. */
static int del(void *self, MDB_txn *txn, const MDB_val *k)
{
    struct walk *w = self;
    uint8_t bk[HC_UUID_LEN + 1];
    memcpy(bk, k->mv_data, HC_UUID_LEN);
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++) {
        bk[HC_UUID_LEN] = i ? HC_BODY_RESPONSE : HC_BODY_REQUEST;
        MDB_val bkey = { sizeof bk, bk };
        rc = batch_del_key(txn, hc_store_dbi(w->s, HC_T_BODIES), &bkey);
    }
    if (!rc && !w->bodies_only)
        rc = batch_del_key(txn, hc_store_dbi(w->s, HC_T_RECORDS), k);
    return rc;
}

struct args {
    const char *older; /* --older-than as given */
    int64_t age;
    bool bodies_only, dry, shipped;
};

static int own(void *self, int id, const char *arg)
{
    struct args *a = self;
    if (id == OPT_OLDER) {
        a->older = arg;
        if (hc_parse_duration_us(arg, &a->age) != 0)
            return cli_misuse("--older-than: expected an age like 30d, 12h or 2w, got '%s'", arg);
    } else if (id == OPT_BODIES_ONLY) {
        a->bodies_only = true;
    } else if (id == OPT_DRY_RUN) {
        a->dry = true;
    } else if (id == OPT_SHIPPED) {
        a->shipped = true;
    } else {
        return 1;
    }
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_prune(int argc, char **argv)
{
    ana_ctx c = { .cmd = "prune" };
    struct args a = { 0 };
    uint8_t upto[HC_UUID_LEN] = { 0 };
    int rc;
    hc_store *s = NULL;

    rc = cli_parse(&c, &cmd, argc, argv, &a);
    if (rc || c.help)
        goto out;
    rc = CLI_EXIT_MISUSE;
    /* An empty value selects the records without one: in a delete, almost
     * certainly an unset shell variable, not a wish. */
    if ((c.filter.user && !*c.filter.user) || (c.filter.session && !*c.filter.session)) {
        cli_misuse("prune: --%s: expected a value, got '' (prune never deletes by an empty id)",
                   c.filter.user && !*c.filter.user ? "user" : "session");
        goto out;
    }
    if (!a.older && !a.shipped && query_filter_empty(&c.filter)) {
        cli_misuse("prune: give --older-than D, --shipped or a filter (e.g. --older-than 30d, or "
                   "--user alice)");
        goto out;
    }
    char path[PATH_MAX];
    if ((rc = cli_open_store_for_delete(&c, a.dry, path, sizeof path, &s)))
        goto out;
    /* --run last: resolved once, before deleting (query_match alone matches nothing). */
    char last_run[72];
    if (c.filter.run_last) {
        MDB_txn *rt;
        int qe = hc_store_txn_begin(s, false, &rt);
        if (!qe) {
            qe = query_last_run(rt, hc_store_dbi(s, HC_T_RECORDS), last_run, sizeof last_run);
            hc_store_txn_abort(s, rt);
        }
        if (qe || !last_run[0]) {
            rc = cli_misuse("prune: --run last: %s",
                            qe ? "cannot read the store" : "no record in this store has a run id");
            goto out;
        }
        c.filter.run = last_run;
        c.filter.run_last = false;
    }
    if (a.shipped) {
        /* Never shipped anywhere: upto stays all zero, which selects nothing. */
        int e = shipcur_min(s, upto);
        if (e && e != HC_ENOTFOUND) {
            rc = cli_misuse("%s: cannot read the ship cursors: %s", path, hc_strerror(e));
            goto out;
        }
        shipped_upto = upto;
    }
    int64_t cutoff = a.older ? hc_now_us() - a.age : INT64_MAX;
    static const uint8_t zero[HC_UUID_LEN];
    struct totals t = { 0 };
    struct walk wk = { s, cutoff, &c.filter, a.bodies_only, &t };
    batch_del d = { .s = s,
                    .table = HC_T_RECORDS,
                    .dry = a.dry,
                    .pick = pick,
                    .del = del,
                    .self = &wk,
                    .start = zero,
                    .start_len = sizeof zero };
    int e = batch_del_run(&d);
    if (e) {
        rc = cli_misuse("%s: prune failed: %s (what was committed before stays deleted)", path,
                        hc_strerror(e));
        goto out;
    }
    char b1[FMT_NUM], b2[FMT_NUM], b3[FMT_NUM], b4[FMT_NUM], ct[40];
    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", path);
        jw_kbool(&w, "dry_run", a.dry);
        jw_kbool(&w, "bodies_only", a.bodies_only);
        jw_key(&w, "cutoff");
        if (a.older)
            jw_str(&w, fmt_time_iso(ct, cutoff));
        else
            jw_null(&w);
        jw_kbool(&w, "filtered", !query_filter_empty(&c.filter));
        jw_kuint(&w, "records_scanned", t.scanned);
        jw_kuint(&w, "records_removed", t.records);
        jw_kuint(&w, "record_bytes", t.record_bytes);
        jw_kuint(&w, "bodies_removed", t.bodies);
        jw_kuint(&w, "body_bytes", t.body_bytes);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else if (c.fmt == CLI_CSV) {
        printf("store,dry_run,bodies_only,cutoff,records_scanned,records_removed,record_bytes,"
               "bodies_removed,body_bytes\r\n");
        table_csv_field(stdout, path);
        printf(",%d,%d,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\r\n", a.dry,
               a.bodies_only, a.older ? fmt_time_iso(ct, cutoff) : "", t.scanned, t.records,
               t.record_bytes, t.bodies, t.body_bytes);
    } else {
        char when[128] = "";
        if (a.older)
            snprintf(when, sizeof when, " older than %s (before %s UTC)", a.older,
                     fmt_time(ct, cutoff));
        printf("%s%s: %s %s records and %s bodies (%s of records, %s of bodies)%s%s\n",
               a.dry ? "dry run: " : "", path, a.dry ? "would remove" : "removed",
               fmt_int(b1, (int64_t)t.records), fmt_int(b2, (int64_t)t.bodies),
               fmt_bytes(b3, t.record_bytes), fmt_bytes(b4, t.body_bytes), when,
               query_filter_empty(&c.filter) ? "" : " selected by the filters");
        if (!a.dry && (t.records || t.bodies))
            printf("The space is reused by new records; data.mdb does not shrink.\n");
    }
    rc = 0;
out:
    cli_close_store(s);
    query_filter_free(&c.filter);
    return rc;
}
