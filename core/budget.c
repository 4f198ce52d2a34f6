/* budget.c — see budget.h. */
#include "budget.h"
#include "alert.h"
#include "shared.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "ratelimit.h"
#include "log.h"
#include "record.h"
#include "webhook.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

void hc_format_usd(uint64_t nusd, char *out, size_t size)
{
    snprintf(out, size, "$%llu.%06llu", (unsigned long long)(nusd / 1000000000ull),
             (unsigned long long)((nusd % 1000000000ull) / 1000));
}

/* USD decimal text to nano-USD, exactly (no floating point). */
static int parse_usd(const char *s, size_t n, uint64_t *out)
{
    uint64_t whole = 0, frac = 0;
    size_t i = 0, fd = 0;
    if (n && s[0] == '$')
        i++;
    if (i == n)
        return HC_EINVAL;
    for (; i < n && s[i] != '.'; i++) {
        if (s[i] < '0' || s[i] > '9' || whole > 1000000000ull)
            return HC_EINVAL;
        whole = whole * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < n) {
        for (i++; i < n; i++, fd++) {
            if (s[i] < '0' || s[i] > '9' || fd >= 9)
                return HC_EINVAL;
            frac = frac * 10 + (uint64_t)(s[i] - '0');
        }
    }
    for (; fd < 9; fd++)
        frac *= 10;
    *out = whole * 1000000000ull + frac;
    return *out ? 0 : HC_EINVAL;
}

int hc_budget_fractions_parse(const char *text, char sep, uint16_t *at, int *nat, char *err,
                              size_t errlen)
{
    *nat = 0;
    const char *p = text;
    for (;;) {
        char *end = NULL;
        long v = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : -1;
        if (v < 1 || v > 1000 || !end || (*end && *end != sep && *end != '%')) {
            snprintf(err, errlen,
                     "'%s': expected percentages of the limit separated by '%c' (1..1000), e.g. "
                     "50%c80%c100",
                     text, sep, sep, sep);
            return HC_EINVAL;
        }
        if (*end == '%')
            end++;
        if (*nat == 8) {
            snprintf(err, errlen, "'%s': at most 8 percentages", text);
            return HC_EINVAL;
        }
        int i = *nat;
        while (i > 0 && at[i - 1] > v) { /* insertion: ascending */
            at[i] = at[i - 1];
            i--;
        }
        if (i > 0 && at[i - 1] == v) { /* a duplicate: undo the shift */
            for (; i < *nat; i++)
                at[i] = at[i + 1];
        } else {
            at[i] = (uint16_t)v;
            (*nat)++;
        }
        if (*end != sep)
            return *end ? HC_EINVAL : 0;
        p = end + 1;
    }
}

/* The actions after PERIOD (a, modified in place): warn, block, at=FRACTIONS,
 * webhook=URL (the rest of the item). 0, or HC_EINVAL with err set. */
static int parse_actions(const char *item, char *a, hc_budget *b, char *err, size_t errlen)
{
    bool any_action = false;
    while (a && *a) {
        if (strncmp(a, "webhook=", 8) == 0) {
            if (strncmp(a + 8, "http://", 7) != 0 && strncmp(a + 8, "https://", 8) != 0) {
                snprintf(err, errlen, "%s: webhook=URL needs an http:// or https:// URL", item);
                return HC_EINVAL;
            }
            hc_strlcpy(b->webhook, sizeof b->webhook, a + 8); /* the rest is the URL */
            any_action = true;
            break;
        }
        char *next = strchr(a, ':');
        if (next)
            *next++ = '\0';
        if (strncmp(a, "at=", 3) == 0) {
            char why[200];
            if (hc_budget_fractions_parse(a + 3, '+', b->at, &b->nat, why, sizeof why) != 0) {
                snprintf(err, errlen, "%s: at=%s", item, why);
                return HC_EINVAL;
            }
            b->at_chosen = true;
            a = next;
            continue;
        }
        if (strcmp(a, "warn") == 0)
            b->warn = true;
        else if (strcmp(a, "block") == 0)
            b->block = true;
        else {
            snprintf(err, errlen, "%s: action '%s' is not warn, block or webhook=URL", item, a);
            return HC_EINVAL;
        }
        any_action = true;
        a = next;
    }
    if (!any_action)
        b->warn = true;
    return 0;
}

