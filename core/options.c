#include "options.h"
#include "buf.h"
#include "context.h"
#include "err.h"
#include "record.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool hc_is_helicone_header(const char *name, size_t len)
{
    return hc_span_iprefix(name, len, "helicone-");
}

bool hc_header_bool(const char *v, size_t n, bool dflt)
{
    if (hc_span_ieq(v, n, "true") || hc_span_ieq(v, n, "1") || hc_span_ieq(v, n, "yes") ||
        hc_span_ieq(v, n, "on"))
        return true;
    if (hc_span_ieq(v, n, "false") || hc_span_ieq(v, n, "0") || hc_span_ieq(v, n, "no") ||
        hc_span_ieq(v, n, "off"))
        return false;
    return dflt;
}

static void copy_span(char *dst, size_t size, const char *p, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* Values must not carry NUL (the pairs list is NUL-separated); headers cannot
 * hold NUL anyway (http.c rejects control characters), so a copy is enough. */
static int add_prop(hc_buf *b, const char *name, size_t nl, const char *val, size_t vl)
{
    char n[128], v[1024];
    copy_span(n, sizeof n, name, nl);
    copy_span(v, sizeof v, val, vl);
    return hc_pairs_add(b, n, v);
}

static void bad(hc_opts *o, const char *header, const char *reason)
{
    if (o->bad_header[0])
        return; /* report the first problem */
    hc_strlcpy(o->bad_header, sizeof o->bad_header, header);
    hc_strlcpy(o->bad_reason, sizeof o->bad_reason, reason);
}

/* A non-negative decimal integer in [lo, hi]; -1 if the span is not one. */
static long span_long(const char *v, size_t n, long lo, long hi)
{
    if (!n || n > 12)
        return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)v[i]))
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x >= lo && x <= hi ? x : -1;
}

/* "max-age=N" / "s-maxage=N" in a Cache-Control value; s-maxage wins. -1 if absent. */
static int64_t cache_control_ttl_us(const char *v, size_t n)
{
    int64_t max_age = -1, s_maxage = -1;
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        const char *d = v + s;
        size_t dl = i - s;
        while (dl && d[dl - 1] == ' ')
            dl--;
        if (hc_span_iprefix(d, dl, "s-maxage="))
            s_maxage = span_long(d + 9, dl - 9, 0, 1L << 40);
        else if (hc_span_iprefix(d, dl, "max-age="))
            max_age = span_long(d + 8, dl - 8, 0, 1L << 40);
    }
    int64_t secs = s_maxage >= 0 ? s_maxage : max_age;
    if (secs < 0)
        return -1;
    int64_t us = secs * 1000000;
    return us > HC_CACHE_TTL_MAX_US ? HC_CACHE_TTL_MAX_US : us;
}

/* The HC_* defaults (cfg) every request starts from. 0 or HC_ENOMEM. */
static int defaults_from_config(hc_opts *o, const hc_config *cfg)
{
    hc_strlcpy(o->user, sizeof o->user, cfg->user_id);
    hc_strlcpy(o->session_id, sizeof o->session_id, cfg->session_id);
    hc_strlcpy(o->session_path, sizeof o->session_path, cfg->session_path);
    hc_strlcpy(o->session_name, sizeof o->session_name, cfg->session_name);
    o->omit_request = cfg->omit_request;
    o->omit_response = cfg->omit_response;
    o->stream_usage = cfg->stream_usage;
    o->cache = cfg->cache;
    o->cache_ttl_us = cfg->cache_ttl_us;
    o->cache_buckets = cfg->cache_buckets;
    hc_strlcpy(o->cache_seed, sizeof o->cache_seed, cfg->cache_seed);
    hc_strlcpy(o->cache_ignore, sizeof o->cache_ignore, cfg->cache_ignore);
    o->retries = cfg->retries;
    o->retry_factor = cfg->retry_factor;
    o->retry_min_us = cfg->retry_min_us;
    o->retry_max_us = cfg->retry_max_us;
    hc_strlcpy(o->fallback_model, sizeof o->fallback_model, cfg->fallback_model);
    hc_strlcpy(o->fallback_on, sizeof o->fallback_on, cfg->fallback_on);
    if (cfg->fallbacks && !(o->fallbacks = strdup(cfg->fallbacks)))
        return HC_ENOMEM;
    hc_strlcpy(o->ratelimit, sizeof o->ratelimit, cfg->ratelimit);
    return 0;
}

