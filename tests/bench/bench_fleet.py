#!/usr/bin/python3
"""bench_fleet.py — the fleet benchmarks (issue 16), each against a baseline
measured in the same run (`make bench` runs it after bench.py).

  bench_fleet.py [--build DIR] [--records N] [--report-rows M]

1 ship        `hc-analyze ship` of N hc_gen records (without and with bodies)
              to a ClickHouse started here, in records/s, against a plain
              `INSERT … FORMAT JSONEachRow` of the same rows posted by curl
              (the rows exported once beforehand: the floor for the server).
2 report      `hc-analyze report --db clickhouse://…` over M rows (default 10
              million, made on the server by INSERT … SELECT FROM numbers())
              in seconds, against the same aggregate written by hand in SQL
              (total and per model: count, tokens, cost, errors, exact
              percentiles) posted to the same server; both read DB.records
              (FINAL). Best of 3 each.
3 shared      cost of one rate-limit window check-and-take: in the local
              store vs through HC_SHARED (Redis), against a bare Redis round
              trip (PING) on the same machine (tests/unit/test_core_shared.c
              with HC_BENCH=1 times them in-process).
Skips a section (says so) when its server cannot be started. Everything on
127.0.0.1; every process started is stopped in a finally block.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sec_ship(build, n, tmp):
    from test_fleet_clickhouse import ClickHouse  # the tests' own loopback server
    import test_fleet_clickhouse as tfc
    ana = os.path.join(build, "hc-analyze")
    gen = os.path.join(build, "tools", "hc_gen")
    ch = ClickHouse(tmp)
    if not tfc.SERVER or not ch.start():
        print("ship: SKIPPED (clickhouse-server cannot start)")
        return
    try:
        db = os.path.join(tmp, "store")
        subprocess.run([gen, "--db", db, "--count", str(n), "--seed", "3", "--with-bodies"], check=True,
                       capture_output=True)
        results = {}
        for bodies in (False, True):
            tag = "bodies" if bodies else "nobodies"
            t0 = time.monotonic()
            p = subprocess.run([ana, "ship", "--db", db, "--to", ch.url("b_" + tag), "--batch", "5000"] +
                               (["--bodies"] if bodies else []), capture_output=True, text=True)
            dt = time.monotonic() - t0
            if p.returncode != 0:
                print("ship %s: FAILED %s" % (tag, p.stderr.strip()))
                return
            # Baseline: the same rows, already as JSONEachRow, posted by curl in
            # batches of the same size into an identical empty table.
            rows = ch.q("SELECT * FROM b_%s.hc_records FORMAT JSONEachRow" % tag).splitlines(True)
            ch.q("CREATE TABLE b_%s.plain AS b_%s.hc_records" % (tag, tag))
            files = []
            for i in range(0, len(rows), 5000):
                path = os.path.join(tmp, "rows-%s-%d.json" % (tag, i))
                with open(path, "w") as f:
                    f.writelines(rows[i:i + 5000])
                files.append(path)
            url = "http://127.0.0.1:%d/?query=INSERT%%20INTO%%20b_%s.plain%%20FORMAT%%20JSONEachRow" % (ch.http, tag)
            t0 = time.monotonic()
            for path in files:
                subprocess.run(["curl", "-sS", "-o", "/dev/null", "--data-binary", "@" + path, url], check=True)
            base = time.monotonic() - t0
            got = int(ch.q("SELECT count() FROM b_%s.records" % tag).strip())
            results[tag] = (n / dt, n / base, got)
        print("ship (%d records, batches of 5000):" % n)
        for tag, (rate, brate, got) in results.items():
            print("  %-9s ship %8.0f rec/s   plain INSERT of the same rows %8.0f rec/s   ratio %.2f   (%d rows in ClickHouse)"
                  % (tag, rate, brate, rate / brate, got))
    finally:
        ch.stop()


GEN_SQL = """INSERT INTO {db}.hc_records (id, origin, day, start, start_us, latency_us, ttft_us, host, provider,
  api, model_req, status, tok_in, tok_out, tok_cached, cost_nusd, cost_flags, user, flags, fallback_idx,
  `props.name`, `props.value`, ver)
SELECT concat('bench-', toString(number)), 'bench', toDate(toDateTime(intDiv(s, 1000000))),
  toDateTime(intDiv(s, 1000000)), s, 200000 + (number * 7919) % 5000000,
  if(number % 3 = 0, toInt64(-1), toInt64(50000 + (number * 31) % 900000)),
  'api.example.com', ['openai', 'anthropic', 'google'][number % 3 + 1], 'chat',
  ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet', 'gemini-1.5-flash', 'o3-mini'][number % 5 + 1],
  if(number % 50 = 0, 500, 200), 100 + number % 2000, 20 + number % 500, number % 300,
  (100 + number % 2000) * 2500, 1, concat('user', toString(number % 200)), number % 2, -1,
  ['Workflow'], [['research', 'summarize', 'triage'][number % 3 + 1]], 1
