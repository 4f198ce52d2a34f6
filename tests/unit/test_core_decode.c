/* test_core_decode.c — core/decode.h: streaming Content-Encoding decoding.
 *
 * Round trips: the test compresses its own text with the real libraries
 * (zlib as gzip, zlib-wrapped and RAW deflate; brotli; zstd), then feeds the
 * compressed bytes to the decoder in pieces of every size 1..N, byte by byte
 * and whole, and compares the output with the original. Each piece is its
 * own exact heap block (ASan catches over-reads). Then: codings the decoder
 * must refuse, corrupt input (HC_EPARSE, and HC_EPARSE forever after), and a
 * 50 MB decompression bomb that must decode in bounded memory.
 */
#include "decode.h"
#include "err.h"
#include "buf.h"
#include "t.h"

#include <brotli/encode.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>
#include <zstd.h>

/* ---- inputs and compressors --------------------------------------------------- */

/* A deterministic, realistic-looking body (an SSE stream of JSON chunks with
 * varied words) of about `n` bytes: compressible, but not trivially. */
static void gen_text(hc_buf *b, size_t n, uint32_t seed)
{
    static const char *const words[] = {
        "the",    "model",  "token",         "usage",   "stream",   "gateway",
        "answer", "prompt", "cache",         "latency", "provider", "\\u00e9t\\u00e9",
        "42",     "0.0031", "{\\\"a\\\":1}", "\\n",
    };
    while (b->len < n) {
        hc_buf_puts(b, "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"");
        for (int w = 0; w < 12; w++) {
            seed = seed * 1103515245u + 12345u;
            hc_buf_printf(b, "%s%s", w ? " " : "",
                          words[(seed >> 16) % (sizeof words / sizeof words[0])]);
            if ((seed >> 8) % 7 == 0)
                hc_buf_printf(b, "%u", seed % 100000);
        }
        hc_buf_puts(b, "\"}}]}\n\n");
    }
}

static void zlib_compress(const void *p, size_t n, int window_bits, hc_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    unsigned char tmp[16384];
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    int r;
    do {
        z.next_out = tmp;
        z.avail_out = sizeof tmp;
        r = deflate(&z, Z_FINISH);
        hc_buf_append(out, tmp, sizeof tmp - z.avail_out);
    } while (r == Z_OK);
    if (r != Z_STREAM_END)
        abort();
    deflateEnd(&z);
}

static void br_compress(const void *p, size_t n, hc_buf *out)
{
    size_t cap = BrotliEncoderMaxCompressedSize(n);
    hc_buf_reserve(out, cap);
    size_t got = cap;
    if (!BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, n, p, &got,
                               (uint8_t *)out->data + out->len))
        abort();
    out->len += got;
    out->data[out->len] = '\0';
}

static void zstd_compress(const void *p, size_t n, hc_buf *out)
{
    size_t cap = ZSTD_compressBound(n);
    hc_buf_reserve(out, cap);
    size_t got = ZSTD_compress(out->data + out->len, cap, p, n, 3);
    if (ZSTD_isError(got))
        abort();
    out->len += got;
    out->data[out->len] = '\0';
}

/* ---- decoding --------------------------------------------------------------- */

typedef struct {
    hc_buf out;
    size_t calls;
} sink;

static void on_out(void *ctx, const char *p, size_t n)
{
    sink *s = ctx;
    s->calls++;
    hc_buf_append(&s->out, p, n);
}

/* Decode `in` fed in pieces of `step` bytes; 0 when every feed returned 0. */
static int decode_pieces(const char *coding, const hc_buf *in, size_t step, sink *s)
{
    bool unsupported = true;
    hc_decoder *d = hc_decoder_new(coding, strlen(coding), &unsupported);
    if (!d || unsupported)
        return -100;
    int rc = 0;
    for (size_t i = 0; i < in->len && rc == 0; i += step) {
        size_t k = in->len - i < step ? in->len - i : step;
        char *piece = malloc(k);
        memcpy(piece, in->data + i, k);
        rc = hc_decoder_feed(d, piece, k, on_out, s);
        free(piece);
    }
    hc_decoder_free(d);
    return rc;
}

