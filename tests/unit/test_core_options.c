/* test_core_options.c — core/options.h: the Helicone header protocol.
 *
 * Every case is a literal request head parsed with hc_http_parse_request (the
 * gateway's own parser, so header spans are exactly what the gateway sees),
 * plus an hc_config built by hand for the HC_* defaults.
 */
#include "config.h"
#include "err.h"
#include "http.h"
#include "options.h"
#include "record.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void base_config(hc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->user_id, "env-user");
    strcpy(cfg->session_id, "env-session");
    strcpy(cfg->session_path, "/env/path");
    strcpy(cfg->session_name, "env-name");
    cfg->omit_request = false;
    cfg->omit_response = true;
    cfg->stream_usage = true;
    hc_pairs_add(&cfg->properties, "Workflow", "research");
    hc_pairs_add(&cfg->properties, "Team", "core");
    hc_pairs_add(&cfg->properties, "Env-Only", "kept");
}

/* Parse `head` (kept alive by the caller) into *h; the head must be complete. */
static int parse(const char *what, const char *head, hc_http_head *h)
{
    int rc = hc_http_parse_request(head, strlen(head), h);
    T_EQ_INT(rc, (long long)strlen(head), "%s: head parses", what);
    return rc > 0;
}

static int count_pairs(const hc_buf *b)
{
    hc_pairs pl = { b->data, (uint32_t)b->len };
    uint32_t pos = 0;
    const char *n, *v;
    int c = 0;
    while (hc_pairs_next(&pl, &pos, &n, &v))
        c++;
    return c;
}

/* Value of the property named `name` (case-insensitive), and how many pairs
 * carry that name: an override must replace, never duplicate. */
static const char *prop(const hc_opts *o, const char *name, int *count)
{
    hc_pairs pl = { o->props.data, (uint32_t)o->props.len };
    uint32_t pos = 0;
    const char *n, *v, *found = NULL;
    *count = 0;
    while (hc_pairs_next(&pl, &pos, &n, &v))
        if (strcasecmp(n, name) == 0) {
            (*count)++;
            found = v;
        }
    return found;
}

static void test_env_defaults(void)
{
    hc_config cfg;
    base_config(&cfg);
    hc_http_head h;
    const char *head = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
                       "Content-Type: application/json\r\n\r\n";
    if (!parse(__func__, head, &h))
        return;
    hc_opts o;
    T_EQ_INT(hc_opts_from_request(&o, &cfg, &h), 0, "defaults: ok");
    T_EQ_STR(o.user, "env-user", "defaults: user from HC_USER_ID");
    T_EQ_STR(o.session_id, "env-session", "defaults: session id");
    T_EQ_STR(o.session_path, "/env/path", "defaults: session path");
    T_EQ_STR(o.session_name, "env-name", "defaults: session name");
    T_EQ_STR(o.request_id, "", "defaults: no request id");
    T_CHECK(!o.omit_request, "defaults: omit_request from cfg (false)");
    T_CHECK(o.omit_response, "defaults: omit_response from cfg (true)");
    T_CHECK(o.stream_usage, "defaults: stream_usage from cfg (true)");
    int c;
    T_EQ_STR(prop(&o, "Workflow", &c), "research", "defaults: env property Workflow");
    T_EQ_STR(prop(&o, "Team", &c), "core", "defaults: env property Team");
    T_EQ_INT(count_pairs(&o.props), 3, "defaults: exactly the env properties");
    hc_opts_free(&o);

    /* A config with no properties at all (empty pairs buffer) and no defaults. */
    hc_config empty;
    memset(&empty, 0, sizeof empty);
    T_EQ_INT(hc_opts_from_request(&o, &empty, &h), 0, "empty config: ok");
    T_EQ_INT(o.props.len, 0, "empty config: no properties");
    T_EQ_STR(o.user, "", "empty config: no user");
    T_CHECK(!o.stream_usage && !o.omit_request && !o.omit_response, "empty config: booleans false");
    hc_opts_free(&o);
    hc_config_free(&cfg);
}

