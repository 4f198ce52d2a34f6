/* loadgen.c — a small keep-alive HTTP(S) load generator for hcshim's benchmarks.
 *
 * Built by tests/bench/bench.py with `cc -O2 ... -lssl -lcrypto -lpthread`
 * (dynamically linked against the system OpenSSL on purpose: under
 * LD_PRELOAD=libhcshim.so it is an ordinary app whose connections the shim
 * redirects and whose certificate checks the shim's CA must pass).
 *
 *   loadgen --host NAME [--port 443] [--connect IP:PORT] [--plain]
 *           [--cafile F] [--insecure] [--path P] [--header "K: V"]... [--body S]
 *           [--mode load|stream|drain] [--conc N] [--warmup S] [--duration S]
 *           [--requests N] [--think-us N]
 *
 * --host is the Host header, the SNI and the name the certificate must match;
 * the address comes from getaddrinfo(host) (what the shim hooks) unless
 * --connect gives one. --cafile adds a trusted CA to the system store.
 *
 * Modes (each prints one JSON object on stdout):
 *   load    --conc threads, one kept-alive connection each, send the request
 *           back to back (zero think time, or --think-us µs between a
 *           response and the next request) for --warmup seconds (discarded)
 *           then --duration seconds (or --requests per thread). Latency = the
 *           request's first byte written to the response's last byte read.
 *           {"requests","errors","seconds","rps","p50_us","p90_us","p99_us",
 *            "mean_us","max_us","cpu_s","all_requests","cpu_total_s"}
 *           cpu_s = this process's user+sys CPU during the measured phase;
 *           all_requests and cpu_total_s include the warm-up
 *   stream  --requests sequential requests on one connection; for each, the
 *           time (µs after the request was written) of the response head and
 *           of the end of every SSE event ("\n\n") of the decoded body.
 *           {"runs":[{"head_us":..,"events_us":[...]}, ...]}
 *   drain   one request; counts the decoded body bytes.
 *           {"bytes","seconds","vmhwm_kb","vmrss_kb"} (from /proc/self/status)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host = "api.openai.com", *connect_to = NULL, *cafile = NULL, *path = "/v1/chat/completions";
static const char *port = NULL, *body = NULL, *mode = "load";
static char headers[8192];
static int plain, insecure, conc = 1, nreq = 0;
static double warmup = 0.5, duration = 3.0;
static int think_us; /* pause between a response and the next request */
static SSL_CTX *ctx;
static char *request;
static size_t request_len;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#include "benchconn.h"

static void conn_close(struct conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->start = c->end = 0;
}

static int conn_open(struct conn *c)
{
    c->fd = -1;
    c->ssl = NULL;
    c->start = c->end = 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
    char h[256], p[16];
    if (connect_to) {
        const char *colon = strrchr(connect_to, ':');
        if (!colon)
            die("--connect wants IP:PORT");
        snprintf(h, sizeof h, "%.*s", (int)(colon - connect_to), connect_to);
        snprintf(p, sizeof p, "%s", colon + 1);
        hints.ai_flags = AI_NUMERICHOST;
    } else {
        snprintf(h, sizeof h, "%s", host);
        snprintf(p, sizeof p, "%s", port ? port : plain ? "80" : "443");
    }
    int rc = getaddrinfo(h, p, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "loadgen: getaddrinfo %s: %s\n", h, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (c->fd < 0)
            continue;
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        fprintf(stderr, "loadgen: connect %s:%s: %s\n", h, p, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!plain) {
        c->ssl = SSL_new(ctx);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, host);
        if (!insecure) {
            struct in_addr a4;
            struct in6_addr a6;
            if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1)
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
            else
                SSL_set1_host(c->ssl, host);
        }
        if (SSL_connect(c->ssl) != 1) {
            fprintf(stderr, "loadgen: TLS handshake with %s failed: %s\n", host,
                    X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
            ERR_print_errors_fp(stderr);
            conn_close(c);
            return -1;
        }
    }
    return 0;
}

/* Read more (at least one byte) without a minimum beyond what is there. */
static int fill_more(struct conn *c)
{
    return fill(c, c->end - c->start + 1);
}

