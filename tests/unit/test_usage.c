/* test_usage.c — provider/API detection, request info and token usage.
 *
 * Golden fixtures: tests/fixtures/usage/<provider>/<case>/ holds request.json,
 * one response.{json,sse,ndjson,jsonarray} and expect.json. Every case checks
 * host → provider (the directory name), path → API, the request info, and the
 * usage read from the response: whole bodies through hc_usage_from_body (and
 * hc_usage_from_tail), streams through stream.h fed in pieces of every size
 * 1..64 bytes. Each case also pins the cost of that usage: the model is looked
 * up in the built-in price table as core/capture.c does it (the model the
 * response names, else the requested one; the requested one again if the
 * response's is unpriced), and expect.json gives either the row it must hit
 * ("price_provider", "price_model") and the exact "cost_nusd" (computed by hand
 * from data/prices.tsv, not by this code), or "cost_nusd": null with
 * "unpriced": true (no row matches) or "no_usage": true (nothing to price).
 * Then tables: detection, request bodies, and hostile input.
 *
 * Every input is handed over in a heap block of exactly its size (no NUL
 * after it), so that an ASan build catches any read past the end.
 */
#include "err.h"
#include "pricing.h"
#include "provider.h"
#include "stream.h"
#include "usage.h"
#include "t.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FIXTURES "tests/fixtures/usage"

/* ---- helpers -------------------------------------------------------------- */

static char *dup_exact(const void *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    if (!d)
        abort();
    memcpy(d, p, n);
    return d;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long n = ftell(f);
    rewind(f);
    char *b = malloc(n > 0 ? (size_t)n : 1);
    if (!b || (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n)) {
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the subdirectories of dir (caller frees each and the array). */
static char **list_dirs(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    char **v = NULL;
    size_t cap = 0;
    struct dirent *de;
    *n = 0;
    if (!d)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            v = realloc(v, cap * sizeof *v);
            if (!v)
                abort();
        }
        v[(*n)++] = strdup(de->d_name);
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static const char *jstr(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(it) ? it->valuestring : dflt;
}

static long long jnum(const cJSON *o, const char *k, long long dflt)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(it) ? (long long)it->valuedouble : dflt;
}

static bool jbool(const cJSON *o, const char *k, bool dflt)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsBool(it) ? cJSON_IsTrue(it) : dflt;
}

static bool usage_eq(const hc_usage *a, const hc_usage *b)
{
    return a->tok.in == b->tok.in && a->tok.out == b->tok.out && a->tok.cached == b->tok.cached &&
           a->tok.cw5m == b->tok.cw5m && a->tok.cw1h == b->tok.cw1h &&
           a->tok.reasoning == b->tok.reasoning && a->found == b->found &&
           strcmp(a->model, b->model) == 0 && strcmp(a->finish, b->finish) == 0;
}

static void print_usage(const char *what, const hc_usage *u)
{
    printf("#   %s: found=%d in=%lld out=%lld cached=%lld cw5m=%lld cw1h=%lld reasoning=%lld "
           "model=\"%s\" finish=\"%s\"\n",
           what, u->found, (long long)u->tok.in, (long long)u->tok.out, (long long)u->tok.cached,
           (long long)u->tok.cw5m, (long long)u->tok.cw1h, (long long)u->tok.reasoning, u->model,
           u->finish);
}

/* ---- streams -------------------------------------------------------------- */

typedef struct {
    enum hc_api api;
    hc_usage u;
    int errors, messages;
} stream_ctx;

static void on_msg(void *ctx, const char *event, const char *data, size_t dlen, const char *raw,
                   size_t rlen)
{
    stream_ctx *c = ctx;
    char *copy = dup_exact(data, dlen);
    c->messages++;
    if (hc_usage_from_message(c->api, event, copy, dlen, &c->u) != 0)
        c->errors++;
    free(copy);
}

/* Feed body in pieces of `step` bytes; the result in *out. */
static int run_stream(enum hc_stream_kind kind, enum hc_api api, const char *body, size_t len,
                      size_t step, hc_usage *out, int *messages)
{
    hc_stream st;
    stream_ctx c;
    memset(&c, 0, sizeof c);
    c.api = api;
    hc_usage_init(&c.u);
    hc_stream_init(&st, kind, 0);
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step;
        char *piece = dup_exact(body + i, n);
        if (hc_stream_feed(&st, piece, n, on_msg, &c) != 0)
            c.errors++;
        free(piece);
    }
    hc_stream_finish(&st, on_msg, &c);
    hc_stream_free(&st);
    *out = c.u;
    if (messages)
        *messages = c.messages;
    return c.errors;
}

/* ---- one fixture ---------------------------------------------------------- */

static void check_usage(const char *name, const char *how, const hc_usage *u, const cJSON *ex)
{
    T_EQ_INT(u->found, jbool(ex, "found", true), "%s: %s: usage found", name, how);
    T_EQ_INT(u->tok.in, jnum(ex, "in", -1), "%s: %s: in", name, how);
    T_EQ_INT(u->tok.out, jnum(ex, "out", -1), "%s: %s: out", name, how);
    T_EQ_INT(u->tok.cached, jnum(ex, "cached", -1), "%s: %s: cached", name, how);
    T_EQ_INT(u->tok.cw5m, jnum(ex, "cw5m", -1), "%s: %s: cw5m", name, how);
    T_EQ_INT(u->tok.cw1h, jnum(ex, "cw1h", -1), "%s: %s: cw1h", name, how);
    T_EQ_INT(u->tok.reasoning, jnum(ex, "reasoning", -1), "%s: %s: reasoning", name, how);
    T_EQ_STR(u->model, jstr(ex, "model", ""), "%s: %s: model", name, how);
    T_EQ_STR(u->finish, jstr(ex, "finish", ""), "%s: %s: finish", name, how);
}

/* The cost of one fixture's usage, priced as core/capture.c finish_cost() does. */
static void check_cost(const char *name, const char *provider, const char *model_req,
                       const hc_usage *u, const cJSON *ex)
{
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(ex, "cost_nusd");
    bool unpriced = jbool(ex, "unpriced", false), no_usage = jbool(ex, "no_usage", false);

    T_CHECK(
        want && (cJSON_IsNull(want)
                     ? unpriced + no_usage == 1
                     : cJSON_IsNumber(want) && !unpriced && !no_usage && want->valuedouble >= 0 &&
                           want->valuedouble < 9007199254740992.0 &&
                           want->valuedouble == (double)(long long)want->valuedouble),
        "%s: expect.json has cost_nusd: an integer, or null with exactly one of unpriced/no_usage",
        name);
    if (!want)
        return;
    if (!u->found) {
        T_CHECK(no_usage && cJSON_IsNull(want), "%s: no usage, so no cost (no_usage)", name);
        return;
    }
    T_CHECK(!no_usage, "%s: usage found, so there is something to price", name);

    const char *model = u->model[0] ? u->model : model_req;
    const hc_price *p = model[0] ? hc_price_lookup(provider, model) : NULL;
    if (!p && model_req[0] && model != model_req)
        p = hc_price_lookup(provider, model_req);
    if (unpriced) {
        T_CHECK(p == NULL, "%s: \"%s\" is unpriced (got row %s/%s)", name, model,
                p ? p->provider : "-", p ? p->model : "-");
        return;
    }
    T_CHECK(p != NULL, "%s: \"%s\" has a price row", name, model);
    if (!p || !cJSON_IsNumber(want))
        return;
    T_EQ_STR(p->provider, jstr(ex, "price_provider", "?"),
             "%s: \"%s\" is priced by the row of provider", name, model);
    T_EQ_STR(p->model, jstr(ex, "price_model", "?"), "%s: \"%s\" is priced by the row of model",
             name, model);
    T_EQ_INT(hc_cost_nusd(p, &u->tok), (long long)want->valuedouble, "%s: cost in nano-USD", name);
}

