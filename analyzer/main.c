/* main.c — hc-analyze: offline analytics over an hcshim store.
 *
 * git-style: `hc-analyze <command> [options]`; the command table below maps
 * names to the cmd_*.c files. Read commands open the store read-only and never
 * modify it; only merge, import, prune, compact and cache clear write. See
 * docs/ANALYZER.md.
 */
#include "cli.h"
#include "cmds.h"
#include "store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "requests", cmd_requests, "list exchanges, newest first" },
    { "show", cmd_show, "one exchange in full: fields, prompt, response" },
    { "report", cmd_report, "spend, tokens, latency, errors, cache; breakdowns and trends" },
    { "users", cmd_users, "per-user requests, cost, latency, errors, models" },
    { "sessions", cmd_sessions, "list sessions, or one session as a tree of steps" },
    { "audit", cmd_audit, "CI checks: cost, requests, error rate, p95, regression" },
    { "export", cmd_export, "records as JSON Lines or OpenTelemetry (OTLP/JSON)" },
    { "import", cmd_import, "add records from JSON Lines (the inverse of export)" },
    { "merge", cmd_merge, "combine stores into one (idempotent)" },
    { "prune", cmd_prune, "delete old records or their bodies" },
    { "compact", cmd_compact, "rewrite the store without free pages (deleted data gone)" },
    { "stats", cmd_stats, "store size, counts, schema, page usage" },
    { "check", cmd_check, "verify the store page by page; say what is damaged where" },
    { "salvage", cmd_salvage, "copy every record still readable into a new store" },
    { "prices", cmd_prices, "the price table and the unpriced models seen" },
    { "reprice", cmd_reprice, "recompute stored costs with the current price table" },
    { "html", cmd_html, "the dashboard as one self-contained HTML file" },
    { "serve", cmd_serve, "the dashboard as a live local web view" },
    { "cache", cmd_cache, "the response cache: entries, hit rate, savings; cache clear" },
    { "ratelimits", cmd_ratelimits, "429s, rate-limit headroom, waits, retries, policy blocks" },
    { "ship", cmd_ship, "send records to ClickHouse (a fleet's records in one place)" },
    { "cassette", cmd_cassette, "HC_REPLAY cassettes: list, filter, merge, prune" },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fputs("usage: hc-analyze <command> [options]\n\nCommands:\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\nEvery command takes -h; every command but merge (which names its stores as\n"
          "arguments) takes --db PATH; every command takes --json and --csv except html,\n"
          "which refuses --csv (it writes a page; --json gives its data), and serve,\n"
          "which refuses both (it runs a web server; its /api/ endpoints answer JSON).\n"
          "See 'hc-analyze <command> -h'.\n"
          "Exit status: 0 ok, 1 audit failed / not found, 2 misuse or unreadable store.\n",
          f);
}

/* Last line of defence against a damaged store (common/store.c DESIGN):
 * every store is verified page by page before LMDB maps it, but a file
 * truncated or overwritten by someone else while we read it can still fault
 * inside LMDB (SIGBUS, SIGSEGV) or trip its assertions (abort). hc-analyze
 * is our own process, so it may die — but with a line naming the store and
 * exit 2, like every other unreadable store, never a signal. Async-signal-
 * safe: write(2) and _exit only. */
static void say(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

static void fatal_signal(int sig)
{
    const char *store = hc_store_last_opened();
    say("hc-analyze: ");
    say(store[0] ? store : "the store");
    say(sig == SIGBUS ? ": data.mdb ended under us (truncated while being read?)"
                      : ": crashed reading the store (changed while being read, or damaged)");
    say("; run 'hc-analyze check'\n");
    _exit(CLI_EXIT_MISUSE);
}

static void lmdb_assert(const char *path, const char *msg)
{
    say("hc-analyze: ");
    say(path);
    say(": damaged store (LMDB: ");
    say(msg);
    say("); run 'hc-analyze check'\n");
    _exit(CLI_EXIT_MISUSE);
}

static void install_guards(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fatal_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    hc_store_set_assert_hook(lmdb_assert);
    hc_store_set_check_mapped(
        true); /* the walk may fault only where the handler above catches it */
}

int main(int argc, char **argv)
{
    install_guards();
    if (argc < 2)
        return usage(stderr), CLI_EXIT_MISUSE;
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            char *hargv[] = { argv[2], "-h", NULL };
            for (size_t i = 0; i < NCOMMANDS; i++)
                if (strcmp(commands[i].name, argv[2]) == 0)
                    return commands[i].fn(2, hargv);
            return cli_misuse("help: unknown command '%s'", argv[2]);
        }
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) {
            int rc = commands[i].fn(argc - 1, argv + 1);
            if (fflush(stdout) != 0 || ferror(stdout))
                return rc ? rc : cli_misuse("stdout: write error");
            return rc;
        }
    return cli_misuse("unknown command '%s' (see 'hc-analyze -h')", name);
}