static size_t line_len(struct conn *c, int *err)
{
    size_t i = 0;
    for (;;) {
        if (fill(c, i + 2) != 0) {
            *err = 1;
            return 0;
        }
        if (c->buf[c->start + i] == '\r' && c->buf[c->start + i + 1] == '\n')
            return i;
        i++;
    }
}

/* Body sink: stream mode tracks SSE event ends. */
struct sink {
    int64_t t0;
    size_t bytes;
    int track;
    char last;          /* last byte seen, to find "\n\n" across pieces */
    int64_t *ev;
    size_t nev, cap;
};

static void sink_put(struct sink *s, const char *p, size_t n)
{
    s->bytes += n;
    if (!s->track)
        return;
    int64_t t = -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' && s->last == '\n') {
            if (t < 0)
                t = now_ns();
            if (s->nev == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 64;
                s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
            }
            s->ev[s->nev++] = t - s->t0;
        }
        s->last = p[i];
    }
}

/* Does [p, eol) contain `word` (ASCII case-insensitive)? */
static int line_has(const char *p, const char *eol, const char *word)
{
    size_t n = strlen(word);
    for (; p + n <= eol; p++)
        if (!strncasecmp(p, word, n))
            return 1;
    return 0;
}

/* Read one response. Returns 0 ok (status in *status), -1 on a broken
 * connection. *keep says whether the connection may be reused. */
static int read_response(struct conn *c, struct sink *s, int *status, int *keep, int64_t *head_ns)
{
    size_t scanned = 0;
    long hl = -1;
    for (;;) {
        char *b = c->buf + c->start;
        size_t have = c->end - c->start;
        for (size_t i = scanned; i + 3 < have; i++)
            if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
                hl = (long)(i + 4);
                break;
            }
        if (hl >= 0)
            break;
        scanned = have > 3 ? have - 3 : 0;
        if (fill_more(c) != 0)
            return -1;
    }
    if (head_ns)
        *head_ns = now_ns();
    char *h = c->buf + c->start;
    *status = atoi(h + 9);
    long clen = -1;
    int chunked = 0;
    *keep = 1;
    for (char *p = h; p < h + hl;) {
        char *eol = memchr(p, '\n', (size_t)(h + hl - p));
        if (!eol)
            break;
        if (!strncasecmp(p, "content-length:", 15))
            clen = strtol(p + 15, NULL, 10);
        else if (!strncasecmp(p, "transfer-encoding:", 18) && line_has(p, eol, "chunked"))
            chunked = 1;
        else if (!strncasecmp(p, "connection:", 11) && line_has(p, eol, "close"))
            *keep = 0;
        p = eol + 1;
    }
    c->start += (size_t)hl;
    if (chunked) {
        for (;;) {
            int err = 0;
            size_t ll = line_len(c, &err);
            if (err)
                return -1;
            long n = strtol(c->buf + c->start, NULL, 16);
            c->start += ll + 2;
            if (n == 0) {
                for (;;) {
                    ll = line_len(c, &err);
                    if (err)
                        return -1;
                    c->start += ll + 2;
                    if (ll == 0)
                        return 0;
                }
            }
            while (n > 0) {
                if (c->end == c->start && fill_more(c) != 0)
                    return -1;
                size_t take = c->end - c->start;
                if (take > (size_t)n)
                    take = (size_t)n;
                sink_put(s, c->buf + c->start, take);
                c->start += take;
                n -= (long)take;
            }
            if (fill(c, 2) != 0)
                return -1;
            c->start += 2;
        }
    } else if (clen >= 0) {
        while (clen > 0) {
            if (c->end == c->start && fill_more(c) != 0)
                return -1;
            size_t take = c->end - c->start;
            if (take > (size_t)clen)
                take = (size_t)clen;
            sink_put(s, c->buf + c->start, take);
            c->start += take;
            clen -= (long)take;
        }
    } else { /* until close */
        *keep = 0;
        for (;;) {
            if (c->end == c->start && fill_more(c) != 0)
                return 0;
            sink_put(s, c->buf + c->start, c->end - c->start);
            c->start = c->end;
        }
    }
    return 0;
}

