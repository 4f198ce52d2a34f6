/* test_core_streamfix.c — core/streamfix.h: include_usage injection and the
 * SSE filter that gives the app the stream it would have had without it.
 *
 * The filter's property: a realistic OpenAI chat stream generated WITH
 * include_usage (every chunk ending in ,"usage":null and a final usage-only
 * chunk) must come out byte-for-byte as the same stream generated WITHOUT it,
 * whatever the pieces the bytes arrive in (every size 1..N). Inputs are handed
 * over in heap blocks of exactly their size so ASan catches any over-read.
 */
#include "err.h"
#include "streamfix.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static char *dup_exact(const void *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    if (!d)
        abort();
    memcpy(d, p, n);
    return d;
}

/* ---- hc_inject_include_usage ----------------------------------------------- */

static const struct {
    const char *in;
    const char *want; /* NULL: no change (returns 0, out untouched) */
} inject_cases[] = {
    /* No stream_options: inserted right after '{', every other byte kept. */
    { "{\"model\":\"gpt-4o\",\"stream\":true}",
      "{\"stream_options\":{\"include_usage\":true},\"model\":\"gpt-4o\",\"stream\":true}" },
    { "{\"stream\":true}", "{\"stream_options\":{\"include_usage\":true},\"stream\":true}" },
    { "  {\n  \"model\" : \"gpt-4o\",\n  \"stream\" : true\n}\n",
      "  {\"stream_options\":{\"include_usage\":true},\n  \"model\" : \"gpt-4o\",\n  \"stream\" : "
      "true\n}\n" },
    { "{\"messages\":[{\"role\":\"user\",\"content\":\"say \\\"stream\\\":false "
      "{}\"}],\"stream\":true,\"n\":1.50e0}",
      "{\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":"
      "\"say \\\"stream\\\":false {}\"}],\"stream\":true,\"n\":1.50e0}" },
    { "{\"stream\":false,\"stream\":true}", /* duplicate keys: the last wins, as in JSON parsers */
      "{\"stream_options\":{\"include_usage\":true},\"stream\":false,\"stream\":true}" },
    /* stream_options present without include_usage / with it false: only its value changes. */
    { "{\"stream\":true,\"stream_options\":{}}",
      "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}" },
    { "{\"stream_options\":{\"include_obfuscation\":false},\"stream\":true}",
      "{\"stream_options\":{\"include_obfuscation\":false,\"include_usage\":true},\"stream\":"
      "true}" },
    { "{\"stream\":true,\"stream_options\":{\"include_usage\":false},\"model\":\"m\"}",
      "{\"stream\":true,\"stream_options\":{\"include_usage\":true},\"model\":\"m\"}" },
    { "{ \"stream\" : true , \"stream_options\" : { \"include_usage\" : false } }",
      "{ \"stream\" : true , \"stream_options\" : {\"include_usage\":true} }" },
    { "{\"stream\":true,\"stream_options\":{\"include_usage\":null}}",
      "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}" },
    /* "stream_options": null does not ask for usage (clients that serialise
     * every field send it): the value is replaced by an object that does. */
    { "{\"stream\":true,\"stream_options\":null}",
      "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}" },
    /* Already asked: no change. */
    { "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}", NULL },
    { "{\"stream_options\":{ \"include_usage\" : true },\"stream\":true}", NULL },
    /* Not streaming: no change. */
    { "{\"model\":\"gpt-4o\",\"stream\":false}", NULL },
    { "{\"model\":\"gpt-4o\"}", NULL },
    { "{\"stream\":\"true\"}", NULL },
    { "{\"stream\":1}", NULL },
    { "{\"metadata\":{\"stream\":true}}", NULL },         /* nested, not top-level */
    { "{\"messages\":[\"\\\"stream\\\":true\"]}", NULL }, /* inside a string */
    { "{}", NULL },
    /* Not an object / not JSON: no change. */
    { "[{\"stream\":true}]", NULL },
    { "\"stream\"", NULL },
    { "", NULL },
    { "   ", NULL },
    { "stream=true", NULL },
    { "{\"stream\":true", NULL },
    { "{\"stream\":true,", NULL },
    { "{\"stream\" true}", NULL },
    { "{stream:true}", NULL },
    { "{\"stream\":}", NULL },
    { "{\"stream\":true,\"stream_options\":[1]}", NULL },
    { "{\"stream\":true,\"stream_options\":{\"include_usage\":}}", NULL },
    /* Invalid JSON the member scanner might let through: must not be "fixed". */
    { "{\"stream\":true}}", NULL },
    { "{\"stream\":true} trailing", NULL },
    { "{\"stream\":true,}", NULL },
    { "{\"a\":1 \"stream\":true}", NULL },
};

