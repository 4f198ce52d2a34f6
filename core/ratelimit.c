/* ratelimit.c — see ratelimit.h. */
#include "ratelimit.h"
#include "buf.h"
#include "err.h"
#include "shared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SLOTS 64

/* The stored value of a window counter. */
struct window {
    int64_t head;          /* absolute slot number of the newest slot written */
    uint64_t count[SLOTS]; /* count[slot % SLOTS] */
};

int hc_ratelimit_parse(const char *text, hc_ratelimit *rl, char *err, size_t errlen)
{
    memset(rl, 0, sizeof *rl);
    hc_strlcpy(rl->text, sizeof rl->text, text);
    char buf[256];
    hc_strlcpy(buf, sizeof buf, text);
    char *save = NULL, *part = strtok_r(buf, ";", &save);
    if (!part) {
        snprintf(err, errlen, "empty policy");
        return HC_EINVAL;
    }
    char *end;
    double q = strtod(part, &end);
    while (*end == ' ')
        end++;
    if (end == part || *end || !(q > 0) || q > 1e12) {
        /* a header value is never echoed */
        snprintf(err, errlen, "the quota (first field) is not a positive number");
        return HC_EINVAL;
    }
    bool have_w = false;
    while ((part = strtok_r(NULL, ";", &save))) {
        while (*part == ' ')
            part++;
        if (strncmp(part, "w=", 2) == 0) {
            long w = strtol(part + 2, &end, 10);
            if (end == part + 2 || *end || w < 1 || w > 366L * 86400) {
                snprintf(err, errlen, "w=: expected a window in seconds");
                return HC_EINVAL;
            }
            rl->window_us = (int64_t)w * 1000000;
            have_w = true;
        } else if (strncmp(part, "u=", 2) == 0) {
            if (strcasecmp(part + 2, "request") == 0 || strcasecmp(part + 2, "requests") == 0)
                rl->cents = false;
            else if (strcasecmp(part + 2, "cents") == 0)
                rl->cents = true;
            else {
                snprintf(err, errlen, "u=: expected request or cents");
                return HC_EINVAL;
            }
        } else if (strncmp(part, "s=", 2) == 0 && part[2]) {
            hc_strlcpy(rl->segment, sizeof rl->segment, part + 2);
        } else {
            snprintf(err, errlen, "an unknown field: expected w=, u= or s=");
            return HC_EINVAL;
        }
    }
    if (!have_w) {
        snprintf(err, errlen, "missing w=SECONDS");
        return HC_EINVAL;
    }
    if (!rl->cents && q != (double)(uint64_t)q) {
        snprintf(err, errlen, "a request quota must be a whole number");
        return HC_EINVAL;
    }
    rl->quota_cents = q;
    rl->quota = rl->cents ? (uint64_t)(q * 1e7 + 0.5) : (uint64_t)q; /* 1 cent = 1e7 nano-USD */
    return 0;
}

void hc_ratelimit_key(const hc_ratelimit *rl, const char *segment_value, char *out, size_t size)
{
    snprintf(out, size, "rl\x1f%s\x1f%s", rl->text, segment_value);
}

static int64_t slot_of(int64_t now_us, int64_t window_us)
{
    return now_us / (window_us / SLOTS > 0 ? window_us / SLOTS : 1);
}

/* Load the window (zeroed if absent or from an incompatible writer) and
 * advance it to `cur`, clearing slots that fell out. */
static void load_window(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, struct window *w, int64_t cur)
{
    MDB_val v;
    memset(w, 0, sizeof *w);
    if (mdb_get(txn, dbi, k, &v) == 0 && v.mv_size == sizeof *w)
        memcpy(w, v.mv_data, sizeof *w);
    if (w->head > cur) /* clock went back: keep counts, don't advance */
        return;
    if (cur - w->head >= SLOTS)
        memset(w->count, 0, sizeof w->count);
    else
        for (int64_t s = w->head + 1; s <= cur; s++)
            w->count[s % SLOTS] = 0;
    w->head = cur;
}

static uint64_t window_sum(const struct window *w)
{
    uint64_t t = 0;
    for (int i = 0; i < SLOTS; i++)
        t += w->count[i];
    return t;
}

struct window_args {
    const char *key;
    int64_t window_us, now_us;
    uint64_t quota, amount;
    bool check;
    bool *allowed;
    uint64_t *used;
};

