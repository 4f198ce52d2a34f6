/* test_core_config.c — core/config.h: route URLs and the HC_* environment.
 *
 * hc_route_parse_url is a table: each good URL with every field it must
 * produce, each bad one must be HC_EINVAL. hc_config_load is driven through
 * setenv/unsetenv: every case starts from an environment with no HC_*
 * variable at all, so a default seen in one case cannot leak from another.
 * Invalid values are logged once on stderr by design; that output is not TAP
 * and the runner ignores it.
 */
#include "buf.h"
#include "config.h"
#include "err.h"
#include "record.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* ---- hc_route_parse_url ----------------------------------------------------- */

static const struct {
    const char *url;
    int tls, port;
    const char *target, *prefix, *authority;
} good_urls[] = {
    { "https://api.example.com", 1, 443, "api.example.com", "", "api.example.com" },
    { "http://api.example.com", 0, 80, "api.example.com", "", "api.example.com" },
    { "http://127.0.0.1:8080", 0, 8080, "127.0.0.1", "", "127.0.0.1:8080" },
    { "https://127.0.0.1:8443/", 1, 8443, "127.0.0.1", "", "127.0.0.1:8443" },
    { "http://[::1]:11434", 0, 11434, "::1", "", "[::1]:11434" },
    { "https://[::1]", 1, 443, "::1", "", "[::1]" },
    { "http://[fe80::1]:80/v1", 0, 80, "fe80::1", "/v1", "[fe80::1]" },
    /* Path prefix: the trailing slash (or several) is not part of it. */
    { "http://localhost:11434/v1", 0, 11434, "localhost", "/v1", "localhost:11434" },
    { "http://localhost:11434/v1/", 0, 11434, "localhost", "/v1", "localhost:11434" },
    { "http://localhost:11434/a/b//", 0, 11434, "localhost", "/a/b", "localhost:11434" },
    /* An explicit default port is left out of the Host header; another port stays. */
    { "https://gw.example:443/openai", 1, 443, "gw.example", "/openai", "gw.example" },
    { "http://gw.example:80", 0, 80, "gw.example", "", "gw.example" },
    { "http://gw.example:443", 0, 443, "gw.example", "", "gw.example:443" },
    { "https://gw.example:80", 1, 80, "gw.example", "", "gw.example:80" },
    { "https://gw.example:65535", 1, 65535, "gw.example", "", "gw.example:65535" },
    { "http://gw.example:1", 0, 1, "gw.example", "", "gw.example:1" },
    /* Scheme and host are case-insensitive (host stored lower-case); the path is not. */
    { "HTTPS://API.Example.COM/Prefix/", 1, 443, "api.example.com", "/Prefix", "api.example.com" },
    { "Http://LOCALHOST:8080", 0, 8080, "localhost", "", "localhost:8080" },
};

static const char *const bad_urls[] = {
    "api.example.com", /* no scheme */
    "//api.example.com",
    "ftp://api.example.com",
    "https:/api.example.com",
    "",
    "http://", /* empty host */
    "http:///v1",
    "https://:8443",
    "http://[]:80",
    "http://h:0", /* port out of range */
    "http://h:70000",
    "http://h:99999999999999999999",
    "http://h:-1",
    "http://h:",    /* empty port */
    "http://h:80a", /* port with letters */
    "http://h:+80", /* RFC 3986: port = *DIGIT, no sign */
    "http://h:a80",
    "http://h:8o8o/v1",
    "http://[::1", /* unterminated '[' */
    "http://[::1/v1]",
    "http://[::1]x", /* junk after ']' */
    "http://[::1]:",
    "http://[::1]:0",
};

