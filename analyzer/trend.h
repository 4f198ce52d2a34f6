/* trend.h — a time series kept as agg groups keyed by bucket start: report
 * --trend, ratelimits --trend and the dashboards' series.
 *
 * A record goes into the group whose key is its bucket's start (timebucket.h)
 * in decimal µs (trend_key); the series is then walked from the first bucket
 * to the last, the empty ones included (trend_iter). `--trend UNIT` is parsed
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
#include "timebucket.h"

#define TREND_KEY_MAX 32

/* The group key of the bucket of unit u holding us, into k; its length. */
size_t trend_key(enum tb_unit u, int64_t us, char k[TREND_KEY_MAX]);

/* Every bucket from the first to the last key of g, in order. */
typedef struct trend_iter {
    const agg_groups *g;
    enum tb_unit      u;
    int64_t           next, hi;
} trend_iter;

/* Start a walk over g (the groups keyed by trend_key with unit u). */
void trend_iter_init(trend_iter *it, const agg_groups *g, enum tb_unit u);
/* The next bucket: its start in *start and its group's index in g in *gi
 * (-1: an empty bucket, no group). false after the last. */
bool trend_next(trend_iter *it, int64_t *start, long *gi);

/* `--trend UNIT` of report and ratelimits: hour, day, week or month. 0, or
 * prints "hc-analyze: --trend: expected …, got 'X'" and returns
 * CLI_EXIT_MISUSE (2). */
int  trend_parse_opt(const char *arg, enum tb_unit *out);

#endif
