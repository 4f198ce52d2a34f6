/* cmd_sessions.c — `hc-analyze sessions [ID]`: the session list, or one
 * session as a tree of its Helicone-Session-Paths.
 *
 * In the tree a node's numbers include its children ("/research" counts the
 * requests of "/research/search" too), so the root is the session total.
 * Latency of a node is the SUM of its requests' latencies (time spent in
 * model calls), which is what adds up along a tree. */
#include "agg.h"
#include "cli.h"
#include "cmds.h"
#include "fmt.h"
#include "jsonw.h"
#include "summary.h"
#include "table.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: hc-analyze sessions [options] [SESSION_ID]\n"
    "\n"
    "Without an id: sessions newest first with name, requests, cost, errors and\n"
    "duration (first request start to last response end).\n"
    "With an id: the session's steps as a tree by Helicone-Session-Path, each\n"
    "node with requests, cost, total latency and errors including its children.\n"
    "\n"
    "  -n, --limit N      at most N sessions in the list (default 50; 0 = all)\n" CLI_HELP_COMMON
        CLI_HELP_FILTERS;

enum { OPT_LIMIT = OPT_CMD };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS, CLI_FILTER_OPTS, { "limit", 'n', true, OPT_LIMIT }, { 0 }
};

struct node {
    char *name;
    char *path;
    struct node **kids;
    size_t nkids;
    agg_acc acc;
};

struct state {
    agg_groups list; /* session id -> acc; acc.user = strdup'd name */
    struct node *root;
    const char *name; /* tree: the session name (copied) */
    char *name_copy;
    bool oom;
};

static struct node *node_new(const char *name, size_t n, const char *parent_path)
{
    struct node *nd = calloc(1, sizeof *nd);
    if (!nd)
        return NULL;
    nd->name = strndup(name, n);
    size_t pl = strlen(parent_path);
    nd->path = malloc(pl + n + 2);
    if (!nd->name || !nd->path) {
        free(nd->name);
        free(nd->path);
        free(nd);
        return NULL;
    }
    snprintf(nd->path, pl + n + 2, "%s%s%.*s", parent_path,
             (pl && parent_path[pl - 1] == '/') ? "" : "/", (int)n, name);
    agg_acc_init(&nd->acc, 0);
    return nd;
}

static void node_free(struct node *nd)
{
    if (!nd)
        return;
    for (size_t i = 0; i < nd->nkids; i++)
        node_free(nd->kids[i]);
    free(nd->kids);
    free(nd->name);
    free(nd->path);
    agg_acc_free(&nd->acc);
    free(nd);
}

static struct node *child(struct node *nd, const char *name, size_t n)
{
    for (size_t i = 0; i < nd->nkids; i++)
        if (strlen(nd->kids[i]->name) == n && memcmp(nd->kids[i]->name, name, n) == 0)
            return nd->kids[i];
    struct node **nk = realloc(nd->kids, (nd->nkids + 1) * sizeof *nk);
    if (!nk)
        return NULL;
    nd->kids = nk;
    struct node *c = node_new(name, n, nd->path);
    if (!c)
        return NULL;
    nd->kids[nd->nkids++] = c;
    return c;
}

static int on_tree(void *ctx, const hc_record *r)
{
    struct state *s = ctx;
    struct node *nd = s->root;
    agg_acc_add(&nd->acc, r);
    if (!s->name_copy && *r->session_name)
        s->name_copy = strdup(r->session_name);
    const char *p = r->session_path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (!(nd = child(nd, p, n))) {
            s->oom = true;
            return 1;
        }
        agg_acc_add(&nd->acc, r);
        p += n;
    }
    return 0;
}

static int on_list(void *ctx, const hc_record *r)
{
    struct state *s = ctx;
    if (!*r->session_id)
        return 0;
    agg_acc *a = agg_group(&s->list, r->session_id, strlen(r->session_id));
    if (!a) {
        s->oom = true;
        return 1;
    }
    agg_acc_add(a, r);
    if (!a->user && *r->session_name)
        a->user = strdup(r->session_name);
    return 0;
}

