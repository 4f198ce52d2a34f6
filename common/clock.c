#include "clock.h"
#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t hc_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t hc_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int hc_parse_duration_us(const char *s, int64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return HC_EINVAL;
    /* DIGITS[.DIGITS] then the unit: no sign, exponent or hex (strtod would
     * take them), and no dependence on the locale's decimal point. */
    double v = 0, scale = 1;
    const char *end = s;
    for (; isdigit((unsigned char)*end); end++)
        v = v * 10 + (*end - '0');
    if (*end == '.') {
        end++;
        if (!isdigit((unsigned char)*end))
            return HC_EINVAL;
        for (; isdigit((unsigned char)*end); end++)
            v += (*end - '0') * (scale /= 10);
    }
    int64_t mult;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1000000;
    else if (strcmp(end, "ms") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mult = 60LL * 1000000;
    else if (strcmp(end, "h") == 0)
        mult = 3600LL * 1000000;
    else if (strcmp(end, "d") == 0)
        mult = 86400LL * 1000000;
    else if (strcmp(end, "w") == 0)
        mult = 7 * 86400LL * 1000000;
    else
        return HC_EINVAL;
    double us = v * (double)mult;
    if (!(us >= 0) || us > 9.0e18)
        return HC_EINVAL;
    *out = (int64_t)us;
    return 0;
}

void hc_format_time_utc(int64_t us, char *out, unsigned size)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((us % 1000000) / 1000));
}

int hc_parse_time_utc(const char *s, int64_t *out_us)
{
    if (!s || !*s)
        return HC_EINVAL;
    const char *p = s;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '\0' && p - s > 4) { /* Unix seconds, up to year ~292,000 (int64 µs) */
        errno = 0;
        long long secs = strtoll(s, NULL, 10);
        if (errno == ERANGE || secs > INT64_MAX / 1000000)
            return HC_EINVAL;
        *out_us = (int64_t)secs * 1000000;
        return 0;
    }
    struct tm tm = { 0 };
    int Y, M, D, h = 0, m = 0, n = 0;
    double sec = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) != 3)
        return HC_EINVAL;
    p = s + n;
    if (*p == 'T' || *p == ' ') {
        int k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &m, &k) != 2)
            return HC_EINVAL;
        p += 1 + k;
        if (*p == ':') {
            char *e;
            sec = strtod(p + 1, &e);
            p = e;
        }
    }
    if (*p == 'Z')
        p++;
    if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec < 0 || sec >= 61)
        return HC_EINVAL;
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    time_t t = timegm(&tm);
    *out_us = (int64_t)t * 1000000 + (int64_t)(sec * 1000000);
    return 0;
}
