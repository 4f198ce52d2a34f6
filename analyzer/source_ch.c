/* source_ch.c — records read back from ClickHouse into a temporary store
 * (see source_ch.h for the design). */
#include "source_ch.h"
#include "batch.h"
#include "cli.h"
#include "err.h"
#include "record.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Rows per page, and the most of one answer kept (a page cut there is asked
 * again with fewer rows). */
#define PAGE_ROWS  5000
#define PAGE_BYTES (256u << 20)

/* The columns read, in order; strings as hex() so bytes travel exactly. */
static const char columns[] =
    "id, start_us, latency_us, ttft_us, hex(host), hex(provider), hex(api), hex(method), hex(path),"
    " hex(upstream), hex(model_req), hex(model_resp), status, hex(error), tok_in, tok_out, "
    "tok_cached,"
    " tok_cw5m, tok_cw1h, tok_reasoning, cost_nusd, saved_nusd, cost_flags,"
    " arrayStringConcat(arrayMap(x -> hex(x), props.name), ','),"
    " arrayStringConcat(arrayMap(x -> hex(x), props.value), ','),"
    " hex(user), hex(session_id), hex(session_path), hex(session_name), hex(request_id), flags, "
    "retries,"
    " fallback_idx, hex(attempts),"
    " arrayStringConcat(arrayMap(x -> hex(x), ratelimit.name), ','),"
    " arrayStringConcat(arrayMap(x -> hex(x), ratelimit.value), ','),"
    " ratelimit_wait_us, pid, hex(program), req_bytes, resp_bytes, hex(cache_key), hex(budget), "
    "hex(run_id),"
    " hex(response_id), hex(finish_reasons),"
    " arrayStringConcat(arrayMap(x -> hex(x), req_params.name), ','),"
    " arrayStringConcat(arrayMap(x -> hex(x), req_params.value), ','),"
    " has_bodies, if(has_bodies != 0, hex(req_body), ''), if(has_bodies != 0, hex(resp_body), '')";
enum { NCOLS = 51, COL_HAS_BODIES = 48 };
#define AFTER_MAX 512 /* the last id read (ids are UUID text; others are kept whole up to this) */

/* ---- the WHERE clause ---- */

/* A string literal the server reads back byte for byte: unhex('…'). */
static int lit(hc_buf *o, const char *s)
{
    int rc = hc_buf_puts(o, "unhex('");
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++)
        rc = hc_buf_printf(o, "%02X", *p);
    return rc ? rc : hc_buf_puts(o, "')");
}

/* A glob fnmatch(pat, s, 0) treats exactly as LIKE does after * → %, ? → _:
 * no brackets, backslashes or LIKE's own metacharacters. */
static bool glob_likeable(const char *pat)
{
    return !strpbrk(pat, "[]\\%_'");
}

static int where_models(const query_filter *f, hc_buf *o, bool *exact)
{
    if (!f->n_models)
        return 0;
    for (int i = 0; i < f->n_models; i++)
        if (!glob_likeable(f->models[i])) {
            *exact = false;
            return 0; /* filtered on the client only */
        }
    int rc = hc_buf_puts(o, " AND (");
    for (int i = 0; i < f->n_models && !rc; i++) {
        char like[300];
        size_t n = 0;
        for (const char *p = f->models[i]; *p && n + 1 < sizeof like; p++)
            like[n++] = *p == '*' ? '%' : *p == '?' ? '_' : *p;
        like[n] = '\0';
        rc = hc_buf_printf(
            o,
            "%s(model_req != '' AND model_req LIKE '%s') OR (model_resp != '' AND model_resp "
            "LIKE '%s')",
            i ? " OR " : "", like, like);
    }
    return rc ? rc : hc_buf_puts(o, ")");
}