static const struct {
    const char *ext, *content_type;
    enum hc_stream_kind kind;
} resp_kinds[] = {
    { "json", "application/json", HC_STREAM_NONE },
    { "sse", "text/event-stream; charset=utf-8", HC_STREAM_SSE },
    { "ndjson", "application/x-ndjson", HC_STREAM_NDJSON },
    { "jsonarray", "application/json; charset=UTF-8", HC_STREAM_JSON_ARRAY },
};

static int run_case(const char *provider, const char *cname)
{
    char dir[1024], path[1100], name[300];
    size_t exlen = 0, reqlen = 0, resplen = 0;
    char *exbuf, *req, *resp = NULL;
    size_t ri;

    snprintf(dir, sizeof dir, FIXTURES "/%s/%s", provider, cname);
    snprintf(name, sizeof name, "%s/%s", provider, cname);
    snprintf(path, sizeof path, "%s/expect.json", dir);
    exbuf = read_file(path, &exlen);
    cJSON *ex = exbuf ? cJSON_ParseWithLength(exbuf, exlen) : NULL;
    snprintf(path, sizeof path, "%s/request.json", dir);
    req = read_file(path, &reqlen);
    for (ri = 0; ri < sizeof resp_kinds / sizeof resp_kinds[0]; ri++) {
        snprintf(path, sizeof path, "%s/response.%s", dir, resp_kinds[ri].ext);
        if ((resp = read_file(path, &resplen)) != NULL)
            break;
    }
    T_CHECK(ex && req && resp, "%s: expect.json, request.json and a response file are readable",
            name);
    if (!ex || !req || !resp)
        goto out;

    const char *host = jstr(ex, "host", "");
    const char *target = jstr(ex, "path", "");
    T_EQ_STR(hc_provider_for_host(host, (int)jnum(ex, "port", 443)), provider, "%s: provider of %s",
             name, host);

    char *tcopy = dup_exact(target, strlen(target));
    enum hc_api api = hc_api_detect("POST", tcopy, strlen(target));
    T_EQ_STR(hc_api_name(api), jstr(ex, "api", "?"), "%s: api of %s", name, target);

    hc_request_info info;
    int rc = hc_request_info_parse(api, tcopy, strlen(target), req, reqlen, &info);
    free(tcopy);
    T_EQ_INT(rc, 0, "%s: request parses", name);
    T_EQ_STR(info.model, jstr(ex, "model_req", ""), "%s: requested model", name);
    T_EQ_INT(info.stream, jbool(ex, "stream", false), "%s: request streams", name);
    T_EQ_INT(info.include_usage, jbool(ex, "include_usage", false), "%s: include_usage", name);

    enum hc_stream_kind kind = hc_stream_kind_for(resp_kinds[ri].content_type,
                                                  strlen(resp_kinds[ri].content_type), target);
    T_EQ_INT(kind, resp_kinds[ri].kind, "%s: framing from content type and path", name);
    T_EQ_INT(kind != HC_STREAM_NONE, info.stream, "%s: response framing agrees with the request",
             name);

    hc_usage u;
    if (kind == HC_STREAM_NONE) {
        hc_usage_init(&u);
        rc = hc_usage_from_body(api, resp, resplen, &u);
        T_EQ_INT(rc, 0, "%s: body parses", name);
        check_usage(name, "body", &u, ex);
        /* Padded past SLIM_MIN (usage.c), the body is slimmed before it is
         * parsed (content members become null): the answer must not change. */
        size_t padlen = resplen + 5000;
        char *padded = malloc(padlen);
        memcpy(padded, resp, resplen);
        memset(padded + resplen, ' ', padlen - resplen);
        hc_usage s;
        hc_usage_init(&s);
        rc = hc_usage_from_body(api, padded, padlen, &s);
        T_CHECK(rc == 0 && usage_eq(&u, &s) && strcmp(u.model, s.model) == 0 &&
                    strcmp(u.finish, s.finish) == 0,
                "%s: slimmed (padded past 4 KiB) the body gives the same usage, model and finish",
                name);
        free(padded);
        if (jbool(ex, "found", true)) {
            hc_usage t;
            hc_usage_init(&t);
            rc = hc_usage_from_tail(api, resp, resplen, &t);
            T_EQ_INT(rc, 0, "%s: tail scan finds usage", name);
            T_CHECK(t.tok.in == u.tok.in && t.tok.out == u.tok.out &&
                        t.tok.cached == u.tok.cached && t.tok.cw5m == u.tok.cw5m &&
                        t.tok.cw1h == u.tok.cw1h && t.tok.reasoning == u.tok.reasoning,
                    "%s: tail scan gives the same tokens", name);
        }
    } else {
        int messages = 0;
        int errors = run_stream(kind, api, resp, resplen, 1, &u, &messages);
        T_EQ_INT(errors, 0, "%s: every message of the stream parses", name);
        T_CHECK(messages >= 2, "%s: the stream has several messages (%d)", name, messages);
        check_usage(name, "stream", &u, ex);
        int differ = 0;
        for (size_t step = 2; step <= 64; step++) {
            hc_usage v;
            errors += run_stream(kind, api, resp, resplen, step, &v, NULL);
            if (!usage_eq(&u, &v)) {
                if (!differ)
                    print_usage("differs at step", &v);
                differ++;
            }
        }
        T_EQ_INT(differ + errors, 0, "%s: same usage at every split size 1..64", name);
        if (kind == HC_STREAM_JSON_ARRAY) {
            hc_usage w;
            hc_usage_init(&w);
            rc = hc_usage_from_body(api, resp, resplen, &w);
            T_CHECK(rc == 0 && usage_eq(&u, &w), "%s: the array read whole gives the same usage",
                    name);
        }
    }
    check_cost(name, provider, info.model, &u, ex);

out:
    cJSON_Delete(ex);
    free(exbuf);
    free(req);
    free(resp);
    return 1;
}

static void fixtures(void)
{
    size_t np = 0, ncases = 0;
    char err[256];
    /* The built-in table only: no user file, whatever HC_PRICES says. */
    T_EQ_INT(hc_pricing_init(NULL, err, sizeof err), 0, "the built-in price table loads (%s)", err);
    char **provs = list_dirs(FIXTURES, &np);
    T_CHECK(np >= 14, "fixture tree " FIXTURES " has the providers (%zu)", np);
    for (size_t i = 0; i < np; i++) {
        char pdir[1024];
        size_t nc = 0;
        snprintf(pdir, sizeof pdir, FIXTURES "/%s", provs[i]);
        char **cases = list_dirs(pdir, &nc);
        for (size_t j = 0; j < nc; j++) {
            ncases += (size_t)run_case(provs[i], cases[j]);
            free(cases[j]);
        }
        free(cases);
        free(provs[i]);
    }
    free(provs);
    T_CHECK(ncases >= 40, "ran every fixture case (%zu)", ncases);
}

/* ---- detection tables ----------------------------------------------------- */

