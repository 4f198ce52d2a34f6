/* test_otlp.c — common/otlp.c: spans are valid JSON whatever the record's
 * bytes (control characters, invalid UTF-8), the GenAI attributes are there,
 * finish reasons become a string array, histogram buckets follow the
 * conventions' boundaries (value on a boundary goes in that bucket), the
 * series table is capped, OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_EXPORTER_OTLP_HEADERS parse as the specification says; the record's
 * new fields (41, 42) round-trip and are absent from older records. The
 * JSON checks use cJSON (a real parser). */
#include "err.h"
#include "otlp.h"
#include "record.h"
#include "t.h"
#include "usage.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static hc_record base(void)
{
    hc_record r;
    memset(&r, 0, sizeof r);
    hc_record_init(&r);
    hc_uuid_v7(r.id, 1700000000123456);
    r.start_us = 1700000000123456;
    r.latency_us = 250000;
    r.ttft_us = 40000;
    r.host = "api.openai.com";
    r.provider = "openai";
    r.api = "chat";
    r.method = "POST";
    r.path = "/v1/chat/completions";
    r.model_req = "gpt-4o-mini";
    r.model_resp = "gpt-4o-mini-2024-07-18";
    r.status = 200;
    r.tok_in = 16;
    r.tok_out = 17;
    r.tok_reasoning = 5;
    r.cost_nusd = 12345;
    r.cost_flags = HC_COST_PRICED;
    r.flags = HC_REC_STREAM;
    r.response_id = "chatcmpl-abc";
    r.finish_reasons = "stop,length";
    return r;
}

static const cJSON *attr(const cJSON *span, const char *key)
{
    const cJSON *a;
    cJSON_ArrayForEach(
        a, cJSON_GetObjectItem(
               span, "attributes")) if (strcmp(cJSON_GetObjectItem(a, "key")->valuestring, key) ==
                                        0) return cJSON_GetObjectItem(a, "value");
    return NULL;
}

static const char *sval(const cJSON *span, const char *key)
{
    const cJSON *v = attr(span, key);
    const cJSON *s = v ? cJSON_GetObjectItem(v, "stringValue") : NULL;
    if (!s)
        s = v ? cJSON_GetObjectItem(v, "intValue") : NULL;
    return s && cJSON_IsString(s) ? s->valuestring : "";
}

