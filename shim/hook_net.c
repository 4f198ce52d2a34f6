/* hook_net.c — name lookups and connect(): find LLM destinations, redirect them.
 *
 * Each hook filters and passes through early; the work is in hosts.c (which
 * addresses are LLM hosts) and in the core (the gateway). errno is preserved on
 * every pass-through path.
 *
 * connect() and getpeername() run in every preloaded process, on every call,
 * and may run in signal handlers: they make no system call of their own on
 * the common path (no process_vm_readv: seccomp filters kill on it), take no
 * lock, and read the app's memory only when they must:
 * - connect() looks at the address only when some LLM address is known
 *   (hc_hosts_any), and then only the bytes its family defines, and only
 *   when len is exactly that family's size (what resolvers hand out) and
 *   the pointer is not in the never-mapped first page. Anything else (a
 *   short or odd length, NULL or a small bad pointer, another family) goes
 *   to libc as is and gets libc's answer. A wild pointer into unmapped
 *   memory with an exact INET length, in a process that looked up an LLM
 *   host, faults in the hook where the kernel would answer EFAULT: the price
 *   of not probing memory with a system call (documented in README).
 * - getpeername() touches the app's memory only for descriptors the gateway
 *   redirected; the others go to libc untouched.
 * Bad arguments to the lookups (a NULL result pointer, AI_NUMERICHOST for a
 * name) are passed through to the real function, which rejects them exactly
 * as without the shim.
 */
#include "hosts.h"
#include "real.h"
#include "shim.h"
#include "sockaddr.h"

void hc_io_watch(int fd, const char *host, int port); /* hook_io.c */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The first page is never mapped (vm.mmap_min_addr): a pointer into it is
 * a bad argument, answered by libc (EFAULT), never dereferenced here. */
static bool low_pointer(const void *p)
{
    return (uintptr_t)p < 4096;
}

/* A routed host: answer the lookup ourselves (no DNS), by asking libc to
 * resolve the numeric synthetic address with the app's own hints and service,
 * so every hint (socktype, AI_V4MAPPED, numeric service, …) keeps its meaning. */
static int lookup_routed(const char *node, const struct sockaddr_in *fake, const char *service,
                         const struct addrinfo *hints, struct addrinfo **res,
                         int (*real)(const char *, const char *, const struct addrinfo *,
                                     struct addrinfo **))
{
    char num[64];
    struct addrinfo h;
    memset(&h, 0, sizeof h);
    if (hints)
        h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    h.ai_flags &= ~AI_ADDRCONFIG;  /* a loopback-only machine must still get an answer */
    if (h.ai_family == AF_INET6) { /* the v4-mapped form: an AF_INET6 lookup takes only IPv6 text */
        struct sockaddr_in6 mapped;
        hc_sa_v4mapped(fake, &mapped);
        hc_sa_host((const struct sockaddr *)&mapped, num, sizeof num);
    } else {
        inet_ntop(AF_INET, &fake->sin_addr, num, sizeof num);
    }
    int rc = real(num, service, &h, res);
    if (rc == 0 && (h.ai_flags & AI_CANONNAME) && *res) {
        char *c = strdup(node);
        if (c) {
            free((*res)->ai_canonname);
            (*res)->ai_canonname = c;
        }
    }
    return rc;
}

static bool gateway_ready(void)
{
    const hc_core_api *core = hc_shim_core();
    if (!core)
        return false;
    hc_shim_guard_enter();
    bool ok = core->ready();
    hc_shim_guard_leave();
    return ok;
}

HC_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                          struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    HC_REAL(real, "getaddrinfo", getaddrinfo, NULL);
    if (!real)
        return EAI_SYSTEM;
    /* No result pointer, or a numeric-only lookup: libc's answer, not ours. */
    if (!node || !res || hc_shim_guarded() || (hints && (hints->ai_flags & AI_NUMERICHOST)))
        return real(node, service, hints, res);
    int saved = errno;
    hc_hosts_init();
    struct sockaddr_in fake;
    /* A routed host is answered with its synthetic address only if the gateway
     * can serve it; if the core cannot load, the lookup goes to DNS as if the
     * shim were absent (fail open). */
    if (hc_shim_mode() == HC_MODE_GATEWAY && hc_hosts_route_addr(node, &fake) && gateway_ready()) {
        errno = saved;
        return lookup_routed(node, &fake, service, hints, res, real);
    }
    int rc = real(node, service, hints, res);
    if (rc == 0 && hc_hosts_is_llm(node, 0)) {
        saved = errno;
        for (struct addrinfo *ai = *res; ai; ai = ai->ai_next)
            if (ai->ai_addr)
                hc_hosts_remember(ai->ai_addr, node);
        errno = saved;
    }
    return rc;
}

