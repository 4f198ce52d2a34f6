/* clienthello.c — RFC 8446 §4.1.2 ClientHello, RFC 6066 §3 server_name. */
#include "clienthello.h"
#include "err.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

bool hc_looks_like_tls(const unsigned char *buf, size_t len)
{
    return len >= 1 && buf[0] == 0x16 && (len < 2 || buf[1] == 0x03);
}

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}
static size_t be24(const unsigned char *p)
{
    return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
}

/* Parse a complete ClientHello body h[0..n). Every length is checked against
 * its container and the protocol's minimums, and the whole extension list is
 * walked: a malformed hello is refused even if it names a server early. */
static int parse_hello(const unsigned char *h, size_t n, char *sni, size_t sni_size)
{
    size_t i = 0;
    sni[0] = '\0';
    bool have_sni = false;
    if (n < 2 + 32 + 1)
        return HC_EPARSE;
    i += 2 + 32; /* legacy_version, random */
    if (h[i] > 32)
        return HC_EPARSE;
    i += 1 + (size_t)h[i]; /* legacy_session_id <0..32> */
    if (i + 2 > n)
        return HC_EPARSE;
    size_t cs = be16(h + i);
    if (cs < 2 || cs % 2)
        return HC_EPARSE; /* cipher_suites <2..2^16-2>, pairs */
    i += 2 + cs;
    if (i + 1 > n || h[i] < 1)
        return HC_EPARSE; /* legacy_compression_methods <1..2^8-1> */
    i += 1 + (size_t)h[i];
    if (i > n)
        return HC_EPARSE;
    if (i == n)
        return 0; /* no extensions at all */
    if (i + 2 > n)
        return HC_EPARSE;
    size_t ext_end = i + 2 + be16(h + i);
    i += 2;
    if (ext_end != n)
        return HC_EPARSE;
    while (i < ext_end) {
        if (i + 4 > ext_end)
            return HC_EPARSE;
        unsigned type = be16(h + i), elen = be16(h + i + 2);
        i += 4;
        if (i + elen > ext_end)
            return HC_EPARSE;
        if (type == 0) { /* server_name */
            size_t j = i, end = i + elen;
            if (have_sni || j + 2 > end || j + 2 + be16(h + j) != end)
                return HC_EPARSE;
            j += 2;
            while (j < end) {
                if (j + 3 > end)
                    return HC_EPARSE;
                unsigned nt = h[j], nl = be16(h + j + 1);
                j += 3;
                if (j + nl > end)
                    return HC_EPARSE;
                if (nt == 0 && !have_sni) { /* host_name */
                    if (nl == 0 || nl >= sni_size)
                        return HC_EPARSE;
                    for (unsigned k = 0; k < nl; k++) {
                        unsigned char c = h[j + k];
                        if (c <= 0x20 || c >= 0x7f)
                            return HC_EPARSE;
                        sni[k] = (char)tolower(c);
                    }
                    sni[nl] = '\0';
                    if (sni[nl - 1] == '.')
                        sni[nl - 1] = '\0';
                    have_sni = true;
                }
                j += nl;
            }
        }
        i += elen;
    }
    return 0;
}

int hc_clienthello_sni(const unsigned char *buf, size_t len, unsigned char *scratch,
                       size_t scratch_len, char *sni, size_t sni_size)
{
    size_t have = 0, need = 0, pos = 0;
    if (sni_size == 0)
        return HC_EINVAL;
    sni[0] = '\0';
    for (;;) {
        if (pos + 5 > len)
            return (pos < len && !hc_looks_like_tls(buf + pos, len - pos)) ? HC_EPARSE : HC_PARTIAL;
        if (buf[pos] != 0x16 || buf[pos + 1] != 0x03)
            return HC_EPARSE;
        size_t rlen = be16(buf + pos + 3);
        if (rlen == 0 || rlen > 16384 + 2048)
            return HC_EPARSE;
        if (pos + 5 + rlen > len)
            return HC_PARTIAL;
        if (have + rlen > scratch_len)
            return HC_ETOOBIG;
        memcpy(scratch + have, buf + pos + 5, rlen);
        have += rlen;
        pos += 5 + rlen;
        if (!need) {
            if (have < 4)
                continue;
            if (scratch[0] != 0x01) /* handshake type client_hello */
                return HC_EPARSE;
            need = 4 + be24(scratch + 1);
            if (need > scratch_len)
                return HC_ETOOBIG;
        }
        if (have >= need)
            return parse_hello(scratch + 4, need - 4, sni, sni_size);
    }
}
