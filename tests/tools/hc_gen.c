/* hc_gen.c — writes realistic, deterministic exchange records into a store.
 *
 *   hc_gen --db DIR --count N [--seed S] [--start TIME] [--span 30d]
 *          [--with-bodies] [--json-out FILE] [--hostile] [--bad N] [--schema V]
 *
 * Used by the analyzer's tests and benchmark; it does not depend on the shim.
 * Everything derives from --seed (default 1), so the same arguments write the
 * same records with the same ids. With --json-out every generated record is
 * also written as one JSON object per line, with the same keys as
 * `hc-analyze export --format jsonl` (request_body/response_body with
 * --with-bodies), so tests compute expected numbers independently. The JSON is
 * produced here by its own small writer, not the analyzer's, for that reason.
 *
 * The mix: OpenAI, Anthropic, Google, Groq, Mistral, DeepSeek and Ollama
 * models (Ollama and one fine-tune unpriced), users with a skewed
 * distribution, sessions with nested Helicone-Session-Paths, custom
 * properties, streams, cache hits (with savings), retries after 429s,
 * fallbacks, provider errors, connection failures, budget blocks, rate-limit
 * headers, Helicone-Request-Ids and omitted bodies.
 *   --start TIME  first record's time: 2026-10-01, Unix seconds, or "7d"
 *                 (= now minus 7 days; not deterministic) (default 2026-10-01)
 *   --span D      records spread evenly over D (default 30d)
 *   --hostile     prompts, responses, a property, a user and a session path
 *                 carry terminal escape sequences and CSV metacharacters
 *   --bad N       also write N undecodable records (not in --json-out)
 *   --schema V    finally set the store's meta "schema" to V (e.g. newer)
 *   --shard K/N   generate the same sequence but write only records i with
 *                 i % N == K (shards of one run, for merge tests)
 *
 * Writes go through hc_store_put_items() in batches of 5,000 per transaction.
 */
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "record.h"
#include "store.h"
#include "uuid.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 5000

#include "genrand.h"

struct model {
    const char *provider, *host, *api, *path, *req, *resp;
    int64_t in, out, cached; /* USD per 1M tokens, in thousandths ($2.50 = 2500); < 0: unpriced */
    int weight;
    int reasoning;        /* produces reasoning tokens */
    const char *fallback; /* model answering when the fallback is used */
};

static const struct model models[] = {
    { "openai", "api.openai.com", "chat", "/v1/chat/completions", "gpt-4o", "gpt-4o-2024-08-06",
      2500, 10000, 1250, 22, 0, "gpt-4o-mini" },
    { "openai", "api.openai.com", "chat", "/v1/chat/completions", "gpt-4o-mini",
      "gpt-4o-mini-2024-07-18", 150, 600, 75, 30, 0, "gpt-4o" },
    { "openai", "api.openai.com", "chat", "/v1/chat/completions", "o3-mini", "o3-mini-2025-01-31",
      1100, 4400, 550, 6, 1, "gpt-4o" },
    { "anthropic", "api.anthropic.com", "messages", "/v1/messages", "claude-3-5-sonnet-20241022",
      "claude-3-5-sonnet-20241022", 3000, 15000, 300, 14, 0, "claude-3-5-haiku-20241022" },
    { "anthropic", "api.anthropic.com", "messages", "/v1/messages", "claude-3-5-haiku-20241022",
      "claude-3-5-haiku-20241022", 800, 4000, 80, 8, 0, "claude-3-5-sonnet-20241022" },
    { "google", "generativelanguage.googleapis.com", "gemini",
      "/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse", "gemini-1.5-flash",
      "gemini-1.5-flash-002", 75, 300, 19, 7, 0, "gemini-1.5-pro" },
    { "groq", "api.groq.com", "chat", "/openai/v1/chat/completions", "llama-3.1-70b-versatile",
      "llama-3.1-70b-versatile", 590, 790, -1, 4, 0, "llama-3.1-8b-instant" },
    { "mistral", "api.mistral.ai", "chat", "/v1/chat/completions", "mistral-large-latest",
      "mistral-large-2411", 2000, 6000, -1, 3, 0, "mistral-small-latest" },
    { "deepseek", "api.deepseek.com", "chat", "/chat/completions", "deepseek-chat", "deepseek-chat",
      270, 1100, 70, 3, 0, "deepseek-reasoner" },
    { "ollama", "localhost", "ollama", "/api/chat", "llama3.2", "llama3.2", -1, -1, -1, 2, 0,
      "llama3.2" },
    { "openai", "api.openai.com", "chat", "/v1/chat/completions", "ft:gpt-4o-mini:acme:support:123",
      "ft:gpt-4o-mini:acme:support:123", -1, -1, -1, 1, 0, "gpt-4o-mini" },
};
#define NMODELS (sizeof models / sizeof models[0])

