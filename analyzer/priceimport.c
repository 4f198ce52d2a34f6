/* priceimport.c — genai-prices / LiteLLM price databases -> price-table rows.
 * See priceimport.h for the mapping and docs/PRICES.md "Importing". */
#include "priceimport.h"

#include "err.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Price-table columns after provider and model. */
enum {
    C_IN,
    C_OUT,
    C_CACHED,
    C_CW5M,
    C_CW1H,
    C_REASON,
    C_REQ,
    C_THRESH,
    C_IN_L,
    C_OUT_L,
    C_CACHED_L,
    NCOL
};

typedef struct prow {
    char cell[NCOL][32]; /* "" = not offered */
    char peak[64];       /* the optional `peak` column (a time-of-day tier), "" = none */
} prow;

typedef struct ctx {
    const pimp_opts *o;
    FILE *out, *report;
    pimp_stats *st;
    const char *dbname;
    char **keys; /* "provider\tmodel", lower-case, of rows written or skipped */
    size_t nkeys, capkeys;
    size_t nskip; /* keys[0..nskip) came from skip_tsv */
    char **provs;
    size_t nprovs, capprovs;
    bool oom, ioerr;
} ctx;

static void report(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(ctx *c, const char *fmt, ...)
{
    va_list ap;
    c->st->reported++;
    if (!c->report)
        return;
    va_start(ap, fmt);
    vfprintf(c->report, fmt, ap);
    va_end(ap);
    fputc('\n', c->report);
}

static char *lower_dup(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *k = malloc(na + nb + 2);
    if (!k)
        return NULL;
    for (size_t i = 0; i < na; i++)
        k[i] = (char)tolower((unsigned char)a[i]);
    k[na] = '\t';
    for (size_t i = 0; i < nb; i++)
        k[na + 1 + i] = (char)tolower((unsigned char)b[i]);
    k[na + nb + 1] = '\0';
    return k;
}

static bool push(char ***v, size_t *n, size_t *cap, char *s)
{
    if (!s)
        return false;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        char **nv = realloc(*v, nc * sizeof *nv);
        if (!nv) {
            free(s);
            return false;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = s;
    return true;
}

/* Index of k among the keys seen, or -1. */
static long find_key(ctx *c, const char *k)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (!strcmp(c->keys[i], k))
            return (long)i;
    return -1;
}

/* The (provider, model) pairs of a price file's text (data rows only). */
static void load_skip(ctx *c, const char *tsv)
{
    const char *l = tsv;
    bool header_seen = false;
    while (l && *l) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n && l[0] != '#') {
            const char *t1 = memchr(l, '\t', n);
            const char *t2 = t1 ? memchr(t1 + 1, '\t', n - (size_t)(t1 + 1 - l)) : NULL;
            if (t1 && t2) {
                char prov[128], model[512];
                snprintf(prov, sizeof prov, "%.*s", (int)(t1 - l), l);
                snprintf(model, sizeof model, "%.*s", (int)(t2 - t1 - 1), t1 + 1);
                if (!header_seen && !strcmp(prov, "provider"))
                    header_seen = true;
                else if (!push(&c->keys, &c->nkeys, &c->capkeys, lower_dup(prov, model)))
                    c->oom = true;
            }
        }
        l = e ? e + 1 : NULL;
    }
}

/* USD per 1M tokens (or per request) as the table writes it: at most `dec`
 * decimals, trailing zeros trimmed. false if negative, too large or not finite. */
static bool fmt_price(double v, int dec, char out[32], bool *lossy)
{
    if (!isfinite(v) || v < 0 || v > 1e6)
        return false;
    snprintf(out, 32, "%.*f", dec, v);
    double back = strtod(out, NULL);
    *lossy = fabs(back - v) > 1e-9 * (v > 1 ? v : 1);
    char *dot = strchr(out, '.');
    if (dot) {
        size_t n = strlen(out);
        while (n > 0 && out[n - 1] == '0')
            out[--n] = '\0';
        if (n > 0 && out[n - 1] == '.')
            out[--n] = '\0';
    }
    return true;
}

