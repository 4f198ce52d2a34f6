/* test_core_translate.c — core/translate_anthropic.h (OpenAI chat ⇄ Anthropic
 * Messages) and core/unified.h (Helicone hosts: model syntax, providers, keys).
 *
 * The stream translator's property: a realistic Anthropic stream (text, a
 * tool call whose input arrives in pieces, usage with cache tokens) gives the
 * same OpenAI stream whatever the pieces its bytes arrive in — split at every
 * byte offset, and one byte at a time. Inputs are handed over in heap blocks
 * of exactly their size so ASan catches any over-read.
 */
#include "err.h"
#include "http.h"
#include "translate_anthropic.h"
#include "unified.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static char *dup_exact(const void *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    if (!d)
        abort();
    memcpy(d, p, n);
    return d;
}

/* ---- request ------------------------------------------------------------- */

static const struct {
    const char *in, *model, *want;
} req_cases[] = {
    /* system prompt out of the messages; max_tokens defaulted; user string as a text block */
    { "{\"model\":\"claude-sonnet-4\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
      "{\"role\":\"user\",\"content\":\"hi\"}]}",
      "claude-sonnet-4-0",
      "{\"model\":\"claude-sonnet-4-0\",\"system\":\"be "
      "brief\",\"messages\":[{\"role\":\"user\",\"content\":"
      "[{\"type\":\"text\",\"text\":\"hi\"}]}],\"max_tokens\":4096}" },
    /* developer + system joined; max_completion_tokens wins; stop string; stream;
     * user → metadata */
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
      "\"text\":\"a\"}]},"
      "{\"role\":\"system\",\"content\":\"b\"},{\"role\":\"user\",\"content\":\"q\"}],\"max_"
      "tokens\":5,"
      "\"max_completion_tokens\":7,\"temperature\":0.5,\"stop\":\"END\",\"stream\":true,"
      "\"stream_options\":{\"include_usage\":true},\"user\":\"u1\",\"n\":1}",
      NULL,
      "{\"model\":\"m\",\"system\":\"a\\n\\nb\",\"messages\":[{\"role\":\"user\",\"content\":[{"
      "\"type\":\"text\","
      "\"text\":\"q\"}]}],\"max_tokens\":7,\"temperature\":0.5,\"stop_sequences\":[\"END\"],"
      "\"stream\":true,"
      "\"metadata\":{\"user_id\":\"u1\"}}" },
    /* images: data URL → base64 source, https URL → url source */
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"see\"},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.test/a.jpg\"}}]}]}",
      NULL,
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"see\"},"
      "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/"
      "png\",\"data\":\"AAAA\"}},"
      "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x.test/"
      "a.jpg\"}}]}],\"max_tokens\":4096}" },
    /* a tool round trip: tools, tool_choice, assistant tool_calls, two tool results in
     * one user turn */
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":"
      "\"function\","
      "\"function\":{\"name\":\"w\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},{\"id\":"
      "\"c2\",\"type\":\"function\","
      "\"function\":{\"name\":\"w\",\"arguments\":\"\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"rain\"}]}],"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"w\",\"description\":\"weather\","
      "\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":{\"type\":\"function\",\"function\":"
      "{\"name\":\"w\"}},"
      "\"parallel_tool_calls\":false}",
      NULL,
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"weather?\"}]},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"c1\",\"name\":\"w\","
      "\"input\":{\"city\":\"Paris\"}},"
      "{\"type\":\"tool_use\",\"id\":\"c2\",\"name\":\"w\",\"input\":{}}]},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"c1\","
      "\"content\":\"sunny\"},"
      "{\"type\":\"tool_result\",\"tool_use_id\":\"c2\",\"content\":\"rain\"}]}],\"max_tokens\":"
      "4096,"
      "\"tools\":[{\"name\":\"w\",\"description\":\"weather\",\"input_schema\":{\"type\":"
      "\"object\"}}],"
      "\"tool_choice\":{\"type\":\"tool\",\"name\":\"w\",\"disable_parallel_tool_use\":true}}" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
      "\"function\","
      "\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"required\"}",
      NULL,
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"x\"}]}],"
      "\"max_tokens\":4096,\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\","
      "\"properties\":{}}}],"
      "\"tool_choice\":{\"type\":\"any\"}}" },
    /* temperature above Anthropic's 1 is sent as 1; an empty user string stays a string
     * (not content []) */
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}],\"temperature\":1.7}",
      NULL,
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}],\"max_tokens\":4096,"
      "\"temperature\":1}" },
    /* an empty user string followed by another user message: one turn, the blocks of the second */
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\"},{\"role\":\"user\","
      "\"content\":\"q\"}],"
      "\"temperature\":1}",
      NULL,
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"q\"}]}],"
      "\"max_tokens\":4096,\"temperature\":1}" },
};

