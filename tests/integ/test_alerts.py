#!/usr/bin/python3
"""Alerts (HC_ALERTS, budget warnings at fractions) and their destinations.

Every answered request here is gpt-4o-mini with a 3-word prompt: 7 input and
12 output tokens (19), $0.00000825 (8250 nano-USD). Receivers are local: an
http.server for the webhook (HMAC checked with the secret) and for Slack, and
a command (a Python script) that appends its stdin and environment to a file.

- spend and tokens over a 3 s window: the 3rd request crosses both (one
  "firing" each, to every destination), two more stay above (no repeat); after
  the window has passed, the next request (another process) resolves both (one
  "resolved" each). Webhook bodies carry a valid X-Hcshim-Signature.
- error_rate>40%,min=4: errors before the minimum count fire nothing; the 4th
  request fires; successes bring the rate to 40% and resolve once.
- p50_latency>300ms,min=4 over three processes (fast, slow, fast).
- budget fractions: four processes at once crossing a shared budget (one
  store): exactly one alert at 80% and one at 100%; then with Redis (four
  stores, HC_SHARED) and at=50+100: exactly one per fraction fleet-wide; a
  spend rule shared through Redis fires once.
- delivery: a webhook answering 503 once gets the same body again (bounded
  retries); an unreachable Slack URL is one stderr line naming its host, never
  its secret path; HC_ALERTS=@FILE rules; a missing file is one line.
- https: a webhook at https://127.0.0.1 whose certificate (from the trusted
  test CA) names that IP gets the alert; one whose certificate comes from
  another CA gets nothing and the stderr line says TLS.
- a bad HC_ALERTS: one stderr line naming HC_ALERTS and the bad rule, the
  good rule still works, the answers are those of the run without HC_ALERTS.
"""
import hashlib
import hmac
import http.server
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
from feat_lib import PYTHON, brief, call, chat, collect, main, records, rq, skip, spawn  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pki import make_pki  # noqa: E402

PROMPT = "spend a little"
COST_NUSD = 8250
PAUSE = 0.1
SECRET = "alert-secret-0123"


class Receiver:
    """An HTTP receiver on 127.0.0.1: records every POST, answers 200."""

    def __init__(self, tls=None):
        self.posts = []
        self.fail_next = 0          # answer 503 to this many POSTs first
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    outer.posts.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                        "raw": body})
                    code = 503 if outer.fail_next > 0 else 200
                    outer.fail_next -= 1
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass

        self.srv = S(("127.0.0.1", 0), H)
        scheme = "http"
        if tls:  # (cert, key): the https receiver
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
            scheme = "https"
        self.url = "%s://127.0.0.1:%d/services/T000/B000/slack-secret-path" % (scheme, self.srv.server_address[1])
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def take(self, settle=0.7):
        time.sleep(settle)
        with self.lock:
            p, self.posts = self.posts, []
        return p

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def bodies(posts):
    out = []
    for p in posts:
        try:
            out.append(json.loads(p["raw"]))
        except ValueError:
            out.append({"unparsable": p["raw"][:200].decode("utf-8", "replace")})
    return out


def states(evts, name=None):
    return [(e.get("alert"), e.get("state")) for e in evts if name is None or e.get("alert") == name]


def reqs(n):
    return [rq(chat(PROMPT)) for _ in range(n)]


class Dest:
    """Webhook + Slack receivers and a command writing a file."""

    def __init__(self, w):
        self.hook, self.slack = Receiver(), Receiver()
        self.out = os.path.join(w.dir, "alert-cmd.jsonl")
        self.cmd = os.path.join(w.dir, "alert-cmd.py")
        with open(self.cmd, "w") as f:
            f.write("#!%s\nimport json, os, sys\n"
                    "d = {'stdin': sys.stdin.read(), 'env': {k: v for k, v in os.environ.items() "
                    "if k.startswith('HC_ALERT_')}}\n"
                    "with open(%r, 'a') as f:\n    f.write(json.dumps(d) + '\\n')\n" % (PYTHON, self.out))
        os.chmod(self.cmd, os.stat(self.cmd).st_mode | stat.S_IXUSR)

    def env(self):
        return {"HC_ALERT_WEBHOOK": self.hook.url.replace("/services/T000/B000/slack-secret-path", "/hook"),
                "HC_ALERT_SLACK": self.slack.url, "HC_ALERT_COMMAND": self.cmd, "HC_ALERT_SECRET": SECRET}

    def commands(self):
        try:
            with open(self.out) as f:
                lines = [json.loads(ln) for ln in f if ln.strip()]
            os.unlink(self.out)
            return lines
        except (OSError, ValueError):
            return []

    def close(self):
        self.hook.close()
        self.slack.close()