static void test_parse_url(void)
{
    for (size_t i = 0; i < sizeof good_urls / sizeof good_urls[0]; i++) {
        hc_route r;
        memset(&r, 0x5a, sizeof r); /* garbage in: every field must be written */
        r.target[sizeof r.target - 1] = r.prefix[sizeof r.prefix - 1] =
            r.authority[sizeof r.authority - 1] = 0;
        r.tls =
            !good_urls[i].tls; /* a bool must hold 0/1 (UBSan); the wrong one, so it must be set */
        r.port = -1;
        int rc = hc_route_parse_url(good_urls[i].url, &r);
        T_EQ_INT(rc, 0, "url '%s' accepted", good_urls[i].url);
        if (rc != 0)
            continue;
        T_EQ_INT(r.tls, good_urls[i].tls, "url '%s': tls", good_urls[i].url);
        T_EQ_INT(r.port, good_urls[i].port, "url '%s': port", good_urls[i].url);
        T_EQ_STR(r.target, good_urls[i].target, "url '%s': target", good_urls[i].url);
        T_EQ_STR(r.prefix, good_urls[i].prefix, "url '%s': prefix", good_urls[i].url);
        T_EQ_STR(r.authority, good_urls[i].authority, "url '%s': authority", good_urls[i].url);
    }
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        hc_route r;
        memset(&r, 0, sizeof r);
        T_EQ_INT(hc_route_parse_url(bad_urls[i], &r), HC_EINVAL, "url '%s' rejected", bad_urls[i]);
    }

    /* The host field belongs to the caller ("host field untouched"). */
    hc_route r;
    memset(&r, 0, sizeof r);
    strcpy(r.host, "api.openai.com");
    hc_route_parse_url("http://127.0.0.1:9", &r);
    T_EQ_STR(r.host, "api.openai.com", "parse_url leaves host alone");

    /* Bounds: a 255-byte host fits target[256]; 256 bytes must be refused, not truncated. */
    char url[400], name[300];
    memset(name, 'a', 255);
    name[255] = '\0';
    snprintf(url, sizeof url, "http://%s:81", name);
    memset(&r, 0, sizeof r);
    T_EQ_INT(hc_route_parse_url(url, &r), 0, "255-byte host accepted");
    T_CHECK(strlen(r.target) == 255, "255-byte host kept whole");
    memset(name, 'a', 256);
    name[256] = '\0';
    snprintf(url, sizeof url, "http://%s:81", name);
    T_EQ_INT(hc_route_parse_url(url, &r), HC_EINVAL, "256-byte host rejected");
}

/* ---- hc_config_load ------------------------------------------------------------ */

/* Remove every HC_* variable, so each case sees only what it sets. */
static void clear_hc_env(void)
{
    for (;;) {
        char name[512];
        int found = 0;
        for (char **e = environ; e && *e; e++) {
            if (strncmp(*e, "HC_", 3) == 0) {
                const char *eq = strchr(*e, '=');
                size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
                if (n >= sizeof name)
                    n = sizeof name - 1;
                memcpy(name, *e, n);
                name[n] = '\0';
                found = 1;
                break;
            }
        }
        if (!found)
            return;
        unsetenv(name); /* environ changes: rescan from the start */
    }
}

static void load(hc_config *cfg)
{
    hc_config_load(cfg);
}

static void test_defaults(void)
{
    clear_hc_env();
    setenv("HC_DB", "/tmp/hc-config-test/store", 1); /* db_path comes from HC_DB first (store.h) */
    hc_config cfg;
    load(&cfg);
    T_EQ_STR(cfg.db_path, "/tmp/hc-config-test/store", "HC_DB is the store path");
    T_EQ_INT(cfg.nroutes, 0, "no routes by default");
    T_EQ_INT(cfg.max_body, 8u << 20, "HC_MAX_BODY default 8 MiB");
    T_EQ_INT(cfg.max_req_buffer, 32u << 20, "HC_MAX_REQUEST default 32 MiB");
    T_EQ_INT(cfg.connect_timeout_ms, 30000, "connect timeout default 30s");
    T_EQ_INT(cfg.upstream_timeout_ms, 600000, "upstream timeout default 600s");
    T_EQ_INT(cfg.idle_timeout_ms, 900000, "idle timeout default 900s");
    T_EQ_INT(cfg.queue_max, 4096, "queue default 4096");
    T_CHECK(cfg.record, "record on by default");
    T_CHECK(!cfg.db_sync, "db_sync off by default");
    T_CHECK(cfg.stream_usage, "stream_usage on by default");
    T_CHECK(!cfg.omit_request && !cfg.omit_response, "omit off by default");
    T_EQ_INT(cfg.properties.len, 0, "no properties by default");
    T_EQ_STR(cfg.user_id, "", "no user by default");
    T_EQ_STR(cfg.session_id, "", "no session by default");
    T_EQ_STR(cfg.ca_file, "", "no CA file by default");
    hc_config_free(&cfg);
}

