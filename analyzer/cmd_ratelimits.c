/* cmd_ratelimits.c — `hc-analyze ratelimits`: provider 429s, the rate-limit
 * headroom providers reported, time spent waiting, retries, and requests the
 * gateway's own rate-limit policies blocked; per host/model/provider and over
 * time.
 *
 * One pass over the records (never the bodies). A retried request's record
 * ends with its last answer, so its status hides earlier 429s: the 429s are
 * counted from the record's attempts ("429:0,429:612,200:1350"). Headroom
 * comes from the rate-limit response headers a record keeps (record.h field
 * `ratelimit`): any header whose name has "remaining" and "req" counts as
 * requests left, "remaining" and "token" as tokens left (OpenAI, Groq,
 * Anthropic's requests/tokens/input-tokens/output-tokens, …). Cache hits are
 * left out of the headroom: they replay the stored answer's headers. A record
 * keeps the headers of its final answer only, so a retried 429's own headers
 * are not seen. Definitions are in docs/ANALYZER.md ("ratelimits"). */
#include "agg.h"
#include "cli.h"
#include "cmds.h"
#include "fmt.h"
#include "jsonw.h"
#include "table.h"
#include "trend.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: hc-analyze ratelimits [--by DIM]... [--trend UNIT] [--top N] [options]\n"
    "\n"
    "Rate limiting seen by the gateway: requests the provider rate-limited and the\n"
    "429 answers it gave (counted per attempt, so retried 429s count too), how\n"
    "many recovered by retrying, the lowest requests and tokens left that the\n"
    "provider's rate-limit headers reported (and when), time spent waiting on\n"
    "retry-after / backoff, retries, and requests blocked before any upstream\n"
    "call: rate-limit blocks (the client-side policy, Helicone-RateLimit-Policy /\n"
    "HC_RATELIMIT) and budget blocks (HC_BUDGET). Provider 429s, rate-limit\n"
    "blocks and budget blocks are named and counted the same in every command.\n"
    "\n"
    "  --by DIM           group by host, model or provider; repeat to combine\n"
    "                     (default: --by host --by model)\n"
    "  --trend UNIT       add a time series by hour, day, week (ISO) or month (UTC)\n"
    "  --top N            show at most N groups (default: all)\n" CLI_HELP_COMMON CLI_HELP_FILTERS
    "\n"
    "Groups are ordered by 429 answers, then rate-limited and blocked requests.\n"
    "--csv prints the group table, or the time series when --trend is given.\n";

enum { OPT_BY = OPT_CMD, OPT_TREND, OPT_TOP };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    { "by", 0, true, OPT_BY },
    { "trend", 0, true, OPT_TREND },
    { "top", 0, true, OPT_TOP },
    { 0 },
};

enum dim { D_HOST, D_MODEL, D_PROVIDER };
static const char *const dim_names[] = { "host", "model", "provider" };
#define MAX_BY 3

enum { LEFT_REQ, LEFT_TOK };

/* The lowest value of one kind of "remaining" header, and where it was seen. */
struct low {
    bool has;
    int64_t value, time_us;
    char header[64], host[96], model[128];
};

/* What is summed for a set of records (total, a group, a time bucket). */
struct rl {
    uint64_t requests;
    uint64_t
        limited; /* the provider rate-limited it: RATE_LIMITED, or status 429 without a block */
    uint64_t answers_429; /* upstream attempts answered 429 */
    uint64_t recovered;   /* limited, yet the app finally got a 2xx */
    uint64_t
        ratelimit_blocked; /* rate-limit blocks: refused by the client-side policy (agg_limit_of) */
    uint64_t budget_blocked; /* budget blocks */
    uint64_t blocked;        /* both kinds of block */
    uint64_t retried, retries;
    int64_t wait_us, wait_max_us;
    int64_t first_429_us, last_429_us; /* start of the first / last limited request */
    struct low left[2];                /* LEFT_REQ, LEFT_TOK */
};

struct ctx {
    unsigned long long top; /* --top */
    enum dim by[MAX_BY];
    int nby;
    enum tb_unit trend;
    struct rl total;
    agg_groups groups;  /* dims joined with NUL -> struct rl */
    agg_groups buckets; /* bucket start, decimal µs -> struct rl */
    hc_buf key;
    bool oom;
};

/* ---- time buckets (UTC; the same as `report --trend`) ------------------------- */

/* ---- per record ---------------------------------------------------------------- */

