/* observe.h — observe mode (HC_MODE=observe): record exchanges from the bytes
 * an app sends and receives on its own connection, changing nothing.
 *
 * The hooks hand over copies of what went through the app's own TLS
 * (SSL_write/SSL_read) or plain socket (write/send/read/recv…) on a connection
 * to an LLM host. An observer follows HTTP/1.1 on it: request heads and
 * bodies in the out direction, response heads and bodies in the in
 * direction, pairing them in order (pipelining included), and feeds the same
 * capture/recorder pipeline as the gateway. Records get HC_REC_OBSERVED.
 *
 * If the traffic stops looking like HTTP/1.x (HTTP/2 after ALPN h2, a TLS
 * handshake seen on a plain socket, a head over 64 KiB), the observer goes
 * quiet for the rest of the connection: observation never affects the app.
 *
 * Gateway features (cache, retries, fallbacks, limits) need the gateway;
 * observe mode records only — budgets warn but cannot block.
 *
 * Thread-safe: an observer has its own lock (an app may read and write one
 * connection from two threads).
 */
#ifndef HC_CORE_OBSERVE_H
#define HC_CORE_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"

typedef struct hc_observer hc_observer;

/* A new observer for a connection to `host`:`port` (tls: the bytes are the
 * plaintext of the app's TLS). NULL on allocation failure. */
hc_observer *hc_observer_new(hc_core *core, const char *host, int port, bool tls);

/* Bytes the app sent (out = true) or received (out = false). */
void hc_observer_feed(hc_observer *o, bool out, const void *p, size_t n);

/* The connection is gone: a response delimited by close is complete, others
 * still pending are recorded as cut short. Frees o. */
void hc_observer_close(hc_observer *o);

/* True once the observer has given up on this connection. */
bool hc_observer_quiet(hc_observer *o);

/* Attaching observers (called through core_api.h's observe_* entries) ---- */

typedef struct ssl_st SSL;

/* Once per process image, before any hc_observe_ssl. 0 or HC_ENOMEM. */
int hc_observe_init(void);
/* Bytes through the app's SSL object: the first call for an SSL decides from
 * its SNI (or peer address) whether it is for an LLM host and remembers the
 * answer on the object itself (ex_data), freed with it. */
void hc_observe_ssl(hc_core *core, SSL *ssl, bool out, const void *p, size_t n);
/* A plain socket fd connected to an LLM host: start observing it. */
bool hc_observe_fd_open(hc_core *core, int fd, const char *host, int port);
/* Bytes on an observed fd; false when it is no longer worth watching. */
bool hc_observe_fd(int fd, bool out, const void *p, size_t n);
/* The app closed fd. */
void hc_observe_fd_close(int fd);
void hc_observe_atfork_child(void);

#endif
