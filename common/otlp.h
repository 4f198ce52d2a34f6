/* otlp.h — OpenTelemetry OTLP/JSON encoding of exchange records: one span per
 * record and the GenAI client metrics, following the GenAI semantic
 * conventions (gen_ai.* attributes; span name "{operation} {model}";
 * gen_ai.provider.name, not the deprecated gen_ai.system).
 *
 * One encoder for every way out: `hc-analyze export --format otlp` (a file),
 * `hc-analyze ship --to otlp://` and the core's live push (core/otlp_push.c)
 * all call these functions, so a span looks the same wherever it goes.
 *
 * Span (hc_otlp_span): traceId/spanId/parentSpanId from the record (a
 * TRACEPARENT the process started under, kept as the trace_id and
 * parent_span_id properties by core/context.c, parents the span; otherwise
 * the session, else the record, is the trace); attributes gen_ai.operation.name,
 * gen_ai.provider.name, gen_ai.request.model, gen_ai.response.model,
 * gen_ai.response.id, gen_ai.response.finish_reasons (string array),
 * gen_ai.usage.input_tokens/output_tokens, gen_ai.usage.cache_read.input_tokens,
 * gen_ai.usage.cache_creation.input_tokens, gen_ai.usage.reasoning.output_tokens,
 * gen_ai.response.time_to_first_chunk (streams, seconds), gen_ai.conversation.id
 * (session), error.type, http/server/url attributes, and hcshim.* (cost, cache
 * hit, retries, fallback index, properties, user, session, run, ids).
 *
 * Metrics (hc_otlp_metrics): cumulative histograms with the conventions'
 * explicit bucket boundaries — gen_ai.client.token.usage ({token}, by
 * gen_ai.token.type input/output), gen_ai.client.operation.duration (s),
 * gen_ai.client.operation.time_to_first_chunk (s, streamed answers only) —
 * and a monotonic cumulative sum hcshim.cost (USD), each series keyed by
 * operation, provider, request model, response model, server address and
 * error.type. At most HC_OTLP_MAX_SERIES series: later combinations are
 * counted in `overflow` and left out (label cardinality stays bounded).
 *
 * Output: JSON text appended to an hc_buf; strings are escaped and invalid
 * UTF-8 becomes U+FFFD, so any record gives valid JSON. 64-bit integers are
 * JSON strings, ids lower-case hex (the OTLP/JSON mapping).
 *
 * Errors: every function returns 0 or HC_ENOMEM (out then holds a partial
 * document: discard it). Thread-safety: none of these functions keeps state
 * of its own; an hc_otlp_metrics has one owner (lock it if shared).
 */
#ifndef HC_OTLP_H
#define HC_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "record.h"

/* The resource every span and metric is sent with. Both strings are borrowed
 * for the call only. service: service.name (NULL: "hcshim"); attrs: extra
 * attributes as OTEL_RESOURCE_ATTRIBUTES spells them, "k=v,k=v" with %-encoded
 * values (NULL or "" for none; a malformed list is ignored whole, as the
 * OpenTelemetry specification asks); a service.name in attrs loses to service
 * when service is given. */
typedef struct hc_otlp_resource {
    const char *service;
    const char *attrs;
    const char *scope; /* instrumentation scope name (NULL: "hcshim") */
} hc_otlp_resource;

/* Append the start of an ExportTraceServiceRequest up to the opening of the
 * spans array: {"resourceSpans":[{"resource":…,"scopeSpans":[{"scope":…,"spans":[ */
int hc_otlp_traces_open(hc_buf *out, const hc_otlp_resource *res);
/* Append one span object for r (without a separating comma). */
int hc_otlp_span(hc_buf *out, const hc_record *r);
/* Append the end matching hc_otlp_traces_open: ]}]}]} */
int hc_otlp_traces_close(hc_buf *out);

/* True when r is an error in the conventions' sense (HTTP status >= 400, or no
 * answer at all). */
bool hc_otlp_is_error(const hc_record *r);

#define HC_OTLP_MAX_SERIES 128

/* Which instrument a series feeds. */
enum hc_otlp_inst {
    HC_OTLP_TOKENS_IN,
    HC_OTLP_TOKENS_OUT,
    HC_OTLP_DURATION,
    HC_OTLP_TTFC,
    HC_OTLP_COST,
    HC_OTLP_NINST
};

#define HC_OTLP_MAX_BUCKETS 17

typedef struct hc_otlp_series {
    uint8_t inst; /* enum hc_otlp_inst */
    char op[24], provider[40], model_req[96], model_resp[96], server[96], error[40];
    uint64_t count;
    double sum, min, max;
    uint64_t buckets[HC_OTLP_MAX_BUCKETS]; /* histograms: count per bucket (bounds + 1) */
} hc_otlp_series;

typedef struct hc_otlp_metrics {
    int64_t start_ns; /* start of the cumulative period (unix ns) */
    size_t n;
    uint64_t overflow; /* data points left out: series table full */
    uint64_t records;  /* records added */
    hc_otlp_series s[HC_OTLP_MAX_SERIES];
} hc_otlp_metrics;

/* Empty m; the cumulative period starts at start_ns. */
void hc_otlp_metrics_init(hc_otlp_metrics *m, int64_t start_ns);
/* Add one record's data points (tokens when its usage is known, duration,
 * time to first chunk when streamed, cost when priced). Never allocates. */
void hc_otlp_metrics_add(hc_otlp_metrics *m, const hc_record *r);
/* Append a whole ExportMetricsServiceRequest with every series, cumulative
 * from m->start_ns to now_ns. A metric with no series is left out. */
int hc_otlp_metrics_encode(hc_buf *out, const hc_otlp_metrics *m, const hc_otlp_resource *res,
                           int64_t now_ns);

/* Parse an OTEL_EXPORTER_OTLP_HEADERS value into "Name: value\r\n" lines
 * appended to out. 0, or HC_EINVAL (a pair without '=', a bad %-escape, a
 * name that is not an HTTP token, a control byte in a value), with the
 * 1-based number of the bad pair in *bad. Shared by the core's push and
 * `hc-analyze ship --to otlp://`. */
int hc_otlp_parse_headers(const char *s, hc_buf *out, int *bad);

#endif
