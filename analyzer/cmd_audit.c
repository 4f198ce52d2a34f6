/* cmd_audit.c — `hc-analyze audit`: fail a CI job that spent too much.
 *
 * Each limit given becomes one check (limit, actual, pass/fail). Exit 0 when
 * every check passes, 1 when any fails, 2 on misuse or an unreadable store or
 * baseline — so a broken audit never passes silently. The verdict is printed
 * on stdout (text, --json or --csv) and optionally written as JUnit XML
 * (--junit) and as a Markdown table (--markdown, e.g. $GITHUB_STEP_SUMMARY). */
#include "agg.h"
#include "cli.h"
#include "clock.h"
#include "cmds.h"
#include "fmt.h"
#include "jsonw.h"
#include "summary.h"
#include "table.h"
#include "testcost.h"
#include "utf8.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: hc-analyze audit [options]\n"
    "\n"
    "CI checks over the matching records; exit 0 if all pass, 1 if any fails,\n"
    "2 on misuse or an unreadable store. At least one check is required.\n"
    "\n"
    "  --max-cost USD         total cost at most USD (e.g. 2.00); unpriced requests\n"
    "                         have no cost and are reported next to the total\n"
    "  --max-requests N       at most N requests\n"
    "  --max-error-rate R     errors / requests at most R: 5% or 0.05\n"
    "  --max-p95-ms N         p95 latency at most N milliseconds\n"
    "  --baseline STORE|FILE  compare the cost with a previous run: another store\n"
    "                         (same filters) or the JSON that `audit --json` or\n"
    "                         `report --json` printed; refused when that JSON\n"
    "                         selected its records differently (e.g. one run\n"
    "                         against a whole store)\n"
    "  --max-increase R       with --baseline: cost may grow at most R (10% or 0.1);\n"
    "                         the pytest tests (PYTEST_CURRENT_TEST) whose cost grew\n"
    "                         more than R, or that are new, are named in every output\n"
    "  --junit FILE           also write a JUnit XML report (one testcase per check)\n"
    "  --markdown FILE        also write a Markdown table (appends; for CI "
    "summaries)\n" CLI_HELP_COMMON CLI_HELP_FILTERS;

enum {
    OPT_MAX_COST = OPT_CMD,
    OPT_MAX_REQ,
    OPT_MAX_ERR,
    OPT_MAX_P95,
    OPT_BASELINE,
    OPT_MAX_INC,
    OPT_JUNIT,
    OPT_MARKDOWN
};

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    { "max-cost", 0, true, OPT_MAX_COST },
    { "max-requests", 0, true, OPT_MAX_REQ },
    { "max-error-rate", 0, true, OPT_MAX_ERR },
    { "max-p95-ms", 0, true, OPT_MAX_P95 },
    { "baseline", 0, true, OPT_BASELINE },
    { "max-increase", 0, true, OPT_MAX_INC },
    { "junit", 0, true, OPT_JUNIT },
    { "markdown", 0, true, OPT_MARKDOWN },
    { 0 },
};

#define MAX_CHECKS 8

struct check {
    const char *name; /* max-cost, … (also the JUnit testcase name) */
    char limit[64], actual[160];
    double limit_num, actual_num; /* natural units: USD, count, fraction, ms */
    bool pass;
    char message[320];
};

struct audit {
    bool has_cost, has_req, has_err, has_p95, has_inc;
    long long max_cost_nusd;
    unsigned long long max_req, max_p95_ms;
    double max_err, max_inc;
    const char *baseline, *junit, *markdown;
    struct check checks[MAX_CHECKS];
    int n;
    agg_groups tests, base_tests; /* cost per pytest test (testcost.h) */
    bool base_has_tests;          /* the baseline says its cost per test */
    tc_grown *grown;              /* tests whose cost grew (with --baseline) */
    size_t ngrown;
};

struct scan {
    agg_acc *a;
    agg_groups *tests;
};

