/* cmd_export.c — `hc-analyze export`: records as JSON Lines, one JSON
 * document, CSV, or OpenTelemetry spans (OTLP/JSON, GenAI conventions).
 *
 * Oldest first, streamed: nothing but the current record is held in memory.
 * Bodies are read only with --bodies (JSON Lines / JSON).
 *
 * -o FILE: an export holds prompts and answers, so it is private like the
 * store. It is written to a new temporary file next to FILE (mkstemp: mode
 * 0600 whatever FILE's mode was) and renamed over FILE once complete; on any
 * failure the temporary file is removed and FILE is left as it was. */
#include "cli.h"
#include "cmds.h"
#include "fmt.h"
#include "jsonw.h"
#include "recjson.h"
#include "table.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: hc-analyze export [options]\n"
    "\n"
    "Every matching record, oldest first.\n"
    "\n"
    "  --format F         jsonl (default): one JSON object per record, every field;\n"
    "                     json: one document {\"records\": [...]}; csv: one row per\n"
    "                     record; otlp: OpenTelemetry OTLP/JSON resourceSpans, one\n"
    "                     span per exchange (GenAI semantic conventions)\n"
    "  --bodies           jsonl/json: add request_body and response_body\n"
    "  -o, --output FILE  write to FILE instead of stdout (mode 0600: it replaces\n"
    "                     FILE only once complete)\n"
    CLI_HELP_DB
    "  --json, --csv      the same as --format json / --format csv\n"
    "  -h, --help         this help\n"
    CLI_HELP_FILTERS;

enum { OPT_FORMAT = OPT_CMD, OPT_BODIES, OPT_OUTPUT };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS, CLI_FILTER_OPTS,
    { "format", 0, true, OPT_FORMAT }, { "bodies", 0, false, OPT_BODIES }, { "output", 'o', true, OPT_OUTPUT },
    { 0 },
};

enum xfmt { X_JSONL, X_JSON, X_CSV, X_OTLP };

static const table_col csv_cols[] = {
    { "id", "id", 0 }, { "time", "time", 0 }, { "start_us", "start_us", 0 }, { "latency_us", "latency_us", 0 },
    { "ttft_us", "ttft_us", 0 }, { "host", "host", 0 }, { "provider", "provider", 0 }, { "api", "api", 0 },
    { "method", "method", 0 }, { "path", "path", 0 }, { "model_req", "model_req", 0 },
    { "model_resp", "model_resp", 0 }, { "status", "status", 0 }, { "error", "error", 0 },
    { "tok_in", "tok_in", 0 }, { "tok_out", "tok_out", 0 }, { "tok_cached", "tok_cached", 0 },
    { "tok_cw5m", "tok_cw5m", 0 }, { "tok_cw1h", "tok_cw1h", 0 }, { "tok_reasoning", "tok_reasoning", 0 },
    { "cost_nusd", "cost_nusd", 0 }, { "saved_nusd", "saved_nusd", 0 }, { "cost_flags", "cost_flags", 0 },
    { "user", "user", 0 }, { "session_id", "session_id", 0 }, { "session_path", "session_path", 0 },
    { "session_name", "session_name", 0 }, { "request_id", "request_id", 0 }, { "flags", "flags", 0 },
    { "retries", "retries", 0 }, { "fallback_idx", "fallback_idx", 0 }, { "program", "program", 0 },
    { "pid", "pid", 0 }, { "props", "props", 0 }, { "run_id", "run_id", 0 },
};

struct ctx {
    enum xfmt fmt;
    bool      bodies;
    FILE     *f;
    jw        w;
    table    *t;
    MDB_txn  *txn;
    MDB_dbi   bodies_dbi;
    hc_buf    tmp;
    uint64_t  n;
};

static void body_field(struct ctx *x, const hc_record *r, char which, const char *key, const char *tkey)
{
    uint8_t k[HC_UUID_LEN + 1];
    memcpy(k, r->id, HC_UUID_LEN);
    k[HC_UUID_LEN] = (uint8_t)which;
    MDB_val kv = { sizeof k, k }, v;
    bool trunc = false;
    jw_key(&x->w, key);
    hc_buf_reset(&x->tmp);
    if (mdb_get(x->txn, x->bodies_dbi, &kv, &v) == 0 &&
        hc_body_decode(v.mv_data, v.mv_size, &x->tmp, &trunc) == 0)
        jw_strn(&x->w, x->tmp.data ? x->tmp.data : "", x->tmp.len);
    else
        jw_null(&x->w);
    jw_kbool(&x->w, tkey, trunc);
}

