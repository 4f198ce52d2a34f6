/* compat_sock.c — socket patterns for test_compat.py: an ordinary C program
 * (no knowledge of hcshim) that calls an OpenAI-style chat endpoint.
 *
 *   compat_sock MODE HOST PORT TLS [COUNT [PROMPT]]
 *
 * MODE
 *   connect     getaddrinfo(AF_UNSPEC), blocking connect to the first answer
 *   poll        non-blocking connect, wait with poll(), check SO_ERROR
 *   epoll       non-blocking connect, wait with epoll, check SO_ERROR
 *   race        happy eyeballs: one address per family (AF_INET, and AF_INET6
 *               with AI_V4MAPPED as a dual-stack client asks), two non-blocking
 *               connects at once, the first to complete wins, the loser is
 *               closed. HOST may be "A,B": two literal addresses (e.g. the v4
 *               and v6 loopbacks) raced the same way.
 *   gai_wait    getaddrinfo_a(GAI_WAIT), then a blocking connect
 *   gai_nowait  getaddrinfo_a(GAI_NOWAIT) + gai_suspend, then a blocking connect
 *   keepalive   one connection, COUNT requests on it
 * TLS  1: OpenSSL client (system trust store, plus $COMPAT_CA if set; SNI and
 *      host name verification for HOST), 0: plain HTTP.
 *
 * stdout: one JSON line per request: {"status": N, "raw": "<body>"}; also
 * "# race: winner v4|v6" for race. stderr: "COMPAT-PEER <sha256>" per TLS
 * connection. Exit 0 when every request got an answer, 1 otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *host, *port, *prompt = "say hello to the socket test";
static int tls;

static void die(const char *what)
{
    fprintf(stderr, "compat_sock: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- I/O over a plain fd or an SSL object ---------------------------------- */
struct conn {
    int fd;
    SSL *ssl;
    char buf[1 << 16];
    size_t have;
};

static int c_write(struct conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t k = c->ssl ? SSL_write(c->ssl, p, (int)n) : write(c->fd, p, n);
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int c_fill(struct conn *c)
{
    if (c->have == sizeof c->buf)
        return -1;
    ssize_t k = c->ssl ? SSL_read(c->ssl, c->buf + c->have, (int)(sizeof c->buf - c->have))
                       : read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
    if (k <= 0)
        return -1;
    c->have += (size_t)k;
    return 0;
}

static void json_str(const char *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch == '\n')
            printf("\\n");
        else if (ch == '\r')
            printf("\\r");
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* One request and its answer (Content-Length bodies). 0 ok, -1 failure. */
static int exchange(struct conn *c, int last)
{
    char body[512], req[2048], hosthdr[300];
    snprintf(body, sizeof body, "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"%s\"}]}",
             prompt);
    if (strchr(host, ':'))
        snprintf(hosthdr, sizeof hosthdr, "[%s]", host);
    else
        snprintf(hosthdr, sizeof hosthdr, "%s", host);
    if (strcmp(port, tls ? "443" : "80") != 0) {
        size_t l = strlen(hosthdr);
        snprintf(hosthdr + l, sizeof hosthdr - l, ":%s", port);
    }
    int n = snprintf(req, sizeof req,
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\n"
                     "Authorization: Bearer sk-test-openai-SECRET-0123456789\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n%s",
                     hosthdr, strlen(body), last ? "close" : "keep-alive", body);
    if (c_write(c, req, (size_t)n) != 0)
        return -1;
    char *end;
    while (!(end = memmem(c->buf, c->have, "\r\n\r\n", 4)))
        if (c_fill(c) != 0)
            return -1;
    size_t headlen = (size_t)(end - c->buf) + 4;
    int status = 0;
    sscanf(c->buf, "HTTP/1.%*d %d", &status);
    long clen = -1;
    for (char *p = c->buf; p < end; p++) {
        if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
            clen = strtol(p + 15, NULL, 10);
    }
    if (clen < 0)
        return -1;
    while (c->have < headlen + (size_t)clen)
        if (c_fill(c) != 0)
            return -1;
    printf("{\"status\": %d, \"raw\": ", status);
    json_str(c->buf + headlen, (size_t)clen);
    printf("}\n");
    fflush(stdout);
    memmove(c->buf, c->buf + headlen + clen, c->have - headlen - (size_t)clen);
    c->have -= headlen + (size_t)clen;
    return 0;
}

static void set_blocking(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, on ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK));
}

