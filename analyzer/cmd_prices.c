/* cmd_prices.c — `hc-analyze prices`: the price table (common/pricing.h) and
 * the models seen in the store that it does not price. */
#include "agg.h"
#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "fmt.h"
#include "jsonw.h"
#include "pricing.h"
#include "table.h"

#include "priceimport.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: hc-analyze prices [options]\n"
    "\n"
    "The price table (embedded, plus $HC_PRICES if set), in USD per 1M tokens, and\n"
    "the unpriced models seen in the store with their request and token counts.\n"
    "--provider and --model (glob) narrow both lists; the other filters apply to\n"
    "the store.\n"
    "\n"
    "  --check FILE       validate a price file (exit 0 ok, 2 with the first problem)\n"
    "  --max-age DAYS     list the rows (of --check FILE, else of the loaded table)\n"
    "                     whose date is more than DAYS days old; exit 1 if any\n"
    "  --no-store         only the price table\n"
    "  --lookup MODEL     which row prices MODEL (with --provider P: as P names it)\n"
    "\n"
    "Importing a price database (docs/PRICES.md \"Importing\"):\n"
    "  --import FILE      genai-prices data.json or LiteLLM\n"
    "                     model_prices_and_context_window.json (detected); writes a\n"
    "                     price file, reports on stderr what it could not import\n"
    "  --out FILE         where to write it ('-': stdout); default: the file the shim\n"
    "                     and hc-analyze load when HC_PRICES is unset,\n"
    "                     $XDG_CONFIG_HOME/hcshim/prices.tsv (~/.config/hcshim/...)\n"
    "  --overrides FILE   a price file written first; its rows win over imported ones\n"
    "  --source TEXT      the rows' source column (default: the database's name and\n"
    "                     the provider's pricing page it cites)\n"
    "  --date YYYY-MM-DD  the rows' date column (default: today, UTC)\n"
    "  --as-of YYYY-MM-DD which dated price of a model applies (default: --date)\n" CLI_HELP_COMMON
        CLI_HELP_FILTERS;

enum {
    OPT_CHECK = OPT_CMD,
    OPT_NO_STORE,
    OPT_MAX_AGE,
    OPT_IMPORT,
    OPT_OUT,
    OPT_OVERRIDES,
    OPT_SOURCE,
    OPT_DATE,
    OPT_AS_OF,
    OPT_LOOKUP
};

static const cli_opt opts[] = {
    CLI_COMMON_OPTS,
    CLI_FILTER_OPTS,
    { "check", 0, true, OPT_CHECK },
    { "no-store", 0, false, OPT_NO_STORE },
    { "max-age", 0, true, OPT_MAX_AGE },
    { "import", 0, true, OPT_IMPORT },
    { "out", 0, true, OPT_OUT },
    { "overrides", 0, true, OPT_OVERRIDES },
    { "source", 0, true, OPT_SOURCE },
    { "date", 0, true, OPT_DATE },
    { "as-of", 0, true, OPT_AS_OF },
    { "lookup", 0, true, OPT_LOOKUP },
    { 0 },
};

struct import_args {
    const char *file, *out, *overrides, *source, *date, *as_of;
};

