#include "upstream.h"
#include "proxychain.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "redact.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECENT_US 1000000

/* ---- the system trust store, read lazily --------------------------------- *
 *
 * DESIGN. SSL_CTX_set_default_verify_paths() parses the whole CA bundle when
 * the context is made (Debian: ~140 certificates in ca-certificates.crt):
 * ~240 M instructions, ≈ 20 ms of CPU, in every process on its first LLM call.
 * The same trust is looked up here the way OpenSSL's CApath works: first the
 * hashed directory (SSL_CERT_DIR, default OPENSSLDIR/certs), which reads only
 * the file named by a subject's hash; then the bundle (SSL_CERT_FILE, default
 * OPENSSLDIR/cert.pem), read whole into the store the first time the
 * directory lacks a subject. A process whose upstreams are plain HTTP, or
 * whose chains the directory or HC_CA_FILE completes, never reads the bundle;
 * a public CA's chain usually does (the intermediate's subject is looked up
 * among trusted certificates first, and is in no directory), so for it the
 * cost moves from the core's start, on the app's thread, to the first
 * upstream handshake. Every certificate trusted before is trusted now (a
 * subject found in the directory is not also searched in the bundle, as with
 * CApath). The lookup follows OpenSSL's by_dir.c: load into the store, then
 * answer from the store's objects with a reference the store owns. The file
 * lookup that loads the bundle is added with the others when the context is
 * made: a store's list of lookups must not change while it verifies. */

struct lazy_file {
    pthread_mutex_t mu;
    bool loaded;
    X509_LOOKUP *file; /* X509_LOOKUP_file() of the same store, loaded on the first miss */
    char path[4096];
};

static int lazy_new(X509_LOOKUP *lu)
{
    struct lazy_file *lf = calloc(1, sizeof *lf);
    if (!lf)
        return 0;
    pthread_mutex_init(&lf->mu, NULL);
    return X509_LOOKUP_set_method_data(lu, lf);
}

static void lazy_free(X509_LOOKUP *lu)
{
    struct lazy_file *lf = X509_LOOKUP_get_method_data(lu);
    if (lf) {
        pthread_mutex_destroy(&lf->mu);
        free(lf);
    }
}

static int lazy_by_subject(X509_LOOKUP *lu, X509_LOOKUP_TYPE type, const X509_NAME *name,
                           X509_OBJECT *ret)
{
    struct lazy_file *lf = X509_LOOKUP_get_method_data(lu);
    X509_STORE *st = X509_LOOKUP_get_store(lu);
    if (!lf || !st || !lf->file || type != X509_LU_X509 || !lf->path[0])
        return 0;
    pthread_mutex_lock(&lf->mu);
    if (!lf->loaded) {
        lf->loaded = true;
        if (X509_LOOKUP_load_file(lf->file, lf->path, X509_FILETYPE_PEM) !=
            1) /* no bundle: nothing more */
            hc_log_debug("trust store: %s not loaded", lf->path);
        ERR_clear_error();
    }
    pthread_mutex_unlock(&lf->mu);
    int ok = 0;
    if (!X509_STORE_lock(st))
        return 0;
    X509_OBJECT *o = X509_OBJECT_retrieve_by_subject(X509_STORE_get0_objects(st), X509_LU_X509,
                                                     (X509_NAME *)name);
    X509 *x = o ? X509_OBJECT_get0_X509(o) : NULL;
    if (x && X509_OBJECT_set1_X509(ret, x) == 1) {
        X509_free(x); /* the store keeps its reference; the caller takes its own */
        ok = 1;
    }
    X509_STORE_unlock(st);
    return ok;
}

static X509_LOOKUP_METHOD *lazy_method;

static void lazy_method_init(void)
{
    X509_LOOKUP_METHOD *m = X509_LOOKUP_meth_new("hcshim: CA bundle read on first miss");
    if (m && X509_LOOKUP_meth_set_new_item(m, lazy_new) == 1 &&
        X509_LOOKUP_meth_set_free(m, lazy_free) == 1 &&
        X509_LOOKUP_meth_set_get_by_subject(m, lazy_by_subject) == 1) {
        lazy_method = m;
        return;
    }
    X509_LOOKUP_meth_free(m);
}

/* The system's trust as SSL_CTX_set_default_verify_paths() sets it, the bundle
 * read only when needed. 0 if it could not be set up that way (the caller then
 * reads the bundle at once). */
