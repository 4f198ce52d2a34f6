#!/usr/bin/python3
"""test_hc_gateway_access.py — who may spend the keys hc-gateway holds.

hc-gateway runs with provider keys in its environment and HC_ROUTE sending
the providers to the mock (no LD_PRELOAD anywhere):
  - web pages: the user's own browser passes the same-user check, so the base
    URL refuses (403, nothing upstream) a Host that does not name the gateway
    (DNS rebinding: Host: attacker.example), any request with Origin, and a
    cross-site Sec-Fetch-Site — also on a keep-alive connection whose first
    request was fine; localhost:PORT and 127.0.0.1:PORT keep working;
  - the unified endpoint spends a key from the environment only on a JSON POST
    to an inference path: GET /v1/files or DELETE /v1/files/ID with a "model"
    body, or a text/plain POST, get 405/404/415 and reach no provider;
  - the token is the gateway's: the header that carried it (and
    Proxy-Authorization) never reaches the provider.
"""
import http.client
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from hctest import TAP, World  # noqa: E402
from test_hc_gateway import GATEWAY, KEYS, Gateway  # noqa: E402

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}


def request(conn_or_addr, method, path, body=None, headers=None):
    """(status, body text) of one request; conn_or_addr is an HTTPConnection (kept) or HOST:PORT."""
    conn = conn_or_addr
    if isinstance(conn_or_addr, str):
        host, port = conn_or_addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=20)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    conn.request(method, path, body=data, headers=headers or {})
    r = conn.getresponse()
    text = r.read().decode(errors="replace")
    if isinstance(conn_or_addr, str):
        conn.close()
    return r.status, text


def leaked(w, n0):
    """Did any provider request since n0 carry a key from the gateway's environment?"""
    for q in w.mock.requests[n0:]:
        blob = json.dumps(q["headers"])
        if any(k in blob for k in KEYS.values()):
            return True
    return False