/* The whole of a regular file, NUL-terminated; NULL with errno set. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (cap - n < 65536) {
            if (cap > ((size_t)256 << 20)) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            char *nb = realloc(buf, cap ? cap * 2 : 131072);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = cap ? cap * 2 : 131072;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static bool valid_date(const char *d)
{
    int y, m, dd;
    char tail;
    return d && strlen(d) == 10 && sscanf(d, "%4d-%2d-%2d%c", &y, &m, &dd, &tail) == 3 &&
           d[4] == '-' && d[7] == '-' && m >= 1 && m <= 12 && dd >= 1 && dd <= 31;
}

static void mkdirs_for(const char *path)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    for (char *q = d + 1; *q; q++)
        if (*q == '/') {
            *q = '\0';
            mkdir(d, 0755);
            *q = '/';
        }
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* `prices --import`: the database -> a price file (docs/PRICES.md "Importing"). */
static int do_import(const struct import_args *a)
{
    char today[16], outpath[4096] = "", tmp[4200] = "", err[600] = "";
    bool to_stdout = a->out && !strcmp(a->out, "-");
    size_t len = 0, olen = 0;
    char *text = NULL, *over = NULL;
    FILE *out = NULL;
    int rc = CLI_EXIT_MISUSE;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    pimp_opts o = { .source = a->source, .date = a->date ? a->date : today, .as_of = a->as_of };

    if (!valid_date(o.date))
        return cli_misuse("--date: expected YYYY-MM-DD, got '%s'", o.date);
    if (o.as_of && !valid_date(o.as_of))
        return cli_misuse("--as-of: expected YYYY-MM-DD, got '%s'", o.as_of);
    if (o.source && (strchr(o.source, '\t') || strchr(o.source, '\n')))
        return cli_misuse("--source: must not contain a tab or a newline");
    if (!(text = read_all(a->file, &len))) {
        rc = cli_misuse("--import: cannot read '%s': %s", a->file, strerror(errno));
        goto out;
    }
    if (a->overrides) {
        if (hc_pricing_check_file(a->overrides, err, sizeof err) != 0) {
            rc = cli_misuse("--overrides: %s", err[0] ? err : a->overrides);
            goto out;
        }
        if (!(over = read_all(a->overrides, &olen))) {
            rc = cli_misuse("--overrides: cannot read '%s': %s", a->overrides, strerror(errno));
            goto out;
        }
        o.skip_tsv = over;
    }
    if (!to_stdout) {
        if (a->out)
            snprintf(outpath, sizeof outpath, "%s", a->out);
        else if (!hc_pricing_default_path(outpath, sizeof outpath)) {
            rc = cli_misuse("--import: neither XDG_CONFIG_HOME nor HOME is set; give --out FILE");
            goto out;
        } else
            mkdirs_for(outpath);
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", outpath, (long)getpid());
        if (!(out = fopen(tmp, "w"))) {
            rc = cli_misuse("--out: cannot create '%s': %s", tmp, strerror(errno));
            tmp[0] = '\0';
            goto out;
        }
    } else {
        out = stdout;
    }
    if (over) {
        fprintf(out,
                "# GENERATED by `hc-analyze prices --import %s --overrides %s`: the rows of %s\n"
                "# first, then the imported ones. Edit %s and regenerate, not this file.\n#\n",
                base_name(a->file), a->overrides, a->overrides, a->overrides);
        fputs(over, out);
        if (olen && over[olen - 1] != '\n')
            fputc('\n', out);
    } else {
        fputs("# hcshim price file, written by `hc-analyze prices --import`. Format: "
              "docs/PRICES.md.\n"
              "provider\tmodel\tinput\toutput\tcached_input\tcache_write_5m\tcache_write_"
              "1h\treasoning\t"
              "per_request\tlong_ctx_threshold\tinput_long\toutput_long\tcached_"
              "long\tsource\tdate\tpeak\n",
              out);
    }
    fprintf(out, "\n# ---- imported from %s (as of %s) by `hc-analyze prices --import` ----\n",
            a->source ? a->source : "the database", o.as_of ? o.as_of : o.date);
    pimp_stats st;
    int prc = pimp_convert(text, len, a->file, &o, out, stderr, &st, err, sizeof err);
    if (prc) {
        rc = cli_misuse("--import: %s", err);
        goto out;
    }
    if (out != stdout) {
        int bad = ferror(out) | fclose(out);
        out = NULL;
        if (bad) {
            rc = cli_misuse("--out: cannot write '%s'", tmp);
            goto out;
        }
        if (hc_pricing_check_file(tmp, err, sizeof err) != 0) {
            rc = cli_misuse("--import: the written file does not load: %s", err);
            goto out;
        }
        if (rename(tmp, outpath) != 0) {
            rc = cli_misuse("--out: cannot rename '%s' to '%s': %s", tmp, outpath, strerror(errno));
            goto out;
        }
        tmp[0] = '\0';
    } else {
        fflush(stdout);
    }
    fprintf(stderr,
            "hc-analyze: prices: %s (%s): %zu models -> %zu rows, %zu providers%s%s; "
            "%zu rows left to --overrides; %zu things not imported (listed above)\n",
            a->file, st.format == PIMP_GENAI_PRICES ? "genai-prices" : "LiteLLM", st.models,
            st.rows, st.providers, to_stdout ? "" : ", written to ", to_stdout ? "" : outpath,
            st.overridden, st.reported);
    rc = 0;
out:
    if (out && out != stdout) {
        fclose(out);
    }
    if (rc && tmp[0])
        unlink(tmp);
    free(text);
    free(over);
    return rc;
}