static int parse_one(const char *item, hc_budget *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    hc_strlcpy(b->spec, sizeof b->spec, item);
    char buf[1024];
    hc_strlcpy(buf, sizeof buf, item);
    /* scope: a trailing "@user" or "@property:NAME" */
    char *at = strrchr(buf, '@');
    if (at && (strcmp(at, "@user") == 0 || strncmp(at, "@property:", 10) == 0)) {
        if (strcmp(at, "@user") == 0)
            b->per_user = true;
        else if (at[10])
            hc_strlcpy(b->prop, sizeof b->prop, at + 10);
        else {
            snprintf(err, errlen, "%s: @property: needs a property name", item);
            return HC_EINVAL;
        }
        *at = '\0';
    }
    char *slash = strchr(buf, '/');
    if (!slash || parse_usd(buf, (size_t)(slash - buf), &b->limit_nusd) != 0) {
        snprintf(err, errlen, "%s: expected AMOUNT/PERIOD, e.g. 5/day (AMOUNT in USD, above 0)",
                 item);
        return HC_EINVAL;
    }
    char *period = slash + 1, *colon = strchr(period, ':');
    if (colon)
        *colon = '\0';
    static const char *const names[] = { "hour", "day", "week", "month", "process", "total" };
    int p = -1;
    for (int i = 0; i < 6; i++)
        if (strcasecmp(period, names[i]) == 0)
            p = i;
    if (p < 0) {
        snprintf(err, errlen,
                 "%s: period '%s' is not one of hour, day, week, month, process, total", item,
                 period);
        return HC_EINVAL;
    }
    b->period = (enum hc_period)p;
    if (colon && parse_actions(item, colon + 1, b, err, errlen) != 0)
        return HC_EINVAL;
    if (!colon)
        b->warn = true;
    /* The name: the item without its actions. */
    snprintf(b->name, sizeof b->name, "%.*s%s%s", (int)(strcspn(item, ":@")), item,
             b->per_user  ? "@user"
             : b->prop[0] ? "@property:"
                          : "",
             b->per_user ? "" : b->prop);
    return 0;
}

int hc_budgets_parse(const char *text, hc_budget *out, int max, int *n, char *err, size_t errlen)
{
    uint16_t def[8] = { 80, 100 };
    int ndef = 2;
    bool def_chosen = false;
    const char *env = getenv("HC_BUDGET_ALERT_AT");
    if (env && *env) {
        char why[200];
        uint16_t at[8];
        int nat;
        if (hc_budget_fractions_parse(env, ',', at, &nat, why, sizeof why) != 0)
            hc_log_error("HC_BUDGET_ALERT_AT: %s; using 80,100", why);
        else {
            memcpy(def, at, sizeof def);
            ndef = nat;
            def_chosen = true;
        }
    }
    *n = 0;
    const char *p = text;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ",");
        char item[1024];
        if (len >= sizeof item) {
            snprintf(err, errlen, "a budget is at most %zu characters, got one of %zu",
                     sizeof item - 1, len);
            *n = 0;
            return HC_EINVAL;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        while (len && item[len - 1] == ' ')
            item[--len] = '\0';
        if (*n >= max) {
            snprintf(err, errlen, "at most %d budgets", max);
            *n = 0;
            return HC_EINVAL;
        }
        if (parse_one(item, &out[*n], err, errlen) != 0) {
            *n = 0;
            return HC_EINVAL;
        }
        if (!out[*n].nat) {
            memcpy(out[*n].at, def, sizeof def);
            out[*n].nat = ndef;
            out[*n].at_chosen = def_chosen;
        }
        (*n)++;
        p += len;
    }
    return 0;
}

