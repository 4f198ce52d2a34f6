/* observe.c — see observe.h.
 *
 * DESIGN
 * - Two independent state machines, one per direction, under one lock. The
 *   out side turns request bytes into `pending` exchanges (head parsed, body
 *   counted) and queues them in order; the in side takes the oldest pending
 *   exchange for each response head it parses and feeds it the body. An
 *   exchange is recorded when its response body ends.
 * - Every byte is examined after the app's own call returned: the hooks copy
 *   nothing before the app got its data, and nothing here can fail the app's
 *   I/O. Memory is bounded by the head bound and the captures' own bounds.
 */
#include "observe.h"
#include "buf.h"
#include "budget.h"
#include "capture.h"
#include "clock.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "options.h"
#include "sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_HEAD (64 * 1024)

struct pending {
    struct pending *next;
    hc_buf head; /* the request head (owned: the parse points into it) */
    hc_http_head req;
    hc_opts opts;
    hc_capture cap;
};

enum { S_HEAD, S_BODY };

struct direction {
    int state;
    hc_buf buf; /* head bytes being assembled */
    enum hc_framing framing;
    uint64_t left; /* HC_BODY_LENGTH: bytes still to come */
    hc_chunked chunk;
    struct pending *cur; /* the exchange whose body is flowing */
};

struct hc_observer {
    pthread_mutex_t lock; /* guards everything below */
    hc_core *core;
    char host[256];
    int port;
    bool tls;
    bool quiet;
    struct direction out, in;
    struct pending *q_head, *q_tail; /* sent, waiting for their response */
};

hc_observer *hc_observer_new(hc_core *core, const char *host, int port, bool tls)
{
    hc_observer *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    pthread_mutex_init(&o->lock, NULL);
    o->core = core;
    hc_strlcpy(o->host, sizeof o->host, host);
    o->port = port;
    o->tls = tls;
    return o;
}

bool hc_observer_quiet(hc_observer *o)
{
    return __atomic_load_n(&o->quiet, __ATOMIC_RELAXED);
}

static void free_pending(struct pending *p)
{
    if (!p)
        return;
    hc_buf_free(&p->head);
    hc_opts_free(&p->opts);
    free(p);
}

/* Record an exchange and free it. */
static void finish(hc_observer *o, struct pending *p, const char *error)
{
    int64_t cost = hc_capture_settle(&p->cap);
    uint32_t flags = HC_REC_OBSERVED;
    hc_core *core = o->core;
    if (core->nbudgets && cost > 0 &&
        hc_budget_account(hc_core_store(core), core->budgets, core->nbudgets, &p->opts, cost,
                          hc_now_us(), "", p->cap.budget, sizeof p->cap.budget))
        flags |= HC_REC_BUDGET_WARN;
    hc_capture_finish(&p->cap, error, flags);
    free_pending(p);
}

/* Give up on the connection for good (not HTTP/1.x, or too large a head). */
static void go_quiet(hc_observer *o, const char *why)
{
    if (!o->quiet)
        hc_log_debug("observe: stopped following %s:%d (%s)", o->host, o->port, why);
    __atomic_store_n(&o->quiet, true, __ATOMIC_RELAXED);
    struct pending *p = o->q_head;
    while (p) {
        struct pending *n = p->next;
        hc_capture_discard(&p->cap);
        free_pending(p);
        p = n;
    }
    o->q_head = o->q_tail = NULL;
    if (o->out.cur) {
        hc_capture_discard(&o->out.cur->cap);
        free_pending(o->out.cur);
    }
    if (o->in.cur) {
        hc_capture_discard(&o->in.cur->cap);
        free_pending(o->in.cur);
    }
    o->out.cur = o->in.cur = NULL;
    hc_buf_free(&o->out.buf);
    hc_buf_free(&o->in.buf);
}

static void enqueue(hc_observer *o, struct pending *p)
{
    p->next = NULL;
    if (o->q_tail)
        o->q_tail->next = p;
    else
        o->q_head = p;
    o->q_tail = p;
}

