#!/usr/bin/python3
"""test_hc_gateway.py — hc-gateway, the core as a standalone service.

hc-gateway runs outside the clients (no LD_PRELOAD anywhere in this test)
with HC_ROUTE sending the providers to the mock:
  - base URL: http://ADDR/v1 is the one OpenAI-compatible endpoint (a Claude
    model translated, a GPT model passed through) for Python's urllib;
    http://ADDR/anthropic is Anthropic's own API for a client that sets
    ANTHROPIC_BASE_URL;
  - HTTPS proxy: curl and a static Go binary (which no preload can enter) reach
    https://api.openai.com through HTTPS_PROXY and trust the CA file hc-gateway
    wrote: their exchanges are recorded with the provider's exact tokens; a
    non-LLM HTTPS host through the same proxy presents its own certificate
    (tunnelled untouched) — compared with the same client run without the
    proxy;
  - access: a non-loopback --listen is refused without --allow-remote and a
    token; with a token, a connection without it gets 407/401, with it works;
    without a token, a connection from another local user (setpriv) gets 403;
  - misuse exits 2 naming the option; --help exits 0;
  - SIGTERM while a slow stream is in flight: the stream completes, the record
    is written, the process exits 0;
  - chaining: started under HTTPS_PROXY (a user's own proxy, here a small
    CONNECT proxy that wants credentials), both its provider connections and
    its tunnels go through that proxy.
"""
import json
import os
import shutil
import base64
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from hctest import BUILD, TAP, World  # noqa: E402

GATEWAY = os.path.join(BUILD, "hc-gateway")
KEYS = {"OPENAI_API_KEY": "sk-openai-SECRET-1111", "ANTHROPIC_API_KEY": "sk-ant-SECRET-2222"}
GO_SRC = r'''
// A static Go client: one chat completion to https://api.openai.com/v1, proxy and trust from the environment.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	url := "https://api.openai.com/v1/chat/completions"
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello from a static go binary"}]}`)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+os.Getenv("OPENAI_API_KEY"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s\n", resp.StatusCode, b)
}
'''


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on 127.0.0.1 that wants Basic u:pw and records its targets."""

    def __init__(self):
        self.targets, self.denied = [], 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        head = b""
        while b"\r\n\r\n" not in head:
            b = c.recv(1)
            if not b:
                c.close()
                return
            head += b
        lines = head.decode().split("\r\n")
        want = "Proxy-Authorization: Basic " + base64.b64encode(b"u:pw").decode()
        if want not in lines:
            self.denied += 1
            c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            c.close()
            return
        host, port = lines[0].split()[1].rsplit(":", 1)
        self.targets.append("%s:%s" % (host, port))
        u = socket.create_connection((host, int(port)))
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        socks = [c, u]
        while True:
            r, _, _ = select.select(socks, [], [], 30)
            if not r:
                break
            done = False
            for s_ in r:
                data = s_.recv(65536)
                if not data:
                    done = True
                    break
                (u if s_ is c else c).sendall(data)
            if done:
                break
        c.close()
        u.close()

    def close(self):
        self.sock.close()


def plain_env(**extra):
    """Environment with no shim and no proxy."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("HC_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    e.pop("LD_PRELOAD", None)
    e.update(extra)
    return e


