/* cli.h — option parsing and the context every hc-analyze subcommand shares.
 *
 * hc-analyze is a git-style tool: `hc-analyze <command> [options] [args]`.
 * Every command accepts the common options (--db, --json, --csv, -h/--help)
 * and every command that reads records accepts the shared filters (query.h).
 *
 * Exit statuses (the same for every command):
 *   0  success
 *   1  the answer is "no": an audit check failed, `show` found no record
 *   2  misuse (bad option or argument) or an unreadable store; exactly one
 *      line "hc-analyze: <what>: <why>" is printed to stderr
 *
 * Option syntax: "--name value", "--name=value", short "-h" / "-o FILE",
 * "--" ends options. Options and positional arguments may be interleaved.
 *
 * Commands are built on one skeleton (below): cli_parse() for the options,
 * cli_scan_run() for opening the record source and scanning it with the
 * filters; a command file keeps its own options, callbacks and output.
 *
 * Not thread-safe (hc-analyze is single-threaded).
 */
#ifndef HC_ANA_CLI_H
#define HC_ANA_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "query.h"
#include "store.h"

#define CLI_EXIT_OK     0
#define CLI_EXIT_NO     1
#define CLI_EXIT_MISUSE 2

enum cli_fmt { CLI_TEXT, CLI_JSON, CLI_CSV };

/* One option a command accepts. */
typedef struct cli_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 for none */
    bool has_arg;
    int id; /* > 0, returned by cli_next() */
} cli_opt;

/* Ids of the options shared by all commands; a command numbers its own from OPT_CMD. */
enum {
    OPT_HELP = 1,
    OPT_DB,
    OPT_JSON,
    OPT_CSV,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_WHERE,
    OPT_MODEL,
    OPT_USER,
    OPT_SESSION,
    OPT_STATUS,
    OPT_CACHE,
    OPT_PROVIDER,
    OPT_PROPERTY,
    OPT_PRICES,
    OPT_CMD = 100
};

/* --run last|ID (query.h): a shared filter, numbered apart from the list above. */
enum { OPT_RUN = OPT_CMD - 1 };

/* Put these at the start of a command's option table (terminated by {0}). */
#define CLI_COMMON_OPTS \
    { "help", 'h', false, OPT_HELP }, { "db", 0, true, OPT_DB }, { "json", 0, false, OPT_JSON }, \
        { "csv", 0, false, OPT_CSV }, \
    { \
        "prices", 0, true, OPT_PRICES \
    }
#define CLI_FILTER_OPTS \
    { "since", 0, true, OPT_SINCE }, { "until", 0, true, OPT_UNTIL }, \
        { "where", 0, true, OPT_WHERE }, { "model", 0, true, OPT_MODEL }, \
        { "user", 0, true, OPT_USER }, { "session", 0, true, OPT_SESSION }, \
        { "status", 0, true, OPT_STATUS }, { "cache", 0, true, OPT_CACHE }, \
        { "provider", 0, true, OPT_PROVIDER }, { "property", 0, true, OPT_PROPERTY }, \
    { \
        "run", 0, true, OPT_RUN \
    }

/* Help text for the shared options, for commands' usage strings. */
/* The default store is hc_store_default_path()'s (common/store.c). */
#define CLI_HELP_DB \
    "  --db PATH          store directory; default: $HC_DB, else\n" \
    "                     $XDG_DATA_HOME/hcshim/store, else\n" \
    "                     ~/.local/share/hcshim/store; commands that only read\n" \
    "                     also take clickhouse://HOST:PORT/DB (docs/FLEET.md)\n"
#define CLI_HELP_COMMON \
    CLI_HELP_DB \
    "  --json             one JSON document on stdout\n" \
    "  --csv              CSV (RFC 4180) on stdout\n" \
    "  --prices FILE      costs computed from the stored tokens with the embedded\n" \
    "                     price table plus FILE (docs/PRICES.md), not the stored\n" \
    "                     costs; the store is not changed\n" \
    "  -h, --help         this help\n"
