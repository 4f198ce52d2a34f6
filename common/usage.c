/* usage.c — request info and token-usage extraction (see usage.h).
 *
 * Formats, as published by each provider (field names were checked against these):
 *   OpenAI chat completions, chunks, stream_options.include_usage:
 *     https://platform.openai.com/docs/api-reference/chat/object
 *     https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 *   OpenAI Responses API and its streaming events (response.completed …):
 *     https://platform.openai.com/docs/api-reference/responses/object
 *     https://platform.openai.com/docs/api-reference/responses-streaming
 *   OpenAI embeddings, legacy completions:
 *     https://platform.openai.com/docs/api-reference/embeddings/object
 *     https://platform.openai.com/docs/api-reference/completions/object
 *   Anthropic Messages, streaming events, prompt caching (cache_creation split):
 *     https://docs.anthropic.com/en/api/messages
 *     https://docs.anthropic.com/en/docs/build-with-claude/streaming
 *     https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
 *   Claude on Vertex AI (publishers/anthropic/models/X:rawPredict, :streamRawPredict):
 *     https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude
 *   Gemini generateContent / streamGenerateContent, UsageMetadata:
 *     https://ai.google.dev/api/generate-content#UsageMetadata
 *     cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/GenerateContentResponse
 *   Gemini's OpenAI-compatible endpoint leaves thinking tokens out of completion_tokens
 *   (total_tokens includes them):
 *     https://discuss.ai.google.dev/t/question-with-usage-in-openai-compatibility/98760
 *   Groq (x_groq.usage in the last chunk of a stream):
 *     https://console.groq.com/docs/api-reference#chat-create
 *   DeepSeek (prompt_cache_hit_tokens / prompt_cache_miss_tokens):
 *     https://api-docs.deepseek.com/api/create-chat-completion
 *     https://api-docs.deepseek.com/guides/kv_cache
 *   xAI (reasoning tokens counted apart from completion_tokens, inside total_tokens):
 *     https://docs.x.ai/docs/key-information/consumption-and-rate-limits
 *     https://docs.x.ai/docs/guides/reasoning
 *   OpenRouter (usage in every response, prompt_tokens_details.cache_write_tokens):
 *     https://openrouter.ai/docs/use-cases/usage-accounting
 *   Mistral, Together, Fireworks, Perplexity (OpenAI-compatible usage):
 *     https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post
 *     https://docs.together.ai/reference/chat-completions-1
 *     https://docs.fireworks.ai/api-reference/post-chatcompletions
 *     https://docs.perplexity.ai/api-reference/chat-completions-post
 *   Ollama native API (/api/chat, /api/generate, /api/embed; done:true carries
 *   prompt_eval_count and eval_count; stream defaults to true):
 *     https://github.com/ollama/ollama/blob/main/docs/api.md
 *   Cohere v2 chat (usage.billed_units / usage.tokens; stream event message-end):
 *     https://docs.cohere.com/reference/chat
 *     https://docs.cohere.com/reference/chat-stream
 */
#include "usage.h"
#include "err.h"

#include "jsonflat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers -------------------------------------------------------- */

static int64_t clamp_tokens(int64_t v)
{
    if (v < 0)
        return 0;
    return v > HC_USAGE_MAX_TOKENS ? HC_USAGE_MAX_TOKENS : v;
}

/* A token count: a JSON number >= 0. Anything else is "absent", so a provider
 * bug (or an attacker upstream) cannot make a count negative or wrap it. */
static bool count_item(const hc_jf_node *it, int64_t *v)
{
    double d;
    if (!hc_jf_number(it, &d))
        return false;
    if (isnan(d) || d < 0)
        return false;
    if (!(d < (double)HC_USAGE_MAX_TOKENS))
        *v = HC_USAGE_MAX_TOKENS;
    else
        *v = (int64_t)d;
    return true;
}

static bool count_of(const hc_jf_node *obj, const char *key, int64_t *v)
{
    return count_item(hc_jf_get(obj, key), v);
}

static const hc_jf_node *obj_of(const hc_jf_node *obj, const char *key)
{
    const hc_jf_node *it = hc_jf_get(obj, key);
    return it && it->type == HC_JF_OBJECT ? it : NULL;
}

/* The member `key` of obj if it is a string (NULL otherwise). */
static const hc_jf_node *str_of(const hc_jf_node *obj, const char *key)
{
    const hc_jf_node *it = hc_jf_get(obj, key);
    return it && it->type == HC_JF_STRING ? it : NULL;
}

/* Copy text for a record: control bytes become '?' (model names end up on
 * terminals), and a cut never splits a UTF-8 sequence. */
