/* record.c — encode/decode of the record wire format described in record.h.
 * One table maps field numbers to struct members, so encode, decode and the
 * schema comment cannot drift apart field by field. */
#include "record.h"
#include "err.h"

#include <stddef.h>
#include <string.h>

enum ftype { T_I64, T_I32, T_U32, T_STR, T_PAIRS };

static const struct field {
    uint8_t num;
    uint8_t type;
    uint16_t off;
} fields[] = {
#define F(n, t, m) \
    { \
        n, t, (uint16_t)offsetof(hc_record, m) \
    }
    F(1, T_I64, start_us),
    F(2, T_I64, latency_us),
    F(3, T_I64, ttft_us),
    F(4, T_STR, host),
    F(5, T_STR, provider),
    F(6, T_STR, method),
    F(7, T_STR, path),
    F(8, T_STR, upstream),
    F(9, T_STR, model_req),
    F(10, T_STR, model_resp),
    F(11, T_I32, status),
    F(12, T_STR, error),
    F(13, T_I64, tok_in),
    F(14, T_I64, tok_out),
    F(15, T_I64, tok_cached),
    F(16, T_I64, tok_cw5m),
    F(17, T_I64, tok_cw1h),
    F(18, T_I64, tok_reasoning),
    F(19, T_I64, cost_nusd),
    F(20, T_U32, cost_flags),
    F(21, T_PAIRS, props),
    F(22, T_STR, user),
    F(23, T_STR, session_id),
    F(24, T_STR, session_path),
    F(25, T_STR, session_name),
    F(26, T_STR, request_id),
    F(27, T_U32, flags),
    F(28, T_I32, retries),
    F(29, T_I32, fallback_idx),
    F(30, T_PAIRS, ratelimit),
    F(31, T_I32, pid),
    F(32, T_STR, program),
    F(33, T_I64, req_bytes),
    F(34, T_I64, resp_bytes),
    F(35, T_STR, api),
    F(36, T_STR, attempts),
    F(37, T_I64, saved_nusd),
    F(38, T_STR, cache_key),
    F(39, T_I64, ratelimit_wait_us),
    F(40, T_STR, budget),
    F(41, T_STR, response_id),
    F(42, T_STR, finish_reasons),
    F(43, T_PAIRS, req_params),
    /* run fields, numbered from 64 (record.h) */
    F(64, T_STR, run_id),
#undef F
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* Non-zero defaults: everything else defaults to 0 / "". */
static int64_t default_of(unsigned num)
{
    return (num == 3 || num == 29) ? -1 : 0;
}

void hc_record_init(hc_record *r)
{
    uint8_t id[HC_UUID_LEN];
    memcpy(id, r->id, sizeof id);
    memset(r, 0, sizeof *r);
    memcpy(r->id, id, sizeof id);
    for (size_t i = 0; i < NFIELDS; i++) {
        char *m = (char *)r + fields[i].off;
        switch (fields[i].type) {
        case T_STR: *(const char **)m = ""; break;
        case T_PAIRS: ((hc_pairs *)m)->p = ""; break;
        case T_I64: *(int64_t *)m = default_of(fields[i].num); break;
        case T_I32: *(int32_t *)m = (int32_t)default_of(fields[i].num); break;
        default: break;
        }
    }
}

size_t hc_varint_put(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t hc_varint_get(const uint8_t *p, size_t len, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

static uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static int64_t unzz(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int put_varint_field(hc_buf *out, unsigned num, uint64_t v)
{
    uint8_t tmp[20];
    size_t n = hc_varint_put(tmp, (uint64_t)num << 3 | 0);
    n += hc_varint_put(tmp + n, v);
    return hc_buf_append(out, tmp, n);
}

static int put_bytes_field(hc_buf *out, unsigned num, const char *p, size_t len)
{
    uint8_t tmp[20];
    size_t n = hc_varint_put(tmp, (uint64_t)num << 3 | 2);
    n += hc_varint_put(tmp + n, len);
    if (hc_buf_append(out, tmp, n) || hc_buf_append(out, p, len) || hc_buf_append(out, "", 1))
        return HC_ENOMEM;
    return 0;
}

int hc_record_encode(const hc_record *r, hc_buf *out)
{
    uint8_t ver = HC_RECORD_FORMAT;
    if (hc_buf_append(out, &ver, 1))
        return HC_ENOMEM;
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *m = (const char *)r + fields[i].off;
        unsigned num = fields[i].num;
        int rc = 0;
        switch (fields[i].type) {
        case T_I64: {
            int64_t v = *(const int64_t *)m;
            if (v != default_of(num))
                rc = put_varint_field(out, num, zz(v));
            break;
        }
        case T_I32: {
            int32_t v = *(const int32_t *)m;
            if (v != default_of(num))
                rc = put_varint_field(out, num, zz(v));
            break;
        }
        case T_U32: {
            uint32_t v = *(const uint32_t *)m;
            if (v)
                rc = put_varint_field(out, num, v);
            break;
        }
        case T_STR: {
            const char *s = *(const char *const *)m;
            if (s && *s)
                rc = put_bytes_field(out, num, s, strlen(s));
            break;
        }
        case T_PAIRS: {
            const hc_pairs *pl = (const hc_pairs *)m;
            if (pl->p && pl->len)
                rc = put_bytes_field(out, num, pl->p, pl->len);
            break;
        }
        }
        if (rc)
            return rc;
    }
    return 0;
}

static const struct field *find_field(unsigned num)
{
    /* fields[] is sorted, dense from 1 up to the run fields: index directly,
     * verify; the few numbered past the gap are searched from the end. */
    if (num >= 1 && num <= NFIELDS && fields[num - 1].num == num)
        return &fields[num - 1];
    for (size_t i = NFIELDS; i-- > 0 && fields[i].num >= num;)
        if (fields[i].num == num)
            return &fields[i];
    return NULL;
}

int hc_record_decode(const void *vp, size_t len, hc_record *r)
{
    const uint8_t *p = vp, *end = p + len;
    hc_record_init(r);
    if (len < 1)
        return HC_EPARSE;
    if (p[0] > HC_RECORD_FORMAT)
        return HC_ESCHEMA;
    if (p[0] == 0)
        return HC_EPARSE;
    p++;
    while (p < end) {
        uint64_t key, v;
        size_t n = hc_varint_get(p, (size_t)(end - p), &key);
        if (!n)
            return HC_EPARSE;
        p += n;
        unsigned wt = key & 7;
        uint64_t num = key >> 3;
        if (wt == 0) {
            n = hc_varint_get(p, (size_t)(end - p), &v);
            if (!n)
                return HC_EPARSE;
            p += n;
            const struct field *f = num <= 255 ? find_field((unsigned)num) : NULL;
            if (!f)
                continue;
            char *m = (char *)r + f->off;
            switch (f->type) {
            case T_I64: *(int64_t *)m = unzz(v); break;
            case T_I32: *(int32_t *)m = (int32_t)unzz(v); break;
            case T_U32: *(uint32_t *)m = (uint32_t)v; break;
            default: break; /* wire type mismatch: ignore */
            }
        } else if (wt == 2) {
            n = hc_varint_get(p, (size_t)(end - p), &v);
            if (!n || v >= (uint64_t)((size_t)(end - p) - n)) /* need v bytes + NUL */
                return HC_EPARSE;
            p += n;
            const char *s = (const char *)p;
            if (p[v] != '\0')
                return HC_EPARSE;
            p += v + 1;
            const struct field *f = num <= 255 ? find_field((unsigned)num) : NULL;
            if (!f)
                continue;
            char *m = (char *)r + f->off;
            if (f->type == T_STR)
                *(const char **)m = s;
            else if (f->type == T_PAIRS) {
                ((hc_pairs *)m)->p = s;
                ((hc_pairs *)m)->len = (uint32_t)v;
            }
        } else {
            return HC_EPARSE;
        }
    }
    return 0;
}

int hc_pairs_next(const hc_pairs *pl, uint32_t *pos, const char **name, const char **value)
{
    if (!pl->p || *pos >= pl->len)
        return 0;
    const char *n = pl->p + *pos;
    size_t nl = strnlen(n, pl->len - *pos);
    if (*pos + nl + 1 >= pl->len)
        return 0;
    const char *v = n + nl + 1;
    size_t vl = strnlen(v, pl->len - *pos - nl - 1);
    if (*pos + nl + 1 + vl + 1 > pl->len)
        return 0;
    *name = n;
    *value = v;
    *pos += (uint32_t)(nl + 1 + vl + 1);
    return 1;
}

const char *hc_pairs_get(const hc_pairs *pl, const char *name)
{
    uint32_t pos = 0;
    const char *n, *v;
    while (hc_pairs_next(pl, &pos, &n, &v))
        if (strcmp(n, name) == 0)
            return v;
    return NULL;
}

int hc_pairs_add(hc_buf *b, const char *name, const char *value)
{
    if (hc_buf_append(b, name, strlen(name) + 1) || hc_buf_append(b, value, strlen(value) + 1))
        return HC_ENOMEM;
    return 0;
}
