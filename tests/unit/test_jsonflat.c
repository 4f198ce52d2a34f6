/* test_jsonflat.c — common/jsonflat.c: the grammar (accepted and refused
 * texts), navigation, numbers, strings and escapes, the bounds, and a
 * differential check against cJSON: every JSON text of the usage fixtures
 * (bodies, SSE data, NDJSON lines, arrays) and a set of hand-written ones
 * must read as the same tree in both. */
#include "t.h"
#include "err.h"
#include "jsonflat.h"

#include "jf_same.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

#define FIXTURES "tests/fixtures/usage"

static int parse(const char *s)
{
    hc_jf_doc d;
    int r = hc_jf_parse(&d, s, strlen(s));
    hc_jf_free(&d);
    return r;
}

static void grammar(void)
{
    static const char *const good[] = {
        "{}",
        "[]",
        " { } ",
        "0",
        "-0",
        "1.5e-3",
        "-12E+2",
        "\"\"",
        "\"a\\u00e9\\n\"",
        "true",
        "false",
        "null",
        "[1,[2,[3]],{\"a\":{}}]",
        "{\"a\":1,\"a\":2}",
        "\"raw\ttab\"",
        "\t\r\n[ 1 , 2 ]\n",
    };
    static const char *const bad[] = {
        "",        " ",           "{",         "}",   "[1,]",  "{\"a\":1,}",
        "{\"a\"}", "{\"a\" 1}",   "{a:1}",     "01",  "1.",    ".5",
        "+1",      "-",           "1e",        "1e+", "[1 2]", "\"abc",
        "\"\\x\"", "\"\\u12G4\"", "\"\\u12\"", "tru", "nul",   "[]]",
        "{} {}",   "[1]x",        "{\"a\":1]", "[1}", "\"a\\",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        T_EQ_INT(parse(good[i]), 0, "accepted: good[%zu]", i);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        T_EQ_INT(parse(bad[i]), HC_EPARSE, "refused: '%s'", bad[i]);

    /* A text is exactly [p, p+len): no NUL needed, and nothing read past it. */
    const char buf[] = { '[', '1', ']', 'x' };
    hc_jf_doc d;
    T_EQ_INT(hc_jf_parse(&d, buf, 3), 0, "a text need not be NUL-terminated");
    hc_jf_free(&d);
    T_EQ_INT(hc_jf_parse(&d, buf, 2), HC_EPARSE, "a text cut short is refused");
    hc_jf_free(&d);
    T_EQ_INT(hc_jf_parse(&d, NULL, 0), HC_EPARSE, "NULL is refused");
    hc_jf_free(&d);
}

static void navigation(void)
{
    const char *s = "{\"model\":\"gpt-4o\",\"choices\":[{\"finish_reason\":\"stop\"},{}],"
                    "\"usage\":{\"prompt_tokens\":15,\"x\":[1,2,3]},\"m\\u006fdel2\":\"esc\","
                    "\"dup\":1,\"dup\":2,\"n\":null}";
    hc_jf_doc d;
    T_EQ_INT(hc_jf_parse(&d, s, strlen(s)), 0, "a chat completion parses");
    const hc_jf_node *root = hc_jf_root(&d);
    T_CHECK(root && root->type == HC_JF_OBJECT && root->vlen == strlen(s),
            "the root spans the text");
    T_CHECK(hc_jf_str_is(hc_jf_get(root, "model"), "gpt-4o"), "a string member");
    T_CHECK(!hc_jf_str_is(hc_jf_get(root, "model"), "gpt-4"), "equality is not a prefix match");
    T_CHECK(hc_jf_str_prefix(hc_jf_get(root, "model"), "gpt-"), "a prefix match");
    const hc_jf_node *ch = hc_jf_get(root, "choices");
    T_CHECK(ch && ch->type == HC_JF_ARRAY, "an array member");
    T_CHECK(hc_jf_str_is(hc_jf_get(hc_jf_child(ch), "finish_reason"), "stop"), "its first element");
    const hc_jf_node *second = hc_jf_next(hc_jf_child(ch));
    T_CHECK(second && second->type == HC_JF_OBJECT && !hc_jf_child(second) && !hc_jf_next(second),
            "its second and last element, empty");
    double v = 0;
    T_CHECK(hc_jf_number(hc_jf_get(hc_jf_get(root, "usage"), "prompt_tokens"), &v) && v == 15,
            "a nested number");
    T_CHECK(hc_jf_get(root, "x") == NULL, "members of nested objects are not the root's");
    T_CHECK(hc_jf_str_is(hc_jf_get(root, "model2"), "esc"),
            "an escaped key matches its decoded text");
    T_CHECK(hc_jf_number(hc_jf_get(root, "dup"), &v) && v == 1,
            "a duplicate key: the first wins (as cJSON)");
    T_CHECK(hc_jf_get(root, "n") && hc_jf_get(root, "n")->type == HC_JF_NULL, "null");
    T_CHECK(hc_jf_get(root, "missing") == NULL, "a missing key");
    T_CHECK(hc_jf_get(ch, "x") == NULL, "an array has no members");
    T_CHECK(!hc_jf_number(hc_jf_get(root, "model"), &v), "a string is not a number");
    char out[8];
    T_CHECK(hc_jf_string(hc_jf_get(root, "model"), out, sizeof out) && strcmp(out, "gpt-4o") == 0,
            "decoded string");
    T_CHECK(!hc_jf_string(hc_jf_get(root, "usage"), out, sizeof out) && out[0] == '\0',
            "an object is not a string");
    hc_jf_free(&d);
}

static void numbers_and_strings(void)
{
    static const struct {
        const char *text;
        double v;
    } nums[] = {
        { "0", 0 },
        { "-0", 0 },
        { "123456789012345", 123456789012345.0 },
        { "1234567890123456789", 1234567890123456789.0 },
        { "1.5", 1.5 },
        { "2e3", 2000 },
        { "-2.5E-1", -0.25 },
        { "1e400", INFINITY },
        { "0.00000000000000000000000000000000000000000000000000000000000000000000000001", 1e-74 },
    };
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        hc_jf_doc d;
        double v = -1;
        bool ok = hc_jf_parse(&d, nums[i].text, strlen(nums[i].text)) == 0 &&
                  hc_jf_number(hc_jf_root(&d), &v);
        T_CHECK(ok && v == nums[i].v, "number %s reads %g (got %g)", nums[i].text, nums[i].v, v);
        hc_jf_free(&d);
    }
    static const struct {
        const char *text, *want;
    } strs[] = {
        { "\"plain\"", "plain" },          { "\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d" },
        { "\"\\u00e9\"", "\xc3\xa9" },     { "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80" },
        { "\"\\ud83d\"", "\xef\xbf\xbd" }, { "\"tab\\there\"", "tab?here" },
        { "\"raw\x01\"", "raw?" },
    };
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        hc_jf_doc d;
        char out[32];
        bool ok = hc_jf_parse(&d, strs[i].text, strlen(strs[i].text)) == 0 &&
                  hc_jf_string(hc_jf_root(&d), out, sizeof out);
        T_CHECK(ok && strcmp(out, strs[i].want) == 0, "string %s decodes", strs[i].text);
        hc_jf_free(&d);
    }
    /* A cut string stays valid UTF-8. */
    hc_jf_doc d;
    char out[4];
    T_CHECK(hc_jf_parse(&d, "\"ab\xc3\xa9\"", 6) == 0 &&
                hc_jf_string(hc_jf_root(&d), out, sizeof out) && strcmp(out, "ab") == 0,
            "a string cut to its buffer is cut on a code point boundary");
    hc_jf_free(&d);
}

