/* alert.c — see alert.h.
 *
 * DESIGN
 * - Off the app's path: the recorder thread adds every record it wrote to
 *   per-rule sums (hc_alerts_add_encoded) and applies them at most every
 *   20 ms (hc_alerts_evaluate), so at full speed alerts cost it one write
 *   transaction per 20 ms. Nothing here runs when no rule is set.
 * - Counting: per rule and scope value, two windows of counters.h, keyed
 *   "al\x1f<rule>\x1f<scope>\x1fm" (the measure) and "…\x1fn" (requests).
 *   Same machinery as rate limits, so HC_SHARED moves them to Redis.
 * - Crossing: the state "…\x1fs" (0 quiet, 1 firing) changes only by
 *   compare-and-set (Redis script with HC_SHARED, else read and written in
 *   the LMDB write transaction that updates the windows); the one caller
 *   whose set succeeds sends the alert.
 * - Configuration is read once at core start-up (on the app's thread) into
 *   `g`, immutable afterwards: the recorder thread reads it without a lock.
 */
#include "alert.h"
#include "budget.h"
#include "buf.h"
#include "clock.h"
#include "ratelimit.h"
#include "err.h"
#include "log.h"
#include "shared.h"
#include "webhook.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static struct {
    pid_t pid; /* read in this process */
    hc_alert_rule rules[HC_MAX_ALERT_RULES];
    int nrules;
    char webhook[1024], slack[1024], command[1024];
    char secret[256];
    char host[128];
} g;

/* ---- parsing ------------------------------------------------------------ */

/* A decimal "D[.D]" at *p into nano-units (value × 1e9); advances *p. */
static int parse_dec(const char **p, uint64_t *nano)
{
    const char *s = *p;
    uint64_t whole = 0, frac = 0;
    int fd = 0, digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (whole > 1000000000ull)
            return HC_EINVAL;
        whole = whole * 10 + (uint64_t)(*s - '0');
    }
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++, digits++)
            if (fd < 9) {
                frac = frac * 10 + (uint64_t)(*s - '0');
                fd++;
            }
    if (!digits)
        return HC_EINVAL;
    for (; fd < 9; fd++)
        frac *= 10;
    *nano = whole * 1000000000ull + frac;
    *p = s;
    return 0;
}

/* nano-units × mult, exactly. */
static uint64_t scale(uint64_t nano, uint64_t mult)
{
    return nano / 1000000000ull * mult + nano % 1000000000ull * mult / 1000000000ull;
}

/* A duration "N(ms|s|m|h|d)" into µs; the whole text must be used. */
static int parse_duration(const char *s, bool allow_ms, int64_t *us)
{
    uint64_t nano;
    if (parse_dec(&s, &nano) != 0)
        return HC_EINVAL;
    uint64_t mult;
    if (allow_ms && strcmp(s, "ms") == 0)
        mult = 1000;
    else if (strcmp(s, "s") == 0)
        mult = 1000000;
    else if (strcmp(s, "m") == 0)
        mult = 60000000;
    else if (strcmp(s, "h") == 0)
        mult = 3600000000ull;
    else if (strcmp(s, "d") == 0)
        mult = 86400000000ull;
    else
        return HC_EINVAL;
    *us = (int64_t)scale(nano, mult);
    return *us > 0 ? 0 : HC_EINVAL;
}

