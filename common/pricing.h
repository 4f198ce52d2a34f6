/* pricing.h — the price table (data/prices.tsv) and exact cost accounting.
 *
 * The table is data, embedded verbatim into every binary (common/prices_blob.S)
 * and parsed on first use; it is generated (scripts/gen-prices.sh) from the
 * genai-prices data and data/prices-overrides.tsv. A user file in the same
 * format ($HC_PRICES, else ~/.config/hcshim/prices.tsv: hc_pricing_user_file())
 * can add rows and override rows with the same (provider, model). The format,
 * the matching rules and the sources of every price are documented in
 * docs/PRICES.md.
 *
 * Units. Token prices are stored as integer pico-USD (1e-12 USD) per token,
 * which is exactly "USD per 1M tokens" with six decimals: $0.0375 / 1M tokens
 * is 37500 pUSD/token. Costs are integer nano-USD (1e-9 USD), the unit of the
 * record's cost_nusd field. No floating point anywhere: a cost is exact, or the
 * model is unpriced (lookup returns NULL; the caller records HC_COST_UNPRICED,
 * never $0).
 *
 * Lifetime. Everything is loaded once per process and never freed: every
 * hc_price pointer and every string in it stays valid until the process exits.
 * The loaded table is immutable after hc_pricing_init(), so lookups need no lock.
 *
 * Thread-safety: every function is thread-safe. hc_pricing_init() serialises
 * the one load; hc_price_lookup(), hc_pricing_count() and hc_pricing_at() call
 * hc_pricing_init(NULL, ...) themselves if nobody did. After fork() the child
 * keeps the loaded table (it is plain memory). Nothing here allocates after the
 * load, and lookup never allocates.
 */
#ifndef HC_PRICING_H
#define HC_PRICING_H

#include <stddef.h>
#include <stdint.h>

#include "tokens.h" /* hc_tokens: the counts a cost is computed from */

/* Most time-of-day windows one row can name ("01:00-04:00,06:00-10:00" is two). */
#define HC_PEAK_MAX 4

typedef struct hc_price {
    const char *provider, *model, *source, *date; /* point into the loaded table */
    /* pico-USD (1e-12 USD) per token; -1 = not offered (falls back as documented) */
    int64_t in, out, cached, cw5m, cw1h, reasoning;
    int64_t per_request_nusd;               /* nano-USD per request, 0 if none */
    int64_t long_threshold;                 /* 0 = no tier */
    int64_t in_long, out_long, cached_long; /* pico-USD per token, -1 = same as base */
    /* Added fields. */
    int line; /* line of the row in its file (for messages) */
    int user; /* 1: the row comes from the user file, 0: the embedded table */
    /* Time-of-day tier (the optional `peak` column, docs/PRICES.md): in the
     * peak windows every token price is multiplied by peak_milli/1000. */
    int64_t peak_milli; /* 0 = no time-of-day tier */
    uint8_t peak_days;  /* bit d set: weekday d is peak-capable (0 = Sunday, UTC) */
    uint8_t npeak;      /* windows used in peak_from/peak_to */
    uint16_t peak_from[HC_PEAK_MAX], peak_to[HC_PEAK_MAX]; /* minutes after 00:00 UTC, [from, to) */
} hc_price;

/* Longest model name lookup accepts (bytes, without the NUL); longer names
 * are unpriced. Also the size hc_model_normalize() needs at most, plus one. */
#define HC_MODEL_MAX 255

/* Load the embedded table (hc_prices_tsv, a NUL-terminated string embedded by
 * common/prices_blob.S) and then, if user_file is non-NULL and non-empty, a
 * user file in the same format that adds rows and overrides rows with the same
 * (provider, model).
 *
 * The user file is applied all-or-nothing: if any line of it is wrong, none of
 * its rows is used. Idempotent and thread-safe: the first call loads; later
 * calls (with any user_file, which is then ignored) return the first call's
 * result and message.
 *
 * err/errlen (err may be NULL): receives "" on success, else the first problem
 * as "FILE:LINE: what is wrong" (" (and N more)" appended when there are
 * several), e.g. "prices.tsv:12: input: more than 6 decimals".
 * Returns 0, or HC_EINVAL (the embedded table is still loaded), or HC_ENOMEM
 * (nothing is priced). */
int hc_pricing_init(const char *user_file, char *err, size_t errlen);

/* Find the price of `model` as named by `provider` (both case-insensitive);
 * docs/PRICES.md "Matching" has the rules with examples.
 * Whose rows: a provider with rows of its own is priced by them only (a
 * host's copy at the host's price); if none matches, its declared fallbacks
 * are tried (azure -> openai, anthropic; google -> anthropic), and
 * "openrouter" falls back to any row. NULL or "" (any), "ollama" and a
 * provider without rows take any row, preferring the first in table order.
 * Within those rows, in order (first hit wins):
 *   1. exact match of the name as written, then of each tail after a '/'
 *      ("meta-llama/Llama-3.3-70B-Instruct-Turbo" matches Together's row as is);
 *   2. exact match of the normalised name with its date kept, then of
 *      hc_model_normalize(model);
 *   3. the longest prefix row ("name*", a database's starts_with rule) that
 *      the name (as written, a tail, or normalised) begins with;
 *   4. the LONGEST table model that is a prefix of the normalised name and
 *      ends at a '-' or ':' of it ("gpt-4o-mini-search-preview" -> gpt-4o-mini,
 *      "gemini-1.5-pro-002" -> gemini-1.5-pro).
 * Steps 3 and 4 refuse a prefix when what follows is a short version number
 * (neither "gpt-4.1" nor "claude-opus-4-9" falls back to gpt-4 /
 * claude-opus-4; "claude-opus-5*" takes neither "claude-opus-50" nor
 * "claude-opus-5-1") or names another product (-image, -tts, -transcribe,
 * -audio, -realtime, -lite, -mini, -nano, or a '[' as in "[1m]").
 * Returns NULL when nothing matches (the model is unpriced) or model is NULL,
 * empty or longer than HC_MODEL_MAX. The result lives until the process exits. */
