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
