/* otlp_push.h — live OpenTelemetry export: each finished exchange becomes a
 * span (common/otlp.h) sent to an OTLP/HTTP collector as JSON, and the GenAI
 * client metrics are sent periodically and at exit (cumulative temporality).
 *
 * Configured by the standard OpenTelemetry variables, read once when the core
 * starts (hc_otlp_push_new, on the app's thread):
 *   OTEL_EXPORTER_OTLP_ENDPOINT          base URL; /v1/traces and /v1/metrics are appended
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT   the traces URL, as is (wins over the base)
 *   OTEL_EXPORTER_OTLP_METRICS_ENDPOINT  the metrics URL, as is
 *   OTEL_EXPORTER_OTLP_HEADERS (+ _TRACES_HEADERS / _METRICS_HEADERS)  k=v,k=v, %-encoded values
 *   OTEL_EXPORTER_OTLP_TIMEOUT           ms per export (default 10000)
 *   OTEL_EXPORTER_OTLP_PROTOCOL          http/json or http/protobuf (JSON is sent either way,
 *                                        collectors accept both); grpc is refused (said once)
 *   OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES   the resource
 *   OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER = none   that signal off
 *   OTEL_SDK_DISABLED=true, HC_OTLP=0    everything off
 *   OTEL_BSP_SCHEDULE_DELAY (ms, 5000), OTEL_BSP_MAX_QUEUE_SIZE (2048),
 *   OTEL_BSP_MAX_EXPORT_BATCH_SIZE (512), OTEL_METRIC_EXPORT_INTERVAL (ms, 60000)
 * http:// is sent in the clear; https:// goes through the core's upstream
 * TLS client context (full certificate and host name verification).
 *
 * DESIGN
 * - Off the app's path: hc_otlp_push_record runs on the exchange's gateway
 *   thread after the app has the whole answer; it copies the record's wire
 *   form (already made for the recorder, a few hundred bytes), then holds a
 *   mutex only to append it to a bounded queue and add the metric data
 *   points. The span's JSON is written by the sender thread. Nothing waits
 *   for the network.
 * - One sender thread (started with the push) takes up to a batch of spans
 *   when a batch is full or the schedule delay passed, and POSTs them as one
 *   ExportTraceServiceRequest; metrics go every export interval (and at
 *   exit) when anything was added since the start.
 * - Slow or down collector: a full queue drops the new span, a failed POST
 *   drops its batch; both are counted, and the count is said once on stderr
 *   at exit (with the URL, never the headers). Nothing is retried: telemetry
 *   never holds memory or the app hostage.
 * - Exit: hc_otlp_push_flush asks the sender to send everything now and waits
 *   for it, bounded.
 * - Secrets: header values (tokens) live only in this process's memory; they
 *   are never logged, written or recorded.
 * - Fork: the child's core makes its own push (core.c); the parent's thread
 *   does not exist there and its object is abandoned.
 */
#ifndef HC_CORE_OTLP_PUSH_H
#define HC_CORE_OTLP_PUSH_H

#include "core.h"
#include "record.h"

typedef struct hc_otlp_push hc_otlp_push;

/* Read the configuration and start the sender thread. NULL when no endpoint
 * is set or the push is switched off, or on a bad value or failure (said once
 * on stderr, naming the variable; the app is unaffected). */
hc_otlp_push *hc_otlp_push_new(hc_core *core);

/* Queue r's span and add its metric data points. wire/wire_len: r in its
 * wire form (hc_record_encode, as made for the recorder), copied: the sender
 * thread decodes it and writes the span. Never blocks on I/O; nothing is
 * kept after the call. Thread-safe. */
void hc_otlp_push_record(hc_otlp_push *p, const hc_record *r, const void *wire, size_t wire_len);

/* Send everything queued and the metrics now; wait up to timeout_ms. Then
 * say once on stderr how many spans were dropped, if any. Thread-safe;
 * called from exit handlers (takes its lock with a deadline). */
void hc_otlp_push_flush(hc_otlp_push *p, int timeout_ms);

#endif
