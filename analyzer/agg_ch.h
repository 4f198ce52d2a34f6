/* agg_ch.h — `report`'s aggregation run by ClickHouse (--db clickhouse://…),
 * so a report over millions of shipped records moves a few rows per group,
 * not every record, to the client.
 *
 * DESIGN
 * - The same numbers agg_acc_add() would sum, as SQL aggregates over
 *   DB.hc_records FINAL (one row per record id), filtered by
 *   source_ch_where(): one query for the total, one per --by level (GROUP BY
 *   the level's dimensions and its parents'), one for the --trend buckets.
 *   Each answer row fills an agg_acc (agg.h) in the caller's group tables, so
 *   `report` prints it with its usual code: output identical to streaming.
 * - Percentiles stay exact and nearest-rank (agg.h): the server sorts each
 *   group's latencies and picks rank ceil(p*n/100) (arraySort(groupArray)),
 *   since ClickHouse's quantileExact ranks differently. They are returned in
 *   agg_ch_pct: the total's in *pct, a group's in a malloc'd agg_ch_pct at
 *   acc->user (the caller frees it).
 * - Only when everything can be said in SQL (agg_ch_usable): a --model glob
 *   LIKE cannot express, or --prices (costs recomputed on the client), make
 *   `report` stream the records instead (source_ch.h).
 *
 * Not thread-safe (hc-analyze is single-threaded).
 */
#ifndef HC_ANA_AGG_CH_H
#define HC_ANA_AGG_CH_H

#include <stdbool.h>
#include <stddef.h>

#include "agg.h"
#include "query.h"

/* Latency p50/p95/p99 and TTFT p50/p95 in µs (-1: no data). */
typedef struct agg_ch_pct {
    int64_t p50, p95, p99, ttft_p50, ttft_p95;
} agg_ch_pct;

/* What to aggregate: dims[0..ndims) are report's --by specs ("model",
 * "property:Step", …); trend is an enum tb_unit (TB_NONE: no series). */
typedef struct agg_ch_req {
    const char *url;
    const query_filter *f;
    const char *const *dims;
    int ndims;
    int trend;
} agg_ch_req;

/* Can the server compute this report exactly? (f fully expressible in SQL,
 * costs not recomputed by --prices.) */
bool agg_ch_usable(const query_filter *f);

/* Fill total (and *pct), levels[0..ndims) and buckets (keys as report makes
 * them) from the server; st gets scanned (records on the server), matched,
 * and the resolved --run last. label gets the server's name without
 * credentials. The tables must be initialised by the caller. Errors print
 * one line "hc-analyze: --db …: why" and return 2. */
int agg_ch_report(const agg_ch_req *q, agg_acc *total, agg_ch_pct *pct, agg_groups *levels,
                  agg_groups *buckets, query_stats *st, char *label, size_t lsize);

#endif