static int parse_value(hc_alert_rule *r, const char *v, char *err, size_t errlen)
{
    const char *s = v;
    uint64_t nano;
    switch (r->metric) {
    case HC_AM_SPEND:
        if (*s == '$')
            s++;
        if (parse_dec(&s, &nano) != 0 || (*s && strcasecmp(s, "usd") != 0))
            goto bad;
        r->threshold = nano; /* USD × 1e9 = nano-USD */
        return 0;
    case HC_AM_TOKENS: {
        if (parse_dec(&s, &nano) != 0)
            goto bad;
        uint64_t mult = *s == 'k' || *s == 'K'   ? 1000
                        : *s == 'M'              ? 1000000
                        : *s == 'B' || *s == 'G' ? 1000000000
                                                 : 1;
        if (mult > 1)
            s++;
        if (*s)
            goto bad;
        r->threshold = scale(nano, mult);
        return 0;
    }
    case HC_AM_ERROR_RATE:
        if (parse_dec(&s, &nano) != 0)
            goto bad;
        if (strcmp(s, "%") == 0)
            r->threshold = nano / 1000; /* percent × 1e9 → ppm: × 1e4 / 1e9 */
        else if (!*s)
            r->threshold = nano / 1000; /* a fraction × 1e9 → ppm: × 1e6 / 1e9 */
        else
            goto bad;
        if (strcmp(s, "%") == 0)
            r->threshold /= 100;
        if (r->threshold >= 1000000) {
            snprintf(err, errlen, "an error rate is below 100%%, got '%s'", v);
            return HC_EINVAL;
        }
        return 0;
    case HC_AM_LATENCY: {
        int64_t us;
        if (parse_duration(v, true, &us) != 0)
            goto bad;
        r->threshold = (uint64_t)us;
        return 0;
    }
    }
bad:;
    static const char *const what[] = { "an amount in USD (5usd, $5, 0.25)",
                                        "a token count (1M, 500k, 2000)", "a percentage (10%)",
                                        "a duration (8s, 500ms, 2m)" };
    snprintf(err, errlen, "expected %s after '>', got '%s'", what[r->metric], v);
    return HC_EINVAL;
}

static int parse_scope(hc_alert_rule *r, const char *sc, char *err, size_t errlen)
{
    if (strcmp(sc, "user") == 0) {
        r->per_user = true;
        return 0;
    }
    if (strncmp(sc, "property:", 9) == 0 && sc[9] && sc[9] != '=') {
        const char *eq = strchr(sc + 9, '=');
        size_t nl = eq ? (size_t)(eq - sc - 9) : strlen(sc + 9);
        if (nl < sizeof r->prop && (!eq || strlen(eq + 1) < sizeof r->prop_val)) {
            memcpy(r->prop, sc + 9, nl);
            r->prop[nl] = '\0';
            if (eq)
                hc_strlcpy(r->prop_val, sizeof r->prop_val, eq + 1);
            return 0;
        }
    }
    snprintf(err, errlen, "scope '@%s' is not @user, @property:NAME or @property:NAME=VALUE", sc);
    return HC_EINVAL;
}

int hc_alert_rule_parse(const char *text, hc_alert_rule *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->min = 1;
    if (strlen(text) >= sizeof r->text) {
        snprintf(err, errlen, "a rule is at most %zu characters", sizeof r->text - 1);
        return HC_EINVAL;
    }
    hc_strlcpy(r->text, sizeof r->text, text);
    char buf[256];
    hc_strlcpy(buf, sizeof buf, text);
    char *at = strchr(buf, '@');
    if (at) {
        *at = '\0';
        if (parse_scope(r, at + 1, err, errlen) != 0)
            return HC_EINVAL;
    }
    char *opt = strchr(buf, ',');
    if (opt)
        *opt++ = '\0';
    char *gt = strchr(buf, '>');
    char *slash = gt ? strrchr(gt, '/') : NULL;
    if (!gt || !slash) {
        snprintf(err, errlen, "expected METRIC>VALUE/WINDOW, e.g. spend>5usd/1h");
        return HC_EINVAL;
    }
    *gt = *slash = '\0';
    int pct = 0;
    char tail[32] = "";
    if (strcmp(buf, "spend") == 0 || strcmp(buf, "cost") == 0)
        r->metric = HC_AM_SPEND;
    else if (strcmp(buf, "tokens") == 0)
        r->metric = HC_AM_TOKENS;
    else if (strcmp(buf, "error_rate") == 0)
        r->metric = HC_AM_ERROR_RATE;
    else if (sscanf(buf, "p%d_latenc%31s", &pct, tail) == 2 && strcmp(tail, "y") == 0 && pct >= 1 &&
             pct <= 99 && isdigit((unsigned char)buf[1])) {
        r->metric = HC_AM_LATENCY;
        r->pct = pct;
    } else {
        snprintf(err, errlen,
                 "metric '%s' is not spend, tokens, error_rate or pNN_latency (p50, p95, p99…)",
                 buf);
        return HC_EINVAL;
    }
    if (parse_value(r, gt + 1, err, errlen) != 0)
        return HC_EINVAL;
    if (parse_duration(slash + 1, false, &r->window_us) != 0) {
        snprintf(err, errlen, "window '%s' is not a duration (30s, 15m, 1h, 1d)", slash + 1);
        return HC_EINVAL;
    }
    while (opt && *opt) {
        char *next = strchr(opt, ',');
        if (next)
            *next++ = '\0';
        char *end = NULL;
        if (strncmp(opt, "min=", 4) == 0 && opt[4] >= '0' && opt[4] <= '9' &&
            (r->min = strtoull(opt + 4, &end, 10), end && !*end))
            ;
        else {
            snprintf(err, errlen, "option '%s' is not min=N (a request count)", opt);
            return HC_EINVAL;
        }
        opt = next;
    }
    if (r->min == 0)
        r->min = 1;
    return 0;
}