static void set_price(ctx *c, prow *r, int col, double v, int dec, const char *who,
                      const char *field)
{
    bool lossy = false;
    if (!fmt_price(v, dec, r->cell[col], &lossy)) {
        report(c, "%s: %s: %g is not a price the table accepts (0 to 1,000,000); left empty", who,
               field, v);
        r->cell[col][0] = '\0';
    } else if (lossy) {
        report(c, "%s: %s: %.12g rounded to %s (the table keeps %d decimals)", who, field, v,
               r->cell[col], dec);
    }
}

static bool valid_model(const char *m)
{
    if (!*m || strlen(m) > 255)
        return false;
    for (const char *p = m; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '*')
            return false;
    return true;
}

static void note_provider(ctx *c, const char *prov)
{
    for (size_t i = 0; i < c->nprovs; i++)
        if (!strcmp(c->provs[i], prov))
            return;
    if (!push(&c->provs, &c->nprovs, &c->capprovs, strdup(prov)))
        c->oom = true;
}

/* Write one row; `prefix`: the model is a starts_with rule (written with '*'). */
static void emit(ctx *c, const char *prov, const char *model, bool prefix, const prow *r,
                 const char *source)
{
    char name[300];
    snprintf(name, sizeof name, "%s%s", model, prefix ? "*" : "");
    if (!valid_model(model)) {
        report(c, "%s/%s: the name has blanks, control characters or '*'; not imported", prov,
               model);
        return;
    }
    char *k = lower_dup(prov, name);
    if (!k) {
        c->oom = true;
        return;
    }
    long at = find_key(c, k);
    if (at >= 0) {
        /* skip_tsv has it (an override), or an earlier model of this provider
         * claimed the name (the database lists it twice: first one wins). */
        if ((size_t)at < c->nskip)
            c->st->overridden++;
        free(k);
        return;
    }
    if (!push(&c->keys, &c->nkeys, &c->capkeys, k)) {
        c->oom = true;
        return;
    }
    if (fprintf(c->out, "%s\t%s", prov, name) < 0)
        c->ioerr = true;
    for (int i = 0; i < NCOL; i++)
        fprintf(c->out, "\t%s", r->cell[i]);
    if (fprintf(c->out, "\t%s\t%s%s%s\n", source, c->o->date, r->peak[0] ? "\t" : "", r->peak) < 0)
        c->ioerr = true;
    c->st->rows++;
    note_provider(c, prov);
}

/* ---- genai-prices ------------------------------------------------------- */

static const char *gp_provider(const char *id, char out[64])
{
    static const char *const map[][2] = {
        { "x-ai", "xai" },
        { "aws", "bedrock" },
        { "moonshotai", "moonshot" },
        { NULL, NULL },
    };
    for (int i = 0; map[i][0]; i++)
        if (!strcmp(id, map[i][0]))
            return map[i][1];
    size_t n = 0;
    for (; id[n] && n < 63; n++) {
        char ch = (char)tolower((unsigned char)id[n]);
        out[n] = (isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '-') ? ch : '-';
    }
    out[n] = '\0';
    return out;
}

/* Providers that host other vendors' models: written after the first-party
 * providers, so that an unknown caller finds the maker's price first. */
static bool gp_is_host(const char *id)
{
    static const char *const hosts[] = { "aws",      "azure",      "together",   "fireworks",
                                         "groq",     "openrouter", "cerebras",   "novita",
                                         "ovhcloud", "avian",      "doubleword", NULL };
    if (!strncmp(id, "huggingface", 11))
        return true;
    for (int i = 0; hosts[i]; i++)
        if (!strcmp(id, hosts[i]))
            return true;
    return false;
}

static bool rule_matches(const cJSON *m, const char *name)
{
    const cJSON *x;
    if ((x = cJSON_GetObjectItemCaseSensitive(m, "or")) && cJSON_IsArray(x)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, x) if (rule_matches(e, name)) return true;
        return false;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(m, "and")) && cJSON_IsArray(x)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, x) if (!rule_matches(e, name)) return false;
        return true;
    }
    const char *v;
    if ((v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "equals"))))
        return !strcmp(name, v);
    if ((v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "starts_with"))))
        return !strncmp(name, v, strlen(v));
    if ((v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "contains"))))
        return strstr(name, v) != NULL;
    if ((v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "ends_with")))) {
        size_t a = strlen(name), b = strlen(v);
        return a >= b && !strcmp(name + a - b, v);
    }
    return false; /* regex: not evaluated */
}