static void test_inject(void)
{
    for (size_t i = 0; i < sizeof inject_cases / sizeof inject_cases[0]; i++) {
        const char *in = inject_cases[i].in, *want = inject_cases[i].want;
        size_t n = strlen(in);
        char *exact = dup_exact(in, n);
        hc_buf out = HC_BUF_INIT;
        int rc = hc_inject_include_usage(exact, n, &out);
        if (want) {
            T_EQ_INT(rc, 1, "inject %zu: changed", i);
            T_EQ_STR(out.data ? out.data : "", want, "inject %zu: body", i);
        } else {
            T_EQ_INT(rc, 0, "inject %zu: no change for %s", i, in);
            T_EQ_INT(out.len, 0, "inject %zu: out untouched", i);
        }
        hc_buf_free(&out);
        free(exact);
    }
}

/* ---- hc_sse_rewrite_json ------------------------------------------------------- */

static const struct {
    const char *in;
    int drop;
    const char *want; /* for drop == 0; NULL = same as input */
} rewrite_cases[] = {
    /* The usage-only chunk. */
    { "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_"
      "tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}",
      1, NULL },
    { "{\"id\":\"c1\",\"choices\":[ ],\"usage\":{\"prompt_tokens\":1}}", 1, NULL },
    { "{\"usage\":{\"total_tokens\":1}, \"choices\" : [\n]}", 1, NULL },
    /* A usage object with real choices is a content chunk: kept as is. */
    { "{\"choices\":[{\"index\":0,\"delta\":{}}],\"usage\":{\"total_tokens\":1}}", 0, NULL },
    /* A usage object without choices at all (not a chat chunk): kept. */
    { "{\"type\":\"x\",\"usage\":{\"total_tokens\":1}}", 0, NULL },
    /* "usage":null removed with exactly one comma, wherever it is. */
    { "{\"id\":\"c1\",\"choices\":[{\"index\":0}],\"usage\":null}", 0,
      "{\"id\":\"c1\",\"choices\":[{\"index\":0}]}" },
    { "{\"usage\":null,\"id\":\"c1\",\"choices\":[]}", 0, "{\"id\":\"c1\",\"choices\":[]}" },
    { "{\"a\":1,\"usage\":null,\"b\":2}", 0, "{\"a\":1,\"b\":2}" },
    { "{\"usage\":null}", 0, "{}" },
    { "{ \"usage\" : null }", 0, "{  }" }, /* only the member goes; the spaces around it stay */
    { "{\"a\":1, \"usage\": null, \"b\":2}", 0, "{\"a\":1, \"b\":2}" },
    { "{ \"usage\" : null , \"a\":1 }", 0, "{ \"a\":1 }" },
    { "{\"a\":\"x\" , \"usage\":null }", 0, "{\"a\":\"x\" }" },
    { "{\"a\":[1,{\"b\":\"}\"}],\"usage\":null,\"c\":{\"d\":[]}}", 0,
      "{\"a\":[1,{\"b\":\"}\"}],\"c\":{\"d\":[]}}" },
    /* Nested "usage" keys are not top-level members: untouched. */
    { "{\"choices\":[{\"delta\":{\"usage\":null}}],\"x\":{\"usage\":null}}", 0, NULL },
    /* Strings that contain "usage":null: untouched. */
    { "{\"choices\":[{\"delta\":{\"content\":\"\\\"usage\\\":null\"}}]}", 0, NULL },
    { "{\"note\":\"usage\",\"v\":null}", 0, NULL },
    { "{\"x\\\"usage\":null}", 0, NULL },
    /* A different key that merely contains usage: untouched. */
    { "{\"usage_details\":null,\"usage2\":null}", 0, NULL },
    /* usage with a non-null scalar: untouched. */
    { "{\"usage\":0}", 0, NULL },
    { "{\"usage\":\"null\"}", 0, NULL },
    /* Not an object / malformed: untouched. */
    { "[1,2]", 0, NULL },
    { "{\"usage\":null", 0, NULL },
    { "", 0, NULL },
};

