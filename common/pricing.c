/* pricing.c — price table loading, model matching and exact cost.
 *
 * The table text is copied once to the heap and split in place (tabs and
 * newlines become NULs), so every string of every hc_price points into that
 * copy for the life of the process. A sorted index over the lower-cased model
 * names makes a lookup a handful of binary searches, with no allocation; the
 * few hundred prefix rows ("name*") and the distinct providers are listed
 * once at load for the steps that need them.
 */
#include "pricing.h"
#include "buf.h"
#include "err.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const char hc_prices_tsv[];

/* The 15 columns every file has, and an optional 16th, `peak` (a time-of-day
 * tier, added later: files without it stay valid). The header row says which. */
#define NCOLS      16
#define NCOLS_BASE 15
static const char *const cols[NCOLS] = {
    "provider",       "model",          "input",       "output",      "cached_input",
    "cache_write_5m", "cache_write_1h", "reasoning",   "per_request", "long_ctx_threshold",
    "input_long",     "output_long",    "cached_long", "source",      "date",
    "peak",
};
enum {
    C_PROV,
    C_MODEL,
    C_IN,
    C_OUT,
    C_CACHED,
    C_CW5M,
    C_CW1H,
    C_REASON,
    C_REQ,
    C_THRESH,
    C_IN_LONG,
    C_OUT_LONG,
    C_CACHED_LONG,
    C_SOURCE,
    C_DATE,
    C_PEAK
};

/* The name messages use for the embedded table: it is data/prices.tsv. */
#define EMBEDDED_NAME "data/prices.tsv"
/* A user file is read whole; this bounds the memory a typo'd path can cost. */
#define USER_FILE_MAX (16L << 20)
/* $1,000,000 per 1M tokens (1e12 pUSD/token) keeps tokens x price far inside
 * __int128 and any single price inside int64. */
#define MAX_USD       1000000
#define MAX_THRESHOLD 1000000000000LL

typedef struct entry {
    hc_price p; /* first member: hc_pricing_at() hands out &entry->p */
    char *key;  /* lower-cased model, malloc'd */
} entry;

typedef struct vec {
    entry *v;
    size_t n, cap;
} vec;

typedef struct errs {
    char msg[400]; /* the first problem (G.err has room for it and the count) */
    int n;         /* how many */
} errs;

/* Process-wide state. `mu` guards the one load; after `done` is published
 * (release) everything else is immutable and read without the lock. */
