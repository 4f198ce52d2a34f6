#include "retry.h"
#include "err.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

bool hc_retry_status(int status)
{
    return status == 0 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

int hc_parse_go_duration(const char *s, size_t n, int64_t *us)
{
    size_t i = 0;
    double total = 0;
    bool any = false;
    while (i < n) {
        size_t st = i;
        while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '.'))
            i++;
        if (i == st || i - st > 20)
            return HC_EINVAL;
        char num[24];
        memcpy(num, s + st, i - st);
        num[i - st] = '\0';
        char *end;
        double v = strtod(num, &end);
        if (*end)
            return HC_EINVAL;
        double mult;
        if (i + 1 < n && s[i] == 'm' && s[i + 1] == 's') {
            mult = 1e3;
            i += 2;
        } else if (i + 1 < n && s[i] == 'u' && s[i + 1] == 's') {
            mult = 1;
            i += 2;
        } else if (i < n && s[i] == 'h') {
            mult = 3600e6;
            i++;
        } else if (i < n && s[i] == 'm') {
            mult = 60e6;
            i++;
        } else if (i < n && s[i] == 's') {
            mult = 1e6;
            i++;
        } else {
            return HC_EINVAL;
        }
        total += v * mult;
        any = true;
    }
    if (!any || !(total >= 0) || total > 9e15)
        return HC_EINVAL;
    *us = (int64_t)total;
    return 0;
}

/* A non-negative number of seconds (scale 1e6) or ms (scale 1e3) as µs; -1 for
 * negative or NaN. Huge values (1e300, inf) saturate, to be capped by the
 * caller, instead of overflowing the conversion to int64 (undefined). */
static int64_t to_us(double v, double scale)
{
    if (!(v >= 0))
        return -1;
    double us = v * scale;
    return us < 9e15 ? (int64_t)us : (int64_t)9e15;
}

/* retry-after: delta-seconds or an IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT"). */
static int64_t parse_retry_after(const char *v, size_t n, int64_t now_us)
{
    char t[64];
    if (n == 0 || n >= sizeof t)
        return -1;
    memcpy(t, v, n);
    t[n] = '\0';
    char *end;
    double secs = strtod(t, &end);
    if (end != t && *end == '\0')
        return to_us(secs, 1e6);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *r = strptime(t, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!r || *r)
        return -1;
    int64_t at = (int64_t)timegm(&tm) * 1000000;
    return at > now_us ? at - now_us : 0;
}

/* A rate-limit reset header counts only on a 429 and only for the limit that
 * is exhausted (its remaining-* is 0): on other answers, or for the other
 * limit, it describes a window we need not wait for (OpenAI sends
 * x-ratelimit-reset-tokens: 6m0s on every answer). */
static bool exhausted(const hc_http_head *resp, const char *remaining_name)
{
    const hc_header *h = hc_http_header(resp, remaining_name);
    return !h || (h->value_len == 1 && h->value[0] == '0');
}

int64_t hc_retry_after_us(const hc_http_head *resp, int64_t now_us)
{
    if (!resp)
        return -1;
    int64_t best = -1;
    for (size_t i = 0; i < resp->nheaders; i++) {
        const hc_header *h = &resp->headers[i];
        int64_t us = -1;
        if (hc_span_ieq(h->name, h->name_len, "retry-after")) {
            us = parse_retry_after(h->value, h->value_len, now_us);
        } else if (hc_span_ieq(h->name, h->name_len, "retry-after-ms")) {
            char t[32];
            if (h->value_len && h->value_len < sizeof t) {
                memcpy(t, h->value, h->value_len);
                t[h->value_len] = '\0';
                char *end;
                double ms = strtod(t, &end);
                if (end != t && !*end)
                    us = to_us(ms, 1e3);
            }
        } else if (resp->status == 429 &&
                   ((hc_span_ieq(h->name, h->name_len, "x-ratelimit-reset-requests") &&
                     exhausted(resp, "x-ratelimit-remaining-requests")) ||
                    (hc_span_ieq(h->name, h->name_len, "x-ratelimit-reset-tokens") &&
                     exhausted(resp, "x-ratelimit-remaining-tokens")))) {
            if (hc_parse_go_duration(h->value, h->value_len, &us) != 0)
                us = -1;
        }
        if (us > best)
            best = us;
    }
    if (best > HC_RETRY_AFTER_CAP_US)
        best = HC_RETRY_AFTER_CAP_US;
    return best;
}

static double unit_random(void)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec * 2654435761u;
    }
    return (double)r / 4294967296.0;
}

int64_t hc_retry_wait_us(const hc_retry_policy *p, int k, const hc_http_head *resp, int64_t now_us)
{
    double w = (double)p->min_us * pow(p->factor, k);
    if (w > (double)p->max_us)
        w = (double)p->max_us;
    int64_t wait = (int64_t)(w / 2 + unit_random() * (w / 2));
    int64_t asked = hc_retry_after_us(resp, now_us);
    return asked > wait ? asked : wait;
}