static void provider_table(void)
{
    static const struct {
        const char *host;
        int port;
        const char *want;
    } t[] = {
        { "api.openai.com", 443, "openai" },
        { "API.OpenAI.COM", 443, "openai" },
        { "api.openai.com.", 443, "openai" },
        { "api.openai.com:443", 0, "openai" },
        { "api.openai.com.evil.example", 443, "" },
        { "evilapi.openai.com", 443, "" },
        { "contoso.openai.azure.com", 443, "azure" },
        { "a.b.openai.azure.com", 443, "azure" },
        { "openai.azure.com", 443, "" },
        { "xopenai.azure.com", 443, "" },
        { "my-res.cognitiveservices.azure.com", 443, "azure" },
        { "api.anthropic.com", 443, "anthropic" },
        { "generativelanguage.googleapis.com", 443, "google" },
        { "us-central1-aiplatform.googleapis.com", 443, "google" },
        { "aiplatform.googleapis.com", 443, "google" },
        { "a.b-aiplatform.googleapis.com", 443, "" },
        { "-aiplatform.googleapis.com", 443, "" },
        { "api.groq.com", 443, "groq" },
        { "api.mistral.ai", 443, "mistral" },
        { "api.deepseek.com", 443, "deepseek" },
        { "api.x.ai", 443, "xai" },
        { "api.together.xyz", 443, "together" },
        { "api.fireworks.ai", 443, "fireworks" },
        { "openrouter.ai", 443, "openrouter" },
        { "api.cohere.com", 443, "cohere" },
        { "api.perplexity.ai", 443, "perplexity" },
        { "bedrock-runtime.us-east-1.amazonaws.com", 443, "" },
        { "api.moonshot.ai", 443, "moonshot" },
        { "api.cerebras.ai", 443, "cerebras" },
        { "localhost", 11434, "ollama" },
        { "localhost", 8080, "" },
        { "localhost", 0, "" },
        { "127.0.0.1", 11434, "ollama" },
        { "127.0.0.2", 11434, "ollama" },
        { "127.example.com", 11434, "" },
        { "127.0.0.1:11434", 0, "ollama" },
        { "127.0.0.1:11434", -1, "ollama" },
        { "[::1]:11434", 0, "ollama" },
        { "[::1]", 11434, "ollama" },
        { "::1", 11434, "ollama" },
        { "[::1", 11434, "" },
        { "localhost:99999", 0, "" },
        { "localhost:11434x", 0, "" },
        { "ollama.com", 443, "ollama" },
        { "example.com", 443, "" },
        { "", 443, "" },
        { ".", 443, "" },
        { ":443", 0, "" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        T_EQ_STR(hc_provider_for_host(t[i].host, t[i].port), t[i].want,
                 "provider of \"%s\" port %d", t[i].host, t[i].port);

    /* The name-constraint patterns cover every recognised name. */
    size_t np = 0;
    while (hc_provider_host_pattern(np))
        np++;
    T_CHECK(np >= 20 && np < 100, "host patterns listed (%zu)", np);
    int bad = 0;
    for (size_t i = 0; i < np; i++) {
        const char *p = hc_provider_host_pattern(i);
        if (p[0] == '.') {
            char probe[300];
            snprintf(probe, sizeof probe, "x%s", p);
            if (strcmp(p, ".googleapis.com") != 0 && !hc_provider_for_host(probe, 443)[0])
                bad++;
        } else if (!hc_provider_for_host(p, strcmp(p, "localhost") ? 443 : HC_OLLAMA_PORT)[0]) {
            bad++;
        }
    }
    T_EQ_INT(bad, 0, "every host pattern names a provider");
    int uncovered = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char h[300];
        if (!t[i].want[0] || strcmp(t[i].want, "ollama") == 0)
            continue;
        snprintf(h, sizeof h, "%s", t[i].host);
        for (char *c = h; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        char *colon = strchr(h, ':');
        if (colon)
            *colon = '\0';
        size_t hl = strlen(h);
        if (hl && h[hl - 1] == '.')
            h[--hl] = '\0';
        bool covered = false;
        for (size_t k = 0; k < np && !covered; k++) {
            const char *p = hc_provider_host_pattern(k);
            size_t pl = strlen(p);
            covered = p[0] == '.' ? (hl > pl && strcmp(h + hl - pl, p) == 0) : strcmp(h, p) == 0;
        }
        if (!covered) {
            printf("#   not covered: %s\n", h);
            uncovered++;
        }
    }
    T_EQ_INT(uncovered, 0, "every recognised host is covered by a pattern");
    T_EQ_STR(hc_provider_for_host(NULL, 443), "", "provider of NULL");
    char longname[600];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    memcpy(longname + sizeof longname - 1 - 15, ".api.openai.com", 15);
    T_EQ_STR(hc_provider_for_host(longname, 443), "", "an over-long host name is unknown");
}

static void api_table(void)
{
    static const struct {
        const char *method, *target, *want;
    } t[] = {
        { "POST", "/v1/chat/completions", "chat" },
        { "POST", "/v1/chat/completions?foo=1", "chat" },
        { "POST", "/v1/chat/completions/", "chat" },
        { "POST", "https://api.openai.com/v1/chat/completions", "chat" },
        { "POST", "http://127.0.0.1:11434/v1/chat/completions?x", "chat" },
        { "POST", "/openai/v1/chat/completions", "chat" },
        { "POST", "/api/v1/chat/completions", "chat" },
        { "POST", "/v1beta/openai/chat/completions", "chat" },
        { "POST", "/chat/completions", "chat" },
        { "POST", "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21", "chat" },
        { "GET", "/v1/chat/completions", "" },
        { "post", "/v1/chat/completions", "" },
        { NULL, "/v1/chat/completions", "chat" },
        { "POST", "/v1/chat/completions/chatcmpl-abc", "" },
        { "POST", "/v1/completions", "completions" },
        { "POST", "/openai/deployments/d/completions", "completions" },
        { "POST", "/v1/responses", "responses" },
        { "POST", "/openai/v1/responses?api-version=preview", "responses" },
        { "POST", "/v1/responses/resp_123/cancel", "" },
        { "GET", "/v1/responses/resp_123", "" },
        { "POST", "/v1/embeddings", "embeddings" },
        { "POST", "/api/v1/embeddings", "embeddings" },
        { "POST", "/api/embeddings", "ollama-embed" },
        { "POST", "/api/embed", "ollama-embed" },
        { "POST", "/api/chat", "ollama-chat" },
        { "POST", "/api/generate", "ollama-generate" },
        { "POST", "/v1/messages", "messages" },
        { "POST", "/anthropic/v1/messages", "messages" },
        { "POST", "/v1/messages?beta=true", "messages" },
        { "POST", "/v1/messages/count_tokens", "" },
        { "POST", "/v1/threads/thread_abc/messages", "" },
        { "POST", "/v1beta/models/gemini-2.0-flash:generateContent", "gemini" },
        { "POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", "gemini" },
        { "POST", "/v1beta/tunedModels/my-tuned:generateContent", "gemini" },
        { "POST",
          "/v1/projects/p/locations/us-central1/publishers/google/models/"
          "gemini-2.0-flash:generateContent",
          "gemini" },
        { "POST", "/v1beta/models/text-embedding-004:embedContent", "gemini-embed" },
        { "POST", "/v1beta/models/text-embedding-004:batchEmbedContents", "gemini-embed" },
        { "POST", "/v1beta/models/gemini-2.0-flash:countTokens", "" },
        { "POST", "/v1beta/models/:generateContent", "" },
        { "POST", "/v1beta/files/abc:generateContent", "" },
        { "POST",
          "/v1/projects/p/locations/us-east5/publishers/anthropic/models/"
          "claude-sonnet-4@20250514:rawPredict",
          "messages" },
        { "POST",
          "/v1/projects/p/locations/us-east5/publishers/anthropic/models/"
          "claude-sonnet-4@20250514:streamRawPredict",
          "messages" },
        { "POST", "/v1/projects/p/locations/l/publishers/meta/models/llama:rawPredict", "" },
        { "POST", "/models/x:rawPredict", "" },
        { "POST", "/v2/chat", "cohere-chat" },
        { "POST", "/v1/models", "" },
        { "POST", "/", "" },
        { "POST", "", "" },
        { "POST", "chat/completions", "" },
        { "POST", "https://api.openai.com", "" },
        { "POST", "/v1/chat/completions#frag", "chat" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t n = strlen(t[i].target);
        char *p = dup_exact(t[i].target, n);
        T_EQ_STR(hc_api_name(hc_api_detect(t[i].method, p, n)), t[i].want, "api of %s %s",
                 t[i].method ? t[i].method : "(any)", t[i].target);
        free(p);
    }
    /* Only target_len bytes count. */
    T_EQ_STR(hc_api_name(hc_api_detect("POST", "/v1/chat/completionsXYZ", 20)), "chat",
             "target_len bounds the path");
    T_EQ_STR(hc_api_name(hc_api_detect("POST", "/v1/chat/completions\0/x", 23)), "",
             "a NUL inside the target");
    T_EQ_STR(hc_api_name(hc_api_detect("POST", NULL, 10)), "", "NULL target");
    for (int a = 0; a < HC_API_NKINDS; a++)
        T_EQ_INT(hc_api_from_name(hc_api_name((enum hc_api)a)), a, "api name round trip %d \"%s\"",
                 a, hc_api_name((enum hc_api)a));
    T_EQ_STR(hc_api_name((enum hc_api)HC_API_NKINDS), "", "api name out of range");
    T_EQ_STR(hc_api_name((enum hc_api) - 1), "", "api name negative");
    T_EQ_INT(hc_api_from_name("nope"), HC_API_UNKNOWN, "unknown api name");
}

/* ---- request info table --------------------------------------------------- */

static void request_table(void)
{
    static const struct {
        enum hc_api api;
        const char *target, *body;
        int rc;
        const char *model;
        bool stream, include_usage, has_so;
    } t[] = {
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"gpt-4o\",\"messages\":[]}", 0,
          "gpt-4o", false, false, false },
        { HC_API_CHAT, "/v1/chat/completions",
          " {\n \"messages\" : [ {\"role\":\"user\",\"content\":\"a \\\"model\\\": \\\"x\\\" } "
          "]\"}],\n"
          "  \"model\" : \"gpt-4o-mini\" , \"stream\" : true ,\n"
          "  \"stream_options\" : { \"include_usage\" : true } } ",
          0, "gpt-4o-mini", true, true, true },
        { HC_API_CHAT, "/v1/chat/completions",
          "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":false}}", 0, "m",
          true, false, true },
        { HC_API_CHAT, "/v1/chat/completions",
          "{\"model\":\"m\",\"stream\":true,\"stream_options\":null}", 0, "m", true, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"m\",\"stream\":\"yes\"}", 0, "m",
          false, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"m\",\"stream\":1}", 0, "m", false,
          false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":42}", 0, "", false, false, false },
        /* Only the top-level "model" counts. */
        { HC_API_CHAT, "/v1/chat/completions",
          "{\"metadata\":{\"model\":\"evil\"},\"messages\":[{\"model\":\"evil\"}]}", 0, "", false,
          false, false },
        { HC_API_CHAT, "/v1/chat/completions",
          "{\"messages\":[{\"model\":\"evil\"}],\"model\":\"good\"}", 0, "good", false, false,
          false },
        /* Cut short by a capture bound: what came before the cut is kept. */
        { HC_API_CHAT, "/v1/chat/completions",
          "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"us", HC_EPARSE, "gpt-4o",
          true, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"gpt-4", HC_EPARSE, "", false, false,
          false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"gpt-4o\"", HC_EPARSE, "gpt-4o", false,
          false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"gpt-4o\"} trailing", HC_EPARSE,
          "gpt-4o", false, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "", HC_EPARSE, "", false, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "[1,2]", HC_EPARSE, "", false, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "not json", HC_EPARSE, "", false, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{}", 0, "", false, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"a\" 1}", HC_EPARSE, "", false, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"a\":1,}", HC_EPARSE, "", false, false, false },
        /* Escapes, non-ASCII, control characters, over-long names. */
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"caf\\u00e9-\\\"q\\\"\\/x\"}", 0,
          "caf\xc3\xa9-\"q\"/x", false, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"a\\u0007b\\nc\"}", 0, "a?b?c", false,
          false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"\\ud83d\\ude00\"}", 0,
          "\xf0\x9f\x98\x80", false, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"\\ud83dx\"}", 0, "\xef\xbf\xbdx",
          false, false, false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"\\q\"}", HC_EPARSE, "", false, false,
          false },
        { HC_API_CHAT, "/v1/chat/completions", "{\"model\":\"\\u12\"}", HC_EPARSE, "", false, false,
          false },
        /* Ollama streams unless told not to. */
        { HC_API_OLLAMA_CHAT, "/api/chat", "{\"model\":\"llama3.2\"}", 0, "llama3.2", true, false,
          false },
        { HC_API_OLLAMA_CHAT, "/api/chat", "{\"model\":\"llama3.2\",\"stream\":false}", 0,
          "llama3.2", false, false, false },
        { HC_API_OLLAMA_GENERATE, "/api/generate", "garbage", HC_EPARSE, "", true, false, false },
        { HC_API_OLLAMA_EMBED, "/api/embed", "{\"model\":\"all-minilm\"}", 0, "all-minilm", false,
          false, false },
        /* Gemini: the path names the model and the streaming. */
        { HC_API_GEMINI, "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
          "{\"contents\":[]}", 0, "gemini-2.0-flash", true, false, false },
        { HC_API_GEMINI, "/v1beta/models/gemini-2.0-flash:generateContent",
          "{\"contents\":[],\"stream\":true}", 0, "gemini-2.0-flash", false, false, false },
        { HC_API_GEMINI, "/v1beta/models/gemini-2.0-flash:generateContent", "", HC_EPARSE,
          "gemini-2.0-flash", false, false, false },
        { HC_API_MESSAGES,
          "/v1/projects/p/locations/l/publishers/anthropic/models/"
          "claude-3-5-haiku@20241022:rawPredict",
          "{\"anthropic_version\":\"vertex-2023-10-16\",\"max_tokens\":10}", 0,
          "claude-3-5-haiku@20241022", false, false, false },
        { HC_API_MESSAGES, "/v1/messages",
          "{\"model\":\"claude-sonnet-4-20250514\",\"stream\":true}", 0, "claude-sonnet-4-20250514",
          true, false, false },
        /* Azure: the deployment stands for the model unless the body names one. */
        { HC_API_CHAT, "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21",
          "{\"messages\":[]}", 0, "prod-4o", false, false, false },
        { HC_API_CHAT, "/openai/deployments/prod-4o/chat/completions", "{\"model\":\"gpt-4o\"}", 0,
          "gpt-4o", false, false, false },
        { HC_API_RESPONSES, "/v1/responses", "{\"model\":\"o3\",\"input\":\"hi\",\"stream\":true}",
          0, "o3", true, false, false },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        hc_request_info info;
        size_t n = strlen(t[i].body);
        char *b = dup_exact(t[i].body, n);
        int rc = hc_request_info_parse(t[i].api, t[i].target, strlen(t[i].target), b, n, &info);
        free(b);
        bool ok = rc == t[i].rc && strcmp(info.model, t[i].model) == 0 &&
                  info.stream == t[i].stream && info.include_usage == t[i].include_usage &&
                  info.has_stream_options == t[i].has_so;
        T_CHECK(ok, "request %zu (%s, %zu body bytes)", i, hc_api_name(t[i].api), n);
        if (!ok)
            printf("#   rc=%d model=\"%s\" stream=%d include_usage=%d has_so=%d\n", rc, info.model,
                   info.stream, info.include_usage, info.has_stream_options);
    }

    /* Over-long model: cut to 127 bytes on a UTF-8 boundary. */
    char body[1200];
    size_t k = (size_t)snprintf(body, sizeof body, "{\"model\":\"");
    for (int i = 0; i < 200; i++) {
        memcpy(body + k, "\xc3\xa9", 2); /* é, 2 bytes each */
        k += 2;
    }
    k += (size_t)snprintf(body + k, sizeof body - k, "\"}");
    hc_request_info info;
    char *b = dup_exact(body, k);
    int rc = hc_request_info_parse(HC_API_CHAT, "/v1/chat/completions", 20, b, k, &info);
    free(b);
    T_CHECK(rc == 0 && strlen(info.model) == 126 && memcmp(info.model, "\xc3\xa9", 2) == 0,
            "over-long model cut on a UTF-8 boundary (%zu bytes)", strlen(info.model));

    /* A huge, deeply nested body is skipped without recursion or allocation. */
    size_t depth = 1000000;
    size_t blen = depth * 2 + 64;
    char *deep = malloc(blen);
    size_t p = (size_t)sprintf(deep, "{\"messages\":");
    memset(deep + p, '[', depth);
    p += depth;
    memset(deep + p, ']', depth);
    p += depth;
    p += (size_t)sprintf(deep + p, ",\"model\":\"deep\",\"stream\":true}");
    b = dup_exact(deep, p);
    rc = hc_request_info_parse(HC_API_CHAT, "/v1/chat/completions", 20, b, p, &info);
    T_CHECK(rc == 0 && strcmp(info.model, "deep") == 0 && info.stream,
            "a million nested arrays are skipped");
    free(b);
    free(deep);

    /* NULL everything. */
    rc = hc_request_info_parse(HC_API_UNKNOWN, NULL, 0, NULL, 0, &info);
    T_CHECK(rc == HC_EPARSE && info.model[0] == 0 && !info.stream, "NULL target and body");
}

