/* shared.c — see shared.h.
 *
 * DESIGN
 * - One connection per process (`g`, guarded by g.lock), opened on first use
 *   from HC_SHARED and reopened after a failure at most once per second; a
 *   forked child never uses its parent's socket (an atfork handler drops it,
 *   unclosed, and re-initialises the lock; the pid check backs it up).
 * - A minimal RESP2 client: commands are arrays of bulk strings; replies
 *   parsed are integers, simple strings, errors, bulk strings (a number, or
 *   nil) and one level of array of integers. That is all the three
 *   operations need; anything else is a protocol error (connection dropped).
 *   The shared response cache (HC_SHARED_CACHE) adds GET/SET of one bulk
 *   string of bytes (struct reply's blob).
 * - Every wait is bounded by HC_SHARED_TIMEOUT_MS (hc_io's per-wait timeout),
 *   and a whole round trip by twice that (a server dribbling a byte per wait
 *   would otherwise hold g.lock for minutes), so a stalled Redis costs a
 *   request at most a few timeouts, once: the failure then marks Redis down
 *   for a second, counted from the end of the attempt (not its start: a slow
 *   attempt would leave no down window at all), and requests go straight to
 *   the local store.
 * - The host is resolved once and its address kept (a literal address with
 *   AI_NUMERICHOST, never a DNS query): a slow resolver must not be paid on
 *   every reconnect, under g.lock. A failed connect forgets the address, so a
 *   Redis that moved is found again at the next attempt.
 */
#include "shared.h"

#include "buf.h"
#include "core.h"
#include "err.h"
#include "io.h"
#include "log.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../shim/core_api.h"

/* The sliding window: the same 64 slots as ratelimit.c, as a hash slot → amount. */
static const char window_lua[] =
    "local w=tonumber(ARGV[1]) local q=tonumber(ARGV[2]) local a=tonumber(ARGV[3])\n"
    "local now=tonumber(ARGV[4]) local chk=ARGV[5]=='1'\n"
    "local sw=math.floor(w/64) if sw<1 then sw=1 end\n"
    "local cur=math.floor(now/sw)\n"
    "local h=redis.call('HGETALL',KEYS[1])\n"
    "local used=0\n"
    "for i=1,#h,2 do local s=tonumber(h[i])\n"
    "  if s<=cur-64 then redis.call('HDEL',KEYS[1],h[i]) else used=used+tonumber(h[i+1]) end end\n"
    "local ok=1\n"
    "if chk then if a>0 then if used+a>q then ok=0 end elseif used>=q then ok=0 end end\n"
    "if ok==1 and a>0 then redis.call('HINCRBY',KEYS[1],string.format('%d',cur),ARGV[3]) "
    "used=used+a end\n"
    "redis.call('PEXPIRE',KEYS[1],math.floor(w/1000)+1000)\n"
    "return {ok,used}\n";

/* A request's whole gate in one step: the blocking budgets' totals (KEYS[1..nb]
 * against ARGV[2..nb+1]), then, if none is spent, the window (the last key;
 * window_lua's arguments follow). {-i, total}: budget i is spent, the window
 * untouched; else window_lua's {ok, used}. */
static const char gate_lua[] =
    "local nb=tonumber(ARGV[1])\n"
    "for i=1,nb do local v=tonumber(redis.call('GET',KEYS[i]) or '0')\n"
    "  if v>=tonumber(ARGV[1+i]) then return {-i,v} end end\n"
    "local o=nb+1 local k=KEYS[nb+1]\n"
    "local w=tonumber(ARGV[o+1]) local q=tonumber(ARGV[o+2]) local a=tonumber(ARGV[o+3])\n"
    "local now=tonumber(ARGV[o+4])\n"
    "local sw=math.floor(w/64) if sw<1 then sw=1 end\n"
    "local cur=math.floor(now/sw)\n"
    "local h=redis.call('HGETALL',k)\n"
    "local used=0\n"
    "for i=1,#h,2 do local s=tonumber(h[i])\n"
    "  if s<=cur-64 then redis.call('HDEL',k,h[i]) else used=used+tonumber(h[i+1]) end end\n"
    "local ok=1\n"
    "if a>0 then if used+a>q then ok=0 end elseif used>=q then ok=0 end\n"
    "if ok==1 and a>0 then redis.call('HINCRBY',k,string.format('%d',cur),ARGV[o+3]) used=used+a "
    "end\n"
    "redis.call('PEXPIRE',k,math.floor(w/1000)+1000)\n"
    "return {ok,used}\n";

