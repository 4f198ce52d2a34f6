#!/usr/bin/python3
"""bench_fleet.py — the fleet benchmarks (issue 16), each against a baseline
measured in the same run (`make bench` runs it after bench.py).

  bench_fleet.py [--build DIR] [--records N]

1 ship        `hc-analyze ship` of N hc_gen records (without and with bodies)
              to a ClickHouse started here, in records/s, against a plain
              `INSERT … FORMAT JSONEachRow` of the same rows posted by curl
              (the rows exported once beforehand: the floor for the server).
2 shared      cost of one rate-limit window check-and-take: in the local
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
    a = ap.parse_args()
    os.environ["HC_BUILD"] = os.path.abspath(a.build)
    tmp = tempfile.mkdtemp(prefix="hc-bench-fleet-")
    try:
        sec_ship(a.build, a.records, tmp)
        sec_shared(a.build, 0, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
