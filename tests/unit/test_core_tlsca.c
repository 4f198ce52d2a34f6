/* test_core_tlsca.c — core/tlsca.h: the per-process, name-constrained CA.
 *
 * Every check uses OpenSSL's own verifier (X509_verify_cert), the code the
 * apps run: leaves for permitted names verify against a store holding only
 * the CA, with the host name or IP set as the app would; a leaf for any other
 * name fails with X509_V_ERR_PERMITTED_VIOLATION (the name constraints hold
 * even though hc_ca_leaf mints it); hc_ca_verify trusts our chains even with
 * an empty store and hands every other chain to `real` untouched. Last, the
 * CA is created in a child that cannot open any file, which proves the key
 * is never written anywhere.
 */
#include "err.h"
#include "tlsca.h"
#include "t.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const patterns[] = { "api.openai.com", ".openai.azure.com", "127.0.0.1", "::1",
                                        NULL };

/* ---- helpers ------------------------------------------------------------------ */

/* Verify `leaf` against a store holding only `anchor` (NULL: an empty store).
 * host / ip: the name the app would check (NULL: none); purpose 0: none.
 * Returns the X509_V_* result (X509_V_OK on success). */
static int verify_purpose(X509 *anchor, X509 *leaf, const char *host, const char *ip,
                          unsigned long flags, int purpose)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (anchor)
        X509_STORE_add_cert(st, anchor);
    X509_STORE_CTX_init(ctx, st, leaf, NULL);
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    if (purpose)
        X509_VERIFY_PARAM_set_purpose(vp, purpose);
    if (flags)
        X509_VERIFY_PARAM_set_flags(vp, flags);
    if (host)
        X509_VERIFY_PARAM_set1_host(vp, host, 0);
    if (ip)
        X509_VERIFY_PARAM_set1_ip_asc(vp, ip);
    int ok = X509_verify_cert(ctx);
    int err = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return ok == 1 ? X509_V_OK : (err ? err : -1);
}

/* The same for a TLS server certificate, as every app checks it. */
static int verify_with(X509 *anchor, X509 *leaf, const char *host, const char *ip,
                       unsigned long flags)
{
    return verify_purpose(anchor, leaf, host, ip, flags, X509_PURPOSE_SSL_SERVER);
}

static int real_calls;
static int counting_real(X509_STORE_CTX *ctx)
{
    real_calls++;
    return X509_verify_cert(ctx);
}

/* hc_ca_verify on a fresh context over `store` (may be empty) for `leaf`.
 * *err gets the verification error. */
static int hook_verify(hc_ca *ca, X509_STORE *store, X509 *leaf, STACK_OF(X509) * chain,
                       const char *host, int *err)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, chain);
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
    if (host)
        X509_VERIFY_PARAM_set1_host(vp, host, 0);
    int ok = hc_ca_verify(ca, ctx, counting_real);
    *err = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    return ok;
}

/* An independent CA (and a leaf from it) made the ordinary way. subject_cn:
 * the CA's subject CN; copy_name: if non-NULL, use this subject instead (an
 * impostor with our CA's exact name). */
static X509 *other_ca(EVP_PKEY **key, const X509_NAME *copy_name)
{
    *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    if (copy_name) {
        X509_set_subject_name(x, copy_name);
    } else {
        X509_NAME *n = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Other Test CA",
                                   -1, -1, 0);
    }
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, *key);
    X509V3_CTX v;
    X509V3_set_ctx_nodb(&v);
    X509V3_set_ctx(&v, x, x, NULL, NULL, 0);
    static const struct {
        int nid;
        const char *val;
    } ext[] = {
        { NID_basic_constraints, "critical,CA:TRUE" },
        { NID_key_usage, "critical,keyCertSign" },
        { NID_subject_key_identifier, "hash" },
    };
    for (size_t i = 0; i < 3; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v, ext[i].nid, ext[i].val);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    X509_sign(x, *key, EVP_sha256());
    return x;
}

static X509 *other_leaf(X509 *ca, EVP_PKEY *ca_key, const char *dns)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 8);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)dns, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    X509_set_pubkey(x, k);
    X509V3_CTX v;
    X509V3_set_ctx_nodb(&v);
    X509V3_set_ctx(&v, ca, x, NULL, NULL, 0);
    char san[300];
    snprintf(san, sizeof san, "DNS:%s", dns);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v, NID_subject_alt_name, san);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    X509_sign(x, ca_key, EVP_sha256());
    EVP_PKEY_free(k);
    return x;
}

