/* test_core_cache.c — core/cache.c, the response cache: the canonical body
 * (key order and ignored keys do not matter, anything else does), the key
 * (credentials, seed, host and path enter it; other headers do not), bucket
 * counts as Helicone defines them (MISS until N live answers, then HIT
 * round-robin), TTL expiry (an expired bucket is free again), and entries
 * read back whole. Uses a store in a temporary directory. */
#include "cache.h"
#include "err.h"
#include "store.h"
#include "t.h"

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#define SEC 1000000LL
#define NOW (1800000000LL * SEC)

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static char *canon(const char *body, const char *ignore, int *rc)
{
    static char out[1024];
    hc_buf b = HC_BUF_INIT;
    *rc = hc_cache_canonical(body, strlen(body), ignore, &b);
    snprintf(out, sizeof out, "%s", b.data ? b.data : "");
    hc_buf_free(&b);
    return out;
}

static void test_canonical(void)
{
    int rc;
    T_EQ_STR(canon("{\"b\":1,\"a\":{\"y\":[{\"d\":1,\"c\":2}],\"x\":null}}", NULL, &rc),
             "{\"a\":{\"x\":null,\"y\":[{\"c\":2,\"d\":1}]},\"b\":1}",
             "keys sorted at every level, arrays kept in order");
    T_EQ_INT(rc, 0, "…rc 0");
    T_EQ_STR(canon("{ \"model\" : \"m\",\n \"user\":\"u1\", \"seed\":3}", "user, seed", &rc),
             "{\"model\":\"m\"}", "ignored keys removed, whitespace gone");
    T_EQ_STR(canon("{\"a\":{\"user\":1},\"user\":2}", "user", &rc), "{\"a\":{\"user\":1}}",
             "ignore keys apply at the top level only");
    T_EQ_STR(canon("{\"User\":1}", "user", &rc), "{\"User\":1}", "ignore keys are case-sensitive");
    canon("not json", NULL, &rc);
    T_EQ_INT(rc, HC_EPARSE, "a non-JSON body is HC_EPARSE (hashed raw)");
    char deep[2100];
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    deep[1200] = '\0';
    hc_buf b = HC_BUF_INIT;
    T_CHECK(hc_cache_canonical(deep, strlen(deep), NULL, &b) != 0,
            "nesting beyond the limit is refused, not recursed");
    hc_buf_free(&b);
}

typedef struct req {
    hc_opts o;
    hc_http_head h;
    char raw[1024];
} req;

static void make_req(req *r, const char *headers, int buckets, const char *seed, const char *ignore)
{
    memset(r, 0, sizeof *r);
    r->o.cache_buckets = buckets;
    r->o.cache_ttl_us = 60 * SEC;
    snprintf(r->o.cache_seed, sizeof r->o.cache_seed, "%s", seed);
    snprintf(r->o.cache_ignore, sizeof r->o.cache_ignore, "%s", ignore);
    snprintf(r->raw, sizeof r->raw,
             "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n%s\r\n", headers);
    if (hc_http_parse_request(r->raw, strlen(r->raw), &r->h) <= 0)
        printf("# cannot parse the test request\n");
}

/* The key of a request, as hex. */
static const char *key_of(const char *headers, const char *seed, const char *ignore,
                          const char *host, const char *body)
{
    static char hex[4][65];
    static int turn;
    req r;
    hc_cache_ctx c;
    make_req(&r, headers, 1, seed, ignore);
    if (hc_cache_prepare(&c, &r.o, host, "/v1/chat/completions", &r.h, body, strlen(body)) != 0)
        return "error";
    char *out = hex[turn++ % 4];
    memcpy(out, c.key_hex, 65);
    return out;
}

