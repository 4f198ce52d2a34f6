/* test_http.c — HTTP head parsing and chunked decoding, table-driven, with every
 * input also fed split at every byte offset. */
#include "buf.h"
#include "err.h"
#include "http.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *in;
    int want;    /* > 0: head length expected = strlen(in) - tail */
    size_t tail; /* bytes after the head (body) */
    const char *method, *target;
    size_t nheaders;
} req_cases[] = {
    { "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, 0, "GET", "/", 1 },
    { "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 2\r\n\r\n{}",
      1, 2, "POST", "/v1/chat/completions", 2 },
    { "GET /x?y=1 HTTP/1.0\n\n", 1, 0, "GET", "/x?y=1", 0 },
    { "\r\nGET / HTTP/1.1\r\nA:  spaced  \r\n\r\n", 1, 0, "GET", "/", 1 },
    { "GET / HTTP/2.0\r\n\r\n", HC_EPARSE, 0, NULL, NULL, 0 },
    { "GET  / HTTP/1.1\r\n\r\n", HC_EPARSE, 0, NULL, NULL, 0 },
    { "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", HC_EPARSE, 0, NULL, NULL, 0 },
    { "GET / HTTP/1.1\r\n folded\r\n\r\n", HC_EPARSE, 0, NULL, NULL, 0 },
    { "GET / HTTP/1.1\r\nNoColon\r\n\r\n", HC_EPARSE, 0, NULL, NULL, 0 },
    { "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", HC_EPARSE, 0, NULL, NULL, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\n", HC_PARTIAL, 0, NULL, NULL, 0 },
};

static void test_requests(void)
{
    for (size_t c = 0; c < sizeof req_cases / sizeof req_cases[0]; c++) {
        const char *in = req_cases[c].in;
        size_t len = strlen(in);
        hc_http_head h;
        int rc = hc_http_parse_request(in, len, &h);
        if (req_cases[c].want > 0) {
            T_EQ_INT(rc, (long long)(len - req_cases[c].tail), "request %zu: head length", c);
            T_CHECK(h.method_len == strlen(req_cases[c].method) &&
                        memcmp(h.method, req_cases[c].method, h.method_len) == 0,
                    "request %zu: method", c);
            T_CHECK(h.target_len == strlen(req_cases[c].target) &&
                        memcmp(h.target, req_cases[c].target, h.target_len) == 0,
                    "request %zu: target", c);
            T_EQ_INT(h.nheaders, req_cases[c].nheaders, "request %zu: header count", c);
            /* Every strict prefix of a complete head is partial. */
            int bad = 0;
            size_t head = len - req_cases[c].tail;
            for (size_t cut = 0; cut < head; cut++) {
                int r = hc_http_parse_request(in, cut, &h);
                if (r != HC_PARTIAL)
                    bad++;
            }
            T_EQ_INT(bad, 0, "request %zu: every prefix is partial", c);
        } else {
            T_EQ_INT(rc, req_cases[c].want, "request %zu: rejected as expected", c);
        }
    }
    hc_http_head h;
    const char *in = "GET / HTTP/1.1\r\nA:  spaced  \r\n\r\n";
    hc_http_parse_request(in, strlen(in), &h);
    T_CHECK(h.headers[0].value_len == 6 && memcmp(h.headers[0].value, "spaced", 6) == 0,
            "header value trimmed");
}

static void test_responses(void)
{
    const char *in = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: "
                     "2\r\nx-ratelimit-remaining-requests: 0\r\n\r\nbody";
    hc_http_head h;
    int rc = hc_http_parse_response(in, strlen(in), &h);
    T_EQ_INT(rc, (long long)strlen(in) - 4, "response head length");
    T_EQ_INT(h.status, 429, "status");
    T_EQ_INT(h.nheaders, 2, "response headers");
    const hc_header *ra = hc_http_header(&h, "retry-after");
    T_CHECK(ra && ra->value_len == 1 && ra->value[0] == '2', "case-insensitive header lookup");
    int bad = 0;
    for (size_t cut = 0; cut < strlen(in) - 4; cut++)
        if (hc_http_parse_response(in, cut, &h) != HC_PARTIAL)
            bad++;
    T_EQ_INT(bad, 0, "every response prefix is partial");
    T_EQ_INT(hc_http_parse_response("HTTP/1.1 200\r\n\r\n", 16, &h), 16, "status without reason");
    T_EQ_INT(hc_http_parse_response("SSH-2.0-x\r\n", 11, &h), HC_EPARSE, "non-HTTP rejected");
    T_EQ_INT(hc_http_parse_response("HTTP/1.1 2x0 OK\r\n\r\n", 19, &h), HC_EPARSE, "bad status");
}

static void test_framing(void)
{
    static const struct {
        const char *head;
        bool resp;
        const char *method;
        int rc;
        enum hc_framing f;
        uint64_t len;
    } cases[] = {
        { "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", true, "POST", 0, HC_BODY_LENGTH, 12 },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, "POST", 0, HC_BODY_CHUNKED,
          0 },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", true, "POST", 0,
          HC_BODY_CHUNKED, 0 },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", true, "GET",
          0, HC_BODY_CHUNKED, 0 },
        { "HTTP/1.1 200 OK\r\n\r\n", true, "GET", 0, HC_BODY_CLOSE, 0 },
        { "HTTP/1.1 204 No Content\r\n\r\n", true, "GET", 0, HC_BODY_NONE, 0 },
        { "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", true, "HEAD", 0, HC_BODY_NONE, 0 },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", true, "GET", 0, HC_BODY_LENGTH, 5 },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", true, "GET",
          HC_EPARSE, 0, 0 },
        { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", true, "GET", HC_EPARSE, 0, 0 },
        { "POST / HTTP/1.1\r\n\r\n", false, NULL, 0, HC_BODY_NONE, 0 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", false, NULL, HC_EPARSE, 0, 0 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        hc_http_head h;
        const char *in = cases[c].head;
        int n = cases[c].resp ? hc_http_parse_response(in, strlen(in), &h)
                              : hc_http_parse_request(in, strlen(in), &h);
        T_CHECK(n > 0, "framing %zu: head parses", c);
        enum hc_framing f = HC_BODY_NONE;
        uint64_t len = 0;
        int rc = hc_http_framing(&h, cases[c].resp, cases[c].method,
                                 cases[c].method ? strlen(cases[c].method) : 0, &f, &len);
        T_EQ_INT(rc, cases[c].rc, "framing %zu: rc", c);
        if (rc == 0) {
            T_EQ_INT(f, cases[c].f, "framing %zu: kind", c);
            T_EQ_INT(len, cases[c].len, "framing %zu: length", c);
        }
    }
    hc_http_head h;
    const char *in = "GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n";
    hc_http_parse_request(in, strlen(in), &h);
    T_CHECK(hc_http_header_has_token(&h, "connection", "close"), "token list lookup");
    T_CHECK(!hc_http_header_has_token(&h, "connection", "upgrade"), "absent token");
}

