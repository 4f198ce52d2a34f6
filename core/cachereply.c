/* cachereply.c — see cachereply.h.
 *
 * DESIGN
 * - A hit is answered from the stored head and body alone: the stored head
 *   is parsed once, and that parse feeds both the content-coding decision
 *   and the capture (as values: hc_capture_response); the head sent to the
 *   app is built from the stored lines and never parsed back.
 * - A stored body is compressed as the provider sent it. An app that did
 *   not ask for that coding (Accept-Encoding) gets it decoded, at most
 *   twice HC_MAX_BODY (a compression bomb is not unpacked: then it gets
 *   the stored bytes as they are, as the provider would have sent them).
 * - Fail open: a store failure or no memory for the answer is a miss.
 */
#include "cachereply.h"
#include "decode.h"
#include "err.h"
#include "provider.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Parse a stored head (status line and header lines, no blank line) into h;
 * tmp holds the text h points into. */
static bool parse_stored(const char *head, size_t len, hc_buf *tmp, hc_http_head *h)
{
    hc_buf_append(tmp, head, len);
    hc_buf_puts(tmp, "\r\n");
    return !hc_buf_error(tmp) && hc_http_parse_response(tmp->data, tmp->len, h) > 0;
}

/* The Content-Encoding of a parsed stored head, if any (not identity). */
static bool stored_coding(const hc_http_head *h, char *out, size_t size)
{
    const hc_header *ce = hc_http_header(h, "content-encoding");
    if (!ce || !ce->value_len || ce->value_len >= size ||
        hc_span_ieq(ce->value, ce->value_len, "identity"))
        return false;
    memcpy(out, ce->value, ce->value_len);
    out[ce->value_len] = '\0';
    return true;
}

/* Remove header `name` from h's table. */
static void drop_header(hc_http_head *h, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < h->nheaders; i++)
        if (!hc_span_ieq(h->headers[i].name, h->headers[i].name_len, name))
            h->headers[k++] = h->headers[i];
    h->nheaders = k;
}

/* Does the request's Accept-Encoding allow `coding`? (q=0 excludes it.) */
static bool accepts_coding(const hc_http_head *req, const char *coding)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        const hc_header *h = &req->headers[i];
        if (!hc_span_ieq(h->name, h->name_len, "accept-encoding"))
            continue;
        const char *v = h->value, *end = v + h->value_len;
        while (v < end) {
            while (v < end && (*v == ' ' || *v == ','))
                v++;
            const char *t = v;
            while (v < end && *v != ',' && *v != ';' && *v != ' ')
                v++;
            size_t tl = (size_t)(v - t);
            const char *params = v;
            while (v < end && *v != ',')
                v++;
            bool q0 = memmem(params, (size_t)(v - params), "q=0", 3) &&
                      !memmem(params, (size_t)(v - params), "q=0.", 4);
            if (!q0 && (hc_span_ieq(t, tl, coding) || hc_span_ieq(t, tl, "*")))
                return true;
        }
    }
    return false;
}

struct plain_out {
    hc_buf *buf;
    size_t cap;
    bool over;
};

static void append_plain(void *ctx, const char *p, size_t n)
{
    struct plain_out *o = ctx;
    if (o->over || o->buf->len + n > o->cap || hc_buf_append(o->buf, p, n))
        o->over = true;
}

/* Decode a stored body for an app that did not ask for its coding; at most
 * cap decoded bytes (a compression bomb is not unpacked: HC_EINVAL). */
static int decode_all(const char *coding, const char *p, size_t n, hc_buf *out, size_t cap)
{
    bool unsupported;
    hc_decoder *d = hc_decoder_new(coding, strlen(coding), &unsupported);
    if (!d)
        return HC_EINVAL;
    struct plain_out o = { out, cap, false };
    int rc = hc_decoder_feed(d, p, n, append_plain, &o);
    hc_decoder_free(d);
    return rc ? rc : o.over ? HC_EINVAL : 0;
}

/* Copy head lines except header `name`. */
static void append_without_header(hc_buf *out, const char *head, size_t len, const char *name)
{
    size_t nl = strlen(name);
    const char *p = head, *end = head + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (!((size_t)(next - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':'))
            hc_buf_append(out, p, (size_t)(next - p));
        p = next;
    }
}

/* The body of a hit and the head lines that go with it: decoded (without
 * its Content-Encoding line) when the app did not ask for the stored coding. */
struct hit {
    hc_buf stored, head, plain;
    hc_http_head h;
    bool parsed;
    const char *body;
    size_t body_len;
};

static void hit_body(struct hit *t, const hc_cache_entry *e, const hc_http_head *req,
                     size_t max_body)
{
    char coding[32];
    t->parsed = parse_stored(e->head, e->head_len, &t->stored, &t->h);
    t->body = e->body;
    t->body_len = e->body_len;
    if (t->parsed && stored_coding(&t->h, coding, sizeof coding) && !accepts_coding(req, coding) &&
        decode_all(coding, e->body, e->body_len, &t->plain, 2 * max_body) == 0) {
        t->body = t->plain.data ? t->plain.data : "";
        t->body_len = t->plain.len;
        append_without_header(&t->head, e->head, e->head_len, "content-encoding");
        drop_header(&t->h, "content-encoding");
    } else {
        hc_buf_append(&t->head, e->head, e->head_len);
    }
}

/* Answer the hit e (from bucket) to the app and finish the capture. False
 * if there was no memory to build the answer (nothing was sent). */
