/* gwerror.c — see gwerror.h.
 *
 * DESIGN
 * - One table: reason phrases, error types and upstream codes live here and
 *   nowhere else; proxy.c names a status and a code, never a reason text.
 * - Fail safe: the answer is built in buffers with sticky errors (buf.h);
 *   if memory runs out the app gets a bare 500 that needs none, never a
 *   head whose Content-Length disagrees with a body cut short.
 */
#include "gwerror.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

const char *hc_gwerror_reason(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

const char *hc_gwerror_type(const char *code)
{
    if (strcmp(code, "budget_exceeded") == 0)
        return "hcshim_budget";
    if (strcmp(code, "rate_limited") == 0)
        return "hcshim_rate_limit";
    if (strncmp(code, "upstream_", 9) == 0)
        return "hcshim_upstream";
    return "hcshim_error";
}

const char *hc_gwerror_upstream_code(int err)
{
    switch (err) {
    case HC_ETIMEDOUT: return "upstream_timeout";
    case HC_ETLS: return "upstream_tls";
    case HC_EPARSE:
    case HC_ETOOBIG: return "upstream_protocol";
    case HC_ECLOSED:
    case HC_EIO: return "upstream_closed";
    case HC_EINVAL: return "invalid_fallback";
    case HC_ENOMEM: return "out_of_memory";
    default: return "upstream_unreachable";
    }
}

void hc_json_escape(hc_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            hc_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            hc_buf_printf(b, "\\u%04x", c);
        else
            hc_buf_append(b, s, 1);
    }
}

int hc_gwerror_send(hc_io *client, const hc_gwerror *e, hc_gwerror_sent *sent)
{
    static const char json[] = "application/json";
    hc_buf body = HC_BUF_INIT, out = HC_BUF_INIT;
    hc_buf_puts(&body, "{\"error\":{\"message\":\"hcshim: ");
    hc_json_escape(&body, e->message);
    hc_buf_printf(&body, "\",\"type\":\"%s\",\"code\":\"%s\"}}\n", hc_gwerror_type(e->code),
                  e->code);
    hc_buf_printf(&out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n", e->status,
                  hc_gwerror_reason(e->status), json, body.len);
    if (e->request_id)
        hc_buf_printf(&out, "helicone-id: %s\r\n", e->request_id);
    if (e->extra)
        hc_buf_append_buf(&out, e->extra);
    hc_buf_printf(&out, "%s\r\n", e->closing ? "Connection: close\r\n" : "");
    hc_buf_append_buf(&out, &body);
    int rc = hc_buf_error(&out);
    if (rc) {
        static const char bare[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n";
        hc_io_write(client, bare, sizeof bare - 1);
        hc_buf_free(&body);
    } else {
        rc = hc_io_write(client, out.data, out.len);
    }
    if (sent) {
        memset(sent, 0, sizeof *sent);
        sent->status = rc == HC_ENOMEM ? 500 : e->status;
        if (rc != HC_ENOMEM) {
            sent->headers[0] = (hc_header){
                .name = "content-type", .name_len = 12, .value = json, .value_len = sizeof json - 1
            };
            sent->nheaders = 1;
            sent->body = body; /* handed over */
            body = (hc_buf)HC_BUF_INIT;
        }
    }
    hc_buf_free(&body);
    hc_buf_free(&out);
    return rc;
}
