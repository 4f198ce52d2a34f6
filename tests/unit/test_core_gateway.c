/* test_core_gateway.c — the whole core gateway in one process, no LD_PRELOAD.
 *
 * The test plays both neighbours of the core:
 *   - the hooks: a fake hc_shim_api (real libc functions, api.openai.com as the
 *     only LLM host) handed to hc_core_entry(), which is linked in;
 *   - the app: client threads that create a socket, call core->connect() with
 *     the address the app "resolved" api.openai.com to, and speak TLS through
 *     it, trusting the gateway CA that core->ca_file() writes out;
 *   - the provider: a TLS server on 127.0.0.1:<ephemeral> with a certificate
 *     for api.openai.com from a test CA that the core trusts via HC_CA_FILE.
 *     It answers OpenAI chat completions (JSON with usage, or SSE with a final
 *     usage chunk when stream_options.include_usage is set), with keep-alive.
 * The app's "resolved" address IS the test upstream: an unrouted request goes
 * to the very address the app connected to, so no HC_ROUTE is needed and the
 * upstream's certificate is verified for api.openai.com like the real one.
 *
 * Covered: one request; 8 threads x 12 keep-alive requests (JSON and SSE
 * mixed), each answer matched to its prompt; SSE streams arrive whole, in
 * order, byte-for-byte as the provider would have sent them without the
 * injected include_usage, and as they are produced (not buffered); the cache
 * (MISS, HIT on the same and on a new connection, one upstream call); a
 * client-side rate limit (429 after the quota, upstream not called); the app
 * hanging up mid-stream (upstream closed promptly, gateway keeps serving).
 * Last, after core->flush(), every record in the store is checked against
 * what the test sent: count, model, tokens, status, flags, and one body pair;
 * and the core must have marked its own threads (guard_thread), never the
 * app's, and closed every upstream connection once the app closed its own.
 *
 * The store is read through the core's own handle (hc_core_store): LMDB
 * forbids opening one environment twice in a process (store.c DESIGN), and a
 * read transaction sees exactly what the recorder committed.
 *
 * Runs under ASan+UBSan and TSan (make check-tsan builds it with -fsanitize=thread).
 */
#include "core.h"
#include "err.h"
#include "record.h"
#include "store.h"
#include "buf.h"
#include "clock.h"
#include "shim/core_api.h"
#include "t.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOST       "api.openai.com"
#define MODEL      "gpt-4o-mini"
#define MODEL_RESP "gpt-4o-mini-2024-07-18"
#define NWORKERS   8
#define NPERWORKER 12
#define UP_BUF     (256 * 1024)

const hc_core_api *hc_core_entry(const hc_shim_api *s);

static const hc_core_api *core;
static char tmpdir[256];

/* ---- the fake hooks ------------------------------------------------------------ */

/* glibc declares connect/getpeername with transparent-union address types, so
 * their addresses do not convert to the table's pointer types: wrap them. */
static int real_connect(int fd, const struct sockaddr *a, socklen_t l)
{
    return connect(fd, a, l);
}
static int real_getpeername(int fd, struct sockaddr *a, socklen_t *l)
{
    return getpeername(fd, a, l);
}

/* Core threads must mark themselves (their sockets and TLS bypass the hooks);
 * the app's threads must never be marked. */
static _Thread_local bool guarded;
static int guard_calls;
static void fake_guard_thread(void)
{
    guarded = true;
    __atomic_fetch_add(&guard_calls, 1, __ATOMIC_RELAXED);
}
static bool fake_is_llm_host(const char *h)
{
    return strcasecmp(h, HOST) == 0;
}
static const char *const host_patterns[] = { HOST, NULL };
static const char *const *fake_patterns(void)
{
    return host_patterns;
}

static const hc_shim_api shim = {
    .version = HC_CORE_API_VERSION,
    .connect = real_connect,
    .getaddrinfo = getaddrinfo,
    .freeaddrinfo = freeaddrinfo,
    .getpeername = real_getpeername,
    .guard_thread = fake_guard_thread,
    .is_llm_host = fake_is_llm_host,
    .llm_host_patterns = fake_patterns,
};

/* ---- what the provider answers (shared by the upstream and the checks) ---------- */

static int64_t tok_in(const char *prompt)
{
    return 5 + (int64_t)strlen(prompt);
}
static int64_t tok_out(const char *prompt)
{
    return 2 + (int64_t)(strlen(prompt) % 9);
}

static void answer_json(hc_buf *b, const char *prompt)
{
    hc_buf_printf(
        b,
        "{\"id\":\"chatcmpl-t\",\"object\":\"chat.completion\",\"created\":1700000000,"
        "\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"echo:%s\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":%lld,"
        "\"completion_tokens\":%lld,\"total_tokens\":%lld}}",
        MODEL_RESP, prompt, (long long)tok_in(prompt), (long long)tok_out(prompt),
        (long long)(tok_in(prompt) + tok_out(prompt)));
}

/* Content events of a stream: "slow-" ones drip long enough to be cut off. */
static int stream_len(const char *prompt)
{
    return strncmp(prompt, "slow-", 5) == 0 ? 200 : strncmp(prompt, "drip-", 5) == 0 ? 8 : 4;
}

/* Gap between events, ms. */
static int stream_gap_ms(const char *prompt)
{
    return strncmp(prompt, "slow-", 5) == 0 ? 20 : strncmp(prompt, "drip-", 5) == 0 ? 25 : 0;
}

enum { EV_DELTA, EV_STOP, EV_USAGE, EV_DONE };

/* One SSE event as OpenAI sends it; with include_usage every chunk carries
 * "usage":null as its last member. */
