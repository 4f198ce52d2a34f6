/* cli.c — option parsing and shared command plumbing (see cli.h). */
#include "cli.h"
#include "clock.h"
#include "err.h"
#include "pricing.h"
#include "reprice.h"
#include "source_ch.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_init(cli_parser *p, int argc, char **argv, const char *cmd)
{
    p->argc = argc;
    p->argv = argv;
    p->i = 1;
    p->no_more_opts = false;
    p->cmd = cmd;
}

int cli_misuse(const char *fmt, ...)
{
    va_list ap;
    fputs("hc-analyze: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_MISUSE;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    fputs("hc-analyze: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_next(cli_parser *p, const cli_opt *opts, const char **arg)
{
    *arg = NULL;
    if (p->i >= p->argc)
        return CLI_END;
    char *a = p->argv[p->i++];
    if (p->no_more_opts || a[0] != '-' || a[1] == '\0') {
        *arg = a;
        return CLI_POS;
    }
    if (strcmp(a, "--") == 0) {
        p->no_more_opts = true;
        return cli_next(p, opts, arg);
    }
    const cli_opt *o = NULL;
    const char *inline_val = NULL;
    if (a[1] == '-') {
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        for (const cli_opt *q = opts; q->name; q++)
            if (strlen(q->name) == nl && strncmp(q->name, name, nl) == 0) {
                o = q;
                break;
            }
        if (o && eq) {
            if (!o->has_arg) {
                cli_misuse("%s: option '--%s' takes no value", p->cmd, o->name);
                return CLI_ERR;
            }
            inline_val = eq + 1;
        }
    } else if (a[2] == '\0') {
        for (const cli_opt *q = opts; q->name; q++)
            if (q->short_name && q->short_name == a[1]) {
                o = q;
                break;
            }
    }
    if (!o) {
        cli_misuse("%s: unknown option '%s' (see 'hc-analyze %s -h')", p->cmd, a, p->cmd);
        return CLI_ERR;
    }
    if (o->has_arg) {
        if (inline_val)
            *arg = inline_val;
        else if (p->i < p->argc)
            *arg = p->argv[p->i++];
        else {
            cli_misuse("%s: option '%s' needs a value", p->cmd, a);
            return CLI_ERR;
        }
    }
    return o->id;
}

int cli_common(ana_ctx *c, int id, const char *arg)
{
    static const char *const filter_names[] = {
        [OPT_SINCE] = "since",   [OPT_UNTIL] = "until", [OPT_WHERE] = "where",
        [OPT_MODEL] = "model",   [OPT_USER] = "user",   [OPT_SESSION] = "session",
        [OPT_STATUS] = "status", [OPT_CACHE] = "cache", [OPT_PROVIDER] = "provider",
    };
    /* Contradictory output formats: refused, not "the last one wins". */
    if ((id == OPT_JSON && c->fmt == CLI_CSV) || (id == OPT_CSV && c->fmt == CLI_JSON)) {
        cli_misuse("%s: --json and --csv together: choose one output format", c->cmd);
        return CLI_ERR;
    }
    switch (id) {
    case OPT_HELP: c->help = true; return 1;
    case OPT_DB:
        if (!*arg) {
            cli_misuse("--db: expected a store directory, got ''");
            return CLI_ERR;
        }
        c->db = arg;
        return 1;
    case OPT_JSON: c->fmt = CLI_JSON; return 1;
    case OPT_CSV: c->fmt = CLI_CSV; return 1;
    case OPT_PRICES: {
        char err[512] = "";
        if (!*arg || access(arg, R_OK) != 0) {
            cli_misuse("--prices: cannot read '%s': %s", arg,
                       *arg ? strerror(errno) : "empty path");
            return CLI_ERR;
        }
        if (hc_pricing_init(arg, err, sizeof err) != 0) {
            cli_misuse("--prices: %s", err[0] ? err : arg);
            return CLI_ERR;
        }
        reprice_on_read = true;
        return 1;
    }
    case OPT_PROPERTY: {
        if (!strchr(arg, '=')) {
            if (c->property_name)
                return 0;
            cli_misuse("--property: expected NAME=VALUE (the same as --where), got '%s'", arg);
            return CLI_ERR;
        }
        char err[256];
        if (query_filter_set(&c->filter, "where", arg, hc_now_us(), err, sizeof err) != 0) {
            cli_misuse("--property: %s", err);
            return CLI_ERR;
        }
        return 1;
    }
    default: break;
    }
    if ((id >= OPT_SINCE && id <= OPT_PROVIDER) || id == OPT_RUN) {
        char err[256];
        const char *name = id == OPT_RUN ? "run" : filter_names[id];
        if (query_filter_set(&c->filter, name, arg, hc_now_us(), err, sizeof err) != 0) {
            cli_misuse("--%s: %s", name, err);
            return CLI_ERR;
        }
        return 1;
    }
    return 0;
}

int cli_store_path(const ana_ctx *c, char *out, size_t size)
{
    if (c->db) {
        if ((size_t)snprintf(out, size, "%s", c->db) >= size)
            return cli_misuse("--db: path too long");
        return 0;
    }
    if (hc_store_default_path(out, size) != 0)
        return cli_misuse("--db: no store given and no default (set HC_DB, XDG_DATA_HOME or HOME)");
    return 0;
}

/* Temporary stores filled from ClickHouse (source_ch.h), removed on close or at exit. */
static struct {
    hc_store *s;
    char dir[PATH_MAX];
} spools[8];

/* Killed by a signal (Ctrl-C, a closed pipe as in `requests … | head`):
 * remove the temporary stores first (they may hold prompts), then die of it.
 * Only unlink/rmdir on paths made beforehand: async-signal-safe. */
static char spool_files[8][3][PATH_MAX + 32];

static void spools_on_signal(int sig)
{
    for (size_t i = 0; i < sizeof spools / sizeof spools[0]; i++)
        if (spools[i].dir[0]) {
            for (int f = 0; f < 3; f++)
                unlink(spool_files[i][f]);
            rmdir(spools[i].dir);
        }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void spools_guard(size_t slot)
{
    static const char *const names[3] = { "data.mdb", "lock.mdb", "verified.memo" };
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
    for (int f = 0; f < 3; f++)
        snprintf(spool_files[slot][f], sizeof spool_files[slot][f], "%s/%s", spools[slot].dir,
                 names[f]);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            signal(sigs[i], spools_on_signal);
    }
}

static void spools_remove(void)
{
    for (size_t i = 0; i < sizeof spools / sizeof spools[0]; i++)
        if (spools[i].dir[0]) {
            source_ch_remove(spools[i].dir);
            spools[i].dir[0] = '\0';
        }
}

void cli_close_store(hc_store *s)
{
    if (!s)
        return;
    hc_store_close(s);
    for (size_t i = 0; i < sizeof spools / sizeof spools[0]; i++)
        if (spools[i].s == s && spools[i].dir[0]) {
            source_ch_remove(spools[i].dir);
            spools[i].dir[0] = '\0';
            spools[i].s = NULL;
        }
}

/* --db clickhouse://…: fill a temporary store from the server with what the
 * command's filter selects (pushed down, except for serve, whose pages filter
 * anew per request), open it like a local one, and name it by the URL. */
static int open_clickhouse(const ana_ctx *c, hc_store **s)
{
    static bool registered;
    size_t slot = sizeof spools / sizeof spools[0];
    for (size_t i = 0; i < slot; i++)
        if (!spools[i].dir[0]) {
            slot = i;
            break;
        }
    if (slot == sizeof spools / sizeof spools[0])
        return cli_misuse("--db: at most %zu ClickHouse stores open at once",
                          sizeof spools / sizeof spools[0]);
    if (!registered && atexit(spools_remove) == 0)
        registered = true;
    char label[512];
    /* The directory is made and guarded first: a Ctrl-C or a closed pipe
     * during the download removes the partial store (it may hold prompts). */
    if (source_ch_mkdir(spools[slot].dir, sizeof spools[slot].dir) != 0) {
        int e = errno;
        spools[slot].dir[0] = '\0';
        return cli_misuse("--db: cannot make a temporary store: %s", strerror(e));
    }
    spools_guard(slot);
    int rc = source_ch_fill(c->db, &c->filter, strcmp(c->cmd, "serve") != 0, spools[slot].dir,
                            sizeof spools[slot].dir, label, sizeof label);
    if (rc) {
        spools[slot].dir[0] = '\0'; /* source_ch_fill removed it */
        return rc;
    }
    uint64_t prefiltered = query_prefiltered;
    ana_ctx local = *c;
    local.db = spools[slot].dir;
    if ((rc = cli_open_store(&local, s)) != 0) {
        source_ch_remove(spools[slot].dir);
        spools[slot].dir[0] = '\0';
        return rc;
    }
    query_prefiltered = prefiltered;
    spools[slot].s = *s;
    hc_store_set_label(*s, label);
    return 0;
}

int cli_open_store(const ana_ctx *c, hc_store **s)
{
    char path[PATH_MAX], err[PATH_MAX + 256];
    *s = NULL;
    if (ch_url_is(c->db))
        return open_clickhouse(c, s);
    query_prefiltered = 0;
    if (cli_store_path(c, path, sizeof path) != 0)
        return CLI_EXIT_MISUSE;
    err[0] = '\0';
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        /* The first thing a new user meets: say what a store is and how one is made. */
        return cli_misuse(
            "%s: no store%s (nothing recorded there yet): record with 'hc-run -- CMD' "
            "(or try 'hc-mock -- CMD', no keys needed), or name the store with --db PATH",
            path, c->db ? "" : " at the default path");
    if (hc_store_open(path, HC_STORE_RDONLY, s, err, sizeof err) != 0)
        return cli_misuse("%s", err[0] ? err : path);
    return 0;
}

int cli_open_store_for_delete(const ana_ctx *c, bool dry, char *path, size_t size, hc_store **s)
{
    int rc = cli_store_path(c, path, size);
    if (rc)
        return rc;
    if (!dry)
        return cli_open_store_rw(path, false, s);
    ana_ctx ro = *c;
    ro.db = path;
    return cli_open_store(&ro, s);
}

int cli_open_store_rw(const char *path, bool create, hc_store **s)
{
    char err[PATH_MAX + 256], data[PATH_MAX + 16];
    struct stat st;
    *s = NULL;
    snprintf(data, sizeof data, "%s/data.mdb", path);
    if (!create && stat(data, &st) != 0)
        return cli_misuse("%s: not an hcshim store (no data.mdb)", path);
    err[0] = '\0';
    if (hc_store_open(path, 0, s, err, sizeof err) != 0)
        return cli_misuse("%s", err[0] ? err : path);
    return 0;
}

int cli_parse_u64(const char *opt, const char *arg, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!isdigit((unsigned char)*arg) || *end || errno)
        return cli_misuse("%s: expected a non-negative integer, got '%s'", opt, arg);
    *out = v;
    return 0;
}

int cli_parse_usd(const char *opt, const char *arg, long long *nusd)
{
    const char *p = arg;
    if (*p == '$')
        p++;
    /* Parsed digit by digit so that "0.000000001" is exactly 1 nano-USD. */
    long long whole = 0, frac = 0;
    int fd = 0;
    const char *q = p;
    while (isdigit((unsigned char)*q)) {
        if (whole > 1000000000LL)
            goto bad;
        whole = whole * 10 + (*q++ - '0');
    }
    if (*q == '.') {
        q++;
        while (isdigit((unsigned char)*q)) {
            if (fd < 9) {
                frac = frac * 10 + (*q - '0');
                fd++;
            } else if (*q != '0') {
                goto bad; /* finer than a nano-dollar */
            }
            q++;
        }
    }
    if (q == p || *q || (q == p + 1 && *p == '.'))
        goto bad;
    while (fd < 9) {
        frac *= 10;
        fd++;
    }
    *nusd = whole * 1000000000LL + frac;
    return 0;
bad:
    return cli_misuse("%s: expected an amount in US dollars like 2.50, got '%s'", opt, arg);
}

int cli_parse_rate(const char *opt, const char *arg, double max_fraction, double *out)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || !(isdigit((unsigned char)*arg) || *arg == '.') || !isfinite(v) || v < 0)
        goto bad;
    bool pct = *end == '%' && end[1] == '\0';
    if (!pct && *end)
        goto bad;
    if ((pct ? v / 100.0 : v) > max_fraction)
        return cli_misuse("%s: expected a rate from 0%% to %g%% (0 to %g), got '%s'", opt,
                          max_fraction * 100, max_fraction, arg);
    *out = pct ? v / 100.0 : v;
    return 0;
