/* reprice.h — a record's cost computed again from its stored tokens.
 *
 * DESIGN. A record keeps its token counts by class (record.h fields 13-18), so
 * its cost can be recomputed with another price table: `hc-analyze reprice`
 * writes the new cost back, and `--prices FILE` on any read command computes
 * every record's cost with FILE as it is read, leaving the store untouched.
 * Both use reprice_record(), which applies the rule the recorder applies
 * (core/capture.c finish_cost, core/proxy.c cache hits): the model the
 * response named, else the requested one; a cache hit costs 0 and saved the
 * cost; a record without usage (HC_COST_NO_USAGE, blocked, failed) is left as
 * it is.
 *
 * Not thread-safe (hc-analyze is single-threaded): reprice_on_read is a plain
 * global set once while parsing options.
 */
#ifndef HC_ANA_REPRICE_H
#define HC_ANA_REPRICE_H

#include <stdbool.h>

#include "record.h"

/* Set by `--prices FILE` (cli_common): query_scan() reprices every record it
 * hands to a command. */
extern bool reprice_on_read;

/* Recompute r's cost_nusd (or, for a cache hit, saved_nusd) and cost_flags
 * from its tokens with the loaded price table (hc_pricing_init() must have
 * run). Keeps HC_COST_ESTIMATED; sets HC_COST_LONG_CTX when the row's long-context
 * tier applies. True if any of the three changed. */
bool reprice_record(hc_record *r);

/* The encoded record `old` (len bytes, as stored) with its cost fields
 * (cost_nusd 19, cost_flags 20, saved_nusd 37) replaced by r's, appended to
 * out. Every other field is copied byte for byte, including fields this
 * hcshim does not know (written by a newer one), which a decode + encode
 * would drop. 0, HC_EPARSE if old is malformed, HC_ENOMEM. */
int reprice_patch(const void *old, size_t len, const hc_record *r, hc_buf *out);

#endif
