/* proxychain.h — reaching a host through the user's own HTTP proxy (CONNECT).
 *
 * hc-gateway often runs where the only way out is a corporate proxy: the
 * HTTPS_PROXY it was started with (HC_UPSTREAM_PROXY; the shim reads that
 * variable only, so preloaded programs are unaffected unless asked). Both its
 * own upstream connections to providers (upstream.c) and the tunnels it
 * relays for other hosts go through that proxy, unless NO_PROXY names the
 * host. TLS to the provider still runs end to end over the tunnel and is
 * verified as always: the proxy sees only a CONNECT.
 *
 * Thread-safe; no global state.
 */
#ifndef HC_CORE_PROXYCHAIN_H
#define HC_CORE_PROXYCHAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"

typedef struct hc_proxy_url {
    char host[256]; /* name or IP literal (no brackets) */
    int port;       /* default 80 (3128 is common, but the URL says) */
    char auth[600]; /* "Basic <base64 user:pass>" or "" — a secret: never logged */
} hc_proxy_url;

/* Parse "http://[user:pass@]host[:port][/]" (also without the scheme).
 * 0, or HC_EINVAL for anything else (https:// proxies are not supported). */
int hc_proxy_url_parse(const char *url, hc_proxy_url *out);

/* Does NO_PROXY-style list `list` ("a.com,.b.com,*,10.0.0.1") exclude host?
 * Matches exact names and dot-suffixes, case-insensitive; "*" matches all. */
bool hc_no_proxy_match(const char *list, const char *host);

/* The same for a connection to host:port: entries may also be "host:port"
 * or "[v6]:port" (that port only; port 0 = unknown, such entries never match)
 * and CIDR blocks "10.0.0.0/8", "fd00::/8" (for IP literal hosts). */
bool hc_no_proxy_match_port(const char *list, const char *host, int port);

/* Should host:port be reached directly although an upstream proxy is set?
 * Loopback (localhost, 127/8, ::1) and HC_ROUTE targets always (a corporate
 * proxy cannot reach this host's loopback, and a route names where to go),
 * else cfg->no_proxy. */
bool hc_proxy_bypass(const hc_config *cfg, const char *host, int port);

/* A TCP connection to host:port tunnelled through proxy p: connect to the
 * proxy, send CONNECT, read its answer. Returns the fd (non-blocking), or
 * HC_ECONNECT / HC_ETIMEDOUT / HC_ECANCELED with a reason in err (the proxy's
 * status line when it refused). cancel_fd as in hc_io_connect. */
int hc_proxychain_connect(hc_core *core, const hc_proxy_url *p, const char *host, int port,
                          int timeout_ms, int cancel_fd, char *err, size_t errlen);

#endif