/* Decode `in` fed in pieces of at most `step` bytes; returns decoded text or NULL on error. */
static char *dechunk(const char *in, size_t len, size_t step, bool *done, size_t *consumed)
{
    hc_chunked d;
    hc_chunked_init(&d);
    char *out = calloc(1, len + 1);
    size_t olen = 0, pos = 0;
    while (pos < len && !d.done) {
        size_t piece = len - pos < step ? len - pos : step;
        size_t off = 0;
        while (off < piece && !d.done) {
            size_t doff, dlen;
            long n = hc_chunked_next(&d, in + pos + off, piece - off, &doff, &dlen);
            if (n < 0) {
                free(out);
                return NULL;
            }
            memcpy(out + olen, in + pos + off + doff, dlen);
            olen += dlen;
            off += (size_t)n;
        }
        pos += off;
    }
    *done = d.done;
    *consumed = pos;
    return out;
}

static void test_chunked(void)
{
    static const struct {
        const char *in, *out;
        bool ok;
        size_t trailing; /* bytes after the body that must not be consumed */
    } cases[] = {
        { "5\r\nhello\r\n0\r\n\r\n", "hello", true, 0 },
        { "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", "hello world", true, 4 },
        { "A;ext=1\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n", "0123456789", true, 0 },
        { "5\nhello\n0\n\n", "hello", true, 0 },
        { "g\r\n", NULL, false, 0 },
        { "5\r\nhelloX\r\n", NULL, false, 0 },
        { "fffffffffffffffff\r\n", NULL, false, 0 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len = strlen(cases[c].in);
        int bad = 0;
        for (size_t step = 1; step <= len; step++) {
            bool done;
            size_t consumed;
            char *out = dechunk(cases[c].in, len, step, &done, &consumed);
            if (cases[c].ok) {
                if (!out || !done || strcmp(out, cases[c].out) != 0 ||
                    consumed != len - cases[c].trailing)
                    bad++;
            } else if (out) {
                bad++;
            }
            free(out);
        }
        T_EQ_INT(bad, 0, "chunked %zu: %s at every split", c, cases[c].ok ? "decodes" : "rejected");
    }
}

/* More header lines than the table holds: a response keeps them raw in
 * extra (unless one is a header the gateway interprets); a request is
 * refused, and hc_http_count_header_lines says why. */
static void test_many_headers(void)
{
    hc_buf b = HC_BUF_INIT;
    hc_buf_puts(&b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
    for (int i = 0; i < 150; i++)
        hc_buf_printf(&b, "X-Many-%d: v\r\n", i);
    size_t before_blank = b.len;
    hc_buf_puts(&b, "\r\nok");
    hc_http_head h;
    int n = hc_http_parse_response(b.data, b.len, &h);
    T_EQ_INT(n, (int)b.len - 2, "150 response headers: the head parses");
    T_EQ_INT((int)h.nheaders, HC_HTTP_MAX_HEADERS, "the table is full");
    T_CHECK(h.extra && h.extra + h.extra_len == b.data + before_blank &&
                strncmp(h.extra, "X-Many-127:", 11) == 0,
            "extra holds the remaining lines, raw, up to the blank line");
    for (size_t cut = 0; cut + 2 < b.len; cut += 97)
        T_EQ_INT(hc_http_parse_response(b.data, cut, &h), HC_PARTIAL, "cut at %zu: partial", cut);
    hc_buf_reset(&b);
    hc_buf_puts(&b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 140; i++)
        hc_buf_printf(&b, i == 135 ? "Transfer-Encoding: chunked\r\n" : "X-Many-%d: v\r\n", i);
    hc_buf_puts(&b, "\r\n");
    T_EQ_INT(hc_http_parse_response(b.data, b.len, &h), HC_EPARSE,
             "a framing header past the table: refused");
    hc_buf_reset(&b);
    hc_buf_puts(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 130; i++)
        hc_buf_printf(&b, "X-Req-%d: v\r\n", i);
    hc_buf_puts(&b, "\r\n");
    T_EQ_INT(hc_http_parse_request(b.data, b.len, &h), HC_EPARSE, "130 request headers: refused");
    T_EQ_INT((int)hc_http_count_header_lines(b.data, b.len), 130, "... and counted: 130 lines");
    T_EQ_INT((int)hc_http_count_header_lines("GET / HTTP/1.1\r\nA: b\r\n\r\n", 27), 1,
             "one header line");
    hc_buf_free(&b);
}

int main(void)
{
    test_many_headers();
    test_requests();
    test_responses();
    test_framing();
    test_chunked();
    return t_done();
}
