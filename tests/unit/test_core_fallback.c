/* test_core_fallback.c — core/fallback.c: status-code lists, the two
 * fallback spellings (Helicone-Fallback-Model and Helicone-Fallbacks), their
 * parse errors (each must name the entry and never echo a header value that
 * may hold a key), $VAR expansion, and body key overrides. Pure functions:
 * no store, no network. */
#include "err.h"
#include "fallback.h"
#include "record.h"
#include "t.h"

#include <stdlib.h>

static void test_codes(void)
{
    hc_codes c;
    T_EQ_INT(hc_codes_parse("429,500-599", &c), 0, "429,500-599 parses");
    T_CHECK(hc_codes_has(&c, 429) && hc_codes_has(&c, 500) && hc_codes_has(&c, 599),
            "…holds 429, 500 and 599");
    T_CHECK(!hc_codes_has(&c, 428) && !hc_codes_has(&c, 499) && !hc_codes_has(&c, 0),
            "…not 428, 499 or 0");
    T_CHECK(!hc_codes_has(&c, 600) && !hc_codes_has(&c, -1),
            "out-of-range statuses are never in a list");
    T_EQ_INT(hc_codes_parse(" 0 , 503 ", &c), 0, "spaces and 0 (connection failure) are accepted");
    T_CHECK(hc_codes_has(&c, 0) && hc_codes_has(&c, 503) && !hc_codes_has(&c, 502),
            "…exactly 0 and 503");
    T_EQ_INT(hc_codes_parse("", &c), HC_EINVAL, "an empty list is an error");
    T_EQ_INT(hc_codes_parse(",,", &c), HC_EINVAL, "only commas is an error");
    T_EQ_INT(hc_codes_parse("600", &c), HC_EINVAL, "600 is out of range");
    T_EQ_INT(hc_codes_parse("-1", &c), HC_EINVAL, "a negative code is an error");
    T_EQ_INT(hc_codes_parse("599-500", &c), HC_EINVAL, "a reversed range is an error");
    T_EQ_INT(hc_codes_parse("500-", &c), HC_EINVAL, "a range without an end is an error");
    T_EQ_INT(hc_codes_parse("429;500", &c), HC_EINVAL, "a wrong separator is an error");
    T_EQ_INT(hc_codes_parse("4xx", &c), HC_EINVAL, "trailing letters are an error");
    T_EQ_INT(hc_codes_parse(HC_FALLBACK_ON_DEFAULT, &c), 0, "the default list parses");
    T_CHECK(hc_codes_has(&c, 429) && hc_codes_has(&c, 504) && !hc_codes_has(&c, 501),
            "…429..504 without 501");
}

static void test_expand_env(void)
{
    setenv("HC_T_FB_KEY", "sk-test-123", 1);
    unsetenv("HC_T_FB_UNSET");
    hc_buf b = HC_BUF_INIT;
    T_EQ_INT(hc_expand_env("Bearer $HC_T_FB_KEY", &b), 0, "$VAR expands");
    T_EQ_STR(b.data, "Bearer sk-test-123", "…to its value");
    hc_buf_reset(&b);
    T_EQ_INT(hc_expand_env("<${HC_T_FB_KEY}>", &b), 0, "${VAR} expands");
    T_EQ_STR(b.data, "<sk-test-123>", "…inside other text");
    hc_buf_reset(&b);
    T_EQ_INT(hc_expand_env("a$HC_T_FB_UNSET.b", &b), 0, "an undefined variable expands");
    T_EQ_STR(b.data, "a.b", "…to nothing");
    hc_buf_free(&b);
}

static hc_opts opts(const char *model, const char *on, const char *list)
{
    hc_opts o;
    memset(&o, 0, sizeof o);
    snprintf(o.fallback_model, sizeof o.fallback_model, "%s", model);
    snprintf(o.fallback_on, sizeof o.fallback_on, "%s", on);
    o.fallbacks = list ? strdup(list) : NULL;
    return o;
}

/* Build, and return the rc with err copied out; the list is freed. */
static int build_err(const char *model, const char *on, const char *list, char *err, size_t errlen)
{
    hc_opts o = opts(model, on, list);
    hc_fallback f[HC_MAX_FALLBACKS];
    int n = 0;
    int rc = hc_fallbacks_build(&o, f, HC_MAX_FALLBACKS, &n, err, errlen);
    hc_fallbacks_free(f, n);
    free(o.fallbacks);
    return rc;
}

