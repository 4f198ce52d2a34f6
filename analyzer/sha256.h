/* sha256.h — SHA-256 (FIPS 180-4), for the dashboard's Content-Security-Policy.
 *
 * The dashboard page allows exactly its own inline script and style by hash
 * ('sha256-<base64>'), computed when the page is generated. hc-analyze does
 * not link libcrypto, and one hash of a few tens of KiB per page does not
 * justify the dependency, so this is the plain reference algorithm.
 *
 * Pure functions; thread-safe.
 */
#ifndef HC_ANA_SHA256_H
#define HC_ANA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
/* Base64 of a digest (44 characters) plus the NUL. */
#define SHA256_B64_LEN 45

/* The digest of n bytes at p into out. */
void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);

/* The digest of n bytes at p as standard base64 with padding (RFC 4648 §4),
 * the form CSP hash sources use, into out. Returns out. */
const char *sha256_b64(const void *p, size_t n, char out[SHA256_B64_LEN]);

#endif
