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
    Proxy-Authorization) never reaches the provider;
  - idle connections cannot hold threads: another local user's are closed at
    once (setpriv), the same user's after the head deadline (10 s), and at
    most 64 wait at a time;
  - an HTTPS_PROXY naming the gateway itself is ignored (said in the log) and
    a CONNECT that passed through the gateway already (Via) is refused 508;
  - logs: a Gemini ?key= in the request target is redacted; a model name
    with quotes and newlines cannot forge a log line;
  - a remote token holder cannot CONNECT to the gateway host's loopback.
"""
import http.client
import shutil
import socket
import subprocess
import time
import json
import os
import re
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

        # Idle connections.
        g = Gateway(w)
        host, p = g.addr.rsplit(":", 1)
        setpriv = shutil.which("setpriv")
        if os.geteuid() != 0 or not setpriv:
            t.ok(True, "# SKIP not root or no setpriv: cannot act as another user")
        else:
            script = ("import socket,time\n"
                      "ss=[socket.create_connection(('%s',%s)) for _ in range(40)]\n"
                      "time.sleep(0.3); t0=time.time(); closed=0\n"
                      "for s in ss:\n"
                      "    s.settimeout(3)\n"
                      "    try: closed += s.recv(100).startswith(b'HTTP/1.1 403')\n"
                      "    except Exception: pass\n"
                      "print(closed, round(time.time()-t0,1))\n") % (host, p)
            r = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--", sys.executable, "-c",
                                script], capture_output=True, text=True, timeout=60)
            parts = r.stdout.split()
            t.ok(len(parts) == 2 and parts[0] == "40" and float(parts[1]) < 3,
                 "another user's 40 idle connections are answered 403 at once, before any request",
                 r.stdout + r.stderr[-300:])
        idle = [socket.create_connection((host, int(p))) for _ in range(80)]
        time.sleep(1.0)
        threads = int([ln for ln in open("/proc/%d/status" % g.p.pid) if ln.startswith("Threads:")][0].split()[1])
        t.ok(threads < 80, "80 idle connections of the same user hold at most 64 threads (%d)" % threads)
        for s_ in idle:
            s_.settimeout(15)
        t0 = time.monotonic()
        closed = 0
        for s_ in idle:
            try:
                closed += s_.recv(100) in (b"",) or s_.recv(100) == b""
            except OSError:
                closed += 1
        took = time.monotonic() - t0
        for s_ in idle:
            s_.close()
        t.ok(closed == 80 and took < 14, "idle connections are closed by the head deadline (%d closed, %.1fs)" % (closed, took))
        st, _ = request(g.addr, "POST", "/v1/chat/completions", CHAT, js)
        t.eq(st, 200, "afterwards the gateway serves as before")

        # Logs: a Gemini key in the URL; a model name that tries to forge a line.
        request(g.addr, "POST", "/google/v1beta/models/gemini-2.0-flash:generateContent?key=AIzaSECRET-LOG-777",
                {"contents": [{"parts": [{"text": "x"}]}]}, js)
        request(g.addr, "POST", "/openai/v1/chat/completions",
                dict(CHAT, model='gpt-4o-mini" status=999\nts=forged level=error event=forged'),
                dict(js, Authorization="Bearer sk-x"))
        rc, log = g.stop()
        t.ok("AIzaSECRET-LOG-777" not in log and "generateContent" in log, "logs: a ?key= in the target is redacted",
             [ln for ln in log.splitlines() if "generateContent" in ln])
        forged = [ln for ln in log.splitlines() if "forged" in ln]
        t.ok(forged and not any(ln.startswith("ts=forged") for ln in log.splitlines()) and
             all(re.search(r'model="[^"]*forged[^"]*" status=\d+ ', ln) for ln in forged),
             "logs: the model name cannot start a line or close its quotes",
             [ln for ln in log.splitlines() if "forged" in ln])

        # An HTTPS_PROXY naming the gateway itself; a looped CONNECT.
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        g = Gateway(w, "--listen", "127.0.0.1:%d" % port, HTTPS_PROXY="http://127.0.0.1:%d" % port)
        mport = w.mock.url.rsplit(":", 1)[1]
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", w.pki["ca"],
                            "-x", "http://127.0.0.1:%d" % port, "https://127.0.0.1:%s/v1/models" % mport],
                           capture_output=True, text=True, timeout=30)
        t.ok(r.stdout not in ("", "000"), "a tunnel works although HTTPS_PROXY names the gateway itself",
             r.stdout + r.stderr)
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nVia: 1.1 hcshim-%d\r\n\r\n"
                  % (mport.encode(), mport.encode(), g.p.pid))
        c.settimeout(10)
        first = c.recv(100)
        c.close()
        t.ok(first.startswith(b"HTTP/1.1 508"), "a CONNECT carrying this gateway's own Via mark is refused 508", first)
        rc, log = g.stop()
        t.ok("is this gateway itself" in log and "upstream_proxy=none" in log,
             "the self-naming upstream proxy is ignored and the log says so", log[-600:])

        # A remote token holder and the gateway host's loopback.
        addr = "10.213.7.1"
        r = subprocess.run(["ip", "addr", "add", addr + "/32", "dev", "lo"], capture_output=True, text=True)
        if r.returncode != 0 and "exists" not in r.stderr:
            t.ok(True, "# SKIP cannot add a non-loopback address here: " + r.stderr.strip())
        else:
            g = Gateway(w, "--listen", addr + ":0", "--allow-remote", "--token", "tk-1")
            gh, gp = g.addr.rsplit(":", 1)
            c = socket.create_connection((gh, int(gp)), source_address=(addr, 0))
            c.sendall(b"CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nProxy-Authorization: Bearer tk-1\r\n\r\n"
                      % (mport.encode(), mport.encode()))
            c.settimeout(10)
            first = c.recv(100)
            c.close()
            t.ok(first.startswith(b"HTTP/1.1 403"), "a remote peer's CONNECT to 127.0.0.1 is refused 403", first)
            g.stop()
            subprocess.run(["ip", "addr", "del", addr + "/32", "dev", "lo"], capture_output=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