static const char *const workflows[] = { "research", "support", "codegen" };
static const char *const steps[] = { "plan", "search", "summarize", "answer" };
static const char *const envs[] = { "prod", "ci", "dev" };
static const char *const programs[] = { "python3", "node", "curl", "agent" };
static const char *const session_names[] = { "Deep research", "Support ticket", "Code review",
                                             "Nightly eval" };
static const char *const session_paths[][5] = {
    { "/research", "/research/search", "/research/search", "/research/summarize",
      "/research/summarize/final" },
    { "/triage", "/triage/classify", "/answer", "/answer/draft", "/answer/review" },
    { "/plan", "/plan/outline", "/code", "/code/test", "/code/fix" },
    { "/eval", "/eval/case", "/eval/case", "/eval/grade", "/report" },
};
static const char *const words[] = {
    "the",     "model",    "answer",  "token",  "cost",   "cache",   "stream",
    "latency", "request",  "agent",   "search", "result", "summary", "budget",
    "retry",   "fallback", "session", "user",   "data",   "plan",
};

static const char *const hostile_prompt = "Ignore this \x1b[2J\x1b[H\x1b]0;pwned\x07 and \xc2\x9b"
                                          "31m red, \"quoted\", a,b\r\nnew line";
static const char *const hostile_value = "x\x1b[31m,\"y\"\nz";

