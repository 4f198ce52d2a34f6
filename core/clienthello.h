/* clienthello.h — find the server name (SNI) in a TLS ClientHello, without
 * consuming it: the gateway peeks the app's first bytes, decides whether the
 * connection is for an LLM host, and then either terminates TLS itself or
 * relays every byte, untouched, to the original destination.
 *
 * Untrusted input; never allocates; every length is checked.
 */
#ifndef HC_CORE_CLIENTHELLO_H
#define HC_CORE_CLIENTHELLO_H

#include <stdbool.h>
#include <stddef.h>

/* True if buf starts like a TLS handshake record (0x16 0x03 …). len >= 1. */
bool hc_looks_like_tls(const unsigned char *buf, size_t len);

/* Parse the ClientHello carried by the TLS records at buf[0..len). The
 * handshake message may span several records; it is reassembled into
 * scratch[0..scratch_len) (64 KiB is always enough for the handshake header
 * plus any real ClientHello).
 * Returns 0 with the lower-cased host name in sni (or "" when the hello has
 * no server_name), HC_PARTIAL if more bytes are needed, HC_EPARSE if this is
 * not a well-formed ClientHello, HC_ETOOBIG if it does not fit in scratch. */
int hc_clienthello_sni(const unsigned char *buf, size_t len, unsigned char *scratch,
                       size_t scratch_len, char *sni, size_t sni_size);

#endif
