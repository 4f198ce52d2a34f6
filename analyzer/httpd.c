/* httpd.c — a small HTTP/1.1 server (see httpd.h for the design). */
#include "httpd.h"
#include "clock.h"
#include "err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* After an error response the connection is shut down for writing and
 * drained for this long before it is closed, so that unread request bytes
 * (a POST body) do not make the kernel reset the connection and destroy the
 * response before the client reads it ("lingering close"). */
#define LINGER_MS 2000

struct conn {
    int fd; /* -1: free slot */
    hc_buf in, out;
    size_t out_off;
    int64_t head_deadline; /* ms; 0 = no partial head pending */
    int64_t deadline;      /* idle, write or linger deadline (ms) */
    bool close_after;      /* close once out is written */
    bool lingering;        /* shut down for writing, draining input */
};

struct httpd {
    int lfd;
    unsigned port;
    bool owner_only;       /* loopback peers of another uid are refused */
    unsigned long refused; /* connections refused by owner_only */
    struct conn c[HTTPD_MAX_CONNS];
    size_t active;
};

static int64_t now_ms(void)
{
    return hc_mono_us() / 1000;
}

const char *httpd_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 421: return "Misdirected Request";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

int httpd_open(const char *addr, unsigned port, httpd **out, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                              .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM },
                    *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%u", port);
    *out = NULL;
    if (port > 65535 || getaddrinfo(addr, ps, &hints, &ai) != 0) {
        snprintf(err, errlen, "'%s' is not a numeric IP address (or the port is out of range)",
                 addr);
        return HC_EINVAL;
    }
    httpd *h = calloc(1, sizeof *h);
    int fd = h ? socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
    int one = 1;
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0)
        goto fail;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        goto fail;
    h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    h->lfd = fd;
    for (size_t i = 0; i < HTTPD_MAX_CONNS; i++)
        h->c[i].fd = -1;
    freeaddrinfo(ai);
    *out = h;
    return 0;
fail:
    snprintf(err, errlen, "cannot listen on %s port %u: %s", addr, port,
             h ? strerror(errno) : "out of memory");
    if (fd >= 0)
        close(fd);
    free(h);
    freeaddrinfo(ai);
    return HC_EIO;
}

unsigned httpd_port(const httpd *h)
{
    return h->port;
}

static void conn_close(httpd *h, struct conn *c)
{
    close(c->fd);
    c->fd = -1;
    hc_buf_free(&c->in);
    hc_buf_free(&c->out);
    h->active--;
}

void httpd_close(httpd *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < HTTPD_MAX_CONNS; i++)
        if (h->c[i].fd >= 0)
            conn_close(h, &h->c[i]);
    close(h->lfd);
    free(h);
}