typedef struct gp_name {
    char name[256];
    bool prefix;
} gp_name;

/* Collect the names a rule can be written as; report the parts that cannot. */
static void gp_names(ctx *c, const char *who, const cJSON *m, gp_name *out, int *n, int max)
{
    const cJSON *x;
    if ((x = cJSON_GetObjectItemCaseSensitive(m, "or")) && cJSON_IsArray(x)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, x) gp_names(c, who, e, out, n, max);
        return;
    }
    if (cJSON_GetObjectItemCaseSensitive(m, "and")) {
        report(c,
               "%s: match rule 'and' cannot be expressed in the table; that part is not imported",
               who);
        return;
    }
    const cJSON *k = m ? m->child : NULL;
    if (!k || !cJSON_IsString(k)) {
        report(c, "%s: unreadable match rule; that part is not imported", who);
        return;
    }
    const char *v = k->valuestring;
    bool prefix = false;
    if (!strcmp(k->string, "equals") || !strcmp(k->string, "ends_with")) {
        if (!strcmp(k->string, "ends_with"))
            report(c, "%s: match 'ends_with %s' imported as the exact name only", who, v);
    } else if (!strcmp(k->string, "starts_with")) {
        prefix = true;
    } else if (!strcmp(k->string, "contains")) {
        report(c,
               "%s: match 'contains %s' imported as the exact name only (the table matches exact "
               "names and prefixes)",
               who, v);
    } else {
        report(c, "%s: match '%s %s' cannot be expressed in the table; not imported", who,
               k->string, v);
        return;
    }
    if (*n < max && strlen(v) < sizeof out[0].name) {
        snprintf(out[*n].name, sizeof out[0].name, "%s", v);
        out[*n].prefix = prefix;
        (*n)++;
    }
}

/* One price key of genai-prices: a number, or {base, tiers:[{start, price}]}. */
static void gp_price(ctx *c, const char *who, const char *key, const cJSON *v, prow *r, int col,
                     int col_long, double *thresh)
{
    if (cJSON_IsNumber(v)) {
        set_price(c, r, col, v->valuedouble, 6, who, key);
        return;
    }
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(v, "base");
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(v, "tiers");
    if (!cJSON_IsNumber(base)) {
        report(c, "%s: %s: not a number or a tiered price; left empty", who, key);
        return;
    }
    set_price(c, r, col, base->valuedouble, 6, who, key);
    int nt = cJSON_GetArraySize(tiers);
    if (nt == 0)
        return;
    const cJSON *t0 = cJSON_GetArrayItem(tiers, 0);
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(t0, "start");
    const cJSON *price = cJSON_GetObjectItemCaseSensitive(t0, "price");
    if (!cJSON_IsNumber(start) || !cJSON_IsNumber(price) || start->valuedouble < 1) {
        report(c, "%s: %s: unreadable tier; only the base price imported", who, key);
        return;
    }
    if (nt > 1)
        report(c, "%s: %s: %d tiers, the table has one; only the tier from %.0f tokens imported",
               who, key, nt, start->valuedouble);
    if (*thresh > 0 && *thresh != start->valuedouble) {
        report(c,
               "%s: %s: tier starts at %.0f, another price's at %.0f; the table has one threshold, "
               "this tier not imported",
               who, key, start->valuedouble, *thresh);
        return;
    }
    *thresh = start->valuedouble;
    if (col_long < 0) {
        /* Cache writes scale with input in the long tier (docs/PRICES.md). */
        report(c,
               "%s: %s: tier price %g not imported; the table derives the long-context cache-write "
               "price from input",
               who, key, price->valuedouble);
        return;
    }
    set_price(c, r, col_long, price->valuedouble, 6, who, key);
}

