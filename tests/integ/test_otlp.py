#!/usr/bin/python3
"""OpenTelemetry export (core/otlp_push.c, common/otlp.c), checked by the
OpenTelemetry protocol's own schema (tests/integ/clients/otlp_validate.js:
the protobufjs root generated from opentelemetry-proto, shipped in npm's
@opentelemetry/otlp-transformer).

- Live push: real clients under the shim (curl, OpenAI chat; python urllib,
  OpenAI chat streamed; python urllib, Anthropic messages; curl, Gemini
  streamed) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a local OTLP/HTTP
  receiver (python http.server): every app's output equals the same program's
  without the shim; the receiver gets POST /v1/traces and /v1/metrics as JSON
  with the OTEL_EXPORTER_OTLP_HEADERS header; every document passes the real
  schema; one span per record, named "{operation} {model}", with
  gen_ai.provider.name, gen_ai.response.id equal to the id the app received,
  finish reasons, usage equal to the record's, time to first chunk on streams,
  the resource from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, properties;
  metrics: token usage / duration histograms with the conventions' bounds,
  counts and sums equal to the records', the cost sum equal to the records'.
  The header's token is in no store file and not on stderr.
- Collector down (a closed port): the apps' outputs and exit codes are
  unchanged, and stderr says once how many spans were not sent (> 0).
- A slow collector (accepts, never answers): the app still ends promptly
  (bounded exit flush) with its output unchanged.
- HC_OTLP=0: nothing is sent. A malformed OTEL_EXPORTER_OTLP_HEADERS: one
  stderr line naming the variable and the pair, never the value; the app is
  unaffected and nothing is sent.
- `hc-analyze export --format otlp` passes the same schema.
"""
import http.server
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, PYTHON, ROOT, TAP, World  # noqa: E402
from pki import make_pki  # noqa: E402

VALIDATOR = os.path.join(ROOT, "tests", "integ", "clients", "otlp_validate.js")
NODE_OK = os.path.isdir(os.path.join(ROOT, "tests", "node", "node_modules", "@opentelemetry", "otlp-transformer",
                                     "build", "src", "generated"))
TOKEN = "otlp-sekret-token-4711"
TOK_BOUNDS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
DUR_BOUNDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]

CHAT = json.dumps({"model": "gpt-4o-mini", "temperature": 0.25, "max_completion_tokens": 64, "seed": 7,
                   "messages": [{"role": "user", "content": "say something short"}]})
PY_STREAM = ("import json, sys, urllib.request\n"
             "b = json.dumps({'model': 'gpt-4o-mini', 'stream': True, 'messages': [{'role': 'user', 'content': 'stream me'}]})\n"
             "r = urllib.request.Request(sys.argv[1] + '/v1/chat/completions', data=b.encode(), headers={\n"
             "    'Content-Type': 'application/json', 'Authorization': 'Bearer sk-x'})\n"
             "sys.stdout.write(urllib.request.urlopen(r, timeout=20).read().decode())\n")
PY_ANTHROPIC = ("import json, sys, urllib.request\n"
                "b = json.dumps({'model': 'claude-3-5-haiku-20241022', 'max_tokens': 50,\n"
                "                'messages': [{'role': 'user', 'content': 'hello claude'}]})\n"
                "r = urllib.request.Request(sys.argv[1] + '/v1/messages', data=b.encode(), headers={\n"
                "    'Content-Type': 'application/json', 'x-api-key': 'sk-ant-x', 'anthropic-version': '2023-06-01'})\n"
                "sys.stdout.write(urllib.request.urlopen(r, timeout=20).read().decode())\n")