static void test_rewrite(void)
{
    for (size_t i = 0; i < sizeof rewrite_cases / sizeof rewrite_cases[0]; i++) {
        const char *in = rewrite_cases[i].in;
        const char *want = rewrite_cases[i].want ? rewrite_cases[i].want : in;
        size_t n = strlen(in);
        char *exact = dup_exact(in, n);
        hc_buf out = HC_BUF_INIT;
        hc_buf_puts(&out, "stale"); /* out is reset by the call, not appended to */
        int rc = hc_sse_rewrite_json(exact, n, &out);
        T_EQ_INT(rc, rewrite_cases[i].drop, "rewrite %zu: %s", i,
                 rewrite_cases[i].drop ? "drop" : "keep");
        if (!rewrite_cases[i].drop)
            T_CHECK(
                out.len == strlen(want) && (out.len == 0 || memcmp(out.data, want, out.len) == 0),
                "rewrite %zu: json '%s' -> '%.*s'", i, in, (int)out.len, out.data ? out.data : "");
        hc_buf_free(&out);
        free(exact);
    }
}

/* ---- the filter ------------------------------------------------------------- */

/* A realistic OpenAI chat.completions stream. with_usage: each chunk carries
 * ,"usage":null before its closing brace and a usage-only chunk comes last
 * before [DONE], as OpenAI sends when stream_options.include_usage is true. */
static void gen_openai(hc_buf *b, bool with_usage, const char *eol)
{
    static const char *const pieces[] = {
        "",
        "Hello",
        "!",
        " The",
        " answer",
        " is",
        " \\\"usage\\\":null",
        " {\\\"a\\\":1}",
        " \\u00e9t\\u00e9",
        " line\\nbreak",
        " data: [DONE]",
        ".",
    };
    const char *u = with_usage ? ",\"usage\":null" : "";
    size_t np = sizeof pieces / sizeof pieces[0];
    for (size_t i = 0; i < np; i++) {
        hc_buf_printf(b,
                      "data: "
                      "{\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\","
                      "\"created\":1731000000,"
                      "\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\",\"system_"
                      "fingerprint\":\"fp_0ba0d124f1\","
                      "\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\"%s\",\"refusal\":null},"
                      "\"logprobs\":null,"
                      "\"finish_reason\":null}]%s}%s%s",
                      i == 0 ? "\"role\":\"assistant\"," : "", pieces[i], u, eol, eol);
    }
    hc_buf_printf(
        b,
        "data: "
        "{\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\",\"created\":1731000000,"
        "\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":"
        "\"fp_0ba0d124f1\","
        "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]%s}%"
        "s%s",
        u, eol, eol);
    if (with_usage)
        hc_buf_printf(b,
                      "data: "
                      "{\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\","
                      "\"created\":1731000000,"
                      "\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\",\"system_"
                      "fingerprint\":\"fp_0ba0d124f1\","
                      "\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":12,"
                      "\"total_tokens\":31,"
                      "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
                      "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                      "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}%s%s",
                      eol, eol);
    hc_buf_printf(b, "data: [DONE]%s%s", eol, eol);
}

/* Feed `in` in pieces of `step` bytes (each piece its own exact heap block);
 * returns the filter's whole output in *out and the dropped count. */
static void run_filter(const char *in, size_t n, size_t step, hc_buf *out, size_t *dropped,
                       bool finish)
{
    hc_sse_filter f;
    hc_sse_filter_init(&f);
    hc_buf_reset(out);
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        char *piece = dup_exact(in + i, k);
        if (hc_sse_filter_feed(&f, piece, k, out) != 0)
            printf("# feed failed at %zu\n", i);
        free(piece);
    }
    if (finish)
        hc_sse_filter_finish(&f, out);
    *dropped = f.dropped;
    hc_sse_filter_free(&f);
}

static bool same(const hc_buf *a, const char *b, size_t n)
{
    return a->len == n && (n == 0 || memcmp(a->data, b, n) == 0);
}

