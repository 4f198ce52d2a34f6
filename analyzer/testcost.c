/* testcost.c — see testcost.h. */
#include "testcost.h"
#include "err.h"
#include "fmt.h"

#include <stdlib.h>
#include <string.h>

int tc_add(agg_groups *g, const hc_record *r)
{
    const char *t = hc_pairs_get(&r->props, TESTCOST_PROP);
    if (!t || !*t)
        return 0;
    agg_acc *a = agg_group(g, t, strlen(t));
    return a ? agg_acc_add(a, r) : HC_ENOMEM;
}

long tc_from_json(const cJSON *doc, agg_groups *g)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "by_test"), *it;
    if (!cJSON_IsArray(arr))
        return -1;
    long n = 0;
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "test");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "cost_nusd");
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(it, "requests");
        if (!cJSON_IsString(t) || !cJSON_IsNumber(c))
            continue;
        agg_acc *a = agg_group(g, t->valuestring, strlen(t->valuestring));
        if (!a)
            return n;
        a->cost_nusd += (int64_t)c->valuedouble;
        a->requests += cJSON_IsNumber(q) ? (uint64_t)q->valuedouble : 0;
        n++;
    }
    return n;
}

void tc_json(jw *w, const agg_groups *g)
{
    size_t *order = g->n ? malloc(g->n * sizeof *order) : NULL;
    jw_key(w, "by_test");
    jw_arr(w);
    if (order || !g->n) {
        if (g->n)
            agg_groups_order(g, order);
        for (size_t i = 0; i < g->n; i++) {
            const agg_acc *a = &g->accs[order[i]];
            jw_obj(w);
            jw_kstr(w, "test", g->keys[order[i]]);
            jw_kint(w, "cost_nusd", a->cost_nusd);
            jw_kuint(w, "requests", a->requests);
            jw_obj_end(w);
        }
    }
    jw_arr_end(w);
    free(order);
}

static int by_growth(const void *x, const void *y)
{
    const tc_grown *a = x, *b = y;
    int64_t da = a->cur_nusd - a->base_nusd, db = b->cur_nusd - b->base_nusd;
    if (da != db)
        return da > db ? -1 : 1;
    return strcmp(a->test, b->test);
}

int tc_grown_list(const agg_groups *cur, const agg_groups *base, double max_inc, tc_grown **out,
                  size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!cur->n)
        return 0;
    tc_grown *v = calloc(cur->n, sizeof *v);
    if (!v)
        return HC_ENOMEM;
    for (size_t i = 0; i < cur->n; i++) {
        const agg_acc *c = &cur->accs[i];
        long j = agg_group_find(base, cur->keys[i], cur->klens[i]);
        int64_t b = j >= 0 ? base->accs[j].cost_nusd : 0;
        bool grew =
            j < 0 ? c->cost_nusd > 0
                  : (double)(c->cost_nusd - b) > max_inc * (double)b + 1e-6 && c->cost_nusd > b;
        if (!grew)
            continue;
        v[*n] = (tc_grown){ cur->keys[i], b,    c->cost_nusd, j >= 0 ? base->accs[j].requests : 0,
                            c->requests,  j < 0 };
        (*n)++;
    }
    qsort(v, *n, sizeof *v, by_growth);
    *out = v;
    return 0;
}

void tc_grown_text(const tc_grown *t, char *out, size_t size)
{
    char a[FMT_NUM], b[FMT_NUM], r[FMT_NUM];
    if (t->is_new)
        snprintf(out, size, "%s new, %s (%llu requests)", t->test, fmt_usd(b, t->cur_nusd),
                 (unsigned long long)t->cur_req);
    else if (t->base_nusd == 0)
        snprintf(out, size, "%s $0 → %s", t->test, fmt_usd(b, t->cur_nusd));
    else
        snprintf(out, size, "%s %s → %s (+%s)", t->test, fmt_usd(a, t->base_nusd),
                 fmt_usd(b, t->cur_nusd),
                 fmt_rate(r, (double)(t->cur_nusd - t->base_nusd) / (double)t->base_nusd));
}