static void bounds(void)
{
    /* Depth: HC_JF_DEPTH levels parse, one more is refused. */
    size_t depth = HC_JF_DEPTH;
    char *deep = malloc(2 * depth + 2);
    memset(deep, '[', depth + 1);
    memset(deep + depth + 1, ']', depth + 1);
    hc_jf_doc d;
    T_EQ_INT(hc_jf_parse(&d, deep + 1, 2 * depth), 0, "%zu levels of nesting parse", depth);
    hc_jf_free(&d);
    T_EQ_INT(hc_jf_parse(&d, deep, 2 * depth + 2), HC_EPARSE, "one level more is refused");
    hc_jf_free(&d);
    free(deep);

    /* Nodes: past HC_JF_MAX_NODES the answer is HC_ETOOBIG, and the array
     * grew from the inline nodes to the heap on the way. */
    size_t n = HC_JF_MAX_NODES + 1;
    char *big = malloc(2 * n + 2);
    big[0] = '[';
    for (size_t i = 0; i < n; i++) {
        big[1 + 2 * i] = '0';
        big[2 + 2 * i] = ',';
    }
    big[2 * n] = ']';
    T_EQ_INT(hc_jf_parse(&d, big, 2 * n + 1), HC_ETOOBIG,
             "more than HC_JF_MAX_NODES nodes: HC_ETOOBIG");
    hc_jf_free(&d);
    big[2 * (n - 2)] = ']'; /* n-2 elements + the array: exactly at the bound */
    T_EQ_INT(hc_jf_parse(&d, big, 2 * (n - 2) + 1), 0, "HC_JF_MAX_NODES nodes parse");
    T_CHECK(d.n == HC_JF_MAX_NODES && d.nodes != d.inl, "on the heap, every node kept");
    hc_jf_free(&d);
    free(big);
}

