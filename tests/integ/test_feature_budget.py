#!/usr/bin/python3
"""Gateway feature: budgets (HC_BUDGET), against the spec.

Every request here is gpt-4o-mini with a 3-word prompt: 7 input and 12 output
tokens, $0.00000825 (8250 nano-USD). A budget of $0.00001 is therefore crossed
by the 2nd request, and a 3rd that starts after that is over budget.

- block, two processes: process 1 gets 200, 200, 429; process 2's first
  request gets 429 too (JSON error type hcshim_budget, code budget_exceeded,
  message naming the budget, the amount spent and the limit), no upstream call,
  records BLOCKED with field budget = the budget.
- webhook=URL (a local http.server): two processes making requests at the same
  time, and a third later: exactly one POST for the one crossing, with budget,
  scope, spent_usd, limit_usd, period_start (today 00:00 UTC), request_id (the
  crossing request's id); exactly one record has BUDGET_WARN; nothing blocked.
- warn (the default): exactly one stderr line "hcshim[PID]: budget … crossed:
  spent $…" and BUDGET_WARN on the crossing request; a later process that
  never crosses prints nothing.
- /process: a new process starts with a fresh budget.
- @user and @property:Team: separate budgets per value, across processes.
- Lists ("100/day,0.00001/total:block") and the hour/week/month periods.

Sequential requests of one process are 0.1 s apart, so "completed requests"
is unambiguous.
"""
import datetime
import http.server
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
from feat_lib import BLOCKED, BUDGET_WARN, RATE_LIMITED, brief, call, chat, collect, curl, main, records, rq, spawn  # noqa: E402

PROMPT = "spend a little"      # 3 words: 7 prompt tokens, 12 completion tokens
COST_NUSD = 8250
PAUSE = 0.1
LIMIT = "0.00001"              # $0.00001 = 10000 nano-USD: crossed by the 2nd request


def fresh(w):
    w.mock.reset()
    w.reset_store()


def reqs(n, headers=None):
    return [rq(chat(PROMPT), headers) for _ in range(n)]


def budget_error(r):
    j = r.json
    return j.get("error") if isinstance(j, dict) and isinstance(j.get("error"), dict) else {}


def premise(t, recs):
    priced = [r for r in recs if r["status"] == 200]
    t.ok(priced and all(r["cost_nusd"] == COST_NUSD for r in priced),
         "premise: each answered request cost %d nano-USD" % COST_NUSD, brief(priced[:2]))


def block_two_processes(t, w):
    fresh(w)
    spec = LIMIT + "/day"
    p1 = call(w, reqs(3), pause=PAUSE, HC_BUDGET=spec + ":block")
    _, (p2,) = curl(w, reqs(1), HC_BUDGET=spec + ":block")
    t.eq(p1.statuses(), [200, 200, 429], "block: process 1 gets 200, 200, then 429 once the budget is spent",
         p1.detail())
    t.eq(p2.status, 429, "block: process 2's first request is refused (spend is shared through the store)", p2)
    t.eq(w.mock.count(), 2, "block: refused requests make no upstream call")
    err = budget_error(p2)
    t.eq((err.get("type"), err.get("code")), ("hcshim_budget", "budget_exceeded"),
         "429 body: error type hcshim_budget, code budget_exceeded", p2.body[:300])
    msg = err.get("message", "")
    t.ok(msg.startswith("hcshim: budget %s exceeded" % spec), "429 message names the budget", msg)
    m = re.search(r"spent \$([0-9.]+) of \$([0-9.]+)", msg)
    t.ok(m and abs(float(m.group(1)) - 2 * COST_NUSD / 1e9) < 1.5e-6 and abs(float(m.group(2)) - 1e-5) < 1e-9,
         "429 message says how much was spent (2 x %d nano-USD) of $0.000010" % COST_NUSD, msg)
    recs = records(w, 4)
    premise(t, recs)
    t.eq([bool(r["flags"] & BLOCKED) for r in recs], [False, False, True, True], "records: the two refused are BLOCKED",
         brief(recs))
    blk = [r for r in recs if r["flags"] & BLOCKED]
    t.ok(blk and all(r["status"] == 429 and r["budget"] == spec and r["cost_nusd"] == 0 for r in blk),
         "BLOCKED records: status 429, budget %r, cost 0" % spec, brief(blk))
    t.ok(blk and not any(r["flags"] & RATE_LIMITED for r in blk),
         "BLOCKED records are not RATE_LIMITED (no provider answered 429)", brief(blk))
    t.ok(len(recs) == 4 and not recs[1]["flags"] & BUDGET_WARN,
         "block-only budget: the crossing request has no BUDGET_WARN (record.h: warn/webhook crossings)", brief(recs))