/* Days since 1970-01-01 of the UTC date y-m-d, and back (H. Hinnant's
 * civil-date algorithms). Pure arithmetic on purpose: glibc's gmtime_r and
 * timegm take its tzset lock, which a child forked while another thread held
 * it inherits locked, so a budget checked in that child would hang forever. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t hc_period_start(enum hc_period p, int64_t now_us)
{
    int64_t t = now_us / 1000000;
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sod = t - days * 86400, start;
    switch (p) {
    case HC_PERIOD_HOUR: start = days * 86400 + sod / 3600 * 3600; break;
    case HC_PERIOD_DAY: start = days * 86400; break;
    case HC_PERIOD_WEEK: {                       /* back to Monday; 1970-01-01 was a Thursday */
        int64_t wday = ((days + 4) % 7 + 7) % 7; /* 0 = Sunday, as tm_wday */
        start = (days - (wday + 6) % 7) * 86400;
        break;
    }
    case HC_PERIOD_MONTH: {
        int64_t y;
        unsigned m;
        civil_from_days(days, &y, &m);
        start = days_from_civil(y, m, 1) * 86400;
        break;
    }
    default: return 0;
    }
    return start * 1000000;
}

/* The scope value of budget b for a request (NULL: b does not apply). */
static const char *scope_value(const hc_budget *b, const hc_opts *o)
{
    if (b->per_user)
        return o->user[0] ? o->user : NULL;
    if (b->prop[0]) {
        hc_pairs pl = { o->props.data, (uint32_t)o->props.len };
        uint32_t pos = 0;
        const char *n, *v;
        while (hc_pairs_next(&pl, &pos, &n, &v))
            if (strcasecmp(n, b->prop) == 0)
                return v;
        return NULL;
    }
    return "";
}

/* "process" budgets live in this process's memory. */
static pthread_mutex_t proc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct proc_total {
    struct proc_total *next;
    char key[512];
    uint64_t total;
} * proc_totals;       /* guarded by proc_lock */
static pid_t proc_pid; /* guarded by proc_lock: totals belong to this pid */

void hc_budget_atfork_child(void)
{
    /* Another thread of the parent may have held proc_lock at fork: the
     * child's copy would stay locked for good. The parent's totals stay with
     * the parent (its list is leaked, not freed: it may be mid-update). */
    pthread_mutex_init(&proc_lock, NULL);
    proc_totals = NULL;
    proc_pid = getpid();
}

static uint64_t *proc_slot(const char *key)
{
    if (proc_pid != getpid()) { /* forked: the child starts from zero (leak the parent's list) */
        proc_totals = NULL;
        proc_pid = getpid();
    }
    for (struct proc_total *t = proc_totals; t; t = t->next)
        if (strcmp(t->key, key) == 0)
            return &t->total;
    struct proc_total *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    hc_strlcpy(t->key, sizeof t->key, key);
    t->next = proc_totals;
    proc_totals = t;
    return &t->total;
}

static void budget_key(const hc_budget *b, const char *scope, int64_t now_us, char *out,
                       size_t size)
{
    snprintf(out, size, "bu\x1f%.256s\x1f%.200s\x1f%lld", b->spec, scope,
             (long long)hc_period_start(b->period, now_us));
}

static int spent_of(hc_store *s, const hc_budget *b, const char *key, uint64_t *spent)
{
    if (b->period == HC_PERIOD_PROCESS) {
        pthread_mutex_lock(&proc_lock);
        uint64_t *slot = proc_slot(key);
        *spent = slot ? *slot : 0;
        pthread_mutex_unlock(&proc_lock);
        return 0;
    }
    return s ? hc_total_get(s, key, spent) : HC_EDISABLED;
}

