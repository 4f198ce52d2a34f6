#include "config.h"
#include "buf.h"
#include "clock.h"
#include "context.h"
#include "ratelimit.h"
#include "err.h"
#include "redact.h"
#include "fallback.h"
#include "log.h"
#include "mode.h"
#include "options.h"
#include "record.h"
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

bool hc_env_bool(const char *name, bool dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on"))
        return true;
    if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
        !strcasecmp(v, "off"))
        return false;
    hc_log_warn_once(name, "%s=%s: expected 1/0, true/false, yes/no or on/off", name, v);
    return dflt;
}

/* A duration in µs: `30s`, `500ms`, `10m`, `7d`; a bare number counts in
 * units of bare_us (seconds for timeouts and TTLs, milliseconds where the
 * matching Helicone header takes milliseconds). Above max_us: max_us, said. */
static int64_t env_dur_us(const char *name, int64_t dflt_us, int64_t max_us, int64_t bare_us)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt_us;
    int64_t us;
    size_t digits = strspn(v, "0123456789");
    if (v[digits] == '\0') {
        /* Whole digits: in units of bare_us; too many to count is "over the maximum". */
        errno = 0;
        unsigned long long n = strtoull(v, NULL, 10);
        us = (errno || n > (unsigned long long)(INT64_MAX / bare_us)) ? INT64_MAX
                                                                      : (int64_t)n * bare_us;
    } else if (isdigit((unsigned char)v[strlen(v) - 1]) && hc_parse_duration_us(v, &us) == 0) {
        us = (int64_t)((double)us / 1e6 *
                       (double)bare_us); /* a bare fraction: parsed as seconds, rescaled */
    } else if (hc_parse_duration_us(v, &us) != 0) {
        hc_log_warn_once(
            name, "%s=%s: expected a duration such as 30s, 500ms or 10m (a bare number is %s)",
            name, v, bare_us == 1000 ? "milliseconds" : "seconds");
        return dflt_us;
    }
    if (us > max_us) {
        long long s = (long long)(max_us / 1000000);
        bool days = s % 86400 == 0;
        hc_log_warn_once(name, "%s=%s: over the maximum, %lld%s, which is used", name, v,
                         days ? s / 86400 : s, days ? "d" : "s");
        us = max_us;
    }
    return us;
}

static int env_ms(const char *name, int dflt_ms)
{
    return (int)(env_dur_us(name, (int64_t)dflt_ms * 1000, 86400LL * 1000000, 1000000) / 1000);
}

static size_t env_size(const char *name, size_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    unsigned long long mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mult = 1024ull * 1024 * 1024, end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (end == v || *end || n > (1ull << 40) / mult) {
        hc_log_warn_once(name, "%s=%s: expected a size such as 8M or 65536", name, v);
        return dflt;
    }
    return (size_t)(n * mult);
}

static int env_int(const char *name, int dflt, int lo, int hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < lo || n > hi) {
        hc_log_warn_once(name, "%s=%s: expected a whole number from %d to %d", name, v, lo, hi);
        return dflt;
    }
    return (int)n;
}

static double env_double(const char *name, double dflt, double lo, double hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    double d = strtod(v, &end);
    if (*end || !(d >= lo && d <= hi)) {
        hc_log_warn_once(name, "%s=%s: expected a number from %g to %g", name, v, lo, hi);
        return dflt;
    }
    return d;
}

static void env_str(const char *name, char *out, size_t size)
{
    const char *v = getenv(name);
    hc_strlcpy(out, size, v ? v : "");
}