static void test_key(void)
{
    const char *body =
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    const char *reordered =
        "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],  \"model\":\"gpt-4o\"}";
    char k[65];
    snprintf(k, sizeof k, "%s",
             key_of("Authorization: Bearer A\r\n", "", "", "api.openai.com", body));
    T_CHECK(strlen(k) == 64 && strspn(k, "0123456789abcdef") == 64, "the key is 64 hex digits");
    T_EQ_STR(key_of("Authorization: Bearer A\r\n", "", "", "api.openai.com", reordered), k,
             "key order and whitespace do not change the key");
    T_EQ_STR(key_of("Authorization: Bearer A\r\nUser-Agent: x/2\r\nX-Stainless-Retry-Count: 1\r\n",
                    "", "", "api.openai.com", body),
             k, "other headers do not change the key");
    T_CHECK(strcmp(key_of("Authorization: Bearer B\r\n", "", "", "api.openai.com", body), k) != 0,
            "another API key is another key");
    T_CHECK(strcmp(key_of("x-api-key: A\r\n", "", "", "api.openai.com", body), k) != 0,
            "x-api-key is a credential too");
    T_CHECK(strcmp(key_of("Authorization: Bearer A\r\n", "s1", "", "api.openai.com", body), k) != 0,
            "a seed is another key");
    T_CHECK(strcmp(key_of("Authorization: Bearer A\r\n", "", "", "api.groq.com", body), k) != 0,
            "another host is another key");
    T_CHECK(strcmp(key_of("Authorization: Bearer A\r\n", "", "", "api.openai.com",
                          "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
                          "\"hi\"}]}"),
                   k) != 0,
            "another model is another key");
    T_EQ_STR(key_of("Authorization: Bearer A\r\n", "", "user", "api.openai.com",
                    "{\"user\":\"u7\",\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
                    "\"content\":\"hi\"}]}"),
             k, "an ignored key does not change the key");
    char raw1[65];
    snprintf(raw1, sizeof raw1, "%s", key_of("", "", "", "api.openai.com", "plain text"));
    T_CHECK(strcmp(raw1, key_of("", "", "", "api.openai.com", "plain text ")) != 0,
            "a non-JSON body is hashed byte for byte");

    req r;
    hc_cache_ctx c;
    make_req(&r, "", 0, "", "");
    hc_cache_prepare(&c, &r.o, "h", "/p", &r.h, "{}", 2);
    T_EQ_INT(c.buckets, 1, "bucket size 0 is taken as 1");
    make_req(&r, "", 21, "", "");
    hc_cache_prepare(&c, &r.o, "h", "/p", &r.h, "{}", 2);
    T_EQ_INT(c.buckets, 1, "bucket size 21 (over 20) is taken as 1");
    make_req(&r, "", 20, "", "");
    hc_cache_prepare(&c, &r.o, "h", "/p", &r.h, "{}", 2);
    T_EQ_INT(c.buckets, 20, "bucket size 20 is kept");
    T_EQ_INT(c.ttl_us, 60 * SEC, "the TTL is the request's");
    uint8_t k0[32], k0b[32], k1[32];
    hc_cache_bucket_key(&c, 0, k0);
    hc_cache_bucket_key(&c, 0, k0b);
    hc_cache_bucket_key(&c, 1, k1);
    T_CHECK(memcmp(k0, k0b, 32) == 0 && memcmp(k0, k1, 32) != 0,
            "bucket keys are stable and distinct");
}

static void put(hc_store *s, const hc_cache_ctx *c, int bucket, const char *body, int64_t expires)
{
    hc_cache_entry e;
    memset(&e, 0, sizeof e);
    e.created_us = NOW - SEC;
    e.expires_us = expires;
    e.status = 200;
    e.tok.in = 11;
    e.tok.out = 7;
    e.cost_nusd = 1234;
    e.host = "api.openai.com";
    e.model = "gpt-4o";
    e.path = "/v1/chat/completions";
    e.head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n";
    e.head_len = strlen(e.head);
    e.body = body;
    e.body_len = strlen(body);
    int rc = hc_cache_put(s, c, bucket, &e);
    if (rc)
        printf("# hc_cache_put: %d\n", rc);
}

/* Look up; returns the hit's body (or "MISS"), and the bucket. */
static const char *look(hc_store *s, const hc_cache_ctx *c, int64_t now, int *bucket)
{
    static char out[256];
    hc_cache_entry e;
    hc_buf st = HC_BUF_INIT;
    *bucket = -9;
    int rc = hc_cache_lookup(s, c, now, &e, &st, bucket);
    if (rc == HC_CACHE_HIT)
        snprintf(out, sizeof out, "%.*s", (int)e.body_len, e.body);
    else if (rc == HC_CACHE_MISS)
        snprintf(out, sizeof out, "MISS");
    else
        snprintf(out, sizeof out, "error %d", rc);
    hc_buf_free(&st);
    return out;
}

