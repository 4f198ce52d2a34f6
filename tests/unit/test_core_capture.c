/* test_core_capture.c — core/capture.c through its API: what a record holds
 * after a request head and body, a response head and body, and the
 * gateway's own events (attempts, retries, flags, route, a stored answer);
 * and core/gwerror.c's answers, handed to the capture as values. */
#include "capture.h"
#include "core.h"
#include "err.h"
#include "gwerror.h"
#include "io.h"
#include "recorder.h"
#include "shim/core_api.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The last record finished, decoded from its wire form (core->on_record). */
static hc_buf last_wire;
static hc_record last;
static int nrecords;

static void on_record(const hc_record *r)
{
    hc_buf_reset(&last_wire);
    if (hc_record_encode(r, &last_wire) != 0 ||
        hc_record_decode(last_wire.data, last_wire.len, &last) != 0)
        memset(&last, 0, sizeof last);
    memcpy(last.id, r->id, HC_UUID_LEN);
    nrecords++;
}

static hc_core core;
static hc_opts opts;

/* The hooks, as the recorder thread needs them (it never opens a store here). */
static void fake_guard_thread(void)
{
}
static size_t fake_current_test(char *out, size_t size)
{
    if (size)
        out[0] = '\0';
    return 0;
}
static const hc_shim_api shim = {
    .version = HC_CORE_API_VERSION,
    .guard_thread = fake_guard_thread,
    .current_test = fake_current_test,
};

static void setup(void)
{
    char dir[] = "/tmp/hc-test-capture-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    setenv("HC_DB", dir, 1); /* never the default store; and it is never opened (store_state -1) */
    hc_config_load(&core.cfg);
    core.cfg.record = true;
    pthread_mutex_init(&core.store_lock, NULL);
    core.store_state = -1;
    core.on_record = on_record;
    core.rec = hc_recorder_new(&core);
    core.pid = getpid();
    core.shim = &shim;
    rmdir(dir);
}

/* Parse a request head literal into h (kept in *keep). */
static void request(hc_http_head *h, hc_buf *keep, const char *text)
{
    hc_buf_reset(keep);
    hc_buf_puts(keep, text);
    if (hc_http_parse_request(keep->data, keep->len, h) <= 0)
        abort();
}

static void begin(hc_capture *c, const char *host, const char *head, hc_buf *keep)
{
    hc_http_head h;
    request(&h, keep, head);
    hc_capture_begin(c, &core, host, &h, 1700000000000000LL, 1);
    hc_capture_set_opts(c, &opts);
}

static const hc_header json_ct[] = { { "Content-Type", 12, "application/json", 16 } };

