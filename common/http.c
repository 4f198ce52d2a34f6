/* http.c — HTTP/1.x head parsing and chunked decoding (see http.h).
 * Written for untrusted input: every index is bounds-checked against len, and
 * a head is parsed from scratch on each call (heads are small; simplicity wins
 * over resumable head parsing). */
#include "http.h"
#include "err.h"

#include <ctype.h>
#include <string.h>

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
    if (isalnum(c))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Find the end of the line starting at p; returns pointer to its first EOL
 * byte and sets *next to the start of the next line. NULL if no EOL yet. */
static const char *line_end(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return NULL;
    *next = nl + 1;
    return (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
}

/* Parse header lines from p until the blank line. Returns pointer past the
 * blank line, NULL for partial, or (const char *)-1 on error. */
static bool interpreted_header(const char *n, size_t l)
{
    static const char *const names[] = { "content-length",   "transfer-encoding",
                                         "content-encoding", "content-type",
                                         "connection",       "keep-alive",
                                         "set-cookie",       NULL };
    for (int i = 0; names[i]; i++)
        if (hc_span_ieq(n, l, names[i]))
            return true;
    return l >= 9 && strncasecmp(n, "helicone-", 9) == 0;
}

static const char *parse_headers(const char *p, const char *end, hc_http_head *h, bool allow_extra)
{
    h->nheaders = 0;
    h->extra = NULL;
    h->extra_len = 0;
    for (;;) {
        const char *next;
        const char *eol = line_end(p, end, &next);
        if (!eol) {
            /* Reject early garbage so a peer cannot make us buffer forever. */
            for (const char *q = p; q < end; q++)
                if (*q == '\0')
                    return (const char *)-1;
            return NULL;
        }
        if (eol == p)
            return next; /* blank line */
        if (*p == ' ' || *p == '\t')
            return (const char *)-1; /* obsolete line folding: refuse (RFC 9112 §5.2) */
        const char *colon = p;
        while (colon < eol && is_tchar((unsigned char)*colon))
            colon++;
        if (colon == p || colon == eol || *colon != ':')
            return (const char *)-1;
        if (h->nheaders == HC_HTTP_MAX_HEADERS &&
            (!allow_extra || interpreted_header(p, (size_t)(colon - p))))
            return (const char *)-1;
        const char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (const char *q = v; q < ve; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t')
                return (const char *)-1;
        if (h->nheaders == HC_HTTP_MAX_HEADERS) {
            /* Past the table: kept raw, in order (validated above). */
            if (!h->extra)
                h->extra = p;
            h->extra_len = (size_t)(next - h->extra);
            p = next;
            continue;
        }
        hc_header *hd = &h->headers[h->nheaders++];
        hd->name = p;
        hd->name_len = (size_t)(colon - p);
        hd->value = v;
        hd->value_len = (size_t)(ve - v);
        p = next;
    }
}

static int parse_version(const char *p, const char *end, int *minor)
{
    if (end - p < 8 || memcmp(p, "HTTP/1.", 7) != 0)
        return -1;
    if (p[7] != '0' && p[7] != '1')
        return -1;
    *minor = p[7] - '0';
    return 8;
}

int hc_http_parse_request(const char *buf, size_t len, hc_http_head *h)
{
    const char *p = buf, *end = buf + len, *next;
    /* Tolerate empty lines before the request line (RFC 9112 §2.2). */
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    const char *eol = line_end(p, end, &next);
    if (!eol) {
        if (end - p > 8192)
            return HC_EPARSE;
        /* The method must be a token: reject a binary peer (e.g. TLS) at once. */
        for (const char *q = p; q < end && *q != ' '; q++)
            if (!is_tchar((unsigned char)*q))
                return HC_EPARSE;
        return HC_PARTIAL;
    }
    const char *m = p;
    while (p < eol && is_tchar((unsigned char)*p))
        p++;
    if (p == m || p >= eol || *p != ' ')
        return HC_EPARSE;
    h->method = m;
    h->method_len = (size_t)(p - m);
    p++;
    const char *t = p;
    while (p < eol && (unsigned char)*p > 0x20 && *p != 0x7f)
        p++;
    if (p == t || p >= eol || *p != ' ')
        return HC_EPARSE;
    h->target = t;
    h->target_len = (size_t)(p - t);
    p++;
    int n = parse_version(p, eol, &h->minor_version);
    if (n < 0 || p + n != eol)
        return HC_EPARSE;
    h->status = 0;
    h->reason = NULL;
    h->reason_len = 0;
    const char *after = parse_headers(next, end, h, false);
    if (after == NULL)
        return HC_PARTIAL;
    if (after == (const char *)-1)
        return HC_EPARSE;
    return (int)(after - buf);
}

int hc_http_parse_response(const char *buf, size_t len, hc_http_head *h)
{
    const char *p = buf, *end = buf + len, *next;
    if (len >= 1 && *p != 'H')
        return HC_EPARSE;
    const char *eol = line_end(p, end, &next);
    if (!eol) {
        size_t cmp = len < 7 ? len : 7;
        if (memcmp(p, "HTTP/1.", cmp) != 0 || len > 8192)
            return HC_EPARSE;
        return HC_PARTIAL;
    }
    int n = parse_version(p, eol, &h->minor_version);
    if (n < 0)
        return HC_EPARSE;
    p += n;
    if (eol - p < 4 || *p != ' ' || !isdigit((unsigned char)p[1]) ||
        !isdigit((unsigned char)p[2]) || !isdigit((unsigned char)p[3]))
        return HC_EPARSE;
    h->status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    if (h->status < 100)
        return HC_EPARSE;
    p += 4;
    if (p < eol && *p != ' ')
        return HC_EPARSE;
    if (p < eol)
        p++;
    h->reason = p;
    h->reason_len = (size_t)(eol - p);
    h->method = h->target = NULL;
    h->method_len = h->target_len = 0;
    const char *after = parse_headers(next, end, h, true);
    if (after == NULL)
        return HC_PARTIAL;
    if (after == (const char *)-1)
        return HC_EPARSE;
    return (int)(after - buf);
}

size_t hc_http_count_header_lines(const char *buf, size_t len)
{
    size_t lines = 0;
    const char *p = buf, *end = buf + len;
    const char *nl = memchr(p, '\n', len); /* the request or status line */
    if (!nl)
        return 0;
    for (p = nl + 1; p < end; lines++) {
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
            break; /* the blank line */
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            lines++;
            break;
        }
        p = nl + 1;
    }
    return lines;
}

bool hc_span_ieq(const char *p, size_t n, const char *s)
{
    size_t sl = strlen(s);
    return n == sl && strncasecmp(p, s, n) == 0;
}

bool hc_span_iprefix(const char *p, size_t n, const char *prefix)
{
    size_t pl = strlen(prefix);
    return n >= pl && strncasecmp(p, prefix, pl) == 0;
}

const hc_header *hc_http_header(const hc_http_head *h, const char *name)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (hc_span_ieq(h->headers[i].name, h->headers[i].name_len, name))
            return &h->headers[i];
    return NULL;
}