static void test_request(void)
{
    for (size_t i = 0; i < sizeof req_cases / sizeof req_cases[0]; i++) {
        hc_buf out = HC_BUF_INIT;
        char err[200] = "";
        char *in = dup_exact(req_cases[i].in, strlen(req_cases[i].in));
        int rc =
            hc_xa_request(in, strlen(req_cases[i].in), req_cases[i].model, &out, err, sizeof err);
        T_EQ_INT(rc, 0, "request %zu translates", i);
        T_EQ_STR(out.data ? out.data : "", req_cases[i].want, "request %zu: Anthropic body", i);
        hc_buf_free(&out);
        free(in);
    }
    static const char *const bad[] = { "", "[]", "{\"model\":\"m\"}", "{\"messages\":{}}",
                                       "not json" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hc_buf out = HC_BUF_INIT;
        char err[200] = "";
        int rc = hc_xa_request(bad[i], strlen(bad[i]), "m", &out, err, sizeof err);
        T_CHECK(rc == HC_EINVAL && err[0] && out.len == 0,
                "not a chat request (%zu) is refused with a reason", i);
        hc_buf_free(&out);
    }
}

/* ---- whole answers ---------------------------------------------------------- */

static void test_response(void)
{
    const char *text =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Hello\"},{\"type\":\"text\",\"text\":\" "
        "you\"}],"
        "\"stop_reason\":\"max_tokens\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":"
        "20,"
        "\"cache_creation_input_tokens\":5,\"output_tokens\":3}}";
    hc_buf out = HC_BUF_INIT;
    T_EQ_INT(hc_xa_response(text, strlen(text), 200, 1700000000, &out), 0,
             "text answer translates");
    T_EQ_STR(
        out.data,
        "{\"id\":\"msg_1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
        "\"claude-x\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello you\"},"
        "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":35,\"completion_tokens\":3,"
        "\"total_tokens\":38,\"prompt_tokens_details\":{\"cached_tokens\":20}}}",
        "text answer: content joined, length, usage with cache reads and writes in prompt_tokens");
    hc_buf_free(&out);

    const char *tool =
        "{\"id\":\"msg_2\",\"model\":\"c\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\","
        "\"name\":\"w\",\"input\":{\"city\":\"Paris\"}}],\"stop_reason\":\"tool_use\","
        "\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}";
    T_EQ_INT(hc_xa_response(tool, strlen(tool), 200, 1, &out), 0, "tool answer translates");
    T_EQ_STR(
        out.data,
        "{\"id\":\"msg_2\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"c\","
        "\"choices\":"
        "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
        "\"id\":"
        "\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":\"w\",\"arguments\":"
        "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":"
        "{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3,\"prompt_tokens_details\":"
        "{\"cached_tokens\":0}}}",
        "tool answer: tool_calls with JSON arguments, finish_reason tool_calls");
    hc_buf_free(&out);

    const char *error =
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
    T_EQ_INT(hc_xa_response(error, strlen(error), 529, 1, &out), 0, "error translates");
    T_EQ_STR(out.data,
             "{\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\",\"param\":null,"
             "\"code\":null}}",
             "error: OpenAI's error shape");
    hc_buf_free(&out);
    T_EQ_INT(hc_xa_response("<html>", 6, 502, 1, &out), HC_EINVAL,
             "a body that is not JSON is left to the caller");
    T_EQ_INT(out.len, 0, "... and nothing is written");

    T_EQ_STR(hc_xa_finish_reason("end_turn"), "stop", "end_turn → stop");
    T_EQ_STR(hc_xa_finish_reason("stop_sequence"), "stop", "stop_sequence → stop");
    T_EQ_STR(hc_xa_finish_reason("refusal"), "content_filter", "refusal → content_filter");
    T_EQ_STR(hc_xa_finish_reason(NULL), "stop", "none → stop");
}

