/* cmd_serve.c — `hc-analyze serve`: the dashboard as a live local web view.
 *
 * DESIGN
 * A single-threaded HTTP server (httpd.h) over the store opened read-only
 * once. Every request reads a fresh snapshot: a new LMDB read transaction,
 * ended before the response is sent, so records written meanwhile by
 * running programs appear at the next poll and no reader slot is held
 * between requests. Filters given on the command line are re-resolved per
 * request, so "--since 1h" is a sliding window; query parameters add more
 * filters (ANDed).
 *
 * Endpoints (GET/HEAD; JSON is UTF-8 with '<', '>', '&' escaped):
 *   /                   the page (webpage.h, live mode), polling /api/dashboard
 *   /api/dashboard      the dashboard document (dashboard.h); ?by_property=, ?bucket=, ?limit=
 *   /api/summary        totals (the summary object of `report --json`)
 *   /api/timeseries     the series; ?bucket=auto|minute|hour|day|week|month
 *   /api/requests       newest rows; ?limit= (default 50)
 *   /api/request/ID     one exchange with its prompt and response (ID as `show`
 *                       takes it: UUID, a unique prefix or suffix of >= 8 hex
 *                       digits such as a table's ID column, or a request id;
 *                       filters not applied)
 * Every endpoint but /api/request/ID takes the shared filters as parameters
 * (since, until, where=K=V, model, user, session, status, cache, provider,
 * run; repeatable ones may repeat; property=K=V is where=K=V as on the
 * command line, and only that). Unknown parameters are a 400.
 *
 * Exposure: the dashboard shows every prompt and response, so it binds to
 * loopback and refuses another --bind unless --allow-remote is given. On
 * loopback it serves only its own user: a connection whose other end is a
 * socket of another uid (the kernel's socket table says whose) gets a 403
 * before a byte is read (httpd_owner_only); no token to leak or type. Against DNS rebinding (a
 * web page whose host name resolves to 127.0.0.1 reading the API), requests must name the
 * server in their Host header (127.0.0.1, localhost, [::1] or the bind address), else
 * 421; --allow-remote lifts that too. No CORS headers are sent.
 *
 * A /api/dashboard answer is kept for reuse while the store's transaction id
 * is unchanged (and for at most CACHE_MS, for sliding time windows), so an
 * idle page polling every 2 s costs one lookup, not a scan. Excerpts of
 * prompts are cached by record id (records never change).
 *
 * SIGINT and SIGTERM stop the loop; the command then exits 0.
 */
#include "cli.h"
#include "clock.h"
#include "cmds.h"
#include "dashboard.h"
#include "err.h"
#include "httpd.h"
#include "jsonw.h"
#include "metrics.h"
#include "webpage.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char usage[] =
    "usage: hc-analyze serve [--port N] [--bind ADDR] [options]\n"
    "\n"
    "A local web dashboard over the live store: the same views as `html`, updated\n"
    "every 2 seconds while programs record, and the JSON endpoints behind them\n"
    "(/api/dashboard, /api/summary, /api/timeseries, /api/requests,\n"
    "/api/request/ID), and Prometheus metrics at /metrics (whole store, not\n"
    "filtered). Prints \"serving on http://ADDR:PORT/\"; Ctrl-C stops it.\n"
    "\n"
    "  --port N           TCP port (default 8484; 0 = any free port)\n"
    "  --bind ADDR        numeric address to listen on (default 127.0.0.1; ::1 works)\n"
    "  --allow-remote     allow a non-loopback --bind (everyone who can connect sees\n"
    "                     every prompt and response: there is no authentication);\n"
    "                     without it, other users of this machine are refused "
    "(403)\n" DASH_HELP_OPTS CLI_HELP_DB "  -h, --help         this help\n"
    "  (--json and --csv are refused, exit 2: serve prints only its address; the\n"
    "  endpoints under /api/ answer JSON)\n" CLI_HELP_FILTERS "\n"
    "Relative times (--since 1h) slide: they are resolved at every request.\n";