def fresh(w):
    w.mock.reset()
    w.reset_store()


def spend_tokens(t, w, d):
    fresh(w)
    env = dict(d.env(), HC_ALERTS="spend>0.00002usd/3s; tokens>50/3s")
    run = call(w, reqs(5), pause=PAUSE, **env)
    t.eq(run.statuses(), [200] * 5, "spend/tokens: the app's requests are answered", run.detail())
    recs = records(w, 5)
    t.ok(len(recs) == 5 and all(r["cost_nusd"] == COST_NUSD and r["tok_in"] + r["tok_out"] == 19 for r in recs),
         "premise: 5 records of 8250 nano-USD and 19 tokens", brief(recs))
    posts = d.hook.take()
    evts = bodies(posts)
    t.eq(sorted(states(evts)), [("spend>0.00002usd/3s", "firing"), ("tokens>50/3s", "firing")],
         "spend/tokens: crossed by the 3rd request, staying above for 2 more: exactly one firing each", evts)
    sp = [e for e in evts if e.get("alert") == "spend>0.00002usd/3s"]
    if sp:
        e = sp[0]
        t.ok(e.get("kind") == "rule" and e.get("metric") == "spend" and abs(e.get("value", 0) - 3 * COST_NUSD / 1e9) < 1e-12
             and abs(e.get("threshold", 0) - 2e-5) < 1e-12 and e.get("window_s") == 3 and e.get("requests") == 3,
             "webhook body: kind rule, metric spend, value = 3 requests' cost, threshold, window_s, requests", e)
        t.ok("crossed" in e.get("message", "") and "$0.000024" in e.get("message", ""),
             "webhook body: a readable message with the amount", e.get("message"))
    good = [p for p in posts if p["headers"].get("x-hcshim-signature") ==
            "sha256=" + hmac.new(SECRET.encode(), p["raw"], hashlib.sha256).hexdigest()]
    t.eq(len(good), len(posts), "webhook: every POST has X-Hcshim-Signature = sha256=HMAC(secret, body)",
         [p["headers"].get("x-hcshim-signature") for p in posts])
    slack = bodies(d.slack.take(0))
    t.ok(len(slack) == 2 and all(set(s) == {"text"} and "spend>0.00002usd/3s" in " ".join(x["text"] for x in slack)
                                 for s in slack),
         "Slack: two posts, each {\"text\": …} only, naming the rule", slack)
    cmds = d.commands()
    t.ok(len(cmds) == 2 and all(json.loads(c["stdin"]).get("state") == "firing" and c["env"].get("HC_ALERT_STATE") ==
                                "firing" for c in cmds),
         "command: run twice, alert JSON on stdin, HC_ALERT_STATE in its environment", cmds)
    t.ok(cmds and {c["env"].get("HC_ALERT_NAME") for c in cmds} == {"spend>0.00002usd/3s", "tokens>50/3s"},
         "command: HC_ALERT_NAME names each rule", cmds)
    t.ok(SECRET not in run.stderr and "slack-secret-path" not in run.stderr, "stderr shows no secret", run.stderr)
    time.sleep(3.3)            # the window passes
    run = call(w, reqs(2), pause=PAUSE, lib="requests", **env)
    t.eq(run.statuses(), [200, 200], "later process: answered", run.detail())
    evts = bodies(d.hook.take())
    t.eq(sorted(states(evts)), [("spend>0.00002usd/3s", "resolved"), ("tokens>50/3s", "resolved")],
         "after the window, another process's request resolves each rule exactly once", evts)
    t.eq(len(d.slack.take(0)), 2, "Slack: the two resolves")
    t.eq(len(d.commands()), 2, "command: run for the two resolves")


def error_rate(t, w, d):
    fresh(w)
    w.mock.script([{"status": 200}] + [{"status": 500}] * 4 + [{"status": 200}] * 6)
    env = dict(d.env(), HC_ALERTS="error_rate>40%/1h,min=4")
    run = call(w, reqs(11), pause=PAUSE, **env)
    base = [200, 500, 500, 500, 500] + [200] * 6
    t.eq(run.statuses(), base, "error_rate: the app sees the provider's answers unchanged", run.detail())
    evts = bodies(d.hook.take())
    t.eq(states(evts), [("error_rate>40%/1h,min=4", "firing"), ("error_rate>40%/1h,min=4", "resolved")],
         "error_rate: fires once (4th request: 3 of 4), no repeat above, resolves once at 40%", evts)
    if len(evts) == 2:
        t.ok(evts[0].get("requests") == 4 and abs(evts[0].get("value", 0) - 75) < 0.01,
             "error_rate firing: at the 4th request (min=4), 75%", evts[0])
        t.ok(evts[1].get("requests") == 10 and abs(evts[1].get("value", 0) - 40) < 0.01,
             "error_rate resolved: at the 10th request, 40% (not above)", evts[1])
    d.slack.take(0)
    d.commands()


