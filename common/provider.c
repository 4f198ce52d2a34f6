/* provider.c — host → provider id, (method, target) → API kind (see provider.h). */
#include "provider.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Longest DNS name (253) plus room for brackets, a port and the NUL. */
#define HOST_MAX 272

struct host_rule {
    const char *name;
    const char *id;
};

/* Exact names. Sources: each provider's API reference gives its base URL. */
static const struct host_rule exact_hosts[] = {
    { "api.openai.com", "openai" },
    { "api.anthropic.com", "anthropic" },
    { "generativelanguage.googleapis.com", "google" },
    { "aiplatform.googleapis.com", "google" },
    { "api.groq.com", "groq" },
    { "api.mistral.ai", "mistral" },
    { "codestral.mistral.ai", "mistral" },
    { "api.deepseek.com", "deepseek" },
    { "api.x.ai", "xai" },
    { "api.together.xyz", "together" },
    { "api.together.ai", "together" },
    { "api.fireworks.ai", "fireworks" },
    { "openrouter.ai", "openrouter" },
    { "api.cohere.com", "cohere" },
    { "api.cohere.ai", "cohere" },
    { "api.perplexity.ai", "perplexity" },
    { "api.cerebras.ai", "cerebras" },
    { "api.deepinfra.com", "deepinfra" },
    { "api.moonshot.ai", "moonshot" },
    { "api.moonshot.cn", "moonshot" },
    { "ollama.com", "ollama" },
};

/* Names ending with a suffix: each tenant or region gets its own name. The
 * suffix starts with '.' or '-' so that a match always ends on a label boundary
 * inside the name ("evilopenai.azure.com" does not match ".openai.azure.com"). */
static const struct host_rule suffix_hosts[] = {
    { ".openai.azure.com", "azure" },
    { ".cognitiveservices.azure.com", "azure" },
    { ".services.ai.azure.com", "azure" },
};

static bool ends_with(const char *s, size_t n, const char *suf, size_t *prefix_len)
{
    size_t m = strlen(suf);
    if (n <= m || memcmp(s + n - m, suf, m) != 0)
        return false;
    *prefix_len = n - m;
    return true;
}