bad:
    return cli_misuse("%s: expected a rate like 5%% or 0.05, got '%s'", opt, arg);
}

void cli_report_undecodable(const query_stats *st)
{
    if (st->undecodable)
        cli_warn("%llu record%s could not be decoded (corrupt or written by a newer hcshim) and %s "
                 "skipped",
                 (unsigned long long)st->undecodable, st->undecodable == 1 ? "" : "s",
                 st->undecodable == 1 ? "was" : "were");
    if (st->run_none)
        cli_warn("--run last: no record in this store has a run id (none recorded yet, or all "
                 "recorded before runs existed); nothing matched");
}

int cli_parse(ana_ctx *c, const cli_cmd *cmd, int argc, char **argv, void *self)
{
    cli_parser p;
    const char *arg;
    int id;
    cli_init(&p, argc, argv, c->cmd);
    while ((id = cli_next(&p, cmd->opts, &arg)) != CLI_END) {
        if (id == CLI_ERR)
            return CLI_EXIT_MISUSE;
        int h = cli_common(c, id, arg);
        if (h < 0)
            return CLI_EXIT_MISUSE;
        int mine = cmd->own ? cmd->own(self, id, arg) : 1;
        if (mine > 1)
            return mine;
        if (!h && mine == 1 && id == CLI_POS)
            return cli_misuse("%s: unexpected argument '%s'", c->cmd, arg);
    }
    if (c->help)
        fputs(cmd->usage, stdout);
    return 0;
}

int cli_scan_run(const ana_ctx *c, cli_scan *sc)
{
    hc_store *s = NULL;
    int rc = cli_open_store(c, &s);
    if (rc)
        return rc;
    snprintf(sc->path, sizeof sc->path, "%s", hc_store_path(s));
    if (hc_store_txn_begin(s, false, &sc->txn)) {
        rc = cli_misuse("%s: cannot start a read transaction", sc->path);
        goto out;
    }
    sc->s = s;
    if (sc->begin && (rc = sc->begin(sc->self, sc)) != 0)
        goto out_txn;
    sc->begun = true;
    if (query_scan(sc->txn, hc_store_dbi(s, HC_T_RECORDS), &c->filter, sc->newest_first,
                   sc->on_record, sc->self, &sc->st))
        rc = cli_misuse("%s: reading records failed", sc->path);
    else if (sc->after)
        rc = sc->after(sc->self, sc);
    if (!sc->quiet)
        cli_report_undecodable(&sc->st);
out_txn:
    hc_store_txn_abort(s, sc->txn);
out:
    sc->s = NULL;
    sc->txn = NULL;
    cli_close_store(s);
    return rc;
}