#define CLI_HELP_FILTERS \
    "Filters (all must match):\n" \
    "  --run last|ID      one run: the newest (last) or the id hc-run printed\n" \
    "  --since T, --until T   time range [since, until): 2026-11-01, 2026-11-01T10:00,\n" \
    "                         Unix seconds, or relative 7d / 24h / 30m (= now minus)\n" \
    "  --where K=V        custom property K equals V (repeatable, AND);\n" \
    "                     --property K=V is the same\n" \
    "  --model M          model requested or answered; glob (gpt-4o*) (repeatable, OR)\n" \
    "  --user U           user id          --session S    session id\n" \
    "  --status S         200 | 4xx | 5xx | error (>= 400 or no response) (repeatable, OR)\n" \
    "  --cache hit|miss   answered from the gateway cache or not\n" \
    "  --provider P       openai, anthropic, google, … (repeatable, OR)\n"

/* What every command shares. Zero-initialise, then set cmd. */
typedef struct ana_ctx {
    const char *cmd; /* the command name, for messages ("report") */
    const char *db;  /* --db, or NULL for hc_store_default_path() */
    enum cli_fmt fmt;
    bool help; /* -h was given: print usage to stdout, exit 0 */
    /* The command has its own --property NAME (html, serve: the breakdown
     * property): cli_common() applies `--property K=V` as the filter and
     * returns 0 for a value without '=', for the command to handle. Else a
     * value without '=' is misuse. (A property name cannot contain '=':
     * it comes from a Helicone-Property- header or an HC_PROPERTY_ variable.) */
    bool property_name;
    query_filter filter;
} ana_ctx;

typedef struct cli_parser {
    int argc;
    char **argv;
    int i; /* next argv index */
    bool no_more_opts;
    const char *cmd;
} cli_parser;

#define CLI_END 0
#define CLI_POS (-2) /* a positional argument, returned in *arg */
#define CLI_ERR (-1) /* misuse; one line already printed to stderr */

/* Start parsing argv[1..argc-1] (argv[0] is the command name). */
void cli_init(cli_parser *p, int argc, char **argv, const char *cmd);
/* Next option: its id (> 0) with *arg set to its value (or NULL), CLI_POS with
 * *arg = the positional argument, CLI_END when done, or CLI_ERR after printing
 * "hc-analyze: <cmd>: unknown option '--x'" or a missing-value message.
 * *arg points into argv (lives as long as argv). */
int cli_next(cli_parser *p, const cli_opt *opts, const char **arg);

/* Apply a common or filter option to c. Returns 1 if handled, 0 if the id is
 * not a shared one (the command handles it), CLI_ERR after printing a message.
 * `--property K=V` is an alias of `--where K=V` (see ana_ctx.property_name). */
int cli_common(ana_ctx *c, int id, const char *arg);

/* Print "hc-analyze: " + message + "\n" to stderr; returns CLI_EXIT_MISUSE. */
int cli_misuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "hc-analyze: warning: " + message to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open the store read-only (c->db or the default path). On failure prints one
 * line naming the store and returns CLI_EXIT_MISUSE; on success 0 and *s is
 * the caller's to hc_store_close(). */
int cli_open_store(const ana_ctx *c, hc_store **s);
/* Open the store at path for writing (merge, import, prune). With create,
 * a missing store is created; without, a missing store (no data.mdb) is an
 * error. Prints one line and returns CLI_EXIT_MISUSE on failure. */
int cli_open_store_rw(const char *path, bool create, hc_store **s);

/* The store a deleting command works on (prune, cache clear): c->db or the
 * default path into path, opened read-only for a dry run (like every read
 * command), else for writing (a missing store is an error, never created).
 * 0 or CLI_EXIT_MISUSE (printed). Close with cli_close_store(). */
int cli_open_store_for_delete(const ana_ctx *c, bool dry, char *path, size_t size, hc_store **s);
/* Close a store opened by any cli_open_store*() (NULL is fine). */
void cli_close_store(hc_store *s);

/* The path cli_open_store() uses, into out. 0 or CLI_EXIT_MISUSE (printed). */
int cli_store_path(const ana_ctx *c, char *out, size_t size);

/* Numbers given on the command line. Each returns 0, or prints
 * "hc-analyze: <opt>: expected …, got '<arg>'" and returns CLI_EXIT_MISUSE. */
int cli_parse_u64(const char *opt, const char *arg, unsigned long long *out);
/* Dollars ("2", "2.50", "$0.001") to nano-USD. */
int cli_parse_usd(const char *opt, const char *arg, long long *nusd);
/* A rate: "5%" or a fraction "0.05"; above `max_fraction` (either way) is refused. */
int cli_parse_rate(const char *opt, const char *arg, double max_fraction, double *out);

