/* prompt.h — the messages of a stored request body (what the app asked).
 *
 * The counterpart of reassemble.h for requests: the dashboard shows the
 * prompt as a conversation (role, text) instead of raw JSON, and the requests
 * table shows an excerpt of the last user message. Recognised shapes:
 *   OpenAI chat, Mistral, Groq, …   "messages": [{"role", "content"}]
 *   Anthropic messages              "system" + "messages"
 *   OpenAI responses                "instructions" + "input" (items with their role;
 *                                   a plain string has the role "input")
 *   Gemini                          "systemInstruction"/"system_instruction" +
 *                                   "contents": [{"role", "parts": [{"text"}]}]
 *   Ollama generate, completions    "system" + "prompt" (string or strings)
 *   embeddings                      "input" (string or strings), role "input"
 * A content that is a list of parts is joined with newlines: text parts by
 * their text, images as "[image]", tool calls as "[tool call: NAME]", tool
 * results by their content; other parts as "[TYPE]". An OpenAI message with
 * only tool_calls yields "[tool call: NAME]" per call.
 *
 * Thread-safe (no state).
 */
#ifndef HC_ANA_PROMPT_H
#define HC_ANA_PROMPT_H

#include <stddef.h>

#include "buf.h"

/* One message: role ("user", "system", "assistant", "model", "tool",
 * "input", …; never NULL, "" when the body names none) and its text (len
 * bytes, NUL-terminated). Both are valid only during the call. Return
 * non-zero to stop. */
typedef int (*prompt_cb)(void *ctx, const char *role, const char *text, size_t len);

/* Parse the request body (len bytes of JSON) and call cb for each message
 * in order. Returns the number of messages delivered (0: a JSON body of no
 * recognised shape), HC_EPARSE when the body is not JSON (e.g. it was cut
 * at the capture bound), or HC_ENOMEM. */
int prompt_messages(const char *body, size_t len, prompt_cb cb, void *ctx);

/* A one-line excerpt of the prompt for tables: the text of the last message
 * whose role is "user" (else the last message), whitespace runs collapsed
 * to one space, cut at max_bytes on a UTF-8 boundary with "…" appended.
 * Appended to out. When the body is not JSON, its first bytes are used the
 * same way. 0 or HC_ENOMEM; out is empty when nothing was found. */
int prompt_excerpt(const char *body, size_t len, size_t max_bytes, hc_buf *out);

#endif
