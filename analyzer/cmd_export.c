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
#include "otlp.h"
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
    "                     FILE only once complete)\n" CLI_HELP_DB
    "  --json, --csv      the same as --format json / --format csv\n"
    "  -h, --help         this help\n" CLI_HELP_FILTERS;

enum { OPT_FORMAT = OPT_CMD, OPT_BODIES, OPT_OUTPUT };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    { "format", 0, true, OPT_FORMAT },
    { "bodies", 0, false, OPT_BODIES },
    { "output", 'o', true, OPT_OUTPUT },
    { 0 },
};

enum xfmt { X_JSONL, X_JSON, X_CSV, X_OTLP };

static const table_col csv_cols[] = {
    { "id", "id", 0 },
    { "time", "time", 0 },
    { "start_us", "start_us", 0 },
    { "latency_us", "latency_us", 0 },
    { "ttft_us", "ttft_us", 0 },
    { "host", "host", 0 },
    { "provider", "provider", 0 },
    { "api", "api", 0 },
    { "method", "method", 0 },
    { "path", "path", 0 },
    { "model_req", "model_req", 0 },
    { "model_resp", "model_resp", 0 },
    { "status", "status", 0 },
    { "error", "error", 0 },
    { "tok_in", "tok_in", 0 },
    { "tok_out", "tok_out", 0 },
    { "tok_cached", "tok_cached", 0 },
    { "tok_cw5m", "tok_cw5m", 0 },
    { "tok_cw1h", "tok_cw1h", 0 },
    { "tok_reasoning", "tok_reasoning", 0 },
    { "cost_nusd", "cost_nusd", 0 },
    { "saved_nusd", "saved_nusd", 0 },
    { "cost_flags", "cost_flags", 0 },
    { "user", "user", 0 },
    { "session_id", "session_id", 0 },
    { "session_path", "session_path", 0 },
    { "session_name", "session_name", 0 },
    { "request_id", "request_id", 0 },
    { "flags", "flags", 0 },
    { "retries", "retries", 0 },
    { "fallback_idx", "fallback_idx", 0 },
    { "program", "program", 0 },
    { "pid", "pid", 0 },
    { "props", "props", 0 },
    { "run_id", "run_id", 0 },
};

struct ctx {
    enum xfmt fmt;
    bool bodies;
    FILE *f;
    jw w;
    table *t;
    MDB_txn *txn;
    MDB_dbi bodies_dbi;
    hc_buf tmp;
    uint64_t n;
    bool oom;       /* a span could not be encoded (out of memory) */
    uint64_t spans; /* spans written (otlp), for the separating commas */
};

static void body_field(struct ctx *x, const hc_record *r, char which, const char *key,
                       const char *tkey)
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

/* One span, by the shared encoder (common/otlp.h); spans separated by commas. */
static void otlp_span(struct ctx *x, const hc_record *r)
{
    hc_buf_reset(&x->tmp);
    if (hc_otlp_span(&x->tmp, r) != 0) {
        x->oom = true;
        return;
    }
    if (x->spans++)
        fputc(',', x->f);
    fwrite(fmt_built(&x->tmp), 1, x->tmp.len, x->f);
}

static void csv_row(struct ctx *x, const hc_record *r)
{
    char id[HC_UUID_STRLEN + 1], t[40], n[32];
    hc_uuid_format(r->id, id);
    table_cell(x->t, id);
    table_cell(x->t, fmt_time_iso(t, r->start_us));
#define I(v) (snprintf(n, sizeof n, "%" PRId64, (int64_t)(v)), table_cell(x->t, n))
    I(r->start_us);
    I(r->latency_us);
    I(r->ttft_us);
    table_cell(x->t, r->host);
    table_cell(x->t, r->provider);
    table_cell(x->t, r->api);
    table_cell(x->t, r->method);
    table_cell(x->t, r->path);
    table_cell(x->t, r->model_req);
    table_cell(x->t, r->model_resp);
    I(r->status);
    table_cell(x->t, r->error);
    I(r->tok_in);
    I(r->tok_out);
    I(r->tok_cached);
    I(r->tok_cw5m);
    I(r->tok_cw1h);
    I(r->tok_reasoning);
    I(r->cost_nusd);
    I(r->saved_nusd);
    I(r->cost_flags);
    table_cell(x->t, r->user);
    table_cell(x->t, r->session_id);
    table_cell(x->t, r->session_path);
    table_cell(x->t, r->session_name);
    table_cell(x->t, r->request_id);
    I(r->flags);
    I(r->retries);
    I(r->fallback_idx);
    table_cell(x->t, r->program);
    I(r->pid);
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
    case X_OTLP: otlp_span(x, r); break;
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
        hc_otlp_resource res = { .service = "hcshim", .scope = "hcshim.hc-analyze" };
        hc_buf_reset(&x->tmp);
        if (hc_otlp_traces_open(&x->tmp, &res) != 0)
            x->oom = true;
        else
            fwrite(fmt_built(&x->tmp), 1, x->tmp.len, x->f);
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
        fputs("]}]}]}\n", x->f); /* hc_otlp_traces_close */
    } else if (x->fmt == X_CSV) {
        table_end(x->t);
    }
}

struct args {
    struct ctx *x;
    const char *output; /* -o FILE, or NULL for stdout */
    char *tmp;          /* the new file next to it, renamed over it at the end */
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
        if (strcmp(arg, "jsonl") == 0)
            x->fmt = X_JSONL;
        else if (strcmp(arg, "json") == 0)
            x->fmt = X_JSON;
        else if (strcmp(arg, "csv") == 0)
            x->fmt = X_CSV;
        else if (strcmp(arg, "otlp") == 0)
            x->fmt = X_OTLP;
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
    if (rc == 0 && x.oom) /* an OTLP span or the document's head could not be encoded */
        rc = cli_misuse("export: out of memory");
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
