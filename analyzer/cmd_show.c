/* cmd_show.c — `hc-analyze show ID`: one exchange in full.
 *
 * ID is a full record id, a unique prefix or suffix of >= 8 hex digits (the
 * `requests` table shows the last 8: a UUIDv7 starts with its time, shared by
 * records of the same minute), or the Helicone-Request-Id the app set (suffix
 * and request id are looked up by a scan: there is no index on them, and show
 * is interactive, so a scan is fine). Bodies are read from the
 * bodies table only here, for this one record. */
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
    "                     no escaping of control characters)\n"
    CLI_HELP_COMMON;

enum { OPT_RAW = OPT_CMD };

static const cli_opt opts[] = { CLI_COMMON_OPTS, { "raw", 0, false, OPT_RAW }, { 0 } };

struct found {
    const char *want;
    uint8_t     id[HC_UUID_LEN];
    int         n;
};

static int by_request_id(void *ctx, const hc_record *r)
{
    struct found *f = ctx;
    if (strcmp(r->request_id, f->want) == 0) {
        if (f->n == 0)
            memcpy(f->id, r->id, HC_UUID_LEN);
        f->n++;
    }
    return f->n > 1;
}

/* Hex digits of s without dashes into nib[] (one per byte); count, or -1 if not hex. */
static int hex_nibbles(const char *s, uint8_t *nib, int max)
{
    int n = 0;
    for (; *s; s++) {
        if (*s == '-')
            continue;
        if (!isxdigit((unsigned char)*s) || n >= max)
            return -1;
        nib[n++] = (uint8_t)(isdigit((unsigned char)*s) ? *s - '0' : tolower((unsigned char)*s) - 'a' + 10);
    }
    return n;
}

/* Find records whose id starts with the given nibbles. */
static int by_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *nib, int nn, struct found *f)
{
    uint8_t key[HC_UUID_LEN] = { 0 };
    for (int i = 0; i < nn; i++)
        key[i / 2] |= (uint8_t)(i % 2 ? nib[i] : nib[i] << 4);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur))
        return HC_ESTORE;
    MDB_val k = { HC_UUID_LEN, key }, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && f->n < 2 && k.mv_size == HC_UUID_LEN) {
        const uint8_t *id = k.mv_data;
        bool match = true;
        for (int i = 0; i < nn && match; i++)
            match = ((i % 2 ? id[i / 2] & 15 : id[i / 2] >> 4) == nib[i]);
        if (!match)
            break;
        if (f->n == 0)
            memcpy(f->id, id, HC_UUID_LEN);
        f->n++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return 0;
}

/* Find records whose id ends with the given nibbles: the random end of a
 * UUIDv7 (what `requests` shows), where the start is the time and is shared
 * by every record of the same minute. A scan of the keys; stops at two. */
static int by_suffix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *nib, int nn, struct found *f)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur))
        return HC_ESTORE;
    MDB_val k, v;
    int off = 2 * HC_UUID_LEN - nn;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && f->n < 2;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != HC_UUID_LEN)
            continue;
        const uint8_t *id = k.mv_data;
        bool match = true;
        for (int i = 0; i < nn && match; i++) {
            int j = off + i;
            match = ((j % 2 ? id[j / 2] & 15 : id[j / 2] >> 4) == nib[i]);
        }
        if (match) {
            if (f->n == 0)
                memcpy(f->id, id, HC_UUID_LEN);
            f->n++;
        }
    }
    mdb_cursor_close(cur);
    return 0;
}