HC_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static int (*real)(int, const struct sockaddr *, socklen_t);
    HC_REAL(real, "connect", connect, NULL);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!addr || hc_shim_guarded() || hc_shim_mode() == HC_MODE_OFF)
        return real(fd, addr, len);
    int saved = errno;
    /* HC_HOSTS literals count even when no lookup happened (curl skips it for IPs) */
    hc_hosts_init();
    /* No LLM address known (the common case), or not an exact INET/INET6
     * address: nothing to look at; the kernel judges the arguments. */
    if (!hc_hosts_any() || low_pointer(addr) || len < sizeof(sa_family_t)) {
        errno = saved;
        return real(fd, addr, len);
    }
    sa_family_t fam = addr->sa_family;
    if (!((fam == AF_INET && len == sizeof(struct sockaddr_in)) ||
          (fam == AF_INET6 && len == sizeof(struct sockaddr_in6)))) {
        errno = saved;
        return real(fd, addr, len);
    }
    struct sockaddr_storage ss; /* our copy: the app may change its own under us */
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, addr, len);
    const struct sockaddr *a = (const struct sockaddr *)&ss;
    char host[HC_HOST_MAX];
    if (!hc_hosts_match_addr(a, len, host, sizeof host)) {
        errno = saved;
        return real(fd, addr, len);
    }
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM) {
        errno = saved;
        return real(fd, addr, len);
    }
    if (hc_shim_mode() == HC_MODE_OBSERVE) {
        /* Observe mode: the app connects where it wanted; we follow the bytes. */
        errno = saved;
        int rc = real(fd, addr, len);
        int e = errno;
        if (rc == 0 || e == EINPROGRESS)
            hc_io_watch(fd, host, hc_sa_port(a));
        errno = e;
        return rc;
    }
    const hc_core_api *core = hc_shim_core();
    errno = saved;
    if (!core)
        return real(fd, addr, len);
    hc_shim_guard_enter();
    int rc = core->connect(fd, a, len, host);
    hc_shim_guard_leave();
    return rc;
}

HC_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    static int (*real)(int, struct sockaddr *, socklen_t *);
    HC_REAL(real, "getpeername", getpeername, NULL);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    const hc_core_api *core = hc_shim_core_if_loaded();
    if (!core || hc_shim_guarded() || !addr || !len)
        return real(fd, addr, len);
    int saved = errno;
    /* Ask the gateway first: for a descriptor it did not redirect, the app's
     * memory is libc's business only. */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    hc_shim_guard_enter();
    int rc = core->getpeername(fd, (struct sockaddr *)&ss, &sl);
    hc_shim_guard_leave();
    errno = saved;
    if (rc != 0 || low_pointer(addr) || low_pointer(len) || (int)*len < 0)
        return real(fd, addr, len); /* not ours; or EFAULT / EINVAL, as libc */
    /* Truncated to the app's length, *len the full size: as the kernel does. */
    socklen_t cap = *len;
    memcpy(addr, &ss, cap < sl ? cap : sl);
    *len = sl;
    return 0;
}

/* ---- legacy lookups: gethostbyname and friends ------------------------------
 * Routed hosts get their synthetic address; other LLM hosts' answers are
 * remembered like getaddrinfo's. */

/* Fill h (in buf) with the single IPv4 address a (or its v4-mapped IPv6 form). */
static int fill_hostent(const char *name, int af, const struct in_addr *a, struct hostent *h,
                        char *buf, size_t buflen)
{
    size_t alen = af == AF_INET6 ? 16 : 4, nlen = strlen(name) + 1;
    size_t pad =
        (size_t)(-(uintptr_t)buf & (sizeof(char *) - 1)); /* pointers aligned, as glibc's */
    size_t need = pad + alen + nlen + 4 * sizeof(char *) + sizeof(char *);
    if (buflen < need)
        return ERANGE;
    buf += pad;
    char **ptrs = (char **)(void *)buf; /* [addr, NULL, alias NULL] */
    char *addr = buf + 3 * sizeof(char *);
    char *nm = addr + alen;
    if (af == AF_INET6) {
        memset(addr, 0, 10);
        addr[10] = addr[11] = (char)0xff;
        memcpy(addr + 12, a, 4);
    } else {
        memcpy(addr, a, 4);
    }
    memcpy(nm, name, nlen);
    ptrs[0] = addr;
    ptrs[1] = NULL;
    ptrs[2] = NULL;
    h->h_name = nm;
    h->h_aliases = &ptrs[2];
    h->h_addrtype = af;
    h->h_length = (int)alen;
    h->h_addr_list = &ptrs[0];
    return 0;
}

static void remember_hostent(const char *name, const struct hostent *h)
{
    if (!h || !hc_hosts_is_llm(name, 0))
        return;
    for (char **p = h->h_addr_list; p && *p; p++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        if (h->h_addrtype == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            a->sin_family = AF_INET;
            memcpy(&a->sin_addr, *p, 4);
        } else if (h->h_addrtype == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            a->sin6_family = AF_INET6;
            memcpy(&a->sin6_addr, *p, 16);
        } else {
            continue;
        }
        hc_hosts_remember((struct sockaddr *)&ss, name);
    }
}

/* The synthetic address for a routed name, if the gateway can serve it. */
static bool routed(const char *name, struct sockaddr_in *fake)
{
    if (!name || hc_shim_guarded() || hc_shim_mode() != HC_MODE_GATEWAY)
        return false;
    hc_hosts_init();
    return hc_hosts_route_addr(name, fake) && gateway_ready();
}

