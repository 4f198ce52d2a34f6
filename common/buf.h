/* buf.h — a growable byte buffer (in the spirit of git's strbuf).
 *
 * A hc_buf owns its bytes. The data is always NUL-terminated (the NUL is not
 * counted in len), so text can be used as a C string. An all-zero hc_buf is a
 * valid empty buffer; HC_BUF_INIT spells that.
 *
 * Bounded use: hc_buf_append_capped() stores at most `cap` bytes in total and
 * reports how many it dropped, so a capture of a 1 GB response stays small.
 *
 * DESIGN: errors are sticky (as in curl's dynbuf). A failed append (out of
 * memory) marks the buffer failed: b->err holds the error and every later
 * append is refused, so what the buffer holds is always either everything
 * that was appended or a prefix flagged as incomplete, never text with a
 * piece silently missing in the middle (a request head without one of its
 * header lines). A builder may therefore append many pieces without testing
 * each one; the rule is that nothing built in a buffer is used (sent, stored,
 * printed, parsed) before hc_buf_error() says 0 — or it goes through a
 * consumer that checks for it (hc_io_write_buf, hc_buf_detach). Why not
 * warn_unused_result on every append: a head or a JSON document is built from
 * dozens of appends, and a test after each one is noise that hides the single
 * decision that matters (send it or fail the exchange); the sticky flag puts
 * that decision where the buffer is used, and no failure can be lost on the way.
 * The appends still return the error for callers that stop early.
 *
 * Not thread-safe: one owner at a time.
 */
#ifndef HC_BUF_H
#define HC_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct hc_buf {
    char *data; /* NULL until the first append; then len+1 bytes valid */
    size_t len;
    size_t cap; /* allocated bytes */
    int err;    /* 0, or the error of the first failed append (sticky) */
} hc_buf;

#define HC_BUF_INIT \
    { \
        NULL, 0, 0, 0 \
    }

/* Ensure room for `extra` more bytes (plus the NUL). 0 or HC_ENOMEM; a
 * failure marks b failed (hc_buf_error). */
int hc_buf_reserve(hc_buf *b, size_t extra);
/* Append n bytes. 0, or HC_ENOMEM / the buffer's earlier error (b's bytes
 * unchanged, b marked failed). */
int hc_buf_append(hc_buf *b, const void *p, size_t n);
/* Append a C string. As hc_buf_append. */
int hc_buf_puts(hc_buf *b, const char *s);
/* Append printf-formatted text. As hc_buf_append; HC_EINVAL for a format
 * error (also sticky). */
int hc_buf_printf(hc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append what src holds, and src's error if it has one (then dst is marked
 * failed too: a piece built elsewhere that is incomplete makes the whole
 * incomplete). 0 or the error. */
int hc_buf_append_buf(hc_buf *dst, const hc_buf *src);
/* 0 if every append since the buffer was last empty (init, reset, free)
 * succeeded, else the first error. Check it before using what was built. */
static inline int hc_buf_error(const hc_buf *b)
{
    return b->err;
}
/* Append at most max_total - b->len bytes of p; returns how many bytes of p were
 * dropped (0 when all fit). On allocation failure everything is dropped (and
 * b is marked failed, so later appends drop everything too). */
size_t hc_buf_append_capped(hc_buf *b, const void *p, size_t n, size_t max_total);
/* Remove the first n bytes (n <= len). The error mark stays. */
void hc_buf_consume(hc_buf *b, size_t n);
/* Length to 0, memory kept, error mark cleared. */
void hc_buf_reset(hc_buf *b);
/* Free the memory; b becomes HC_BUF_INIT. */
void hc_buf_free(hc_buf *b);
/* Hand the bytes to the caller (who frees them); b becomes empty. NULL if b
 * is marked failed (its bytes are freed: they are incomplete) or if
 * allocation of an empty string fails. */
char *hc_buf_detach(hc_buf *b, size_t *len);

/* Copy the C string src (NULL: "") into dst[size]: at most size-1 bytes,
 * always terminated (size 0: nothing written). What snprintf(dst, size, "%s", src) does, without
 * a format parser (≈ 500 instructions a call) on the gateway's hot path.
 * Returns strlen(src). */
size_t hc_strlcpy(char *dst, size_t size, const char *src);

#endif
