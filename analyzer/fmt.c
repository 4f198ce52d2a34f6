/* fmt.c — number, money, time and safe-text formatting (see fmt.h). */
#include "fmt.h"
#include "err.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* snprintf into a roomy buffer, then copy: the compiler cannot prove that
 * struct tm fields are small, and -Wformat-truncation is an error here. */
static void copy_out(char *out, size_t size, const char *s)
{
    size_t n = strnlen(s, size - 1);
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Group the digits of an unsigned decimal string with commas. */
static void group(char *out, size_t size, const char *digits, bool neg)
{
    size_t n = strlen(digits), o = 0;
    if (neg && o + 1 < size)
        out[o++] = '-';
    for (size_t i = 0; i < n && o + 2 < size; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

const char *fmt_bytes(char out[FMT_NUM], uint64_t b)
{
    if (b < 1024)
        snprintf(out, FMT_NUM, "%" PRIu64 " B", b);
    else if (b < 1024ull * 1024)
        snprintf(out, FMT_NUM, "%.1f KiB", (double)b / 1024);
    else if (b < 1024ull * 1024 * 1024)
        snprintf(out, FMT_NUM, "%.1f MiB", (double)b / (1024.0 * 1024));
    else
        snprintf(out, FMT_NUM, "%.2f GiB", (double)b / (1024.0 * 1024 * 1024));
    return out;
}

const char *fmt_int(char out[FMT_NUM], int64_t v)
{
    char d[32];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(d, sizeof d, "%" PRIu64, u);
    group(out, FMT_NUM, d, v < 0);
    return out;
}

const char *fmt_usd(char out[FMT_NUM], int64_t nusd)
{
    bool neg = nusd < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)nusd : (uint64_t)nusd;
    if (u == 0) {
        snprintf(out, FMT_NUM, "$0");
        return out;
    }
    /* Cents from $1 up; below, three significant digits (at most 9 decimals,
     * a nano-dollar): one rule, so amounts side by side read alike. */
    int dec = 2;
    if (u < 1000000000ull) {
        int nd = 0;
        for (uint64_t v = u; v; v /= 10)
            nd++;
        dec = 12 - nd > 9 ? 9 : 12 - nd;
    }
    uint64_t r, scale;
    for (;;) {
        uint64_t div = 1;
        for (int i = dec; i < 9; i++)
            div *= 10;
        r = (u + div / 2) / div; /* round half up, in units of 10^-dec dollars */
        scale = 1;
        for (int i = 0; i < dec; i++)
            scale *= 10;
        /* Rounding up to a fourth significant digit ($0.09996 → $0.1000): one decimal less. */
        if (dec > 2 && u < 1000000000ull && r >= 1000) {
            dec--;
            continue;
        }
        break;
    }
    char whole[32];
    snprintf(whole, sizeof whole, "%" PRIu64, r / scale);
    char g[FMT_NUM], tmp[128];
    group(g, sizeof g, whole, false);
    snprintf(tmp, sizeof tmp, "%s$%s.%0*" PRIu64, neg ? "-" : "", g, dec, r % scale);
    copy_out(out, FMT_NUM, tmp);
    return out;
}

const char *fmt_usd_exact(char out[FMT_NUM], int64_t nusd)
{
    bool neg = nusd < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)nusd : (uint64_t)nusd;
    uint64_t whole = u / 1000000000u, frac = u % 1000000000u;
    int n = snprintf(out, FMT_NUM, "%s%" PRIu64 ".%09" PRIu64, neg ? "-" : "", whole, frac);
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
    return out;
}

const char *fmt_dur(char out[FMT_NUM], int64_t us)
{
    if (us < 0)
        snprintf(out, FMT_NUM, "-");
    else if (us < 10000)
        snprintf(out, FMT_NUM, "%.2f ms", (double)us / 1000.0);
    else if (us < 1000000)
        snprintf(out, FMT_NUM, "%" PRId64 " ms", (us + 500) / 1000);
    else if (us < 60000000)
        snprintf(out, FMT_NUM, "%.2f s", (double)us / 1e6);
    else if (us < 3600000000LL) {
        int64_t s = (us + 500000) / 1000000;
        snprintf(out, FMT_NUM, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
    } else {
        int64_t m = (us + 30000000) / 60000000;
        snprintf(out, FMT_NUM, "%" PRId64 "h %02" PRId64 "m", m / 60, m % 60);
    }
    return out;
}

const char *fmt_ms_exact(char out[FMT_NUM], int64_t us)
{
    if (us < 0)
        out[0] = '\0';
    else
        snprintf(out, FMT_NUM, "%" PRId64 ".%03" PRId64, us / 1000, us % 1000);
    return out;
}

const char *fmt_rate(char out[FMT_NUM], double fraction)
{
    double p = 100.0 * fraction, a = p < 0 ? -p : p;
    snprintf(out, FMT_NUM, a > 0 && a < 0.1 ? "%.2f%%" : "%.1f%%", p);
    return out;
}

const char *fmt_pct(char out[FMT_NUM], uint64_t num, uint64_t den)
{
    if (!den)
        snprintf(out, FMT_NUM, "-");
    else
        fmt_rate(out, (double)num / (double)den);
    return out;
}

static void split_time(int64_t us, struct tm *tm, int64_t *frac)
{
    int64_t s = us / 1000000, f = us % 1000000;
    if (f < 0) {
        f += 1000000;
        s--;
    }
    time_t t = (time_t)s;
    gmtime_r(&t, tm);
    *frac = f;
}

const char *fmt_time(char out[32], int64_t us)
{
    struct tm tm;
    int64_t f;
    split_time(us, &tm, &f);
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    copy_out(out, 32, tmp);
    return out;
}

const char *fmt_time_iso(char out[40], int64_t us)
{
    struct tm tm;
    int64_t f;
    split_time(us, &tm, &f);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "Z", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, f);
    copy_out(out, 40, tmp);
    return out;
}

bool fmt_term_safe(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f)
            return false;
    }
    return true;
}

