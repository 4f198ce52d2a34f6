/* hc_gateway.c — hc-gateway: the in-process gateway's core as a standalone service.
 *
 * DESIGN
 * - Same core, not a second implementation: this program links the core and
 *   common objects (and the shim's host tables) and gives the core the table
 *   the hooks would give it (libc's own functions; no hooks exist here). Every
 *   exchange goes through core/proxy.c exactly as under the preload: Helicone
 *   headers, cache, retries, fallbacks, rate limits, budgets, recorder.
 * - One listener (--listen, loopback by default). Each accepted connection
 *   gets a detached thread that peeks at its first request head:
 *     CONNECT host:port   an HTTPS proxy tunnel. For an LLM host the tunnel
 *                         is handed to hc_gateway_dispatch(): the TLS inside
 *                         is terminated with a leaf from the gateway CA (key in
 *                         memory only; its certificate is written to --ca-file
 *                         for clients to trust) unless its SNI is not an LLM
 *                         host. Any other host is relayed byte for byte: the
 *                         client sees the server's own certificate.
 *     anything else       the base URL: served by the proxy as
 *                         HC_UNIFIED_LOCAL_HOST (unified.h): /v1/… is the one
 *                         OpenAI-compatible endpoint for every model, and
 *                         /<provider>/… that provider's own API.
 * - Access: a non-loopback --listen needs --allow-remote and a token (--token
 *   or HC_GATEWAY_TOKEN); the first request head of every connection must
 *   carry it (Proxy-Authorization: Basic user:TOKEN or Bearer TOKEN, or for
 *   the base URL Authorization/Helicone-Auth: Bearer TOKEN). Compared in
 *   constant time; never logged. Without a token (loopback only), a
 *   connection is served only when it comes from a socket of this same user
 *   (its owner read from /proc/net/tcp{,6}): another local user must not
 *   spend this user's provider keys or write into this user's store.
 * - Web pages: the same-user check passes for the user's own browser, so the
 *   base URL also refuses (403, per request: admit()) a Host that does not
 *   name this gateway (DNS rebinding) and any request with Origin or a
 *   cross-site Sec-Fetch-Site; and the unified endpoint spends the keys from
 *   the environment only on a JSON POST to an inference path (unified.c).
 *   The header that carried the token, and Proxy-Authorization, never go
 *   upstream (private_header()).
 * - Threads: a connection costs a thread from accept on, so what precedes
 *   authentication is bounded: the same-user check comes before any read, the
 *   first head must arrive within HEAD_DEADLINE_MS, and at most MAX_PENDING
 *   connections wait for theirs (more get 503 from the accept loop).
 * - Loops and reach: an upstream proxy naming this gateway is ignored, and a
 *   CONNECT bearing this process's Via mark (proxychain.c) is refused; a
 *   remote peer cannot CONNECT to this host's loopback or link-local.
 * - Shutdown: SIGTERM or SIGINT closes the listener, waits for the open
 *   connections to finish (at most --drain SECONDS), flushes the recorder,
 *   and exits 0.
 * - Logs: one logfmt line per event on stderr (ts, level, event, fields).
 */
#include "buf.h"
#include "core.h"
#include "err.h"
#include "gateway.h"
#include "http.h"
#include "log.h"
#include "redact.h"
#include "proxy.h"
#include "proxychain.h"
#include "record.h"
#include "uuid.h"
#include "relay.h"
#include "thread.h"
#include "tlsca.h"
#include "unified.h"
#include "shim/hosts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD         8192
#define HEAD_DEADLINE_MS 10000 /* a connection's first request head must arrive within this */
#define MAX_PENDING      64    /* connections still waiting for their first head */

const hc_core_api *hc_core_entry(const hc_shim_api *s);

static struct {
    char token[256]; /* "" = no token required (loopback only) */
    int active;      /* connections being served (atomic) */
    int pending;     /* of which still before their first head (atomic) */
    int stop_pipe[2];
    hc_core *core;
    int port;           /* the listening port */
    char hosts[8][300]; /* Host values the base URL answers (admit) */
    int nhosts;
} G;

static void logf_(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(const char *level, const char *event, const char *fmt, ...)
{
    char ts[40];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);
    char rest[1024] = "";
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rest, sizeof rest, fmt, ap);
        va_end(ap);
    }
    fprintf(stderr, "ts=%s level=%s event=%s%s%s\n", ts, level, event, rest[0] ? " " : "", rest);
}

/* ---- the table the hooks would give the core ----------------------------- */

static void no_guard(void)
{
}
static bool is_llm(const char *host)
{
    return hc_hosts_is_llm(host, 0);
}

