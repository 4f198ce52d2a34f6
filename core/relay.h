/* relay.h — untouched, bidirectional byte relay to the original destination.
 *
 * Used for every redirected connection that turns out not to be for an LLM
 * host (TLS with another SNI on a shared CDN address, an unknown protocol):
 * the gateway connects to where the app wanted to go and copies bytes both
 * ways until both directions are closed, preserving half-closes. It never
 * looks at or changes the bytes. Memory: two 64 KiB buffers.
 */
#ifndef HC_CORE_RELAY_H
#define HC_CORE_RELAY_H

#include "core.h"
#include "gateway.h"

/* Relay client_fd <-> origin->dst; closes client_fd before returning. */
void hc_relay(hc_core *core, int client_fd, const hc_origin *origin);

/* Relay client_fd untouched to where the app's connection would have gone
 * without the gateway: origin->dst, or for a routed host (HC_ROUTE; dst is
 * its synthetic address) the route's target host and port. For LLM
 * connections the gateway must not terminate (the app's TLS would not trust
 * it). Closes client_fd before returning. */
void hc_relay_routed(hc_core *core, int client_fd, const hc_origin *origin);

/* True for addresses the shim synthesises for routed hosts (HC_SYNTHETIC_NET):
 * there is nothing there to relay to. */
bool hc_is_synthetic_addr(const struct sockaddr *a);

/* Relay cfd <-> ufd (both connected) until both directions end; closes both
 * (hc-gateway's tunnel through the user's own proxy). */
void hc_relay_fds(int cfd, int ufd);

#endif