int hc_route_parse_url(const char *url, hc_route *r)
{
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        r->tls = true;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        r->tls = false;
        p = url + 7;
    } else {
        return HC_EINVAL;
    }
    size_t hlen = strcspn(p, "/");
    const char *hp = p, *port = NULL;
    size_t namelen;
    if (*hp == '[') {
        const char *rb = memchr(hp, ']', hlen);
        if (!rb)
            return HC_EINVAL;
        namelen = (size_t)(rb - hp - 1);
        hp++;
        if (rb + 1 < p + hlen) {
            if (rb[1] != ':')
                return HC_EINVAL;
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(hp, ':', hlen);
        namelen = colon ? (size_t)(colon - hp) : hlen;
        if (colon)
            port = colon + 1;
    }
    if (namelen == 0 || namelen >= sizeof r->target)
        return HC_EINVAL;
    memcpy(r->target, hp, namelen);
    r->target[namelen] = '\0';
    for (char *c = r->target; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    r->port = r->tls ? 443 : 80;
    if (port) {
        long n = 0;
        const char *q = port;
        for (; q < p + hlen && *q >= '0' && *q <= '9' && n <= 65535; q++)
            n = n * 10 + (*q - '0');
        if (q == port || q != p + hlen || n < 1 || n > 65535)
            return HC_EINVAL;
        r->port = (int)n;
    }
    const char *path = p + hlen;
    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/')
        plen--;
    if (plen >= sizeof r->prefix)
        return HC_EINVAL;
    memcpy(r->prefix, path, plen);
    r->prefix[plen] = '\0';
    bool v6 = strchr(r->target, ':') != NULL;
    bool dflt = r->port == (r->tls ? 443 : 80);
    if (dflt)
        snprintf(r->authority, sizeof r->authority, v6 ? "[%s]" : "%s", r->target);
    else
        snprintf(r->authority, sizeof r->authority, v6 ? "[%s]:%d" : "%s:%d", r->target, r->port);
    return 0;
}

static void load_routes(hc_config *cfg)
{
    const char *v = getenv("HC_ROUTE");
    while (v && *v && cfg->nroutes < HC_MAX_ROUTES) {
        size_t n = strcspn(v, ", ");
        char item[1024];
        snprintf(item, sizeof item, "%.*s", (int)n, v);
        char *eq = strchr(item, '=');
        hc_route *r = &cfg->routes[cfg->nroutes];
        memset(r, 0, sizeof *r);
        if (eq && eq > item && (size_t)(eq - item) < sizeof r->host) {
            *eq = '\0';
            for (char *c = item; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            hc_strlcpy(r->host, sizeof r->host, item);
            if (hc_route_parse_url(eq + 1, r) == 0) {
                cfg->nroutes++;
            } else {
                char shown[sizeof item];
                hc_url_redact(shown, sizeof shown, eq + 1);
                hc_log_warn_once(
                    "route_url",
                    "HC_ROUTE: '%s' is not a URL like https://127.0.0.1:8443[/prefix]; "
                    "requests for %s go nowhere",
                    shown, item);
            }
        }
        v += n;
        v += strspn(v, ", ");
    }
}

static void load_properties(hc_config *cfg)
{
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "HC_PROPERTY_", 12) != 0)
            continue;
        const char *name = *e + 12;
        const char *eq = strchr(name, '=');
        if (!eq || eq == name)
            continue;
        char n[128];
        snprintf(n, sizeof n, "%.*s", (int)(eq - name), name);
        hc_pairs_add(&cfg->properties, n, eq + 1);
    }
    hc_context_env(&cfg->properties); /* trace, baggage, CI (context.h); HC_PROPERTY_ wins */
}

/* The environment defaults of request headers are checked once, here: a bad
 * value is reported naming the variable, and ignored (fail open). Checked per
 * request instead, it would fail every request with a 400 naming a header the
 * app never sent. */
static void check_header_defaults(hc_config *cfg)
{
    char why[256];
    hc_ratelimit rl;
    if (cfg->ratelimit[0] && hc_ratelimit_parse(cfg->ratelimit, &rl, why, sizeof why) != 0) {
        hc_log_warn_once("HC_RATELIMIT",
                         "HC_RATELIMIT=%s: %s (expected QUOTA;w=SECONDS[;u=request|cents]"
                         "[;s=user|PROPERTY]); no rate limit is applied",
                         cfg->ratelimit, why);
        cfg->ratelimit[0] = '\0';
    }
    hc_codes codes;
    if (hc_codes_parse(cfg->fallback_on, &codes) != 0) {
        hc_log_warn_once("HC_FALLBACK_ON",
                         "HC_FALLBACK_ON=%s: expected status codes such as 429,500-599; %s is used",
                         cfg->fallback_on, HC_FALLBACK_ON_DEFAULT);
        hc_strlcpy(cfg->fallback_on, sizeof cfg->fallback_on, HC_FALLBACK_ON_DEFAULT);
    }
    if (cfg->fallbacks) {
        hc_opts *o = calloc(1, sizeof *o);
        hc_fallback *fb = calloc(HC_MAX_FALLBACKS, sizeof *fb);
        int n = 0;
        if (o && fb) {
            /* As a request builds it: the model fallback first, then the list. */
            o->fallbacks = cfg->fallbacks;
            hc_strlcpy(o->fallback_model, sizeof o->fallback_model, cfg->fallback_model);
            hc_strlcpy(o->fallback_on, sizeof o->fallback_on, cfg->fallback_on);
            if (hc_fallbacks_build(o, fb, HC_MAX_FALLBACKS, &n, why, sizeof why) == HC_EINVAL) {
                const char *w = strncmp(why, "Helicone-Fallbacks: ", 20) == 0 ? why + 20 : why;
                hc_log_warn_once("HC_FALLBACKS", "HC_FALLBACKS: %s; no fallbacks are used", w);
                free(cfg->fallbacks);
                cfg->fallbacks = NULL;
            }
            hc_fallbacks_free(fb, n);
        }
        free(fb);
        free(o);
    }
}