static int add_system_trust(SSL_CTX *ctx)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, lazy_method_init);
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    if (!lazy_method || !st)
        return 0;
    const char *dir = secure_getenv(X509_get_default_cert_dir_env());
    const char *file = secure_getenv(X509_get_default_cert_file_env());
    X509_LOOKUP *d = X509_STORE_add_lookup(st, X509_LOOKUP_hash_dir());
    if (!d ||
        X509_LOOKUP_add_dir(d, dir ? dir : X509_get_default_cert_dir(), X509_FILETYPE_PEM) != 1)
        return 0;
    X509_LOOKUP *f = X509_STORE_add_lookup(st, lazy_method);
    struct lazy_file *lf = f ? X509_LOOKUP_get_method_data(f) : NULL;
    if (!lf || !(lf->file = X509_STORE_add_lookup(st, X509_LOOKUP_file())))
        return 0;
    hc_strlcpy(lf->path, sizeof lf->path, file ? file : X509_get_default_cert_file());
    return 1;
}

SSL_CTX *hc_upstream_ctx_new(const hc_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Many servers end a close-delimited body by closing TCP without a TLS
     * close_notify. OpenSSL 3 reports that as an error; made a plain EOF,
     * the HTTP framing decides (hc_io_read): a close-delimited body ends
     * there, a Content-Length or chunked body cut short is a truncation.
     * Truncation attacks on close-delimited bodies are the HTTP/1.1 risk
     * every client (curl, browsers) already accepts. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* Honours SSL_CERT_FILE and SSL_CERT_DIR, like the app's OpenSSL would. */
    if (!add_system_trust(ctx) && SSL_CTX_set_default_verify_paths(ctx) != 1)
        hc_log_debug("no default trust store found");
    ERR_clear_error();
    if (cfg->ca_file[0] && SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
        hc_log_warn_once("ca_file", "HC_CA_FILE=%s cannot be loaded; it is not trusted",
                         cfg->ca_file);
        ERR_clear_error();
    }
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    SSL_CTX_set_read_ahead(ctx, 1); /* see server_ctx_new (core.c) */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    return ctx;
}

void hc_target_for(hc_core *core, const hc_origin *origin, const char *host, bool client_tls,
                   hc_target *t)
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
    char url[sizeof t->url];
    snprintf(url, sizeof url, v6 ? "%s://[%s]:%d%s" : "%s://%s:%d%s", t->tls ? "https" : "http",
             t->name, t->port, t->prefix);
    hc_url_redact(t->url, sizeof t->url, url); /* for records, errors, logs: never a credential */
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
    hc_proxy_url px;
    if (core->cfg.upstream_proxy[0] && !hc_proxy_bypass(&core->cfg, t->name, t->port)) {
        if (hc_proxy_url_parse(core->cfg.upstream_proxy, &px) == 0)
            return hc_proxychain_connect(core, &px, t->name, t->port, core->cfg.connect_timeout_ms,
                                         cancel_fd, err, errlen);
        hc_log_warn_once("upstream_proxy",
                         "HC_UPSTREAM_PROXY: expected http://[USER:PASS@]HOST[:PORT]; "
                         "connecting directly");
    }
    if (!t->routed) {
        int fd = hc_io_connect((const struct sockaddr *)&t->origin->dst, t->origin->dstlen,
                               core->cfg.connect_timeout_ms, cancel_fd);
        if (fd < 0)
            snprintf(err, errlen, "cannot connect to %s: %s", t->url,
                     fd == HC_ETIMEDOUT   ? "timed out"
                     : fd == HC_ECANCELED ? "canceled"
                                          : strerror(errno));
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
        snprintf(err, errlen, "cannot connect to %s: %s", t->url,
                 fd == HC_ETIMEDOUT ? "timed out" : strerror(e));
    return fd;
}

SSL *hc_upstream_tls_session(SSL_CTX *ctx, int fd, const char *name, char *err, size_t errlen)
{
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    if (!ssl) {
        snprintf(err, errlen, "cannot create a TLS session");
        return NULL;
    }
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, name)
                   : SSL_set_tlsext_host_name(ssl, name) == 1 &&
                         X509_VERIFY_PARAM_set1_host(vp, name, 0);
    if (ok != 1 || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        snprintf(err, errlen, "cannot set the name to verify (%s)", name);
        return NULL;
    }
    return ssl;
}

int hc_upstream_open(hc_core *core, hc_upstream *u, const hc_target *t, int cancel_fd, char *err,
                     size_t errlen)
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
        ssl = hc_upstream_tls_session(core->client_ctx, fd, t->name, err, errlen);
        if (!ssl) {
            close(fd);
            return HC_ETLS;
        }
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
