/* io.c — see io.h. The pattern is always: try the operation; on EAGAIN (or
 * SSL_ERROR_WANT_*) poll for the direction needed plus the cancel socket's
 * hang-up, with what is left of the deadline. */
#include "io.h"
#include "clock.h"
#include "core.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void hc_io_init(hc_io *io, int fd, SSL *ssl, int timeout_ms)
{
    io->fd = fd;
    io->ssl = ssl;
    io->timeout_ms = timeout_ms;
    io->cancel_fd = -1;
    io->eof = false;
    io->abort_close = false;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

bool hc_io_peer_gone(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLRDHUP };
    if (poll(&p, 1, 0) <= 0)
        return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* Wait for `events` on io->fd until deadline (µs, monotonic; 0 = none).
 * 1 ready, 0 timed out, HC_ECANCELED, HC_EIO. */
static int wait_fd(hc_io *io, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p[2] = { { .fd = io->fd, .events = events },
                               { .fd = io->cancel_fd, .events = POLLRDHUP } };
        int n = io->cancel_fd >= 0 ? 2 : 1;
        int ms = -1;
        if (deadline) {
            int64_t left = deadline - hc_mono_us();
            if (left <= 0)
                return 0;
            ms = (int)((left + 999) / 1000);
        }
        int r = poll(p, (nfds_t)n, ms);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return HC_EIO;
        }
        if (r == 0)
            return 0;
        if (n == 2 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
            return HC_ECANCELED;
        if (p[0].revents)
            return 1; /* readable, writable, or an error the next call will report */
    }
}

static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? 0 : hc_mono_us() + (int64_t)timeout_ms * 1000;
}

bool hc_io_pending(hc_io *io)
{
    /* SSL_has_pending, not SSL_pending: with read-ahead, bytes of the next
     * record may sit in OpenSSL's buffer, where poll() cannot see them. */
    return io->ssl && SSL_has_pending(io->ssl);
}

int hc_io_wait_readable(hc_io *io, int timeout_ms)
{
    if (hc_io_pending(io))
        return 1;
    int r = wait_fd(io, POLLIN, deadline_of(timeout_ms));
    return r;
}

static long io_read(hc_io *io, void *buf, size_t n, bool wait_first)
{
    int64_t deadline = deadline_of(io->timeout_ms);
    if (n > INT32_MAX)
        n = INT32_MAX;
    /* Only a timeout ends it here: readable, a hang-up, the cancel socket or
     * a failed poll are left to the read below, which reports them as it
     * always does (the cancel socket wins only when nothing can be read). A
     * zero timeout keeps its meaning: one read attempt, no wait. */
    if (wait_first && io->timeout_ms != 0 && !hc_io_pending(io) &&
        wait_fd(io, POLLIN, deadline) == 0)
        return HC_ETIMEDOUT;
    for (;;) {
        short want;
        if (io->ssl) {
            ERR_clear_error();
            int r = SSL_read(io->ssl, buf, (int)n);
            if (r > 0)
                return r;
            int e = SSL_get_error(io->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN) {
                io->eof = true;
                return 0;
            }
            if (e == SSL_ERROR_WANT_READ)
                want = POLLIN;
            else if (e == SSL_ERROR_WANT_WRITE)
                want = POLLOUT;
            else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
                     (r == 0 || errno == ECONNRESET)) {
                /* TCP closed without close_notify: many servers do this; treat as EOF
                 * (framing, not the transport, tells us whether the body was complete). */
                io->eof = true;
                return 0;
            } else
                return e == SSL_ERROR_SSL ? HC_ETLS : HC_EIO;
        } else {
            ssize_t r = recv(io->fd, buf, n, 0);
            if (r > 0)
                return r;
            if (r == 0) {
                io->eof = true;
                return 0;
            }
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET) {
                io->eof = true;
                return HC_ECLOSED;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return HC_EIO;
            want = POLLIN;
        }
        int w = wait_fd(io, want, deadline);
        if (w == 0)
            return HC_ETIMEDOUT;
        if (w < 0)
            return w;
    }
}

long hc_io_read(hc_io *io, void *buf, size_t n)
{
    return io_read(io, buf, n, false);
}

long hc_io_read_idle(hc_io *io, void *buf, size_t n)
{
    return io_read(io, buf, n, true);
}