int hc_alert_rules_parse(const char *text, const char *var, hc_alert_rule *out, int max, int *n)
{
    int bad = 0;
    *n = 0;
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, ";\n");
        char item[512];
        size_t a = 0, b = len;
        while (a < b && isspace((unsigned char)p[a]))
            a++;
        while (b > a && isspace((unsigned char)p[b - 1]))
            b--;
        /* Spaces inside a rule are allowed and ignored ("spend > 5usd / 1h"). */
        size_t k = 0;
        for (size_t i = a; i < b && k + 1 < sizeof item; i++)
            if (!isspace((unsigned char)p[i]))
                item[k++] = p[i];
        item[k] = '\0';
        p += len;
        if (*p)
            p++;
        if (!k || item[0] == '#')
            continue;
        char err[200];
        if (*n >= max) {
            hc_log_error("%s: bad rule '%.200s': at most %d rules; this one is ignored", var, item,
                         max);
            bad++;
        } else if (hc_alert_rule_parse(item, &out[*n], err, sizeof err) != 0) {
            hc_log_error("%s: bad rule '%.200s': %s; this rule is ignored", var, item, err);
            bad++;
        } else
            (*n)++;
    }
    return bad;
}

/* ---- configuration ------------------------------------------------------ */

static char *read_rules_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *text = calloc(1, 65536);
    if (text) {
        size_t n = fread(text, 1, 65535, f);
        text[n] = '\0';
    }
    fclose(f);
    return text;
}

static void env_url(const char *var, char *out, size_t size)
{
    const char *v = getenv(var);
    out[0] = '\0';
    if (!v || !*v)
        return;
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        hc_log_error("%s: expected an http:// or https:// URL; no alert is sent there", var);
    else if (strlen(v) >= size)
        hc_log_error("%s: the URL is longer than %zu characters; no alert is sent there", var,
                     size - 1);
    else
        hc_strlcpy(out, size, v);
}

