/* cmd_cache.c — `hc-analyze cache`: what the gateway's response cache holds
 * and what it saved; `hc-analyze cache clear`: delete entries.
 *
 * Two sources, read in one read transaction (one consistent snapshot):
 *   - the "cache" table (common/cachefmt.h): one entry per key bucket, under
 *     SHA-256(group key || bucket), plus a 4-byte rotation counter (bucket
 *     0xFF) for groups with several buckets. Record filters do not apply to
 *     entries (an entry has no user, session or properties): the inventory
 *     always describes the whole table.
 *   - the records, filtered as everywhere. A record with cache_key set made
 *     a cache lookup. cache_key is the hex of the GROUP key, not of an entry
 *     key (those are derived per bucket with SHA-256, which the analyzer does
 *     not link), so lookups are grouped by cache_key, and an entry is tied to
 *     its group through the record whose answer it holds: the entry's
 *     orig_id -> that record -> its cache_key.
 *
 * `cache clear` is the only writing part: it deletes entries in write
 * transactions of BATCH_DEL_MAX deletions (batch.h, like prune), so the shim may keep
 * using the cache meanwhile; records are never touched. Definitions are in
 * docs/ANALYZER.md ("cache"). */
#include "agg.h"
#include "batch.h"
#include "cachefmt.h"
#include "cli.h"
#include "clock.h"
#include "cmds.h"
#include "err.h"
#include "fmt.h"
#include "jsonw.h"
#include "table.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_DEFAULT   10
#define ROTATION_SIZE 4 /* a rotation counter's value: u32 LE (core/cache.c) */

static const char usage[] =
    "usage: hc-analyze cache [--top N] [--entries] [options]\n"
    "       hc-analyze cache clear (--all | --expired | --older-than D | --model M)... "
    "[--dry-run]\n"
    "\n"
    "What the gateway's response cache holds: entries (live, expired, size) by\n"
    "model and host, the oldest and newest, the next expiry. Then, from the\n"
    "records: lookups (records with a cache key), hits, misses, the hit rate\n"
    "(hits / lookups), the savings of the hits, and the cache keys with the most\n"
    "hits (their answers stored and live entries).\n"
    "\n"
    "  --top N            cache keys shown (default 10; 0 = all)\n"
    "  --entries          list every entry instead, newest first\n" CLI_HELP_COMMON CLI_HELP_FILTERS
    "\n"
    "Filters select the records; the entries are always the whole cache table.\n"
    "--csv prints the cache-key table (with --entries: the entry list).\n"
    "Deleting entries: 'hc-analyze cache clear -h'.\n";

static const char usage_clear[] =
    "usage: hc-analyze cache clear (--all | --expired | --older-than D | --model M)... [--dry-run] "
    "[options]\n"
    "\n"
    "Delete response-cache entries (the store is opened read-write; records are\n"
    "never touched) and say how many entries and bytes were removed. At least one\n"
    "selector is required; given several, an entry must match each.\n"
    "\n"
    "  --all              everything in the cache table, rotation counters and\n"
    "                     undecodable values included (not combinable)\n"
    "  --expired          entries past their expiry\n"
    "  --older-than D     entries created more than D ago (30d, 12h, 2w)\n"
    "  --model M          entries for model M: a glob (gpt-4o*) on the entry's model\n"
    "                     or on the model requested or answered by the record whose\n"
    "                     answer it holds (repeatable, OR)\n"
    "  --dry-run          count what would be removed; change nothing\n" CLI_HELP_DB
    "  --json, --csv      print the counts as JSON / CSV\n"
    "  -h, --help         this help\n"
    "\n"
    "Rotation counters (4 bytes per multi-bucket key) only pick the bucket that\n"
    "answers next; they are removed by --all only.\n";

enum { OPT_TOP = OPT_CMD, OPT_ENTRIES };
enum { OPT_ALL = OPT_CMD, OPT_EXPIRED, OPT_OLDER, OPT_CMODEL, OPT_DRY_RUN };

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    { "top", 0, true, OPT_TOP },
    { "entries", 0, false, OPT_ENTRIES },
    { 0 },
};

static const cli_opt clear_opts[] = {
    CLI_COMMON_OPTS,
    { "all", 0, false, OPT_ALL },
    { "expired", 0, false, OPT_EXPIRED },
    { "older-than", 0, true, OPT_OLDER },
    { "model", 0, true, OPT_CMODEL },
    { "dry-run", 0, false, OPT_DRY_RUN },
    { 0 },
};

/* ---- shared helpers ---------------------------------------------------------- */

