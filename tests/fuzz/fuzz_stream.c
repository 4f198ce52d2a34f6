/* fuzz_stream.c — the stream splitter (common/stream.c): SSE, NDJSON and
 * JSON-array framings.
 *
 * Input: byte 0 picks the kind (SSE / NDJSON / JSON array), byte 1 the
 * message bound (0: the default 1 MiB, else a small one so the oversize path
 * runs), the rest is the body. The body is fed whole, then again in pieces
 * of input-derived sizes; both must deliver the same messages (a gateway
 * sees arbitrary TCP segmentation). Each message must satisfy the header's
 * contract: data NUL-terminated at data_len; event < 64 bytes; SSE: raw ends
 * with LF and the raws of consecutive messages are consecutive input bytes;
 * NDJSON: one line without its LF (raw == data); array: one element from its
 * opening to its closing bracket; nothing over the bound is delivered. */
#include "fuzz.h"
#include "buf.h"
#include "err.h"
#include "stream.h"

struct ctx {
    enum hc_stream_kind kind;
    size_t max_msg;
    hc_buf log;       /* serialised messages, for comparing runs */
    const char *body; /* the whole body (SSE raw continuity check) */
    size_t body_len;
    size_t raw_pos; /* where the next SSE raw must start, or SIZE_MAX once unknown */
    bool finishing;
    const hc_stream *s; /* the stream delivering (its oversized count) */
};

static void on_msg(void *vc, const char *event, const char *data, size_t data_len, const char *raw,
                   size_t raw_len)
{
    struct ctx *c = vc;
    FUZZ_CHECK(event != NULL && data != NULL && raw != NULL);
    FUZZ_CHECK(strlen(event) < 64);
    FUZZ_CHECK(data[data_len] == '\0');
    FUZZ_CHECK(data_len <= c->max_msg && raw_len <= c->max_msg);
    switch (c->kind) {
    case HC_STREAM_SSE:
        FUZZ_CHECK(data_len <= raw_len);
        if (!c->finishing)
            FUZZ_CHECK(raw_len > 0 && raw[raw_len - 1] == '\n');
        if (c->s->oversized || c->s->skipping)
            c->raw_pos = SIZE_MAX; /* skipped bytes break the raw continuity */
        if (c->raw_pos != SIZE_MAX) {
            FUZZ_CHECK(c->raw_pos + raw_len <= c->body_len);
            FUZZ_CHECK(memcmp(c->body + c->raw_pos, raw, raw_len) == 0);
            c->raw_pos += raw_len;
        }
        break;
    case HC_STREAM_NDJSON:
        FUZZ_CHECK(raw_len == data_len && memcmp(raw, data, data_len) == 0);
        FUZZ_CHECK(memchr(data, '\n', data_len) == NULL);
        FUZZ_CHECK(data_len > 0);
        break;
    case HC_STREAM_JSON_ARRAY:
        FUZZ_CHECK(data_len >= 2);
        FUZZ_CHECK(data[0] == '{' || data[0] == '[');
        FUZZ_CHECK(data[data_len - 1] == '}' || data[data_len - 1] == ']');
        break;
    default: FUZZ_CHECK(!"a message from a NONE stream");
    }
    size_t el = strlen(event);
    if (hc_buf_append(&c->log, &el, sizeof el) || hc_buf_append(&c->log, event, el) ||
        hc_buf_append(&c->log, &data_len, sizeof data_len) ||
        hc_buf_append(&c->log, data, data_len) ||
        hc_buf_append(&c->log, &raw_len, sizeof raw_len) || hc_buf_append(&c->log, raw, raw_len))
        abort();
}

static void run(enum hc_stream_kind kind, size_t max_msg, const char *body, size_t n, fuzz_rng *rng,
                struct ctx *c, size_t *messages, size_t *oversized)
{
    hc_stream s;
    hc_stream_init(&s, kind, max_msg);
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->max_msg = s.max_msg;
    c->body = body;
    c->body_len = n;
    c->s = &s;
    size_t at = 0;
    while (at < n) {
        size_t take = rng ? fuzz_rng_range(rng, 1, n - at < 64 ? n - at : 64) : n - at;
        char *piece = fuzz_dup(body + at, take);
        FUZZ_CHECK(hc_stream_feed(&s, piece, take, on_msg, c) == 0);
        free(piece);
        at += take;
    }
    c->finishing = true;
    hc_stream_finish(&s, on_msg, c);
    *messages = s.messages;
    *oversized = s.oversized;
    hc_stream_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const enum hc_stream_kind kinds[] = { HC_STREAM_SSE, HC_STREAM_NDJSON,
                                                 HC_STREAM_JSON_ARRAY };
    enum hc_stream_kind kind = kinds[data[0] % 3];
    size_t max_msg = data[1] ? (size_t)data[1] * 4 : 0;
    const char *body = (const char *)data + 2;
    size_t n = size - 2;

    struct ctx a, b;
    size_t ma, oa, mb, ob;
    run(kind, max_msg, body, n, NULL, &a, &ma, &oa);
    fuzz_rng rng;
    fuzz_rng_seed(&rng, data, size);
    run(kind, max_msg, body, n, &rng, &b, &mb, &ob);
    FUZZ_CHECK(ma == mb && oa == ob);
    FUZZ_CHECK(a.log.len == b.log.len &&
               (a.log.len == 0 || memcmp(a.log.data, b.log.data, a.log.len) == 0));
    hc_buf_free(&a.log);
    hc_buf_free(&b.log);

    /* The kind chooser, on the first bytes as a Content-Type and a path. */
    char *ct = fuzz_str(body, n < 64 ? n : 64);
    enum hc_stream_kind k = hc_stream_kind_for(ct, strlen(ct), ct);
    FUZZ_CHECK(k >= HC_STREAM_NONE && k <= HC_STREAM_JSON_ARRAY);
    free(ct);
    return 0;
}