static void copy_text(char *dst, size_t dstsz, const char *src, size_t n)
{
    if (n > dstsz - 1) {
        n = dstsz - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    dst[n] = '\0';
}

/* Set a string field from a JSON string, only when it is a non-empty one: an
 * empty "model" in a later chunk must not erase the one seen earlier. */
static void set_text(char *dst, size_t dstsz, const hc_jf_node *s)
{
    char tmp[256];
    if (s && s->vlen && hc_jf_string(s, tmp, sizeof tmp) && tmp[0])
        copy_text(dst, dstsz, tmp, strlen(tmp));
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t slim_copy(const char *p, size_t n, char *out, size_t outsz);
#define SLIM_MIN 4096

/* A parsed JSON value: the flat document, and the slimmed copy it points into
 * (if one was made). */
struct jdoc {
    hc_jf_doc d;
    char *copy;
};

static void jdoc_free(struct jdoc *j)
{
    hc_jf_free(&j->d);
    free(j->copy);
    j->copy = NULL;
}

/* Parse exactly [p, p+n) as one JSON value into j (jdoc_free() it in every
 * case). Texts of a few KiB and more are slimmed first (slim_copy): content
 * that never holds usage is replaced by null, so the document has a few dozen
 * nodes instead of one per content part. Returns 0, HC_EPARSE, HC_ETOOBIG or
 * HC_ENOMEM (see hc_jf_parse). */
static int parse_json(const char *p, size_t n, struct jdoc *j)
{
    j->copy = NULL;
    if (n >= SLIM_MIN) {
        size_t cap = n + n / 2 + 16;
        char *copy = malloc(cap);
        if (!copy) {
            hc_jf_parse(&j->d, NULL, 0);
            return HC_ENOMEM;
        }
        size_t m = slim_copy(p, n, copy, cap);
        if (m) {
            j->copy = copy;
            p = copy;
            n = m;
        } else {
            free(copy); /* not slimmable (malformed, or deeper than we go): parse it as it is */
        }
    }
    return hc_jf_parse(&j->d, p, n);
}

/* ---- usage objects, one reader per family --------------------------------- */

/* OpenAI-style usage (chat, completions, embeddings, responses and every
 * compatible provider). A snapshot: replaces all counts. */
static bool openai_usage(const hc_jf_node *us, hc_usage *u, bool total_rule)
{
    int64_t p = 0, c = 0, t = 0, cached = 0, cw = 0, r = 0;
    bool hp = count_of(us, "prompt_tokens", &p) || count_of(us, "input_tokens", &p);
    bool hc = count_of(us, "completion_tokens", &c) || count_of(us, "output_tokens", &c);
    bool ht = count_of(us, "total_tokens", &t);
    if (!hp && !hc && !ht)
        return false;

    const hc_jf_node *pd = obj_of(us, "prompt_tokens_details");
    if (!pd)
        pd = obj_of(us, "input_tokens_details");
    if (!count_of(pd, "cached_tokens", &cached) &&
        !count_of(us, "prompt_cache_hit_tokens", &cached)) /* DeepSeek */
        count_of(us, "cached_tokens", &cached);            /* Together, Moonshot */
    count_of(pd, "cache_write_tokens", &cw);               /* OpenRouter */

    const hc_jf_node *cd = obj_of(us, "completion_tokens_details");
    if (!cd)
        cd = obj_of(us, "output_tokens_details");
    if (!count_of(cd, "reasoning_tokens", &r))
        count_of(us, "reasoning_tokens", &r);

    if (total_rule && ht && t > p + c) {
        /* Output the provider left out of completion_tokens (xAI reasoning,
         * Gemini-compat thinking). When the gap is exactly reasoning_tokens the
         * reasoning was reported apart from completion: count it once. */
        int64_t gap = t - p - c;
        c += gap;
        r = (gap == r) ? r : r + gap;
    }
    u->tok.in = clamp_tokens(p);
    u->tok.out = clamp_tokens(c);
    u->tok.cached = clamp_tokens(cached);
    u->tok.cw5m = clamp_tokens(cw);
    u->tok.cw1h = 0;
    u->tok.reasoning = clamp_tokens(r);
    u->found = true;
    return true;
}

/* Anthropic usage: merged field by field, because message_start carries the
 * input side and message_delta the (cumulative) output, sometimes repeating
 * the input side. `in` is kept equal to uncached + cache reads + cache writes. */
static bool anthropic_usage(const hc_jf_node *us, hc_usage *u)
{
    int64_t inp = 0, cr = 0, cc = 0, e5 = 0, e1 = 0, out = 0;
    bool h_in = count_of(us, "input_tokens", &inp);
    bool h_cr = count_of(us, "cache_read_input_tokens", &cr);
    bool h_cc = count_of(us, "cache_creation_input_tokens", &cc);
    const hc_jf_node *split = obj_of(us, "cache_creation");
    bool h_e5 = count_of(split, "ephemeral_5m_input_tokens", &e5);
    bool h_e1 = count_of(split, "ephemeral_1h_input_tokens", &e1);
    bool h_out = count_of(us, "output_tokens", &out);
    if (!h_in && !h_cr && !h_cc && !h_e5 && !h_e1 && !h_out)
        return false;

    int64_t uncached = u->tok.in - u->tok.cached - u->tok.cw5m - u->tok.cw1h;
    if (uncached < 0)
        uncached = 0;
    if (h_in)
        uncached = inp;
    if (h_cr)
        u->tok.cached = cr;
    if (h_cc || h_e5 || h_e1) {
        int64_t w5 = h_e5 ? e5 : (h_cc ? 0 : u->tok.cw5m);
        int64_t w1 = h_e1 ? e1 : (h_cc ? 0 : u->tok.cw1h);
        if (h_cc && !h_e5 && !h_e1) {
            /* No split in this event: keep the 1h part an earlier event reported. */
            w1 = u->tok.cw1h < cc ? u->tok.cw1h : cc;
            w5 = cc - w1;
        } else if (h_cc && w5 + w1 < cc) {
            w5 += cc - (w5 + w1); /* uncovered writes: the default TTL */
        }
        u->tok.cw5m = clamp_tokens(w5);
        u->tok.cw1h = clamp_tokens(w1);
    }
    u->tok.in = clamp_tokens(uncached + u->tok.cached + u->tok.cw5m + u->tok.cw1h);
    if (h_out)
        u->tok.out = out;
    u->found = true;
    return true;
}

/* Gemini usageMetadata: a running total, so a snapshot. */
static bool gemini_usage(const hc_jf_node *um, hc_usage *u)
{
    int64_t p = 0, tool = 0, cached = 0, cand = 0, th = 0, tot = 0;
    bool hp = count_of(um, "promptTokenCount", &p);
    bool htool = count_of(um, "toolUsePromptTokenCount", &tool);
    bool hcached = count_of(um, "cachedContentTokenCount", &cached);
    bool hcand = count_of(um, "candidatesTokenCount", &cand);
    bool hth = count_of(um, "thoughtsTokenCount", &th);
    bool htot = count_of(um, "totalTokenCount", &tot);
    if (!hp && !htool && !hcached && !hcand && !hth && !htot)
        return false;
    u->tok.in = clamp_tokens(p + tool);
    u->tok.cached = clamp_tokens(cached);
    u->tok.out = clamp_tokens(cand + th);
    u->tok.reasoning = clamp_tokens(th);
    u->tok.cw5m = u->tok.cw1h = 0;
    u->found = true;
    return true;
}

/* Cohere v2: billed_units is what is charged; tokens is what was processed. */
static bool cohere_usage(const hc_jf_node *us, hc_usage *u)
{
    int64_t in = 0, out = 0;
    const hc_jf_node *src = obj_of(us, "billed_units");
    if (!src || (!count_of(src, "input_tokens", &in) && !count_of(src, "output_tokens", &out)))
        src = obj_of(us, "tokens");
    bool hi = count_of(src, "input_tokens", &in);
    bool ho = count_of(src, "output_tokens", &out);
    if (!hi && !ho)
        return false;
    u->tok.in = in;
    u->tok.out = out;
    u->tok.cached = u->tok.cw5m = u->tok.cw1h = u->tok.reasoning = 0;
    u->found = true;
    return true;
}

/* Ollama's final object (done:true) and /api/embed's answer. */
static bool ollama_counts(const hc_jf_node *o, hc_usage *u)
{
    int64_t p = 0, e = 0;
    bool hp = count_of(o, "prompt_eval_count", &p);
    bool he = count_of(o, "eval_count", &e);
    if (!hp && !he)
        return false;
    u->tok.in = p;
    u->tok.out = e;
    u->tok.cached = u->tok.cw5m = u->tok.cw1h = u->tok.reasoning = 0;
    u->found = true;
    return true;
}

/* Without a known API, tell the usage families apart by their field names. */
static bool looks_anthropic(const hc_jf_node *us)
{
    return hc_jf_get(us, "cache_creation_input_tokens") ||
           hc_jf_get(us, "cache_read_input_tokens") ||
           (hc_jf_get(us, "input_tokens") && !hc_jf_get(us, "total_tokens") &&
            !hc_jf_get(us, "input_tokens_details"));
}

/* ---- whole objects: bodies, chunks, events -------------------------------- */

static void openai_finish(const hc_jf_node *root, hc_usage *u)
{
    const hc_jf_node *choices = hc_jf_get(root, "choices");
    if (!choices || choices->type != HC_JF_ARRAY)
        return;
    for (const hc_jf_node *ch = hc_jf_child(choices); ch; ch = hc_jf_next(ch)) {
        const hc_jf_node *f = str_of(ch, "finish_reason");
        if (f && f->vlen) {
            set_text(u->finish, sizeof u->finish, f);
            return;
        }
    }
}

static void apply_openai(const hc_jf_node *root, hc_usage *u, bool total_rule)
{
    set_text(u->model, sizeof u->model, str_of(root, "model"));
    set_text(u->response_id, sizeof u->response_id, str_of(root, "id"));
    openai_finish(root, u);
    const hc_jf_node *us = obj_of(root, "usage");
    if (!(us && openai_usage(us, u, total_rule)))
        openai_usage(obj_of(obj_of(root, "x_groq"), "usage"), u, total_rule); /* Groq stream */
}

/* A Responses API response object (a body, or the `response` of an event). */
static void apply_response_obj(const hc_jf_node *resp, hc_usage *u)
{
    set_text(u->model, sizeof u->model, str_of(resp, "model"));
    set_text(u->response_id, sizeof u->response_id, str_of(resp, "id"));
    const hc_jf_node *reason = str_of(obj_of(resp, "incomplete_details"), "reason");
    const hc_jf_node *status = str_of(resp, "status");
    if (reason && reason->vlen)
        set_text(u->finish, sizeof u->finish, reason);
    else if (status && !hc_jf_str_is(status, "in_progress") && !hc_jf_str_is(status, "queued"))
        set_text(u->finish, sizeof u->finish, status);
    openai_usage(obj_of(resp, "usage"), u, true);
}

static void apply_anthropic_msg(const hc_jf_node *msg, hc_usage *u)
{
    set_text(u->model, sizeof u->model, str_of(msg, "model"));
    set_text(u->response_id, sizeof u->response_id, str_of(msg, "id"));
    set_text(u->finish, sizeof u->finish, str_of(msg, "stop_reason"));
    anthropic_usage(obj_of(msg, "usage"), u);
}

static void apply_gemini(const hc_jf_node *root, hc_usage *u)
{
    set_text(u->model, sizeof u->model, str_of(root, "modelVersion"));
    set_text(u->response_id, sizeof u->response_id, str_of(root, "responseId"));
    const hc_jf_node *cands = hc_jf_get(root, "candidates");
    if (cands && cands->type == HC_JF_ARRAY)
        set_text(u->finish, sizeof u->finish, str_of(hc_jf_child(cands), "finishReason"));
    gemini_usage(obj_of(root, "usageMetadata"), u);
}

static void apply_ollama(const hc_jf_node *root, hc_usage *u, bool embed)
{
    set_text(u->model, sizeof u->model, str_of(root, "model"));
    if (embed) {
        ollama_counts(root, u);
        return;
    }
    const hc_jf_node *done = hc_jf_get(root, "done");
    if (!done || done->type != HC_JF_TRUE)
        return;
    set_text(u->finish, sizeof u->finish, str_of(root, "done_reason"));
    ollama_counts(root, u);
}

static void apply_cohere(const hc_jf_node *root, hc_usage *u)
{
    if (hc_jf_str_is(str_of(root, "type"), "message-end")) {
        const hc_jf_node *delta = obj_of(root, "delta");
        set_text(u->finish, sizeof u->finish, str_of(delta, "finish_reason"));
        cohere_usage(obj_of(delta, "usage"), u);
        return;
    }
    set_text(u->model, sizeof u->model, str_of(root, "model"));
    set_text(u->finish, sizeof u->finish, str_of(root, "finish_reason"));
    cohere_usage(obj_of(root, "usage"), u);
}

static enum hc_api sniff_api(const hc_jf_node *root)
{
    const hc_jf_node *type = str_of(root, "type");
    const hc_jf_node *us = obj_of(root, "usage");
    if (hc_jf_str_is(type, "message") || hc_jf_str_prefix(type, "message_"))
        return HC_API_MESSAGES;
    if (hc_jf_str_prefix(type, "message-"))
        return HC_API_COHERE_CHAT;
    if (hc_jf_str_is(str_of(root, "object"), "response") || hc_jf_str_prefix(type, "response."))
        return HC_API_RESPONSES;
    if (obj_of(root, "usageMetadata") || hc_jf_get(root, "candidates"))
        return HC_API_GEMINI;
    const hc_jf_node *done = hc_jf_get(root, "done");
    if (done && (done->type == HC_JF_TRUE || done->type == HC_JF_FALSE))
        return HC_API_OLLAMA_CHAT;
    if (us && looks_anthropic(us))
        return HC_API_MESSAGES;
    if (us && obj_of(us, "billed_units"))
        return HC_API_COHERE_CHAT;
    return HC_API_CHAT;
}

/* One parsed JSON object of any API, body or stream message. */
static void apply_object(enum hc_api api, const hc_jf_node *root, hc_usage *u)
{
    if (!root || root->type != HC_JF_OBJECT)
        return;
    if (api == HC_API_UNKNOWN || api >= HC_API_NKINDS)
        api = sniff_api(root);
    switch (api) {
    case HC_API_RESPONSES: {
        const hc_jf_node *resp = obj_of(root, "response");
        apply_response_obj(resp ? resp : root, u);
        break;
    }
    case HC_API_MESSAGES: {
        const hc_jf_node *type = str_of(root, "type");
        if (hc_jf_str_is(type, "message_start")) {
            apply_anthropic_msg(obj_of(root, "message"), u);
        } else if (hc_jf_str_is(type, "message_delta")) {
            set_text(u->finish, sizeof u->finish, str_of(obj_of(root, "delta"), "stop_reason"));
            anthropic_usage(obj_of(root, "usage"), u);
        } else if (!type || hc_jf_str_is(type, "message")) {
            apply_anthropic_msg(root, u);
        }
        break;
    }
    case HC_API_GEMINI:
    case HC_API_GEMINI_EMBED: apply_gemini(root, u); break;
    case HC_API_OLLAMA_CHAT:
    case HC_API_OLLAMA_GENERATE: apply_ollama(root, u, false); break;
    case HC_API_OLLAMA_EMBED: apply_ollama(root, u, true); break;
    case HC_API_COHERE_CHAT: apply_cohere(root, u); break;
    case HC_API_EMBEDDINGS: apply_openai(root, u, false); break;
    default: apply_openai(root, u, true); break;
    }
}

void hc_usage_init(hc_usage *u)
{
    memset(u, 0, sizeof *u);
}

/* A text with more nodes than a document holds (HC_ETOOBIG): read the usage
 * from its tail, as for embeddings. Leaves u unchanged if none is found. */
static int usage_from_big(enum hc_api api, const char *p, size_t n, hc_usage *u)
{
    int r = hc_usage_from_tail(api, p, n, u);
    return r == HC_ENOTFOUND ? 0 : r;
}

int hc_usage_from_body(enum hc_api api, const char *body, size_t len, hc_usage *u)
{
    if (!body)
        return HC_EPARSE;
    if ((api == HC_API_EMBEDDINGS || api == HC_API_OLLAMA_EMBED || api == HC_API_GEMINI_EMBED) &&
        len > HC_USAGE_TAIL_MAX)
        return usage_from_big(api, body, len, u);
    struct jdoc j;
    int r = parse_json(body, len, &j);
    if (r == 0) {
        const hc_jf_node *root = hc_jf_root(&j.d);
        if (root->type == HC_JF_ARRAY) {
            /* A Gemini array stream handed over whole: its elements are the messages. */
            for (const hc_jf_node *el = hc_jf_child(root); el; el = hc_jf_next(el))
                apply_object(api, el, u);
        } else {
            apply_object(api, root, u);
        }
    }
    jdoc_free(&j);
    return r == HC_ETOOBIG ? usage_from_big(api, body, len, u) : r;
}

/* Streams carry far more content deltas than usage; skip parsing the events
 * that, by their name, cannot hold usage, model or finish reason. */
static bool event_is_irrelevant(enum hc_api api, const char *event)
{
    if (!event || !*event)
        return false;
    if (api == HC_API_MESSAGES)
        return strcmp(event, "content_block_delta") == 0 ||
               strcmp(event, "content_block_start") == 0 ||
               strcmp(event, "content_block_stop") == 0 || strcmp(event, "ping") == 0;
    if (api == HC_API_RESPONSES)
        return strncmp(event, "response.", 9) == 0 && strcmp(event, "response.created") != 0 &&
               strcmp(event, "response.in_progress") != 0 &&
               strcmp(event, "response.completed") != 0 &&
               strcmp(event, "response.incomplete") != 0 && strcmp(event, "response.failed") != 0;
    return false;
}

int hc_usage_from_message(enum hc_api api, const char *event, const char *json, size_t len,
                          hc_usage *u)
{
    if (!json)
        return 0;
    while (len && is_ws(*json)) {
        json++;
        len--;
    }
    while (len && is_ws(json[len - 1]))
        len--;
    if (len == 0 || (len == 6 && memcmp(json, "[DONE]", 6) == 0))
        return 0;
    if (event_is_irrelevant(api, event))
        return 0;
    struct jdoc j;
    int r = parse_json(json, len, &j);
    if (r == 0)
        apply_object(api, hc_jf_root(&j.d), u);
    jdoc_free(&j);
    if (r == HC_ETOOBIG) {
        r = usage_from_big(api, json, len, u);
        return r == HC_ENOMEM ? r : 0;
    }
    return r;
}

/* ---- scanning JSON text without a tree ------------------------------------ *
 * Used for request bodies (which may be megabytes of base64 images, or cut short
 * by a capture bound) and for tails of bodies. Never allocates, never recurses. */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && is_ws(*p))
        p++;
    return p;
}

