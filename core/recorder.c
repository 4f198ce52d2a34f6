/* recorder.c — see recorder.h.
 *
 * DESIGN
 * - Queue: a singly linked FIFO under `lock`. The thread takes the whole
 *   queue at once and writes it in batches of at most BATCH items (one
 *   transaction each), so a burst costs one commit, not one per exchange.
 * - Group commit: woken with fewer than BATCH items, the thread lingers up to
 *   LINGER_US for more before it writes. A commit costs ~8 syscalls (page
 *   writes, meta, and with HC_DB_SYNC an fsync); lingering shares them among
 *   every exchange of the moment. Nobody waits for a record, so the delay is
 *   invisible, and a flush (exit) cuts it short.
 * - Wake-ups: a submitter signals the thread only when it sleeps on an empty
 *   queue or a batch is full, not per item (a futex wake per exchange showed
 *   in profiles).
 * - Backpressure, bounded: when the queue is full (the recorder is more than
 *   HC_QUEUE_MAX exchanges behind, i.e. the machine is saturated), a gateway
 *   thread waits up to HC_QUEUE_WAIT_MS for room instead of dropping the
 *   record. It does so after the app has its whole answer, so only that
 *   connection's next request starts later: the load slows to what can be
 *   recorded, and the numbers stay complete. If a wait runs out, the store is
 *   stuck (a disk, a lock held elsewhere): the recorder is marked stalled,
 *   nobody waits again until it writes a batch, and records are dropped and
 *   counted. Observe mode runs in the app's own threads and never waits.
 * - The store is opened by the recorder thread, never by a connection
 *   thread: opening may create directories and files, and a slow or broken
 *   filesystem must not stall the app.
 * - A damaged store (common/store.c) never reaches the app: hc_store_open
 *   refuses it (core.c says once why, and nothing is recorded), and a store
 *   that shrinks or is replaced while in use fails every transaction from
 *   then on, which this thread reports once and counts as dropped. Recording
 *   stops rather than moving to a fresh store beside it: a second store would
 *   split the user's history silently, and the damaged one holds what
 *   'hc-analyze salvage' can rescue.
 * - Exit: core.c calls hc_recorder_flush from atexit and from the _exit hook,
 *   bounded by a timeout; records still queued after that are lost, which is
 *   the price of never holding a process's exit hostage.
 */
#include "recorder.h"
#include "alert.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "store.h"
#include "thread.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH           256
#define LINGER_US       1000
#define MAX_QUEUE_BYTES (256u << 20)
#define BLOB_KEEP       (64u << 10)

struct hc_recorder {
    hc_core *core;             /* immutable */
    pthread_mutex_t lock;      /* guards everything below */
    pthread_cond_t cond;       /* items queued (signalled when idle, or a batch is full) */
    pthread_cond_t done_cond;  /* a batch was written */
    pthread_cond_t space_cond; /* the thread took the queue: there is room */
    hc_rec_item *head, *tail;
    size_t queued, queued_bytes;
    int busy;       /* the thread holds items it has not written yet, or alert sums (alert.h) */
    int idle;       /* the thread sleeps on an empty queue */
    int flushing;   /* flushers waiting: do not linger */
    int stalled;    /* a backpressure wait ran out: drop, don't wait */
    int inflight;   /* exchanges begun whose record is not queued yet */
    int started;    /* thread started */
    int disabled;   /* store unusable: drop everything */
    size_t writing; /* taken from the queue by the writer, not yet accounted */
    hc_recorder_stats st;
    hc_store *store; /* the core's store (hc_core_store) */
    /* The recorder thread's own, reused batch by batch (not on its stack:
     * zeroing 16 KiB per batch showed in profiles; buffers keep capacity). */
    hc_store_item si[BATCH];
    hc_buf blobs[BATCH][2];
};