static void hex(const void *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A key shortened for a text table: the first 16 hex digits (64 bits are
 * plenty to tell keys apart by eye); CSV and JSON carry the full key. */
static const char *short_key(const char *k, char out[20])
{
    snprintf(out, 20, "%.16s", k);
    return out;
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

/* Per-group data hangs on agg_acc.user (agg.h leaves it to the caller). */
static void *group_data(agg_groups *g, const char *key, size_t size)
{
    agg_acc *a = agg_group(g, key, strlen(key));
    if (!a)
        return NULL;
    if (!a->user)
        a->user = calloc(1, size);
    return a->user;
}

static void free_group_data(agg_groups *g, void (*fn)(void *))
{
    for (size_t i = 0; i < g->n; i++) {
        if (fn && g->accs[i].user)
            fn(g->accs[i].user);
        free(g->accs[i].user);
        g->accs[i].user = NULL;
    }
}

/* ---- the view ---------------------------------------------------------------- */

/* Entries of one model or one host. */
struct tally {
    uint64_t entries, live, expired, bytes;
};

/* Lookups of one cache key (group). */
struct kgroup {
    uint64_t hits, misses, stored;
    uint64_t entries, live; /* entries in the table now whose answer came from this group */
    int64_t saved_nusd;
    int64_t first_us, last_us,
        last_hit_us;    /* start of the first / last lookup / last hit (0: none) */
    char *model, *host; /* of the first record seen: the key covers host and body */
};

static void kgroup_free(void *p)
{
    struct kgroup *k = p;
    free(k->model);
    free(k->host);
}

/* One entry, for --entries. */
struct erow {
    char key[2 * 64 + 1]; /* hex; keys are 32 bytes, longer ones are cut */
    char orig[HC_UUID_STRLEN + 1];
    char *model, *host, *path, *group; /* group: cache_key of the original record, or NULL */
    int64_t created_us, expires_us, cost_nusd;
    int status;
    bool streamed, live;
    uint64_t bytes;
};

struct view {
    int64_t now_us;
    bool list; /* --entries */
    bool oom;
    /* records */
    uint64_t lookups, hits, misses, stored, hits_no_key;
    int64_t saved_nusd;
    agg_groups groups; /* cache_key -> struct kgroup */
    /* entries */
    uint64_t entries, live, expired, bytes, live_bytes;
    uint64_t rotation, rotation_bytes, bad, bad_bytes;
    int64_t oldest_us, newest_us, next_expiry_us, last_expiry_us;
    agg_groups by_model, by_host; /* -> struct tally */
    struct erow *rows;
    size_t nrows, caprows;
};

static int on_record(void *ctx, const hc_record *r)
{
    struct view *v = ctx;
    bool hit = (r->flags & HC_REC_CACHE_HIT) != 0;
    if (!hit && !*r->cache_key)
        return 0;
    v->lookups++;
    if (hit) {
        v->hits++;
        v->saved_nusd += r->saved_nusd;
    } else {
        v->misses++;
    }
    if (r->flags & HC_REC_CACHE_STORED)
        v->stored++;
    if (!*r->cache_key) {
        v->hits_no_key++; /* counted, but cannot be grouped */
        return 0;
    }
    struct kgroup *k = group_data(&v->groups, r->cache_key, sizeof *k);
    if (!k) {
        v->oom = true;
        return 1;
    }
    if (!k->model) {
        k->model = strdup(query_model_of(r));
        k->host = strdup(r->host);
        if (!k->model || !k->host) {
            v->oom = true;
            return 1;
        }
        k->first_us = r->start_us;
    }
    if (hit) {
        k->hits++;
        k->saved_nusd += r->saved_nusd;
        if (r->start_us > k->last_hit_us)
            k->last_hit_us = r->start_us;
    } else {
        k->misses++;
    }
    if (r->flags & HC_REC_CACHE_STORED)
        k->stored++;
    if (r->start_us < k->first_us)
        k->first_us = r->start_us;
    if (r->start_us > k->last_us)
        k->last_us = r->start_us;
    return 0;
}

static int add_tally(agg_groups *g, const char *key, bool live, uint64_t bytes)
{
    struct tally *t = group_data(g, key, sizeof *t);
    if (!t)
        return HC_ENOMEM;
    t->entries++;
    t->bytes += bytes;
    if (live)
        t->live++;
    else
        t->expired++;
    return 0;
}

/* The cache_key of the record whose answer entry e holds, or NULL (pruned,
 * undecodable, or a record of another store). Points into the map: valid
 * while txn lives. */
static const char *origin_key(MDB_txn *txn, MDB_dbi recs, const hc_cache_entry *e, hc_record *r)
{
    MDB_val k = { HC_UUID_LEN, (void *)e->orig_id }, val;
    if (mdb_get(txn, recs, &k, &val) != 0 || hc_record_decode(val.mv_data, val.mv_size, r) != 0)
        return NULL;
    return *r->cache_key ? r->cache_key : NULL;
}

static int scan_entries(struct view *v, MDB_txn *txn, MDB_dbi cache, MDB_dbi recs)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, cache, &cur))
        return HC_ESTORE;
    hc_buf storage = HC_BUF_INIT;
    MDB_val k, val;
    int rc = 0, mrc;
    for (mrc = mdb_cursor_get(cur, &k, &val, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
        if (val.mv_size == ROTATION_SIZE) {
            v->rotation++;
            v->rotation_bytes += val.mv_size;
            continue;
        }
        hc_cache_entry e;
        if (hc_cache_entry_decode(val.mv_data, val.mv_size, &e, &storage) != 0) {
            v->bad++;
            v->bad_bytes += val.mv_size;
            continue;
        }
        /* Live as core/cache.c decides it: expires strictly after now. */
        bool live = e.expires_us > v->now_us;
        v->entries++;
        v->bytes += val.mv_size;
        if (live) {
            v->live++;
            v->live_bytes += val.mv_size;
            if (!v->next_expiry_us || e.expires_us < v->next_expiry_us)
                v->next_expiry_us = e.expires_us;
        } else {
            v->expired++;
        }
        if (v->entries == 1 || e.created_us < v->oldest_us)
            v->oldest_us = e.created_us;
        if (v->entries == 1 || e.created_us > v->newest_us)
            v->newest_us = e.created_us;
        if (v->entries == 1 || e.expires_us > v->last_expiry_us)
            v->last_expiry_us = e.expires_us;
        if (add_tally(&v->by_model, e.model, live, val.mv_size) ||
            add_tally(&v->by_host, e.host, live, val.mv_size)) {
            rc = HC_ENOMEM;
            break;
        }
        hc_record r;
        const char *group = origin_key(txn, recs, &e, &r);
        if (group) {
            long gi = agg_group_find(&v->groups, group, strlen(group));
            if (gi >= 0) {
                struct kgroup *kg = v->groups.accs[gi].user;
                kg->entries++;
                if (live)
                    kg->live++;
            }
        }
        if (!v->list)
            continue;
        if (v->nrows == v->caprows) {
            size_t ncap = v->caprows ? v->caprows * 2 : 64;
            struct erow *nr = realloc(v->rows, ncap * sizeof *nr);
            if (!nr) {
                rc = HC_ENOMEM;
                break;
            }
            v->rows = nr;
            v->caprows = ncap;
        }
        struct erow *row = &v->rows[v->nrows];
        memset(row, 0, sizeof *row);
        hex(k.mv_data, k.mv_size < 64 ? k.mv_size : 64, row->key);
        hc_uuid_format(e.orig_id, row->orig);
        row->model = strdup(e.model);
        row->host = strdup(e.host);
        row->path = strdup(e.path);
        row->group = group ? strdup(group) : NULL;
        v->nrows++; /* counted first, so that the row's copies are freed on failure too */
        if (!row->model || !row->host || !row->path || (group && !row->group)) {
            rc = HC_ENOMEM;
            break;
        }
        row->created_us = e.created_us;
        row->expires_us = e.expires_us;
        row->cost_nusd = e.cost_nusd;
        row->status = e.status;
        row->streamed = e.streamed;
        row->live = live;
        row->bytes = val.mv_size;
    }
    if (!rc && mrc != MDB_NOTFOUND)
        rc = HC_ESTORE;
    mdb_cursor_close(cur);
    hc_buf_free(&storage);
    return rc;
}