/* ---- differential: the same tree as cJSON -------------------------------- */

/* Parse text (len bytes) with both; 1 if both accept and agree, 0 if they
 * disagree, -1 if cJSON refuses it (the fixtures are all valid JSON). */
static int differ(const char *text, size_t len, char *why, size_t whysz)
{
    why[0] = '\0';
    cJSON *c = cJSON_ParseWithLength(text, len);
    hc_jf_doc d;
    int r = hc_jf_parse(&d, text, len);
    int res;
    if (!c)
        res = r == 0 ? -1 : 1;
    else if (r != 0)
        res = (snprintf(why, whysz, "refused (%d) what cJSON accepts", r), 0);
    else
        res = jf_same_tree(c, hc_jf_root(&d), why, whysz) ? 1 : 0;
    cJSON_Delete(c);
    hc_jf_free(&d);
    return res;
}

static size_t ntexts, nagree;

static void check_text(const char *what, const char *text, size_t len)
{
    char why[128];
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    if (len == 0 || (len == 6 && memcmp(text, "[DONE]", 6) == 0))
        return;
    ntexts++;
    int r = differ(text, len, why, sizeof why);
    if (r == 1)
        nagree++;
    else
        T_CHECK(0, "%s: %s", what, r < 0 ? "cJSON refuses a fixture text we accept" : why);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        b[n] = '\0', *len = (size_t)n;
    return b;
}

static void fixture_file(const char *path)
{
    size_t len;
    char *b = slurp(path, &len);
    if (!b) {
        T_CHECK(0, "read %s", path);
        return;
    }
    size_t pl = strlen(path);
    bool sse = pl > 4 && strcmp(path + pl - 4, ".sse") == 0;
    bool nd = pl > 7 && strcmp(path + pl - 7, ".ndjson") == 0;
    if (!sse && !nd) {
        check_text(path, b, len);
    } else {
        for (char *line = b, *nl; line < b + len; line = nl + 1) {
            nl = memchr(line, '\n', (size_t)(b + len - line));
            if (!nl)
                nl = b + len;
            if (nd)
                check_text(path, line, (size_t)(nl - line));
            else if (nl - line > 5 && memcmp(line, "data:", 5) == 0)
                check_text(path, line + 5 + (line[5] == ' '),
                           (size_t)(nl - line - 5 - (line[5] == ' ')));
        }
    }
    free(b);
}

static void walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            walk(path);
        else if (strstr(e->d_name, ".json") || strstr(e->d_name, ".sse"))
            fixture_file(path);
    }
    closedir(d);
}

static void differential(void)
{
    walk(FIXTURES);
    T_CHECK(ntexts >= 150, "fixture texts read (%zu)", ntexts);
    T_EQ_INT((long)nagree, (long)ntexts, "every fixture text reads as the same tree as cJSON's");

    static const char *const extra[] = {
        "{\"k\\u00e9y\":\"v\\u00e9\",\"\\\"q\\\"\":[true,false,null],\"n\":[-1.25e2,0.5,1e-7,"
        "123456789012345678]}",
        "[[[[{}]]],[],{\"a\":[{\"b\":{\"c\":\"\\ud83d\\ude00\"}}]}]",
        "{\"usage\":{\"prompt_tokens\":1e3,\"completion_tokens\":2.9,\"total_tokens\":-0}}",
        "\"\\b\\f\\n\\r\\t\"",
    };
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
        char why[128];
        T_EQ_INT(differ(extra[i], strlen(extra[i]), why, sizeof why), 1, "same tree as cJSON: %s",
                 extra[i]);
    }
}

int main(void)
{
    grammar();
    navigation();
    numbers_and_strings();
    bounds();
    differential();
    return t_done();
}