hc_rec_item *hc_rec_item_new(const uint8_t id[HC_UUID_LEN], const void *rec, size_t rec_len,
                             const void *req, size_t req_len, bool has_req, const void *resp,
                             size_t resp_len, bool has_resp)
{
    if (!has_req)
        req_len = 0;
    if (!has_resp)
        resp_len = 0;
    hc_rec_item *it = malloc(sizeof *it + rec_len + req_len + resp_len + 3);
    if (!it)
        return NULL;
    memset(it, 0, sizeof *it);
    memcpy(it->id, id, HC_UUID_LEN);
    it->rec = it->data;
    it->req = it->rec + rec_len + 1;
    it->resp = it->req + req_len + 1;
    memcpy(it->rec, rec, rec_len);
    if (req_len)
        memcpy(it->req, req, req_len);
    if (resp_len)
        memcpy(it->resp, resp, resp_len);
    it->rec_len = rec_len;
    it->req_len = req_len;
    it->resp_len = resp_len;
    it->has_req = has_req;
    it->has_resp = has_resp;
    return it;
}

static size_t item_bytes(const hc_rec_item *it)
{
    return sizeof *it + it->rec_len + it->req_len + it->resp_len;
}

static void free_list(hc_rec_item *it)
{
    while (it) {
        hc_rec_item *n = it->next;
        free(it);
        it = n;
    }
}

/* Encode bodies and write up to BATCH items in one transaction. With
 * may_retry, a failure because the app took the store's descriptors during
 * the commit (a raw close_range: LMDB's writes fail EBADF, or are refused by
 * identity) is not reported: *retry is set and the store is opened again
 * (hc_core_store) for the caller to write the batch there. */
static void write_batch(hc_recorder *r, hc_rec_item **items, size_t n, size_t *written,
                        bool may_retry, bool *retry)
{
    hc_store_item *si = r->si;
    for (size_t i = 0; i < n; i++) {
        hc_rec_item *it = items[i];
        hc_buf *b = r->blobs[i];
        memset(&si[i], 0, sizeof si[i]);
        memcpy(si[i].id, it->id, HC_UUID_LEN);
        si[i].rec = it->rec;
        si[i].rec_len = it->rec_len;
        hc_buf_reset(&b[0]);
        hc_buf_reset(&b[1]);
        if (it->has_req && hc_body_encode(it->req, it->req_len, it->req_trunc, &b[0]) == 0) {
            si[i].req_body = b[0].data;
            si[i].req_len = b[0].len;
        }
        if (it->has_resp && hc_body_encode(it->resp, it->resp_len, it->resp_trunc, &b[1]) == 0) {
            si[i].resp_body = b[1].data;
            si[i].resp_len = b[1].len;
        }
    }
    int err = 0;
    size_t w = hc_store_put_items(r->store, si, n, &err);
    *retry = false;
    if (err && may_retry) {
        hc_store *again = hc_core_store(r->core);
        if (again && again != r->store) {
            r->store = again;
            *written = w;
            *retry = true;
            return;
        }
    }
    const char *damage = err ? hc_store_damage(r->store) : NULL;
    if (damage) /* see store.c: it shrank or was replaced; every later write fails at once */
        hc_log_warn_once("store_damaged", "%s; recording stops (run 'hc-analyze check')", damage);
    else if (err)
        hc_log_warn_once(err == HC_EFULL ? "store_full" : "store_write",
                         "cannot write to the store %s (%s); dropping records",
                         hc_store_path(r->store), hc_strerror(err));
    *written = w;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
            if (r->blobs[i][k].cap > BLOB_KEEP)
                hc_buf_free(
                    &r->blobs[i][k]); /* keep small buffers for the next batch, not big ones */
}

static void deadline_us(clockid_t clk, int64_t us, struct timespec *until)
{
    clock_gettime(clk, until);
    until->tv_sec += us / 1000000;
    until->tv_nsec += (long)(us % 1000000) * 1000;
    if (until->tv_nsec >= 1000000000) {
        until->tv_sec++;
        until->tv_nsec -= 1000000000;
    }
}

/* The batch's records to the alert rules (alert.h), off the app's path. */
static void feed_alerts(hc_rec_item **batch, size_t n)
{
    const char *recs[BATCH];
    size_t lens[BATCH];
    for (size_t i = 0; i < n; i++) {
        recs[i] = batch[i]->rec;
        lens[i] = batch[i]->rec_len;
    }
    hc_alerts_add_encoded(recs, lens, n);
}

