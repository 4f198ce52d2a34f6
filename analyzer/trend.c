/* trend.c — time series over agg groups keyed by bucket start (see trend.h). */
#include "trend.h"
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

size_t trend_key(enum tb_unit u, int64_t us, char k[TREND_KEY_MAX])
{
    return (size_t)snprintf(k, TREND_KEY_MAX, "%" PRId64, tb_start(u, us));
}

void trend_iter_init(trend_iter *it, const agg_groups *g, enum tb_unit u)
{
    it->g = g;
    it->u = u;
    it->next = INT64_MAX;
    it->hi = INT64_MIN;
    for (size_t i = 0; i < g->n; i++) {
        int64_t s = strtoll(g->keys[i], NULL, 10);
        if (s < it->next)
            it->next = s;
        if (s > it->hi)
            it->hi = s;
    }
}

bool trend_next(trend_iter *it, int64_t *start, long *gi)
{
    if (!it->g->n || it->next > it->hi)
        return false;
    char k[TREND_KEY_MAX];
    int n = snprintf(k, sizeof k, "%" PRId64, it->next);
    *start = it->next;
    *gi = agg_group_find(it->g, k, (size_t)n);
    it->next = tb_next(it->u, it->next);
    return true;
}

int trend_parse_opt(const char *arg, enum tb_unit *out)
{
    if (tb_parse(arg, out) != 0 || *out == TB_MINUTE)
        return cli_misuse("--trend: expected hour, day, week or month, got '%s'", arg);
    return 0;
}