/* ---- streams --------------------------------------------------------------- */

static const char stream_in[] =
    "event: message_start\r\n"
    "data: "
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_9\",\"type\":\"message\",\"role\":"
    "\"assistant\","
    "\"model\":\"claude-sonnet-4-20250514\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_"
    "tokens\":10,"
    "\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":7,\"output_tokens\":1}}}"
    "\r\n\r\n"
    "event: content_block_start\n"
    "data: "
    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":"
    "\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: "
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
    "\"Let me \\u00e9\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: "
    "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":"
    "\"toolu_7\","
    "\"name\":\"get_weather\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: "
    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{\\\"ci\"}}\n\n"
    "event: content_block_delta\n"
    "data: "
    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"ty\\\":\\\"Paris\\\"}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\n"
    "data: "
    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
    "\"usage\":{\"output_tokens\":42}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

#define CHUNK(delta, finish) \
    "data: " \
    "{\"id\":\"msg_9\",\"object\":\"chat.completion.chunk\",\"created\":5,\"model\":\"claude-" \
    "sonnet-4-20250514\"," \
    "\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" finish "}]}\n\n"

static const char stream_want[] = CHUNK("{\"role\":\"assistant\",\"content\":\"\"}",
                                        "null") CHUNK("{\"content\":\"Let me \xc3\xa9\"}", "null")
    CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"toolu_7\",\"type\":\"function\",\"function\":{"
          "\"name\":\"get_weather\",\"arguments\":\"\"}}]}",
          "null") CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]}",
                        "null") CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
                                      "\"ty\\\":\\\"Paris\\\"}\"}}]}",
                                      "null")
        CHUNK("{}", "\"tool_calls\"") "data: "
                                      "{\"id\":\"msg_9\",\"object\":\"chat.completion.chunk\","
                                      "\"created\":5,\"model\":\"claude-sonnet-4-20250514\","
                                      "\"choices\":[],\"usage\":{\"prompt_tokens\":117,"
                                      "\"completion_tokens\":42,\"total_tokens\":159,"
                                      "\"prompt_tokens_details\":{\"cached_tokens\":100}}}\n\n"
                                      "data: [DONE]\n\n";

/* Translate stream_in fed in pieces of the given cut points. */
static void translate_split(const size_t *cuts, int ncuts, bool usage, hc_buf *out)
{
    hc_xa_stream s;
    hc_xa_stream_init(&s, usage, 5);
    size_t n = sizeof stream_in - 1, at = 0;
    for (int i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        char *piece = dup_exact(stream_in + at, end - at);
        hc_xa_stream_feed(&s, piece, end - at, out);
        free(piece);
        at = end;
    }
    hc_xa_stream_finish(&s, out);
    hc_xa_stream_free(&s);
}

