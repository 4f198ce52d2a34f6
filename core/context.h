/* context.h — what made the call, as properties: trace context, baggage, CI
 * job, current test. Additive: these are ordinary properties (record field
 * 21), so every command that groups or filters by property uses them
 * (`hc-analyze report --by property:test`, `--property ci_job=build`).
 *
 * From the environment, once, when the core starts (hc_context_env):
 *   TRACEPARENT (W3C trace context, the OpenTelemetry environment carrier)
 *       trace_id        32 lower-case hex digits
 *       parent_span_id  16 lower-case hex digits (the span this process's calls belong under)
 *     TRACESTATE        tracestate (as given, when TRACEPARENT is valid)
 *   BAGGAGE             each member "key=value" becomes property key = the
 *                       percent-decoded value (at most 16 members; a key that
 *                       is not a token, or a value over 256 bytes, is skipped)
 *   CI (first that is present: GitHub Actions, GitLab CI, Buildkite, Jenkins)
 *       ci          github, gitlab, buildkite or jenkins
 *       ci_run_id   GITHUB_RUN_ID[-GITHUB_RUN_ATTEMPT] | CI_PIPELINE_ID | BUILDKITE_BUILD_ID
 *                   | BUILD_TAG
 *       ci_job      GITHUB_JOB | CI_JOB_NAME | BUILDKITE_LABEL | JOB_NAME
 *       ci_commit   GITHUB_SHA | CI_COMMIT_SHA | BUILDKITE_COMMIT | GIT_COMMIT
 * At request time (hc_context_request):
 *   test            PYTEST_CURRENT_TEST without its phase (" (call)"), as the
 *                   app's environment holds it when the request arrives
 *                   (followed by the shim's setenv hooks, hc_shim_api.current_test)
 *
 * A property of the same name that is already there (HC_PROPERTY_<name>, a
 * Helicone-Property-<name> header) wins; trace and CI names win over baggage.
 * A malformed TRACEPARENT is ignored (no trace properties), said once with HC_DEBUG.
 */
#ifndef HC_CORE_CONTEXT_H
#define HC_CORE_CONTEXT_H

#include "buf.h"

/* Add the environment's context properties to props (a pairs list being
 * built, record.h). Reads the environment: call at core start only (from
 * hc_config_load), not on a gateway thread. 0 or HC_ENOMEM. */
int hc_context_env(hc_buf *props);

/* Add "test" (the app's current pytest test) to props unless props has one.
 * Any thread. 0 or HC_ENOMEM. */
int hc_context_request(hc_buf *props);

/* Parse a W3C traceparent "VV-<32 hex>-<16 hex>-FF": trace_id gets 33 bytes,
 * span_id 17 (lower-case, NUL-terminated). 0, or -1 if malformed (bad
 * lengths or digits, version ff, an all-zero id). Pure; for tests too. */
int hc_traceparent_parse(const char *s, char trace_id[33], char span_id[17]);

#endif