static int where_lists(const query_filter *f, hc_buf *o, bool *exact)
{
    int rc = 0;
    if (f->n_providers) {
        rc = hc_buf_puts(o, " AND lower(provider) IN (");
        for (int i = 0; i < f->n_providers && !rc; i++) {
            char low[128];
            size_t n = 0;
            for (const char *p = f->providers[i]; *p && n + 1 < sizeof low; p++)
                low[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            low[n] = '\0';
            if (!(rc = hc_buf_puts(o, i ? ", " : "")))
                rc = lit(o, low);
        }
        if (!rc)
            rc = hc_buf_puts(o, ")");
    }
    if (!rc && f->n_status) {
        rc = hc_buf_puts(o, " AND (");
        for (int i = 0; i < f->n_status && !rc; i++) {
            const query_status *s = &f->status[i];
            rc = s->lo < 0 ? hc_buf_printf(o, "%s(status >= 400 OR status <= 0)", i ? " OR " : "")
                           : hc_buf_printf(o, "%s(status >= %d AND status <= %d)", i ? " OR " : "",
                                           s->lo, s->hi);
        }
        if (!rc)
            rc = hc_buf_puts(o, ")");
    }
    for (int i = 0; i < f->n_where && !rc; i++) {
        if (!(rc = hc_buf_puts(o, " AND indexOf(props.name, ")) && !(rc = lit(o, f->where_k[i])) &&
            !(rc = hc_buf_puts(o, ") > 0 AND props.value[indexOf(props.name, ")) &&
            !(rc = lit(o, f->where_k[i])) && !(rc = hc_buf_puts(o, ")] = ")))
            rc = lit(o, f->where_v[i]);
    }
    return rc ? rc : where_models(f, o, exact);
}

int source_ch_where(const query_filter *f, const char *run_last, hc_buf *o, bool *exact)
{
    bool ignored;
    exact = exact ? exact : &ignored;
    *exact = true;
    int rc = hc_buf_puts(o, "1");
    if (!f || rc)
        return rc;
    if (f->has_since)
        rc = hc_buf_printf(o, " AND start_us >= %" PRId64, f->since_us);
    if (!rc && f->has_until)
        rc = hc_buf_printf(o, " AND start_us < %" PRId64, f->until_us);
    const char *run = f->run_last ? run_last : f->run;
    if (!rc && run && *run && !(rc = hc_buf_puts(o, " AND run_id = ")))
        rc = lit(o, run);
    if (!rc && f->run_last && run_last && !*run_last)
        rc = hc_buf_puts(o, " AND 0");
    if (!rc && f->user && !(rc = hc_buf_puts(o, " AND user = ")))
        rc = lit(o, f->user);
    if (!rc && f->session && !(rc = hc_buf_puts(o, " AND session_id = ")))
        rc = lit(o, f->session);
    if (!rc && f->cache)
        rc = hc_buf_puts(o, f->cache == 1 ? " AND bitAnd(flags, 2) != 0"
                                          : " AND bitAnd(flags, 2) = 0");
    return rc ? rc : where_lists(f, o, exact);
}

int source_ch_last_run(const ch_dest *d, char *out, size_t size, char *err, size_t errlen)
{
    char sql[512];
    hc_buf a = { 0 };
    snprintf(sql, sizeof sql,
             "SELECT run_id FROM %s.hc_records FINAL WHERE run_id != '' ORDER BY id DESC LIMIT 1 "
             "FORMAT TSVRaw",
             d->db);
    int rc = ch_exec(d, NULL, sql, strlen(sql), 0, &a, err, errlen);
    out[0] = '\0';
    if (rc == 0 && a.data)
        snprintf(out, size, "%.*s", (int)strcspn(a.data, "\n"), a.data);
    hc_buf_free(&a);
    return rc;
}

/* ---- decoding one row ---- */

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

/* Decode hex text [p, p+n) in place (the result is at most half as long,
 * NUL-terminated). Returns p, or NULL if it is not hex. */
static char *unhex(char *p, size_t n)
{
    if (n % 2)
        return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int h = hexval((unsigned char)p[2 * i]), l = hexval((unsigned char)p[2 * i + 1]);
        if (h < 0 || l < 0)
            return NULL;
        p[i] = (char)(h << 4 | l);
    }
    p[n / 2] = '\0';
    return p;
}