static void test_stream(void)
{
    hc_buf whole = HC_BUF_INIT;
    translate_split(NULL, 0, true, &whole);
    T_EQ_STR(whole.data ? whole.data : "", stream_want,
             "stream: text, tool call, finish, usage chunk, [DONE]");

    size_t n = sizeof stream_in - 1;
    size_t bad = 0;
    for (size_t cut = 1; cut < n; cut++) {
        hc_buf out = HC_BUF_INIT;
        translate_split(&cut, 1, true, &out);
        if (!out.data || strcmp(out.data, stream_want) != 0)
            bad++;
        hc_buf_free(&out);
    }
    T_EQ_INT(bad, 0, "stream split at every one of %zu byte offsets translates the same", n - 1);

    size_t *cuts = malloc(n * sizeof *cuts);
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    hc_buf out = HC_BUF_INIT;
    translate_split(cuts, (int)(n - 1), true, &out);
    T_EQ_STR(out.data ? out.data : "", stream_want,
             "stream fed one byte at a time translates the same");
    hc_buf_free(&out);
    free(cuts);

    /* Without include_usage: no usage chunk, the rest identical. */
    translate_split(NULL, 0, false, &out);
    const char *usage_at =
        strstr(stream_want, "data: "
                            "{\"id\":\"msg_9\",\"object\":\"chat.completion.chunk\",\"created\":5,"
                            "\"model\":\"claude-sonnet-4-20250514\",\"choices\":[]");
    hc_buf want = HC_BUF_INIT;
    hc_buf_append(&want, stream_want, (size_t)(usage_at - stream_want));
    hc_buf_puts(&want, "data: [DONE]\n\n");
    T_EQ_STR(out.data ? out.data : "", want.data, "stream without include_usage: no usage chunk");
    hc_buf_free(&out);
    hc_buf_free(&want);

    /* Cut before message_stop: no [DONE] (the app must see the stream was cut). */
    hc_xa_stream s;
    hc_xa_stream_init(&s, true, 5);
    const char *stop = strstr(stream_in, "event: message_stop");
    hc_xa_stream_feed(&s, stream_in, (size_t)(stop - stream_in), &out);
    hc_xa_stream_finish(&s, &out);
    hc_xa_stream_free(&s);
    T_CHECK(out.data && !strstr(out.data, "[DONE]") &&
                strstr(out.data, "\"finish_reason\":\"tool_calls\""),
            "a stream cut before message_stop ends without [DONE]");
    hc_buf_free(&out);

    /* An error event becomes an OpenAI error object. */
    const char *err_ev = "event: error\ndata: "
                         "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                         "\"Overloaded\"}}\n\n";
    hc_xa_stream_init(&s, false, 5);
    hc_xa_stream_feed(&s, err_ev, strlen(err_ev), &out);
    hc_xa_stream_finish(&s, &out);
    hc_xa_stream_free(&s);
    T_EQ_STR(out.data ? out.data : "",
             "data: "
             "{\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\",\"param\":null,"
             "\"code\":null}}\n\n",
             "stream error event → OpenAI error");
    hc_buf_free(&out);
    hc_buf_free(&whole);
}

/* ---- unified: Helicone hosts ----------------------------------------------------- */

static int plan(const char *host, const char *reqhead, const char *body, hc_unified *plans, int *np,
                int *status, char *err, size_t errlen)
{
    hc_http_head h;
    if (hc_http_parse_request(reqhead, strlen(reqhead), &h) <= 0)
        return -100;
    return hc_unified_plan(host, &h, body, strlen(body), plans, np, status, err, errlen);
}