void hc_alerts_init(void)
{
    if (g.pid == getpid())
        return;
    memset(&g, 0, sizeof g);
    g.pid = getpid();
    env_url("HC_ALERT_WEBHOOK", g.webhook, sizeof g.webhook);
    env_url("HC_ALERT_SLACK", g.slack, sizeof g.slack);
    const char *c = getenv("HC_ALERT_COMMAND");
    if (c && *c) {
        if (c[0] != '/' || access(c, X_OK) != 0 || strlen(c) >= sizeof g.command)
            hc_log_error("HC_ALERT_COMMAND=%s: expected the absolute path of an executable program "
                         "(run without a shell); no alert command is run",
                         c);
        else
            hc_strlcpy(g.command, sizeof g.command, c);
        hc_deliver_snapshot_env(); /* here, on the app's thread (webhook.h) */
    }
    const char *sec = getenv("HC_ALERT_SECRET");
    if (sec && *sec)
        hc_strlcpy(g.secret, sizeof g.secret, sec);
    if (gethostname(g.host, sizeof g.host) != 0)
        g.host[0] = '\0';
    const char *rules = getenv("HC_ALERTS");
    if (!rules || !*rules)
        return;
    if (rules[0] == '@') {
        char *text = read_rules_file(rules + 1);
        if (!text) {
            hc_log_error("HC_ALERTS=%s: cannot read the rules file; no alert rule is evaluated",
                         rules);
            return;
        }
        hc_alert_rules_parse(text, "HC_ALERTS", g.rules, HC_MAX_ALERT_RULES, &g.nrules);
        free(text);
    } else
        hc_alert_rules_parse(rules, "HC_ALERTS", g.rules, HC_MAX_ALERT_RULES, &g.nrules);
    if (g.nrules && !hc_alerts_have_destinations())
        hc_log_error(
            "HC_ALERTS: no destination (HC_ALERT_WEBHOOK, HC_ALERT_SLACK, HC_ALERT_COMMAND): "
            "alerts are only printed on stderr");
}

bool hc_alerts_have_destinations(void)
{
    return g.webhook[0] || g.slack[0] || g.command[0];
}

/* ---- sending -------------------------------------------------------------- */

struct event {
    const char *kind, *state, *name, *scope, *message, *request_id;
    const char *metric;
    double value, threshold;
    int64_t window_s;
    uint64_t count;
    int fraction;             /* budgets: percent of the limit */
    const char *period_start; /* budgets */
};

