/* otlp_push.c — see otlp_push.h (the DESIGN is there). */
#include "otlp_push.h"
#include "upstream.h"
#include "thread.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "gateway.h"
#include "io.h"
#include "log.h"
#include "otlp.h"
#include "redact.h"
#include "upstream.h"

#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A queued exchange: the record in its wire form (record.h), which the
 * gateway thread has already made for the recorder; the sender decodes it
 * and writes the span, so the JSON is never built on the exchange's thread. */
struct item {
    struct item *next;
    uint8_t id[HC_UUID_LEN];
    size_t len;
    char wire[];
};

struct target {
    bool on;
    char url[1024]; /* for messages: credentials removed (redact.h) */
    hc_route r;
    char path[1024]; /* request target */
    hc_buf headers;  /* "Name: value\r\n"…, secret: never logged */
};

struct hc_otlp_push {
    hc_core *core;                 /* immutable */
    SSL_CTX *tls;                  /* immutable: the core's verifying client context, or in
                                      * observe mode (the core has none) one of our own */
    struct target traces, metrics; /* immutable after new */
    char service[256];             /* immutable */
    char *res_attrs;               /* immutable, owned */
    int timeout_ms, delay_ms, max_queue, batch, metric_ms; /* immutable */
    pthread_mutex_t lock;                                  /* guards everything below */
    pthread_cond_t wake; /* the sender has work (batch full, flush) */
    pthread_cond_t done; /* a flush request was served */
    struct item *head, *tail;
    int nqueued; /* written under lock, atomically: peeked without it */
    uint64_t flush_req, flush_done;
    hc_otlp_metrics m;       /* cumulative since start */
    uint64_t m_sent_records; /* m.records at the last metrics post */
    struct {
        uint64_t queued, sent, dropped, metric_posts, metric_failures;
    } st;
    uint64_t reported;  /* drops already said on stderr */
    int64_t down_until; /* hc_mono_us: the collector failed, drop spans unencoded until then
                                      * (written under lock, atomically: peeked without it) */
    int64_t backoff_us; /* the next wait after a failure: 1 s doubling to 30 s */
    char last_err[160];
};

/* ---- configuration -------------------------------------------------------- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int env_ms(const char *name, int dflt, int lo, int hi)
{
    const char *v = env(name);
    if (!v)
        return dflt;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < lo || n > hi) {
        hc_log_warn_once(name, "%s: expected a whole number from %d to %d, got '%s'; using %d",
                         name, lo, hi, v, dflt);
        return dflt;
    }
    return (int)n;
}

/* One signal's endpoint: the signal's own variable as is, else base + suffix. */
static bool target_init(struct target *t, const char *own_var, const char *suffix,
                        const char *hdr_var)
{
    const char *own = env(own_var), *base = env("OTEL_EXPORTER_OTLP_ENDPOINT");
    char url[1024];
    if (own)
        snprintf(url, sizeof url, "%s", own);
    else if (base)
        snprintf(url, sizeof url, "%.*s%s", (int)(strlen(base) - (base[strlen(base) - 1] == '/')),
                 base, suffix);
    else
        return false;
    hc_url_redact(t->url, sizeof t->url, url);
    if (hc_route_parse_url(url, &t->r) != 0) {
        hc_log_warn_once(
            own ? own_var : "OTEL_EXPORTER_OTLP_ENDPOINT",
            "%s: expected an http:// or https:// URL, got '%s'; OpenTelemetry export is off",
            own ? own_var : "OTEL_EXPORTER_OTLP_ENDPOINT", t->url);
        return false;
    }
    /* hc_route_parse_url keeps the path as a prefix without its trailing '/'. */
    snprintf(t->path, sizeof t->path, "%s", t->r.prefix[0] ? t->r.prefix : "/");
    int bad = 0;
    const char *vars[2] = { "OTEL_EXPORTER_OTLP_HEADERS", hdr_var };
    for (int i = 0; i < 2; i++)
        if (env(vars[i]) && hc_otlp_parse_headers(env(vars[i]), &t->headers, &bad) != 0) {
            /* The value may hold a token: name the pair, never print it. */
            hc_log_warn_once(
                vars[i],
                "%s: pair %d is not name=value (a %%-encoded value, no control bytes); "
                "OpenTelemetry export is off",
                vars[i], bad);
            hc_buf_free(&t->headers);
            return false;
        }
    t->on = true;
    return true;
}

static bool exporter_none(const char *var)
{
    const char *v = env(var);
    return v && strcasecmp(v, "none") == 0;
}

