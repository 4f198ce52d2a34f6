/* ship_otlp.c — `hc-analyze ship --to otlp://HOST:PORT` (or an http:// OTLP
 * URL): the store's records as OpenTelemetry spans and GenAI metrics, sent to
 * an OTLP/HTTP collector as JSON.
 *
 * DESIGN
 * - The same encoder as the live push and `export --format otlp`
 *   (common/otlp.h), so a span is the same whichever way it travels.
 * - One pass over the matching records (the filters of every reading
 *   command), oldest first: spans POSTed to /v1/traces in batches of --batch,
 *   then one metrics document (cumulative over the records sent) to
 *   /v1/metrics. A one-shot copy: no cursor and no --follow (ClickHouse
 *   shipping has those); run it with --since/--run to choose what to send.
 * - A batch the collector refuses (not 2xx) or cannot take (connection,
 *   timeout) stops the ship with exit 1 and says how many spans went.
 * - Headers from OTEL_EXPORTER_OTLP_HEADERS (as the SDKs read them); their
 *   values are never printed. Plain HTTP only (the analyzer has no TLS
 *   client): ship to a collector on loopback or a trusted network.
 */
#include "ship_otlp.h"
#include "cli.h"
#include "clock.h"
#include "err.h"
#include "httpc.h"
#include "otlp.h"
#include "query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: hc-analyze ship --to otlp://HOST[:PORT] [--batch N] [filters]\n"
    "\n"
    "Send the matching records, oldest first, as OpenTelemetry spans (GenAI\n"
    "semantic conventions) to an OTLP/HTTP collector's /v1/traces, then the\n"
    "GenAI client metrics over them to /v1/metrics, as JSON. A one-shot copy.\n"
    "\n"
    "  --to URL           otlp://HOST[:PORT] (default port 4318), or an OTLP/HTTP\n"
    "                     URL http://HOST[:PORT][/PATH]/v1/traces\n"
    "  --batch N          spans per request (default 512, 1..100000)\n"
    "  --timeout D        per request (default 30s)\n" CLI_HELP_DB
    "  -h, --help         this help\n"
    "Headers (an API key of a hosted collector) come from\n"
    "OTEL_EXPORTER_OTLP_HEADERS=name=value,… (values %-encoded); never printed.\n" CLI_HELP_FILTERS;

enum { OPT_TO = OPT_CMD, OPT_BATCH, OPT_TIMEOUT };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    { "to", 0, true, OPT_TO },
    { "batch", 0, true, OPT_BATCH },
    { "timeout", 0, true, OPT_TIMEOUT },
    { 0 },
};

struct dest {
    char host[256];
    int port;
    char traces[512], metrics[512]; /* request targets */
};

struct ship {
    const struct dest *d;
    hc_buf headers; /* Content-Type + OTEL_EXPORTER_OTLP_HEADERS lines */
    hc_buf body;    /* the batch being built */
    hc_buf span;
    size_t inbatch, batch;
    uint64_t sent;
    int timeout_ms;
    hc_otlp_metrics *m;
    int failed; /* 0, or exit status 1 after a message */
    bool oom;
};

static bool ends_with(const char *s, const char *sfx)
{
    size_t n = strlen(s), m = strlen(sfx);
    while (n && s[n - 1] == '/')
        n--;
    return n >= m && strncmp(s + n - m, sfx, m) == 0;
}

bool ship_otlp_wanted(const char *to)
{
    if (!to)
        return false;
    if (strncmp(to, "otlp://", 7) == 0)
        return true;
    return (strncmp(to, "http://", 7) == 0 || strncmp(to, "https://", 8) == 0) &&
           (ends_with(to, "/v1/traces") || ends_with(to, "/v1/metrics"));
}

