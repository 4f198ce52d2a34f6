/* hook_net.c — name lookups and connect(): find LLM destinations, redirect them.
 *
 * Each hook filters and passes through early; the work is in hosts.c (which
 * addresses are LLM hosts) and in the core (the gateway). errno is preserved on
 * every pass-through path.
 */
#include "hosts.h"
#include "real.h"
#include "shim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A routed host: answer the lookup ourselves (no DNS), by asking libc to
 * resolve the numeric synthetic address with the app's own hints and service,
 * so every hint (socktype, AI_V4MAPPED, numeric service, …) keeps its meaning. */
static int lookup_routed(const char *node, const struct sockaddr_in *fake, const char *service,
                         const struct addrinfo *hints, struct addrinfo **res,
                         int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **))
{
    char num[64];
    struct addrinfo h;
    memset(&h, 0, sizeof h);
    if (hints)
        h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    h.ai_flags &= ~AI_ADDRCONFIG; /* a loopback-only machine must still get an answer */
    inet_ntop(AF_INET, &fake->sin_addr, num, sizeof num);
    if (h.ai_family == AF_INET6) {
        char mapped[80];
        snprintf(mapped, sizeof mapped, "::ffff:%s", num);
        memcpy(num, mapped, sizeof num);
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
    if (!node || hc_shim_guarded())
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
    if (!addr || hc_shim_guarded() || hc_shim_mode() != HC_MODE_GATEWAY ||
        (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
        return real(fd, addr, len);
    char host[HC_HOST_MAX];
    int saved = errno;
    hc_hosts_init(); /* HC_HOSTS literals count even when no lookup happened (curl skips it for IPs) */
    if (!hc_hosts_match_addr(addr, len, host, sizeof host))
        return real(fd, addr, len);
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM) {
        errno = saved;
        return real(fd, addr, len);
    }
    const hc_core_api *core = hc_shim_core();
    errno = saved;
    if (!core)
        return real(fd, addr, len);
    hc_shim_guard_enter();
    int rc = core->connect(fd, addr, len, host);
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
    hc_shim_guard_enter();
    int rc = core->getpeername(fd, addr, len);
    hc_shim_guard_leave();
    return rc == 1 ? real(fd, addr, len) : rc;
}