static bool config(hc_otlp_push *p)
{
    const char *off = env("HC_OTLP"), *sdk_off = env("OTEL_SDK_DISABLED");
    if ((off && !hc_env_bool("HC_OTLP", true)) || (sdk_off && strcasecmp(sdk_off, "true") == 0))
        return false;
    const char *proto = env("OTEL_EXPORTER_OTLP_PROTOCOL");
    if (proto && strcmp(proto, "http/json") != 0 && strcmp(proto, "http/protobuf") != 0) {
        hc_log_warn_once(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL: hcshim sends http/json "
            "(or for http/protobuf, JSON to the same URL), not '%s'; OpenTelemetry export is off",
            proto);
        return false;
    }
    if (!exporter_none("OTEL_TRACES_EXPORTER"))
        target_init(&p->traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces",
                    "OTEL_EXPORTER_OTLP_TRACES_HEADERS");
    if (!exporter_none("OTEL_METRICS_EXPORTER"))
        target_init(&p->metrics, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics",
                    "OTEL_EXPORTER_OTLP_METRICS_HEADERS");
    if (!p->traces.on && !p->metrics.on)
        return false;
    const char *svc = env("OTEL_SERVICE_NAME"), *attrs = env("OTEL_RESOURCE_ATTRIBUTES");
    if (attrs)
        p->res_attrs = strdup(attrs);
    /* The SDKs' default when neither variable names the service. */
    if (svc)
        snprintf(p->service, sizeof p->service, "%s", svc);
    else if (!attrs || !strstr(attrs, "service.name="))
        snprintf(p->service, sizeof p->service, "unknown_service:%s", p->core->program);
    p->timeout_ms = env_ms("OTEL_EXPORTER_OTLP_TIMEOUT", 10000, 1, 600000);
    p->delay_ms = env_ms("OTEL_BSP_SCHEDULE_DELAY", 5000, 0, 3600000);
    p->max_queue = env_ms("OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1, 1000000);
    p->batch = env_ms("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1, 1000000);
    p->metric_ms = env_ms("OTEL_METRIC_EXPORT_INTERVAL", 60000, 1, 86400000);
    if (p->batch > p->max_queue)
        p->batch = p->max_queue;
    return true;
}

/* ---- transport ------------------------------------------------------------ */

/* POST body to t. 0 on a 2xx answer; else an error with err set (no header
 * value ever goes into err). */
static int post(hc_otlp_push *p, const struct target *t, const hc_buf *body, char *err,
                size_t errlen)
{
    hc_core *core = p->core;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%d", t->r.port);
    if (core->shim->getaddrinfo(t->r.target, port, &hints, &res) != 0 || !res) {
        snprintf(err, errlen, "cannot resolve %s", t->r.target);
        return HC_ECONNECT;
    }
    int fd = hc_io_connect(res->ai_addr, res->ai_addrlen, p->timeout_ms, -1);
    core->shim->freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s", t->r.authority);
        return HC_ECONNECT;
    }
    SSL *ssl = NULL;
    if (t->r.tls) {
        ssl = hc_upstream_tls_session(p->tls, fd, t->r.target, err, errlen);
        if (!ssl) {
            close(fd);
            return HC_ETLS;
        }
    }
    hc_io io;
    hc_io_init(&io, fd, ssl, p->timeout_ms);
    const char *why;
    int rc = 0;
    hc_buf head = HC_BUF_INIT;
    char line[128];
    long n = 0, got = 0;
    if (ssl && hc_io_connect_tls(&io, &why) != 0) {
        snprintf(err, errlen, "TLS with %s: %s", t->r.authority, why);
        rc = HC_ETLS;
        goto out;
    }
    if (hc_buf_printf(&head,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "User-Agent: hcshim\r\nContent-Length: %zu\r\nConnection: close\r\n",
                      t->path, t->r.authority, body->len) != 0 ||
        hc_buf_append(&head, t->headers.data ? t->headers.data : "", t->headers.len) != 0 ||
        hc_buf_puts(&head, "\r\n") != 0) {
        snprintf(err, errlen, "out of memory");
        rc = HC_ENOMEM;
        goto out;
    }
    if (hc_io_write_buf(&io, &head) != 0 || hc_io_write_buf(&io, body) != 0) {
        snprintf(err, errlen, "%s: write failed", t->r.authority);
        rc = HC_EIO;
        goto out;
    }
    while (got < 12 && (n = hc_io_read(&io, line + got, sizeof line - 1 - (size_t)got)) > 0)
        got += n;
    line[got] = '\0';
    if (got < 12 || strncmp(line, "HTTP/1.", 7) != 0) {
        snprintf(err, errlen, "%s: no HTTP answer", t->r.authority);
        rc = HC_EIO;
    } else if (line[9] != '2') {
        snprintf(err, errlen, "%s answered %.3s", t->r.authority, line + 9);
        rc = HC_EIO;
    } else {
        /* Read the rest of the (short) answer up to the collector's close, so
         * that our close is clean rather than a reset. */
        char rest[4096];
        for (int i = 0; i < 16 && hc_io_read(&io, rest, sizeof rest) > 0; i++)
            ;
    }
out:
    hc_buf_free(&head);
    hc_io_close(&io);
    return rc;
}

/* ---- sender thread -------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static hc_otlp_resource resource_of(const hc_otlp_push *p)
{
    hc_otlp_resource res = { .service = p->service[0] ? p->service : NULL,
                             .attrs = p->res_attrs,
                             .scope = "hcshim" };
    return res;
}

static void send_spans(hc_otlp_push *p, struct item *list, int n)
{
    hc_otlp_resource res = resource_of(p);
    hc_buf body = HC_BUF_INIT;
    char err[200] = "";
    int rc = hc_otlp_traces_open(&body, &res);
    bool first = true;
    for (struct item *it = list; it && !rc; it = it->next) {
        hc_record r;
        if (hc_record_decode(it->wire, it->len, &r) != 0)
            continue; /* cannot happen: we encoded it */
        memcpy(r.id, it->id, sizeof r.id);
        rc = (!first && hc_buf_append(&body, ",", 1)) || hc_otlp_span(&body, &r) ? HC_ENOMEM : 0;
        first = false;
    }
    if (!rc)
        rc = hc_otlp_traces_close(&body);
    if (rc)
        snprintf(err, sizeof err, "out of memory");
    else
        rc = post(p, &p->traces, &body, err, sizeof err);
    hc_buf_free(&body);
    while (list) {
        struct item *next = list->next;
        free(list);
        list = next;
    }
    pthread_mutex_lock(&p->lock);
    if (rc) {
        /* A collector that is down costs one attempt per backoff period, not
         * one per batch: meanwhile spans are dropped before they are encoded. */
        p->st.dropped += (uint64_t)n;
        snprintf(p->last_err, sizeof p->last_err, "%s", err);
        p->backoff_us =
            p->backoff_us ? (p->backoff_us * 2 > 30000000 ? 30000000 : p->backoff_us * 2) : 1000000;
        __atomic_store_n(&p->down_until, hc_mono_us() + p->backoff_us, __ATOMIC_RELAXED);
    } else {
        p->st.sent += (uint64_t)n;
        p->backoff_us = 0;
        __atomic_store_n(&p->down_until, 0, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&p->lock);
    if (rc)
        hc_log_debug("OTLP: %d spans to %s not sent: %s", n, p->traces.url, err);
}

