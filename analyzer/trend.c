/* trend.c — time series over agg groups keyed by bucket start (see trend.h). */
#include "trend.h"
#include "fmt.h"

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

table *trend_emit_begin(enum cli_fmt fmt, jw *w, enum tb_unit u, const table_col *cols,
                        size_t ncols)
{
    if (fmt == CLI_JSON) {
        jw_key(w, "trend");
        jw_obj(w);
        jw_kstr(w, "unit", tb_name(u));
        jw_key(w, "buckets");
        jw_arr(w);
        return NULL;
    }
    if (fmt == CLI_TEXT)
        table_textf(stdout, 2, "\nTrend by %s\n", tb_name(u));
    return table_new(stdout, fmt, cols, ncols);
}

void trend_emit_period(enum cli_fmt fmt, jw *w, table *t, enum tb_unit u, int64_t start)
{
    char label[32], iso[40], tstart[32];
    tb_label(u, start, label, sizeof label);
    fmt_time_iso(iso, start);
    if (fmt == CLI_JSON) {
        jw_obj(w);
        jw_kstr(w, "period", label);
        jw_kstr(w, "start", iso);
        return;
    }
    table_cell(t, label);
    table_cell2(t, fmt_time(tstart, start), iso);
}

void trend_emit_end(enum cli_fmt fmt, jw *w, table *t)
{
    if (fmt == CLI_JSON) {
        jw_arr_end(w);
        jw_obj_end(w);
    }
    table_end(t);
}