static void test_store(hc_store *s)
{
    req r;
    hc_cache_ctx c;
    int b;
    make_req(&r, "Authorization: Bearer A\r\n", 1, "", "");
    hc_cache_prepare(&c, &r.o, "api.openai.com", "/v1/chat/completions", &r.h, "{\"q\":1}", 7);
    T_EQ_STR(look(s, &c, NOW, &b), "MISS", "an empty cache misses");
    T_EQ_INT(b, 0, "…and offers bucket 0");
    put(s, &c, b, "answer-1", NOW + 10 * SEC);

    hc_cache_entry e;
    hc_buf st = HC_BUF_INIT;
    T_EQ_INT(hc_cache_lookup(s, &c, NOW, &e, &st, &b), HC_CACHE_HIT, "the stored answer hits");
    T_CHECK(b == 0 && e.status == 200 && e.tok.in == 11 && e.tok.out == 7 && e.cost_nusd == 1234,
            "…bucket 0, status, tokens and cost read back");
    T_CHECK(e.head_len > 0 && strncmp(e.head, "HTTP/1.1 200 OK\r\n", 17) == 0 && e.body_len == 8,
            "…head and body read back");
    T_EQ_STR(e.model, "gpt-4o", "…model read back");
    hc_buf_free(&st);
    T_EQ_STR(look(s, &c, NOW + 10 * SEC - 1, &b), "answer-1", "live until just before it expires");
    T_EQ_STR(look(s, &c, NOW + 10 * SEC, &b), "MISS", "expired at its expiry time");
    T_EQ_INT(b, 0, "…its bucket is free again");

    /* Three buckets: MISS while fewer than three live answers, each stored in
     * the next free bucket; then HIT round-robin. */
    make_req(&r, "Authorization: Bearer A\r\n", 3, "", "");
    hc_cache_prepare(&c, &r.o, "api.openai.com", "/v1/chat/completions", &r.h, "{\"q\":3}", 7);
    static const char *ans[3] = { "b0", "b1", "b2" };
    for (int i = 0; i < 3; i++) {
        T_EQ_STR(look(s, &c, NOW, &b), "MISS", "3 buckets, %d live: MISS", i);
        T_EQ_INT(b, i, "…store into bucket %d", i);
        put(s, &c, b, ans[i], i == 1 ? NOW + 5 * SEC : NOW + 100 * SEC);
    }
    char seen[8] = "";
    for (int i = 0; i < 4; i++) {
        const char *got = look(s, &c, NOW, &b);
        T_CHECK(strcmp(got, ans[b >= 0 && b < 3 ? b : 0]) == 0,
                "HIT %d served bucket %d's answer (%s)", i, b, got);
        seen[i] = (char)('0' + b);
    }
    T_EQ_STR(seen, "0120", "hits rotate over the buckets in order");
    T_EQ_STR(look(s, &c, NOW + 5 * SEC, &b), "MISS", "bucket 1 expired: MISS again");
    T_EQ_INT(b, 1, "…and bucket 1 is the one to refill");

    /* A different request shares nothing with these. */
    make_req(&r, "Authorization: Bearer B\r\n", 3, "", "");
    hc_cache_prepare(&c, &r.o, "api.openai.com", "/v1/chat/completions", &r.h, "{\"q\":3}", 7);
    T_EQ_STR(look(s, &c, NOW, &b), "MISS", "the same body with another API key misses");
}

int main(void)
{
    char dir[] = "/tmp/hc-test-cache-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_canonical();
    test_key();
    hc_store *s = NULL;
    char err[600];
    T_EQ_INT(hc_store_open(dir, 0, &s, err, sizeof err), 0, "store opens (%s)", err);
    if (s) {
        test_store(s);
        hc_store_close(s);
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return t_done();
}
