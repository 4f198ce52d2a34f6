/* cache.c — see cache.h. */
#include "cache.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "shared.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_names(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

/* Sort every object's members by name, at every depth. */
static int sort_json(cJSON *node, int depth)
{
    if (depth > 256)
        return HC_EPARSE;
    for (cJSON *c = node->child; c; c = c->next)
        if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && sort_json(c, depth + 1))
            return HC_EPARSE;
    if (!cJSON_IsObject(node) || !node->child)
        return 0;
    size_t n = 0;
    for (cJSON *c = node->child; c; c = c->next)
        n++;
    cJSON **v = malloc(n * sizeof *v);
    if (!v)
        return HC_ENOMEM;
    size_t i = 0;
    for (cJSON *c = node->child; c; c = c->next)
        v[i++] = c;
    qsort(v, n, sizeof *v, cmp_names);
    /* cJSON's list: next links forward; prev of the head points at the tail. */
    for (i = 0; i < n; i++) {
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
        v[i]->prev = i ? v[i - 1] : v[n - 1];
    }
    node->child = v[0];
    free(v);
    return 0;
}

int hc_cache_canonical(const char *body, size_t len, const char *ignore, hc_buf *out)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return HC_EPARSE;
    if (cJSON_IsObject(root) && ignore && *ignore) {
        char list[512];
        hc_strlcpy(list, sizeof list, ignore);
        char *save = NULL;
        for (char *k = strtok_r(list, ", ", &save); k; k = strtok_r(NULL, ", ", &save))
            cJSON_DeleteItemFromObjectCaseSensitive(root, k);
    }
    int rc = sort_json(root, 0);
    char *txt = rc ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (rc)
        return rc;
    if (!txt)
        return HC_ENOMEM;
    rc = hc_buf_puts(out, txt);
    free(txt);
    return rc;
}

static void digest_update_str(EVP_MD_CTX *md, const char *s, size_t n)
{
    uint8_t sep = 0;
    EVP_DigestUpdate(md, s, n);
    EVP_DigestUpdate(md, &sep, 1);
}

static bool is_credential(const char *n, size_t l)
{
    return hc_span_ieq(n, l, "authorization") || hc_span_ieq(n, l, "x-api-key") ||
           hc_span_ieq(n, l, "api-key") || hc_span_ieq(n, l, "x-goog-api-key");
}

int hc_cache_prepare(hc_cache_ctx *c, const hc_opts *o, const char *host, const char *path,
                     const hc_http_head *req, const char *body, size_t len)
{
    memset(c, 0, sizeof *c);
    c->buckets = o->cache_buckets >= 1 && o->cache_buckets <= 20 ? o->cache_buckets : 1;
    c->ttl_us = o->cache_ttl_us;
    hc_buf canon = HC_BUF_INIT;
    bool json = hc_cache_canonical(body, len, o->cache_ignore, &canon) == 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) {
        hc_buf_free(&canon);
        return HC_ENOMEM;
    }
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    digest_update_str(md, "hcshim-cache-1", 14);
    digest_update_str(md, o->cache_seed, strlen(o->cache_seed));
    digest_update_str(md, host, strlen(host));
    digest_update_str(md, path, strlen(path));
    /* Credentials enter the hash only: answers never cross API keys, and the
     * key itself is not recoverable from the store. */
    for (size_t i = 0; i < req->nheaders; i++)
        if (is_credential(req->headers[i].name, req->headers[i].name_len)) {
            digest_update_str(md, req->headers[i].name, req->headers[i].name_len);
            digest_update_str(md, req->headers[i].value, req->headers[i].value_len);
        }
    if (json)
        digest_update_str(md, canon.data, canon.len);
    else
        digest_update_str(md, body, len);
    unsigned int out_len = 0;
    EVP_DigestFinal_ex(md, c->base, &out_len);
    EVP_MD_CTX_free(md);
    hc_buf_free(&canon);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        c->key_hex[2 * i] = hex[c->base[i] >> 4];
        c->key_hex[2 * i + 1] = hex[c->base[i] & 15];
    }
    c->key_hex[64] = '\0';
    return 0;
}

void hc_cache_bucket_key(const hc_cache_ctx *c, int b, uint8_t out[32])
{
    uint8_t in[33];
    memcpy(in, c->base, 32);
    in[32] = (uint8_t)b;
    unsigned int n = 0;
    EVP_Digest(in, sizeof in, out, &n, EVP_sha256(), NULL);
}

/* Live entries: expires in the future, decodable. */
static bool live(const MDB_val *v, int64_t now_us, hc_cache_entry *e, hc_buf *storage)
{
    return hc_cache_entry_decode(v->mv_data, v->mv_size, e, storage) == 0 && e->expires_us > now_us;
}

/* The Redis key of bucket b: "cache:" + hex of its store key (shared.h adds "hcshim:"). */
static void shared_key(const hc_cache_ctx *c, int b, char out[6 + 65])
{
    uint8_t k[32];
    hc_cache_bucket_key(c, b, k);
    memcpy(out, "cache:", 6);
    for (int i = 0; i < 32; i++)
        snprintf(out + 6 + 2 * i, 3, "%02x", k[i]);
}

