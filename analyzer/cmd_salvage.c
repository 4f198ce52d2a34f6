/* cmd_salvage.c — `hc-analyze salvage OUT`: copy every record (and its
 * bodies) that can still be read from a damaged store into a new store.
 *
 * The damaged store is never opened with LMDB: the checker (common/
 * storecheck.c) walks it with pread and hands over each readable entry;
 * damaged subtrees are skipped, so what they held is lost. Only the trees
 * reachable from the newest meta page are read — never free pages — so
 * records deleted by prune do not come back. A record must decode
 * (hc_record_decode), a body must decode (hc_body_decode), else it is lost.
 * Bodies come first in key order (bodies < records), so they are written as
 * they come and those left without a record are deleted at the end. When
 * the newest meta reaches no record (a truncation took its roots), the
 * previous transaction's meta is walked instead (see below). The
 * response cache and the budget counters are not copied: the cache refills,
 * and the counters' windows are short. */
#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "jsonw.h"
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: hc-analyze salvage OUT [options]\n"
    "\n"
    "Copy every record, with its prompt and response, that can still be read\n"
    "from a damaged store into the new store OUT (a directory that must not\n"
    "exist yet), and say how many were saved and lost. The damaged store is\n"
    "read without mapping it and is not modified. Records deleted by prune\n"
    "stay deleted. The response cache and budget counters are not copied.\n"
    "Then check the copy and use it: hc-analyze check --db OUT.\n"
    "\n" CLI_HELP_DB "  --json             print the counts as JSON\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status 0 when the copy was written (even if records were lost),\n"
    "2 if OUT exists, the store is not a store, or OUT cannot be written.\n";

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    { 0 },
};

#define FLUSH_ENTRIES 2000
#define FLUSH_BYTES   (32u << 20)

typedef struct pending {
    enum hc_table t;
    size_t klen, vlen;
    uint8_t data[]; /* key then value */
} pending;

typedef struct salv {
    hc_store *out;
    pending **pend;
    size_t npend, cappend, pbytes;
    uint64_t saved, bad_records, bodies, bad_bodies;
    int err; /* a write to OUT failed: stop */
    hc_buf scratch;
} salv;

/* One attempt of flush (hc_store_write_fn): put every pending entry. */
static int flush_attempt(hc_store *out, MDB_txn *txn, void *ctx)
{
    const salv *s = ctx;
    int rc = 0;
    for (size_t i = 0; i < s->npend && !rc; i++) {
        pending *p = s->pend[i];
        MDB_val k = { p->klen, p->data }, v = { p->vlen, p->data + p->klen };
        rc = mdb_put(txn, hc_store_dbi(out, p->t), &k, &v, 0);
    }
    return hc_store_mdb_rc(rc);
}

static int flush(salv *s)
{
    if (!s->npend)
        return 0;
    int rc = hc_store_write(s->out, 8, flush_attempt, s);
    if (rc)
        return rc == HC_EFULL ? HC_EFULL : HC_ESTORE;
    for (size_t i = 0; i < s->npend; i++)
        free(s->pend[i]);
    s->npend = 0;
    s->pbytes = 0;
    return 0;
}

static int add(salv *s, enum hc_table t, const void *k, size_t kl, const void *v, size_t vl)
{
    if (s->npend == s->cappend) {
        size_t n = s->cappend ? s->cappend * 2 : 256;
        pending **pp = realloc(s->pend, n * sizeof *pp);
        if (!pp)
            return HC_ENOMEM;
        s->pend = pp;
        s->cappend = n;
    }
    pending *p = malloc(sizeof *p + kl + vl);
    if (!p)
        return HC_ENOMEM;
    p->t = t;
    p->klen = kl;
    p->vlen = vl;
    memcpy(p->data, k, kl);
    memcpy(p->data + kl, v, vl);
    s->pend[s->npend++] = p;
    s->pbytes += kl + vl;
    if (s->npend >= FLUSH_ENTRIES || s->pbytes >= FLUSH_BYTES)
        return flush(s);
    return 0;
}

static int on_entry(void *ctx, const char *table, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    salv *s = ctx;
    if (strcmp(table, "records") == 0) {
        hc_record r;
        hc_record_init(&r);
        if (klen != HC_UUID_LEN || hc_record_decode(val, vlen, &r) != 0) {
            s->bad_records++;
            return 0;
        }
        if ((s->err = add(s, HC_T_RECORDS, key, klen, val, vlen)) != 0)
            return 1;
        s->saved++;
    } else if (strcmp(table, "bodies") == 0) {
        const uint8_t *kb = key;
        hc_buf_reset(&s->scratch);
        if (klen != HC_UUID_LEN + 1 ||
            (kb[HC_UUID_LEN] != HC_BODY_REQUEST && kb[HC_UUID_LEN] != HC_BODY_RESPONSE) ||
            hc_body_decode(val, vlen, &s->scratch, NULL) != 0) {
            s->bad_bodies++;
            return 0;
        }
        if ((s->err = add(s, HC_T_BODIES, key, klen, val, vlen)) != 0)
            return 1;
        s->bodies++;
    }
    return 0;
}

