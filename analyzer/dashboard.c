/* dashboard.c — the dashboard document and serve's documents (see dashboard.h).
 *
 * One forward pass over the matching records feeds every aggregate (totals,
 * three breakdowns, the time series, rate-limit minima); a reverse pass that
 * stops after `limit` matches produces the table rows, and only that pass
 * reads the bodies table. When the series unit is "auto" or no property was
 * named, a cheaper first pass finds the matching period and the property
 * names first (the unit and the property must be known before aggregating).
 */
#include "dashboard.h"
#include "trend.h"
#include "agg.h"
#include "clock.h"
#include "err.h"
#include "fmt.h"
#include "prompt.h"
#include "reassemble.h"
#include "recjson.h"
#include "reprice.h"
#include "store.h"
#include "summary.h"
#include "utf8.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- options ------------------------------------------------------------------------ */

void dash_opts_init(dash_opts *o)
{
    memset(o, 0, sizeof *o);
    o->unit = DASH_AUTO;
    o->limit = DASH_DEFAULT_LIMIT;
    o->body_max = DASH_DEFAULT_BODY_MAX;
}

int dash_parse_unit(const char *s, enum dash_unit *out)
{
    static const char *const names[] = { "auto", "minute", "hour", "day", "week", "month" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum dash_unit)i;
            return 0;
        }
    return HC_EINVAL;
}

int dash_parse_size(const char *s, size_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return HC_EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        mul = 1024ull * 1024 * 1024;
    if (mul > 1) {
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
            end += strlen(end);
    }
    if (*end || v > (unsigned long long)SIZE_MAX / mul)
        return HC_EINVAL;
    *out = (size_t)(v * mul);
    return 0;
}

int dash_cli_opt(dash_opts *o, int id, const char *arg)
{
    unsigned long long n;
    switch (id) {
    case OPT_PROPERTY:
        if (strchr(arg, '='))
            return 0; /* the filter --where K=V, applied by cli_common() */
        /* --property means one thing everywhere: the filter K=V. */
        cli_misuse("--property: expected NAME=VALUE (a filter, as in every command), got '%s'; "
                   "the breakdown by a property is --by-property NAME",
                   arg);
        return CLI_ERR;
    case OPT_DASH_BY_PROPERTY:
        if (!*arg || strchr(arg, '=')) {
            cli_misuse("--by-property: expected a property name, got '%s'", arg);
            return CLI_ERR;
        }
        o->property = arg;
        return 1;
    case OPT_DASH_BUCKET:
        if (dash_parse_unit(arg, &o->unit)) {
            cli_misuse("--bucket: expected auto, minute, hour, day, week or month, got '%s'", arg);
            return CLI_ERR;
        }
        return 1;
    case OPT_DASH_LIMIT:
        if (cli_parse_u64("--limit", arg, &n))
            return CLI_ERR;
        o->limit = n;
        return 1;
    case OPT_DASH_BODY_MAX:
        if (dash_parse_size(arg, &o->body_max)) {
            cli_misuse("--body-max: expected a size like 65536, 64K or 1M, got '%s'", arg);
            return CLI_ERR;
        }
        return 1;
    default: return 0;
    }
}

static const char *const term_names[] = {
    [OPT_SINCE] = "since",   [OPT_UNTIL] = "until", [OPT_WHERE] = "where",
    [OPT_MODEL] = "model",   [OPT_USER] = "user",   [OPT_SESSION] = "session",
    [OPT_STATUS] = "status", [OPT_CACHE] = "cache", [OPT_PROVIDER] = "provider",
};

int dash_terms_add(dash_terms *t, int id, const char *arg)
{
    if (id == OPT_PROPERTY && strchr(arg, '='))
        id = OPT_WHERE; /* --property K=V is --where K=V */
    if ((id < OPT_SINCE || id > OPT_PROVIDER) && id != OPT_RUN)
        return 0;
    if (t->n == DASH_MAX_TERMS) {
        cli_misuse("at most %d filter terms", DASH_MAX_TERMS);
        return CLI_ERR;
    }
    t->name[t->n] = id == OPT_RUN ? "run" : term_names[id];
    t->value[t->n++] = arg;
    return 0;
}

int dash_terms_filter(const dash_terms *t, int64_t now_us, query_filter *f, char *err,
                      size_t errlen)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < t->n; i++) {
        char e[256];
        int rc = query_filter_set(f, t->name[i], t->value[i], now_us, e, sizeof e);
        if (rc) {
            snprintf(err, errlen, "%s: %s", t->name[i], e);
            return rc;
        }
    }
    return 0;
}

/* ---- excerpt cache -------------------------------------------------------------------- */

struct dash_cache {
    struct cent {
        uint8_t id[HC_UUID_LEN];
        bool used;
        char *text; /* NULL: the record has no excerpt */
    } * e;
    size_t cap, n, max;
};

dash_cache *dash_cache_new(size_t max)
{
    dash_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max = max ? max : 1;
    for (c->cap = 16; c->cap < 2 * c->max; c->cap *= 2)
        ;
    if (!(c->e = calloc(c->cap, sizeof *c->e))) {
        free(c);
        return NULL;
    }
    return c;
}

static void cache_clear(dash_cache *c)
{
    for (size_t i = 0; i < c->cap; i++)
        free(c->e[i].text);
    memset(c->e, 0, c->cap * sizeof *c->e);
    c->n = 0;
}

