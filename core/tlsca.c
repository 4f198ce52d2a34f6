/* tlsca.c — per-process CA and leaf minting (see tlsca.h).
 *
 * Certificates are made to pass strict verifiers (CPython 3.13's
 * VERIFY_X509_STRICT, RFC 5280 profile): CA with critical basicConstraints
 * and keyUsage, SKI/AKI on both, SAN on the leaf, serverAuth EKU, SHA-256
 * signatures, validity starting an hour in the past to absorb clock skew.
 */
#include "tlsca.h"
#include "buf.h"
#include "err.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEAF_CACHE 64
#define VALID_DAYS 397

struct leaf {
    char name[256];
    X509 *cert;
};

struct hc_ca {
    EVP_PKEY *ca_key;         /* immutable */
    X509 *ca_cert;            /* immutable */
    EVP_PKEY *leaf_key;       /* immutable */
    STACK_OF(X509) * trusted; /* immutable: {ca_cert}, the trust used for our leaves */
    pthread_mutex_t lock;     /* guards leaves, nleaves */
    struct leaf leaves[LEAF_CACHE];
    int nleaves;
    unsigned next_evict;
};

static EVP_PKEY *gen_key(void)
{
    return EVP_EC_gen("P-256");
}

static int set_serial(X509 *x)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[0] &= 0x7f; /* positive */
    b[0] |= 0x01; /* and never zero-led */
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    if (!bn)
        return -1;
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    if (!ai)
        return -1;
    int rc = X509_set_serialNumber(x, ai) == 1 ? 0 : -1;
    ASN1_INTEGER_free(ai);
    return rc;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return -1;
    int rc = X509_add_ext(cert, ex, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ex);
    return rc;
}

static bool is_ip(const char *s, unsigned char *buf, int *len)
{
    if (inet_pton(AF_INET, s, buf) == 1) {
        *len = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        *len = 16;
        return true;
    }
    return false;
}

/* "permitted;DNS:api.openai.com,permitted;IP:127.0.0.1/255.255.255.255,…" */
static char *constraints_value(const char *const *patterns)
{
    hc_buf b = HC_BUF_INIT;
    for (const char *const *p = patterns; p && *p; p++) {
        unsigned char ip[16];
        int iplen;
        if (b.len)
            hc_buf_puts(&b, ",");
        if (is_ip(*p, ip, &iplen)) {
            if (iplen == 4)
                hc_buf_printf(&b, "permitted;IP:%s/255.255.255.255", *p);
            else
                hc_buf_printf(&b, "permitted;IP:%s/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", *p);
        } else {
            /* RFC 5280: "example.com" permits the name and every subdomain;
             * ".example.com" (our suffix form) is the same set minus the apex. */
            hc_buf_printf(&b, "permitted;DNS:%s", (*p)[0] == '.' ? *p + 1 : *p);
        }
    }
    if (!b.len) /* no hosts at all: permit nothing usable */
        hc_buf_puts(&b, "permitted;DNS:invalid.invalid");
    return hc_buf_detach(&b, NULL);
}

static X509 *make_ca_cert(EVP_PKEY *key, const char *const *patterns)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    char cn[64];
    snprintf(cn, sizeof cn, "hcshim gateway CA (pid %d)", (int)getpid());
    X509_NAME *name = X509_get_subject_name(x);
    char *nc = NULL;
    if (X509_set_version(x, 2) != 1 || set_serial(x) != 0 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 60L * 60 * 24 * VALID_DAYS) ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"hcshim", -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1)
        goto fail;
    nc = constraints_value(patterns);
    if (!nc || add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        add_ext(x, x, NID_subject_key_identifier, "hash") ||
        add_ext(x, x, NID_authority_key_identifier, "keyid:always") ||
        add_ext(x, x, NID_name_constraints, nc) == -1)
        goto fail;
    /* name constraints must be critical (RFC 5280 §4.2.1.10) */
    int idx = X509_get_ext_by_NID(x, NID_name_constraints, -1);
    if (idx < 0 || X509_EXTENSION_set_critical(X509_get_ext(x, idx), 1) != 1)
        goto fail;
    if (X509_sign(x, key, EVP_sha256()) <= 0)
        goto fail;
    free(nc);
    return x;
fail:
    free(nc);
    X509_free(x);
    return NULL;
}

hc_ca *hc_ca_new(const char *const *patterns, char *err, size_t errlen)
{
    hc_ca *ca = calloc(1, sizeof *ca);
    if (!ca) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&ca->lock, NULL);
    if (!(ca->ca_key = gen_key()) || !(ca->leaf_key = gen_key())) {
        snprintf(err, errlen, "cannot generate EC P-256 keys");
        goto fail;
    }
    if (!(ca->ca_cert = make_ca_cert(ca->ca_key, patterns))) {
        snprintf(err, errlen, "cannot build the CA certificate");
        goto fail;
    }
    if (!(ca->trusted = sk_X509_new_null()) || !sk_X509_push(ca->trusted, ca->ca_cert)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return ca;
fail:
    hc_ca_free(ca);
    return NULL;
}

