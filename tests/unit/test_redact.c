/* test_redact.c — redact.h: credentials out of every URL the product keeps. */
#include "redact.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const struct {
    const char *in, *want;
} cases[] = {
    { "https://api.openai.com/v1/chat", "https://api.openai.com/v1/chat" },
    { "/v1beta/models/g:generateContent?key=AIzaSECRET",
      "/v1beta/models/g:generateContent?key=REDACTED" },
    { "https://user:sk-SECRET@host:8443/v1?x=1", "https://REDACTED@host:8443/v1?x=1" },
    { "http://sk-SECRET@host/", "http://REDACTED@host/" },
    { "https://h/p?subscription-key=S1&api-version=2024",
      "https://h/p?subscription-key=REDACTED&api-version=2024" },
    { "https://h/p?auth_token=S2", "https://h/p?auth_token=REDACTED" },
    { "https://h/p?%6Bey=S3&%6b%45Y=S4", "https://h/p?%6Bey=REDACTED&%6b%45Y=REDACTED" },
    { "https://h/p?a=1;key=S5;b=2", "https://h/p?a=1;key=REDACTED;b=2" },
    { "https://h/p?X-Amz-Signature=S6&X-Amz-Credential=S7",
      "https://h/p?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED" },
    { "https://h/p?access_token=S8&sig=S9&code=S10",
      "https://h/p?access_token=REDACTED&sig=REDACTED&code=REDACTED" },
    { "https://h/p?model=gpt&stream=true", "https://h/p?model=gpt&stream=true" },
    { "https://h/p?key", "https://h/p?key" }, /* no value: nothing to hide */
    { "https://h/p?Authorization=Bearer%20S11", "https://h/p?Authorization=REDACTED" },
    { "https://h/a@b/p", "https://h/a@b/p" }, /* '@' in the path is not userinfo */
    { "/p?q=a@b", "/p?q=a@b" },
    { "", "" },
};

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        hc_url_redact(out, sizeof out, cases[i].in);
        T_EQ_STR(out, cases[i].want, "redact %s", cases[i].in);
        T_CHECK(!strstr(out, "SECRET") && !strstr(out, "=S"), "no credential left in %s", out);
    }
    char small[12];
    hc_url_redact(small, sizeof small, "https://u:SECRETSECRET@h/");
    T_CHECK(strlen(small) == 11 && !strstr(small, "SECRET"),
            "truncated output keeps no credential: %s", small);
    T_CHECK(hc_url_secret_param("x-api-key", 9) && !hc_url_secret_param("model", 5),
            "secret_param names");

    /* hc_url_redact_buf reads only n bytes: the target of a request head is
     * not NUL-terminated. The URL ends right before an unreadable page (any
     * read past it faults), and inside a larger buffer whose next bytes hold
     * an '@' and no / ? # (must not count as userinfo). */
    static const char tail[] = "https://u:SECRET@host.example";
    long pg = sysconf(_SC_PAGESIZE);
    char *map =
        mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T_CHECK(map != MAP_FAILED && mprotect(map + pg, (size_t)pg, PROT_NONE) == 0, "guard page");
    if (map != MAP_FAILED) {
        char *u = map + pg - (sizeof tail - 1);
        memcpy(u, tail, sizeof tail - 1);
        hc_buf b = HC_BUF_INIT;
        T_CHECK(hc_url_redact_buf(&b, u, sizeof tail - 1) == 0 &&
                    b.len == strlen("https://REDACTED@host.example") &&
                    memcmp(b.data, "https://REDACTED@host.example", b.len) == 0,
                "unterminated URL before a guard page");
        hc_buf_free(&b);
        munmap(map, (size_t)pg * 2);
    }
    char *h = malloc(32);
    memcpy(h, "http://host.example@evil.example", 32); /* n = 19: "http://host.example" */
    hc_buf b = HC_BUF_INIT;
    T_CHECK(hc_url_redact_buf(&b, h, 19) == 0 && b.len == 19 && memcmp(b.data, h, 19) == 0,
            "bytes past n are not the URL's");
    hc_buf_free(&b);
    free(h);
    return t_done();
}