static struct {
    const agg_groups *g;
} sort_ctx;

static int newest_first(const void *x, const void *y)
{
    const agg_acc *a = &sort_ctx.g->accs[*(const size_t *)x],
                  *b = &sort_ctx.g->accs[*(const size_t *)y];
    if (a->first_us != b->first_us)
        return a->first_us > b->first_us ? -1 : 1;
    return strcmp(sort_ctx.g->keys[*(const size_t *)x], sort_ctx.g->keys[*(const size_t *)y]);
}

static void acc_json(jw *w, const agg_acc *a)
{
    jw_kuint(w, "requests", a->requests);
    jw_kint(w, "cost_nusd", a->cost_nusd);
    jw_kuint(w, "unpriced_requests", a->unpriced);
    jw_kint(w, "latency_us", a->latency_sum_us);
    jw_kuint(w, "errors", a->errors);
    agg_limits_json(w, a);
    jw_kint(w, "tok_in", a->tok_in);
    jw_kint(w, "tok_out", a->tok_out);
}

static void tree_json(jw *w, const struct node *nd)
{
    jw_obj(w);
    jw_kstr(w, "name", nd->name);
    jw_kstr(w, "path", nd->path);
    acc_json(w, &nd->acc);
    jw_key(w, "children");
    jw_arr(w);
    for (size_t i = 0; i < nd->nkids; i++)
        tree_json(w, nd->kids[i]);
    jw_arr_end(w);
    jw_obj_end(w);
}

static void tree_rows(table *t, const struct node *nd, hc_buf *prefix, bool last, int depth,
                      bool csv)
{
    char b1[FMT_NUM], b2[FMT_NUM], cost[128];
    if (csv) {
        snprintf(b1, sizeof b1, "%d", depth);
        table_cell(t, nd->path);
        table_cell(t, b1);
    } else {
        hc_buf line = HC_BUF_INIT;
        if (depth > 0) {
            hc_buf_append_buf(&line, prefix);
            hc_buf_puts(&line, last ? "└─ " : "├─ ");
        }
        fmt_term(&line, nd->name, strlen(nd->name), 0);
        table_cell(t, fmt_built(&line));
        hc_buf_free(&line);
    }
    snprintf(b1, sizeof b1, "%" PRIu64, nd->acc.requests);
    table_cell2(t, fmt_int(b2, (int64_t)nd->acc.requests), b1);
    summary_cost_text(cost, sizeof cost, nd->acc.cost_nusd, nd->acc.unpriced, nd->acc.requests);
    table_cell2(t, cost, fmt_usd_exact(b1, nd->acc.cost_nusd));
    table_cell2(t, fmt_dur(b1, nd->acc.latency_sum_us), fmt_ms_exact(b2, nd->acc.latency_sum_us));
    snprintf(b1, sizeof b1, "%" PRIu64, nd->acc.errors);
    table_cell(t, b1);
    size_t keep = prefix->len;
    if (depth > 0)
        hc_buf_puts(prefix, last ? "   " : "│  ");
    for (size_t i = 0; i < nd->nkids; i++)
        tree_rows(t, nd->kids[i], prefix, i + 1 == nd->nkids, depth + 1, csv);
    prefix->len = keep;
    if (prefix->data)
        prefix->data[keep] = '\0';
}

