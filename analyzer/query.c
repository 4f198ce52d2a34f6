/* query.c — filters and record iteration (see query.h). */
#include "query.h"
#include "clock.h"
#include "err.h"
#include "reprice.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int query_parse_time(const char *s, int64_t now_us, int64_t *out_us)
{
    if (!s || !*s)
        return HC_EINVAL;
    /* A unit suffix means "ago"; anything else must be an absolute time, so a
     * bare "90" is refused rather than silently read as 90 seconds ago. */
    size_t n = strlen(s);
    if (isalpha((unsigned char)s[n - 1]) && s[n - 1] != 'Z') {
        int64_t d;
        if (hc_parse_duration_us(s, &d) != 0)
            return HC_EINVAL;
        *out_us = now_us - d;
        return 0;
    }
    return hc_parse_time_utc(s, out_us);
}

static int add_status(query_filter *f, const char *arg, char *err, size_t errlen)
{
    query_status st;
    char *end;
    if (strcasecmp(arg, "error") == 0 || strcasecmp(arg, "errors") == 0) {
        st.lo = -1;
        st.hi = -1;
    } else if (strlen(arg) == 3 && arg[0] >= '1' && arg[0] <= '5' && tolower((unsigned char)arg[1]) == 'x' &&
               tolower((unsigned char)arg[2]) == 'x') {
        st.lo = (arg[0] - '0') * 100;
        st.hi = st.lo + 99;
    } else {
        long v = strtol(arg, &end, 10);
        if (!isdigit((unsigned char)*arg) || *end || v < 0 || v > 999) {
            snprintf(err, errlen, "expected a status like 200, 4xx, 5xx or error, got '%s'", arg);
            return HC_EINVAL;
        }
        st.lo = st.hi = (int)v;
    }
    if (f->n_status >= QUERY_MAX_TERMS) {
        snprintf(err, errlen, "at most %d values", QUERY_MAX_TERMS);
        return HC_ETOOBIG;
    }
    f->status[f->n_status++] = st;
    return 0;
}

int query_filter_set(query_filter *f, const char *opt, const char *arg, int64_t now_us,
                     char *err, size_t errlen)
{
    const char *o = opt + (strncmp(opt, "--", 2) == 0 ? 2 : 0);
    if (strcmp(o, "since") == 0 || strcmp(o, "until") == 0) {
        int64_t t;
        if (query_parse_time(arg, now_us, &t) != 0) {
            snprintf(err, errlen, "expected a time like 2026-11-01, 2026-11-01T10:00, Unix seconds or 7d, got '%s'", arg);
            return HC_EINVAL;
        }
        if (o[0] == 's') {
            f->has_since = true;
            f->since_us = t;
        } else {
            f->has_until = true;
            f->until_us = t;
        }
        return 0;
    }
    if (strcmp(o, "where") == 0) {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg) {
            snprintf(err, errlen, "expected NAME=VALUE, got '%s'", arg);
            return HC_EINVAL;
        }
        if (f->n_where >= QUERY_MAX_TERMS || f->n_owned >= QUERY_MAX_TERMS) {
            snprintf(err, errlen, "at most %d terms", QUERY_MAX_TERMS);
            return HC_ETOOBIG;
        }
        char *k = strndup(arg, (size_t)(eq - arg));
        if (!k) {
            snprintf(err, errlen, "out of memory");
            return HC_ENOMEM;
        }
        f->owned[f->n_owned++] = k;
        f->where_k[f->n_where] = k;
        f->where_v[f->n_where++] = eq + 1;
        return 0;
    }
    if (strcmp(o, "model") == 0 || strcmp(o, "provider") == 0) {
        bool model = o[0] == 'm';
        int *n = model ? &f->n_models : &f->n_providers;
        if (!*arg) {
            snprintf(err, errlen, "expected a %s name, got ''", model ? "model" : "provider");
            return HC_EINVAL;
        }
        if (*n >= QUERY_MAX_TERMS) {
            snprintf(err, errlen, "at most %d values", QUERY_MAX_TERMS);
            return HC_ETOOBIG;
        }
        (model ? f->models : f->providers)[(*n)++] = arg;
        return 0;
    }
    if (strcmp(o, "user") == 0) {
        f->user = arg;
        return 0;
    }
    if (strcmp(o, "session") == 0) {
        f->session = arg;
        return 0;
    }
    if (strcmp(o, "status") == 0)
        return add_status(f, arg, err, errlen);
    if (strcmp(o, "cache") == 0) {
        if (strcasecmp(arg, "hit") == 0)
            f->cache = 1;
        else if (strcasecmp(arg, "miss") == 0)
            f->cache = 2;
        else {
            snprintf(err, errlen, "expected hit or miss, got '%s'", arg);
            return HC_EINVAL;
        }
        return 0;
    }
    snprintf(err, errlen, "not a filter");
    return HC_EINVAL;
}