static void gp_prices(ctx *c, const char *who, const cJSON *prices, prow *r)
{
    double thresh = 0;
    const cJSON *f;
    memset(r, 0, sizeof *r);
    cJSON_ArrayForEach(f, prices)
    {
        const char *k = f->string;
        if (!strcmp(k, "input_mtok"))
            gp_price(c, who, k, f, r, C_IN, C_IN_L, &thresh);
        else if (!strcmp(k, "output_mtok"))
            gp_price(c, who, k, f, r, C_OUT, C_OUT_L, &thresh);
        else if (!strcmp(k, "cache_read_mtok"))
            gp_price(c, who, k, f, r, C_CACHED, C_CACHED_L, &thresh);
        else if (!strcmp(k, "cache_write_mtok"))
            gp_price(c, who, k, f, r, C_CW5M, -1, &thresh);
        else if (!strcmp(k, "requests_kcount")) {
            if (cJSON_IsNumber(f))
                set_price(c, r, C_REQ, f->valuedouble / 1000.0, 9, who, k);
            else
                report(c, "%s: %s: not a number; not imported", who, k);
        } else {
            report(c,
                   "%s: price '%s' has no column in the table (audio and other modalities are "
                   "priced as text); not imported",
                   who, k);
        }
    }
    if (thresh > 0)
        snprintf(r->cell[C_THRESH], sizeof r->cell[0], "%.0f", thresh);
}

/* "HH:MM:SSZ" (genai-prices' start_time/end_time) to minutes after 00:00 UTC, or -1. */
static int gp_minutes(const char *t)
{
    int h, m, sec;
    char z;
    if (!t || sscanf(t, "%2d:%2d:%2d%c", &h, &m, &sec, &z) != 4 || z != 'Z' || h > 23 || m > 59 ||
        sec)
        return -1;
    return h * 60 + m;
}

/* A time-of-day entry {constraint: {start_time, end_time}, prices} over the
 * chosen `base` prices becomes the table's `peak` column when every price in
 * it is the base price times one multiplier (with at most 3 decimals) and it
 * prices nothing the base does not: "2x daily 00:30-16:30". Otherwise it is
 * reported and the base prices stand alone. */
static void gp_peak(ctx *c, const char *who, const cJSON *con, const cJSON *tp, const cJSON *base,
                    char *peak, size_t size)
{
    const char *why = NULL;
    int from =
        gp_minutes(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(con, "start_time")));
    int to = gp_minutes(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(con, "end_time")));
    long milli = 0;
    const cJSON *ck, *k;

    cJSON_ArrayForEach(ck,
                       con) if (strcmp(ck->string, "start_time") && strcmp(ck->string, "end_time"))
        why = "it has other conditions than a daily window";
    if (!why && (from < 0 || to < 0 || from == to))
        why = "its window is not HH:MM:00Z to another HH:MM:00Z";
    if (!why && !base)
        why = "there are no unconstrained prices to scale";
    cJSON_ArrayForEach(k, tp)
    {
        const cJSON *b = base ? cJSON_GetObjectItemCaseSensitive(base, k->string) : NULL;
        if (why)
            break;
        if (!cJSON_IsNumber(k) || !cJSON_IsNumber(b) || b->valuedouble <= 0) {
            why = "one of its prices is not a plain number over a priced base";
            break;
        }
        double r = k->valuedouble / b->valuedouble * 1000.0;
        long rm = (long)(r + 0.5);
        if (rm <= 0 || r - (double)rm > 1e-6 || (double)rm - r > 1e-6 || (milli && rm != milli))
            why = "its prices are not the unconstrained ones times one multiplier";
        milli = rm;
    }
    if (!why && base)
        cJSON_ArrayForEach(k, base) if (!cJSON_GetObjectItemCaseSensitive(tp, k->string)) why =
            "it leaves a price of the unconstrained ones out";
    if (why || !milli) {
        char *s = cJSON_PrintUnformatted(con);
        report(
            c,
            "%s: prices under constraint %s (time of day) cannot be expressed in the table (%s); "
            "the unconstrained prices are used",
            who, s ? s : "?", why ? why : "no prices");
        free(s);
        return;
    }
    /* The multiplier without trailing zeros: 2x, 1.5x, 1.25x. */
    long frac = milli % 1000, fdig = 3;
    while (frac && frac % 10 == 0)
        frac /= 10, fdig--;
    int n = frac ? snprintf(peak, size, "%ld.%0*ldx daily ", milli / 1000, (int)fdig, frac)
                 : snprintf(peak, size, "%ldx daily ", milli / 1000);
    if (n < 0 || (size_t)n >= size)
        return;
    if (to == 0) /* ends at midnight */
        snprintf(peak + n, size - (size_t)n, "%02d:%02d-24:00", from / 60, from % 60);
    else if (from < to)
        snprintf(peak + n, size - (size_t)n, "%02d:%02d-%02d:%02d", from / 60, from % 60, to / 60,
                 to % 60);
    else /* across midnight: two windows */
        snprintf(peak + n, size - (size_t)n, "00:00-%02d:%02d,%02d:%02d-24:00", to / 60, to % 60,
                 from / 60, from % 60);
}