static const hc_shim_api shim_api = {
    .version = HC_CORE_API_VERSION,
    .connect = connect,
    .getaddrinfo = getaddrinfo,
    .freeaddrinfo = freeaddrinfo,
    .getpeername = getpeername,
    .guard_thread = no_guard,
    .is_llm_host = is_llm,
    .llm_host_patterns = hc_hosts_patterns,
};

/* ---- access -------------------------------------------------------------- */

static bool ct_equal(const char *a, size_t al, const char *b, size_t bl)
{
    unsigned char d = al != bl;
    for (size_t i = 0; i < al && i < bl; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Does the header value carry the token ("Bearer T", or "Basic b64(user:T)")? */
static bool value_has_token(const char *v, size_t n)
{
    size_t tl = strlen(G.token);
    if (n > 7 && strncasecmp(v, "Bearer ", 7) == 0)
        return ct_equal(v + 7, n - 7, G.token, tl);
    if (n > 6 && strncasecmp(v, "Basic ", 6) == 0) {
        char dec[512];
        size_t dl = 0;
        unsigned acc = 0;
        int bits = 0;
        for (size_t i = 6; i < n && dl < sizeof dec - 1; i++) {
            int x = b64val((unsigned char)v[i]);
            if (x < 0)
                continue;
            acc = (acc << 6) | (unsigned)x;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                dec[dl++] = (char)((acc >> bits) & 0xff);
            }
        }
        const char *colon = memchr(dec, ':', dl);
        bool ok = colon && ct_equal(colon + 1, dl - (size_t)(colon + 1 - dec), G.token, tl);
        memset(dec, 0, sizeof dec);
        return ok;
    }
    return false;
}

static bool authorized(const hc_http_head *h)
{
    if (!G.token[0])
        return true;
    static const char *const names[] = { "proxy-authorization", "authorization", "helicone-auth" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        for (size_t i = 0; i < h->nheaders; i++) {
            const hc_header *x = &h->headers[i];
            if (hc_span_ieq(x->name, x->name_len, names[k]) &&
                value_has_token(x->value, x->value_len))
                return true;
        }
    return false;
}

/* ---- base URL requests: who may send them ------------------------------------ */

/* Remember one Host value the base URL answers to (NAME → NAME:PORT). */
static void add_host(const char *name)
{
    if (G.nhosts < (int)(sizeof G.hosts / sizeof G.hosts[0]) && name[0])
        snprintf(G.hosts[G.nhosts++], sizeof G.hosts[0], "%s:%d", name, G.port);
}

/* Does the Host value name this gateway (a known name, or the address the
 * connection arrived on)? Port 80 may be left out, as browsers do. */
static bool host_ok(int fd, const char *v, size_t n)
{
    char want[300];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int extra = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char ip[64] = "";
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
        snprintf(want, sizeof want, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, G.port);
        extra = ip[0] != 0;
    }
    for (int i = -extra; i < G.nhosts; i++) {
        const char *h = i < 0 ? want : G.hosts[i];
        size_t hl = strlen(h);
        if (n == hl && strncasecmp(v, h, n) == 0)
            return true;
        if (G.port == 80 && n == hl - 3 && strncasecmp(v, h, n) == 0)
            return true; /* "NAME" for "NAME:80" */
    }
    return false;
}

/* core->admit: the base URL is for programs, never for a web page. A page can
 * reach 127.0.0.1 from the user's own browser (so the same-user check passes):
 * by DNS rebinding (its own name now resolves here: Host says so) or by a
 * cross-origin request (the browser adds Origin or Sec-Fetch-Site). */
static const char *admit(int fd, const hc_http_head *req)
{
    const hc_header *h = hc_http_header(req, "host");
    if (!h || !host_ok(fd, h->value, h->value_len))
        return "the Host header does not name this gateway (localhost:PORT, 127.0.0.1:PORT, "
               "[::1]:PORT, its address "
               "or a --server-name)";
    if (hc_http_header(req, "origin"))
        return "requests from web pages (with an Origin header) are not served";
    const hc_header *sf = hc_http_header(req, "sec-fetch-site");
    if (sf && !hc_span_ieq(sf->value, sf->value_len, "none") &&
        !hc_span_ieq(sf->value, sf->value_len, "same-origin"))
        return "requests from web pages (Sec-Fetch-Site) are not served";
    return NULL;
}

/* core->private_header: what carried the token (or any proxy credential) is
 * the gateway's, never the provider's. */
static bool private_header(const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (hc_span_ieq(name, nlen, "proxy-authorization"))
        return true;
    return G.token[0] &&
           (hc_span_ieq(name, nlen, "authorization") || hc_span_ieq(name, nlen, "helicone-auth")) &&
           value_has_token(value, vlen);
}

/* ---- same user ---------------------------------------------------------------- */

/* The /proc/net/tcp{,6} spelling of an address: the kernel prints each 32-bit
 * word of the address as it lies in memory, read as a native integer. */
static void proc_addr(const struct sockaddr_storage *a, bool v6file, char *out, size_t size)
{
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)a;
        if (v6file) /* an IPv4 peer on a dual-stack socket is v4-mapped */
            snprintf(out, size, "0000000000000000FFFF0000%08X:%04X", (unsigned)s4->sin_addr.s_addr,
                     ntohs(s4->sin_port));
        else
            snprintf(out, size, "%08X:%04X", (unsigned)s4->sin_addr.s_addr, ntohs(s4->sin_port));
    } else {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
        uint32_t w[4];
        memcpy(w, &s6->sin6_addr, 16);
        snprintf(out, size, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3], ntohs(s6->sin6_port));
    }
}