/* Called with the lock held; releases it while sending. */
static void send_metrics(hc_otlp_push *p)
{
    hc_otlp_metrics *snap = malloc(sizeof *snap);
    if (!snap)
        return;
    memcpy(snap, &p->m, sizeof *snap);
    p->m_sent_records = p->m.records;
    pthread_mutex_unlock(&p->lock);
    hc_otlp_resource res = resource_of(p);
    hc_buf body = HC_BUF_INIT;
    char err[200] = "";
    int rc = hc_otlp_metrics_encode(&body, snap, &res, now_ns());
    if (!rc)
        rc = post(p, &p->metrics, &body, err, sizeof err);
    hc_buf_free(&body);
    free(snap);
    if (rc)
        hc_log_debug("OTLP: metrics to %s not sent: %s", p->metrics.url, err);
    pthread_mutex_lock(&p->lock);
    p->st.metric_posts++;
    if (rc)
        p->st.metric_failures++;
}

static void *sender_main(void *arg)
{
    hc_otlp_push *p = arg;
    p->core->shim->guard_thread(); /* our own sockets are never intercepted */
    int64_t next_spans = hc_mono_us() + (int64_t)p->delay_ms * 1000;
    int64_t next_metrics = hc_mono_us() + (int64_t)p->metric_ms * 1000;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        uint64_t flush = p->flush_req;
        int64_t now = hc_mono_us();
        bool flushing = flush != p->flush_done;
        if (p->nqueued && (flushing || p->nqueued >= p->batch || now >= next_spans)) {
            struct item *list = p->head, *last = list;
            int n = 1;
            while (n < p->batch && last->next)
                last = last->next, n++;
            p->head = last->next;
            if (!p->head)
                p->tail = NULL;
            last->next = NULL;
            __atomic_sub_fetch(&p->nqueued, n, __ATOMIC_RELAXED);
            pthread_mutex_unlock(&p->lock);
            send_spans(p, list, n);
            pthread_mutex_lock(&p->lock);
            next_spans = hc_mono_us() + (int64_t)p->delay_ms * 1000;
            continue;
        }
        if (p->metrics.on && p->m.records != p->m_sent_records &&
            (flushing || now >= next_metrics)) {
            send_metrics(p);
            next_metrics = hc_mono_us() + (int64_t)p->metric_ms * 1000;
            continue;
        }
        if (flushing) {
            p->flush_done = flush;
            pthread_cond_broadcast(&p->done);
            continue;
        }
        int64_t until = next_metrics;
        if (p->nqueued && next_spans < until)
            until = next_spans;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_us = until - now;
        if (wait_us < 1000)
            wait_us = 1000;
        ts.tv_sec += wait_us / 1000000;
        ts.tv_nsec += (wait_us % 1000000) * 1000;
        if (ts.tv_nsec >= 1000000000)
            ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&p->wake, &p->lock, &ts);
    }
    return NULL;
}