def main():
    t = TAP()
    if not os.path.exists(GATEWAY):
        t.ok(False, "build/hc-gateway exists")
        return t.done()
    with World() as w:
        g = Gateway(w)
        port = g.addr.rsplit(":", 1)[1]
        js = {"Content-Type": "application/json"}

        # DNS rebinding and web pages.
        n0 = len(w.mock.requests)
        st, _ = request(g.addr, "GET", "/v1/files", {"model": "gpt-4o"},
                        dict(js, Host="attacker.example", Origin="http://attacker.example"))
        t.ok(st == 403 and len(w.mock.requests) == n0, "rebinding: GET /v1/files with Host: attacker.example is refused (403)",
             st)
        st, _ = request(g.addr, "POST", "/v1/chat/completions", CHAT, dict(js, Host="attacker.example:%s" % port))
        t.ok(st == 403 and len(w.mock.requests) == n0, "rebinding: a chat request with a foreign Host is refused", st)
        st, _ = request(g.addr, "POST", "/v1/chat/completions", CHAT, dict(js, Origin="http://evil.example"))
        t.ok(st == 403 and len(w.mock.requests) == n0, "web page: a request with Origin is refused", st)
        st, _ = request(g.addr, "POST", "/v1/chat/completions", CHAT, dict(js, **{"Sec-Fetch-Site": "cross-site"}))
        t.ok(st == 403 and len(w.mock.requests) == n0, "web page: Sec-Fetch-Site: cross-site is refused", st)
        st, _ = request(g.addr, "DELETE", "/v1/files/file-abc", '{"model":"gpt-4o"}',
                        {"Content-Type": "text/plain", "Host": "attacker.example", "Origin": "http://attacker.example"})
        t.ok(st == 403 and len(w.mock.requests) == n0, "web page: DELETE /v1/files/file-abc text/plain is refused", st)

        # What the unified endpoint spends keys on.
        st, _ = request(g.addr, "GET", "/v1/files", {"model": "gpt-4o"}, js)
        t.ok(st == 405 and len(w.mock.requests) == n0, "unified: GET /v1/files with a model body: 405, nothing upstream", st)
        st, _ = request(g.addr, "DELETE", "/v1/files/file-abc", '{"model":"gpt-4o"}', {"Content-Type": "text/plain"})
        t.ok(st in (405, 415) and len(w.mock.requests) == n0, "unified: DELETE /v1/files/ID: refused, nothing upstream", st)
        st, _ = request(g.addr, "POST", "/v1/files", {"model": "gpt-4o"}, js)
        t.ok(st == 404 and len(w.mock.requests) == n0, "unified: POST /v1/files (not inference): 404, nothing upstream", st)
        st, _ = request(g.addr, "POST", "/v1/chat/completions", json.dumps(CHAT), {"Content-Type": "text/plain"})
        t.ok(st == 415 and len(w.mock.requests) == n0, "unified: a text/plain POST (no CORS preflight): 415", st)
        t.ok(not leaked(w, n0), "no key reached any upstream for the refused requests")

        # Still served: the documented base URLs.
        for host in ("127.0.0.1:%s" % port, "localhost:%s" % port):
            st, d = request(g.addr, "POST", "/v1/chat/completions", CHAT,
                            {"Content-Type": "application/json; charset=utf-8", "Host": host})
            t.ok(st == 200 and "Mock answer" in d, "Host: %s with a JSON POST is served" % host, (st, d[:200]))
        st, d = request(g.addr, "POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x"}, js)
        t.ok(st == 200, "unified: /v1/embeddings is served", (st, d[:200]))
        st, d = request(g.addr, "GET", "/openai/v1/models", None, {"Authorization": "Bearer sk-apps-own"})
        t.ok(st == 200 and w.mock.requests[-1]["headers"].get("authorization") == "Bearer sk-apps-own",
             "/<provider>/…: the provider's own API with the app's own key, any method", (st, d[:200]))

        # Keep-alive: a later request on the same connection is checked too.
        host, p = g.addr.rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(p), timeout=20)
        st1, _ = request(c, "POST", "/v1/chat/completions", CHAT, js)
        n1 = len(w.mock.requests)
        st2, _ = request(c, "POST", "/v1/chat/completions", CHAT, dict(js, Origin="http://evil.example"))
        c.close()
        t.ok(st1 == 200 and st2 == 403 and len(w.mock.requests) == n1,
             "keep-alive: the second request, with Origin, is refused", (st1, st2))
        rc, log = g.stop()
        t.ok(rc == 0 and not any(k in log for k in KEYS.values()), "exit 0; no key in the log")

        # The token is the gateway's, never the provider's.
        g = Gateway(w, "--token", "tok-SECRET-123")
        n0 = len(w.mock.requests)
        st, d = request(g.addr, "POST", "/anthropic/v1/messages",
                        {"model": "claude-sonnet-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]},
                        dict(js, Authorization="Bearer tok-SECRET-123", **{"x-api-key": "sk-ant-apps-own",
                                                                            "anthropic-version": "2023-06-01"}))
        hdrs = w.mock.requests[-1]["headers"] if len(w.mock.requests) > n0 else {}
        t.ok(st == 200 and hdrs.get("x-api-key") == "sk-ant-apps-own" and "tok-SECRET-123" not in json.dumps(hdrs),
             "token: the Authorization that carried it is not sent to the provider", (st, hdrs))
        st, d = request(g.addr, "POST", "/openai/v1/chat/completions", CHAT,
                        dict(js, Authorization="Bearer sk-openai-apps-own",
                             **{"Proxy-Authorization": "Bearer tok-SECRET-123"}))
        hdrs = w.mock.requests[-1]["headers"]
        t.ok(st == 200 and hdrs.get("authorization") == "Bearer sk-openai-apps-own" and
             "proxy-authorization" not in {k.lower() for k in hdrs}, "token: Proxy-Authorization is not sent upstream",
             (st, hdrs))
        rc, log = g.stop()
        t.ok(rc == 0 and "tok-SECRET-123" not in log, "token: never logged")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
