#!/usr/bin/python3
"""Benchmark: the cost of opening a store for writing (what the shim's core
does in every process that makes an LLM call), with and without the
verification memo (common/store.c DESIGN).

Generates stores of about the sizes asked (hc_gen --with-bodies, ~1 KiB a
record), then times, warm cache, best of several runs, `hc_gen --count 0`
(open for writing, close: the shim's path, in a process of its own):
  walk   HC_DB_FULL_CHECK=1: every reachable page read (what each process did
         before the memo)
  memo   the memo matches: the cheap checks only
  exec   the same process on an empty new store: the floor (exec, libraries)
and prints each size's walk and memo times, their ratio, and each minus the
floor (the open itself).

  bench_open.py [--build DIR] [--mib 100,1024] [--runs K]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}


def timed(cmd, runs, env):
    best = None
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("HC_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--mib", default="100,1024", help="store sizes in MiB, comma-separated")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    gen = os.path.join(os.path.abspath(a.build), "tools", "hc_gen")
    if not os.access(gen, os.X_OK):
        print("bench_open: %s is not built" % gen, file=sys.stderr)
        return 2
    try:
        sizes = [int(x) for x in a.mib.split(",")]
    except ValueError:
        print("bench_open: --mib: expected sizes in MiB like 100,1024, got %r" % a.mib, file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="hc-bench-open-")
    try:
        empty = os.path.join(tmp, "empty")
        subprocess.run([gen, "--db", empty, "--count", "0"], check=True, env=ENV)
        timed([gen, "--db", empty, "--count", "0"], 2, ENV)  # warm
        floor = timed([gen, "--db", empty, "--count", "0"], a.runs, ENV)
        print("exec floor (empty store): %.1f ms" % (floor * 1e3))
        for mib in sizes:
            db = os.path.join(tmp, "s%d" % mib)
            t0 = time.perf_counter()
            seed = 1
            while True:
                size = os.path.getsize(os.path.join(db, "data.mdb")) if os.path.exists(db) else 0
                if size >= mib << 20:
                    break
                n = max(1000, min(200000, ((mib << 20) - size) // 1600))
                subprocess.run([gen, "--db", db, "--count", str(n), "--seed", str(seed), "--with-bodies"],
                               check=True, stdout=subprocess.DEVNULL, env=ENV)
                seed += 1
            size = os.path.getsize(os.path.join(db, "data.mdb"))
            gen_s = time.perf_counter() - t0
            cmd = [gen, "--db", db, "--count", "0"]
            subprocess.run(["cat", os.path.join(db, "data.mdb")], stdout=subprocess.DEVNULL, check=True)
            walk = timed(cmd, a.runs, dict(ENV, HC_DB_FULL_CHECK="1"))
            memo = timed(cmd, a.runs, ENV)
            print("store %6.0f MiB (generated in %.0f s): process with the full walk %8.1f ms, with the memo %6.1f ms"
                  " (%.0fx); beyond the empty-store floor: %.1f ms vs %.1f ms" %
                  (size / 1048576, gen_s, walk * 1e3, memo * 1e3, walk / memo, max(walk - floor, 0) * 1e3,
                   max(memo - floor, 0) * 1e3))
            shutil.rmtree(db, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