static void test_build(void)
{
    hc_fallback f[HC_MAX_FALLBACKS];
    int n = -1;
    char err[256];

    hc_opts o = opts("", "", NULL);
    T_EQ_INT(hc_fallbacks_build(&o, f, HC_MAX_FALLBACKS, &n, err, sizeof err), 0,
             "no fallback configured");
    T_EQ_INT(n, 0, "…gives an empty list");

    o = opts("gpt-4o-mini", HC_FALLBACK_ON_DEFAULT, NULL);
    T_EQ_INT(hc_fallbacks_build(&o, f, HC_MAX_FALLBACKS, &n, err, sizeof err), 0,
             "a model fallback builds");
    T_EQ_INT(n, 1, "…one entry");
    T_CHECK(!f[0].has_target, "…on the request's own target");
    T_CHECK(hc_codes_has(&f[0].codes, 503) && !hc_codes_has(&f[0].codes, 400),
            "…tried on 503, not on 400");
    hc_buf body = HC_BUF_INIT;
    const char *req =
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    T_EQ_INT(hc_fallback_body(&f[0], req, strlen(req), &body), 1, "its body is rewritten");
    T_EQ_STR(body.data,
             "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
             "…only the model changes, every other byte kept");
    hc_buf_reset(&body);
    T_EQ_INT(hc_fallback_body(&f[0], "not json", 8, &body), HC_EPARSE,
             "a non-JSON body cannot take an override");
    hc_fallbacks_free(f, n);
    T_CHECK(f[0].override == NULL, "free clears the override");

    setenv("HC_T_FB_KEY", "sk-groq-9", 1);
    o = opts("m2", "429",
             "[{\"target-url\":\"https://api.groq.com/openai\","
             "\"headers\":{\"Authorization\":\"Bearer $HC_T_FB_KEY\"},"
             "\"onCodes\":[429,{\"from\":500,\"to\":502}],"
             "\"bodyKeyOverride\":{\"model\":\"llama\",\"temperature\":0}},"
             "{\"target-url\":\"http://127.0.0.1:8080/v1\"}]");
    T_EQ_INT(hc_fallbacks_build(&o, f, HC_MAX_FALLBACKS, &n, err, sizeof err), 0,
             "both spellings build (%s)", err);
    T_EQ_INT(n, 3, "…model fallback first, then the two targets");
    T_CHECK(!f[0].has_target && hc_codes_has(&f[0].codes, 429) && !hc_codes_has(&f[0].codes, 500),
            "entry 0 is the model fallback with its own codes");
    T_CHECK(f[1].has_target && f[1].target.tls && f[1].target.port == 443,
            "entry 1: https, port 443");
    T_EQ_STR(f[1].target.host, "api.groq.com", "…host api.groq.com");
    T_EQ_STR(f[1].target.prefix, "/openai", "…path prefix /openai");
    hc_pairs hp = { f[1].headers.data, (uint32_t)f[1].headers.len };
    T_EQ_STR(hc_pairs_get(&hp, "Authorization"), "Bearer sk-groq-9",
             "…its header value is taken from the environment");
    T_CHECK(hc_codes_has(&f[1].codes, 429) && hc_codes_has(&f[1].codes, 501) &&
                !hc_codes_has(&f[1].codes, 503),
            "…onCodes: 429 and 500..502 only");
    T_CHECK(f[2].has_target && !f[2].target.tls && f[2].target.port == 8080,
            "entry 2: plain http on 8080");
    T_CHECK(hc_codes_has(&f[2].codes, 502) && !hc_codes_has(&f[2].codes, 501),
            "…no onCodes: the default list");
    T_CHECK(f[2].override == NULL, "…no override");
    hc_buf_reset(&body);
    T_EQ_INT(hc_fallback_body(&f[2], req, strlen(req), &body), 0,
             "nothing to change: body untouched");
    T_EQ_INT(body.len, 0, "…and nothing written");
    T_EQ_INT(hc_fallback_body(&f[1], req, strlen(req), &body), 1, "several overrides apply");
    T_CHECK(body.data && strstr(body.data, "\"model\":\"llama\"") &&
                strstr(body.data, "\"temperature\":0") && strstr(body.data, "\"messages\""),
            "…model replaced, temperature added, messages kept");
    hc_buf_free(&body);
    hc_fallbacks_free(f, n);
    free(o.fallbacks);
}

