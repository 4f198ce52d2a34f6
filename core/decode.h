/* decode.h — streaming Content-Encoding decoder for captures.
 *
 * The gateway forwards the provider's bytes to the app exactly as they came
 * (compressed if the app asked for it); a copy is decoded here so that usage
 * extraction and stored bodies see the plain text. Supports gzip, x-gzip,
 * deflate (zlib or raw), br and zstd, and "identity". Decoding runs in fixed
 * memory (the codec's window) whatever the output size: the consumer decides
 * what to keep.
 *
 * Not thread-safe: one decoder per response.
 */
#ifndef HC_CORE_DECODE_H
#define HC_CORE_DECODE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hc_decoder hc_decoder;
typedef void (*hc_decode_cb)(void *ctx, const char *p, size_t n);

/* A decoder for the Content-Encoding value (span, may be NULL/empty for
 * identity). Returns NULL for identity or an unknown coding, and sets
 * *unsupported when the coding is unknown (the caller stores the body as is
 * and marks usage as not found). */
hc_decoder *hc_decoder_new(const char *coding, size_t len, bool *unsupported);
/* Decode n input bytes, calling cb with each piece of output. 0, or HC_EPARSE
 * on corrupt input (further input is ignored). */
int hc_decoder_feed(hc_decoder *d, const void *p, size_t n, hc_decode_cb cb, void *ctx);
void hc_decoder_free(hc_decoder *d);

#endif