/* The next ','-separated field of *p (empty fields kept), or NULL at the end. */
static char *next_field(char **p)
{
    char *f = *p;
    if (!f)
        return NULL;
    char *c = strchr(f, ',');
    *p = c ? c + 1 : NULL;
    if (c)
        *c = '\0';
    return f;
}

/* Two comma-joined hex lists (names, values; as many of each) into a pairs
 * list. An empty names list is no pair. */
static int pairs_from(char *names, char *values, hc_buf *out)
{
    hc_buf_reset(out);
    char *pn = *names ? names : NULL, *pv = values;
    for (char *n; (n = next_field(&pn)) != NULL;) {
        char *v = next_field(&pv);
        char *dn = unhex(n, strlen(n)), *dv = v ? unhex(v, strlen(v)) : NULL;
        if (!dn || !dv || hc_pairs_add(out, dn, dv))
            return HC_EPARSE;
    }
    return pv && *names ? HC_EPARSE : 0;
}

struct row {
    char *col[NCOLS];
    hc_buf props, rl, params, enc, req, resp;
};

static int64_t num(const char *s)
{
    return strtoll(s, NULL, 10);
}

static int str(char *s, const char **out)
{
    *out = unhex(s, strlen(s));
    return *out ? 0 : HC_EPARSE;
}

/* Columns → hc_record (strings point into the row). */
static int row_record(struct row *w, hc_record *r)
{
    char **c = w->col;
    hc_record_init(r);
    if (hc_uuid_parse(c[0], r->id) != 0)
        return HC_EPARSE;
    r->start_us = num(c[1]), r->latency_us = num(c[2]), r->ttft_us = num(c[3]);
    const char **s1[] = { &r->host, &r->provider, &r->api,       &r->method,
                          &r->path, &r->upstream, &r->model_req, &r->model_resp };
    int rc = 0;
    for (int i = 0; i < 8 && !rc; i++)
        rc = str(c[4 + i], s1[i]);
    r->status = (int32_t)num(c[12]);
    rc = rc ? rc : str(c[13], &r->error);
    int64_t *n1[] = { &r->tok_in,   &r->tok_out,       &r->tok_cached, &r->tok_cw5m,
                      &r->tok_cw1h, &r->tok_reasoning, &r->cost_nusd,  &r->saved_nusd };
    for (int i = 0; i < 8; i++)
        *n1[i] = num(c[14 + i]);
    r->cost_flags = (uint32_t)num(c[22]);
    rc = rc ? rc : pairs_from(c[23], c[24], &w->props);
    r->props = (hc_pairs){ w->props.data, (uint32_t)w->props.len };
    const char **s2[] = { &r->user, &r->session_id, &r->session_path, &r->session_name,
                          &r->request_id };
    for (int i = 0; i < 5 && !rc; i++)
        rc = str(c[25 + i], s2[i]);
    r->flags = (uint32_t)num(c[30]), r->retries = (int32_t)num(c[31]),
    r->fallback_idx = (int32_t)num(c[32]);
    rc = rc ? rc : str(c[33], &r->attempts);
    rc = rc ? rc : pairs_from(c[34], c[35], &w->rl);
    r->ratelimit = (hc_pairs){ w->rl.data, (uint32_t)w->rl.len };
    r->ratelimit_wait_us = num(c[36]), r->pid = (int32_t)num(c[37]);
    rc = rc ? rc : str(c[38], &r->program);
    r->req_bytes = num(c[39]), r->resp_bytes = num(c[40]);
    const char **s3[] = { &r->cache_key, &r->budget, &r->run_id, &r->response_id,
                          &r->finish_reasons };
    for (int i = 0; i < 5 && !rc; i++)
        rc = str(c[41 + i], s3[i]);
    rc = rc ? rc : pairs_from(c[46], c[47], &w->params);
    r->req_params = (hc_pairs){ w->params.data, (uint32_t)w->params.len };
    return rc;
}

