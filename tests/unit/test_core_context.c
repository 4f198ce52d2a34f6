/* test_core_context.c — context.h: traceparent parsing, and the environment's
 * trace, baggage and CI context as properties (HC_PROPERTY_ wins). */
#include "context.h"
#include "record.h"
#include "t.h"

#include <stdlib.h>

static const char *prop(const hc_buf *b, const char *name)
{
    hc_pairs pl = { b->data, (uint32_t)b->len };
    const char *v = hc_pairs_get(&pl, name);
    return v ? v : "(none)";
}

static void clear_env(void)
{
    const char *vars[] = { "TRACEPARENT",      "TRACESTATE",         "BAGGAGE",
                           "GITHUB_ACTIONS",   "GITHUB_RUN_ID",      "GITHUB_RUN_ATTEMPT",
                           "GITHUB_JOB",       "GITHUB_SHA",         "GITLAB_CI",
                           "CI_PIPELINE_ID",   "CI_JOB_NAME",        "CI_COMMIT_SHA",
                           "BUILDKITE",        "BUILDKITE_BUILD_ID", "BUILDKITE_LABEL",
                           "BUILDKITE_COMMIT", "JENKINS_URL",        "JENKINS_HOME",
                           "BUILD_TAG",        "JOB_NAME",           "GIT_COMMIT" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

int main(void)
{
    char tid[33], sid[17];
    T_EQ_INT(
        hc_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tid, sid),
        0, "the W3C example parses");
    T_EQ_STR(tid, "4bf92f3577b34da6a3ce929d0e0e4736", "trace id");
    T_EQ_STR(sid, "00f067aa0ba902b7", "parent span id");
    T_EQ_INT(
        hc_traceparent_parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", tid, sid),
        0, "upper-case digits are read");
    T_EQ_STR(tid, "4bf92f3577b34da6a3ce929d0e0e4736", "and stored lower-case");
    T_EQ_INT(hc_traceparent_parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
                                  tid, sid),
             0, "a later version may carry more fields");
    static const char *bad[] = {
        "",
        "00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* 00 has no more fields */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff is invalid */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero span id */
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",   /* not hex */
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",   /* separator */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    /* short flags */
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  /* junk after flags */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        T_EQ_INT(hc_traceparent_parse(bad[i], tid, sid), -1, "malformed traceparent %zu refused",
                 i);

    clear_env();
    setenv("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1);
    setenv("TRACESTATE", "congo=t61rcWkgMzE", 1);
    setenv("BAGGAGE",
           " userId=alice%20b , serverNode = DF28;meta=1,bad key=x,isProduction=false,ci=bag,"
           "ctl=%0a,Workflow=fromBaggage",
           1);
    setenv("GITHUB_ACTIONS", "true", 1);
    setenv("GITHUB_RUN_ID", "1658821493", 1);
    setenv("GITHUB_RUN_ATTEMPT", "2", 1);
    setenv("GITHUB_JOB", "test", 1);
    setenv("GITHUB_SHA", "ffac537e6cbbf934b08745a378932722df287a53", 1);
    setenv("GITLAB_CI", "true", 1); /* GitHub is looked at first */
    hc_buf b = HC_BUF_INIT;
    hc_pairs_add(&b, "Workflow", "fromEnv"); /* as HC_PROPERTY_Workflow would be */
    T_EQ_INT(hc_context_env(&b), 0, "context from the environment");
    T_EQ_STR(prop(&b, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736", "trace_id property");
    T_EQ_STR(prop(&b, "parent_span_id"), "00f067aa0ba902b7", "parent_span_id property");
    T_EQ_STR(prop(&b, "tracestate"), "congo=t61rcWkgMzE", "tracestate property");
    T_EQ_STR(prop(&b, "userId"), "alice b", "baggage value percent-decoded, spaces around trimmed");
    T_EQ_STR(prop(&b, "serverNode"), "DF28", "baggage member properties (;meta) left out");
    T_EQ_STR(prop(&b, "isProduction"), "false", "third member");
    T_EQ_STR(prop(&b, "bad key"), "(none)", "a key that is not a token is skipped");
    T_EQ_STR(prop(&b, "ctl"), "(none)", "a value with a control byte is skipped");
    T_EQ_STR(prop(&b, "Workflow"), "fromEnv", "HC_PROPERTY_ wins over baggage");
    T_EQ_STR(prop(&b, "ci"), "github", "CI wins over baggage; GitHub Actions detected");
    T_EQ_STR(prop(&b, "ci_run_id"), "1658821493-2", "GitHub run id with its attempt");
    T_EQ_STR(prop(&b, "ci_job"), "test", "GitHub job");
    T_EQ_STR(prop(&b, "ci_commit"), "ffac537e6cbbf934b08745a378932722df287a53", "GitHub commit");
    hc_buf_free(&b);

    static const struct {
        const char *flag, *run_var, *run, *job_var, *job, *commit_var, *name;
    } ci[] = {
        { "GITLAB_CI", "CI_PIPELINE_ID", "991", "CI_JOB_NAME", "unit", "CI_COMMIT_SHA", "gitlab" },
        { "BUILDKITE", "BUILDKITE_BUILD_ID", "0190-ab", "BUILDKITE_LABEL", ":pytest: tests",
          "BUILDKITE_COMMIT", "buildkite" },
        { "JENKINS_URL", "BUILD_TAG", "jenkins-app-42", "JOB_NAME", "app/main", "GIT_COMMIT",
          "jenkins" },
    };
    for (size_t i = 0; i < sizeof ci / sizeof *ci; i++) {
        clear_env();
        setenv(ci[i].flag, "true", 1);
        setenv(ci[i].run_var, ci[i].run, 1);
        setenv(ci[i].job_var, ci[i].job, 1);
        setenv(ci[i].commit_var, "abc123", 1);
        hc_buf c = HC_BUF_INIT;
        T_EQ_INT(hc_context_env(&c), 0, "%s: context", ci[i].name);
        T_CHECK(strcmp(prop(&c, "ci"), ci[i].name) == 0, "%s detected (%s)", ci[i].name,
                prop(&c, "ci"));
        T_EQ_STR(prop(&c, "ci_run_id"), ci[i].run, "%s run id", ci[i].name);
        T_EQ_STR(prop(&c, "ci_job"), ci[i].job, "%s job", ci[i].name);
        T_EQ_STR(prop(&c, "ci_commit"), "abc123", "%s commit", ci[i].name);
        T_EQ_STR(prop(&c, "trace_id"), "(none)", "%s: no TRACEPARENT, no trace properties",
                 ci[i].name);
        hc_buf_free(&c);
    }
    clear_env();
    setenv("TRACEPARENT", "garbage", 1);
    setenv("TRACESTATE", "a=b", 1);
    hc_buf d = HC_BUF_INIT;
    T_EQ_INT(hc_context_env(&d), 0, "malformed TRACEPARENT: no error");
    T_EQ_INT((long long)d.len, 0,
             "and no properties at all (no CI, no tracestate without a parent)");
    hc_buf_free(&d);
    return t_done();
}
