/* batch.h — batched, idempotent writes into a store (merge, import).
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

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

#define BATCH_MAX 2000

struct batch_ent {
    uint8_t id[HC_UUID_LEN];
    size_t  rec_off, rec_len, req_off, req_len, resp_off, resp_len;
    int     has_req, has_resp;
};

typedef struct batch {
    hc_store         *s;
    MDB_dbi           recs;       /* the target's records table */
    hc_buf            arena;      /* copied bytes of the pending items */
    struct batch_ent *ents;
    hc_store_item    *items;
    size_t            n;
    uint64_t          added, skipped, bodies;
} batch;

/* Prepare a batch writing into s (records table handle recs). 0 or HC_ENOMEM. */
int  batch_init(batch *b, hc_store *s, MDB_dbi recs);
/* Queue one record (encoded bytes) with optional body blobs (already
 * body-encoded; NULL = none). Copies everything; may flush. 0, HC_ENOMEM, or
 * the store's error from a flush (HC_ESTORE, HC_EFULL). */
int  batch_add(batch *b, const uint8_t id[HC_UUID_LEN], const void *rec, size_t rec_len,
               const void *req, size_t req_len, const void *resp, size_t resp_len);
/* Write what is queued. 0 or the store's error. */
int  batch_flush(batch *b);
void batch_free(batch *b);

#endif