void query_filter_free(query_filter *f)
{
    for (int i = 0; i < f->n_owned; i++)
        free(f->owned[i]);
    f->n_owned = 0;
}

bool query_filter_empty(const query_filter *f)
{
    return !f->has_since && !f->has_until && !f->n_where && !f->n_models && !f->n_providers &&
           !f->n_status && !f->user && !f->session && !f->cache;
}

const char *query_model_of(const hc_record *r)
{
    return *r->model_req ? r->model_req : r->model_resp;
}

static bool model_matches(const char *pat, const char *model)
{
    return *model && fnmatch(pat, model, 0) == 0;
}

bool query_match(const query_filter *f, const hc_record *r)
{
    if (!f)
        return true;
    if (f->has_since && r->start_us < f->since_us)
        return false;
    if (f->has_until && r->start_us >= f->until_us)
        return false;
    if (f->user && strcmp(f->user, r->user) != 0)
        return false;
    if (f->session && strcmp(f->session, r->session_id) != 0)
        return false;
    if (f->cache == 1 && !(r->flags & HC_REC_CACHE_HIT))
        return false;
    if (f->cache == 2 && (r->flags & HC_REC_CACHE_HIT))
        return false;
    if (f->n_providers) {
        int i;
        for (i = 0; i < f->n_providers; i++)
            if (strcasecmp(f->providers[i], r->provider) == 0)
                break;
        if (i == f->n_providers)
            return false;
    }
    if (f->n_status) {
        int i;
        for (i = 0; i < f->n_status; i++) {
            const query_status *s = &f->status[i];
            if (s->lo < 0 ? query_is_error(r) : (r->status >= s->lo && r->status <= s->hi))
                break;
        }
        if (i == f->n_status)
            return false;
    }
    if (f->n_models) {
        int i;
        for (i = 0; i < f->n_models; i++)
            if (model_matches(f->models[i], r->model_req) || model_matches(f->models[i], r->model_resp))
                break;
        if (i == f->n_models)
            return false;
    }
    for (int i = 0; i < f->n_where; i++) {
        const char *v = hc_pairs_get(&r->props, f->where_k[i]);
        if (!v || strcmp(v, f->where_v[i]) != 0)
            return false;
    }
    return true;
}

int query_scan(MDB_txn *txn, MDB_dbi dbi, const query_filter *f, bool newest_first,
               query_cb cb, void *ctx, query_stats *st)
{
    query_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return HC_ESTORE;
    MDB_val k, v;
    MDB_cursor_op first = newest_first ? MDB_LAST : MDB_FIRST;
    MDB_cursor_op next = newest_first ? MDB_PREV : MDB_NEXT;
    int rc = mdb_cursor_get(cur, &k, &v, first);
    hc_record r;
    while (rc == 0) {
        st->scanned++;
        if (k.mv_size != HC_UUID_LEN || hc_record_decode(v.mv_data, v.mv_size, &r) != 0) {
            st->undecodable++;
        } else {
            memcpy(r.id, k.mv_data, HC_UUID_LEN);
            if (reprice_on_read)
                reprice_record(&r);
            if (query_match(f, &r)) {
                st->matched++;
                if (cb(ctx, &r))
                    break;
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, next);
    }
    mdb_cursor_close(cur);
    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : HC_ESTORE;
}
