/* fastmock.c — a tiny, fast HTTPS (or HTTP) OpenAI chat-completions double
 * for benchmarks, so that the provider is never the bottleneck being measured.
 *
 * Built by tests/bench/bench.py with `cc -O2 ... -lssl -lcrypto -lpthread`;
 * not part of the Makefile and not a test double for correctness (that is
 * tests/mock/mock_provider.py, which models the providers' formats closely).
 *
 *   fastmock [--host 127.0.0.1] [--port 0] [--portfile F] [--cert F --key F | --plain]
 *
 * Writes "port=N\n" to stdout and (atomically) to --portfile once listening,
 * then serves until killed. One thread per connection, HTTP/1.1 keep-alive,
 * TCP_NODELAY.
 *
 * Every POST is answered as OpenAI chat completions would be:
 * - the body contains "stream":true → an SSE stream (chunked, one HTTP chunk
 *   per event): a role chunk, one chunk per word, a finish chunk, a usage chunk
 *   if "include_usage":true is in the body (and then ,"usage":null in every
 *   other chunk, as OpenAI does), then data: [DONE];
 * - otherwise a fixed chat.completion JSON with usage (Content-Length).
 * Request headers tune a stream:
 *   x-fastmock-words: N          words in the streamed answer (default 12)
 *   x-fastmock-delay-ms: N       event k (k ≥ 1) leaves at k×N ms after the head
 *                                (absolute schedule: no drift), the finish
 *                                chunk, usage and [DONE] together after the words
 *   x-fastmock-stream-bytes: N   instead of words: content events of ~1 KiB
 *                                until N bytes of events were sent (bulk
 *                                streams for memory/throughput benchmarks;
 *                                written in ~64 KiB writes)
 * Any other method or path gets the same answers: the benchmark drives it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static SSL_CTX *ctx; /* NULL when --plain */

#include "benchconn.h"

/* Index just past "\r\n\r\n" in the buffer, reading more as needed. */
static long read_head(struct conn *c)
{
    size_t scanned = 0;
    for (;;) {
        char *b = c->buf + c->start;
        size_t have = c->end - c->start;
        for (size_t i = scanned; i + 3 < have; i++)
            if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n')
                return (long)(i + 4);
        scanned = have > 3 ? have - 3 : 0;
        if (fill(c, have + 1) != 0)
            return -1;
    }
}

