/* fuzz_header.c — the parsers of header values and settings, each of which
 * reads text an app (a Helicone-* header) or its environment (HC_*) controls:
 *
 *   0  Go durations (x-ratelimit-reset-*)          hc_parse_go_duration   core/retry.c
 *   1  retry-after / retry-after-ms / reset heads  hc_retry_after_us      core/retry.c
 *   2  Helicone-RateLimit-Policy / HC_RATELIMIT    hc_ratelimit_parse     core/ratelimit.c
 *   3  Helicone-Fallback-OnCodes / HC_FALLBACK_ON  hc_codes_parse         core/fallback.c
 *   4  Helicone-Fallbacks JSON / HC_FALLBACKS      hc_fallbacks_build, hc_fallback_body
 *   5  HC_BUDGET                                   hc_budgets_parse       core/budget.c
 *   6  HC_ROUTE / target-url URLs                  hc_route_parse_url     core/config.c
 *   7  $VAR / ${VAR} in fallback header values     hc_expand_env          core/fallback.c
 *   8  a request's Helicone-* and Cache-Control    hc_opts_from_request   core/options.c,
 *      headers, then everything derived from them  (and 2, 3, 4, cache key)
 *   9  the cache key's canonical JSON              hc_cache_canonical     core/cache.c
 *  10  the HC_* environment as a whole             hc_config_load         core/config.c
 *  11  durations and times of settings / CLI       hc_parse_duration_us, hc_parse_time_utc
 *
 * Byte 0 picks the parser; the rest is the text. Invariants are each
 * function's documented results (ranges, NUL-terminated outputs, counts,
 * refusal leaving nothing half-parsed) plus: codes parsed are non-empty;
 * $-free text expands to itself; canonical JSON is a fixed point. */
#include "fuzz.h"
#include "budget.h"
#include "buf.h"
#include "cache.h"
#include "clock.h"
#include "config.h"
#include "ratelimit.h"
#include "err.h"
#include "fallback.h"
#include "http.h"
#include "jsonedit.h"
#include "options.h"
#include "record.h"
#include "retry.h"

#include <cjson/cJSON.h>

#define NMODES 12

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Variables that fallback headers and $VAR expansion may name. */
    setenv("FUZZ_KEY", "sk-fuzz-0123456789", 1);
    setenv("GROQ_API_KEY", "gsk_fuzz", 1);
    setenv("EMPTY", "", 1);
    setenv("HC_LOG", "/dev/null", 1); /* config warnings are expected: keep them quiet */
    return 0;
}

static void check_nul(const char *s, size_t size)
{
    FUZZ_CHECK(memchr(s, '\0', size) != NULL);
}

static void check_route(const hc_route *r)
{
    FUZZ_CHECK(r->port >= 1 && r->port <= 65535);
    check_nul(r->target, sizeof r->target);
    check_nul(r->prefix, sizeof r->prefix);
    check_nul(r->authority, sizeof r->authority);
    FUZZ_CHECK(r->target[0] != '\0' && r->authority[0] != '\0');
    for (const char *c = r->target; *c; c++)
        FUZZ_CHECK(!(*c >= 'A' && *c <= 'Z'));
    size_t pl = strlen(r->prefix);
    FUZZ_CHECK(pl == 0 || r->prefix[pl - 1] != '/');
}

static void check_pairs_buf(const hc_buf *b)
{
    hc_pairs pl = { b->data, (uint32_t)b->len };
    uint32_t pos = 0;
    const char *n, *v;
    int guard = 0;
    while (hc_pairs_next(&pl, &pos, &n, &v))
        FUZZ_CHECK(++guard <= (int)b->len && pos <= b->len);
}