static int ext_critical(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    return i < 0 ? -1 : X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* ---- the CA certificate --------------------------------------------------------- */

static void test_ca_cert(hc_ca *ca)
{
    X509 *c = hc_ca_cert(ca);
    T_CHECK(c != NULL, "CA certificate present");
    if (!c)
        return;
    T_EQ_INT(X509_get_version(c), 2, "CA is X.509 v3");
    T_EQ_INT(X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)), 0,
             "CA is self-issued");
    T_EQ_INT(X509_verify(c, X509_get0_pubkey(c)), 1, "CA self-signature verifies");
    T_EQ_INT(X509_get_signature_nid(c), NID_ecdsa_with_SHA256, "CA signed with ECDSA-SHA256");
    EVP_PKEY *pk = X509_get0_pubkey(c);
    T_CHECK(pk && EVP_PKEY_is_a(pk, "EC") && EVP_PKEY_get_bits(pk) == 256, "CA key is EC P-256");

    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(c, NID_basic_constraints, NULL, NULL);
    T_CHECK(bc && bc->ca, "basicConstraints CA:TRUE");
    BASIC_CONSTRAINTS_free(bc);
    T_EQ_INT(ext_critical(c, NID_basic_constraints), 1, "basicConstraints critical");
    T_CHECK(X509_get_key_usage(c) & KU_KEY_CERT_SIGN, "keyUsage has keyCertSign");
    T_EQ_INT(ext_critical(c, NID_key_usage), 1, "keyUsage critical");
    T_EQ_INT(ext_critical(c, NID_name_constraints), 1, "nameConstraints critical");
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(c);
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(c);
    T_CHECK(ski && ASN1_STRING_length(ski) > 0, "SKI present");
    T_CHECK(aki && ski && ASN1_OCTET_STRING_cmp(aki, ski) == 0,
            "AKI present and equal to SKI (self-signed)");

    /* The constraint list: one permitted subtree per pattern, nothing excluded. */
    NAME_CONSTRAINTS *nc = X509_get_ext_d2i(c, NID_name_constraints, NULL, NULL);
    T_CHECK(nc != NULL, "nameConstraints decodes");
    if (nc) {
        int dns = 0, ip = 0, api = 0;
        for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++) {
            GENERAL_NAME *g = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i)->base;
            if (g->type == GEN_DNS) {
                dns++;
                if (ASN1_STRING_length(g->d.dNSName) == 14 &&
                    memcmp(ASN1_STRING_get0_data(g->d.dNSName), "api.openai.com", 14) == 0)
                    api++;
            } else if (g->type == GEN_IPADD) {
                ip++;
            }
        }
        T_EQ_INT(dns, 2, "two permitted DNS subtrees");
        T_EQ_INT(ip, 2, "two permitted IP subtrees");
        T_EQ_INT(api, 1, "api.openai.com permitted");
        T_CHECK(sk_GENERAL_SUBTREE_num(nc->excludedSubtrees) <= 0, "no excluded subtrees");
        NAME_CONSTRAINTS_free(nc);
    }
    /* The CA verifies as a trust anchor for itself, under the strict profile too. */
    T_EQ_INT(verify_purpose(c, c, NULL, NULL, 0, 0), X509_V_OK, "CA verifies against itself");
    T_EQ_INT(verify_purpose(c, c, NULL, NULL, X509_V_FLAG_X509_STRICT, 0), X509_V_OK,
             "CA verifies against itself under X509_V_FLAG_X509_STRICT");
}

/* ---- leaves ---------------------------------------------------------------------- */