static int parse_dest(const char *url, struct dest *d)
{
    bool otlp = strncmp(url, "otlp://", 7) == 0;
    if (strncmp(url, "https://", 8) == 0)
        return cli_misuse(
            "ship: --to %s: https is not supported here (no TLS client in hc-analyze); use a "
            "collector on loopback or a trusted network, or the shim's live push",
            url);
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    size_t nl = colon ? (size_t)(colon - h) : hl;
    d->port = 4318;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end != h + hl || p < 1 || p > 65535)
            return cli_misuse("ship: --to %s: expected a port from 1 to 65535 after ':'", url);
        d->port = (int)p;
    } else if (!otlp) {
        d->port = 80;
    }
    if (!nl || nl >= sizeof d->host || (otlp && slash && slash[1]))
        return cli_misuse("ship: --to %s: expected otlp://HOST[:PORT] or http://HOST[:PORT][/PATH]",
                          url);
    memcpy(d->host, h, nl);
    d->host[nl] = '\0';
    /* The path ends in /v1/traces or /v1/metrics (ship_otlp_wanted): that
     * signal's URL, the other is its sibling. */
    char base[512] = "";
    if (slash && !otlp) {
        size_t pl = strlen(slash);
        while (pl && slash[pl - 1] == '/')
            pl--;
        static const char *const sfx[] = { "/v1/traces", "/v1/metrics" };
        for (int i = 0; i < 2; i++) {
            size_t sl = strlen(sfx[i]);
            if (pl >= sl && strncmp(slash + pl - sl, sfx[i], sl) == 0) {
                pl -= sl;
                break;
            }
        }
        if (pl >= sizeof base - 16)
            return cli_misuse("ship: --to: the URL path is too long");
        memcpy(base, slash, pl);
        base[pl] = '\0';
    }
    snprintf(d->traces, sizeof d->traces, "%s/v1/traces", base);
    snprintf(d->metrics, sizeof d->metrics, "%s/v1/metrics", base);
    return 0;
}

static int post(struct ship *sh, const char *target, const hc_buf *body, const char *what)
{
    int status = 0;
    char err[256] = "";
    hc_buf resp = HC_BUF_INIT;
    int rc = httpc_request(sh->d->host, sh->d->port, "POST", target, sh->headers.data, body->data,
                           body->len, sh->timeout_ms, &status, &resp, err, sizeof err);
    hc_buf_free(&resp);
    if (rc != 0 || status / 100 != 2) {
        fprintf(stderr,
                "hc-analyze: ship: %s to %s:%d%s: %s (%" PRIu64 " spans were sent before)\n", what,
                sh->d->host, sh->d->port, target, rc ? err : "the collector refused it", sh->sent);
        if (!rc)
            fprintf(stderr, "hc-analyze: ship: the collector answered HTTP %d\n", status);
        sh->failed = 1;
        return -1;
    }
    return 0;
}

static int flush_batch(struct ship *sh)
{
    if (!sh->inbatch)
        return 0;
    if (hc_otlp_traces_close(&sh->body) != 0) {
        sh->oom = true;
        return -1;
    }
    if (post(sh, sh->d->traces, &sh->body, "spans") != 0)
        return -1;
    sh->sent += sh->inbatch;
    sh->inbatch = 0;
    hc_buf_reset(&sh->body);
    return 0;
}

static int one(void *ctx, const hc_record *r)
{
    struct ship *sh = ctx;
    hc_otlp_resource res = { .service = "hcshim", .scope = "hcshim.hc-analyze" };
    hc_buf_reset(&sh->span);
    if ((!sh->inbatch && hc_otlp_traces_open(&sh->body, &res) != 0) ||
        hc_otlp_span(&sh->span, r) != 0 || (sh->inbatch && hc_buf_append(&sh->body, ",", 1) != 0) ||
        hc_buf_append(&sh->body, sh->span.data, sh->span.len) != 0) {
        sh->oom = true;
        return 1;
    }
    hc_otlp_metrics_add(sh->m, r);
    if (++sh->inbatch >= sh->batch && flush_batch(sh) != 0)
        return 1;
    return 0;
}