/* Delete bodies whose record was lost. Returns how many. */
static uint64_t drop_orphans(hc_store *out, int *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    uint64_t n = 0;
    *err = hc_store_txn_begin(out, true, &txn);
    if (*err)
        return 0;
    if (mdb_cursor_open(txn, hc_store_dbi(out, HC_T_BODIES), &cur) != 0) {
        hc_store_txn_abort(out, txn);
        *err = HC_ESTORE;
        return 0;
    }
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        MDB_val rk = { HC_UUID_LEN, k.mv_data }, rv;
        if (mdb_get(txn, hc_store_dbi(out, HC_T_RECORDS), &rk, &rv) == MDB_NOTFOUND) {
            mdb_cursor_del(cur, 0);
            n++;
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
            if (rc == MDB_NOTFOUND)
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    *err = hc_store_txn_commit(out, txn);
    return n;
}

static int own(void *self, int id, const char *arg)
{
    const char **dest = self;
    if (id != CLI_POS)
        return 1;
    if (*dest)
        return cli_misuse("salvage: unexpected argument '%s' (one OUT directory)", arg);
    *dest = arg;
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_salvage(int argc, char **argv)
{
    ana_ctx c = { .cmd = "salvage" };
    const char *dest = NULL;
    int rc;
    salv s = { 0 };

    rc = cli_parse(&c, &cmd, argc, argv, &dest);
    if (rc || c.help)
        goto out;
    rc = CLI_EXIT_MISUSE;
    if (c.fmt == CLI_CSV) {
        cli_misuse("salvage: --csv is not supported (use --json)");
        goto out;
    }
    if (!dest || !*dest) {
        cli_misuse("salvage: expected OUT, a new directory for the rescued store");
        goto out;
    }
    char path[PATH_MAX], err[PATH_MAX + 256] = "";
    if ((rc = cli_store_path(&c, path, sizeof path)))
        goto out;
    rc = CLI_EXIT_MISUSE;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_misuse("%s: not a store directory", path);
        goto out;
    }
    if (mkdir(dest, 0700) != 0) {
        cli_misuse("%s: %s", dest,
                   errno == EEXIST ? "already exists (give a new directory)" : strerror(errno));
        goto out;
    }
    if (hc_store_open(dest, 0, &s.out, err, sizeof err) != 0) {
        cli_misuse("%s", err);
        goto out;
    }
    hc_check_result res;
    int e = hc_store_verify(path, NULL, on_entry, &s, &res, err, sizeof err);
    if (e != 0 && e != HC_EPARSE) {
        cli_misuse("%s", err[0] ? err : path);
        goto out;
    }
    /* A truncation usually takes the newest roots (LMDB writes them last, at
     * the end of the file). The transaction before keeps a whole snapshot
     * (LMDB reuses none of its pages until a later commit): try it when the
     * newest gave nothing. It may hold records the last transaction deleted. */
    bool older = false;
    if (e == HC_EPARSE && s.saved == 0 && !s.err) {
        int fd = hc_store_check_open(path, err, sizeof err);
        hc_check_result r2;
        if (fd >= 0 &&
            hc_store_check_fd(fd, 0, HC_CHECK_OLDER, NULL, on_entry, &s, &r2) != HC_ENOMEM &&
            s.saved > 0) {
            older = true;
            if (r2.records > res.records)
                res.records = r2.records;
        }
        if (fd >= 0)
            close(fd);
    }
    if (!s.err)
        s.err = flush(&s);
    uint64_t orphans = 0;
    if (!s.err)
        orphans = drop_orphans(s.out, &s.err);
    if (s.err) {
        cli_misuse("%s: cannot write the rescued store (%s)", dest, hc_strerror(s.err));
        goto out;
    }
    /* The records table's header says how many there were, unless the damage
     * reached it; records in damaged subtrees were never seen. */
    uint64_t total = res.records > s.saved ? res.records : s.saved + s.bad_records;
    uint64_t lost = total - s.saved;
    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", path);
        jw_kstr(&w, "out", dest);
        jw_kbool(&w, "damaged", e != 0);
        jw_kuint(&w, "problems", res.problems);
        jw_kbool(&w, "from_previous_transaction", older);
        jw_kuint(&w, "records_saved", s.saved);
        jw_kuint(&w, "records_lost", lost);
        jw_kuint(&w, "bodies_saved", s.bodies - orphans);
        jw_kuint(&w, "bodies_lost", s.bad_bodies);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else {
        printf("%s: %s; %" PRIu64 " record%s saved, %" PRIu64 " lost; %" PRIu64
               " bodies saved, %" PRIu64 " lost; written to %s\n",
               path, e ? "damaged" : "sound", s.saved, s.saved == 1 ? "" : "s", lost,
               s.bodies - orphans, s.bad_bodies, dest);
        if (e)
            printf("%s: %" PRIu64 " problem%s, the first: %s\n", path, res.problems,
                   res.problems == 1 ? "" : "s", res.first);
        if (older)
            printf("%s: the newest transaction was unreadable; saved from the one before it "
                   "(records deleted by "
                   "the last transaction may be back)\n",
                   path);
    }
    rc = 0;
out:
    if (s.out)
        hc_store_close(s.out);
    for (size_t i = 0; i < s.npend; i++)
        free(s.pend[i]);
    free(s.pend);
    hc_buf_free(&s.scratch);
    query_filter_free(&c.filter);
    return rc;
}
