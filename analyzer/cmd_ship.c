/* cmd_ship.c — `hc-analyze ship --to clickhouse://HOST:PORT/DB [--follow] [--bodies]`:
 * send the store's records to a ClickHouse server, so that a fleet of
 * machines has its records in one place (docs/FLEET.md).
 *
 * DESIGN
 * - Transport: ClickHouse's HTTP interface (httpc.h), one POST per batch of
 *   up to --batch rows in JSONEachRow, one connection each. No TLS: ship to
 *   loopback or a trusted network (or an SSH tunnel).
 * - Schema: created on first use (CREATE … IF NOT EXISTS, so any number of
 *   hosts may race), versioned in DB.hc_schema; a server whose schema is newer
 *   than ours is refused (exit 2). Rows go to DB.hc_records, a
 *   ReplacingMergeTree keyed by the record id: a row sent twice (a retry after
 *   a lost acknowledgement, a second run over the settle window) collapses to
 *   one in `SELECT … FINAL` and in the view DB.records, which every query
 *   should read. The SQL lives here and is documented in docs/FLEET.md.
 * - Cursor (shipcur.h): advanced in the local store only after the server
 *   acknowledged a batch (HTTP 200 to the INSERT). Record ids are made when a
 *   request starts but a record is written when it ends, so a record may land
 *   behind records already shipped; the cursor therefore never passes the
 *   settle horizon (the start of the current pass minus --settle, default 1h),
 *   and each pass of --follow rescans from the cursor, skipping the ids it has
 *   already sent (kept in memory). A new run re-sends at most the settle
 *   window; those rows collapse.
 * - Faults: a connection error, a timeout or a non-200 answer is retried with
 *   exponential backoff (0.5 s doubling to 30 s), the batch kept and the cursor
 *   not moved, forever with --follow, else for --retry-for (default 2m), then
 *   exit 1 with the cursor where it was. Nothing is lost (the store still holds
 *   every unshipped record) and nothing doubles (ids collapse). Shipping reads
 *   the store in short read transactions; programs recording meanwhile are
 *   never affected.
 * - Secrets: a password (from the URL or $HC_CLICKHOUSE_PASSWORD) is sent only
 *   in the X-ClickHouse-Key header, never printed, and never part of the
 *   cursor's name. Records hold no credentials (record.h); bodies are sent
 *   only with --bodies.
 */
#include "chdest.h"
#include "cli.h"
#include "clock.h"
#include "cmds.h"
#include "err.h"
#include "fmt.h"
#include "httpc.h"
#include "jsonw.h"
#include "record.h"
#include "shipcur.h"
#include "ship_otlp.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The version of the ClickHouse schema below (docs/FLEET.md). Changes only
 * when an existing column changes meaning; new columns are added to an older
 * table when missing (add_columns: ALTER TABLE … ADD COLUMN) and do not change
 * it: a reader of version 1 that does not know them still reads every row. */
#define SHIP_SCHEMA_VERSION  1
#define SHIP_MAX_BATCH_BYTES (16u << 20)