static int parse_opts(int argc, char **argv, ana_ctx *c, const char **to, unsigned long long *batch,
                      int64_t *tmo)
{
    cli_parser p;
    const char *arg;
    int id;
    cli_init(&p, argc, argv, c->cmd);
    while ((id = cli_next(&p, opts, &arg)) != CLI_END) {
        if (id == CLI_ERR)
            return CLI_EXIT_MISUSE;
        if (id == OPT_PRICES || id == OPT_CSV || id == OPT_JSON)
            return cli_misuse("ship: --%s does not apply to --to otlp://", id == OPT_CSV ? "csv"
                                                                           : id == OPT_JSON
                                                                               ? "json"
                                                                               : "prices");
        int h = cli_common(c, id, arg);
        if (h < 0)
            return CLI_EXIT_MISUSE;
        if (h)
            continue;
        if (id == OPT_TO) {
            *to = arg;
        } else if (id == OPT_BATCH) {
            if (cli_parse_u64("--batch", arg, batch))
                return CLI_EXIT_MISUSE;
            if (*batch < 1 || *batch > 100000)
                return cli_misuse("ship: --batch: expected 1..100000 spans, got '%s'", arg);
        } else if (id == OPT_TIMEOUT) {
            if (hc_parse_duration_us(arg, tmo) != 0 || *tmo <= 0 || *tmo > 3600000000LL)
                return cli_misuse(
                    "ship: --timeout: expected a duration like 500ms, 10s or 1m, got '%s'", arg);
        } else if (id == CLI_POS) {
            return cli_misuse("ship: unexpected argument '%s'", arg);
        }
    }
    return 0;
}

int ship_otlp(int argc, char **argv)
{
    ana_ctx c = { .cmd = "ship" };
    const char *to = NULL;
    unsigned long long batch = 512;
    int64_t tmo = 30000000LL;
    int rc = parse_opts(argc, argv, &c, &to, &batch, &tmo), bad = 0;
    hc_store *s = NULL;
    MDB_txn *txn = NULL;
    struct dest d = { 0 };
    struct ship sh = { .d = &d, .batch = (size_t)batch, .timeout_ms = (int)(tmo / 1000) };
    if (rc)
        goto out;
    if (c.help) {
        fputs(usage, stdout);
        goto out;
    }
    if (!to) {
        rc = cli_misuse("ship: --to: expected otlp://HOST[:PORT]");
        goto out;
    }
    if ((rc = parse_dest(to, &d)))
        goto out;
    const char *hv = getenv("OTEL_EXPORTER_OTLP_HEADERS");
    if (hc_buf_puts(&sh.headers, "Content-Type: application/json\r\n") != 0 ||
        (hv && *hv && hc_otlp_parse_headers(hv, &sh.headers, &bad) != 0)) {
        rc = cli_misuse(
            "ship: OTEL_EXPORTER_OTLP_HEADERS: pair %d is not name=value (a %%-encoded value, no "
            "control bytes)",
            bad);
        goto out;
    }
    if (!(sh.m = malloc(sizeof *sh.m))) {
        rc = cli_misuse("ship: out of memory");
        goto out;
    }
    hc_otlp_metrics_init(sh.m, hc_now_us() * 1000);
    if ((rc = cli_open_store(&c, &s)))
        goto out;
    if (hc_store_txn_begin(s, false, &txn)) {
        rc = cli_misuse("%s: cannot start a read transaction", hc_store_path(s));
        goto out;
    }
    query_stats st;
    int qrc = query_scan(txn, hc_store_dbi(s, HC_T_RECORDS), &c.filter, false, one, &sh, &st);
    hc_store_txn_abort(s, txn);
    cli_report_undecodable(&st);
    if (!sh.failed && !sh.oom && !qrc)
        flush_batch(&sh);
    if (!sh.failed && !sh.oom && !qrc && sh.m->records) {
        hc_buf_reset(&sh.body);
        hc_otlp_resource res = { .service = "hcshim", .scope = "hcshim.hc-analyze" };
        if (hc_otlp_metrics_encode(&sh.body, sh.m, &res, hc_now_us() * 1000) != 0)
            sh.oom = true;
        else
            post(&sh, d.metrics, &sh.body, "metrics");
    }
    if (sh.oom)
        rc = cli_misuse("ship: out of memory");
    else if (qrc)
        rc = cli_misuse("%s: reading records failed", hc_store_path(s));
    else if (sh.failed)
        rc = 1;
    else
        fprintf(stderr,
                "hc-analyze: shipped %" PRIu64 " spans and the GenAI metrics over them to %s:%d\n",
                sh.sent, d.host, d.port);
out:
    hc_buf_free(&sh.headers);
    hc_buf_free(&sh.body);
    hc_buf_free(&sh.span);
    free(sh.m);
    cli_close_store(s);
    query_filter_free(&c.filter);
    return rc;
}