static void check_fallbacks(hc_fallback *fb, int n, int rc)
{
    FUZZ_CHECK(n >= 0 && n <= HC_MAX_FALLBACKS);
    static const char body[] = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":"
                               "\"user\",\"content\":\"hi\"}]}";
    for (int i = 0; i < n && rc == 0; i++) {
        hc_fallback *f = &fb[i];
        if (f->has_target) {
            check_route(&f->target);
            check_nul(f->url, sizeof f->url);
        }
        check_pairs_buf(&f->headers);
        if (f->override) {
            cJSON *o = cJSON_Parse(f->override);
            FUZZ_CHECK(cJSON_IsObject(o));
            cJSON_Delete(o);
        }
        hc_buf out = HC_BUF_INIT;
        int r = hc_fallback_body(f, body, sizeof body - 1, &out);
        FUZZ_CHECK(r == 0 || r == 1 || r == HC_EPARSE || r == HC_EINVAL);
        if (r == 1)
            FUZZ_CHECK(hc_json_members(out.data, out.len, NULL, 0) >= 3);
        else
            FUZZ_CHECK(out.len == 0);
        hc_buf_free(&out);
    }
}

static void mode_retry_after(const char *s, size_t n, uint8_t sel)
{
    /* Lines "name: value" become the headers of a response (values kept in
     * their own exact-size buffers: the parser gets spans, not strings). */
    hc_http_head h;
    memset(&h, 0, sizeof h);
    h.status = sel & 1 ? 429 : 503;
    h.minor_version = 1;
    char *vals[HC_HTTP_MAX_HEADERS];
    size_t at = 0;
    while (at < n && h.nheaders < HC_HTTP_MAX_HEADERS) {
        const char *nl = memchr(s + at, '\n', n - at);
        size_t le = nl ? (size_t)(nl - s) : n;
        const char *colon = memchr(s + at, ':', le - at);
        if (colon && colon > s + at) {
            hc_header *x = &h.headers[h.nheaders];
            x->name = s + at;
            x->name_len = (size_t)(colon - (s + at));
            const char *v = colon + 1, *ve = s + le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            vals[h.nheaders] = fuzz_dup(v, (size_t)(ve - v));
            x->value = vals[h.nheaders];
            x->value_len = (size_t)(ve - v);
            h.nheaders++;
        }
        at = le + 1;
    }
    int64_t now = 1735689600LL * 1000000;
    int64_t w = hc_retry_after_us(&h, now);
    FUZZ_CHECK(w == -1 || (w >= 0 && w <= HC_RETRY_AFTER_CAP_US));
    hc_retry_policy pol = {
        .retries = 5, .factor = 1 + (sel % 10), .min_us = 1000, .max_us = 600000000
    };
    int64_t wt = hc_retry_wait_us(&pol, sel % 30, &h, now);
    FUZZ_CHECK(wt >= 0 && wt <= pol.max_us);
    for (size_t i = 0; i < h.nheaders; i++)
        free(vals[i]);
}

