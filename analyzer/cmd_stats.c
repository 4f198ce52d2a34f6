/* cmd_stats.c — `hc-analyze stats`: what is in the store and how big it is.
 *
 * Reads every record (to count the undecodable ones) and the headers of every
 * body (stored and original sizes) but never decompresses a body. */
#include "cli.h"
#include "cmds.h"
#include "fmt.h"
#include "jsonw.h"
#include "table.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: hc-analyze stats [options]\n"
    "\n"
    "Store path, data.mdb size, map size, page usage per table, record count\n"
    "(and undecodable ones), body count and bytes (stored and original), schema\n"
    "version, creation time, oldest and newest record.\n"
    "\n" CLI_HELP_COMMON;

static const cli_opt opts[] = { CLI_COMMON_OPTS, { 0 } };

static const char *const tables[HC_T__N] = { "meta", "records", "bodies", "cache", "counters" };

struct info {
    char path[PATH_MAX];
    uint64_t file_bytes, map_bytes, page_size, pages_used, map_pages, readers, max_readers;
    MDB_stat tstat[HC_T__N];
    uint64_t records, undecodable, record_bytes;
    uint64_t bodies, body_bytes, body_raw_bytes, body_truncated, body_compressed;
    int64_t oldest_us, newest_us;
    int has_schema;
    uint32_t schema;
    int has_created;
    int64_t created_us;
};

/* mdb_reader_list prints a header line, then one line per slot in use. */
static int count_reader(const char *line, void *ctx)
{
    if (strncmp(line, "    pid", 7) != 0 && strstr(line, "(no active readers)") == NULL)
        (*(int *)ctx)++;
    return 0;
}

static int gather(hc_store *s, struct info *in)
{
    MDB_env *env = hc_store_env(s);
    MDB_envinfo ei;
    MDB_stat es;
    struct stat st;
    snprintf(in->path, sizeof in->path, "%s", hc_store_path(s));
    char data[PATH_MAX + 16];
    snprintf(data, sizeof data, "%s/data.mdb", in->path);
    if (stat(data, &st) == 0)
        in->file_bytes = (uint64_t)st.st_size;
    mdb_env_info(env, &ei);
    mdb_env_stat(env, &es);
    in->map_bytes = ei.me_mapsize;
    in->page_size = es.ms_psize;
    in->pages_used = ei.me_last_pgno + 1;
    in->map_pages = es.ms_psize ? ei.me_mapsize / es.ms_psize : 0;
    /* me_numreaders is a high-water mark; count the slots held right now
     * (stale ones were released when the store was opened). */
    int live = 0;
    mdb_reader_list(env, count_reader, &live);
    in->readers = (uint64_t)live;
    in->max_readers = ei.me_maxreaders;
    MDB_txn *txn;
    if (hc_store_txn_begin(s, false, &txn))
        return -1;
    for (int t = 0; t < HC_T__N; t++)
        mdb_stat(txn, hc_store_dbi(s, (enum hc_table)t), &in->tstat[t]);
    MDB_dbi meta = hc_store_dbi(s, HC_T_META);
    MDB_val k = { 6, "schema" }, v;
    if (mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 4) {
        memcpy(&in->schema, v.mv_data, 4);
        in->has_schema = 1;
    }
    MDB_val ck = { 7, "created" };
    if (mdb_get(txn, meta, &ck, &v) == 0 && v.mv_size == 8) {
        memcpy(&in->created_us, v.mv_data, 8);
        in->has_created = 1;
    }
    in->oldest_us = INT64_MAX;
    in->newest_us = INT64_MIN;
    MDB_cursor *cur;
    int rc = -1;
    if (mdb_cursor_open(txn, hc_store_dbi(s, HC_T_RECORDS), &cur) == 0) {
        hc_record r;
        for (int m = mdb_cursor_get(cur, &k, &v, MDB_FIRST); m == 0;
             m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            in->records++;
            in->record_bytes += v.mv_size;
            if (k.mv_size != HC_UUID_LEN || hc_record_decode(v.mv_data, v.mv_size, &r) != 0) {
                in->undecodable++;
                continue;
            }
            if (r.start_us < in->oldest_us)
                in->oldest_us = r.start_us;
            if (r.start_us > in->newest_us)
                in->newest_us = r.start_us;
        }
        mdb_cursor_close(cur);
        rc = 0;
    }
    if (rc == 0 && mdb_cursor_open(txn, hc_store_dbi(s, HC_T_BODIES), &cur) == 0) {
        for (int m = mdb_cursor_get(cur, &k, &v, MDB_FIRST); m == 0;
             m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            const uint8_t *p = v.mv_data;
            in->bodies++;
            in->body_bytes += v.mv_size;
            uint64_t raw;
            if (v.mv_size >= 3 && hc_varint_get(p + 2, v.mv_size - 2, &raw)) {
                in->body_raw_bytes += raw;
                in->body_truncated += p[1] & 1;
                in->body_compressed += p[0] == 1;
            }
        }
        mdb_cursor_close(cur);
    } else {
        rc = -1;
    }
    hc_store_txn_abort(s, txn);
    return rc;
}