def latency(t, w, d):
    fresh(w)
    env = dict(d.env(), HC_ALERTS="p50_latency>300ms/1h,min=4")
    runs = [call(w, reqs(2), pause=PAUSE, **env)]
    w.mock.configure(latency_ms=450)
    runs.append(call(w, reqs(4), pause=PAUSE, lib="httpx", **env))
    w.mock.configure(latency_ms=0)
    runs.append(call(w, reqs(3), pause=PAUSE, **env))
    t.eq([r.statuses() for r in runs], [[200] * 2, [200] * 4, [200] * 3], "latency: every request answered",
         [r.detail() for r in runs])
    evts = bodies(d.hook.take())
    t.eq(states(evts), [("p50_latency>300ms/1h,min=4", "firing"), ("p50_latency>300ms/1h,min=4", "resolved")],
         "p50 latency: fires once (5th request: 3 of 5 slow), resolves once (8th: 4 of 8), across 3 processes", evts)
    if len(evts) == 2:
        t.eq((evts[0].get("requests"), evts[1].get("requests")), (5, 8), "latency: fired at request 5, resolved at 8")
    d.slack.take(0)
    d.commands()


def budget_fractions_local(t, w, d):
    fresh(w)
    env = dict(d.env(), HC_BUDGET="0.00004/day")   # 80%: 32000 (4th request), 100%: 40000 (5th)
    procs = [spawn(w, reqs(2), pause=PAUSE, **env) for _ in range(4)]
    runs = [collect(p) for p in procs]
    t.eq([r.statuses() for r in runs], [[200, 200]] * 4, "budget fractions: 4 processes answered",
         [r.detail() for r in runs])
    evts = bodies(d.hook.take())
    t.eq(sorted((e.get("kind"), e.get("fraction_pct")) for e in evts), [("budget", 80), ("budget", 100)],
         "4 processes, one store: exactly one alert at 80% and one at 100%", evts)
    err = "".join(r.stderr for r in runs)
    t.eq(err.count("budget 0.00004/day reached 80%"), 1, "one stderr line at 80% among the 4 processes", err)
    t.eq(err.count("budget 0.00004/day crossed"), 1, "one stderr line at the crossing (100%)", err)
    d.slack.take(0)
    d.commands()


def bad_rules(t, w, d):
    fresh(w)
    plain = call(w, reqs(2), pause=PAUSE)     # the shim without HC_ALERTS (the mock is reached through HC_ROUTE)
    run = call(w, reqs(2), pause=PAUSE, **dict(d.env(), HC_ALERTS="bogus>3/1h; spend>0usd/1h; p95_latency>fast/1m"))
    t.eq(run.statuses(), plain.statuses(), "bad HC_ALERTS: the answers are those of the run without HC_ALERTS",
         (run.detail(), plain.detail()))
    lines = [ln for ln in run.stderr.splitlines() if "HC_ALERTS" in ln]
    t.eq(len(lines), 2, "one stderr line per bad rule, each naming HC_ALERTS", run.stderr)
    t.ok(any("'bogus>3/1h'" in ln and "metric" in ln for ln in lines), "the line names the bad rule and why", lines)
    t.ok(any("'p95_latency>fast/1m'" in ln and "duration" in ln for ln in lines),
         "the latency rule's line says a duration was expected", lines)
    evts = bodies(d.hook.take())
    t.eq(states(evts), [("spend>0usd/1h", "firing")], "the good rule still fires (once)", evts)
    d.slack.take(0)
    d.commands()