static struct {
    pthread_mutex_t mu;
    int done; /* atomic */
    int rc;
    char err[512];
    entry *rows;
    size_t n;
    uint32_t *idx; /* row numbers sorted by (key, row number) */
    uint32_t *pfx; /* prefix rows ("name*"), in table order */
    size_t npfx;
    const char *provs[64]; /* distinct providers (more: provs_more) */
    size_t nprovs;
    int provs_more;
} G = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void add_err(errs *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_err(errs *e, const char *file, int line, const char *fmt, ...)
{
    if (e->n++ == 0) {
        va_list ap;
        int k = snprintf(e->msg, sizeof e->msg, "%s:%d: ", file, line);
        if (k < 0 || (size_t)k >= sizeof e->msg)
            return;
        va_start(ap, fmt);
        vsnprintf(e->msg + k, sizeof e->msg - (size_t)k, fmt, ap);
        va_end(ap);
    }
}

static void errs_format(const errs *e, char *out, size_t size)
{
    if (!out || !size)
        return;
    if (e->n <= 1)
        hc_strlcpy(out, size, e->n ? e->msg : "");
    else
        snprintf(out, size, "%s (and %d more)", e->msg, e->n - 1);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static int is_alpha(char c)
{
    return c >= 'a' && c <= 'z';
}
static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ---- field parsing ----------------------------------------------------- */

/* A decimal USD amount to an integer count of 10^-scale USD, digit by digit so
 * that "0.0375" is exactly 37500 pico at scale 6 (per 1M tokens = per token in
 * pico). "" is -1 (not offered). Returns NULL or why it is malformed. */
static const char *parse_decimal(const char *s, int scale, int64_t *out)
{
    int64_t ip = 0, fp = 0, mul = 1;
    int nf = 0;

    if (!*s) {
        *out = -1;
        return NULL;
    }
    if (!is_digit(*s))
        return "not a plain decimal number (digits, optional '.' and decimals)";
    for (; is_digit(*s); s++) {
        ip = ip * 10 + (*s - '0');
        if (ip > MAX_USD)
            return "too large";
    }
    if (*s == '.') {
        s++;
        if (!is_digit(*s))
            return "no digits after '.'";
        for (; is_digit(*s); s++) {
            if (++nf > scale)
                return scale == 6 ? "more than 6 decimals (prices are USD per 1M tokens, 6 "
                                    "decimals = 1 pico-USD per token)"
                                  : "more than 9 decimals (1 nano-USD)";
            fp = fp * 10 + (*s - '0');
        }
    }
    if (*s)
        return "not a plain decimal number (digits, optional '.' and decimals)";
    for (int i = 0; i < scale; i++)
        mul *= 10;
    for (int i = nf; i < scale; i++)
        fp *= 10;
    *out = ip * mul + fp;
    return NULL;
}

static const char *parse_count(const char *s, int64_t *out)
{
    int64_t v = 0;

    *out = 0;
    if (!*s)
        return NULL;
    for (; is_digit(*s); s++) {
        v = v * 10 + (*s - '0');
        if (v > MAX_THRESHOLD)
            return "too large";
    }
    if (*s)
        return "not a whole number of tokens";
    *out = v;
    return NULL;
}

static int days_in_month(int y, int m)
{
    static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

static int valid_ymd(int y, int m, int d)
{
    return y >= 1990 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int valid_date_field(const char *s)
{
    return strlen(s) == 10 && s[4] == '-' && s[7] == '-' &&
           valid_ymd(digits(s, 4), digits(s + 5, 2), digits(s + 8, 2));
}

/* ---- time-of-day tier (the `peak` column) ------------------------------ */

static const char day_names[7][4] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static int day_index(const char *s)
{
    for (int d = 0; d < 7; d++)
        if (!strncmp(s, day_names[d], 3))
            return d;
    return -1;
}

/* "HH:MM" (00:00 .. 24:00) at s to minutes, or -1. */
static int hhmm(const char *s)
{
    if (strnlen(s, 5) < 5)
        return -1;
    int h = digits(s, 2), m = digits(s + 3, 2);
    if (s[2] != ':' || h < 0 || m < 0 || m > 59 || h * 60 + m > 24 * 60)
        return -1;
    return h * 60 + m;
}

/* "MULTx DAYS WINDOWS": MULT a decimal with up to 3 decimals (2x, 1.5x);
 * DAYS "daily" or a comma list of days and day ranges in UTC (mon-fri,
 * sat-sun wraps); WINDOWS a comma list of HH:MM-HH:MM, UTC, from < to (24:00
 * ends a day; a window across midnight is written as two). "" = no tier.
 * Returns NULL or why the text is malformed. */
static const char *parse_peak(const char *s, hc_price *p)
{
    int64_t milli;
    char mult[16];
    const char *sp, *why;
    size_t n;

    p->peak_milli = 0;
    p->peak_days = 0;
    p->npeak = 0;
    if (!*s)
        return NULL;
    if (!(sp = strchr(s, ' ')) || sp == s || sp[-1] != 'x' ||
        (n = (size_t)(sp - s - 1)) >= sizeof mult)
        return "expected 'MULTx DAYS HH:MM-HH:MM[,...]', e.g. '2x mon-fri 01:00-04:00,06:00-10:00' "
               "(UTC)";
    memcpy(mult, s, n);
    mult[n] = '\0';
    if ((why = parse_decimal(mult, 6, &milli)) || milli % 1000)
        return why ? "multiplier: not a decimal number" : "multiplier: more than 3 decimals";
    milli /= 1000;
    if (milli <= 0 || milli > 100000)
        return "multiplier: must be above 0 and at most 100";
    s = sp + 1;
    if (!strncmp(s, "daily ", 6)) {
        p->peak_days = 0x7f;
        s += 6;
    } else {
        for (;;) {
            int a = day_index(s), b = a;
            if (a < 0)
                return "days: expected 'daily' or day names (mon tue wed thu fri sat sun) and "
                       "ranges (mon-fri)";
            s += 3;
            if (*s == '-') {
                if ((b = day_index(s + 1)) < 0)
                    return "days: expected a day name after '-' (mon-fri)";
                s += 4;
            }
            for (int d = a;; d = (d + 1) % 7) {
                p->peak_days |= (uint8_t)(1u << d);
                if (d == b)
                    break;
            }
            if (*s == ' ') {
                s++;
                break;
            }
            if (*s++ != ',')
                return "days: expected ',' or a blank after a day";
        }
    }
    for (;;) {
        int from = hhmm(s), to = from < 0 || s[5] != '-' ? -1 : hhmm(s + 6);
        if (from < 0 || to < 0)
            return "windows: expected HH:MM-HH:MM (UTC), e.g. 01:00-04:00";
        if (from >= to)
            return "windows: a window must end after it starts (write one across midnight as two)";
        if (p->npeak == HC_PEAK_MAX)
            return "windows: more than 4";
        p->peak_from[p->npeak] = (uint16_t)from;
        p->peak_to[p->npeak++] = (uint16_t)to;
        s += 11;
        if (!*s)
            break;
        if (*s++ != ',')
            return "windows: expected ',' between windows and nothing after the last";
    }
    p->peak_milli = milli;
    return NULL;
}

/* ---- table parsing ----------------------------------------------------- */

static int vec_push(vec *v, const entry *e)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 256;
        entry *nv = realloc(v->v, nc * sizeof *nv);
        if (!nv)
            return HC_ENOMEM;
        v->v = nv;
        v->cap = nc;
    }
    v->v[v->n++] = *e;
    return 0;
}

static void vec_free(vec *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i].key);
    free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

static char *lower_dup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        d[i] = lower(s[i]);
    return d;
}

/* One data row, already split into NCOLS fields. Problems go to e; the row is
 * appended to v only if it is entirely valid. */
