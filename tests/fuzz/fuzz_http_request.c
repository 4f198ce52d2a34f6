/* fuzz_http_request.c — hc_http_parse_request (common/http.c) on arbitrary
 * bytes, then hc_http_framing and the header helpers on what it parsed.
 *
 * Invariants: the result is HC_PARTIAL, HC_EPARSE or 0 < n <= len; every span
 * points inside the consumed head; parsing exactly the consumed bytes gives
 * the same head; every strict prefix of a complete head is HC_PARTIAL (the
 * picohttpparser protocol the gateway's read loop relies on) — except that a
 * request line still without its end after 8192 bytes is refused. */
#include "fuzz_http.h"
#include "err.h"
#include "provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_dup(data, size);
    hc_http_head h;
    int r = hc_http_parse_request(buf, size, &h);
    FUZZ_CHECK(r == HC_PARTIAL || r == HC_EPARSE || (r > 0 && (size_t)r <= size));
    if (r > 0) {
        size_t n = (size_t)r;
        FUZZ_CHECK(h.method_len > 0 && fuzz_within(buf, n, h.method, h.method_len));
        FUZZ_CHECK(h.target_len > 0 && fuzz_within(buf, n, h.target, h.target_len));
        for (size_t k = 0; k < h.method_len; k++)
            FUZZ_CHECK(fuzz_tchar((unsigned char)h.method[k]));
        for (size_t k = 0; k < h.target_len; k++)
            FUZZ_CHECK((unsigned char)h.target[k] > 0x20 && h.target[k] != 0x7f);
        FUZZ_CHECK(h.status == 0);
        fuzz_check_head(&h, buf, n);

        /* The consumed bytes alone parse to the same head. */
        char *exact = fuzz_dup(buf, n);
        hc_http_head h2;
        FUZZ_CHECK(hc_http_parse_request(exact, n, &h2) == r);
        FUZZ_CHECK(h2.nheaders == h.nheaders && h2.method_len == h.method_len &&
                   h2.target_len == h.target_len && h2.minor_version == h.minor_version);
        FUZZ_CHECK(h2.method - exact == h.method - buf && h2.target - exact == h.target - buf);
        for (size_t i = 0; i < h.nheaders; i++) {
            FUZZ_CHECK(h2.headers[i].name - exact == h.headers[i].name - buf);
            FUZZ_CHECK(h2.headers[i].value_len == h.headers[i].value_len);
        }
        free(exact);

        /* Strict prefixes are partial: a few cuts, chosen from the input. */
        fuzz_rng rng;
        fuzz_rng_seed(&rng, data, size);
        size_t cuts[4] = { n - 1, n / 2, fuzz_rng_range(&rng, 0, n - 1),
                           fuzz_rng_range(&rng, 0, n - 1) };
        for (int i = 0; i < 4; i++) {
            char *pre = fuzz_dup(buf, cuts[i]);
            hc_http_head hp;
            int rp = hc_http_parse_request(pre, cuts[i], &hp);
            FUZZ_CHECK(rp == HC_PARTIAL || (rp == HC_EPARSE && cuts[i] > 8192));
            free(pre);
        }

        fuzz_check_framing(&h, false, NULL, 0);
        /* What the gateway derives from a request head. */
        char *method = fuzz_str(h.method, h.method_len);
        enum hc_api api = hc_api_detect(method, h.target, h.target_len);
        FUZZ_CHECK(api >= HC_API_UNKNOWN && api < HC_API_NKINDS);
        FUZZ_CHECK(hc_api_from_name(hc_api_name(api)) == api);
        free(method);
        const hc_header *host = hc_http_header(&h, "host");
        if (host) {
            char *hs = fuzz_str(host->value, host->value_len);
            const char *prov = hc_provider_for_host(hs, -1);
            FUZZ_CHECK(prov != NULL);
            free(hs);
        }
    }
    free(buf);
    return 0;
}