/* A complete request head sits at the start of out.buf: start an exchange. */
static int start_request(hc_observer *o, size_t head_len)
{
    struct pending *p = calloc(1, sizeof *p);
    if (!p || hc_buf_append(&p->head, o->out.buf.data, head_len)) {
        free(p);
        return HC_ENOMEM;
    }
    hc_buf_consume(&o->out.buf, head_len);
    hc_http_parse_request(p->head.data, p->head.len, &p->req);
    if (hc_opts_from_request(&p->opts, &o->core->cfg, &p->req) != 0) {
        free_pending(p);
        return HC_ENOMEM;
    }
    hc_capture_begin(&p->cap, o->core, o->host, &p->req, hc_now_us(), hc_mono_us());
    hc_capture_set_opts(&p->cap, &p->opts);
    char url[300];
    snprintf(url, sizeof url, "observed %s://%s:%d", o->tls ? "https" : "http", o->host, o->port);
    hc_capture_set_upstream(&p->cap, url);
    if (hc_http_framing(&p->req, false, NULL, 0, &o->out.framing, &o->out.left) != 0) {
        hc_capture_discard(&p->cap);
        free_pending(p);
        return HC_EPARSE;
    }
    hc_chunked_init(&o->out.chunk);
    if (o->out.framing == HC_BODY_NONE) {
        hc_capture_request_done(&p->cap);
        enqueue(o, p);
        return 0;
    }
    o->out.cur = p;
    o->out.state = S_BODY;
    return 0;
}

/* Request body bytes; returns bytes used (the rest is the next request). */
static size_t request_body(hc_observer *o, const char *p, size_t n)
{
    struct direction *d = &o->out;
    size_t used = 0;
    bool done = false;
    if (d->framing == HC_BODY_LENGTH) {
        used = (uint64_t)n < d->left ? n : (size_t)d->left;
        hc_capture_request_body(&d->cur->cap, p, used);
        d->left -= used;
        done = d->left == 0;
    } else { /* chunked */
        while (used < n && !d->chunk.done) {
            size_t doff, dlen;
            long k = hc_chunked_next(&d->chunk, p + used, n - used, &doff, &dlen);
            if (k < 0) {
                go_quiet(o, "malformed chunked request");
                return n;
            }
            if (dlen)
                hc_capture_request_body(&d->cur->cap, p + used + doff, dlen);
            used += (size_t)k;
        }
        done = d->chunk.done;
    }
    if (done) {
        hc_capture_request_done(&d->cur->cap);
        enqueue(o, d->cur);
        d->cur = NULL;
        d->state = S_HEAD;
    }
    return used;
}

static void feed_out(hc_observer *o, const char *p, size_t n)
{
    while (n && !o->quiet) {
        struct direction *d = &o->out;
        if (d->state == S_BODY) {
            size_t used = request_body(o, p, n);
            p += used;
            n -= used;
            continue;
        }
        if (!d->buf.len && n && (unsigned char)p[0] == 0x16) {
            go_quiet(o, "TLS on a plain connection");
            return;
        }
        size_t before = d->buf.len;
        size_t take = n;
        if (hc_buf_append(&d->buf, p, take)) {
            go_quiet(o, "out of memory");
            return;
        }
        hc_http_head h;
        int hl = hc_http_parse_request(d->buf.data, d->buf.len, &h);
        if (hl == HC_PARTIAL) {
            if (d->buf.len > MAX_HEAD)
                go_quiet(o, "request head too large");
            return;
        }
        if (hl < 0) {
            go_quiet(o, "not HTTP/1.x");
            return;
        }
        /* The head ends inside this piece: what follows it is re-fed below. */
        d->buf.len = (size_t)hl;
        if (start_request(o, (size_t)hl) != 0) {
            go_quiet(o, "bad request framing");
            return;
        }
        size_t consumed = (size_t)hl - before;
        p += consumed;
        n -= consumed;
        hc_buf_reset(&d->buf);
    }
}

static void finish_response(hc_observer *o, const char *error)
{
    struct pending *p = o->in.cur;
    o->in.cur = NULL;
    o->in.state = S_HEAD;
    if (p)
        finish(o, p, error);
}

