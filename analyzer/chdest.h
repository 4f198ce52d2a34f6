/* chdest.h — a ClickHouse server named by a URL, and one statement over its
 * HTTP interface: what `ship` (writing) and the ClickHouse record source
 * (source_ch.h, reading) share.
 *
 * URL: clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/DB (port 8123). The
 * password may instead come from $HC_CLICKHOUSE_PASSWORD. It is kept only in
 * d->headers (X-ClickHouse-Key), never in d->name, never printed.
 *
 * Not thread-safe to share one ch_dest while parsing it; ch_exec() itself
 * keeps no state (one connection per call).
 */
#ifndef HC_ANA_CHDEST_H
#define HC_ANA_CHDEST_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

typedef struct ch_dest {
    char host[256];
    int port;
    char db[128];
    char name[512];    /* clickhouse://host:port/db — no credentials; a cursor's key */
    char headers[768]; /* X-ClickHouse-User / -Key lines, or "" */
    int timeout_ms;    /* per statement; the caller sets it */
} ch_dest;

/* True when s names a ClickHouse server (starts with "clickhouse://"). */
bool ch_url_is(const char *s);

/* Parse url into d (timeout_ms untouched). On a bad URL prints one misuse
 * line "hc-analyze: WHAT: why" (never the password) and returns
 * CLI_EXIT_MISUSE; else 0. */
int ch_dest_parse(const char *url, const char *what, ch_dest *d);

/* Run one statement: `sql` in the body, or, when query (URL-encoded) is
 * given, that query with body as its data. `max` bounds the answer kept (0:
 * httpc's default, HTTPC_MAX_RESPONSE). 0 on HTTP 200 with the answer
 * appended to out (if non-NULL); else HC_E* with a one-line reason in err
 * (the server's first line for an HTTP error; never the headers). */
int ch_exec(const ch_dest *d, const char *query, const void *body, size_t len, size_t max,
            hc_buf *out, char *err, size_t errlen);

#endif