static int json_str(hc_buf *j, const char *s)
{
    int rc = hc_buf_puts(j, "\"");
    for (; *s && rc == 0; s++) {
        if (*s == '"' || *s == '\\')
            rc = hc_buf_printf(j, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            rc = hc_buf_printf(j, "\\u%04x", (unsigned char)*s);
        else
            rc = hc_buf_append(j, s, 1);
    }
    return rc ? rc : hc_buf_puts(j, "\"");
}

static int kv(hc_buf *j, const char *k, const char *v)
{
    int rc = hc_buf_printf(j, ",\"%s\":", k);
    return rc ? rc : json_str(j, v);
}

static int event_json(const struct event *e, hc_buf *j)
{
    char now[40];
    hc_format_time_utc(hc_now_us(), now, sizeof now);
    int rc = hc_buf_puts(j, "{\"source\":\"hcshim\"");
    rc = rc ? rc : kv(j, "kind", e->kind);
    rc = rc ? rc : kv(j, "state", e->state);
    rc = rc ? rc : kv(j, "alert", e->name);
    rc = rc ? rc : kv(j, "scope", e->scope);
    rc = rc ? rc : kv(j, "metric", e->metric);
    rc = rc ? rc : hc_buf_printf(j, ",\"value\":%.9g,\"threshold\":%.9g", e->value, e->threshold);
    if (e->fraction)
        rc = rc ? rc : hc_buf_printf(j, ",\"fraction_pct\":%d", e->fraction);
    else
        rc = rc ? rc
                : hc_buf_printf(j, ",\"window_s\":%lld,\"requests\":%llu", (long long)e->window_s,
                                (unsigned long long)e->count);
    if (e->period_start)
        rc = rc ? rc : kv(j, "period_start", e->period_start);
    rc = rc ? rc : kv(j, "message", e->message);
    rc = rc ? rc : kv(j, "request_id", e->request_id ? e->request_id : "");
    rc = rc ? rc : kv(j, "time", now);
    rc = rc ? rc : kv(j, "host", g.host);
    rc = rc ? rc : hc_buf_printf(j, ",\"pid\":%d}", (int)getpid());
    return rc;
}

static void send_event(const struct event *e)
{
    if (!e->fraction) /* budgets print their own line (budget.c, warn budgets) */
        hc_log_error("alert %s: %s", e->state, e->message);
    if (!hc_alerts_have_destinations())
        return;
    hc_buf j = HC_BUF_INIT;
    if (event_json(e, &j) != 0) {
        hc_buf_free(&j);
        return;
    }
    if (g.webhook[0])
        hc_deliver_post(g.webhook, j.data, g.secret[0] ? g.secret : NULL, "alert webhook");
    if (g.slack[0]) {
        hc_buf s = HC_BUF_INIT;
        int rc = hc_buf_puts(&s, "{\"text\":");
        char text[700];
        snprintf(text, sizeof text, "%s hcshim %s: %s",
                 strcmp(e->state, "firing") == 0 ? ":rotating_light:" : ":white_check_mark:",
                 strcmp(e->state, "firing") == 0 ? "alert" : "resolved", e->message);
        rc = rc ? rc : json_str(&s, text);
        rc = rc ? rc : hc_buf_puts(&s, "}");
        if (rc == 0)
            hc_deliver_post(g.slack, s.data, NULL, "alert Slack webhook");
        hc_buf_free(&s);
    }
    if (g.command[0]) {
        char v[6][300];
        snprintf(v[0], sizeof v[0], "HC_ALERT_KIND=%s", e->kind);
        snprintf(v[1], sizeof v[1], "HC_ALERT_STATE=%s", e->state);
        snprintf(v[2], sizeof v[2], "HC_ALERT_NAME=%s", e->name);
        snprintf(v[3], sizeof v[3], "HC_ALERT_SCOPE=%s", e->scope);
        snprintf(v[4], sizeof v[4], "HC_ALERT_VALUE=%.9g", e->value);
        snprintf(v[5], sizeof v[5], "HC_ALERT_MESSAGE=%s", e->message);
        const char *env[] = { v[0], v[1], v[2], v[3], v[4], v[5], NULL };
        hc_deliver_command(g.command, j.data, env);
    }
    hc_buf_free(&j);
}

void hc_alert_budget(const char *budget, const char *scope, int pct, uint64_t spent_nusd,
                     uint64_t limit_nusd, const char *period_start, const char *request_id)
{
    char spent[32], limit[32], msg[600];
    hc_format_usd(spent_nusd, spent, sizeof spent);
    hc_format_usd(limit_nusd, limit, sizeof limit);
    snprintf(msg, sizeof msg, "budget %s%s%s reached %d%%: spent %s of %s", budget,
             scope[0] ? " for " : "", scope, pct, spent, limit);
    struct event e = { .kind = "budget",
                       .state = "firing",
                       .name = budget,
                       .scope = scope,
                       .message = msg,
                       .request_id = request_id,
                       .metric = "spend",
                       .value = (double)spent_nusd / 1e9,
                       .threshold = (double)limit_nusd / 1e9 * pct / 100,
                       .fraction = pct,
                       .period_start = period_start };
    send_event(&e);
}

/* ---- evaluation ------------------------------------------------------------ */

static void fmt_window(int64_t us, char *out, size_t size)
{
    int64_t s = us / 1000000;
    if (s % 86400 == 0)
        snprintf(out, size, "%lldd", (long long)(s / 86400));
    else if (s % 3600 == 0)
        snprintf(out, size, "%lldh", (long long)(s / 3600));
    else if (s % 60 == 0)
        snprintf(out, size, "%lldm", (long long)(s / 60));
    else
        snprintf(out, size, "%llds", (long long)s);
}

/* What the measure is, for messages and the JSON value. */
static double describe(const hc_alert_rule *r, uint64_t m, uint64_t n, char *out, size_t size)
{
    char w[24];
    fmt_window(r->window_us, w, sizeof w);
    switch (r->metric) {
    case HC_AM_SPEND: {
        char usd[32];
        hc_format_usd(m, usd, sizeof usd);
        snprintf(out, size, "%s spent in the last %s (%llu requests)", usd, w,
                 (unsigned long long)n);
        return (double)m / 1e9;
    }
    case HC_AM_TOKENS:
        snprintf(out, size, "%llu tokens in the last %s (%llu requests)", (unsigned long long)m, w,
                 (unsigned long long)n);
        return (double)m;
    case HC_AM_ERROR_RATE: {
        double pct = n ? 100.0 * (double)m / (double)n : 0;
        snprintf(out, size, "%llu of %llu requests failed in the last %s (%.1f%%)",
                 (unsigned long long)m, (unsigned long long)n, w, pct);
        return pct;
    }
    case HC_AM_LATENCY: {
        double pct = n ? 100.0 * (double)m / (double)n : 0;
        snprintf(out, size,
                 "%llu of %llu requests (%.1f%%) took longer than %.3gs in the last %s: p%d is %s",
                 (unsigned long long)m, (unsigned long long)n, pct, (double)r->threshold / 1e6, w,
                 r->pct, m > (uint64_t)(100 - r->pct) * n / 100 ? "above" : "at or below");
        return pct;
    }
    }
    return 0;
}

static bool above(const hc_alert_rule *r, uint64_t m, uint64_t n)
{
    if (n < r->min)
        return false;
    switch (r->metric) {
    case HC_AM_SPEND:
    case HC_AM_TOKENS: return m > r->threshold;
    case HC_AM_ERROR_RATE: return m * 1000000 > r->threshold * n;
    case HC_AM_LATENCY:
        return m > (uint64_t)(100 - r->pct) * n / 100; /* nearest rank: see alert.h */
    }
    return false;
}

/* The scope value of rule r for record rec (NULL: r does not apply). */
static const char *scope_of(const hc_alert_rule *r, const hc_record *rec)
{
    if (r->per_user)
        return rec->user && rec->user[0] ? rec->user : NULL;
    if (r->prop[0]) {
        const char *v = hc_pairs_get(&rec->props, r->prop);
        if (!v || (r->prop_val[0] && strcmp(v, r->prop_val) != 0))
            return NULL;
        return v;
    }
    return "";
}

static uint64_t measure(const hc_alert_rule *r, const hc_record *rec)
{
    switch (r->metric) {
    case HC_AM_SPEND: return rec->cost_nusd > 0 ? (uint64_t)rec->cost_nusd : 0;
    case HC_AM_TOKENS:
        return (uint64_t)(rec->tok_in > 0 ? rec->tok_in : 0) +
               (uint64_t)(rec->tok_out > 0 ? rec->tok_out : 0);
    case HC_AM_ERROR_RATE: return rec->status == 0 || rec->status >= 400;
    case HC_AM_LATENCY: return rec->latency_us > 0 && (uint64_t)rec->latency_us > r->threshold;
    }
    return 0;
}

/* ---- one batch ------------------------------------------------------------ */

/* What a batch adds to one rule and scope value. */
struct agg {
    int rule;
    char key[600];     /* "al\x1f<rule>\x1f<scope>\x1f" + one letter: m, n or s */
    int kl;            /* where the letter goes */
    const char *scope; /* points into key */
    uint64_t dm, dn;   /* added by the batch */
    uint64_t m, n;     /* the windows after the add */
    bool local;        /* not answered by Redis: done in the store's transaction */
    int move;          /* 0 none, 1 fire, -1 resolve */
};

#define MAX_AGG 256

static struct agg *agg_of(struct agg *a, int *na, int rule, const char *scope)
{
    for (int i = 0; i < *na; i++)
        if (a[i].rule == rule && strcmp(a[i].scope, scope) == 0)
            return &a[i];
    if (*na == MAX_AGG)
        return NULL;
    struct agg *x = &a[(*na)++];
    memset(x, 0, sizeof *x);
    x->rule = rule;
    int pre = snprintf(x->key, sizeof x->key, "al\x1f%s\x1f", g.rules[rule].text);
    x->kl = snprintf(x->key, sizeof x->key, "al\x1f%s\x1f%.200s\x1f", g.rules[rule].text, scope);
    x->key[x->kl - 1] = '\0'; /* the scope ends the string until the letter is set */
    x->scope = x->key + pre;
    return x;
}

static void set_letter(struct agg *x, char c)
{
    x->key[x->kl - 1] = '\x1f';
    x->key[x->kl] = c;
    x->key[x->kl + 1] = '\0';
}

static void unset_letter(struct agg *x)
{
    x->key[x->kl - 1] = '\0';
}

/* The state transition for x given its windows and its current state. */
static int transition(const struct agg *x, uint64_t state)
{
    bool up = above(&g.rules[x->rule], x->m, x->n);
    return up == (state == 1) ? 0 : up ? 1 : -1;
}

/* With HC_SHARED: the windows and the state in Redis. false: not answered
 * (unset or down): the local store does it. */
static bool shared_update(struct agg *x, int64_t now_us)
{
    const hc_alert_rule *r = &g.rules[x->rule];
    bool ok = false;
    uint64_t state = 0;
    set_letter(x, 'm');
    if (hc_shared_window(x->key, r->window_us, 0, x->dm, now_us, false, NULL, &x->m) == 0) {
        set_letter(x, 'n');
        if (hc_shared_window(x->key, r->window_us, 0, x->dn, now_us, false, NULL, &x->n) == 0) {
            set_letter(x, 's');
            ok = hc_shared_total_get(x->key, &state) == 0;
        }
    }
    if (ok) {
        bool won = false;
        x->move = transition(x, state);
        if (x->move &&
            (hc_shared_state_cas(x->key, x->move > 0 ? 0 : 1, x->move > 0 ? 1 : 0, &won) != 0 ||
             !won))
            x->move = 0;
    }
    unset_letter(x);
    return ok;
}

/* The local aggregates in one write transaction: windows, then each state
 * read and changed in the same transaction (so the change is a
 * compare-and-set across processes). 0, or an error code. */
static int local_update(hc_store *s, struct agg *a, int na, int64_t now_us)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        MDB_txn *txn;
        int rc = hc_store_txn_begin(s, true, &txn), mrc = 0;
        if (rc)
            return rc;
        MDB_dbi dbi = hc_store_dbi(s, HC_T_COUNTERS);
        for (int i = 0; i < na && mrc == 0; i++) {
            struct agg *x = &a[i];
            if (!x->local)
                continue;
            const hc_alert_rule *r = &g.rules[x->rule];
            set_letter(x, 'm');
            mrc = hc_window_add_in(txn, dbi, x->key, r->window_us, x->dm, now_us, &x->m);
            set_letter(x, 'n');
            if (mrc == 0)
                mrc = hc_window_add_in(txn, dbi, x->key, r->window_us, x->dn, now_us, &x->n);
            set_letter(x, 's');
            MDB_val k = { strlen(x->key), x->key }, v;
            uint64_t state = 0;
            if (mrc == 0 && mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 8)
                memcpy(&state, v.mv_data, 8);
            x->move = mrc == 0 ? transition(x, state) : 0;
            if (x->move) {
                state = x->move > 0 ? 1 : 0;
                v.mv_size = 8;
                v.mv_data = &state;
                mrc = mdb_put(txn, dbi, &k, &v, 0);
            }
            unset_letter(x);
        }
        if (mrc == 0) {
            rc = hc_store_txn_commit(s, txn);
            if (rc != HC_EFULL)
                return rc;
        } else {
            hc_store_txn_abort(s, txn);
            if (mrc != MDB_MAP_FULL)
                return HC_ESTORE;
        }
        if (hc_store_grow(s) != 0)
            return HC_EFULL;
    }
    return HC_EFULL;
}

