/* test_sockaddr.c — common/sockaddr.c: folding, ports, loopback, equality, text. */
#include "sockaddr.h"
#include "t.h"

#include <arpa/inet.h>
#include <string.h>

static struct sockaddr_storage v4(const char *ip, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &a->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *ip, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    return ss;
}

#define SA(x) ((struct sockaddr *)&(x))
#define L4    ((socklen_t)sizeof(struct sockaddr_in))
#define L6    ((socklen_t)sizeof(struct sockaddr_in6))

static void keys(void)
{
    struct sockaddr_storage a = v4("10.1.2.3", 443), m = v6("::ffff:10.1.2.3", 443),
                            b = v6("2001:db8::1", 8443);
    hc_sa_key ka, km, kb;
    T_CHECK(hc_sa_key_of(SA(a), L4, &ka) && ka.family == AF_INET && ka.port == 443 &&
                memcmp(ka.addr, "\x0a\x01\x02\x03", 4) == 0,
            "key of 10.1.2.3:443");
    T_CHECK(hc_sa_key_of(SA(m), L6, &km) && km.family == AF_INET && km.port == 443,
            "v4-mapped folds to AF_INET");
    T_CHECK(hc_sa_key_eq(&ka, &km), "v4 and its v4-mapped form have the same key");
    T_CHECK(hc_sa_key_of(SA(b), L6, &kb) && kb.family == AF_INET6 && kb.port == 8443 &&
                kb.addr[0] == 0x20,
            "key of [2001:db8::1]:8443");
    T_CHECK(!hc_sa_key_eq(&ka, &kb), "different addresses differ");
    T_CHECK(!hc_sa_key_of(SA(a), L4 - 1, &ka), "a short AF_INET address is not an address");
    T_CHECK(!hc_sa_key_of(SA(b), L6 - 1, &kb), "a short AF_INET6 address is not an address");
    struct sockaddr_storage u;
    memset(&u, 0, sizeof u);
    u.ss_family = AF_UNIX;
    T_CHECK(!hc_sa_key_of(SA(u), sizeof u, &ka) && ka.family == 0, "AF_UNIX: no key, key zeroed");
    T_CHECK(hc_sa_equal(SA(a), L4, SA(m), L6), "equal: v4 == v4-mapped");
    struct sockaddr_storage p = v4("10.1.2.3", 444);
    T_CHECK(!hc_sa_equal(SA(a), L4, SA(p), L4), "equal: the port counts");
    T_CHECK(!hc_sa_equal(SA(a), L4, SA(u), sizeof u), "equal: a non-inet address equals nothing");
}

static void ports(void)
{
    struct sockaddr_storage a = v4("127.0.0.1", 80), b = v6("::1", 65535), u;
    memset(&u, 0, sizeof u);
    u.ss_family = AF_UNIX;
    T_EQ_INT(hc_sa_port(SA(a)), 80, "port of a v4 address");
    T_EQ_INT(hc_sa_port(SA(b)), 65535, "port of a v6 address");
    T_EQ_INT(hc_sa_port(SA(u)), -1, "no port for AF_UNIX");
    T_CHECK(hc_sa_set_port(SA(a), 8080) && hc_sa_port(SA(a)) == 8080, "set a v4 port");
    T_CHECK(hc_sa_set_port(SA(b), 1) && hc_sa_port(SA(b)) == 1, "set a v6 port");
    T_CHECK(!hc_sa_set_port(SA(u), 1), "no port to set for AF_UNIX");
}