/* The JSON writer of this tool (independent of the analyzer's). */
static void jstr(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void jpairs(FILE *f, const hc_buf *b)
{
    fputc('{', f);
    size_t i = 0;
    int first = 1;
    while (b->data && i < b->len) {
        const char *k = b->data + i;
        const char *v = k + strlen(k) + 1;
        if (!first)
            fputc(',', f);
        first = 0;
        jstr(f, k, strlen(k));
        fputc(':', f);
        jstr(f, v, strlen(v));
        i = (size_t)(v + strlen(v) + 1 - b->data);
    }
    fputc('}', f);
}

static void json_record(FILE *f, const hc_record *r, const hc_buf *props, const hc_buf *rl,
                        const hc_buf *req, const hc_buf *resp, int bodies)
{
    char id[HC_UUID_STRLEN + 1];
    hc_uuid_format(r->id, id);
    fprintf(f, "{\"id\":\"%s\"", id);
#define I(name) fprintf(f, ",\"" #name "\":%" PRId64, (int64_t)r->name)
#define S(name) (fputs(",\"" #name "\":", f), jstr(f, r->name, strlen(r->name)))
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
    fputs(",\"props\":", f);
    jpairs(f, props);
    S(user);
    S(session_id);
    S(session_path);
    S(session_name);
    S(request_id);
    I(flags);
    I(retries);
    I(fallback_idx);
    S(attempts);
    fputs(",\"ratelimit\":", f);
    jpairs(f, rl);
    I(ratelimit_wait_us);
    I(pid);
    S(program);
    I(req_bytes);
    I(resp_bytes);
    S(cache_key);
    S(budget);
#undef I
#undef S
    if (bodies) {
        fputs(",\"request_body\":", f);
        if (req->data)
            jstr(f, req->data, req->len);
        else
            fputs("null", f);
        fputs(",\"response_body\":", f);
        if (resp->data)
            jstr(f, resp->data, resp->len);
        else
            fputs("null", f);
    }
    fputs("}\n", f);
}

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

static void words_text(hc_buf *b, int n)
{
    for (int i = 0; i < n; i++)
        hc_buf_printf(b, "%s%s", i ? " " : "", words[below(sizeof words / sizeof words[0])]);
}

/* Split text into chunks of a few words for a stream. */
static void stream_body(hc_buf *out, const struct model *m, const char *text, const hc_record *r)
{
    const char *p = text;
    if (strcmp(m->provider, "anthropic") == 0)
        hc_buf_printf(
            out,
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"%s\","
            "\"usage\":{\"input_tokens\":%" PRId64 "}}}\n\n"
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
            "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            r->model_resp, r->tok_in);
    while (*p) {
        size_t n = 0;
        int w = (int)range(1, 4);
        while (p[n] && w) {
            if (p[n] == ' ')
                w--;
            if (w)
                n++;
        }
        if (p[n] == ' ')
            n++;
        hc_buf piece = HC_BUF_INIT;
        /* JSON-escape the piece (text may be hostile). */
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == '"' || c == '\\')
                hc_buf_printf(&piece, "\\%c", c);
            else if (c < 0x20 || c == 0x7f)
                hc_buf_printf(&piece, "\\u%04x", c);
            else
                hc_buf_append(&piece, &p[i], 1);
        }
        const char *pc = piece.data ? piece.data : "";
        if (strcmp(m->provider, "anthropic") == 0)
            hc_buf_printf(
                out,
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                "\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n",
                pc);
        else if (strcmp(m->provider, "google") == 0)
            hc_buf_printf(out,
                          "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"%s\"}],"
                          "\"role\":\"model\"}}]}\r\n\r\n",
                          pc);
        else if (strcmp(m->provider, "ollama") == 0)
            hc_buf_printf(
                out,
                "{\"model\":\"%s\",\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},"
                "\"done\":false}\n",
                r->model_resp, pc);
        else
            hc_buf_printf(
                out,
                "data: "
                "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"%s\","
                "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}\n\n",
                r->model_resp, pc);
        if (hc_buf_error(&piece))
            hc_buf_append_buf(out, &piece); /* marks out failed: checked by the caller */
        hc_buf_free(&piece);
        p += n;
    }
    if (strcmp(m->provider, "anthropic") == 0)
        hc_buf_printf(out,
                      "event: message_delta\ndata: "
                      "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":%" PRId64
                      "}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
                      r->tok_out);
    else if (strcmp(m->provider, "ollama") == 0)
        hc_buf_printf(out,
                      "{\"model\":\"%s\",\"done\":true,\"prompt_eval_count\":%" PRId64
                      ",\"eval_count\":%" PRId64 "}\n",
                      r->model_resp, r->tok_in, r->tok_out);
    else if (strcmp(m->provider, "google") != 0)
        hc_buf_printf(out,
                      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%" PRId64
                      ",\"completion_tokens\":%" PRId64 "}}\n\ndata: [DONE]\n\n",
                      r->tok_in, r->tok_out);
}

static void json_escape_into(hc_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            hc_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            hc_buf_printf(b, "\\u%04x", c);
        else
            hc_buf_append(b, s, 1);
    }
}

