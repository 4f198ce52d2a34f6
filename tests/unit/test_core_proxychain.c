/* test_core_proxychain.c — core/proxychain.h: the upstream proxy's URL and NO_PROXY. */
#include "err.h"
#include "proxychain.h"
#include "t.h"

#include <string.h>

int main(void)
{
    static const struct {
        const char *url, *host, *auth;
        int port, rc;
    } cases[] = {
        { "http://proxy.corp:3128", "proxy.corp", "", 3128, 0 },
        { "http://proxy.corp:3128/", "proxy.corp", "", 3128, 0 },
        { "proxy.corp", "proxy.corp", "", 80, 0 },
        { "http://127.0.0.1:8080", "127.0.0.1", "", 8080, 0 },
        { "http://[::1]:8080", "::1", "", 8080, 0 },
        { "http://user:pa%40ss@p:1", "p", "Basic dXNlcjpwYUBzcw==", 1, 0 },   /* user:pa@ss */
        { "http://u:tok-123@127.0.0.1:9", "127.0.0.1", "Basic dTp0b2stMTIz", 9, 0 },
        { "https://proxy:443", "", "", 0, HC_EINVAL },
        { "socks5://p:1080", "", "", 0, HC_EINVAL },
        { "http://p:0", "", "", 0, HC_EINVAL },
        { "http://p:99999", "", "", 0, HC_EINVAL },
        { "http://p:12x", "", "", 0, HC_EINVAL },
        { "http://:80", "", "", 0, HC_EINVAL },
        { "", "", "", 0, HC_EINVAL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hc_proxy_url p;
        int rc = hc_proxy_url_parse(cases[i].url, &p);
        T_EQ_INT(rc, cases[i].rc, "parse '%s'", cases[i].url);
        if (rc == 0) {
            T_EQ_STR(p.host, cases[i].host, "'%s': host", cases[i].url);
            T_EQ_INT(p.port, cases[i].port, "'%s': port", cases[i].url);
            T_EQ_STR(p.auth, cases[i].auth, "'%s': Proxy-Authorization", cases[i].url);
        }
    }
    static const struct {
        const char *list, *host;
        bool match;
    } np[] = {
        { "*", "api.openai.com", true },
        { "localhost,127.0.0.1", "127.0.0.1", true },
        { "localhost,127.0.0.1", "127.0.0.2", false },
        { ".openai.com", "api.openai.com", true },
        { "openai.com", "api.openai.com", true },
        { "openai.com", "notopenai.com", false },
        { "openai.com", "openai.com", true },
        { "OpenAI.com", "API.openai.COM", true },
        { "a.b, c.d", "c.d", true },
        { "", "x", false },
        { NULL, "x", false },
    };
    for (size_t i = 0; i < sizeof np / sizeof np[0]; i++)
        T_EQ_INT(hc_no_proxy_match(np[i].list, np[i].host), np[i].match, "NO_PROXY '%s' vs %s",
                 np[i].list ? np[i].list : "(null)", np[i].host);
    return t_done();
}
