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
#include <stdint.h>

/* Read HC_SHARED* now (core start-up, on the app's thread) rather than on
 * the first gateway request: getenv there races with the app's setenv.
 * Optional: the first call reads them otherwise. Thread-safe. */
void hc_shared_init(void);

/* Window check-and-take / add (ratelimit.h hc_window_take/hc_window_add
 * semantics). 0 answered by Redis; HC_EDISABLED: HC_SHARED is unset, invalid
 * or Redis is unreachable — use the local store. */
int hc_shared_window(const char *key, int64_t window_us, uint64_t quota, uint64_t amount, int64_t now_us,
                     bool check, bool *allowed, uint64_t *used);

/* Period totals (ratelimit.h hc_total_get/hc_total_add). 0 answered by Redis;
 * HC_EDISABLED: use the local store; HC_ECONNECT: Redis is unreachable and
 * HC_SHARED_ON_ERROR=fail-closed (the caller treats the budget as spent). */
int hc_shared_total_get(const char *key, uint64_t *total);
int hc_shared_total_add(const char *key, uint64_t amount, uint64_t *before, uint64_t *after);

#endif