/* ---- public --------------------------------------------------------------- */

hc_otlp_push *hc_otlp_push_new(hc_core *core)
{
    hc_otlp_push *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->core = core;
    if (!config(p))
        goto off;
    p->tls = core->client_ctx;
    if (!p->tls && ((p->traces.on && p->traces.r.tls) || (p->metrics.on && p->metrics.r.tls))) {
        /* Observe mode starts no gateway, so no client context: the same
         * verifying one (system trust, SSL_CERT_*, HC_CA_FILE), ours. */
        char err[256];
        if (!(p->tls = hc_upstream_ctx_new(&core->cfg, err, sizeof err)))
            hc_log_warn_once("otlp_tls",
                             "OpenTelemetry over https: no TLS client (%s); nothing is sent", err);
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    hc_otlp_metrics_init(&p->m, now_ns());
    if (hc_thread_spawn(sender_main, p) != 0) {
        hc_log_warn_once("otlp_thread",
                         "cannot start the OpenTelemetry sender thread; export is off");
        goto off; /* the mutex and conds hold no resources */
    }
    hc_log_debug("OTLP: spans to %s, metrics to %s", p->traces.on ? p->traces.url : "(off)",
                 p->metrics.on ? p->metrics.url : "(off)");
    return p;
off:
    if (p->tls && p->tls != core->client_ctx)
        SSL_CTX_free(p->tls);
    hc_buf_free(&p->traces.headers);
    hc_buf_free(&p->metrics.headers);
    free(p->res_attrs);
    free(p);
    return NULL;
}

void hc_otlp_push_record(hc_otlp_push *p, const hc_record *r, const void *wire, size_t wire_len)
{
    struct item *it = NULL;
    /* An unlocked peek (a stale value only moves the switch by a span):
     * while the collector is down, or the queue is full, do not copy. */
    int64_t down = __atomic_load_n(&p->down_until, __ATOMIC_RELAXED);
    bool skip = __atomic_load_n(&p->nqueued, __ATOMIC_RELAXED) >= p->max_queue ||
                (down && hc_mono_us() < down);
    if (p->traces.on && !skip && (it = malloc(sizeof *it + wire_len))) {
        it->next = NULL;
        memcpy(it->id, r->id, sizeof it->id);
        it->len = wire_len;
        memcpy(it->wire, wire, wire_len);
    }
    pthread_mutex_lock(&p->lock);
    if (p->metrics.on)
        hc_otlp_metrics_add(&p->m, r);
    if (p->traces.on) {
        p->st.queued++;
        if (!it || p->nqueued >= p->max_queue) {
            p->st.dropped++;
            if (p->nqueued >= p->max_queue)
                snprintf(p->last_err, sizeof p->last_err, "queue full (OTEL_BSP_MAX_QUEUE_SIZE %d)",
                         p->max_queue);
            free(it);
        } else {
            if (p->tail)
                p->tail->next = it;
            else
                p->head = it;
            p->tail = it;
            if (__atomic_add_fetch(&p->nqueued, 1, __ATOMIC_RELAXED) == p->batch)
                pthread_cond_signal(&p->wake);
        }
    }
    pthread_mutex_unlock(&p->lock);
}

void hc_otlp_push_flush(hc_otlp_push *p, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000)
        until.tv_sec++, until.tv_nsec -= 1000000000;
    if (pthread_mutex_timedlock(&p->lock, &until) != 0)
        return; /* may run in a signal handler while the lock is held: give up */
    uint64_t want = ++p->flush_req;
    pthread_cond_signal(&p->wake);
    while (p->flush_done < want)
        if (pthread_cond_timedwait(&p->done, &p->lock, &until) != 0)
            break;
    /* Spans still queued now are lost: count them with the dropped. */
    uint64_t lost = p->st.dropped + (uint64_t)p->nqueued;
    if (lost > p->reported) {
        p->reported = lost;
        hc_log_error("OpenTelemetry: %llu of %llu spans were not sent to %s (%s)",
                     (unsigned long long)lost, (unsigned long long)p->st.queued, p->traces.url,
                     p->nqueued && !p->last_err[0] ? "still queued at exit" : p->last_err);
    }
    pthread_mutex_unlock(&p->lock);
}