static void test_routes(void)
{
    clear_hc_env();
    /* Entries are separated by commas and/or spaces; the bad ones (not a URL,
     * no '=', empty host) are skipped and the good ones around them kept. */
    setenv("HC_ROUTE",
           "API.OpenAI.com=http://127.0.0.1:8080, api.anthropic.com=https://[::1]:8443/proxy/,"
           "bad.example=ftp://x  noequals =http://nohost.example "
           "localhost=http://LOCALHOST:11434/v1",
           1);
    hc_config cfg;
    load(&cfg);
    T_EQ_INT(cfg.nroutes, 3, "three good routes out of six entries");
    const hc_route *r = hc_config_route(&cfg, "api.openai.com");
    T_CHECK(r != NULL, "route for api.openai.com");
    if (r) {
        T_EQ_STR(r->host, "api.openai.com", "route host lower-cased");
        T_EQ_STR(r->target, "127.0.0.1", "route target");
        T_EQ_INT(r->port, 8080, "route port");
        T_CHECK(!r->tls, "route http");
        T_EQ_STR(r->authority, "127.0.0.1:8080", "route authority");
    }
    r = hc_config_route(&cfg, "API.ANTHROPIC.COM");
    T_CHECK(r != NULL, "route lookup is case-insensitive");
    if (r) {
        T_CHECK(r->tls, "anthropic route https");
        T_EQ_STR(r->target, "::1", "anthropic route v6 target");
        T_EQ_INT(r->port, 8443, "anthropic route port");
        T_EQ_STR(r->prefix, "/proxy", "anthropic route prefix");
        T_EQ_STR(r->authority, "[::1]:8443", "anthropic route authority");
    }
    r = hc_config_route(&cfg, "localhost");
    T_CHECK(r && strcmp(r->prefix, "/v1") == 0 && strcmp(r->target, "localhost") == 0,
            "third route after bad ones");
    T_CHECK(hc_config_route(&cfg, "bad.example") == NULL, "bad URL route not kept");
    T_CHECK(hc_config_route(&cfg, "noequals") == NULL, "entry without '=' ignored");
    T_CHECK(hc_config_route(&cfg, "api.openai.co") == NULL, "no prefix match");
    T_CHECK(hc_config_route(&cfg, "api.openai.com.evil") == NULL, "no suffix match");
    hc_config_free(&cfg);

    /* More than HC_MAX_ROUTES entries: the first 64 are kept, nothing overflows. */
    hc_buf b = HC_BUF_INIT;
    for (int i = 0; i < HC_MAX_ROUTES + 10; i++)
        hc_buf_printf(&b, "%sh%d.example=http://127.0.0.1:%d", i ? "," : "", i, 1000 + i);
    setenv("HC_ROUTE", b.data, 1);
    hc_buf_free(&b);
    load(&cfg);
    T_EQ_INT(cfg.nroutes, HC_MAX_ROUTES, "routes capped at HC_MAX_ROUTES");
    r = hc_config_route(&cfg, "h63.example");
    T_CHECK(r && r->port == 1063, "64th route kept");
    T_CHECK(hc_config_route(&cfg, "h64.example") == NULL, "65th route dropped");
    hc_config_free(&cfg);
}

static const struct {
    const char *val;
    size_t want;
} sizes[] = {
    { "8M", 8u << 20 },
    { "8m", 8u << 20 },
    { "65536", 65536 },
    { "1g", 1u << 30 },
    { "1G", 1u << 30 },
    { "64k", 65536 },
    { "64KB", 65536 },
    { "2mb", 2u << 20 },
    { "0", 0 },
    /* Invalid: default (8 MiB) */
    { "", 8u << 20 },
    { "lots", 8u << 20 },
    { "12x", 8u << 20 },
    { "8MiB", 8u << 20 },
    { "1T", 8u << 20 },
    { "-1", 8u << 20 },
    { "99999999999999999999999", 8u << 20 },
    { "2000g", 8u << 20 },
};

