/* uuid.h — record ids: RFC 9562 UUIDv7 (48-bit ms timestamp, 12 bits of sub-ms
 * fraction, 62 random bits). Byte order sorts by time, so the records table,
 * keyed by id, iterates in time order and "newest first" is a reverse cursor.
 * Ids from different processes and machines do not collide (62 random bits),
 * which is what lets `hc-analyze merge` combine stores without duplicates.
 */
#ifndef HC_UUID_H
#define HC_UUID_H

#include <stdint.h>

#define HC_UUID_LEN    16
#define HC_UUID_STRLEN 36 /* without the NUL */

/* Make an id for wall-clock time `us` (µs since epoch). Thread-safe. */
void hc_uuid_v7(uint8_t out[HC_UUID_LEN], int64_t us);
/* Lower-case 8-4-4-4-12 text into out (>= 37 bytes). */
void hc_uuid_format(const uint8_t id[HC_UUID_LEN], char *out);
/* Parse the 36-char form (case-insensitive). 0 or HC_EINVAL. */
int hc_uuid_parse(const char *s, uint8_t out[HC_UUID_LEN]);
/* The timestamp (µs, ms precision + sub-ms fraction) an id was made for. */
int64_t hc_uuid_time_us(const uint8_t id[HC_UUID_LEN]);

#endif