/* Orders for printing. */
static int by_hits(const void *a, const void *b, void *ctx)
{
    const agg_groups *g = ctx;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    const struct kgroup *x = g->accs[ia].user, *y = g->accs[ib].user;
    if (x->hits != y->hits)
        return x->hits > y->hits ? -1 : 1;
    if (x->saved_nusd != y->saved_nusd)
        return x->saved_nusd > y->saved_nusd ? -1 : 1;
    if (x->misses != y->misses)
        return x->misses > y->misses ? -1 : 1;
    return strcmp(g->keys[ia], g->keys[ib]);
}

static int by_entries(const void *a, const void *b, void *ctx)
{
    const agg_groups *g = ctx;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    const struct tally *x = g->accs[ia].user, *y = g->accs[ib].user;
    if (x->entries != y->entries)
        return x->entries > y->entries ? -1 : 1;
    return strcmp(g->keys[ia], g->keys[ib]);
}

static int by_created(const void *a, const void *b)
{
    const struct erow *x = a, *y = b;
    if (x->created_us != y->created_us)
        return x->created_us > y->created_us ? -1 : 1;
    return strcmp(x->key, y->key);
}

static size_t *ordered(agg_groups *g, int (*cmp)(const void *, const void *, void *))
{
    size_t *o = malloc((g->n + 1) * sizeof *o);
    if (!o)
        return NULL;
    for (size_t i = 0; i < g->n; i++)
        o[i] = i;
    qsort_r(o, g->n, sizeof *o, cmp, g);
    return o;
}

