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

uint64_t query_prefiltered;

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
    } else if (strlen(arg) == 3 && arg[0] >= '1' && arg[0] <= '5' &&
               tolower((unsigned char)arg[1]) == 'x' && tolower((unsigned char)arg[2]) == 'x') {
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

int query_filter_set(query_filter *f, const char *opt, const char *arg, int64_t now_us, char *err,
                     size_t errlen)
{
    const char *o = opt + (strncmp(opt, "--", 2) == 0 ? 2 : 0);
    if (strcmp(o, "since") == 0 || strcmp(o, "until") == 0) {
        int64_t t;
        if (query_parse_time(arg, now_us, &t) != 0) {
            snprintf(
                err, errlen,
                "expected a time like 2026-11-01, 2026-11-01T10:00, Unix seconds or 7d, got '%s'",
                arg);
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
    if (strcmp(o, "run") == 0) {
        if (!*arg || strlen(arg) > 64) {
            snprintf(
                err, errlen,
                "expected last or a run id (1 to 64 characters, as hc-run printed it), got '%s'",
                arg);
            return HC_EINVAL;
        }
        f->run_last = strcmp(arg, "last") == 0;
        f->run = f->run_last ? NULL : arg;
        return 0;
    }
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
           !f->n_status && !f->user && !f->session && !f->cache && !f->run && !f->run_last;
}

int query_last_run(MDB_txn *txn, MDB_dbi dbi, char *out, size_t size)
{
    out[0] = '\0';
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return HC_ESTORE;
    MDB_val k, v;
    hc_record r;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV))
        if (hc_record_decode(v.mv_data, v.mv_size, &r) == 0 && *r.run_id) {
            snprintf(out, size, "%.64s", r.run_id);
            break;
        }
    mdb_cursor_close(cur);
    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : HC_ESTORE;
}

/* Append " name=value" to out (bounded). */
static void describe_term(char *out, size_t size, const char *name, const char *value)
{
    size_t n = strlen(out);
    if (n < size)
        snprintf(out + n, size - n, "%s%s=%s", n ? " " : "", name, value);
}

void query_filter_describe(const query_filter *f, bool any_run, char *out, size_t size)
{
    char t[64];
    out[0] = '\0';
    if (f->run_last || f->run)
        describe_term(out, size, "run", any_run ? "ONE" : f->run_last ? "last" : f->run);
    /* Times: the instants, or (any_run) only that there is one: "--since 1d"
     * selects the same way today and tomorrow. */
    if (f->has_since)
        describe_term(out, size, "since",
                      any_run ? "T" : (snprintf(t, sizeof t, "%lld", (long long)f->since_us), t));
    if (f->has_until)
        describe_term(out, size, "until",
                      any_run ? "T" : (snprintf(t, sizeof t, "%lld", (long long)f->until_us), t));
    for (int i = 0; i < f->n_where; i++) {
        char kv[256];
        snprintf(kv, sizeof kv, "%s=%s", f->where_k[i], f->where_v[i]);
        describe_term(out, size, "where", kv);
    }
    for (int i = 0; i < f->n_models; i++)
        describe_term(out, size, "model", f->models[i]);
    for (int i = 0; i < f->n_providers; i++)
        describe_term(out, size, "provider", f->providers[i]);
    for (int i = 0; i < f->n_status; i++) {
        if (f->status[i].lo < 0)
            snprintf(t, sizeof t, "error");
        else
            snprintf(t, sizeof t, "%d-%d", f->status[i].lo, f->status[i].hi);
        describe_term(out, size, "status", t);
    }
    if (f->user)
        describe_term(out, size, "user", f->user);
    if (f->session)
        describe_term(out, size, "session", f->session);
    if (f->cache)
        describe_term(out, size, "cache", f->cache == 1 ? "hit" : "miss");
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
    if (f->run_last || (f->run && strcmp(f->run, r->run_id) != 0))
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
            if (model_matches(f->models[i], r->model_req) ||
                model_matches(f->models[i], r->model_resp))
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

int query_scan(MDB_txn *txn, MDB_dbi dbi, const query_filter *f, bool newest_first, query_cb cb,
               void *ctx, query_stats *st)
{
    query_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    query_filter resolved;
    if (f && f->run_last) {
        /* --run last: the newest run, found once per scan (a copy: f is const). */
        if (query_last_run(txn, dbi, st->run, sizeof st->run) != 0)
            return HC_ESTORE;
        st->run_none = !st->run[0];
        if (st->run[0]) {
            resolved = *f;
            resolved.run_last = false;
            resolved.run = st->run;
            f = &resolved;
        }
    }
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
    st->scanned += query_prefiltered;
    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : HC_ESTORE;
}

/* ---- finding one record by what a user typed (show, serve's /api/request/ID) ---- */

struct found {
    const char *want;
    uint8_t id[HC_UUID_LEN];
    int n;
};

static int by_request_id(void *ctx, const hc_record *r)
{
    struct found *f = ctx;
    if (strcmp(r->request_id, f->want) == 0) {
        if (f->n == 0)
            memcpy(f->id, r->id, HC_UUID_LEN);
        f->n++;
    }
    return f->n > 1;
}

/* Hex digits of s without dashes into nib[] (one per byte); count, or -1 if not hex. */
static int hex_nibbles(const char *s, uint8_t *nib, int max)
{
    int n = 0;
    for (; *s; s++) {
        if (*s == '-')
            continue;
        if (!isxdigit((unsigned char)*s) || n >= max)
            return -1;
        nib[n++] = (uint8_t)(isdigit((unsigned char)*s) ? *s - '0'
                                                        : tolower((unsigned char)*s) - 'a' + 10);
    }
    return n;
}

/* Find records whose id starts with the given nibbles. */
static int by_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *nib, int nn, struct found *f)
{
    uint8_t key[HC_UUID_LEN] = { 0 };
    for (int i = 0; i < nn; i++)
        key[i / 2] |= (uint8_t)(i % 2 ? nib[i] : nib[i] << 4);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur))
        return HC_ESTORE;
    MDB_val k = { HC_UUID_LEN, key }, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && f->n < 2 && k.mv_size == HC_UUID_LEN) {
        const uint8_t *id = k.mv_data;
        bool match = true;
        for (int i = 0; i < nn && match; i++)
            match = ((i % 2 ? id[i / 2] & 15 : id[i / 2] >> 4) == nib[i]);
        if (!match)
            break;
        if (f->n == 0)
            memcpy(f->id, id, HC_UUID_LEN);
        f->n++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return 0;
}