static void spans(void)
{
    hc_record r = base();
    hc_buf b = HC_BUF_INIT;
    T_EQ_INT(hc_otlp_span(&b, &r), 0, "span encodes");
    cJSON *j = cJSON_Parse(b.data);
    T_CHECK(j != NULL, "span is JSON");
    T_EQ_STR(cJSON_GetObjectItem(j, "name")->valuestring, "chat gpt-4o-mini",
             "name {operation} {model}");
    T_EQ_STR(sval(j, "gen_ai.provider.name"), "openai", "gen_ai.provider.name");
    T_CHECK(!attr(j, "gen_ai.system"), "no deprecated gen_ai.system");
    T_EQ_STR(sval(j, "gen_ai.response.id"), "chatcmpl-abc", "gen_ai.response.id");
    T_EQ_STR(sval(j, "gen_ai.usage.reasoning.output_tokens"), "5", "reasoning tokens");
    const cJSON *fr = attr(j, "gen_ai.response.finish_reasons");
    const cJSON *vals =
        fr ? cJSON_GetObjectItem(cJSON_GetObjectItem(fr, "arrayValue"), "values") : NULL;
    T_CHECK(
        vals && cJSON_GetArraySize(vals) == 2 &&
            !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(vals, 1), "stringValue")->valuestring,
                    "length"),
        "finish reasons: a string array, one per choice");
    const cJSON *tt = attr(j, "gen_ai.response.time_to_first_chunk");
    T_CHECK(tt && cJSON_GetObjectItem(tt, "doubleValue")->valuedouble == 0.04,
            "time to first chunk in seconds");
    T_CHECK(!cJSON_GetObjectItem(j, "parentSpanId"), "no parent without a traceparent");
    cJSON_Delete(j);

    /* Hostile bytes: control characters, quotes, invalid UTF-8, a lone
     * surrogate's encoding; the JSON stays valid and the text readable. */
    r.model_req = "m\"o\\d\x01\x7f\xff\xed\xa0\x80\xc3\xa9";
    r.user = "u\n\t";
    r.finish_reasons = "";
    r.cost_flags = HC_COST_NO_USAGE;
    r.status = 0;
    hc_buf_reset(&b);
    T_EQ_INT(hc_otlp_span(&b, &r), 0, "hostile span encodes");
    j = cJSON_Parse(b.data);
    T_CHECK(j != NULL, "hostile bytes: still JSON");
    T_EQ_STR(sval(j, "gen_ai.request.model"),
             "m\"o\\d\x01\x7f\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9",
             "escaped; invalid UTF-8 as U+FFFD, valid kept");
    T_EQ_STR(sval(j, "user.id"), "u\n\t", "control characters round-trip");
    T_CHECK(!attr(j, "gen_ai.usage.input_tokens") && !attr(j, "gen_ai.response.finish_reasons"),
            "no usage: no token counts (not a false 0); no finish reasons: no attribute");
    T_EQ_STR(sval(j, "error.type"), "connection_error", "no answer: error.type");
    T_EQ_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "status"), "code")->valueint, 2,
             "status ERROR");
    cJSON_Delete(j);

    /* Parented by a TRACEPARENT the process started under (context.c props). */
    hc_buf props = HC_BUF_INIT;
    T_EQ_INT(hc_pairs_add(&props, "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736") |
                 hc_pairs_add(&props, "parent_span_id", "00f067aa0ba902b7"),
             0, "props");
    r = base();
    r.props.p = props.data;
    r.props.len = (uint32_t)props.len;
    hc_buf_reset(&b);
    T_EQ_INT(hc_otlp_span(&b, &r), 0, "parented span encodes");
    j = cJSON_Parse(b.data);
    T_EQ_STR(cJSON_GetObjectItem(j, "traceId")->valuestring, "4bf92f3577b34da6a3ce929d0e0e4736",
             "the caller's trace");
    T_EQ_STR(cJSON_GetObjectItem(j, "parentSpanId")->valuestring, "00f067aa0ba902b7",
             "under the caller's span");
    cJSON_Delete(j);
    hc_buf_free(&props);

    /* How long one span takes to encode (information, not an assertion). */
    r = base();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 20000; i++) {
        hc_buf_reset(&b);
        if (hc_otlp_span(&b, &r) != 0)
            break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("# encoding one span (%zu bytes): %.2f µs\n", b.len,
           ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 20000 / 1e3);
    hc_buf_free(&b);
}

static void resource(void)
{
    hc_buf b = HC_BUF_INIT;
    hc_otlp_resource res = { .service = NULL,
                             .attrs = "service.name=svc%20one, deployment.environment = ci" };
    T_EQ_INT(hc_otlp_traces_open(&b, &res) | hc_otlp_traces_close(&b), 0, "traces document");
    cJSON *j = cJSON_Parse(b.data);
    T_CHECK(j != NULL, "traces document is JSON");
    const cJSON *rs = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "resourceSpans"), 0);
    const cJSON *r = cJSON_GetObjectItem(rs, "resource");
    T_EQ_STR(sval(r, "service.name"), "svc one",
             "service.name from OTEL_RESOURCE_ATTRIBUTES, %%-decoded");
    T_EQ_STR(sval(r, "deployment.environment"), "ci", "spaces around pairs trimmed");
    cJSON_Delete(j);
    hc_buf_reset(&b);
    res.attrs = "a=1,broken";
    res.service = "mine";
    T_EQ_INT(hc_otlp_traces_open(&b, &res) | hc_otlp_traces_close(&b), 0,
             "traces document (bad attrs)");
    j = cJSON_Parse(b.data);
    r = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "resourceSpans"), 0),
                            "resource");
    T_CHECK(!strcmp(sval(r, "service.name"), "mine") && !attr(r, "a"),
            "a malformed list is ignored whole");
    cJSON_Delete(j);
    hc_buf_free(&b);
}

