/* hosts.c — LLM host names, routed hosts and the address table (see hosts.h).
 *
 * DESIGN
 * - Configuration is parsed once, lazily (pthread_once), from HC_HOSTS and
 *   HC_ROUTE. The parsed lists are immutable afterwards and read without locks.
 * - The address table is a fixed ring of entries written under one mutex:
 *   lookups of LLM hosts are rare (a few per process), so a ring that
 *   overwrites its oldest entry bounds memory with no eviction policy to get
 *   wrong. `count` is read atomically so that connect() in a process that
 *   never looked up an LLM host costs one load.
 * - Readers (connect(), which is async-signal-safe and may run in a signal
 *   handler that interrupted a writer on its own thread) never take the
 *   mutex: writers bump a sequence number around each change (odd while
 *   writing) and a reader reads again while it moves. A reader that
 *   interrupted its own thread's write (a signal handler), or that waited a
 *   bounded time, answers "not an LLM address" (fail open: the connection
 *   goes where the app said).
 * - Routed hosts get synthetic addresses 233.252.0.N (N = index + 1, see
 *   HC_SYNTHETIC_NET in core_api.h: refused at once if dialled raw). They
 *   are recognised by range, not put in the table: the Helicone hosts are
 *   routed by default, and table entries for them would make every connect()
 *   of every preloaded process look at its address. Only once a lookup was
 *   answered with a synthetic address (`synth_used`) can a connect go there.
 */
#include "hosts.h"
#include "core_api.h"
#include "log.h"
#include "provider.h"
#include "sockaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_USER_HOSTS 64
#define MAX_ROUTES     64
#define TABLE_SIZE     512

struct user_host {
    char name[HC_HOST_MAX]; /* lower-case name or IP literal (no brackets) */
    int port;               /* 0: 443 and 80 */
};

struct addr_entry {
    int family; /* AF_INET or AF_INET6; 0 = free */
    unsigned char addr[16];
    int port; /* 0: 443 and 80 (built-in hosts); else that port only */
    char name[HC_HOST_MAX];
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct user_host user_hosts[MAX_USER_HOSTS];
static int n_user_hosts;
static char routes[MAX_ROUTES][HC_HOST_MAX];
static int n_routes;
static const char *patterns[MAX_USER_HOSTS + MAX_ROUTES + 128];

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct addr_entry
    table[TABLE_SIZE];         /* written under table_lock; read lock-free (table_seq) */
static unsigned table_next;    /* guarded by table_lock */
static int table_count;        /* written under lock, read atomically */
static unsigned table_seq;     /* atomic: odd while a writer changes table[] */
static int synth_used;         /* atomic: a synthetic address was handed out */
static pthread_t table_writer; /* written under lock: who made table_seq odd */

/* Writers: hold table_lock, then bracket each change of table[] with these. */
static void write_begin(void)
{
    table_writer = pthread_self();
    __atomic_store_n(&table_seq, table_seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(void)
{
    __atomic_store_n(&table_seq, table_seq + 1, __ATOMIC_RELEASE);
}

static void lower_copy(char *dst, size_t size, const char *src, size_t n)
{
    if (n >= size)
        n = size - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[n] = '\0';
    if (n && dst[n - 1] == '.')
        dst[n - 1] = '\0';
}

/* "host", "host:port", "[v6]:port", "v6" (bare IPv6 has several colons). */
static int parse_host_port(const char *s, size_t n, char *host, size_t hsize, int *port)
{
    *port = 0;
    const char *colon = NULL;
    if (n && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return -1;
        lower_copy(host, hsize, s + 1, (size_t)(rb - s - 1));
        if ((size_t)(rb - s) + 1 < n) {
            if (rb[1] != ':')
                return -1;
            colon = rb + 1;
        }
    } else {
        const char *c1 = memchr(s, ':', n);
        const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - s)) : NULL;
        if (c1 && !c2)
            colon = c1;
        lower_copy(host, hsize, s, colon ? (size_t)(colon - s) : n);
    }
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end != s + n || p < 1 || p > 65535)
            return -1;
        *port = (int)p;
    }
    return host[0] ? 0 : -1;
}

