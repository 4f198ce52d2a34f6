/* fuzz_record.c — the record wire format (common/record.c): hc_record_decode
 * on arbitrary bytes, hc_pairs_next / hc_pairs_get over the decoded pairs
 * lists, the varint helpers, and an encode -> decode round trip of whatever
 * decoded.
 *
 * Invariants: decode returns 0 / HC_EPARSE / HC_ESCHEMA and never allocates;
 * every string of the result is "" or points into the input with its NUL
 * inside it; pairs iteration stays inside the list and terminates;
 * decode(encode(r)) == r field by field (strings as C strings, pairs byte
 * for byte) and encode is canonical (encoding again gives the same bytes). */
#include "fuzz.h"
#include "buf.h"
#include "err.h"
#include "record.h"

/* X-macro lists: clang-format 14 does not settle on one layout for them. */
/* clang-format off */
#define STR_FIELDS(X)                                                                           \
    X(host) X(provider) X(api) X(method) X(path) X(upstream) X(model_req) X(model_resp) X(error) \
    X(user) X(session_id) X(session_path) X(session_name) X(request_id) X(attempts) X(program)  \
    X(cache_key) X(budget)
#define INT_FIELDS(X)                                                                           \
    X(start_us) X(latency_us) X(ttft_us) X(status) X(tok_in) X(tok_out) X(tok_cached)            \
    X(tok_cw5m) X(tok_cw1h) X(tok_reasoning) X(cost_nusd) X(saved_nusd) X(cost_flags) X(flags)  \
    X(retries) X(fallback_idx) X(ratelimit_wait_us) X(pid) X(req_bytes) X(resp_bytes)
/* clang-format on */

static void check_str(const char *s, const uint8_t *base, size_t n)
{
    FUZZ_CHECK(s != NULL);
    if (*s == '\0' && !fuzz_within(base, n, s, 0))
        return; /* a default "" */
    FUZZ_CHECK(fuzz_within(base, n, s, 1));
    FUZZ_CHECK(memchr(s, '\0', (size_t)((const char *)base + n - s)) != NULL);
}

static void check_pairs(const hc_pairs *pl, const uint8_t *base, size_t n)
{
    FUZZ_CHECK(pl->p != NULL);
    if (pl->len == 0)
        return;
    FUZZ_CHECK(fuzz_within(base, n, pl->p, (size_t)pl->len + 1));
    FUZZ_CHECK(pl->p[pl->len] == '\0');
    uint32_t pos = 0, prev = 0;
    const char *name, *value, *first_name = NULL, *first_value = NULL;
    int guard = 0;
    while (hc_pairs_next(pl, &pos, &name, &value)) {
        FUZZ_CHECK(pos > prev && pos <= pl->len);
        FUZZ_CHECK(name >= pl->p && value > name && value + strlen(value) < pl->p + pl->len + 1);
        FUZZ_CHECK(name + strlen(name) + 1 == value);
        if (!first_name) {
            first_name = name;
            first_value = value;
        }
        prev = pos;
        FUZZ_CHECK(++guard <= (int)pl->len);
    }
    if (first_name)
        FUZZ_CHECK(hc_pairs_get(pl, first_name) == first_value);
}

static void check_record(const hc_record *r, const uint8_t *base, size_t n)
{
#define CS(f) check_str(r->f, base, n);
    STR_FIELDS(CS)
#undef CS
    check_pairs(&r->props, base, n);
    check_pairs(&r->ratelimit, base, n);
}

static void same_record(const hc_record *a, const hc_record *b)
{
#define SS(f) FUZZ_CHECK(strcmp(a->f, b->f) == 0);
    STR_FIELDS(SS)
#undef SS
#define SI(f) FUZZ_CHECK(a->f == b->f);
    INT_FIELDS(SI)
#undef SI
    FUZZ_CHECK(a->props.len == b->props.len && memcmp(a->props.p, b->props.p, a->props.len) == 0);
    FUZZ_CHECK(a->ratelimit.len == b->ratelimit.len &&
               memcmp(a->ratelimit.p, b->ratelimit.p, a->ratelimit.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = (const uint8_t *)fuzz_dup(data, size);
    hc_record r;
    memset(&r, 0x5a, sizeof r);
    int rc = hc_record_decode(p, size, &r);
    FUZZ_CHECK(rc == 0 || rc == HC_EPARSE || rc == HC_ESCHEMA);
    check_record(&r, p, size);

    if (rc == 0) {
        hc_buf enc = HC_BUF_INIT, enc2 = HC_BUF_INIT;
        FUZZ_CHECK(hc_record_encode(&r, &enc) == 0);
        FUZZ_CHECK(enc.len <= size); /* never longer than what it came from */
        hc_record r2;
        FUZZ_CHECK(hc_record_decode(enc.data, enc.len, &r2) == 0);
        check_record(&r2, (const uint8_t *)enc.data, enc.len);
        same_record(&r, &r2);
        FUZZ_CHECK(hc_record_encode(&r2, &enc2) == 0);
        FUZZ_CHECK(enc.len == enc2.len && memcmp(enc.data, enc2.data, enc.len) == 0);
        hc_buf_free(&enc);
        hc_buf_free(&enc2);
    }

    /* varints: whatever decodes re-encodes to a value that decodes the same */
    uint64_t v = 0;
    size_t k = hc_varint_get(p, size, &v);
    FUZZ_CHECK(k <= 10 && k <= size);
    if (k) {
        uint8_t tmp[10];
        size_t m = hc_varint_put(tmp, v);
        uint64_t v2 = 0;
        FUZZ_CHECK(m >= 1 && m <= 10 && m <= k);
        FUZZ_CHECK(hc_varint_get(tmp, m, &v2) == m && v2 == v);
        FUZZ_CHECK(hc_varint_get(tmp, m - 1, &v2) == 0);
    }
    free((void *)p);
    return 0;
}
