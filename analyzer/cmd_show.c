/* cmd_show.c — `hc-analyze show ID`: one exchange in full.
 *
 * ID is a full record id, a unique prefix or suffix of >= 8 hex digits (the
 * `requests` table shows the last 8: a UUIDv7 starts with its time, shared by
 * records of the same minute), or the Helicone-Request-Id the app set (suffix
 * and request id are looked up by a scan: there is no index on them, and show
 * is interactive, so a scan is fine). Bodies are read from the
 * bodies table only here, for this one record. */
#include "agg.h"
#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "fmt.h"
#include "jsonw.h"
#include "reassemble.h"
#include "recjson.h"
#include "reprice.h"
#include "table.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: hc-analyze show [options] ID\n"
    "\n"
    "Every field of one exchange, then the prompt (request body), the response\n"
    "body and, for a streamed response, the reassembled answer text.\n"
    "ID: a full record id, a unique prefix or suffix of at least 8 hex digits\n"
    "(the ID column of `requests` is the last 8), or the Helicone-Request-Id\n"
    "the app set.\n"
    "\n"
    "  --raw              print bodies byte for byte (no JSON pretty-printing,\n"
    "                     no escaping of control characters)\n" CLI_HELP_COMMON;

enum { OPT_RAW = OPT_CMD };

static const cli_opt opts[] = { CLI_COMMON_OPTS, { "raw", 0, false, OPT_RAW }, { 0 } };

struct body {
    bool present, truncated, corrupt;
    hc_buf data;
};

static void load_body(MDB_txn *txn, MDB_dbi dbi, const uint8_t *id, char which, struct body *b)
{
    uint8_t key[HC_UUID_LEN + 1];
    memcpy(key, id, HC_UUID_LEN);
    key[HC_UUID_LEN] = (uint8_t)which;
    MDB_val k = { sizeof key, key }, v;
    if (mdb_get(txn, dbi, &k, &v) != 0)
        return;
    b->present = true;
    if (hc_body_decode(v.mv_data, v.mv_size, &b->data, &b->truncated) != 0) {
        b->corrupt = true;
        hc_buf_reset(&b->data);
    }
    if (!b->data.data)
        hc_buf_append(&b->data, "", 0);
}

/* One "name  value" line; an empty value reads "—" (not a blank). */
static void field(const char *name, const char *value)
{
    hc_buf b = HC_BUF_INIT;
    fmt_term(&b, value, strlen(value), 0);
    printf("%-18s %s\n", name, *fmt_built(&b) ? b.data : "—");
    hc_buf_free(&b);
}

/* "429:0,429:612,200:1350" as "1: 429 · 2: 429 after 612 ms · 3: 200 after 1.35 s". */
static void attempts_text(const char *s, hc_buf *out)
{
    int n = 0;
    while (*s) {
        char *end;
        long st = strtol(s, &end, 10);
        long long wait = *end == ':' ? strtoll(end + 1, &end, 10) : 0;
        char d[FMT_NUM];
        if (st == 0)
            hc_buf_printf(out, "%s%d: no answer", n ? " · " : "", n + 1);
        else
            hc_buf_printf(out, "%s%d: %ld", n ? " · " : "", n + 1, st);
        if (n && wait > 0)
            hc_buf_printf(out, " after %s", fmt_dur(d, wait * 1000));
        n++;
        const char *comma = strchr(end, ',');
        if (!comma)
            break;
        s = comma + 1;
    }
    if (!out->data)
        hc_buf_append(out, "", 0);
}

