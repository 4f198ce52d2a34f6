/* hc_gen_cache.c — writes response-cache entries and the records that go with
 * them, plus rate-limit records, into a store; deterministic, for the tests of
 * `hc-analyze cache`, `cache clear` and `ratelimits`.
 *
 *   hc_gen_cache --db DIR [--seed S] [--now UNIX_SECONDS] [--groups N]
 *                [--ratelimit N] [--orphans N] [--bad N] [--json-out FILE]
 *
 * Everything derives from --seed (default 1) and --now (default: the current
 * time, so pass it for byte-identical output). Times are placed relative to
 * now: records within the last 10 days, live entries expire at least 2 hours
 * after now, expired ones at least 3 hours before, and no entry is created
 * within 2 hours of "7 days ago" (so `cache clear --older-than 7d` has an
 * unambiguous answer whenever the test runs soon after generating).
 *
 * What it writes:
 *   --groups N (default 24) cache key groups, each: 1..3 buckets, one
 *     CACHE_STORED record per bucket (sometimes a later refill of bucket 0),
 *     0..8 CACHE_HIT records (saved_nusd = the stored answer's cost; OpenAI-
 *     family hits carry replayed rate-limit headers with 0 left, as a real
 *     hit replays the stored head),
 *     sometimes a 500 answer that was looked up but not stored; the cache
 *     entries of the buckets (live or expired; sometimes one is missing, as
 *     after a clear) with orig_id = the record whose answer they hold; and a
 *     4-byte rotation counter for multi-bucket groups that had hits.
 *   --orphans N (default 3) entries whose original record is not in the store.
 *   --bad N (default 2) undecodable values in the cache table.
 *   --ratelimit N (default 160) records across OpenAI, Anthropic, Groq and
 *     Ollama: 200s with rate-limit headers, 429s after retries, 429-then-200
 *     recoveries, 503-then-200 retries, client-side policy blocks, budget
 *     blocks, observe-mode 429s without attempts, a 429 without the flag, and
 *     non-numeric header values.
 *
 * --json-out FILE: one JSON object per line, "kind" first:
 *   {"kind":"record", …every field as `hc-analyze export --format jsonl`…}
 *   {"kind":"entry","key","bytes","created_us","expires_us","orig_id","model",
 *    "host","path","status","streamed","cost_nusd"}   (bytes: the stored value)
 *   {"kind":"rotation","key","bytes"}   {"kind":"bad","key","bytes"}
 * The JSON is written by this tool's own small writer, not the analyzer's.
 */
#include "buf.h"
#include "cachefmt.h"
#include "clock.h"
#include "err.h"
#include "record.h"
#include "store.h"
#include "uuid.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_H (3600LL * 1000000)
#define US_D (24 * US_H)

#include "genrand.h"

enum family { F_NONE, F_OPENAI, F_ANTHROPIC };

struct model {
    const char *provider, *host, *api, *path, *req, *resp;
    int64_t in, out; /* nano-USD per token ($/1M in thousandths); < 0: unpriced */
    enum family fam;
};

static const struct model models[] = {
    { "openai", "api.openai.com", "chat", "/v1/chat/completions", "gpt-4o-mini",
      "gpt-4o-mini-2024-07-18", 150, 600, F_OPENAI },
    { "openai", "api.openai.com", "chat", "/v1/chat/completions", "gpt-4o", "gpt-4o-2024-08-06",
      2500, 10000, F_OPENAI },
    { "anthropic", "api.anthropic.com", "messages", "/v1/messages", "claude-3-5-haiku-20241022",
      "claude-3-5-haiku-20241022", 800, 4000, F_ANTHROPIC },
    { "groq", "api.groq.com", "chat", "/openai/v1/chat/completions", "llama-3.1-8b-instant",
      "llama-3.1-8b-instant", 50, 80, F_OPENAI },
    { "ollama", "localhost", "ollama-chat", "/api/chat", "llama3.2", "llama3.2", -1, -1, F_NONE },
};
#define NMODELS (sizeof models / sizeof models[0])

static const char *const users[] = { "u1", "u2", "u3" };

static int64_t now_us;
static hc_store *store;
static FILE *jf;
static uint64_t n_records, n_entries;