/* p at the opening quote. Returns just past the closing quote, NULL if the
 * string does not end before e. */
static const char *skip_string(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Past one value starting at p (after whitespace); NULL if it is truncated or
 * obviously malformed. Containers are matched by bracket counting. */
static const char *skip_value(const char *p, const char *e)
{
    if (p >= e)
        return NULL;
    if (*p == '"')
        return skip_string(p, e);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < e) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, e);
                if (!p)
                    return NULL;
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    const char *b = p;
    while (p < e && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || *p == '-' ||
                     *p == '+' || *p == '.' || *p == 'E'))
        p++;
    return (p > b && p < e) ? p : NULL; /* a scalar at the very end may be cut */
}

/* ---- slimming a JSON text before it is parsed ----------------------------- *
 * Usage, model and finish reason live in small members; the bulk of a body is
 * content (messages, parts, deltas, embeddings, tool arguments) that no reader
 * above looks at. slim_copy copies the text with the values of the members
 * named below replaced by null, at any depth. Everything else is copied byte
 * for byte, so parsing the copy gives the same answer as parsing the original
 * for every key the readers use, with far fewer nodes (a multi-part prompt or
 * an agent's transcript is thousands of them). */

static const char *const content_keys[] = {
    "content",
    "text",
    "parts",
    "output",
    "data",
    "embedding",
    "embeddings",
    "context",
    "logprobs",
    "tool_calls",
    "function_call",
    "arguments",
    "instructions",
    "tools",
    "thinking",
    "signature",
    "reasoning_content",
    "refusal",
    "annotations",
    "audio",
    "images",
    "partial_json",
    "input",
    NULL,
};