static const struct {
    const char *name; /* the name the leaf is minted for */
    const char *host; /* the app's host check (NULL: none) */
    const char *ip;   /* the app's IP check (NULL: none) */
    int want;         /* X509_V_OK or the error */
} leaf_cases[] = {
    { "api.openai.com", "api.openai.com", NULL, X509_V_OK },
    { "x.openai.azure.com", "x.openai.azure.com", NULL, X509_V_OK },
    { "127.0.0.1", NULL, "127.0.0.1", X509_V_OK },
    { "::1", NULL, "::1", X509_V_OK },
    { "::1", NULL, "0:0:0:0:0:0:0:1", X509_V_OK },
    /* The right leaf for the wrong name. */
    { "api.openai.com", "api.anthropic.com", NULL, X509_V_ERR_HOSTNAME_MISMATCH },
    { "api.openai.com", "evil.api.openai.com.example", NULL, X509_V_ERR_HOSTNAME_MISMATCH },
    { "x.openai.azure.com", "y.openai.azure.com", NULL, X509_V_ERR_HOSTNAME_MISMATCH },
    { "127.0.0.1", NULL, "127.0.0.2", X509_V_ERR_IP_ADDRESS_MISMATCH },
    /* Leaves for names outside the constraints: minted, but never trusted. */
    { "evil.example.com", "evil.example.com", NULL, X509_V_ERR_PERMITTED_VIOLATION },
    { "evil.example.com", NULL, NULL, X509_V_ERR_PERMITTED_VIOLATION },
    { "api.openai.com.evil.example", "api.openai.com.evil.example", NULL,
      X509_V_ERR_PERMITTED_VIOLATION },
    { "openai.com", "openai.com", NULL, X509_V_ERR_PERMITTED_VIOLATION },
    { "azure.com", "azure.com", NULL, X509_V_ERR_PERMITTED_VIOLATION },
    { "10.0.0.1", NULL, "10.0.0.1", X509_V_ERR_PERMITTED_VIOLATION },
    { "::2", NULL, "::2", X509_V_ERR_PERMITTED_VIOLATION },
};

static void test_leaves(hc_ca *ca)
{
    X509 *anchor = hc_ca_cert(ca);
    for (size_t i = 0; i < sizeof leaf_cases / sizeof leaf_cases[0]; i++) {
        X509 *leaf = NULL;
        EVP_PKEY *key = NULL;
        int rc = hc_ca_leaf(ca, leaf_cases[i].name, &leaf, &key);
        T_EQ_INT(rc, 0, "leaf '%s' minted", leaf_cases[i].name);
        if (rc != 0)
            continue;
        int v = verify_with(anchor, leaf, leaf_cases[i].host, leaf_cases[i].ip, 0);
        T_EQ_INT(v, leaf_cases[i].want, "leaf '%s' checked as host %s ip %s: %s",
                 leaf_cases[i].name, leaf_cases[i].host ? leaf_cases[i].host : "-",
                 leaf_cases[i].ip ? leaf_cases[i].ip : "-",
                 X509_verify_cert_error_string(leaf_cases[i].want));
        if (v != leaf_cases[i].want)
            printf("#   got: %s\n", v >= 0 ? X509_verify_cert_error_string(v) : "?");
        if (leaf_cases[i].want == X509_V_OK) {
            /* What CPython 3.13 sets by default (VERIFY_X509_STRICT). */
            v = verify_with(anchor, leaf, leaf_cases[i].host, leaf_cases[i].ip,
                            X509_V_FLAG_X509_STRICT);
            T_EQ_INT(v, X509_V_OK, "leaf '%s' verifies under X509_V_FLAG_X509_STRICT",
                     leaf_cases[i].name);
            /* Without the CA in the store, nothing verifies. */
            T_EQ_INT(verify_with(NULL, leaf, NULL, NULL, 0),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                     "leaf '%s' does not verify with an empty store", leaf_cases[i].name);
        }
        X509_free(leaf);
    }

    /* Profile of a leaf: CA:FALSE, serverAuth, SAN, the shared key. */
    X509 *leaf;
    EVP_PKEY *key;
    if (hc_ca_leaf(ca, "api.openai.com", &leaf, &key) == 0) {
        T_EQ_INT(X509_check_ca(leaf), 0, "leaf is not a CA");
        T_CHECK(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER, "leaf has serverAuth");
        T_EQ_INT(X509_check_host(leaf, "api.openai.com", 0, 0, NULL), 1, "leaf SAN matches");
        T_EQ_INT(X509_check_private_key(leaf, key), 1, "leaf key matches the certificate");
        T_CHECK(X509_get0_subject_key_id(leaf) && X509_get0_authority_key_id(leaf),
                "leaf has SKI and AKI");
        T_EQ_INT(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf),
                                       X509_get0_subject_key_id(hc_ca_cert(ca))),
                 0, "leaf AKI is the CA's SKI");
        X509 *other;
        EVP_PKEY *key2;
        if (hc_ca_leaf(ca, "x.openai.azure.com", &other, &key2) == 0) {
            T_CHECK(key2 == key, "all leaves share one key");
            X509_free(other);
        }
        X509_free(leaf);
    }
}

