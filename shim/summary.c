/* summary.c — see summary.h. */
#include "summary.h"
#include "shim.h" /* HC_STARTUP_VAR */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The pid of the process that prints, 0 if none; set by the constructor only.
 * A pid, not a flag: fork() copies it and vfork() shares it, and a child that
 * exits without exec (a shell's $(...) or pipeline stage, os.fork() + os._exit)
 * must not print the tree's line and remove its file before the owner does. */
static pid_t owner_pid HC_STARTUP_VAR; /* read by every process's exit */
static int done;                       /* atomic: printed (or given up) */

/* Copied at init: hc_summary_finish runs from _exit, possibly in a signal
 * handler, so it reads no environment and calls only async-signal-safe
 * functions (open, read, close, unlink, write, getpid). */
static char sum_path[4096];
static char sum_db[1024];
static char sum_run[128];
static uint64_t err_dev, err_ino; /* what fd 2 was when this image started */

static void copy_env(char *dst, size_t size, const char *name)
{
    const char *v = getenv(name);
    dst[0] = 0;
    if (v && strlen(v) < size)
        memcpy(dst, v, strlen(v) + 1);
}

static void take_ownership(void)
{
    copy_env(sum_path, sizeof sum_path, "HC_SUMMARY_FILE");
    if (!sum_path[0])
        return;
    copy_env(sum_db, sizeof sum_db, "HC_DB");
    copy_env(sum_run, sizeof sum_run, "HC_RUN_ID");
    struct stat st;
    if (fstat(2, &st) == 0) {
        err_dev = (uint64_t)st.st_dev;
        err_ino = (uint64_t)st.st_ino;
    }
    owner_pid = getpid();
}

void hc_summary_init(void)
{
    const char *file = getenv("HC_SUMMARY_FILE");
    if (file && *file) {
        /* Inherited. The owner after an exec() is still the owner. */
        const char *o = getenv("HC_SUMMARY_OWNER");
        if (o && atol(o) == (long)getpid())
            take_ownership();
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
    take_ownership();
}

/* A bounded string builder without stdio: async-signal-safe. */
typedef struct {
    char *buf;
    size_t size, len;
} sbuf;

static void put(sbuf *b, const char *s)
{
    while (*s && b->len + 1 < b->size)
        b->buf[b->len++] = *s++;
    b->buf[b->len] = 0;
}

static void put_u64(sbuf *b, uint64_t v, int min_digits)
{
    char raw[24];
    int n = 0;
    do {
        raw[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || n < min_digits);
    char s[24];
    for (int i = 0; i < n; i++)
        s[i] = raw[n - 1 - i];
    s[n] = 0;
    put(b, s);
}

/* 1234567 -> "1,234,567" */
static void put_grouped(sbuf *b, uint64_t v)
{
    char raw[24];
    sbuf r = { raw, sizeof raw, 0 };
    put_u64(&r, v, 1);
    char s[32];
    size_t o = 0;
    for (size_t i = 0; i < r.len; i++) {
        if (i > 0 && (r.len - i) % 3 == 0)
            s[o++] = ',';
        s[o++] = raw[i];
    }
    s[o] = 0;
    put(b, s);
}

/* Cents from $1 up, three significant digits below (at most 9 decimals): the
 * rule hc-analyze prints money with, in integers (the shim links no libm). */
static void put_money(sbuf *b, int64_t nusd)
{
    if (nusd <= 0) {
        put(b, "$0");
        return;
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
    put(b, "$");
    put_u64(b, r / scale, 1);
    put(b, ".");
    put_u64(b, r % scale, dec);
}

/* Parse an unsigned or signed decimal at *p; 0 if none. */
static int parse_num(const char **p, int allow_minus, int64_t *out)
{
    const char *s = *p;
    int neg = 0;
    if (allow_minus && *s == '-')
        neg = 1, s++;
    if (*s < '0' || *s > '9')
        return 0;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    *out = neg ? -(int64_t)v : (int64_t)v;
    *p = s;
    return 1;
}

typedef struct {
    uint64_t calls, errors, blocked, hits, unpriced;
    int64_t tin, tout, cost;
} totals;

/* One "hcsum1 c e b h u in out nusd" line (core/tally.c); others are skipped. */
static void add_line(totals *t, const char *line)
{
    if (strncmp(line, "hcsum1 ", 7) != 0)
        return; /* not ours: skip it */
    const char *p = line + 7;
    int64_t v[8];
    for (int i = 0; i < 8; i++) {
        while (*p == ' ')
            p++;
        if (!parse_num(&p, i >= 5, &v[i]))
            return;
    }
    t->calls += (uint64_t)v[0], t->errors += (uint64_t)v[1], t->blocked += (uint64_t)v[2];
    t->hits += (uint64_t)v[3], t->unpriced += (uint64_t)v[4];
    t->tin += v[5], t->tout += v[6], t->cost += v[7];
}

/* Sum every line of the tree's file into *t, then remove the file.
 * Returns false when the file is gone (not our tree's, or removed). */
static bool read_totals(totals *t)
{
    int fd = open(sum_path, O_RDONLY | O_CLOEXEC);
    /* gone: not our tree's file (a reused pid inherited the variables), or removed */
    if (fd < 0)
        return false;
    char buf[4096], line[256];
    size_t ll = 0;
    int skipping = 0; /* the current line is longer than any of ours */
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                line[ll] = 0;
                if (!skipping)
                    add_line(t, line);
                ll = 0, skipping = 0;
            } else if (ll + 1 < sizeof line) {
                line[ll++] = buf[i];
            } else {
                skipping = 1;
            }
        }
    }
    if (ll && !skipping) {
        line[ll] = 0;
        add_line(t, line);
    }
    close(fd);
    unlink(sum_path);
    return true;
}

/* The totals line:
 *   N LLM calls, T tokens (I in, O out), $C[ + U unpriced], E errors[, B blocked][, H cache hits]
 */
static void put_totals(sbuf *b, const totals *t)
{
    put_grouped(b, t->calls);
    put(b, t->calls == 1 ? " LLM call" : " LLM calls");
    if (!t->calls)
        return;
    put(b, ", ");
    put_grouped(b, (uint64_t)(t->tin + t->tout));
    put(b, " tokens (");
    put_grouped(b, (uint64_t)t->tin);
    put(b, " in, ");
    put_grouped(b, (uint64_t)t->tout);
    put(b, " out), ");
    put_money(b, t->cost);
    if (t->unpriced) {
        put(b, " + ");
        put_u64(b, t->unpriced, 1);
        put(b, " unpriced");
    }
    put(b, ", ");
    put_u64(b, t->errors, 1);
    put(b, t->errors == 1 ? " error" : " errors");
    if (t->blocked) {
        put(b, ", ");
        put_u64(b, t->blocked, 1);
        put(b, " blocked");
    }
    if (t->hits) {
        put(b, ", ");
        put_u64(b, t->hits, 1);
        put(b, t->hits == 1 ? " cache hit" : " cache hits");
    }
}

/* " · more: hc-analyze report [--db DB] [--run ID]", printing no terminal
 * bytes from either value. */
static void put_more(sbuf *b)
{
    const char *run = sum_run, *db = sum_db;
    if (run[strspn(run, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:+-")])
        run = ""; /* not a run id hc-run would make: print no terminal bytes from it */
    for (const char *q = db; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f || *q == '\'')
            db = "";
    put(b, " · more: hc-analyze report");
    if (*db) {
        int quote = strpbrk(db, " \"$`;&|<>()*?[]#~") != NULL;
        put(b, quote ? " --db '" : " --db ");
        put(b, db);
        if (quote)
            put(b, "'");
    }
    if (*run) {
        put(b, " --run ");
        put(b, run);
    }
}

void hc_summary_finish(void)
{
    /* getpid() is a real system call (glibc >= 2.25 caches nothing), so a
     * vfork() child sharing owner_pid is not the owner either. */
    if (owner_pid == 0 || owner_pid != getpid() || __atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        return;
    totals t = { 0 };
    if (!read_totals(&t))
        return;
    char msg[1536];
    sbuf b = { msg, sizeof msg, 0 };
    msg[0] = 0;
    put(&b, "hcshim: ");
    put_totals(&b, &t);
    put_more(&b);
    /* Only onto the stderr the program started with: an app that closed fd 2
     * may have opened one of its own files there since. */
    struct stat st;
    if (fstat(2, &st) != 0 || (uint64_t)st.st_dev != err_dev || (uint64_t)st.st_ino != err_ino)
        return;
    /* The newline even when truncated: msg keeps room for it. */
    if (b.len + 1 >= b.size)
        b.len = b.size - 2;
    msg[b.len++] = '\n';
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(2, msg + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

__attribute__((destructor)) static void summary_at_exit(void)
{
    hc_summary_finish();
}
