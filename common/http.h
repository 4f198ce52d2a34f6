/* http.h — HTTP/1.x framing: request/response heads, chunked bodies, header helpers.
 *
 * Parsers follow the picohttpparser protocol and never allocate:
 *   return > 0   bytes consumed (for heads: the whole head including the blank line)
 *   HC_PARTIAL   the input is a valid prefix; call again with more bytes
 *   HC_EPARSE    malformed
 * Parsed strings point into the caller's buffer (not NUL-terminated). They are
 * valid while that buffer is. All functions are thread-safe (no shared state).
 */
#ifndef HC_HTTP_H
#define HC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HC_HTTP_MAX_HEADERS 128

typedef struct hc_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len; /* surrounding spaces/tabs trimmed */
} hc_header;

typedef struct hc_http_head {
    /* request */
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len; /* path + query, as sent */
    /* response */
    int status;
    const char *reason;
    size_t reason_len;
    /* both */
    int minor_version; /* 0 or 1 */
    hc_header headers[HC_HTTP_MAX_HEADERS];
    size_t nheaders;
    /* response only: the header lines past the first HC_HTTP_MAX_HEADERS,
     * raw (each ends with its line end), validated but not in headers[];
     * NULL/0 if none. They never include a header the gateway interprets
     * (see hc_http_parse_response). */
    const char *extra;
    size_t extra_len;
} hc_http_head;

/* Parse a request head ("GET /x HTTP/1.1\r\n…\r\n\r\n"). Bare LF line ends are
 * accepted. More than HC_HTTP_MAX_HEADERS headers is HC_EPARSE (see
 * hc_http_count_header_lines to tell it apart). */
int hc_http_parse_request(const char *buf, size_t len, hc_http_head *h);
/* Parse a response head ("HTTP/1.1 200 OK\r\n…\r\n\r\n"). Header lines past
 * the first HC_HTTP_MAX_HEADERS go to h->extra (servers may send many; the app
 * must get them all) unless one of them is a header the gateway interprets
 * (Content-Length, Transfer-Encoding, Content-Encoding, Content-Type,
 * Connection, Keep-Alive, Set-Cookie, Helicone-*): then HC_EPARSE. */
int hc_http_parse_response(const char *buf, size_t len, hc_http_head *h);
/* Header lines in the head at buf (up to its blank line or len), whatever
 * their validity: a request refused with HC_EPARSE for having more than
 * HC_HTTP_MAX_HEADERS of them deserves 431, not 400. */
size_t hc_http_count_header_lines(const char *buf, size_t len);

/* The first header named `name` (case-insensitive), or NULL. */
const hc_header *hc_http_header(const hc_http_head *h, const char *name);
/* True if header `name` exists and its comma-separated list contains token
 * `tok` (case-insensitive), e.g. ("Connection", "close"). Checks every instance. */
bool hc_http_header_has_token(const hc_http_head *h, const char *name, const char *tok);
/* Case-insensitive compare of a header name (or any span) with a C string. */
bool hc_span_ieq(const char *p, size_t n, const char *s);
/* True if span starts with the C string prefix, case-insensitive. */
bool hc_span_iprefix(const char *p, size_t n, const char *prefix);

/* How a message body is delimited (RFC 9112 §6). */
enum hc_framing {
    HC_BODY_NONE,    /* no body */
    HC_BODY_LENGTH,  /* Content-Length bytes */
    HC_BODY_CHUNKED, /* Transfer-Encoding: chunked */
    HC_BODY_CLOSE,   /* response until the connection closes */
};
/* Framing of a request (is_response false) or of a response to `req_method`
 * ("HEAD" → none). *length is set for HC_BODY_LENGTH. HC_EPARSE for a bad or
 * conflicting Content-Length, or a Transfer-Encoding other than chunked last. */
int hc_http_framing(const hc_http_head *h, bool is_response, const char *req_method,
                    size_t req_method_len, enum hc_framing *framing, uint64_t *length);

/* Incremental chunked-body decoder. Zero-initialise (or hc_chunked_init) before use. */
typedef struct hc_chunked {
    int state;
    uint64_t remaining; /* bytes left in the current chunk's data */
    unsigned hex_digits;
    bool done; /* the last-chunk and trailers were consumed */
} hc_chunked;

void hc_chunked_init(hc_chunked *d);
/* Consume framing from p[0..len). Returns bytes consumed (>= 0) and, if chunk
 * data is among them, sets *data_off and *data_len to the (single) data span inside
 * p[0..consumed); *data_len = 0 otherwise. Call in a loop until the input is
 * used or d->done. HC_EPARSE on malformed framing. Never returns HC_PARTIAL:
 * a partial size line is simply consumed into the state machine. */
long hc_chunked_next(hc_chunked *d, const char *p, size_t len, size_t *data_off, size_t *data_len);

#endif
