/* usage.h — what a request asks for, and the exact token usage of its answer.
 *
 * The gateway sees raw HTTP bodies. This module reads:
 *   - the request body: model, whether the answer is streamed, whether OpenAI
 *     stream_options.include_usage is set (hc_request_info_parse);
 *   - the response: token usage, answering model and finish reason, from a
 *     whole body (hc_usage_from_body), from each message of a stream as split
 *     by stream.h (hc_usage_from_message), or from the tail of a body too large
 *     to keep (hc_usage_from_tail).
 *
 * Normalisation (hc_tokens, tokens.h; the record keeps the same type):
 *   in        ALL input tokens: uncached + cache reads + cache writes
 *   out       ALL output tokens, reasoning included
 *   cached    input tokens read from the provider's prompt cache
 *   cw5m/cw1h input tokens written to the prompt cache, 5-minute / 1-hour TTL
 *   reasoning reasoning ("thinking") tokens, a part of out
 * Per API:
 *   chat, completions, embeddings (OpenAI and compatible: Groq, Mistral,
 *   DeepSeek, xAI, Together, Fireworks, OpenRouter, Perplexity, Ollama /v1):
 *     in = prompt_tokens; out = completion_tokens;
 *     cached = prompt_tokens_details.cached_tokens, else DeepSeek's
 *       prompt_cache_hit_tokens, else a top-level usage.cached_tokens (some
 *       compatible servers, e.g. Together); cw5m = OpenRouter's
 *       prompt_tokens_details.cache_write_tokens;
 *     reasoning = completion_tokens_details.reasoning_tokens (else a top-level
 *       usage.reasoning_tokens);
 *     total_tokens is authoritative: when it exceeds prompt + completion, the
 *     difference is output the provider left out of completion_tokens (xAI
 *     counts reasoning tokens apart from completion_tokens; Gemini's
 *     OpenAI-compatible endpoint leaves thinking tokens out), so it is added to
 *     out and to reasoning (once: when it equals reasoning_tokens, reasoning
 *     was already reported apart and is not counted twice).
 *     Groq's x_groq.usage (last chunk of a stream) is read like usage.
 *   responses: usage.input_tokens, input_tokens_details.cached_tokens,
 *     output_tokens, output_tokens_details.reasoning_tokens (same total rule);
 *     streamed: the response object of response.completed / .incomplete / .failed.
 *   messages (Anthropic): in = input_tokens + cache_creation_input_tokens +
 *     cache_read_input_tokens; cached = cache_read_input_tokens; cache writes
 *     split by cache_creation.{ephemeral_5m,ephemeral_1h}_input_tokens (any part
 *     of cache_creation_input_tokens the split does not cover is 5m; without a
 *     split all of it is 5m); out = output_tokens (extended thinking included;
 *     reasoning stays 0). Streamed: message_start.message.usage, then each
 *     message_delta.usage (cumulative output_tokens; input and cache counts are
 *     taken too when present).
 *   gemini: in = promptTokenCount + toolUsePromptTokenCount; cached =
 *     cachedContentTokenCount; out = candidatesTokenCount + thoughtsTokenCount;
 *     reasoning = thoughtsTokenCount; model = modelVersion; response id =
 *     responseId. Streamed: each chunk's
 *     usageMetadata is a running total; the last one wins.
 *   ollama-chat / ollama-generate: the done:true object: in = prompt_eval_count,
 *     out = eval_count, finish = done_reason. ollama-embed: in = prompt_eval_count.
 *   cohere-chat (v2): usage.billed_units (what is charged), else usage.tokens;
 *     streamed: the message-end event's delta.usage.
 *
 * A usage object counts as a snapshot: fields it lacks are 0 in it (except for
 * messages, whose events each carry part of the usage and are merged field by
 * field). Counts must be JSON numbers >= 0; other values (negative, strings,
 * booleans, null) are treated as absent; fractions are truncated; values above
 * HC_USAGE_MAX_TOKENS (and non-finite ones) are clamped to it. JSON null for a
 * usage object (OpenAI's "usage": null in every chunk but the last) is absence.
 *
 * Thread-safety: no shared state; each hc_usage / hc_request_info has one owner.
 * Allocation: cJSON trees, freed before return. No pointer into a caller's
 * buffer is kept after a call returns.
 */
#ifndef HC_USAGE_H
#define HC_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provider.h"
#include "tokens.h"

/* Every count is clamped to this (1e15): sums of a few counts cannot overflow. */
#define HC_USAGE_MAX_TOKENS 1000000000000000LL