/* A shipped body ('' = none stored) into a body blob; *has 0 when none. */
static int row_body(char *hex, bool trunc, hc_buf *out, int *has)
{
    size_t n = strlen(hex);
    hc_buf_reset(out);
    *has = n > 0;
    if (!n)
        return 0;
    char *b = unhex(hex, n);
    return b ? hc_body_encode(b, n / 2, trunc, out) : HC_EPARSE;
}

/* Decode one line into the batch. */
static int add_row(char *line, struct row *w, batch *b, char *last_id)
{
    int n = 0;
    for (char *p = line, *t; n < NCOLS; p = t + 1) {
        w->col[n++] = p;
        if (!(t = strchr(p, '\t')))
            break;
        *t = '\0';
    }
    snprintf(last_id, AFTER_MAX, "%s", w->col[0]);
    if (n != NCOLS)
        return HC_EPARSE;
    hc_record r;
    int rc = row_record(w, &r), hq = 0, hr = 0;
    if (!rc && num(w->col[COL_HAS_BODIES]))
        rc = row_body(w->col[COL_HAS_BODIES + 1], r.flags & HC_REC_REQ_TRUNC, &w->req, &hq);
    if (!rc && num(w->col[COL_HAS_BODIES]))
        rc = row_body(w->col[COL_HAS_BODIES + 2], r.flags & HC_REC_RESP_TRUNC, &w->resp, &hr);
    hc_buf_reset(&w->enc);
    if (!rc)
        rc = hc_record_encode(&r, &w->enc);
    if (!rc)
        rc = batch_add(b, r.id, w->enc.data, w->enc.len, hq ? w->req.data : NULL, w->req.len,
                       hr ? w->resp.data : NULL, w->resp.len);
    return rc;
}

/* ---- filling the spool ---- */

static int fetch_page(const ch_dest *d, const char *where, const char *after, size_t rows,
                      hc_buf *ans, char *err, size_t errlen)
{
    hc_buf sql = { 0 };
    int rc = hc_buf_printf(&sql, "SELECT %s FROM %s.hc_records FINAL WHERE (%s) AND id > ", columns,
                           d->db, where);
    if (!rc)
        rc = lit(&sql, after); /* as hex: an id is data, never SQL */
    if (!rc)
        rc = hc_buf_printf(&sql, " ORDER BY id LIMIT %zu FORMAT TabSeparated", rows);
    hc_buf_reset(ans);
    if (!rc)
        rc = ch_exec(d, NULL, sql.data, sql.len, PAGE_BYTES, ans, err, errlen);
    hc_buf_free(&sql);
    return rc;
}

/* Pages of rows into b; *got the rows read, *bad those that could not be
 * decoded (skipped, as a local scan skips an undecodable record). */
static int copy_rows(const ch_dest *d, const char *where, batch *b, uint64_t *got, uint64_t *bad,
                     char *err, size_t errlen)
{
    char after[AFTER_MAX] = "";
    hc_buf ans = { 0 };
    struct row w;
    memset(&w, 0, sizeof w);
    size_t rows = PAGE_ROWS;
    int rc;
    for (;;) {
        if ((rc = fetch_page(d, where, after, rows, &ans, err, errlen)) != 0)
            break;
        if (ans.len >= PAGE_BYTES) { /* cut: ask for fewer rows */
            rc = HC_ETOOBIG;
            snprintf(err, errlen, "one record is larger than %u MiB", PAGE_BYTES >> 20);
            if (rows == 1)
                break;
            rows = rows / 4 ? rows / 4 : 1;
            continue;
        }
        size_t n = 0;
        char *save = NULL;
        if (ans.len && (rc = hc_buf_append(&ans, "", 1)) != 0)
            break;
        for (char *line = ans.len ? strtok_r(ans.data, "\n", &save) : NULL; line && !rc;
             line = strtok_r(NULL, "\n", &save), n++) {
            rc = add_row(line, &w, b, after);
            if (rc == HC_EPARSE) {
                (*bad)++;
                rc = 0;
            }
        }
        if (rc) {
            snprintf(err, errlen, "a row could not be decoded (%s)", hc_strerror(rc));
            break;
        }
        *got += n;
        if (n < rows)
            break;
    }
    hc_buf_free(&ans), hc_buf_free(&w.props), hc_buf_free(&w.rl), hc_buf_free(&w.params);
    hc_buf_free(&w.enc);
    hc_buf_free(&w.req), hc_buf_free(&w.resp);
    return rc;
}