static void bodies_for(const struct model *m, const hc_record *r, int hostile, hc_buf *req,
                       hc_buf *resp)
{
    hc_buf prompt = HC_BUF_INIT, answer = HC_BUF_INIT, ep = HC_BUF_INIT, ea = HC_BUF_INIT;
    if (hostile)
        hc_buf_puts(&prompt, hostile_prompt);
    else
        words_text(&prompt, (int)range(5, 30));
    if (hostile && chance(500))
        hc_buf_printf(&answer, "Sure \x1b[31mred\x1b[0m, %s", "done");
    else
        words_text(&answer, (int)range(3, 40));
    json_escape_into(&ep, prompt.data);
    json_escape_into(&ea, answer.data);
    int stream = r->flags & HC_REC_STREAM;
    if (!(r->flags & HC_REC_REQ_OMITTED)) {
        if (strcmp(m->provider, "google") == 0)
            hc_buf_printf(req, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"%s\"}]}]}",
                          ep.data);
        else
            hc_buf_printf(
                req, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]%s}",
                r->model_req, ep.data, stream ? ",\"stream\":true" : "");
    }
    if (r->status == 0) {
        /* no response at all */
    } else if (r->status >= 400) {
        hc_buf_printf(resp, "{\"error\":{\"message\":\"%s\",\"type\":\"%s\"}}",
                      r->status == 429 ? "Rate limit reached" : "The server had an error",
                      r->status == 429 ? "rate_limit_error" : "server_error");
    } else if (stream) {
        stream_body(resp, m, answer.data, r);
    } else if (strcmp(m->provider, "anthropic") == 0) {
        hc_buf_printf(
            resp,
            "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"%s\","
            "\"content\":[{\"type\":\"text\",\"text\":\"%s\"}],\"usage\":{\"input_tokens\":%" PRId64
            ",\"output_tokens\":%" PRId64 "}}",
            r->model_resp, ea.data, r->tok_in, r->tok_out);
    } else if (strcmp(m->provider, "google") == 0) {
        hc_buf_printf(
            resp,
            "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"%s\"}],\"role\":\"model\"}}],"
            "\"usageMetadata\":{\"promptTokenCount\":%" PRId64 ",\"candidatesTokenCount\":%" PRId64
            "}}",
            ea.data, r->tok_in, r->tok_out);
    } else if (strcmp(m->provider, "ollama") == 0) {
        hc_buf_printf(resp,
                      "{\"model\":\"%s\",\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},"
                      "\"done\":true}",
                      r->model_resp, ea.data);
    } else {
        hc_buf_printf(
            resp,
            "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"%s\",\"choices\":"
            "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},\"finish_"
            "reason\":"
            "\"stop\"}],\"usage\":{\"prompt_tokens\":%" PRId64 ",\"completion_tokens\":%" PRId64
            "}}",
            r->model_resp, ea.data, r->tok_in, r->tok_out);
    }
    const hc_buf *parts[] = { &prompt, &answer, &ep, &ea };
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
        if (hc_buf_error(parts[k]))
            hc_buf_append_buf(req, parts[k]); /* marks req failed: checked by the caller */
    hc_buf_free(&prompt);
    hc_buf_free(&answer);
    hc_buf_free(&ep);
    hc_buf_free(&ea);
}

struct session {
    char id[48];
    int tmpl;
    int left;
    int32_t pid;
};

struct gen {
    uint64_t count, seed, bad;
    int64_t start_us, span_us;
    int bodies, hostile;
    long schema;
    uint64_t shard_k, shard_n;
    const char *db, *json_out;
};