/* Alert sums pending and nothing queued (r->lock held, r->busy set): wait
 * for items until the sums are due, or a flush asks, then evaluate them
 * (alert.h). Returns with r->lock held. */
static void idle_with_alerts(hc_recorder *r)
{
    struct timespec due;
    deadline_us(CLOCK_MONOTONIC, HC_ALERT_COALESCE_US, &due);
    if (!r->flushing && pthread_cond_timedwait(&r->cond, &r->lock, &due) == 0)
        return; /* woken: items, or a flush */
    if (r->head)
        return;
    pthread_mutex_unlock(&r->lock);
    hc_alerts_evaluate(r->store);
    pthread_mutex_lock(&r->lock);
    r->busy = 0;
    pthread_cond_broadcast(&r->done_cond);
}

/* After a batch: evaluate the alert sums if due. Returns whether some are
 * still pending (r->busy: a flush waits for them). */
static bool alerts_after_batch(hc_recorder *r)
{
    if (!r->store || !hc_alerts_pending())
        return false;
    if (!hc_alerts_due())
        return true;
    hc_alerts_evaluate(r->store);
    return false;
}

static void *recorder_main(void *arg)
{
    hc_recorder *r = arg;
    r->core->shim->guard_thread();
    r->store = hc_core_store(r->core);
    bool ok = r->store != NULL;
    int64_t last_check = hc_mono_us();
    pthread_mutex_lock(&r->lock);
    if (!ok)
        r->disabled = 1;
    for (;;) {
        while (!r->head) {
            r->idle = 1;
            if (r->busy)
                idle_with_alerts(r);
            else
                pthread_cond_wait(&r->cond, &r->lock);
        }
        r->idle = 0;
        if (r->queued < BATCH && !r->flushing && !r->disabled) {
            struct timespec until;
            deadline_us(CLOCK_MONOTONIC, LINGER_US, &until);
            while (r->queued < BATCH && !r->flushing)
                if (pthread_cond_timedwait(&r->cond, &r->lock, &until) != 0)
                    break;
        }
        hc_rec_item *list = r->head;
        size_t count = r->queued;
        r->head = r->tail = NULL;
        r->queued = r->queued_bytes = 0;
        r->writing = count;
        r->busy = 1;
        pthread_cond_broadcast(&r->space_cond);
        pthread_mutex_unlock(&r->lock);

        size_t written = 0, dropped = 0;
        int64_t now = hc_mono_us();
        if (r->store && now - last_check > 60 * 1000000LL) {
            hc_store_reader_check(r->store); /* see store.h: dead readers pin old pages */
            last_check = now;
        }
        /* Asked again per batch: the store is re-opened when the app took
         * its descriptors (hc_core_store). */
        if (!r->disabled)
            r->store = hc_core_store(r->core);
        if (r->disabled || !r->store) {
            dropped = count;
            free_list(list);
        } else {
            while (list) {
                hc_rec_item *batch[BATCH];
                size_t n = 0;
                while (list && n < BATCH) {
                    batch[n++] = list;
                    list = list->next;
                }
                size_t w = 0;
                bool retry;
                write_batch(r, batch, n, &w, true, &retry);
                if (retry) { /* once, in the store opened again */
                    size_t w2 = 0;
                    write_batch(r, batch + w, n - w, &w2, false, &retry);
                    w += w2;
                }
                written += w;
                dropped += n - w;
                feed_alerts(batch, n);
                for (size_t i = 0; i < n; i++)
                    free(batch[i]);
            }
        }
        bool alerts = alerts_after_batch(r);
        pthread_mutex_lock(&r->lock);
        r->st.written += written;
        r->st.dropped_store += dropped;
        r->writing = 0;
        if (written)
            r->stalled = 0;
        r->busy = alerts;
        pthread_cond_broadcast(&r->done_cond);
    }
    return NULL;
}

hc_recorder *hc_recorder_new(hc_core *core)
{
    hc_recorder *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->core = core;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_cond_init(&r->done_cond, &ca);
    pthread_cond_init(&r->space_cond, &ca);
    pthread_condattr_destroy(&ca);
    return r;
}

static bool queue_full(const hc_recorder *r, size_t b)
{
    return r->queued >= r->core->cfg.queue_max || r->queued_bytes + b > MAX_QUEUE_BYTES;
}