/* Which "remaining" header this is: LEFT_REQ, LEFT_TOK or -1. Names are
 * stored lower-case. */
static int left_kind(const char *name)
{
    if (!strstr(name, "remaining"))
        return -1;
    if (strstr(name, "req"))
        return LEFT_REQ;
    if (strstr(name, "token"))
        return LEFT_TOK;
    return -1;
}

/* A header value as a non-negative integer ("42", " 42 "); else -1. */
static int64_t left_value(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    int64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    while (*s == ' ' || *s == '\t')
        s++;
    return *s ? -1 : v;
}

/* 429 answers from the provider: attempts with status 429. A record with no
 * attempts list (observe mode) counts one when it is rate-limited. */
static uint64_t count_429(const hc_record *r, bool limited)
{
    if (r->flags & HC_REC_BLOCKED)
        return 0; /* no upstream call was made */
    uint64_t n = 0;
    for (const char *p = r->attempts; *p;) {
        char *end;
        long st = strtol(p, &end, 10);
        if (end != p && *end == ':' && st == 429)
            n++;
        const char *comma = strchr(p, ',');
        if (!comma)
            break;
        p = comma + 1;
    }
    return n ? n : limited ? 1 : 0;
}

static void copy_text(char *out, size_t size, const char *s)
{
    snprintf(out, size, "%s", s);
}

static void rl_add(struct rl *a, const hc_record *r)
{
    enum agg_limit kind = agg_limit_of(r); /* the one vocabulary (agg.h) */
    bool limited = kind == AGG_LIMIT_PROVIDER_429;
    a->requests++;
    if (limited) {
        a->limited++;
        if (r->status >= 200 && r->status < 300)
            a->recovered++;
        if (!a->first_429_us || r->start_us < a->first_429_us)
            a->first_429_us = r->start_us;
        if (r->start_us > a->last_429_us)
            a->last_429_us = r->start_us;
    }
    a->answers_429 += count_429(r, limited);
    if (kind == AGG_LIMIT_RATELIMIT_BLOCK)
        a->ratelimit_blocked++, a->blocked++;
    else if (kind == AGG_LIMIT_BUDGET_BLOCK)
        a->budget_blocked++, a->blocked++;
    if (r->retries > 0) {
        a->retried++;
        a->retries += (uint64_t)r->retries;
    }
    if (r->ratelimit_wait_us > 0) {
        a->wait_us += r->ratelimit_wait_us;
        if (r->ratelimit_wait_us > a->wait_max_us)
            a->wait_max_us = r->ratelimit_wait_us;
    }
    /* A cache hit replays the stored answer's head: its rate-limit headers
     * are the original's, not what the provider says now. */
    if (r->flags & HC_REC_CACHE_HIT)
        return;
    uint32_t pos = 0;
    const char *name, *value;
    while (hc_pairs_next(&r->ratelimit, &pos, &name, &value)) {
        int k = left_kind(name);
        int64_t v = k < 0 ? -1 : left_value(value);
        if (v < 0)
            continue;
        struct low *l = &a->left[k];
        /* The lowest value; of equal ones the earliest (when it was first that low). */
        if (!l->has || v < l->value || (v == l->value && r->start_us < l->time_us)) {
            l->has = true;
            l->value = v;
            l->time_us = r->start_us;
            copy_text(l->header, sizeof l->header, name);
            copy_text(l->host, sizeof l->host, r->host);
            copy_text(l->model, sizeof l->model, query_model_of(r));
        }
    }
}

static struct rl *group_rl(agg_groups *g, const char *key, size_t klen)
{
    agg_acc *a = agg_group(g, key, klen);
    if (!a)
        return NULL;
    if (!a->user)
        a->user = calloc(1, sizeof(struct rl));
    return a->user;
}

static const char *dim_value(enum dim d, const hc_record *r)
{
    return d == D_HOST ? r->host : d == D_MODEL ? query_model_of(r) : r->provider;
}

static int on_record(void *vctx, const hc_record *r)
{
    struct ctx *c = vctx;
    rl_add(&c->total, r);
    hc_buf_reset(&c->key);
    for (int i = 0; i < c->nby; i++) {
        if (i)
            hc_buf_append(&c->key, "", 1); /* NUL separates dimensions */
        hc_buf_puts(&c->key, dim_value(c->by[i], r));
    }
    struct rl *g = hc_buf_error(&c->key)
                       ? NULL
                       : group_rl(&c->groups, c->key.data ? c->key.data : "", c->key.len);
    if (!g) {
        c->oom = true;
        return 1;
    }
    rl_add(g, r);
    if (c->trend != TB_NONE) {
        char k[TREND_KEY_MAX];
        size_t n = trend_key(c->trend, r->start_us, k);
        struct rl *b = group_rl(&c->buckets, k, n);
        if (!b) {
            c->oom = true;
            return 1;
        }
        rl_add(b, r);
    }
    return 0;
}