static struct {
    pthread_mutex_t lock;
    bool inited;  /* config read (guarded by lock) */
    bool enabled; /* HC_SHARED valid */
    bool fail_closed;
    char url[300]; /* for messages */
    char host[256];
    int port, db, timeout_ms;
    char sha[41];                 /* of window_lua */
    char gate_sha[41];            /* of gate_lua */
    int fd;                       /* -1: not connected */
    pid_t pid;                    /* owner of fd */
    int64_t down_until_us;        /* no attempt before this (monotonic µs) */
    struct sockaddr_storage addr; /* g.host resolved (addrlen 0: not yet) */
    socklen_t addrlen;
    bool was_down;
    bool cache;       /* HC_SHARED_CACHE=1: the response cache too */
    size_t cache_max; /* HC_SHARED_CACHE_MAX: largest entry shared */
} g = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A child forked while another thread held g.lock (a round trip in flight)
 * would otherwise wait on it forever; its socket is the parent's. */
static void atfork_child(void)
{
    pthread_mutex_init(&g.lock, NULL);
    g.fd = -1;
}

/* HC_SHARED=redis://HOST[:PORT][/N] into g.url, g.host, g.port, g.db. 0, or -1 after
 * saying once on stderr why the local store is used instead. */
static int parse_url(const char *u)
{
    hc_strlcpy(g.url, sizeof g.url, u);
    const char *p = u + 8;
    if (strncmp(u, "redis://", 8) != 0 || strchr(p, '@')) {
        hc_log_error("HC_SHARED=%s: expected redis://HOST[:PORT][/N] (no user or password); "
                     "limits and budgets use this machine's store",
                     strncmp(u, "redis://", 8) ? u : "redis://…");
        return -1;
    }
    char hp[300];
    size_t hl = strcspn(p, "/");
    if (hl == 0 || hl >= sizeof hp) {
        hc_log_error("HC_SHARED=%s: no HOST; limits and budgets use this machine's store", u);
        return -1;
    }
    memcpy(hp, p, hl);
    hp[hl] = '\0';
    g.port = 6379;
    char *colon = strrchr(hp, ':');
    if (colon && !strchr(hp, ']')) {
        *colon = '\0';
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || v < 1 || v > 65535) {
            hc_log_error(
                "HC_SHARED=%s: PORT must be 1..65535; limits and budgets use this machine's store",
                u);
            return -1;
        }
        g.port = (int)v;
    }
    hc_strlcpy(g.host, sizeof g.host, hp[0] == '[' ? hp + 1 : hp);
    char *rb = strchr(g.host, ']');
    if (rb)
        *rb = '\0';
    g.db = 0;
    if (p[hl] == '/' && p[hl + 1]) {
        char *end;
        long v = strtol(p + hl + 1, &end, 10);
        if (*end || v < 0 || v > 1000000) {
            hc_log_error("HC_SHARED=%s: /N must be a database number; limits and budgets use this "
                         "machine's store",
                         u);
            return -1;
        }
        g.db = (int)v;
    }
    return 0;
}

/* The HC_SHARED_* tuning variables; a bad value is named and its default used. */
static void read_tuning(void)
{
    g.timeout_ms = 50;
    const char *t = getenv("HC_SHARED_TIMEOUT_MS");
    if (t && *t) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*end || v < 1 || v > 5000)
            hc_log_error("HC_SHARED_TIMEOUT_MS=%s: expected 1..5000 milliseconds; using 50", t);
        else
            g.timeout_ms = (int)v;
    }
    const char *pol = getenv("HC_SHARED_ON_ERROR");
    if (pol && *pol && strcmp(pol, "local") != 0) {
        if (strcmp(pol, "fail-closed") == 0)
            g.fail_closed = true;
        else
            hc_log_error("HC_SHARED_ON_ERROR=%s: expected local or fail-closed; using local", pol);
    }
    const char *sc = getenv("HC_SHARED_CACHE");
    g.cache = sc && strcmp(sc, "1") == 0;
    if (sc && *sc && strcmp(sc, "0") != 0 && strcmp(sc, "1") != 0)
        hc_log_error("HC_SHARED_CACHE=%s: expected 1 or 0; the response cache stays local", sc);
    g.cache_max = 1u << 20;
    const char *cm = getenv("HC_SHARED_CACHE_MAX");
    if (cm && *cm) {
        char *end;
        long long v = strtoll(cm, &end, 10);
        if (*end || v < 1 || v > (64ll << 20))
            hc_log_error("HC_SHARED_CACHE_MAX=%s: expected 1..67108864 bytes; using 1048576", cm);
        else
            g.cache_max = (size_t)v;
    }
}