static void mode_options(const char *s, size_t n)
{
    /* The input is the header block of a request to the gateway. */
    static const char line[] = "POST /v1/chat/completions HTTP/1.1\r\n";
    size_t tl = sizeof line - 1 + n + 4;
    char *req = malloc(tl);
    memcpy(req, line, sizeof line - 1);
    memcpy(req + sizeof line - 1, s, n);
    memcpy(req + sizeof line - 1 + n, "\r\n\r\n", 4);
    hc_http_head h;
    int r = hc_http_parse_request(req, tl, &h);
    if (r <= 0) {
        free(req);
        return;
    }
    hc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.stream_usage = true;
    cfg.cache_ttl_us = HC_CACHE_TTL_DEFAULT_US;
    cfg.cache_buckets = 1;
    cfg.retry_factor = 2;
    cfg.retry_min_us = 1000000;
    cfg.retry_max_us = 10000000;
    snprintf(cfg.fallback_on, sizeof cfg.fallback_on, "%s", HC_FALLBACK_ON_DEFAULT);
    hc_pairs_add(&cfg.properties, "Team", "core");
    hc_pairs_add(&cfg.properties, "Env", "ci");

    hc_opts o;
    FUZZ_CHECK(hc_opts_from_request(&o, &cfg, &h) == 0);
    check_nul(o.user, sizeof o.user);
    check_nul(o.session_id, sizeof o.session_id);
    check_nul(o.session_path, sizeof o.session_path);
    check_nul(o.session_name, sizeof o.session_name);
    check_nul(o.request_id, sizeof o.request_id);
    check_nul(o.cache_seed, sizeof o.cache_seed);
    check_nul(o.cache_ignore, sizeof o.cache_ignore);
    check_nul(o.fallback_model, sizeof o.fallback_model);
    check_nul(o.fallback_on, sizeof o.fallback_on);
    check_nul(o.ratelimit, sizeof o.ratelimit);
    check_nul(o.bad_header, sizeof o.bad_header);
    check_nul(o.bad_reason, sizeof o.bad_reason);
    check_pairs_buf(&o.props);
    FUZZ_CHECK(o.cache_buckets >= 1 && o.cache_buckets <= 20);
    FUZZ_CHECK(o.retries >= 0 && o.retries <= 20);
    FUZZ_CHECK(o.cache_ttl_us >= 0 && o.cache_ttl_us <= HC_CACHE_TTL_MAX_US);
    FUZZ_CHECK(o.retry_factor >= 1 && o.retry_factor <= 10);
    FUZZ_CHECK(o.retry_min_us >= 0 && o.retry_max_us >= o.retry_min_us &&
               o.retry_max_us <= 600000000);

    /* What the gateway derives from the options. */
    char err[256];
    if (o.ratelimit[0]) {
        hc_ratelimit rl;
        (void)hc_ratelimit_parse(o.ratelimit, &rl, err, sizeof err);
    }
    hc_codes codes;
    (void)hc_codes_parse(o.fallback_on, &codes);
    hc_fallback fb[HC_MAX_FALLBACKS];
    int nfb = 0;
    int rc = hc_fallbacks_build(&o, fb, HC_MAX_FALLBACKS, &nfb, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == HC_EINVAL);
    check_nul(err, sizeof err);
    check_fallbacks(fb, nfb, rc);
    hc_fallbacks_free(fb, nfb);
    static const char body[] =
        "{\"stream\":false,\"model\":\"gpt-4o-mini\",\"temperature\":0.5,\"seed\":7}";
    hc_cache_ctx cc;
    FUZZ_CHECK(hc_cache_prepare(&cc, &o, "api.openai.com", "/v1/chat/completions", &h, body,
                                sizeof body - 1) == 0);
    FUZZ_CHECK(strlen(cc.key_hex) == 64 && cc.buckets >= 1 && cc.buckets <= 20);
    hc_opts_free(&o);
    hc_config_free(&cfg);
    free(req);
}

