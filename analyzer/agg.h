/* agg.h — aggregation: accumulators, string-keyed groups, exact percentiles.
 *
 * Percentiles are EXACT, by the nearest-rank method: the p-th percentile of n
 * values is the value of rank ceil(p * n / 100) (1-based) in ascending order
 * (for n = 0 there is none). Every latency is kept in a growable int64 array
 * (8 bytes per record: 8 MB per million) and the rank is found with
 * quickselect in O(n), so no sort and no approximation.
 *
 * An accumulator (agg_acc) sums what `report`, `users` and `sessions` show for
 * a set of records. A group table (agg_groups) maps a string key (copied) to
 * an accumulator, with open addressing, so aggregating a million records into
 * groups is one hash lookup per record.
 *
 * Memory is owned by the structures; free them with the *_free functions.
 * Not thread-safe.
 */
#ifndef HC_ANA_AGG_H
#define HC_ANA_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "record.h"

typedef struct agg_vec {
    int64_t *v;
    size_t n, cap;
} agg_vec;

/* Append; 0 or HC_ENOMEM. */
int agg_vec_push(agg_vec *a, int64_t x);
void agg_vec_free(agg_vec *a);
/* Nearest-rank percentile p (0 < p <= 100) of a's values; reorders a->v.
 * Returns -1 when a is empty. */
int64_t agg_percentile(agg_vec *a, unsigned p);

/* Several percentiles at once, ps ascending (then faster than one by one:
 * each search starts where the previous rank ended). out[i] = -1 when empty. */
void agg_percentiles(agg_vec *a, const unsigned *ps, size_t np, int64_t *out);

/* What an accumulator keeps besides the sums. */
enum {
    AGG_LATENCY = 1u << 0, /* keep latencies (for percentiles) */
    AGG_TTFT = 1u << 1,    /* keep TTFTs (records with ttft_us >= 0) */
    AGG_MODELS = 1u << 2,  /* count requests per model (users' top models) */
};

typedef struct agg_model_count {
    char *model;
    uint64_t n;
} agg_model_count;

typedef struct agg_acc {
    uint64_t requests;
    uint64_t errors;   /* status >= 400 or 0 */
    uint64_t unpriced; /* cost_flags & HC_COST_UNPRICED */
    /* 2xx answers (not cache hits, not unpriced) that carried no usage: cost unknown */
    uint64_t no_usage;
    uint64_t estimated;         /* cost_flags & HC_COST_ESTIMATED */
    uint64_t cache_hits;        /* flags & HC_REC_CACHE_HIT */
    uint64_t retried;           /* requests with retries > 0 */
    uint64_t retries;           /* sum of retries */
    uint64_t fallbacks;         /* answered by a fallback (fallback_idx >= 0) */
    uint64_t rate_limited;      /* provider 429s: AGG_LIMIT_PROVIDER_429 (agg_limit_of) */
    uint64_t ratelimit_blocked; /* rate-limit blocks: AGG_LIMIT_RATELIMIT_BLOCK */
    uint64_t budget_blocked;    /* budget blocks: AGG_LIMIT_BUDGET_BLOCK */
    uint64_t blocked;           /* ratelimit_blocked + budget_blocked (HC_REC_BLOCKED) */
    uint64_t streamed;          /* HC_REC_STREAM */
    int64_t tok_in, tok_out, tok_cached, tok_reasoning, tok_cw5m, tok_cw1h;
    int64_t cost_nusd, saved_nusd;
    int64_t latency_sum_us;    /* sum of latency_us (>= 0 only) */
    int64_t first_us, last_us; /* min start_us, max start_us + latency_us */
    int64_t last_start_us;     /* max start_us */
    agg_vec lat, ttft;
    agg_model_count *models; /* AGG_MODELS */
    size_t nmodels;
    unsigned keep; /* AGG_* */
    void *user;    /* for the caller (e.g. a session name) */
} agg_acc;

/* The three ways a request meets a limit. Every command, the dashboard and
 * the JSON name and count them the same way (AGG_LIMIT_NAMES, agg_limits_json):
 *   provider 429      the provider answered 429, at least once (a retry may have
 *                     recovered): HC_REC_RATE_LIMITED, or a 429 status that is
 *                     not a block
 *   rate-limit block  refused by the client-side rate-limit policy (HC_RATELIMIT,
 *                     Helicone-RateLimit-Policy) before any upstream call
 *   budget block      refused by a budget (HC_BUDGET) before any upstream call
 * They exclude each other: a blocked request made no upstream call. */
enum agg_limit {
    AGG_LIMIT_NONE,
    AGG_LIMIT_PROVIDER_429,
    AGG_LIMIT_RATELIMIT_BLOCK,
    AGG_LIMIT_BUDGET_BLOCK
};
#define AGG_LIMIT_NAMES "provider 429", "rate-limit block", "budget block"
enum agg_limit agg_limit_of(const hc_record *r);
/* The FLAGS cell of requests and the dashboard: S streamed, C cache hit,
 * Y replayed from a cassette, R<n> retried n times, F<i> answered by
 * fallback i, L provider 429, P rate-limit block, B budget block. */
void agg_flags_text(const hc_record *r, char *out, size_t size);
/* The record's flags by name, comma-separated ("stream,cache_hit"; an
 * unknown bit as "bitN"), appended to out (left "" when none: out->data is
 * set). Both come from one table of the HC_REC_* bits. 0 or HC_ENOMEM. */
int agg_flag_names(uint32_t flags, hc_buf *out);
/* Text: "provider 429s N   rate-limit blocks N   budget blocks N". */
char *agg_limits_text(char *out, size_t size, const agg_acc *a);

/* Requests whose cost is known: not unpriced, and not a 2xx answer without
 * usage. Cost per request (report, users) divides by this. */
static inline uint64_t agg_priced(const agg_acc *a)
{
    return a->requests - a->unpriced - a->no_usage;
}

/* Zero a and set what it keeps. */
void agg_acc_init(agg_acc *a, unsigned keep);
/* Add one record. 0 or HC_ENOMEM (the sums are still updated). */
int agg_acc_add(agg_acc *a, const hc_record *r);
void agg_acc_free(agg_acc *a);
/* Models sorted by count (desc), then name. Pointers stay owned by a. */
void agg_acc_sort_models(agg_acc *a);

typedef struct agg_groups {
    struct agg_slot {
        uint64_t hash;
        uint32_t idx;
    } * slots;   /* idx + 1; 0 = empty */
    size_t cap;  /* slots, a power of two */
    size_t n;    /* groups */
    char **keys; /* n keys (NUL-terminated copies) */
    size_t *klens;
    agg_acc *accs; /* n accumulators */
    size_t acap;
    unsigned keep; /* AGG_* for new accumulators */
} agg_groups;

void agg_groups_init(agg_groups *g, unsigned keep);
/* The accumulator for key (klen bytes; may contain NULs), created when new.
 * NULL on ENOMEM. The pointer is valid until the next agg_group() call. */
agg_acc *agg_group(agg_groups *g, const char *key, size_t klen);
/* Index of key or -1. */
long agg_group_find(const agg_groups *g, const char *key, size_t klen);
void agg_groups_free(agg_groups *g);

/* Order for printing: cost desc, then requests desc, then key asc. Fills
 * order[0..n-1] with group indexes (caller allocates n entries). */
void agg_groups_order(const agg_groups *g, size_t *order);

#endif