/* A name is text that ends up in an OpenSSL extension config string
 * ("DNS:%s"); a comma in it would add SAN entries. Whatever the leaf then
 * holds, the name constraints must keep it from being trusted for anything
 * outside the permitted names. */
static void test_name_injection(hc_ca *ca)
{
    static const char *const names[] = {
        "x.openai.azure.com,DNS:evil.example.com",
        "api.openai.com,IP:10.0.0.1",
    };
    static const struct {
        const char *host, *ip;
    } probes[] = {
        { "evil.example.com", NULL },
        { NULL, "10.0.0.1" },
    };
    for (size_t i = 0; i < 2; i++) {
        X509 *leaf;
        EVP_PKEY *k;
        if (hc_ca_leaf(ca, names[i], &leaf, &k) != 0)
            continue; /* refusing such a name is fine too */
        int v = verify_with(hc_ca_cert(ca), leaf, probes[i].host, probes[i].ip, 0);
        T_CHECK(v != X509_V_OK, "injection '%s': not trusted for %s (%s)", names[i],
                probes[i].host ? probes[i].host : probes[i].ip, X509_verify_cert_error_string(v));
        X509_free(leaf);
    }
}

/* ---- the leaf cache ----------------------------------------------------------------- */

static void test_cache(void)
{
    char err[256] = "";
    hc_ca *ca = hc_ca_new(patterns, err, sizeof err);
    if (!ca) {
        T_CHECK(0, "cache: CA (%s)", err);
        return;
    }
    X509 *a, *b;
    EVP_PKEY *k;
    hc_ca_leaf(ca, "api.openai.com", &a, &k);
    hc_ca_leaf(ca, "api.openai.com", &b, &k);
    T_CHECK(a == b, "cache: same certificate for the same name");
    X509_free(b);
    X509_free(a); /* both references returned: the cache still holds its own */
    hc_ca_leaf(ca, "api.openai.com", &a, &k);
    T_EQ_INT(verify_with(hc_ca_cert(ca), a, "api.openai.com", NULL, 0), X509_V_OK,
             "cache: cached leaf still valid after the caller's references are freed");
    X509_free(a);

    /* 100 names through a 64-entry cache: the oldest are evicted, the newest
     * kept, and every reference the caller holds stays valid (ASan would see
     * a use-after-free or double free). */
    enum { N = 100 };
    X509 *held[N];
    char name[N][32];
    int minted = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name[i], sizeof name[i], "h%03d.openai.azure.com", i);
        if (hc_ca_leaf(ca, name[i], &held[i], &k) == 0)
            minted++;
        else
            held[i] = NULL;
    }
    T_EQ_INT(minted, N, "cache: 100 names minted");
    /* Newest first: a lookup of an evicted name re-mints it and evicts another. */
    int same_new = 0, fresh_old = 0, valid = 0;
    for (int i = N - 1; i >= N - 40; i--) {
        X509 *again;
        if (held[i] && hc_ca_leaf(ca, name[i], &again, &k) == 0) {
            same_new += again == held[i];
            X509_free(again);
        }
    }
    for (int i = 0; i < 10; i++) {
        X509 *again;
        if (held[i] && hc_ca_leaf(ca, name[i], &again, &k) == 0) {
            fresh_old +=
                again != held[i]; /* held[i] is still referenced: its address cannot be reused */
            X509_free(again);
        }
    }
    T_EQ_INT(same_new, 40, "cache: the 40 newest names are still cached");
    T_EQ_INT(fresh_old, 10, "cache: the 10 oldest names were evicted and re-minted");
    for (int i = 0; i < N; i++)
        if (held[i] && verify_with(hc_ca_cert(ca), held[i], name[i], NULL, 0) == X509_V_OK)
            valid++;
    T_EQ_INT(valid, N, "cache: every reference held across evictions still verifies");
    for (int i = 0; i < N; i++)
        X509_free(held[i]);
    hc_ca_free(ca); /* frees the cache's references: ASan checks the counts balance */
}

/* ---- hc_ca_verify ------------------------------------------------------------------- */