enum { OPT_PORT = OPT_CMD, OPT_BIND, OPT_ALLOW_REMOTE };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    DASH_CLI_OPTS,
    { "port", 0, true, OPT_PORT },
    { "bind", 0, true, OPT_BIND },
    { "allow-remote", 0, false, OPT_ALLOW_REMOTE },
    { 0 },
};

#define DEFAULT_PORT      8484
#define DEFAULT_API_LIMIT 50
#define CACHE_SLOTS       4
#define CACHE_MS          10000
#define MAX_PARAMS        64

struct cached {
    char *target; /* path + query */
    uint64_t txn;
    int64_t at_ms;
    hc_buf body;
};

struct server {
    hc_store *s;
    const dash_terms *terms;
    dash_opts o;
    dash_cache *excerpts;
    char host[64]; /* the bind address as a Host value ("127.0.0.1", "[::1]") */
    unsigned port;
    bool allow_remote;
    struct cached cache[CACHE_SLOTS];
    unsigned next_slot;
};

/* One request's query parameters, decoded; they back the request's filter. */
struct params {
    hc_buf name[MAX_PARAMS], value[MAX_PARAMS];
    int n;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static bool is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

/* ---- responses ------------------------------------------------------------------------ */

/* Run fn into a JSON body (through the HTML-safe stream). */
typedef int (*json_fn)(jw *w, void *arg, char *err, size_t errlen);

static int json_body(httpd_resp *rs, json_fn fn, void *arg, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return HC_ENOMEM;
    FILE *j = webpage_json_stream(f);
    int rc = HC_ENOMEM;
    if (j) {
        jw w;
        jw_init(&w, j, false);
        rc = fn(&w, arg, err, errlen);
        jw_end_doc(&w);
        if (fclose(j) != 0 && !rc)
            rc = HC_ENOMEM;
    }
    if (fclose(f) != 0 && !rc)
        rc = HC_ENOMEM;
    hc_buf_reset(&rs->body);
    if (!rc) {
        rs->content_type = "application/json; charset=utf-8";
        if (hc_buf_append(&rs->body, buf, len))
            rc = HC_ENOMEM;
    }
    free(buf);
    return rc;
}

static int write_error(jw *w, void *msg, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    jw_obj(w);
    jw_kstr(w, "error", msg);
    jw_obj_end(w);
    return 0;
}

/* {"error": msg} with the status. */
static void json_error(httpd_resp *rs, int status, const char *msg)
{
    rs->status = json_body(rs, write_error, (void *)msg, NULL, 0) ? 500 : status;
}

/* ---- requests ------------------------------------------------------------------------- */

static bool host_ok(const struct server *sv, const httpd_req *rq)
{
    if (sv->allow_remote)
        return true;
    const hc_header *h = hc_http_header(rq->head, "Host");
    if (!h)
        return true; /* HTTP/1.0 without Host (1.1 without it was refused by httpd) */
    static const char *const names[] = { "127.0.0.1", "localhost", "[::1]" };
    char port[16];
    int pl = snprintf(port, sizeof port, ":%u", sv->port);
    for (size_t i = 0; i < sizeof names / sizeof names[0] + 1; i++) {
        const char *n = i < sizeof names / sizeof names[0] ? names[i] : sv->host;
        size_t nl = strlen(n);
        if (h->value_len >= nl && strncasecmp(h->value, n, nl) == 0 &&
            (h->value_len == nl ||
             (h->value_len == nl + (size_t)pl && memcmp(h->value + nl, port, (size_t)pl) == 0)))
            return true;
    }
    return false;
}

static bool path_is(const httpd_req *rq, const char *p)
{
    return rq->path_len == strlen(p) && memcmp(rq->path, p, rq->path_len) == 0;
}

static void params_free(struct params *p)
{
    for (int i = 0; i < p->n; i++) {
        hc_buf_free(&p->name[i]);
        hc_buf_free(&p->value[i]);
    }
    p->n = 0;
}

/* Decode the query. 0, or a 400 message in err. */
static int params_parse(const httpd_req *rq, struct params *p, char *err, size_t errlen)
{
    size_t pos = 0;
    for (;;) {
        if (p->n == MAX_PARAMS) {
            snprintf(err, errlen, "at most %d query parameters", MAX_PARAMS);
            return HC_ETOOBIG;
        }
        int rc = httpd_query_next(rq->query, rq->query_len, &pos, &p->name[p->n], &p->value[p->n]);
        if (rc == 0)
            return 0;
        p->n++;
        if (rc < 0) {
            snprintf(err, errlen, "malformed query string");
            return rc;
        }
    }
}

/* What one API request asked for. */
struct ask {
    struct server *sv;
    dash_src src;
    dash_opts o;
    enum dash_unit unit;
    uint64_t limit;
    const char *id;
};

static int do_dashboard(jw *w, void *a, char *err, size_t errlen)
{
    struct ask *k = a;
    return dash_document(w, &k->src, &k->o, NULL, err, errlen);
}

static int do_summary(jw *w, void *a, char *err, size_t errlen)
{
    struct ask *k = a;
    (void)err;
    (void)errlen;
    return dash_summary(w, &k->src);
}

static int do_series(jw *w, void *a, char *err, size_t errlen)
{
    struct ask *k = a;
    return dash_series(w, &k->src, k->unit, err, errlen);
}

static int do_requests(jw *w, void *a, char *err, size_t errlen)
{
    struct ask *k = a;
    (void)err;
    (void)errlen;
    return dash_requests(w, &k->src, k->limit, k->sv->o.body_max);
}

static int do_request(jw *w, void *a, char *err, size_t errlen)
{
    struct ask *k = a;
    (void)err;
    (void)errlen;
    return dash_request(w, &k->src, k->id, k->sv->o.body_max);
}

enum { EP_DASHBOARD, EP_SUMMARY, EP_SERIES, EP_REQUESTS, EP_REQUEST };

/* Apply the query parameters of endpoint ep to k and the request filter f.
 * 0, or a 400 message in err. */
static int apply_params(struct ask *k, int ep, const struct params *p, query_filter *f, char *err,
                        size_t errlen)
{
    static const char *const filters[] = { "since",   "until",  "where", "model",    "user",
                                           "session", "status", "cache", "provider", "run" };
    int64_t now = hc_now_us();
    for (int i = 0; i < p->n; i++) {
        const char *n = p->name[i].data, *v = p->value[i].data;
        bool is_filter = false;
        for (size_t j = 0; j < sizeof filters / sizeof filters[0]; j++)
            is_filter |= strcmp(n, filters[j]) == 0;
        if (strcmp(n, "property") == 0) {
            if (!strchr(v, '=')) {
                snprintf(err, errlen,
                         "property: expected NAME=VALUE (a filter), got '%s'; the breakdown is "
                         "by_property=NAME",
                         v);
                return HC_EINVAL;
            }
            n = "where"; /* property=K=V is the filter where=K=V, as on the command line */
            is_filter = true;
        }
        if (is_filter && ep != EP_REQUEST) {
            char e[256];
            if (query_filter_set(f, n, v, now, e, sizeof e)) {
                snprintf(err, errlen, "%s: %s", n, e);
                return HC_EINVAL;
            }
        } else if (strcmp(n, "by_property") == 0 && ep == EP_DASHBOARD) {
            k->o.property = *v ? v : k->sv->o.property; /* empty: the default */
        } else if (strcmp(n, "bucket") == 0 && (ep == EP_DASHBOARD || ep == EP_SERIES)) {
            if (dash_parse_unit(v, &k->unit)) {
                snprintf(err, errlen,
                         "bucket: expected auto, minute, hour, day, week or month, got '%s'", v);
                return HC_EINVAL;
            }
            k->o.unit = k->unit;
        } else if (strcmp(n, "limit") == 0 && (ep == EP_DASHBOARD || ep == EP_REQUESTS)) {
            char *end;
            errno = 0;
            unsigned long long l = strtoull(v, &end, 10);
            if (!isdigit((unsigned char)*v) || *end || errno) {
                snprintf(err, errlen, "limit: expected a non-negative integer, got '%s'", v);
                return HC_EINVAL;
            }
            k->limit = k->o.limit = l;
        } else {
            snprintf(err, errlen, "unknown parameter '%s'", n);
            return HC_EINVAL;
        }
    }
    return 0;
}

static struct cached *cache_find(struct server *sv, const httpd_req *rq, uint64_t txn)
{
    int64_t now = hc_mono_us() / 1000;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        struct cached *c = &sv->cache[i];
        size_t tl = rq->path_len + 1 + rq->query_len;
        if (c->target && c->txn == txn && now - c->at_ms < CACHE_MS && strlen(c->target) == tl &&
            memcmp(c->target, rq->path, rq->path_len) == 0 && c->target[rq->path_len] == '?' &&
            memcmp(c->target + rq->path_len + 1, rq->query, rq->query_len) == 0)
            return c;
    }
    return NULL;
}

