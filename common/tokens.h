/* tokens.h — the token counts of one exchange: one type for every layer.
 *
 * Usage extraction (usage.h) fills it, pricing (pricing.h) prices it, the
 * record (record.h: hc_record.tok) keeps it and the response cache
 * (cachefmt.h: hc_cache_entry.tok) stores it. Copying counts between those
 * layers is a struct assignment, never a field-by-field mapping.
 *
 * Normalisation (how each provider's usage maps onto it: usage.h):
 *   in        ALL input tokens: uncached + cache reads + cache writes
 *   out       ALL output tokens, reasoning included
 *   cached    input tokens read from the provider's prompt cache
 *   cw5m      input tokens written to the prompt cache, 5-minute TTL
 *   cw1h      input tokens written to the prompt cache, 1-hour TTL
 *   reasoning reasoning ("thinking") tokens, a part of out
 *
 * v[] is the same six counts in the order above (in, out, cached, cw5m, cw1h,
 * reasoning): the order of every on-disk encoding (record fields 13..18, the
 * cache entry's six varints, a cassette's "tok" array), so codecs loop over it.
 *
 * Plain data: no allocation, no shared state. Header only.
 */
#ifndef HC_TOKENS_H
#define HC_TOKENS_H

#include <stdint.h>

#define HC_TOKENS_N 6 /* entries of hc_tokens.v */

typedef union hc_tokens {
    struct {
        int64_t in, out, cached, cw5m, cw1h, reasoning;
    };
    int64_t v[HC_TOKENS_N];
} hc_tokens;

_Static_assert(sizeof(hc_tokens) == HC_TOKENS_N * sizeof(int64_t), "hc_tokens: six packed counts");

/* True when the counts say anything at all (some input or output tokens). */
static inline int hc_tokens_any(const hc_tokens *t)
{
    return t->in != 0 || t->out != 0;
}

#endif
