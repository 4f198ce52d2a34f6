/* priceimport.h — price databases converted into price-table rows.
 *
 * DESIGN. hcshim prices from one table format (docs/PRICES.md: 15 tab-separated
 * columns). Two public databases are kept up to date by others:
 * pydantic/genai-prices' data.json (providers, each with models carrying match
 * rules and per-1M prices, tiered and time-conditional) and LiteLLM's
 * model_prices_and_context_window.json (one object per model name with per-token
 * costs). This module reads either (detected by shape: a JSON array of provider
 * objects is genai-prices, a JSON object of model objects is LiteLLM) and
 * writes rows of the table format. What the table cannot express is never
 * dropped silently: each such field, rule or price is reported on `report`
 * (one line each, "NAME: what was not imported and why") and counted.
 *
 * Mapping (docs/PRICES.md "Importing" lists it in full):
 *   genai-prices  match `equals` -> one exact row per name (plus the model id
 *                 when the rule matches it); `starts_with` -> a prefix row
 *                 (model ends with '*'); `contains`/`ends_with`/`regex` and
 *                 `and` -> reported, not imported. Prices per 1M: input_mtok,
 *                 output_mtok, cache_read_mtok, cache_write_mtok (-> 5-minute
 *                 write), requests_kcount (per 1000 requests -> per request).
 *                 A tiered price {base, tiers[1]} -> the long-context columns;
 *                 more tiers, audio prices and time-of-day constraints are
 *                 reported. A list of conditional prices: the last one whose
 *                 start_date is on or before `as_of` applies. An empty price
 *                 object means free (0/0). Provider ids: x-ai -> xai, aws ->
 *                 bedrock, moonshotai -> moonshot; hosts (aws, azure, together,
 *                 fireworks, groq, openrouter, huggingface_*, …) are written
 *                 after the makers. fallback_model_providers: the lookup has
 *                 Azure's and Vertex's built in (common/pricing.c); others and
 *                 unknown model or provider fields are reported.
 *   LiteLLM       *_cost_per_token x 1e6; cache_read_input_token_cost,
 *                 cache_creation_input_token_cost(_above_1hr),
 *                 *_above_NNNk_tokens -> long-context tier at NNN000,
 *                 output_cost_per_reasoning_token, input_cost_per_request.
 *                 Metadata keys (max_*, supports_*, mode, …) are ignored by
 *                 name; any other key is reported.
 *
 * Thread-safety: none needed (hc-analyze is single-threaded); no globals.
 */
#ifndef HC_ANA_PRICEIMPORT_H
#define HC_ANA_PRICEIMPORT_H

#include <stddef.h>
#include <stdio.h>

enum pimp_format { PIMP_GENAI_PRICES = 1, PIMP_LITELLM = 2 };

typedef struct pimp_opts {
    const char *
        source; /* the database's URL: genai-prices rows get "SOURCE#provider", LiteLLM rows SOURCE;
                             NULL: the database's name and the pricing page it cites */
    const char *date;  /* `date` column (YYYY-MM-DD) of every row; required */
    const char *as_of; /* YYYY-MM-DD: which dated price applies; NULL: date */
    const char
        *skip_tsv; /* NULL, or a price file's text: its (provider, model) pairs are not emitted */
} pimp_opts;

typedef struct pimp_stats {
    enum pimp_format format;
    size_t rows;       /* rows written */
    size_t models;     /* models in the database */
    size_t providers;  /* distinct providers among the rows written */
    size_t reported;   /* lines written to `report` */
    size_t overridden; /* rows not written because skip_tsv has them */
} pimp_stats;

/* Convert the JSON text [text, text+len) (`name` is used in messages) and
 * write data rows (no header, no comments) to `out`, the problems to `report`
 * (may be NULL: counted only). Returns 0; HC_EPARSE with a message in err when
 * the text is not JSON or neither format; HC_ENOMEM; HC_EIO if writing fails. */
int pimp_convert(const char *text, size_t len, const char *name, const pimp_opts *o, FILE *out,
                 FILE *report, pimp_stats *st, char *err, size_t errlen);

#endif
