#!/usr/bin/python3
"""LLM calls from exit handlers (review of the merged exit-quiesce work).

The shim's exit handler is registered when the core starts (the first LLM
connection), so it runs before the exit handlers the program registered
earlier. A call made from one of those (clients/exit_call.c: OPENSSL_init_ssl,
atexit(late), a request in main, another in late) used to meet a quiesced
gateway that closed it: the program died of SIGPIPE (exit 141). Now both calls
get their 200, the program exits 0, and both exchanges are recorded. Run 5
times (the exit path races with the gateway's threads).
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from hctest import CLIENTS, TAP, World  # noqa: E402


def main():
    t = TAP()
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        t.ok(True, "# SKIP no C compiler")
        return t.done()
    with World() as w:
        binp = os.path.join(w.dir, "exit_call")
        r = subprocess.run([cc, "-O1", "-o", binp, os.path.join(CLIENTS, "exit_call.c"), "-lssl", "-lcrypto"],
                           capture_output=True, text=True)
        if not t.ok(r.returncode == 0, "compile exit_call.c", r.stderr[-500:]):
            return t.done()
        for i in range(5):
            w.reset_store()
            r = w.run([binp], timeout=60)
            t.eq(r.returncode, 0, "run %d: exit 0 (no SIGPIPE from a call in an exit handler)" % (i + 1))
            lines = r.stdout.splitlines()
            t.ok(any(l.startswith("main: HTTP/1.1 200") for l in lines), "run %d: the call in main got 200" % (i + 1),
                 r.stdout + r.stderr)
            t.ok(any(l.startswith("late: HTTP/1.1 200") for l in lines),
                 "run %d: the call in the exit handler got 200" % (i + 1), r.stdout + r.stderr)
            recs = w.records(wait_for=2, timeout=5)
            t.eq(len(recs), 2, "run %d: both exchanges recorded" % (i + 1))
            t.ok("not recorded" not in r.stderr, "run %d: no exchange reported lost" % (i + 1), r.stderr)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
