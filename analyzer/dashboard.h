/* dashboard.h — the data behind `hc-analyze html` and `hc-analyze serve`.
 *
 * Both commands show the same page (webpage.h); the page draws everything
 * from one JSON document, the "dashboard document", which this module
 * computes from a store snapshot (one read transaction). `html` embeds the
 * document in the file; `serve` answers it at /api/dashboard and the page
 * polls it. The smaller documents of serve's other endpoints come from here
 * too, so every number has one implementation.
 *
 * The dashboard document (keys in order; times are integer µs since the
 * epoch, money integer nano-USD, as everywhere in hc-analyze):
 *   version 1, generated, store, txn (the snapshot's LMDB transaction id:
 *   changes whenever the store does), filters [[name, value]…],
 *   records_scanned, records_matched, undecodable,
 *   summary      the object of `report --json` (summary.h)
 *   series       {unit, bucket_count, models [top 8 by cost, then "(other)"],
 *                 buckets [{start, label, requests, cost_nusd, unpriced_requests,
 *                 model_cost [per models[i]], tok_in, tok_out, errors,
 *                 cache_hits, rate_limited, blocked}]} — every bucket from the
 *                 first to the last, empty ones included
 *   by_model, by_user
 *                {dimension, groups [{key, requests, cost_nusd,
 *                 unpriced_requests, tok_in, tok_out, errors, cache_hits,
 *                 latency_p50_us, latency_p95_us}] (the DASH_TOP first by cost,
 *                 then requests), total_groups, others (the rest summed, or null)}
 *   by_property  the same plus name (null when no record has a property) and
 *                names [{name, requests}] (every property name, most common first)
 *   latency      {bins [{lo_us, hi_us, count}] (1-2-5 steps covering every
 *                 latency), p50_us, p95_us, p99_us, max_us}
 *   ratelimits   {rate_limited, blocked, lowest [{provider, header, kind
 *                 ("requests"|"tokens"), remaining, limit (or null), start_us,
 *                 model}]} — per provider and header, the lowest value seen
 *   requests     {total (matching), shown, limit, body_max, rows [row…]}
 *                newest first; row = {id, start_us, model, provider, status,
 *                error, tok_in, tok_out, cost_nusd, unpriced, no_usage (a 2xx
 *                answer without usage: cost unknown, agg.h), latency_us,
 *                ttft_us, user, session_id, props {…}, flags ("S" streamed,
 *                "C" cache hit, "R<n>", "F<i>", "L" rate-limited, "B" blocked,
 *                as `requests`), excerpt (prompt_excerpt(), or null with no
 *                request body), and with opts.details (html) detail}
 *
 * A detail (also serve's /api/request/ID): {record (every field, recjson.h),
 * prompt [{role, text}] (prompt.h; null when the body is not JSON or absent),
 * prompt_cut, request_body (null when absent), request_cut (cut here, at
 * body_max), request_bytes (decoded length), request_truncated (cut when
 * captured), request_omitted (Helicone-Omit-Request), the same five for
 * response_, response_text (reassemble.h; null when none), response_text_cut,
 * response_kind ("sse", "ndjson", "json_array", "json" or null)}. Bodies and
 * texts are cut at body_max bytes on a UTF-8 boundary; with body_max 0 there
 * are none.
 *
 * Everything is written through a jw writer; nothing here produces markup.
 * Scans never read the bodies table except for the rows shown (excerpts)
 * and details.
 *
 * Not thread-safe (agg.h's ordering is not); one dashboard at a time.
 */
#ifndef HC_ANA_DASHBOARD_H
#define HC_ANA_DASHBOARD_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "jsonw.h"
#include "query.h"
#include "timebucket.h"

#define DASH_TOP              20    /* groups per breakdown; the rest are summed in "others" */
#define DASH_STACK            8     /* models stacked in the spend series; the rest are "(other)" */
#define DASH_DEFAULT_LIMIT    2000  /* rows in the requests table */
#define DASH_DEFAULT_BODY_MAX 65536 /* bytes per body or text in a detail */
#define DASH_MAX_BUCKETS      10000 /* a longer series is refused (choose a larger unit) */
#define DASH_EXCERPT          200   /* bytes of a row's prompt excerpt */

/* The fixed units are timebucket.h's; DASH_AUTO picks one from the period. */
enum dash_unit {
    DASH_AUTO = TB_NONE,
    DASH_MINUTE = TB_MINUTE,
    DASH_HOUR = TB_HOUR,
    DASH_DAY = TB_DAY,
    DASH_WEEK = TB_WEEK,
    DASH_MONTH = TB_MONTH,
};

/* The filter terms as given, for display ("filters" in the document). */
#define DASH_MAX_TERMS 64
typedef struct dash_terms {
    const char *name[DASH_MAX_TERMS]; /* "model", "since", … */
    const char *value[DASH_MAX_TERMS];
    int n;
} dash_terms;

/* What to show. Zero-initialised plus dash_opts_init() defaults. */
typedef struct dash_opts {
    const char *property; /* breakdown property; NULL = the most common name */
    enum dash_unit unit;  /* DASH_AUTO: at most ~240 buckets over the matching period */
    uint64_t limit;       /* rows in the requests table, newest first (0 = all) */
    size_t body_max;      /* bytes of each body/text in a detail (0 = no bodies) */
    bool details;         /* each row carries its detail (the static report) */
} dash_opts;