class Hooks:
    """A webhook receiver on 127.0.0.1: records every POST."""

    def __init__(self):
        self.posts = []
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    outer.posts.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                        "body": body.decode("utf-8", "replace"), "time": time.time()})
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:      # the poster need not wait for the answer
                    pass

            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass

        self.srv = S(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.posts) >= n:
                    break
            time.sleep(0.05)
        with self.lock:
            return list(self.posts)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def webhook(t, w):
    fresh(w)
    hooks = Hooks()
    try:
        spec = LIMIT + "/day"
        env = {"HC_BUDGET": "%s:webhook=%s" % (spec, hooks.url)}
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        procs = [spawn(w, reqs(3), pause=PAUSE, **env), spawn(w, reqs(3), lib="requests", pause=PAUSE, **env)]
        runs = [collect(p) for p in procs]
        t.eq([r.statuses() for r in runs], [[200] * 3, [200] * 3], "webhook: nothing is blocked",
             [r.detail() for r in runs])
        posts = hooks.wait(1, 3.0)
        time.sleep(0.5)
        posts = hooks.wait(99, 0)
        t.eq(len(posts), 1, "webhook: exactly one POST for the one crossing (2 processes, 6 requests)",
             [p["body"] for p in posts])
        recs = records(w, 6)
        premise(t, recs)
        warned = [r for r in recs if r["flags"] & BUDGET_WARN]
        t.eq(len(warned), 1, "webhook: exactly one record (the crossing request) has BUDGET_WARN", brief(recs))
        if posts:
            p = posts[0]
            t.eq(p["path"], "/hook", "webhook: POSTed to the URL's path")
            try:
                d = json.loads(p["body"])
            except ValueError:
                d = {}
            t.ok(isinstance(d, dict) and d, "webhook body is a JSON object", p["body"][:300])
            t.eq(d.get("budget"), spec, "webhook: budget %r (AMOUNT/PERIOD, as in the record and messages)" % spec, d)
            t.ok("scope" in d, "webhook: has scope", d)
            t.ok(isinstance(d.get("limit_usd"), (int, float)) and abs(d["limit_usd"] - 1e-5) < 1e-12,
                 "webhook: limit_usd 0.00001", d)
            t.ok(isinstance(d.get("spent_usd"), (int, float)) and 1e-5 <= d["spent_usd"] <= 3 * COST_NUSD / 1e9,
                 "webhook: spent_usd is the spend at the crossing (>= the limit)", d)
            t.ok(str(d.get("period_start", "")).startswith(today + "T00:00:00"),
                 "webhook: period_start is today 00:00 UTC (ISO)", d.get("period_start"))
            t.ok(warned and d.get("request_id") == warned[0]["id"], "webhook: request_id is the crossing request's id",
                 (d.get("request_id"), [r["id"] for r in warned]))
        # A later process: the budget stays crossed, nothing new is posted.
        run = call(w, reqs(2), pause=PAUSE, **env)
        t.eq(run.statuses(), [200, 200], "webhook: a later process is still answered", run.detail())
        time.sleep(0.5)
        t.eq(len(hooks.wait(99, 0)), 1, "webhook: still exactly one POST after a later process's requests")
    finally:
        hooks.close()


