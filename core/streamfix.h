/* streamfix.h — exact usage for OpenAI-style streams the app did not ask usage for.
 *
 * OpenAI-compatible APIs report token usage in a stream only when the request
 * sets stream_options.include_usage. The gateway sets it (as Helicone's
 * Helicone-Stream-Usage does) so the record is exact, and then gives the app
 * the stream it would have received without it:
 *   - the extra usage-only chunk ("choices":[] with a "usage" object) is
 *     dropped from what the app receives (the capture still sees it);
 *   - the "usage":null member that every other chunk then carries is removed.
 * Every other byte is forwarded unchanged, each event as soon as it is
 * complete. Events too large to hold (> 1 MiB) are forwarded as they come.
 */
#ifndef HC_CORE_STREAMFIX_H
#define HC_CORE_STREAMFIX_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "stream.h"

/* If body is a JSON object with "stream": true whose stream_options does not
 * already ask for usage, write into out a body that does and return 1.
 * Returns 0 (out untouched) when no change is needed or the body is not such
 * an object, HC_ENOMEM on allocation failure. */
int hc_inject_include_usage(const char *body, size_t len, hc_buf *out);

typedef struct hc_sse_filter {
    hc_buf pending;     /* bytes of the event being assembled */
    bool passthrough;   /* the current event exceeded the bound: forwarding as it comes */
    hc_sse_lines lines; /* where the current line and event end (stream.h) */
    size_t dropped;     /* usage-only events removed */
} hc_sse_filter;

void hc_sse_filter_init(hc_sse_filter *f);
/* Feed upstream SSE bytes; append what the app must receive to out.
 * 0 or HC_ENOMEM. */
int hc_sse_filter_feed(hc_sse_filter *f, const char *p, size_t n, hc_buf *out);
/* End of stream: append any held bytes unchanged. */
void hc_sse_filter_finish(hc_sse_filter *f, hc_buf *out);
void hc_sse_filter_free(hc_sse_filter *f);

/* Exposed for tests: rewrite one chunk's JSON text. Returns 1 = drop the
 * event, 0 = keep (with out holding the JSON minus any top-level
 * "usage":null member; out == input when nothing changes). */
int hc_sse_rewrite_json(const char *json, size_t len, hc_buf *out);

#endif