struct body {
    bool   present, truncated, corrupt;
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

static void field(const char *name, const char *value)
{
    hc_buf b = HC_BUF_INIT;
    fmt_term(&b, value, strlen(value), 0);
    printf("%-18s %s\n", name, b.data);
    hc_buf_free(&b);
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

static void flag_names(uint32_t flags, hc_buf *out)
{
    static const char *const names[] = {
        "stream", "cache_hit", "request_truncated", "response_truncated", "request_omitted",
        "response_omitted", "observed", "blocked", "client_abort", "usage_injected",
        "cache_stored", "rate_limited", "budget_warn", "replayed",
    };
    for (unsigned i = 0; i < 32; i++)
        if (flags & (1u << i)) {
            if (out->len)
                hc_buf_puts(out, ",");
            if (i < sizeof names / sizeof names[0])
                hc_buf_puts(out, names[i]);
            else
                hc_buf_printf(out, "bit%u", i);
        }
    if (!out->data)
        hc_buf_append(out, "", 0);
}

static void print_text_record(const hc_record *r)
{
    char id[HC_UUID_STRLEN + 1], t[40], a[FMT_NUM], b[FMT_NUM];
    hc_buf fl = HC_BUF_INIT;
    hc_uuid_format(r->id, id);
    field("id", id);
    field("time", fmt_time_iso(t, r->start_us));
    fieldf("latency", "%s (ttft %s)", fmt_dur(a, r->latency_us), fmt_dur(b, r->ttft_us));
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
    fieldf("tokens in", "%lld (cached %lld, cache write 5m %lld / 1h %lld)", (long long)r->tok_in,
           (long long)r->tok_cached, (long long)r->tok_cw5m, (long long)r->tok_cw1h);
    fieldf("tokens out", "%lld (reasoning %lld)", (long long)r->tok_out, (long long)r->tok_reasoning);
    if (r->cost_flags & HC_COST_UNPRICED)
        field("cost", "unpriced (model not in the price table)");
    else
        fieldf("cost", "%s (%s USD%s%s%s)", fmt_usd(a, r->cost_nusd), fmt_usd_exact(b, r->cost_nusd),
               r->cost_flags & HC_COST_LONG_CTX ? ", long-context tier" : "",
               r->cost_flags & HC_COST_ESTIMATED ? ", estimated tokens" : "",
               r->cost_flags & HC_COST_NO_USAGE ? ", no usage reported" : "");
    if (r->saved_nusd)
        fieldf("saved", "%s (%s)", fmt_usd(a, r->saved_nusd),
               (r->flags & HC_REC_REPLAYED) ? "replayed from a cassette" : "cache hit");
    flag_names(r->flags, &fl);
    field("flags", fl.data);
    hc_buf_free(&fl);
    fieldf("retries", "%d%s%s", r->retries, *r->attempts ? "  attempts " : "", r->attempts);
    if (r->fallback_idx >= 0)
        fieldf("fallback", "%d", r->fallback_idx);
    if (r->ratelimit_wait_us)
        fieldf("rate-limit wait", "%s", fmt_dur(a, r->ratelimit_wait_us));
    if (*r->budget)
        field("budget", r->budget);
    if (*r->cache_key)
        field("cache key", r->cache_key);
    field("user", r->user);
    if (*r->session_id)
        fieldf("session", "%s %s (%s)", r->session_id, r->session_path, r->session_name);
    if (*r->request_id)
        field("request id", r->request_id);
    fieldf("program", "%s (pid %d)", r->program, r->pid);
    fieldf("bytes", "request %lld, response %lld", (long long)r->req_bytes, (long long)r->resp_bytes);
    uint32_t pos = 0;
    const char *k, *v;
    while (hc_pairs_next(&r->props, &pos, &k, &v)) {
        hc_buf kv = HC_BUF_INIT;
        hc_buf_printf(&kv, "%s = %s", k, v);
        field("property", kv.data);
        hc_buf_free(&kv);
    }
    pos = 0;
    while (hc_pairs_next(&r->ratelimit, &pos, &k, &v)) {
        hc_buf kv = HC_BUF_INIT;
        hc_buf_printf(&kv, "%s: %s", k, v);
        field("rate-limit header", kv.data);
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
    printf(" (%zu bytes%s) ──\n", b->data.len, b->truncated ? ", truncated at the capture bound" : "");
    if (raw) {
        fwrite(b->data.data, 1, b->data.len, stdout);
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
    const char *s = pretty ? pretty : b->data.data;
    size_t n = pretty ? strlen(pretty) : b->data.len;
    hc_buf out = HC_BUF_INIT;
    fmt_term(&out, s, n, FMT_KEEP_NL);
    fputs(out.data, stdout);
    if (out.len && out.data[out.len - 1] != '\n')
        putchar('\n');
    hc_buf_free(&out);
    cJSON_free(pretty);
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

int cmd_show(int argc, char **argv)
{
    ana_ctx c = { .cmd = "show" };
    cli_parser p;
    const char *arg, *want = NULL;
    bool raw = false;
    int id, rc = CLI_EXIT_MISUSE;
    hc_store *s = NULL;
    MDB_txn *txn = NULL;
    struct body req = { .data = HC_BUF_INIT }, resp = { .data = HC_BUF_INIT };
    hc_buf text = HC_BUF_INIT;

    cli_init(&p, argc, argv, c.cmd);
    while ((id = cli_next(&p, opts, &arg)) != CLI_END) {
        if (id == CLI_ERR)
            goto out;
        int h = cli_common(&c, id, arg);
        if (h < 0)
            goto out;
        if (h)
            continue;
        if (id == OPT_RAW)
            raw = true;
        else if (id == CLI_POS) {
            if (want) {
                cli_misuse("show: one ID expected, got '%s' too", arg);
                goto out;
            }
            want = arg;
        }
    }
    if (c.help) {
        fputs(usage, stdout);
        rc = 0;
        goto out;
    }
    if (!want || !*want) {
        cli_misuse("show: expected an ID (record id, prefix or suffix of >= 8 hex digits, or request id)");
        goto out;
    }
    if ((rc = cli_open_store(&c, &s)))
        goto out;
    if (hc_store_txn_begin(s, false, &txn)) {
        rc = cli_misuse("%s: cannot start a read transaction", hc_store_path(s));
        goto out_store;
    }
    MDB_dbi recs = cli_dbi(s, HC_T_RECORDS), bodies = cli_dbi(s, HC_T_BODIES);
    struct found f = { .want = want };
    uint8_t nib[2 * HC_UUID_LEN];
    int nn = hex_nibbles(want, nib, (int)sizeof nib);
    if (nn >= 8)
        by_prefix(txn, recs, nib, nn, &f);
    if (f.n == 0 && nn >= 8 && nn < 2 * HC_UUID_LEN)
        by_suffix(txn, recs, nib, nn, &f);
    if (f.n == 0)
        query_scan(txn, recs, NULL, true, by_request_id, &f, NULL);
    if (f.n == 0) {
        fprintf(stderr, "hc-analyze: show: no record matches '%s'%s\n", want,
                nn >= 0 && nn < 8 ? " (a prefix or suffix needs at least 8 hex digits)" : "");
        rc = CLI_EXIT_NO;
        goto out_txn;
    }
    if (f.n > 1) {
        rc = cli_misuse("show: '%s' matches more than one record; give more digits", want);
        goto out_txn;
    }
    MDB_val k = { HC_UUID_LEN, f.id }, v;
    hc_record r;
    if (mdb_get(txn, recs, &k, &v) != 0 || hc_record_decode(v.mv_data, v.mv_size, &r) != 0) {
        rc = cli_misuse("show: record '%s' could not be decoded", want);
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
        table_cell(t, "id"); table_cell(t, idt);
#define ROWI(name, val) do { snprintf(num, sizeof num, "%lld", (long long)(val)); table_cell(t, name); table_cell(t, num); } while (0)
#define ROWS(name, val) do { table_cell(t, name); table_cell(t, val); } while (0)
        ROWI("start_us", r.start_us); ROWI("latency_us", r.latency_us); ROWI("ttft_us", r.ttft_us);
        ROWS("host", r.host); ROWS("provider", r.provider); ROWS("api", r.api);
        ROWS("method", r.method); ROWS("path", r.path); ROWS("upstream", r.upstream);
        ROWS("model_req", r.model_req); ROWS("model_resp", r.model_resp); ROWI("status", r.status);
        ROWS("error", r.error); ROWI("tok_in", r.tok_in); ROWI("tok_out", r.tok_out);
        ROWI("tok_cached", r.tok_cached); ROWI("tok_cw5m", r.tok_cw5m); ROWI("tok_cw1h", r.tok_cw1h);
        ROWI("tok_reasoning", r.tok_reasoning); ROWI("cost_nusd", r.cost_nusd);
        ROWI("saved_nusd", r.saved_nusd); ROWI("cost_flags", r.cost_flags);
        ROWS("user", r.user); ROWS("session_id", r.session_id); ROWS("session_path", r.session_path);
        ROWS("session_name", r.session_name); ROWS("request_id", r.request_id);
        ROWI("flags", r.flags); ROWI("retries", r.retries); ROWI("fallback_idx", r.fallback_idx);
        ROWS("attempts", r.attempts); ROWI("ratelimit_wait_us", r.ratelimit_wait_us);
        ROWI("pid", r.pid); ROWS("program", r.program); ROWI("req_bytes", r.req_bytes);
        ROWI("resp_bytes", r.resp_bytes); ROWS("cache_key", r.cache_key); ROWS("budget", r.budget);
        uint32_t pos = 0;
        const char *pk, *pv;
        hc_buf name = HC_BUF_INIT;
        while (hc_pairs_next(&r.props, &pos, &pk, &pv)) {
            hc_buf_reset(&name);
            hc_buf_printf(&name, "props.%s", pk);
            ROWS(name.data, pv);
        }
        pos = 0;
        while (hc_pairs_next(&r.ratelimit, &pos, &pk, &pv)) {
            hc_buf_reset(&name);
            hc_buf_printf(&name, "ratelimit.%s", pk);
            ROWS(name.data, pv);
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
        print_text_body("request body", &req, r.flags & HC_REC_REQ_OMITTED, raw);
        print_text_body("response body", &resp, r.flags & HC_REC_RESP_OMITTED, raw);
        if (pieces && kind != HC_STREAM_NONE) {
            printf("\n── response text (reassembled from %s) ──\n", kind_name(kind));
            if (raw)
                fwrite(text.data, 1, text.len, stdout);
            else {
                hc_buf out = HC_BUF_INIT;
                fmt_term(&out, text.data, text.len, FMT_KEEP_NL);
                fputs(out.data, stdout);
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