static void test_build_errors(void)
{
    char err[256];
    T_EQ_INT(build_err("m", "429,abc", NULL, err, sizeof err), HC_EINVAL,
             "bad Helicone-Fallback-OnCodes");
    T_CHECK(strstr(err, "Helicone-Fallback-OnCodes") && !strstr(err, "abc"),
            "…named, value not echoed (%s)", err);
    T_EQ_INT(build_err("", "", "{\"target-url\":\"https://x\"}", err, sizeof err), HC_EINVAL,
             "an object, not a list");
    T_CHECK(strstr(err, "JSON array") != NULL, "…says a JSON array is expected (%s)", err);
    T_EQ_INT(build_err("", "", "[", err, sizeof err), HC_EINVAL, "truncated JSON");
    T_EQ_INT(build_err("", "", "[{\"headers\":{}}]", err, sizeof err), HC_EINVAL,
             "an entry without target-url");
    T_CHECK(strstr(err, "entry 0") && strstr(err, "target-url"),
            "…names entry 0 and the field (%s)", err);
    T_EQ_INT(build_err("", "", "[{\"target-url\":\"https://a\"},{\"target-url\":\"ftp://b\"}]", err,
                       sizeof err),
             HC_EINVAL, "a non-http target-url");
    T_CHECK(strstr(err, "entry 1") != NULL, "…names entry 1 (%s)", err);
    T_EQ_INT(build_err("", "", "[{\"target-url\":\"https://user:sekrit@host\"}]", err, sizeof err),
             HC_EINVAL, "credentials in target-url are refused");
    T_CHECK(!strstr(err, "sekrit"), "…and the password is not in the message (%s)", err);
    T_EQ_INT(build_err("", "", "[{\"target-url\":\"https://a\",\"headers\":[]}]", err, sizeof err),
             HC_EINVAL, "headers not an object");
    T_EQ_INT(build_err("", "", "[{\"target-url\":\"https://a\",\"headers\":{\"X\":\"a\\nb\"}}]",
                       err, sizeof err),
             HC_EINVAL, "a multi-line header value (header injection)");
    T_EQ_INT(build_err("", "", "[{\"target-url\":\"https://a\",\"headers\":{\"X\":1}}]", err,
                       sizeof err),
             HC_EINVAL, "a numeric header value");
    T_EQ_INT(build_err("", "", "[{\"target-url\":\"https://a\",\"onCodes\":429}]", err, sizeof err),
             HC_EINVAL, "onCodes not an array");
    T_EQ_INT(build_err("", "",
                       "[{\"target-url\":\"https://a\",\"onCodes\":[{\"from\":600,\"to\":500}]}]",
                       err, sizeof err),
             HC_EINVAL, "a reversed code range");
    T_EQ_INT(build_err("", "", "[{\"target-url\":\"https://a\",\"onCodes\":[{\"from\":500}]}]", err,
                       sizeof err),
             HC_EINVAL, "a code range without to");
    T_EQ_INT(build_err("", "", "[{\"target-url\":\"https://a\",\"onCodes\":[\"429\"]}]", err,
                       sizeof err),
             HC_EINVAL, "a code as a string");
    T_EQ_INT(build_err("", "", "[{\"target-url\":\"https://a\",\"bodyKeyOverride\":[1]}]", err,
                       sizeof err),
             HC_EINVAL, "bodyKeyOverride not an object");
    char many[2048] = "[";
    for (int i = 0; i < HC_MAX_FALLBACKS + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many),
                 "%s{\"target-url\":\"https://h%d\"}", i ? "," : "", i);
    snprintf(many + strlen(many), sizeof many - strlen(many), "]");
    T_EQ_INT(build_err("", "", many, err, sizeof err), HC_EINVAL,
             "more than HC_MAX_FALLBACKS entries");
    T_CHECK(strstr(err, "at most") != NULL, "…says the limit (%s)", err);
    /* The model fallback takes one slot: with max 1, a list of one overflows. */
    hc_opts o = opts("m", HC_FALLBACK_ON_DEFAULT, "[{\"target-url\":\"https://a\"}]");
    hc_fallback f[1];
    int n = 0;
    T_EQ_INT(hc_fallbacks_build(&o, f, 1, &n, err, sizeof err), HC_EINVAL,
             "the model fallback counts towards max");
    T_EQ_INT(n, 1, "…the list holds what was built (freed by the caller)");
    hc_fallbacks_free(f, n);
    free(o.fallbacks);
}

int main(void)
{
    test_codes();
    test_expand_env();
    test_build();
    test_build_errors();
    return t_done();
}
