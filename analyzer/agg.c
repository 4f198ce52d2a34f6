/* agg.c — accumulators, group tables and quickselect percentiles (see agg.h). */
#include "agg.h"
#include "err.h"
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int agg_vec_push(agg_vec *a, int64_t x)
{
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 256;
        int64_t *nv = realloc(a->v, ncap * sizeof *nv);
        if (!nv)
            return HC_ENOMEM;
        a->v = nv;
        a->cap = ncap;
    }
    a->v[a->n++] = x;
    return 0;
}

void agg_vec_free(agg_vec *a)
{
    free(a->v);
    memset(a, 0, sizeof *a);
}

static void swap64(int64_t *a, int64_t *b)
{
    int64_t t = *a;
    *a = *b;
    *b = t;
}

/* Place the k-th smallest (0-based) at v[k]: quickselect with a median-of-three
 * pivot and a three-way partition, so runs of equal latencies cost nothing. */
static int64_t select_k(int64_t *v, size_t lo, size_t n, size_t k)
{
    size_t hi = n; /* [lo, hi) holds rank k */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t a = v[lo], b = v[mid], c = v[hi - 1];
        int64_t pivot = (a < b) ? ((b < c) ? b : (a < c ? c : a)) : ((a < c) ? a : (b < c ? c : b));
        /* Dutch flag: [lo,lt) < pivot, [lt,i) == pivot, (gt,hi) > pivot */
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (v[i] < pivot)
                swap64(&v[lt++], &v[i++]);
            else if (v[i] > pivot)
                swap64(&v[i], &v[--gt]);
            else
                i++;
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return pivot;
    }
    return v[k];
}

static size_t rank_of(unsigned p, size_t n)
{
    if (p > 100)
        p = 100;
    size_t rank = (size_t)(((unsigned long long)p * n + 99) / 100); /* ceil(p*n/100) */
    return rank < 1 ? 1 : rank;
}

int64_t agg_percentile(agg_vec *a, unsigned p)
{
    if (!a->n || p == 0)
        return -1;
    return select_k(a->v, 0, a->n, rank_of(p, a->n) - 1);
}

void agg_percentiles(agg_vec *a, const unsigned *ps, size_t np, int64_t *out)
{
    /* After selecting rank k, everything at or after k is >= v[k], so the next
     * (larger) rank is searched in [k, n) only. */
    size_t lo = 0;
    for (size_t i = 0; i < np; i++) {
        if (!a->n || ps[i] == 0) {
            out[i] = -1;
            continue;
        }
        size_t k = rank_of(ps[i], a->n) - 1;
        if (k < lo)
            lo = 0;
        out[i] = select_k(a->v, lo, a->n, k);
        lo = k;
    }
}

void agg_acc_init(agg_acc *a, unsigned keep)
{
    memset(a, 0, sizeof *a);
    a->keep = keep;
    a->first_us = INT64_MAX;
    a->last_us = INT64_MIN;
    a->last_start_us = INT64_MIN;
}

static int count_model(agg_acc *a, const char *m)
{
    for (size_t i = 0; i < a->nmodels; i++)
        if (strcmp(a->models[i].model, m) == 0) {
            a->models[i].n++;
            return 0;
        }
    agg_model_count *nm = realloc(a->models, (a->nmodels + 1) * sizeof *nm);
    if (!nm)
        return HC_ENOMEM;
    a->models = nm;
    if (!(nm[a->nmodels].model = strdup(m)))
        return HC_ENOMEM;
    nm[a->nmodels++].n = 1;
    return 0;
}