/* Fill r (strings pointing at static data or at the given buffers). */
static void gen_one(uint64_t i, const struct gen *g, struct session *sess, hc_record *r,
                    hc_buf *props, hc_buf *rl, hc_buf *strs, const struct model **mout,
                    int *hostile_out)
{
    hc_record_init(r);
    hc_buf_reset(props);
    hc_buf_reset(rl);
    hc_buf_reset(strs);
    int64_t slot = g->span_us / (int64_t)(g->count ? g->count : 1);
    r->start_us = g->start_us + (int64_t)((__int128)g->span_us * (int64_t)i / (int64_t)g->count) +
                  (slot > 1 ? (int64_t)below((uint64_t)slot) : 0);
    make_id(r->id, r->start_us);

    int total = 0;
    for (size_t k = 0; k < NMODELS; k++)
        total += models[k].weight;
    int pick = (int)below((uint64_t)total);
    size_t mi = 0;
    while (pick >= models[mi].weight)
        pick -= models[mi++].weight;
    const struct model *m = &models[mi];
    *mout = m;
    int hostile = g->hostile && chance(100);
    *hostile_out = hostile;

    r->host = m->host;
    r->provider = m->provider;
    r->api = m->api;
    r->method = "POST";
    r->path = m->path;
    r->upstream = strcmp(m->provider, "ollama") == 0 ? "http://127.0.0.1:11434" : "";
    r->model_req = m->req;
    r->model_resp = m->resp;
    r->program = programs[below(4)];
    r->pid = (int32_t)range(1000, 1200);

    /* Users: skewed (the minimum of two draws favours low numbers). */
    const size_t NONE = (size_t)-1;
    size_t off_user = NONE, off_sid = NONE, off_rid = NONE, off_ck = NONE, off_path = NONE;
    int has_user = chance(850);
    if (has_user) {
        uint64_t a = below(25), b = below(25);
        off_user = strs->len;
        if (hostile && chance(300))
            hc_buf_printf(strs, "mallory\x1b[1m%c", 0);
        else
            hc_buf_printf(strs, "user-%02" PRIu64 "%c", a < b ? a : b, 0);
    }
    /* Sessions: runs of 2..10 consecutive records. */
    if (sess->left > 0 || chance(80)) {
        if (sess->left <= 0) {
            snprintf(sess->id, sizeof sess->id, "sess-%" PRIu64 "-%" PRIu64, g->seed, i);
            sess->tmpl = (int)below(4);
            sess->left = (int)range(2, 10);
            sess->pid = (int32_t)range(2000, 3000);
        }
        sess->left--;
        r->pid = sess->pid;
        off_sid = strs->len;
        hc_buf_printf(strs, "%s%c", sess->id, 0);
        off_path = strs->len;
        if (hostile && chance(300))
            hc_buf_printf(strs, "/evil\x1b[2J/step%c", 0);
        else
            hc_buf_printf(strs, "%s%c", session_paths[sess->tmpl][below(5)], 0);
        r->session_name = session_names[sess->tmpl];
    }
    if (chance(100)) {
        off_rid = strs->len;
        hc_buf_printf(strs, "req-%016" PRIx64 "%c", rnd(), 0);
    }
    if (chance(700))
        hc_pairs_add(props, "Workflow", workflows[below(3)]);
    if (chance(500))
        hc_pairs_add(props, "Step", steps[below(4)]);
    if (chance(300))
        hc_pairs_add(props, "Env", envs[below(3)]);
    if (hostile && chance(500))
        hc_pairs_add(props, "Note", hostile_value);

    /* Outcome. */
    int roll = (int)below(1000);
    int stream = chance(450);
    int64_t tok_in = range(20, 400) * range(1, 20), tok_out = range(5, 120) * range(1, 10);
    int priced = m->in >= 0;
    r->status = 200;
    int cache_hit = 0, no_usage = 0;
    if (roll < 60) {
        cache_hit = 1;
    } else if (roll < 80) { /* 429 after retries */
        r->status = 429;
        r->retries = (int32_t)range(1, 3);
        r->flags |= HC_REC_RATE_LIMITED;
        r->attempts = r->retries == 1   ? "429:0,429:500"
                      : r->retries == 2 ? "429:0,429:500,429:1200"
                                        : "429:0,429:500,429:1200,429:2400";
        r->ratelimit_wait_us = 500000LL * r->retries;
        no_usage = 1;
    } else if (roll < 130) { /* succeeded after a retry */
        r->retries = (int32_t)range(1, 2);
        r->flags |= HC_REC_RATE_LIMITED;
        r->attempts = r->retries == 1 ? "429:0,200:612" : "429:0,503:400,200:1350";
        r->ratelimit_wait_us = r->retries == 1 ? 612000 : 1750000;
    } else if (roll < 150) { /* answered by the fallback */
        r->fallback_idx = 0;
        r->model_resp = m->fallback;
        r->attempts = "503:0,200:0";
    } else if (roll < 170) {
        r->status = chance(500) ? 500 : 503;
        no_usage = 1;
    } else if (roll < 180) {
        r->status = 400;
        no_usage = 1;
    } else if (roll < 190) {
        r->status = 0;
        r->error = hostile ? "upstream said \x1b[31mno\x1b[0m"
                           : (chance(500) ? "connection refused" : "upstream TLS handshake failed");
        no_usage = 1;
    } else if (roll < 195) {
        r->status = 429;
        r->flags |= HC_REC_BLOCKED;
        r->budget = "50/day";
        no_usage = 1;
    }
    if (stream && r->status == 200)
        r->flags |= HC_REC_STREAM;
    if (no_usage) {
        tok_in = tok_out = 0;
        r->cost_flags = HC_COST_NO_USAGE;
        r->model_resp = "";
    } else {
        r->tok_in = tok_in;
        r->tok_out = tok_out;
        if (m->cached >= 0 && chance(300))
            r->tok_cached = tok_in * range(20, 90) / 100;
        if (strcmp(m->provider, "anthropic") == 0 && chance(100)) {
            r->tok_cw5m = tok_in / 4;
            if (chance(300))
                r->tok_cw1h = tok_in / 8;
        }
        if (m->reasoning)
            r->tok_reasoning = tok_out * range(30, 80) / 100;
        if (priced) {
            /* Prices are USD per 1M tokens in thousandths, so tokens x price is nano-USD. */
            int64_t cost = (r->tok_in - r->tok_cached) * m->in + r->tok_cached * m->cached +
                           r->tok_out * m->out + (r->tok_cw5m + r->tok_cw1h) * m->in * 5 / 4;
            r->cost_flags = HC_COST_PRICED;
            if (chance(30))
                r->cost_flags |= HC_COST_ESTIMATED;
            if (cache_hit) {
                r->saved_nusd = cost;
                r->cost_nusd = 0;
            } else {
                r->cost_nusd = cost;
            }
        } else {
            r->cost_flags = HC_COST_UNPRICED;
        }
    }
    if (cache_hit) {
        r->flags |= HC_REC_CACHE_HIT;
        off_ck = strs->len;
        for (int k = 0; k < 4; k++)
            hc_buf_printf(strs, "%016" PRIx64, rnd());
        hc_buf_append(strs, "", 1);
    } else if (r->status == 200 && chance(200)) {
        r->flags |= HC_REC_CACHE_STORED;
        off_ck = strs->len;
        for (int k = 0; k < 4; k++)
            hc_buf_printf(strs, "%016" PRIx64, rnd());
        hc_buf_append(strs, "", 1);
    }
    /* Timing. */
    if (cache_hit) {
        r->ttft_us = range(300, 3000);
        r->latency_us = r->ttft_us + range(100, 2000);
    } else if (r->status == 0) {
        r->ttft_us = -1;
        r->latency_us = range(1000, 30000000);
    } else if (r->flags & HC_REC_BLOCKED) {
        r->ttft_us = range(50, 500);
        r->latency_us = r->ttft_us + range(10, 200);
    } else {
        r->ttft_us = range(80000, 1500000);
        r->latency_us = r->ttft_us + (stream ? tok_out * range(5000, 20000) : range(1000, 50000));
        r->latency_us += r->ratelimit_wait_us;
    }
    /* Rate-limit headers. */
    if (!cache_hit && r->status != 0 && !(r->flags & HC_REC_BLOCKED)) {
        char tmp[32];
        if (strcmp(m->provider, "anthropic") == 0) {
            hc_pairs_add(rl, "anthropic-ratelimit-requests-limit", "4000");
            snprintf(tmp, sizeof tmp, "%" PRId64, range(0, 3999));
            hc_pairs_add(rl, "anthropic-ratelimit-requests-remaining", tmp);
        } else if (strcmp(m->provider, "ollama") != 0) {
            hc_pairs_add(rl, "x-ratelimit-limit-requests", "10000");
            snprintf(tmp, sizeof tmp, "%" PRId64, range(0, 9999));
            hc_pairs_add(rl, "x-ratelimit-remaining-requests", tmp);
            hc_pairs_add(rl, "x-ratelimit-reset-requests", "6ms");
        }
        if (r->status == 429)
            hc_pairs_add(rl, "retry-after", "2");
    }
    if (chance(20))
        r->flags |= HC_REC_REQ_OMITTED;
    /* Strings now that strs no longer moves. */
    const char *base = strs->data;
    if (off_user != NONE)
        r->user = base + off_user;
    if (off_sid != NONE) {
        r->session_id = base + off_sid;
        r->session_path = base + off_path;
    }
    if (off_rid != NONE)
        r->request_id = base + off_rid;
    if (off_ck != NONE)
        r->cache_key = base + off_ck;
    r->props.p = props->data ? props->data : "";
    r->props.len = (uint32_t)props->len;
    r->ratelimit.p = rl->data ? rl->data : "";
    r->ratelimit.len = (uint32_t)rl->len;
}

