/* cmd_merge.c — `hc-analyze merge OUT IN...`: combine stores.
 *
 * Records and bodies are copied byte for byte (undecodable records too: merge
 * does not interpret them), in id order, BATCH_MAX per transaction. Ids
 * already in OUT are skipped, so merging twice changes nothing. Each IN is
 * opened read-only, one at a time; OUT is created if missing. */
#include "batch.h"
#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "fmt.h"
#include "jsonw.h"
#include "table.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: hc-analyze merge [options] OUT IN...\n"
    "\n"
    "Copy every record and body of the IN stores into OUT (created if missing),\n"
    "skipping ids OUT already has: merging the same input twice adds nothing.\n"
    "IN stores are opened read-only.\n"
    "\n"
    "  --json, --csv      print the counts as JSON / CSV\n"
    "  -h, --help         this help\n";

static const cli_opt opts[] = { CLI_COMMON_OPTS, { 0 } };

/* Copy one input store into b. */
static int merge_one(const char *in, batch *b, uint64_t *seen)
{
    ana_ctx ic = { .cmd = "merge", .db = in };
    hc_store *s;
    MDB_txn *txn;
    int rc = cli_open_store(&ic, &s);
    if (rc)
        return rc;
    if (hc_store_txn_begin(s, false, &txn)) {
        rc = cli_misuse("%s: cannot start a read transaction", in);
        goto out;
    }
    MDB_dbi recs = hc_store_dbi(s, HC_T_RECORDS), bodies = hc_store_dbi(s, HC_T_BODIES);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, recs, &cur)) {
        rc = cli_misuse("%s: cannot read records", in);
        goto out_txn;
    }
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != HC_UUID_LEN)
            continue;
        uint8_t bk[HC_UUID_LEN + 1];
        memcpy(bk, k.mv_data, HC_UUID_LEN);
        MDB_val qk = { sizeof bk, bk }, q = { 0, NULL }, r = { 0, NULL };
        bk[HC_UUID_LEN] = HC_BODY_REQUEST;
        bool hq = mdb_get(txn, bodies, &qk, &q) == 0;
        bk[HC_UUID_LEN] = HC_BODY_RESPONSE;
        bool hr = mdb_get(txn, bodies, &qk, &r) == 0;
        (*seen)++;
        int brc = batch_add(b, k.mv_data, v.mv_data, v.mv_size, hq ? q.mv_data : NULL, q.mv_size,
                            hr ? r.mv_data : NULL, r.mv_size);
        if (brc) {
            rc = cli_misuse("%s: writing failed: %s", hc_store_path(b->s), hc_strerror(brc));
            break;
        }
    }
    mdb_cursor_close(cur);
    /* Flush while the input's map is still mapped: the batch copied its bytes,
     * but flushing here keeps per-input counts exact. */
    if (!rc) {
        int frc = batch_flush(b);
        if (frc)
            rc = cli_misuse("%s: writing failed: %s", hc_store_path(b->s), hc_strerror(frc));
        else if (mrc != MDB_NOTFOUND)
            rc = cli_misuse("%s: reading records failed", in);
    }
out_txn:
    hc_store_txn_abort(s, txn);
out:
    cli_close_store(s);
    return rc;
}

struct args {
    const char *out;      /* the first store named: written */
    const char *ins[256]; /* the others: read */
    int nin;
};

static int own(void *self, int id, const char *arg)
{
    struct args *a = self;
    if (id != CLI_POS)
        return 1;
    if (!a->out)
        a->out = arg;
    else if (a->nin < (int)(sizeof a->ins / sizeof a->ins[0]))
        a->ins[a->nin++] = arg;
    else
        return cli_misuse("merge: at most %zu input stores", sizeof a->ins / sizeof a->ins[0]);
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_merge(int argc, char **argv)
{
    ana_ctx c = { .cmd = "merge" };
    struct args a = { .out = NULL };
    int rc;
    hc_store *os = NULL;
    batch b;
    memset(&b, 0, sizeof b);

    rc = cli_parse(&c, &cmd, argc, argv, &a);
    if (rc || c.help)
        goto done;
    rc = CLI_EXIT_MISUSE;
    if (c.db) {
        cli_misuse("merge: give OUT as the first argument, not --db");
        goto done;
    }
    if (!a.out || a.nin == 0) {
        cli_misuse("merge: expected OUT and at least one IN store");
        goto done;
    }
    /* LMDB must not open one environment twice in a process. */
    char rout[PATH_MAX], rin[PATH_MAX];
    bool out_exists = realpath(a.out, rout) != NULL;
    for (int i = 0; i < a.nin; i++) {
        if (out_exists && realpath(a.ins[i], rin) && strcmp(rin, rout) == 0) {
            cli_misuse("merge: input '%s' is the output store", a.ins[i]);
            goto done;
        }
    }
    if ((rc = cli_open_store_rw(a.out, true, &os)))
        goto done;
    if (batch_init(&b, os, hc_store_dbi(os, HC_T_RECORDS))) {
        rc = cli_misuse("merge: out of memory");
        goto done;
    }
    jw w;
    if (c.fmt == CLI_CSV)
        printf("input,records,added,skipped\r\n");
    if (c.fmt == CLI_JSON) {
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "out", a.out);
        jw_key(&w, "inputs");
        jw_arr(&w);
    }
    for (int i = 0; i < a.nin; i++) {
        uint64_t a0 = b.added, s0 = b.skipped, seen = 0;
        if ((rc = merge_one(a.ins[i], &b, &seen)))
            goto done;
        if (c.fmt == CLI_JSON) {
            jw_obj(&w);
            jw_kstr(&w, "path", a.ins[i]);
            jw_kuint(&w, "records", seen);
            jw_kuint(&w, "added", b.added - a0);
            jw_kuint(&w, "skipped", b.skipped - s0);
            jw_obj_end(&w);
        } else if (c.fmt == CLI_CSV) {
            table_csv_field(stdout, a.ins[i]);
            printf(",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\r\n", seen, b.added - a0, b.skipped - s0);
        } else {
            char n1[FMT_NUM], n2[FMT_NUM];
            printf("%s: %s records added, %s already present\n", a.ins[i],
                   fmt_int(n1, (int64_t)(b.added - a0)), fmt_int(n2, (int64_t)(b.skipped - s0)));
        }
    }
    if (c.fmt == CLI_JSON) {
        jw_arr_end(&w);
        jw_kuint(&w, "added", b.added);
        jw_kuint(&w, "skipped", b.skipped);
        jw_kuint(&w, "bodies", b.bodies);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else if (c.fmt == CLI_TEXT) {
        char n1[FMT_NUM], n2[FMT_NUM], n3[FMT_NUM];
        printf("%s: %s records added (%s bodies), %s skipped\n", a.out,
               fmt_int(n1, (int64_t)b.added), fmt_int(n3, (int64_t)b.bodies),
               fmt_int(n2, (int64_t)b.skipped));
    }
    rc = 0;
done:
    batch_free(&b);
    if (os)
        hc_store_close(os);
    return rc;
}
