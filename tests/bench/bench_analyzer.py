#!/usr/bin/python3
"""Benchmark: `hc-analyze report` over 1,000,000 records.

Generates the store with hc_gen (timed too: it must write 1M records well
under a minute), then times, warm cache, best of several runs:
  baseline   reading data.mdb once (cat > /dev/null): the floor for any scan
  report     hc-analyze report (totals, exact percentiles, --by model)
  report+    report --where Workflow=research --by user --by property:Step
  users      hc-analyze users
  open       hc-analyze requests -n 1: opening the store, which verifies every
             page reachable from its roots first (common/storecheck.c)
  check      hc-analyze check: the same walk, nothing else
and prints each as a ratio to the baseline measured in the same run.

  bench_analyzer.py [--build DIR] [--count N] [--runs K] [--keep DIR]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def timed(cmd, runs):
    best = None
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("HC_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--count", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", default=None, help="store directory to reuse / keep")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    ana = os.path.join(build, "hc-analyze")
    gen = os.path.join(build, "tools", "hc_gen")
    for b in (ana, gen):
        if not os.access(b, os.X_OK):
            print("bench_analyzer: %s is not built" % b, file=sys.stderr)
            return 2

    tmp = None
    db = a.keep
    if not db:
        tmp = tempfile.mkdtemp(prefix="hc-bench-ana-")
        db = os.path.join(tmp, "store")
    try:
        data = os.path.join(db, "data.mdb")
        if not os.path.exists(data):
            t0 = time.perf_counter()
            subprocess.run([gen, "--db", db, "--count", str(a.count), "--seed", "1"], check=True)
            gen_s = time.perf_counter() - t0
            print("hc_gen: %d records in %.2f s (%.0f records/s)" % (a.count, gen_s, a.count / gen_s))
        size = os.path.getsize(data)
        env_cmd = ["cat", data]
        # Warm the page cache, then measure the baseline the same way as the rest.
        subprocess.run(env_cmd, check=True, stdout=subprocess.DEVNULL)
        base = timed(["sh", "-c", 'cat "$1" > /dev/null', "sh", data], a.runs)
        print("store: %s, data.mdb %.1f MiB" % (db, size / 1048576.0))
        print("%-10s %8.3f s  %7.1f MiB/s  (baseline: read data.mdb once, warm cache)" %
              ("baseline", base, size / 1048576.0 / base))
        cases = [
            ("report", [ana, "report", "--db", db]),
            ("report+", [ana, "report", "--db", db, "--where", "Workflow=research", "--by", "user",
                         "--by", "property:Step"]),
            ("users", [ana, "users", "--db", db]),
            ("audit", [ana, "audit", "--db", db, "--max-cost", "1000000", "--max-p95-ms", "100000"]),
            ("open", [ana, "requests", "--db", db, "-n", "1"]),
            ("check", [ana, "check", "--db", db]),
        ]
        for name, cmd in cases:
            t = timed(cmd, a.runs)
            print("%-10s %8.3f s  %7.0f records/s  ratio to baseline %.1fx" % (name, t, a.count / t, t / base))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