static int on_record(void *ctx, const hc_record *r)
{
    struct scan *sc = ctx;
    agg_acc_add(sc->a, r);
    tc_add(sc->tests, r);
    return 0;
}

/* Scan a store into a and tests (c->db, or path when given). 0 or
 * CLI_EXIT_MISUSE (printed). The undecodable records of the audited store are
 * reported, not the baseline's. */
static int scan_store(ana_ctx *c, const char *path, agg_acc *a, agg_groups *tests, query_stats *st,
                      char *store_path, size_t splen)
{
    struct scan acc = { a, tests };
    ana_ctx bc = *c;
    if (path)
        bc.db = path;
    cli_scan sc = { .on_record = on_record, .self = &acc, .quiet = path != NULL };
    int rc = cli_scan_run(&bc, &sc);
    *st = sc.st;
    if (store_path)
        snprintf(store_path, splen, "%s", sc.path);
    return rc;
}

/* Baseline cost from a store directory or a JSON file. */
static int baseline_cost(ana_ctx *c, const char *path, int64_t *nusd, uint64_t *unpriced,
                         agg_groups *tests, bool *has_tests)
{
    struct stat stt;
    if (stat(path, &stt) != 0)
        return cli_misuse("--baseline: %s: %s", path, strerror(errno));
    if (S_ISDIR(stt.st_mode)) {
        agg_acc a;
        query_stats st;
        agg_acc_init(&a, 0);
        int rc = scan_store(c, path, &a, tests, &st, NULL, 0);
        *has_tests = true;
        *nusd = a.cost_nusd;
        *unpriced = a.unpriced;
        agg_acc_free(&a);
        return rc;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_misuse("--baseline: %s: %s", path, strerror(errno));
    hc_buf b = HC_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        hc_buf_append(&b, chunk, n);
    fclose(f);
    if (hc_buf_error(&b)) {
        hc_buf_free(&b);
        return cli_misuse("--baseline: %s: out of memory reading it", path);
    }
    cJSON *doc = b.data ? cJSON_ParseWithLength(b.data, b.len) : NULL;
    hc_buf_free(&b);
    /* Like with like: the baseline JSON says how its records were selected
     * (any run id counts as the same as any other, any time as any other). */
    char mine[1024];
    query_filter_describe(&c->filter, true, mine, sizeof mine);
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(doc, "selection");
    if (doc && !cJSON_IsString(sel))
        cli_warn("--baseline: %s does not say how its records were selected (written by an older "
                 "hc-analyze?); the comparison assumes the same filters%s%s",
                 path, *mine ? " as this audit's: " : "", mine);
    else if (doc && strcmp(sel->valuestring, mine) != 0) {
        int e = cli_misuse("--baseline: %s selected its records with '%s', this audit with '%s': "
                           "compare like with like (give both the same --run and filters)",
                           path, *sel->valuestring ? sel->valuestring : "no filter",
                           *mine ? mine : "no filter");
        cJSON_Delete(doc);
        return e;
    }
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(doc, "summary");
    const cJSON *cost = cJSON_GetObjectItemCaseSensitive(sum, "cost_nusd");
    const cJSON *unp = cJSON_GetObjectItemCaseSensitive(sum, "unpriced_requests");
    int rc = 0;
    if (!cJSON_IsNumber(cost))
        rc = cli_misuse("--baseline: %s: expected the JSON of 'audit --json' or 'report --json' "
                        "(with summary.cost_nusd)",
                        path);
    else {
        *nusd = (int64_t)cost->valuedouble;
        *unpriced = cJSON_IsNumber(unp) ? (uint64_t)unp->valuedouble : 0;
        *has_tests = tc_from_json(doc, tests) >= 0;
    }
    cJSON_Delete(doc);
    return rc;
}

/* "<what> <actual> <is within|exceeds> <limit><extra>", from copies: the
 * fields live in the same struct as the message. */
static void set_message(struct check *k, const char *what, const char *ok, const char *bad,
                        const char *extra)
{
    char act[sizeof k->actual], lim[sizeof k->limit];
    memcpy(act, k->actual, sizeof act);
    memcpy(lim, k->limit, sizeof lim);
    snprintf(k->message, sizeof k->message, "%s %s %s %s%s", what, act, k->pass ? ok : bad, lim,
             extra);
}

static struct check *add_check(struct audit *au, const char *name)
{
    struct check *k = &au->checks[au->n++];
    memset(k, 0, sizeof *k);
    k->name = name;
    return k;
}

static void run_checks(struct audit *au, agg_acc *a, const summary_pct *pct, bool has_base,
                       int64_t base_nusd, uint64_t base_unpriced)
{
    char b1[FMT_NUM], b2[FMT_NUM], cost[128];
    if (au->has_cost) {
        struct check *k = add_check(au, "max-cost");
        fmt_usd(k->limit, au->max_cost_nusd);
        summary_cost_text(k->actual, sizeof k->actual, a->cost_nusd, a->unpriced, a->requests);
        k->limit_num = (double)au->max_cost_nusd / 1e9;
        k->actual_num = (double)a->cost_nusd / 1e9;
        k->pass = a->cost_nusd <= au->max_cost_nusd;
        set_message(k, "total cost", "is within the limit", "exceeds the limit",
                    a->unpriced ? " (unpriced requests have no known cost)" : "");
    }
    if (au->has_req) {
        struct check *k = add_check(au, "max-requests");
        snprintf(k->limit, sizeof k->limit, "%llu", au->max_req);
        snprintf(k->actual, sizeof k->actual, "%" PRIu64, a->requests);
        k->limit_num = (double)au->max_req;
        k->actual_num = (double)a->requests;
        k->pass = a->requests <= au->max_req;
        set_message(k, "requests:", "within the limit", "over the limit", "");
    }
    if (au->has_err) {
        struct check *k = add_check(au, "max-error-rate");
        double rate = a->requests ? (double)a->errors / (double)a->requests : 0.0;
        snprintf(k->limit, sizeof k->limit, "%s", fmt_rate(b1, au->max_err));
        snprintf(k->actual, sizeof k->actual, "%s (%" PRIu64 " of %" PRIu64 ")", fmt_rate(b2, rate),
                 a->errors, a->requests);
        k->limit_num = au->max_err;
        k->actual_num = rate;
        /* Compare counts, not doubles: errors <= max * requests, with the rate
         * limit read exactly as given (5% of 200 is 10 errors, allowed). */
        k->pass = (double)a->errors <= au->max_err * (double)a->requests + 1e-9;
        set_message(k, "error rate", "is within the limit", "exceeds the limit", "");
    }
    if (au->has_p95) {
        struct check *k = add_check(au, "max-p95-ms");
        fmt_dur(k->limit, (int64_t)au->max_p95_ms * 1000);
        k->limit_num = (double)au->max_p95_ms;
        if (pct->p95 < 0) {
            snprintf(k->actual, sizeof k->actual, "no requests");
            k->actual_num = 0;
            k->pass = true;
        } else {
            fmt_dur(k->actual, pct->p95);
            k->actual_num = (double)pct->p95 / 1000.0;
            k->pass = (unsigned long long)pct->p95 <= au->max_p95_ms * 1000ull;
        }
        set_message(k, "p95 latency", "is within the limit", "exceeds the limit", "");
    }
    if (has_base) {
        struct check *k = add_check(au, "max-increase");
        snprintf(k->limit, sizeof k->limit, "+%s", fmt_rate(b1, au->max_inc));
        k->limit_num = au->max_inc;
        summary_cost_text(cost, sizeof cost, a->cost_nusd, a->unpriced, a->requests);
        if (base_nusd == 0) {
            k->pass = a->cost_nusd == 0;
            k->actual_num = k->pass ? 0.0 : INFINITY;
            snprintf(k->actual, sizeof k->actual, "%s (baseline $0 → %s)",
                     k->pass ? "+0.0%" : "new cost", cost);
        } else {
            double inc = (double)(a->cost_nusd - base_nusd) / (double)base_nusd;
            k->actual_num = inc;
            /* Exact: cost - base <= max_inc * base, in nano-USD. */
            k->pass = (double)(a->cost_nusd - base_nusd) <= au->max_inc * (double)base_nusd + 1e-6;
            snprintf(k->actual, sizeof k->actual, "%s%s (%s → %s)", inc >= 0 ? "+" : "",
                     fmt_rate(b1, inc), fmt_usd(b2, base_nusd), cost);
        }
        char extra[200] = "";
        if (au->ngrown) {
            char g[160];
            tc_grown_text(&au->grown[0], g, sizeof g);
            snprintf(extra, sizeof extra, "; grew most: %s%s", g,
                     au->ngrown > 1 ? " (and others)" : "");
        }
        if (base_unpriced)
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                     " (the baseline has unpriced requests)");
        set_message(k, "cost change", "is within the allowed increase",
                    "exceeds the allowed increase", extra);
    }
}

