/* sockaddr.c — see sockaddr.h. libc only: linked into the shim too. */
#include "sockaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

bool hc_sa_key_of(const struct sockaddr *a, socklen_t len, hc_sa_key *k)
{
    memset(k, 0, sizeof *k);
    if (a->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
        k->family = AF_INET;
        memcpy(k->addr, &v4->sin_addr, 4);
        k->port = ntohs(v4->sin_port);
        return true;
    }
    if (a->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
        k->port = ntohs(v6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            k->family = AF_INET;
            memcpy(k->addr, &v6->sin6_addr.s6_addr[12], 4);
        } else {
            k->family = AF_INET6;
            memcpy(k->addr, &v6->sin6_addr, 16);
        }
        return true;
    }
    return false;
}

bool hc_sa_key_eq(const hc_sa_key *a, const hc_sa_key *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

bool hc_sa_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen)
{
    hc_sa_key ka, kb;
    return hc_sa_key_of(a, alen, &ka) && hc_sa_key_of(b, blen, &kb) && hc_sa_key_eq(&ka, &kb);
}

int hc_sa_port(const struct sockaddr *a)
{
    if (a->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)a)->sin_port);
    if (a->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
    return -1;
}

bool hc_sa_set_port(struct sockaddr *a, uint16_t port)
{
    if (a->sa_family == AF_INET)
        ((struct sockaddr_in *)a)->sin_port = htons(port);
    else if (a->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)a)->sin6_port = htons(port);
    else
        return false;
    return true;
}

bool hc_sa_ipv4(const struct sockaddr *a, struct in_addr *ip)
{
    if (a->sa_family == AF_INET) {
        *ip = ((const struct sockaddr_in *)a)->sin_addr;
        return true;
    }
    if (a->sa_family == AF_INET6 &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)a)->sin6_addr)) {
        memcpy(ip, &((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr[12], 4);
        return true;
    }
    return false;
}

socklen_t hc_sa_v4mapped(const struct sockaddr_in *v4, struct sockaddr_in6 *out)
{
    memset(out, 0, sizeof *out);
    out->sin6_family = AF_INET6;
    out->sin6_port = v4->sin_port;
    out->sin6_addr.s6_addr[10] = out->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&out->sin6_addr.s6_addr[12], &v4->sin_addr, 4);
    return sizeof *out;
}

socklen_t hc_sa_loopback(int family, bool v4mapped, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in lo4;
    memset(&lo4, 0, sizeof lo4);
    lo4.sin_family = AF_INET;
    lo4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (family == AF_INET) {
        memcpy(out, &lo4, sizeof lo4);
        return sizeof lo4;
    }
    if (family != AF_INET6)
        return 0;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (v4mapped)
        return hc_sa_v4mapped(&lo4, v6);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_loopback;
    return sizeof *v6;
}

bool hc_sa_is_loopback(const struct sockaddr *a)
{
    struct in_addr ip;
    if (hc_sa_ipv4(a, &ip))
        return (ntohl(ip.s_addr) >> 24) == 127;
    return a->sa_family == AF_INET6 &&
           IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

bool hc_sa_host(const struct sockaddr *a, char *buf, size_t size)
{
    const void *bytes =
        a->sa_family == AF_INET    ? (const void *)&((const struct sockaddr_in *)a)->sin_addr
        : a->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr
                                   : NULL;
    if (bytes && size > 0 && inet_ntop(a->sa_family, bytes, buf, (socklen_t)size))
        return true;
    if (size > 0)
        buf[0] = '\0';
    return false;
}

bool hc_sa_format(const struct sockaddr *a, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (!hc_sa_host(a, host, sizeof host)) {
        if (size > 0)
            buf[0] = '\0';
        return false;
    }
    int n = a->sa_family == AF_INET6 ? snprintf(buf, size, "[%s]:%d", host, hc_sa_port(a))
                                     : snprintf(buf, size, "%s:%d", host, hc_sa_port(a));
    return n > 0 && (size_t)n < size;
}