void hc_config_load(hc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->observe = hc_mode_from_env(NULL) == HC_MODE_OBSERVE;
    if (hc_store_default_path(cfg->db_path, sizeof cfg->db_path) != 0)
        cfg->db_path[0] = '\0';
    cfg->db_sync = hc_env_bool("HC_DB_SYNC", false);
    /* The store reads these itself (store.c, also for hc-analyze); here a bad
     * value is said once instead of passing silently (the default is used). */
    (void)env_int("HC_DB_MAP_MB", 1024, 1, 1 << 24);
    (void)env_int("HC_DB_MAX_MB", 65536, 1, 1 << 24);
    cfg->record = hc_env_bool("HC_RECORD", true);
    env_str("HC_CA_FILE", cfg->ca_file, sizeof cfg->ca_file);
    env_str("HC_UPSTREAM_PROXY", cfg->upstream_proxy, sizeof cfg->upstream_proxy);
    env_str("NO_PROXY", cfg->no_proxy, sizeof cfg->no_proxy);
    if (!cfg->no_proxy[0])
        env_str("no_proxy", cfg->no_proxy, sizeof cfg->no_proxy);
    load_routes(cfg);
    cfg->max_body = env_size("HC_MAX_BODY", 8u << 20);
    cfg->max_req_buffer = env_size("HC_MAX_REQUEST", 32u << 20);
    cfg->connect_timeout_ms = env_ms("HC_CONNECT_TIMEOUT", 30000);
    cfg->upstream_timeout_ms = env_ms("HC_UPSTREAM_TIMEOUT", 600000);
    cfg->idle_timeout_ms = env_ms("HC_IDLE_TIMEOUT", 900000);
    cfg->queue_max = env_size("HC_QUEUE_MAX", 4096);
    cfg->queue_wait_ms = env_int("HC_QUEUE_WAIT_MS", 2000, 0, 600000);
    cfg->stream_usage = hc_env_bool("HC_STREAM_USAGE", true);
    cfg->debug = hc_log_debug_enabled();
    load_properties(cfg);
    env_str("HC_USER_ID", cfg->user_id, sizeof cfg->user_id);
    env_str("HC_SESSION_ID", cfg->session_id, sizeof cfg->session_id);
    env_str("HC_SESSION_NAME", cfg->session_name, sizeof cfg->session_name);
    env_str("HC_SESSION_PATH", cfg->session_path, sizeof cfg->session_path);
    cfg->omit_request = hc_env_bool("HC_OMIT_REQUEST", false);
    cfg->omit_response = hc_env_bool("HC_OMIT_RESPONSE", false);

    cfg->cache = hc_env_bool("HC_CACHE", false);
    cfg->cache_ttl_us =
        env_dur_us("HC_CACHE_TTL", HC_CACHE_TTL_DEFAULT_US, HC_CACHE_TTL_MAX_US, 1000000);
    cfg->cache_buckets = env_int("HC_CACHE_BUCKETS", 1, 1, 20);
    env_str("HC_CACHE_SEED", cfg->cache_seed, sizeof cfg->cache_seed);
    env_str("HC_CACHE_IGNORE_KEYS", cfg->cache_ignore, sizeof cfg->cache_ignore);
    cfg->retries = env_int("HC_RETRY", 0, 0, 20);
    cfg->retry_factor = env_double("HC_RETRY_FACTOR", 2.0, 1.0, 10.0);
    /* Milliseconds when bare, at most 600 s: as Helicone-Retry-Min/Max-Timeout. */
    cfg->retry_min_us = env_dur_us("HC_RETRY_MIN_TIMEOUT", 1000000, 600LL * 1000000, 1000);
    cfg->retry_max_us = env_dur_us("HC_RETRY_MAX_TIMEOUT", 10000000, 600LL * 1000000, 1000);
    env_str("HC_FALLBACK_MODEL", cfg->fallback_model, sizeof cfg->fallback_model);
    env_str("HC_FALLBACK_ON", cfg->fallback_on, sizeof cfg->fallback_on);
    if (!cfg->fallback_on[0])
        hc_strlcpy(cfg->fallback_on, sizeof cfg->fallback_on, HC_FALLBACK_ON_DEFAULT);
    const char *fb = getenv("HC_FALLBACKS");
    cfg->fallbacks = fb && *fb ? strdup(fb) : NULL;
    env_str("HC_RATELIMIT", cfg->ratelimit, sizeof cfg->ratelimit);
    const char *bu = getenv("HC_BUDGET");
    cfg->budget = bu && *bu ? strdup(bu) : NULL;
    check_header_defaults(cfg);
}

void hc_config_free(hc_config *cfg)
{
    hc_buf_free(&cfg->properties);
    free(cfg->fallbacks);
    free(cfg->budget);
    cfg->fallbacks = cfg->budget = NULL;
}

const hc_route *hc_config_route(const hc_config *cfg, const char *host)
{
    for (int i = 0; i < cfg->nroutes; i++)
        if (strcasecmp(cfg->routes[i].host, host) == 0)
            return &cfg->routes[i];
    return NULL;
}