/* ---- output -------------------------------------------------------------------- */

static int by_trouble(const void *a, const void *b, void *vctx)
{
    const agg_groups *g = vctx;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    const struct rl *x = g->accs[ia].user, *y = g->accs[ib].user;
#define DESC(f) \
    if (x->f != y->f) \
    return x->f > y->f ? -1 : 1
    DESC(answers_429);
    DESC(limited);
    DESC(blocked);
    DESC(requests);
#undef DESC
    size_t la = g->klens[ia], lb = g->klens[ib];
    int c = memcmp(g->keys[ia], g->keys[ib], la < lb ? la : lb);
    return c ? c : la < lb ? -1 : la > lb;
}

static void jw_ktime(jw *w, const char *k, int64_t us, bool has)
{
    char iso[40];
    jw_key(w, k);
    if (has)
        jw_str(w, fmt_time_iso(iso, us));
    else
        jw_null(w);
}

static void low_json(jw *w, const char *k, const struct low *l, bool where)
{
    jw_key(w, k);
    if (!l->has) {
        jw_null(w);
        return;
    }
    jw_obj(w);
    jw_kint(w, "value", l->value);
    jw_ktime(w, "time", l->time_us, true);
    jw_kstr(w, "header", l->header);
    if (where) {
        jw_kstr(w, "host", l->host);
        jw_kstr(w, "model", l->model);
    }
    jw_obj_end(w);
}

static void rl_json(jw *w, const struct rl *a, bool where)
{
    jw_kuint(w, "requests", a->requests);
    jw_kuint(w, "rate_limited", a->limited);
    jw_kuint(w, "answers_429", a->answers_429);
    jw_kuint(w, "recovered", a->recovered);
    jw_kuint(w, "ratelimit_blocked", a->ratelimit_blocked);
    jw_kuint(w, "budget_blocked", a->budget_blocked);
    jw_kuint(w, "blocked", a->blocked);
    jw_kuint(w, "retried_requests", a->retried);
    jw_kuint(w, "retries", a->retries);
    jw_kint(w, "wait_us", a->wait_us);
    jw_kint(w, "wait_max_us", a->wait_max_us);
    low_json(w, "min_remaining_requests", &a->left[LEFT_REQ], where);
    low_json(w, "min_remaining_tokens", &a->left[LEFT_TOK], where);
    jw_ktime(w, "first_429", a->first_429_us, a->limited > 0);
    jw_ktime(w, "last_429", a->last_429_us, a->limited > 0);
}

/* Text: the label column is 18 wide ("Rate-limit blocks "). */
static void summary_text(FILE *o, const struct rl *a)
{
    char b1[FMT_NUM], b2[FMT_NUM], b3[FMT_NUM], t1[32], t2[32];
    fprintf(o, "%-18s%s\n", "Requests", fmt_int(b1, (int64_t)a->requests));
    fprintf(o, "%-18s%s (%s): %s answers 429 (attempts), %s recovered by retrying\n",
            "Provider 429s", fmt_int(b1, (int64_t)a->limited), fmt_pct(b2, a->limited, a->requests),
            fmt_int(b3, (int64_t)a->answers_429),
            fmt_int((char[FMT_NUM]){ 0 }, (int64_t)a->recovered));
    if (a->limited)
        fprintf(o, "%-18sfirst %s, last %s UTC\n", "", fmt_time(t1, a->first_429_us),
                fmt_time(t2, a->last_429_us));
    fprintf(o, "%-18s%s (the client-side policy, HC_RATELIMIT; never sent)\n", "Rate-limit blocks",
            fmt_int(b1, (int64_t)a->ratelimit_blocked));
    fprintf(o, "%-18s%s (HC_BUDGET; never sent)\n", "Budget blocks",
            fmt_int(b2, (int64_t)a->budget_blocked));
    fprintf(o, "%-18s%s in %s requests\n", "Retries", fmt_int(b1, (int64_t)a->retries),
            fmt_int(b2, (int64_t)a->retried));
    fprintf(o, "%-18s%s in total on retry-after / backoff, longest %s\n", "Waited",
            fmt_dur(b1, a->wait_us), fmt_dur(b2, a->wait_max_us));
    static const char *const kinds[] = { "requests", "tokens" };
    for (int k = 0; k < 2; k++) {
        const struct low *l = &a->left[k];
        const char *label = k == 0 ? "Lowest left" : "";
        if (!l->has) {
            fprintf(o, "%-18s%s -, no rate-limit header seen\n", label, kinds[k]);
            continue;
        }
        /* Host, model and header came from providers: escaped for the terminal. */
        hc_buf where = HC_BUF_INIT;
        char tmp[sizeof l->header + sizeof l->host + sizeof l->model + 4];
        snprintf(tmp, sizeof tmp, "%s, %s %s", l->header, *l->host ? l->host : "(none)",
                 *l->model ? l->model : "(none)");
        fmt_term(&where, tmp, strlen(tmp), 0);
        fprintf(o, "%-18s%s %s (%s, %s UTC)\n", label, kinds[k], fmt_int(b1, l->value),
                fmt_built(&where), fmt_time(t1, l->time_us));
        hc_buf_free(&where);
    }
}