/* Backpressure (see DESIGN): wait for room, at most wait_ms, unless the
 * recorder is known to be stuck. Called with the lock held. */
static void wait_for_room(hc_recorder *r, size_t b, int wait_ms)
{
    if (wait_ms <= 0 || r->stalled || !r->started)
        return;
    struct timespec until;
    deadline_us(CLOCK_MONOTONIC, (int64_t)wait_ms * 1000, &until);
    r->st.waited++;
    while (queue_full(r, b) && !r->disabled)
        if (pthread_cond_timedwait(&r->space_cond, &r->lock, &until) != 0) {
            r->stalled = queue_full(r, b);
            break;
        }
}

void hc_recorder_submit(hc_recorder *r, hc_rec_item *it, bool may_wait)
{
    it->next = NULL;
    size_t b = item_bytes(it);
    pthread_mutex_lock(&r->lock);
    r->st.submitted++;
    if (!r->disabled && may_wait && queue_full(r, b))
        wait_for_room(r, b, r->core->cfg.queue_wait_ms);
    if (r->disabled || queue_full(r, b)) {
        if (!r->disabled)
            r->st.dropped_full++;
        else
            r->st.dropped_store++;
        size_t waiting = r->queued;
        int disabled = r->disabled;
        pthread_mutex_unlock(&r->lock);
        if (!disabled)
            hc_log_warn_once("queue_full",
                             "recorder queue full (%zu exchanges waiting: the store is not keeping "
                             "up); dropping records",
                             waiting);
        free(it);
        return;
    }
    if (!r->started) {
        if (hc_thread_spawn(recorder_main, r) != 0) {
            r->disabled = 1;
            r->st.dropped_store++;
            pthread_mutex_unlock(&r->lock);
            hc_log_warn_once("recorder_thread",
                             "cannot start the recorder thread; LLM calls are not recorded");
            free(it);
            return;
        }
        r->started = 1;
    }
    if (r->tail)
        r->tail->next = it;
    else
        r->head = it;
    r->tail = it;
    r->queued++;
    r->queued_bytes += b;
    if (r->idle || r->queued == BATCH)
        pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

void hc_recorder_flush(hc_recorder *r, int timeout_ms, hc_recorder_stats *st)
{
    struct timespec lock_until, until;
    deadline_us(CLOCK_REALTIME, (int64_t)timeout_ms * 1000, &lock_until);
    deadline_us(CLOCK_MONOTONIC, (int64_t)timeout_ms * 1000, &until);
    /* _exit() may run this from a signal handler that interrupted a thread
     * holding the lock: never wait for it longer than the deadline. */
    if (pthread_mutex_timedlock(&r->lock, &lock_until) != 0)
        return;
    r->flushing++;
    pthread_cond_signal(&r->cond); /* stop lingering */
    while (r->inflight > 0 || (r->started && (r->head || r->busy)))
        if (pthread_cond_timedwait(&r->done_cond, &r->lock, &until) != 0)
            break;
    r->flushing--;
    if (st) {
        *st = r->st;
        st->left = r->queued + r->writing + (uint64_t)(r->inflight > 0 ? r->inflight : 0);
        st->disabled = r->disabled;
    }
    pthread_mutex_unlock(&r->lock);
    /* No fsync here: a committed LMDB transaction survives the process (the
     * pages are in the kernel's cache); machine-crash durability is HC_DB_SYNC. */
}

void hc_recorder_exchange_begin(hc_recorder *r)
{
    pthread_mutex_lock(&r->lock);
    r->inflight++;
    pthread_mutex_unlock(&r->lock);
}

void hc_recorder_exchange_end(hc_recorder *r)
{
    pthread_mutex_lock(&r->lock);
    r->inflight--;
    pthread_cond_broadcast(&r->done_cond);
    pthread_mutex_unlock(&r->lock);
}

void hc_recorder_stats_get(hc_recorder *r, hc_recorder_stats *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->st;
    pthread_mutex_unlock(&r->lock);
}

void hc_recorder_abandon(hc_recorder *r)
{
    (void)r; /* its memory, lock and store handle belong to the parent's threads */
}
