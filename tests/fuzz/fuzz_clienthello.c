/* fuzz_clienthello.c — the SNI peek (core/clienthello.c) on arbitrary bytes,
 * with the scratch and SNI buffers sized from the input and allocated exactly
 * (a write past either hits ASan's redzone), then hc_provider_for_host on the
 * name found.
 *
 * Input: byte 0 picks the SNI buffer size (1..256), byte 1 the scratch size
 * (small, or the gateway's 64 KiB); the rest is what the app sent.
 * Invariants: documented return codes; a name found is NUL-terminated inside
 * the buffer, lower-case printable ASCII without blanks; a prefix of the
 * input never gives a different answer than HC_PARTIAL or the same one. */
#include "fuzz.h"
#include "clienthello.h"
#include "err.h"
#include "provider.h"

static int sni_of(const unsigned char *p, size_t n, size_t scratch_len, size_t sni_size, char *out)
{
    unsigned char *scratch = (unsigned char *)fuzz_dup("", scratch_len ? scratch_len : 1);
    char *sni = fuzz_dup("", sni_size);
    memset(scratch, 0, scratch_len ? scratch_len : 1);
    int r = hc_clienthello_sni(p, n, scratch, scratch_len, sni, sni_size);
    FUZZ_CHECK(r == 0 || r == HC_PARTIAL || r == HC_EPARSE || r == HC_ETOOBIG);
    FUZZ_CHECK(memchr(sni, '\0', sni_size) != NULL);
    if (r == 0) {
        size_t l = strlen(sni);
        for (size_t i = 0; i < l; i++) {
            unsigned char c = (unsigned char)sni[i];
            FUZZ_CHECK(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'));
        }
        memcpy(out, sni, l + 1);
    }
    free(sni);
    free(scratch);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t sni_size = (size_t)data[0] + 1;
    size_t scratch_len = data[1] == 0 ? 65536 : data[1] < 128 ? (size_t)data[1] * 8 : 65536;
    const unsigned char *p = (const unsigned char *)fuzz_dup(data + 2, size - 2);
    size_t n = size - 2;
    char name[257] = "";

    if (n)
        (void)hc_looks_like_tls(p, n);
    int r = sni_of(p, n, scratch_len, sni_size, name);
    if (r == 0) {
        FUZZ_CHECK(hc_provider_for_host(name, 443) != NULL);
        FUZZ_CHECK(hc_provider_for_host(name, -1) != NULL);
    }
    /* Prefixes: the gateway peeks again as more bytes arrive. */
    fuzz_rng rng;
    fuzz_rng_seed(&rng, data, size);
    for (int i = 0; i < 3 && n; i++) {
        size_t k = i == 0 ? n - 1 : fuzz_rng_range(&rng, 0, n - 1);
        char pname[257] = "";
        const unsigned char *pre = (const unsigned char *)fuzz_dup(p, k);
        int rp = sni_of(pre, k, scratch_len, sni_size, pname);
        if (r == 0 || r == HC_PARTIAL)
            FUZZ_CHECK(rp == HC_PARTIAL || (rp == r && strcmp(pname, name) == 0));
        free((void *)pre);
    }
    free((void *)p);
    return 0;
}
