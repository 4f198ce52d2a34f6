/* test_pricing.c — price table: parsing, matching, exact costs, user overrides.
 *
 * Cost cases use the embedded table's real rows, so a price change in
 * data/prices.tsv must come with a change here: the arithmetic in the comments
 * is the check. Prices are pico-USD per token ($1 / 1M tokens = 1,000,000 pUSD),
 * costs nano-USD (1 nUSD = 1000 pUSD).
 */
#include "err.h"
#include "pricing.h"
#include "t.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/hc-test-pricing-XXXXXX";

#define HDR \
    "provider\tmodel\tinput\toutput\tcached_input\tcache_write_5m\tcache_write_1h\treasoning\t" \
    "per_request\tlong_ctx_threshold\tinput_long\toutput_long\tcached_long\tsource\tdate\n"
#define HDR16 \
    "provider\tmodel\tinput\toutput\tcached_input\tcache_write_5m\tcache_write_1h\treasoning\t" \
    "per_request\tlong_ctx_threshold\tinput_long\toutput_long\tcached_long\tsource\tdate\tpeak\n"

static const char *write_tmp(const char *name, const char *text)
{
    static char path[8][256];
    static int k;
    char *p = path[k++ % 8];
    FILE *f;

    snprintf(p, sizeof path[0], "%s/%s", tmpdir, name);
    if (!(f = fopen(p, "w")) || fputs(text, f) < 0 || fclose(f)) {
        printf("# cannot write %s\n", p);
        exit(1);
    }
    return p;
}

/* ---- user file: must be the first hc_pricing_init() of this process ---- */

static const char *override_text =
    "# my contract prices\n"
    "\n" HDR "groq\tgemma2-9b-it\t0.1\t0.1\t\t\t\t\t\t\t\t\t\tcontract 2026\t\n"
    "azure\tgpt-4o\t2.75\t11\t1.375\t\t\t\t\t\t\t\t\t\t2026-11-01\n"
    "acme\tacme-large-1\t0.0375\t123456.123456\t0\t\t\t\t0.000000001\t\t\t\t\thttps://acme.example/"
    "pricing\t2026-11-24\r\n";

/* Data rows of data/prices.tsv, counted independently of the loader: lines
 * that are neither blank nor comments, minus the header. */
static size_t file_rows(void)
{
    char line[4096];
    size_t n = 0;
    FILE *f = fopen("data/prices.tsv", "r");

    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        n += line[0] != '#' && line[0] != '\n';
    fclose(f);
    return n ? n - 1 : 0;
}

static size_t user_rows(void)
{
    size_t n = 0;
    for (size_t i = 0; i < hc_pricing_count(); i++)
        n += hc_pricing_at(i)->user;
    return n;
}

static void test_user_override(void)
{
    char err[600] = "x";
    const char *f = write_tmp("override.tsv", override_text);
    const hc_price *p;
    size_t before;
    int rc;

    rc = hc_pricing_init(f, err, sizeof err);
    T_EQ_INT(rc, 0, "user file loads");
    T_EQ_STR(err, "", "no message on success");

    p = hc_price_lookup("groq", "gemma2-9b-it");
    T_CHECK(p && p->user && p->in == 100000 && p->out == 100000,
            "user row overrides (groq, gemma2-9b-it)");
    T_CHECK(p && !strcmp(p->source, "contract 2026") && !strcmp(p->date, ""),
            "user rows may carry any source, no date");
    p = hc_price_lookup("azure", "gpt-4o");
    T_CHECK(p && p->user && p->in == 2750000, "user row adds (azure, gpt-4o)");
    p = hc_price_lookup("openai", "gpt-4o");
    T_CHECK(p && !p->user && p->in == 2500000, "(openai, gpt-4o) keeps the embedded row");

    /* Decimal parsing is exact: USD per 1M tokens with 6 decimals = pico-USD per token. */
    p = hc_price_lookup("acme", "ACME-Large-1");
    T_CHECK(p != NULL, "added model found (case-insensitive)");
    if (p) {
        T_EQ_INT(p->in, 37500, "0.0375 USD/1M = 37500 pUSD/token");
        T_EQ_INT(p->out, 123456123456LL, "123456.123456 USD/1M = 123456123456 pUSD/token");
        T_EQ_INT(p->cached, 0, "\"0\" is a price of zero, not 'not offered'");
        T_EQ_INT(p->cw5m, -1, "empty cell = -1 (not offered)");
        T_EQ_INT(p->per_request_nusd, 1, "per_request 0.000000001 USD = 1 nUSD");
        T_EQ_INT(p->line, 6, "line number kept (comments and blank lines count)");
    }

    before = hc_pricing_count();
    T_EQ_INT(before, file_rows() + 2,
             "table rows + 2 added (the override replaced its row in place)");
    T_EQ_INT(user_rows(), 3, "3 rows come from the user file");
    rc = hc_pricing_init(write_tmp("other.tsv", "garbage\n"), err, sizeof err);
    T_EQ_INT(rc, 0, "a second init with another file is ignored (first result)");
    T_EQ_INT(hc_pricing_count(), before, "... and loads nothing");
}

/* ---- the embedded table ---------------------------------------------- */

static char today[16]; /* YYYY-MM-DD, UTC, set in main */

static int valid_date(const char *s)
{
    int y, m, d;
    char tail;
    return strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && y >= 2023 &&
           m >= 1 && m <= 12 && d >= 1 && d <= 31 && strcmp(s, today) <= 0;
}

static void test_embedded_table(void)
{
    size_t n = 0, nosrc = 0, nodate = 0, dups = 0, nprov = 0;
    static const char *const providers[] = { "openai",    "anthropic", "google",    "groq",
                                             "mistral",   "deepseek",  "xai",       "together",
                                             "fireworks", "cohere",    "perplexity" };
    char err[600];

    /* The file the blob was made from parses under the user-file rules too. */
    T_EQ_INT(hc_pricing_check_file("data/prices.tsv", err, sizeof err), 0,
             "data/prices.tsv checks clean: %s", err);

    for (size_t i = 0; i < hc_pricing_count(); i++) {
        const hc_price *p = hc_pricing_at(i);
        if (p->user)
            continue;
        n++;
        nosrc += strncmp(p->source, "https://", 8) != 0;
        nodate += !valid_date(p->date);
        for (size_t j = 0; j < i; j++) {
            const hc_price *q = hc_pricing_at(j);
            if (!q->user && !strcasecmp(p->provider, q->provider) &&
                !strcasecmp(p->model, q->model)) {
                printf("# duplicate: %s %s\n", p->provider, p->model);
                dups++;
            }
        }
    }
    T_CHECK(file_rows() >= 120, "embedded table has >= 120 rows (%zu)", file_rows());
    T_EQ_INT(n + 1, file_rows(), "all of them loaded (one is overridden by the user file)");
    T_EQ_INT(nosrc, 0, "every row has an https source");
    T_EQ_INT(nodate, 0, "every row has a valid date, not in the future");
    T_EQ_INT(dups, 0, "no (provider, model) twice");
    for (size_t k = 0; k < sizeof providers / sizeof providers[0]; k++)
        for (size_t i = 0; i < hc_pricing_count(); i++)
            if (!strcmp(hc_pricing_at(i)->provider, providers[k])) {
                nprov++;
                break;
            }
    T_EQ_INT(nprov, sizeof providers / sizeof providers[0], "every provider id has rows");
    T_CHECK(hc_pricing_at(hc_pricing_count()) == NULL, "hc_pricing_at past the end is NULL");
}