class Receiver:
    """An OTLP/HTTP receiver: keeps every POST (path, headers, body)."""

    def __init__(self, hang=False, tls=None):
        self.posts = []
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if hang:
                    time.sleep(30)
                    return
                with outer.lock:
                    outer.posts.append((self.path, dict((k.lower(), v) for k, v in self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
            scheme = "https"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.srv.server_address[1])
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def docs(self, path):
        with self.lock:
            return [json.loads(b) for p, h, b in self.posts if p == path]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def validate(t, docs, what):
    """Run the schema validator over [(kind, text)]; one assertion per document kind."""
    if not NODE_OK:
        t.diag("tests/node/node_modules lacks @opentelemetry/otlp-transformer: schema validation skipped")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for kind, text in docs:
            f.write(json.dumps({"kind": kind, "body": text}) + "\n")
    r = subprocess.run(["node", VALIDATOR, f.name], capture_output=True, text=True, timeout=60)
    os.unlink(f.name)
    res = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    t.ok(r.returncode == 0 and len(res) == len(docs) and all(x["ok"] for x in res),
         "%s: %d documents accepted by the OTLP protobuf schema (fromObject, verify, encode/decode round trip)"
         % (what, len(docs)), detail=r.stdout[-2000:] + r.stderr[-1000:])


def attrs(lst):
    out = {}
    for a in lst:
        v = a["value"]
        if "arrayValue" in v:
            out[a["key"]] = [list(x.values())[0] for x in v["arrayValue"].get("values", [])]
        else:
            out[a["key"]] = list(v.values())[0]
    return out


def apps(w):
    """(name, argv) of the four real clients, each given the base URL."""
    return [
        ("curl openai chat", lambda base: ["curl", "-sS", base + "/v1/chat/completions", "-H", "Authorization: Bearer sk-x",
                                          "-H", "Content-Type: application/json", "--data-binary", CHAT]),
        ("python openai stream", lambda base: [PYTHON, "-c", PY_STREAM, base]),
        ("python anthropic", lambda base: [PYTHON, "-c", PY_ANTHROPIC, base]),
        ("curl gemini stream", lambda base: ["curl", "-sS", "-H", "x-goog-api-key: g-x", "-H", "Content-Type: application/json",
                                            base + "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
                                            "--data-binary", json.dumps({"contents": [{"parts": [{"text": "hi gemini"}]}]})]),
    ]


BASES = {"curl openai chat": "https://api.openai.com", "python openai stream": "https://api.openai.com",
         "python anthropic": "https://api.anthropic.com", "curl gemini stream": "https://generativelanguage.googleapis.com"}


def baseline(w, argv_of):
    """The app's output without the shim, straight to the plain-HTTP mock."""
    r = subprocess.run(argv_of(w.http.url), capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")})
    return r


def strip_ids(text):
    """Outputs differ by the mock's per-request ids, times and answer counter: compare the rest."""
    text = re.sub(r"Mock answer \d+", "Mock answer N", text)
    return re.sub(r'"(id|responseId|created|created_at)":\s*("[^"]*"|\d+)', '"\\1":_', text)


def live(t):
    with World() as w:
        rcv = Receiver()
        env = dict(OTEL_EXPORTER_OTLP_ENDPOINT=rcv.url, OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20" + TOKEN,
                   OTEL_SERVICE_NAME="otlp-test", OTEL_RESOURCE_ATTRIBUTES="deployment.environment=ci,team=infra",
                   HC_PROPERTY_Workflow="otlp")
        outs = {}
        for name, argv_of in apps(w):
            r = w.run(argv_of(BASES[name]), **env)
            b = baseline(w, argv_of)
            t.eq((r.returncode, strip_ids(r.stdout).count("\n") > 0 or len(r.stdout) > 0),
                 (b.returncode, True), "%s: exit status as without the shim, output present" % name)
            t.eq(strip_ids(r.stdout) == strip_ids(b.stdout), True, "%s: output equal to the app's without the shim" % name)
            t.ok(TOKEN not in r.stderr, "%s: the header's token is not on stderr" % name)
            outs[name] = r.stdout
        recs = w.records(wait_for=4)
        t.eq(len(recs), 4, "four records")
        spans_docs = rcv.docs("/v1/traces")
        metric_docs = rcv.docs("/v1/metrics")
        with rcv.lock:
            posts = list(rcv.posts)
        t.ok(posts and all(h.get("content-type") == "application/json" and h.get("authorization") == "Bearer " + TOKEN
                           for _, h, _ in posts),
             "every POST is application/json and carries OTEL_EXPORTER_OTLP_HEADERS (%d posts)" % len(posts))
        validate(t, [("traces", b.decode()) for p, h, b in posts if p == "/v1/traces"] +
                 [("metrics", b.decode()) for p, h, b in posts if p == "/v1/metrics"], "live push")
        spans, res = [], None
        for d in spans_docs:
            for rs in d["resourceSpans"]:
                res = attrs(rs["resource"]["attributes"])
                for ss in rs["scopeSpans"]:
                    spans.extend(ss["spans"])
        t.eq(len(spans), 4, "one span per exchange (one process each)")
        t.eq((res or {}).get("service.name"), "otlp-test", "resource: service.name from OTEL_SERVICE_NAME")
        t.eq(((res or {}).get("deployment.environment"), (res or {}).get("team")), ("ci", "infra"),
             "resource: OTEL_RESOURCE_ATTRIBUTES")
        byid = {attrs(s["attributes"])["hcshim.id"]: s for s in spans}
        for rec in recs:
            s = byid.get(rec["id"])
            if not s:
                t.ok(False, "span for record %s" % rec["id"])
                continue
            a = attrs(s["attributes"])
            op = {"chat": "chat", "messages": "chat", "gemini": "generate_content"}.get(rec["api"], "chat")
            what = "%s %s" % (rec["provider"], rec["api"])
            t.eq(s["name"], "%s %s" % (op, rec["model_req"]), "%s: span name {operation} {model}" % what)
            t.eq((a.get("gen_ai.provider.name"), a.get("gen_ai.request.model"), a.get("gen_ai.usage.input_tokens"),
                  a.get("gen_ai.usage.output_tokens"), a.get("hcshim.property.Workflow")),
                 ({"google": "gcp.gemini"}.get(rec["provider"], rec["provider"]), rec["model_req"], str(rec["tok_in"]),
                  str(rec["tok_out"]), "otlp"), "%s: provider, model, usage, property" % what)
            t.ok(a.get("gen_ai.response.id") and a.get("gen_ai.response.id") == rec.get("response_id"),
                 "%s: gen_ai.response.id = the record's (%s)" % (what, a.get("gen_ai.response.id")))
            t.ok(isinstance(a.get("gen_ai.response.finish_reasons"), list) and len(a["gen_ai.response.finish_reasons"]) == 1
                 and a["gen_ai.response.finish_reasons"][0] == rec.get("finish_reasons"),
                 "%s: finish reasons %s" % (what, a.get("gen_ai.response.finish_reasons")))
            t.eq("gen_ai.response.time_to_first_chunk" in a, bool(rec["flags"] & 1),
                 "%s: time to first chunk exactly on streams" % what)
            t.eq((s["kind"], s["startTimeUnixNano"]), (3, str(rec["start_us"] * 1000)), "%s: CLIENT span, start" % what)
        # Request parameters, as the conventions name and type them.
        params = {}
        for s in spans:
            a = attrs(s["attributes"])
            params[s["name"] + (" stream" if a.get("hcshim.stream") else "")] = {k: v for k, v in a.items() if k.startswith("gen_ai.request.") and k != "gen_ai.request.model"}
        t.eq((params.get("chat gpt-4o-mini"), params.get("chat claude-3-5-haiku-20241022")),  # curl, python
             ({"gen_ai.request.temperature": 0.25, "gen_ai.request.max_tokens": "64", "gen_ai.request.seed": "7"},
              {"gen_ai.request.max_tokens": "50"}),
             "request parameters: gen_ai.request.temperature (double), max_tokens and seed (int)")
        # The id the app itself received is the span's gen_ai.response.id.
        got_ids = {attrs(s["attributes"]).get("gen_ai.response.id") for s in spans}
        app_ids = set()
        for name in ("curl openai chat", "python anthropic"):
            try:
                app_ids.add(json.loads(outs[name])["id"])
            except (ValueError, KeyError):
                pass
        t.ok(len(app_ids) == 2 and app_ids <= got_ids, "gen_ai.response.id is the id the app received")
        # Metrics: the last (cumulative) document of each process; 4 processes.
        tok = {"input": [0, 0], "output": [0, 0]}
        dur_count, cost, bounds_ok = 0, 0.0, True
        for d in metric_docs:
            for rm in d["resourceMetrics"]:
                for sm in rm["scopeMetrics"]:
                    for m in sm["metrics"]:
                        for p in m.get("histogram", {}).get("dataPoints", []):
                            pa = attrs(p["attributes"])
                            bounds_ok &= sum(int(c) for c in p["bucketCounts"]) == int(p["count"])
                            if m["name"] == "gen_ai.client.token.usage":
                                tok[pa["gen_ai.token.type"]][0] += int(p["count"])
                                tok[pa["gen_ai.token.type"]][1] += p["sum"]
                                bounds_ok &= p["explicitBounds"] == TOK_BOUNDS and m["unit"] == "{token}"
                            if m["name"] == "gen_ai.client.operation.duration":
                                dur_count += int(p["count"])
                                bounds_ok &= p["explicitBounds"] == DUR_BOUNDS and m["unit"] == "s"
                        for p in m.get("sum", {}).get("dataPoints", []):
                            if m["name"] == "hcshim.cost":
                                cost += p["asDouble"]
        t.eq(len(metric_docs), 4, "one metrics document per process (at exit)")
        t.eq((tok["input"], tok["output"]),
             ([4, sum(r["tok_in"] for r in recs)], [4, sum(r["tok_out"] for r in recs)]),
             "gen_ai.client.token.usage: counts and sums by gen_ai.token.type equal the records'")
        t.eq(dur_count, 4, "gen_ai.client.operation.duration: one data point per exchange")
        t.ok(bounds_ok, "histograms: the conventions' explicit bounds and units; bucket counts add up to count")
        t.ok(abs(cost - sum(r["cost_nusd"] for r in recs) / 1e9) < 1e-12, "hcshim.cost: the records' cost (%g)" % cost)
        t.ok(TOKEN.encode() not in w.store_bytes(), "the header's token is in no store file")
        rcv.close()


def down(t):
    with World() as w:
        name, argv_of = apps(w)[0]
        url = "http://127.0.0.1:%d" % closed_port()
        b = baseline(w, argv_of)
        r = w.run(argv_of(BASES[name]), OTEL_EXPORTER_OTLP_ENDPOINT=url,
                  OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer " + TOKEN)
        t.eq((r.returncode, strip_ids(r.stdout)), (b.returncode, strip_ids(b.stdout)),
             "collector down: the app's output and exit status are unchanged")
        lines = [l for l in r.stderr.splitlines() if "OpenTelemetry" in l and "not sent" in l]
        t.ok(len(lines) == 1 and " 1 of 1 spans" in lines[0] and TOKEN not in r.stderr,
             "collector down: one stderr line counts the dropped span, without the token", detail=r.stderr)
        t.eq(len(w.records(wait_for=1)), 1, "collector down: the exchange is recorded all the same")

        # Accepts and never answers: the exit flush is bounded.
        slow = Receiver(hang=True)
        t0 = time.monotonic()
        r = w.run(argv_of(BASES[name]), OTEL_EXPORTER_OTLP_ENDPOINT=slow.url, timeout=60)
        took = time.monotonic() - t0
        t.eq((r.returncode, strip_ids(r.stdout)), (b.returncode, strip_ids(b.stdout)),
             "slow collector: the app's output and exit status are unchanged")
        t.ok(took < 20, "slow collector: the process still ends (exit flush bounded; took %.1f s)" % took)
        slow.close()

        # https: verified like any upstream (the test CA is trusted through HC_CA_FILE).
        rcv = Receiver(tls=(w.pki["cert"], w.pki["key"]))
        r = w.run(argv_of(BASES[name]), OTEL_EXPORTER_OTLP_ENDPOINT=rcv.url)
        t.eq((r.returncode, [p for p, h, b in rcv.posts]), (0, ["/v1/traces", "/v1/metrics"]),
             "https collector with a trusted certificate: spans and metrics sent")
        rcv.close()
        other = make_pki(os.path.join(w.dir, "other-pki"))
        rcv = Receiver(tls=(other["cert"], other["key"]))
        r = w.run(argv_of(BASES[name]), OTEL_EXPORTER_OTLP_ENDPOINT=rcv.url)
        t.ok(r.returncode == 0 and not rcv.posts and "not sent" in r.stderr and "TLS" in r.stderr,
             "https collector with an untrusted certificate: nothing sent (TLS never weakened), said at exit",
             detail=r.stderr)
        rcv.close()

        rcv = Receiver()
        r = w.run(argv_of(BASES[name]), OTEL_EXPORTER_OTLP_ENDPOINT=rcv.url, HC_OTLP="0")
        t.eq((r.returncode, len(rcv.posts)), (0, 0), "HC_OTLP=0: nothing is sent")
        r = w.run(argv_of(BASES[name]), OTEL_EXPORTER_OTLP_ENDPOINT=rcv.url,
                  OTEL_EXPORTER_OTLP_HEADERS="x-ok=1,authorization" + TOKEN)
        lines = [l for l in r.stderr.splitlines() if "OTEL_EXPORTER_OTLP_HEADERS" in l]
        t.ok(r.returncode == 0 and len(lines) == 1 and "pair 2" in lines[0] and TOKEN not in r.stderr,
             "malformed OTEL_EXPORTER_OTLP_HEADERS: one line naming the variable and the pair, not the value",
             detail=r.stderr)
        t.eq(len(rcv.posts), 0, "malformed headers: nothing is sent")
        rcv.close()


def export(t):
    with World() as w:
        for name, argv_of in apps(w):
            w.run(argv_of(BASES[name]), HC_PROPERTY_Workflow="export", HC_SESSION_ID="s-1")
        w.records(wait_for=4)
        out = w.analyze("export", "--format", "otlp").stdout
        validate(t, [("traces", out)], "export --format otlp")
        spans = json.loads(out)["resourceSpans"][0]["scopeSpans"][0]["spans"]
        a = [attrs(s["attributes"]) for s in spans]
        t.ok(len(spans) == 4 and all(x.get("gen_ai.response.id") for x in a) and
             all(x.get("gen_ai.response.finish_reasons") for x in a),
             "export --format otlp: response id and finish reasons on every span")

        # The new record fields survive export -> import -> export (JSON Lines).
        jl = w.analyze("export").stdout
        t.ok('"req_params":{"temperature":"0.25","max_tokens":"64","seed":"7"}' in jl and '"response_id":"chatcmpl-' in jl,
             "export jsonl: req_params, response_id, finish_reasons")
        src = os.path.join(w.dir, "records.jsonl")
        with open(src, "w") as f:
            f.write(jl)
        other = os.path.join(w.dir, "other-store")
        r = subprocess.run([ANALYZE, "import", "--db", other, src], capture_output=True, text=True)
        r2 = subprocess.run([ANALYZE, "export", "--db", other], capture_output=True, text=True)
        t.eq((r.returncode, r2.stdout), (0, jl), "export -> import -> export keeps them byte for byte")

        # ship --to otlp://: the same spans, in batches, then the metrics.
        rcv = Receiver()
        port = rcv.url.rsplit(":", 1)[1]
        r = w.analyze("ship", "--to", "otlp://127.0.0.1:" + port, "--batch", "3", check=False)
        t.eq(r.returncode, 0, "ship --to otlp://: exit 0", )
        with rcv.lock:
            posts = list(rcv.posts)
        t.eq([p for p, h, b in posts], ["/v1/traces", "/v1/traces", "/v1/metrics"],
             "ship --to otlp://: two batches of spans (--batch 3), then the metrics")
        validate(t, [("traces" if p.endswith("traces") else "metrics", b.decode()) for p, h, b in posts],
                 "ship --to otlp://")
        shipped = [sp for p, h, b in posts if p == "/v1/traces"
                   for sp in json.loads(b)["resourceSpans"][0]["scopeSpans"][0]["spans"]]
        t.eq(sorted(json.dumps(x, sort_keys=True) for x in shipped), sorted(json.dumps(x, sort_keys=True) for x in spans),
             "ship --to otlp://: the spans export --format otlp writes (one encoder)")
        r = w.analyze("ship", "--to", "http://127.0.0.1:%s/otel/v1/traces" % port, "--run", "last", check=False)
        t.eq((r.returncode, [p for p, h, b in rcv.posts[3:]]), (0, ["/otel/v1/traces", "/otel/v1/metrics"]),
             "ship --to http://…/v1/traces: that path and its /v1/metrics sibling")
        rcv.close()
        r = w.analyze("ship", "--to", "otlp://127.0.0.1:%d" % closed_port(), check=False)
        t.ok(r.returncode == 1 and "0 spans were sent" in r.stderr, "ship: collector down: exit 1, says what was sent",
             detail=r.stderr)
        r = w.analyze("ship", "--to", "otlp://127.0.0.1:99999", check=False)
        t.ok(r.returncode == 2 and "--to otlp://127.0.0.1:99999" in r.stderr and "port" in r.stderr,
             "ship: a bad port: exit 2 naming the value", detail=r.stderr)


def main():
    t = TAP()
    live(t)
    down(t)
    export(t)
    t.done()


if __name__ == "__main__":
    main()