/* A complete response head sits at the start of in.buf. */
static int start_response(hc_observer *o, size_t head_len)
{
    hc_http_head h;
    hc_http_parse_response(o->in.buf.data, head_len, &h);
    if (h.status >= 100 && h.status < 200 && h.status != 101) {
        hc_buf_consume(&o->in.buf, head_len);
        return 0;
    }
    struct pending *p = o->q_head;
    if (p) {
        o->q_head = p->next;
        if (!o->q_head)
            o->q_tail = NULL;
    } else if (o->out.cur) {
        p = o->out.cur; /* answered before its body was all sent (e.g. 413) */
        o->out.cur = NULL;
        o->out.state = S_HEAD;
    } else {
        return HC_EPARSE; /* a response to nothing we saw */
    }
    hc_capture_response_head(&p->cap, &h);
    hc_capture_attempt(&p->cap, h.status, 0);
    if (h.status == 429)
        hc_capture_add_flags(&p->cap, HC_REC_RATE_LIMITED);
    if (hc_http_framing(&h, true, p->req.method, p->req.method_len, &o->in.framing, &o->in.left) !=
        0) {
        hc_buf_consume(&o->in.buf, head_len);
        finish(o, p, "the response has invalid framing");
        return HC_EPARSE;
    }
    hc_buf_consume(&o->in.buf, head_len);
    hc_chunked_init(&o->in.chunk);
    o->in.cur = p;
    if (h.status == 101) {
        finish_response(o, NULL);
        return HC_ECLOSED; /* the connection leaves HTTP */
    }
    if (o->in.framing == HC_BODY_NONE || (o->in.framing == HC_BODY_LENGTH && o->in.left == 0))
        finish_response(o, NULL);
    else
        o->in.state = S_BODY;
    return 0;
}

static size_t response_body(hc_observer *o, const char *p, size_t n)
{
    struct direction *d = &o->in;
    size_t used = 0;
    if (d->framing == HC_BODY_CLOSE) {
        hc_capture_response_data(&d->cur->cap, p, n);
        return n;
    }
    if (d->framing == HC_BODY_LENGTH) {
        used = (uint64_t)n < d->left ? n : (size_t)d->left;
        hc_capture_response_data(&d->cur->cap, p, used);
        d->left -= used;
        if (!d->left)
            finish_response(o, NULL);
        return used;
    }
    while (used < n && !d->chunk.done) {
        size_t doff, dlen;
        long k = hc_chunked_next(&d->chunk, p + used, n - used, &doff, &dlen);
        if (k < 0) {
            finish_response(o, "malformed chunked response");
            go_quiet(o, "malformed chunked response");
            return n;
        }
        if (dlen)
            hc_capture_response_data(&d->cur->cap, p + used + doff, dlen);
        used += (size_t)k;
    }
    if (d->chunk.done)
        finish_response(o, NULL);
    return used;
}

static void feed_in(hc_observer *o, const char *p, size_t n)
{
    while (n && !o->quiet) {
        struct direction *d = &o->in;
        if (d->state == S_BODY) {
            size_t used = response_body(o, p, n);
            p += used;
            n -= used;
            continue;
        }
        size_t before = d->buf.len;
        if (hc_buf_append(&d->buf, p, n)) {
            go_quiet(o, "out of memory");
            return;
        }
        hc_http_head h;
        int hl = hc_http_parse_response(d->buf.data, d->buf.len, &h);
        if (hl == HC_PARTIAL) {
            if (d->buf.len > MAX_HEAD)
                go_quiet(o, "response head too large");
            return;
        }
        if (hl < 0) {
            go_quiet(o, "not HTTP/1.x");
            return;
        }
        size_t consumed = (size_t)hl - before;
        d->buf.len = (size_t)hl; /* drop the bytes after the head: they are re-fed below */
        int rc = start_response(o, (size_t)hl);
        hc_buf_reset(&d->buf);
        if (rc == HC_ECLOSED) {
            go_quiet(o, "switched protocols");
            return;
        }
        if (rc != 0) {
            go_quiet(o, "a response without a request");
            return;
        }
        p += consumed;
        n -= consumed;
    }
}

void hc_observer_feed(hc_observer *o, bool out, const void *p, size_t n)
{
    if (!n || hc_observer_quiet(o))
        return;
    pthread_mutex_lock(&o->lock);
    if (out)
        feed_out(o, p, n);
    else
        feed_in(o, p, n);
    pthread_mutex_unlock(&o->lock);
}

void hc_observer_close(hc_observer *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    if (!o->quiet) {
        if (o->in.cur)
            finish_response(
                o, o->in.framing == HC_BODY_CLOSE ? NULL : "the connection closed mid-response");
        while (o->q_head) {
            struct pending *p = o->q_head;
            o->q_head = p->next;
            finish(o, p, "the connection closed before a response");
        }
        o->q_tail = NULL;
        if (o->out.cur) {
            hc_capture_discard(&o->out.cur->cap);
            free_pending(o->out.cur);
            o->out.cur = NULL;
        }
    }
    hc_buf_free(&o->out.buf);
    hc_buf_free(&o->in.buf);
    pthread_mutex_unlock(&o->lock);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

/* ---- attaching observers to connections ------------------------------------ */

/* TLS: the observer hangs off the SSL object as ex_data, so it lives exactly
 * as long as the connection; its free callback records what is pending. A
 * sentinel marks SSL objects already found not to be for an LLM host. */
#define NOT_LLM ((void *)1)
static int ssl_index = -1; /* set once by hc_observe_init */

static void ssl_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (ptr && ptr != NOT_LLM)
        hc_observer_close(ptr);
}