/* ---- JSON (independent of the analyzer's writer) ------------------------------ */

static void jstr(const char *s)
{
    fputc('"', jf);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(jf, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(jf, "\\u%04x", c);
        else
            fputc(c, jf);
    }
    fputc('"', jf);
}

static void jpairs(const hc_pairs *p)
{
    fputc('{', jf);
    uint32_t pos = 0;
    const char *n, *v;
    int first = 1;
    while (hc_pairs_next(p, &pos, &n, &v)) {
        if (!first)
            fputc(',', jf);
        first = 0;
        jstr(n);
        fputc(':', jf);
        jstr(v);
    }
    fputc('}', jf);
}

static void hexs(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void json_record(const hc_record *r)
{
    if (!jf)
        return;
    char id[HC_UUID_STRLEN + 1];
    hc_uuid_format(r->id, id);
    fprintf(jf, "{\"kind\":\"record\",\"id\":\"%s\"", id);
#define I(name) fprintf(jf, ",\"" #name "\":%" PRId64, (int64_t)r->name)
#define S(name) (fputs(",\"" #name "\":", jf), jstr(r->name))
    I(start_us);
    I(latency_us);
    I(ttft_us);
    S(host);
    S(provider);
    S(api);
    S(method);
    S(path);
    S(upstream);
    S(model_req);
    S(model_resp);
    I(status);
    S(error);
    I(tok_in);
    I(tok_out);
    I(tok_cached);
    I(tok_cw5m);
    I(tok_cw1h);
    I(tok_reasoning);
    I(cost_nusd);
    I(saved_nusd);
    I(cost_flags);
    fputs(",\"props\":", jf);
    jpairs(&r->props);
    S(user);
    S(session_id);
    S(session_path);
    S(session_name);
    S(request_id);
    I(flags);
    I(retries);
    I(fallback_idx);
    S(attempts);
    fputs(",\"ratelimit\":", jf);
    jpairs(&r->ratelimit);
    I(ratelimit_wait_us);
    I(pid);
    S(program);
    I(req_bytes);
    I(resp_bytes);
    S(cache_key);
    S(budget);
#undef I
#undef S
    fputs("}\n", jf);
}

/* ---- writing ------------------------------------------------------------------- */

static void make_id(uint8_t out[HC_UUID_LEN], int64_t us)
{
    uint64_t ms = (uint64_t)us / 1000;
    unsigned frac = (unsigned)(((uint64_t)us % 1000) * 4096 / 1000);
    uint64_t a = rnd();
    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)(ms >> (40 - 8 * i));
    out[6] = (uint8_t)(0x70 | (frac >> 8));
    out[7] = (uint8_t)frac;
    out[8] = (uint8_t)(0x80 | (a & 0x3f));
    for (int i = 9; i < 16; i++)
        out[i] = (uint8_t)(a >> (8 * (i - 8)));
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "hc_gen_cache: %s: %s\n", what, hc_strerror(rc));
    exit(1);
}

static void put_record(hc_record *r)
{
    hc_buf enc = HC_BUF_INIT;
    if (hc_record_encode(r, &enc))
        die("encoding a record", HC_ENOMEM);
    hc_store_item it = { .rec = enc.data, .rec_len = enc.len };
    memcpy(it.id, r->id, HC_UUID_LEN);
    int err = 0;
    if (hc_store_put_items(store, &it, 1, &err) != 1)
        die("writing a record", err);
    hc_buf_free(&enc);
    json_record(r);
    n_records++;
}

static void put_raw(const uint8_t key[32], const void *val, size_t len)
{
    MDB_txn *txn;
    int rc = hc_store_txn_begin(store, true, &txn);
    if (rc)
        die("cache txn", rc);
    MDB_val k = { 32, (void *)key }, v = { len, (void *)val };
    if (mdb_put(txn, hc_store_dbi(store, HC_T_CACHE), &k, &v, 0) != 0)
        die("cache put", HC_ESTORE);
    if ((rc = hc_store_txn_commit(store, txn)))
        die("cache commit", rc);
}

static void random_key(uint8_t key[32], char hex[65])
{
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)rnd();
    hexs(key, 32, hex);
}