static int show_tree(ana_ctx *c, const char *sid)
{
    struct state st = { 0 };
    int rc = 0;
    if (!(st.root = node_new("/", 1, ""))) /* path "/" */
        return cli_misuse("sessions: out of memory");
    free(st.root->path);
    st.root->path = strdup("/");
    c->filter.session = sid;
    /* quiet: the undecodable warnings come after the tree, not before "no records". */
    cli_scan sc = { .on_record = on_tree, .self = &st, .quiet = true };
    if ((rc = cli_scan_run(c, &sc)))
        goto out;
    if (st.oom) {
        rc = cli_misuse("%s: %s", sc.path, "out of memory");
        goto out;
    }
    if (st.root->acc.requests == 0) {
        hc_buf safe = HC_BUF_INIT;
        fmt_term(&safe, sid, strlen(sid), 0);
        fprintf(stderr, "hc-analyze: sessions: no records for session '%s'\n", fmt_built(&safe));
        hc_buf_free(&safe);
        rc = CLI_EXIT_NO;
        goto out;
    }
    const agg_acc *a = &st.root->acc;
    if (c->fmt == CLI_JSON) {
        jw w;
        char t1[40], t2[40];
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "session_id", sid);
        jw_kstr(&w, "name", st.name_copy ? st.name_copy : "");
        jw_kstr(&w, "start", fmt_time_iso(t1, a->first_us));
        jw_kstr(&w, "end", fmt_time_iso(t2, a->last_us));
        jw_kint(&w, "duration_us", a->last_us - a->first_us);
        jw_key(&w, "total");
        jw_obj(&w);
        acc_json(&w, a);
        jw_obj_end(&w);
        jw_key(&w, "tree");
        tree_json(&w, st.root);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else {
        static const table_col cols[] = {
            { "STEP", "path", TBL_RAW | TBL_SHRINK }, { "REQUESTS", "requests", TBL_RIGHT },
            { "COST", "cost_usd", TBL_RIGHT },        { "LATENCY", "latency_ms", TBL_RIGHT },
            { "ERRORS", "errors", TBL_RIGHT },
        };
        static const table_col csv_cols[] = {
            { "PATH", "path", 0 },          { "DEPTH", "depth", 0 },
            { "REQUESTS", "requests", 0 },  { "COST", "cost_usd", 0 },
            { "LATENCY", "latency_ms", 0 }, { "ERRORS", "errors", 0 },
        };
        bool csv = c->fmt == CLI_CSV;
        if (!csv) {
            char b1[FMT_NUM], b2[FMT_NUM], cost[128];
            hc_buf head = HC_BUF_INIT, safe = HC_BUF_INIT;
            hc_buf_printf(&head, "Session %s", sid);
            if (st.name_copy)
                hc_buf_printf(&head, " \"%s\"", st.name_copy);
            fmt_term(&safe, fmt_built(&head), head.len, 0);
            summary_cost_text(cost, sizeof cost, a->cost_nusd, a->unpriced, a->requests);
            table_textf(stdout, 2, "%s: %s requests, %s, %" PRIu64 " errors, duration %s\n\n",
                        fmt_built(&safe), fmt_int(b1, (int64_t)a->requests), cost, a->errors,
                        fmt_dur(b2, a->last_us - a->first_us));
            hc_buf_free(&head);
            hc_buf_free(&safe);
        }
        table *t =
            csv ? table_new(stdout, CLI_CSV, csv_cols, 6) : table_new(stdout, CLI_TEXT, cols, 5);
        hc_buf prefix = HC_BUF_INIT;
        hc_buf_append(&prefix, "", 0);
        tree_rows(t, st.root, &prefix, true, 0, csv);
        hc_buf_free(&prefix);
        table_end(t);
    }
    cli_report_undecodable(&sc.st);
out:
    free(st.name_copy);
    node_free(st.root);
    return rc;
}

