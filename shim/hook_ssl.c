/* hook_ssl.c — the app's TLS: trust the gateway's per-process CA, and only it,
 * for the connections the gateway terminates.
 *
 * X509_verify_cert is the one place every OpenSSL client passes through,
 * whatever X509_STORE it built or swapped in (curl replaces its store lazily
 * with SSL_CTX_set_cert_store; CPython loads it after SSL_CTX_new). The core
 * decides whether the chain is ours; every other verification is untouched.
 */
#include "real.h"
#include "shim.h"

typedef struct x509_store_ctx_st X509_STORE_CTX;

HC_EXPORT int X509_verify_cert(X509_STORE_CTX *ctx);

HC_EXPORT int X509_verify_cert(X509_STORE_CTX *ctx)
{
    static int (*real)(X509_STORE_CTX *);
    HC_REAL(real, "X509_verify_cert", X509_verify_cert, "libcrypto.so.3");
    if (!real)
        return -1;
    const hc_core_api *core = hc_shim_core_if_loaded();
    if (!core || hc_shim_guarded())
        return real(ctx);
    hc_shim_guard_enter();
    int rc = core->verify_cert((X509_STORE_CTX_fwd *)ctx, (int (*)(X509_STORE_CTX_fwd *))real);
    hc_shim_guard_leave();
    return rc;
}