static void cache_put(struct server *sv, const httpd_req *rq, uint64_t txn, const hc_buf *body)
{
    struct cached *c = &sv->cache[sv->next_slot++ % CACHE_SLOTS];
    free(c->target);
    hc_buf_reset(&c->body);
    size_t tl = rq->path_len + 1 + rq->query_len;
    if (!(c->target = malloc(tl + 1)) || hc_buf_append(&c->body, body->data, body->len)) {
        free(c->target);
        c->target = NULL;
        return;
    }
    memcpy(c->target, rq->path, rq->path_len);
    c->target[rq->path_len] = '?';
    memcpy(c->target + rq->path_len + 1, rq->query, rq->query_len);
    c->target[tl] = '\0';
    c->txn = txn;
    c->at_ms = hc_mono_us() / 1000;
}

static void api(struct server *sv, int ep, const char *id, const httpd_req *rq, httpd_resp *rs)
{
    static const json_fn fns[] = { do_dashboard, do_summary, do_series, do_requests, do_request };
    struct params p = { .n = 0 };
    query_filter f1, f2;
    char err[512] = "";
    MDB_txn *txn = NULL;
    memset(&f1, 0, sizeof f1);
    memset(&f2, 0, sizeof f2);
    struct ask k = {
        .sv = sv, .o = sv->o, .unit = DASH_AUTO, .limit = DEFAULT_API_LIMIT, .id = id
    };
    if (params_parse(rq, &p, err, sizeof err) || apply_params(&k, ep, &p, &f2, err, sizeof err) ||
        dash_terms_filter(sv->terms, hc_now_us(), &f1, err, sizeof err)) {
        json_error(rs, 400, err);
        goto out;
    }
    if (hc_store_txn_begin(sv->s, false, &txn)) {
        json_error(rs, 503, "cannot start a read transaction on the store");
        goto out;
    }
    uint64_t tid = (uint64_t)mdb_txn_id(txn);
    struct cached *c = ep == EP_DASHBOARD ? cache_find(sv, rq, tid) : NULL;
    if (c) {
        rs->content_type = "application/json; charset=utf-8";
        hc_buf_append(&rs->body, c->body.data, c->body.len);
        goto out;
    }
    k.src = (dash_src){
        .txn = txn,
        .recs = hc_store_dbi(sv->s, HC_T_RECORDS),
        .bodies = hc_store_dbi(sv->s, HC_T_BODIES),
        .store = hc_store_path(sv->s),
        .f1 = &f1,
        .f2 = &f2,
        .terms = sv->terms,
        .cache = sv->excerpts,
    };
    int rc = json_body(rs, fns[ep], &k, err, sizeof err);
    if (rc == HC_ENOTFOUND)
        json_error(rs, 404,
                   "no record has this id (give a full id or a unique prefix of >= 8 hex digits)");
    else if (rc == HC_ETOOBIG)
        json_error(rs, 400, err);
    else if (rc)
        json_error(rs, 500, err[0] ? err : hc_strerror(rc));
    else if (ep == EP_DASHBOARD)
        cache_put(sv, rq, tid, &rs->body);
out:
    if (txn)
        hc_store_txn_abort(sv->s, txn);
    query_filter_free(&f1);
    query_filter_free(&f2);
    params_free(&p);
}