static int show_list(ana_ctx *c, unsigned long long limit)
{
    static const table_col cols[] = {
        { "SESSION", "session_id", TBL_SHRINK },
        { "NAME", "name", TBL_SHRINK },
        { "REQUESTS", "requests", TBL_RIGHT },
        { "COST", "cost_usd", TBL_RIGHT },
        { "ERRORS", "errors", TBL_RIGHT },
        { "DURATION", "duration_ms", TBL_RIGHT | TBL_DROP },
        { "START (UTC)", "start", TBL_DROP },
    };
    struct state st = { 0 };
    size_t *order = NULL;
    int rc = 0;
    agg_groups_init(&st.list, 0);
    cli_scan sc = { .on_record = on_list, .self = &st };
    if ((rc = cli_scan_run(c, &sc)))
        goto out;
    if (st.oom || !(order = malloc((st.list.n + 1) * sizeof *order))) {
        rc = cli_misuse("%s: %s", sc.path, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < st.list.n; i++)
        order[i] = i;
    sort_ctx.g = &st.list;
    qsort(order, st.list.n, sizeof *order, newest_first);
    size_t n = limit && limit < st.list.n ? (size_t)limit : st.list.n;
    jw w;
    table *t = NULL;
    if (c->fmt == CLI_JSON) {
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kuint(&w, "count", st.list.n);
        jw_kuint(&w, "undecodable", sc.st.undecodable);
        jw_key(&w, "sessions");
        jw_arr(&w);
    } else {
        t = table_new(stdout, c->fmt, cols, sizeof cols / sizeof cols[0]);
    }
    for (size_t i = 0; i < n; i++) {
        const agg_acc *a = &st.list.accs[order[i]];
        const char *sid = st.list.keys[order[i]], *name = a->user ? a->user : "";
        char t1[40], t2[40], b1[FMT_NUM], b2[FMT_NUM], cost[128];
        if (c->fmt == CLI_JSON) {
            jw_obj(&w);
            jw_kstr(&w, "session_id", sid);
            jw_kstr(&w, "name", name);
            acc_json(&w, a);
            jw_kint(&w, "duration_us", a->last_us - a->first_us);
            jw_kstr(&w, "start", fmt_time_iso(t1, a->first_us));
            jw_kstr(&w, "end", fmt_time_iso(t2, a->last_us));
            jw_obj_end(&w);
            continue;
        }
        table_cell(t, sid);
        table_cell(t, name);
        snprintf(b1, sizeof b1, "%" PRIu64, a->requests);
        table_cell2(t, fmt_int(b2, (int64_t)a->requests), b1);
        summary_cost_text(cost, sizeof cost, a->cost_nusd, a->unpriced, a->requests);
        table_cell2(t, cost, fmt_usd_exact(b1, a->cost_nusd));
        snprintf(b1, sizeof b1, "%" PRIu64, a->errors);
        table_cell(t, b1);
        table_cell2(t, fmt_dur(b1, a->last_us - a->first_us),
                    fmt_ms_exact(b2, a->last_us - a->first_us));
        table_cell2(t, fmt_time(t1, a->first_us), fmt_time_iso(t2, a->first_us));
    }
    if (c->fmt == CLI_JSON) {
        jw_arr_end(&w);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else {
        table_end(t);
        if (c->fmt == CLI_TEXT && n < st.list.n)
            table_textf(stdout, 2, "(%zu of %zu sessions; --limit 0 shows all)\n", n, st.list.n);
    }
out:
    for (size_t i = 0; i < st.list.n; i++)
        free(st.list.accs[i].user);
    free(order);
    agg_groups_free(&st.list);
    return rc;
}

struct args {
    const char *sid; /* the session to show as a tree, or NULL: the list */
    unsigned long long limit;
};

static int own(void *self, int id, const char *arg)
{
    struct args *a = self;
    if (id == OPT_LIMIT)
        return cli_parse_u64("--limit", arg, &a->limit);
    if (id != CLI_POS)
        return 1;
    if (a->sid)
        return cli_misuse("sessions: one session id expected, got '%s' too", arg);
    a->sid = arg;
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_sessions(int argc, char **argv)
{
    ana_ctx c = { .cmd = "sessions" };
    struct args a = { .limit = 50 };
    int rc = cli_parse(&c, &cmd, argc, argv, &a);
    if (rc == 0 && !c.help)
        rc = a.sid ? show_tree(&c, a.sid) : show_list(&c, a.limit);
    query_filter_free(&c.filter);
    return rc;
}
