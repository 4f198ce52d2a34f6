/* cmd_html.c — `hc-analyze html`: the dashboard as one self-contained HTML file.
 *
 * Reads one snapshot (a single read transaction), computes the dashboard
 * document (dashboard.h) and writes the page (webpage.h) with the document
 * embedded. The file is written next to its destination and renamed into
 * place, so a browser or a CI artifact upload never sees half a report; it
 * is created 0600 like the store, because it holds prompts and responses. */
#include "cli.h"
#include "cmds.h"
#include "dashboard.h"
#include "err.h"
#include "fmt.h"
#include "jsonw.h"
#include "webpage.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: hc-analyze html [-o FILE] [options]\n"
    "\n"
    "The dashboard as one self-contained HTML file: spend over time by model, cost\n"
    "by model, user and property, latency distribution, error and cache-hit rates,\n"
    "rate limits, and a filterable, sortable table of the newest requests whose\n"
    "rows open the whole prompt and response. No network: open it from disk.\n"
    "\n"
    "  -o, --output FILE  write FILE (created 0600: it holds prompts); without -o or\n"
    "                     with '-', stdout (refused when stdout is a terminal)\n" DASH_HELP_OPTS
    "  --json             print the dashboard's data document (JSON) instead\n"
    "                     (--csv is refused, exit 2: the page is not a table)\n" CLI_HELP_DB
    "  -h, --help         this help\n" CLI_HELP_FILTERS "\n"
    "Charts cover every matching record; the table holds the newest --limit of\n"
    "them, each prompt, response and raw body cut at --body-max bytes (so the\n"
    "file stays below about limit x 4 x body-max).\n";

enum { OPT_OUTPUT = OPT_CMD };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS, CLI_FILTER_OPTS, DASH_CLI_OPTS, { "output", 'o', true, OPT_OUTPUT }, { 0 },
};

struct job {
    const dash_src *src;
    const dash_opts *o;
    dash_result res;
    char err[256];
};

static int write_doc(void *ctx, FILE *json)
{
    struct job *j = ctx;
    jw w;
    jw_init(&w, json, false);
    return dash_document(&w, j->src, j->o, &j->res, j->err, sizeof j->err);
}

/* Write the page (or the JSON document) to f. 0 or an HC_E* (j->err says why
 * for dashboard errors). */
static int produce(FILE *f, bool json, struct job *j)
{
    if (!json)
        return webpage_write(f, WEBPAGE_STATIC, write_doc, j);
    jw w;
    jw_init(&w, f, true);
    int rc = dash_document(&w, j->src, j->o, &j->res, j->err, sizeof j->err);
    jw_end_doc(&w);
    if (!rc && (fflush(f) != 0 || ferror(f)))
        rc = HC_EIO;
    return rc;
}

struct args {
    dash_opts *o;
    dash_terms *terms;
    const char *output; /* -o FILE; NULL: stdout */
};

static int own(void *self, int id, const char *arg)
{
    struct args *a = self;
    int h;
    if (dash_terms_add(a->terms, id, arg) < 0 || (h = dash_cli_opt(a->o, id, arg)) < 0)
        return CLI_EXIT_MISUSE;
    if (h)
        return 0;
    if (id != OPT_OUTPUT)
        return 1;
    if (!*arg)
        return cli_misuse("html: -o: expected a file name, got ''");
    a->output = strcmp(arg, "-") == 0 ? NULL : arg;
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_html(int argc, char **argv)
{
    ana_ctx c = { .cmd = "html", .property_name = true };
    dash_opts o;
    dash_terms terms = { .n = 0 };
    int rc;
    hc_store *s = NULL;
    MDB_txn *txn = NULL;
    char *tmp = NULL;
    FILE *f = NULL;

    dash_opts_init(&o);
    o.details = true;
    struct args args = { &o, &terms, NULL };
    rc = cli_parse(&c, &cmd, argc, argv, &args);
    if (rc || c.help)
        goto out;
    rc = CLI_EXIT_MISUSE;
    if (c.fmt == CLI_CSV) {
        cli_misuse(
            "html: --csv does not apply: html writes one HTML page (or, with --json, its data "
            "document), not a table");
        goto out;
    }
    if (!args.output && c.fmt != CLI_JSON && isatty(STDOUT_FILENO)) {
        cli_misuse("html: refusing to write HTML to a terminal; give -o FILE");
        goto out;
    }
    if ((rc = cli_open_store(&c, &s)))
        goto out;
    if (hc_store_txn_begin(s, false, &txn)) {
        rc = cli_misuse("%s: cannot start a read transaction", hc_store_path(s));
        goto out_store;
    }
    if (args.output) {
        size_t n = strlen(args.output) + 16;
        int fd = -1;
        if ((tmp = malloc(n))) {
            snprintf(tmp, n, "%s.tmpXXXXXX", args.output);
            fd = mkstemp(tmp);
        }
        if (fd < 0 || !(f = fdopen(fd, "w"))) {
            rc = cli_misuse("%s: %s", args.output, strerror(errno));
            if (fd >= 0) {
                close(fd);
                unlink(tmp);
            }
            goto out_txn;
        }
    }
    dash_src src = {
        .txn = txn,
        .recs = hc_store_dbi(s, HC_T_RECORDS),
        .bodies = hc_store_dbi(s, HC_T_BODIES),
        .store = hc_store_path(s),
        .f1 = &c.filter,
        .terms = &terms,
    };
    struct job j = { .src = &src, .o = &o };
    int prc = produce(f ? f : stdout, c.fmt == CLI_JSON, &j);
    if (f) {
        if (fclose(f) != 0 && !prc)
            prc = HC_EIO;
        f = NULL;
        if (!prc && rename(tmp, args.output) != 0)
            prc = HC_EIO;
        if (prc)
            unlink(tmp);
    }
    if (prc == HC_EIO)
        rc = cli_misuse("%s: write error: %s", args.output ? args.output : "stdout",
                        strerror(errno));
    else if (prc)
        rc = cli_misuse("html: %s", j.err[0] ? j.err : hc_strerror(prc));
    else {
        rc = 0;
        if (args.output) {
            struct stat sb = { .st_size = 0 };
            char a[FMT_NUM], b[FMT_NUM], kb[FMT_NUM];
            stat(args.output, &sb);
            fprintf(stderr, "hc-analyze: wrote %s: %s request%s, %s in the table, %s KiB\n",
                    args.output, fmt_int(a, (int64_t)j.res.matched), j.res.matched == 1 ? "" : "s",
                    fmt_int(b, (int64_t)j.res.shown),
                    fmt_int(kb, (int64_t)(sb.st_size + 1023) / 1024));
        }
    }
out_txn:
    hc_store_txn_abort(s, txn);
out_store:
    cli_close_store(s);
out:
    free(tmp);
    query_filter_free(&c.filter);
    return rc;
}
