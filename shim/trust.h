/* trust.h — will this process's TLS trust the gateway? (the redirect policy)
 *
 * Terminating an app's TLS in the gateway is a bet that the app will accept
 * the gateway's certificate. It wins in two cases only:
 *   - the handshake is done by the system OpenSSL (libssl.so.3), whose
 *     X509_verify_cert our hook teaches to trust the per-process CA (when
 *     libssl.so.3 is loaded it is assumed to be the one, unless the process
 *     is a JVM; a lost bet is recovered from, see gateway.c);
 *   - the program IS a Node or Bun runtime (it exports the N-API, or carries
 *     Bun's ELF section), and the shim handed it the CA before main through
 *     NODE_EXTRA_CA_CERTS.
 * Everything else (Java JSSE, GnuTLS, NSS, rustls, Erlang :ssl, a private
 * OpenSSL, TLS linked into a static program) keeps its TLS untouched: the
 * gateway relays those connections byte for byte, and says so once.
 *
 * The loaded objects are inspected once (dl_iterate_phdr), lazily, the first
 * time a question below is asked — by then the app has sent a ClientHello, so
 * its TLS library is loaded. The answers are cached for the life of the
 * process image (a fork child keeps them: same objects). Thread-safe.
 */
#ifndef HC_SHIM_TRUST_H
#define HC_SHIM_TRUST_H

#include <stdbool.h>
#include <stddef.h>

/* True if the main program is a Node or Bun runtime, judged by what the
 * binary is (an exported napi_create_object, or a ".bun" ELF section), never
 * by its name. Cheap enough for the constructor (a hash lookup in the dynamic
 * symbol tables of the main program and any libnode*: no dlsym, no malloc,
 * nothing left for dlerror()). Cached; first judged by hc_trust_init. */
bool hc_trust_is_node_runtime(void);

/* From the constructor (one thread): the environment the judgements need
 * (HC_CORE_LIB), read once so no gateway thread calls getenv. */
void hc_trust_init(void);

/* The constructor gave a Node/Bun runtime the gateway's CA through
 * NODE_EXTRA_CA_CERTS (ok = true), or could not / was told not to (HC_NODE_CA=0).
 * Call at most once, before any question below. */
void hc_trust_node_ca_set(bool ok);

/* Gateway mode: NULL if the gateway may terminate this process's TLS (the app
 * will trust it); otherwise why not, as a phrase ("it does its TLS with
 * GnuTLS (libgnutls.so.30)"), static storage. The first call with a reason
 * prints one line on stderr naming the program, the host and the reason. */
const char *hc_trust_gateway_refusal(const char *host);

/* Observe mode: NULL if the SSL_read/SSL_write hooks see this process's TLS;
 * otherwise why not (static). The first call with a reason prints one line on
 * stderr saying the program's TLS to `host` is invisible to observe mode. */
const char *hc_trust_observe_blind(const char *host);

/* The program's name (basename of the executable), for messages. */
const char *hc_trust_program(void);

#endif
