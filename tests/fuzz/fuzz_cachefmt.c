/* fuzz_cachefmt.c — the response-cache entry format (common/cachefmt.c) and
 * the body blobs inside it (common/store.c hc_body_decode), as a reader of a
 * store written by another (possibly newer, possibly corrupted) process sees
 * them.
 *
 * Input: a cache entry value. Also decoded on its own as a body blob.
 * Invariants: decode returns 0 / HC_EPARSE / HC_ESCHEMA; on success every
 * string is NUL-terminated inside `storage`, head and body lie inside it, and
 * encode -> decode gives back the same entry (tokens, ids, strings, head and
 * body); a body blob that decodes re-encodes to a blob that decodes to the
 * same bytes and truncation flag. */
#include "fuzz.h"
#include "buf.h"
#include "cachefmt.h"
#include "err.h"
#include "store.h"

static void check_in(const hc_buf *st, const char *p, size_t len)
{
    FUZZ_CHECK(st->data != NULL);
    FUZZ_CHECK(fuzz_within(st->data, st->len, p, len));
}

static void same_entry(const hc_cache_entry *a, const hc_cache_entry *b)
{
    FUZZ_CHECK(a->created_us == b->created_us && a->expires_us == b->expires_us);
    FUZZ_CHECK(memcmp(a->orig_id, b->orig_id, sizeof a->orig_id) == 0);
    FUZZ_CHECK(a->cost_nusd == b->cost_nusd && a->status == b->status &&
               a->streamed == b->streamed);
    for (int i = 0; i < 6; i++)
        FUZZ_CHECK(a->tok.v[i] == b->tok.v[i]);
    FUZZ_CHECK(strcmp(a->host, b->host) == 0 && strcmp(a->model, b->model) == 0 &&
               strcmp(a->path, b->path) == 0);
    FUZZ_CHECK(a->head_len == b->head_len && memcmp(a->head, b->head, a->head_len) == 0);
    FUZZ_CHECK(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_dup(data, size);
    hc_cache_entry e;
    hc_buf st = HC_BUF_INIT;
    int rc = hc_cache_entry_decode(p, size, &e, &st);
    FUZZ_CHECK(rc == 0 || rc == HC_EPARSE || rc == HC_ESCHEMA);
    if (rc == 0) {
        check_in(&st, e.host, strlen(e.host) + 1);
        check_in(&st, e.model, strlen(e.model) + 1);
        check_in(&st, e.path, strlen(e.path) + 1);
        check_in(&st, e.head, e.head_len);
        check_in(&st, e.body, e.body_len);
        for (int i = 0; i < 6; i++)
            FUZZ_CHECK(e.tok.v[i] >= 0);

        hc_buf enc = HC_BUF_INIT, st2 = HC_BUF_INIT;
        FUZZ_CHECK(hc_cache_entry_encode(&e, &enc) == 0);
        hc_cache_entry e2;
        FUZZ_CHECK(hc_cache_entry_decode(enc.data, enc.len, &e2, &st2) == 0);
        same_entry(&e, &e2);
        hc_buf_free(&enc);
        hc_buf_free(&st2);
    }
    hc_buf_free(&st);

    /* The same bytes as a body blob (the "bodies" table holds these too). */
    hc_buf body = HC_BUF_INIT;
    bool trunc = false;
    rc = hc_body_decode(p, size, &body, &trunc);
    FUZZ_CHECK(rc == 0 || rc == HC_EPARSE || rc == HC_ENOMEM);
    if (rc == 0) {
        hc_buf enc = HC_BUF_INIT, back = HC_BUF_INIT;
        bool t2 = !trunc;
        FUZZ_CHECK(hc_body_encode(body.data, body.len, trunc, &enc) == 0);
        FUZZ_CHECK(hc_body_decode(enc.data, enc.len, &back, &t2) == 0);
        FUZZ_CHECK(t2 == trunc && back.len == body.len &&
                   (body.len == 0 || memcmp(back.data, body.data, body.len) == 0));
        hc_buf_free(&enc);
        hc_buf_free(&back);
    }
    hc_buf_free(&body);
    free((void *)p);
    return 0;
}