int hc_budget_blocked(hc_store *s, const hc_budget *b, int n, const hc_opts *o, int64_t now_us,
                      uint64_t *spent)
{
    for (int i = 0; i < n; i++) {
        if (!b[i].block)
            continue;
        const char *scope = scope_value(&b[i], o);
        if (!scope)
            continue;
        char key[600];
        budget_key(&b[i], scope, now_us, key, sizeof key);
        uint64_t t = 0;
        int e = spent_of(s, &b[i], key, &t);
        /* HC_ECONNECT: HC_SHARED is down and HC_SHARED_ON_ERROR=fail-closed (shared.h). */
        if ((e == 0 && t >= b[i].limit_nusd) || e == HC_ECONNECT) {
            *spent = e == HC_ECONNECT ? UINT64_MAX : t;
            return i;
        }
    }
    return -1;
}

int hc_budget_gate_shared(const hc_budget *b, int n, const hc_opts *o, int64_t now_us,
                          const char *wkey, int64_t window_us, uint64_t quota, uint64_t amount,
                          bool *allowed, uint64_t *used)
{
    char keys[8][600];
    const char *kp[8];
    uint64_t limits[8];
    int nk = 0;
    for (int i = 0; i < n; i++) {
        if (!b[i].block || !scope_value(&b[i], o))
            continue;
        if (b[i].period == HC_PERIOD_PROCESS) {
            char key[600];
            uint64_t t = 0;
            budget_key(&b[i], scope_value(&b[i], o), now_us, key, sizeof key);
            if (spent_of(NULL, &b[i], key, &t) == 0 && t >= b[i].limit_nusd)
                return HC_EDISABLED; /* blocked in this process: the usual path says so */
            continue;
        }
        if (nk == 8)
            return HC_EDISABLED;
        budget_key(&b[i], scope_value(&b[i], o), now_us, keys[nk], sizeof keys[nk]);
        kp[nk] = keys[nk];
        limits[nk++] = b[i].limit_nusd;
    }
    if (nk == 0)
        return HC_EDISABLED;
    int blocked = -1;
    uint64_t spent = 0;
    if (hc_shared_gate(nk, kp, limits, wkey, window_us, quota, amount, now_us, &blocked, &spent,
                       allowed, used) != 0)
        return HC_EDISABLED;
    return blocked >= 0 ? 1 : 0;
}

