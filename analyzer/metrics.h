/* metrics.h — the store as Prometheus metrics (text exposition format 0.0.4),
 * served by `hc-analyze serve` at /metrics.
 *
 * Families (every record of the store, since it began; counters only grow
 * while records are added — prune/compact reset them, which Prometheus
 * handles as a counter reset):
 *   hcshim_requests_total{provider,model,status}            counter
 *   hcshim_tokens_total{provider,model,type}                counter,
 *       type = input|output|cached|reasoning
 *   hcshim_cost_usd_total{provider,model}                   counter (priced requests)
 *   hcshim_unpriced_requests_total{provider,model}          counter
 *   gen_ai_client_operation_duration_seconds{provider,model} histogram, the GenAI
 *       convention's boundaries 0.01 … 81.92 s (request start → last byte)
 *   gen_ai_client_token_usage{provider,model,token_type}    histogram, boundaries
 *       1, 4, 16 … 67108864 tokens; token_type = input|output (per request)
 * model is what the request asked for, else what the response named (as the
 * model column of every report). Label
 * cardinality is capped: past METRICS_MAX_SERIES provider/model pairs the
 * rest are counted under model="other".
 */
#ifndef HC_ANA_METRICS_H
#define HC_ANA_METRICS_H

#include <lmdb.h>

#include "buf.h"

#define METRICS_MAX_SERIES 200

/* Scan every record of dbi in txn (caller's read transaction) and append the
 * exposition text to out. 0, HC_ENOMEM, or HC_ESTORE if the scan failed. */
int metrics_write(MDB_txn *txn, MDB_dbi dbi, hc_buf *out);

#endif