static bool list_has_token(const char *v, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && hc_span_ieq(v + s, e - s, tok))
            return true;
    }
    return false;
}

bool hc_http_header_has_token(const hc_http_head *h, const char *name, const char *tok)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (hc_span_ieq(h->headers[i].name, h->headers[i].name_len, name) &&
            list_has_token(h->headers[i].value, h->headers[i].value_len, tok))
            return true;
    return false;
}

/* The last coding of Transfer-Encoding (all instances) is "chunked"? */
static int te_state(const hc_http_head *h)
{
    int present = 0, last_chunked = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        if (!hc_span_ieq(h->headers[i].name, h->headers[i].name_len, "transfer-encoding"))
            continue;
        present = 1;
        const char *v = h->headers[i].value;
        size_t n = h->headers[i].value_len;
        /* the last token of this instance */
        size_t e = n;
        while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == ','))
            e--;
        size_t s = e;
        while (s > 0 && v[s - 1] != ',')
            s--;
        while (s < e && (v[s] == ' ' || v[s] == '\t'))
            s++;
        if (e > s)
            last_chunked = hc_span_ieq(v + s, e - s, "chunked");
    }
    return present ? (last_chunked ? 2 : 1) : 0;
}

int hc_http_framing(const hc_http_head *h, bool is_response, const char *req_method,
                    size_t req_method_len, enum hc_framing *framing, uint64_t *length)
{
    *length = 0;
    if (is_response) {
        if ((h->status >= 100 && h->status < 200) || h->status == 204 || h->status == 304 ||
            (req_method && hc_span_ieq(req_method, req_method_len, "HEAD"))) {
            *framing = HC_BODY_NONE;
            return 0;
        }
    }
    int te = te_state(h);
    if (te == 2) {
        *framing = HC_BODY_CHUNKED;
        return 0;
    }
    if (te == 1) {
        if (!is_response)
            return HC_EPARSE; /* request with non-chunked final coding: 400 */
        *framing = HC_BODY_CLOSE;
        return 0;
    }
    bool have = false;
    uint64_t cl = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        if (!hc_span_ieq(h->headers[i].name, h->headers[i].name_len, "content-length"))
            continue;
        const char *v = h->headers[i].value;
        size_t n = h->headers[i].value_len;
        /* "5, 5" lists of identical values are allowed (RFC 9110 §8.6). */
        size_t j = 0;
        while (j < n) {
            while (j < n && (v[j] == ' ' || v[j] == ','))
                j++;
            if (j == n)
                break;
            if (!isdigit((unsigned char)v[j]))
                return HC_EPARSE;
            uint64_t x = 0;
            while (j < n && isdigit((unsigned char)v[j])) {
                if (x > (UINT64_MAX - 9) / 10)
                    return HC_EPARSE;
                x = x * 10 + (uint64_t)(v[j] - '0');
                j++;
            }
            while (j < n && v[j] == ' ')
                j++;
            if (j < n && v[j] != ',')
                return HC_EPARSE;
            if (have && x != cl)
                return HC_EPARSE;
            have = true;
            cl = x;
        }
    }
    if (have) {
        *framing = HC_BODY_LENGTH;
        *length = cl;
        return 0;
    }
    *framing = is_response ? HC_BODY_CLOSE : HC_BODY_NONE;
    return 0;
}