/* uid owning the local end of the TCP connection peer -> us, or -1. */
static long peer_uid(int fd)
{
    struct sockaddr_storage peer, self;
    socklen_t pl = sizeof peer, sl = sizeof self;
    if (getpeername(fd, (struct sockaddr *)&peer, &pl) != 0 ||
        getsockname(fd, (struct sockaddr *)&self, &sl) != 0)
        return -1;
    static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
    for (int k = 0; k < 2; k++) {
        if (peer.ss_family == AF_INET6 && k == 0)
            continue;
        char want_local[64], want_rem[64], line[512];
        proc_addr(&peer, k == 1, want_local, sizeof want_local);
        proc_addr(&self, k == 1, want_rem, sizeof want_rem);
        FILE *f = fopen(files[k], "r");
        if (!f)
            continue;
        long uid = -1;
        while (uid < 0 && fgets(line, sizeof line, f)) {
            char loc[64], rem[64];
            unsigned long u;
            if (sscanf(line, " %*s %63s %63s %*s %*s %*s %*s %lu", loc, rem, &u) == 3 &&
                strcasecmp(loc, want_local) == 0 && strcasecmp(rem, want_rem) == 0)
                uid = (long)u;
        }
        fclose(f);
        if (uid >= 0)
            return uid;
    }
    return -1;
}

/* ---- one connection ---------------------------------------------------------- */

static void answer(int fd, int status, const char *reason, const char *extra)
{
    char b[512];
    int n =
        snprintf(b, sizeof b, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n%s\r\n",
                 status, reason, extra ? extra : "");
    (void)!write(fd, b, (size_t)n);
}

/* Close after an early answer without a reset: the client's request bytes
 * still coming in are read and dropped for a moment (bounded), so the answer
 * is not lost to an RST. */
static void linger_close(int fd)
{
    shutdown(fd, SHUT_WR);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char sink[4096];
    for (int i = 0; i < 10 && poll(&p, 1, 50) > 0; i++)
        if (recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
            break;
    close(fd);
}

/* Peek the first request head (not consumed). Its length, or 0 / < 0. Every
 * wait is bounded: the whole head must arrive within HEAD_DEADLINE_MS, so an
 * idle or trickling connection cannot keep its thread. */
static int peek_head(int fd, char *buf, size_t size, hc_http_head *h)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t have = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = HEAD_DEADLINE_MS -
                    ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        ssize_t n = recv(fd, buf, size - 1, MSG_PEEK | MSG_DONTWAIT);
        if (n <= 0)
            return -1;
        buf[n] = '\0';
        int r = hc_http_parse_request(buf, (size_t)n, h);
        if (r > 0)
            return r;
        if (r != HC_PARTIAL || (size_t)n >= size - 1)
            return -1;
        /* the bytes we have are still readable: poll returns at once; wait for more */
        if ((size_t)n == have)
            usleep(5000);
        have = (size_t)n;
    }
}

static int fill_origin(const char *host, int port, hc_origin *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "%s", host);
    o->port = port;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char ps[8];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return -1;
    memcpy(&o->dst, res->ai_addr, res->ai_addrlen);
    o->dstlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Loopback, link-local or unspecified: the gateway host's own services. */