static void headers(void)
{
    hc_buf b = HC_BUF_INIT;
    int bad = 0;
    T_EQ_INT(hc_otlp_parse_headers("api-key=s%3Dcret, x-team = a b", &b, &bad), 0, "headers parse");
    T_EQ_STR(b.data, "api-key: s=cret\r\nx-team: a b\r\n",
             "name: value lines, %%-decoded, trimmed");
    static const struct {
        const char *in;
        int bad;
    } no[] = {
        { "novalue", 1 },    { "a=1,b", 2 }, { "a=x%0d%0aInjected: 1", 1 },
        { "bad name=1", 1 }, { "a=%zz", 1 }, { "=v", 1 },
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        hc_buf_reset(&b);
        bad = 0;
        T_CHECK(hc_otlp_parse_headers(no[i].in, &b, &bad) == HC_EINVAL && bad == no[i].bad,
                "headers '%s' refused at pair %d", no[i].in, no[i].bad);
    }
    hc_buf_free(&b);
}

static void metrics(void)
{
    hc_otlp_metrics *m = malloc(sizeof *m);
    hc_otlp_metrics_init(m, 1000);
    hc_record r = base();
    r.latency_us = 10000; /* exactly the first duration bound (0.01 s): bucket 0 */
    hc_otlp_metrics_add(m, &r);
    r.latency_us = 10001; /* just above: bucket 1 */
    r.tok_in = 1;         /* on the first token bound: bucket 0 */
    hc_otlp_metrics_add(m, &r);
    hc_buf b = HC_BUF_INIT;
    hc_otlp_resource res = { 0 };
    T_EQ_INT(hc_otlp_metrics_encode(&b, m, &res, 2000), 0, "metrics encode");
    cJSON *j = cJSON_Parse(b.data);
    T_CHECK(j != NULL, "metrics document is JSON");
    const cJSON *ms = cJSON_GetObjectItem(
        cJSON_GetArrayItem(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "resourceMetrics"), 0),
                                "scopeMetrics"),
            0),
        "metrics");
    T_EQ_INT(cJSON_GetArraySize(ms), 4, "token usage, duration, time to first chunk, cost");
    const cJSON *mt, *dur = NULL, *tok = NULL;
    cJSON_ArrayForEach(mt, ms)
    {
        if (!strcmp(cJSON_GetObjectItem(mt, "name")->valuestring,
                    "gen_ai.client.operation.duration"))
            dur = mt;
        if (!strcmp(cJSON_GetObjectItem(mt, "name")->valuestring, "gen_ai.client.token.usage"))
            tok = mt;
    }
    const cJSON *dp =
        dur ? cJSON_GetArrayItem(
                  cJSON_GetObjectItem(cJSON_GetObjectItem(dur, "histogram"), "dataPoints"), 0)
            : NULL;
    const cJSON *bc = dp ? cJSON_GetObjectItem(dp, "bucketCounts") : NULL;
    T_CHECK(bc && cJSON_GetArraySize(bc) == 15 &&
                !strcmp(cJSON_GetArrayItem(bc, 0)->valuestring, "1") &&
                !strcmp(cJSON_GetArrayItem(bc, 1)->valuestring, "1") &&
                !strcmp(cJSON_GetObjectItem(dp, "count")->valuestring, "2"),
            "duration: 14 bounds, 15 buckets; a value on a bound is in that bucket");
    T_EQ_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(dur, "histogram"), "aggregationTemporality")
                 ->valueint,
             2, "cumulative temporality");
    T_CHECK(tok && cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(tok, "histogram"),
                                                          "dataPoints")) == 2,
            "token usage: one series per gen_ai.token.type");
    cJSON_Delete(j);
    /* The series table is bounded. */
    char model[32];
    for (int i = 0; i < 300; i++) {
        snprintf(model, sizeof model, "model-%d", i);
        r.model_req = model;
        hc_otlp_metrics_add(m, &r);
    }
    T_CHECK(m->n == HC_OTLP_MAX_SERIES && m->overflow > 0, "series capped at %d, the rest counted",
            HC_OTLP_MAX_SERIES);
    hc_buf_free(&b);
    free(m);
}

