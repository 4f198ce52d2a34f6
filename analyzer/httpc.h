/* httpc.h — a minimal HTTP/1.0 client over plain TCP, for hc-analyze ship
 * (ClickHouse's HTTP interface on a trusted network or loopback).
 *
 * One request per connection ("Connection: close", HTTP/1.0, so the answer is
 * never chunked and ends at EOF). No TLS, no redirects, no proxies: the
 * destination is named explicitly by the user. Every step (connect, write,
 * read) is bounded by one overall deadline.
 *
 * Thread-safety: no shared state; each call is independent.
 */
#ifndef HC_ANA_HTTPC_H
#define HC_ANA_HTTPC_H

#include <stddef.h>

#include "buf.h"

/* The most of an answer's body httpc_request() keeps (the rest is read and dropped). */
#define HTTPC_MAX_RESPONSE (4u << 20)

/* Send `method target` with `body` (len bytes; may be NULL when len is 0) to
 * host:port. `headers` is NULL or a string of extra "Name: value\r\n" lines
 * (the caller's; not logged anywhere by this module). On success returns 0
 * with *status the HTTP status and the answer's body appended to resp (capped
 * at HTTPC_MAX_RESPONSE). Errors: HC_ECONNECT (name or connection), HC_EIO
 * (write/read failed), HC_ETIMEDOUT (timeout_ms passed), HC_EPARSE (not an
 * HTTP answer), HC_ENOMEM; then err (when non-NULL) holds a one-line reason
 * naming host:port, never the headers. */
int httpc_request(const char *host, int port, const char *method, const char *target,
                  const char *headers, const void *body, size_t len, int timeout_ms, int *status,
                  hc_buf *resp, char *err, size_t errlen);
/* The same, keeping at most `max` bytes of the answer's body instead of
 * HTTPC_MAX_RESPONSE (a reader of many rows; the caller detects a cut answer
 * by resp growing to max). */
int httpc_request_max(const char *host, int port, const char *method, const char *target,
                      const char *headers, const void *body, size_t len, int timeout_ms, size_t max,
                      int *status, hc_buf *resp, char *err, size_t errlen);

#endif
