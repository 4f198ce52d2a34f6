/* record.h — the exchange record: what hcshim stores for every LLM call.
 *
 * THIS HEADER IS THE SCHEMA. Every field the store holds is listed here, with
 * its wire number, type and meaning. The store's schema version is
 * HC_SCHEMA_VERSION (kept in the store's "meta" table, see store.h); it changes
 * only when an existing field changes meaning. Adding a field with a new number
 * does not change it: readers skip numbers they do not know.
 *
 * Wire format of one record (the value under its id in the "records" table):
 *
 *     byte 0      record format version (HC_RECORD_FORMAT = 1)
 *     then fields, each:  varint key = (field_number << 3) | wire_type
 *                         wire_type 0: varint value (signed fields are zigzag-encoded)
 *                         wire_type 2: varint length n, n bytes, then one NUL byte
 *                                      (not counted in n) so text decodes in place.
 *
 * Fields equal to their default (0, -1 where noted, empty string) are not written.
 * Decoding never allocates: strings in a decoded hc_record point into the encoded
 * bytes (for a store reader: into LMDB's map, valid until the read transaction
 * ends). Absent strings decode as "" (never NULL).
 *
 * What is NOT in a record, ever: request headers that carry credentials
 * (Authorization, x-api-key, api-key, Cookie, …); no header at all is stored
 * except the rate-limit response headers listed under `ratelimit`. Prompt and
 * response bodies live in the separate "bodies" table (store.h), so scans over
 * records read little.
 *
 *  #  field          type     meaning
 *  1  start_us       i64      wall clock when the request head was complete (µs since epoch)
 *  2  latency_us     i64      request start → last response byte sent to the app
 *  3  ttft_us        i64      request start → first response body byte (-1: none)
 *  4  host           str      the host the app addressed (e.g. api.openai.com)
 *  5  provider       str      openai, anthropic, google, groq, mistral, … ("" unknown)
 *  6  method         str      GET, POST, …
 *  7  path           str      request path with query string, as the app sent it
 *  8  upstream       str      where the gateway actually sent it ("https://127.0.0.1:8443")
 *  9  model_req      str      "model" in the request (or from a Gemini path)
 * 10  model_resp     str      model reported by the response (may be dated/versioned)
 * 11  status         i32      HTTP status the app received (0: none, connection failed)
 * 12  error          str      gateway error text when the exchange failed ("" if none)
 * 13  tok_in         i64      input (prompt) tokens, including cached ones
 * 14  tok_out        i64      output (completion) tokens, including reasoning ones
 * 15  tok_cached     i64      input tokens read from the provider's prompt cache
 * 16  tok_cw5m       i64      input tokens written to the prompt cache, 5-minute TTL
 * 17  tok_cw1h       i64      input tokens written to the prompt cache, 1-hour TTL
 * 18  tok_reasoning  i64      reasoning ("thinking") tokens, part of tok_out
 * 19  cost_nusd      i64      cost in nano-US-dollars (1e-9 USD); see cost_flags
 * 20  cost_flags     u32      HC_COST_* below
 * 21  props          pairs    custom properties, "name\0value\0name\0value\0…"
 * 22  user           str      Helicone-User-Id / HC_USER_ID
 * 23  session_id     str      Helicone-Session-Id
 * 24  session_path   str      Helicone-Session-Path (e.g. "/research/step1")
 * 25  session_name   str      Helicone-Session-Name
 * 26  request_id     str      Helicone-Request-Id if the app set one
 * 27  flags          u32      HC_REC_* below
 * 28  retries        i32      retries made (attempts - 1)
 * 29  fallback_idx   i32      index of the fallback that answered (-1: the original)
 * 30  ratelimit      pairs    rate-limit response headers (x-ratelimit-*, anthropic-ratelimit-*,
 *                             retry-after) of every upstream attempt in order (a name may
 *                             repeat; the last is the answer's), lower-case name and raw value;
 *                             empty for cache hits
 * 31  pid            i32      process id of the app
 * 32  program        str      program name (basename of the executable)
 * 33  req_bytes      i64      request body bytes as sent by the app
 * 34  resp_bytes     i64      response body bytes as received by the app (encoded)
 * 35  api            str      chat, responses, embeddings, completions, messages, gemini,
 *                             gemini-embed, ollama-chat, ollama-generate, ollama-embed,
 *                             cohere-chat (provider.h)
 * 36  attempts       str      one entry per upstream attempt: "status:wait_ms" joined by ','
 *                             (e.g. "429:0,429:612,200:1350")
 * 37  saved_nusd     i64      cost avoided by a cache hit (the original answer's cost)
 * 38  cache_key      str      hex of the cache key used (cache hits and stores)
 * 39  ratelimit_wait_us i64   time spent waiting on retry-after / backoff
 * 40  budget         str      the budget that blocked or warned, e.g. "50/day"
 * 41  response_id    str      the provider's id of the answer (OpenAI chat "id", Responses
 *                             "id", Anthropic message "id", Gemini "responseId"); "" if none
 * 42  finish_reasons str      why the answer ended, as the provider says it ("stop",
 *                             "end_turn", "STOP", "length", …), several joined by ','
 *                             (one per choice); "" if none. Fields 41-42 were added with
 *                             issue 18: older records decode them as ""
 * 43  req_params     pairs    sampling parameters the request set (usage.h hc_request_info.params):
 *                             GenAI conventions names without "gen_ai.request." (temperature,
 *                             top_p, top_k, max_tokens, frequency_penalty, presence_penalty,
 *                             seed, choice.count) and the JSON number as sent; issue 18
 *
 * Run fields (numbered from 64, apart from the fields above, so additions there
 * and here never collide):
 * 64  run_id         str      the run this exchange belongs to: HC_RUN_ID (set by hc-run, by
 *                             the user or CI, or generated once by the top process of a bare
 *                             LD_PRELOAD tree, see shim.c); "" in records written before runs
 *                             existed
 */