/* Properties: headers first, then env defaults whose names no header set,
 * then the current test's (context.h). 0 or HC_ENOMEM. */
static int properties_from(hc_opts *o, const hc_config *cfg, const hc_http_head *h)
{
    for (size_t i = 0; i < h->nheaders; i++) {
        const hc_header *x = &h->headers[i];
        if (hc_span_iprefix(x->name, x->name_len, "helicone-property-") && x->name_len > 18) {
            if (add_prop(&o->props, x->name + 18, x->name_len - 18, x->value, x->value_len))
                return HC_ENOMEM;
        }
    }
    hc_pairs env = { cfg->properties.data, (uint32_t)cfg->properties.len };
    uint32_t pos = 0;
    const char *n, *v;
    while (hc_pairs_next(&env, &pos, &n, &v)) {
        hc_pairs mine = { o->props.data, (uint32_t)o->props.len };
        bool overridden = false;
        uint32_t mp = 0;
        const char *mn, *mv;
        while (hc_pairs_next(&mine, &mp, &mn, &mv))
            if (strcasecmp(mn, n) == 0)
                overridden = true;
        if (!overridden && hc_pairs_add(&o->props, n, v))
            return HC_ENOMEM;
    }
    if (hc_context_request(&o->props)) /* the current pytest test (context.h) */
        return HC_ENOMEM;
    return 0;
}

/* What the Helicone-Retry-Enabled / -Num headers said, settled once all are read. */
struct retry_hdrs {
    int enabled; /* -1 header absent, 0, 1 */
    long num;    /* -1 absent or invalid */
};

/* A Helicone-Retry-* header: true when nm is one (then applied to o / r). */
static bool retry_header(hc_opts *o, struct retry_hdrs *r, const char *nm, size_t nl,
                         const char *val, size_t vl)
{
    if (hc_span_ieq(nm, nl, "helicone-retry-enabled")) {
        r->enabled = hc_header_bool(val, vl, false) ? 1 : 0;
    } else if (hc_span_ieq(nm, nl, "helicone-retry-num")) {
        r->num = span_long(val, vl, 0, 20);
        if (r->num < 0)
            bad(o, "Helicone-Retry-Num", "expected a whole number from 0 to 20");
    } else if (hc_span_ieq(nm, nl, "helicone-retry-factor")) {
        char t[32];
        copy_span(t, sizeof t, val, vl);
        char *end;
        double f = strtod(t, &end);
        if (*end || !(f >= 1 && f <= 10))
            bad(o, "Helicone-Retry-Factor", "expected a number from 1 to 10");
        else
            o->retry_factor = f;
    } else if (hc_span_ieq(nm, nl, "helicone-retry-min-timeout") ||
               hc_span_ieq(nm, nl, "helicone-retry-max-timeout")) {
        bool is_min = hc_span_ieq(nm, nl, "helicone-retry-min-timeout");
        long ms = span_long(val, vl, 0, 600000);
        if (ms < 0)
            bad(o, is_min ? "Helicone-Retry-Min-Timeout" : "Helicone-Retry-Max-Timeout",
                "expected milliseconds from 0 to 600000");
        else if (is_min)
            o->retry_min_us = ms * 1000;
        else
            o->retry_max_us = ms * 1000;
    } else {
        return false;
    }
    return true;
}

/* Helicone-Cache-* headers: true when nm is one (then applied to o). */
static bool cache_header(hc_opts *o, const char *nm, size_t nl, const char *val, size_t vl)
{
    if (hc_span_ieq(nm, nl, "helicone-cache-enabled")) {
        o->cache = hc_header_bool(val, vl, false);
    } else if (hc_span_ieq(nm, nl, "helicone-cache-bucket-max-size")) {
        long b = span_long(val, vl, 1, 20);
        if (b < 0)
            bad(o, "Helicone-Cache-Bucket-Max-Size", "expected a whole number from 1 to 20");
        else
            o->cache_buckets = (int)b;
    } else if (hc_span_ieq(nm, nl, "helicone-cache-seed")) {
        copy_span(o->cache_seed, sizeof o->cache_seed, val, vl);
    } else if (hc_span_ieq(nm, nl, "helicone-cache-ignore-keys")) {
        copy_span(o->cache_ignore, sizeof o->cache_ignore, val, vl);
    } else {
        return false;
    }
    return true;
}

