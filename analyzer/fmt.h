/* fmt.h — how hc-analyze spells numbers, money, times and untrusted text.
 *
 * Money: the store keeps costs as integer nano-US-dollars (1e-9 USD). Text
 * output rounds half up to a precision that still shows small costs
 * ($0.000123); CSV and JSON give the exact decimal ("0.000123456").
 *
 * Untrusted text (prompts, responses, property values, model names — anything
 * that came from an app or a provider) is escaped before it reaches a
 * terminal: C0 controls, DEL, C1 controls (U+0080–U+009F) and invalid UTF-8
 * become visible escapes (\e, \x1b, \u009b …), so a hostile prompt cannot emit
 * terminal escape sequences.
 *
 * Every function writes a NUL-terminated string into a caller buffer (sizes
 * noted) or appends to an hc_buf, and returns the output. Thread-safe.
 */
#ifndef HC_ANA_FMT_H
#define HC_ANA_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FMT_NUM 48 /* enough for any number format below */

/* The one money format of every text output (tables, summaries, audit, show,
 * the dashboard's fmtUsd): cents from $1 up ("$1,234.57", "$2.50"), three
 * significant digits below ("$0.0100", "$0.000407", "$0.00000795"), at most
 * nine decimals ("$0.000000001"); "$0" for zero; negatives with a leading '-'. */
const char *fmt_usd(char out[FMT_NUM], int64_t nusd);
/* Exact decimal dollars, no '$', trailing zeros trimmed: "0.000123456", "2", "-0.5". */
const char *fmt_usd_exact(char out[FMT_NUM], int64_t nusd);
/* Thousands separators: "1,234,567". */
const char *fmt_int(char out[FMT_NUM], int64_t v);
/* The one duration format of text output (latency, p95 in report and audit,
 * waits). Microseconds as a short duration: "-" (< 0), "850 µs"→"0.85 ms", "812 ms", "2.41 s",
 * "3m 12s", "2h 05m". */
const char *fmt_dur(char out[FMT_NUM], int64_t us);
/* Microseconds as milliseconds with 3 decimals ("812.345"), for CSV; "" when < 0. */
const char *fmt_ms_exact(char out[FMT_NUM], int64_t us);
/* A size for people: "812 B", "12.3 KiB", "4.5 MiB", "1.25 GiB". */
const char *fmt_bytes(char out[FMT_NUM], uint64_t bytes);
/* The one rate format (error rates, hit rates, limits, increases): a fraction
 * as "12.5%", "0.0%", "0.05%" (two decimals only below 0.1%), "-3.0%". */
const char *fmt_rate(char out[FMT_NUM], double fraction);
/* fmt_rate() of num/den; "-" when den == 0. */
const char *fmt_pct(char out[FMT_NUM], uint64_t num, uint64_t den);
/* µs since the epoch as UTC "2026-11-01 10:00:00" (out >= 32 bytes). */
const char *fmt_time(char out[32], int64_t us);
/* µs since the epoch as RFC 3339 UTC "2026-11-01T10:00:00.123456Z" (out >= 40 bytes). */
const char *fmt_time_iso(char out[40], int64_t us);

enum {
    FMT_KEEP_NL = 1u << 0, /* keep '\n' and '\t' (bodies); otherwise they become "\n", "\t" */
};
/* Append s (n bytes) to out with control characters and invalid UTF-8
 * escaped (see above). 0 or HC_ENOMEM. */
int fmt_term(hc_buf *out, const char *s, size_t n, unsigned flags);
/* Does s (n bytes) need fmt_term() at all? (fast path) */
bool fmt_term_safe(const char *s, size_t n);
/* The text built in b ("" when nothing was), to print or to use as a key.
 * A buffer whose building failed (buf.h: out of memory) is never used in
 * part: hc-analyze says so on stderr and exits 1, as for any allocation
 * failure of a command. */
const char *fmt_built(const hc_buf *b);

#endif
