/* cmd_check.c — `hc-analyze check`: verify a store page by page and say what
 * is wrong where. The walk itself is common/storecheck.c (read with pread,
 * never mapped, so a damaged store cannot crash the check). */
#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "jsonw.h"
#include "table.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

static const char usage[] =
    "usage: hc-analyze check [options]\n"
    "\n"
    "Verify the store page by page, reading the file without mapping it: both\n"
    "meta pages, then every page reachable from them (the free list, every\n"
    "table, every overflow chain): header, bounds, node offsets, key order,\n"
    "depth, page and entry counts, free pages not in use. Prints each problem\n"
    "with its page number and table (the first 100), then a summary.\n"
    "A damaged store can be rescued with 'hc-analyze salvage OUT'.\n"
    "\n" CLI_HELP_DB "  --json, --csv      print the result as JSON / the problems as CSV\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status 0 if the store is sound, 2 if it is damaged or unreadable.\n";

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    { 0 },
};

typedef struct problems {
    enum cli_fmt fmt;
    const char *path;
    jw *w;
} problems;

static void on_problem(void *ctx, const char *msg)
{
    problems *p = ctx;
    if (p->fmt == CLI_JSON)
        jw_str(p->w, msg);
    else if (p->fmt == CLI_CSV) {
        table_csv_field(stdout, msg);
        fputs("\r\n", stdout);
    } else
        printf("%s: %s\n", p->path, msg);
}

static const cli_cmd cmd = { usage, opts, NULL };

int cmd_check(int argc, char **argv)
{
    ana_ctx c = { .cmd = "check" };
    int rc;

    rc = cli_parse(&c, &cmd, argc, argv, NULL);
    if (rc || c.help)
        goto out;
    char path[PATH_MAX], err[PATH_MAX + 256] = "";
    if ((rc = cli_store_path(&c, path, sizeof path)))
        goto out;
    jw w;
    problems pr = { .fmt = c.fmt, .path = path, .w = &w };
    if (c.fmt == CLI_JSON) {
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", path);
        jw_key(&w, "problems");
        jw_arr(&w);
    } else if (c.fmt == CLI_CSV)
        fputs("problem\r\n", stdout);
    hc_check_result res;
    int e = hc_store_verify(path, on_problem, NULL, &pr, &res, err, sizeof err);
    if (c.fmt == CLI_JSON) {
        jw_arr_end(&w);
        jw_kbool(&w, "ok", e == 0);
        jw_kuint(&w, "problem_count", res.problems);
        jw_kuint(&w, "pages_checked", res.pages_read);
        jw_kuint(&w, "file_bytes", res.file_size);
        jw_kuint(&w, "page_size", res.psize);
        jw_kuint(&w, "txnid", res.txnid);
        jw_obj_end(&w);
        jw_end_doc(&w);
    }
    if (e == HC_EPARSE) {
        if (c.fmt == CLI_TEXT && res.problems > HC_CHECK_MAX_REPORTS)
            printf("%s: ... and %" PRIu64 " more problems\n", path,
                   res.problems - HC_CHECK_MAX_REPORTS);
        rc = cli_misuse("%s: damaged store: %" PRIu64
                        " problem%s, the first: %s (rescue what can be read with "
                        "'hc-analyze salvage OUT')",
                        path, res.problems, res.problems == 1 ? "" : "s", res.first);
        goto out;
    }
    if (e) {
        rc = cli_misuse("%s", err[0] ? err : path);
        goto out;
    }
    if (c.fmt == CLI_TEXT)
        printf("%s: ok (%" PRIu64 " pages checked, %" PRIu64
               " bytes, page size %u, transaction %" PRIu64 ")\n",
               path, res.pages_read, res.file_size, res.psize, res.txnid);
    rc = 0;
out:
    query_filter_free(&c.filter);
    return rc;
}
