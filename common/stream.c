/* stream.c — message splitting for SSE, NDJSON and JSON-array streams (see stream.h). */
#include "stream.h"
#include "err.h"
#include "http.h"

#include <string.h>

enum hc_stream_kind hc_stream_kind_for(const char *ct, size_t ct_len, const char *path)
{
    if (ct && hc_span_iprefix(ct, ct_len, "text/event-stream"))
        return HC_STREAM_SSE;
    if (ct && (hc_span_iprefix(ct, ct_len, "application/x-ndjson") ||
               hc_span_iprefix(ct, ct_len, "application/ndjson") ||
               hc_span_iprefix(ct, ct_len, "application/jsonl")))
        return HC_STREAM_NDJSON;
    if (path && strstr(path, ":streamGenerateContent") && !strstr(path, "alt=sse"))
        return HC_STREAM_JSON_ARRAY;
    return HC_STREAM_NONE;
}

void hc_stream_init(hc_stream *s, enum hc_stream_kind kind, size_t max_msg)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->max_msg = max_msg ? max_msg : (1u << 20);
    hc_sse_lines_init(&s->lines);
}

void hc_stream_free(hc_stream *s)
{
    hc_buf_free(&s->cur);
    hc_buf_free(&s->data);
}

static void reset_msg(hc_stream *s)
{
    hc_buf_reset(&s->cur);
    s->line_start = 0;
    hc_sse_lines_init(&s->lines);
    hc_buf_reset(&s->data);
    s->event[0] = '\0';
    s->skipping = false;
}

/* Append one byte of the current message, honouring the bound. */
static int keep(hc_stream *s, char c)
{
    if (s->skipping)
        return 0;
    if (s->cur.len + 1 > s->max_msg) {
        s->skipping = true;
        return 0;
    }
    return hc_buf_append(&s->cur, &c, 1);
}

void hc_sse_lines_init(hc_sse_lines *l)
{
    l->len = 0;
    l->blank = true;
}

size_t hc_sse_lines_next(hc_sse_lines *l, const char *p, size_t n, bool *eol, bool *blank)
{
    const char *nl = memchr(p, '\n', n);
    size_t run = nl ? (size_t)(nl - p) + 1 : n;
    size_t content = nl ? run - 1 : run;
    for (size_t i = 0; i < content; i++)
        if (p[i] != '\r')
            l->blank = false;
    l->len += content;
    *eol = nl != NULL;
    *blank = nl && (l->len == 0 || (l->len == 1 && l->blank));
    if (nl)
        hc_sse_lines_init(l);
    return run;
}

bool hc_sse_field(const char *b, const char *e, const char **name, size_t *name_len,
                  const char **val, size_t *val_len)
{
    if (e > b && e[-1] == '\r')
        e--;
    if (b == e || *b == ':')
        return false;
    const char *colon = memchr(b, ':', (size_t)(e - b));
    const char *v = colon ? colon + 1 : e;
    if (v < e && *v == ' ')
        v++;
    *name = b;
    *name_len = (size_t)((colon ? colon : e) - b);
    *val = v;
    *val_len = (size_t)(e - v);
    return true;
}

/* SSE: the line [b, e) (without EOL) of the current block is complete. */
static int sse_line(hc_stream *s, const char *b, const char *e)
{
    const char *name, *v;
    size_t nl, vl;
    if (!hc_sse_field(b, e, &name, &nl, &v, &vl))
        return 0;
    if (nl == 4 && memcmp(name, "data", 4) == 0) {
        if (s->data.len && hc_buf_append(&s->data, "\n", 1))
            return HC_ENOMEM;
        if (hc_buf_append(&s->data, v, vl))
            return HC_ENOMEM;
        if (!s->data.data && hc_buf_append(&s->data, "", 0))
            return HC_ENOMEM;
    } else if (nl == 5 && memcmp(name, "event", 5) == 0) {
        if (vl >= sizeof s->event)
            vl = sizeof s->event - 1;
        memcpy(s->event, v, vl);
        s->event[vl] = '\0';
    }
    return 0;
}

