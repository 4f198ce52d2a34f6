/* reassemble.h — the text an LLM answered, recovered from a stored response body.
 *
 * A streamed response is stored as the bytes the app received: SSE events
 * (OpenAI, Anthropic, Gemini ?alt=sse, OpenAI-compatible APIs), NDJSON lines
 * (Ollama) or a JSON array that arrived element by element (Gemini
 * streamGenerateContent). The messages are split with common/stream.h and
 * their text pieces concatenated:
 *   OpenAI chat        choices[0].delta.content
 *   OpenAI responses   "response.output_text.delta" events' delta
 *   Anthropic          content_block_delta events with delta.type "text_delta": delta.text
 *   Gemini             candidates[0].content.parts[*].text
 *   Ollama             message.content (chat) or response (generate)
 * A non-streamed JSON body yields choices[0].message.content, Anthropic's
 * content[*].text, Gemini's parts or Ollama's message.content.
 *
 * Thread-safe (no state).
 */
#ifndef HC_ANA_REASSEMBLE_H
#define HC_ANA_REASSEMBLE_H

#include <stddef.h>

#include "buf.h"
#include "stream.h"

/* Append the answer text of body (len bytes; path = the request path, for
 * Gemini's array framing) to out and set *kind to the framing found
 * (HC_STREAM_NONE for a single JSON document). Returns the number of text
 * pieces found (0: none, e.g. an error body or an embeddings response), or
 * HC_ENOMEM. */
int reassemble_text(const char *body, size_t len, const char *path, hc_buf *out,
                    enum hc_stream_kind *kind);

#endif