/* Queue a response on c: status line, the standard headers, resp's. */
static void queue(struct conn *c, int status, const httpd_resp *resp, bool head_only,
                  bool close_after)
{
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    hc_buf_printf(&c->out,
                  "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                  "Referrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n%s%s\r\n",
                  status, httpd_reason(status), date,
                  resp->content_type ? resp->content_type : "text/plain; charset=utf-8",
                  resp->body.len, resp->headers.data ? resp->headers.data : "",
                  close_after ? "Connection: close\r\n" : "");
    if (!head_only && resp->body.len)
        hc_buf_append(&c->out, resp->body.data, resp->body.len);
    if (hc_buf_error(&c->out) || hc_buf_error(&resp->body) || hc_buf_error(&resp->headers)) {
        /* Building the answer ran out of memory (buf.h): never send a part
         * of it; a bare 500 needs no memory beyond the buffer's own. */
        static const char bare[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n";
        hc_buf_reset(&c->out);
        if (c->out.cap > sizeof bare)
            hc_buf_append(&c->out, bare, sizeof bare - 1);
        close_after = true;
    }
    c->out_off = 0;
    c->close_after = close_after;
    c->deadline = now_ms() + HTTPD_WRITE_TIMEOUT_MS;
}

/* A response generated here (errors): "<status> <reason>\n", then close. */
static void queue_error(struct conn *c, int status, const char *extra_headers)
{
    httpd_resp r = { .status = status };
    hc_buf_printf(&r.body, "%d %s\n", status, httpd_reason(status));
    if (extra_headers)
        hc_buf_puts(&r.headers, extra_headers);
    queue(c, status, &r, false, true);
    hc_buf_free(&r.body);
    hc_buf_free(&r.headers);
}

/* Answer one complete request head (n bytes at the start of c->in). */
static void answer(struct conn *c, const hc_http_head *hd, httpd_handler fn, void *ctx)
{
    /* Methods are case-sensitive (RFC 9110 §9.1). */
    bool get = hd->method_len == 3 && memcmp(hd->method, "GET", 3) == 0;
    bool head = hd->method_len == 4 && memcmp(hd->method, "HEAD", 4) == 0;
    if (!get && !head) {
        queue_error(c, 405, "Allow: GET, HEAD\r\n");
        return;
    }
    enum hc_framing fr;
    uint64_t len = 0;
    if (hc_http_framing(hd, false, hd->method, hd->method_len, &fr, &len) != 0 ||
        !(fr == HC_BODY_NONE || (fr == HC_BODY_LENGTH && len == 0)) || hd->target_len == 0 ||
        hd->target[0] != '/' || (hd->minor_version == 1 && !hc_http_header(hd, "Host"))) {
        queue_error(c, 400, NULL);
        return;
    }
    const char *q = memchr(hd->target, '?', hd->target_len);
    httpd_req req = {
        .method = "GET",
        .method_len = 3,
        .path = hd->target,
        .path_len = q ? (size_t)(q - hd->target) : hd->target_len,
        .query = q ? q + 1 : "",
        .query_len = q ? hd->target_len - (size_t)(q + 1 - hd->target) : 0,
        .head = hd,
    };
    httpd_resp resp = { .status = 200 };
    fn(ctx, &req, &resp);
    bool close_after =
        hd->minor_version == 0 || hc_http_header_has_token(hd, "Connection", "close");
    queue(c, resp.status, &resp, head, close_after);
    hc_buf_free(&resp.body);
    hc_buf_free(&resp.headers);
}

/* Answer what c->in holds, if it is a complete head and nothing is being written. */
static void process(struct conn *c, httpd_handler fn, void *ctx)
{
    if (c->out.len || c->lingering || !c->in.len)
        return;
    hc_http_head hd;
    int n = hc_http_parse_request(c->in.data, c->in.len, &hd);
    if (n == HC_PARTIAL) {
        if (c->in.len >= HTTPD_MAX_HEAD)
            queue_error(c, 431, NULL);
        else if (!c->head_deadline)
            c->head_deadline = now_ms() + HTTPD_HEAD_TIMEOUT_MS;
        return;
    }
    c->head_deadline = 0;
    if (n < 0) {
        queue_error(c, 400, NULL);
        return;
    }
    if ((size_t)n > HTTPD_MAX_HEAD) {
        queue_error(c, 431, NULL);
        return;
    }
    answer(c, &hd, fn, ctx);
    hc_buf_consume(&c->in, (size_t)n);
}

static void on_writable(httpd *h, struct conn *c, httpd_handler fn, void *ctx)
{
    if (hc_buf_error(&c->out)) { /* even the bare 500 did not fit: never send a piece */
        conn_close(h, c);
        return;
    }
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w > 0) {
            c->out_off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        } else {
            conn_close(h, c);
            return;
        }
    }
    hc_buf_reset(&c->out);
    c->out_off = 0;
    if (c->close_after) {
        shutdown(c->fd, SHUT_WR);
        c->lingering = true;
        c->deadline = now_ms() + LINGER_MS;
        return;
    }
    c->deadline = now_ms() + HTTPD_IDLE_TIMEOUT_MS;
    process(c, fn, ctx); /* a pipelined request may be waiting */
    if (c->out.len)
        on_writable(h, c, fn, ctx);
}

