/* fuzz_usage.c — usage and request extraction (common/usage.c) for every API
 * kind: hc_usage_from_body, hc_usage_from_message (messages split from an SSE
 * or NDJSON stream by common/stream.c, as the gateway does), hc_usage_from_tail
 * and hc_request_info_parse.
 *
 * Input: byte 0 picks the API kind (any value mod HC_API_NKINDS, so UNKNOWN
 * and its sniffing run too), byte 1 the entry point; the rest is the body
 * (for request info: "TARGET\nBODY"; bit 7 of byte 0 then detects the API
 * from the target instead).
 * Invariants: documented return codes; a failed call leaves the usage
 * unchanged; every count within [0, HC_USAGE_MAX_TOKENS]; model and finish
 * NUL-terminated inside their arrays with no control bytes. */
#include "fuzz.h"
#include "err.h"
#include "stream.h"
#include "usage.h"

static void check_text(const char *s, size_t size)
{
    FUZZ_CHECK(memchr(s, '\0', size) != NULL);
    FUZZ_CHECK(fuzz_no_ctl(s));
}

static void check_usage(const hc_usage *u)
{
    const int64_t v[6] = { u->tok.in,   u->tok.out,  u->tok.cached,
                           u->tok.cw5m, u->tok.cw1h, u->tok.reasoning };
    for (int i = 0; i < 6; i++)
        FUZZ_CHECK(v[i] >= 0 && v[i] <= HC_USAGE_MAX_TOKENS);
    check_text(u->model, sizeof u->model);
    check_text(u->finish, sizeof u->finish);
    if (!u->found)
        FUZZ_CHECK(u->tok.in == 0 && u->tok.out == 0 && u->tok.cached == 0 && u->tok.cw5m == 0 &&
                   u->tok.cw1h == 0 && u->tok.reasoning == 0);
}

struct sctx {
    enum hc_api api;
    hc_usage *u;
};

static void on_msg(void *vc, const char *event, const char *data, size_t data_len, const char *raw,
                   size_t raw_len)
{
    struct sctx *c = vc;
    hc_usage before = *c->u;
    char *d = fuzz_dup(data, data_len);
    int r = hc_usage_from_message(c->api, event, d, data_len, c->u);
    FUZZ_CHECK(r == 0 || r == HC_EPARSE);
    if (r == HC_EPARSE)
        FUZZ_CHECK(memcmp(&before, c->u, sizeof before) == 0);
    check_usage(c->u);
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    enum hc_api api = (enum hc_api)(data[0] % HC_API_NKINDS);
    unsigned mode = data[1] % 5;
    const char *body = (const char *)data + 2;
    size_t n = size - 2;
    char *b = fuzz_dup(body, n);
    hc_usage u, before;
    hc_usage_init(&u);
    int r;

    switch (mode) {
    case 0: /* a whole response body */
        r = hc_usage_from_body(api, b, n, &u);
        FUZZ_CHECK(r == 0 || r == HC_EPARSE);
        if (r == HC_EPARSE) {
            hc_usage z;
            hc_usage_init(&z);
            FUZZ_CHECK(memcmp(&z, &u, sizeof u) == 0);
        }
        check_usage(&u);
        break;
    case 1: /* a stream, split into messages */
    case 2: {
        hc_stream s;
        struct sctx c = { api, &u };
        hc_stream_init(&s, mode == 1 ? HC_STREAM_SSE : HC_STREAM_NDJSON, 0);
        fuzz_rng rng;
        fuzz_rng_seed(&rng, data, size);
        for (size_t at = 0; at < n;) {
            size_t take = fuzz_rng_range(&rng, 1, n - at);
            FUZZ_CHECK(hc_stream_feed(&s, b + at, take, on_msg, &c) == 0);
            at += take;
        }
        hc_stream_finish(&s, on_msg, &c);
        hc_stream_free(&s);
        break;
    }
    case 3: /* the tail of a body too large to keep */
        before = u;
        r = hc_usage_from_tail(api, b, n, &u);
        FUZZ_CHECK(r == 0 || r == HC_ENOTFOUND);
        if (r == HC_ENOTFOUND)
            FUZZ_CHECK(memcmp(&before, &u, sizeof u) == 0);
        else
            FUZZ_CHECK(u.found);
        check_usage(&u);
        break;
    default: { /* a request: "TARGET\nBODY" */
        const char *nl = memchr(b, '\n', n);
        size_t tl = nl ? (size_t)(nl - b) : 0;
        char *target = fuzz_dup(b, tl);
        const char *rb = nl ? nl + 1 : b;
        size_t rl = n - (size_t)(rb - b);
        char *req = fuzz_dup(rb, rl);
        if (data[0] & 0x80)
            api = hc_api_detect("POST", target, tl);
        hc_request_info info;
        memset(&info, 0xa5, sizeof info);
        r = hc_request_info_parse(api, nl ? target : NULL, tl, req, rl, &info);
        FUZZ_CHECK(r == 0 || r == HC_EPARSE);
        check_text(info.model, sizeof info.model);
        if (!info.stream && (api == HC_API_OLLAMA_CHAT || api == HC_API_OLLAMA_GENERATE))
            FUZZ_CHECK(memmem(req, rl, "stream", 6) != NULL); /* only the body can turn it off */
        /* A body cut anywhere (a capture bound) is handled too. */
        fuzz_rng rng;
        fuzz_rng_seed(&rng, data, size);
        size_t cut = fuzz_rng_range(&rng, 0, rl);
        char *pre = fuzz_dup(req, cut);
        hc_request_info info2;
        r = hc_request_info_parse(api, nl ? target : NULL, tl, pre, cut, &info2);
        FUZZ_CHECK(r == 0 || r == HC_EPARSE);
        check_text(info2.model, sizeof info2.model);
        free(pre);
        free(target);
        free(req);
        break;
    }
    }
    free(b);
    return 0;
}
