/* cachefmt.h — the value of a response-cache entry (store table "cache").
 *
 * Key: 32 bytes, SHA-256 over the seed, host, path, credential digest,
 * canonical request body and bucket index (core/cache.c). The rotation
 * counter of a key group is stored under the same derivation with bucket
 * 0xFF as a 4-byte little-endian count.
 *
 * Value (format 1):
 *     byte     format (1)
 *     varint   created_us, expires_us (µs since epoch)
 *     16 bytes id of the record whose answer this is
 *     zigzag   cost_nusd of that answer (what a hit saves)
 *     varint   status
 *     byte     flags: 1 = the answer was streamed (replay chunked)
 *     varint×6 the answer's usage: tok_in, tok_out, tok_cached, tok_cw5m, tok_cw1h,
 *              tok_reasoning (a replayed stream may not carry it: the app did not ask)
 *     varint+bytes  host, model, path   (each: length, then bytes)
 *     varint+bytes  response head as the app received it, minus framing
 *                   and helicone-* headers ("HTTP/1.1 200 OK\r\n…\r\n", no blank line)
 *     rest     body blob (store.h hc_body_encode): the body as the app received it
 */
#ifndef HC_CACHEFMT_H
#define HC_CACHEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tokens.h"
#include "uuid.h"

#define HC_CACHE_FORMAT          1
#define HC_CACHE_ROTATION_BUCKET 0xFF

typedef struct hc_cache_entry {
    int64_t created_us, expires_us;
    uint8_t orig_id[HC_UUID_LEN];
    int64_t cost_nusd;
    int status;
    bool streamed;
    hc_tokens tok;                   /* the answer's usage; encoded in tok.v order */
    const char *host, *model, *path; /* NUL-terminated copies in the decode buffer */
    const char *head;
    size_t head_len; /* not NUL-terminated */
    const char *body;
    size_t body_len; /* decoded body */
} hc_cache_entry;

/* Encode e into out (appends). 0 or HC_ENOMEM. */
int hc_cache_entry_encode(const hc_cache_entry *e, hc_buf *out);
/* Decode p[0..n) into e; strings and the body are copied into `storage`
 * (which must outlive e; it is reset first). 0, HC_EPARSE, HC_ESCHEMA. */
int hc_cache_entry_decode(const void *p, size_t n, hc_cache_entry *e, hc_buf *storage);

#endif
