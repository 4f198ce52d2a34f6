/* unified.c — see unified.h.
 *
 * DESIGN
 * - One table of providers (host, OpenAI-compatible base path, key
 *   variable, auth header) drives everything: adding a provider is one row.
 * - Planning happens once per request, after its body is read and before
 *   any policy, so that the record, the cache key and the budgets see the
 *   provider that will answer; the plans are plain data the proxy applies.
 */
#include "unified.h"
#include "buf.h"
#include "err.h"
#include "provider.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct provider {
    const char *id;
    const char *host;
    const char *base; /* the OpenAI-compatible API's path ("" for anthropic: translated) */
    const char *key_env, *key_env2;
    const char *auth; /* header carrying the key */
};

static const struct provider providers[] = {
    { "openai", "api.openai.com", "/v1", "OPENAI_API_KEY", NULL, "Authorization" },
    { "anthropic", "api.anthropic.com", "", "ANTHROPIC_API_KEY", NULL, "x-api-key" },
    { "google", "generativelanguage.googleapis.com", "/v1beta/openai", "GEMINI_API_KEY",
      "GOOGLE_API_KEY", "Authorization" },
    { "groq", "api.groq.com", "/openai/v1", "GROQ_API_KEY", NULL, "Authorization" },
    { "mistral", "api.mistral.ai", "/v1", "MISTRAL_API_KEY", NULL, "Authorization" },
    { "deepseek", "api.deepseek.com", "/v1", "DEEPSEEK_API_KEY", NULL, "Authorization" },
    { "xai", "api.x.ai", "/v1", "XAI_API_KEY", NULL, "Authorization" },
    { "together", "api.together.xyz", "/v1", "TOGETHER_API_KEY", NULL, "Authorization" },
    { "fireworks", "api.fireworks.ai", "/inference/v1", "FIREWORKS_API_KEY", NULL,
      "Authorization" },
    { "openrouter", "openrouter.ai", "/api/v1", "OPENROUTER_API_KEY", NULL, "Authorization" },
    { "perplexity", "api.perplexity.ai", "", "PERPLEXITY_API_KEY", NULL, "Authorization" },
    { "cerebras", "api.cerebras.ai", "/v1", "CEREBRAS_API_KEY", NULL, "Authorization" },
    { "deepinfra", "api.deepinfra.com", "/v1/openai", "DEEPINFRA_API_KEY", NULL, "Authorization" },
};
#define NPROVIDERS (sizeof providers / sizeof providers[0])

bool hc_unified_is_host(const char *host)
{
    return hc_provider_is_helicone(host) != 0 ||
           (host && strcasecmp(host, HC_UNIFIED_LOCAL_HOST) == 0);
}

static const struct provider *provider_by_id(const char *id, size_t len)
{
    if (len == 6 && strncasecmp(id, "gemini", 6) == 0)
        return &providers[2];
    for (size_t i = 0; i < NPROVIDERS; i++)
        if (strlen(providers[i].id) == len && strncasecmp(providers[i].id, id, len) == 0)
            return &providers[i];
    return NULL;
}

static const struct provider *provider_by_host(const char *host)
{
    for (size_t i = 0; i < NPROVIDERS; i++)
        if (strcasecmp(providers[i].host, host) == 0)
            return &providers[i];
    return NULL;
}

const char *hc_unified_provider_of(const char *m)
{
    static const struct {
        const char *prefix, *provider;
    } rules[] = {
        { "gpt-", "openai" },       { "chatgpt-", "openai" },   { "o1", "openai" },
        { "o3", "openai" },         { "o4", "openai" },         { "text-embedding-", "openai" },
        { "codex-", "openai" },     { "claude-", "anthropic" }, { "gemini-", "google" },
        { "gemma-", "google" },     { "grok-", "xai" },         { "deepseek-", "deepseek" },
        { "mistral-", "mistral" },  { "codestral", "mistral" }, { "ministral", "mistral" },
        { "magistral", "mistral" }, { "pixtral", "mistral" },   { "open-mistral", "mistral" },
        { "devstral", "mistral" },
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strncasecmp(m, rules[i].prefix, strlen(rules[i].prefix)) == 0) {
            /* "o1", "o3", "o4" only as a whole family name: o1, o3-mini, o4-mini-… */
            size_t l = strlen(rules[i].prefix);
            if (rules[i].prefix[0] == 'o' && l == 2 && m[2] && m[2] != '-')
                continue;
            return rules[i].provider;
        }
    return "";
}

