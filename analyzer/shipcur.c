/* shipcur.c — see shipcur.h. */
#include "shipcur.h"

#include "cli.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

static int key_of(const char *dest, char *out, size_t size)
{
    int n = snprintf(out, size, SHIPCUR_PREFIX "%s", dest);
    return n < 0 || (size_t)n >= size ? HC_EINVAL : 0;
}

int shipcur_get(hc_store *s, const char *dest, uint8_t id[HC_UUID_LEN])
{
    char key[512];
    memset(id, 0, HC_UUID_LEN);
    if (key_of(dest, key, sizeof key))
        return HC_EINVAL;
    MDB_txn *txn;
    if (hc_store_txn_begin(s, false, &txn))
        return HC_ESTORE;
    MDB_val k = { strlen(key), key }, v;
    int mrc = mdb_get(txn, hc_store_dbi(s, HC_T_META), &k, &v);
    int rc = mrc == MDB_NOTFOUND ? HC_ENOTFOUND : mrc ? HC_ESTORE : 0;
    if (rc == 0 && v.mv_size == HC_UUID_LEN)
        memcpy(id, v.mv_data, HC_UUID_LEN);
    else if (rc == 0)
        rc = HC_ENOTFOUND; /* unknown form: ship everything again (ids collapse) */
    hc_store_txn_abort(s, txn);
    return rc;
}

struct advance_args {
    const char *key;
    const uint8_t *id;
};

/* One attempt of shipcur_advance (hc_store_write_fn): the cursor only moves forward. */
static int advance_attempt(hc_store *s, MDB_txn *txn, void *ctx)
{
    const struct advance_args *a = ctx;
    MDB_dbi meta = hc_store_dbi(s, HC_T_META);
    MDB_val k = { strlen(a->key), (void *)a->key }, v;
    if (mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == HC_UUID_LEN &&
        memcmp(v.mv_data, a->id, HC_UUID_LEN) >= 0)
        return HC_STORE_WRITE_SKIP;
    MDB_val nv = { HC_UUID_LEN, (void *)a->id };
    return hc_store_mdb_rc(mdb_put(txn, meta, &k, &nv, 0));
}

int shipcur_advance(hc_store *s, const char *dest, const uint8_t id[HC_UUID_LEN])
{
    char key[512];
    if (key_of(dest, key, sizeof key))
        return HC_EINVAL;
    /* Until the map cannot grow (each attempt that is full doubles it). */
    struct advance_args a = { key, id };
    return hc_store_write(s, 64, advance_attempt, &a);
}

int shipcur_min(hc_store *s, uint8_t id[HC_UUID_LEN])
{
    MDB_txn *txn;
    MDB_cursor *cur;
    bool any = false;
    if (hc_store_txn_begin(s, false, &txn))
        return HC_ESTORE;
    if (mdb_cursor_open(txn, hc_store_dbi(s, HC_T_META), &cur)) {
        hc_store_txn_abort(s, txn);
        return HC_ESTORE;
    }
    size_t pl = strlen(SHIPCUR_PREFIX);
    MDB_val k = { pl, SHIPCUR_PREFIX }, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < pl || memcmp(k.mv_data, SHIPCUR_PREFIX, pl) != 0)
            break;
        if (v.mv_size != HC_UUID_LEN)
            continue;
        if (!any || memcmp(v.mv_data, id, HC_UUID_LEN) < 0)
            memcpy(id, v.mv_data, HC_UUID_LEN);
        any = true;
    }
    mdb_cursor_close(cur);
    hc_store_txn_abort(s, txn);
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return HC_ESTORE;
    return any ? 0 : HC_ENOTFOUND;
}
