/* recorder.h — writes finished exchanges to the store, off the app's path.
 *
 * Connection threads hand over an hc_rec_item (the encoded record plus the raw
 * bodies, one allocation) and return at once. A single recorder thread per
 * process, started with the first item, opens the store, compresses bodies and
 * writes items in batches, one LMDB transaction per batch.
 *
 * Bounded: at most HC_QUEUE_MAX items and 256 MiB wait in the queue. When it
 * is full, a gateway thread waits up to HC_QUEUE_WAIT_MS for room (after its
 * app has the whole answer); past that, or in observe mode, items are dropped
 * and counted (recorder.c, DESIGN). If the store cannot be opened (unwritable
 * path, read-only filesystem) the recorder says so once on stderr and drops
 * everything.
 *
 * Thread-safe. Not fork-safe: the child abandons its parent's recorder
 * (hc_recorder_abandon) and creates its own.
 */
#ifndef HC_CORE_RECORDER_H
#define HC_CORE_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "uuid.h"

typedef struct hc_recorder hc_recorder;

typedef struct hc_rec_item {
    struct hc_rec_item *next; /* queue link (recorder-owned) */
    uint8_t id[HC_UUID_LEN];
    size_t rec_len, req_len, resp_len;
    bool has_req, has_resp; /* store a body (even an empty one) */
    bool req_trunc, resp_trunc;
    char *rec, *req, *resp; /* point into data[] */
    char data[];
} hc_rec_item;

/* One allocation holding copies of the three byte strings. NULL on ENOMEM. */
hc_rec_item *hc_rec_item_new(const uint8_t id[HC_UUID_LEN], const void *rec, size_t rec_len,
                             const void *req, size_t req_len, bool has_req, const void *resp,
                             size_t resp_len, bool has_resp);

hc_recorder *hc_recorder_new(hc_core *core);

/* Queue an item (ownership passes to the recorder, even when it is dropped).
 * Never blocks on I/O. With may_wait, waits (bounded) for room when the queue
 * is full instead of dropping: only for threads whose waiting the app cannot
 * see in the answer it is reading. Thread-safe. */
void hc_recorder_submit(hc_recorder *r, hc_rec_item *item, bool may_wait);

/* An exchange started / ended (its record was submitted or discarded).
 * Flushing waits for exchanges in flight too: at exit, the app may already
 * have read the last byte of an answer whose record is not queued yet. */
void hc_recorder_exchange_begin(hc_recorder *r);
void hc_recorder_exchange_end(hc_recorder *r);

/* Counters since start, for tests and HC_DEBUG. */
typedef struct hc_recorder_stats {
    uint64_t submitted, written, dropped_full, dropped_store;
    uint64_t waited; /* submissions that waited for room */
    uint64_t left;   /* not written when a flush gave up: queued, being written, in flight */
    int disabled;    /* no store (the shim said why when it failed to open) */
} hc_recorder_stats;
void hc_recorder_stats_get(hc_recorder *r, hc_recorder_stats *out);

/* Wait until every exchange in flight has been queued and everything queued
 * is written, or timeout_ms passed. Bounded even when called from a signal
 * handler (every lock is taken with the same deadline). If st is not NULL it
 * gets the counters as the flush ended (left: what was still queued), unless
 * the lock could not be taken in time (st untouched). */
void hc_recorder_flush(hc_recorder *r, int timeout_ms, hc_recorder_stats *st);

/* After fork, in the child: forget r without touching its lock or thread. */
void hc_recorder_abandon(hc_recorder *r);

#endif