/* ---- load mode ---------------------------------------------------------- */
struct worker {
    pthread_t t;
    int64_t *lat;
    size_t n, cap;
    long errors;
    long all;      /* successful requests, warm-up included */
};

static volatile int phase; /* 0 warm-up, 1 measure, 2 stop */

static void *load_thread(void *arg)
{
    struct worker *w = arg;
    struct conn *c = calloc(1, sizeof *c);
    c->fd = -1;
    long done = 0;
    while (__atomic_load_n(&phase, __ATOMIC_RELAXED) != 2) {
        if (c->fd < 0 && conn_open(c) != 0) {
            w->errors++;
            usleep(10000);
            continue;
        }
        if (think_us > 0)
            usleep((useconds_t)think_us);
        int measuring = __atomic_load_n(&phase, __ATOMIC_RELAXED) == 1;
        struct sink s = {0};
        int st, keep;
        int64_t t0 = now_ns();
        if (c_write(c, request, request_len) != 0 || read_response(c, &s, &st, &keep, NULL) != 0) {
            conn_close(c);
            w->errors++;
            continue;
        }
        int64_t dt = now_ns() - t0;
        if (!keep)
            conn_close(c);
        if (st != 200) {
            w->errors++;
            continue;
        }
        w->all++;
        if (measuring) {
            if (w->n == w->cap) {
                w->cap = w->cap ? w->cap * 2 : 4096;
                w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
            }
            w->lat[w->n++] = dt;
            if (nreq > 0 && ++done >= nreq)
                break;
        }
    }
    conn_close(c);
    free(c);
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int run_load(void)
{
    struct worker *w = calloc((size_t)conc, sizeof *w);
    /* Connections are opened (and TLS handshakes done) in the warm-up. */
    for (int i = 0; i < conc; i++)
        pthread_create(&w[i].t, NULL, load_thread, &w[i]);
    usleep((useconds_t)(warmup * 1e6));
    double cpu0 = cpu_s();
    int64_t t0 = now_ns();
    __atomic_store_n(&phase, 1, __ATOMIC_RELAXED);
    if (nreq > 0) {
        for (int i = 0; i < conc; i++)
            pthread_join(w[i].t, NULL);
    } else {
        usleep((useconds_t)(duration * 1e6));
        __atomic_store_n(&phase, 2, __ATOMIC_RELAXED);
    }
    int64_t t1 = now_ns();
    double cpu1 = cpu_s();
    if (nreq <= 0)
        for (int i = 0; i < conc; i++)
            pthread_join(w[i].t, NULL);
    size_t total = 0;
    long errors = 0, nall = 0;
    for (int i = 0; i < conc; i++)
        total += w[i].n, errors += w[i].errors, nall += w[i].all;
    int64_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    double sum = 0;
    for (int i = 0; i < conc; i++)
        for (size_t j = 0; j < w[i].n; j++)
            all[k++] = w[i].lat[j], sum += (double)w[i].lat[j];
    qsort(all, total, sizeof *all, cmp64);
    double secs = (double)(t1 - t0) / 1e9;
#define PCT(p) (total ? all[(size_t)((double)(total - 1) * (p))] / 1000.0 : 0.0)
    printf("{\"requests\":%zu,\"errors\":%ld,\"seconds\":%.4f,\"rps\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
           "\"p99_us\":%.1f,\"mean_us\":%.1f,\"min_us\":%.1f,\"max_us\":%.1f,\"cpu_s\":%.4f,"
           "\"all_requests\":%ld,\"cpu_total_s\":%.4f}\n",
           total, errors, secs, total / secs, PCT(0.5), PCT(0.9), PCT(0.99), total ? sum / total / 1000.0 : 0.0,
           PCT(0.0), PCT(1.0), cpu1 - cpu0, nall, cpu_s());
    return total > 0 ? 0 : 1;
}

/* ---- stream and drain modes --------------------------------------------- */
static int run_stream(void)
{
    struct conn c;
    if (conn_open(&c) != 0)
        return 1;
    int runs = nreq > 0 ? nreq : 1;
    printf("{\"runs\":[");
    for (int r = 0; r < runs; r++) {
        struct sink s = {.track = 1};
        int st, keep;
        int64_t head;
        if (c.fd < 0 && conn_open(&c) != 0)
            return 1;
        s.t0 = now_ns();
        if (c_write(&c, request, request_len) != 0 || read_response(&c, &s, &st, &keep, &head) != 0)
            die("stream request %d failed", r);
        if (st != 200)
            die("stream request %d: status %d", r, st);
        printf("%s{\"head_us\":%.1f,\"events_us\":[", r ? "," : "", (double)(head - s.t0) / 1000.0);
        for (size_t i = 0; i < s.nev; i++)
            printf("%s%.1f", i ? "," : "", (double)s.ev[i] / 1000.0);
        printf("]}");
        free(s.ev);
        if (!keep)
            conn_close(&c);
    }
    printf("]}\n");
    conn_close(&c);
    return 0;
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl))
            v = strtol(line + kl + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static int run_drain(void)
{
    struct conn c;
    if (conn_open(&c) != 0)
        return 1;
    struct sink s = {0};
    int st, keep;
    int64_t t0 = now_ns();
    if (c_write(&c, request, request_len) != 0 || read_response(&c, &s, &st, &keep, NULL) != 0)
        die("drain request failed");
    double secs = (double)(now_ns() - t0) / 1e9;
    conn_close(&c);
    printf("{\"status\":%d,\"bytes\":%zu,\"seconds\":%.4f,\"vmhwm_kb\":%ld,\"vmrss_kb\":%ld}\n", st, s.bytes, secs,
           status_kb("VmHWM:"), status_kb("VmRSS:"));
    return st == 200 ? 0 : 1;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--plain")) {
            plain = 1;
            continue;
        }
        if (!strcmp(a, "--insecure")) {
            insecure = 1;
            continue;
        }
        if (!v)
            die("missing value for %s", a);
        i++;
        if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--port"))
            port = v;
        else if (!strcmp(a, "--connect"))
            connect_to = v;
        else if (!strcmp(a, "--cafile"))
            cafile = v;
        else if (!strcmp(a, "--path"))
            path = v;
        else if (!strcmp(a, "--body"))
            body = v;
        else if (!strcmp(a, "--mode"))
            mode = v;
        else if (!strcmp(a, "--conc"))
            conc = atoi(v);
        else if (!strcmp(a, "--warmup"))
            warmup = atof(v);
        else if (!strcmp(a, "--duration"))
            duration = atof(v);
        else if (!strcmp(a, "--requests"))
            nreq = atoi(v);
        else if (!strcmp(a, "--think-us"))
            think_us = atoi(v);
        else if (!strcmp(a, "--header")) {
            size_t l = strlen(headers);
            snprintf(headers + l, sizeof headers - l, "%s\r\n", v);
        } else
            die("unknown option %s", a);
    }
    if (conc < 1)
        conc = 1;
    signal(SIGPIPE, SIG_IGN);
    if (!body)
        body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
               "{\"role\":\"user\",\"content\":\"hello there how are you\"}]}";
    size_t cap = strlen(body) + strlen(headers) + strlen(host) + strlen(path) + 512;
    request = malloc(cap);
    request_len = (size_t)snprintf(request, cap,
                                   "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hcshim-loadgen\r\n"
                                   "Authorization: Bearer sk-bench-not-a-key\r\nContent-Type: application/json\r\n"
                                   "Accept: */*\r\nContent-Length: %zu\r\n%s\r\n%s",
                                   path, host, strlen(body), headers, body);
    if (!plain) {
        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx)
            die("SSL_CTX_new");
        if (!insecure) {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
            SSL_CTX_set_default_verify_paths(ctx);
            if (cafile && SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1)
                die("cannot load %s", cafile);
        }
        static const unsigned char alpn[] = "\x08http/1.1";
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    }
    if (!strcmp(mode, "load"))
        return run_load();
    if (!strcmp(mode, "stream"))
        return run_stream();
    if (!strcmp(mode, "drain"))
        return run_drain();
    die("unknown --mode %s", mode);
    return 2;
}