static void announce(const struct agg *x)
{
    const hc_alert_rule *r = &g.rules[x->rule];
    bool up = x->move > 0;
    char what[400], msg[700];
    double value = describe(r, x->m, x->n, what, sizeof what);
    snprintf(msg, sizeof msg, "%s%s%s %s: %s", r->text, x->scope[0] ? " for " : "", x->scope,
             up ? "crossed" : "resolved", what);
    static const char *const metric[] = { "spend", "tokens", "error_rate", "latency" };
    double thr = r->metric == HC_AM_SPEND        ? (double)r->threshold / 1e9
                 : r->metric == HC_AM_ERROR_RATE ? (double)r->threshold / 1e4
                 : r->metric == HC_AM_LATENCY    ? (double)r->threshold / 1e6
                                                 : (double)r->threshold;
    struct event e = { .kind = "rule",
                       .state = up ? "firing" : "resolved",
                       .name = r->text,
                       .scope = x->scope,
                       .message = msg,
                       .request_id = "",
                       .metric = metric[r->metric],
                       .value = value,
                       .threshold = thr,
                       .window_s = r->window_us / 1000000,
                       .count = x->n };
    send_event(&e);
}

/* Pending: what the batches since the last evaluation added, per rule and
 * scope value. Only the recorder thread touches it (alert.h). */
