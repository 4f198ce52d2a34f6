/* batch.c — batched idempotent writes (see batch.h). */
#include "batch.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

int batch_init(batch *b, hc_store *s, MDB_dbi recs)
{
    memset(b, 0, sizeof *b);
    b->s = s;
    b->recs = recs;
    b->ents = calloc(BATCH_MAX, sizeof *b->ents);
    b->items = calloc(BATCH_MAX, sizeof *b->items);
    if (!b->ents || !b->items) {
        batch_free(b);
        return HC_ENOMEM;
    }
    return 0;
}

void batch_free(batch *b)
{
    free(b->ents);
    free(b->items);
    hc_buf_free(&b->arena);
    b->ents = NULL;
    b->items = NULL;
}

static int copy(batch *b, const void *p, size_t n, size_t *off)
{
    *off = b->arena.len;
    return hc_buf_append(&b->arena, p, n);
}

int batch_add(batch *b, const uint8_t id[HC_UUID_LEN], const void *rec, size_t rec_len,
              const void *req, size_t req_len, const void *resp, size_t resp_len)
{
    struct batch_ent *e = &b->ents[b->n];
    memcpy(e->id, id, HC_UUID_LEN);
    e->rec_len = rec_len;
    e->req_len = req_len;
    e->resp_len = resp_len;
    e->has_req = req != NULL;
    e->has_resp = resp != NULL;
    if (copy(b, rec, rec_len, &e->rec_off) || (req && copy(b, req, req_len, &e->req_off)) ||
        (resp && copy(b, resp, resp_len, &e->resp_off)))
        return HC_ENOMEM;
    b->n++;
    /* Flush on count, or early when bodies make the batch big. */
    if (b->n == BATCH_MAX || b->arena.len > (64u << 20))
        return batch_flush(b);
    return 0;
}

static int cmp_id(const void *x, const void *y)
{
    return memcmp(((const hc_store_item *)x)->id, ((const hc_store_item *)y)->id, HC_UUID_LEN);
}

int batch_flush(batch *b)
{
    if (!b->n)
        return 0;
    MDB_txn *txn;
    int rc = hc_store_txn_begin(b->s, false, &txn);
    if (rc)
        return rc;
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct batch_ent *e = &b->ents[i];
        MDB_val k = { HC_UUID_LEN, e->id }, v;
        if (mdb_get(txn, b->recs, &k, &v) == 0) {
            b->skipped++;
            continue;
        }
        hc_store_item *it = &b->items[m++];
        memcpy(it->id, e->id, HC_UUID_LEN);
        it->rec = b->arena.data + e->rec_off;
        it->rec_len = e->rec_len;
        it->req_body = e->has_req ? b->arena.data + e->req_off : NULL;
        it->req_len = e->req_len;
        it->resp_body = e->has_resp ? b->arena.data + e->resp_off : NULL;
        it->resp_len = e->resp_len;
    }
    hc_store_txn_abort(b->s, txn);
    /* Sorted keys make LMDB's appends cheap; equal neighbours are duplicates. */
    qsort(b->items, m, sizeof *b->items, cmp_id);
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
        if (u && memcmp(b->items[u - 1].id, b->items[i].id, HC_UUID_LEN) == 0) {
            b->skipped++;
            continue;
        }
        b->items[u++] = b->items[i];
    }
    int err = 0;
    if (u && hc_store_put_items(b->s, b->items, u, &err) != u)
        return err ? err : HC_ESTORE;
    b->added += u;
    for (size_t i = 0; i < u; i++)
        b->bodies += (b->items[i].req_body != NULL) + (b->items[i].resp_body != NULL);
    b->n = 0;
    hc_buf_reset(&b->arena);
    return 0;
}

int batch_del_key(MDB_txn *txn, MDB_dbi dbi, const MDB_val *k)
{
    MDB_val key = *k;
    int d = mdb_del(txn, dbi, &key, NULL);
    if (d == 0 || d == MDB_NOTFOUND)
        return 0;
    return d == MDB_MAP_FULL ? HC_EFULL : HC_ESTORE;
}

/* One transaction's worth from key `from` (empty: the first key); sets *done
 * at the end of the table, else leaves the next key to look at in `from`. */
static int del_batch(const batch_del *d, hc_buf *from, bool *done)
{
    MDB_txn *txn;
    int rc = hc_store_txn_begin(d->s, !d->dry, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, hc_store_dbi(d->s, d->table), &cur)) {
        hc_store_txn_abort(d->s, txn);
        return HC_ESTORE;
    }
    hc_buf keys = HC_BUF_INIT; /* the victims' keys, one after the other */
    size_t *lens = malloc(BATCH_DEL_MAX * sizeof *lens), nv = 0;
    MDB_val k = { from->len, from->data }, v;
    int mrc =
        lens ? mdb_cursor_get(cur, &k, &v, from->len ? MDB_SET_RANGE : MDB_FIRST) : MDB_NOTFOUND;
    rc = lens ? 0 : HC_ENOMEM;
    *done = true;
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (nv == BATCH_DEL_MAX) {
            hc_buf_reset(from);
            if (hc_buf_append(from, k.mv_data, k.mv_size))
                rc = HC_ENOMEM;
            *done = false;
            break;
        }
        int p = d->pick(d->self, txn, &k, &v);
        if (p < 0) {
            rc = p;
            break;
        }
        if (!p)
            continue;
        if (hc_buf_append(&keys, k.mv_data, k.mv_size)) {
            rc = HC_ENOMEM;
            break;
        }
        lens[nv++] = k.mv_size;
    }
    mdb_cursor_close(cur);
    if (!rc && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = HC_ESTORE;
    size_t off = 0;
    for (size_t i = 0; !rc && !d->dry && i < nv; off += lens[i++]) {
        MDB_val dk = { lens[i], keys.data + off };
        rc = d->del(d->self, txn, &dk);
    }
    free(lens);
    hc_buf_free(&keys);
    if (rc || d->dry) {
        hc_store_txn_abort(d->s, txn);
        return rc;
    }
    return hc_store_txn_commit(d->s, txn);
}

int batch_del_run(const batch_del *d)
{
    hc_buf from = HC_BUF_INIT;
    bool done = false;
    int rc = 0;
    if (d->start && d->start_len && hc_buf_append(&from, d->start, d->start_len))
        rc = HC_ENOMEM;
    while (!rc && !done)
        rc = del_batch(d, &from, &done);
    hc_buf_free(&from);
    return rc;
}
