/* test_dashboard_units.c — the dashboard's pure modules: SHA-256 (CSP hashes),
 * the HTML-safe JSON stream (split at every byte offset), query-string
 * decoding, request-prompt extraction and the option parsers. The page and
 * the server as a whole are tested in tests/integ/test_dashboard.py. */
#include "analyzer/httpd.c"
#include "analyzer/prompt.c"
#include "analyzer/sha256.c"
#include "analyzer/utf8.c"
#include "analyzer/webassets.c"
#include "analyzer/webpage.c"
#include "t.h"

#include <stdlib.h>

static void test_sha256(void)
{
    static const struct {
        const char *in;
        const char *b64;
    } v[] = {
        { "", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
        { "abc", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "JI1qYdIGOLjlwCaTDD5gOaM85Flk/yFn9uzt1BnbBsE=" },
    };
    char out[SHA256_B64_LEN];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        T_EQ_STR(sha256_b64(v[i].in, strlen(v[i].in), out), v[i].b64, "sha256 of a %zu-byte vector",
                 strlen(v[i].in));
    /* Around the padding boundaries (55/56 and 119/120 bytes): well-formed and
     * distinct for every length; one known value where padding takes a block. */
    char a[130], d1[SHA256_B64_LEN], d2[SHA256_B64_LEN];
    memset(a, 'a', sizeof a);
    int distinct = 1;
    for (size_t n = 50; n < 130; n++) {
        sha256_b64(a, n, d1);
        sha256_b64(a, n + 1, d2);
        distinct &= strcmp(d1, d2) != 0 && strlen(d1) == 44 && d1[43] == '=';
    }
    T_CHECK(distinct,
            "sha256: 50..130-byte inputs (padding boundaries) give distinct 44-char digests");
    T_EQ_STR(sha256_b64(a, 56, d1), "s1Q5pKxvCUi21vnjxq8PX1kM4g8b3nCQ73lwaG7Gc4o=",
             "sha256 of 56 'a' (two padding blocks)");
}

/* Write in through webpage_json_stream() in pieces of `step` bytes. */
static char *through_stream(const char *in, size_t n, size_t step)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    FILE *j = webpage_json_stream(m);
    setvbuf(j, NULL, _IONBF, 0); /* every fwrite reaches the cookie as is */
    for (size_t i = 0; i < n; i += step)
        fwrite(in + i, 1, i + step <= n ? step : n - i, j);
    fclose(j);
    fclose(m);
    return buf;
}

static void test_json_stream(void)
{
    static const char in[] = "{\"a\":\"<script>&x</script> "
                             "\xe2\x80\xa8|\xe2\x80\xa9|\xe2\x80\xaa|\xe2\x82\xac|\xe2\"}\xe2\x80";
    static const char want[] =
        "{\"a\":\"\\u003cscript\\u003e\\u0026x\\u003c/script\\u003e \\u2028|\\u2029|"
        "\xe2\x80\xaa|\xe2\x82\xac|\xe2\"}\xe2\x80";
    int ok = 1;
    for (size_t step = 1; step <= sizeof in; step++) {
        char *got = through_stream(in, sizeof in - 1, step);
        if (strcmp(got, want) != 0) {
            ok = 0;
            printf("#   step %zu: %s\n", step, got);
        }
        free(got);
    }
    T_CHECK(ok, "json stream: < > & U+2028 U+2029 escaped, other bytes kept, at every split");
    char csp[600];
    webpage_csp(WEBPAGE_STATIC, csp, sizeof csp);
    T_CHECK(strstr(csp, "default-src 'none'") && strstr(csp, "connect-src 'none'") &&
                !strstr(csp, "unsafe"),
            "csp (static): nothing but the hashed script and style");
    webpage_csp(WEBPAGE_LIVE, csp, sizeof csp);
    T_CHECK(strstr(csp, "connect-src 'self'") != NULL, "csp (live): fetches to the server only");
    T_CHECK(!strstr(webassets_js, "innerHTML") && !strstr(webassets_js, "outerHTML") &&
                !strstr(webassets_js, "insertAdjacentHTML") &&
                !strstr(webassets_js, "document.write") && !strstr(webassets_js, "eval("),
            "the page's script has no markup sink");
    T_CHECK(!strstr(webassets_js, "</script") && !strstr(webassets_css, "</style"),
            "the assets cannot end their element");
}

