/* fuzz_streamfix.c — the include_usage rewrite of requests and the SSE filter
 * that hides the injected usage chunk from the app (core/streamfix.c).
 *
 * Input: byte 0 picks the entry point; the rest is a request body, a chunk's
 * JSON, or an SSE stream.
 * Invariants:
 *   hc_inject_include_usage: 0/1/HC_ENOMEM; a rewritten body is still one
 *     JSON object whose "stream" is true, and rewriting it again changes
 *     nothing (the usage is now asked for); 0 leaves out untouched.
 *   hc_sse_rewrite_json: 1 (drop) only for an object with "choices" and a
 *     non-null "usage"; 0 gives the input minus at most one member, still a
 *     well-formed object when the input was one.
 *   the SSE filter: the same output whether the stream arrives whole or in
 *     pieces; never more bytes out than in; a stream with no "usage" in it
 *     passes byte for byte (principle 2: transparent). */
#include "fuzz.h"
#include "buf.h"
#include "err.h"
#include "jsonedit.h"
#include "streamfix.h"

static void filter(const char *p, size_t n, fuzz_rng *rng, hc_buf *out, size_t *dropped)
{
    hc_sse_filter f;
    hc_sse_filter_init(&f);
    for (size_t at = 0; at < n;) {
        size_t take = rng ? fuzz_rng_range(rng, 1, n - at) : n - at;
        char *piece = fuzz_dup(p + at, take);
        FUZZ_CHECK(hc_sse_filter_feed(&f, piece, take, out) == 0);
        free(piece);
        at += take;
    }
    hc_sse_filter_finish(&f, out);
    *dropped = f.dropped;
    hc_sse_filter_free(&f);
}

static int member_value_is(const char *s, size_t n, const char *key, const char *lit)
{
    hc_json_member m[300];
    int c = hc_json_members(s, n, m, 300);
    if (c < 0 || c > 300)
        return -1;
    /* the last member of that name wins, as in the providers' JSON parsers */
    size_t kl = strlen(key);
    for (int i = c - 1; i >= 0; i--)
        if (m[i].kend - m[i].k == kl + 2 && memcmp(s + m[i].k + 1, key, kl) == 0)
            return hc_json_span_is(s, m[i].v, m[i].vend, lit);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = fuzz_dup(data + 1, size - 1);
    size_t n = size - 1;
    hc_buf out = HC_BUF_INIT;

    switch (data[0] % 3) {
    case 0: {
        int r = hc_inject_include_usage(p, n, &out);
        FUZZ_CHECK(r == 0 || r == 1);
        if (r == 0) {
            FUZZ_CHECK(out.len == 0);
            break;
        }
        hc_json_member m[300];
        int c = hc_json_members(out.data, out.len, m, 300);
        FUZZ_CHECK(c >= 0);
        FUZZ_CHECK(member_value_is(out.data, out.len, "stream", "true") != 0);
        hc_buf again = HC_BUF_INIT;
        FUZZ_CHECK(hc_inject_include_usage(out.data, out.len, &again) == 0);
        FUZZ_CHECK(again.len == 0);
        hc_buf_free(&again);
        break;
    }
    case 1: {
        hc_json_member m[64];
        int cin = hc_json_members(p, n, m, 64);
        int r = hc_sse_rewrite_json(p, n, &out);
        FUZZ_CHECK(r == 0 || r == 1);
        if (r == 1) {
            FUZZ_CHECK(cin > 0);
            FUZZ_CHECK(hc_json_find(p, m, cin < 64 ? cin : 64, "usage") >= 0);
            FUZZ_CHECK(hc_json_find(p, m, cin < 64 ? cin : 64, "choices") >= 0);
            break;
        }
        FUZZ_CHECK(out.len <= n);
        if (out.len == n) {
            FUZZ_CHECK(n == 0 || memcmp(out.data, p, n) == 0);
        } else {
            FUZZ_CHECK(cin >= 1 && cin <= 64);
            hc_json_member m2[64];
            int cout = hc_json_members(out.data, out.len, m2, 64);
            FUZZ_CHECK(cout == cin - 1);
        }
        break;
    }
    default: {
        size_t d1, d2;
        hc_buf piecewise = HC_BUF_INIT;
        filter(p, n, NULL, &out, &d1);
        fuzz_rng rng;
        fuzz_rng_seed(&rng, data, size);
        filter(p, n, &rng, &piecewise, &d2);
        FUZZ_CHECK(d1 == d2);
        FUZZ_CHECK(out.len == piecewise.len &&
                   (out.len == 0 || memcmp(out.data, piecewise.data, out.len) == 0));
        FUZZ_CHECK(out.len <= n);
        if (!memmem(p, n, "usage", 5))
            FUZZ_CHECK(out.len == n && (n == 0 || memcmp(out.data, p, n) == 0));
        hc_buf_free(&piecewise);
        break;
    }
    }
    hc_buf_free(&out);
    free((void *)p);
    return 0;
}
