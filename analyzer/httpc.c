/* httpc.c — see httpc.h. Non-blocking socket + poll() so that a server that
 * accepts and then stalls (ClickHouse overloaded, a half-dead host) costs at
 * most the deadline, never a hang. */
#include "httpc.h"

#include "clock.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int remaining_ms(int64_t deadline)
{
    int64_t left = (deadline - hc_mono_us()) / 1000;
    return left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* Wait for fd to be ready for `ev` before the deadline. 0, or HC_ETIMEDOUT / HC_EIO. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        int ms = remaining_ms(deadline);
        if (ms == 0)
            return HC_ETIMEDOUT;
        struct pollfd p = { .fd = fd, .events = ev };
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return HC_EIO;
    }
}

static int connect_to(const char *host, int port, int64_t deadline, char *err, size_t errlen)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int grc = getaddrinfo(host, portstr, &hints, &ai);
    if (grc != 0) {
        if (err)
            snprintf(err, errlen, "%s:%d: %s", host, port, gai_strerror(grc));
        return HC_ECONNECT;
    }
    int fd = -1, last = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            int wrc = wait_fd(fd, POLLOUT, deadline);
            if (wrc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                break;
            last = wrc == HC_ETIMEDOUT ? ETIMEDOUT : soerr ? soerr : errno;
        } else {
            last = errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0 && err)
        snprintf(err, errlen, "%s:%d: %s", host, port, strerror(last ? last : ECONNREFUSED));
    return fd < 0 ? HC_ECONNECT : fd;
}

static int write_all(int fd, const void *p, size_t n, int64_t deadline)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w > 0) {
            c += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc)
                return rc;
        } else {
            return HC_EIO;
        }
    }
    return 0;
}

int httpc_request(const char *host, int port, const char *method, const char *target,
                  const char *headers, const void *body, size_t len, int timeout_ms, int *status,
                  hc_buf *resp, char *err, size_t errlen)
{
    return httpc_request_max(host, port, method, target, headers, body, len, timeout_ms,
                             HTTPC_MAX_RESPONSE, status, resp, err, errlen);
}

int httpc_request_max(const char *host, int port, const char *method, const char *target,
                      const char *headers, const void *body, size_t len, int timeout_ms, size_t max,
                      int *status, hc_buf *resp, char *err, size_t errlen)
{
    int64_t deadline = hc_mono_us() + (int64_t)timeout_ms * 1000;
    hc_buf head = { 0 }, in = { 0 };
    int rc, fd = connect_to(host, port, deadline, err, errlen);
    if (fd < 0)
        return fd;
    rc = hc_buf_printf(&head,
                       "%s %s HTTP/1.0\r\nHost: %s:%d\r\nConnection: close\r\n"
                       "Content-Length: %zu\r\n%s\r\n",
                       method, target, host, port, len, headers ? headers : "");
    if (rc)
        goto cleanup;
    if ((rc = write_all(fd, head.data, head.len, deadline)) != 0 ||
        (len && (rc = write_all(fd, body, len, deadline)) != 0))
        goto fail;
    /* Read to EOF; keep the head and at most max bytes of the body. */
    for (;;) {
        char chunk[16384];
        ssize_t r = recv(fd, chunk, sizeof chunk, 0);
        if (r > 0) {
            hc_buf_append_capped(&in, chunk, (size_t)r, max + 65536);
        } else if (r == 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            if ((rc = wait_fd(fd, POLLIN, deadline)) != 0)
                goto fail;
        } else {
            rc = HC_EIO;
            goto fail;
        }
    }
    if ((rc = hc_buf_error(&in)) != 0) { /* out of memory: the answer is incomplete */
        if (err)
            snprintf(err, errlen, "%s:%d: out of memory reading the answer", host, port);
        goto cleanup;
    }
    {
        const char *d = in.data ? in.data : "";
        int code = 0;
        char *eoh = in.len ? memmem(d, in.len, "\r\n\r\n", 4) : NULL;
        if (!eoh || sscanf(d, "HTTP/1.%*d %d", &code) != 1 || code < 100 || code > 999) {
            rc = HC_EPARSE;
            if (err)
                snprintf(err, errlen, "%s:%d: not an HTTP answer", host, port);
            goto cleanup;
        }
        size_t off = (size_t)(eoh + 4 - d);
        *status = code;
        rc = hc_buf_append(resp, d + off, in.len - off);
    }
    goto cleanup;
fail:
    if (err)
        snprintf(err, errlen, "%s:%d: %s", host, port,
                 rc == HC_ETIMEDOUT ? "timed out"
                                    : "connection failed while talking to the server");
cleanup:
    close(fd);
    hc_buf_free(&head);
    hc_buf_free(&in);
    return rc;
}