int hc_io_write(hc_io *io, const void *vbuf, size_t n)
{
    const char *buf = vbuf;
    int64_t deadline = deadline_of(io->timeout_ms);
    while (n) {
        short want;
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        if (io->ssl) {
            ERR_clear_error();
            int r = SSL_write(io->ssl, buf, (int)chunk);
            if (r > 0) {
                buf += r;
                n -= (size_t)r;
                continue;
            }
            int e = SSL_get_error(io->ssl, r);
            if (e == SSL_ERROR_WANT_WRITE)
                want = POLLOUT;
            else if (e == SSL_ERROR_WANT_READ)
                want = POLLIN;
            else if (e == SSL_ERROR_ZERO_RETURN ||
                     (e == SSL_ERROR_SYSCALL && (errno == EPIPE || errno == ECONNRESET)))
                return HC_ECLOSED;
            else
                return e == SSL_ERROR_SSL ? HC_ETLS : HC_EIO;
        } else {
            ssize_t r = send(io->fd, buf, chunk, MSG_NOSIGNAL);
            if (r >= 0) {
                buf += r;
                n -= (size_t)r;
                continue;
            }
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                return HC_ECLOSED;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return HC_EIO;
            want = POLLOUT;
        }
        int w = wait_fd(io, want, deadline);
        if (w == 0)
            return HC_ETIMEDOUT;
        if (w < 0)
            return w;
    }
    return 0;
}

static int handshake(hc_io *io, bool server, const char **why)
{
    int64_t deadline = deadline_of(io->timeout_ms);
    *why = "";
    for (;;) {
        ERR_clear_error();
        int r = server ? SSL_accept(io->ssl) : SSL_connect(io->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(io->ssl, r);
        short want;
        if (e == SSL_ERROR_WANT_READ)
            want = POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE)
            want = POLLOUT;
        else {
            unsigned long ec = ERR_peek_error();
            if (!server && SSL_get_verify_result(io->ssl) != X509_V_OK)
                *why = X509_verify_cert_error_string(SSL_get_verify_result(io->ssl));
            else if (ec)
                *why = ERR_reason_error_string(ec);
            else
                *why = e == SSL_ERROR_SYSCALL ? "connection closed during the TLS handshake"
                                              : "TLS handshake failed";
            if (!*why)
                *why = "TLS handshake failed";
            return HC_ETLS;
        }
        int w = wait_fd(io, want, deadline);
        if (w == 0) {
            *why = "TLS handshake timed out";
            return HC_ETIMEDOUT;
        }
        if (w < 0) {
            *why = "the client went away";
            return w;
        }
    }
}

int hc_io_accept_tls(hc_io *io, const char **why)
{
    return handshake(io, true, why);
}
int hc_io_connect_tls(hc_io *io, const char **why)
{
    return handshake(io, false, why);
}

void hc_io_close(hc_io *io)
{
    if (io->abort_close && io->fd >= 0) {
        struct linger lg = { 1, 0 }; /* close() sends RST */
        setsockopt(io->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    if (io->ssl) {
        if (!io->eof && !io->abort_close)
            SSL_shutdown(io->ssl); /* one non-blocking attempt: sends close_notify if it can */
        SSL_free(io->ssl);
        io->ssl = NULL;
    }
    if (io->fd >= 0) {
        close(io->fd);
        io->fd = -1;
    }
}

int hc_io_connect(const struct sockaddr *addr, socklen_t len, int timeout_ms, int cancel_fd)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return HC_ECONNECT;
    hc_core_own_fd(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const hc_shim_api *shim = hc_core_shim();
    int r = shim->connect(fd, addr, len);
    if (r == 0)
        return fd;
    if (errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return HC_ECONNECT;
    }
    hc_io tmp = { .fd = fd, .ssl = NULL, .timeout_ms = timeout_ms, .cancel_fd = cancel_fd };
    int w = wait_fd(&tmp, POLLOUT, deadline_of(timeout_ms));
    if (w <= 0) {
        close(fd);
        errno = w == 0 ? ETIMEDOUT : ECANCELED;
        return w == 0 ? HC_ETIMEDOUT : w;
    }
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        close(fd);
        errno = err;
        return HC_ECONNECT;
    }
    return fd;
}

int hc_io_write_buf(hc_io *io, const hc_buf *b)
{
    if (hc_buf_error(b))
        return hc_buf_error(b);
    return hc_io_write(io, b->data, b->len);
}

int hc_io_write_chunk(hc_io *io, const char *p, size_t n)
{
    if (!n)
        return 0;
    char hdr[32];
    int hn = snprintf(hdr, sizeof hdr, "%zx\r\n", n);
    hc_buf b = HC_BUF_INIT;
    hc_buf_append(&b, hdr, (size_t)hn);
    hc_buf_append(&b, p, n);
    hc_buf_append(&b, "\r\n", 2);
    int rc = hc_io_write_buf(io, &b);
    hc_buf_free(&b);
    return rc;
}
