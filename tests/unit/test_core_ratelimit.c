/* test_core_ratelimit.c — client-side rate limits and budget totals
 * (hc_ratelimit_parse, hc_window_take/_add, hc_total_get/_add; core/counters.c,
 * to be renamed core/ratelimit.c): policy parsing and its errors, quota
 * exhaustion, the sliding window (1/64 slots) rolling over slot by slot and
 * wholly, a clock that goes back, check-only takes, cents amounts, and state
 * that outlives the store handle. The local store only: HC_SHARED is unset
 * (test_core_shared.c covers Redis). */
#include "ratelimit.h"
#include "err.h"
#include "store.h"
#include "t.h"

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#define SEC 1000000LL
#define T0  (1800000000LL * SEC) /* a whole number of slots for every window used here */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static void test_parse(void)
{
    hc_ratelimit rl;
    char err[200] = "";
    T_EQ_INT(hc_ratelimit_parse("5;w=60", &rl, err, sizeof err), 0, "5;w=60 parses (%s)", err);
    T_CHECK(rl.quota == 5 && rl.window_us == 60 * SEC && !rl.cents && rl.segment[0] == '\0',
            "…5 requests per 60 s, one global window");
    T_EQ_STR(rl.text, "5;w=60", "…the text is kept for the response header");
    T_EQ_INT(hc_ratelimit_parse("0.5; w=3600; u=cents; s=user", &rl, err, sizeof err), 0,
             "cents, per user, with spaces (%s)", err);
    T_CHECK(rl.cents && rl.quota == 5000000 && rl.quota_cents == 0.5,
            "…0.5 cent = 5,000,000 nano-USD");
    T_EQ_STR(rl.segment, "user", "…segmented by user");
    T_EQ_INT(hc_ratelimit_parse("10;w=1;u=requests;s=team", &rl, err, sizeof err), 0,
             "u=requests, s=property");
    T_EQ_STR(rl.segment, "team", "…segmented by property team");
    char key[512];
    hc_ratelimit_key(&rl, "red", key, sizeof key);
    T_EQ_STR(key,
             "rl\x1f"
             "10;w=1;u=requests;s=team\x1f"
             "red",
             "the key names policy and segment value");

    static const struct {
        const char *text, *why;
    } bad[] = {
        { "", "empty" },
        { "abc;w=60", "quota" },
        { "0;w=60", "quota" },
        { "-3;w=60", "quota" },
        { "1e13;w=60", "quota" },
        { "5", "w=SECONDS" },
        { "5;u=cents", "w=SECONDS" },
        { "5;w=0", "w=" },
        { "5;w=31622401", "w=" },
        { "5;w=6x", "w=" },
        { "5;w=60;u=tokens", "u=" },
        { "5;w=60;x=1", "unknown" },
        { "5;w=60;s=", "unknown" },
        { "1.5;w=60", "whole number" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = hc_ratelimit_parse(bad[i].text, &rl, err, sizeof err);
        T_CHECK(rc == HC_EINVAL && strstr(err, bad[i].why), "\"%s\" is refused: %s", bad[i].text,
                err);
    }
    T_EQ_INT(hc_ratelimit_parse("1.5;w=60;u=cents", &rl, err, sizeof err), 0,
             "fractional cents are fine");
    T_EQ_INT(rl.quota, 15000000, "…1.5 cents in nano-USD");
}

static void test_quota(hc_store *s)
{
    bool ok = false;
    uint64_t used = 99;
    const char *k = "rl\x1fq";
    for (int i = 1; i <= 5; i++) {
        T_CHECK(hc_window_take(s, k, 60 * SEC, 5, 1, T0 + i * SEC, &ok, &used) == 0 && ok &&
                    used == (uint64_t)i,
                "take %d of 5 allowed, used %d", i, i);
    }
    T_CHECK(hc_window_take(s, k, 60 * SEC, 5, 1, T0 + 6 * SEC, &ok, &used) == 0 && !ok,
            "the sixth is refused");
    T_EQ_INT(used, 5, "…and takes nothing");
    T_CHECK(hc_window_take(s, k, 60 * SEC, 5, 0, T0 + 6 * SEC, &ok, &used) == 0 && !ok,
            "a check at the quota is refused");
    T_CHECK(hc_window_take(s, "rl\x1fother", 60 * SEC, 5, 1, T0, &ok, &used) == 0 && ok &&
                used == 1,
            "another key has its own window");
    T_CHECK(hc_window_take(s, k, 60 * SEC, 6, 1, T0 + 7 * SEC, &ok, &used) == 0 && ok && used == 6,
            "a larger quota on the same window allows one more");

    /* Amounts (cents policies): all or nothing. */
    const char *c = "rl\x1f"
                    "cents";
    T_CHECK(hc_window_take(s, c, 60 * SEC, 100, 60, T0, &ok, &used) == 0 && ok && used == 60,
            "60 of 100 taken");
    T_CHECK(hc_window_take(s, c, 60 * SEC, 100, 50, T0, &ok, &used) == 0 && !ok && used == 60,
            "50 more would exceed: refused, nothing taken");
    T_CHECK(hc_window_take(s, c, 60 * SEC, 100, 40, T0, &ok, &used) == 0 && ok && used == 100,
            "exactly to the quota");
    T_CHECK(hc_window_take(s, c, 60 * SEC, 100, 0, T0, &ok, &used) == 0 && !ok,
            "a check when used == quota is refused");

    /* hc_window_add: spend after the fact, past the quota. */
    const char *a = "rl\x1f"
                    "add";
    T_CHECK(hc_window_add(s, a, 60 * SEC, 70, T0, &used) == 0 && used == 70, "add 70");
    T_CHECK(hc_window_add(s, a, 60 * SEC, 70, T0, &used) == 0 && used == 140,
            "add 70 more: over any quota");
    T_CHECK(hc_window_take(s, a, 60 * SEC, 100, 0, T0, &ok, &used) == 0 && !ok && used == 140,
            "a check then refuses");
}

static void test_rollover(hc_store *s)
{
    bool ok;
    uint64_t used;
    const char *k = "rl\x1froll";
    int64_t w = 64 * SEC; /* one slot = 1 s */
    hc_window_take(s, k, w, 5, 3, T0, &ok, &used);
    hc_window_take(s, k, w, 5, 2, T0 + 32 * SEC, &ok, &used);
    T_CHECK(ok && used == 5, "3 at t0 and 2 at t0+32s fill the quota");
    T_CHECK(hc_window_take(s, k, w, 5, 1, T0 + 63 * SEC, &ok, &used) == 0 && !ok && used == 5,
            "at t0+63s (same window) still full");
    T_CHECK(hc_window_take(s, k, w, 5, 0, T0 + 64 * SEC, &ok, &used) == 0 && ok && used == 2,
            "at t0+64s the t0 slot slid out: 2 left in the window");
    T_CHECK(hc_window_take(s, k, w, 5, 3, T0 + 64 * SEC, &ok, &used) == 0 && ok && used == 5,
            "…room for 3 again");
    T_CHECK(hc_window_take(s, k, w, 5, 0, T0 + 96 * SEC, &ok, &used) == 0 && ok && used == 3,
            "at t0+96s the t0+32s slot slid out too");
    T_CHECK(hc_window_take(s, k, w, 5, 0, T0 + 1000 * SEC, &ok, &used) == 0 && ok && used == 0,
            "long after, the whole window is empty");

    /* The clock went back (another process's clock, NTP): counts are kept,
     * nothing is cleared. */
    const char *b = "rl\x1f"
                    "back";
    hc_window_take(s, b, w, 3, 2, T0 + 100 * SEC, &ok, &used);
    T_CHECK(hc_window_take(s, b, w, 3, 1, T0 + 10 * SEC, &ok, &used) == 0 && ok && used == 3,
            "a take from an earlier time counts with the later ones");
    T_CHECK(hc_window_take(s, b, w, 3, 1, T0 + 11 * SEC, &ok, &used) == 0 && !ok,
            "…and the quota still holds");

    /* A window shorter than 64 µs: slots of 1 µs, no division by zero. */
    T_CHECK(hc_window_take(s, "rl\x1ftiny", 10, 1, 1, T0, &ok, &used) == 0 && ok,
            "a 10 µs window works");
    T_CHECK(hc_window_take(s, "rl\x1ftiny", 10, 1, 1, T0 + 100, &ok, &used) == 0 && ok && used == 1,
            "…and has rolled over 100 µs later");
}

static void test_totals(hc_store *s)
{
    uint64_t t = 99, before = 99, after = 99;
    T_CHECK(hc_total_get(s, "bu\x1fnone", &t) == 0 && t == 0, "an absent total is 0");
    T_CHECK(hc_total_add(s,
                         "bu\x1f"
                         "day",
                         700, &before, &after) == 0 &&
                before == 0 && after == 700,
            "add 700: 0 → 700");
    T_CHECK(hc_total_add(s,
                         "bu\x1f"
                         "day",
                         300, &before, &after) == 0 &&
                before == 700 && after == 1000,
            "add 300: 700 → 1000");
    T_CHECK(hc_total_add(s,
                         "bu\x1f"
                         "day",
                         0, NULL, NULL) == 0,
            "NULL before/after are allowed");
    T_CHECK(hc_total_get(s,
                         "bu\x1f"
                         "day",
                         &t) == 0 &&
                t == 1000,
            "get reads 1000");
    T_CHECK(hc_total_get(s,
                         "bu\x1f"
                         "day2",
                         &t) == 0 &&
                t == 0,
            "another period is separate");
}

int main(void)
{
    unsetenv("HC_SHARED");
    char dir[] = "/tmp/hc-test-ratelimit-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_parse();
    hc_store *s = NULL;
    char err[600];
    T_EQ_INT(hc_store_open(dir, 0, &s, err, sizeof err), 0, "store opens (%s)", err);
    if (s) {
        test_quota(s);
        test_rollover(s);
        test_totals(s);
        hc_store_close(s);
        /* Windows and totals live in the store: a new handle (another process) sees them. */
        s = NULL;
        T_EQ_INT(hc_store_open(dir, 0, &s, err, sizeof err), 0, "store opens again");
        bool ok;
        uint64_t used, t;
        T_CHECK(s && hc_window_take(s, "rl\x1fq", 60 * SEC, 5, 1, T0 + 8 * SEC, &ok, &used) == 0 &&
                    !ok && used == 6,
                "the full window is still full through a new handle");
        T_CHECK(s &&
                    hc_total_get(s,
                                 "bu\x1f"
                                 "day",
                                 &t) == 0 &&
                    t == 1000,
                "…and the total is still 1000");
        if (s)
            hc_store_close(s);
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return t_done();
}