/* One Helicone-* header (other than properties) applied to o. 0 or HC_ENOMEM. */
static int helicone_header(hc_opts *o, struct retry_hdrs *r, const hc_header *x)
{
    const char *nm = x->name, *val = x->value;
    size_t nl = x->name_len, vl = x->value_len;
    if (retry_header(o, r, nm, nl, val, vl) || cache_header(o, nm, nl, val, vl))
        return 0;
    if (hc_span_ieq(nm, nl, "helicone-user-id"))
        copy_span(o->user, sizeof o->user, val, vl);
    else if (hc_span_ieq(nm, nl, "helicone-session-id"))
        copy_span(o->session_id, sizeof o->session_id, val, vl);
    else if (hc_span_ieq(nm, nl, "helicone-session-path"))
        copy_span(o->session_path, sizeof o->session_path, val, vl);
    else if (hc_span_ieq(nm, nl, "helicone-session-name"))
        copy_span(o->session_name, sizeof o->session_name, val, vl);
    else if (hc_span_ieq(nm, nl, "helicone-request-id"))
        copy_span(o->request_id, sizeof o->request_id, val, vl);
    else if (hc_span_ieq(nm, nl, "helicone-omit-request"))
        o->omit_request = hc_header_bool(val, vl, o->omit_request);
    else if (hc_span_ieq(nm, nl, "helicone-omit-response"))
        o->omit_response = hc_header_bool(val, vl, o->omit_response);
    else if (hc_span_ieq(nm, nl, "helicone-stream-usage"))
        o->stream_usage = hc_header_bool(val, vl, o->stream_usage);
    else if (hc_span_ieq(nm, nl, "helicone-fallback-model"))
        copy_span(o->fallback_model, sizeof o->fallback_model, val, vl);
    else if (hc_span_ieq(nm, nl, "helicone-fallback-oncodes")) {
        copy_span(o->fallback_on, sizeof o->fallback_on, val, vl);
        o->fallback_on_header = true;
    } else if (hc_span_ieq(nm, nl, "helicone-fallbacks")) {
        free(o->fallbacks);
        if (!(o->fallbacks = strndup(val, vl)))
            return HC_ENOMEM;
    } else if (hc_span_ieq(nm, nl, "helicone-ratelimit-policy"))
        copy_span(o->ratelimit, sizeof o->ratelimit, val, vl);
    return 0;
}

/* Retries after every header was read: Helicone-Retry-Enabled decides,
 * Helicone-Retry-Num alone only changes a count that is already on. */
static void settle_retries(hc_opts *o, const struct retry_hdrs *r)
{
    if (r->enabled == 1)
        o->retries = r->num >= 0 ? (int)r->num : 5;
    else if (r->enabled == 0)
        o->retries = 0;
    else if (r->num >= 0 && o->retries > 0)
        o->retries = (int)r->num;
    if (o->retry_max_us < o->retry_min_us)
        o->retry_max_us = o->retry_min_us;
}

int hc_opts_from_request(hc_opts *o, const hc_config *cfg, const hc_http_head *h)
{
    memset(o, 0, sizeof *o);
    if (defaults_from_config(o, cfg) || properties_from(o, cfg, h))
        return HC_ENOMEM;
    struct retry_hdrs r = { -1, -1 };
    for (size_t i = 0; i < h->nheaders; i++) {
        const hc_header *x = &h->headers[i];
        if (hc_is_helicone_header(x->name, x->name_len) && helicone_header(o, &r, x))
            return HC_ENOMEM;
    }
    settle_retries(o, &r);
    const hc_header *cc = hc_http_header(h, "cache-control");
    if (cc) {
        int64_t ttl = cache_control_ttl_us(cc->value, cc->value_len);
        if (ttl >= 0)
            o->cache_ttl_us = ttl;
    }
    return 0;
}

void hc_opts_free(hc_opts *o)
{
    hc_buf_free(&o->props);
    free(o->fallbacks);
    o->fallbacks = NULL;
}
