/* fuzz_decode.c — the Content-Encoding decoders (core/decode.c): gzip,
 * deflate (zlib or raw, sniffed), br and zstd, on arbitrary bytes.
 *
 * Input: byte 0 picks the coding name (including spellings with blanks, mixed
 * case and unsupported ones); the rest is the encoded body. It is decoded in
 * 64-byte pieces and again in input-derived pieces. Output is bounded: feeding
 * stops once 4 MiB came out (a small input may legitimately inflate far).
 * Invariants: hc_decoder_new returns NULL exactly for identity and unknown
 * codings (flagging the unknown ones); each callback piece is 1..16384
 * bytes; feed returns 0 or HC_EPARSE and, once failed, keeps failing; both
 * ways of feeding reach the same verdict and, when both succeed, the same
 * output. */
#include "fuzz.h"
#include "decode.h"
#include "err.h"

#define OUT_CAP (4u << 20)

struct sink {
    uint64_t hash;
    size_t total;
};

static void on_out(void *vc, const char *p, size_t n)
{
    struct sink *s = vc;
    FUZZ_CHECK(p != NULL && n > 0 && n <= 16384);
    if (s->total < OUT_CAP)
        for (size_t i = 0; i < n; i++)
            s->hash = (s->hash ^ (unsigned char)p[i]) * 1099511628211ull;
    s->total += n;
}

/* Returns the verdict (0 / HC_EPARSE) and fills *s; *capped if output hit the cap. */
static int decode(const char *coding, const char *p, size_t n, fuzz_rng *rng, struct sink *s,
                  bool *capped)
{
    bool unsupported = true;
    hc_decoder *d = hc_decoder_new(coding, strlen(coding), &unsupported);
    memset(s, 0, sizeof *s);
    s->hash = 1469598103934665603ull;
    *capped = false;
    if (!d)
        return unsupported ? 1 : 2;
    FUZZ_CHECK(!unsupported);
    int rc = 0;
    for (size_t at = 0; at < n;) {
        /* fixed 64-byte pieces, or input-derived ones; small pieces also
         * bound the work between two checks of the output cap */
        size_t take =
            rng ? fuzz_rng_range(rng, 1, n - at < 512 ? n - at : 512) : (n - at < 64 ? n - at : 64);
        char *piece = fuzz_dup(p + at, take);
        int r = hc_decoder_feed(d, piece, take, on_out, s);
        free(piece);
        FUZZ_CHECK(r == 0 || r == HC_EPARSE);
        at += take;
        if (r) {
            rc = r;
            /* a failed decoder ignores further input */
            char junk[3] = { 1, 2, 3 };
            size_t before = s->total;
            FUZZ_CHECK(hc_decoder_feed(d, junk, sizeof junk, on_out, s) == HC_EPARSE);
            FUZZ_CHECK(s->total == before);
            break;
        }
        if (s->total >= OUT_CAP) {
            *capped = true;
            break;
        }
    }
    FUZZ_CHECK(hc_decoder_feed(d, "", 0, on_out, s) == rc); /* an empty feed changes nothing */
    hc_decoder_free(d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const codings[] = { "gzip",     "deflate", "br",       "zstd",
                                           "x-gzip",   " GZIP\t", "Deflate",  "BR ",
                                           "identity", "",        "compress", "gzip, br" };
    const char *coding = codings[data[0] % 12];
    const char *p = fuzz_dup(data + 1, size - 1);
    size_t n = size - 1;

    struct sink a, b;
    bool ca, cb;
    int ra = decode(coding, p, n, NULL, &a, &ca);
    if (ra == 1 || ra == 2) {
        bool ident = !strcmp(coding, "identity") || !*coding;
        FUZZ_CHECK((ra == 2) == ident);
    } else {
        fuzz_rng rng;
        fuzz_rng_seed(&rng, data, size);
        int rb = decode(coding, p, n, &rng, &b, &cb);
        if (!ca && !cb) {
            FUZZ_CHECK(ra == rb);
            if (ra == 0)
                FUZZ_CHECK(a.total == b.total && a.hash == b.hash);
        }
    }
    free((void *)p);
    return 0;
}
