#include "cachefmt.h"
#include "err.h"
#include "record.h"
#include "store.h"

#include <string.h>

static int put_varint(hc_buf *b, uint64_t v)
{
    uint8_t t[10];
    return hc_buf_append(b, t, hc_varint_put(t, v));
}

static int put_str(hc_buf *b, const char *s, size_t n)
{
    return put_varint(b, n) || hc_buf_append(b, s, n) ? HC_ENOMEM : 0;
}

int hc_cache_entry_encode(const hc_cache_entry *e, hc_buf *out)
{
    uint8_t fmt = HC_CACHE_FORMAT, flags = e->streamed ? 1 : 0;
    uint64_t zz = ((uint64_t)e->cost_nusd << 1) ^ (uint64_t)(e->cost_nusd >> 63);
    if (hc_buf_append(out, &fmt, 1) || put_varint(out, (uint64_t)e->created_us) ||
        put_varint(out, (uint64_t)e->expires_us) || hc_buf_append(out, e->orig_id, HC_UUID_LEN) ||
        put_varint(out, zz) || put_varint(out, (uint64_t)e->status) ||
        hc_buf_append(out, &flags, 1))
        return HC_ENOMEM;
    for (int i = 0; i < HC_TOKENS_N; i++)
        if (put_varint(out, (uint64_t)(e->tok.v[i] > 0 ? e->tok.v[i] : 0)))
            return HC_ENOMEM;
    if (put_str(out, e->host, strlen(e->host)) || put_str(out, e->model, strlen(e->model)) ||
        put_str(out, e->path, strlen(e->path)) || put_str(out, e->head, e->head_len))
        return HC_ENOMEM;
    return hc_body_encode(e->body, e->body_len, false, out);
}

struct rd {
    const uint8_t *p, *end;
};

static int get_varint(struct rd *r, uint64_t *v)
{
    size_t n = hc_varint_get(r->p, (size_t)(r->end - r->p), v);
    if (!n)
        return HC_EPARSE;
    r->p += n;
    return 0;
}

/* Copy a length-prefixed string into storage; *off gets its offset there. */
static int get_str(struct rd *r, hc_buf *storage, size_t *off, size_t *len)
{
    uint64_t n;
    if (get_varint(r, &n) || n > (uint64_t)(r->end - r->p))
        return HC_EPARSE;
    *off = storage->len;
    *len = (size_t)n;
    if (hc_buf_append(storage, r->p, (size_t)n) || hc_buf_append(storage, "", 1))
        return HC_ENOMEM;
    r->p += n;
    return 0;
}

int hc_cache_entry_decode(const void *p, size_t n, hc_cache_entry *e, hc_buf *storage)
{
    struct rd r = { p, (const uint8_t *)p + n };
    memset(e, 0, sizeof *e);
    hc_buf_reset(storage);
    if (n < 1)
        return HC_EPARSE;
    if (r.p[0] != HC_CACHE_FORMAT)
        return r.p[0] > HC_CACHE_FORMAT ? HC_ESCHEMA : HC_EPARSE;
    r.p++;
    uint64_t created, expires, zz, status;
    if (get_varint(&r, &created) || get_varint(&r, &expires) || r.end - r.p < HC_UUID_LEN)
        return HC_EPARSE;
    memcpy(e->orig_id, r.p, HC_UUID_LEN);
    r.p += HC_UUID_LEN;
    if (get_varint(&r, &zz) || get_varint(&r, &status) || r.p >= r.end)
        return HC_EPARSE;
    e->created_us = (int64_t)created;
    e->expires_us = (int64_t)expires;
    e->cost_nusd = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
    e->status = (int)status;
    e->streamed = *r.p++ & 1;
    for (int i = 0; i < HC_TOKENS_N; i++) {
        uint64_t t;
        if (get_varint(&r, &t) || t > (1ull << 50))
            return HC_EPARSE;
        e->tok.v[i] = (int64_t)t;
    }
    size_t off[4], len[4];
    for (int i = 0; i < 4; i++)
        if (get_str(&r, storage, &off[i], &len[i]))
            return HC_EPARSE;
    size_t body_off = storage->len;
    bool trunc;
    if (hc_body_decode(r.p, (size_t)(r.end - r.p), storage, &trunc) != 0)
        return HC_EPARSE;
    /* storage may have moved while growing: take pointers only now */
    e->host = storage->data + off[0];
    e->model = storage->data + off[1];
    e->path = storage->data + off[2];
    e->head = storage->data + off[3];
    e->head_len = len[3];
    e->body = storage->data + body_off;
    e->body_len = storage->len - body_off;
    return 0;
}