static void page(httpd_resp *rs)
{
    char *buf = NULL, csp[600];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = f ? webpage_write(f, WEBPAGE_LIVE, NULL, NULL) : HC_ENOMEM;
    if (f)
        fclose(f);
    if (rc) {
        rs->status = 500;
    } else {
        rs->content_type = "text/html; charset=utf-8";
        hc_buf_append(&rs->body, buf, len);
        hc_buf_printf(&rs->headers, "Content-Security-Policy: %s; frame-ancestors 'none'\r\n",
                      webpage_csp(WEBPAGE_LIVE, csp, sizeof csp));
    }
    free(buf);
}

/* Prometheus text exposition of the whole store (metrics.h). */
static void metrics(struct server *sv, httpd_resp *rs)
{
    MDB_txn *txn = NULL;
    if (hc_store_txn_begin(sv->s, false, &txn)) {
        rs->status = 503;
        hc_buf_puts(&rs->body, "cannot start a read transaction on the store\n");
        return;
    }
    if (metrics_write(txn, hc_store_dbi(sv->s, HC_T_RECORDS), &rs->body)) {
        hc_buf_reset(&rs->body);
        rs->status = 500;
        hc_buf_puts(&rs->body, "reading the records failed\n");
    } else {
        rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    }
    hc_store_txn_abort(sv->s, txn);
}