static void test_sizes(void)
{
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        clear_hc_env();
        setenv("HC_MAX_BODY", sizes[i].val, 1);
        hc_config cfg;
        load(&cfg);
        T_EQ_INT(cfg.max_body, sizes[i].want, "HC_MAX_BODY=%s", sizes[i].val);
        hc_config_free(&cfg);
    }
    clear_hc_env();
    setenv("HC_MAX_REQUEST", "1m", 1);
    setenv("HC_QUEUE_MAX", "100", 1);
    hc_config cfg;
    load(&cfg);
    T_EQ_INT(cfg.max_req_buffer, 1u << 20, "HC_MAX_REQUEST=1m");
    T_EQ_INT(cfg.queue_max, 100, "HC_QUEUE_MAX=100");
    hc_config_free(&cfg);
}

static const struct {
    const char *val;
    int want_ms;
} durations[] = {
    { "30s", 30000 },
    { "500ms", 500 },
    { "10m", 600000 },
    { "2", 2000 }, /* bare number: seconds */
    { "1.5s", 1500 },
    { "1h", 3600000 },
    { "1d", 86400000 },
    /* Invalid: default (connect timeout 30s) */
    { "", 30000 },
    { "soon", 30000 },
    { "-5s", 30000 },
    { "5 parsecs", 30000 },
    { "10x", 30000 },
    { "2d", 86400000 }, /* over the one-day bound: the bound (with a warning) */
};

static void test_durations(void)
{
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        clear_hc_env();
        setenv("HC_CONNECT_TIMEOUT", durations[i].val, 1);
        hc_config cfg;
        load(&cfg);
        T_EQ_INT(cfg.connect_timeout_ms, durations[i].want_ms, "HC_CONNECT_TIMEOUT=%s",
                 durations[i].val);
        hc_config_free(&cfg);
    }
    clear_hc_env();
    setenv("HC_UPSTREAM_TIMEOUT", "45s", 1);
    setenv("HC_IDLE_TIMEOUT", "2m", 1);
    hc_config cfg;
    load(&cfg);
    T_EQ_INT(cfg.upstream_timeout_ms, 45000, "HC_UPSTREAM_TIMEOUT=45s");
    T_EQ_INT(cfg.idle_timeout_ms, 120000, "HC_IDLE_TIMEOUT=2m");
    T_EQ_INT(cfg.connect_timeout_ms, 30000, "connect timeout still default");
    hc_config_free(&cfg);
}

static const struct {
    const char *val;
    int want_when_dflt_true, want_when_dflt_false;
} bools[] = {
    { "1", 1, 1 },
    { "0", 0, 0 },
    { "true", 1, 1 },
    { "TRUE", 1, 1 },
    { "false", 0, 0 },
    { "yes", 1, 1 },
    { "no", 0, 0 },
    { "on", 1, 1 },
    { "off", 0, 0 },
    { "Off", 0, 0 },
    /* Garbage keeps the default in both directions. */
    { "garbage", 1, 0 },
    { "2", 1, 0 },
    { "", 1, 0 },
    { "tru", 1, 0 },
    { "1 ", 1, 0 },
    { "enabled", 1, 0 },
};

static void test_bools(void)
{
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        const char *v = bools[i].val;
        clear_hc_env();
        /* HC_RECORD and HC_STREAM_USAGE default on; HC_DB_SYNC and HC_OMIT_* off. */
        setenv("HC_RECORD", v, 1);
        setenv("HC_STREAM_USAGE", v, 1);
        setenv("HC_DB_SYNC", v, 1);
        setenv("HC_OMIT_REQUEST", v, 1);
        setenv("HC_OMIT_RESPONSE", v, 1);
        hc_config cfg;
        load(&cfg);
        T_EQ_INT(cfg.record, bools[i].want_when_dflt_true, "HC_RECORD='%s'", v);
        T_EQ_INT(cfg.stream_usage, bools[i].want_when_dflt_true, "HC_STREAM_USAGE='%s'", v);
        T_EQ_INT(cfg.db_sync, bools[i].want_when_dflt_false, "HC_DB_SYNC='%s'", v);
        T_EQ_INT(cfg.omit_request, bools[i].want_when_dflt_false, "HC_OMIT_REQUEST='%s'", v);
        T_EQ_INT(cfg.omit_response, bools[i].want_when_dflt_false, "HC_OMIT_RESPONSE='%s'", v);
        hc_config_free(&cfg);
        T_EQ_INT(hc_env_bool("HC_RECORD", true), bools[i].want_when_dflt_true,
                 "hc_env_bool('%s', true)", v);
        T_EQ_INT(hc_env_bool("HC_RECORD", false), bools[i].want_when_dflt_false,
                 "hc_env_bool('%s', false)", v);
    }
    clear_hc_env();
    T_EQ_INT(hc_env_bool("HC_NOT_SET_AT_ALL", true), 1, "unset: default true");
    T_EQ_INT(hc_env_bool("HC_NOT_SET_AT_ALL", false), 0, "unset: default false");
}