static void emit(hc_stream *s, hc_stream_cb cb, void *ctx, const char *data, size_t dlen)
{
    if (s->skipping) {
        s->oversized++;
        return;
    }
    s->messages++;
    cb(ctx, s->event, data ? data : "", dlen, s->cur.data ? s->cur.data : "", s->cur.len);
}

static int feed_sse(hc_stream *s, const char *p, size_t n, hc_stream_cb cb, void *ctx)
{
    while (n) {
        bool eol, blank;
        /* Blank-line detection works on counts, so it survives skipping. */
        size_t run = hc_sse_lines_next(&s->lines, p, n, &eol, &blank);
        if (!s->skipping) {
            if (s->cur.len + run > s->max_msg)
                s->skipping = true;
            else if (hc_buf_append(&s->cur, p, run))
                return HC_ENOMEM;
        }
        p += run;
        n -= run;
        if (!eol)
            break;
        if (blank) {
            /* Dispatch the block (comment-only blocks too, so that a consumer
             * forwarding raw bytes sees every byte). */
            emit(s, cb, ctx, s->data.data, s->data.len);
            reset_msg(s);
        } else if (!s->skipping) {
            const char *b = s->cur.data + s->line_start, *e = s->cur.data + s->cur.len - 1;
            if (sse_line(s, b, e))
                return HC_ENOMEM;
        }
        s->line_start = s->cur.len;
    }
    return 0;
}

static int feed_ndjson(hc_stream *s, const char *p, size_t n, hc_stream_cb cb, void *ctx)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t run = nl ? (size_t)(nl - p) : n;
        if (!s->skipping) {
            if (s->cur.len + run > s->max_msg)
                s->skipping = true;
            else if (hc_buf_append(&s->cur, p, run))
                return HC_ENOMEM;
        }
        if (!nl)
            break;
        if (s->cur.len && s->cur.data[s->cur.len - 1] == '\r')
            s->cur.data[--s->cur.len] = '\0';
        if (s->skipping || s->cur.len)
            emit(s, cb, ctx, s->cur.data, s->cur.len);
        reset_msg(s);
        p += run + 1;
        n -= run + 1;
    }
    return 0;
}

/* Depth 0: outside the array; 1: between elements; >= 2: inside an element,
 * whose bytes (from its opening bracket to its closing one) are kept. */
static int feed_array(hc_stream *s, const char *p, size_t n, hc_stream_cb cb, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool inside = s->depth >= 2;
        if (s->in_str) {
            if (inside && keep(s, c))
                return HC_ENOMEM;
            if (s->esc)
                s->esc = false;
            else if (c == '\\')
                s->esc = true;
            else if (c == '"')
                s->in_str = false;
            continue;
        }
        switch (c) {
        case '"':
            s->in_str = true;
            if (inside && keep(s, c))
                return HC_ENOMEM;
            break;
        case '{':
        case '[':
            s->depth++;
            if (s->depth >= 2 && keep(s, c))
                return HC_ENOMEM;
            break;
        case '}':
        case ']':
            if (inside && keep(s, c))
                return HC_ENOMEM;
            if (s->depth > 0)
                s->depth--;
            if (inside && s->depth == 1) {
                emit(s, cb, ctx, s->cur.data, s->cur.len);
                reset_msg(s);
            }
            break;
        default:
            if (inside && keep(s, c))
                return HC_ENOMEM;
        }
    }
    return 0;
}

int hc_stream_feed(hc_stream *s, const char *p, size_t n, hc_stream_cb cb, void *ctx)
{
    switch (s->kind) {
    case HC_STREAM_SSE: return feed_sse(s, p, n, cb, ctx);
    case HC_STREAM_NDJSON: return feed_ndjson(s, p, n, cb, ctx);
    case HC_STREAM_JSON_ARRAY: return feed_array(s, p, n, cb, ctx);
    default: return 0;
    }
}

void hc_stream_finish(hc_stream *s, hc_stream_cb cb, void *ctx)
{
    if (s->kind == HC_STREAM_SSE && (s->data.len || s->skipping))
        emit(s, cb, ctx, s->data.data, s->data.len);
    else if (s->kind == HC_STREAM_NDJSON && (s->cur.len || s->skipping))
        emit(s, cb, ctx, s->cur.data, s->cur.len);
    reset_msg(s);
}