static const char chat_req[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char chat_resp[] =
    "{\"id\":\"c1\",\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15}}";

static void test_plain_exchange(void)
{
    hc_capture c;
    hc_buf keep = HC_BUF_INIT;
    begin(&c, "api.openai.com",
          "POST /v1/chat/completions?key=SECRET HTTP/1.1\r\nHost: api.openai.com\r\n\r\n", &keep);
    /* The body in two pieces, as it arrives. */
    hc_capture_request_body(&c, chat_req, 20);
    hc_capture_request_body(&c, chat_req + 20, sizeof chat_req - 1 - 20);
    hc_capture_request_done(&c);
    T_EQ_STR(c.model_req, "gpt-4o-mini", "the requested model is parsed from the body");
    hc_capture_set_upstream(&c, "https://api.openai.com");
    hc_capture_attempt(&c, 200, 0);
    hc_header hd[] = { json_ct[0],
                       { "x-ratelimit-remaining-requests", 30, "99", 2 },
                       { "Server", 6, "x", 1 } };
    hc_capture_response(&c, 200, hd, 3);
    hc_capture_response_data(&c, chat_resp, sizeof chat_resp - 1);
    int before = nrecords;
    hc_capture_finish(&c, NULL, 0);
    T_EQ_INT(nrecords, before + 1, "finish hands one record over");
    T_EQ_INT(last.status, 200, "status");
    T_EQ_STR(last.method, "POST", "method");
    T_CHECK(last.path && !strstr(last.path, "SECRET"),
            "a credential in the URL is not recorded (%s)", last.path);
    T_EQ_STR(last.provider, "openai", "provider from the host");
    T_EQ_STR(last.model_req, "gpt-4o-mini", "model_req");
    T_EQ_STR(last.model_resp, "gpt-4o-mini-2024-07-18", "model_resp from the answer");
    T_EQ_INT(last.tok_in, 10, "input tokens");
    T_EQ_INT(last.tok_out, 5, "output tokens");
    T_CHECK(last.cost_nusd > 0 && (last.cost_flags & HC_COST_PRICED), "priced: %lld",
            (long long)last.cost_nusd);
    T_EQ_STR(last.attempts, "200:0", "one attempt");
    T_EQ_STR(hc_pairs_get(&last.ratelimit, "x-ratelimit-remaining-requests"), "99",
             "rate-limit header kept, lower-cased");
    T_CHECK(!hc_pairs_get(&last.ratelimit, "server"), "other headers are not kept");
    T_EQ_INT(last.req_bytes, (long long)(sizeof chat_req - 1), "request bytes");
    T_EQ_INT(last.resp_bytes, (long long)(sizeof chat_resp - 1), "response bytes");
    T_EQ_INT(last.retries, 0, "no retries");
    T_EQ_INT(last.fallback_idx, -1, "no fallback");
    T_CHECK(!(last.flags & HC_REC_STREAM), "not a stream");
    T_EQ_STR(last.error, "", "no error");
    hc_buf_free(&keep);
}

static void test_events_and_flags(void)
{
    hc_capture c;
    hc_buf keep = HC_BUF_INIT;
    begin(&c, "api.openai.com", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", &keep);
    hc_capture_request_body(&c, chat_req, sizeof chat_req - 1);
    hc_capture_request_done(&c);
    hc_capture_set_may_wait(&c, true);
    /* Two 429s retried, then a fallback on another provider answers. */
    hc_header h429[] = { { "x-ratelimit-remaining-requests", 30, "0", 1 },
                         { "retry-after", 11, "1", 1 } };
    hc_capture_attempt(&c, 429, 0);
    hc_capture_add_flags(&c, HC_REC_RATE_LIMITED);
    hc_http_head fh;
    memset(&fh, 0, sizeof fh);
    fh.status = 429;
    memcpy(fh.headers, h429, sizeof h429);
    fh.nheaders = 2;
    hc_capture_attempt_headers(&c, &fh);
    hc_capture_retry(&c);
    hc_capture_attempt(&c, 429, 500);
    hc_capture_retry(&c);
    hc_capture_set_provider(&c, "groq");
    hc_capture_attempt(&c, 200, 1000);
    hc_capture_set_route(&c, 0, 1500000);
    hc_capture_add_flags(&c, HC_REC_USAGE_INJECTED);
    hc_capture_set_budget(&c, "team-a");
    hc_capture_set_cache_key(&c, "abcdef0123");
    hc_capture_response(&c, 200, json_ct, 1);
    hc_capture_response_data(&c, chat_resp, sizeof chat_resp - 1);
    hc_capture_set_error(&c, "first problem");
    hc_capture_finish(&c, NULL, HC_REC_BUDGET_WARN);
    T_EQ_INT(last.retries, 2, "retries counted");
    T_EQ_INT(last.fallback_idx, 0, "fallback index");
    T_EQ_INT(last.ratelimit_wait_us, 1500000, "backoff waited");
    T_EQ_STR(last.attempts, "429:0,429:500,200:1000", "every attempt with its wait");
    T_CHECK(last.flags & HC_REC_RATE_LIMITED, "rate-limited flag");
    T_CHECK(last.flags & HC_REC_USAGE_INJECTED, "usage-injected flag");
    T_CHECK(last.flags & HC_REC_BUDGET_WARN, "finish adds its flags");
    T_EQ_STR(hc_pairs_get(&last.ratelimit, "retry-after"), "1",
             "a retried attempt's rate-limit headers are kept");
    T_EQ_STR(last.provider, "groq", "the answering provider");
    T_EQ_STR(last.budget, "team-a", "budget");
    T_EQ_STR(last.cache_key, "abcdef0123", "cache key");
    T_EQ_STR(last.error, "first problem", "error set before finish is kept");

    begin(&c, "api.openai.com", "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", &keep);
    hc_capture_set_error(&c, "replaced");
    hc_capture_finish(&c, "the app went away", HC_REC_CLIENT_ABORT);
    T_EQ_STR(last.error, "the app went away", "finish's error wins");
    T_EQ_INT(last.status, 0, "no answer: status 0");
    T_CHECK(last.flags & HC_REC_CLIENT_ABORT, "client-abort flag");

    int before = nrecords;
    begin(&c, "api.openai.com", "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", &keep);
    hc_capture_discard(&c);
    T_EQ_INT(nrecords, before, "a discarded capture records nothing");
    hc_buf_free(&keep);
}

static void test_stream(void)
{
    static const char sse[] =
        "data: "
        "{\"id\":\"1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}"
        "\n\n"
        "data: "
        "{\"id\":\"1\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}"
        "\n\n"
        "data: "
        "{\"id\":\"1\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
        "\"completion_tokens\":2,\"total_tokens\":14}}\n\n"
        "data: [DONE]\n\n";
    hc_header ct[] = { { "content-type", 12, "text/event-stream; charset=utf-8", 32 } };
    size_t n = sizeof sse - 1;
    int bad = 0;
    for (size_t cut = 0; cut <= n; cut += 7) {
        hc_capture c;
        hc_buf keep = HC_BUF_INIT;
        begin(&c, "api.openai.com", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", &keep);
        hc_capture_request_body(&c, chat_req, sizeof chat_req - 1);
        hc_capture_request_done(&c);
        hc_capture_response(&c, 200, ct, 1);
        hc_capture_response_data(&c, sse, cut);
        hc_capture_response_data(&c, sse + cut, n - cut);
        hc_capture_finish(&c, NULL, 0);
        if (last.tok_in != 12 || last.tok_out != 2 || !(last.flags & HC_REC_STREAM) ||
            last.ttft_us < 0)
            bad++;
        hc_buf_free(&keep);
    }
    T_EQ_INT(bad, 0, "a stream split anywhere: usage 12/2, stream flag, time to first byte");
}

static void test_stored_answer(void)
{
    static const char body[] =
        "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[]}"; /* no usage */
    hc_capture c;
    hc_buf keep = HC_BUF_INIT;
    begin(&c, "api.openai.com", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", &keep);
    hc_capture_request_body(&c, chat_req, sizeof chat_req - 1);
    hc_capture_request_done(&c);
    hc_capture_set_cache_key(&c, "feed");
    hc_header hd[] = { json_ct[0], { "x-ratelimit-remaining-tokens", 28, "5", 1 } };
    hc_capture_response(&c, 200, hd, 2);
    hc_capture_drop_ratelimit(&c); /* the stored answer's headers are not today's */
    hc_capture_set_upstream(&c, "cache");
    hc_capture_attempt(&c, 200, 0);
    hc_capture_response_data(&c, body, sizeof body - 1);
    const hc_tokens tok = { .in = 7, .out = 3, .cached = 2, .reasoning = 1 };
    hc_capture_stored_answer(&c, &tok, 12345, "gpt-4o-mini-2024-07-18");
    hc_capture_finish(&c, NULL, HC_REC_CACHE_HIT);
    T_CHECK(last.flags & HC_REC_CACHE_HIT, "cache-hit flag");
    T_EQ_INT(last.cost_nusd, 0, "a hit costs nothing");
    T_EQ_INT(last.saved_nusd, 12345, "it saves what the original cost");
    T_EQ_INT(last.tok_in, 7, "the stored usage: in");
    T_EQ_INT(last.tok_out, 3, "out");
    T_EQ_INT(last.tok_cached, 2, "cached");
    T_EQ_INT(last.tok_reasoning, 1, "reasoning");
    T_CHECK(last.cost_flags & HC_COST_PRICED, "priced (the original was)");
    T_EQ_STR(last.model_resp, "gpt-4o-mini-2024-07-18",
             "the stored model when the body names none");
    T_EQ_INT(last.ratelimit.len, 0, "no rate-limit headers from the stored answer");
    T_EQ_STR(last.upstream, "cache", "upstream 'cache'");
    T_EQ_STR(last.cache_key, "feed", "cache key");

    /* A stored answer whose original was unpriced: the computed cost (0 here:
     * no usage in the body, none stored) is what is saved. */
    begin(&c, "api.openai.com", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", &keep);
    hc_capture_response(&c, 200, json_ct, 1);
    hc_capture_response_data(&c, body, sizeof body - 1);
    const hc_tokens none = { .in = 0 };
    hc_capture_stored_answer(&c, &none, 0, "m");
    hc_capture_finish(&c, NULL, HC_REC_CACHE_HIT);
    T_EQ_INT(last.saved_nusd, 0, "nothing known: nothing saved");
    T_CHECK(last.cost_flags & HC_COST_NO_USAGE, "and the record says there was no usage");
    hc_buf_free(&keep);
}

static void test_gateway_error(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    hc_io io;
    hc_io_init(&io, sv[0], NULL, 1000);
    hc_buf extra = HC_BUF_INIT;
    hc_buf_puts(&extra, "Helicone-RateLimit-Limit: 3\r\n");
    hc_gwerror e = { .status = 429,
                     .code = "rate_limited",
                     .message = "rate limit \"3;w=60\" reached",
                     .request_id = "req-1",
                     .extra = &extra,
                     .closing = true };
    hc_gwerror_sent sent;
    T_EQ_INT(hc_gwerror_send(&io, &e, &sent), 0, "the error answer is written");
    char wire[2048];
    ssize_t n = read(sv[1], wire, sizeof wire - 1);
    wire[n > 0 ? n : 0] = '\0';
    T_CHECK(strncmp(wire, "HTTP/1.1 429 Too Many Requests\r\n", 32) == 0,
            "status line from the table");
    T_CHECK(strstr(wire, "\r\nhelicone-id: req-1\r\n") &&
                strstr(wire, "\r\nHelicone-RateLimit-Limit: 3\r\n") &&
                strstr(wire, "\r\nConnection: close\r\n"),
            "helicone-id, the features' headers, close");
    const char *b = strstr(wire, "\r\n\r\n");
    T_CHECK(b && strcmp(b + 4, sent.body.data ? sent.body.data : "") == 0,
            "the body handed back is the body sent");
    T_CHECK(strstr(sent.body.data, "\"type\":\"hcshim_rate_limit\",\"code\":\"rate_limited\"") &&
                strstr(sent.body.data, "rate limit \\\"3;w=60\\\" reached"),
            "OpenAI error shape, message escaped");
    T_EQ_INT(sent.status, 429, "status handed back");
    T_EQ_INT(sent.nheaders, 1, "one header the capture reads");

    /* The capture takes it as values. */
    hc_capture c;
    hc_buf keep = HC_BUF_INIT;
    begin(&c, "api.openai.com", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", &keep);
    hc_capture_response(&c, sent.status, sent.headers, sent.nheaders);
    hc_capture_response_data(&c, sent.body.data, sent.body.len);
    hc_capture_set_error(&c, e.message);
    hc_capture_finish(&c, NULL, HC_REC_BLOCKED);
    T_EQ_INT(last.status, 429, "recorded status");
    T_EQ_INT(last.resp_bytes, (long long)sent.body.len, "recorded body bytes");
    T_CHECK(last.flags & HC_REC_BLOCKED, "blocked flag");
    T_EQ_STR(last.error, e.message, "recorded error");
    hc_buf_free(&sent.body);

    T_EQ_STR(hc_gwerror_upstream_code(HC_ETIMEDOUT), "upstream_timeout", "upstream code: timeout");
    T_EQ_STR(hc_gwerror_upstream_code(HC_ENOMEM), "out_of_memory", "upstream code: no memory");
    T_EQ_STR(hc_gwerror_type("upstream_tls"), "hcshim_upstream", "type of upstream_*");
    T_EQ_STR(hc_gwerror_type("budget_exceeded"), "hcshim_budget", "type of budget_exceeded");
    T_EQ_STR(hc_gwerror_reason(418), "Error", "unknown status: generic reason");
    close(sv[0]);
    close(sv[1]);
    hc_buf_free(&extra);
    hc_buf_free(&keep);
}

int main(void)
{
    setup();
    test_plain_exchange();
    test_events_and_flags();
    test_stream();
    test_stored_answer();
    test_gateway_error();
    hc_buf_free(&last_wire);
    return t_done();
}
