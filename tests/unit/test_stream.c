/* test_stream.c — SSE / NDJSON / JSON-array message splitting at every split point. */
#include "stream.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    hc_buf log;
    hc_buf raw;
} sink;

static void on_msg(void *ctx, const char *event, const char *data, size_t dlen, const char *raw,
                   size_t rlen)
{
    sink *s = ctx;
    hc_buf_printf(&s->log, "[%s|%.*s]", event, (int)dlen, data);
    hc_buf_append(&s->raw, raw, rlen);
}

static int run(enum hc_stream_kind k, const char *in, size_t step, const char *want, size_t max,
               bool raw_exact)
{
    hc_stream st;
    sink s = { HC_BUF_INIT, HC_BUF_INIT };
    hc_stream_init(&st, k, max);
    size_t n = strlen(in);
    for (size_t i = 0; i < n; i += step)
        hc_stream_feed(&st, in + i, n - i < step ? n - i : step, on_msg, &s);
    hc_stream_finish(&st, on_msg, &s);
    int ok = s.log.data && strcmp(s.log.data, want) == 0;
    if (ok && raw_exact)
        ok = s.raw.len == n && memcmp(s.raw.data, in, n) == 0;
    if (!ok)
        printf("# step %zu: got %s\n", step, s.log.data ? s.log.data : "(none)");
    hc_stream_free(&st);
    hc_buf_free(&s.log);
    hc_buf_free(&s.raw);
    return ok;
}

static void every_split(const char *name, enum hc_stream_kind k, const char *in, const char *want,
                        size_t max, bool raw_exact)
{
    int bad = 0;
    for (size_t step = 1; step <= strlen(in); step++)
        bad += !run(k, in, step, want, max, raw_exact);
    T_EQ_INT(bad, 0, "%s: same messages at every split", name);
}

/* The SSE line splitter shared with core/streamfix.c: feed `in` in runs of at
 * most `step` bytes; log each line end as 'L' and each event end as 'E'. */
static int lines_log(const char *in, size_t step, char *log, size_t cap)
{
    hc_sse_lines l;
    hc_sse_lines_init(&l);
    size_t n = strlen(in), k = 0, bytes = 0;
    for (size_t i = 0; i < n; i += step) {
        const char *p = in + i;
        size_t m = n - i < step ? n - i : step;
        while (m) {
            bool eol, blank;
            size_t run = hc_sse_lines_next(&l, p, m, &eol, &blank);
            if (run == 0 || run > m || (blank && !eol))
                return -1;
            bytes += run;
            if (eol && k + 1 < cap)
                log[k++] = blank ? 'E' : 'L';
            p += run;
            m -= run;
        }
    }
    log[k] = '\0';
    return bytes == n ? 0 : -1;
}

static void sse_lines_cases(void)
{
    static const struct {
        const char *in, *want;
    } c[] = {
        { "data: x\n\n", "LE" },
        { "data: x\r\n\r\n", "LE" }, /* a lone CR line is blank */
        { "a\n\r\r\n\n", "LLE" },    /* two CRs are a line, not a blank one */
        { "\n\n", "EE" },
        { "event: e\ndata: 1\ndata: 2\n\ntail", "LLLE" }, /* no LF: no line end */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int bad = 0;
        for (size_t step = 1; step <= strlen(c[i].in); step++) {
            char log[32];
            if (lines_log(c[i].in, step, log, sizeof log) || strcmp(log, c[i].want) != 0)
                bad++;
        }
        T_EQ_INT(bad, 0, "sse lines %zu: line and event ends are the same at every split", i);
    }
}

static void sse_field_case(const char *line, bool want_ok, const char *want_name,
                           const char *want_val)
{
    const char *name = NULL, *val = NULL;
    size_t nl = 0, vl = 0;
    bool ok = hc_sse_field(line, line + strlen(line), &name, &nl, &val, &vl);
    if (!want_ok) {
        T_CHECK(!ok, "sse field \"%s\": not a field", line);
        return;
    }
    T_CHECK(ok && nl == strlen(want_name) && memcmp(name, want_name, nl) == 0 &&
                vl == strlen(want_val) && memcmp(val, want_val, vl) == 0,
            "sse field \"%s\": name \"%s\", value \"%s\"", line, want_name, want_val);
}

int main(void)
{
    sse_lines_cases();
    sse_field_case("data: {\"a\":1}", true, "data", "{\"a\":1}");
    sse_field_case("data:{\"a\":1}\r", true, "data", "{\"a\":1}");
    sse_field_case("data:  two spaces", true, "data", " two spaces");
    sse_field_case("data", true, "data", "");
    sse_field_case("event: message_start", true, "event", "message_start");
    sse_field_case("id: 7: x", true, "id", "7: x");
    sse_field_case(": ping", false, NULL, NULL);
    sse_field_case("", false, NULL, NULL);
    sse_field_case("\r", false, NULL, NULL);
    every_split("sse openai", HC_STREAM_SSE,
                "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n",
                "[|{\"a\":1}][|{\"b\":2}][|[DONE]]", 0, true);
    every_split("sse anthropic events", HC_STREAM_SSE,
                "event: message_start\r\ndata: {\"x\":1}\r\n\r\n: ping\n\nevent: "
                "message_delta\ndata: {\"y\"\ndata: :2}\n\n",
                "[message_start|{\"x\":1}][|][message_delta|{\"y\"\n:2}]", 0, true);
    every_split("sse oversized skipped", HC_STREAM_SSE,
                "data: 0123456789012345678901234567890123456789\n\ndata: ok\n\n", "[|ok]", 20,
                false);
    every_split("ndjson", HC_STREAM_NDJSON, "{\"a\":1}\n\n{\"done\":true}\r\n{\"tail\":0}",
                "[|{\"a\":1}][|{\"done\":true}][|{\"tail\":0}]", 0, false);
    every_split("json array", HC_STREAM_JSON_ARRAY,
                "[{\"a\":\"]}\\\"\"},\r\n{\"b\":[1,{\"c\":2}]}\n]",
                "[|{\"a\":\"]}\\\"\"}][|{\"b\":[1,{\"c\":2}]}]", 0, false);
    T_EQ_INT(hc_stream_kind_for("text/event-stream; charset=utf-8", 32, "/v1/chat/completions"),
             HC_STREAM_SSE, "content type sse");
    T_EQ_INT(hc_stream_kind_for("application/json", 16,
                                "/v1beta/models/gemini-pro:streamGenerateContent"),
             HC_STREAM_JSON_ARRAY, "gemini array stream");
    T_EQ_INT(hc_stream_kind_for("application/json", 16, "/v1/chat/completions"), HC_STREAM_NONE,
             "plain json");
    return t_done();
}