static void put_entry(const hc_cache_entry *e)
{
    uint8_t key[32];
    char kh[65], oid[HC_UUID_STRLEN + 1];
    random_key(key, kh);
    hc_buf val = HC_BUF_INIT;
    if (hc_cache_entry_encode(e, &val))
        die("encoding an entry", HC_ENOMEM);
    put_raw(key, val.data, val.len);
    n_entries++;
    if (jf) {
        hc_uuid_format(e->orig_id, oid);
        fprintf(jf,
                "{\"kind\":\"entry\",\"key\":\"%s\",\"bytes\":%zu,\"created_us\":%" PRId64
                ",\"expires_us\":%" PRId64 ",\"orig_id\":\"%s\",\"model\":",
                kh, val.len, e->created_us, e->expires_us, oid);
        jstr(e->model);
        fputs(",\"host\":", jf);
        jstr(e->host);
        fputs(",\"path\":", jf);
        jstr(e->path);
        fprintf(jf, ",\"status\":%d,\"streamed\":%s,\"cost_nusd\":%" PRId64 "}\n", e->status,
                e->streamed ? "true" : "false", e->cost_nusd);
    }
    hc_buf_free(&val);
}

/* A time in the last 10 days, at least 1 h ago, not within 3 h of 7 days ago. */
static int64_t past_time(void)
{
    for (;;) {
        int64_t t = now_us - range(US_H, 10 * US_D);
        int64_t d = t - (now_us - 7 * US_D);
        if (d < -6 * US_H || d > 3 * US_H) /* a refill comes 2 h after its group's start */
            return t;
    }
}

static void base_record(hc_record *r, const struct model *m, int64_t start)
{
    hc_record_init(r);
    make_id(r->id, start);
    r->start_us = start;
    r->host = m->host;
    r->provider = m->provider;
    r->api = m->api;
    r->method = "POST";
    r->path = m->path;
    r->model_req = m->req;
    r->model_resp = m->resp;
    r->program = "agent";
    r->pid = 4242;
    r->user = users[below(3)];
    r->status = 200;
    r->ttft_us = range(50000, 400000);
    r->latency_us = r->ttft_us + range(1000, 900000);
    r->req_bytes = range(100, 2000);
    r->resp_bytes = range(200, 4000);
    r->upstream = "https://127.0.0.1:8443";
}

static void priced(hc_record *r, const struct model *m)
{
    r->tok_in = range(10, 2000);
    r->tok_out = range(5, 500);
    if (m->in >= 0) {
        r->cost_nusd = r->tok_in * m->in + r->tok_out * m->out;
        r->cost_flags = HC_COST_PRICED;
    } else {
        r->cost_flags = HC_COST_UNPRICED;
    }
}

/* ---- cache groups ---------------------------------------------------------------- */