/* genai-prices `prices`: an object, or a list of {constraint?, prices}. The last
 * entry whose start_date constraint holds on as_of applies; a time-of-day entry
 * becomes the row's `peak` column where it can (gp_peak). */
static const cJSON *gp_pick(ctx *c, const char *who, const cJSON *prices, char *peak, size_t psize)
{
    const cJSON *tod_con = NULL, *tod_prices = NULL;

    peak[0] = '\0';
    if (cJSON_IsObject(prices))
        return prices;
    const cJSON *e, *pick = NULL;
    const char *as_of = c->o->as_of ? c->o->as_of : c->o->date;
    cJSON_ArrayForEach(e, prices)
    {
        const cJSON *con = cJSON_GetObjectItemCaseSensitive(e, "constraint");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "prices");
        if (!cJSON_IsObject(p))
            continue;
        if (!con) {
            pick = p;
            continue;
        }
        const char *sd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(con, "start_date"));
        const cJSON *ck;
        bool other = false;
        cJSON_ArrayForEach(ck, con) if (strcmp(ck->string, "start_date")) other = true;
        if (other) {
            if (tod_con) {
                char *s = cJSON_PrintUnformatted(con);
                report(c, "%s: a second time-of-day constraint %s; not imported", who, s ? s : "?");
                free(s);
            } else {
                tod_con = con;
                tod_prices = p;
            }
            continue;
        }
        if (sd && strncmp(sd, as_of, 10) <= 0)
            pick = p;
    }
    if (tod_con)
        gp_peak(c, who, tod_con, tod_prices, pick, peak, psize);
    return pick;
}