static bool local_only_addr(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET) {
        uint32_t v = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
        return (v >> 24) == 127 || (v >> 16) == 0xa9fe || v == 0;
    }
    if (a->ss_family == AF_INET6) {
        const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(x)) {
            uint32_t v = ((uint32_t)x->s6_addr[12] << 24) | ((uint32_t)x->s6_addr[13] << 16);
            return (v >> 24) == 127 || (v >> 16) == 0xa9fe ||
                   (v == 0 && !x->s6_addr[14] && !x->s6_addr[15]);
        }
        return IN6_IS_ADDR_LOOPBACK(x) || IN6_IS_ADDR_LINKLOCAL(x) || IN6_IS_ADDR_UNSPECIFIED(x);
    }
    return false;
}

/* Did this CONNECT already pass through this process (Via: 1.1 hcshim-PID,
 * proxychain.c)? Then an upstream proxy leads back here: a loop. */
static bool looped(const hc_http_head *h)
{
    char mark[40];
    int ml = snprintf(mark, sizeof mark, "hcshim-%ld", (long)getpid());
    for (size_t i = 0; i < h->nheaders; i++) {
        const hc_header *x = &h->headers[i];
        if (!hc_span_ieq(x->name, x->name_len, "via"))
            continue;
        for (size_t k = 0; k + (size_t)ml <= x->value_len; k++)
            if (memcmp(x->value + k, mark, (size_t)ml) == 0 &&
                (k + (size_t)ml == x->value_len ||
                 !isdigit((unsigned char)x->value[k + (size_t)ml])))
                return true;
    }
    return false;
}

static void serve_connect(int fd, const hc_http_head *h, int hlen, const char *peer,
                          bool peer_loopback)
{
    if (looped(h)) {
        logf_("warn", "loop",
              "peer=%s msg=\"this CONNECT came back through the upstream proxy: refused\"", peer);
        answer(fd, 508, "Loop Detected", NULL);
        close(fd);
        return;
    }
    char hostport[300], host[256];
    snprintf(hostport, sizeof hostport, "%.*s", (int)h->target_len, h->target);
    int port = 443;
    char *colon = strrchr(hostport, ':');
    if (hostport[0] == '[') {
        char *rb = strchr(hostport, ']');
        if (!rb) {
            answer(fd, 400, "Bad Request", NULL);
            close(fd);
            return;
        }
        snprintf(host, sizeof host, "%.*s", (int)(rb - hostport - 1), hostport + 1);
        if (rb[1] == ':')
            port = atoi(rb + 2);
    } else {
        snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - hostport) : (int)strlen(hostport),
                 hostport);
        if (colon)
            port = atoi(colon + 1);
    }
    char sink[MAX_HEAD];
    if (recv(fd, sink, (size_t)hlen, 0) != hlen || port <= 0 || port > 65535 || !host[0]) {
        answer(fd, 400, "Bad Request", NULL);
        close(fd);
        return;
    }
    bool llm = hc_hosts_is_llm(host, port);
    bool routed = hc_config_route(&G.core->cfg, host) != NULL || hc_unified_is_host(host);
    const hc_config *ccfg = &G.core->cfg;
    bool via_proxy = ccfg->upstream_proxy[0] && !hc_proxy_bypass(ccfg, host, port);
    hc_origin o;
    if (fill_origin(host, port, &o) != 0 && !(llm && routed) && !via_proxy) {
        logf_("warn", "connect", "peer=%s target=%s:%d error=\"cannot resolve\"", peer, host, port);
        answer(fd, 502, "Bad Gateway", NULL);
        close(fd);
        return;
    }
    if (!peer_loopback && !routed && o.dstlen && local_only_addr(&o.dst)) {
        /* A remote token holder must not reach this host's loopback services. */
        logf_("warn", "denied",
              "peer=%s target=%s:%d reason=\"loopback or link-local target from a remote peer\"",
              peer, host, port);
        answer(fd, 403, "Forbidden", NULL);
        close(fd);
        return;
    }
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (write(fd, ok, sizeof ok - 1) != (ssize_t)(sizeof ok - 1)) {
        close(fd);
        return;
    }
    const hc_config *cfg = &G.core->cfg;
    bool chained = !llm && cfg->upstream_proxy[0] && !hc_proxy_bypass(cfg, host, port);
    logf_("info", "connect", "peer=%s target=%s:%d mode=%s", peer, host, port,
          llm       ? "gateway"
          : chained ? "tunnel_via_upstream_proxy"
                    : "tunnel");
    if (llm) {
        hc_gateway_dispatch(G.core, fd, &o); /* terminates TLS for LLM names only */
    } else if (chained) {
        hc_proxy_url px;
        char err[300] = "HC_UPSTREAM_PROXY is not http://[USER:PASS@]HOST[:PORT]";
        int ufd = hc_proxy_url_parse(cfg->upstream_proxy, &px) == 0
                      ? hc_proxychain_connect(G.core, &px, host, port, cfg->connect_timeout_ms, fd,
                                              err, sizeof err)
                      : -1;
        if (ufd < 0) {
            logf_("warn", "tunnel_failed", "target=%s:%d error=\"%s\"", host, port, err);
            close(fd); /* the 200 went out already: closing is the only way to say it */
            return;
        }
        hc_relay_fds(fd, ufd);
    } else {
        hc_relay(G.core, fd, &o);
    }
}

