/* hc-config-check — check HC_* settings with the core's own parsers.
 *
 *   hc-config-check [NAME...]
 *
 * scripts/hc-run runs this before it starts the program, so that an option
 * the shim would refuse (`--retry-factor 99`, `--budget 5/year`) is reported
 * at once, naming the option's variable, instead of at the program's first
 * LLM connection (or never, when it makes none). There is one grammar: the
 * settings are read by hc_config_load() and hc_budgets_parse(), exactly as in
 * the gateway, HC_PRICES by hc_pricing_init(), and HC_HOSTS / HC_ROUTE also
 * by the hooks' own parser (shim/hosts.c, hc_hosts_init()); their warnings
 * are what this prints.
 *
 * With NAMEs, only those HC_* variables are checked (every other HC_* one is
 * removed from this process's environment first): hc-run passes the
 * variables its options set, so a setting inherited from the caller's
 * environment keeps its fail-open treatment. HC_LOG is always ignored: the
 * messages go to stderr.
 *
 * Exit status: 0 every setting parses; 2 one or more do not (each reported
 * once on stderr as "hcshim[PID]: HC_X=VALUE: expected …").
 */
#include "budget.h"
#include "config.h"
#include "log.h"
#include "pricing.h"
#include "shim/hosts.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Remove every HC_* variable not named in keep[0..n-1]. */
static void keep_only(char **keep, int n)
{
    for (char **e = environ; e && *e;) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        bool drop = strncmp(*e, "HC_", 3) == 0;
        for (int i = 0; drop && i < n; i++)
            if (strlen(keep[i]) == len && strncmp(keep[i], *e, len) == 0)
                drop = false;
        if (!drop) {
            e++;
            continue;
        }
        char name[256];
        if (len >= sizeof name) {
            e++;
            continue;
        }
        memcpy(name, *e, len);
        name[len] = '\0';
        unsetenv(name); /* shifts environ down: look at *e again */
    }
}

int main(int argc, char **argv)
{
    unsetenv("HC_LOG");
    if (argc > 1)
        keep_only(argv + 1, argc - 1);
    hc_hosts_init(); /* the hooks' reading of HC_HOSTS and HC_ROUTE */
    hc_config cfg;
    hc_config_load(&cfg);
    bool bad = hc_log_warned() > 0;
    if (cfg.budget) {
        hc_budget b[HC_MAX_BUDGETS];
        int n = 0;
        char err[512];
        if (hc_budgets_parse(cfg.budget, b, HC_MAX_BUDGETS, &n, err, sizeof err) != 0) {
            hc_log_error("HC_BUDGET=%s: %s", cfg.budget, err);
            bad = true;
        }
    }
    const char *prices = getenv("HC_PRICES");
    if (prices && *prices) {
        char err[512];
        if (hc_pricing_init(prices, err, sizeof err) != 0) {
            hc_log_error("HC_PRICES: %s", err);
            bad = true;
        }
    }
    hc_config_free(&cfg);
    return bad ? 2 : 0;
}