static int parse_time_arg(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n && isalpha((unsigned char)s[n - 1]) && s[n - 1] != 'Z') {
        int64_t d;
        if (hc_parse_duration_us(s, &d))
            return -1;
        *out = hc_now_us() - d;
        return 0;
    }
    return hc_parse_time_utc(s, out);
}

static int usage(FILE *f, int rc)
{
    fputs("usage: hc_gen --db DIR --count N [--seed S] [--start TIME] [--span 30d]\n"
          "              [--with-bodies] [--json-out FILE] [--hostile] [--bad N] [--schema V]\n"
          "              [--shard K/N]\n",
          f);
    return rc;
}

struct pending {
    size_t rec_off, rec_len, req_off, req_len, resp_off, resp_len;
    int has_req, has_resp;
    uint8_t id[HC_UUID_LEN];
};

static int flush(hc_store *s, hc_buf *arena, struct pending *pend, size_t n, hc_store_item *items)
{
    for (size_t k = 0; k < n; k++) {
        memcpy(items[k].id, pend[k].id, HC_UUID_LEN);
        items[k].rec = arena->data + pend[k].rec_off;
        items[k].rec_len = pend[k].rec_len;
        items[k].req_body = pend[k].has_req ? arena->data + pend[k].req_off : NULL;
        items[k].req_len = pend[k].req_len;
        items[k].resp_body = pend[k].has_resp ? arena->data + pend[k].resp_off : NULL;
        items[k].resp_len = pend[k].resp_len;
    }
    int err = 0;
    if (n && hc_store_put_items(s, items, n, &err) != n) {
        fprintf(stderr, "hc_gen: writing %zu records failed: %s\n", n, hc_strerror(err));
        return 1;
    }
    hc_buf_reset(arena);
    return 0;
}

