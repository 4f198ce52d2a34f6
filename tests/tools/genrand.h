/* genrand.h — the generators' PRNG (hc_gen.c, hc_gen_cache.c): xoshiro256**
 * seeded by splitmix64, fast and identical on every machine, so a seed names
 * the same store everywhere. Static definitions: each tool is one .c file. */
#ifndef HC_GENRAND_H
#define HC_GENRAND_H

#include <stdint.h>

static uint64_t rs[4];

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(void)
{
    uint64_t r = rotl(rs[1] * 5, 7) * 9, t = rs[1] << 17;
    rs[2] ^= rs[0];
    rs[3] ^= rs[1];
    rs[1] ^= rs[2];
    rs[0] ^= rs[3];
    rs[2] ^= t;
    rs[3] = rotl(rs[3], 45);
    return r;
}

/* Uniform in [0, n). */
static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}
/* Uniform in [lo, hi]. */
static int64_t range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)below((uint64_t)(hi - lo + 1));
}
/* True with probability per-mille. */
static int chance(unsigned permille)
{
    return below(1000) < permille;
}

/* Seed the generator: the same seed, the same sequence. */
static void seed_rng(uint64_t seed)
{
    for (int k = 0; k < 4; k++)
        rs[k] = splitmix(&seed);
}

#endif
