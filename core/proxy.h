/* proxy.h — the HTTP/1.1 pipeline of one app connection.
 *
 * hc_proxy_serve() runs on the connection's thread and handles requests one
 * after another (keep-alive) until either side closes:
 *
 *   read the request head and body from the app
 *   → apply Helicone-* headers and HC_* defaults (options.h), strip Helicone-*
 *   → inject stream_options.include_usage where it makes usage exact (streamfix.h)
 *   → send to the upstream (route or original destination; upstream.h)
 *   → forward the response head and body to the app as they arrive,
 *     byte for byte (or through the SSE filter when usage was injected)
 *   → hand the finished exchange to the capture/recorder (never blocking)
 *
 * Failures the app must hear about get an HTTP answer with a JSON error body
 * naming the upstream and the cause (502 for an unreachable or unverifiable
 * upstream). A failure after the response has started cannot be reported in
 * HTTP: the app's connection is closed mid-body so it sees a truncated
 * response, never a silently shortened one.
 */
#ifndef HC_CORE_PROXY_H
#define HC_CORE_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"
#include "gateway.h"
#include "io.h"

/* True if p starts like an HTTP/1.x request (a method token then a space). */
bool hc_proxy_looks_like_http(const unsigned char *p, size_t n);

/* Serve HTTP on the app connection `client` (plain or TLS, handshake done)
 * for LLM host `host`. Returns when the connection should be closed; the
 * caller closes it. */
void hc_proxy_serve(hc_core *core, hc_io *client, const hc_origin *origin, const char *host,
                    bool tls);

#endif