static const char *hdr(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = head, *end = head + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

static long hdr_num(const char *head, size_t len, const char *name, long dflt)
{
    size_t vl;
    const char *v = hdr(head, len, name, &vl);
    return v ? strtol(v, NULL, 10) : dflt;
}

static const char *memstr(const char *h, size_t hl, const char *n)
{
    size_t nl = strlen(n);
    return nl <= hl ? memmem(h, hl, n, nl) : NULL;
}

/* Read the request body into *out (malloc'd). Returns its length or -1. */
static long read_body(struct conn *c, const char *head, size_t hl, char **out)
{
    size_t vl;
    const char *te = hdr(head, hl, "transfer-encoding", &vl);
    size_t cap = 4096, len = 0;
    char *body = malloc(cap);
    if (!body)
        return -1;
    if (te && vl >= 7 && strncasecmp(te, "chunked", 7) == 0) {
        for (;;) {
            /* chunk-size line */
            size_t i = 0;
            for (;;) {
                if (fill(c, i + 2) != 0)
                    goto bad;
                if (c->buf[c->start + i] == '\r' && c->buf[c->start + i + 1] == '\n')
                    break;
                i++;
            }
            long n = strtol(c->buf + c->start, NULL, 16);
            c->start += i + 2;
            if (n < 0)
                goto bad;
            if (n == 0) { /* trailers until an empty line */
                for (;;) {
                    size_t j = 0;
                    for (;;) {
                        if (fill(c, j + 2) != 0)
                            goto bad;
                        if (c->buf[c->start + j] == '\r' && c->buf[c->start + j + 1] == '\n')
                            break;
                        j++;
                    }
                    c->start += j + 2;
                    if (j == 0)
                        break;
                }
                break;
            }
            while (n > 0) {
                if (fill(c, 1) != 0)
                    goto bad;
                size_t take = c->end - c->start;
                if (take > (size_t)n)
                    take = (size_t)n;
                if (len + take + 1 > cap) {
                    while (len + take + 1 > cap)
                        cap *= 2;
                    char *nb = realloc(body, cap);
                    if (!nb)
                        goto bad;
                    body = nb;
                }
                memcpy(body + len, c->buf + c->start, take);
                len += take;
                c->start += take;
                n -= (long)take;
            }
            if (fill(c, 2) != 0)
                goto bad;
            c->start += 2;
        }
    } else {
        long n = hdr_num(head, hl, "content-length", 0);
        if (n < 0 || n > (64L << 20))
            goto bad;
        while ((size_t)n + 1 > cap)
            cap *= 2;
        char *nb = realloc(body, cap);
        if (!nb)
            goto bad;
        body = nb;
        while (len < (size_t)n) {
            if (fill(c, 1) != 0)
                goto bad;
            size_t take = c->end - c->start;
            if (take > (size_t)n - len)
                take = (size_t)n - len;
            memcpy(body + len, c->buf + c->start, take);
            len += take;
            c->start += take;
        }
    }
    body[len] = 0;
    *out = body;
    return (long)len;
bad:
    free(body);
    return -1;
}

static const char PLAIN_BODY[] =
    "{\n"
    "  \"id\": \"chatcmpl-fastmock000000000000000001\",\n"
    "  \"object\": \"chat.completion\",\n"
    "  \"created\": 1735689600,\n"
    "  \"model\": \"gpt-4o-mini-2024-07-18\",\n"
    "  \"choices\": [\n"
    "    {\n"
    "      \"index\": 0,\n"
    "      \"message\": {\n"
    "        \"role\": \"assistant\",\n"
    "        \"content\": \"Mock answer to: hello there how are you lorem ipsum dolor\",\n"
    "        \"refusal\": null,\n"
    "        \"annotations\": []\n"
    "      },\n"
    "      \"logprobs\": null,\n"
    "      \"finish_reason\": \"stop\"\n"
    "    }\n"
    "  ],\n"
    "  \"usage\": {\n"
    "    \"prompt_tokens\": 15,\n"
    "    \"completion_tokens\": 12,\n"
    "    \"total_tokens\": 27,\n"
    "    \"prompt_tokens_details\": {\n"
    "      \"cached_tokens\": 0,\n"
    "      \"audio_tokens\": 0\n"
    "    },\n"
    "    \"completion_tokens_details\": {\n"
    "      \"reasoning_tokens\": 0,\n"
    "      \"audio_tokens\": 0,\n"
    "      \"accepted_prediction_tokens\": 0,\n"
    "      \"rejected_prediction_tokens\": 0\n"
    "    }\n"
    "  },\n"
    "  \"service_tier\": \"default\",\n"
    "  \"system_fingerprint\": \"fp_fastmock\"\n"
    "}\n";

static const char COMMON_HEADERS[] =
    "x-request-id: req_fastmock\r\n"
    "openai-version: 2020-10-01\r\n"
    "openai-processing-ms: 1\r\n"
    "x-ratelimit-limit-requests: 10000\r\n"
    "x-ratelimit-limit-tokens: 2000000\r\n"
    "x-ratelimit-remaining-requests: 9999\r\n"
    "x-ratelimit-remaining-tokens: 1999973\r\n"
    "x-ratelimit-reset-requests: 1s\r\n"
    "x-ratelimit-reset-tokens: 6m0s\r\n";

static const char *WORDS[] = {"Mock", " answer", " to:", " hello", " there", " how", " are", " you",
                              " lorem", " ipsum", " dolor", " sit", " amet"};

/* An output buffer that becomes HTTP chunks. */
struct out {
    char *p;
    size_t len, cap;
};

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        while (o->len + n > o->cap)
            o->cap = o->cap ? o->cap * 2 : 65536;
        o->p = realloc(o->p, o->cap);
        if (!o->p)
            abort();
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Append one SSE event as one HTTP chunk. */
static void out_event(struct out *o, const char *fmt, ...)
{
    char ev[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ev, sizeof ev, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof ev)
        abort();
    char sz[32];
    int m = snprintf(sz, sizeof sz, "%x\r\n", n);
    out_put(o, sz, (size_t)m);
    out_put(o, ev, (size_t)n);
    out_put(o, "\r\n", 2);
}

static int flush_out(struct conn *c, struct out *o)
{
    int r = o->len ? c_write(c, o->p, o->len) : 0;
    o->len = 0;
    return r;
}

/* Sleep until t0 + ms (absolute: delays do not accumulate the time spent
 * writing, so event k leaves at t0 + k×delay however busy the machine is). */
static void sleep_until(const struct timespec *t0, long ms)
{
    struct timespec t = *t0;
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
        ;
}

#define CHUNK_PFX "{\"id\":\"chatcmpl-fastmock1\",\"object\":\"chat.completion.chunk\",\"created\":1735689600," \
                  "\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fastmock\","

static int answer_stream(struct conn *c, const char *head, size_t hl, const char *body, size_t bl)
{
    long words = hdr_num(head, hl, "x-fastmock-words", 12);
    long delay = hdr_num(head, hl, "x-fastmock-delay-ms", 0);
    long bulk = hdr_num(head, hl, "x-fastmock-stream-bytes", 0);
    int usage = memstr(body, bl, "\"include_usage\":true") || memstr(body, bl, "\"include_usage\": true");
    const char *un = usage ? ",\"usage\":null" : "";
    struct out o = {0};
    static const char H[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                            "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n";
    out_put(&o, H, sizeof H - 1);
    out_put(&o, COMMON_HEADERS, sizeof COMMON_HEADERS - 1);
    out_put(&o, "\r\n", 2);
    out_event(&o, "data: " CHUNK_PFX "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
                  "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]%s}\n\n", un);
    long out_tokens = 0;
    int rc = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (bulk > 0) {
        char text[1001];
        for (int i = 0; i < 1000; i++)
            text[i] = "lorem ipsum dolor sit amet "[i % 27];
        text[1000] = 0;
        long sent = 0;
        while (sent < bulk) {
            size_t before = o.len;
            out_event(&o, "data: " CHUNK_PFX "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},"
                          "\"logprobs\":null,\"finish_reason\":null}]%s}\n\n", text, un);
            sent += (long)(o.len - before - strlen(un)); /* what the app sees */
            out_tokens += 200;
            if (o.len >= 60000 && (rc = flush_out(c, &o)) != 0)
                goto done;
        }
    } else {
        for (long i = 0; i < words; i++) {
            if (delay > 0) {
                if ((rc = flush_out(c, &o)) != 0)
                    goto done;
                sleep_until(&t0, delay * (i + 1));
            }
            out_event(&o, "data: " CHUNK_PFX "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},"
                          "\"logprobs\":null,\"finish_reason\":null}]%s}\n\n",
                      WORDS[i % (long)(sizeof WORDS / sizeof *WORDS)], un);
            out_tokens++;
        }
        if (delay > 0) {
            if ((rc = flush_out(c, &o)) != 0)
                goto done;
            sleep_until(&t0, delay * (words + 1));
        }
    }
    out_event(&o, "data: " CHUNK_PFX "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                  "\"finish_reason\":\"stop\"}]%s}\n\n", un);
    if (usage)
        out_event(&o, "data: " CHUNK_PFX "\"choices\":[],\"usage\":{\"prompt_tokens\":15,\"completion_tokens\":%ld,"
                      "\"total_tokens\":%ld,\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
                      "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                      "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n",
                  out_tokens, out_tokens + 15);
    out_event(&o, "data: [DONE]\n\n");
    out_put(&o, "0\r\n\r\n", 5);
    rc = flush_out(c, &o);
done:
    free(o.p);
    return rc;
}

static char plain_resp[4096];
static size_t plain_len;

static void *serve(void *arg)
{
    struct conn *c = arg;
    if (ctx) {
        c->ssl = SSL_new(ctx);
        SSL_set_fd(c->ssl, c->fd);
        if (SSL_accept(c->ssl) != 1)
            goto out;
    }
    for (;;) {
        long hl = read_head(c);
        if (hl < 0)
            break;
        char *head = c->buf + c->start;
        /* copy the head: reading the body may move the buffer */
        char h[16384];
        if (hl >= (long)sizeof h)
            break;
        memcpy(h, head, (size_t)hl);
        h[hl] = 0;
        c->start += (size_t)hl;
        char *body = NULL;
        long bl = read_body(c, h, (size_t)hl, &body);
        if (bl < 0)
            break;
        size_t vl;
        const char *conn = hdr(h, (size_t)hl, "connection", &vl);
        int close_after = conn && vl >= 5 && strncasecmp(conn, "close", 5) == 0;
        int stream = memstr(body, (size_t)bl, "\"stream\":true") || memstr(body, (size_t)bl, "\"stream\": true");
        int rc = stream ? answer_stream(c, h, (size_t)hl, body, (size_t)bl) : c_write(c, plain_resp, plain_len);
        free(body);
        if (rc != 0 || close_after)
            break;
    }
out:
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
    free(c);
    return NULL;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fastmock: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg)
{
    static const unsigned char h11[] = "\x08http/1.1";
    (void)s;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, h11, sizeof h11 - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    return SSL_TLSEXT_ERR_OK;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *cert = NULL, *key = NULL, *portfile = NULL;
    int port = 0, plain = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--plain"))
            plain = 1;
        else if (!v)
            die("missing value for %s", a);
        else if (!strcmp(a, "--host"))
            host = v, i++;
        else if (!strcmp(a, "--port"))
            port = atoi(v), i++;
        else if (!strcmp(a, "--cert"))
            cert = v, i++;
        else if (!strcmp(a, "--key"))
            key = v, i++;
        else if (!strcmp(a, "--portfile"))
            portfile = v, i++;
        else
            die("unknown option %s", a);
    }
    signal(SIGPIPE, SIG_IGN);
    if (!plain) {
        if (!cert || !key)
            die("--cert and --key are required (or --plain)");
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
            die("cannot load %s / %s", cert, key);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    }
    int n = snprintf(plain_resp, sizeof plain_resp,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: keep-alive\r\n%s\r\n%s",
                     sizeof PLAIN_BODY - 1, COMMON_HEADERS, PLAIN_BODY);
    plain_len = (size_t)n;

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        die("bad --host %s (IPv4 literal)", host);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 512) != 0)
        die("bind/listen: %s", strerror(errno));
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    printf("port=%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    if (portfile) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
        FILE *f = fopen(tmp, "w");
        if (!f)
            die("cannot write %s", tmp);
        fprintf(f, "port=%d\n", ntohs(sa.sin_port));
        fclose(f);
        rename(tmp, portfile);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
                continue;
            die("accept: %s", strerror(errno));
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        pthread_t t;
        if (pthread_create(&t, &attr, serve, c) != 0) {
            close(fd);
            free(c);
        }
    }
}