static void fieldf(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fieldf(const char *name, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    field(name, buf);
}

static void print_text_record(const hc_record *r)
{
    char id[HC_UUID_STRLEN + 1], t[40], a[FMT_NUM], b[FMT_NUM];
    hc_buf fl = HC_BUF_INIT;
    hc_uuid_format(r->id, id);
    field("id", id);
    field("time", fmt_time_iso(t, r->start_us));
    if (r->ttft_us >= 0)
        fieldf("latency", "%s (first token after %s)", fmt_dur(a, r->latency_us),
               fmt_dur(b, r->ttft_us));
    else
        fieldf("latency", "%s", fmt_dur(a, r->latency_us));
    if (*r->run_id)
        field("run", r->run_id);
    field("provider", r->provider);
    field("api", r->api);
    field("host", r->host);
    fieldf("request", "%s %s", r->method, r->path);
    field("upstream", r->upstream);
    field("model requested", r->model_req);
    field("model answered", r->model_resp);
    fieldf("status", "%d", r->status);
    if (*r->error)
        field("error", r->error);
    /* Prompt-cache writes exist only at Anthropic (and whoever reports them). */
    if (r->tok_cw5m || r->tok_cw1h || strcmp(r->provider, "anthropic") == 0)
        fieldf("tokens in", "%lld (cached %lld, cache write 5m %lld / 1h %lld)",
               (long long)r->tok_in, (long long)r->tok_cached, (long long)r->tok_cw5m,
               (long long)r->tok_cw1h);
    else
        fieldf("tokens in", "%lld (cached %lld)", (long long)r->tok_in, (long long)r->tok_cached);
    if (r->tok_reasoning)
        fieldf("tokens out", "%lld (reasoning %lld)", (long long)r->tok_out,
               (long long)r->tok_reasoning);
    else
        fieldf("tokens out", "%lld", (long long)r->tok_out);
    if (r->cost_flags & HC_COST_UNPRICED)
        field("cost", "unpriced (model not in the price table)");
    else
        fieldf("cost", "%s (%s USD%s%s%s%s)", fmt_usd(a, r->cost_nusd),
               fmt_usd_exact(b, r->cost_nusd),
               r->cost_flags & HC_COST_LONG_CTX ? ", long-context tier" : "",
               r->cost_flags & HC_COST_PEAK ? ", peak hours" : "",
               r->cost_flags & HC_COST_ESTIMATED ? ", estimated tokens" : "",
               r->cost_flags & HC_COST_NO_USAGE ? ", no usage reported" : "");
    if (r->saved_nusd)
        fieldf("saved", "%s (%s)", fmt_usd(a, r->saved_nusd),
               (r->flags & HC_REC_REPLAYED) ? "replayed from a cassette" : "cache hit");
    field("flags", agg_flag_names(r->flags, &fl) == 0 ? fl.data : "(out of memory)");
    hc_buf_free(&fl);
    static const char *const limit_names[] = { "", AGG_LIMIT_NAMES };
    enum agg_limit lim = agg_limit_of(r);
    if (lim != AGG_LIMIT_NONE)
        field("limit", limit_names[lim]);
    fieldf("retries", "%d", r->retries);
    if (*r->attempts) {
        hc_buf at = HC_BUF_INIT;
        attempts_text(r->attempts, &at);
        field("attempts", fmt_built(&at));
        hc_buf_free(&at);
    }
    if (r->fallback_idx >= 0)
        fieldf("fallback", "%d", r->fallback_idx);
    if (r->ratelimit_wait_us)
        fieldf("rate-limit wait", "%s", fmt_dur(a, r->ratelimit_wait_us));
    if (*r->budget)
        field("budget", r->budget);
    if (*r->response_id)
        field("response id", r->response_id);
    if (*r->finish_reasons)
        field("finish", r->finish_reasons);
    if (*r->cache_key)
        field("cache key", r->cache_key);
    field("user", r->user);
    if (*r->session_id)
        fieldf("session", "%s%s%s%s%s%s", r->session_id, *r->session_path ? " " : "",
               r->session_path, *r->session_name ? " (" : "", r->session_name,
               *r->session_name ? ")" : "");
    if (*r->request_id)
        field("request id", r->request_id);
    fieldf("program", "%s (pid %d)", r->program, r->pid);
    fieldf("bytes", "request %lld, response %lld", (long long)r->req_bytes,
           (long long)r->resp_bytes);
    uint32_t pos = 0;
    const char *k, *v;
    while (hc_pairs_next(&r->props, &pos, &k, &v)) {
        hc_buf kv = HC_BUF_INIT;
        hc_buf_printf(&kv, "%s = %s", k, v);
        field("property", fmt_built(&kv));
        hc_buf_free(&kv);
    }
    pos = 0;
    while (hc_pairs_next(&r->ratelimit, &pos, &k, &v)) {
        hc_buf kv = HC_BUF_INIT;
        hc_buf_printf(&kv, "%s: %s", k, v);
        field("rate-limit header", fmt_built(&kv));
        hc_buf_free(&kv);
    }
}

static void print_text_body(const char *title, const struct body *b, bool omitted, bool raw)
{
    printf("\n── %s", title);
    if (!b->present) {
        printf(" ── %s\n", omitted ? "(omitted by Helicone-Omit-*)" : "(not stored)");
        return;
    }
    if (b->corrupt) {
        printf(" ── (stored body is corrupt)\n");
        return;
    }
    printf(" (%zu bytes%s) ──\n", b->data.len,
           b->truncated ? ", truncated at the capture bound" : "");
    if (raw) {
        fwrite(fmt_built(&b->data), 1, b->data.len, stdout);
        if (b->data.len && b->data.data[b->data.len - 1] != '\n')
            putchar('\n');
        return;
    }
    char *pretty = NULL;
    cJSON *doc = cJSON_ParseWithLength(b->data.data, b->data.len);
    if (doc) {
        pretty = cJSON_Print(doc);
        cJSON_Delete(doc);
    }
    /* cJSON indents with tabs (and puts one after each ':'): two spaces per
     * level and one after ':', as everywhere else. */
    hc_buf spaced = HC_BUF_INIT;
    if (pretty) {
        for (const char *q = pretty; *q; q++)
            if (*q == '\t')
                hc_buf_puts(&spaced, q > pretty && q[-1] == ':' ? " " : "  ");
            else
                hc_buf_append(&spaced, q, 1);
        cJSON_free(pretty);
        pretty = NULL;
    }
    const char *s = spaced.data ? fmt_built(&spaced) : fmt_built(&b->data);
    size_t n = spaced.data ? spaced.len : b->data.len;
    hc_buf out = HC_BUF_INIT;
    fmt_term(&out, s, n, FMT_KEEP_NL);
    fputs(fmt_built(&out), stdout);
    if (out.len && out.data[out.len - 1] != '\n')
        putchar('\n');
    hc_buf_free(&out);
    hc_buf_free(&spaced);
}

static const char *kind_name(enum hc_stream_kind k)
{
    switch (k) {
    case HC_STREAM_SSE: return "SSE events";
    case HC_STREAM_NDJSON: return "NDJSON lines";
    case HC_STREAM_JSON_ARRAY: return "JSON array elements";
    default: return "the response";
    }
}

struct args {
    const char *want; /* the ID asked for */
    bool raw;
};

static int own(void *self, int id, const char *arg)
{
    struct args *a = self;
    if (id == OPT_RAW) {
        a->raw = true;
        return 0;
    }
    if (id != CLI_POS)
        return 1;
    if (a->want)
        return cli_misuse("show: one ID expected, got '%s' too", arg);
    a->want = arg;
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_show(int argc, char **argv)
{
    ana_ctx c = { .cmd = "show" };
    struct args a = { 0 };
    int rc;
    hc_store *s = NULL;
    MDB_txn *txn = NULL;
    struct body req = { .data = HC_BUF_INIT }, resp = { .data = HC_BUF_INIT };
    hc_buf text = HC_BUF_INIT;

    rc = cli_parse(&c, &cmd, argc, argv, &a);
    if (rc || c.help)
        goto out;
    rc = CLI_EXIT_MISUSE;
    if (!a.want || !*a.want) {
        cli_misuse(
            "show: expected an ID (record id, prefix or suffix of >= 8 hex digits, or request id)");
        goto out;
    }
    if ((rc = cli_open_store(&c, &s)))
        goto out;
    if (hc_store_txn_begin(s, false, &txn)) {
        rc = cli_misuse("%s: cannot start a read transaction", hc_store_path(s));
        goto out_store;
    }
    MDB_dbi recs = hc_store_dbi(s, HC_T_RECORDS), bodies = hc_store_dbi(s, HC_T_BODIES);
    struct {
        uint8_t id[HC_UUID_LEN];
        int n;
    } f;
    int nn;
    f.n = query_find_id(txn, recs, a.want, f.id, &nn);
    if (f.n == 0) {
        fprintf(stderr, "hc-analyze: show: no record matches '%s'%s\n", a.want,
                nn >= 0 && nn < 8 ? " (a prefix or suffix needs at least 8 hex digits)" : "");
        rc = CLI_EXIT_NO;
        goto out_txn;
    }
    if (f.n > 1) {
        rc = cli_misuse("show: '%s' matches more than one record; give more digits", a.want);
        goto out_txn;
    }
    MDB_val k = { HC_UUID_LEN, f.id }, v;
    hc_record r;
    if (mdb_get(txn, recs, &k, &v) != 0 || hc_record_decode(v.mv_data, v.mv_size, &r) != 0) {
        rc = cli_misuse("show: record '%s' could not be decoded", a.want);
        goto out_txn;
    }
    memcpy(r.id, f.id, HC_UUID_LEN);
    if (reprice_on_read)
        reprice_record(&r);
    load_body(txn, bodies, r.id, HC_BODY_REQUEST, &req);
    load_body(txn, bodies, r.id, HC_BODY_RESPONSE, &resp);
    enum hc_stream_kind kind = HC_STREAM_NONE;
    int pieces = 0;
    if (resp.present && !resp.corrupt && resp.data.len)
        pieces = reassemble_text(resp.data.data, resp.data.len, r.path, &text, &kind);
    if (pieces < 0)
        pieces = 0;

    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        recjson_fields(&w, &r);
        jw_key(&w, "request_body");
        if (req.present && !req.corrupt)
            jw_strn(&w, req.data.data, req.data.len);
        else
            jw_null(&w);
        jw_kbool(&w, "request_truncated", req.truncated);
        jw_key(&w, "response_body");
        if (resp.present && !resp.corrupt)
            jw_strn(&w, resp.data.data, resp.data.len);
        else
            jw_null(&w);
        jw_kbool(&w, "response_truncated", resp.truncated);
        jw_key(&w, "response_text");
        if (pieces)
            jw_strn(&w, text.data, text.len);
        else
            jw_null(&w);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else if (c.fmt == CLI_CSV) {
        /* Two columns, field and value: the JSON form flattened. */
        static const table_col cols[] = { { "FIELD", "field", 0 }, { "VALUE", "value", 0 } };
        table *t = table_new(stdout, CLI_CSV, cols, 2);
        char idt[HC_UUID_STRLEN + 1], num[FMT_NUM];
        hc_uuid_format(r.id, idt);
        table_cell(t, "id");
        table_cell(t, idt);
#define ROWI(name, val) \
    do { \
        snprintf(num, sizeof num, "%lld", (long long)(val)); \
        table_cell(t, name); \
        table_cell(t, num); \
    } while (0)
#define ROWS(name, val) \
    do { \
        table_cell(t, name); \
        table_cell(t, val); \
    } while (0)
        ROWI("start_us", r.start_us);
        ROWI("latency_us", r.latency_us);
        ROWI("ttft_us", r.ttft_us);
        ROWS("host", r.host);
        ROWS("provider", r.provider);
        ROWS("api", r.api);
        ROWS("method", r.method);
        ROWS("path", r.path);
        ROWS("upstream", r.upstream);
        ROWS("model_req", r.model_req);
        ROWS("model_resp", r.model_resp);
        ROWI("status", r.status);
        ROWS("error", r.error);
        ROWI("tok_in", r.tok_in);
        ROWI("tok_out", r.tok_out);
        ROWI("tok_cached", r.tok_cached);
        ROWI("tok_cw5m", r.tok_cw5m);
        ROWI("tok_cw1h", r.tok_cw1h);
        ROWI("tok_reasoning", r.tok_reasoning);
        ROWI("cost_nusd", r.cost_nusd);
        ROWI("saved_nusd", r.saved_nusd);
        ROWI("cost_flags", r.cost_flags);
        ROWS("user", r.user);
        ROWS("session_id", r.session_id);
        ROWS("session_path", r.session_path);
        ROWS("session_name", r.session_name);
        ROWS("request_id", r.request_id);
        ROWI("flags", r.flags);
        ROWI("retries", r.retries);
        ROWI("fallback_idx", r.fallback_idx);
        ROWS("attempts", r.attempts);
        ROWI("ratelimit_wait_us", r.ratelimit_wait_us);
        ROWI("pid", r.pid);
        ROWS("program", r.program);
        ROWI("req_bytes", r.req_bytes);
        ROWI("resp_bytes", r.resp_bytes);
        ROWS("cache_key", r.cache_key);
        ROWS("budget", r.budget);
        uint32_t pos = 0;
        const char *pk, *pv;
        hc_buf name = HC_BUF_INIT;
        while (hc_pairs_next(&r.props, &pos, &pk, &pv)) {
            hc_buf_reset(&name);
            hc_buf_printf(&name, "props.%s", pk);
            ROWS(fmt_built(&name), pv);
        }
        pos = 0;
        while (hc_pairs_next(&r.ratelimit, &pos, &pk, &pv)) {
            hc_buf_reset(&name);
            hc_buf_printf(&name, "ratelimit.%s", pk);
            ROWS(fmt_built(&name), pv);
        }
        hc_buf_free(&name);
        ROWS("request_body", req.present ? req.data.data : "");
        ROWS("response_body", resp.present ? resp.data.data : "");
        ROWS("response_text", pieces ? text.data : "");
#undef ROWI
#undef ROWS
        table_end(t);
    } else {
        print_text_record(&r);
        print_text_body("request body", &req, r.flags & HC_REC_REQ_OMITTED, a.raw);
        print_text_body("response body", &resp, r.flags & HC_REC_RESP_OMITTED, a.raw);
        if (pieces && kind != HC_STREAM_NONE) {
            printf("\n── response text (reassembled from %s) ──\n", kind_name(kind));
            if (a.raw)
                fwrite(fmt_built(&text), 1, text.len, stdout);
            else {
                hc_buf out = HC_BUF_INIT;
                fmt_term(&out, text.data, text.len, FMT_KEEP_NL);
                fputs(fmt_built(&out), stdout);
                hc_buf_free(&out);
            }
            putchar('\n');
        }
    }
    rc = 0;
out_txn:
    hc_store_txn_abort(s, txn);
out_store:
    cli_close_store(s);
out:
    hc_buf_free(&text);
    hc_buf_free(&req.data);
    hc_buf_free(&resp.data);
    query_filter_free(&c.filter);
    return rc;
}