static bool is_content_key(const char *kb, const char *ke)
{
    size_t n = (size_t)(ke - kb);
    for (const char *const *k = content_keys; *k; k++)
        if (strlen(*k) == n && memcmp(*k, kb, n) == 0)
            return true;
    return false;
}

struct slim {
    char *out;
    size_t len, cap;
};

static bool slim_put(struct slim *s, const char *p, size_t n)
{
    if (s->cap - s->len <= n)
        return false;
    memcpy(s->out + s->len, p, n);
    s->len += n;
    return true;
}

/* Copy the value at p (after whitespace). Returns past it, NULL on malformed
 * input, output overflow or nesting deeper than SLIM_DEPTH. */
#define SLIM_DEPTH 64
static const char *slim_value(struct slim *s, const char *p, const char *e, int depth)
{
    p = skip_ws(p, e);
    if (p >= e || depth > SLIM_DEPTH)
        return NULL;
    if (*p != '{' && *p != '[') {
        const char *q = skip_value(p, e);
        if (!q && p < e && *p != '"') { /* a scalar ending exactly at e (a top-level number) */
            q = p;
            while (q < e && !is_ws(*q))
                q++;
        }
        return q && slim_put(s, p, (size_t)(q - p)) ? q : NULL;
    }
    bool obj = *p == '{';
    char close = obj ? '}' : ']';
    if (!slim_put(s, p, 1))
        return NULL;
    p = skip_ws(p + 1, e);
    if (p < e && *p == close)
        return slim_put(s, p, 1) ? p + 1 : NULL;
    for (;;) {
        bool skip = false;
        if (obj) {
            if (p >= e || *p != '"')
                return NULL;
            const char *ke = skip_string(p, e);
            if (!ke)
                return NULL;
            skip = is_content_key(p + 1, ke - 1);
            if (!slim_put(s, p, (size_t)(ke - p)))
                return NULL;
            p = skip_ws(ke, e);
            if (p >= e || *p != ':' || !slim_put(s, ":", 1))
                return NULL;
            p = skip_ws(p + 1, e);
        }
        if (skip) {
            p = skip_value(p, e);
            if (!p || !slim_put(s, "null", 4))
                return NULL;
        } else if (!(p = slim_value(s, p, e, depth + 1))) {
            return NULL;
        }
        p = skip_ws(p, e);
        if (p >= e)
            return NULL;
        if (*p == close)
            return slim_put(s, p, 1) ? p + 1 : NULL;
        if (*p != ',' || !slim_put(s, ",", 1))
            return NULL;
        p = skip_ws(p + 1, e);
    }
}