/* Read HC_SHARED* once. Called with g.lock held. */
static void init_locked(void)
{
    g.inited = true;
    const char *u = getenv("HC_SHARED");
    if (!u || !*u || parse_url(u) != 0)
        return;
    read_tuning();
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)window_lua, strlen(window_lua), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(g.sha + 2 * i, 3, "%02x", md[i]);
    SHA1((const unsigned char *)gate_lua, strlen(gate_lua), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(g.gate_sha + 2 * i, 3, "%02x", md[i]);
    pthread_atfork(NULL, NULL, atfork_child);
    g.enabled = true;
}

struct reply {
    char type; /* ':', '+', '-', '$', '*' */
    int64_t ints[2];
    int n; /* integers in an array; 1 for ':' and a numeric '$' */
    bool nil;
    char err[96];
    hc_buf *blob;    /* set by the caller: a top-level '$' reply's bytes go here */
    size_t blob_max; /* larger bulk replies: a protocol error (connection dropped) */
};

/* One CRLF-terminated line at p: its length without CRLF, or -2 partial. */
static long line_len(const char *p, size_t len)
{
    const char *e = memmem(p, len, "\r\n", 2);
    return e ? e - p : -2;
}

/* Parse one reply (picohttpparser protocol: bytes consumed, -2 partial, -1 bad). */
static long parse_reply(const char *p, size_t len, struct reply *r, int depth)
{
    long ll = line_len(p, len);
    if (ll < 0)
        return ll;
    if (ll < 1)
        return -1;
    char head[64];
    size_t hn = (size_t)ll - 1 < sizeof head - 1 ? (size_t)ll - 1 : sizeof head - 1;
    memcpy(head, p + 1, hn);
    head[hn] = '\0';
    long used = ll + 2;
    char type = p[0];
    if (depth == 0) {
        hc_buf *blob = r->blob;
        size_t blob_max = r->blob_max;
        memset(r, 0, sizeof *r);
        r->blob = blob;
        r->blob_max = blob_max;
        r->type = type;
    }
    switch (type) {
    case '+': return used;
    case '-':
        if (depth == 0)
            hc_strlcpy(r->err, sizeof r->err, head);
        return depth == 0 ? used : -1;
    case ':':
        if (r->n >= 2)
            return -1;
        r->ints[r->n++] = strtoll(head, NULL, 10);
        return used;
    case '$': {
        long n = strtol(head, NULL, 10);
        if (n < 0) {
            r->nil = true;
            return used;
        }
        if (depth == 0 && r->blob) {
            if ((size_t)n > r->blob_max)
                return -1;
            if ((size_t)used + (size_t)n + 2 > len)
                return -2;
            hc_buf_reset(r->blob);
            return hc_buf_append(r->blob, p + used, (size_t)n) ? -1 : used + n + 2;
        }
        if ((size_t)used + (size_t)n + 2 > len)
            return -2;
        char num[32];
        if (n >= (long)sizeof num || r->n >= 2)
            return -1;
        memcpy(num, p + used, (size_t)n);
        num[n] = '\0';
        r->ints[r->n++] = strtoll(num, NULL, 10);
        return used + n + 2;
    }
    case '*': {
        long n = strtol(head, NULL, 10);
        if (depth > 0 || n < 0 || n > 2)
            return -1;
        for (long i = 0; i < n; i++) {
            long k = parse_reply(p + used, len - (size_t)used, r, 1);
            if (k < 0)
                return k;
            used += k;
        }
        return used;
    }
    default: return -1;
    }
}

static void drop_locked(void)
{
    if (g.fd >= 0 && g.pid == getpid())
        close(g.fd);
    g.fd = -1;
}

/* Send argv as one command and read one reply. Called with g.lock held and
 * a connection open. 0, or HC_EIO / HC_ETIMEDOUT / HC_EPARSE. */