static int parse_row(char **f, const char *file, int line, int user, vec *v, errs *e)
{
    static const int price_col[] = { C_IN,     C_OUT,     C_CACHED,   C_CW5M,       C_CW1H,
                                     C_REASON, C_IN_LONG, C_OUT_LONG, C_CACHED_LONG };
    int64_t val[NCOLS];
    const char *why;
    entry en;
    int bad = e->n;

    if (!*f[C_PROV])
        add_err(e, file, line, "provider: empty");
    for (const char *c = f[C_PROV]; *c; c++)
        if (!is_alpha(*c) && !is_digit(*c) && *c != '-' && *c != '_' && *c != '.') {
            add_err(e, file, line, "provider: '%s' is not a lower-case id ([a-z0-9._-])",
                    f[C_PROV]);
            break;
        }
    if (!*f[C_MODEL])
        add_err(e, file, line, "model: empty");
    else if (strlen(f[C_MODEL]) > HC_MODEL_MAX)
        add_err(e, file, line, "model: longer than %d bytes", HC_MODEL_MAX);
    for (const unsigned char *c = (const unsigned char *)f[C_MODEL]; *c; c++)
        if (*c <= ' ' || *c >= 0x7f) {
            add_err(e, file, line, "model: '%s' contains a blank or non-ASCII byte", f[C_MODEL]);
            break;
        }
    {
        const char *star = strchr(f[C_MODEL], '*');
        if (star && (star[1] || star == f[C_MODEL]))
            add_err(e, file, line,
                    "model: '%s': '*' is allowed only at the end, after a name (a prefix row)",
                    f[C_MODEL]);
    }
    for (size_t i = 0; i < sizeof price_col / sizeof price_col[0]; i++) {
        int c = price_col[i];
        if ((why = parse_decimal(f[c], 6, &val[c])))
            add_err(e, file, line, "%s: '%s': %s", cols[c], f[c], why);
    }
    if (!*f[C_IN])
        add_err(e, file, line, "input: empty (every row needs an input price)");
    if ((why = parse_decimal(f[C_REQ], 9, &val[C_REQ])))
        add_err(e, file, line, "per_request: '%s': %s", f[C_REQ], why);
    if ((why = parse_count(f[C_THRESH], &val[C_THRESH])))
        add_err(e, file, line, "long_ctx_threshold: '%s': %s", f[C_THRESH], why);
    if (val[C_THRESH] > 0 && *f[C_IN_LONG] == 0 && *f[C_OUT_LONG] == 0 && *f[C_CACHED_LONG] == 0)
        add_err(e, file, line, "long_ctx_threshold is set but no *_long price is");
    if (val[C_THRESH] == 0 && (*f[C_IN_LONG] || *f[C_OUT_LONG] || *f[C_CACHED_LONG]))
        add_err(e, file, line, "a *_long price is set without long_ctx_threshold");
    /* The embedded table must say where each price comes from and when; a
     * user's own contract prices need not. */
    if (!user) {
        if (!*f[C_SOURCE])
            add_err(e, file, line, "source: empty (every embedded row cites its source)");
        else if (strncmp(f[C_SOURCE], "https://", 8) && strncmp(f[C_SOURCE], "http://", 7))
            add_err(e, file, line, "source: '%s' is not an http(s) URL", f[C_SOURCE]);
        if (!*f[C_DATE])
            add_err(e, file, line, "date: empty (every embedded row is dated)");
    }
    if (*f[C_DATE] && !valid_date_field(f[C_DATE]))
        add_err(e, file, line, "date: '%s' is not a valid YYYY-MM-DD date", f[C_DATE]);
    memset(&en, 0, sizeof en);
    if ((why = parse_peak(f[C_PEAK], &en.p)))
        add_err(e, file, line, "peak: '%s': %s", f[C_PEAK], why);
    if (e->n != bad)
        return 0;

    en.p.provider = f[C_PROV];
    en.p.model = f[C_MODEL];
    en.p.source = f[C_SOURCE];
    en.p.date = f[C_DATE];
    en.p.in = val[C_IN];
    en.p.out = val[C_OUT];
    en.p.cached = val[C_CACHED];
    en.p.cw5m = val[C_CW5M];
    en.p.cw1h = val[C_CW1H];
    en.p.reasoning = val[C_REASON];
    en.p.per_request_nusd = val[C_REQ] < 0 ? 0 : val[C_REQ];
    en.p.long_threshold = val[C_THRESH];
    en.p.in_long = val[C_IN_LONG];
    en.p.out_long = val[C_OUT_LONG];
    en.p.cached_long = val[C_CACHED_LONG];
    en.p.line = line;
    en.p.user = user;
    if (!(en.key = lower_dup(f[C_MODEL])))
        return HC_ENOMEM;
    if (vec_push(v, &en)) {
        free(en.key);
        return HC_ENOMEM;
    }
    return 0;
}

/* Split text (owned, modified in place) into rows of v. Returns HC_ENOMEM or 0;
 * format problems are counted in e. */
static int parse_text(char *text, const char *file, int user, vec *v, errs *e)
{
    char *f[NCOLS + 1];
    static char empty[1];
    size_t ncols = NCOLS_BASE; /* what the header row declares */
    int line = 0, have_header = 0;
    char *s = text;

    while (*s) {
        char *eol = strchr(s, '\n');
        char *next = eol ? eol + 1 : s + strlen(s);
        size_t len, nf = 0;

        line++;
        if (eol)
            *eol = '\0';
        len = strlen(s);
        if (len && s[len - 1] == '\r')
            s[--len] = '\0';
        if (s[0] == '#' || strspn(s, " \t") == len) {
            s = next;
            continue;
        }
        /* Split at tabs: fields point into the line, the tabs become NULs. */
        f[nf++] = s;
        for (char *c = s; *c; c++)
            if (*c == '\t') {
                *c = '\0';
                if (nf <= NCOLS)
                    f[nf] = c + 1;
                nf++;
            }
        if (!have_header) {
            int ok = nf == NCOLS_BASE || nf == NCOLS;
            for (size_t i = 0; ok && i < nf; i++)
                ok = strcmp(f[i], cols[i]) == 0;
            if (!ok)
                add_err(e, file, line,
                        "the first non-comment line must be the header row "
                        "'provider<TAB>model<TAB>input<TAB>...<TAB>source<TAB>date[<TAB>peak]' "
                        "(15 or 16 columns, see docs/PRICES.md)");
            else
                ncols = nf;
            have_header = 1; /* one complaint is enough; rows are still checked */
        } else if (nf != ncols && !(ncols == NCOLS && nf == NCOLS_BASE)) {
            /* Under a 16-column header a row may leave the last (peak) off. */
            add_err(e, file, line, "expected %zu tab-separated fields, found %zu", ncols, nf);
        } else {
            if (nf == NCOLS_BASE)
                f[C_PEAK] = empty;
            if (parse_row(f, file, line, user, v, e))
                return HC_ENOMEM;
        }
        s = next;
    }
    if (!have_header)
        add_err(e, file, line, "no header row (empty file?)");
    return 0;
}

