/* options.h — per-request gateway options: the Helicone header protocol.
 *
 * Every option starts from its HC_* environment default (config.h), and a
 * Helicone-* header in the request overrides it, as Helicone does:
 *
 *   Helicone-Property-<Name>: v    custom property (HC_PROPERTY_<Name>)
 *   Helicone-User-Id               user (HC_USER_ID)
 *   Helicone-Session-Id/-Path/-Name  session (HC_SESSION_ID/_PATH/_NAME)
 *   Helicone-Request-Id            the app's own id for this request
 *   Helicone-Omit-Request/-Response  do not store that body (HC_OMIT_REQUEST/_RESPONSE)
 *   Helicone-Stream-Usage          add stream_options.include_usage (HC_STREAM_USAGE, default on)
 *   Helicone-Auth                  accepted and ignored (no hosted service)
 *
 *   Helicone-Cache-Enabled: true   answer identical requests from the cache (HC_CACHE)
 *     Cache-Control: max-age=N / s-maxage=N   lifetime (HC_CACHE_TTL; default 7 d, max 365 d)
 *     Helicone-Cache-Bucket-Max-Size: 1..20   answers kept per request (HC_CACHE_BUCKETS)
 *     Helicone-Cache-Seed: S                  separate namespace (HC_CACHE_SEED)
 *     Helicone-Cache-Ignore-Keys: a,b         body keys left out of the key (HC_CACHE_IGNORE_KEYS)
 *   Helicone-Retry-Enabled: true   retry 429/5xx/connection failures (HC_RETRY=N retries)
 *     Helicone-Retry-Num (5), -Factor (2), -Min-Timeout (1000 ms), -Max-Timeout (10000 ms)
 *     (HC_RETRY_FACTOR, HC_RETRY_MIN_TIMEOUT, HC_RETRY_MAX_TIMEOUT)
 *   Helicone-Fallback-Model: M     on failure, retry with model M (HC_FALLBACK_MODEL)
 *     Helicone-Fallback-OnCodes: 429,500-599   which statuses fall back (HC_FALLBACK_ON)
 *   Helicone-Fallbacks: [JSON]     ordered fallback targets (HC_FALLBACKS), see fallback.h
 *   Helicone-RateLimit-Policy: Q;w=S;u=request|cents;s=user|Prop   (HC_RATELIMIT), see ratelimit.h
 *
 * Every header whose name starts with "Helicone-" is removed before the
 * request goes upstream (hc_is_helicone_header).
 */
#ifndef HC_CORE_OPTIONS_H
#define HC_CORE_OPTIONS_H

#include <stdbool.h>

#include "buf.h"
#include "config.h"
#include "http.h"

typedef struct hc_opts {
    hc_buf props; /* pairs list (record.h); a header replaces the env value of the same name */
    char user[256];
    char session_id[256];
    char session_path[512];
    char session_name[256];
    char request_id[128];
    bool omit_request, omit_response;
    bool stream_usage;

    bool cache;
    int64_t cache_ttl_us;
    int cache_buckets;
    char cache_seed[128];
    char cache_ignore[512];
    int retries; /* 0 = off */
    double retry_factor;
    int64_t retry_min_us, retry_max_us;
    char fallback_model[128];
    char fallback_on[256];
    bool fallback_on_header; /* fallback_on came from Helicone-Fallback-OnCodes */
    char *fallbacks;         /* JSON list (owned) or NULL */
    char ratelimit[256];

    /* Set when a header value is invalid: the request is answered 400. */
    char bad_header[64];
    char bad_reason[192];
} hc_opts;

/* Fill o from cfg's defaults and the request head h. o must be zeroed or
 * freed before. 0 or HC_ENOMEM. The caller frees o with hc_opts_free. */
int hc_opts_from_request(hc_opts *o, const hc_config *cfg, const hc_http_head *h);
void hc_opts_free(hc_opts *o);

/* True if the header name is in the Helicone-* namespace (case-insensitive). */
bool hc_is_helicone_header(const char *name, size_t len);

/* Parse a boolean header value ("true", "1", "yes", "on" / "false", "0", …).
 * Returns dflt when v is not one of those. */
bool hc_header_bool(const char *v, size_t n, bool dflt);

#endif