/* ---- normalisation and matching ------------------------------------- */

static void test_normalize(void)
{
    static const struct {
        const char *in, *want;
    } t[] = {
        { "gpt-4o-2024-08-06", "gpt-4o" },
        { "claude-3-5-sonnet-20241022", "claude-3-5-sonnet" },
        { "gpt-3.5-turbo-0125", "gpt-3.5-turbo" },
        { "gpt-4-0613", "gpt-4" },
        { "o3-mini-2025-01-31", "o3-mini" },
        { "models/gemini-2.0-flash-001", "gemini-2.0-flash-001" },
        { "accounts/fireworks/models/llama-v3p1-8b-instruct", "llama-v3p1-8b-instruct" },
        { "anthropic/claude-3.5-sonnet:beta", "claude-3-5-sonnet" },
        { "claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet" },
        { "us.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet" },
        { "mistral.mistral-large-2407-v1:0", "mistral-large-2407" },
        { "gemini-2.0-flash-thinking-exp-01-21", "gemini-2.0-flash-thinking-exp" },
        { "gemini-exp-1206", "gemini-exp" },
        { "command-r-08-2024", "command-r" },
        { "claude-3-5-haiku-latest", "claude-3-5-haiku" },
        { "text-embedding-ada-002-v2", "text-embedding-ada-002" },
        { "  GPT-4o-Mini\t", "gpt-4o-mini" },
        { "llama3.2:latest", "llama3.2" },
        /* not decorations */
        { "mistral-large-2411", "mistral-large-2411" }, /* "2411" is no valid MMDD */
        { "llama3-70b-8192", "llama3-70b-8192" },
        { "gpt-4-1313", "gpt-4-1313" },
        { "qwen2.5:7b", "qwen2.5:7b" },
        { "deepseek-v3", "deepseek-v3" },
        { "gpt-4.1", "gpt-4.1" },
        { "davinci-002", "davinci-002" },
        { "", "" },
    };
    char out[HC_MODEL_MAX + 1], small[8];
    int bad = 0;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        hc_model_normalize(t[i].in, out, sizeof out);
        if (strcmp(out, t[i].want)) {
            printf("# normalize(\"%s\") = \"%s\", want \"%s\"\n", t[i].in, out, t[i].want);
            bad++;
        }
    }
    T_EQ_INT(bad, 0, "normalisation table (%zu cases)", sizeof t / sizeof t[0]);
    hc_model_normalize(NULL, out, sizeof out);
    T_EQ_STR(out, "", "NULL normalises to \"\"");
    hc_model_normalize("claude-3-5-sonnet-20241022", small, sizeof small);
    T_EQ_STR(small, "claude-", "a small buffer is truncated and NUL-terminated");
}

