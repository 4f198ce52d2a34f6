/* cmd_import.c — `hc-analyze import FILE...`: the inverse of `export`.
 *
 * Reads JSON Lines (one record object per line, as export --format jsonl
 * writes them, bodies included when present) into the store, creating it if
 * needed. Ids already present are skipped, so importing twice adds nothing.
 * The first malformed line stops the import with "FILE:LINE: reason" (exit 2);
 * the batches written before it stay (a re-run after fixing is harmless). */
#include "batch.h"
#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "fmt.h"
#include "jsonw.h"
#include "table.h"
#include "recjson.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: hc-analyze import [options] FILE...\n"
    "\n"
    "Add the records of JSON Lines files (as written by `export --format jsonl`,\n"
    "with --bodies if the bodies should come along) to the store, creating it if\n"
    "needed. '-' reads standard input. Ids already present are skipped.\n"
    "\n" CLI_HELP_DB "  --json, --csv      print the counts as JSON / CSV\n"
    "  -h, --help         this help\n";

static const cli_opt opts[] = { CLI_COMMON_OPTS, { 0 } };

static int encode_body(const cJSON *obj, const char *key, const char *tkey, hc_buf *out, bool *has)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, key);
    *has = false;
    hc_buf_reset(out);
    if (!b || cJSON_IsNull(b))
        return 0;
    if (!cJSON_IsString(b))
        return HC_EINVAL;
    bool trunc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, tkey));
    *has = true;
    return hc_body_encode(b->valuestring, strlen(b->valuestring), trunc, out);
}

static int import_file(const char *name, batch *b, uint64_t *lines)
{
    FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
    if (!f)
        return cli_misuse("import: %s: %s", name, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    int rc = 0;
    hc_buf props = HC_BUF_INIT, rl = HC_BUF_INIT, enc = HC_BUF_INIT, q = HC_BUF_INIT,
           r = HC_BUF_INIT;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (!len)
            continue;
        cJSON *obj = cJSON_ParseWithLength(line, len);
        char err[256];
        hc_record rec;
        if (!obj) {
            rc = cli_misuse("import: %s:%lu: not valid JSON", name, lineno);
            break;
        }
        bool hq, hr;
        int e = recjson_read(obj, &rec, &props, &rl, err, sizeof err);
        if (e == 0 && (encode_body(obj, "request_body", "request_truncated", &q, &hq) ||
                       encode_body(obj, "response_body", "response_truncated", &r, &hr))) {
            snprintf(err, sizeof err,
                     "\"request_body\"/\"response_body\": expected a string or null");
            e = HC_EINVAL;
        }
        if (e == 0) {
            hc_buf_reset(&enc);
            if (hc_record_encode(&rec, &enc))
                e = HC_ENOMEM;
        }
        if (e) {
            cJSON_Delete(obj);
            rc = cli_misuse("import: %s:%lu: %s", name, lineno,
                            e == HC_ENOMEM ? "out of memory" : err);
            break;
        }
        e = batch_add(b, rec.id, enc.data, enc.len, hq ? q.data : NULL, q.len, hr ? r.data : NULL,
                      r.len);
        cJSON_Delete(obj);
        if (e) {
            rc = cli_misuse("%s: writing failed: %s", hc_store_path(b->s), hc_strerror(e));
            break;
        }
        (*lines)++;
    }
    if (!rc && ferror(f))
        rc = cli_misuse("import: %s: read error", name);
    if (!rc) {
        int e = batch_flush(b);
        if (e)
            rc = cli_misuse("%s: writing failed: %s", hc_store_path(b->s), hc_strerror(e));
    }
    free(line);
    hc_buf_free(&props);
    hc_buf_free(&rl);
    hc_buf_free(&enc);
    hc_buf_free(&q);
    hc_buf_free(&r);
    if (f != stdin)
        fclose(f);
    return rc;
}

struct args {
    const char *files[256];
    int nf;
};

static int own(void *self, int id, const char *arg)
{
    struct args *a = self;
    if (id != CLI_POS)
        return 1;
    if (a->nf == (int)(sizeof a->files / sizeof a->files[0]))
        return cli_misuse("import: at most %zu files", sizeof a->files / sizeof a->files[0]);
    a->files[a->nf++] = arg;
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_import(int argc, char **argv)
{
    ana_ctx c = { .cmd = "import" };
    struct args a = { .nf = 0 };
    int rc;
    hc_store *s = NULL;
    batch b;
    memset(&b, 0, sizeof b);

    rc = cli_parse(&c, &cmd, argc, argv, &a);
    if (rc || c.help)
        goto done;
    rc = CLI_EXIT_MISUSE;
    if (!a.nf) {
        cli_misuse("import: expected at least one FILE.jsonl ('-' for standard input)");
        goto done;
    }
    char path[PATH_MAX];
    if ((rc = cli_store_path(&c, path, sizeof path)))
        goto done;
    if ((rc = cli_open_store_rw(path, true, &s)))
        goto done;
    if (batch_init(&b, s, hc_store_dbi(s, HC_T_RECORDS))) {
        rc = cli_misuse("import: out of memory");
        goto done;
    }
    uint64_t lines = 0;
    for (int i = 0; i < a.nf; i++)
        if ((rc = import_file(a.files[i], &b, &lines)))
            goto done;
    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", path);
        jw_kuint(&w, "records", lines);
        jw_kuint(&w, "added", b.added);
        jw_kuint(&w, "skipped", b.skipped);
        jw_kuint(&w, "bodies", b.bodies);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else if (c.fmt == CLI_CSV) {
        printf("store,records,added,skipped,bodies\r\n");
        table_csv_field(stdout, path);
        printf(",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\r\n", lines, b.added, b.skipped,
               b.bodies);
    } else {
        char n1[FMT_NUM], n2[FMT_NUM], n3[FMT_NUM];
        printf("%s: %s records added (%s bodies), %s already present\n", path,
               fmt_int(n1, (int64_t)b.added), fmt_int(n3, (int64_t)b.bodies),
               fmt_int(n2, (int64_t)b.skipped));
    }
    rc = 0;
done:
    batch_free(&b);
    if (s)
        hc_store_close(s);
    return rc;
}
