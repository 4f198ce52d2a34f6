/* fuzz.h — helpers shared by the libFuzzer harnesses in tests/fuzz/.
 *
 * Each harness is one LLVMFuzzerTestOneInput() over one parser family. Besides
 * letting ASan/UBSan find memory errors, every harness checks the parser's
 * documented contract (return codes, bounds of what it hands back, round
 * trips, split-invariance of incremental parsers) with FUZZ_CHECK, which
 * prints the broken invariant and abort()s so libFuzzer saves the input.
 *
 * Inputs are copied into exact-size heap buffers (fuzz_dup) whenever the
 * parser takes a length, so a read one byte past the end hits ASan's redzone;
 * fuzz_str gives a NUL-terminated copy for parsers that take C strings.
 */
#ifndef HC_FUZZ_H
#define HC_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Exact-size heap copy (at least one byte is allocated; n may be 0). */
static inline char *fuzz_dup(const void *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    return c;
}

/* NUL-terminated heap copy of exactly n bytes (embedded NULs cut the string). */
static inline char *fuzz_str(const void *p, size_t n)
{
    char *c = malloc(n + 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

/* A small deterministic PRNG seeded from the input, to derive split points
 * and piece sizes: the same input always takes the same path. */
typedef struct fuzz_rng {
    uint64_t s;
} fuzz_rng;

static inline void fuzz_rng_seed(fuzz_rng *r, const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 1099511628211ull;
    r->s = h ? h : 0x9e3779b97f4a7c15ull;
}

static inline uint64_t fuzz_rng_next(fuzz_rng *r)
{
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return x;
}

/* A value in [lo, hi] (inclusive). */
static inline size_t fuzz_rng_range(fuzz_rng *r, size_t lo, size_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (size_t)(fuzz_rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* True if p lies in [base, base+n] and p+len does too. */
static inline bool fuzz_within(const void *base, size_t n, const void *p, size_t len)
{
    const char *b = base, *q = p;
    return q >= b && q <= b + n && len <= (size_t)(b + n - q);
}

/* No control bytes (what the record promises for text shown on terminals). */
static inline bool fuzz_no_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

#endif