static void test_lookup(void)
{
    static const struct {
        const char *prov, *model, *want_prov, *want_model;
    } t[] = {
        /* dated / decorated names find their family */
        { "openai", "gpt-4o-mini-2024-07-18", "openai", "gpt-4o-mini-2024-07-18" },
        { "anthropic", "claude-3-5-sonnet-20241022", "anthropic", "claude-3-5-sonnet" },
        { "openai", "gpt-4-0613", "openai", "gpt-4-0613" },
        { "google", "gemini-1.5-pro-002", "google", "gemini-1.5-pro" },
        { "google", "models/gemini-2.0-flash", "google", "gemini-2.0-flash" },
        { "openrouter", "openai/gpt-4o", "openrouter", "openai/gpt-4o" },
        { "anthropic", "claude-3-5-sonnet@20241022", "anthropic", "claude-3-5-sonnet" },
        { "", "claude-3-5-sonnet-v2@20241022", "anthropic", "claude-3-5-sonnet" },
        /* a Bedrock id finds Bedrock's row for the dated name (kept before dates go) */
        { "", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "bedrock",
          "claude-3-5-sonnet-20241022" },
        { "", "anthropic.claude-3-haiku-20240307-v1:0", "bedrock", "claude-3-haiku-20240307" },
        /* OpenRouter bills its own price where it lists the model (issue 17: provider-hosted
         * copies use the host's price), the maker's where it does not */
        { "openrouter", "anthropic/claude-sonnet-4.5", "openrouter",
          "anthropic/claude-sonnet-4.5" },
        { "openrouter", "google/gemini-2.5-flash:free", "google", "gemini-2.5-flash" },
        { "anthropic", "claude-sonnet-4-5-20250929", "anthropic", "claude-sonnet-4-5" },
        { "anthropic", "claude-haiku-4-5-20251001", "anthropic", "claude-haiku-4-5" },
        { "openai", "gpt-4.1", "openai", "gpt-4.1" },
        /* the imported snapshot lists many dated names itself (same price as the family) */
        { "openai", "gpt-4.1-mini-2025-04-14", "openai", "gpt-4.1-mini-2025-04-14" },
        { "openai", "gpt-4o-mini-search-preview", "openai", "gpt-4o-mini-search-preview" },
        { "openai", "GPT-4O-MINI", "openai", "gpt-4o-mini" },
        { "openai", "o1-2024-12-17", "openai", "o1-2024-12-17" },
        { "openai", "o3-mini-2025-01-31", "openai", "o3-mini-2025-01-31" },
        { "openai", "gpt-5-chat-latest", "openai", "gpt-5-chat-latest" },
        { "openai", "gpt-5.1-codex-mini", "openai", "gpt-5.1-codex-mini" },
        { "openai", "gpt-6.1-sol-2026-09-29", "openai", "gpt-6.1-sol" },
        { "openai", "text-embedding-3-small", "openai", "text-embedding-3-small" },
        /* snapshots priced differently from their family keep their own row */
        { "openai", "gpt-4o-2024-05-13", "openai", "gpt-4o-2024-05-13" },
        { "openai", "gpt-4o-2024-08-06", "openai", "gpt-4o-2024-08-06" },
        { "openai", "gpt-3.5-turbo-0613", "openai", "gpt-3.5-turbo-0613" },
        { "openai", "gpt-3.5-turbo-0125", "openai", "gpt-3.5-turbo-0125" },
        { "openai", "gpt-3.5-turbo-16k-0613", "openai", "gpt-3.5-turbo-16k-0613" },
        { "openai", "gpt-4-1106-preview", "openai", "gpt-4-1106-preview" },
        { "openai", "gpt-4-turbo-2024-04-09", "openai", "gpt-4-turbo-2024-04-09" },
        { "openai", "chatgpt-4o-latest", "openai", "chatgpt-4o-latest" },
        /* mistral-large now comes from the snapshot (Large 2, $2/$6): the old alias row
         * cited a file that never had it (docs/PRICES.md) */
        { "mistral", "mistral-large-latest", "mistral", "mistral-large-latest" },
        { "mistral", "mistral-large-2411", "mistral", "mistral-large-2411" },
        { "mistral", "mistral-large-2512", "mistral", "mistral-large-2512" },
        { "mistral", "ministral-8b-latest", "mistral", "ministral-8b" },
        /* other providers */
        { "groq", "llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile" },
        { "", "llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile" },
        { "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "together",
          "meta-llama/Llama-3.3-70B-Instruct-Turbo" },
        { "groq", "openai/gpt-oss-120b", "groq", "openai/gpt-oss-120b" },
        { "together", "openai/gpt-oss-120b", "together", "openai/gpt-oss-120b" },
        /* Fireworks has rows of its own now, and not this retired model: unpriced, not
         * another host's price */
        { "fireworks", "accounts/fireworks/models/mixtral-8x7b-instruct", NULL, NULL },
        { "fireworks", "accounts/fireworks/models/gpt-oss-120b", "fireworks",
          "accounts/fireworks/models/gpt-oss-120b" },
        { "cohere", "command-r-08-2024", "cohere", "command-r-08-2024" },
        { "xai", "grok-4-1-fast-reasoning", "xai", "grok-4-1-fast-reasoning" },
        { "xai", "grok-2-1212", "xai", "grok-2-1212" },
        { "xai", "grok-4-0709", "xai", "grok-4-0709" },
        { "deepseek", "deepseek-chat", "deepseek", "deepseek-chat" },
        { "perplexity", "sonar-pro", "perplexity", "sonar-pro" },
        /* unpriced: NULL, never a wrong family */
        { "openai", "gpt-4.7", NULL, NULL },            /* not gpt-4 */
        { "anthropic", "claude-opus-4-9", NULL, NULL }, /* not claude-opus-4 */
        { "openai", "gpt-unknown", NULL, NULL },
        /* fine-tunes: the snapshot prices them with a starts_with rule of their own */
        { "openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123", "openai", "ft:gpt-4o-mini-2024-*" },
        { "openai", "ft:gpt-4.1-mini:acme::abc123", NULL, NULL },
        { "ollama", "llama3.2:3b", NULL, NULL },
        { "openai", "", NULL, NULL },
        { "openai", "   ", NULL, NULL },
    };
    int bad = 0;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const hc_price *p = hc_price_lookup(t[i].prov, t[i].model);
        int ok = t[i].want_model ? p && !strcmp(p->provider, t[i].want_prov) &&
                                       !strcmp(p->model, t[i].want_model)
                                 : p == NULL;
        if (!ok) {
            printf("# lookup(%s, \"%s\") = %s/%s, want %s/%s\n", t[i].prov, t[i].model,
                   p ? p->provider : "-", p ? p->model : "NULL",
                   t[i].want_prov ? t[i].want_prov : "-",
                   t[i].want_model ? t[i].want_model : "NULL");
            bad++;
        }
    }
    T_EQ_INT(bad, 0, "lookup table (%zu cases)", sizeof t / sizeof t[0]);

    {
        const hc_price *a = hc_price_lookup("openai", "gpt-4.1"),
                       *b = hc_price_lookup("openai", "gpt-4");
        T_CHECK(a && b && a != b && a->in == 2000000 && b->in == 30000000,
                "gpt-4.1 ($2) is not gpt-4 ($30)");
    }
    T_CHECK(hc_price_lookup("openai", NULL) == NULL, "NULL model is unpriced");
    {
        const hc_price *s = hc_price_lookup("anthropic", "claude-sonnet-4-5");
        hc_tokens at = { .in = 200000 }, above = { .in = 200001 };
        T_CHECK(s && !hc_cost_long_tier(s, &at) && hc_cost_long_tier(s, &above) &&
                    !hc_cost_long_tier(NULL, &above),
                "hc_cost_long_tier: base at the threshold, long above it (the record's "
                "HC_COST_LONG_CTX)");
    }
    {
        char longname[HC_MODEL_MAX + 10];
        memset(longname, 'a', sizeof longname - 1);
        memcpy(longname, "gpt-4o-", 7);
        longname[sizeof longname - 1] = '\0';
        T_CHECK(hc_price_lookup("openai", longname) == NULL,
                "a name longer than HC_MODEL_MAX is unpriced");
    }
}

/* ---- costs -------------------------------------------------------------- */

static const hc_price *must(const char *prov, const char *model)
{
    const hc_price *p = hc_price_lookup(prov, model);
    if (!p)
        printf("# no price for %s/%s\n", prov, model);
    return p;
}

static void cost_case(const char *what, const char *prov, const char *model, hc_tokens t,
                      int64_t want)
{
    const hc_price *p = must(prov, model);
    T_EQ_INT(p ? hc_cost_nusd(p, &t) : -1, want, "cost: %s", what);
}

