/* stream.h — splitting a streamed response body into its JSON messages.
 *
 * LLM APIs stream in three framings:
 *   HC_STREAM_SSE        text/event-stream: "event: x\ndata: {...}\n\n" (OpenAI, Anthropic,
 *                        Gemini with ?alt=sse, every OpenAI-compatible API)
 *   HC_STREAM_NDJSON     one JSON object per line (Ollama's native /api/chat, /api/generate)
 *   HC_STREAM_JSON_ARRAY one JSON array whose elements arrive over time (Gemini's
 *                        streamGenerateContent without alt=sse)
 *
 * hc_stream_feed() takes body bytes as they arrive (already de-chunked and
 * content-decoded) and calls on_msg once per complete message with:
 *   event    the SSE event name ("" if none / not SSE)
 *   data     the message payload (SSE data lines joined with '\n'; an NDJSON
 *            line; an array element's JSON text), NUL-terminated
 *   raw      for SSE, the event's exact bytes including its terminating blank
 *            line (what the gateway forwards or drops); for the others, the
 *            same as data
 * Pointers are valid only during the callback.
 *
 * Bounded: a single message larger than max_msg bytes is skipped (counted in
 * `oversized`) and the stream resynchronises at the next message boundary.
 * Allocation: one buffer that grows up to max_msg. Not thread-safe (one per stream).
 */
#ifndef HC_STREAM_H
#define HC_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum hc_stream_kind { HC_STREAM_NONE, HC_STREAM_SSE, HC_STREAM_NDJSON, HC_STREAM_JSON_ARRAY };

typedef void (*hc_stream_cb)(void *ctx, const char *event, const char *data, size_t data_len,
                             const char *raw, size_t raw_len);

/* SSE line state: see hc_sse_lines_next below. */
typedef struct hc_sse_lines {
    size_t len; /* bytes of the current line so far (LF excluded) */
    bool blank; /* the current line holds nothing but CR so far */
} hc_sse_lines;

typedef struct hc_stream {
    enum hc_stream_kind kind;
    size_t max_msg;
    hc_buf cur;         /* bytes of the message being assembled */
    hc_buf data;        /* SSE: data lines joined */
    char event[64];     /* SSE: current event name */
    bool skipping;      /* current message exceeded max_msg */
    size_t line_start;  /* SSE: offset in cur of the line being read */
    hc_sse_lines lines; /* SSE: the line being read */
    /* JSON array scanner state */
    int depth;
    bool in_str, esc;
    size_t messages, oversized;
} hc_stream;

/* Choose the framing from a response Content-Type (and the request path, for
 * Gemini's array stream). Returns HC_STREAM_NONE when the body is one JSON document. */
enum hc_stream_kind hc_stream_kind_for(const char *content_type, size_t ct_len, const char *path);

void hc_stream_init(hc_stream *s, enum hc_stream_kind kind, size_t max_msg);
/* Feed bytes; calls cb for each complete message. 0 or HC_ENOMEM. */
int hc_stream_feed(hc_stream *s, const char *p, size_t n, hc_stream_cb cb, void *ctx);
/* End of body: deliver a last message that had no terminator (NDJSON line
 * without '\n', SSE event without blank line). */
void hc_stream_finish(hc_stream *s, hc_stream_cb cb, void *ctx);
void hc_stream_free(hc_stream *s);

/* ---- SSE lines: the one line splitter of every event-stream reader ---------
 * Used by hc_stream_feed (HC_STREAM_SSE) and by the gateway's usage-chunk
 * filter (core/streamfix.c), so both agree on where a line and an event end.
 * A line ends at LF (a CR before it is part of no field); a blank line (empty,
 * or a lone CR) ends an event. State is counts only, so a caller may drop the
 * bytes of an oversized line and still find the event's end.
 * Not thread-safe (one per stream); no allocation. */

/* Start: no line begun. */
void hc_sse_lines_init(hc_sse_lines *l);

/* Take the next run of p[0..n) (n > 0): the bytes up to and including the
 * first LF, or all n when there is none. Returns the run's length (>= 1).
 * *eol is set when the run completes a line, and *blank when that line was
 * blank (the end of an event); both false otherwise. */
size_t hc_sse_lines_next(hc_sse_lines *l, const char *p, size_t n, bool *eol, bool *blank);

/* One complete line [b, e) (LF excluded; a trailing CR is ignored) as an SSE
 * field: *name, *name_len the field name (the whole line when it has no
 * colon), *val, *val_len its value (after the colon and one optional space;
 * empty without a colon). Returns false (outputs unset) for an empty line or a
 * comment (leading ':'). Pointers are into [b, e). Pure function. */
bool hc_sse_field(const char *b, const char *e, const char **name, size_t *name_len,
                  const char **val, size_t *val_len);

#endif
