/* cache.h — the response cache (Helicone-Cache-*), in the shared store.
 *
 * Key: SHA-256 over the seed, the host the app addressed, the request path,
 * a digest of the credential headers (so two API keys never share answers,
 * and no key is stored), the canonical request body — JSON with object keys
 * sorted at every level and the Helicone-Cache-Ignore-Keys removed at the top
 * level, so key order and ignored fields do not matter — and the bucket
 * index. Any other difference (model, temperature, messages) is another key.
 *
 * Buckets (Helicone's semantics): with bucket size N, while fewer than N live
 * answers exist for a request the lookup is a MISS and the upstream's 2xx
 * answer is stored in a free bucket; once all N are live the lookup is a HIT
 * and the buckets are served round-robin.
 *
 * Entries expire after their TTL (expired ones count as free). What is stored
 * is what the app received: the response head minus framing and helicone-*
 * headers, and the body (de-chunked, as encoded by the provider), so a hit —
 * streamed or not — replays the same bytes.
 *
 * Shared (HC_SHARED_CACHE=1 with HC_SHARED, shared.h): a stored entry is
 * also SET in Redis under "hcshim:cache:" + hex of its bucket key, expiring
 * with it, if it is at most HC_SHARED_CACHE_MAX bytes; a local miss then
 * asks Redis, so a process with another store (another machine) gets the
 * hit. Bucket size 1 only (the rotation of N buckets stays local). Any Redis
 * trouble reads as a miss.
 *
 * Thread-safe (LMDB).
 */
#ifndef HC_CORE_CACHE_H
#define HC_CORE_CACHE_H

#include <stdint.h>

#include "cachefmt.h"
#include "http.h"
#include "options.h"
#include "store.h"

typedef struct hc_cache_ctx {
    uint8_t base[32]; /* key of the group; bucket keys derive from it */
    int buckets;
    int64_t ttl_us;
    char key_hex[65]; /* hex of base, stored in records as cache_key */
} hc_cache_ctx;

enum { HC_CACHE_MISS = 0, HC_CACHE_HIT = 1 };

/* Compute the key group of a request (body: the app's request body). 0 or HC_ENOMEM. */
int hc_cache_prepare(hc_cache_ctx *c, const hc_opts *o, const char *host, const char *path,
                     const hc_http_head *req, const char *body, size_t len);

/* Look the request up. HC_CACHE_HIT: *e is the answer (its memory lives in
 * storage) and *bucket its index. HC_CACHE_MISS: *bucket is the free bucket
 * to store into. Negative HC_E* on a store failure (treat as a miss). */
int hc_cache_lookup(hc_store *s, const hc_cache_ctx *c, int64_t now_us, hc_cache_entry *e,
                    hc_buf *storage, int *bucket);

/* Store e in bucket. 0 or HC_ESTORE / HC_EFULL / HC_ENOMEM. */
int hc_cache_put(hc_store *s, const hc_cache_ctx *c, int bucket, const hc_cache_entry *e);

/* The 32-byte store key of bucket b (HC_CACHE_ROTATION_BUCKET: the rotation counter). */
void hc_cache_bucket_key(const hc_cache_ctx *c, int b, uint8_t out[32]);

/* Canonical JSON text of body (sorted keys, top-level ignore list removed,
 * comma-separated). Returns 0 with out filled, or HC_EPARSE if body is not
 * JSON (callers then hash the raw bytes). */
int hc_cache_canonical(const char *body, size_t len, const char *ignore, hc_buf *out);

#endif