static void ipv4_loopback(void)
{
    struct sockaddr_storage a = v4("203.0.113.9", 1), m = v6("::ffff:203.0.113.9", 1),
                            b = v6("::1", 1);
    struct in_addr ip = { 0 };
    T_CHECK(hc_sa_ipv4(SA(a), &ip) && ntohl(ip.s_addr) == 0xcb007109u, "ipv4 of a v4 address");
    ip.s_addr = 0;
    T_CHECK(hc_sa_ipv4(SA(m), &ip) && ntohl(ip.s_addr) == 0xcb007109u,
            "ipv4 of a v4-mapped address");
    T_CHECK(!hc_sa_ipv4(SA(b), &ip), "no ipv4 in ::1");
    struct sockaddr_in6 mapped;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
    T_EQ_INT(hc_sa_v4mapped(a4, &mapped), sizeof mapped, "v4mapped returns its length");
    T_CHECK(hc_sa_equal(SA(a), L4, (struct sockaddr *)&mapped, L6) &&
                IN6_IS_ADDR_V4MAPPED(&mapped.sin6_addr) && mapped.sin6_port == a4->sin_port,
            "v4mapped gives ::ffff:203.0.113.9, same port");
    struct sockaddr_storage lo;
    T_EQ_INT(hc_sa_loopback(AF_INET, false, &lo), L4, "loopback v4 length");
    T_CHECK(hc_sa_is_loopback(SA(lo)) && hc_sa_port(SA(lo)) == 0, "loopback v4 is 127.0.0.1:0");
    T_EQ_INT(hc_sa_loopback(AF_INET6, false, &lo), L6, "loopback v6 length");
    T_CHECK(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&lo)->sin6_addr), "loopback v6 is ::1");
    T_EQ_INT(hc_sa_loopback(AF_INET6, true, &lo), L6, "loopback v4-mapped length");
    struct sockaddr_storage want = v4("127.0.0.1", 0);
    T_CHECK(lo.ss_family == AF_INET6 && hc_sa_equal(SA(lo), L6, SA(want), L4),
            "loopback v4-mapped is ::ffff:127.0.0.1");
    T_EQ_INT(hc_sa_loopback(AF_UNIX, false, &lo), 0, "no loopback for AF_UNIX");
    struct sockaddr_storage l8 = v4("127.8.9.10", 1), lm = v6("::ffff:127.0.0.1", 1);
    T_CHECK(hc_sa_is_loopback(SA(l8)) && hc_sa_is_loopback(SA(lm)) && hc_sa_is_loopback(SA(b)),
            "is_loopback: 127/8, ::ffff:127.0.0.1, ::1");
    T_CHECK(!hc_sa_is_loopback(SA(a)) && !hc_sa_is_loopback(SA(m)), "is_loopback: not 203.0.113.9");
}

static void text(void)
{
    struct sockaddr_storage a = v4("192.0.2.1", 443), b = v6("2001:db8::1", 8443),
                            m = v6("::ffff:1.2.3.4", 5), u;
    memset(&u, 0, sizeof u);
    u.ss_family = AF_UNIX;
    char buf[HC_SA_STRLEN];
    T_CHECK(hc_sa_host(SA(a), buf, sizeof buf) && strcmp(buf, "192.0.2.1") == 0, "host v4");
    T_CHECK(hc_sa_host(SA(m), buf, sizeof buf) && strcmp(buf, "::ffff:1.2.3.4") == 0,
            "host v4-mapped as given");
    T_CHECK(hc_sa_format(SA(a), buf, sizeof buf) && strcmp(buf, "192.0.2.1:443") == 0, "format v4");
    T_CHECK(hc_sa_format(SA(b), buf, sizeof buf) && strcmp(buf, "[2001:db8::1]:8443") == 0,
            "format v6");
    T_CHECK(!hc_sa_format(SA(u), buf, sizeof buf) && buf[0] == '\0',
            "format AF_UNIX: false, empty");
    char small[6];
    T_CHECK(!hc_sa_host(SA(a), small, sizeof small) && small[0] == '\0',
            "host into a too-small buffer: false, empty");
    T_CHECK(!hc_sa_format(SA(b), buf, 10), "format cut: false");
}

int main(void)
{
    keys();
    ports();
    ipv4_loopback();
    text();
    return t_done();
}
