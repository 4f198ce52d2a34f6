/* shared.h — rate-limit windows and budget totals held in Redis, shared by
 * every process on every machine that names the same server (HC_SHARED).
 *
 *   HC_SHARED=redis://HOST[:PORT][/N]   (port 6379, database 0 by default)
 *   HC_SHARED_TIMEOUT_MS=50             per round trip, 1..5000
 *   HC_SHARED_ON_ERROR=local|fail-closed
 *       local (default): while Redis is unreachable, limits and budgets use this
 *       machine's store (ratelimit.h), as without HC_SHARED; said once on stderr.
 *       fail-closed: while Redis is unreachable, every blocking budget blocks
 *       (requests get the budget 429); rate limits still fall back to the store.
 *
 *   HC_SHARED_CACHE=1                   the response cache (cache.h) too
 *   HC_SHARED_CACHE_MAX=1048576         largest entry shared, in bytes (1..64 MiB)
 *
 * Each operation is one Redis round trip running one Lua script (EVALSHA,
 * EVAL on NOSCRIPT), so check-and-take of a window and the add of a total are
 * atomic across the fleet; INCRBY's before/after makes a budget crossing
 * unique fleet-wide (one alert). The window is the same 64-slot sliding
 * window as the local one, as a Redis hash of slot → amount with an expiry.
 * Keys are the local counter keys prefixed with "hcshim:".
 *
 * Failure: a connection, timeout or protocol error closes the connection and
 * marks Redis down for one second (no attempt, no latency, meanwhile); the
 * first failure prints one stderr line naming HC_SHARED and the policy.
 *
 * Thread-safe: one connection per process, guarded by a mutex; a forked
 * child opens its own.
 */
#ifndef HC_CORE_SHARED_H
#define HC_CORE_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Read HC_SHARED* now (core start-up, on the app's thread) rather than on
 * the first gateway request: getenv there races with the app's setenv.
 * Optional: the first call reads them otherwise. Thread-safe. */
void hc_shared_init(void);

/* Window check-and-take / add (ratelimit.h hc_window_take/hc_window_add
 * semantics). 0 answered by Redis; HC_EDISABLED: HC_SHARED is unset, invalid
 * or Redis is unreachable — use the local store. */
int hc_shared_window(const char *key, int64_t window_us, uint64_t quota, uint64_t amount,
                     int64_t now_us, bool check, bool *allowed, uint64_t *used);

/* Period totals (ratelimit.h hc_total_get/hc_total_add). 0 answered by Redis;
 * HC_EDISABLED: use the local store; HC_ECONNECT: Redis is unreachable and
 * HC_SHARED_ON_ERROR=fail-closed (the caller treats the budget as spent). */
int hc_shared_total_get(const char *key, uint64_t *total);
int hc_shared_total_add(const char *key, uint64_t amount, uint64_t *before, uint64_t *after);

/* Alert state (alert.h): if the value under key is expect (absent: 0), set
 * it to newv; *won says whether this call changed it. 0 answered by Redis;
 * HC_EDISABLED: use the local store. */
int hc_shared_state_cas(const char *key, uint64_t expect, uint64_t newv, bool *won);

/* A request subject to blocking budgets and a rate limit, in ONE round trip
 * (one script, atomic): the nb budget totals bkeys[i] against blimits[i]
 * (nano-USD; 1..8 budgets), then, if none is spent, the window check-and-take
 * of wkey (hc_shared_window's arguments). 0 answered: *blocked is the index
 * of the first spent budget (its total in *spent; the window untouched) or
 * -1, then *allowed and *used are the window's. HC_EDISABLED: not answered
 * (HC_SHARED off or down, a broken answer): the caller takes the usual path
 * (budgets, then the window), which applies the failure policy. */
int hc_shared_gate(int nb, const char *const *bkeys, const uint64_t *blimits, const char *wkey,
                   int64_t window_us, uint64_t quota, uint64_t amount, int64_t now_us, int *blocked,
                   uint64_t *spent, bool *allowed, uint64_t *used);

/* The response cache through Redis: is it asked for (HC_SHARED_CACHE=1 with
 * a valid HC_SHARED)? Thread-safe. */
bool hc_shared_cache_on(void);
/* The largest entry shared (HC_SHARED_CACHE_MAX, default 1 MiB). */
size_t hc_shared_cache_max(void);

/* GET key (prefixed like every key) into out (reset first; at most
 * hc_shared_cache_max() bytes, a larger value reads as an error). 0 found;
 * HC_ENOTFOUND none; HC_EDISABLED off, unreachable or a broken answer (the
 * caller goes on without it: fail-open). One round trip. */
int hc_shared_blob_get(const char *key, hc_buf *out);
/* SET key to len bytes at p, expiring after ttl_ms. 0, HC_ETOOBIG (over
 * hc_shared_cache_max() or no TTL left: not sent), HC_EDISABLED. */
int hc_shared_blob_set(const char *key, const void *p, size_t len, int64_t ttl_ms);

#endif
