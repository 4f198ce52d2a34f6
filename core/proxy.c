/* proxy.c — see proxy.h.
 *
 * DESIGN
 * - One exchange is a fixed sequence (exchange() at the end reads like it):
 *     request → options → plan (a Helicone host: which provider, unified.h)
 *     → policies (budgets, rate limits) → cache
 *     → upstream attempts (retries within a target, fallbacks across targets)
 *     → response → settle (cache store, spend accounting, record)
 *   Each step either passes the exchange on or answers the app itself.
 * - This file is the pipeline only; each step's policy lives in its module:
 *   gate.c (budgets, rate limits), cachereply.c (a cache hit's answer, an
 *   answer's storing), replay.c (cassettes), fallback.c and unified.c (the
 *   targets), gwerror.c (the error answers and their table). The record is
 *   built by capture.c, fed only through its API, with values (status,
 *   headers, body) — never by parsing back a text the gateway wrote.
 * - struct exch groups an exchange's state by concern: the request body
 *   (rb), the route through the targets (rt), the answer as the app gets it
 *   (ans), and the modules' own state (cap, cache, replay, gate).
 * - Buffers built here are checked before they are sent (buf.h: sticky
 *   errors); out of memory fails the exchange with the gateway's 500.
 * - Buffers: the app's bytes accumulate in conn.in (a request head is parsed
 *   from there, then copied so the parse survives reallocation); the request
 *   body is buffered up to HC_MAX_REQUEST so that it can be inspected,
 *   rewritten, retried and re-sent on a stale kept-alive connection. A larger
 *   (or unbounded chunked) body switches to streaming: what was read is sent
 *   and the rest is piped through, re-chunked — such a request gets no cache,
 *   retries or fallbacks (its body cannot be sent twice). Response bodies
 *   are never buffered: every read from the upstream is written to the app
 *   before the next read; only the capture (and, for cacheable answers, the
 *   cache) keep bounded copies.
 * - Retries and fallbacks are decided on the response HEAD, before anything
 *   reaches the app; a failed attempt's connection is closed (its body is
 *   never read), and waits end early if the app hangs up.
 * - Stale upstream connections: a kept-alive upstream connection may have
 *   been closed by the server while idle. If sending fails, or the response
 *   ends before its first byte, on a reused connection, the request is sent
 *   once more on a new connection (nothing reached the app yet).
 * - Errors before the response head reached the app become an HTTP error
 *   answer with a JSON body; after that, the app's connection is closed.
 * - Translation: a Claude model asked for on the unified endpoint goes to
 *   Anthropic's Messages API; the request body is translated once per target
 *   (prepare_body), the answer as it arrives (translate_data: a stream event
 *   by event, a whole body at its end). The capture sees the provider's own
 *   bytes (its usage, its format); the app and the cache see the translation.
 */
#include "proxy.h"
#include "buf.h"
#include "cachereply.h"
#include "capture.h"
#include "clock.h"
#include "err.h"
#include "redact.h"
#include "fallback.h"
#include "http.h"
#include "gate.h"
#include "gwerror.h"
#include "jsonedit.h"
#include "log.h"
#include "options.h"
#include "provider.h"
#include "replay.h"
#include "retry.h"
#include "streamfix.h"
#include "translate_anthropic.h"
#include "unified.h"
#include "upstream.h"

#include <cjson/cJSON.h>
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
    hc_core *core;
    hc_io *client;
    const hc_origin *origin;
    const char *host; /* SNI / registered host of the connection */
    bool tls;
    hc_buf in; /* bytes from the app not yet consumed */
    hc_upstream up;
    char *iobuf;
    bool close_after; /* close the app connection after this exchange */
};

/* The request body: how the app frames it, what was buffered, and, for one
 * too large to buffer, the state of piping the rest. */
struct reqbody {
    enum hc_framing framing;
    uint64_t clen;
    hc_buf body;      /* request body as read (buffered part) */
    hc_buf sendbody;  /* body as sent upstream to the current target */
    bool streaming;   /* the body did not fit: the rest is piped */
    bool continued;   /* we answered the app's Expect: 100-continue ourselves */
    uint64_t left;    /* LENGTH streaming: bytes still to pipe */
    hc_chunked chunk; /* CHUNKED: decoder state of the app's body */
};

/* Where the request goes: the targets tried in order (the request's own,
 * each model of a Helicone host's plan, then the fallbacks). */
struct route {
    hc_target target; /* the current target */
    hc_fallback *fb;  /* HC_MAX_FALLBACKS, allocated only for a request that has any */
    int nfb;
    const hc_fallback *cur_fb; /* the fallback being tried (NULL: the original target) */
    int fallback_idx;          /* -1: the original target answered */
    int64_t waited_us;         /* retry backoff waited, in total */
    /* Helicone hosts answered locally (unified.h) */
    hc_unified *uni; /* the plans, allocated only for a request to a Helicone host */
    int nuni;
    const hc_unified *cur_uni; /* the plan being tried (NULL: not unified, or a fallback target) */
    hc_codes uni_codes;        /* statuses that move on to the next model of the list */
};

/* The answer as the app receives it. */
struct answer {
    bool head_sent; /* the response head reached the app */
    enum {
        CF_RAW,     /* the upstream's body bytes, framing included, as they come */
        CF_CHUNKED, /* de-chunked data re-chunked by us (a filtered stream) */
        CF_CLOSE,   /* de-chunked data, delimited by closing (an HTTP/1.0 app) */
    } cf;           /* how the answer's body is framed for the app */
    hc_buf extra;   /* helicone-* headers the features add to the answer */
    hc_buf out;     /* body bytes for the app, gathered while one read is processed */
    bool gather;    /* emit() appends to out; forward_body sends it once per read */
    bool inject;    /* include_usage should be injected (app did not ask) */
    bool injected;  /* ... and was, into the current target's body: filter the stream */
    /* translation: an Anthropic Messages answer for an app that spoke chat completions */
    bool xa;        /* the current answer is translated */
    bool xa_stream; /* ... and is an SSE stream */
    hc_xa_stream xs;
    hc_buf xa_body; /* a whole Anthropic answer being gathered */
};

/* One exchange: a request and its answer, grouped by concern. */
struct exch {
    hc_buf head;      /* request head bytes (owned copy) */
    hc_http_head req; /* parsed from head */
    char host[256];   /* host this request is for */
    char id[HC_UUID_STRLEN + 1];
    enum hc_api app_api; /* the API the app spoke */
    hc_opts opts;
    struct reqbody rb;
    struct route rt;
    struct answer ans;
    hc_capture cap;
    hc_cachereply cache;  /* cache lookup, and the answer kept for the cache or a cassette */
    hc_replay_ctx replay; /* HC_REPLAY: record this answer to the cassette */
    hc_gate gate;         /* budgets and rate limits */
};

bool hc_proxy_looks_like_http(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < 16 && isupper(p[i]))
        i++;
    return i > 0 && (i == n || (i < 16 && p[i] == ' '));
}

/* ---- small helpers --------------------------------------------------- */

/* The helicone-id of the answer: the app's Helicone-Request-Id, or ours. */
static const char *answer_id(const struct exch *x)
{
    return x->opts.request_id[0] ? x->opts.request_id : x->id;
}

/* Answer the app with a gateway error (gwerror.h), and give the capture
 * what was sent: its status, headers and body as values. x is NULL before
 * an exchange exists (nothing is recorded). */
