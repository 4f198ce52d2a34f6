/* test_core_alert.c — the HC_ALERTS rule grammar (core/alert.c) and the
 * budget fraction lists (core/budget.c): every unit of every value, the
 * scopes, min=, and the errors a user sees for a bad rule. */
#include "alert.h"
#include "budget.h"
#include "ratelimit.h"
#include "err.h"
#include "store.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static hc_alert_rule r;
static char err[200];

static int parse(const char *s)
{
    err[0] = '\0';
    return hc_alert_rule_parse(s, &r, err, sizeof err);
}

static void test_metrics(void)
{
    T_EQ_INT(parse("spend>5usd/1h"), 0, "spend>5usd/1h parses");
    T_CHECK(r.metric == HC_AM_SPEND && r.threshold == 5000000000ull &&
                r.window_us == 3600000000LL && r.min == 1,
            "spend: 5 USD in nano-USD, 1 h window, min 1");
    T_EQ_INT(parse("spend>$0.25/30s"), 0, "spend>$0.25/30s parses");
    T_EQ_INT(r.threshold, 250000000, "$0.25 = 250000000 nano-USD");
    T_EQ_INT(r.window_us, 30000000, "30s window");
    T_EQ_INT(parse("cost>0.000001/1d"), 0, "cost is spend; a bare amount is USD");
    T_EQ_INT(r.threshold, 1000, "0.000001 USD = 1000 nano-USD");
    T_EQ_INT(r.window_us, 86400000000LL, "1d window");

    T_EQ_INT(parse("tokens>1M/1d"), 0, "tokens>1M/1d parses");
    T_CHECK(r.metric == HC_AM_TOKENS && r.threshold == 1000000, "1M = 1000000 tokens");
    T_EQ_INT(parse("tokens>2.5k/15m"), 0, "tokens>2.5k/15m parses");
    T_EQ_INT(r.threshold, 2500, "2.5k = 2500 tokens");

    T_EQ_INT(parse("error_rate>10%/15m,min=20"), 0, "error_rate>10%%/15m,min=20 parses");
    T_CHECK(r.metric == HC_AM_ERROR_RATE && r.threshold == 100000 && r.min == 20 &&
                r.window_us == 900000000LL,
            "10%% = 100000 ppm, min 20, 15 min");
    T_EQ_INT(parse("error_rate>0.5/1h"), 0, "a fraction is a rate too");
    T_EQ_INT(r.threshold, 500000, "0.5 = 500000 ppm");

    T_EQ_INT(parse("p95_latency>8s/10m,min=10"), 0, "p95_latency>8s/10m,min=10 parses");
    T_CHECK(r.metric == HC_AM_LATENCY && r.pct == 95 && r.threshold == 8000000 && r.min == 10,
            "p95, 8 s in µs, min 10");
    T_EQ_INT(parse("p50_latency>500ms/1m"), 0, "p50 with milliseconds");
    T_CHECK(r.pct == 50 && r.threshold == 500000, "500ms = 500000 µs");
    T_EQ_INT(parse("p99_latency>1.5m/1h"), 0, "p99 with fractional minutes");
    T_EQ_INT(r.threshold, 90000000, "1.5m = 90 s");
}

static void test_scopes(void)
{
    T_EQ_INT(parse("spend>1/1h@user"), 0, "@user parses");
    T_CHECK(r.per_user && !r.prop[0], "per user");
    T_EQ_INT(parse("spend>1/1h,min=3@property:Team"), 0, "@property:Team after min= parses");
    T_CHECK(!r.per_user && strcmp(r.prop, "Team") == 0 && !r.prop_val[0] && r.min == 3,
            "per value of Team, min 3");
    T_EQ_INT(parse("error_rate>5%/1h@property:Env=prod"), 0, "@property:Env=prod parses");
    T_CHECK(strcmp(r.prop, "Env") == 0 && strcmp(r.prop_val, "prod") == 0, "Env = prod only");
    T_EQ_STR(r.text, "error_rate>5%/1h@property:Env=prod", "the rule keeps its text as its name");
}