/* ---- usage semantics and hostile input ------------------------------------ */

static hc_usage body_usage(enum hc_api api, const char *s, int *rc)
{
    hc_usage u;
    hc_usage_init(&u);
    size_t n = strlen(s);
    char *b = dup_exact(s, n);
    *rc = hc_usage_from_body(api, b, n, &u);
    free(b);
    return u;
}

static void usage_table(void)
{
    static const struct {
        enum hc_api api;
        const char *body;
        int rc;
        bool found;
        long long in, out, cached, cw5m, cw1h, reasoning;
    } t[] = {
        /* Bad counts: negative/strings/bools ignored, fractions truncated, huge clamped. */
        { HC_API_CHAT, "{\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":7}}", 0, true, 0, 7,
          0, 0, 0, 0 },
        { HC_API_CHAT, "{\"usage\":{\"prompt_tokens\":12.9,\"completion_tokens\":\"7\"}}", 0, true,
          12, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"usage\":{\"prompt_tokens\":1e300,\"completion_tokens\":2}}", 0, true,
          HC_USAGE_MAX_TOKENS, 2, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"usage\":{\"prompt_tokens\":1e400,\"completion_tokens\":-1e400}}", 0,
          true, HC_USAGE_MAX_TOKENS, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"usage\":{\"prompt_tokens\":true,\"completion_tokens\":null}}", 0, false,
          0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"usage\":{}}", 0, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"usage\":null}", 0, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"usage\":[1,2,3]}", 0, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"usage\":\"lots\"}", 0, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT,
          "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"prompt_tokens_details\":[1]}"
          "}",
          0, true, 10, 5, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"usage\":{\"prompt_tokens\":999999999999999,\"completion_tokens\":1}}", 0,
          true, 999999999999999LL, 1, 0, 0, 0, 0 },
        /* total_tokens rule: consistent totals change nothing; a gap is output. */
        { HC_API_CHAT,
          "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15,"
          "\"completion_tokens_details\":{\"reasoning_tokens\":3}}}",
          0, true, 10, 5, 0, 0, 0, 3 },
        { HC_API_CHAT,
          "{\"usage\":{\"prompt_tokens\":758,\"completion_tokens\":102,\"total_tokens\":1725}}", 0,
          true, 758, 1725 - 758, 0, 0, 0, 1725 - 758 - 102 },
        { HC_API_CHAT,
          "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":12}}", 0, true,
          10, 5, 0, 0, 0, 0 },
        { HC_API_EMBEDDINGS, "{\"usage\":{\"prompt_tokens\":10,\"total_tokens\":12}}", 0, true, 10,
          0, 0, 0, 0, 0 },
        /* Anthropic: bad cache counts, clamped sums. */
        { HC_API_MESSAGES,
          "{\"type\":\"message\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":-3,"
          "\"output_tokens\":1}}",
          0, true, 10, 1, 0, 0, 0, 0 },
        { HC_API_MESSAGES,
          "{\"usage\":{\"input_tokens\":1e20,\"cache_read_input_tokens\":1e20,"
          "\"cache_creation_input_tokens\":1e20,\"output_tokens\":1e20}}",
          0, true, HC_USAGE_MAX_TOKENS, HC_USAGE_MAX_TOKENS, HC_USAGE_MAX_TOKENS,
          HC_USAGE_MAX_TOKENS, 0, 0 },
        { HC_API_MESSAGES,
          "{\"usage\":{\"input_tokens\":5,\"cache_creation_input_tokens\":100,"
          "\"cache_creation\":{\"ephemeral_1h_input_tokens\":60}}}",
          0, true, 105, 0, 0, 40, 60, 0 },
        { HC_API_MESSAGES,
          "{\"usage\":{\"input_tokens\":5,\"cache_creation_input_tokens\":10,"
          "\"cache_creation\":{\"ephemeral_5m_input_tokens\":30,\"ephemeral_1h_input_tokens\":20}}"
          "}",
          0, true, 55, 0, 0, 30, 20, 0 },
        { HC_API_MESSAGES, "{\"usage\":{\"service_tier\":\"standard\"}}", 0, false, 0, 0, 0, 0, 0,
          0 },
        /* Gemini. */
        { HC_API_GEMINI,
          "{\"usageMetadata\":{\"promptTokenCount\":1e400,\"toolUsePromptTokenCount\":1e400}}", 0,
          true, HC_USAGE_MAX_TOKENS, 0, 0, 0, 0, 0 },
        { HC_API_GEMINI, "{\"usageMetadata\":{\"promptTokenCount\":\"9\"}}", 0, false, 0, 0, 0, 0,
          0, 0 },
        /* Ollama: counts only on the final object. */
        { HC_API_OLLAMA_CHAT,
          "{\"model\":\"m\",\"done\":false,\"prompt_eval_count\":3,\"eval_count\":4}", 0, false, 0,
          0, 0, 0, 0, 0 },
        { HC_API_OLLAMA_CHAT, "{\"model\":\"m\",\"done\":true,\"done_reason\":\"load\"}", 0, false,
          0, 0, 0, 0, 0, 0 },
        { HC_API_OLLAMA_GENERATE, "{\"done\":true,\"eval_count\":4}", 0, true, 0, 4, 0, 0, 0, 0 },
        /* Cohere: tokens when billed_units has no counts. */
        { HC_API_COHERE_CHAT,
          "{\"usage\":{\"billed_units\":{},\"tokens\":{\"input_tokens\":7,\"output_tokens\":3}}}",
          0, true, 7, 3, 0, 0, 0, 0 },
        /* Unknown API: told apart by the fields. */
        { HC_API_UNKNOWN, "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}", 0, true, 3,
          4, 0, 0, 0, 0 },
        { HC_API_UNKNOWN,
          "{\"usage\":{\"input_tokens\":3,\"cache_read_input_tokens\":4,\"output_tokens\":5}}", 0,
          true, 7, 5, 4, 0, 0, 0 },
        { HC_API_UNKNOWN, "{\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":4}}",
          0, true, 3, 4, 0, 0, 0, 0 },
        { HC_API_UNKNOWN, "{\"done\":true,\"prompt_eval_count\":3,\"eval_count\":4}", 0, true, 3, 4,
          0, 0, 0, 0 },
        /* Not JSON, or not an object. */
        { HC_API_CHAT, "", HC_EPARSE, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{", HC_EPARSE, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"usage\":{\"prompt_tokens\":1}", HC_EPARSE, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"a\":\"\\", HC_EPARSE, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{\"a\":\"", HC_EPARSE, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "{} {}", HC_EPARSE, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "null", 0, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "42", 0, false, 0, 0, 0, 0, 0, 0 },
        { HC_API_CHAT, "[{\"usage\":{\"prompt_tokens\":1}}]", 0, true, 1, 0, 0, 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc;
        hc_usage u = body_usage(t[i].api, t[i].body, &rc);
        bool ok = rc == t[i].rc && u.found == t[i].found && u.tok.in == t[i].in &&
                  u.tok.out == t[i].out && u.tok.cached == t[i].cached && u.tok.cw5m == t[i].cw5m &&
                  u.tok.cw1h == t[i].cw1h && u.tok.reasoning == t[i].reasoning;
        T_CHECK(ok, "usage %zu (%s %s) rc=%d", i, hc_api_name(t[i].api), t[i].body, rc);
        if (!ok)
            print_usage("got", &u);
    }
}

static void feed(enum hc_api api, const char *event, const char *json, hc_usage *u, int *errs)
{
    size_t n = strlen(json);
    char *b = dup_exact(json, n);
    if (hc_usage_from_message(api, event, b, n, u) != 0)
        (*errs)++;
    free(b);
}

static void message_semantics(void)
{
    hc_usage u;
    int errs = 0;

    /* OpenAI: "usage": null in later chunks and [DONE] leave the usage alone. */
    hc_usage_init(&u);
    feed(HC_API_CHAT, "",
         "{\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_"
         "tokens\":6}}",
         &u, &errs);
    feed(HC_API_CHAT, "", "{\"model\":\"\",\"choices\":[{\"finish_reason\":null}],\"usage\":null}",
         &u, &errs);
    feed(HC_API_CHAT, "", " [DONE] ", &u, &errs);
    feed(HC_API_CHAT, "", "", &u, &errs);
    T_CHECK(errs == 0 && u.found && u.tok.in == 5 && u.tok.out == 6 &&
                strcmp(u.model, "gpt-4o") == 0,
            "chat: null usage, empty model and [DONE] after the usage chunk change nothing");
    T_EQ_INT(hc_usage_from_message(HC_API_CHAT, "", "{oops", 5, &u), HC_EPARSE,
             "chat: a non-JSON message is HC_EPARSE");
    T_CHECK(u.tok.in == 5 && u.tok.out == 6, "chat: ... and leaves the usage as it was");
    T_EQ_INT(hc_usage_from_message(HC_API_CHAT, NULL, NULL, 0, &u), 0, "NULL message is ignored");

    /* Anthropic: a delta with only input_tokens keeps the cache counts of message_start. */
    hc_usage_init(&u);
    errs = 0;
    feed(HC_API_MESSAGES, "message_start",
         "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_"
         "tokens\":10,"
         "\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":50,"
         "\"cache_creation\":{\"ephemeral_5m_input_tokens\":20,\"ephemeral_1h_input_tokens\":30},"
         "\"output_tokens\":1}}}",
         &u, &errs);
    T_CHECK(u.tok.in == 160 && u.tok.cached == 100 && u.tok.cw5m == 20 && u.tok.cw1h == 30 &&
                u.tok.out == 1,
            "messages: message_start");
    feed(HC_API_MESSAGES, "message_delta",
         "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{"
         "\"input_tokens\":12,\"output_tokens\":40}}",
         &u, &errs);
    T_CHECK(u.tok.in == 162 && u.tok.cached == 100 && u.tok.cw5m == 20 && u.tok.cw1h == 30 &&
                u.tok.out == 40 && strcmp(u.finish, "max_tokens") == 0,
            "messages: delta with input_tokens only keeps cache counts");
    feed(HC_API_MESSAGES, "message_delta",
         "{\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"cache_creation_input_tokens\":50,"
         "\"output_tokens\":41}}",
         &u, &errs);
    T_CHECK(u.tok.in == 162 && u.tok.cw5m == 20 && u.tok.cw1h == 30 && u.tok.out == 41,
            "messages: repeated cache_creation total without a split keeps the split");
    /* A content delta named by event is skipped before parsing (even if malformed). */
    T_EQ_INT(hc_usage_from_message(HC_API_MESSAGES, "content_block_delta", "{bad", 4, &u), 0,
             "messages: content deltas are skipped by event name");
    feed(
        HC_API_MESSAGES, "",
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
        &u, &errs);
    T_CHECK(errs == 0 && u.tok.out == 41, "messages: an error event changes nothing");

    /* Responses: usage only in the final event; created/in_progress name the model. */
    hc_usage_init(&u);
    errs = 0;
    feed(HC_API_RESPONSES, "response.created",
         "{\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5\",\"status\":\"in_"
         "progress\",\"usage\":null}}",
         &u, &errs);
    T_CHECK(!u.found && strcmp(u.model, "gpt-5") == 0 && u.finish[0] == 0,
            "responses: created names the model");
    feed(HC_API_RESPONSES, "response.incomplete",
         "{\"type\":\"response.incomplete\",\"response\":{\"model\":\"gpt-5\",\"status\":"
         "\"incomplete\","
         "\"incomplete_details\":{\"reason\":\"max_output_tokens\"},\"usage\":{\"input_tokens\":9,"
         "\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":100,"
         "\"output_tokens_details\":{\"reasoning_tokens\":100},\"total_tokens\":109}}}",
         &u, &errs);
    T_CHECK(errs == 0 && u.found && u.tok.in == 9 && u.tok.out == 100 && u.tok.reasoning == 100 &&
                strcmp(u.finish, "max_output_tokens") == 0,
            "responses: incomplete carries usage and reason");

    /* Gemini: the last usageMetadata wins. */
    hc_usage_init(&u);
    errs = 0;
    feed(HC_API_GEMINI, "",
         "{\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":9,"
         "\"thoughtsTokenCount\":4}}",
         &u, &errs);
    feed(HC_API_GEMINI, "",
         "{\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":12}}", &u, &errs);
    T_CHECK(errs == 0 && u.tok.in == 5 && u.tok.out == 12 && u.tok.reasoning == 0,
            "gemini: each usageMetadata is a snapshot");

    /* Ollama: the done object of a stream. */
    hc_usage_init(&u);
    errs = 0;
    feed(HC_API_OLLAMA_GENERATE, "", "{\"model\":\"m\",\"response\":\"x\",\"done\":false}", &u,
         &errs);
    T_CHECK(!u.found && strcmp(u.model, "m") == 0, "ollama: chunks before done carry no usage");
}