/* Find records whose id ends with the given nibbles: the random end of a
 * UUIDv7 (what `requests` shows), where the start is the time and is shared
 * by every record of the same minute. A scan of the keys; stops at two. */
static int by_suffix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *nib, int nn, struct found *f)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur))
        return HC_ESTORE;
    MDB_val k, v;
    int off = 2 * HC_UUID_LEN - nn;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && f->n < 2;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != HC_UUID_LEN)
            continue;
        const uint8_t *id = k.mv_data;
        bool match = true;
        for (int i = 0; i < nn && match; i++) {
            int j = off + i;
            match = ((j % 2 ? id[j / 2] & 15 : id[j / 2] >> 4) == nib[i]);
        }
        if (match) {
            if (f->n == 0)
                memcpy(f->id, id, HC_UUID_LEN);
            f->n++;
        }
    }
    mdb_cursor_close(cur);
    return 0;
}

int query_find_id(MDB_txn *txn, MDB_dbi dbi, const char *want, uint8_t id[HC_UUID_LEN], int *nhex)
{
    struct found f = { .want = want };
    uint8_t nib[2 * HC_UUID_LEN];
    int nn = hex_nibbles(want, nib, (int)sizeof nib);
    if (nhex)
        *nhex = nn;
    if (nn >= 8)
        by_prefix(txn, dbi, nib, nn, &f);
    if (f.n == 0 && nn >= 8 && nn < 2 * HC_UUID_LEN)
        by_suffix(txn, dbi, nib, nn, &f);
    if (f.n == 0 && *want)
        query_scan(txn, dbi, NULL, true, by_request_id, &f, NULL);
    if (f.n)
        memcpy(id, f.id, HC_UUID_LEN);
    return f.n > 2 ? 2 : f.n;
}