static const char usage[] =
    "usage: hc-analyze ship --to clickhouse://[USER@]HOST[:PORT]/DB [--follow] [--bodies] "
    "[options]\n"
    "\n"
    "Send the store's records to ClickHouse (HTTP interface, default port 8123),\n"
    "in batches, from where the last ship to the same destination stopped. The\n"
    "schema (tables DB.hc_records, DB.hc_schema and the view DB.records) is created\n"
    "on first use; query DB.records (or hc_records FINAL): a record sent twice\n"
    "counts once. The cursor in the local store moves only after the server\n"
    "acknowledged; `prune --shipped` then deletes only what every destination has.\n"
    "ClickHouse down, slow or failing: retried with backoff, nothing lost.\n"
    "See docs/FLEET.md. --to otlp://HOST[:PORT] sends OpenTelemetry spans and\n"
    "metrics instead (hc-analyze ship --to otlp://x -h).\n"
    "\n"
    "  --to URL           clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/DB; the password\n"
    "                     may instead come from $HC_CLICKHOUSE_PASSWORD\n"
    "  --follow           keep running: ship new records as they are recorded\n"
    "  --bodies           also send the stored prompts and responses\n"
    "  --origin NAME      the host name stored with each row (default: this host's)\n"
    "  --batch N          rows per INSERT (default 5000, 1..1000000)\n"
    "  --interval D       --follow: pause between scans (default 2s)\n"
    "  --settle D         how long a request may take to be recorded (default 1h):\n"
    "                     the cursor stays that far behind, a new run re-sends that\n"
    "                     window (the copies collapse)\n"
    "  --retry-for D      without --follow: give up after D of failures (default 2m)\n"
    "  --timeout D        per request to the server (default 30s)\n" CLI_HELP_DB
    "  --json             the summary as JSON\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 shipped (or nothing new), 1 the server stayed unreachable or\n"
    "failing (cursor kept), 2 misuse or unreadable store.\n";

enum {
    OPT_TO = OPT_CMD,
    OPT_FOLLOW,
    OPT_BODIES,
    OPT_ORIGIN,
    OPT_BATCH,
    OPT_INTERVAL,
    OPT_SETTLE,
    OPT_RETRY_FOR,
    OPT_TIMEOUT
};

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    { "to", 0, true, OPT_TO },
    { "follow", 0, false, OPT_FOLLOW },
    { "bodies", 0, false, OPT_BODIES },
    { "origin", 0, true, OPT_ORIGIN },
    { "batch", 0, true, OPT_BATCH },
    { "interval", 0, true, OPT_INTERVAL },
    { "settle", 0, true, OPT_SETTLE },
    { "retry-for", 0, true, OPT_RETRY_FOR },
    { "timeout", 0, true, OPT_TIMEOUT },
    { 0 },
};

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The schema (docs/FLEET.md is its documentation; keep both in step). Every
 * record.h field has a column of the same name; the pairs fields (props,
 * ratelimit) are Nested (parallel arrays name/value), which ClickHouse 18.16
 * and current releases both accept: props.value[indexOf(props.name, 'k')]. */
static const char *const schema_sql[] = {
    "CREATE DATABASE IF NOT EXISTS %s",
    "CREATE TABLE IF NOT EXISTS %s.hc_schema (version UInt32, created DateTime) ENGINE = TinyLog",
    "CREATE TABLE IF NOT EXISTS %s.hc_records ("
    " id String, origin String, day Date, start DateTime, start_us Int64, latency_us Int64, "
    "ttft_us Int64,"
    " host String, provider String, api String, method String, path String, upstream String,"
    " model_req String, model_resp String, status Int32, error String,"
    " tok_in Int64, tok_out Int64, tok_cached Int64, tok_cw5m Int64, tok_cw1h Int64, tok_reasoning "
    "Int64,"
    " cost_nusd Int64, saved_nusd Int64, cost_flags UInt32,"
    " props Nested(name String, value String),"
    " user String, session_id String, session_path String, session_name String, request_id String,"
    " flags UInt32, retries Int32, fallback_idx Int32, attempts String,"
    " ratelimit Nested(name String, value String), ratelimit_wait_us Int64,"
    " pid Int32, program String, req_bytes Int64, resp_bytes Int64, cache_key String, budget "
    "String,"
    " has_bodies UInt8, req_body String, resp_body String, ver UInt64, run_id String,"
    " response_id String, finish_reasons String, req_params Nested(name String, value String)"
    ") ENGINE = ReplacingMergeTree(ver) PARTITION BY toYYYYMM(day) ORDER BY id",
    "CREATE VIEW IF NOT EXISTS %s.records AS SELECT * FROM %s.hc_records FINAL",
};