static void test_properties(void)
{
    hc_config cfg;
    base_config(&cfg);
    hc_http_head h;
    /* Header names are case-insensitive; the override matches the env name
     * case-insensitively (WORKFLOW replaces Workflow); Team and Env-Only stay. */
    const char *head = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
                       "helicone-property-WORKFLOW: coding\r\n"
                       "Helicone-Property-Customer: acme corp\r\n"
                       "HELICONE-PROPERTY-team: platform\r\n"
                       "Helicone-Property-: nameless\r\n"
                       "X-Helicone-Property-Fake: no\r\n"
                       "Helicone-Propertyless: no\r\n"
                       "\r\n";
    if (!parse(__func__, head, &h))
        return;
    hc_opts o;
    T_EQ_INT(hc_opts_from_request(&o, &cfg, &h), 0, "props: ok");
    int c;
    T_EQ_STR(prop(&o, "workflow", &c), "coding", "props: header overrides env Workflow");
    T_EQ_INT(c, 1, "props: Workflow appears once");
    T_EQ_STR(prop(&o, "team", &c), "platform", "props: header overrides env Team");
    T_EQ_INT(c, 1, "props: Team appears once");
    T_EQ_STR(prop(&o, "Customer", &c), "acme corp", "props: header-only property added");
    T_EQ_STR(prop(&o, "Env-Only", &c), "kept", "props: other env property kept");
    T_CHECK(prop(&o, "", &c) == NULL, "props: 'Helicone-Property-' with no name ignored");
    T_CHECK(prop(&o, "Fake", &c) == NULL, "props: X-Helicone-Property-* is not a property");
    T_CHECK(prop(&o, "less", &c) == NULL && prop(&o, "Propertyless", &c) == NULL,
            "props: Helicone-Propertyless is not a property");
    T_EQ_INT(count_pairs(&o.props), 4, "props: Workflow, Customer, Team, Env-Only");
    /* The property name is the header's suffix as sent. */
    hc_pairs pl = { o.props.data, (uint32_t)o.props.len };
    T_EQ_STR(hc_pairs_get(&pl, "WORKFLOW"), "coding", "props: name spelled as in the header");
    hc_opts_free(&o);
    hc_config_free(&cfg);
}

static void test_ids(void)
{
    hc_config cfg;
    base_config(&cfg);
    hc_http_head h;
    const char *head = "POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n"
                       "Helicone-User-Id: alice@example.com\r\n"
                       "helicone-session-id: 5f2b\r\n"
                       "Helicone-Session-Path: /trip/flights\r\n"
                       "HELICONE-SESSION-NAME: Trip\r\n"
                       "Helicone-Request-Id: 0b1c2d3e-0000-4000-8000-000000000001\r\n"
                       "Helicone-Auth: Bearer sk-helicone-xyz\r\n"
                       "\r\n";
    if (!parse(__func__, head, &h))
        return;
    hc_opts o;
    T_EQ_INT(hc_opts_from_request(&o, &cfg, &h), 0, "ids: ok");
    T_EQ_STR(o.user, "alice@example.com", "ids: Helicone-User-Id overrides HC_USER_ID");
    T_EQ_STR(o.session_id, "5f2b", "ids: session id");
    T_EQ_STR(o.session_path, "/trip/flights", "ids: session path");
    T_EQ_STR(o.session_name, "Trip", "ids: session name");
    T_EQ_STR(o.request_id, "0b1c2d3e-0000-4000-8000-000000000001", "ids: request id");
    int c;
    T_EQ_STR(prop(&o, "Workflow", &c), "research", "ids: env properties untouched");
    hc_opts_free(&o);

    /* Values longer than the fields are truncated, never overflowing them. */
    hc_buf hb = HC_BUF_INIT;
    hc_buf_puts(&hb, "GET / HTTP/1.1\r\nHelicone-User-Id: ");
    for (int i = 0; i < 600; i++)
        hc_buf_puts(&hb, "u");
    hc_buf_puts(&hb, "\r\nHelicone-Request-Id: ");
    for (int i = 0; i < 600; i++)
        hc_buf_puts(&hb, "r");
    hc_buf_puts(&hb, "\r\nHelicone-Property-Big: ");
    for (int i = 0; i < 3000; i++)
        hc_buf_puts(&hb, "p");
    hc_buf_puts(&hb, "\r\n\r\n");
    if (parse("long values", hb.data, &h)) {
        T_EQ_INT(hc_opts_from_request(&o, &cfg, &h), 0, "long values: ok");
        T_EQ_INT(strlen(o.user), sizeof o.user - 1, "long user truncated to the field");
        T_EQ_INT(strlen(o.request_id), sizeof o.request_id - 1,
                 "long request id truncated to the field");
        const char *big = prop(&o, "Big", &c);
        T_CHECK(big && strlen(big) > 0 && strspn(big, "p") == strlen(big),
                "long property value kept (possibly truncated)");
        hc_opts_free(&o);
    }
    hc_buf_free(&hb);
    hc_config_free(&cfg);
}

