/* redact.c — see redact.h. */
#include "redact.h"
#include "err.h"

#include <ctype.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool hc_url_secret_param(const char *name, size_t n)
{
    char d[128];
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof d - 1; i++) {
        int c = (unsigned char)name[i];
        if (c == '%' && i + 2 < n && hexval(name[i + 1]) >= 0 && hexval(name[i + 2]) >= 0) {
            c = hexval(name[i + 1]) * 16 + hexval(name[i + 2]);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        d[k++] = (char)tolower(c);
    }
    d[k] = '\0';
    static const char *const exact[] = { "key", "sig", "code", "auth", "pwd", NULL };
    static const char *const part[] = { "key",       "token",      "secret", "passw",
                                        "signature", "credential", "auth",   NULL };
    for (int i = 0; exact[i]; i++)
        if (strcmp(d, exact[i]) == 0)
            return true;
    for (int i = 0; part[i]; i++)
        if (strstr(d, part[i]))
            return true;
    return false;
}

int hc_url_redact_buf(hc_buf *out, const char *url, size_t n)
{
    const char *p = url, *end = url + n;
    /* userinfo: scheme "://" userinfo "@" host */
    const char *sep = NULL;
    for (const char *s = url; s + 2 < end; s++) {
        if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
            sep = s + 3;
            break;
        }
        if (!isalnum((unsigned char)*s) && *s != '+' && *s != '-' && *s != '.')
            break; /* not a scheme: no authority */
    }
    if (sep) {
        /* Bounded: url need not be NUL-terminated (a request head's target). */
        size_t alen = 0;
        while (sep + alen < end && sep[alen] != '/' && sep[alen] != '?' && sep[alen] != '#')
            alen++;
        const char *at = NULL;
        for (const char *s = sep; s < sep + alen; s++)
            if (*s == '@')
                at = s;
        if (at) {
            if (hc_buf_append(out, url, (size_t)(sep - url)) || hc_buf_puts(out, "REDACTED"))
                return HC_ENOMEM;
            p = at;
        }
    }
    const char *q = memchr(p, '?', (size_t)(end - p));
    if (!q)
        return hc_buf_append(out, p, (size_t)(end - p)) ? HC_ENOMEM : 0;
    if (hc_buf_append(out, p, (size_t)(q - p) + 1))
        return HC_ENOMEM;
    p = q + 1;
    while (p < end) {
        const char *pe = p;
        while (pe < end && *pe != '&' && *pe != ';' && *pe != '#')
            pe++;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        int rc;
        if (eq && hc_url_secret_param(p, (size_t)(eq - p)))
            rc = hc_buf_append(out, p, (size_t)(eq - p) + 1) || hc_buf_puts(out, "REDACTED");
        else
            rc = hc_buf_append(out, p, (size_t)(pe - p));
        if (rc || (pe < end && hc_buf_append(out, pe, 1)))
            return HC_ENOMEM;
        p = pe < end ? pe + 1 : end;
    }
    return 0;
}

void hc_url_redact(char *dst, size_t size, const char *url)
{
    if (!size)
        return;
    hc_buf b = HC_BUF_INIT;
    if (hc_url_redact_buf(&b, url, strlen(url)) != 0 || !b.data) {
        /* Out of memory: keep nothing rather than risk a credential. */
        dst[0] = '\0';
    } else {
        size_t n = b.len < size - 1 ? b.len : size - 1;
        memcpy(dst, b.data, n);
        dst[n] = '\0';
    }
    hc_buf_free(&b);
}
