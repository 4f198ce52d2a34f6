/* test_core_replay.c — the cassette match key (core/replay.c hc_replay_key):
 * what must match (key order, whitespace, ignored keys, a regex-ignored
 * timestamp) and what must not (another prompt, model, path, host, method). */
#include "buf.h"
#include "replay.h"
#include "t.h"

#include <regex.h>
#include <string.h>

static const char *H = "api.openai.com", *P = "/v1/chat/completions";

/* The key of body under the given options, in a static buffer per slot. */
static const char *key(int slot, const char *host, const char *method, const char *path,
                       const char *body, const char *ignore, const regex_t *re, bool *json_out)
{
    static char keys[4][65];
    hc_buf canon = HC_BUF_INIT;
    bool json = false;
    int rc = hc_replay_key(host, method, path, body, strlen(body), ignore, re, &canon, &json,
                           keys[slot]);
    hc_buf_free(&canon);
    if (json_out)
        *json_out = json;
    return rc ? "error" : keys[slot];
}

#define K0(body) key(0, H, "POST", P, body, "", NULL, NULL)
#define K1(body) key(1, H, "POST", P, body, "", NULL, NULL)

int main(void)
{
    const char *a =
        "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    const char *b =
        "{ \"messages\" : [ {\"content\":\"hi\", \"role\":\"user\"} ], \"model\":\"gpt-4o-mini\" }";
    T_EQ_INT(strlen(K0(a)), 64, "the key is 64 hex digits");
    T_EQ_STR(K0(a), K1(b), "key order and whitespace do not matter, at every depth");
    T_CHECK(strcmp(K0(a), K1("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                             "\"content\":\"ho\"}]}")),
            "another prompt is another key");
    T_CHECK(
        strcmp(K0(a),
               K1("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")),
        "another model is another key");
    T_CHECK(strcmp(K0(a), key(1, H, "POST", "/v1/completions", a, "", NULL, NULL)),
            "another path is another key");
    T_CHECK(strcmp(K0(a), key(1, "api.groq.com", "POST", P, a, "", NULL, NULL)),
            "another host is another key");
    T_CHECK(strcmp(K0(a), key(1, H, "PUT", P, a, "", NULL, NULL)), "another method is another key");

    const char *u1 =
        "{\"model\":\"m\",\"user\":\"alice\",\"metadata\":{\"run\":1},\"messages\":[]}";
    const char *u2 = "{\"model\":\"m\",\"user\":\"bob\",\"metadata\":{\"run\":2},\"messages\":[]}";
    T_CHECK(strcmp(K0(u1), K1(u2)), "without HC_REPLAY_IGNORE, user and metadata count");
    T_EQ_STR(key(0, H, "POST", P, u1, "user,metadata", NULL, NULL),
             key(1, H, "POST", P, u2, "user,metadata", NULL, NULL),
             "HC_REPLAY_IGNORE=user,metadata: they may differ");

    regex_t re;
    T_EQ_INT(regcomp(&re, "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z", REG_EXTENDED), 0,
             "the timestamp regex compiles");
    const char *t1 = "{\"messages\":[{\"content\":\"now 2026-01-01T10:00:00Z hi\"}]}";
    const char *t2 = "{\"messages\":[{\"content\":\"now 2026-12-06T23:59:59Z hi\"}]}";
    const char *t3 = "{\"messages\":[{\"content\":\"now 2026-12-06T23:59:59Z ho\"}]}";
    T_CHECK(strcmp(K0(t1), K1(t2)), "without HC_REPLAY_IGNORE_RE, the timestamp counts");
    T_EQ_STR(key(0, H, "POST", P, t1, "", &re, NULL), key(1, H, "POST", P, t2, "", &re, NULL),
             "HC_REPLAY_IGNORE_RE: the timestamp may differ");
    T_CHECK(
        strcmp(key(0, H, "POST", P, t1, "", &re, NULL), key(1, H, "POST", P, t3, "", &re, NULL)),
        "HC_REPLAY_IGNORE_RE: the rest of the prompt still counts");
    regex_t empty;
    regcomp(&empty, "x*", REG_EXTENDED);
    T_EQ_INT(strlen(key(0, H, "POST", P, a, "", &empty, NULL)), 64,
             "a regex matching the empty string terminates");
    regfree(&empty);
    regfree(&re);

    bool json = true;
    key(0, H, "POST", P, "not json at all", "", NULL, &json);
    T_CHECK(!json, "a body that is not JSON is matched as raw bytes");
    T_CHECK(strcmp(K0("not json"), K1("not json ")), "raw bodies: every byte counts");
    T_EQ_STR(K0(""), K1(""), "an empty body has a stable key");
    return t_done();
}
