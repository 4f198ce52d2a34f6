#include "relay.h"
#include "io.h"
#include "log.h"
#include "sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_BUF 65536

bool hc_is_synthetic_addr(const struct sockaddr *a)
{
    struct in_addr ip;
    return hc_sa_ipv4(a, &ip) && (ntohl(ip.s_addr) & HC_SYNTHETIC_MASK) == HC_SYNTHETIC_NET;
}

/* One direction's state: bytes read from `from` not yet written to `to`. */
struct dir {
    int from, to;
    char *buf;
    size_t len, off;
    bool eof;  /* `from` reached end of stream */
    bool shut; /* we have shut down writing on `to` */
};

static bool pump(struct dir *d, short rev_from, short rev_to)
{
    if (!d->eof && d->len == 0 && (rev_from & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = recv(d->from, d->buf, RELAY_BUF, 0);
        if (n > 0) {
            d->len = (size_t)n;
            d->off = 0;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            d->eof = true;
        }
    }
    if (d->len > d->off && (rev_to & POLLOUT)) {
        ssize_t n = send(d->to, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
        if (n > 0) {
            d->off += (size_t)n;
            if (d->off == d->len)
                d->len = d->off = 0;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        }
    }
    if (d->eof && d->len == 0 && !d->shut) {
        shutdown(d->to, SHUT_WR);
        d->shut = true;
    }
    return true;
}

static void relay_to(hc_core *core, int cfd, const struct sockaddr *dst, socklen_t dstlen);

void hc_relay(hc_core *core, int cfd, const hc_origin *o)
{
    if (hc_is_synthetic_addr((const struct sockaddr *)&o->dst)) {
        hc_log_debug("not relaying a non-LLM connection to a routed host's synthetic address");
        close(cfd);
        return;
    }
    relay_to(core, cfd, (const struct sockaddr *)&o->dst, o->dstlen);
}

void hc_relay_routed(hc_core *core, int cfd, const hc_origin *o)
{
    const hc_route *r = hc_is_synthetic_addr((const struct sockaddr *)&o->dst)
                            ? hc_config_route(&core->cfg, o->host)
                            : NULL;
    if (!r) {
        hc_relay(core, cfd, o);
        return;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
    if (core->shim->getaddrinfo(r->target, port, &hints, &res) != 0 || !res) {
        hc_log_debug("cannot resolve %s, the route of %s; closing the connection", r->target,
                     o->host);
        close(cfd);
        return;
    }
    relay_to(core, cfd, res->ai_addr, res->ai_addrlen);
    core->shim->freeaddrinfo(res);
}

static void relay_to(hc_core *core, int cfd, const struct sockaddr *dst, socklen_t dstlen)
{
    int ufd = hc_io_connect(dst, dstlen, core->cfg.connect_timeout_ms, cfd);
    if (ufd < 0) {
        close(cfd);
        return;
    }
    hc_relay_fds(cfd, ufd);
}

void hc_relay_fds(int cfd, int ufd)
{
    char *b1 = malloc(RELAY_BUF), *b2 = malloc(RELAY_BUF);
    struct dir up = { .from = cfd, .to = ufd, .buf = b1 },
               down = { .from = ufd, .to = cfd, .buf = b2 };
    if (!b1 || !b2)
        goto done;
    while (!(up.shut && down.shut)) {
        struct pollfd p[2] = { { .fd = cfd }, { .fd = ufd } };
        if (!up.eof && up.len == 0)
            p[0].events |= POLLIN;
        if (!down.eof && down.len == 0)
            p[1].events |= POLLIN;
        if (up.len)
            p[1].events |= POLLOUT;
        if (down.len)
            p[0].events |= POLLOUT;
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if ((p[0].revents | p[1].revents) & POLLNVAL)
            break;
        if (!pump(&up, p[0].revents, p[1].revents) || !pump(&down, p[1].revents, p[0].revents))
            break;
        /* An error on a socket with nothing left to move ends the relay. */
        if ((p[0].revents & POLLERR) && up.eof && down.len == 0)
            break;
        if ((p[1].revents & POLLERR) && down.eof && up.len == 0)
            break;
    }
done:
    free(b1);
    free(b2);
    close(ufd);
    close(cfd);
}