/* Every piece size 1..len: output == want, one usage chunk dropped. */
static void every_split(const char *name, const char *in, size_t n, const char *want, size_t wn,
                        size_t want_dropped)
{
    hc_buf out = HC_BUF_INIT;
    size_t bad = 0, bad_drop = 0, first_bad = 0;
    for (size_t step = 1; step <= n; step++) {
        size_t dropped;
        run_filter(in, n, step, &out, &dropped, true);
        if (!same(&out, want, wn)) {
            if (!bad)
                first_bad = step;
            bad++;
        }
        if (dropped != want_dropped)
            bad_drop++;
    }
    T_EQ_INT(bad, 0,
             "%s: output equals the stream without include_usage at every piece size (1..%zu)",
             name, n);
    if (bad) {
        size_t dropped;
        run_filter(in, n, first_bad, &out, &dropped, true);
        printf("# first bad step %zu, got %zu bytes:\n# %.*s\n", first_bad, out.len,
               (int)(out.len < 400 ? out.len : 400), out.data);
    }
    T_EQ_INT(bad_drop, 0, "%s: exactly %zu event(s) dropped at every piece size", name,
             want_dropped);
    hc_buf_free(&out);
}

static void test_filter_openai(void)
{
    static const char *const eols[] = { "\n", "\r\n" };
    for (size_t e = 0; e < 2; e++) {
        hc_buf with = HC_BUF_INIT, without = HC_BUF_INIT;
        gen_openai(&with, true, eols[e]);
        gen_openai(&without, false, eols[e]);
        /* The generator itself must differ, or the property below proves nothing. */
        T_CHECK(with.len > without.len + 200, "%s stream: include_usage version is longer",
                e ? "CRLF" : "LF");
        every_split(e ? "openai CRLF" : "openai LF", with.data, with.len, without.data, without.len,
                    1);
        /* A stream without include_usage passes through byte for byte. */
        every_split(e ? "no-usage CRLF passthrough" : "no-usage LF passthrough", without.data,
                    without.len, without.data, without.len, 0);
        hc_buf_free(&with);
        hc_buf_free(&without);
    }
}

/* Comment lines, other fields, non-JSON data and multi-line data pass unchanged;
 * the JSON events among them are still rewritten. */
static void test_filter_mixed(void)
{
    const char *in = ": ping\n\n"
                     ":\n\n"
                     "\n"
                     "retry: 3000\n\n"
                     "event: message\nid: 7\ndata: {\"choices\":[{\"index\":0}],\"usage\":null}\n\n"
                     ": keep-alive\r\n\r\n"
                     "data: not json, \"usage\":null\n\n"
                     "data: {\"a\":1,\n"
                     "data: \"usage\":null}\n\n"
                     "data:{\"choices\":[],\"usage\":null}\n\n"
                     "data: {\"choices\":[],\"usage\":{\"total_tokens\":5}}\r\n\r\n"
                     "data: [DONE]\n\n";
    const char *want = ": ping\n\n"
                       ":\n\n"
                       "\n"
                       "retry: 3000\n\n"
                       "event: message\nid: 7\ndata: {\"choices\":[{\"index\":0}]}\n\n"
                       ": keep-alive\r\n\r\n"
                       "data: not json, \"usage\":null\n\n"
                       "data: {\"a\":1,\n"
                       "data: \"usage\":null}\n\n"
                       "data:{\"choices\":[]}\n\n"
                       "data: [DONE]\n\n";
    every_split("comments/fields/multi-line", in, strlen(in), want, strlen(want), 1);
}

/* Events over the 1 MiB bound are forwarded as they come, unchanged (their
 * "usage":null stays); the events around them are still rewritten. */