def delivery(t, w, d):
    fresh(w)
    rules = os.path.join(w.dir, "alerts.rules")
    with open(rules, "w") as f:
        f.write("# rules for the delivery test\n\ntokens > 30 / 1h\n")
    d.hook.fail_next = 1
    dead = "http://127.0.0.1:%d/services/T1/B1/dead-secret-path" % free_port()
    env = dict(d.env(), HC_ALERTS="@" + rules, HC_ALERT_SLACK=dead)
    run = call(w, reqs(3), pause=PAUSE, **env)
    t.eq(run.statuses(), [200] * 3, "delivery: the app is answered (a destination down, one answering 503)",
         run.detail())
    posts = d.hook.take(1.5)
    t.ok(len(posts) == 2 and posts[0]["raw"] == posts[1]["raw"],
         "webhook answering 503 once: retried, the same body delivered on the 2nd attempt (2 POSTs)",
         [p["raw"][:120] for p in posts])
    t.eq(states(bodies(posts[-1:])), [("tokens>30/1h", "firing")], "HC_ALERTS=@FILE: the file's rule fires once")
    lines = [ln for ln in run.stderr.splitlines() if "Slack" in ln]
    t.ok(len(lines) == 1 and "http://127.0.0.1:" in lines[0] and "dead-secret-path" not in lines[0] and
         "every attempt" in lines[0],
         "unreachable Slack URL: one stderr line naming its host, not the URL's secret path", run.stderr)
    t.ok(SECRET not in run.stderr, "the HMAC secret is never printed", run.stderr)
    missing = call(w, reqs(1), HC_ALERTS="@" + os.path.join(w.dir, "no-such-file"))
    t.ok(missing.statuses() == [200] and sum("HC_ALERTS=@" in ln for ln in missing.stderr.splitlines()) == 1,
         "HC_ALERTS=@missing: one stderr line, the request answered", missing.detail())
    d.commands()


def https_webhook(t, w, d):
    """An https://<IP> webhook is verified against the certificate's IP addresses."""
    fresh(w)
    good = Receiver(tls=(w.pki["cert"], w.pki["key"]))
    other = make_pki(os.path.join(w.dir, "other-pki"))
    bad = Receiver(tls=(other["cert"], other["key"]))
    try:
        for rcv, trusted in ((good, True), (bad, False)):
            hook = rcv.url.replace("/services/T000/B000/slack-secret-path", "/hook")
            env = dict(HC_ALERTS="tokens>30/1h", HC_ALERT_WEBHOOK=hook, HC_ALERT_SECRET=SECRET)
            run = call(w, reqs(2), pause=PAUSE, **env)
            posts = rcv.take(1.5)
            lines = [ln for ln in run.stderr.splitlines() if "webhook" in ln.lower()]
            if trusted:
                t.ok(run.statuses() == [200] * 2 and states(bodies(posts)) == [("tokens>30/1h", "firing")]
                     and not lines,
                     "https://127.0.0.1 webhook, certificate naming that IP: the alert is delivered",
                     (run.detail(), posts, lines))
            else:
                t.ok(run.statuses() == [200] * 2 and not posts and len(lines) == 1 and "TLS" in lines[0],
                     "https://127.0.0.1 webhook, certificate from another CA: nothing delivered, one line "
                     "saying TLS (verification never weakened)", (run.detail(), posts, lines))
            fresh(w)
    finally:
        good.close()
        bad.close()


REDIS = shutil.which("redis-server")
CLI = shutil.which("redis-cli")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fleet_redis(t, w, d):
    if not REDIS or not CLI:
        skip(t, "redis-server is not installed")
        return
    port, rdir = free_port(), tempfile.mkdtemp(prefix="hc-redis-")
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", rdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if subprocess.run([CLI, "-p", str(port), "PING"], capture_output=True, text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.05)
        fresh(w)
        env = dict(d.env(), HC_BUDGET="0.00004/day:at=50+100", HC_ALERTS="spend>0.00003usd/1h",
                   HC_SHARED="redis://127.0.0.1:%d/0" % port, HC_SHARED_TIMEOUT_MS="2000")
        procs = [spawn(w, reqs(2), pause=PAUSE, HC_DB=os.path.join(w.dir, "fleet-%d" % i), **env) for i in range(4)]
        runs = [collect(p) for p in procs]
        t.eq([r.statuses() for r in runs], [[200, 200]] * 4, "Redis: 4 processes with 4 stores answered",
             [r.detail() for r in runs])
        evts = bodies(d.hook.take())
        t.eq(sorted((e.get("kind"), e.get("fraction_pct") or e.get("state")) for e in evts),
             [("budget", 50), ("budget", 100), ("rule", "firing")],
             "Redis, 4 stores: exactly one alert at 50%, one at 100%, one firing of the spend rule fleet-wide", evts)
        d.slack.take(0)
        d.commands()
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(rdir, ignore_errors=True)


def all_blocks(t, w):
    d = Dest(w)
    try:
        for fn in (spend_tokens, error_rate, latency, budget_fractions_local, bad_rules, delivery, https_webhook,
                   fleet_redis):
            t0 = time.monotonic()
            try:
                fn(t, w, d)
            except Exception as e:   # one block's failure must not hide the others
                t.ok(False, "%s ran" % fn.__name__, repr(e))
            t.diag("%s: %.1fs" % (fn.__name__, time.monotonic() - t0))
    finally:
        d.close()


if __name__ == "__main__":
    sys.exit(main([all_blocks]))