#ifndef HC_RECORD_H
#define HC_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tokens.h"
#include "uuid.h"

#define HC_SCHEMA_VERSION 1
#define HC_RECORD_FORMAT  1

/* flags (field 27) */
enum {
    HC_REC_STREAM = 1u << 0,       /* the response was streamed (SSE / NDJSON) */
    HC_REC_CACHE_HIT = 1u << 1,    /* answered from the gateway cache, no upstream call */
    HC_REC_REQ_TRUNC = 1u << 2,    /* stored request body was cut at HC_MAX_BODY */
    HC_REC_RESP_TRUNC = 1u << 3,   /* stored response body was cut at HC_MAX_BODY */
    HC_REC_REQ_OMITTED = 1u << 4,  /* Helicone-Omit-Request: body not stored */
    HC_REC_RESP_OMITTED = 1u << 5, /* Helicone-Omit-Response: body not stored */
    HC_REC_OBSERVED = 1u << 6,     /* captured in observe mode (passive) */
    HC_REC_BLOCKED = 1u << 7,      /* refused by a budget or rate-limit policy, no upstream call */
    HC_REC_CLIENT_ABORT = 1u << 8, /* the app closed the connection before the end */
    HC_REC_USAGE_INJECTED = 1u << 9, /* stream_options.include_usage was added by the gateway */
    HC_REC_CACHE_STORED = 1u << 10,  /* this answer was written to the cache */
    HC_REC_RATE_LIMITED = 1u << 11,  /* the provider answered 429 at least once */
    HC_REC_BUDGET_WARN = 1u << 12,   /* this request crossed a budget with action warn/webhook */
    HC_REC_REPLAYED =
        1u << 13, /* answered from a cassette (HC_REPLAY), no upstream call; cost saved */
};