void dash_cache_free(dash_cache *c)
{
    if (!c)
        return;
    cache_clear(c);
    free(c->e);
    free(c);
}

/* The slot for id: its entry, or the empty slot where it belongs. */
static struct cent *cache_slot(dash_cache *c, const uint8_t *id)
{
    uint64_t h = 0;
    memcpy(&h, id + 8, 8); /* the random half of a UUIDv7 */
    for (size_t i = h & (c->cap - 1);; i = (i + 1) & (c->cap - 1))
        if (!c->e[i].used || memcmp(c->e[i].id, id, HC_UUID_LEN) == 0)
            return &c->e[i];
}

/* ---- time buckets (UTC) --------------------------------------------------------------- */

static const char *unit_name(enum dash_unit u)
{
    static const char *const names[] = { "auto", "minute", "hour", "day", "week", "month" };
    return names[u];
}

/* The unit that gives at most ~240 buckets over [lo, hi]. */
static enum dash_unit auto_unit(int64_t lo, int64_t hi)
{
    int64_t span = hi > lo ? hi - lo : 0, h = 3600LL * 1000000;
    if (span <= 4 * h)
        return DASH_MINUTE;
    if (span <= 240 * h)
        return DASH_HOUR;
    if (span <= 240 * 24 * h)
        return DASH_DAY;
    if (span <= 240 * 7 * 24 * h)
        return DASH_WEEK;
    return DASH_MONTH;
}

/* ---- the aggregating passes ----------------------------------------------------------- */

#define RL_MAX 32

struct rl_min {
    char provider[32], header[80], model[96];
    bool tokens;
    int64_t remaining, limit, start_us; /* limit < 0: unknown */
};

enum { W_GROUPS = 1u << 0, W_SERIES = 1u << 1, W_PROPS = 1u << 2, W_RL = 1u << 3 };

struct dash {
    const dash_src *src;
    unsigned what;
    enum dash_unit unit;
    const char *prop; /* the breakdown property, or NULL */
    bool count_names; /* the main pass counts property names */
    agg_acc total;
    agg_groups by_model, by_user, by_prop, names;
    agg_groups buckets; /* key: bucket start as decimal µs */
    agg_groups bmodel;  /* key: bucket start, NUL, model */
    struct rl_min rl[RL_MAX];
    size_t nrl;
    int64_t tmin, tmax; /* pre-pass: period of the matching records */
    uint64_t matched;
    summary_pct pct; /* of total, once the passes are done */
    hc_buf key;
    int oom;
};

/* query_scan() applies f1; this applies f2 and counts what passed both. */
struct both {
    const query_filter *f2;
    query_cb cb;
    void *ctx;
    uint64_t matched;
};

static int both_cb(void *ctx, const hc_record *r)
{
    struct both *b = ctx;
    if (b->f2 && !query_match(b->f2, r))
        return 0;
    b->matched++;
    return b->cb(b->ctx, r);
}

static int scan(const dash_src *src, bool newest_first, query_cb cb, void *ctx, query_stats *st)
{
    struct both b = { src->f2, cb, ctx, 0 };
    query_filter f2;
    char last[72];
    if (src->f2 && src->f2->run_last) {
        /* ?run=last: resolved here, as query_scan() does for f1. */
        if (query_last_run(src->txn, src->recs, last, sizeof last) != 0)
            return HC_ESTORE;
        f2 = *src->f2;
        if (last[0]) {
            f2.run_last = false;
            f2.run = last;
        }
        b.f2 = &f2;
    }
    int rc = query_scan(src->txn, src->recs, src->f1, newest_first, both_cb, &b, st);
    st->matched = b.matched;
    return rc;
}

static void count_names(struct dash *d, const hc_record *r)
{
    uint32_t pos = 0;
    const char *k, *v;
    while (hc_pairs_next(&r->props, &pos, &k, &v)) {
        agg_acc *a = agg_group(&d->names, k, strlen(k));
        if (!a) {
            d->oom = 1;
            return;
        }
        a->requests++;
    }
}