static struct {
    pid_t pid;
    struct agg *a;
    int na;
    int64_t since_us; /* monotonic time of the oldest pending batch */
} pend;

static void add_records(const hc_record *const *recs, size_t n)
{
    if (pend.pid != getpid()) { /* a forked child starts empty (the parent's memory is not ours) */
        pend.pid = getpid();
        pend.a = NULL;
        pend.na = 0;
    }
    if (!pend.a && !(pend.a = malloc(MAX_AGG * sizeof *pend.a)))
        return;
    if (!pend.na)
        pend.since_us = hc_mono_us();
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < g.nrules; k++) {
            const char *scope = scope_of(&g.rules[k], recs[i]);
            struct agg *x = scope ? agg_of(pend.a, &pend.na, k, scope) : NULL;
            if (!x)
                continue; /* not in scope; or more than MAX_AGG scope values pending: not counted */
            x->dm += measure(&g.rules[k], recs[i]);
            x->dn++;
        }
}

void hc_alerts_feed(hc_store *s, const hc_record *const *recs, size_t n)
{
    if (!s || !g.nrules)
        return;
    add_records(recs, n);
    hc_alerts_evaluate(s);
}

bool hc_alerts_pending(void)
{
    return pend.pid == getpid() && pend.na > 0;
}

bool hc_alerts_due(void)
{
    return hc_alerts_pending() &&
           (hc_mono_us() - pend.since_us >= HC_ALERT_COALESCE_US || pend.na == MAX_AGG);
}