FROM (SELECT number, 1790000000000000 + number * 250000 AS s FROM numbers({n}))"""

HAND_SQL = """SELECT count(), sum(tok_in), sum(tok_out), sum(cost_nusd), countIf(status >= 400 OR status <= 0),
  quantileExact(0.5)(latency_us), quantileExact(0.95)(latency_us), quantileExact(0.99)(latency_us)
FROM {db}.records;
SELECT if(model_req != '', model_req, model_resp) AS model, count(), sum(tok_in), sum(tok_out), sum(cost_nusd),
  countIf(status >= 400 OR status <= 0), quantileExact(0.5)(latency_us), quantileExact(0.95)(latency_us)
FROM {db}.records GROUP BY model ORDER BY sum(cost_nusd) DESC"""


def q_long(ch, sql, timeout=1800):
    req = urllib.request.Request("http://127.0.0.1:%d/" % ch.http, data=sql.encode())
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def sec_report(build, n, tmp):
    from test_fleet_clickhouse import ClickHouse
    import test_fleet_clickhouse as tfc
    ana = os.path.join(build, "hc-analyze")
    gen = os.path.join(build, "tools", "hc_gen")
    ch = ClickHouse(tmp + "/r")
    os.makedirs(tmp + "/r", exist_ok=True)
    if not tfc.SERVER or not ch.start():
        print("report: SKIPPED (clickhouse-server cannot start)")
        return
    try:
        # The schema as ship creates it (one real record), then n rows made by the server.
        seed = os.path.join(tmp, "seed")
        subprocess.run([gen, "--db", seed, "--count", "1"], check=True, capture_output=True)
        subprocess.run([ana, "ship", "--db", seed, "--to", ch.url("big")], check=True, capture_output=True)
        t0 = time.monotonic()
        q_long(ch, GEN_SQL.format(db="big", n=n))
        q_long(ch, "OPTIMIZE TABLE big.hc_records FINAL")
        made = time.monotonic() - t0
        got = int(q_long(ch, "SELECT count() FROM big.records").strip())

        def best(fn):
            times = []
            for _ in range(3):
                t0 = time.monotonic()
                fn()
                times.append(time.monotonic() - t0)
            return min(times)

        out = {}

        def ours():
            p = subprocess.run([ana, "report", "--db", ch.url("big"), "--json"], capture_output=True, text=True)
            if p.returncode:
                raise RuntimeError(p.stderr)
            out["report"] = p.stdout

        def hand():
            for q in HAND_SQL.format(db="big").split(";"):
                out.setdefault("hand", []).append(q_long(ch, q))

        t_ours = best(ours)
        t_hand = best(hand)
        import json
        rep = json.loads(out["report"])["summary"]["requests"]
        print("report (%d rows in ClickHouse, made in %.1f s; report says %d requests):" % (got, made, rep))
        print("  hc-analyze report --db clickhouse://  %7.2f s   same aggregate by hand in SQL %7.2f s   ratio %.2f"
              % (t_ours, t_hand, t_ours / t_hand))
    finally:
        ch.stop()


def sec_shared(build, n, tmp):
    # The window operation itself, timed in-process by the unit test's bench
    # mode (the rest of a request's path is the same with and without Redis).
    exe = os.path.join(build, "tests", "test_core_shared")
    if not os.access(exe, os.X_OK):
        print("shared: SKIPPED (no %s; make all)" % exe)
        return
    runs = {}
    for _ in range(3):
        p = subprocess.run([exe], env=dict(os.environ, HC_BENCH="1"), capture_output=True, text=True)
        for line in p.stdout.splitlines():
            m = re.match(r"# bench: (.*): ([0-9.]+) us", line)
            if m:
                runs.setdefault(m.group(1), []).append(float(m.group(2)))
    if not runs:
        print("shared: SKIPPED (redis-server cannot start)")
        return
    print("shared (5000 operations each, median of 3 runs):")
    for what, xs in runs.items():
        print("  %-60s %8.1f us" % (what, statistics.median(xs)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--report-rows", type=int, default=10000000)
    a = ap.parse_args()
    os.environ["HC_BUILD"] = os.path.abspath(a.build)
    tmp = tempfile.mkdtemp(prefix="hc-bench-fleet-")
    try:
        sec_ship(a.build, a.records, tmp)
        sec_report(a.build, a.report_rows, tmp)
        sec_shared(a.build, 0, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