static const cli_cmd cmd = { usage, opts, NULL };

int cmd_stats(int argc, char **argv)
{
    ana_ctx c = { .cmd = "stats" };
    int rc;
    hc_store *s = NULL;
    static struct info in;

    rc = cli_parse(&c, &cmd, argc, argv, NULL);
    if (rc || c.help)
        goto out;
    if ((rc = cli_open_store(&c, &s)))
        goto out;
    if (gather(s, &in)) {
        rc = cli_misuse("%s: reading the store failed", hc_store_path(s));
        goto out;
    }
    char t1[40], t2[40];
    bool any = in.records > in.undecodable;
    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", in.path);
        jw_kuint(&w, "file_bytes", in.file_bytes);
        jw_kuint(&w, "map_bytes", in.map_bytes);
        jw_kuint(&w, "page_size", in.page_size);
        jw_kuint(&w, "pages_used", in.pages_used);
        jw_kuint(&w, "map_pages", in.map_pages);
        jw_key(&w, "schema");
        if (in.has_schema)
            jw_uint(&w, in.schema);
        else
            jw_null(&w);
        jw_key(&w, "created");
        if (in.has_created)
            jw_str(&w, fmt_time_iso(t1, in.created_us));
        else
            jw_null(&w);
        jw_kuint(&w, "records", in.records);
        jw_kuint(&w, "undecodable", in.undecodable);
        jw_kuint(&w, "record_bytes", in.record_bytes);
        jw_kuint(&w, "bodies", in.bodies);
        jw_kuint(&w, "body_bytes", in.body_bytes);
        jw_kuint(&w, "body_original_bytes", in.body_raw_bytes);
        jw_kuint(&w, "bodies_compressed", in.body_compressed);
        jw_kuint(&w, "bodies_truncated", in.body_truncated);
        jw_key(&w, "oldest");
        if (any)
            jw_str(&w, fmt_time_iso(t1, in.oldest_us));
        else
            jw_null(&w);
        jw_key(&w, "newest");
        if (any)
            jw_str(&w, fmt_time_iso(t2, in.newest_us));
        else
            jw_null(&w);
        jw_kuint(&w, "readers", in.readers);
        jw_key(&w, "tables");
        jw_obj(&w);
        for (int t = 0; t < HC_T__N; t++) {
            jw_key(&w, tables[t]);
            jw_obj(&w);
            jw_kuint(&w, "entries", in.tstat[t].ms_entries);
            jw_kuint(&w, "depth", in.tstat[t].ms_depth);
            jw_kuint(&w, "branch_pages", in.tstat[t].ms_branch_pages);
            jw_kuint(&w, "leaf_pages", in.tstat[t].ms_leaf_pages);
            jw_kuint(&w, "overflow_pages", in.tstat[t].ms_overflow_pages);
            jw_obj_end(&w);
        }
        jw_obj_end(&w);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else {
        static const table_col cols[] = {
            { "TABLE", "table", 0 },
            { "ENTRIES", "entries", TBL_RIGHT },
            { "DEPTH", "depth", TBL_RIGHT },
            { "BRANCH", "branch_pages", TBL_RIGHT },
            { "LEAF", "leaf_pages", TBL_RIGHT },
            { "OVERFLOW", "overflow_pages", TBL_RIGHT },
            { "SIZE", "bytes", TBL_RIGHT },
        };
        char b1[FMT_NUM], b2[FMT_NUM], b3[FMT_NUM], b4[FMT_NUM];
        if (c.fmt == CLI_TEXT) {
            table_text tt;
            FILE *o = table_text_begin(&tt, stdout, 12);
            hc_buf safe = HC_BUF_INIT;
            fmt_term(&safe, in.path, strlen(in.path), 0);
            fprintf(o, "Store       %s\n", fmt_built(&safe));
            hc_buf_free(&safe);
            fprintf(o, "File        data.mdb %s, map %s, page size %" PRIu64 "\n",
                    fmt_bytes(b1, in.file_bytes), fmt_bytes(b2, in.map_bytes), in.page_size);
            fprintf(o, "Pages       %s used of %s in the map (%s)\n",
                    fmt_int(b1, (int64_t)in.pages_used), fmt_int(b2, (int64_t)in.map_pages),
                    fmt_pct(b3, in.pages_used, in.map_pages));
            if (in.has_schema)
                fprintf(o, "Schema      %u%s\n", in.schema, in.has_created ? "" : "");
            if (in.has_created)
                fprintf(o, "Created     %s UTC\n", fmt_time(t1, in.created_us));
            fprintf(o, "Records     %s (%s)", fmt_int(b1, (int64_t)in.records),
                    fmt_bytes(b2, in.record_bytes));
            if (in.undecodable)
                fprintf(o, ", %s undecodable", fmt_int(b3, (int64_t)in.undecodable));
            fputc('\n', o);
            fprintf(o, "Bodies      %s, %s stored, %s original (%s compressed, %s truncated)\n",
                    fmt_int(b1, (int64_t)in.bodies), fmt_bytes(b2, in.body_bytes),
                    fmt_bytes(b3, in.body_raw_bytes), fmt_int(b4, (int64_t)in.body_compressed),
                    fmt_int((char[FMT_NUM]){ 0 }, (int64_t)in.body_truncated));
            if (any)
                fprintf(o, "Oldest      %s UTC\nNewest      %s UTC\n", fmt_time(t1, in.oldest_us),
                        fmt_time(t2, in.newest_us));
            fprintf(o, "Readers     %" PRIu64 " of %" PRIu64 " slots in use\n\n", in.readers,
                    in.max_readers);
            table_text_end(&tt);
        }
        table *t = table_new(stdout, c.fmt, cols, sizeof cols / sizeof cols[0]);
        for (int i = 0; i < HC_T__N; i++) {
            const MDB_stat *ts = &in.tstat[i];
            uint64_t pages = ts->ms_branch_pages + ts->ms_leaf_pages + ts->ms_overflow_pages;
            table_cell(t, tables[i]);
            snprintf(b1, sizeof b1, "%zu", ts->ms_entries);
            table_cell2(t, fmt_int(b2, (int64_t)ts->ms_entries), b1);
            snprintf(b1, sizeof b1, "%u", ts->ms_depth);
            table_cell(t, b1);
            snprintf(b1, sizeof b1, "%zu", ts->ms_branch_pages);
            table_cell(t, b1);
            snprintf(b1, sizeof b1, "%zu", ts->ms_leaf_pages);
            table_cell(t, b1);
            snprintf(b1, sizeof b1, "%zu", ts->ms_overflow_pages);
            table_cell(t, b1);
            snprintf(b1, sizeof b1, "%" PRIu64, pages * in.page_size);
            table_cell2(t, fmt_bytes(b2, pages * in.page_size), b1);
        }
        table_end(t);
    }
    rc = 0;
out:
    cli_close_store(s);
    query_filter_free(&c.filter);
    return rc;
}
