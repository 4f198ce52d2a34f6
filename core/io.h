/* io.h — blocking-style reads and writes over a non-blocking socket, plain or TLS,
 * with a deadline and an optional "cancel" socket.
 *
 * Every socket the gateway owns is non-blocking; hc_io waits with poll(), so
 * that (a) no operation can outlive its timeout, and (b) while the gateway
 * waits for a slow upstream it also watches the app's socket: if the app hangs
 * up (its own timeout fired), the wait ends with HC_ECANCELED and the
 * connection thread unwinds instead of leaking.
 *
 * Not thread-safe: an hc_io belongs to one connection thread.
 */
#ifndef HC_CORE_IO_H
#define HC_CORE_IO_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct ssl_st SSL;

typedef struct hc_io {
    int fd;           /* non-blocking socket */
    SSL *ssl;         /* NULL: plain */
    int timeout_ms;   /* per wait; -1 = none */
    int cancel_fd;    /* -1, or a socket whose hang-up aborts waits (HC_ECANCELED) */
    bool eof;         /* a read returned end of stream */
    bool abort_close; /* hc_io_close ends it with a reset, never a clean close */
} hc_io;

/* Set up io for fd (made non-blocking). ssl may be NULL. */
void hc_io_init(hc_io *io, int fd, SSL *ssl, int timeout_ms);

/* Read up to n bytes. Returns > 0 bytes read, 0 at end of stream (TLS
 * close_notify or TCP FIN), or HC_ETIMEDOUT / HC_ECANCELED / HC_EIO / HC_ETLS. */
long hc_io_read(hc_io *io, void *buf, size_t n);

/* hc_io_read for a peer that has almost surely sent nothing yet (the app
 * between two requests, the upstream just after a request): polls before
 * the first read instead of a read that fails with EAGAIN and then a poll —
 * one system call less. Same results, same deadline (io->timeout_ms from the
 * call). */
long hc_io_read_idle(hc_io *io, void *buf, size_t n);

/* Write all n bytes. 0, or HC_ETIMEDOUT / HC_EIO / HC_ETLS / HC_ECLOSED. */
int hc_io_write(hc_io *io, const void *buf, size_t n);

/* Write what was built in b (buf.h). The buffer's sticky error, if any, is
 * returned instead and nothing is written: an incomplete head or body is
 * never sent. Otherwise as hc_io_write. */
int hc_io_write_buf(hc_io *io, const hc_buf *b);

/* Write n bytes as one chunk of chunked framing ("%zx\r\n", data, "\r\n"),
 * in one write. n == 0 writes nothing (a zero chunk would end the body).
 * 0, HC_ENOMEM, or as hc_io_write. */
int hc_io_write_chunk(hc_io *io, const char *p, size_t n);

/* Bytes already decrypted and buffered (TLS) — readable without waiting. */
bool hc_io_pending(hc_io *io);

/* Wait until io is readable (or buffered data exists). 1 readable, 0 timeout,
 * HC_ECANCELED, HC_EIO. timeout_ms overrides io->timeout_ms (-1 none). */
int hc_io_wait_readable(hc_io *io, int timeout_ms);

/* True if the peer of fd has closed or reset the connection (checked without
 * consuming data). */
bool hc_io_peer_gone(int fd);

/* TLS server/client handshakes on io (io->ssl set, fd attached).
 * 0 or HC_ETLS / HC_ETIMEDOUT / HC_ECANCELED; *why gets a static reason. */
int hc_io_accept_tls(hc_io *io, const char **why);
int hc_io_connect_tls(hc_io *io, const char **why);

/* Orderly TLS shutdown (best effort, never waits) and close of the socket —
 * or, with io->abort_close, a TCP reset without close_notify, so that a peer
 * reading until the close can tell its data was cut short. */
void hc_io_close(hc_io *io);

/* Non-blocking connect of a new socket to addr with a timeout, using the real
 * connect (never redirected). Returns the connected fd (non-blocking,
 * close-on-exec, TCP_NODELAY) or a negative HC_E* with errno set. */
int hc_io_connect(const struct sockaddr *addr, socklen_t len, int timeout_ms, int cancel_fd);

#endif