int main(int argc, char **argv)
{
    struct gen g = { .seed = 1, .span_us = 30LL * 86400 * 1000000, .schema = -1, .shard_n = 1 };
    hc_parse_time_utc("2026-10-01", &g.start_us);
    uint64_t count = 0;
    int have_count = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return usage(stdout, 0);
        if (strcmp(a, "--with-bodies") == 0) {
            g.bodies = 1;
            continue;
        }
        if (strcmp(a, "--hostile") == 0) {
            g.hostile = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "hc_gen: %s: missing value\n", a);
            return 2;
        }
        i++;
        char *end;
        if (strcmp(a, "--db") == 0)
            g.db = v;
        else if (strcmp(a, "--json-out") == 0)
            g.json_out = v;
        else if (strcmp(a, "--count") == 0) {
            count = strtoull(v, &end, 10);
            if (*end || !*v) {
                fprintf(stderr, "hc_gen: --count: expected a number, got '%s'\n", v);
                return 2;
            }
            have_count = 1;
        } else if (strcmp(a, "--seed") == 0) {
            g.seed = strtoull(v, &end, 10);
            if (*end || !*v) {
                fprintf(stderr, "hc_gen: --seed: expected a number, got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--bad") == 0) {
            g.bad = strtoull(v, &end, 10);
            if (*end || !*v) {
                fprintf(stderr, "hc_gen: --bad: expected a number, got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--schema") == 0) {
            g.schema = strtol(v, &end, 10);
            if (*end || !*v || g.schema < 0) {
                fprintf(stderr, "hc_gen: --schema: expected a number, got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--shard") == 0) {
            if (sscanf(v, "%" SCNu64 "/%" SCNu64, &g.shard_k, &g.shard_n) != 2 || g.shard_n == 0 ||
                g.shard_k >= g.shard_n) {
                fprintf(stderr, "hc_gen: --shard: expected K/N with K < N, got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--start") == 0) {
            if (parse_time_arg(v, &g.start_us)) {
                fprintf(stderr,
                        "hc_gen: --start: expected a time like 2026-10-01 or 7d, got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--span") == 0) {
            if (hc_parse_duration_us(v, &g.span_us) || g.span_us <= 0) {
                fprintf(stderr, "hc_gen: --span: expected a duration like 30d, got '%s'\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "hc_gen: unknown option '%s'\n", a);
            return usage(stderr, 2);
        }
    }
    if (!g.db || !have_count)
        return usage(stderr, 2);
    g.count = count;

    seed_rng(g.seed);

    char err[512];
    hc_store *s;
    if (hc_store_open(g.db, 0, &s, err, sizeof err)) {
        fprintf(stderr, "hc_gen: %s\n", err);
        return 2;
    }
    FILE *jf = NULL;
    if (g.json_out && !(jf = fopen(g.json_out, "w"))) {
        perror(g.json_out);
        hc_store_close(s);
        return 2;
    }
    int rc = 0;
    hc_buf arena = HC_BUF_INIT, props = HC_BUF_INIT, rl = HC_BUF_INIT, strs = HC_BUF_INIT;
    hc_buf req = HC_BUF_INIT, resp = HC_BUF_INIT, enc = HC_BUF_INIT;
    struct pending *pend = calloc(BATCH, sizeof *pend);
    hc_store_item *items = calloc(BATCH, sizeof *items);
    struct session sess = { .left = 0 };
    size_t np = 0;
    if (!pend || !items) {
        rc = 2;
        goto done;
    }
    for (uint64_t i = 0; i < g.count; i++) {
        hc_record r;
        const struct model *m;
        int hostile;
        memset(&r, 0, sizeof r);
        gen_one(i, &g, &sess, &r, &props, &rl, &strs, &m, &hostile);
        hc_buf_reset(&req);
        hc_buf_reset(&resp);
        if (g.bodies) {
            bodies_for(m, &r, hostile, &req, &resp);
            r.req_bytes = (int64_t)req.len;
            r.resp_bytes = (int64_t)resp.len;
        } else {
            r.req_bytes = range(100, 20000);
            r.resp_bytes = r.status ? range(50, 40000) : 0;
        }
        if (hc_buf_error(&props) || hc_buf_error(&rl) || hc_buf_error(&strs) ||
            hc_buf_error(&req) || hc_buf_error(&resp)) {
            fprintf(stderr, "hc_gen: out of memory building record %llu\n", (unsigned long long)i);
            rc = 2;
            goto done;
        }
        if (i % g.shard_n != g.shard_k)
            continue;
        struct pending *pd = &pend[np++];
        memcpy(pd->id, r.id, HC_UUID_LEN);
        pd->rec_off = arena.len;
        if (hc_record_encode(&r, &arena)) {
            rc = 2;
            goto done;
        }
        pd->rec_len = arena.len - pd->rec_off;
        pd->has_req = pd->has_resp = 0;
        if (g.bodies && req.len) {
            pd->req_off = arena.len;
            hc_body_encode(req.data, req.len, false, &arena);
            pd->req_len = arena.len - pd->req_off;
            pd->has_req = 1;
        }
        if (g.bodies && resp.len) {
            pd->resp_off = arena.len;
            hc_body_encode(resp.data, resp.len, false, &arena);
            pd->resp_len = arena.len - pd->resp_off;
            pd->has_resp = 1;
        }
        if (jf)
            json_record(jf, &r, &props, &rl, req.len ? &req : &(hc_buf)HC_BUF_INIT,
                        resp.len ? &resp : &(hc_buf)HC_BUF_INIT, g.bodies);
        if (np == BATCH) {
            if (flush(s, &arena, pend, np, items)) {
                rc = 1;
                goto done;
            }
            np = 0;
        }
    }
    if (flush(s, &arena, pend, np, items)) {
        rc = 1;
        goto done;
    }
    np = 0;
    /* Undecodable records: a newer format byte, and truncated varints. */
    for (uint64_t i = 0; i < g.bad; i++) {
        static const uint8_t newer[] = { HC_RECORD_FORMAT + 1, 0x08, 0x02 };
        static const uint8_t broken[] = { HC_RECORD_FORMAT, 0x22, 0x7f, 'x' };
        int64_t t = g.start_us + (int64_t)below((uint64_t)g.span_us);
        make_id(items[0].id, t);
        items[0].rec = (i % 2) ? (const void *)broken : (const void *)newer;
        items[0].rec_len = (i % 2) ? sizeof broken : sizeof newer;
        items[0].req_body = items[0].resp_body = NULL;
        int e;
        if (hc_store_put_items(s, items, 1, &e) != 1) {
            fprintf(stderr, "hc_gen: writing a bad record failed: %s\n", hc_strerror(e));
            rc = 1;
            goto done;
        }
    }
    if (g.schema >= 0) {
        MDB_txn *txn;
        uint32_t v = (uint32_t)g.schema;
        MDB_val k = { 6, "schema" }, val = { 4, &v };
        if (hc_store_txn_begin(s, true, &txn) ||
            (mdb_put(txn, hc_store_dbi(s, HC_T_META), &k, &val, 0) ? (hc_store_txn_abort(s, txn), 1)
                                                                   : hc_store_txn_commit(s, txn))) {
            fprintf(stderr, "hc_gen: setting the schema failed\n");
            rc = 1;
        }
    }
done:
    if (jf && fclose(jf) != 0) {
        perror(g.json_out);
        rc = 1;
    }
    hc_store_close(s);
    free(pend);
    free(items);
    hc_buf_free(&arena);
    hc_buf_free(&props);
    hc_buf_free(&rl);
    hc_buf_free(&strs);
    hc_buf_free(&req);
    hc_buf_free(&resp);
    hc_buf_free(&enc);
    return rc;
}
