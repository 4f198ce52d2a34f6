/* unified.h — Helicone's hosts answered by the local gateway.
 *
 * Programs written for Helicone send their requests to Helicone's cloud:
 *   ai-gateway.helicone.ai   the AI Gateway: one OpenAI-compatible endpoint
 *                            (base URL https://ai-gateway.helicone.ai[/v1]) for
 *                            every model; the Authorization key is Helicone's
 *   oai.helicone.ai, anthropic.helicone.ai (and *.hconeai.com)
 *                            the older proxies: OpenAI's / Anthropic's own API,
 *                            with the provider's key and Helicone-Auth
 *   gateway.helicone.ai      the generic proxy: the provider's base URL in
 *                            Helicone-Target-URL
 * The shim answers these names itself (shim/hosts.c) and the gateway sends
 * each request straight to the provider: nothing reaches Helicone.
 *
 * Model syntax of the AI Gateway (Helicone's docs): "MODEL" (the provider is
 * known from the name: gpt-/o1/o3/o4/chatgpt- → openai, claude- → anthropic,
 * gemini-/gemma- → google, grok- → xai, deepseek- → deepseek, mistral-/
 * codestral-/… → mistral), "MODEL/PROVIDER" (e.g. "claude-sonnet-4/anthropic",
 * "llama-3.3-70b-versatile/groq"), and a comma-separated list of these tried
 * in order as fallbacks ("gpt-4o/openai,claude-sonnet-4/anthropic").
 *
 * Keys: the Helicone key the app sends is dropped. Each provider's key comes
 * from HC_PROVIDER_KEYS ("provider=KEY[,…]") or else the provider's usual
 * variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY or
 * GOOGLE_API_KEY, GROQ_API_KEY, MISTRAL_API_KEY, DEEPSEEK_API_KEY,
 * XAI_API_KEY, TOGETHER_API_KEY, FIREWORKS_API_KEY, OPENROUTER_API_KEY,
 * PERPLEXITY_API_KEY, CEREBRAS_API_KEY, DEEPINFRA_API_KEY). A key lives in
 * memory only, in the plan, and is written nowhere but the upstream request.
 *
 * Claude models are reached through Anthropic's Messages API with
 * translate_anthropic.h; Gemini through Google's OpenAI-compatible API
 * (/v1beta/openai/); every other provider through its OpenAI-compatible API.
 *
 * Pure functions apart from getenv; thread-safe.
 */
#ifndef HC_CORE_UNIFIED_H
#define HC_CORE_UNIFIED_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

#define HC_UNIFIED_MAX 8 /* models in one comma-separated list */

/* The host name hc-gateway serves its base URL under (never looked up): on
 * it, /<provider>/… (openai, anthropic, google or gemini, groq, …) is that
 * provider's own API with the app's own key (for ANTHROPIC_BASE_URL=
 * http://127.0.0.1:PORT/anthropic), and every other path is the unified
 * endpoint, as on ai-gateway.helicone.ai (OPENAI_BASE_URL=http://127.0.0.1:PORT/v1). */
#define HC_UNIFIED_LOCAL_HOST "hc-gateway.local"

/* Where one request goes. */
typedef struct hc_unified {
    char provider[32]; /* provider id (provider.h) */
    char host[256];    /* the provider's API host */
    char path[1024];   /* request target to send (path + query) */
    char model[128];   /* the model to put in the body ("" = leave the body alone) */
    bool anthropic;    /* translate chat completions ⇄ Anthropic Messages */
    bool own_auth;     /* replace the app's credentials by auth_name: auth_value */
    bool passthrough;  /* to Helicone itself, as the app sent it (no local key: proxy.c) */
    char auth_name[32];
    char auth_value[600]; /* secret: never logged or stored */
} hc_unified;

/* Is `host` one of Helicone's hosts the gateway answers itself, or
 * HC_UNIFIED_LOCAL_HOST? */
bool hc_unified_is_host(const char *host);

/* Plan the request (head req, body[0..n)) the app sent to Helicone host
 * `host`: fill plans[0..*nplans) (the first is the primary, the others the
 * fallbacks of a model list). Returns 0, or a negative error with an HTTP
 * status for the app in *status (400 bad model or target, 401 no key for the
 * provider, 404 a path the provider cannot serve) and the reason in err. */
int hc_unified_plan(const char *host, const hc_http_head *req, const char *body, size_t n,
                    hc_unified *plans, int *nplans, int *status, char *err, size_t errlen);

/* Append the plans of model list `spec` (as in a body's "model") to
 * plans[*nplans..HC_UNIFIED_MAX): used for Helicone-Fallback-Model on the AI
 * Gateway. A model whose provider has no key is skipped while another one of
 * the list can serve. 0, or an error as hc_unified_plan. */
int hc_unified_plan_spec(const hc_http_head *req, const char *spec, hc_unified *plans, int *nplans,
                         int *status, char *err, size_t errlen);

/* The provider id a bare model name implies, or "" (static string). */
const char *hc_unified_provider_of(const char *model);

/* The model name Anthropic's API accepts for a Helicone-style Claude name:
 * dots between digits become dashes ("claude-3.5-haiku" → "claude-3-5-haiku")
 * and undated family names get Anthropic's alias ("claude-sonnet-4" →
 * "claude-sonnet-4-0"). */
void hc_unified_anthropic_model(const char *in, char *out, size_t size);

#endif
