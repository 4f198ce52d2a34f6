/* fuzz_http_response.c — hc_http_parse_response (common/http.c), then
 * hc_http_framing for a GET, POST and HEAD request, and what the retry logic
 * reads from a response head (core/retry.c: retry-after, retry-after-ms,
 * x-ratelimit-reset-* Go durations).
 *
 * Invariants: as for requests (consumed <= len, spans inside the head, exact
 * re-parse, strict prefixes partial); status is three digits >= 100; framing
 * follows RFC 9112 §6.3 for 1xx/204/304/HEAD; the provider's requested wait is
 * -1 or within [0, HC_RETRY_AFTER_CAP_US]. */
#include "fuzz_http.h"
#include "err.h"
#include "retry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_dup(data, size);
    hc_http_head h;
    int r = hc_http_parse_response(buf, size, &h);
    FUZZ_CHECK(r == HC_PARTIAL || r == HC_EPARSE || (r > 0 && (size_t)r <= size));
    if (r > 0) {
        size_t n = (size_t)r;
        FUZZ_CHECK(h.status >= 100 && h.status <= 999);
        FUZZ_CHECK(fuzz_within(buf, n, h.reason, h.reason_len));
        FUZZ_CHECK(h.method == NULL && h.target == NULL);
        fuzz_check_head(&h, buf, n);

        char *exact = fuzz_dup(buf, n);
        hc_http_head h2;
        FUZZ_CHECK(hc_http_parse_response(exact, n, &h2) == r);
        FUZZ_CHECK(h2.status == h.status && h2.nheaders == h.nheaders &&
                   h2.reason_len == h.reason_len);
        free(exact);

        fuzz_rng rng;
        fuzz_rng_seed(&rng, data, size);
        size_t cuts[4] = { n - 1, n / 2, fuzz_rng_range(&rng, 0, n - 1),
                           fuzz_rng_range(&rng, 0, n - 1) };
        for (int i = 0; i < 4; i++) {
            char *pre = fuzz_dup(buf, cuts[i]);
            hc_http_head hp;
            int rp = hc_http_parse_response(pre, cuts[i], &hp);
            FUZZ_CHECK(rp == HC_PARTIAL || (rp == HC_EPARSE && cuts[i] > 8192));
            free(pre);
        }

        static const char *const methods[] = { "GET", "POST", "HEAD", "head" };
        for (int i = 0; i < 4; i++)
            fuzz_check_framing(&h, true, methods[i], strlen(methods[i]));
        fuzz_check_framing(&h, true, NULL, 0);

        /* The wait the provider asks for, at a fixed "now" (2025-01-01). */
        int64_t now = 1735689600LL * 1000000;
        int64_t w = hc_retry_after_us(&h, now);
        FUZZ_CHECK(w == -1 || (w >= 0 && w <= HC_RETRY_AFTER_CAP_US));
        hc_retry_policy pol = { .retries = 3, .factor = 2, .min_us = 1000000, .max_us = 10000000 };
        for (int k = 0; k < 40; k += 13) {
            int64_t wt = hc_retry_wait_us(&pol, k, &h, now);
            FUZZ_CHECK(wt >= 0 && wt <= (HC_RETRY_AFTER_CAP_US > pol.max_us ? HC_RETRY_AFTER_CAP_US
                                                                            : pol.max_us));
        }
        (void)hc_retry_status(h.status);
    }
    free(buf);
    return 0;
}
