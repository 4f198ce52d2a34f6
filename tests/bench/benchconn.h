/* benchconn.h — the buffered connection (plain or TLS) that the benchmark's
 * own programs, loadgen.c and fastmock.c, both use. Each is built from its one
 * .c file (bench.py); this header is included by both, so it holds static
 * definitions. */
#ifndef HC_BENCHCONN_H
#define HC_BENCHCONN_H

#include <errno.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

struct conn {
    int fd;
    SSL *ssl;
    char buf[65536];
    size_t start, end;
};

static ssize_t c_read(struct conn *c, void *p, size_t n)
{
    if (c->ssl) {
        int r = SSL_read(c->ssl, p, (int)n);
        return r > 0 ? r : -1;
    }
    ssize_t r;
    do
        r = read(c->fd, p, n);
    while (r < 0 && errno == EINTR);
    return r > 0 ? r : -1;
}

static int c_write(struct conn *c, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t r;
        if (c->ssl) {
            int w = SSL_write(c->ssl, s, (int)n);
            r = w > 0 ? w : -1;
        } else {
            do
                r = write(c->fd, s, n);
            while (r < 0 && errno == EINTR);
        }
        if (r <= 0)
            return -1;
        s += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Make at least `need` bytes available at buf+start (buffered). */
static int fill(struct conn *c, size_t need)
{
    if (need > sizeof c->buf)
        return -1;
    while (c->end - c->start < need) {
        if (c->start > 0 && c->end + (need - (c->end - c->start)) > sizeof c->buf) {
            memmove(c->buf, c->buf + c->start, c->end - c->start);
            c->end -= c->start;
            c->start = 0;
        }
        ssize_t r = c_read(c, c->buf + c->end, sizeof c->buf - c->end);
        if (r <= 0)
            return -1;
        c->end += (size_t)r;
    }
    return 0;
}

#endif
