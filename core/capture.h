/* capture.h — building the record of one exchange as its bytes go by.
 *
 * The gateway (and, in observe mode, the passive TLS hooks) feed a capture
 * with what they see: the request head and body, the response head, and the
 * response body bytes (de-chunked, still content-encoded). The capture keeps
 * bounded copies of the bodies (HC_MAX_BODY each; the record says when one
 * was cut), decodes gzip/br/zstd on the side, splits streams into messages
 * and extracts token usage as it goes, so that memory stays bounded however
 * long the response. hc_capture_finish() computes the cost, encodes the
 * record and hands everything to the recorder.
 *
 * The functions below are the whole interface for feeding a capture: callers
 * may read its fields (the request's model, its API) but never write them,
 * and what the gateway answers by itself (an error, a cache hit) is given
 * as values (hc_capture_response), never as text to be parsed back.
 *
 * Secrets: the capture never looks at request headers other than the ones it
 * names (Helicone options come in already parsed as hc_opts); credentials
 * cannot reach the record.
 *
 * Not thread-safe: one capture per exchange, owned by one thread.
 */
#ifndef HC_CORE_CAPTURE_H
#define HC_CORE_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "core.h"
#include "http.h"
#include "options.h"
#include "record.h"
#include "stream.h"
#include "usage.h"

struct hc_decoder;

typedef struct hc_capture {
    hc_core *core;
    hc_record rec; /* strings point into the fields below */
    char host[256], provider[32], method[16], upstream[420];
    char model_req[128], model_resp[128], error[400], request_id[128];
    char budget[256], cache_key[80];
    hc_buf path, props, ratelimit, attempts;
    const hc_opts *opts; /* borrowed until finish */
    enum hc_api api;
    hc_request_info reqinfo;
    hc_usage usage;
    hc_buf req_body, resp_body, tail;
    bool req_trunc, resp_trunc, req_done, settled;
    bool may_wait; /* a gateway thread: may wait for room in the recorder's queue */
    bool live;     /* begun, not finished or discarded */
    struct hc_decoder *dec;
    bool dec_unsupported;
    bool dec_stopped; /* decoded past the bound (a compression bomb): no more decoding */
    size_t decoded;   /* decoded response bytes so far */
    hc_stream stream;
    bool streaming;
    int64_t t0_mono; /* request start, monotonic µs */
} hc_capture;

/* Start a capture for a request to `host` whose head is h. start_us: wall
 * clock of the request start; t0_mono: the same instant, monotonic. */
void hc_capture_begin(hc_capture *c, hc_core *core, const char *host, const hc_http_head *h,
                      int64_t start_us, int64_t t0_mono);
/* Options of this request (properties, user, session, omit flags). Borrowed
 * until hc_capture_finish/discard. */
void hc_capture_set_opts(hc_capture *c, const hc_opts *o);
/* Request body bytes, as the app sent them (call repeatedly). */
void hc_capture_request_body(hc_capture *c, const char *p, size_t n);
/* The request body is complete: parse model and stream flags from it. */
void hc_capture_request_done(hc_capture *c);
/* Where the request was sent (e.g. "https://127.0.0.1:8443"). */
void hc_capture_set_upstream(hc_capture *c, const char *url);
/* One upstream attempt ended with `status` after waiting wait_ms before it. */
void hc_capture_attempt(hc_capture *c, int status, int64_t wait_ms);
/* The response head the app receives. Its rate-limit headers are added to
 * those kept from earlier attempts. */
void hc_capture_response_head(hc_capture *c, const hc_http_head *h);
/* The same, as values: for an answer the gateway wrote itself (an error, a
 * cache hit), so that nothing it formatted is parsed back. headers[0..n)
 * are borrowed for the call; of them the capture reads Content-Type,
 * Content-Encoding and the rate-limit headers. */
void hc_capture_response(hc_capture *c, int status, const hc_header *headers, size_t n);
/* Keep the rate-limit headers of a failed attempt (a retried 429's
 * remaining-requests: 0 is the interesting one). */
void hc_capture_attempt_headers(hc_capture *c, const hc_http_head *h);
/* Forget the rate-limit headers kept so far (a cache hit replays stale ones). */
void hc_capture_drop_ratelimit(hc_capture *c);
/* Response body bytes (de-chunked, content-encoded as received). */
void hc_capture_response_data(hc_capture *c, const char *p, size_t n);
/* The provider the answer came from, when a fallback changed it. */
void hc_capture_set_provider(hc_capture *c, const char *provider);
/* The API the provider's answer speaks, when the gateway translated the
 * request (an OpenAI chat request answered by Anthropic Messages). Call
 * before the response head. */
void hc_capture_set_api(hc_capture *c, enum hc_api api);
/* The exchange is settled from a gateway thread, after the app has its
 * answer: it may wait for room in the recorder's queue (recorder.h). */
void hc_capture_set_may_wait(hc_capture *c, bool may_wait);
/* What went wrong, as the record shows it (copied; cut at 399 bytes).
 * hc_capture_finish's error argument, when not NULL, replaces it. */
void hc_capture_set_error(hc_capture *c, const char *error);
/* The budget this exchange was blocked by or crossed (copied). */
void hc_capture_set_budget(hc_capture *c, const char *name);
/* The cache key (hex) this exchange looked up (copied). */
void hc_capture_set_cache_key(hc_capture *c, const char *key_hex);
/* Add HC_REC_* flags to the record (e.g. HC_REC_RATE_LIMITED,
 * HC_REC_USAGE_INJECTED, HC_REC_CACHE_STORED). */
void hc_capture_add_flags(hc_capture *c, uint32_t flags);
/* One more retry of an upstream attempt. */
void hc_capture_retry(hc_capture *c);
/* Which fallback answered (-1: the original target) and how long retry
 * backoffs waited in total (µs). */
void hc_capture_set_route(hc_capture *c, int fallback_idx, int64_t waited_us);
/* The answer was a stored one (a cache hit, a replayed cassette entry):
 * settle now, then take the stored token counts (used when in or out is
 * non-zero: a replayed stream may not carry its usage), the answering model when the body named
 * none, and account the cost as saved: saved_nusd = orig_cost_nusd (or the computed
 * cost when the stored one is 0), cost_nusd = 0. Call after the body's
 * bytes were fed and before hc_capture_finish. */
void hc_capture_stored_answer(hc_capture *c, const hc_tokens *tok, int64_t orig_cost_nusd,
                              const char *model);
/* Compute usage and cost now (idempotent; finish does it if nobody did).
 * Returns cost_nusd (0 when unpriced or no usage). */
int64_t hc_capture_settle(hc_capture *c);
/* Finish: error is NULL or a description of what went wrong; flags are
 * HC_REC_* to add. Computes usage and cost, queues the record. Frees c's
 * memory (c may be reused after hc_capture_begin). */
void hc_capture_finish(hc_capture *c, const char *error, uint32_t flags);
/* Free without recording. */
void hc_capture_discard(hc_capture *c);

#endif