static int on_pre(void *ctx, const hc_record *r)
{
    struct dash *d = ctx;
    if (r->start_us < d->tmin)
        d->tmin = r->start_us;
    if (r->start_us > d->tmax)
        d->tmax = r->start_us;
    count_names(d, r);
    return 0;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static void copy_str(char *dst, size_t size, const char *s)
{
    size_t n = strnlen(s, size - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Lowest x-ratelimit-remaining-* / anthropic-ratelimit-*-remaining seen, per
 * provider and header. */
static void track_ratelimit(struct dash *d, const hc_record *r)
{
    uint32_t pos = 0;
    const char *k, *v;
    while (hc_pairs_next(&r->ratelimit, &pos, &k, &v)) {
        const char *rem = strstr(k, "remaining");
        if (!rem || !all_digits(v) || strlen(k) >= sizeof d->rl[0].header ||
            strlen(r->provider) >= sizeof d->rl[0].provider)
            continue; /* names are kept whole, so that they compare equal */
        bool tokens = strstr(k, "token") != NULL;
        if (!tokens && !strstr(k, "request"))
            continue;
        int64_t val = strtoll(v, NULL, 10);
        size_t i;
        for (i = 0; i < d->nrl; i++)
            if (strcmp(d->rl[i].provider, r->provider) == 0 && strcmp(d->rl[i].header, k) == 0)
                break;
        if (i == d->nrl) {
            if (d->nrl == RL_MAX)
                continue;
            d->nrl++;
            copy_str(d->rl[i].provider, sizeof d->rl[i].provider, r->provider);
            copy_str(d->rl[i].header, sizeof d->rl[i].header, k);
            d->rl[i].tokens = tokens;
        } else if (val > d->rl[i].remaining) {
            continue;
        }
        /* The limit header is the same name with "limit" for "remaining". */
        char lname[128];
        snprintf(lname, sizeof lname, "%.*slimit%s", (int)(rem - k), k, rem + strlen("remaining"));
        const char *lim = hc_pairs_get(&r->ratelimit, lname);
        d->rl[i].remaining = val;
        d->rl[i].limit = lim && all_digits(lim) ? strtoll(lim, NULL, 10) : -1;
        d->rl[i].start_us = r->start_us;
        copy_str(d->rl[i].model, sizeof d->rl[i].model, query_model_of(r));
    }
}

static void add_to(struct dash *d, agg_groups *g, const char *key, size_t klen, const hc_record *r)
{
    agg_acc *a = agg_group(g, key, klen);
    if (!a || agg_acc_add(a, r))
        d->oom = 1;
}

static int on_main(void *ctx, const hc_record *r)
{
    struct dash *d = ctx;
    if (agg_acc_add(&d->total, r))
        d->oom = 1;
    const char *model = query_model_of(r);
    if (d->what & W_GROUPS) {
        add_to(d, &d->by_model, model, strlen(model), r);
        add_to(d, &d->by_user, r->user, strlen(r->user), r);
    }
    if (d->prop) {
        const char *v = hc_pairs_get(&r->props, d->prop);
        add_to(d, &d->by_prop, v ? v : "", v ? strlen(v) : 0, r);
    }
    if (d->count_names)
        count_names(d, r);
    if (d->what & W_SERIES) {
        char k[TREND_KEY_MAX];
        size_t n = trend_key((enum tb_unit)d->unit, r->start_us, k);
        add_to(d, &d->buckets, k, n, r);
        hc_buf_reset(&d->key);
        hc_buf_append(&d->key, k, n + 1); /* with the NUL separator */
        hc_buf_puts(&d->key, model);
        if (!d->key.data || hc_buf_error(&d->key))
            d->oom = 1;
        else
            add_to(d, &d->bmodel, d->key.data, d->key.len, r);
    }
    if (d->what & W_RL)
        track_ratelimit(d, r);
    return 0;
}

static void dash_init(struct dash *d, const dash_src *src, unsigned what)
{
    memset(d, 0, sizeof *d);
    d->src = src;
    d->what = what;
    agg_acc_init(&d->total, AGG_LATENCY | AGG_TTFT);
    agg_groups_init(&d->by_model, AGG_LATENCY);
    agg_groups_init(&d->by_user, AGG_LATENCY);
    agg_groups_init(&d->by_prop, AGG_LATENCY);
    agg_groups_init(&d->names, 0);
    agg_groups_init(&d->buckets, 0);
    agg_groups_init(&d->bmodel, 0);
    d->tmin = INT64_MAX;
    d->tmax = INT64_MIN;
}

static void dash_free(struct dash *d)
{
    agg_acc_free(&d->total);
    agg_groups_free(&d->by_model);
    agg_groups_free(&d->by_user);
    agg_groups_free(&d->by_prop);
    agg_groups_free(&d->names);
    agg_groups_free(&d->buckets);
    agg_groups_free(&d->bmodel);
    hc_buf_free(&d->key);
}

/* Order of a group table's indexes (caller frees); NULL on ENOMEM. */
static size_t *ordered(const agg_groups *g)
{
    size_t *o = malloc((g->n + 1) * sizeof *o);
    if (o)
        agg_groups_order(g, o);
    return o;
}

/* The most common property name (ties: the first in name order). */
static const char *top_name(const agg_groups *names)
{
    const char *best = NULL;
    uint64_t bn = 0;
    for (size_t i = 0; i < names->n; i++)
        if (names->accs[i].requests > bn ||
            (names->accs[i].requests == bn && best && strcmp(names->keys[i], best) < 0)) {
            bn = names->accs[i].requests;
            best = names->keys[i];
        }
    return best;
}

/* Run the passes. property/unit as asked; the chosen ones end in d. */
static int collect(struct dash *d, const char *property, enum dash_unit unit, query_stats *st)
{
    bool need_unit = (d->what & W_SERIES) && unit == DASH_AUTO;
    bool need_prop = (d->what & W_PROPS) && !property;
    if (need_unit || need_prop) {
        query_stats pst;
        if (scan(d->src, false, on_pre, d, &pst))
            return HC_ESTORE;
    } else {
        d->count_names = (d->what & W_PROPS) != 0;
    }
    d->unit = need_unit ? auto_unit(d->tmin, d->tmax) : unit == DASH_AUTO ? DASH_DAY : unit;
    if (d->what & W_PROPS)
        d->prop = property ? property : top_name(&d->names);
    if (scan(d->src, false, on_main, d, st))
        return HC_ESTORE;
    d->matched = st->matched;
    summary_percentiles(&d->total, &d->pct);
    return d->oom ? HC_ENOMEM : 0;
}

/* ---- writing -------------------------------------------------------------------------- */

static void kpct(jw *w, const char *k, int64_t v)
{
    jw_key(w, k);
    if (v < 0)
        jw_null(w);
    else
        jw_int(w, v);
}

static void emit_head(jw *w, const dash_src *src, const query_stats *st)
{
    jw_kstr(w, "store", src->store);
    jw_kuint(w, "txn", (uint64_t)mdb_txn_id(src->txn));
    jw_kuint(w, "records_scanned", st->scanned);
    jw_kuint(w, "records_matched", st->matched);
    jw_kuint(w, "undecodable", st->undecodable);
}

static void emit_summary(jw *w, const struct dash *d)
{
    jw_key(w, "summary");
    jw_obj(w);
    summary_json(w, &d->total, &d->pct);
    jw_obj_end(w);
}

static void group_fields(jw *w, const agg_acc *a)
{
    jw_kuint(w, "requests", a->requests);
    jw_kint(w, "cost_nusd", a->cost_nusd);
    jw_kuint(w, "unpriced_requests", a->unpriced);
    jw_kint(w, "tok_in", a->tok_in);
    jw_kint(w, "tok_out", a->tok_out);
    jw_kuint(w, "errors", a->errors);
    jw_kuint(w, "cache_hits", a->cache_hits);
}

static int emit_groups(jw *w, const char *key, const char *dim, agg_groups *g,
                       const agg_groups *names, const char *prop)
{
    size_t *o = ordered(g);
    if (!o)
        return HC_ENOMEM;
    jw_key(w, key);
    jw_obj(w);
    jw_kstr(w, "dimension", dim);
    if (names) {
        jw_kstr(w, "name", prop);
        size_t *no = ordered(names);
        if (!no) {
            free(o);
            return HC_ENOMEM;
        }
        /* agg order is cost first; every names entry has cost 0, so this is
         * by requests, then name. */
        jw_key(w, "names");
        jw_arr(w);
        for (size_t i = 0; i < names->n; i++) {
            jw_obj(w);
            jw_kstr(w, "name", names->keys[no[i]]);
            jw_kuint(w, "requests", names->accs[no[i]].requests);
            jw_obj_end(w);
        }
        jw_arr_end(w);
        free(no);
    }
    jw_key(w, "groups");
    jw_arr(w);
    size_t shown = g->n < DASH_TOP ? g->n : DASH_TOP;
    for (size_t i = 0; i < shown; i++) {
        agg_acc *a = &g->accs[o[i]];
        static const unsigned ps[] = { 50, 95 };
        int64_t pv[2];
        agg_percentiles(&a->lat, ps, 2, pv);
        jw_obj(w);
        jw_key(w, "key");
        jw_strn(w, g->keys[o[i]], g->klens[o[i]]);
        group_fields(w, a);
        kpct(w, "latency_p50_us", pv[0]);
        kpct(w, "latency_p95_us", pv[1]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_kuint(w, "total_groups", g->n);
    jw_key(w, "others");
    if (g->n > shown) {
        agg_acc rest;
        agg_acc_init(&rest, 0);
        for (size_t i = shown; i < g->n; i++) {
            const agg_acc *a = &g->accs[o[i]];
            rest.requests += a->requests;
            rest.cost_nusd += a->cost_nusd;
            rest.unpriced += a->unpriced;
            rest.tok_in += a->tok_in;
            rest.tok_out += a->tok_out;
            rest.errors += a->errors;
            rest.cache_hits += a->cache_hits;
        }
        jw_obj(w);
        jw_kuint(w, "groups", g->n - shown);
        group_fields(w, &rest);
        jw_obj_end(w);
    } else {
        jw_null(w);
    }
    jw_obj_end(w);
    free(o);
    return 0;
}

/* The series' members (inside an open object). */
static int emit_series_fields(jw *w, struct dash *d, char *err, size_t errlen)
{
    agg_groups *g = &d->buckets;
    trend_iter it;
    int64_t s;
    long gi;
    uint64_t nb = 0;
    for (trend_iter_init(&it, g, (enum tb_unit)d->unit); trend_next(&it, &s, &gi);)
        if (++nb > DASH_MAX_BUCKETS) {
            snprintf(err, errlen,
                     "%s buckets would be more than %d over this period; choose a larger unit "
                     "or narrow the time range",
                     unit_name(d->unit), DASH_MAX_BUCKETS);
            return HC_ETOOBIG;
        }
    size_t *mo = ordered(&d->by_model);
    if (!mo)
        return HC_ENOMEM;
    size_t nstack = d->by_model.n <= DASH_STACK ? d->by_model.n : DASH_STACK;
    bool other = d->by_model.n > nstack;
    jw_kstr(w, "unit", unit_name(d->unit));
    jw_kuint(w, "bucket_count", nb);
    jw_key(w, "models");
    jw_arr(w);
    for (size_t i = 0; i < nstack; i++)
        jw_strn(w, d->by_model.keys[mo[i]], d->by_model.klens[mo[i]]);
    if (other)
        jw_str(w, "(other)");
    jw_arr_end(w);
    jw_key(w, "buckets");
    jw_arr(w);
    for (trend_iter_init(&it, g, (enum tb_unit)d->unit); trend_next(&it, &s, &gi);) {
        char k[TREND_KEY_MAX], label[32];
        size_t kn = trend_key((enum tb_unit)d->unit, s, k);
        agg_acc empty, *a = &empty;
        agg_acc_init(&empty, 0);
        if (gi >= 0)
            a = &g->accs[gi];
        tb_label((enum tb_unit)d->unit, s, label, sizeof label);
        jw_obj(w);
        jw_kint(w, "start", s);
        jw_kstr(w, "label", label);
        jw_kuint(w, "requests", a->requests);
        jw_kint(w, "cost_nusd", a->cost_nusd);
        jw_kuint(w, "unpriced_requests", a->unpriced);
        jw_key(w, "model_cost");
        jw_arr(w);
        int64_t stacked = 0;
        for (size_t i = 0; i < nstack; i++) {
            int64_t c = 0;
            if (gi >= 0) {
                hc_buf_reset(&d->key);
                hc_buf_append(&d->key, k, kn + 1);
                hc_buf_append(&d->key, d->by_model.keys[mo[i]], d->by_model.klens[mo[i]]);
                long mi = d->key.data && !hc_buf_error(&d->key)
                              ? agg_group_find(&d->bmodel, d->key.data, d->key.len)
                              : -1;
                if (mi >= 0)
                    c = d->bmodel.accs[mi].cost_nusd;
            }
            stacked += c;
            jw_int(w, c);
        }
        if (other)
            jw_int(w, a->cost_nusd - stacked);
        jw_arr_end(w);
        jw_kint(w, "tok_in", a->tok_in);
        jw_kint(w, "tok_out", a->tok_out);
        jw_kuint(w, "errors", a->errors);
        jw_kuint(w, "cache_hits", a->cache_hits);
        agg_limits_json(w, a);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    free(mo);
    return 0;
}

static size_t bin_of(const int64_t *edges, size_t ne, int64_t v)
{
    size_t lo = 0, hi = ne; /* the last edge <= v */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (edges[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Latency histogram over 1-2-5 edges (µs) covering every value, with the
 * percentiles of the same values. */
static int emit_latency(jw *w, const struct dash *d)
{
    const agg_vec *lat = &d->total.lat;
    int64_t mx = 0, mn = INT64_MAX;
    for (size_t i = 0; i < lat->n; i++) {
        if (lat->v[i] > mx)
            mx = lat->v[i];
        if (lat->v[i] < mn)
            mn = lat->v[i];
    }
    int64_t edges[64];
    size_t ne = 0;
    for (int64_t dec = 1; ne + 3 < sizeof edges / sizeof edges[0] && dec <= INT64_MAX / 50;
         dec *= 10) {
        edges[ne++] = dec;
        edges[ne++] = 2 * dec;
        edges[ne++] = 5 * dec;
    }
    jw_key(w, "latency");
    jw_obj(w);
    jw_key(w, "bins");
    jw_arr(w);
    if (lat->n) {
        size_t first = bin_of(edges, ne, mn < 1 ? 1 : mn), last = bin_of(edges, ne, mx);
        uint64_t *cnt = calloc(last - first + 1, sizeof *cnt);
        if (!cnt)
            return HC_ENOMEM;
        for (size_t i = 0; i < lat->n; i++) {
            int64_t v = lat->v[i] < 1 ? 1 : lat->v[i];
            cnt[bin_of(edges, ne, v) - first]++;
        }
        for (size_t b = first; b <= last; b++) {
            jw_obj(w);
            jw_kint(w, "lo_us", b == first && mn < 1 ? 0 : edges[b]);
            jw_kint(w, "hi_us", edges[b + 1]);
            jw_kuint(w, "count", cnt[b - first]);
            jw_obj_end(w);
        }
        free(cnt);
    }
    jw_arr_end(w);
    kpct(w, "p50_us", d->pct.p50);
    kpct(w, "p95_us", d->pct.p95);
    kpct(w, "p99_us", d->pct.p99);
    kpct(w, "max_us", lat->n ? mx : -1);
    jw_obj_end(w);
    return 0;
}

/* Which quota a remaining-header counts, for people: the header without its
 * vendor prefix and "remaining" ("anthropic-ratelimit-input-tokens-remaining"
 * → "input tokens", "x-ratelimit-remaining-requests" → "requests"), so the
 * rows of one provider say which limit each is. */
static void quota_name(const char *header, char *out, size_t size)
{
    static const char *const prefixes[] = { "x-ratelimit-", "anthropic-ratelimit-", "ratelimit-" };
    const char *h = header;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(h, prefixes[i], strlen(prefixes[i])) == 0) {
            h += strlen(prefixes[i]);
            break;
        }
    size_t o = 0;
    while (*h && o + 1 < size) {
        if (strncmp(h, "remaining", 9) == 0 && (h[9] == '-' || h[9] == '\0')) {
            h += h[9] ? 10 : 9;
            continue;
        }
        out[o++] = *h == '-' ? ' ' : *h;
        h++;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static void emit_ratelimits(jw *w, struct dash *d)
{
    jw_key(w, "ratelimits");
    jw_obj(w);
    agg_limits_json(w, &d->total);
    jw_key(w, "lowest");
    jw_arr(w);
    for (size_t i = 0; i < d->nrl; i++) {
        const struct rl_min *m = &d->rl[i];
        jw_obj(w);
        jw_kstr(w, "provider", m->provider);
        jw_kstr(w, "header", m->header);
        jw_kstr(w, "kind", m->tokens ? "tokens" : "requests");
        char quota[sizeof m->header];
        quota_name(m->header, quota, sizeof quota);
        jw_kstr(w, "quota", quota);
        jw_kint(w, "remaining", m->remaining);
        kpct(w, "limit", m->limit);
        jw_kint(w, "start_us", m->start_us);
        jw_kstr(w, "model", m->model);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj_end(w);
}

/* ---- rows and details ---------------------------------------------------------------- */

struct body {
    bool present, truncated;
    hc_buf data;
};

/* Decode one body of id into b (reset first). */
static void load_body(const dash_src *src, const uint8_t *id, char which, struct body *b)
{
    uint8_t key[HC_UUID_LEN + 1];
    memcpy(key, id, HC_UUID_LEN);
    key[HC_UUID_LEN] = (uint8_t)which;
    MDB_val k = { sizeof key, key }, v;
    hc_buf_reset(&b->data);
    b->present = b->truncated = false;
    if (mdb_get(src->txn, src->bodies, &k, &v) != 0)
        return;
    if (hc_body_decode(v.mv_data, v.mv_size, &b->data, &b->truncated) != 0) {
        hc_buf_reset(&b->data);
        return; /* a corrupt body is shown as absent */
    }
    if (!b->data.data && hc_buf_append(&b->data, "", 0) != 0) {
        hc_buf_free(&b->data);
        return; /* out of memory: shown as absent, never empty */
    }
    b->present = true;
}

/* Length of the longest prefix of s (n bytes) of at most max bytes that does
 * not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    for (int i = 0; i < 3 && k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80; i++)
        k--;
    return k;
}

/* key: the text cut at max, and key_cut: whether it was. */
static void cut_text(jw *w, const char *key, const char *cutkey, const char *s, size_t n,
                     size_t max)
{
    size_t k = utf8_cut(s, n, max);
    jw_key(w, key);
    jw_strn(w, s, k);
    jw_kbool(w, cutkey, k < n);
}

struct rows {
    const dash_src *src;
    size_t body_max;
    bool details;
    uint64_t limit, shown;
    jw *w;
    struct body req, resp;
    hc_buf tmp, pairs;
    int err;
};

static int collect_msg(void *ctx, const char *role, const char *text, size_t len)
{
    struct rows *x = ctx;
    (void)len;
    if (hc_pairs_add(&x->pairs, role, text))
        x->err = HC_ENOMEM;
    return 0;
}

static const char *kind_name(enum hc_stream_kind k)
{
    switch (k) {
    case HC_STREAM_SSE: return "sse";
    case HC_STREAM_NDJSON: return "ndjson";
    case HC_STREAM_JSON_ARRAY: return "json_array";
    default: return "json";
    }
}

/* The detail object of r; the bodies are loaded into x->req / x->resp. */
static void emit_detail(struct rows *x, const hc_record *r)
{
    jw *w = x->w;
    size_t max = x->body_max;
    jw_obj(w);
    jw_key(w, "record");
    jw_obj(w);
    recjson_fields(w, r);
    jw_obj_end(w);

    /* The prompt as messages, cut so that all texts together stay within max. */
    jw_key(w, "prompt");
    hc_buf_reset(&x->pairs);
    int n = max && x->req.present
                ? prompt_messages(x->req.data.data, x->req.data.len, collect_msg, x)
                : HC_EPARSE;
    if (n == HC_ENOMEM)
        x->err = HC_ENOMEM;
    bool prompt_cut = false;
    if (n < 0) {
        jw_null(w);
    } else {
        hc_pairs pl = { x->pairs.data ? x->pairs.data : "", (uint32_t)x->pairs.len };
        uint32_t pos = 0;
        const char *role, *text;
        size_t budget = max;
        jw_arr(w);
        while (hc_pairs_next(&pl, &pos, &role, &text)) {
            size_t tl = strlen(text), k = utf8_cut(text, tl, budget);
            prompt_cut |= k < tl;
            budget -= k;
            jw_obj(w);
            jw_kstr(w, "role", role);
            jw_key(w, "text");
            jw_strn(w, text, k);
            jw_obj_end(w);
        }
        jw_arr_end(w);
    }
    jw_kbool(w, "prompt_cut", prompt_cut);

    struct {
        const char *name;
        struct body *b;
        bool omitted;
    } bs[2] = {
        { "request", &x->req, (r->flags & HC_REC_REQ_OMITTED) != 0 },
        { "response", &x->resp, (r->flags & HC_REC_RESP_OMITTED) != 0 },
    };
    for (int i = 0; i < 2; i++) {
        char k1[32], k2[32], k3[32], k4[32], k5[32];
        snprintf(k1, sizeof k1, "%s_body", bs[i].name);
        snprintf(k2, sizeof k2, "%s_cut", bs[i].name);
        snprintf(k3, sizeof k3, "%s_bytes", bs[i].name);
        snprintf(k4, sizeof k4, "%s_truncated", bs[i].name);
        snprintf(k5, sizeof k5, "%s_omitted", bs[i].name);
        struct body *b = bs[i].b;
        if (max && b->present) {
            cut_text(w, k1, k2, b->data.data, b->data.len, max);
            jw_kuint(w, k3, b->data.len);
        } else {
            jw_key(w, k1);
            jw_null(w);
            jw_kbool(w, k2, false);
            jw_kuint(w, k3, 0);
        }
        jw_kbool(w, k4, b->truncated);
        jw_kbool(w, k5, bs[i].omitted);
    }

    hc_buf_reset(&x->tmp);
    enum hc_stream_kind kind = HC_STREAM_NONE;
    int pieces = max && x->resp.present && x->resp.data.len
                     ? reassemble_text(x->resp.data.data, x->resp.data.len, r->path, &x->tmp, &kind)
                     : 0;
    if (pieces == HC_ENOMEM)
        x->err = HC_ENOMEM;
    if (pieces > 0) {
        cut_text(w, "response_text", "response_text_cut", x->tmp.data, x->tmp.len, max);
        jw_kstr(w, "response_kind", kind_name(kind));
    } else {
        jw_key(w, "response_text");
        jw_null(w);
        jw_kbool(w, "response_text_cut", false);
        jw_key(w, "response_kind");
        jw_null(w);
    }
    jw_obj_end(w);
}

/* The excerpt of r's prompt into x->tmp; false when there is none. Uses the
 * cache, else decodes the request body (left in x->req). */
static bool excerpt(struct rows *x, const hc_record *r)
{
    dash_cache *c = x->src->cache;
    struct cent *e = c ? cache_slot(c, r->id) : NULL;
    hc_buf_reset(&x->tmp);
    if (e && e->used) {
        if (e->text && hc_buf_puts(&x->tmp, e->text))
            x->err = HC_ENOMEM;
        return e->text != NULL;
    }
    if (!x->req.present)
        load_body(x->src, r->id, HC_BODY_REQUEST, &x->req);
    bool have = x->req.present;
    if (have && prompt_excerpt(x->req.data.data, x->req.data.len, DASH_EXCERPT, &x->tmp))
        x->err = HC_ENOMEM;
    if (e && !x->err) {
        if (c->n + 1 > c->max) {
            cache_clear(c);
            e = cache_slot(c, r->id);
        }
        e->used = true;
        memcpy(e->id, r->id, HC_UUID_LEN);
        e->text = have ? strdup(x->tmp.data) : NULL;
        c->n++;
    }
    return have;
}

static int on_row(void *ctx, const hc_record *r)
{
    struct rows *x = ctx;
    jw *w = x->w;
    char id[HC_UUID_STRLEN + 1], fl[64];
    hc_uuid_format(r->id, id);
    x->req.present = x->resp.present = false;
    if (x->details && x->body_max) {
        load_body(x->src, r->id, HC_BODY_REQUEST, &x->req);
        load_body(x->src, r->id, HC_BODY_RESPONSE, &x->resp);
    }
    jw_obj(w);
    jw_kstr(w, "id", id);
    jw_kint(w, "start_us", r->start_us);
    jw_kstr(w, "model", query_model_of(r));
    jw_kstr(w, "provider", r->provider);
    jw_kint(w, "status", r->status);
    jw_kstr(w, "error", r->error);
    jw_kint(w, "tok_in", r->tok_in);
    jw_kint(w, "tok_out", r->tok_out);
    jw_kint(w, "cost_nusd", r->cost_nusd);
    jw_kint(w, "saved_nusd", r->saved_nusd); /* a cache hit's cell says what it saved */
    jw_kbool(w, "unpriced", (r->cost_flags & HC_COST_UNPRICED) != 0);
    /* An answer that carried no usage has an unknown cost, not $0 (as in agg.h). */
    jw_kbool(w, "no_usage",
             (r->cost_flags & HC_COST_NO_USAGE) && r->status >= 200 && r->status < 300 &&
                 !(r->flags & HC_REC_CACHE_HIT));
    jw_kint(w, "latency_us", r->latency_us);
    jw_kint(w, "ttft_us", r->ttft_us);
    jw_kstr(w, "user", r->user);
    jw_kstr(w, "session_id", r->session_id);
    jw_key(w, "props");
    jw_obj(w);
    uint32_t pos = 0;
    const char *k, *v;
    while (hc_pairs_next(&r->props, &pos, &k, &v))
        jw_kstr(w, k, v);
    jw_obj_end(w);
    agg_flags_text(r, fl, sizeof fl);
    jw_kstr(w, "flags", fl);
    jw_key(w, "excerpt");
    if (x->body_max && excerpt(x, r))
        jw_strn(w, x->tmp.data, x->tmp.len);
    else
        jw_null(w);
    if (x->details) {
        jw_key(w, "detail");
        emit_detail(x, r);
    }
    jw_obj_end(w);
    x->shown++;
    return x->err || (x->limit && x->shown >= x->limit);
}

static void rows_free(struct rows *x)
{
    hc_buf_free(&x->req.data);
    hc_buf_free(&x->resp.data);
    hc_buf_free(&x->tmp);
    hc_buf_free(&x->pairs);
}

/* The rows array (key "rows" or "requests" already written by the caller). */
static int emit_rows(jw *w, const dash_src *src, uint64_t limit, size_t body_max, bool details,
                     uint64_t *shown)
{
    struct rows x = {
        .src = src, .body_max = body_max, .details = details, .limit = limit, .w = w
    };
    query_stats st;
    jw_arr(w);
    int rc = scan(src, true, on_row, &x, &st);
    jw_arr_end(w);
    *shown = x.shown;
    rows_free(&x);
    return rc ? HC_ESTORE : x.err;
}

/* ---- documents ------------------------------------------------------------------------ */

int dash_document(jw *w, const dash_src *src, const dash_opts *o, dash_result *res, char *err,
                  size_t errlen)
{
    struct dash d;
    query_stats st;
    char t[40];
    dash_init(&d, src, W_GROUPS | W_SERIES | W_PROPS | W_RL);
    int rc = collect(&d, o->property, o->unit, &st);
    if (rc) {
        snprintf(err, errlen, "%s", rc == HC_ESTORE ? "reading records failed" : hc_strerror(rc));
        goto out;
    }
    jw_obj(w);
    jw_kint(w, "version", 1);
    jw_kstr(w, "generated", fmt_time_iso(t, hc_now_us()));
    emit_head(w, src, &st);
    jw_key(w, "filters");
    jw_arr(w);
    for (int i = 0; src->terms && i < src->terms->n; i++) {
        jw_arr(w);
        jw_str(w, src->terms->name[i]);
        jw_str(w, src->terms->value[i]);
        jw_arr_end(w);
    }
    jw_arr_end(w);
    emit_summary(w, &d);
    jw_key(w, "series");
    jw_obj(w);
    if ((rc = emit_series_fields(w, &d, err, errlen)))
        goto out;
    jw_obj_end(w);
    if ((rc = emit_groups(w, "by_model", "model", &d.by_model, NULL, NULL)) ||
        (rc = emit_groups(w, "by_user", "user", &d.by_user, NULL, NULL)) ||
        (rc = emit_groups(w, "by_property", "property", &d.by_prop, &d.names, d.prop)) ||
        (rc = emit_latency(w, &d)))
        goto fail;
    emit_ratelimits(w, &d);
    jw_key(w, "requests");
    jw_obj(w);
    jw_kuint(w, "total", d.matched);
    jw_kuint(w, "limit", o->limit);
    jw_kuint(w, "body_max", o->body_max);
    jw_key(w, "rows");
    uint64_t shown;
    rc = emit_rows(w, src, o->limit, o->body_max, o->details, &shown);
    jw_kuint(w, "shown", shown);
    jw_obj_end(w);
    jw_obj_end(w);
    if (res) {
        res->matched = d.matched;
        res->shown = shown;
    }
    if (rc)
        goto fail;
    goto out;
fail:
    snprintf(err, errlen, "%s", rc == HC_ESTORE ? "reading records failed" : hc_strerror(rc));
out:
    dash_free(&d);
    return rc;
}

int dash_summary(jw *w, const dash_src *src)
{
    struct dash d;
    query_stats st;
    dash_init(&d, src, 0);
    int rc = collect(&d, NULL, DASH_AUTO, &st);
    if (!rc) {
        jw_obj(w);
        emit_head(w, src, &st);
        emit_summary(w, &d);
        jw_obj_end(w);
    }
    dash_free(&d);
    return rc;
}

int dash_series(jw *w, const dash_src *src, enum dash_unit unit, char *err, size_t errlen)
{
    struct dash d;
    query_stats st;
    dash_init(&d, src, W_GROUPS | W_SERIES);
    int rc = collect(&d, NULL, unit, &st);
    if (rc) {
        snprintf(err, errlen, "%s", rc == HC_ESTORE ? "reading records failed" : hc_strerror(rc));
    } else {
        jw_obj(w);
        rc = emit_series_fields(w, &d, err, errlen);
        jw_kuint(w, "records_matched", st.matched);
        jw_obj_end(w);
    }
    dash_free(&d);
    return rc;
}

int dash_requests(jw *w, const dash_src *src, uint64_t limit, size_t body_max)
{
    uint64_t shown;
    jw_obj(w);
    jw_key(w, "requests");
    int rc = emit_rows(w, src, limit, body_max, false, &shown);
    jw_kuint(w, "count", shown);
    jw_obj_end(w);
    return rc;
}

/* Find the one record whose id starts with the hex digits of s (dashes
 * ignored; at least 8 digits). 0 with id set, or HC_ENOTFOUND. */
int dash_request(jw *w, const dash_src *src, const char *id, size_t body_max)
{
    uint8_t key[HC_UUID_LEN];
    if (query_find_id(src->txn, src->recs, id, key, NULL) != 1)
        return HC_ENOTFOUND;
    MDB_val k = { HC_UUID_LEN, key }, v;
    hc_record r;
    if (mdb_get(src->txn, src->recs, &k, &v) != 0 ||
        hc_record_decode(v.mv_data, v.mv_size, &r) != 0)
        return HC_ENOTFOUND;
    memcpy(r.id, key, HC_UUID_LEN);
    if (reprice_on_read)
        reprice_record(&r);
    struct rows x = { .src = src, .body_max = body_max, .w = w };
    if (body_max) {
        load_body(src, r.id, HC_BODY_REQUEST, &x.req);
        load_body(src, r.id, HC_BODY_RESPONSE, &x.resp);
    }
    emit_detail(&x, &r);
    int rc = x.err;
    rows_free(&x);
    return rc;
}
