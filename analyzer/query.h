/* query.h — record filters and iteration over a store's records table.
 *
 * A filter is built from command-line options (--since, --where, …) and
 * matched against decoded records. Matching looks only at the record itself:
 * it never reads the bodies table, so filtering a million records by user or
 * property touches nothing but the small records.
 *
 * Iteration walks the records table, keyed by time-ordered UUIDv7 ids, with
 * one LMDB cursor, forwards (oldest first) or backwards (newest first). Each
 * record is decoded zero-copy: the hc_record handed to the callback points
 * into LMDB's map and is valid only during the callback (strictly: until the
 * caller's read transaction ends). Records that fail to decode are counted in
 * query_stats.undecodable and skipped, never fatal.
 *
 * Time filters compare the record's start_us (the request time), not the id.
 *
 * Not thread-safe; a filter may be shared read-only between scans.
 */
#ifndef HC_ANA_QUERY_H
#define HC_ANA_QUERY_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define QUERY_MAX_TERMS 32

/* A status term: HTTP statuses in [lo, hi]; lo = -1 means "error" (>= 400 or 0). */
typedef struct query_status {
    int lo, hi;
} query_status;

typedef struct query_filter {
    bool has_since, has_until;
    int64_t since_us, until_us;           /* since inclusive, until exclusive */
    const char *where_k[QUERY_MAX_TERMS]; /* --where K=V, ANDed; strings owned by the filter */
    const char *where_v[QUERY_MAX_TERMS];
    int n_where;
    const char *models[QUERY_MAX_TERMS]; /* glob patterns, ORed */
    int n_models;
    const char *providers[QUERY_MAX_TERMS]; /* case-insensitive, ORed */
    int n_providers;
    query_status status[QUERY_MAX_TERMS]; /* ORed */
    int n_status;
    const char *user, *session;   /* exact; NULL = any */
    const char *run;              /* --run ID: exact run id; NULL = any */
    bool run_last;                /* --run last: the newest record's run (query_scan
                                                * resolves it; query_match alone matches nothing) */
    int cache;                    /* 0 any, 1 hits only, 2 misses only */
    char *owned[QUERY_MAX_TERMS]; /* copies made for --where */
    int n_owned;
} query_filter;

typedef struct query_stats {
    uint64_t scanned;     /* records read from the table */
    uint64_t matched;     /* passed the filter and were handed to the callback */
    uint64_t undecodable; /* malformed or newer-format records, skipped */
    char run[72];         /* --run last: the run id it meant ("" when no record has one) */
    bool run_none;        /* --run last was asked and no record has a run id (nothing matched) */
} query_stats;

/* An error on records (status >= 400, or 0 = no response at all). */
static inline bool query_is_error(const hc_record *r)
{
    return r->status >= 400 || r->status <= 0;
}

/* Parse a --since/--until value: absolute ("2026-11-01", "2026-11-01T10:00",
 * Unix seconds) or relative ("7d", "24h", "30m", "90s", "2w" = now_us minus it).
 * 0 or HC_EINVAL. */
int query_parse_time(const char *s, int64_t now_us, int64_t *out_us);

/* Set one filter term from option `opt` ("--since", "--where", "--model",
 * "--user", "--session", "--status", "--cache", "--provider", "--run") with value arg.
 * arg must outlive the filter (argv does). 0, or HC_EINVAL with a one-line
 * explanation in err ("expected a time like 2026-11-01 or 7d, got 'x'"),
 * or HC_ETOOBIG past QUERY_MAX_TERMS terms of one kind. */
int query_filter_set(query_filter *f, const char *opt, const char *arg, int64_t now_us, char *err,
                     size_t errlen);
/* The run id `--run last` means in this store: that of the newest record
 * that has one, into out (at most 64 bytes + NUL; out must hold 72). "" when
 * no record has a run id. 0 or HC_ESTORE. */
int query_last_run(MDB_txn *txn, MDB_dbi dbi, char *out, size_t size);
/* The terms of f as canonical text ("run=last since=… where:K=V …", "" for
 * none), for saying how records were selected and for comparing two
 * selections (audit --baseline). With any_run, `--run last` and every run id
 * read "run=ONE" and a time "since=T", so "this run" and "that run", or
 * "--since 1d" today and yesterday, compare equal. */
void query_filter_describe(const query_filter *f, bool any_run, char *out, size_t size);
/* Free the filter's copies (the filter itself is caller-owned). */
void query_filter_free(query_filter *f);
/* True when the filter has no term (every record matches). */
bool query_filter_empty(const query_filter *f);

/* Does r pass every term of f? Reads only r. */
bool query_match(const query_filter *f, const hc_record *r);

/* Records a record source left out before they reached the store being
 * scanned (the ClickHouse source's pushed-down filter, source_ch.h); every
 * query_scan() adds them to st->scanned, so "records scanned" reads as on a
 * store holding them all. Set when a store is opened (cli_open_store), 0 for
 * a local store. */
extern uint64_t query_prefiltered;

/* Called for each matching record; return non-zero to stop the scan. */
typedef int (*query_cb)(void *ctx, const hc_record *r);

/* Scan the records table (dbi) in txn (a read or write transaction the caller
 * owns), newest first when newest_first. st (may be NULL) is zeroed then
 * filled. A `--run last` term is resolved first (query_last_run; st->run says
 * to what). f may be NULL (match all). Returns 0 (also when stopped by cb), or
 * HC_ESTORE if the cursor failed. */
int query_scan(MDB_txn *txn, MDB_dbi dbi, const query_filter *f, bool newest_first, query_cb cb,
               void *ctx, query_stats *st);

/* Find one record from what a user typed: a full id, a unique prefix or
 * suffix of at least 8 hex digits (tables show an id's last 8: its first 8
 * are the time, shared by the records of a minute), or an app's
 * Helicone-Request-Id. Returns how many records matched: 0, 1 (its id in
 * id), or 2 for "more than one". *nhex (may be NULL) gets the number of hex
 * digits in want, -1 if it is not hex. The one resolver of `show` and serve's
 * /api/request/ID. A store error reads as no match. */
int query_find_id(MDB_txn *txn, MDB_dbi dbi, const char *want, uint8_t id[HC_UUID_LEN], int *nhex);

/* The text of a model column: model_req if set, else model_resp. Never NULL. */
const char *query_model_of(const hc_record *r);

#endif