/* Columns added after version 1 (ADD COLUMN, no IF NOT EXISTS on 18.16):
 * added when missing; a host racing us to it is fine (checked again). A
 * Nested column is its arrays, one column each (as CREATE TABLE makes them). */
static int add_columns(const ch_dest *d, char *err, size_t errlen)
{
    static const char *const added[][2] = {
        { "run_id", "String" },
        { "response_id", "String" },
        { "finish_reasons", "String" },
        { "req_params.name", "Array(String)" },
        { "req_params.value", "Array(String)" },
    };
    char sql[512];
    for (size_t i = 0; i < sizeof added / sizeof added[0]; i++) {
        for (int attempt = 0; attempt < 2; attempt++) {
            hc_buf out = { 0 };
            snprintf(sql, sizeof sql,
                     "SELECT count() FROM system.columns WHERE database = '%s' AND "
                     "table = 'hc_records' AND name = '%s'",
                     d->db, added[i][0]);
            int rc = ch_exec(d, NULL, sql, strlen(sql), 0, &out, err, errlen);
            long have = rc == 0 && out.data ? strtol(out.data, NULL, 10) : 0;
            hc_buf_free(&out);
            if (rc)
                return rc;
            if (have)
                break;
            snprintf(sql, sizeof sql, "ALTER TABLE %s.hc_records ADD COLUMN `%s` %s", d->db,
                     added[i][0], added[i][1]);
            if ((rc = ch_exec(d, NULL, sql, strlen(sql), 0, NULL, err, errlen)) != 0 &&
                attempt == 1)
                return rc;
        }
    }
    return 0;
}

/* 0 ready; HC_ESCHEMA (fatal: newer schema on the server); else retryable. */
static int ensure_schema(const ch_dest *d, char *err, size_t errlen)
{
    char sql[2048];
    int rc;
    for (size_t i = 0; i < 2; i++) {
        snprintf(sql, sizeof sql, schema_sql[i], d->db, d->db);
        if ((rc = ch_exec(d, NULL, sql, strlen(sql), 0, NULL, err, errlen)) != 0)
            return rc;
    }
    hc_buf out = { 0 };
    snprintf(sql, sizeof sql, "SELECT max(version) FROM %s.hc_schema", d->db);
    rc = ch_exec(d, NULL, sql, strlen(sql), 0, &out, err, errlen);
    long v = rc == 0 && out.data ? strtol(out.data, NULL, 10) : 0;
    hc_buf_free(&out);
    if (rc)
        return rc;
    if (v > SHIP_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "%s.hc_schema says version %ld; this hc-analyze writes version %d (upgrade it)",
                 d->db, v, SHIP_SCHEMA_VERSION);
        return HC_ESCHEMA;
    }
    for (size_t i = 2; i < sizeof schema_sql / sizeof *schema_sql; i++) {
        snprintf(sql, sizeof sql, schema_sql[i], d->db, d->db);
        if ((rc = ch_exec(d, NULL, sql, strlen(sql), 0, NULL, err, errlen)) != 0)
            return rc;
    }
    if ((rc = add_columns(d, err, errlen)) != 0)
        return rc;
    if (v == 0) {
        snprintf(sql, sizeof sql, "INSERT INTO %s.hc_schema VALUES (%d, now())", d->db,
                 SHIP_SCHEMA_VERSION);
        rc = ch_exec(d, NULL, sql, strlen(sql), 0, NULL, err, errlen);
    }
    return rc;
}

static void pairs_arrays(jw *w, const char *col, const hc_pairs *pl)
{
    char key[64];
    for (int side = 0; side < 2; side++) {
        snprintf(key, sizeof key, "%s.%s", col, side ? "value" : "name");
        jw_key(w, key);
        jw_arr(w);
        uint32_t pos = 0;
        const char *n, *v;
        while (hc_pairs_next(pl, &pos, &n, &v))
            jw_str(w, side ? v : n);
        jw_arr_end(w);
    }
}