void hc_unified_anthropic_model(const char *in, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < size; i++) {
        char ch = in[i];
        if (ch == '.' && i > 0 && isdigit((unsigned char)in[i - 1]) &&
            isdigit((unsigned char)in[i + 1]))
            ch = '-';
        out[j++] = ch;
    }
    out[j] = '\0';
    static const struct {
        const char *name, *alias;
    } aliases[] = {
        { "claude-sonnet-4", "claude-sonnet-4-0" },
        { "claude-opus-4", "claude-opus-4-0" },
        { "claude-3-7-sonnet", "claude-3-7-sonnet-latest" },
        { "claude-3-5-sonnet", "claude-3-5-sonnet-latest" },
        { "claude-3-5-haiku", "claude-3-5-haiku-latest" },
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(out, aliases[i].name) == 0) {
            snprintf(out, size, "%s", aliases[i].alias);
            return;
        }
}

/* The provider's key: HC_PROVIDER_KEYS first, then its variables. */
static const char *provider_key(const struct provider *p, char *buf, size_t size)
{
    const char *map = getenv("HC_PROVIDER_KEYS");
    size_t idl = strlen(p->id);
    while (map && *map) {
        size_t n = strcspn(map, ",");
        const char *eq = memchr(map, '=', n);
        if (eq) {
            size_t kl = (size_t)(eq - map);
            if ((kl == idl && strncasecmp(map, p->id, idl) == 0) ||
                (p == &providers[2] && kl == 6 && strncasecmp(map, "gemini", 6) == 0)) {
                snprintf(buf, size, "%.*s", (int)(n - kl - 1), eq + 1);
                return buf[0] ? buf : NULL;
            }
        }
        map += n;
        map += strspn(map, ",");
    }
    const char *v = getenv(p->key_env);
    if ((!v || !*v) && p->key_env2)
        v = getenv(p->key_env2);
    if (!v || !*v)
        return NULL;
    snprintf(buf, size, "%s", v);
    return buf;
}

static void set_auth(hc_unified *u, const struct provider *p, const char *key)
{
    u->own_auth = true;
    snprintf(u->auth_name, sizeof u->auth_name, "%s", p->auth);
    if (strcmp(p->auth, "Authorization") == 0)
        snprintf(u->auth_value, sizeof u->auth_value, "Bearer %s", key);
    else
        snprintf(u->auth_value, sizeof u->auth_value, "%s", key);
}

/* The request's path after the base the app used ("/v1" or nothing). */
static void rest_of_path(const hc_http_head *req, char *out, size_t size)
{
    const char *t = req->target;
    size_t n = req->target_len;
    if (n >= 3 && memcmp(t, "/v1", 3) == 0 && (n == 3 || t[3] == '/' || t[3] == '?')) {
        t += 3;
        n -= 3;
    }
    snprintf(out, size, "%.*s", (int)n, t);
}

