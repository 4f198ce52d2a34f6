#!/usr/bin/python3
"""hc-analyze serve /metrics (analyzer/metrics.h), checked by Prometheus's own tools.

curl under the shim makes two answered calls and one 401 (no key). Then:
- GET /metrics: text exposition 0.0.4; requests by status, tokens, cost and the
  histograms equal the store's records (requests --json);
- `promtool check metrics` (Debian's prometheus) accepts the text;
- a real Prometheus server scrapes it and its query API returns the same counts.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, TAP, World  # noqa: E402

KEY = "sk-test-metrics-0123456789"
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "metric me"}]})


def curl(w, key=True):
    argv = ["curl", "-sS", "-X", "POST", "https://api.openai.com/v1/chat/completions", "-H",
            "Content-Type: application/json", "--data-binary", BODY]
    if key:
        argv += ["-H", "Authorization: Bearer " + KEY]
    return w.run(argv)


def parse(text):
    """{(name, frozenset(labels)): value} from exposition text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if not m:
            raise ValueError("bad line: %r" % line)
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    t = TAP()
    with World() as w:
        for k in (True, True, False):
            r = curl(w, k)
            t.ok(r.returncode == 0, "curl call", r.stderr)
        recs = w.records(wait_for=3)
        t.eq(len(recs), 3, "three records")
        srv = subprocess.Popen([ANALYZE, "serve", "--port", "0", "--db", w.db], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        prom = None
        try:
            line = srv.stdout.readline()
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            t.ok(m is not None, "serve prints its address", line)
            port = int(m.group(1)) if m else 0
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=20) as resp:
                ctype = resp.headers.get("Content-Type")
                text = resp.read().decode()
            t.eq(ctype, "text/plain; version=0.0.4; charset=utf-8", "exposition content type")
            got = parse(text)
            model = "gpt-4o-mini"  # the model asked for, as every report shows it
            base = {("provider", "openai"), ("model", model)}

            def v(name, **extra):
                return got.get((name, frozenset(base | set(extra.items()))))
            t.eq(v("hcshim_requests_total", status="200"), 2.0, "2 requests with status 200")
            t.eq(v("hcshim_requests_total", status="401"), 1.0, "1 request with status 401")
            tin = sum(r.get("tok_in", 0) for r in recs)
            tout = sum(r.get("tok_out", 0) for r in recs)
            t.eq(v("hcshim_tokens_total", type="input"), float(tin), "input tokens equal the store's")
            t.eq(v("hcshim_tokens_total", type="output"), float(tout), "output tokens equal the store's")
            cost = sum(r.get("cost_nusd", 0) for r in recs) / 1e9
            t.ok(abs((v("hcshim_cost_usd_total") or -1) - cost) < 1e-12, "cost equals the store's",
                 (v("hcshim_cost_usd_total"), cost))
            t.eq(v("gen_ai_client_operation_duration_seconds_count"), 3.0, "duration histogram counts 3")
            t.eq(v("gen_ai_client_operation_duration_seconds_bucket", le="+Inf"), 3.0, "its +Inf bucket too")
            t.ok(("gen_ai_client_operation_duration_seconds_bucket", frozenset(base | {("le", "81.92")})) in got and
                 ("gen_ai_client_operation_duration_seconds_bucket", frozenset(base | {("le", "0.01")})) in got,
                 "the GenAI convention's duration boundaries 0.01 … 81.92")
            t.eq(v("gen_ai_client_token_usage_sum", token_type="input"), float(tin), "token usage histogram sum")
            t.eq(v("gen_ai_client_token_usage_bucket", token_type="output", le="67108864"),
                 v("gen_ai_client_token_usage_count", token_type="output"), "token histogram's last bound holds all")

            pc = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                                timeout=60)
            t.ok(pc.returncode == 0, "promtool check metrics accepts /metrics", pc.stdout + pc.stderr)

            # A real Prometheus scrapes it.
            pdir = os.path.join(w.dir, "prom")
            os.makedirs(pdir)
            with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
                f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: hcshim\n"
                        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % port)
            pport = free_port()
            prom = subprocess.Popen(["prometheus", "--config.file", os.path.join(pdir, "prometheus.yml"),
                                     "--storage.tsdb.path", os.path.join(pdir, "data"),
                                     "--web.listen-address", "127.0.0.1:%d" % pport],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            q = urllib.parse.quote('hcshim_requests_total{status="200"}')
            val = None
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and val is None:
                time.sleep(1)
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/query?query=%s" % (pport, q),
                                                timeout=5) as resp:
                        res = json.load(resp)["data"]["result"]
                    if res:
                        val = res[0]["value"][1]
                except (OSError, ValueError, KeyError):
                    pass
            t.eq(val, "2", "Prometheus scraped /metrics: hcshim_requests_total{status=\"200\"} is 2")
        finally:
            for p in (prom, srv):
                if p:
                    p.terminate()
                    try:
                        p.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        p.kill()
            shutil.rmtree(os.path.join(w.dir, "prom"), ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