int agg_acc_add(agg_acc *a, const hc_record *r)
{
    int rc = 0;
    a->requests++;
    if (query_is_error(r))
        a->errors++;
    if (r->cost_flags & HC_COST_UNPRICED)
        a->unpriced++;
    if (r->cost_flags & HC_COST_ESTIMATED)
        a->estimated++;
    /* An unpriced request is counted as unpriced only (the recorder never sets
     * both flags, an imported record may): priced = requests - unpriced -
     * no_usage must not count it twice. */
    if ((r->cost_flags & HC_COST_NO_USAGE) && !(r->cost_flags & HC_COST_UNPRICED) &&
        r->status >= 200 && r->status < 300 && !(r->flags & (HC_REC_CACHE_HIT | HC_REC_REPLAYED)))
        a->no_usage++;
    if (r->flags & HC_REC_CACHE_HIT)
        a->cache_hits++;
    if (r->retries > 0) {
        a->retried++;
        a->retries += (uint64_t)r->retries;
    }
    if (r->fallback_idx >= 0)
        a->fallbacks++;
    switch (agg_limit_of(r)) {
    case AGG_LIMIT_PROVIDER_429: a->rate_limited++; break;
    case AGG_LIMIT_RATELIMIT_BLOCK:
        a->ratelimit_blocked++;
        a->blocked++;
        break;
    case AGG_LIMIT_BUDGET_BLOCK:
        a->budget_blocked++;
        a->blocked++;
        break;
    default: break;
    }
    if (r->flags & HC_REC_STREAM)
        a->streamed++;
    a->tok_in += r->tok_in;
    a->tok_out += r->tok_out;
    a->tok_cached += r->tok_cached;
    a->tok_reasoning += r->tok_reasoning;
    a->tok_cw5m += r->tok_cw5m;
    a->tok_cw1h += r->tok_cw1h;
    a->cost_nusd += r->cost_nusd;
    a->saved_nusd += r->saved_nusd;
    int64_t lat = r->latency_us > 0 ? r->latency_us : 0;
    a->latency_sum_us += lat;
    if (r->start_us < a->first_us)
        a->first_us = r->start_us;
    if (r->start_us > a->last_start_us)
        a->last_start_us = r->start_us;
    if (r->start_us + lat > a->last_us)
        a->last_us = r->start_us + lat;
    if ((a->keep & AGG_LATENCY) && agg_vec_push(&a->lat, lat))
        rc = HC_ENOMEM;
    if ((a->keep & AGG_TTFT) && r->ttft_us >= 0 && agg_vec_push(&a->ttft, r->ttft_us))
        rc = HC_ENOMEM;
    if ((a->keep & AGG_MODELS) && count_model(a, query_model_of(r)))
        rc = HC_ENOMEM;
    return rc;
}

void agg_acc_free(agg_acc *a)
{
    agg_vec_free(&a->lat);
    agg_vec_free(&a->ttft);
    for (size_t i = 0; i < a->nmodels; i++)
        free(a->models[i].model);
    free(a->models);
    a->models = NULL;
    a->nmodels = 0;
}

static int cmp_model(const void *x, const void *y)
{
    const agg_model_count *a = x, *b = y;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return strcmp(a->model, b->model);
}

void agg_acc_sort_models(agg_acc *a)
{
    if (a->nmodels > 1)
        qsort(a->models, a->nmodels, sizeof *a->models, cmp_model);
}

/* FNV-1a: keys are short (model names, user ids), so simplicity wins. */
static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h;
}

void agg_groups_init(agg_groups *g, unsigned keep)
{
    memset(g, 0, sizeof *g);
    g->keep = keep;
}

long agg_group_find(const agg_groups *g, const char *key, size_t klen)
{
    if (!g->cap)
        return -1;
    uint64_t h = hash_key(key, klen);
    for (size_t i = h & (g->cap - 1);; i = (i + 1) & (g->cap - 1)) {
        struct agg_slot *s = &g->slots[i];
        if (!s->idx)
            return -1;
        size_t gi = s->idx - 1;
        if (s->hash == h && g->klens[gi] == klen && memcmp(g->keys[gi], key, klen) == 0)
            return (long)gi;
    }
}

static int rehash(agg_groups *g)
{
    size_t ncap = g->cap ? g->cap * 2 : 64;
    struct agg_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return HC_ENOMEM;
    for (size_t i = 0; i < g->cap; i++) {
        if (!g->slots[i].idx)
            continue;
        size_t j = g->slots[i].hash & (ncap - 1);
        while (ns[j].idx)
            j = (j + 1) & (ncap - 1);
        ns[j] = g->slots[i];
    }
    free(g->slots);
    g->slots = ns;
    g->cap = ncap;
    return 0;
}

agg_acc *agg_group(agg_groups *g, const char *key, size_t klen)
{
    if ((g->n + 1) * 2 > g->cap && rehash(g))
        return NULL;
    uint64_t h = hash_key(key, klen);
    size_t i = h & (g->cap - 1);
    for (;; i = (i + 1) & (g->cap - 1)) {
        struct agg_slot *s = &g->slots[i];
        if (!s->idx)
            break;
        size_t gi = s->idx - 1;
        if (s->hash == h && g->klens[gi] == klen && memcmp(g->keys[gi], key, klen) == 0)
            return &g->accs[gi];
    }
    if (g->n == g->acap) {
        size_t ncap = g->acap ? g->acap * 2 : 64;
        agg_acc *na = realloc(g->accs, ncap * sizeof *na);
        if (!na)
            return NULL;
        g->accs = na;
        char **nk = realloc(g->keys, ncap * sizeof *nk);
        if (!nk)
            return NULL;
        g->keys = nk;
        size_t *nl = realloc(g->klens, ncap * sizeof *nl);
        if (!nl)
            return NULL;
        g->klens = nl;
        g->acap = ncap;
    }
    char *k = malloc(klen + 1);
    if (!k)
        return NULL;
    memcpy(k, key, klen);
    k[klen] = '\0';
    g->keys[g->n] = k;
    g->klens[g->n] = klen;
    agg_acc_init(&g->accs[g->n], g->keep);
    g->slots[i].hash = h;
    g->slots[i].idx = (uint32_t)(g->n + 1);
    return &g->accs[g->n++];
}