void hc_alerts_evaluate(hc_store *s)
{
    if (!s || !hc_alerts_pending())
        return;
    struct agg *a = pend.a;
    int na = pend.na;
    int64_t now = hc_now_us();
    bool any_local = false;
    for (int i = 0; i < na; i++)
        any_local |= a[i].local = !shared_update(&a[i], now);
    if (any_local && local_update(s, a, na, now) != 0) {
        hc_log_warn_once("alert_store",
                         "HC_ALERTS: cannot count in the store; alerts are not evaluated");
        for (int i = 0; i < na; i++)
            if (a[i].local)
                a[i].move = 0;
    }
    for (int i = 0; i < na; i++)
        if (a[i].move)
            announce(&a[i]);
    pend.na = 0;
}

bool hc_alerts_add_encoded(const char *const *recs, const size_t *lens, size_t n)
{
    if (!g.nrules || !n)
        return hc_alerts_pending();
    hc_record *r = calloc(n, sizeof *r);
    const hc_record **p = calloc(n, sizeof *p);
    size_t k = 0;
    for (size_t i = 0; r && p && i < n; i++)
        if (hc_record_decode(recs[i], lens[i], &r[k]) == 0) {
            p[k] = &r[k];
            k++;
        }
    add_records(p, k);
    free(p);
    free(r);
    return hc_alerts_pending();
}
