/* recjson.c — record <-> JSON object (see recjson.h).
 *
 * One table lists every field once, so writer and reader cannot disagree. */
#include "recjson.h"
#include "err.h"
#include "fmt.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum { J_I64, J_I32, J_U32, J_STR, J_PAIRS };

static const struct jfield {
    const char *name;
    unsigned type;
    size_t off;
} jfields[] = {
#define F(m, t) \
    { \
#m, t, offsetof(hc_record, m) \
    }
    F(start_us, J_I64),      F(latency_us, J_I64),
    F(ttft_us, J_I64),       F(host, J_STR),
    F(provider, J_STR),      F(api, J_STR),
    F(method, J_STR),        F(path, J_STR),
    F(upstream, J_STR),      F(model_req, J_STR),
    F(model_resp, J_STR),    F(status, J_I32),
    F(error, J_STR),         F(tok_in, J_I64),
    F(tok_out, J_I64),       F(tok_cached, J_I64),
    F(tok_cw5m, J_I64),      F(tok_cw1h, J_I64),
    F(tok_reasoning, J_I64), F(cost_nusd, J_I64),
    F(saved_nusd, J_I64),    F(cost_flags, J_U32),
    F(props, J_PAIRS),       F(user, J_STR),
    F(session_id, J_STR),    F(session_path, J_STR),
    F(session_name, J_STR),  F(request_id, J_STR),
    F(flags, J_U32),         F(retries, J_I32),
    F(fallback_idx, J_I32),  F(attempts, J_STR),
    F(ratelimit, J_PAIRS),   F(ratelimit_wait_us, J_I64),
    F(pid, J_I32),           F(program, J_STR),
    F(req_bytes, J_I64),     F(resp_bytes, J_I64),
    F(cache_key, J_STR),     F(budget, J_STR),
    F(response_id, J_STR),   F(finish_reasons, J_STR),
    F(req_params, J_PAIRS),  F(run_id, J_STR), /* run fields (record.h) */
#undef F
};

void recjson_fields(jw *w, const hc_record *r)
{
    char id[HC_UUID_STRLEN + 1], t[40];
    hc_uuid_format(r->id, id);
    jw_kstr(w, "id", id);
    jw_kstr(w, "time", fmt_time_iso(t, r->start_us));
    for (size_t i = 0; i < sizeof jfields / sizeof jfields[0]; i++) {
        const struct jfield *f = &jfields[i];
        const char *m = (const char *)r + f->off;
        jw_key(w, f->name);
        switch (f->type) {
        case J_I64: jw_int(w, *(const int64_t *)m); break;
        case J_I32: jw_int(w, *(const int32_t *)m); break;
        case J_U32: jw_uint(w, *(const uint32_t *)m); break;
        case J_STR: jw_str(w, *(const char *const *)m); break;
        case J_PAIRS: {
            const hc_pairs *pl = (const hc_pairs *)m;
            uint32_t pos = 0;
            const char *n, *v;
            jw_obj(w);
            while (hc_pairs_next(pl, &pos, &n, &v))
                jw_kstr(w, n, v);
            jw_obj_end(w);
            break;
        }
        }
    }
}

static int bad(char *err, size_t errlen, const char *key, const char *what)
{
    snprintf(err, errlen, "\"%s\": expected %s", key, what);
    return HC_EINVAL;
}

int recjson_read(const cJSON *obj, hc_record *r, hc_buf *props, hc_buf *ratelimit, char *err,
                 size_t errlen)
{
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "expected a JSON object");
        return HC_EINVAL;
    }
    hc_record_init(r);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (!cJSON_IsString(id) || hc_uuid_parse(id->valuestring, r->id) != 0)
        return bad(err, errlen, "id", "a UUID");
    hc_buf_reset(props);
    hc_buf_reset(ratelimit);
    size_t pair_from[3] = { 0, 0,
                            0 }; /* where props, ratelimit, req_params start in their buffer */
    for (size_t i = 0; i < sizeof jfields / sizeof jfields[0]; i++) {
        const struct jfield *f = &jfields[i];
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, f->name);
        if (!it || cJSON_IsNull(it))
            continue;
        char *m = (char *)r + f->off;
        switch (f->type) {
        case J_I64:
        case J_I32:
        case J_U32: {
            /* Integers above 2^53 lose precision in cJSON's double; refuse them
             * rather than import a silently different number. */
            double d = it->valuedouble;
            if (!cJSON_IsNumber(it) || d != floor(d) || fabs(d) > 9007199254740992.0)
                return bad(err, errlen, f->name, "an integer");
            if (f->type == J_I64)
                *(int64_t *)m = (int64_t)d;
            else if (f->type == J_I32) {
                if (d < INT32_MIN || d > INT32_MAX)
                    return bad(err, errlen, f->name, "a 32-bit integer");
                *(int32_t *)m = (int32_t)d;
            } else {
                if (d < 0 || d > UINT32_MAX)
                    return bad(err, errlen, f->name, "an unsigned 32-bit integer");
                *(uint32_t *)m = (uint32_t)d;
            }
            break;
        }
        case J_STR:
            if (!cJSON_IsString(it))
                return bad(err, errlen, f->name, "a string");
            *(const char **)m = it->valuestring;
            break;
        case J_PAIRS: {
            if (!cJSON_IsObject(it))
                return bad(err, errlen, f->name, "an object of strings");
            /* props in its buffer; ratelimit and then req_params share the
             * other (their pointers are set once both are packed: an append
             * may move the bytes). */
            hc_buf *b = (f->off == offsetof(hc_record, props)) ? props : ratelimit;
            size_t from = b->len;
            const cJSON *p;
            cJSON_ArrayForEach(p, it)
            {
                if (!cJSON_IsString(p) || !p->string)
                    return bad(err, errlen, f->name, "an object of strings");
                if (hc_pairs_add(b, p->string, p->valuestring))
                    return HC_ENOMEM;
            }
            pair_from[f->off == offsetof(hc_record, props)       ? 0
                      : f->off == offsetof(hc_record, ratelimit) ? 1
                                                                 : 2] = from;
            ((hc_pairs *)m)->len = (uint32_t)(b->len - from);
            break;
        }
        }
    }
    hc_pairs *pls[3] = { &r->props, &r->ratelimit, &r->req_params };
    for (int i = 0; i < 3; i++) {
        hc_buf *b = i == 0 ? props : ratelimit;
        pls[i]->p = b->data && pls[i]->len ? b->data + pair_from[i] : "";
    }
    return 0;
}