static void body_field(jw *w, hc_store *s, MDB_txn *txn, const uint8_t id[HC_UUID_LEN], char which,
                       const char *key, hc_buf *tmp)
{
    uint8_t bk[HC_UUID_LEN + 1];
    memcpy(bk, id, HC_UUID_LEN);
    bk[HC_UUID_LEN] = (uint8_t)which;
    MDB_val k = { sizeof bk, bk }, v;
    bool trunc;
    hc_buf_reset(tmp);
    jw_key(w, key);
    if (mdb_get(txn, hc_store_dbi(s, HC_T_BODIES), &k, &v) == 0 &&
        hc_body_decode(v.mv_data, v.mv_size, tmp, &trunc) == 0)
        jw_strn(w, tmp->data ? tmp->data : "", tmp->len);
    else
        jw_str(w, "");
}

/* One JSONEachRow line for record r. */
static void write_row(jw *w, hc_store *s, MDB_txn *txn, const hc_record *r, const char *origin,
                      bool bodies, uint64_t ver, hc_buf *tmp)
{
    char id[HC_UUID_STRLEN + 1], day[16];
    hc_uuid_format(r->id, id);
    time_t secs = (time_t)(r->start_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    jw_obj(w);
    jw_kstr(w, "id", id);
    jw_kstr(w, "origin", origin);
    jw_kstr(w, "day", day);
    jw_kint(w, "start", secs < 0 ? 0 : (int64_t)secs);
    jw_kint(w, "start_us", r->start_us);
    jw_kint(w, "latency_us", r->latency_us);
    jw_kint(w, "ttft_us", r->ttft_us);
    jw_kstr(w, "host", r->host);
    jw_kstr(w, "provider", r->provider);
    jw_kstr(w, "api", r->api);
    jw_kstr(w, "method", r->method);
    jw_kstr(w, "path", r->path);
    jw_kstr(w, "upstream", r->upstream);
    jw_kstr(w, "model_req", r->model_req);
    jw_kstr(w, "model_resp", r->model_resp);
    jw_kint(w, "status", r->status);
    jw_kstr(w, "error", r->error);
    jw_kint(w, "tok_in", r->tok_in);
    jw_kint(w, "tok_out", r->tok_out);
    jw_kint(w, "tok_cached", r->tok_cached);
    jw_kint(w, "tok_cw5m", r->tok_cw5m);
    jw_kint(w, "tok_cw1h", r->tok_cw1h);
    jw_kint(w, "tok_reasoning", r->tok_reasoning);
    jw_kint(w, "cost_nusd", r->cost_nusd);
    jw_kint(w, "saved_nusd", r->saved_nusd);
    jw_kuint(w, "cost_flags", r->cost_flags);
    pairs_arrays(w, "props", &r->props);
    jw_kstr(w, "user", r->user);
    jw_kstr(w, "session_id", r->session_id);
    jw_kstr(w, "session_path", r->session_path);
    jw_kstr(w, "session_name", r->session_name);
    jw_kstr(w, "request_id", r->request_id);
    jw_kuint(w, "flags", r->flags);
    jw_kint(w, "retries", r->retries);
    jw_kint(w, "fallback_idx", r->fallback_idx);
    jw_kstr(w, "attempts", r->attempts);
    pairs_arrays(w, "ratelimit", &r->ratelimit);
    jw_kint(w, "ratelimit_wait_us", r->ratelimit_wait_us);
    jw_kint(w, "pid", r->pid);
    jw_kstr(w, "program", r->program);
    jw_kint(w, "req_bytes", r->req_bytes);
    jw_kint(w, "resp_bytes", r->resp_bytes);
    jw_kstr(w, "cache_key", r->cache_key);
    jw_kstr(w, "budget", r->budget);
    jw_kuint(w, "has_bodies", bodies);
    if (bodies) {
        body_field(w, s, txn, r->id, HC_BODY_REQUEST, "req_body", tmp);
        body_field(w, s, txn, r->id, HC_BODY_RESPONSE, "resp_body", tmp);
    } else {
        jw_kstr(w, "req_body", "");
        jw_kstr(w, "resp_body", "");
    }
    jw_kuint(w, "ver", ver);
    jw_kstr(w, "run_id", r->run_id);
    jw_kstr(w, "response_id", r->response_id);
    jw_kstr(w, "finish_reasons", r->finish_reasons);
    pairs_arrays(w, "req_params", &r->req_params);
    jw_obj_end(w);
    jw_end_doc(w);
}

/* The ids sent in this run above the persisted cursor (sorted). */
struct idset {
    uint8_t (*v)[HC_UUID_LEN];
    size_t n, cap;
};

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, HC_UUID_LEN);
}