static void handle(void *ctx, const httpd_req *rq, httpd_resp *rs)
{
    struct server *sv = ctx;
    static const struct {
        const char *path;
        int ep;
    } eps[] = {
        { "/api/dashboard", EP_DASHBOARD },
        { "/api/summary", EP_SUMMARY },
        { "/api/timeseries", EP_SERIES },
        { "/api/requests", EP_REQUESTS },
    };
    static const char rprefix[] = "/api/request/";
    if (!host_ok(sv, rq)) {
        rs->status = 421;
        hc_buf_puts(&rs->body, "421 Misdirected Request: the Host header does not name this server "
                               "(use http://127.0.0.1:PORT/, or --allow-remote)\n");
        return;
    }
    if (path_is(rq, "/") || path_is(rq, "/index.html")) {
        page(rs); /* its query string is passed on to /api/dashboard by the page */
        return;
    }
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++)
        if (path_is(rq, eps[i].path)) {
            api(sv, eps[i].ep, NULL, rq, rs);
            return;
        }
    size_t pl = sizeof rprefix - 1;
    if (rq->path_len > pl && rq->path_len < pl + 64 && memcmp(rq->path, rprefix, pl) == 0) {
        char id[64];
        memcpy(id, rq->path + pl, rq->path_len - pl);
        id[rq->path_len - pl] = '\0';
        api(sv, EP_REQUEST, id, rq, rs);
        return;
    }
    if (path_is(rq, "/metrics")) {
        metrics(sv, rs);
        return;
    }
    if (rq->path_len >= 5 && memcmp(rq->path, "/api/", 5) == 0) {
        json_error(rs, 404, "no such endpoint (see hc-analyze serve -h)");
        return;
    }
    rs->status = 404;
    hc_buf_puts(&rs->body, "404 Not Found\n");
}