static void gen_group(int gi)
{
    const struct model *m = &models[below(NMODELS)];
    uint8_t kb[32];
    char key[65];
    random_key(kb, key);
    int buckets = (int)range(1, 3);
    int64_t t0 = past_time();
    if (t0 > now_us - 4 * US_H)
        t0 = now_us - 4 * US_H - range(0, US_H); /* room for hits and a refill before now */
    struct {
        hc_record r;
    } last[3];
    memset(last, 0, sizeof last);
    /* One stored answer per bucket, a minute apart. */
    for (int b = 0; b < buckets; b++) {
        hc_record r;
        base_record(&r, m, t0 + b * 60 * 1000000LL + gi);
        priced(&r, m);
        r.flags = HC_REC_CACHE_STORED;
        r.cache_key = key;
        r.attempts = "200:0";
        put_record(&r);
        last[b].r = r;
    }
    /* Sometimes bucket 0 was refilled later (its first entry had expired). */
    if (chance(250)) {
        hc_record r;
        base_record(&r, m, t0 + 2 * US_H + gi);
        priced(&r, m);
        r.flags = HC_REC_CACHE_STORED;
        r.cache_key = key;
        r.attempts = "200:0";
        put_record(&r);
        last[0].r = r;
    }
    int hits = chance(200) ? 0 : (int)range(1, 8);
    for (int h = 0; h < hits; h++) {
        const hc_record *orig = &last[h % buckets].r;
        hc_record r;
        base_record(&r, m, t0 + 5 * 60 * 1000000LL + h * 30 * 1000000LL + gi);
        r.tok_in = orig->tok_in;
        r.tok_out = orig->tok_out;
        r.cost_flags = orig->cost_flags;
        r.saved_nusd = orig->cost_nusd;
        r.flags = HC_REC_CACHE_HIT;
        r.cache_key = key;
        r.upstream = "cache";
        r.attempts = "200:0";
        r.latency_us = range(300, 3000);
        r.ttft_us = r.latency_us / 2;
        /* A hit replays the stored head, rate-limit headers included: stale
         * values that `ratelimits` must not take for headroom. */
        hc_buf rl = HC_BUF_INIT;
        if (m->fam == F_OPENAI) {
            hc_pairs_add(&rl, "x-ratelimit-remaining-requests", "0");
            hc_pairs_add(&rl, "x-ratelimit-remaining-tokens", "0");
        }
        r.ratelimit.p = rl.data ? rl.data : "";
        r.ratelimit.len = (uint32_t)rl.len;
        put_record(&r);
        hc_buf_free(&rl);
    }
    if (chance(250)) { /* looked up, answered 500: not stored */
        hc_record r;
        base_record(&r, m, t0 + 3 * 60 * 1000000LL + gi);
        r.status = 500;
        r.cost_flags = HC_COST_NO_USAGE;
        r.model_resp = "";
        r.cache_key = key;
        r.attempts = "500:0";
        put_record(&r);
    }
    /* The entries of the buckets. */
    for (int b = 0; b < buckets; b++) {
        if (chance(100))
            continue; /* gone (cleared, or never written: the store was full) */
        const hc_record *o = &last[b].r;
        hc_cache_entry e;
        memset(&e, 0, sizeof e);
        e.created_us = o->start_us + o->latency_us;
        if (chance(350) && e.created_us < now_us - 6 * US_H)
            e.expires_us = e.created_us + range(US_H, now_us - 3 * US_H - e.created_us);
        else
            e.expires_us = now_us + range(2 * US_H, 20 * US_D);
        memcpy(e.orig_id, o->id, HC_UUID_LEN);
        e.cost_nusd = o->cost_nusd;
        e.status = 200;
        e.streamed = chance(300);
        e.tok = (hc_tokens){ .in = o->tok_in, .out = o->tok_out };
        e.host = o->host;
        e.model = *o->model_resp ? o->model_resp : o->model_req;
        e.path = o->path;
        e.head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n";
        e.head_len = strlen(e.head);
        char body[160];
        int n = snprintf(body, sizeof body,
                         "{\"id\":\"gen-%d-%d\",\"answer\":\"cached answer %d of group %d\"}", gi,
                         b, b, gi);
        e.body = body;
        e.body_len = (size_t)n;
        put_entry(&e);
    }
    if (buckets > 1 && hits > 0) {
        uint8_t rk[32];
        char rh[65];
        random_key(rk, rh);
        uint32_t cnt = (uint32_t)hits;
        uint8_t le[4] = { (uint8_t)cnt, (uint8_t)(cnt >> 8), (uint8_t)(cnt >> 16),
                          (uint8_t)(cnt >> 24) };
        put_raw(rk, le, 4);
        if (jf)
            fprintf(jf, "{\"kind\":\"rotation\",\"key\":\"%s\",\"bytes\":4}\n", rh);
    }
}

static void gen_orphan(int i)
{
    const struct model *m = &models[below(NMODELS)];
    hc_cache_entry e;
    memset(&e, 0, sizeof e);
    e.created_us = past_time();
    e.expires_us = chance(500) && e.created_us < now_us - 6 * US_H
                       ? e.created_us + range(US_H, now_us - 3 * US_H - e.created_us)
                       : now_us + range(2 * US_H, 20 * US_D);
    make_id(e.orig_id, e.created_us); /* a record that is not (any more) in the store */
    e.cost_nusd = m->in >= 0 ? range(1000, 900000) : 0;
    e.status = 200;
    e.host = m->host;
    e.model = m->resp;
    e.path = m->path;
    e.head = "HTTP/1.1 200 OK\r\n";
    e.head_len = strlen(e.head);
    char body[64];
    e.body_len = (size_t)snprintf(body, sizeof body, "{\"orphan\":%d}", i);
    e.body = body;
    put_entry(&e);
}