static int roundtrip_locked(int argc, const char *const *argv, const size_t *lens, struct reply *r)
{
    hc_buf out = HC_BUF_INIT, in = HC_BUF_INIT;
    int rc = hc_buf_printf(&out, "*%d\r\n", argc);
    for (int i = 0; rc == 0 && i < argc; i++) {
        rc = hc_buf_printf(&out, "$%zu\r\n", lens[i]);
        if (rc == 0)
            rc = hc_buf_append(&out, argv[i], lens[i]);
        if (rc == 0)
            rc = hc_buf_puts(&out, "\r\n");
    }
    hc_io io;
    hc_io_init(&io, g.fd, NULL, g.timeout_ms);
    /* Each wait is bounded by timeout_ms; the whole round trip by twice that. */
    int64_t deadline = mono_us() + 2 * (int64_t)g.timeout_ms * 1000;
    if (rc == 0 && hc_io_write_buf(&io, &out) != 0)
        rc = HC_EIO;
    while (rc == 0) {
        int64_t left_ms = (deadline - mono_us()) / 1000;
        if (left_ms <= 0) {
            rc = HC_ETIMEDOUT;
            break;
        }
        io.timeout_ms = left_ms < g.timeout_ms ? (int)left_ms : g.timeout_ms;
        char chunk[512];
        long n = hc_io_read(&io, chunk, sizeof chunk);
        if (n <= 0) {
            rc = n == HC_ETIMEDOUT ? HC_ETIMEDOUT : HC_EIO;
            break;
        }
        if (hc_buf_append(&in, chunk, (size_t)n) != 0 ||
            in.len > 4096 + (r->blob ? r->blob_max : 0)) {
            rc = HC_EPARSE;
            break;
        }
        long k = parse_reply(in.data, in.len, r, 0);
        if (k == -1)
            rc = HC_EPARSE;
        if (k != -2)
            break;
    }
    hc_buf_free(&out);
    hc_buf_free(&in);
    return rc;
}

/* Without a running core (unit tests link core/ without the hooks): libc's
 * connect, bounded by SO_SNDTIMEO, which Linux applies to connect(2). */
static int plain_connect(const struct sockaddr *addr, socklen_t len)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return HC_ECONNECT;
    struct timeval tv = { g.timeout_ms / 1000, (g.timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, addr, len) != 0) {
        close(fd);
        return HC_ECONNECT;
    }
    return fd;
}

/* Resolve g.host into g.addr, once (see DESIGN). 0 or HC_ECONNECT. */
static int resolve_locked(hc_core *core)
{
    if (g.addrlen)
        return 0;
    struct in6_addr lit;
    bool numeric = inet_pton(AF_INET, g.host, &lit) == 1 || inet_pton(AF_INET6, g.host, &lit) == 1;
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = numeric ? AI_NUMERICHOST : 0 },
                    *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%d", g.port);
    int grc = core ? core->shim->getaddrinfo(g.host, port, &hints, &res)
                   : getaddrinfo(g.host, port, &hints, &res);
    if (grc != 0 || !res)
        return HC_ECONNECT;
    if (res->ai_addrlen <= sizeof g.addr) {
        memcpy(&g.addr, res->ai_addr, res->ai_addrlen);
        g.addrlen = res->ai_addrlen;
    }
    if (core)
        core->shim->freeaddrinfo(res);
    else
        freeaddrinfo(res);
    return g.addrlen ? 0 : HC_ECONNECT;
}

