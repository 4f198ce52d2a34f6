/* provider.h — which LLM provider a host belongs to, and which API a request targets.
 *
 * Two small classifiers used on every exchange (record fields `provider` and
 * `api`, see record.h) and by the usage extractor (usage.h), which needs the API
 * kind to read the right fields.
 *
 * Provider ids (stable strings, stored in records; never rename one):
 *   openai      api.openai.com
 *   azure       *.openai.azure.com, *.cognitiveservices.azure.com, *.services.ai.azure.com
 *   anthropic   api.anthropic.com
 *   google      generativelanguage.googleapis.com, aiplatform.googleapis.com,
 *               <region>-aiplatform.googleapis.com (Vertex AI)
 *   groq        api.groq.com
 *   mistral     api.mistral.ai, codestral.mistral.ai
 *   deepseek    api.deepseek.com
 *   xai         api.x.ai
 *   together    api.together.xyz, api.together.ai
 *   fireworks   api.fireworks.ai
 *   openrouter  openrouter.ai
 *   cohere      api.cohere.com, api.cohere.ai
 *   perplexity  api.perplexity.ai
 *   cerebras    api.cerebras.ai
 *   deepinfra   api.deepinfra.com
 *   moonshot    api.moonshot.ai, api.moonshot.cn
 *   ollama      localhost / 127.0.0.1 / ::1 on port 11434, and ollama.com
 *
 * Every host recognised here is one the shim redirects into the gateway
 * (shim/hosts.c), so a provider is added only with an API this tree can read.
 * provider.c uses libc only: the shim links it.
 *
 * All functions are pure (no state, no allocation) and thread-safe.
 */
#ifndef HC_PROVIDER_H
#define HC_PROVIDER_H

#include <stddef.h>

/* Default port of a local Ollama server. */
#define HC_OLLAMA_PORT 11434

/* Provider id for a host name, or "" when the host is not a known LLM provider.
 *   host  the name the app addressed (SNI or Host header). Case-insensitive; a
 *         trailing dot is ignored; "[::1]" brackets are accepted; a ":port"
 *         suffix is accepted and used when `port` is <= 0. NULL gives "".
 *   port  the TCP port, or <= 0 when unknown. Only the loopback Ollama rule
 *         looks at it (a loopback host on another port is "" — it could be any
 *         local service).
 * Returns a static string, never NULL. */
const char *hc_provider_for_host(const char *host, int port);

/* The host patterns behind hc_provider_for_host, for the gateway CA's X.509
 * name constraints: the i-th pattern (from 0), NULL past the end. A pattern is
 * an exact host name ("api.openai.com") or, when it starts with '.', a suffix
 * standing for every name below it (".openai.azure.com"), as RFC 5280 dNSName
 * constraints read them. A rule finer than that is given as the narrowest
 * suffix covering it: Vertex AI's <region>-aiplatform.googleapis.com as
 * ".googleapis.com". The loopback Ollama rule is "localhost" (the shim leaves
 * loopback names to HC_HOSTS). Every name hc_provider_for_host recognises is
 * covered by some pattern. Static strings. */
const char *hc_provider_host_pattern(size_t i);

/* Is `host` one of Helicone's cloud hosts (ai-gateway.helicone.ai, the older
 * proxies oai./anthropic./gateway.helicone.ai and their hconeai.com
 * spellings)? The shim answers their lookups itself and the gateway serves
 * them locally (core/unified.h). Case-insensitive; NULL gives false. */
int hc_provider_is_helicone(const char *host);

/* The i-th Helicone host name (from 0), NULL past the end. Static strings. */
const char *hc_provider_helicone_host(size_t i);

/* The API an exchange speaks; decides how its bodies are read (usage.h). */
enum hc_api {
    HC_API_UNKNOWN,
    HC_API_CHAT, /* OpenAI chat completions and every compatible API: POST .../chat/completions */
    HC_API_RESPONSES,       /* OpenAI Responses API: POST .../responses */
    HC_API_EMBEDDINGS,      /* POST .../embeddings */
    HC_API_COMPLETIONS,     /* legacy text completions: POST .../completions */
    HC_API_MESSAGES,        /* Anthropic Messages: POST .../v1/messages; Vertex AI
                                publishers/anthropic/models/X:rawPredict / :streamRawPredict */
    HC_API_GEMINI,          /* Gemini / Vertex AI: POST .../models/X:generateContent,
                                :streamGenerateContent */
    HC_API_OLLAMA_CHAT,     /* Ollama native: POST .../api/chat */
    HC_API_OLLAMA_GENERATE, /* Ollama native: POST .../api/generate */
    HC_API_OLLAMA_EMBED,    /* Ollama native: POST .../api/embed (and legacy /api/embeddings) */
    HC_API_GEMINI_EMBED,    /* Gemini: POST .../models/X:embedContent, :batchEmbedContents */
    HC_API_COHERE_CHAT,     /* Cohere v2 chat: POST .../v2/chat */
    HC_API_NKINDS           /* number of kinds; not an API */
};

/* Classify a request.
 *   method      the request method ("POST"); NULL skips the check. Every API
 *               above is POST-only: any other method gives HC_API_UNKNOWN.
 *   target      the request target as sent: path + query ("/v1/chat/completions"),
 *               or an absolute URI ("https://host/v1/..."), not necessarily
 *               NUL-terminated; only target_len bytes are read. NULL gives UNKNOWN.
 * The query string and trailing slashes are ignored, and matching is on the end
 * of the path, so prefixes used by proxies and providers are tolerated
 * (Groq's /openai/v1/chat/completions, OpenRouter's /api/v1/..., Azure's
 * /openai/deployments/D/chat/completions, Gemini's /v1beta/openai/...). */
enum hc_api hc_api_detect(const char *method, const char *target, size_t target_len);

/* Short stable name stored in records: "chat", "responses", "embeddings",
 * "completions", "messages", "gemini", "ollama-chat", "ollama-generate",
 * "ollama-embed", "gemini-embed", "cohere-chat"; "" for HC_API_UNKNOWN or any
 * value out of range. Static, never NULL. */
const char *hc_api_name(enum hc_api api);

/* The inverse of hc_api_name (exact match); HC_API_UNKNOWN if no kind has that name. */
enum hc_api hc_api_from_name(const char *name);

#endif
