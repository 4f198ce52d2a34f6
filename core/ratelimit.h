/* ratelimit.h — rate limits (Helicone-RateLimit-Policy / HC_RATELIMIT) and the store counters
 * they and budgets count in, shared by every process using the store.
 *
 * Policy syntax (Helicone's): "QUOTA;w=SECONDS[;u=request|cents][;s=user|NAME]"
 *   QUOTA   requests (u=request, the default) or US cents (u=cents, may be
 *           fractional) allowed in any sliding window of w seconds
 *   s=user  one window per user (Helicone-User-Id / HC_USER_ID);
 *   s=NAME  one window per value of property NAME; absent: one global window.
 *
 * Windows slide with a resolution of 1/64 of their length: a counter is a
 * ring of 64 slots in the store's "counters" table, updated in one LMDB write
 * transaction, so check-and-take is atomic across threads and processes.
 * Amounts are integers: 1 per request, nano-USD for cents policies.
 *
 * With HC_SHARED set, windows and totals live in Redis instead, shared by
 * every process that names it (shared.h); the store is the fallback.
 *
 * Thread-safe (LMDB serialises writers).
 */
#ifndef HC_CORE_RATELIMIT_H
#define HC_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

typedef struct hc_ratelimit {
    char text[256];     /* the policy as written, echoed in Helicone-RateLimit-Policy */
    uint64_t quota;     /* requests, or nano-USD for cents */
    double quota_cents; /* as written, for headers */
    int64_t window_us;
    bool cents;
    char segment[128]; /* "" (global), "user", or a property name */
} hc_ratelimit;

/* Parse a policy. 0, or HC_EINVAL with a reason in err. */
int hc_ratelimit_parse(const char *text, hc_ratelimit *rl, char *err, size_t errlen);

/* The counter key of policy rl for a segment value ("" when global). */
void hc_ratelimit_key(const hc_ratelimit *rl, const char *segment_value, char *out, size_t size);

/* Atomically: drop what left the window, and if used + amount <= quota add
 * amount and set *allowed = true (else nothing changes, *allowed = false).
 * amount 0 only checks (allowed while used < quota). *used gets the count
 * after the operation. 0 or HC_ESTORE / HC_EFULL. */
int hc_window_take(hc_store *s, const char *key, int64_t window_us, uint64_t quota, uint64_t amount,
                   int64_t now_us, bool *allowed, uint64_t *used);

/* Add amount to the window unconditionally (cost after a request completed).
 * *used gets the total after. 0 or HC_ESTORE / HC_EFULL. */
int hc_window_add(hc_store *s, const char *key, int64_t window_us, uint64_t amount, int64_t now_us,
                  uint64_t *used);

/* hc_window_add inside the caller's write transaction on the counters table
 * (dbi), always the local store: for callers that update many windows at
 * once (alert.c, one transaction per recorder batch). Returns mdb_put's code
 * (MDB_MAP_FULL: abort, grow the store, redo). */
int hc_window_add_in(MDB_txn *txn, MDB_dbi dbi, const char *key, int64_t window_us, uint64_t amount,
                     int64_t now_us, uint64_t *used);

/* Period totals (budgets): total under key, which names the period.
 * hc_total_add adds atomically and returns the totals before and after.
 * With HC_SHARED, hc_total_get returns HC_ECONNECT while Redis is down under
 * HC_SHARED_ON_ERROR=fail-closed (the caller treats the budget as spent). */
int hc_total_get(hc_store *s, const char *key, uint64_t *total);
int hc_total_add(hc_store *s, const char *key, uint64_t amount, uint64_t *before, uint64_t *after);

#endif