static void sse_event(hc_buf *b, const char *prompt, int i, int kind, bool with_usage)
{
    const char *pre =
        "data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,";
    const char *tail = with_usage ? ",\"usage\":null}\n\n" : "}\n\n";
    if (kind == EV_DELTA)
        hc_buf_printf(
            b,
            "%s\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s#%d \"},"
            "\"finish_reason\":null}]%s",
            pre, MODEL_RESP, prompt, i, tail);
    else if (kind == EV_STOP)
        hc_buf_printf(b,
                      "%s\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
                      "\"stop\"}]%s",
                      pre, MODEL_RESP, tail);
    else if (kind == EV_USAGE)
        hc_buf_printf(b,
                      "%s\"model\":\"%s\",\"choices\":[],\"usage\":{\"prompt_tokens\":%lld,"
                      "\"completion_tokens\":%lld,\"total_tokens\":%lld}}\n\n",
                      pre, MODEL_RESP, (long long)tok_in(prompt), (long long)tok_out(prompt),
                      (long long)(tok_in(prompt) + tok_out(prompt)));
    else
        hc_buf_puts(b, "data: [DONE]\n\n");
}

/* The whole stream, unframed: what the app must receive. */
static void expected_stream(hc_buf *b, const char *prompt, bool with_usage)
{
    for (int i = 0; i < stream_len(prompt); i++)
        sse_event(b, prompt, i, EV_DELTA, with_usage);
    sse_event(b, prompt, 0, EV_STOP, with_usage);
    if (with_usage)
        sse_event(b, prompt, 0, EV_USAGE, true);
    sse_event(b, prompt, 0, EV_DONE, with_usage);
}

/* Value of header `name` in a head (first line skipped) into out; false if absent. */
static bool find_header(const char *head, size_t len, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', len), *end = head + len;
    while (p && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t vl = ll - nl - 1;
            while (vl && *v == ' ')
                v++, vl--;
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            snprintf(out, size, "%.*s", (int)vl, v);
            return true;
        }
        p = eol;
    }
    return false;
}

/* ---- test PKI for the upstream ------------------------------------------------- */

static void add_ext(X509 *x, X509 *issuer, int nid, const char *val)
{
    X509V3_CTX v;
    X509V3_set_ctx_nodb(&v);
    X509V3_set_ctx(&v, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v, nid, val);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* A certificate for key, named cn, signed by issuer (NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       long serial)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
    X509_set_pubkey(x, key);
    if (!issuer) {
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(x, x, NID_subject_key_identifier, "hash");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
        add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
        add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
        add_ext(x, issuer, NID_subject_alt_name, "DNS:" HOST);
        add_ext(x, issuer, NID_authority_key_identifier, "keyid");
    }
    X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
    return x;
}

/* The upstream's TLS context; the CA certificate goes to ca_path (public part only). */
static SSL_CTX *upstream_tls(const char *ca_path)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *leaf_key = EVP_EC_gen("P-256");
    X509 *ca = make_cert(ca_key, "hcshim test upstream CA", NULL, NULL, 1);
    X509 *leaf = make_cert(leaf_key, HOST, ca, ca_key, 2);
    FILE *f = fopen(ca_path, "w");
    bool ok = f && PEM_write_X509(f, ca) == 1;
    if (f)
        ok = fclose(f) == 0 && ok;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ok || !ctx || SSL_CTX_use_certificate(ctx, leaf) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, leaf_key) != 1 ||
        SSL_CTX_add_extra_chain_cert(ctx, X509_dup(ca)) != 1) {
        SSL_CTX_free(ctx);
        ctx = NULL;
    }
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(ca_key);
    return ctx;
}

/* ---- the upstream: an OpenAI-like TLS server ---------------------------------------- */

static struct {
    int lfd, port;
    SSL_CTX *ctx;
    pthread_t thread;
    pthread_mutex_t lock; /* guards everything below */
    bool stop;
    int live;  /* connection threads running */
    int conns; /* connections accepted */
    int requests;
    int helicone_seen; /* requests that still carried a helicone-* header */
    int bad;           /* requests the upstream could not understand */
    int slow_cut;      /* slow streams whose reader went away early */
    struct {
        char prompt[64];
        int n;
    } seen[256];
    int nseen;
} up = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int up_count(const char *prompt)
{
    int n = 0;
    pthread_mutex_lock(&up.lock);
    for (int i = 0; i < up.nseen; i++)
        if (strcmp(up.seen[i].prompt, prompt) == 0)
            n = up.seen[i].n;
    pthread_mutex_unlock(&up.lock);
    return n;
}

static int up_get(const int *field)
{
    pthread_mutex_lock(&up.lock);
    int v = *field;
    pthread_mutex_unlock(&up.lock);
    return v;
}

static void up_note(const char *prompt, bool helicone, bool bad)
{
    pthread_mutex_lock(&up.lock);
    up.requests++;
    up.helicone_seen += helicone;
    up.bad += bad;
    int i = 0;
    while (i < up.nseen && strcmp(up.seen[i].prompt, prompt) != 0)
        i++;
    if (i == up.nseen && up.nseen < (int)(sizeof up.seen / sizeof up.seen[0]))
        snprintf(up.seen[up.nseen++].prompt, sizeof up.seen[0].prompt, "%s", prompt);
    if (i < up.nseen)
        up.seen[i].n++;
    pthread_mutex_unlock(&up.lock);
}

/* Does any header line of the head start with "helicone-"? (The gateway strips them.) */
static bool head_has_helicone(const char *head, size_t len)
{
    const char *end = head + len;
    for (const char *p = memchr(head, '\n', len); p && ++p < end;
         p = memchr(p, '\n', (size_t)(end - p)))
        if ((size_t)(end - p) > 9 && strncasecmp(p, "helicone-", 9) == 0)
            return true;
    return false;
}