/* Put address `ip` (text) in the table as host `name`. No-op if ip is not an IP literal. */
static void add_literal_as(const char *ip, const char *name, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1)
        a4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1)
        a6->sin6_family = AF_INET6;
    else
        return;
    pthread_mutex_lock(&table_lock);
    write_begin();
    struct addr_entry *e = &table[table_next++ % TABLE_SIZE];
    memset(e, 0, sizeof *e);
    e->family = ss.ss_family;
    if (e->family == AF_INET)
        memcpy(e->addr, &a4->sin_addr, 4);
    else
        memcpy(e->addr, &a6->sin6_addr, 16);
    e->port = port;
    lower_copy(e->name, sizeof e->name, name, strlen(name));
    if (table_count < TABLE_SIZE)
        __atomic_store_n(&table_count, table_count + 1, __ATOMIC_RELEASE);
    write_end();
    pthread_mutex_unlock(&table_lock);
}

static bool is_loopback_name(const char *n);

/* An HC_HOSTS entry: an IP literal goes in the table at once; so do the
 * loopback addresses of a loopback name, because programs such as curl resolve
 * "localhost" themselves, without any lookup we could see. */
static void add_user_host(const struct user_host *h)
{
    add_literal_as(h->name, h->name, h->port);
    if (is_loopback_name(h->name) && strncmp(h->name, "127.", 4) != 0 &&
        strcmp(h->name, "::1") != 0) {
        add_literal_as("127.0.0.1", h->name, h->port);
        add_literal_as("::1", h->name, h->port);
    }
}

static void parse_config(void)
{
    const char *v = getenv("HC_HOSTS");
    while (v && *v) {
        size_t n = strcspn(v, ", ");
        if (n && n_user_hosts < MAX_USER_HOSTS) {
            struct user_host *h = &user_hosts[n_user_hosts];
            if (parse_host_port(v, n, h->name, sizeof h->name, &h->port) == 0)
                n_user_hosts++;
            else
                hc_log_warn_once("hc_hosts", "HC_HOSTS: ignoring '%.*s' (expected host[:port])",
                                 (int)n, v);
        }
        v += n;
        v += strspn(v, ", ");
    }
    v = getenv("HC_ROUTE");
    while (v && *v) {
        size_t n = strcspn(v, ", ");
        const char *eq = memchr(v, '=', n);
        if (eq && eq > v && n_routes < MAX_ROUTES) {
            lower_copy(routes[n_routes], HC_HOST_MAX, v, (size_t)(eq - v));
            n_routes++;
        } else if (n) {
            hc_log_warn_once("hc_route", "HC_ROUTE: ignoring '%.*s' (expected HOST=URL)", (int)n,
                             v);
        }
        v += n;
        v += strspn(v, ", ");
    }
    /* Routes the user asked for: another process of the tree may have handed
     * out their synthetic addresses (Erlang resolves names in its
     * inet_gethost helper, then connects from the VM), so every process
     * recognises them. The default Helicone routes stay lazy (synth_used is
     * set by a lookup they answer), keeping a plain process's connect cheap. */
    if (n_routes > 0)
        __atomic_store_n(&synth_used, 1, __ATOMIC_RELEASE);

    /* Helicone's hosts are answered by the local gateway (core/unified.h),
     * like routed hosts: a synthetic address, no DNS. HC_HELICONE=cloud
     * leaves them alone; an HC_ROUTE of the same name wins. */
    const char *hl = getenv("HC_HELICONE");
    if (!(hl && strcmp(hl, "cloud") == 0)) {
        for (size_t i = 0; hc_provider_helicone_host(i) && n_routes < MAX_ROUTES; i++) {
            const char *h = hc_provider_helicone_host(i);
            int dup = 0;
            for (int j = 0; j < n_routes; j++)
                dup |= strcmp(routes[j], h) == 0;
            if (!dup)
                lower_copy(routes[n_routes++], HC_HOST_MAX, h, strlen(h));
        }
    }

    int np = 0;
    for (size_t i = 0;; i++) {
        const char *p = hc_provider_host_pattern(i);
        if (!p)
            break;
        if (np < (int)(sizeof patterns / sizeof patterns[0]) - 1 && strcmp(p, "localhost") != 0)
            patterns[np++] = p;
    }
    for (int i = 0; i < n_user_hosts; i++) {
        patterns[np++] = user_hosts[i].name;
        add_user_host(&user_hosts[i]);
    }
    for (int i = 0; i < n_routes; i++)
        patterns[np++] =
            routes[i]; /* their synthetic addresses are known by range (match_synthetic) */
    patterns[np] = NULL;
}