static void test_verify_hook(hc_ca *ca)
{
    X509_STORE *empty = X509_STORE_new();
    X509 *leaf;
    EVP_PKEY *k;
    int err;
    if (hc_ca_leaf(ca, "api.openai.com", &leaf, &k) != 0) {
        T_CHECK(0, "hook: leaf");
        return;
    }
    /* Ours: trusted through the CA's own stack although the store is empty. */
    real_calls = 0;
    int ok = hook_verify(ca, empty, leaf, NULL, "api.openai.com", &err);
    T_EQ_INT(ok, 1, "hook: our leaf verifies with an empty store");
    T_EQ_INT(err, X509_V_OK, "hook: no error");
    T_EQ_INT(real_calls, 1, "hook: real verification still ran (once)");
    /* The app's parameters still apply: the wrong host fails. */
    ok = hook_verify(ca, empty, leaf, NULL, "api.anthropic.com", &err);
    T_EQ_INT(ok, 0, "hook: our leaf with the wrong host fails");
    T_EQ_INT(err, X509_V_ERR_HOSTNAME_MISMATCH, "hook: hostname mismatch reported");
    /* With the chain also carrying the CA (as a server would send it). */
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, hc_ca_cert(ca));
    ok = hook_verify(ca, empty, leaf, chain, "api.openai.com", &err);
    T_EQ_INT(ok, 1, "hook: our leaf + CA chain verifies with an empty store");
    sk_X509_free(chain);
    X509_free(leaf);

    /* A leaf outside the constraints is ours too, and still fails. */
    if (hc_ca_leaf(ca, "evil.example.com", &leaf, &k) == 0) {
        ok = hook_verify(ca, empty, leaf, NULL, "evil.example.com", &err);
        T_EQ_INT(ok, 0, "hook: our leaf for a non-permitted name fails");
        T_EQ_INT(err, X509_V_ERR_PERMITTED_VIOLATION,
                 "hook: name constraints hold through the hook");
        X509_free(leaf);
    }

    /* Another, independent CA: passed to real untouched. */
    EVP_PKEY *okey;
    X509 *oca = other_ca(&okey, NULL);
    X509 *oleaf = other_leaf(oca, okey, "api.openai.com");
    real_calls = 0;
    ok = hook_verify(ca, empty, oleaf, NULL, "api.openai.com", &err);
    T_EQ_INT(ok, 0, "hook: a foreign leaf with an empty store fails (no trust added)");
    T_EQ_INT(err, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             "hook: foreign leaf: issuer not found");
    T_EQ_INT(real_calls, 1, "hook: foreign leaf went to real");
    X509_STORE *ostore = X509_STORE_new();
    X509_STORE_add_cert(ostore, oca);
    real_calls = 0;
    ok = hook_verify(ca, ostore, oleaf, NULL, "api.openai.com", &err);
    T_EQ_INT(ok, 1, "hook: a foreign leaf verifies against its own store");
    T_EQ_INT(real_calls, 1, "hook: ... through real");
    /* Our leaf with only the foreign store: still ours, still trusted. */
    if (hc_ca_leaf(ca, "api.openai.com", &leaf, &k) == 0) {
        ok = hook_verify(ca, ostore, leaf, NULL, "api.openai.com", &err);
        T_EQ_INT(ok, 1, "hook: our leaf verifies whatever the app's store holds");
        X509_free(leaf);
    }
    X509_STORE_free(ostore);
    X509_free(oleaf);
    X509_free(oca);
    EVP_PKEY_free(okey);

    /* An impostor CA with our CA's exact subject name, different key: its
     * leaves are not ours (signature check) and get no trust. */
    EVP_PKEY *ikey;
    X509 *ica = other_ca(&ikey, X509_get_subject_name(hc_ca_cert(ca)));
    X509 *ileaf = other_leaf(ica, ikey, "api.openai.com");
    real_calls = 0;
    ok = hook_verify(ca, empty, ileaf, NULL, "api.openai.com", &err);
    T_EQ_INT(ok, 0, "hook: impostor with our CA's name is not trusted");
    T_EQ_INT(real_calls, 1, "hook: impostor went to real");
    X509_free(ileaf);
    X509_free(ica);
    EVP_PKEY_free(ikey);

    /* A leaf from another hc_ca (another process's CA) is not ours either. */
    char e2[256];
    hc_ca *ca2 = hc_ca_new(patterns, e2, sizeof e2);
    if (ca2 && hc_ca_leaf(ca2, "api.openai.com", &leaf, &k) == 0) {
        ok = hook_verify(ca, empty, leaf, NULL, "api.openai.com", &err);
        T_EQ_INT(ok, 0, "hook: another process's CA gets no trust from ours");
        X509_free(leaf);
    }
    hc_ca_free(ca2);

    /* No CA: straight to real. */
    if (hc_ca_leaf(ca, "api.openai.com", &leaf, &k) == 0) {
        real_calls = 0;
        ok = hook_verify(NULL, empty, leaf, NULL, "api.openai.com", &err);
        T_EQ_INT(ok, 0, "hook: with no CA our leaf is just unknown");
        T_EQ_INT(real_calls, 1, "hook: no CA: real called");
        X509_free(leaf);
    }
    X509_STORE_free(empty);
}