/* A miss here: the answer another process put in Redis (HC_SHARED_CACHE=1,
 * one bucket only). Fails open: any Redis trouble is a miss. */
static bool shared_lookup(const hc_cache_ctx *c, int64_t now_us, hc_cache_entry *e, hc_buf *storage)
{
    if (c->buckets != 1 || !hc_shared_cache_on())
        return false;
    char key[6 + 65];
    shared_key(c, 0, key);
    hc_buf blob = HC_BUF_INIT;
    bool hit = false;
    if (hc_shared_blob_get(key, &blob) == 0) {
        MDB_val v = { blob.len, blob.data };
        hit = live(&v, now_us, e, storage);
    }
    hc_buf_free(&blob);
    return hit;
}

int hc_cache_lookup(hc_store *s, const hc_cache_ctx *c, int64_t now_us, hc_cache_entry *e,
                    hc_buf *storage, int *bucket)
{
    MDB_txn *txn;
    int rc = hc_store_txn_begin(s, false, &txn);
    if (rc)
        return rc;
    MDB_dbi dbi = hc_store_dbi(s, HC_T_CACHE);
    int free_idx = -1, nlive = 0;
    for (int b = 0; b < c->buckets; b++) {
        uint8_t k[32];
        hc_cache_bucket_key(c, b, k);
        MDB_val key = { 32, k }, v;
        hc_buf scratch = HC_BUF_INIT;
        if (mdb_get(txn, dbi, &key, &v) == 0 && live(&v, now_us, e, &scratch))
            nlive++;
        else if (free_idx < 0)
            free_idx = b;
        hc_buf_free(&scratch);
    }
    hc_store_txn_abort(s, txn);
    if (nlive < c->buckets) {
        *bucket = free_idx;
        return shared_lookup(c, now_us, e, storage) ? HC_CACHE_HIT : HC_CACHE_MISS;
    }

    /* All buckets live: serve them round-robin. The counter update is its
     * own write transaction; reading the chosen bucket happens inside it so
     * that the answer and the rotation are consistent. */
    int idx = 0;
    rc = hc_store_txn_begin(s, c->buckets > 1, &txn);
    if (rc)
        return rc;
    if (c->buckets > 1) {
        uint8_t rk[32];
        hc_cache_bucket_key(c, HC_CACHE_ROTATION_BUCKET, rk);
        MDB_val key = { 32, rk }, v;
        uint32_t n = 0;
        if (mdb_get(txn, dbi, &key, &v) == 0 && v.mv_size == 4)
            memcpy(&n, v.mv_data, 4);
        idx = (int)(n % (uint32_t)c->buckets);
        n++;
        v.mv_size = 4;
        v.mv_data = &n;
        if (mdb_put(txn, dbi, &key, &v, 0) != 0) {
            hc_store_txn_abort(s, txn);
            return HC_ESTORE;
        }
    }
    uint8_t k[32];
    hc_cache_bucket_key(c, idx, k);
    MDB_val key = { 32, k }, v;
    bool ok = mdb_get(txn, dbi, &key, &v) == 0 && live(&v, now_us, e, storage);
    if (c->buckets > 1)
        rc = hc_store_txn_commit(s, txn);
    else
        hc_store_txn_abort(s, txn), rc = 0;
    if (!ok) { /* expired between the two transactions */
        *bucket = idx;
        return HC_CACHE_MISS;
    }
    *bucket = idx;
    return rc ? rc : HC_CACHE_HIT;
}

struct put_args {
    const uint8_t *key; /* 32 bytes */
    const hc_buf *val;
};

/* One attempt of hc_cache_put (hc_store_write_fn). */
static int put_attempt(hc_store *s, MDB_txn *txn, void *ctx)
{
    const struct put_args *a = ctx;
    MDB_val key = { 32, (void *)a->key }, v = { a->val->len, a->val->data };
    return hc_store_mdb_rc(mdb_put(txn, hc_store_dbi(s, HC_T_CACHE), &key, &v, 0));
}

int hc_cache_put(hc_store *s, const hc_cache_ctx *c, int bucket, const hc_cache_entry *e)
{
    hc_buf val = HC_BUF_INIT;
    if (hc_cache_entry_encode(e, &val)) {
        hc_buf_free(&val);
        return HC_ENOMEM;
    }
    uint8_t k[32];
    hc_cache_bucket_key(c, bucket, k);
    struct put_args a = { k, &val };
    int rc = hc_store_write(s, 3, put_attempt, &a);
    /* Shared too when asked (one bucket; size-capped; expires with the entry). */
    if (c->buckets == 1 && hc_shared_cache_on() && val.len <= hc_shared_cache_max()) {
        char key[6 + 65];
        shared_key(c, bucket, key);
        hc_shared_blob_set(key, val.data, val.len, (e->expires_us - hc_now_us()) / 1000);
    }
    hc_buf_free(&val);
    return rc;
}
