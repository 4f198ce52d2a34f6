/* hosts.h — which destinations are LLM hosts, as far as the hooks can tell.
 *
 * Three sources, read once from the environment (hc_hosts_init, idempotent):
 *   - the built-in provider list (common/provider.h: api.openai.com,
 *     api.anthropic.com, generativelanguage.googleapis.com, …); loopback names
 *     (localhost) are never intercepted unless listed in HC_HOSTS;
 *   - HC_HOSTS=host[:port][,…]   the user's own endpoints (a local Ollama,
 *     a vLLM server); host may be a name or an IP literal ([::1]:8080);
 *   - HC_ROUTE=HOST=URL[,…]      routed hosts: lookups of HOST are answered
 *     by the shim with a synthetic address (233.252.0.N, a multicast
 *     documentation block that a raw connect cannot reach: HC_SYNTHETIC_NET)
 *     so no DNS is needed at all.
 *
 * The address table remembers, for each address a lookup of an LLM host
 * returned, the host name it came from. connect() consults it: an address
 * alone proves nothing (CDNs share addresses), so the gateway later checks
 * the TLS SNI or HTTP Host and relays anything else untouched.
 *
 * Thread-safe; the lookups connect() makes are also async-signal-safe. After fork the child
 * keeps the table (addresses stay valid) but must call hc_hosts_atfork_child() to reset the
 * lock.
 */
#ifndef HC_SHIM_HOSTS_H
#define HC_SHIM_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <netdb.h>
#include <sys/socket.h>

#define HC_HOST_MAX 256 /* longest host name kept (RFC 1035: 253) */

/* Parse HC_HOSTS / HC_ROUTE once. Cheap; safe to call from every hook. */
void hc_hosts_init(void);
void hc_hosts_atfork_child(void);

/* Is `name` (no port) an LLM host we intercept? `port` 0 = any port.
 * Case-insensitive, trailing dot ignored. */
bool hc_hosts_is_llm(const char *name, int port);

/* If `name` is a routed host, fill *out with its synthetic IPv4 address
 * (port from `service`, default 443) and return true. */
bool hc_hosts_route_addr(const char *name, struct sockaddr_in *out);

/* Remember that `addr` came from a lookup of LLM host `name`. */
void hc_hosts_remember(const struct sockaddr *addr, const char *name);

/* True if any address is known to be an LLM host's, or a lookup was answered
 * with a synthetic address (two atomic loads): when false, no connect needs
 * looking at. The routed hosts' synthetic addresses alone (the Helicone hosts
 * are routed by default) do not make it true. Async-signal-safe. */
bool hc_hosts_any(void);

/* If a connect to `addr` (IPv4, IPv6 or v4-mapped IPv6) should be redirected,
 * copy the host name into name (size >= HC_HOST_MAX) and return true. Fast
 * when the table is empty (one atomic load). Synthetic addresses are known by
 * range. Takes no lock (async-signal-safe, as connect() must be): if the
 * table keeps changing under it (or a signal handler interrupted a writer),
 * it gives up after a few reads and answers false. */
bool hc_hosts_match_addr(const struct sockaddr *addr, socklen_t len, char *name, size_t size);

/* NULL-terminated list of host patterns for the CA's name constraints (see
 * core_api.h). Valid for the life of the process. */
const char *const *hc_hosts_patterns(void);

#endif