/* Columns of the group table; CSV has a few more (exact, machine-readable). */
static size_t group_cols(const struct ctx *c, enum cli_fmt fmt, table_col *cols)
{
    static const char *const titles[] = { "HOST", "MODEL", "PROVIDER" };
    size_t n = 0;
    bool csv = fmt == CLI_CSV;
    for (int i = 0; i < c->nby; i++)
        cols[n++] = (table_col){ titles[c->by[i]], dim_names[c->by[i]], TBL_SHRINK };
    cols[n++] = (table_col){ "REQUESTS", "requests", TBL_RIGHT };
    cols[n++] = (table_col){ "PROVIDER 429", "rate_limited", TBL_RIGHT };
    cols[n++] = (table_col){ "429S", "answers_429", TBL_RIGHT };
    cols[n++] = (table_col){ "RECOVERED", "recovered", TBL_RIGHT | TBL_DROP };
    cols[n++] = (table_col){ "RL BLOCKS", "ratelimit_blocked", TBL_RIGHT };
    cols[n++] = (table_col){ "BUDGET BLOCKS", "budget_blocked", TBL_RIGHT };
    if (csv)
        cols[n++] = (table_col){ "", "blocked", 0 },
        cols[n++] = (table_col){ "", "retried_requests", 0 };
    cols[n++] = (table_col){ "RETRIES", "retries", TBL_RIGHT };
    cols[n++] = (table_col){ "WAITED", "wait_ms", TBL_RIGHT };
    cols[n++] = (table_col){ "MAX WAIT", "wait_max_ms", TBL_RIGHT | TBL_DROP };
    cols[n++] = (table_col){ "MIN REQ LEFT", "min_remaining_requests", TBL_RIGHT | TBL_DROP };
    if (csv)
        cols[n++] = (table_col){ "", "min_remaining_requests_time", 0 };
    cols[n++] = (table_col){ "MIN TOK LEFT", "min_remaining_tokens", TBL_RIGHT | TBL_DROP };
    if (csv)
        cols[n++] = (table_col){ "", "min_remaining_tokens_time", 0 },
        cols[n++] = (table_col){ "", "first_429", 0 };
    cols[n++] = (table_col){ "LAST 429 (UTC)", "last_429", TBL_DROP };
    return n;
}

/* A wait: "-" for none in text (a "0.00 ms" column reads like a measurement). */
static void cell_wait(table *t, int64_t us)
{
    char b1[FMT_NUM], b2[FMT_NUM];
    table_cell2(t, us > 0 ? fmt_dur(b1, us) : "-", fmt_ms_exact(b2, us));
}

static void cell_u64(table *t, uint64_t v)
{
    char b1[FMT_NUM], b2[FMT_NUM];
    snprintf(b1, sizeof b1, "%" PRIu64, v);
    table_cell2(t, fmt_int(b2, (int64_t)v), b1);
}

static void cell_time(table *t, int64_t us, bool has)
{
    char t1[32], t2[40];
    if (has)
        table_cell2(t, fmt_time(t1, us), fmt_time_iso(t2, us));
    else
        table_cell2(t, "-", "");
}