static void test_errors(void)
{
    T_EQ_INT(parse("bogus>3/1h"), HC_EINVAL, "unknown metric refused");
    T_CHECK(strstr(err, "'bogus'") && strstr(err, "pNN_latency"),
            "the error names the metric and the choices: %s", err);
    T_EQ_INT(parse("spend5/1h"), HC_EINVAL, "no '>' refused");
    T_CHECK(strstr(err, "METRIC>VALUE/WINDOW") != NULL, "the error shows the form: %s", err);
    T_EQ_INT(parse("spend>5eur/1h"), HC_EINVAL, "a currency other than usd refused");
    T_CHECK(strstr(err, "USD") && strstr(err, "'5eur'"), "the error names the value: %s", err);
    T_EQ_INT(parse("spend>5/1y"), HC_EINVAL, "unknown window unit refused");
    T_CHECK(strstr(err, "window '1y'") != NULL, "the error names the window: %s", err);
    T_EQ_INT(parse("spend>5/0s"), HC_EINVAL, "an empty window refused");
    T_EQ_INT(parse("p95_latency>fast/1m"), HC_EINVAL, "a latency that is not a duration refused");
    T_EQ_INT(parse("p100_latency>1s/1m"), HC_EINVAL, "p100 refused (1..99)");
    T_EQ_INT(parse("p0_latency>1s/1m"), HC_EINVAL, "p0 refused");
    T_EQ_INT(parse("p95_latencyx>1s/1m"), HC_EINVAL, "a misspelt metric refused");
    T_EQ_INT(parse("error_rate>100%/1h"), HC_EINVAL,
             "an error rate of 100%% can never be exceeded: refused");
    T_EQ_INT(parse("spend>1/1h,max=3"), HC_EINVAL, "unknown option refused");
    T_CHECK(strstr(err, "'max=3'") != NULL, "the error names the option: %s", err);
    T_EQ_INT(parse("spend>1/1h,min=x"), HC_EINVAL, "min= needs a number");
    T_EQ_INT(parse("spend>1/1h@team"), HC_EINVAL, "an unknown scope refused");
    T_EQ_INT(parse("spend>99999999999999/1h"), HC_EINVAL, "an amount that would overflow refused");
}

static void test_lists(void)
{
    hc_alert_rule rules[HC_MAX_ALERT_RULES];
    int n = -1;
    int bad = hc_alert_rules_parse(
        "spend > 5usd / 1h; tokens>1M/1d\n# a comment\n\nbogus>1/1h;p90_latency>2s/5m", "TEST",
        rules, HC_MAX_ALERT_RULES, &n);
    T_EQ_INT(bad, 1, "one bad rule in the list");
    T_EQ_INT(n, 3, "the three good rules are kept");
    T_EQ_STR(rules[0].text, "spend>5usd/1h", "spaces inside a rule are ignored");
    T_EQ_STR(rules[2].text, "p90_latency>2s/5m", "rules after a bad one are read");
}

static void test_fractions(void)
{
    uint16_t at[8];
    int n = 0;
    T_EQ_INT(hc_budget_fractions_parse("100,50,80", ',', at, &n, err, sizeof err), 0,
             "100,50,80 parses");
    T_CHECK(n == 3 && at[0] == 50 && at[1] == 80 && at[2] == 100, "sorted ascending");
    T_EQ_INT(hc_budget_fractions_parse("80+80+100%", '+', at, &n, err, sizeof err), 0,
             "80+80+100%% parses");
    T_CHECK(n == 2 && at[0] == 80 && at[1] == 100, "duplicates dropped, %% allowed");
    T_EQ_INT(hc_budget_fractions_parse("0,50", ',', at, &n, err, sizeof err), HC_EINVAL,
             "0%% refused");
    T_EQ_INT(hc_budget_fractions_parse("50,x", ',', at, &n, err, sizeof err), HC_EINVAL,
             "a non-number refused");
    T_CHECK(strstr(err, "'50,x'") != NULL, "the error names the list: %s", err);
    T_EQ_INT(hc_budget_fractions_parse("1,2,3,4,5,6,7,8,9", ',', at, &n, err, sizeof err),
             HC_EINVAL, "more than 8 refused");

    hc_budget b[4];
    int nb = 0;
    unsetenv("HC_BUDGET_ALERT_AT");
    T_EQ_INT(hc_budgets_parse("5/day,1/hour:block:at=50+90", b, 4, &nb, err, sizeof err), 0,
             "budgets with at= parse");
    T_CHECK(nb == 2 && b[0].nat == 2 && b[0].at[0] == 80 && b[0].at[1] == 100 && !b[0].at_chosen,
            "default fractions 80, 100 (not chosen)");
    T_CHECK(b[1].nat == 2 && b[1].at[0] == 50 && b[1].at[1] == 90 && b[1].at_chosen && b[1].block,
            "at=50+90 chosen, block kept");
    T_EQ_STR(b[1].name, "1/hour", "at= is not part of the budget's name");
    setenv("HC_BUDGET_ALERT_AT", "25,75", 1);
    T_EQ_INT(hc_budgets_parse("5/day", b, 4, &nb, err, sizeof err), 0, "HC_BUDGET_ALERT_AT=25,75");
    T_CHECK(b[0].nat == 2 && b[0].at[0] == 25 && b[0].at[1] == 75 && b[0].at_chosen,
            "its fractions are chosen");
    unsetenv("HC_BUDGET_ALERT_AT");
    T_EQ_INT(hc_budgets_parse("5/day:at=abc", b, 4, &nb, err, sizeof err), HC_EINVAL,
             "a bad at= refuses the budget");
    T_CHECK(strstr(err, "at=") != NULL, "the error names at=: %s", err);
}