/* Read one request into buf[0..*len). Returns head + body length, or -1 at EOF / error. */
static long up_read_request(SSL *ssl, char *buf, size_t *len, size_t *head_len)
{
    for (;;) {
        char *end = memmem(buf, *len, "\r\n\r\n", 4);
        if (end) {
            *head_len = (size_t)(end + 4 - buf);
            char cl[32] = "0";
            find_header(buf, *head_len, "content-length", cl, sizeof cl);
            size_t want = *head_len + (size_t)strtoul(cl, NULL, 10);
            if (want > UP_BUF)
                return -1;
            if (*len >= want)
                return (long)want;
        }
        if (*len >= UP_BUF)
            return -1;
        int n = SSL_read(ssl, buf + *len, (int)(UP_BUF - *len));
        if (n <= 0)
            return -1;
        *len += (size_t)n;
    }
}

static int ssl_write_all(SSL *ssl, const void *p, size_t n)
{
    return n == 0 || SSL_write(ssl, p, (int)n) == (int)n ? 0 : -1;
}

/* One event as its own HTTP chunk. */
static int write_event_chunk(SSL *ssl, hc_buf *ev)
{
    hc_buf c = HC_BUF_INIT;
    hc_buf_printf(&c, "%zx\r\n", ev->len);
    hc_buf_append(&c, ev->data, ev->len);
    hc_buf_puts(&c, "\r\n");
    int rc = ssl_write_all(ssl, c.data, c.len);
    hc_buf_free(&c);
    hc_buf_reset(ev);
    return rc;
}

static int up_stream(SSL *ssl, const char *prompt, bool usage)
{
    static const char head[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Transfer-Encoding: chunked\r\nx-ratelimit-remaining-requests: 99\r\n\r\n";
    if (ssl_write_all(ssl, head, sizeof head - 1))
        return -1;
    hc_buf ev = HC_BUF_INIT;
    int rc = 0, n = stream_len(prompt), gap = stream_gap_ms(prompt);
    for (int i = 0; i < n && rc == 0; i++) {
        sse_event(&ev, prompt, i, EV_DELTA, usage);
        rc = write_event_chunk(ssl, &ev);
        if (gap && rc == 0)
            poll(NULL, 0, gap);
    }
    if (rc != 0 && strncmp(prompt, "slow-", 5) == 0) {
        pthread_mutex_lock(&up.lock);
        up.slow_cut++;
        pthread_mutex_unlock(&up.lock);
    }
    if (rc == 0) {
        sse_event(&ev, prompt, 0, EV_STOP, usage);
        rc = write_event_chunk(ssl, &ev);
    }
    if (rc == 0 && usage) {
        sse_event(&ev, prompt, 0, EV_USAGE, true);
        rc = write_event_chunk(ssl, &ev);
    }
    if (rc == 0) {
        sse_event(&ev, prompt, 0, EV_DONE, usage);
        rc = write_event_chunk(ssl, &ev);
    }
    hc_buf_free(&ev);
    return rc == 0 ? ssl_write_all(ssl, "0\r\n\r\n", 5) : -1;
}

static int up_json(SSL *ssl, const char *prompt)
{
    hc_buf body = HC_BUF_INIT, out = HC_BUF_INIT;
    answer_json(&body, prompt);
    hc_buf_printf(&out,
                  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                  "x-ratelimit-remaining-requests: 99\r\n\r\n",
                  body.len);
    hc_buf_append(&out, body.data, body.len);
    int rc = ssl_write_all(ssl, out.data, out.len);
    hc_buf_free(&body);
    hc_buf_free(&out);
    return rc;
}

/* Answer one request (head + body in req). 0 to keep the connection, -1 to close it. */
static int up_answer(SSL *ssl, const char *req, size_t head_len, size_t total)
{
    cJSON *j = cJSON_ParseWithLength(req + head_len, total - head_len);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(j, "stream_options");
    bool stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream"));
    bool usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
    char prompt[64] = "";
    if (cJSON_IsString(content))
        snprintf(prompt, sizeof prompt, "%s", content->valuestring);
    bool bad = !prompt[0] || strncmp(req, "POST /v1/chat/completions HTTP/1.1\r\n", 36) != 0;
    up_note(prompt, head_has_helicone(req, head_len), bad);
    cJSON_Delete(j);
    if (bad) {
        static const char r400[] =
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        ssl_write_all(ssl, r400, sizeof r400 - 1);
        return -1;
    }
    return stream ? up_stream(ssl, prompt, usage) : up_json(ssl, prompt);
}

static void *up_conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct timeval tv = { 10, 0 }; /* no test thread may hang forever */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    SSL *ssl = SSL_new(up.ctx);
    char *buf = malloc(UP_BUF);
    if (ssl && buf && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
        size_t len = 0, hl;
        long n;
        while ((n = up_read_request(ssl, buf, &len, &hl)) > 0 &&
               up_answer(ssl, buf, hl, (size_t)n) == 0) {
            memmove(buf, buf + n, len - (size_t)n);
            len -= (size_t)n;
        }
    }
    free(buf);
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
    pthread_mutex_lock(&up.lock);
    up.live--;
    pthread_mutex_unlock(&up.lock);
    return NULL;
}

static void *up_accept_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&up.lock);
        bool stop = up.stop;
        pthread_mutex_unlock(&up.lock);
        if (stop)
            return NULL;
        struct pollfd p = { .fd = up.lfd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept4(up.lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&up.lock);
        up.live++;
        up.conns++;
        pthread_mutex_unlock(&up.lock);
        if (pthread_create(&t, &a, up_conn_main, (void *)(intptr_t)fd) != 0) {
            close(fd);
            pthread_mutex_lock(&up.lock);
            up.live--;
            pthread_mutex_unlock(&up.lock);
        }
        pthread_attr_destroy(&a);
    }
}