static void test_costs(void)
{
    /* 1. OpenAI cached input. gpt-4o-mini: in 0.15 -> 150000, cached 0.075 -> 75000, out 0.6 ->
     *    600000. uncached 6000*150000 = 900,000,000; cached 4000*75000 = 300,000,000;
     *    out 500*600000 = 300,000,000; sum 1,500,000,000 pUSD = 1,500,000 nUSD ($0.0015). */
    cost_case("gpt-4o-mini, 4000 of 10000 input cached", "openai", "gpt-4o-mini-2024-07-18",
              (hc_tokens){ .in = 10000, .out = 500, .cached = 4000 }, 1500000);

    /* 2. gpt-4o: in 2.5 -> 2,500,000, cached 1.25 -> 1,250,000, out 10 -> 10,000,000.
     *    234,567*2,500,000 = 586,417,500,000; 1,000,000*1,250,000 = 1,250,000,000,000;
     *    89*10,000,000 = 890,000,000; sum 1,837,307,500,000 pUSD = 1,837,307,500 nUSD. */
    cost_case("gpt-4o, 1M cached of 1,234,567", "openai", "gpt-4o",
              (hc_tokens){ .in = 1234567, .out = 89, .cached = 1000000 }, 1837307500);

    /* 3. Anthropic 5m and 1h writes and reads. claude-sonnet-4-5: in 3 -> 3e6, cached 0.3 -> 3e5,
     *    cw5m 3.75 -> 3.75e6, cw1h 6 -> 6e6, out 15 -> 15e6.
     *    uncached 50000-20000-10000-5000 = 15000 * 3e6 = 45,000,000,000
     *    cached 20000 * 300,000 = 6,000,000,000;  cw5m 10000 * 3,750,000 = 37,500,000,000
     *    cw1h 5000 * 6,000,000 = 30,000,000,000;  out 2000 * 15,000,000 = 30,000,000,000
     *    sum 148,500,000,000 pUSD = 148,500,000 nUSD ($0.1485). */
    cost_case("claude-sonnet-4-5, reads + 5m + 1h writes", "anthropic",
              "claude-sonnet-4-5-20250929",
              (hc_tokens){ .in = 50000, .out = 2000, .cached = 20000, .cw5m = 10000, .cw1h = 5000 },
              148500000);

    /* 4. claude-haiku-4-5, whole prompt written to the 5m cache: cw5m 1.25 -> 1,250,000; out 5 ->
     *    5e6. 2048*1,250,000 = 2,560,000,000; 1*5,000,000 = 5,000,000; sum 2,565,000,000 pUSD =
     *    2,565,000 nUSD. */
    cost_case("claude-haiku-4-5, 5m cache write", "anthropic", "claude-haiku-4-5",
              (hc_tokens){ .in = 2048, .out = 1, .cw5m = 2048 }, 2565000);

    /* 5. claude-3-haiku cache reads: in 0.25 -> 250,000, cached 0.03 -> 30,000, out 1.25 ->
     *    1,250,000. 10,000*250,000 = 2,500,000,000; 90,000*30,000 = 2,700,000,000; 1000*1,250,000
     *    = 1,250,000,000; sum 6,450,000,000 pUSD = 6,450,000 nUSD. */
    cost_case("claude-3-haiku, 90% cache hit", "anthropic", "claude-3-haiku-20240307",
              (hc_tokens){ .in = 100000, .out = 1000, .cached = 90000 }, 6450000);

    /* 6. Claude long context (> 200k input): claude-sonnet-4-5 at in 6 -> 6e6, out 22.5 -> 22.5e6,
     *    cached_long 0.6 -> 600,000, cw5m scaled 3.75e6 * 6/3 = 7.5e6 for the whole request.
     *    uncached 100,000*6e6 = 600,000,000,000; cached 100,000*600,000 = 60,000,000,000;
     *    cw5m 50,000*7,500,000 = 375,000,000,000; out 10,000*22,500,000 = 225,000,000,000;
     *    sum 1,260,000,000,000 pUSD = 1,260,000,000 nUSD ($1.26). */
    cost_case("claude-sonnet-4-5, 250k input (long tier)", "anthropic", "claude-sonnet-4-5",
              (hc_tokens){ .in = 250000, .out = 10000, .cached = 100000, .cw5m = 50000 },
              1260000000);
    /* 7. The tier starts above the threshold: 200,000*3e6 = 6e11 pUSD = 600,000,000 nUSD;
     *    200,001*6e6 = 1,200,006,000,000 pUSD = 1,200,006,000 nUSD. */
    cost_case("claude-sonnet-4, exactly 200k input: base price", "anthropic", "claude-sonnet-4",
              (hc_tokens){ .in = 200000 }, 600000000);
    cost_case("claude-sonnet-4, 200,001 input: long price for all", "anthropic", "claude-sonnet-4",
              (hc_tokens){ .in = 200001 }, 1200006000);

    /* 8. Reasoning at the output price (o-series). o3-mini: in 1.1 -> 1.1e6, out 4.4 -> 4.4e6.
     *    1000*1.1e6 = 1,100,000,000; 5000 (4000 of them reasoning)*4.4e6 = 22,000,000,000;
     *    sum 23,100,000,000 pUSD = 23,100,000 nUSD. */
    cost_case("o3-mini, 4000 reasoning tokens", "openai", "o3-mini-2025-01-31",
              (hc_tokens){ .in = 1000, .out = 5000, .reasoning = 4000 }, 23100000);

    /* 9. gpt-5 reasoning + cache: in 1.25 -> 1.25e6, cached 0.125 -> 125,000, out 10 -> 1e7.
     *    5000*1.25e6 = 6,250,000,000; 15000*125,000 = 1,875,000,000; 3000*1e7 = 30,000,000,000;
     *    sum 38,125,000,000 pUSD = 38,125,000 nUSD. */
    cost_case("gpt-5, reasoning + 75% cached", "openai", "gpt-5-2025-08-07",
              (hc_tokens){ .in = 20000, .out = 3000, .cached = 15000, .reasoning = 2500 },
              38125000);

    /* 10. Reasoning without a price of its own is priced as output. sonar-deep-research now comes
     *     from the genai-prices snapshot, which has no reasoning price (the old row's $3 cited a
     *     file that never had it; issue 17): in 2 -> 2e6, out 8 -> 8e6.
     *     1000*2e6 = 2,000,000,000; 10000*8e6 = 80,000,000,000; sum 82,000,000,000 pUSD =
     *     82,000,000 nUSD. */
    cost_case("sonar-deep-research, reasoning priced as output", "perplexity",
              "sonar-deep-research", (hc_tokens){ .in = 1000, .out = 10000, .reasoning = 8000 },
              82000000);

    /* 11. Gemini long context (> 200k): gemini-2.5-pro in 2.5 -> 2.5e6, out 15 -> 15e6, cached
     *     0.25 -> 250,000. 200,000*2.5e6 = 500,000,000,000; 100,000*250,000 = 25,000,000,000;
     *     20,000*15e6 = 300,000,000,000; sum 825,000,000,000 pUSD = 825,000,000 nUSD ($0.825). */
    cost_case("gemini-2.5-pro, 300k input (long tier)", "google", "models/gemini-2.5-pro",
              (hc_tokens){ .in = 300000, .out = 20000, .cached = 100000, .reasoning = 15000 },
              825000000);
    /* 12. ... and below it: 100,000*1.25e6 = 125,000,000,000 + 1000*1e7 = 10,000,000,000
     *     = 135,000,000,000 pUSD = 135,000,000 nUSD. */
    cost_case("gemini-2.5-pro, 100k input (base tier)", "google", "gemini-2.5-pro",
              (hc_tokens){ .in = 100000, .out = 1000 }, 135000000);

    /* 13. Per-request price. sonar: in 1 -> 1e6, out 1 -> 1e6: 800*1e6 = 800,000,000 pUSD =
     *     800,000 nUSD, + the snapshot's request fee, $12 per 1000 requests (it takes the highest
     *     search-context fee; the old row's $5 "low" fee cited a file that never had it; issue
     *     17) = 12,000,000 nUSD; total 12,800,000 nUSD. */
    cost_case("sonar, request fee", "perplexity", "sonar", (hc_tokens){ .in = 500, .out = 300 },
              12800000);

    /* 14. Groq. llama-3.3-70b-versatile: in 0.59 -> 590,000, out 0.79 -> 790,000.
     *     3000*590,000 = 1,770,000,000; 700*790,000 = 553,000,000; sum 2,323,000,000 pUSD =
     *     2,323,000 nUSD. */
    cost_case("groq llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile",
              (hc_tokens){ .in = 3000, .out = 700 }, 2323000);

    /* 15. Together. Llama-3.3-70B-Instruct-Turbo: 0.88 -> 880,000 both ways.
     *     2,000,000*880,000 = 1,760,000,000,000 pUSD = 1,760,000,000 nUSD ($1.76). */
    cost_case("together Llama-3.3-70B-Instruct-Turbo, 1M in + 1M out", "together",
              "meta-llama/Llama-3.3-70B-Instruct-Turbo",
              (hc_tokens){ .in = 1000000, .out = 1000000 }, 1760000000);

    /* 16. DeepSeek cache hit. deepseek-flash: in 0.15 -> 150,000, hit 0.003 -> 3,000, out 0.6 ->
     *     600,000. 10,000*150,000 = 1,500,000,000; 90,000*3,000 = 270,000,000; 2000*600,000 =
     *     1,200,000,000; sum 2,970,000,000 pUSD = 2,970,000 nUSD. */
    cost_case("deepseek-flash, 90% cache hit", "deepseek", "deepseek-flash",
              (hc_tokens){ .in = 100000, .out = 2000, .cached = 90000 }, 2970000);

    /* 17. OpenAI long context with a cache write: gpt-6.1-terra above 272k: in 2 -> 2e6,
     *     cached_long 0.1 -> 1e5, 30-minute write 1.25 scaled x2 -> 2.5e6, out 7.5 -> 7.5e6.
     *     150,000*2e6 = 300,000,000,000; 100,000*100,000 = 10,000,000,000; 50,000*2.5e6 =
     *     125,000,000,000; 10,000*7.5e6 = 75,000,000,000; sum 510,000,000,000 pUSD = 510,000,000
     *     nUSD. */
    cost_case("gpt-6.1-terra, 300k input with cache write (long tier)", "openai", "gpt-6.1-terra",
              (hc_tokens){ .in = 300000, .out = 10000, .cached = 100000, .cw5m = 50000 },
              510000000);

    /* 18. Claude Haiku 5.5's 100k tier with a 1h write: in 0.5 -> 5e5, cw1h 0.2 scaled x5 -> 1e6,
     *     out 2.5 -> 2.5e6: 150,000*1e6 = 150,000,000,000 + 1000*2.5e6 = 2,500,000,000
     *     = 152,500,000,000 pUSD = 152,500,000 nUSD. */
    cost_case("claude-haiku-5-5, 150k written to the 1h cache (long tier)", "anthropic",
              "claude-haiku-5-5", (hc_tokens){ .in = 150000, .out = 1000, .cw1h = 150000 },
              152500000);

    /* 19. Embedding model, no output price: text-embedding-3-large 0.13 -> 130,000:
     *     1000*130,000 = 130,000,000 pUSD = 130,000 nUSD; output tokens cost nothing. */
    cost_case("text-embedding-3-large", "openai", "text-embedding-3-large",
              (hc_tokens){ .in = 1000, .out = 5 }, 130000);

    /* 20. Half-up rounding of a fraction of a nano: gemini-1.5-flash-8b input 0.0375 -> 37,500
     *     pUSD: 3*37,500 = 112,500 pUSD = 112.5 nUSD -> 113. */
    cost_case("gemini-1.5-flash-8b, 3 tokens rounds half up", "google", "gemini-1.5-flash-8b",
              (hc_tokens){ .in = 3 }, 113);
}