/* pico-USD per token is micro-USD per 1M tokens: print as exact decimal dollars. */
static const char *per_m(char out[FMT_NUM], int64_t pico)
{
    if (pico < 0) {
        snprintf(out, FMT_NUM, "-");
        return out;
    }
    int n = snprintf(out, FMT_NUM, "%" PRId64 ".%06" PRId64, pico / 1000000, pico % 1000000);
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
    return out;
}

static bool row_matches(const query_filter *f, const char *provider, const char *model)
{
    if (f->n_providers) {
        int i;
        for (i = 0; i < f->n_providers; i++)
            if (strcasecmp(f->providers[i], provider) == 0)
                break;
        if (i == f->n_providers)
            return false;
    }
    if (f->n_models) {
        int i;
        for (i = 0; i < f->n_models; i++)
            if (fnmatch(f->models[i], model, 0) == 0)
                break;
        if (i == f->n_models)
            return false;
    }
    return true;
}

struct seen {
    agg_groups g; /* key provider NUL model */
    bool oom;
};

static int on_record(void *ctx, const hc_record *r)
{
    struct seen *s = ctx;
    if (!(r->cost_flags & HC_COST_UNPRICED))
        return 0;
    hc_buf k = HC_BUF_INIT;
    hc_buf_puts(&k, r->provider);
    hc_buf_append(&k, "", 1);
    hc_buf_puts(&k, query_model_of(r));
    agg_acc *a = k.data && !hc_buf_error(&k) ? agg_group(&s->g, k.data, k.len) : NULL;
    if (!a)
        s->oom = true;
    else
        agg_acc_add(a, r);
    hc_buf_free(&k);
    return 0;
}