int source_ch_count(const ch_dest *d, uint64_t *n, char *err, size_t errlen)
{
    char sql[256];
    hc_buf a = { 0 };
    snprintf(sql, sizeof sql, "SELECT count() FROM %s.hc_records FINAL", d->db);
    int rc = ch_exec(d, NULL, sql, strlen(sql), 0, &a, err, errlen);
    *n = rc == 0 && a.data ? strtoull(a.data, NULL, 10) : 0;
    hc_buf_free(&a);
    return rc;
}

void source_ch_remove(const char *dir)
{
    char p[PATH_MAX];
    DIR *dh = opendir(dir);
    struct dirent *e;
    while (dh && (e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            (size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p)
            unlink(p);
    }
    if (dh)
        closedir(dh);
    rmdir(dir);
}

/* Resolve --run last, build the WHERE, copy the rows into the store at dir. */
static int fill(const ch_dest *d, const query_filter *f, bool push, const char *dir, uint64_t *bad,
                char *err, size_t errlen)
{
    char run[80] = "";
    hc_buf where = { 0 };
    hc_store *s = NULL;
    batch b;
    memset(&b, 0, sizeof b);
    uint64_t total = 0, got = 0;
    int rc = source_ch_count(d, &total, err, errlen);
    if (!rc && push && f && f->run_last)
        rc = source_ch_last_run(d, run, sizeof run, err, errlen);
    if (!rc)
        rc = source_ch_where(push ? f : NULL, run, &where, NULL);
    if (!rc && (rc = hc_store_open(dir, 0, &s, err, errlen)) == 0 &&
        (rc = batch_init(&b, s, hc_store_dbi(s, HC_T_RECORDS))) == 0) {
        rc = copy_rows(d, where.data, &b, &got, bad, err, errlen);
        int frc = batch_flush(&b);
        if (!rc && frc) {
            rc = frc;
            snprintf(err, errlen, "writing the temporary store failed: %s", hc_strerror(frc));
        }
    }
    query_prefiltered = total > got ? total - got : 0;
    batch_free(&b);
    if (s)
        hc_store_close(s);
    hc_buf_free(&where);
    return rc;
}

int source_ch_mkdir(char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    if ((size_t)snprintf(dir, size, "%s/hc-analyze-ch.XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
        size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdtemp(dir) ? 0 : -1;
}

int source_ch_fill(const char *url, const query_filter *f, bool push, char *dir, size_t size,
                   char *label, size_t lsize)
{
    ch_dest d = { .timeout_ms = 300000 };
    if (ch_dest_parse(url, "--db", &d)) {
        if (dir[0])
            source_ch_remove(dir); /* the caller's, made for us: removed on every failure */
        return CLI_EXIT_MISUSE;
    }
    if (!dir[0] && source_ch_mkdir(dir, size) != 0)
        return cli_misuse("--db %s: cannot make a temporary store: %s", d.name, strerror(errno));
    snprintf(label, lsize, "%s", d.name);
    char err[512] = "";
    uint64_t bad = 0;
    int rc = fill(&d, f, push, dir, &bad, err, sizeof err);
    if (bad)
        cli_warn("--db %s: %llu row%s could not be decoded (not written by ship) and %s skipped",
                 d.name, (unsigned long long)bad, bad == 1 ? "" : "s", bad == 1 ? "was" : "were");
    if (rc) {
        source_ch_remove(dir);
        return cli_misuse("--db %s: %s", d.name, err[0] ? err : hc_strerror(rc));
    }
    return 0;
}