static void test_cost_rules(void)
{
    hc_price p;
    hc_tokens t;

    /* Fallbacks. in 1e6, out 2e6, cached not offered (-> in), cw5m 1.25e6, cw1h not offered (->
     * cw5m), reasoning not offered (-> out). Tokens: in 100 = 40 uncached + 10 cached + 20 cw5m +
     * 30 cw1h; out 10 (5 reasoning).
     * 40*1e6 + 10*1e6 + 20*1.25e6 + 30*1.25e6 + 10*2e6 = 40e6+10e6+25e6+37.5e6+20e6 = 132.5e6 pUSD
     * = 132,500 nUSD. */
    memset(&p, 0, sizeof p);
    p.in = 1000000;
    p.out = 2000000;
    p.cached = p.cw1h = p.reasoning = -1;
    p.cw5m = 1250000;
    p.in_long = p.out_long = p.cached_long = -1;
    t = (hc_tokens){ .in = 100, .out = 10, .cached = 10, .cw5m = 20, .cw1h = 30, .reasoning = 5 };
    T_EQ_INT(hc_cost_nusd(&p, &t), 132500, "fallbacks: cached->in, cw1h->cw5m, reasoning->out");
    p.cw5m = -1;
    /* cw5m -> in, cw1h -> cw5m -> in: everything input at 1e6: 100*1e6 + 10*2e6 = 120e6 pUSD =
     * 120,000 nUSD. */
    T_EQ_INT(hc_cost_nusd(&p, &t), 120000, "fallbacks: cw5m->in, cw1h->in");

    /* One rounding at the end: in 500 pUSD, out 500 pUSD, one token each = 1000 pUSD = 1 nUSD
     * (rounding each class would give 1 + 1 = 2). */
    memset(&p, 0, sizeof p);
    p.in = p.out = 500;
    p.cached = p.cw5m = p.cw1h = p.reasoning = p.in_long = p.out_long = p.cached_long = -1;
    T_EQ_INT(hc_cost_nusd(&p, &(hc_tokens){ .in = 1, .out = 1 }), 1, "rounded once, at the end");
    T_EQ_INT(hc_cost_nusd(&p, &(hc_tokens){ .in = 1 }), 1, "0.5 nUSD rounds up");
    T_EQ_INT(hc_cost_nusd(&p, &(hc_tokens){ .in = 0 }), 0, "no tokens, no cost");

    /* Clamping. cached + writes > in: uncached is 0, the rest is billed as reported; negative
     * counts are 0; reasoning beyond out is cut to out. in 1e6, out 2e6, cached 1e5.
     * cached 80*1e5 = 8e6, cw5m 40 at in = 40e6, out 10 (all reasoning) at out = 20e6: 68e6 pUSD
     * = 68,000 nUSD. */
    p.in = 1000000;
    p.out = 2000000;
    p.cached = 100000;
    t = (hc_tokens){ .in = 100, .out = 10, .cached = 80, .cw5m = 40, .cw1h = -7, .reasoning = 999 };
    T_EQ_INT(hc_cost_nusd(&p, &t), 68000, "clamped: uncached >= 0, negatives 0, reasoning <= out");

    /* Per-request price is added once, after rounding. */
    p.per_request_nusd = 5000000;
    T_EQ_INT(hc_cost_nusd(&p, &(hc_tokens){ 0 }), 5000000, "per-request fee with zero tokens");
    p.per_request_nusd = 0;

    /* Saturation instead of overflow. */
    p.in = 1000000000000LL;
    T_EQ_INT(hc_cost_nusd(&p, &(hc_tokens){ .in = INT64_MAX }), INT64_MAX,
             "saturates at INT64_MAX");
    T_EQ_INT(hc_cost_nusd(NULL, &t), 0, "NULL price: 0");
    T_EQ_INT(hc_cost_nusd(&p, NULL), 0, "NULL tokens: 0");
}

/* ---- malformed files ------------------------------------------------- */

