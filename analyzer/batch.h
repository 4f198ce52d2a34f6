/* batch.h — batched writes into a store: idempotent inserts (merge, import)
 * and deleting walks (prune, cache clear).
 *
 * Items are copied into the batch (so the caller's source — another store's
 * map, a parsed JSON line — may go away), and written BATCH_MAX at a time in
 * one transaction with hc_store_put_items(). Before each write the batch
 * looks the ids up in the target: ids already present are skipped and
 * counted, never overwritten, so running a merge or import twice changes
 * nothing. Ids repeated inside one batch are written once and counted once.
 *
 * Not thread-safe: one batch per thread; the target store itself may be
 * shared with other writers (other processes may record into it meanwhile).
 */
#ifndef HC_ANA_BATCH_H
#define HC_ANA_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

#define BATCH_MAX 2000

struct batch_ent {
    uint8_t id[HC_UUID_LEN];
    size_t rec_off, rec_len, req_off, req_len, resp_off, resp_len;
    int has_req, has_resp;
};

typedef struct batch {
    hc_store *s;
    MDB_dbi recs; /* the target's records table */
    hc_buf arena; /* copied bytes of the pending items */
    struct batch_ent *ents;
    hc_store_item *items;
    size_t n;
    uint64_t added, skipped, bodies;
} batch;

/* Prepare a batch writing into s (records table handle recs). 0 or HC_ENOMEM. */
int batch_init(batch *b, hc_store *s, MDB_dbi recs);
/* Queue one record (encoded bytes) with optional body blobs (already
 * body-encoded; NULL = none). Copies everything; may flush. 0, HC_ENOMEM, or
 * the store's error from a flush (HC_ESTORE, HC_EFULL). */
int batch_add(batch *b, const uint8_t id[HC_UUID_LEN], const void *rec, size_t rec_len,
              const void *req, size_t req_len, const void *resp, size_t resp_len);
/* Write what is queued. 0 or the store's error. */
int batch_flush(batch *b);
void batch_free(batch *b);

/* ---- Deleting walks (prune, cache clear) -----------------------------------
 * One table in key order; the entries pick() selects are deleted by del(), at
 * most BATCH_DEL_MAX per write transaction, so a writer (the shim recording
 * meanwhile) waits for one batch at most. A dry run walks in read
 * transactions, calls pick() the same way and deletes nothing. When a batch
 * fails, the batches committed before it stay deleted. */
#define BATCH_DEL_MAX 10000

typedef struct batch_del {
    hc_store *s;
    enum hc_table table;
    bool dry;
    /* Look at one entry: 1 delete it, 0 keep it, or a negative HC_E* that
     * stops the walk. txn is the batch's, to look into other tables. */
    int (*pick)(void *self, MDB_txn *txn, const MDB_val *k, const MDB_val *v);
    /* Delete a picked entry (and what goes with it): 0 or a negative HC_E*
     * (batch_del_key() for each key). Never called in a dry run. */
    int (*del)(void *self, MDB_txn *txn, const MDB_val *k);
    void *self;
    const void *start; /* the first key to look at (MDB_SET_RANGE); NULL: the table's first */
    size_t start_len;
} batch_del;

/* Walk the whole table. 0, or the first error: HC_ENOMEM, HC_ESTORE, HC_EFULL,
 * or what pick()/del() returned. */
int batch_del_run(const batch_del *d);
/* mdb_del(txn, dbi, k) as an HC_E* code: 0 also when k is not there;
 * HC_EFULL when the map is full, else HC_ESTORE. */
int batch_del_key(MDB_txn *txn, MDB_dbi dbi, const MDB_val *k);

#endif