/* The snapshot to read and how to select records. */
typedef struct dash_src {
    MDB_txn *txn; /* a read transaction the caller owns */
    MDB_dbi recs, bodies;
    const char *store;           /* path, for display */
    const query_filter *f1, *f2; /* both must match; either may be NULL */
    const dash_terms *terms;     /* for display; may be NULL */
    struct dash_cache *cache;    /* row excerpts by id (serve); may be NULL */
} dash_src;

/* Excerpts are decoded from request bodies; serve keeps them between polls,
 * since records never change once written. Bounded: cleared when it holds
 * more than max entries. dash_cache_new: NULL on ENOMEM. */
typedef struct dash_cache dash_cache;
dash_cache *dash_cache_new(size_t max);
void dash_cache_free(dash_cache *c);

void dash_opts_init(dash_opts *o);

/* Parse a --bucket / ?bucket= value: auto, minute, hour, day, week, month.
 * 0 or HC_EINVAL. */
int dash_parse_unit(const char *s, enum dash_unit *out);
/* Parse a size: "65536", "64K", "64KiB", "1M" (binary units). 0 or HC_EINVAL. */
int dash_parse_size(const char *s, size_t *out);

/* Options both commands take (after CLI_COMMON_OPTS, CLI_FILTER_OPTS). The
 * breakdown's `--property NAME` is the shared filter option OPT_PROPERTY
 * (CLI_FILTER_OPTS): with '=' in its value it is the filter `--where K=V`
 * (cli_common), without it the property to break costs down by (the command
 * sets ana_ctx.property_name and passes it to dash_cli_opt). */
enum { OPT_DASH_BUCKET = OPT_CMD + 50, OPT_DASH_LIMIT, OPT_DASH_BODY_MAX, OPT_DASH_BY_PROPERTY };
#define DASH_CLI_OPTS \
    { "bucket", 0, true, OPT_DASH_BUCKET }, { "by-property", 0, true, OPT_DASH_BY_PROPERTY }, \
        { "limit", 'n', true, OPT_DASH_LIMIT }, \
    { \
        "body-max", 0, true, OPT_DASH_BODY_MAX \
    }
#define DASH_HELP_OPTS \
    "  --by-property NAME break costs down by this custom property (default: the\n" \
    "                     most common property name); --property K=V is the filter,\n" \
    "                     as in every command\n" \
    "  --bucket UNIT      time series unit: auto (default), minute, hour, day, week, month\n" \
    "  -n, --limit N      requests in the table, newest first (default 2000; 0 = all)\n" \
    "  --body-max SIZE    bytes of each prompt, response and raw body shown in the\n" \
    "                     detail view (default 64K; 0 = no bodies)\n"
/* Apply one of DASH_CLI_OPTS: 1 handled, 0 not one of them, CLI_ERR after
 * printing the misuse line. */
int dash_cli_opt(dash_opts *o, int id, const char *arg);

/* Record the filter option `id` (OPT_SINCE…OPT_PROVIDER, OPT_RUN, and OPT_PROPERTY
 * with a K=V value, recorded as "where") with its value in t, for display and
 * for re-parsing; arg must outlive t. 0, or CLI_ERR (printed) beyond
 * DASH_MAX_TERMS. Other ids are ignored. */
int dash_terms_add(dash_terms *t, int id, const char *arg);
/* Build a filter from t with relative times resolved against now_us (so a
 * long-running server's "--since 1h" slides). 0, or the query_filter_set()
 * error with its message in err. f is the caller's to query_filter_free(). */
int dash_terms_filter(const dash_terms *t, int64_t now_us, query_filter *f, char *err,
                      size_t errlen);

/* What a document covered (for messages). */
typedef struct dash_result {
    uint64_t matched; /* records that passed the filters */
    uint64_t shown;   /* rows in the requests table */
} dash_result;

/* Write the dashboard document (as one JSON value) with w; res (may be
 * NULL) is filled. 0; HC_ENOMEM; HC_ESTORE when the scan failed; HC_ETOOBIG
 * when an explicit unit would give more than DASH_MAX_BUCKETS buckets. On
 * error a one-line reason is in err and the writer holds a partial
 * document (write into a buffer or a file to be discarded). */
int dash_document(jw *w, const dash_src *src, const dash_opts *o, dash_result *res, char *err,
                  size_t errlen);

/* serve's smaller documents, with the same keys as in the dashboard document:
 * {store, txn, records_scanned, records_matched, undecodable, summary} */
int dash_summary(jw *w, const dash_src *src);
/* {unit, bucket_count, models, buckets, records_matched} (errors as dash_document) */
int dash_series(jw *w, const dash_src *src, enum dash_unit unit, char *err, size_t errlen);
/* {requests: [row…] newest first, count}; excerpts only when body_max > 0. */
int dash_requests(jw *w, const dash_src *src, uint64_t limit, size_t body_max);
/* The detail of the record whose id is `id`, resolved as `show` does
 * (query_find_id: full UUID, unique prefix or suffix of at least 8 hex digits
 * — the ID column of tables —, or Helicone-Request-Id). HC_ENOTFOUND when none
 * matches or it is ambiguous; else 0 or HC_ENOMEM. The filters are not applied. */
int dash_request(jw *w, const dash_src *src, const char *id, size_t body_max);

#endif