/* ---- time-of-day tier (the peak column) ----------------------------- */

static int64_t utc_us(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi
    };
    return (int64_t)timegm(&tm) * 1000000;
}

static void test_peak(void)
{
    char txt[96];
    const hc_price *p = hc_price_lookup("deepseek", "deepseek-flash");
    /* deepseek-flash off-peak: in 0.15, out 0.6 per 1M. 1M in + 1M out = 0.15 + 0.6 = $0.75
     * = 750,000,000 nUSD; peak doubles every token price: 1,500,000,000 nUSD. */
    hc_tokens t = { .in = 1000000, .out = 1000000 };
    /* 2026-12-07 is a Monday, 2026-12-12 a Saturday. Peak: Mon-Fri 01:00-04:00, 06:00-10:00 UTC. */
    static const struct {
        int d, h, mi, peak;
    } at[] = {
        { 7, 0, 59, 0 }, { 7, 1, 0, 1 },  { 7, 3, 59, 1 }, { 7, 4, 0, 0 },
        { 7, 5, 30, 0 }, { 7, 6, 0, 1 },  { 7, 9, 59, 1 }, { 7, 10, 0, 0 },
        { 11, 2, 0, 1 }, { 12, 2, 0, 0 }, { 13, 7, 0, 0 },
    };
    int bad = 0;

    T_CHECK(p && p->peak_milli == 2000, "deepseek-flash has a 2x time-of-day tier");
    for (size_t i = 0; p && i < sizeof at / sizeof at[0]; i++) {
        int64_t when = utc_us(2026, 12, at[i].d, at[i].h, at[i].mi);
        int64_t want = at[i].peak ? 1500000000 : 750000000;
        if (hc_cost_peak(p, when) != at[i].peak || hc_cost_nusd_at(p, &t, when) != want) {
            printf("# 2026-12-%02d %02d:%02d UTC: peak %d cost %lld, want %d / %lld\n", at[i].d,
                   at[i].h, at[i].mi, hc_cost_peak(p, when),
                   (long long)hc_cost_nusd_at(p, &t, when), at[i].peak, (long long)want);
            bad++;
        }
    }
    T_EQ_INT(bad, 0, "peak windows: start inclusive, end exclusive, weekdays only (%zu instants)",
             sizeof at / sizeof at[0]);
    T_EQ_INT(p ? hc_cost_nusd(p, &t) : -1, 750000000,
             "hc_cost_nusd without a time: the base (off-peak) prices");
    T_EQ_STR(hc_price_peak_text(p, txt, sizeof txt), "2x mon-fri 01:00-04:00,06:00-10:00",
             "peak text round-trips");
    {
        hc_price q = { .peak_milli = 1250,
                       .peak_days = 0x41,
                       .npeak = 1,
                       .peak_from = { 0 },
                       .peak_to = { 1440 } };
        T_EQ_STR(hc_price_peak_text(&q, txt, sizeof txt), "1.25x sat-sun 00:00-24:00",
                 "peak text: decimals, weekend");
    }
    p = hc_price_lookup("openai", "gpt-4o");
    T_CHECK(p && !hc_cost_peak(p, utc_us(2026, 12, 7, 2, 0)) &&
                hc_cost_nusd_at(p, &t, utc_us(2026, 12, 7, 2, 0)) == hc_cost_nusd(p, &t),
            "a row without a peak tier costs the same at any time");
    T_CHECK(!hc_cost_peak(NULL, 0) && hc_cost_nusd_at(NULL, &t, 0) == 0,
            "NULL price: no peak, cost 0");
}

static void test_peak_files(void)
{
    char err[600];
    const char *good = write_tmp("peak-good.tsv", HDR16
                                 "x\ta\t1\t2\t\t\t\t\t\t\t\t\t\t\t\t1.5x sat-sun,wed 00:00-24:00\n"
                                 "x\tb\t1\t2\t\t\t\t\t\t\t\t\t\t\t\n"
                                 "x\tc\t1\t2\t\t\t\t\t\t\t\t\t\t\t\tdaily 23:00-24:00\n");
    T_CHECK(hc_pricing_check_file(good, err, sizeof err) == HC_EINVAL &&
                strstr(err, ":4: peak: 'daily 23:00-24:00'"),
            "16-column header: a row may leave peak off; a bad peak names the line: %s", err);
    static const struct {
        const char *peak, *want;
    } bad[] = {
        { "2 mon 01:00-02:00", "expected 'MULTx DAYS" },
        { "0x mon 01:00-02:00", "multiplier: must be above 0" },
        { "1.2345x mon 01:00-02:00", "multiplier: more than 3 decimals" },
        { "2x monday 01:00-02:00", "days: expected ',' or a blank" },
        { "2x xyz 01:00-02:00", "days: expected 'daily' or day names" },
        { "2x mon 04:00-01:00", "windows: a window must end after it starts" },
        { "2x mon 01:00-25:00", "windows: expected HH:MM-HH:MM" },
        { "2x mon 01:00-02:00;", "windows: expected ','" },
        { "2x daily 1", "windows: expected HH:MM-HH:MM" },
        { "2x mon-gri 01:00-04:00", "days: expected a day name after '-'" },
        { "2x mon 01:00-02:00,02:00-03:00,03:00-04:00,04:00-05:00,05:00-06:00",
          "windows: more than 4" },
    };
    int nbad = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[400];
        snprintf(text, sizeof text, HDR16 "x\ta\t1\t2\t\t\t\t\t\t\t\t\t\t\t\t%s\n", bad[i].peak);
        const char *f = write_tmp("peak-bad.tsv", text);
        if (hc_pricing_check_file(f, err, sizeof err) != HC_EINVAL || !strstr(err, bad[i].want)) {
            printf("# peak '%s': %s (want %s)\n", bad[i].peak, err, bad[i].want);
            nbad++;
        }
    }
    T_EQ_INT(nbad, 0, "malformed peak cells are refused with the reason (%zu cases)",
             sizeof bad / sizeof bad[0]);
}

