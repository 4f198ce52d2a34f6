/* gateway.h — the in-process gateway: where redirected connections land.
 *
 * A listener on 127.0.0.1 (and [::1] when the host has IPv6 loopback) on an
 * ephemeral port. connect() of the app to an LLM destination is turned into a
 * connect to this listener (hc_gateway_connect), and the app's socket's local
 * port is registered with the original destination. The listener accepts only
 * registered connections: anything else (another process probing the port) is
 * closed at once.
 *
 * Each accepted connection gets its own thread (see gateway.c DESIGN).
 */
#ifndef HC_CORE_GATEWAY_H
#define HC_CORE_GATEWAY_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core.h"

typedef struct hc_gateway hc_gateway;

/* What the app asked for, carried from connect() to the connection thread. */
typedef struct hc_origin {
    struct sockaddr_storage dst; /* original destination */
    socklen_t dstlen;
    char host[256]; /* LLM host the address was looked up as */
    int port;       /* original destination port */
} hc_origin;

/* Create the listener(s) and the accept thread. 0, or HC_EIO with err set. */
int hc_gateway_start(hc_core *core, hc_gateway **out, char *err, size_t errlen);

/* connect() fd to the gateway instead of dst; semantics as core_api.h's connect. */
int hc_gateway_connect(hc_gateway *gw, int fd, const struct sockaddr *dst, socklen_t len,
                       const char *host);

/* getpeername() for a redirected fd: fills addr with the original destination
 * and returns 0; returns 1 when fd is not one of ours. */
int hc_gateway_getpeername(hc_gateway *gw, int fd, struct sockaddr *addr, socklen_t *len);

/* Serve one accepted connection fd whose destination is o, on the calling
 * thread: peek the first bytes; a TLS ClientHello for an LLM host (or with
 * no SNI) is terminated with a leaf from the CA and served by the proxy, one
 * for another host is relayed untouched to o->dst; plain HTTP goes to the
 * proxy; anything else is relayed. Closes fd before returning. Used by the
 * accept thread and by hc-gateway's CONNECT proxy. */
void hc_gateway_dispatch(hc_core *core, int fd, const hc_origin *o);

/* After fork, in the child: close the parent's listeners (the parent keeps
 * its own copies) and abandon everything else without touching locks. */
void hc_gateway_abandon(hc_gateway *gw);
/* True once the app took a listening descriptor of gw (a raw close or dup2
 * system call, see shim/fdown.h): gw accepts no more; the core starts a new
 * gateway (core.c). Thread-safe; one fstat per listener. */
bool hc_gateway_lost(hc_gateway *gw);

/* At exit, before OpenSSL cleans up (core.c's atexit handler): stop taking
 * connections, shut down the app side of every live one so that a thread
 * blocked in a handshake or read wakes up and leaves OpenSSL, and wait up to
 * timeout_ms for every connection thread to be done with OpenSSL. Returns the
 * number still running (0 normally). Thread-safe. */
int hc_gateway_quiesce(hc_gateway *gw, int timeout_ms);

/* True once hc_gateway_quiesce() ran and hc_gateway_reopen() did not follow:
 * the listener closes every new connection. Thread-safe. */
bool hc_gateway_closing(hc_gateway *gw);

/* Take connections again after a quiesce (an exit handler of the app that
 * ran after the core's makes another LLM call; core.c registers its exit
 * handler again first, so it quiesces once more before OpenSSL cleans up).
 * Thread-safe. */
void hc_gateway_reopen(hc_gateway *gw);

#endif