/* One entry of the AI Gateway's model list: "model" or "model/provider". */
static int plan_model(const char *spec, size_t len, const char *rest, hc_unified *u, int *status,
                      char *err, size_t errlen)
{
    char model[128];
    while (len && isspace((unsigned char)*spec)) {
        spec++;
        len--;
    }
    while (len && isspace((unsigned char)spec[len - 1]))
        len--;
    const char *slash = NULL;
    for (size_t i = len; i > 0; i--)
        if (spec[i - 1] == '/') {
            slash = spec + i - 1;
            break;
        }
    const struct provider *p = NULL;
    if (slash && (p = provider_by_id(slash + 1, (size_t)(spec + len - slash - 1))))
        len = (size_t)(slash - spec);
    if (!len || len >= sizeof model) {
        *status = 400;
        snprintf(err, errlen, "model \"%.*s\": expected MODEL or MODEL/PROVIDER",
                 (int)(len > 100 ? 100 : len), spec);
        return HC_EINVAL;
    }
    memcpy(model, spec, len);
    model[len] = '\0';
    if (!p) {
        const char *id = hc_unified_provider_of(model);
        p = id[0] ? provider_by_id(id, strlen(id)) : NULL;
    }
    if (!p) {
        *status = 400;
        snprintf(err, errlen,
                 "model \"%s\": no provider known for this name; name one as MODEL/PROVIDER "
                 "(openai, anthropic, "
                 "google, groq, mistral, deepseek, xai, together, fireworks, openrouter, "
                 "perplexity, cerebras, deepinfra)",
                 model);
        return HC_EINVAL;
    }
    memset(u, 0, sizeof *u);
    snprintf(u->provider, sizeof u->provider, "%s", p->id);
    snprintf(u->host, sizeof u->host, "%s", p->host);
    u->anthropic = strcmp(p->id, "anthropic") == 0;
    if (u->anthropic) {
        if (strncmp(rest, "/chat/completions", 17) != 0 || (rest[17] && rest[17] != '?')) {
            *status = 404;
            snprintf(err, errlen, "%s: Claude models are served on /v1/chat/completions only",
                     rest);
            return HC_EINVAL;
        }
        hc_unified_anthropic_model(model, u->model, sizeof u->model);
        snprintf(u->path, sizeof u->path, "/v1/messages");
    } else {
        snprintf(u->model, sizeof u->model, "%s", model);
        snprintf(u->path, sizeof u->path, "%s%s", p->base, rest);
    }
    char key[512];
    if (!provider_key(p, key, sizeof key)) {
        *status = 401;
        snprintf(err, errlen,
                 "no API key for provider %s (model %s): set %s%s%s or HC_PROVIDER_KEYS=%s=KEY",
                 p->id, model, p->key_env, p->key_env2 ? " or " : "",
                 p->key_env2 ? p->key_env2 : "", p->id);
        return HC_EINVAL;
    }
    set_auth(u, p, key);
    memset(key, 0, sizeof key);
    return 0;
}

/* Helicone-Target-URL → host and path prefix. */
static int plan_target_url(const hc_http_head *req, hc_unified *u, int *status, char *err,
                           size_t errlen)
{
    const hc_header *h = hc_http_header(req, "helicone-target-url");
    if (!h) {
        *status = 400;
        snprintf(
            err, errlen,
            "gateway.helicone.ai needs a Helicone-Target-URL header (the provider's base URL)");
        return HC_EINVAL;
    }
    char url[1024];
    snprintf(url, sizeof url, "%.*s", (int)h->value_len, h->value);
    const char *hs = strncasecmp(url, "https://", 8) == 0 ? url + 8 : NULL;
    size_t hl = hs ? strcspn(hs, "/?#") : 0;
    if (!hs || !hl || hl >= sizeof u->host || memchr(hs, ':', hl) || memchr(hs, '@', hl)) {
        *status = 400;
        snprintf(err, errlen, "Helicone-Target-URL: expected https://HOST[/PATH], got \"%.200s\"",
                 url);
        return HC_EINVAL;
    }
    memset(u, 0, sizeof *u);
    snprintf(u->host, sizeof u->host, "%.*s", (int)hl, hs);
    const char *path = hs + hl;
    size_t pl = strcspn(path, "?#");
    while (pl && path[pl - 1] == '/')
        pl--;
    snprintf(u->path, sizeof u->path, "%.*s%.*s", (int)pl, path, (int)req->target_len, req->target);
    const struct provider *p = provider_by_host(u->host);
    snprintf(u->provider, sizeof u->provider, "%s", p ? p->id : "");
    return 0;
}

int hc_unified_plan_spec(const hc_http_head *req, const char *spec, hc_unified *plans, int *nplans,
                         int *status, char *err, size_t errlen)
{
    char rest[900];
    rest_of_path(req, rest, sizeof rest);
    const char *s = spec;
    int rc = 0, added = 0;
    while (*s && *nplans < HC_UNIFIED_MAX) {
        size_t len = strcspn(s, ",");
        rc = plan_model(s, len, rest, &plans[*nplans], status, err, errlen);
        if (rc == 0) {
            (*nplans)++;
            added++;
        } else if (*status != 401) {
            return rc; /* a bad name is the app's mistake: say so */
        }
        s += len;
        s += strspn(s, ",");
    }
    /* A provider without a key is skipped when another model of the list can serve. */
    return added ? 0 : rc;
}

/* Is this a request the provider keys from the environment may be spent on?
 * Only a JSON POST to an inference endpoint: anything else (GET /v1/files,
 * DELETE /v1/files/ID, a text/plain form a web page can send without a CORS
 * preflight) could read or change the user's account with the user's key.
 * 0, or an error as hc_unified_plan. */
