/* proxychain.c — see proxychain.h. */
#include "proxychain.h"
#include "buf.h"
#include "err.h"
#include "io.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void base64(const unsigned char *in, size_t n, char *out, size_t size)
{
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t j = 0;
    for (size_t i = 0; i < n && j + 5 < size; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[j++] = tb[(v >> 18) & 63];
        out[j++] = tb[(v >> 12) & 63];
        out[j++] = i + 1 < n ? tb[(v >> 6) & 63] : '=';
        out[j++] = i + 2 < n ? tb[v & 63] : '=';
    }
    out[j] = '\0';
}

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Percent-decode s[0..n) into out. */
static size_t pct_decode(const char *s, size_t n, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < size; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            out[j++] =
                (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return j;
}

int hc_proxy_url_parse(const char *url, hc_proxy_url *out)
{
    memset(out, 0, sizeof *out);
    if (!url || !*url)
        return HC_EINVAL;
    const char *s = url;
    if (strncasecmp(s, "http://", 7) == 0)
        s += 7;
    else if (strstr(s, "://"))
        return HC_EINVAL;
    size_t len = strcspn(s, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '@')
            at = s + i;
    if (at) {
        char cred[512];
        size_t cl = pct_decode(s, (size_t)(at - s), cred, sizeof cred);
        char b64[600];
        base64((const unsigned char *)cred, cl, b64, sizeof b64);
        snprintf(out->auth, sizeof out->auth, "Basic %s", b64);
        memset(cred, 0, sizeof cred);
        len -= (size_t)(at + 1 - s);
        s = at + 1;
    }
    const char *hs = s, *he;
    const char *port = NULL;
    if (*hs == '[') {
        he = memchr(hs, ']', len);
        if (!he)
            return HC_EINVAL;
        hs++;
        if (he + 1 < s + len && he[1] == ':')
            port = he + 2;
    } else {
        he = memchr(hs, ':', len);
        if (he)
            port = he + 1;
        else
            he = s + len;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof out->host)
        return HC_EINVAL;
    memcpy(out->host, hs, (size_t)(he - hs));
    out->port = 80;
    if (port) {
        char *end;
        long p = strtol(port, &end, 10);
        if (end != s + len || p < 1 || p > 65535)
            return HC_EINVAL;
        out->port = (int)p;
    }
    return 0;
}

/* Is IP literal `host` inside CIDR "addr/bits"? */
static bool cidr_match(const char *cidr, size_t n, const char *host)
{
    char a[64];
    if (n >= sizeof a)
        return false;
    memcpy(a, cidr, n);
    a[n] = '\0';
    char *slash = strchr(a, '/');
    *slash = '\0';
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    unsigned char net[16], ip[16];
    int len;
    if (inet_pton(AF_INET, a, net) == 1 && inet_pton(AF_INET, host, ip) == 1)
        len = 4;
    else if (inet_pton(AF_INET6, a, net) == 1 && inet_pton(AF_INET6, host, ip) == 1)
        len = 16;
    else
        return false;
    if (*end || end == slash + 1 || bits < 0 || bits > len * 8)
        return false;
    for (long i = 0; i < bits; i++)
        if (((net[i / 8] ^ ip[i / 8]) >> (7 - i % 8)) & 1)
            return false;
    return true;
}

bool hc_no_proxy_match_port(const char *list, const char *host, int port)
{
    size_t hl = strlen(host);
    while (list && *list) {
        size_t n = strcspn(list, ", ");
        const char *e = list;
        size_t el = n;
        list += n;
        list += strspn(list, ", ");
        if (el == 1 && e[0] == '*')
            return true;
        if (memchr(e, '/', el)) { /* 10.0.0.0/8, fd00::/8 */
            if (cidr_match(e, el, host))
                return true;
            continue;
        }
        /* host:port and [v6]:port name one port; a bare v6 literal has many colons */
        const char *colon = NULL;
        if (el && e[0] == '[') {
            const char *rb = memchr(e, ']', el);
            if (!rb)
                continue;
            colon = (size_t)(rb + 1 - e) < el && rb[1] == ':' ? rb + 1 : NULL;
            size_t inner = (size_t)(rb - e - 1);
            if (colon && (port == 0 || atoi(colon + 1) != port))
                continue;
            e++;
            el = inner;
        } else {
            const char *c1 = memchr(e, ':', el);
            if (c1 && !memchr(c1 + 1, ':', el - (size_t)(c1 + 1 - e))) {
                if (port == 0 || atoi(c1 + 1) != port)
                    continue;
                el = (size_t)(c1 - e);
            }
        }
        if (el && e[0] == '.') {
            e++;
            el--;
        }
        if (el && (hl == el ? strncasecmp(host, e, el) == 0
                            : hl > el && host[hl - el - 1] == '.' &&
                                  strncasecmp(host + hl - el, e, el) == 0))
            return true;
    }
    return false;
}

bool hc_no_proxy_match(const char *list, const char *host)
{
    return hc_no_proxy_match_port(list, host, 0);
}

bool hc_proxy_bypass(const hc_config *cfg, const char *host, int port)
{
    unsigned char a[16];
    if (strcasecmp(host, "localhost") == 0 ||
        (strlen(host) > 10 && strcasecmp(host + strlen(host) - 10, ".localhost") == 0))
        return true;
    if (inet_pton(AF_INET, host, a) == 1 && a[0] == 127)
        return true;
    if (inet_pton(AF_INET6, host, a) == 1 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0)
        return true;
    for (int i = 0; i < cfg->nroutes; i++)
        if (strcasecmp(cfg->routes[i].target, host) == 0 && cfg->routes[i].port == port)
            return true; /* an HC_ROUTE target: the user named it, it is reached directly */
    return hc_no_proxy_match_port(cfg->no_proxy, host, port);
}

int hc_proxychain_connect(hc_core *core, const hc_proxy_url *p, const char *host, int port,
                          int timeout_ms, int cancel_fd, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char ps[8];
    snprintf(ps, sizeof ps, "%d", p->port);
    if (core->shim->getaddrinfo(p->host, ps, &hints, &res) != 0 || !res) {
        snprintf(err, errlen, "cannot resolve the upstream proxy %s", p->host);
        return HC_ECONNECT;
    }
    int fd = HC_ECONNECT;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = hc_io_connect(ai->ai_addr, ai->ai_addrlen, timeout_ms, cancel_fd);
        if (fd >= 0 || fd == HC_ECANCELED)
            break;
    }
    core->shim->freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to the upstream proxy %s:%d", p->host, p->port);
        return fd;
    }
    bool v6 = strchr(host, ':') != NULL;
    hc_buf req = HC_BUF_INIT;
    hc_buf_printf(&req,
                  v6 ? "CONNECT [%s]:%d HTTP/1.1\r\nHost: [%s]:%d\r\n"
                     : "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n",
                  host, port, host, port);
    if (p->auth[0])
        hc_buf_printf(&req, "Proxy-Authorization: %s\r\n", p->auth);
    /* A loop marker: hc-gateway refuses a CONNECT that already passed through
     * its own process (an HTTPS_PROXY pointing back at it). */
    hc_buf_printf(&req, "Via: 1.1 hcshim-%ld\r\n\r\n", (long)getpid());
    hc_io io;
    hc_io_init(&io, fd, NULL, timeout_ms);
    io.cancel_fd = cancel_fd;
    int rc = hc_io_write_buf(&io, &req);
    if (req.data)
        memset(req.data, 0, req.len); /* it may hold the proxy's credentials */
    hc_buf_free(&req);
    /* Read the answer head byte by byte: nothing after it may be consumed. */
    char head[4096];
    size_t n = 0;
    while (rc == 0 && n < sizeof head - 1) {
        long r = hc_io_read(&io, head + n, 1);
        if (r <= 0) {
            rc = r == HC_ETIMEDOUT || r == HC_ECANCELED ? (int)r : HC_ECONNECT;
            break;
        }
        n++;
        if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    head[n] = '\0';
    if (rc == 0 &&
        !(n >= 12 && strncmp(head, "HTTP/1.", 7) == 0 && strncmp(head + 9, "200", 3) == 0)) {
        size_t l = strcspn(head, "\r\n");
        snprintf(err, errlen, "the upstream proxy %s:%d refused CONNECT %s:%d: %.*s", p->host,
                 p->port, host, port, (int)(l > 100 ? 100 : l), head);
        rc = HC_ECONNECT;
    } else if (rc != 0) {
        snprintf(err, errlen, "the upstream proxy %s:%d did not answer CONNECT %s:%d", p->host,
                 p->port, host, port);
    }
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}