static int cmp_prov_key(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    int c = strcmp(x->p.provider, y->p.provider);
    if (!c)
        c = strcmp(x->key, y->key);
    return c ? c : (x->p.line > y->p.line) - (x->p.line < y->p.line);
}

/* A (provider, model) twice in one file is a mistake: which row was meant? */
static int check_duplicates(const vec *v, const char *file, errs *e)
{
    entry **s;

    if (v->n < 2)
        return 0;
    if (!(s = malloc(v->n * sizeof *s)))
        return HC_ENOMEM;
    for (size_t i = 0; i < v->n; i++)
        s[i] = &v->v[i];
    qsort(s, v->n, sizeof *s, cmp_prov_key);
    for (size_t i = 1; i < v->n; i++)
        if (!strcmp(s[i]->p.provider, s[i - 1]->p.provider) && !strcmp(s[i]->key, s[i - 1]->key))
            add_err(e, file, s[i]->p.line,
                    "duplicate row: provider '%s' model '%s' is already on line %d",
                    s[i]->p.provider, s[i]->p.model, s[i - 1]->p.line);
    free(s);
    return 0;
}

/* Read a whole file into a fresh NUL-terminated buffer. */
static int read_file(const char *path, char **out, errs *e)
{
    FILE *fp;
    char *buf = NULL;
    long size;
    int rc = HC_EIO;

    *out = NULL;
    if (!(fp = fopen(path, "rb"))) {
        add_err(e, path, 0, "cannot open: %s", strerror(errno));
        return HC_EIO;
    }
    if (fseek(fp, 0, SEEK_END) || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)) {
        add_err(e, path, 0, "cannot read: %s", strerror(errno));
        goto out_close;
    }
    if (size > USER_FILE_MAX) {
        add_err(e, path, 0, "larger than %ld bytes", USER_FILE_MAX);
        goto out_close;
    }
    if (!(buf = malloc((size_t)size + 1))) {
        rc = HC_ENOMEM;
        goto out_close;
    }
    if (fread(buf, 1, (size_t)size, fp) != (size_t)size) {
        add_err(e, path, 0, "cannot read: short read");
        goto out_free;
    }
    buf[size] = '\0';
    if (memchr(buf, '\0', (size_t)size)) {
        add_err(e, path, 0, "contains a NUL byte (not a text file)");
        goto out_free;
    }
    *out = buf;
    buf = NULL;
    rc = 0;
out_free:
    free(buf);
out_close:
    fclose(fp);
    return rc;
}

/* ---- the loaded table ---------------------------------------------------- */

static int cmp_idx(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int c = strcmp(G.rows[x].key, G.rows[y].key);
    return c ? c : (x > y) - (x < y);
}

/* Rows whose key is exactly `key`: the one of `prov` if any (and prov is not
 * NULL), else the first in table order. */
static const hc_price *find_exact(const char *key, const char *prov, int strict)
{
    size_t lo = 0, hi = G.n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(G.rows[G.idx[mid]].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == G.n || strcmp(G.rows[G.idx[lo]].key, key))
        return NULL;
    if (prov)
        for (size_t i = lo; i < G.n && !strcmp(G.rows[G.idx[i]].key, key); i++)
            if (!strcmp(G.rows[G.idx[i]].p.provider, prov))
                return &G.rows[G.idx[i]].p;
    return strict ? NULL : &G.rows[G.idx[lo]].p;
}

/* Merge user rows into the embedded ones: same (provider, key) replaces in
 * place, anything else is appended. */
static int merge(vec *base, vec *user)
{
    for (size_t i = 0; i < user->n; i++) {
        size_t j;
        for (j = 0; j < base->n; j++)
            if (!strcmp(base->v[j].p.provider, user->v[i].p.provider) &&
                !strcmp(base->v[j].key, user->v[i].key))
                break;
        if (j < base->n) {
            free(base->v[j].key);
            base->v[j] = user->v[i];
        } else if (vec_push(base, &user->v[i])) {
            return HC_ENOMEM;
        }
        user->v[i].key = NULL; /* now owned by base */
    }
    return 0;
}

static void load(const char *user_file)
{
    errs e = { .n = 0 };
    vec base = { 0 }, user = { 0 };
    char *etext, *utext = NULL;
    int rc = 0;

    /* The embedded table first: whatever the user file says, it is priced. */
    if (!(etext = strdup(hc_prices_tsv)))
        goto enomem;
    if (parse_text(etext, EMBEDDED_NAME, 0, &base, &e) ||
        check_duplicates(&base, EMBEDDED_NAME, &e))
        goto enomem;
    if (e.n)
        rc = HC_EINVAL;

    if (user_file && *user_file) {
        errs ue = { .n = 0 };
        int r = read_file(user_file, &utext, &ue);
        if (r == HC_ENOMEM)
            goto enomem;
        if (!r && (parse_text(utext, user_file, 1, &user, &ue) ||
                   check_duplicates(&user, user_file, &ue)))
            goto enomem;
        if (ue.n) {
            /* All or nothing: a half-applied override file would be worse. */
            vec_free(&user);
            free(utext);
            utext = NULL;
            if (!e.n)
                e = ue;
            else
                e.n += ue.n;
            rc = HC_EINVAL;
        } else if (merge(&base, &user)) {
            goto enomem;
        }
        free(user.v);
        user.v = NULL;
    }

    if (base.n > UINT32_MAX || !(G.idx = malloc((base.n ? base.n : 1) * sizeof *G.idx)))
        goto enomem;
    G.rows = base.v;
    G.n = base.n;
    for (size_t i = 0; i < G.n; i++)
        G.idx[i] = (uint32_t)i;
    qsort(G.idx, G.n, sizeof *G.idx, cmp_idx);
    /* For lookup: the prefix rows, and which providers have rows at all. */
    if (!(G.pfx = malloc((G.n ? G.n : 1) * sizeof *G.pfx)))
        goto enomem;
    for (size_t i = 0; i < G.n; i++) {
        size_t kl = strlen(G.rows[i].key), j;
        if (kl > 1 && G.rows[i].key[kl - 1] == '*')
            G.pfx[G.npfx++] = (uint32_t)i;
        for (j = 0; j < G.nprovs && strcmp(G.provs[j], G.rows[i].p.provider); j++)
            ;
        if (j == G.nprovs) {
            if (G.nprovs < sizeof G.provs / sizeof G.provs[0])
                G.provs[G.nprovs++] = G.rows[i].p.provider;
            else
                G.provs_more = 1;
        }
    }
    G.rc = rc;
    errs_format(&e, G.err, sizeof G.err);
    return; /* etext and utext stay: every hc_price points into them */

enomem:
    vec_free(&user);
    vec_free(&base);
    free(utext);
    free(etext);
    free(G.idx);
    G.idx = NULL;
    G.rows = NULL;
    G.n = 0;
    G.rc = HC_ENOMEM;
    snprintf(G.err, sizeof G.err, "price table: out of memory");
}