/* For a logfmt value in quotes: no quote, no control character (log injection). */
static void sanitize(char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            *s = '\'';
        else if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

struct conn_arg {
    int fd;
    bool peer_loopback;
    char peer[64];
};

static void *conn_main(void *arg)
{
    struct conn_arg ca = *(struct conn_arg *)arg;
    free(arg);
    char buf[MAX_HEAD];
    hc_http_head h;
    /* The user first, before any read: another local user's connection is
     * answered and closed at once, never left waiting for its head. */
    long uid = G.token[0] ? -2 : peer_uid(ca.fd);
    int hlen = !G.token[0] && uid != (long)getuid() ? -1 : peek_head(ca.fd, buf, sizeof buf, &h);
    __atomic_sub_fetch(&G.pending, 1, __ATOMIC_ACQ_REL);
    if (!G.token[0] && uid != (long)getuid()) {
        logf_("warn", "denied", "peer=%s reason=\"%s\"", ca.peer,
              uid < 0 ? "cannot tell which user the connection belongs to"
                      : "another local user (give a --token to share)");
        answer(ca.fd, 403, "Forbidden", NULL);
        linger_close(ca.fd);
    } else if (hlen <= 0) {
        close(ca.fd);
    } else if (!authorized(&h)) {
        logf_("warn", "denied", "peer=%s reason=\"no valid token\"", ca.peer);
        answer(ca.fd, hc_span_ieq(h.method, h.method_len, "CONNECT") ? 407 : 401,
               hc_span_ieq(h.method, h.method_len, "CONNECT") ? "Proxy Authentication Required"
                                                              : "Unauthorized",
               "Proxy-Authenticate: Basic realm=\"hc-gateway\"\r\n");
        linger_close(ca.fd);
    } else if (hc_span_ieq(h.method, h.method_len, "CONNECT")) {
        serve_connect(ca.fd, &h, hlen, ca.peer, ca.peer_loopback);
    } else if (h.target_len && h.target[0] == '/') {
        char raw[1024], shown[1024];
        snprintf(raw, sizeof raw, "%.*s",
                 (int)(h.target_len >= sizeof raw ? sizeof raw - 1 : h.target_len), h.target);
        hc_url_redact(shown, sizeof shown, raw); /* ?key=AIza… (Gemini) is a credential */
        sanitize(shown);
        logf_("info", "base_url", "peer=%s first=\"%.*s %.200s\"", ca.peer,
              (int)(h.method_len > 16 ? 16 : h.method_len), h.method, shown);
        hc_origin o;
        memset(&o, 0, sizeof o);
        snprintf(o.host, sizeof o.host, "%s", HC_UNIFIED_LOCAL_HOST);
        hc_io io;
        hc_io_init(&io, ca.fd, NULL, G.core->cfg.connect_timeout_ms);
        hc_proxy_serve(G.core, &io, &o, HC_UNIFIED_LOCAL_HOST, false);
        hc_io_close(&io);
    } else {
        logf_("warn", "refused",
              "peer=%s reason=\"absolute-form request; use CONNECT or the base URL\"", ca.peer);
        answer(ca.fd, 501, "Not Implemented", NULL);
        close(ca.fd);
    }
    __atomic_sub_fetch(&G.active, 1, __ATOMIC_ACQ_REL);
    return NULL;
}

/* One line per finished exchange (what the record holds; never a header or a body). */
static void log_exchange(const hc_record *r)
{
    char id[HC_UUID_STRLEN + 1], err[200] = "";
    hc_uuid_format(r->id, id);
    if (r->error)
        snprintf(err, sizeof err, "%s", r->error);
    sanitize(err);
    char model[101];
    snprintf(model, sizeof model, "%s",
             r->model_resp && r->model_resp[0] ? r->model_resp
             : r->model_req                    ? r->model_req
                                               : "");
    sanitize(model); /* from the request body or the answer: the app's or the provider's text */
    logf_(r->status >= 500 || err[0] ? "warn" : "info", "exchange",
          "id=%s host=%s provider=%s model=\"%s\" status=%d in=%lld out=%lld cost_usd=%.6f "
          "latency_ms=%.1f%s%s%s",
          id, r->host ? r->host : "", r->provider ? r->provider : "", model, r->status,
          (long long)r->tok_in, (long long)r->tok_out, (double)r->cost_nusd / 1e9,
          (double)r->latency_us / 1000.0, err[0] ? " error=\"" : "", err, err[0] ? "\"" : "");
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs(
        "usage: hc-gateway [--listen ADDR] [--ca-file PATH] [--ready-file PATH] [--db DIR]\n"
        "                  [--allow-remote --token TOKEN [--server-name NAME]] [--drain SECONDS]\n"
        "\n"
        "The hcshim gateway as a service: a base URL for every model and an HTTPS proxy.\n"
        "\n"
        "  --listen ADDR      HOST:PORT to listen on (default 127.0.0.1:8787; port 0 picks one)\n"
        "  --allow-remote     allow a non-loopback ADDR (requires a token)\n"
        "  --token TOKEN      require TOKEN on every connection (also HC_GATEWAY_TOKEN): "
        "Proxy-Authorization\n"
        "                     Basic user:TOKEN or Bearer TOKEN; for the base URL, Authorization: "
        "Bearer TOKEN\n"
        "  --ca-file PATH     write the gateway CA certificate here (default: a new file in\n"
        "                     $XDG_RUNTIME_DIR, else $TMPDIR, else /tmp; removed at exit)\n"
        "  --ready-file PATH  once listening, write \"listen=ADDR ca=PATH pid=PID\" here\n"
        "  --db DIR           the store (HC_DB)\n"
        "  --drain SECONDS    on SIGTERM, wait this long for open connections (default 30)\n"
        "  --server-name N[,N]  names clients use for this host in the base URL (a non-loopback\n"
        "                     ADDR); the base URL answers only Host: localhost, 127.0.0.1, [::1],\n"
        "                     the address the client reached, and these, with the port\n"
        "  -h, --help         this help\n"
        "\n"
        "Serves on ADDR:\n"
        "  http://ADDR/v1/...           one OpenAI-compatible endpoint for every model "
        "(OPENAI_BASE_URL);\n"
        "                               MODEL, MODEL/PROVIDER or a list, keys from OPENAI_API_KEY, "
        "...\n"
        "  http://ADDR/<provider>/...   that provider's own API "
        "(ANTHROPIC_BASE_URL=http://ADDR/anthropic)\n"
        "  CONNECT host:443             HTTPS proxy (HTTPS_PROXY=http://ADDR): TLS to LLM hosts "
        "is\n"
        "                               terminated with the CA in --ca-file; other hosts are "
        "tunnelled\n"
        "Every HC_* variable of the shim applies (HC_ROUTE, HC_CACHE, HC_BUDGET, ...).\n",
        f);
}

static void on_signal(int sig)
{
    char c = (char)sig;
    (void)!write(G.stop_pipe[1], &c, 1);
}

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *loopback)
{
    char host[256];
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - s), s);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strlen(h) - 1] = '\0';
    }
    if (!h[0])
        h = "127.0.0.1";
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (strcmp(h, "localhost") == 0)
        h = "127.0.0.1";
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        *loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        *loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    } else {
        return -1;
    }
    return 0;
}