static void record_fields(void)
{
    hc_record r = base(), d;
    hc_buf enc = HC_BUF_INIT;
    T_EQ_INT(hc_record_encode(&r, &enc), 0, "encode");
    T_EQ_INT(hc_record_decode(enc.data, enc.len, &d), 0, "decode");
    T_CHECK(!strcmp(d.response_id, "chatcmpl-abc") && !strcmp(d.finish_reasons, "stop,length"),
            "response_id (41) and finish_reasons (42) round-trip");
    r.response_id = r.finish_reasons = "";
    hc_buf_reset(&enc);
    T_EQ_INT(hc_record_encode(&r, &enc), 0, "encode without them (as older records)");
    T_EQ_INT(hc_record_decode(enc.data, enc.len, &d), 0, "decode");
    T_CHECK(d.response_id && !*d.response_id && d.finish_reasons && !*d.finish_reasons,
            "absent: \"\", never NULL");
    hc_buf_free(&enc);
}

static void params(void)
{
    static const char body[] =
        "{\"model\":\"m\",\"temperature\": 0.7 ,\"max_output_tokens\":100,"
        "\"top_p\":null,\"n\":2,\"seed\":\"x\",\"messages\":[{\"temperature\":9}]}";
    hc_request_info info;
    T_EQ_INT(hc_request_info_parse(HC_API_RESPONSES, NULL, 0, body, sizeof body - 1, &info), 0,
             "request parses");
    hc_pairs pl = { info.params, info.params_len };
    T_CHECK(
        !strcmp(hc_pairs_get(&pl, "temperature") ? hc_pairs_get(&pl, "temperature") : "", "0.7") &&
            !strcmp(hc_pairs_get(&pl, "max_tokens") ? hc_pairs_get(&pl, "max_tokens") : "",
                    "100") &&
            !strcmp(hc_pairs_get(&pl, "choice.count") ? hc_pairs_get(&pl, "choice.count") : "",
                    "2") &&
            !hc_pairs_get(&pl, "top_p") && !hc_pairs_get(&pl, "seed"),
        "params: top-level numbers kept under the conventions' names; null, strings and nested "
        "keys not");
    hc_record r = base();
    r.req_params = pl;
    hc_buf b = HC_BUF_INIT;
    T_EQ_INT(hc_otlp_span(&b, &r), 0, "span with params");
    cJSON *j = cJSON_Parse(b.data);
    const cJSON *t = attr(j, "gen_ai.request.temperature");
    T_CHECK(t && cJSON_GetObjectItem(t, "doubleValue") &&
                cJSON_GetObjectItem(t, "doubleValue")->valuedouble == 0.7,
            "gen_ai.request.temperature: a double");
    T_EQ_STR(sval(j, "gen_ai.request.max_tokens"), "100", "gen_ai.request.max_tokens: an int");
    T_EQ_STR(sval(j, "gen_ai.request.choice.count"), "2", "gen_ai.request.choice.count from n");
    cJSON_Delete(j);
    hc_buf_free(&b);
}

int main(void)
{
    spans();
    params();
    resource();
    headers();
    metrics();
    record_fields();
    return t_done();
}
