/* config.h — every HC_* setting of the core, read once per process image.
 *
 * Environment variables are the only configuration an unmodified program can
 * receive; scripts/hc-run turns its options into these. Each is documented in
 * README.md ("Configuration"). Invalid values are reported once on stderr and
 * replaced by the default: configuration mistakes never break the app.
 *
 * The struct is filled by hc_config_load() before any thread starts and is
 * read-only afterwards, so it needs no lock.
 */
#ifndef HC_CORE_CONFIG_H
#define HC_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

#define HC_MAX_ROUTES 64

/* HC_ROUTE=HOST=URL: requests for HOST go to URL instead. */
typedef struct hc_route {
    char host[256];      /* lower-case host the app addresses */
    bool tls;            /* URL scheme https */
    char target[256];    /* URL host (name or IP literal, no brackets) */
    int port;            /* URL port (default 443 / 80) */
    char prefix[256];    /* URL path without trailing '/', prepended to the request path */
    char authority[300]; /* Host header for the upstream: "target[:port]" */
} hc_route;

typedef struct hc_config {
    bool observe;       /* HC_MODE=observe: passive capture, no gateway */
    char db_path[4096]; /* HC_DB (default: see store.h) */
    bool db_sync;       /* HC_DB_SYNC=1: fsync each commit */
    bool record;        /* HC_RECORD=0 disables the recorder */
    char ca_file[4096]; /* HC_CA_FILE: extra CA for upstream verification */
    char upstream_proxy
        [512]; /* HC_UPSTREAM_PROXY: reach upstreams through this HTTP proxy (proxychain.h) */
    char no_proxy[1024]; /* NO_PROXY / no_proxy: hosts reached directly all the same */
    hc_route routes[HC_MAX_ROUTES];
    int nroutes;
    size_t max_body;         /* HC_MAX_BODY: bytes of each body stored (default 8 MiB) */
    size_t max_req_buffer;   /* HC_MAX_REQUEST: largest request body the gateway buffers (32 MiB) */
    int connect_timeout_ms;  /* HC_CONNECT_TIMEOUT (default 30s) */
    int upstream_timeout_ms; /* HC_UPSTREAM_TIMEOUT: silence from upstream (default 600s) */
    int idle_timeout_ms;     /* HC_IDLE_TIMEOUT: idle client connection (default 900s) */
    size_t queue_max;        /* HC_QUEUE_MAX: exchanges waiting for the recorder (4096) */
    /* HC_QUEUE_WAIT_MS: a gateway thread's wait for room in a full queue (2000) */
    int queue_wait_ms;
    bool stream_usage; /* HC_STREAM_USAGE (default on): inject include_usage */
    bool debug;        /* HC_DEBUG */

    /* Helicone header defaults (a header in the request wins). */
    hc_buf properties;      /* HC_PROPERTY_<Name>=value, as a pairs list (record.h) */
    char user_id[256];      /* HC_USER_ID */
    char session_id[256];   /* HC_SESSION_ID */
    char session_name[256]; /* HC_SESSION_NAME */
    char session_path[512]; /* HC_SESSION_PATH */
    bool omit_request;      /* HC_OMIT_REQUEST */
    bool omit_response;     /* HC_OMIT_RESPONSE */

    /* Gateway features (options.h documents each; a header wins). */
    bool cache;               /* HC_CACHE */
    int64_t cache_ttl_us;     /* HC_CACHE_TTL (default 7 days, at most 365) */
    int cache_buckets;        /* HC_CACHE_BUCKETS (1..20, default 1) */
    char cache_seed[128];     /* HC_CACHE_SEED */
    char cache_ignore[512];   /* HC_CACHE_IGNORE_KEYS */
    int retries;              /* HC_RETRY (0 = off) */
    double retry_factor;      /* HC_RETRY_FACTOR (2) */
    int64_t retry_min_us;     /* HC_RETRY_MIN_TIMEOUT (1s) */
    int64_t retry_max_us;     /* HC_RETRY_MAX_TIMEOUT (10s) */
    char fallback_model[128]; /* HC_FALLBACK_MODEL */
    char fallback_on[256];    /* HC_FALLBACK_ON (default 429,500,502,503,504) */
    char *fallbacks;          /* HC_FALLBACKS: JSON list (owned), or NULL */
    char ratelimit[256];      /* HC_RATELIMIT: Helicone-RateLimit-Policy syntax */
    char *budget;             /* HC_BUDGET (owned), or NULL; parsed by budget.c */
} hc_config;

#define HC_CACHE_TTL_DEFAULT_US (7LL * 86400 * 1000000)
#define HC_CACHE_TTL_MAX_US     (365LL * 86400 * 1000000)
#define HC_FALLBACK_ON_DEFAULT  "429,500,502,503,504"

/* Fill cfg from the environment (cfg is zeroed first). Never fails: bad values
 * are logged once and defaulted. */
void hc_config_load(hc_config *cfg);
void hc_config_free(hc_config *cfg);

/* The route for `host` (case-insensitive), or NULL. */
const hc_route *hc_config_route(const hc_config *cfg, const char *host);

/* Parse "scheme://host[:port][/prefix]" into r (host field untouched).
 * 0 or HC_EINVAL. Exposed for tests. */
int hc_route_parse_url(const char *url, hc_route *r);

/* Boolean environment values: 1/true/yes/on and 0/false/no/off. */
bool hc_env_bool(const char *name, bool dflt);

#endif
