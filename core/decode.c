#include "decode.h"
#include "err.h"
#include "http.h"

#include <brotli/decode.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

enum kind { K_ZLIB, K_BROTLI, K_ZSTD };

struct hc_decoder {
    enum kind kind;
    bool failed;
    bool sniff;            /* "deflate": zlib or raw not decided yet */
    unsigned char head[4]; /* the first bytes, while sniffing; a zstd frame's magic */
    int nhead;
    bool zframe; /* zstd: inside a frame (its magic was checked) */
    z_stream z;
    BrotliDecoderState *br;
    ZSTD_DStream *zs;
    unsigned char out[16384];
};

hc_decoder *hc_decoder_new(const char *coding, size_t len, bool *unsupported)
{
    *unsupported = false;
    while (len && (*coding == ' ' || *coding == '\t'))
        coding++, len--;
    while (len && (coding[len - 1] == ' ' || coding[len - 1] == '\t'))
        len--;
    if (!coding || len == 0 || hc_span_ieq(coding, len, "identity"))
        return NULL;
    hc_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (hc_span_ieq(coding, len, "gzip") || hc_span_ieq(coding, len, "x-gzip")) {
        d->kind = K_ZLIB;
        if (inflateInit2(&d->z, 15 + 32) != Z_OK) /* +32: gzip or zlib header, detected */
            goto fail;
    } else if (hc_span_ieq(coding, len, "deflate")) {
        /* "deflate" is zlib-wrapped per RFC 9110, but some servers send raw
         * deflate: decide from the first two bytes (a zlib header is CM=8 and
         * a multiple of 31), which may arrive in separate reads. */
        d->kind = K_ZLIB;
        d->sniff = true;
    } else if (hc_span_ieq(coding, len, "br")) {
        d->kind = K_BROTLI;
        if (!(d->br = BrotliDecoderCreateInstance(NULL, NULL, NULL)))
            goto fail;
    } else if (hc_span_ieq(coding, len, "zstd")) {
        d->kind = K_ZSTD;
        if (!(d->zs = ZSTD_createDStream()))
            goto fail;
        ZSTD_initDStream(d->zs);
    } else {
        *unsupported = true; /* e.g. "gzip, br" stacked codings, or compress */
        free(d);
        return NULL;
    }
    return d;
fail:
    free(d);
    return NULL;
}

static int feed_zlib(hc_decoder *d, const unsigned char *p, size_t n, hc_decode_cb cb, void *ctx);

/* "deflate": gather two bytes, pick zlib or raw, then feed what was held. */
static int sniff_deflate(hc_decoder *d, const unsigned char *p, size_t n, hc_decode_cb cb,
                         void *ctx)
{
    while (d->nhead < 2 && n) {
        d->head[d->nhead++] = *p++;
        n--;
    }
    if (d->nhead < 2)
        return 0;
    bool zlib = (d->head[0] & 0x0f) == 8 && ((d->head[0] << 8) | d->head[1]) % 31 == 0;
    if (inflateInit2(&d->z, zlib ? 15 : -15) != Z_OK)
        return HC_EPARSE;
    d->sniff = false;
    int rc = feed_zlib(d, d->head, 2, cb, ctx);
    return rc ? rc : feed_zlib(d, p, n, cb, ctx);
}

static int feed_zlib(hc_decoder *d, const unsigned char *p, size_t n, hc_decode_cb cb, void *ctx)
{
    if (d->sniff)
        return sniff_deflate(d, p, n, cb, ctx);
    d->z.next_in = (Bytef *)p;
    d->z.avail_in = (uInt)n;
    while (d->z.avail_in) {
        d->z.next_out = d->out;
        d->z.avail_out = sizeof d->out;
        int r = inflate(&d->z, Z_NO_FLUSH);
        size_t got = sizeof d->out - d->z.avail_out;
        if (got)
            cb(ctx, (const char *)d->out, got);
        if (r == Z_STREAM_END) {
            /* Concatenated gzip members are legal; start the next one. */
            if (d->z.avail_in && inflateReset(&d->z) == Z_OK)
                continue;
            return 0;
        }
        if (r != Z_OK && r != Z_BUF_ERROR)
            return HC_EPARSE;
        if (r == Z_BUF_ERROR && got == 0)
            break;
    }
    return 0;
}