/* The slimmed copy of [p, p+n) into out (outsz bytes, one kept for a NUL):
 * its length, or 0 if the text is not one well-formed value followed by
 * whitespace only (the caller then parses the original). */
static size_t slim_copy(const char *p, size_t n, char *out, size_t outsz)
{
    struct slim s = { out, 0, outsz };
    const char *e = p + n;
    const char *q = slim_value(&s, p, e, 0);
    if (!q || skip_ws(q, e) != e)
        return 0;
    return s.len;
}

static bool key_is(const char *kb, const char *ke, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(ke - kb) == n && memcmp(kb, name, n) == 0;
}

/* A literal true/false at p; sets *v and returns past it, NULL if neither. */
static const char *read_bool(const char *p, const char *e, bool *v)
{
    if (e - p >= 4 && memcmp(p, "true", 4) == 0) {
        *v = true;
        return p + 4;
    }
    if (e - p >= 5 && memcmp(p, "false", 5) == 0) {
        *v = false;
        return p + 5;
    }
    return NULL;
}

/* Called for each member of an object being scanned: the key's raw bytes
 * [kb, ke) and the value at v. Returns past the value, or NULL to stop. */
typedef const char *(*member_fn)(void *ctx, const char *kb, const char *ke, const char *v,
                                 const char *e);