static void on_readable(httpd *h, struct conn *c, httpd_handler fn, void *ctx)
{
    char buf[8192];
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(h, c);
        return;
    }
    if (r < 0 || c->lingering)
        return; /* lingering: input is discarded */
    if (c->in.len + (size_t)r > 2 * HTTPD_MAX_HEAD || hc_buf_append(&c->in, buf, (size_t)r)) {
        conn_close(h, c);
        return;
    }
    c->deadline = now_ms() + HTTPD_IDLE_TIMEOUT_MS;
    process(c, fn, ctx);
    if (c->out.len)
        on_writable(h, c, fn, ctx);
}

void httpd_owner_only(httpd *h, bool on)
{
    h->owner_only = on;
}
unsigned long httpd_refused(const httpd *h)
{
    return h->refused;
}

/* An address as /proc/net/tcp{,6} prints it: the address's 32-bit words in
 * memory order, each as %08X. */
static void proc_hex(const struct sockaddr_storage *ss, char *out, size_t size, unsigned *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uint32_t w;
        memcpy(&w, &a->sin_addr, 4);
        snprintf(out, size, "%08X", w);
        *port = ntohs(a->sin_port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uint32_t w[4];
        memcpy(w, &a->sin6_addr, 16);
        snprintf(out, size, "%08X%08X%08X%08X", w[0], w[1], w[2], w[3]);
        *port = ntohs(a->sin6_port);
    }
}

/* The uid that owns the other end of loopback connection fd: the kernel's
 * socket table lists the peer's socket (local = its address, remote = ours)
 * with its owner. false if it is not found (not on this machine, or gone). */
static bool peer_uid(int fd, uid_t *uid)
{
    struct sockaddr_storage me, peer;
    socklen_t ml = sizeof me, pl = sizeof peer;
    if (getsockname(fd, (struct sockaddr *)&me, &ml) != 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &pl) != 0 || me.ss_family != peer.ss_family ||
        (me.ss_family != AF_INET && me.ss_family != AF_INET6))
        return false;
    char mh[40], ph[40], lh[40], rh[40], line[512];
    unsigned mp, pp, lp, rp, u;
    proc_hex(&me, mh, sizeof mh, &mp);
    proc_hex(&peer, ph, sizeof ph, &pp);
    FILE *f = fopen(me.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", "re");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        if (sscanf(line, " %*[0-9]: %39[0-9A-F]:%x %39[0-9A-F]:%x %*x %*s %*s %*s %u", lh, &lp, rh,
                   &rp, &u) == 5 &&
            lp == pp && rp == mp && strcmp(lh, ph) == 0 && strcmp(rh, mh) == 0) {
            *uid = (uid_t)u;
            found = true;
        }
    fclose(f);
    return found;
}

/* Another local user's connection: a fixed 403, best effort, then close. */
static void refuse(httpd *h, int fd)
{
#define REFUSED_BODY "this dashboard serves only the user who started it\n"
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     sizeof REFUSED_BODY - 1, REFUSED_BODY);
    ssize_t w = send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    shutdown(fd, SHUT_WR);
    close(fd);
    h->refused++;
}

/* All slots taken: close the connection idle the longest (no request in
 * progress, nothing to write), so idle keep-alive connections cannot lock
 * the server out for HTTPD_IDLE_TIMEOUT_MS. false if every one is busy. */
static bool evict_idle(httpd *h)
{
    struct conn *old = NULL;
    for (size_t i = 0; i < HTTPD_MAX_CONNS; i++) {
        struct conn *c = &h->c[i];
        if (c->fd >= 0 && !c->out.len && !c->lingering && !c->head_deadline && !c->in.len &&
            (!old || c->deadline < old->deadline))
            old = c;
    }
    if (old)
        conn_close(h, old);
    return old != NULL;
}