static void send_error(struct conn *c, struct exch *x, int status, const char *code,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void send_error(struct conn *c, struct exch *x, int status, const char *code,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hc_gwerror e = { .status = status,
                     .code = code,
                     .message = msg,
                     .request_id = x ? answer_id(x) : NULL,
                     .extra = x ? &x->ans.extra : NULL,
                     .closing = c->close_after };
    hc_gwerror_sent sent;
    if (hc_gwerror_send(c->client, &e, &sent) != 0)
        c->close_after = true;
    if (x) {
        x->ans.head_sent = true;
        hc_capture_response(&x->cap, sent.status, sent.headers, sent.nheaders);
        hc_capture_response_data(&x->cap, sent.body.data, sent.body.len);
        hc_capture_set_error(&x->cap, msg);
    }
    hc_buf_free(&sent.body);
}

/* Read more from the app into c->in. > 0 bytes, 0 EOF, < 0 error. idle:
 * nothing of a request is buffered yet (hc_io_read_idle: poll first). */
static long fill_client(struct conn *c, bool idle)
{
    if (hc_buf_reserve(&c->in, IOBUF))
        return HC_ENOMEM;
    char *at = c->in.data + c->in.len;
    long n = idle ? hc_io_read_idle(c->client, at, IOBUF) : hc_io_read(c->client, at, IOBUF);
    if (n > 0) {
        c->in.len += (size_t)n;
        c->in.data[c->in.len] = '\0';
    }
    return n;
}

/* Read more from the upstream into c->up.in. idle: the request was just
 * sent and nothing of the answer is buffered (poll first). */
static long fill_upstream(struct conn *c, bool idle)
{
    if (hc_buf_reserve(&c->up.in, IOBUF))
        return HC_ENOMEM;
    char *at = c->up.in.data + c->up.in.len;
    long n = idle ? hc_io_read_idle(&c->up.io, at, IOBUF) : hc_io_read(&c->up.io, at, IOBUF);
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
                if (hc_buf_append(&x->head, c->in.data, (size_t)n) != 0) {
                    c->close_after = true;
                    send_error(c, NULL, 500, "out_of_memory", "the gateway is out of memory");
                    return HC_ENOMEM;
                }
                hc_buf_consume(&c->in, (size_t)n);
                hc_http_parse_request(x->head.data, x->head.len, &x->req);
                c->client->timeout_ms = c->core->cfg.connect_timeout_ms;
                return 0;
            }
            if (n == HC_EPARSE &&
                hc_http_count_header_lines(c->in.data, c->in.len) > HC_HTTP_MAX_HEADERS) {
                c->close_after = true;
                send_error(c, NULL, 431, "head_too_large", "more than %d header fields",
                           HC_HTTP_MAX_HEADERS);
                return HC_ETOOBIG;
            }
            if (n == HC_EPARSE) {
                c->close_after = true;
                send_error(c, NULL, 400, "bad_request", "the request is not valid HTTP/1.1");
                return HC_EPARSE;
            }
            if (c->in.len > MAX_HEAD) {
                c->close_after = true;
                send_error(c, NULL, 431, "head_too_large", "request head larger than %d bytes",
                           MAX_HEAD);
                return HC_ETOOBIG;
            }
        }
        long r = fill_client(c, c->in.len == 0);
        if (r == 0)
            return c->in.len ? HC_ECLOSED : 1;
        if (r < 0)
            return (int)r;
        c->client->timeout_ms =
            c->core->cfg.connect_timeout_ms; /* the rest of a head comes promptly */
    }
}

/* Read the body into x->rb.body, up to the buffering bound. 0 complete (or
 * x->rb.streaming with the buffered part in x->rb.body), < 0 error. */