static bool answer_hit(hc_core *core, hc_io *client, hc_capture *cap, const hc_cachereply_req *rq,
                       const hc_cache_entry *e, int bucket, bool *app_gone)
{
    struct hit t = { .stored = HC_BUF_INIT, .head = HC_BUF_INIT, .plain = HC_BUF_INIT };
    hit_body(&t, e, rq->req, core->cfg.max_body);
    if (e->streamed)
        hc_buf_puts(&t.head, "Transfer-Encoding: chunked\r\n");
    else
        hc_buf_printf(&t.head, "Content-Length: %zu\r\n", t.body_len);
    hc_buf_printf(&t.head,
                  "helicone-id: %s\r\nHelicone-Cache: HIT\r\nHelicone-Cache-Bucket-Idx: %d\r\n",
                  rq->id, bucket);
    hc_buf_append_buf(&t.head, rq->resp_extra);
    hc_buf_puts(&t.head, "\r\n");
    bool ok = !hc_buf_error(&t.head);
    if (ok) {
        if (t.parsed) {
            hc_capture_response(cap, t.h.status, t.h.headers, t.h.nheaders);
            hc_capture_drop_ratelimit(cap); /* the stored answer's, not today's */
        }
        hc_capture_set_upstream(cap, "cache");
        hc_capture_attempt(cap, e->status, 0);
        int w = hc_io_write_buf(client, &t.head);
        if (w == 0 && t.body_len)
            w = e->streamed ? hc_io_write_chunk(client, t.body, t.body_len)
                            : hc_io_write(client, t.body, t.body_len);
        if (w == 0 && e->streamed)
            w = hc_io_write(client, "0\r\n\r\n", 5);
        hc_capture_response_data(cap, t.body, t.body_len);
        *app_gone = w != 0;
        /* A hit costs nothing; it saves what the original answer cost. Its
         * usage is the original's (a replayed stream may not carry it). */
        hc_capture_stored_answer(cap, &e->tok, e->cost_nusd, e->model);
        hc_capture_finish(cap, w ? "the app went away" : NULL,
                          HC_REC_CACHE_HIT | (w ? HC_REC_CLIENT_ABORT : 0));
    }
    hc_buf_free(&t.stored);
    hc_buf_free(&t.head);
    hc_buf_free(&t.plain);
    return ok;
}

bool hc_cachereply_gate(hc_cachereply *cr, hc_core *core, hc_io *client, hc_capture *cap,
                        const hc_cachereply_req *rq, int64_t now_us, bool *app_gone)
{
    *app_gone = false;
    if (!rq->opts->cache || rq->streaming ||
        hc_span_ieq(rq->req->method, rq->req->method_len, "HEAD"))
        return false;
    hc_store *s = hc_core_store(core);
    if (!s)
        return false;
    /* The raw target (a ?key= credential included: two keys never share an
     * answer) goes into the hash only; what is stored is the redacted path. */
    char target[4096];
    snprintf(target, sizeof target, "%.*s", (int)rq->req->target_len, rq->req->target);
    if (hc_cache_prepare(&cr->ctx, rq->opts, rq->host, target, rq->req, rq->body ? rq->body : "",
                         rq->len) != 0)
        return false;
    hc_capture_set_cache_key(cap, cr->ctx.key_hex);
    hc_cache_entry e;
    hc_buf storage = HC_BUF_INIT;
    int bucket = 0;
    int rc = hc_cache_lookup(s, &cr->ctx, now_us, &e, &storage, &bucket);
    bool answered = false;
    if (rc == HC_CACHE_MISS) {
        cr->on = true;
        cr->bucket = bucket;
        cr->body_ok = true;
        hc_buf_puts(rq->resp_extra, "Helicone-Cache: MISS\r\n");
    } else if (rc == HC_CACHE_HIT) {
        /* No memory for the answer: ask the upstream, as on a miss (fail open). */
        answered = answer_hit(core, client, cap, rq, &e, bucket, app_gone);
    }
    hc_buf_free(&storage);
    return answered;
}

void hc_cachereply_keep(hc_cachereply *cr, size_t max_body, const char *p, size_t n)
{
    if (!cr->body_ok)
        return;
    if (cr->body.len + n > max_body || hc_buf_append(&cr->body, p, n)) {
        cr->body_ok = false; /* too large to cache; the answer still flows */
        hc_buf_free(&cr->body);
    }
}

void hc_cachereply_store(hc_cachereply *cr, hc_core *core, hc_capture *cap, const char *host,
                         int status, int64_t now_us)
{
    if (!cr->on || !cr->body_ok || status < 200 || status > 299 || hc_buf_error(&cr->head))
        return;
    hc_store *s = hc_core_store(core);
    if (!s)
        return;
    const hc_record *r = &cap->rec;
    hc_cache_entry e;
    memset(&e, 0, sizeof e);
    e.created_us = now_us;
    e.expires_us = now_us + cr->ctx.ttl_us;
    memcpy(e.orig_id, r->id, HC_UUID_LEN);
    e.cost_nusd = r->cost_nusd;
    e.status = status;
    e.streamed = (r->flags & HC_REC_STREAM) != 0;
    e.tok = r->tok;
    e.host = host;
    e.model = cap->model_resp[0] ? cap->model_resp : cap->model_req;
    e.path = cap->path.data ? cap->path.data : "";
    e.head = cr->head.data ? cr->head.data : "";
    e.head_len = cr->head.len;
    e.body = cr->body.data ? cr->body.data : "";
    e.body_len = cr->body.len;
    if (hc_cache_put(s, &cr->ctx, cr->bucket, &e) == 0)
        hc_capture_add_flags(cap, HC_REC_CACHE_STORED);
}

void hc_cachereply_free(hc_cachereply *cr)
{
    hc_buf_free(&cr->head);
    hc_buf_free(&cr->body);
}