/* Chunked decoding ------------------------------------------------------- */

enum {
    CH_SIZE,
    CH_EXT,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER_START,
    CH_TRAILER_LINE,
    CH_TRAILER_LF,
    CH_FINAL_LF
};

void hc_chunked_init(hc_chunked *d)
{
    memset(d, 0, sizeof *d);
}

static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long hc_chunked_next(hc_chunked *d, const char *p, size_t len, size_t *data_off, size_t *data_len)
{
    size_t i = 0;
    *data_off = 0;
    *data_len = 0;
    while (i < len && !d->done) {
        unsigned char c = (unsigned char)p[i];
        switch (d->state) {
        case CH_SIZE: {
            int v = hexv(c);
            if (v >= 0) {
                if (d->hex_digits >= 15)
                    return HC_EPARSE;
                d->remaining = d->remaining * 16 + (uint64_t)v;
                d->hex_digits++;
                i++;
                break;
            }
            if (d->hex_digits == 0)
                return HC_EPARSE;
            if (c == ';' || c == ' ' || c == '\t') {
                d->state = CH_EXT;
                i++;
            } else if (c == '\r') {
                d->state = CH_SIZE_LF;
                i++;
            } else if (c == '\n') {
                i++;
                goto size_done;
            } else
                return HC_EPARSE;
            break;
        }
        case CH_EXT:
            if (c == '\r')
                d->state = CH_SIZE_LF;
            else if (c == '\n') {
                i++;
                goto size_done;
            } else if (c < 0x20 && c != '\t')
                return HC_EPARSE;
            i++;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                return HC_EPARSE;
            i++;
size_done:
            d->hex_digits = 0;
            d->state = d->remaining ? CH_DATA : CH_TRAILER_START;
            break;
        case CH_DATA: {
            size_t take = len - i;
            if (take > d->remaining)
                take = (size_t)d->remaining;
            *data_off = i;
            *data_len = take;
            d->remaining -= take;
            i += take;
            if (!d->remaining)
                d->state = CH_DATA_CR;
            return (long)i; /* one data span per call */
        }
        case CH_DATA_CR:
            if (c == '\r') {
                d->state = CH_DATA_LF;
                i++;
            } else if (c == '\n') {
                d->state = CH_SIZE;
                i++;
            } else
                return HC_EPARSE;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return HC_EPARSE;
            d->state = CH_SIZE;
            i++;
            break;
        case CH_TRAILER_START:
            if (c == '\r') {
                d->state = CH_FINAL_LF;
                i++;
            } else if (c == '\n') {
                d->done = true;
                i++;
            } else {
                d->state = CH_TRAILER_LINE;
            }
            break;
        case CH_TRAILER_LINE:
            if (c == '\r')
                d->state = CH_TRAILER_LF;
            else if (c == '\n')
                d->state = CH_TRAILER_START;
            i++;
            break;
        case CH_TRAILER_LF:
            if (c != '\n')
                return HC_EPARSE;
            d->state = CH_TRAILER_START;
            i++;
            break;
        case CH_FINAL_LF:
            if (c != '\n')
                return HC_EPARSE;
            d->done = true;
            i++;
            break;
        }
    }
    return (long)i;
}