static void test_unified(void)
{
    T_CHECK(hc_unified_is_host("ai-gateway.helicone.ai") && hc_unified_is_host("OAI.HELICONE.AI") &&
                hc_unified_is_host("anthropic.hconeai.com") && !hc_unified_is_host("helicone.ai") &&
                !hc_unified_is_host("api.openai.com") && !hc_unified_is_host(NULL),
            "Helicone hosts recognised, others not");
    static const struct {
        const char *model, *provider;
    } by_name[] = {
        { "gpt-4o", "openai" },
        { "gpt-4o-mini", "openai" },
        { "o3-mini", "openai" },
        { "o1", "openai" },
        { "o4-mini", "openai" },
        { "claude-sonnet-4", "anthropic" },
        { "gemini-2.5-flash", "google" },
        { "grok-3", "xai" },
        { "deepseek-chat", "deepseek" },
        { "mistral-large-latest", "mistral" },
        { "llama-3.3-70b", "" },
        { "omni-x", "" },
        { "o2x", "" },
    };
    for (size_t i = 0; i < sizeof by_name / sizeof by_name[0]; i++)
        T_EQ_STR(hc_unified_provider_of(by_name[i].model), by_name[i].provider, "provider of %s",
                 by_name[i].model);
    char m[128];
    hc_unified_anthropic_model("claude-3.5-haiku", m, sizeof m);
    T_EQ_STR(m, "claude-3-5-haiku-latest", "claude-3.5-haiku → Anthropic's alias");
    hc_unified_anthropic_model("claude-sonnet-4.5", m, sizeof m);
    T_EQ_STR(m, "claude-sonnet-4-5", "claude-sonnet-4.5 → claude-sonnet-4-5");
    hc_unified_anthropic_model("claude-sonnet-4-20250514", m, sizeof m);
    T_EQ_STR(m, "claude-sonnet-4-20250514", "a dated name is kept");

    setenv("OPENAI_API_KEY", "sk-o", 1);
    setenv("ANTHROPIC_API_KEY", "sk-a", 1);
    unsetenv("GEMINI_API_KEY");
    setenv("GOOGLE_API_KEY", "g-key", 1);
    unsetenv("GROQ_API_KEY");
    setenv("HC_PROVIDER_KEYS", "groq=gk,mistral=", 1);
    hc_unified p[HC_UNIFIED_MAX];
    int np = 0, st = 0;
    char err[400];
    const char *head = "POST /chat/completions HTTP/1.1\r\nHost: "
                       "ai-gateway.helicone.ai\r\nContent-Type: application/json\r\n\r\n";
    int rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"gpt-4o\",\"messages\":[]}", p, &np,
                  &st, err, sizeof err);
    T_CHECK(rc == 0 && np == 1 && !strcmp(p[0].host, "api.openai.com") &&
                !strcmp(p[0].path, "/v1/chat/completions") &&
                !strcmp(p[0].auth_name, "Authorization") &&
                !strcmp(p[0].auth_value, "Bearer sk-o") && !p[0].anthropic,
            "gpt-4o on /chat/completions (base URL without /v1) → OpenAI with OPENAI_API_KEY");
    head = "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: "
           "ai-gateway.helicone.ai\r\nContent-Type: application/json\r\n\r\n";
    rc = plan(
        "ai-gateway.helicone.ai", head,
        "{\"model\":\"claude-sonnet-4/anthropic, gemini-2.0-flash ,llama-3.3-70b-versatile/groq\"}",
        p, &np, &st, err, sizeof err);
    T_CHECK(rc == 0 && np == 3, "a model list gives one plan per model (%d)", np);
    T_CHECK(p[0].anthropic && !strcmp(p[0].path, "/v1/messages") &&
                !strcmp(p[0].model, "claude-sonnet-4-0") && !strcmp(p[0].auth_name, "x-api-key") &&
                !strcmp(p[0].auth_value, "sk-a"),
            "claude-sonnet-4/anthropic → Messages API with x-api-key");
    T_CHECK(!strcmp(p[1].provider, "google") &&
                !strcmp(p[1].path, "/v1beta/openai/chat/completions?x=1") &&
                !strcmp(p[1].auth_value, "Bearer g-key") && !strcmp(p[1].model, "gemini-2.0-flash"),
            "gemini → Google's OpenAI-compatible API, GOOGLE_API_KEY when GEMINI_API_KEY is unset");
    T_CHECK(!strcmp(p[2].host, "api.groq.com") &&
                !strcmp(p[2].path, "/openai/v1/chat/completions?x=1") &&
                !strcmp(p[2].auth_value, "Bearer gk") &&
                !strcmp(p[2].model, "llama-3.3-70b-versatile"),
            "MODEL/groq → Groq with the key from HC_PROVIDER_KEYS");
    rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"llama-3.3-70b\"}", p, &np, &st, err,
              sizeof err);
    T_CHECK(rc != 0 && st == 400 && strstr(err, "MODEL/PROVIDER"),
            "an unknown family asks for MODEL/PROVIDER: %s", err);
    rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"mistral-large-latest\"}", p, &np, &st,
              err, sizeof err);
    T_CHECK(rc != 0 && st == 401 && strstr(err, "MISTRAL_API_KEY"),
            "no key: 401 naming the variable: %s", err);
    rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"mistral-large-latest,gpt-4o\"}", p, &np,
              &st, err, sizeof err);
    T_CHECK(rc == 0 && np == 1 && !strcmp(p[0].provider, "openai"),
            "a keyless model of a list is skipped");
    rc = plan("ai-gateway.helicone.ai", head, "{\"messages\":[]}", p, &np, &st, err, sizeof err);
    T_CHECK(rc != 0 && st == 400, "no model: 400");
    head = "POST /v1/embeddings HTTP/1.1\r\nHost: ai-gateway.helicone.ai\r\nContent-Type: "
           "application/json\r\n\r\n";
    rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"claude-sonnet-4\"}", p, &np, &st, err,
              sizeof err);
    T_CHECK(rc != 0 && st == 404, "Claude on another path than chat completions: 404");
    /* Keys from the environment are spent only on JSON POSTs to inference paths. */
    head = "GET /v1/files HTTP/1.1\r\nHost: ai-gateway.helicone.ai\r\nContent-Type: "
           "application/json\r\n\r\n";
    rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"gpt-4o\"}", p, &np, &st, err,
              sizeof err);
    T_CHECK(rc != 0 && st == 405 && np == 0, "GET /v1/files with a model: 405, no plan");
    head = "DELETE /v1/files/file-abc HTTP/1.1\r\nHost: ai-gateway.helicone.ai\r\nContent-Type: "
           "application/json\r\n\r\n";
    rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"gpt-4o\"}", p, &np, &st, err,
              sizeof err);
    T_CHECK(rc != 0 && st == 405 && np == 0, "DELETE /v1/files/ID: 405, no plan");
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: ai-gateway.helicone.ai\r\nContent-Type: "
           "text/plain\r\n\r\n";
    rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"gpt-4o\"}", p, &np, &st, err,
              sizeof err);
    T_CHECK(rc != 0 && st == 415 && np == 0, "text/plain: 415, no plan");
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: ai-gateway.helicone.ai\r\nContent-Type: "
           "application/jsonx\r\n\r\n";
    rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"gpt-4o\"}", p, &np, &st, err,
              sizeof err);
    T_CHECK(rc != 0 && st == 415, "application/jsonx is not JSON: 415");
    head = "POST /v1/files HTTP/1.1\r\nHost: ai-gateway.helicone.ai\r\nContent-Type: "
           "application/json; charset=utf-8\r\n\r\n";
    rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"gpt-4o\"}", p, &np, &st, err,
              sizeof err);
    T_CHECK(rc != 0 && st == 404 && np == 0, "POST /v1/files: 404, no plan");
    head = "POST /v1/responses HTTP/1.1\r\nHost: ai-gateway.helicone.ai\r\nContent-Type: "
           "application/json; charset=utf-8\r\n\r\n";
    rc = plan("ai-gateway.helicone.ai", head, "{\"model\":\"gpt-4o\"}", p, &np, &st, err,
              sizeof err);
    T_CHECK(rc == 0 && np == 1 && !strcmp(p[0].path, "/v1/responses"),
            "POST /v1/responses (JSON; charset): planned");

    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: oai.helicone.ai\r\n\r\n";
    rc = plan("oai.helicone.ai", head, "{}", p, &np, &st, err, sizeof err);
    T_CHECK(rc == 0 && np == 1 && !strcmp(p[0].host, "api.openai.com") &&
                !strcmp(p[0].path, "/v1/chat/completions") && !p[0].own_auth,
            "oai.helicone.ai → api.openai.com, the app's own key kept");
    head = "POST /v1/messages HTTP/1.1\r\nHost: anthropic.helicone.ai\r\n\r\n";
    rc = plan("anthropic.helicone.ai", head, "{}", p, &np, &st, err, sizeof err);
    T_CHECK(rc == 0 && !strcmp(p[0].host, "api.anthropic.com") && !p[0].anthropic,
            "anthropic.helicone.ai → api.anthropic.com untranslated");
    head = "POST /chat/completions HTTP/1.1\r\nHost: gateway.helicone.ai\r\nHelicone-Target-URL: "
           "https://api.groq.com/openai/v1/\r\n\r\n";
    rc = plan("gateway.helicone.ai", head, "{}", p, &np, &st, err, sizeof err);
    T_CHECK(rc == 0 && !strcmp(p[0].host, "api.groq.com") &&
                !strcmp(p[0].path, "/openai/v1/chat/completions") && !strcmp(p[0].provider, "groq"),
            "gateway.helicone.ai follows Helicone-Target-URL");
    head = "POST /x HTTP/1.1\r\nHost: gateway.helicone.ai\r\nHelicone-Target-URL: "
           "http://evil.test\r\n\r\n";
    rc = plan("gateway.helicone.ai", head, "{}", p, &np, &st, err, sizeof err);
    T_CHECK(rc != 0 && st == 400 && strstr(err, "https://"),
            "a Target-URL that is not https:// is refused: %s", err);
    head = "POST /x HTTP/1.1\r\nHost: gateway.helicone.ai\r\n\r\n";
    rc = plan("gateway.helicone.ai", head, "{}", p, &np, &st, err, sizeof err);
    T_CHECK(rc != 0 && st == 400 && strstr(err, "Helicone-Target-URL"),
            "no Target-URL: 400 naming the header");
}