static int gp_convert(ctx *c, const cJSON *root)
{
    c->st->format = PIMP_GENAI_PRICES;
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *pv;
        cJSON_ArrayForEach(pv, root)
        {
            const char *pid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pv, "id"));
            const cJSON *models = cJSON_GetObjectItemCaseSensitive(pv, "models");
            if (!pid || !cJSON_IsArray(models)) {
                report(c, "%s: a provider without id or models; skipped", c->dbname);
                continue;
            }
            if (gp_is_host(pid) != (pass == 1))
                continue;
            const cJSON *pf;
            cJSON_ArrayForEach(pf, pv)
            {
                /* What identifies a provider's API traffic is genai-prices' own
                 * business (hcshim detects providers by host): known, ignored. */
                static const char *const known[] = {
                    "id",          "name",           "pricing_urls",
                    "api_pattern", "model_match",    "provider_match",
                    "extractors",  "price_comments", "fallback_model_providers",
                    "models",      "description",    NULL
                };
                int i;
                for (i = 0; known[i] && strcmp(known[i], pf->string); i++)
                    ;
                if (!known[i])
                    report(c, "%s: unknown provider field '%s'; ignored", pid, pf->string);
            }
            const cJSON *fb = cJSON_GetObjectItemCaseSensitive(pv, "fallback_model_providers");
            if (fb) {
                /* common/pricing.c has these built in; anything else cannot be expressed. */
                static const char *const builtin[] = { "azure:openai", "azure:anthropic",
                                                       "google:anthropic", NULL };
                const cJSON *f;
                cJSON_ArrayForEach(f, fb)
                {
                    char pair[160];
                    int i;
                    snprintf(pair, sizeof pair, "%s:%s", pid,
                             cJSON_GetStringValue(f) ? f->valuestring : "?");
                    for (i = 0; builtin[i] && strcmp(builtin[i], pair); i++)
                        ;
                    if (!builtin[i])
                        report(c,
                               "%s: fallback_model_providers '%s' is not one the table's lookup "
                               "knows; not imported",
                               pid, cJSON_GetStringValue(f) ? f->valuestring : "?");
                }
            }
            char pbuf[64], src[512];
            const char *prov = gp_provider(pid, pbuf);
            const char *url = cJSON_GetStringValue(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pv, "pricing_urls"), 0));
            if (c->o->source) /* a URL of the data file: the provider's entry in it */
                snprintf(src, sizeof src, "%s#%s", c->o->source, pid);
            else
                snprintf(src, sizeof src, "genai-prices data.json%s%s", url ? " citing " : "",
                         url ? url : "");
            for (char *q = src; *q; q++)
                if (*q == '\t' || *q == '\n')
                    *q = ' ';
            const cJSON *m;
            cJSON_ArrayForEach(m, models)
            {
                const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "id"));
                const cJSON *match = cJSON_GetObjectItemCaseSensitive(m, "match");
                const cJSON *prices = cJSON_GetObjectItemCaseSensitive(m, "prices");
                char who[400];
                snprintf(who, sizeof who, "%s/%s", pid, id ? id : "?");
                c->st->models++;
                if (!id || !match || !prices) {
                    report(c, "%s: model without id, match or prices; skipped", who);
                    continue;
                }
                const cJSON *f;
                cJSON_ArrayForEach(f, m)
                {
                    static const char *const known[] = {
                        "id",     "name",           "description",    "match",
                        "prices", "context_window", "price_comments", "deprecated",
                        NULL
                    };
                    int i;
                    for (i = 0; known[i] && strcmp(known[i], f->string); i++)
                        ;
                    if (!known[i])
                        report(c, "%s: unknown field '%s'; ignored", who, f->string);
                }
                char peak[sizeof((prow *)0)->peak];
                const cJSON *pick = gp_pick(c, who, prices, peak, sizeof peak);
                if (!pick) {
                    report(c, "%s: no prices apply on %s; skipped", who,
                           c->o->as_of ? c->o->as_of : c->o->date);
                    continue;
                }
                prow r;
                gp_prices(c, who, pick, &r);
                memcpy(r.peak, peak, sizeof r.peak);
                if (!pick->child) {
                    /* An empty price object: genai-prices' way of saying free. */
                    strcpy(r.cell[C_IN], "0");
                    strcpy(r.cell[C_OUT], "0");
                }
                if (!r.cell[C_IN][0]) {
                    report(c, "%s: no input price (the table requires one); skipped", who);
                    continue;
                }
                gp_name names[64];
                int n = 0;
                if (rule_matches(match, id))
                    snprintf(names[n].name, sizeof names[0].name, "%s", id),
                        names[n++].prefix = false;
                gp_names(c, who, match, names, &n, 64);
                for (int i = 0; i < n; i++)
                    emit(c, prov, names[i].name, names[i].prefix, &r, src);
            }
        }
    }
    return 0;
}

/* ---- LiteLLM -------------------------------------------------------------- */

static const char *ll_provider(const char *lp, char out[64])
{
    static const char *const map[][2] = {
        { "gemini", "google" },
        { "vertex_ai", "vertex" },
        { "bedrock", "bedrock" },
        { "bedrock_converse", "bedrock" },
        { "together_ai", "together" },
        { "fireworks_ai", "fireworks" },
        { "cohere_chat", "cohere" },
        { "text-completion-openai", "openai" },
        { "azure_ai", "azure" },
        { "azure", "azure" },
        { "anthropic", "anthropic" },
        { "openai", "openai" },
        { NULL, NULL },
    };
    if (!strncmp(lp, "vertex_ai", 9))
        return "vertex";
    for (int i = 0; map[i][0]; i++)
        if (!strcmp(lp, map[i][0]))
            return map[i][1];
    size_t n = 0;
    for (; lp[n] && n < 63; n++) {
        char ch = (char)tolower((unsigned char)lp[n]);
        out[n] = (isalnum((unsigned char)ch) || ch == '.' || ch == '-') ? ch : '-';
    }
    out[n] = '\0';
    return out;
}