static int read_request_body(struct conn *c, struct exch *x)
{
    size_t max = c->core->cfg.max_req_buffer;
    if (x->rb.framing == HC_BODY_LENGTH) {
        uint64_t want = x->rb.clen;
        while ((uint64_t)x->rb.body.len < want) {
            if (!c->in.len) {
                long r = fill_client(c, false);
                if (r <= 0)
                    return r == 0 ? HC_ECLOSED : (int)r;
            }
            size_t take = c->in.len;
            if ((uint64_t)take > want - x->rb.body.len)
                take = (size_t)(want - x->rb.body.len);
            if (x->rb.body.len + take > max) {
                x->rb.streaming = true;
                x->rb.left = want - x->rb.body.len;
                return 0;
            }
            if (hc_buf_append(&x->rb.body, c->in.data, take) != 0)
                return HC_ENOMEM;
            hc_capture_request_body(&x->cap, c->in.data, take);
            hc_buf_consume(&c->in, take);
        }
        return 0;
    }
    if (x->rb.framing == HC_BODY_CHUNKED) {
        hc_chunked_init(&x->rb.chunk);
        while (!x->rb.chunk.done) {
            if (!c->in.len) {
                long r = fill_client(c, false);
                if (r <= 0)
                    return r == 0 ? HC_ECLOSED : (int)r;
            }
            size_t doff, dlen;
            long n = hc_chunked_next(&x->rb.chunk, c->in.data, c->in.len, &doff, &dlen);
            if (n < 0)
                return HC_EPARSE;
            if (dlen) {
                if (x->rb.body.len + dlen > max) {
                    /* Keep the undecoded rest in c->in; the streaming path re-reads it. */
                    if (hc_buf_append(&x->rb.body, c->in.data + doff, dlen) != 0)
                        return HC_ENOMEM;
                    hc_capture_request_body(&x->cap, c->in.data + doff, dlen);
                    hc_buf_consume(&c->in, (size_t)n);
                    x->rb.streaming = true;
                    return 0;
                }
                if (hc_buf_append(&x->rb.body, c->in.data + doff, dlen) != 0)
                    return HC_ENOMEM;
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
    static const char *const ok[] = { "openai",   "azure",     "deepseek", "xai", "openrouter",
                                      "together", "fireworks", "groq",     NULL };
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

/* True if the current fallback replaces the request header `name`. */
static bool overridden(const struct exch *x, const char *name, size_t len)
{
    if (!x->rt.cur_fb)
        return false;
    hc_pairs pl = { x->rt.cur_fb->headers.data, (uint32_t)x->rt.cur_fb->headers.len };
    uint32_t pos = 0;
    const char *n, *v;
    while (hc_pairs_next(&pl, &pos, &n, &v))
        if (hc_span_ieq(name, len, n))
            return true;
    return false;
}

/* Headers that carry the app's API key. */
static bool is_credential_header(const char *n, size_t l)
{
    return hc_span_ieq(n, l, "authorization") || hc_span_ieq(n, l, "x-api-key") ||
           hc_span_ieq(n, l, "api-key") || hc_span_ieq(n, l, "x-goog-api-key");
}

/* The request head as sent upstream. 0, or the buffer's error (out of
 * memory): then the head is incomplete and must not be sent. */
static int build_upstream_head(const hc_core *core, struct exch *x, hc_buf *out, size_t body_len)
{
    const hc_http_head *h = &x->req;
    bool upgrade = hc_http_header(h, "upgrade") != NULL;
    const hc_unified *u = x->rt.cur_uni;
    if (u)
        hc_buf_printf(out, "%.*s %s%s HTTP/1.1\r\n", (int)h->method_len, h->method,
                      x->rt.target.prefix, u->path);
    else
        hc_buf_printf(out, "%.*s %s%.*s HTTP/1.1\r\n", (int)h->method_len, h->method,
                      x->rt.target.prefix, (int)h->target_len, h->target);
    bool have_host = false, have_version = false;
    for (size_t i = 0; i < h->nheaders; i++) {
        const hc_header *hd = &h->headers[i];
        if ((hc_is_helicone_header(hd->name, hd->name_len) && !(u && u->passthrough)) ||
            is_hop_header(hd->name, hd->name_len, upgrade) || overridden(x, hd->name, hd->name_len))
            continue;
        if ((x->ans.inject || (u && u->anthropic)) &&
            hc_span_ieq(hd->name, hd->name_len, "accept-encoding"))
            continue;
        if (u && u->own_auth && is_credential_header(hd->name, hd->name_len))
            continue; /* the Helicone key: the provider's own key replaces it */
        if (!u && x->rt.cur_fb && x->rt.nuni && x->rt.uni[0].own_auth &&
            is_credential_header(hd->name, hd->name_len))
            /* a fallback target of a unified request: the app's key is Helicone's,
             * not this host's */
            continue;
        if (core->private_header &&
            core->private_header(hd->name, hd->name_len, hd->value, hd->value_len))
            continue; /* hc-gateway's own token: it is for the gateway, not the provider */
        if (hc_span_ieq(hd->name, hd->name_len, "anthropic-version"))
            have_version = true;
        if (hc_span_ieq(hd->name, hd->name_len, "host")) {
            have_host = true;
            if (x->rt.target.authority[0]) {
                hc_buf_printf(out, "Host: %s\r\n", x->rt.target.authority);
                continue;
            }
        }
        hc_buf_append(out, hd->name, hd->name_len);
        hc_buf_puts(out, ": ");
        hc_buf_append(out, hd->value, hd->value_len);
        hc_buf_puts(out, "\r\n");
    }
    if (!have_host)
        hc_buf_printf(out, "Host: %s\r\n",
                      x->rt.target.authority[0] ? x->rt.target.authority : x->host);
    if (u && u->own_auth)
        hc_buf_printf(out, "%s: %s\r\n", u->auth_name, u->auth_value);
    if (u && u->anthropic && !have_version)
        hc_buf_puts(out, "anthropic-version: 2023-06-01\r\n");
    if (x->rt.cur_fb) {
        hc_pairs pl = { x->rt.cur_fb->headers.data, (uint32_t)x->rt.cur_fb->headers.len };
        uint32_t pos = 0;
        const char *n, *v;
        while (hc_pairs_next(&pl, &pos, &n, &v))
            hc_buf_printf(out, "%s: %s\r\n", n, v);
    }
    if (x->rb.streaming) {
        if (x->rb.framing == HC_BODY_CHUNKED)
            hc_buf_puts(out, "Transfer-Encoding: chunked\r\n");
        else
            hc_buf_printf(out, "Content-Length: %llu\r\n", (unsigned long long)x->rb.clen);
    } else if (x->rb.framing != HC_BODY_NONE || body_len) {
        hc_buf_printf(out, "Content-Length: %zu\r\n", body_len);
    }
    hc_buf_puts(out, "\r\n");
    return hc_buf_error(out);
}

/* Pipe the rest of a streaming request body from the app to the upstream. */
static int pipe_request_body(struct conn *c, struct exch *x)
{
    bool chunked = x->rb.framing == HC_BODY_CHUNKED;
    if (chunked && x->rb.body.len) {
        char hdr[32];
        int n = snprintf(hdr, sizeof hdr, "%zx\r\n", x->rb.body.len);
        if (hc_io_write(&c->up.io, hdr, (size_t)n) ||
            hc_io_write(&c->up.io, x->rb.body.data, x->rb.body.len) ||
            hc_io_write(&c->up.io, "\r\n", 2))
            return HC_EIO;
    } else if (x->rb.body.len && hc_io_write(&c->up.io, x->rb.body.data, x->rb.body.len)) {
        return HC_EIO;
    }
    for (;;) {
        if (!chunked && x->rb.left == 0)
            return 0;
        if (chunked && x->rb.chunk.done)
            return hc_io_write(&c->up.io, "0\r\n\r\n", 5) ? HC_EIO : 0;
        if (!c->in.len) {
            long r = fill_client(c, false);
            if (r <= 0)
                return r == 0 ? HC_ECLOSED : (int)r;
        }
        if (!chunked) {
            size_t take = c->in.len;
            if ((uint64_t)take > x->rb.left)
                take = (size_t)x->rb.left;
            if (hc_io_write(&c->up.io, c->in.data, take))
                return HC_EIO;
            hc_capture_request_body(&x->cap, c->in.data, take);
            hc_buf_consume(&c->in, take);
            x->rb.left -= take;
        } else {
            size_t doff, dlen;
            long n = hc_chunked_next(&x->rb.chunk, c->in.data, c->in.len, &doff, &dlen);
            if (n < 0)
                return HC_EPARSE;
            if (dlen) {
                char hdr[32];
                int hn = snprintf(hdr, sizeof hdr, "%zx\r\n", dlen);
                if (hc_io_write(&c->up.io, hdr, (size_t)hn) ||
                    hc_io_write(&c->up.io, c->in.data + doff, dlen) ||
                    hc_io_write(&c->up.io, "\r\n", 2))
                    return HC_EIO;
                hc_capture_request_body(&x->cap, c->in.data + doff, dlen);
            }
            hc_buf_consume(&c->in, (size_t)n);
        }
    }
}

/* ---- response side ------------------------------------------------------ */

/* Read the response head into *h. Informational answers (1xx but 101: 100
 * Continue, 103 Early Hints) are passed to an HTTP/1.1 app as they come, as
 * without the gateway (but not a second 100 Continue when the gateway sent
 * one), and skipped. Returns the head length in c->up.in, 0 if the upstream
 * closed before sending anything, or < 0 on error. */
static int read_response_head(struct conn *c, const struct exch *x, hc_http_head *h)
{
    for (;;) {
        if (c->up.in.len) {
            int n = hc_http_parse_response(c->up.in.data, c->up.in.len, h);
            if (n > 0) {
                if (h->status >= 100 && h->status < 200 && h->status != 101) {
                    if (x->req.minor_version == 1 && !(h->status == 100 && x->rb.continued) &&
                        hc_io_write(c->client, c->up.in.data, (size_t)n) != 0)
                        return HC_ECANCELED; /* the app went away */
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
        long r = fill_upstream(c, empty);
        if (r == 0 || r == HC_ECLOSED)
            return empty ? 0 : HC_ECLOSED;
        if (r < 0)
            return (int)r;
    }
}

static bool is_framing_header(const char *n, size_t l)
{
    return hc_span_ieq(n, l, "content-length") || hc_span_ieq(n, l, "transfer-encoding") ||
           hc_span_ieq(n, l, "connection") || hc_span_ieq(n, l, "keep-alive");
}

/* The response head for the app: the upstream's lines exactly as sent, plus
 * helicone-id and the features' headers. The framing headers follow x->ans.cf;
 * `closing` replaces the connection headers with "Connection: close". When
 * the answer may be cached, cache_head gets the same head minus framing,
 * helicone-* and Set-Cookie headers (a cookie is not for other requests). */
static int build_client_head(struct exch *x, const hc_http_head *h, const char *raw, bool closing,
                             hc_buf *out, hc_buf *cache_head)
{
    const char *eol = memchr(raw, '\n', MAX_HEAD);
    hc_buf_append(out, raw, (size_t)(eol - raw) + 1);
    if (cache_head)
        hc_buf_append(cache_head, raw, (size_t)(eol - raw) + 1);
    for (size_t i = 0; i < h->nheaders; i++) {
        const hc_header *hd = &h->headers[i];
        const char *ls = hd->name, *le = memchr(hd->value + hd->value_len, '\n', MAX_HEAD);
        size_t ll = (size_t)(le - ls) + 1;
        bool framing = is_framing_header(hd->name, hd->name_len);
        bool body_framing = hc_span_ieq(hd->name, hd->name_len, "content-length") ||
                            hc_span_ieq(hd->name, hd->name_len, "transfer-encoding");
        bool conn = hc_span_ieq(hd->name, hd->name_len, "connection") ||
                    hc_span_ieq(hd->name, hd->name_len, "keep-alive");
        if (!(x->ans.cf != CF_RAW && body_framing) && !(closing && conn))
            hc_buf_append(out, ls, ll);
        if (cache_head && !framing && !hc_is_helicone_header(hd->name, hd->name_len) &&
            !hc_span_ieq(hd->name, hd->name_len, "set-cookie"))
            hc_buf_append(cache_head, ls, ll);
    }
    /* header lines past the parser's table: none the gateway interprets (http.h) */
    if (h->extra_len) {
        hc_buf_append(out, h->extra, h->extra_len);
        if (cache_head)
            hc_buf_append(cache_head, h->extra, h->extra_len);
    }
    if (x->ans.cf == CF_CHUNKED)
        hc_buf_puts(out, "Transfer-Encoding: chunked\r\n");
    if (closing)
        hc_buf_puts(out, "Connection: close\r\n");
    hc_buf_printf(out, "helicone-id: %s\r\n", answer_id(x));
    hc_buf_append_buf(out, &x->ans.extra);
    hc_buf_puts(out, "\r\n");
    return hc_buf_error(out);
}

/* Keep what the app receives (de-chunked) for the cache, within the body bound. */
static void cache_keep(struct conn *c, struct exch *x, const char *p, size_t n)
{
    hc_cachereply_keep(&x->cache, c->core->cfg.max_body, p, n);
}

/* Body data for the app when we frame it ourselves (x->ans.cf != CF_RAW). */
static int emit(struct conn *c, struct exch *x, const char *p, size_t n)
{
    if (!n)
        return 0;
    if (x->ans.gather)
        return hc_buf_append(&x->ans.out, p, n) ? HC_ENOMEM : 0;
    return x->ans.cf == CF_CHUNKED ? hc_io_write_chunk(c->client, p, n)
                                   : hc_io_write(c->client, p, n);
}

/* Send what emit() gathered from one read of the upstream: a read holding
 * many small events (a fast stream) becomes one TLS record and one write, not
 * one per event; nothing waits for the next read. */
static int emit_gathered(struct conn *c, struct exch *x)
{
    if (!x->ans.out.len)
        return 0;
    bool g = x->ans.gather;
    x->ans.gather = false;
    int rc = emit(c, x, x->ans.out.data, x->ans.out.len);
    x->ans.gather = g;
    hc_buf_reset(&x->ans.out);
    return rc;
}

/* Anthropic answer bytes for an app that spoke chat completions: a stream
 * is translated event by event; a whole body is gathered (bounded) and
 * translated at its end (translate_end). */
static int translate_data(struct conn *c, struct exch *x, const char *p, size_t n)
{
    if (!x->ans.xa_stream) {
        if (x->ans.xa_body.len + n > c->core->cfg.max_req_buffer)
            return HC_ETOOBIG;
        return hc_buf_append(&x->ans.xa_body, p, n) ? HC_ENOMEM : 0;
    }
    hc_buf out = HC_BUF_INIT;
    int rc = hc_xa_stream_feed(&x->ans.xs, p, n, &out);
    if (rc == 0)
        rc = hc_buf_error(&out);
    if (rc == 0 && out.len) {
        cache_keep(c, x, out.data, out.len);
        rc = emit(c, x, out.data, out.len);
    }
    hc_buf_free(&out);
    return rc;
}

static int translate_end(struct conn *c, struct exch *x)
{
    hc_buf out = HC_BUF_INIT;
    if (x->ans.xa_stream)
        hc_xa_stream_finish(&x->ans.xs, &out);
    else if (hc_xa_response(x->ans.xa_body.data ? x->ans.xa_body.data : "", x->ans.xa_body.len,
                            x->cap.rec.status, hc_now_us() / 1000000, &out) != 0)
        hc_buf_append(&out, x->ans.xa_body.data ? x->ans.xa_body.data : "",
                      x->ans.xa_body.len); /* not JSON: as it came */
    int rc = hc_buf_error(&out);
    if (rc == 0 && out.len) {
        cache_keep(c, x, out.data, out.len);
        rc = emit(c, x, out.data, out.len);
    }
    hc_buf_free(&out);
    return rc;
}

/* Body data (de-chunked) of the response: capture it; when filtering, pass it
 * through the filter; when we frame the body ourselves, send it. */
static int on_body_data(struct conn *c, struct exch *x, hc_sse_filter *f, const char *p, size_t n)
{
    hc_capture_response_data(&x->cap, p, n);
    if (x->ans.xa)
        return translate_data(c, x, p, n);
    if (!f) {
        cache_keep(c, x, p, n);
        return x->ans.cf == CF_RAW ? 0 : emit(c, x, p, n);
    }
    hc_buf out = HC_BUF_INIT;
    int rc = hc_sse_filter_feed(f, p, n, &out);
    if (rc == 0)
        rc = hc_buf_error(&out);
    if (rc == 0) {
        cache_keep(c, x, out.data ? out.data : "", out.len);
        rc = emit(c, x, out.data, out.len);
    }
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
        struct pollfd p[2] = { { .fd = c->client->fd, .events = POLLIN },
                               { .fd = c->up.io.fd, .events = POLLIN } };
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
static int forward_body(struct conn *c, struct exch *x, enum hc_framing fr, uint64_t clen,
                        hc_sse_filter *f, size_t present, bool *close_up)
{
    uint64_t left = clen;
    hc_chunked ch;
    hc_chunked_init(&ch);
    x->ans.gather = x->ans.cf != CF_RAW;
    for (;;) {
        if (fr == HC_BODY_NONE || (fr == HC_BODY_LENGTH && left == 0) ||
            (fr == HC_BODY_CHUNKED && ch.done))
            break;
        if (!c->up.in.len) {
            long r = fill_upstream(c, false);
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
        if (x->ans.cf == CF_RAW) {
            size_t s = present < used ? present : used; /* went out with the head already */
            present -= s;
            if (used > s && hc_io_write(c->client, p + s, used - s))
                return HC_ECANCELED;
        } else if (emit_gathered(c, x)) {
            return HC_ECANCELED;
        }
        if (fr == HC_BODY_LENGTH)
            left -= used;
        hc_buf_consume(&c->up.in, used);
    }
    x->ans.gather = false;
    if (emit_gathered(c, x))
        return HC_ECANCELED;
    if (x->ans.xa && translate_end(c, x))
        return HC_ECANCELED;
    if (f) {
        hc_buf out = HC_BUF_INIT;
        hc_sse_filter_finish(f, &out);
        int rc = hc_buf_error(&out);
        if (rc == 0) {
            cache_keep(c, x, out.data ? out.data : "", out.len);
            rc = emit(c, x, out.data, out.len);
        }
        hc_buf_free(&out);
        if (rc)
            return HC_ECANCELED;
    }
    if (x->ans.cf == CF_CHUNKED && hc_io_write(c->client, "0\r\n\r\n", 5))
        return HC_ECANCELED;
    return 0;
}

/* Send the request and read the response head, once more on a new
 * connection if a reused one turns out stale. Returns the head length, or
 * < 0 with err set. */
static int send_request(struct conn *c, struct exch *x, hc_http_head *rh, char *err, size_t errlen)
{
    const char *body = x->rb.sendbody.data ? x->rb.sendbody.data : x->rb.body.data;
    size_t blen = x->rb.sendbody.data ? x->rb.sendbody.len : x->rb.body.len;
    hc_buf head = HC_BUF_INIT;
    int rc = build_upstream_head(c->core, x, &head, blen);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory while building the request for %s", x->rt.target.url);
        hc_buf_free(&head);
        return rc;
    }
    rc = HC_ECONNECT;
    for (int attempt = 0; attempt < 2; attempt++) {
        c->up.can_resend = !x->rb.streaming; /* a piped body cannot be sent twice */
        rc = hc_upstream_open(c->core, &c->up, &x->rt.target, c->client->fd, err, errlen);
        if (rc)
            break;
        bool reused = c->up.reused;
        int w;
        if (!x->rb.streaming && blen && head.len + blen <= 16384) {
            /* One write for head and small body: one TLS record, one packet. */
            hc_buf one = HC_BUF_INIT;
            hc_buf_append_buf(&one, &head);
            hc_buf_append(&one, body, blen);
            w = hc_io_write_buf(&c->up.io, &one);
            hc_buf_free(&one);
        } else {
            w = hc_io_write_buf(&c->up.io, &head);
            if (!w && !x->rb.streaming && blen)
                w = hc_io_write(&c->up.io, body, blen);
            else if (!w && x->rb.streaming)
                w = pipe_request_body(c, x);
        }
        if (w == 0) {
            c->up.requests++;
            rc = read_response_head(c, x, rh);
            if (rc > 0)
                break;
        } else {
            rc = w;
        }
        if (rc == HC_ECANCELED || rc == HC_ENOMEM)
            break;
        hc_upstream_close(&c->up);
        if (!reused || x->rb.streaming) {
            snprintf(err, errlen, "%s %s", x->rt.target.url,
                     rc == 0              ? "closed the connection without answering"
                     : rc == HC_ETIMEDOUT ? "did not answer in time"
                     : rc == HC_EPARSE    ? "sent a response that is not HTTP/1.x"
                     : rc == HC_ETOOBIG   ? "sent a response head larger than 64 KiB"
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
    hc_strlcpy(x->host, sizeof x->host, c->host);
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
        hc_strlcpy(x->host, sizeof x->host, name);
}

/* ---- policies and cache (gate.h, cachereply.h) ----------------------------- */

/* Budgets, then rate limits. Returns true if the request was answered (429). */
static bool policy_gate(struct conn *c, struct exch *x, int64_t now_us)
{
    hc_gate_refusal why;
    if (!hc_gate_check(&x->gate, c->core, &x->opts, &x->cap, &x->ans.extra, now_us, &why))
        return false;
    send_error(c, x, why.status, why.code, "%s", why.message);
    hc_capture_finish(&x->cap, NULL, why.flags);
    return true;
}

/* Answer from the cache. Returns true if the app was answered. */
static bool cache_gate(struct conn *c, struct exch *x, int64_t now_us)
{
    hc_cachereply_req rq = { .opts = &x->opts,
                             .host = x->host,
                             .req = &x->req,
                             .body = x->rb.body.data,
                             .len = x->rb.body.len,
                             .streaming = x->rb.streaming,
                             .id = answer_id(x),
                             .resp_extra = &x->ans.extra };
    bool gone = false;
    if (!hc_cachereply_gate(&x->cache, c->core, c->client, &x->cap, &rq, now_us, &gone))
        return false;
    if (gone)
        c->close_after = true;
    return true;
}

/* ---- upstream attempts: retries and fallbacks ------------------------------- */

/* The body for the current target: fallback overrides, then include_usage. */
static int prepare_body(struct exch *x)
{
    hc_buf_free(&x->rb.sendbody);
    hc_buf over = HC_BUF_INIT;
    const char *b = x->rb.body.data ? x->rb.body.data : "";
    size_t n = x->rb.body.len;
    bool changed = false;
    const hc_unified *u = x->rt.cur_uni;
    if (u && u->anthropic) {
        char why[200];
        x->ans.injected = false;
        return hc_xa_request(b, n, u->model, &x->rb.sendbody, why, sizeof why) == 0 ? 0 : HC_EPARSE;
    }
    if (u && u->model[0] && strcmp(u->model, x->cap.model_req) != 0) {
        /* "gpt-4o/openai" or a model list: the provider gets its own name. */
        hc_buf q = HC_BUF_INIT;
        hc_buf_puts(&q, "\"");
        hc_json_escape(&q, u->model);
        hc_buf_puts(&q, "\"");
        int rc = hc_buf_error(&q) ? hc_buf_error(&q) : hc_json_set(b, n, "model", q.data, &over);
        hc_buf_free(&q);
        if (rc == 0) {
            b = over.data;
            n = over.len;
            changed = true;
        } else {
            hc_buf_free(&over);
        }
    }
    if (x->rt.cur_fb) {
        int rc = hc_fallback_body(x->rt.cur_fb, b, n, &over);
        if (rc < 0) {
            hc_buf_free(&over);
            return rc;
        }
        if (rc == 1) {
            b = over.data;
            n = over.len;
            changed = true;
        }
    }
    x->ans.injected = false;
    if (x->ans.inject && (!u || accepts_stream_options(u->provider)) &&
        hc_inject_include_usage(b, n, &x->rb.sendbody) == 1) {
        x->ans.injected = true;
        hc_buf_free(&over);
        return 0;
    }
    hc_buf_free(&x->rb.sendbody);
    if (changed) {
        x->rb.sendbody = over; /* take it */
        return 0;
    }
    hc_buf_free(&over);
    return 0;
}

/* Point x->rt.target at fallback f (NULL: the original target). */
static void select_target(struct conn *c, struct exch *x, const hc_fallback *f)
{
    x->rt.cur_fb = f;
    hc_capture_set_api(&x->cap,
                       x->rt.cur_uni && x->rt.cur_uni->anthropic ? HC_API_MESSAGES : x->app_api);
    if (x->rt.cur_uni) {
        /* A Helicone host: the plan's provider, routed like any other host (HC_ROUTE). */
        const hc_unified *u = x->rt.cur_uni;
        const hc_route *r = hc_config_route(&c->core->cfg, u->host);
        hc_route hr;
        const char *hu = u->passthrough ? getenv("HC_HELICONE_URL") : NULL;
        if (hu && *hu && hc_route_parse_url(hu, &hr) == 0)
            r = &hr;
        memset(&x->rt.target, 0, sizeof x->rt.target);
        x->rt.target.routed = true;
        x->rt.target.tls = r ? r->tls : true;
        x->rt.target.port = r ? r->port : 443;
        hc_strlcpy(x->rt.target.name, sizeof x->rt.target.name, r ? r->target : u->host);
        hc_strlcpy(x->rt.target.authority, sizeof x->rt.target.authority,
                   r ? r->authority : u->host);
        hc_strlcpy(x->rt.target.prefix, sizeof x->rt.target.prefix, r ? r->prefix : "");
        snprintf(x->rt.target.url, sizeof x->rt.target.url, "%s://%s%s",
                 x->rt.target.tls ? "https" : "http", x->rt.target.authority, x->rt.target.prefix);
        hc_capture_set_provider(&x->cap, u->provider);
    } else if (!f || !f->has_target) {
        hc_target_for(c->core, c->origin, x->host, c->tls, &x->rt.target);
        hc_capture_set_provider(&x->cap, hc_provider_for_host(x->host, 0));
    } else {
        /* The fallback's host is routed like any other (HC_ROUTE). */
        const hc_route *r = hc_config_route(&c->core->cfg, f->target.host);
        const hc_route *use = r ? r : &f->target;
        memset(&x->rt.target, 0, sizeof x->rt.target);
        x->rt.target.tls = use->tls;
        x->rt.target.routed = true;
        x->rt.target.port = use->port;
        hc_strlcpy(x->rt.target.name, sizeof x->rt.target.name, use->target);
        hc_strlcpy(x->rt.target.authority, sizeof x->rt.target.authority, use->authority);
        snprintf(x->rt.target.prefix, sizeof x->rt.target.prefix, "%s%s", r ? r->prefix : "",
                 f->target.prefix);
        char url[sizeof x->rt.target.url];
        snprintf(url, sizeof url, "%s://%s%s", x->rt.target.tls ? "https" : "http",
                 x->rt.target.authority, x->rt.target.prefix);
        hc_url_redact(x->rt.target.url, sizeof x->rt.target.url,
                      url); /* shown, never a credential */
        hc_capture_set_provider(&x->cap, hc_provider_for_host(f->target.host, 0));
    }
    hc_capture_set_upstream(&x->cap, x->rt.target.url);
}

/* Wait us microseconds unless the app hangs up first (then HC_ECANCELED). */
static int backoff_wait(struct conn *c, int64_t us)
{
    int64_t until = hc_mono_us() + us;
    for (;;) {
        int64_t left = until - hc_mono_us();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = c->client->fd, .events = POLLRDHUP };
        int r = poll(&p, 1, (int)((left + 999) / 1000));
        if (r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
            return HC_ECANCELED;
    }
}

/* Send the request to the current target, retrying per the policy.
 * Returns the head length (> 0) with *rh filled, or < 0 with err set. */
static int attempt_target(struct conn *c, struct exch *x, hc_http_head *rh, char *err,
                          size_t errlen)
{
    hc_retry_policy pol = { x->rb.streaming ? 0 : x->opts.retries, x->opts.retry_factor,
                            x->opts.retry_min_us, x->opts.retry_max_us };
    int64_t waited = 0;
    for (int k = 0;; k++) {
        int hlen = send_request(c, x, rh, err, errlen);
        int status = hlen > 0 ? rh->status : 0;
        hc_capture_attempt(&x->cap, status, waited / 1000);
        if (status == 429)
            hc_capture_add_flags(&x->cap, HC_REC_RATE_LIMITED);
        if (hlen == HC_ECANCELED)
            return hlen;
        bool retryable =
            hc_retry_status(status) && hlen != HC_ETLS; /* a certificate does not heal */
        if ((hlen > 0 && !retryable) || k >= pol.retries || !retryable)
            return hlen;
        waited = hc_retry_wait_us(&pol, k, hlen > 0 ? rh : NULL, hc_now_us());
        if (hlen > 0) {
            hc_capture_attempt_headers(&x->cap, rh);
            hc_upstream_close(&c->up); /* discard the failed answer unread */
        }
        hc_capture_retry(&x->cap);
        x->rt.waited_us += waited;
        hc_log_debug("retry %d of %s in %lld ms (status %d)", k + 1, x->rt.target.url,
                     (long long)(waited / 1000), status);
        if (backoff_wait(c, waited) != 0)
            return HC_ECANCELED;
    }
}

/* The original target, then the fallbacks whose codes match the previous
 * failure. Returns the head length of the answer to forward, or < 0. */
static int upstream_answer(struct conn *c, struct exch *x, hc_http_head *rh, char *err,
                           size_t errlen)
{
    /* Candidates in order: the request's own target (for a Helicone host:
     * each model of its list), then the configured fallback targets. */
    int nown = x->rt.nuni ? x->rt.nuni : 1, total = nown + x->rt.nfb;
    int hlen = HC_ECONNECT, status = 0;
    for (int k = 0; k < total; k++) {
        const hc_fallback *f = k >= nown ? &x->rt.fb[k - nown] : NULL;
        if (k > 0) {
            const hc_codes *codes = f ? &f->codes : &x->rt.uni_codes;
            if (x->rb.streaming || (status != 0 && !hc_codes_has(codes, status)))
                break;
            if (hlen > 0)
                hc_upstream_close(&c->up); /* discard the previous target's failure */
        }
        x->rt.cur_uni = x->rt.nuni && k < nown ? &x->rt.uni[k] : NULL;
        select_target(c, x, f);
        if (prepare_body(x) != 0) {
            snprintf(err, errlen,
                     x->rt.cur_uni && x->rt.cur_uni->anthropic
                         ? "the request body is not a chat completions request to translate for "
                           "Anthropic"
                         : "fallback %d: the request body is not a JSON object to override",
                     k - 1);
            return HC_EINVAL;
        }
        x->rt.fallback_idx = k - 1;
        hlen = attempt_target(c, x, rh, err, errlen);
        if (hlen == HC_ECANCELED)
            return hlen;
        status = hlen > 0 ? rh->status : 0;
        if (hlen > 0 && k + 1 < total) {
            const hc_codes *next = k + 1 >= nown ? &x->rt.fb[k + 1 - nown].codes : &x->rt.uni_codes;
            if (!hc_codes_has(next, status))
                break;
        } else if (hlen > 0) {
            break;
        }
    }
    hc_capture_set_route(&x->cap, x->rt.fallback_idx, x->rt.waited_us);
    if (x->rt.fallback_idx >= 0 && hlen > 0)
        hc_buf_printf(&x->ans.extra, "Helicone-Fallback-Index: %d\r\n", x->rt.fallback_idx);
    return hlen;
}

/* ---- the exchange ------------------------------------------------------------ */

/* After the answer: cache it, account its cost, record it. */
static void settle(struct conn *c, struct exch *x, int status, const char *error, uint32_t flags)
{
    hc_core *core = c->core;
    int64_t now = hc_now_us();
    int64_t cost = hc_capture_settle(&x->cap);
    if (!error)
        hc_cachereply_store(&x->cache, core, &x->cap, x->host, status, now);
    if (!error && x->replay.record && x->cache.body_ok && !hc_buf_error(&x->cache.head))
        hc_replay_save(&x->replay, &x->cap, status, x->cache.head.data, x->cache.head.len,
                       x->cache.body.data, x->cache.body.len);
    flags |= hc_gate_account(&x->gate, core, &x->opts, &x->cap, cost, now, x->id);
    hc_capture_finish(&x->cap, error, flags);
}

/* The Helicone-* headers are usable (else a 400 naming the header, never its
 * value, and false). body_unread: the app has not sent its body (Expect:
 * 100-continue): the connection closes after the answer. */
static bool headers_ok(struct conn *c, struct exch *x, bool body_unread)
{
    char err[300];
    int status = 400;
    const char *code = "bad_header";
    if (x->opts.bad_header[0])
        snprintf(err, sizeof err, "%s: %s", x->opts.bad_header, x->opts.bad_reason);
    else if (x->opts.fallback_on_header && !x->opts.fallback_model[0])
        snprintf(
            err, sizeof err,
            "Helicone-Fallback-OnCodes needs Helicone-Fallback-Model (the model to fall back to)");
    else if ((x->opts.fallback_model[0] || x->opts.fallbacks) && !x->rt.fb &&
             !(x->rt.fb = calloc(HC_MAX_FALLBACKS, sizeof *x->rt.fb))) {
        snprintf(err, sizeof err, "the gateway is out of memory");
        status = 503;
        code = "out_of_memory";
    } else if (x->rt.fb && !x->rt.nfb &&
               hc_fallbacks_build(&x->opts, x->rt.fb, HC_MAX_FALLBACKS, &x->rt.nfb, err,
                                  sizeof err) != 0)
        ;
    else
        return true;
    if (body_unread)
        c->close_after = true;
    send_error(c, x, status, code, "%s", err);
    hc_capture_finish(&x->cap, NULL, 0);
    return false;
}

/* Read the request body and decide its options. Returns false if the app
 * was answered (or went away) already. */
static bool take_request(struct conn *c, struct exch *x)
{
    hc_core *core = c->core;
    if (hc_opts_from_request(&x->opts, &core->cfg, &x->req) != 0) {
        c->close_after = true;
        send_error(c, x, 500, "out_of_memory", "out of memory");
        hc_capture_finish(&x->cap, NULL, 0);
        return false;
    }
    hc_capture_set_opts(&x->cap, &x->opts);
    if (request_wants_close(&x->req))
        c->close_after = true;
    if (hc_http_framing(&x->req, false, NULL, 0, &x->rb.framing, &x->rb.clen) != 0) {
        c->close_after = true;
        send_error(c, x, 400, "bad_request", "invalid Content-Length or Transfer-Encoding");
        hc_capture_finish(&x->cap, NULL, 0);
        return false;
    }
    bool expect = hc_http_header_has_token(&x->req, "expect", "100-continue") &&
                  x->rb.framing != HC_BODY_NONE;
    if (expect) {
        /* The app waits for our word before it sends the body: a request we
         * refuse gets its final answer now, without a 100 (RFC 9110 §10.1.1),
         * and the connection closes (its body is never read). */
        if (!headers_ok(c, x, true))
            return false;
        if (hc_io_write(c->client, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0) {
            c->close_after = true;
            hc_capture_discard(&x->cap);
            return false;
        }
        x->rb.continued = true;
    }
    int rc = read_request_body(c, x);
    if (rc != 0) {
        c->close_after = true;
        if (rc == HC_EPARSE) {
            send_error(c, x, 400, "bad_request", "malformed chunked request body");
            hc_capture_finish(&x->cap, NULL, 0);
        } else if (rc == HC_ENOMEM) {
            send_error(c, x, 500, "out_of_memory", "the gateway is out of memory");
            hc_capture_finish(&x->cap, NULL, 0);
        } else {
            hc_capture_finish(&x->cap, "the app closed the connection while sending the request",
                              HC_REC_CLIENT_ABORT);
        }
        return false;
    }
    hc_capture_request_done(&x->cap);
    if (!expect && !headers_ok(c, x, false))
        return false;
    const hc_request_info *ri = &x->cap.reqinfo;
    x->ans.inject = !x->rb.streaming && x->opts.stream_usage && ri->stream && !ri->include_usage &&
                    (x->cap.api == HC_API_CHAT || x->cap.api == HC_API_COMPLETIONS) &&
                    accepts_stream_options(x->cap.provider);
    return true;
}

/* A request to one of Helicone's hosts (unified.h): plan where it goes.
 * Model-form fallbacks (Helicone-Fallback-Model) become further models of
 * the plan; fallback targets stay as they are. Returns true if the app was
 * answered (a model, target or key problem). */
/* The app's own key answers the first target: fallbacks that only name
 * another model become more targets of the plan (their model's route);
 * fallbacks with targets of their own stay fallbacks. */
static void fallbacks_into_plan(struct exch *x)
{
    int keep = 0;
    for (int i = 0; i < x->rt.nfb; i++) {
        if (x->rt.fb[i].has_target) {
            x->rt.fb[keep++] = x->rt.fb[i];
            continue;
        }
        cJSON *o = x->rt.fb[i].override ? cJSON_Parse(x->rt.fb[i].override) : NULL;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "model");
        int st = 0;
        char e2[400];
        if (cJSON_IsString(m))
            hc_unified_plan_spec(&x->req, m->valuestring, x->rt.uni, &x->rt.nuni, &st, e2,
                                 sizeof e2);
        cJSON_Delete(o);
        hc_fallbacks_free(&x->rt.fb[i], 1);
    }
    x->rt.nfb = keep;
}

static bool unified_gate(struct conn *c, struct exch *x)
{
    char err[400];
    int status = 0;
    x->rt.uni = calloc(HC_UNIFIED_MAX, sizeof *x->rt.uni);
    if (!x->rt.uni) {
        send_error(c, x, 503, "out_of_memory", "the gateway is out of memory");
        hc_capture_finish(&x->cap, NULL, 0);
        return true;
    }
    int rc = hc_unified_plan(x->host, &x->req, x->rb.body.data ? x->rb.body.data : "",
                             x->rb.body.len, x->rt.uni, &x->rt.nuni, &status, err, sizeof err);
    if (rc == 0 && x->rt.nuni && x->rt.uni[0].own_auth && x->rt.fb)
        fallbacks_into_plan(x);
    if (rc != 0 && (status == 401 || status == 404 || status == 405 || status == 415) &&
        hc_provider_is_helicone(x->host)) {
        /* Fail open: the app's provider keys may be stored at Helicone (its
         * Helicone key is all it has). Without a local key for the model, or
         * for a request the local endpoint does not serve (GET /v1/models, a
         * path no provider plan covers), the request goes to Helicone's real
         * host exactly as sent (its
         * Authorization and Helicone-* headers, TLS verified as always) and
         * is recorded like any other exchange. HC_HELICONE_URL replaces
         * Helicone's address (a self-hosted Helicone, or a test's mock). */
        hc_unified *pu = &x->rt.uni[0];
        memset(pu, 0, sizeof *pu);
        pu->passthrough = true;
        hc_strlcpy(pu->host, sizeof pu->host, x->host);
        snprintf(pu->path, sizeof pu->path, "%.*s", (int)x->req.target_len, x->req.target);
        const char *pid = hc_unified_provider_of(x->cap.model_req);
        hc_strlcpy(pu->provider, sizeof pu->provider, pid);
        x->rt.nuni = 1;
        hc_log_warn_once("helicone_passthrough",
                         "%s: %s; such requests are passed to Helicone as sent (its key, "
                         "Helicone's service)",
                         x->host, err);
        hc_capture_set_provider(&x->cap, pu->provider);
        return false;
    }
    if (rc != 0 || !x->rt.nuni) {
        send_error(c, x, status ? status : 400,
                   status == 401   ? "no_provider_key"
                   : status == 404 ? "unsupported_path"
                   : status == 405 ? "method_not_allowed"
                   : status == 415 ? "unsupported_media_type"
                                   : "bad_model",
                   "%s", err);
        hc_capture_finish(&x->cap, NULL, 0);
        return true;
    }
    if (hc_codes_parse(x->opts.fallback_on[0] ? x->opts.fallback_on : "429,500,502,503,504",
                       &x->rt.uni_codes) != 0)
        hc_codes_parse("429,500,502,503,504", &x->rt.uni_codes);
    const hc_unified *u = &x->rt.uni[0];
    if (hc_provider_is_helicone(x->host))
        hc_log_warn_once("helicone_local",
                         "%s is answered locally: requests go straight to the providers, none to "
                         "Helicone (HC_HELICONE=cloud to reach Helicone's service)",
                         x->host);
    hc_capture_set_provider(&x->cap, u->provider);
    const hc_request_info *ri = &x->cap.reqinfo;
    x->ans.inject = !x->rb.streaming && x->opts.stream_usage && ri->stream && !ri->include_usage &&
                    (x->app_api == HC_API_CHAT || x->app_api == HC_API_COMPLETIONS);
    hc_log_debug("%s%.*s: model list planned as %d target(s), first %s via %s", x->host,
                 (int)x->req.target_len, x->req.target, x->rt.nuni, u->provider, u->host);
    return false;
}

/* How many of the body bytes already read (c->up.in, head consumed) belong to
 * this answer, for a raw relay: they can leave with the head, in one write
 * (one TLS record, one syscall, one wake-up of the app instead of two). */
static size_t body_bytes_buffered(struct conn *c, enum hc_framing fr, uint64_t clen)
{
    size_t n = c->up.in.len;
    switch (fr) {
    case HC_BODY_LENGTH: return (uint64_t)n < clen ? n : (size_t)clen;
    case HC_BODY_CLOSE: return n;
    case HC_BODY_CHUNKED: {
        hc_chunked ch;
        hc_chunked_init(&ch);
        size_t off = 0;
        while (off < n && !ch.done) {
            size_t doff, dlen;
            long k = hc_chunked_next(&ch, c->up.in.data + off, n - off, &doff, &dlen);
            if (k <= 0)
                break;
            off += (size_t)k;
        }
        return off;
    }
    default: return 0;
    }
}

/* How the answer's body reaches the app (x->ans.cf), given the upstream's
 * framing fr: as it comes, or re-framed by us when we filter the stream
 * (include_usage injected) or translate it (Anthropic for a chat app).
 * Returns true if the usage-only chunk must be filtered out. */
static bool choose_framing(struct conn *c, struct exch *x, const hc_http_head *rh,
                           enum hc_framing fr)
{
    if (x->ans.injected)
        hc_capture_add_flags(&x->cap, HC_REC_USAGE_INJECTED);
    bool filtered = x->ans.injected && rh->status == 200 && fr != HC_BODY_NONE &&
                    fr != HC_BODY_CLOSE && !hc_http_header(rh, "content-encoding");
    /* An HTTP/1.0 app cannot read chunked framing: it gets the data and the close. */
    bool http10 = x->req.minor_version == 0;
    x->ans.xa = x->rt.cur_uni && x->rt.cur_uni->anthropic && rh->status != 101 &&
                !hc_http_header(rh, "content-encoding");
    if (x->ans.xa) {
        const hc_header *ct = hc_http_header(rh, "content-type");
        x->ans.xa_stream = rh->status == 200 && ct &&
                           hc_stream_kind_for(ct->value, ct->value_len, "") == HC_STREAM_SSE;
        if (x->ans.xa_stream)
            hc_xa_stream_init(&x->ans.xs, x->cap.reqinfo.include_usage, hc_now_us() / 1000000);
        filtered = false;
    }
    if (filtered || x->ans.xa)
        x->ans.cf = http10 ? CF_CLOSE : CF_CHUNKED;
    else
        x->ans.cf = http10 && fr == HC_BODY_CHUNKED ? CF_CLOSE : CF_RAW;
    if (x->ans.cf == CF_CLOSE || fr == HC_BODY_CLOSE)
        c->close_after = true;
    if (fr == HC_BODY_CLOSE)
        x->cache.on = false; /* its end cannot be told from a failure; rare */
    return filtered;
}

/* The body was forwarded with result rc (forward_body): settle the exchange. */
static void body_done(struct conn *c, struct exch *x, int status, int rc, bool close_up)
{
    if (rc == 0) {
        if (close_up)
            hc_upstream_close(&c->up);
        settle(c, x, status, NULL, 0);
        return;
    }
    hc_upstream_close(&c->up);
    c->close_after = true;
    x->cache.on = false;
    if (rc == HC_ECANCELED) {
        settle(c, x, status, "the app closed the connection during the response",
               HC_REC_CLIENT_ABORT);
    } else {
        /* The app must see that its answer was cut: no clean end. */
        c->client->abort_close = true;
        settle(c, x, status,
               rc == HC_ETIMEDOUT ? "the upstream stopped sending (timeout) mid-response"
                                  : "the upstream connection failed mid-response",
               0);
    }
}

/* Forward the answer whose head is in c->up.in[0..hlen). */
static void forward_answer(struct conn *c, struct exch *x, hc_http_head *rh, int hlen)
{
    enum hc_framing fr;
    uint64_t clen;
    if (hc_http_framing(rh, true, x->req.method, x->req.method_len, &fr, &clen) != 0) {
        hc_upstream_close(&c->up);
        send_error(c, x, 502, "upstream_protocol",
                   "%s sent an invalid Content-Length/Transfer-Encoding", x->rt.target.url);
        settle(c, x, 502, NULL, 0);
        return;
    }
    bool close_up = fr == HC_BODY_CLOSE || hc_http_header_has_token(rh, "connection", "close") ||
                    rh->minor_version == 0;
    bool filtered = choose_framing(c, x, rh, fr);
    hc_buf ch = HC_BUF_INIT;
    if (build_client_head(x, rh, c->up.in.data, c->close_after, &ch,
                          x->cache.on || x->replay.record ? &x->cache.head : NULL) != 0) {
        hc_buf_free(&ch);
        hc_upstream_close(&c->up);
        send_error(c, x, 500, "out_of_memory", "the gateway is out of memory");
        settle(c, x, 500, NULL, 0);
        return;
    }
    hc_capture_response_head(&x->cap, rh);
    hc_buf_consume(&c->up.in, (size_t)hlen);
    size_t presend =
        x->ans.cf == CF_RAW && rh->status != 101 ? body_bytes_buffered(c, fr, clen) : 0;
    hc_buf_append(&ch, c->up.in.data, presend);
    int wrc = hc_io_write_buf(c->client, &ch);
    hc_buf_free(&ch);
    x->ans.head_sent = true;
    if (wrc != 0) {
        hc_upstream_close(&c->up);
        c->close_after = true;
        settle(c, x, rh->status, "the app went away", HC_REC_CLIENT_ABORT);
        return;
    }
    if (rh->status == 101) {
        settle(c, x, 101, NULL, 0);
        relay_upgraded(c);
        hc_upstream_close(&c->up);
        c->close_after = true;
        return;
    }
    hc_sse_filter filter;
    hc_sse_filter_init(&filter);
    c->client->timeout_ms = c->core->cfg.upstream_timeout_ms;
    int rc = forward_body(c, x, fr, clen, filtered ? &filter : NULL, presend, &close_up);
    hc_sse_filter_free(&filter);
    body_done(c, x, rh->status, rc, close_up);
}

static void exchange(struct conn *c, struct exch *x)
{
    hc_core *core = c->core;
    int64_t start_us = hc_now_us(), t0 = hc_mono_us();
    if (core->admit && !c->tls && strcmp(c->host, HC_UNIFIED_LOCAL_HOST) == 0) {
        const char *why = core->admit(c->client->fd, &x->req);
        if (why) { /* not recorded: the exchange is nobody's, and its body is never read */
            c->close_after = true;
            send_error(c, NULL, 403, "forbidden", "%s", why);
            return;
        }
    }
    request_host(c, x);
    hc_capture_begin(&x->cap, core, x->host, &x->req, start_us, t0);
    hc_capture_set_may_wait(&x->cap,
                            true); /* settled after the app has its answer: see recorder.c */
    hc_uuid_format(x->cap.rec.id, x->id);
    x->rt.fallback_idx = -1;

    x->app_api = x->cap.api;
    if (!take_request(c, x))
        return;
    if (hc_unified_is_host(x->host) && !hc_config_route(&core->cfg, x->host) && unified_gate(c, x))
        return;
    if (policy_gate(c, x, start_us))
        return;
    if (hc_replay_gate(&x->replay, c->client, &x->cap, x->host, &x->req,
                       x->rb.streaming   ? NULL
                       : x->rb.body.data ? x->rb.body.data
                                         : "",
                       x->rb.body.len, answer_id(x)))
        return;
    x->cache.body_ok = x->replay.record;
    if (cache_gate(c, x, start_us))
        return;

    char err[512] = "";
    hc_http_head rh;
    int hlen = upstream_answer(c, x, &rh, err, sizeof err);
    if (hlen < 0) {
        if (hlen == HC_ECANCELED) {
            c->close_after = true;
            hc_capture_finish(&x->cap, "the app went away before the upstream answered",
                              HC_REC_CLIENT_ABORT);
            return;
        }
        bool bad_body = hlen == HC_EINVAL && x->rt.cur_uni && x->rt.cur_uni->anthropic;
        send_error(c, x,
                   bad_body               ? 400
                   : hlen == HC_ETIMEDOUT ? 504
                   : hlen == HC_ENOMEM    ? 500
                                          : 502,
                   bad_body ? "bad_request" : hc_gwerror_upstream_code(hlen), "%s",
                   err[0] ? err : hc_strerror(hlen));
        hc_capture_finish(&x->cap, NULL, 0);
        return;
    }
    forward_answer(c, x, &rh, hlen);
}

static void exch_free(struct exch *x)
{
    hc_buf_free(&x->head);
    hc_buf_free(&x->rb.body);
    hc_buf_free(&x->rb.sendbody);
    hc_buf_free(&x->ans.extra);
    hc_buf_free(&x->ans.out);
    hc_cachereply_free(&x->cache);
    hc_replay_free(&x->replay);
    if (x->rt.fb) {
        hc_fallbacks_free(x->rt.fb, x->rt.nfb);
        free(x->rt.fb);
    }
    if (x->rt.uni) {
        explicit_bzero(x->rt.uni, HC_UNIFIED_MAX * sizeof *x->rt.uni); /* provider keys */
        free(x->rt.uni);
    }
    hc_xa_stream_free(&x->ans.xs);
    hc_buf_free(&x->ans.xa_body);
    hc_opts_free(&x->opts);
}

void hc_proxy_serve(hc_core *core, hc_io *client, const hc_origin *origin, const char *host,
                    bool tls)
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
    /* One exchange struct per connection, cleared for each request: it is
     * about 14 KiB, and a fresh allocation of that size per request made glibc
     * consolidate its fast bins every time (a profile's third-largest cost). */
    struct exch *x = malloc(sizeof *x);
    while (x && !c.close_after) {
        memset(x, 0, sizeof *x);
        int rc = read_request_head(&c, x);
        if (rc == 0)
            exchange(&c, x);
        exch_free(x);
        if (rc != 0)
            break;
        client->cancel_fd = -1;
    }
    free(x);
    hc_upstream_free(&c.up);
    hc_buf_free(&c.in);
    free(c.iobuf);
}