static int inference_request(const hc_http_head *req, int *status, char *err, size_t errlen)
{
    static const char *const paths[] = { "/chat/completions", "/completions", "/embeddings",
                                         "/responses" };
    if (!hc_span_ieq(req->method, req->method_len, "POST")) {
        *status = 405;
        snprintf(err, errlen, "%.*s: the unified endpoint serves POST requests only",
                 (int)(req->method_len > 16 ? 16 : req->method_len), req->method);
        return HC_EINVAL;
    }
    const hc_header *ct = hc_http_header(req, "content-type");
    if (!ct || ct->value_len < 16 || strncasecmp(ct->value, "application/json", 16) != 0 ||
        (ct->value_len > 16 && ct->value[16] != ';' && ct->value[16] != ' ')) {
        *status = 415;
        snprintf(err, errlen, "the unified endpoint takes Content-Type: application/json only");
        return HC_EINVAL;
    }
    char rest[900];
    rest_of_path(req, rest, sizeof rest);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        size_t l = strlen(paths[i]);
        if (strncmp(rest, paths[i], l) == 0 && (rest[l] == '\0' || rest[l] == '?'))
            return 0;
    }
    *status = 404;
    snprintf(
        err, errlen,
        "%.200s: the unified endpoint serves /v1/chat/completions, /v1/completions, /v1/embeddings "
        "and /v1/responses",
        rest);
    return HC_EINVAL;
}

static int plan_models(const hc_http_head *req, const char *body, size_t n, hc_unified *plans,
                       int *nplans, int *status, char *err, size_t errlen)
{
    int irc = inference_request(req, status, err, errlen);
    if (irc != 0)
        return irc;
    cJSON *j = n ? cJSON_ParseWithLength(body, n) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    int rc;
    if (!cJSON_IsString(m) || !m->valuestring[0]) {
        *status = 400;
        snprintf(err, errlen,
                 "ai-gateway.helicone.ai needs a JSON body with a \"model\" (MODEL, MODEL/PROVIDER "
                 "or a comma-separated list)");
        rc = HC_EINVAL;
    } else {
        rc = hc_unified_plan_spec(req, m->valuestring, plans, nplans, status, err, errlen);
    }
    cJSON_Delete(j);
    return rc;
}

int hc_unified_plan(const char *host, const hc_http_head *req, const char *body, size_t n,
                    hc_unified *plans, int *nplans, int *status, char *err, size_t errlen)
{
    *nplans = 0;
    *status = 0;
    err[0] = '\0';
    if (strcasecmp(host, HC_UNIFIED_LOCAL_HOST) == 0) {
        /* /<provider>/rest: that provider's own API, as the app wrote it. */
        const char *t = req->target, *end = t + req->target_len;
        const char *seg = t + 1, *slash = seg < end ? memchr(seg, '/', (size_t)(end - seg)) : NULL;
        const struct provider *p = slash ? provider_by_id(seg, (size_t)(slash - seg)) : NULL;
        if (!p)
            return plan_models(req, body, n, plans, nplans, status, err, errlen);
        memset(&plans[0], 0, sizeof plans[0]);
        snprintf(plans[0].provider, sizeof plans[0].provider, "%s", p->id);
        snprintf(plans[0].host, sizeof plans[0].host, "%s", p->host);
        snprintf(plans[0].path, sizeof plans[0].path, "%.*s", (int)(end - slash), slash);
        *nplans = 1;
        return 0;
    }
    if (strcasecmp(host, "ai-gateway.helicone.ai") == 0)
        return plan_models(req, body, n, plans, nplans, status, err, errlen);
    hc_unified *u = &plans[0];
    int rc = 0;
    if (strncasecmp(host, "oai.", 4) == 0) {
        memset(u, 0, sizeof *u);
        snprintf(u->provider, sizeof u->provider, "openai");
        snprintf(u->host, sizeof u->host, "api.openai.com");
        snprintf(u->path, sizeof u->path, "%.*s", (int)req->target_len, req->target);
    } else if (strncasecmp(host, "anthropic.", 10) == 0) {
        memset(u, 0, sizeof *u);
        snprintf(u->provider, sizeof u->provider, "anthropic");
        snprintf(u->host, sizeof u->host, "api.anthropic.com");
        snprintf(u->path, sizeof u->path, "%.*s", (int)req->target_len, req->target);
    } else {
        rc = plan_target_url(req, u, status, err, errlen);
    }
    if (rc == 0)
        *nplans = 1;
    return rc;
}