static bool idset_has(const struct idset *s, const uint8_t *id)
{
    return s->n && bsearch(id, s->v, s->n, HC_UUID_LEN, id_cmp) != NULL;
}

/* Drop ids <= floor (the cursor passed them: a rescan starts above). */
static void idset_trim(struct idset *s, const uint8_t *floor)
{
    size_t k = 0;
    if (s->n == 0)
        return;
    while (k < s->n && memcmp(s->v[k], floor, HC_UUID_LEN) <= 0)
        k++;
    memmove(s->v, s->v + k, (s->n - k) * HC_UUID_LEN);
    s->n -= k;
}

struct batch {
    hc_buf rows;
    uint8_t (*ids)[HC_UUID_LEN];
    size_t n;
    uint8_t last[HC_UUID_LEN]; /* last id examined (shipped, already sent, or undecodable) */
    bool examined;             /* at least one record was examined */
    bool end;                  /* the table end was reached */
    uint64_t undecodable;
};

/* Read up to `max` unsent records with ids above `from` (exclusive when
 * from_excl) into b. 0 or HC_ESTORE / HC_ENOMEM. */
static int read_batch(hc_store *s, const uint8_t from[HC_UUID_LEN], bool from_excl, size_t max,
                      const struct idset *sent, const char *origin, bool bodies, struct batch *b)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    char *mem = NULL;
    size_t memlen = 0;
    hc_buf tmp = { 0 };
    b->n = 0;
    b->examined = false;
    b->end = false;
    hc_buf_reset(&b->rows);
    if (hc_store_txn_begin(s, false, &txn))
        return HC_ESTORE;
    if (mdb_cursor_open(txn, hc_store_dbi(s, HC_T_RECORDS), &cur)) {
        hc_store_txn_abort(s, txn);
        return HC_ESTORE;
    }
    FILE *f = open_memstream(&mem, &memlen);
    if (!f) {
        mdb_cursor_close(cur);
        hc_store_txn_abort(s, txn);
        return HC_ENOMEM;
    }
    jw w;
    jw_init(&w, f, false);
    uint64_t ver = (uint64_t)hc_now_us() | (bodies ? 1ull << 62 : 0); /* a row with bodies wins */
    MDB_val k = { HC_UUID_LEN, (void *)from }, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == 0 && from_excl && k.mv_size == HC_UUID_LEN &&
        memcmp(k.mv_data, from, HC_UUID_LEN) == 0)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (b->n == max || (size_t)ftell(f) >= SHIP_MAX_BATCH_BYTES)
            break;
        if (k.mv_size != HC_UUID_LEN)
            continue;
        memcpy(b->last, k.mv_data, HC_UUID_LEN);
        b->examined = true;
        if (idset_has(sent, k.mv_data))
            continue;
        hc_record r;
        if (hc_record_decode(v.mv_data, v.mv_size, &r) != 0) {
            b->undecodable++;
            continue;
        }
        memcpy(r.id, k.mv_data, HC_UUID_LEN);
        write_row(&w, s, txn, &r, origin, bodies, ver, &tmp);
        memcpy(b->ids[b->n++], k.mv_data, HC_UUID_LEN);
    }
    b->end = mrc == MDB_NOTFOUND;
    mdb_cursor_close(cur);
    hc_store_txn_abort(s, txn);
    hc_buf_free(&tmp);
    int ferr = fclose(f);
    int rc = mrc != 0 && mrc != MDB_NOTFOUND ? HC_ESTORE : ferr ? HC_ENOMEM : 0;
    if (rc == 0 && memlen)
        rc = hc_buf_append(&b->rows, mem, memlen);
    free(mem);
    return rc;
}