HC_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
                               size_t buflen, struct hostent **result, int *h_errnop)
{
    static int (*real)(const char *, int, struct hostent *, char *, size_t, struct hostent **,
                       int *);
    HC_REAL(real, "gethostbyname2_r", gethostbyname2_r, NULL);
    struct sockaddr_in fake;
    if ((af == AF_INET || af == AF_INET6) && routed(name, &fake)) {
        int rc = fill_hostent(name, af, &fake.sin_addr, ret, buf, buflen);
        *result = rc ? NULL : ret;
        if (h_errnop)
            *h_errnop = rc ? NETDB_INTERNAL : 0;
        if (rc)
            errno = rc; /* glibc: ERANGE in errno too, so the caller retries with a bigger buffer */
        return rc;
    }
    if (!real)
        return ENOSYS;
    int rc = real(name, af, ret, buf, buflen, result, h_errnop);
    if (rc == 0 && *result && name && !hc_shim_guarded())
        remember_hostent(name, *result);
    return rc;
}

HC_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                              struct hostent **result, int *h_errnop)
{
    return gethostbyname2_r(name, AF_INET, ret, buf, buflen, result, h_errnop);
}

HC_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
    static __thread struct hostent h;
    static __thread char buf[1024];
    struct hostent *res = NULL;
    int herr = 0;
    int rc = gethostbyname2_r(name, af, &h, buf, sizeof buf, &res, &herr);
    if (rc || !res) {
        h_errno = herr ? herr : HOST_NOT_FOUND;
        return NULL;
    }
    return res;
}

HC_EXPORT struct hostent *gethostbyname(const char *name)
{
    return gethostbyname2(name, AF_INET);
}

/* ---- getaddrinfo_a: glibc resolves these on its own threads through an
 * internal getaddrinfo that our hook never sees. Routed names are answered
 * here at once; for GAI_WAIT the answers of LLM hosts are remembered after the
 * real call. (GAI_NOWAIT lookups of unrouted LLM hosts are not seen: their
 * connections are not intercepted — a documented limit.) */
static void *notify_thread(void *arg)
{
    struct sigevent sev = *(struct sigevent *)arg;
    free(arg);
    sev.sigev_notify_function(sev.sigev_value);
    return NULL;
}

/* Deliver a completion notification the way glibc would. */
static void notify(const struct sigevent *sev)
{
    if (sev->sigev_notify == SIGEV_SIGNAL) {
        sigqueue(getpid(), sev->sigev_signo, sev->sigev_value);
    } else if (sev->sigev_notify == SIGEV_THREAD && sev->sigev_notify_function) {
        struct sigevent *copy = malloc(sizeof *copy);
        pthread_t t;
        pthread_attr_t attr;
        if (!copy)
            return;
        *copy = *sev;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, sev->sigev_notify_attributes ? sev->sigev_notify_attributes : &attr,
                           notify_thread, copy) != 0)
            free(copy);
        pthread_attr_destroy(&attr);
    }
}

HC_EXPORT int getaddrinfo_a(int mode, struct gaicb *list[], int n, struct sigevent *sev)
{
    static int (*real)(int, struct gaicb **, int, struct sigevent *);
    HC_REAL(real, "getaddrinfo_a", getaddrinfo_a, "libanl.so.1");
    if (!real)
        return EAI_SYSTEM;
    if (hc_shim_guarded() || hc_shim_mode() == HC_MODE_OFF || !list || n <= 0 || n > 64 ||
        (mode != GAI_WAIT && mode != GAI_NOWAIT))
        return real(mode, list, n, sev); /* what we cannot split exactly goes to glibc whole */
    /* Answer routed names ourselves; pass the rest to glibc. */
    struct gaicb *rest[64];
    int nrest = 0;
    bool any_routed = false;
    for (int i = 0; i < n; i++) {
        struct sockaddr_in fake;
        if (list[i] && routed(list[i]->ar_name, &fake)) {
            int rc = getaddrinfo(list[i]->ar_name, list[i]->ar_service, list[i]->ar_request,
                                 &list[i]->ar_result);
            list[i]->__return = rc;
            any_routed = true;
        } else if (list[i] && nrest < 64) {
            rest[nrest++] = list[i];
        }
    }
    int rc = 0;
    if (nrest || !any_routed)
        rc = real(mode, rest, nrest, nrest ? sev : NULL);
    else if (sev && mode == GAI_NOWAIT)
        notify(sev); /* everything was answered here: notify now */
    if (mode == GAI_WAIT)
        for (int i = 0; i < nrest; i++)
            if (rest[i]->__return == 0 && rest[i]->ar_result &&
                hc_hosts_is_llm(rest[i]->ar_name, 0))
                for (struct addrinfo *ai = rest[i]->ar_result; ai; ai = ai->ai_next)
                    hc_hosts_remember(ai->ai_addr, rest[i]->ar_name);
    return rc;
}
