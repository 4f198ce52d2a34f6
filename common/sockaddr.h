/* sockaddr.h — socket addresses (IPv4 / IPv6) the way the shim and the core compare them.
 *
 * One home for what every hook and the gateway need to do with a struct
 * sockaddr: read and set the port, fold a v4-mapped IPv6 address
 * (::ffff:a.b.c.d) to the IPv4 address it is, test for loopback, compare, and
 * print. An IPv6 socket that connects to an IPv4 destination uses the
 * v4-mapped form, and a v4 listener sees that peer as plain IPv4: comparisons
 * are therefore made on the folded key (hc_sa_key), never on raw bytes.
 *
 * libc only, no allocation, no shared state: the shim (libhcshim.so, linked
 * against libc alone) links this module as well as the core. Every function is
 * thread-safe and async-signal-safe except hc_sa_host/hc_sa_format (inet_ntop,
 * snprintf). Pointers are only read during a call; nothing is kept.
 *
 * A `len` argument is the length the caller has for the address (as from
 * accept/getpeername); an address shorter than its family's struct is not an
 * address here (false / -1). Functions without `len` read only a complete
 * struct sockaddr_in or sockaddr_in6 of the family the address names (e.g. a
 * struct sockaddr_storage).
 */
#ifndef HC_SOCKADDR_H
#define HC_SOCKADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for hc_sa_format's longest text: "[" IPv6 "]:" port, with the NUL. */
#define HC_SA_STRLEN (INET6_ADDRSTRLEN + 8)

/* An address reduced to what identifies it: family (AF_INET, also for a
 * v4-mapped IPv6 address, or AF_INET6), address bytes (4 used for AF_INET,
 * the rest 0) and port in host byte order. Compare two with hc_sa_key_eq. */
typedef struct hc_sa_key {
    int family;
    unsigned char addr[16];
    uint16_t port;
} hc_sa_key;

/* Fill *k from a (len bytes). Returns false (k zeroed) when a is not a
 * complete AF_INET / AF_INET6 address. */
bool hc_sa_key_of(const struct sockaddr *a, socklen_t len, hc_sa_key *k);

/* Same family, address and port. */
bool hc_sa_key_eq(const hc_sa_key *a, const hc_sa_key *b);

/* Same destination after folding (v4-mapped ::ffff:a.b.c.d equals a.b.c.d),
 * port included. False when either is not an inet address. */
bool hc_sa_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                 socklen_t blen);

/* Port in host byte order, or -1 when a is neither AF_INET nor AF_INET6. */
int hc_sa_port(const struct sockaddr *a);

/* Set the port (host byte order). Returns false (a unchanged) when a is
 * neither AF_INET nor AF_INET6. */
bool hc_sa_set_port(struct sockaddr *a, uint16_t port);

/* The IPv4 address of a plain AF_INET address or of a v4-mapped AF_INET6 one,
 * in network byte order, into *ip. False (*ip untouched) for anything else. */
bool hc_sa_ipv4(const struct sockaddr *a, struct in_addr *ip);

/* Write into *out the v4-mapped IPv6 form of v4 (same address and port).
 * Returns sizeof *out. */
socklen_t hc_sa_v4mapped(const struct sockaddr_in *v4, struct sockaddr_in6 *out);

/* Write into *out the loopback address of `family`, port 0: 127.0.0.1 for
 * AF_INET; for AF_INET6 ::1, or ::ffff:127.0.0.1 when v4mapped. Returns its
 * length, or 0 (out zeroed) for another family. */
socklen_t hc_sa_loopback(int family, bool v4mapped, struct sockaddr_storage *out);

/* A loopback address: 127.0.0.0/8, ::1, or v4-mapped 127.0.0.0/8. */
bool hc_sa_is_loopback(const struct sockaddr *a);

/* Numeric host of a into buf (size >= INET6_ADDRSTRLEN to hold any), as its
 * family says (a v4-mapped address prints as ::ffff:a.b.c.d). Returns false
 * (buf "" when size > 0) when a is not an inet address or buf is too small. */
bool hc_sa_host(const struct sockaddr *a, char *buf, size_t size);

/* "a.b.c.d:port" or "[v6]:port" into buf (HC_SA_STRLEN holds any). Returns
 * false (buf "" when size > 0) like hc_sa_host, or when the text was cut
 * (buf then holds the cut text). */
bool hc_sa_format(const struct sockaddr *a, char *buf, size_t size);

#endif