static int write_ca(const char *want, char *path, size_t size)
{
    int fd;
    if (want && *want) {
        snprintf(path, size, "%s", want);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    } else {
        const char *dir = getenv("XDG_RUNTIME_DIR");
        if (!dir || !*dir)
            dir = getenv("TMPDIR");
        if (!dir || !*dir)
            dir = "/tmp";
        snprintf(path, size, "%s/hc-gateway-ca-XXXXXX.pem", dir);
        fd = mkstemps(path, 4);
        if (fd >= 0)
            fchmod(fd, 0644); /* a certificate: public; readable by the user's other tools */
    }
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f || PEM_write_X509(f, hc_ca_cert(G.core->ca)) != 1) {
        if (f)
            fclose(f);
        else
            close(fd);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *listen_s = "127.0.0.1:8787", *ca_want = NULL, *ready = NULL, *server_names = "";
    bool allow_remote = false;
    int drain = 30;
    const char *tok = getenv("HC_GATEWAY_TOKEN");
    static const struct option opts[] = {
        { "listen", required_argument, 0, 'l' },      { "ca-file", required_argument, 0, 'c' },
        { "ready-file", required_argument, 0, 'r' },  { "db", required_argument, 0, 'd' },
        { "allow-remote", no_argument, 0, 'a' },      { "token", required_argument, 0, 't' },
        { "drain", required_argument, 0, 'D' },       { "help", no_argument, 0, 'h' },
        { "server-name", required_argument, 0, 'S' }, { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': listen_s = optarg; break;
        case 'c': ca_want = optarg; break;
        case 'r': ready = optarg; break;
        case 'd': setenv("HC_DB", optarg, 1); break;
        case 'a': allow_remote = true; break;
        case 't': tok = optarg; break;
        case 'S': server_names = optarg; break;
        case 'D': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 0 || v > 3600) {
                fprintf(stderr, "hc-gateway: --drain: expected seconds from 0 to 3600, got '%s'\n",
                        optarg);
                return 2;
            }
            drain = (int)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hc-gateway: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    bool loopback;
    if (parse_listen(listen_s, &ss, &sl, &loopback) != 0) {
        fprintf(stderr,
                "hc-gateway: --listen: expected HOST:PORT with an IP address (127.0.0.1:8787, "
                "[::1]:0), got '%s'\n",
                listen_s);
        return 2;
    }
    if (tok && *tok) {
        if (strlen(tok) >= sizeof G.token) {
            fprintf(stderr, "hc-gateway: --token: longer than %zu characters\n",
                    sizeof G.token - 1);
            return 2;
        }
        snprintf(G.token, sizeof G.token, "%s", tok);
    }
    if (!loopback && !allow_remote) {
        fprintf(stderr,
                "hc-gateway: --listen %s is not a loopback address: add --allow-remote (and a "
                "--token)\n",
                listen_s);
        return 2;
    }
    if (!loopback && !G.token[0]) {
        fprintf(stderr, "hc-gateway: --allow-remote needs a token (--token or HC_GATEWAY_TOKEN)\n");
        return 2;
    }
    if (!getenv("HC_UPSTREAM_PROXY")) {
        /* The proxy this process was started under is the way out: chain to it. */
        static const char *const vars[] = { "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                                            "all_proxy" };
        for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
            if (getenv(vars[i]) && *getenv(vars[i])) {
                setenv("HC_UPSTREAM_PROXY", getenv(vars[i]), 1);
                break;
            }
    }
    if (getenv("HC_MODE") && strcmp(getenv("HC_MODE"), "gateway") != 0)
        unsetenv("HC_MODE"); /* observe/off mean nothing here: this process is the gateway */
    signal(SIGPIPE, SIG_IGN);

    if (!hc_core_entry(&shim_api) || !(G.core = hc_core_start()) || !G.core->ca) {
        logf_("error", "start", "msg=\"the gateway core cannot start (see the line above)\"");
        return 1;
    }
    G.core->on_record = log_exchange;
    G.core->admit = admit;
    G.core->private_header = private_header;
    int lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, sl) != 0 || listen(lfd, 512) != 0) {
        logf_("error", "listen", "addr=%s error=\"%s\"", listen_s, strerror(errno));
        return 1;
    }
    sl = sizeof ss;
    getsockname(lfd, (struct sockaddr *)&ss, &sl);
    char addr[80], ip[64];
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
        snprintf(addr, sizeof addr, "%s:%u", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    } else {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
        snprintf(addr, sizeof addr, "[%s]:%u", ip, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    }
    G.port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                     : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    add_host("localhost");
    add_host("127.0.0.1");
    add_host("[::1]");
    for (const char *n = server_names; *n;) {
        size_t l = strcspn(n, ",");
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(l < sizeof name ? l : sizeof name - 1), n);
        add_host(name);
        n += l;
        n += strspn(n, ",");
    }
    char ca[4096];
    if (write_ca(ca_want, ca, sizeof ca) != 0) {
        logf_("error", "ca_file", "path=%s error=\"cannot write the CA certificate\"",
              ca_want ? ca_want : ca);
        return 1;
    }
    if (pipe2(G.stop_pipe, O_CLOEXEC) != 0)
        return 1;
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    hc_proxy_url upx;
    bool have_up =
        G.core->cfg.upstream_proxy[0] && hc_proxy_url_parse(G.core->cfg.upstream_proxy, &upx) == 0;
    if (G.core->cfg.upstream_proxy[0] && !have_up) {
        logf_("error", "upstream_proxy",
              "msg=\"HC_UPSTREAM_PROXY/HTTPS_PROXY: expected http://[USER:PASS@]HOST[:PORT]\"");
        return 2;
    }
    if (have_up) {
        /* An HTTPS_PROXY naming this gateway (the documented export, left in
         * the shell that starts it) would send every tunnel back here. */
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
        char ps[8];
        snprintf(ps, sizeof ps, "%d", upx.port);
        bool self = false;
        if (getaddrinfo(upx.host, ps, &hints, &res) == 0) {
            for (struct addrinfo *ai = res; ai && !self; ai = ai->ai_next) {
                struct sockaddr_storage pr;
                memset(&pr, 0, sizeof pr);
                memcpy(&pr, ai->ai_addr, ai->ai_addrlen < sizeof pr ? ai->ai_addrlen : sizeof pr);
                bool same = pr.ss_family == ss.ss_family &&
                            (pr.ss_family == AF_INET
                                 ? ((struct sockaddr_in *)&pr)->sin_addr.s_addr ==
                                       ((struct sockaddr_in *)&ss)->sin_addr.s_addr
                                 : memcmp(&((struct sockaddr_in6 *)&pr)->sin6_addr,
                                          &((struct sockaddr_in6 *)&ss)->sin6_addr, 16) == 0);
                /* this port, and our address (or this host's loopback when we listen there or
                 * everywhere) */
                self = upx.port == G.port &&
                       (same || (local_only_addr(&pr) && (loopback || local_only_addr(&ss))));
            }
            freeaddrinfo(res);
        }
        if (self) {
            logf_("warn", "upstream_proxy",
                  "proxy=%s:%d msg=\"the upstream proxy (HTTPS_PROXY/HC_UPSTREAM_PROXY) is this "
                  "gateway itself: ignored, connecting directly\"",
                  upx.host, upx.port);
            G.core->cfg.upstream_proxy[0] = '\0';
            have_up = false;
        }
    }
    char upstr[300] = "none";
    if (have_up)
        snprintf(upstr, sizeof upstr, "%s:%d", upx.host, upx.port);
    logf_("info", "listening", "addr=%s ca=%s store=%s token=%s upstream_proxy=%s pid=%d", addr, ca,
          G.core->cfg.db_path, G.token[0] ? "required" : "none", upstr, (int)getpid());
    if (ready) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", ready);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "listen=%s ca=%s pid=%d\n", addr, ca, (int)getpid()) < 0 ||
            fclose(f) != 0 || rename(tmp, ready) != 0) {
            logf_("error", "ready_file", "path=%s error=\"%s\"", ready, strerror(errno));
            return 1;
        }
    }

    for (;;) {
        struct pollfd p[2] = { { .fd = lfd, .events = POLLIN },
                               { .fd = G.stop_pipe[0], .events = POLLIN } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        int fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        if (__atomic_load_n(&G.pending, __ATOMIC_ACQUIRE) >= MAX_PENDING) {
            /* Connections that have not sent their head yet hold threads: a cap. */
            logf_("warn", "busy",
                  "pending=%d msg=\"too many connections waiting for their first request\"",
                  MAX_PENDING);
            answer(fd, 503, "Service Unavailable", NULL);
            close(fd); /* not lingering: the accept loop must not wait */
            continue;
        }
        struct conn_arg *a = malloc(sizeof *a);
        if (!a) {
            close(fd);
            continue;
        }
        a->fd = fd;
        a->peer_loopback = local_only_addr(&peer);
        char pip[64] = "?";
        if (peer.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, pip, sizeof pip);
        else if (peer.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, pip, sizeof pip);
        snprintf(a->peer, sizeof a->peer, "%s", pip);
        __atomic_add_fetch(&G.active, 1, __ATOMIC_ACQ_REL);
        __atomic_add_fetch(&G.pending, 1, __ATOMIC_ACQ_REL);
        if (hc_thread_spawn(conn_main, a) != 0) {
            __atomic_sub_fetch(&G.active, 1, __ATOMIC_ACQ_REL);
            __atomic_sub_fetch(&G.pending, 1, __ATOMIC_ACQ_REL);
            close(fd);
            free(a);
        }
    }
    close(lfd);
    int n = __atomic_load_n(&G.active, __ATOMIC_ACQUIRE);
    logf_("info", "draining", "open_connections=%d max_wait_s=%d", n, drain);
    for (int waited = 0; __atomic_load_n(&G.active, __ATOMIC_ACQUIRE) > 0 && waited < drain * 100;
         waited++)
        usleep(10000);
    n = __atomic_load_n(&G.active, __ATOMIC_ACQUIRE);
    const hc_core_api *api = hc_core_entry(&shim_api);
    if (api)
        api->flush(5000);
    if (!ca_want)
        unlink(ca);
    logf_("info", "stopped", "abandoned_connections=%d", n);
    fflush(stderr);
    _exit(0);
}
