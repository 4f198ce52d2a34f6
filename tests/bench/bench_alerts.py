#!/usr/bin/python3
"""bench_alerts.py — what alerts cost the app (issue 18), against a baseline
measured in the same run (`make bench` runs it after bench.py).

  bench_alerts.py [--build DIR] [--quick]

One app (loadgen, 1 keep-alive HTTPS client, zero think time) through the shim
to the fast provider double, recording into a fresh store, in interleaved
rounds: without alerts (the baseline), and with four HC_ALERTS rules and a
webhook destination (a local receiver). (Budgets are not part of it: their
spend is accounted on the gateway thread, as before this issue.) Alerts are
evaluated by the recorder thread, so the app's p50/p99 latency and req/s must
match the baseline; the records/s the recorder sustains (every request recorded
and every rule evaluated) is reported next to it.
"""
import argparse
import http.server
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench  # noqa: E402

RULES = "spend>1000usd/1h; tokens>1B/1d; error_rate>50%/10m,min=100; p95_latency>30s/10m,min=100"


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("HC_BUILD", os.path.join(bench.ROOT, "build")))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.portkey_version = bench.PORTKEY_VERSION
    for f in ("libhcshim.so", "libhcshim-core.so", "hc-analyze"):
        if not os.path.exists(os.path.join(a.build, f)):
            print("bench_alerts: %s/%s is not built" % (a.build, f), file=sys.stderr)
            return 2
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    hook = "http://127.0.0.1:%d/hook" % srv.server_address[1]
    b = bench.Bench(a)
    try:
        b.compile()
        _, fm = b.fastmock()
        up = "https://127.0.0.1:%d" % fm
        cases = [("no alerts", {}),
                 ("HC_ALERTS (4 rules) + webhook", {"HC_ALERTS": RULES, "HC_ALERT_WEBHOOK": hook})]
        rounds = 2 if a.quick else 4
        dur = 1.5 if a.quick else 3.0
        res = {}
        print("== Alerts: one app, 1 client, %d interleaved rounds of %.1f s" % (rounds, dur))
        for r in range(rounds):
            for label, extra in (cases if r % 2 == 0 else list(reversed(cases))):
                db = os.path.join(b.tmp, "store-%d-%d" % (r, len(extra)))
                t0 = time.perf_counter()
                out = b.loadgen_run(["--host", "api.openai.com", "--conc", 1, "--duration", dur, "--warmup", 0.3],
                                    env=b.shim_env(db, up, **extra))
                wall = time.perf_counter() - t0
                st = b.store_stats(db)
                if out:
                    res.setdefault(label, []).append((out, st["records"] if st else 0, wall))
        for label, _ in cases:
            rs = res.get(label, [])
            print("  %-50s app p50 %8s  p99 %8s  %6.0f req/s; %d of %d recorded" % (
                label, bench.fmt_us(bench.median([x[0]["p50_us"] for x in rs])),
                bench.fmt_us(bench.median([x[0]["p99_us"] for x in rs])), bench.median([x[0]["rps"] for x in rs]),
                sum(x[1] for x in rs), sum(x[0]["all_requests"] for x in rs)))
        base, on = res.get(cases[0][0], []), res.get(cases[1][0], [])
        if base and on:
            p50b, p50a = (bench.median([x[0]["p50_us"] for x in v]) for v in (base, on))
            rpsb, rpsa = (bench.median([x[0]["rps"] for x in v]) for v in (base, on))
            b.row("A", "app p50 with alerts", bench.fmt_us(p50a), bench.fmt_us(p50b) + " (no alerts)",
                  "%.2fx" % (p50a / p50b), "≤ 1.10x", p50a <= p50b * 1.10)
            b.row("A", "  app req/s with alerts", "%.0f" % rpsa, "%.0f (no alerts)" % rpsb, "%.2fx" % (rpsa / rpsb))
            made = sum(x[0]["all_requests"] for x in on)
            got = sum(x[1] for x in on)
            b.row("A", "  with alerts: every request recorded", "%d of %d" % (got, made), "",
                  "%.3f" % (got / made if made else 0), "all", got >= made and made > 0)
    finally:
        b.close()
        srv.shutdown()
    b.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
