#include "buf.h"
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mark b failed (the first error wins) and return its error. */
static int fail(hc_buf *b, int err)
{
    if (!b->err)
        b->err = err;
    return b->err;
}

int hc_buf_reserve(hc_buf *b, size_t extra)
{
    if (b->err)
        return b->err;
    if (extra > SIZE_MAX - b->len - 1)
        return fail(b, HC_ENOMEM);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    char *p = realloc(b->data, ncap);
    if (!p)
        return fail(b, HC_ENOMEM);
    b->data = p;
    b->cap = ncap;
    return 0;
}

int hc_buf_append(hc_buf *b, const void *p, size_t n)
{
    int rc = hc_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int hc_buf_append_buf(hc_buf *dst, const hc_buf *src)
{
    if (src->err)
        return fail(dst, src->err);
    return hc_buf_append(dst, src->data, src->len);
}

int hc_buf_puts(hc_buf *b, const char *s)
{
    return hc_buf_append(b, s, strlen(s));
}

int hc_buf_printf(hc_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    if (b->err)
        return b->err;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, HC_EINVAL);
    if ((size_t)n < sizeof small)
        return hc_buf_append(b, small, (size_t)n);
    int rc = hc_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

size_t hc_buf_append_capped(hc_buf *b, const void *p, size_t n, size_t max_total)
{
    size_t room = b->len < max_total ? max_total - b->len : 0;
    size_t take = n < room ? n : room;
    if (take && hc_buf_append(b, p, take))
        return n;
    return n - take;
}

void hc_buf_consume(hc_buf *b, size_t n)
{
    if (n >= b->len) {
        hc_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void hc_buf_reset(hc_buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data)
        b->data[0] = '\0';
}

void hc_buf_free(hc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->err = 0;
}

char *hc_buf_detach(hc_buf *b, size_t *len)
{
    if (b->err) {
        hc_buf_free(b);
        if (len)
            *len = 0;
        return NULL;
    }
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

size_t hc_strlcpy(char *dst, size_t size, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (size == 0)
        return n;
    size_t k = n < size ? n : size - 1;
    if (k)
        memcpy(dst, src, k);
    dst[k] = '\0';
    return n;
}