static void gen_bad(int i)
{
    /* Not 4 bytes long (that is a rotation counter): a newer format, a truncated one. */
    static const uint8_t newer[] = { HC_CACHE_FORMAT + 8, 1, 2, 3, 4, 5 };
    static const uint8_t cut[] = { HC_CACHE_FORMAT, 0x80 };
    uint8_t key[32];
    char kh[65];
    random_key(key, kh);
    const uint8_t *v = i % 2 ? cut : newer;
    size_t n = i % 2 ? sizeof cut : sizeof newer;
    put_raw(key, v, n);
    if (jf)
        fprintf(jf, "{\"kind\":\"bad\",\"key\":\"%s\",\"bytes\":%zu}\n", kh, n);
}

/* ---- rate-limit records ---------------------------------------------------------- */

static void headers_for(const struct model *m, hc_buf *rl, int low, int bad_value)
{
    char a[32], b[32], c[32];
    snprintf(a, sizeof a, "%" PRId64, low ? range(0, 5) : range(0, 9999));
    snprintf(b, sizeof b, "%" PRId64, low ? range(0, 500) : range(0, 2000000));
    snprintf(c, sizeof c, "%" PRId64, range(0, 400000));
    if (m->fam == F_OPENAI) {
        hc_pairs_add(rl, "x-ratelimit-limit-requests", "10000");
        hc_pairs_add(rl, "x-ratelimit-limit-tokens", "2000000");
        hc_pairs_add(rl, "x-ratelimit-remaining-requests", a);
        hc_pairs_add(rl, "x-ratelimit-remaining-tokens", bad_value ? "unknown" : b);
        hc_pairs_add(rl, "x-ratelimit-reset-requests", "6ms");
    } else if (m->fam == F_ANTHROPIC) {
        hc_pairs_add(rl, "anthropic-ratelimit-requests-limit", "4000");
        hc_pairs_add(rl, "anthropic-ratelimit-requests-remaining", bad_value ? "n/a" : a);
        hc_pairs_add(rl, "anthropic-ratelimit-tokens-remaining", b);
        hc_pairs_add(rl, "anthropic-ratelimit-input-tokens-remaining", c);
        hc_pairs_add(rl, "anthropic-ratelimit-output-tokens-remaining", b);
    }
}