const hc_price *hc_price_lookup(const char *provider, const char *model);

/* Exact cost in nano-USD: sum over token classes of tokens x pico-USD price,
 * /1000 rounded half-up once at the end (accumulated in __int128), plus
 * per_request_nusd. Negative token counts count as 0.
 *   uncached input = in - cached - cw5m - cw1h (clamped at 0), priced at `in`;
 *   cached at `cached` (fallback: in); cw5m at `cw5m` (fallback: in);
 *   cw1h at `cw1h` (fallback: cw5m, then in);
 *   reasoning = min(reasoning, out) at `reasoning` (fallback: out);
 *   the rest of out at `out` (a row without an output price, e.g. an embedding
 *   model, prices output tokens at 0).
 * Long-context tier: when tokens->in > long_threshold > 0, in/out/cached use
 * in_long/out_long/cached_long where set (-1 keeps the base price) for the whole
 * request; the classes priced relative to them (cached without cached_long,
 * cw5m, cw1h, reasoning) are scaled by the same ratio, rounded to the nearest
 * pico-USD (Anthropic's and OpenAI's cache multipliers apply on top of the tier
 * price). Returns 0 if p or t is NULL; saturates at INT64_MAX. Pure function. */
int64_t hc_cost_nusd(const hc_price *p, const hc_tokens *t);

/* 1 when hc_cost_nusd(p, t) prices t at p's long-context tier (t->in above
 * p->long_threshold > 0), else 0 (also for NULL). For the record's
 * HC_COST_LONG_CTX flag. Pure function. */
int hc_cost_long_tier(const hc_price *p, const hc_tokens *t);

/* 1 when p has a time-of-day tier (the `peak` column) and when_us (µs since
 * the epoch, UTC) falls inside one of its windows on one of its days, else 0
 * (also for NULL). For the record's HC_COST_PEAK flag. Pure function. */
int hc_cost_peak(const hc_price *p, int64_t when_us);

/* hc_cost_nusd() for a request made at when_us (µs since the epoch): inside a
 * peak window (hc_cost_peak()) every token price of the row, base and long
 * tier, is multiplied by peak_milli/1000 (rounded to the nearest pico-USD)
 * before pricing; a per-request fee is not. Outside, or for a row without a
 * time-of-day tier, the same as hc_cost_nusd(p, t). Pure function. */
int64_t hc_cost_nusd_at(const hc_price *p, const hc_tokens *t, int64_t when_us);

/* Write p's time-of-day tier in the `peak` column's own syntax ("2x mon-fri
 * 01:00-04:00,06:00-10:00"), or "" when it has none. Returns out. */
const char *hc_price_peak_text(const hc_price *p, char *out, size_t size);

/* Rows in the loaded table (embedded plus user-added), for `hc-analyze prices`. */
size_t hc_pricing_count(void);
/* Row i in table order (embedded rows in file order, overridden in place, then
 * rows the user file added), or NULL if i >= hc_pricing_count(). */
const hc_price *hc_pricing_at(size_t i);

/* Normalise a model name as lookup step 2 does: lower-case; trim blanks; keep
 * what follows the last '/' ("openai/", "models/", "accounts/fireworks/models/",
 * OpenRouter's "vendor/"); drop Bedrock's region and vendor prefixes
 * ("us.anthropic."); drop an "@..." suffix (Vertex "@20241022"), a trailing
 * ":word" (OpenRouter ":free", ":beta", ":thinking"; Ollama ":latest"), and
 * then, repeatedly, "-latest", "-vN:M" (Bedrock "-v2:0"), "-vN" when the rest
 * still has a digit ("claude-3-5-sonnet-v2", but not "deepseek-v3"), dates
 * "-YYYY-MM-DD", "-YYYYMMDD", "-MM-YYYY", "-MM-DD" and "-MMDD" (only valid
 * dates: "-0613" goes, "-2411" stays); finally "claude-3.5-sonnet" style dots between digits
 * become dashes ("claude-3-5-sonnet"). Writes at most size bytes including the
 * NUL (out is always NUL-terminated when size > 0; a result that does not fit
 * is truncated). model NULL gives "". Never allocates; thread-safe. */
void hc_model_normalize(const char *model, char *out, size_t size);

/* The user price file this process should load: $HC_PRICES when set and not
 * empty (even if it cannot be read: the load then reports why), else
 * $XDG_CONFIG_HOME/hcshim/prices.tsv (XDG_CONFIG_HOME defaulting to
 * $HOME/.config) when that file exists, which is where `hc-analyze prices
 * --import` writes by default. Writes the path to out (size bytes, always
 * NUL-terminated when size > 0) and returns it, or returns NULL (out = "")
 * when there is none or the path does not fit. Thread-safe if the
 * environment is not being modified; never allocates. */
const char *hc_pricing_user_file(char *out, size_t size);

/* The default location alone ($XDG_CONFIG_HOME or $HOME/.config, then
 * "/hcshim/prices.tsv"), whether it exists or not; NULL (out = "") if neither
 * variable is set or the path does not fit. */
const char *hc_pricing_default_path(char *out, size_t size);

/* Check a price file (same format and rules as a user file) without loading
 * it: for `hc-analyze prices --check FILE` and tests. 0, or HC_EINVAL with the
 * first problem as "FILE:LINE: ..." in err, or HC_EIO if it cannot be read. */
int hc_pricing_check_file(const char *path, char *err, size_t errlen);

#endif
