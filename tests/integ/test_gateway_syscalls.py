#!/usr/bin/python3
"""The gateway's system calls per exchange do not grow with work it has no
reason to do (issue 20, per request).

Counts, never times (the machine is shared): the same app (http.client, one
kept-alive HTTPS connection) makes 2 and then 12 chat calls under strace -f,
recording off, no budget and no rate limit. Whatever the app and Python do
once (imports, CA files) is in both runs; what grows with the number of calls
is the per-exchange cost.

- No store access per exchange: before, every exchange took the store (its
  lock and an identity check of its descriptors: 6 fstat of regular files)
  even with no budget or rate limit to check. fstat of regular files must not
  grow with the number of calls.
- Every call still gets its answer (status 200) under strace.
"""
import json
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from hctest import CLIENTS, PYTHON, TAP, World  # noqa: E402

FEW, MANY = 2, 12


def statuses(out):
    got = []
    for line in out.splitlines():
        try:
            got.append(json.loads(line)["status"])
        except (ValueError, KeyError):
            pass
    return got


def regular_fstats(log):
    """fstat-family calls whose result is a regular file."""
    n = 0
    with open(log, errors="replace") as f:
        for line in f:
            if re.search(r"\b(newfstatat|fstat|statx)\(", line) and "S_IFREG" in line:
                n += 1
    return n


def main():
    t = TAP()
    strace = shutil.which("strace")
    if not strace:
        t.ok(True, "# SKIP strace not installed")
        return t.done()
    with World() as w:
        client = os.path.join(CLIENTS, "py_httpclient.py")
        counts = {}
        for k in (FEW, MANY):
            log = os.path.join(w.dir, "strace-%d.log" % k)
            r = w.run([strace, "-f", "-qq", "-o", log, "-e", "trace=fstat,newfstatat,statx",
                       PYTHON, client, "openai", "0", k], timeout=120, HC_RECORD=0)
            t.eq(statuses(r.stdout), [200] * k, "%d calls on one connection under the shim and strace: all 200" % k)
            counts[k] = regular_fstats(log)
        grew = counts[MANY] - counts[FEW]
        t.ok(grew < MANY - FEW,
             "fstat of regular files does not grow per exchange without budgets or rate limits "
             "(%d calls: %d, %d calls: %d; before: +6 per exchange)" % (FEW, counts[FEW], MANY, counts[MANY]))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
