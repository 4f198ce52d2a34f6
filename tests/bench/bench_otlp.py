#!/usr/bin/python3
"""bench_otlp.py — what the live OpenTelemetry push (core/otlp_push.c) costs
the app: per-request latency with the push on vs HC_OTLP=0, in the same run.

Client: loadgen (C, OpenSSL, kept-alive HTTPS connections, zero think time)
under the shim, against fastmock (C); both from bench.py. Configurations,
interleaved round by round so drift on the shared machine hits each alike:
  off        OTEL_EXPORTER_OTLP_ENDPOINT set, HC_OTLP=0 (the baseline)
  push       the push on, to a local OTLP/HTTP receiver (python, in this process)
  down       the push on, the collector down (a closed port): every batch fails
             and is dropped
at 1 and 16 client threads, the order rotating each round. Printed: p50/p99 µs, req/s, and the push/off and
down/off ratios of the median p50 (target: at most 1.10, i.e. within the
noise of a shared machine); the app process's CPU time per request (its
gateway and sender threads included: the push's whole cost, and far less
noisy than latency on a busy machine) and its ratio; and how many spans the
receiver got of those sent. Every process started is stopped at the end.

  bench_otlp.py [--build DIR] [--quick] [--keep]
"""
import argparse
import http.server
import os
import socket
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (Bench, fastmock, loadgen)


class Sink:
    """An OTLP/HTTP receiver that counts spans (by counting spanId keys)."""

    def __init__(self):
        self.spans = 0
        self.posts = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.posts += 1
                outer.spans += body.count(b'"spanId"')
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("HC_BUILD", os.path.join(bench.ROOT, "build")))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.build, "libhcshim.so")):
        print("bench_otlp: %s/libhcshim.so is not built" % a.build, file=sys.stderr)
        return 2
    b = bench.Bench(a)
    sink = Sink()
    try:
        b.compile()
        _, fm = b.fastmock()
        up = "https://127.0.0.1:%d" % fm
        dur, warm, rounds = (1.0, 0.3, 2) if a.quick else (3.0, 0.5, 5)
        common = dict(OTEL_BSP_SCHEDULE_DELAY=1000, OTEL_METRIC_EXPORT_INTERVAL=5000)
        cfgs = [
            ("off", b.shim_env(os.path.join(b.tmp, "s-off"), up, OTEL_EXPORTER_OTLP_ENDPOINT=sink.url, HC_OTLP=0,
                               **common)),
            ("push", b.shim_env(os.path.join(b.tmp, "s-push"), up, OTEL_EXPORTER_OTLP_ENDPOINT=sink.url, **common)),
            ("down", b.shim_env(os.path.join(b.tmp, "s-down"), up,
                                OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % closed_port(), **common)),
        ]
        print("== OTLP push: keep-alive HTTPS through the shim (loadgen → fastmock), %d rounds of %.1f s per "
              "configuration, interleaved; medians over rounds" % (rounds, dur))
        res, sent = {}, 0
        for rnd in range(rounds):
            for conc in (1, 16):
                # The order rotates each round: whatever runs right after the
                # push (the receiver still busy) is not always the same one.
                for name, env in cfgs[rnd % 3:] + cfgs[:rnd % 3]:
                    before = sink.spans
                    out = b.loadgen_run(["--host", "api.openai.com", "--conc", conc, "--duration", dur,
                                         "--warmup", warm], env=env, timeout=120)
                    if out:
                        res.setdefault((name, conc), []).append(out)
                        if name == "push":
                            sent += out.get("all_requests", 0)
                            out["received"] = sink.spans - before
        for conc in (1, 16):
            print("\n%d client%s:" % (conc, "s" if conc > 1 else ""))
            print("  %-6s %9s %9s %10s %8s %12s %8s" % ("push", "p50 µs", "p99 µs", "req/s", "p50/off",
                                                    "CPU µs/req", "CPU/off"))
            base = bench.median([x["p50_us"] for x in res.get(("off", conc), [])])
            cbase = bench.median([x["cpu_us"]["client"] for x in res.get(("off", conc), [])])
            for name, _ in cfgs:
                xs = res.get((name, conc), [])
                if not xs:
                    continue
                p50 = bench.median([x["p50_us"] for x in xs])
                p99 = bench.median([x["p99_us"] for x in xs])
                rps = bench.median([x["rps"] for x in xs])
                ratio = p50 / base if base else 0
                cpu = bench.median([x["cpu_us"]["client"] for x in xs])
                cratio = cpu / cbase if cbase else 0
                print("  %-6s %9.0f %9.0f %10.0f %8.3f %12.1f %8.3f" % (name, p50, p99, rps, ratio, cpu, cratio))
                if name != "off":
                    b.row("otlp", "p50 %s/off, %d client%s" % (name, conc, "s" if conc > 1 else ""),
                          "%.0f µs" % p50, "%.0f µs" % base, "%.3f" % ratio, "≤ 1.10", ratio <= 1.10)
                    b.row("otlp", "app CPU/request %s/off, %d client%s" % (name, conc, "s" if conc > 1 else ""),
                          "%.1f µs" % cpu, "%.1f µs" % cbase, "%.3f" % cratio)
        got = sum(x.get("received", 0) for k, xs in res.items() if k[0] == "push" for x in xs)
        print("\nspans received by the collector: %d of %d requests sent with the push on (the rest were dropped "
              "when the queue was full, counted and reported at exit)" % (got, sent))
        b.row("otlp", "spans received / requests (push)", str(got), str(sent), "%.3f" % (got / sent if sent else 0))
        b.summary()
    finally:
        sink.close()
        b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
