#include "upstream.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECENT_US 1000000

SSL_CTX *hc_upstream_ctx_new(const hc_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* Honours SSL_CERT_FILE and SSL_CERT_DIR, like the app's OpenSSL would. */
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
        hc_log_debug("no default trust store found");
    if (cfg->ca_file[0] && SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
        hc_log_warn_once("ca_file", "HC_CA_FILE=%s cannot be loaded; it is not trusted", cfg->ca_file);
        ERR_clear_error();
    }
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    SSL_CTX_set_read_ahead(ctx, 1); /* see server_ctx_new (core.c) */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    return ctx;
}

void hc_target_for(hc_core *core, const hc_origin *origin, const char *host, bool client_tls, hc_target *t)
{
    memset(t, 0, sizeof *t);
    const hc_route *r = hc_config_route(&core->cfg, host);
    if (r) {
        t->routed = true;
        t->tls = r->tls;
        hc_strlcpy(t->name, sizeof t->name, r->target);
        hc_strlcpy(t->authority, sizeof t->authority, r->authority);
        hc_strlcpy(t->prefix, sizeof t->prefix, r->prefix);
        t->port = r->port;
    } else {
        t->tls = client_tls;
        hc_strlcpy(t->name, sizeof t->name, host);
        t->port = origin->port;
        t->origin = origin;
    }
    bool v6 = strchr(t->name, ':') != NULL;
    snprintf(t->url, sizeof t->url, v6 ? "%s://[%s]:%d%s" : "%s://%s:%d%s", t->tls ? "https" : "http",
             t->name, t->port, t->prefix);
}

static bool still_open(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return false; /* the server closed it while idle */
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK;
    return false; /* unexpected bytes on an idle connection: don't trust it */
}

void hc_upstream_close(hc_upstream *u)
{
    if (u->io.fd >= 0 || u->io.ssl)
        hc_io_close(&u->io);
    u->io.fd = -1;
    u->key[0] = '\0';
    u->requests = 0;
    hc_buf_reset(&u->in);
}

void hc_upstream_free(hc_upstream *u)
{
    hc_upstream_close(u);
    hc_buf_free(&u->in);
}

static int connect_any(hc_core *core, const hc_target *t, int cancel_fd, char *err, size_t errlen)
{
    if (!t->routed) {
        int fd = hc_io_connect((const struct sockaddr *)&t->origin->dst, t->origin->dstlen,
                               core->cfg.connect_timeout_ms, cancel_fd);
        if (fd < 0)
            snprintf(err, errlen, "cannot connect to %s: %s", t->url,
                     fd == HC_ETIMEDOUT ? "timed out" : fd == HC_ECANCELED ? "canceled" : strerror(errno));
        return fd;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%d", t->port);
    int g = core->shim->getaddrinfo(t->name, port, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", t->name, gai_strerror(g));
        return HC_ECONNECT;
    }
    int fd = HC_ECONNECT, e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = hc_io_connect(ai->ai_addr, ai->ai_addrlen, core->cfg.connect_timeout_ms, cancel_fd);
        if (fd >= 0 || fd == HC_ECANCELED)
            break;
        e = errno;
    }
    core->shim->freeaddrinfo(res);
    if (fd < 0 && fd != HC_ECANCELED)
        snprintf(err, errlen, "cannot connect to %s: %s", t->url, fd == HC_ETIMEDOUT ? "timed out" : strerror(e));
    return fd;
}

int hc_upstream_open(hc_core *core, hc_upstream *u, const hc_target *t, int cancel_fd, char *err, size_t errlen)
{
    err[0] = '\0';
    u->reused = false;
    int64_t now = hc_mono_us();
    if (u->io.fd >= 0) {
        /* The liveness peek costs a syscall per request; a connection used
         * within the last second is not worth it when a stale one can be
         * detected by the send and the request redone (can_resend). */
        bool recent = u->can_resend && now - u->last_used_us < RECENT_US;
        if (strcmp(u->key, t->url) == 0 && u->in.len == 0 && !hc_io_pending(&u->io) &&
            (recent || still_open(u->io.fd))) {
            u->reused = true;
            u->io.cancel_fd = cancel_fd;
            u->last_used_us = now;
            return 0;
        }
        hc_upstream_close(u);
    }
    int fd = connect_any(core, t, cancel_fd, err, errlen);
    if (fd < 0)
        return fd == HC_ECANCELED ? HC_ECANCELED : fd == HC_ETIMEDOUT ? HC_ETIMEDOUT : HC_ECONNECT;
    SSL *ssl = NULL;
    if (t->tls) {
        ssl = SSL_new(core->client_ctx);
        if (!ssl) {
            close(fd);
            snprintf(err, errlen, "cannot create a TLS session");
            return HC_ETLS;
        }
        unsigned char ip[16];
        bool is_ip = inet_pton(AF_INET, t->name, ip) == 1 || inet_pton(AF_INET6, t->name, ip) == 1;
        if (!is_ip)
            SSL_set_tlsext_host_name(ssl, t->name);
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, t->name) != 1 : X509_VERIFY_PARAM_set1_host(vp, t->name, 0) != 1) {
            SSL_free(ssl);
            close(fd);
            snprintf(err, errlen, "cannot set the name to verify (%s)", t->name);
            return HC_ETLS;
        }
        SSL_set_fd(ssl, fd);
    }
    hc_io_init(&u->io, fd, ssl, core->cfg.connect_timeout_ms);
    u->io.cancel_fd = cancel_fd;
    if (ssl) {
        const char *why;
        int rc = hc_io_connect_tls(&u->io, &why);
        if (rc != 0) {
            snprintf(err, errlen, "TLS with %s failed: %s", t->url, why);
            hc_io_close(&u->io);
            u->io.fd = -1;
            return rc == HC_ECANCELED ? HC_ECANCELED : HC_ETLS;
        }
    }
    u->io.timeout_ms = core->cfg.upstream_timeout_ms;
    u->last_used_us = hc_mono_us();
    hc_strlcpy(u->key, sizeof u->key, t->url);
    u->requests = 0;
    hc_buf_reset(&u->in);
    return 0;
}