struct args {
    struct server *sv;
    dash_terms *terms;
    const char *bind_addr;
    unsigned long long port;
};

static int own(void *self, int id, const char *arg)
{
    struct args *a = self;
    int h;
    if (dash_terms_add(a->terms, id, arg) < 0 || (h = dash_cli_opt(&a->sv->o, id, arg)) < 0)
        return CLI_EXIT_MISUSE;
    if (h)
        return 0;
    if (id == OPT_PORT) {
        if (cli_parse_u64("--port", arg, &a->port))
            return CLI_EXIT_MISUSE;
        if (a->port > 65535)
            return cli_misuse("--port: expected 0..65535, got '%s'", arg);
    } else if (id == OPT_BIND) {
        a->bind_addr = strcmp(arg, "localhost") == 0 ? "127.0.0.1" : arg;
    } else if (id == OPT_ALLOW_REMOTE) {
        a->sv->allow_remote = true;
    } else {
        return 1;
    }
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_serve(int argc, char **argv)
{
    ana_ctx c = { .cmd = "serve", .property_name = true };
    dash_terms terms = { .n = 0 };
    struct server sv;
    memset(&sv, 0, sizeof sv);
    int rc;
    httpd *h = NULL;

    dash_opts_init(&sv.o);
    struct args a = { &sv, &terms, "127.0.0.1", DEFAULT_PORT };
    rc = cli_parse(&c, &cmd, argc, argv, &a);
    if (rc || c.help)
        goto out;
    rc = CLI_EXIT_MISUSE;
    if (c.fmt != CLI_TEXT) {
        cli_misuse(c.fmt == CLI_JSON
                       ? "serve: --json does not apply: serve runs a web server and prints nothing "
                         "but its address; its endpoints under /api/ answer JSON"
                       : "serve: --csv does not apply: serve runs a web server and prints nothing "
                         "but its address; its endpoints answer HTML and JSON, not CSV");
        goto out;
    }
    if (!is_loopback(a.bind_addr) && !sv.allow_remote) {
        cli_misuse("serve: --bind %s is not a loopback address; the dashboard shows every prompt "
                   "and response "
                   "without authentication, so add --allow-remote to serve it beyond this machine",
                   a.bind_addr);
        goto out;
    }
    if ((rc = cli_open_store(&c, &sv.s)))
        goto out;
    char err[512];
    if (httpd_open(a.bind_addr, (unsigned)a.port, &h, err, sizeof err)) {
        rc = cli_misuse("serve: --bind/--port: %s", err);
        goto out_store;
    }
    /* Loopback is shared by every user of the machine: serve only our own. */
    httpd_owner_only(h, is_loopback(a.bind_addr) && !sv.allow_remote);
    sv.terms = &terms;
    sv.port = httpd_port(h);
    snprintf(sv.host, sizeof sv.host, strchr(a.bind_addr, ':') ? "[%s]" : "%s", a.bind_addr);
    if (!(sv.excerpts = dash_cache_new(sv.o.limit ? 2 * sv.o.limit : 100000))) {
        rc = cli_misuse("serve: out of memory");
        goto out_httpd;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() must return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (sv.allow_remote && !is_loopback(a.bind_addr))
        cli_warn("serving %s to the network without authentication", hc_store_path(sv.s));
    printf("serving on http://%s:%u/\n", sv.host, sv.port);
    fflush(stdout);
    rc = httpd_run(h, handle, &sv, &stop_flag) ? cli_misuse("serve: poll failed") : 0;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        free(sv.cache[i].target);
        hc_buf_free(&sv.cache[i].body);
    }
    dash_cache_free(sv.excerpts);
out_httpd:
    httpd_close(h);
out_store:
    cli_close_store(sv.s);
out:
    query_filter_free(&c.filter);
    return rc;
}