static void tail_tests(void)
{
    hc_usage u;
    int rc;
    char *b;
    size_t n;

    /* An escaped look-alike after the real usage (inside a string) is not taken. */
    const char *s1 =
        "{\"id\":\"x\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8},"
        "\"note\":\"fake \\\"usage\\\":{\\\"prompt_tokens\\\":999}\"}";
    n = strlen(s1);
    b = dup_exact(s1, n);
    hc_usage_init(&u);
    rc = hc_usage_from_tail(HC_API_CHAT, b, n, &u);
    free(b);
    T_CHECK(rc == 0 && u.tok.in == 5 && u.tok.out == 3,
            "tail: escaped look-alike inside a string is skipped");

    /* A later key that merely ends in \"usage (escaped quote) is another key. */
    const char *s1b = "{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3},\"x\\\"usage\":{"
                      "\"prompt_tokens\":999}}";
    n = strlen(s1b);
    b = dup_exact(s1b, n);
    hc_usage_init(&u);
    rc = hc_usage_from_tail(HC_API_CHAT, b, n, &u);
    free(b);
    T_CHECK(rc == 0 && u.tok.in == 5 && u.tok.out == 3,
            "tail: a key ending in an escaped quote + usage is not usage");
    /* ... while an escaped backslash before the quote does not escape it. */
    const char *s1c = "{\"k\":\"\\\\\",\"usage\":{\"prompt_tokens\":6,\"completion_tokens\":1}}";
    n = strlen(s1c);
    b = dup_exact(s1c, n);
    hc_usage_init(&u);
    rc = hc_usage_from_tail(HC_API_CHAT, b, n, &u);
    free(b);
    T_CHECK(rc == 0 && u.tok.in == 6 && u.tok.out == 1,
            "tail: an even run of backslashes does not escape the quote");

    /* Anthropic: a tool input object named usage comes before the top-level one. */
    const char *s2 =
        "\"type\":\"tool_use\",\"input\":{\"usage\":{\"input_tokens\":777}}}],\"stop_reason\":"
        "\"tool_use\","
        "\"usage\":{\"input_tokens\":12,\"cache_read_input_tokens\":30,\"output_tokens\":44}}";
    n = strlen(s2);
    b = dup_exact(s2, n);
    hc_usage_init(&u);
    rc = hc_usage_from_tail(HC_API_MESSAGES, b, n, &u);
    free(b);
    T_CHECK(rc == 0 && u.tok.in == 42 && u.tok.cached == 30 && u.tok.out == 44,
            "tail: the last usage object wins");

    /* Cut inside the usage object, with no earlier one: not found, u untouched. */
    const char *s3 = "tokens\":1}],\"usage\":{\"prompt_tokens\":5,\"completion_tok";
    n = strlen(s3);
    b = dup_exact(s3, n);
    hc_usage_init(&u);
    u.tok.in = 77;
    rc = hc_usage_from_tail(HC_API_CHAT, b, n, &u);
    free(b);
    T_CHECK(rc == HC_ENOTFOUND && u.tok.in == 77 && !u.found,
            "tail: a cut usage object is not used");

    /* A tail starting inside an earlier string: the first quote may be a closing one. */
    const char *s4 = "ay\":\"usage\",\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}";
    n = strlen(s4);
    b = dup_exact(s4, n);
    hc_usage_init(&u);
    rc = hc_usage_from_tail(HC_API_CHAT, b, n, &u);
    free(b);
    T_CHECK(rc == 0 && u.tok.in == 2 && u.tok.out == 1,
            "tail: \"usage\" as a string value is not a key");

    /* Gemini tail reads usageMetadata and modelVersion. */
    const char *s5 =
        "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,"
        "\"candidatesTokenCount\":6,"
        "\"totalTokenCount\":10},\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"abc\"}";
    n = strlen(s5);
    b = dup_exact(s5, n);
    hc_usage_init(&u);
    rc = hc_usage_from_tail(HC_API_GEMINI, b, n, &u);
    free(b);
    T_CHECK(rc == 0 && u.tok.in == 4 && u.tok.out == 6 && strcmp(u.model, "gemini-2.0-flash") == 0,
            "tail: gemini");

    /* Ollama tail: scalar counts; a count cut at the very end is not used. */
    const char *s6 = "t\":\"x\"},\"done_reason\":\"stop\",\"done\":true,\"prompt_eval_count\":26,"
                     "\"eval_count\":16,"
                     "\"eval_duration\":4799921000}";
    n = strlen(s6);
    b = dup_exact(s6, n);
    hc_usage_init(&u);
    rc = hc_usage_from_tail(HC_API_OLLAMA_CHAT, b, n, &u);
    free(b);
    T_CHECK(rc == 0 && u.tok.in == 26 && u.tok.out == 16 && strcmp(u.finish, "stop") == 0,
            "tail: ollama");
    const char *s7 = "\"prompt_eval_count\":26,\"eval_count\":16";
    n = strlen(s7);
    b = dup_exact(s7, n);
    hc_usage_init(&u);
    rc = hc_usage_from_tail(HC_API_OLLAMA_CHAT, b, n, &u);
    free(b);
    T_CHECK(rc == 0 && u.tok.in == 26 && u.tok.out == 0,
            "tail: ollama count cut at the end is ignored");

    /* Only the last 64 KiB are read. */
    size_t big = 200 * 1024;
    char *body = malloc(big);
    memset(body, ' ', big);
    const char *early = "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1},\"pad\":\"";
    memcpy(body, early, strlen(early));
    body[big - 3] = '"';
    body[big - 2] = '}';
    body[big - 1] = '\n';
    hc_usage_init(&u);
    rc = hc_usage_from_tail(HC_API_CHAT, body, big, &u);
    T_CHECK(rc == HC_ENOTFOUND && !u.found, "tail: usage before the 64 KiB window is not seen");
    const char *late = "\",\"usage\":{\"prompt_tokens\":321,\"completion_tokens\":9}}";
    memcpy(body + big - strlen(late) - 1, late, strlen(late));
    hc_usage_init(&u);
    rc = hc_usage_from_tail(HC_API_CHAT, body, big, &u);
    T_CHECK(rc == 0 && u.tok.in == 321 && u.tok.out == 9, "tail: usage inside the window is found");
    free(body);

    /* A large embeddings body is read from its tail (model and usage come last). */
    hc_buf e = HC_BUF_INIT;
    hc_buf_puts(&e, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < 8; i++) {
        hc_buf_printf(&e, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":[", i ? "," : "",
                      i);
        for (int j = 0; j < 3072; j++)
            hc_buf_printf(&e, "%s-0.0%07d", j ? "," : "", (j * 7919 + i) % 10000000);
        hc_buf_puts(&e, "]}");
    }
    hc_buf_puts(&e, "],\"model\":\"text-embedding-3-large\",\"usage\":{\"prompt_tokens\":333,"
                    "\"total_tokens\":333}}");
    T_CHECK(e.len > HC_USAGE_TAIL_MAX * 2, "large embeddings body built (%zu bytes)", e.len);
    b = dup_exact(e.data, e.len);
    hc_usage_init(&u);
    rc = hc_usage_from_body(HC_API_EMBEDDINGS, b, e.len, &u);
    T_CHECK(rc == 0 && u.found && u.tok.in == 333 && u.tok.out == 0 &&
                strcmp(u.model, "text-embedding-3-large") == 0,
            "large embeddings body: usage and model from the tail");
    free(b);
    hc_buf_free(&e);

    T_EQ_INT(hc_usage_from_tail(HC_API_CHAT, NULL, 10, &u), HC_ENOTFOUND, "tail: NULL");
    T_EQ_INT(hc_usage_from_tail(HC_API_CHAT, "x", 0, &u), HC_ENOTFOUND, "tail: empty");
}

