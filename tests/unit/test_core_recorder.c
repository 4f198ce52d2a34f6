/* test_core_recorder.c — core/recorder.c: items submitted are written to the
 * store with their bodies; a burst is written in few transactions (group
 * commit, batches of 256); a flush waits for queued items and for exchanges
 * still in flight, and is bounded when they never end; a full queue drops
 * and counts (or, for a thread allowed to wait, waits, then stops waiting
 * once the recorder is known stuck); no store means everything is dropped
 * and counted, never a crash.
 *
 * The core around the recorder is a minimal hc_core (store path, queue
 * limits, a no-op guard_thread). To hold the recorder thread still the test
 * takes the core's store_lock: the thread asks hc_core_store for the store
 * before each batch, so it waits there with the queue untouched. */
#include "core.h"
#include "err.h"
#include "recorder.h"
#include "store.h"
#include "t.h"

#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static void no_guard(void)
{
}

static hc_shim_api shim = { .guard_thread = no_guard };

static void core_init(hc_core *c, const char *db, size_t queue_max, int wait_ms)
{
    memset(c, 0, sizeof *c);
    c->pid = getpid();
    c->shim = &shim;
    pthread_mutex_init(&c->store_lock, NULL);
    snprintf(c->cfg.db_path, sizeof c->cfg.db_path, "%s", db);
    c->cfg.queue_max = queue_max;
    c->cfg.queue_wait_ms = wait_ms;
}

static hc_rec_item *item(uint32_t n)
{
    uint8_t id[HC_UUID_LEN] = { 0x01, 0x8f };
    memcpy(id + 12, &n, 4);
    char rec[32], req[64], resp[64];
    int rl = snprintf(rec, sizeof rec, "record-%u", n);
    int ql = snprintf(req, sizeof req, "{\"prompt\":%u}", n);
    int pl = snprintf(resp, sizeof resp, "{\"answer\":%u}", n);
    return hc_rec_item_new(id, rec, (size_t)rl, req, (size_t)ql, true, resp, (size_t)pl,
                           n % 2 == 0);
}

static size_t count_records(hc_store *s)
{
    MDB_txn *txn;
    MDB_stat st;
    if (hc_store_txn_begin(s, false, &txn))
        return (size_t)-1;
    mdb_stat(txn, hc_store_dbi(s, HC_T_RECORDS), &st);
    hc_store_txn_abort(s, txn);
    return st.ms_entries;
}

static size_t last_txn(hc_store *s)
{
    MDB_envinfo info;
    mdb_env_info(hc_store_env(s), &info);
    return info.me_last_txnid;
}

/* Body `which` of item n, decoded, or "(none)". */
static const char *body_of(hc_store *s, uint32_t n, char which)
{
    static char out[128];
    uint8_t key[HC_UUID_LEN + 1] = { 0x01, 0x8f };
    memcpy(key + 12, &n, 4);
    key[HC_UUID_LEN] = (uint8_t)which;
    snprintf(out, sizeof out, "(none)");
    MDB_txn *txn;
    if (hc_store_txn_begin(s, false, &txn))
        return "(txn)";
    MDB_val k = { sizeof key, key }, v;
    if (mdb_get(txn, hc_store_dbi(s, HC_T_BODIES), &k, &v) == 0) {
        hc_buf b = HC_BUF_INIT;
        bool trunc;
        if (hc_body_decode(v.mv_data, v.mv_size, &b, &trunc) == 0)
            snprintf(out, sizeof out, "%.*s", (int)b.len, b.data ? b.data : "");
        hc_buf_free(&b);
    }
    hc_store_txn_abort(s, txn);
    return out;
}

static void test_write_and_group_commit(const char *db)
{
    static hc_core c; /* the recorder thread outlives the test: never on the stack */
    core_init(&c, db, 4096, 0);
    hc_recorder *r = hc_recorder_new(&c);
    hc_store *s = hc_core_store(&c);
    T_CHECK(r && s, "recorder created, store opened");
    if (!r || !s)
        return;

    hc_recorder_submit(r, item(1), false);
    hc_recorder_stats st;
    hc_recorder_flush(r, 5000, &st);
    T_CHECK(st.submitted == 1 && st.written == 1 && st.left == 0,
            "one item: submitted, written, nothing left");
    T_EQ_INT(count_records(s), 1, "…one record in the store");
    T_EQ_STR(body_of(s, 1, HC_BODY_REQUEST), "{\"prompt\":1}", "…its request body stored");
    T_EQ_STR(body_of(s, 1, HC_BODY_RESPONSE), "(none)", "…no response body when has_resp is false");

    /* A burst of 600 while the thread is held: written in batches of 256,
     * i.e. 3 transactions, not 600. */
    size_t before = last_txn(s);
    pthread_mutex_lock(&c.store_lock);
    for (uint32_t n = 100; n < 700; n++)
        hc_recorder_submit(r, item(n), false);
    pthread_mutex_unlock(&c.store_lock);
    hc_recorder_flush(r, 10000, &st);
    T_CHECK(st.written == 601 && st.dropped_full == 0 && st.left == 0,
            "600 more written, none dropped (%llu)", (unsigned long long)st.written);
    T_EQ_INT(count_records(s), 601, "…601 records in the store");
    size_t txns = last_txn(s) - before;
    T_CHECK(txns >= 3 && txns <= 4, "…in %zu write transactions (batches of 256)", txns);
    T_EQ_STR(body_of(s, 698, HC_BODY_RESPONSE), "{\"answer\":698}",
             "a response body of the burst stored");

    /* Flush waits for an exchange in flight, bounded. */
    hc_recorder_exchange_begin(r);
    hc_recorder_flush(r, 200, &st);
    T_EQ_INT(st.left, 1, "a flush gives up on an exchange that never ends, and says one is left");
    hc_recorder_submit(r, item(900), false);
    hc_recorder_exchange_end(r);
    hc_recorder_flush(r, 5000, &st);
    T_CHECK(st.left == 0 && st.written == 602, "once it ends and is queued, a flush writes it");
    hc_recorder_stats got;
    hc_recorder_stats_get(r, &got);
    T_EQ_INT(got.written, 602, "hc_recorder_stats_get agrees");
}