static bool ll_metadata(const char *k)
{
    static const char *const meta[] = { "litellm_provider",
                                        "mode",
                                        "max_tokens",
                                        "max_input_tokens",
                                        "max_output_tokens",
                                        "source",
                                        "deprecation_date",
                                        "metadata",
                                        "tool_use_system_prompt_tokens",
                                        "output_vector_size",
                                        "comment",
                                        "supported_endpoints",
                                        "supported_modalities",
                                        "supported_output_modalities",
                                        "supported_regions",
                                        NULL };
    if (!strncmp(k, "supports_", 9))
        return true;
    for (int i = 0; meta[i]; i++)
        if (!strcmp(k, meta[i]))
            return true;
    return false;
}

/* "input_cost_per_token_above_200k_tokens" -> 200000; 0 if not that shape. */
static long ll_above(const char *k, const char *stem)
{
    size_t n = strlen(stem);
    if (strncmp(k, stem, n) || strncmp(k + n, "_above_", 7))
        return 0;
    char *e;
    long v = strtol(k + n + 7, &e, 10);
    if (v <= 0 || strcmp(e, "k_tokens"))
        return 0;
    return v * 1000;
}

/* LiteLLM's file has thousands of models sharing a few dozen keys: a key
 * the table cannot use is reported once, with how many models have it. */
typedef struct ll_unknown {
    char key[96], why[64], example[160];
    size_t count;
} ll_unknown;

static void ll_note(ctx *c, ll_unknown *u, size_t *n, size_t max, const char *key, const char *why,
                    const char *model)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(u[i].key, key) && !strcmp(u[i].why, why)) {
            u[i].count++;
            return;
        }
    if (*n == max) { /* more distinct keys than expected: say so one by one */
        report(c, "%s: '%s': %s", model, key, why);
        return;
    }
    snprintf(u[*n].key, sizeof u[0].key, "%s", key);
    snprintf(u[*n].why, sizeof u[0].why, "%s", why);
    snprintf(u[*n].example, sizeof u[0].example, "%s", model);
    u[*n].count = 1;
    (*n)++;
}