static void group_row(table *t, enum cli_fmt fmt, const struct ctx *c, const char *key,
                      const struct rl *a)
{
    bool csv = fmt == CLI_CSV;
    char b1[FMT_NUM], b2[FMT_NUM];
    const char *p = key;
    for (int i = 0; i < c->nby; i++) {
        table_cell2(t, *p ? p : "(none)", p);
        p += strlen(p) + 1;
    }
    cell_u64(t, a->requests);
    cell_u64(t, a->limited);
    cell_u64(t, a->answers_429);
    cell_u64(t, a->recovered);
    cell_u64(t, a->ratelimit_blocked);
    cell_u64(t, a->budget_blocked);
    if (csv) {
        cell_u64(t, a->blocked);
        cell_u64(t, a->retried);
    }
    cell_u64(t, a->retries);
    cell_wait(t, a->wait_us);
    cell_wait(t, a->wait_max_us);
    for (int k = 0; k < 2; k++) {
        const struct low *l = &a->left[k];
        if (l->has) {
            snprintf(b2, sizeof b2, "%" PRId64, l->value);
            table_cell2(t, fmt_int(b1, l->value), b2);
        } else {
            table_cell2(t, "-", "");
        }
        if (csv)
            cell_time(t, l->time_us, l->has);
    }
    if (csv)
        cell_time(t, a->first_429_us, a->limited > 0);
    cell_time(t, a->last_429_us, a->limited > 0);
}

static void emit_trend(struct ctx *c, enum cli_fmt fmt, jw *w)
{
    static const table_col cols[] = {
        { "PERIOD", "period", 0 },
        { "START (UTC)", "start", TBL_DROP },
        { "REQUESTS", "requests", TBL_RIGHT },
        { "PROVIDER 429", "rate_limited", TBL_RIGHT },
        { "429S", "answers_429", TBL_RIGHT },
        { "BLOCKED", "blocked", TBL_RIGHT },
        { "RETRIES", "retries", TBL_RIGHT },
        { "WAITED", "wait_ms", TBL_RIGHT },
    };
    agg_groups *g = &c->buckets;
    table *t = trend_emit_begin(fmt, w, c->trend, cols, sizeof cols / sizeof cols[0]);
    /* Every bucket from the first to the last, empty ones included. */
    trend_iter it;
    trend_iter_init(&it, g, c->trend);
    int64_t s;
    long gi;
    while (trend_next(&it, &s, &gi)) {
        static const struct rl none;
        const struct rl *a = gi >= 0 ? g->accs[gi].user : &none;
        trend_emit_period(fmt, w, t, c->trend, s);
        if (fmt == CLI_JSON) {
            jw_kuint(w, "requests", a->requests);
            jw_kuint(w, "rate_limited", a->limited);
            jw_kuint(w, "answers_429", a->answers_429);
            jw_kuint(w, "recovered", a->recovered);
            jw_kuint(w, "ratelimit_blocked", a->ratelimit_blocked);
            jw_kuint(w, "budget_blocked", a->budget_blocked);
            jw_kuint(w, "blocked", a->blocked);
            jw_kuint(w, "retries", a->retries);
            jw_kint(w, "wait_us", a->wait_us);
            jw_obj_end(w);
            continue;
        }
        cell_u64(t, a->requests);
        cell_u64(t, a->limited);
        cell_u64(t, a->answers_429);
        cell_u64(t, a->blocked);
        cell_u64(t, a->retries);
        cell_wait(t, a->wait_us);
    }
    trend_emit_end(fmt, w, t);
}

static void emit_groups(struct ctx *c, enum cli_fmt fmt, jw *w, const size_t *order, size_t n)
{
    if (fmt == CLI_JSON) {
        jw_key(w, "groups");
        jw_arr(w);
        for (size_t i = 0; i < n; i++) {
            const char *p = c->groups.keys[order[i]];
            jw_obj(w);
            for (int d = 0; d < c->nby; d++) {
                jw_kstr(w, dim_names[c->by[d]], p);
                p += strlen(p) + 1;
            }
            rl_json(w, c->groups.accs[order[i]].user, false);
            jw_obj_end(w);
        }
        jw_arr_end(w);
        return;
    }
    table_col cols[MAX_BY + 20];
    size_t nc = group_cols(c, fmt, cols);
    table *t = table_new(stdout, fmt, cols, nc);
    for (size_t i = 0; i < n; i++)
        group_row(t, fmt, c, c->groups.keys[order[i]], c->groups.accs[order[i]].user);
    table_end(t);
}