/* Days since the epoch of a valid YYYY-MM-DD (proleptic Gregorian). */
static long epoch_days(const char *d)
{
    int y = atoi(d), m = atoi(d + 5), dd = atoi(d + 8);
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* `prices --max-age DAYS [--check FILE]`: rows dated more than DAYS ago.
 * 0 when none, CLI_EXIT_NO when some (listed on stdout), misuse otherwise. */
static int check_age(const char *file, long max_age)
{
    char err[512] = "", today[16], upath[4096];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    long tdays = epoch_days(today);
    size_t old = 0, undated = 0, n = 0;

    if (file) {
        if (hc_pricing_check_file(file, err, sizeof err) != 0)
            return cli_misuse("%s", err[0] ? err : file);
        size_t len;
        char *text = read_all(file, &len);
        if (!text)
            return cli_misuse("--check: cannot read '%s': %s", file, strerror(errno));
        int lineno = 0;
        bool header = false;
        for (char *l = text, *e; l && *l; l = e ? e + 1 : NULL) {
            e = strchr(l, '\n');
            if (e)
                *e = '\0';
            lineno++;
            if (!*l || *l == '#' || *l == '\r')
                continue;
            if (!header) {
                header = true;
                continue;
            }
            char *f[15];
            int nf = 0;
            for (char *q = l; nf < 15; nf++) {
                f[nf] = q;
                char *t = strchr(q, '\t');
                if (!t) {
                    nf++;
                    break;
                }
                *t = '\0';
                q = t + 1;
            }
            if (nf < 15)
                continue;
            f[14][strcspn(f[14], "\r")] = '\0';
            n++;
            if (!valid_date(f[14])) {
                undated++;
                printf("%s:%d: %s %s: no date\n", file, lineno, f[0], f[1]);
            } else if (tdays - epoch_days(f[14]) > max_age) {
                old++;
                printf("%s:%d: %s %s: dated %s, %ld days old\n", file, lineno, f[0], f[1], f[14],
                       tdays - epoch_days(f[14]));
            }
        }
        free(text);
    } else {
        const char *uf = hc_pricing_user_file(upath, sizeof upath);
        if (hc_pricing_init(uf, err, sizeof err) != 0 && err[0])
            cli_warn("%s: %s (the embedded table is used)", uf ? uf : "prices", err);
        for (size_t i = 0; i < hc_pricing_count(); i++) {
            const hc_price *p = hc_pricing_at(i);
            n++;
            const char *where = p->user ? (uf ? uf : "user file") : "data/prices.tsv";
            if (!valid_date(p->date)) {
                undated++;
                printf("%s:%d: %s %s: no date\n", where, p->line, p->provider, p->model);
            } else if (tdays - epoch_days(p->date) > max_age) {
                old++;
                printf("%s:%d: %s %s: dated %s, %ld days old\n", where, p->line, p->provider,
                       p->model, p->date, tdays - epoch_days(p->date));
            }
        }
    }
    fprintf(stderr,
            "hc-analyze: prices: %zu of %zu rows older than %ld days, %zu undated (today is %s)\n",
            old, n, max_age, undated, today);
    return old || undated ? CLI_EXIT_NO : 0;
}

struct args {
    const char *check, *lookup;
    bool no_store;
    long max_age;
    struct import_args imp;
};

static int own(void *self, int id, const char *arg)
{
    struct args *a = self;
    if (id == OPT_CHECK)
        a->check = arg;
    else if (id == OPT_NO_STORE)
        a->no_store = true;
    else if (id == OPT_IMPORT)
        a->imp.file = arg;
    else if (id == OPT_OUT)
        a->imp.out = arg;
    else if (id == OPT_OVERRIDES)
        a->imp.overrides = arg;
    else if (id == OPT_SOURCE)
        a->imp.source = arg;
    else if (id == OPT_DATE)
        a->imp.date = arg;
    else if (id == OPT_AS_OF)
        a->imp.as_of = arg;
    else if (id == OPT_LOOKUP)
        a->lookup = arg;
    else if (id == OPT_MAX_AGE) {
        char *e;
        errno = 0;
        long v = strtol(arg, &e, 10);
        if (!*arg || *e || errno || v < 0 || v > 100000)
            return cli_misuse("--max-age: expected a number of days (0 to 100000), got '%s'", arg);
        a->max_age = v;
    } else
        return 1;
    return 0;
}

static const cli_cmd cmd = { usage, opts, own };

int cmd_prices(int argc, char **argv)
{
    ana_ctx c = { .cmd = "prices" };
    struct args args = { .max_age = -1 };
    const char *store = NULL; /* the store read for unpriced models, if any */
    struct seen seen = { 0 };
    size_t *order = NULL;
    agg_groups_init(&seen.g, 0);
    cli_scan sc = { .on_record = on_record, .self = &seen };

    int rc = cli_parse(&c, &cmd, argc, argv, &args);
    if (rc || c.help)
        goto out;
    char err[512] = "";
    if (!args.imp.file && (args.imp.out || args.imp.overrides || args.imp.source || args.imp.date ||
                           args.imp.as_of)) {
        rc = cli_misuse(
            "prices: --out, --overrides, --source, --date and --as-of go with --import FILE");
        goto out;
    }
    if (args.imp.file) {
        rc = do_import(&args.imp);
        goto out;
    }
    if (args.max_age >= 0) {
        rc = check_age(args.check, args.max_age);
        goto out;
    }
    if (args.check) {
        if (hc_pricing_check_file(args.check, err, sizeof err) != 0) {
            rc = cli_misuse("%s", err[0] ? err : args.check);
            goto out;
        }
        printf("%s: ok\n", args.check);
        rc = 0;
        goto out;
    }
    char upath[4096];
    const char *user_file = hc_pricing_user_file(upath, sizeof upath);
    if (hc_pricing_init(user_file, err, sizeof err) != 0 && err[0])
        cli_warn("%s: %s (the embedded table is used)", user_file ? user_file : "prices", err);
    if (args.lookup) {
        const char *prov = c.filter.n_providers ? c.filter.providers[0] : NULL;
        const hc_price *pr = hc_price_lookup(prov, args.lookup);
        char nb[8][FMT_NUM];
        if (!pr) {
            printf("%s%s%s: unpriced\n", prov ? prov : "", prov ? " " : "", args.lookup);
            rc = CLI_EXIT_NO;
            goto out;
        }
        printf("%s%s%s: %s %s (%s:%d)\n  in %s  out %s  cached %s  cw5m %s  cw1h %s  reasoning %s  "
               "$/1M\n",
               prov ? prov : "", prov ? " " : "", args.lookup, pr->provider, pr->model,
               pr->user ? "user file" : "data/prices.tsv", pr->line, per_m(nb[0], pr->in),
               per_m(nb[1], pr->out), per_m(nb[2], pr->cached), per_m(nb[3], pr->cw5m),
               per_m(nb[4], pr->cw1h), per_m(nb[5], pr->reasoning));
        if (pr->long_threshold > 0)
            printf("  above %lld input tokens: in %s  out %s  cached %s\n",
                   (long long)pr->long_threshold, per_m(nb[0], pr->in_long),
                   per_m(nb[1], pr->out_long), per_m(nb[2], pr->cached_long));
        if (pr->per_request_nusd)
            printf("  per request: %lld nano-USD\n", (long long)pr->per_request_nusd);
        if (pr->peak_milli) {
            char pk[96];
            printf("  peak hours (UTC): %s\n", hc_price_peak_text(pr, pk, sizeof pk));
        }
        printf("  source %s  date %s\n", pr->source, pr->date);
        rc = 0;
        goto out;
    }
    /* The store part is optional unless --db was given explicitly. */
    if (!args.no_store) {
        char path[4096], serr[4352];
        hc_store *probe = NULL;
        ana_ctx dc = c;
        if (!c.db && cli_store_path(&c, path, sizeof path) == 0 &&
            hc_store_open(path, HC_STORE_RDONLY, &probe, serr, sizeof serr) == 0) {
            hc_store_close(probe); /* the default store is there and readable */
            dc.db = path;
        }
        if (dc.db) {
            if ((rc = cli_scan_run(&dc, &sc)))
                goto out;
            store = sc.path;
            if (seen.oom) {
                rc = cli_misuse("%s: %s", store, "out of memory");
                goto out;
            }
        }
    }
    order = malloc((seen.g.n + 1) * sizeof *order);
    if (!order) {
        rc = cli_misuse("prices: out of memory");
        goto out;
    }
    /* Most requests first. */
    agg_groups_order(&seen.g, order);

    size_t nrows = hc_pricing_count();
    char b[8][FMT_NUM];
    if (c.fmt == CLI_JSON) {
        jw w;
        jw_init(&w, stdout, true);
        jw_obj(&w);
        jw_key(&w, "prices");
        jw_arr(&w);
        for (size_t i = 0; i < nrows; i++) {
            const hc_price *pr = hc_pricing_at(i);
            if (!pr || !row_matches(&c.filter, pr->provider, pr->model))
                continue;
            jw_obj(&w);
            jw_kstr(&w, "provider", pr->provider);
            jw_kstr(&w, "model", pr->model);
            jw_kint(&w, "in_pusd", pr->in);
            jw_kint(&w, "out_pusd", pr->out);
            jw_kint(&w, "cached_pusd", pr->cached);
            jw_kint(&w, "cw5m_pusd", pr->cw5m);
            jw_kint(&w, "cw1h_pusd", pr->cw1h);
            jw_kint(&w, "reasoning_pusd", pr->reasoning);
            jw_kint(&w, "per_request_nusd", pr->per_request_nusd);
            jw_kstr(&w, "source", pr->source);
            jw_kstr(&w, "date", pr->date);
            jw_kbool(&w, "user", pr->user != 0);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_key(&w, "unpriced");
        jw_arr(&w);
        for (size_t i = 0; i < seen.g.n; i++) {
            const agg_acc *a = &seen.g.accs[order[i]];
            const char *prov = seen.g.keys[order[i]], *model = prov + strlen(prov) + 1;
            if (!row_matches(&c.filter, prov, model))
                continue;
            jw_obj(&w);
            jw_kstr(&w, "provider", prov);
            jw_kstr(&w, "model", model);
            jw_kuint(&w, "requests", a->requests);
            jw_kint(&w, "tok_in", a->tok_in);
            jw_kint(&w, "tok_out", a->tok_out);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_obj_end(&w);
        jw_end_doc(&w);
    } else {
        static const table_col cols[] = {
            { "PROVIDER", "provider", 0 },
            { "MODEL", "model", TBL_SHRINK },
            { "IN $/1M", "in_usd_per_1m", TBL_RIGHT },
            { "OUT", "out_usd_per_1m", TBL_RIGHT },
            { "CACHED", "cached_usd_per_1m", TBL_RIGHT },
            { "CW 5M", "cw5m_usd_per_1m", TBL_RIGHT },
            { "CW 1H", "cw1h_usd_per_1m", TBL_RIGHT },
            { "REASONING", "reasoning_usd_per_1m", TBL_RIGHT | TBL_DROP },
            { "SOURCE", "source", TBL_SHRINK | TBL_DROP },
            { "DATE", "date", TBL_DROP },
        };
        static const table_col ucols[] = {
            { "PROVIDER", "provider", 0 },         { "UNPRICED MODEL", "model", TBL_SHRINK },
            { "REQUESTS", "requests", TBL_RIGHT }, { "IN", "tok_in", TBL_RIGHT },
            { "OUT", "tok_out", TBL_RIGHT },
        };
        bool csv = c.fmt == CLI_CSV;
        /* CSV is one table: the unpriced models when a store was read, else
         * (--no-store, or no default store) the price table. */
        table *t = NULL;
        if (!csv || !store) {
            t = table_new(stdout, c.fmt, cols, sizeof cols / sizeof cols[0]);
            for (size_t i = 0; i < nrows; i++) {
                const hc_price *pr = hc_pricing_at(i);
                if (!pr || !row_matches(&c.filter, pr->provider, pr->model))
                    continue;
                table_cell(t, pr->provider);
                table_cell(t, pr->model);
                table_cell(t, per_m(b[0], pr->in));
                table_cell(t, per_m(b[1], pr->out));
                table_cell(t, per_m(b[2], pr->cached));
                table_cell(t, per_m(b[3], pr->cw5m));
                table_cell(t, per_m(b[4], pr->cw1h));
                table_cell(t, per_m(b[5], pr->reasoning));
                table_cell(t, pr->source);
                table_cell(t, pr->date);
            }
            table_end(t);
        }
        if (store) {
            if (!csv)
                table_textf(stdout, 2, "\nUnpriced models seen in %s\n", store);
            t = table_new(stdout, c.fmt, ucols, sizeof ucols / sizeof ucols[0]);
            for (size_t i = 0; i < seen.g.n; i++) {
                const agg_acc *a = &seen.g.accs[order[i]];
                const char *prov = seen.g.keys[order[i]], *model = prov + strlen(prov) + 1;
                if (!row_matches(&c.filter, prov, model))
                    continue;
                table_cell(t, prov);
                table_cell(t, model);
                snprintf(b[0], FMT_NUM, "%" PRIu64, a->requests);
                table_cell2(t, fmt_int(b[1], (int64_t)a->requests), b[0]);
                snprintf(b[0], FMT_NUM, "%" PRId64, a->tok_in);
                table_cell2(t, fmt_int(b[1], a->tok_in), b[0]);
                snprintf(b[0], FMT_NUM, "%" PRId64, a->tok_out);
                table_cell2(t, fmt_int(b[1], a->tok_out), b[0]);
            }
            table_end(t);
            if (!csv && seen.g.n == 0)
                table_textf(stdout, 2, "(none)\n");
        }
    }
    rc = 0;
out:
    free(order);
    agg_groups_free(&seen.g);
    query_filter_free(&c.filter);
    return rc;
}
