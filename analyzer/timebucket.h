/* timebucket.h — UTC calendar buckets for trends (report, ratelimits, the
 * dashboards): a bucket's start, the next bucket, its label, the unit's name.
 * Weeks are ISO weeks (Monday to Sunday), months calendar months. */
#ifndef HC_ANA_TIMEBUCKET_H
#define HC_ANA_TIMEBUCKET_H

#include <stddef.h>
#include <stdint.h>

/* TB_NONE: no bucketing (a trend not asked for; the dashboards' "auto"). */
enum tb_unit { TB_NONE, TB_MINUTE, TB_HOUR, TB_DAY, TB_WEEK, TB_MONTH };

/* Start (µs since the epoch) of the bucket holding us. u must not be TB_NONE. */
int64_t tb_start(enum tb_unit u, int64_t us);
/* Start of the bucket after the one starting at start. */
int64_t tb_next(enum tb_unit u, int64_t start);
/* "2026-11-24 10:00", "2026-11-24", "2026-W48", "2026-11" (minute: "… 10:07"). */
void tb_label(enum tb_unit u, int64_t start, char *out, size_t size);
/* "minute", "hour", "day", "week", "month"; "none" for TB_NONE. */
const char *tb_name(enum tb_unit u);
/* The unit named s (one of tb_name's, not "none"); 0 or HC_EINVAL. */
int tb_parse(const char *s, enum tb_unit *out);

#endif