static int parse_by(struct ctx *c, const char *arg)
{
    for (int d = 0; d < 3; d++)
        if (strcmp(arg, dim_names[d]) == 0) {
            for (int i = 0; i < c->nby; i++)
                if (c->by[i] == (enum dim)d)
                    return cli_misuse("--by: '%s' given twice", arg);
            c->by[c->nby++] = (enum dim)d;
            return 0;
        }
    return cli_misuse("--by: expected host, model or provider, got '%s'", arg);
}

static int own(void *self, int id, const char *arg)
{
    struct ctx *x = self;
    if (id == OPT_BY)
        return parse_by(x, arg);
    if (id == OPT_TREND)
        return trend_parse_opt(arg, &x->trend);
    if (id == OPT_TOP)
        return cli_parse_u64("--top", arg, &x->top);
    return 1;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_ratelimits(int argc, char **argv)
{
    ana_ctx c = { .cmd = "ratelimits" };
    size_t *order = NULL;
    struct ctx x;
    memset(&x, 0, sizeof x);
    agg_groups_init(&x.groups, 0);
    agg_groups_init(&x.buckets, 0);
    cli_scan sc = { .on_record = on_record, .self = &x };

    int rc = cli_parse(&c, &cmd, argc, argv, &x);
    if (rc || c.help)
        goto out;
    if (x.nby == 0) {
        x.by[x.nby++] = D_HOST;
        x.by[x.nby++] = D_MODEL;
    }
    if ((rc = cli_scan_run(&c, &sc)))
        goto out;
    if (x.oom) {
        rc = cli_misuse("%s: %s", sc.path, "out of memory");
        goto out;
    }
    order = malloc((x.groups.n + 1) * sizeof *order);
    if (!order) {
        rc = cli_misuse("ratelimits: out of memory");
        goto out;
    }
    for (size_t i = 0; i < x.groups.n; i++)
        order[i] = i;
    qsort_r(order, x.groups.n, sizeof *order, by_trouble, &x.groups);
    size_t n = x.top && x.top < x.groups.n ? (size_t)x.top : x.groups.n;

    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", sc.path);
        jw_kuint(&w, "records_scanned", sc.st.scanned);
        jw_kuint(&w, "records_matched", sc.st.matched);
        jw_kuint(&w, "undecodable", sc.st.undecodable);
        jw_key(&w, "by");
        jw_arr(&w);
        for (int i = 0; i < x.nby; i++)
            jw_str(&w, dim_names[x.by[i]]);
        jw_arr_end(&w);
        jw_key(&w, "summary");
        jw_obj(&w);
        rl_json(&w, &x.total, true);
        jw_obj_end(&w);
        emit_groups(&x, c.fmt, &w, order, n);
        if (x.trend != TB_NONE)
            emit_trend(&x, c.fmt, &w);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else if (c.fmt == CLI_CSV) {
        if (x.trend != TB_NONE)
            emit_trend(&x, c.fmt, NULL);
        else
            emit_groups(&x, c.fmt, NULL, order, n);
    } else {
        char b1[FMT_NUM], b2[FMT_NUM];
        table_text tt;
        FILE *o = table_text_begin(&tt, stdout, 13);
        fprintf(o, "hcshim rate limits — %s\n", sc.path);
        if (!query_filter_empty(&c.filter))
            fprintf(o, "%-13s%s of %s records\n", "Matched", fmt_int(b1, (int64_t)sc.st.matched),
                    fmt_int(b2, (int64_t)sc.st.scanned));
        summary_text(o, &x.total);
        table_text_end(&tt);
        if (n) {
            o = table_text_begin(&tt, stdout, 3);
            fprintf(o, "\nBy");
            for (int i = 0; i < x.nby; i++)
                fprintf(o, "%s%s", i ? " / " : " ", dim_names[x.by[i]]);
            fprintf(o, "%s\n", n < x.groups.n ? " (top groups)" : "");
            table_text_end(&tt);
            emit_groups(&x, c.fmt, NULL, order, n);
        }
        if (x.trend != TB_NONE && x.buckets.n)
            emit_trend(&x, c.fmt, NULL);
    }
    rc = 0;
out:
    free(order);
    for (size_t i = 0; i < x.groups.n; i++)
        free(x.groups.accs[i].user);
    for (size_t i = 0; i < x.buckets.n; i++)
        free(x.buckets.accs[i].user);
    agg_groups_free(&x.groups);
    agg_groups_free(&x.buckets);
    hc_buf_free(&x.key);
    query_filter_free(&c.filter);
    return rc;
}