void hc_ca_free(hc_ca *ca)
{
    if (!ca)
        return;
    for (int i = 0; i < ca->nleaves; i++)
        X509_free(ca->leaves[i].cert);
    sk_X509_free(ca->trusted); /* the stack only, ca_cert is freed below */
    X509_free(ca->ca_cert);
    EVP_PKEY_free(ca->leaf_key);
    EVP_PKEY_free(ca->ca_key);
    pthread_mutex_destroy(&ca->lock);
    free(ca);
}

X509 *hc_ca_cert(hc_ca *ca)
{
    return ca->ca_cert;
}

static X509 *mint_leaf(hc_ca *ca, const char *host)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    unsigned char ip[16];
    int iplen;
    char san[300], cn[65];
    /* The CN of an IP leaf must not look like a host name: with no DNS SAN,
     * OpenSSL checks such a CN against the DNS name constraints. */
    if (is_ip(host, ip, &iplen)) {
        snprintf(san, sizeof san, "IP:%s", host);
        snprintf(cn, sizeof cn, "hcshim leaf for IP %s", host);
    } else {
        snprintf(san, sizeof san, "DNS:%s", host);
        hc_strlcpy(cn, sizeof cn, host);
    }
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 || set_serial(x) != 0 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 60L * 60 * 24 * VALID_DAYS) ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(ca->ca_cert)) != 1 ||
        X509_set_pubkey(x, ca->leaf_key) != 1 ||
        add_ext(x, ca->ca_cert, NID_basic_constraints, "critical,CA:FALSE") ||
        add_ext(x, ca->ca_cert, NID_key_usage, "critical,digitalSignature") ||
        add_ext(x, ca->ca_cert, NID_ext_key_usage, "serverAuth") ||
        add_ext(x, ca->ca_cert, NID_subject_key_identifier, "hash") ||
        add_ext(x, ca->ca_cert, NID_authority_key_identifier, "keyid:always") ||
        add_ext(x, ca->ca_cert, NID_subject_alt_name, san) ||
        X509_sign(x, ca->ca_key, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* A host name (letters, digits, '-', '.', '_') or an IP literal: anything
 * else could smuggle extra entries into the SAN text. */
static bool mintable(const char *name)
{
    unsigned char ip[16];
    int iplen;
    if (is_ip(name, ip, &iplen))
        return true;
    if (!*name || strlen(name) > 253)
        return false;
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_'))
            return false;
    return true;
}

int hc_ca_leaf(hc_ca *ca, const char *name, X509 **cert, EVP_PKEY **key)
{
    *key = ca->leaf_key;
    if (!mintable(name))
        return HC_EINVAL;
    pthread_mutex_lock(&ca->lock);
    for (int i = 0; i < ca->nleaves; i++) {
        if (strcmp(ca->leaves[i].name, name) == 0) {
            *cert = ca->leaves[i].cert;
            X509_up_ref(*cert);
            pthread_mutex_unlock(&ca->lock);
            return 0;
        }
    }
    X509 *x = mint_leaf(ca, name);
    if (!x) {
        pthread_mutex_unlock(&ca->lock);
        return HC_ETLS;
    }
    /* A ring: when full, the oldest entry's reference is dropped. Connections
     * using it hold their own references (SSL_use_certificate takes one). */
    struct leaf *l;
    if (ca->nleaves < LEAF_CACHE) {
        l = &ca->leaves[ca->nleaves++];
    } else {
        l = &ca->leaves[ca->next_evict++ % LEAF_CACHE];
        X509_free(l->cert);
    }
    hc_strlcpy(l->name, sizeof l->name, name);
    l->cert = x;
    X509_up_ref(x);
    *cert = x;
    pthread_mutex_unlock(&ca->lock);
    return 0;
}

int hc_ca_verify(hc_ca *ca, X509_STORE_CTX *ctx, int (*real)(X509_STORE_CTX *))
{
    X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
    if (!ca || !leaf)
        return real(ctx);
    if (X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(ca->ca_cert)) != 0)
        return real(ctx);
    EVP_PKEY *pk = X509_get0_pubkey(ca->ca_cert);
    if (!pk || X509_verify(leaf, pk) != 1)
        return real(ctx);
    /* Ours: trust exactly our CA for this chain. The app's verify parameters
     * (host name, purpose, depth, flags) and callbacks still run in real(). */
    X509_STORE_CTX_set0_trusted_stack(ctx, ca->trusted);
    return real(ctx);
}
