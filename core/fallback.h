/* fallback.h — where a request goes when its target keeps failing.
 *
 * Two spellings, as Helicone accepts them:
 *   Helicone-Fallback-Model: M  (+ Helicone-Fallback-OnCodes: 429,500-599)
 *       one fallback: the same target, with the body's "model" set to M.
 *       Default codes: HC_FALLBACK_ON_DEFAULT (429,500,502,503,504).
 *   Helicone-Fallbacks: [{"target-url": "https://api.groq.com/openai",
 *                         "headers": {"Authorization": "Bearer $GROQ_API_KEY"},
 *                         "onCodes": [429, {"from": 500, "to": 599}],
 *                         "bodyKeyOverride": {"model": "llama-3.3-70b-versatile"}}, …]
 *       an ordered list of other targets. target-url is a base URL whose path is
 *       prepended to the request's path; "$VAR" and "${VAR}" in header values
 *       are taken from the process environment (so each provider's key stays in
 *       the environment, never in code); listed headers replace the request's
 *       headers of the same name; bodyKeyOverride replaces top-level body keys.
 * When both are given, the model fallback comes first. A fallback is tried
 * when the previous target's final status is in ITS codes; a connection
 * failure (status 0) triggers every fallback.
 *
 * Not thread-safe per list (one per request); parsing is pure.
 */
#ifndef HC_CORE_FALLBACK_H
#define HC_CORE_FALLBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "options.h"

#define HC_MAX_FALLBACKS 8

typedef struct hc_codes {
    uint8_t bits[75]; /* status 0..599; bit 0 is "connection failure" */
} hc_codes;

typedef struct hc_fallback {
    bool has_target; /* false: the request's own target (model form) */
    hc_route target; /* parsed target-url (host = its host name) */
    char url[512];
    hc_buf headers; /* pairs list: header name, expanded value */
    hc_codes codes;
    char *override; /* bodyKeyOverride as JSON object text (owned), or NULL */
} hc_fallback;

/* Parse "429,500-599,503" into c (0 also allowed). 0 or HC_EINVAL. */
int hc_codes_parse(const char *spec, hc_codes *c);
bool hc_codes_has(const hc_codes *c, int status);

/* Build the fallback list of a request from its options. On a malformed
 * Helicone-Fallbacks value returns HC_EINVAL with a reason in err (the
 * request is then answered 400). *n gets the count. Free with hc_fallbacks_free. */
int hc_fallbacks_build(const hc_opts *o, hc_fallback *out, int max, int *n, char *err,
                       size_t errlen);
void hc_fallbacks_free(hc_fallback *f, int n);

/* The request body for fallback f: body with f's overrides applied (top-level
 * keys replaced or added, every other byte kept). Returns 1 with out filled,
 * 0 when there is nothing to change, HC_EPARSE when the body is not a JSON
 * object but overrides are needed, HC_ENOMEM. */
int hc_fallback_body(const hc_fallback *f, const char *body, size_t len, hc_buf *out);

/* Expand $VAR / ${VAR} from the environment (undefined → ""). 0 or HC_ENOMEM. */
int hc_expand_env(const char *in, hc_buf *out);

#endif
