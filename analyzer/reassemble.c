/* reassemble.c — answer text from stored response bodies (see reassemble.h). */
#include "reassemble.h"
#include "err.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <string.h>

struct acc {
    hc_buf *out;
    int pieces;
    int err;
};

static void add(struct acc *a, const cJSON *s)
{
    if (cJSON_IsString(s) && s->valuestring[0]) {
        if (hc_buf_puts(a->out, s->valuestring))
            a->err = HC_ENOMEM;
        a->pieces++;
    }
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* Text of one message (a stream chunk or a whole response). */
static void extract(struct acc *a, const cJSON *m, const char *event)
{
    const cJSON *choices = get(m, "choices");
    if (cJSON_IsArray(choices)) {
        const cJSON *c0 = cJSON_GetArrayItem(choices, 0);
        const cJSON *d = get(c0, "delta");
        if (d)
            add(a, get(d, "content"));
        else if ((d = get(c0, "message")))
            add(a, get(d, "content"));
        else
            add(a, get(c0, "text")); /* legacy completions */
        return;
    }
    const cJSON *type = get(m, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : event;
    if (t && strcmp(t, "content_block_delta") == 0) {
        const cJSON *d = get(m, "delta"), *dt = get(d, "type");
        if (cJSON_IsString(dt) && strcmp(dt->valuestring, "text_delta") == 0)
            add(a, get(d, "text"));
        return;
    }
    if (t && strcmp(t, "response.output_text.delta") == 0) {
        add(a, get(m, "delta"));
        return;
    }
    const cJSON *content = get(m, "content");
    if (cJSON_IsArray(content) && cJSON_IsString(type) &&
        strcmp(type->valuestring, "message") == 0) {
        const cJSON *blk;
        cJSON_ArrayForEach(blk, content)
        {
            const cJSON *bt = get(blk, "type");
            if (cJSON_IsString(bt) && strcmp(bt->valuestring, "text") == 0)
                add(a, get(blk, "text"));
        }
        return;
    }
    const cJSON *cands = get(m, "candidates");
    if (cJSON_IsArray(cands)) {
        const cJSON *parts = get(get(cJSON_GetArrayItem(cands, 0), "content"), "parts"), *pt;
        cJSON_ArrayForEach(pt, parts) add(a, get(pt, "text"));
        return;
    }
    const cJSON *msg = get(m, "message");
    if (cJSON_IsObject(msg)) {
        add(a, get(msg, "content"));
        return;
    }
    add(a, get(m, "response"));
}

static void on_msg(void *ctx, const char *event, const char *data, size_t data_len, const char *raw,
                   size_t raw_len)
{
    (void)raw;
    (void)raw_len;
    if (data_len == 0 || (data_len == 6 && memcmp(data, "[DONE]", 6) == 0))
        return;
    cJSON *m = cJSON_ParseWithLength(data, data_len);
    if (m) {
        extract(ctx, m, event);
        cJSON_Delete(m);
    }
}

static bool looks_sse(const char *p, size_t n)
{
    while (n && isspace((unsigned char)*p))
        p++, n--;
    return (n >= 5 && memcmp(p, "data:", 5) == 0) || (n >= 6 && memcmp(p, "event:", 6) == 0) ||
           (n >= 1 && *p == ':');
}

int reassemble_text(const char *body, size_t len, const char *path, hc_buf *out,
                    enum hc_stream_kind *kind)
{
    struct acc a = { out, 0, 0 };
    enum hc_stream_kind k = hc_stream_kind_for(NULL, 0, path);
    if (looks_sse(body, len))
        k = HC_STREAM_SSE;
    else if (k == HC_STREAM_NONE) {
        /* One document only if nothing but blanks follows it (NDJSON's first
         * line parses too, and cJSON stops there). */
        const char *end = NULL;
        cJSON *doc = cJSON_ParseWithLengthOpts(body, len, &end, 0);
        if (doc && end) {
            const char *p = end;
            while (p < body + len && isspace((unsigned char)*p))
                p++;
            if (p < body + len) {
                cJSON_Delete(doc);
                doc = NULL;
            }
        }
        if (doc) {
            /* One document: a whole response, or a Gemini array without the path hint. */
            if (cJSON_IsArray(doc)) {
                const cJSON *el;
                cJSON_ArrayForEach(el, doc) extract(&a, el, NULL);
                k = HC_STREAM_JSON_ARRAY;
            } else {
                extract(&a, doc, NULL);
            }
            cJSON_Delete(doc);
            *kind = k;
            return a.err ? a.err : a.pieces;
        }
        if (memchr(body, '\n', len))
            k = HC_STREAM_NDJSON;
    }
    *kind = k;
    if (k == HC_STREAM_NONE)
        return 0;
    hc_stream s;
    hc_stream_init(&s, k, 1u << 24);
    int rc = hc_stream_feed(&s, body, len, on_msg, &a);
    hc_stream_finish(&s, on_msg, &a);
    hc_stream_free(&s);
    if (rc)
        return rc;
    return a.err ? a.err : a.pieces;
}
