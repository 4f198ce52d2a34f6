/* main.c — hc-analyze: offline analytics over an hcshim store.
 *
 * git-style: `hc-analyze <command> [options]`; the command table below maps
 * names to the cmd_*.c files. Read commands open the store read-only and never
 * modify it; only merge, import, prune, compact and cache clear write. See
 * docs/ANALYZER.md.
 */
#include "cli.h"
#include "cmds.h"

#include <stdio.h>
#include <string.h>

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "requests", cmd_requests, "list exchanges, newest first" },
    { "show",     cmd_show,     "one exchange in full: fields, prompt, response" },
    { "report",   cmd_report,   "spend, tokens, latency, errors, cache; breakdowns and trends" },
    { "users",    cmd_users,    "per-user requests, cost, latency, errors, models" },
    { "sessions", cmd_sessions, "list sessions, or one session as a tree of steps" },
    { "audit",    cmd_audit,    "CI checks: cost, requests, error rate, p95, regression" },
    { "export",   cmd_export,   "records as JSON Lines or OpenTelemetry (OTLP/JSON)" },
    { "import",   cmd_import,   "add records from JSON Lines (the inverse of export)" },
    { "merge",    cmd_merge,    "combine stores into one (idempotent)" },
    { "prune",    cmd_prune,    "delete old records or their bodies" },
    { "compact",  cmd_compact,  "rewrite the store without free pages (deleted data gone)" },
    { "stats",    cmd_stats,    "store size, counts, schema, page usage" },
    { "prices",   cmd_prices,   "the price table and the unpriced models seen" },
    { "reprice",  cmd_reprice,  "recompute stored costs with the current price table" },
    { "html",     cmd_html,     "the dashboard as one self-contained HTML file" },
    { "serve",    cmd_serve,    "the dashboard as a live local web view" },
    { "cache",    cmd_cache,    "the response cache: entries, hit rate, savings; cache clear" },
    { "ratelimits", cmd_ratelimits, "429s, rate-limit headroom, waits, retries, policy blocks" },
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
          "Exit status: 0 ok, 1 audit failed / not found, 2 misuse or unreadable store.\n", f);
}

int main(int argc, char **argv)
{
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