static const char *otel_provider(const char *p)
{
    static const char *const map[][2] = {
        { "google", "gcp.gemini" }, { "vertex", "gcp.vertex_ai" }, { "mistral", "mistral_ai" },
        { "xai", "x_ai" }, { "bedrock", "aws.bedrock" }, { "azure", "azure.ai.openai" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(p, map[i][0]) == 0)
            return map[i][1];
    return *p ? p : "_OTHER";
}

static const char *otel_operation(const char *api)
{
    if (strcmp(api, "completions") == 0)
        return "text_completion";
    if (strcmp(api, "embeddings") == 0)
        return "embeddings";
    if (strcmp(api, "gemini") == 0)
        return "generate_content";
    return "chat";
}

static void attr_str(jw *w, const char *k, const char *v)
{
    jw_obj(w);
    jw_kstr(w, "key", k);
    jw_key(w, "value");
    jw_obj(w);
    jw_kstr(w, "stringValue", v);
    jw_obj_end(w);
    jw_obj_end(w);
}

static void attr_int(jw *w, const char *k, int64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, v);
    jw_obj(w);
    jw_kstr(w, "key", k);
    jw_key(w, "value");
    jw_obj(w);
    jw_kstr(w, "intValue", b); /* OTLP/JSON: 64-bit integers are strings */
    jw_obj_end(w);
    jw_obj_end(w);
}

static void attr_double(jw *w, const char *k, double v)
{
    jw_obj(w);
    jw_kstr(w, "key", k);
    jw_key(w, "value");
    jw_obj(w);
    jw_kdouble(w, "doubleValue", v);
    jw_obj_end(w);
    jw_obj_end(w);
}

