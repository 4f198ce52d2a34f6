#!/usr/bin/python3
"""test_hc_run_proxy.py — hc-run --proxy: programs the preload cannot enter.

  - A static Go binary under plain `hc-run -- BINARY`: hc-run sees it has no
    ELF interpreter, says so in one stderr line, and captures it through an
    hc-gateway it starts (HTTPS_PROXY and SSL_CERT_FILE for the child only);
    the record has the provider's exact tokens and hc-run's --property.
  - OpenAI's Codex CLI (@openai/codex: `codex exec`, a static-pie musl binary,
    from tests/node/node_modules) under `hc-run --proxy`: its Responses API
    stream is recorded, and the tokens Codex itself reports equal the record's.
  - `hc-run --proxy -- curl` with HC_GATEWAY_URL/HC_GATEWAY_CA reuses a
    running hc-gateway instead of starting one; no gateway is left behind.
  - Only HTTPS goes through the gateway: the child gets no HTTP_PROXY (the
    gateway answers an absolute-form plain-http request with 501; that would
    break every plain-http download of the wrapped program).
  - The environment outside the child is untouched, and the child gets no
    LD_PRELOAD from hc-run in proxy mode.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from hctest import BUILD, ROOT, TAP, World  # noqa: E402

HC_RUN = os.path.join(ROOT, "scripts", "hc-run")
GATEWAY = os.path.join(BUILD, "hc-gateway")
KEY = "sk-openai-SECRET-5555"
CODEX = glob.glob(os.path.join(ROOT, "tests", "node", "node_modules", "@openai", "codex-linux-x64", "vendor",
                               "x86_64-unknown-linux-musl", "bin", "codex"))
GO_SRC = r'''
package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello from a static go binary"}]}`)
	req, _ := http.NewRequest("POST", "https://api.openai.com/v1/chat/completions", bytes.NewReader(body))
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
	fmt.Printf("LD_PRELOAD=%q\n", os.Getenv("LD_PRELOAD"))
}
'''


def env_for(w, **extra):
    """The World's settings (store, routes, CA for upstreams) without the preload and without NO_PROXY=*."""
    e = w.env(OPENAI_API_KEY=KEY, **extra)
    for k in ("LD_PRELOAD", "NO_PROXY", "no_proxy"):
        e.pop(k, None)
    e["HC_GATEWAY_BIN"] = GATEWAY
    return e


def gateways_running():
    out = subprocess.run(["pgrep", "-f", "^" + GATEWAY], capture_output=True, text=True).stdout.split()
    return [p for p in out if p]