static void test_full_queue(const char *db)
{
    static hc_core c;
    core_init(&c, db, 4, 0);
    hc_recorder *r = hc_recorder_new(&c);
    hc_store *s = hc_core_store(&c);
    if (!r || !s) {
        T_CHECK(0, "recorder and store");
        return;
    }
    size_t had = count_records(s);
    hc_recorder_stats st;
    pthread_mutex_lock(&c.store_lock);
    for (uint32_t n = 2000; n < 2007; n++)
        hc_recorder_submit(r, item(n), false);
    hc_recorder_stats_get(r, &st);
    T_CHECK(st.submitted == 7 && st.dropped_full == 3,
            "queue of 4: 7 submitted, 3 dropped and counted (%llu)",
            (unsigned long long)st.dropped_full);
    pthread_mutex_unlock(&c.store_lock);
    hc_recorder_flush(r, 5000, &st);
    T_EQ_INT(st.written, 4, "…the 4 queued are written");
    T_EQ_INT(count_records(s) - had, 4, "…and only they are in the store");
    T_EQ_STR(body_of(s, 2003, HC_BODY_REQUEST), "{\"prompt\":2003}", "…the first four in order");
    T_EQ_STR(body_of(s, 2004, HC_BODY_REQUEST), "(none)", "…the fifth was dropped");
}

static void test_backpressure(const char *db)
{
    static hc_core c;
    core_init(&c, db, 2, 150);
    hc_recorder *r = hc_recorder_new(&c);
    if (!r || !hc_core_store(&c)) {
        T_CHECK(0, "recorder and store");
        return;
    }
    hc_recorder_stats st;
    /* The thread starts with the first item and asks for the store before it
     * takes anything: held there, the queue fills deterministically. */
    pthread_mutex_lock(&c.store_lock);
    hc_recorder_submit(r, item(3000), true);
    hc_recorder_submit(r, item(3001), true);
    hc_recorder_stats_get(r, &st);
    T_CHECK(st.waited == 0 && st.dropped_full == 0, "a queue with room never waits");
    hc_recorder_submit(r, item(3002), true); /* full: waits 150 ms, then the recorder is stalled */
    hc_recorder_submit(r, item(3003), true); /* stalled: no second wait */
    hc_recorder_stats_get(r, &st);
    T_EQ_INT(st.waited, 1,
             "a full queue makes a may_wait submitter wait once, not again once stalled");
    T_EQ_INT(st.dropped_full, 2, "…after the wait ran out, it and the next are dropped");
    pthread_mutex_unlock(&c.store_lock);
    hc_recorder_flush(r, 5000, &st);
    T_CHECK(st.written == 2 && st.left == 0,
            "the queued two are written once the store is free (%llu)",
            (unsigned long long)st.written);
    /* A batch was written: no longer stalled. Submitters allowed to wait now
     * wait for room instead of dropping, however fast they submit. */
    c.cfg.queue_wait_ms = 10000;
    for (uint32_t n = 3100; n < 3150; n++)
        hc_recorder_submit(r, item(n), true);
    hc_recorder_flush(r, 5000, &st);
    T_CHECK(st.dropped_full == 2 && st.written == 52,
            "after a written batch nothing more is dropped "
            "(dropped %llu, written %llu, waited %llu)",
            (unsigned long long)st.dropped_full, (unsigned long long)st.written,
            (unsigned long long)st.waited);
}

static void test_no_store(void)
{
    static hc_core c;
    core_init(&c, "", 16, 0); /* no path: the store cannot be opened */
    hc_recorder *r = hc_recorder_new(&c);
    hc_recorder_submit(r, item(1), false);
    hc_recorder_stats st;
    hc_recorder_flush(r, 5000, &st);
    hc_recorder_submit(r, item(2), true);
    hc_recorder_flush(r, 5000, &st);
    T_CHECK(st.disabled && st.written == 0 && st.dropped_store == 2 && st.left == 0,
            "no store: disabled, both items dropped and counted, nothing left");
}

int main(void)
{
    unsetenv("HC_SHARED");
    char d1[] = "/tmp/hc-test-recorder-XXXXXX", d2[] = "/tmp/hc-test-recorder-XXXXXX";
    char d3[] = "/tmp/hc-test-recorder-XXXXXX";
    if (!mkdtemp(d1) || !mkdtemp(d2) || !mkdtemp(d3)) {
        perror("mkdtemp");
        return 1;
    }
    test_write_and_group_commit(d1);
    test_full_queue(d2);
    test_backpressure(d3);
    test_no_store();
    int rc = t_done();
    nftw(d1, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(d2, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(d3, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