static void on_accept(httpd *h)
{
    for (;;) {
        if (h->active >= HTTPD_MAX_CONNS && !evict_idle(h))
            return;
        int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a client that went away meanwhile */
        uid_t uid;
        if (h->owner_only && (!peer_uid(fd, &uid) || uid != geteuid())) {
            refuse(h, fd);
            continue;
        }
        for (size_t i = 0; i < HTTPD_MAX_CONNS; i++)
            if (h->c[i].fd < 0) {
                memset(&h->c[i], 0, sizeof h->c[i]);
                h->c[i].fd = fd;
                h->c[i].deadline = now_ms() + HTTPD_IDLE_TIMEOUT_MS;
                h->active++;
                break;
            }
    }
}

/* Deadlines: a head that does not complete gets 408, the rest just close. */
static void expire(httpd *h, int64_t now)
{
    for (size_t i = 0; i < HTTPD_MAX_CONNS; i++) {
        struct conn *c = &h->c[i];
        if (c->fd < 0)
            continue;
        if (c->head_deadline && now >= c->head_deadline && !c->out.len && !c->lingering) {
            c->head_deadline = 0;
            queue_error(c, 408, NULL);
            continue;
        }
        if (now >= c->deadline)
            conn_close(h, c);
    }
}

int httpd_run(httpd *h, httpd_handler fn, void *ctx, volatile sig_atomic_t *stop)
{
    struct pollfd pfd[1 + HTTPD_MAX_CONNS];
    int idx[1 + HTTPD_MAX_CONNS];
    while (!*stop) {
        nfds_t n = 0;
        int64_t now = now_ms(), wake = now + 1000;
        pfd[n] = (struct pollfd){ .fd = h->lfd,
                                  .events = POLLIN }; /* full: on_accept evicts an idle one */
        idx[n++] = -1;
        for (size_t i = 0; i < HTTPD_MAX_CONNS; i++) {
            struct conn *c = &h->c[i];
            if (c->fd < 0)
                continue;
            pfd[n] = (struct pollfd){ .fd = c->fd, .events = c->out.len ? POLLOUT : POLLIN };
            idx[n++] = (int)i;
            if (c->deadline < wake)
                wake = c->deadline;
            if (c->head_deadline && c->head_deadline < wake)
                wake = c->head_deadline;
        }
        int r = poll(pfd, n, wake > now ? (int)(wake - now) : 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return HC_EIO;
        }
        for (nfds_t k = 0; k < n && r > 0; k++) {
            if (!pfd[k].revents)
                continue;
            if (idx[k] < 0) {
                on_accept(h);
                continue;
            }
            struct conn *c = &h->c[idx[k]];
            if (c->fd != pfd[k].fd)
                continue;
            if (pfd[k].revents & POLLOUT)
                on_writable(h, c, fn, ctx);
            else
                on_readable(h, c, fn, ctx); /* POLLIN, or POLLHUP/POLLERR: recv tells */
        }
        expire(h, now_ms());
    }
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode q[from, to) into out. */
static int decode(const char *q, size_t from, size_t to, hc_buf *out)
{
    hc_buf_reset(out);
    for (size_t i = from; i < to; i++) {
        char ch = q[i];
        if (ch == '+')
            ch = ' ';
        else if (ch == '%') {
            int a = i + 2 < to ? hexval(q[i + 1]) : -1, b = i + 2 < to ? hexval(q[i + 2]) : -1;
            if (a < 0 || b < 0 || (a == 0 && b == 0))
                return HC_EPARSE;
            ch = (char)(a * 16 + b);
            i += 2;
        }
        if (hc_buf_append(out, &ch, 1))
            return HC_ENOMEM;
    }
    if (!out->data && hc_buf_append(out, "", 0))
        return HC_ENOMEM;
    return 0;
}

int httpd_query_next(const char *q, size_t qlen, size_t *pos, hc_buf *name, hc_buf *value)
{
    while (*pos < qlen && q[*pos] == '&')
        (*pos)++;
    if (*pos >= qlen)
        return 0;
    size_t start = *pos, end = start, eq;
    while (end < qlen && q[end] != '&')
        end++;
    for (eq = start; eq < end && q[eq] != '='; eq++)
        ;
    *pos = end;
    int rc = decode(q, start, eq, name);
    if (!rc)
        rc = decode(q, eq < end ? eq + 1 : end, end, value);
    return rc ? rc : 1;
}