static void test_malformed(void)
{
    static const struct {
        const char *name, *text, *want;
    } t[] = {
        { "noheader.tsv", "openai\tgpt-x\t1\t1\t\t\t\t\t\t\t\t\t\t\t\n",
          ":1: the first non-comment line must be the header" },
        { "fields.tsv", "# c\n" HDR "openai\tgpt-x\t1\n",
          ":3: expected 15 tab-separated fields, found 3" },
        { "decimals.tsv", HDR "openai\tgpt-x\t0.0000001\t1\t\t\t\t\t\t\t\t\t\t\t\n",
          ":2: input: '0.0000001': more than 6 decimals" },
        { "negative.tsv", HDR "openai\tgpt-x\t-1\t1\t\t\t\t\t\t\t\t\t\t\t\n",
          ":2: input: '-1': not a plain decimal" },
        { "exp.tsv", HDR "openai\tgpt-x\t1e-6\t1\t\t\t\t\t\t\t\t\t\t\t\n",
          ":2: input: '1e-6': not a plain decimal" },
        { "comma.tsv", HDR "openai\tgpt-x\t1\t1,5\t\t\t\t\t\t\t\t\t\t\t\n",
          ":2: output: '1,5': not a plain decimal" },
        { "noinput.tsv", HDR "openai\tgpt-x\t\t1\t\t\t\t\t\t\t\t\t\t\t\n", ":2: input: empty" },
        { "req.tsv", HDR "openai\tgpt-x\t1\t1\t\t\t\t\t0.0000000001\t\t\t\t\t\t\n",
          ":2: per_request: '0.0000000001': more than 9 decimals" },
        { "date.tsv", HDR "openai\tgpt-x\t1\t1\t\t\t\t\t\t\t\t\t\t\t2026-13-01\n",
          ":2: date: '2026-13-01'" },
        { "tier1.tsv", HDR "openai\tgpt-x\t1\t1\t\t\t\t\t\t1000\t\t\t\t\t\n",
          ":2: long_ctx_threshold is set but no" },
        { "tier2.tsv", HDR "openai\tgpt-x\t1\t1\t\t\t\t\t\t\t2\t\t\t\t\n",
          ":2: a *_long price is set without long_ctx_threshold" },
        { "thresh.tsv", HDR "openai\tgpt-x\t1\t1\t\t\t\t\t\t1.5\t2\t\t\t\t\n",
          ":2: long_ctx_threshold: '1.5'" },
        { "dup.tsv",
          HDR "openai\tgpt-x\t1\t1\t\t\t\t\t\t\t\t\t\t\t\n\nopenai\tGPT-"
              "X\t2\t2\t\t\t\t\t\t\t\t\t\t\t\n",
          ":4: duplicate row: provider 'openai' model 'GPT-X' is already on line 2" },
        { "provider.tsv", HDR "OpenAI\tgpt-x\t1\t1\t\t\t\t\t\t\t\t\t\t\t\n",
          ":2: provider: 'OpenAI' is not a lower-case id" },
        { "model.tsv", HDR "openai\tgpt x\t1\t1\t\t\t\t\t\t\t\t\t\t\t\n",
          ":2: model: 'gpt x' contains a blank" },
        { "empty.tsv", "", ":0: no header row" },
        { "two.tsv",
          HDR "openai\ta\tx\t1\t\t\t\t\t\t\t\t\t\t\t\nopenai\tb\ty\t1\t\t\t\t\t\t\t\t\t\t\t\n",
          "(and 1 more)" },
    };
    char err[600], want[400];
    int bad = 0;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *path = write_tmp(t[i].name, t[i].text);
        int rc = hc_pricing_check_file(path, err, sizeof err);
        snprintf(want, sizeof want, "%s%s", t[i].want[0] == ':' ? path : "", t[i].want);
        if (rc != HC_EINVAL || !strstr(err, want) ||
            (t[i].want[0] == ':' && strncmp(err, path, strlen(path)))) {
            printf("# %s: rc %d, err \"%s\", want \"%s\"\n", t[i].name, rc, err, want);
            bad++;
        }
    }
    T_EQ_INT(bad, 0, "malformed files give FILE:LINE: errors (%zu cases)", sizeof t / sizeof t[0]);

    T_EQ_INT(hc_pricing_check_file(
                 write_tmp("good.tsv", "# ok\n" HDR "x\ty\t1\t\t\t\t\t\t\t\t\t\t\t\t\n"), err,
                 sizeof err),
             0, "a minimal valid file checks clean");
    T_EQ_INT(hc_pricing_check_file("/nonexistent/prices.tsv", err, sizeof err), HC_EIO,
             "a missing file is HC_EIO");
    T_CHECK(strstr(err, "/nonexistent/prices.tsv:0: cannot open") != NULL, "... with a message: %s",
            err);
}

/* In a child (a fresh process state): a broken user file is rejected as a
 * whole, with FILE:LINE, and the embedded table still prices everything. */
static int child_bad_user_file(void)
{
    char err[600];
    const char *f =
        write_tmp("bad-user.tsv", HDR "openai\tgpt-4o\t9\t9\t\t\t\t\t\t\t\t\t\t\t\n"
                                      "openai\tgpt-x\t0.12345678\t1\t\t\t\t\t\t\t\t\t\t\t\n");
    const hc_price *p;
    char want[300];

    if (hc_pricing_init(f, err, sizeof err) != HC_EINVAL)
        return 1;
    snprintf(want, sizeof want, "%s:3: input: '0.12345678': more than 6 decimals", f);
    if (strncmp(err, want, strlen(want)))
        return 2;
    p = hc_price_lookup("openai", "gpt-4o");
    if (!p || p->user || p->in != 2500000) /* line 2 was valid, but all-or-nothing */
        return 3;
    if (hc_pricing_count() < 120 || hc_price_lookup("openai", "gpt-x"))
        return 4;
    return 0;
}

static void *count_thread(void *arg)
{
    *(size_t *)arg = hc_pricing_count();
    return NULL;
}

/* In a child: eight threads race to the first load; all see the same table. */
static int child_threads(void)
{
    pthread_t th[8];
    size_t n[8];

    for (int i = 0; i < 8; i++)
        if (pthread_create(&th[i], NULL, count_thread, &n[i]))
            return 1;
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++)
        if (n[i] != n[0] || n[i] < 120)
            return 2;
    return hc_price_lookup("anthropic", "claude-3-5-sonnet-20241022") ? 0 : 3;
}