class Gateway:
    def __init__(self, w, *args, **env):
        self.ready = os.path.join(w.dir, "ready-%d" % time.monotonic_ns())
        genv = w.env(**dict(KEYS, **env))
        genv.pop("LD_PRELOAD")
        self.log = open(os.path.join(w.dir, "gw.log"), "w+")
        self.p = subprocess.Popen([GATEWAY, "--listen", "127.0.0.1:0", "--ready-file", self.ready] + list(args),
                                  env=genv, stderr=self.log, stdout=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(self.ready) or self.p.poll() is not None:
                break
            time.sleep(0.05)
        self.info = dict(kv.split("=", 1) for kv in open(self.ready).read().split())
        self.addr, self.ca = self.info["listen"], self.info["ca"]

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(30)
        self.log.seek(0)
        return rc, self.log.read()


def post(url, body, headers=None, timeout=30):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def peer_cert_issuer(host, port, cafile, proxy=None):
    """openssl s_client's view of the server certificate's issuer (through a proxy or not)."""
    argv = ["openssl", "s_client", "-connect", "%s:%s" % (host, port), "-CAfile", cafile, "-brief"]
    if proxy:
        argv += ["-proxy", proxy]
    r = subprocess.run(argv, input="", capture_output=True, text=True, timeout=20, env=plain_env())
    issuer = [ln for ln in (r.stdout + r.stderr).splitlines() if "Peer certificate" in ln or "issuer" in ln.lower()]
    ok = "Verification: OK" in (r.stdout + r.stderr)
    return ok, "\n".join(issuer)


def main():
    t = TAP()
    if not os.path.exists(GATEWAY):
        t.ok(False, "build/hc-gateway exists")
        return t.done()
    r = subprocess.run([GATEWAY, "--help"], capture_output=True, text=True)
    t.ok(r.returncode == 0 and "--listen" in r.stdout and "CONNECT" in r.stdout, "--help: exit 0, usage on stdout")
    for argv, word in ((["--listen", "0.0.0.0:0"], "--allow-remote"),
                       (["--listen", "0.0.0.0:0", "--allow-remote"], "token"),
                       (["--listen", "nowhere"], "--listen"),
                       (["--drain", "x"], "--drain"),
                       (["--bogus"], "usage")):
        r = subprocess.run([GATEWAY] + argv, capture_output=True, text=True, env=plain_env())
        t.ok(r.returncode == 2 and word in r.stderr, "misuse %s: exit 2 naming %s" % (" ".join(argv), word), r.stderr)

    with World() as w:
        g = Gateway(w)
        base = "http://%s" % g.addr
        st, d = post(base + "/v1/chat/completions",
                     {"model": "claude-sonnet-4", "messages": [{"role": "user", "content": "hi there"}]},
                     {"Authorization": "Bearer sk-helicone-whatever"})
        t.ok(st == 200 and d["object"] == "chat.completion" and d["choices"][0]["message"]["content"].startswith("Mock answer"),
             "base URL /v1: a Claude model answered in chat completions form", d)
        q = w.mock.requests[-1]
        t.ok(q["path"] == "/v1/messages" and q["headers"].get("x-api-key") == KEYS["ANTHROPIC_API_KEY"],
             "base URL /v1: Anthropic got the translated request with ANTHROPIC_API_KEY")
        st, d = post(base + "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
        t.ok(st == 200 and d["model"].startswith("gpt-4o-mini") and
             w.mock.requests[-1]["headers"].get("authorization") == "Bearer " + KEYS["OPENAI_API_KEY"],
             "base URL /v1: a GPT model passed through to OpenAI with OPENAI_API_KEY")
        st, d = post(base + "/anthropic/v1/messages",
                     {"model": "claude-sonnet-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]},
                     {"x-api-key": "sk-ant-the-apps-own", "anthropic-version": "2023-06-01"})
        t.ok(st == 200 and d.get("type") == "message" and
             w.mock.requests[-1]["headers"].get("x-api-key") == "sk-ant-the-apps-own",
             "base URL /anthropic: Anthropic's own API with the app's own key (ANTHROPIC_BASE_URL)")

        # HTTPS proxy: curl trusting the CA file.
        body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "through the proxy"}]})
        r = subprocess.run(["curl", "-sS", "https://api.openai.com/v1/chat/completions", "-H", "Content-Type: application/json",
                            "-H", "Authorization: Bearer " + KEYS["OPENAI_API_KEY"], "-d", body],
                           capture_output=True, text=True, timeout=30,
                           env=plain_env(HTTPS_PROXY=base, CURL_CA_BUNDLE=g.ca))
        t.ok(r.returncode == 0 and "Mock answer" in r.stdout, "proxy: curl reaches api.openai.com through CONNECT", r.stderr)
        recs = w.records(wait_for=4)
        t.ok(len(recs) == 4 and recs[-1]["host"] == "api.openai.com" and recs[-1]["tok_in"] == 7 and
             recs[-1]["program"] == "hc-gateway", "proxy: the exchange is recorded with the provider's tokens",
             recs[-1:] and {k: recs[-1][k] for k in ("host", "tok_in", "program")})

        # A static Go binary through the proxy.
        go = shutil.which("go")
        if not go:
            t.ok(True, "# SKIP go is not installed")
        else:
            d = os.path.join(w.dir, "goclient")
            os.makedirs(d)
            with open(os.path.join(d, "main.go"), "w") as f:
                f.write(GO_SRC)
            gocache = os.path.join(os.environ.get("TMPDIR", "/tmp"), "hcshim-test-gocache")
            r = subprocess.run([go, "build", "-o", "client", "main.go"], cwd=d, capture_output=True, text=True, timeout=300,
                               env=plain_env(CGO_ENABLED="0", GOCACHE=gocache, GOFLAGS="-mod=mod", HOME=w.dir,
                                             GOPATH=os.path.join(w.dir, "gopath")))
            binary = os.path.join(d, "client")
            static = r.returncode == 0 and b"ld-linux" not in open(binary, "rb").read(4096)
            t.ok(static, "a static Go client builds", r.stderr[-300:])
            if static:
                r = subprocess.run([binary], capture_output=True, text=True, timeout=60,
                                   env=plain_env(OPENAI_API_KEY=KEYS["OPENAI_API_KEY"], HTTPS_PROXY=base, SSL_CERT_FILE=g.ca))
                t.ok(r.stdout.startswith("200 ") and "Mock answer" in r.stdout, "proxy: the static Go binary is answered",
                     r.stdout[:200] + r.stderr[-200:])
                recs = w.records(wait_for=5)
                # "hello from a static go binary" = 6 words + 4 = 10 prompt tokens by the mock's rule
                t.ok(len(recs) == 5 and recs[-1]["tok_in"] == 10 and recs[-1]["tok_out"] == 12 and recs[-1]["cost_nusd"] > 0,
                     "proxy: the Go exchange is recorded with exact tokens (10 in, 12 out)",
                     recs[-1:] and {k: recs[-1][k] for k in ("tok_in", "tok_out", "cost_nusd")})
                r = subprocess.run([binary], capture_output=True, text=True, timeout=30,
                                   env=plain_env(OPENAI_API_KEY="x", HTTPS_PROXY=base))
                t.ok(r.returncode != 0 and "certificate" in r.stdout,
                     "proxy: without the CA the Go client refuses the gateway's certificate (TLS never weakened)",
                     r.stdout[-200:])

        # A non-LLM HTTPS host through the proxy sees the server's own certificate.
        port = w.mock.url.rsplit(":", 1)[1]
        ok_direct, iss_direct = peer_cert_issuer("127.0.0.1", port, w.pki["ca"])
        ok_proxy, iss_proxy = peer_cert_issuer("127.0.0.1", port, w.pki["ca"], proxy=g.addr)
        t.ok(ok_direct and ok_proxy and iss_proxy == iss_direct and iss_direct,
             "proxy: a non-LLM host is tunnelled untouched (same certificate, verified by its own CA)",
             (iss_direct, iss_proxy))
        ok_gw, _ = peer_cert_issuer("127.0.0.1", port, g.ca, proxy=g.addr)
        t.ok(not ok_gw, "proxy: that host's certificate is not one the gateway made")

        # Another local user may not spend this user's keys (no token: same user only).
        setpriv = shutil.which("setpriv")
        if os.geteuid() != 0 or not setpriv:
            t.ok(True, "# SKIP not root or no setpriv: cannot act as another user")
        else:
            n = len(w.mock.requests)
            r = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", base + "/v1/chat/completions",
                                "-H", "Content-Type: application/json",
                                "-d", json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})],
                               capture_output=True, text=True, timeout=30, env=plain_env())
            t.ok(r.stdout == "403" and len(w.mock.requests) == n,
                 "another local user is refused (403) and nothing goes upstream", r.stdout + r.stderr)

        # Graceful shutdown: SIGTERM during a slow stream.
        w.mock.configure(chunk_delay_ms=150)
        n0 = len(w.records())
        stream_body = json.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "slow"}]})
        p = subprocess.Popen(["curl", "-sS", "-N", base + "/v1/chat/completions", "-H", "Content-Type: application/json",
                              "-d", stream_body], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=plain_env())
        time.sleep(0.5)
        rc, log = g.stop()
        out, err = p.communicate(timeout=30)
        w.mock.configure(chunk_delay_ms=0)
        t.ok(rc == 0, "SIGTERM: exit 0")
        t.ok(out.rstrip().endswith("data: [DONE]"), "SIGTERM: the in-flight stream finished", out[-200:] + err)
        recs = w.records(wait_for=n0 + 1)
        t.ok(len(recs) == n0 + 1 and recs[-1]["tok_out"] > 0 and not recs[-1]["error"],
             "SIGTERM: its record was written", recs[-1:] and recs[-1]["error"])
        lines = [ln for ln in log.splitlines() if ln.startswith("ts=")]
        t.ok(any("event=listening" in ln for ln in lines) and any("event=draining" in ln for ln in lines) and
             any("event=stopped" in ln for ln in lines) and all(" level=" in ln for ln in lines),
             "logs: logfmt lines for listening, draining, stopped", log[-600:])
        t.ok(any("event=exchange" in ln and "provider=anthropic" in ln and "status=200" in ln and " in=" in ln and
                 "cost_usd=" in ln for ln in lines), "logs: one exchange line per request (provider, status, tokens, cost)")
        t.ok(not any(k in log for k in KEYS.values()), "logs: no key")
        t.ok(not os.path.exists(g.ca), "the CA file it chose is removed at exit")

        # A token: required on every connection.
        g = Gateway(w, "--token", "tok-123")
        base = "http://%s" % g.addr
        st, _ = post(base + "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
        t.eq(st, 401, "token: the base URL without it is refused (401)")
        st, d = post(base + "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
                     {"Authorization": "Bearer tok-123"})
        t.eq(st, 200, "token: the base URL with Authorization: Bearer TOKEN works (the Helicone key slot)")
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "https://api.openai.com/v1/models"],
                           capture_output=True, text=True, timeout=30, env=plain_env(HTTPS_PROXY=base, CURL_CA_BUNDLE=g.ca))
        t.ok(r.returncode != 0 and "407" in (r.stdout + r.stderr), "token: CONNECT without it gets 407", r.stdout + r.stderr)
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "https://api.openai.com/v1/models",
                            "-H", "Authorization: Bearer x"], capture_output=True, text=True, timeout=30,
                           env=plain_env(HTTPS_PROXY="http://u:tok-123@%s" % g.addr, CURL_CA_BUNDLE=g.ca))
        t.ok(r.returncode == 0 and r.stdout == "200", "token: CONNECT with user:TOKEN@ in HTTPS_PROXY works", r.stdout + r.stderr)
        rc, log = g.stop()
        t.ok(rc == 0 and "tok-123" not in log and "event=denied" in log, "token: denials logged, the token never")

        # Chaining to the user's own proxy: every host it cannot reach itself goes through it,
        # never loopback or an HC_ROUTE target (the proxy cannot reach this host's loopback).
        up = ConnectProxy()
        g = Gateway(w, HTTPS_PROXY="http://u:pw@127.0.0.1:%d" % up.port, NO_PROXY=None, no_proxy=None)
        base = "http://%s" % g.addr
        st, d = post(base + "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
        t.ok(st == 200 and up.targets == [],
             "chaining: a provider routed (HC_ROUTE) to a loopback mock is reached directly, not through the proxy",
             (st, up.targets))
        ok_proxy, iss = peer_cert_issuer("127.0.0.1", port, w.pki["ca"], proxy=g.addr)
        t.ok(ok_proxy and up.targets == [], "chaining: a tunnel to 127.0.0.1 does not go through the proxy", up.targets)
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time", "10", "-x", base,
                            "https://intranet.example.invalid:8443/"], capture_output=True, text=True, timeout=30)
        t.ok(up.targets == ["intranet.example.invalid:8443"],
             "chaining: a tunnel for another host goes through the user's proxy (CONNECT with its credentials)",
             up.targets)
        rc, log = g.stop()
        t.ok(rc == 0 and "pw@" not in log and "upstream_proxy=127.0.0.1:%d" % up.port in log,
             "chaining: logged without the proxy's password", log[-400:])
        up.close()
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