int hc_observe_init(void)
{
    if (ssl_index < 0)
        ssl_index = SSL_get_ex_new_index(0, "hcshim observer", NULL, NULL, ssl_free_cb);
    return ssl_index >= 0 ? 0 : HC_ENOMEM;
}

/* Host and port of the peer of fd, as text. */
static bool peer_of(hc_core *core, int fd, char *host, size_t size, int *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (fd < 0 || core->shim->getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return false;
    if (!hc_sa_host((struct sockaddr *)&ss, host, size))
        return false;
    *port = hc_sa_port((struct sockaddr *)&ss);
    return true;
}

void hc_observe_ssl(hc_core *core, SSL *ssl, bool out, const void *p, size_t n)
{
    if (ssl_index < 0 || !ssl)
        return;
    ERR_set_mark(); /* the app's SSL_get_error must see only its own errors */
    hc_observer *o = SSL_get_ex_data(ssl, ssl_index);
    if (!o) {
        const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        char host[256];
        int port = 443;
        char addr[64];
        int aport;
        if (peer_of(core, SSL_get_fd(ssl), addr, sizeof addr, &aport))
            port = aport;
        hc_strlcpy(host, sizeof host, sni ? sni : addr);
        bool llm = host[0] && core->shim->is_llm_host(host);
        o = llm ? hc_observer_new(core, host, port, true) : NULL;
        SSL_set_ex_data(ssl, ssl_index, o ? (void *)o : NOT_LLM);
        if (o)
            hc_log_debug("observe: following TLS to %s:%d", host, port);
    }
    if (o && o != NOT_LLM)
        hc_observer_feed(o, out, p, n);
    ERR_pop_to_mark();
}

/* Plain sockets: observers indexed by fd. */
#define MAX_FD 65536
static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static hc_observer **fd_obs; /* guarded by fd_lock; MAX_FD entries */

bool hc_observe_fd_open(hc_core *core, int fd, const char *host, int port)
{
    if (fd < 0 || fd >= MAX_FD)
        return false;
    hc_observer *o = hc_observer_new(core, host, port, false);
    if (!o)
        return false;
    pthread_mutex_lock(&fd_lock);
    if (!fd_obs)
        fd_obs = calloc(MAX_FD, sizeof *fd_obs);
    hc_observer *old = NULL;
    if (fd_obs) {
        old = fd_obs[fd];
        fd_obs[fd] = o;
    }
    pthread_mutex_unlock(&fd_lock);
    if (old)
        hc_observer_close(old);
    if (!fd_obs) {
        hc_observer_close(o);
        return false;
    }
    return true;
}

bool hc_observe_fd(int fd, bool out, const void *p, size_t n)
{
    if (fd < 0 || fd >= MAX_FD)
        return false;
    pthread_mutex_lock(&fd_lock);
    hc_observer *o = fd_obs ? fd_obs[fd] : NULL;
    pthread_mutex_unlock(&fd_lock);
    if (!o)
        return false;
    /* Observers are only freed by hc_observe_fd_close on this fd, which the
     * app cannot call while it is inside an I/O call on the same fd. */
    hc_observer_feed(o, out, p, n);
    return !hc_observer_quiet(o);
}

void hc_observe_fd_close(int fd)
{
    if (fd < 0 || fd >= MAX_FD)
        return;
    pthread_mutex_lock(&fd_lock);
    hc_observer *o = fd_obs ? fd_obs[fd] : NULL;
    if (o)
        fd_obs[fd] = NULL;
    pthread_mutex_unlock(&fd_lock);
    if (o)
        hc_observer_close(o);
}

void hc_observe_atfork_child(void)
{
    pthread_mutex_init(&fd_lock, NULL);
    /* The child shares its parent's sockets; its own observers start fresh
     * (the parent's stay with the parent). */
    fd_obs = NULL;
}