static void gen_ratelimit(int i)
{
    const struct model *m = &models[below(NMODELS)];
    hc_record r;
    base_record(&r, m, past_time() + i);
    hc_buf rl = HC_BUF_INIT;
    int roll = (int)below(100);
    int low = chance(150);
    if (roll < 50) {
        priced(&r, m);
        r.attempts = "200:0";
        headers_for(m, &rl, low, 0);
    } else if (roll < 60) { /* 429 after retries */
        r.status = 429;
        r.retries = (int32_t)range(1, 3);
        r.flags = HC_REC_RATE_LIMITED;
        r.attempts = r.retries == 1   ? "429:0,429:500"
                     : r.retries == 2 ? "429:0,429:500,429:1200"
                                      : "429:0,429:500,429:1200,429:2400";
        r.ratelimit_wait_us = r.retries == 1 ? 500000 : r.retries == 2 ? 1700000 : 4100000;
        r.cost_flags = HC_COST_NO_USAGE;
        r.model_resp = "";
        headers_for(m, &rl, 1, 0);
        hc_pairs_add(&rl, "retry-after", "2");
    } else if (roll < 72) { /* recovered */
        priced(&r, m);
        r.retries = (int32_t)range(1, 2);
        r.flags = HC_REC_RATE_LIMITED;
        r.attempts = r.retries == 1 ? "429:0,200:612" : "429:0,429:300,200:900";
        r.ratelimit_wait_us = r.retries == 1 ? 612000 : 1200000;
        headers_for(m, &rl, low, 0);
    } else if (roll < 78) { /* 503, then 200: retried, not rate-limited */
        priced(&r, m);
        r.retries = 1;
        r.attempts = "503:0,200:400";
        r.ratelimit_wait_us = 400000;
        headers_for(m, &rl, low, 0);
    } else if (roll < 84) { /* a client-side rate-limit policy said no */
        r.status = 429;
        r.flags = HC_REC_BLOCKED;
        r.error = "rate limit 10;w=60;u=request reached; no request was sent";
        r.cost_flags = HC_COST_NO_USAGE;
        r.model_resp = "";
        r.latency_us = range(50, 500);
        r.ttft_us = r.latency_us / 2;
    } else if (roll < 88) { /* a budget said no */
        r.status = 429;
        r.flags = HC_REC_BLOCKED;
        r.error = "budget 50/day exceeded: spent $1.00 of $1.00; no request was sent";
        r.budget = "50/day";
        r.cost_flags = HC_COST_NO_USAGE;
        r.model_resp = "";
    } else if (roll < 92) { /* observe mode: a 429 and no attempts list */
        r.status = 429;
        r.flags = HC_REC_RATE_LIMITED | HC_REC_OBSERVED;
        r.upstream = "";
        r.cost_flags = HC_COST_NO_USAGE;
        r.model_resp = "";
        hc_pairs_add(&rl, "retry-after", "20");
    } else if (roll < 96) { /* a 429 without the flag (an older writer) */
        r.status = 429;
        r.attempts = "429:0";
        r.cost_flags = HC_COST_NO_USAGE;
        r.model_resp = "";
        headers_for(m, &rl, 1, 0);
    } else { /* a header that is not a number */
        priced(&r, m);
        r.attempts = "200:0";
        headers_for(m, &rl, low, 1);
    }
    r.ratelimit.p = rl.data ? rl.data : "";
    r.ratelimit.len = (uint32_t)rl.len;
    put_record(&r);
    hc_buf_free(&rl);
}

static int usage(FILE *f, int rc)
{
    fputs("usage: hc_gen_cache --db DIR [--seed S] [--now UNIX_SECONDS] [--groups N] [--ratelimit "
          "N]\n"
          "                    [--orphans N] [--bad N] [--json-out FILE]\n",
          f);
    return rc;
}

int main(int argc, char **argv)
{
    const char *db = NULL, *json_out = NULL;
    uint64_t seed = 1;
    long groups = 24, nrl = 160, orphans = 3, bad = 2;
    now_us = hc_now_us();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return usage(stdout, 0);
        if (!v)
            return usage(stderr, 2);
        i++;
        if (strcmp(a, "--db") == 0)
            db = v;
        else if (strcmp(a, "--json-out") == 0)
            json_out = v;
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--now") == 0)
            now_us = strtoll(v, NULL, 10) * 1000000;
        else if (strcmp(a, "--groups") == 0)
            groups = strtol(v, NULL, 10);
        else if (strcmp(a, "--ratelimit") == 0)
            nrl = strtol(v, NULL, 10);
        else if (strcmp(a, "--orphans") == 0)
            orphans = strtol(v, NULL, 10);
        else if (strcmp(a, "--bad") == 0)
            bad = strtol(v, NULL, 10);
        else
            return usage(stderr, 2);
    }
    if (!db || now_us <= 30 * US_D)
        return usage(stderr, 2);
    seed_rng(seed);
    char err[512];
    int rc = hc_store_open(db, 0, &store, err, sizeof err);
    if (rc) {
        fprintf(stderr, "hc_gen_cache: %s\n", err);
        return 1;
    }
    if (json_out && !(jf = fopen(json_out, "w"))) {
        perror(json_out);
        return 1;
    }
    for (long g = 0; g < groups; g++)
        gen_group((int)g);
    for (long i = 0; i < orphans; i++)
        gen_orphan((int)i);
    for (long i = 0; i < bad; i++)
        gen_bad((int)i);
    for (long i = 0; i < nrl; i++)
        gen_ratelimit((int)i);
    if (jf && fclose(jf) != 0) {
        perror(json_out);
        return 1;
    }
    hc_store_close(store);
    fprintf(stderr, "hc_gen_cache: %" PRIu64 " records, %" PRIu64 " entries in %s\n", n_records,
            n_entries, db);
    return 0;
}