def warn(t, w):
    fresh(w)
    spec = LIMIT + "/day"
    run = call(w, reqs(3), pause=PAUSE, HC_BUDGET=spec)
    t.eq(run.statuses(), [200] * 3, "warn (default action): nothing is blocked", run.detail())
    pat = re.compile(r"hcshim\[(\d+)\]: budget %s crossed: spent \$" % re.escape(spec))
    lines = [l for l in run.stderr.splitlines() if pat.search(l)]
    t.eq(len(lines), 1, "warn: exactly one stderr line for the crossing", run.stderr[-1000:])
    t.ok(lines and pat.search(lines[0]).group(1) == str(run.pid), "warn: the line names the app's pid",
         (lines, run.pid))
    recs = records(w, 3)
    premise(t, recs)
    t.eq([bool(r["flags"] & BUDGET_WARN) for r in recs], [False, True, False],
         "warn: BUDGET_WARN on the crossing (2nd) request only", brief(recs))
    run = call(w, reqs(2), pause=PAUSE, HC_BUDGET=spec)
    t.ok(run.statuses() == [200, 200] and not any(pat.search(l) for l in run.stderr.splitlines()),
         "warn: a later process that crosses nothing prints no warning", run.detail())


def per_process(t, w):
    fresh(w)
    env = {"HC_BUDGET": LIMIT + "/process:block"}
    p1 = call(w, reqs(3), pause=PAUSE, **env)
    p2 = call(w, reqs(3), pause=PAUSE, lib="httpx", **env)
    t.eq(p1.statuses(), [200, 200, 429], "/process: process 1 spends its budget", p1.detail())
    t.eq(p2.statuses(), [200, 200, 429], "/process: process 2 starts afresh, then spends its own", p2.detail())
    t.eq(w.mock.count(), 4, "/process: 4 upstream calls")
    t.ok(budget_error(p1.res[2]).get("code") == "budget_exceeded", "/process: the refusal is the budget's",
         p1.res[2])


def user_scope(t, w):
    fresh(w)
    env = {"HC_BUDGET": LIMIT + "/day:block@user"}
    a = call(w, reqs(3), pause=PAUSE, HC_USER_ID="a", **env)
    b = call(w, reqs(2, {"Helicone-User-Id": "b"}), pause=PAUSE, **env)
    a2 = call(w, reqs(1), HC_USER_ID="a", **env)
    t.eq(a.statuses(), [200, 200, 429], "@user: user a spends a's budget", a.detail())
    t.eq(b.statuses(), [200, 200], "@user: user b (header) has its own budget", b.detail())
    t.eq(a2.statuses(), [429], "@user: user a is still refused in another process", a2.detail())
    t.eq(w.mock.count(), 4, "@user: 4 upstream calls")
    recs = records(w, 6)
    t.eq([(r["user"], bool(r["flags"] & BLOCKED)) for r in recs],
         [("a", False), ("a", False), ("a", True), ("b", False), ("b", False), ("a", True)],
         "@user: the BLOCKED records are user a's", brief(recs))


def property_scope(t, w):
    fresh(w)
    env = {"HC_BUDGET": LIMIT + "/day:block@property:Team"}
    red = call(w, reqs(3, {"Helicone-Property-Team": "red"}), pause=PAUSE, **env)
    blue = call(w, reqs(1), HC_PROPERTY_Team="blue", **env)
    t.eq(red.statuses(), [200, 200, 429], "@property:Team: team red spends its budget", red.detail())
    t.eq(blue.statuses(), [200], "@property:Team: team blue has its own", blue.detail())


def lists_and_periods(t, w):
    fresh(w)
    run = call(w, reqs(3), pause=PAUSE, HC_BUDGET="100/day," + LIMIT + "/total:block")
    t.eq(run.statuses(), [200, 200, 429], "list '100/day,%s/total:block': the total budget blocks" % LIMIT,
         run.detail())
    msg = budget_error(run.res[2]).get("message", "")
    t.ok(("budget %s/total" % LIMIT) in msg, "the refusal names the budget that blocked", msg)
    recs = records(w, 3)
    t.ok(len(recs) == 3 and recs[2]["budget"] == LIMIT + "/total", "the record names it too", brief(recs))
    for period in ("hour", "week", "month"):
        fresh(w)
        run = call(w, reqs(3), pause=PAUSE, HC_BUDGET="%s/%s:block" % (LIMIT, period))
        t.eq(run.statuses(), [200, 200, 429], "%s/%s:block blocks the 3rd request" % (LIMIT, period), run.detail())


if __name__ == "__main__":
    sys.exit(main([block_two_processes, webhook, warn, per_process, user_scope, property_scope, lists_and_periods],
                  http_mock=False))