static void emit_tallies_json(jw *w, const char *name, const char *field, agg_groups *g,
                              const size_t *o)
{
    jw_key(w, name);
    jw_arr(w);
    for (size_t i = 0; i < g->n; i++) {
        const struct tally *t = g->accs[o[i]].user;
        jw_obj(w);
        jw_kstr(w, field, g->keys[o[i]]);
        jw_kuint(w, "entries", t->entries);
        jw_kuint(w, "live", t->live);
        jw_kuint(w, "expired", t->expired);
        jw_kuint(w, "bytes", t->bytes);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

static void emit_tallies_text(const char *title, const char *col, agg_groups *g, const size_t *o)
{
    table_col cols[] = {
        { col, "key", TBL_SHRINK },     { "ENTRIES", "entries", TBL_RIGHT },
        { "LIVE", "live", TBL_RIGHT },  { "EXPIRED", "expired", TBL_RIGHT },
        { "SIZE", "bytes", TBL_RIGHT },
    };
    table_textf(stdout, 2, "\n%s\n", title);
    table *t = table_new(stdout, CLI_TEXT, cols, sizeof cols / sizeof cols[0]);
    for (size_t i = 0; i < g->n; i++) {
        const struct tally *x = g->accs[o[i]].user;
        char b[FMT_NUM];
        const char *k = g->keys[o[i]];
        table_cell(t, *k ? k : "(none)");
        table_cell(t, fmt_int(b, (int64_t)x->entries));
        table_cell(t, fmt_int(b, (int64_t)x->live));
        table_cell(t, fmt_int(b, (int64_t)x->expired));
        table_cell(t, fmt_bytes(b, x->bytes));
    }
    table_end(t);
}

static const table_col group_cols[] = {
    { "KEY", "cache_key", 0 },
    { "MODEL", "model", TBL_SHRINK },
    { "HOST", "host", TBL_SHRINK | TBL_DROP },
    { "HITS", "hits", TBL_RIGHT },
    { "MISSES", "misses", TBL_RIGHT },
    { "STORED", "stored", TBL_RIGHT },
    { "LIVE", "entries_live", TBL_RIGHT },
    { "SAVED", "saved_usd", TBL_RIGHT },
    { "LAST HIT", "last_hit", TBL_DROP },
};

static void emit_groups(struct view *v, enum cli_fmt fmt, jw *w, const size_t *o, size_t n)
{
    table *t = NULL;
    if (fmt == CLI_JSON) {
        jw_key(w, "groups");
        jw_arr(w);
    } else {
        t = table_new(stdout, fmt, group_cols, sizeof group_cols / sizeof group_cols[0]);
    }
    for (size_t i = 0; i < n; i++) {
        const char *key = v->groups.keys[o[i]];
        const struct kgroup *k = v->groups.accs[o[i]].user;
        if (fmt == CLI_JSON) {
            jw_obj(w);
            jw_kstr(w, "cache_key", key);
            jw_kstr(w, "model", k->model);
            jw_kstr(w, "host", k->host);
            jw_kuint(w, "lookups", k->hits + k->misses);
            jw_kuint(w, "hits", k->hits);
            jw_kuint(w, "misses", k->misses);
            jw_kuint(w, "stored", k->stored);
            jw_kuint(w, "entries", k->entries);
            jw_kuint(w, "entries_live", k->live);
            jw_kint(w, "saved_nusd", k->saved_nusd);
            jw_ktime(w, "first_seen", k->first_us, true);
            jw_ktime(w, "last_seen", k->last_us, true);
            jw_ktime(w, "last_hit", k->last_hit_us, k->hits > 0);
            jw_obj_end(w);
            continue;
        }
        char b1[FMT_NUM], b2[FMT_NUM], sk[20], tm[40];
        table_cell2(t, short_key(key, sk), key);
        table_cell(t, k->model);
        table_cell(t, k->host);
#define NUM(x) \
    (snprintf(b1, sizeof b1, "%" PRIu64, (uint64_t)(x)), \
     table_cell2(t, fmt_int(b2, (int64_t)(x)), b1))
        NUM(k->hits);
        NUM(k->misses);
        NUM(k->stored);
        NUM(k->live);
#undef NUM
        table_cell2(t, fmt_usd(b1, k->saved_nusd), fmt_usd_exact(b2, k->saved_nusd));
        if (k->hits)
            table_cell2(t, fmt_time(tm, k->last_hit_us),
                        fmt_time_iso((char[40]){ 0 }, k->last_hit_us));
        else
            table_cell2(t, "-", "");
    }
    if (fmt == CLI_JSON)
        jw_arr_end(w);
    table_end(t);
}

/* --entries: text shows what fits a terminal; CSV every column, exact. */
static const table_col entry_cols_text[] = {
    { "CREATED (UTC)", "created", 0 },
    { "EXPIRES (UTC)", "expires", TBL_DROP },
    { "STATE", "state", 0 },
    { "MODEL", "model", TBL_SHRINK },
    { "HOST", "host", TBL_SHRINK | TBL_DROP },
    { "SIZE", "bytes", TBL_RIGHT },
    { "COST", "cost_usd", TBL_RIGHT },
    { "GROUP", "cache_key", TBL_DROP },
};
static const table_col entry_cols_csv[] = {
    { "", "created", 0 }, { "", "expires", 0 },  { "", "state", 0 },  { "", "model", 0 },
    { "", "host", 0 },    { "", "path", 0 },     { "", "status", 0 }, { "", "streamed", 0 },
    { "", "bytes", 0 },   { "", "cost_usd", 0 }, { "", "key", 0 },    { "", "cache_key", 0 },
    { "", "orig_id", 0 },
};

static void emit_entry_list(struct view *v, enum cli_fmt fmt, const char *store)
{
    qsort(v->rows, v->nrows, sizeof *v->rows, by_created);
    char t1[40], t2[40], b1[FMT_NUM], b2[FMT_NUM], sk[20];
    if (fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", store);
        jw_kstr(&w, "now", fmt_time_iso(t1, v->now_us));
        jw_kuint(&w, "count", v->nrows);
        jw_kuint(&w, "rotation_counters", v->rotation);
        jw_kuint(&w, "undecodable", v->bad);
        jw_key(&w, "entries");
        jw_arr(&w);
        for (size_t i = 0; i < v->nrows; i++) {
            const struct erow *r = &v->rows[i];
            jw_obj(&w);
            jw_kstr(&w, "key", r->key);
            jw_kstr(&w, "model", r->model);
            jw_kstr(&w, "host", r->host);
            jw_kstr(&w, "path", r->path);
            jw_kint(&w, "status", r->status);
            jw_kbool(&w, "streamed", r->streamed);
            jw_kstr(&w, "created", fmt_time_iso(t1, r->created_us));
            jw_kstr(&w, "expires", fmt_time_iso(t2, r->expires_us));
            jw_kbool(&w, "live", r->live);
            jw_kuint(&w, "bytes", r->bytes);
            jw_kint(&w, "cost_nusd", r->cost_nusd);
            jw_kstr(&w, "orig_id", r->orig);
            jw_kstr(&w, "cache_key", r->group);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_obj_end(&w);
        jw_end_doc(&w);
        return;
    }
    bool csv = fmt == CLI_CSV;
    table *t = csv ? table_new(stdout, fmt, entry_cols_csv,
                               sizeof entry_cols_csv / sizeof entry_cols_csv[0])
                   : table_new(stdout, fmt, entry_cols_text,
                               sizeof entry_cols_text / sizeof entry_cols_text[0]);
    for (size_t i = 0; i < v->nrows; i++) {
        const struct erow *r = &v->rows[i];
        table_cell2(t, fmt_time(t1, r->created_us), fmt_time_iso(t2, r->created_us));
        table_cell2(t, fmt_time(t1, r->expires_us), fmt_time_iso(t2, r->expires_us));
        table_cell(t, r->live ? "live" : "expired");
        table_cell(t, r->model);
        table_cell(t, r->host);
        if (csv) {
            table_cell(t, r->path);
            table_cellf(t, "%d", r->status);
            table_cell(t, r->streamed ? "1" : "0");
        }
        snprintf(b1, sizeof b1, "%" PRIu64, r->bytes);
        table_cell2(t, fmt_bytes(b2, r->bytes), b1);
        table_cell2(t, fmt_usd(b2, r->cost_nusd), fmt_usd_exact(b1, r->cost_nusd));
        if (csv)
            table_cell(t, r->key);
        if (r->group)
            table_cell2(t, short_key(r->group, sk), r->group);
        else
            table_cell2(t, "-", "");
        if (csv)
            table_cell(t, r->orig);
    }
    table_end(t);
    if (fmt == CLI_TEXT && (v->rotation || v->bad)) {
        table_textf(stdout, 2,
                    "(and %" PRIu64 " rotation counter%s, %" PRIu64
                    " undecodable value%s: not entries)\n",
                    v->rotation, v->rotation == 1 ? "" : "s", v->bad, v->bad == 1 ? "" : "s");
    }
}

static void emit_view(struct view *v, enum cli_fmt fmt, const char *store, const query_stats *st,
                      const query_filter *f, unsigned long long top)
{
    size_t *og = ordered(&v->groups, by_hits), *om = ordered(&v->by_model, by_entries),
           *oh = ordered(&v->by_host, by_entries);
    if (!og || !om || !oh) {
        cli_misuse("cache: out of memory");
        goto out;
    }
    size_t ng = top && top < v->groups.n ? (size_t)top : v->groups.n;
    char t1[40], t2[40], b1[FMT_NUM], b2[FMT_NUM], b3[FMT_NUM];
    if (fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", store);
        jw_kstr(&w, "now", fmt_time_iso(t1, v->now_us));
        jw_kuint(&w, "records_scanned", st->scanned);
        jw_kuint(&w, "records_matched", st->matched);
        jw_kuint(&w, "undecodable", st->undecodable);
        jw_key(&w, "entries");
        jw_obj(&w);
        jw_kuint(&w, "count", v->entries);
        jw_kuint(&w, "live", v->live);
        jw_kuint(&w, "expired", v->expired);
        jw_kuint(&w, "bytes", v->bytes);
        jw_kuint(&w, "live_bytes", v->live_bytes);
        jw_kuint(&w, "rotation_counters", v->rotation);
        jw_kuint(&w, "undecodable", v->bad);
        jw_ktime(&w, "oldest_created", v->oldest_us, v->entries > 0);
        jw_ktime(&w, "newest_created", v->newest_us, v->entries > 0);
        jw_ktime(&w, "next_expiry", v->next_expiry_us, v->live > 0);
        jw_ktime(&w, "last_expiry", v->last_expiry_us, v->entries > 0);
        emit_tallies_json(&w, "by_model", "model", &v->by_model, om);
        emit_tallies_json(&w, "by_host", "host", &v->by_host, oh);
        jw_obj_end(&w);
        jw_kuint(&w, "lookups", v->lookups);
        jw_kuint(&w, "hits", v->hits);
        jw_kuint(&w, "misses", v->misses);
        jw_kuint(&w, "stored", v->stored);
        jw_key(&w, "hit_rate");
        if (v->lookups)
            jw_double(&w, (double)v->hits / (double)v->lookups);
        else
            jw_null(&w);
        jw_kint(&w, "saved_nusd", v->saved_nusd);
        jw_kdouble(&w, "saved_usd", (double)v->saved_nusd / 1e9);
        jw_kuint(&w, "key_groups", v->groups.n);
        emit_groups(v, fmt, &w, og, ng);
        jw_obj_end(&w);
        jw_end_doc(&w);
        goto out;
    }
    if (fmt == CLI_CSV) {
        emit_groups(v, fmt, NULL, og, ng);
        goto out;
    }
    table_text tt;
    FILE *o = table_text_begin(&tt, stdout, 12);
    fprintf(o, "hcshim cache — %s\n", store);
    fprintf(o, "Entries     %s: %s live, %s expired, %s (the whole cache table)\n",
            fmt_int(b1, (int64_t)v->entries), fmt_int(b2, (int64_t)v->live),
            fmt_int(b3, (int64_t)v->expired), fmt_bytes((char[FMT_NUM]){ 0 }, v->bytes));
    if (v->rotation || v->bad)
        fprintf(o, "            also %s rotation counter%s, %s undecodable value%s\n",
                fmt_int(b1, (int64_t)v->rotation), v->rotation == 1 ? "" : "s",
                fmt_int(b2, (int64_t)v->bad), v->bad == 1 ? "" : "s");
    if (v->entries) {
        fprintf(o, "Created     oldest %s, newest %s UTC\n", fmt_time(t1, v->oldest_us),
                fmt_time(t2, v->newest_us));
        if (v->live)
            fprintf(o, "Expiry      next %s UTC (in %s), last %s UTC\n",
                    fmt_time(t1, v->next_expiry_us), fmt_dur(b1, v->next_expiry_us - v->now_us),
                    fmt_time(t2, v->last_expiry_us));
        else
            fprintf(o, "Expiry      every entry has expired\n");
    }
    if (!query_filter_empty(f))
        fprintf(o, "Matched     %s of %s records\n", fmt_int(b1, (int64_t)st->matched),
                fmt_int(b2, (int64_t)st->scanned));
    fprintf(o, "Lookups     %s (records with a cache key): %s hits, %s misses, %s answers stored\n",
            fmt_int(b1, (int64_t)v->lookups), fmt_int(b2, (int64_t)v->hits),
            fmt_int(b3, (int64_t)v->misses), fmt_int((char[FMT_NUM]){ 0 }, (int64_t)v->stored));
    fprintf(o, "Hit rate    %s (hits / lookups)\n", fmt_pct(b1, v->hits, v->lookups));
    fprintf(o, "Saved       %s by %s hits\n", fmt_usd(b1, v->saved_nusd),
            fmt_int(b2, (int64_t)v->hits));
    table_text_end(&tt);
    if (v->by_model.n)
        emit_tallies_text("Entries by model", "MODEL", &v->by_model, om);
    if (v->by_host.n)
        emit_tallies_text("Entries by host", "HOST", &v->by_host, oh);
    if (ng) {
        table_textf(stdout, 2, "\nCache keys by hits (%zu of %zu)\n", ng, v->groups.n);
        emit_groups(v, fmt, NULL, og, ng);
    }
out:
    free(og);
    free(om);
    free(oh);
}

struct view_args {
    struct view *v;
    unsigned long long top;
};

static int view_own(void *self, int id, const char *arg)
{
    struct view_args *va = self;
    if (id == OPT_TOP)
        return cli_parse_u64("--top", arg, &va->top);
    if (id == OPT_ENTRIES) {
        va->v->list = true;
        return 0;
    }
    if (id == CLI_POS && strcmp(arg, "clear") == 0)
        return cli_misuse("cache: 'clear' must come first: hc-analyze cache clear [options]");
    return 1;
}

static const cli_cmd view_cmd = { usage, opts, view_own };

/* After the records: the cache table, in the same snapshot. */
static int view_after(void *self, cli_scan *sc)
{
    struct view *v = self;
    int erc = v->oom ? 0
                     : scan_entries(v, sc->txn, hc_store_dbi(sc->s, HC_T_CACHE),
                                    hc_store_dbi(sc->s, HC_T_RECORDS));
    if (v->oom || erc)
        return cli_misuse("%s: %s", sc->path,
                          erc == HC_ESTORE ? "reading the cache table failed" : "out of memory");
    return 0;
}

static int cache_view(int argc, char **argv)
{
    ana_ctx c = { .cmd = "cache" };
    struct view v;
    memset(&v, 0, sizeof v);
    agg_groups_init(&v.groups, 0);
    agg_groups_init(&v.by_model, 0);
    agg_groups_init(&v.by_host, 0);
    struct view_args va = { &v, TOP_DEFAULT };
    cli_scan sc = { .on_record = on_record, .self = &v, .after = view_after };

    int rc = cli_parse(&c, &view_cmd, argc, argv, &va);
    if (rc || c.help)
        goto out;
    v.now_us = hc_now_us();
    if ((rc = cli_scan_run(&c, &sc)))
        goto out;
    if (v.list)
        emit_entry_list(&v, c.fmt, sc.path);
    else
        emit_view(&v, c.fmt, sc.path, &sc.st, &c.filter, va.top);
    rc = 0;
out:
    for (size_t i = 0; i < v.nrows; i++) {
        free(v.rows[i].model);
        free(v.rows[i].host);
        free(v.rows[i].path);
        free(v.rows[i].group);
    }
    free(v.rows);
    free_group_data(&v.groups, kgroup_free);
    free_group_data(&v.by_model, NULL);
    free_group_data(&v.by_host, NULL);
    agg_groups_free(&v.groups);
    agg_groups_free(&v.by_model);
    agg_groups_free(&v.by_host);
    query_filter_free(&c.filter);
    return rc;
}

/* ---- cache clear ------------------------------------------------------------- */

struct selector {
    bool all, expired;
    const char *older; /* --older-than as given */
    int64_t cutoff_us; /* created before this: older */
    const char *models[QUERY_MAX_TERMS];
    int nmodels;
    int64_t now_us;
};

struct cleared {
    uint64_t scanned;        /* keys of the table looked at */
    uint64_t entries, bytes; /* removed: entries, and the bytes of everything removed */
    uint64_t rotation, bad;  /* removed (--all only) */
    uint64_t left;           /* entries that stay */
};

static bool glob_any(const struct selector *sel, const char *model)
{
    for (int i = 0; i < sel->nmodels; i++)
        if (*model && fnmatch(sel->models[i], model, 0) == 0)
            return true;
    return false;
}

static bool selected(const struct selector *sel, MDB_txn *txn, MDB_dbi recs,
                     const hc_cache_entry *e)
{
    if (sel->all)
        return true;
    if (sel->expired && e->expires_us > sel->now_us)
        return false;
    if (sel->older && e->created_us >= sel->cutoff_us)
        return false;
    if (sel->nmodels && !glob_any(sel, e->model)) {
        /* The entry keeps the model answered (often dated: gpt-4o-2024-08-06);
         * the record it came from also has the one requested. */
        MDB_val k = { HC_UUID_LEN, (void *)e->orig_id }, v;
        hc_record r;
        if (mdb_get(txn, recs, &k, &v) != 0 || hc_record_decode(v.mv_data, v.mv_size, &r) != 0 ||
            !(glob_any(sel, r.model_req) || glob_any(sel, r.model_resp)))
            return false;
    }
    return true;
}

struct clear_walk {
    const struct selector *sel;
    struct cleared *t;
    MDB_dbi cache, recs;
    hc_buf storage; /* for decoding entries */
};

/* A cache key to delete: counted by kind (entry, rotation counter, undecodable). */
static int clear_pick(void *self, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
    struct clear_walk *w = self;
    const struct selector *sel = w->sel;
    struct cleared *t = w->t;
    t->scanned++;
    bool victim = false;
    hc_cache_entry e;
    if (v->mv_size == ROTATION_SIZE) {
        if ((victim = sel->all))
            t->rotation++;
    } else if (hc_cache_entry_decode(v->mv_data, v->mv_size, &e, &w->storage) != 0) {
        if ((victim = sel->all))
            t->bad++;
    } else if ((victim = selected(sel, txn, w->recs, &e))) {
        t->entries++;
    } else {
        t->left++;
    }
    if (victim)
        t->bytes += v->mv_size;
    return victim;
}

static int clear_del(void *self, MDB_txn *txn, const MDB_val *k)
{
    return batch_del_key(txn, ((struct clear_walk *)self)->cache, k);
}

struct clear_args {
    struct selector *sel;
    int64_t age;
    bool dry;
};

static int clear_own(void *self, int id, const char *arg)
{
    struct clear_args *ca = self;
    struct selector *sel = ca->sel;
    if (id == OPT_ALL) {
        sel->all = true;
    } else if (id == OPT_EXPIRED) {
        sel->expired = true;
    } else if (id == OPT_OLDER) {
        sel->older = arg;
        if (hc_parse_duration_us(arg, &ca->age) != 0)
            return cli_misuse("--older-than: expected an age like 30d, 12h or 2w, got '%s'", arg);
    } else if (id == OPT_CMODEL) {
        if (!*arg || sel->nmodels == QUERY_MAX_TERMS)
            return cli_misuse(*arg ? "--model: at most %d models"
                                   : "--model: expected a model name or glob, got ''",
                              QUERY_MAX_TERMS);
        sel->models[sel->nmodels++] = arg;
    } else if (id == OPT_DRY_RUN) {
        ca->dry = true;
    } else {
        return 1;
    }
    return 0;
}

static const cli_cmd clear_cmd = { usage_clear, clear_opts, clear_own };

static int cache_clear(int argc, char **argv)
{
    ana_ctx c = { .cmd = "cache clear" };
    struct selector sel;
    memset(&sel, 0, sizeof sel);
    struct clear_args ca = { .sel = &sel };
    hc_store *s = NULL;

    int rc = cli_parse(&c, &clear_cmd, argc, argv, &ca);
    if (rc || c.help)
        goto out;
    rc = CLI_EXIT_MISUSE;
    bool dry = ca.dry;
    int64_t age = ca.age;
    if (!sel.all && !sel.expired && !sel.older && !sel.nmodels) {
        cli_misuse(
            "cache clear: say what to delete: --all, --expired, --older-than D or --model M");
        goto out;
    }
    if (sel.all && (sel.expired || sel.older || sel.nmodels)) {
        cli_misuse("cache clear: --all deletes everything; it does not combine with --expired, "
                   "--older-than or --model");
        goto out;
    }
    char path[PATH_MAX];
    if ((rc = cli_open_store_for_delete(&c, dry, path, sizeof path, &s)))
        goto out;
    sel.now_us = hc_now_us();
    sel.cutoff_us = sel.now_us - age;
    struct cleared t = { 0 };
    struct clear_walk wk = { &sel, &t, hc_store_dbi(s, HC_T_CACHE), hc_store_dbi(s, HC_T_RECORDS),
                             HC_BUF_INIT };
    batch_del d = {
        .s = s, .table = HC_T_CACHE, .dry = dry, .pick = clear_pick, .del = clear_del, .self = &wk
    };
    int e = batch_del_run(&d);
    hc_buf_free(&wk.storage);
    if (e) {
        rc = cli_misuse("%s: cache clear failed: %s (what was committed before stays deleted)",
                        path, hc_strerror(e));
        goto out;
    }
    char b1[FMT_NUM], b2[FMT_NUM], b3[FMT_NUM], ct[40];
    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_kstr(&w, "store", path);
        jw_kbool(&w, "dry_run", dry);
        jw_key(&w, "selectors");
        jw_obj(&w);
        jw_kbool(&w, "all", sel.all);
        jw_kbool(&w, "expired", sel.expired);
        jw_kstr(&w, "older_than", sel.older);
        jw_key(&w, "models");
        jw_arr(&w);
        for (int i = 0; i < sel.nmodels; i++)
            jw_str(&w, sel.models[i]);
        jw_arr_end(&w);
        jw_obj_end(&w);
        jw_kstr(&w, "now", fmt_time_iso(ct, sel.now_us));
        jw_key(&w, "cutoff");
        if (sel.older)
            jw_str(&w, fmt_time_iso(ct, sel.cutoff_us));
        else
            jw_null(&w);
        jw_kuint(&w, "keys_scanned", t.scanned);
        jw_kuint(&w, "entries_removed", t.entries);
        jw_kuint(&w, "rotation_counters_removed", t.rotation);
        jw_kuint(&w, "undecodable_removed", t.bad);
        jw_kuint(&w, "bytes_removed", t.bytes);
        jw_kuint(&w, "entries_left", t.left);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else if (c.fmt == CLI_CSV) {
        printf("store,dry_run,keys_scanned,entries_removed,rotation_counters_removed,undecodable_"
               "removed,"
               "bytes_removed,entries_left\r\n");
        table_csv_field(stdout, path);
        printf(",%d,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\r\n",
               dry, t.scanned, t.entries, t.rotation, t.bad, t.bytes, t.left);
    } else {
        table_text tt;
        FILE *o = table_text_begin(&tt, stdout, 2);
        fprintf(o, "%s%s: %s %s cache entr%s (%s)", dry ? "dry run: " : "", path,
                dry ? "would remove" : "removed", fmt_int(b1, (int64_t)t.entries),
                t.entries == 1 ? "y" : "ies", fmt_bytes(b2, t.bytes));
        if (t.rotation || t.bad)
            fprintf(o, ", %s rotation counter%s and %s undecodable value%s",
                    fmt_int(b1, (int64_t)t.rotation), t.rotation == 1 ? "" : "s",
                    fmt_int(b3, (int64_t)t.bad), t.bad == 1 ? "" : "s");
        fprintf(o, "; %s entr%s %s\n", fmt_int(b1, (int64_t)t.left), t.left == 1 ? "y" : "ies",
                dry ? "would stay" : "left");
        table_text_end(&tt);
    }
    rc = 0;
out:
    cli_close_store(s);
    query_filter_free(&c.filter);
    return rc;
}

int cmd_cache(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "clear") == 0)
        return cache_clear(argc - 1, argv + 1);
    return cache_view(argc, argv);
}
