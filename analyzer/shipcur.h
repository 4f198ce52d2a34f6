/* shipcur.h — the shipping cursors kept in the local store (hc-analyze ship,
 * prune --shipped).
 *
 * One cursor per destination, in the store's "meta" table under the key
 * "ship:<destination>" (the destination without credentials, e.g.
 * "clickhouse://127.0.0.1:8123/hc"), value the 16-byte record id C. Meaning:
 * every record whose id is <= C has been acknowledged by the destination, and
 * no record with an id <= C can still appear in the store (ship keeps C behind
 * the settle horizon, see cmd_ship.c). So records <= C may be pruned.
 *
 * Not thread-safe (hc-analyze is single-threaded); each function uses its own
 * transaction.
 */
#ifndef HC_ANA_SHIPCUR_H
#define HC_ANA_SHIPCUR_H

#include <stdbool.h>

#include "store.h"
#include "uuid.h"

#define SHIPCUR_PREFIX "ship:"

/* Read the cursor of `dest` into id. 0 found; HC_ENOTFOUND (id zeroed: ship
 * everything); HC_ESTORE. */
int shipcur_get(hc_store *s, const char *dest, uint8_t id[HC_UUID_LEN]);

/* Set the cursor of `dest` to id, only if id is greater than the stored one
 * (a cursor never moves back). Needs a store opened for writing. 0 or HC_E*. */
int shipcur_advance(hc_store *s, const char *dest, const uint8_t id[HC_UUID_LEN]);

/* The lowest cursor over every destination into id: what every destination
 * has. 0; HC_ENOTFOUND when nothing was ever shipped; HC_ESTORE. */
int shipcur_min(hc_store *s, uint8_t id[HC_UUID_LEN]);

#endif