/* Scan the object at p ('{'). Returns past its closing brace, NULL if it is
 * cut short or malformed (members seen so far have been reported). */
static const char *scan_object(const char *p, const char *e, member_fn fn, void *ctx)
{
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return NULL;
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}')
        return p + 1;
    for (;;) {
        if (p >= e || *p != '"')
            return NULL;
        const char *kb = p + 1, *ke;
        p = skip_string(p, e);
        if (!p)
            return NULL;
        ke = p - 1;
        p = skip_ws(p, e);
        if (p >= e || *p != ':')
            return NULL;
        p = skip_ws(p + 1, e);
        p = fn(ctx, kb, ke, p, e);
        if (!p)
            return NULL;
        p = skip_ws(p, e);
        if (p >= e)
            return NULL;
        if (*p == '}')
            return p + 1;
        if (*p != ',')
            return NULL;
        p = skip_ws(p + 1, e);
    }
}

static const char *stream_options_member(void *ctx, const char *kb, const char *ke, const char *v,
                                         const char *e)
{
    hc_request_info *info = ctx;
    bool b;
    if (key_is(kb, ke, "include_usage")) {
        const char *after = read_bool(v, e, &b);
        if (after) {
            info->include_usage = b;
            return after;
        }
    }
    return skip_value(v, e);
}

struct req_scan {
    hc_request_info *info;
    enum hc_api api;
    char model[128];
};