/* The tail window hc_usage_from_tail reads. */
#define HC_USAGE_TAIL_MAX (64u * 1024u)

typedef struct hc_usage {
    hc_tokens tok;   /* normalised counts, see above */
    bool found;      /* some usage object was seen */
    char model[128]; /* model named by the response ("" if none); truncated on a UTF-8 boundary */
    char finish[32]; /* finish/stop reason if seen ("" if none) */
    char response_id[128]; /* the answer's id ("" if none): chat/responses/embeddings "id",
                               Anthropic message "id", Gemini "responseId"; cut at 127 bytes */
} hc_usage;

typedef struct hc_request_info {
    char model[128];         /* "model" of the body; for Gemini and Vertex AI from the path
                               (models/X:generateContent); for Azure deployments
                               (/openai/deployments/D/...) the deployment name D when the
                               body names no model */
    bool stream;             /* the request asks for a streamed answer ("stream": true;
                               Gemini: :streamGenerateContent; Vertex Claude: :streamRawPredict;
                               Ollama native chat/generate: stream defaults to TRUE) */
    bool include_usage;      /* stream_options.include_usage is true */
    bool has_stream_options; /* a stream_options object is present at all */
    /* Sampling parameters the request sets at its top level, as a pairs list
     * (record.h) of a GenAI conventions name and the JSON number's text:
     * temperature, top_p, top_k, max_tokens (from max_tokens,
     * max_completion_tokens or max_output_tokens), frequency_penalty,
     * presence_penalty, seed, choice.count (from n). Those that do not fit
     * in the buffer are left out. */
    char params[192];
    uint32_t params_len;
} hc_request_info;

/* Zero *u (an empty usage: no counts, found false, empty strings). */
void hc_usage_init(hc_usage *u);

/* Read a request.
 *   api          as given by hc_api_detect for this request
 *   target       request target (path + query), target_len bytes, may be NULL
 *   body, len    the request body as sent (JSON); may be NULL/0
 *   out          filled completely (zeroed first)
 * The body is scanned, not parsed into a tree, and never allocated for; only
 * top-level "model", "stream", "stream_options" and the sampling parameters
 * (params) are read, so a body cut short
 * by a capture bound still yields the fields that precede the cut.
 * Returns 0, or HC_EPARSE if the body is not one complete JSON object (out then
 * holds what the path and the readable part of the body gave). Never crashes on
 * hostile input. */
int hc_request_info_parse(enum hc_api api, const char *target, size_t target_len, const char *body,
                          size_t len, hc_request_info *out);

/* A complete, non-streamed response body (already de-chunked and
 * content-decoded), `len` bytes (need not be NUL-terminated).
 * Fills u: the usage fields from the body's usage object (when it has one: then
 * found = true), model and finish when the body names them; other fields of u
 * are left as they were (start from hc_usage_init).
 * A JSON array body (a Gemini array stream handed over whole) is read element
 * by element, like a stream. Embedding bodies larger than HC_USAGE_TAIL_MAX are
 * read with hc_usage_from_tail instead (their usage is last; a tree of a
 * million floats is not worth building): then HC_EPARSE is never returned.
 * Returns 0 (also when the body has no usage: check u->found), or HC_EPARSE if
 * the body is not JSON (u unchanged), HC_ENOMEM. */
int hc_usage_from_body(enum hc_api api, const char *body, size_t len, hc_usage *u);

/* One message of a streamed response, as delivered by stream.h:
 *   event        the SSE event name, or "" / NULL
 *   json, len    the data payload
 * Accumulates into u with each API's semantics (see the top of this file).
 * "[DONE]", empty payloads and events that carry no usage are ignored (0).
 * Returns 0, or HC_EPARSE if the payload is not JSON (u unchanged), HC_ENOMEM. */
int hc_usage_from_message(enum hc_api api, const char *event, const char *json, size_t len,
                          hc_usage *u);

/* Fallback when a non-streamed body exceeded the capture bound: `tail` holds the
 * LAST `len` bytes of the body (only the last HC_USAGE_TAIL_MAX of them are
 * read). Finds the last top-level-looking usage object of the API ("usage",
 * Gemini's "usageMetadata", Ollama's "prompt_eval_count"/"eval_count" and
 * "done_reason"; Gemini's "modelVersion" and embeddings' "model" are read too)
 * and applies it to u like hc_usage_from_body.
 * Returns 0 if usage was found, HC_ENOTFOUND if not (u unchanged), HC_ENOMEM. */
int hc_usage_from_tail(enum hc_api api, const char *tail, size_t len, hc_usage *u);

#endif