/* Sleep up to us, waking early on a stop request. */
static void pause_us(int64_t us)
{
    int64_t end = hc_mono_us() + us;
    while (!stop_requested) {
        int64_t left = end - hc_mono_us();
        if (left <= 0)
            break;
        if (left > 100000)
            left = 100000;
        struct timespec ts = { 0, (long)left * 1000 };
        nanosleep(&ts, NULL);
    }
}

static int parse_dur(const char *opt, const char *arg, int64_t *out)
{
    if (hc_parse_duration_us(arg, out) != 0 || *out <= 0)
        return cli_misuse("ship: %s: expected a duration like 500ms, 2s, 1m or 1h, got '%s'", opt,
                          arg);
    return 0;
}

int cmd_ship(int argc, char **argv)
{
    /* --to otlp://… (or an OTLP http:// URL): OpenTelemetry, ship_otlp.c. */
    for (int i = 1; i < argc; i++)
        if ((strcmp(argv[i], "--to") == 0 && i + 1 < argc && ship_otlp_wanted(argv[i + 1])) ||
            (strncmp(argv[i], "--to=", 5) == 0 && ship_otlp_wanted(argv[i] + 5)))
            return ship_otlp(argc, argv);
    ana_ctx c = { .cmd = "ship" };
    cli_parser p;
    const char *arg, *to = NULL, *origin = NULL;
    bool follow = false, bodies = false;
    unsigned long long batch = 5000;
    int64_t interval = 2000000, settle = 3600000000LL, retry_for = 120000000LL,
            timeout = 30000000LL;
    int id, rc = CLI_EXIT_MISUSE;
    hc_store *s = NULL;
    ch_dest d = { 0 };
    struct idset sent = { 0 };
    struct batch b = { 0 };
    char host[256], err[512], path[PATH_MAX];

    cli_init(&p, argc, argv, c.cmd);
    while ((id = cli_next(&p, opts, &arg)) != CLI_END) {
        if (id == CLI_ERR)
            goto out;
        if (id == OPT_PRICES || id == OPT_CSV) {
            cli_misuse("ship: --%s does not apply (ship sends the stored records as they are)",
                       id == OPT_CSV ? "csv" : "prices");
            goto out;
        }
        int h = cli_common(&c, id, arg);
        if (h < 0)
            goto out;
        if (h)
            continue;
        if (id == OPT_TO) {
            to = arg;
        } else if (id == OPT_FOLLOW) {
            follow = true;
        } else if (id == OPT_BODIES) {
            bodies = true;
        } else if (id == OPT_ORIGIN) {
            origin = arg;
        } else if (id == OPT_BATCH) {
            if (cli_parse_u64("--batch", arg, &batch))
                goto out;
            if (batch < 1 || batch > 1000000) {
                cli_misuse("ship: --batch: expected 1..1000000 rows, got '%s'", arg);
                goto out;
            }
        } else if (id == OPT_INTERVAL || id == OPT_SETTLE || id == OPT_RETRY_FOR ||
                   id == OPT_TIMEOUT) {
            static const char *const names[] = { "--interval", "--settle", "--retry-for",
                                                 "--timeout" };
            int64_t *dst[] = { &interval, &settle, &retry_for, &timeout };
            if (parse_dur(names[id - OPT_INTERVAL], arg, dst[id - OPT_INTERVAL]))
                goto out;
        } else if (id == CLI_POS) {
            cli_misuse("ship: unexpected argument '%s'", arg);
            goto out;
        }
    }
    if (c.help) {
        fputs(usage, stdout);
        rc = 0;
        goto out;
    }
    if (!to) {
        cli_misuse("ship: --to clickhouse://HOST:PORT/DB is required");
        goto out;
    }
    if (ch_dest_parse(to, "ship: --to", &d))
        goto out;
    d.timeout_ms = timeout / 1000 > 3600000 ? 3600000 : (int)(timeout / 1000);
    if (!origin) {
        if (gethostname(host, sizeof host) != 0)
            strcpy(host, "unknown");
        host[sizeof host - 1] = '\0';
        origin = host;
    }
    if ((rc = cli_store_path(&c, path, sizeof path)) || (rc = cli_open_store_rw(path, false, &s)))
        goto out;
    rc = CLI_EXIT_MISUSE;
    if (!(b.ids = malloc(batch * HC_UUID_LEN))) {
        cli_misuse("ship: out of memory");
        goto out;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    uint8_t cursor[HC_UUID_LEN];
    int grc = shipcur_get(s, d.name, cursor);
    if (grc && grc != HC_ENOTFOUND) {
        cli_misuse("%s: cannot read the ship cursor: %s", path, hc_strerror(grc));
        goto out;
    }
    bool have_cursor = grc == 0, need_schema = true;
    uint64_t shipped = 0, bytes = 0, batches = 0, retries = 0;
    int64_t fail_since = 0, backoff = 500000;
    rc = 0;
    /* A pass scans from the cursor to the end of the table. */
    while (!stop_requested) {
        int64_t pass_start = hc_now_us();
        uint8_t scan[HC_UUID_LEN];
        memcpy(scan, cursor, HC_UUID_LEN);
        bool scan_excl = have_cursor;
        for (;;) {
            int e = read_batch(s, scan, scan_excl, (size_t)batch, &sent, origin, bodies, &b);
            if (e) {
                rc = cli_misuse("%s: reading records failed: %s", path, hc_strerror(e));
                goto out;
            }
            while (b.n > 0) { /* send until acknowledged */
                if (stop_requested) {
                    rc = follow ? 0 : CLI_EXIT_NO;
                    goto done;
                }
                e = need_schema ? ensure_schema(&d, err, sizeof err) : 0;
                if (e == HC_ESCHEMA) {
                    rc = cli_misuse("ship: %s: %s", d.name, err);
                    goto out;
                }
                if (e == 0) {
                    need_schema = false;
                    char q[256];
                    snprintf(q, sizeof q,
                             "INSERT%%20INTO%%20%s.hc_records%%20FORMAT%%20JSONEachRow", d.db);
                    e = ch_exec(&d, q, b.rows.data, b.rows.len, 0, NULL, err, sizeof err);
                }
                if (e == 0)
                    break;
                /* Not acknowledged: keep the batch and the cursor, back off, retry.
                 * The schema is checked again (the table may have been dropped). */
                need_schema = true;
                retries++;
                if (!fail_since)
                    fail_since = hc_mono_us();
                if (!follow && hc_mono_us() - fail_since >= retry_for) {
                    fprintf(stderr,
                            "hc-analyze: ship: %s: %s; gave up after %" PRId64 "s of failures "
                            "(cursor kept; run ship again to resume)\n",
                            d.name, err, retry_for / 1000000);
                    rc = CLI_EXIT_NO;
                    goto done;
                }
                fprintf(stderr,
                        "hc-analyze: ship: %s: %s; retrying in %.1fs (%zu records waiting, cursor "
                        "kept)\n",
                        d.name, err, (double)backoff / 1e6, b.n);
                pause_us(backoff);
                backoff = backoff * 2 > 30000000 ? 30000000 : backoff * 2;
            }
            if (b.n > 0) {
                fail_since = 0;
                backoff = 500000;
                shipped += b.n;
                bytes += b.rows.len;
                batches++;
                if (sent.n + b.n > sent.cap) {
                    size_t nc = (sent.n + b.n) * 2;
                    void *nv = realloc(sent.v, nc * HC_UUID_LEN);
                    if (!nv) {
                        rc = cli_misuse("ship: out of memory");
                        goto out;
                    }
                    sent.v = nv;
                    sent.cap = nc;
                }
                memcpy(sent.v + sent.n, b.ids, b.n * HC_UUID_LEN);
                sent.n += b.n;
                qsort(sent.v, sent.n, HC_UUID_LEN, id_cmp);
            }
            /* Everything up to the last id examined is acknowledged; the cursor
             * may move there, but not past the settle horizon of this pass. */
            uint8_t horizon[HC_UUID_LEN] = { 0 }, next[HC_UUID_LEN];
            int64_t hus = pass_start - settle;
            if (hus > 0) {
                uint64_t ms = (uint64_t)hus / 1000;
                for (int i = 5; i >= 0; i--, ms >>= 8)
                    horizon[i] = (uint8_t)ms;
            }
            if (b.end || !b.examined || memcmp(b.last, horizon, HC_UUID_LEN) > 0)
                memcpy(next, horizon, HC_UUID_LEN);
            else
                memcpy(next, b.last, HC_UUID_LEN);
            if ((!have_cursor || memcmp(next, cursor, HC_UUID_LEN) > 0) &&
                memcmp(next, (uint8_t[HC_UUID_LEN]){ 0 }, HC_UUID_LEN) != 0) {
                if ((e = shipcur_advance(s, d.name, next)) != 0) {
                    rc = cli_misuse("%s: cannot save the ship cursor: %s (what was sent collapses "
                                    "when re-sent)",
                                    path, hc_strerror(e));
                    goto out;
                }
                memcpy(cursor, next, HC_UUID_LEN);
                have_cursor = true;
                idset_trim(&sent, cursor);
            }
            if (b.examined) {
                memcpy(scan, b.last, HC_UUID_LEN);
                scan_excl = true;
            }
            if (b.end || !b.examined || stop_requested)
                break;
        }
        if (!follow)
            break;
        pause_us(interval);
    }
done:
    if (b.undecodable)
        cli_warn("ship: %" PRIu64 " records could not be decoded and were not shipped",
                 b.undecodable);
    {
        char ct[40];
        if (c.fmt == CLI_JSON) {
            jw w;
            jw_init(&w, stdout, true);
            jw_obj(&w);
            jw_kstr(&w, "store", path);
            jw_kstr(&w, "to", d.name);
            jw_kuint(&w, "records", shipped);
            jw_kuint(&w, "bytes", bytes);
            jw_kuint(&w, "batches", batches);
            jw_kuint(&w, "retries", retries);
            jw_kbool(&w, "bodies", bodies);
            jw_key(&w, "cursor");
            if (have_cursor)
                jw_str(&w, fmt_time_iso(ct, hc_uuid_time_us(cursor)));
            else
                jw_null(&w);
            jw_kbool(&w, "complete", rc == 0);
            jw_obj_end(&w);
            jw_end_doc(&w);
        } else {
            char n1[FMT_NUM], n2[FMT_NUM];
            printf("%s: shipped %s records (%s) to %s in %" PRIu64 " batches%s%s\n", path,
                   fmt_int(n1, (int64_t)shipped), fmt_bytes(n2, bytes), d.name, batches,
                   have_cursor ? "; cursor at " : "",
                   have_cursor ? fmt_time_iso(ct, hc_uuid_time_us(cursor)) : "");
        }
    }
out:
    free(sent.v);
    free(b.ids);
    hc_buf_free(&b.rows);
    cli_close_store(s);
    return rc;
}
