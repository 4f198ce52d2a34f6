/* context.c — see context.h. */
#include "context.h"
#include "core.h"
#include "err.h"
#include "log.h"
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool has_prop(const hc_buf *props, const char *name)
{
    hc_pairs pl = { props->data, (uint32_t)props->len };
    uint32_t pos = 0;
    const char *n, *v;
    while (hc_pairs_next(&pl, &pos, &n, &v))
        if (strcasecmp(n, name) == 0)
            return true;
    return false;
}

static int add_new(hc_buf *props, const char *name, const char *value)
{
    if (!value || !*value || has_prop(props, name))
        return 0;
    return hc_pairs_add(props, name, value) ? HC_ENOMEM : 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* n hex digits at s into out (lower-case); -1 if any is not hex or all are 0. */
static int hex_id(const char *s, size_t n, char *out)
{
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        int v = hexval((unsigned char)s[i]);
        if (v < 0)
            return -1;
        nonzero |= v != 0;
        out[i] = "0123456789abcdef"[v];
    }
    out[n] = 0;
    return nonzero ? 0 : -1;
}

int hc_traceparent_parse(const char *s, char trace_id[33], char span_id[17])
{
    /* version(2) - trace-id(32) - parent-id(16) - flags(2); a future version
     * may append "-…" fields after these (W3C trace-context, "versioning"). */
    if (!s || strlen(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-')
        return -1;
    int v1 = hexval((unsigned char)s[0]), v2 = hexval((unsigned char)s[1]);
    if (v1 < 0 || v2 < 0 || (v1 == 15 && v2 == 15))
        return -1;
    if (v1 == 0 && v2 == 0 && s[55] != 0)
        return -1; /* version 00 has exactly these fields */
    if (s[55] != 0 && s[55] != '-')
        return -1;
    if (hexval((unsigned char)s[53]) < 0 || hexval((unsigned char)s[54]) < 0)
        return -1;
    if (hex_id(s + 3, 32, trace_id) || hex_id(s + 36, 16, span_id))
        return -1;
    return 0;
}

static bool is_token_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* One baggage list (W3C baggage): "k=v;prop, k2=v2". */
static int add_baggage(hc_buf *props, const char *s)
{
    int members = 0;
    while (*s && members < 16) {
        s += strspn(s, " \t,");
        const char *end = s + strcspn(s, ",");
        const char *k = s;
        size_t kl = 0;
        while (k + kl < end && is_token_char((unsigned char)k[kl]))
            kl++;
        const char *p = k + kl;
        p += strspn(p, " \t");
        if (kl && kl < 128 && p < end && *p == '=') {
            p++;
            p += strspn(p, " \t");
            const char *ve = p + strcspn(p, ";,");
            while (ve > p && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            char name[128], value[257];
            size_t o = 0;
            bool ok = true;
            for (const char *q = p; q < ve && ok; q++) {
                int c = (unsigned char)*q;
                if (c == '%' && ve - q >= 3 && hexval((unsigned char)q[1]) >= 0 &&
                    hexval((unsigned char)q[2]) >= 0) {
                    c = hexval((unsigned char)q[1]) * 16 + hexval((unsigned char)q[2]);
                    q += 2;
                }
                if (c < 0x20 || c == 0x7f || o + 1 >= sizeof value)
                    ok = false; /* control bytes or too long: skip the member */
                else
                    value[o++] = (char)c;
            }
            value[o] = 0;
            memcpy(name, k, kl);
            name[kl] = 0;
            if (ok && o) {
                if (add_new(props, name, value))
                    return HC_ENOMEM;
                members++;
            }
        }
        s = *end ? end + 1 : end;
    }
    return 0;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int add_ci(hc_buf *props)
{
    const char *ci = NULL, *run = NULL, *job = NULL, *commit = NULL;
    char runbuf[128];
    if (env("GITHUB_ACTIONS")) {
        ci = "github";
        run = env("GITHUB_RUN_ID");
        if (run && env("GITHUB_RUN_ATTEMPT")) {
            snprintf(runbuf, sizeof runbuf, "%s-%s", run, env("GITHUB_RUN_ATTEMPT"));
            run = runbuf;
        }
        job = env("GITHUB_JOB");
        commit = env("GITHUB_SHA");
    } else if (env("GITLAB_CI")) {
        ci = "gitlab", run = env("CI_PIPELINE_ID"), job = env("CI_JOB_NAME"),
        commit = env("CI_COMMIT_SHA");
    } else if (env("BUILDKITE")) {
        ci = "buildkite", run = env("BUILDKITE_BUILD_ID"), job = env("BUILDKITE_LABEL"),
        commit = env("BUILDKITE_COMMIT");
    } else if (env("JENKINS_URL") || env("JENKINS_HOME")) {
        ci = "jenkins", run = env("BUILD_TAG"), job = env("JOB_NAME"), commit = env("GIT_COMMIT");
    }
    if (!ci)
        return 0;
    if (add_new(props, "ci", ci) || add_new(props, "ci_run_id", run) ||
        add_new(props, "ci_job", job) || add_new(props, "ci_commit", commit))
        return HC_ENOMEM;
    return 0;
}

int hc_context_env(hc_buf *props)
{
    const char *tp = env("TRACEPARENT");
    if (tp) {
        char tid[33], sid[17];
        if (hc_traceparent_parse(tp, tid, sid) == 0) {
            if (add_new(props, "trace_id", tid) || add_new(props, "parent_span_id", sid))
                return HC_ENOMEM;
            const char *ts = env("TRACESTATE");
            if (ts && strlen(ts) <= 512 && !strpbrk(ts, "\r\n") && add_new(props, "tracestate", ts))
                return HC_ENOMEM;
        } else {
            hc_log_debug("TRACEPARENT '%.60s' is not a W3C traceparent; calls are not parented",
                         tp);
        }
    }
    if (add_ci(props))
        return HC_ENOMEM;
    const char *bg = env("BAGGAGE");
    if (bg && add_baggage(props, bg))
        return HC_ENOMEM;
    return 0;
}

int hc_context_request(hc_buf *props)
{
    const hc_shim_api *s = hc_core_shim();
    if (!s || !s->current_test || has_prop(props, "test"))
        return 0;
    char t[512];
    size_t n = s->current_test(t, sizeof t);
    if (!n)
        return 0;
    /* "tests/test_a.py::test_x (call)": the phase is not part of the test. */
    if (n > 3 && t[n - 1] == ')') {
        char *open = strrchr(t, '(');
        if (open && open > t && open[-1] == ' ')
            open[-1] = 0;
    }
    for (char *q = t; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
    return add_new(props, "test", t);
}