/* Parse the decimal port in [p, p+n); -1 if it is not one. */
static int parse_port(const char *p, size_t n)
{
    int v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

/* Lower-cased bare host name into out (no brackets, port or trailing dot); the
 * port found in the string, if any, into *port_in_name. false if unusable. */
static bool normalise_host(const char *host, char *out, size_t outsz, int *port_in_name)
{
    size_t n = strnlen(host, HOST_MAX);
    const char *b = host, *e = host + n;
    *port_in_name = -1;
    if (n == 0 || n >= HOST_MAX)
        return false;
    if (*b == '[') {
        const char *rb = memchr(b, ']', n);
        if (!rb)
            return false;
        if (rb + 1 < e) {
            if (rb[1] != ':')
                return false;
            *port_in_name = parse_port(rb + 2, (size_t)(e - rb - 2));
        }
        b++;
        e = rb;
    } else {
        const char *c1 = memchr(b, ':', n);
        /* Exactly one colon: "name:port". More: a bare IPv6 literal. */
        if (c1 && !memchr(c1 + 1, ':', (size_t)(e - c1 - 1))) {
            *port_in_name = parse_port(c1 + 1, (size_t)(e - c1 - 1));
            e = c1;
        }
    }
    if (e > b && e[-1] == '.')
        e--;
    size_t len = (size_t)(e - b);
    if (len == 0 || len >= outsz)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = b[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[len] = '\0';
    return true;
}

static bool is_loopback(const char *h)
{
    if (strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 || strcmp(h, "0:0:0:0:0:0:0:1") == 0)
        return true;
    /* 127.0.0.0/8 as a literal; "127.example.com" is a name, not loopback. */
    if (strncmp(h, "127.", 4) != 0)
        return false;
    return strspn(h, "0123456789.") == strlen(h);
}

const char *hc_provider_for_host(const char *host, int port)
{
    char h[HOST_MAX];
    int port_in_name;
    size_t pre;

    if (!host || !normalise_host(host, h, sizeof h, &port_in_name))
        return "";
    if (port <= 0)
        port = port_in_name;
    size_t n = strlen(h);

    for (size_t i = 0; i < sizeof exact_hosts / sizeof exact_hosts[0]; i++)
        if (strcmp(h, exact_hosts[i].name) == 0)
            return exact_hosts[i].id;
    for (size_t i = 0; i < sizeof suffix_hosts / sizeof suffix_hosts[0]; i++)
        if (ends_with(h, n, suffix_hosts[i].name, &pre))
            return suffix_hosts[i].id;
    /* Vertex AI regional endpoints: one label, then "-aiplatform.googleapis.com". */
    if (ends_with(h, n, "-aiplatform.googleapis.com", &pre) && !memchr(h, '.', pre))
        return "google";
    if (port == HC_OLLAMA_PORT && is_loopback(h))
        return "ollama";
    return "";
}

const char *hc_provider_host_pattern(size_t i)
{
    const size_t ne = sizeof exact_hosts / sizeof exact_hosts[0];
    const size_t ns = sizeof suffix_hosts / sizeof suffix_hosts[0];
    if (i < ne)
        return exact_hosts[i].name;
    i -= ne;
    if (i < ns)
        return suffix_hosts[i].name;
    i -= ns;
    /* X.509 name constraints cannot say "<one label>-aiplatform.googleapis.com":
     * the narrowest covering suffix it is. */
    if (i == 0)
        return ".googleapis.com";
    if (i == 1)
        return "localhost";
    return NULL;
}

/* ---- API detection ------------------------------------------------------- */

static const char *const api_names[HC_API_NKINDS] = {
    [HC_API_UNKNOWN] = "",
    [HC_API_CHAT] = "chat",
    [HC_API_RESPONSES] = "responses",
    [HC_API_EMBEDDINGS] = "embeddings",
    [HC_API_COMPLETIONS] = "completions",
    [HC_API_MESSAGES] = "messages",
    [HC_API_GEMINI] = "gemini",
    [HC_API_OLLAMA_CHAT] = "ollama-chat",
    [HC_API_OLLAMA_GENERATE] = "ollama-generate",
    [HC_API_OLLAMA_EMBED] = "ollama-embed",
    [HC_API_GEMINI_EMBED] = "gemini-embed",
    [HC_API_COHERE_CHAT] = "cohere-chat",
};

const char *hc_api_name(enum hc_api api)
{
    if ((unsigned)api >= HC_API_NKINDS)
        return "";
    return api_names[api];
}

enum hc_api hc_api_from_name(const char *name)
{
    if (!name || !*name)
        return HC_API_UNKNOWN;
    for (int i = 1; i < HC_API_NKINDS; i++)
        if (strcmp(api_names[i], name) == 0)
            return (enum hc_api)i;
    return HC_API_UNKNOWN;
}

/* Path ends with `suf` (which starts with '/', so the match begins on a segment). */
static bool path_ends(const char *p, size_t n, const char *suf)
{
    size_t m = strlen(suf);
    return n >= m && memcmp(p + n - m, suf, m) == 0;
}

/* Gemini-style "…/models/NAME:action" (also tunedModels/NAME). Returns the API
 * for the action, HC_API_UNKNOWN if the path is not of that form. */
static enum hc_api detect_colon_action(const char *p, size_t n)
{
    const char *seg = p + n;
    while (seg > p && seg[-1] != '/')
        seg--;
    size_t seglen = (size_t)(p + n - seg);
    const char *colon = memchr(seg, ':', seglen);
    if (!colon || colon == seg || seg == p)
        return HC_API_UNKNOWN;
    /* The segment before the model name must be "models" or "tunedModels". */
    const char *dir_end = seg - 1, *dir = dir_end;
    while (dir > p && dir[-1] != '/')
        dir--;
    size_t dl = (size_t)(dir_end - dir);
    if (!((dl == 6 && memcmp(dir, "models", 6) == 0) ||
          (dl == 11 && memcmp(dir, "tunedModels", 11) == 0)))
        return HC_API_UNKNOWN;
    const char *act = colon + 1;
    size_t al = (size_t)(p + n - act);
#define ACT_IS(s) (al == sizeof(s) - 1 && memcmp(act, s, sizeof(s) - 1) == 0)
    if (ACT_IS("generateContent") || ACT_IS("streamGenerateContent"))
        return HC_API_GEMINI;
    if (ACT_IS("embedContent") || ACT_IS("batchEmbedContents"))
        return HC_API_GEMINI_EMBED;
    if (ACT_IS("rawPredict") || ACT_IS("streamRawPredict")) {
        /* Vertex AI serves Claude with the Anthropic Messages body under
         * publishers/anthropic/models/X:rawPredict. */
        static const char pub[] = "/publishers/anthropic/";
        if ((size_t)(dir - p) >= sizeof pub - 1 &&
            memcmp(dir - (sizeof pub - 1), pub, sizeof pub - 1) == 0)
            return HC_API_MESSAGES;
    }
#undef ACT_IS
    return HC_API_UNKNOWN;
}

enum hc_api hc_api_detect(const char *method, const char *target, size_t target_len)
{
    if (!target)
        return HC_API_UNKNOWN;
    if (method && strcmp(method, "POST") != 0)
        return HC_API_UNKNOWN;

    const char *p = target;
    size_t n = target_len;
    /* Absolute form (a request to a proxy): skip "scheme://authority". */
    for (size_t i = 0; i + 2 < n && i < 16; i++) {
        if (p[i] == '/')
            break;
        if (p[i] == ':' && p[i + 1] == '/' && p[i + 2] == '/') {
            const char *auth = p + i + 3;
            const char *slash = memchr(auth, '/', n - (i + 3));
            if (!slash)
                return HC_API_UNKNOWN;
            n -= (size_t)(slash - p);
            p = slash;
            break;
        }
    }
    const char *q = memchr(p, '?', n);
    if (q)
        n = (size_t)(q - p);
    const char *hash = memchr(p, '#', n);
    if (hash)
        n = (size_t)(hash - p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    if (n == 0 || p[0] != '/')
        return HC_API_UNKNOWN;
    if (memchr(p, '\0', n))
        return HC_API_UNKNOWN;

    enum hc_api a = detect_colon_action(p, n);
    if (a != HC_API_UNKNOWN)
        return a;
    if (path_ends(p, n, "/chat/completions"))
        return HC_API_CHAT;
    if (path_ends(p, n, "/completions"))
        return HC_API_COMPLETIONS;
    if (path_ends(p, n, "/responses"))
        return HC_API_RESPONSES;
    /* Ollama's legacy embeddings endpoint is exactly /api/embeddings; OpenRouter's
     * /api/v1/embeddings and everyone else's …/v1/embeddings are OpenAI-style. */
    if (path_ends(p, n, "/api/embeddings"))
        return HC_API_OLLAMA_EMBED;
    if (path_ends(p, n, "/embeddings"))
        return HC_API_EMBEDDINGS;
    /* Anthropic's is /v1/messages; requiring the version segment keeps out
     * OpenAI's /v1/threads/T/messages (Assistants API). */
    if (path_ends(p, n, "/v1/messages"))
        return HC_API_MESSAGES;
    if (path_ends(p, n, "/api/chat"))
        return HC_API_OLLAMA_CHAT;
    if (path_ends(p, n, "/api/generate"))
        return HC_API_OLLAMA_GENERATE;
    if (path_ends(p, n, "/api/embed"))
        return HC_API_OLLAMA_EMBED;
    if (path_ends(p, n, "/v2/chat"))
        return HC_API_COHERE_CHAT;
    return HC_API_UNKNOWN;
}

static const char *const helicone_hosts[] = {
    "ai-gateway.helicone.ai", "gateway.helicone.ai",
    "oai.helicone.ai",        "anthropic.helicone.ai",
    "gateway.hconeai.com",    "oai.hconeai.com",
    "anthropic.hconeai.com",  NULL,
};

const char *hc_provider_helicone_host(size_t i)
{
    return i < sizeof helicone_hosts / sizeof helicone_hosts[0] ? helicone_hosts[i] : NULL;
}

int hc_provider_is_helicone(const char *host)
{
    if (!host)
        return 0;
    for (size_t i = 0; helicone_hosts[i]; i++)
        if (strcasecmp(host, helicone_hosts[i]) == 0)
            return 1;
    return 0;
}