static void test_properties_and_ids(void)
{
    clear_hc_env();
    setenv("HC_PROPERTY_Workflow", "research", 1);
    setenv("HC_PROPERTY_Team", "a=b, c", 1); /* value keeps '=' and spaces */
    setenv("HC_PROPERTY_Empty", "", 1);
    setenv("HC_PROPERTY_", "nameless", 1);       /* no name: ignored */
    setenv("HC_PROPERTYX", "not-a-property", 1); /* not the HC_PROPERTY_ prefix */
    setenv("HC_USER_ID", "user-42", 1);
    setenv("HC_SESSION_ID", "sess-1", 1);
    setenv("HC_SESSION_NAME", "Trip planner", 1);
    setenv("HC_SESSION_PATH", "/plan/step1", 1);
    setenv("HC_CA_FILE", "/etc/ssl/extra.pem", 1);
    hc_config cfg;
    load(&cfg);
    hc_pairs pl = { cfg.properties.data, (uint32_t)cfg.properties.len };
    T_EQ_STR(hc_pairs_get(&pl, "Workflow"), "research", "HC_PROPERTY_Workflow");
    T_EQ_STR(hc_pairs_get(&pl, "Team"), "a=b, c", "HC_PROPERTY_Team value kept verbatim");
    T_EQ_STR(hc_pairs_get(&pl, "Empty"), "", "empty property value kept");
    T_CHECK(hc_pairs_get(&pl, "workflow") == NULL, "property name case kept as given");
    int n = 0;
    uint32_t pos = 0;
    const char *k, *v;
    while (hc_pairs_next(&pl, &pos, &k, &v)) {
        n++;
        T_CHECK(*k != '\0', "property %d has a name", n);
    }
    T_EQ_INT(n, 3, "exactly three properties (nameless and HC_PROPERTYX ignored)");
    T_EQ_STR(cfg.user_id, "user-42", "HC_USER_ID");
    T_EQ_STR(cfg.session_id, "sess-1", "HC_SESSION_ID");
    T_EQ_STR(cfg.session_name, "Trip planner", "HC_SESSION_NAME");
    T_EQ_STR(cfg.session_path, "/plan/step1", "HC_SESSION_PATH");
    T_EQ_STR(cfg.ca_file, "/etc/ssl/extra.pem", "HC_CA_FILE");
    hc_config_free(&cfg);

    /* An over-long user id is truncated to the field, never overflowing it. */
    char longv[1000];
    memset(longv, 'u', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    clear_hc_env();
    setenv("HC_USER_ID", longv, 1);
    load(&cfg);
    T_EQ_INT(strlen(cfg.user_id), sizeof cfg.user_id - 1, "long HC_USER_ID truncated to the field");
    hc_config_free(&cfg);

    /* Reloading starts from zero: no property or route survives from a previous load. */
    clear_hc_env();
    load(&cfg);
    T_EQ_INT(cfg.properties.len, 0, "reload: no stale properties");
    T_EQ_STR(cfg.user_id, "", "reload: no stale user");
    hc_config_free(&cfg);
}

/* Environment defaults of request headers: units as the headers', bounds
 * applied, and a bad value ignored (fail open) rather than kept. */
static void test_header_defaults(void)
{
    static const struct {
        const char *name, *val;
        int64_t want_us;
    } durs[] = {
        { "HC_CACHE_TTL", "30d", 30LL * 86400 * 1000000 },
        { "HC_CACHE_TTL", "400d", 365LL * 86400 * 1000000 }, /* over the maximum: the maximum */
        { "HC_CACHE_TTL", "60", 60LL * 1000000 },            /* bare: seconds, as max-age */
        { "HC_CACHE_TTL", "soon", 7LL * 86400 * 1000000 },   /* invalid: the default */
        { "HC_RETRY_MIN_TIMEOUT", "1500", 1500000 },         /* bare: milliseconds, as the header */
        { "HC_RETRY_MIN_TIMEOUT", "1.5", 1500 },
        { "HC_RETRY_MIN_TIMEOUT", "2s", 2000000 },
        { "HC_RETRY_MAX_TIMEOUT", "900s", 600000000 }, /* the header's bound, 600 s */
        { "HC_RETRY_MAX_TIMEOUT", "-1", 10000000 },    /* invalid: the default */
        { "HC_RETRY_MAX_TIMEOUT", "99999999999999999999",
          600000000 },                                     /* too many digits: the maximum */
        { "HC_CACHE_TTL", "0x10", 7LL * 86400 * 1000000 }, /* not a duration: the default */
        { "HC_CACHE_TTL", "1e3", 7LL * 86400 * 1000000 },
    };
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        clear_hc_env();
        setenv(durs[i].name, durs[i].val, 1);
        hc_config cfg;
        load(&cfg);
        int64_t got = durs[i].name[3] == 'C'                              ? cfg.cache_ttl_us
                      : durs[i].name[9] == 'M' && durs[i].name[10] == 'I' ? cfg.retry_min_us
                                                                          : cfg.retry_max_us;
        T_CHECK(got == durs[i].want_us, "%s=%s: %lld µs (got %lld)", durs[i].name, durs[i].val,
                (long long)durs[i].want_us, (long long)got);
        hc_config_free(&cfg);
    }

    clear_hc_env();
    setenv("HC_RATELIMIT", "bogus", 1);
    setenv("HC_FALLBACK_ON", "abc", 1);
    setenv("HC_FALLBACKS", "[1]", 1);
    hc_config cfg;
    load(&cfg);
    T_EQ_STR(cfg.ratelimit, "", "a bad HC_RATELIMIT is ignored, not applied to every request");
    T_EQ_STR(cfg.fallback_on, HC_FALLBACK_ON_DEFAULT,
             "a bad HC_FALLBACK_ON gives the default codes");
    T_CHECK(cfg.fallbacks == NULL, "a bad HC_FALLBACKS is ignored");
    hc_config_free(&cfg);

    clear_hc_env();
    setenv("HC_RATELIMIT", "10;w=60;s=user", 1);
    setenv("HC_FALLBACK_ON", "429,500-599", 1);
    setenv("HC_FALLBACKS", "[{\"target-url\":\"https://api.example.com/v1\",\"headers\":{}}]", 1);
    load(&cfg);
    T_EQ_STR(cfg.ratelimit, "10;w=60;s=user", "a good HC_RATELIMIT is kept");
    T_EQ_STR(cfg.fallback_on, "429,500-599", "a good HC_FALLBACK_ON is kept");
    T_CHECK(cfg.fallbacks && strstr(cfg.fallbacks, "api.example.com"),
            "a good HC_FALLBACKS is kept");
    hc_config_free(&cfg);

    /* Checked as requests build them: HC_FALLBACK_MODEL is entry 0, so 8 more
     * are one too many (else every request would get a 400). */
    clear_hc_env();
    hc_buf eight = HC_BUF_INIT;
    hc_buf_puts(&eight, "[");
    for (int i = 0; i < 8; i++)
        hc_buf_printf(&eight, "%s{\"target-url\":\"https://h%d.example.com/v1\"}", i ? "," : "", i);
    hc_buf_puts(&eight, "]");
    setenv("HC_FALLBACKS", eight.data, 1);
    load(&cfg);
    T_CHECK(cfg.fallbacks != NULL, "8 fallbacks alone are kept");
    hc_config_free(&cfg);
    setenv("HC_FALLBACK_MODEL", "gpt-4o", 1);
    load(&cfg);
    T_CHECK(cfg.fallbacks == NULL,
            "HC_FALLBACK_MODEL + 8 fallbacks: over the bound, ignored at start");
    hc_config_free(&cfg);
    hc_buf_free(&eight);
}

int main(void)
{
    test_parse_url();
    test_defaults();
    test_routes();
    test_sizes();
    test_durations();
    test_bools();
    test_properties_and_ids();
    test_header_defaults();
    clear_hc_env();
    return t_done();
}
