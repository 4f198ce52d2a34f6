/* trend.h — a time series kept as agg groups keyed by bucket start: report
 * --trend, ratelimits --trend and the dashboards' series.
 *
 * A record goes into the group whose key is its bucket's start (timebucket.h)
 * in decimal µs (trend_key); the series is then walked from the first bucket
 * to the last, the empty ones included (trend_iter), and printed as one
 * section of report and ratelimits (trend_emit_*). `--trend UNIT` is parsed
 * by trend_parse_opt for every command that takes it.
 *
 * Pure functions over the caller's groups; thread-safe as the groups are.
 */
#ifndef HC_ANA_TREND_H
#define HC_ANA_TREND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "cli.h"
#include "jsonw.h"
#include "table.h"
#include "timebucket.h"

#define TREND_KEY_MAX 32

/* The group key of the bucket of unit u holding us, into k; its length. */
size_t trend_key(enum tb_unit u, int64_t us, char k[TREND_KEY_MAX]);

/* Every bucket from the first to the last key of g, in order. */
typedef struct trend_iter {
    const agg_groups *g;
    enum tb_unit u;
    int64_t next, hi;
} trend_iter;

/* Start a walk over g (the groups keyed by trend_key with unit u). */
void trend_iter_init(trend_iter *it, const agg_groups *g, enum tb_unit u);
/* The next bucket: its start in *start and its group's index in g in *gi
 * (-1: an empty bucket, no group). false after the last. */
bool trend_next(trend_iter *it, int64_t *start, long *gi);

/* ---- The trend section of report and ratelimits ------------------------------
 * JSON: "trend": {"unit": U, "buckets": [{"period": …, "start": …, …}, …]};
 * text: a title "Trend by U" and a table whose first columns are PERIOD and
 * START (UTC); CSV: that table alone. */

/* The section's head; returns the table to fill (NULL for JSON, where w is used). */
table *trend_emit_begin(enum cli_fmt fmt, jw *w, enum tb_unit u, const table_col *cols,
                        size_t ncols);
/* One bucket's period and start: JSON opens its object (the caller adds its
 * fields and closes it), else the first two cells of its row. */
void trend_emit_period(enum cli_fmt fmt, jw *w, table *t, enum tb_unit u, int64_t start);
/* The section's end. */
void trend_emit_end(enum cli_fmt fmt, jw *w, table *t);

/* `--trend UNIT` of report and ratelimits: hour, day, week or month. 0, or
 * prints "hc-analyze: --trend: expected …, got 'X'" and returns
 * CLI_EXIT_MISUSE (2). */
int trend_parse_opt(const char *arg, enum tb_unit *out);

#endif