/* cost_flags (field 20) */
enum {
    HC_COST_PRICED = 1u << 0,    /* the model is in the price table; cost_nusd is exact */
    HC_COST_UNPRICED = 1u << 1,  /* the model is not in the price table; cost_nusd is 0 */
    HC_COST_ESTIMATED = 1u << 2, /* tokens were estimated, not read from provider usage */
    HC_COST_NO_USAGE = 1u << 3,  /* no usage could be found (error, truncated, unknown API) */
    /* Which price tier applied (added with issue 17; records written before never set it):
     * the row's long-context prices priced the whole request (tok_in above its
     * long_ctx_threshold, docs/PRICES.md). Clear with HC_COST_PRICED: the base prices. */
    HC_COST_LONG_CTX = 1u << 4,
    /* The request fell in the row's peak hours (its time-of-day tier, the `peak`
     * column of docs/PRICES.md): every token price was multiplied by the row's
     * peak multiplier. Clear: off-peak, or the row has no time-of-day tier. */
    HC_COST_PEAK = 1u << 5,
};

/* A packed list of NUL-separated name/value pairs ("n\0v\0n\0v\0"). */
typedef struct hc_pairs {
    const char *p; /* NULL or "" when empty */
    uint32_t len;  /* bytes, including every NUL */
} hc_pairs;

typedef struct hc_record {
    uint8_t id[HC_UUID_LEN]; /* the key, not part of the value */
    int64_t start_us, latency_us, ttft_us;
    const char *host, *provider, *api, *method, *path, *upstream;
    const char *model_req, *model_resp;
    int32_t status;
    const char *error;
    union { /* the exchange's token counts (tokens.h) ... */
        hc_tokens tok;
        struct { /* ... under the names of fields 13..18 */
            int64_t tok_in, tok_out, tok_cached, tok_cw5m, tok_cw1h, tok_reasoning;
        };
    };
    int64_t cost_nusd, saved_nusd;
    uint32_t cost_flags;
    hc_pairs props;
    const char *user, *session_id, *session_path, *session_name, *request_id;
    uint32_t flags;
    int32_t retries, fallback_idx;
    const char *attempts;
    hc_pairs ratelimit;
    int64_t ratelimit_wait_us;
    int32_t pid;
    const char *program;
    int64_t req_bytes, resp_bytes;
    const char *cache_key;
    const char *budget;
    const char *response_id, *finish_reasons;
    hc_pairs req_params;

    /* run fields (64…) */
    const char *run_id;
} hc_record;

/* Set every field to its default: strings "", ttft_us -1, fallback_idx -1, rest 0. */
void hc_record_init(hc_record *r);

/* Append the wire form of r (without its id) to out. Strings must be non-NULL
 * (NULL is treated as ""). 0 or HC_ENOMEM. */
int hc_record_encode(const hc_record *r, hc_buf *out);

/* Decode `len` bytes at `p` into r (r->id untouched). Strings point into p, which
 * must stay valid and unmodified while r is used. Unknown fields are skipped.
 * 0; HC_ESCHEMA if the format byte is newer than HC_RECORD_FORMAT; HC_EPARSE if
 * the bytes are malformed (r is then partially filled). Never allocates. */
int hc_record_decode(const void *p, size_t len, hc_record *r);

/* Iterate a pairs list: start with *pos = 0; each call sets *name and *value and
 * returns 1, or returns 0 at the end. */
int hc_pairs_next(const hc_pairs *pl, uint32_t *pos, const char **name, const char **value);
/* Value of `name` (exact, case-sensitive) or NULL. */
const char *hc_pairs_get(const hc_pairs *pl, const char *name);
/* Append one pair to a buffer being built as a pairs list. 0 or HC_ENOMEM. */
int hc_pairs_add(hc_buf *b, const char *name, const char *value);

/* Varint helpers shared by the store's other tables. hc_varint_get returns bytes
 * consumed, or 0 if p does not hold a complete varint within len. */
size_t hc_varint_put(uint8_t *out, uint64_t v); /* out needs 10 bytes */
size_t hc_varint_get(const uint8_t *p, size_t len, uint64_t *v);

#endif