int hc_pricing_init(const char *user_file, char *err, size_t errlen)
{
    if (!__atomic_load_n(&G.done, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&G.mu);
        if (!G.done) {
            load(user_file);
            __atomic_store_n(&G.done, 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&G.mu);
    }
    if (err && errlen)
        hc_strlcpy(err, errlen, G.err);
    return G.rc;
}

static void ensure_loaded(void)
{
    if (!__atomic_load_n(&G.done, __ATOMIC_ACQUIRE))
        hc_pricing_init(NULL, NULL, 0);
}

size_t hc_pricing_count(void)
{
    ensure_loaded();
    return G.n;
}

const hc_price *hc_pricing_at(size_t i)
{
    ensure_loaded();
    return i < G.n ? &G.rows[i].p : NULL;
}

int hc_pricing_check_file(const char *path, char *err, size_t errlen)
{
    errs e = { .n = 0 };
    vec v = { 0 };
    char *text = NULL;
    int rc;

    rc = read_file(path, &text, &e);
    if (!rc && (parse_text(text, path, 1, &v, &e) || check_duplicates(&v, path, &e)))
        rc = HC_ENOMEM;
    if (!rc && e.n)
        rc = HC_EINVAL;
    if (rc == HC_ENOMEM && !e.n)
        snprintf(e.msg, sizeof e.msg, "%s: out of memory", path), e.n = 1;
    errs_format(&e, err, errlen);
    vec_free(&v);
    free(text);
    return rc;
}

/* ---- names ------------------------------------------------------------- */

static size_t skip_word_dot(const char *s, const char *const *words)
{
    for (; *words; words++) {
        size_t n = strlen(*words);
        if (!strncmp(s, *words, n) && s[n] == '.')
            return n + 1;
    }
    return 0;
}

/* Bedrock ids: "[region.]vendor.model". Only these words count, so that no
 * real model name that happens to contain a dot is cut. */
static void strip_bedrock(char *s)
{
    static const char *const regions[] = { "us", "eu",     "apac",   "jp", "au",
                                           "ca", "global", "us-gov", NULL };
    static const char *const vendors[] = { "anthropic", "meta",     "mistral", "cohere", "amazon",
                                           "ai21",      "deepseek", "openai",  "qwen",   "writer",
                                           "google",    "xai",      NULL };
    size_t r = skip_word_dot(s, regions);
    size_t v = skip_word_dot(s + r, vendors);

    if (v)
        memmove(s, s + r + v, strlen(s + r + v) + 1);
}

/* Remove one decoration from the end of s (length *n). 1 if something went. */
static int strip_one_suffix(char *s, size_t *n, int keep_dates)
{
    size_t len = *n, cut = 0;

    if (len > 7 && !strcmp(s + len - 7, "-latest")) {
        cut = 7;
    } else if (!keep_dates && len > 11 && s[len - 11] == '-' && s[len - 6] == '-' &&
               s[len - 3] == '-' &&
               valid_ymd(digits(s + len - 10, 4), digits(s + len - 5, 2), digits(s + len - 2, 2))) {
        cut = 11; /* -YYYY-MM-DD */
    } else if (!keep_dates && len > 9 && s[len - 9] == '-' &&
               valid_ymd(digits(s + len - 8, 4), digits(s + len - 4, 2), digits(s + len - 2, 2))) {
        cut = 9; /* -YYYYMMDD */
    } else if (!keep_dates && len > 8 && s[len - 8] == '-' && s[len - 5] == '-' &&
               valid_ymd(digits(s + len - 4, 4), digits(s + len - 7, 2), 1)) {
        cut = 8; /* -MM-YYYY (Cohere "-08-2024") */
    } else if (!keep_dates && len > 6 && s[len - 6] == '-' && s[len - 3] == '-' &&
               valid_ymd(2000, digits(s + len - 5, 2), digits(s + len - 2, 2))) {
        cut = 6; /* -MM-DD (2000: a leap year) */
    } else if (!keep_dates && len > 5 && s[len - 5] == '-' &&
               valid_ymd(2000, digits(s + len - 4, 2), digits(s + len - 2, 2))) {
        cut = 5; /* -MMDD */
    } else {
        /* -vN:M (Bedrock "-v2:0") always; a bare -vN ("claude-3-5-sonnet-v2",
         * "text-embedding-ada-002-v2") only when a version number remains, so
         * that "deepseek-v3" keeps its name. N has one or two digits. */
        const char *d = strrchr(s, '-');
        if (d && d != s && d[1] == 'v' && is_digit(d[2])) {
            const char *c = d + 2;
            int colon = 0;
            while (is_digit(*c) && c - d < 4)
                c++;
            if (*c == ':' && is_digit(c[1]))
                for (colon = 1, c++; is_digit(*c); c++)
                    ;
            if (!*c) {
                const char *dg = strpbrk(s, "0123456789");
                if (colon || (dg && dg < d))
                    cut = len - (size_t)(d - s);
            }
        }
    }
    if (!cut)
        return 0;
    *n = len - cut;
    s[*n] = '\0';
    return 1;
}

/* hc_model_normalize(), or with keep_dates its first stages only: the
 * routing prefixes, Bedrock's and Vertex's decorations, ":word", "-latest"
 * and "-vN:M" go, a date stays ("us.anthropic.claude-3-5-sonnet-20241022-v2:0"
 * -> "claude-3-5-sonnet-20241022", a name the databases list). */
static void normalize(const char *model, char *out, size_t size, int keep_dates)
{
    char s[HC_MODEL_MAX + 1];
    const char *b, *slash;
    size_t n, i;
    char *c;

    if (!out || !size)
        return;
    out[0] = '\0';
    if (!model)
        return;
    for (b = model; is_blank(*b); b++)
        ;
    n = strlen(b);
    while (n && is_blank(b[n - 1]))
        n--;
    if ((slash = memrchr(b, '/', n))) {
        n -= (size_t)(slash + 1 - b);
        b = slash + 1;
    }
    if (n > HC_MODEL_MAX)
        n = HC_MODEL_MAX;
    for (i = 0; i < n; i++)
        s[i] = lower(b[i]);
    s[n] = '\0';

    strip_bedrock(s);
    if ((c = strchr(s, '@')) && c != s)
        *c = '\0';
    if ((c = strrchr(s, ':')) && c != s && c[1]) {
        const char *w = c + 1;
        while (is_alpha(*w))
            w++;
        if (!*w)
            *c = '\0';
    }
    n = strlen(s);
    while (strip_one_suffix(s, &n, keep_dates))
        ;
    if (!strncmp(s, "claude-", 7))
        for (i = 7; i + 1 < n; i++)
            if (s[i] == '.' && is_digit(s[i - 1]) && is_digit(s[i + 1]))
                s[i] = '-';
    hc_strlcpy(out, size, s);
}

void hc_model_normalize(const char *model, char *out, size_t size)
{
    normalize(model, out, size, 0);
}

/* After a prefix ends at '-' or ':', does the name go on with a short version
 * number ("-9", "-10", "-4.1")? Then it is another model, not a decoration of
 * this one: claude-opus-4-9 is not claude-opus-4. Three or more digits
 * ("-002", "-0613") are snapshot numbers and do decorate. */
static int short_version_follows(const char *rest)
{
    int nd = 0;
    while (is_digit(rest[nd]))
        nd++;
    return nd >= 1 && nd <= 2 &&
           (rest[nd] == '\0' || rest[nd] == '-' || rest[nd] == '.' || rest[nd] == ':');
}

/* Words that name another product of a family when they follow its name:
 * gpt-4o-mini-tts is a speech model, gemini-3-pro-image-preview an image
 * model, gemini-3.6-flash-lite a smaller model, each priced on its own. A
 * prefix match is refused when the rest of the name has one of them as a
 * '-'/'.'/':'-separated word, or a '[' (Claude Code's "[1m]" context
 * variants). */
static int other_product_follows(const char *rest)
{
    static const char *const words[] = { "image", "tts",  "transcribe", "audio", "realtime",
                                         "lite",  "mini", "nano",       NULL };
    if (strchr(rest, '['))
        return 1;
    for (const char *w = rest; *w;) {
        size_t n = strcspn(w, "-.:");
        for (int i = 0; words[i]; i++)
            if (n == strlen(words[i]) && !strncmp(w, words[i], n))
                return 1;
        w += n;
        if (*w)
            w++;
    }
    return 0;
}

/* An explicit prefix row ("name*", from a database's starts_with rule) that
 * `name` begins with, the longest first; of equal ones the row of prov, else
 * (unless strict) the first in table order. NULL if none. A linear pass over
 * the prefix rows (a few hundred), cheaper than a search per length. */
static const hc_price *find_prefix_row(const char *name, const char *prov, int strict)
{
    const entry *best = NULL;
    size_t bestlen = 0, n = strlen(name);

    for (size_t k = 0; k < G.npfx; k++) {
        const entry *e = &G.rows[G.pfx[k]];
        size_t i = strlen(e->key) - 1; /* without the '*' */
        int mine = prov && !strcmp(e->p.provider, prov);
        if (i > n || i < bestlen || (strict && !mine) || strncmp(name, e->key, i))
            continue;
        if (i == bestlen && best && (!mine || !strcmp(best->p.provider, prov)))
            continue; /* keep the first, or the caller's */
        const char *rest = name + i;
        if (other_product_follows(rest))
            continue;
        /* A prefix ending in a version number does not take a longer number
         * ("claude-opus-5*" is not claude-opus-50) or a further short version
         * ("claude-opus-5-1", "gemini-3.6-flash" is not "gemini-3*"). */
        if (is_digit(name[i - 1]) && (is_digit(rest[0]) || ((rest[0] == '-' || rest[0] == '.') &&
                                                            short_version_follows(rest + 1))))
            continue;
        best = e;
        bestlen = i;
    }
    return best ? &best->p : NULL;
}

/* The lookup steps (see pricing.h) over the rows of provider p only
 * (strict), or over all rows preferring p's. */
static const hc_price *lookup_steps(const char *raw, const char *dated, const char *norm,
                                    const char *p, int strict)
{
    char cand[HC_MODEL_MAX + 1];
    const char *t;
    const hc_price *hit;
    size_t i;

    /* 1. as written, then each tail after a '/' */
    for (t = raw;;) {
        const char *slash = strchr(t, '/');
        if (*t && (hit = find_exact(t, p, strict)))
            return hit;
        if (!slash)
            break;
        t = slash + 1;
    }

    /* 2. normalised: first keeping a date, then without */
    if (*dated && strcmp(dated, norm) && (hit = find_exact(dated, p, strict)))
        return hit;
    if (!*norm)
        return NULL;
    if ((hit = find_exact(norm, p, strict)))
        return hit;

    /* 3. an explicit prefix row: the name as written, its tails, normalised */
    for (t = raw;;) {
        const char *slash = strchr(t, '/');
        if (*t && (hit = find_prefix_row(t, p, strict)))
            return hit;
        if (!slash)
            break;
        t = slash + 1;
    }
    if (*dated && (hit = find_prefix_row(dated, p, strict)))
        return hit;
    if ((hit = find_prefix_row(norm, p, strict)))
        return hit;

    /* 4. longest prefix ending at a '-' or ':' of the normalised name */
    for (i = strlen(norm) - 1; i > 0; i--) {
        if ((norm[i] != '-' && norm[i] != ':') || short_version_follows(norm + i + 1) ||
            other_product_follows(norm + i + 1))
            continue;
        memcpy(cand, norm, i);
        cand[i] = '\0';
        if ((hit = find_exact(cand, p, strict)))
            return hit;
    }
    return NULL;
}

/* Hosts that bill another provider's models at that provider's price, in
 * order (genai-prices' fallback_model_providers). */
static const struct {
    const char *host, *maker;
} fallbacks[] = {
    { "azure", "openai" },
    { "azure", "anthropic" },
    { "google", "anthropic" },
};

static int provider_has_rows(const char *p)
{
    for (size_t i = 0; i < G.nprovs; i++)
        if (!strcmp(G.provs[i], p))
            return 1;
    if (!G.provs_more)
        return 0;
    for (size_t i = 0; i < G.n; i++)
        if (!strcmp(G.rows[i].p.provider, p))
            return 1;
    return 0;
}

const hc_price *hc_price_lookup(const char *provider, const char *model)
{
    char raw[HC_MODEL_MAX + 1], dated[HC_MODEL_MAX + 1], norm[HC_MODEL_MAX + 1], prov[64];
    const char *p = NULL, *b;
    const hc_price *hit;
    size_t n, i;

    ensure_loaded();
    if (!model || !G.n)
        return NULL;
    for (b = model; is_blank(*b); b++)
        ;
    n = strlen(b);
    while (n && is_blank(b[n - 1]))
        n--;
    if (!n || n > HC_MODEL_MAX)
        return NULL;
    for (i = 0; i < n; i++)
        raw[i] = lower(b[i]);
    raw[n] = '\0';
    if (provider && *provider) {
        for (i = 0; provider[i] && i < sizeof prov - 1; i++)
            prov[i] = lower(provider[i]);
        prov[i] = '\0';
        if (strcmp(prov, "ollama"))
            p = prov;
    }
    normalize(model, dated, sizeof dated, 1);
    hc_model_normalize(model, norm, sizeof norm);

    /* A provider with rows of its own is priced by them only: a host's copy
     * of a model (Together's DeepSeek, Bedrock's Claude) is not priced as the
     * maker's, nor the maker's model as a host's copy. Where a host bills the
     * maker's list price, its fallbacks say so (genai-prices'
     * fallback_model_providers: Azure sells OpenAI's and Anthropic's models,
     * Vertex (google) Anthropic's, at their prices); OpenRouter bills the
     * underlying model's price where it has no row of its own. A provider
     * the table does not know, or none, takes any row. */
    if (p && provider_has_rows(p)) {
        if ((hit = lookup_steps(raw, dated, norm, p, 1)))
            return hit;
        for (i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++)
            if (!strcmp(p, fallbacks[i].host) &&
                (hit = lookup_steps(raw, dated, norm, fallbacks[i].maker, 1)))
                return hit;
        if (strcmp(p, "openrouter"))
            return NULL;
    }
    return lookup_steps(raw, dated, norm, p, 0);
}

/* ---- cost ---------------------------------------------------------------- */

/* price x to/from, to the nearest pico: a cache multiplier carried over to the
 * long-context tier. Exact whenever the published prices are (x1.25, x2, x0.1). */
static int64_t rescale(int64_t price, int64_t from, int64_t to)
{
    if (from == to || from <= 0)
        return price;
    return (int64_t)(((__int128)price * to + from / 2) / from);
}

static int64_t nonneg(int64_t v)
{
    return v > 0 ? v : 0;
}

int hc_cost_long_tier(const hc_price *p, const hc_tokens *t)
{
    return p && t && p->long_threshold > 0 && t->in > p->long_threshold;
}

int hc_cost_peak(const hc_price *p, int64_t when_us)
{
    int64_t secs, days, minute;
    int wday;

    if (!p || !p->peak_milli)
        return 0;
    secs = when_us >= 0 ? when_us / 1000000 : -((-when_us + 999999) / 1000000);
    days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    minute = (secs - days * 86400) / 60;
    wday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    if (!(p->peak_days & (1u << wday)))
        return 0;
    for (int i = 0; i < p->npeak; i++)
        if (minute >= p->peak_from[i] && minute < p->peak_to[i])
            return 1;
    return 0;
}

static int64_t times_milli(int64_t price, int64_t milli)
{
    return price < 0 ? price : (int64_t)(((__int128)price * milli + 500) / 1000);
}

int64_t hc_cost_nusd_at(const hc_price *p, const hc_tokens *t, int64_t when_us)
{
    hc_price q;

    if (!hc_cost_peak(p, when_us))
        return hc_cost_nusd(p, t);
    q = *p;
    q.in = times_milli(p->in, p->peak_milli);
    q.out = times_milli(p->out, p->peak_milli);
    q.cached = times_milli(p->cached, p->peak_milli);
    q.cw5m = times_milli(p->cw5m, p->peak_milli);
    q.cw1h = times_milli(p->cw1h, p->peak_milli);
    q.reasoning = times_milli(p->reasoning, p->peak_milli);
    q.in_long = times_milli(p->in_long, p->peak_milli);
    q.out_long = times_milli(p->out_long, p->peak_milli);
    q.cached_long = times_milli(p->cached_long, p->peak_milli);
    return hc_cost_nusd(&q, t);
}

/* Append to out (size bytes, *n used); once something does not fit, nothing more is added. */
static void __attribute__((format(printf, 4, 5)))
put(char *out, size_t size, size_t *n, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (*n >= size - 1)
        return;
    va_start(ap, fmt);
    w = vsnprintf(out + *n, size - *n, fmt, ap);
    va_end(ap);
    *n = w < 0 || (size_t)w >= size - *n ? size - 1 : *n + (size_t)w;
}

const char *hc_price_peak_text(const hc_price *p, char *out, size_t size)
{
    size_t n = 0;

    if (!size)
        return out;
    out[0] = '\0';
    if (!p || !p->peak_milli)
        return out;
    if (p->peak_milli % 1000) {
        long long frac = p->peak_milli % 1000;
        int fdig = 3;
        while (frac % 10 == 0) /* no trailing zeros: 1.5x, 1.25x */
            frac /= 10, fdig--;
        put(out, size, &n, "%lld.%0*lldx ", (long long)(p->peak_milli / 1000), fdig, frac);
    } else
        put(out, size, &n, "%lldx ", (long long)(p->peak_milli / 1000));
    if (p->peak_days == 0x7f) {
        put(out, size, &n, "daily");
    } else {
        const char *sep = "";
        for (int d = 1; d <= 7; d++) /* Monday first */
            if (p->peak_days & (1u << (d % 7))) {
                int e = d;
                while (e < 7 && (p->peak_days & (1u << ((e + 1) % 7))))
                    e++;
                if (e > d)
                    put(out, size, &n, "%s%s-%s", sep, day_names[d % 7], day_names[e % 7]);
                else
                    put(out, size, &n, "%s%s", sep, day_names[d % 7]);
                sep = ",";
                d = e;
            }
    }
    for (int i = 0; i < p->npeak; i++)
        put(out, size, &n, "%s%02d:%02d-%02d:%02d", i ? "," : " ", p->peak_from[i] / 60,
            p->peak_from[i] % 60, p->peak_to[i] / 60, p->peak_to[i] % 60);
    return out;
}

int64_t hc_cost_nusd(const hc_price *p, const hc_tokens *t)
{
    int64_t in, out, cached, cw5m, cw1h, reasoning, uncached;
    int64_t base_in, base_out, pin, pout, pcached, pcw5m, pcw1h, preason;
    __int128 pico, nano;
    int tier;

    if (!p || !t)
        return 0;
    in = nonneg(t->in);
    out = nonneg(t->out);
    cached = nonneg(t->cached);
    cw5m = nonneg(t->cw5m);
    cw1h = nonneg(t->cw1h);
    reasoning = nonneg(t->reasoning);
    if (reasoning > out)
        reasoning = out;
    uncached = in - cached;
    uncached = uncached > cw5m ? uncached - cw5m : 0;
    uncached = uncached > cw1h ? uncached - cw1h : 0;

    tier = p->long_threshold > 0 && in > p->long_threshold;
    base_in = nonneg(p->in);
    base_out = nonneg(p->out);
    pin = tier && p->in_long >= 0 ? p->in_long : base_in;
    pout = tier && p->out_long >= 0 ? p->out_long : base_out;
    if (tier && p->cached_long >= 0)
        pcached = p->cached_long;
    else
        pcached = p->cached >= 0 ? rescale(p->cached, base_in, pin) : pin;
    pcw5m = p->cw5m >= 0 ? rescale(p->cw5m, base_in, pin) : pin;
    pcw1h = p->cw1h >= 0 ? rescale(p->cw1h, base_in, pin) : pcw5m;
    preason = p->reasoning >= 0 ? rescale(p->reasoning, base_out, pout) : pout;

    pico = (__int128)uncached * pin + (__int128)cached * pcached + (__int128)cw5m * pcw5m +
           (__int128)cw1h * pcw1h + (__int128)(out - reasoning) * pout +
           (__int128)reasoning * preason;
    nano = (pico + 500) / 1000 + nonneg(p->per_request_nusd);
    return nano > INT64_MAX ? INT64_MAX : (int64_t)nano;
}

/* ---- where the user file is ------------------------------------------------ */

const char *hc_pricing_default_path(char *out, size_t size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;

    if (!out || !size)
        return NULL;
    out[0] = '\0';
    if (xdg && xdg[0] == '/')
        n = snprintf(out, size, "%s/hcshim/prices.tsv", xdg);
    else if (home && home[0] == '/')
        n = snprintf(out, size, "%s/.config/hcshim/prices.tsv", home);
    else
        return NULL;
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return NULL;
    }
    return out;
}

const char *hc_pricing_user_file(char *out, size_t size)
{
    const char *env = getenv("HC_PRICES");

    if (!out || !size)
        return NULL;
    out[0] = '\0';
    if (env && *env) {
        if (strlen(env) >= size)
            return NULL;
        hc_strlcpy(out, size, env);
        return out;
    }
    if (!hc_pricing_default_path(out, size))
        return NULL;
    if (access(out, R_OK) != 0) {
        out[0] = '\0';
        return NULL;
    }
    return out;
}