/* XML 1.0 text: escape markup; drop what XML cannot carry (C0 controls other
 * than tab/LF/CR, invalid UTF-8) as U+FFFD. */
static void xml_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (*p) {
        uint32_t cp;
        size_t len = utf8_decode(p, n - (size_t)(p - (const unsigned char *)s), &cp);
        if (!len || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xfffe ||
            cp == 0xffff) {
            fputs("\xef\xbf\xbd", f);
            p += len ? len : 1;
            continue;
        }
        switch (cp) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\n': fputs("&#10;", f); break;
        case '\r': fputs("&#13;", f); break;
        case '\t': fputs("&#9;", f); break;
        default: fwrite(p, 1, len, f);
        }
        p += len;
    }
}

/* "\ntests whose cost grew:\n  TEST …" for the max-increase testcase. */
static void grown_xml(FILE *f, const struct audit *au)
{
    xml_text(f, "\ntests whose cost grew:");
    for (size_t i = 0; i < au->ngrown; i++) {
        char g[600];
        tc_grown_text(&au->grown[i], g, sizeof g);
        xml_text(f, "\n  ");
        xml_text(f, g);
    }
}

static int write_junit(const char *path, const struct audit *au, const char *store,
                       const agg_acc *a)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return cli_misuse("--junit: %s: %s", path, strerror(errno));
    int failures = 0;
    for (int i = 0; i < au->n; i++)
        failures += !au->checks[i].pass;
    char ts[40], t2[40];
    fmt_time_iso(t2, hc_now_us());
    snprintf(ts, sizeof ts, "%.19s", t2); /* JUnit wants no zone suffix */
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"hc-analyze audit\" tests=\"%d\" failures=\"%d\" errors=\"0\" "
            "time=\"0\">\n",
            au->n, failures);
    fprintf(f,
            "  <testsuite name=\"hc-analyze audit\" tests=\"%d\" failures=\"%d\" errors=\"0\" "
            "skipped=\"0\" "
            "time=\"0\" timestamp=\"%s\">\n",
            au->n, failures, ts);
    fprintf(f, "    <properties>\n      <property name=\"store\" value=\"");
    xml_text(f, store);
    fprintf(f, "\"/>\n      <property name=\"requests\" value=\"%" PRIu64 "\"/>\n", a->requests);
    fprintf(f, "      <property name=\"cost_nusd\" value=\"%" PRId64 "\"/>\n", a->cost_nusd);
    fprintf(f,
            "      <property name=\"unpriced_requests\" value=\"%" PRIu64
            "\"/>\n    </properties>\n",
            a->unpriced);
    for (int i = 0; i < au->n; i++) {
        const struct check *k = &au->checks[i];
        fprintf(f, "    <testcase name=\"%s\" classname=\"hc-analyze.audit\" time=\"0\"", k->name);
        bool inc = strcmp(k->name, "max-increase") == 0 && au->ngrown;
        if (k->pass) {
            fprintf(f, ">\n      <system-out>");
            xml_text(f, k->message);
            if (inc)
                grown_xml(f, au);
            fprintf(f, "</system-out>\n    </testcase>\n");
            continue;
        }
        fprintf(f, ">\n      <failure type=\"LimitExceeded\" message=\"");
        xml_text(f, k->message);
        fprintf(f, "\">limit: ");
        xml_text(f, k->limit);
        fprintf(f, "\nactual: ");
        xml_text(f, k->actual);
        if (inc)
            grown_xml(f, au);
        fprintf(f, "</failure>\n    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    if (fclose(f) != 0)
        return cli_misuse("--junit: %s: %s", path, strerror(errno));
    return 0;
}

/* A Markdown table cell: no pipes, newlines or control characters. */
static void md_cell(FILE *f, const char *s)
{
    hc_buf b = HC_BUF_INIT;
    fmt_term(&b, s, strlen(s), 0);
    for (const char *p = b.data; *p; p++) {
        if (*p == '|' || *p == '`' || *p == '*' || *p == '_' || *p == '<' || *p == '[' ||
            *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    hc_buf_free(&b);
}

static int write_markdown(const char *path, const struct audit *au, const char *store,
                          const agg_acc *a, bool pass)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return cli_misuse("--markdown: %s: %s", path, strerror(errno));
    char b1[FMT_NUM], cost[128];
    fprintf(f, "### hc-analyze audit: %s\n\n", pass ? "✅ PASS" : "❌ FAIL");
    fprintf(f, "| Check | Limit | Actual | Result |\n| --- | --- | --- | --- |\n");
    for (int i = 0; i < au->n; i++) {
        const struct check *k = &au->checks[i];
        fprintf(f, "| ");
        md_cell(f, k->name);
        fprintf(f, " | ");
        md_cell(f, k->limit);
        fprintf(f, " | ");
        md_cell(f, k->actual);
        fprintf(f, " | %s |\n", k->pass ? "✅ pass" : "❌ FAIL");
    }
    if (au->ngrown)
        fprintf(f, "\nTests whose cost grew:\n\n");
    for (size_t i = 0; i < au->ngrown; i++) {
        char g[600];
        tc_grown_text(&au->grown[i], g, sizeof g);
        fprintf(f, "- ");
        md_cell(f, g);
        fprintf(f, "\n");
    }
    summary_cost_text(cost, sizeof cost, a->cost_nusd, a->unpriced, a->requests);
    fprintf(f, "\n%s requests, ", fmt_int(b1, (int64_t)a->requests));
    md_cell(f, cost);
    fprintf(f, " — store ");
    md_cell(f, store);
    fprintf(f, "\n\n");
    if (fclose(f) != 0)
        return cli_misuse("--markdown: %s: %s", path, strerror(errno));
    return 0;
}

static int own(void *self, int id, const char *arg)
{
    struct audit *au = self;
    int rc = 0;
    switch (id) {
    case OPT_MAX_COST:
        rc = cli_parse_usd("--max-cost", arg, &au->max_cost_nusd);
        au->has_cost = true;
        break;
    case OPT_MAX_REQ:
        rc = cli_parse_u64("--max-requests", arg, &au->max_req);
        au->has_req = true;
        break;
    case OPT_MAX_ERR:
        rc = cli_parse_rate("--max-error-rate", arg, 1.0, &au->max_err);
        au->has_err = true;
        break;
    case OPT_MAX_P95:
        rc = cli_parse_u64("--max-p95-ms", arg, &au->max_p95_ms);
        au->has_p95 = true;
        break;
    case OPT_BASELINE: au->baseline = arg; break;
    case OPT_MAX_INC:
        rc = cli_parse_rate("--max-increase", arg, 1000.0, &au->max_inc);
        au->has_inc = true;
        break;
    case OPT_JUNIT: au->junit = arg; break;
    case OPT_MARKDOWN: au->markdown = arg; break;
    default: return 1;
    }
    return rc;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_audit(int argc, char **argv)
{
    ana_ctx c = { .cmd = "audit" };
    struct audit au;
    memset(&au, 0, sizeof au);
    agg_acc a;
    agg_acc_init(&a, AGG_LATENCY | AGG_TTFT);
    agg_groups_init(&au.tests, 0);
    agg_groups_init(&au.base_tests, 0);

    int rc = cli_parse(&c, &cmd, argc, argv, &au);
    if (rc || c.help)
        goto out;
    rc = CLI_EXIT_MISUSE;
    if (au.has_inc != (au.baseline != NULL)) {
        cli_misuse(au.has_inc ? "--max-increase: needs --baseline STORE|FILE"
                              : "--baseline: needs --max-increase (e.g. 10%%)");
        goto out;
    }
    if (!au.has_cost && !au.has_req && !au.has_err && !au.has_p95 && !au.baseline) {
        cli_misuse("audit: no check given (use --max-cost, --max-requests, --max-error-rate, "
                   "--max-p95-ms or --baseline with --max-increase)");
        goto out;
    }
    char store[PATH_MAX];
    query_stats st;
    if ((rc = scan_store(&c, NULL, &a, &au.tests, &st, store, sizeof store)))
        goto out;
    int64_t base_nusd = 0;
    uint64_t base_unpriced = 0;
    if (au.baseline && (rc = baseline_cost(&c, au.baseline, &base_nusd, &base_unpriced,
                                           &au.base_tests, &au.base_has_tests)))
        goto out;
    if (au.baseline && au.base_has_tests &&
        tc_grown_list(&au.tests, &au.base_tests, au.max_inc, &au.grown, &au.ngrown)) {
        rc = cli_misuse("audit: out of memory");
        goto out;
    }
    summary_pct pct;
    summary_percentiles(&a, &pct);
    run_checks(&au, &a, &pct, au.baseline != NULL, base_nusd, base_unpriced);
    int failed = 0;
    for (int i = 0; i < au.n; i++)
        failed += !au.checks[i].pass;
    bool pass = failed == 0;

    if (au.junit && (rc = write_junit(au.junit, &au, store, &a)))
        goto out;
    if (au.markdown && (rc = write_markdown(au.markdown, &au, store, &a, pass)))
        goto out;

    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", store);
        char sel[1024];
        query_filter_describe(&c.filter, true, sel, sizeof sel);
        jw_kstr(&w, "selection", sel);
        jw_kstr(&w, "run", c.filter.run ? c.filter.run : st.run);
        jw_kstr(&w, "verdict", pass ? "pass" : "fail");
        jw_kuint(&w, "failed", (uint64_t)failed);
        jw_key(&w, "checks");
        jw_arr(&w);
        for (int i = 0; i < au.n; i++) {
            const struct check *k = &au.checks[i];
            jw_obj(&w);
            jw_kstr(&w, "name", k->name);
            jw_kdouble(&w, "limit", k->limit_num);
            jw_kdouble(&w, "actual", k->actual_num);
            jw_kstr(&w, "limit_text", k->limit);
            jw_kstr(&w, "actual_text", k->actual);
            jw_kbool(&w, "pass", k->pass);
            jw_kstr(&w, "message", k->message);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        if (au.baseline) {
            jw_key(&w, "baseline");
            jw_obj(&w);
            jw_kstr(&w, "source", au.baseline);
            jw_kint(&w, "cost_nusd", base_nusd);
            jw_kuint(&w, "unpriced_requests", base_unpriced);
            jw_kbool(&w, "has_tests", au.base_has_tests);
            jw_obj_end(&w);
            jw_key(&w, "tests_grown");
            jw_arr(&w);
            for (size_t i = 0; i < au.ngrown; i++) {
                jw_obj(&w);
                jw_kstr(&w, "test", au.grown[i].test);
                jw_kint(&w, "baseline_cost_nusd", au.grown[i].base_nusd);
                jw_kint(&w, "cost_nusd", au.grown[i].cur_nusd);
                jw_kuint(&w, "baseline_requests", au.grown[i].base_req);
                jw_kuint(&w, "requests", au.grown[i].cur_req);
                jw_kbool(&w, "new", au.grown[i].is_new);
                jw_obj_end(&w);
            }
            jw_arr_end(&w);
        }
        tc_json(&w, &au.tests);
        jw_kuint(&w, "undecodable", st.undecodable);
        jw_key(&w, "summary");
        jw_obj(&w);
        summary_json(&w, &a, &pct);
        jw_obj_end(&w);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else {
        static const table_col cols[] = {
            { "CHECK", "check", 0 },
            { "LIMIT", "limit", TBL_RIGHT },
            { "ACTUAL", "actual", TBL_RIGHT | TBL_SHRINK },
            { "RESULT", "result", TBL_RAW },
        };
        bool color = c.fmt == CLI_TEXT && table_color(stdout);
        if (c.fmt == CLI_TEXT) {
            char b1[FMT_NUM];
            hc_buf safe = HC_BUF_INIT;
            fmt_term(&safe, store, strlen(store), 0);
            const char *run = c.filter.run ? c.filter.run : st.run;
            if (*run) {
                hc_buf rs = HC_BUF_INIT;
                fmt_term(&rs, run, strlen(run), 0);
                table_textf(stdout, 2, "hc-analyze audit — %s, run %s (%s requests)\n", safe.data,
                            rs.data, fmt_int(b1, (int64_t)a.requests));
                hc_buf_free(&rs);
            } else
                table_textf(stdout, 2, "hc-analyze audit — %s (%s requests)\n", safe.data,
                            fmt_int(b1, (int64_t)a.requests));
            hc_buf_free(&safe);
        }
        table *t = table_new(stdout, c.fmt, cols, 4);
        for (int i = 0; i < au.n; i++) {
            const struct check *k = &au.checks[i];
            table_cell(t, k->name);
            table_cell(t, k->limit);
            table_cell(t, k->actual);
            /* Colour codes would break the column width count; colour the word only
             * through a separate verdict line below. */
            table_cell(t, k->pass ? "PASS" : "FAIL");
        }
        table_end(t);
        if (c.fmt == CLI_TEXT) {
            const char *on = color ? (pass ? "\033[1;32m" : "\033[1;31m") : "",
                       *off = color ? "\033[0m" : "";
            char rest[64];
            if (pass)
                snprintf(rest, sizeof rest, "(%d check%s)", au.n, au.n == 1 ? "" : "s");
            else
                snprintf(rest, sizeof rest, "(%d of %d checks failed)", failed, au.n);
            /* "verdict: PASS" is 13 columns; the rest goes on its own line if
             * the terminal is narrower than the whole (the colour codes are
             * why this is not table_textf). */
            int term = table_term_width(stdout);
            bool split = term > 0 && 14 + strlen(rest) > (size_t)term;
            printf("%sverdict: %s%s%s", on, pass ? "PASS" : "FAIL", off, split ? "\n" : " ");
            table_textf(stdout, 0, "%s\n", rest);
            if (au.baseline && !au.base_has_tests)
                table_textf(
                    stdout, 0,
                    "the baseline has no cost per test (not an 'audit --json' of this version)\n");
            char rb[FMT_NUM];
            if (au.ngrown)
                table_textf(stdout, 0, "tests whose cost grew more than +%s:\n",
                            fmt_rate(rb, au.max_inc));
            for (size_t i = 0; i < au.ngrown; i++) {
                char g[600];
                hc_buf safe = HC_BUF_INIT;
                tc_grown_text(&au.grown[i], g, sizeof g);
                fmt_term(&safe, g, strlen(g), 0);
                table_textf(stdout, 2, "%s\n", safe.data ? safe.data : "");
                hc_buf_free(&safe);
            }
        }
    }
    rc = pass ? CLI_EXIT_OK : CLI_EXIT_NO;
out:
    agg_acc_free(&a);
    agg_groups_free(&au.tests);
    agg_groups_free(&au.base_tests);
    free(au.grown);
    query_filter_free(&c.filter);
    return rc;
}