/* Byte-equal buffers (either may be empty with a NULL data pointer). */
static bool same(const hc_buf *a, const hc_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Pieces of every size 1..max_step, then a few bigger ones and the whole. */
static void round_trip(const char *name, const char *coding, const hc_buf *compressed,
                       const hc_buf *plain, size_t max_step)
{
    size_t steps[200], ns = 0;
    for (size_t s = 1; s <= max_step; s++)
        steps[ns++] = s;
    static const size_t more[] = { 100, 1000, 4096, 16384, 65536 };
    for (size_t m = 0; m < sizeof more / sizeof more[0]; m++)
        if (more[m] > max_step && more[m] < compressed->len)
            steps[ns++] = more[m];
    steps[ns++] = compressed->len;

    size_t bad = 0;
    for (size_t k = 0; k < ns; k++) {
        sink s = { HC_BUF_INIT, 0 };
        int rc = decode_pieces(coding, compressed, steps[k], &s);
        bool ok = rc == 0 && same(&s.out, plain);
        if (!ok && bad++ < 3)
            printf("# %s: pieces of %zu: rc %d, %zu of %zu bytes%s\n", name, steps[k], rc,
                   s.out.len, plain->len,
                   rc == 0 && s.out.len == plain->len ? " (content differs)" : "");
        hc_buf_free(&s.out);
    }
    T_EQ_INT(
        bad, 0,
        "%s: %zu bytes -> %zu, same output for pieces of 1..%zu, bigger and whole (%zu layouts)",
        name, compressed->len, plain->len, max_step, ns);
    /* The byte-by-byte layout on its own line: it is the one real networks
     * never produce and decoders most often get wrong. */
    sink s = { HC_BUF_INIT, 0 };
    int rc = decode_pieces(coding, compressed, 1, &s);
    T_CHECK(rc == 0 && same(&s.out, plain), "%s: byte by byte (rc %d, %zu of %zu bytes)", name, rc,
            s.out.len, plain->len);
    hc_buf_free(&s.out);
}

static void test_round_trips(void)
{
    hc_buf small = HC_BUF_INIT, large = HC_BUF_INIT, second = HC_BUF_INIT;
    gen_text(&small, 300, 1);
    gen_text(&large, 200000, 2);
    gen_text(&second, 50000, 3);
    const hc_buf *texts[] = { &small, &large };
    const char *const tname[] = { "small", "large" };

    for (int t = 0; t < 2; t++) {
        const hc_buf *plain = texts[t];
        char name[64];
        hc_buf c = HC_BUF_INIT;

        zlib_compress(plain->data, plain->len, 15 + 16, &c);
        snprintf(name, sizeof name, "gzip %s", tname[t]);
        round_trip(name, "gzip", &c, plain, 64);
        snprintf(name, sizeof name, "x-gzip %s", tname[t]);
        round_trip(name, " X-GZIP ", &c, plain, 8);
        hc_buf_reset(&c);

        zlib_compress(plain->data, plain->len, 15, &c);
        snprintf(name, sizeof name, "deflate (zlib) %s", tname[t]);
        round_trip(name, "deflate", &c, plain, 64);
        hc_buf_reset(&c);

        /* Raw deflate sent as "deflate": a common server bug the decoder accepts. */
        zlib_compress(plain->data, plain->len, -15, &c);
        snprintf(name, sizeof name, "deflate (raw) %s", tname[t]);
        round_trip(name, "Deflate", &c, plain, 64);
        hc_buf_reset(&c);

        br_compress(plain->data, plain->len, &c);
        snprintf(name, sizeof name, "br %s", tname[t]);
        round_trip(name, "br", &c, plain, 64);
        hc_buf_reset(&c);

        zstd_compress(plain->data, plain->len, &c);
        snprintf(name, sizeof name, "zstd %s", tname[t]);
        round_trip(name, "zstd", &c, plain, 64);
        hc_buf_free(&c);
    }

    /* Two gzip members back to back (legal; e.g. a server that flushes with
     * a new member): the output is both texts. */
    hc_buf c = HC_BUF_INIT, both = HC_BUF_INIT;
    zlib_compress(small.data, small.len, 31, &c);
    zlib_compress(second.data, second.len, 31, &c);
    hc_buf_append(&both, small.data, small.len);
    hc_buf_append(&both, second.data, second.len);
    round_trip("gzip two members", "gzip", &c, &both, 64);
    hc_buf_free(&c);
    hc_buf_free(&both);

    /* Two zstd frames back to back are one valid zstd stream too. */
    zstd_compress(small.data, small.len, &c);
    zstd_compress(small.data, small.len, &c);
    hc_buf_append(&both, small.data, small.len);
    hc_buf_append(&both, small.data, small.len);
    round_trip("zstd two frames", "zstd", &c, &both, 16);
    hc_buf_free(&c);
    hc_buf_free(&both);

    /* An empty body compressed is still a stream: decodes to nothing. */
    hc_buf empty = HC_BUF_INIT;
    zlib_compress("", 0, 31, &c);
    round_trip("gzip of nothing", "gzip", &c, &empty, 4);
    hc_buf_free(&c);
    hc_buf_free(&small);
    hc_buf_free(&large);
    hc_buf_free(&second);
}

/* Pending output must not wait for more input: whenever the compressed data
 * decodes to more than one output buffer, the last bytes must still come out
 * of the feed that completes the stream. Sizes around multiples of 16 KiB
 * (the decoder's buffer) and of the codecs' block sizes. */
static void test_tail_flush(void)
{
    static const size_t sizes[] = { 16383, 16384, 16385, 32768, 65536 + 7, 131072, 131073, 300000 };
    static const char *const codings[] = { "gzip", "deflate", "deflate-raw", "br", "zstd" };
    for (size_t c = 0; c < sizeof codings / sizeof codings[0]; c++) {
        size_t bad = 0;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            hc_buf plain = HC_BUF_INIT, comp = HC_BUF_INIT;
            gen_text(&plain, sizes[i], (uint32_t)(7 + i));
            plain.len = sizes[i];
            plain.data[plain.len] = '\0';
            const char *coding = codings[c];
            if (!strcmp(coding, "gzip"))
                zlib_compress(plain.data, plain.len, 31, &comp);
            else if (!strcmp(coding, "deflate"))
                zlib_compress(plain.data, plain.len, 15, &comp);
            else if (!strcmp(coding, "deflate-raw"))
                zlib_compress(plain.data, plain.len, -15, &comp), coding = "deflate";
            else if (!strcmp(coding, "br"))
                br_compress(plain.data, plain.len, &comp);
            else
                zstd_compress(plain.data, plain.len, &comp);
            sink s = { HC_BUF_INIT, 0 };
            int rc = decode_pieces(coding, &comp, comp.len, &s);
            if (rc != 0 || s.out.len != plain.len) {
                if (!bad++)
                    printf("# %s: %zu bytes in one feed: rc %d, got %zu bytes\n", codings[c],
                           plain.len, rc, s.out.len);
            }
            hc_buf_free(&s.out);
            hc_buf_free(&plain);
            hc_buf_free(&comp);
        }
        T_EQ_INT(bad, 0, "%s: all output delivered by the feed that ends the stream", codings[c]);
    }
}