/* A top-level sampling parameter: its GenAI conventions name, or NULL. */
static const char *param_name(const char *kb, const char *ke)
{
    static const char *const map[][2] = {
        { "temperature", "temperature" },
        { "top_p", "top_p" },
        { "top_k", "top_k" },
        { "max_tokens", "max_tokens" },
        { "max_completion_tokens", "max_tokens" },
        { "max_output_tokens", "max_tokens" },
        { "frequency_penalty", "frequency_penalty" },
        { "presence_penalty", "presence_penalty" },
        { "seed", "seed" },
        { "n", "choice.count" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (key_is(kb, ke, map[i][0]))
            return map[i][1];
    return NULL;
}

/* Keep a number value of a sampling parameter (its text) in info->params. */
static void keep_param(hc_request_info *info, const char *name, const char *v, const char *after)
{
    size_t nl = strlen(name), vl = (size_t)(after - v);
    while (vl && is_ws(v[vl - 1]))
        vl--;
    if (!vl || vl > 32 || info->params_len + nl + vl + 2 > sizeof info->params)
        return;
    for (size_t i = 0; i < vl; i++)
        if (!strchr("0123456789+-.eE", v[i]))
            return; /* not a number (null, a string): left out */
    memcpy(info->params + info->params_len, name, nl + 1);
    info->params_len += (uint32_t)nl + 1;
    memcpy(info->params + info->params_len, v, vl);
    info->params[info->params_len + vl] = '\0';
    info->params_len += (uint32_t)vl + 1;
}

static const char *request_member(void *ctx, const char *kb, const char *ke, const char *v,
                                  const char *e)
{
    struct req_scan *rs = ctx;
    bool b;
    const char *pname = param_name(kb, ke);
    if (pname && v < e && (*v == '-' || (*v >= '0' && *v <= '9'))) {
        const char *after = skip_value(v, e);
        if (after)
            keep_param(rs->info, pname, v, after);
        return after;
    }
    if (key_is(kb, ke, "model") && v < e && *v == '"')
        return hc_json_read_string(v, e, rs->model, sizeof rs->model);
    if (key_is(kb, ke, "stream") && rs->api != HC_API_GEMINI) {
        const char *after = read_bool(v, e, &b);
        if (after) {
            rs->info->stream = b;
            return after;
        }
    }
    if (key_is(kb, ke, "stream_options") && v < e && *v == '{') {
        rs->info->has_stream_options = true;
        return scan_object(v, e, stream_options_member, rs->info);
    }
    return skip_value(v, e);
}

/* Model and streaming that the request target itself states. */
static void info_from_target(enum hc_api api, const char *t, size_t n, hc_request_info *info)
{
    if (!t)
        return;
    const char *q = memchr(t, '?', n);
    if (q)
        n = (size_t)(q - t);
    while (n > 1 && t[n - 1] == '/')
        n--;
    if (api == HC_API_GEMINI || api == HC_API_GEMINI_EMBED || api == HC_API_MESSAGES) {
        /* …/models/NAME:action (Gemini, Vertex AI including Claude on Vertex). */
        const char *seg = t + n;
        while (seg > t && seg[-1] != '/')
            seg--;
        const char *colon = memchr(seg, ':', (size_t)(t + n - seg));
        if (colon && colon > seg) {
            const char *act = colon + 1;
            size_t al = (size_t)(t + n - act);
            copy_text(info->model, sizeof info->model, seg, (size_t)(colon - seg));
            if ((al == 21 && memcmp(act, "streamGenerateContent", 21) == 0) ||
                (al == 16 && memcmp(act, "streamRawPredict", 16) == 0))
                info->stream = true;
        }
    }
    /* Azure: /openai/deployments/NAME/… — the deployment stands for the model. */
    static const char dep[] = "/openai/deployments/";
    for (size_t i = 0; i + sizeof dep - 1 < n; i++) {
        if (memcmp(t + i, dep, sizeof dep - 1) == 0) {
            const char *b = t + i + sizeof dep - 1;
            const char *s = memchr(b, '/', (size_t)(t + n - b));
            size_t l = s ? (size_t)(s - b) : (size_t)(t + n - b);
            if (l && !info->model[0])
                copy_text(info->model, sizeof info->model, b, l);
            break;
        }
    }
}

int hc_request_info_parse(enum hc_api api, const char *target, size_t target_len, const char *body,
                          size_t len, hc_request_info *out)
{
    memset(out, 0, sizeof *out);
    /* Ollama's native endpoints stream unless the body says "stream": false. */
    if (api == HC_API_OLLAMA_CHAT || api == HC_API_OLLAMA_GENERATE)
        out->stream = true;
    info_from_target(api, target, target_len, out);
    if (!body)
        return HC_EPARSE;

    struct req_scan rs = { .info = out, .api = api };
    const char *e = body + len;
    const char *end = scan_object(body, e, request_member, &rs);
    /* The body's model wins over the Azure deployment name; a Gemini path's
     * model is the only one (its bodies name none). */
    if (rs.model[0] && !(api == HC_API_GEMINI && out->model[0]))
        memcpy(out->model, rs.model, sizeof out->model);
    if (!end)
        return HC_EPARSE;
    return skip_ws(end, e) == e ? 0 : HC_EPARSE;
}

/* ---- tails ---------------------------------------------------------------- */

/* The value of the last occurrence of "key" (as a real key: unescaped quotes,
 * followed by ':') that starts before `limit`. Returns the value's first byte,
 * NULL if none. *kpos gets the key's opening quote (to search further back). */
static const char *last_key(const char *b, const char *limit, const char *e, const char *key,
                            const char **kpos)
{
    size_t kl = strlen(key);
    const char *p = limit;
    while (p > b) {
        p--;
        if (*p != '"' || (size_t)(e - p) < kl + 2 || memcmp(p + 1, key, kl) != 0 ||
            p[kl + 1] != '"')
            continue;
        /* An odd run of backslashes before the quote escapes it: inside a string. */
        size_t bs = 0;
        for (const char *q = p; q > b && q[-1] == '\\'; q--)
            bs++;
        if (bs & 1)
            continue;
        const char *v = skip_ws(p + kl + 2, e);
        if (v >= e || *v != ':')
            continue;
        *kpos = p;
        return skip_ws(v + 1, e);
    }
    return NULL;
}

/* Parse the number at p (a JSON number, bounded by e) as a count; false if not one. */
static bool tail_count(const char *p, const char *e, int64_t *v)
{
    size_t n = 0;
    while (p + n < e && n < 39 &&
           ((p[n] >= '0' && p[n] <= '9') || p[n] == '-' || p[n] == '+' || p[n] == '.' ||
            p[n] == 'e' || p[n] == 'E'))
        n++;
    if (n == 0 || p + n >= e) /* the number must be followed by something: not cut */
        return false;
    hc_jf_doc d;
    bool ok = hc_jf_parse(&d, p, n) == 0 && count_item(hc_jf_root(&d), v);
    hc_jf_free(&d);
    return ok;
}

static void tail_string(const char *b, const char *e, const char *key, char *dst, size_t dstsz)
{
    const char *kpos, *v = last_key(b, e, e, key, &kpos);
    char tmp[128];
    if (v && v < e && *v == '"' && hc_json_read_string(v, e, tmp, sizeof tmp) && tmp[0])
        copy_text(dst, dstsz, tmp, strlen(tmp));
}

int hc_usage_from_tail(enum hc_api api, const char *tail, size_t len, hc_usage *u)
{
    if (!tail)
        return HC_ENOTFOUND;
    if (len > HC_USAGE_TAIL_MAX) {
        tail += len - HC_USAGE_TAIL_MAX;
        len = HC_USAGE_TAIL_MAX;
    }
    const char *b = tail, *e = tail + len;

    if (api == HC_API_OLLAMA_CHAT || api == HC_API_OLLAMA_GENERATE || api == HC_API_OLLAMA_EMBED) {
        const char *kpos, *v;
        int64_t p = 0, ev = 0;
        bool hp = (v = last_key(b, e, e, "prompt_eval_count", &kpos)) && tail_count(v, e, &p);
        bool he = api != HC_API_OLLAMA_EMBED && (v = last_key(b, e, e, "eval_count", &kpos)) &&
                  tail_count(v, e, &ev);
        if (!hp && !he)
            return HC_ENOTFOUND;
        u->tok.in = p;
        u->tok.out = ev;
        u->tok.cached = u->tok.cw5m = u->tok.cw1h = u->tok.reasoning = 0;
        u->found = true;
        tail_string(b, e, "done_reason", u->finish, sizeof u->finish);
        return 0;
    }

    const char *key =
        (api == HC_API_GEMINI || api == HC_API_GEMINI_EMBED) ? "usageMetadata" : "usage";
    const char *limit = e, *kpos;
    const char *v;
    while ((v = last_key(b, limit, e, key, &kpos)) != NULL) {
        limit = kpos;
        if (v >= e || *v != '{')
            continue;
        const char *end = skip_value(v, e);
        if (!end)
            continue;
        struct jdoc j;
        int r = parse_json(v, (size_t)(end - v), &j);
        if (r) {
            jdoc_free(&j);
            if (r == HC_ENOMEM)
                return r;
            continue;
        }
        const hc_jf_node *us = hc_jf_root(&j.d);
        hc_usage t = *u;
        bool ok;
        switch (api) {
        case HC_API_GEMINI:
        case HC_API_GEMINI_EMBED: ok = gemini_usage(us, &t); break;
        case HC_API_MESSAGES: ok = anthropic_usage(us, &t); break;
        case HC_API_COHERE_CHAT: ok = cohere_usage(us, &t); break;
        case HC_API_EMBEDDINGS: ok = openai_usage(us, &t, false); break;
        case HC_API_UNKNOWN:
            ok = looks_anthropic(us) ? anthropic_usage(us, &t) : openai_usage(us, &t, true);
            break;
        default: ok = openai_usage(us, &t, true); break;
        }
        jdoc_free(&j);
        if (!ok)
            continue;
        *u = t;
        if (api == HC_API_GEMINI || api == HC_API_GEMINI_EMBED)
            tail_string(b, e, "modelVersion", u->model, sizeof u->model);
        else if (api == HC_API_EMBEDDINGS)
            tail_string(b, e, "model", u->model, sizeof u->model);
        return 0;
    }
    return HC_ENOTFOUND;
}