/* A tool_use block at content index 70 (past HC_XA_MAX_BLOCKS) still becomes a tool call. */
static void test_stream_many_blocks(void)
{
    hc_buf in = HC_BUF_INIT, out = HC_BUF_INIT;
    hc_buf_puts(&in, "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\","
                     "\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n");
    for (int i = 0; i < 70; i++)
        hc_buf_printf(
            &in,
            "data: "
            "{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":\"text\","
            "\"text\":\"\"}}\n\ndata: {\"type\":\"content_block_stop\",\"index\":%d}\n\n",
            i, i);
    hc_buf_puts(
        &in,
        "data: "
        "{\"type\":\"content_block_start\",\"index\":70,\"content_block\":{\"type\":\"tool_use\","
        "\"id\":\"toolu_70\",\"name\":\"f\",\"input\":{}}}\n\n"
        "data: "
        "{\"type\":\"content_block_delta\",\"index\":70,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{\\\"a\\\":1}\"}}\n\n"
        "data: {\"type\":\"content_block_stop\",\"index\":70}\n\n"
        "data: "
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_"
        "tokens\":3}}\n\n"
        "data: {\"type\":\"message_stop\"}\n\n");
    hc_xa_stream s;
    hc_xa_stream_init(&s, false, 5);
    hc_xa_stream_feed(&s, in.data, in.len, &out);
    hc_xa_stream_finish(&s, &out);
    hc_xa_stream_free(&s);
    const char *o = out.data ? out.data : "";
    T_CHECK(strstr(o, "\"id\":\"toolu_70\"") != NULL,
            "stream: a tool_use at block 70 starts a tool call");
    T_CHECK(strstr(o, "{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":1}\"}}") != NULL,
            "stream: ... and its arguments arrive: %s", o);
    hc_buf_free(&in);
    hc_buf_free(&out);
}

int main(void)
{
    test_request();
    test_response();
    test_stream();
    test_stream_many_blocks();
    test_unified();
    return t_done();
}