/* ---- codings ------------------------------------------------------------------ */

static const struct {
    const char *coding; /* NULL: pass NULL with length 0 */
    int decoder;
    int unsupported;
} coding_cases[] = {
    { NULL, 0, 0 },      { "", 0, 0 },          { "identity", 0, 0 },   { " Identity ", 0, 0 },
    { "   ", 0, 0 },     { "gzip", 1, 0 },      { "GZIP", 1, 0 },       { "\tgzip ", 1, 0 },
    { "x-gzip", 1, 0 },  { "deflate", 1, 0 },   { "br", 1, 0 },         { "BR", 1, 0 },
    { "zstd", 1, 0 },    { "compress", 0, 1 },  { "x-compress", 0, 1 }, { "gzip, br", 0, 1 },
    { "br,gzip", 0, 1 }, { "gzip;q=1", 0, 1 },  { "brotli", 0, 1 },     { "zst", 0, 1 },
    { "gzi", 0, 1 },     { "aes128gcm", 0, 1 },
};

static void test_codings(void)
{
    for (size_t i = 0; i < sizeof coding_cases / sizeof coding_cases[0]; i++) {
        const char *cd = coding_cases[i].coding;
        bool unsupported = !coding_cases[i].unsupported; /* the wrong value: it must be written */
        hc_decoder *d = hc_decoder_new(cd, cd ? strlen(cd) : 0, &unsupported);
        T_EQ_INT(d != NULL, coding_cases[i].decoder, "coding '%s': decoder %s", cd ? cd : "(null)",
                 coding_cases[i].decoder ? "made" : "not made");
        T_EQ_INT(unsupported, coding_cases[i].unsupported, "coding '%s': unsupported flag",
                 cd ? cd : "(null)");
        hc_decoder_free(d);
    }
    /* The span length is honoured: "gzip" followed by other bytes. */
    bool u = true;
    hc_decoder *d = hc_decoder_new("gzipped", 4, &u);
    T_CHECK(d != NULL && !u, "coding span 'gzip' of 'gzipped'");
    hc_decoder_free(d);
    hc_decoder_free(NULL); /* a no-op, like free(): a crash here fails the run */
}

/* ---- corrupt input ---------------------------------------------------------------- */

