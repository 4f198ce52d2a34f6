#include "decode.h"
#include "err.h"
#include "http.h"

#include <brotli/decode.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

enum kind { K_ZLIB, K_BROTLI, K_ZSTD };

struct hc_decoder {
    enum kind kind;
    bool      failed;
    bool      raw_tried;     /* deflate: retried as raw deflate after a zlib header error */
    z_stream  z;
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
    if (hc_span_ieq(coding, len, "gzip") || hc_span_ieq(coding, len, "x-gzip") ||
        hc_span_ieq(coding, len, "deflate")) {
        d->kind = K_ZLIB;
        if (inflateInit2(&d->z, 15 + 32) != Z_OK) /* +32: detect gzip or zlib header */
            goto fail;
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

static int feed_zlib(hc_decoder *d, const unsigned char *p, size_t n, hc_decode_cb cb, void *ctx)
{
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
        if (r == Z_DATA_ERROR && !d->raw_tried && d->z.total_out == 0) {
            /* "deflate" sent as raw deflate (no zlib header), a common server bug. */
            d->raw_tried = true;
            inflateEnd(&d->z);
            memset(&d->z, 0, sizeof d->z);
            if (inflateInit2(&d->z, -15) != Z_OK)
                return HC_EPARSE;
            d->z.next_in = (Bytef *)p;
            d->z.avail_in = (uInt)n;
            continue;
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
        BrotliDecoderResult r = BrotliDecoderDecompressStream(d->br, &avail_in, &next_in, &avail_out, &next_out, NULL);
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

static int feed_zstd(hc_decoder *d, const unsigned char *p, size_t n, hc_decode_cb cb, void *ctx)
{
    ZSTD_inBuffer in = { p, n, 0 };
    while (in.pos < in.size) {
        ZSTD_outBuffer out = { d->out, sizeof d->out, 0 };
        size_t r = ZSTD_decompressStream(d->zs, &out, &in);
        if (out.pos)
            cb(ctx, (const char *)d->out, out.pos);
        if (ZSTD_isError(r))
            return HC_EPARSE;
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
    if (d->kind == K_ZLIB)
        inflateEnd(&d->z);
    else if (d->kind == K_BROTLI)
        BrotliDecoderDestroyInstance(d->br);
    else
        ZSTD_freeDStream(d->zs);
    free(d);
}