void hc_hosts_init(void)
{
    pthread_once(&once, parse_config);
}

void hc_hosts_atfork_child(void)
{
    pthread_mutex_init(&table_lock, NULL);
    if (table_seq & 1) /* a writer on another thread was mid-change at fork: it is gone */
        __atomic_store_n(&table_seq, table_seq + 1, __ATOMIC_RELEASE);
}

static bool is_loopback_name(const char *n)
{
    return strcmp(n, "localhost") == 0 || strncmp(n, "127.", 4) == 0 || strcmp(n, "::1") == 0 ||
           (strlen(n) > 10 && strcmp(n + strlen(n) - 10, ".localhost") == 0);
}

bool hc_hosts_is_llm(const char *name, int port)
{
    hc_hosts_init();
    char n[HC_HOST_MAX];
    lower_copy(n, sizeof n, name, strlen(name));
    for (int i = 0; i < n_routes; i++)
        if (strcmp(routes[i], n) == 0)
            return true;
    for (int i = 0; i < n_user_hosts; i++)
        if (strcmp(user_hosts[i].name, n) == 0 &&
            (!port || !user_hosts[i].port || user_hosts[i].port == port))
            return true;
    if (is_loopback_name(n))
        return false;
    return hc_provider_for_host(n, port)[0] != '\0';
}

bool hc_hosts_route_addr(const char *name, struct sockaddr_in *out)
{
    hc_hosts_init();
    char n[HC_HOST_MAX];
    lower_copy(n, sizeof n, name, strlen(name));
    for (int i = 0; i < n_routes; i++) {
        if (strcmp(routes[i], n) == 0) {
            memset(out, 0, sizeof *out);
            out->sin_family = AF_INET;
            out->sin_addr.s_addr = htonl(HC_SYNTHETIC_NET + (uint32_t)i + 1);
            __atomic_store_n(&synth_used, 1, __ATOMIC_RELEASE);
            return true;
        }
    }
    return false;
}

/* The port rule of a host name: an HC_HOSTS entry's own port, else 443/80. */
static int port_rule(const char *name)
{
    for (int i = 0; i < n_user_hosts; i++)
        if (strcmp(user_hosts[i].name, name) == 0)
            return user_hosts[i].port;
    return 0;
}