static void test_corrupt(void)
{
    hc_buf plain = HC_BUF_INIT;
    gen_text(&plain, 20000, 9);
    hc_buf good[3] = { HC_BUF_INIT, HC_BUF_INIT, HC_BUF_INIT };
    zlib_compress(plain.data, plain.len, 31, &good[0]);
    br_compress(plain.data, plain.len, &good[1]);
    zstd_compress(plain.data, plain.len, &good[2]);
    const char *const codings[] = { "gzip", "br", "zstd" };

    for (int c = 0; c < 3; c++) {
        /* 1. Pure garbage. */
        unsigned char junk[512];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (unsigned char)(0xff - (i % 3));
        bool u;
        hc_decoder *d = hc_decoder_new(codings[c], strlen(codings[c]), &u);
        sink s = { HC_BUF_INIT, 0 };
        int rc = hc_decoder_feed(d, junk, sizeof junk, on_out, &s);
        T_EQ_INT(rc, HC_EPARSE, "%s: garbage is HC_EPARSE", codings[c]);
        /* Further input, even valid, is refused and never reaches the callback. */
        size_t calls = s.calls;
        int later = 0;
        for (int k = 0; k < 3; k++)
            later += hc_decoder_feed(d, good[c].data, good[c].len, on_out, &s) == HC_EPARSE;
        later += hc_decoder_feed(d, junk, 1, on_out, &s) == HC_EPARSE;
        T_EQ_INT(later, 4, "%s: every later feed is HC_EPARSE", codings[c]);
        T_EQ_INT(s.calls, calls, "%s: no output after the error", codings[c]);
        hc_decoder_free(d);
        hc_buf_free(&s.out);

        /* 2. A valid stream with a stretch of its middle overwritten, fed in
         * pieces: an error at some point (or, for formats whose corruption
         * can go unnoticed, never a crash) and nothing but errors after. */
        hc_buf bad = HC_BUF_INIT;
        hc_buf_append(&bad, good[c].data, good[c].len);
        for (size_t i = bad.len / 3; i < bad.len / 3 + 64 && i < bad.len; i++)
            bad.data[i] = (char)(bad.data[i] ^ 0x5a);
        d = hc_decoder_new(codings[c], strlen(codings[c]), &u);
        s = (sink){ HC_BUF_INIT, 0 };
        int first_err = -1, after_err_ok = 0;
        for (size_t i = 0; i < bad.len; i += 37) {
            size_t k = bad.len - i < 37 ? bad.len - i : 37;
            rc = hc_decoder_feed(d, bad.data + i, k, on_out, &s);
            if (rc == HC_EPARSE && first_err < 0)
                first_err = (int)i;
            else if (first_err >= 0 && rc != HC_EPARSE)
                after_err_ok++;
        }
        T_CHECK(first_err >= 0, "%s: corrupted middle detected (at input %d)", codings[c],
                first_err);
        T_EQ_INT(after_err_ok, 0, "%s: corrupted middle: errors are sticky", codings[c]);
        hc_decoder_free(d);
        hc_buf_free(&s.out);
        hc_buf_free(&bad);
    }

    /* gzip with a wrong CRC: all the data decodes, the trailer check fails. */
    hc_buf bad = HC_BUF_INIT;
    hc_buf_append(&bad, good[0].data, good[0].len);
    bad.data[bad.len - 8] ^= 1;
    sink s = { HC_BUF_INIT, 0 };
    T_EQ_INT(decode_pieces("gzip", &bad, bad.len, &s), HC_EPARSE, "gzip: bad CRC is HC_EPARSE");
    hc_buf_free(&s.out);
    /* "deflate" that is neither zlib nor raw deflate. */
    hc_buf_reset(&bad);
    hc_buf_append(&bad, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
    s = (sink){ HC_BUF_INIT, 0 };
    T_EQ_INT(decode_pieces("deflate", &bad, bad.len, &s), HC_EPARSE,
             "deflate: garbage is HC_EPARSE");
    T_EQ_INT(s.out.len, 0, "deflate: garbage produces no output");
    hc_buf_free(&s.out);
    hc_buf_free(&bad);
    for (int c = 0; c < 3; c++)
        hc_buf_free(&good[c]);
    hc_buf_free(&plain);
}

/* ---- decompression bomb -------------------------------------------------------- */

#define BOMB (50u * 1000 * 1000)

static void count_cb(void *ctx, const char *p, size_t n)
{
    (void)p;
    *(size_t *)ctx += n;
}

/* BOMB zero bytes, compressed by streaming from a small buffer so that the
 * test itself never holds them. */
static void bomb(const char *coding, hc_buf *out)
{
    static const unsigned char zeros[1 << 16];
    unsigned char tmp[1 << 16];
    if (!strcmp(coding, "gzip")) {
        z_stream z;
        memset(&z, 0, sizeof z);
        deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY);
        for (size_t left = BOMB; left;) {
            size_t k = left < sizeof zeros ? left : sizeof zeros;
            left -= k;
            z.next_in = (Bytef *)zeros;
            z.avail_in = (uInt)k;
            int r;
            do {
                z.next_out = tmp;
                z.avail_out = sizeof tmp;
                r = deflate(&z, left ? Z_NO_FLUSH : Z_FINISH);
                hc_buf_append(out, tmp, sizeof tmp - z.avail_out);
            } while (z.avail_out == 0 || (left == 0 && r != Z_STREAM_END));
        }
        deflateEnd(&z);
    } else if (!strcmp(coding, "br")) {
        BrotliEncoderState *e = BrotliEncoderCreateInstance(NULL, NULL, NULL);
        BrotliEncoderSetParameter(e, BROTLI_PARAM_QUALITY, 1);
        for (size_t left = BOMB;;) {
            size_t k = left < sizeof zeros ? left : sizeof zeros;
            left -= k;
            const uint8_t *in = zeros;
            size_t avail_in = k;
            BrotliEncoderOperation op = left ? BROTLI_OPERATION_PROCESS : BROTLI_OPERATION_FINISH;
            do {
                uint8_t *o = tmp;
                size_t avail_out = sizeof tmp;
                BrotliEncoderCompressStream(e, op, &avail_in, &in, &avail_out, &o, NULL);
                hc_buf_append(out, tmp, sizeof tmp - avail_out);
            } while (avail_in || BrotliEncoderHasMoreOutput(e) ||
                     (op == BROTLI_OPERATION_FINISH && !BrotliEncoderIsFinished(e)));
            if (!left)
                break;
        }
        BrotliEncoderDestroyInstance(e);
    } else {
        ZSTD_CCtx *z = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1);
        for (size_t left = BOMB;;) {
            size_t k = left < sizeof zeros ? left : sizeof zeros;
            left -= k;
            ZSTD_inBuffer in = { zeros, k, 0 };
            ZSTD_EndDirective op = left ? ZSTD_e_continue : ZSTD_e_end;
            size_t r;
            do {
                ZSTD_outBuffer o = { tmp, sizeof tmp, 0 };
                r = ZSTD_compressStream2(z, &o, &in, op);
                hc_buf_append(out, tmp, o.pos);
            } while (in.pos < in.size || (op == ZSTD_e_end && r != 0));
            if (!left)
                break;
        }
        ZSTD_freeCCtx(z);
    }
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_bomb(void)
{
    static const char *const codings[] = { "gzip", "br", "zstd" };
    for (size_t c = 0; c < 3; c++) {
        hc_buf comp = HC_BUF_INIT;
        bomb(codings[c], &comp);
        T_CHECK(comp.len > 0 && comp.len < BOMB / 100, "%s bomb: %zu compressed bytes for %u",
                codings[c], comp.len, BOMB);
        long before = max_rss_kb();
        bool u;
        hc_decoder *d = hc_decoder_new(codings[c], strlen(codings[c]), &u);
        size_t total = 0;
        int rc = 0;
        /* Network-sized pieces, as the gateway would see them. */
        for (size_t i = 0; i < comp.len && rc == 0; i += 4096)
            rc = hc_decoder_feed(d, comp.data + i, comp.len - i < 4096 ? comp.len - i : 4096,
                                 count_cb, &total);
        hc_decoder_free(d);
        long grew = max_rss_kb() - before;
        T_EQ_INT(rc, 0, "%s bomb: decodes", codings[c]);
        T_EQ_INT(total, BOMB, "%s bomb: every byte delivered to the callback", codings[c]);
        /* Fixed memory: the codec's window (brotli's is 4 MiB, more under
         * ASan's quarantine), never the output: a decoder that held the
         * 50 MB would grow by at least 47 MiB. */
        T_CHECK(grew < 40 * 1024, "%s bomb: peak memory grew by %ld KiB (< 40 MiB)", codings[c],
                grew);
        hc_buf_free(&comp);
    }
}

int main(void)
{
    test_bomb(); /* first, while the process is small: the RSS bound is measured on it */
    test_codings();
    test_round_trips();
    test_tail_flush();
    test_corrupt();
    return t_done();
}