def main():
    t = TAP()
    with World() as w:
        before = set(gateways_running())
        go = shutil.which("go")
        if not go:
            t.ok(True, "# SKIP go is not installed")
        else:
            d = os.path.join(w.dir, "go")
            os.makedirs(d)
            with open(os.path.join(d, "main.go"), "w") as f:
                f.write(GO_SRC)
            r = subprocess.run([go, "build", "-o", "client", "main.go"], cwd=d, capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, CGO_ENABLED="0", HOME=w.dir, GOFLAGS="-mod=mod",
                                        GOCACHE=os.path.join(os.environ.get("TMPDIR", "/tmp"), "hcshim-test-gocache"),
                                        GOPATH=os.path.join(w.dir, "gopath")))
            binary = os.path.join(d, "client")
            if t.ok(r.returncode == 0, "a static Go client builds", r.stderr[-300:]):
                r = subprocess.run([HC_RUN, "--property", "Step=go", "--", binary], env=env_for(w),
                                   capture_output=True, text=True, timeout=90)
                lines = [ln for ln in r.stderr.splitlines() if ln.startswith("hc-run:")]
                t.ok(len(lines) == 1 and "static binary" in lines[0] and "--proxy" in lines[0],
                     "hc-run says once that a static binary goes through the proxy", r.stderr[-400:])
                t.ok(r.returncode == 0 and r.stdout.startswith("200 ") and "Mock answer" in r.stdout,
                     "the static Go binary is answered through hc-gateway", r.stdout[:200] + r.stderr[-300:])
                t.ok('LD_PRELOAD=""' in r.stdout, "no LD_PRELOAD is set for the child in proxy mode")
                recs = w.records(wait_for=1)
                t.ok(len(recs) == 1 and recs[0]["tok_in"] == 10 and recs[0]["tok_out"] == 12 and
                     recs[0]["props"] == {"Step": "go"} and recs[0]["cost_nusd"] > 0,
                     "recorded with exact tokens (10 in, 12 out) and hc-run's property",
                     recs and {k: recs[0][k] for k in ("tok_in", "tok_out", "props")})
                r = subprocess.run([HC_RUN, "--mode", "off", "--", binary], env=env_for(w), capture_output=True,
                                   text=True, timeout=60)
                t.ok("static binary" not in r.stderr, "--mode off: no proxy for a static binary")

        if not CODEX:
            t.ok(True, "# SKIP @openai/codex is not installed in tests/node")
        else:
            home = os.path.join(w.dir, "home")
            os.makedirs(os.path.join(home, ".codex"))
            w.reset_store()
            r = subprocess.run([HC_RUN, "--proxy", "--", CODEX[0], "exec", "--skip-git-repo-check", "-m", "gpt-4o-mini",
                                "say hello to the proxy"],
                               env=env_for(w, CODEX_API_KEY=KEY, HOME=home, CODEX_HOME=os.path.join(home, ".codex")),
                               capture_output=True, text=True, timeout=180, cwd=w.dir, stdin=subprocess.DEVNULL)
            out = r.stdout + r.stderr
            t.ok(r.returncode == 0 and "Mock answer" in out, "codex exec is answered through hc-run --proxy", out[-600:])
            m = re.search(r"tokens used\s*\n\s*([\d,]+)", out)
            recs = [x for x in w.records(wait_for=1) if x["api"] == "responses" and x["status"] == 200]
            t.ok(len(recs) == 1 and recs[0]["model_req"] == "gpt-4o-mini" and recs[0]["program"] == "hc-gateway",
                 "codex: its Responses API call is recorded", [(x["api"], x["status"]) for x in w.records()])
            if m and recs:
                t.eq(recs[0]["tok_in"] + recs[0]["tok_out"], int(m.group(1).replace(",", "")),
                     "codex: the tokens Codex reports equal the record's")
            else:
                t.ok(False, "codex: tokens reported and recorded", out[-300:])
            t.ok(KEY.encode() not in w.store_bytes(), "codex: the key is not in the store")

        # Reuse a running gateway.
        w.reset_store()
        ready = os.path.join(w.dir, "gw-ready")
        genv = env_for(w)
        g = subprocess.Popen([GATEWAY, "--listen", "127.0.0.1:0", "--ready-file", ready], env=genv,
                             stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(ready):
                break
            time.sleep(0.05)
        info = dict(kv.split("=", 1) for kv in open(ready).read().split())
        n_before = len(gateways_running())
        r = subprocess.run([HC_RUN, "--proxy", "--", "sh", "-c",
                            'curl -sS https://api.openai.com/v1/chat/completions -H "Authorization: Bearer $OPENAI_API_KEY" '
                            '-H "Content-Type: application/json" -d \'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"reuse"}]}\''
                            ' && echo && echo "proxy=$HTTPS_PROXY http=$HTTP_PROXY$http_proxy."'],
                           env=env_for(w, HC_GATEWAY_URL="http://" + info["listen"], HC_GATEWAY_CA=info["ca"]),
                           capture_output=True, text=True, timeout=60)
        t.ok(r.returncode == 0 and "Mock answer" in r.stdout and ("proxy=http://" + info["listen"]) in r.stdout,
             "HC_GATEWAY_URL: the running hc-gateway is reused", r.stdout[-300:] + r.stderr[-300:])
        t.ok("http=." in r.stdout, "plain http is not sent to the gateway (no HTTP_PROXY: it serves CONNECT and its "
             "base URL only, an absolute-form request would get 501)", r.stdout[-300:])
        t.ok(len(gateways_running()) == n_before, "no second gateway was started")
        g.send_signal(signal.SIGTERM)
        t.eq(g.wait(30), 0, "the reused gateway stops cleanly on SIGTERM")
        t.eq(len(w.records(wait_for=1)), 1, "the reused gateway recorded the exchange")
        r = subprocess.run([HC_RUN, "--proxy", "--", "true"], env=env_for(w, HC_GATEWAY_URL="http://127.0.0.1:1",
                                                                       HC_GATEWAY_CA="/nonexistent"),
                           capture_output=True, text=True, timeout=30)
        t.ok(r.returncode == 2 and "HC_GATEWAY_CA" in r.stderr, "HC_GATEWAY_URL without a readable HC_GATEWAY_CA: exit 2",
             r.stderr)
        time.sleep(0.2)
        t.ok(set(gateways_running()) <= before, "every gateway hc-run started has stopped")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
