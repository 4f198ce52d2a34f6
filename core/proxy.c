/* proxy.c — see proxy.h.
 *
 * DESIGN
 * - Buffers: the app's bytes accumulate in conn.in (a request head is parsed
 *   from there, then copied so the parse survives reallocation); the request
 *   body is buffered up to HC_MAX_REQUEST so that it can be inspected,
 *   rewritten, and re-sent on a stale kept-alive connection. A larger (or
 *   unbounded chunked) body switches to streaming: what was read is sent and
 *   the rest is piped through, re-chunked. Response bodies are never
 *   buffered: every read from the upstream is written to the app before the
 *   next read, and only the capture keeps (bounded) copies.
 * - Stale upstream connections: a kept-alive upstream connection may have
 *   been closed by the server while idle. If sending fails, or the response
 *   ends before its first byte, on a reused connection, the request is sent
 *   once more on a new connection (nothing reached the app yet).
 * - Errors before the response head reached the app become an HTTP error
 *   answer with a JSON body; after that, the app's connection is closed.
 */
#include "proxy.h"
#include "capture.h"
#include "clock.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "options.h"
#include "provider.h"
#include "streamfix.h"
#include "upstream.h"

#include <ctype.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define MAX_HEAD (64 * 1024)
#define IOBUF    (64 * 1024)

struct conn {
    hc_core         *core;
    hc_io           *client;
    const hc_origin *origin;
    const char      *host;         /* SNI / registered host of the connection */
    bool             tls;
    hc_buf           in;           /* bytes from the app not yet consumed */
    hc_upstream      up;
    char            *iobuf;
    bool             close_after;  /* close the app connection after this exchange */
};

struct exch {
    hc_buf           head;         /* request head bytes (owned copy) */
    hc_http_head     req;          /* parsed from head */
    char             host[256];    /* host this request is for */
    enum hc_framing  framing;
    uint64_t         clen;
    hc_buf           body;         /* request body as read (buffered part) */
    hc_buf           sendbody;     /* body as sent upstream, when rewritten */
    bool             streaming;    /* the body did not fit: the rest is piped */
    uint64_t         body_left;    /* LENGTH streaming: bytes still to pipe */
    hc_chunked       chunk;        /* CHUNKED: decoder state of the app's body */
    hc_opts          opts;
    hc_capture       cap;
    hc_target        target;
    bool             inject;       /* include_usage was injected: filter the stream */
    bool             head_sent;    /* the response head reached the app */
    char             id[HC_UUID_STRLEN + 1];
};

bool hc_proxy_looks_like_http(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < 16 && isupper(p[i]))
        i++;
    return i > 0 && (i == n || (i < 16 && p[i] == ' '));
}

/* ---- small helpers --------------------------------------------------- */

static void json_escape(hc_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            hc_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            hc_buf_printf(b, "\\u%04x", c);
        else
            hc_buf_append(b, s, 1);
    }
}

