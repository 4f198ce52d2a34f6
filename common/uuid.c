#include "uuid.h"
#include "err.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Random bytes come from a per-thread pool refilled 256 bytes at a time (one
 * getrandom per 32 ids instead of one per id). A forked child must never
 * reuse its parent's pool — both would mint the same ids — so an atfork
 * handler bumps a generation that every pool checks. */
static unsigned pool_generation;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_forked(void)
{
    __atomic_add_fetch(&pool_generation, 1, __ATOMIC_RELAXED);
}

static void pool_init(void)
{
    pthread_atfork(NULL, NULL, pool_forked);
}

static bool random8(uint8_t out[8])
{
    static __thread uint8_t pool[256];
    static __thread size_t avail;
    static __thread unsigned gen;
    pthread_once(&pool_once, pool_init);
    unsigned g = __atomic_load_n(&pool_generation, __ATOMIC_RELAXED);
    if (avail < 8 || gen != g) {
        if (getrandom(pool, sizeof pool, GRND_NONBLOCK) != (ssize_t)sizeof pool) {
            avail = 0;
            return false;
        }
        avail = sizeof pool;
        gen = g;
    }
    avail -= 8;
    memcpy(out, pool + avail, 8);
    memset(pool + avail, 0, 8); /* used bytes never linger */
    return true;
}

void hc_uuid_v7(uint8_t out[HC_UUID_LEN], int64_t us)
{
    uint64_t ms = (uint64_t)us / 1000;
    unsigned frac = (unsigned)(((uint64_t)us % 1000) * 4096 / 1000); /* 12 bits */
    uint8_t rnd[8];
    if (!random8(rnd)) {
        /* Entropy pool not ready (early boot) or seccomp: fall back to a clock mix.
         * Ids stay unique within a process because the counter always moves. */
        static uint64_t ctr;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t x = __atomic_add_fetch(&ctr, 0x9E3779B97F4A7C15ull, __ATOMIC_RELAXED) ^
                     ((uint64_t)ts.tv_nsec << 17) ^ (uint64_t)getpid();
        memcpy(rnd, &x, 8);
    }
    out[0] = (uint8_t)(ms >> 40);
    out[1] = (uint8_t)(ms >> 32);
    out[2] = (uint8_t)(ms >> 24);
    out[3] = (uint8_t)(ms >> 16);
    out[4] = (uint8_t)(ms >> 8);
    out[5] = (uint8_t)ms;
    out[6] = (uint8_t)(0x70 | (frac >> 8));
    out[7] = (uint8_t)frac;
    out[8] = (uint8_t)(0x80 | (rnd[0] & 0x3f));
    memcpy(out + 9, rnd + 1, 7);
}

void hc_uuid_format(const uint8_t id[HC_UUID_LEN], char *out)
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < HC_UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[id[i] >> 4];
        *p++ = hex[id[i] & 15];
    }
    *p = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int hc_uuid_parse(const char *s, uint8_t out[HC_UUID_LEN])
{
    int n = 0;
    for (int i = 0; i < HC_UUID_STRLEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return HC_EINVAL;
            continue;
        }
        int hi = hexval((unsigned char)s[i]);
        if (hi < 0)
            return HC_EINVAL;
        i++;
        int lo = hexval((unsigned char)s[i]);
        if (lo < 0)
            return HC_EINVAL;
        out[n++] = (uint8_t)(hi << 4 | lo);
    }
    return s[HC_UUID_STRLEN] == '\0' ? 0 : HC_EINVAL;
}

int64_t hc_uuid_time_us(const uint8_t id[HC_UUID_LEN])
{
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | id[i];
    unsigned frac = (unsigned)(id[6] & 0x0f) << 8 | id[7];
    return (int64_t)(ms * 1000 + frac * 1000 / 4096);
}