void hc_hosts_remember(const struct sockaddr *addr, const char *name)
{
    int fam = addr->sa_family;
    const void *bytes;
    if (fam == AF_INET)
        bytes = &((const struct sockaddr_in *)addr)->sin_addr;
    else if (fam == AF_INET6)
        bytes = &((const struct sockaddr_in6 *)addr)->sin6_addr;
    else
        return;
    char n[HC_HOST_MAX];
    lower_copy(n, sizeof n, name, strlen(name));
    pthread_mutex_lock(&table_lock);
    int cnt = table_count;
    for (int i = 0; i < cnt; i++) {
        struct addr_entry *e = &table[i];
        if (e->family == fam && memcmp(e->addr, bytes, fam == AF_INET ? 4 : 16) == 0 &&
            strcmp(e->name, n) == 0) {
            pthread_mutex_unlock(&table_lock);
            return;
        }
    }
    write_begin();
    struct addr_entry *e = &table[table_next++ % TABLE_SIZE];
    memset(e, 0, sizeof *e);
    e->family = fam;
    memcpy(e->addr, bytes, fam == AF_INET ? 4 : 16);
    e->port = port_rule(n);
    memcpy(e->name, n, sizeof e->name);
    if (cnt < TABLE_SIZE)
        __atomic_store_n(&table_count, cnt + 1, __ATOMIC_RELEASE);
    write_end();
    pthread_mutex_unlock(&table_lock);
}

bool hc_hosts_any(void)
{
    return __atomic_load_n(&table_count, __ATOMIC_ACQUIRE) != 0 ||
           __atomic_load_n(&synth_used, __ATOMIC_ACQUIRE);
}

/* 233.252.0.N for routed host N-1: its name, by range (routes[] is immutable after init). */
static bool match_synthetic(const unsigned char *bytes, int port, char *name, size_t size)
{
    uint32_t a;
    memcpy(&a, bytes, 4);
    a = ntohl(a);
    if ((a & HC_SYNTHETIC_MASK) != HC_SYNTHETIC_NET)
        return false;
    uint32_t i = (a & ~HC_SYNTHETIC_MASK) - 1;
    if (!__atomic_load_n(&synth_used, __ATOMIC_ACQUIRE) || i >= (uint32_t)n_routes)
        return false;
    int rule = port_rule(routes[i]);
    if (rule ? rule != port : (port != 443 && port != 80))
        return false;
    snprintf(name, size, "%s", routes[i]);
    return true;
}

/* Bounded: a reader that interrupted a writer on its own thread (a signal
 * handler) would wait forever for an odd sequence number to move; it gives
 * up at once. A writer on another thread is done within microseconds. */
#define READ_TRIES (1 << 16)

bool hc_hosts_match_addr(const struct sockaddr *addr, socklen_t len, char *name, size_t size)
{
    hc_sa_key k;
    if (!hc_sa_key_of(addr, len, &k))
        return false;
    int fam = k.family, port = k.port;
    const unsigned char *bytes = k.addr;
    if (fam == AF_INET && match_synthetic(bytes, port, name, size))
        return true;
    if (__atomic_load_n(&table_count, __ATOMIC_ACQUIRE) == 0)
        return false;
    for (int t = 0; t < READ_TRIES; t++) {
        unsigned seq = __atomic_load_n(&table_seq, __ATOMIC_ACQUIRE);
        if (seq & 1) {
            if (pthread_equal(table_writer, pthread_self()))
                return false; /* we interrupted our own thread's write */
            if (t % 64 == 63)
                sched_yield();
            continue;
        }
        bool found = false;
        int cnt = __atomic_load_n(&table_count, __ATOMIC_ACQUIRE);
        char got[HC_HOST_MAX];
        for (int i = 0; i < cnt && !found; i++) {
            const struct addr_entry *e = &table[i];
            if (e->family != fam || memcmp(e->addr, bytes, fam == AF_INET ? 4 : 16) != 0)
                continue;
            if (e->port ? e->port != port : (port != 443 && port != 80))
                continue;
            memcpy(got, e->name, sizeof got);
            got[sizeof got - 1] = '\0';
            found = true;
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&table_seq, __ATOMIC_RELAXED) != seq)
            continue; /* a writer changed the table under us: read again */
        if (found)
            snprintf(name, size, "%s", got);
        return found;
    }
    return false; /* fail open: the connection goes where the app said */
}

const char *const *hc_hosts_patterns(void)
{
    hc_hosts_init();
    return patterns;
}