static void mode_config(const char *s, size_t n)
{
    static const char *const vars[] = {
        "HC_ROUTE",         "HC_MAX_BODY",          "HC_CONNECT_TIMEOUT", "HC_CACHE_TTL",
        "HC_CACHE_BUCKETS", "HC_RETRY_FACTOR",      "HC_RETRY",           "HC_FALLBACK_ON",
        "HC_PROPERTY_Team", "HC_RETRY_MIN_TIMEOUT", "HC_QUEUE_MAX",       "HC_STREAM_USAGE"
    };
    const size_t nv = sizeof vars / sizeof vars[0];
    size_t at = 0;
    for (size_t i = 0; i < nv; i++) {
        if (at > n) {
            unsetenv(vars[i]);
            continue;
        }
        const char *nl = memchr(s + at, '\n', n - at);
        size_t le = nl ? (size_t)(nl - s) : n;
        char *v = fuzz_str(s + at, le - at);
        setenv(vars[i], v, 1);
        free(v);
        at = le + 1;
    }
    hc_config cfg;
    hc_config_load(&cfg);
    FUZZ_CHECK(cfg.nroutes >= 0 && cfg.nroutes <= HC_MAX_ROUTES);
    for (int i = 0; i < cfg.nroutes; i++) {
        check_route(&cfg.routes[i]);
        check_nul(cfg.routes[i].host, sizeof cfg.routes[i].host);
        FUZZ_CHECK(hc_config_route(&cfg, cfg.routes[i].host) != NULL);
    }
    FUZZ_CHECK(cfg.cache_ttl_us >= 0 && cfg.cache_ttl_us <= HC_CACHE_TTL_MAX_US);
    FUZZ_CHECK(cfg.cache_buckets >= 1 && cfg.cache_buckets <= 20);
    FUZZ_CHECK(cfg.retries >= 0 && cfg.retries <= 20);
    FUZZ_CHECK(cfg.retry_factor >= 1 && cfg.retry_factor <= 10);
    FUZZ_CHECK(cfg.connect_timeout_ms >= 0 && cfg.retry_min_us >= 0);
    FUZZ_CHECK(cfg.max_body <= (1ull << 40) && cfg.queue_max <= (1ull << 40));
    check_pairs_buf(&cfg.properties);
    hc_config_free(&cfg);
    for (size_t i = 0; i < nv; i++)
        unsetenv(vars[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const char *raw = fuzz_dup(data + 1, size - 1); /* exact span, no NUL */
    size_t n = size - 1;
    char *s = fuzz_str(data + 1, n); /* C string (cut at an embedded NUL) */
    char err[256];
    memset(err, 0, sizeof err);

    switch (sel % NMODES) {
    case 0: {
        int64_t us = -7;
        int r = hc_parse_go_duration(raw, n, &us);
        FUZZ_CHECK(r == 0 || r == HC_EINVAL);
        if (r == 0)
            FUZZ_CHECK(us >= 0 && us <= 9000000000000000LL);
        else
            FUZZ_CHECK(us == -7);
        break;
    }
    case 1: mode_retry_after(raw, n, sel / NMODES); break;
    case 2: {
        hc_ratelimit rl;
        int r = hc_ratelimit_parse(s, &rl, err, sizeof err);
        FUZZ_CHECK(r == 0 || r == HC_EINVAL);
        check_nul(err, sizeof err);
        check_nul(rl.text, sizeof rl.text);
        check_nul(rl.segment, sizeof rl.segment);
        if (r == 0) {
            FUZZ_CHECK(rl.window_us >= 1000000 && rl.window_us <= 366LL * 86400 * 1000000);
            FUZZ_CHECK(rl.quota_cents > 0);
            if (!rl.cents)
                FUZZ_CHECK(rl.quota >= 1);
            char key[512];
            hc_ratelimit_key(&rl, "alice", key, sizeof key);
            check_nul(key, sizeof key);
        } else {
            FUZZ_CHECK(err[0] != '\0');
        }
        break;
    }
    case 3: {
        hc_codes c;
        int r = hc_codes_parse(s, &c);
        FUZZ_CHECK(r == 0 || r == HC_EINVAL);
        if (r == 0) {
            int any = 0;
            for (int st = 0; st < 600; st++)
                any += hc_codes_has(&c, st);
            FUZZ_CHECK(any > 0);
        }
        FUZZ_CHECK(!hc_codes_has(&c, -1) && !hc_codes_has(&c, 600));
        break;
    }
    case 4: {
        hc_opts o;
        memset(&o, 0, sizeof o);
        o.fallbacks = s;
        if (sel & 0x80) {
            snprintf(o.fallback_model, sizeof o.fallback_model, "llama-3.3-70b");
            snprintf(o.fallback_on, sizeof o.fallback_on, "%s", HC_FALLBACK_ON_DEFAULT);
        }
        hc_fallback fb[HC_MAX_FALLBACKS];
        int nfb = -1;
        int r = hc_fallbacks_build(&o, fb, HC_MAX_FALLBACKS, &nfb, err, sizeof err);
        FUZZ_CHECK(r == 0 || r == HC_EINVAL);
        check_nul(err, sizeof err);
        if (r)
            FUZZ_CHECK(err[0] != '\0');
        check_fallbacks(fb, nfb, r);
        hc_fallbacks_free(fb, nfb);
        break;
    }
    case 5: {
        hc_budget b[HC_MAX_BUDGETS];
        int nb = -1;
        int r = hc_budgets_parse(s, b, HC_MAX_BUDGETS, &nb, err, sizeof err);
        FUZZ_CHECK(r == 0 || r == HC_EINVAL);
        check_nul(err, sizeof err);
        if (r) {
            FUZZ_CHECK(nb == 0 && err[0] != '\0');
            break;
        }
        FUZZ_CHECK(nb >= 0 && nb <= HC_MAX_BUDGETS);
        for (int i = 0; i < nb; i++) {
            FUZZ_CHECK(b[i].limit_nusd > 0);
            FUZZ_CHECK(b[i].period >= HC_PERIOD_HOUR && b[i].period <= HC_PERIOD_TOTAL);
            FUZZ_CHECK(b[i].warn || b[i].block || b[i].webhook[0]);
            check_nul(b[i].name, sizeof b[i].name);
            check_nul(b[i].spec, sizeof b[i].spec);
            check_nul(b[i].webhook, sizeof b[i].webhook);
            check_nul(b[i].prop, sizeof b[i].prop);
            char usd[32];
            hc_format_usd(b[i].limit_nusd, usd, sizeof usd);
            FUZZ_CHECK(usd[0] == '$');
            int64_t st = hc_period_start(b[i].period, 1735689600LL * 1000000 + 12345);
            FUZZ_CHECK(st <= 1735689600LL * 1000000 + 12345);
        }
        break;
    }
    case 6: {
        hc_route r;
        memset(&r, 0, sizeof r);
        if (hc_route_parse_url(s, &r) == 0)
            check_route(&r);
        break;
    }
    case 7: {
        hc_buf out = HC_BUF_INIT;
        FUZZ_CHECK(hc_expand_env(s, &out) == 0);
        FUZZ_CHECK(out.data != NULL && out.data[out.len] == '\0');
        if (!strchr(s, '$'))
            FUZZ_CHECK(out.len == strlen(s) && memcmp(out.data, s, out.len) == 0);
        hc_buf_free(&out);
        break;
    }
    case 8: mode_options(raw, n); break;
    case 9: {
        /* "IGNORE-LIST\nBODY" */
        const char *nl = memchr(raw, '\n', n);
        char *ignore = nl ? fuzz_str(raw, (size_t)(nl - raw)) : NULL;
        const char *body = nl ? nl + 1 : raw;
        size_t bl = n - (size_t)(body - raw);
        char *b = fuzz_dup(body, bl);
        hc_buf c1 = HC_BUF_INIT, c2 = HC_BUF_INIT;
        int r = hc_cache_canonical(b, bl, ignore, &c1);
        FUZZ_CHECK(r == 0 || r == HC_EPARSE);
        if (r == 0) {
            FUZZ_CHECK(hc_cache_canonical(c1.data, c1.len, NULL, &c2) == 0);
            FUZZ_CHECK(c1.len == c2.len && memcmp(c1.data, c2.data, c1.len) == 0);
        }
        hc_buf_free(&c1);
        hc_buf_free(&c2);
        free(b);
        free(ignore);
        break;
    }
    case 10: mode_config(raw, n); break;
    default: {
        int64_t us = -7;
        int r = hc_parse_duration_us(s, &us);
        FUZZ_CHECK(r == 0 || r == HC_EINVAL);
        if (r == 0)
            FUZZ_CHECK(us >= 0);
        (void)hc_parse_time_utc(s, &us);
        break;
    }
    }
    free(s);
    free((void *)raw);
    return 0;
}
