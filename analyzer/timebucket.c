/* timebucket.c — UTC calendar buckets (see timebucket.h). */
#include "timebucket.h"
#include "err.h"

#include <string.h>
#include <time.h>

static const char *const names[] = { "none", "minute", "hour", "day", "week", "month" };

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t tb_start(enum tb_unit u, int64_t us)
{
    int64_t s = floor_div(us, 1000000);
    switch (u) {
    case TB_MINUTE: return floor_div(s, 60) * 60 * 1000000;
    case TB_HOUR: return floor_div(s, 3600) * 3600 * 1000000;
    case TB_DAY: return floor_div(s, 86400) * 86400 * 1000000;
    case TB_WEEK: {
        /* 1970-01-01 was a Thursday; ISO weeks start on Monday. */
        int64_t days = floor_div(s, 86400);
        return (days - ((days + 3) % 7 + 7) % 7) * 86400 * 1000000;
    }
    case TB_MONTH: {
        time_t t = (time_t)s;
        struct tm tm;
        gmtime_r(&t, &tm);
        tm.tm_mday = 1;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        return (int64_t)timegm(&tm) * 1000000;
    }
    default: return 0;
    }
}

int64_t tb_next(enum tb_unit u, int64_t start)
{
    if (u == TB_MONTH) {
        time_t t = (time_t)(start / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        tm.tm_mon++;
        return (int64_t)timegm(&tm) * 1000000;
    }
    int64_t step = u == TB_MINUTE ? 60 : u == TB_HOUR ? 3600 : u == TB_DAY ? 86400 : 7 * 86400;
    return start + step * 1000000;
}

void tb_label(enum tb_unit u, int64_t start, char *out, size_t size)
{
    time_t t = (time_t)(start / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    const char *f = u == TB_MINUTE ? "%Y-%m-%d %H:%M"
                    : u == TB_HOUR ? "%Y-%m-%d %H:00"
                    : u == TB_DAY  ? "%Y-%m-%d"
                    : u == TB_WEEK ? "%G-W%V"
                                   : "%Y-%m";
    if (size && strftime(out, size, f, &tm) == 0)
        out[0] = '\0';
}

const char *tb_name(enum tb_unit u)
{
    return (unsigned)u < sizeof names / sizeof names[0] ? names[u] : "none";
}

int tb_parse(const char *s, enum tb_unit *out)
{
    for (size_t i = 1; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum tb_unit)i;
            return 0;
        }
    return HC_EINVAL;
}
