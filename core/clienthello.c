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

static unsigned be16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
static size_t be24(const unsigned char *p) { return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2]; }

/* Parse a complete ClientHello body h[0..n). */
static int parse_hello(const unsigned char *h, size_t n, char *sni, size_t sni_size)
{
    size_t i = 0;
    sni[0] = '\0';
    if (n < 2 + 32 + 1)
        return HC_EPARSE;
    i += 2 + 32;                                  /* legacy_version, random */
    i += 1 + (size_t)h[i];                        /* legacy_session_id */
    if (i + 2 > n)
        return HC_EPARSE;
    i += 2 + be16(h + i);                         /* cipher_suites */
    if (i + 1 > n)
        return HC_EPARSE;
    i += 1 + (size_t)h[i];                        /* legacy_compression_methods */
    if (i == n)
        return 0;                                 /* no extensions at all */
    if (i + 2 > n)
        return HC_EPARSE;
    size_t ext_end = i + 2 + be16(h + i);
    i += 2;
    if (ext_end > n)
        return HC_EPARSE;
    while (i + 4 <= ext_end) {
        unsigned type = be16(h + i), elen = be16(h + i + 2);
        i += 4;
        if (i + elen > ext_end)
            return HC_EPARSE;
        if (type == 0) {                          /* server_name */
            size_t j = i, end = i + elen;
            if (j + 2 > end)
                return HC_EPARSE;
            size_t list_end = j + 2 + be16(h + j);
            j += 2;
            if (list_end > end)
                return HC_EPARSE;
            while (j + 3 <= list_end) {
                unsigned nt = h[j], nl = be16(h + j + 1);
                j += 3;
                if (j + nl > list_end)
                    return HC_EPARSE;
                if (nt == 0) {                    /* host_name */
                    if (nl == 0 || nl >= sni_size)
                        return HC_EPARSE;
                    for (unsigned k = 0; k < nl; k++) {
                        unsigned char c = h[j + k];
                        if (c <= 0x20 || c >= 0x7f)
                            return HC_EPARSE;
                        sni[k] = (char)tolower(c);
                    }
                    sni[nl] = '\0';
                    if (nl && sni[nl - 1] == '.')
                        sni[nl - 1] = '\0';
                    return 0;
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
            if (scratch[0] != 0x01)               /* handshake type client_hello */
                return HC_EPARSE;
            need = 4 + be24(scratch + 1);
            if (need > scratch_len)
                return HC_ETOOBIG;
        }
        if (have >= need)
            return parse_hello(scratch + 4, need - 4, sni, sni_size);
    }
}