/* The state of rule text (global scope) in s: 0 quiet, 1 firing. */
static uint64_t state_of(hc_store *s, const char *text)
{
    char key[400];
    snprintf(key, sizeof key, "al\x1f%s\x1f\x1fs", text);
    uint64_t v = 99;
    if (hc_total_get(s, key, &v) != 0)
        return 99;
    return v;
}

/* Feed one record (status, latency in ms) and evaluate. */
static void feed(hc_store *s, int status, int64_t latency_ms)
{
    hc_record rec;
    memset(&rec, 0, sizeof rec);
    rec.status = status;
    rec.latency_us = latency_ms * 1000;
    const hc_record *p = &rec;
    hc_alerts_feed(s, &p, 1);
}

/* Evaluation in a store: the exact percentile boundary and error-rate min=,
 * the state going 0 → 1 → 0 once each. */
static void test_evaluation(void)
{
    char dir[] = "/tmp/hc-alert-unit-XXXXXX", err2[256];
    hc_store *s = NULL;
    if (!mkdtemp(dir) || hc_store_open(dir, 0, &s, err2, sizeof err2) != 0) {
        T_CHECK(0, "a store in %s: %s", dir, err2);
        return;
    }
    setenv("HC_ALERTS", "p95_latency>1s/1h,min=20; error_rate>40%/1h,min=4", 1);
    unsetenv("HC_ALERT_WEBHOOK");
    unsetenv("HC_ALERT_SLACK");
    unsetenv("HC_ALERT_COMMAND");
    hc_alerts_init();
    const char *p95 = "p95_latency>1s/1h,min=20", *er = "error_rate>40%/1h,min=4";
    /* 19 fast + 1 slow: the 19th of 20 sorted is fast: p95 is not above 1 s. */
    for (int i = 0; i < 19; i++)
        feed(s, 200, 10);
    T_EQ_INT(state_of(s, p95), 0, "p95: 19 requests, below min=20: quiet");
    feed(s, 200, 5000);
    T_EQ_INT(state_of(s, p95), 0, "p95: 1 slow of 20 (nearest rank: the 19th is fast): quiet");
    feed(s, 200, 5000);
    T_EQ_INT(state_of(s, p95), 1, "p95: 2 slow of 21 (the 20th of 21 is slow): firing");
    for (int i = 0; i < 20; i++)
        feed(s, 200, 10);
    T_EQ_INT(state_of(s, p95), 0,
             "p95: resolved by then (at the 40th: 2 slow is not more than 5%% of 40)");
    /* error_rate: the 22 + 20 requests above were all 200: 0% so far. */
    T_EQ_INT(state_of(s, er), 0, "error rate 0%%: quiet");
    for (int i = 0; i < 27; i++)
        feed(s, 500, 10);
    T_EQ_INT(state_of(s, er), 0, "27 errors of 68 (39.7%%): quiet");
    feed(s, 0, 10);
    T_EQ_INT(state_of(s, er), 1, "28 of 69 (40.6%%; status 0 is an error): firing");
    feed(s, 200, 10);
    T_EQ_INT(state_of(s, er), 0, "28 of 70 = 40%% exactly (not above): resolved");
    hc_store_close(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    T_CHECK(system(cmd) == 0, "temporary store removed");
}

int main(void)
{
    test_metrics();
    test_scopes();
    test_errors();
    test_lists();
    test_fractions();
    test_evaluation();
    return t_done();
}