void agg_groups_free(agg_groups *g)
{
    for (size_t i = 0; i < g->n; i++) {
        agg_acc_free(&g->accs[i]);
        free(g->keys[i]);
    }
    free(g->accs);
    free(g->keys);
    free(g->klens);
    free(g->slots);
    memset(g, 0, sizeof *g);
}

static const agg_groups *order_g; /* qsort has no context argument; single-threaded tool */

static int cmp_order(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    const agg_acc *A = &order_g->accs[a], *B = &order_g->accs[b];
    if (A->cost_nusd != B->cost_nusd)
        return A->cost_nusd > B->cost_nusd ? -1 : 1;
    if (A->requests != B->requests)
        return A->requests > B->requests ? -1 : 1;
    size_t la = order_g->klens[a], lb = order_g->klens[b];
    int c = memcmp(order_g->keys[a], order_g->keys[b], la < lb ? la : lb);
    return c ? c : (la < lb ? -1 : la > lb);
}

void agg_groups_order(const agg_groups *g, size_t *order)
{
    for (size_t i = 0; i < g->n; i++)
        order[i] = i;
    order_g = g;
    qsort(order, g->n, sizeof *order, cmp_order);
    order_g = NULL;
}

enum agg_limit agg_limit_of(const hc_record *r)
{
    /* core/proxy.c answers a policy block with 429 and the error "rate limit
     * … reached", a budget block with "budget … exceeded" (and the budget). */
    if (r->flags & HC_REC_BLOCKED)
        return strncmp(r->error, "rate limit", 10) == 0 ? AGG_LIMIT_RATELIMIT_BLOCK
                                                        : AGG_LIMIT_BUDGET_BLOCK;
    if ((r->flags & HC_REC_RATE_LIMITED) || r->status == 429)
        return AGG_LIMIT_PROVIDER_429;
    return AGG_LIMIT_NONE;
}

char *agg_limits_text(char *out, size_t size, const agg_acc *a)
{
    snprintf(out, size, "provider 429s %llu   rate-limit blocks %llu   budget blocks %llu",
             (unsigned long long)a->rate_limited, (unsigned long long)a->ratelimit_blocked,
             (unsigned long long)a->budget_blocked);
    return out;
}

/* The record flags (HC_REC_*, common/record.h) by bit: the name `show`
 * prints, and the letter of the FLAGS column (0: not shown there). */
static const struct {
    const char *name;
    char letter;
} rec_flags[] = {
    { "stream", 'S' },           { "cache_hit", 'C' },     { "request_truncated", 0 },
    { "response_truncated", 0 }, { "request_omitted", 0 }, { "response_omitted", 0 },
    { "observed", 0 },           { "blocked", 0 },         { "client_abort", 0 },
    { "usage_injected", 0 },     { "cache_stored", 0 },    { "rate_limited", 0 },
    { "budget_warn", 0 },        { "replayed", 'Y' },
};

void agg_flags_text(const hc_record *r, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
#define ADD(...) n += (size_t)snprintf(out + n, n < size ? size - n : 0, __VA_ARGS__)
    for (size_t i = 0; i < sizeof rec_flags / sizeof rec_flags[0]; i++)
        if (rec_flags[i].letter && (r->flags & (1u << i)))
            ADD("%c", rec_flags[i].letter);
    if (r->retries > 0)
        ADD("R%d", r->retries);
    if (r->fallback_idx >= 0)
        ADD("F%d", r->fallback_idx);
    switch (agg_limit_of(r)) {
    case AGG_LIMIT_PROVIDER_429: ADD("L"); break;
    case AGG_LIMIT_RATELIMIT_BLOCK: ADD("P"); break;
    case AGG_LIMIT_BUDGET_BLOCK: ADD("B"); break;
    default: break;
    }
#undef ADD
}

int agg_flag_names(uint32_t flags, hc_buf *out)
{
    int rc = 0;
    for (unsigned i = 0; i < 32; i++)
        if (flags & (1u << i)) {
            if (out->len)
                rc |= hc_buf_puts(out, ",");
            if (i < sizeof rec_flags / sizeof rec_flags[0])
                rc |= hc_buf_puts(out, rec_flags[i].name);
            else
                rc |= hc_buf_printf(out, "bit%u", i);
        }
    if (!out->data)
        rc |= hc_buf_append(out, "", 0);
    return rc ? HC_ENOMEM : 0;
}
