/* buf.h — a growable byte buffer (in the spirit of git's strbuf).
 *
 * A hc_buf owns its bytes. The data is always NUL-terminated (the NUL is not
 * counted in len), so text can be used as a C string. An all-zero hc_buf is a
 * valid empty buffer; HC_BUF_INIT spells that.
 *
 * Bounded use: hc_buf_append_capped() stores at most `cap` bytes in total and
 * reports how many it dropped, so a capture of a 1 GB response stays small.
 *
 * Not thread-safe: one owner at a time.
 */
#ifndef HC_BUF_H
#define HC_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct hc_buf {
    char  *data;   /* NULL until the first append; then len+1 bytes valid */
    size_t len;
    size_t cap;    /* allocated bytes */
} hc_buf;

#define HC_BUF_INIT { NULL, 0, 0 }

/* Ensure room for `extra` more bytes (plus the NUL). 0 or HC_ENOMEM. */
int  hc_buf_reserve(hc_buf *b, size_t extra);
/* Append n bytes. 0 or HC_ENOMEM (b unchanged). */
int  hc_buf_append(hc_buf *b, const void *p, size_t n);
/* Append a C string. 0 or HC_ENOMEM. */
int  hc_buf_puts(hc_buf *b, const char *s);
/* Append printf-formatted text. 0 or HC_ENOMEM. */
int  hc_buf_printf(hc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append at most max_total - b->len bytes of p; returns how many bytes of p were
 * dropped (0 when all fit). On allocation failure everything is dropped. */
size_t hc_buf_append_capped(hc_buf *b, const void *p, size_t n, size_t max_total);
/* Remove the first n bytes (n <= len). */
void hc_buf_consume(hc_buf *b, size_t n);
/* Length to 0, memory kept. */
void hc_buf_reset(hc_buf *b);
/* Free the memory; b becomes HC_BUF_INIT. */
void hc_buf_free(hc_buf *b);
/* Hand the bytes to the caller (who frees them); b becomes empty. Never NULL
 * unless allocation of an empty string fails. */
char *hc_buf_detach(hc_buf *b, size_t *len);

/* Copy the C string src (NULL: "") into dst[size]: at most size-1 bytes,
 * always terminated (size 0: nothing written). What snprintf(dst, size, "%s", src) does, without
 * a format parser (≈ 500 instructions a call) on the gateway's hot path.
 * Returns strlen(src). */
size_t hc_strlcpy(char *dst, size_t size, const char *src);

#endif