static const char *reason_of(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

/* Answer the app with a gateway error in the OpenAI error shape (which
 * every SDK surfaces), and record it. */
static void send_error(struct conn *c, struct exch *x, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void send_error(struct conn *c, struct exch *x, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hc_buf body = HC_BUF_INIT, out = HC_BUF_INIT;
    hc_buf_puts(&body, "{\"error\":{\"message\":\"hcshim: ");
    json_escape(&body, msg);
    hc_buf_printf(&body, "\",\"type\":\"hcshim_error\",\"code\":\"%s\"}}\n", code);
    hc_buf_printf(&out, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                        "helicone-id: %s\r\n%s\r\n",
                  status, reason_of(status), body.len, x ? x->id : "", c->close_after ? "Connection: close\r\n" : "");
    hc_buf_append(&out, body.data, body.len);
    if (hc_io_write(c->client, out.data, out.len) != 0)
        c->close_after = true;
    if (x) {
        x->head_sent = true;
        hc_http_head h;
        if (hc_http_parse_response(out.data, out.len - body.len, &h) > 0)
            hc_capture_response_head(&x->cap, &h);
        hc_capture_response_data(&x->cap, body.data, body.len);
        snprintf(x->cap.error, sizeof x->cap.error, "%s", msg);
    }
    hc_buf_free(&body);
    hc_buf_free(&out);
}

/* Read more from the app into c->in. > 0 bytes, 0 EOF, < 0 error. */
static long fill_client(struct conn *c)
{
    if (hc_buf_reserve(&c->in, IOBUF))
        return HC_ENOMEM;
    long n = hc_io_read(c->client, c->in.data + c->in.len, IOBUF);
    if (n > 0) {
        c->in.len += (size_t)n;
        c->in.data[c->in.len] = '\0';
    }
    return n;
}

/* Read more from the upstream into c->up.in. */
static long fill_upstream(struct conn *c)
{
    if (hc_buf_reserve(&c->up.in, IOBUF))
        return HC_ENOMEM;
    long n = hc_io_read(&c->up.io, c->up.in.data + c->up.in.len, IOBUF);
    if (n > 0) {
        c->up.in.len += (size_t)n;
        c->up.in.data[c->up.in.len] = '\0';
    }
    return n;
}

/* ---- request side ------------------------------------------------------ */

/* 0 a request head is in x; 1 the app closed cleanly; < 0 give up. */
static int read_request_head(struct conn *c, struct exch *x)
{
    c->client->timeout_ms = c->core->cfg.idle_timeout_ms;
    for (;;) {
        if (c->in.len) {
            int n = hc_http_parse_request(c->in.data, c->in.len, &x->req);
            if (n > 0) {
                hc_buf_append(&x->head, c->in.data, (size_t)n);
                hc_buf_consume(&c->in, (size_t)n);
                hc_http_parse_request(x->head.data, x->head.len, &x->req);
                c->client->timeout_ms = c->core->cfg.connect_timeout_ms;
                return 0;
            }
            if (n == HC_EPARSE) {
                c->close_after = true;
                send_error(c, NULL, 400, "bad_request", "the request is not valid HTTP/1.1");
                return HC_EPARSE;
            }
            if (c->in.len > MAX_HEAD) {
                c->close_after = true;
                send_error(c, NULL, 431, "head_too_large", "request head larger than %d bytes", MAX_HEAD);
                return HC_ETOOBIG;
            }
        }
        long r = fill_client(c);
        if (r == 0)
            return c->in.len ? HC_ECLOSED : 1;
        if (r < 0)
            return (int)r;
        c->client->timeout_ms = c->core->cfg.connect_timeout_ms; /* the rest of a head comes promptly */
    }
}

/* Read the body into x->body, up to the buffering bound. 0 complete (or
 * x->streaming with the buffered part in x->body), < 0 error. */
static int read_request_body(struct conn *c, struct exch *x)
{
    size_t max = c->core->cfg.max_req_buffer;
    if (x->framing == HC_BODY_LENGTH) {
        uint64_t want = x->clen;
        while ((uint64_t)x->body.len < want) {
            if (!c->in.len) {
                long r = fill_client(c);
                if (r <= 0)
                    return r == 0 ? HC_ECLOSED : (int)r;
            }
            size_t take = c->in.len;
            if ((uint64_t)take > want - x->body.len)
                take = (size_t)(want - x->body.len);
            if (x->body.len + take > max) {
                x->streaming = true;
                x->body_left = want - x->body.len;
                return 0;
            }
            hc_buf_append(&x->body, c->in.data, take);
            hc_capture_request_body(&x->cap, c->in.data, take);
            hc_buf_consume(&c->in, take);
        }
        return 0;
    }
    if (x->framing == HC_BODY_CHUNKED) {
        hc_chunked_init(&x->chunk);
        while (!x->chunk.done) {
            if (!c->in.len) {
                long r = fill_client(c);
                if (r <= 0)
                    return r == 0 ? HC_ECLOSED : (int)r;
            }
            size_t doff, dlen;
            long n = hc_chunked_next(&x->chunk, c->in.data, c->in.len, &doff, &dlen);
            if (n < 0)
                return HC_EPARSE;
            if (dlen) {
                if (x->body.len + dlen > max) {
                    /* Keep the undecoded rest in c->in; the streaming path re-reads it. */
                    hc_buf_append(&x->body, c->in.data + doff, dlen);
                    hc_capture_request_body(&x->cap, c->in.data + doff, dlen);
                    hc_buf_consume(&c->in, (size_t)n);
                    x->streaming = true;
                    return 0;
                }
                hc_buf_append(&x->body, c->in.data + doff, dlen);
                hc_capture_request_body(&x->cap, c->in.data + doff, dlen);
            }
            hc_buf_consume(&c->in, (size_t)n);
        }
        return 0;
    }
    return 0;
}

/* Providers that accept stream_options.include_usage on their OpenAI-style API. */
static bool accepts_stream_options(const char *provider)
{
    static const char *const ok[] = { "openai", "azure", "deepseek", "xai", "openrouter", "together",
                                      "fireworks", "groq", NULL };
    for (int i = 0; ok[i]; i++)
        if (strcmp(provider, ok[i]) == 0)
            return true;
    return false;
}

static bool is_hop_header(const char *n, size_t l, bool upgrade)
{
    if (hc_span_ieq(n, l, "content-length") || hc_span_ieq(n, l, "transfer-encoding") ||
        hc_span_ieq(n, l, "expect") || hc_span_ieq(n, l, "proxy-connection") ||
        hc_span_ieq(n, l, "keep-alive") || hc_span_ieq(n, l, "te") || hc_span_ieq(n, l, "trailer"))
        return true;
    if (!upgrade && (hc_span_ieq(n, l, "connection") || hc_span_ieq(n, l, "upgrade")))
        return true;
    return false;
}

/* The request head as sent upstream. */
static void build_upstream_head(struct conn *c, struct exch *x, hc_buf *out, size_t body_len)
{
    const hc_http_head *h = &x->req;
    bool upgrade = hc_http_header(h, "upgrade") != NULL;
    hc_buf_printf(out, "%.*s %s%.*s HTTP/1.1\r\n", (int)h->method_len, h->method, x->target.prefix,
                  (int)h->target_len, h->target);
    bool have_host = false;
    for (size_t i = 0; i < h->nheaders; i++) {
        const hc_header *hd = &h->headers[i];
        if (hc_is_helicone_header(hd->name, hd->name_len) || is_hop_header(hd->name, hd->name_len, upgrade))
            continue;
        if (x->inject && hc_span_ieq(hd->name, hd->name_len, "accept-encoding"))
            continue;
        if (hc_span_ieq(hd->name, hd->name_len, "host")) {
            have_host = true;
            if (x->target.authority[0]) {
                hc_buf_printf(out, "Host: %s\r\n", x->target.authority);
                continue;
            }
        }
        hc_buf_append(out, hd->name, hd->name_len);
        hc_buf_puts(out, ": ");
        hc_buf_append(out, hd->value, hd->value_len);
        hc_buf_puts(out, "\r\n");
    }
    if (!have_host)
        hc_buf_printf(out, "Host: %s\r\n", x->target.authority[0] ? x->target.authority : x->host);
    if (x->streaming) {
        if (x->framing == HC_BODY_CHUNKED)
            hc_buf_puts(out, "Transfer-Encoding: chunked\r\n");
        else
            hc_buf_printf(out, "Content-Length: %llu\r\n", (unsigned long long)x->clen);
    } else if (x->framing != HC_BODY_NONE || body_len) {
        hc_buf_printf(out, "Content-Length: %zu\r\n", body_len);
    }
    hc_buf_puts(out, "\r\n");
    (void)c;
}

/* Pipe the rest of a streaming request body from the app to the upstream. */
static int pipe_request_body(struct conn *c, struct exch *x)
{
    bool chunked = x->framing == HC_BODY_CHUNKED;
    if (chunked && x->body.len) {
        char hdr[32];
        int n = snprintf(hdr, sizeof hdr, "%zx\r\n", x->body.len);
        if (hc_io_write(&c->up.io, hdr, (size_t)n) || hc_io_write(&c->up.io, x->body.data, x->body.len) ||
            hc_io_write(&c->up.io, "\r\n", 2))
            return HC_EIO;
    } else if (x->body.len && hc_io_write(&c->up.io, x->body.data, x->body.len)) {
        return HC_EIO;
    }
    for (;;) {
        if (!chunked && x->body_left == 0)
            return 0;
        if (chunked && x->chunk.done)
            return hc_io_write(&c->up.io, "0\r\n\r\n", 5) ? HC_EIO : 0;
        if (!c->in.len) {
            long r = fill_client(c);
            if (r <= 0)
                return r == 0 ? HC_ECLOSED : (int)r;
        }
        if (!chunked) {
            size_t take = c->in.len;
            if ((uint64_t)take > x->body_left)
                take = (size_t)x->body_left;
            if (hc_io_write(&c->up.io, c->in.data, take))
                return HC_EIO;
            hc_capture_request_body(&x->cap, c->in.data, take);
            hc_buf_consume(&c->in, take);
            x->body_left -= take;
        } else {
            size_t doff, dlen;
            long n = hc_chunked_next(&x->chunk, c->in.data, c->in.len, &doff, &dlen);
            if (n < 0)
                return HC_EPARSE;
            if (dlen) {
                char hdr[32];
                int hn = snprintf(hdr, sizeof hdr, "%zx\r\n", dlen);
                if (hc_io_write(&c->up.io, hdr, (size_t)hn) || hc_io_write(&c->up.io, c->in.data + doff, dlen) ||
                    hc_io_write(&c->up.io, "\r\n", 2))
                    return HC_EIO;
                hc_capture_request_body(&x->cap, c->in.data + doff, dlen);
            }
            hc_buf_consume(&c->in, (size_t)n);
        }
    }
}

/* ---- response side ------------------------------------------------------ */

/* Read the response head into *h (skipping 100 Continue and other 1xx but
 * 101). Returns the head length in c->up.in, 0 if the upstream closed before
 * sending anything, or < 0 on error. */
static int read_response_head(struct conn *c, hc_http_head *h)
{
    for (;;) {
        if (c->up.in.len) {
            int n = hc_http_parse_response(c->up.in.data, c->up.in.len, h);
            if (n > 0) {
                if (h->status >= 100 && h->status < 200 && h->status != 101) {
                    hc_buf_consume(&c->up.in, (size_t)n);
                    continue;
                }
                return n;
            }
            if (n == HC_EPARSE)
                return HC_EPARSE;
            if (c->up.in.len > MAX_HEAD)
                return HC_ETOOBIG;
        }
        bool empty = c->up.in.len == 0;
        long r = fill_upstream(c);
        if (r == 0 || r == HC_ECLOSED)
            return empty ? 0 : HC_ECLOSED;
        if (r < 0)
            return (int)r;
    }
}

/* The response head for the app: the upstream's, plus helicone-id; when the
 * stream is filtered, re-framed as chunked. */
static void build_client_head(struct exch *x, const hc_http_head *h, const char *raw, bool filtered, hc_buf *out)
{
    const char *eol = memchr(raw, '\n', MAX_HEAD);
    hc_buf_append(out, raw, (size_t)(eol - raw) + 1);
    for (size_t i = 0; i < h->nheaders; i++) {
        const hc_header *hd = &h->headers[i];
        if (filtered && (hc_span_ieq(hd->name, hd->name_len, "content-length") ||
                         hc_span_ieq(hd->name, hd->name_len, "transfer-encoding")))
            continue;
        /* copy the line exactly as the upstream sent it */
        const char *ls = hd->name, *le = memchr(hd->value + hd->value_len, '\n', MAX_HEAD);
        hc_buf_append(out, ls, (size_t)(le - ls) + 1);
    }
    if (filtered)
        hc_buf_puts(out, "Transfer-Encoding: chunked\r\n");
    hc_buf_printf(out, "helicone-id: %s\r\n\r\n", x->opts.request_id[0] ? x->opts.request_id : x->id);
}

/* Write one chunk (chunked framing) to the app. */
static int write_chunk(struct conn *c, const char *p, size_t n)
{
    if (!n)
        return 0;
    char hdr[32];
    int hn = snprintf(hdr, sizeof hdr, "%zx\r\n", n);
    hc_buf b = HC_BUF_INIT;
    int rc = hc_buf_append(&b, hdr, (size_t)hn) || hc_buf_append(&b, p, n) || hc_buf_append(&b, "\r\n", 2)
                 ? HC_ENOMEM
                 : hc_io_write(c->client, b.data, b.len);
    hc_buf_free(&b);
    return rc;
}

/* Body data (de-chunked) of the response: capture it, and when filtering,
 * forward the filtered bytes as chunks. */
static int on_body_data(struct conn *c, struct exch *x, hc_sse_filter *f, const char *p, size_t n)
{
    hc_capture_response_data(&x->cap, p, n);
    if (!f)
        return 0;
    hc_buf out = HC_BUF_INIT;
    int rc = hc_sse_filter_feed(f, p, n, &out);
    if (rc == 0)
        rc = write_chunk(c, out.data, out.len);
    hc_buf_free(&out);
    return rc;
}

/* Relay a 101 Switching Protocols connection (WebSocket) both ways. */
static void relay_upgraded(struct conn *c)
{
    if (c->in.len && hc_io_write(&c->up.io, c->in.data, c->in.len))
        return;
    hc_buf_reset(&c->in);
    if (c->up.in.len && hc_io_write(c->client, c->up.in.data, c->up.in.len))
        return;
    hc_buf_reset(&c->up.in);
    c->client->cancel_fd = -1;
    c->up.io.cancel_fd = -1;
    c->client->timeout_ms = c->up.io.timeout_ms = -1;
    for (;;) {
        struct pollfd p[2] = { { .fd = c->client->fd, .events = POLLIN }, { .fd = c->up.io.fd, .events = POLLIN } };
        bool pend0 = hc_io_pending(c->client), pend1 = hc_io_pending(&c->up.io);
        if (!pend0 && !pend1 && poll(p, 2, -1) < 0)
            continue;
        if (pend0 || p[0].revents) {
            long n = hc_io_read(c->client, c->iobuf, IOBUF);
            if (n <= 0 || hc_io_write(&c->up.io, c->iobuf, (size_t)n))
                return;
        }
        if (pend1 || p[1].revents) {
            long n = hc_io_read(&c->up.io, c->iobuf, IOBUF);
            if (n <= 0 || hc_io_write(c->client, c->iobuf, (size_t)n))
                return;
        }
    }
}

/* Forward the response body. Returns 0 when complete, HC_ECANCELED when the
 * app went away, or another error (upstream failed mid-body). *close_up is set
 * when the upstream connection cannot be reused. */
static int forward_body(struct conn *c, struct exch *x, enum hc_framing fr, uint64_t clen, hc_sse_filter *f,
                        bool *close_up)
{
    uint64_t left = clen;
    hc_chunked ch;
    hc_chunked_init(&ch);
    for (;;) {
        if (fr == HC_BODY_NONE || (fr == HC_BODY_LENGTH && left == 0) || (fr == HC_BODY_CHUNKED && ch.done))
            break;
        if (!c->up.in.len) {
            long r = fill_upstream(c);
            if (r == 0 || r == HC_ECLOSED) {
                *close_up = true;
                if (fr == HC_BODY_CLOSE)
                    break;
                return HC_ECLOSED;
            }
            if (r < 0) {
                *close_up = true;
                return (int)r;
            }
        }
        const char *p = c->up.in.data;
        size_t n = c->up.in.len, used = n;
        if (fr == HC_BODY_LENGTH && (uint64_t)n > left)
            used = (size_t)left;
        if (fr == HC_BODY_CHUNKED) {
            size_t off = 0;
            while (off < n && !ch.done) {
                size_t doff, dlen;
                long k = hc_chunked_next(&ch, p + off, n - off, &doff, &dlen);
                if (k < 0) {
                    *close_up = true;
                    return HC_EPARSE;
                }
                if (dlen && on_body_data(c, x, f, p + off + doff, dlen))
                    return HC_ECANCELED;
                off += (size_t)k;
            }
            used = off;
        } else if (on_body_data(c, x, f, p, used)) {
            return HC_ECANCELED;
        }
        if (!f && hc_io_write(c->client, p, used))
            return HC_ECANCELED;
        if (fr == HC_BODY_LENGTH)
            left -= used;
        hc_buf_consume(&c->up.in, used);
    }
    if (f) {
        hc_buf out = HC_BUF_INIT;
        hc_sse_filter_finish(f, &out);
        int rc = write_chunk(c, out.data, out.len);
        hc_buf_free(&out);
        if (rc || hc_io_write(c->client, "0\r\n\r\n", 5))
            return HC_ECANCELED;
    }
    return 0;
}

/* Send the request and read the response head, once more on a new
 * connection if a reused one turns out stale. Returns the head length, or
 * < 0 with err set. */
static int send_request(struct conn *c, struct exch *x, hc_http_head *rh, char *err, size_t errlen)
{
    const char *body = x->sendbody.len ? x->sendbody.data : x->body.data;
    size_t blen = x->sendbody.len ? x->sendbody.len : x->body.len;
    hc_buf head = HC_BUF_INIT;
    build_upstream_head(c, x, &head, blen);
    int rc = HC_ECONNECT;
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = hc_upstream_open(c->core, &c->up, &x->target, c->client->fd, err, errlen);
        if (rc)
            break;
        bool reused = c->up.reused;
        int w;
        if (!x->streaming && blen && head.len + blen <= 16384) {
            /* One write for head and small body: one TLS record, one packet. */
            hc_buf one = HC_BUF_INIT;
            hc_buf_append(&one, head.data, head.len);
            hc_buf_append(&one, body, blen);
            w = hc_io_write(&c->up.io, one.data, one.len);
            hc_buf_free(&one);
        } else {
            w = hc_io_write(&c->up.io, head.data, head.len);
            if (!w && !x->streaming && blen)
                w = hc_io_write(&c->up.io, body, blen);
            else if (!w && x->streaming)
                w = pipe_request_body(c, x);
        }
        if (w == 0) {
            c->up.requests++;
            rc = read_response_head(c, rh);
            if (rc > 0)
                break;
        } else {
            rc = w;
        }
        if (rc == HC_ECANCELED)
            break;
        hc_upstream_close(&c->up);
        if (!reused || x->streaming) {
            snprintf(err, errlen, "%s %s", x->target.url,
                     rc == 0 ? "closed the connection without answering"
                     : rc == HC_ETIMEDOUT ? "did not answer in time"
                     : rc == HC_EPARSE ? "sent a response that is not HTTP/1.x"
                                       : "failed while sending the request");
            if (rc == 0)
                rc = HC_ECLOSED;
            break;
        }
        /* stale kept-alive connection: try once on a fresh one */
    }
    hc_buf_free(&head);
    return rc;
}

static bool request_wants_close(const hc_http_head *h)
{
    if (hc_http_header_has_token(h, "connection", "close"))
        return true;
    return h->minor_version == 0 && !hc_http_header_has_token(h, "connection", "keep-alive");
}

/* The host a request is for: the TLS name of the connection, or for plain
 * HTTP the Host header when it names an LLM host. */
static void request_host(struct conn *c, struct exch *x)
{
    snprintf(x->host, sizeof x->host, "%s", c->host);
    if (c->tls)
        return;
    const hc_header *h = hc_http_header(&x->req, "host");
    if (!h || !h->value_len || h->value_len >= sizeof x->host)
        return;
    char name[256];
    size_t n = h->value_len;
    const char *v = h->value;
    if (v[0] == '[') {
        const char *rb = memchr(v, ']', n);
        n = rb ? (size_t)(rb - v - 1) : 0;
        v++;
    } else {
        const char *colon = memchr(v, ':', n);
        if (colon)
            n = (size_t)(colon - v);
    }
    if (!n || n >= sizeof name)
        return;
    memcpy(name, v, n);
    name[n] = '\0';
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (c->core->shim->is_llm_host(name))
        snprintf(x->host, sizeof x->host, "%s", name);
}

static void exchange(struct conn *c, struct exch *x)
{
    hc_core *core = c->core;
    int64_t start_us = hc_now_us(), t0 = hc_mono_us();
    request_host(c, x);
    hc_capture_begin(&x->cap, core, x->host, &x->req, start_us, t0);
    hc_uuid_format(x->cap.rec.id, x->id);
    if (hc_opts_from_request(&x->opts, &core->cfg, &x->req) != 0) {
        c->close_after = true;
        send_error(c, x, 500, "out_of_memory", "out of memory");
        hc_capture_finish(&x->cap, NULL, 0);
        return;
    }
    hc_capture_set_opts(&x->cap, &x->opts);
    if (request_wants_close(&x->req))
        c->close_after = true;

    if (hc_http_framing(&x->req, false, NULL, 0, &x->framing, &x->clen) != 0) {
        c->close_after = true;
        send_error(c, x, 400, "bad_request", "invalid Content-Length or Transfer-Encoding");
        hc_capture_finish(&x->cap, NULL, 0);
        return;
    }
    if (hc_http_header_has_token(&x->req, "expect", "100-continue") && x->framing != HC_BODY_NONE &&
        hc_io_write(c->client, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0) {
        c->close_after = true;
        hc_capture_discard(&x->cap);
        return;
    }
    int rc = read_request_body(c, x);
    if (rc != 0) {
        c->close_after = true;
        if (rc == HC_EPARSE)
            send_error(c, x, 400, "bad_request", "malformed chunked request body");
        hc_capture_finish(&x->cap, rc == HC_EPARSE ? NULL : "the app closed the connection while sending the request",
                          HC_REC_CLIENT_ABORT);
        return;
    }
    hc_capture_request_done(&x->cap);
    hc_target_for(core, c->origin, x->host, c->tls, &x->target);
    hc_capture_set_upstream(&x->cap, x->target.url);

    const hc_request_info *ri = &x->cap.reqinfo;
    if (!x->streaming && x->opts.stream_usage && ri->stream && !ri->include_usage &&
        (x->cap.api == HC_API_CHAT || x->cap.api == HC_API_COMPLETIONS) && accepts_stream_options(x->cap.provider) &&
        hc_inject_include_usage(x->body.data, x->body.len, &x->sendbody) == 1) {
        x->inject = true;
        x->cap.rec.flags |= HC_REC_USAGE_INJECTED;
    }

    char err[512];
    hc_http_head rh;
    int hlen = send_request(c, x, &rh, err, sizeof err);
    if (hlen < 0) {
        if (hlen == HC_ECANCELED) {
            c->close_after = true;
            hc_capture_finish(&x->cap, "the app went away before the upstream answered", HC_REC_CLIENT_ABORT);
            return;
        }
        bool timeout = hlen == HC_ETIMEDOUT;
        send_error(c, x, timeout ? 504 : 502, timeout ? "upstream_timeout" : hlen == HC_ETLS ? "upstream_tls" : "upstream_unreachable",
                   "%s", err[0] ? err : hc_strerror(hlen));
        hc_capture_finish(&x->cap, NULL, 0);
        return;
    }
    hc_capture_attempt(&x->cap, rh.status, 0);

    enum hc_framing fr;
    uint64_t clen;
    bool close_up = false;
    if (hc_http_framing(&rh, true, x->req.method, x->req.method_len, &fr, &clen) != 0) {
        hc_upstream_close(&c->up);
        send_error(c, x, 502, "upstream_protocol", "%s sent an invalid Content-Length/Transfer-Encoding", x->target.url);
        hc_capture_finish(&x->cap, NULL, 0);
        return;
    }
    if (fr == HC_BODY_CLOSE || hc_http_header_has_token(&rh, "connection", "close") || rh.minor_version == 0)
        close_up = true;
    bool filtered = x->inject && rh.status == 200 && fr != HC_BODY_NONE && fr != HC_BODY_CLOSE &&
                    !hc_http_header(&rh, "content-encoding");
    hc_buf ch = HC_BUF_INIT;
    build_client_head(x, &rh, c->up.in.data, filtered, &ch);
    hc_capture_response_head(&x->cap, &rh);
    hc_buf_consume(&c->up.in, (size_t)hlen);
    int wrc = hc_io_write(c->client, ch.data, ch.len);
    hc_buf_free(&ch);
    x->head_sent = true;
    if (wrc != 0) {
        hc_upstream_close(&c->up);
        c->close_after = true;
        hc_capture_finish(&x->cap, "the app went away", HC_REC_CLIENT_ABORT);
        return;
    }
    if (rh.status == 101) {
        hc_capture_finish(&x->cap, NULL, 0);
        relay_upgraded(c);
        hc_upstream_close(&c->up);
        c->close_after = true;
        return;
    }
    if (fr == HC_BODY_CLOSE)
        c->close_after = true; /* the app reads until close too */

    hc_sse_filter filter;
    hc_sse_filter_init(&filter);
    c->client->timeout_ms = core->cfg.upstream_timeout_ms;
    rc = forward_body(c, x, fr, clen, filtered ? &filter : NULL, &close_up);
    hc_sse_filter_free(&filter);
    if (rc != 0) {
        hc_upstream_close(&c->up);
        c->close_after = true;
        if (rc == HC_ECANCELED)
            hc_capture_finish(&x->cap, "the app closed the connection during the response", HC_REC_CLIENT_ABORT);
        else
            hc_capture_finish(&x->cap, rc == HC_ETIMEDOUT ? "the upstream stopped sending (timeout) mid-response"
                                                           : "the upstream connection failed mid-response", 0);
        return;
    }
    if (close_up)
        hc_upstream_close(&c->up);
    hc_capture_finish(&x->cap, NULL, 0);
}

static void exch_free(struct exch *x)
{
    hc_buf_free(&x->head);
    hc_buf_free(&x->body);
    hc_buf_free(&x->sendbody);
    hc_opts_free(&x->opts);
}

void hc_proxy_serve(hc_core *core, hc_io *client, const hc_origin *origin, const char *host, bool tls)
{
    struct conn c;
    memset(&c, 0, sizeof c);
    c.core = core;
    c.client = client;
    c.origin = origin;
    c.host = host;
    c.tls = tls;
    c.up.io.fd = -1;
    c.iobuf = malloc(IOBUF);
    if (!c.iobuf)
        return;
    while (!c.close_after) {
        struct exch *x = calloc(1, sizeof *x);
        if (!x)
            break;
        int rc = read_request_head(&c, x);
        if (rc == 0)
            exchange(&c, x);
        exch_free(x);
        free(x);
        if (rc != 0)
            break;
        client->cancel_fd = -1;
    }
    hc_upstream_free(&c.up);
    hc_buf_free(&c.in);
    free(c.iobuf);
}
