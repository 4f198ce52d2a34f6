/* httpd.h — a small, careful HTTP/1.1 server for `hc-analyze serve`.
 *
 * DESIGN
 * One thread, one poll() loop, non-blocking sockets. The dashboard's
 * handlers are single-threaded code (agg.h, LMDB read transactions opened
 * per request), requests are few (one browser polling every 2 s), and a
 * poll loop cannot be exhausted by idle connections the way a thread per
 * connection can. A handler runs to completion and produces the whole
 * response in memory; while it runs, other connections wait.
 *
 * What it accepts: GET and HEAD (anything else: 405 with Allow), origin-form
 * targets ("/path?query"), HTTP/1.0 and 1.1, keep-alive and pipelining (one
 * request answered at a time, in order). A request head is bounded
 * (HTTPD_MAX_HEAD bytes, else 431 and close) and must arrive within
 * HTTPD_HEAD_TIMEOUT_MS of its first byte (else 408 and close); requests
 * with a body are refused (400 and close, as GET has no body here). Idle
 * connections close after HTTPD_IDLE_TIMEOUT_MS; a response must drain
 * within HTTPD_WRITE_TIMEOUT_MS. At most HTTPD_MAX_CONNS connections; a new
 * one then replaces the connection idle the longest (so idle keep-alive
 * connections cannot lock the server out), else waits in the listen backlog.
 *
 * Owner only (httpd_owner_only): a loopback connection is accepted only if
 * the socket at its other end belongs to this process's effective uid, as
 * the kernel's socket table (/proc/net/tcp, tcp6) says; other local users
 * get a 403 and the connection is closed before anything is read.
 *
 * Every response carries Content-Length, Content-Type, Date,
 * Cache-Control: no-store, X-Content-Type-Options: nosniff,
 * Referrer-Policy: no-referrer and X-Frame-Options: DENY, plus what the
 * handler adds. The server never reads files: it answers only what the
 * handler generates.
 *
 * Not thread-safe: one httpd per thread.
 */
#ifndef HC_ANA_HTTPD_H
#define HC_ANA_HTTPD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "http.h"

#define HTTPD_MAX_HEAD         16384
#define HTTPD_MAX_CONNS        64
#define HTTPD_HEAD_TIMEOUT_MS  10000
#define HTTPD_IDLE_TIMEOUT_MS  60000
#define HTTPD_WRITE_TIMEOUT_MS 30000

/* A parsed request; pointers are valid during the handler call only. */
typedef struct httpd_req {
    const char *method;
    size_t method_len; /* "GET" (HEAD is served as GET) */
    const char *path;
    size_t path_len; /* target before '?', not decoded */
    const char *query;
    size_t query_len;         /* after '?' (not decoded), or "" */
    const hc_http_head *head; /* every header */
} httpd_req;

/* What the handler fills. The server initialises status 200, content_type
 * NULL (then "text/plain; charset=utf-8"), headers empty, body empty. */
typedef struct httpd_resp {
    int status;
    const char *content_type; /* static string */
    hc_buf headers;           /* extra header lines, each ending in CRLF */
    hc_buf body;
} httpd_resp;

typedef void (*httpd_handler)(void *ctx, const httpd_req *req, httpd_resp *resp);

typedef struct httpd httpd;

/* Listen on addr (a numeric IPv4 or IPv6 address) and port (0: any free
 * one). 0 with *out set, or HC_EINVAL (addr is not numeric) / HC_EIO (bind
 * or listen failed) with a one-line reason in err. */
int httpd_open(const char *addr, unsigned port, httpd **out, char *err, size_t errlen);
/* The port actually bound. */
unsigned httpd_port(const httpd *h);
/* Serve until *stop is non-zero (set it from a signal handler; the loop
 * wakes at least once a second). Returns 0, or HC_EIO if poll() fails. */
int httpd_run(httpd *h, httpd_handler fn, void *ctx, volatile sig_atomic_t *stop);
/* Accept only connections whose other end is a socket of this process's
 * effective uid (see DESIGN); for a loopback listener. Off by default. */
void httpd_owner_only(httpd *h, bool on);
/* Connections refused by owner_only so far. */
unsigned long httpd_refused(const httpd *h);
/* Close the listener and every connection (NULL is fine). */
void httpd_close(httpd *h);

/* The reason phrase of a status ("Not Found"); "Unknown" for others. */
const char *httpd_reason(int status);

/* Split an application/x-www-form-urlencoded query: from *pos, decode the
 * next "name=value" ('+' is a space, %XX decoded) into name and value
 * (reset first, NUL-terminated). Returns 1 when a pair was read, 0 at the
 * end, HC_EPARSE on a bad %-escape or a decoded NUL, HC_ENOMEM. */
int httpd_query_next(const char *q, size_t qlen, size_t *pos, hc_buf *name, hc_buf *value);

#endif