/* Requests on a connected fd; returns the exit status. */
static int talk(int fd, int count)
{
    struct conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    set_blocking(fd, 1);
    SSL_CTX *ctx = NULL;
    if (tls) {
        ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_default_verify_paths(ctx);
        const char *ca = getenv("COMPAT_CA");
        if (ca && *ca)
            SSL_CTX_load_verify_locations(ctx, ca, NULL);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        c->ssl = SSL_new(ctx);
        SSL_set_fd(c->ssl, fd);
        SSL_set_tlsext_host_name(c->ssl, host);
        SSL_set1_host(c->ssl, host);
        if (SSL_connect(c->ssl) != 1) {
            fprintf(stderr, "compat_sock: TLS handshake failed: ");
            ERR_print_errors_fp(stderr);
            return 1;
        }
        X509 *peer = SSL_get1_peer_certificate(c->ssl);
        if (peer) {
            unsigned char md[32];
            unsigned int mdlen = 0;
            X509_digest(peer, EVP_sha256(), md, &mdlen);
            fprintf(stderr, "COMPAT-PEER ");
            for (unsigned i = 0; i < mdlen; i++)
                fprintf(stderr, "%02x", md[i]);
            fprintf(stderr, "\n");
            X509_free(peer);
        }
    }
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++)
        if (exchange(c, i == count - 1) != 0) {
            fprintf(stderr, "compat_sock: request %d failed\n", i + 1);
            rc = 1;
        }
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        SSL_CTX_free(ctx);
    }
    close(fd);
    free(c);
    return rc;
}

static struct addrinfo *lookup(int family, int flags)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "compat_sock: getaddrinfo(%s, %s, family %d): %s\n", host, port, family, gai_strerror(rc));
        return NULL;
    }
    return res;
}

/* Start a non-blocking connect; -1 on immediate failure. */
static int start_connect(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        die("socket");
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        fprintf(stderr, "compat_sock: connect: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int so_error(int fd)
{
    int e = 0;
    socklen_t l = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0)
        return errno;
    return e;
}

static int blocking_connect(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        die("connect");
    return fd;
}

static int mode_gai(int mode, int count)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct gaicb cb = {.ar_name = host, .ar_service = port, .ar_request = &hints};
    struct gaicb *list[1] = {&cb};
    int rc = getaddrinfo_a(mode, list, 1, NULL);
    if (rc != 0) {
        fprintf(stderr, "compat_sock: getaddrinfo_a: %s\n", gai_strerror(rc));
        return 1;
    }
    if (mode == GAI_NOWAIT) {
        const struct gaicb *wait[1] = {&cb};
        struct timespec ts = {10, 0};
        while ((rc = gai_error(&cb)) == EAI_INPROGRESS)
            if (gai_suspend(wait, 1, &ts) == EAI_AGAIN)
                break;
    }
    rc = gai_error(&cb);
    if (rc != 0 || !cb.ar_result) {
        fprintf(stderr, "compat_sock: getaddrinfo_a result: %s\n", gai_strerror(rc));
        return 1;
    }
    char a[INET6_ADDRSTRLEN] = "";
    const struct sockaddr *sa = cb.ar_result->ai_addr;
    inet_ntop(sa->sa_family,
              sa->sa_family == AF_INET ? (void *)&((struct sockaddr_in *)sa)->sin_addr
                                       : (void *)&((struct sockaddr_in6 *)sa)->sin6_addr,
              a, sizeof a);
    printf("# resolved %s\n", a);
    int fd = blocking_connect(cb.ar_result);
    freeaddrinfo(cb.ar_result);
    return talk(fd, count);
}

