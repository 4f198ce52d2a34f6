/* tlsca.h — the gateway's per-process certificate authority.
 *
 * Each process makes its own CA (EC P-256) the first time it redirects a
 * connection. Its private key lives only in this process's memory: it is
 * never written anywhere, so no other process — and nothing on disk — can
 * mint certificates it would trust. The CA certificate carries X.509 name
 * constraints (critical) that permit only the LLM host names (and IP
 * literals of HC_HOSTS): even inside this process, a leaf it signed for any
 * other name fails verification.
 *
 * Leaves (one per host name the app connects to, all sharing one P-256 key)
 * are minted on demand and cached. The app trusts them through
 * hc_ca_verify(), called from the X509_verify_cert hook (see core_api.h).
 *
 * Thread-safety: hc_ca_new is called once before threads start; hc_ca_leaf
 * and hc_ca_verify are thread-safe.
 */
#ifndef HC_CORE_TLSCA_H
#define HC_CORE_TLSCA_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

typedef struct hc_ca hc_ca;

/* Create a CA constrained to `patterns` (NULL-terminated; a leading '.'
 * means "any subdomain of"; IP literals become IP constraints). Returns NULL
 * on failure with a reason in err. Caller owns the result. */
hc_ca *hc_ca_new(const char *const *patterns, char *err, size_t errlen);
void hc_ca_free(hc_ca *ca);

/* The leaf certificate for `name` (DNS name or IP literal) and the shared leaf
 * key, minted on first use and cached. On success *cert is a new reference
 * (the caller X509_free()s it) and *key is borrowed for the life of ca.
 * 0 or HC_ETLS. */
int hc_ca_leaf(hc_ca *ca, const char *name, X509 **cert, EVP_PKEY **key);

/* The CA certificate (borrowed). For tests and for writing NODE_EXTRA_CA_CERTS. */
X509 *hc_ca_cert(hc_ca *ca);

/* Verification hook body: if the chain in ctx was issued by `ca`, verify it
 * against ca alone with the app's own parameters; else return real(ctx). */
int hc_ca_verify(hc_ca *ca, X509_STORE_CTX *ctx, int (*real)(X509_STORE_CTX *));

#endif
