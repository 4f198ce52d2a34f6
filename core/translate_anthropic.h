/* translate_anthropic.h — OpenAI chat completions ⇄ Anthropic Messages.
 *
 * The unified endpoint (unified.h) speaks OpenAI's chat completions API for
 * every model. A Claude model is sent to Anthropic's Messages API: the
 * request is translated on the way up, the answer (a JSON body, an SSE
 * stream event by event, or an error) on the way down, so the app sees what
 * an OpenAI-compatible server would have answered.
 *
 * Request (hc_xa_request), OpenAI → Anthropic:
 *   system/developer messages   → "system" (joined with blank lines)
 *   user content (string/parts) → text blocks; image_url parts → image blocks
 *                                 (data: URLs as base64 sources, others as url sources)
 *   assistant tool_calls        → tool_use blocks (arguments parsed as JSON)
 *   tool messages               → tool_result blocks in a user turn
 *                                 (consecutive ones share one turn)
 *   max_completion_tokens / max_tokens (default 4096), temperature, top_p,
 *   stop → stop_sequences, stream, user → metadata.user_id,
 *   tools → {name, description, input_schema}, tool_choice auto/none/required/
 *   a function → auto/none/any/tool; parallel_tool_calls:false → disable_parallel_tool_use.
 *   Other OpenAI fields (n, logprobs, response_format, stream_options…) are dropped.
 * Response (hc_xa_response), Anthropic → OpenAI chat.completion:
 *   text blocks joined into message.content, tool_use blocks → tool_calls;
 *   stop_reason end_turn/stop_sequence/pause_turn → "stop", max_tokens →
 *   "length", tool_use → "tool_calls", refusal → "content_filter";
 *   usage: prompt_tokens = input + cache reads + cache writes,
 *   prompt_tokens_details.cached_tokens = cache reads, completion_tokens = output.
 *   An error body {"type":"error","error":{type,message}} becomes
 *   {"error":{"message","type","param":null,"code":null}}.
 * Stream (hc_xa_stream_*): each Anthropic SSE event becomes zero or more
 *   "data: {chat.completion.chunk}\n\n" events as soon as it is complete;
 *   message_stop ends with the usage chunk (only when the app asked for
 *   stream_options.include_usage) and "data: [DONE]".
 *
 * Allocation: cJSON trees freed before return; output appended to the
 * caller's hc_buf. Not thread-safe per stream object; no global state.
 */
#ifndef HC_CORE_TRANSLATE_ANTHROPIC_H
#define HC_CORE_TRANSLATE_ANTHROPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "stream.h"

#define HC_XA_MAX_BLOCKS 64 /* content blocks of one streamed message tracked for tool calls */

/* Translate an OpenAI chat completions request body into an Anthropic
 * Messages body for `model` (NULL: keep the body's model).
 * Returns 0 with the JSON appended to out, or HC_EINVAL with a reason in err
 * (not a JSON object, no messages). out is left as it was on error. */
int hc_xa_request(const char *body, size_t n, const char *model, hc_buf *out, char *err,
                  size_t errlen);

/* Translate a whole Anthropic answer (status = HTTP status) into the OpenAI
 * shape, appended to out. `created`: the chat.completion's "created" (Unix
 * seconds). Returns 0, or HC_EINVAL when body is not JSON (out untouched:
 * the caller passes the bytes on as they are). */
int hc_xa_response(const char *body, size_t n, int status, int64_t created, hc_buf *out);

typedef struct hc_xa_stream {
    hc_stream sse;
    hc_buf *out;        /* during feed/finish only */
    bool include_usage; /* the app asked for the usage chunk */
    bool done;          /* [DONE] was written */
    int64_t created;
    char id[128], model[128];
    int64_t in, out_tok, cache_read, cache_write;
    char finish[32];
    int tool_of_block[HC_XA_MAX_BLOCKS]; /* -1 or the tool_calls index of content block i */
    int ntools;
    /* Blocks from HC_XA_MAX_BLOCKS on: Anthropic streams one block at a time
     * (start, deltas, stop), so the open one is all that must be known. */
    int open_block, open_tool;
} hc_xa_stream;

/* Start translating one stream. include_usage: emit the final usage chunk. */
void hc_xa_stream_init(hc_xa_stream *s, bool include_usage, int64_t created);
/* Feed Anthropic SSE bytes (de-chunked, not compressed) in any pieces; the
 * OpenAI SSE for every complete event is appended to out. 0 or HC_ENOMEM. */
int hc_xa_stream_feed(hc_xa_stream *s, const char *p, size_t n, hc_buf *out);
/* End of the body: translate a last unterminated event. A stream cut before
 * message_stop gets no [DONE] (the app must see it was cut). */
void hc_xa_stream_finish(hc_xa_stream *s, hc_buf *out);
void hc_xa_stream_free(hc_xa_stream *s);

/* OpenAI finish_reason for an Anthropic stop_reason (static string; "stop"
 * for an unknown or NULL one). */
const char *hc_xa_finish_reason(const char *stop_reason);

#endif
