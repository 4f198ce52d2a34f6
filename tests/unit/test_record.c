/* test_record.c — record wire format: round trip, defaults, unknown fields,
 * truncation at every byte, newer format refused. */
#include "err.h"
#include "record.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

int main(void)
{
    hc_buf props = HC_BUF_INIT, rl = HC_BUF_INIT, enc = HC_BUF_INIT;
    hc_pairs_add(&props, "Workflow", "research");
    hc_pairs_add(&props, "Step", "1");
    hc_pairs_add(&rl, "x-ratelimit-remaining-requests", "99");

    hc_record r;
    memset(&r, 0, sizeof r);
    hc_record_init(&r);
    hc_uuid_v7(r.id, 1700000000123456);
    r.start_us = 1700000000123456;
    r.latency_us = 250000;
    r.ttft_us = 0; /* a real zero must survive: ttft's default is -1 */
    r.host = "api.openai.com";
    r.provider = "openai";
    r.method = "POST";
    r.path = "/v1/chat/completions";
    r.model_req = "gpt-4o-mini";
    r.model_resp = "gpt-4o-mini-2024-07-18";
    r.status = 200;
    r.tok_in = 1200;
    r.tok_out = 345;
    r.tok_cached = 1024;
    r.cost_nusd = -5; /* signed values survive */
    r.cost_flags = HC_COST_PRICED;
    r.props.p = props.data;
    r.props.len = (uint32_t)props.len;
    r.ratelimit.p = rl.data;
    r.ratelimit.len = (uint32_t)rl.len;
    r.user = "alice";
    r.flags = HC_REC_STREAM | HC_REC_CACHE_HIT;
    r.fallback_idx = 0;
    r.pid = 4242;
    r.run_id = "ci-1234";
    T_EQ_INT(hc_record_encode(&r, &enc), 0, "encode");

    hc_record d;
    T_EQ_INT(hc_record_decode(enc.data, enc.len, &d), 0, "decode");
    T_EQ_INT(d.start_us, r.start_us, "start_us");
    T_EQ_INT(d.ttft_us, 0, "zero ttft kept (default is -1)");
    T_EQ_INT(d.fallback_idx, 0, "fallback index 0 kept (default is -1)");
    T_EQ_STR(d.host, "api.openai.com", "host");
    T_EQ_STR(d.model_resp, "gpt-4o-mini-2024-07-18", "model_resp");
    T_EQ_INT(d.cost_nusd, -5, "negative cost");
    T_EQ_INT(d.tok_cached, 1024, "cached tokens");
    T_EQ_STR(d.error, "", "absent string decodes as empty");
    T_EQ_STR(hc_pairs_get(&d.props, "Workflow"), "research", "property lookup");
    T_EQ_STR(hc_pairs_get(&d.props, "Step"), "1", "second property");
    T_CHECK(hc_pairs_get(&d.props, "Nope") == NULL, "missing property");
    T_EQ_STR(hc_pairs_get(&d.ratelimit, "x-ratelimit-remaining-requests"), "99", "ratelimit pair");
    T_EQ_INT(d.flags, HC_REC_STREAM | HC_REC_CACHE_HIT, "flags");
    T_EQ_INT(d.pid, 4242, "pid");
    T_EQ_STR(d.run_id, "ci-1234", "run id (field 64, past the dense numbers) round trip");

    /* A record written before run ids existed reads with run_id "". */
    {
        hc_record old;
        hc_buf ob = HC_BUF_INIT;
        hc_record_init(&old);
        old.user = "bob";
        hc_record_encode(&old, &ob);
        r.run_id = "x";
        T_EQ_INT(hc_record_decode(ob.data, ob.len, &d), 0, "record without a run id decodes");
        T_EQ_STR(d.run_id, "", "absent run id reads as empty");
        T_EQ_STR(d.user, "bob", "its other fields intact");
        hc_buf_free(&ob);
        r.run_id = "ci-1234";
    }

    hc_record e;
    hc_record_init(&e);
    T_EQ_INT(e.ttft_us, -1, "ttft default -1");
    T_EQ_INT(e.fallback_idx, -1, "fallback default -1");

    /* Every truncation either decodes (at a field boundary) or is rejected; never crashes. */
    int crashes_or_lies = 0;
    for (size_t cut = 0; cut < enc.len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, enc.data, cut);
        int rc = hc_record_decode(copy, cut, &d);
        if (rc != 0 && rc != HC_EPARSE)
            crashes_or_lies++;
        free(copy);
    }
    T_EQ_INT(crashes_or_lies, 0, "truncations decode or fail cleanly");

    /* Unknown field numbers (from a newer writer) are skipped. */
    hc_buf x = HC_BUF_INIT;
    hc_buf_append(&x, enc.data, enc.len);
    uint8_t extra[] = { (200 << 3 | 0) & 0xff, 200 >> 4 | 0x80, 0x05 };
    /* field 200 as a two-byte key varint, value 5 */
    uint8_t key[10];
    size_t kn = hc_varint_put(key, 200u << 3);
    (void)extra;
    hc_buf_append(&x, key, kn);
    hc_buf_append(&x, "\x05", 1);
    kn = hc_varint_put(key, 201u << 3 | 2);
    hc_buf_append(&x, key, kn);
    hc_buf_append(&x,
                  "\x03"
                  "abc\0",
                  5);
    T_EQ_INT(hc_record_decode(x.data, x.len, &d), 0, "unknown fields skipped");
    T_EQ_STR(d.user, "alice", "known fields intact after unknown ones");

    x.data[0] = HC_RECORD_FORMAT + 1;
    T_EQ_INT(hc_record_decode(x.data, x.len, &d), HC_ESCHEMA, "newer format refused");

    char s[37];
    uint8_t id2[16];
    hc_uuid_format(r.id, s);
    T_EQ_INT(hc_uuid_parse(s, id2), 0, "uuid parse");
    T_CHECK(memcmp(id2, r.id, 16) == 0, "uuid round trip");
    T_CHECK(s[14] == '7', "uuid version 7");
    int64_t t = hc_uuid_time_us(r.id);
    T_CHECK(t / 1000 == 1700000000123LL, "uuid time (ms) round trip");
    uint8_t a[16], b[16];
    hc_uuid_v7(a, 1700000000000000);
    hc_uuid_v7(b, 1700000000001000);
    T_CHECK(memcmp(a, b, 16) < 0, "later ids sort after earlier ones");

    hc_buf_free(&props);
    hc_buf_free(&rl);
    hc_buf_free(&enc);
    hc_buf_free(&x);
    return t_done();
}