/* One attempt of window_op (hc_store_write_fn): read, count, write back. */
static int window_attempt(hc_store *s, MDB_txn *txn, void *ctx)
{
    const struct window_args *a = ctx;
    MDB_dbi dbi = hc_store_dbi(s, HC_T_COUNTERS);
    MDB_val k = { strlen(a->key), (void *)a->key };
    struct window w;
    int64_t cur = slot_of(a->now_us, a->window_us);
    load_window(txn, dbi, &k, &w, cur);
    uint64_t sum = window_sum(&w);
    bool ok = !a->check || (a->amount ? sum + a->amount <= a->quota : sum < a->quota);
    if (ok && a->amount) {
        w.count[cur % SLOTS] += a->amount;
        sum += a->amount;
    }
    if (a->allowed)
        *a->allowed = ok;
    if (a->used)
        *a->used = sum;
    MDB_val v = { sizeof w, &w };
    return hc_store_mdb_rc(mdb_put(txn, dbi, &k, &v, 0));
}

static int window_op(hc_store *s, const char *key, int64_t window_us, uint64_t quota,
                     uint64_t amount, int64_t now_us, bool check, bool *allowed, uint64_t *used)
{
    /* HC_SHARED: the fleet's window in Redis; the local one when unset or down. */
    if (hc_shared_window(key, window_us, quota, amount, now_us, check, allowed, used) == 0)
        return 0;
    struct window_args a = { key, window_us, now_us, quota, amount, check, allowed, used };
    return hc_store_write(s, 3, window_attempt, &a);
}

int hc_window_add_in(MDB_txn *txn, MDB_dbi dbi, const char *key, int64_t window_us, uint64_t amount,
                     int64_t now_us, uint64_t *used)
{
    MDB_val k = { strlen(key), (void *)key };
    struct window w;
    int64_t cur = slot_of(now_us, window_us);
    load_window(txn, dbi, &k, &w, cur);
    w.count[cur % SLOTS] += amount;
    *used = window_sum(&w);
    MDB_val v = { sizeof w, &w };
    return mdb_put(txn, dbi, &k, &v, 0);
}

int hc_window_take(hc_store *s, const char *key, int64_t window_us, uint64_t quota, uint64_t amount,
                   int64_t now_us, bool *allowed, uint64_t *used)
{
    return window_op(s, key, window_us, quota, amount, now_us, true, allowed, used);
}

int hc_window_add(hc_store *s, const char *key, int64_t window_us, uint64_t amount, int64_t now_us,
                  uint64_t *used)
{
    return window_op(s, key, window_us, 0, amount, now_us, false, NULL, used);
}

int hc_total_get(hc_store *s, const char *key, uint64_t *total)
{
    int src = hc_shared_total_get(key, total);
    if (src != HC_EDISABLED)
        return src; /* answered by Redis, or HC_ECONNECT under fail-closed */
    MDB_txn *txn;
    int rc = hc_store_txn_begin(s, false, &txn);
    if (rc)
        return rc;
    MDB_val k = { strlen(key), (void *)key }, v;
    *total = 0;
    if (mdb_get(txn, hc_store_dbi(s, HC_T_COUNTERS), &k, &v) == 0 && v.mv_size == 8)
        memcpy(total, v.mv_data, 8);
    hc_store_txn_abort(s, txn);
    return 0;
}

struct total_args {
    const char *key;
    uint64_t amount;
    uint64_t *before, *after;
};

/* One attempt of hc_total_add (hc_store_write_fn). */
static int total_attempt(hc_store *s, MDB_txn *txn, void *ctx)
{
    const struct total_args *a = ctx;
    MDB_dbi dbi = hc_store_dbi(s, HC_T_COUNTERS);
    MDB_val k = { strlen(a->key), (void *)a->key }, v;
    uint64_t t = 0;
    if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 8)
        memcpy(&t, v.mv_data, 8);
    if (a->before)
        *a->before = t;
    t += a->amount;
    if (a->after)
        *a->after = t;
    v.mv_size = 8;
    v.mv_data = &t;
    return hc_store_mdb_rc(mdb_put(txn, dbi, &k, &v, 0));
}

int hc_total_add(hc_store *s, const char *key, uint64_t amount, uint64_t *before, uint64_t *after)
{
    /* Redis down: the spend is still counted in the local store. */
    if (hc_shared_total_add(key, amount, before, after) == 0)
        return 0;
    struct total_args a = { key, amount, before, after };
    return hc_store_write(s, 3, total_attempt, &a);
}
