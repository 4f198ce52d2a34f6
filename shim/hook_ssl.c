/* hook_ssl.c — the app's TLS.
 *
 * Gateway mode: trust the gateway's per-process CA, and only it, for the
 * connections the gateway terminates.
 *
 * X509_verify_cert is the one place every OpenSSL client passes through,
 * whatever X509_STORE it built or swapped in (curl replaces its store lazily
 * with SSL_CTX_set_cert_store; CPython loads it after SSL_CTX_new). The core
 * decides whether the chain is ours; every other verification is untouched.
 *
 * Exact for every caller: a private OpenSSL (a wheel's libssl-<hash>.so.3,
 * loaded RTLD_LOCAL) binds its references to these hooks too. Each hook finds
 * the definition its caller would reach without us (hc_real_for_caller: the
 * caller's object and its dependencies, cached per call site) and calls it
 * untouched unless it is the system library the core links against — the
 * core never sees another library's objects. In every mode, including off.
 */
#include "real.h"
#include "shim.h"

#include "hosts.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct x509_store_ctx_st X509_STORE_CTX;
typedef struct ssl_st SSL;

HC_EXPORT int X509_verify_cert(X509_STORE_CTX *ctx);
HC_EXPORT int SSL_write(SSL *s, const void *buf, int num);
HC_EXPORT int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written);
HC_EXPORT int SSL_read(SSL *s, void *buf, int num);
HC_EXPORT int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *readbytes);

/* The definition of `name` for the caller at this hook's return address;
 * `sys`: it is the system library's, which the core may serve. */
#define REAL_FOR_CALLER(var, name, self, lib, sys) \
    static hc_caller_cache var##_cache; \
    bool sys; \
    __typeof__(&self) var = (__typeof__(&self))hc_real_for_caller( \
        &var##_cache, __builtin_return_address(0), name, (const void *)self, lib, &sys)

HC_EXPORT int X509_verify_cert(X509_STORE_CTX *ctx)
{
    REAL_FOR_CALLER(real, "X509_verify_cert", X509_verify_cert, "libcrypto.so.3", sys);
    if (!real) {
        hc_real_missing("X509_verify_cert");
        return 0; /* never "verified" */
    }
    const hc_core_api *core = sys ? hc_shim_core_if_loaded() : NULL;
    if (!core || hc_shim_guarded())
        return real(ctx);
    hc_shim_guard_enter();
    int rc = core->verify_cert((X509_STORE_CTX_fwd *)ctx, (int (*)(X509_STORE_CTX_fwd *))real);
    hc_shim_guard_leave();
    return rc;
}

/* Observe mode: the app's SSL_write/SSL_read run first and their results are
 * returned untouched; the bytes they moved are then handed to the core. Until
 * the core is loaded, an SSL object is examined here (SNI, else peer address)
 * so that a process whose TLS never goes to an LLM host never loads it. */

static bool ssl_for_llm(SSL *s)
{
    static const char *(*servername)(const SSL *, int);
    static int (*get_fd)(const SSL *);
    HC_REAL(servername, "SSL_get_servername", NULL, "libssl.so.3");
    HC_REAL(get_fd, "SSL_get_fd", NULL, "libssl.so.3");
    const char *sni = servername ? servername(s, 0 /* TLSEXT_NAMETYPE_host_name */) : NULL;
    if (sni)
        return hc_hosts_is_llm(sni, 0);
    int fd = get_fd ? get_fd(s) : -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[HC_HOST_MAX];
    return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
           hc_hosts_match_addr((struct sockaddr *)&ss, sl, host, sizeof host);
}

static void observe(SSL *s, bool out, const void *p, size_t n)
{
    if (hc_shim_mode() != HC_MODE_OBSERVE || hc_shim_guarded() || n == 0)
        return;
    int saved = errno;
    hc_shim_guard_enter();
    const hc_core_api *core = hc_shim_core_if_loaded();
    if (!core && ssl_for_llm(s))
        core = hc_shim_core();
    if (core)
        core->observe_ssl((SSL_fwd *)s, out, p, n);
    hc_shim_guard_leave();
    errno = saved;
}

HC_EXPORT int SSL_write(SSL *s, const void *buf, int num)
{
    REAL_FOR_CALLER(real, "SSL_write", SSL_write, "libssl.so.3", sys);
    if (!real) {
        hc_real_missing("SSL_write");
        return -1;
    }
    int r = real(s, buf, num);
    if (r > 0 && sys)
        observe(s, true, buf, (size_t)r);
    return r;
}

HC_EXPORT int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written)
{
    REAL_FOR_CALLER(real, "SSL_write_ex", SSL_write_ex, "libssl.so.3", sys);
    if (!real) {
        hc_real_missing("SSL_write_ex");
        return 0;
    }
    int r = real(s, buf, num, written);
    if (r == 1 && written && sys)
        observe(s, true, buf, *written);
    return r;
}

HC_EXPORT int SSL_read(SSL *s, void *buf, int num)
{
    REAL_FOR_CALLER(real, "SSL_read", SSL_read, "libssl.so.3", sys);
    if (!real) {
        hc_real_missing("SSL_read");
        return -1;
    }
    int r = real(s, buf, num);
    if (r > 0 && sys)
        observe(s, false, buf, (size_t)r);
    return r;
}

HC_EXPORT int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *readbytes)
{
    REAL_FOR_CALLER(real, "SSL_read_ex", SSL_read_ex, "libssl.so.3", sys);
    if (!real) {
        hc_real_missing("SSL_read_ex");
        return 0;
    }
    int r = real(s, buf, num, readbytes);
    if (r == 1 && readbytes && sys)
        observe(s, false, buf, *readbytes);
    return r;
}