static void json_str(hc_buf *j, const char *s)
{
    hc_buf_puts(j, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            hc_buf_printf(j, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            hc_buf_printf(j, "\\u%04x", (unsigned char)*s);
        else
            hc_buf_append(j, s, 1);
    }
    hc_buf_puts(j, "\"");
}

static void alert(const hc_budget *b, const char *scope, uint64_t after, int64_t now_us,
                  const char *request_id)
{
    char spent[32], limit[32];
    hc_format_usd(after, spent, sizeof spent);
    hc_format_usd(b->limit_nusd, limit, sizeof limit);
    if (b->warn)
        hc_log_error("budget %s crossed%s%s: spent %s of %s", b->name, scope[0] ? " for " : "",
                     scope, spent, limit);
    if (b->webhook[0]) {
        char start[40];
        hc_format_time_utc(hc_period_start(b->period, now_us), start, sizeof start);
        hc_buf j = HC_BUF_INIT;
        hc_buf_puts(&j, "{\"budget\":");
        json_str(&j, b->name);
        hc_buf_puts(&j, ",\"scope\":");
        json_str(&j, scope);
        hc_buf_printf(&j, ",\"spent_usd\":%.9f,\"limit_usd\":%.9f,\"period_start\":",
                      (double)after / 1e9, (double)b->limit_nusd / 1e9);
        json_str(&j, b->period == HC_PERIOD_TOTAL || b->period == HC_PERIOD_PROCESS ? "" : start);
        hc_buf_puts(&j, ",\"request_id\":");
        json_str(&j, request_id);
        hc_buf_puts(&j, "}");
        if (!hc_buf_error(&j)) /* an incomplete document is not sent */
            hc_webhook_post(b->webhook, j.data);
        hc_buf_free(&j);
    }
}

/* The warnings at percentages of the limit crossed by before → after. */
static void fractions(const hc_budget *b, const char *scope, uint64_t before, uint64_t after,
                      int64_t now_us, const char *request_id)
{
    for (int k = 0; k < b->nat; k++) {
        uint64_t th = b->limit_nusd / 100 * b->at[k] + b->limit_nusd % 100 * b->at[k] / 100;
        if (!(before < th && after >= th))
            continue;
        char start[40] = "";
        if (b->period != HC_PERIOD_TOTAL && b->period != HC_PERIOD_PROCESS)
            hc_format_time_utc(hc_period_start(b->period, now_us), start, sizeof start);
        if (b->at[k] != 100 && b->warn) {
            char spent[32], limit[32];
            hc_format_usd(after, spent, sizeof spent);
            hc_format_usd(b->limit_nusd, limit, sizeof limit);
            hc_log_error("budget %s reached %d%%%s%s: spent %s of %s", b->name, b->at[k],
                         scope[0] ? " for " : "", scope, spent, limit);
        }
        if (b->at[k] != 100 && b->webhook[0] && b->at_chosen) {
            hc_buf j = HC_BUF_INIT;
            int rc = hc_buf_puts(&j, "{\"budget\":");
            json_str(&j, b->name);
            rc = rc ? rc : hc_buf_puts(&j, ",\"scope\":");
            json_str(&j, scope);
            rc = rc ? rc
                    : hc_buf_printf(&j,
                                    ",\"fraction_pct\":%d,\"spent_usd\":%.9f,\"limit_usd\":%.9f,"
                                    "\"period_start\":",
                                    b->at[k], (double)after / 1e9, (double)b->limit_nusd / 1e9);
            json_str(&j, start);
            rc = rc ? rc : hc_buf_puts(&j, ",\"request_id\":");
            json_str(&j, request_id);
            rc = rc ? rc : hc_buf_puts(&j, "}");
            if (rc == 0 && j.data)
                hc_webhook_post(b->webhook, j.data);
            hc_buf_free(&j);
        }
        if (hc_alerts_have_destinations())
            hc_alert_budget(b->name, scope, b->at[k], after, b->limit_nusd, start, request_id);
    }
}

bool hc_budget_account(hc_store *s, const hc_budget *b, int n, const hc_opts *o, int64_t cost_nusd,
                       int64_t now_us, const char *request_id, char *spec_out, size_t spec_size)
{
    bool crossed = false;
    if (cost_nusd <= 0)
        return false;
    for (int i = 0; i < n; i++) {
        const char *scope = scope_value(&b[i], o);
        if (!scope)
            continue;
        char key[600];
        budget_key(&b[i], scope, now_us, key, sizeof key);
        uint64_t before = 0, after = 0;
        if (b[i].period == HC_PERIOD_PROCESS) {
            pthread_mutex_lock(&proc_lock);
            uint64_t *slot = proc_slot(key);
            if (slot) {
                before = *slot;
                after = *slot += (uint64_t)cost_nusd;
            }
            pthread_mutex_unlock(&proc_lock);
        } else if (!s || hc_total_add(s, key, (uint64_t)cost_nusd, &before, &after) != 0) {
            hc_log_warn_once("budget_store",
                             "cannot account spend in the store; budgets are not enforced");
            continue;
        }
        if (before < b[i].limit_nusd && after >= b[i].limit_nusd &&
            (b[i].warn || b[i].webhook[0])) {
            if (!crossed && spec_out)
                hc_strlcpy(spec_out, spec_size, b[i].name);
            crossed = true;
            alert(&b[i], scope, after, now_us, request_id);
        }
        fractions(&b[i], scope, before, after, now_us, request_id);
    }
    return crossed;
}
