/* chdest.c — a ClickHouse server named by a clickhouse:// URL, and one
 * statement over its HTTP interface (see chdest.h). Shared by `ship`
 * (writing) and source_ch.c (reading). */
#include "chdest.h"
#include "cli.h"
#include "err.h"
#include "httpc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ch_url_is(const char *s)
{
    return s && strncmp(s, "clickhouse://", 13) == 0;
}

static bool ident_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* Parse clickhouse://[user[:pass]@]host[:port]/db. Prints the misuse (never
 * the password) and returns CLI_EXIT_MISUSE, or 0. */
int ch_dest_parse(const char *url, const char *what, ch_dest *d)
{
    static const char scheme[] = "clickhouse://";
    char user[128] = "", pass[256] = "", hostport[300];
    const char *expect = "expected clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/DB";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return cli_misuse("%s: %s, got a URL without that scheme", what, expect);
    const char *p = url + sizeof scheme - 1, *slash = strchr(p, '/');
    if (!slash)
        return cli_misuse("%s: %s (no /DB)", what, expect);
    const char *at = memchr(p, '@', (size_t)(slash - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = (size_t)((colon ? colon : at) - p);
        if (ul == 0 || ul >= sizeof user)
            return cli_misuse("%s: %s (bad user name)", what, expect);
        memcpy(user, p, ul);
        if (colon) {
            size_t pl = (size_t)(at - colon - 1);
            if (pl >= sizeof pass)
                return cli_misuse("%s: password too long", what);
            memcpy(pass, colon + 1, pl);
        }
        p = at + 1;
    }
    size_t hl = (size_t)(slash - p);
    if (hl == 0 || hl >= sizeof hostport)
        return cli_misuse("%s: %s (no HOST)", what, expect);
    memcpy(hostport, p, hl);
    hostport[hl] = '\0';
    d->port = 8123;
    char *h = hostport, *port = NULL;
    if (*h == '[') { /* [v6addr]:port */
        char *e = strchr(h, ']');
        if (!e)
            return cli_misuse("%s: %s (unclosed '[' in HOST)", what, expect);
        *e = '\0';
        h++;
        if (e[1] == ':')
            port = e + 2;
        else if (e[1])
            return cli_misuse("%s: %s (junk after ']')", what, expect);
    } else if ((port = strrchr(h, ':')) != NULL) {
        *port++ = '\0';
    }
    if (port) {
        char *end;
        long v = strtol(port, &end, 10);
        if (!*port || *end || v < 1 || v > 65535)
            return cli_misuse("%s: PORT: expected 1..65535, got '%s'", what, port);
        d->port = (int)v;
    }
    if (!*h || strlen(h) >= sizeof d->host)
        return cli_misuse("%s: %s (no HOST)", what, expect);
    hc_strlcpy(d->host, sizeof d->host, h);
    const char *db = slash + 1;
    if (!ident_ok(db) || strlen(db) >= sizeof d->db)
        return cli_misuse("%s: DB: expected a database name of letters, digits and '_', got '%s'",
                          what, db);
    hc_strlcpy(d->db, sizeof d->db, db);
    snprintf(d->name, sizeof d->name, "clickhouse://%s%s%s:%d/%s", strchr(d->host, ':') ? "[" : "",
             d->host, strchr(d->host, ':') ? "]" : "", d->port, d->db);
    const char *envpass = getenv("HC_CLICKHOUSE_PASSWORD");
    if (!*pass && envpass && strlen(envpass) < sizeof pass)
        hc_strlcpy(pass, sizeof pass, envpass);
    d->headers[0] = '\0';
    if (*user || *pass) {
        for (const char *c = pass; *c; c++)
            if (*c == '\r' || *c == '\n')
                return cli_misuse("%s: the ClickHouse password contains a line break", what);
        snprintf(d->headers, sizeof d->headers, "X-ClickHouse-User: %s\r\n%s%s%s",
                 *user ? user : "default", *pass ? "X-ClickHouse-Key: " : "", pass,
                 *pass ? "\r\n" : "");
    }
    memset(pass, 0, sizeof pass);
    return 0;
}

/* Run one statement (see chdest.h). `sql` goes in the body unless `query` (URL-encoded)
 * is given, then the body is data. 0 on HTTP 200 (answer in *out if
 * non-NULL); else HC_E* with a one-line reason in err (the server's first
 * line for an HTTP error). */
int ch_exec(const ch_dest *d, const char *query, const void *body, size_t len, size_t max,
            hc_buf *out, char *err, size_t errlen)
{
    char target[600];
    snprintf(target, sizeof target, "/%s%s", query ? "?query=" : "", query ? query : "");
    hc_buf resp = { 0 };
    int status = 0;
    int rc =
        httpc_request_max(d->host, d->port, "POST", target, d->headers, body, len, d->timeout_ms,
                          max ? max : HTTPC_MAX_RESPONSE, &status, &resp, err, errlen);
    if (rc == 0 && status != 200) {
        const char *m = resp.data ? resp.data : "";
        size_t ml = strcspn(m, "\r\n");
        snprintf(err, errlen, "HTTP %d: %.*s", status, (int)(ml > 300 ? 300 : ml), m);
        rc = HC_EIO;
    }
    if (rc == 0 && out)
        rc = hc_buf_append(out, resp.data ? resp.data : "", resp.len);
    hc_buf_free(&resp);
    return rc;
}