/* Nothing may crash, whatever the input and the API. */
static void hostile(void)
{
    static const char *const inputs[] = {
        "",
        " ",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "\"\\",
        "{\"",
        "{\"usage\"",
        "{\"usage\":",
        "{\"usage\":{",
        "{\"usage\":{\"prompt_tokens\":",
        "{\"usage\":{\"prompt_tokens\":1e",
        "{\"usageMetadata\":{\"promptTokenCount\":-",
        "[DONE]",
        "data: x",
        "null",
        "true",
        "-0",
        "1e999",
        "\"str\"",
        "{\"type\":\"message_start\"}",
        "{\"type\":\"message_start\",\"message\":null}",
        "{\"type\":\"message_start\",\"message\":{\"usage\":7}}",
        "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":[]}}",
        "{\"response\":[]}",
        "{\"response\":{\"usage\":{\"input_tokens\":{}}}}",
        "{\"choices\":{\"finish_reason\":\"x\"}}",
        "{\"choices\":[null,1,\"a\",{\"finish_reason\":7}]}",
        "{\"candidates\":[null]}",
        "{\"candidates\":{}}",
        "{\"x_groq\":{\"usage\":null}}",
        "{\"delta\":{\"usage\":{\"billed_units\":[]}},\"type\":\"message-end\"}",
        "{\"done\":true,\"prompt_eval_count\":-1,\"eval_count\":1e400}",
        "{\"model\":\"\\u0000\\u001b[31mred\"}",
        "{\"model\":\"\xff\xfe\xfd\"}",
        "\xef\xbb\xbf{\"usage\":{\"prompt_tokens\":1}}",
        "\"usage\":{\"usage\":{\"usage\":{",
        "\"usage\" : { \"prompt_tokens\" : 3 }",
        "\\\"usage\\\":{}",
        "\"eval_count\":",
        "\"prompt_eval_count\":12345678901234567890123",
        "\"usageMetadata\":{}}}}}",
    };
    int out_of_range = 0;
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t n = strlen(inputs[i]);
        for (int a = 0; a <= HC_API_NKINDS; a++) {
            hc_usage u;
            hc_request_info info;
            char *b = dup_exact(inputs[i], n);
            hc_usage_init(&u);
            (void)hc_usage_from_body((enum hc_api)a, b, n, &u);
            (void)hc_usage_from_message((enum hc_api)a, "", b, n, &u);
            (void)hc_usage_from_message((enum hc_api)a, "message_delta", b, n, &u);
            (void)hc_usage_from_tail((enum hc_api)a, b, n, &u);
            (void)hc_request_info_parse((enum hc_api)a, b, n, b, n, &info);
            (void)hc_api_detect("POST", b, n);
            free(b);
            if (u.tok.in < 0 || u.tok.out < 0 || u.tok.in > HC_USAGE_MAX_TOKENS * 3 ||
                memchr(u.model, 0x1b, sizeof u.model))
                out_of_range++;
        }
    }
    T_EQ_INT(out_of_range, 0,
             "hostile inputs: no crash, counts in range, no escape bytes in model");

    /* An embedded NUL: the bytes after it are not JSON text. */
    static const char nul[] =
        "{\"usage\":{\"prompt_tokens\":1}}\0{\"usage\":{\"prompt_tokens\":2}}";
    hc_usage un;
    hc_usage_init(&un);
    T_EQ_INT(hc_usage_from_body(HC_API_CHAT, nul, sizeof nul - 1, &un), HC_EPARSE,
             "embedded NUL is HC_EPARSE");
    T_CHECK(!un.found, "... and gives no usage");

    /* Every prefix of a real body, for every API. */
    static const char real[] =
        "{\"id\":\"msg_01\",\"type\":\"message\",\"model\":\"claude\",\"content\":[{\"type\":"
        "\"tool_use\",\"input\":"
        "{\"usage\":{\"a\":1}}}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":10,"
        "\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":2,\"cache_creation\":"
        "{\"ephemeral_5m_input_tokens\":2,\"ephemeral_1h_input_tokens\":3},\"output_tokens\":7}}";
    int bad = 0;
    for (size_t cut = 0; cut <= sizeof real - 1; cut++) {
        for (int a = 0; a < HC_API_NKINDS; a++) {
            hc_usage u;
            hc_request_info info;
            char *b = dup_exact(real, cut);
            hc_usage_init(&u);
            int rc = hc_usage_from_body((enum hc_api)a, b, cut, &u);
            if (cut < sizeof real - 1 && rc != HC_EPARSE)
                bad++;
            hc_usage_init(&u);
            (void)hc_usage_from_tail((enum hc_api)a, real + (sizeof real - 1 - cut), cut, &u);
            (void)hc_request_info_parse((enum hc_api)a, "/v1/messages", 12, b, cut, &info);
            free(b);
        }
    }
    T_EQ_INT(bad, 0, "every strict prefix of a body is HC_EPARSE");
    hc_usage u;
    hc_usage_init(&u);
    int rc = hc_usage_from_body(HC_API_MESSAGES, real, sizeof real - 1, &u);
    T_CHECK(rc == 0 && u.tok.in == 17 && u.tok.cached == 2 && u.tok.cw5m == 2 && u.tok.cw1h == 3 &&
                u.tok.out == 7,
            "the whole body reads right");

    /* Deep nesting: cJSON refuses it (its nesting limit); we survive. */
    size_t depth = 200000;
    char *deep = malloc(depth * 2);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    hc_usage_init(&u);
    rc = hc_usage_from_body(HC_API_CHAT, deep, depth * 2, &u);
    T_CHECK(rc == HC_EPARSE && !u.found, "deeply nested body is refused, not a crash");
    rc = hc_usage_from_message(HC_API_CHAT, "", deep, depth * 2, &u);
    T_EQ_INT(rc, HC_EPARSE, "deeply nested message is refused");
    rc = hc_usage_from_tail(HC_API_CHAT, deep, depth * 2, &u);
    T_EQ_INT(rc, HC_ENOTFOUND, "deeply nested tail has no usage");
    free(deep);
}

int main(void)
{
    fixtures();
    provider_table();
    api_table();
    request_table();
    usage_table();
    message_semantics();
    tail_tests();
    hostile();
    return t_done();
}