static void test_query(void)
{
    static const struct {
        const char *q;
        const char *pairs;
        int rc;
    } v[] = {
        { "", "", 0 },
        { "a=1&b=2", "a=1|b=2|", 0 },
        { "&&a=%41%42+c&&", "a=AB c|", 0 },
        { "k", "k=|", 0 },
        { "where=Env%3Dci", "where=Env=ci|", 0 },
        { "x=%4", "", HC_EPARSE },
        { "x=%zz", "", HC_EPARSE },
        { "x=%00", "", HC_EPARSE },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        hc_buf n = HC_BUF_INIT, val = HC_BUF_INIT, all = HC_BUF_INIT;
        size_t pos = 0;
        int rc;
        while ((rc = httpd_query_next(v[i].q, strlen(v[i].q), &pos, &n, &val)) == 1)
            hc_buf_printf(&all, "%s=%s|", n.data, val.data);
        T_CHECK(rc == v[i].rc && strcmp(all.data ? all.data : "", v[i].pairs) == 0, "query '%s'",
                v[i].q);
        hc_buf_free(&n);
        hc_buf_free(&val);
        hc_buf_free(&all);
    }
    T_EQ_STR(httpd_reason(431), "Request Header Fields Too Large", "reason phrases");
}

static int join(void *ctx, const char *role, const char *text, size_t len)
{
    hc_buf_printf(ctx, "[%s]%.*s", role, (int)len, text);
    return 0;
}

static void test_prompt(void)
{
    static const struct {
        const char *body;
        const char *msgs;
        const char *excerpt;
    } v[] = {
        { "{\"messages\":[{\"role\":\"system\",\"content\":\"be "
          "brief\"},{\"role\":\"user\",\"content\":\"hi  there\\n you\"},"
          "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"function\":{\"name\":"
          "\"get\"}}]}]}",
          "[system]be brief[user]hi  there\n you[assistant][tool call: get]", "hi there you" },
        { "{\"system\":[{\"type\":\"text\",\"text\":\"S\"}],\"messages\":[{\"role\":\"user\","
          "\"content\":"
          "[{\"type\":\"text\",\"text\":\"look\"},{\"type\":\"image\",\"source\":{}}]}]}",
          "[system]S[user]look\n[image]", "look [image]" },
        { "{\"instructions\":\"I\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_"
          "text\",\"text\":\"q\"}]}]}",
          "[system]I[user]q", "q" },
        { "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"g\"}]},{\"role\":\"model\","
          "\"parts\":[{\"text\":\"m\"}]}]}",
          "[user]g[model]m", "g" },
        { "{\"model\":\"llama3\",\"prompt\":\"gen\"}", "[user]gen", "gen" },
        { "{\"input\":[\"a\",\"b\"]}", "[input]a[input]b", "b" },
        { "{\"foo\":1}", "", "" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9llo w\\u00f6rld and more\"}]}",
          "[user]h\xc3\xa9llo w\xc3\xb6rld and more", "h\xc3\xa9llo w\xc3\xb6rld\xe2\x80\xa6" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        hc_buf m = HC_BUF_INIT, e = HC_BUF_INIT;
        int n = prompt_messages(v[i].body, strlen(v[i].body), join, &m);
        T_CHECK(n >= 0 && strcmp(m.data ? m.data : "", v[i].msgs) == 0, "prompt messages #%zu", i);
        prompt_excerpt(v[i].body, strlen(v[i].body), i == 7 ? 14 : 200, &e);
        T_EQ_STR(e.data, v[i].excerpt, "prompt excerpt #%zu", i);
        hc_buf_free(&m);
        hc_buf_free(&e);
    }
    hc_buf e = HC_BUF_INIT;
    T_EQ_INT(prompt_messages("{\"messages\":[", 13, join, &e), HC_EPARSE,
             "a body cut at the capture bound is not JSON");
    prompt_excerpt("  {\"messages\":[{\"role\":\"user\",\"conte", 36, 12, &e);
    T_EQ_STR(e.data, "{\"messages\":\xe2\x80\xa6", "its excerpt is the raw text, cut");
    hc_buf_free(&e);
}

int main(void)
{
    test_sha256();
    test_json_stream();
    test_query();
    test_prompt();
    return t_done();
}