static int ll_convert(ctx *c, const cJSON *root)
{
    ll_unknown unk[128];
    size_t nunk = 0;
    c->st->format = PIMP_LITELLM;
    const cJSON *m;
    cJSON_ArrayForEach(m, root)
    {
        const char *key = m->string;
        if (!strcmp(key, "sample_spec"))
            continue; /* the file's documentation entry */
        c->st->models++;
        if (!cJSON_IsObject(m)) {
            report(c, "%s: not an object; skipped", key);
            continue;
        }
        const char *lp =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "litellm_provider"));
        if (!lp) {
            report(c, "%s: no litellm_provider; skipped", key);
            continue;
        }
        char pbuf[64];
        const char *prov = ll_provider(lp, pbuf);
        const char *model = key;
        size_t lpn = strlen(lp);
        if (!strncmp(model, lp, lpn) && model[lpn] == '/')
            model += lpn + 1;
        prow r;
        memset(&r, 0, sizeof r);
        long thresh = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, m)
        {
            const char *k = f->string;
            if (ll_metadata(k))
                continue;
            if (!cJSON_IsNumber(f)) {
                ll_note(c, unk, &nunk, sizeof unk / sizeof unk[0], k, "not a number, not imported",
                        key);
                continue;
            }
            double v = f->valuedouble;
            int col = -1, dec = 6;
            double mul = 1e6;
            long above = 0;
            if (!strcmp(k, "input_cost_per_token"))
                col = C_IN;
            else if (!strcmp(k, "output_cost_per_token"))
                col = C_OUT;
            else if (!strcmp(k, "cache_read_input_token_cost"))
                col = C_CACHED;
            else if (!strcmp(k, "cache_creation_input_token_cost"))
                col = C_CW5M;
            else if (!strcmp(k, "cache_creation_input_token_cost_above_1hr"))
                col = C_CW1H;
            else if (!strcmp(k, "output_cost_per_reasoning_token"))
                col = C_REASON;
            else if (!strcmp(k, "input_cost_per_request"))
                col = C_REQ, dec = 9, mul = 1;
            else if ((above = ll_above(k, "input_cost_per_token")))
                col = C_IN_L;
            else if ((above = ll_above(k, "output_cost_per_token")))
                col = C_OUT_L;
            else if ((above = ll_above(k, "cache_read_input_token_cost")))
                col = C_CACHED_L;
            else if (ll_above(k, "cache_creation_input_token_cost")) {
                report(c,
                       "%s: %s not imported; the table derives the long-context cache-write price "
                       "from input",
                       key, k);
                continue;
            }
            if (col < 0) {
                ll_note(c, unk, &nunk, sizeof unk / sizeof unk[0], k,
                        strstr(k, "cost") || strstr(k, "price")
                            ? "a price with no column in the table, not imported"
                            : "unknown field, ignored",
                        key);
                continue;
            }
            if (above) {
                if (thresh && thresh != above) {
                    report(c,
                           "%s: %s: a second threshold (%ld, already %ld); the table has one, not "
                           "imported",
                           key, k, above, thresh);
                    continue;
                }
                thresh = above;
            }
            set_price(c, &r, col, v * mul, dec, key, k);
        }
        if (!r.cell[C_IN][0]) {
            report(c, "%s: no input_cost_per_token (the table requires an input price); skipped",
                   key);
            continue;
        }
        if (thresh)
            snprintf(r.cell[C_THRESH], sizeof r.cell[0], "%ld", thresh);
        char src[512];
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "source"));
        if (c->o->source)
            snprintf(src, sizeof src, "%s", c->o->source);
        else
            snprintf(src, sizeof src, "LiteLLM model_prices_and_context_window.json%s%s",
                     s ? " citing " : "", s ? s : "");
        for (char *q = src; *q; q++)
            if (*q == '\t' || *q == '\n')
                *q = ' ';
        emit(c, prov, model, false, &r, src);
    }
    for (size_t i = 0; i < nunk; i++)
        report(c, "'%s': %s (%zu model%s, e.g. %s)", unk[i].key, unk[i].why, unk[i].count,
               unk[i].count == 1 ? "" : "s", unk[i].example);
    return 0;
}

int pimp_convert(const char *text, size_t len, const char *name, const pimp_opts *o, FILE *out,
                 FILE *rep, pimp_stats *st, char *err, size_t errlen)
{
    ctx c = { .o = o, .out = out, .report = rep, .st = st, .dbname = name };
    int rc;
    memset(st, 0, sizeof *st);
    if (o->skip_tsv)
        load_skip(&c, o->skip_tsv);
    c.nskip = c.nkeys;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        snprintf(err, errlen, "%s: not valid JSON", name);
        rc = HC_EPARSE;
        goto out;
    }
    if (cJSON_IsArray(root) &&
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(root, 0), "models")) {
        rc = gp_convert(&c, root);
    } else if (cJSON_IsObject(root) && root->child && cJSON_IsObject(root->child)) {
        rc = ll_convert(&c, root);
    } else {
        snprintf(
            err, errlen,
            "%s: neither genai-prices data.json (an array of providers with models) nor LiteLLM "
            "model_prices_and_context_window.json (an object of models)",
            name);
        rc = HC_EPARSE;
    }
    st->providers = c.nprovs;
    if (!rc && c.oom) {
        snprintf(err, errlen, "%s: out of memory", name);
        rc = HC_ENOMEM;
    } else if (!rc && (c.ioerr || ferror(out))) {
        snprintf(err, errlen, "%s: cannot write the rows", name);
        rc = HC_EIO;
    }
out:
    cJSON_Delete(root);
    for (size_t i = 0; i < c.nkeys; i++)
        free(c.keys[i]);
    free(c.keys);
    for (size_t i = 0; i < c.nprovs; i++)
        free(c.provs[i]);
    free(c.provs);
    return rc;
}