static const struct {
    const char *value;
    int want_dflt_false, want_dflt_true;
} bool_cases[] = {
    { "true", 1, 1 },  { "TRUE", 1, 1 },  { "1", 1, 1 },       { "yes", 1, 1 },
    { "On", 1, 1 },    { "false", 0, 0 }, { "False", 0, 0 },   { "0", 0, 0 },
    { "no", 0, 0 },    { "off", 0, 0 },   { "garbage", 0, 1 }, { "2", 0, 1 },
    { "truex", 0, 1 }, { "tru", 0, 1 },   { "", 0, 1 },        { "t", 0, 1 },
};

static void test_bool_headers(void)
{
    for (size_t i = 0; i < sizeof bool_cases / sizeof bool_cases[0]; i++) {
        const char *v = bool_cases[i].value;
        char head[512];
        snprintf(head, sizeof head,
                 "POST /v1/chat/completions HTTP/1.1\r\nHelicone-Omit-Request: %s\r\n"
                 "Helicone-Omit-Response: %s\r\nHelicone-Stream-Usage: %s\r\n\r\n",
                 v, v, v);
        hc_http_head h;
        if (!parse(v, head, &h))
            continue;
        hc_config cfg;
        /* Defaults: omit_request false, omit_response true, stream_usage true. */
        base_config(&cfg);
        hc_opts o;
        T_EQ_INT(hc_opts_from_request(&o, &cfg, &h), 0, "bool '%s': ok", v);
        T_EQ_INT(o.omit_request, bool_cases[i].want_dflt_false,
                 "Helicone-Omit-Request: '%s' (default false)", v);
        T_EQ_INT(o.omit_response, bool_cases[i].want_dflt_true,
                 "Helicone-Omit-Response: '%s' (default true)", v);
        T_EQ_INT(o.stream_usage, bool_cases[i].want_dflt_true,
                 "Helicone-Stream-Usage: '%s' (default true)", v);
        hc_opts_free(&o);
        hc_config_free(&cfg);

        /* hc_header_bool directly, both defaults; the span length is honoured
         * (the value is followed by junk that must not be read as part of it). */
        char span[64];
        size_t n = strlen(v);
        snprintf(span, sizeof span, "%sXYZ", v);
        T_EQ_INT(hc_header_bool(span, n, false), bool_cases[i].want_dflt_false,
                 "hc_header_bool('%s', false)", v);
        T_EQ_INT(hc_header_bool(span, n, true), bool_cases[i].want_dflt_true,
                 "hc_header_bool('%s', true)", v);
    }
    /* A prefix of a valid word is not that word. */
    T_EQ_INT(hc_header_bool("true", 3, true), 1, "hc_header_bool('tru', true) keeps default");
    T_EQ_INT(hc_header_bool("true", 3, false), 0, "hc_header_bool('tru', false) keeps default");
    T_EQ_INT(hc_header_bool("off", 2, true), 1, "hc_header_bool('of', true) keeps default");
}

static const struct {
    const char *name;
    int want;
} hh_cases[] = {
    { "Helicone-Auth", 1 },
    { "helicone-property-x", 1 },
    { "HELICONE-CACHE-ENABLED", 1 },
    { "Helicone-", 1 },
    { "Helicone", 0 },
    { "Helicone_Auth", 0 },
    { "X-Helicone-Auth", 0 },
    { "Heliconе-Auth", 0 }, /* Cyrillic 'е': not the ASCII prefix */
    { "Authorization", 0 },
    { "", 0 },
};

static void test_is_helicone(void)
{
    for (size_t i = 0; i < sizeof hh_cases / sizeof hh_cases[0]; i++)
        T_EQ_INT(hc_is_helicone_header(hh_cases[i].name, strlen(hh_cases[i].name)),
                 hh_cases[i].want, "hc_is_helicone_header('%s')", hh_cases[i].name);
    /* The length is honoured: the first 8 bytes of "Helicone-Auth" are not in the namespace. */
    T_EQ_INT(hc_is_helicone_header("Helicone-Auth", 8), 0,
             "hc_is_helicone_header('Helicone' span)");
    T_EQ_INT(hc_is_helicone_header("Helicone-Auth", 9), 1,
             "hc_is_helicone_header('Helicone-' span)");
}

int main(void)
{
    test_env_defaults();
    test_properties();
    test_ids();
    test_bool_headers();
    test_is_helicone();
    return t_done();
}
