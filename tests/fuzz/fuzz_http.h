/* fuzz_http.h — invariants of a parsed HTTP head, shared by the request and
 * response harnesses. */
#ifndef HC_FUZZ_HTTP_H
#define HC_FUZZ_HTTP_H

#include <ctype.h>

#include "fuzz.h"
#include "http.h"

static inline bool fuzz_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Every span of h lies inside buf[0..n) (n: the bytes the parser consumed),
 * header names are tokens, values are trimmed and free of control bytes. */
static inline void fuzz_check_head(const hc_http_head *h, const char *buf, size_t n)
{
    FUZZ_CHECK(h->minor_version == 0 || h->minor_version == 1);
    FUZZ_CHECK(h->nheaders <= HC_HTTP_MAX_HEADERS);
    for (size_t i = 0; i < h->nheaders; i++) {
        const hc_header *x = &h->headers[i];
        FUZZ_CHECK(x->name_len > 0);
        FUZZ_CHECK(fuzz_within(buf, n, x->name, x->name_len));
        FUZZ_CHECK(fuzz_within(buf, n, x->value, x->value_len));
        for (size_t k = 0; k < x->name_len; k++)
            FUZZ_CHECK(fuzz_tchar((unsigned char)x->name[k]));
        for (size_t k = 0; k < x->value_len; k++) {
            unsigned char c = (unsigned char)x->value[k];
            FUZZ_CHECK(c >= 0x20 || c == '\t');
        }
        if (x->value_len) {
            FUZZ_CHECK(x->value[0] != ' ' && x->value[0] != '\t');
            FUZZ_CHECK(x->value[x->value_len - 1] != ' ' && x->value[x->value_len - 1] != '\t');
        }
        /* lookups find a header that exists, by any case of its name */
        char name[64];
        if (x->name_len < sizeof name) {
            for (size_t k = 0; k < x->name_len; k++)
                name[k] = (char)(k % 2 ? toupper((unsigned char)x->name[k])
                                       : tolower((unsigned char)x->name[k]));
            name[x->name_len] = '\0';
            const hc_header *f = hc_http_header(h, name);
            FUZZ_CHECK(f != NULL && f <= x);
            FUZZ_CHECK(hc_span_ieq(f->name, f->name_len, name));
        }
    }
    (void)hc_http_header_has_token(h, "connection", "close");
    (void)hc_http_header_has_token(h, "transfer-encoding", "chunked");
    (void)hc_http_header(h, "content-type");
}

/* hc_http_framing's contract for a head. */
static inline void fuzz_check_framing(const hc_http_head *h, bool is_response, const char *m,
                                      size_t ml)
{
    enum hc_framing f = (enum hc_framing) - 1;
    uint64_t len = 12345;
    int r = hc_http_framing(h, is_response, m, ml, &f, &len);
    FUZZ_CHECK(r == 0 || r == -1 /* HC_EPARSE */);
    if (r != 0)
        return;
    FUZZ_CHECK(f == HC_BODY_NONE || f == HC_BODY_LENGTH || f == HC_BODY_CHUNKED ||
               f == HC_BODY_CLOSE);
    if (f != HC_BODY_LENGTH)
        FUZZ_CHECK(len == 0);
    if (!is_response)
        FUZZ_CHECK(f != HC_BODY_CLOSE); /* a request body is never delimited by close */
    if (is_response &&
        ((h->status >= 100 && h->status < 200) || h->status == 204 || h->status == 304))
        FUZZ_CHECK(f == HC_BODY_NONE);
    if (is_response && m && hc_span_ieq(m, ml, "HEAD"))
        FUZZ_CHECK(f == HC_BODY_NONE);
}

#endif