int fmt_term(hc_buf *out, const char *s, size_t n, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x7f)
            p++;
        if (p > run && hc_buf_append(out, run, (size_t)(p - run)))
            return HC_ENOMEM;
        if (p >= end)
            break;
        unsigned c = *p;
        char esc[16];
        const char *e = NULL;
        size_t adv = 1;
        if (c < 0x20 || c == 0x7f) {
            if ((c == '\n' || c == '\t') && (flags & FMT_KEEP_NL)) {
                esc[0] = (char)c;
                esc[1] = '\0';
                e = esc;
            } else if (c == '\n')
                e = "\\n";
            else if (c == '\t')
                e = "\\t";
            else if (c == '\r')
                e = "\\r";
            else if (c == 0x1b)
                e = "\\e";
            else {
                snprintf(esc, sizeof esc, "\\x%02x", c);
                e = esc;
            }
        } else {
            uint32_t cp;
            size_t len = utf8_decode(p, (size_t)(end - p), &cp);
            if (!len) {
                snprintf(esc, sizeof esc, "\\x%02x", c);
                e = esc;
            } else if (cp < 0xa0) {
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
                e = esc;
                adv = len;
            } else {
                if (hc_buf_append(out, p, len))
                    return HC_ENOMEM;
                p += len;
                continue;
            }
        }
        if (hc_buf_puts(out, e))
            return HC_ENOMEM;
        p += adv;
    }
    if (!out->data && hc_buf_append(out, "", 0))
        return HC_ENOMEM;
    return 0;
}

const char *fmt_built(const hc_buf *b)
{
    if (hc_buf_error(b)) {
        fprintf(stderr, "hc-analyze: out of memory while building the output\n");
        exit(1);
    }
    return b->data ? b->data : "";
}
