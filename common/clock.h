/* clock.h — time in the units the record uses. Thread-safe, async-signal-safe. */
#ifndef HC_CLOCK_H
#define HC_CLOCK_H

#include <stdint.h>

/* Wall clock, microseconds since the Unix epoch (what records store). */
int64_t hc_now_us(void);
/* Monotonic clock, microseconds (for latencies and deadlines). */
int64_t hc_mono_us(void);

/* Parse a duration: "90" (seconds), "250ms", "30s", "15m", "24h", "7d", "2w".
 * Stores microseconds in *out. 0, or HC_EINVAL (out untouched). */
int hc_parse_duration_us(const char *s, int64_t *out);

/* Format µs since epoch as UTC "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= 32 bytes). */
void hc_format_time_utc(int64_t us, char *out, unsigned size);

/* Parse "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]][Z]" (UTC, 'T' or ' ') or
 * a bare integer of Unix seconds. 0 or HC_EINVAL. */
int hc_parse_time_utc(const char *s, int64_t *out_us);

#endif
