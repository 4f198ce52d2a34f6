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
        { "http://user:pa%40ss@p:1", "p", "Basic dXNlcjpwYUBzcw==", 1, 0 }, /* user:pa@ss */
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

    /* CIDR blocks and host:port entries (NO_PROXY=127.0.0.0/8,proxy.corp:8080). */
    static const struct {
        const char *list, *host;
        int port;
        bool match;
    } npp[] = {
        { "127.0.0.0/8", "127.0.0.1", 8080, true },
        { "127.0.0.0/8", "127.1.2.3", 0, true },
        { "10.0.0.0/8", "11.0.0.1", 443, false },
        { "10.1.0.0/16", "10.1.200.3", 443, true },
        { "fd00::/8", "fd12::1", 443, true },
        { "fd00::/8", "fe80::1", 443, false },
        { "10.0.0.0/8", "ten.example", 443, false },
        { "10.0.0.0/33", "10.0.0.1", 443, false },
        { "api.local:8080", "api.local", 8080, true },
        { "api.local:8080", "api.local", 443, false },
        { "api.local:8080", "api.local", 0, false },
        { "[::1]:8080", "::1", 8080, true },
        { "[::1]:8080", "::1", 9090, false },
        { "::1", "::1", 9090, true },
        { ".corp:443", "git.corp", 443, true },
        { "a.com, 10.0.0.0/8 ,b.com:80", "b.com", 80, true },
    };
    for (size_t i = 0; i < sizeof npp / sizeof npp[0]; i++)
        T_EQ_INT(hc_no_proxy_match_port(npp[i].list, npp[i].host, npp[i].port), npp[i].match,
                 "NO_PROXY '%s' vs %s:%d", npp[i].list, npp[i].host, npp[i].port);

    /* Loopback and HC_ROUTE targets never go through the upstream proxy. */
    static hc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.routes[0].target, sizeof cfg.routes[0].target, "litellm.internal");
    cfg.routes[0].port = 4000;
    cfg.nroutes = 1;
    T_EQ_INT(hc_proxy_bypass(&cfg, "127.0.0.1", 8080), true, "127.0.0.1 bypasses the proxy");
    T_EQ_INT(hc_proxy_bypass(&cfg, "localhost", 8080), true, "localhost bypasses the proxy");
    T_EQ_INT(hc_proxy_bypass(&cfg, "::1", 8080), true, "::1 bypasses the proxy");
    T_EQ_INT(hc_proxy_bypass(&cfg, "litellm.internal", 4000), true,
             "an HC_ROUTE target bypasses the proxy");
    T_EQ_INT(hc_proxy_bypass(&cfg, "litellm.internal", 443), false, "... on its port only");
    T_EQ_INT(hc_proxy_bypass(&cfg, "api.openai.com", 443), false,
             "a provider goes through the proxy");
    snprintf(cfg.no_proxy, sizeof cfg.no_proxy, "10.0.0.0/8");
    T_EQ_INT(hc_proxy_bypass(&cfg, "10.2.3.4", 443), true, "NO_PROXY CIDR applies");
    return t_done();
}