static int feed_brotli(hc_decoder *d, const unsigned char *p, size_t n, hc_decode_cb cb, void *ctx)
{
    size_t avail_in = n;
    const uint8_t *next_in = p;
    for (;;) {
        size_t avail_out = sizeof d->out;
        uint8_t *next_out = d->out;
        BrotliDecoderResult r =
            BrotliDecoderDecompressStream(d->br, &avail_in, &next_in, &avail_out, &next_out, NULL);
        size_t got = sizeof d->out - avail_out;
        if (got)
            cb(ctx, (const char *)d->out, got);
        if (r == BROTLI_DECODER_RESULT_ERROR)
            return HC_EPARSE;
        if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT)
            continue;
        return 0; /* needs more input, or done */
    }
}

/* libzstd also decodes the pre-1.0 "legacy" frames (magics 0xFD2FB522..27),
 * but recognises one only when a single call carries its first 5 bytes, so
 * the verdict would depend on read boundaries. Content-Encoding zstd is the
 * RFC 8878 format: refuse legacy frames, at the start of every frame. */
static int feed_zstd(hc_decoder *d, const unsigned char *p, size_t n, hc_decode_cb cb, void *ctx)
{
    while (n) {
        if (!d->zframe) {
            while (d->nhead < 4 && n) {
                d->head[d->nhead++] = *p++;
                n--;
            }
            if (d->nhead < 4)
                return 0;
            uint32_t m =
                d->head[0] | d->head[1] << 8 | d->head[2] << 16 | (uint32_t)d->head[3] << 24;
            if (m >= 0xFD2FB522u && m <= 0xFD2FB527u)
                return HC_EPARSE;
            d->zframe = true;
            d->nhead = 0;
            ZSTD_inBuffer in = { d->head, 4, 0 };
            ZSTD_outBuffer out = { d->out, sizeof d->out, 0 };
            if (ZSTD_isError(
                    ZSTD_decompressStream(d->zs, &out, &in))) /* only a header: no output */
                return HC_EPARSE;
        }
        ZSTD_inBuffer in = { p, n, 0 };
        for (;;) {
            ZSTD_outBuffer out = { d->out, sizeof d->out, 0 };
            size_t r = ZSTD_decompressStream(d->zs, &out, &in);
            if (out.pos)
                cb(ctx, (const char *)d->out, out.pos);
            if (ZSTD_isError(r))
                return HC_EPARSE;
            if (r == 0) { /* frame done: the next byte starts a new one */
                d->zframe = false;
                break;
            }
            /* A full output buffer may mean zstd holds more decoded bytes even
             * though the input is used up: drain it now, not on the next feed. */
            if (in.pos == in.size && out.pos < out.size)
                return 0;
        }
        p += in.pos;
        n -= in.pos;
    }
    return 0;
}

int hc_decoder_feed(hc_decoder *d, const void *p, size_t n, hc_decode_cb cb, void *ctx)
{
    if (d->failed || n == 0)
        return d->failed ? HC_EPARSE : 0;
    int rc;
    switch (d->kind) {
    case K_ZLIB: rc = feed_zlib(d, p, n, cb, ctx); break;
    case K_BROTLI: rc = feed_brotli(d, p, n, cb, ctx); break;
    default: rc = feed_zstd(d, p, n, cb, ctx); break;
    }
    if (rc)
        d->failed = true;
    return rc;
}

void hc_decoder_free(hc_decoder *d)
{
    if (!d)
        return;
    if (d->kind == K_ZLIB && !d->sniff)
        inflateEnd(&d->z);
    else if (d->kind == K_BROTLI)
        BrotliDecoderDestroyInstance(d->br);
    else
        ZSTD_freeDStream(d->zs);
    free(d);
}
