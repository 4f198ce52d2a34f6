/* fuzz_chunked.c — the incremental chunked-body decoder (hc_chunked_next,
 * common/http.c).
 *
 * The same input is decoded three ways: in one piece, in two pieces split at
 * a point derived from the input, and one byte at a time (the decoder sees
 * every possible cut inside a size line, an extension, CRLF or trailer).
 * Invariants: every call consumes 0 < n <= len bytes (progress, no overrun),
 * a data span lies inside what the call consumed, and all three ways produce
 * the same data, the same verdict (done / error / need more) and, when not
 * in error, the same number of bytes consumed. */
#include "fuzz.h"
#include "err.h"
#include "http.h"
#include "buf.h"

struct result {
    hc_buf data;
    int status; /* 0 ok so far, HC_EPARSE */
    bool done;
    size_t consumed;
};

static void feed(hc_chunked *d, struct result *res, const char *p, size_t n)
{
    size_t off = 0;
    while (off < n && !d->done && res->status == 0) {
        size_t doff = 777, dlen = 777;
        long c = hc_chunked_next(d, p + off, n - off, &doff, &dlen);
        if (c < 0) {
            FUZZ_CHECK(c == HC_EPARSE);
            res->status = HC_EPARSE;
            return;
        }
        FUZZ_CHECK(c > 0); /* progress while input remains */
        FUZZ_CHECK((size_t)c <= n - off);
        if (dlen) {
            FUZZ_CHECK(doff + dlen <= (size_t)c);
            if (hc_buf_append(&res->data, p + off + doff, dlen))
                abort();
        } else {
            FUZZ_CHECK(doff == 0);
        }
        off += (size_t)c;
        res->consumed += (size_t)c;
    }
}

static void run(const char *buf, size_t size, const size_t *cuts, size_t ncuts, struct result *res)
{
    hc_chunked d;
    hc_chunked_init(&d);
    memset(res, 0, sizeof *res);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : size;
        if (end < at)
            end = at;
        /* each piece in its own exact-size buffer: overreads hit a redzone */
        char *piece = fuzz_dup(buf + at, end - at);
        feed(&d, res, piece, end - at);
        free(piece);
        at = end;
        if (d.done || res->status)
            break;
    }
    res->done = d.done;
    if (d.done)
        FUZZ_CHECK(res->consumed <= size);
}

static void same(const struct result *a, const struct result *b)
{
    FUZZ_CHECK(a->status == b->status);
    FUZZ_CHECK(a->done == b->done);
    FUZZ_CHECK(a->data.len == b->data.len);
    FUZZ_CHECK(a->data.len == 0 || memcmp(a->data.data, b->data.data, a->data.len) == 0);
    if (a->status == 0)
        FUZZ_CHECK(a->consumed == b->consumed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    fuzz_rng rng;
    fuzz_rng_seed(&rng, data, size);

    struct result whole, two, bytes;
    run(buf, size, NULL, 0, &whole);

    size_t cut = fuzz_rng_range(&rng, 0, size);
    run(buf, size, &cut, 1, &two);
    same(&whole, &two);

    if (size <= 4096) {
        size_t *cuts = malloc((size ? size : 1) * sizeof *cuts);
        for (size_t i = 0; i < size; i++)
            cuts[i] = i + 1;
        run(buf, size, cuts, size, &bytes);
        same(&whole, &bytes);
        free(cuts);
        hc_buf_free(&bytes.data);
    }
    hc_buf_free(&whole.data);
    hc_buf_free(&two.data);
    return 0;
}