static void attr_bool(jw *w, const char *k, bool v)
{
    jw_obj(w);
    jw_kstr(w, "key", k);
    jw_key(w, "value");
    jw_obj(w);
    jw_kbool(w, "boolValue", v);
    jw_obj_end(w);
    jw_obj_end(w);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[p[i] >> 4];
        out[2 * i + 1] = h[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Trace id: the session's (so a session's exchanges form one trace), else the record's. */
static void trace_id(const hc_record *r, char out[33])
{
    uint8_t t[16];
    if (!*r->session_id) {
        memcpy(t, r->id, 16);
    } else if (hc_uuid_parse(r->session_id, t) != 0) {
        /* Not a UUID: two FNV-1a passes give 128 stable bits. */
        uint64_t h1 = 1469598103934665603ull, h2 = 0x6c62272e07bb0142ull;
        for (const unsigned char *p = (const unsigned char *)r->session_id; *p; p++) {
            h1 = (h1 ^ *p) * 1099511628211ull;
            h2 = (h2 ^ *p) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
        }
        for (int i = 0; i < 8; i++) {
            t[i] = (uint8_t)(h1 >> (56 - 8 * i));
            t[8 + i] = (uint8_t)(h2 >> (56 - 8 * i));
        }
    }
    hex(t, 16, out);
}

/* n lower-case hex digits, not all zero: a trace or span id as context.h stores them. */
static bool is_otel_id(const char *s, size_t n)
{
    if (!s || strlen(s) != n || strspn(s, "0123456789abcdef") != n)
        return false;
    return strspn(s, "0") != n;
}

static void otlp_span(jw *w, const hc_record *r)
{
    char tid[33], sid[17], b[64], name[320];
    /* A process started under a trace (TRACEPARENT, recorded as the trace_id and
     * parent_span_id properties, core/context.h) puts its spans in that trace,
     * under that span; otherwise the session (or the record) is the trace. */
    const char *ptid = hc_pairs_get(&r->props, "trace_id"), *psid = hc_pairs_get(&r->props, "parent_span_id");
    bool parented = is_otel_id(ptid, 32) && is_otel_id(psid, 16);
    if (parented)
        memcpy(tid, ptid, 33);
    else
        trace_id(r, tid);
    hex(r->id + 8, 8, sid); /* the id's random half: unique, never zero (variant bits) */
    jw_obj(w);
    jw_kstr(w, "traceId", tid);
    jw_kstr(w, "spanId", sid);
    if (parented) {
        jw_kstr(w, "parentSpanId", psid);
        const char *ts = hc_pairs_get(&r->props, "tracestate");
        if (ts && *ts)
            jw_kstr(w, "traceState", ts);
    }
    snprintf(name, sizeof name, "%s %s", otel_operation(r->api), *r->model_req ? r->model_req : r->model_resp);
    jw_kstr(w, "name", name);
    jw_kint(w, "kind", 3); /* SPAN_KIND_CLIENT */
    snprintf(b, sizeof b, "%" PRId64 "000", r->start_us);
    jw_kstr(w, "startTimeUnixNano", b);
    snprintf(b, sizeof b, "%" PRId64 "000", r->start_us + (r->latency_us > 0 ? r->latency_us : 0));
    jw_kstr(w, "endTimeUnixNano", b);
    jw_key(w, "attributes");
    jw_arr(w);
    attr_str(w, "gen_ai.operation.name", otel_operation(r->api));
    attr_str(w, "gen_ai.provider.name", otel_provider(r->provider));
    if (*r->model_req)
        attr_str(w, "gen_ai.request.model", r->model_req);
    if (*r->model_resp)
        attr_str(w, "gen_ai.response.model", r->model_resp);
    attr_int(w, "gen_ai.usage.input_tokens", r->tok_in);
    attr_int(w, "gen_ai.usage.output_tokens", r->tok_out);
    if (r->tok_cached)
        attr_int(w, "gen_ai.usage.cache_read.input_tokens", r->tok_cached);
    if (r->tok_cw5m + r->tok_cw1h)
        attr_int(w, "gen_ai.usage.cache_creation.input_tokens", r->tok_cw5m + r->tok_cw1h);
    if (r->tok_reasoning)
        attr_int(w, "gen_ai.usage.reasoning.output_tokens", r->tok_reasoning);
    if (r->ttft_us >= 0 && (r->flags & HC_REC_STREAM))
        attr_double(w, "gen_ai.response.time_to_first_chunk", (double)r->ttft_us / 1e6); /* seconds */
    if (*r->session_id)
        attr_str(w, "gen_ai.conversation.id", r->session_id);
    if (r->status)
        attr_int(w, "http.response.status_code", r->status);
    if (*r->method)
        attr_str(w, "http.request.method", r->method);
    if (*r->host)
        attr_str(w, "server.address", r->host);
    if (*r->path)
        attr_str(w, "url.path", r->path);
    if (query_is_error(r)) {
        if (r->status)
            snprintf(b, sizeof b, "%d", r->status);
        attr_str(w, "error.type", r->status ? b : "connection_error");
    }
    if (*r->user)
        attr_str(w, "user.id", r->user);
    if (*r->program)
        attr_str(w, "process.executable.name", r->program);
    if (r->pid)
        attr_int(w, "process.pid", r->pid);
    char id[HC_UUID_STRLEN + 1];
    hc_uuid_format(r->id, id);
    attr_str(w, "hcshim.id", id);
    if (*r->run_id)
        attr_str(w, "hcshim.run_id", r->run_id);
    if (!(r->cost_flags & HC_COST_UNPRICED)) {
        attr_int(w, "hcshim.cost_nusd", r->cost_nusd);
        attr_double(w, "hcshim.cost_usd", (double)r->cost_nusd / 1e9);
    } else {
        attr_bool(w, "hcshim.unpriced", true);
    }
    if (r->ttft_us >= 0)
        attr_int(w, "hcshim.ttft_us", r->ttft_us);
    if (r->flags & HC_REC_STREAM)
        attr_bool(w, "hcshim.stream", true);
    if (r->flags & HC_REC_CACHE_HIT)
        attr_bool(w, "hcshim.cache_hit", true);
    if (r->retries)
        attr_int(w, "hcshim.retries", r->retries);
    if (r->fallback_idx >= 0)
        attr_int(w, "hcshim.fallback_index", r->fallback_idx);
    if (*r->session_path)
        attr_str(w, "hcshim.session.path", r->session_path);
    if (*r->session_name)
        attr_str(w, "hcshim.session.name", r->session_name);
    if (*r->request_id)
        attr_str(w, "hcshim.request_id", r->request_id);
    uint32_t pos = 0;
    const char *k, *v;
    while (hc_pairs_next(&r->props, &pos, &k, &v)) {
        char key[256];
        snprintf(key, sizeof key, "hcshim.property.%s", k);
        attr_str(w, key, v);
    }
    jw_arr_end(w);
    jw_key(w, "status");
    jw_obj(w);
    if (query_is_error(r)) {
        jw_kint(w, "code", 2); /* STATUS_CODE_ERROR */
        if (*r->error)
            jw_kstr(w, "message", r->error);
        else {
            snprintf(b, sizeof b, "HTTP %d", r->status);
            jw_kstr(w, "message", b);
        }
    }
    jw_obj_end(w);
    jw_obj_end(w);
}

static void csv_row(struct ctx *x, const hc_record *r)
{
    char id[HC_UUID_STRLEN + 1], t[40], n[32];
    hc_uuid_format(r->id, id);
    table_cell(x->t, id);
    table_cell(x->t, fmt_time_iso(t, r->start_us));
#define I(v) (snprintf(n, sizeof n, "%" PRId64, (int64_t)(v)), table_cell(x->t, n))
    I(r->start_us); I(r->latency_us); I(r->ttft_us);
    table_cell(x->t, r->host); table_cell(x->t, r->provider); table_cell(x->t, r->api);
    table_cell(x->t, r->method); table_cell(x->t, r->path); table_cell(x->t, r->model_req);
    table_cell(x->t, r->model_resp); I(r->status); table_cell(x->t, r->error);
    I(r->tok_in); I(r->tok_out); I(r->tok_cached); I(r->tok_cw5m); I(r->tok_cw1h); I(r->tok_reasoning);
    I(r->cost_nusd); I(r->saved_nusd); I(r->cost_flags);
    table_cell(x->t, r->user); table_cell(x->t, r->session_id); table_cell(x->t, r->session_path);
    table_cell(x->t, r->session_name); table_cell(x->t, r->request_id); I(r->flags); I(r->retries);
    I(r->fallback_idx); table_cell(x->t, r->program); I(r->pid);
#undef I
    /* Properties as one JSON object (lossless, one column). */
    char *mem = NULL;
    size_t memlen = 0;
    FILE *mf = open_memstream(&mem, &memlen);
    if (mf) {
        jw w;
        jw_init(&w, mf, false);
        jw_obj(&w);
        uint32_t pos = 0;
        const char *k, *v;
        while (hc_pairs_next(&r->props, &pos, &k, &v))
            jw_kstr(&w, k, v);
        jw_obj_end(&w);
        fclose(mf);
    }
    table_cell(x->t, mem ? mem : "{}");
    free(mem);
    table_cell(x->t, r->run_id);
}

static int one(void *vctx, const hc_record *r)
{
    struct ctx *x = vctx;
    x->n++;
    switch (x->fmt) {
    case X_JSONL:
    case X_JSON:
        jw_obj(&x->w);
        recjson_fields(&x->w, r);
        if (x->bodies) {
            body_field(x, r, HC_BODY_REQUEST, "request_body", "request_truncated");
            body_field(x, r, HC_BODY_RESPONSE, "response_body", "response_truncated");
        }
        jw_obj_end(&x->w);
        if (x->fmt == X_JSONL)
            jw_end_doc(&x->w);
        break;
    case X_OTLP: otlp_span(&x->w, r); break;
    case X_CSV: csv_row(x, r); break;
    }
    return ferror(x->f) ? 1 : 0;
}

/* The document's head (--json, otlp) or the CSV header. */
static void head(struct ctx *x)
{
    jw_init(&x->w, x->f, false);
    if (x->fmt == X_JSON) {
        jw_obj(&x->w);
        jw_key(&x->w, "records");
        jw_arr(&x->w);
    } else if (x->fmt == X_OTLP) {
        jw_obj(&x->w);
        jw_key(&x->w, "resourceSpans");
        jw_arr(&x->w);
        jw_obj(&x->w);
        jw_key(&x->w, "resource");
        jw_obj(&x->w);
        jw_key(&x->w, "attributes");
        jw_arr(&x->w);
        attr_str(&x->w, "service.name", "hcshim");
        attr_str(&x->w, "telemetry.sdk.name", "hcshim");
        jw_arr_end(&x->w);
        jw_obj_end(&x->w);
        jw_key(&x->w, "scopeSpans");
        jw_arr(&x->w);
        jw_obj(&x->w);
        jw_key(&x->w, "scope");
        jw_obj(&x->w);
        jw_kstr(&x->w, "name", "hcshim.hc-analyze");
        jw_obj_end(&x->w);
        jw_key(&x->w, "spans");
        jw_arr(&x->w);
    } else if (x->fmt == X_CSV) {
        x->t = table_new(x->f, CLI_CSV, csv_cols, sizeof csv_cols / sizeof csv_cols[0]);
    }
}

/* The document's tail, after the last record. */
static void tail(struct ctx *x, const query_stats *st)
{
    if (x->fmt == X_JSON) {
        jw_arr_end(&x->w);
        jw_kuint(&x->w, "count", x->n);
        jw_kuint(&x->w, "undecodable", st->undecodable);
        jw_obj_end(&x->w);
        jw_end_doc(&x->w);
    } else if (x->fmt == X_OTLP) {
        jw_arr_end(&x->w);
        jw_obj_end(&x->w);
        jw_arr_end(&x->w);
        jw_obj_end(&x->w);
        jw_arr_end(&x->w);
        jw_obj_end(&x->w);
        jw_end_doc(&x->w);
    } else if (x->fmt == X_CSV) {
        table_end(x->t);
    }
}

struct args {
    struct ctx *x;
    const char *output; /* -o FILE, or NULL for stdout */
    char       *tmp;    /* the new file next to it, renamed over it at the end */
};

static int own(void *self, int id, const char *arg)
{
    struct args *a = self;
    struct ctx *x = a->x;
    if (id == OPT_JSON || id == OPT_CSV) {
        x->fmt = id == OPT_JSON ? X_JSON : X_CSV;
        return 1; /* shared: applied by cli_common() too */
    }
    if (id == OPT_FORMAT) {
        if (strcmp(arg, "jsonl") == 0) x->fmt = X_JSONL;
        else if (strcmp(arg, "json") == 0) x->fmt = X_JSON;
        else if (strcmp(arg, "csv") == 0) x->fmt = X_CSV;
        else if (strcmp(arg, "otlp") == 0) x->fmt = X_OTLP;
        else
            return cli_misuse("--format: expected jsonl, json, csv or otlp, got '%s'", arg);
    } else if (id == OPT_BODIES) {
        x->bodies = true;
    } else if (id == OPT_OUTPUT) {
        if (!*arg)
            return cli_misuse("-o: expected a file name, got ''");
        a->output = arg;
    } else {
        return 1;
    }
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

/* The store is open: the output file, then the document's head. */
static int begin(void *self, cli_scan *sc)
{
    struct args *a = self;
    struct ctx *x = a->x;
    x->f = stdout;
    if (a->output) {
        /* A new file next to FILE, 0600 (mkstemp), renamed over FILE at the end. */
        size_t n = strlen(a->output) + sizeof ".tmpXXXXXX";
        int ofd = -1, e = ENOMEM;
        if ((a->tmp = malloc(n))) {
            snprintf(a->tmp, n, "%s.tmpXXXXXX", a->output);
            ofd = mkostemp(a->tmp, O_CLOEXEC);
            e = errno;
        }
        if (ofd >= 0 && (fchmod(ofd, 0600) != 0 || !(x->f = fdopen(ofd, "w"))))
            e = errno;
        if (ofd < 0 || !x->f) {
            if (ofd >= 0) {
                close(ofd);
                unlink(a->tmp);
            }
            x->f = NULL;
            return cli_misuse("-o: %s: %s", a->output, strerror(e));
        }
    }
    x->txn = sc->txn;
    x->bodies_dbi = hc_store_dbi(sc->s, HC_T_BODIES);
    head(x);
    return 0;
}

static int one_rec(void *self, const hc_record *r)
{
    return one(((struct args *)self)->x, r);
}

int cmd_export(int argc, char **argv)
{
    ana_ctx c = { .cmd = "export" };
    struct ctx x = { .fmt = X_JSONL, .tmp = HC_BUF_INIT };
    struct args a = { .x = &x };
    cli_scan sc = { .on_record = one_rec, .self = &a, .begin = begin };
    int rc = cli_parse(&c, &cmd, argc, argv, &a);
    if (rc || c.help)
        goto out;
    if (x.bodies && (x.fmt == X_CSV || x.fmt == X_OTLP)) {
        rc = cli_misuse("--bodies: only with --format jsonl or json");
        goto out;
    }
    rc = cli_scan_run(&c, &sc);
    if (!sc.begun)
        goto out;
    tail(&x, &sc.st);
    if (rc == 0 && (fflush(x.f) != 0 || ferror(x.f)))
        rc = cli_misuse("%s: write error: %s", a.output ? a.output : "stdout", strerror(errno));
    if (a.output) {
        if (fclose(x.f) != 0 && rc == 0)
            rc = cli_misuse("-o: %s: %s", a.output, strerror(errno));
        if (rc == 0 && rename(a.tmp, a.output) != 0)
            rc = cli_misuse("-o: %s: %s", a.output, strerror(errno));
        if (rc != 0)
            unlink(a.tmp);
        else
            fprintf(stderr, "hc-analyze: exported %" PRIu64 " records to %s\n", x.n, a.output);
    }
out:
    free(a.tmp);
    hc_buf_free(&x.tmp);
    query_filter_free(&c.filter);
    return rc;
}