static int mode_race(int count)
{
    struct addrinfo *a4 = NULL, *a6 = NULL;
    char *comma = strchr(host, ',');
    if (comma) { /* two literal addresses */
        char first[256];
        snprintf(first, sizeof first, "%.*s", (int)(comma - host), host);
        const char *second = comma + 1;
        host = first;
        a4 = lookup(AF_UNSPEC, AI_NUMERICHOST);
        host = second;
        a6 = lookup(AF_UNSPEC, AI_NUMERICHOST);
        host = "";  /* set to the winner's literal below */
    } else {
        a4 = lookup(AF_INET, 0);
        a6 = lookup(AF_INET6, AI_V4MAPPED);
    }
    if (!a4 || !a6)
        return 1;
    int fds[2] = {start_connect(a4), start_connect(a6)};
    int winner = -1;
    for (int round = 0; round < 100 && winner < 0; round++) {
        struct pollfd p[2] = {{fds[0], POLLOUT, 0}, {fds[1], POLLOUT, 0}};
        if (fds[0] < 0 && fds[1] < 0)
            break;
        if (poll(p, 2, 100) < 0)
            die("poll");
        for (int i = 0; i < 2 && winner < 0; i++)
            if (fds[i] >= 0 && (p[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
                if (so_error(fds[i]) == 0)
                    winner = i;
                else {
                    close(fds[i]);
                    fds[i] = -1;
                }
            }
    }
    if (winner < 0) {
        fprintf(stderr, "compat_sock: race: no connection\n");
        return 1;
    }
    printf("# race: winner %s (loser %s)\n", winner == 0 ? "first" : "second",
           fds[1 - winner] >= 0 ? "closed" : "failed");
    if (fds[1 - winner] >= 0)
        close(fds[1 - winner]);
    if (comma) { /* Host header: the winner's own literal */
        char a[INET6_ADDRSTRLEN];
        const struct sockaddr *sa = (winner == 0 ? a4 : a6)->ai_addr;
        inet_ntop(sa->sa_family,
                  sa->sa_family == AF_INET ? (void *)&((struct sockaddr_in *)sa)->sin_addr
                                           : (void *)&((struct sockaddr_in6 *)sa)->sin6_addr,
                  a, sizeof a);
        host = strdup(a);
    }
    int rc = talk(fds[winner], count);
    freeaddrinfo(a4);
    freeaddrinfo(a6);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: compat_sock MODE HOST PORT TLS [COUNT [PROMPT]]\n");
        return 2;
    }
    const char *mode = argv[1];
    host = argv[2];
    port = argv[3];
    tls = atoi(argv[4]);
    int count = argc > 5 ? atoi(argv[5]) : 1;
    if (argc > 6)
        prompt = argv[6];

    if (strcmp(mode, "gai_wait") == 0)
        return mode_gai(GAI_WAIT, count);
    if (strcmp(mode, "gai_nowait") == 0)
        return mode_gai(GAI_NOWAIT, count);
    if (strcmp(mode, "race") == 0)
        return mode_race(count);

    struct addrinfo *ai = lookup(AF_UNSPEC, 0);
    if (!ai)
        return 1;
    int fd;
    if (strcmp(mode, "connect") == 0 || strcmp(mode, "keepalive") == 0) {
        fd = blocking_connect(ai);
    } else if (strcmp(mode, "poll") == 0) {
        fd = start_connect(ai);
        if (fd < 0)
            return 1;
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 10000) != 1 || so_error(fd) != 0) {
            fprintf(stderr, "compat_sock: poll connect failed\n");
            return 1;
        }
    } else if (strcmp(mode, "epoll") == 0) {
        fd = start_connect(ai);
        if (fd < 0)
            return 1;
        int ep = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd}, got;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl");
        if (epoll_wait(ep, &got, 1, 10000) != 1 || so_error(fd) != 0) {
            fprintf(stderr, "compat_sock: epoll connect failed\n");
            return 1;
        }
        close(ep);
    } else {
        fprintf(stderr, "compat_sock: unknown mode %s\n", mode);
        return 2;
    }
    freeaddrinfo(ai);
    return talk(fd, count);
}
