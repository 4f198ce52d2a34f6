/* cmd_compact.c — `hc-analyze compact`: rewrite the store without its free
 * pages, so that what prune and cache clear deleted is gone from the file and
 * data.mdb shrinks to its live data. The work and its safety argument are in
 * common/store.c (hc_store_compact). */
#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "fmt.h"
#include "jsonw.h"
#include "table.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

static const char usage[] =
    "usage: hc-analyze compact [-o DIR] [options]\n"
    "\n"
    "Rewrite the store without its free pages. LMDB reuses the pages that prune\n"
    "and cache clear free but neither wipes nor returns them: deleted prompts can\n"
    "stay in data.mdb and the file never shrinks. After compact they are gone and\n"
    "data.mdb holds only live data.\n"
    "\n"
    "In place (the default), no other process may have the store open: stop the\n"
    "programs recording into it (and hc-analyze serve) first; compact refuses,\n"
    "changing nothing, if one does. The swap to the compacted store is atomic.\n"
    "\n"
    "  -o DIR             write a compacted copy into the new directory DIR\n"
    "                     instead; works while programs record (a snapshot)\n" CLI_HELP_DB
    "  --json, --csv      print the sizes as JSON / CSV\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status 2 if the store is in use or cannot be rewritten.\n";

enum { OPT_OUT = OPT_CMD };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    { "output", 'o', true, OPT_OUT },
    { 0 },
};

static int own(void *self, int id, const char *arg)
{
    if (id != OPT_OUT)
        return 1;
    if (!*arg)
        return cli_misuse("-o: expected a directory that does not exist yet, got ''");
    *(const char **)self = arg;
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_compact(int argc, char **argv)
{
    ana_ctx c = { .cmd = "compact" };
    const char *dest = NULL;
    int rc;

    rc = cli_parse(&c, &cmd, argc, argv, &dest);
    if (rc || c.help)
        goto out;
    char path[PATH_MAX], err[PATH_MAX + 256] = "";
    if ((rc = cli_store_path(&c, path, sizeof path)))
        goto out;
    uint64_t before, after;
    if (hc_store_compact(path, dest, &before, &after, err, sizeof err) != 0) {
        rc = cli_misuse("%s", err);
        goto out;
    }
    const char *result = dest ? dest : path;
    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", path);
        jw_kstr(&w, "written", result);
        jw_kbool(&w, "in_place", !dest);
        jw_kuint(&w, "bytes_before", before);
        jw_kuint(&w, "bytes_after", after);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else if (c.fmt == CLI_CSV) {
        printf("store,written,in_place,bytes_before,bytes_after\r\n");
        table_csv_field(stdout, path);
        putchar(',');
        table_csv_field(stdout, result);
        printf(",%d,%" PRIu64 ",%" PRIu64 "\r\n", !dest, before, after);
    } else {
        char b1[FMT_NUM], b2[FMT_NUM];
        printf("%s: compacted %s → %s%s%s\n", path, fmt_bytes(b1, before), fmt_bytes(b2, after),
               dest ? " into " : "", dest ? dest : "");
    }
    rc = 0;
out:
    query_filter_free(&c.filter);
    return rc;
}