/* ---- edge patterns -------------------------------------------------------------------- */

static void test_patterns(void)
{
    char err[256];
    /* No patterns at all: the CA permits nothing usable. */
    static const char *const none[] = { NULL };
    hc_ca *ca = hc_ca_new(none, err, sizeof err);
    T_CHECK(ca != NULL, "empty pattern list: CA created");
    if (ca) {
        X509 *leaf;
        EVP_PKEY *k;
        if (hc_ca_leaf(ca, "api.openai.com", &leaf, &k) == 0) {
            T_EQ_INT(verify_with(hc_ca_cert(ca), leaf, "api.openai.com", NULL, 0),
                     X509_V_ERR_PERMITTED_VIOLATION, "empty pattern list: no leaf is trusted");
            X509_free(leaf);
        }
        hc_ca_free(ca);
    }
    /* Each CA is distinct: two CAs never share a key. */
    hc_ca *a = hc_ca_new(patterns, err, sizeof err), *b = hc_ca_new(patterns, err, sizeof err);
    if (a && b)
        T_CHECK(EVP_PKEY_eq(X509_get0_pubkey(hc_ca_cert(a)), X509_get0_pubkey(hc_ca_cert(b))) != 1,
                "two CAs have different keys");
    hc_ca_free(a);
    hc_ca_free(b);
    hc_ca_free(NULL); /* a no-op: a crash here fails the run */
}

/* ---- the key never touches the disk ------------------------------------------------------ */

/* In a child whose RLIMIT_NOFILE equals its lowest free descriptor, no file,
 * socket or pipe can be opened at all. OpenSSL is warmed up first (config,
 * providers, RNG: one-time library loading that is not ours); then hc_ca_new
 * and hc_ca_leaf must still succeed. Child exit bits: 1 = the limit did not
 * hold (test broken), 2 = hc_ca_new failed, 4 = hc_ca_leaf failed. */
static void test_no_files(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        EVP_PKEY *warm = EVP_EC_gen("P-256");
        X509 *wx = X509_new();
        X509_set_pubkey(wx, warm);
        X509_sign(wx, warm, EVP_sha256());
        X509_free(wx);
        EVP_PKEY_free(warm);
        int lowest = dup(0);
        if (lowest < 0)
            _exit(1);
        close(lowest);
        struct rlimit rl = { (rlim_t)lowest, (rlim_t)lowest };
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(1);
        int code = 0;
        int probe = open("/dev/null", O_RDONLY);
        if (probe >= 0) {
            close(probe);
            code |= 1;
        }
        char err[256];
        hc_ca *ca = hc_ca_new(patterns, err, sizeof err);
        if (!ca) {
            code |= 2;
        } else {
            X509 *leaf;
            EVP_PKEY *k;
            if (hc_ca_leaf(ca, "api.openai.com", &leaf, &k) != 0)
                code |= 4;
            else
                X509_free(leaf);
            hc_ca_free(ca);
        }
        _exit(code); /* no atexit handlers (LSan would need descriptors) */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    T_CHECK(WIFEXITED(st), "no-files child exited normally (status 0x%x)", st);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
    T_EQ_INT(code & 1, 0, "no-files child: opening any file really fails under the limit");
    T_EQ_INT(code & 2, 0, "hc_ca_new succeeds with no file descriptor available");
    T_EQ_INT(code & 4, 0, "hc_ca_leaf succeeds with no file descriptor available");
}

int main(void)
{
    char err[256] = "";
    hc_ca *ca = hc_ca_new(patterns, err, sizeof err);
    T_CHECK(ca != NULL, "hc_ca_new (%s)", err);
    if (!ca)
        return t_done();
    test_ca_cert(ca);
    test_leaves(ca);
    test_name_injection(ca);
    test_verify_hook(ca);
    hc_ca_free(ca);
    test_cache();
    test_patterns();
    test_no_files();
    return t_done();
}
