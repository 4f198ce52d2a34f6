/* summary.c — see summary.h. */
#include "summary.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int owner;  /* 1 in the process that prints; set by the constructor only */
static int done;   /* atomic: printed (or given up) */

void hc_summary_init(void)
{
    const char *file = getenv("HC_SUMMARY_FILE");
    if (file && *file) {
        /* Inherited. The owner after an exec() is still the owner. */
        const char *o = getenv("HC_SUMMARY_OWNER");
        owner = o && atol(o) == (long)getpid();
        return;
    }
    const char *want = getenv("HC_SUMMARY");
    if (!want || strcmp(want, "1") != 0)
        return;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    if (!dir || dir[0] != '/' || strlen(dir) > 4000)
        dir = "/tmp";
    snprintf(path, sizeof path, "%s/hcshim-summary-XXXXXX", dir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return; /* no summary; the store still has everything */
    close(fd);
    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    if (setenv("HC_SUMMARY_FILE", path, 1) != 0 || setenv("HC_SUMMARY_OWNER", pid, 1) != 0) {
        unlink(path);
        unsetenv("HC_SUMMARY_FILE");
        return;
    }
    owner = 1;
}

/* 1234567 -> "1,234,567" */
static const char *grouped(uint64_t v, char *buf, size_t size)
{
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
    return buf;
}

/* Cents from $1 up, three significant digits below (at most 9 decimals): the
 * rule hc-analyze prints money with, in integers (the shim links no libm). */
static const char *money(int64_t nusd, char *buf, size_t size)
{
    if (nusd <= 0) {
        snprintf(buf, size, "$0");
        return buf;
    }
    uint64_t u = (uint64_t)nusd;
    int dec = 2;
    if (u < 1000000000ull) {
        int nd = 0;
        for (uint64_t v = u; v; v /= 10)
            nd++;
        dec = 12 - nd > 9 ? 9 : 12 - nd;
    }
    uint64_t div, r;
    for (;;) {
        div = 1;
        for (int i = dec; i < 9; i++)
            div *= 10;
        r = (u + div / 2) / div; /* in units of 10^-dec dollars, half up */
        if (dec > 2 && u < 1000000000ull && r >= 1000) {
            dec--; /* $0.09996 rounds to $0.100, not $0.1000 */
            continue;
        }
        break;
    }
    uint64_t scale = 1;
    for (int i = 0; i < dec; i++)
        scale *= 10;
    snprintf(buf, size, "$%" PRIu64 ".%0*" PRIu64, r / scale, dec, r % scale);
    return buf;
}

void hc_summary_finish(void)
{
    if (!owner || __atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        return;
    const char *path = getenv("HC_SUMMARY_FILE");
    if (!path || !*path)
        return;
    uint64_t calls = 0, errors = 0, blocked = 0, hits = 0, unpriced = 0;
    int64_t tin = 0, tout = 0, cost = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return; /* gone: not our tree's file (a reused pid inherited the variables), or removed */
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long long c, e, b, h, u;
        long long i, o, n;
        if (sscanf(line, "hcsum1 %llu %llu %llu %llu %llu %lld %lld %lld", &c, &e, &b, &h, &u, &i, &o, &n) != 8)
            continue; /* not ours: skip it */
        calls += c, errors += e, blocked += b, hits += h, unpriced += u;
        tin += i, tout += o, cost += n;
    }
    fclose(f);
    unlink(path);

    char a[32], b1[32], b2[32], m[32], msg[1024];
    size_t len = 0;
#define PUT(...) do { int k_ = snprintf(msg + len, sizeof msg - len, __VA_ARGS__); \
                      if (k_ > 0) len = len + (size_t)k_ < sizeof msg ? len + (size_t)k_ : sizeof msg - 1; } while (0)
    PUT("hcshim: %s LLM call%s", grouped(calls, a, sizeof a), calls == 1 ? "" : "s");
    if (calls) {
        PUT(", %s tokens (%s in, %s out), %s", grouped((uint64_t)(tin + tout), a, sizeof a),
            grouped((uint64_t)tin, b1, sizeof b1), grouped((uint64_t)tout, b2, sizeof b2), money(cost, m, sizeof m));
        if (unpriced)
            PUT(" + %" PRIu64 " unpriced", unpriced);
        PUT(", %" PRIu64 " error%s", errors, errors == 1 ? "" : "s");
        if (blocked)
            PUT(", %" PRIu64 " blocked", blocked);
        if (hits)
            PUT(", %" PRIu64 " cache hit%s", hits, hits == 1 ? "" : "s");
    }
    const char *run = getenv("HC_RUN_ID"), *db = getenv("HC_DB");
    if (run && run[strspn(run, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:+-")])
        run = NULL; /* not a run id hc-run would make: print no terminal bytes from it */
    for (const char *q = db; q && *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f || *q == '\'')
            db = NULL;
    PUT(" · more: hc-analyze report");
    if (db && *db)
        PUT(strpbrk(db, " \"$`;&|<>()*?[]#~") ? " --db '%s'" : " --db %s", db);
    if (run && *run)
        PUT(" --run %s", run);
    PUT("\n");
#undef PUT
    ssize_t w = write(2, msg, len);
    (void)w;
}

__attribute__((destructor)) static void summary_at_exit(void)
{
    hc_summary_finish();
}