static int connect_locked(char *why, size_t whylen)
{
    hc_core *core = hc_core_get();
    if (resolve_locked(core) != 0) {
        snprintf(why, whylen, "cannot resolve %s", g.host);
        return HC_ECONNECT;
    }
    int fd = core ? hc_io_connect((struct sockaddr *)&g.addr, g.addrlen, g.timeout_ms, -1)
                  : plain_connect((struct sockaddr *)&g.addr, g.addrlen);
    if (fd < 0)
        g.addrlen = 0; /* resolve again next time: Redis may have moved */
    if (fd < 0) {
        snprintf(why, whylen, "cannot connect to %s:%d", g.host, g.port);
        return HC_ECONNECT;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    g.fd = fd;
    g.pid = getpid();
    if (g.db) {
        char dbs[16];
        snprintf(dbs, sizeof dbs, "%d", g.db);
        const char *av[] = { "SELECT", dbs };
        size_t al[] = { 6, strlen(dbs) };
        struct reply r = { 0 };
        int rrc = roundtrip_locked(2, av, al, &r);
        if (rrc != 0 || r.type != '+') {
            snprintf(why, whylen, "SELECT %d failed: %s", g.db,
                     rrc == HC_ETIMEDOUT ? "no answer within HC_SHARED_TIMEOUT_MS"
                     : rrc               ? "connection lost"
                     : r.type == '-'     ? r.err
                                         : "unexpected answer");
            drop_locked();
            return HC_ECONNECT;
        }
    }
    return 0;
}

void hc_shared_init(void)
{
    pthread_mutex_lock(&g.lock);
    if (!g.inited)
        init_locked();
    pthread_mutex_unlock(&g.lock);
}

/* Run a command with the connection, handling (re)connect and the down mark.
 * 0 answered (r filled; r->type '-' is a Redis error); HC_ECONNECT down. */
static int call(int argc, const char *const *argv, const size_t *lens, struct reply *r)
{
    pthread_mutex_lock(&g.lock);
    if (!g.inited)
        init_locked();
    if (!g.enabled) {
        pthread_mutex_unlock(&g.lock);
        return HC_EDISABLED;
    }
    if (g.fd >= 0 && g.pid != getpid())
        g.fd = -1; /* forked: the socket is the parent's */
    if (g.fd < 0 && mono_us() < g.down_until_us) {
        pthread_mutex_unlock(&g.lock);
        return HC_ECONNECT;
    }
    char why[200] = "";
    int rc = g.fd < 0 ? connect_locked(why, sizeof why) : 0;
    if (rc == 0) {
        rc = roundtrip_locked(argc, argv, lens, r);
        if (rc != 0) {
            snprintf(why, sizeof why, "%s",
                     rc == HC_ETIMEDOUT ? "no answer within HC_SHARED_TIMEOUT_MS"
                     : rc == HC_EPARSE  ? "unexpected answer"
                                        : "connection lost");
            drop_locked();
            rc = HC_ECONNECT;
        }
    }
    if (rc != 0) {
        g.down_until_us = mono_us() + 1000000; /* from the end of the attempt (see DESIGN) */
        if (!g.was_down)
            hc_log_error(
                "HC_SHARED %s: %s; until it answers, %s", g.url, why,
                g.fail_closed
                    ? "blocking budgets block (HC_SHARED_ON_ERROR=fail-closed) and rate limits "
                      "use this machine's store"
                    : "limits and budgets use this machine's store");
        g.was_down = true;
    } else if (g.was_down) {
        g.was_down = false;
        hc_log_error("HC_SHARED %s: answering again; limits and budgets are shared", g.url);
    }
    pthread_mutex_unlock(&g.lock);
    return rc;
}

static char *prefixed(const char *key, size_t *len)
{
    size_t kl = strlen(key);
    char *k = malloc(kl + 8);
    if (k) {
        memcpy(k, "hcshim:", 7);
        memcpy(k + 7, key, kl + 1);
        *len = kl + 7;
    }
    return k;
}

int hc_shared_window(const char *key, int64_t window_us, uint64_t quota, uint64_t amount,
                     int64_t now_us, bool check, bool *allowed, uint64_t *used)
{
    size_t kl;
    char *k = prefixed(key, &kl);
    if (!k)
        return HC_EDISABLED;
    char a1[24], a2[24], a3[24], a4[24], sha[41];
    snprintf(a1, sizeof a1, "%lld", (long long)window_us);
    snprintf(a2, sizeof a2, "%llu", (unsigned long long)quota);
    snprintf(a3, sizeof a3, "%llu", (unsigned long long)amount);
    snprintf(a4, sizeof a4, "%lld", (long long)now_us);
    pthread_mutex_lock(&g.lock);
    memcpy(sha, g.sha, sizeof sha);
    pthread_mutex_unlock(&g.lock);
    const char *av[] = { "EVALSHA", sha, "1", k, a1, a2, a3, a4, check ? "1" : "0" };
    size_t al[] = { 7, strlen(sha), 1, kl, strlen(a1), strlen(a2), strlen(a3), strlen(a4), 1 };
    struct reply r = { 0 };
    int rc = call(9, av, al, &r);
    if (rc == 0 && r.type == '-' && strncmp(r.err, "NOSCRIPT", 8) == 0) {
        av[0] = "EVAL";
        al[0] = 4;
        av[1] = window_lua;
        al[1] = strlen(window_lua);
        rc = call(9, av, al, &r);
    }
    free(k);
    if (rc == 0 && (r.type != '*' || r.n != 2)) {
        hc_log_warn_once("shared_reply",
                         "HC_SHARED %s: unexpected answer to the window script%s%s; "
                         "using this machine's store for this request",
                         g.url, r.type == '-' ? ": " : "", r.type == '-' ? r.err : "");
        return HC_EDISABLED;
    }
    if (rc != 0)
        return HC_EDISABLED; /* windows always fall back to the local store */
    if (allowed)
        *allowed = r.ints[0] == 1;
    if (used)
        *used = r.ints[1] < 0 ? 0 : (uint64_t)r.ints[1];
    return 0;
}

/* Map a failed total operation to the policy. */
static int total_fail(int rc)
{
    if (rc == HC_EDISABLED)
        return rc;
    return g.fail_closed ? HC_ECONNECT : HC_EDISABLED;
}

int hc_shared_total_get(const char *key, uint64_t *total)
{
    size_t kl;
    char *k = prefixed(key, &kl);
    if (!k)
        return HC_EDISABLED;
    const char *av[] = { "GET", k };
    size_t al[] = { 3, kl };
    struct reply r = { 0 };
    int rc = call(2, av, al, &r);
    free(k);
    if (rc != 0)
        return total_fail(rc);
    if (r.type != '$' || (!r.nil && r.n != 1))
        return total_fail(HC_ECONNECT);
    *total = r.nil || r.ints[0] < 0 ? 0 : (uint64_t)r.ints[0];
    return 0;
}

int hc_shared_total_add(const char *key, uint64_t amount, uint64_t *before, uint64_t *after)
{
    size_t kl;
    char *k = prefixed(key, &kl);
    if (!k)
        return HC_EDISABLED;
    char a[24];
    snprintf(a, sizeof a, "%llu", (unsigned long long)amount);
    const char *av[] = { "INCRBY", k, a };
    size_t al[] = { 6, kl, strlen(a) };
    struct reply r = { 0 };
    int rc = call(3, av, al, &r);
    free(k);
    if (rc != 0)
        return total_fail(rc);
    if (r.type != ':' || r.n != 1)
        return total_fail(HC_ECONNECT);
    uint64_t v = r.ints[0] < 0 ? 0 : (uint64_t)r.ints[0];
    if (after)
        *after = v;
    if (before)
        *before = v >= amount ? v - amount : 0;
    return 0;
}

bool hc_shared_cache_on(void)
{
    pthread_mutex_lock(&g.lock);
    if (!g.inited)
        init_locked();
    bool on = g.enabled && g.cache;
    pthread_mutex_unlock(&g.lock);
    return on;
}

size_t hc_shared_cache_max(void)
{
    return g.cache_max;
}

int hc_shared_blob_get(const char *key, hc_buf *out)
{
    size_t kl;
    char *k = prefixed(key, &kl);
    if (!k)
        return HC_EDISABLED;
    const char *av[] = { "GET", k };
    size_t al[] = { 3, kl };
    /* Read up to the largest any process may share, so that a peer with a
     * larger HC_SHARED_CACHE_MAX is not a protocol error; use up to ours. */
    struct reply r = { .blob = out, .blob_max = 64u << 20 };
    int rc = call(2, av, al, &r);
    free(k);
    if (rc != 0 || r.type != '$')
        return HC_EDISABLED;
    return r.nil || out->len > g.cache_max ? HC_ENOTFOUND : 0;
}

int hc_shared_blob_set(const char *key, const void *p, size_t len, int64_t ttl_ms)
{
    if (len > g.cache_max || ttl_ms < 1)
        return HC_ETOOBIG;
    size_t kl;
    char *k = prefixed(key, &kl);
    if (!k)
        return HC_EDISABLED;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *av[] = { "SET", k, p, "PX", ttl };
    size_t al[] = { 3, kl, len, 2, strlen(ttl) };
    struct reply r = { 0 };
    int rc = call(5, av, al, &r);
    free(k);
    return rc == 0 && r.type == '+' ? 0 : HC_EDISABLED;
}

int hc_shared_gate(int nb, const char *const *bkeys, const uint64_t *blimits, const char *wkey,
                   int64_t window_us, uint64_t quota, uint64_t amount, int64_t now_us, int *blocked,
                   uint64_t *spent, bool *allowed, uint64_t *used)
{
    enum { MAXB = 8 };
    if (nb < 1 || nb > MAXB)
        return HC_EDISABLED;
    const char *av[3 + 2 * MAXB + 2 + 5];
    size_t al[sizeof av / sizeof av[0]];
    char *keys[MAXB + 1] = { 0 }, nums[MAXB + 5][24], sha[41];
    int ac = 0, rc = 0;
    pthread_mutex_lock(&g.lock);
    memcpy(sha, g.gate_sha, sizeof sha);
    pthread_mutex_unlock(&g.lock);
    av[ac++] = "EVALSHA", av[ac++] = sha;
    snprintf(nums[0], sizeof nums[0], "%d", nb + 1);
    av[ac++] = nums[0];
    for (int i = 0; i <= nb && rc == 0; i++) {
        size_t kl;
        if (!(keys[i] = prefixed(i < nb ? bkeys[i] : wkey, &kl)))
            rc = HC_EDISABLED;
        al[ac] = kl;
        av[ac++] = keys[i];
    }
    snprintf(nums[1], sizeof nums[1], "%d", nb);
    av[ac++] = nums[1];
    for (int i = 0; i < nb; i++) {
        snprintf(nums[5 + i], sizeof nums[5 + i], "%llu", (unsigned long long)blimits[i]);
        av[ac++] = nums[5 + i];
    }
    snprintf(nums[2], sizeof nums[2], "%lld", (long long)window_us);
    snprintf(nums[3], sizeof nums[3], "%llu", (unsigned long long)quota);
    snprintf(nums[4], sizeof nums[4], "%llu", (unsigned long long)amount);
    char nowt[24];
    snprintf(nowt, sizeof nowt, "%lld", (long long)now_us);
    av[ac++] = nums[2], av[ac++] = nums[3], av[ac++] = nums[4], av[ac++] = nowt;
    for (int i = 0; i < ac; i++)
        if (i < 3 || i > 3 + nb)
            al[i] = strlen(av[i]);
    struct reply r = { 0 };
    if (rc == 0)
        rc = call(ac, av, al, &r);
    if (rc == 0 && r.type == '-' && strncmp(r.err, "NOSCRIPT", 8) == 0) {
        av[0] = "EVAL", al[0] = 4, av[1] = gate_lua, al[1] = strlen(gate_lua);
        rc = call(ac, av, al, &r);
    }
    for (int i = 0; i <= nb; i++)
        free(keys[i]);
    if (rc != 0 || r.type != '*' || r.n != 2)
        return HC_EDISABLED; /* the caller takes the usual path, with its policies */
    *blocked = r.ints[0] < 0 ? (int)(-r.ints[0] - 1) : -1;
    *spent = r.ints[0] < 0 && r.ints[1] > 0 ? (uint64_t)r.ints[1] : 0;
    *allowed = r.ints[0] == 1;
    *used = r.ints[0] >= 0 && r.ints[1] > 0 ? (uint64_t)r.ints[1] : 0;
    return 0;
}

/* Compare-and-set of a small state value (alert.h): SET key to newv only if
 * it holds expect (absent counts as 0). One EVAL: the script is two lines,
 * not worth an EVALSHA cache. */
static const char cas_lua[] =
    "local v = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if v == tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0";

int hc_shared_state_cas(const char *key, uint64_t expect, uint64_t newv, bool *won)
{
    size_t kl;
    char *k = prefixed(key, &kl);
    if (!k)
        return HC_EDISABLED;
    char a1[24], a2[24];
    snprintf(a1, sizeof a1, "%llu", (unsigned long long)expect);
    snprintf(a2, sizeof a2, "%llu", (unsigned long long)newv);
    const char *av[] = { "EVAL", cas_lua, "1", k, a1, a2 };
    size_t al[] = { 4, strlen(cas_lua), 1, kl, strlen(a1), strlen(a2) };
    struct reply r = { 0 };
    int rc = call(6, av, al, &r);
    free(k);
    if (rc != 0 || r.type != ':' || r.n != 1)
        return HC_EDISABLED;
    *won = r.ints[0] == 1;
    return 0;
}