static void test_filter_big(void)
{
    const size_t big = (1u << 20) + 4096;
    hc_buf in = HC_BUF_INIT, want = HC_BUF_INIT;
    const char *small_in = "data: {\"choices\":[{\"index\":0}],\"usage\":null}\n\n";
    const char *small_want = "data: {\"choices\":[{\"index\":0}]}\n\n";
    hc_buf_puts(&in, small_in);
    hc_buf_puts(&want, small_want);
    size_t big_start = in.len;
    hc_buf_puts(&in, "data: {\"choices\":[{\"delta\":{\"content\":\"");
    hc_buf_reserve(&in, big);
    for (size_t i = 0; i < big; i++)
        in.data[in.len++] = (char)('a' + i % 26);
    in.data[in.len] = '\0';
    hc_buf_puts(&in, "\"}}],\"usage\":null}\n\n");
    hc_buf_append(&want, in.data + big_start, in.len - big_start);
    /* A second oversized event made of many lines (a multi-line data event). */
    size_t big2 = in.len;
    for (int i = 0; i < 40000; i++)
        hc_buf_puts(&in, ": 0123456789012345678901234567890\r\n");
    hc_buf_puts(&in, "\r\n");
    hc_buf_append(&want, in.data + big2, in.len - big2);
    hc_buf_puts(&in, small_in);
    hc_buf_puts(&want, small_want);
    hc_buf_puts(&in, "data: {\"choices\":[],\"usage\":{\"total_tokens\":1}}\n\ndata: [DONE]\n\n");
    hc_buf_puts(&want, "data: [DONE]\n\n");

    static const size_t steps[] = { 1, 3, 100, 4096, 65536, 1u << 20, 3u << 20 };
    hc_buf out = HC_BUF_INIT;
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        size_t dropped;
        run_filter(in.data, in.len, steps[s], &out, &dropped, true);
        T_CHECK(same(&out, want.data, want.len),
                "oversized events unchanged, pieces of %zu (got %zu bytes, want %zu)", steps[s],
                out.len, want.len);
        T_EQ_INT(dropped, 1, "oversized: usage chunk still dropped, pieces of %zu", steps[s]);
    }

    /* While an oversized event streams, its bytes are forwarded as they come:
     * the filter holds at most the bound, not the event. */
    hc_sse_filter f;
    hc_sse_filter_init(&f);
    hc_buf_reset(&out);
    size_t held_max = 0;
    for (size_t i = 0; i < in.len; i += 65536) {
        size_t k = in.len - i < 65536 ? in.len - i : 65536;
        hc_sse_filter_feed(&f, in.data + i, k, &out);
        if (i + k - out.len > held_max)
            held_max = i + k - out.len;
    }
    T_CHECK(held_max <= (1u << 20) + 65536, "filter holds at most ~1 MiB (held %zu)", held_max);
    hc_sse_filter_free(&f);
    hc_buf_free(&out);
    hc_buf_free(&in);
    hc_buf_free(&want);
}

/* finish: a trailing partial event is flushed unchanged (not rewritten). */
static void test_filter_finish(void)
{
    static const struct {
        const char *in, *want_before_finish, *want_after_finish;
    } cases[] = {
        { "data: {\"choices\":[{\"index\":0}],\"usage\":null}\n\ndata: {\"a\":1,\"usage\":null}",
          "data: {\"choices\":[{\"index\":0}]}\n\n",
          "data: {\"choices\":[{\"index\":0}]}\n\ndata: {\"a\":1,\"usage\":null}" },
        { "data: {\"a\":1,\"usage\":null}\n", "", "data: {\"a\":1,\"usage\":null}\n" },
        { "data: {\"choices\":[],\"usage\":{\"total_tokens\":1}}\r\n", "",
          "data: {\"choices\":[],\"usage\":{\"total_tokens\":1}}\r\n" },
        { ": ping", "", ": ping" },
        { "", "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].in);
        for (size_t step = 1; step <= (n ? n : 1); step++) {
            hc_buf out = HC_BUF_INIT;
            size_t dropped;
            run_filter(cases[i].in, n, step, &out, &dropped, false);
            bool ok1 = same(&out, cases[i].want_before_finish, strlen(cases[i].want_before_finish));
            run_filter(cases[i].in, n, step, &out, &dropped, true);
            bool ok2 = same(&out, cases[i].want_after_finish, strlen(cases[i].want_after_finish));
            hc_buf_free(&out);
            if (!ok1 || !ok2 || step == n || n == 0) {
                /* One line per case (or the first failing split). */
                T_CHECK(ok1, "finish %zu (pieces of %zu): partial event held before finish", i,
                        step);
                T_CHECK(ok2, "finish %zu (pieces of %zu): flushed unchanged by finish", i, step);
                break;
            }
        }
    }
    /* After finish, the filter is empty: a second finish adds nothing. */
    hc_sse_filter f;
    hc_sse_filter_init(&f);
    hc_buf out = HC_BUF_INIT;
    hc_sse_filter_feed(&f, "data: x", 7, &out);
    hc_sse_filter_finish(&f, &out);
    hc_sse_filter_finish(&f, &out);
    T_CHECK(same(&out, "data: x", 7), "second finish adds nothing");
    hc_sse_filter_free(&f);
    hc_buf_free(&out);
}

int main(void)
{
    test_inject();
    test_rewrite();
    test_filter_openai();
    test_filter_mixed();
    test_filter_big();
    test_filter_finish();
    return t_done();
}