/* ---- The command skeleton -------------------------------------------------
 * A command is four steps: parse its options (cli_parse), open the record
 * source and scan the records its filters select (cli_scan_run), then emit;
 * each command file keeps only its own options, callbacks and output:
 *
 *     static const cli_cmd cmd = { usage, opts, own };
 *     ana_ctx c = { .cmd = "users" };
 *     if ((rc = cli_parse(&c, &cmd, argc, argv, &x)) || c.help) goto out;
 *     cli_scan sc = { .on_record = on_record, .self = &x };
 *     if ((rc = cli_scan_run(&c, &sc))) goto out;
 *     ... emit from x ...
 */

/* A command's own options and positional arguments (id CLI_POS), and with
 * ana_ctx.property_name `--property NAME` (id OPT_PROPERTY). Returns 0 when
 * handled, 1 when not the command's (a positional argument: cli_parse()
 * prints "<cmd>: unexpected argument 'X'"), or CLI_EXIT_MISUSE after printing
 * one line. It also sees each shared option, after cli_common() applied it
 * (export: --json after --format wins; html: the filters it shows); it
 * returns 1 for those it ignores, CLI_EXIT_MISUSE stops there too. */
typedef int (*cli_own_fn)(void *self, int id, const char *arg);

/* What cli_parse() needs of a command (a static const per command file). */
typedef struct cli_cmd {
    const char *usage;   /* printed for -h, to stdout */
    const cli_opt *opts; /* CLI_COMMON_OPTS [, CLI_FILTER_OPTS], own…, {0} */
    cli_own_fn own;      /* NULL: the command takes no options or arguments of its own */
} cli_cmd;

/* Parse argv (argv[0] is the command name) into c (shared options) and
 * cmd->own(self, …) (the rest), in order; the first error stops. With -h, and
 * no error, prints cmd->usage and sets c->help: the command then exits 0.
 * Returns 0 or CLI_EXIT_MISUSE (printed). */
int cli_parse(ana_ctx *c, const cli_cmd *cmd, int argc, char **argv, void *self);

/* One scan of the records c->filter selects, from the record source c->db
 * names. This is the one place a record source plugs in: today the local
 * store (opened read-only, one read transaction for the whole scan). Another
 * source (a ClickHouse --db) would leave s and txn NULL: the callbacks that
 * read more than records (export --bodies, cache's entries) look at them. */
typedef struct cli_scan {
    /* Set by the command (zero-initialise the rest). */
    query_cb on_record; /* each selected record; non-zero stops the scan */
    void *self;         /* passed to the callbacks */
    bool newest_first;  /* else oldest first */
    bool quiet;         /* no undecodable-record warnings: a secondary store (audit's
                            * baseline), or the command reports sc->st itself later */
    /* Optional: once the source is open, before the first record (a
     * streaming command writes its header); 0, or an exit status (printed). */
    int (*begin)(void *self, struct cli_scan *sc);
    /* Optional: after a complete scan, with the source still open (more
     * tables to read in the same snapshot); 0, or an exit status (printed). */
    int (*after)(void *self, struct cli_scan *sc);
    /* Set by cli_scan_run(). */
    hc_store *s;         /* the local store, during the callbacks only */
    MDB_txn *txn;        /* its read transaction, during the callbacks only */
    query_stats st;      /* scanned, matched, undecodable… */
    char path[PATH_MAX]; /* the source's name (store path), for messages and output */
    bool begun;          /* the source opened and begin() succeeded: the scan ran
                                    * (a streaming command then closes its output) */
} cli_scan;

/* Open the source, begin(), scan into on_record, after(), print the
 * undecodable-record warnings (cli_report_undecodable), close. Returns 0, or
 * CLI_EXIT_MISUSE after printing one line ("<store>: reading records
 * failed", an unopenable store…), or the exit status begin()/after()
 * returned. sc->st and sc->path stay valid after it returns. */
int cli_scan_run(const ana_ctx *c, cli_scan *sc);

/* The warnings every reading command prints after its scan: records that
 * could not be decoded; `--run last` in a store where no record has a run id. */
void cli_report_undecodable(const query_stats *st);

#endif