static int up_start(const char *ca_path)
{
    if (!(up.ctx = upstream_tls(ca_path)))
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    up.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (up.lfd < 0 || bind(up.lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(up.lfd, 128) != 0 || getsockname(up.lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    up.port = ntohs(a.sin_port);
    return pthread_create(&up.thread, NULL, up_accept_main, NULL) == 0 ? 0 : -1;
}

/* Wait up to ms for the upstream's open connections to drop to `want`. */
static bool up_wait_live(int want, int ms)
{
    for (int64_t until = hc_mono_us() + (int64_t)ms * 1000; hc_mono_us() < until; poll(NULL, 0, 10))
        if (up_get(&up.live) == want)
            return true;
    return up_get(&up.live) == want;
}

static void up_stop(void)
{
    pthread_mutex_lock(&up.lock);
    up.stop = true;
    pthread_mutex_unlock(&up.lock);
    pthread_join(up.thread, NULL);
    close(up.lfd);
    SSL_CTX_free(up.ctx);
}

/* ---- what the store must hold --------------------------------------------------- */

#define FLAG_MASK \
    (HC_REC_STREAM | HC_REC_CACHE_HIT | HC_REC_BLOCKED | HC_REC_CLIENT_ABORT | \
     HC_REC_USAGE_INJECTED | HC_REC_CACHE_STORED)

struct expect {
    char tag[32]; /* Helicone-Property-Case of the request: unique */
    char prompt[64];
    int status;
    uint32_t flags; /* within FLAG_MASK */
    bool usage;     /* tokens and model_resp known */
    int seen;
};

static struct expect expects[160];
static int nexpect;
static pthread_mutex_t expect_lock = PTHREAD_MUTEX_INITIALIZER;

static void expect(const char *tag, const char *prompt, int status, uint32_t flags, bool usage)
{
    pthread_mutex_lock(&expect_lock);
    if (nexpect < (int)(sizeof expects / sizeof expects[0])) {
        struct expect *e = &expects[nexpect++];
        snprintf(e->tag, sizeof e->tag, "%s", tag);
        snprintf(e->prompt, sizeof e->prompt, "%s", prompt);
        e->status = status;
        e->flags = flags;
        e->usage = usage;
    }
    pthread_mutex_unlock(&expect_lock);
}

/* ---- the app: a TLS client through core->connect -------------------------------- */

static SSL_CTX *client_ctx;

struct client {
    int fd;
    SSL *ssl;
    hc_buf in; /* bytes read, not yet consumed */
};

struct resp {
    int status;
    hc_buf head, body;
    bool chunked;
    int64_t t_first, t_end; /* monotonic µs: first body byte, end of body */
};

static int client_open(struct client *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    struct timeval tv = { 10, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    /* What the app resolved api.openai.com to: here, the test upstream itself. */
    struct sockaddr_in dst = { .sin_family = AF_INET,
                               .sin_port = htons((uint16_t)up.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (core->connect(c->fd, (struct sockaddr *)&dst, sizeof dst, HOST) != 0)
        return -1;
    c->ssl = SSL_new(client_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_set_tlsext_host_name(c->ssl, HOST) != 1 ||
        SSL_set1_host(c->ssl, HOST) != 1 || SSL_connect(c->ssl) != 1)
        return -1;
    return SSL_get_verify_result(c->ssl) == X509_V_OK ? 0 : -1;
}

/* abrupt: no close_notify, as when an app is killed or drops a socket. */
static void client_close(struct client *c, bool abrupt)
{
    if (c->ssl && !abrupt)
        SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    hc_buf_free(&c->in);
    c->ssl = NULL;
    c->fd = -1;
    ERR_clear_error();
}

static int client_fill(struct client *c)
{
    if (!c->ssl || hc_buf_reserve(&c->in, 16384))
        return -1;
    int n = SSL_read(c->ssl, c->in.data + c->in.len, 16384);
    if (n <= 0)
        return -1;
    c->in.len += (size_t)n;
    c->in.data[c->in.len] = '\0';
    return n;
}

static void resp_free(struct resp *r)
{
    hc_buf_free(&r->head);
    hc_buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

static bool resp_header(const struct resp *r, const char *name, char *out, size_t size)
{
    return r->head.data && find_header(r->head.data, r->head.len, name, out, size);
}

static int read_head(struct client *c, struct resp *r)
{
    char *end;
    while (!c->in.data || !(end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4)))
        if (client_fill(c) < 0)
            return -1;
    size_t hl = (size_t)(end + 4 - c->in.data);
    hc_buf_append(&r->head, c->in.data, hl);
    hc_buf_consume(&c->in, hl);
    if (sscanf(r->head.data, "HTTP/1.1 %d ", &r->status) != 1)
        return -1;
    char te[64];
    r->chunked =
        resp_header(r, "transfer-encoding", te, sizeof te) && strcasecmp(te, "chunked") == 0;
    return 0;
}

/* Take n body bytes from c->in (filling as needed). */
static int take_body(struct client *c, struct resp *r, size_t n)
{
    while (c->in.len < n)
        if (client_fill(c) < 0)
            return -1;
    if (n && !r->t_first)
        r->t_first = hc_mono_us();
    hc_buf_append(&r->body, c->in.data, n);
    hc_buf_consume(&c->in, n);
    return 0;
}

static int read_chunked(struct client *c, struct resp *r)
{
    for (;;) {
        char *eol;
        while (!c->in.data || !(eol = memmem(c->in.data, c->in.len, "\r\n", 2)))
            if (client_fill(c) < 0)
                return -1;
        char *e;
        unsigned long n = strtoul(c->in.data, &e, 16);
        if (e == c->in.data)
            return -1;
        hc_buf_consume(&c->in, (size_t)(eol + 2 - c->in.data));
        if (n == 0)
            break;
        if (take_body(c, r, n) != 0)
            return -1;
        while (c->in.len < 2)
            if (client_fill(c) < 0)
                return -1;
        if (memcmp(c->in.data, "\r\n", 2) != 0)
            return -1;
        hc_buf_consume(&c->in, 2);
    }
    while (c->in.len < 2) /* no trailers: the last chunk ends with an empty line */
        if (client_fill(c) < 0)
            return -1;
    if (memcmp(c->in.data, "\r\n", 2) != 0)
        return -1;
    hc_buf_consume(&c->in, 2);
    return 0;
}

static int read_response(struct client *c, struct resp *r)
{
    memset(r, 0, sizeof *r);
    if (read_head(c, r) != 0)
        return -1;
    int rc;
    char cl[32];
    if (r->chunked)
        rc = read_chunked(c, r);
    else if (resp_header(r, "content-length", cl, sizeof cl))
        rc = take_body(c, r, strtoul(cl, NULL, 10));
    else
        rc = -1; /* the gateway frames every answer */
    r->t_end = hc_mono_us();
    return rc;
}

enum { CH_STREAM = 1, CH_ASK_USAGE = 2 };

static void chat_body(hc_buf *b, const char *prompt, unsigned opt)
{
    hc_buf_printf(b, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]%s}",
                  MODEL, prompt,
                  (opt & CH_ASK_USAGE)
                      ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}"
                  : (opt & CH_STREAM) ? ",\"stream\":true"
                                      : "");
}

static int send_chat(struct client *c, const char *tag, const char *prompt, unsigned opt,
                     const char *extra)
{
    if (!c->ssl)
        return -1;
    hc_buf body = HC_BUF_INIT, req = HC_BUF_INIT;
    chat_body(&body, prompt, opt);
    hc_buf_printf(&req,
                  "POST /v1/chat/completions HTTP/1.1\r\nHost: " HOST
                  "\r\nAuthorization: Bearer sk-test\r\n"
                  "Content-Type: application/json\r\nHelicone-Property-Case: "
                  "%s\r\n%sContent-Length: %zu\r\n\r\n",
                  tag, extra ? extra : "", body.len);
    hc_buf_append(&req, body.data, body.len);
    int rc = SSL_write(c->ssl, req.data, (int)req.len) == (int)req.len ? 0 : -1;
    hc_buf_free(&body);
    hc_buf_free(&req);
    return rc;
}

/* One request and its whole answer. 0, or -1 if the exchange failed. */
static int chat(struct client *c, const char *tag, const char *prompt, unsigned opt,
                const char *extra, struct resp *r)
{
    memset(r, 0, sizeof *r);
    return send_chat(c, tag, prompt, opt, extra) == 0 ? read_response(c, r) : -1;
}

/* Is r exactly the provider's answer to prompt (the stream as the app asked for it)? */
static bool answer_is(const struct resp *r, const char *prompt, unsigned opt)
{
    hc_buf want = HC_BUF_INIT;
    if (opt & (CH_STREAM | CH_ASK_USAGE))
        expected_stream(&want, prompt, (opt & CH_ASK_USAGE) != 0);
    else
        answer_json(&want, prompt);
    bool ok = r->status == 200 && r->body.len == want.len &&
              memcmp(r->body.data, want.data, want.len) == 0 &&
              r->chunked == ((opt & (CH_STREAM | CH_ASK_USAGE)) != 0);
    hc_buf_free(&want);
    return ok;
}

/* ---- (1) one request -------------------------------------------------------------- */

static void test_single(void)
{
    struct client c;
    struct resp r;
    T_CHECK(client_open(&c) == 0,
            "single: the app connects through core->connect and verifies the gateway CA");
    T_CHECK(chat(&c, "single", "hello-single", 0, NULL, &r) == 0, "single: a whole answer arrives");
    T_EQ_INT(r.status, 200, "single: status 200");
    T_CHECK(answer_is(&r, "hello-single", 0), "single: body is the provider's, byte for byte");
    char id[80];
    T_CHECK(resp_header(&r, "helicone-id", id, sizeof id) && strlen(id) == 36,
            "single: helicone-id header added");
    T_EQ_INT(up_count("hello-single"), 1, "single: the upstream saw it once");
    expect("single", "hello-single", 200, 0, true);
    resp_free(&r);
    client_close(&c, false);
}

/* ---- (2) concurrency: N threads x M keep-alive requests ---------------------------- */

struct worker {
    pthread_t t;
    int id, ok, failed;
    char why[160];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct client c;
    if (client_open(&c) != 0) {
        snprintf(w->why, sizeof w->why, "worker %d cannot connect", w->id);
        w->failed = NPERWORKER;
        client_close(&c, true);
        return NULL;
    }
    for (int j = 0; j < NPERWORKER; j++) {
        char tag[32], prompt[64];
        unsigned opt = j % 3 == 2 ? CH_STREAM : 0;
        snprintf(tag, sizeof tag, "w%d-%d", w->id, j);
        snprintf(prompt, sizeof prompt, "worker-%d-request-%d", w->id, j);
        expect(tag, prompt, 200, opt ? HC_REC_STREAM | HC_REC_USAGE_INJECTED : 0, true);
        struct resp r;
        if (chat(&c, tag, prompt, opt, NULL, &r) == 0 && answer_is(&r, prompt, opt)) {
            w->ok++;
        } else {
            w->failed++;
            snprintf(w->why, sizeof w->why, "%s: status %d, %zu body bytes", tag, r.status,
                     r.body.len);
        }
        resp_free(&r);
    }
    client_close(&c, false);
    return NULL;
}

static void test_concurrent(void)
{
    struct worker w[NWORKERS];
    int conns0 = up_get(&up.conns);
    memset(w, 0, sizeof w);
    for (int i = 0; i < NWORKERS; i++) {
        w[i].id = i;
        pthread_create(&w[i].t, NULL, worker_main, &w[i]);
    }
    int ok = 0, failed = 0;
    for (int i = 0; i < NWORKERS; i++) {
        pthread_join(w[i].t, NULL);
        ok += w[i].ok;
        failed += w[i].failed;
        if (w[i].failed)
            printf("# %s\n", w[i].why);
    }
    T_EQ_INT(ok, NWORKERS * NPERWORKER,
             "concurrent: %d threads x %d keep-alive requests, each answer its own", NWORKERS,
             NPERWORKER);
    T_EQ_INT(failed, 0, "concurrent: no exchange failed or crossed");
    /* One gateway thread per app connection, each keeping its upstream alive. */
    T_EQ_INT(up_get(&up.conns) - conns0, NWORKERS,
             "concurrent: upstream connections kept alive (one per app connection)");
}

/* ---- (3) streaming ------------------------------------------------------------------ */

static void test_streaming(void)
{
    struct client c;
    struct resp r;
    T_CHECK(client_open(&c) == 0, "stream: connect");
    int whole = 0;
    for (int i = 0; i < 3; i++) {
        char tag[32], prompt[64];
        snprintf(tag, sizeof tag, "stream-%d", i);
        snprintf(prompt, sizeof prompt, "stream-prompt-%d", i);
        expect(tag, prompt, 200, HC_REC_STREAM | HC_REC_USAGE_INJECTED, true);
        if (chat(&c, tag, prompt, CH_STREAM, NULL, &r) == 0 && answer_is(&r, prompt, CH_STREAM))
            whole++;
        resp_free(&r);
    }
    T_EQ_INT(
        whole, 3,
        "stream: 3 SSE answers on one connection, whole, in order, without the injected usage");

    expect("stream-asked", "stream-asked", 200, HC_REC_STREAM, true);
    T_CHECK(chat(&c, "stream-asked", "stream-asked", CH_ASK_USAGE, NULL, &r) == 0 &&
                answer_is(&r, "stream-asked", CH_ASK_USAGE),
            "stream: an app that asked for usage gets the usage chunk and the usage:null members");
    char ct[64];
    T_CHECK(resp_header(&r, "content-type", ct, sizeof ct) && strcmp(ct, "text/event-stream") == 0,
            "stream: content-type passed on");
    resp_free(&r);

    /* 8 events 25 ms apart: the first must reach the app long before the last. */
    expect("drip", "drip-1", 200, HC_REC_STREAM | HC_REC_USAGE_INJECTED, true);
    T_CHECK(chat(&c, "drip", "drip-1", CH_STREAM, NULL, &r) == 0 &&
                answer_is(&r, "drip-1", CH_STREAM),
            "stream: a slow stream arrives whole");
    int64_t spread = r.t_end - r.t_first;
    T_CHECK(r.t_first && spread >= 100000,
            "stream: events are forwarded as they come (first-to-last %lld ms)",
            (long long)(spread / 1000));
    resp_free(&r);
    client_close(&c, false);
}

/* ---- (4) cache ---------------------------------------------------------------------- */

static void test_cache(void)
{
    static const char *const on = "Helicone-Cache-Enabled: true\r\n";
    const char *prompt = "cache-prompt";
    struct client c, c2;
    struct resp r;
    char v[64];
    T_CHECK(client_open(&c) == 0, "cache: connect");
    expect("cache-1", prompt, 200, HC_REC_CACHE_STORED, true);
    T_CHECK(chat(&c, "cache-1", prompt, 0, on, &r) == 0 && answer_is(&r, prompt, 0),
            "cache: first answer whole");
    T_CHECK(resp_header(&r, "helicone-cache", v, sizeof v) && strcmp(v, "MISS") == 0,
            "cache: first is a MISS");
    resp_free(&r);

    /* Same connection: the gateway stored the answer before reading this request. */
    expect("cache-2", prompt, 200, HC_REC_CACHE_HIT, true);
    T_CHECK(chat(&c, "cache-2", prompt, 0, on, &r) == 0 && answer_is(&r, prompt, 0),
            "cache: second answer identical");
    T_CHECK(resp_header(&r, "helicone-cache", v, sizeof v) && strcmp(v, "HIT") == 0,
            "cache: second is a HIT");
    T_CHECK(resp_header(&r, "helicone-cache-bucket-idx", v, sizeof v) && strcmp(v, "0") == 0,
            "cache: bucket 0");
    resp_free(&r);
    client_close(&c, false);

    T_CHECK(client_open(&c2) == 0, "cache: second connection");
    expect("cache-3", prompt, 200, HC_REC_CACHE_HIT, true);
    T_CHECK(chat(&c2, "cache-3", prompt, 0, on, &r) == 0 && answer_is(&r, prompt, 0) &&
                resp_header(&r, "helicone-cache", v, sizeof v) && strcmp(v, "HIT") == 0,
            "cache: a HIT on another connection too");
    resp_free(&r);
    T_EQ_INT(up_count(prompt), 1, "cache: the upstream saw the request once");

    expect("cache-4", prompt, 200, 0, true);
    T_CHECK(chat(&c2, "cache-4", prompt, 0, NULL, &r) == 0 && answer_is(&r, prompt, 0) &&
                !resp_header(&r, "helicone-cache", v, sizeof v),
            "cache: without the header the cache is not used");
    T_EQ_INT(up_count(prompt), 2, "cache: ... and the request went upstream");
    resp_free(&r);
    client_close(&c2, false);
}

/* ---- (5) client-side rate limit ----------------------------------------------------- */

static void test_ratelimit(void)
{
    static const char *const policy = "Helicone-RateLimit-Policy: 3;w=60\r\n";
    struct client c;
    T_CHECK(client_open(&c) == 0, "ratelimit: connect");
    int status[5] = { 0 };
    char remaining[3][16] = { "", "", "" }, code[5] = "";
    bool bodies_ok = true;
    for (int i = 0; i < 5; i++) {
        char tag[32], prompt[64];
        struct resp r;
        snprintf(tag, sizeof tag, "rl-%d", i);
        snprintf(prompt, sizeof prompt, "ratelimited-%d", i);
        expect(tag, prompt, i < 3 ? 200 : 429, i < 3 ? 0 : HC_REC_BLOCKED, i < 3);
        if (chat(&c, tag, prompt, 0, policy, &r) == 0)
            status[i] = r.status;
        if (i < 3) {
            resp_header(&r, "helicone-ratelimit-remaining", remaining[i], sizeof remaining[i]);
            bodies_ok = bodies_ok && answer_is(&r, prompt, 0);
        } else if (!r.body.data || !strstr(r.body.data, "\"code\":\"rate_limited\"")) {
            code[i] = 1;
        }
        resp_free(&r);
    }
    T_CHECK(status[0] == 200 && status[1] == 200 && status[2] == 200 && bodies_ok,
            "ratelimit: 3 within the quota pass");
    T_CHECK(!strcmp(remaining[0], "2") && !strcmp(remaining[1], "1") && !strcmp(remaining[2], "0"),
            "ratelimit: Helicone-RateLimit-Remaining counts down (%s, %s, %s)", remaining[0],
            remaining[1], remaining[2]);
    T_CHECK(status[3] == 429 && status[4] == 429 && !code[3] && !code[4],
            "ratelimit: then 429 rate_limited (%d, %d), on the same kept-alive connection",
            status[3], status[4]);
    T_EQ_INT(up_count("ratelimited-3") + up_count("ratelimited-4"), 0,
             "ratelimit: refused requests never went upstream");
    client_close(&c, false);
}

/* ---- (6) the app hangs up mid-stream ------------------------------------------------- */

static void test_abort(void)
{
    struct client c;
    struct resp r;
    memset(&r, 0, sizeof r);
    T_CHECK(client_open(&c) == 0, "abort: connect");
    expect("abort", "slow-abort", 200, HC_REC_STREAM | HC_REC_USAGE_INJECTED | HC_REC_CLIENT_ABORT,
           false);
    bool started = send_chat(&c, "abort", "slow-abort", CH_STREAM, NULL) == 0 &&
                   read_head(&c, &r) == 0 && (c.in.len > 0 || client_fill(&c) > 0);
    T_CHECK(started && r.status == 200, "abort: the stream started");
    resp_free(&r);
    client_close(&c, true);

    /* The gateway must notice and drop its upstream connection (the upstream's write fails). */
    bool cut = false;
    for (int64_t until = hc_mono_us() + 3000000; !cut && hc_mono_us() < until; poll(NULL, 0, 10))
        cut = up_get(&up.slow_cut) == 1;
    T_CHECK(cut, "abort: the gateway closed the upstream stream early");

    struct client c2;
    T_CHECK(client_open(&c2) == 0, "abort: the gateway still accepts connections");
    expect("after-abort", "after-abort", 200, 0, true);
    T_CHECK(chat(&c2, "after-abort", "after-abort", 0, NULL, &r) == 0 &&
                answer_is(&r, "after-abort", 0),
            "abort: and answers the next request");
    resp_free(&r);
    client_close(&c2, false);
}

/* ---- (7) the records --------------------------------------------------------------- */

static struct expect *find_expect(const char *tag)
{
    for (int i = 0; tag && i < nexpect; i++)
        if (strcmp(expects[i].tag, tag) == 0)
            return &expects[i];
    return NULL;
}

/* Compare one record with what its request should have left. Prints why not. */
static bool record_matches(const hc_record *r, const struct expect *e)
{
    char why[200] = "";
    if (strcmp(r->host, HOST) || strcmp(r->provider, "openai") ||
        strcmp(r->path, "/v1/chat/completions"))
        snprintf(why, sizeof why, "host %s provider %s path %s", r->host, r->provider, r->path);
    else if (strcmp(r->model_req, MODEL))
        snprintf(why, sizeof why, "model_req %s", r->model_req);
    else if (r->status != e->status)
        snprintf(why, sizeof why, "status %d, expected %d", r->status, e->status);
    else if ((r->flags & FLAG_MASK) != e->flags)
        snprintf(why, sizeof why, "flags %#x, expected %#x", r->flags & FLAG_MASK, e->flags);
    else if (e->usage && (r->tok_in != tok_in(e->prompt) || r->tok_out != tok_out(e->prompt)))
        snprintf(why, sizeof why, "tokens %lld/%lld, expected %lld/%lld", (long long)r->tok_in,
                 (long long)r->tok_out, (long long)tok_in(e->prompt),
                 (long long)tok_out(e->prompt));
    else if (e->usage && strcmp(r->model_resp, MODEL_RESP))
        snprintf(why, sizeof why, "model_resp %s", r->model_resp);
    else if (!e->usage && (r->tok_in || r->tok_out))
        snprintf(why, sizeof why, "tokens %lld/%lld, expected none", (long long)r->tok_in,
                 (long long)r->tok_out);
    else if ((e->flags & HC_REC_CLIENT_ABORT) && !r->error[0])
        snprintf(why, sizeof why, "no error text for an aborted exchange");
    if (why[0])
        printf("# record %s: %s\n", e->tag, why);
    return !why[0];
}

/* The stored body `which` ('q' request, 'r' response) of record id equals want? */
static bool body_is(hc_store *s, MDB_txn *txn, const uint8_t *id, char which, const char *want,
                    size_t wlen)
{
    uint8_t k[HC_UUID_LEN + 1];
    memcpy(k, id, HC_UUID_LEN);
    k[HC_UUID_LEN] = (uint8_t)which;
    MDB_val key = { sizeof k, k }, v;
    hc_buf out = HC_BUF_INIT;
    bool trunc = true;
    bool ok = mdb_get(txn, hc_store_dbi(s, HC_T_BODIES), &key, &v) == 0 &&
              hc_body_decode(v.mv_data, v.mv_size, &out, &trunc) == 0 && !trunc &&
              out.len == wlen && memcmp(out.data, want, wlen) == 0;
    hc_buf_free(&out);
    return ok;
}

static void check_bodies(hc_store *s, MDB_txn *txn, const uint8_t *id)
{
    hc_buf q = HC_BUF_INIT, a = HC_BUF_INIT;
    chat_body(&q, "hello-single", 0);
    answer_json(&a, "hello-single");
    T_CHECK(body_is(s, txn, id, HC_BODY_REQUEST, q.data, q.len),
            "store: request body of 'single' stored intact");
    T_CHECK(body_is(s, txn, id, HC_BODY_RESPONSE, a.data, a.len),
            "store: response body of 'single' stored intact");
    hc_buf_free(&q);
    hc_buf_free(&a);
}

static void test_records(void)
{
    core->flush(5000);
    hc_core *hc = hc_core_get();
    hc_store *s = hc ? hc_core_store(hc) : NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    T_CHECK(s && hc_store_txn_begin(s, false, &txn) == 0 &&
                mdb_cursor_open(txn, hc_store_dbi(s, HC_T_RECORDS), &cur) == 0,
            "store: readable after flush");
    if (!cur) {
        if (txn)
            hc_store_txn_abort(s, txn);
        return;
    }
    int n = 0, undecodable = 0, unknown = 0, mismatched = 0;
    uint8_t single_id[HC_UUID_LEN];
    bool have_single = false;
    MDB_val k, v;
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op) == 0; op = MDB_NEXT) {
        n++;
        hc_record r;
        hc_record_init(&r);
        if (hc_record_decode(v.mv_data, v.mv_size, &r) != 0 || k.mv_size != HC_UUID_LEN) {
            undecodable++;
            continue;
        }
        struct expect *e = find_expect(hc_pairs_get(&r.props, "Case"));
        if (!e) {
            unknown++;
            continue;
        }
        if (e->seen++ == 0 && !record_matches(&r, e))
            mismatched++;
        if (strcmp(e->tag, "single") == 0) {
            memcpy(single_id, k.mv_data, HC_UUID_LEN);
            have_single = true;
        }
    }
    int missing = 0, dup = 0;
    for (int i = 0; i < nexpect; i++) {
        missing += expects[i].seen == 0;
        dup += expects[i].seen > 1;
        if (expects[i].seen != 1)
            printf("# record %s seen %d times\n", expects[i].tag, expects[i].seen);
    }
    T_EQ_INT(n, nexpect, "store: exactly one record per exchange");
    T_EQ_INT(undecodable + unknown, 0,
             "store: every record decodes and belongs to a request of this test");
    T_EQ_INT(missing + dup, 0, "store: every exchange recorded once");
    T_EQ_INT(mismatched, 0,
             "store: model, tokens, status, stream/cache/blocked/abort flags as expected");
    if (have_single)
        check_bodies(s, txn, single_id);
    mdb_cursor_close(cur);
    hc_store_txn_abort(s, txn);
}

/* ---- setup ------------------------------------------------------------------------ */

/* Every HC_* variable of the caller's environment would change what is tested. */
static void clear_hc_env(void)
{
    extern char **environ;
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; e && *e; e++) {
            if (strncmp(*e, "HC_", 3) == 0) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
                unsetenv(name);
                again = 1;
                break;
            }
        }
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int setup(void)
{
    char ca_path[300], db[300];
    snprintf(tmpdir, sizeof tmpdir, "%s/hc-gw-test-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(ca_path, sizeof ca_path, "%s/upstream-ca.pem", tmpdir);
    snprintf(db, sizeof db, "%s/store", tmpdir);
    if (up_start(ca_path) != 0)
        return -1;
    /* The core reads its configuration once, when it starts: set it first. */
    clear_hc_env();
    setenv("HC_DB", db, 1);
    setenv("HC_CA_FILE", ca_path, 1);
    setenv("TMPDIR", tmpdir, 1); /* where ca_file() writes the gateway CA */
    unsetenv("XDG_RUNTIME_DIR");
    unsetenv("SSL_CERT_FILE");
    unsetenv("SSL_CERT_DIR");
    if (!(core = hc_core_entry(&shim)))
        return -1;
    const char *gw_ca = core->ca_file();
    if (!gw_ca)
        return -1;
    client_ctx = SSL_CTX_new(TLS_client_method());
    if (!client_ctx || SSL_CTX_load_verify_locations(client_ctx, gw_ca, NULL) != 1)
        return -1;
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    SSL_CTX_set_alpn_protos(client_ctx, alpn, sizeof alpn - 1);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the upstream writes to sockets the gateway may close */
    int64_t t0 = hc_mono_us();
    if (setup() != 0) {
        T_CHECK(0, "setup: upstream, store directory, core start, gateway CA");
        ERR_print_errors_fp(stdout);
        return t_done();
    }
    T_CHECK(core->version == HC_CORE_API_VERSION,
            "setup: the core started (gateway CA written by ca_file)");
    test_single();
    test_concurrent();
    test_streaming();
    test_cache();
    test_ratelimit();
    test_abort();
    test_records();
    T_EQ_INT(up_get(&up.helicone_seen), 0, "upstream: no Helicone-* header ever reached it");
    T_EQ_INT(up_get(&up.bad), 0,
             "upstream: every request it got was a well-formed chat completion");
    /* 15 app connections were accepted, each on its own thread, plus the accept thread. */
    T_CHECK(!guarded && __atomic_load_n(&guard_calls, __ATOMIC_RELAXED) >= 16,
            "shim: core threads call guard_thread (%d calls), app threads are never marked",
            __atomic_load_n(&guard_calls, __ATOMIC_RELAXED));
    /* Every app connection is closed: each gateway thread must close its upstream. */
    T_CHECK(up_wait_live(0, 3000), "upstream: no connection left open by the gateway (%d)",
            up_get(&up.live));
    SSL_CTX_free(client_ctx);
    up_stop();
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    printf("# %.2f s\n", (double)(hc_mono_us() - t0) / 1e6);
    return t_done();
}