static int in_child(int (*fn)(void))
{
    int status;
    pid_t pid;

    fflush(stdout);
    if ((pid = fork()) < 0)
        return -1;
    if (pid == 0)
        _exit(fn());
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* ---- issue 17: matching that cannot misfire, and the rows it named ------- */

static void test_rules(void)
{
    static const struct {
        const char *prov, *model, *want_prov, *want_model;
    } t[] = {
        /* modality suffixes never fall through to the base model */
        { "google", "gemini-3-pro-image-preview", "google", "gemini-3-pro-image-preview" },
        { "google", "gemini-3-pro-image-preview-0925", "google", "gemini-3-pro-image-preview" },
        { "google", "gemini-3-pro-image-preview-x", "google", "gemini-3-pro-image-preview*" },
        { "openai", "gpt-4o-mini-transcribe", "openai", "gpt-4o-mini-transcribe" },
        { "openai", "gpt-4o-mini-tts", "openai", "gpt-4o-mini-tts" },
        { "openai", "gpt-4o-mini-foo-tts", NULL, NULL },                     /* not gpt-4o-mini */
        { "openai", "gpt-4o-mini-audio-x", "openai", "gpt-4o-mini-audio*" }, /* its own rule */
        { "openai", "gpt-4.1-audio-x", NULL, NULL },                         /* not gpt-4.1 */
        { "openai", "gpt-4o-mini-realtime-x", "openai",
          "gpt-4o-mini-realtime*" },                                /* its own rule */
        { "openai", "gpt-realtime-2", "openai", "gpt-realtime-2" }, /* not gpt-realtime */
        { "openai", "gpt-5.5-image", NULL, NULL },                  /* not gpt-5.5 */
        { "anthropic", "claude-opus-4-8[1m]", NULL, NULL },         /* not claude-opus-4-8 */
        { "anthropic", "claude-opus-4-8", "anthropic", "claude-opus-4-8" },
        { "google", "gemini-3.6-flash-lite", NULL, NULL }, /* not gemini-3.6-flash */
        /* a database's starts_with rule is a prefix row, with the version guard */
        { "google", "gemini-3.6-flash-001", "google", "gemini-3.6-flash*" },
        { "mistral", "magistral-small-2509", "mistral", "magistral-small-*" },
        { "anthropic", "claude-opus-5-1", NULL, NULL }, /* not claude-opus-5* */
        { "anthropic", "claude-opus-50", NULL, NULL },
        /* provider-hosted copies use the host's price, never the maker's or another host's */
        { "together", "deepseek-ai/DeepSeek-V3", NULL, NULL },
        { "together", "openai/gpt-oss-120b", "together", "openai/gpt-oss-120b" },
        { "groq", "openai/gpt-oss-120b", "groq", "openai/gpt-oss-120b" },
        { "groq", "llama-3.1-70b-versatile", "groq", "llama-3.1-70b-versatile" },
        { "fireworks", "accounts/fireworks/models/gpt-oss-120b", "fireworks",
          "accounts/fireworks/models/gpt-oss-120b" },
        { "bedrock", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "bedrock",
          "claude-3-5-sonnet-20241022" },
        { "openrouter", "openai/gpt-4o", "openrouter", "openai/gpt-4o" },
        { "openrouter", "gpt-4o", "openai", "gpt-4o" }, /* no row of its own: the maker's */
        /* declared fallbacks: Azure -> OpenAI, Vertex (google) -> Anthropic */
        { "azure", "o3-mini", "azure", "o3-mini" },
        { "azure", "gpt-4o-2024-11-20", "azure", "gpt-4o" }, /* the user file's azure row */
        { "azure", "gpt-4.1-2025-04-14", "openai", "gpt-4.1-2025-04-14" },
        { "google", "claude-sonnet-4@20250514", "google", "claude-sonnet-4" },
        { "google", "claude-fable-5-2", "anthropic", "claude-fable-5-2" },
        /* a maker's name is not priced as a host's copy */
        { "anthropic", "claude-3-5-sonnet-20241022", "anthropic", "claude-3-5-sonnet" },
        { "deepseek", "deepseek-v3.2", "deepseek", "deepseek-v3.2" },
        /* rows the issue named */
        { "openai", "gpt-5.6-sol-2026-08-21", "openai", "gpt-5.6-sol" },
        { "mistral", "devstral-medium", "mistral", "devstral-medium" },
        { "mistral", "devstral-small", "mistral", "devstral-small" },
    };
    int bad = 0;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const hc_price *p = hc_price_lookup(t[i].prov, t[i].model);
        int ok = t[i].want_model ? p && !strcmp(p->provider, t[i].want_prov) &&
                                       !strcmp(p->model, t[i].want_model)
                                 : p == NULL;
        if (!ok) {
            printf("# rule lookup(%s, \"%s\") = %s/%s, want %s/%s\n", t[i].prov, t[i].model,
                   p ? p->provider : "-", p ? p->model : "NULL",
                   t[i].want_prov ? t[i].want_prov : "-",
                   t[i].want_model ? t[i].want_model : "NULL");
            bad++;
        }
    }
    T_EQ_INT(bad, 0, "matching rules (%zu golden cases)", sizeof t / sizeof t[0]);
    {
        const hc_price *img = hc_price_lookup("google", "gemini-3-pro-image-preview");
        T_CHECK(img && img->out == 120000000,
                "gemini-3-pro-image-preview output is $120/1M, not the text model's $12");
    }

    /* gpt-5.6-sol after the promotion: in 5 -> 5e6, out 30 -> 30e6; above 272K 10/45/1.
     *   1000 in + 1000 out: 5e9 + 3e10 = 3.5e10 pUSD = 35,000,000 nUSD.
     *   300,000 in (100,000 cached) + 1000 out, long tier: 200,000*10e6 = 2e12; 100,000*1e6 = 1e11;
     *   1000*45e6 = 4.5e10; sum 2.145e12 pUSD = 2,145,000,000 nUSD. */
    cost_case("gpt-5.6-sol, base", "openai", "gpt-5.6-sol", (hc_tokens){ .in = 1000, .out = 1000 },
              35000000);
    cost_case("gpt-5.6, long tier", "openai", "gpt-5.6",
              (hc_tokens){ .in = 300000, .out = 1000, .cached = 100000 }, 2145000000);
    /* claude-fable-5-2: in 8, out 40, cache read 0.2. 10,000 in (2,000 cached), 1,000 out:
     *   8000*8e6 = 6.4e10; 2000*2e5 = 4e8; 1000*4e7 = 4e10; sum 1.044e11 pUSD = 104,400,000 nUSD.
     *   */
    cost_case("claude-fable-5-2, cache read", "anthropic", "claude-fable-5-2",
              (hc_tokens){ .in = 10000, .out = 1000, .cached = 2000 }, 104400000);
    /* Gemini 3.x cache reads are priced (snapshot): gemini-3.5-flash in 1.5, cached 0.15, out 9.
     *   2000*1.5e6 = 3e9; 8000*1.5e5 = 1.2e9; 100*9e6 = 9e8; sum 5.1e9 pUSD = 5,100,000 nUSD. */
    cost_case("gemini-3.5-flash, cached tokens at the cache price", "google", "gemini-3.5-flash",
              (hc_tokens){ .in = 10000, .out = 100, .cached = 8000 }, 5100000);
    /* gemini-3.1-pro-preview long tier with its cache price: above 200K in 4, out 18, cached 0.4.
     *   150,000*4e6 = 6e11; 100,000*4e5 = 4e10; 1000*18e6 = 1.8e10; sum 6.58e11 pUSD =
     *   658,000,000 nUSD. */
    cost_case("gemini-3.1-pro-preview, long tier, cached", "google", "gemini-3.1-pro-preview",
              (hc_tokens){ .in = 250000, .out = 1000, .cached = 100000 }, 658000000);
}

int main(void)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    if (!mkdtemp(tmpdir)) {
        printf("# mkdtemp failed\n");
        return 1;
    }
    /* Before anything loads the table in this process. */
    T_EQ_INT(in_child(child_bad_user_file), 0,
             "bad user file: HC_EINVAL, FILE:LINE, embedded table kept, nothing applied");
    T_EQ_INT(in_child(child_threads), 0, "concurrent first use loads once");
    test_user_override();

    test_embedded_table();
    test_normalize();
    test_lookup();
    test_costs();
    test_rules();
    test_cost_rules();
    test_malformed();
    test_peak();
    test_peak_files();

    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmpdir);
    }
    return t_done();
}
